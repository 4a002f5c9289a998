/* mact-native-tsm-head.c: mmaction2's TSMHead (heads/tsm_head.py), registered as
 * "TSMHead".
 *
 * forward_head(x, num_segs): x is [N * num_segments, C, H, W] (pooled by
 * AdaptiveAvgPool2d(1) when spatial_type is 'avg') or, with spatial_type None, features
 * already pooled ([N * num_segments, C] or [..., C, 1, 1]).  Each row is classified
 * first (flatten, dropout, fc_cls), then the scores of the segments of a clip are
 * averaged: the segments per clip are the head's own num_segments (halved when is_shift
 * and temporal_pool), and the recognizer's num_segs is ignored, as in mmaction2.  The
 * result is [N * crops, K].
 *
 * As TSNHead, only {type: 'AvgConsensus', dim: 1} is accepted as consensus (mmaction2
 * crashes in forward on anything else) and tuple inputs are refused. */
#include "mact-native-tsm-head.h"
#include "mact-native-layers.h"

#include <math.h>

struct _MactNativeTSMHead
{
  MactHead    parent_instance;

  /* properties */
  gint        num_segments;
  gchar      *spatial_type;
  JsonNode   *consensus;
  double      dropout_ratio;
  double      init_std;
  gboolean    is_shift;
  gboolean    temporal_pool;

  /* built; borrowed from the children table */
  MactModule *dropout;
  MactModule *fc_cls;
  MactModule *avg_pool;
};

G_DEFINE_FINAL_TYPE (MactNativeTSMHead, mact_native_tsm_head, MACT_TYPE_HEAD)

enum {
  PROP_0,
  PROP_NUM_SEGMENTS,
  PROP_SPATIAL_TYPE,
  PROP_CONSENSUS,
  PROP_DROPOUT_RATIO,
  PROP_INIT_STD,
  PROP_IS_SHIFT,
  PROP_TEMPORAL_POOL,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_tsm_head_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  MactNativeTSMHead *self = MACT_NATIVE_TSM_HEAD (object);

  switch (prop_id)
    {
    case PROP_NUM_SEGMENTS:
      self->num_segments = g_value_get_int (value);
      break;
    case PROP_SPATIAL_TYPE:
      g_free (self->spatial_type);
      self->spatial_type = g_value_dup_string (value);
      break;
    case PROP_CONSENSUS:
      mact_native_replace_json (&self->consensus, value);
      break;
    case PROP_DROPOUT_RATIO:
      self->dropout_ratio = g_value_get_double (value);
      break;
    case PROP_INIT_STD:
      self->init_std = g_value_get_double (value);
      break;
    case PROP_IS_SHIFT:
      self->is_shift = g_value_get_boolean (value);
      break;
    case PROP_TEMPORAL_POOL:
      self->temporal_pool = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_tsm_head_get_property (GObject *object, guint prop_id, GValue *value,
                                   GParamSpec *pspec)
{
  MactNativeTSMHead *self = MACT_NATIVE_TSM_HEAD (object);

  switch (prop_id)
    {
    case PROP_NUM_SEGMENTS:
      g_value_set_int (value, self->num_segments);
      break;
    case PROP_SPATIAL_TYPE:
      g_value_set_string (value, self->spatial_type);
      break;
    case PROP_CONSENSUS:
      g_value_set_boxed (value, self->consensus);
      break;
    case PROP_DROPOUT_RATIO:
      g_value_set_double (value, self->dropout_ratio);
      break;
    case PROP_INIT_STD:
      g_value_set_double (value, self->init_std);
      break;
    case PROP_IS_SHIFT:
      g_value_set_boolean (value, self->is_shift);
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
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "TSMHead: %s",
               message);
  return FALSE;
}

/* The segments per clip the scores are averaged over. */
static gint
clip_segments (MactNativeTSMHead *self)
{
  return self->is_shift && self->temporal_pool ? self->num_segments / 2 : self->num_segments;
}

static gboolean
mact_native_tsm_head_build (MactModule *module, GError **error)
{
  MactNativeTSMHead *self = MACT_NATIVE_TSM_HEAD (module);
  MactHead *head = MACT_HEAD (module);

  if (!MACT_MODULE_CLASS (mact_native_tsm_head_parent_class)->build (module, error))
    return FALSE;
  if (self->num_segments < 1 || clip_segments (self) < 1)
    return invalid (error, "num_segments must be positive (>= 2 with temporal_pool), got %d",
                    self->num_segments);
  if (self->spatial_type != NULL && !g_str_equal (self->spatial_type, "avg"))
    return invalid (error, "spatial_type must be 'avg' or None, got '%s'", self->spatial_type);
  if (!(self->dropout_ratio >= 0.0 && self->dropout_ratio <= 1.0))
    return invalid (error, "dropout_ratio must be in [0, 1], got %g", self->dropout_ratio);
  if (!(self->init_std >= 0.0 && isfinite (self->init_std)))
    return invalid (error, "init_std must be a finite non-negative number, got %g",
                    self->init_std);
  if (!mact_native_check_avg_consensus (self->consensus, "TSMHead", error))
    return FALSE;

  if (self->dropout_ratio != 0.0)
    {
      g_autoptr(MactModule) dropout = mact_dropout_new (self->dropout_ratio, error);
      if (dropout == NULL)
        return FALSE;
      mact_module_add_child (module, "dropout", dropout);
      self->dropout = dropout;
    }
  g_autoptr(MactModule) fc_cls = mact_linear_new (mact_head_get_in_channels (head),
                                                  mact_head_get_num_classes (head), TRUE,
                                                  error);
  if (fc_cls == NULL)
    return FALSE;
  mact_module_add_child (module, "fc_cls", fc_cls);
  self->fc_cls = fc_cls;
  if (self->spatial_type != NULL)
    {
      const gint64 one[2] = { 1, 1 };
      g_autoptr(MactModule) pool = mact_adaptive_avg_pool_new (2, one, error);
      if (pool == NULL)
        return FALSE;
      mact_module_add_child (module, "avg_pool", pool);
      self->avg_pool = pool;
    }
  return TRUE;
}

static MactTensor *
mact_native_tsm_head_forward_head (MactHead *head, GPtrArray *inputs, gint num_segs,
                                   GError **error)
{
  MactNativeTSMHead *self = MACT_NATIVE_TSM_HEAD (head);

  if (!mact_native_check_single_input (inputs, "TSMHead", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  const gint ndim = mact_tensor_get_ndim (x);
  g_autofree char *in_shape = mact_tensor_shape_to_string (x);
  if ((self->avg_pool != NULL && ndim != 4) || ndim < 2)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TSMHead: expected features [N * num_segments, C, H, W]%s, got %s",
                   self->avg_pool ? "" : " or [N * num_segments, C]", in_shape);
      return NULL;
    }
  const gint segs = clip_segments (self);
  const gint64 rows = mact_tensor_get_size (x, 0);
  if (rows == 0 || rows % segs != 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TSMHead: %" G_GINT64_FORMAT " feature rows (%s) are not a multiple of "
                   "the %d segments per clip", rows, in_shape, segs);
      return NULL;
    }

  g_autoptr(MactTensor) pooled = self->avg_pool != NULL
                                 ? mact_module_forward1 (self->avg_pool, x, error)
                                 : mact_tensor_ref (x);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (pooled, 1, -1, error);
  if (flat == NULL)
    return NULL;
  const gint in_channels = mact_head_get_in_channels (head);
  if (mact_tensor_get_size (flat, 1) != in_channels)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TSMHead: features %s give %" G_GINT64_FORMAT " values per row after "
                   "pooling, expected in_channels=%d", in_shape, mact_tensor_get_size (flat, 1),
                   in_channels);
      return NULL;
    }
  g_autoptr(MactTensor) dropped = self->dropout != NULL
                                  ? mact_module_forward1 (self->dropout, flat, error)
                                  : mact_tensor_ref (flat);
  if (dropped == NULL)
    return NULL;
  g_autoptr(MactTensor) scores = mact_module_forward1 (self->fc_cls, dropped, error);
  if (scores == NULL)
    return NULL;
  /* [N * segs, K] -> [N, segs, K]; AvgConsensus over dim 1, then squeeze(1). */
  const gint64 shape[3] = { rows / segs, segs, mact_tensor_get_size (scores, 1) };
  g_autoptr(MactTensor) grouped = mact_tensor_reshape (scores, 3, shape, error);
  if (grouped == NULL)
    return NULL;
  const gint seg_dim[] = { 1 };
  return mact_mean (grouped, 1, seg_dim, FALSE, error);
}

/* As a plain module, forward is forward_head (num_segs is ignored anyway). */
static GPtrArray *
mact_native_tsm_head_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTensor *score = mact_head_forward_head (MACT_HEAD (module), inputs, 0, error);
  if (score == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, score);
  return outputs;
}

static gboolean
mact_native_tsm_head_init_weights (MactModule *module, MactGenerator *generator,
                                   GError **error)
{
  MactNativeTSMHead *self = MACT_NATIVE_TSM_HEAD (module);
  /* normal_init(fc_cls, std=init_std). */
  return mact_native_normal_init (mact_module_get_parameter (self->fc_cls, "weight"),
                                  mact_module_get_parameter (self->fc_cls, "bias"),
                                  generator ? generator : mact_generator_get_default (),
                                  self->init_std, error);
}

static void
mact_native_tsm_head_finalize (GObject *object)
{
  MactNativeTSMHead *self = MACT_NATIVE_TSM_HEAD (object);

  g_free (self->spatial_type);
  mact_native_clear_json (&self->consensus);
  G_OBJECT_CLASS (mact_native_tsm_head_parent_class)->finalize (object);
}

static void
mact_native_tsm_head_class_init (MactNativeTSMHeadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_tsm_head_set_property;
  object_class->get_property = mact_native_tsm_head_get_property;
  object_class->finalize = mact_native_tsm_head_finalize;
  module_class->build = mact_native_tsm_head_build;
  module_class->forward = mact_native_tsm_head_forward;
  module_class->init_weights = mact_native_tsm_head_init_weights;
  MACT_HEAD_CLASS (klass)->forward_head = mact_native_tsm_head_forward_head;

  /**
   * MactNativeTSMHead:num-segments:
   *
   * Segments per clip, the same as the backbone's; the scores of a clip's segments are
   * averaged.
   */
  properties[PROP_NUM_SEGMENTS] =
    g_param_spec_int ("num-segments", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactNativeTSMHead:spatial-type:
   *
   * 'avg' (adaptive average pooling to 1x1) or %NULL (features are already pooled).
   */
  properties[PROP_SPATIAL_TYPE] =
    g_param_spec_string ("spatial-type", NULL, NULL, "avg", flags);
  /**
   * MactNativeTSMHead:consensus:
   *
   * The segmental consensus config: %NULL or `{type: 'AvgConsensus', dim: 1}`.
   */
  properties[PROP_CONSENSUS] =
    g_param_spec_boxed ("consensus", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeTSMHead:dropout-ratio:
   *
   * Dropout probability before fc_cls; 0 adds no dropout layer.
   */
  properties[PROP_DROPOUT_RATIO] =
    g_param_spec_double ("dropout-ratio", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.8, flags);
  /**
   * MactNativeTSMHead:init-std:
   *
   * Standard deviation of fc_cls's normal initialisation.
   */
  properties[PROP_INIT_STD] =
    g_param_spec_double ("init-std", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.001, flags);
  /**
   * MactNativeTSMHead:is-shift:
   *
   * Whether the backbone shifts features (with temporal_pool, the segments are halved).
   */
  properties[PROP_IS_SHIFT] =
    g_param_spec_boolean ("is-shift", NULL, NULL, TRUE, flags);
  /**
   * MactNativeTSMHead:temporal-pool:
   *
   * Whether the backbone pools over time (ResNetTSM's temporal_pool): with is_shift, a
   * clip has num_segments / 2 rows.
   */
  properties[PROP_TEMPORAL_POOL] =
    g_param_spec_boolean ("temporal-pool", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_tsm_head_init (MactNativeTSMHead *self)
{
}
