/* mact-native-video-resnet2plus1d.h: mmaction2's ResNet2Plus1d ("ResNet2Plus1d"). */
#pragma once

#include "mact-native-video-resnet3d-base.h"

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_RESNET2PLUS1D (mact_native_video_resnet2plus1d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoResNet2Plus1d, mact_native_video_resnet2plus1d,
                      MACT_NATIVE_VIDEO, RESNET2PLUS1D, MactNativeVideoResNet3dBase)

G_END_DECLS
