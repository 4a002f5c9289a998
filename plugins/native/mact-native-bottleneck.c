/* mact-native-bottleneck.c: mmaction2's ResNet Bottleneck (expansion 4).
 *
 * Children, in mmaction2's order: conv1 (1x1), conv2 (3x3, dilated), conv3 (1x1 to
 * planes * 4, no activation), relu, and downsample when needed.  With style 'pytorch' the
 * stride sits on the 3x3 conv2 (as torchvision's ResNet v1.5); with 'caffe' on the 1x1
 * conv1. */
#include "mact-native-bottleneck.h"

struct _MactNativeBottleneck
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds the references. */
  MactModule *convs[3];
  MactModule *relu;
  MactModule *downsample;
};

G_DEFINE_FINAL_TYPE (MactNativeBottleneck, mact_native_bottleneck, MACT_TYPE_MODULE)

static GPtrArray *
mact_native_bottleneck_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeBottleneck *self = MACT_NATIVE_BOTTLENECK (module);
  return mact_native_residual_forward (module, self->convs, 3, self->downsample, self->relu,
                                       inputs, error);
}

static void
mact_native_bottleneck_class_init (MactNativeBottleneckClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_bottleneck_forward;
}

static void
mact_native_bottleneck_init (MactNativeBottleneck *self)
{
}

/**
 * mact_native_bottleneck_new:
 * @inplanes: input channels
 * @planes: the inner width; the output has @planes * 4 channels
 * @stride: the block's spatial stride
 * @dilation: the dilation (and padding) of conv2
 * @caffe_style: put the stride on conv1 instead of conv2
 * @downsample: (nullable) (transfer none): the shortcut ConvModule
 * @cfg: the norm/act configs
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_native_bottleneck_new (gint inplanes, gint planes, gint stride, gint dilation,
                            gboolean caffe_style, MactModule *downsample,
                            const MactNativeLayerCfg *cfg, GError **error)
{
  g_autoptr(MactModule) module = mact_module_new (MACT_NATIVE_TYPE_BOTTLENECK, error, NULL);
  if (module == NULL)
    return NULL;
  MactNativeBottleneck *self = MACT_NATIVE_BOTTLENECK (module);
  const gint conv1_stride = caffe_style ? stride : 1;
  const gint conv2_stride = caffe_style ? 1 : stride;

  g_autoptr(MactModule) conv1 = mact_native_conv_module_new (2, inplanes, planes, 1,
                                                             conv1_stride, 0, 1, cfg, TRUE,
                                                             error);
  if (conv1 == NULL)
    return NULL;
  g_autoptr(MactModule) conv2 = mact_native_conv_module_new (2, planes, planes, 3, conv2_stride,
                                                             dilation, dilation, cfg, TRUE,
                                                             error);
  if (conv2 == NULL)
    return NULL;
  g_autoptr(MactModule) conv3 = mact_native_conv_module_new (2, planes,
                                                             planes * MACT_NATIVE_BOTTLENECK_EXPANSION,
                                                             1, 1, 0, 1, cfg, FALSE, error);
  if (conv3 == NULL)
    return NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);

  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "conv2", conv2);
  mact_module_add_child (module, "conv3", conv3);
  mact_module_add_child (module, "relu", relu);
  if (downsample != NULL)
    mact_module_add_child (module, "downsample", downsample);
  self->convs[0] = conv1;
  self->convs[1] = conv2;
  self->convs[2] = conv3;
  self->relu = relu;
  self->downsample = downsample;
  return g_steal_pointer (&module);
}
