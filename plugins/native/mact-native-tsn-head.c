/* mact-native-tsn-head.c: mmaction2's TSNHead, registered as "TSNHead".
 *
 * forward_head(x, num_segs): x is one tensor [N * num_segs, C, H, W] (pooled by
 * AdaptiveAvgPool2d(1) when spatial_type is 'avg') or, with spatial_type None, features
 * already pooled ([N * num_segs, C, 1, 1] or [N * num_segs, C]).  The segments of each
 * sample are averaged (AvgConsensus over dim 1), then dropout and fc_cls give [N, K].
 *
 * The `consensus` config must be {type: 'AvgConsensus', dim: 1}.  mmaction2 accepts any
 * other type at construction and then crashes in forward (its consensus becomes None);
 * refusing it at build time is a deliberate fix.  Other dims are refused too: with the
 * squeeze(1) that follows, only dim 1 gives a working head.  Tuple inputs are refused as
 * mmaction2 asserts. */
#include "mact-native-tsn-head.h"
#include "mact-native-layers.h"

#include <math.h>

typedef struct {
  /* properties */
  gchar      *spatial_type;
  JsonNode   *consensus;
  double      dropout_ratio;
  double      init_std;

  /* built; borrowed from the children table */
  MactModule *avg_pool;
  MactModule *dropout;
  MactModule *fc_cls;
} MactNativeTSNHeadPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (MactNativeTSNHead, mact_native_tsn_head, MACT_TYPE_HEAD)

enum {
  PROP_0,
  PROP_SPATIAL_TYPE,
  PROP_CONSENSUS,
  PROP_DROPOUT_RATIO,
  PROP_INIT_STD,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_tsn_head_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  MactNativeTSNHeadPrivate *priv =
    mact_native_tsn_head_get_instance_private (MACT_NATIVE_TSN_HEAD (object));

  switch (prop_id)
    {
    case PROP_SPATIAL_TYPE:
      g_free (priv->spatial_type);
      priv->spatial_type = g_value_dup_string (value);
      break;
    case PROP_CONSENSUS:
      mact_native_replace_json (&priv->consensus, value);
      break;
    case PROP_DROPOUT_RATIO:
      priv->dropout_ratio = g_value_get_double (value);
      break;
    case PROP_INIT_STD:
      priv->init_std = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_tsn_head_get_property (GObject *object, guint prop_id, GValue *value,
                                   GParamSpec *pspec)
{
  MactNativeTSNHeadPrivate *priv =
    mact_native_tsn_head_get_instance_private (MACT_NATIVE_TSN_HEAD (object));

  switch (prop_id)
    {
    case PROP_SPATIAL_TYPE:
      g_value_set_string (value, priv->spatial_type);
      break;
    case PROP_CONSENSUS:
      g_value_set_boxed (value, priv->consensus);
      break;
    case PROP_DROPOUT_RATIO:
      g_value_set_double (value, priv->dropout_ratio);
      break;
    case PROP_INIT_STD:
      g_value_set_double (value, priv->init_std);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_native_tsn_head_build (MactModule *module, GError **error)
{
  MactNativeTSNHead *self = MACT_NATIVE_TSN_HEAD (module);
  MactNativeTSNHeadPrivate *priv = mact_native_tsn_head_get_instance_private (self);

  if (!MACT_MODULE_CLASS (mact_native_tsn_head_parent_class)->build (module, error))
    return FALSE;
  if (priv->spatial_type != NULL && !g_str_equal (priv->spatial_type, "avg"))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TSNHead: spatial_type must be 'avg' or None, got '%s'",
                   priv->spatial_type);
      return FALSE;
    }
  if (!(priv->dropout_ratio >= 0.0 && priv->dropout_ratio <= 1.0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TSNHead: dropout_ratio must be in [0, 1], got %g", priv->dropout_ratio);
      return FALSE;
    }
  if (!(priv->init_std >= 0.0 && isfinite (priv->init_std)))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TSNHead: init_std must be a finite non-negative number, got %g",
                   priv->init_std);
      return FALSE;
    }
  if (!mact_native_check_avg_consensus (priv->consensus, "TSNHead", error))
    return FALSE;

  MactHead *head = MACT_HEAD (module);
  if (priv->spatial_type != NULL)
    {
      const gint64 one[2] = { 1, 1 };
      g_autoptr(MactModule) pool = mact_adaptive_avg_pool_new (2, one, error);
      if (pool == NULL)
        return FALSE;
      mact_module_add_child (module, "avg_pool", pool);
      priv->avg_pool = pool;
    }
  if (priv->dropout_ratio != 0.0)
    {
      g_autoptr(MactModule) dropout = mact_dropout_new (priv->dropout_ratio, error);
      if (dropout == NULL)
        return FALSE;
      mact_module_add_child (module, "dropout", dropout);
      priv->dropout = dropout;
    }
  g_autoptr(MactModule) fc_cls = mact_linear_new (mact_head_get_in_channels (head),
                                                  mact_head_get_num_classes (head), TRUE,
                                                  error);
  if (fc_cls == NULL)
    return FALSE;
  mact_module_add_child (module, "fc_cls", fc_cls);
  priv->fc_cls = fc_cls;
  return TRUE;
}

static MactTensor *
mact_native_tsn_head_forward_head (MactHead *head, GPtrArray *inputs, gint num_segs,
                                   GError **error)
{
  MactNativeTSNHeadPrivate *priv =
    mact_native_tsn_head_get_instance_private (MACT_NATIVE_TSN_HEAD (head));

  if (!mact_native_check_single_input (inputs, "TSNHead", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  gint ndim = mact_tensor_get_ndim (x);
  g_autofree char *in_shape = mact_tensor_shape_to_string (x);
  if (num_segs <= 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TSNHead: num_segs must be positive, got %d", num_segs);
      return NULL;
    }
  if ((priv->avg_pool != NULL && ndim != 4) || ndim < 2 || ndim >= MACT_MAX_DIMS)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TSNHead: expected features [N * num_segs, C, H, W]%s, got %s",
                   priv->avg_pool ? "" : " or [N * num_segs, C]", in_shape);
      return NULL;
    }
  gint64 rows = mact_tensor_get_size (x, 0);
  if (rows % num_segs != 0 || rows == 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TSNHead: %" G_GINT64_FORMAT " feature rows (%s) are not a multiple of "
                   "num_segs=%d", rows, in_shape, num_segs);
      return NULL;
    }

  g_autoptr(MactTensor) pooled = priv->avg_pool != NULL
                                 ? mact_module_forward1 (priv->avg_pool, x, error)
                                 : mact_tensor_ref (x);
  if (pooled == NULL)
    return NULL;
  /* [N * num_segs, ...] -> [N, num_segs, ...]; AvgConsensus then squeeze(1). */
  gint64 shape[MACT_MAX_DIMS];
  const gint64 *pshape = mact_tensor_get_shape (pooled, &ndim);
  shape[0] = rows / num_segs;
  shape[1] = num_segs;
  for (gint d = 1; d < ndim; d++)
    shape[d + 1] = pshape[d];
  g_autoptr(MactTensor) grouped = mact_tensor_reshape (pooled, ndim + 1, shape, error);
  if (grouped == NULL)
    return NULL;
  const gint seg_dim[] = { 1 };
  g_autoptr(MactTensor) consensus = mact_mean (grouped, 1, seg_dim, FALSE, error);
  if (consensus == NULL)
    return NULL;
  g_autoptr(MactTensor) dropped = priv->dropout != NULL
                                  ? mact_module_forward1 (priv->dropout, consensus, error)
                                  : mact_tensor_ref (consensus);
  if (dropped == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (dropped, 1, -1, error);
  if (flat == NULL)
    return NULL;
  gint in_channels = mact_head_get_in_channels (head);
  if (mact_tensor_get_size (flat, 1) != in_channels)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TSNHead: features %s give %" G_GINT64_FORMAT " values per sample after "
                   "pooling, expected in_channels=%d", in_shape,
                   mact_tensor_get_size (flat, 1), in_channels);
      return NULL;
    }
  return mact_module_forward1 (priv->fc_cls, flat, error);
}

/* As a plain module, each input row is its own sample (num_segs = 1). */
static GPtrArray *
mact_native_tsn_head_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTensor *score = mact_head_forward_head (MACT_HEAD (module), inputs, 1, error);
  if (score == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, score);
  return outputs;
}

static gboolean
mact_native_tsn_head_init_weights (MactModule *module, MactGenerator *generator,
                                   GError **error)
{
  MactNativeTSNHeadPrivate *priv =
    mact_native_tsn_head_get_instance_private (MACT_NATIVE_TSN_HEAD (module));
  /* normal_init(fc_cls, std=init_std); nothing else in the head has parameters. */
  return mact_native_normal_init (mact_module_get_parameter (priv->fc_cls, "weight"),
                                  mact_module_get_parameter (priv->fc_cls, "bias"),
                                  generator ? generator : mact_generator_get_default (),
                                  priv->init_std, error);
}

static void
mact_native_tsn_head_finalize (GObject *object)
{
  MactNativeTSNHeadPrivate *priv =
    mact_native_tsn_head_get_instance_private (MACT_NATIVE_TSN_HEAD (object));

  g_free (priv->spatial_type);
  mact_native_clear_json (&priv->consensus);
  G_OBJECT_CLASS (mact_native_tsn_head_parent_class)->finalize (object);
}

static void
mact_native_tsn_head_class_init (MactNativeTSNHeadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_tsn_head_set_property;
  object_class->get_property = mact_native_tsn_head_get_property;
  object_class->finalize = mact_native_tsn_head_finalize;
  module_class->build = mact_native_tsn_head_build;
  module_class->forward = mact_native_tsn_head_forward;
  module_class->init_weights = mact_native_tsn_head_init_weights;
  MACT_HEAD_CLASS (klass)->forward_head = mact_native_tsn_head_forward_head;

  /**
   * MactNativeTSNHead:spatial-type:
   *
   * 'avg' (adaptive average pooling to 1x1) or %NULL (features are already pooled).
   */
  properties[PROP_SPATIAL_TYPE] =
    g_param_spec_string ("spatial-type", NULL, NULL, "avg", flags);
  /**
   * MactNativeTSNHead:consensus:
   *
   * The segmental consensus config: %NULL or `{type: 'AvgConsensus', dim: 1}`.
   */
  properties[PROP_CONSENSUS] =
    g_param_spec_boxed ("consensus", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactNativeTSNHead:dropout-ratio:
   *
   * Dropout probability before fc_cls; 0 adds no dropout layer.
   */
  properties[PROP_DROPOUT_RATIO] =
    g_param_spec_double ("dropout-ratio", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.4, flags);
  /**
   * MactNativeTSNHead:init-std:
   *
   * Standard deviation of fc_cls's normal initialisation.
   */
  properties[PROP_INIT_STD] =
    g_param_spec_double ("init-std", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.01, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_tsn_head_init (MactNativeTSNHead *self)
{
}
