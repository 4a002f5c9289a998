/* mact-max-pool.c: MactMaxPool, PyTorch's nn.MaxPool2d and nn.MaxPool3d. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactMaxPool:
 *
 * 2-D or 3-D max pooling (PyTorch's `nn.MaxPool2d` / `nn.MaxPool3d`) over inputs
 * `[N, C, *spatial]` or `[C, *spatial]`.  No parameters.
 *
 * Since: 0.1
 */
struct _MactMaxPool
{
  MactModule parent_instance;

  gint       dims;
  GVariant  *kernel_size_v;
  GVariant  *stride_v;
  GVariant  *padding_v;
  GVariant  *dilation_v;
  gboolean   ceil_mode;

  /* resolved by build */
  gint       kernel_size[3];
  gint       stride[3];
  gint       padding[3];
  gint       dilation[3];
};

G_DEFINE_FINAL_TYPE (MactMaxPool, mact_max_pool, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_DIMS,
  PROP_KERNEL_SIZE,
  PROP_STRIDE,
  PROP_PADDING,
  PROP_DILATION,
  PROP_CEIL_MODE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static const char *
max_pool_name (gint dims)
{
  return dims == 2 ? "MaxPool2d" : dims == 3 ? "MaxPool3d" : "MaxPool";
}

static void
replace_variant (GVariant **slot, const GValue *value)
{
  g_clear_pointer (slot, g_variant_unref);
  *slot = g_value_dup_variant (value);
}

static void
mact_max_pool_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  MactMaxPool *self = MACT_MAX_POOL (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      self->dims = g_value_get_int (value);
      break;
    case PROP_KERNEL_SIZE:
      replace_variant (&self->kernel_size_v, value);
      break;
    case PROP_STRIDE:
      replace_variant (&self->stride_v, value);
      break;
    case PROP_PADDING:
      replace_variant (&self->padding_v, value);
      break;
    case PROP_DILATION:
      replace_variant (&self->dilation_v, value);
      break;
    case PROP_CEIL_MODE:
      self->ceil_mode = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_max_pool_get_property (GObject *object, guint prop_id, GValue *value,
                            GParamSpec *pspec)
{
  MactMaxPool *self = MACT_MAX_POOL (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      g_value_set_int (value, self->dims);
      break;
    case PROP_KERNEL_SIZE:
      g_value_set_variant (value, self->kernel_size_v);
      break;
    case PROP_STRIDE:
      g_value_set_variant (value, self->stride_v);
      break;
    case PROP_PADDING:
      g_value_set_variant (value, self->padding_v);
      break;
    case PROP_DILATION:
      g_value_set_variant (value, self->dilation_v);
      break;
    case PROP_CEIL_MODE:
      g_value_set_boolean (value, self->ceil_mode);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_max_pool_build (MactModule *module, GError **error)
{
  MactMaxPool *self = MACT_MAX_POOL (module);

  if (!MACT_MODULE_CLASS (mact_max_pool_parent_class)->build (module, error))
    return FALSE;

  const char *block = max_pool_name (self->dims);
  if (self->dims != 2 && self->dims != 3)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: dims must be 2 or 3 (got %d)", block, self->dims);
      return FALSE;
    }
  const guint n = (guint) self->dims;
  if (self->kernel_size_v == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: kernel_size is required", block);
      return FALSE;
    }
  if (!mact_nn_tuple_or_default (self->kernel_size_v, n, 1, self->kernel_size, block,
                                 "kernel_size", error) ||
      !mact_nn_check_min (self->kernel_size, n, 1, block, "kernel_size", error))
    return FALSE;

  /* An empty stride (PyTorch's stride=None) means the kernel size. */
  if (self->stride_v == NULL || g_variant_n_children (self->stride_v) == 0)
    memcpy (self->stride, self->kernel_size, sizeof self->stride);
  else if (!mact_nn_tuple_or_default (self->stride_v, n, 1, self->stride, block, "stride",
                                      error))
    return FALSE;

  if (!mact_nn_tuple_or_default (self->padding_v, n, 0, self->padding, block, "padding",
                                 error) ||
      !mact_nn_tuple_or_default (self->dilation_v, n, 1, self->dilation, block,
                                 "dilation", error) ||
      !mact_nn_check_min (self->stride, n, 1, block, "stride", error) ||
      !mact_nn_check_min (self->padding, n, 0, block, "padding", error) ||
      !mact_nn_check_min (self->dilation, n, 1, block, "dilation", error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (self->padding[i] > self->kernel_size[i] / 2)
      {
        g_autofree char *p = mact_nn_format_ints (self->padding, n);
        g_autofree char *k = mact_nn_format_ints (self->kernel_size, n);
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                     "%s: padding must be at most half of kernel_size (got padding %s and "
                     "kernel_size %s)", block, p, k);
        return FALSE;
      }
  return TRUE;
}

static GPtrArray *
mact_max_pool_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactMaxPool *self = MACT_MAX_POOL (module);
  const char *block = max_pool_name (self->dims);

  MactTensor *input = mact_nn_single_input (inputs, block, error);
  if (input == NULL ||
      !mact_nn_check_input (input, self->dims + 1, self->dims + 2, 0, -1, NULL, block,
                            error))
    return NULL;

  MactTensor *output =
    self->dims == 2
      ? mact_max_pool2d (input, self->kernel_size, self->stride, self->padding,
                         self->dilation, self->ceil_mode, error)
      : mact_max_pool3d (input, self->kernel_size, self->stride, self->padding,
                         self->dilation, self->ceil_mode, error);
  if (output == NULL)
    g_prefix_error (error, "%s: ", block);
  return mact_nn_output (output);
}

static void
mact_max_pool_finalize (GObject *object)
{
  MactMaxPool *self = MACT_MAX_POOL (object);
  g_clear_pointer (&self->kernel_size_v, g_variant_unref);
  g_clear_pointer (&self->stride_v, g_variant_unref);
  g_clear_pointer (&self->padding_v, g_variant_unref);
  g_clear_pointer (&self->dilation_v, g_variant_unref);
  G_OBJECT_CLASS (mact_max_pool_parent_class)->finalize (object);
}

static void
mact_max_pool_class_init (MactMaxPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_STATIC_STRINGS;
  const gint64 one = 1, zero = 0;

  object_class->set_property = mact_max_pool_set_property;
  object_class->get_property = mact_max_pool_get_property;
  object_class->finalize = mact_max_pool_finalize;
  module_class->build = mact_max_pool_build;
  module_class->forward = mact_max_pool_forward;

  /**
   * MactMaxPool:dims:
   *
   * The number of spatial dimensions: 2 or 3.
   */
  properties[PROP_DIMS] =
    g_param_spec_int ("dims", NULL, NULL, G_MININT, G_MAXINT, 2, flags);
  /**
   * MactMaxPool:kernel-size:
   *
   * The window size, an int tuple (`ax`) of 1 or dims values (required).
   */
  properties[PROP_KERNEL_SIZE] =
    g_param_spec_variant ("kernel-size", NULL, NULL, G_VARIANT_TYPE ("ax"), NULL,
                          flags | MACT_PARAM_REQUIRED);
  /**
   * MactMaxPool:stride:
   *
   * The window step, an int tuple of 1 or dims values; empty (the default) means the
   * kernel size.
   */
  properties[PROP_STRIDE] =
    g_param_spec_variant ("stride", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (0, NULL), flags);
  /**
   * MactMaxPool:padding:
   *
   * Implicit padding on both sides (never the maximum), at most half the kernel size.
   */
  properties[PROP_PADDING] =
    g_param_spec_variant ("padding", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &zero), flags);
  /**
   * MactMaxPool:dilation:
   *
   * The spacing between window taps.
   */
  properties[PROP_DILATION] =
    g_param_spec_variant ("dilation", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &one), flags);
  /**
   * MactMaxPool:ceil-mode:
   *
   * Whether output sizes round up rather than down.
   */
  properties[PROP_CEIL_MODE] =
    g_param_spec_boolean ("ceil-mode", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_max_pool_init (MactMaxPool *self)
{
}

/**
 * mact_max_pool_new:
 * @dims: 2 or 3
 * @kernel_size: (array length=dims): the window size
 * @stride: (array length=dims) (nullable): the window step, or %NULL for @kernel_size
 * @padding: (array length=dims) (nullable): the implicit padding, or %NULL for 0
 * @ceil_mode: whether output sizes round up
 * @error: return location for a #GError, or %NULL
 *
 * Creates a max pooling layer with dilation 1 (see #MactMaxPool; set its dilation
 * property through mact_module_new() for another).
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT naming the layer and the argument: dims
 * not 2 or 3, a kernel size or stride not positive, a padding negative or more than half
 * the kernel size.
 *
 * Returns: (transfer full) (nullable): the layer, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_max_pool_new (gint dims, const gint *kernel_size, const gint *stride,
                   const gint *padding, gboolean ceil_mode, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  MactNNProps props = { 0 };
  mact_nn_props_add_int (&props, "dims", dims);
  if (dims == 2 || dims == 3)
    {
      mact_nn_props_add_ints (&props, "kernel-size", dims, kernel_size);
      mact_nn_props_add_ints (&props, "stride", dims, stride);
      mact_nn_props_add_ints (&props, "padding", dims, padding);
    }
  mact_nn_props_add_boolean (&props, "ceil-mode", ceil_mode);
  return mact_nn_props_build (&props, MACT_TYPE_MAX_POOL, error);
}
