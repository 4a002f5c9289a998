/* mact-native-video-resnet3d-base.c: the shared implementation of mmaction2's ResNet3d
 * family (mmaction/models/backbones/resnet3d.py, resnet3d_slowfast.py's ResNet3dPathway,
 * resnet3d_slowonly.py, resnet2plus1d.py).
 *
 * The module tree mirrors mmaction2's, so the state-dict keys are the same: conv1 (a
 * ConvModule with kernel conv1_kernel), maxpool (1x3x3), pool2 (2x1x1; no parameters),
 * layer1 .. layer<num_stages> (Sequentials of BasicBlock3d or Bottleneck3d, children "0",
 * "1", ...), and for a lateral pathway conv1_lateral and layer<i>_lateral (i < num_stages).
 * Forward returns the outputs of the stages in out_indices, in stage order: one tensor, or
 * a tuple when there are several.
 *
 * mmaction2's subclasses only change defaults (ResNet3dSlowOnly) or add a few switches;
 * GObject cannot give an inherited property another default, so this abstract class holds
 * the whole implementation and every concrete class installs its own copy of the
 * properties, with its defaults, through mact_native_video_resnet3d_base_install_properties().
 *
 * Differences from mmaction2, documented on the properties:
 * - `pretrained` names a .safetensors file (see init_weights); URLs such as
 *   'torchvision://resnet50' are NOT_IMPLEMENTED: convert the checkpoint first.
 * - `non_local` must have no block set to 1 (NonLocal3d is not implemented);
 *   `non_local_cfg` is accepted and unused.
 * - `with_cp` is accepted and has no effect (a GPU memory trade-off only).
 * - conv_cfg/norm_cfg/act_cfg accept mmaction2's 3-D configs only (see
 *   mact-native-video-layers.c); None means the default. */
#include "mact-native-video-resnet3d-base.h"
#include "mact-native-video-layers.h"
#include "mact-native-video-basic-block3d.h"
#include "mact-native-video-bottleneck3d.h"

#include <string.h>

#define MAX_STAGES 4

typedef struct {
  /* properties */
  gint        depth;
  gchar      *pretrained;
  GVariant   *stage_blocks;
  gboolean    pretrained2d;
  gint        in_channels;
  gint        num_stages;
  gint        base_channels;
  GVariant   *out_indices;
  GVariant   *spatial_strides;
  GVariant   *temporal_strides;
  GVariant   *dilations;
  GVariant   *conv1_kernel;
  gint        conv1_stride_s;
  gint        conv1_stride_t;
  gint        pool1_stride_s;
  gint        pool1_stride_t;
  gboolean    with_pool1;
  gboolean    with_pool2;
  gchar      *style;
  gint        frozen_stages;
  GVariant   *inflate;
  gchar      *inflate_style;
  JsonNode   *conv_cfg;
  JsonNode   *norm_cfg;
  JsonNode   *act_cfg;
  gboolean    norm_eval;
  gboolean    with_cp;
  GVariant   *non_local;
  JsonNode   *non_local_cfg;
  gboolean    zero_init_residual;
  gboolean    lateral;
  gboolean    lateral_norm;
  gint        speed_ratio;
  gint        channel_ratio;
  gint        fusion_kernel;

  /* built; modules are borrowed (the children table holds them) */
  gboolean    built;
  gboolean    bottleneck;
  gint        n_stages;
  gboolean    out_mask[MAX_STAGES];
  MactModule *conv1;
  MactModule *maxpool;
  MactModule *pool2;
  MactModule *layers[MAX_STAGES];
  MactModule *layer_laterals[MAX_STAGES];
} MactNativeVideoResNet3dBasePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactNativeVideoResNet3dBase,
                                     mact_native_video_resnet3d_base, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_DEPTH,
  PROP_PRETRAINED,
  PROP_STAGE_BLOCKS,
  PROP_PRETRAINED2D,
  PROP_IN_CHANNELS,
  PROP_NUM_STAGES,
  PROP_BASE_CHANNELS,
  PROP_OUT_INDICES,
  PROP_SPATIAL_STRIDES,
  PROP_TEMPORAL_STRIDES,
  PROP_DILATIONS,
  PROP_CONV1_KERNEL,
  PROP_CONV1_STRIDE_S,
  PROP_CONV1_STRIDE_T,
  PROP_POOL1_STRIDE_S,
  PROP_POOL1_STRIDE_T,
  PROP_WITH_POOL1,
  PROP_WITH_POOL2,
  PROP_STYLE,
  PROP_FROZEN_STAGES,
  PROP_INFLATE,
  PROP_INFLATE_STYLE,
  PROP_CONV_CFG,
  PROP_NORM_CFG,
  PROP_ACT_CFG,
  PROP_NORM_EVAL,
  PROP_WITH_CP,
  PROP_NON_LOCAL,
  PROP_NON_LOCAL_CFG,
  PROP_ZERO_INIT_RESIDUAL,
  /* ResNet3dPathway */
  PROP_LATERAL,
  PROP_LATERAL_NORM,
  PROP_SPEED_RATIO,
  PROP_CHANNEL_RATIO,
  PROP_FUSION_KERNEL,
};

/* mmaction2's arch_settings: the block kind and the number of blocks per stage. */
typedef struct {
  gint     depth;
  gboolean bottleneck;
  gint     stage_blocks[MAX_STAGES];
} ResNet3dArch;

static const ResNet3dArch arch_settings[] = {
  { 18,  FALSE, { 2, 2, 2, 2 } },
  { 34,  FALSE, { 3, 4, 6, 3 } },
  { 50,  TRUE,  { 3, 4, 6, 3 } },
  { 101, TRUE,  { 3, 4, 23, 3 } },
  { 152, TRUE,  { 3, 8, 36, 3 } },
};

static MactNativeVideoResNet3dBasePrivate *
get_priv (gpointer self)
{
  return mact_native_video_resnet3d_base_get_instance_private (
    MACT_NATIVE_VIDEO_RESNET3D_BASE (self));
}

static const char *
block_name (gpointer self)
{
  return MACT_NATIVE_VIDEO_RESNET3D_BASE_GET_CLASS (self)->block_name;
}

static void
replace_string (gchar **slot, const GValue *value)
{
  g_free (*slot);
  *slot = g_value_dup_string (value);
}

static void
resnet3d_set_property (GObject *object, guint prop_id, const GValue *value,
                       GParamSpec *pspec)
{
  MactNativeVideoResNet3dBasePrivate *priv = get_priv (object);

  switch (prop_id)
    {
    case PROP_DEPTH: priv->depth = g_value_get_int (value); break;
    case PROP_PRETRAINED: replace_string (&priv->pretrained, value); break;
    case PROP_STAGE_BLOCKS: mact_native_replace_variant (&priv->stage_blocks, value); break;
    case PROP_PRETRAINED2D: priv->pretrained2d = g_value_get_boolean (value); break;
    case PROP_IN_CHANNELS: priv->in_channels = g_value_get_int (value); break;
    case PROP_NUM_STAGES: priv->num_stages = g_value_get_int (value); break;
    case PROP_BASE_CHANNELS: priv->base_channels = g_value_get_int (value); break;
    case PROP_OUT_INDICES: mact_native_replace_variant (&priv->out_indices, value); break;
    case PROP_SPATIAL_STRIDES:
      mact_native_replace_variant (&priv->spatial_strides, value);
      break;
    case PROP_TEMPORAL_STRIDES:
      mact_native_replace_variant (&priv->temporal_strides, value);
      break;
    case PROP_DILATIONS: mact_native_replace_variant (&priv->dilations, value); break;
    case PROP_CONV1_KERNEL: mact_native_replace_variant (&priv->conv1_kernel, value); break;
    case PROP_CONV1_STRIDE_S: priv->conv1_stride_s = g_value_get_int (value); break;
    case PROP_CONV1_STRIDE_T: priv->conv1_stride_t = g_value_get_int (value); break;
    case PROP_POOL1_STRIDE_S: priv->pool1_stride_s = g_value_get_int (value); break;
    case PROP_POOL1_STRIDE_T: priv->pool1_stride_t = g_value_get_int (value); break;
    case PROP_WITH_POOL1: priv->with_pool1 = g_value_get_boolean (value); break;
    case PROP_WITH_POOL2: priv->with_pool2 = g_value_get_boolean (value); break;
    case PROP_STYLE: replace_string (&priv->style, value); break;
    case PROP_FROZEN_STAGES: priv->frozen_stages = g_value_get_int (value); break;
    case PROP_INFLATE: mact_native_replace_variant (&priv->inflate, value); break;
    case PROP_INFLATE_STYLE: replace_string (&priv->inflate_style, value); break;
    case PROP_CONV_CFG: mact_native_replace_json (&priv->conv_cfg, value); break;
    case PROP_NORM_CFG: mact_native_replace_json (&priv->norm_cfg, value); break;
    case PROP_ACT_CFG: mact_native_replace_json (&priv->act_cfg, value); break;
    case PROP_NORM_EVAL: priv->norm_eval = g_value_get_boolean (value); break;
    case PROP_WITH_CP: priv->with_cp = g_value_get_boolean (value); break;
    case PROP_NON_LOCAL: mact_native_replace_variant (&priv->non_local, value); break;
    case PROP_NON_LOCAL_CFG: mact_native_replace_json (&priv->non_local_cfg, value); break;
    case PROP_ZERO_INIT_RESIDUAL: priv->zero_init_residual = g_value_get_boolean (value); break;
    case PROP_LATERAL: priv->lateral = g_value_get_boolean (value); break;
    case PROP_LATERAL_NORM: priv->lateral_norm = g_value_get_boolean (value); break;
    case PROP_SPEED_RATIO: priv->speed_ratio = g_value_get_int (value); break;
    case PROP_CHANNEL_RATIO: priv->channel_ratio = g_value_get_int (value); break;
    case PROP_FUSION_KERNEL: priv->fusion_kernel = g_value_get_int (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
resnet3d_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactNativeVideoResNet3dBasePrivate *priv = get_priv (object);

  switch (prop_id)
    {
    case PROP_DEPTH: g_value_set_int (value, priv->depth); break;
    case PROP_PRETRAINED: g_value_set_string (value, priv->pretrained); break;
    case PROP_STAGE_BLOCKS: g_value_set_variant (value, priv->stage_blocks); break;
    case PROP_PRETRAINED2D: g_value_set_boolean (value, priv->pretrained2d); break;
    case PROP_IN_CHANNELS: g_value_set_int (value, priv->in_channels); break;
    case PROP_NUM_STAGES: g_value_set_int (value, priv->num_stages); break;
    case PROP_BASE_CHANNELS: g_value_set_int (value, priv->base_channels); break;
    case PROP_OUT_INDICES: g_value_set_variant (value, priv->out_indices); break;
    case PROP_SPATIAL_STRIDES: g_value_set_variant (value, priv->spatial_strides); break;
    case PROP_TEMPORAL_STRIDES: g_value_set_variant (value, priv->temporal_strides); break;
    case PROP_DILATIONS: g_value_set_variant (value, priv->dilations); break;
    case PROP_CONV1_KERNEL: g_value_set_variant (value, priv->conv1_kernel); break;
    case PROP_CONV1_STRIDE_S: g_value_set_int (value, priv->conv1_stride_s); break;
    case PROP_CONV1_STRIDE_T: g_value_set_int (value, priv->conv1_stride_t); break;
    case PROP_POOL1_STRIDE_S: g_value_set_int (value, priv->pool1_stride_s); break;
    case PROP_POOL1_STRIDE_T: g_value_set_int (value, priv->pool1_stride_t); break;
    case PROP_WITH_POOL1: g_value_set_boolean (value, priv->with_pool1); break;
    case PROP_WITH_POOL2: g_value_set_boolean (value, priv->with_pool2); break;
    case PROP_STYLE: g_value_set_string (value, priv->style); break;
    case PROP_FROZEN_STAGES: g_value_set_int (value, priv->frozen_stages); break;
    case PROP_INFLATE: g_value_set_variant (value, priv->inflate); break;
    case PROP_INFLATE_STYLE: g_value_set_string (value, priv->inflate_style); break;
    case PROP_CONV_CFG: g_value_set_boxed (value, priv->conv_cfg); break;
    case PROP_NORM_CFG: g_value_set_boxed (value, priv->norm_cfg); break;
    case PROP_ACT_CFG: g_value_set_boxed (value, priv->act_cfg); break;
    case PROP_NORM_EVAL: g_value_set_boolean (value, priv->norm_eval); break;
    case PROP_WITH_CP: g_value_set_boolean (value, priv->with_cp); break;
    case PROP_NON_LOCAL: g_value_set_variant (value, priv->non_local); break;
    case PROP_NON_LOCAL_CFG: g_value_set_boxed (value, priv->non_local_cfg); break;
    case PROP_ZERO_INIT_RESIDUAL: g_value_set_boolean (value, priv->zero_init_residual); break;
    case PROP_LATERAL: g_value_set_boolean (value, priv->lateral); break;
    case PROP_LATERAL_NORM: g_value_set_boolean (value, priv->lateral_norm); break;
    case PROP_SPEED_RATIO: g_value_set_int (value, priv->speed_ratio); break;
    case PROP_CHANNEL_RATIO: g_value_set_int (value, priv->channel_ratio); break;
    case PROP_FUSION_KERNEL: g_value_set_int (value, priv->fusion_kernel); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* ------------------------------------------------------------------ build */

/* Reads a per-stage tuple (strides, dilations): exactly num_stages positive values, as
 * mmaction2 asserts len(spatial_strides) == len(temporal_strides) == len(dilations) ==
 * num_stages. */
static gboolean
read_stage_tuple (gpointer self, GVariant *tuple, const char *name, gint num_stages,
                  gint *out, GError **error)
{
  if (!mact_native_video_read_ints (tuple, num_stages, num_stages, out, NULL,
                                    block_name (self), name, error))
    return FALSE;
  for (gint i = 0; i < num_stages; i++)
    if (out[i] < 1)
      return mact_native_video_invalid (error, block_name (self), "%s must be positive, got "
                                        "%d at stage %d", name, out[i], i);
  return TRUE;
}

static gboolean
read_out_indices (gpointer self, MactNativeVideoResNet3dBasePrivate *priv, GError **error)
{
  gsize n = priv->out_indices != NULL ? g_variant_n_children (priv->out_indices) : 0;
  if (n == 0)
    return mact_native_video_invalid (error, block_name (self),
                                      "out_indices must name at least one stage");
  memset (priv->out_mask, 0, sizeof priv->out_mask);
  for (gsize i = 0; i < n; i++)
    {
      gint64 index;
      g_variant_get_child (priv->out_indices, i, "x", &index);
      if (index < 0 || index >= priv->num_stages)
        return mact_native_video_invalid (error, block_name (self), "out_indices entry %"
                                          G_GINT64_FORMAT " is not a stage index in "
                                          "[0, num_stages=%d)", index, priv->num_stages);
      priv->out_mask[index] = TRUE;
    }
  return TRUE;
}

static gboolean
read_stage_blocks (gpointer self, MactNativeVideoResNet3dBasePrivate *priv,
                   const ResNet3dArch *arch, gint *stage_blocks, GError **error)
{
  if (priv->stage_blocks == NULL)
    {
      memcpy (stage_blocks, arch->stage_blocks, sizeof (gint) * priv->num_stages);
      return TRUE;
    }
  if (!mact_native_video_read_ints (priv->stage_blocks, priv->num_stages, priv->num_stages,
                                    stage_blocks, NULL, block_name (self), "stage_blocks",
                                    error))
    return FALSE;
  for (gint i = 0; i < priv->num_stages; i++)
    if (stage_blocks[i] < 1)
      return mact_native_video_invalid (error, block_name (self), "stage_blocks must be "
                                        "positive, got %d at stage %d", stage_blocks[i], i);
  return TRUE;
}

/* The geometry of the whole network, read and checked before anything is built. */
typedef struct {
  const ResNet3dArch      *arch;
  gint                     stage_blocks[MAX_STAGES];
  gint                     spatial_strides[MAX_STAGES];
  gint                     temporal_strides[MAX_STAGES];
  gint                     dilations[MAX_STAGES];
  gint                     conv1_kernel[3];
  gboolean                *inflate;      /* one per block */
  gboolean                 caffe_style;
  gboolean                 inflate_3x3x3;
  MactNativeVideoLayerCfg  cfg;
} Geometry;

static gboolean
read_geometry (gpointer self, MactNativeVideoResNet3dBasePrivate *priv, Geometry *g,
               GError **error)
{
  MactNativeVideoResNet3dBaseClass *klass = MACT_NATIVE_VIDEO_RESNET3D_BASE_GET_CLASS (self);
  const char *name = klass->block_name;
  MactNativeLayerCfg act_cfg;
  gint n_kernel = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (arch_settings); i++)
    if (arch_settings[i].depth == priv->depth)
      g->arch = &arch_settings[i];
  if (g->arch == NULL)
    return mact_native_video_invalid (error, name, "invalid depth %d (expected 18, 34, 50, "
                                      "101 or 152)", priv->depth);
  if (priv->num_stages < 1 || priv->num_stages > MAX_STAGES)
    return mact_native_video_invalid (error, name, "num_stages must be in [1, 4], got %d",
                                      priv->num_stages);
  if (priv->in_channels < 1)
    return mact_native_video_invalid (error, name, "in_channels must be positive, got %d",
                                      priv->in_channels);
  if (priv->base_channels < 1)
    return mact_native_video_invalid (error, name, "base_channels must be positive, got %d",
                                      priv->base_channels);
  if (!read_stage_blocks (self, priv, g->arch, g->stage_blocks, error) ||
      !read_out_indices (self, priv, error) ||
      !read_stage_tuple (self, priv->spatial_strides, "spatial_strides", priv->num_stages,
                         g->spatial_strides, error) ||
      !read_stage_tuple (self, priv->temporal_strides, "temporal_strides", priv->num_stages,
                         g->temporal_strides, error) ||
      !read_stage_tuple (self, priv->dilations, "dilations", priv->num_stages, g->dilations,
                         error))
    return FALSE;

  /* conv1_kernel: an int or a (T, H, W) triple, as mmcv's ConvModule accepts. */
  if (!mact_native_video_read_ints (priv->conv1_kernel, 1, 3, g->conv1_kernel, &n_kernel,
                                    name, "conv1_kernel", error))
    return FALSE;
  if (n_kernel == 2)
    return mact_native_video_invalid (error, name, "conv1_kernel must be an int or a "
                                      "(T, H, W) triple, got 2 entries");
  if (n_kernel == 1)
    g->conv1_kernel[1] = g->conv1_kernel[2] = g->conv1_kernel[0];
  for (gint i = 0; i < 3; i++)
    if (g->conv1_kernel[i] < 1)
      return mact_native_video_invalid (error, name, "conv1_kernel must be positive, got %d",
                                        g->conv1_kernel[i]);
  if (priv->conv1_stride_s < 1 || priv->conv1_stride_t < 1 || priv->pool1_stride_s < 1 ||
      priv->pool1_stride_t < 1)
    return mact_native_video_invalid (error, name, "conv1_stride_s, conv1_stride_t, "
                                      "pool1_stride_s and pool1_stride_t must be positive, "
                                      "got %d, %d, %d, %d", priv->conv1_stride_s,
                                      priv->conv1_stride_t, priv->pool1_stride_s,
                                      priv->pool1_stride_t);

  if (priv->style == NULL ||
      !(g_str_equal (priv->style, "pytorch") || g_str_equal (priv->style, "caffe")))
    return mact_native_video_invalid (error, name, "style must be 'pytorch' or 'caffe', got "
                                      "'%s'", priv->style ? priv->style : "(null)");
  if (priv->inflate_style == NULL ||
      !(g_str_equal (priv->inflate_style, "3x1x1") ||
        g_str_equal (priv->inflate_style, "3x3x3")))
    return mact_native_video_invalid (error, name, "inflate_style must be '3x1x1' or "
                                      "'3x3x3', got '%s'",
                                      priv->inflate_style ? priv->inflate_style : "(null)");
  g->caffe_style = g_str_equal (priv->style, "caffe");
  g->inflate_3x3x3 = g_str_equal (priv->inflate_style, "3x3x3");
  if (priv->frozen_stages < -1 || priv->frozen_stages > priv->num_stages)
    return mact_native_video_invalid (error, name, "frozen_stages must be in [-1, "
                                      "num_stages=%d], got %d", priv->num_stages,
                                      priv->frozen_stages);

  gint total_blocks = 0;
  for (gint i = 0; i < priv->num_stages; i++)
    total_blocks += g->stage_blocks[i];
  g->inflate = g_new0 (gboolean, total_blocks);
  g_autofree gboolean *non_local = g_new0 (gboolean, total_blocks);
  if (!mact_native_video_read_block_flags (priv->inflate, priv->num_stages, g->stage_blocks,
                                           g->inflate, name, "inflate", error) ||
      !mact_native_video_read_block_flags (priv->non_local, priv->num_stages,
                                           g->stage_blocks, non_local, name, "non_local",
                                           error))
    return FALSE;
  for (gint i = 0; i < total_blocks; i++)
    if (non_local[i])
      return mact_native_video_invalid (error, name, "non_local blocks are not supported "
                                        "(block %d is set to 1); use non_local=0", i);

  if (klass->plus1d && priv->pretrained2d)
    return mact_native_video_invalid (error, name, "pretrained2d must be False (2-D weights "
                                      "cannot be inflated into Conv2plus1d)");
  if (klass->forbid_lateral && priv->lateral)
    return mact_native_video_invalid (error, name, "lateral must be False");
  if (priv->lateral && (priv->speed_ratio < 1 || priv->channel_ratio < 1 ||
                        priv->fusion_kernel < 1))
    return mact_native_video_invalid (error, name, "speed_ratio, channel_ratio and "
                                      "fusion_kernel must be positive, got %d, %d, %d",
                                      priv->speed_ratio, priv->channel_ratio,
                                      priv->fusion_kernel);

  if (!mact_native_video_parse_conv_cfg (priv->conv_cfg, name, klass->plus1d, &g->cfg,
                                         error) ||
      !mact_native_video_parse_norm_cfg (priv->norm_cfg, name, "norm_cfg", &g->cfg.norm,
                                         error) ||
      !mact_native_parse_act_cfg (priv->act_cfg, name, &act_cfg, error))
    return FALSE;
  if (klass->plus1d && !g->cfg.plus1d)
    return mact_native_video_invalid (error, name, "conv_cfg must be "
                                      "{\"type\": \"Conv2plus1d\"}");
  return TRUE;
}

/* A lateral connection: a (fusion_kernel x 1 x 1) conv with temporal stride speed_ratio
 * from the fast pathway's width to twice that, with norm and ReLU only when lateral_norm
 * (mmaction2's "third type" of lateral connection: out = 2 * beta * C). */
static MactModule *
make_lateral (gpointer self, MactNativeVideoResNet3dBasePrivate *priv, gint inplanes,
              const Geometry *g, GError **error)
{
  const gint in = inplanes / priv->channel_ratio, out = inplanes * 2 / priv->channel_ratio;
  const gint k[3] = { priv->fusion_kernel, 1, 1 };
  const gint s[3] = { priv->speed_ratio, 1, 1 };
  const gint p[3] = { (priv->fusion_kernel - 1) / 2, 0, 0 };
  const gint one[3] = { 1, 1, 1 };

  if (in < 1)
    {
      mact_native_video_invalid (error, block_name (self), "channel_ratio %d leaves no "
                                 "lateral input channel for %d channels", priv->channel_ratio,
                                 inplanes);
      return NULL;
    }
  return mact_native_video_conv_module_new (in, out, k, s, p, one, 1, &g->cfg,
                                            priv->lateral_norm, priv->lateral_norm, error);
}

/* mmaction2's make_res_layer (ResNet3dPathway's when lateral: the first block also takes
 * the lateral channels concatenated by the SlowFast forward). */
static MactModule *
make_res_layer (MactNativeVideoResNet3dBasePrivate *priv, const Geometry *g, gint stage,
                gint inplanes, gint planes, const gboolean *inflate, GError **error)
{
  const gint expansion = g->arch->bottleneck ? MACT_NATIVE_VIDEO_BOTTLENECK3D_EXPANSION : 1;
  const gint ss = g->spatial_strides[stage], ts = g->temporal_strides[stage];
  const gint dilation = g->dilations[stage];
  const gint lateral_inplanes = priv->lateral ? inplanes * 2 / priv->channel_ratio : 0;
  g_autoptr(MactModule) downsample = NULL;

  /* As in mmaction2, a temporal stride alone does not add a shortcut conv. */
  if (ss != 1 || inplanes + lateral_inplanes != planes * expansion)
    {
      const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
      const gint s[3] = { ts, ss, ss };
      downsample = mact_native_video_conv_module_new (inplanes + lateral_inplanes,
                                                      planes * expansion, one, s, zero, one,
                                                      1, &g->cfg, TRUE, FALSE, error);
      if (downsample == NULL)
        return NULL;
    }

  g_autoptr(MactModule) layer = mact_sequential_new ();
  gint in = inplanes + lateral_inplanes;
  for (gint b = 0; b < g->stage_blocks[stage]; b++)
    {
      const gint block_ss = b == 0 ? ss : 1, block_ts = b == 0 ? ts : 1;
      MactModule *shortcut = b == 0 ? downsample : NULL;
      g_autoptr(MactModule) block =
        g->arch->bottleneck
        ? mact_native_video_bottleneck3d_new (in, planes, block_ss, block_ts, dilation,
                                              shortcut, g->caffe_style, inflate[b],
                                              g->inflate_3x3x3, &g->cfg, error)
        : mact_native_video_basic_block3d_new (in, planes, block_ss, block_ts, dilation,
                                               shortcut, inflate[b], &g->cfg, error);
      if (block == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (layer), block);
      in = planes * expansion;
    }
  return g_steal_pointer (&layer);
}

static gboolean
build_network (MactModule *module, MactNativeVideoResNet3dBasePrivate *priv,
               const Geometry *g, GError **error)
{
  const gint stem_s[3] = { priv->conv1_stride_t, priv->conv1_stride_s, priv->conv1_stride_s };
  const gint stem_p[3] = { (g->conv1_kernel[0] - 1) / 2, (g->conv1_kernel[1] - 1) / 2,
                           (g->conv1_kernel[2] - 1) / 2 };
  const gint one[3] = { 1, 1, 1 };

  g_autoptr(MactModule) conv1 = mact_native_video_conv_module_new (priv->in_channels,
                                                                   priv->base_channels,
                                                                   g->conv1_kernel, stem_s,
                                                                   stem_p, one, 1, &g->cfg,
                                                                   TRUE, TRUE, error);
  if (conv1 == NULL)
    return FALSE;
  const gint pool1_k[3] = { 1, 3, 3 };
  const gint pool1_s[3] = { priv->pool1_stride_t, priv->pool1_stride_s, priv->pool1_stride_s };
  const gint pool1_p[3] = { 0, 1, 1 };
  g_autoptr(MactModule) maxpool = mact_max_pool_new (3, pool1_k, pool1_s, pool1_p, FALSE,
                                                     error);
  if (maxpool == NULL)
    return FALSE;
  const gint pool2_k[3] = { 2, 1, 1 }, pool2_p[3] = { 0, 0, 0 };
  g_autoptr(MactModule) pool2 = mact_max_pool_new (3, pool2_k, pool2_k, pool2_p, FALSE, error);
  if (pool2 == NULL)
    return FALSE;
  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "maxpool", maxpool);
  mact_module_add_child (module, "pool2", pool2);
  priv->conv1 = conv1;
  priv->maxpool = maxpool;
  priv->pool2 = pool2;

  const gint expansion = g->arch->bottleneck ? MACT_NATIVE_VIDEO_BOTTLENECK3D_EXPANSION : 1;
  gint inplanes = priv->base_channels, offset = 0;
  for (gint i = 0; i < priv->num_stages; i++)
    {
      const gint planes = priv->base_channels << i;
      g_autoptr(MactModule) layer = make_res_layer (priv, g, i, inplanes, planes,
                                                    g->inflate + offset, error);
      if (layer == NULL)
        return FALSE;
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, name, layer);
      priv->layers[i] = layer;
      inplanes = planes * expansion;
      offset += g->stage_blocks[i];
    }

  /* ResNet3dPathway registers its lateral connections after the stages. */
  if (priv->lateral)
    {
      g_autoptr(MactModule) conv1_lateral = make_lateral (module, priv, priv->base_channels, g,
                                                          error);
      if (conv1_lateral == NULL)
        return FALSE;
      mact_module_add_child (module, "conv1_lateral", conv1_lateral);
      for (gint i = 0; i < priv->num_stages - 1; i++)
        {
          g_autoptr(MactModule) lateral =
            make_lateral (module, priv, (priv->base_channels << i) * expansion, g, error);
          if (lateral == NULL)
            return FALSE;
          g_autofree char *name = g_strdup_printf ("layer%d_lateral", i + 1);
          mact_module_add_child (module, name, lateral);
          priv->layer_laterals[i] = lateral;
        }
    }
  return TRUE;
}

static gboolean
mact_native_video_resnet3d_base_build (MactModule *module, GError **error)
{
  MactNativeVideoResNet3dBasePrivate *priv = get_priv (module);
  Geometry g = { 0 };

  if (!MACT_MODULE_CLASS (mact_native_video_resnet3d_base_parent_class)->build (module, error))
    return FALSE;
  gboolean ok = read_geometry (module, priv, &g, error) &&
                build_network (module, priv, &g, error);
  g_free (g.inflate);
  if (!ok)
    return FALSE;
  priv->bottleneck = g.arch->bottleneck;
  priv->n_stages = priv->num_stages;
  priv->built = TRUE;

  /* Apply frozen_stages / norm_eval for the current mode now, so that a freshly built
   * backbone is already in the state mmaction2 reaches with .train(). */
  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

/* ------------------------------------------------------------------ forward */

static GPtrArray *
mact_native_video_resnet3d_base_forward (MactModule *module, GPtrArray *inputs,
                                         GError **error)
{
  MactNativeVideoResNet3dBasePrivate *priv = get_priv (module);
  MactNativeVideoResNet3dBaseClass *klass = MACT_NATIVE_VIDEO_RESNET3D_BASE_GET_CLASS (module);

  if (!mact_native_check_single_input (inputs, klass->block_name, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (x) != 5 || mact_tensor_get_size (x, 1) != priv->in_channels)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected input [N, %d, T, H, W], got %s", klass->block_name,
                   priv->in_channels, shape);
      return NULL;
    }

  g_autoptr(MactTensor) out = mact_module_forward1 (priv->conv1, x, error);
  if (out == NULL)
    return NULL;
  /* ResNet2Plus1d's forward always pools after the stem and has no pool2. */
  if (priv->with_pool1 || klass->plus1d)
    {
      MactTensor *pooled = mact_module_forward1 (priv->maxpool, out, error);
      if (pooled == NULL)
        return NULL;
      mact_tensor_unref (out);
      out = pooled;
    }

  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (gint i = 0; i < priv->n_stages; i++)
    {
      MactTensor *next = mact_module_forward1 (priv->layers[i], out, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (out);
      out = next;
      if (i == 0 && priv->with_pool2 && !klass->plus1d)
        {
          next = mact_module_forward1 (priv->pool2, out, error);
          if (next == NULL)
            return NULL;
          mact_tensor_unref (out);
          out = next;
        }
      if (priv->out_mask[i])
        g_ptr_array_add (outs, mact_tensor_ref (out));
    }
  return g_steal_pointer (&outs);
}

/* ------------------------------------------------------------------ train / init */

static void
freeze (MactModule *module)
{
  mact_module_eval (module);
  mact_native_set_requires_grad (module, FALSE);
}

static void
mact_native_video_resnet3d_base_set_training (MactModule *module, gboolean training)
{
  MactNativeVideoResNet3dBasePrivate *priv = get_priv (module);

  MACT_MODULE_CLASS (mact_native_video_resnet3d_base_parent_class)->set_training (module,
                                                                                  training);
  if (!priv->built)
    return;

  /* _freeze_stages: the stem and the first frozen_stages layers stay in eval mode and are
   * not trained; a pathway also freezes the lateral connection after each frozen stage
   * (not conv1_lateral, as in mmaction2). */
  if (priv->frozen_stages >= 0)
    freeze (priv->conv1);
  for (gint i = 1; i <= priv->frozen_stages; i++)
    {
      freeze (priv->layers[i - 1]);
      if (priv->lateral && i != priv->n_stages)
        freeze (priv->layer_laterals[i - 1]);
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

static void
zero_init_visit (MactModule *module, gpointer user_data)
{
  if (MACT_NATIVE_VIDEO_IS_BOTTLENECK3D (module))
    mact_native_video_zero_norm (mact_native_video_bottleneck3d_get_last_conv (
                                   MACT_NATIVE_VIDEO_BOTTLENECK3D (module)));
  else if (MACT_NATIVE_VIDEO_IS_BASIC_BLOCK3D (module))
    mact_native_video_zero_norm (mact_native_video_basic_block3d_get_last_conv (
                                   MACT_NATIVE_VIDEO_BASIC_BLOCK3D (module)));
}

static gboolean
load_pretrained (MactModule *module, MactNativeVideoResNet3dBasePrivate *priv,
                 GError **error)
{
  const char *name = block_name (module);

  if (!priv->pretrained2d)
    return mact_native_video_load_checkpoint (module, name, priv->pretrained, FALSE, error);
  g_autoptr(MactTensorDict) weights = mact_native_video_read_checkpoint (name,
                                                                         priv->pretrained,
                                                                         error);
  return weights != NULL &&
         mact_native_video_resnet3d_base_inflate_weights (
           MACT_NATIVE_VIDEO_RESNET3D_BASE (module), weights, error);
}

static gboolean
mact_native_video_resnet3d_base_init_weights (MactModule *module, MactGenerator *generator,
                                              GError **error)
{
  MactNativeVideoResNet3dBasePrivate *priv = get_priv (module);

  if (priv->pretrained != NULL)
    return load_pretrained (module, priv, error);

  /* pretrained=None: kaiming for every Conv3d (the lateral ones included), ones and zeros
   * for every norm, then the last norm of each residual branch zeroed. */
  InitState state = { generator ? generator : mact_generator_get_default (), NULL };
  mact_native_foreach_module (module, init_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, "%s: init_weights: ",
                                  block_name (module));
      return FALSE;
    }
  if (priv->zero_init_residual)
    mact_native_foreach_module (module, zero_init_visit, NULL);
  return TRUE;
}

/* ------------------------------------------------------------------ 2-D inflation */

static gboolean
copy_into (MactTensor *dst, MactTensor *src, const char *what, GError **error)
{
  if (mact_tensor_copy_from (dst, src, error))
    return TRUE;
  g_prefix_error (error, "inflating %s: ", what);
  return FALSE;
}

/* w2d [O, I, kh, kw] -> w2d.unsqueeze(2).expand(O, I, kt, kh, kw) / kt. */
static MactTensor *
inflate_kernel (MactTensor *w2d, gint64 kt, GError **error)
{
  g_autoptr(MactTensor) w = mact_tensor_unsqueeze (w2d, 2, error);
  if (w == NULL)
    return NULL;
  g_autofree MactTensor **copies = g_new (MactTensor *, kt);
  for (gint64 i = 0; i < kt; i++)
    copies[i] = w;
  g_autoptr(MactTensor) expanded = mact_cat (copies, (guint) kt, 2, error);
  if (expanded == NULL)
    return NULL;
  /* A division, as mmaction2's `/ kernel_t`, not a multiplication by its inverse. */
  g_autoptr(MactTensor) divisor = mact_tensor_new_scalar ((float) kt);
  return mact_div (expanded, divisor, error);
}

static gboolean
same_shape (MactTensor *a, const gint64 *shape, gint ndim)
{
  gint nd;
  const gint64 *s = mact_tensor_get_shape (a, &nd);
  if (nd != ndim)
    return FALSE;
  for (gint i = 0; i < nd; i++)
    if (s[i] != shape[i])
      return FALSE;
  return TRUE;
}

static gboolean
inflate_conv (gboolean pathway, MactModule *conv, MactTensorDict *sd, const char *name_2d,
              GError **error)
{
  g_autofree char *weight_key = g_strconcat (name_2d, ".weight", NULL);
  MactTensor *w3d = mact_module_get_parameter (conv, "weight");
  g_autoptr(MactTensor) w2d = mact_tensor_ref (mact_tensor_dict_lookup (sd, weight_key));
  gint nd;
  const gint64 *s3 = mact_tensor_get_shape (w3d, &nd);
  const gint64 expected[4] = { s3[0], s3[1], s3[3], s3[4] };

  if (mact_tensor_get_ndim (w2d) != 4)
    return TRUE;
  /* A pathway's first blocks take extra lateral input channels: mmaction2 pads the 2-D
   * kernel with zeros for them (and skips a kernel with more input channels). */
  if (pathway && mact_tensor_get_size (w2d, 1) < s3[1])
    {
      const gint64 pad_shape[4] = { mact_tensor_get_size (w2d, 0),
                                    s3[1] - mact_tensor_get_size (w2d, 1),
                                    mact_tensor_get_size (w2d, 2),
                                    mact_tensor_get_size (w2d, 3) };
      g_autoptr(MactTensor) zeros = mact_tensor_new (4, pad_shape, error);
      if (zeros == NULL)
        return FALSE;
      MactTensor *parts[2] = { w2d, zeros };
      MactTensor *padded = mact_cat (parts, 2, 1, error);
      if (padded == NULL)
        return FALSE;
      mact_tensor_unref (w2d);
      w2d = padded;
    }
  /* A shape that does not fit is skipped, as mmaction2 warns and skips. */
  if (!same_shape (w2d, expected, 4))
    return TRUE;
  /* mmaction2 also copies the conv's bias when it has one; the ResNet3d family's convs
   * never have one (bias=False). */
  g_autoptr(MactTensor) inflated = inflate_kernel (w2d, s3[2], error);
  return inflated != NULL && copy_into (w3d, inflated, weight_key, error);
}

/* mmaction2's _inflate_bn_params: the affine parameters are copied unless one has another
 * shape (then the whole norm is skipped); the buffers are copied when present. */
static gboolean
inflate_bn (MactModule *bn, MactTensorDict *sd, const char *name_2d, GError **error)
{
  static const char *const params[] = { "weight", "bias" };
  static const char *const buffers[] = { "running_mean", "running_var",
                                         "num_batches_tracked" };

  for (guint i = 0; i < G_N_ELEMENTS (params); i++)
    {
      MactTensor *param = mact_module_get_parameter (bn, params[i]);
      if (param == NULL)
        continue;
      g_autofree char *key = g_strconcat (name_2d, ".", params[i], NULL);
      MactTensor *p2d = mact_tensor_dict_lookup (sd, key);
      if (p2d == NULL)
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT,
                       "the 2-D checkpoint has %s.weight but not %s", name_2d, key);
          return FALSE;
        }
      gint nd;
      const gint64 *shape = mact_tensor_get_shape (param, &nd);
      if (!same_shape (p2d, shape, nd))
        return TRUE;
      if (!copy_into (param, p2d, key, error))
        return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    {
      MactTensor *buffer = mact_module_get_buffer (bn, buffers[i]);
      g_autofree char *key = g_strconcat (name_2d, ".", buffers[i], NULL);
      MactTensor *b2d = mact_tensor_dict_lookup (sd, key);
      if (buffer == NULL || b2d == NULL)
        continue;
      /* A one-element count is stored as [] or [1]. */
      if (mact_tensor_get_numel (buffer) == 1 && mact_tensor_get_numel (b2d) == 1)
        {
          g_autoptr(MactTensor) flat = mact_tensor_reshape (b2d, 0, NULL, error);
          if (flat == NULL)
            return FALSE;
          mact_tensor_fill (buffer, mact_tensor_item (flat));
          continue;
        }
      if (!copy_into (buffer, b2d, key, error))
        return FALSE;
    }
  return TRUE;
}

static char *
replace_all (const char *s, const char *from, const char *to)
{
  g_auto(GStrv) parts = g_strsplit (s, from, -1);
  return g_strjoinv (to, parts);
}

static gboolean
inflate_conv_module (gboolean pathway, MactModule *module, const char *name,
                     MactTensorDict *sd, GError **error)
{
  g_autofree char *conv_2d = NULL;
  g_autofree char *bn_2d = NULL;

  /* ConvModules wrap conv + bn: layer1.0.conv1.conv <- layer1.0.conv1 and
   * layer1.0.conv1.bn <- layer1.0.bn1; layer1.0.downsample.conv/bn <- downsample.0/1;
   * conv1.conv/bn <- conv1/bn1 (every "conv" in the name becomes "bn", as Python's
   * str.replace does). */
  if (strstr (name, "downsample") != NULL)
    {
      conv_2d = g_strconcat (name, ".0", NULL);
      bn_2d = g_strconcat (name, ".1", NULL);
    }
  else
    {
      conv_2d = g_strdup (name);
      bn_2d = replace_all (name, "conv", "bn");
    }
  g_autofree char *conv_key = g_strconcat (conv_2d, ".weight", NULL);
  g_autofree char *bn_key = g_strconcat (bn_2d, ".weight", NULL);
  MactModule *conv = mact_module_get_child (module, "conv");
  MactModule *bn = mact_module_get_child (module, "bn");
  if (mact_tensor_dict_contains (sd, conv_key) && MACT_IS_CONV (conv) &&
      !inflate_conv (pathway, conv, sd, conv_2d, error))
    return FALSE;
  if (mact_tensor_dict_contains (sd, bn_key) && bn != NULL &&
      !inflate_bn (bn, sd, bn_2d, error))
    return FALSE;
  return TRUE;
}

static gboolean
inflate_walk (gboolean pathway, MactModule *root, const char *prefix, MactTensorDict *sd,
              GError **error)
{
  g_auto(GStrv) names = mact_module_list_children (root);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      MactModule *child = mact_module_get_child (root, names[i]);
      g_autofree char *path = prefix != NULL ? g_strconcat (prefix, ".", names[i], NULL)
                                             : g_strdup (names[i]);
      /* A pathway's lateral connections have no 2-D counterpart. */
      if (pathway && strstr (path, "lateral") != NULL)
        continue;
      if (MACT_IS_CONV_MODULE (child) &&
          !inflate_conv_module (pathway, child, path, sd, error))
        return FALSE;
      if (!inflate_walk (pathway, child, path, sd, error))
        return FALSE;
    }
  return TRUE;
}

/**
 * mact_native_video_resnet3d_base_inflate_weights:
 * @self: a built ResNet3d-family backbone
 * @state_dict_2d: a 2-D ResNet's state dict with torchvision's key names (conv1.weight,
 *   bn1.*, layer1.0.conv1.weight, layer1.0.bn1.*, layer1.0.downsample.0/1.*, ...)
 * @error: return location for a #GError
 *
 * mmaction2's `inflate_weights`: every ConvModule takes the 2-D conv weight repeated
 * along time and divided by the temporal kernel size, and the 2-D norm's parameters and
 * buffers.  Entries the 2-D checkpoint lacks, or whose shapes do not fit, are skipped (as
 * mmaction2 warns and skips); unused 2-D entries (fc.*) are ignored.  A pathway (ResNet3dPathway,
 * ResNet3dSlowOnly) skips its lateral connections and zero-pads kernels whose 3-D
 * version takes extra lateral input channels.  Values are copied into the existing
 * parameters (no autograd record).
 *
 * Errors: %MACT_MODULE_ERROR_STATE_DICT when a 2-D entry is incomplete (a norm weight
 * without its bias).
 *
 * Returns: %TRUE on success
 */
gboolean
mact_native_video_resnet3d_base_inflate_weights (MactNativeVideoResNet3dBase *self,
                                                 MactTensorDict *state_dict_2d,
                                                 GError **error)
{
  g_return_val_if_fail (MACT_NATIVE_VIDEO_IS_RESNET3D_BASE (self), FALSE);
  g_return_val_if_fail (state_dict_2d != NULL, FALSE);
  gboolean pathway = MACT_NATIVE_VIDEO_RESNET3D_BASE_GET_CLASS (self)->pathway;
  gboolean ok;

  MACT_NO_GRAD_BEGIN
  ok = inflate_walk (pathway, MACT_MODULE (self), NULL, state_dict_2d, error);
  MACT_NO_GRAD_END
  if (!ok)
    g_prefix_error (error, "%s: pretrained2d: ", block_name (self));
  return ok;
}

/**
 * mact_native_video_resnet3d_base_get_lateral:
 * @self: a backbone
 *
 * Returns: whether it has lateral connections (a SlowFast slow pathway)
 */
gboolean
mact_native_video_resnet3d_base_get_lateral (MactNativeVideoResNet3dBase *self)
{
  return get_priv (self)->lateral;
}

/**
 * mact_native_video_resnet3d_base_get_num_stages:
 * @self: a backbone
 *
 * Returns: its number of stages
 */
gint
mact_native_video_resnet3d_base_get_num_stages (MactNativeVideoResNet3dBase *self)
{
  return get_priv (self)->num_stages;
}

/* ------------------------------------------------------------------ class */

static void
mact_native_video_resnet3d_base_finalize (GObject *object)
{
  MactNativeVideoResNet3dBasePrivate *priv = get_priv (object);

  g_free (priv->pretrained);
  g_free (priv->style);
  g_free (priv->inflate_style);
  g_clear_pointer (&priv->stage_blocks, g_variant_unref);
  g_clear_pointer (&priv->out_indices, g_variant_unref);
  g_clear_pointer (&priv->spatial_strides, g_variant_unref);
  g_clear_pointer (&priv->temporal_strides, g_variant_unref);
  g_clear_pointer (&priv->dilations, g_variant_unref);
  g_clear_pointer (&priv->conv1_kernel, g_variant_unref);
  g_clear_pointer (&priv->inflate, g_variant_unref);
  g_clear_pointer (&priv->non_local, g_variant_unref);
  mact_native_clear_json (&priv->conv_cfg);
  mact_native_clear_json (&priv->norm_cfg);
  mact_native_clear_json (&priv->act_cfg);
  mact_native_clear_json (&priv->non_local_cfg);
  G_OBJECT_CLASS (mact_native_video_resnet3d_base_parent_class)->finalize (object);
}

static void
mact_native_video_resnet3d_base_class_init (MactNativeVideoResNet3dBaseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->finalize = mact_native_video_resnet3d_base_finalize;
  module_class->build = mact_native_video_resnet3d_base_build;
  module_class->forward = mact_native_video_resnet3d_base_forward;
  module_class->init_weights = mact_native_video_resnet3d_base_init_weights;
  module_class->set_training = mact_native_video_resnet3d_base_set_training;
  klass->block_name = "ResNet3d";
}

static void
mact_native_video_resnet3d_base_init (MactNativeVideoResNet3dBase *self)
{
}

static GParamSpec *
int_prop (const char *name, gint def, GParamFlags extra)
{
  return g_param_spec_int (name, NULL, NULL, G_MININT, G_MAXINT, def,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS |
                           extra);
}

static GParamSpec *
bool_prop (const char *name, gboolean def)
{
  return g_param_spec_boolean (name, NULL, NULL, def, G_PARAM_READWRITE |
                               G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
string_prop (const char *name, const char *def)
{
  return g_param_spec_string (name, NULL, NULL, def, G_PARAM_READWRITE |
                              G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
tuple_prop (const char *name, const GVariantType *type, GVariant *def)
{
  return g_param_spec_variant (name, NULL, NULL, type, def, G_PARAM_READWRITE |
                               G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
json_prop (const char *name)
{
  return g_param_spec_boxed (name, NULL, NULL, JSON_TYPE_NODE, G_PARAM_READWRITE |
                             G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
}

/**
 * mact_native_video_resnet3d_base_install_properties:
 * @klass: the class_init argument of a concrete subclass
 * @defaults: the defaults in which the subclass differs from ResNet3d
 *
 * Installs mmaction2's ResNet3d constructor arguments on @klass (and ResNet3dPathway's
 * when @defaults asks) and routes them to this class's storage.  The arguments, their
 * defaults and their mact-specific limits:
 *
 * - `depth` (required): 18, 34 (BasicBlock3d), 50, 101, 152 (Bottleneck3d);
 * - `pretrained` (%NULL): a .safetensors file read by init_weights(): a 2-D ResNet
 *   (torchvision key names) inflated when `pretrained2d`, else a 3-D state dict loaded
 *   non-strictly; URLs are %MACT_MODULE_ERROR_NOT_IMPLEMENTED;
 * - `stage_blocks` (None: the depth's), `pretrained2d` (True), `in_channels` (3),
 *   `num_stages` (4), `base_channels` (64), `out_indices` ((3,)), `spatial_strides`
 *   ((1, 2, 2, 2)), `temporal_strides` ((1, 1, 1, 1)), `dilations` ((1, 1, 1, 1)),
 *   `conv1_kernel` ((3, 7, 7); an int or a triple), `conv1_stride_s` (2),
 *   `conv1_stride_t` (1), `pool1_stride_s` (2), `pool1_stride_t` (1), `with_pool1`
 *   (True), `with_pool2` (True), `style` ('pytorch' | 'caffe'), `frozen_stages` (-1);
 * - `inflate` ((1, 1, 1, 1)): an int, or one entry per stage, each an int or a tuple with
 *   one entry per block; a block is inflated when its entry is 1;
 * - `inflate_style` ('3x1x1' | '3x3x3'), `conv_cfg` (Conv3d; Conv2plus1d for
 *   ResNet2Plus1d), `norm_cfg` (BN3d or SyncBN with requires_grad, eps, momentum),
 *   `act_cfg` (ReLU), `norm_eval` (False), `with_cp` (False, no effect);
 * - `non_local` ((0, 0, 0, 0); same shape rules as inflate; no block may be 1),
 *   `non_local_cfg` (unused), `zero_init_residual` (True);
 * - pathway only: `lateral` (False), `lateral_norm` (False), `speed_ratio` (8),
 *   `channel_ratio` (8), `fusion_kernel` (5).
 */
void
mact_native_video_resnet3d_base_install_properties (GObjectClass *klass,
                                                    const MactNativeVideoResNet3dDefaults *d)
{
  static const gint64 out_indices[] = { 3 };
  static const gint64 spatial_strides[] = { 1, 2, 2, 2 };
  static const gint64 ones[] = { 1, 1, 1, 1 };
  static const gint64 zeros[] = { 0, 0, 0, 0 };
  const GVariantType *ax = G_VARIANT_TYPE ("ax");

  klass->set_property = resnet3d_set_property;
  klass->get_property = resnet3d_get_property;

  g_object_class_install_property (klass, PROP_DEPTH, int_prop ("depth", 0,
                                                                MACT_PARAM_REQUIRED));
  g_object_class_install_property (klass, PROP_PRETRAINED, string_prop ("pretrained", NULL));
  g_object_class_install_property (klass, PROP_STAGE_BLOCKS,
                                   tuple_prop ("stage-blocks", ax, NULL));
  g_object_class_install_property (klass, PROP_PRETRAINED2D, bool_prop ("pretrained2d", TRUE));
  g_object_class_install_property (klass, PROP_IN_CHANNELS, int_prop ("in-channels", 3, 0));
  g_object_class_install_property (klass, PROP_NUM_STAGES, int_prop ("num-stages", 4, 0));
  g_object_class_install_property (klass, PROP_BASE_CHANNELS,
                                   int_prop ("base-channels", 64, 0));
  g_object_class_install_property (klass, PROP_OUT_INDICES,
                                   tuple_prop ("out-indices", ax,
                                               mact_native_video_int_tuple (1, out_indices)));
  g_object_class_install_property (klass, PROP_SPATIAL_STRIDES,
                                   tuple_prop ("spatial-strides", ax,
                                               mact_native_video_int_tuple (4, spatial_strides)));
  g_object_class_install_property (klass, PROP_TEMPORAL_STRIDES,
                                   tuple_prop ("temporal-strides", ax,
                                               mact_native_video_int_tuple (4, ones)));
  g_object_class_install_property (klass, PROP_DILATIONS,
                                   tuple_prop ("dilations", ax,
                                               mact_native_video_int_tuple (4, ones)));
  g_object_class_install_property (klass, PROP_CONV1_KERNEL,
                                   tuple_prop ("conv1-kernel", ax,
                                               mact_native_video_int_tuple (3, d->conv1_kernel)));
  g_object_class_install_property (klass, PROP_CONV1_STRIDE_S,
                                   int_prop ("conv1-stride-s", 2, 0));
  g_object_class_install_property (klass, PROP_CONV1_STRIDE_T,
                                   int_prop ("conv1-stride-t", 1, 0));
  g_object_class_install_property (klass, PROP_POOL1_STRIDE_S,
                                   int_prop ("pool1-stride-s", 2, 0));
  g_object_class_install_property (klass, PROP_POOL1_STRIDE_T,
                                   int_prop ("pool1-stride-t", 1, 0));
  g_object_class_install_property (klass, PROP_WITH_POOL1, bool_prop ("with-pool1", TRUE));
  g_object_class_install_property (klass, PROP_WITH_POOL2,
                                   bool_prop ("with-pool2", d->with_pool2));
  g_object_class_install_property (klass, PROP_STYLE, string_prop ("style", "pytorch"));
  g_object_class_install_property (klass, PROP_FROZEN_STAGES,
                                   int_prop ("frozen-stages", -1, 0));
  g_object_class_install_property (klass, PROP_INFLATE,
                                   tuple_prop ("inflate", G_VARIANT_TYPE_ANY,
                                               mact_native_video_int_tuple (4, d->inflate)));
  g_object_class_install_property (klass, PROP_INFLATE_STYLE,
                                   string_prop ("inflate-style", "3x1x1"));
  g_object_class_install_property (klass, PROP_CONV_CFG, json_prop ("conv-cfg"));
  g_object_class_install_property (klass, PROP_NORM_CFG, json_prop ("norm-cfg"));
  g_object_class_install_property (klass, PROP_ACT_CFG, json_prop ("act-cfg"));
  g_object_class_install_property (klass, PROP_NORM_EVAL, bool_prop ("norm-eval", FALSE));
  g_object_class_install_property (klass, PROP_WITH_CP, bool_prop ("with-cp", FALSE));
  g_object_class_install_property (klass, PROP_NON_LOCAL,
                                   tuple_prop ("non-local", G_VARIANT_TYPE_ANY,
                                               mact_native_video_int_tuple (4, zeros)));
  g_object_class_install_property (klass, PROP_NON_LOCAL_CFG, json_prop ("non-local-cfg"));
  g_object_class_install_property (klass, PROP_ZERO_INIT_RESIDUAL,
                                   bool_prop ("zero-init-residual", TRUE));
  if (!d->pathway_props)
    return;
  g_object_class_install_property (klass, PROP_LATERAL, bool_prop ("lateral", FALSE));
  g_object_class_install_property (klass, PROP_LATERAL_NORM, bool_prop ("lateral-norm", FALSE));
  g_object_class_install_property (klass, PROP_SPEED_RATIO, int_prop ("speed-ratio", 8, 0));
  g_object_class_install_property (klass, PROP_CHANNEL_RATIO, int_prop ("channel-ratio", 8, 0));
  g_object_class_install_property (klass, PROP_FUSION_KERNEL, int_prop ("fusion-kernel", 5, 0));
}
