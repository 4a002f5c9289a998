/* mact-native-tpn.c: mmaction2's TPN neck (mmaction/models/necks/tpn.py), registered as
 * "TPN".
 *
 * forward_neck(x, target): x holds one 5-D feature [N, C_i, T, H, W] per pyramid level
 * (the recognizer reshapes the backbone's stages so); the result is one tensor, the
 * pyramid fusion [N, 2048, T', H', W'].  With a target and an aux_head_cfg, `loss_aux`
 * (loss_weight x the aux head's loss on x[-2]) is added to aux_losses, which the
 * recognizer sums into the total loss.
 *
 * The module tree mirrors mmaction2's, in its registration order, so the state-dict keys
 * are the checkpoint's: temporal_modulation_ops.<i> (conv, pool), upsample_ops (no
 * parameters), downsample_ops.<i> (conv, pool), level_fusion_1 (downsamples.<i>,
 * fusion_conv), spatial_modulation.spatial_modulation.<i>[.<j>] (ConvModules; an empty
 * entry for an identity level), level_fusion_2, pyramid_fusion, aux_head (conv,
 * avg_pool, dropout, fc, loss_cls).  ModuleLists and plain containers are #MactModule
 * instances with named children; TPN's forward walks them as mmaction2's sub-forwards do.
 *
 * Differences from mmaction2, all errors at build time (MACT_MODULE_ERROR_INVALID_ARGUMENT):
 * - spatial_modulation_cfg, temporal_modulation_cfg and level_fusion_cfg are required
 *   (mmaction2 fails on None with a TypeError, or in forward for a missing temporal one);
 *   level_fusion_cfg's in_channels must have one entry per level;
 * - a JSON config cannot tell a list from a tuple, so mmaction2's `in_channels must be a
 *   tuple` assertion has no equivalent; every other assertion (non-dict configs, bad
 *   downsample_position, bad flow_type) is an error;
 * - upsample_cfg supports scale_factor (a number or one per dimension), mode 'nearest'
 *   or 'trilinear' and align_corners; the output size is floor(size * scale_factor) and
 *   sampling uses that size (PyTorch uses 1 / scale_factor: the same for the integral
 *   factors TPN configs use).  `size` is not supported;
 * - downsample_cfg accepts conv_cfg Conv3d, norm_cfg None or BN3d (trainable: a
 *   requires_grad=False norm is refused) and act_cfg None or ReLU; its bias must be a
 *   boolean (mmcv's 'auto' is not accepted);
 * - the aux head's loss_cls is any registered loss (default CrossEntropyLoss). */
#include "mact-native-tpn.h"
#include "mact-native-layers.h"
#include "mact-native-tpn-downsample.h"

#include <math.h>
#include <string.h>

#define TPN_OUT_CHANNELS 2048

struct _MactNativeTPN
{
  MactNeck    parent_instance;

  /* properties */
  GVariant   *in_channels;
  gint        out_channels;
  JsonNode   *spatial_modulation_cfg;
  JsonNode   *temporal_modulation_cfg;
  JsonNode   *upsample_cfg;
  JsonNode   *downsample_cfg;
  JsonNode   *level_fusion_cfg;
  JsonNode   *aux_head_cfg;
  gchar      *flow_type;

  /* built */
  guint       num_stages;
  gboolean    parallel;
  /* nn.Upsample */
  gboolean    with_upsample;
  double      up_scale[3];
  gboolean    up_linear;
  gboolean    up_align_corners;
  /* the aux head's loss weight */
  double      aux_loss_weight;
};

G_DEFINE_FINAL_TYPE (MactNativeTPN, mact_native_tpn, MACT_TYPE_NECK)

enum {
  PROP_0,
  PROP_IN_CHANNELS,
  PROP_OUT_CHANNELS,
  PROP_SPATIAL_MODULATION_CFG,
  PROP_TEMPORAL_MODULATION_CFG,
  PROP_UPSAMPLE_CFG,
  PROP_DOWNSAMPLE_CFG,
  PROP_LEVEL_FUSION_CFG,
  PROP_AUX_HEAD_CFG,
  PROP_FLOW_TYPE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static JsonNode **
cfg_slot (MactNativeTPN *self, guint prop_id)
{
  switch (prop_id)
    {
    case PROP_SPATIAL_MODULATION_CFG: return &self->spatial_modulation_cfg;
    case PROP_TEMPORAL_MODULATION_CFG: return &self->temporal_modulation_cfg;
    case PROP_UPSAMPLE_CFG: return &self->upsample_cfg;
    case PROP_DOWNSAMPLE_CFG: return &self->downsample_cfg;
    case PROP_LEVEL_FUSION_CFG: return &self->level_fusion_cfg;
    case PROP_AUX_HEAD_CFG: return &self->aux_head_cfg;
    default: return NULL;
    }
}

static void
mact_native_tpn_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  MactNativeTPN *self = MACT_NATIVE_TPN (object);
  JsonNode **slot = cfg_slot (self, prop_id);

  if (slot != NULL)
    {
      mact_native_replace_json (slot, value);
      return;
    }
  switch (prop_id)
    {
    case PROP_IN_CHANNELS:
      mact_native_replace_variant (&self->in_channels, value);
      break;
    case PROP_OUT_CHANNELS:
      self->out_channels = g_value_get_int (value);
      break;
    case PROP_FLOW_TYPE:
      g_free (self->flow_type);
      self->flow_type = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_tpn_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactNativeTPN *self = MACT_NATIVE_TPN (object);
  JsonNode **slot = cfg_slot (self, prop_id);

  if (slot != NULL)
    {
      g_value_set_boxed (value, *slot);
      return;
    }
  switch (prop_id)
    {
    case PROP_IN_CHANNELS:
      g_value_set_variant (value, self->in_channels);
      break;
    case PROP_OUT_CHANNELS:
      g_value_set_int (value, self->out_channels);
      break;
    case PROP_FLOW_TYPE:
      g_value_set_string (value, self->flow_type);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* ------------------------------------------------------------------ config reading */

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "TPN: %s",
               message);
  return FALSE;
}

static gboolean
is_null (JsonNode *node)
{
  return node == NULL || JSON_NODE_HOLDS_NULL (node);
}

/* @cfg must be a dict whose keys are all in @keys. */
static JsonObject *
cfg_dict (JsonNode *cfg, const char *name, const char *const *keys, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (cfg))
    {
      invalid (error, "%s must be a dict or None", name);
      return NULL;
    }
  JsonObject *obj = json_node_get_object (cfg);
  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (keys, l->data))
      {
        g_autofree char *expected = g_strjoinv (", ", (char **) keys);
        invalid (error, "%s key '%s' is not supported (expected %s)", name,
                 (const char *) l->data, expected);
        return NULL;
      }
  return obj;
}

static gboolean
node_int (JsonNode *node, gint64 *out)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (t == G_TYPE_DOUBLE)
    {
      double d = json_node_get_double (node);
      if (d != floor (d) || fabs (d) > 1e9)
        return FALSE;
      *out = (gint64) d;
      return TRUE;
    }
  return FALSE;
}

/* A positive int member (required when @fallback < 0). */
static gboolean
read_int (JsonObject *obj, const char *cfg, const char *key, gint fallback, gint minimum,
          gint *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);
  gint64 v;
  if (node == NULL && fallback >= 0)
    {
      *out = fallback;
      return TRUE;
    }
  if (node == NULL)
    return invalid (error, "%s needs '%s'", cfg, key);
  if (!node_int (node, &v) || v < minimum || v > G_MAXINT)
    return invalid (error, "%s '%s' must be an int >= %d", cfg, key, minimum);
  *out = (gint) v;
  return TRUE;
}

/* An int or a sequence of three ints (PyTorch's _triple). */
static gboolean
node_triple (JsonNode *node, gint minimum, gint *out)
{
  gint64 v;
  if (node_int (node, &v))
    {
      if (v < minimum || v > G_MAXINT)
        return FALSE;
      out[0] = out[1] = out[2] = (gint) v;
      return TRUE;
    }
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  JsonArray *a = json_node_get_array (node);
  if (json_array_get_length (a) != 3)
    return FALSE;
  for (guint i = 0; i < 3; i++)
    {
      if (!node_int (json_array_get_element (a, i), &v) || v < minimum || v > G_MAXINT)
        return FALSE;
      out[i] = (gint) v;
    }
  return TRUE;
}

static gboolean
read_triple (JsonObject *obj, const char *cfg, const char *key, const gint *fallback,
             gint minimum, gint *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);
  if (node == NULL && fallback != NULL)
    {
      memcpy (out, fallback, 3 * sizeof (gint));
      return TRUE;
    }
  if (node == NULL)
    return invalid (error, "%s needs '%s'", cfg, key);
  if (!node_triple (node, minimum, out))
    return invalid (error, "%s '%s' must be an int >= %d or three of them", cfg, key,
                    minimum);
  return TRUE;
}

/* A sequence of @n positive ints. */
static gboolean
read_ints (JsonObject *obj, const char *cfg, const char *key, guint n, gint *out,
           GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);
  if (node == NULL)
    return invalid (error, "%s needs '%s'", cfg, key);
  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (json_node_get_array (node)) != n)
    return invalid (error, "%s '%s' must be a sequence of %u ints (one per level)", cfg, key,
                    n);
  JsonArray *a = json_node_get_array (node);
  for (guint i = 0; i < n; i++)
    {
      gint64 v;
      if (!node_int (json_array_get_element (a, i), &v) || v < 1 || v > G_MAXINT)
        return invalid (error, "%s '%s' entry %u must be a positive int", cfg, key, i);
      out[i] = (gint) v;
    }
  return TRUE;
}

/* mmcv's norm_cfg / act_cfg / conv_cfg of a DownSample: None, BN3d, ReLU, Conv3d. */
static gboolean
read_layer_cfgs (JsonObject *obj, const char *cfg, MactNativeTPNDownSampleSpec *spec,
                 GError **error)
{
  static const char *const conv_types[] = { "Conv3d", NULL };
  static const char *const norm_types[] = { "BN3d", "BN", NULL };
  g_autofree char *block = g_strdup_printf ("TPN: %s", cfg);
  MactNativeLayerCfg layer;

  JsonNode *conv = json_object_get_member (obj, "conv_cfg");
  JsonNode *norm = json_object_get_member (obj, "norm_cfg");
  JsonNode *act = json_object_get_member (obj, "act_cfg");
  if (!mact_native_parse_conv_cfg (conv, block, conv_types, error) ||
      !mact_native_parse_norm_cfg (norm, block, norm_types, FALSE, &layer, error))
    return FALSE;
  spec->with_norm = layer.with_norm;
  if (layer.with_norm && !layer.norm_requires_grad)
    return invalid (error, "%s norm_cfg requires_grad=False is not supported", cfg);
  spec->with_act = FALSE;
  if (!is_null (act))
    {
      if (!mact_native_parse_act_cfg (act, block, &layer, error))
        return FALSE;
      spec->with_act = TRUE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ building */

static MactModule *
container (void)
{
  return mact_module_new (MACT_TYPE_MODULE, NULL, NULL);
}

static void
add_indexed (MactModule *list, guint index, MactModule *child)
{
  char name[16];
  g_snprintf (name, sizeof name, "%u", index);
  mact_module_add_child (list, name, child);
}

static MactModule *
conv_module_3d (gint cin, gint cout, const gint *k, const gint *s, const gint *p,
                gboolean with_act, GError **error)
{
  const gint64 k64[3] = { k[0], k[1], k[2] }, s64[3] = { s[0], s[1], s[2] };
  const gint64 p64[3] = { p[0], p[1], p[2] };
  return mact_module_new (MACT_TYPE_CONV_MODULE, error,
                          "dims", 3, "in-channels", cin, "out-channels", cout,
                          "kernel-size", mact_int_tuple_new (3, k64),
                          "stride", mact_int_tuple_new (3, s64),
                          "padding", mact_int_tuple_new (3, p64),
                          "bias", MACT_CONV_BIAS_FALSE, "with-norm", TRUE,
                          "has-act", with_act, NULL);
}

/* mmaction2's LevelFusion(**level_fusion_cfg). */
static MactModule *
level_fusion_new (JsonNode *cfg, guint n, GError **error)
{
  static const char *const keys[] = { "in_channels", "mid_channels", "out_channels",
                                      "downsample_scales", NULL };
  JsonObject *obj = cfg_dict (cfg, "level_fusion_cfg", keys, error);
  if (obj == NULL)
    return NULL;
  g_autofree gint *in_channels = g_new (gint, n);
  g_autofree gint *mid_channels = g_new (gint, n);
  gint out_channels;
  if (!read_ints (obj, "level_fusion_cfg", "in_channels", n, in_channels, error) ||
      !read_ints (obj, "level_fusion_cfg", "mid_channels", n, mid_channels, error) ||
      !read_int (obj, "level_fusion_cfg", "out_channels", -1, 1, &out_channels, error))
    return NULL;
  JsonNode *scales = json_object_get_member (obj, "downsample_scales");
  if (scales != NULL && (!JSON_NODE_HOLDS_ARRAY (scales) ||
                         json_array_get_length (json_node_get_array (scales)) < n))
    {
      invalid (error, "level_fusion_cfg 'downsample_scales' must have one entry per level");
      return NULL;
    }

  g_autoptr(MactModule) fusion = container ();
  g_autoptr(MactModule) downsamples = container ();
  gint sum_mid = 0;
  for (guint i = 0; i < n; i++)
    {
      MactNativeTPNDownSampleSpec spec = {
        .in_channels = in_channels[i], .out_channels = mid_channels[i],
        .kernel_size = { 1, 1, 1 }, .stride = { 1, 1, 1 }, .padding = { 0, 0, 0 },
        .groups = 32, .bias = FALSE, .with_norm = TRUE, .with_act = TRUE,
        .pool_before = TRUE, .scale = { 1, 1, 1 },
      };
      if (scales != NULL &&
          !node_triple (json_array_get_element (json_node_get_array (scales), i), 1,
                        spec.scale))
        {
          invalid (error, "level_fusion_cfg 'downsample_scales' entry %u must be an int or "
                   "three of them", i);
          return NULL;
        }
      g_autoptr(MactModule) down = mact_native_tpn_downsample_new (&spec, error);
      if (down == NULL)
        {
          g_prefix_error (error, "TPN: level_fusion_cfg: ");
          return NULL;
        }
      add_indexed (downsamples, i, down);
      sum_mid += mid_channels[i];
    }
  static const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  g_autoptr(MactModule) fusion_conv = conv_module_3d (sum_mid, out_channels, one, one, zero,
                                                      TRUE, error);
  if (fusion_conv == NULL)
    return NULL;
  mact_module_add_child (fusion, "downsamples", downsamples);
  mact_module_add_child (fusion, "fusion_conv", fusion_conv);
  return g_steal_pointer (&fusion);
}

/* mmaction2's SpatialModulation(**spatial_modulation_cfg): per level, log2(out / in)
 * stride-2 ConvModules doubling the channels, or an identity. */
static MactModule *
spatial_modulation_new (JsonNode *cfg, guint n, GError **error)
{
  static const char *const keys[] = { "in_channels", "out_channels", NULL };
  static const gint k[3] = { 1, 3, 3 }, s[3] = { 1, 2, 2 }, p[3] = { 0, 1, 1 };
  JsonObject *obj = cfg_dict (cfg, "spatial_modulation_cfg", keys, error);
  if (obj == NULL)
    return NULL;
  g_autofree gint *channels = g_new (gint, n);
  gint out_channels = 0;
  if (!read_ints (obj, "spatial_modulation_cfg", "in_channels", n, channels, error) ||
      !read_int (obj, "spatial_modulation_cfg", "out_channels", -1, 1, &out_channels, error))
    return NULL;

  g_autoptr(MactModule) modulation = container ();
  g_autoptr(MactModule) levels = container ();
  for (guint i = 0; i < n; i++)
    {
      const gint scale = out_channels / channels[i];
      const gint factor = scale >= 1 ? (gint) floor (log2 ((double) scale)) : 0;
      g_autoptr(MactModule) ops = container ();
      for (gint f = 0; f < factor; f++)
        {
          g_autoptr(MactModule) conv = conv_module_3d (channels[i] << f, channels[i] << (f + 1),
                                                       k, s, p, TRUE, error);
          if (conv == NULL)
            return NULL;
          add_indexed (ops, f, conv);
        }
      add_indexed (levels, i, ops);
    }
  mact_module_add_child (modulation, "spatial_modulation", levels);
  return g_steal_pointer (&modulation);
}

/* mmaction2's AuxHead(in_channels[-2], **aux_head_cfg). */
static MactModule *
aux_head_new (MactNativeTPN *self, JsonNode *cfg, gint in_channels, GError **error)
{
  static const char *const keys[] = { "out_channels", "loss_weight", "loss_cls", NULL };
  static const gint k[3] = { 1, 3, 3 }, s[3] = { 1, 2, 2 }, p[3] = { 0, 1, 1 };
  JsonObject *obj = cfg_dict (cfg, "aux_head_cfg", keys, error);
  if (obj == NULL)
    return NULL;
  gint out_channels = 0;
  if (!read_int (obj, "aux_head_cfg", "out_channels", -1, 1, &out_channels, error))
    return NULL;
  JsonNode *weight = json_object_get_member (obj, "loss_weight");
  self->aux_loss_weight = 0.5;
  if (weight != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (weight) ||
          (json_node_get_value_type (weight) != G_TYPE_DOUBLE &&
           json_node_get_value_type (weight) != G_TYPE_INT64))
        {
          invalid (error, "aux_head_cfg 'loss_weight' must be a number");
          return NULL;
        }
      self->aux_loss_weight = json_node_get_double (weight);
    }

  JsonNode *loss_cfg = json_object_get_member (obj, "loss_cls");
  g_autoptr(MactModule) loss = NULL;
  if (is_null (loss_cfg))
    loss = mact_registry_create_block (mact_registry_get_default (), "CrossEntropyLoss",
                                       MACT_TYPE_LOSS, 0, NULL, NULL, error);
  else
    loss = mact_registry_build_from_json (mact_registry_get_default (), loss_cfg,
                                          MACT_TYPE_LOSS, error);
  if (loss == NULL)
    {
      g_prefix_error (error, "TPN: aux_head_cfg loss_cls: ");
      return NULL;
    }

  g_autoptr(MactModule) conv = conv_module_3d (in_channels, in_channels * 2, k, s, p, TRUE,
                                               error);
  if (conv == NULL)
    return NULL;
  const gint64 one[3] = { 1, 1, 1 };
  g_autoptr(MactModule) avg_pool = mact_adaptive_avg_pool_new (3, one, error);
  g_autoptr(MactModule) dropout = mact_dropout_new (0.5, error);
  g_autoptr(MactModule) fc = mact_linear_new (in_channels * 2, out_channels, TRUE, error);
  if (avg_pool == NULL || dropout == NULL || fc == NULL)
    return NULL;
  g_autoptr(MactModule) head = container ();
  mact_module_add_child (head, "conv", conv);
  mact_module_add_child (head, "avg_pool", avg_pool);
  mact_module_add_child (head, "dropout", dropout);
  mact_module_add_child (head, "fc", fc);
  mact_module_add_child (head, "loss_cls", loss);
  return g_steal_pointer (&head);
}

/* nn.Upsample(**upsample_cfg). */
static gboolean
read_upsample (MactNativeTPN *self, GError **error)
{
  static const char *const keys[] = { "scale_factor", "mode", "align_corners", NULL };
  JsonObject *obj = cfg_dict (self->upsample_cfg, "upsample_cfg", keys, error);
  if (obj == NULL)
    return FALSE;
  JsonNode *scale = json_object_get_member (obj, "scale_factor");
  if (scale == NULL)
    return invalid (error, "upsample_cfg needs 'scale_factor' ('size' is not supported)");
  if (JSON_NODE_HOLDS_ARRAY (scale) && json_array_get_length (json_node_get_array (scale)) == 3)
    for (guint i = 0; i < 3; i++)
      {
        JsonNode *e = json_array_get_element (json_node_get_array (scale), i);
        if (!JSON_NODE_HOLDS_VALUE (e) || (json_node_get_value_type (e) != G_TYPE_DOUBLE &&
                                           json_node_get_value_type (e) != G_TYPE_INT64))
          return invalid (error, "upsample_cfg 'scale_factor' must be numbers");
        self->up_scale[i] = json_node_get_double (e);
      }
  else if (JSON_NODE_HOLDS_VALUE (scale) && (json_node_get_value_type (scale) == G_TYPE_DOUBLE ||
                                             json_node_get_value_type (scale) == G_TYPE_INT64))
    self->up_scale[0] = self->up_scale[1] = self->up_scale[2] = json_node_get_double (scale);
  else
    return invalid (error, "upsample_cfg 'scale_factor' must be a number or three of them");
  for (guint i = 0; i < 3; i++)
    if (!(self->up_scale[i] > 0.0 && isfinite (self->up_scale[i])))
      return invalid (error, "upsample_cfg 'scale_factor' must be positive");

  JsonNode *mode = json_object_get_member (obj, "mode");
  const char *m = "nearest";
  if (!is_null (mode))
    {
      if (!JSON_NODE_HOLDS_VALUE (mode) || json_node_get_value_type (mode) != G_TYPE_STRING)
        return invalid (error, "upsample_cfg 'mode' must be a string");
      m = json_node_get_string (mode);
    }
  if (!g_str_equal (m, "nearest") && !g_str_equal (m, "trilinear"))
    return invalid (error, "upsample_cfg mode '%s' is not supported (nearest, trilinear)", m);
  self->up_linear = g_str_equal (m, "trilinear");
  JsonNode *align = json_object_get_member (obj, "align_corners");
  if (!is_null (align))
    {
      if (!JSON_NODE_HOLDS_VALUE (align) || json_node_get_value_type (align) != G_TYPE_BOOLEAN)
        return invalid (error, "upsample_cfg 'align_corners' must be a boolean or None");
      if (!self->up_linear)
        return invalid (error, "upsample_cfg 'align_corners' only applies to 'trilinear'");
      self->up_align_corners = json_node_get_boolean (align);
    }
  self->with_upsample = TRUE;
  return TRUE;
}

/* DownSample(out_channels, out_channels, **downsample_cfg). */
static MactModule *
downsample_op_new (MactNativeTPN *self, GError **error)
{
  static const char *const keys[] = { "kernel_size", "stride", "padding", "groups", "bias",
                                      "conv_cfg", "norm_cfg", "act_cfg",
                                      "downsample_position", "downsample_scale", NULL };
  static const gint k[3] = { 3, 1, 1 }, s[3] = { 1, 1, 1 }, p[3] = { 1, 0, 0 };
  static const gint scale[3] = { 1, 2, 2 };
  JsonObject *obj = cfg_dict (self->downsample_cfg, "downsample_cfg", keys, error);
  if (obj == NULL)
    return NULL;
  MactNativeTPNDownSampleSpec spec = { .in_channels = self->out_channels,
                                       .out_channels = self->out_channels };
  if (!read_triple (obj, "downsample_cfg", "kernel_size", k, 1, spec.kernel_size, error) ||
      !read_triple (obj, "downsample_cfg", "stride", s, 1, spec.stride, error) ||
      !read_triple (obj, "downsample_cfg", "padding", p, 0, spec.padding, error) ||
      !read_triple (obj, "downsample_cfg", "downsample_scale", scale, 1, spec.scale, error) ||
      !read_int (obj, "downsample_cfg", "groups", 1, 1, &spec.groups, error) ||
      !read_layer_cfgs (obj, "downsample_cfg", &spec, error))
    return NULL;
  JsonNode *bias = json_object_get_member (obj, "bias");
  if (bias != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (bias) || json_node_get_value_type (bias) != G_TYPE_BOOLEAN)
        {
          invalid (error, "downsample_cfg 'bias' must be a boolean");
          return NULL;
        }
      spec.bias = json_node_get_boolean (bias);
    }
  JsonNode *position = json_object_get_member (obj, "downsample_position");
  if (position != NULL)
    {
      const char *pos = JSON_NODE_HOLDS_VALUE (position) &&
                        json_node_get_value_type (position) == G_TYPE_STRING
                        ? json_node_get_string (position) : "";
      if (!g_str_equal (pos, "before") && !g_str_equal (pos, "after"))
        {
          invalid (error, "downsample_cfg 'downsample_position' must be 'before' or 'after'");
          return NULL;
        }
      spec.pool_before = g_str_equal (pos, "before");
    }
  MactModule *down = mact_native_tpn_downsample_new (&spec, error);
  if (down == NULL)
    g_prefix_error (error, "TPN: downsample_cfg: ");
  return down;
}

static gboolean
mact_native_tpn_build (MactModule *module, GError **error)
{
  MactNativeTPN *self = MACT_NATIVE_TPN (module);

  if (!MACT_MODULE_CLASS (mact_native_tpn_parent_class)->build (module, error))
    return FALSE;

  const guint n = self->in_channels ? (guint) g_variant_n_children (self->in_channels) : 0;
  if (n == 0)
    return invalid (error, "in_channels must name at least one level");
  g_autofree gint *in_channels = g_new (gint, n);
  if (!mact_int_tuple_get (self->in_channels, n, in_channels, "TPN: in_channels", error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (in_channels[i] < 1)
      return invalid (error, "in_channels must be positive, got %d at level %u",
                      in_channels[i], i);
  if (self->out_channels < 1)
    return invalid (error, "out_channels must be positive, got %d", self->out_channels);
  if (self->flow_type == NULL ||
      !(g_str_equal (self->flow_type, "cascade") || g_str_equal (self->flow_type, "parallel")))
    return invalid (error, "flow type should be 'cascade' or 'parallel', got '%s'",
                    self->flow_type ? self->flow_type : "(null)");
  self->parallel = g_str_equal (self->flow_type, "parallel");
  self->num_stages = n;
  if (is_null (self->spatial_modulation_cfg) || is_null (self->temporal_modulation_cfg) ||
      is_null (self->level_fusion_cfg))
    return invalid (error, "spatial_modulation_cfg, temporal_modulation_cfg and "
                    "level_fusion_cfg are required");
  if (!is_null (self->aux_head_cfg) && n < 2)
    return invalid (error, "the aux head reads in_channels[-2]: it needs two levels");

  /* temporal_modulation_ops: TemporalModulation(in_channels[-1], out_channels, scale_i). */
  static const char *const temporal_keys[] = { "downsample_scales", NULL };
  JsonObject *temporal = cfg_dict (self->temporal_modulation_cfg, "temporal_modulation_cfg",
                                   temporal_keys, error);
  if (temporal == NULL)
    return FALSE;
  g_autofree gint *temporal_scales = g_new (gint, n);
  if (!read_ints (temporal, "temporal_modulation_cfg", "downsample_scales", n,
                  temporal_scales, error))
    return FALSE;
  g_autoptr(MactModule) temporal_ops = container ();
  for (guint i = 0; i < n; i++)
    {
      MactNativeTPNDownSampleSpec spec = {
        .in_channels = in_channels[n - 1], .out_channels = self->out_channels,
        .kernel_size = { 3, 1, 1 }, .stride = { 1, 1, 1 }, .padding = { 1, 0, 0 },
        .groups = 32, .bias = FALSE, .with_norm = FALSE, .with_act = FALSE,
        .pool_before = FALSE, .scale = { temporal_scales[i], 1, 1 },
      };
      g_autoptr(MactModule) op = mact_native_tpn_downsample_new (&spec, error);
      if (op == NULL)
        {
          g_prefix_error (error, "TPN: temporal modulation: ");
          return FALSE;
        }
      add_indexed (temporal_ops, i, op);
    }

  g_autoptr(MactModule) upsample_ops = container ();
  g_autoptr(MactModule) downsample_ops = container ();
  if (!is_null (self->upsample_cfg) && !read_upsample (self, error))
    return FALSE;
  for (guint i = 0; i + 1 < n; i++)
    {
      if (self->with_upsample)
        {
          /* nn.Upsample has no parameters: an identity stands in for it in the tree. */
          g_autoptr(MactModule) up = mact_identity_new ();
          add_indexed (upsample_ops, i, up);
        }
      if (!is_null (self->downsample_cfg))
        {
          g_autoptr(MactModule) down = downsample_op_new (self, error);
          if (down == NULL)
            return FALSE;
          add_indexed (downsample_ops, i, down);
        }
    }

  g_autoptr(MactModule) level_fusion_1 = level_fusion_new (self->level_fusion_cfg, n, error);
  if (level_fusion_1 == NULL)
    return FALSE;
  g_autoptr(MactModule) spatial = spatial_modulation_new (self->spatial_modulation_cfg, n,
                                                          error);
  if (spatial == NULL)
    return FALSE;
  g_autoptr(MactModule) level_fusion_2 = level_fusion_new (self->level_fusion_cfg, n, error);
  if (level_fusion_2 == NULL)
    return FALSE;
  gint out_dims = 0;
  {
    JsonNode *od = json_object_get_member (json_node_get_object (self->level_fusion_cfg),
                                           "out_channels");
    gint64 v = 0;
    node_int (od, &v);
    out_dims = (gint) v;
  }
  static const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  g_autoptr(MactModule) pyramid = conv_module_3d (out_dims * 2, TPN_OUT_CHANNELS, one, one,
                                                  zero, TRUE, error);
  if (pyramid == NULL)
    return FALSE;
  g_autoptr(MactModule) aux_head = NULL;
  if (!is_null (self->aux_head_cfg))
    {
      aux_head = aux_head_new (self, self->aux_head_cfg, in_channels[n - 2], error);
      if (aux_head == NULL)
        return FALSE;
    }

  /* mmaction2's attribute order. */
  mact_module_add_child (module, "temporal_modulation_ops", temporal_ops);
  mact_module_add_child (module, "upsample_ops", upsample_ops);
  mact_module_add_child (module, "downsample_ops", downsample_ops);
  mact_module_add_child (module, "level_fusion_1", level_fusion_1);
  mact_module_add_child (module, "spatial_modulation", spatial);
  mact_module_add_child (module, "level_fusion_2", level_fusion_2);
  mact_module_add_child (module, "pyramid_fusion", pyramid);
  if (aux_head != NULL)
    mact_module_add_child (module, "aux_head", aux_head);
  return TRUE;
}

/* ------------------------------------------------------------------ forward */

static MactModule *
child_at (MactModule *list, guint index)
{
  char name[16];
  g_snprintf (name, sizeof name, "%u", index);
  return mact_module_get_child (list, name);
}

/* LevelFusion.forward: downsample each level, concatenate the channels, fuse. */
static MactTensor *
level_fusion_forward (MactModule *fusion, MactTensor **x, guint n, GError **error)
{
  MactModule *downsamples = mact_module_get_child (fusion, "downsamples");
  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < n; i++)
    {
      MactTensor *y = mact_module_forward1 (child_at (downsamples, i), x[i], error);
      if (y == NULL)
        return NULL;
      g_ptr_array_add (outs, y);
    }
  g_autoptr(MactTensor) cat = mact_cat ((MactTensor **) outs->pdata, n, 1, error);
  if (cat == NULL)
    return NULL;
  return mact_module_forward1 (mact_module_get_child (fusion, "fusion_conv"), cat, error);
}

static MactTensor *
upsample (MactNativeTPN *self, MactTensor *x, GError **error)
{
  gint64 size[3];
  for (guint d = 0; d < 3; d++)
    size[d] = (gint64) floor ((double) mact_tensor_get_size (x, 2 + d) * self->up_scale[d]);
  return mact_interpolate (x, 3, size,
                           self->up_linear ? MACT_INTERPOLATE_LINEAR : MACT_INTERPOLATE_NEAREST,
                           self->up_align_corners, error);
}

/* AuxHead.forward: conv, pool, dropout, fc, then loss_weight * loss_cls. */
static MactTensor *
aux_loss (MactNativeTPN *self, MactModule *head, MactTensor *x, MactTensor *target,
          GError **error)
{
  g_autoptr(MactTensor) conv = mact_module_forward1 (mact_module_get_child (head, "conv"), x,
                                                     error);
  if (conv == NULL)
    return NULL;
  g_autoptr(MactTensor) pooled = mact_module_forward1 (mact_module_get_child (head, "avg_pool"),
                                                       conv, error);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (pooled, 1, -1, error);
  if (flat == NULL)
    return NULL;
  g_autoptr(MactTensor) dropped = mact_module_forward1 (mact_module_get_child (head, "dropout"),
                                                        flat, error);
  if (dropped == NULL)
    return NULL;
  g_autoptr(MactTensor) score = mact_module_forward1 (mact_module_get_child (head, "fc"),
                                                      dropped, error);
  if (score == NULL)
    return NULL;
  /* A 0-d target becomes [1], as mmaction2's target.unsqueeze(0). */
  g_autoptr(MactTensor) label = mact_tensor_get_ndim (target) == 0
                                ? mact_tensor_reshape (target, 1, (const gint64[]) { 1 }, error)
                                : mact_tensor_ref (target);
  if (label == NULL)
    return NULL;
  g_autoptr(MactTensor) loss = mact_loss_compute (MACT_LOSS (mact_module_get_child (head,
                                                                                    "loss_cls")),
                                                  score, label, NULL, error);
  if (loss == NULL)
    return NULL;
  return mact_mul_scalar (loss, (float) self->aux_loss_weight);
}

/* The pyramid: spatial and temporal modulation, the top-down and bottom-up flows, both
 * level fusions and the pyramid fusion.  @temporal and @outs (n entries, NULL on entry)
 * receive references the caller drops. */
static MactTensor *
pyramid_forward (MactNativeTPN *self, GPtrArray *inputs, MactTensor **temporal,
                 MactTensor **outs, GError **error)
{
  MactModule *module = MACT_MODULE (self);
  const guint n = self->num_stages;
  MactModule *levels = mact_module_get_submodule (module, "spatial_modulation.spatial_modulation",
                                                  NULL);
  MactModule *temporal_ops = mact_module_get_child (module, "temporal_modulation_ops");
  MactModule *downsample_ops = mact_module_get_child (module, "downsample_ops");

  for (guint i = 0; i < n; i++)
    {
      /* SpatialModulation: the level's convs in order (none for an identity level). */
      MactModule *ops = child_at (levels, i);
      g_auto(GStrv) names = mact_module_list_children (ops);
      g_autoptr(MactTensor) x = mact_tensor_ref (g_ptr_array_index (inputs, i));
      for (guint j = 0; names[j] != NULL; j++)
        {
          MactTensor *y = mact_module_forward1 (mact_module_get_child (ops, names[j]), x, error);
          if (y == NULL)
            return NULL;
          mact_tensor_unref (x);
          x = y;
        }
      temporal[i] = mact_module_forward1 (child_at (temporal_ops, i), x, error);
      if (temporal[i] == NULL)
        return NULL;
      outs[i] = mact_tensor_ref (temporal[i]);
    }

  /* Top-down flow: each level adds the upsampled level above it. */
  if (self->with_upsample)
    for (guint i = n - 1; i > 0; i--)
      {
        g_autoptr(MactTensor) up = upsample (self, outs[i], error);
        MactTensor *sum = up ? mact_add (outs[i - 1], up, error) : NULL;
        if (sum == NULL)
          return NULL;
        mact_tensor_unref (outs[i - 1]);
        outs[i - 1] = sum;
      }
  g_autoptr(MactTensor) top_down =
    level_fusion_forward (mact_module_get_child (module, "level_fusion_1"), outs, n, error);
  if (top_down == NULL)
    return NULL;
  /* parallel: the bottom-up flow starts again from the modulated levels. */
  if (self->parallel)
    for (guint i = 0; i < n; i++)
      {
        mact_tensor_unref (outs[i]);
        outs[i] = mact_tensor_ref (temporal[i]);
      }

  /* Bottom-up flow: each level adds the downsampled level below it. */
  if (mact_module_get_child (downsample_ops, "0") != NULL)
    for (guint i = 0; i + 1 < n; i++)
      {
        g_autoptr(MactTensor) down = mact_module_forward1 (child_at (downsample_ops, i),
                                                           outs[i], error);
        MactTensor *sum = down ? mact_add (outs[i + 1], down, error) : NULL;
        if (sum == NULL)
          return NULL;
        mact_tensor_unref (outs[i + 1]);
        outs[i + 1] = sum;
      }
  g_autoptr(MactTensor) bottom_up =
    level_fusion_forward (mact_module_get_child (module, "level_fusion_2"), outs, n, error);
  if (bottom_up == NULL)
    return NULL;
  MactTensor *both[2] = { top_down, bottom_up };
  g_autoptr(MactTensor) cat = mact_cat (both, 2, 1, error);
  if (cat == NULL)
    return NULL;
  return mact_module_forward1 (mact_module_get_child (module, "pyramid_fusion"), cat, error);
}

static GPtrArray *
mact_native_tpn_forward_neck (MactNeck *neck, GPtrArray *inputs, MactTensor *target,
                              MactTensorDict *aux_losses, GError **error)
{
  MactNativeTPN *self = MACT_NATIVE_TPN (neck);
  const guint n = self->num_stages;

  if (inputs->len != n)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TPN: expected %u feature levels (one per in_channels entry), got %u", n,
                   inputs->len);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      MactTensor *x = g_ptr_array_index (inputs, i);
      if (x == NULL || mact_tensor_get_ndim (x) != 5)
        {
          g_autofree char *s = x ? mact_tensor_shape_to_string (x) : g_strdup ("NULL");
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                       "TPN: level %u must be [N, C, T, H, W], got %s", i, s);
          return NULL;
        }
    }

  MactModule *aux_head = mact_module_get_child (MACT_MODULE (neck), "aux_head");
  if (aux_head != NULL && target != NULL && aux_losses != NULL)
    {
      g_autoptr(MactTensor) loss = aux_loss (self, aux_head, g_ptr_array_index (inputs, n - 2),
                                             target, error);
      if (loss == NULL)
        return NULL;
      mact_tensor_dict_insert (aux_losses, "loss_aux", loss);
    }

  g_autofree MactTensor **temporal = g_new0 (MactTensor *, n);
  g_autofree MactTensor **outs = g_new0 (MactTensor *, n);
  MactTensor *result = pyramid_forward (self, inputs, temporal, outs, error);
  for (guint i = 0; i < n; i++)
    {
      g_clear_pointer (&temporal[i], mact_tensor_unref);
      g_clear_pointer (&outs[i], mact_tensor_unref);
    }
  if (result == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, result);
  return outputs;
}

/* As a plain module: the fused features, without aux loss. */
static GPtrArray *
mact_native_tpn_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  return mact_native_tpn_forward_neck (MACT_NECK (module), inputs, NULL, NULL, error);
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
    {
      /* xavier_init(m, distribution='uniform'): gain 1, bias 0. */
      if (!mact_tensor_xavier_uniform_ (mact_module_get_parameter (module, "weight"),
                                        state->generator, 1.0, &state->error))
        return;
      MactTensor *bias = mact_module_get_parameter (module, "bias");
      if (bias != NULL)
        mact_tensor_fill (bias, 0.0f);
    }
  else if (MACT_IS_BATCH_NORM (module))
    mact_native_constant_init (mact_module_get_parameter (module, "weight"),
                               mact_module_get_parameter (module, "bias"), 1.0f);
  else if (MACT_IS_LINEAR (module))
    mact_native_normal_init (mact_module_get_parameter (module, "weight"),
                             mact_module_get_parameter (module, "bias"), state->generator,
                             0.01, &state->error);
}

static gboolean
mact_native_tpn_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  /* TPN.init_weights: xavier-uniform convs and constant-1 norms everywhere; the aux
   * head's init_weights then gives its fc N(0, 0.01) and its conv and norm the same
   * xavier / constant init again. */
  InitState state = { generator ? generator : mact_generator_get_default (), NULL };
  mact_native_foreach_module (module, init_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, "TPN: init_weights: ");
      return FALSE;
    }
  return TRUE;
}

static void
mact_native_tpn_finalize (GObject *object)
{
  MactNativeTPN *self = MACT_NATIVE_TPN (object);

  g_clear_pointer (&self->in_channels, g_variant_unref);
  for (guint p = PROP_SPATIAL_MODULATION_CFG; p <= PROP_AUX_HEAD_CFG; p++)
    mact_native_clear_json (cfg_slot (self, p));
  g_free (self->flow_type);
  G_OBJECT_CLASS (mact_native_tpn_parent_class)->finalize (object);
}

static GParamSpec *
cfg_property (const char *name)
{
  return g_param_spec_boxed (name, NULL, NULL, JSON_TYPE_NODE,
                             G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
}

static void
mact_native_tpn_class_init (MactNativeTPNClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_tpn_set_property;
  object_class->get_property = mact_native_tpn_get_property;
  object_class->finalize = mact_native_tpn_finalize;
  module_class->build = mact_native_tpn_build;
  module_class->forward = mact_native_tpn_forward;
  module_class->init_weights = mact_native_tpn_init_weights;
  MACT_NECK_CLASS (klass)->forward_neck = mact_native_tpn_forward_neck;

  /**
   * MactNativeTPN:in-channels:
   *
   * Channels of each input level ("ax", required), e.g. (1024, 2048).
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_variant ("in-channels", NULL, NULL, G_VARIANT_TYPE ("ax"), NULL,
                          flags | MACT_PARAM_REQUIRED);
  /**
   * MactNativeTPN:out-channels:
   *
   * Channels of the temporal modulation outputs (required).
   */
  properties[PROP_OUT_CHANNELS] =
    g_param_spec_int ("out-channels", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactNativeTPN:spatial-modulation-cfg:
   *
   * `{in_channels, out_channels}` of SpatialModulation (required).
   */
  properties[PROP_SPATIAL_MODULATION_CFG] = cfg_property ("spatial-modulation-cfg");
  /**
   * MactNativeTPN:temporal-modulation-cfg:
   *
   * `{downsample_scales}`: the temporal pool of each level (required).
   */
  properties[PROP_TEMPORAL_MODULATION_CFG] = cfg_property ("temporal-modulation-cfg");
  /**
   * MactNativeTPN:upsample-cfg:
   *
   * nn.Upsample's arguments for the top-down flow (`scale_factor`, `mode` 'nearest' or
   * 'trilinear', `align_corners`), or %NULL for no top-down additions.
   */
  properties[PROP_UPSAMPLE_CFG] = cfg_property ("upsample-cfg");
  /**
   * MactNativeTPN:downsample-cfg:
   *
   * DownSample's arguments for the bottom-up flow (kernel_size, stride, padding, groups,
   * bias, conv_cfg, norm_cfg, act_cfg, downsample_position, downsample_scale), or %NULL.
   */
  properties[PROP_DOWNSAMPLE_CFG] = cfg_property ("downsample-cfg");
  /**
   * MactNativeTPN:level-fusion-cfg:
   *
   * `{in_channels, mid_channels, out_channels, downsample_scales}` of both LevelFusions
   * (required).
   */
  properties[PROP_LEVEL_FUSION_CFG] = cfg_property ("level-fusion-cfg");
  /**
   * MactNativeTPN:aux-head-cfg:
   *
   * `{out_channels, loss_weight (0.5), loss_cls (CrossEntropyLoss)}` of the auxiliary
   * head on the second-to-last level, or %NULL for none.
   */
  properties[PROP_AUX_HEAD_CFG] = cfg_property ("aux-head-cfg");
  /**
   * MactNativeTPN:flow-type:
   *
   * 'cascade' (bottom-up after top-down) or 'parallel' (both from the modulated levels).
   */
  properties[PROP_FLOW_TYPE] =
    g_param_spec_string ("flow-type", NULL, NULL, "cascade", flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_tpn_init (MactNativeTPN *self)
{
}
