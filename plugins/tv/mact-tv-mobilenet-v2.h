/* mact-tv-mobilenet-v2.h: torchvision's MobileNetV2 (tv.mobilenet_v2). */
#pragma once

#include "mact-tv-model.h"

G_BEGIN_DECLS

#define MACT_TV_TYPE_MOBILENET_V2 (mact_tv_mobilenet_v2_get_type ())
G_DECLARE_FINAL_TYPE (MactTvMobileNetV2, mact_tv_mobilenet_v2, MACT_TV, MOBILENET_V2,
                      MactTvModel)

G_END_DECLS
