/* mact-cls-plugin.c: the "cls" family's mmcls plugin (libmact-cls-mmcls.so): mmcls 0.x
 * backbones under mmcls's class names, with mmcls's state-dict keys.  Configs reach them
 * as "cls.ResNet" or, as in mmaction2 configs, "mmcls.ResNet".  This file only lists
 * them. */
#include <mact/mact.h>

#include "mact-cls-resnet.h"
#include "mact-cls-resnext.h"
#include "mact-cls-mobilenet-v2.h"

static gboolean
cls_mmcls_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "cls.ResNet", MACT_CLS_TYPE_RESNET, error) &&
         mact_plugin_add_type (plugin, "cls.ResNeXt", MACT_CLS_TYPE_RESNEXT, error) &&
         mact_plugin_add_type (plugin, "cls.MobileNetV2", MACT_CLS_TYPE_MOBILENET_V2, error);
}

MACT_PLUGIN_DEFINE (cls, mmcls,
                    "mmcls backbones: ResNet, ResNeXt, MobileNetV2",
                    cls_mmcls_init, "0.1.0", "LGPL-2.1-or-later",
                    "https://github.com/open-mmlab/mmclassification")
