/* Distributed training without an MPI job: the parts that need no second process.
 *
 * - mact-distributed's behaviour before (or without) MPI: launcher detection from the
 *   environment, one rank, every collective a %MACT_TRAIN_ERROR_DISTRIBUTED error, the
 *   timeout setting;
 * - the runner's bucketed gradient reduction, driven through fake collectives in which the
 *   other rank contributes zeros: buckets cover every optimised parameter once, last
 *   parameters first, in the same order every iteration, sized by bucket-cap-mb; the
 *   first bucket starts while backward still runs (parameters without gradient yet);
 *   the overlapped and the blocking paths give bit-identical weights; a failing start or
 *   wait ends training with its error and leaks no request.
 * The two-process behaviour is in test-mpi.c (suite mpi). */
#include "mact-test-dist.h"

#include <string.h>

/* ------------------------------------------------------------------ without a job */

static void
test_launcher_detection (void **state)
{
  const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK" };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++)
    g_unsetenv (vars[i]);
  assert_false (mact_distributed_is_launched ());
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++)
    {
      g_setenv (vars[i], "2", TRUE);
      assert_true (mact_distributed_is_launched ());
      g_unsetenv (vars[i]);
    }
  assert_false (mact_distributed_is_launched ());
}

static void
test_not_initialised (void **state)
{
  g_autoptr(GError) error = NULL;
  float v[3] = { 1, 2, 3 };

  assert_false (mact_distributed_is_initialized ());
  assert_int_equal (mact_distributed_get_rank (), 0);
  assert_int_equal (mact_distributed_get_world_size (), 1);

  assert_false (mact_distributed_all_reduce_sum (v, 3, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);
  assert_false (mact_distributed_broadcast (v, 3, 0, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);
  assert_false (mact_distributed_barrier (&error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);
  assert_null (mact_distributed_all_reduce_sum_start (v, 3, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);
  /* The values are untouched. */
  assert_true (v[0] == 1 && v[1] == 2 && v[2] == 3);

  g_autoptr(JsonNode) config = mact_test_dist_config (4, 16, 1);
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  assert_non_null (runner);
  assert_false (mact_distributed_attach_runner (runner, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);

  /* Finalize and abort do nothing when MPI is not initialised. */
  assert_true (mact_distributed_finalize (&error));
  assert_null (error);
  mact_distributed_abort (3);

  if (!mact_distributed_is_available ())
    {
      /* Built without MPI: init says so, the world stays one process. */
      assert_false (mact_distributed_init (&error));
      assert_non_null (error);
      assert_non_null (strstr (error->message, "built without MPI"));
      mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);
      assert_int_equal (mact_distributed_get_world_size (), 1);
    }
}

static void
test_timeout_setting (void **state)
{
  /* Read from MACT_DIST_TIMEOUT when first needed (this is the first use here). */
  g_setenv ("MACT_DIST_TIMEOUT", "42.5", TRUE);
  assert_true (mact_distributed_get_timeout () == 42.5);
  g_unsetenv ("MACT_DIST_TIMEOUT");
  mact_distributed_set_timeout (3);
  assert_true (mact_distributed_get_timeout () == 3.0);
  mact_distributed_set_timeout (NAN);   /* not a limit: none */
  assert_true (mact_distributed_get_timeout () == 0.0);
  mact_distributed_set_timeout (MACT_DISTRIBUTED_DEFAULT_TIMEOUT);
}

/* ------------------------------------------------------------------ fake collectives */

typedef struct {
  GPtrArray *params;          /* the optimizer's, to see how far backward got */
  GArray    *sizes;           /* n_values of each started bucket, in order */
  guint      early_starts;    /* starts while some parameter had no gradient yet */
  guint      blocking_calls;
  guint      live_requests;
  guint      fail_start_at;   /* 1-based; 0: never */
  gboolean   fail_wait;
} Fake;

typedef struct {
  Fake  *fake;
  guint  polls;
} FakeRequest;

/* The other rank contributes zeros: a sum is the identity (so rank 0's weights are also
 * what the broadcast gives). */
static gboolean
fake_all_reduce (float *values, gsize n_values, gpointer user_data, GError **error)
{
  Fake *fake = user_data;
  fake->blocking_calls++;
  return TRUE;
}

static gpointer
fake_start (float *values, gsize n_values, gpointer user_data, GError **error)
{
  Fake *fake = user_data;
  gsize n = n_values;
  g_array_append_val (fake->sizes, n);
  if (fake->fail_start_at == fake->sizes->len)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED, "start failed");
      return NULL;
    }
  for (guint i = 0; i < fake->params->len; i++)
    if (mact_tensor_get_grad (fake->params->pdata[i]) == NULL)
      {
        fake->early_starts++;
        break;
      }
  FakeRequest *req = g_new0 (FakeRequest, 1);
  req->fake = fake;
  fake->live_requests++;
  return req;
}

static gboolean
fake_wait (gpointer request, gboolean block, gboolean *done, gpointer user_data,
           GError **error)
{
  FakeRequest *req = request;
  if (req->fake->fail_wait)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_TIMEOUT, "wait failed");
      return FALSE;
    }
  /* Completes on the third poll, or when waited for: some stay in flight for a while. */
  *done = block || ++req->polls >= 3;
  return TRUE;
}

static void
fake_free (gpointer request)
{
  FakeRequest *req = request;
  req->fake->live_requests--;
  g_free (req);
}

static MactRunner *
fake_rank0_runner (Fake *fake, gboolean overlap, double cap_mb, const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) config = mact_test_dist_config (4, 16, 1);
  MactRunner *runner = mact_runner_new (config, &error);
  assert_null (error);
  g_object_set (runner, "work-dir", dir, "bucket-cap-mb", cap_mb, NULL);
  memset (fake, 0, sizeof *fake);
  fake->params = mact_optimizer_get_params (mact_runner_get_optimizer (runner));
  fake->sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  mact_runner_set_distributed (runner, 0, 2, fake_all_reduce, fake);
  if (overlap)
    mact_runner_set_async_all_reduce (runner, fake_start, fake_wait, fake_free);
  return runner;
}

static void
fake_clear (Fake *fake)
{
  g_ptr_array_unref (fake->params);
  g_array_unref (fake->sizes);
}

static void
test_buckets (void **state)
{
  g_autofree char *dir = mact_test_dist_tmp_dir ();
  const double cap_mb = 0.004;              /* 1048 floats: several buckets */
  Fake fake;
  g_autoptr(MactRunner) runner = fake_rank0_runner (&fake, TRUE, cap_mb, dir);
  double got_cap = 0;
  g_object_get (runner, "bucket-cap-mb", &got_cap, NULL);
  assert_true (got_cap == cap_mb);

  g_autoptr(GError) error = NULL;
  assert_true (mact_runner_train (runner, NULL, &error));
  assert_null (error);
  const guint iters = (guint) mact_runner_get_iter (runner);
  assert_int_equal (iters, 2);              /* 16 samples, 2 ranks, 4 per batch */

  /* The expected buckets: parameters last first, a bucket closed once it holds the cap;
   * each sum carries one presence flag per parameter after the gradients. */
  const double cap = cap_mb * 1024 * 1024 / sizeof (float);
  g_autoptr(GArray) expect = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize numel = 0, count = 0, total = 0;
  for (guint i = fake.params->len; i-- > 0;)
    {
      numel += (gsize) mact_tensor_get_numel (fake.params->pdata[i]);
      count++;
      if ((double) numel >= cap || i == 0)
        {
          gsize n = numel + count;
          g_array_append_val (expect, n);
          total += n;
          numel = count = 0;
        }
    }
  assert_true (expect->len >= 3);
  assert_int_equal (fake.sizes->len, iters * expect->len);
  gsize sum = 0;
  for (guint i = 0; i < fake.sizes->len; i++)
    {
      assert_int_equal (g_array_index (fake.sizes, gsize, i),
                        g_array_index (expect, gsize, i % expect->len));
      sum += g_array_index (fake.sizes, gsize, i);
    }
  assert_int_equal (sum, iters * total);

  /* Overlap: every iteration started buckets while backward had not reached all
   * parameters yet. */
  assert_true (fake.early_starts >= iters);
  assert_int_equal (fake.live_requests, 0);
  /* Log vars, the initial broadcast and validation used the blocking sum. */
  assert_true (fake.blocking_calls > 0);

  fake_clear (&fake);
  mact_test_remove_tree (dir);
}

static void
test_overlapped_equals_blocking (void **state)
{
  g_autofree char *dir_a = mact_test_dist_tmp_dir ();
  g_autofree char *dir_b = mact_test_dist_tmp_dir ();
  g_autoptr(GError) error = NULL;
  Fake fa, fb;
  g_autoptr(MactRunner) a = fake_rank0_runner (&fa, TRUE, 0.004, dir_a);
  g_autoptr(MactRunner) b = fake_rank0_runner (&fb, FALSE, 0.004, dir_b);
  assert_true (mact_runner_train (a, NULL, &error));
  assert_true (mact_runner_train (b, NULL, &error));
  assert_null (error);
  assert_int_equal (fb.sizes->len, 0);      /* no async sums on the blocking path */
  assert_true (mact_test_dist_state_diff (MACT_MODULE (mact_runner_get_model (a)),
                                          MACT_MODULE (mact_runner_get_model (b))) == 0.0);
  fake_clear (&fa);
  fake_clear (&fb);
  mact_test_remove_tree (dir_a);
  mact_test_remove_tree (dir_b);
}

static void
test_collective_errors_end_training (void **state)
{
  g_autoptr(GError) error = NULL;
  {
    g_autofree char *dir = mact_test_dist_tmp_dir ();
    Fake fake;
    g_autoptr(MactRunner) runner = fake_rank0_runner (&fake, TRUE, 0.004, dir);
    fake.fail_start_at = 2;                 /* during backward, one bucket in flight */
    assert_false (mact_runner_train (runner, NULL, &error));
    mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED);
    assert_int_equal (fake.live_requests, 0);
    fake_clear (&fake);
    mact_test_remove_tree (dir);
  }
  {
    g_autofree char *dir = mact_test_dist_tmp_dir ();
    Fake fake;
    g_autoptr(MactRunner) runner = fake_rank0_runner (&fake, TRUE, 0.004, dir);
    fake.fail_wait = TRUE;
    assert_false (mact_runner_train (runner, NULL, &error));
    mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_TIMEOUT);
    assert_int_equal (fake.live_requests, 0);
    fake_clear (&fake);
    mact_test_remove_tree (dir);
  }
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_timeout_setting),
    cmocka_unit_test (test_launcher_detection),
    cmocka_unit_test (test_not_initialised),
    cmocka_unit_test (test_buckets),
    cmocka_unit_test (test_overlapped_equals_blocking),
    cmocka_unit_test (test_collective_errors_end_training),
  };
  return cmocka_run_group_tests_name ("distributed", tests, NULL, NULL);
}
