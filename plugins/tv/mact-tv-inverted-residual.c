/* mact-tv-inverted-residual.c: the inverted residual blocks of torchvision's MobileNets:
 * one Sequential child, plus the input when the block keeps the shape
 * (use_res_connect: stride 1 and as many output as input channels).
 *
 * - MobileNetV2 (mobilenetv2.InvertedResidual): child `conv` = [1x1 expansion
 *   Conv2dNormActivation with ReLU6 when expand_ratio != 1,] 3x3 depthwise
 *   Conv2dNormActivation with ReLU6, 1x1 projection conv, BatchNorm2d.
 * - MobileNetV3 (mobilenetv3.InvertedResidual): child `block` = [1x1 expansion when the
 *   expanded width differs,] depthwise kxk (dilated: stride 1), [SqueezeExcitation,]
 *   1x1 projection without activation; activations Hardswish or ReLU; batch norms with
 *   eps 0.001, momentum 0.01. */
#include "mact-tv-inverted-residual.h"
#include "mact-tv-layers.h"
#include "mact-tv-squeeze-excitation.h"

struct _MactTvInvertedResidual
{
  MactModule  parent_instance;

  const char *body;            /* the child's name, "conv" or "block" (static) */
  gboolean    use_res_connect;
};

G_DEFINE_FINAL_TYPE (MactTvInvertedResidual, mact_tv_inverted_residual, MACT_TYPE_MODULE)

static GPtrArray *
mact_tv_inverted_residual_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTvInvertedResidual *self = MACT_TV_INVERTED_RESIDUAL (module);
  MactTensor *x = mact_tv_single_input (inputs, "inverted residual", error);
  if (x == NULL)
    return NULL;
  const char *const path[] = { self->body, NULL };
  g_autoptr(MactTensor) y = mact_tv_run_children (module, path, x, error);
  if (y == NULL)
    return NULL;
  if (!self->use_res_connect)
    return mact_tv_single_output (g_steal_pointer (&y));
  MactTensor *sum = mact_add (x, y, error);
  return sum != NULL ? mact_tv_single_output (sum) : NULL;
}

static void
mact_tv_inverted_residual_class_init (MactTvInvertedResidualClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_tv_inverted_residual_forward;
}

static void
mact_tv_inverted_residual_init (MactTvInvertedResidual *self)
{
}

static MactModule *
wrap (const char *name, MactModule *body, gboolean use_res_connect, GError **error)
{
  MactModule *module = mact_module_new (MACT_TV_TYPE_INVERTED_RESIDUAL, error, NULL);
  if (module == NULL)
    return NULL;
  MactTvInvertedResidual *self = MACT_TV_INVERTED_RESIDUAL (module);
  mact_module_add_child (module, name, body);
  self->body = name;
  self->use_res_connect = use_res_connect;
  return module;
}

/**
 * mact_tv_inverted_residual_v2_new:
 * @inp: input channels
 * @oup: output channels
 * @stride: the depthwise stride, 1 or 2
 * @expand_ratio: the expansion factor t
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): MobileNetV2's block
 */
MactModule *
mact_tv_inverted_residual_v2_new (gint inp, gint oup, gint stride, gint expand_ratio,
                                  GError **error)
{
  /* int(round(inp * expand_ratio)): an integer product here. */
  const gint hidden = inp * expand_ratio;
  const MactTvBatchNorm *bn = &mact_tv_bn_default;
  g_autoptr(MactModule) conv = mact_sequential_new ();

  if (expand_ratio != 1)
    {
      g_autoptr(MactModule) pw = mact_tv_conv_norm_act_k (2, inp, hidden, 1, 1, 1, bn, TRUE,
                                                          MACT_ACTIVATION_RELU6, error);
      if (pw == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (conv), pw);
    }
  g_autoptr(MactModule) dw = mact_tv_conv_norm_act_k (2, hidden, hidden, 3, stride, hidden, bn,
                                                      TRUE, MACT_ACTIVATION_RELU6, error);
  if (dw == NULL)
    return NULL;
  const gint one[2] = { 1, 1 };
  g_autoptr(MactModule) project = mact_conv_new (2, hidden, oup, one, NULL, NULL, NULL, 1,
                                                 FALSE, error);
  if (project == NULL)
    return NULL;
  g_autoptr(MactModule) norm = mact_tv_batch_norm_new (2, oup, bn, error);
  if (norm == NULL)
    return NULL;
  mact_sequential_append (MACT_SEQUENTIAL (conv), dw);
  mact_sequential_append (MACT_SEQUENTIAL (conv), project);
  mact_sequential_append (MACT_SEQUENTIAL (conv), norm);
  return wrap ("conv", conv, stride == 1 && inp == oup, error);
}

/**
 * mact_tv_inverted_residual_v3_new:
 * @cnf: the block's configuration
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): MobileNetV3's block
 */
MactModule *
mact_tv_inverted_residual_v3_new (const MactTvInvertedResidualConfig *cnf, GError **error)
{
  static const MactTvBatchNorm bn = { 0.001, 0.01 };
  const MactActivationKind act = cnf->use_hs ? MACT_ACTIVATION_HARDSWISH : MACT_ACTIVATION_RELU;
  g_autoptr(MactModule) block = mact_sequential_new ();

  if (cnf->expanded_channels != cnf->input_channels)
    {
      g_autoptr(MactModule) expand = mact_tv_conv_norm_act_k (2, cnf->input_channels,
                                                              cnf->expanded_channels, 1, 1, 1,
                                                              &bn, TRUE, act, error);
      if (expand == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (block), expand);
    }
  const gint stride = cnf->dilation > 1 ? 1 : cnf->stride;
  const gint k[2] = { cnf->kernel, cnf->kernel };
  const gint s[2] = { stride, stride };
  const gint d[2] = { cnf->dilation, cnf->dilation };
  g_autoptr(MactModule) dw = mact_tv_conv_norm_act_new (2, cnf->expanded_channels,
                                                        cnf->expanded_channels, k, s, NULL, d,
                                                        cnf->expanded_channels, &bn, TRUE, act,
                                                        error);
  if (dw == NULL)
    return NULL;
  mact_sequential_append (MACT_SEQUENTIAL (block), dw);
  if (cnf->use_se)
    {
      const gint squeeze = mact_tv_make_divisible (cnf->expanded_channels / 4, 8);
      g_autoptr(MactModule) se = mact_tv_squeeze_excitation_new (cnf->expanded_channels,
                                                                 squeeze, error);
      if (se == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (block), se);
    }
  g_autoptr(MactModule) project = mact_tv_conv_norm_act_k (2, cnf->expanded_channels,
                                                           cnf->out_channels, 1, 1, 1, &bn,
                                                           FALSE, MACT_ACTIVATION_RELU, error);
  if (project == NULL)
    return NULL;
  mact_sequential_append (MACT_SEQUENTIAL (block), project);
  return wrap ("block", block,
               cnf->stride == 1 && cnf->input_channels == cnf->out_channels, error);
}
