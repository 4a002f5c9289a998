/* mact-tv-mobilenet-v3.h: torchvision's MobileNetV3 (tv.mobilenet_v3_small,
 * tv.mobilenet_v3_large). */
#pragma once

#include "mact-tv-model.h"

G_BEGIN_DECLS

#define MACT_TV_TYPE_MOBILENET_V3 (mact_tv_mobilenet_v3_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactTvMobileNetV3, mact_tv_mobilenet_v3, MACT_TV, MOBILENET_V3,
                          MactTvModel)

typedef struct _MactTvMobileNetV3Arch MactTvMobileNetV3Arch;

/**
 * MactTvMobileNetV3Class:
 * @parent_class: the parent class
 * @arch: the builder's architecture; set by each builder's variant type
 *
 * The class structure of #MactTvMobileNetV3.  Abstract: the registered types are its
 * variants, one per builder.
 */
struct _MactTvMobileNetV3Class
{
  MactTvModelClass             parent_class;

  const MactTvMobileNetV3Arch *arch;

  /*< private >*/
  gpointer padding[4];
};

GType mact_tv_mobilenet_v3_variant_get_type (const char *builder);

G_END_DECLS
