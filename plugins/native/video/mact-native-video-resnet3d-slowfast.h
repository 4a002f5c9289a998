/* mact-native-video-resnet3d-slowfast.h: mmaction2's ResNet3dSlowFast backbone
 * ("ResNet3dSlowFast"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_RESNET3D_SLOWFAST (mact_native_video_resnet3d_slowfast_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoResNet3dSlowFast, mact_native_video_resnet3d_slowfast,
                      MACT_NATIVE_VIDEO, RESNET3D_SLOWFAST, MactBackbone)

G_END_DECLS
