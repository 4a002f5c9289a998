/* mact-native-mobilenet-v2.c: mmaction2's MobileNetV2 backbone
 * (mmaction/models/backbones/mobilenet_v2.py), registered as "MobileNetV2" in the native
 * family (mmcls's is "cls.MobileNetV2").
 *
 * The module tree mirrors mmaction2's, so the state-dict keys are the same: conv1 (a 3x3/2
 * ConvModule to make_divisible(32 * widen_factor, 8) channels), layer1 .. layer7
 * (Sequentials of InvertedResidual blocks, arch_settings
 * [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
 * [6, 160, 3, 2], [6, 320, 1, 1]] as expand ratio, channels, blocks, stride) and conv2
 * (a 1x1 ConvModule to 1280 channels, int(1280 * widen_factor) when widen_factor > 1).
 * out_indices count layer1 .. layer7 as 0 .. 6 and conv2 as 7; one index gives a tensor,
 * several a tuple in order.
 *
 * Differences from mmaction2, all documented on the properties:
 * - `pretrained` is accepted, but init_weights() with a non-null value fails with
 *   MACT_MODULE_ERROR_NOT_IMPLEMENTED (mmaction2 loads e.g. 'mmcls://mobilenet_v2' by URL;
 *   mact downloads nothing): load a converted checkpoint into the state dict instead.
 * - `with_cp` is accepted and has no effect (a GPU memory trade-off).
 * - conv_cfg, norm_cfg and act_cfg accept only Conv, BN/BN2d (with requires_grad) and
 *   ReLU6/ReLU; anything else is an error at build time.  A config's null means the
 *   default here (mmaction2's act_cfg=None, a network without activations, is not
 *   supported). */
#include "mact-native-mobilenet-v2.h"
#include "mact-native-inverted-residual.h"
#include "mact-native-layers.h"

#include <math.h>

#define MOBILENET_V2_LAYERS 7
/* layer1 .. layer7 and conv2. */
#define MOBILENET_V2_STAGES (MOBILENET_V2_LAYERS + 1)

typedef struct {
  /* properties */
  gchar      *pretrained;
  double      widen_factor;
  GVariant   *out_indices;
  gint        frozen_stages;
  JsonNode   *conv_cfg;
  JsonNode   *norm_cfg;
  JsonNode   *act_cfg;
  gboolean    norm_eval;
  gboolean    with_cp;

  /* built */
  gboolean    built;
  gboolean    out_mask[MOBILENET_V2_STAGES];
  MactModule *conv1;   /* borrowed: the children table holds it */
} MactNativeMobileNetV2Private;

G_DEFINE_TYPE_WITH_PRIVATE (MactNativeMobileNetV2, mact_native_mobilenet_v2, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_PRETRAINED,
  PROP_WIDEN_FACTOR,
  PROP_OUT_INDICES,
  PROP_FROZEN_STAGES,
  PROP_CONV_CFG,
  PROP_NORM_CFG,
  PROP_ACT_CFG,
  PROP_NORM_EVAL,
  PROP_WITH_CP,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* mmaction2's arch_settings: expand ratio, channels, blocks, stride. */
static const gint arch_settings[MOBILENET_V2_LAYERS][4] = {
  { 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
  { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
};

static void
mact_native_mobilenet_v2_set_property (GObject *object, guint prop_id, const GValue *value,
                                       GParamSpec *pspec)
{
  MactNativeMobileNetV2Private *priv =
    mact_native_mobilenet_v2_get_instance_private (MACT_NATIVE_MOBILENET_V2 (object));

  switch (prop_id)
    {
    case PROP_PRETRAINED:
      g_free (priv->pretrained);
      priv->pretrained = g_value_dup_string (value);
      break;
    case PROP_WIDEN_FACTOR:
      priv->widen_factor = g_value_get_double (value);
      break;
    case PROP_OUT_INDICES:
      mact_native_replace_variant (&priv->out_indices, value);
      break;
    case PROP_FROZEN_STAGES:
      priv->frozen_stages = g_value_get_int (value);
      break;
    case PROP_CONV_CFG:
      mact_native_replace_json (&priv->conv_cfg, value);
      break;
    case PROP_NORM_CFG:
      mact_native_replace_json (&priv->norm_cfg, value);
      break;
    case PROP_ACT_CFG:
      mact_native_replace_json (&priv->act_cfg, value);
      break;
    case PROP_NORM_EVAL:
      priv->norm_eval = g_value_get_boolean (value);
      break;
    case PROP_WITH_CP:
      priv->with_cp = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_mobilenet_v2_get_property (GObject *object, guint prop_id, GValue *value,
                                       GParamSpec *pspec)
{
  MactNativeMobileNetV2Private *priv =
    mact_native_mobilenet_v2_get_instance_private (MACT_NATIVE_MOBILENET_V2 (object));

  switch (prop_id)
    {
    case PROP_PRETRAINED:
      g_value_set_string (value, priv->pretrained);
      break;
    case PROP_WIDEN_FACTOR:
      g_value_set_double (value, priv->widen_factor);
      break;
    case PROP_OUT_INDICES:
      g_value_set_variant (value, priv->out_indices);
      break;
    case PROP_FROZEN_STAGES:
      g_value_set_int (value, priv->frozen_stages);
      break;
    case PROP_CONV_CFG:
      g_value_set_boxed (value, priv->conv_cfg);
      break;
    case PROP_NORM_CFG:
      g_value_set_boxed (value, priv->norm_cfg);
      break;
    case PROP_ACT_CFG:
      g_value_set_boxed (value, priv->act_cfg);
      break;
    case PROP_NORM_EVAL:
      g_value_set_boolean (value, priv->norm_eval);
      break;
    case PROP_WITH_CP:
      g_value_set_boolean (value, priv->with_cp);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
               "MobileNetV2: %s", message);
  return FALSE;
}

/* mmaction2's make_divisible(value, 8): the nearest multiple of 8 (at least 8), raised by
 * 8 when rounding lost more than 10%. */
static gint
make_divisible (double value)
{
  const gint divisor = 8;
  gint rounded = MAX (divisor, (gint) floor (value + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * value)
    rounded += divisor;
  return rounded;
}

/* The module of stage @i (layer1 .. layer7, conv2), looked up by name at each use as
 * mmaction2's getattr(self, layer_name) does. */
static MactModule *
stage_module (MactModule *module, gint i)
{
  char name[16];
  if (i == MOBILENET_V2_LAYERS)
    return mact_module_get_child (module, "conv2");
  g_snprintf (name, sizeof name, "layer%d", i + 1);
  return mact_module_get_child (module, name);
}

static gboolean
mact_native_mobilenet_v2_build (MactModule *module, GError **error)
{
  MactNativeMobileNetV2 *self = MACT_NATIVE_MOBILENET_V2 (module);
  MactNativeMobileNetV2Private *priv = mact_native_mobilenet_v2_get_instance_private (self);
  static const char *const conv_types[] = { "Conv", "Conv2d", NULL };
  static const char *const norm_types[] = { "BN", "BN2d", "SyncBN", NULL };
  MactNativeLayerCfg cfg;
  MactActivationKind act;

  if (!MACT_MODULE_CLASS (mact_native_mobilenet_v2_parent_class)->build (module, error))
    return FALSE;

  if (!(priv->widen_factor > 0.0 && isfinite (priv->widen_factor)))
    return invalid (error, "widen_factor must be positive, got %g", priv->widen_factor);
  gsize n_out = priv->out_indices != NULL ? g_variant_n_children (priv->out_indices) : 0;
  if (n_out == 0)
    return invalid (error, "out_indices must name at least one stage");
  for (gsize i = 0; i < n_out; i++)
    {
      gint64 index;
      g_variant_get_child (priv->out_indices, i, "x", &index);
      if (index < 0 || index >= MOBILENET_V2_STAGES)
        return invalid (error, "the item in out_indices must be in range(0, 8), got %"
                        G_GINT64_FORMAT, index);
      priv->out_mask[index] = TRUE;
    }
  if (priv->frozen_stages < -1 || priv->frozen_stages > MOBILENET_V2_STAGES)
    return invalid (error, "frozen_stages must be in range(-1, 9), got %d",
                    priv->frozen_stages);
  if (!mact_native_parse_conv_cfg (priv->conv_cfg, "MobileNetV2", conv_types, error) ||
      !mact_native_parse_norm_cfg (priv->norm_cfg, "MobileNetV2", norm_types, TRUE, &cfg,
                                   error) ||
      !mact_native_parse_act_kind (priv->act_cfg, "MobileNetV2", MACT_ACTIVATION_RELU6, &cfg,
                                   &act, error))
    return FALSE;

  gint in_channels = make_divisible (32.0 * priv->widen_factor);
  g_autoptr(MactModule) conv1 = mact_native_conv_module_act_new (3, in_channels, 3, 2, 1, 1,
                                                                 &cfg, act, TRUE, error);
  if (conv1 == NULL)
    return FALSE;
  mact_module_add_child (module, "conv1", conv1);
  priv->conv1 = conv1;

  for (gint i = 0; i < MOBILENET_V2_LAYERS; i++)
    {
      const gint expand_ratio = arch_settings[i][0], blocks = arch_settings[i][2];
      const gint out_channels = make_divisible (arch_settings[i][1] * priv->widen_factor);
      g_autoptr(MactModule) layer = mact_sequential_new ();
      for (gint b = 0; b < blocks; b++)
        {
          g_autoptr(MactModule) block =
            mact_native_inverted_residual_new (in_channels, out_channels,
                                               b == 0 ? arch_settings[i][3] : 1, expand_ratio,
                                               &cfg, act, error);
          if (block == NULL)
            return FALSE;
          mact_sequential_append (MACT_SEQUENTIAL (layer), block);
          in_channels = out_channels;
        }
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, name, layer);
    }
  const gint out_channel = priv->widen_factor > 1.0 ? (gint) (1280 * priv->widen_factor)
                                                    : 1280;
  g_autoptr(MactModule) conv2 = mact_native_conv_module_act_new (in_channels, out_channel, 1, 1,
                                                                 0, 1, &cfg, act, TRUE, error);
  if (conv2 == NULL)
    return FALSE;
  mact_module_add_child (module, "conv2", conv2);
  priv->built = TRUE;

  /* Apply frozen_stages / norm_eval for the current mode now, as mmaction2's train(). */
  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

static GPtrArray *
mact_native_mobilenet_v2_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeMobileNetV2Private *priv =
    mact_native_mobilenet_v2_get_instance_private (MACT_NATIVE_MOBILENET_V2 (module));

  if (!mact_native_check_single_input (inputs, "MobileNetV2", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (x) != 4 || mact_tensor_get_size (x, 1) != 3)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "MobileNetV2: expected input [N, 3, H, W], got %s", shape);
      return NULL;
    }

  g_autoptr(MactTensor) out = mact_module_forward1 (priv->conv1, x, error);
  if (out == NULL)
    return NULL;
  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (gint i = 0; i < MOBILENET_V2_STAGES; i++)
    {
      MactTensor *next = mact_module_forward1 (stage_module (module, i), out, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (out);
      out = next;
      if (priv->out_mask[i])
        g_ptr_array_add (outs, mact_tensor_ref (out));
    }
  return g_steal_pointer (&outs);
}

static void
mact_native_mobilenet_v2_set_training (MactModule *module, gboolean training)
{
  MactNativeMobileNetV2Private *priv =
    mact_native_mobilenet_v2_get_instance_private (MACT_NATIVE_MOBILENET_V2 (module));

  MACT_MODULE_CLASS (mact_native_mobilenet_v2_parent_class)->set_training (module, training);
  if (!priv->built)
    return;

  /* _freeze_stages: conv1, then the first frozen_stages of layer1 .. layer7, conv2 stay
   * in eval mode and are not trained. */
  if (priv->frozen_stages >= 0)
    {
      mact_module_eval (priv->conv1);
      mact_native_set_requires_grad (priv->conv1, FALSE);
    }
  for (gint i = 0; i < priv->frozen_stages; i++)
    {
      MactModule *stage = stage_module (module, i);
      mact_module_eval (stage);
      mact_native_set_requires_grad (stage, FALSE);
    }
  if (training && priv->norm_eval)
    mact_native_eval_batch_norms (module);
}

typedef struct {
  MactGenerator *generator;
  GError        *error;
} InitState;

static void
init_visit (MactModule *module, gpointer user_data)
{
  InitState *state = user_data;
  if (state->error != NULL)
    return;
  if (MACT_IS_CONV (module))
    mact_native_kaiming_init (mact_module_get_parameter (module, "weight"),
                              mact_module_get_parameter (module, "bias"),
                              state->generator, &state->error);
  else if (MACT_IS_BATCH_NORM (module))
    mact_native_constant_init (mact_module_get_parameter (module, "weight"),
                               mact_module_get_parameter (module, "bias"), 1.0f);
}

static gboolean
mact_native_mobilenet_v2_init_weights (MactModule *module, MactGenerator *generator,
                                       GError **error)
{
  MactNativeMobileNetV2Private *priv =
    mact_native_mobilenet_v2_get_instance_private (MACT_NATIVE_MOBILENET_V2 (module));

  if (priv->pretrained != NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "MobileNetV2: pretrained='%s': mact does not download or convert "
                   "checkpoints here; load a converted checkpoint into the state dict "
                   "instead", priv->pretrained);
      return FALSE;
    }
  /* pretrained=None: kaiming for convs, constant 1/0 for batch norms, in module order. */
  InitState state = { generator ? generator : mact_generator_get_default (), NULL };
  mact_native_foreach_module (module, init_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, "MobileNetV2: init_weights: ");
      return FALSE;
    }
  return TRUE;
}

static void
mact_native_mobilenet_v2_finalize (GObject *object)
{
  MactNativeMobileNetV2Private *priv =
    mact_native_mobilenet_v2_get_instance_private (MACT_NATIVE_MOBILENET_V2 (object));

  g_free (priv->pretrained);
  g_clear_pointer (&priv->out_indices, g_variant_unref);
  mact_native_clear_json (&priv->conv_cfg);
  mact_native_clear_json (&priv->norm_cfg);
  mact_native_clear_json (&priv->act_cfg);
  G_OBJECT_CLASS (mact_native_mobilenet_v2_parent_class)->finalize (object);
}

static void
mact_native_mobilenet_v2_class_init (MactNativeMobileNetV2Class *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  static const gint64 default_out_indices[] = { 7 };

  object_class->set_property = mact_native_mobilenet_v2_set_property;
  object_class->get_property = mact_native_mobilenet_v2_get_property;
  object_class->finalize = mact_native_mobilenet_v2_finalize;
  module_class->build = mact_native_mobilenet_v2_build;
  module_class->forward = mact_native_mobilenet_v2_forward;
  module_class->init_weights = mact_native_mobilenet_v2_init_weights;
  module_class->set_training = mact_native_mobilenet_v2_set_training;

  /**
   * MactNativeMobileNetV2:pretrained:
   *
   * Name of pretrained weights, or %NULL.  Accepted, but init_weights() fails with
   * %MACT_MODULE_ERROR_NOT_IMPLEMENTED while it is set.
   */
  properties[PROP_PRETRAINED] =
    g_param_spec_string ("pretrained", NULL, NULL, NULL, flags);
  /**
   * MactNativeMobileNetV2:widen-factor:
   *
   * Width multiplier of every layer (channels rounded by make_divisible to multiples of 8).
   */
  properties[PROP_WIDEN_FACTOR] =
    g_param_spec_double ("widen-factor", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0, flags);
  /**
   * MactNativeMobileNetV2:out-indices:
   *
   * The stages whose outputs forward returns ("ax", default (7,)): 0 .. 6 are layer1 ..
   * layer7, 7 is conv2.
   */
  properties[PROP_OUT_INDICES] =
    g_param_spec_variant ("out-indices", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, default_out_indices), flags);
  /**
   * MactNativeMobileNetV2:frozen-stages:
   *
   * -1 freezes nothing; k >= 0 freezes conv1 and the first k stages (conv2 is stage 8).
   */
  properties[PROP_FROZEN_STAGES] =
    g_param_spec_int ("frozen-stages", NULL, NULL, G_MININT, G_MAXINT, -1, flags);
  /**
   * MactNativeMobileNetV2:conv-cfg:
   *
   * mmcv's conv_cfg: %NULL or `{type: 'Conv'}`.
   */
  properties[PROP_CONV_CFG] =
    g_param_spec_boxed ("conv-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeMobileNetV2:norm-cfg:
   *
   * mmcv's norm_cfg: %NULL (BN2d) or `{type: 'BN2d' | 'BN', requires_grad: bool}`.
   */
  properties[PROP_NORM_CFG] =
    g_param_spec_boxed ("norm-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeMobileNetV2:act-cfg:
   *
   * mmcv's act_cfg: %NULL (ReLU6) or `{type: 'ReLU6' | 'ReLU', inplace: bool}`.
   */
  properties[PROP_ACT_CFG] =
    g_param_spec_boxed ("act-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeMobileNetV2:norm-eval:
   *
   * Keep every batch norm in eval mode in training mode.
   */
  properties[PROP_NORM_EVAL] =
    g_param_spec_boolean ("norm-eval", NULL, NULL, FALSE, flags);
  /**
   * MactNativeMobileNetV2:with-cp:
   *
   * Activation checkpointing: accepted and without effect.
   */
  properties[PROP_WITH_CP] =
    g_param_spec_boolean ("with-cp", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_mobilenet_v2_init (MactNativeMobileNetV2 *self)
{
}
