/* mact-cls-mobilenet-v2.c: mmcls's MobileNetV2 backbone (mmcls 0.x, mmcls/models/
 * backbones/mobilenet_v2.py), registered as "cls.MobileNetV2" (also "mmcls.MobileNetV2").
 *
 * The module tree mirrors mmcls's, so the keys are an mmcls checkpoint's: conv1 (a
 * ConvModule 3x3/2), layer1 .. layer7 (Sequentials of InvertedResidual blocks, keys
 * layerN.<i>.conv.<j>.conv.weight / .bn.*) and conv2 (a 1x1 ConvModule to 1280
 * channels, or int(1280 * widen_factor) when widen_factor > 1).  Channels are mmcls's
 * make_divisible(c * widen_factor, 8).
 *
 * The "stages" for out_indices and frozen_stages are layer1 .. layer7 (indices 0 .. 6)
 * and conv2 (index 7).  Forward returns the chosen outputs in stage order, always as a
 * tuple.
 *
 * frozen_stages as mmcls: k >= 0 stops the gradients of conv1 (which, unlike the frozen
 * layers, mmcls leaves in train mode), and layer1 .. layer<k> are in eval mode without
 * gradients.  mmcls applies this in train() only; here it is applied from construction
 * on, as if train() had been called (what every training loop does first). */
#include "mact-cls-mobilenet-v2.h"
#include "mact-cls-inverted-residual.h"
#include "mact-cls-init.h"
#include "mact-cls-utils.h"

#define MOBILENET_V2_N_LAYERS 7
#define MOBILENET_V2_N_STAGES (MOBILENET_V2_N_LAYERS + 1)

struct _MactClsMobileNetV2
{
  MactBackbone parent_instance;

  /* properties */
  double       widen_factor;
  GVariant    *out_indices;
  gint         frozen_stages;
  JsonNode    *conv_cfg;
  JsonNode    *norm_cfg;
  JsonNode    *act_cfg;
  gboolean     norm_eval;
  gboolean     with_cp;
  JsonNode    *init_cfg;

  /* built; modules are borrowed (the children table holds them) */
  gboolean     built;
  gboolean     out_mask[MOBILENET_V2_N_STAGES];
  MactModule  *conv1;
  MactModule  *stages[MOBILENET_V2_N_STAGES];   /* layer1 .. layer7, conv2 */
};

G_DEFINE_FINAL_TYPE (MactClsMobileNetV2, mact_cls_mobilenet_v2, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_WIDEN_FACTOR,
  PROP_OUT_INDICES,
  PROP_FROZEN_STAGES,
  PROP_CONV_CFG,
  PROP_NORM_CFG,
  PROP_ACT_CFG,
  PROP_NORM_EVAL,
  PROP_WITH_CP,
  PROP_INIT_CFG,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* mmcls's arch_settings: expand_ratio, channels, blocks, stride of the first block. */
static const gint arch_settings[MOBILENET_V2_N_LAYERS][4] = {
  { 1, 16, 1, 1 },
  { 6, 24, 2, 2 },
  { 6, 32, 3, 2 },
  { 6, 64, 4, 2 },
  { 6, 96, 3, 1 },
  { 6, 160, 3, 2 },
  { 6, 320, 1, 1 },
};

static void
mact_cls_mobilenet_v2_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  MactClsMobileNetV2 *self = MACT_CLS_MOBILENET_V2 (object);

  switch (prop_id)
    {
    case PROP_WIDEN_FACTOR:
      self->widen_factor = g_value_get_double (value);
      break;
    case PROP_OUT_INDICES:
      mact_cls_replace_variant (&self->out_indices, value);
      break;
    case PROP_FROZEN_STAGES:
      self->frozen_stages = g_value_get_int (value);
      break;
    case PROP_CONV_CFG:
      mact_cls_replace_json (&self->conv_cfg, value);
      break;
    case PROP_NORM_CFG:
      mact_cls_replace_json (&self->norm_cfg, value);
      break;
    case PROP_ACT_CFG:
      mact_cls_replace_json (&self->act_cfg, value);
      break;
    case PROP_NORM_EVAL:
      self->norm_eval = g_value_get_boolean (value);
      break;
    case PROP_WITH_CP:
      self->with_cp = g_value_get_boolean (value);
      break;
    case PROP_INIT_CFG:
      mact_cls_replace_json (&self->init_cfg, value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_cls_mobilenet_v2_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  MactClsMobileNetV2 *self = MACT_CLS_MOBILENET_V2 (object);

  switch (prop_id)
    {
    case PROP_WIDEN_FACTOR:
      g_value_set_double (value, self->widen_factor);
      break;
    case PROP_OUT_INDICES:
      g_value_set_variant (value, self->out_indices);
      break;
    case PROP_FROZEN_STAGES:
      g_value_set_int (value, self->frozen_stages);
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
    case PROP_NORM_EVAL:
      g_value_set_boolean (value, self->norm_eval);
      break;
    case PROP_WITH_CP:
      g_value_set_boolean (value, self->with_cp);
      break;
    case PROP_INIT_CFG:
      g_value_set_boxed (value, self->init_cfg);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* mmcls's make_divisible(value, 8): the nearest multiple of 8 (at least 8), one step up
 * when rounding lost more than 10%. */
static gint
make_divisible (double value, gint divisor)
{
  gint new_value = MAX (divisor, (gint) (value + divisor / 2.0) / divisor * divisor);
  if (new_value < 0.9 * value)
    new_value += divisor;
  return new_value;
}

static gboolean
mact_cls_mobilenet_v2_build (MactModule *module, GError **error)
{
  MactClsMobileNetV2 *self = MACT_CLS_MOBILENET_V2 (module);
  MactClsNormCfg norm;
  MactActivationKind act;
  gboolean pretrained_dict;

  if (!MACT_MODULE_CLASS (mact_cls_mobilenet_v2_parent_class)->build (module, error))
    return FALSE;
  /* A widen factor above 1e4 would overflow the channel counts long before being useful. */
  if (!(self->widen_factor > 0.0 && self->widen_factor <= 1e4))
    return mact_cls_invalid_argument (error, "MobileNetV2", "widen_factor must be positive, "
                                      "got %g", self->widen_factor);
  if (!mact_cls_read_out_indices (self->out_indices, MOBILENET_V2_N_STAGES, "MobileNetV2",
                                  self->out_mask, error))
    return FALSE;
  if (self->frozen_stages < -1 || self->frozen_stages >= MOBILENET_V2_N_STAGES)
    return mact_cls_invalid_argument (error, "MobileNetV2", "frozen_stages must be in "
                                      "range(-1, 8), got %d", self->frozen_stages);
  if (!mact_cls_parse_conv_cfg (self->conv_cfg, "MobileNetV2", error) ||
      !mact_cls_parse_norm_cfg (self->norm_cfg, "MobileNetV2", &norm, error) ||
      !mact_cls_parse_act_cfg (self->act_cfg, "MobileNetV2", MACT_ACTIVATION_RELU6, &act,
                               error) ||
      !mact_cls_parse_init_cfg (self->init_cfg, "MobileNetV2", &pretrained_dict, error))
    return FALSE;

  gint in_channels = make_divisible (32 * self->widen_factor, 8);
  g_autoptr(MactModule) conv1 = mact_cls_conv_module_new (3, in_channels, 3, 2, 1, 1, &norm,
                                                          TRUE, act, error);
  if (conv1 == NULL)
    return FALSE;
  mact_module_add_child (module, "conv1", conv1);
  self->conv1 = conv1;

  for (gint i = 0; i < MOBILENET_V2_N_LAYERS; i++)
    {
      const gint expand_ratio = arch_settings[i][0];
      const gint out_channels = make_divisible (arch_settings[i][1] * self->widen_factor, 8);
      g_autoptr(MactModule) layer = mact_sequential_new ();
      for (gint b = 0; b < arch_settings[i][2]; b++)
        {
          g_autoptr(MactModule) block =
            mact_cls_inverted_residual_new (in_channels, out_channels,
                                            b == 0 ? arch_settings[i][3] : 1, expand_ratio,
                                            &norm, act, error);
          if (block == NULL)
            {
              g_prefix_error (error, "MobileNetV2: layer%d: ", i + 1);
              return FALSE;
            }
          mact_sequential_append (MACT_SEQUENTIAL (layer), block);
          in_channels = out_channels;
        }
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, name, layer);
      self->stages[i] = layer;
    }

  const gint out_channel = self->widen_factor > 1.0 ? (gint) (1280 * self->widen_factor) : 1280;
  g_autoptr(MactModule) conv2 = mact_cls_conv_module_new (in_channels, out_channel, 1, 1, 0, 1,
                                                          &norm, TRUE, act, error);
  if (conv2 == NULL)
    return FALSE;
  mact_module_add_child (module, "conv2", conv2);
  self->stages[MOBILENET_V2_N_LAYERS] = conv2;
  self->built = TRUE;

  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

static GPtrArray *
mact_cls_mobilenet_v2_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactClsMobileNetV2 *self = MACT_CLS_MOBILENET_V2 (module);

  if (!mact_cls_check_input (inputs, "MobileNetV2", 3, error))
    return NULL;
  g_autoptr(MactTensor) out = mact_module_forward1 (self->conv1,
                                                    g_ptr_array_index (inputs, 0), error);
  if (out == NULL)
    return NULL;
  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (gint i = 0; i < MOBILENET_V2_N_STAGES; i++)
    {
      MactTensor *next = mact_module_forward1 (self->stages[i], out, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (out);
      out = next;
      if (self->out_mask[i])
        g_ptr_array_add (outs, mact_tensor_ref (out));
    }
  return g_steal_pointer (&outs);
}

static void
mact_cls_mobilenet_v2_set_training (MactModule *module, gboolean training)
{
  MactClsMobileNetV2 *self = MACT_CLS_MOBILENET_V2 (module);

  MACT_MODULE_CLASS (mact_cls_mobilenet_v2_parent_class)->set_training (module, training);
  if (!self->built)
    return;
  if (self->frozen_stages >= 0)
    mact_cls_set_requires_grad (self->conv1, FALSE);
  for (gint i = 0; i < self->frozen_stages; i++)
    mact_cls_freeze (self->stages[i]);
  if (training && self->norm_eval)
    mact_cls_eval_batch_norms (module);
}

static gboolean
mact_cls_mobilenet_v2_init_weights (MactModule *module, MactGenerator *generator,
                                    GError **error)
{
  MactClsMobileNetV2 *self = MACT_CLS_MOBILENET_V2 (module);

  return mact_cls_init_weights (module, self->init_cfg, "MobileNetV2", generator, error);
}

static void
mact_cls_mobilenet_v2_finalize (GObject *object)
{
  MactClsMobileNetV2 *self = MACT_CLS_MOBILENET_V2 (object);

  g_clear_pointer (&self->out_indices, g_variant_unref);
  mact_cls_clear_json (&self->conv_cfg);
  mact_cls_clear_json (&self->norm_cfg);
  mact_cls_clear_json (&self->act_cfg);
  mact_cls_clear_json (&self->init_cfg);
  G_OBJECT_CLASS (mact_cls_mobilenet_v2_parent_class)->finalize (object);
}

static void
mact_cls_mobilenet_v2_class_init (MactClsMobileNetV2Class *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  static const gint64 default_out_indices[] = { 7 };

  object_class->set_property = mact_cls_mobilenet_v2_set_property;
  object_class->get_property = mact_cls_mobilenet_v2_get_property;
  object_class->finalize = mact_cls_mobilenet_v2_finalize;
  module_class->build = mact_cls_mobilenet_v2_build;
  module_class->forward = mact_cls_mobilenet_v2_forward;
  module_class->init_weights = mact_cls_mobilenet_v2_init_weights;
  module_class->set_training = mact_cls_mobilenet_v2_set_training;

  /**
   * MactClsMobileNetV2:widen-factor:
   *
   * Width multiplier of every layer (channels rounded to multiples of 8).
   */
  properties[PROP_WIDEN_FACTOR] =
    g_param_spec_double ("widen-factor", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0, flags);
  /**
   * MactClsMobileNetV2:out-indices:
   *
   * The stages whose outputs forward returns ("ax", default (7,)): 0 .. 6 are layer1 ..
   * layer7, 7 is conv2.  In stage order, always as a tuple.
   */
  properties[PROP_OUT_INDICES] =
    g_param_spec_variant ("out-indices", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, default_out_indices), flags);
  /**
   * MactClsMobileNetV2:frozen-stages:
   *
   * -1 for none; k >= 0 stops conv1's gradients and freezes layer1 .. layer<k> (eval
   * mode, no gradients).  At most 7.
   */
  properties[PROP_FROZEN_STAGES] =
    g_param_spec_int ("frozen-stages", NULL, NULL, G_MININT, G_MAXINT, -1, flags);
  /**
   * MactClsMobileNetV2:conv-cfg:
   *
   * mmcv's conv_cfg: %NULL or `{type: 'Conv' | 'Conv2d'}`.
   */
  properties[PROP_CONV_CFG] =
    g_param_spec_boxed ("conv-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactClsMobileNetV2:norm-cfg:
   *
   * mmcv's norm_cfg: %NULL (BN) or `{type: 'BN' | 'BN2d' | 'SyncBN', requires_grad, eps,
   * momentum}`.
   */
  properties[PROP_NORM_CFG] =
    g_param_spec_boxed ("norm-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactClsMobileNetV2:act-cfg:
   *
   * mmcv's act_cfg: %NULL (ReLU6) or `{type: 'ReLU6' | 'ReLU' | 'Sigmoid' | 'Swish' |
   * 'SiLU' | 'HSwish' | 'Hardswish', inplace}`.
   */
  properties[PROP_ACT_CFG] =
    g_param_spec_boxed ("act-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactClsMobileNetV2:norm-eval:
   *
   * Keep every batch norm in eval mode in training mode.
   */
  properties[PROP_NORM_EVAL] =
    g_param_spec_boolean ("norm-eval", NULL, NULL, FALSE, flags);
  /**
   * MactClsMobileNetV2:with-cp:
   *
   * Activation checkpointing.  Accepted and without effect.
   */
  properties[PROP_WITH_CP] =
    g_param_spec_boolean ("with-cp", NULL, NULL, FALSE, flags);
  /**
   * MactClsMobileNetV2:init-cfg:
   *
   * mmcv's init_cfg, applied by init_weights(): one initializer dict or a list
   * (Kaiming, Constant, Normal, Uniform, Xavier, TruncNormal with `layer`, `bias`,
   * `bias_prob`; Pretrained with `checkpoint`, a safetensors file, and `prefix`).  %NULL
   * means mmcls's default: Kaiming on the convs, Constant 1 on the batch norms.
   */
  properties[PROP_INIT_CFG] =
    g_param_spec_boxed ("init-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_cls_mobilenet_v2_init (MactClsMobileNetV2 *self)
{
}
