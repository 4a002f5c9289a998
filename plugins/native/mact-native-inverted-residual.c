/* mact-native-inverted-residual.c: mmaction2's InvertedResidual (mobilenet_v2.py).
 *
 * One child, "conv", a Sequential of ConvModules as mmaction2 builds it: "0" the 1x1
 * expansion to in_channels * expand_ratio (only when expand_ratio != 1), then the 3x3
 * depthwise conv carrying the stride, then the 1x1 projection without activation.  With
 * stride 1 and equal channels the input is added (use_res_connect).  The sequential is
 * walked by position at each call, so MobileNetV2TSM can wrap conv.0 in a TemporalShift
 * after build. */
#include "mact-native-inverted-residual.h"

struct _MactNativeInvertedResidual
{
  MactModule  parent_instance;

  gboolean    use_res_connect;
  MactModule *conv;   /* borrowed: the children table holds it */
};

G_DEFINE_FINAL_TYPE (MactNativeInvertedResidual, mact_native_inverted_residual,
                     MACT_TYPE_MODULE)

/* A forward result holding @t (transfer full), or NULL when @t is NULL. */
static GPtrArray *
single_output (MactTensor *t)
{
  if (t == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, t);
  return outputs;
}

static GPtrArray *
mact_native_inverted_residual_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeInvertedResidual *self = MACT_NATIVE_INVERTED_RESIDUAL (module);

  if (!mact_native_check_single_input (inputs, "InvertedResidual", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  MactTensor *out = mact_module_forward1 (self->conv, x, error);
  if (out == NULL || !self->use_res_connect)
    return single_output (out);
  g_autoptr(MactTensor) branch = out;
  return single_output (mact_add (x, branch, error));
}

static void
mact_native_inverted_residual_class_init (MactNativeInvertedResidualClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_inverted_residual_forward;
}

static void
mact_native_inverted_residual_init (MactNativeInvertedResidual *self)
{
}

/**
 * mact_native_inverted_residual_new:
 * @in_channels: input channels
 * @out_channels: output channels
 * @stride: the stride of the depthwise conv, 1 or 2 (checked by the caller)
 * @expand_ratio: the hidden width is round(in_channels * expand_ratio)
 * @cfg: the norm/act configs
 * @act: the activation's function (ReLU6 by default)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built block
 */
MactModule *
mact_native_inverted_residual_new (gint in_channels, gint out_channels, gint stride,
                                   gint expand_ratio, const MactNativeLayerCfg *cfg,
                                   MactActivationKind act, GError **error)
{
  const gint hidden = in_channels * expand_ratio;
  g_autoptr(MactModule) conv = mact_sequential_new ();

  if (expand_ratio != 1)
    {
      g_autoptr(MactModule) expand = mact_native_conv_module_act_new (in_channels, hidden, 1, 1,
                                                                      0, 1, cfg, act, TRUE,
                                                                      error);
      if (expand == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (conv), expand);
    }
  g_autoptr(MactModule) depthwise = mact_native_conv_module_act_new (hidden, hidden, 3, stride,
                                                                     1, hidden, cfg, act, TRUE,
                                                                     error);
  if (depthwise == NULL)
    return NULL;
  g_autoptr(MactModule) project = mact_native_conv_module_act_new (hidden, out_channels, 1, 1,
                                                                   0, 1, cfg, act, FALSE,
                                                                   error);
  if (project == NULL)
    return NULL;
  mact_sequential_append (MACT_SEQUENTIAL (conv), depthwise);
  mact_sequential_append (MACT_SEQUENTIAL (conv), project);

  MactModule *module = mact_module_new (MACT_NATIVE_TYPE_INVERTED_RESIDUAL, error, NULL);
  if (module == NULL)
    return NULL;
  MactNativeInvertedResidual *self = MACT_NATIVE_INVERTED_RESIDUAL (module);
  self->use_res_connect = stride == 1 && in_channels == out_channels;
  mact_module_add_child (module, "conv", conv);
  self->conv = conv;
  return module;
}

/**
 * mact_native_inverted_residual_get_use_res_connect:
 * @self: a block
 *
 * Returns: whether the block adds its input to its output
 */
gboolean
mact_native_inverted_residual_get_use_res_connect (MactNativeInvertedResidual *self)
{
  return self->use_res_connect;
}
