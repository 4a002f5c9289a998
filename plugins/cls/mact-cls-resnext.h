/* mact-cls-resnext.h: mmcls's ResNeXt backbone ("cls.ResNeXt"). */
#pragma once

#include "mact-cls-resnet.h"

G_BEGIN_DECLS

#define MACT_CLS_TYPE_RESNEXT (mact_cls_resnext_get_type ())
G_DECLARE_FINAL_TYPE (MactClsResNeXt, mact_cls_resnext, MACT_CLS, RESNEXT, MactClsResNet)

G_END_DECLS
