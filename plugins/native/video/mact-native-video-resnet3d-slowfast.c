/* mact-native-video-resnet3d-slowfast.c: mmaction2's ResNet3dSlowFast backbone
 * (mmaction/models/backbones/resnet3d_slowfast.py), registered as "ResNet3dSlowFast".
 *
 * Two ResNet3dPathway children, slow_path and fast_path, built from the slow_pathway and
 * fast_pathway dicts (type 'resnet3d'; the other keys are ResNet3dPathway arguments).
 * Forward samples the input in time with nearest interpolation (scale 1/resample_rate
 * for the slow path, 1/(resample_rate // speed_ratio) for the fast one), runs both stems,
 * then the stages side by side; when the slow pathway is lateral, the output of
 * conv1_lateral and of layer<i>_lateral (every stage but the last) applied to the fast
 * features is concatenated to the slow features along the channels.  Returns the tuple
 * (x_slow, x_fast); the pathways' out_indices and pool2 are not used, as in mmaction2. */
#include "mact-native-video-resnet3d-slowfast.h"
#include "mact-native-video-resnet3d-pathway.h"
#include "mact-native-video-layers.h"

#include <math.h>

struct _MactNativeVideoResNet3dSlowFast
{
  MactBackbone  parent_instance;

  /* properties */
  gchar        *pretrained;
  gint          resample_rate;
  gint          speed_ratio;
  gint          channel_ratio;
  JsonNode     *slow_pathway;
  JsonNode     *fast_pathway;

  /* built; borrowed from the children table */
  MactModule   *slow_path;
  MactModule   *fast_path;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoResNet3dSlowFast, mact_native_video_resnet3d_slowfast,
                     MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_PRETRAINED,
  PROP_RESAMPLE_RATE,
  PROP_SPEED_RATIO,
  PROP_CHANNEL_RATIO,
  PROP_SLOW_PATHWAY,
  PROP_FAST_PATHWAY,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

#define BLOCK "ResNet3dSlowFast"

/* mmaction2's defaults for the two dicts. */
static const char default_slow_pathway[] =
  "{\"type\": \"resnet3d\", \"depth\": 50, \"pretrained\": null, \"lateral\": true, "
  "\"conv1_kernel\": [1, 7, 7], \"dilations\": [1, 1, 1, 1], \"conv1_stride_t\": 1, "
  "\"pool1_stride_t\": 1, \"inflate\": [0, 0, 1, 1]}";
static const char default_fast_pathway[] =
  "{\"type\": \"resnet3d\", \"depth\": 50, \"pretrained\": null, \"lateral\": false, "
  "\"base_channels\": 8, \"conv1_kernel\": [5, 7, 7], \"conv1_stride_t\": 1, "
  "\"pool1_stride_t\": 1}";

static void
mact_native_video_resnet3d_slowfast_set_property (GObject *object, guint prop_id,
                                                  const GValue *value, GParamSpec *pspec)
{
  MactNativeVideoResNet3dSlowFast *self = MACT_NATIVE_VIDEO_RESNET3D_SLOWFAST (object);

  switch (prop_id)
    {
    case PROP_PRETRAINED:
      g_free (self->pretrained);
      self->pretrained = g_value_dup_string (value);
      break;
    case PROP_RESAMPLE_RATE:
      self->resample_rate = g_value_get_int (value);
      break;
    case PROP_SPEED_RATIO:
      self->speed_ratio = g_value_get_int (value);
      break;
    case PROP_CHANNEL_RATIO:
      self->channel_ratio = g_value_get_int (value);
      break;
    case PROP_SLOW_PATHWAY:
      mact_native_replace_json (&self->slow_pathway, value);
      break;
    case PROP_FAST_PATHWAY:
      mact_native_replace_json (&self->fast_pathway, value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_video_resnet3d_slowfast_get_property (GObject *object, guint prop_id,
                                                  GValue *value, GParamSpec *pspec)
{
  MactNativeVideoResNet3dSlowFast *self = MACT_NATIVE_VIDEO_RESNET3D_SLOWFAST (object);

  switch (prop_id)
    {
    case PROP_PRETRAINED:
      g_value_set_string (value, self->pretrained);
      break;
    case PROP_RESAMPLE_RATE:
      g_value_set_int (value, self->resample_rate);
      break;
    case PROP_SPEED_RATIO:
      g_value_set_int (value, self->speed_ratio);
      break;
    case PROP_CHANNEL_RATIO:
      g_value_set_int (value, self->channel_ratio);
      break;
    case PROP_SLOW_PATHWAY:
      g_value_set_boxed (value, self->slow_pathway);
      break;
    case PROP_FAST_PATHWAY:
      g_value_set_boxed (value, self->fast_pathway);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clear_values (GArray *values)
{
  for (guint i = 0; i < values->len; i++)
    g_value_unset (&g_array_index (values, GValue, i));
}

static char *
dashed (const char *key)
{
  char *name = g_strdup (key);
  g_strdelimit (name, "_", '-');
  return name;
}

/* mmaction2's build_pathway(cfg): a dict with type 'resnet3d' whose other keys are the
 * pathway's constructor arguments.  When the slow pathway is lateral, ResNet3dSlowFast
 * first sets its speed_ratio and channel_ratio to its own (@ratios). */
static MactModule *
build_pathway (JsonNode *cfg, const char *key, const gint *ratios, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (cfg))
    {
      mact_native_video_invalid (error, BLOCK, "%s must be a dict containing the key "
                                 "\"type\"", key);
      return NULL;
    }
  JsonObject *obj = json_node_get_object (cfg);
  JsonNode *type = json_object_get_member (obj, "type");
  if (type == NULL || !JSON_NODE_HOLDS_VALUE (type) ||
      json_node_get_value_type (type) != G_TYPE_STRING)
    {
      mact_native_video_invalid (error, BLOCK, "%s must be a dict containing the key "
                                 "\"type\"", key);
      return NULL;
    }
  if (!g_str_equal (json_node_get_string (type), "resnet3d"))
    {
      mact_native_video_invalid (error, BLOCK, "%s: unrecognized pathway type '%s' "
                                 "(expected 'resnet3d')", key, json_node_get_string (type));
      return NULL;
    }
  /* ResNet3d's positional arguments. */
  if (!json_object_has_member (obj, "depth") || !json_object_has_member (obj, "pretrained"))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                   BLOCK ": %s: missing required argument%s", key,
                   json_object_has_member (obj, "depth") ? " 'pretrained'"
                   : json_object_has_member (obj, "pretrained") ? " 'depth'"
                   : "s 'depth', 'pretrained'");
      return NULL;
    }

  GObjectClass *klass = g_type_class_ref (MACT_NATIVE_VIDEO_TYPE_RESNET3D_PATHWAY);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
  g_autofree char *where = g_strdup_printf (BLOCK ".%s", key);
  MactModule *pathway = NULL;

  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *member = l->data;
      if (g_str_equal (member, "type"))
        continue;
      g_autofree char *name = dashed (member);
      /* mmaction2 overwrites these two for a lateral slow pathway. */
      if (ratios != NULL && (g_str_equal (name, "speed-ratio") ||
                             g_str_equal (name, "channel-ratio")))
        continue;
      GParamSpec *pspec = g_object_class_find_property (klass, name);
      if (pspec == NULL)
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s: '%s' is not an argument of a resnet3d pathway", where, member);
          goto out;
        }
      GValue value = G_VALUE_INIT;
      if (!mact_config_value_to_gvalue (json_object_get_member (obj, member), pspec, where,
                                        &value, error))
        goto out;
      g_array_append_val (values, value);
      g_ptr_array_add (names, g_strdup (pspec->name));
    }
  if (ratios != NULL)
    {
      static const char *const ratio_names[] = { "speed-ratio", "channel-ratio" };
      for (guint i = 0; i < 2; i++)
        {
          GValue value = G_VALUE_INIT;
          g_value_init (&value, G_TYPE_INT);
          g_value_set_int (&value, ratios[i]);
          g_array_append_val (values, value);
          g_ptr_array_add (names, g_strdup (ratio_names[i]));
        }
    }
  pathway = mact_module_new_with_properties (MACT_NATIVE_VIDEO_TYPE_RESNET3D_PATHWAY,
                                             names->len, (const char **) names->pdata,
                                             (const GValue *) values->data, error);
  if (pathway == NULL)
    g_prefix_error (error, BLOCK ": %s: ", key);

out:
  clear_values (values);
  g_type_class_unref (klass);
  return pathway;
}

static gboolean
slow_is_lateral (JsonNode *cfg, gboolean *lateral, GError **error)
{
  JsonObject *obj = JSON_NODE_HOLDS_OBJECT (cfg) ? json_node_get_object (cfg) : NULL;
  JsonNode *node = obj != NULL ? json_object_get_member (obj, "lateral") : NULL;

  /* mmaction2 reads slow_pathway['lateral'] before building anything. */
  if (node == NULL)
    return mact_native_video_invalid (error, BLOCK, "slow_pathway must be a dict with a "
                                      "\"lateral\" key");
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return mact_native_video_invalid (error, BLOCK, "slow_pathway \"lateral\" must be a "
                                      "boolean");
  *lateral = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
mact_native_video_resnet3d_slowfast_build (MactModule *module, GError **error)
{
  MactNativeVideoResNet3dSlowFast *self = MACT_NATIVE_VIDEO_RESNET3D_SLOWFAST (module);
  g_autoptr(JsonNode) slow_default = NULL;
  g_autoptr(JsonNode) fast_default = NULL;
  gboolean lateral = FALSE;

  if (!MACT_MODULE_CLASS (mact_native_video_resnet3d_slowfast_parent_class)->build (module,
                                                                                    error))
    return FALSE;
  if (self->resample_rate < 1 || self->speed_ratio < 1 || self->channel_ratio < 1)
    return mact_native_video_invalid (error, BLOCK, "resample_rate, speed_ratio and "
                                      "channel_ratio must be positive, got %d, %d, %d",
                                      self->resample_rate, self->speed_ratio,
                                      self->channel_ratio);
  if (self->resample_rate / self->speed_ratio < 1)
    return mact_native_video_invalid (error, BLOCK, "resample_rate // speed_ratio must be at "
                                      "least 1 (the fast pathway's temporal stride), got "
                                      "%d // %d", self->resample_rate, self->speed_ratio);

  JsonNode *slow_cfg = self->slow_pathway;
  JsonNode *fast_cfg = self->fast_pathway;
  if (slow_cfg == NULL)
    slow_cfg = slow_default = json_from_string (default_slow_pathway, NULL);
  if (fast_cfg == NULL)
    fast_cfg = fast_default = json_from_string (default_fast_pathway, NULL);
  if (!slow_is_lateral (slow_cfg, &lateral, error))
    return FALSE;
  const gint ratios[2] = { self->speed_ratio, self->channel_ratio };
  g_autoptr(MactModule) slow = build_pathway (slow_cfg, "slow_pathway",
                                              lateral ? ratios : NULL, error);
  if (slow == NULL)
    return FALSE;
  g_autoptr(MactModule) fast = build_pathway (fast_cfg, "fast_pathway", NULL, error);
  if (fast == NULL)
    return FALSE;
  gint slow_stages = mact_native_video_resnet3d_base_get_num_stages (
    MACT_NATIVE_VIDEO_RESNET3D_BASE (slow));
  gint fast_stages = mact_native_video_resnet3d_base_get_num_stages (
    MACT_NATIVE_VIDEO_RESNET3D_BASE (fast));
  if (fast_stages < slow_stages)
    return mact_native_video_invalid (error, BLOCK, "the fast pathway has %d stages, fewer "
                                      "than the slow pathway's %d", fast_stages, slow_stages);
  mact_module_add_child (module, "slow_path", slow);
  mact_module_add_child (module, "fast_path", fast);
  self->slow_path = slow;
  self->fast_path = fast;
  return TRUE;
}

/* F.interpolate(x, mode='nearest', scale_factor=(scale, 1, 1)) on [N, C, T, H, W]: the
 * output has floor(T * scale) frames and frame o reads floor(o * (float) (1 / scale)),
 * clamped, as PyTorch computes it when it is given a scale factor. */
static MactTensor *
temporal_nearest (MactTensor *x, double scale_factor, GError **error)
{
  const gint64 t = mact_tensor_get_size (x, 2);
  const gint64 out_t = (gint64) floor ((double) t * scale_factor);

  if (out_t < 1)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   BLOCK ": input %s has too few frames for a temporal scale of %g", shape,
                   scale_factor);
      return NULL;
    }
  if (out_t == t)
    return mact_tensor_ref (x);
  const float scale = (float) (1.0 / scale_factor);
  g_autofree gint64 *src = g_new (gint64, out_t);
  gboolean uniform = TRUE;
  for (gint64 o = 0; o < out_t; o++)
    {
      src[o] = MIN ((gint64) floorf ((float) o * scale), t - 1);
      if (o >= 2 && src[o] - src[o - 1] != src[1] - src[0])
        uniform = FALSE;
    }
  if (out_t == 1)
    return mact_tensor_narrow (x, 2, src[0], 1, error);
  if (uniform && src[1] > src[0])
    return mact_tensor_slice (x, 2, src[0], src[out_t - 1] + 1, src[1] - src[0], error);

  g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (gint64 o = 0; o < out_t; o++)
    {
      MactTensor *frame = mact_tensor_narrow (x, 2, src[o], 1, error);
      if (frame == NULL)
        return NULL;
      g_ptr_array_add (frames, frame);
    }
  return mact_cat ((MactTensor **) frames->pdata, frames->len, 2, error);
}

/* A pathway always has conv1, maxpool and layer<i>, and its lateral connections when it is
 * lateral: it is built that way. */
static MactTensor *
run_child (MactModule *pathway, const char *name, MactTensor *x, GError **error)
{
  return mact_module_forward1 (mact_module_get_child (pathway, name), x, error);
}

/* x_slow = cat((x_slow, lateral(x_fast)), dim=1) */
static gboolean
fuse (MactModule *slow, const char *lateral_name, MactTensor **x_slow, MactTensor *x_fast,
      GError **error)
{
  g_autoptr(MactTensor) lateral = run_child (slow, lateral_name, x_fast, error);
  if (lateral == NULL)
    return FALSE;
  MactTensor *parts[2] = { *x_slow, lateral };
  MactTensor *fused = mact_cat (parts, 2, 1, error);
  if (fused == NULL)
    {
      g_prefix_error (error, BLOCK ": fusing %s: ", lateral_name);
      return FALSE;
    }
  mact_tensor_unref (*x_slow);
  *x_slow = fused;
  return TRUE;
}

static gboolean
replace (MactTensor **x, MactTensor *next)
{
  if (next == NULL)
    return FALSE;
  mact_tensor_unref (*x);
  *x = next;
  return TRUE;
}

static GPtrArray *
mact_native_video_resnet3d_slowfast_forward (MactModule *module, GPtrArray *inputs,
                                             GError **error)
{
  MactNativeVideoResNet3dSlowFast *self = MACT_NATIVE_VIDEO_RESNET3D_SLOWFAST (module);
  MactNativeVideoResNet3dBase *slow_base = MACT_NATIVE_VIDEO_RESNET3D_BASE (self->slow_path);
  const gboolean lateral = mact_native_video_resnet3d_base_get_lateral (slow_base);
  const gint n_stages = mact_native_video_resnet3d_base_get_num_stages (slow_base);

  if (!mact_native_check_single_input (inputs, BLOCK, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (x) != 5)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   BLOCK ": expected input [N, C, T, H, W], got %s", shape);
      return NULL;
    }

  g_autoptr(MactTensor) x_slow = temporal_nearest (x, 1.0 / self->resample_rate, error);
  if (x_slow == NULL ||
      !replace (&x_slow, run_child (self->slow_path, "conv1", x_slow, error)) ||
      !replace (&x_slow, run_child (self->slow_path, "maxpool", x_slow, error)))
    return NULL;
  g_autoptr(MactTensor) x_fast =
    temporal_nearest (x, 1.0 / (self->resample_rate / self->speed_ratio), error);
  if (x_fast == NULL ||
      !replace (&x_fast, run_child (self->fast_path, "conv1", x_fast, error)) ||
      !replace (&x_fast, run_child (self->fast_path, "maxpool", x_fast, error)))
    return NULL;
  if (lateral && !fuse (self->slow_path, "conv1_lateral", &x_slow, x_fast, error))
    return NULL;

  for (gint i = 0; i < n_stages; i++)
    {
      g_autofree char *layer = g_strdup_printf ("layer%d", i + 1);
      if (!replace (&x_slow, run_child (self->slow_path, layer, x_slow, error)) ||
          !replace (&x_fast, run_child (self->fast_path, layer, x_fast, error)))
        return NULL;
      if (i != n_stages - 1 && lateral)
        {
          g_autofree char *lateral_name = g_strdup_printf ("layer%d_lateral", i + 1);
          if (!fuse (self->slow_path, lateral_name, &x_slow, x_fast, error))
            return NULL;
        }
    }

  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, g_steal_pointer (&x_slow));
  g_ptr_array_add (outputs, g_steal_pointer (&x_fast));
  return outputs;
}

static gboolean
mact_native_video_resnet3d_slowfast_init_weights (MactModule *module,
                                                  MactGenerator *generator,
                                                  GError **error)
{
  MactNativeVideoResNet3dSlowFast *self = MACT_NATIVE_VIDEO_RESNET3D_SLOWFAST (module);

  if (self->pretrained == NULL)
    /* Each pathway initialises itself (and handles its own `pretrained`). */
    return mact_module_init_weights (self->fast_path, generator, error) &&
           mact_module_init_weights (self->slow_path, generator, error);

  /* mmcv's load_checkpoint(strict=True) of a whole SlowFast state dict. */
  return mact_native_video_load_checkpoint (module, BLOCK, self->pretrained, TRUE, error);
}

static void
mact_native_video_resnet3d_slowfast_finalize (GObject *object)
{
  MactNativeVideoResNet3dSlowFast *self = MACT_NATIVE_VIDEO_RESNET3D_SLOWFAST (object);

  g_free (self->pretrained);
  mact_native_clear_json (&self->slow_pathway);
  mact_native_clear_json (&self->fast_pathway);
  G_OBJECT_CLASS (mact_native_video_resnet3d_slowfast_parent_class)->finalize (object);
}

static void
mact_native_video_resnet3d_slowfast_class_init (MactNativeVideoResNet3dSlowFastClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_video_resnet3d_slowfast_set_property;
  object_class->get_property = mact_native_video_resnet3d_slowfast_get_property;
  object_class->finalize = mact_native_video_resnet3d_slowfast_finalize;
  module_class->build = mact_native_video_resnet3d_slowfast_build;
  module_class->forward = mact_native_video_resnet3d_slowfast_forward;
  module_class->init_weights = mact_native_video_resnet3d_slowfast_init_weights;

  /**
   * MactNativeVideoResNet3dSlowFast:pretrained:
   *
   * A .safetensors file holding a whole SlowFast state dict, loaded strictly by
   * init_weights(), or %NULL (each pathway initialises itself).  mmaction2 requires the
   * argument; None is its usual value.  URLs are %MACT_MODULE_ERROR_NOT_IMPLEMENTED.
   */
  properties[PROP_PRETRAINED] = g_param_spec_string ("pretrained", NULL, NULL, NULL, flags);
  /**
   * MactNativeVideoResNet3dSlowFast:resample-rate:
   *
   * τ: the slow pathway sees one frame in resample_rate.
   */
  properties[PROP_RESAMPLE_RATE] =
    g_param_spec_int ("resample-rate", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactNativeVideoResNet3dSlowFast:speed-ratio:
   *
   * α: the fast pathway sees speed_ratio times more frames; also the lateral convs'
   * temporal stride.
   */
  properties[PROP_SPEED_RATIO] =
    g_param_spec_int ("speed-ratio", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactNativeVideoResNet3dSlowFast:channel-ratio:
   *
   * 1/β: the fast pathway is channel_ratio times narrower.
   */
  properties[PROP_CHANNEL_RATIO] =
    g_param_spec_int ("channel-ratio", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactNativeVideoResNet3dSlowFast:slow-pathway:
   *
   * The slow pathway: `{type: 'resnet3d', lateral: bool, depth, pretrained, ...}` with
   * ResNet3dPathway's arguments.  %NULL means mmaction2's default (R50, lateral,
   * conv1_kernel (1, 7, 7), inflate (0, 0, 1, 1)).  When lateral, its speed_ratio and
   * channel_ratio are replaced by this block's.
   */
  properties[PROP_SLOW_PATHWAY] =
    g_param_spec_boxed ("slow-pathway", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeVideoResNet3dSlowFast:fast-pathway:
   *
   * The fast pathway, as slow_pathway.  %NULL means mmaction2's default (R50, not
   * lateral, base_channels 8, conv1_kernel (5, 7, 7)).
   */
  properties[PROP_FAST_PATHWAY] =
    g_param_spec_boxed ("fast-pathway", NULL, NULL, JSON_TYPE_NODE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_video_resnet3d_slowfast_init (MactNativeVideoResNet3dSlowFast *self)
{
}
