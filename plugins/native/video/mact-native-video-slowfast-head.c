/* mact-native-video-slowfast-head.c: mmaction2's SlowFastHead
 * (mmaction/models/heads/slowfast_head.py), registered as "SlowFastHead".
 *
 * forward_head(x): x is ResNet3dSlowFast's tuple (x_slow, x_fast).  mmaction2 unpacks it
 * as `x_fast, x_slow = x` (the names are swapped) and concatenates `(x_slow, x_fast)`, so
 * after pooling the feature is [pooled x[1], pooled x[0]] = [fast channels, slow
 * channels]: fc_cls's first in_channels columns see the fast pathway (256 for R50), the
 * last ones the slow pathway (2048).  Then dropout, flatten, fc_cls: [N, K].  num_segs is
 * ignored. */
#include "mact-native-video-slowfast-head.h"
#include "mact-native-layers.h"

#include <math.h>

#define BLOCK "SlowFastHead"

struct _MactNativeVideoSlowFastHead
{
  MactHead    parent_instance;

  /* properties */
  gchar      *spatial_type;
  double      dropout_ratio;
  double      init_std;

  /* built; borrowed from the children table */
  MactModule *dropout;
  MactModule *fc_cls;
  MactModule *avg_pool;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoSlowFastHead, mact_native_video_slowfast_head,
                     MACT_TYPE_HEAD)

enum {
  PROP_0,
  PROP_SPATIAL_TYPE,
  PROP_DROPOUT_RATIO,
  PROP_INIT_STD,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_video_slowfast_head_set_property (GObject *object, guint prop_id,
                                              const GValue *value, GParamSpec *pspec)
{
  MactNativeVideoSlowFastHead *self = MACT_NATIVE_VIDEO_SLOWFAST_HEAD (object);

  switch (prop_id)
    {
    case PROP_SPATIAL_TYPE:
      g_free (self->spatial_type);
      self->spatial_type = g_value_dup_string (value);
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
mact_native_video_slowfast_head_get_property (GObject *object, guint prop_id, GValue *value,
                                              GParamSpec *pspec)
{
  MactNativeVideoSlowFastHead *self = MACT_NATIVE_VIDEO_SLOWFAST_HEAD (object);

  switch (prop_id)
    {
    case PROP_SPATIAL_TYPE:
      g_value_set_string (value, self->spatial_type);
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
mact_native_video_slowfast_head_build (MactModule *module, GError **error)
{
  MactNativeVideoSlowFastHead *self = MACT_NATIVE_VIDEO_SLOWFAST_HEAD (module);
  MactHead *head = MACT_HEAD (module);

  if (!MACT_MODULE_CLASS (mact_native_video_slowfast_head_parent_class)->build (module, error))
    return FALSE;
  /* mmaction2 builds no pool for another spatial_type and then fails at forward. */
  if (self->spatial_type == NULL || !g_str_equal (self->spatial_type, "avg"))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   BLOCK ": spatial_type must be 'avg', got '%s'",
                   self->spatial_type ? self->spatial_type : "None");
      return FALSE;
    }
  if (!(self->dropout_ratio >= 0.0 && self->dropout_ratio <= 1.0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   BLOCK ": dropout_ratio must be in [0, 1], got %g", self->dropout_ratio);
      return FALSE;
    }
  if (!(self->init_std >= 0.0 && isfinite (self->init_std)))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   BLOCK ": init_std must be a finite non-negative number, got %g",
                   self->init_std);
      return FALSE;
    }

  /* mmaction2's order: dropout, fc_cls, avg_pool. */
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
  const gint64 one[3] = { 1, 1, 1 };
  g_autoptr(MactModule) pool = mact_adaptive_avg_pool_new (3, one, error);
  if (pool == NULL)
    return FALSE;
  mact_module_add_child (module, "avg_pool", pool);
  self->avg_pool = pool;
  return TRUE;
}

static MactTensor *
pool_feature (MactNativeVideoSlowFastHead *self, MactTensor *x, guint index, GError **error)
{
  if (x == NULL || mact_tensor_get_ndim (x) != 5)
    {
      g_autofree char *shape = x ? mact_tensor_shape_to_string (x) : g_strdup ("NULL");
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   BLOCK ": expected features [N, C, T, H, W], got %s at %u", shape, index);
      return NULL;
    }
  return mact_module_forward1 (self->avg_pool, x, error);
}

static MactTensor *
mact_native_video_slowfast_head_forward_head (MactHead *head, GPtrArray *inputs,
                                              gint num_segs, GError **error)
{
  MactNativeVideoSlowFastHead *self = MACT_NATIVE_VIDEO_SLOWFAST_HEAD (head);

  if (inputs->len != 2)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   BLOCK ": expected the tuple (x_slow, x_fast) of two features, got %u "
                   "input%s", inputs->len, inputs->len == 1 ? "" : "s");
      return NULL;
    }
  g_autoptr(MactTensor) pooled0 = pool_feature (self, g_ptr_array_index (inputs, 0), 0, error);
  if (pooled0 == NULL)
    return NULL;
  g_autoptr(MactTensor) pooled1 = pool_feature (self, g_ptr_array_index (inputs, 1), 1, error);
  if (pooled1 == NULL)
    return NULL;
  /* x_fast, x_slow = x; cat((x_slow, x_fast)): the second input first. */
  MactTensor *parts[2] = { pooled1, pooled0 };
  g_autoptr(MactTensor) cat = mact_cat (parts, 2, 1, error);
  if (cat == NULL)
    {
      g_prefix_error (error, BLOCK ": ");
      return NULL;
    }
  g_autoptr(MactTensor) dropped = self->dropout != NULL
                                  ? mact_module_forward1 (self->dropout, cat, error)
                                  : mact_tensor_ref (cat);
  if (dropped == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (dropped, 1, -1, error);
  if (flat == NULL)
    return NULL;
  const gint in_channels = mact_head_get_in_channels (head);
  if (mact_tensor_get_size (flat, 1) != in_channels)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   BLOCK ": the two features have %" G_GINT64_FORMAT " + %" G_GINT64_FORMAT
                   " channels, expected in_channels=%d in all",
                   mact_tensor_get_size (pooled1, 1), mact_tensor_get_size (pooled0, 1),
                   in_channels);
      return NULL;
    }
  return mact_module_forward1 (self->fc_cls, flat, error);
}

static GPtrArray *
mact_native_video_slowfast_head_forward (MactModule *module, GPtrArray *inputs,
                                         GError **error)
{
  MactTensor *score = mact_head_forward_head (MACT_HEAD (module), inputs, 0, error);
  if (score == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, score);
  return outputs;
}

static gboolean
mact_native_video_slowfast_head_init_weights (MactModule *module, MactGenerator *generator,
                                              GError **error)
{
  MactNativeVideoSlowFastHead *self = MACT_NATIVE_VIDEO_SLOWFAST_HEAD (module);
  /* normal_init(fc_cls, std=init_std). */
  return mact_native_normal_init (mact_module_get_parameter (self->fc_cls, "weight"),
                                  mact_module_get_parameter (self->fc_cls, "bias"),
                                  generator ? generator : mact_generator_get_default (),
                                  self->init_std, error);
}

static void
mact_native_video_slowfast_head_finalize (GObject *object)
{
  MactNativeVideoSlowFastHead *self = MACT_NATIVE_VIDEO_SLOWFAST_HEAD (object);

  g_free (self->spatial_type);
  G_OBJECT_CLASS (mact_native_video_slowfast_head_parent_class)->finalize (object);
}

static void
mact_native_video_slowfast_head_class_init (MactNativeVideoSlowFastHeadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_video_slowfast_head_set_property;
  object_class->get_property = mact_native_video_slowfast_head_get_property;
  object_class->finalize = mact_native_video_slowfast_head_finalize;
  module_class->build = mact_native_video_slowfast_head_build;
  module_class->forward = mact_native_video_slowfast_head_forward;
  module_class->init_weights = mact_native_video_slowfast_head_init_weights;
  MACT_HEAD_CLASS (klass)->forward_head = mact_native_video_slowfast_head_forward_head;

  /**
   * MactNativeVideoSlowFastHead:spatial-type:
   *
   * 'avg' (adaptive average pooling of both features over T, H and W), the only value
   * mmaction2's forward works with.
   */
  properties[PROP_SPATIAL_TYPE] =
    g_param_spec_string ("spatial-type", NULL, NULL, "avg", flags);
  /**
   * MactNativeVideoSlowFastHead:dropout-ratio:
   *
   * Dropout probability before fc_cls; 0 adds no dropout layer.
   */
  properties[PROP_DROPOUT_RATIO] =
    g_param_spec_double ("dropout-ratio", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.8, flags);
  /**
   * MactNativeVideoSlowFastHead:init-std:
   *
   * Standard deviation of fc_cls's normal initialisation.
   */
  properties[PROP_INIT_STD] =
    g_param_spec_double ("init-std", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.01, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_video_slowfast_head_init (MactNativeVideoSlowFastHead *self)
{
}
