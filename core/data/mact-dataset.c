/* mact-dataset.c: MactDataset, the interface the loader and the runner read samples from,
 * the built-in dataset table behind mact_dataset_new_from_config() and mmcv's collate. */
#include <mact/mact.h>

#include <string.h>

G_DEFINE_QUARK (mact-data-error-quark, mact_data_error)

/**
 * MactDataset:
 *
 * An indexable collection of samples, mmaction2's `BaseDataset` after its pipeline: each
 * sample is a #MactTensorDict with "imgs" and "label".  Subclasses implement
 * #MactDatasetClass.get_length, #MactDatasetClass.get_item and
 * #MactDatasetClass.get_num_classes; #MactDataLoader shuffles, shards, batches and
 * prefetches over any of them.
 *
 * Since: 0.1
 */
G_DEFINE_ABSTRACT_TYPE (MactDataset, mact_dataset, G_TYPE_OBJECT)

static guint
mact_dataset_real_get_length (MactDataset *self)
{
  return 0;
}

static guint
mact_dataset_real_get_num_classes (MactDataset *self)
{
  return 0;
}

static MactTensorDict *
mact_dataset_real_get_item (MactDataset *self, guint index, MactGenerator *rng,
                            GError **error)
{
  g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
               "%s does not implement get_item", G_OBJECT_TYPE_NAME (self));
  return NULL;
}

static void
mact_dataset_class_init (MactDatasetClass *klass)
{
  klass->get_length = mact_dataset_real_get_length;
  klass->get_item = mact_dataset_real_get_item;
  klass->get_num_classes = mact_dataset_real_get_num_classes;
}

static void
mact_dataset_init (MactDataset *self)
{
}

/**
 * mact_dataset_get_length:
 * @self: a dataset
 *
 * The number of samples, `len(dataset)`.
 *
 * Returns: the number of samples
 *
 * Since: 0.1
 */
guint
mact_dataset_get_length (MactDataset *self)
{
  g_return_val_if_fail (MACT_IS_DATASET (self), 0);
  return MACT_DATASET_GET_CLASS (self)->get_length (self);
}

/**
 * mact_dataset_get_num_classes:
 * @self: a dataset
 *
 * Returns: the number of classes the labels index into
 *
 * Since: 0.1
 */
guint
mact_dataset_get_num_classes (MactDataset *self)
{
  g_return_val_if_fail (MACT_IS_DATASET (self), 0);
  return MACT_DATASET_GET_CLASS (self)->get_num_classes (self);
}

/**
 * mact_dataset_get_item:
 * @self: a dataset
 * @index: the sample, in [0, mact_dataset_get_length())
 * @rng: (nullable): the generator all of the sample's randomness (augmentation, frame
 *   sampling) draws from; %NULL uses a fresh generator seeded with
 *   mact_dataset_sample_seed (0, 0, @index), so the result is still reproducible
 * @error: return location for a #GError, or %NULL
 *
 * Prepares sample @index: "imgs" without a batch dimension ([V, C, H, W] for 2D
 * recognizers, [V, C, T, H, W] for 3D) and "label" (a one-element tensor holding the
 * class index as a float, or [num_classes] for multi-label data).  Datasets are safe to
 * call from several threads at once; @rng is only used by this call.
 *
 * Errors: %MACT_DATA_ERROR_INDEX when @index is out of range; whatever the dataset
 * reports otherwise (%MACT_DATA_ERROR_IO for an unreadable video, ...).
 *
 * Returns: (transfer full) (nullable): the sample, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_dataset_get_item (MactDataset *self, guint index, MactGenerator *rng, GError **error)
{
  g_return_val_if_fail (MACT_IS_DATASET (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  guint length = mact_dataset_get_length (self);
  if (index >= length)
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INDEX,
                   "%s: index %u is out of range for a dataset of %u samples",
                   G_OBJECT_TYPE_NAME (self), index, length);
      return NULL;
    }

  g_autoptr(MactGenerator) own_rng = NULL;
  if (rng == NULL)
    rng = own_rng = mact_generator_new (mact_dataset_sample_seed (0, 0, index));

  MactTensorDict *item = MACT_DATASET_GET_CLASS (self)->get_item (self, index, rng, error);
  /* A subclass that returns NULL without saying why would leave the loader's consumer
   * with "end of epoch" instead of a failure. */
  if (item == NULL && error != NULL && *error == NULL)
    g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                 "%s: get_item(%u) failed without an error", G_OBJECT_TYPE_NAME (self),
                 index);
  return item;
}

/* The splitmix64 finaliser: a bijection on 64 bits whose every output bit depends on
 * every input bit, so nearby (seed, stream, index) triples give unrelated seeds. */
static inline guint64
mix64 (guint64 z)
{
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/**
 * mact_dataset_sample_seed:
 * @seed: the run's seed
 * @stream: what the seed is for, e.g. the epoch
 * @index: the sample index
 *
 * Mixes (@seed, @stream, @index) into the seed of one sample's generator.  The loader
 * seeds each sample's rng with mact_dataset_sample_seed (seed, epoch, index), so a sample
 * is the same whichever worker prepares it and whatever the worker count; the synthetic
 * dataset derives its clips the same way.  Every output bit depends on every input bit
 * (chained splitmix64 finalisers), so consecutive indices or epochs give unrelated
 * streams.
 *
 * Returns: a 64-bit seed
 *
 * Since: 0.1
 */
guint64
mact_dataset_sample_seed (guint64 seed, guint64 stream, guint64 index)
{
  const guint64 golden = G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  guint64 h = mix64 (seed + golden);
  h = mix64 (h ^ (stream + 2 * golden));
  return mix64 (h ^ (index + 3 * golden));
}

/* ------------------------------------------------------------------ configs */

typedef MactDataset *(*DatasetFromConfig) (JsonNode *config, GError **error);

/* The built-in dataset types, by mmaction2's `type` names. */
static const struct {
  const char        *type;
  DatasetFromConfig  build;
} builtin_datasets[] = {
  { "SyntheticActionDataset", mact_synthetic_dataset_new_from_config },
  { "VideoDataset", mact_video_dataset_new_from_config },
  { "RawframeDataset", mact_rawframe_dataset_new_from_config },
};

static char *
known_types (void)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (builtin_datasets); i++)
    g_string_append_printf (s, "%s'%s'", i ? ", " : "", builtin_datasets[i].type);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/**
 * mact_dataset_new_from_config:
 * @dataset_cfg: mmaction2's `data.train` / `data.val` dict: a JSON object with a string
 *   "type" and the dataset's own keys
 * @error: return location for a #GError, or %NULL
 *
 * Builds a dataset from its config.  Known types: "SyntheticActionDataset"
 * (#MactSyntheticDataset), "VideoDataset" (#MactVideoDataset) and "RawframeDataset"
 * (#MactRawframeDataset).  @dataset_cfg is not modified.
 *
 * Errors: %MACT_DATA_ERROR_INVALID_CONFIG when @dataset_cfg is not an object, has no
 * string "type", names an unknown type (the message lists the known ones), or the
 * dataset rejects one of its keys (the message names the key); whatever else the
 * dataset's own constructor reports (an unreadable annotation list, a bad pipeline).
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 *
 * Since: 0.1
 */
MactDataset *
mact_dataset_new_from_config (JsonNode *dataset_cfg, GError **error)
{
  g_return_val_if_fail (dataset_cfg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (dataset_cfg))
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   "dataset config: expected an object with a 'type' key, got %s",
                   json_node_type_name (dataset_cfg));
      return NULL;
    }
  JsonObject *obj = json_node_get_object (dataset_cfg);
  JsonNode *type_node = json_object_get_member (obj, "type");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_autofree char *known = known_types ();
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   "dataset config: key 'type' %s (known types: %s)",
                   type_node == NULL ? "is missing" : "must be a string", known);
      return NULL;
    }

  const char *type = json_node_get_string (type_node);
  for (gsize i = 0; i < G_N_ELEMENTS (builtin_datasets); i++)
    if (g_str_equal (type, builtin_datasets[i].type))
      return builtin_datasets[i].build (dataset_cfg, error);

  g_autofree char *known = known_types ();
  g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
               "dataset config: key 'type': unknown dataset type '%s' (known types: %s)",
               type, known);
  return NULL;
}

/* ------------------------------------------------------------------ collate */

static gboolean
same_shape (MactTensor *a, MactTensor *b)
{
  gint na, nb;
  const gint64 *sa = mact_tensor_get_shape (a, &na);
  const gint64 *sb = mact_tensor_get_shape (b, &nb);
  return na == nb && memcmp (sa, sb, (gsize) na * sizeof (gint64)) == 0;
}

/**
 * mact_dataset_collate:
 * @samples: (element-type MactTensorDict): the samples of one batch, each with the same
 *   keys and, per key, the same shape
 * @error: return location for a #GError, or %NULL
 *
 * Stacks the samples along a new first dimension, as mmcv's `collate`: "imgs" becomes
 * [B, V, ...] and a one-element "label" [B, 1] (the recognizers squeeze it to [B]); a
 * multi-label [num_classes] label becomes [B, num_classes].  Every key of the first
 * sample is stacked, in its order.  The result holds fresh contiguous tensors that record
 * no autograd history.
 *
 * Errors: %MACT_DATA_ERROR_INVALID_CONFIG when @samples is empty, a sample lacks a key of
 * the first one or has extra keys, shapes of a key differ between samples, or a stacked
 * key would exceed %MACT_MAX_DIMS dimensions; the message names the key and sample.
 *
 * Returns: (transfer full) (nullable): the batch, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_dataset_collate (GPtrArray *samples, GError **error)
{
  g_return_val_if_fail (samples != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  guint n = samples->len;
  if (n == 0)
    {
      g_set_error_literal (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                           "collate: no samples to stack");
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    g_return_val_if_fail (g_ptr_array_index (samples, i) != NULL, NULL);

  MactTensorDict *first = g_ptr_array_index (samples, 0);
  guint n_keys = mact_tensor_dict_get_size (first);
  for (guint i = 1; i < n; i++)
    {
      MactTensorDict *sample = g_ptr_array_index (samples, i);
      if (mact_tensor_dict_get_size (sample) != n_keys)
        {
          g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                       "collate: sample %u has %u keys, sample 0 has %u", i,
                       mact_tensor_dict_get_size (sample), n_keys);
          return NULL;
        }
    }

  g_autoptr(MactTensorDict) batch = mact_tensor_dict_new ();
  for (guint k = 0; k < n_keys; k++)
    {
      const char *key = mact_tensor_dict_get_key (first, k);
      MactTensor *t0 = mact_tensor_dict_get_value (first, k);
      for (guint i = 1; i < n; i++)
        {
          MactTensor *t = mact_tensor_dict_lookup (g_ptr_array_index (samples, i), key);
          if (t == NULL)
            {
              g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                           "collate: key '%s' is missing from sample %u", key, i);
              return NULL;
            }
          if (!same_shape (t, t0))
            {
              g_autofree char *s0 = mact_tensor_shape_to_string (t0);
              g_autofree char *si = mact_tensor_shape_to_string (t);
              g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                           "collate: key '%s' has shape %s in sample %u but %s in sample 0",
                           key, si, i, s0);
              return NULL;
            }
        }

      gint nd;
      const gint64 *shape = mact_tensor_get_shape (t0, &nd);
      if (nd + 1 > MACT_MAX_DIMS)
        {
          g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                       "collate: key '%s' has %d dimensions; stacking adds one and tensors "
                       "have at most %d", key, nd, MACT_MAX_DIMS);
          return NULL;
        }
      gint64 out_shape[MACT_MAX_DIMS];
      out_shape[0] = n;
      memcpy (out_shape + 1, shape, (gsize) nd * sizeof (gint64));
      g_autoptr(MactTensor) out = mact_tensor_new_empty (nd + 1, out_shape, error);
      if (out == NULL)
        {
          g_prefix_error (error, "collate: key '%s': ", key);
          return NULL;
        }

      gsize per = (gsize) mact_tensor_get_numel (t0);
      float *dst = mact_tensor_get_data (out);
      for (guint i = 0; i < n; i++)
        {
          MactTensor *t = mact_tensor_dict_lookup (g_ptr_array_index (samples, i), key);
          if (per > 0)
            {
              g_autoptr(MactTensor) c = mact_tensor_contiguous (t);
              memcpy (dst + (gsize) i * per, mact_tensor_get_data (c), per * sizeof (float));
            }
        }
      mact_tensor_dict_insert (batch, key, out);
    }
  return g_steal_pointer (&batch);
}
