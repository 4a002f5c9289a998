/* Data-parallel training on MPI, run as two ranks:
 *   mpirun --allow-run-as-root --oversubscribe -np 2 test-mpi      (meson suite mpi)
 *
 * Both ranks run the same cases in the same order (collectives must match); rank 0 writes
 * the TAP report, rank 1's cmocka output goes to stderr, and mpirun's exit status is
 * non-zero when either rank fails a case.  What is asserted:
 * - the collectives: sums, broadcast, barrier, the non-blocking sum, arrays of 0 and of
 *   many values; a failing MPI call (a broadcast root outside the world) is a GError on
 *   every rank, not an abort;
 * - the watchdog: when the other rank does not join a collective, it fails with
 *   %MACT_TRAIN_ERROR_TIMEOUT after the timeout, not a hang;
 * - training: two ranks with 2 videos each give, after 8 steps, the weights of one
 *   process with 4 videos per batch on the same data (within float rounding), and both
 *   ranks hold the same weights; the gradient buckets overlap backward; only rank 0
 *   writes a log and checkpoints; the logged log_vars are the mean of the ranks' own
 *   values;
 * - SyncBN: with BatchNorm trained, two ranks x 2 videos with norm_cfg SyncBN give the
 *   state (weights and running statistics) of one process x 4 videos with BN3d, which
 *   per-rank BN3d does not. */
#include "mact-test-dist.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static guint rank, world;

/* ------------------------------------------------------------------ collectives */

static void
test_world (void **state)
{
  assert_true (mact_distributed_is_available ());
  assert_true (mact_distributed_is_launched ());
  assert_true (mact_distributed_is_initialized ());
  assert_int_equal (world, 2);
  assert_true (rank < world);
  /* A second init is a no-op. */
  assert_true (mact_distributed_init (NULL));
}

static void
test_collectives (void **state)
{
  g_autoptr(GError) error = NULL;

  float v[3] = { 1.0f + rank, 10.0f * (rank + 1), -0.5f };
  assert_true (mact_distributed_all_reduce_sum (v, 3, &error));
  assert_null (error);
  assert_true (v[0] == 3.0f && v[1] == 30.0f && v[2] == -1.0f);

  assert_true (mact_distributed_all_reduce_sum (NULL, 0, &error));

  float b[2] = { rank == 1 ? 7.0f : 0.0f, rank == 1 ? 8.0f : 0.0f };
  assert_true (mact_distributed_broadcast (b, 2, 1, &error));
  assert_true (b[0] == 7.0f && b[1] == 8.0f);

  assert_true (mact_distributed_barrier (&error));
  assert_null (error);

  /* A larger non-blocking sum, progressed by tests, then waited for. */
  const gsize n = 1 << 20;
  g_autofree float *big = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    big[i] = (float) (i % 1000) * (rank + 1);
  g_autoptr(MactDistributedRequest) req = mact_distributed_all_reduce_sum_start (big, n,
                                                                                  &error);
  assert_non_null (req);
  gboolean done = FALSE;
  assert_true (mact_distributed_request_test (req, &done, &error));
  assert_true (mact_distributed_request_wait (req, &error));
  assert_true (mact_distributed_request_test (req, &done, &error));
  assert_true (done);
  for (gsize i = 0; i < n; i += 4099)
    assert_true (big[i] == (float) (i % 1000) * 3);
}

static void
test_mpi_error_is_a_gerror (void **state)
{
  /* MPI itself rejects the root: with errors returned, every rank gets a GError and
   * goes on. */
  g_autoptr(GError) error = NULL;
  float v[1] = { 1 };
  assert_false (mact_distributed_broadcast (v, 1, 5, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "MPI_Ibcast"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);
  assert_true (mact_distributed_barrier (&error));
}

static float late_values[4];

static void
test_missing_rank_times_out (void **state)
{
  /* Rank 1 stays away from a sum: rank 0 gives up after the timeout with a clear error.
   * Rank 1 then joins the abandoned sum late, so both ranks go on in step. */
  g_autoptr(GError) error = NULL;
  const double saved = mact_distributed_get_timeout ();
  mact_distributed_set_timeout (1.0);
  if (rank == 0)
    {
      float v[4] = { 1, 2, 3, 4 };
      const gint64 t0 = g_get_monotonic_time ();
      assert_false (mact_distributed_all_reduce_sum (v, 4, &error));
      const double waited = (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
      assert_non_null (error);
      assert_non_null (strstr (error->message, "did not complete within 1 s"));
      mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_TIMEOUT);
      assert_true (waited >= 1.0 && waited < 5.0);
      assert_true (v[0] == 1 && v[3] == 4);     /* untouched on error */
    }
  else
    {
      g_usleep (2 * G_USEC_PER_SEC);
      mact_distributed_set_timeout (30.0);
      assert_true (mact_distributed_all_reduce_sum (late_values, 4, &error));
    }
  mact_distributed_set_timeout (saved);
  assert_true (mact_distributed_barrier (&error));
  assert_null (error);
}

/* ------------------------------------------------------------------ training */

/* Wraps the MPI sums to see when buckets start. */
typedef struct {
  GPtrArray *params;
  guint      starts;
  guint      early_starts;   /* while some parameter had no gradient yet */
} Watch;

static gboolean
watch_all_reduce (float *values, gsize n_values, gpointer user_data, GError **error)
{
  return mact_distributed_all_reduce_sum (values, n_values, error);
}

static gpointer
watch_start (float *values, gsize n_values, gpointer user_data, GError **error)
{
  Watch *w = user_data;
  w->starts++;
  for (guint i = 0; i < w->params->len; i++)
    if (mact_tensor_get_grad (w->params->pdata[i]) == NULL)
      {
        w->early_starts++;
        break;
      }
  return mact_distributed_all_reduce_sum_start (values, n_values, error);
}

static gboolean
watch_wait (gpointer request, gboolean block, gboolean *done, gpointer user_data,
            GError **error)
{
  if (!block)
    return mact_distributed_request_test (request, done, error);
  *done = mact_distributed_request_wait (request, error);
  return *done;
}

typedef struct {
  JsonObject *first_train;   /* the first logged training entry */
  guint       n_entries;
} Logged;

static void
on_log (MactRunner *runner, JsonObject *entry, Logged *logged)
{
  logged->n_entries++;
  if (logged->first_train == NULL &&
      g_str_equal (json_object_get_string_member (entry, "mode"), "train"))
    logged->first_train = json_object_ref (entry);
}

static void
test_two_ranks_match_one_process (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = NULL;
  /* One scratch directory for the job: rank 0 makes it and broadcasts its name. */
  char name[256] = "";
  if (rank == 0)
    {
      base = mact_test_dist_tmp_dir ();
      g_strlcpy (name, base, sizeof name);
    }
  float code[256];
  for (guint i = 0; i < G_N_ELEMENTS (code); i++)
    code[i] = (float) (guchar) name[i];
  assert_true (mact_distributed_broadcast (code, G_N_ELEMENTS (code), 0, &error));
  for (guint i = 0; i < G_N_ELEMENTS (code); i++)
    name[i] = (char) (guchar) code[i];
  name[G_N_ELEMENTS (name) - 1] = '\0';
  g_autofree char *mine = g_strdup_printf ("%s/rank%u", name, rank);
  g_autofree char *ref_dir = g_strdup_printf ("%s/reference", name);

  /* Two ranks with 2 videos each: 16 samples = 4 steps an epoch, 2 epochs. */
  g_autoptr(JsonNode) config = mact_test_dist_config (2, 16, 2);
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  assert_null (error);
  g_object_set (runner, "work-dir", mine, "validate", TRUE, "bucket-cap-mb", 0.004, NULL);
  assert_true (mact_distributed_attach_runner (runner, &error));
  Watch watch = { mact_optimizer_get_params (mact_runner_get_optimizer (runner)), 0, 0 };
  mact_runner_set_distributed (runner, rank, world, watch_all_reduce, &watch);
  mact_runner_set_async_all_reduce (runner, watch_start, watch_wait,
                                    (GDestroyNotify) mact_distributed_request_free);
  Logged logged = { 0 };
  g_signal_connect (runner, "log", G_CALLBACK (on_log), &logged);

  const gint64 t0 = g_get_monotonic_time ();
  assert_true (mact_runner_train (runner, NULL, &error));
  assert_null (error);
  const double dist_time = (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
  assert_int_equal (mact_runner_get_iter (runner), 8);
  assert_true (watch.starts >= 8 * 3);            /* several buckets per step */
  assert_true (watch.early_starts >= 8);          /* each step overlapped backward */

  /* (c) Only rank 0 wrote anything. */
  if (rank == 0)
    {
      assert_non_null (mact_runner_get_log_path (runner));
      assert_true (g_file_test (mact_runner_get_log_path (runner), G_FILE_TEST_EXISTS));
      assert_true (mact_test_dist_exists_in (mine, "epoch_1.safetensors"));
      assert_true (mact_test_dist_exists_in (mine, "epoch_2.safetensors"));
      assert_true (mact_test_dist_exists_in (mine, "latest.json"));
    }
  else
    {
      assert_null (mact_runner_get_log_path (runner));
      assert_false (g_file_test (mine, G_FILE_TEST_EXISTS));
    }
  /* Both ranks logged (through the signal) the same number of entries. */
  assert_int_equal (logged.n_entries, 8 + 2);

  /* Both ranks hold exactly rank 0's weights. */
  MactModule *model = MACT_MODULE (mact_runner_get_model (runner));
  g_autoptr(MactTensorDict) st = mact_module_state_dict (model);
  for (guint i = 0; i < mact_tensor_dict_get_size (st); i++)
    {
      g_autoptr(MactTensor) c = mact_tensor_contiguous (mact_tensor_dict_get_value (st, i));
      const gsize n = (gsize) mact_tensor_get_numel (c);
      g_autofree float *buf = g_memdup2 (mact_tensor_get_data (c), n * sizeof (float));
      assert_true (mact_distributed_broadcast (buf, n, 0, &error));
      if (memcmp (buf, mact_tensor_get_data (c), n * sizeof (float)) != 0)
        fail_msg ("rank %u: '%s' differs from rank 0", rank, mact_tensor_dict_get_key (st, i));
    }

  /* (a) One process, 4 videos per batch, the same 16 samples: the same weights. */
  if (rank == 0)
    {
      g_autoptr(JsonNode) ref_config = mact_test_dist_config (4, 16, 2);
      g_autoptr(MactRunner) ref = mact_runner_new (ref_config, &error);
      g_object_set (ref, "work-dir", ref_dir, NULL);
      const gint64 t1 = g_get_monotonic_time ();
      assert_true (mact_runner_train (ref, NULL, &error));
      const double ref_time = (double) (g_get_monotonic_time () - t1) / G_USEC_PER_SEC;
      assert_int_equal (mact_runner_get_iter (ref), 8);
      const double diff = mact_test_dist_state_diff (model,
                                                     MACT_MODULE (mact_runner_get_model (ref)));
      g_printerr ("# 2 ranks x 2 videos vs 1 process x 4 videos: max relative weight "
                  "difference %.3g after 8 steps (%.2f s distributed, %.2f s single)\n",
                  diff, dist_time, ref_time);
      assert_true (diff < 1e-5);
      /* and it is not trivially so: the first step moved the weights. */
      g_autoptr(JsonNode) fresh_config = mact_test_dist_config (4, 16, 2);
      g_autoptr(MactRunner) fresh = mact_runner_new (fresh_config, &error);
      assert_true (mact_test_dist_state_diff (model,
                                              MACT_MODULE (mact_runner_get_model (fresh)))
                   > 1e-3);
      mact_test_remove_tree (ref_dir);
    }

  assert_true (mact_distributed_barrier (&error));
  if (rank == 0)
    mact_test_remove_tree (name);
  if (logged.first_train != NULL)
    json_object_unref (logged.first_train);
  g_ptr_array_unref (watch.params);
}

static void
test_log_vars_are_the_mean (void **state)
{
  /* (b) The runner logs, at its first step, the all-reduced mean of each rank's log_vars.
   * Each rank computes its own values for that step with a fresh model (same seed, same
   * initial weights) on its shard's first batch, without any reducer. */
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) config = mact_test_dist_config (2, 16, 1);

  g_autoptr(MactRunner) local = mact_runner_new (config, &error);
  assert_null (error);
  MactRecognizer *model = mact_runner_get_model (local);
  mact_module_train (MACT_MODULE (model), TRUE);
  JsonObject *data = json_object_get_object_member (json_node_get_object (config), "data");
  g_autoptr(MactDataset) ds = mact_dataset_new_from_config (
    json_object_get_member (data, "train"), &error);
  assert_non_null (ds);
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (ds, 2, TRUE, 7);
  mact_data_loader_set_shard (loader, world, rank);
  assert_true (mact_data_loader_start_epoch (loader, 0, &error));
  g_autoptr(MactTensorDict) batch = mact_data_loader_next (loader, NULL, &error);
  assert_non_null (batch);
  mact_tensor_dict_remove (batch, "index");
  g_autoptr(MactTensor) loss = NULL;
  g_autoptr(MactTensorDict) own = NULL;
  gint num_samples = 0;
  assert_true (mact_recognizer_train_step (model, batch, &loss, &own, &num_samples, &error));

  const guint n = mact_tensor_dict_get_size (own);
  assert_true (n >= 2);                            /* loss_cls, loss, top-k... */
  g_autofree float *mean = g_new (float, n);
  for (guint i = 0; i < n; i++)
    mean[i] = mact_tensor_item (mact_tensor_dict_get_value (own, i));
  g_autofree float *mine = g_memdup2 (mean, n * sizeof (float));
  assert_true (mact_distributed_all_reduce_sum (mean, n, &error));
  gboolean ranks_differ = FALSE;
  for (guint i = 0; i < n; i++)
    {
      mean[i] /= (float) world;
      ranks_differ |= fabsf (mean[i] - mine[i]) > 1e-6f;
    }

  g_autofree char *dir = mact_test_dist_tmp_dir ();
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  g_object_set (runner, "work-dir", dir, NULL);
  assert_true (mact_distributed_attach_runner (runner, &error));
  Logged logged = { 0 };
  g_signal_connect (runner, "log", G_CALLBACK (on_log), &logged);
  assert_true (mact_runner_train (runner, NULL, &error));
  assert_null (error);
  assert_non_null (logged.first_train);

  /* The shards give different values, and what is logged on every rank is their mean. */
  float any_differ = ranks_differ ? 1.0f : 0.0f;
  assert_true (mact_distributed_all_reduce_sum (&any_differ, 1, &error));
  assert_true (any_differ > 0);
  for (guint i = 0; i < n; i++)
    {
      const char *key = mact_tensor_dict_get_key (own, i);
      assert_true (json_object_has_member (logged.first_train, key));
      const double got = json_object_get_double_member (logged.first_train, key);
      if (fabs (got - mean[i]) > 1e-5 * MAX (1.0, fabs (mean[i])))
        fail_msg ("rank %u: logged %s = %.7g, mean of the ranks %.7g (own %.7g)", rank, key,
                  got, mean[i], mine[i]);
    }
  /* The loss used for backward stayed the local one: the step's gradients are averaged
   * separately (test_two_ranks_match_one_process). */
  json_object_unref (logged.first_train);
  mact_test_remove_tree (dir);
  assert_true (mact_distributed_barrier (&error));
}

/* ------------------------------------------------------------------ SyncBN */

/* The distributed test config with BatchNorm trained (norm_eval off) and of @norm_type. */
static JsonNode *
bn_config (guint batch, const char *norm_type)
{
  JsonNode *config = mact_test_dist_config (batch, 16, 2);
  JsonObject *model = json_object_get_object_member (json_node_get_object (config), "model");
  JsonObject *backbone = json_object_get_object_member (model, "backbone");
  json_object_set_boolean_member (backbone, "norm_eval", FALSE);
  JsonObject *norm_cfg = json_object_new ();
  json_object_set_string_member (norm_cfg, "type", norm_type);
  json_object_set_object_member (backbone, "norm_cfg", norm_cfg);
  return config;
}

/* Trains @config (8 steps) in a fresh directory, as this rank of the job when
 * @distributed, else alone; returns the runner. */
static MactRunner *
bn_train (JsonNode *config, gboolean distributed)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = mact_test_dist_tmp_dir ();
  MactRunner *runner = mact_runner_new (config, &error);
  assert_non_null (runner);
  g_object_set (runner, "work-dir", dir, "validate", FALSE, NULL);
  if (distributed)
    assert_true (mact_distributed_attach_runner (runner, &error));
  assert_true (mact_runner_train (runner, NULL, &error));
  assert_null (error);
  assert_int_equal (mact_runner_get_iter (runner), 8);
  mact_test_remove_tree (dir);
  return runner;
}

static void
test_sync_bn_two_ranks_match_one_process (void **state)
{
  /* Two ranks with 2 videos each and SyncBN in training mode give the weights and the
   * running statistics of one process with 4 videos and plain BN3d; with per-rank BN3d
   * they do not (each rank normalises its own 2 videos). */
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) sync_config = bn_config (2, "SyncBN");
  g_autoptr(MactRunner) sync = bn_train (sync_config, TRUE);
  g_autoptr(JsonNode) local_config = bn_config (2, "BN3d");
  g_autoptr(MactRunner) local = bn_train (local_config, TRUE);
  MactModule *sync_model = MACT_MODULE (mact_runner_get_model (sync));

  if (rank == 0)
    {
      g_autoptr(JsonNode) ref_config = bn_config (4, "BN3d");
      g_autoptr(MactRunner) ref = bn_train (ref_config, FALSE);
      MactModule *ref_model = MACT_MODULE (mact_runner_get_model (ref));
      const double diff = mact_test_dist_state_diff (sync_model, ref_model);
      const double local_diff = mact_test_dist_state_diff (
        MACT_MODULE (mact_runner_get_model (local)), ref_model);
      g_printerr ("# SyncBN, 2 ranks x 2 videos vs BN3d, 1 process x 4 videos: max "
                  "relative difference %.3g after 8 steps (per-rank BN3d: %.3g)\n", diff,
                  local_diff);
      assert_true (diff < 1e-5);
      assert_true (local_diff > 1e-3);
    }

  /* Both ranks hold rank 0's state, running statistics included. */
  g_autoptr(MactTensorDict) st = mact_module_state_dict (sync_model);
  for (guint i = 0; i < mact_tensor_dict_get_size (st); i++)
    {
      g_autoptr(MactTensor) c = mact_tensor_contiguous (mact_tensor_dict_get_value (st, i));
      const gsize n = (gsize) mact_tensor_get_numel (c);
      g_autofree float *buf = g_memdup2 (mact_tensor_get_data (c), n * sizeof (float));
      assert_true (mact_distributed_broadcast (buf, n, 0, &error));
      if (memcmp (buf, mact_tensor_get_data (c), n * sizeof (float)) != 0)
        fail_msg ("rank %u: '%s' differs from rank 0", rank, mact_tensor_dict_get_key (st, i));
    }
  assert_true (mact_distributed_barrier (&error));
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  mact_test_init ();
  if (!mact_distributed_init (&error))
    {
      fprintf (stderr, "test-mpi: %s\n", error->message);
      return 1;
    }
  rank = mact_distributed_get_rank ();
  world = mact_distributed_get_world_size ();
  /* One TAP stream: rank 0's.  The other ranks report on stderr. */
  if (rank != 0)
    {
      fflush (stdout);
      dup2 (STDERR_FILENO, STDOUT_FILENO);
      g_unsetenv ("CMOCKA_MESSAGE_OUTPUT");
      cmocka_set_message_output (CM_OUTPUT_STDOUT);
    }

  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_world),
    cmocka_unit_test (test_collectives),
    cmocka_unit_test (test_mpi_error_is_a_gerror),
    cmocka_unit_test (test_missing_rank_times_out),
    cmocka_unit_test (test_two_ranks_match_one_process),
    cmocka_unit_test (test_log_vars_are_the_mean),
    cmocka_unit_test (test_sync_bn_two_ranks_match_one_process),
  };
  int failed = cmocka_run_group_tests_name ("mpi", tests, NULL, NULL);

  /* Everyone agrees on the outcome, so a failure on one rank fails the job. */
  float any = failed > 0 ? 1.0f : 0.0f;
  if (!mact_distributed_all_reduce_sum (&any, 1, &error))
    {
      fprintf (stderr, "test-mpi: rank %u: %s\n", rank, error->message);
      mact_distributed_abort (1);
      return 1;
    }
  if (!mact_distributed_finalize (&error))
    {
      fprintf (stderr, "test-mpi: rank %u: %s\n", rank, error->message);
      mact_distributed_abort (1);
      return 1;
    }
  return any > 0 ? 1 : failed;
}
