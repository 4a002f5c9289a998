/* mact-native-basic-block.c: mmaction2's ResNet BasicBlock (expansion 1).
 *
 * Children, in mmaction2's order so the state-dict keys match: conv1 (3x3 ConvModule with
 * ReLU, carrying the stride and dilation), conv2 (3x3 ConvModule without activation),
 * relu, and downsample when the shortcut needs one.  The `style` argument has no effect on
 * a BasicBlock (mmaction2 only asserts it). */
#include "mact-native-basic-block.h"

struct _MactNativeBasicBlock
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds the references. */
  MactModule *convs[2];
  MactModule *relu;
  MactModule *downsample;
};

G_DEFINE_FINAL_TYPE (MactNativeBasicBlock, mact_native_basic_block, MACT_TYPE_MODULE)

static GPtrArray *
mact_native_basic_block_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeBasicBlock *self = MACT_NATIVE_BASIC_BLOCK (module);
  return mact_native_residual_forward (module, self->convs, 2, self->downsample, self->relu,
                                       inputs, error);
}

static void
mact_native_basic_block_class_init (MactNativeBasicBlockClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_basic_block_forward;
}

static void
mact_native_basic_block_init (MactNativeBasicBlock *self)
{
}

/**
 * mact_native_basic_block_new:
 * @inplanes: input channels
 * @planes: output channels
 * @stride: the stride of conv1
 * @dilation: the dilation (and padding) of conv1
 * @downsample: (nullable) (transfer none): the shortcut ConvModule
 * @cfg: the norm/act configs
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_native_basic_block_new (gint inplanes, gint planes, gint stride, gint dilation,
                             MactModule *downsample, const MactNativeLayerCfg *cfg,
                             GError **error)
{
  g_autoptr(MactModule) module = mact_module_new (MACT_NATIVE_TYPE_BASIC_BLOCK, error, NULL);
  if (module == NULL)
    return NULL;
  MactNativeBasicBlock *self = MACT_NATIVE_BASIC_BLOCK (module);

  g_autoptr(MactModule) conv1 = mact_native_conv_module_new (2, inplanes, planes, 3, stride,
                                                             dilation, dilation, cfg, TRUE,
                                                             error);
  if (conv1 == NULL)
    return NULL;
  g_autoptr(MactModule) conv2 = mact_native_conv_module_new (2, planes, planes, 3, 1, 1, 1,
                                                             cfg, FALSE, error);
  if (conv2 == NULL)
    return NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);

  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "conv2", conv2);
  mact_module_add_child (module, "relu", relu);
  if (downsample != NULL)
    mact_module_add_child (module, "downsample", downsample);
  self->convs[0] = conv1;
  self->convs[1] = conv2;
  self->relu = relu;
  self->downsample = downsample;
  return g_steal_pointer (&module);
}
