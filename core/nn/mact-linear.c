/* mact-linear.c: MactLinear, PyTorch's nn.Linear. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactLinear:
 *
 * A fully connected layer (PyTorch's `nn.Linear`): `y = x W^T + b` over the last
 * dimension, with parameters `weight` [out_features, in_features] and, unless the bias
 * property is %FALSE, `bias` [out_features], initialised as PyTorch does (within
 * +-1/sqrt(in_features)).
 *
 * Since: 0.1
 */
struct _MactLinear
{
  MactModule parent_instance;

  gint       in_features;
  gint       out_features;
  gboolean   bias;
};

G_DEFINE_FINAL_TYPE (MactLinear, mact_linear_layer, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_IN_FEATURES,
  PROP_OUT_FEATURES,
  PROP_BIAS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_linear_layer_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  MactLinear *self = MACT_LINEAR (object);
  switch (prop_id)
    {
    case PROP_IN_FEATURES:
      self->in_features = g_value_get_int (value);
      break;
    case PROP_OUT_FEATURES:
      self->out_features = g_value_get_int (value);
      break;
    case PROP_BIAS:
      self->bias = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_linear_layer_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
  MactLinear *self = MACT_LINEAR (object);
  switch (prop_id)
    {
    case PROP_IN_FEATURES:
      g_value_set_int (value, self->in_features);
      break;
    case PROP_OUT_FEATURES:
      g_value_set_int (value, self->out_features);
      break;
    case PROP_BIAS:
      g_value_set_boolean (value, self->bias);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_linear_layer_build (MactModule *module, GError **error)
{
  MactLinear *self = MACT_LINEAR (module);

  if (!MACT_MODULE_CLASS (mact_linear_layer_parent_class)->build (module, error))
    return FALSE;

  if (self->in_features <= 0 || self->out_features <= 0)
    {
      gboolean in_bad = self->in_features <= 0;
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "Linear: %s must be a positive integer (got %d)",
                   in_bad ? "in_features" : "out_features",
                   in_bad ? self->in_features : self->out_features);
      return FALSE;
    }

  const gint64 shape[2] = { self->out_features, self->in_features };
  g_autoptr(MactTensor) weight = mact_nn_new_tensor (2, shape, 0.0f, "Linear", "weight",
                                                     error);
  if (weight == NULL)
    return FALSE;
  g_autoptr(MactTensor) bias = NULL;
  if (self->bias)
    {
      bias = mact_nn_new_tensor (1, shape, 0.0f, "Linear", "bias", error);
      if (bias == NULL)
        return FALSE;
    }
  if (!mact_nn_reset_weight_bias (weight, bias, NULL, error))
    return FALSE;

  mact_module_register_parameter (module, "weight", weight);
  mact_module_register_parameter (module, "bias", bias);
  return TRUE;
}

static GPtrArray *
mact_linear_layer_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactLinear *self = MACT_LINEAR (module);

  MactTensor *input = mact_nn_single_input (inputs, "Linear", error);
  if (input == NULL ||
      !mact_nn_check_input (input, 1, MACT_MAX_DIMS, -1, self->in_features, "in_features",
                            "Linear", error))
    return NULL;

  MactTensor *output = mact_linear (input, mact_module_get_parameter (module, "weight"),
                                    mact_module_get_parameter (module, "bias"), error);
  if (output == NULL)
    g_prefix_error (error, "Linear: ");
  return mact_nn_output (output);
}

static void
mact_linear_layer_class_init (MactLinearClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_linear_layer_set_property;
  object_class->get_property = mact_linear_layer_get_property;
  module_class->build = mact_linear_layer_build;
  module_class->forward = mact_linear_layer_forward;

  /**
   * MactLinear:in-features:
   *
   * The size of the input's last dimension (required).
   */
  properties[PROP_IN_FEATURES] =
    g_param_spec_int ("in-features", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactLinear:out-features:
   *
   * The size of the output's last dimension (required).
   */
  properties[PROP_OUT_FEATURES] =
    g_param_spec_int ("out-features", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactLinear:bias:
   *
   * Whether the layer has a bias.
   */
  properties[PROP_BIAS] =
    g_param_spec_boolean ("bias", NULL, NULL, TRUE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_linear_layer_init (MactLinear *self)
{
}

/**
 * mact_linear_new:
 * @in_features: the size of the input's last dimension
 * @out_features: the size of the output's last dimension
 * @bias: whether the layer has a bias
 * @error: return location for a #GError, or %NULL
 *
 * Creates a fully connected layer (see #MactLinear).
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT when a size is not positive.
 *
 * Returns: (transfer full) (nullable): the layer, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_linear_new (gint in_features, gint out_features, gboolean bias, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  MactNNProps props = { 0 };
  mact_nn_props_add_int (&props, "in-features", in_features);
  mact_nn_props_add_int (&props, "out-features", out_features);
  mact_nn_props_add_boolean (&props, "bias", bias);
  return mact_nn_props_build (&props, MACT_TYPE_LINEAR, error);
}
