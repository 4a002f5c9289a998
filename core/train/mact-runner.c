/* mact-runner.c: mmcv's EpochBasedRunner with the hooks an mmaction2 config switches on.
 *
 * One iteration is exactly mmaction2's split of responsibilities: the recognizer's
 * train_step computes the loss and log_vars; the runner (mmcv's OptimizerHook) zeroes the
 * gradients, runs backward, clips, and steps the optimizer.  Around it sit the LR updater
 * (before each epoch and iteration), the logger (every log_config.interval iterations,
 * averaged log_vars to the "log" signal and a JSON-lines file), the checkpoint hook (every
 * checkpoint_config.interval epochs) and the evaluation hook (top-k and mean class
 * accuracy on data.val every evaluation.interval epochs, keeping the best checkpoint).
 *
 * Determinism: the model is initialised right after seeding the default generator with
 * the config's seed, and each epoch reseeds dropout and blending from (seed, epoch) while
 * the loader seeds each sample from (seed, epoch, index).  So an epoch depends on the
 * weights and optimizer state it starts from and nothing else, and resuming from an
 * epoch checkpoint reproduces the uninterrupted run exactly. */
#include <mact/mact.h>

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

struct _MactRunner
{
  GObject          parent_instance;

  JsonNode        *config;
  MactRecognizer  *model;
  MactOptimizer   *optimizer;
  MactLrSchedule  *schedule;
  MactDataset     *train_set;
  MactDataset     *val_set;

  char            *work_dir;
  char            *log_path;
  guint64          seed;
  gboolean         validate;

  guint            total_epochs;
  guint            batch_size;
  guint            val_batch_size;
  guint            num_workers;
  gboolean         grad_clip;
  double           clip_max_norm;
  double           clip_norm_type;
  guint            checkpoint_interval;
  gint             max_keep_ckpts;
  guint            eval_interval;
  char            *save_best;       /* metric name, or NULL */
  guint            log_interval;
  char            *load_from;
  char            *resume_from;

  /* Position: epochs completed and iterations run. */
  guint            epoch;
  guint64          iter;
  double           best_score;
  char            *best_ckpt;       /* base name of the best checkpoint, or NULL */
  GQueue           kept_ckpts;      /* base names of epoch checkpoints, oldest first */

  guint            rank;
  guint            world_size;
  MactRunnerAllReduce all_reduce;
  gpointer         all_reduce_data;
  MactRunnerAllReduceStart all_reduce_start;   /* optional: overlap with backward */
  MactRunnerAllReduceWait  all_reduce_wait;
  GDestroyNotify   free_request;
  double           bucket_cap_mb;
  struct _GradBuckets *buckets;     /* built at the first distributed backward */

  FILE            *log_file;

  /* While mact_runner_train_async() runs: where ::log and ::progress go (the caller's
   * thread-default main context), instead of the training thread. */
  GMainContext    *signal_context;
};

enum {
  PROP_0,
  PROP_WORK_DIR,
  PROP_SEED,
  PROP_VALIDATE,
  PROP_BUCKET_CAP_MB,
  N_PROPS
};

enum {
  SIGNAL_LOG,
  SIGNAL_PROGRESS,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MactRunner, mact_runner, G_TYPE_OBJECT)

static void grad_buckets_free (struct _GradBuckets *gb);

static void
mact_runner_finalize (GObject *object)
{
  MactRunner *self = MACT_RUNNER (object);

  g_clear_pointer (&self->config, json_node_unref);
  g_clear_object (&self->model);
  g_clear_object (&self->optimizer);
  g_clear_object (&self->schedule);
  g_clear_object (&self->train_set);
  g_clear_object (&self->val_set);
  g_free (self->work_dir);
  g_free (self->log_path);
  g_free (self->save_best);
  g_free (self->load_from);
  g_free (self->resume_from);
  g_free (self->best_ckpt);
  g_queue_clear_full (&self->kept_ckpts, g_free);
  g_clear_pointer (&self->buckets, grad_buckets_free);
  if (self->log_file != NULL)
    fclose (self->log_file);

  G_OBJECT_CLASS (mact_runner_parent_class)->finalize (object);
}

static void
mact_runner_set_property (GObject *object, guint prop_id, const GValue *value,
                          GParamSpec *pspec)
{
  MactRunner *self = MACT_RUNNER (object);

  switch (prop_id)
    {
    case PROP_WORK_DIR:
      g_free (self->work_dir);
      self->work_dir = g_value_dup_string (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_VALIDATE:
      self->validate = g_value_get_boolean (value);
      break;
    case PROP_BUCKET_CAP_MB:
      self->bucket_cap_mb = g_value_get_double (value);
      g_clear_pointer (&self->buckets, grad_buckets_free);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_runner_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactRunner *self = MACT_RUNNER (object);

  switch (prop_id)
    {
    case PROP_WORK_DIR:
      g_value_set_string (value, self->work_dir);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_VALIDATE:
      g_value_set_boolean (value, self->validate);
      break;
    case PROP_BUCKET_CAP_MB:
      g_value_set_double (value, self->bucket_cap_mb);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_runner_class_init (MactRunnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mact_runner_finalize;
  object_class->set_property = mact_runner_set_property;
  object_class->get_property = mact_runner_get_property;

  /**
   * MactRunner:work-dir:
   *
   * Where checkpoints and the JSON-lines log go; overrides the config's `work_dir`.
   *
   * Since: 0.1
   */
  properties[PROP_WORK_DIR] =
    g_param_spec_string ("work-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MactRunner:seed:
   *
   * The seed of all randomness in training (read from the config's `seed` when built).
   *
   * Since: 0.1
   */
  properties[PROP_SEED] =
    g_param_spec_uint64 ("seed", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MactRunner:validate:
   *
   * Whether to evaluate on `data.val` during training, as mmaction2's `--validate`.
   *
   * Since: 0.1
   */
  properties[PROP_VALIDATE] =
    g_param_spec_boolean ("validate", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MactRunner:bucket-cap-mb:
   *
   * In distributed training, gradients are averaged in buckets of about this many
   * megabytes (MiB), in reverse parameter order, as PyTorch DDP's `bucket_cap_mb`: each
   * bucket's all-reduce starts as soon as backward has finished all of its gradients.
   *
   * Since: 0.1
   */
  properties[PROP_BUCKET_CAP_MB] =
    g_param_spec_double ("bucket-cap-mb", NULL, NULL, 1e-6, 1e6, 25.0,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MactRunner::log:
   * @runner: the runner
   * @entry: (type Json.Object): the log entry, with mmcv's keys ("mode", "epoch", "iter",
   *   "lr", "time", "data_time", "eta", the averaged log_vars...)
   *
   * Emitted for each logged training interval and each validation, on every rank.
   *
   * Since: 0.1
   */
  signals[SIGNAL_LOG] =
    g_signal_new ("log", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, JSON_TYPE_OBJECT);

  /**
   * MactRunner::progress:
   * @runner: the runner
   * @iter: training iterations done, counted over the whole run (a resumed run starts
   *   where its checkpoint left off)
   * @max_iters: iterations of all epochs
   *
   * Emitted after each training iteration, on every rank, so a user interface can show
   * a progress bar (@iter / @max_iters).  With mact_runner_train_async() it is emitted in
   * the caller's thread-default main context, as #MactRunner::log is.
   *
   * Since: 0.1
   */
  signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);
}

static void
mact_runner_init (MactRunner *self)
{
  self->world_size = 1;
  self->bucket_cap_mb = 25.0;
  self->best_score = -INFINITY;
  g_queue_init (&self->kept_ckpts);
}

/* ------------------------------------------------------------------ config reading */

static gboolean
bad_config (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
bad_config (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG, msg);
  return FALSE;
}

/* @obj's member @key as an object; absent or null gives NULL without error. */
static gboolean
get_object (JsonObject *obj, const char *where, const char *key, JsonObject **out,
            GError **error)
{
  *out = NULL;
  JsonNode *node = obj ? json_object_get_member (obj, key) : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return bad_config (error, "config key '%s%s' must be a dict", where, key);
  *out = json_node_get_object (node);
  return TRUE;
}

static gboolean
get_uint (JsonObject *obj, const char *where, const char *key, guint min, guint fallback,
          guint *out, GError **error)
{
  JsonNode *node = obj ? json_object_get_member (obj, key) : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *out = fallback;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return bad_config (error, "config key '%s%s' must be an integer", where, key);
  gint64 v = json_node_get_int (node);
  if (v < (gint64) min || v > G_MAXINT32)
    return bad_config (error, "config key '%s%s' is %" G_GINT64_FORMAT
                       ", must be in [%u, %d]", where, key, v, min, G_MAXINT32);
  *out = (guint) v;
  return TRUE;
}

static gboolean
get_double (JsonObject *obj, const char *where, const char *key, double fallback,
            double *out, GError **error)
{
  JsonNode *node = obj ? json_object_get_member (obj, key) : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *out = fallback;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      (json_node_get_value_type (node) != G_TYPE_INT64 &&
       json_node_get_value_type (node) != G_TYPE_DOUBLE))
    return bad_config (error, "config key '%s%s' must be a number", where, key);
  *out = json_node_get_double (node);
  if (!isfinite (*out))
    return bad_config (error, "config key '%s%s' must be finite", where, key);
  return TRUE;
}

static gboolean
get_string (JsonObject *obj, const char *where, const char *key, char **out, GError **error)
{
  *out = NULL;
  JsonNode *node = obj ? json_object_get_member (obj, key) : NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return bad_config (error, "config key '%s%s' must be a string", where, key);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
read_config (MactRunner *self, JsonObject *root, GError **error)
{
  JsonObject *data = NULL, *opt_cfg = NULL, *clip = NULL, *ckpt = NULL, *eval = NULL,
             *log = NULL, *val_loader = NULL;

  if (!get_uint (root, "", "total_epochs", 1, 0, &self->total_epochs, error))
    return FALSE;
  if (self->total_epochs == 0)
    return bad_config (error, "config key 'total_epochs' is missing");

  JsonNode *seed = json_object_get_member (root, "seed");
  if (seed != NULL && !JSON_NODE_HOLDS_NULL (seed))
    {
      if (!JSON_NODE_HOLDS_VALUE (seed) || json_node_get_value_type (seed) != G_TYPE_INT64 ||
          json_node_get_int (seed) < 0)
        return bad_config (error, "config key 'seed' must be a non-negative integer");
      self->seed = (guint64) json_node_get_int (seed);
    }

  if (!get_object (root, "", "data", &data, error))
    return FALSE;
  if (data == NULL)
    return bad_config (error, "config key 'data' is missing");
  if (!get_uint (data, "data.", "videos_per_gpu", 1, 0, &self->batch_size, error))
    return FALSE;
  if (self->batch_size == 0)
    return bad_config (error, "config key 'data.videos_per_gpu' is missing");
  if (!get_uint (data, "data.", "workers_per_gpu", 0, 1, &self->num_workers, error))
    return FALSE;
  if (!get_object (data, "data.", "val_dataloader", &val_loader, error) ||
      !get_uint (val_loader, "data.val_dataloader.", "videos_per_gpu", 1, self->batch_size,
                 &self->val_batch_size, error))
    return FALSE;

  if (!get_object (root, "", "optimizer_config", &opt_cfg, error) ||
      !get_object (opt_cfg, "optimizer_config.", "grad_clip", &clip, error))
    return FALSE;
  if (clip != NULL)
    {
      self->grad_clip = TRUE;
      if (!get_double (clip, "optimizer_config.grad_clip.", "max_norm", NAN,
                       &self->clip_max_norm, error) ||
          !get_double (clip, "optimizer_config.grad_clip.", "norm_type", 2.0,
                       &self->clip_norm_type, error))
        return FALSE;
      if (isnan (self->clip_max_norm) || self->clip_max_norm <= 0)
        return bad_config (error, "config key 'optimizer_config.grad_clip.max_norm' must be "
                           "a positive number");
      if (self->clip_norm_type < 1.0)
        return bad_config (error, "config key 'optimizer_config.grad_clip.norm_type' must "
                           "be >= 1");
    }

  if (!get_object (root, "", "checkpoint_config", &ckpt, error) ||
      !get_uint (ckpt, "checkpoint_config.", "interval", 1, 1, &self->checkpoint_interval,
                 error))
    return FALSE;
  self->max_keep_ckpts = -1;
  if (ckpt != NULL && json_object_has_member (ckpt, "max_keep_ckpts"))
    {
      guint keep = 0;
      if (!get_uint (ckpt, "checkpoint_config.", "max_keep_ckpts", 1, 1, &keep, error))
        return FALSE;
      self->max_keep_ckpts = (gint) keep;
    }

  if (!get_object (root, "", "evaluation", &eval, error) ||
      !get_uint (eval, "evaluation.", "interval", 1, 1, &self->eval_interval, error))
    return FALSE;
  g_autofree char *save_best = NULL;
  if (!get_string (eval, "evaluation.", "save_best", &save_best, error))
    return FALSE;
  if (save_best != NULL)
    {
      if (g_str_equal (save_best, "auto"))
        self->save_best = g_strdup ("top1_acc");
      else if (g_str_equal (save_best, "top1_acc") || g_str_equal (save_best, "top5_acc") ||
               g_str_equal (save_best, "mean_class_accuracy"))
        self->save_best = g_steal_pointer (&save_best);
      else
        return bad_config (error, "config key 'evaluation.save_best' is '%s'; known: auto, "
                           "top1_acc, top5_acc, mean_class_accuracy", save_best);
    }

  if (!get_object (root, "", "log_config", &log, error) ||
      !get_uint (log, "log_config.", "interval", 1, 10, &self->log_interval, error))
    return FALSE;

  g_autofree char *work_dir = NULL;
  if (!get_string (root, "", "work_dir", &work_dir, error) ||
      !get_string (root, "", "load_from", &self->load_from, error) ||
      !get_string (root, "", "resume_from", &self->resume_from, error))
    return FALSE;
  if (work_dir != NULL)
    {
      g_free (self->work_dir);
      self->work_dir = g_steal_pointer (&work_dir);
    }
  return TRUE;
}

/**
 * mact_runner_new:
 * @config: a whole mmaction2-style config: `model`, `data` (`videos_per_gpu`,
 *   `workers_per_gpu`, `train`, `val`, `val_dataloader`), `optimizer`, `optimizer_config`,
 *   `lr_config`, `total_epochs`, `checkpoint_config`, `evaluation`, `log_config`,
 *   `work_dir`, `load_from`, `resume_from`, `seed`
 * @error: return location for a #GError
 *
 * Seeds the default generator with the config's seed, builds the recognizer, its
 * optimizer, LR schedule and the datasets.  Weights from `load_from` / `resume_from` are
 * loaded when training starts.  The config is not modified.
 *
 * Returns: (transfer full): the runner, or %NULL with @error set
 *
 * Since: 0.1
 */
MactRunner *
mact_runner_new (JsonNode  *config,
                 GError   **error)
{
  g_return_val_if_fail (config != NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (config))
    {
      bad_config (error, "a training config must be a dict");
      return NULL;
    }

  g_autoptr(MactRunner) self = g_object_new (MACT_TYPE_RUNNER, NULL);
  self->config = mact_config_copy (config);
  JsonObject *root = json_node_get_object (self->config);

  if (!read_config (self, root, error))
    return NULL;

  mact_manual_seed (self->seed);
  self->model = mact_recognizer_new_from_json (self->config, NULL, error);
  if (self->model == NULL)
    return NULL;

  JsonNode *opt = json_object_get_member (root, "optimizer");
  if (opt == NULL || JSON_NODE_HOLDS_NULL (opt))
    {
      bad_config (error, "config key 'optimizer' is missing");
      return NULL;
    }
  self->optimizer = mact_optimizer_new_from_config (MACT_MODULE (self->model), opt, error);
  if (self->optimizer == NULL)
    return NULL;

  JsonNode *lr = json_object_get_member (root, "lr_config");
  g_autoptr(JsonNode) fixed = NULL;
  if (lr == NULL || JSON_NODE_HOLDS_NULL (lr))
    {
      fixed = json_from_string ("{\"policy\": \"fixed\"}", NULL);
      lr = fixed;
    }
  self->schedule = mact_lr_schedule_new_from_config (lr, error);
  if (self->schedule == NULL)
    return NULL;

  JsonObject *data = json_object_get_object_member (root, "data");
  JsonNode *train = json_object_get_member (data, "train");
  if (train == NULL || JSON_NODE_HOLDS_NULL (train))
    {
      bad_config (error, "config key 'data.train' is missing");
      return NULL;
    }
  self->train_set = mact_dataset_new_from_config (train, error);
  if (self->train_set == NULL)
    {
      g_prefix_error (error, "data.train: ");
      return NULL;
    }
  JsonNode *val = json_object_get_member (data, "val");
  if (val != NULL && !JSON_NODE_HOLDS_NULL (val))
    {
      self->val_set = mact_dataset_new_from_config (val, error);
      if (self->val_set == NULL)
        {
          g_prefix_error (error, "data.val: ");
          return NULL;
        }
    }

  return g_steal_pointer (&self);
}

/* ------------------------------------------------------------------ accessors */

/**
 * mact_runner_get_model:
 * @self: a #MactRunner
 *
 * Returns: (transfer none): the recognizer being trained
 *
 * Since: 0.1
 */
MactRecognizer *
mact_runner_get_model (MactRunner *self)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), NULL);
  return self->model;
}

/**
 * mact_runner_get_optimizer:
 * @self: a #MactRunner
 *
 * Returns: (transfer none): the optimizer
 *
 * Since: 0.1
 */
MactOptimizer *
mact_runner_get_optimizer (MactRunner *self)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), NULL);
  return self->optimizer;
}

/**
 * mact_runner_get_work_dir:
 * @self: a #MactRunner
 *
 * Returns: (nullable): the work directory
 *
 * Since: 0.1
 */
const char *
mact_runner_get_work_dir (MactRunner *self)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), NULL);
  return self->work_dir;
}

/**
 * mact_runner_get_log_path:
 * @self: a #MactRunner
 *
 * Returns: (nullable): the JSON-lines log of the current or last training run
 *
 * Since: 0.1
 */
const char *
mact_runner_get_log_path (MactRunner *self)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), NULL);
  return self->log_path;
}

/**
 * mact_runner_get_epoch:
 * @self: a #MactRunner
 *
 * Returns: the number of completed epochs
 *
 * Since: 0.1
 */
guint
mact_runner_get_epoch (MactRunner *self)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), 0);
  return self->epoch;
}

/**
 * mact_runner_get_iter:
 * @self: a #MactRunner
 *
 * Returns: the number of completed training iterations
 *
 * Since: 0.1
 */
guint64
mact_runner_get_iter (MactRunner *self)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), 0);
  return self->iter;
}

/**
 * mact_runner_set_distributed: (skip)
 * @self: a #MactRunner
 * @rank: this process's rank
 * @world_size: the number of processes
 * @all_reduce: (scope notified) (closure user_data): sums float arrays over all ranks
 * @user_data: data for @all_reduce
 *
 * Makes the runner one rank of a data-parallel job.  Call before mact_runner_train().
 * Not introspectable: @all_reduce sums a float buffer in place, which bindings cannot
 * express (a binding's distributed job goes through mact_distributed_attach_runner()).
 *
 * Since: 0.1
 */
void
mact_runner_set_distributed (MactRunner          *self,
                             guint                rank,
                             guint                world_size,
                             MactRunnerAllReduce  all_reduce,
                             gpointer             user_data)
{
  g_return_if_fail (MACT_IS_RUNNER (self));
  g_return_if_fail (world_size >= 1 && rank < world_size);
  g_return_if_fail (world_size == 1 || all_reduce != NULL);

  self->rank = rank;
  self->world_size = world_size;
  self->all_reduce = all_reduce;
  self->all_reduce_data = user_data;
}

/**
 * mact_runner_set_async_all_reduce: (skip)
 * @self: a #MactRunner
 * @start: (nullable) (scope notified): starts a non-blocking sum over all ranks
 * @wait: (nullable) (scope notified): progresses or completes a request of @start
 * @free_request: (nullable): frees a request, complete or not
 *
 * Lets the gradient averaging overlap backward (set mact_runner_set_distributed() too;
 * both callbacks get its user data).  The optimised parameters are split, last first,
 * into buckets of about #MactRunner:bucket-cap-mb; backward reports each parameter whose
 * gradient is final (mact_tensor_backward_full()), and a bucket's sum is started as soon
 * as all its parameters are, while backward goes on through earlier layers.  Buckets
 * start in the same order on every rank, as collectives must.  Before the optimizer step
 * the runner waits for all of them.  %NULL callbacks go back to blocking sums after
 * backward.  Not introspectable, like mact_runner_set_distributed(): the requests write
 * into the runner's buffers after the callbacks return.
 *
 * Since: 0.1
 */
void
mact_runner_set_async_all_reduce (MactRunner               *self,
                                  MactRunnerAllReduceStart  start,
                                  MactRunnerAllReduceWait   wait,
                                  GDestroyNotify            free_request)
{
  g_return_if_fail (MACT_IS_RUNNER (self));
  g_return_if_fail ((start == NULL) == (wait == NULL));

  g_clear_pointer (&self->buckets, grad_buckets_free);
  self->all_reduce_start = start;
  self->all_reduce_wait = wait;
  self->free_request = free_request;
}

/* ------------------------------------------------------------------ metrics */

/**
 * mact_evaluate_scores:
 * @scores: [N, K] class scores
 * @labels: [N] or [N, 1] class indices (as floats)
 * @error: return location for a #GError
 *
 * The metrics of mmaction2's `top_k_accuracy` (k = 1 and 5, the latter only when K >= 5) and
 * `mean_class_accuracy`: the mean over the classes that occur among labels or predictions
 * of each class's recall (a class only ever predicted counts as 0).
 *
 * Returns: (transfer full): an object with "top1_acc", "top5_acc",
 *   "mean_class_accuracy", or %NULL with a %MACT_TENSOR_ERROR_SHAPE error
 *
 * Since: 0.1
 */
JsonObject *
mact_evaluate_scores (MactTensor  *scores,
                      MactTensor  *labels,
                      GError     **error)
{
  g_return_val_if_fail (scores != NULL && labels != NULL, NULL);

  gint64 n = 0, k = 0;
  if (mact_tensor_get_ndim (scores) == 2)
    {
      n = mact_tensor_get_shape (scores, NULL)[0];
      k = mact_tensor_get_shape (scores, NULL)[1];
    }
  if (n <= 0 || k <= 0 || mact_tensor_get_numel (labels) != n)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "evaluation needs scores [N, K] and N labels; got %d-D scores and %"
                   G_GINT64_FORMAT " labels", mact_tensor_get_ndim (scores),
                   mact_tensor_get_numel (labels));
      return NULL;
    }

  g_autoptr(MactTensor) s = mact_tensor_contiguous (scores);
  g_autoptr(MactTensor) l = mact_tensor_contiguous (labels);
  const float *sd = mact_tensor_get_data (s);
  const float *ld = mact_tensor_get_data (l);

  g_autofree gint64 *hits = g_new0 (gint64, k);
  g_autofree gint64 *count = g_new0 (gint64, k);
  g_autofree gboolean *seen = g_new0 (gboolean, k);
  gint64 top1 = 0, top5 = 0;
  for (gint64 i = 0; i < n; i++)
    {
      const float *row = sd + i * k;
      const gint64 label = (gint64) ld[i];
      if (label < 0 || label >= k || (float) label != ld[i])
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "evaluation: label %g of sample %" G_GINT64_FORMAT " is not a class "
                       "index in [0, %" G_GINT64_FORMAT ")", ld[i], i, k);
          return NULL;
        }
      /* Rank of the true class: how many scores beat it (ties go to the lower index,
       * as a stable descending sort does). */
      gint64 better = 0, argmax = 0;
      for (gint64 j = 0; j < k; j++)
        {
          if (row[j] > row[label] || (row[j] == row[label] && j < label))
            better++;
          if (row[j] > row[argmax])
            argmax = j;
        }
      top1 += better < 1;
      top5 += better < 5;
      count[label]++;
      seen[label] = TRUE;
      seen[argmax] = TRUE;
      hits[label] += argmax == label;
    }

  double mean_class = 0;
  gint64 n_classes = 0;
  for (gint64 c = 0; c < k; c++)
    if (seen[c])
      {
        mean_class += count[c] > 0 ? (double) hits[c] / (double) count[c] : 0.0;
        n_classes++;
      }

  JsonObject *out = json_object_new ();
  json_object_set_double_member (out, "top1_acc", (double) top1 / (double) n);
  if (k >= 5)
    json_object_set_double_member (out, "top5_acc", (double) top5 / (double) n);
  json_object_set_double_member (out, "mean_class_accuracy", mean_class / (double) n_classes);
  return out;
}

/* ------------------------------------------------------------------ distributed glue */

static gboolean
all_reduce_mean (MactRunner *self, float *values, gsize n, GError **error)
{
  if (self->world_size == 1)
    return TRUE;
  if (!self->all_reduce (values, n, self->all_reduce_data, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    values[i] /= (float) self->world_size;
  return TRUE;
}

static gboolean
reduce_log_vars (MactTensorDict *log_vars, gpointer user_data, GError **error)
{
  MactRunner *self = user_data;
  const guint n = mact_tensor_dict_get_size (log_vars);
  g_autofree float *values = g_new (float, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    values[i] = mact_tensor_item (mact_tensor_dict_get_value (log_vars, i));
  if (!all_reduce_mean (self, values, n, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    mact_tensor_dict_insert_float (log_vars, mact_tensor_dict_get_key (log_vars, i),
                                   values[i]);
  return TRUE;
}

/* Gradient averaging in buckets, as PyTorch DDP's Reducer.
 *
 * The optimised parameters, last first (backward finishes the last layers first), are cut
 * into buckets of about bucket-cap-mb.  A bucket's buffer holds its gradients followed by
 * one presence flag per parameter, so that a parameter no rank computed a gradient for
 * keeps a NULL grad (and the optimizer skips it, as in one process), while one that only
 * some ranks reached averages with zeros.  With the asynchronous callbacks, backward's
 * ready hook counts down each bucket, and buckets start in index order, the same on every
 * rank, as soon as they are complete; each later hook call also gives the requests in
 * flight a chance to progress (MPI makes progress only inside MPI calls). */
typedef struct {
  guint     first;       /* into GradBuckets.params */
  guint     n_params;
  gsize     numel;       /* gradient elements; n_params flags follow */
  float    *buf;
  guint     pending;     /* parameters whose gradient is not final yet */
  gpointer  request;
  gboolean  done;
} GradBucket;

typedef struct _GradBuckets {
  MactRunner *runner;
  GPtrArray  *params;      /* the optimizer's parameters, last first */
  GHashTable *position;    /* parameter -> index + 1 */
  gboolean   *ready;
  guint      *bucket_of;
  GArray     *buckets;     /* GradBucket */
  guint       next_start;  /* the next bucket to start */
} GradBuckets;

static void
grad_buckets_drop_requests (GradBuckets *gb)
{
  for (guint b = 0; b < gb->buckets->len; b++)
    {
      GradBucket *bk = &g_array_index (gb->buckets, GradBucket, b);
      if (bk->request != NULL && gb->runner->free_request != NULL)
        gb->runner->free_request (bk->request);
      bk->request = NULL;
    }
}

static void
grad_buckets_free (GradBuckets *gb)
{
  if (gb == NULL)
    return;
  grad_buckets_drop_requests (gb);
  for (guint b = 0; b < gb->buckets->len; b++)
    g_free (g_array_index (gb->buckets, GradBucket, b).buf);
  g_array_unref (gb->buckets);
  g_ptr_array_unref (gb->params);
  g_hash_table_unref (gb->position);
  g_free (gb->ready);
  g_free (gb->bucket_of);
  g_free (gb);
}

static GradBuckets *
grad_buckets_new (MactRunner *self)
{
  GradBuckets *gb = g_new0 (GradBuckets, 1);
  gb->runner = self;
  g_autoptr(GPtrArray) forward = mact_optimizer_get_params (self->optimizer);
  gb->params = g_ptr_array_new_full (forward->len, (GDestroyNotify) mact_tensor_unref);
  gb->position = g_hash_table_new (NULL, NULL);
  for (guint i = forward->len; i-- > 0;)
    {
      g_ptr_array_add (gb->params, mact_tensor_ref (forward->pdata[i]));
      g_hash_table_insert (gb->position, forward->pdata[i],
                           GUINT_TO_POINTER (gb->params->len));
    }
  gb->ready = g_new0 (gboolean, MAX (gb->params->len, 1));
  gb->bucket_of = g_new0 (guint, MAX (gb->params->len, 1));
  gb->buckets = g_array_new (FALSE, TRUE, sizeof (GradBucket));

  const double cap = MAX (1.0, self->bucket_cap_mb * 1024.0 * 1024.0 / sizeof (float));
  GradBucket cur = { 0 };
  for (guint i = 0; i < gb->params->len; i++)
    {
      gb->bucket_of[i] = gb->buckets->len;
      cur.n_params++;
      cur.numel += (gsize) mact_tensor_get_numel (gb->params->pdata[i]);
      if ((double) cur.numel >= cap || i + 1 == gb->params->len)
        {
          cur.buf = g_new0 (float, cur.numel + cur.n_params);
          g_array_append_val (gb->buckets, cur);
          cur = (GradBucket) { .first = i + 1 };
        }
    }
  return gb;
}

static void
grad_buckets_reset (GradBuckets *gb)
{
  grad_buckets_drop_requests (gb);
  memset (gb->ready, 0, sizeof (gboolean) * MAX (gb->params->len, 1));
  for (guint b = 0; b < gb->buckets->len; b++)
    {
      GradBucket *bk = &g_array_index (gb->buckets, GradBucket, b);
      bk->pending = bk->n_params;
      bk->done = FALSE;
    }
  gb->next_start = 0;
}

/* Copies the bucket's final gradients (zeros and flag 0 where there is none) in. */
static void
grad_bucket_fill (GradBuckets *gb, GradBucket *bk)
{
  gsize off = 0;
  for (guint j = 0; j < bk->n_params; j++)
    {
      MactTensor *p = gb->params->pdata[bk->first + j];
      const gsize numel = (gsize) mact_tensor_get_numel (p);
      MactTensor *grad = mact_tensor_get_grad (p);
      if (grad != NULL)
        {
          g_autoptr(MactTensor) g = mact_tensor_contiguous (grad);
          memcpy (bk->buf + off, mact_tensor_get_data (g), numel * sizeof (float));
        }
      else
        memset (bk->buf + off, 0, numel * sizeof (float));
      bk->buf[bk->numel + j] = grad != NULL ? 1.0f : 0.0f;
      off += numel;
    }
}

/* Starts, in order, every complete bucket not started yet, then lets the requests in
 * flight progress. */
static gboolean
grad_buckets_advance (GradBuckets *gb, GError **error)
{
  MactRunner *self = gb->runner;
  while (gb->next_start < gb->buckets->len)
    {
      GradBucket *bk = &g_array_index (gb->buckets, GradBucket, gb->next_start);
      if (bk->pending > 0)
        break;
      grad_bucket_fill (gb, bk);
      bk->request = self->all_reduce_start (bk->buf, bk->numel + bk->n_params,
                                            self->all_reduce_data, error);
      if (bk->request == NULL)
        return FALSE;
      gb->next_start++;
    }
  /* Testing the oldest request in flight is enough: MPI progresses all of them in any
   * test, and a test is not free. */
  for (guint b = 0; b < gb->next_start; b++)
    {
      GradBucket *bk = &g_array_index (gb->buckets, GradBucket, b);
      if (!bk->done)
        return self->all_reduce_wait (bk->request, FALSE, &bk->done, self->all_reduce_data,
                                      error);
    }
  return TRUE;
}

static gboolean
on_grad_ready (MactTensor *leaf, gpointer user_data, GError **error)
{
  GradBuckets *gb = user_data;
  guint pos = GPOINTER_TO_UINT (g_hash_table_lookup (gb->position, leaf));
  if (pos == 0 || gb->ready[pos - 1])
    return TRUE;   /* not an optimised parameter (e.g. an input that requires grad) */
  gb->ready[pos - 1] = TRUE;
  g_array_index (gb->buckets, GradBucket, gb->bucket_of[pos - 1]).pending--;
  return grad_buckets_advance (gb, error);
}

/* Writes the averaged bucket back into its parameters' grads. */
static gboolean
grad_bucket_store (GradBuckets *gb, GradBucket *bk, GError **error)
{
  const float world = (float) gb->runner->world_size;
  gsize off = 0;
  for (guint j = 0; j < bk->n_params; j++)
    {
      MactTensor *p = gb->params->pdata[bk->first + j];
      const gsize numel = (gsize) mact_tensor_get_numel (p);
      if (bk->buf[bk->numel + j] == 0.0f)
        mact_tensor_set_grad (p, NULL);   /* no rank reached it */
      else
        {
          for (gsize i = 0; i < numel; i++)
            bk->buf[off + i] /= world;
          MactTensor *grad = mact_tensor_get_grad (p);
          if (grad != NULL && mact_tensor_is_contiguous (grad))
            {
              /* In place, as DDP does: no allocation per parameter and step. */
              memcpy (mact_tensor_get_data (grad), bk->buf + off, numel * sizeof (float));
            }
          else
            {
              g_autoptr(MactTensor) g = mact_tensor_new_from_data (
                bk->buf + off, numel, mact_tensor_get_ndim (p),
                mact_tensor_get_shape (p, NULL), error);
              if (g == NULL)
                return FALSE;
              mact_tensor_set_grad (p, g);
            }
        }
      off += numel;
    }
  return TRUE;
}

/* Backward of @loss and, in distributed training, the averaging of the gradients over the
 * ranks. */
static gboolean
backward_and_reduce (MactRunner *self, MactTensor *loss, GError **error)
{
  if (self->world_size == 1)
    return mact_tensor_backward (loss, NULL, error);

  if (self->buckets == NULL)
    self->buckets = grad_buckets_new (self);
  GradBuckets *gb = self->buckets;
  grad_buckets_reset (gb);
  const gboolean overlap = self->all_reduce_start != NULL;

  gboolean ok = overlap ? mact_tensor_backward_full (loss, NULL, on_grad_ready, gb, error)
                        : mact_tensor_backward (loss, NULL, error);
  if (!ok)
    goto out;

  if (overlap)
    {
      /* Parameters the graph did not reach are final too (with no gradient). */
      for (guint i = 0; i < gb->params->len; i++)
        if (!gb->ready[i])
          {
            gb->ready[i] = TRUE;
            g_array_index (gb->buckets, GradBucket, gb->bucket_of[i]).pending--;
          }
      if (!grad_buckets_advance (gb, error))
        {
          ok = FALSE;
          goto out;
        }
    }

  for (guint b = 0; b < gb->buckets->len && ok; b++)
    {
      GradBucket *bk = &g_array_index (gb->buckets, GradBucket, b);
      if (overlap)
        {
          if (!bk->done)
            ok = self->all_reduce_wait (bk->request, TRUE, &bk->done, self->all_reduce_data,
                                        error);
        }
      else
        {
          grad_bucket_fill (gb, bk);
          ok = self->all_reduce (bk->buf, bk->numel + bk->n_params, self->all_reduce_data,
                                 error);
        }
      if (ok)
        ok = grad_bucket_store (gb, bk, error);
    }

out:
  /* Requests still in flight after an error are handed back to their owner, which keeps
   * whatever MPI may still write into. */
  grad_buckets_drop_requests (gb);
  return ok;
}

/* All ranks start from rank 0's weights and buffers: a sum in which only rank 0
 * contributes is a broadcast. */
static gboolean
broadcast_state (MactRunner *self, GError **error)
{
  if (self->world_size == 1)
    return TRUE;
  g_autoptr(MactTensorDict) state = mact_module_state_dict (MACT_MODULE (self->model));
  const guint n = mact_tensor_dict_get_size (state);
  for (guint i = 0; i < n; i++)
    {
      MactTensor *t = mact_tensor_dict_get_value (state, i);
      const gsize numel = (gsize) mact_tensor_get_numel (t);
      g_autofree float *buf = g_new0 (float, MAX (numel, 1));
      if (self->rank == 0)
        {
          g_autoptr(MactTensor) c = mact_tensor_contiguous (t);
          memcpy (buf, mact_tensor_get_data (c), numel * sizeof (float));
        }
      if (!self->all_reduce (buf, numel, self->all_reduce_data, error))
        return FALSE;
      g_autoptr(MactTensor) src = mact_tensor_new_from_data (buf, numel,
                                                             mact_tensor_get_ndim (t),
                                                             mact_tensor_get_shape (t, NULL),
                                                             error);
      if (src == NULL || !mact_tensor_copy_from (t, src, error))
        return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ logging */

typedef struct {
  MactRunner *runner;
  guint       signal;
  JsonObject *entry;        /* ::log */
  guint64     iter;         /* ::progress */
  guint64     max_iters;
} SignalEvent;

static void
signal_event_free (gpointer data)
{
  SignalEvent *e = data;
  g_object_unref (e->runner);
  g_clear_pointer (&e->entry, json_object_unref);
  g_free (e);
}

static gboolean
signal_event_dispatch (gpointer data)
{
  SignalEvent *e = data;
  if (e->signal == SIGNAL_LOG)
    g_signal_emit (e->runner, signals[SIGNAL_LOG], 0, e->entry);
  else
    g_signal_emit (e->runner, signals[SIGNAL_PROGRESS], 0, e->iter, e->max_iters);
  return G_SOURCE_REMOVE;
}

/* Emits ::log or ::progress here, or, during train_async, posts it to the caller's
 * context: through a source attached there (never g_main_context_invoke, which would
 * run it on this thread whenever the context is momentarily free), at the priority
 * GTask returns its result with, so the events arrive in order and before the
 * callback. */
static void
emit_signal (MactRunner *self, guint signal, JsonObject *entry, guint64 iter,
             guint64 max_iters)
{
  if (self->signal_context == NULL)
    {
      if (signal == SIGNAL_LOG)
        g_signal_emit (self, signals[SIGNAL_LOG], 0, entry);
      else
        g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, iter, max_iters);
      return;
    }
  SignalEvent *e = g_new0 (SignalEvent, 1);
  e->runner = g_object_ref (self);
  e->signal = signal;
  e->entry = entry != NULL ? json_object_ref (entry) : NULL;
  e->iter = iter;
  e->max_iters = max_iters;
  g_autoptr(GSource) source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, signal_event_dispatch, e, signal_event_free);
  g_source_set_static_name (source, "[mact] MactRunner signal");
  g_source_attach (source, self->signal_context);
}

static void
emit_log (MactRunner *self, JsonObject *entry)
{
  emit_signal (self, SIGNAL_LOG, entry, 0, 0);
  if (self->rank != 0 || self->log_file == NULL)
    return;

  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, entry);
  g_autofree char *line = json_to_string (node, FALSE);
  fputs (line, self->log_file);
  fputc ('\n', self->log_file);
  fflush (self->log_file);
}

static gboolean
open_log (MactRunner *self, GError **error)
{
  if (self->rank != 0)
    return TRUE;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d_%H%M%S");
  g_autofree char *name = g_strconcat (stamp, ".log.json", NULL);
  g_free (self->log_path);
  self->log_path = g_build_filename (self->work_dir, name, NULL);
  if (self->log_file != NULL)
    fclose (self->log_file);
  /* Appending: a resumed run started in the same second continues the same log. */
  self->log_file = g_fopen (self->log_path, "a");
  if (self->log_file == NULL)
    {
      int saved = errno;
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO,
                   "cannot open training log '%s': %s", self->log_path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* Averages of the log_vars over the current logging window, weighted by batch size as
 * mmcv's LogBuffer does. */
typedef struct {
  GHashTable *sums;    /* key -> double[2] {weighted sum, weight} */
  GPtrArray  *order;   /* keys in first-seen order */
} LogWindow;

static void
log_window_init (LogWindow *w)
{
  w->sums = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  w->order = g_ptr_array_new_with_free_func (g_free);
}

static void
log_window_clear (LogWindow *w)
{
  g_hash_table_remove_all (w->sums);
  g_ptr_array_set_size (w->order, 0);
}

static void
log_window_free (LogWindow *w)
{
  g_clear_pointer (&w->sums, g_hash_table_unref);
  g_clear_pointer (&w->order, g_ptr_array_unref);
}

static void
log_window_add (LogWindow *w, const char *key, double value, double weight)
{
  double *acc = g_hash_table_lookup (w->sums, key);
  if (acc == NULL)
    {
      char *k = g_strdup (key);
      g_ptr_array_add (w->order, k);
      acc = g_new0 (double, 2);
      g_hash_table_insert (w->sums, k, acc);
    }
  acc[0] += value * weight;
  acc[1] += weight;
}

static void
log_window_put (LogWindow *w, JsonObject *entry)
{
  for (guint i = 0; i < w->order->len; i++)
    {
      const char *key = w->order->pdata[i];
      double *acc = g_hash_table_lookup (w->sums, key);
      json_object_set_double_member (entry, key, acc[1] > 0 ? acc[0] / acc[1] : 0.0);
    }
}

/* ------------------------------------------------------------------ checkpoints */

static JsonObject *
checkpoint_meta (MactRunner *self)
{
  JsonObject *meta = json_object_new ();
  json_object_set_int_member (meta, "epoch", self->epoch);
  json_object_set_int_member (meta, "iter", (gint64) self->iter);
  json_object_set_int_member (meta, "seed", (gint64) self->seed);
  if (isfinite (self->best_score))
    json_object_set_double_member (meta, "best_score", self->best_score);
  if (self->best_ckpt != NULL)
    json_object_set_string_member (meta, "best_ckpt", self->best_ckpt);
  json_object_set_member (meta, "config", json_node_copy (self->config));
  return meta;
}

static void
remove_checkpoint (MactRunner *self, const char *name)
{
  const char *suffixes[] = { ".json", ".safetensors", ".optim.safetensors" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (name, suffixes[i], NULL);
      g_autofree char *path = g_build_filename (self->work_dir, file, NULL);
      g_unlink (path);
    }
}

static gboolean
save_checkpoint (MactRunner *self, const char *name, GError **error)
{
  if (self->rank != 0)
    return TRUE;
  g_autoptr(JsonObject) meta = checkpoint_meta (self);
  if (!mact_checkpoint_save (self->work_dir, name, MACT_MODULE (self->model), self->optimizer,
                             meta, error))
    return FALSE;
  /* latest.json points at the newest checkpoint, as mmcv's latest.pth link does. */
  return mact_checkpoint_link (self->work_dir, "latest", name, error);
}

/* ------------------------------------------------------------------ evaluation */

/**
 * mact_runner_evaluate:
 * @self: a #MactRunner
 * @dataset: (nullable): the dataset to evaluate on; %NULL for the config's `data.val`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs the recognizer's forward_test over @dataset in eval mode (mmaction2's EvalHook:
 * `model(return_loss=False)`), gathers the scores of all ranks, and computes
 * mact_evaluate_scores().  The model's train/eval mode is restored afterwards.
 *
 * Returns: (transfer full): the metrics, or %NULL with @error set
 *
 * Since: 0.1
 */
JsonObject *
mact_runner_evaluate (MactRunner    *self,
                      MactDataset   *dataset,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), NULL);

  if (dataset == NULL)
    dataset = self->val_set;
  if (dataset == NULL)
    {
      bad_config (error, "evaluation needs 'data.val' in the config");
      return NULL;
    }

  const guint n = mact_dataset_get_length (dataset);
  const guint k = mact_dataset_get_num_classes (dataset);
  if (n == 0 || k == 0)
    {
      bad_config (error, "evaluation dataset is empty");
      return NULL;
    }

  const gboolean was_training = mact_module_is_training (MACT_MODULE (self->model));
  mact_module_eval (MACT_MODULE (self->model));

  g_autoptr(MactDataLoader) loader = mact_data_loader_new (dataset, self->val_batch_size,
                                                           FALSE, self->seed);
  g_object_set (loader, "num-workers", self->num_workers, NULL);
  mact_data_loader_set_shard (loader, self->world_size, self->rank);

  /* Scores land at their dataset index, with a count, so the padded duplicates of the
   * distributed sampler are averaged away and a sum over ranks gathers everything. */
  const gsize cells = (gsize) n * (k + 2);
  g_autofree float *acc = g_new0 (float, cells);
  JsonObject *result = NULL;

  if (!mact_data_loader_start_epoch (loader, 0, error))
    goto out;
  for (;;)
    {
      g_autoptr(GError) local = NULL;
      g_autoptr(MactTensorDict) batch = mact_data_loader_next (loader, cancellable, &local);
      if (batch == NULL)
        {
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              goto out;
            }
          break;
        }
      MactTensor *imgs = mact_tensor_dict_lookup (batch, "imgs");
      MactTensor *labels = mact_tensor_dict_lookup (batch, "label");
      MactTensor *index = mact_tensor_dict_lookup (batch, "index");
      g_autoptr(MactTensor) scores = NULL;
      MACT_NO_GRAD_BEGIN;
      scores = mact_recognizer_forward_test (self->model, imgs, error);
      MACT_NO_GRAD_END;
      if (scores == NULL)
        goto out;
      const gint64 b = mact_tensor_get_shape (index, NULL)[0];
      if (mact_tensor_get_ndim (scores) != 2 || mact_tensor_get_shape (scores, NULL)[0] != b ||
          mact_tensor_get_shape (scores, NULL)[1] != k)
        {
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG,
                       "evaluation: the model gives scores of another shape than [%"
                       G_GINT64_FORMAT ", %u] (num_classes of the dataset)", b, k);
          goto out;
        }
      g_autoptr(MactTensor) sc = mact_tensor_contiguous (scores);
      g_autoptr(MactTensor) lc = mact_tensor_contiguous (labels);
      const float *sd = mact_tensor_get_data (sc);
      const float *ld = mact_tensor_get_data (lc);
      const float *id = mact_tensor_get_data (index);
      const gint64 label_stride = mact_tensor_get_numel (lc) / b;
      for (gint64 i = 0; i < b; i++)
        {
          float *row = acc + (gsize) id[i] * (k + 2);
          for (guint j = 0; j < k; j++)
            row[j] += sd[i * k + j];
          row[k] += ld[i * label_stride];
          row[k + 1] += 1.0f;
        }
    }

  if (self->world_size > 1 && !self->all_reduce (acc, cells, self->all_reduce_data, error))
    goto out;

  {
    g_autofree float *scores = g_new (float, (gsize) n * k);
    g_autofree float *labels = g_new (float, n);
    for (guint i = 0; i < n; i++)
      {
        const float *row = acc + (gsize) i * (k + 2);
        const float cnt = row[k + 1] > 0 ? row[k + 1] : 1.0f;
        for (guint j = 0; j < k; j++)
          scores[(gsize) i * k + j] = row[j] / cnt;
        labels[i] = roundf (row[k] / cnt);
      }
    const gint64 sshape[] = { n, k }, lshape[] = { n };
    g_autoptr(MactTensor) st = mact_tensor_new_from_data (scores, (gsize) n * k, 2, sshape,
                                                            error);
    g_autoptr(MactTensor) lt = st ? mact_tensor_new_from_data (labels, n, 1, lshape, error) : NULL;
    if (lt != NULL)
      result = mact_evaluate_scores (st, lt, error);
  }

out:
  if (was_training)
    mact_module_train (MACT_MODULE (self->model), TRUE);
  return result;
}

/* ------------------------------------------------------------------ training */

static guint64
mix_seed (guint64 seed, guint64 a, guint64 b)
{
  /* splitmix64 finaliser over the combined words: nearby epochs get unrelated streams. */
  guint64 z = seed ^ (a * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)) ^
              (b * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void
set_lr (MactRunner *self, guint epoch, guint epoch_len)
{
  const guint n = mact_optimizer_get_n_groups (self->optimizer);
  for (guint g = 0; g < n; g++)
    {
      const double base = mact_optimizer_get_group_option (self->optimizer, g, "initial_lr");
      const double lr = mact_lr_schedule_get_lr (self->schedule, base, epoch, self->iter,
                                                 epoch_len, self->total_epochs);
      mact_optimizer_set_group_option (self->optimizer, g, "lr", lr);
    }
}

static gboolean
resume_or_load (MactRunner *self, GError **error)
{
  if (self->resume_from != NULL)
    {
      g_autoptr(JsonObject) meta = mact_checkpoint_load (self->resume_from,
                                                         MACT_MODULE (self->model), TRUE,
                                                         self->optimizer, error);
      if (meta == NULL)
        return FALSE;
      self->epoch = (guint) json_object_get_int_member_with_default (meta, "epoch", 0);
      self->iter = (guint64) json_object_get_int_member_with_default (meta, "iter", 0);
      self->best_score = json_object_get_double_member_with_default (meta, "best_score",
                                                                     -INFINITY);
      g_free (self->best_ckpt);
      self->best_ckpt = g_strdup (json_object_get_string_member_with_default (meta,
                                                                              "best_ckpt",
                                                                              NULL));
      return TRUE;
    }
  if (self->load_from != NULL)
    {
      /* mmcv's load_checkpoint for load_from is non-strict: fine-tuning a checkpoint
       * whose head has another class count is the usual case. */
      g_autoptr(JsonObject) meta = mact_checkpoint_load (self->load_from,
                                                         MACT_MODULE (self->model), FALSE,
                                                         NULL, error);
      return meta != NULL;
    }
  return TRUE;
}

static gboolean
run_epoch (MactRunner *self, MactDataLoader *loader, GCancellable *cancellable,
           gint64 run_start, guint64 run_start_iter, GError **error)
{
  const guint epoch_len = mact_data_loader_get_length (loader);
  const guint64 max_iters = (guint64) self->total_epochs * epoch_len;
  LogWindow window;
  log_window_init (&window);
  gboolean ok = FALSE;
  double window_time = 0, window_data_time = 0;
  guint window_iters = 0;
  g_autoptr(GPtrArray) params = mact_optimizer_get_params (self->optimizer);

  g_autoptr(MactGenerator) blend_rng = mact_generator_new (mix_seed (self->seed, self->epoch,
                                                                     2));
  MactBlending *blending = mact_recognizer_get_blending (self->model);
  if (blending != NULL)
    mact_blending_set_generator (blending, blend_rng);
  mact_manual_seed (mix_seed (self->seed, self->epoch, 1));

  if (!mact_data_loader_start_epoch (loader, self->epoch, error))
    goto out;

  mact_module_train (MACT_MODULE (self->model), TRUE);

  for (guint inner = 0;; inner++)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_CANCELLED,
                       "training cancelled at epoch %u, iteration %u", self->epoch + 1,
                       inner + 1);
          goto out;
        }
      const gint64 t0 = g_get_monotonic_time ();
      g_autoptr(GError) local = NULL;
      g_autoptr(MactTensorDict) batch = mact_data_loader_next (loader, cancellable, &local);
      if (batch == NULL)
        {
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              goto out;
            }
          break;
        }
      const gint64 t1 = g_get_monotonic_time ();
      mact_tensor_dict_remove (batch, "index");

      set_lr (self, self->epoch, epoch_len);

      mact_optimizer_zero_grad (self->optimizer);
      g_autoptr(MactTensor) loss = NULL;
      g_autoptr(MactTensorDict) log_vars = NULL;
      gint num_samples = 0;
      if (!mact_recognizer_train_step (self->model, batch, &loss, &log_vars, &num_samples,
                                       error))
        goto out;
      if (!isfinite (mact_tensor_item (loss)))
        {
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_NON_FINITE,
                       "the loss is %g at epoch %u, iteration %u", mact_tensor_item (loss),
                       self->epoch + 1, inner + 1);
          goto out;
        }
      if (!backward_and_reduce (self, loss, error))
        goto out;
      if (self->grad_clip)
        {
          double norm = 0;
          if (!mact_clip_grad_norm (params, self->clip_max_norm, self->clip_norm_type, &norm,
                                    error))
            goto out;
          log_window_add (&window, "grad_norm", norm, num_samples);
        }
      if (!mact_optimizer_step (self->optimizer, error))
        goto out;
      self->iter++;
      emit_signal (self, SIGNAL_PROGRESS, NULL, self->iter, max_iters);

      const guint nv = mact_tensor_dict_get_size (log_vars);
      for (guint i = 0; i < nv; i++)
        log_window_add (&window, mact_tensor_dict_get_key (log_vars, i),
                        mact_tensor_item (mact_tensor_dict_get_value (log_vars, i)),
                        num_samples);
      const gint64 t2 = g_get_monotonic_time ();
      window_time += (double) (t2 - t0) / G_USEC_PER_SEC;
      window_data_time += (double) (t1 - t0) / G_USEC_PER_SEC;
      window_iters++;

      if ((inner + 1) % self->log_interval == 0 || inner + 1 == epoch_len)
        {
          g_autoptr(JsonObject) entry = json_object_new ();
          json_object_set_string_member (entry, "mode", "train");
          json_object_set_int_member (entry, "epoch", self->epoch + 1);
          json_object_set_int_member (entry, "iter", inner + 1);
          json_object_set_int_member (entry, "epoch_len", epoch_len);
          json_object_set_int_member (entry, "global_iter", (gint64) self->iter);
          json_object_set_int_member (entry, "max_iters", (gint64) max_iters);
          json_object_set_double_member (entry, "lr", mact_optimizer_get_lr (self->optimizer));
          json_object_set_double_member (entry, "time", window_time / window_iters);
          json_object_set_double_member (entry, "data_time", window_data_time / window_iters);
          const double elapsed = (double) (t2 - run_start) / G_USEC_PER_SEC;
          const guint64 done = self->iter - run_start_iter;
          json_object_set_double_member (entry, "eta",
                                         done > 0 ? elapsed / done * (max_iters - self->iter)
                                                  : 0.0);
          log_window_put (&window, entry);
          emit_log (self, entry);
          log_window_clear (&window);
          window_time = window_data_time = 0;
          window_iters = 0;
        }
    }
  ok = TRUE;

out:
  if (blending != NULL)
    mact_blending_set_generator (blending, NULL);
  log_window_free (&window);
  return ok;
}

static gboolean
after_epoch (MactRunner *self, GCancellable *cancellable, GError **error)
{
  if (self->epoch % self->checkpoint_interval == 0)
    {
      g_autofree char *name = g_strdup_printf ("epoch_%u", self->epoch);
      if (!save_checkpoint (self, name, error))
        return FALSE;
      if (self->rank == 0)
        {
          g_queue_push_tail (&self->kept_ckpts, g_strdup (name));
          while (self->max_keep_ckpts > 0 &&
                 g_queue_get_length (&self->kept_ckpts) > (guint) self->max_keep_ckpts)
            {
              g_autofree char *old = g_queue_pop_head (&self->kept_ckpts);
              remove_checkpoint (self, old);
            }
        }
    }

  if (!self->validate || self->val_set == NULL || self->epoch % self->eval_interval != 0)
    return TRUE;

  g_autoptr(JsonObject) metrics = mact_runner_evaluate (self, NULL, cancellable, error);
  if (metrics == NULL)
    return FALSE;
  g_autoptr(JsonObject) entry = json_object_new ();
  json_object_set_string_member (entry, "mode", "val");
  json_object_set_int_member (entry, "epoch", self->epoch);
  json_object_set_int_member (entry, "global_iter", (gint64) self->iter);
  json_object_set_double_member (entry, "lr", mact_optimizer_get_lr (self->optimizer));
  g_autoptr(GList) keys = json_object_get_members (metrics);
  for (GList *l = keys; l != NULL; l = l->next)
    json_object_set_double_member (entry, l->data,
                                   json_object_get_double_member (metrics, l->data));
  emit_log (self, entry);

  if (self->save_best != NULL && json_object_has_member (metrics, self->save_best))
    {
      const double score = json_object_get_double_member (metrics, self->save_best);
      if (score > self->best_score)
        {
          g_autofree char *name = g_strdup_printf ("best_%s_epoch_%u", self->save_best,
                                                   self->epoch);
          g_autofree char *previous = g_steal_pointer (&self->best_ckpt);
          self->best_score = score;
          self->best_ckpt = g_strdup (name);
          if (self->rank == 0)
            {
              g_autoptr(JsonObject) meta = checkpoint_meta (self);
              if (!mact_checkpoint_save (self->work_dir, name, MACT_MODULE (self->model),
                                         self->optimizer, meta, error))
                return FALSE;
              if (previous != NULL && !g_str_equal (previous, name))
                remove_checkpoint (self, previous);
            }
        }
    }
  return TRUE;
}

/**
 * mact_runner_train:
 * @self: a #MactRunner
 * @cancellable: (nullable): checked between iterations
 * @error: return location for a #GError
 *
 * Trains from the current position (0, or the `resume_from` checkpoint's epoch) to
 * `total_epochs`.  Rank 0 writes `<timestamp>.log.json`, `epoch_N.*` checkpoints,
 * `latest.json` and the best checkpoint into the work directory.
 *
 * Returns: %TRUE when all epochs ran
 *
 * Since: 0.1
 */
gboolean
mact_runner_train (MactRunner    *self,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), FALSE);

  if (self->work_dir == NULL)
    return bad_config (error, "config key 'work_dir' is missing (or set the runner's "
                       "work-dir)");
  if (self->rank == 0 && g_mkdir_with_parents (self->work_dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO,
                   "cannot create work_dir '%s': %s", self->work_dir, g_strerror (saved));
      return FALSE;
    }
  if (!resume_or_load (self, error) || !broadcast_state (self, error) ||
      !open_log (self, error))
    return FALSE;

  if (self->world_size > 1)
    mact_recognizer_set_log_vars_reducer (self->model, reduce_log_vars, self, NULL);

  g_autoptr(MactDataLoader) loader = mact_data_loader_new (self->train_set, self->batch_size,
                                                           TRUE, self->seed);
  g_object_set (loader, "num-workers", self->num_workers, NULL);
  mact_data_loader_set_shard (loader, self->world_size, self->rank);

  gboolean ok = TRUE;
  const gint64 run_start = g_get_monotonic_time ();
  const guint64 run_start_iter = self->iter;
  while (ok && self->epoch < self->total_epochs)
    {
      ok = run_epoch (self, loader, cancellable, run_start, run_start_iter, error);
      if (ok)
        {
          self->epoch++;
          ok = after_epoch (self, cancellable, error);
        }
    }

  if (self->world_size > 1)
    mact_recognizer_set_log_vars_reducer (self->model, NULL, NULL, NULL);
  return ok;
}

static void
train_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  MactRunner *self = source;
  GError *error = NULL;
  const gboolean ok = mact_runner_train (self, cancellable, &error);
  /* Every signal has been posted (each event holds what it needs); let the context go
   * before returning, so a new train_async from the callback finds the runner free. */
  g_clear_pointer (&self->signal_context, g_main_context_unref);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * mact_runner_train_async:
 * @self: a runner
 * @cancellable: (nullable): checked between iterations
 * @callback: (scope async) (closure user_data): called when training ends
 * @user_data: data for @callback
 *
 * Runs mact_runner_train() in a worker thread.  While it runs, #MactRunner::log and
 * #MactRunner::progress are emitted in the thread-default main context of the calling
 * thread, so a user interface can connect to them directly; @callback runs there too,
 * after the last of them.  Call mact_runner_train_finish() in @callback.
 *
 * Checkpoints are written atomically, so cancelling leaves the work directory with the
 * last complete epoch's checkpoint, from which a new run resumes.  Only one training
 * may run on a runner at a time.
 *
 * Since: 0.1
 */
void
mact_runner_train_async (MactRunner *self, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MACT_IS_RUNNER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (self->signal_context == NULL);

  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mact_runner_train_async);
  self->signal_context = g_main_context_ref (g_task_get_context (task));
  g_task_run_in_thread (task, train_thread);
}

/**
 * mact_runner_train_finish:
 * @self: the runner
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Ends mact_runner_train_async().
 *
 * Errors: those of mact_runner_train(); %G_IO_ERROR_CANCELLED when the cancellable was
 * cancelled.
 *
 * Returns: %TRUE when all epochs ran
 *
 * Since: 0.1
 */
gboolean
mact_runner_train_finish (MactRunner *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (MACT_IS_RUNNER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == mact_runner_train_async,
                        FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
