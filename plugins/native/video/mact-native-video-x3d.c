/* mact-native-video-x3d.c: mmaction2's X3D backbone (mmaction/models/backbones/x3d.py),
 * registered as "X3D".
 *
 * The module tree mirrors mmaction2's: conv1_s (1x3x3 ConvModule, stride (1, 2, 2), no
 * norm, no activation), conv1_t (5x1x1 channel-wise ConvModule with norm and ReLU),
 * layer1 .. layer<num_stages> (Sequentials of BlockX3D), conv5 (1x1x1 ConvModule to
 * feat_dim * gamma_b channels).  Widths: base_channels = 24 rounded by gamma_w to a
 * multiple of 8; stage i has base * 2^i channels and inner width int(that * gamma_b);
 * blocks per stage ceil(gamma_d * (1, 2, 5, 3)).  SE units sit in every block ('all') or
 * every second one from the first ('half').  Forward returns one tensor [N, C, T, H, W].
 *
 * As documented on the properties: `use_swish` and `with_cp` have no effect (mmaction2's
 * BlockX3D always applies swish); `pretrained` names a .safetensors file. */
#include "mact-native-video-x3d.h"
#include "mact-native-video-block-x3d.h"
#include "mact-native-video-layers.h"

#include <math.h>

#define BLOCK "X3D"
#define MAX_STAGES 4

struct _MactNativeVideoX3D
{
  MactBackbone  parent_instance;

  /* properties */
  double        gamma_w;
  double        gamma_b;
  double        gamma_d;
  gchar        *pretrained;
  gint          in_channels;
  gint          num_stages;
  GVariant     *spatial_strides;
  gint          frozen_stages;
  gchar        *se_style;
  GVariant     *se_ratio;
  gboolean      use_swish;
  JsonNode     *conv_cfg;
  JsonNode     *norm_cfg;
  JsonNode     *act_cfg;
  gboolean      norm_eval;
  gboolean      with_cp;
  gboolean      zero_init_residual;

  /* built; borrowed from the children table */
  gboolean      built;
  MactModule   *conv1_s;
  MactModule   *conv1_t;
  MactModule   *layers[MAX_STAGES];
  MactModule   *conv5;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoX3D, mact_native_video_x3d, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_GAMMA_W,
  PROP_GAMMA_B,
  PROP_GAMMA_D,
  PROP_PRETRAINED,
  PROP_IN_CHANNELS,
  PROP_NUM_STAGES,
  PROP_SPATIAL_STRIDES,
  PROP_FROZEN_STAGES,
  PROP_SE_STYLE,
  PROP_SE_RATIO,
  PROP_USE_SWISH,
  PROP_CONV_CFG,
  PROP_NORM_CFG,
  PROP_ACT_CFG,
  PROP_NORM_EVAL,
  PROP_WITH_CP,
  PROP_ZERO_INIT_RESIDUAL,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_video_x3d_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  MactNativeVideoX3D *self = MACT_NATIVE_VIDEO_X3D (object);

  switch (prop_id)
    {
    case PROP_GAMMA_W: self->gamma_w = g_value_get_double (value); break;
    case PROP_GAMMA_B: self->gamma_b = g_value_get_double (value); break;
    case PROP_GAMMA_D: self->gamma_d = g_value_get_double (value); break;
    case PROP_PRETRAINED:
      g_free (self->pretrained);
      self->pretrained = g_value_dup_string (value);
      break;
    case PROP_IN_CHANNELS: self->in_channels = g_value_get_int (value); break;
    case PROP_NUM_STAGES: self->num_stages = g_value_get_int (value); break;
    case PROP_SPATIAL_STRIDES:
      mact_native_replace_variant (&self->spatial_strides, value);
      break;
    case PROP_FROZEN_STAGES: self->frozen_stages = g_value_get_int (value); break;
    case PROP_SE_STYLE:
      g_free (self->se_style);
      self->se_style = g_value_dup_string (value);
      break;
    case PROP_SE_RATIO: mact_native_replace_variant (&self->se_ratio, value); break;
    case PROP_USE_SWISH: self->use_swish = g_value_get_boolean (value); break;
    case PROP_CONV_CFG: mact_native_replace_json (&self->conv_cfg, value); break;
    case PROP_NORM_CFG: mact_native_replace_json (&self->norm_cfg, value); break;
    case PROP_ACT_CFG: mact_native_replace_json (&self->act_cfg, value); break;
    case PROP_NORM_EVAL: self->norm_eval = g_value_get_boolean (value); break;
    case PROP_WITH_CP: self->with_cp = g_value_get_boolean (value); break;
    case PROP_ZERO_INIT_RESIDUAL: self->zero_init_residual = g_value_get_boolean (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_video_x3d_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  MactNativeVideoX3D *self = MACT_NATIVE_VIDEO_X3D (object);

  switch (prop_id)
    {
    case PROP_GAMMA_W: g_value_set_double (value, self->gamma_w); break;
    case PROP_GAMMA_B: g_value_set_double (value, self->gamma_b); break;
    case PROP_GAMMA_D: g_value_set_double (value, self->gamma_d); break;
    case PROP_PRETRAINED: g_value_set_string (value, self->pretrained); break;
    case PROP_IN_CHANNELS: g_value_set_int (value, self->in_channels); break;
    case PROP_NUM_STAGES: g_value_set_int (value, self->num_stages); break;
    case PROP_SPATIAL_STRIDES: g_value_set_variant (value, self->spatial_strides); break;
    case PROP_FROZEN_STAGES: g_value_set_int (value, self->frozen_stages); break;
    case PROP_SE_STYLE: g_value_set_string (value, self->se_style); break;
    case PROP_SE_RATIO: g_value_set_variant (value, self->se_ratio); break;
    case PROP_USE_SWISH: g_value_set_boolean (value, self->use_swish); break;
    case PROP_CONV_CFG: g_value_set_boxed (value, self->conv_cfg); break;
    case PROP_NORM_CFG: g_value_set_boxed (value, self->norm_cfg); break;
    case PROP_ACT_CFG: g_value_set_boxed (value, self->act_cfg); break;
    case PROP_NORM_EVAL: g_value_set_boolean (value, self->norm_eval); break;
    case PROP_WITH_CP: g_value_set_boolean (value, self->with_cp); break;
    case PROP_ZERO_INIT_RESIDUAL: g_value_set_boolean (value, self->zero_init_residual); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/**
 * mact_native_video_x3d_round_width:
 * @width: a width
 * @multiplier: gamma_w; 0 leaves @width unchanged
 *
 * mmaction2's X3D._round_width(width, multiplier, min_depth=8, divisor=8).
 *
 * Returns: the rounded width
 */
gint
mact_native_video_x3d_round_width (gint width, double multiplier)
{
  if (multiplier == 0.0)
    return width;
  const double w = width * multiplier;
  gint out = MAX (8, ((gint) (w + 4.0)) / 8 * 8);
  if (out < 0.9 * w)
    out += 8;
  return out;
}

/**
 * mact_native_video_x3d_round_repeats:
 * @repeats: a number of blocks
 * @multiplier: gamma_d; 0 leaves @repeats unchanged
 *
 * mmaction2's X3D._round_repeats: int(ceil(multiplier * repeats)).
 *
 * Returns: the number of blocks
 */
gint
mact_native_video_x3d_round_repeats (gint repeats, double multiplier)
{
  if (multiplier == 0.0)
    return repeats;
  return (gint) ceil (multiplier * repeats);
}

static gboolean
read_se_ratio (MactNativeVideoX3D *self, double *se_ratio, GError **error)
{
  /* None (a config's null) means no SE unit. */
  *se_ratio = 0.0;
  if (self->se_ratio == NULL)
    return TRUE;
  *se_ratio = g_variant_get_double (self->se_ratio);
  if (!(*se_ratio > 0.0 && isfinite (*se_ratio)))
    return mact_native_video_invalid (error, BLOCK, "se_ratio must be None or positive, got "
                                      "%g", *se_ratio);
  return TRUE;
}

/* mmaction2's X3D.make_res_layer. */
static MactModule *
make_res_layer (gint layer_inplanes, gint inplanes, gint planes, gint blocks, gint stride,
                gboolean se_all, double se_ratio, const MactNativeVideoLayerCfg *cfg,
                GError **error)
{
  g_autoptr(MactModule) downsample = NULL;
  if (stride != 1 || layer_inplanes != inplanes)
    {
      const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
      const gint s[3] = { 1, stride, stride };
      downsample = mact_native_video_conv_module_new (layer_inplanes, inplanes, one, s, zero,
                                                      one, 1, cfg, TRUE, FALSE, error);
      if (downsample == NULL)
        return NULL;
    }
  g_autoptr(MactModule) layer = mact_sequential_new ();
  for (gint b = 0; b < blocks; b++)
    {
      const gboolean use_se = se_all || b % 2 == 0;
      g_autoptr(MactModule) block =
        mact_native_video_block_x3d_new (b == 0 ? layer_inplanes : inplanes, planes, inplanes,
                                         b == 0 ? stride : 1, b == 0 ? downsample : NULL,
                                         use_se ? se_ratio : 0.0, cfg, error);
      if (block == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (layer), block);
    }
  return g_steal_pointer (&layer);
}

static gboolean
mact_native_video_x3d_build (MactModule *module, GError **error)
{
  MactNativeVideoX3D *self = MACT_NATIVE_VIDEO_X3D (module);
  static const gint base_blocks[MAX_STAGES] = { 1, 2, 5, 3 };
  gint strides[MAX_STAGES];
  double se_ratio;
  MactNativeVideoLayerCfg cfg;
  MactNativeLayerCfg act_cfg;

  if (!MACT_MODULE_CLASS (mact_native_video_x3d_parent_class)->build (module, error))
    return FALSE;
  if (!(self->gamma_w >= 0.0 && isfinite (self->gamma_w)) ||
      !(self->gamma_d >= 0.0 && isfinite (self->gamma_d)) ||
      !(self->gamma_b > 0.0 && isfinite (self->gamma_b)))
    return mact_native_video_invalid (error, BLOCK, "gamma_w and gamma_d must be >= 0 and "
                                      "gamma_b > 0, got %g, %g, %g", self->gamma_w,
                                      self->gamma_d, self->gamma_b);
  if (self->in_channels < 1)
    return mact_native_video_invalid (error, BLOCK, "in_channels must be positive, got %d",
                                      self->in_channels);
  if (self->num_stages < 1 || self->num_stages > MAX_STAGES)
    return mact_native_video_invalid (error, BLOCK, "num_stages must be in [1, 4], got %d",
                                      self->num_stages);
  if (!mact_native_video_read_ints (self->spatial_strides, self->num_stages, self->num_stages,
                                    strides, NULL, BLOCK, "spatial_strides", error))
    return FALSE;
  for (gint i = 0; i < self->num_stages; i++)
    if (strides[i] < 1)
      return mact_native_video_invalid (error, BLOCK, "spatial_strides must be positive, got "
                                        "%d at stage %d", strides[i], i);
  if (self->frozen_stages < -1 || self->frozen_stages > self->num_stages)
    return mact_native_video_invalid (error, BLOCK, "frozen_stages must be in [-1, "
                                      "num_stages=%d], got %d", self->num_stages,
                                      self->frozen_stages);
  if (self->se_style == NULL ||
      !(g_str_equal (self->se_style, "half") || g_str_equal (self->se_style, "all")))
    return mact_native_video_invalid (error, BLOCK, "se_style must be 'half' or 'all', got "
                                      "'%s'", self->se_style ? self->se_style : "(null)");
  if (!read_se_ratio (self, &se_ratio, error) ||
      !mact_native_video_parse_conv_cfg (self->conv_cfg, BLOCK, FALSE, &cfg, error) ||
      !mact_native_video_parse_norm_cfg (self->norm_cfg, BLOCK, "norm_cfg", &cfg.norm, error) ||
      !mact_native_parse_act_cfg (self->act_cfg, BLOCK, &act_cfg, error))
    return FALSE;

  const gint base = mact_native_video_x3d_round_width (24, self->gamma_w);
  const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  const gint ks[3] = { 1, 3, 3 }, ss[3] = { 1, 2, 2 }, ps[3] = { 0, 1, 1 };
  const gint kt[3] = { 5, 1, 1 }, pt[3] = { 2, 0, 0 };

  g_autoptr(MactModule) conv1_s = mact_native_video_conv_module_new (self->in_channels, base,
                                                                     ks, ss, ps, one, 1, &cfg,
                                                                     FALSE, FALSE, error);
  if (conv1_s == NULL)
    return FALSE;
  g_autoptr(MactModule) conv1_t = mact_native_video_conv_module_new (base, base, kt, one, pt,
                                                                     one, base, &cfg, TRUE,
                                                                     TRUE, error);
  if (conv1_t == NULL)
    return FALSE;
  mact_module_add_child (module, "conv1_s", conv1_s);
  mact_module_add_child (module, "conv1_t", conv1_t);
  self->conv1_s = conv1_s;
  self->conv1_t = conv1_t;

  gint layer_inplanes = base;
  for (gint i = 0; i < self->num_stages; i++)
    {
      const gint inplanes = base << i;
      const gint planes = (gint) (inplanes * self->gamma_b);
      const gint blocks = mact_native_video_x3d_round_repeats (base_blocks[i], self->gamma_d);
      if (planes < 1 || blocks < 1)
        return mact_native_video_invalid (error, BLOCK, "stage %d would have %d blocks of "
                                          "width %d", i, blocks, planes);
      g_autoptr(MactModule) layer = make_res_layer (layer_inplanes, inplanes, planes, blocks,
                                                    strides[i],
                                                    g_str_equal (self->se_style, "all"),
                                                    se_ratio, &cfg, error);
      if (layer == NULL)
        return FALSE;
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, name, layer);
      self->layers[i] = layer;
      layer_inplanes = inplanes;
    }

  const gint feat_dim = base << (self->num_stages - 1);
  g_autoptr(MactModule) conv5 =
    mact_native_video_conv_module_new (feat_dim, (gint) (feat_dim * self->gamma_b), one, one,
                                       zero, one, 1, &cfg, TRUE, TRUE, error);
  if (conv5 == NULL)
    return FALSE;
  mact_module_add_child (module, "conv5", conv5);
  self->conv5 = conv5;
  self->built = TRUE;

  /* Reach the state mmaction2's .train() leaves (frozen stages, norm_eval). */
  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

static GPtrArray *
mact_native_video_x3d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeVideoX3D *self = MACT_NATIVE_VIDEO_X3D (module);

  if (!mact_native_check_single_input (inputs, BLOCK, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (x) != 5 || mact_tensor_get_size (x, 1) != self->in_channels)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   BLOCK ": expected input [N, %d, T, H, W], got %s", self->in_channels,
                   shape);
      return NULL;
    }
  g_autoptr(MactTensor) out = mact_tensor_ref (x);
  for (gint i = -2; i <= self->num_stages; i++)
    {
      MactModule *step = i == -2 ? self->conv1_s
                         : i == -1 ? self->conv1_t
                         : i == self->num_stages ? self->conv5
                         : self->layers[i];
      MactTensor *next = mact_module_forward1 (step, out, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (out);
      out = next;
    }
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, g_steal_pointer (&out));
  return outputs;
}

static void
freeze (MactModule *module)
{
  mact_module_eval (module);
  mact_native_set_requires_grad (module, FALSE);
}

static void
mact_native_video_x3d_set_training (MactModule *module, gboolean training)
{
  MactNativeVideoX3D *self = MACT_NATIVE_VIDEO_X3D (module);

  MACT_MODULE_CLASS (mact_native_video_x3d_parent_class)->set_training (module, training);
  if (!self->built)
    return;
  /* _freeze_stages: the stem (conv1_s, conv1_t) and the first frozen_stages layers. */
  if (self->frozen_stages >= 0)
    {
      freeze (self->conv1_s);
      freeze (self->conv1_t);
    }
  for (gint i = 0; i < self->frozen_stages; i++)
    freeze (self->layers[i]);
  if (training && self->norm_eval)
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

static void
zero_init_visit (MactModule *module, gpointer user_data)
{
  if (MACT_NATIVE_VIDEO_IS_BLOCK_X3D (module))
    mact_native_video_zero_norm (mact_native_video_block_x3d_get_last_conv (
                                   MACT_NATIVE_VIDEO_BLOCK_X3D (module)));
}

static gboolean
mact_native_video_x3d_init_weights (MactModule *module, MactGenerator *generator,
                                    GError **error)
{
  MactNativeVideoX3D *self = MACT_NATIVE_VIDEO_X3D (module);

  if (self->pretrained != NULL)
    return mact_native_video_load_checkpoint (module, BLOCK, self->pretrained, FALSE, error);

  /* kaiming for every Conv3d (the SE units' included, their biases zeroed), ones and zeros
   * for every norm, then conv3's norm of every block zeroed. */
  InitState state = { generator ? generator : mact_generator_get_default (), NULL };
  mact_native_foreach_module (module, init_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, BLOCK ": init_weights: ");
      return FALSE;
    }
  if (self->zero_init_residual)
    mact_native_foreach_module (module, zero_init_visit, NULL);
  return TRUE;
}

static void
mact_native_video_x3d_finalize (GObject *object)
{
  MactNativeVideoX3D *self = MACT_NATIVE_VIDEO_X3D (object);

  g_free (self->pretrained);
  g_free (self->se_style);
  g_clear_pointer (&self->spatial_strides, g_variant_unref);
  g_clear_pointer (&self->se_ratio, g_variant_unref);
  mact_native_clear_json (&self->conv_cfg);
  mact_native_clear_json (&self->norm_cfg);
  mact_native_clear_json (&self->act_cfg);
  G_OBJECT_CLASS (mact_native_video_x3d_parent_class)->finalize (object);
}

static void
mact_native_video_x3d_class_init (MactNativeVideoX3DClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  static const gint64 default_strides[] = { 2, 2, 2, 2 };

  object_class->set_property = mact_native_video_x3d_set_property;
  object_class->get_property = mact_native_video_x3d_get_property;
  object_class->finalize = mact_native_video_x3d_finalize;
  module_class->build = mact_native_video_x3d_build;
  module_class->forward = mact_native_video_x3d_forward;
  module_class->init_weights = mact_native_video_x3d_init_weights;
  module_class->set_training = mact_native_video_x3d_set_training;

  /**
   * MactNativeVideoX3D:gamma-w:
   *
   * Channel width expansion: base_channels = 24 * gamma_w rounded to a multiple of 8
   * (at least 8); 0 keeps 24.
   */
  properties[PROP_GAMMA_W] =
    g_param_spec_double ("gamma-w", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0, flags);
  /**
   * MactNativeVideoX3D:gamma-b:
   *
   * Bottleneck width expansion (inner width of the blocks and of conv5).
   */
  properties[PROP_GAMMA_B] =
    g_param_spec_double ("gamma-b", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0, flags);
  /**
   * MactNativeVideoX3D:gamma-d:
   *
   * Depth expansion: stage i has ceil(gamma_d * (1, 2, 5, 3)[i]) blocks; 0 keeps them.
   */
  properties[PROP_GAMMA_D] =
    g_param_spec_double ("gamma-d", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0, flags);
  /**
   * MactNativeVideoX3D:pretrained:
   *
   * A .safetensors file loaded non-strictly by init_weights(), or %NULL (kaiming init).
   */
  properties[PROP_PRETRAINED] = g_param_spec_string ("pretrained", NULL, NULL, NULL, flags);
  /**
   * MactNativeVideoX3D:in-channels:
   *
   * Channels of the input clips.
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_int ("in-channels", NULL, NULL, G_MININT, G_MAXINT, 3, flags);
  /**
   * MactNativeVideoX3D:num-stages:
   *
   * Number of stages, 1 to 4.
   */
  properties[PROP_NUM_STAGES] =
    g_param_spec_int ("num-stages", NULL, NULL, G_MININT, G_MAXINT, 4, flags);
  /**
   * MactNativeVideoX3D:spatial-strides:
   *
   * The spatial stride of each stage's first block ("ax", one per stage).
   */
  properties[PROP_SPATIAL_STRIDES] =
    g_param_spec_variant ("spatial-strides", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_native_video_int_tuple (4, default_strides), flags);
  /**
   * MactNativeVideoX3D:frozen-stages:
   *
   * -1 for none, 0 for the stem (conv1_s, conv1_t), k for the stem and k stages: eval
   * mode and parameters not trained.
   */
  properties[PROP_FROZEN_STAGES] =
    g_param_spec_int ("frozen-stages", NULL, NULL, G_MININT, G_MAXINT, -1, flags);
  /**
   * MactNativeVideoX3D:se-style:
   *
   * 'half' (an SE unit in blocks 0, 2, 4, ... of each stage) or 'all'.
   */
  properties[PROP_SE_STYLE] = g_param_spec_string ("se-style", NULL, NULL, "half", flags);
  /**
   * MactNativeVideoX3D:se-ratio:
   *
   * The SE units' reduction ratio ("d", default 1/16), or %NULL (None) for no SE unit.
   */
  properties[PROP_SE_RATIO] =
    g_param_spec_variant ("se-ratio", NULL, NULL, G_VARIANT_TYPE_DOUBLE,
                          g_variant_new_double (1.0 / 16.0), flags);
  /**
   * MactNativeVideoX3D:use-swish:
   *
   * Accepted without effect: mmaction2's BlockX3D applies swish whatever it says.
   */
  properties[PROP_USE_SWISH] = g_param_spec_boolean ("use-swish", NULL, NULL, TRUE, flags);
  /**
   * MactNativeVideoX3D:conv-cfg:
   *
   * mmcv's conv_cfg: %NULL or `{type: 'Conv3d'}`.
   */
  properties[PROP_CONV_CFG] = g_param_spec_boxed ("conv-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeVideoX3D:norm-cfg:
   *
   * mmcv's norm_cfg: %NULL (BN3d) or `{type: 'BN3d' | 'SyncBN', requires_grad, eps,
   * momentum}`.
   */
  properties[PROP_NORM_CFG] = g_param_spec_boxed ("norm-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeVideoX3D:act-cfg:
   *
   * mmcv's act_cfg: %NULL or `{type: 'ReLU', inplace: bool}`.
   */
  properties[PROP_ACT_CFG] = g_param_spec_boxed ("act-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeVideoX3D:norm-eval:
   *
   * Keep every batch norm in eval mode during training.
   */
  properties[PROP_NORM_EVAL] = g_param_spec_boolean ("norm-eval", NULL, NULL, FALSE, flags);
  /**
   * MactNativeVideoX3D:with-cp:
   *
   * Activation checkpointing: accepted without effect.
   */
  properties[PROP_WITH_CP] = g_param_spec_boolean ("with-cp", NULL, NULL, FALSE, flags);
  /**
   * MactNativeVideoX3D:zero-init-residual:
   *
   * init_weights() zeroes the norm of each block's conv3.
   */
  properties[PROP_ZERO_INIT_RESIDUAL] =
    g_param_spec_boolean ("zero-init-residual", NULL, NULL, TRUE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_video_x3d_init (MactNativeVideoX3D *self)
{
}
