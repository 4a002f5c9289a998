/* mact-native-video-bottleneck3d.c: mmaction2's Bottleneck3d (expansion 4), from
 * mmaction/models/backbones/resnet3d.py.
 *
 * Children, in mmaction2's order: conv1, conv2 (ConvModules with ReLU), conv3 (1x1x1 to
 * planes * 4, no activation), downsample when needed, relu.  With style 'pytorch' the
 * strides sit on conv2, with 'caffe' on conv1.  Kernels: inflated '3x1x1' gives conv1
 * 3x1x1 and conv2 1x3x3; inflated '3x3x3' gives conv1 1x1x1 and conv2 3x3x3; not inflated
 * gives 1x1x1 and 1x3x3.  conv2 carries the spatial dilation. */
#include "mact-native-video-bottleneck3d.h"

struct _MactNativeVideoBottleneck3d
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds the references. */
  MactModule *convs[3];
  MactModule *relu;
  MactModule *downsample;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoBottleneck3d, mact_native_video_bottleneck3d,
                     MACT_TYPE_MODULE)

static GPtrArray *
mact_native_video_bottleneck3d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeVideoBottleneck3d *self = MACT_NATIVE_VIDEO_BOTTLENECK3D (module);
  return mact_native_residual_forward (module, self->convs, 3, self->downsample, self->relu,
                                       inputs, error);
}

static void
mact_native_video_bottleneck3d_class_init (MactNativeVideoBottleneck3dClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_video_bottleneck3d_forward;
}

static void
mact_native_video_bottleneck3d_init (MactNativeVideoBottleneck3d *self)
{
}

/**
 * mact_native_video_bottleneck3d_get_last_conv:
 * @self: a block
 *
 * Returns: (transfer none): conv3, the ConvModule before the residual sum
 */
MactModule *
mact_native_video_bottleneck3d_get_last_conv (MactNativeVideoBottleneck3d *self)
{
  return self->convs[2];
}

/**
 * mact_native_video_bottleneck3d_new:
 * @inplanes: input channels
 * @planes: the inner width; the output has @planes * 4 channels
 * @spatial_stride: the block's spatial stride
 * @temporal_stride: the block's temporal stride
 * @dilation: conv2's spatial dilation (and padding)
 * @downsample: (nullable) (transfer none): the shortcut ConvModule
 * @caffe_style: put the strides on conv1 instead of conv2
 * @inflate: whether the block has a temporal kernel
 * @inflate_3x3x3: inflate_style '3x3x3' instead of '3x1x1'
 * @cfg: the layer configs
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_native_video_bottleneck3d_new (gint inplanes, gint planes, gint spatial_stride,
                                    gint temporal_stride, gint dilation,
                                    MactModule *downsample, gboolean caffe_style,
                                    gboolean inflate, gboolean inflate_3x3x3,
                                    const MactNativeVideoLayerCfg *cfg, GError **error)
{
  const gint strided[3] = { temporal_stride, spatial_stride, spatial_stride };
  const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  const gint d2[3] = { 1, dilation, dilation };
  gint k1[3] = { 1, 1, 1 }, p1[3] = { 0, 0, 0 };
  gint k2[3] = { 1, 3, 3 }, p2[3] = { 0, dilation, dilation };

  if (inflate && !inflate_3x3x3)
    {
      k1[0] = 3;
      p1[0] = 1;
    }
  else if (inflate)
    {
      k2[0] = 3;
      p2[0] = 1;
    }

  g_autoptr(MactModule) module = mact_module_new (MACT_NATIVE_VIDEO_TYPE_BOTTLENECK3D, error,
                                                  NULL);
  if (module == NULL)
    return NULL;
  MactNativeVideoBottleneck3d *self = MACT_NATIVE_VIDEO_BOTTLENECK3D (module);
  g_autoptr(MactModule) conv1 =
    mact_native_video_conv_module_new (inplanes, planes, k1, caffe_style ? strided : one, p1,
                                       one, 1, cfg, TRUE, TRUE, error);
  if (conv1 == NULL)
    return NULL;
  g_autoptr(MactModule) conv2 =
    mact_native_video_conv_module_new (planes, planes, k2, caffe_style ? one : strided, p2, d2,
                                       1, cfg, TRUE, TRUE, error);
  if (conv2 == NULL)
    return NULL;
  g_autoptr(MactModule) conv3 =
    mact_native_video_conv_module_new (planes, planes * MACT_NATIVE_VIDEO_BOTTLENECK3D_EXPANSION,
                                       one, one, zero, one, 1, cfg, TRUE, FALSE, error);
  if (conv3 == NULL)
    return NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);

  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "conv2", conv2);
  mact_module_add_child (module, "conv3", conv3);
  if (downsample != NULL)
    mact_module_add_child (module, "downsample", downsample);
  mact_module_add_child (module, "relu", relu);
  self->convs[0] = conv1;
  self->convs[1] = conv2;
  self->convs[2] = conv3;
  self->relu = relu;
  self->downsample = downsample;
  return g_steal_pointer (&module);
}
