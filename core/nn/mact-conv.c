/* mact-conv.c: MactConv, PyTorch's nn.Conv2d and nn.Conv3d. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactConv:
 *
 * A 2-D or 3-D convolution layer (PyTorch's `nn.Conv2d` / `nn.Conv3d`), with parameters
 * `weight` [out_channels, in_channels / groups, *kernel_size] and, unless the bias
 * property is %FALSE, `bias` [out_channels].  Both start as PyTorch's do: kaiming_uniform
 * with a = sqrt(5) for the weight (within +-1/sqrt(fan_in)), U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) for the bias, from the default generator.
 *
 * Since: 0.1
 */
struct _MactConv
{
  MactModule parent_instance;

  gint       dims;
  gint       in_channels;
  gint       out_channels;
  GVariant  *kernel_size_v;
  GVariant  *stride_v;
  GVariant  *padding_v;
  GVariant  *dilation_v;
  gint       groups;
  gboolean   bias;

  /* resolved by build */
  gint       kernel_size[3];
  gint       stride[3];
  gint       padding[3];
  gint       dilation[3];
};

G_DEFINE_FINAL_TYPE (MactConv, mact_conv, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_DIMS,
  PROP_IN_CHANNELS,
  PROP_OUT_CHANNELS,
  PROP_KERNEL_SIZE,
  PROP_STRIDE,
  PROP_PADDING,
  PROP_DILATION,
  PROP_GROUPS,
  PROP_BIAS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static const char *
conv_name (gint dims)
{
  return dims == 2 ? "Conv2d" : dims == 3 ? "Conv3d" : "Conv";
}

static void
replace_variant (GVariant **slot, const GValue *value)
{
  g_clear_pointer (slot, g_variant_unref);
  *slot = g_value_dup_variant (value);
}

static void
mact_conv_set_property (GObject *object, guint prop_id, const GValue *value,
                        GParamSpec *pspec)
{
  MactConv *self = MACT_CONV (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      self->dims = g_value_get_int (value);
      break;
    case PROP_IN_CHANNELS:
      self->in_channels = g_value_get_int (value);
      break;
    case PROP_OUT_CHANNELS:
      self->out_channels = g_value_get_int (value);
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
    case PROP_GROUPS:
      self->groups = g_value_get_int (value);
      break;
    case PROP_BIAS:
      self->bias = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_conv_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactConv *self = MACT_CONV (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      g_value_set_int (value, self->dims);
      break;
    case PROP_IN_CHANNELS:
      g_value_set_int (value, self->in_channels);
      break;
    case PROP_OUT_CHANNELS:
      g_value_set_int (value, self->out_channels);
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
    case PROP_GROUPS:
      g_value_set_int (value, self->groups);
      break;
    case PROP_BIAS:
      g_value_set_boolean (value, self->bias);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
check_positive (gint value, const char *block, const char *arg, GError **error)
{
  if (value > 0)
    return TRUE;
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
               "%s: %s must be a positive integer (got %d)", block, arg, value);
  return FALSE;
}

static gboolean
mact_conv_build (MactModule *module, GError **error)
{
  MactConv *self = MACT_CONV (module);

  if (!MACT_MODULE_CLASS (mact_conv_parent_class)->build (module, error))
    return FALSE;

  const char *block = conv_name (self->dims);
  if (self->dims != 2 && self->dims != 3)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: dims must be 2 or 3 (got %d)", block, self->dims);
      return FALSE;
    }
  const guint n = (guint) self->dims;

  if (!check_positive (self->in_channels, block, "in_channels", error) ||
      !check_positive (self->out_channels, block, "out_channels", error) ||
      !check_positive (self->groups, block, "groups", error))
    return FALSE;
  if (self->in_channels % self->groups != 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: in_channels must be divisible by groups (got %d and %d)", block,
                   self->in_channels, self->groups);
      return FALSE;
    }
  if (self->out_channels % self->groups != 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: out_channels must be divisible by groups (got %d and %d)", block,
                   self->out_channels, self->groups);
      return FALSE;
    }
  if (self->kernel_size_v == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: kernel_size is required", block);
      return FALSE;
    }
  if (!mact_nn_tuple_or_default (self->kernel_size_v, n, 1, self->kernel_size, block,
                                 "kernel_size", error) ||
      !mact_nn_tuple_or_default (self->stride_v, n, 1, self->stride, block, "stride",
                                 error) ||
      !mact_nn_tuple_or_default (self->padding_v, n, 0, self->padding, block, "padding",
                                 error) ||
      !mact_nn_tuple_or_default (self->dilation_v, n, 1, self->dilation, block,
                                 "dilation", error))
    return FALSE;
  if (!mact_nn_check_min (self->kernel_size, n, 1, block, "kernel_size", error) ||
      !mact_nn_check_min (self->stride, n, 1, block, "stride", error) ||
      !mact_nn_check_min (self->padding, n, 0, block, "padding", error) ||
      !mact_nn_check_min (self->dilation, n, 1, block, "dilation", error))
    return FALSE;

  gint64 shape[2 + 3] = { self->out_channels, self->in_channels / self->groups };
  for (guint i = 0; i < n; i++)
    shape[2 + i] = self->kernel_size[i];
  g_autoptr(MactTensor) weight = mact_nn_new_tensor (2 + n, shape, 0.0f, block, "weight",
                                                     error);
  if (weight == NULL)
    return FALSE;
  g_autoptr(MactTensor) bias = NULL;
  if (self->bias)
    {
      const gint64 bias_shape[1] = { self->out_channels };
      bias = mact_nn_new_tensor (1, bias_shape, 0.0f, block, "bias", error);
      if (bias == NULL)
        return FALSE;
    }
  if (!mact_nn_reset_weight_bias (weight, bias, NULL, error))
    return FALSE;

  mact_module_register_parameter (module, "weight", weight);
  /* Registered even when absent, as PyTorch's register_parameter('bias', None). */
  mact_module_register_parameter (module, "bias", bias);
  return TRUE;
}

static GPtrArray *
mact_conv_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactConv *self = MACT_CONV (module);
  const char *block = conv_name (self->dims);

  MactTensor *input = mact_nn_single_input (inputs, block, error);
  if (input == NULL ||
      !mact_nn_check_input (input, self->dims + 2, self->dims + 2, 1, self->in_channels,
                            "in_channels", block, error))
    return NULL;

  /* Looked up each time: mact_module_set_parameter() may have replaced them. */
  MactTensor *weight = mact_module_get_parameter (module, "weight");
  MactTensor *bias = mact_module_get_parameter (module, "bias");
  MactTensor *output =
    self->dims == 2
      ? mact_conv2d (input, weight, bias, self->stride, self->padding, self->dilation,
                     self->groups, error)
      : mact_conv3d (input, weight, bias, self->stride, self->padding, self->dilation,
                     self->groups, error);
  if (output == NULL)
    g_prefix_error (error, "%s: ", block);
  return mact_nn_output (output);
}

static void
mact_conv_finalize (GObject *object)
{
  MactConv *self = MACT_CONV (object);
  g_clear_pointer (&self->kernel_size_v, g_variant_unref);
  g_clear_pointer (&self->stride_v, g_variant_unref);
  g_clear_pointer (&self->padding_v, g_variant_unref);
  g_clear_pointer (&self->dilation_v, g_variant_unref);
  G_OBJECT_CLASS (mact_conv_parent_class)->finalize (object);
}

static void
mact_conv_class_init (MactConvClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_conv_set_property;
  object_class->get_property = mact_conv_get_property;
  object_class->finalize = mact_conv_finalize;
  module_class->build = mact_conv_build;
  module_class->forward = mact_conv_forward;

  /**
   * MactConv:dims:
   *
   * The number of spatial dimensions: 2 (Conv2d) or 3 (Conv3d).
   */
  properties[PROP_DIMS] =
    g_param_spec_int ("dims", NULL, NULL, G_MININT, G_MAXINT, 2, flags);
  /**
   * MactConv:in-channels:
   *
   * The number of input channels (required).
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_int ("in-channels", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactConv:out-channels:
   *
   * The number of output channels (required).
   */
  properties[PROP_OUT_CHANNELS] =
    g_param_spec_int ("out-channels", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactConv:kernel-size:
   *
   * The kernel size, an int tuple (`ax`) of 1 or dims values (required).
   */
  properties[PROP_KERNEL_SIZE] =
    g_param_spec_variant ("kernel-size", NULL, NULL, G_VARIANT_TYPE ("ax"), NULL,
                          flags | MACT_PARAM_REQUIRED);
  /**
   * MactConv:stride:
   *
   * The stride, an int tuple of 1 or dims values.
   */
  const gint64 one = 1, zero = 0;
  properties[PROP_STRIDE] =
    g_param_spec_variant ("stride", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &one), flags);
  /**
   * MactConv:padding:
   *
   * The zero padding on both sides, an int tuple of 1 or dims values.
   */
  properties[PROP_PADDING] =
    g_param_spec_variant ("padding", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &zero), flags);
  /**
   * MactConv:dilation:
   *
   * The spacing between kernel taps, an int tuple of 1 or dims values.
   */
  properties[PROP_DILATION] =
    g_param_spec_variant ("dilation", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &one), flags);
  /**
   * MactConv:groups:
   *
   * The number of channel groups; must divide in-channels and out-channels.
   */
  properties[PROP_GROUPS] =
    g_param_spec_int ("groups", NULL, NULL, G_MININT, G_MAXINT, 1, flags);
  /**
   * MactConv:bias:
   *
   * Whether the layer has a bias.
   */
  properties[PROP_BIAS] =
    g_param_spec_boolean ("bias", NULL, NULL, TRUE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_conv_init (MactConv *self)
{
}

/**
 * mact_conv_new:
 * @dims: 2 for Conv2d, 3 for Conv3d
 * @in_channels: the number of input channels
 * @out_channels: the number of output channels
 * @kernel_size: (array length=dims): the kernel size
 * @stride: (array length=dims) (nullable): the stride, or %NULL for 1
 * @padding: (array length=dims) (nullable): the zero padding, or %NULL for 0
 * @dilation: (array length=dims) (nullable): the dilation, or %NULL for 1
 * @groups: the number of channel groups
 * @bias: whether the layer has a bias
 * @error: return location for a #GError, or %NULL
 *
 * Creates a convolution layer (see #MactConv).
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT naming the layer and the argument: dims not
 * 2 or 3, a channel count or groups not positive, channels not divisible by groups, a
 * kernel size, stride or dilation not positive, a padding negative.
 *
 * Returns: (transfer full) (nullable): the layer, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_conv_new (gint dims, gint in_channels, gint out_channels, const gint *kernel_size,
               const gint *stride, const gint *padding, const gint *dilation, gint groups,
               gboolean bias, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  MactNNProps props = { 0 };
  mact_nn_props_add_int (&props, "dims", dims);
  mact_nn_props_add_int (&props, "in-channels", in_channels);
  mact_nn_props_add_int (&props, "out-channels", out_channels);
  /* The arrays have dims entries, which are only known to be readable for valid dims;
   * build() reports the bad dims. */
  if (dims == 2 || dims == 3)
    {
      mact_nn_props_add_ints (&props, "kernel-size", dims, kernel_size);
      mact_nn_props_add_ints (&props, "stride", dims, stride);
      mact_nn_props_add_ints (&props, "padding", dims, padding);
      mact_nn_props_add_ints (&props, "dilation", dims, dilation);
    }
  mact_nn_props_add_int (&props, "groups", groups);
  mact_nn_props_add_boolean (&props, "bias", bias);
  return mact_nn_props_build (&props, MACT_TYPE_CONV, error);
}
