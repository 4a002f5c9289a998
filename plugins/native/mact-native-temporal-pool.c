/* mact-native-temporal-pool.c: the TemporalPool of mmaction2's ResNetTSM
 * (make_temporal_pool): halves the number of segments with a max pool over time
 * (MaxPool3d kernel (3, 1, 1), stride (2, 1, 1), padding (1, 0, 0)), then runs the
 * wrapped stage.
 *
 * Children in mmaction2's order: "net" (the wrapped layer2, so its keys become
 * `layer2.net.*`) and "max_pool3d" (no parameters).  Input [N * T, C, H, W] with the T
 * segments of a clip consecutive; output of the pool [N * T / 2, C, H, W].  T must be
 * even, as mmaction2's final view(n // 2, ...) requires (ResNetTSM checks it at build). */
#include "mact-native-temporal-pool.h"
#include "mact-native-layers.h"

struct _MactNativeTemporalPool
{
  MactModule  parent_instance;

  gint        num_segments;
  MactModule *pool;   /* borrowed: the children table holds it */
};

G_DEFINE_FINAL_TYPE (MactNativeTemporalPool, mact_native_temporal_pool, MACT_TYPE_MODULE)

static GPtrArray *
mact_native_temporal_pool_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeTemporalPool *self = MACT_NATIVE_TEMPORAL_POOL (module);

  if (!mact_native_check_single_input (inputs, "TemporalPool", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  const gint t = self->num_segments;
  if (mact_tensor_get_ndim (x) != 4 || mact_tensor_get_size (x, 0) % t != 0)
    {
      g_autofree char *s = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TemporalPool: expected features [N * num_segments (%d), C, H, W], got %s",
                   t, s);
      return NULL;
    }
  gint nd;
  const gint64 *s = mact_tensor_get_shape (x, &nd);
  const gint64 n = s[0], c = s[1], h = s[2], w = s[3];

  /* [N*T, C, H, W] -> [N, T, C, H, W] -> [N, C, T, H, W] -> pool -> [N, C, T/2, H, W]
   * -> [N, T/2, C, H, W] -> [N*T/2, C, H, W]. */
  const gint64 clip_shape[] = { n / t, t, c, h, w };
  g_autoptr(MactTensor) clips = mact_tensor_reshape (x, 5, clip_shape, error);
  if (clips == NULL)
    return NULL;
  g_autoptr(MactTensor) ct = mact_tensor_transpose (clips, 1, 2, error);
  if (ct == NULL)
    return NULL;
  g_autoptr(MactTensor) pooled = mact_module_forward1 (self->pool, ct, error);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) tc = mact_tensor_transpose (pooled, 1, 2, error);
  if (tc == NULL)
    return NULL;
  g_autoptr(MactTensor) contiguous = mact_tensor_contiguous (tc);
  const gint64 out_shape[] = { n / 2, c, h, w };
  g_autoptr(MactTensor) folded = mact_tensor_reshape (contiguous, 4, out_shape, error);
  if (folded == NULL)
    return NULL;

  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, folded);
  return mact_module_forward (mact_module_get_child (module, "net"), args, error);
}

static void
mact_native_temporal_pool_class_init (MactNativeTemporalPoolClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_temporal_pool_forward;
}

static void
mact_native_temporal_pool_init (MactNativeTemporalPool *self)
{
}

/**
 * mact_native_temporal_pool_new:
 * @net: (transfer none): the stage to run after the pool; a reference is taken
 * @num_segments: segments per clip, even and positive (checked by the caller)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the wrapper, children "net" and "max_pool3d"
 */
MactModule *
mact_native_temporal_pool_new (MactModule *net, gint num_segments, GError **error)
{
  static const gint kernel[3] = { 3, 1, 1 }, stride[3] = { 2, 1, 1 }, padding[3] = { 1, 0, 0 };

  g_return_val_if_fail (MACT_IS_MODULE (net), NULL);
  g_return_val_if_fail (num_segments > 0 && num_segments % 2 == 0, NULL);

  g_autoptr(MactModule) pool = mact_max_pool_new (3, kernel, stride, padding, FALSE, error);
  if (pool == NULL)
    return NULL;
  MactModule *module = mact_module_new (MACT_NATIVE_TYPE_TEMPORAL_POOL, error, NULL);
  if (module == NULL)
    return NULL;
  MactNativeTemporalPool *self = MACT_NATIVE_TEMPORAL_POOL (module);
  self->num_segments = num_segments;
  mact_module_add_child (module, "net", net);
  mact_module_add_child (module, "max_pool3d", pool);
  self->pool = pool;
  return module;
}
