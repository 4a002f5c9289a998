/* mact-adaptive-avg-pool.c: MactAdaptiveAvgPool, PyTorch's nn.AdaptiveAvgPool2d/3d. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactAdaptiveAvgPool:
 *
 * 2-D or 3-D adaptive average pooling (PyTorch's `nn.AdaptiveAvgPool2d` /
 * `nn.AdaptiveAvgPool3d`): pools inputs `[N, C, *spatial]` or `[C, *spatial]` to a fixed
 * output size whatever the input size (1 by default: global average pooling).  No
 * parameters.
 *
 * Since: 0.1
 */
struct _MactAdaptiveAvgPool
{
  MactModule parent_instance;

  gint       dims;
  GVariant  *output_size_v;

  /* resolved by build */
  gint64     output_size[3];
};

G_DEFINE_FINAL_TYPE (MactAdaptiveAvgPool, mact_adaptive_avg_pool, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_DIMS,
  PROP_OUTPUT_SIZE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static const char *
adaptive_avg_pool_name (gint dims)
{
  return dims == 2 ? "AdaptiveAvgPool2d" : dims == 3 ? "AdaptiveAvgPool3d"
                                                     : "AdaptiveAvgPool";
}

static void
mact_adaptive_avg_pool_set_property (GObject *object, guint prop_id, const GValue *value,
                                     GParamSpec *pspec)
{
  MactAdaptiveAvgPool *self = MACT_ADAPTIVE_AVG_POOL (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      self->dims = g_value_get_int (value);
      break;
    case PROP_OUTPUT_SIZE:
      g_clear_pointer (&self->output_size_v, g_variant_unref);
      self->output_size_v = g_value_dup_variant (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_adaptive_avg_pool_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  MactAdaptiveAvgPool *self = MACT_ADAPTIVE_AVG_POOL (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      g_value_set_int (value, self->dims);
      break;
    case PROP_OUTPUT_SIZE:
      g_value_set_variant (value, self->output_size_v);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_adaptive_avg_pool_build (MactModule *module, GError **error)
{
  MactAdaptiveAvgPool *self = MACT_ADAPTIVE_AVG_POOL (module);

  if (!MACT_MODULE_CLASS (mact_adaptive_avg_pool_parent_class)->build (module, error))
    return FALSE;

  const char *block = adaptive_avg_pool_name (self->dims);
  if (self->dims != 2 && self->dims != 3)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: dims must be 2 or 3 (got %d)", block, self->dims);
      return FALSE;
    }
  const guint n = (guint) self->dims;
  gint size[3];
  if (!mact_nn_tuple_or_default (self->output_size_v, n, 1, size, block, "output_size",
                                 error) ||
      !mact_nn_check_min (size, n, 1, block, "output_size", error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    self->output_size[i] = size[i];
  return TRUE;
}

static GPtrArray *
mact_adaptive_avg_pool_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactAdaptiveAvgPool *self = MACT_ADAPTIVE_AVG_POOL (module);
  const char *block = adaptive_avg_pool_name (self->dims);

  MactTensor *input = mact_nn_single_input (inputs, block, error);
  if (input == NULL ||
      !mact_nn_check_input (input, self->dims + 1, self->dims + 2, 0, -1, NULL, block,
                            error))
    return NULL;

  MactTensor *output = self->dims == 2
                         ? mact_adaptive_avg_pool2d (input, self->output_size, error)
                         : mact_adaptive_avg_pool3d (input, self->output_size, error);
  if (output == NULL)
    g_prefix_error (error, "%s: ", block);
  return mact_nn_output (output);
}

static void
mact_adaptive_avg_pool_finalize (GObject *object)
{
  MactAdaptiveAvgPool *self = MACT_ADAPTIVE_AVG_POOL (object);
  g_clear_pointer (&self->output_size_v, g_variant_unref);
  G_OBJECT_CLASS (mact_adaptive_avg_pool_parent_class)->finalize (object);
}

static void
mact_adaptive_avg_pool_class_init (MactAdaptiveAvgPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_STATIC_STRINGS;
  const gint64 one = 1;

  object_class->set_property = mact_adaptive_avg_pool_set_property;
  object_class->get_property = mact_adaptive_avg_pool_get_property;
  object_class->finalize = mact_adaptive_avg_pool_finalize;
  module_class->build = mact_adaptive_avg_pool_build;
  module_class->forward = mact_adaptive_avg_pool_forward;

  /**
   * MactAdaptiveAvgPool:dims:
   *
   * The number of spatial dimensions: 2 or 3.
   */
  properties[PROP_DIMS] =
    g_param_spec_int ("dims", NULL, NULL, G_MININT, G_MAXINT, 2, flags);
  /**
   * MactAdaptiveAvgPool:output-size:
   *
   * The output's spatial size, an int tuple (`ax`) of 1 or dims positive values.
   */
  properties[PROP_OUTPUT_SIZE] =
    g_param_spec_variant ("output-size", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &one), flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_adaptive_avg_pool_init (MactAdaptiveAvgPool *self)
{
}

/**
 * mact_adaptive_avg_pool_new:
 * @dims: 2 or 3
 * @output_size: (array length=dims) (nullable): the output's spatial size, or %NULL for
 *   1 in every dimension
 * @error: return location for a #GError, or %NULL
 *
 * Creates an adaptive average pooling layer (see #MactAdaptiveAvgPool).
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT when dims is not 2 or 3 or an output size
 * is not a positive int.
 *
 * Returns: (transfer full) (nullable): the layer, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_adaptive_avg_pool_new (gint dims, const gint64 *output_size, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  MactNNProps props = { 0 };
  mact_nn_props_add_int (&props, "dims", dims);
  if (dims == 2 || dims == 3)
    mact_nn_props_add_int64s (&props, "output-size", dims, output_size);
  return mact_nn_props_build (&props, MACT_TYPE_ADAPTIVE_AVG_POOL, error);
}
