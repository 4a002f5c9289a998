/* mact-native-video-resnet3d.h: mmaction2's ResNet3d backbone ("ResNet3d"). */
#pragma once

#include "mact-native-video-resnet3d-base.h"

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_RESNET3D (mact_native_video_resnet3d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoResNet3d, mact_native_video_resnet3d,
                      MACT_NATIVE_VIDEO, RESNET3D, MactNativeVideoResNet3dBase)

G_END_DECLS
