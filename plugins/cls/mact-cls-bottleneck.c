/* mact-cls-bottleneck.c: mmcls's ResNet Bottleneck, which with groups != 1 is ResNeXt's.
 *
 * Children in mmcls's registration order, hence its state-dict keys: conv1 (1x1), bn1,
 * conv2 (3x3, dilated, grouped), bn2, conv3 (1x1 to out_channels), bn3, relu, downsample
 * (when given) and drop_path.  Style 'pytorch' puts the stride on conv2, 'caffe' on conv1.
 *
 * Widths: mid = out_channels / expansion for ResNet.  ResNeXt (groups != 1) widens it to
 * groups * width_per_group * mid / base_channels, so stage i has groups *
 * width_per_group * 2^i channels in conv2 whatever base_channels is. */
#include "mact-cls-bottleneck.h"

struct _MactClsBottleneck
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds the references.  path is the residual branch in
   * call order (conv1, bn1, relu, conv2, bn2, relu, conv3, bn3). */
  MactModule *path[8];
  MactModule *relu;
  MactModule *downsample;
  MactModule *drop_path;
};

G_DEFINE_FINAL_TYPE (MactClsBottleneck, mact_cls_bottleneck, MACT_TYPE_MODULE)

static GPtrArray *
mact_cls_bottleneck_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactClsBottleneck *self = MACT_CLS_BOTTLENECK (module);
  return mact_cls_residual_forward ("Bottleneck", self->path, G_N_ELEMENTS (self->path),
                                    self->downsample, self->drop_path, self->relu, inputs,
                                    error);
}

static void
mact_cls_bottleneck_class_init (MactClsBottleneckClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_cls_bottleneck_forward;
}

static void
mact_cls_bottleneck_init (MactClsBottleneck *self)
{
}

/**
 * mact_cls_bottleneck_new:
 * @args: the block's arguments
 * @downsample: (nullable) (transfer none): the shortcut
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_cls_bottleneck_new (const MactClsResBlockArgs *args, MactModule *downsample,
                         GError **error)
{
  /* mmcls: assert out_channels % expansion == 0 and, for ResNeXt, mid % base == 0. */
  if (args->expansion < 1 || args->out_channels % args->expansion != 0)
    {
      mact_cls_invalid_argument (error, "Bottleneck", "out_channels %d is not a multiple of "
                                 "expansion %d", args->out_channels, args->expansion);
      return NULL;
    }
  gint mid = args->out_channels / args->expansion;
  if (args->groups != 1)
    {
      if (args->base_channels < 1 || mid % args->base_channels != 0)
        {
          mact_cls_invalid_argument (error, "Bottleneck", "mid channels %d are not a multiple "
                                     "of base_channels %d", mid, args->base_channels);
          return NULL;
        }
      mid = args->groups * args->width_per_group * (mid / args->base_channels);
    }
  const gint conv1_stride = args->caffe_style ? args->stride : 1;
  const gint conv2_stride = args->caffe_style ? 1 : args->stride;

  g_autoptr(MactModule) module = mact_module_new (MACT_CLS_TYPE_BOTTLENECK, error, NULL);
  if (module == NULL)
    return NULL;
  g_autoptr(MactModule) conv1 = mact_cls_conv_new (args->in_channels, mid, 1, conv1_stride, 0,
                                                   1, 1, error);
  g_autoptr(MactModule) bn1 = conv1 ? mact_cls_norm_new (mid, args->norm, error) : NULL;
  g_autoptr(MactModule) conv2 = bn1 ? mact_cls_conv_new (mid, mid, 3, conv2_stride,
                                                         args->dilation, args->dilation,
                                                         args->groups, error) : NULL;
  g_autoptr(MactModule) bn2 = conv2 ? mact_cls_norm_new (mid, args->norm, error) : NULL;
  g_autoptr(MactModule) conv3 = bn2 ? mact_cls_conv_new (mid, args->out_channels, 1, 1, 0, 1,
                                                         1, error) : NULL;
  g_autoptr(MactModule) bn3 = conv3 ? mact_cls_norm_new (args->out_channels, args->norm,
                                                         error) : NULL;
  g_autoptr(MactModule) drop_path = bn3 ? mact_cls_drop_path_or_identity (args->drop_path_rate,
                                                                          error) : NULL;
  if (drop_path == NULL)
    return NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);

  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "bn1", bn1);
  mact_module_add_child (module, "conv2", conv2);
  mact_module_add_child (module, "bn2", bn2);
  mact_module_add_child (module, "conv3", conv3);
  mact_module_add_child (module, "bn3", bn3);
  mact_module_add_child (module, "relu", relu);
  if (downsample != NULL)
    mact_module_add_child (module, "downsample", downsample);
  mact_module_add_child (module, "drop_path", drop_path);

  MactClsBottleneck *self = MACT_CLS_BOTTLENECK (module);
  MactModule *const path[] = { conv1, bn1, relu, conv2, bn2, relu, conv3, bn3 };
  for (guint i = 0; i < G_N_ELEMENTS (path); i++)
    self->path[i] = path[i];
  self->relu = relu;
  self->downsample = downsample;
  self->drop_path = drop_path;
  return g_steal_pointer (&module);
}
