/* mact-dropout.c: MactDropout, PyTorch's nn.Dropout. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

#include <math.h>

/**
 * MactDropout:
 *
 * Dropout (PyTorch's `nn.Dropout`): in training mode each element is zeroed with
 * probability p and the rest are scaled by 1 / (1 - p); in evaluation mode the input is
 * returned as it is.  The mask is drawn from the layer's generator when one is set
 * (mact_dropout_set_generator()), else from the default generator.
 *
 * Since: 0.1
 */
struct _MactDropout
{
  MactModule     parent_instance;

  double         p;
  MactGenerator *generator;   /* nullable: the default generator */
};

G_DEFINE_FINAL_TYPE (MactDropout, mact_dropout_layer, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_P,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_dropout_layer_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  MactDropout *self = MACT_DROPOUT (object);
  switch (prop_id)
    {
    case PROP_P:
      self->p = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_dropout_layer_get_property (GObject *object, guint prop_id, GValue *value,
                                 GParamSpec *pspec)
{
  MactDropout *self = MACT_DROPOUT (object);
  switch (prop_id)
    {
    case PROP_P:
      g_value_set_double (value, self->p);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_dropout_layer_build (MactModule *module, GError **error)
{
  MactDropout *self = MACT_DROPOUT (module);

  if (!MACT_MODULE_CLASS (mact_dropout_layer_parent_class)->build (module, error))
    return FALSE;
  if (!(self->p >= 0.0 && self->p <= 1.0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "Dropout: p must be a probability between 0 and 1 (got %g)", self->p);
      return FALSE;
    }
  return TRUE;
}

static GPtrArray *
mact_dropout_layer_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactDropout *self = MACT_DROPOUT (module);
  MactTensor *input = mact_nn_single_input (inputs, "Dropout", error);
  if (input == NULL)
    return NULL;
  MactTensor *output = mact_dropout (input, self->p, mact_module_is_training (module),
                                     self->generator, error);
  if (output == NULL)
    g_prefix_error (error, "Dropout: ");
  return mact_nn_output (output);
}

static void
mact_dropout_layer_finalize (GObject *object)
{
  MactDropout *self = MACT_DROPOUT (object);
  g_clear_pointer (&self->generator, mact_generator_unref);
  G_OBJECT_CLASS (mact_dropout_layer_parent_class)->finalize (object);
}

static void
mact_dropout_layer_class_init (MactDropoutClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->set_property = mact_dropout_layer_set_property;
  object_class->get_property = mact_dropout_layer_get_property;
  object_class->finalize = mact_dropout_layer_finalize;
  module_class->build = mact_dropout_layer_build;
  module_class->forward = mact_dropout_layer_forward;

  /**
   * MactDropout:p:
   *
   * The probability of zeroing an element, in [0, 1].
   */
  properties[PROP_P] =
    g_param_spec_double ("p", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.5,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_dropout_layer_init (MactDropout *self)
{
}

/**
 * mact_dropout_new:
 * @p: the probability of zeroing an element, in [0, 1] (PyTorch's default is 0.5)
 * @error: return location for a #GError, or %NULL
 *
 * Creates a dropout layer (see #MactDropout).
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT when @p is outside [0, 1].
 *
 * Returns: (transfer full) (nullable): the layer, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_dropout_new (double p, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  /* GObject would refuse a NaN property value with a warning and keep the default. */
  if (isnan (p))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "Dropout: p must be a probability between 0 and 1 (got %g)", p);
      return NULL;
    }
  MactNNProps props = { 0 };
  mact_nn_props_add_double (&props, "p", p);
  return mact_nn_props_build (&props, MACT_TYPE_DROPOUT, error);
}

/**
 * mact_dropout_set_generator:
 * @self: a dropout layer
 * @generator: (nullable): the generator to draw masks from, or %NULL for the default one
 *
 * Makes the layer draw its masks from @generator (a reference is kept), so a training
 * run can be reproduced whatever else uses the default generator.
 *
 * Since: 0.1
 */
void
mact_dropout_set_generator (MactDropout *self, MactGenerator *generator)
{
  g_return_if_fail (MACT_IS_DROPOUT (self));
  if (generator != NULL)
    mact_generator_ref (generator);
  g_clear_pointer (&self->generator, mact_generator_unref);
  self->generator = generator;
}
