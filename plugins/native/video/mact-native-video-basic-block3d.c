/* mact-native-video-basic-block3d.c: mmaction2's BasicBlock3d (expansion 1), from
 * mmaction/models/backbones/resnet3d.py.
 *
 * Children, in mmaction2's order: conv1 (ConvModule with ReLU, carrying the temporal and
 * spatial strides and the spatial dilation), conv2 (ConvModule without activation),
 * downsample when the shortcut needs one, relu.  An inflated block has 3x3x3 kernels
 * (temporal padding 1), a non-inflated one 1x3x3.  `style` and `inflate_style` have no
 * effect on a BasicBlock3d (mmaction2 only checks them). */
#include "mact-native-video-basic-block3d.h"

struct _MactNativeVideoBasicBlock3d
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds the references. */
  MactModule *convs[2];
  MactModule *relu;
  MactModule *downsample;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoBasicBlock3d, mact_native_video_basic_block3d,
                     MACT_TYPE_MODULE)

static GPtrArray *
mact_native_video_basic_block3d_forward (MactModule *module, GPtrArray *inputs,
                                         GError **error)
{
  MactNativeVideoBasicBlock3d *self = MACT_NATIVE_VIDEO_BASIC_BLOCK3D (module);
  return mact_native_residual_forward (module, self->convs, 2, self->downsample, self->relu,
                                       inputs, error);
}

static void
mact_native_video_basic_block3d_class_init (MactNativeVideoBasicBlock3dClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_video_basic_block3d_forward;
}

static void
mact_native_video_basic_block3d_init (MactNativeVideoBasicBlock3d *self)
{
}

/**
 * mact_native_video_basic_block3d_get_last_conv:
 * @self: a block
 *
 * Returns: (transfer none): conv2, the ConvModule before the residual sum
 */
MactModule *
mact_native_video_basic_block3d_get_last_conv (MactNativeVideoBasicBlock3d *self)
{
  return self->convs[1];
}

/**
 * mact_native_video_basic_block3d_new:
 * @inplanes: input channels
 * @planes: output channels
 * @spatial_stride: conv1's spatial stride
 * @temporal_stride: conv1's temporal stride
 * @dilation: conv1's spatial dilation (and padding)
 * @downsample: (nullable) (transfer none): the shortcut ConvModule
 * @inflate: 3x3x3 kernels instead of 1x3x3
 * @cfg: the layer configs
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_native_video_basic_block3d_new (gint inplanes, gint planes, gint spatial_stride,
                                     gint temporal_stride, gint dilation,
                                     MactModule *downsample, gboolean inflate,
                                     const MactNativeVideoLayerCfg *cfg, GError **error)
{
  const gint kt = inflate ? 3 : 1, pt = inflate ? 1 : 0;
  const gint k[3] = { kt, 3, 3 };
  const gint s1[3] = { temporal_stride, spatial_stride, spatial_stride };
  const gint p1[3] = { pt, dilation, dilation };
  const gint d1[3] = { 1, dilation, dilation };
  const gint one[3] = { 1, 1, 1 };
  const gint p2[3] = { pt, 1, 1 };

  g_autoptr(MactModule) module = mact_module_new (MACT_NATIVE_VIDEO_TYPE_BASIC_BLOCK3D, error,
                                                  NULL);
  if (module == NULL)
    return NULL;
  MactNativeVideoBasicBlock3d *self = MACT_NATIVE_VIDEO_BASIC_BLOCK3D (module);
  g_autoptr(MactModule) conv1 = mact_native_video_conv_module_new (inplanes, planes, k, s1, p1,
                                                                   d1, 1, cfg, TRUE, TRUE,
                                                                   error);
  if (conv1 == NULL)
    return NULL;
  g_autoptr(MactModule) conv2 = mact_native_video_conv_module_new (planes, planes, k, one, p2,
                                                                   one, 1, cfg, TRUE, FALSE,
                                                                   error);
  if (conv2 == NULL)
    return NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);

  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "conv2", conv2);
  if (downsample != NULL)
    mact_module_add_child (module, "downsample", downsample);
  mact_module_add_child (module, "relu", relu);
  self->convs[0] = conv1;
  self->convs[1] = conv2;
  self->relu = relu;
  self->downsample = downsample;
  return g_steal_pointer (&module);
}
