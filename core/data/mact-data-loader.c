/* mact-data-loader.c: MactDataLoader, torch's DistributedSampler + DataLoader over a
 * MactDataset: shuffling, sharding, batching and prefetching worker threads.
 *
 * Each epoch is one Epoch object that owns the shard's index list, one Slot per batch and
 * the worker threads.  Workers claim sample positions in order (so batch b is worked on
 * before batch b + 1, and several workers share a batch), never more than `prefetch`
 * batches ahead of the consumer; the worker that completes a batch's last sample collates
 * it.  The consumer takes batches strictly in order.  Because every sample's generator is
 * seeded from (seed, epoch, index), the batches do not depend on which worker prepared
 * what, or when.  Ending an epoch (a new epoch, finalize) sets `stop` and joins the
 * workers; each finishes at most the sample it is preparing. */
#include <mact/mact.h>

#include <string.h>

typedef struct {
  GPtrArray      *samples;    /* (element-type MactTensorDict) by position in the batch */
  guint           remaining;  /* samples not yet prepared */
  GError         *error;      /* the first failing sample's error (lowest position) */
  guint           error_pos;
  MactTensorDict *batch;      /* the collated batch, once ready without error */
  gboolean        ready;
} Slot;

typedef struct {
  GMutex       lock;
  GCond        cond;

  /* Fixed when the epoch starts; read without the lock. */
  MactDataset *dataset;
  guint64      seed;
  guint        epoch;
  guint       *indices;      /* this rank's dataset indices, n_used of them */
  guint        n_used;
  guint        batch_size;
  guint        n_batches;
  guint        prefetch;
  Slot        *slots;        /* n_batches */
  GPtrArray   *threads;      /* (element-type GThread) */

  /* Under the lock. */
  guint        next_sample;  /* the next position a worker claims */
  guint        consumed;     /* batches handed to the consumer */
  gboolean     stop;         /* workers must exit */
  gboolean     failed;       /* a sample failed: the epoch is over */
} Epoch;

/**
 * MactDataLoader:
 *
 * Iterates over a #MactDataset in batches, as a PyTorch `DataLoader` with a
 * `DistributedSampler` (one replica unless mact_data_loader_set_shard() says otherwise).
 *
 * Each epoch (mact_data_loader_start_epoch()), the indices are shuffled by a generator
 * seeded with seed + epoch (identity order when shuffle is off; the permutation is mact's
 * own Fisher-Yates shuffle, not torch's randperm), padded by repeating from the start to
 * a multiple of num-replicas (or truncated when drop-last), and rank r takes every
 * num-replicas-th index from position r.  The shard is cut into batches of batch-size,
 * the last short batch dropped when drop-last.
 *
 * num-workers threads (default 1; 0 prepares samples in the caller's thread inside
 * mact_data_loader_next()) prepare samples ahead of the consumer, never more than
 * prefetch batches ahead.  Each sample's generator is seeded with
 * mact_dataset_sample_seed (seed, epoch, index), so batches are identical whatever the
 * worker count.  Property changes take effect at the next epoch.
 *
 * Since: 0.1
 */
struct _MactDataLoader
{
  GObject      parent_instance;

  MactDataset *dataset;
  guint        batch_size;
  gboolean     shuffle;
  guint64      seed;
  guint        num_replicas;
  guint        rank;
  gboolean     drop_last;
  guint        num_workers;
  guint        prefetch;

  Epoch       *epoch;        /* the current epoch, or NULL before the first */
};

G_DEFINE_FINAL_TYPE (MactDataLoader, mact_data_loader, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_DATASET,
  PROP_BATCH_SIZE,
  PROP_SHUFFLE,
  PROP_SEED,
  PROP_NUM_REPLICAS,
  PROP_RANK,
  PROP_DROP_LAST,
  PROP_NUM_WORKERS,
  PROP_PREFETCH,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* A bound on worker threads: more only adds contention on the epoch's lock. */
#define MAX_WORKERS 64

/* ------------------------------------------------------------------ the epoch */

static void
slot_clear (Slot *slot)
{
  g_clear_pointer (&slot->samples, g_ptr_array_unref);
  g_clear_error (&slot->error);
  g_clear_pointer (&slot->batch, mact_tensor_dict_unref);
}

/* Slots hold NULL for samples not prepared yet (or failed). */
static void
sample_free (gpointer item)
{
  if (item != NULL)
    mact_tensor_dict_unref (item);
}

static guint
batch_length (Epoch *e, guint b)
{
  return MIN (e->batch_size, e->n_used - b * e->batch_size);
}

/* Stops the workers, waits for them and frees everything. */
static void
epoch_free (Epoch *e)
{
  g_mutex_lock (&e->lock);
  e->stop = TRUE;
  g_cond_broadcast (&e->cond);
  g_mutex_unlock (&e->lock);
  for (guint i = 0; i < e->threads->len; i++)
    g_thread_join (g_ptr_array_index (e->threads, i));
  g_ptr_array_unref (e->threads);

  for (guint b = 0; b < e->n_batches; b++)
    slot_clear (&e->slots[b]);
  g_free (e->slots);
  g_free (e->indices);
  g_object_unref (e->dataset);
  g_mutex_clear (&e->lock);
  g_cond_clear (&e->cond);
  g_free (e);
}

static MactTensorDict *
prepare_sample (Epoch *e, guint pos, GError **error)
{
  guint index = e->indices[pos];
  g_autoptr(MactGenerator) rng =
    mact_generator_new (mact_dataset_sample_seed (e->seed, e->epoch, index));
  MactTensorDict *item = mact_dataset_get_item (e->dataset, index, rng, error);
  if (item == NULL)
    g_prefix_error (error, "data loader: epoch %u, dataset index %u: ", e->epoch, index);
  return item;
}

/* Collates a batch whose samples are all prepared and adds the "index" tensor. */
static MactTensorDict *
collate_batch (Epoch *e, guint b, GPtrArray *samples, GError **error)
{
  g_autoptr(MactTensorDict) batch = mact_dataset_collate (samples, error);
  if (batch == NULL)
    {
      g_prefix_error (error, "data loader: epoch %u, batch %u: ", e->epoch, b);
      return NULL;
    }
  guint n = samples->len;
  const gint64 shape[] = { n };
  g_autoptr(MactTensor) index = mact_tensor_new_empty (1, shape, error);
  if (index == NULL)
    return NULL;
  float *data = mact_tensor_get_data (index);
  for (guint i = 0; i < n; i++)
    data[i] = (float) e->indices[b * e->batch_size + i];
  mact_tensor_dict_insert (batch, "index", index);
  return g_steal_pointer (&batch);
}

static gpointer
worker_main (gpointer data)
{
  Epoch *e = data;

  g_mutex_lock (&e->lock);
  for (;;)
    {
      while (!e->stop && e->next_sample < e->n_used &&
             e->next_sample / e->batch_size >= (guint64) e->consumed + e->prefetch)
        g_cond_wait (&e->cond, &e->lock);
      if (e->stop || e->next_sample >= e->n_used)
        break;
      guint pos = e->next_sample++;
      g_mutex_unlock (&e->lock);

      GError *local = NULL;
      MactTensorDict *item = prepare_sample (e, pos, &local);

      g_mutex_lock (&e->lock);
      guint b = pos / e->batch_size;
      Slot *slot = &e->slots[b];
      if (item != NULL)
        g_ptr_array_index (slot->samples, pos - b * e->batch_size) = item;
      else if (slot->error == NULL || pos < slot->error_pos)
        {
          /* Keep the lowest position's error, so which error is reported does not depend
           * on worker timing. */
          g_clear_error (&slot->error);
          slot->error = local;
          slot->error_pos = pos;
        }
      else
        g_error_free (local);

      if (--slot->remaining > 0)
        continue;

      /* This worker completed the batch, so it alone owns the slot until `ready`:
       * collate without holding the lock. */
      g_mutex_unlock (&e->lock);
      if (slot->error == NULL)
        slot->batch = collate_batch (e, b, slot->samples, &slot->error);
      g_clear_pointer (&slot->samples, g_ptr_array_unref);
      g_mutex_lock (&e->lock);
      slot->ready = TRUE;
      g_cond_broadcast (&e->cond);
    }
  g_mutex_unlock (&e->lock);
  return NULL;
}

/* ------------------------------------------------------------------ sampling */

/* Samples per replica, as torch's DistributedSampler: with drop_last the tail that would
 * need padding is dropped, else the set is padded up to a multiple of the replicas. */
static guint
samples_per_replica (MactDataLoader *self, guint length)
{
  if (self->drop_last)
    return length / self->num_replicas;
  return (guint) (((guint64) length + self->num_replicas - 1) / self->num_replicas);
}

static guint
batches_for (MactDataLoader *self, guint n_samples)
{
  if (self->drop_last)
    return n_samples / self->batch_size;
  return (guint) (((guint64) n_samples + self->batch_size - 1) / self->batch_size);
}

/* The dataset order for one epoch: Fisher-Yates with a generator seeded with
 * seed + epoch (torch seeds its sampler's generator the same way). */
static guint *
epoch_order (MactDataLoader *self, guint length, guint epoch)
{
  guint *order = g_new (guint, MAX (length, 1));
  for (guint i = 0; i < length; i++)
    order[i] = i;
  if (!self->shuffle || length < 2)
    return order;

  g_autoptr(MactGenerator) gen = mact_generator_new (self->seed + epoch);
  for (guint i = length - 1; i > 0; i--)
    {
      /* 53 random bits scaled to [0, i]: the bias is below 2^-21 for any guint range. */
      guint j = (guint) (mact_generator_next_double (gen) * ((double) i + 1.0));
      if (j > i)
        j = i;
      guint t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  return order;
}

/* ------------------------------------------------------------------ GObject */

static void
mact_data_loader_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  MactDataLoader *self = MACT_DATA_LOADER (object);
  switch (prop_id)
    {
    case PROP_DATASET:
      self->dataset = g_value_dup_object (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    case PROP_SHUFFLE:
      self->shuffle = g_value_get_boolean (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_NUM_REPLICAS:
      self->num_replicas = g_value_get_uint (value);
      break;
    case PROP_RANK:
      self->rank = g_value_get_uint (value);
      break;
    case PROP_DROP_LAST:
      self->drop_last = g_value_get_boolean (value);
      break;
    case PROP_NUM_WORKERS:
      self->num_workers = g_value_get_uint (value);
      break;
    case PROP_PREFETCH:
      self->prefetch = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_data_loader_get_property (GObject *object, guint prop_id, GValue *value,
                               GParamSpec *pspec)
{
  MactDataLoader *self = MACT_DATA_LOADER (object);
  switch (prop_id)
    {
    case PROP_DATASET:
      g_value_set_object (value, self->dataset);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    case PROP_SHUFFLE:
      g_value_set_boolean (value, self->shuffle);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_NUM_REPLICAS:
      g_value_set_uint (value, self->num_replicas);
      break;
    case PROP_RANK:
      g_value_set_uint (value, self->rank);
      break;
    case PROP_DROP_LAST:
      g_value_set_boolean (value, self->drop_last);
      break;
    case PROP_NUM_WORKERS:
      g_value_set_uint (value, self->num_workers);
      break;
    case PROP_PREFETCH:
      g_value_set_uint (value, self->prefetch);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_data_loader_dispose (GObject *object)
{
  MactDataLoader *self = MACT_DATA_LOADER (object);
  /* Workers hold no reference to the loader, only to the epoch: stop them first. */
  g_clear_pointer (&self->epoch, epoch_free);
  g_clear_object (&self->dataset);
  G_OBJECT_CLASS (mact_data_loader_parent_class)->dispose (object);
}

static void
mact_data_loader_class_init (MactDataLoaderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_data_loader_set_property;
  object_class->get_property = mact_data_loader_get_property;
  object_class->dispose = mact_data_loader_dispose;

  /**
   * MactDataLoader:dataset:
   *
   * The dataset the batches come from.
   */
  properties[PROP_DATASET] =
    g_param_spec_object ("dataset", NULL, NULL, MACT_TYPE_DATASET,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MactDataLoader:batch-size:
   *
   * Samples per batch (mmaction2's `videos_per_gpu`).
   */
  properties[PROP_BATCH_SIZE] =
    g_param_spec_uint ("batch-size", NULL, NULL, 1, G_MAXUINT, 1, rw);
  /**
   * MactDataLoader:shuffle:
   *
   * Whether each epoch's order is a fresh permutation (seeded with seed + epoch).
   */
  properties[PROP_SHUFFLE] =
    g_param_spec_boolean ("shuffle", NULL, NULL, FALSE, rw);
  /**
   * MactDataLoader:seed:
   *
   * The seed of the shuffle and of every sample's generator.
   */
  properties[PROP_SEED] =
    g_param_spec_uint64 ("seed", NULL, NULL, 0, G_MAXUINT64, 0, rw);
  /**
   * MactDataLoader:num-replicas:
   *
   * The number of processes the data is sharded over (the world size).
   */
  properties[PROP_NUM_REPLICAS] =
    g_param_spec_uint ("num-replicas", NULL, NULL, 1, G_MAXUINT, 1, rw);
  /**
   * MactDataLoader:rank:
   *
   * This process's shard, in [0, num-replicas); checked when an epoch starts.
   */
  properties[PROP_RANK] =
    g_param_spec_uint ("rank", NULL, NULL, 0, G_MAXUINT, 0, rw);
  /**
   * MactDataLoader:drop-last:
   *
   * Drop the tail instead of padding the shards, and drop the last short batch.
   */
  properties[PROP_DROP_LAST] =
    g_param_spec_boolean ("drop-last", NULL, NULL, FALSE, rw);
  /**
   * MactDataLoader:num-workers:
   *
   * Prefetch threads (mmaction2's `workers_per_gpu`); 0 prepares samples in the thread
   * that calls mact_data_loader_next().
   */
  properties[PROP_NUM_WORKERS] =
    g_param_spec_uint ("num-workers", NULL, NULL, 0, MAX_WORKERS, 1, rw);
  /**
   * MactDataLoader:prefetch:
   *
   * How many batches the workers may prepare ahead of the consumer, including the one it
   * waits for.
   */
  properties[PROP_PREFETCH] =
    g_param_spec_uint ("prefetch", NULL, NULL, 1, G_MAXUINT, 2, rw);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_data_loader_init (MactDataLoader *self)
{
  self->batch_size = 1;
  self->num_replicas = 1;
  self->num_workers = 1;
  self->prefetch = 2;
}

/* ------------------------------------------------------------------ API */

/**
 * mact_data_loader_new:
 * @dataset: the dataset to iterate over
 * @batch_size: samples per batch, at least 1
 * @shuffle: whether each epoch has its own random order
 * @seed: the seed of the shuffle and of the samples' generators
 *
 * Creates a loader with one replica, no drop-last, one worker and a prefetch of two
 * batches; change those with mact_data_loader_set_shard() and g_object_set().
 *
 * Returns: (transfer full): a new loader
 *
 * Since: 0.1
 */
MactDataLoader *
mact_data_loader_new (MactDataset *dataset, guint batch_size, gboolean shuffle,
                      guint64 seed)
{
  g_return_val_if_fail (MACT_IS_DATASET (dataset), NULL);
  g_return_val_if_fail (batch_size > 0, NULL);
  return g_object_new (MACT_TYPE_DATA_LOADER, "dataset", dataset, "batch-size", batch_size,
                       "shuffle", shuffle, "seed", seed, NULL);
}

/**
 * mact_data_loader_set_shard:
 * @self: a loader
 * @num_replicas: the number of shards (processes), at least 1
 * @rank: this process's shard; must be below @num_replicas when the next epoch starts
 *
 * Shards the data as torch's `DistributedSampler(num_replicas, rank)`.  Takes effect at
 * the next mact_data_loader_start_epoch().
 *
 * Since: 0.1
 */
void
mact_data_loader_set_shard (MactDataLoader *self, guint num_replicas, guint rank)
{
  g_return_if_fail (MACT_IS_DATA_LOADER (self));
  g_return_if_fail (num_replicas > 0);
  g_object_set (self, "num-replicas", num_replicas, "rank", rank, NULL);
}

/**
 * mact_data_loader_get_length:
 * @self: a loader
 *
 * The batches one epoch gives this rank, `len(dataloader)`, with the current properties.
 *
 * Returns: the number of batches per epoch
 *
 * Since: 0.1
 */
guint
mact_data_loader_get_length (MactDataLoader *self)
{
  g_return_val_if_fail (MACT_IS_DATA_LOADER (self), 0);
  g_return_val_if_fail (self->dataset != NULL, 0);
  guint length = mact_dataset_get_length (self->dataset);
  return batches_for (self, samples_per_replica (self, length));
}

/**
 * mact_data_loader_get_dataset:
 * @self: a loader
 *
 * Returns: (transfer none): the dataset
 *
 * Since: 0.1
 */
MactDataset *
mact_data_loader_get_dataset (MactDataLoader *self)
{
  g_return_val_if_fail (MACT_IS_DATA_LOADER (self), NULL);
  return self->dataset;
}

/**
 * mact_data_loader_start_epoch:
 * @self: a loader
 * @epoch: the epoch number (the shuffle is seeded with seed + @epoch)
 * @error: return location for a #GError, or %NULL
 *
 * Starts an epoch: computes this rank's order and batches and starts the workers.  Any
 * batches still pending from the previous epoch are discarded (its workers finish the
 * sample they are preparing and exit first).
 *
 * Errors: %MACT_DATA_ERROR_INVALID_CONFIG when rank is not below num-replicas; the
 * #GThreadError when a worker thread cannot be created.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_data_loader_start_epoch (MactDataLoader *self, guint epoch, GError **error)
{
  g_return_val_if_fail (MACT_IS_DATA_LOADER (self), FALSE);
  g_return_val_if_fail (self->dataset != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_clear_pointer (&self->epoch, epoch_free);
  if (self->rank >= self->num_replicas)
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   "data loader: rank %u must be less than num_replicas %u", self->rank,
                   self->num_replicas);
      return FALSE;
    }

  guint length = mact_dataset_get_length (self->dataset);
  guint per_replica = samples_per_replica (self, length);
  guint n_batches = batches_for (self, per_replica);

  Epoch *e = g_new0 (Epoch, 1);
  g_mutex_init (&e->lock);
  g_cond_init (&e->cond);
  e->dataset = g_object_ref (self->dataset);
  e->seed = self->seed;
  e->epoch = epoch;
  e->batch_size = self->batch_size;
  e->prefetch = self->prefetch;
  e->n_batches = n_batches;
  e->n_used = self->drop_last ? n_batches * self->batch_size : per_replica;
  e->threads = g_ptr_array_new ();

  /* Rank r takes positions r, r + R, ... of the padded order; position p >= length
   * repeats order[p - length] (order[p % length] also covers padding longer than the
   * dataset, as torch does by repeating the list). */
  g_autofree guint *order = epoch_order (self, length, epoch);
  e->indices = g_new (guint, MAX (e->n_used, 1));
  for (guint i = 0; i < e->n_used; i++)
    {
      guint64 p = self->rank + (guint64) i * self->num_replicas;
      e->indices[i] = order[p % length];
    }

  e->slots = g_new0 (Slot, MAX (n_batches, 1));
  for (guint b = 0; b < n_batches; b++)
    {
      guint n = batch_length (e, b);
      e->slots[b].remaining = n;
      e->slots[b].samples = g_ptr_array_new_full (n, sample_free);
      g_ptr_array_set_size (e->slots[b].samples, n);
    }

  guint n_threads = MIN (self->num_workers, e->n_used);
  for (guint i = 0; i < n_threads; i++)
    {
      g_autofree char *name = g_strdup_printf ("mact-data-%u", i);
      GThread *thread = g_thread_try_new (name, worker_main, e, error);
      if (thread == NULL)
        {
          g_prefix_error (error, "data loader: cannot start worker %u: ", i);
          epoch_free (e);
          return FALSE;
        }
      g_ptr_array_add (e->threads, thread);
    }
  self->epoch = e;
  return TRUE;
}

static void
wake_consumer (GCancellable *cancellable, gpointer data)
{
  Epoch *e = data;
  g_mutex_lock (&e->lock);
  g_cond_broadcast (&e->cond);
  g_mutex_unlock (&e->lock);
}

static gboolean
check_cancelled (GCancellable *cancellable, Epoch *e, GError **error)
{
  if (cancellable == NULL || !g_cancellable_is_cancelled (cancellable))
    return FALSE;
  g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_CANCELLED,
               "data loader: epoch %u, batch %u: cancelled", e->epoch, e->consumed);
  return TRUE;
}

/* num-workers 0: prepares batch `consumed` here.  A cancelled call discards its partial
 * work; the next call prepares the same batch again (samples are deterministic). */
static MactTensorDict *
next_in_caller (Epoch *e, GCancellable *cancellable, GError **error)
{
  guint b = e->consumed;
  guint n = batch_length (e, b);
  g_autoptr(GPtrArray) samples = g_ptr_array_new_full (n, (GDestroyNotify) mact_tensor_dict_unref);
  for (guint i = 0; i < n; i++)
    {
      if (check_cancelled (cancellable, e, error))
        return NULL;
      MactTensorDict *item = prepare_sample (e, b * e->batch_size + i, error);
      if (item == NULL)
        {
          e->failed = TRUE;
          return NULL;
        }
      g_ptr_array_add (samples, item);
    }
  MactTensorDict *batch = collate_batch (e, b, samples, error);
  if (batch == NULL)
    e->failed = TRUE;
  else
    e->consumed++;
  return batch;
}

/**
 * mact_data_loader_next:
 * @self: a loader
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * The next batch of the current epoch: mact_dataset_collate() of its samples plus an
 * "index" tensor [B] of their dataset indices (as floats, exact below 2^24).  Waits for
 * the workers when the batch is not ready yet.
 *
 * At the end of the epoch this returns %NULL without an error.  A failing sample ends
 * the epoch: the call that reaches its batch returns the sample's error (prefixed with
 * the epoch and dataset index), and later calls return %NULL without an error.
 * Cancelling @cancellable makes a waiting call return; the epoch is not affected and the
 * next call continues with the same batch.
 *
 * Errors: %MACT_DATA_ERROR_CANCELLED when @cancellable is (or gets) cancelled;
 * %MACT_DATA_ERROR_INVALID_CONFIG when no epoch was started; a failing sample's error.
 *
 * Returns: (transfer full) (nullable): the batch, or %NULL at the end of the epoch or on
 *   error
 *
 * Since: 0.1
 */
MactTensorDict *
mact_data_loader_next (MactDataLoader *self, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (MACT_IS_DATA_LOADER (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  Epoch *e = self->epoch;
  if (e == NULL)
    {
      g_set_error_literal (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                           "data loader: no epoch was started "
                           "(call mact_data_loader_start_epoch() first)");
      return NULL;
    }

  if (e->threads->len == 0)
    {
      if (e->failed || e->consumed >= e->n_batches)
        return NULL;
      return next_in_caller (e, cancellable, error);
    }

  /* Connect before taking the lock: the handler takes it, and g_cancellable_connect()
   * runs it at once when already cancelled. */
  gulong handler = cancellable ? g_cancellable_connect (cancellable, G_CALLBACK (wake_consumer),
                                                        e, NULL)
                               : 0;
  MactTensorDict *batch = NULL;
  g_mutex_lock (&e->lock);
  if (!e->failed && e->consumed < e->n_batches)
    {
      Slot *slot = &e->slots[e->consumed];
      /* Cancellation is checked first, as GIO calls do, even when the batch is ready. */
      while (!check_cancelled (cancellable, e, error))
        {
          if (!slot->ready)
            {
              g_cond_wait (&e->cond, &e->lock);
              continue;
            }
          batch = g_steal_pointer (&slot->batch);
          if (batch == NULL)
            {
              g_propagate_error (error, g_steal_pointer (&slot->error));
              e->failed = TRUE;
              e->stop = TRUE;
            }
          e->consumed++;
          g_cond_broadcast (&e->cond);
          break;
        }
    }
  g_mutex_unlock (&e->lock);
  /* Not under the lock: disconnecting waits for a handler running in another thread. */
  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  return batch;
}
