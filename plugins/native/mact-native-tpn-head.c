/* mact-native-tpn-head.c: mmaction2's TPNHead (heads/tpn_head.py), registered as
 * "TPNHead": a TSNHead (same arguments, same fc_cls) with its own forward.
 *
 * forward_head(x, num_segs):
 * - num_segs 0 (None): x is [N, C, T, H, W], pooled by avg_pool3d (AdaptiveAvgPool3d(1));
 * - otherwise x is [N * num_segs, C, H, W] (or 5-D after a TPN neck), pooled by
 *   avg_pool2d, an AvgPool3d with kernel (1, H, W) created at the first forward from that
 *   input's H and W and kept afterwards, as mmaction2 does (the child "avg_pool2d" does
 *   not exist before); on a 4-D input PyTorch's AvgPool3d treats the batch as channels,
 *   which here means: average each map over H x W.  Then the segments are averaged
 *   (AvgConsensus, dim 1);
 * then dropout, flatten and fc_cls: [N, K].  With spatial_type None there is no
 * avg_pool3d, and num_segs 0 is an error (mmaction2 calls None).
 *
 * forward_fcn(x) (mmaction2's forward(x, fcn_test=True), which Recognizer2D calls when
 * test_cfg has fcn_test): x is [N, C, T, H, W]; avg_pool3d when there is one, then
 * new_cls, a 1x1x1 Conv3d holding fc_cls's weights: [N, K, 1, 1, 1] (with spatial_type
 * None, a score map [N, K, T, H, W]).  No dropout.  As in mmaction2, new_cls is created
 * and filled from fc_cls at the first fcn_test forward, becomes a child (the state dict
 * then has new_cls.weight and new_cls.bias) and is not refreshed afterwards: load the
 * weights before testing. */
#include "mact-native-tpn-head.h"
#include "mact-native-layers.h"

struct _MactNativeTPNHead
{
  MactNativeTSNHead parent_instance;

  /* Serialises the lazy creation of avg_pool2d and new_cls. */
  GMutex            lock;
  MactModule       *avg_pool3d;   /* borrowed: the children table holds it */
};

G_DEFINE_FINAL_TYPE (MactNativeTPNHead, mact_native_tpn_head, MACT_NATIVE_TYPE_TSN_HEAD)

static gboolean
mact_native_tpn_head_build (MactModule *module, GError **error)
{
  MactNativeTPNHead *self = MACT_NATIVE_TPN_HEAD (module);
  g_autofree char *spatial_type = NULL;

  if (!MACT_MODULE_CLASS (mact_native_tpn_head_parent_class)->build (module, error))
    return FALSE;
  g_object_get (module, "spatial-type", &spatial_type, NULL);
  if (spatial_type != NULL)
    {
      const gint64 one[3] = { 1, 1, 1 };
      g_autoptr(MactModule) pool = mact_adaptive_avg_pool_new (3, one, error);
      if (pool == NULL)
        return FALSE;
      mact_module_add_child (module, "avg_pool3d", pool);
      self->avg_pool3d = pool;
    }
  return TRUE;
}

static MactModule *
create_avg_pool2d (MactNativeTPNHead *self, MactTensor *x, GError **error)
{
  MactModule *module = MACT_MODULE (self);
  MactModule *pool = mact_module_get_child (module, "avg_pool2d");
  if (pool != NULL)
    return pool;
  const gint nd = mact_tensor_get_ndim (x);
  const gint kernel[3] = { 1, (gint) mact_tensor_get_size (x, nd - 2),
                           (gint) mact_tensor_get_size (x, nd - 1) };
  const gint stride[3] = { 1, 1, 1 }, padding[3] = { 0, 0, 0 };
  g_autoptr(MactModule) created = mact_avg_pool_new (3, kernel, stride, padding, FALSE, TRUE,
                                                     error);
  if (created == NULL)
    return NULL;
  mact_module_add_child (module, "avg_pool2d", created);
  return created;
}

/* avg_pool2d, created from the first input's spatial size (under the lock, so that
 * concurrent first forwards create one). */
static MactModule *
get_avg_pool2d (MactNativeTPNHead *self, MactTensor *x, GError **error)
{
  g_mutex_lock (&self->lock);
  MactModule *pool = create_avg_pool2d (self, x, error);
  g_mutex_unlock (&self->lock);
  return pool;
}

static MactTensor *
pool_2d (MactNativeTPNHead *self, MactTensor *x, gint num_segs, GError **error)
{
  MactModule *pool = get_avg_pool2d (self, x, error);
  if (pool == NULL)
    return NULL;
  g_autoptr(MactTensor) pooled = NULL;
  if (mact_tensor_get_ndim (x) == 4)
    {
      /* PyTorch's AvgPool3d on a 4-D input: one unbatched [C', D, H, W] volume. */
      g_autoptr(MactTensor) batched = mact_tensor_unsqueeze (x, 0, error);
      g_autoptr(MactTensor) y = batched ? mact_module_forward1 (pool, batched, error) : NULL;
      pooled = y ? mact_tensor_squeeze (y, 0, error) : NULL;
    }
  else
    pooled = mact_module_forward1 (pool, x, error);
  if (pooled == NULL)
    return NULL;

  /* [N * num_segs, ...] -> [N, num_segs, ...]; AvgConsensus then squeeze(1). */
  gint nd;
  const gint64 *s = mact_tensor_get_shape (pooled, &nd);
  gint64 shape[MACT_MAX_DIMS];
  shape[0] = s[0] / num_segs;
  shape[1] = num_segs;
  for (gint d = 1; d < nd; d++)
    shape[d + 1] = s[d];
  g_autoptr(MactTensor) grouped = mact_tensor_reshape (pooled, nd + 1, shape, error);
  if (grouped == NULL)
    return NULL;
  const gint seg_dim[] = { 1 };
  return mact_mean (grouped, 1, seg_dim, FALSE, error);
}

static MactTensor *
mact_native_tpn_head_forward_head (MactHead *head, GPtrArray *inputs, gint num_segs,
                                   GError **error)
{
  MactNativeTPNHead *self = MACT_NATIVE_TPN_HEAD (head);
  MactModule *module = MACT_MODULE (head);

  if (!mact_native_check_single_input (inputs, "TPNHead", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  const gint nd = mact_tensor_get_ndim (x);
  g_autofree char *in_shape = mact_tensor_shape_to_string (x);
  if (num_segs < 0 || (num_segs == 0 && nd != 5) || (num_segs > 0 && nd != 4 && nd != 5))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TPNHead: expected [N, C, T, H, W] (num_segs None) or "
                   "[N * num_segs, C, H, W] (num_segs %d), got %s", num_segs, in_shape);
      return NULL;
    }
  if (num_segs > 0 && (mact_tensor_get_size (x, 0) % num_segs != 0 ||
                       mact_tensor_get_size (x, 0) == 0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TPNHead: %" G_GINT64_FORMAT " feature rows (%s) are not a multiple of "
                   "num_segs=%d", mact_tensor_get_size (x, 0), in_shape, num_segs);
      return NULL;
    }
  if (num_segs == 0 && self->avg_pool3d == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TPNHead: num_segs None needs spatial_type 'avg' (there is no avg_pool3d)");
      return NULL;
    }

  g_autoptr(MactTensor) pooled = num_segs == 0
                                 ? mact_module_forward1 (self->avg_pool3d, x, error)
                                 : pool_2d (self, x, num_segs, error);
  if (pooled == NULL)
    return NULL;
  MactModule *dropout = mact_module_get_child (module, "dropout");
  g_autoptr(MactTensor) dropped = dropout != NULL
                                  ? mact_module_forward1 (dropout, pooled, error)
                                  : mact_tensor_ref (pooled);
  if (dropped == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (dropped, 1, -1, error);
  if (flat == NULL)
    return NULL;
  const gint in_channels = mact_head_get_in_channels (head);
  if (mact_tensor_get_size (flat, 1) != in_channels)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TPNHead: features %s give %" G_GINT64_FORMAT " values per sample after "
                   "pooling, expected in_channels=%d (avg_pool2d keeps the spatial size of "
                   "its first input)", in_shape, mact_tensor_get_size (flat, 1), in_channels);
      return NULL;
    }
  return mact_module_forward1 (mact_module_get_child (module, "fc_cls"), flat, error);
}

/* new_cls: a 1x1x1 Conv3d with fc_cls's weight [K, C] as [K, C, 1, 1, 1] and its bias,
 * created at the first call (under the lock). */
static MactModule *
get_new_cls (MactNativeTPNHead *self, GError **error)
{
  MactModule *module = MACT_MODULE (self);
  MactModule *conv = NULL;

  g_mutex_lock (&self->lock);
  conv = mact_module_get_child (module, "new_cls");
  if (conv == NULL)
    {
      MactHead *head = MACT_HEAD (self);
      const gint in_channels = mact_head_get_in_channels (head);
      const gint num_classes = mact_head_get_num_classes (head);
      const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
      MactModule *fc = mact_module_get_child (module, "fc_cls");
      g_autoptr(MactModule) created = mact_conv_new (3, in_channels, num_classes, one, one,
                                                     zero, one, 1, TRUE, error);
      gboolean ok = created != NULL;
      MACT_NO_GRAD_BEGIN
      if (ok)
        {
          const gint64 shape[5] = { num_classes, in_channels, 1, 1, 1 };
          g_autoptr(MactTensor) w = mact_tensor_reshape (mact_module_get_parameter (fc, "weight"),
                                                         5, shape, error);
          ok = w != NULL &&
               mact_tensor_copy_from (mact_module_get_parameter (created, "weight"), w, error) &&
               mact_tensor_copy_from (mact_module_get_parameter (created, "bias"),
                                      mact_module_get_parameter (fc, "bias"), error);
        }
      MACT_NO_GRAD_END
      if (ok)
        {
          mact_module_add_child (module, "new_cls", created);
          conv = created;
        }
    }
  g_mutex_unlock (&self->lock);
  return conv;
}

static MactTensor *
mact_native_tpn_head_forward_fcn (MactHead *head, GPtrArray *inputs, GError **error)
{
  MactNativeTPNHead *self = MACT_NATIVE_TPN_HEAD (head);

  if (!mact_native_check_single_input (inputs, "TPNHead", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (x) != 5 ||
      mact_tensor_get_size (x, 1) != mact_head_get_in_channels (head))
    {
      g_autofree char *in_shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TPNHead: fcn_test expects [N, %d, T, H, W] (in_channels %d), got %s",
                   mact_head_get_in_channels (head), mact_head_get_in_channels (head),
                   in_shape);
      return NULL;
    }
  g_autoptr(MactTensor) pooled = self->avg_pool3d != NULL
                                 ? mact_module_forward1 (self->avg_pool3d, x, error)
                                 : mact_tensor_ref (x);
  if (pooled == NULL)
    return NULL;
  MactModule *new_cls = get_new_cls (self, error);
  if (new_cls == NULL)
    return NULL;
  return mact_module_forward1 (new_cls, pooled, error);
}

static void
mact_native_tpn_head_finalize (GObject *object)
{
  g_mutex_clear (&MACT_NATIVE_TPN_HEAD (object)->lock);
  G_OBJECT_CLASS (mact_native_tpn_head_parent_class)->finalize (object);
}

static void
mact_native_tpn_head_class_init (MactNativeTPNHeadClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mact_native_tpn_head_finalize;
  MACT_MODULE_CLASS (klass)->build = mact_native_tpn_head_build;
  MACT_HEAD_CLASS (klass)->forward_head = mact_native_tpn_head_forward_head;
  MACT_HEAD_CLASS (klass)->forward_fcn = mact_native_tpn_head_forward_fcn;
}

static void
mact_native_tpn_head_init (MactNativeTPNHead *self)
{
  g_mutex_init (&self->lock);
}
