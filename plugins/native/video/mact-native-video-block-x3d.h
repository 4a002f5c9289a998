/* mact-native-video-block-x3d.h: X3D's residual block (BlockX3D). */
#pragma once

#include <mact/mact.h>
#include "mact-native-video-layers.h"

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_BLOCK_X3D (mact_native_video_block_x3d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoBlockX3D, mact_native_video_block_x3d, MACT_NATIVE_VIDEO,
                      BLOCK_X3D, MactModule)

MactModule *mact_native_video_block_x3d_new (gint                           inplanes,
                                             gint                           planes,
                                             gint                           outplanes,
                                             gint                           spatial_stride,
                                             MactModule                    *downsample,
                                             double                         se_ratio,
                                             const MactNativeVideoLayerCfg *cfg,
                                             GError                       **error);
/* (transfer none) conv3, whose norm zero_init_residual zeroes. */
MactModule *mact_native_video_block_x3d_get_last_conv (MactNativeVideoBlockX3D *self);

G_END_DECLS
