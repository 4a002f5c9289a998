/* mact-tv-squeeze-excitation.c: torchvision's ops.SqueezeExcitation with MobileNetV3's
 * arguments (activation ReLU, scale_activation Hardsigmoid):
 *
 *   scale = hardsigmoid(fc2(relu(fc1(avgpool(x)))));  out = scale * x
 *
 * Children avgpool (adaptive, 1x1), fc1 and fc2 (1x1 convs with bias) and activation, so
 * the keys are fc1.weight, fc1.bias, fc2.weight, fc2.bias.  torchvision's
 * scale_activation child has no state; Hardsigmoid, relu6(x + 3) / 6, is computed here
 * from public ops, as the core has no Hardsigmoid layer. */
#include "mact-tv-squeeze-excitation.h"
#include "mact-tv-layers.h"

struct _MactTvSqueezeExcitation
{
  MactModule parent_instance;
};

G_DEFINE_FINAL_TYPE (MactTvSqueezeExcitation, mact_tv_squeeze_excitation, MACT_TYPE_MODULE)

static GPtrArray *
mact_tv_squeeze_excitation_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  static const char *const scale_path[] = { "avgpool", "fc1", "activation", "fc2", NULL };
  MactTensor *x = mact_tv_single_input (inputs, "SqueezeExcitation", error);
  if (x == NULL)
    return NULL;
  g_autoptr(MactTensor) z = mact_tv_run_children (module, scale_path, x, error);
  if (z == NULL)
    return NULL;
  g_autoptr(MactTensor) shifted = mact_add_scalar (z, 3.0f);
  g_autoptr(MactTensor) clipped = mact_relu6 (shifted);
  g_autoptr(MactTensor) scale = mact_mul_scalar (clipped, 1.0f / 6.0f);
  MactTensor *out = mact_mul (scale, x, error);
  return out != NULL ? mact_tv_single_output (out) : NULL;
}

static void
mact_tv_squeeze_excitation_class_init (MactTvSqueezeExcitationClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_tv_squeeze_excitation_forward;
}

static void
mact_tv_squeeze_excitation_init (MactTvSqueezeExcitation *self)
{
}

/**
 * mact_tv_squeeze_excitation_new:
 * @input_channels: channels of the input (and of the scale)
 * @squeeze_channels: channels of the bottleneck
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the block
 */
MactModule *
mact_tv_squeeze_excitation_new (gint input_channels, gint squeeze_channels, GError **error)
{
  const gint64 one64[2] = { 1, 1 };
  const gint one[2] = { 1, 1 };
  g_autoptr(MactModule) avgpool = mact_adaptive_avg_pool_new (2, one64, error);
  if (avgpool == NULL)
    return NULL;
  g_autoptr(MactModule) fc1 = mact_conv_new (2, input_channels, squeeze_channels, one, NULL,
                                             NULL, NULL, 1, TRUE, error);
  if (fc1 == NULL)
    return NULL;
  g_autoptr(MactModule) fc2 = mact_conv_new (2, squeeze_channels, input_channels, one, NULL,
                                             NULL, NULL, 1, TRUE, error);
  if (fc2 == NULL)
    return NULL;
  g_autoptr(MactModule) activation = mact_activation_new (MACT_ACTIVATION_RELU);
  g_autoptr(MactModule) module = mact_module_new (MACT_TV_TYPE_SQUEEZE_EXCITATION, error, NULL);
  if (module == NULL)
    return NULL;
  mact_module_add_child (module, "avgpool", avgpool);
  mact_module_add_child (module, "fc1", fc1);
  mact_module_add_child (module, "fc2", fc2);
  mact_module_add_child (module, "activation", activation);
  return g_steal_pointer (&module);
}
