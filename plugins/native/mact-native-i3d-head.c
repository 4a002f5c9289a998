/* mact-native-i3d-head.c: mmaction2's I3DHead, registered as "I3DHead".
 *
 * forward_head(x): x is one tensor [N, C, T, H, W], pooled by AdaptiveAvgPool3d(1) when
 * spatial_type is 'avg'; with spatial_type None (C3D's head) the features are used as
 * they are ([N, C] or [N, C, 1, 1, 1]).  Then dropout, flatten, fc_cls: [N, K].
 * num_segs is ignored, as mmaction2's forward(x) has no such argument. */
#include "mact-native-i3d-head.h"
#include "mact-native-layers.h"

#include <math.h>

struct _MactNativeI3DHead
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

G_DEFINE_FINAL_TYPE (MactNativeI3DHead, mact_native_i3d_head, MACT_TYPE_HEAD)

enum {
  PROP_0,
  PROP_SPATIAL_TYPE,
  PROP_DROPOUT_RATIO,
  PROP_INIT_STD,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_i3d_head_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  MactNativeI3DHead *self = MACT_NATIVE_I3D_HEAD (object);

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
mact_native_i3d_head_get_property (GObject *object, guint prop_id, GValue *value,
                                   GParamSpec *pspec)
{
  MactNativeI3DHead *self = MACT_NATIVE_I3D_HEAD (object);

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
mact_native_i3d_head_build (MactModule *module, GError **error)
{
  MactNativeI3DHead *self = MACT_NATIVE_I3D_HEAD (module);
  MactHead *head = MACT_HEAD (module);

  if (!MACT_MODULE_CLASS (mact_native_i3d_head_parent_class)->build (module, error))
    return FALSE;
  if (self->spatial_type != NULL && !g_str_equal (self->spatial_type, "avg"))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "I3DHead: spatial_type must be 'avg' or None, got '%s'",
                   self->spatial_type);
      return FALSE;
    }
  if (!(self->dropout_ratio >= 0.0 && self->dropout_ratio <= 1.0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "I3DHead: dropout_ratio must be in [0, 1], got %g", self->dropout_ratio);
      return FALSE;
    }
  if (!(self->init_std >= 0.0 && isfinite (self->init_std)))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "I3DHead: init_std must be a finite non-negative number, got %g",
                   self->init_std);
      return FALSE;
    }

  /* mmaction2's order: dropout, fc_cls, avg_pool (only fc_cls has parameters). */
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
      const gint64 one[3] = { 1, 1, 1 };
      g_autoptr(MactModule) pool = mact_adaptive_avg_pool_new (3, one, error);
      if (pool == NULL)
        return FALSE;
      mact_module_add_child (module, "avg_pool", pool);
      self->avg_pool = pool;
    }
  return TRUE;
}

static MactTensor *
mact_native_i3d_head_forward_head (MactHead *head, GPtrArray *inputs, gint num_segs,
                                   GError **error)
{
  MactNativeI3DHead *self = MACT_NATIVE_I3D_HEAD (head);

  if (!mact_native_check_single_input (inputs, "I3DHead", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  gint ndim = mact_tensor_get_ndim (x);
  g_autofree char *in_shape = mact_tensor_shape_to_string (x);
  if ((self->avg_pool != NULL && ndim != 5) || ndim < 2)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "I3DHead: expected features [N, C, T, H, W]%s, got %s",
                   self->avg_pool ? "" : " or [N, C]", in_shape);
      return NULL;
    }

  g_autoptr(MactTensor) pooled = self->avg_pool != NULL
                                 ? mact_module_forward1 (self->avg_pool, x, error)
                                 : mact_tensor_ref (x);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) dropped = self->dropout != NULL
                                  ? mact_module_forward1 (self->dropout, pooled, error)
                                  : mact_tensor_ref (pooled);
  if (dropped == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (dropped, 1, -1, error);
  if (flat == NULL)
    return NULL;
  gint in_channels = mact_head_get_in_channels (head);
  if (mact_tensor_get_size (flat, 1) != in_channels)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "I3DHead: features %s give %" G_GINT64_FORMAT " values per sample after "
                   "pooling, expected in_channels=%d", in_shape,
                   mact_tensor_get_size (flat, 1), in_channels);
      return NULL;
    }
  return mact_module_forward1 (self->fc_cls, flat, error);
}

static GPtrArray *
mact_native_i3d_head_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTensor *score = mact_head_forward_head (MACT_HEAD (module), inputs, 0, error);
  if (score == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, score);
  return outputs;
}

static gboolean
mact_native_i3d_head_init_weights (MactModule *module, MactGenerator *generator,
                                   GError **error)
{
  MactNativeI3DHead *self = MACT_NATIVE_I3D_HEAD (module);
  /* normal_init(fc_cls, std=init_std). */
  return mact_native_normal_init (mact_module_get_parameter (self->fc_cls, "weight"),
                                  mact_module_get_parameter (self->fc_cls, "bias"),
                                  generator ? generator : mact_generator_get_default (),
                                  self->init_std, error);
}

static void
mact_native_i3d_head_finalize (GObject *object)
{
  MactNativeI3DHead *self = MACT_NATIVE_I3D_HEAD (object);

  g_free (self->spatial_type);
  G_OBJECT_CLASS (mact_native_i3d_head_parent_class)->finalize (object);
}

static void
mact_native_i3d_head_class_init (MactNativeI3DHeadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_native_i3d_head_set_property;
  object_class->get_property = mact_native_i3d_head_get_property;
  object_class->finalize = mact_native_i3d_head_finalize;
  module_class->build = mact_native_i3d_head_build;
  module_class->forward = mact_native_i3d_head_forward;
  module_class->init_weights = mact_native_i3d_head_init_weights;
  MACT_HEAD_CLASS (klass)->forward_head = mact_native_i3d_head_forward_head;

  /**
   * MactNativeI3DHead:spatial-type:
   *
   * 'avg' (adaptive average pooling over T, H and W) or %NULL (features already pooled).
   */
  properties[PROP_SPATIAL_TYPE] =
    g_param_spec_string ("spatial-type", NULL, NULL, "avg", flags);
  /**
   * MactNativeI3DHead:dropout-ratio:
   *
   * Dropout probability before fc_cls; 0 adds no dropout layer.
   */
  properties[PROP_DROPOUT_RATIO] =
    g_param_spec_double ("dropout-ratio", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.5, flags);
  /**
   * MactNativeI3DHead:init-std:
   *
   * Standard deviation of fc_cls's normal initialisation.
   */
  properties[PROP_INIT_STD] =
    g_param_spec_double ("init-std", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.01, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_i3d_head_init (MactNativeI3DHead *self)
{
}
