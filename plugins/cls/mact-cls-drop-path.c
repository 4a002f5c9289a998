/* mact-cls-drop-path.c: mmcv's DropPath (stochastic depth per sample).
 *
 * In training mode each sample of the batch is kept with probability 1 - drop_prob and
 * then scaled by 1 / (1 - drop_prob), or zeroed: output = x / keep * floor(keep + u) with
 * one u ~ U[0, 1) per sample, drawn from the default generator.  In eval mode, or with
 * drop_prob 0, the input is returned as it is.  It has no parameters, so it adds no
 * state-dict keys. */
#include "mact-cls-drop-path.h"
#include "mact-cls-utils.h"

struct _MactClsDropPath
{
  MactModule parent_instance;

  double     drop_prob;
};

G_DEFINE_FINAL_TYPE (MactClsDropPath, mact_cls_drop_path, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_DROP_PROB,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_cls_drop_path_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  MactClsDropPath *self = MACT_CLS_DROP_PATH (object);
  switch (prop_id)
    {
    case PROP_DROP_PROB:
      self->drop_prob = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_cls_drop_path_get_property (GObject *object, guint prop_id, GValue *value,
                                 GParamSpec *pspec)
{
  MactClsDropPath *self = MACT_CLS_DROP_PATH (object);
  switch (prop_id)
    {
    case PROP_DROP_PROB:
      g_value_set_double (value, self->drop_prob);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_cls_drop_path_build (MactModule *module, GError **error)
{
  MactClsDropPath *self = MACT_CLS_DROP_PATH (module);

  if (!MACT_MODULE_CLASS (mact_cls_drop_path_parent_class)->build (module, error))
    return FALSE;
  /* drop_prob 1 would divide by a zero keep probability (NaN outputs in mmcv). */
  if (!(self->drop_prob >= 0.0 && self->drop_prob < 1.0))
    return mact_cls_invalid_argument (error, "DropPath", "drop_prob must be in [0, 1), "
                                      "got %g", self->drop_prob);
  return TRUE;
}

static GPtrArray *
mact_cls_drop_path_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactClsDropPath *self = MACT_CLS_DROP_PATH (module);

  if (inputs->len != 1 || g_ptr_array_index (inputs, 0) == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "DropPath: expected one input tensor, got %u", inputs->len);
      return NULL;
    }
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (self->drop_prob == 0.0 || !mact_module_is_training (module))
    return mact_cls_single_output (mact_tensor_ref (x));

  gint ndim = mact_tensor_get_ndim (x);
  if (ndim < 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "DropPath: expected a batch of samples, got a 0-D tensor");
      return NULL;
    }
  /* The per-sample mask [N, 1, ..., 1] is a constant, so it is made directly. */
  gint64 shape[MACT_MAX_DIMS];
  shape[0] = mact_tensor_get_size (x, 0);
  for (gint d = 1; d < ndim; d++)
    shape[d] = 1;
  g_autoptr(MactTensor) mask = mact_tensor_new (ndim, shape, error);
  if (mask == NULL)
    return NULL;
  const double keep = 1.0 - self->drop_prob;
  MactGenerator *generator = mact_generator_get_default ();
  float *data = mact_tensor_get_data (mask);
  for (gint64 i = 0; i < shape[0]; i++)
    data[i] = keep + mact_generator_next_double (generator) >= 1.0 ? 1.0f : 0.0f;

  g_autoptr(MactTensor) scaled = mact_mul_scalar (x, (float) (1.0 / keep));
  MactTensor *y = mact_mul (scaled, mask, error);
  return y != NULL ? mact_cls_single_output (y) : NULL;
}

static void
mact_cls_drop_path_class_init (MactClsDropPathClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->set_property = mact_cls_drop_path_set_property;
  object_class->get_property = mact_cls_drop_path_get_property;
  module_class->build = mact_cls_drop_path_build;
  module_class->forward = mact_cls_drop_path_forward;

  /**
   * MactClsDropPath:drop-prob:
   *
   * The probability of dropping a sample's residual branch, in [0, 1).
   */
  properties[PROP_DROP_PROB] =
    g_param_spec_double ("drop-prob", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.1,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_cls_drop_path_init (MactClsDropPath *self)
{
}

/**
 * mact_cls_drop_path_new:
 * @drop_prob: the drop probability, in [0, 1)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built module
 */
MactModule *
mact_cls_drop_path_new (double drop_prob, GError **error)
{
  return mact_module_new (MACT_CLS_TYPE_DROP_PATH, error, "drop-prob", drop_prob, NULL);
}
