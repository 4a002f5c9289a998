/* mact-native-video-conv2plus1d.h: mmaction2's Conv2plus1d (a spatial then a temporal
 * convolution), the conv of ResNet2Plus1d's ConvModules. */
#pragma once

#include <mact/mact.h>
#include "mact-native-video-layers.h"

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_CONV2PLUS1D (mact_native_video_conv2plus1d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoConv2plus1d, mact_native_video_conv2plus1d,
                      MACT_NATIVE_VIDEO, CONV2PLUS1D, MactModule)

gint        mact_native_video_conv2plus1d_mid_channels (gint        in_channels,
                                                        gint        out_channels,
                                                        const gint *kernel_size);
MactModule *mact_native_video_conv2plus1d_new (gint                          in_channels,
                                               gint                          out_channels,
                                               const gint                   *kernel_size,
                                               const gint                   *stride,
                                               const gint                   *padding,
                                               const MactNativeVideoNormCfg *norm,
                                               GError                      **error);

G_END_DECLS
