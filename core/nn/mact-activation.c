/* mact-activation.c: MactActivation, PyTorch's nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.SiLU and
 * nn.Hardswish in one class chosen by a property. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactActivation:
 *
 * An elementwise activation layer with no parameters; its kind property picks the
 * function (#MactActivationKind).  Any input shape is accepted.
 *
 * Since: 0.1
 */
struct _MactActivation
{
  MactModule         parent_instance;

  MactActivationKind kind;
};

G_DEFINE_FINAL_TYPE (MactActivation, mact_activation, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_KIND,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static const char *
activation_name (MactActivationKind kind)
{
  switch (kind)
    {
    case MACT_ACTIVATION_RELU:
      return "ReLU";
    case MACT_ACTIVATION_RELU6:
      return "ReLU6";
    case MACT_ACTIVATION_SIGMOID:
      return "Sigmoid";
    case MACT_ACTIVATION_SILU:
      return "SiLU";
    case MACT_ACTIVATION_HARDSWISH:
      return "Hardswish";
    default:
      return "Activation";
    }
}

static void
mact_activation_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  MactActivation *self = MACT_ACTIVATION (object);
  switch (prop_id)
    {
    case PROP_KIND:
      self->kind = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_activation_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec)
{
  MactActivation *self = MACT_ACTIVATION (object);
  switch (prop_id)
    {
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GPtrArray *
mact_activation_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactActivation *self = MACT_ACTIVATION (module);
  MactTensor *input = mact_nn_single_input (inputs, activation_name (self->kind), error);
  if (input == NULL)
    return NULL;

  MactTensor *output = NULL;
  switch (self->kind)
    {
    case MACT_ACTIVATION_RELU:
      output = mact_relu (input);
      break;
    case MACT_ACTIVATION_RELU6:
      output = mact_relu6 (input);
      break;
    case MACT_ACTIVATION_SIGMOID:
      output = mact_sigmoid (input);
      break;
    case MACT_ACTIVATION_SILU:
      output = mact_silu (input);
      break;
    case MACT_ACTIVATION_HARDSWISH:
      output = mact_hardswish (input);
      break;
    default:
      /* The enum property only holds valid kinds. */
      g_assert_not_reached ();
    }
  return mact_nn_output (output);
}

static void
mact_activation_class_init (MactActivationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->set_property = mact_activation_set_property;
  object_class->get_property = mact_activation_get_property;
  module_class->forward = mact_activation_forward;

  /**
   * MactActivation:kind:
   *
   * The function applied.
   */
  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL, MACT_TYPE_ACTIVATION_KIND, MACT_ACTIVATION_RELU,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_activation_init (MactActivation *self)
{
}

/**
 * mact_activation_new:
 * @kind: the function
 *
 * Creates an activation layer (see #MactActivation).
 *
 * Returns: (transfer full): the layer
 *
 * Since: 0.1
 */
MactModule *
mact_activation_new (MactActivationKind kind)
{
  /* An unknown kind is a programmer error (a config gets an enum nick checked first). */
  g_return_val_if_fail (kind >= MACT_ACTIVATION_RELU && kind <= MACT_ACTIVATION_HARDSWISH,
                        NULL);
  MactNNProps props = { 0 };
  mact_nn_props_add_enum (&props, "kind", MACT_TYPE_ACTIVATION_KIND, kind);
  /* Nothing to validate, so building cannot fail. */
  return mact_nn_props_build (&props, MACT_TYPE_ACTIVATION, NULL);
}
