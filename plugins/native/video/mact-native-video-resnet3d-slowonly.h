/* mact-native-video-resnet3d-slowonly.h: mmaction2's ResNet3dSlowOnly ("ResNet3dSlowOnly"). */
#pragma once

#include "mact-native-video-resnet3d-base.h"

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_RESNET3D_SLOWONLY (mact_native_video_resnet3d_slowonly_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoResNet3dSlowOnly, mact_native_video_resnet3d_slowonly,
                      MACT_NATIVE_VIDEO, RESNET3D_SLOWONLY, MactNativeVideoResNet3dBase)

G_END_DECLS
