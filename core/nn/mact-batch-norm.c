/* mact-batch-norm.c: MactBatchNorm, PyTorch's nn.BatchNorm1d/2d/3d. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

#include <math.h>

/**
 * MactBatchNorm:
 *
 * Batch normalisation over the channel dimension (PyTorch's `nn.BatchNorm1d`, `2d`,
 * `3d`).  Parameters `weight` (ones) and `bias` (zeros) of shape [num_features] when
 * affine; buffers `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked`
 * (a 0-D count) when tracking running statistics.
 *
 * In training mode the layer normalises with the batch's statistics and updates the
 * running ones (and counts the batch); in evaluation mode it uses the running
 * statistics.  Without running statistics it always uses the batch's.
 *
 * Since: 0.1
 */
struct _MactBatchNorm
{
  MactModule parent_instance;

  gint       dims;
  gint       num_features;
  double     eps;
  double     momentum;
  gboolean   affine;
  gboolean   track_running_stats;
  gboolean   sync;
};

G_DEFINE_FINAL_TYPE (MactBatchNorm, mact_batch_norm_layer, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_DIMS,
  PROP_NUM_FEATURES,
  PROP_EPS,
  PROP_MOMENTUM,
  PROP_AFFINE,
  PROP_TRACK_RUNNING_STATS,
  PROP_SYNC,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* The process group's sum for SyncBN, shared by every sync layer of the process. */
G_LOCK_DEFINE_STATIC (sync_reducer);
static MactAllReduceSumFunc sync_reduce;
static gpointer             sync_reduce_data;

static const char *
batch_norm_name (gint dims)
{
  switch (dims)
    {
    case 1:
      return "BatchNorm1d";
    case 2:
      return "BatchNorm2d";
    case 3:
      return "BatchNorm3d";
    default:
      return "BatchNorm";
    }
}

static void
mact_batch_norm_layer_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  MactBatchNorm *self = MACT_BATCH_NORM (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      self->dims = g_value_get_int (value);
      break;
    case PROP_NUM_FEATURES:
      self->num_features = g_value_get_int (value);
      break;
    case PROP_EPS:
      self->eps = g_value_get_double (value);
      break;
    case PROP_MOMENTUM:
      self->momentum = g_value_get_double (value);
      break;
    case PROP_AFFINE:
      self->affine = g_value_get_boolean (value);
      break;
    case PROP_TRACK_RUNNING_STATS:
      self->track_running_stats = g_value_get_boolean (value);
      break;
    case PROP_SYNC:
      if (self->sync != g_value_get_boolean (value))
        {
          self->sync = g_value_get_boolean (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_batch_norm_layer_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  MactBatchNorm *self = MACT_BATCH_NORM (object);
  switch (prop_id)
    {
    case PROP_DIMS:
      g_value_set_int (value, self->dims);
      break;
    case PROP_NUM_FEATURES:
      g_value_set_int (value, self->num_features);
      break;
    case PROP_EPS:
      g_value_set_double (value, self->eps);
      break;
    case PROP_MOMENTUM:
      g_value_set_double (value, self->momentum);
      break;
    case PROP_AFFINE:
      g_value_set_boolean (value, self->affine);
      break;
    case PROP_TRACK_RUNNING_STATS:
      g_value_set_boolean (value, self->track_running_stats);
      break;
    case PROP_SYNC:
      g_value_set_boolean (value, self->sync);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_batch_norm_layer_build (MactModule *module, GError **error)
{
  MactBatchNorm *self = MACT_BATCH_NORM (module);

  if (!MACT_MODULE_CLASS (mact_batch_norm_layer_parent_class)->build (module, error))
    return FALSE;

  const char *block = batch_norm_name (self->dims);
  if (self->dims < 1 || self->dims > 3)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: dims must be 1, 2 or 3 (got %d)", block, self->dims);
      return FALSE;
    }
  if (self->num_features <= 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: num_features must be a positive integer (got %d)", block,
                   self->num_features);
      return FALSE;
    }
  if (!(self->eps >= 0.0 && isfinite (self->eps)))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: eps must be a finite non-negative number (got %g)", block,
                   self->eps);
      return FALSE;
    }
  /* PyTorch's momentum=None (a cumulative average) is not supported. */
  if (!(self->momentum >= 0.0 && self->momentum <= 1.0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: momentum must be in [0, 1] (got %g)", block, self->momentum);
      return FALSE;
    }

  const gint64 shape[1] = { self->num_features };
  g_autoptr(MactTensor) weight = NULL, bias = NULL;
  if (self->affine)
    {
      weight = mact_nn_new_tensor (1, shape, 1.0f, block, "weight", error);
      if (weight == NULL)
        return FALSE;
      bias = mact_nn_new_tensor (1, shape, 0.0f, block, "bias", error);
      if (bias == NULL)
        return FALSE;
    }
  g_autoptr(MactTensor) running_mean = NULL, running_var = NULL, count = NULL;
  if (self->track_running_stats)
    {
      running_mean = mact_nn_new_tensor (1, shape, 0.0f, block, "running_mean", error);
      if (running_mean == NULL)
        return FALSE;
      running_var = mact_nn_new_tensor (1, shape, 1.0f, block, "running_var", error);
      if (running_var == NULL)
        return FALSE;
      /* PyTorch keeps the count in an int64 0-D tensor; mact tensors are float32, which
       * counts batches exactly up to 2^24. */
      count = mact_tensor_new_scalar (0.0f);
    }

  /* Absent entries are still registered (as None in PyTorch) so the key order holds. */
  mact_module_register_parameter (module, "weight", weight);
  mact_module_register_parameter (module, "bias", bias);
  mact_module_register_buffer (module, "running_mean", running_mean);
  mact_module_register_buffer (module, "running_var", running_var);
  mact_module_register_buffer (module, "num_batches_tracked", count);
  return TRUE;
}

static GPtrArray *
mact_batch_norm_layer_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactBatchNorm *self = MACT_BATCH_NORM (module);
  const char *block = batch_norm_name (self->dims);

  MactTensor *input = mact_nn_single_input (inputs, block, error);
  if (input == NULL)
    return NULL;
  /* BatchNorm1d takes [N, C] or [N, C, L]; 2d [N, C, H, W]; 3d [N, C, T, H, W]. */
  gint min_ndim = self->dims == 1 ? 2 : self->dims + 2;
  if (!mact_nn_check_input (input, min_ndim, self->dims + 2, 1, self->num_features,
                            "num_features", block, error))
    return NULL;

  gboolean training = mact_module_is_training (module);
  MactTensor *running_mean = mact_module_get_buffer (module, "running_mean");
  MactTensor *running_var = mact_module_get_buffer (module, "running_var");
  /* As PyTorch: without running statistics, the batch's are used even in eval mode. */
  gboolean batch_stats = training || running_mean == NULL || running_var == NULL;
  if (running_mean == NULL || running_var == NULL)
    running_mean = running_var = NULL;

  /* As torch's SyncBatchNorm, statistics are shared only in training mode. */
  MactAllReduceSumFunc reduce = NULL;
  gpointer reduce_data = NULL;
  if (self->sync && training)
    {
      G_LOCK (sync_reducer);
      reduce = sync_reduce;
      reduce_data = sync_reduce_data;
      G_UNLOCK (sync_reducer);
    }
  MactTensor *output = mact_sync_batch_norm (input, running_mean, running_var,
                                             mact_module_get_parameter (module, "weight"),
                                             mact_module_get_parameter (module, "bias"),
                                             batch_stats, self->momentum, self->eps,
                                             reduce, reduce_data, error);
  if (output == NULL)
    {
      g_prefix_error (error, "%s: ", block);
      return NULL;
    }

  MactTensor *count = mact_module_get_buffer (module, "num_batches_tracked");
  if (training && count != NULL)
    mact_tensor_fill (count, mact_tensor_item (count) + 1.0f);
  return mact_nn_output (output);
}

static void
mact_batch_norm_layer_class_init (MactBatchNormClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_batch_norm_layer_set_property;
  object_class->get_property = mact_batch_norm_layer_get_property;
  module_class->build = mact_batch_norm_layer_build;
  module_class->forward = mact_batch_norm_layer_forward;

  /**
   * MactBatchNorm:dims:
   *
   * 1, 2 or 3 (BatchNorm1d, 2d, 3d): the input is [N, C] or [N, C, L], [N, C, H, W] or
   * [N, C, T, H, W].
   */
  properties[PROP_DIMS] =
    g_param_spec_int ("dims", NULL, NULL, G_MININT, G_MAXINT, 2, flags);
  /**
   * MactBatchNorm:num-features:
   *
   * The number of channels C (required).
   */
  properties[PROP_NUM_FEATURES] =
    g_param_spec_int ("num-features", NULL, NULL, G_MININT, G_MAXINT, 0,
                      flags | MACT_PARAM_REQUIRED);
  /**
   * MactBatchNorm:eps:
   *
   * Added to the variance for numerical stability.
   */
  properties[PROP_EPS] =
    g_param_spec_double ("eps", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1e-5, flags);
  /**
   * MactBatchNorm:momentum:
   *
   * The weight of a batch's statistics in the running statistics, in [0, 1].
   */
  properties[PROP_MOMENTUM] =
    g_param_spec_double ("momentum", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.1, flags);
  /**
   * MactBatchNorm:affine:
   *
   * Whether the layer has the learnable weight and bias.
   */
  properties[PROP_AFFINE] =
    g_param_spec_boolean ("affine", NULL, NULL, TRUE, flags);
  /**
   * MactBatchNorm:track-running-stats:
   *
   * Whether the layer keeps running statistics (and uses them in evaluation mode).
   */
  properties[PROP_TRACK_RUNNING_STATS] =
    g_param_spec_boolean ("track-running-stats", NULL, NULL, TRUE, flags);
  /**
   * MactBatchNorm:sync:
   *
   * Whether, in training mode, the statistics are those of the batches of every
   * process of a data-parallel job (mmcv's `SyncBN`, PyTorch's `SyncBatchNorm`),
   * summed with the reducer of mact_batch_norm_set_sync_reducer().  Without a reducer
   * (one process) the layer computes what a plain batch norm computes.  May be changed
   * after construction (as PyTorch's `convert_sync_batchnorm`); the state-dict keys are
   * the same either way.
   *
   * Since: 0.1
   */
  properties[PROP_SYNC] =
    g_param_spec_boolean ("sync", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_batch_norm_layer_init (MactBatchNorm *self)
{
}

/**
 * mact_batch_norm_new:
 * @dims: 1, 2 or 3 (BatchNorm1d, 2d, 3d)
 * @num_features: the number of channels
 * @eps: added to the variance (PyTorch's default is 1e-5)
 * @momentum: the running-statistics momentum, in [0, 1] (PyTorch's default is 0.1)
 * @affine: whether the layer has a learnable weight and bias
 * @error: return location for a #GError, or %NULL
 *
 * Creates a batch normalisation layer that tracks running statistics (see
 * #MactBatchNorm; set the track-running-stats property to %FALSE through
 * mact_module_new() for one that does not).
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT naming the layer and the argument: dims
 * not 1, 2 or 3, num_features not positive, eps negative or not finite, momentum outside
 * [0, 1].
 *
 * Returns: (transfer full) (nullable): the layer, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_batch_norm_new (gint dims, gint num_features, double eps, double momentum,
                     gboolean affine, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  /* GObject would refuse a NaN property value with a warning and keep the default. */
  if (isnan (eps) || isnan (momentum))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: %s must be a number (got %g)", batch_norm_name (dims),
                   isnan (eps) ? "eps" : "momentum", isnan (eps) ? eps : momentum);
      return NULL;
    }
  MactNNProps props = { 0 };
  mact_nn_props_add_int (&props, "dims", dims);
  mact_nn_props_add_int (&props, "num-features", num_features);
  mact_nn_props_add_double (&props, "eps", eps);
  mact_nn_props_add_double (&props, "momentum", momentum);
  mact_nn_props_add_boolean (&props, "affine", affine);
  return mact_nn_props_build (&props, MACT_TYPE_BATCH_NORM, error);
}

/**
 * mact_batch_norm_set_sync_reducer: (skip)
 * @func: (nullable) (scope notified): sums float arrays across the processes of the job,
 *   or %NULL to remove the reducer
 * @user_data: (closure func): data for @func
 *
 * Installs the process group's sum that #MactBatchNorm layers with the sync property
 * use in training mode (mact_distributed_init() installs MPI's when the world has more
 * than one process, mact_distributed_finalize() removes it).  Without one, sync layers
 * behave as plain batch norms.  @func and @user_data must stay valid until removed and
 * until the backward passes of forwards run with them are done.  Not introspectable:
 * @func sums a float buffer in place, which bindings cannot express.
 *
 * Since: 0.1
 */
void
mact_batch_norm_set_sync_reducer (MactAllReduceSumFunc func, gpointer user_data)
{
  G_LOCK (sync_reducer);
  sync_reduce = func;
  sync_reduce_data = func != NULL ? user_data : NULL;
  G_UNLOCK (sync_reducer);
}
