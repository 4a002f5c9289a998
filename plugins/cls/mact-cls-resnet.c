/* mact-cls-resnet.c: mmcls's ResNet backbone (mmcls 0.x, mmcls/models/backbones/
 * resnet.py), registered as "cls.ResNet" (also reachable as "mmcls.ResNet").
 *
 * The module tree mirrors mmcls's, so the state-dict keys are the same as in an mmcls
 * checkpoint's backbone: the stem is conv1, bn1, relu (no parameters) or, with deep_stem,
 * `stem` (a Sequential of three ConvModules: stem.0.conv, stem.0.bn, ...), then maxpool
 * and layer1 .. layer<num_stages> (Sequentials of BasicBlock or Bottleneck, children "0",
 * "1", ...).  The first block of a stage gets a `downsample` Sequential when the shape
 * changes: conv (0) and bn (1), or with avg_down and a stride, AvgPool (0), conv (1), bn
 * (2).
 *
 * Widths as mmcls: the stem outputs stem_channels; stage i outputs base_channels *
 * expansion * 2^i (expansion 1 for BasicBlock, 4 for Bottleneck unless given).
 *
 * Forward returns the outputs of the stages in out_indices, in stage order, always as a
 * tuple (mmcls's backbones return a tuple even for one stage; the recognizer unwraps a
 * 1-tuple as mmaction2 does).
 *
 * frozen_stages and norm_eval follow mmcls's train(): the frozen parts are in eval mode
 * with no gradient, and with norm_eval every batch norm stays in eval mode when training.
 * As mmcls calls _freeze_stages() in its constructor, a built ResNet already has its
 * frozen parameters' requires_grad off.
 *
 * Differences from mmcls, documented on the properties: with_cp is accepted and has no
 * effect; conv_cfg and norm_cfg accept plain convolutions and batch norms; init_cfg's
 * 'Pretrained' reads safetensors files (tools/convert-checkpoint.py converts .pth). */
#include "mact-cls-resnet.h"
#include "mact-cls-basic-block.h"
#include "mact-cls-bottleneck.h"
#include "mact-cls-init.h"
#include "mact-cls-utils.h"

#define RESNET_MAX_STAGES 4

typedef struct {
  /* properties */
  gint         depth;
  gint         in_channels;
  gint         stem_channels;
  gint         base_channels;
  gint         expansion;
  gint         num_stages;
  GVariant    *strides;
  GVariant    *dilations;
  GVariant    *out_indices;
  gchar       *style;
  gboolean     deep_stem;
  gboolean     avg_down;
  gint         frozen_stages;
  JsonNode    *conv_cfg;
  JsonNode    *norm_cfg;
  gboolean     norm_eval;
  gboolean     with_cp;
  gboolean     zero_init_residual;
  JsonNode    *init_cfg;
  double       drop_path_rate;

  /* built; modules are borrowed (the children table holds them) */
  gboolean     built;
  gboolean     bottleneck;
  gboolean     pretrained;   /* init_cfg is a Pretrained dict */
  gboolean     out_mask[RESNET_MAX_STAGES];
  MactModule  *stem;      /* deep_stem */
  MactModule  *conv1;     /* otherwise: conv1, bn1, relu */
  MactModule  *bn1;
  MactModule  *relu;
  MactModule  *maxpool;
  MactModule  *layers[RESNET_MAX_STAGES];
} MactClsResNetPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (MactClsResNet, mact_cls_resnet, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_DEPTH,
  PROP_IN_CHANNELS,
  PROP_STEM_CHANNELS,
  PROP_BASE_CHANNELS,
  PROP_EXPANSION,
  PROP_NUM_STAGES,
  PROP_STRIDES,
  PROP_DILATIONS,
  PROP_OUT_INDICES,
  PROP_STYLE,
  PROP_DEEP_STEM,
  PROP_AVG_DOWN,
  PROP_FROZEN_STAGES,
  PROP_CONV_CFG,
  PROP_NORM_CFG,
  PROP_NORM_EVAL,
  PROP_WITH_CP,
  PROP_ZERO_INIT_RESIDUAL,
  PROP_INIT_CFG,
  PROP_DROP_PATH_RATE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* mmcls's arch_settings: the block kind and the number of blocks per stage. */
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

#define PRIV(self) ((MactClsResNetPrivate *) mact_cls_resnet_get_instance_private (MACT_CLS_RESNET (self)))
#define BLOCK_NAME(self) (MACT_CLS_RESNET_GET_CLASS (self)->block_name)

static void
mact_cls_resnet_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  MactClsResNetPrivate *priv = PRIV (object);

  switch (prop_id)
    {
    case PROP_DEPTH:
      priv->depth = g_value_get_int (value);
      break;
    case PROP_IN_CHANNELS:
      priv->in_channels = g_value_get_int (value);
      break;
    case PROP_STEM_CHANNELS:
      priv->stem_channels = g_value_get_int (value);
      break;
    case PROP_BASE_CHANNELS:
      priv->base_channels = g_value_get_int (value);
      break;
    case PROP_EXPANSION:
      priv->expansion = g_value_get_int (value);
      break;
    case PROP_NUM_STAGES:
      priv->num_stages = g_value_get_int (value);
      break;
    case PROP_STRIDES:
      mact_cls_replace_variant (&priv->strides, value);
      break;
    case PROP_DILATIONS:
      mact_cls_replace_variant (&priv->dilations, value);
      break;
    case PROP_OUT_INDICES:
      mact_cls_replace_variant (&priv->out_indices, value);
      break;
    case PROP_STYLE:
      g_free (priv->style);
      priv->style = g_value_dup_string (value);
      break;
    case PROP_DEEP_STEM:
      priv->deep_stem = g_value_get_boolean (value);
      break;
    case PROP_AVG_DOWN:
      priv->avg_down = g_value_get_boolean (value);
      break;
    case PROP_FROZEN_STAGES:
      priv->frozen_stages = g_value_get_int (value);
      break;
    case PROP_CONV_CFG:
      mact_cls_replace_json (&priv->conv_cfg, value);
      break;
    case PROP_NORM_CFG:
      mact_cls_replace_json (&priv->norm_cfg, value);
      break;
    case PROP_NORM_EVAL:
      priv->norm_eval = g_value_get_boolean (value);
      break;
    case PROP_WITH_CP:
      priv->with_cp = g_value_get_boolean (value);
      break;
    case PROP_ZERO_INIT_RESIDUAL:
      priv->zero_init_residual = g_value_get_boolean (value);
      break;
    case PROP_INIT_CFG:
      mact_cls_replace_json (&priv->init_cfg, value);
      break;
    case PROP_DROP_PATH_RATE:
      priv->drop_path_rate = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_cls_resnet_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec)
{
  MactClsResNetPrivate *priv = PRIV (object);

  switch (prop_id)
    {
    case PROP_DEPTH:
      g_value_set_int (value, priv->depth);
      break;
    case PROP_IN_CHANNELS:
      g_value_set_int (value, priv->in_channels);
      break;
    case PROP_STEM_CHANNELS:
      g_value_set_int (value, priv->stem_channels);
      break;
    case PROP_BASE_CHANNELS:
      g_value_set_int (value, priv->base_channels);
      break;
    case PROP_EXPANSION:
      g_value_set_int (value, priv->expansion);
      break;
    case PROP_NUM_STAGES:
      g_value_set_int (value, priv->num_stages);
      break;
    case PROP_STRIDES:
      g_value_set_variant (value, priv->strides);
      break;
    case PROP_DILATIONS:
      g_value_set_variant (value, priv->dilations);
      break;
    case PROP_OUT_INDICES:
      g_value_set_variant (value, priv->out_indices);
      break;
    case PROP_STYLE:
      g_value_set_string (value, priv->style);
      break;
    case PROP_DEEP_STEM:
      g_value_set_boolean (value, priv->deep_stem);
      break;
    case PROP_AVG_DOWN:
      g_value_set_boolean (value, priv->avg_down);
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
    case PROP_NORM_EVAL:
      g_value_set_boolean (value, priv->norm_eval);
      break;
    case PROP_WITH_CP:
      g_value_set_boolean (value, priv->with_cp);
      break;
    case PROP_ZERO_INIT_RESIDUAL:
      g_value_set_boolean (value, priv->zero_init_residual);
      break;
    case PROP_INIT_CFG:
      g_value_set_boxed (value, priv->init_cfg);
      break;
    case PROP_DROP_PATH_RATE:
      g_value_set_double (value, priv->drop_path_rate);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_cls_resnet_real_get_groups (MactClsResNet *self, gint *groups, gint *width_per_group)
{
  *groups = 1;
  *width_per_group = 4;
}

/* Reads a per-stage tuple (strides, dilations): mmcls asserts len(strides) ==
 * len(dilations) == num_stages; values must be positive. */
static gboolean
read_stage_tuple (MactClsResNet *self, GVariant *tuple, const char *name, gint *out,
                  GError **error)
{
  MactClsResNetPrivate *priv = PRIV (self);
  gsize n = tuple != NULL ? g_variant_n_children (tuple) : 0;
  if (n != (gsize) priv->num_stages)
    return mact_cls_invalid_argument (error, BLOCK_NAME (self), "%s must have num_stages "
                                      "(%d) entries, got %" G_GSIZE_FORMAT, name,
                                      priv->num_stages, n);
  for (gsize i = 0; i < n; i++)
    {
      gint64 v;
      g_variant_get_child (tuple, i, "x", &v);
      if (v < 1 || v > G_MAXINT)
        return mact_cls_invalid_argument (error, BLOCK_NAME (self), "%s must be positive, "
                                          "got %" G_GINT64_FORMAT " at stage %" G_GSIZE_FORMAT,
                                          name, v, i);
      out[i] = (gint) v;
    }
  return TRUE;
}

/* mmcls's ResLayer's shortcut: [AvgPool2d(stride, ceil_mode, count_include_pad=False)]
 * conv 1x1 + bn, when the stride or the width changes; NULL (no error) otherwise. */
static MactModule *
make_downsample (const MactClsResBlockArgs *args, gboolean avg_down, GError **error)
{
  if (args->stride == 1 && args->in_channels == args->out_channels)
    return NULL;
  g_autoptr(MactModule) seq = mact_sequential_new ();
  gint conv_stride = args->stride;
  if (avg_down && args->stride != 1)
    {
      const gint k[2] = { args->stride, args->stride }, p[2] = { 0, 0 };
      g_autoptr(MactModule) pool = mact_avg_pool_new (2, k, k, p, TRUE, FALSE, error);
      if (pool == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (seq), pool);
      conv_stride = 1;
    }
  g_autoptr(MactModule) conv = mact_cls_conv_new (args->in_channels, args->out_channels, 1,
                                                  conv_stride, 0, 1, 1, error);
  g_autoptr(MactModule) bn = conv ? mact_cls_norm_new (args->out_channels, args->norm, error)
                                  : NULL;
  if (bn == NULL)
    return NULL;
  mact_sequential_append (MACT_SEQUENTIAL (seq), conv);
  mact_sequential_append (MACT_SEQUENTIAL (seq), bn);
  return g_steal_pointer (&seq);
}

/* mmcls's ResLayer: a Sequential of @num_blocks blocks; the first one has the stride and
 * the shortcut, the others map out_channels to out_channels with stride 1. */
static MactModule *
make_res_layer (gboolean bottleneck, gint num_blocks, const MactClsResBlockArgs *first,
                gboolean avg_down, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(MactModule) downsample = make_downsample (first, avg_down, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  g_autoptr(MactModule) layer = mact_sequential_new ();
  MactClsResBlockArgs args = *first;
  for (gint b = 0; b < num_blocks; b++)
    {
      g_autoptr(MactModule) block = bottleneck
                                    ? mact_cls_bottleneck_new (&args, downsample, error)
                                    : mact_cls_basic_block_new (&args, downsample, error);
      if (block == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (layer), block);
      g_clear_object (&downsample);
      args.in_channels = args.out_channels;
      args.stride = 1;
    }
  return g_steal_pointer (&layer);
}

static gboolean
build_stem (MactClsResNet *self, const MactClsNormCfg *norm, GError **error)
{
  MactClsResNetPrivate *priv = PRIV (self);
  MactModule *module = MACT_MODULE (self);

  if (priv->deep_stem)
    {
      /* Three 3x3 ConvModules: in -> stem/2 (stride 2) -> stem/2 -> stem. */
      const gint half = priv->stem_channels / 2;
      const gint ins[3] = { priv->in_channels, half, half };
      const gint outs[3] = { half, half, priv->stem_channels };
      g_autoptr(MactModule) stem = mact_sequential_new ();
      for (gint i = 0; i < 3; i++)
        {
          g_autoptr(MactModule) cm = mact_cls_conv_module_new (ins[i], outs[i], 3,
                                                               i == 0 ? 2 : 1, 1, 1, norm,
                                                               TRUE, MACT_ACTIVATION_RELU,
                                                               error);
          if (cm == NULL)
            return FALSE;
          mact_sequential_append (MACT_SEQUENTIAL (stem), cm);
        }
      mact_module_add_child (module, "stem", stem);
      priv->stem = stem;
    }
  else
    {
      g_autoptr(MactModule) conv1 = mact_cls_conv_new (priv->in_channels, priv->stem_channels,
                                                       7, 2, 3, 1, 1, error);
      g_autoptr(MactModule) bn1 = conv1 ? mact_cls_norm_new (priv->stem_channels, norm, error)
                                        : NULL;
      if (bn1 == NULL)
        return FALSE;
      g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
      mact_module_add_child (module, "conv1", conv1);
      mact_module_add_child (module, "bn1", bn1);
      mact_module_add_child (module, "relu", relu);
      priv->conv1 = conv1;
      priv->bn1 = bn1;
      priv->relu = relu;
    }

  const gint k[2] = { 3, 3 }, s[2] = { 2, 2 }, p[2] = { 1, 1 };
  g_autoptr(MactModule) maxpool = mact_max_pool_new (2, k, s, p, FALSE, error);
  if (maxpool == NULL)
    return FALSE;
  mact_module_add_child (module, "maxpool", maxpool);
  priv->maxpool = maxpool;
  return TRUE;
}

static gboolean
mact_cls_resnet_build (MactModule *module, GError **error)
{
  MactClsResNet *self = MACT_CLS_RESNET (module);
  MactClsResNetClass *klass = MACT_CLS_RESNET_GET_CLASS (self);
  MactClsResNetPrivate *priv = PRIV (self);
  const char *name = klass->block_name;
  const ResNetArch *arch = NULL;
  gint strides[RESNET_MAX_STAGES], dilations[RESNET_MAX_STAGES];
  gint groups = 1, width_per_group = 4;
  MactClsNormCfg norm;

  if (!MACT_MODULE_CLASS (mact_cls_resnet_parent_class)->build (module, error))
    return FALSE;

  for (gsize i = 0; i < G_N_ELEMENTS (arch_settings); i++)
    if (arch_settings[i].depth == priv->depth &&
        (arch_settings[i].bottleneck || !klass->bottleneck_only))
      arch = &arch_settings[i];
  if (arch == NULL)
    return mact_cls_invalid_argument (error, name, "invalid depth %d (expected %s)",
                                      priv->depth, klass->bottleneck_only
                                                   ? "50, 101 or 152"
                                                   : "18, 34, 50, 101 or 152");
  priv->bottleneck = arch->bottleneck;
  if (priv->num_stages < 1 || priv->num_stages > RESNET_MAX_STAGES)
    return mact_cls_invalid_argument (error, name, "num_stages must be in [1, 4], got %d",
                                      priv->num_stages);
  if (priv->in_channels < 1 || priv->stem_channels < 1 || priv->base_channels < 1)
    return mact_cls_invalid_argument (error, name, "in_channels (%d), stem_channels (%d) "
                                      "and base_channels (%d) must be positive",
                                      priv->in_channels, priv->stem_channels,
                                      priv->base_channels);
  if (priv->deep_stem && priv->stem_channels < 2)
    return mact_cls_invalid_argument (error, name, "deep_stem needs stem_channels >= 2, "
                                      "got %d", priv->stem_channels);
  /* expansion: 0 stands for mmcls's None (the block's own: 1 or 4); BasicBlock refuses
   * anything but 1, as mmcls asserts. */
  gint expansion = priv->expansion != 0 ? priv->expansion : (arch->bottleneck ? 4 : 1);
  if (expansion < 1)
    return mact_cls_invalid_argument (error, name, "expansion must be positive (or 0 for "
                                      "the block's default), got %d", priv->expansion);
  if (!arch->bottleneck && expansion != 1)
    return mact_cls_invalid_argument (error, name, "expansion must be 1 for BasicBlock "
                                      "(depth %d), got %d", priv->depth, expansion);
  if (!read_stage_tuple (self, priv->strides, "strides", strides, error) ||
      !read_stage_tuple (self, priv->dilations, "dilations", dilations, error) ||
      !mact_cls_read_out_indices (priv->out_indices, priv->num_stages, name, priv->out_mask,
                                  error))
    return FALSE;
  if (priv->style == NULL ||
      !(g_str_equal (priv->style, "pytorch") || g_str_equal (priv->style, "caffe")))
    return mact_cls_invalid_argument (error, name, "style must be 'pytorch' or 'caffe', "
                                      "got '%s'", priv->style ? priv->style : "(null)");
  if (priv->frozen_stages < -1 || priv->frozen_stages > priv->num_stages)
    return mact_cls_invalid_argument (error, name, "frozen_stages must be in [-1, "
                                      "num_stages=%d], got %d", priv->num_stages,
                                      priv->frozen_stages);
  if (!(priv->drop_path_rate >= 0.0 && priv->drop_path_rate < 1.0))
    return mact_cls_invalid_argument (error, name, "drop_path_rate must be in [0, 1), "
                                      "got %g", priv->drop_path_rate);
  if (!mact_cls_parse_conv_cfg (priv->conv_cfg, name, error) ||
      !mact_cls_parse_norm_cfg (priv->norm_cfg, name, &norm, error) ||
      !mact_cls_parse_init_cfg (priv->init_cfg, name, &priv->pretrained, error))
    return FALSE;
  klass->get_groups (self, &groups, &width_per_group);

  if (!build_stem (self, &norm, error))
    return FALSE;

  gint in_channels = priv->stem_channels;
  gint out_channels = priv->base_channels * expansion;
  for (gint i = 0; i < priv->num_stages; i++)
    {
      const MactClsResBlockArgs args = {
        .in_channels = in_channels,
        .out_channels = out_channels,
        .expansion = expansion,
        .stride = strides[i],
        .dilation = dilations[i],
        .caffe_style = g_str_equal (priv->style, "caffe"),
        .groups = groups,
        .width_per_group = width_per_group,
        .base_channels = priv->base_channels,
        .drop_path_rate = priv->drop_path_rate,
        .norm = &norm,
      };
      g_autoptr(MactModule) layer = make_res_layer (arch->bottleneck, arch->stage_blocks[i],
                                                    &args, priv->avg_down, error);
      if (layer == NULL)
        {
          g_prefix_error (error, "%s: layer%d: ", name, i + 1);
          return FALSE;
        }
      g_autofree char *layer_name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, layer_name, layer);
      priv->layers[i] = layer;
      in_channels = out_channels;
      out_channels *= 2;
    }
  priv->built = TRUE;

  /* mmcls calls _freeze_stages() in its constructor: apply it (and norm_eval) for the
   * current mode now. */
  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

static GPtrArray *
mact_cls_resnet_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactClsResNetPrivate *priv = PRIV (module);

  if (!mact_cls_check_input (inputs, BLOCK_NAME (module), priv->in_channels, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);

  g_autoptr(MactTensor) out = NULL;
  if (priv->deep_stem)
    out = mact_module_forward1 (priv->stem, x, error);
  else
    {
      MactModule *const stem[] = { priv->conv1, priv->bn1, priv->relu };
      out = mact_tensor_ref (x);
      for (guint i = 0; out != NULL && i < G_N_ELEMENTS (stem); i++)
        {
          MactTensor *next = mact_module_forward1 (stem[i], out, error);
          mact_tensor_unref (out);
          out = next;
        }
    }
  if (out == NULL)
    return NULL;

  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  MactTensor *pooled = mact_module_forward1 (priv->maxpool, out, error);
  mact_tensor_unref (out);
  out = pooled;
  for (gint i = 0; out != NULL && i < priv->num_stages; i++)
    {
      MactTensor *next = mact_module_forward1 (priv->layers[i], out, error);
      mact_tensor_unref (out);
      out = next;
      if (out != NULL && priv->out_mask[i])
        g_ptr_array_add (outs, mact_tensor_ref (out));
    }
  if (out == NULL)
    return NULL;
  return g_steal_pointer (&outs);
}

static void
mact_cls_resnet_set_training (MactModule *module, gboolean training)
{
  MactClsResNetPrivate *priv = PRIV (module);

  MACT_MODULE_CLASS (mact_cls_resnet_parent_class)->set_training (module, training);
  if (!priv->built)
    return;

  /* _freeze_stages: the stem (frozen_stages >= 0), then layer1 .. layer<frozen_stages>,
   * in eval mode and without gradients.  Without deep_stem mmcls puts only bn1 in eval
   * mode (conv1 has no mode-dependent behaviour). */
  if (priv->frozen_stages >= 0)
    {
      if (priv->deep_stem)
        mact_cls_freeze (priv->stem);
      else
        {
          mact_cls_freeze (priv->bn1);
          mact_cls_set_requires_grad (priv->conv1, FALSE);
        }
    }
  for (gint i = 0; i < priv->frozen_stages; i++)
    mact_cls_freeze (priv->layers[i]);
  if (training && priv->norm_eval)
    mact_cls_eval_batch_norms (module);
}

/* zero_init_residual: the last norm of each residual block (bn3 of a Bottleneck, bn2 of
 * a BasicBlock) starts at 0, so each block starts as its shortcut. */
static void
zero_init_visit (MactModule *module, gpointer user_data)
{
  MactModule *bn = NULL;
  if (MACT_CLS_IS_BOTTLENECK (module))
    bn = mact_module_get_child (module, "bn3");
  else if (MACT_CLS_IS_BASIC_BLOCK (module))
    bn = mact_module_get_child (module, "bn2");
  if (bn == NULL)
    return;
  mact_tensor_fill (mact_module_get_parameter (bn, "weight"), 0.0f);
  mact_tensor_fill (mact_module_get_parameter (bn, "bias"), 0.0f);
}

static gboolean
mact_cls_resnet_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  MactClsResNetPrivate *priv = PRIV (module);
  const char *name = BLOCK_NAME (module);

  if (!mact_cls_init_weights (module, priv->init_cfg, name, generator, error))
    return FALSE;
  /* mmcls skips zero_init_residual after a Pretrained dict, so as not to overwrite the
   * loaded norms. */
  if (priv->pretrained)
    return TRUE;
  if (priv->zero_init_residual)
    mact_cls_foreach_module (module, zero_init_visit, NULL);
  return TRUE;
}

static void
mact_cls_resnet_finalize (GObject *object)
{
  MactClsResNetPrivate *priv = PRIV (object);

  g_free (priv->style);
  g_clear_pointer (&priv->strides, g_variant_unref);
  g_clear_pointer (&priv->dilations, g_variant_unref);
  g_clear_pointer (&priv->out_indices, g_variant_unref);
  mact_cls_clear_json (&priv->conv_cfg);
  mact_cls_clear_json (&priv->norm_cfg);
  mact_cls_clear_json (&priv->init_cfg);
  G_OBJECT_CLASS (mact_cls_resnet_parent_class)->finalize (object);
}

static void
mact_cls_resnet_class_init (MactClsResNetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  static const gint64 default_strides[] = { 1, 2, 2, 2 };
  static const gint64 default_dilations[] = { 1, 1, 1, 1 };
  static const gint64 default_out_indices[] = { 3 };

  object_class->set_property = mact_cls_resnet_set_property;
  object_class->get_property = mact_cls_resnet_get_property;
  object_class->finalize = mact_cls_resnet_finalize;
  module_class->build = mact_cls_resnet_build;
  module_class->forward = mact_cls_resnet_forward;
  module_class->init_weights = mact_cls_resnet_init_weights;
  module_class->set_training = mact_cls_resnet_set_training;
  klass->block_name = "ResNet";
  klass->bottleneck_only = FALSE;
  klass->get_groups = mact_cls_resnet_real_get_groups;

  /**
   * MactClsResNet:depth:
   *
   * Depth of the network: 18, 34 (BasicBlock), 50, 101 or 152 (Bottleneck).  Required.
   */
  properties[PROP_DEPTH] =
    g_param_spec_int ("depth", NULL, NULL, G_MININT, G_MAXINT, 0, flags | MACT_PARAM_REQUIRED);
  /**
   * MactClsResNet:in-channels:
   *
   * Channels of the input images.
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_int ("in-channels", NULL, NULL, G_MININT, G_MAXINT, 3, flags);
  /**
   * MactClsResNet:stem-channels:
   *
   * Output channels of the stem (the 7x7 conv, or the last conv of the deep stem).
   */
  properties[PROP_STEM_CHANNELS] =
    g_param_spec_int ("stem-channels", NULL, NULL, G_MININT, G_MAXINT, 64, flags);
  /**
   * MactClsResNet:base-channels:
   *
   * Middle channels of the first stage; stage i outputs base_channels * expansion * 2^i.
   */
  properties[PROP_BASE_CHANNELS] =
    g_param_spec_int ("base-channels", NULL, NULL, G_MININT, G_MAXINT, 64, flags);
  /**
   * MactClsResNet:expansion:
   *
   * out_channels / mid_channels of the blocks; 0 stands for mmcls's None, the block's
   * own (1 for BasicBlock, which accepts nothing else, 4 for Bottleneck).
   */
  properties[PROP_EXPANSION] =
    g_param_spec_int ("expansion", NULL, NULL, G_MININT, G_MAXINT, 0, flags);
  /**
   * MactClsResNet:num-stages:
   *
   * Number of residual stages, 1 to 4.
   */
  properties[PROP_NUM_STAGES] =
    g_param_spec_int ("num-stages", NULL, NULL, G_MININT, G_MAXINT, 4, flags);
  /**
   * MactClsResNet:strides:
   *
   * The stride of the first block of each stage ("ax", one per stage).
   */
  properties[PROP_STRIDES] =
    g_param_spec_variant ("strides", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (4, default_strides), flags);
  /**
   * MactClsResNet:dilations:
   *
   * The dilation of each stage ("ax", one per stage).
   */
  properties[PROP_DILATIONS] =
    g_param_spec_variant ("dilations", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (4, default_dilations), flags);
  /**
   * MactClsResNet:out-indices:
   *
   * The stages whose outputs forward returns ("ax", default (3,)), in stage order,
   * always as a tuple.
   */
  properties[PROP_OUT_INDICES] =
    g_param_spec_variant ("out-indices", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          mact_int_tuple_new (1, default_out_indices), flags);
  /**
   * MactClsResNet:style:
   *
   * 'pytorch' (the stride is on the 3x3 conv of a Bottleneck) or 'caffe' (on the first
   * 1x1 conv).  BasicBlock ignores it.
   */
  properties[PROP_STYLE] =
    g_param_spec_string ("style", NULL, NULL, "pytorch", flags);
  /**
   * MactClsResNet:deep-stem:
   *
   * Replace the 7x7 stem conv by three 3x3 ConvModules (`stem.0` .. `stem.2`).
   */
  properties[PROP_DEEP_STEM] =
    g_param_spec_boolean ("deep-stem", NULL, NULL, FALSE, flags);
  /**
   * MactClsResNet:avg-down:
   *
   * Downsample shortcuts with a stride-sized average pool and a stride-1 conv.
   */
  properties[PROP_AVG_DOWN] =
    g_param_spec_boolean ("avg-down", NULL, NULL, FALSE, flags);
  /**
   * MactClsResNet:frozen-stages:
   *
   * Stages to freeze (eval mode, no gradients): -1 for none, 0 for the stem, k for the
   * stem and the first k stages.
   */
  properties[PROP_FROZEN_STAGES] =
    g_param_spec_int ("frozen-stages", NULL, NULL, G_MININT, G_MAXINT, -1, flags);
  /**
   * MactClsResNet:conv-cfg:
   *
   * mmcv's conv_cfg: %NULL or `{type: 'Conv' | 'Conv2d'}`; other convolutions are not
   * supported.
   */
  properties[PROP_CONV_CFG] =
    g_param_spec_boxed ("conv-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactClsResNet:norm-cfg:
   *
   * mmcv's norm_cfg: %NULL (BN) or `{type: 'BN' | 'BN2d' | 'SyncBN', requires_grad, eps,
   * momentum}`; requires_grad FALSE freezes the affine parameters of every batch norm.
   */
  properties[PROP_NORM_CFG] =
    g_param_spec_boxed ("norm-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactClsResNet:norm-eval:
   *
   * Keep every batch norm in eval mode (running statistics used and frozen) in training
   * mode.
   */
  properties[PROP_NORM_EVAL] =
    g_param_spec_boolean ("norm-eval", NULL, NULL, FALSE, flags);
  /**
   * MactClsResNet:with-cp:
   *
   * Activation checkpointing.  Accepted and without effect (it only trades GPU memory
   * for time).
   */
  properties[PROP_WITH_CP] =
    g_param_spec_boolean ("with-cp", NULL, NULL, FALSE, flags);
  /**
   * MactClsResNet:zero-init-residual:
   *
   * init_weights() zeroes the last norm of every residual block (not with a
   * 'Pretrained' init_cfg).
   */
  properties[PROP_ZERO_INIT_RESIDUAL] =
    g_param_spec_boolean ("zero-init-residual", NULL, NULL, TRUE, flags);
  /**
   * MactClsResNet:init-cfg:
   *
   * mmcv's init_cfg, applied by init_weights(): one initializer dict or a list
   * (Kaiming, Constant, Normal, Uniform, Xavier, TruncNormal with `layer`, `bias`,
   * `bias_prob`; Pretrained with `checkpoint`, a safetensors file, and `prefix`).  %NULL
   * means mmcls's default: Kaiming on the convs, Constant 1 on the batch norms.
   */
  properties[PROP_INIT_CFG] =
    g_param_spec_boxed ("init-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactClsResNet:drop-path-rate:
   *
   * Stochastic depth: the probability, in [0, 1), that a block's residual branch is
   * dropped for a sample in training mode (the same for every block, as mmcls 0.x).
   */
  properties[PROP_DROP_PATH_RATE] =
    g_param_spec_double ("drop-path-rate", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_cls_resnet_init (MactClsResNet *self)
{
}
