/* mact-native-tpn-downsample.h: the DownSample block of mmaction2's TPN neck. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/**
 * MactNativeTPNDownSampleSpec:
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: the conv's kernel (t, h, w)
 * @stride: the conv's stride
 * @padding: the conv's padding
 * @groups: the conv's groups
 * @bias: whether the conv has a bias
 * @with_norm: a BatchNorm3d follows the conv
 * @with_act: a ReLU follows
 * @pool_before: pool then conv ('before'), else conv then pool ('after')
 * @scale: the max pool's kernel and stride (ceil mode, no padding)
 *
 * The arguments of mmaction2's DownSample (TemporalModulation is the same block with a
 * (3, 1, 1) grouped conv and a temporal pool).
 */
typedef struct {
  gint     in_channels;
  gint     out_channels;
  gint     kernel_size[3];
  gint     stride[3];
  gint     padding[3];
  gint     groups;
  gboolean bias;
  gboolean with_norm;
  gboolean with_act;
  gboolean pool_before;
  gint     scale[3];
} MactNativeTPNDownSampleSpec;

#define MACT_NATIVE_TYPE_TPN_DOWNSAMPLE (mact_native_tpn_downsample_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeTPNDownSample, mact_native_tpn_downsample, MACT_NATIVE,
                      TPN_DOWNSAMPLE, MactModule)

MactModule *mact_native_tpn_downsample_new (const MactNativeTPNDownSampleSpec *spec,
                                            GError                           **error);

G_END_DECLS
