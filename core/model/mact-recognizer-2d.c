/* mact-recognizer-2d.c: Recognizer2D.  Input [N, V, C, H, W]: the V views (clips x frames
 * x crops) are folded into the batch, the backbone sees [N*V, C, H, W], and the head's
 * consensus (or average_clip) brings the views back together.  With test_cfg.fcn_test,
 * forward_test is mmaction2's fully-convolutional test (do_fcn_test()). */
#include "mact-recognizer-private.h"

struct _MactRecognizer2D
{
  MactRecognizer parent_instance;
};

G_DEFINE_FINAL_TYPE (MactRecognizer2D, mact_recognizer_2d, MACT_TYPE_RECOGNIZER)

/* torchvision backbones: pool 4-D maps with H or W > 1, then shape every output as
 * [N', C, 1, 1] so the heads' own pooling is a no-op (mmaction2 does the same). */
static MactTensor *
torchvision_pool (MactTensor *x, GError **error)
{
  g_autoptr(MactTensor) pooled = NULL;
  if (mact_tensor_get_ndim (x) == 4 &&
      (mact_tensor_get_size (x, 2) > 1 || mact_tensor_get_size (x, 3) > 1))
    {
      const gint64 one[] = { 1, 1 };
      pooled = mact_adaptive_avg_pool2d (x, one, error);
      if (pooled == NULL)
        return NULL;
    }
  else
    pooled = mact_tensor_ref (x);
  gint64 n = mact_tensor_get_size (pooled, 0);
  const gint64 shape[] = { n, -1, 1, 1 };
  return mact_tensor_reshape (pooled, 4, shape, error);
}

/* Each stage [N*segs, C, H, W] -> [N, C, segs, H, W], as the neck (and fcn_test) takes
 * them. */
static GPtrArray *
stage_features (GPtrArray *x, gint num_segs, GError **error)
{
  g_autoptr(GPtrArray) staged = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < x->len; i++)
    {
      MactTensor *e = g_ptr_array_index (x, i);
      gint nd;
      const gint64 *s = mact_tensor_get_shape (e, &nd);
      gint64 shape[MACT_MAX_DIMS];
      shape[0] = -1;
      shape[1] = num_segs;
      for (gint d = 1; d < nd; d++)
        shape[d + 1] = s[d];
      g_autoptr(MactTensor) r = mact_tensor_reshape (e, nd + 1, shape, error);
      g_autoptr(MactTensor) t = r ? mact_tensor_transpose (r, 1, 2, error) : NULL;
      if (t == NULL)
        return NULL;
      g_ptr_array_add (staged, mact_tensor_contiguous (t));
    }
  return g_steal_pointer (&staged);
}

/* The shared front of train and test: fold views, backbone, torchvision pooling, neck.
 * Sets *num_segs; with a neck it becomes 1.  @aux_losses receives the neck's loss_aux
 * when @target is given. */
static GPtrArray *
features_2d (MactRecognizer *self, MactTensor *imgs, MactTensor *target,
             MactTensorDict *aux_losses, gint64 *batches, gint *num_segs, GError **error)
{
  if (mact_tensor_get_ndim (imgs) != 5)
    {
      g_autofree char *s = mact_tensor_shape_to_string (imgs);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "Recognizer2D: expected imgs [N, V, C, H, W], got %s", s);
      return NULL;
    }
  *batches = mact_tensor_get_size (imgs, 0);
  g_autoptr(MactTensor) folded = mact_recognizer_fold_views (imgs, "Recognizer2D", 5, error);
  if (folded == NULL)
    return NULL;
  *num_segs = (gint) (mact_tensor_get_size (folded, 0) / *batches);

  g_autoptr(GPtrArray) x = mact_recognizer_extract_feat (self, folded, error);
  if (x == NULL)
    return NULL;
  if (mact_recognizer_get_backbone_from (self) == MACT_BACKBONE_SOURCE_TORCHVISION)
    for (guint i = 0; i < x->len; i++)
      {
        MactTensor *p = torchvision_pool (g_ptr_array_index (x, i), error);
        if (p == NULL)
          return NULL;
        mact_tensor_unref (g_ptr_array_index (x, i));
        g_ptr_array_index (x, i) = p;
      }

  if (!mact_recognizer_get_with_neck (self))
    return g_steal_pointer (&x);

  g_autoptr(GPtrArray) staged = stage_features (x, *num_segs, error);
  if (staged == NULL)
    return NULL;
  g_autoptr(GPtrArray) fused = mact_recognizer_run_neck (self, staged, target, aux_losses, error);
  if (fused == NULL)
    return NULL;
  for (guint i = 0; i < fused->len; i++)
    {
      MactTensor *sq = mact_tensor_squeeze (g_ptr_array_index (fused, i), 2, error);
      if (sq == NULL)
        return NULL;
      mact_tensor_unref (g_ptr_array_index (fused, i));
      g_ptr_array_index (fused, i) = sq;
    }
  *num_segs = 1;
  return g_steal_pointer (&fused);
}

static MactTensorDict *
mact_recognizer_2d_forward_train (MactRecognizer *self, MactTensor *imgs, MactTensor *labels,
                                  MactTensorDict *kwargs, GError **error)
{
  gint64 batches;
  gint num_segs;
  g_autoptr(MactTensorDict) losses = mact_tensor_dict_new ();
  g_autoptr(MactTensor) gt = mact_tensor_squeeze_all (labels, error);
  if (gt == NULL)
    return NULL;
  g_autoptr(GPtrArray) x = features_2d (self, imgs, gt, losses, &batches, &num_segs, error);
  if (x == NULL)
    return NULL;
  MactHead *head = mact_recognizer_get_cls_head (self);
  g_autoptr(MactTensor) cls_score = mact_head_forward_head (head, x, num_segs, error);
  if (cls_score == NULL)
    return NULL;
  g_autoptr(MactTensorDict) head_losses = mact_head_loss (head, cls_score, gt, kwargs, error);
  if (head_losses == NULL)
    return NULL;
  /* mmaction2 updates a dict holding loss_aux with the head's losses. */
  mact_tensor_dict_update (losses, head_losses);
  return g_steal_pointer (&losses);
}

static MactTensor *
do_test (MactRecognizer *self, MactTensor *imgs, GError **error)
{
  gint64 batches;
  gint num_segs;
  g_autoptr(GPtrArray) x = features_2d (self, imgs, NULL, NULL, &batches, &num_segs, error);
  if (x == NULL)
    return NULL;

  if (mact_recognizer_get_feature_extraction (self))
    {
      /* Average-pool the maps, then average the segments: [N, C]. */
      MactTensor *f = g_ptr_array_index (x, 0);
      g_autoptr(MactTensor) pooled = NULL;
      if (mact_tensor_get_ndim (f) == 4)
        {
          const gint64 one[] = { 1, 1 };
          pooled = mact_adaptive_avg_pool2d (f, one, error);
        }
      else
        pooled = mact_tensor_ref (f);
      const gint64 shape[] = { batches, num_segs, -1 };
      g_autoptr(MactTensor) r = pooled ? mact_tensor_reshape (pooled, 3, shape, error) : NULL;
      const gint dim1[] = { 1 };
      return r ? mact_mean (r, 1, dim1, FALSE, error) : NULL;
    }

  MactHead *head = mact_recognizer_get_cls_head (self);
  if (head == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NO_HEAD,
                   "Recognizer2D: testing needs a cls_head (or feature_extraction)");
      return NULL;
    }
  g_autoptr(MactTensor) cls_score = mact_head_forward_head (head, x, num_segs, error);
  if (cls_score == NULL)
    return NULL;
  gint64 rows = mact_tensor_get_size (cls_score, 0);
  if (rows % batches != 0)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "Recognizer2D: the head returned %" G_GINT64_FORMAT " rows for a batch "
                   "of %" G_GINT64_FORMAT, rows, batches);
      return NULL;
    }
  return mact_recognizer_average_clip (self, cls_score, (gint) (rows / batches), error);
}

/* test_cfg[@key] as a boolean, FALSE when absent or null. */
static gboolean
test_cfg_flag (MactRecognizer *self, const char *key, gboolean *value, GError **error)
{
  JsonNode *cfg = mact_recognizer_get_test_cfg (self);
  JsonObject *test = cfg != NULL && JSON_NODE_HOLDS_OBJECT (cfg) ? json_node_get_object (cfg)
                                                                 : NULL;
  JsonNode *node = test != NULL ? json_object_get_member (test, key) : NULL;
  *value = FALSE;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_TYPE,
                   "Recognizer2D: test_cfg.%s must be a boolean", key);
      return FALSE;
    }
  *value = json_node_get_boolean (node);
  return TRUE;
}

/* fcn_test's segment count: test_cfg.num_segs, else the backbone's num_segments (as
 * mmaction2's test_cfg.get('num_segs', self.backbone.num_segments)). */
static gboolean
fcn_num_segs (MactRecognizer *self, gint *num_segs, GError **error)
{
  JsonObject *test = json_node_get_object (mact_recognizer_get_test_cfg (self));
  JsonNode *node = json_object_get_member (test, "num_segs");
  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        {
          g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_TYPE,
                       "Recognizer2D: test_cfg.num_segs must be an integer");
          return FALSE;
        }
      const gint64 v = json_node_get_int (node);
      if (v <= 0 || v > G_MAXINT)
        {
          g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                       "Recognizer2D: test_cfg.num_segs must be positive, got %"
                       G_GINT64_FORMAT, v);
          return FALSE;
        }
      *num_segs = (gint) v;
      return TRUE;
    }
  GObject *backbone = G_OBJECT (mact_recognizer_get_backbone (self));
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (backbone),
                                                    "num-segments");
  if (pspec == NULL || pspec->value_type != G_TYPE_INT)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY,
                   "Recognizer2D: fcn_test needs test_cfg.num_segs or a backbone with "
                   "num_segments, and %s has none", G_OBJECT_TYPE_NAME (backbone));
      return FALSE;
    }
  g_object_get (backbone, "num-segments", num_segs, NULL);
  return TRUE;
}

/* mmaction2's _do_fcn_test: the backbone's maps (flipped along W with test_cfg.flip) are
 * staged as clips of num_segs frames, [N', C, num_segs, H, W], and go through the neck
 * (without squeezing time) or straight to the head's fully-convolutional mode; the score
 * maps are averaged over each sample's rows (crops) as average_clips says.  No
 * torchvision pooling happens here, as in mmaction2. */
static MactTensor *
do_fcn_test (MactRecognizer *self, MactTensor *imgs, GError **error)
{
  if (mact_recognizer_get_feature_extraction (self))
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "Recognizer2D: test_cfg.fcn_test does not go with feature_extraction");
      return NULL;
    }
  MactHead *head = mact_recognizer_get_cls_head (self);
  if (head == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NO_HEAD,
                   "Recognizer2D: test_cfg.fcn_test needs a cls_head");
      return NULL;
    }
  if (mact_tensor_get_ndim (imgs) != 5)
    {
      g_autofree char *s = mact_tensor_shape_to_string (imgs);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "Recognizer2D: expected imgs [N, V, C, H, W], got %s", s);
      return NULL;
    }
  gint num_segs;
  gboolean flip;
  if (!fcn_num_segs (self, &num_segs, error) || !test_cfg_flag (self, "flip", &flip, error))
    return NULL;
  const gint64 batches = mact_tensor_get_size (imgs, 0);
  g_autoptr(MactTensor) folded = mact_recognizer_fold_views (imgs, "Recognizer2D", 5, error);
  if (folded == NULL)
    return NULL;
  if (flip)
    {
      const gint last[] = { 3 };
      MactTensor *flipped = mact_flip (folded, 1, last, error);
      if (flipped == NULL)
        return NULL;
      mact_tensor_unref (folded);
      folded = flipped;
    }

  g_autoptr(GPtrArray) x = mact_recognizer_extract_feat (self, folded, error);
  g_autoptr(GPtrArray) staged = x ? stage_features (x, num_segs, error) : NULL;
  if (staged == NULL)
    return NULL;
  g_autoptr(GPtrArray) maps = mact_recognizer_get_with_neck (self)
                              ? mact_recognizer_run_neck (self, staged, NULL, NULL, error)
                              : g_ptr_array_ref (staged);
  if (maps == NULL)
    return NULL;
  g_autoptr(MactTensor) cls_score = mact_head_forward_fcn (head, maps, error);
  if (cls_score == NULL)
    return NULL;
  gint64 rows = mact_tensor_get_size (cls_score, 0);
  if (rows % batches != 0)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "Recognizer2D: the head returned %" G_GINT64_FORMAT " rows for a batch "
                   "of %" G_GINT64_FORMAT " (fcn_test)", rows, batches);
      return NULL;
    }
  return mact_recognizer_average_clip (self, cls_score, (gint) (rows / batches), error);
}

/* forward_test: fcn_test when test_cfg asks for it, else the plain path (gradcam always
 * takes the plain path, as in mmaction2). */
static MactTensor *
mact_recognizer_2d_forward_test (MactRecognizer *self, MactTensor *imgs, GError **error)
{
  gboolean fcn_test;
  if (!test_cfg_flag (self, "fcn_test", &fcn_test, error))
    return NULL;
  return fcn_test ? do_fcn_test (self, imgs, error) : do_test (self, imgs, error);
}

static void
mact_recognizer_2d_class_init (MactRecognizer2DClass *klass)
{
  MactRecognizerClass *rec_class = MACT_RECOGNIZER_CLASS (klass);
  rec_class->forward_train = mact_recognizer_2d_forward_train;
  rec_class->forward_test = mact_recognizer_2d_forward_test;
  rec_class->forward_gradcam = do_test;
}

static void
mact_recognizer_2d_init (MactRecognizer2D *self)
{
}
