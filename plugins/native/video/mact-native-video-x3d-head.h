/* mact-native-video-x3d-head.h: mmaction2's X3DHead ("X3DHead"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_X3D_HEAD (mact_native_video_x3d_head_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoX3DHead, mact_native_video_x3d_head, MACT_NATIVE_VIDEO,
                      X3D_HEAD, MactHead)

G_END_DECLS
