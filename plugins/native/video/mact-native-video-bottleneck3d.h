/* mact-native-video-bottleneck3d.h: mmaction2's Bottleneck3d (ResNet3d depth 50+). */
#pragma once

#include <mact/mact.h>
#include "mact-native-video-layers.h"

G_BEGIN_DECLS

/* The channel expansion of the last 1x1x1 conv. */
#define MACT_NATIVE_VIDEO_BOTTLENECK3D_EXPANSION 4

#define MACT_NATIVE_VIDEO_TYPE_BOTTLENECK3D (mact_native_video_bottleneck3d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoBottleneck3d, mact_native_video_bottleneck3d,
                      MACT_NATIVE_VIDEO, BOTTLENECK3D, MactModule)

MactModule *mact_native_video_bottleneck3d_new (gint                           inplanes,
                                                gint                           planes,
                                                gint                           spatial_stride,
                                                gint                           temporal_stride,
                                                gint                           dilation,
                                                MactModule                    *downsample,
                                                gboolean                       caffe_style,
                                                gboolean                       inflate,
                                                gboolean                       inflate_3x3x3,
                                                const MactNativeVideoLayerCfg *cfg,
                                                GError                       **error);
/* (transfer none) The ConvModule whose norm zero_init_residual zeroes (conv3). */
MactModule *mact_native_video_bottleneck3d_get_last_conv (MactNativeVideoBottleneck3d *self);

G_END_DECLS
