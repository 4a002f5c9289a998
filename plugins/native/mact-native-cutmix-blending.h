/* mact-native-cutmix-blending.h: mmaction2's CutmixBlending ("CutmixBlending"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_CUTMIX_BLENDING (mact_native_cutmix_blending_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeCutmixBlending, mact_native_cutmix_blending, MACT_NATIVE,
                      CUTMIX_BLENDING, MactBlending)

G_END_DECLS
