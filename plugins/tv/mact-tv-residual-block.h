/* mact-tv-residual-block.h: torchvision's residual blocks (ResNet's BasicBlock and
 * Bottleneck, VideoResNet's BasicBlock). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_TV_TYPE_RESIDUAL_BLOCK (mact_tv_residual_block_get_type ())
G_DECLARE_FINAL_TYPE (MactTvResidualBlock, mact_tv_residual_block, MACT_TV, RESIDUAL_BLOCK,
                      MactModule)

/**
 * MactTvVideoConv:
 * @MACT_TV_VIDEO_CONV_3D_SIMPLE: Conv3DSimple, a 3x3x3 conv
 * @MACT_TV_VIDEO_CONV_3D_NO_TEMPORAL: Conv3DNoTemporal, a 1x3x3 conv
 * @MACT_TV_VIDEO_CONV_2PLUS1D: Conv2Plus1D, a 1x3x3 conv, BN, ReLU and a 3x1x1 conv
 *
 * The conv_builder of a video ResNet stage.
 */
typedef enum {
  MACT_TV_VIDEO_CONV_3D_SIMPLE,
  MACT_TV_VIDEO_CONV_3D_NO_TEMPORAL,
  MACT_TV_VIDEO_CONV_2PLUS1D,
} MactTvVideoConv;

MactModule *mact_tv_basic_block_new       (gint             inplanes,
                                           gint             planes,
                                           gint             stride,
                                           MactModule      *downsample,
                                           gint             dilation,
                                           GError         **error);
MactModule *mact_tv_bottleneck_new        (gint             inplanes,
                                           gint             planes,
                                           gint             stride,
                                           MactModule      *downsample,
                                           gint             groups,
                                           gint             base_width,
                                           gint             dilation,
                                           GError         **error);
MactModule *mact_tv_video_basic_block_new (gint             inplanes,
                                           gint             planes,
                                           MactTvVideoConv  conv,
                                           gint             stride,
                                           MactModule      *downsample,
                                           GError         **error);
void        mact_tv_video_conv_downsample_stride (MactTvVideoConv conv,
                                                  gint            stride,
                                                  gint           *out);

/* Expansion of the output channels: 1 for BasicBlock, 4 for Bottleneck. */
#define MACT_TV_BOTTLENECK_EXPANSION 4

G_END_DECLS
