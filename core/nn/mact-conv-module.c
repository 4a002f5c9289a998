/* mact-conv-module.c: MactConvModule, mmcv's ConvModule (conv -> norm -> activation). */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactConvModule:
 *
 * The `ConvModule` of mmcv with its default order ('conv', 'norm', 'act'): a #MactConv
 * child "conv", an optional #MactBatchNorm child "bn" of the conv's dims, and an optional
 * #MactActivation child "activate".  The state-dict keys are mmcv's: `conv.weight`,
 * (`conv.bias`,) `bn.weight`, `bn.bias`, `bn.running_mean`, `bn.running_var`,
 * `bn.num_batches_tracked`.
 *
 * The conv has a bias only when no norm follows, unless the bias property says
 * otherwise.  As mmcv's constructor does, building ends with init_weights: the conv
 * weight gets kaiming_normal (fan_out, relu) and its bias zeros, the norm ones and
 * zeros.
 *
 * Forward looks the children up by name at each call, so a child replaced with
 * mact_module_replace_child() (TSM wraps "conv" in a temporal shift) is the one run.
 *
 * Since: 0.1
 */
struct _MactConvModule
{
  MactModule         parent_instance;

  gint               dims;
  gint               in_channels;
  gint               out_channels;
  GVariant          *kernel_size_v;
  GVariant          *stride_v;
  GVariant          *padding_v;
  GVariant          *dilation_v;
  gint               groups;
  MactConvBias       bias;
  gboolean           with_norm;
  double             norm_eps;
  double             norm_momentum;
  gboolean           norm_sync;
  gboolean           has_act;
  MactActivationKind act;
};

G_DEFINE_FINAL_TYPE (MactConvModule, mact_conv_module, MACT_TYPE_MODULE)

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
  PROP_WITH_NORM,
  PROP_NORM_EPS,
  PROP_NORM_MOMENTUM,
  PROP_NORM_SYNC,
  PROP_HAS_ACT,
  PROP_ACT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
replace_variant (GVariant **slot, const GValue *value)
{
  g_clear_pointer (slot, g_variant_unref);
  *slot = g_value_dup_variant (value);
}

static void
mact_conv_module_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  MactConvModule *self = MACT_CONV_MODULE (object);
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
      self->bias = g_value_get_enum (value);
      break;
    case PROP_WITH_NORM:
      self->with_norm = g_value_get_boolean (value);
      break;
    case PROP_NORM_EPS:
      self->norm_eps = g_value_get_double (value);
      break;
    case PROP_NORM_MOMENTUM:
      self->norm_momentum = g_value_get_double (value);
      break;
    case PROP_NORM_SYNC:
      self->norm_sync = g_value_get_boolean (value);
      break;
    case PROP_HAS_ACT:
      self->has_act = g_value_get_boolean (value);
      break;
    case PROP_ACT:
      self->act = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_conv_module_get_property (GObject *object, guint prop_id, GValue *value,
                               GParamSpec *pspec)
{
  MactConvModule *self = MACT_CONV_MODULE (object);
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
      g_value_set_enum (value, self->bias);
      break;
    case PROP_WITH_NORM:
      g_value_set_boolean (value, self->with_norm);
      break;
    case PROP_NORM_EPS:
      g_value_set_double (value, self->norm_eps);
      break;
    case PROP_NORM_MOMENTUM:
      g_value_set_double (value, self->norm_momentum);
      break;
    case PROP_NORM_SYNC:
      g_value_set_boolean (value, self->norm_sync);
      break;
    case PROP_HAS_ACT:
      g_value_set_boolean (value, self->has_act);
      break;
    case PROP_ACT:
      g_value_set_enum (value, self->act);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* mmcv's ConvModule.init_weights: kaiming_init(conv, a=0, mode='fan_out',
 * nonlinearity='relu', bias=0, distribution='normal') unless the conv has its own
 * init_weights, then constant_init(norm, 1, bias=0).  mmcv uses leaky_relu's gain only
 * for a LeakyReLU activation, which #MactActivationKind does not have. */
static gboolean
mact_conv_module_init_weights (MactModule *module, MactGenerator *generator,
                               GError **error)
{
  MactModule *conv = mact_module_get_child (module, "conv");
  if (MACT_IS_CONV (conv))
    {
      MactTensor *weight = mact_module_get_parameter (conv, "weight");
      MactTensor *bias = mact_module_get_parameter (conv, "bias");
      if (!mact_tensor_kaiming_normal_ (weight, generator, 0.0, MACT_FAN_OUT, "relu",
                                        error))
        return FALSE;
      if (bias != NULL)
        mact_tensor_fill (bias, 0.0f);
    }
  else if (conv != NULL && !mact_module_init_weights (conv, generator, error))
    return FALSE;

  MactModule *norm = mact_module_get_child (module, "bn");
  if (norm != NULL)
    {
      MactTensor *weight = mact_module_get_parameter (norm, "weight");
      MactTensor *bias = mact_module_get_parameter (norm, "bias");
      if (weight != NULL)
        mact_tensor_fill (weight, 1.0f);
      if (bias != NULL)
        mact_tensor_fill (bias, 0.0f);
    }
  return TRUE;
}

static gboolean
mact_conv_module_build (MactModule *module, GError **error)
{
  MactConvModule *self = MACT_CONV_MODULE (module);

  if (!MACT_MODULE_CLASS (mact_conv_module_parent_class)->build (module, error))
    return FALSE;

  gboolean conv_bias = self->bias == MACT_CONV_BIAS_AUTO ? !self->with_norm
                                                         : self->bias == MACT_CONV_BIAS_TRUE;
  /* The conv validates the arguments it shares with us; its errors name it. */
  MactNNProps props = { 0 };
  mact_nn_props_add_int (&props, "dims", self->dims);
  mact_nn_props_add_int (&props, "in-channels", self->in_channels);
  mact_nn_props_add_int (&props, "out-channels", self->out_channels);
  mact_nn_props_add_variant (&props, "kernel-size", self->kernel_size_v);
  mact_nn_props_add_variant (&props, "stride", self->stride_v);
  mact_nn_props_add_variant (&props, "padding", self->padding_v);
  mact_nn_props_add_variant (&props, "dilation", self->dilation_v);
  mact_nn_props_add_int (&props, "groups", self->groups);
  mact_nn_props_add_boolean (&props, "bias", conv_bias);
  g_autoptr(MactModule) conv = mact_nn_props_build (&props, MACT_TYPE_CONV, error);
  if (conv == NULL)
    {
      g_prefix_error (error, "ConvModule: ");
      return FALSE;
    }
  mact_module_add_child (module, "conv", conv);

  if (self->with_norm)
    {
      /* mmcv names a BatchNorm "bn" (build_norm_layer's abbreviation). */
      g_autoptr(MactModule) norm = mact_batch_norm_new (self->dims, self->out_channels,
                                                        self->norm_eps,
                                                        self->norm_momentum, TRUE, error);
      if (norm == NULL)
        {
          g_prefix_error (error, "ConvModule: ");
          return FALSE;
        }
      g_object_set (norm, "sync", self->norm_sync, NULL);
      mact_module_add_child (module, "bn", norm);
    }
  if (self->has_act)
    {
      g_autoptr(MactModule) activate = mact_activation_new (self->act);
      mact_module_add_child (module, "activate", activate);
    }

  /* mmcv's ConvModule.__init__ ends with self.init_weights(); through the public entry
   * point, so that a build whose weights a load replaces can skip it. */
  return mact_module_init_weights (module, NULL, error);
}

static GPtrArray *
mact_conv_module_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTensor *input = mact_nn_single_input (inputs, "ConvModule", error);
  if (input == NULL)
    return NULL;

  g_autoptr(MactTensor) x = mact_tensor_ref (input);
  static const char *const order[] = { "conv", "bn", "activate" };
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      MactModule *child = mact_module_get_child (module, order[i]);
      if (child == NULL)
        continue;
      MactTensor *y = mact_module_forward1 (child, x, error);
      if (y == NULL)
        return NULL;
      mact_tensor_unref (x);
      x = y;
    }
  return mact_nn_output (g_steal_pointer (&x));
}

static void
mact_conv_module_finalize (GObject *object)
{
  MactConvModule *self = MACT_CONV_MODULE (object);
  g_clear_pointer (&self->kernel_size_v, g_variant_unref);
  g_clear_pointer (&self->stride_v, g_variant_unref);
  g_clear_pointer (&self->padding_v, g_variant_unref);
  g_clear_pointer (&self->dilation_v, g_variant_unref);
  G_OBJECT_CLASS (mact_conv_module_parent_class)->finalize (object);
}

static void
mact_conv_module_class_init (MactConvModuleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_STATIC_STRINGS;
  const gint64 one = 1, zero = 0;

  object_class->set_property = mact_conv_module_set_property;
  object_class->get_property = mact_conv_module_get_property;
  object_class->finalize = mact_conv_module_finalize;
  module_class->build = mact_conv_module_build;
  module_class->forward = mact_conv_module_forward;
  module_class->init_weights = mact_conv_module_init_weights;

  /**
   * MactConvModule:dims:
   *
   * The number of spatial dimensions of the conv (and norm): 2 or 3.
   */
  properties[PROP_DIMS] =
    g_param_spec_int ("dims", NULL, NULL, G_MININT, G_MAXINT, 2, flags);
  /**
   * MactConvModule:in-channels:
   *
   * The number of input channels (required).
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_int ("in-channels", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactConvModule:out-channels:
   *
   * The number of output channels (required).
   */
  properties[PROP_OUT_CHANNELS] =
    g_param_spec_int ("out-channels", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactConvModule:kernel-size:
   *
   * The conv's kernel size, an int tuple (`ax`) of 1 or dims values (required).
   */
  properties[PROP_KERNEL_SIZE] =
    g_param_spec_variant ("kernel-size", NULL, NULL, G_VARIANT_TYPE ("ax"), NULL,
                          flags | MACT_PARAM_REQUIRED);
  /**
   * MactConvModule:stride:
   *
   * The conv's stride, an int tuple of 1 or dims values.
   */
  properties[PROP_STRIDE] =
    g_param_spec_variant ("stride", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &one), flags);
  /**
   * MactConvModule:padding:
   *
   * The conv's zero padding, an int tuple of 1 or dims values.
   */
  properties[PROP_PADDING] =
    g_param_spec_variant ("padding", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &zero), flags);
  /**
   * MactConvModule:dilation:
   *
   * The conv's dilation, an int tuple of 1 or dims values.
   */
  properties[PROP_DILATION] =
    g_param_spec_variant ("dilation", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, &one), flags);
  /**
   * MactConvModule:groups:
   *
   * The conv's number of channel groups.
   */
  properties[PROP_GROUPS] =
    g_param_spec_int ("groups", NULL, NULL, G_MININT, G_MAXINT, 1, flags);
  /**
   * MactConvModule:bias:
   *
   * Whether the conv has a bias; "auto" means only when there is no norm.
   */
  properties[PROP_BIAS] =
    g_param_spec_enum ("bias", NULL, NULL, MACT_TYPE_CONV_BIAS, MACT_CONV_BIAS_AUTO, flags);
  /**
   * MactConvModule:with-norm:
   *
   * Whether a batch norm (child "bn") follows the conv (mmcv's norm_cfg).
   */
  properties[PROP_WITH_NORM] =
    g_param_spec_boolean ("with-norm", NULL, NULL, FALSE, flags);
  /**
   * MactConvModule:norm-eps:
   *
   * The batch norm's eps.
   */
  properties[PROP_NORM_EPS] =
    g_param_spec_double ("norm-eps", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1e-5, flags);
  /**
   * MactConvModule:norm-momentum:
   *
   * The batch norm's momentum.
   */
  properties[PROP_NORM_MOMENTUM] =
    g_param_spec_double ("norm-momentum", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.1,
                         flags);
  /**
   * MactConvModule:norm-sync:
   *
   * Whether the norm is mmcv's `SyncBN` (the sync property of #MactBatchNorm) rather
   * than `BN`: the same layer and state-dict keys, with statistics shared across the
   * processes of a data-parallel job in training mode.
   *
   * Since: 0.1
   */
  properties[PROP_NORM_SYNC] =
    g_param_spec_boolean ("norm-sync", NULL, NULL, FALSE, flags);
  /**
   * MactConvModule:has-act:
   *
   * Whether an activation (child "activate") comes last (mmcv's act_cfg not None).
   */
  properties[PROP_HAS_ACT] =
    g_param_spec_boolean ("has-act", NULL, NULL, TRUE, flags);
  /**
   * MactConvModule:act:
   *
   * The activation's function.
   */
  properties[PROP_ACT] =
    g_param_spec_enum ("act", NULL, NULL, MACT_TYPE_ACTIVATION_KIND, MACT_ACTIVATION_RELU,
                       flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_conv_module_init (MactConvModule *self)
{
}

/**
 * mact_conv_module_new:
 * @dims: 2 or 3
 * @in_channels: the number of input channels
 * @out_channels: the number of output channels
 * @kernel_size: (array length=dims): the conv's kernel size
 * @stride: (array length=dims) (nullable): the conv's stride, or %NULL for 1
 * @padding: (array length=dims) (nullable): the conv's padding, or %NULL for 0
 * @dilation: (array length=dims) (nullable): the conv's dilation, or %NULL for 1
 * @groups: the conv's number of channel groups
 * @with_norm: whether a batch norm follows the conv (then the conv has no bias)
 * @has_act: whether an activation comes last
 * @act: the activation's function (ignored without @has_act)
 * @error: return location for a #GError, or %NULL
 *
 * Creates an mmcv ConvModule (see #MactConvModule) with the default norm eps and
 * momentum and bias "auto".
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT as mact_conv_new(), the message starting
 * with "ConvModule: ".
 *
 * Returns: (transfer full) (nullable): the module, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_conv_module_new (gint dims, gint in_channels, gint out_channels,
                      const gint *kernel_size, const gint *stride, const gint *padding,
                      const gint *dilation, gint groups, gboolean with_norm,
                      gboolean has_act, MactActivationKind act, GError **error)
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
  mact_nn_props_add_boolean (&props, "with-norm", with_norm);
  mact_nn_props_add_boolean (&props, "has-act", has_act);
  mact_nn_props_add_enum (&props, "act", MACT_TYPE_ACTIVATION_KIND, act);
  return mact_nn_props_build (&props, MACT_TYPE_CONV_MODULE, error);
}
