/* mact-recognizer-3d.c: Recognizer3D.  Input [N, V, C, T, H, W]: every view (clip x crop)
 * is a sample for the backbone; at test time views are averaged by average_clip, and
 * max_testing_views bounds how many go through the backbone at once. */
#include "mact-recognizer-private.h"

struct _MactRecognizer3D
{
  MactRecognizer parent_instance;
};

G_DEFINE_FINAL_TYPE (MactRecognizer3D, mact_recognizer_3d, MACT_TYPE_RECOGNIZER)

static gboolean
check_input (MactTensor *imgs, GError **error)
{
  if (mact_tensor_get_ndim (imgs) != 6)
    {
      g_autofree char *s = mact_tensor_shape_to_string (imgs);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "Recognizer3D: expected imgs [N, V, C, T, H, W], got %s", s);
      return FALSE;
    }
  return TRUE;
}

static GPtrArray *
backbone_and_neck (MactRecognizer *self, MactTensor *x, MactTensor *target,
                   MactTensorDict *aux_losses, GError **error)
{
  g_autoptr(GPtrArray) feat = mact_recognizer_extract_feat (self, x, error);
  if (feat == NULL || !mact_recognizer_get_with_neck (self))
    return g_steal_pointer (&feat);
  return mact_recognizer_run_neck (self, feat, target, aux_losses, error);
}

static MactTensorDict *
mact_recognizer_3d_forward_train (MactRecognizer *self, MactTensor *imgs, MactTensor *labels,
                                  MactTensorDict *kwargs, GError **error)
{
  if (!check_input (imgs, error))
    return NULL;
  g_autoptr(MactTensorDict) losses = mact_tensor_dict_new ();
  g_autoptr(MactTensor) gt = mact_tensor_squeeze_all (labels, error);
  g_autoptr(MactTensor) folded = gt ? mact_recognizer_fold_views (imgs, "Recognizer3D", 6, error)
                                    : NULL;
  if (folded == NULL)
    return NULL;
  g_autoptr(GPtrArray) x = backbone_and_neck (self, folded, gt, losses, error);
  if (x == NULL)
    return NULL;
  MactHead *head = mact_recognizer_get_cls_head (self);
  g_autoptr(MactTensor) cls_score = mact_head_forward_head (head, x, 0, error);
  if (cls_score == NULL)
    return NULL;
  g_autoptr(MactTensorDict) head_losses = mact_head_loss (head, cls_score, gt, kwargs, error);
  if (head_losses == NULL)
    return NULL;
  mact_tensor_dict_update (losses, head_losses);
  return g_steal_pointer (&losses);
}

/* Runs backbone (+ neck) over views in chunks of @chunk and concatenates each output
 * along the batch, element-wise for tuple outputs (SlowFast). */
static GPtrArray *
chunked_features (MactRecognizer *self, MactTensor *x, gint chunk, GError **error)
{
  gint64 total = mact_tensor_get_size (x, 0);
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  for (gint64 p = 0; p < total; p += chunk)
    {
      g_autoptr(MactTensor) view = mact_tensor_narrow (x, 0, p, MIN (chunk, total - p), error);
      GPtrArray *f = view ? backbone_and_neck (self, view, NULL, NULL, error) : NULL;
      if (f == NULL)
        return NULL;
      if (parts->len > 0 && f->len != ((GPtrArray *) g_ptr_array_index (parts, 0))->len)
        {
          g_ptr_array_unref (f);
          g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                       "Recognizer3D: the backbone returned different tuple sizes per chunk");
          return NULL;
        }
      g_ptr_array_add (parts, f);
    }
  guint n_out = ((GPtrArray *) g_ptr_array_index (parts, 0))->len;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_autofree MactTensor **pieces = g_new (MactTensor *, parts->len);
  for (guint j = 0; j < n_out; j++)
    {
      for (guint c = 0; c < parts->len; c++)
        pieces[c] = g_ptr_array_index ((GPtrArray *) g_ptr_array_index (parts, c), j);
      MactTensor *cat = mact_cat (pieces, parts->len, 0, error);
      if (cat == NULL)
        {
          g_ptr_array_unref (out);
          return NULL;
        }
      g_ptr_array_add (out, cat);
    }
  return out;
}

static MactTensor *
extract_pooled_features (GPtrArray *feat, gint64 batches, gint64 num_segs, GError **error)
{
  gint feat_dim = mact_tensor_get_ndim (g_ptr_array_index (feat, 0));
  if (feat_dim == 2)   /* TimeSformer: [N*V, C], returned as is */
    return mact_tensor_ref (g_ptr_array_index (feat, 0));
  if (feat_dim != 5)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "Recognizer3D: feature_extraction needs 5-D or 2-D features, got %d-D",
                   feat_dim);
      return NULL;
    }
  g_autoptr(GPtrArray) pooled = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  const gint64 one[] = { 1, 1, 1 };
  for (guint i = 0; i < feat->len; i++)
    {
      MactTensor *p = mact_adaptive_avg_pool3d (g_ptr_array_index (feat, i), one, error);
      if (p == NULL)
        return NULL;
      g_ptr_array_add (pooled, p);
    }
  g_autoptr(MactTensor) joined = pooled->len == 1
    ? mact_tensor_ref (g_ptr_array_index (pooled, 0))
    : mact_cat ((MactTensor **) pooled->pdata, pooled->len, 1, error);
  const gint64 shape[] = { batches, num_segs, -1 };
  g_autoptr(MactTensor) r = joined ? mact_tensor_reshape (joined, 3, shape, error) : NULL;
  const gint dim1[] = { 1 };
  return r ? mact_mean (r, 1, dim1, FALSE, error) : NULL;
}

static MactTensor *
do_test (MactRecognizer *self, MactTensor *imgs, GError **error)
{
  if (!check_input (imgs, error))
    return NULL;
  gint64 batches = mact_tensor_get_size (imgs, 0);
  gint64 num_segs = mact_tensor_get_size (imgs, 1);
  g_autoptr(MactTensor) x = mact_recognizer_fold_views (imgs, "Recognizer3D", 6, error);
  if (x == NULL)
    return NULL;

  g_autoptr(GPtrArray) feat = NULL;
  gint mtv = mact_recognizer_get_max_testing_views (self);
  if (mtv > 0)
    {
      if (batches != 1)
        {
          g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                       "max_testing_views is only compatible with batch_size == 1 (got %"
                       G_GINT64_FORMAT ")", batches);
          return NULL;
        }
      feat = chunked_features (self, x, mtv, error);
    }
  else
    feat = backbone_and_neck (self, x, NULL, NULL, error);
  if (feat == NULL)
    return NULL;

  if (mact_recognizer_get_feature_extraction (self))
    return extract_pooled_features (feat, batches, num_segs, error);

  MactHead *head = mact_recognizer_get_cls_head (self);
  if (head == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NO_HEAD,
                   "Recognizer3D: testing needs a cls_head (or feature_extraction)");
      return NULL;
    }
  g_autoptr(MactTensor) cls_score = mact_head_forward_head (head, feat, 0, error);
  if (cls_score == NULL)
    return NULL;
  return mact_recognizer_average_clip (self, cls_score, (gint) num_segs, error);
}

static void
mact_recognizer_3d_class_init (MactRecognizer3DClass *klass)
{
  MactRecognizerClass *rec_class = MACT_RECOGNIZER_CLASS (klass);
  rec_class->forward_train = mact_recognizer_3d_forward_train;
  rec_class->forward_test = do_test;
  rec_class->forward_gradcam = do_test;
}

static void
mact_recognizer_3d_init (MactRecognizer3D *self)
{
}
