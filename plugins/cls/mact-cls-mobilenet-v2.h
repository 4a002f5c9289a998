/* mact-cls-mobilenet-v2.h: mmcls's MobileNetV2 backbone ("cls.MobileNetV2"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_CLS_TYPE_MOBILENET_V2 (mact_cls_mobilenet_v2_get_type ())
G_DECLARE_FINAL_TYPE (MactClsMobileNetV2, mact_cls_mobilenet_v2, MACT_CLS, MOBILENET_V2,
                      MactBackbone)

G_END_DECLS
