/* mact-native-i3d-head.h: mmaction2's I3DHead ("I3DHead"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_I3D_HEAD (mact_native_i3d_head_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeI3DHead, mact_native_i3d_head, MACT_NATIVE, I3D_HEAD, MactHead)

G_END_DECLS
