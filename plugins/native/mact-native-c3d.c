/* mact-native-c3d.c: mmaction2's C3D backbone, registered as "C3D".
 *
 * Eight 3x3x3 ConvModules (conv1a .. conv5b, with bias: C3D has no norm by default) and
 * five max pools, then flatten, fc6 (out_dim -> 4096), ReLU, dropout, fc7 (4096 -> 4096),
 * ReLU.  out_dim must equal the flattened size of pool5's output: 8192 for mmaction2's
 * [N, 3, 16, 112, 112] clips, 512 for the small [N, 3, 16, 24..31, 24..31] test clips.
 * Output [N, 4096].
 *
 * As for ResNet, `pretrained` makes init_weights() fail with NOT_IMPLEMENTED (weights
 * arrive with the model zoo), and the layer configs accept only mmaction2's choices:
 * conv_cfg Conv3d, norm_cfg None or BN3d, act_cfg ReLU (None also means ReLU, as in
 * mmaction2). */
#include "mact-native-c3d.h"
#include "mact-native-layers.h"

#include <math.h>

#define C3D_N_CONVS 8
#define C3D_N_POOLS 5

struct _MactNativeC3D
{
  MactBackbone  parent_instance;

  /* properties */
  gchar        *pretrained;
  gchar        *style;
  JsonNode     *conv_cfg;
  JsonNode     *norm_cfg;
  JsonNode     *act_cfg;
  gint          out_dim;
  double        dropout_ratio;
  double        init_std;

  /* built; borrowed from the children table */
  MactModule   *convs[C3D_N_CONVS];
  MactModule   *pools[C3D_N_POOLS];
  MactModule   *fc6;
  MactModule   *fc7;
  MactModule   *relu;
  MactModule   *dropout;
};

G_DEFINE_FINAL_TYPE (MactNativeC3D, mact_native_c3d, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_PRETRAINED,
  PROP_STYLE,
  PROP_CONV_CFG,
  PROP_NORM_CFG,
  PROP_ACT_CFG,
  PROP_OUT_DIM,
  PROP_DROPOUT_RATIO,
  PROP_INIT_STD,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* The conv stack: name, channels, and which pool (if any) follows it. */
static const struct {
  const char *name;
  gint        in_channels;
  gint        out_channels;
  gint        pool_after;   /* index into pools, or -1 */
} c3d_convs[C3D_N_CONVS] = {
  { "conv1a", 3,   64,  0 },
  { "conv2a", 64,  128, 1 },
  { "conv3a", 128, 256, -1 },
  { "conv3b", 256, 256, 2 },
  { "conv4a", 256, 512, -1 },
  { "conv4b", 512, 512, 3 },
  { "conv5a", 512, 512, -1 },
  { "conv5b", 512, 512, 4 },
};

/* pool1 keeps time (1x2x2); pool5 pads H and W by 1. */
static const struct {
  const char *name;
  gint        kernel[3];
  gint        padding[3];
} c3d_pools[C3D_N_POOLS] = {
  { "pool1", { 1, 2, 2 }, { 0, 0, 0 } },
  { "pool2", { 2, 2, 2 }, { 0, 0, 0 } },
  { "pool3", { 2, 2, 2 }, { 0, 0, 0 } },
  { "pool4", { 2, 2, 2 }, { 0, 0, 0 } },
  { "pool5", { 2, 2, 2 }, { 0, 1, 1 } },
};

static void
mact_native_c3d_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  MactNativeC3D *self = MACT_NATIVE_C3D (object);

  switch (prop_id)
    {
    case PROP_PRETRAINED:
      g_free (self->pretrained);
      self->pretrained = g_value_dup_string (value);
      break;
    case PROP_STYLE:
      g_free (self->style);
      self->style = g_value_dup_string (value);
      break;
    case PROP_CONV_CFG:
      mact_native_replace_json (&self->conv_cfg, value);
      break;
    case PROP_NORM_CFG:
      mact_native_replace_json (&self->norm_cfg, value);
      break;
    case PROP_ACT_CFG:
      mact_native_replace_json (&self->act_cfg, value);
      break;
    case PROP_OUT_DIM:
      self->out_dim = g_value_get_int (value);
      break;
    case PROP_DROPOUT_RATIO:
      self->dropout_ratio = g_value_get_double (value);
      break;
    case PROP_INIT_STD:
      self->init_std = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_c3d_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec)
{
  MactNativeC3D *self = MACT_NATIVE_C3D (object);

  switch (prop_id)
    {
    case PROP_PRETRAINED:
      g_value_set_string (value, self->pretrained);
      break;
    case PROP_STYLE:
      g_value_set_string (value, self->style);
      break;
    case PROP_CONV_CFG:
      g_value_set_boxed (value, self->conv_cfg);
      break;
    case PROP_NORM_CFG:
      g_value_set_boxed (value, self->norm_cfg);
      break;
    case PROP_ACT_CFG:
      g_value_set_boxed (value, self->act_cfg);
      break;
    case PROP_OUT_DIM:
      g_value_set_int (value, self->out_dim);
      break;
    case PROP_DROPOUT_RATIO:
      g_value_set_double (value, self->dropout_ratio);
      break;
    case PROP_INIT_STD:
      g_value_set_double (value, self->init_std);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_native_c3d_build (MactModule *module, GError **error)
{
  MactNativeC3D *self = MACT_NATIVE_C3D (module);
  static const char *const conv_types[] = { "Conv3d", NULL };
  static const char *const norm_types[] = { "BN3d", "SyncBN", NULL };
  MactNativeLayerCfg cfg;

  if (!MACT_MODULE_CLASS (mact_native_c3d_parent_class)->build (module, error))
    return FALSE;
  if (self->style == NULL ||
      !(g_str_equal (self->style, "pytorch") || g_str_equal (self->style, "caffe")))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "C3D: style must be 'pytorch' or 'caffe', got '%s'",
                   self->style ? self->style : "(null)");
      return FALSE;
    }
  if (self->out_dim < 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "C3D: out_dim must be positive, got %d", self->out_dim);
      return FALSE;
    }
  if (!(self->dropout_ratio >= 0.0 && self->dropout_ratio <= 1.0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "C3D: dropout_ratio must be in [0, 1], got %g", self->dropout_ratio);
      return FALSE;
    }
  if (!(self->init_std >= 0.0 && isfinite (self->init_std)))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "C3D: init_std must be a finite non-negative number, got %g",
                   self->init_std);
      return FALSE;
    }
  if (!mact_native_parse_conv_cfg (self->conv_cfg, "C3D", conv_types, error) ||
      !mact_native_parse_norm_cfg (self->norm_cfg, "C3D", norm_types, FALSE, &cfg, error) ||
      !mact_native_parse_act_cfg (self->act_cfg, "C3D", &cfg, error))
    return FALSE;

  for (guint i = 0; i < C3D_N_CONVS; i++)
    {
      g_autoptr(MactModule) conv = mact_native_conv_module_new (3, c3d_convs[i].in_channels,
                                                                c3d_convs[i].out_channels,
                                                                3, 1, 1, 1, &cfg, TRUE, error);
      if (conv == NULL)
        return FALSE;
      mact_module_add_child (module, c3d_convs[i].name, conv);
      self->convs[i] = conv;

      gint p = c3d_convs[i].pool_after;
      if (p < 0)
        continue;
      const gint *kernel = c3d_pools[p].kernel;
      g_autoptr(MactModule) pool = mact_max_pool_new (3, kernel, kernel, c3d_pools[p].padding,
                                                      FALSE, error);
      if (pool == NULL)
        return FALSE;
      mact_module_add_child (module, c3d_pools[p].name, pool);
      self->pools[p] = pool;
    }

  g_autoptr(MactModule) fc6 = mact_linear_new (self->out_dim, 4096, TRUE, error);
  if (fc6 == NULL)
    return FALSE;
  g_autoptr(MactModule) fc7 = mact_linear_new (4096, 4096, TRUE, error);
  if (fc7 == NULL)
    return FALSE;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  g_autoptr(MactModule) dropout = mact_dropout_new (self->dropout_ratio, error);
  if (dropout == NULL)
    return FALSE;
  mact_module_add_child (module, "fc6", fc6);
  mact_module_add_child (module, "fc7", fc7);
  mact_module_add_child (module, "relu", relu);
  mact_module_add_child (module, "dropout", dropout);
  self->fc6 = fc6;
  self->fc7 = fc7;
  self->relu = relu;
  self->dropout = dropout;
  return TRUE;
}

/* The size of pool5's flattened output for an input of T x H x W, following every pool's
 * kernel, stride (= kernel) and padding (the 3x3x3 convs keep the size).  FALSE when the
 * clip is too small for a pool. */
static gboolean
flat_size (const gint64 *thw, gint64 *flat)
{
  gint64 size[3] = { thw[0], thw[1], thw[2] };
  for (guint p = 0; p < C3D_N_POOLS; p++)
    for (guint d = 0; d < 3; d++)
      {
        gint64 padded = size[d] + 2 * c3d_pools[p].padding[d];
        if (padded < c3d_pools[p].kernel[d])
          return FALSE;
        size[d] = (padded - c3d_pools[p].kernel[d]) / c3d_pools[p].kernel[d] + 1;
      }
  *flat = 512 * size[0] * size[1] * size[2];
  return TRUE;
}

/* Replaces *x by module(*x). */
static gboolean
step (MactModule *module, MactTensor **x, GError **error)
{
  MactTensor *y = mact_module_forward1 (module, *x, error);
  if (y == NULL)
    return FALSE;
  mact_tensor_unref (*x);
  *x = y;
  return TRUE;
}

static GPtrArray *
mact_native_c3d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeC3D *self = MACT_NATIVE_C3D (module);

  if (!mact_native_check_single_input (inputs, "C3D", error))
    return NULL;
  MactTensor *input = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (input) != 5 || mact_tensor_get_size (input, 1) != 3)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (input);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "C3D: expected input [N, 3, T, H, W], got %s", shape);
      return NULL;
    }

  /* Check the clip size before the costly convs: fc6 takes exactly out_dim features. */
  gint64 flat_dim = 0;
  if (!flat_size (mact_tensor_get_shape (input, NULL) + 2, &flat_dim) ||
      flat_dim != self->out_dim)
    {
      g_autofree char *in_shape = mact_tensor_shape_to_string (input);
      if (flat_dim == 0)
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                     "C3D: input %s is too small for the five pools", in_shape);
      else
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                     "C3D: input %s gives %" G_GINT64_FORMAT " pool5 features per sample, "
                     "but out_dim is %d (8192 for 16x112x112 clips)",
                     in_shape, flat_dim, self->out_dim);
      return NULL;
    }

  g_autoptr(MactTensor) x = mact_tensor_ref (input);
  for (guint i = 0; i < C3D_N_CONVS; i++)
    {
      if (!step (self->convs[i], &x, error))
        return NULL;
      if (c3d_convs[i].pool_after >= 0 && !step (self->pools[c3d_convs[i].pool_after], &x, error))
        return NULL;
    }

  g_autoptr(MactTensor) flat = mact_tensor_flatten (x, 1, -1, error);
  if (flat == NULL)
    return NULL;
  g_clear_pointer (&x, mact_tensor_unref);
  x = g_steal_pointer (&flat);
  if (!step (self->fc6, &x, error) || !step (self->relu, &x, error) ||
      !step (self->dropout, &x, error) || !step (self->fc7, &x, error) ||
      !step (self->relu, &x, error))
    return NULL;

  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, g_steal_pointer (&x));
  return outputs;
}

typedef struct {
  MactGenerator *generator;
  double         init_std;
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
  else if (MACT_IS_LINEAR (module))
    mact_native_normal_init (mact_module_get_parameter (module, "weight"),
                             mact_module_get_parameter (module, "bias"),
                             state->generator, state->init_std, &state->error);
  else if (MACT_IS_BATCH_NORM (module))
    mact_native_constant_init (mact_module_get_parameter (module, "weight"),
                               mact_module_get_parameter (module, "bias"), 1.0f);
}

static gboolean
mact_native_c3d_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  MactNativeC3D *self = MACT_NATIVE_C3D (module);

  if (self->pretrained != NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "C3D: pretrained='%s': loading pretrained weights arrives with the "
                   "model-zoo issue; load a converted checkpoint into the state dict instead",
                   self->pretrained);
      return FALSE;
    }
  /* pretrained=None: kaiming for convs, normal(init_std) for fc6/fc7, 1/0 for norms. */
  InitState state = { generator ? generator : mact_generator_get_default (),
                      self->init_std, NULL };
  mact_native_foreach_module (module, init_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, "C3D: init_weights: ");
      return FALSE;
    }
  return TRUE;
}

static void
mact_native_c3d_finalize (GObject *object)
{
  MactNativeC3D *self = MACT_NATIVE_C3D (object);

  g_free (self->pretrained);
  g_free (self->style);
  mact_native_clear_json (&self->conv_cfg);
  mact_native_clear_json (&self->norm_cfg);
  mact_native_clear_json (&self->act_cfg);
  G_OBJECT_CLASS (mact_native_c3d_parent_class)->finalize (object);
}

static void
mact_native_c3d_class_init (MactNativeC3DClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_c3d_set_property;
  object_class->get_property = mact_native_c3d_get_property;
  object_class->finalize = mact_native_c3d_finalize;
  module_class->build = mact_native_c3d_build;
  module_class->forward = mact_native_c3d_forward;
  module_class->init_weights = mact_native_c3d_init_weights;

  /**
   * MactNativeC3D:pretrained:
   *
   * Name of pretrained weights, or %NULL.  Accepted, but init_weights() fails with
   * %MACT_MODULE_ERROR_NOT_IMPLEMENTED while it is set.
   */
  properties[PROP_PRETRAINED] =
    g_param_spec_string ("pretrained", NULL, NULL, NULL, flags);
  /**
   * MactNativeC3D:style:
   *
   * 'pytorch' or 'caffe'; kept for config compatibility, it changes nothing in C3D.
   */
  properties[PROP_STYLE] =
    g_param_spec_string ("style", NULL, NULL, "pytorch", flags);
  /**
   * MactNativeC3D:conv-cfg:
   *
   * mmcv's conv_cfg: %NULL or `{type: 'Conv3d'}`.
   */
  properties[PROP_CONV_CFG] =
    g_param_spec_boxed ("conv-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeC3D:norm-cfg:
   *
   * mmcv's norm_cfg: %NULL (no norm layer, the convs have a bias) or
   * `{type: 'BN3d', requires_grad: bool}`.
   */
  properties[PROP_NORM_CFG] =
    g_param_spec_boxed ("norm-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeC3D:act-cfg:
   *
   * mmcv's act_cfg: %NULL or `{type: 'ReLU'}`.
   */
  properties[PROP_ACT_CFG] =
    g_param_spec_boxed ("act-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeC3D:out-dim:
   *
   * Input size of fc6: the flattened size of pool5's output (8192 for 16x112x112 clips).
   */
  properties[PROP_OUT_DIM] =
    g_param_spec_int ("out-dim", NULL, NULL, G_MININT, G_MAXINT, 8192, flags);
  /**
   * MactNativeC3D:dropout-ratio:
   *
   * Dropout probability between fc6 and fc7.
   */
  properties[PROP_DROPOUT_RATIO] =
    g_param_spec_double ("dropout-ratio", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.5, flags);
  /**
   * MactNativeC3D:init-std:
   *
   * Standard deviation of the normal initialisation of fc6 and fc7.
   */
  properties[PROP_INIT_STD] =
    g_param_spec_double ("init-std", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.005, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_c3d_init (MactNativeC3D *self)
{
}
