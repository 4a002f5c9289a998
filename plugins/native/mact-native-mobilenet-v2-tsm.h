/* mact-native-mobilenet-v2-tsm.h: mmaction2's MobileNetV2TSM ("MobileNetV2TSM"). */
#pragma once

#include "mact-native-mobilenet-v2.h"

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_MOBILENET_V2_TSM (mact_native_mobilenet_v2_tsm_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeMobileNetV2TSM, mact_native_mobilenet_v2_tsm, MACT_NATIVE,
                      MOBILENET_V2_TSM, MactNativeMobileNetV2)

G_END_DECLS
