/* mact-native-resnet-tsm.c: mmaction2's ResNetTSM (backbones/resnet_tsm.py), registered
 * as "ResNetTSM": the 2-D ResNet with temporal shift modules.
 *
 * mmaction2 (0.x) builds a plain ResNet and inserts the shift in init_weights(); since
 * checkpoints are saved after that, their keys carry the wrappers.  mact inserts the
 * wrappers at build time, so the state dict has mmaction2's checkpoint keys from the
 * start and a checkpoint loads before or without init_weights():
 * - shift_place 'blockres': each block's `conv1.conv` is wrapped in TemporalShift
 *   (`layerK.B.conv1.conv.net.weight`), every block, or every second one when layer3
 *   has 23 blocks or more (ResNet-101/152);
 * - shift_place 'block': each block is wrapped (`layerK.B.net.conv1.conv.weight`);
 * - temporal_pool: layer2 is wrapped in TemporalPool (`layer2.net.*`), a max pool over
 *   time that halves the segments; the shifts of layers 2-4 then use num_segments // 2.
 *
 * Differences from mmaction2, all refused at build time with
 * MACT_MODULE_ERROR_INVALID_ARGUMENT rather than failing later:
 * - NonLocal3d is not implemented: a non-empty non_local_cfg together with a non-zero
 *   non_local entry is refused (with an empty non_local_cfg mmaction2 ignores non_local,
 *   and so does mact);
 * - the shift and the temporal pool need num_stages == 4 (mmaction2 touches layer1 to
 *   layer4 unconditionally and fails with AttributeError otherwise);
 * - temporal_pool needs an even num_segments (mmaction2's view(n // 2, ...) fails on odd
 *   ones at forward time). */
#include "mact-native-resnet-tsm.h"
#include "mact-native-layers.h"
#include "mact-native-temporal-pool.h"
#include "mact-native-temporal-shift.h"

#define TSM_STAGES 4

struct _MactNativeResNetTSM
{
  MactNativeResNet parent_instance;

  gint      num_segments;
  gboolean  is_shift;
  GVariant *non_local;
  JsonNode *non_local_cfg;
  gint      shift_div;
  gchar    *shift_place;
  gboolean  temporal_pool;
};

G_DEFINE_FINAL_TYPE (MactNativeResNetTSM, mact_native_resnet_tsm, MACT_NATIVE_TYPE_RESNET)

enum {
  PROP_0,
  PROP_NUM_SEGMENTS,
  PROP_IS_SHIFT,
  PROP_NON_LOCAL,
  PROP_NON_LOCAL_CFG,
  PROP_SHIFT_DIV,
  PROP_SHIFT_PLACE,
  PROP_TEMPORAL_POOL,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_resnet_tsm_set_property (GObject *object, guint prop_id, const GValue *value,
                                     GParamSpec *pspec)
{
  MactNativeResNetTSM *self = MACT_NATIVE_RESNET_TSM (object);

  switch (prop_id)
    {
    case PROP_NUM_SEGMENTS:
      self->num_segments = g_value_get_int (value);
      break;
    case PROP_IS_SHIFT:
      self->is_shift = g_value_get_boolean (value);
      break;
    case PROP_NON_LOCAL:
      mact_native_replace_variant (&self->non_local, value);
      break;
    case PROP_NON_LOCAL_CFG:
      mact_native_replace_json (&self->non_local_cfg, value);
      break;
    case PROP_SHIFT_DIV:
      self->shift_div = g_value_get_int (value);
      break;
    case PROP_SHIFT_PLACE:
      g_free (self->shift_place);
      self->shift_place = g_value_dup_string (value);
      break;
    case PROP_TEMPORAL_POOL:
      self->temporal_pool = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_resnet_tsm_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  MactNativeResNetTSM *self = MACT_NATIVE_RESNET_TSM (object);

  switch (prop_id)
    {
    case PROP_NUM_SEGMENTS:
      g_value_set_int (value, self->num_segments);
      break;
    case PROP_IS_SHIFT:
      g_value_set_boolean (value, self->is_shift);
      break;
    case PROP_NON_LOCAL:
      g_value_set_variant (value, self->non_local);
      break;
    case PROP_NON_LOCAL_CFG:
      g_value_set_boxed (value, self->non_local_cfg);
      break;
    case PROP_SHIFT_DIV:
      g_value_set_int (value, self->shift_div);
      break;
    case PROP_SHIFT_PLACE:
      g_value_set_string (value, self->shift_place);
      break;
    case PROP_TEMPORAL_POOL:
      g_value_set_boolean (value, self->temporal_pool);
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
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "ResNetTSM: %s",
               message);
  return FALSE;
}

/* Whether any leaf of a (possibly nested) non_local spec is truthy, as Python's
 * `if non_local:` on each entry. */
static gboolean
variant_any_nonzero (GVariant *v)
{
  if (v == NULL)
    return FALSE;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (v);
      return variant_any_nonzero (inner);
    }
  if (g_variant_is_container (v))
    {
      for (gsize i = 0; i < g_variant_n_children (v); i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (v, i);
          if (variant_any_nonzero (child))
            return TRUE;
        }
      return FALSE;
    }
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    return g_variant_get_int64 (v) != 0;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    return g_variant_get_int32 (v) != 0;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
    return g_variant_get_boolean (v);
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    return g_variant_get_double (v) != 0.0;
  return TRUE;
}

static gboolean
non_local_cfg_empty (JsonNode *cfg)
{
  return cfg == NULL || JSON_NODE_HOLDS_NULL (cfg) ||
         (JSON_NODE_HOLDS_OBJECT (cfg) && json_object_get_size (json_node_get_object (cfg)) == 0);
}

static gboolean
wrap (MactModule *owner, const char *name, gint num_segments, gint shift_div, GError **error)
{
  MactModule *net = mact_module_get_child (owner, name);
  g_autoptr(MactModule) shift = mact_native_temporal_shift_new (net, num_segments, shift_div);
  return mact_module_replace_child (owner, name, shift, error);
}

/* mmaction2's make_temporal_shift. */
static gboolean
make_temporal_shift (MactNativeResNetTSM *self, GError **error)
{
  MactModule *module = MACT_MODULE (self);
  gint segments[TSM_STAGES];
  segments[0] = self->num_segments;
  for (gint i = 1; i < TSM_STAGES; i++)
    segments[i] = self->temporal_pool ? self->num_segments / 2 : self->num_segments;
  if (segments[TSM_STAGES - 1] <= 0)
    return invalid (error, "num_segments %d leaves no segment after the temporal pool",
                    self->num_segments);

  const gboolean block = g_str_equal (self->shift_place, "block");
  /* blockres: every second block when layer3 is as deep as ResNet-101's. */
  const guint n_round =
    !block && mact_sequential_get_length (MACT_SEQUENTIAL (mact_module_get_child (module,
                                                                                   "layer3")))
    >= 23 ? 2 : 1;
  for (gint i = 0; i < TSM_STAGES; i++)
    {
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      MactModule *layer = mact_module_get_child (module, name);
      g_auto(GStrv) blocks = mact_module_list_children (layer);
      for (guint b = 0; blocks[b] != NULL; b++)
        {
          if (block)
            {
              if (!wrap (layer, blocks[b], segments[i], self->shift_div, error))
                return FALSE;
            }
          else if (b % n_round == 0)
            {
              MactModule *conv1 = mact_module_get_child (mact_module_get_child (layer,
                                                                                blocks[b]),
                                                         "conv1");
              if (!wrap (conv1, "conv", segments[i], self->shift_div, error))
                return FALSE;
            }
        }
    }
  return TRUE;
}

static gboolean
mact_native_resnet_tsm_build (MactModule *module, GError **error)
{
  MactNativeResNetTSM *self = MACT_NATIVE_RESNET_TSM (module);
  gint num_stages = 0;

  /* Validate first: the ResNet itself is expensive to build. */
  g_object_get (module, "num-stages", &num_stages, NULL);
  if (self->num_segments < 1)
    return invalid (error, "num_segments must be positive, got %d", self->num_segments);
  if (self->shift_div < 1)
    return invalid (error, "shift_div must be positive, got %d", self->shift_div);
  if (self->shift_place == NULL ||
      !(g_str_equal (self->shift_place, "block") || g_str_equal (self->shift_place, "blockres")))
    return invalid (error, "shift_place must be 'block' or 'blockres', got '%s'",
                    self->shift_place ? self->shift_place : "(null)");
  if ((self->is_shift || self->temporal_pool) && num_stages != TSM_STAGES)
    return invalid (error, "the temporal shift and pool need num_stages=4, got %d",
                    num_stages);
  if (self->temporal_pool && self->num_segments % 2 != 0)
    return invalid (error, "temporal_pool halves the segments: num_segments must be even, "
                    "got %d", self->num_segments);
  if (!non_local_cfg_empty (self->non_local_cfg) && variant_any_nonzero (self->non_local))
    return invalid (error, "non-local blocks (NonLocal3d) are not supported: non_local must "
                    "be all zeros");

  if (!MACT_MODULE_CLASS (mact_native_resnet_tsm_parent_class)->build (module, error))
    return FALSE;

  if (self->is_shift && !make_temporal_shift (self, error))
    return FALSE;
  if (self->temporal_pool)
    {
      MactModule *layer2 = mact_module_get_child (module, "layer2");
      g_autoptr(MactModule) pool = mact_native_temporal_pool_new (layer2, self->num_segments,
                                                                  error);
      if (pool == NULL || !mact_module_replace_child (module, "layer2", pool, error))
        return FALSE;
    }
  /* Re-apply frozen_stages / norm_eval / partial_bn now that the wrappers are in place. */
  mact_module_train (module, mact_module_is_training (module));
  return TRUE;
}

static void
mact_native_resnet_tsm_finalize (GObject *object)
{
  MactNativeResNetTSM *self = MACT_NATIVE_RESNET_TSM (object);

  g_clear_pointer (&self->non_local, g_variant_unref);
  mact_native_clear_json (&self->non_local_cfg);
  g_free (self->shift_place);
  G_OBJECT_CLASS (mact_native_resnet_tsm_parent_class)->finalize (object);
}

static void
mact_native_resnet_tsm_class_init (MactNativeResNetTSMClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  static const gint64 zeros[TSM_STAGES] = { 0, 0, 0, 0 };

  object_class->set_property = mact_native_resnet_tsm_set_property;
  object_class->get_property = mact_native_resnet_tsm_get_property;
  object_class->finalize = mact_native_resnet_tsm_finalize;
  MACT_MODULE_CLASS (klass)->build = mact_native_resnet_tsm_build;

  /**
   * MactNativeResNetTSM:num-segments:
   *
   * Segments (frames) per clip: the batch dimension is N * num_segments.
   */
  properties[PROP_NUM_SEGMENTS] =
    g_param_spec_int ("num-segments", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactNativeResNetTSM:is-shift:
   *
   * Insert the temporal shift modules.
   */
  properties[PROP_IS_SHIFT] =
    g_param_spec_boolean ("is-shift", NULL, NULL, TRUE, flags);
  /**
   * MactNativeResNetTSM:non-local:
   *
   * Per-stage (or per-block) non-local flags.  Only used with a non-empty non_local_cfg,
   * where any non-zero entry is refused: NonLocal3d is not implemented.
   */
  properties[PROP_NON_LOCAL] =
    g_param_spec_variant ("non-local", NULL, NULL, G_VARIANT_TYPE_ANY,
                          g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, zeros, TSM_STAGES,
                                                     sizeof (gint64)), flags);
  /**
   * MactNativeResNetTSM:non-local-cfg:
   *
   * The NonLocal3d config (mmaction2's default is an empty dict).
   */
  properties[PROP_NON_LOCAL_CFG] =
    g_param_spec_boxed ("non-local-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeResNetTSM:shift-div:
   *
   * 1 / shift_div of the channels shift forward in time, as many backward.
   */
  properties[PROP_SHIFT_DIV] =
    g_param_spec_int ("shift-div", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactNativeResNetTSM:shift-place:
   *
   * 'blockres' (shift the input of each block's first conv, inside the residual branch)
   * or 'block' (shift the block's input, shortcut included).
   */
  properties[PROP_SHIFT_PLACE] =
    g_param_spec_string ("shift-place", NULL, NULL, "blockres", flags);
  /**
   * MactNativeResNetTSM:temporal-pool:
   *
   * Halve the segments with a temporal max pool before layer2.
   */
  properties[PROP_TEMPORAL_POOL] =
    g_param_spec_boolean ("temporal-pool", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_resnet_tsm_init (MactNativeResNetTSM *self)
{
}
