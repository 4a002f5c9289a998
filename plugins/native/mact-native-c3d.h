/* mact-native-c3d.h: mmaction2's C3D backbone ("C3D"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_C3D (mact_native_c3d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeC3D, mact_native_c3d, MACT_NATIVE, C3D, MactBackbone)

G_END_DECLS
