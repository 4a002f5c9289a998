/* mact-native-video-basic-block3d.h: mmaction2's BasicBlock3d (ResNet3d depth 18/34). */
#pragma once

#include <mact/mact.h>
#include "mact-native-video-layers.h"

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_BASIC_BLOCK3D (mact_native_video_basic_block3d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoBasicBlock3d, mact_native_video_basic_block3d,
                      MACT_NATIVE_VIDEO, BASIC_BLOCK3D, MactModule)

MactModule *mact_native_video_basic_block3d_new (gint                           inplanes,
                                                 gint                           planes,
                                                 gint                           spatial_stride,
                                                 gint                           temporal_stride,
                                                 gint                           dilation,
                                                 MactModule                    *downsample,
                                                 gboolean                       inflate,
                                                 const MactNativeVideoLayerCfg *cfg,
                                                 GError                       **error);
/* (transfer none) The ConvModule whose norm zero_init_residual zeroes (conv2). */
MactModule *mact_native_video_basic_block3d_get_last_conv (MactNativeVideoBasicBlock3d *self);

G_END_DECLS
