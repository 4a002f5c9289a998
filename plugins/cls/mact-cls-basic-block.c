/* mact-cls-basic-block.c: mmcls's ResNet BasicBlock.
 *
 * Children in mmcls's registration order, hence its state-dict keys: conv1 (3x3, the
 * block's stride, dilated), bn1, conv2 (3x3, stride 1, padding 1 and no dilation: mmcls
 * dilates only conv1), bn2, relu, downsample (when given) and drop_path.  Forward:
 * relu(drop_path(bn2(conv2(relu(bn1(conv1(x)))))) + shortcut(x)). */
#include "mact-cls-basic-block.h"

struct _MactClsBasicBlock
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds the references.  path is the residual branch in
   * call order (conv1, bn1, relu, conv2, bn2). */
  MactModule *path[5];
  MactModule *relu;
  MactModule *downsample;
  MactModule *drop_path;
};

G_DEFINE_FINAL_TYPE (MactClsBasicBlock, mact_cls_basic_block, MACT_TYPE_MODULE)

static GPtrArray *
mact_cls_basic_block_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactClsBasicBlock *self = MACT_CLS_BASIC_BLOCK (module);
  return mact_cls_residual_forward ("BasicBlock", self->path, G_N_ELEMENTS (self->path),
                                    self->downsample, self->drop_path, self->relu, inputs,
                                    error);
}

static void
mact_cls_basic_block_class_init (MactClsBasicBlockClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_cls_basic_block_forward;
}

static void
mact_cls_basic_block_init (MactClsBasicBlock *self)
{
}

/**
 * mact_cls_basic_block_new:
 * @args: the block's arguments; @args->expansion must be 1
 * @downsample: (nullable) (transfer none): the shortcut
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_cls_basic_block_new (const MactClsResBlockArgs *args, MactModule *downsample,
                          GError **error)
{
  /* mmcls asserts expansion == 1 for BasicBlock. */
  if (args->expansion != 1)
    {
      mact_cls_invalid_argument (error, "BasicBlock", "expansion must be 1, got %d",
                                 args->expansion);
      return NULL;
    }
  const gint mid = args->out_channels;

  g_autoptr(MactModule) module = mact_module_new (MACT_CLS_TYPE_BASIC_BLOCK, error, NULL);
  if (module == NULL)
    return NULL;
  g_autoptr(MactModule) conv1 = mact_cls_conv_new (args->in_channels, mid, 3, args->stride,
                                                   args->dilation, args->dilation, 1, error);
  g_autoptr(MactModule) bn1 = conv1 ? mact_cls_norm_new (mid, args->norm, error) : NULL;
  g_autoptr(MactModule) conv2 = bn1 ? mact_cls_conv_new (mid, args->out_channels, 3, 1, 1, 1,
                                                         1, error) : NULL;
  g_autoptr(MactModule) bn2 = conv2 ? mact_cls_norm_new (args->out_channels, args->norm,
                                                         error) : NULL;
  g_autoptr(MactModule) drop_path = bn2 ? mact_cls_drop_path_or_identity (args->drop_path_rate,
                                                                          error) : NULL;
  if (drop_path == NULL)
    return NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);

  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "bn1", bn1);
  mact_module_add_child (module, "conv2", conv2);
  mact_module_add_child (module, "bn2", bn2);
  mact_module_add_child (module, "relu", relu);
  if (downsample != NULL)
    mact_module_add_child (module, "downsample", downsample);
  mact_module_add_child (module, "drop_path", drop_path);

  MactClsBasicBlock *self = MACT_CLS_BASIC_BLOCK (module);
  self->path[0] = conv1;
  self->path[1] = bn1;
  self->path[2] = relu;
  self->path[3] = conv2;
  self->path[4] = bn2;
  self->relu = relu;
  self->downsample = downsample;
  self->drop_path = drop_path;
  return g_steal_pointer (&module);
}
