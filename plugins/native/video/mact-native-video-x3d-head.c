/* mact-native-video-x3d-head.c: mmaction2's X3DHead (mmaction/models/heads/x3d_head.py),
 * registered as "X3DHead".
 *
 * forward_head(x): x is one tensor [N, C, T, H, W]; global average ('avg') or max ('max')
 * pooling, flatten, fc1 (C -> 2048, bias only with fc1_bias), ReLU, dropout, fc2
 * (2048 -> K): [N, K].  num_segs is ignored.  Children in mmaction2's order: dropout,
 * fc1, fc2, relu, pool.
 *
 * mmaction2's X3DHead passes no **kwargs to BaseHead, so the inherited multi_class,
 * label_smooth_eps and topk must keep their defaults (anything else is refused, as
 * Python refuses the unknown keyword). */
#include "mact-native-video-x3d-head.h"
#include "mact-native-layers.h"

#include <math.h>

#define BLOCK "X3DHead"
#define MID_CHANNELS 2048

struct _MactNativeVideoX3DHead
{
  MactHead    parent_instance;

  /* properties */
  gchar      *spatial_type;
  double      dropout_ratio;
  double      init_std;
  gboolean    fc1_bias;

  /* built; borrowed from the children table */
  gboolean    max_pool;
  MactModule *dropout;
  MactModule *fc1;
  MactModule *fc2;
  MactModule *relu;
  MactModule *pool;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoX3DHead, mact_native_video_x3d_head, MACT_TYPE_HEAD)

enum {
  PROP_0,
  PROP_SPATIAL_TYPE,
  PROP_DROPOUT_RATIO,
  PROP_INIT_STD,
  PROP_FC1_BIAS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_video_x3d_head_set_property (GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec)
{
  MactNativeVideoX3DHead *self = MACT_NATIVE_VIDEO_X3D_HEAD (object);

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
    case PROP_FC1_BIAS:
      self->fc1_bias = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_video_x3d_head_get_property (GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec)
{
  MactNativeVideoX3DHead *self = MACT_NATIVE_VIDEO_X3D_HEAD (object);

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
    case PROP_FC1_BIAS:
      g_value_set_boolean (value, self->fc1_bias);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
check_base_head_defaults (MactModule *module, GError **error)
{
  gboolean multi_class = FALSE;
  double label_smooth_eps = 0.0;
  g_autoptr(GVariant) topk = NULL;

  g_object_get (module, "multi-class", &multi_class, "label-smooth-eps", &label_smooth_eps,
                "topk", &topk, NULL);
  gsize n = topk != NULL ? g_variant_n_children (topk) : 0;
  gint64 k0 = 0, k1 = 0;
  if (n == 2)
    {
      g_variant_get_child (topk, 0, "x", &k0);
      g_variant_get_child (topk, 1, "x", &k1);
    }
  if (multi_class || label_smooth_eps != 0.0 || n != 2 || k0 != 1 || k1 != 5)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   BLOCK ": multi_class, label_smooth_eps and topk are not arguments of "
                   "X3DHead (they must keep BaseHead's defaults)");
      return FALSE;
    }
  return TRUE;
}

static gboolean
mact_native_video_x3d_head_build (MactModule *module, GError **error)
{
  MactNativeVideoX3DHead *self = MACT_NATIVE_VIDEO_X3D_HEAD (module);
  MactHead *head = MACT_HEAD (module);

  if (!MACT_MODULE_CLASS (mact_native_video_x3d_head_parent_class)->build (module, error) ||
      !check_base_head_defaults (module, error))
    return FALSE;
  if (self->spatial_type == NULL ||
      !(g_str_equal (self->spatial_type, "avg") || g_str_equal (self->spatial_type, "max")))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   BLOCK ": spatial_type must be 'avg' or 'max', got '%s'",
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

  if (self->dropout_ratio != 0.0)
    {
      g_autoptr(MactModule) dropout = mact_dropout_new (self->dropout_ratio, error);
      if (dropout == NULL)
        return FALSE;
      mact_module_add_child (module, "dropout", dropout);
      self->dropout = dropout;
    }
  g_autoptr(MactModule) fc1 = mact_linear_new (mact_head_get_in_channels (head), MID_CHANNELS,
                                               self->fc1_bias, error);
  if (fc1 == NULL)
    return FALSE;
  g_autoptr(MactModule) fc2 = mact_linear_new (MID_CHANNELS, mact_head_get_num_classes (head),
                                               TRUE, error);
  if (fc2 == NULL)
    return FALSE;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  mact_module_add_child (module, "fc1", fc1);
  mact_module_add_child (module, "fc2", fc2);
  mact_module_add_child (module, "relu", relu);
  self->fc1 = fc1;
  self->fc2 = fc2;
  self->relu = relu;

  /* AdaptiveMaxPool3d(1) has no layer of its own here: forward takes a max pool over the
   * whole clip instead. */
  self->max_pool = g_str_equal (self->spatial_type, "max");
  if (!self->max_pool)
    {
      const gint64 one[3] = { 1, 1, 1 };
      g_autoptr(MactModule) pool = mact_adaptive_avg_pool_new (3, one, error);
      if (pool == NULL)
        return FALSE;
      mact_module_add_child (module, "pool", pool);
      self->pool = pool;
    }
  return TRUE;
}

static MactTensor *
global_pool (MactNativeVideoX3DHead *self, MactTensor *x, GError **error)
{
  if (!self->max_pool)
    return mact_module_forward1 (self->pool, x, error);
  const gint kernel[3] = { (gint) mact_tensor_get_size (x, 2), (gint) mact_tensor_get_size (x, 3),
                           (gint) mact_tensor_get_size (x, 4) };
  const gint zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
  return mact_max_pool3d (x, kernel, kernel, zero, one, FALSE, error);
}

static MactTensor *
mact_native_video_x3d_head_forward_head (MactHead *head, GPtrArray *inputs, gint num_segs,
                                         GError **error)
{
  MactNativeVideoX3DHead *self = MACT_NATIVE_VIDEO_X3D_HEAD (head);

  if (!mact_native_check_single_input (inputs, BLOCK, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  const gint in_channels = mact_head_get_in_channels (head);
  if (mact_tensor_get_ndim (x) != 5 || mact_tensor_get_size (x, 1) != in_channels)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   BLOCK ": expected features [N, %d, T, H, W], got %s", in_channels, shape);
      return NULL;
    }
  g_autoptr(MactTensor) pooled = global_pool (self, x, error);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (pooled, 1, -1, error);
  if (flat == NULL)
    return NULL;
  g_autoptr(MactTensor) hidden = mact_module_forward1 (self->fc1, flat, error);
  if (hidden == NULL)
    return NULL;
  g_autoptr(MactTensor) act = mact_module_forward1 (self->relu, hidden, error);
  if (act == NULL)
    return NULL;
  g_autoptr(MactTensor) dropped = self->dropout != NULL
                                  ? mact_module_forward1 (self->dropout, act, error)
                                  : mact_tensor_ref (act);
  if (dropped == NULL)
    return NULL;
  return mact_module_forward1 (self->fc2, dropped, error);
}

static GPtrArray *
mact_native_video_x3d_head_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTensor *score = mact_head_forward_head (MACT_HEAD (module), inputs, 0, error);
  if (score == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, score);
  return outputs;
}

static gboolean
mact_native_video_x3d_head_init_weights (MactModule *module, MactGenerator *generator,
                                         GError **error)
{
  MactNativeVideoX3DHead *self = MACT_NATIVE_VIDEO_X3D_HEAD (module);
  MactGenerator *gen = generator ? generator : mact_generator_get_default ();
  /* normal_init(fc1, std=init_std); normal_init(fc2, std=init_std). */
  return mact_native_normal_init (mact_module_get_parameter (self->fc1, "weight"),
                                  mact_module_get_parameter (self->fc1, "bias"), gen,
                                  self->init_std, error) &&
         mact_native_normal_init (mact_module_get_parameter (self->fc2, "weight"),
                                  mact_module_get_parameter (self->fc2, "bias"), gen,
                                  self->init_std, error);
}

static void
mact_native_video_x3d_head_finalize (GObject *object)
{
  MactNativeVideoX3DHead *self = MACT_NATIVE_VIDEO_X3D_HEAD (object);

  g_free (self->spatial_type);
  G_OBJECT_CLASS (mact_native_video_x3d_head_parent_class)->finalize (object);
}

static void
mact_native_video_x3d_head_class_init (MactNativeVideoX3DHeadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_video_x3d_head_set_property;
  object_class->get_property = mact_native_video_x3d_head_get_property;
  object_class->finalize = mact_native_video_x3d_head_finalize;
  module_class->build = mact_native_video_x3d_head_build;
  module_class->forward = mact_native_video_x3d_head_forward;
  module_class->init_weights = mact_native_video_x3d_head_init_weights;
  MACT_HEAD_CLASS (klass)->forward_head = mact_native_video_x3d_head_forward_head;

  /**
   * MactNativeVideoX3DHead:spatial-type:
   *
   * 'avg' or 'max': global pooling over T, H and W.
   */
  properties[PROP_SPATIAL_TYPE] =
    g_param_spec_string ("spatial-type", NULL, NULL, "avg", flags);
  /**
   * MactNativeVideoX3DHead:dropout-ratio:
   *
   * Dropout probability before fc2; 0 adds no dropout layer.
   */
  properties[PROP_DROPOUT_RATIO] =
    g_param_spec_double ("dropout-ratio", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.5, flags);
  /**
   * MactNativeVideoX3DHead:init-std:
   *
   * Standard deviation of fc1's and fc2's normal initialisation.
   */
  properties[PROP_INIT_STD] =
    g_param_spec_double ("init-std", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.01, flags);
  /**
   * MactNativeVideoX3DHead:fc1-bias:
   *
   * Whether fc1 has a bias.
   */
  properties[PROP_FC1_BIAS] = g_param_spec_boolean ("fc1-bias", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_video_x3d_head_init (MactNativeVideoX3DHead *self)
{
}
