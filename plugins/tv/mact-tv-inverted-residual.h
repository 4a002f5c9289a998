/* mact-tv-inverted-residual.h: the inverted residual blocks of torchvision's MobileNetV2
 * and MobileNetV3. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_TV_TYPE_INVERTED_RESIDUAL (mact_tv_inverted_residual_get_type ())
G_DECLARE_FINAL_TYPE (MactTvInvertedResidual, mact_tv_inverted_residual, MACT_TV,
                      INVERTED_RESIDUAL, MactModule)

MactModule *mact_tv_inverted_residual_v2_new (gint      inp,
                                              gint      oup,
                                              gint      stride,
                                              gint      expand_ratio,
                                              GError  **error);

/**
 * MactTvInvertedResidualConfig:
 * @input_channels: input channels (after the width multiplier)
 * @kernel: the depthwise kernel
 * @expanded_channels: channels of the expansion
 * @out_channels: output channels
 * @use_se: whether a squeeze-excitation follows the depthwise conv
 * @use_hs: Hardswish (TRUE) or ReLU activations
 * @stride: the depthwise stride
 * @dilation: the depthwise dilation
 *
 * torchvision's mobilenetv3.InvertedResidualConfig.
 */
typedef struct {
  gint     input_channels;
  gint     kernel;
  gint     expanded_channels;
  gint     out_channels;
  gboolean use_se;
  gboolean use_hs;
  gint     stride;
  gint     dilation;
} MactTvInvertedResidualConfig;

MactModule *mact_tv_inverted_residual_v3_new (const MactTvInvertedResidualConfig *cnf,
                                              GError                            **error);

G_END_DECLS
