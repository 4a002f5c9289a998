/* mact-cls-init.h: mmcv's init_cfg (Kaiming, Constant, Normal, Uniform, Xavier,
 * TruncNormal, Pretrained) for the cls backbones.  Internal to the plugin. */
#pragma once

#include "mact-cls-utils.h"

G_BEGIN_DECLS

gboolean mact_cls_parse_init_cfg (JsonNode      *cfg,
                                  const char    *block,
                                  gboolean      *pretrained_dict,
                                  GError       **error);
gboolean mact_cls_init_weights   (MactModule    *module,
                                  JsonNode      *cfg,
                                  const char    *block,
                                  MactGenerator *generator,
                                  GError       **error);

G_END_DECLS
