/* mact-native-mixup-blending.h: mmaction2's MixupBlending ("MixupBlending"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_MIXUP_BLENDING (mact_native_mixup_blending_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeMixupBlending, mact_native_mixup_blending, MACT_NATIVE,
                      MIXUP_BLENDING, MactBlending)

G_END_DECLS
