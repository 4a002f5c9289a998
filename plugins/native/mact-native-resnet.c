/* mact-native-resnet.c: mmaction2's 2-D ResNet backbone, registered as "ResNet".
 *
 * The module tree mirrors mmaction2's (mmaction/models/backbones/resnet.py), so the
 * state-dict keys are the same: conv1 (a ConvModule 7x7/2 with children conv, bn,
 * activate), maxpool (3x3/2), layer1 .. layer<num_stages> (Sequentials of BasicBlock or
 * Bottleneck, children "0", "1", ...), with downsample ConvModules on the first block of a
 * stage when the shape changes.  Forward returns the outputs of the stages in
 * out_indices, in stage order: one tensor, or a tuple when there are several.
 *
 * Differences from mmaction2, all documented on the properties:
 * - `pretrained` is accepted, but init_weights() with a non-null value fails with
 *   MACT_MODULE_ERROR_NOT_IMPLEMENTED: loading pretrained weights arrives with the model
 *   zoo.  Load a converted checkpoint into the state dict instead.
 * - `with_cp` (activation checkpointing, a GPU memory trade-off) is accepted and has no
 *   effect, except that, as in mmaction2, a BasicBlock network refuses it.
 * - conv_cfg, norm_cfg and act_cfg accept only mmaction2's defaults (Conv, BN2d with
 *   requires_grad, ReLU); anything else is an error at build time instead of a different
 *   network.  A config's null reaches the block as an unset property, so None means the
 *   default here (mmaction2's norm_cfg=None / act_cfg=None, a ResNet without norms or
 *   activations, is not supported). */
#include "mact-native-resnet.h"
#include "mact-native-basic-block.h"
#include "mact-native-bottleneck.h"
#include "mact-native-layers.h"

#define RESNET_MAX_STAGES 4

typedef struct {
  /* properties */
  gint         depth;
  gchar       *pretrained;
  gboolean     torchvision_pretrain;
  gint         in_channels;
  gint         num_stages;
  GVariant    *out_indices;
  GVariant    *strides;
  GVariant    *dilations;
  gchar       *style;
  gint         frozen_stages;
  JsonNode    *conv_cfg;
  JsonNode    *norm_cfg;
  JsonNode    *act_cfg;
  gboolean     norm_eval;
  gboolean     partial_bn;
  gboolean     with_cp;

  /* built; modules are borrowed (the children table holds them) */
  gboolean     built;
  gboolean     out_mask[RESNET_MAX_STAGES];
  MactModule  *conv1;
  MactModule  *maxpool;
} MactNativeResNetPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (MactNativeResNet, mact_native_resnet, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_DEPTH,
  PROP_PRETRAINED,
  PROP_TORCHVISION_PRETRAIN,
  PROP_IN_CHANNELS,
  PROP_NUM_STAGES,
  PROP_OUT_INDICES,
  PROP_STRIDES,
  PROP_DILATIONS,
  PROP_STYLE,
  PROP_FROZEN_STAGES,
  PROP_CONV_CFG,
  PROP_NORM_CFG,
  PROP_ACT_CFG,
  PROP_NORM_EVAL,
  PROP_PARTIAL_BN,
  PROP_WITH_CP,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* mmaction2's arch_settings: the block kind and the number of blocks per stage. */
typedef struct {
  gint     depth;
  gboolean bottleneck;
  gint     stage_blocks[RESNET_MAX_STAGES];
} ResNetArch;

static const ResNetArch arch_settings[] = {
  { 18,  FALSE, { 2, 2, 2, 2 } },
  { 34,  FALSE, { 3, 4, 6, 3 } },
  { 50,  TRUE,  { 3, 4, 6, 3 } },
  { 101, TRUE,  { 3, 4, 23, 3 } },
  { 152, TRUE,  { 3, 8, 36, 3 } },
};

static void
mact_native_resnet_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  MactNativeResNetPrivate *priv =
    mact_native_resnet_get_instance_private (MACT_NATIVE_RESNET (object));

  switch (prop_id)
    {
    case PROP_DEPTH:
      priv->depth = g_value_get_int (value);
      break;
    case PROP_PRETRAINED:
      g_free (priv->pretrained);
      priv->pretrained = g_value_dup_string (value);
      break;
    case PROP_TORCHVISION_PRETRAIN:
      priv->torchvision_pretrain = g_value_get_boolean (value);
      break;
    case PROP_IN_CHANNELS:
      priv->in_channels = g_value_get_int (value);
      break;
    case PROP_NUM_STAGES:
      priv->num_stages = g_value_get_int (value);
      break;
    case PROP_OUT_INDICES:
      mact_native_replace_variant (&priv->out_indices, value);
      break;
    case PROP_STRIDES:
      mact_native_replace_variant (&priv->strides, value);
      break;
    case PROP_DILATIONS:
      mact_native_replace_variant (&priv->dilations, value);
      break;
    case PROP_STYLE:
      g_free (priv->style);
      priv->style = g_value_dup_string (value);
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
    case PROP_PARTIAL_BN:
      priv->partial_bn = g_value_get_boolean (value);
      break;
    case PROP_WITH_CP:
      priv->with_cp = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_resnet_get_property (GObject *object, guint prop_id, GValue *value,
                                 GParamSpec *pspec)
{
  MactNativeResNetPrivate *priv =
    mact_native_resnet_get_instance_private (MACT_NATIVE_RESNET (object));

  switch (prop_id)
    {
    case PROP_DEPTH:
      g_value_set_int (value, priv->depth);
      break;
    case PROP_PRETRAINED:
      g_value_set_string (value, priv->pretrained);
      break;
    case PROP_TORCHVISION_PRETRAIN:
      g_value_set_boolean (value, priv->torchvision_pretrain);
      break;
    case PROP_IN_CHANNELS:
      g_value_set_int (value, priv->in_channels);
      break;
    case PROP_NUM_STAGES:
      g_value_set_int (value, priv->num_stages);
      break;
    case PROP_OUT_INDICES:
      g_value_set_variant (value, priv->out_indices);
      break;
    case PROP_STRIDES:
      g_value_set_variant (value, priv->strides);
      break;
    case PROP_DILATIONS:
      g_value_set_variant (value, priv->dilations);
      break;
    case PROP_STYLE:
      g_value_set_string (value, priv->style);
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
    case PROP_PARTIAL_BN:
      g_value_set_boolean (value, priv->partial_bn);
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
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "ResNet: %s",
               message);
  return FALSE;
}

/* Reads a per-stage tuple (strides, dilations): exactly num_stages positive values, as
 * mmaction2 asserts len(strides) == len(dilations) == num_stages. */
static gboolean
read_stage_tuple (GVariant *tuple, const char *name, gint num_stages, gint *out,
                  GError **error)
{
  gsize n = tuple != NULL ? g_variant_n_children (tuple) : 0;
  if (n != (gsize) num_stages)
    return invalid (error, "%s must have num_stages (%d) entries, got %" G_GSIZE_FORMAT,
                    name, num_stages, n);
  g_autofree char *what = g_strconcat ("ResNet: ", name, NULL);
  if (!mact_int_tuple_get (tuple, (guint) num_stages, out, what, error))
    return FALSE;
  for (gint i = 0; i < num_stages; i++)
    if (out[i] < 1)
      return invalid (error, "%s must be positive, got %d at stage %d", name, out[i], i);
  return TRUE;
}

static gboolean
read_out_indices (MactNativeResNetPrivate *priv, GError **error)
{
  gsize n = priv->out_indices != NULL ? g_variant_n_children (priv->out_indices) : 0;
  if (n == 0)
    return invalid (error, "out_indices must name at least one stage");
  for (gsize i = 0; i < n; i++)
    {
      gint64 index;
      g_variant_get_child (priv->out_indices, i, "x", &index);
      if (index < 0 || index >= priv->num_stages)
        return invalid (error, "out_indices entry %" G_GINT64_FORMAT
                        " is not a stage index in [0, num_stages=%d)",
                        index, priv->num_stages);
      priv->out_mask[index] = TRUE;
    }
  return TRUE;
}

/* mmaction2's make_res_layer: a Sequential of @blocks blocks; the first one carries the
 * stride and, when the shape changes, a 1x1 ConvModule shortcut. */
static MactModule *
make_res_layer (const ResNetArch *arch, gint inplanes, gint planes, gint blocks, gint stride,
                gint dilation, gboolean caffe_style, const MactNativeLayerCfg *cfg,
                GError **error)
{
  const gint expansion = arch->bottleneck ? MACT_NATIVE_BOTTLENECK_EXPANSION : 1;
  g_autoptr(MactModule) downsample = NULL;

  if (stride != 1 || inplanes != planes * expansion)
    {
      downsample = mact_native_conv_module_new (2, inplanes, planes * expansion, 1, stride, 0,
                                                1, cfg, FALSE, error);
      if (downsample == NULL)
        return NULL;
    }

  g_autoptr(MactModule) layer = mact_sequential_new ();
  for (gint b = 0; b < blocks; b++)
    {
      gint block_stride = b == 0 ? stride : 1;
      MactModule *shortcut = b == 0 ? downsample : NULL;
      g_autoptr(MactModule) block =
        arch->bottleneck
        ? mact_native_bottleneck_new (inplanes, planes, block_stride, dilation, caffe_style,
                                      shortcut, cfg, error)
        : mact_native_basic_block_new (inplanes, planes, block_stride, dilation, shortcut,
                                       cfg, error);
      if (block == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (layer), block);
      inplanes = planes * expansion;
    }
  return g_steal_pointer (&layer);
}

static gboolean
mact_native_resnet_build (MactModule *module, GError **error)
{
  MactNativeResNet *self = MACT_NATIVE_RESNET (module);
  MactNativeResNetPrivate *priv = mact_native_resnet_get_instance_private (self);
  static const char *const conv_types[] = { "Conv", "Conv2d", NULL };
  static const char *const norm_types[] = { "BN", "BN2d", "SyncBN", NULL };
  const ResNetArch *arch = NULL;
  gint strides[RESNET_MAX_STAGES], dilations[RESNET_MAX_STAGES];
  MactNativeLayerCfg cfg;

  if (!MACT_MODULE_CLASS (mact_native_resnet_parent_class)->build (module, error))
    return FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (arch_settings); i++)
    if (arch_settings[i].depth == priv->depth)
      arch = &arch_settings[i];
  if (arch == NULL)
    return invalid (error, "invalid depth %d (expected 18, 34, 50, 101 or 152)", priv->depth);
  if (priv->num_stages < 1 || priv->num_stages > RESNET_MAX_STAGES)
    return invalid (error, "num_stages must be in [1, 4], got %d", priv->num_stages);
  if (priv->in_channels < 1)
    return invalid (error, "in_channels must be positive, got %d", priv->in_channels);
  if (!read_out_indices (priv, error) ||
      !read_stage_tuple (priv->strides, "strides", priv->num_stages, strides, error) ||
      !read_stage_tuple (priv->dilations, "dilations", priv->num_stages, dilations, error))
    return FALSE;
  if (priv->style == NULL ||
      !(g_str_equal (priv->style, "pytorch") || g_str_equal (priv->style, "caffe")))
    return invalid (error, "style must be 'pytorch' or 'caffe', got '%s'",
                    priv->style ? priv->style : "(null)");
  if (priv->frozen_stages < -1 || priv->frozen_stages > priv->num_stages)
    return invalid (error, "frozen_stages must be in [-1, num_stages=%d], got %d",
                    priv->num_stages, priv->frozen_stages);
  /* mmaction2's BasicBlock asserts `not with_cp`; keep that contract. */
  if (priv->with_cp && !arch->bottleneck)
    return invalid (error, "with_cp is not supported with BasicBlock (depth %d)", priv->depth);
  if (!mact_native_parse_conv_cfg (priv->conv_cfg, "ResNet", conv_types, error) ||
      !mact_native_parse_norm_cfg (priv->norm_cfg, "ResNet", norm_types, TRUE, &cfg, error) ||
      !mact_native_parse_act_cfg (priv->act_cfg, "ResNet", &cfg, error))
    return FALSE;

  /* The stem: conv 7x7/2 + bn + relu, then max pool 3x3/2. */
  g_autoptr(MactModule) conv1 = mact_native_conv_module_new (2, priv->in_channels, 64, 7, 2, 3,
                                                             1, &cfg, TRUE, error);
  if (conv1 == NULL)
    return FALSE;
  const gint pool_k[2] = { 3, 3 }, pool_s[2] = { 2, 2 }, pool_p[2] = { 1, 1 };
  g_autoptr(MactModule) maxpool = mact_max_pool_new (2, pool_k, pool_s, pool_p, FALSE, error);
  if (maxpool == NULL)
    return FALSE;
  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "maxpool", maxpool);
  priv->conv1 = conv1;
  priv->maxpool = maxpool;

  gint inplanes = 64;
  const gboolean caffe_style = g_str_equal (priv->style, "caffe");
  for (gint i = 0; i < priv->num_stages; i++)
    {
      const gint planes = 64 << i;
      g_autoptr(MactModule) layer = make_res_layer (arch, inplanes, planes,
                                                    arch->stage_blocks[i], strides[i],
                                                    dilations[i], caffe_style, &cfg, error);
      if (layer == NULL)
        return FALSE;
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, name, layer);
      inplanes = planes * (arch->bottleneck ? MACT_NATIVE_BOTTLENECK_EXPANSION : 1);
    }
  priv->built = TRUE;

  /* Apply frozen_stages / norm_eval / partial_bn for the current mode now, so that a
   * freshly built backbone is already in the state mmaction2 reaches with .train(). */
  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

/* The module of stage @i, looked up by name at each use as mmaction2's getattr(self,
 * 'layer<i+1>') does: subclasses (ResNetTSM's temporal pool and 'block' shift) replace
 * stages with wrappers after build. */
static MactModule *
stage_module (MactModule *module, gint i)
{
  char name[16];
  g_snprintf (name, sizeof name, "layer%d", i + 1);
  return mact_module_get_child (module, name);
}

static GPtrArray *
mact_native_resnet_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeResNetPrivate *priv =
    mact_native_resnet_get_instance_private (MACT_NATIVE_RESNET (module));

  if (!mact_native_check_single_input (inputs, "ResNet", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (x) != 4 || mact_tensor_get_size (x, 1) != priv->in_channels)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "ResNet: expected input [N, %d, H, W], got %s", priv->in_channels, shape);
      return NULL;
    }

  g_autoptr(MactTensor) stem = mact_module_forward1 (priv->conv1, x, error);
  if (stem == NULL)
    return NULL;
  g_autoptr(MactTensor) out = mact_module_forward1 (priv->maxpool, stem, error);
  if (out == NULL)
    return NULL;

  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (gint i = 0; i < priv->num_stages; i++)
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

typedef struct {
  guint count;
} PartialBnState;

/* mmaction2's _partial_bn: every batch norm except the first is put in eval mode and its
 * affine parameters stop training. */
static void
partial_bn_visit (MactModule *module, gpointer user_data)
{
  PartialBnState *state = user_data;
  if (!MACT_IS_BATCH_NORM (module))
    return;
  if (++state->count < 2)
    return;
  mact_module_eval (module);
  mact_native_set_requires_grad (module, FALSE);
}

static void
mact_native_resnet_set_training (MactModule *module, gboolean training)
{
  MactNativeResNetPrivate *priv =
    mact_native_resnet_get_instance_private (MACT_NATIVE_RESNET (module));

  MACT_MODULE_CLASS (mact_native_resnet_parent_class)->set_training (module, training);
  if (!priv->built)
    return;

  /* _freeze_stages: the stem's bn and the first frozen_stages layers stay in eval mode
   * and their parameters are not trained. */
  if (priv->frozen_stages >= 0)
    {
      MactModule *bn = mact_module_get_child (priv->conv1, "bn");
      if (bn != NULL)
        mact_module_eval (bn);
      mact_native_set_requires_grad (priv->conv1, FALSE);
    }
  for (gint i = 0; i < priv->frozen_stages; i++)
    {
      MactModule *layer = stage_module (module, i);
      mact_module_eval (layer);
      mact_native_set_requires_grad (layer, FALSE);
    }
  if (training && priv->norm_eval)
    mact_native_eval_batch_norms (module);
  if (training && priv->partial_bn)
    {
      PartialBnState state = { 0 };
      mact_native_foreach_module (module, partial_bn_visit, &state);
    }
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
mact_native_resnet_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  MactNativeResNetPrivate *priv =
    mact_native_resnet_get_instance_private (MACT_NATIVE_RESNET (module));

  if (priv->pretrained != NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "ResNet: pretrained='%s': loading pretrained weights arrives with the "
                   "model-zoo issue; load a converted checkpoint into the state dict instead",
                   priv->pretrained);
      return FALSE;
    }
  /* pretrained=None: kaiming for convs, constant 1/0 for batch norms, in module order. */
  InitState state = { generator ? generator : mact_generator_get_default (), NULL };
  mact_native_foreach_module (module, init_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, "ResNet: init_weights: ");
      return FALSE;
    }
  return TRUE;
}

static void
mact_native_resnet_finalize (GObject *object)
{
  MactNativeResNetPrivate *priv =
    mact_native_resnet_get_instance_private (MACT_NATIVE_RESNET (object));

  g_free (priv->pretrained);
  g_free (priv->style);
  g_clear_pointer (&priv->out_indices, g_variant_unref);
  g_clear_pointer (&priv->strides, g_variant_unref);
  g_clear_pointer (&priv->dilations, g_variant_unref);
  mact_native_clear_json (&priv->conv_cfg);
  mact_native_clear_json (&priv->norm_cfg);
  mact_native_clear_json (&priv->act_cfg);
  G_OBJECT_CLASS (mact_native_resnet_parent_class)->finalize (object);
}

static GVariant *
int_tuple (gsize n, const gint64 *values)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, values, n, sizeof (gint64));
}

static void
mact_native_resnet_class_init (MactNativeResNetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  static const gint64 default_out_indices[] = { 3 };
  static const gint64 default_strides[] = { 1, 2, 2, 2 };
  static const gint64 default_dilations[] = { 1, 1, 1, 1 };

  object_class->set_property = mact_native_resnet_set_property;
  object_class->get_property = mact_native_resnet_get_property;
  object_class->finalize = mact_native_resnet_finalize;
  module_class->build = mact_native_resnet_build;
  module_class->forward = mact_native_resnet_forward;
  module_class->init_weights = mact_native_resnet_init_weights;
  module_class->set_training = mact_native_resnet_set_training;

  /**
   * MactNativeResNet:depth:
   *
   * Depth of the network: 18, 34 (BasicBlock), 50, 101 or 152 (Bottleneck).  Required.
   */
  properties[PROP_DEPTH] =
    g_param_spec_int ("depth", NULL, NULL, G_MININT, G_MAXINT, 0, flags | MACT_PARAM_REQUIRED);
  /**
   * MactNativeResNet:pretrained:
   *
   * Name of pretrained weights, or %NULL.  Accepted, but init_weights() fails with
   * %MACT_MODULE_ERROR_NOT_IMPLEMENTED while it is set: loading pretrained weights arrives
   * with the model zoo.
   */
  properties[PROP_PRETRAINED] =
    g_param_spec_string ("pretrained", NULL, NULL, NULL, flags);
  /**
   * MactNativeResNet:torchvision-pretrain:
   *
   * Whether @pretrained names torchvision weights (mapped to mmaction2's names).
   */
  properties[PROP_TORCHVISION_PRETRAIN] =
    g_param_spec_boolean ("torchvision-pretrain", NULL, NULL, TRUE, flags);
  /**
   * MactNativeResNet:in-channels:
   *
   * Channels of the input images.
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_int ("in-channels", NULL, NULL, G_MININT, G_MAXINT, 3, flags);
  /**
   * MactNativeResNet:num-stages:
   *
   * Number of residual stages, 1 to 4.
   */
  properties[PROP_NUM_STAGES] =
    g_param_spec_int ("num-stages", NULL, NULL, G_MININT, G_MAXINT, 4, flags);
  /**
   * MactNativeResNet:out-indices:
   *
   * The stages whose outputs forward returns ("ax", default (3,)); one entry gives a
   * single tensor, several a tuple in stage order.
   */
  properties[PROP_OUT_INDICES] =
    g_param_spec_variant ("out-indices", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          int_tuple (1, default_out_indices), flags);
  /**
   * MactNativeResNet:strides:
   *
   * The stride of the first block of each stage ("ax", one per stage).
   */
  properties[PROP_STRIDES] =
    g_param_spec_variant ("strides", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          int_tuple (4, default_strides), flags);
  /**
   * MactNativeResNet:dilations:
   *
   * The dilation of each stage ("ax", one per stage).
   */
  properties[PROP_DILATIONS] =
    g_param_spec_variant ("dilations", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          int_tuple (4, default_dilations), flags);
  /**
   * MactNativeResNet:style:
   *
   * 'pytorch' (the stride is on the 3x3 conv of a Bottleneck) or 'caffe' (on the first
   * 1x1 conv).
   */
  properties[PROP_STYLE] =
    g_param_spec_string ("style", NULL, NULL, "pytorch", flags);
  /**
   * MactNativeResNet:frozen-stages:
   *
   * Stages to freeze (parameters not trained, batch norms in eval mode): -1 for none, 0
   * for the stem, k for the stem and the first k stages.
   */
  properties[PROP_FROZEN_STAGES] =
    g_param_spec_int ("frozen-stages", NULL, NULL, G_MININT, G_MAXINT, -1, flags);
  /**
   * MactNativeResNet:conv-cfg:
   *
   * mmcv's conv_cfg: %NULL or `{type: 'Conv'}`; other convolutions are not supported.
   */
  properties[PROP_CONV_CFG] =
    g_param_spec_boxed ("conv-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeResNet:norm-cfg:
   *
   * mmcv's norm_cfg: %NULL (BN2d) or `{type: 'BN2d' | 'BN', requires_grad: bool}`;
   * requires_grad FALSE freezes the affine parameters of every batch norm.  None (%NULL)
   * means the default, not "no norm".
   */
  properties[PROP_NORM_CFG] =
    g_param_spec_boxed ("norm-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeResNet:act-cfg:
   *
   * mmcv's act_cfg: %NULL or `{type: 'ReLU', inplace: bool}` (inplace has no effect).
   */
  properties[PROP_ACT_CFG] =
    g_param_spec_boxed ("act-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeResNet:norm-eval:
   *
   * Keep every batch norm in eval mode (running statistics frozen) in training mode.
   */
  properties[PROP_NORM_EVAL] =
    g_param_spec_boolean ("norm-eval", NULL, NULL, FALSE, flags);
  /**
   * MactNativeResNet:partial-bn:
   *
   * In training mode, freeze every batch norm except the first (eval mode, affine
   * parameters not trained), as TSN's partial BN.
   */
  properties[PROP_PARTIAL_BN] =
    g_param_spec_boolean ("partial-bn", NULL, NULL, FALSE, flags);
  /**
   * MactNativeResNet:with-cp:
   *
   * Activation checkpointing.  Accepted and without effect (it only trades GPU memory
   * for time); refused for BasicBlock networks, as mmaction2 does.
   */
  properties[PROP_WITH_CP] =
    g_param_spec_boolean ("with-cp", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_resnet_init (MactNativeResNet *self)
{
}
