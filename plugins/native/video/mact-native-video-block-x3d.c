/* mact-native-video-block-x3d.c: X3D's BlockX3D (mmaction/models/backbones/x3d.py).
 *
 * Children, in mmaction2's registration order (so the state dict matches): downsample
 * (when given), conv1 (1x1x1 ConvModule with ReLU), conv2 (3x3x3 channel-wise ConvModule,
 * spatial stride, no activation), swish, conv3 (1x1x1 ConvModule, no activation),
 * se_module (when se_ratio is set), relu.  Forward: relu(conv3(swish(se(conv2(conv1(x)))))
 * + shortcut(x)).  The swish is always applied: mmaction2's `use_swish` has no effect. */
#include "mact-native-video-block-x3d.h"
#include "mact-native-video-se-module.h"

struct _MactNativeVideoBlockX3D
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds them. */
  MactModule *downsample;
  MactModule *conv1;
  MactModule *conv2;
  MactModule *swish;
  MactModule *conv3;
  MactModule *se_module;
  MactModule *relu;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoBlockX3D, mact_native_video_block_x3d, MACT_TYPE_MODULE)

static GPtrArray *
mact_native_video_block_x3d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeVideoBlockX3D *self = MACT_NATIVE_VIDEO_BLOCK_X3D (module);
  MactModule *order[] = { self->conv1, self->conv2, self->se_module, self->swish,
                          self->conv3 };

  if (!mact_native_check_single_input (inputs, "BlockX3D", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  g_autoptr(MactTensor) out = mact_tensor_ref (x);
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      if (order[i] == NULL)
        continue;
      MactTensor *next = mact_module_forward1 (order[i], out, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (out);
      out = next;
    }
  g_autoptr(MactTensor) identity = self->downsample != NULL
                                   ? mact_module_forward1 (self->downsample, x, error)
                                   : mact_tensor_ref (x);
  if (identity == NULL)
    return NULL;
  g_autoptr(MactTensor) sum = mact_add (out, identity, error);
  if (sum == NULL)
    return NULL;
  MactTensor *y = mact_module_forward1 (self->relu, sum, error);
  if (y == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, y);
  return outputs;
}

static void
mact_native_video_block_x3d_class_init (MactNativeVideoBlockX3DClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_video_block_x3d_forward;
}

static void
mact_native_video_block_x3d_init (MactNativeVideoBlockX3D *self)
{
}

/**
 * mact_native_video_block_x3d_get_last_conv:
 * @self: a block
 *
 * Returns: (transfer none): conv3, the ConvModule before the residual sum
 */
MactModule *
mact_native_video_block_x3d_get_last_conv (MactNativeVideoBlockX3D *self)
{
  return self->conv3;
}

/**
 * mact_native_video_block_x3d_new:
 * @inplanes: input channels
 * @planes: the inner (bottleneck) width
 * @outplanes: output channels
 * @spatial_stride: conv2's spatial stride
 * @downsample: (nullable) (transfer none): the shortcut ConvModule
 * @se_ratio: the SE unit's reduction ratio, or 0 for no SE unit
 * @cfg: the layer configs
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_native_video_block_x3d_new (gint inplanes, gint planes, gint outplanes,
                                 gint spatial_stride, MactModule *downsample, double se_ratio,
                                 const MactNativeVideoLayerCfg *cfg, GError **error)
{
  const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 }, three[3] = { 3, 3, 3 };
  const gint s2[3] = { 1, spatial_stride, spatial_stride };

  g_autoptr(MactModule) module = mact_module_new (MACT_NATIVE_VIDEO_TYPE_BLOCK_X3D, error,
                                                  NULL);
  if (module == NULL)
    return NULL;
  MactNativeVideoBlockX3D *self = MACT_NATIVE_VIDEO_BLOCK_X3D (module);
  g_autoptr(MactModule) conv1 = mact_native_video_conv_module_new (inplanes, planes, one, one,
                                                                   zero, one, 1, cfg, TRUE,
                                                                   TRUE, error);
  if (conv1 == NULL)
    return NULL;
  /* The channel-wise 3x3x3 conv. */
  g_autoptr(MactModule) conv2 = mact_native_video_conv_module_new (planes, planes, three, s2,
                                                                   one, one, planes, cfg, TRUE,
                                                                   FALSE, error);
  if (conv2 == NULL)
    return NULL;
  g_autoptr(MactModule) swish = mact_activation_new (MACT_ACTIVATION_SILU);
  g_autoptr(MactModule) conv3 = mact_native_video_conv_module_new (planes, outplanes, one, one,
                                                                   zero, one, 1, cfg, TRUE,
                                                                   FALSE, error);
  if (conv3 == NULL)
    return NULL;
  g_autoptr(MactModule) se_module = NULL;
  if (se_ratio > 0.0)
    {
      se_module = mact_native_video_se_module_new (planes, se_ratio, error);
      if (se_module == NULL)
        return NULL;
    }
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);

  if (downsample != NULL)
    mact_module_add_child (module, "downsample", downsample);
  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "conv2", conv2);
  mact_module_add_child (module, "swish", swish);
  mact_module_add_child (module, "conv3", conv3);
  if (se_module != NULL)
    mact_module_add_child (module, "se_module", se_module);
  mact_module_add_child (module, "relu", relu);
  self->downsample = downsample;
  self->conv1 = conv1;
  self->conv2 = conv2;
  self->swish = swish;
  self->conv3 = conv3;
  self->se_module = se_module;
  self->relu = relu;
  return g_steal_pointer (&module);
}
