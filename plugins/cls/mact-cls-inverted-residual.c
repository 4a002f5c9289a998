/* mact-cls-inverted-residual.c: mmcls's MobileNetV2 InvertedResidual block.
 *
 * One child, `conv`, a Sequential of ConvModules as mmcls builds it: a 1x1 expansion to
 * in_channels * expand_ratio channels (left out when expand_ratio is 1), a depthwise 3x3
 * with the block's stride, and a 1x1 projection without activation.  Keys are
 * conv.<i>.conv.weight and conv.<i>.bn.*.  With stride 1 and equal widths the input is
 * added to the output. */
#include "mact-cls-inverted-residual.h"

struct _MactClsInvertedResidual
{
  MactModule  parent_instance;

  gboolean    use_res_connect;
  MactModule *conv;   /* borrowed: the children table holds it */
};

G_DEFINE_FINAL_TYPE (MactClsInvertedResidual, mact_cls_inverted_residual, MACT_TYPE_MODULE)

static GPtrArray *
mact_cls_inverted_residual_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactClsInvertedResidual *self = MACT_CLS_INVERTED_RESIDUAL (module);

  if (!mact_cls_check_input (inputs, "InvertedResidual", 0, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  g_autoptr(MactTensor) out = mact_module_forward1 (self->conv, x, error);
  if (out == NULL)
    return NULL;
  if (!self->use_res_connect)
    return mact_cls_single_output (g_steal_pointer (&out));
  MactTensor *sum = mact_add (x, out, error);
  return sum != NULL ? mact_cls_single_output (sum) : NULL;
}

static void
mact_cls_inverted_residual_class_init (MactClsInvertedResidualClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_cls_inverted_residual_forward;
}

static void
mact_cls_inverted_residual_init (MactClsInvertedResidual *self)
{
}

/**
 * mact_cls_inverted_residual_new:
 * @in_channels: input channels
 * @out_channels: output channels
 * @stride: the depthwise conv's stride, 1 or 2
 * @expand_ratio: the hidden width is round(in_channels * expand_ratio)
 * @norm: the norm config
 * @act: the activation after the expansion and the depthwise conv
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_cls_inverted_residual_new (gint in_channels, gint out_channels, gint stride,
                                gint expand_ratio, const MactClsNormCfg *norm,
                                MactActivationKind act, GError **error)
{
  /* mmcls asserts stride in [1, 2]. */
  if (stride != 1 && stride != 2)
    {
      mact_cls_invalid_argument (error, "InvertedResidual", "stride must be 1 or 2, got %d",
                                 stride);
      return NULL;
    }
  const gint hidden = in_channels * expand_ratio;

  g_autoptr(MactModule) module = mact_module_new (MACT_CLS_TYPE_INVERTED_RESIDUAL, error, NULL);
  if (module == NULL)
    return NULL;
  g_autoptr(MactModule) conv = mact_sequential_new ();
  if (expand_ratio != 1)
    {
      g_autoptr(MactModule) expand = mact_cls_conv_module_new (in_channels, hidden, 1, 1, 0, 1,
                                                               norm, TRUE, act, error);
      if (expand == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (conv), expand);
    }
  g_autoptr(MactModule) depthwise = mact_cls_conv_module_new (hidden, hidden, 3, stride, 1,
                                                              hidden, norm, TRUE, act, error);
  g_autoptr(MactModule) project = depthwise
                                  ? mact_cls_conv_module_new (hidden, out_channels, 1, 1, 0, 1,
                                                              norm, FALSE, act, error)
                                  : NULL;
  if (project == NULL)
    return NULL;
  mact_sequential_append (MACT_SEQUENTIAL (conv), depthwise);
  mact_sequential_append (MACT_SEQUENTIAL (conv), project);
  mact_module_add_child (module, "conv", conv);

  MactClsInvertedResidual *self = MACT_CLS_INVERTED_RESIDUAL (module);
  self->use_res_connect = stride == 1 && in_channels == out_channels;
  self->conv = conv;
  return g_steal_pointer (&module);
}
