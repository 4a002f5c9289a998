/* Datasets, collate, the data loader (sampling, sharding, workers, errors, cancellation,
 * shutdown) and the synthetic action dataset (determinism, splits, layouts,
 * normalisation, what each action looks like, config errors, speed). */
#include "mact-test.h"
#include "mact-test-blocks.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ a test dataset */

/* Sample i: imgs [2] = { i, a draw from the sample's rng }, label [1] = i % 3.  It can
 * fail at one index, block in get_item until a gate opens, and counts its calls. */
#define TEST_TYPE_DATASET (test_dataset_get_type ())
G_DECLARE_FINAL_TYPE (TestDataset, test_dataset, TEST, DATASET, MactDataset)

struct _TestDataset
{
  MactDataset parent_instance;
  guint       length;
  gint        fail_at;     /* -1: never */
  gint        calls;       /* atomic */
  gboolean    gated;
  GMutex      lock;
  GCond       cond;
  gboolean    open;
};

G_DEFINE_FINAL_TYPE (TestDataset, test_dataset, MACT_TYPE_DATASET)

static guint
test_dataset_get_length (MactDataset *dataset)
{
  return TEST_DATASET (dataset)->length;
}

static guint
test_dataset_get_num_classes (MactDataset *dataset)
{
  return 3;
}

static MactTensorDict *
test_dataset_get_item (MactDataset *dataset, guint index, MactGenerator *rng, GError **error)
{
  TestDataset *self = TEST_DATASET (dataset);
  g_atomic_int_inc (&self->calls);
  if (self->gated)
    {
      g_mutex_lock (&self->lock);
      while (!self->open)
        g_cond_wait (&self->cond, &self->lock);
      g_mutex_unlock (&self->lock);
    }
  if ((gint) index == self->fail_at)
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO, "cannot read video %u", index);
      return NULL;
    }
  const float values[2] = { (float) index, (float) mact_generator_next_double (rng) };
  const gint64 s2[] = { 2 }, s1[] = { 1 };
  g_autoptr(MactTensor) imgs = mact_tensor_new_from_data (values, 2, 1, s2, NULL);
  g_autoptr(MactTensor) label = mact_tensor_new_full (1, s1, (float) (index % 3), NULL);
  MactTensorDict *item = mact_tensor_dict_new ();
  mact_tensor_dict_insert (item, "imgs", imgs);
  mact_tensor_dict_insert (item, "label", label);
  return item;
}

static void
test_dataset_finalize (GObject *object)
{
  TestDataset *self = TEST_DATASET (object);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (test_dataset_parent_class)->finalize (object);
}

static void
test_dataset_class_init (TestDatasetClass *klass)
{
  MactDatasetClass *dataset_class = MACT_DATASET_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = test_dataset_finalize;
  dataset_class->get_length = test_dataset_get_length;
  dataset_class->get_item = test_dataset_get_item;
  dataset_class->get_num_classes = test_dataset_get_num_classes;
}

static void
test_dataset_init (TestDataset *self)
{
  self->fail_at = -1;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
}

static TestDataset *
test_dataset_new (guint length)
{
  TestDataset *self = g_object_new (TEST_TYPE_DATASET, NULL);
  self->length = length;
  return self;
}

static void
test_dataset_open_gate (TestDataset *self)
{
  g_mutex_lock (&self->lock);
  self->open = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------ helpers */

static MactDataset *
dataset_from_json (const char *json, GError **error)
{
  g_autoptr(JsonNode) node = json_from_string (json, error);
  if (node == NULL)
    return NULL;
  return mact_dataset_new_from_config (node, error);
}

static MactDataset *
synthetic (const char *keys)
{
  g_autofree char *json = g_strdup_printf ("{\"type\": \"SyntheticActionDataset\"%s%s}",
                                           keys && *keys ? ", " : "", keys ? keys : "");
  g_autoptr(GError) error = NULL;
  MactDataset *dataset = dataset_from_json (json, &error);
  assert_null (error);
  assert_non_null (dataset);
  return dataset;
}

static MactTensorDict *
item (MactDataset *dataset, guint index)
{
  g_autoptr(GError) error = NULL;
  MactTensorDict *d = mact_dataset_get_item (dataset, index, NULL, &error);
  assert_null (error);
  assert_non_null (d);
  return d;
}

static void
assert_shape (MactTensor *t, gint ndim, const gint64 *shape)
{
  gint nd;
  const gint64 *s = mact_tensor_get_shape (t, &nd);
  assert_int_equal (nd, ndim);
  for (gint i = 0; i < ndim; i++)
    assert_int_equal (s[i], shape[i]);
}

static gboolean
tensors_identical (MactTensor *a, MactTensor *b)
{
  gint na, nb;
  const gint64 *sa = mact_tensor_get_shape (a, &na);
  const gint64 *sb = mact_tensor_get_shape (b, &nb);
  if (na != nb || memcmp (sa, sb, (gsize) na * sizeof (gint64)) != 0)
    return FALSE;
  return memcmp (mact_tensor_get_data (a), mact_tensor_get_data (b),
                 (gsize) mact_tensor_get_numel (a) * sizeof (float)) == 0;
}

static void
assert_error_mentions (GError **error, GQuark domain, gint code, const char *needle)
{
  assert_non_null (*error);
  if (strstr ((*error)->message, needle) == NULL)
    fail_msg ("error '%s' does not mention '%s'", (*error)->message, needle);
  mact_test_assert_error (error, domain, code);
}

/* ------------------------------------------------------------------ dataset and collate */

static MactTensorDict *
make_sample (const gint64 *imgs_shape, gint imgs_ndim, float base, float label)
{
  gint64 n = 1;
  for (gint i = 0; i < imgs_ndim; i++)
    n *= imgs_shape[i];
  g_autofree float *v = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    v[i] = base + (float) i;
  const gint64 s1[] = { 1 };
  g_autoptr(MactTensor) imgs = mact_tensor_new_from_data (v, n, imgs_ndim, imgs_shape, NULL);
  g_autoptr(MactTensor) lab = mact_tensor_new_full (1, s1, label, NULL);
  MactTensorDict *d = mact_tensor_dict_new ();
  mact_tensor_dict_insert (d, "imgs", imgs);
  mact_tensor_dict_insert (d, "label", lab);
  return d;
}

static void
test_collate_stacks (void **state)
{
  const gint64 s[] = { 2, 3 };
  g_autoptr(GPtrArray) samples = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_dict_unref);
  g_ptr_array_add (samples, make_sample (s, 2, 0.0f, 4.0f));
  g_ptr_array_add (samples, make_sample (s, 2, 100.0f, 7.0f));

  /* A non-contiguous view is stacked by value. */
  g_autoptr(MactTensor) t = mact_tensor_transpose (
    mact_tensor_dict_lookup (g_ptr_array_index (samples, 1), "imgs"), 0, 1, NULL);
  const gint64 s32[] = { 3, 2 };
  g_autoptr(MactTensorDict) odd = make_sample (s32, 2, 0.0f, 1.0f);
  mact_tensor_dict_insert (odd, "imgs", t);

  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) batch = mact_dataset_collate (samples, &error);
  assert_null (error);
  assert_int_equal (mact_tensor_dict_get_size (batch), 2);
  assert_string_equal (mact_tensor_dict_get_key (batch, 0), "imgs");
  MactTensor *imgs = mact_tensor_dict_lookup (batch, "imgs");
  MactTensor *label = mact_tensor_dict_lookup (batch, "label");
  const gint64 bs[] = { 2, 2, 3 }, ls[] = { 2, 1 };
  assert_shape (imgs, 3, bs);
  assert_shape (label, 2, ls);
  const float *v = mact_tensor_get_data (imgs);
  for (int i = 0; i < 6; i++)
    {
      assert_float_equal (v[i], (float) i, 0.0);
      assert_float_equal (v[6 + i], 100.0f + (float) i, 0.0);
    }
  assert_float_equal (mact_tensor_get_data (label)[0], 4.0f, 0.0);
  assert_float_equal (mact_tensor_get_data (label)[1], 7.0f, 0.0);

  g_autoptr(GPtrArray) views = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_dict_unref);
  g_ptr_array_add (views, mact_tensor_dict_ref (odd));
  g_ptr_array_add (views, mact_tensor_dict_ref (odd));
  g_autoptr(MactTensorDict) vb = mact_dataset_collate (views, &error);
  assert_null (error);
  const float *w = mact_tensor_get_data (mact_tensor_dict_lookup (vb, "imgs"));
  /* The transpose of [[100, 101, 102], [103, 104, 105]]. */
  const float expect[] = { 100, 103, 101, 104, 102, 105 };
  for (int i = 0; i < 6; i++)
    assert_float_equal (w[i], expect[i], 0.0);
}

static void
test_collate_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) empty = g_ptr_array_new ();
  assert_null (mact_dataset_collate (empty, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);

  /* Shapes of a key differ: the message names the key. */
  const gint64 a[] = { 2, 3 }, b[] = { 3, 2 };
  g_autoptr(GPtrArray) mismatch = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_dict_unref);
  g_ptr_array_add (mismatch, make_sample (a, 2, 0, 0));
  g_ptr_array_add (mismatch, make_sample (b, 2, 0, 0));
  assert_null (mact_dataset_collate (mismatch, &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "'imgs'");

  g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_dict_unref);
  g_ptr_array_add (labels, make_sample (a, 2, 0, 0));
  g_ptr_array_add (labels, make_sample (a, 2, 0, 0));
  const gint64 s3[] = { 3 };
  g_autoptr(MactTensor) soft = mact_tensor_new (1, s3, NULL);
  mact_tensor_dict_insert (g_ptr_array_index (labels, 1), "label", soft);
  assert_null (mact_dataset_collate (labels, &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "'label'");

  /* A missing key, and an extra one. */
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_dict_unref);
  g_ptr_array_add (missing, make_sample (a, 2, 0, 0));
  g_ptr_array_add (missing, make_sample (a, 2, 0, 0));
  mact_tensor_dict_remove (g_ptr_array_index (missing, 1), "label");
  mact_tensor_dict_insert (g_ptr_array_index (missing, 1), "audios", soft);
  assert_null (mact_dataset_collate (missing, &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "'label'");
  mact_tensor_dict_remove (g_ptr_array_index (missing, 1), "audios");
  assert_null (mact_dataset_collate (missing, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);

  /* Stacking a 6-D tensor would need 7 dimensions. */
  const gint64 six[] = { 1, 1, 1, 1, 1, 2 };
  g_autoptr(GPtrArray) deep = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_dict_unref);
  g_ptr_array_add (deep, make_sample (six, 6, 0, 0));
  assert_null (mact_dataset_collate (deep, &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "'imgs'");
}

static void
test_dataset_config_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  assert_null (dataset_from_json ("[1, 2]", &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);
  assert_null (dataset_from_json ("{\"num_classes\": 3}", &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "'type'");
  assert_null (dataset_from_json ("{\"type\": 3}", &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "'type'");
  assert_null (dataset_from_json ("{\"type\": \"VideoDatasetX\"}", &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                         "SyntheticActionDataset");

  /* The built-in table builds the synthetic dataset. */
  g_autoptr(MactDataset) d = synthetic ("\"num_classes\": 4, \"num_samples\": 12");
  assert_true (MACT_IS_SYNTHETIC_DATASET (d));
  assert_int_equal (mact_dataset_get_length (d), 12);
  assert_int_equal (mact_dataset_get_num_classes (d), 4);

  /* Out-of-range indices. */
  assert_null (mact_dataset_get_item (d, 12, NULL, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INDEX);
}

static void
test_sample_seed (void **state)
{
  guint64 s = mact_dataset_sample_seed (1, 2, 3);
  assert_true (s == mact_dataset_sample_seed (1, 2, 3));
  /* Neighbouring inputs, and swapped roles, give unrelated seeds. */
  const guint64 others[] = {
    mact_dataset_sample_seed (1, 2, 4), mact_dataset_sample_seed (1, 3, 3),
    mact_dataset_sample_seed (2, 2, 3), mact_dataset_sample_seed (1, 3, 2),
    mact_dataset_sample_seed (3, 2, 1),
  };
  for (gsize i = 0; i < G_N_ELEMENTS (others); i++)
    {
      assert_true (others[i] != s);
      /* Roughly half of the bits differ. */
      int bits = __builtin_popcountll (others[i] ^ s);
      assert_in_range (bits, 12, 52);
    }
}

/* ------------------------------------------------------------------ loader: sampling */

/* All dataset indices of one epoch for one rank, in order, plus the batch sizes. */
static GArray *
epoch_indices (MactDataLoader *loader, guint epoch, GArray *batch_sizes)
{
  g_autoptr(GError) error = NULL;
  assert_true (mact_data_loader_start_epoch (loader, epoch, &error));
  GArray *out = g_array_new (FALSE, FALSE, sizeof (guint));
  MactTensorDict *batch;
  while ((batch = mact_data_loader_next (loader, NULL, &error)) != NULL)
    {
      MactTensor *index = mact_tensor_dict_lookup (batch, "index");
      MactTensor *imgs = mact_tensor_dict_lookup (batch, "imgs");
      gint64 n = mact_tensor_get_size (index, 0);
      assert_int_equal (mact_tensor_get_size (imgs, 0), n);
      for (gint64 i = 0; i < n; i++)
        {
          guint v = (guint) mact_tensor_get_data (index)[i];
          /* The sample in the batch is the one the index names. */
          assert_float_equal (mact_tensor_get_data (imgs)[2 * i], (float) v, 0.0);
          g_array_append_val (out, v);
        }
      if (batch_sizes)
        {
          guint nb = (guint) n;
          g_array_append_val (batch_sizes, nb);
        }
      mact_tensor_dict_unref (batch);
    }
  assert_null (error);
  return out;
}

static gboolean
is_permutation (GArray *a, guint n)
{
  if (a->len != n)
    return FALSE;
  g_autofree gboolean *seen = g_new0 (gboolean, n);
  for (guint i = 0; i < n; i++)
    {
      guint v = g_array_index (a, guint, i);
      if (v >= n || seen[v])
        return FALSE;
      seen[v] = TRUE;
    }
  return TRUE;
}

static gboolean
arrays_equal (GArray *a, GArray *b)
{
  return a->len == b->len &&
         memcmp (a->data, b->data, (gsize) a->len * sizeof (guint)) == 0;
}

static void
test_loader_order (void **state)
{
  g_autoptr(TestDataset) ds = test_dataset_new (10);
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (MACT_DATASET (ds), 3, TRUE, 42);
  assert_ptr_equal (mact_data_loader_get_dataset (loader), ds);
  assert_int_equal (mact_data_loader_get_length (loader), 4);

  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) e0 = epoch_indices (loader, 0, sizes);
  assert_true (is_permutation (e0, 10));
  assert_int_equal (sizes->len, 4);
  assert_int_equal (g_array_index (sizes, guint, 0), 3);
  assert_int_equal (g_array_index (sizes, guint, 3), 1);

  /* Same seed and epoch: same order, also from a fresh loader; another epoch differs. */
  g_autoptr(GArray) e0_again = epoch_indices (loader, 0, NULL);
  assert_true (arrays_equal (e0, e0_again));
  g_autoptr(MactDataLoader) twin = mact_data_loader_new (MACT_DATASET (ds), 3, TRUE, 42);
  g_object_set (twin, "num-workers", 0, NULL);
  g_autoptr(GArray) e0_twin = epoch_indices (twin, 0, NULL);
  assert_true (arrays_equal (e0, e0_twin));
  g_autoptr(GArray) e1 = epoch_indices (loader, 1, NULL);
  assert_true (is_permutation (e1, 10));
  assert_false (arrays_equal (e0, e1));
  /* torch seeds with seed + epoch: seed 41 at epoch 1 is seed 42 at epoch 0. */
  g_autoptr(MactDataLoader) shifted = mact_data_loader_new (MACT_DATASET (ds), 3, TRUE, 41);
  g_autoptr(GArray) s1 = epoch_indices (shifted, 1, NULL);
  assert_true (arrays_equal (e0, s1));

  /* Without shuffle: the identity, and drop-last drops the short batch. */
  g_autoptr(MactDataLoader) plain = mact_data_loader_new (MACT_DATASET (ds), 3, FALSE, 42);
  g_object_set (plain, "drop-last", TRUE, NULL);
  assert_int_equal (mact_data_loader_get_length (plain), 3);
  g_autoptr(GArray) id = epoch_indices (plain, 5, NULL);
  assert_int_equal (id->len, 9);
  for (guint i = 0; i < 9; i++)
    assert_int_equal (g_array_index (id, guint, i), i);

  /* Properties read back. */
  guint nw, pf, nr, rank;
  gboolean dl, sh;
  guint64 seed;
  g_object_get (plain, "num-workers", &nw, "prefetch", &pf, "num-replicas", &nr, "rank", &rank,
                "drop-last", &dl, "shuffle", &sh, "seed", &seed, NULL);
  assert_int_equal (nw, 1);
  assert_int_equal (pf, 2);
  assert_int_equal (nr, 1);
  assert_int_equal (rank, 0);
  assert_true (dl);
  assert_false (sh);
  assert_int_equal (seed, 42);
}

/* Rebuilds the padded order from every rank's shard (rank r holds positions r, r + R, ...)
 * and checks it is a permutation of the dataset followed by its own start. */
static void
check_shards (guint length, guint replicas, gboolean drop_last, guint batch_size)
{
  g_autoptr(TestDataset) ds = test_dataset_new (length);
  guint per_rank = drop_last ? length / replicas : (length + replicas - 1) / replicas;
  guint total = per_rank * replicas;
  g_autofree guint *padded = g_new (guint, MAX (total, 1));

  for (guint r = 0; r < replicas; r++)
    {
      g_autoptr(MactDataLoader) loader = mact_data_loader_new (MACT_DATASET (ds), batch_size,
                                                               TRUE, 7);
      g_object_set (loader, "drop-last", drop_last, "num-workers", r % 3, NULL);
      mact_data_loader_set_shard (loader, replicas, r);
      guint batches = drop_last ? per_rank / batch_size
                                : (per_rank + batch_size - 1) / batch_size;
      assert_int_equal (mact_data_loader_get_length (loader), batches);
      g_autoptr(GArray) shard = epoch_indices (loader, 3, NULL);
      guint used = drop_last ? batches * batch_size : per_rank;
      assert_int_equal (shard->len, used);
      for (guint i = 0; i < used; i++)
        padded[r + i * replicas] = g_array_index (shard, guint, i);
      /* With drop-last the batch-level tail is dropped too; fill it from a loader that
       * keeps every sample so the order check below still sees the whole shard. */
      if (used < per_rank)
        {
          g_object_set (loader, "batch-size", 1, NULL);
          g_autoptr(GArray) all = epoch_indices (loader, 3, NULL);
          assert_int_equal (all->len, per_rank);
          for (guint i = 0; i < per_rank; i++)
            padded[r + i * replicas] = g_array_index (all, guint, i);
        }
    }

  guint distinct = MIN (total, length);
  g_autofree gboolean *seen = g_new0 (gboolean, length);
  for (guint p = 0; p < distinct; p++)
    {
      assert_in_range (padded[p], 0, length - 1);
      assert_false (seen[padded[p]]);   /* ranks are disjoint before the padding */
      seen[padded[p]] = TRUE;
    }
  if (!drop_last)
    {
      for (guint v = 0; v < length; v++)
        assert_true (seen[v]);          /* and cover the whole dataset */
      for (guint p = length; p < total; p++)
        assert_int_equal (padded[p], padded[p % length]);
    }
}

static void
test_loader_shards (void **state)
{
  check_shards (10, 3, FALSE, 2);   /* padded by 2 */
  check_shards (10, 3, TRUE, 2);    /* truncated to 9, then one full batch per rank */
  check_shards (12, 4, FALSE, 5);   /* even split */
  check_shards (2, 5, FALSE, 1);    /* padding longer than the dataset */
  check_shards (3, 5, TRUE, 1);     /* nothing left per rank */

  g_autoptr(GError) error = NULL;
  g_autoptr(TestDataset) ds = test_dataset_new (4);
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (MACT_DATASET (ds), 2, TRUE, 0);
  mact_data_loader_set_shard (loader, 2, 2);
  assert_false (mact_data_loader_start_epoch (loader, 0, &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "rank");
  /* next() without a started epoch. */
  assert_null (mact_data_loader_next (loader, NULL, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);

  /* An empty dataset: no batches. */
  g_autoptr(TestDataset) none = test_dataset_new (0);
  g_autoptr(MactDataLoader) empty = mact_data_loader_new (MACT_DATASET (none), 2, TRUE, 0);
  assert_int_equal (mact_data_loader_get_length (empty), 0);
  assert_true (mact_data_loader_start_epoch (empty, 0, &error));
  assert_null (mact_data_loader_next (empty, NULL, &error));
  assert_null (error);
}

/* ------------------------------------------------------------------ loader: workers */

static GPtrArray *
all_batches (MactDataset *ds, guint batch_size, guint workers, guint prefetch, guint epoch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (ds, batch_size, TRUE, 1234);
  g_object_set (loader, "num-workers", workers, "prefetch", prefetch, NULL);
  assert_true (mact_data_loader_start_epoch (loader, epoch, &error));
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_dict_unref);
  MactTensorDict *batch;
  while ((batch = mact_data_loader_next (loader, NULL, &error)) != NULL)
    g_ptr_array_add (out, batch);
  assert_null (error);
  return out;
}

static void
assert_same_batches (GPtrArray *a, GPtrArray *b)
{
  assert_int_equal (a->len, b->len);
  for (guint i = 0; i < a->len; i++)
    {
      MactTensorDict *x = g_ptr_array_index (a, i), *y = g_ptr_array_index (b, i);
      assert_int_equal (mact_tensor_dict_get_size (x), mact_tensor_dict_get_size (y));
      for (guint k = 0; k < mact_tensor_dict_get_size (x); k++)
        {
          const char *key = mact_tensor_dict_get_key (x, k);
          assert_true (tensors_identical (mact_tensor_dict_get_value (x, k),
                                          mact_tensor_dict_lookup (y, key)));
        }
    }
}

static void
test_loader_workers_identical (void **state)
{
  /* The test dataset draws from the sample's rng: any seeding that depended on the
   * worker or on timing would show here. */
  g_autoptr(TestDataset) ds = test_dataset_new (23);
  g_autoptr(GPtrArray) w0 = all_batches (MACT_DATASET (ds), 4, 0, 1, 2);
  g_autoptr(GPtrArray) w1 = all_batches (MACT_DATASET (ds), 4, 1, 2, 2);
  g_autoptr(GPtrArray) w2 = all_batches (MACT_DATASET (ds), 4, 2, 2, 2);
  g_autoptr(GPtrArray) w3 = all_batches (MACT_DATASET (ds), 4, 3, 5, 2);
  assert_int_equal (w0->len, 6);
  assert_same_batches (w0, w1);
  assert_same_batches (w0, w2);
  assert_same_batches (w0, w3);

  /* Another epoch gives the same sample different randomness. */
  g_autoptr(GPtrArray) e3 = all_batches (MACT_DATASET (ds), 23, 0, 1, 3);
  g_autoptr(GPtrArray) e2 = all_batches (MACT_DATASET (ds), 23, 0, 1, 2);
  MactTensor *i2 = mact_tensor_dict_lookup (g_ptr_array_index (e2, 0), "imgs");
  MactTensor *i3 = mact_tensor_dict_lookup (g_ptr_array_index (e3, 0), "imgs");
  MactTensor *x2 = mact_tensor_dict_lookup (g_ptr_array_index (e2, 0), "index");
  MactTensor *x3 = mact_tensor_dict_lookup (g_ptr_array_index (e3, 0), "index");
  for (gint64 i = 0; i < 23; i++)
    for (gint64 j = 0; j < 23; j++)
      if (mact_tensor_get_data (x2)[i] == mact_tensor_get_data (x3)[j])
        assert_true (mact_tensor_get_data (i2)[2 * i + 1] != mact_tensor_get_data (i3)[2 * j + 1]);

  /* The synthetic dataset through the loader: same batches with 0 and 2 workers. */
  g_autoptr(MactDataset) syn = synthetic ("\"num_classes\": 5, \"num_samples\": 9, "
                                          "\"clip_len\": 2, \"height\": 16, \"width\": 16, "
                                          "\"noise\": 0.1, \"clutter\": 2");
  g_autoptr(GPtrArray) s0 = all_batches (syn, 4, 0, 1, 0);
  g_autoptr(GPtrArray) s2 = all_batches (syn, 4, 2, 3, 0);
  assert_same_batches (s0, s2);
  MactTensorDict *first = g_ptr_array_index (s0, 0);
  const gint64 is[] = { 4, 2, 3, 16, 16 }, ls[] = { 4, 1 }, xs[] = { 4 };
  assert_shape (mact_tensor_dict_lookup (first, "imgs"), 5, is);
  assert_shape (mact_tensor_dict_lookup (first, "label"), 2, ls);
  assert_shape (mact_tensor_dict_lookup (first, "index"), 1, xs);
  for (int i = 0; i < 4; i++)
    assert_float_equal (mact_tensor_get_data (mact_tensor_dict_lookup (first, "label"))[i],
                        fmodf (mact_tensor_get_data (mact_tensor_dict_lookup (first, "index"))[i], 5.0f),
                        0.0);
}

static void
check_error_propagation (guint workers)
{
  g_autoptr(TestDataset) ds = test_dataset_new (10);
  ds->fail_at = 5;
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (MACT_DATASET (ds), 2, FALSE, 0);
  g_object_set (loader, "num-workers", workers, "prefetch", 3, NULL);
  g_autoptr(GError) error = NULL;

  for (int round = 0; round < 2; round++)
    {
      assert_true (mact_data_loader_start_epoch (loader, round, &error));
      for (int b = 0; b < 2; b++)
        {
          g_autoptr(MactTensorDict) batch = mact_data_loader_next (loader, NULL, &error);
          assert_null (error);
          assert_non_null (batch);
        }
      /* Batch 2 holds indices 4 and 5: the sample's own error, naming the index. */
      assert_null (mact_data_loader_next (loader, NULL, &error));
      assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO, "dataset index 5");
      /* The epoch is over. */
      assert_null (mact_data_loader_next (loader, NULL, &error));
      assert_null (error);
    }
}

static void
test_loader_error_propagation (void **state)
{
  check_error_propagation (0);
  check_error_propagation (1);
  check_error_propagation (3);
}

/* Polls until the dataset saw @want calls, for at most about four seconds. */
static gboolean
wait_for_calls (TestDataset *ds, gint want)
{
  for (int i = 0; i < 2000; i++)
    {
      if (g_atomic_int_get (&ds->calls) >= want)
        return TRUE;
      g_usleep (2000);
    }
  return FALSE;
}

static void
test_loader_prefetch_bound (void **state)
{
  g_autoptr(TestDataset) ds = test_dataset_new (20);
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (MACT_DATASET (ds), 2, TRUE, 0);
  g_object_set (loader, "num-workers", 2, "prefetch", 2, NULL);
  g_autoptr(GError) error = NULL;
  assert_true (mact_data_loader_start_epoch (loader, 0, &error));

  /* The workers run ahead by exactly two batches (4 samples), then stop. */
  assert_true (wait_for_calls (ds, 4));
  g_usleep (30000);
  assert_int_equal (g_atomic_int_get (&ds->calls), 4);

  g_autoptr(MactTensorDict) b0 = mact_data_loader_next (loader, NULL, &error);
  assert_non_null (b0);
  assert_true (wait_for_calls (ds, 6));
  g_usleep (30000);
  assert_int_equal (g_atomic_int_get (&ds->calls), 6);
}

static void
test_loader_shutdown (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TestDataset) ds = test_dataset_new (50);

  /* Finalized mid-epoch with batches pending and workers blocked on the bound. */
  MactDataLoader *loader = mact_data_loader_new (MACT_DATASET (ds), 3, TRUE, 9);
  g_object_set (loader, "num-workers", 3, "prefetch", 4, NULL);
  assert_true (mact_data_loader_start_epoch (loader, 0, &error));
  g_autoptr(MactTensorDict) b = mact_data_loader_next (loader, NULL, &error);
  assert_non_null (b);
  g_object_unref (loader);

  /* A new epoch discards the previous one's pending batches. */
  g_autoptr(MactDataLoader) again = mact_data_loader_new (MACT_DATASET (ds), 3, TRUE, 9);
  g_object_set (again, "num-workers", 2, NULL);
  assert_true (mact_data_loader_start_epoch (again, 0, &error));
  g_autoptr(MactTensorDict) first = mact_data_loader_next (again, NULL, &error);
  assert_true (mact_data_loader_start_epoch (again, 0, &error));
  g_autoptr(MactTensorDict) first_again = mact_data_loader_next (again, NULL, &error);
  assert_true (tensors_identical (mact_tensor_dict_lookup (first, "index"),
                                  mact_tensor_dict_lookup (first_again, "index")));

  /* Finalized while workers are inside get_item: they finish their sample and exit. */
  g_autoptr(TestDataset) gated = test_dataset_new (8);
  gated->gated = TRUE;
  MactDataLoader *stuck = mact_data_loader_new (MACT_DATASET (gated), 2, FALSE, 0);
  g_object_set (stuck, "num-workers", 2, NULL);
  assert_true (mact_data_loader_start_epoch (stuck, 0, &error));
  assert_true (wait_for_calls (gated, 2));
  test_dataset_open_gate (gated);
  g_object_unref (stuck);
}

static gpointer
cancel_later (gpointer data)
{
  g_usleep (20000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
check_cancel (guint workers)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TestDataset) ds = test_dataset_new (6);
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (MACT_DATASET (ds), 2, FALSE, 0);
  g_object_set (loader, "num-workers", workers, NULL);
  assert_true (mact_data_loader_start_epoch (loader, 0, &error));

  /* Already cancelled: the call fails, even if the batch is ready; the epoch goes on. */
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_cancellable_cancel (cancelled);
  assert_null (mact_data_loader_next (loader, cancelled, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_CANCELLED);
  g_autoptr(MactTensorDict) b0 = mact_data_loader_next (loader, NULL, &error);
  assert_non_null (b0);
  assert_float_equal (mact_tensor_get_data (mact_tensor_dict_lookup (b0, "index"))[0], 0.0f, 0.0);

  if (workers == 0)
    return;

  /* Cancelled while waiting for a batch that a blocked worker is preparing. */
  g_autoptr(TestDataset) gated = test_dataset_new (6);
  gated->gated = TRUE;
  g_autoptr(MactDataLoader) waiting = mact_data_loader_new (MACT_DATASET (gated), 2, FALSE, 0);
  g_object_set (waiting, "num-workers", workers, NULL);
  assert_true (mact_data_loader_start_epoch (waiting, 0, &error));
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GThread *canceller = g_thread_new ("canceller", cancel_later, cancellable);
  assert_null (mact_data_loader_next (waiting, cancellable, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_CANCELLED);
  g_thread_join (canceller);
  test_dataset_open_gate (gated);
  g_autoptr(MactTensorDict) w0 = mact_data_loader_next (waiting, NULL, &error);
  assert_non_null (w0);
  assert_float_equal (mact_tensor_get_data (mact_tensor_dict_lookup (w0, "index"))[1], 1.0f, 0.0);
}

static void
test_loader_cancel (void **state)
{
  check_cancel (0);
  check_cancel (1);
  check_cancel (2);
}

/* ------------------------------------------------------------------ synthetic dataset */

typedef struct {
  MactDataset *dataset;
  guint        index;
  MactTensor  *imgs;
} RenderJob;

static gpointer
render_in_thread (gpointer data)
{
  RenderJob *job = data;
  g_autoptr(MactTensorDict) d = mact_dataset_get_item (job->dataset, job->index, NULL, NULL);
  job->imgs = mact_tensor_ref (mact_tensor_dict_lookup (d, "imgs"));
  return NULL;
}

static void
test_synthetic_determinism (void **state)
{
  const char *keys = "\"num_samples\": 20, \"noise\": 0.1, \"clutter\": 3, \"seed\": 5";
  g_autoptr(MactDataset) a = synthetic (keys);
  g_autoptr(MactDataset) b = synthetic (keys);
  for (guint i = 0; i < 20; i += 7)
    {
      g_autoptr(MactTensorDict) x = item (a, i);
      g_autoptr(MactTensorDict) y = item (a, i);
      g_autoptr(MactTensorDict) z = item (b, i);
      assert_true (tensors_identical (mact_tensor_dict_lookup (x, "imgs"),
                                      mact_tensor_dict_lookup (y, "imgs")));
      assert_true (tensors_identical (mact_tensor_dict_lookup (x, "imgs"),
                                      mact_tensor_dict_lookup (z, "imgs")));
      /* The rng argument does not matter. */
      g_autoptr(MactGenerator) rng = mact_generator_new (99);
      g_autoptr(MactTensorDict) w = mact_dataset_get_item (a, i, rng, NULL);
      assert_true (tensors_identical (mact_tensor_dict_lookup (x, "imgs"),
                                      mact_tensor_dict_lookup (w, "imgs")));
    }

  /* Four threads rendering the same two samples at once. */
  RenderJob jobs[4];
  GThread *threads[4];
  for (int t = 0; t < 4; t++)
    {
      jobs[t] = (RenderJob) { a, (guint) (t % 2) * 3, NULL };
      threads[t] = g_thread_new ("render", render_in_thread, &jobs[t]);
    }
  for (int t = 0; t < 4; t++)
    g_thread_join (threads[t]);
  for (int t = 0; t < 4; t++)
    {
      g_autoptr(MactTensorDict) ref = item (a, jobs[t].index);
      assert_true (tensors_identical (jobs[t].imgs, mact_tensor_dict_lookup (ref, "imgs")));
      mact_tensor_unref (jobs[t].imgs);
    }
}

static void
test_synthetic_splits_differ (void **state)
{
  g_autoptr(MactDataset) train = synthetic ("\"num_samples\": 8");
  g_autoptr(MactDataset) val = synthetic ("\"num_samples\": 8, \"split\": \"val\"");
  g_autoptr(MactDataset) reseeded = synthetic ("\"num_samples\": 8, \"seed\": 1");
  for (guint i = 0; i < 8; i++)
    {
      g_autoptr(MactTensorDict) t = item (train, i);
      g_autoptr(MactTensorDict) v = item (val, i);
      g_autoptr(MactTensorDict) r = item (reseeded, i);
      g_autoptr(MactTensorDict) next = item (train, (i + 1) % 8);
      MactTensor *ti = mact_tensor_dict_lookup (t, "imgs");
      assert_false (tensors_identical (ti, mact_tensor_dict_lookup (v, "imgs")));
      assert_false (tensors_identical (ti, mact_tensor_dict_lookup (r, "imgs")));
      assert_false (tensors_identical (ti, mact_tensor_dict_lookup (next, "imgs")));
      /* Labels are index % num_classes in both splits. */
      assert_float_equal (mact_tensor_item (mact_tensor_dict_lookup (v, "label")), (float) i, 0.0);
    }
}

static void
test_synthetic_layouts (void **state)
{
  g_autoptr(MactDataset) nchw = synthetic ("\"num_classes\": 3, \"num_samples\": 4, "
                                           "\"clip_len\": 3, \"num_clips\": 2, \"height\": 16, "
                                           "\"width\": 24, \"clutter\": 2, \"noise\": 0.05");
  g_autoptr(MactDataset) ncthw = synthetic ("\"num_classes\": 3, \"num_samples\": 4, "
                                            "\"clip_len\": 3, \"num_clips\": 2, \"height\": 16, "
                                            "\"width\": 24, \"clutter\": 2, \"noise\": 0.05, "
                                            "\"input_format\": \"NCTHW\"");
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(MactTensorDict) a = item (nchw, i);
      g_autoptr(MactTensorDict) b = item (ncthw, i);
      MactTensor *ia = mact_tensor_dict_lookup (a, "imgs");
      MactTensor *ib = mact_tensor_dict_lookup (b, "imgs");
      const gint64 sa[] = { 6, 3, 16, 24 }, sb[] = { 2, 3, 3, 16, 24 }, sl[] = { 1 };
      assert_shape (ia, 4, sa);
      assert_shape (ib, 5, sb);
      MactTensor *label = mact_tensor_dict_lookup (a, "label");
      assert_shape (label, 1, sl);
      assert_float_equal (mact_tensor_item (label), (float) (i % 3), 0.0);
      assert_true (tensors_identical (label, mact_tensor_dict_lookup (b, "label")));

      /* Same content: imgs_ncthw[c, ch, k] == imgs_nchw[c * clip_len + k, ch]. */
      const float *pa = mact_tensor_get_data (ia), *pb = mact_tensor_get_data (ib);
      gsize hw = 16 * 24;
      for (int c = 0; c < 2; c++)
        for (int ch = 0; ch < 3; ch++)
          for (int k = 0; k < 3; k++)
            assert_memory_equal (pb + (((gsize) c * 3 + ch) * 3 + k) * hw,
                                 pa + (((gsize) c * 3 + k) * 3 + ch) * hw, hw * sizeof (float));
    }
}

static void
test_synthetic_normalization (void **state)
{
  const char *common = "\"num_samples\": 6, \"clip_len\": 4, \"clutter\": 2";
  g_autofree char *raw_keys = g_strdup_printf ("%s, \"mean\": [0, 0, 0], \"std\": [1, 1, 1]",
                                               common);
  g_autoptr(MactDataset) raw = synthetic (raw_keys);
  g_autoptr(MactDataset) imagenet = synthetic (common);
  g_autofree char *custom_keys = g_strdup_printf ("%s, \"mean\": [10, 20.5, 30], "
                                                  "\"std\": [2, 4, 0.5]", common);
  g_autoptr(MactDataset) custom = synthetic (custom_keys);
  const double mean[2][3] = { { 123.675, 116.28, 103.53 }, { 10, 20.5, 30 } };
  const double std[2][3] = { { 58.395, 57.12, 57.375 }, { 2, 4, 0.5 } };

  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(MactTensorDict) r = item (raw, i);
      g_autoptr(MactTensorDict) n0 = item (imagenet, i);
      g_autoptr(MactTensorDict) n1 = item (custom, i);
      MactTensorDict *n[2] = { n0, n1 };
      MactTensor *ri = mact_tensor_dict_lookup (r, "imgs");
      const float *rv = mact_tensor_get_data (ri);
      gsize hw = 32 * 32, numel = (gsize) mact_tensor_get_numel (ri);
      /* Without noise, intensities are whole 0-255 values, and the corner pixel, which no
       * actor covers, has the background colour in every frame. */
      for (gsize j = 0; j < numel; j++)
        {
          assert_true (rv[j] >= 0.0f && rv[j] <= 255.0f);
          assert_float_equal (rv[j], roundf (rv[j]), 0.0);
        }
      for (int v = 0; v < 2; v++)
        {
          const float *nv = mact_tensor_get_data (mact_tensor_dict_lookup (n[v], "imgs"));
          for (gsize j = 0; j < numel; j++)
            {
              int ch = (int) ((j / hw) % 3);
              double expect = (rv[j] - mean[v][ch]) / std[v][ch];
              assert_float_equal (nv[j], expect, 1e-5 * MAX (1.0, fabs (expect)));
            }
        }
    }

  /* With noise, values stay inside the normalized image range and the background is
   * no longer flat. */
  g_autoptr(MactDataset) noisy = synthetic ("\"num_samples\": 2, \"noise\": 0.2");
  g_autoptr(MactTensorDict) d = item (noisy, 1);
  MactTensor *imgs = mact_tensor_dict_lookup (d, "imgs");
  const float *v = mact_tensor_get_data (imgs);
  gboolean varied = FALSE;
  for (gint64 j = 0; j < mact_tensor_get_numel (imgs); j++)
    {
      int ch = (int) ((j / (32 * 32)) % 3);
      double raw_v = v[j] * std[0][ch] + mean[0][ch];
      assert_true (raw_v >= -1e-3 && raw_v <= 255.0 + 1e-3);
      if (j > 0 && v[j] != v[0] && ch == 0 && j < 32)
        varied = TRUE;
    }
  assert_true (varied);
}

/* Per-frame statistics of the actor in a raw (mean 0, std 1) NCHW clip without noise or
 * clutter: pixels differing from the corner's background colour. */
typedef struct {
  guint  n_frames, h, w;
  double area[64];
  double cx[64], cy[64];
  guint8 *mask;   /* n_frames * h * w */
} Motion;

static void
motion_analyse (MactTensor *imgs, Motion *m)
{
  gint nd;
  const gint64 *s = mact_tensor_get_shape (imgs, &nd);
  assert_int_equal (nd, 4);
  m->n_frames = (guint) s[0];
  m->h = (guint) s[2];
  m->w = (guint) s[3];
  assert_true (m->n_frames <= 64);
  const float *v = mact_tensor_get_data (imgs);
  gsize hw = (gsize) m->h * m->w;
  m->mask = g_new0 (guint8, m->n_frames * hw);
  for (guint p = 0; p < m->n_frames; p++)
    {
      const float *f = v + (gsize) p * 3 * hw;
      double area = 0, sx = 0, sy = 0;
      for (guint y = 0; y < m->h; y++)
        for (guint x = 0; x < m->w; x++)
          {
            gsize i = (gsize) y * m->w + x;
            gboolean fg = FALSE;
            for (int c = 0; c < 3; c++)
              fg |= f[c * hw + i] != f[c * hw];
            if (fg)
              {
                m->mask[p * hw + i] = 1;
                area += 1;
                sx += x + 0.5;
                sy += y + 0.5;
              }
          }
      m->area[p] = area;
      m->cx[p] = area > 0 ? sx / area : -1;
      m->cy[p] = area > 0 ? sy / area : -1;
    }
}

/* Twice the signed area the centroid path encloses with its chord (the shoelace sum):
 * positive when the path turns clockwise on screen (image y points down). */
static double
centroid_turning (const Motion *m)
{
  double area = 0;
  for (guint p = 0; p < m->n_frames; p++)
    {
      guint q = (p + 1) % m->n_frames;
      area += m->cx[p] * m->cy[q] - m->cx[q] * m->cy[p];
    }
  return area;
}

static void
test_synthetic_actions (void **state)
{
  g_autoptr(MactDataset) ds = synthetic ("\"num_samples\": 200, \"clip_len\": 8, "
                                         "\"height\": 48, \"width\": 40, "
                                         "\"mean\": [0, 0, 0], \"std\": [1, 1, 1]");
  for (guint action = 0; action < MACT_SYNTHETIC_ACTION_N_ACTIONS; action++)
    for (guint j = 0; j < 6; j++)
      {
        guint index = action + 10 * j;
        g_autoptr(MactTensorDict) d = item (ds, index);
        assert_float_equal (mact_tensor_item (mact_tensor_dict_lookup (d, "label")),
                            (float) action, 0.0);
        Motion m;
        motion_analyse (mact_tensor_dict_lookup (d, "imgs"), &m);
        guint last = m.n_frames - 1;
        double dx = m.cx[last] - m.cx[0], dy = m.cy[last] - m.cy[0];

        if (action != MACT_SYNTHETIC_ACTION_BLINK)
          for (guint p = 0; p < m.n_frames; p++)
            assert_true (m.area[p] >= 4);

        switch (action)
          {
          case MACT_SYNTHETIC_ACTION_MOVE_RIGHT:
          case MACT_SYNTHETIC_ACTION_MOVE_LEFT:
          case MACT_SYNTHETIC_ACTION_MOVE_DOWN:
          case MACT_SYNTHETIC_ACTION_MOVE_UP:
            {
              gboolean horizontal = action <= MACT_SYNTHETIC_ACTION_MOVE_LEFT;
              double sign = action == MACT_SYNTHETIC_ACTION_MOVE_RIGHT ||
                            action == MACT_SYNTHETIC_ACTION_MOVE_DOWN ? 1.0 : -1.0;
              const double *along = horizontal ? m.cx : m.cy;
              const double *across = horizontal ? m.cy : m.cx;
              /* Monotonic along the direction, and at least a quarter of the frame. */
              for (guint p = 0; p + 1 < m.n_frames; p++)
                assert_true (sign * (along[p + 1] - along[p]) > 0.0);
              assert_true (sign * (along[last] - along[0]) >= 0.25 * (horizontal ? m.w : m.h));
              for (guint p = 1; p < m.n_frames; p++)
                assert_true (fabs (across[p] - across[0]) < 1.0);
              break;
            }
          case MACT_SYNTHETIC_ACTION_ROTATE_CLOCKWISE:
          case MACT_SYNTHETIC_ACTION_ROTATE_COUNTERCLOCKWISE:
            {
              /* A rigid turn about a pivot behind the shape: the centroid swings along
               * an arc of 105-210 degrees, clockwise or not, and never far. */
              double turning = centroid_turning (&m);
              if (action == MACT_SYNTHETIC_ACTION_ROTATE_CLOCKWISE)
                assert_true (turning > 4.0);
              else
                assert_true (turning < -4.0);
              assert_true (fabs (dx) < 0.4 * m.w && fabs (dy) < 0.4 * m.h);
              break;
            }
          case MACT_SYNTHETIC_ACTION_GROW:
          case MACT_SYNTHETIC_ACTION_SHRINK:
            {
              double ratio = m.area[last] / m.area[0];
              if (action == MACT_SYNTHETIC_ACTION_GROW)
                assert_true (ratio > 2.5);
              else
                assert_true (ratio < 1.0 / 2.5);
              for (guint p = 0; p + 1 < m.n_frames; p++)
                {
                  double step = m.area[p + 1] - m.area[p];
                  assert_true (action == MACT_SYNTHETIC_ACTION_GROW ? step >= 0 : step <= 0);
                }
              assert_true (fabs (dx) < 1.5 && fabs (dy) < 1.5);
              break;
            }
          case MACT_SYNTHETIC_ACTION_BLINK:
            {
              guint off = 0;
              double on_area = -1;
              for (guint p = 0; p < m.n_frames; p++)
                if (m.area[p] == 0)
                  off++;
                else if (on_area < 0)
                  on_area = m.area[p];
                else
                  assert_float_equal (m.area[p], on_area, 0.0);
              assert_in_range (off, 1, m.n_frames - 1);
              break;
            }
          case MACT_SYNTHETIC_ACTION_STAND_STILL:
          default:
            {
              /* Every frame is the same picture. */
              MactTensor *imgs = mact_tensor_dict_lookup (d, "imgs");
              gsize frame = (gsize) 3 * m.h * m.w;
              const float *v = mact_tensor_get_data (imgs);
              for (guint p = 1; p < m.n_frames; p++)
                assert_memory_equal (v, v + p * frame, frame * sizeof (float));
              assert_true (dx == 0.0 && dy == 0.0);
              break;
            }
          }
        g_free (m.mask);
      }
}

static void
test_synthetic_clutter_and_noise (void **state)
{
  /* Distractors are drawn after the actor's parameters and behind it: with clutter the
   * clip differs, and more pixels differ from the background. */
  g_autoptr(MactDataset) clean = synthetic ("\"num_samples\": 10, \"mean\": [0, 0, 0], "
                                            "\"std\": [1, 1, 1]");
  g_autoptr(MactDataset) cluttered = synthetic ("\"num_samples\": 10, \"clutter\": 4, "
                                                "\"mean\": [0, 0, 0], \"std\": [1, 1, 1]");
  double clean_area = 0, cluttered_area = 0;
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(MactTensorDict) a = item (clean, i);
      g_autoptr(MactTensorDict) b = item (cluttered, i);
      Motion ma, mb;
      motion_analyse (mact_tensor_dict_lookup (a, "imgs"), &ma);
      motion_analyse (mact_tensor_dict_lookup (b, "imgs"), &mb);
      for (guint p = 0; p < ma.n_frames; p++)
        {
          clean_area += ma.area[p];
          cluttered_area += mb.area[p];
        }
      g_free (ma.mask);
      g_free (mb.mask);
    }
  assert_true (cluttered_area > 1.1 * clean_area);

  /* Noise of stddev s on [0, 1] intensities: the background's spread is about s * 255
   * (bounded by the clamp to [0, 255]). */
  g_autoptr(MactDataset) noisy = synthetic ("\"num_samples\": 10, \"noise\": 0.05, "
                                            "\"mean\": [0, 0, 0], \"std\": [1, 1, 1]");
  g_autoptr(MactTensorDict) n = item (noisy, 9);
  g_autoptr(MactTensorDict) c = item (clean, 9);
  const float *nv = mact_tensor_get_data (mact_tensor_dict_lookup (n, "imgs"));
  const float *cv = mact_tensor_get_data (mact_tensor_dict_lookup (c, "imgs"));
  gint64 numel = mact_tensor_get_numel (mact_tensor_dict_lookup (n, "imgs"));
  double sum = 0, sum2 = 0;
  gint64 count = 0;
  for (gint64 j = 0; j < numel; j++)
    if (cv[j] > 45 && cv[j] < 210)   /* beyond the noise's reach (3.46 sd) of the clamp */
      {
        double d = nv[j] - cv[j];
        sum += d;
        sum2 += d * d;
        count++;
      }
  assert_true (count > 1000);
  double mean = sum / count, sd = sqrt (sum2 / count - mean * mean);
  assert_true (fabs (mean) < 1.0);
  assert_true (sd > 0.05 * 255 * 0.9 && sd < 0.05 * 255 * 1.1);
}

static void
test_synthetic_config_errors (void **state)
{
  static const struct {
    const char *keys;
    const char *names;
  } cases[] = {
    { "\"num_classes\": 1", "num_classes" },
    { "\"num_classes\": 11", "num_classes" },
    { "\"num_classes\": \"ten\"", "num_classes" },
    { "\"num_classes\": 2.5", "num_classes" },
    { "\"num_samples\": 0", "num_samples" },
    { "\"num_samples\": -3", "num_samples" },
    { "\"height\": 0", "height" },
    { "\"width\": 0", "width" },
    { "\"width\": 100000", "width" },
    { "\"clip_len\": 0", "clip_len" },
    { "\"num_clips\": 0", "num_clips" },
    { "\"frame_interval\": 0", "frame_interval" },
    { "\"clip_len\": 1, \"num_clips\": 1", "clip_len" },
    { "\"split\": \"test\"", "split" },
    { "\"split\": null", "split" },
    { "\"split\": 1", "split" },
    { "\"input_format\": \"NTHWC\"", "input_format" },
    { "\"input_format\": [\"NCHW\"]", "input_format" },
    { "\"noise\": 2.0", "noise" },
    { "\"noise\": -0.1", "noise" },
    { "\"noise\": \"lots\"", "noise" },
    { "\"clutter\": 1000", "clutter" },
    { "\"clutter\": true", "clutter" },
    { "\"seed\": -1", "seed" },
    { "\"mean\": [1, 2]", "mean" },
    { "\"mean\": null", "mean" },
    { "\"std\": []", "std" },
    { "\"mean\": \"imagenet\"", "mean" },
    { "\"mean\": [1, 2, \"x\"]", "mean" },
    { "\"std\": [1, 0, 1]", "std" },
    { "\"std\": [1, -2, 1, 4]", "std" },
    { "\"test_mode\": 1", "test_mode" },
    { "\"pipeline\": []", "pipeline" },
    { "\"num_classes\": 3, \"num-classes\": 3", "given twice" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"type\": \"SyntheticActionDataset\", %s}",
                                               cases[i].keys);
      g_autoptr(GError) error = NULL;
      g_autoptr(MactDataset) d = dataset_from_json (json, &error);
      if (d != NULL)
        fail_msg ("config %s was accepted", json);
      assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                             cases[i].names);
    }

  /* Direct construction: the type key is optional but must be right when given, and the
   * config must be an object. */
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) no_type = json_from_string ("{\"num_classes\": 2, \"test_mode\": true}",
                                                  NULL);
  g_autoptr(MactDataset) ok = mact_synthetic_dataset_new_from_config (no_type, &error);
  assert_non_null (ok);
  assert_int_equal (mact_dataset_get_num_classes (ok), 2);
  g_autoptr(JsonNode) wrong = json_from_string ("{\"type\": \"RawframeDataset\"}", NULL);
  assert_null (mact_synthetic_dataset_new_from_config (wrong, &error));
  assert_error_mentions (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "'type'");
  g_autoptr(JsonNode) array = json_from_string ("[]", NULL);
  assert_null (mact_synthetic_dataset_new_from_config (array, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);

  /* An object made with g_object_new() and never initialised refuses to render. */
  g_autoptr(MactDataset) raw = g_object_new (MACT_TYPE_SYNTHETIC_DATASET, NULL);
  assert_null (mact_dataset_get_item (raw, 0, NULL, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);
  g_autoptr(MactDataset) inited = g_initable_new (MACT_TYPE_SYNTHETIC_DATASET, NULL, &error,
                                                  "num-samples", 3, NULL);
  assert_non_null (inited);
  g_autoptr(MactTensorDict) d = item (inited, 2);
  assert_true (mact_tensor_dict_contains (d, "imgs"));
}

static void
test_synthetic_action_names (void **state)
{
  assert_string_equal (mact_synthetic_action_get_name (MACT_SYNTHETIC_ACTION_MOVE_RIGHT),
                       "move_right");
  assert_string_equal (mact_synthetic_action_get_name (MACT_SYNTHETIC_ACTION_ROTATE_COUNTERCLOCKWISE),
                       "rotate_counterclockwise");
  assert_string_equal (mact_synthetic_action_get_name (MACT_SYNTHETIC_ACTION_STAND_STILL),
                       "stand_still");
  assert_null (mact_synthetic_action_get_name (MACT_SYNTHETIC_ACTION_N_ACTIONS));
  /* The enum is registered for bindings. */
  GEnumClass *klass = g_type_class_ref (MACT_TYPE_SYNTHETIC_ACTION);
  assert_int_equal (klass->n_values, MACT_SYNTHETIC_ACTION_N_ACTIONS);
  g_type_class_unref (klass);
}

/* Loader batches are what the recognizers take: imgs [B, V, C, H, W] (2D) or
 * [B, V, C, T, H, W] (3D) and label [B, 1], also for a batch of one (the recognizer
 * squeezes the label to 0-D then). */
static void
check_train_steps (MactRegistry *reg, const char *rec_json, const char *format,
                   guint batch_size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = g_strdup (rec_json);
  g_strdelimit (json, "'", '"');
  g_autoptr(MactRecognizer) rec = mact_recognizer_new_from_data (json, -1, reg, &error);
  if (rec == NULL)
    fail_msg ("building %s: %s", rec_json, error->message);

  g_autofree char *keys = g_strdup_printf ("\"num_samples\": 5, \"clip_len\": 2, "
                                           "\"height\": 16, \"width\": 16, \"clutter\": 1, "
                                           "\"noise\": 0.05, \"input_format\": \"%s\"", format);
  g_autoptr(MactDataset) ds = synthetic (keys);
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (ds, batch_size, TRUE, 3);
  assert_true (mact_data_loader_start_epoch (loader, 0, &error));
  guint steps = 0;
  MactTensorDict *batch;
  while ((batch = mact_data_loader_next (loader, NULL, &error)) != NULL)
    {
      /* The runner drops the loader's "index" before train_step, as here. */
      assert_true (mact_tensor_dict_remove (batch, "index"));
      g_autoptr(MactTensor) loss = NULL;
      g_autoptr(MactTensorDict) log_vars = NULL;
      gint num_samples = -1;
      if (!mact_recognizer_train_step (rec, batch, &loss, &log_vars, &num_samples, &error))
        fail_msg ("train_step on a %s batch: %s", format, error->message);
      assert_int_equal (num_samples, mact_tensor_get_size (mact_tensor_dict_lookup (batch, "imgs"), 0));
      assert_true (isfinite (mact_tensor_item (loss)));
      assert_true (mact_tensor_dict_contains (log_vars, "top1_acc"));
      mact_tensor_dict_unref (batch);
      steps++;
    }
  assert_null (error);
  assert_int_equal (steps, (5 + batch_size - 1) / batch_size);
}

static void
test_synthetic_feeds_recognizers (void **state)
{
  g_autoptr(MactRegistry) reg = mact_test_blocks_registry ();
  const char *rec2d = "{'type': 'Recognizer2D', 'backbone': {'type': 'TestBackbone2D'}, "
                      "'cls_head': {'type': 'TestHead2D', 'num_classes': 10, 'in_channels': 8, "
                      "'loss_cls': {'type': 'TestCELoss'}}}";
  const char *rec3d = "{'type': 'Recognizer3D', 'backbone': {'type': 'TestBackbone3D'}, "
                      "'cls_head': {'type': 'TestHead3D', 'num_classes': 10, 'in_channels': 8, "
                      "'loss_cls': {'type': 'TestCELoss'}}}";
  check_train_steps (reg, rec2d, "NCHW", 2);
  check_train_steps (reg, rec3d, "NCTHW", 2);
  check_train_steps (reg, rec2d, "NCHW", 1);
  check_train_steps (reg, rec3d, "NCTHW", 1);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_collate_stacks),
    cmocka_unit_test (test_collate_errors),
    cmocka_unit_test (test_dataset_config_errors),
    cmocka_unit_test (test_sample_seed),
    cmocka_unit_test (test_loader_order),
    cmocka_unit_test (test_loader_shards),
    cmocka_unit_test (test_loader_workers_identical),
    cmocka_unit_test (test_loader_error_propagation),
    cmocka_unit_test (test_loader_prefetch_bound),
    cmocka_unit_test (test_loader_shutdown),
    cmocka_unit_test (test_loader_cancel),
    cmocka_unit_test (test_synthetic_determinism),
    cmocka_unit_test (test_synthetic_splits_differ),
    cmocka_unit_test (test_synthetic_layouts),
    cmocka_unit_test (test_synthetic_normalization),
    cmocka_unit_test (test_synthetic_actions),
    cmocka_unit_test (test_synthetic_clutter_and_noise),
    cmocka_unit_test (test_synthetic_config_errors),
    cmocka_unit_test (test_synthetic_action_names),
    cmocka_unit_test (test_synthetic_feeds_recognizers),
  };
  return cmocka_run_group_tests_name ("dataset", tests, NULL, NULL);
}
