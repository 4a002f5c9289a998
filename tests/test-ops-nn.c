/* Batch norm, softmax, log-softmax, dropout and one-hot: forward, running statistics and
 * gradients against PyTorch fixtures (tests/fixtures/gen_nn.py), gradients against finite
 * differences, dropout's determinism and mask, and every error path.  SyncBN against
 * batch norm: with one process, and with two ranks run as threads of this process. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

/* A leaf copy of a fixture tensor, optionally requiring grad. */
static MactTensor *
leaf (MactTestFixture *fx, const char *key, gboolean requires_grad)
{
  MactTensor *t = mact_tensor_clone (mact_test_fixture_get (fx, key));
  assert_true (mact_tensor_set_requires_grad (t, requires_grad, NULL));
  return t;
}

static MactTensor *
ones (gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_full (ndim, shape, 1.0f, &error);
  assert_non_null (t);
  return t;
}

/* ---------------------------------------------------------------------- batch norm */

static void
check_batch_norm_fixture (const char *name)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  gboolean training = mact_test_fixture_meta_int (fx, "training") != 0;
  gboolean affine = mact_test_fixture_meta_int (fx, "affine") != 0;
  gboolean running = mact_test_fixture_meta_int (fx, "running") != 0;
  double momentum = mact_test_fixture_meta_double (fx, "momentum");
  double eps = mact_test_fixture_meta_double (fx, "eps");

  g_autoptr(MactTensor) x = leaf (fx, "input", TRUE);
  g_autoptr(MactTensor) w = affine ? leaf (fx, "weight", TRUE) : NULL;
  g_autoptr(MactTensor) b = affine ? leaf (fx, "bias", TRUE) : NULL;
  g_autoptr(MactTensor) rm = running ? leaf (fx, "running_mean", FALSE) : NULL;
  g_autoptr(MactTensor) rv = running ? leaf (fx, "running_var", FALSE) : NULL;

  g_autoptr(MactTensor) y = mact_batch_norm (x, rm, rv, w, b, training, momentum, eps,
                                             &error);
  assert_null (error);
  mact_test_assert_close (y, mact_test_fixture_get (fx, "output"), 1e-5, name);
  assert_string_equal (mact_tensor_get_grad_fn_name (y), "BatchNormBackward");
  if (running)
    {
      /* Updated in place in training (with the unbiased variance), untouched in eval. */
      mact_test_assert_close (rm, mact_test_fixture_get (fx, "running_mean_out"), 1e-5,
                              "running_mean");
      mact_test_assert_close (rv, mact_test_fixture_get (fx, "running_var_out"), 1e-5,
                              "running_var");
    }

  assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, "grad_output"), &error));
  mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, "grad_input"),
                          1e-5, "grad_input");
  if (affine)
    {
      mact_test_assert_close (mact_tensor_get_grad (w),
                              mact_test_fixture_get (fx, "grad_weight"), 1e-5, "grad_weight");
      mact_test_assert_close (mact_tensor_get_grad (b),
                              mact_test_fixture_get (fx, "grad_bias"), 1e-5, "grad_bias");
    }
  if (running)
    {
      assert_null (mact_tensor_get_grad (rm));
      assert_null (mact_tensor_get_grad (rv));
    }
}

static void
test_batch_norm_train_fixtures (void **state)
{
  check_batch_norm_fixture ("bn_train_2d");
  check_batch_norm_fixture ("bn_train_3d");
  check_batch_norm_fixture ("bn_train_4d_noaffine");
  check_batch_norm_fixture ("bn_train_5d_nostats");
}

static void
test_batch_norm_eval_fixtures (void **state)
{
  check_batch_norm_fixture ("bn_eval_4d");
  check_batch_norm_fixture ("bn_eval_2d_noaffine");
}

/* Two successive training steps keep folding the batch statistics in with momentum;
 * momentum 0 leaves the buffers alone and momentum 1 replaces them. */
static void
test_batch_norm_running_update (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 4, 2 }, cshape[] = { 2 };
  const float xv[] = { 1, 10, 2, 20, 3, 30, 6, 40 };
  g_autoptr(MactTensor) x = mact_tensor_new_from_data (xv, 8, 2, shape, &error);
  g_autoptr(MactTensor) rm = mact_tensor_new (1, cshape, &error);
  g_autoptr(MactTensor) rv = ones (1, cshape);
  /* channel 0: mean 3, unbiased var 14/3; channel 1: mean 25, unbiased var 500/3 */
  const double mean[] = { 3.0, 25.0 }, var[] = { 14.0 / 3.0, 500.0 / 3.0 };

  for (int step = 1; step <= 2; step++)
    {
      g_autoptr(MactTensor) y = mact_batch_norm (x, rm, rv, NULL, NULL, TRUE, 0.25, 1e-5,
                                                 &error);
      assert_non_null (y);
      for (int c = 0; c < 2; c++)
        {
          double keep = pow (0.75, step);
          double em = (1.0 - keep) * mean[c];
          double ev = keep * 1.0 + (1.0 - keep) * var[c];
          assert_float_equal (mact_tensor_get_data (rm)[c], em, 1e-4 * MAX (1.0, em));
          assert_float_equal (mact_tensor_get_data (rv)[c], ev, 1e-4 * MAX (1.0, ev));
        }
    }

  g_autoptr(MactTensor) rm0 = mact_tensor_clone (rm);
  g_autoptr(MactTensor) rv0 = mact_tensor_clone (rv);
  g_autoptr(MactTensor) y0 = mact_batch_norm (x, rm, rv, NULL, NULL, TRUE, 0.0, 1e-5, &error);
  assert_non_null (y0);
  mact_test_assert_close (rm, rm0, 0.0, "momentum 0 mean");
  mact_test_assert_close (rv, rv0, 0.0, "momentum 0 var");
  g_autoptr(MactTensor) y1 = mact_batch_norm (x, rm, rv, NULL, NULL, TRUE, 1.0, 1e-5, &error);
  assert_non_null (y1);
  for (int c = 0; c < 2; c++)
    {
      assert_float_equal (mact_tensor_get_data (rm)[c], mean[c], 1e-4 * mean[c]);
      assert_float_equal (mact_tensor_get_data (rv)[c], var[c], 1e-4 * var[c]);
    }

  /* Evaluation mode never touches the buffers. */
  g_autoptr(MactTensor) rm1 = mact_tensor_clone (rm);
  g_autoptr(MactTensor) ye = mact_batch_norm (x, rm, rv, NULL, NULL, FALSE, 0.5, 1e-5, &error);
  assert_non_null (ye);
  mact_test_assert_close (rm, rm1, 0.0, "eval leaves running_mean");
}

/* A permuted (non-contiguous) input and strided running statistics give the same result. */
static void
test_batch_norm_non_contiguous (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 3, 2, 4, 2 }, sshape[] = { 2, 3 };
  const gint perm[] = { 0, 3, 2, 1 };  /* [3, 2, 4, 2] -> [3, 2, 4, 2] with C and W swapped */
  g_autoptr(MactTensor) base = mact_test_random (4, shape, 3, -2.0, 2.0);
  g_autoptr(MactTensor) xp = mact_tensor_permute (base, 4, perm, &error);
  assert_false (mact_tensor_is_contiguous (xp));
  g_autoptr(MactTensor) xc = mact_tensor_contiguous (xp);

  /* Running stats as column 0 of a [2, 3] tensor: stride 3. */
  g_autoptr(MactTensor) stats = mact_test_random (2, sshape, 4, 0.5, 1.5);
  g_autoptr(MactTensor) rm_view = mact_tensor_narrow (stats, 1, 0, 1, &error);
  g_autoptr(MactTensor) rm = mact_tensor_squeeze (rm_view, 1, &error);
  g_autoptr(MactTensor) rv_view = mact_tensor_narrow (stats, 1, 1, 1, &error);
  g_autoptr(MactTensor) rv = mact_tensor_squeeze (rv_view, 1, &error);
  assert_false (mact_tensor_is_contiguous (rm));
  g_autoptr(MactTensor) rm2 = mact_tensor_clone (rm);
  g_autoptr(MactTensor) rv2 = mact_tensor_clone (rv);

  g_autoptr(MactTensor) y1 = mact_batch_norm (xp, rm, rv, NULL, NULL, TRUE, 0.1, 1e-5, &error);
  assert_non_null (y1);
  g_autoptr(MactTensor) y2 = mact_batch_norm (xc, rm2, rv2, NULL, NULL, TRUE, 0.1, 1e-5,
                                              &error);
  assert_non_null (y2);
  mact_test_assert_close (y1, y2, 1e-6, "permuted input");
  mact_test_assert_close (rm, rm2, 1e-6, "strided running_mean");
  mact_test_assert_close (rv, rv2, 1e-6, "strided running_var");
  /* Column 2 of @stats is not touched. */
  const gint64 idx[] = { 1, 2 };
  g_autoptr(MactTensor) fresh = mact_test_random (2, sshape, 4, 0.5, 1.5);
  assert_float_equal (mact_tensor_get_item (stats, idx), mact_tensor_get_item (fresh, idx), 0);
}

typedef struct {
  gboolean training;
  double   eps;
} BnArgs;

/* inputs: x, weight, bias, running_mean, running_var */
static MactTensor *
call_batch_norm (MactTensor **in, gpointer data, GError **error)
{
  BnArgs *a = data;
  return mact_batch_norm (in[0], in[3], in[4], in[1], in[2], a->training, 0.1, a->eps, error);
}

static void
test_batch_norm_gradcheck (void **state)
{
  const gint64 shapes[][4] = { { 4, 3 }, { 2, 2, 3 }, { 2, 2, 2, 2 } };
  const gint ndims[] = { 2, 3, 4 };

  for (guint i = 0; i < G_N_ELEMENTS (ndims); i++)
    for (int training = 0; training <= 1; training++)
      {
        gint64 c[] = { shapes[i][1] };
        g_autoptr(MactTensor) x = mact_test_random (ndims[i], shapes[i], 10 + i, -2.0, 2.0);
        g_autoptr(MactTensor) w = mact_test_random (1, c, 20 + i, 0.5, 1.5);
        g_autoptr(MactTensor) b = mact_test_random (1, c, 30 + i, -0.5, 0.5);
        g_autoptr(MactTensor) rm = mact_test_random (1, c, 40 + i, -0.5, 0.5);
        g_autoptr(MactTensor) rv = mact_test_random (1, c, 50 + i, 0.5, 1.5);
        assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
        assert_true (mact_tensor_set_requires_grad (w, TRUE, NULL));
        assert_true (mact_tensor_set_requires_grad (b, TRUE, NULL));
        BnArgs args = { training, 1e-3 };
        /* Training without running stats (they would drift between probes anyway). */
        MactTensor *in[] = { x, w, b, training ? NULL : rm, training ? NULL : rv };
        mact_test_gradcheck (call_batch_norm, in, 5, &args, 1e-2, 1e-2);
      }

  /* Without affine parameters: only the input. */
  const gint64 s[] = { 3, 2, 3 };
  g_autoptr(MactTensor) x = mact_test_random (3, s, 60, -1.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
  BnArgs args = { TRUE, 1e-5 };
  MactTensor *in[] = { x, NULL, NULL, NULL, NULL };
  mact_test_gradcheck (call_batch_norm, in, 5, &args, 1e-2, 1e-2);
}

/* Gradients only flow to what requires grad; no history is recorded in no-grad mode. */
static void
test_batch_norm_partial_grad (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3, 2, 2 }, c[] = { 2 };
  g_autoptr(MactTensor) x = mact_test_random (3, s, 1, -1.0, 1.0);
  g_autoptr(MactTensor) w = mact_test_random (1, c, 2, 0.5, 1.5);
  g_autoptr(MactTensor) b = mact_test_random (1, c, 3, -1.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (b, TRUE, NULL));
  g_autoptr(MactTensor) y = mact_batch_norm (x, NULL, NULL, w, b, TRUE, 0.1, 1e-5, &error);
  assert_non_null (y);
  g_autoptr(MactTensor) go = ones (3, s);
  assert_true (mact_tensor_backward (y, go, &error));
  assert_null (mact_tensor_get_grad (x));
  assert_null (mact_tensor_get_grad (w));
  /* d/dbias of sum(y) is the count per channel. */
  assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (b))[0], 6.0, 1e-5);
  assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (b))[1], 6.0, 1e-5);

  assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
  g_autoptr(MactTensor) y2 = NULL;
  MACT_NO_GRAD_BEGIN
  y2 = mact_batch_norm (x, NULL, NULL, w, b, TRUE, 0.1, 1e-5, &error);
  MACT_NO_GRAD_END
  assert_non_null (y2);
  assert_null (mact_tensor_get_grad_fn_name (y2));
  assert_false (mact_tensor_get_requires_grad (y2));
}

static void
test_batch_norm_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s1[] = { 4 }, s6[] = { 2, 2, 1, 1, 1, 2 }, s2[] = { 4, 3 }, c3[] = { 3 },
               c4[] = { 4 }, c31[] = { 3, 1 }, one[] = { 1, 3 }, one4[] = { 1, 3, 1, 1 },
               empty[] = { 0, 3 };
  g_autoptr(MactTensor) x1 = ones (1, s1);
  g_autoptr(MactTensor) x6 = ones (6, s6);
  g_autoptr(MactTensor) x = mact_test_random (2, s2, 1, -1.0, 1.0);
  g_autoptr(MactTensor) v3 = ones (1, c3);
  g_autoptr(MactTensor) v3b = ones (1, c3);
  g_autoptr(MactTensor) v4 = ones (1, c4);
  g_autoptr(MactTensor) v31 = ones (2, c31);
  g_autoptr(MactTensor) xone = ones (2, one);
  g_autoptr(MactTensor) xone4 = ones (4, one4);
  g_autoptr(MactTensor) xempty = mact_tensor_new (2, empty, &error);
  assert_non_null (xempty);

  /* SHAPE: input rank, empty input, per-channel shapes. */
  assert_null (mact_batch_norm (x1, NULL, NULL, NULL, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_batch_norm (x6, NULL, NULL, NULL, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_batch_norm (xempty, NULL, NULL, NULL, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_batch_norm (x, NULL, NULL, v4, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_batch_norm (x, NULL, NULL, NULL, v31, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_batch_norm (x, v4, v3, NULL, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_batch_norm (x, v3, v31, NULL, NULL, FALSE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  /* INVALID_ARGUMENT: one running stat only, eval without stats, one value per channel,
   * momentum and eps out of range. */
  assert_null (mact_batch_norm (x, v3, NULL, NULL, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (x, NULL, v3, NULL, NULL, FALSE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (x, NULL, NULL, v3, v3b, FALSE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (xone, v3, v3b, NULL, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (xone4, NULL, NULL, NULL, NULL, TRUE, 0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (x, NULL, NULL, NULL, NULL, TRUE, 1.5, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (x, NULL, NULL, NULL, NULL, TRUE, -0.1, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (x, NULL, NULL, NULL, NULL, TRUE, NAN, 1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (x, NULL, NULL, NULL, NULL, TRUE, 0.1, -1e-5, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm (x, NULL, NULL, NULL, NULL, TRUE, 0.1, INFINITY, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);

  /* A failed call leaves the running statistics alone; one value per channel is fine in
   * evaluation mode. */
  assert_float_equal (mact_tensor_get_data (v3)[0], 1.0, 0);
  g_autoptr(MactTensor) ok = mact_batch_norm (xone, v3, v3b, NULL, NULL, FALSE, 0.1, 1e-5,
                                              &error);
  assert_non_null (ok);
}
/* ---------------------------------------------------------------------- sync batch norm */

/* A sum that leaves the values alone (one process), counts its calls and fails the
 * call numbered fail_at (never when 0). */
typedef struct {
  guint calls;
  guint fail_at;
} CountingSum;

static gboolean
counting_reduce (float *values, gsize n_values, gpointer user_data, GError **error)
{
  CountingSum *sum = user_data;
  if (++sum->calls == sum->fail_at)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT, "peer gone");
      return FALSE;
    }
  return TRUE;
}

static void
assert_grads_close (MactTensor *a, MactTensor *b, double tol, const char *what)
{
  assert_non_null (mact_tensor_get_grad (a));
  assert_non_null (mact_tensor_get_grad (b));
  mact_test_assert_close (mact_tensor_get_grad (a), mact_tensor_get_grad (b), tol, what);
}

/* One process (the sum is the identity, or there is none): SyncBN is BatchNorm, in
 * values, running statistics and gradients; in evaluation mode nothing is reduced. */
static void
test_sync_batch_norm_one_process (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3, 4, 2, 5 }, c[] = { 4 };

  for (int use_reducer = 0; use_reducer <= 1; use_reducer++)
    for (int training = 0; training <= 1; training++)
      {
        g_autoptr(MactTensor) x = mact_test_random (4, s, 70, -2.0, 3.0);
        g_autoptr(MactTensor) g = mact_test_random (4, s, 71, -1.0, 1.0);
        g_autoptr(MactTensor) w = mact_test_random (1, c, 72, 0.5, 1.5);
        g_autoptr(MactTensor) b = mact_test_random (1, c, 73, -0.5, 0.5);
        g_autoptr(MactTensor) rm = mact_test_random (1, c, 74, -0.5, 0.5);
        g_autoptr(MactTensor) rv = mact_test_random (1, c, 75, 0.5, 1.5);
        g_autoptr(MactTensor) x2 = mact_tensor_clone (x), w2 = mact_tensor_clone (w);
        g_autoptr(MactTensor) b2 = mact_tensor_clone (b), rm2 = mact_tensor_clone (rm);
        g_autoptr(MactTensor) rv2 = mact_tensor_clone (rv);
        MactTensor *leaves[] = { x, w, b, x2, w2, b2 };
        for (guint i = 0; i < G_N_ELEMENTS (leaves); i++)
          assert_true (mact_tensor_set_requires_grad (leaves[i], TRUE, NULL));

        CountingSum sum = { 0, 0 };
        g_autoptr(MactTensor) y = mact_batch_norm (x, rm, rv, w, b, training, 0.1, 1e-5,
                                                   &error);
        g_autoptr(MactTensor) y2 = mact_sync_batch_norm (x2, rm2, rv2, w2, b2, training, 0.1,
                                                         1e-5,
                                                         use_reducer ? counting_reduce : NULL,
                                                         &sum, &error);
        assert_null (error);
        assert_non_null (y2);
        mact_test_assert_close (y2, y, 1e-5, "sync_batch_norm output");
        mact_test_assert_close (rm2, rm, 1e-6, "sync_batch_norm running_mean");
        mact_test_assert_close (rv2, rv, 1e-6, "sync_batch_norm running_var");
        assert_int_equal (sum.calls, use_reducer && training ? 2 : 0);

        assert_true (mact_tensor_backward (y, g, &error));
        assert_true (mact_tensor_backward (y2, g, &error));
        assert_null (error);
        assert_int_equal (sum.calls, use_reducer && training ? 3 : 0);
        assert_grads_close (x2, x, 1e-5, "sync_batch_norm grad input");
        assert_grads_close (w2, w, 1e-5, "sync_batch_norm grad weight");
        assert_grads_close (b2, b, 1e-5, "sync_batch_norm grad bias");
      }
}

/* Two ranks inside one process: two threads, each with its half of the batch, whose
 * sums meet here.  The last to arrive adds both arrays into both (the other is blocked,
 * so its array is alive), then releases the first. */
typedef struct {
  GMutex  lock;
  GCond   cond;
  float  *values[2];
  gsize   n_values[2];
  guint   arrived;
  guint   generation;
  gboolean mismatch;
} FakeGroup;

typedef struct {
  FakeGroup  *group;
  guint       rank;
  MactTensor *x, *g, *w, *b, *rm, *rv, *y;
  gboolean    ok;
} FakeRank;

static gboolean
fake_group_reduce (float *values, gsize n_values, gpointer user_data, GError **error)
{
  FakeRank *r = user_data;
  FakeGroup *grp = r->group;
  g_mutex_lock (&grp->lock);
  const guint generation = grp->generation;
  grp->values[r->rank] = values;
  grp->n_values[r->rank] = n_values;
  if (++grp->arrived == 2)
    {
      grp->mismatch |= grp->n_values[0] != grp->n_values[1];
      for (gsize i = 0; i < MIN (grp->n_values[0], grp->n_values[1]); i++)
        grp->values[0][i] = grp->values[1][i] = grp->values[0][i] + grp->values[1][i];
      grp->arrived = 0;
      grp->generation++;
      g_cond_broadcast (&grp->cond);
    }
  else
    while (grp->generation == generation)
      g_cond_wait (&grp->cond, &grp->lock);
  g_mutex_unlock (&grp->lock);
  return TRUE;
}

static gpointer
fake_rank_run (gpointer data)
{
  FakeRank *r = data;
  r->y = mact_sync_batch_norm (r->x, r->rm, r->rv, r->w, r->b, TRUE, 0.1, 1e-5,
                               fake_group_reduce, r, NULL);
  r->ok = r->y != NULL && mact_tensor_backward (r->y, r->g, NULL);
  return NULL;
}

/* Two ranks with 2 samples each normalise, update the running statistics and compute
 * input gradients as one batch norm over the 4 samples; the weight and bias gradients
 * are each rank's share (their sum is the whole batch's), as in PyTorch. */
static void
test_sync_batch_norm_two_ranks (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3, 2, 3 }, c[] = { 3 };
  FakeGroup grp = { 0 };
  g_mutex_init (&grp.lock);
  g_cond_init (&grp.cond);
  FakeRank ranks[2];
  g_autoptr(MactTensor) w = mact_test_random (1, c, 82, 0.5, 1.5);
  g_autoptr(MactTensor) b = mact_test_random (1, c, 83, -0.5, 0.5);

  for (guint r = 0; r < 2; r++)
    {
      /* Different distributions per rank, so local statistics would not do. */
      ranks[r] = (FakeRank) {
        .group = &grp, .rank = r,
        .x = mact_test_random (4, s, 90 + r, -1.0 + 2.0 * r, 1.0 + 3.0 * r),
        .g = mact_test_random (4, s, 95 + r, -1.0, 1.0),
        .w = mact_tensor_clone (w), .b = mact_tensor_clone (b),
        .rm = mact_tensor_new_full (1, c, 0.0f, NULL),
        .rv = mact_tensor_new_full (1, c, 1.0f, NULL),
      };
      assert_true (mact_tensor_set_requires_grad (ranks[r].x, TRUE, NULL));
      assert_true (mact_tensor_set_requires_grad (ranks[r].w, TRUE, NULL));
      assert_true (mact_tensor_set_requires_grad (ranks[r].b, TRUE, NULL));
    }

  /* The reference: one batch norm over the concatenated batch. */
  MactTensor *xs[] = { ranks[0].x, ranks[1].x }, *gs[] = { ranks[0].g, ranks[1].g };
  g_autoptr(MactTensor) x_all = NULL, g_all = NULL;
  MACT_NO_GRAD_BEGIN
  x_all = mact_cat (xs, 2, 0, &error);
  g_all = mact_cat (gs, 2, 0, &error);
  MACT_NO_GRAD_END
  assert_non_null (x_all);
  assert_true (mact_tensor_set_requires_grad (x_all, TRUE, NULL));
  g_autoptr(MactTensor) w_all = mact_tensor_clone (w), b_all = mact_tensor_clone (b);
  assert_true (mact_tensor_set_requires_grad (w_all, TRUE, NULL));
  assert_true (mact_tensor_set_requires_grad (b_all, TRUE, NULL));
  g_autoptr(MactTensor) rm_all = mact_tensor_new_full (1, c, 0.0f, NULL);
  g_autoptr(MactTensor) rv_all = mact_tensor_new_full (1, c, 1.0f, NULL);
  g_autoptr(MactTensor) y_all = mact_batch_norm (x_all, rm_all, rv_all, w_all, b_all, TRUE,
                                                 0.1, 1e-5, &error);
  assert_non_null (y_all);
  assert_true (mact_tensor_backward (y_all, g_all, &error));

  GThread *threads[2];
  for (guint r = 0; r < 2; r++)
    threads[r] = g_thread_new ("fake-rank", fake_rank_run, &ranks[r]);
  for (guint r = 0; r < 2; r++)
    g_thread_join (threads[r]);
  assert_true (ranks[0].ok && ranks[1].ok);
  assert_false (grp.mismatch);

  MactTensor *ys[] = { ranks[0].y, ranks[1].y };
  MactTensor *gxs[] = { mact_tensor_get_grad (ranks[0].x), mact_tensor_get_grad (ranks[1].x) };
  g_autoptr(MactTensor) y_cat = NULL, gx_cat = NULL;
  MACT_NO_GRAD_BEGIN
  y_cat = mact_cat (ys, 2, 0, &error);
  gx_cat = mact_cat (gxs, 2, 0, &error);
  MACT_NO_GRAD_END
  mact_test_assert_close (y_cat, y_all, 1e-5, "two-rank sync_batch_norm output");
  mact_test_assert_close (gx_cat, mact_tensor_get_grad (x_all), 1e-5,
                          "two-rank sync_batch_norm grad input");
  for (guint r = 0; r < 2; r++)
    {
      mact_test_assert_close (ranks[r].rm, rm_all, 1e-6, "two-rank running_mean");
      mact_test_assert_close (ranks[r].rv, rv_all, 1e-6, "two-rank running_var");
    }
  for (gint64 i = 0; i < c[0]; i++)
    {
      const float *gw0 = mact_tensor_get_data (mact_tensor_get_grad (ranks[0].w));
      const float *gw1 = mact_tensor_get_data (mact_tensor_get_grad (ranks[1].w));
      const float *gb0 = mact_tensor_get_data (mact_tensor_get_grad (ranks[0].b));
      const float *gb1 = mact_tensor_get_data (mact_tensor_get_grad (ranks[1].b));
      assert_float_equal (gw0[i] + gw1[i],
                          mact_tensor_get_data (mact_tensor_get_grad (w_all))[i], 1e-5);
      assert_float_equal (gb0[i] + gb1[i],
                          mact_tensor_get_data (mact_tensor_get_grad (b_all))[i], 1e-5);
    }

  for (guint r = 0; r < 2; r++)
    {
      MactTensor *owned[] = { ranks[r].x, ranks[r].g, ranks[r].w, ranks[r].b, ranks[r].rm,
                              ranks[r].rv, ranks[r].y };
      for (guint i = 0; i < G_N_ELEMENTS (owned); i++)
        mact_tensor_unref (owned[i]);
    }
  g_mutex_clear (&grp.lock);
  g_cond_clear (&grp.cond);
}

/* A failing sum is a GError from forward (prefixed with the op) and from backward. */
static void
test_sync_batch_norm_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 2, 3 }, one[] = { 1, 2 };
  g_autoptr(MactTensor) x = mact_test_random (3, s, 5, -1.0, 1.0);

  for (guint fail_at = 1; fail_at <= 2; fail_at++)
    {
      CountingSum sum = { 0, fail_at };
      g_autoptr(MactTensor) y = mact_sync_batch_norm (x, NULL, NULL, NULL, NULL, TRUE, 0.1,
                                                      1e-5, counting_reduce, &sum, &error);
      assert_null (y);
      assert_non_null (error);
      assert_non_null (strstr (error->message, "sync_batch_norm: peer gone"));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
      assert_int_equal (sum.calls, fail_at);
    }

  /* One value per channel is fine per process; over all processes (here one) it is
   * not. */
  CountingSum sum = { 0, 0 };
  g_autoptr(MactTensor) x1 = mact_test_random (2, one, 6, -1.0, 1.0);
  g_autoptr(MactTensor) y1 = mact_sync_batch_norm (x1, NULL, NULL, NULL, NULL, TRUE, 0.1,
                                                   1e-5, counting_reduce, &sum, &error);
  assert_null (y1);
  assert_non_null (strstr (error->message, "over all processes"));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);

  /* Backward's sum fails (the third call): backward reports it. */
  CountingSum late = { 0, 3 };
  assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
  g_autoptr(MactTensor) y2 = mact_sync_batch_norm (x, NULL, NULL, NULL, NULL, TRUE, 0.1, 1e-5,
                                                   counting_reduce, &late, &error);
  assert_non_null (y2);
  g_autoptr(MactTensor) g = mact_test_random (3, s, 7, -1.0, 1.0);
  assert_false (mact_tensor_backward (y2, g, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "sync_batch_norm backward: peer gone"));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_int_equal (late.calls, 3);
}


/* ------------------------------------------------------------------ softmax */

typedef MactTensor *(*SoftmaxFn) (MactTensor *, gint, GError **);

static void
check_softmax_fixture (const char *name)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  gint64 dims[8];
  gint n_dims = mact_test_fixture_meta_ints (fx, "dims", dims, 8);
  assert_true (n_dims > 0);
  const char *ops[] = { "softmax", "log_softmax" };
  SoftmaxFn fns[] = { mact_softmax, mact_log_softmax };

  for (gint i = 0; i < n_dims; i++)
    for (guint k = 0; k < 2; k++)
      {
        g_autoptr(GError) error = NULL;
        g_autofree char *tag = g_strdup_printf ("%s_%s%" G_GINT64_FORMAT, ops[k],
                                                dims[i] < 0 ? "m" : "", ABS (dims[i]));
        g_autofree char *k_out = g_strconcat (tag, "_output", NULL);
        g_autofree char *k_go = g_strconcat (tag, "_grad_output", NULL);
        g_autofree char *k_gi = g_strconcat (tag, "_grad_input", NULL);
        g_autoptr(MactTensor) x = leaf (fx, "input", TRUE);
        g_autoptr(MactTensor) y = fns[k] (x, (gint) dims[i], &error);
        assert_null (error);
        mact_test_assert_close (y, mact_test_fixture_get (fx, k_out), 1e-5, k_out);
        assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, k_go), &error));
        mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, k_gi),
                                1e-5, k_gi);
      }
}

static void
test_softmax_fixtures (void **state)
{
  check_softmax_fixture ("softmax_3d");
  check_softmax_fixture ("softmax_2d");
}

/* Logits near 100 would overflow exp() without the max shift. */
static void
test_softmax_large_logits (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("softmax_large");
  const char *ops[] = { "softmax", "log_softmax" };
  SoftmaxFn fns[] = { mact_softmax, mact_log_softmax };
  for (guint k = 0; k < 2; k++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *k_out = g_strconcat (ops[k], "_output", NULL);
      g_autofree char *k_gi = g_strconcat (ops[k], "_grad_input", NULL);
      g_autoptr(MactTensor) x = leaf (fx, "input", TRUE);
      g_autoptr(MactTensor) y = fns[k] (x, 1, &error);
      assert_non_null (y);
      mact_test_assert_close (y, mact_test_fixture_get (fx, k_out), 1e-5, k_out);
      assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, "grad_output"), &error));
      mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, k_gi), 1e-5,
                              k_gi);
    }
}

/* Softmax rows sum to 1; a transposed input gives the transposed result; 0-D input. */
static void
test_softmax_properties (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3, 4, 5 };
  g_autoptr(MactTensor) x = mact_test_random (3, s, 8, -3.0, 3.0);

  g_autoptr(MactTensor) y = mact_softmax (x, 1, &error);
  assert_non_null (y);
  const float *yd = mact_tensor_get_data (y);
  for (gint64 a = 0; a < 3; a++)
    for (gint64 c = 0; c < 5; c++)
      {
        double sum = 0.0;
        for (gint64 b = 0; b < 4; b++)
          sum += yd[(a * 4 + b) * 5 + c];
        assert_float_equal (sum, 1.0, 1e-5);
      }

  g_autoptr(MactTensor) xt = mact_tensor_transpose (x, 0, 2, &error);
  assert_false (mact_tensor_is_contiguous (xt));
  for (gint d = 0; d < 3; d++)
    {
      g_autoptr(MactTensor) a = mact_log_softmax (xt, d, &error);
      g_autoptr(MactTensor) ref = mact_log_softmax (x, 2 - d, &error);
      g_autoptr(MactTensor) ref_t = mact_tensor_transpose (ref, 0, 2, &error);
      g_autoptr(MactTensor) ref_tc = mact_tensor_contiguous (ref_t);
      assert_non_null (a);
      mact_test_assert_close (a, ref_tc, 1e-6, "transposed log_softmax");
    }

  g_autoptr(MactTensor) sc = mact_tensor_new_scalar (3.5f);
  g_autoptr(MactTensor) s0 = mact_softmax (sc, 0, &error);
  g_autoptr(MactTensor) l0 = mact_log_softmax (sc, -1, &error);
  assert_non_null (s0);
  assert_non_null (l0);
  assert_int_equal (mact_tensor_get_ndim (s0), 0);
  assert_float_equal (mact_tensor_item (s0), 1.0, 0);
  assert_float_equal (mact_tensor_item (l0), 0.0, 0);
}

typedef struct {
  SoftmaxFn fn;
  gint      dim;
} SoftmaxArgs;

static MactTensor *
call_softmax (MactTensor **in, gpointer data, GError **error)
{
  SoftmaxArgs *a = data;
  return a->fn (in[0], a->dim, error);
}

static void
test_softmax_gradcheck (void **state)
{
  const gint64 s[] = { 2, 3, 4 };
  const gint dims[] = { 0, 1, -1 };
  SoftmaxFn fns[] = { mact_softmax, mact_log_softmax };
  for (guint k = 0; k < 2; k++)
    for (guint i = 0; i < G_N_ELEMENTS (dims); i++)
      {
        g_autoptr(MactTensor) x = mact_test_random (3, s, 70 + i, -2.0, 2.0);
        assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
        SoftmaxArgs args = { fns[k], dims[i] };
        MactTensor *in[] = { x };
        mact_test_gradcheck (call_softmax, in, 1, &args, 1e-2, 1e-2);
      }
}

static void
test_softmax_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3 }, empty[] = { 2, 0 };
  g_autoptr(MactTensor) x = ones (2, s);
  g_autoptr(MactTensor) sc = mact_tensor_new_scalar (1.0f);
  g_autoptr(MactTensor) xe = mact_tensor_new (2, empty, &error);
  assert_non_null (xe);
  SoftmaxFn fns[] = { mact_softmax, mact_log_softmax };
  for (guint k = 0; k < 2; k++)
    {
      assert_null (fns[k] (x, 2, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (x, -3, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (sc, 1, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (xe, 1, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
    }
}

/* ------------------------------------------------------------------ dropout */

static void
test_dropout_determinism (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 10, 40 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 1, 0.5, 1.5);
  g_autoptr(MactGenerator) g1 = mact_generator_new (7);
  g_autoptr(MactGenerator) g2 = mact_generator_new (7);
  g_autoptr(MactGenerator) g3 = mact_generator_new (8);

  g_autoptr(MactTensor) a = mact_dropout (x, 0.5, TRUE, g1, &error);
  g_autoptr(MactTensor) b = mact_dropout (x, 0.5, TRUE, g2, &error);
  g_autoptr(MactTensor) c = mact_dropout (x, 0.5, TRUE, g3, &error);
  /* The generator advanced: the next mask differs from the first. */
  g_autoptr(MactTensor) a2 = mact_dropout (x, 0.5, TRUE, g1, &error);
  assert_non_null (a);
  assert_non_null (c);
  assert_non_null (a2);
  mact_test_assert_close (a, b, 0.0, "same seed, same mask");
  gint64 n = mact_tensor_get_numel (x);
  const float *ad = mact_tensor_get_data (a), *cd = mact_tensor_get_data (c),
              *a2d = mact_tensor_get_data (a2);
  gint64 diff_c = 0, diff_a2 = 0;
  for (gint64 i = 0; i < n; i++)
    {
      diff_c += (ad[i] == 0.0f) != (cd[i] == 0.0f);
      diff_a2 += (ad[i] == 0.0f) != (a2d[i] == 0.0f);
    }
  assert_true (diff_c > n / 4);
  assert_true (diff_a2 > n / 4);

  /* The default generator, reseeded, repeats itself too. */
  mact_manual_seed (42);
  g_autoptr(MactTensor) d1 = mact_dropout (x, 0.3, TRUE, NULL, &error);
  mact_manual_seed (42);
  g_autoptr(MactTensor) d2 = mact_dropout (x, 0.3, TRUE, NULL, &error);
  assert_non_null (d1);
  mact_test_assert_close (d1, d2, 0.0, "default generator");

  /* The mask does not depend on the number of threads. */
  gint threads = mact_get_num_threads ();
  const gint64 big[] = { 64, 512 };
  g_autoptr(MactTensor) xb = ones (2, big);
  g_autoptr(MactGenerator) g4 = mact_generator_new (9);
  g_autoptr(MactGenerator) g5 = mact_generator_new (9);
  mact_set_num_threads (1);
  g_autoptr(MactTensor) e1 = mact_dropout (xb, 0.5, TRUE, g4, &error);
  mact_set_num_threads (MAX (threads, 2));
  g_autoptr(MactTensor) e2 = mact_dropout (xb, 0.5, TRUE, g5, &error);
  mact_set_num_threads (threads);
  mact_test_assert_close (e1, e2, 0.0, "thread count");
}

/* Kept elements are scaled by 1 / (1 - p), about p of them are dropped. */
static void
test_dropout_scale (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 4000 };
  g_autoptr(MactTensor) x = ones (1, s);
  const double ps[] = { 0.1, 0.3, 0.5, 0.8 };
  for (guint k = 0; k < G_N_ELEMENTS (ps); k++)
    {
      g_autoptr(MactGenerator) gen = mact_generator_new (100 + k);
      g_autoptr(MactTensor) y = mact_dropout (x, ps[k], TRUE, gen, &error);
      assert_non_null (y);
      const float *yd = mact_tensor_get_data (y);
      const float scale = (float) (1.0 / (1.0 - ps[k]));
      gint64 dropped = 0;
      double sum = 0.0;
      for (gint64 i = 0; i < s[0]; i++)
        {
          if (yd[i] == 0.0f)
            dropped++;
          else
            assert_float_equal (yd[i], scale, 1e-6 * scale);
          sum += yd[i];
        }
      /* Binomial(4000, p): 5 standard deviations at most ~160. */
      assert_true (fabs ((double) dropped - ps[k] * s[0]) < 160.0);
      assert_true (fabs (sum / s[0] - 1.0) < 0.2);
    }

  /* p = 1 drops everything. */
  g_autoptr(MactGenerator) gen = mact_generator_new (1);
  g_autoptr(MactTensor) z = mact_dropout (x, 1.0, TRUE, gen, &error);
  assert_non_null (z);
  for (gint64 i = 0; i < s[0]; i++)
    assert_float_equal (mact_tensor_get_data (z)[i], 0.0, 0);
}

/* Evaluation mode and p = 0 return the input itself, drawing nothing. */
static void
test_dropout_identity (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3, 4 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 2, -1.0, 1.0);
  g_autoptr(MactGenerator) gen = mact_generator_new (5);
  g_autoptr(MactGenerator) ref = mact_generator_new (5);

  g_autoptr(MactTensor) e = mact_dropout (x, 0.5, FALSE, gen, &error);
  g_autoptr(MactTensor) z = mact_dropout (x, 0.0, TRUE, gen, &error);
  g_autoptr(MactTensor) e1 = mact_dropout (x, 1.0, FALSE, NULL, &error);
  assert_ptr_equal (e, x);
  assert_ptr_equal (z, x);
  assert_ptr_equal (e1, x);
  assert_true (mact_generator_next_uint64 (gen) == mact_generator_next_uint64 (ref));
}

/* Backward multiplies by the forward's mask, also through a non-contiguous input. */
static void
test_dropout_backward (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 6, 5 };
  g_autoptr(MactTensor) base = mact_test_random (2, s, 3, 0.5, 1.5);
  assert_true (mact_tensor_set_requires_grad (base, TRUE, NULL));
  g_autoptr(MactTensor) x = mact_tensor_transpose (base, 0, 1, &error);
  g_autoptr(MactTensor) xc = mact_tensor_contiguous (x);
  g_autoptr(MactGenerator) gen = mact_generator_new (11);
  const double p = 0.4;
  g_autoptr(MactTensor) y = mact_dropout (x, p, TRUE, gen, &error);
  assert_non_null (y);
  assert_string_equal (mact_tensor_get_grad_fn_name (y), "DropoutBackward");

  const gint64 ts[] = { 5, 6 };
  g_autoptr(MactTensor) go = mact_test_random (2, ts, 4, -1.0, 1.0);
  assert_true (mact_tensor_backward (y, go, &error));
  MactTensor *grad = mact_tensor_get_grad (base);  /* [6, 5] */
  assert_non_null (grad);
  const float scale = (float) (1.0 / (1.0 - p));
  const float *yd = mact_tensor_get_data (y), *xd = mact_tensor_get_data (xc),
              *gd = mact_tensor_get_data (go);
  gint64 kept = 0;
  for (gint64 i = 0; i < 5; i++)
    for (gint64 j = 0; j < 6; j++)
      {
        const gint64 gidx[] = { j, i };
        float m = yd[i * 6 + j] != 0.0f ? scale : 0.0f;
        kept += m != 0.0f;
        assert_float_equal (yd[i * 6 + j], xd[i * 6 + j] * m, 1e-6);
        assert_float_equal (mact_tensor_get_item (grad, gidx), gd[i * 6 + j] * m, 1e-6);
      }
  assert_true (kept > 0 && kept < 30);
}

static MactTensor *
call_dropout (MactTensor **in, gpointer data, GError **error)
{
  /* A fresh generator per call: every probe sees the same mask. */
  g_autoptr(MactGenerator) gen = mact_generator_new (GPOINTER_TO_UINT (data));
  return mact_dropout (in[0], 0.3, TRUE, gen, error);
}

static void
test_dropout_gradcheck (void **state)
{
  const gint64 s[] = { 4, 6 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 5, -1.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
  MactTensor *in[] = { x };
  mact_test_gradcheck (call_dropout, in, 1, GUINT_TO_POINTER (77), 1e-2, 1e-2);
}

static void
test_dropout_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3 };
  g_autoptr(MactTensor) x = ones (1, s);
  const double bad[] = { -0.1, 1.5, NAN, INFINITY };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      assert_null (mact_dropout (x, bad[k], TRUE, NULL, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
      /* Checked in evaluation mode too, as PyTorch does. */
      assert_null (mact_dropout (x, bad[k], FALSE, NULL, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
    }
}

/* ------------------------------------------------------------------ one_hot */

static void
check_one_hot_fixture (const char *name)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) y = mact_one_hot (mact_test_fixture_get (fx, "labels"),
                                          mact_test_fixture_meta_int (fx, "num_classes"),
                                          &error);
  assert_null (error);
  mact_test_assert_close (y, mact_test_fixture_get (fx, "output"), 0.0, name);
}

static void
test_one_hot (void **state)
{
  g_autoptr(GError) error = NULL;
  check_one_hot_fixture ("one_hot_2d");
  check_one_hot_fixture ("one_hot_1d");

  /* 0-D label: shape [num_classes]. */
  g_autoptr(MactTensor) sc = mact_tensor_new_scalar (2.0f);
  g_autoptr(MactTensor) y0 = mact_one_hot (sc, 4, &error);
  assert_non_null (y0);
  assert_int_equal (mact_tensor_get_ndim (y0), 1);
  assert_int_equal (mact_tensor_get_size (y0, 0), 4);
  const float e0[] = { 0, 0, 1, 0 };
  assert_memory_equal (mact_tensor_get_data (y0), e0, sizeof e0);

  /* Non-contiguous labels; labels that require grad give a result without history. */
  const float lv[] = { 0, 1, 2, 2, 1, 0 };
  const gint64 ls[] = { 2, 3 };
  g_autoptr(MactTensor) l = mact_tensor_new_from_data (lv, 6, 2, ls, &error);
  assert_true (mact_tensor_set_requires_grad (l, TRUE, NULL));
  g_autoptr(MactTensor) lt = mact_tensor_transpose (l, 0, 1, &error);  /* [[0,2],[1,1],[2,0]] */
  g_autoptr(MactTensor) y = mact_one_hot (lt, 3, &error);
  assert_non_null (y);
  assert_false (mact_tensor_get_requires_grad (y));
  const float ev[] = { 1, 0, 0, 0, 0, 1,
                       0, 1, 0, 0, 1, 0,
                       0, 0, 1, 1, 0, 0 };
  assert_memory_equal (mact_tensor_get_data (y), ev, sizeof ev);
}

static void
test_one_hot_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3 }, s6[] = { 1, 1, 1, 1, 1, 2 }, empty[] = { 0 };
  const float good[] = { 0, 1, 2 };
  g_autoptr(MactTensor) l = mact_tensor_new_from_data (good, 3, 1, s, &error);

  assert_null (mact_one_hot (l, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_one_hot (l, -1, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_one_hot (l, 2, &error));  /* label 2 out of range */
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);

  const float bad[][3] = { { 0, -1, 1 }, { 0, 1.5f, 1 }, { NAN, 0, 1 }, { 0, INFINITY, 0 } };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      g_autoptr(MactTensor) b = mact_tensor_new_from_data (bad[k], 3, 1, s, &error);
      assert_null (mact_one_hot (b, 3, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
    }

  g_autoptr(MactTensor) l6 = mact_tensor_new (6, s6, &error);
  assert_null (mact_one_hot (l6, 3, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  g_autoptr(MactTensor) le = mact_tensor_new (1, empty, &error);
  assert_non_null (le);
  assert_null (mact_one_hot (le, 3, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_batch_norm_train_fixtures),
    cmocka_unit_test (test_batch_norm_eval_fixtures),
    cmocka_unit_test (test_batch_norm_running_update),
    cmocka_unit_test (test_batch_norm_non_contiguous),
    cmocka_unit_test (test_batch_norm_gradcheck),
    cmocka_unit_test (test_batch_norm_partial_grad),
    cmocka_unit_test (test_batch_norm_errors),
    cmocka_unit_test (test_sync_batch_norm_one_process),
    cmocka_unit_test (test_sync_batch_norm_two_ranks),
    cmocka_unit_test (test_sync_batch_norm_errors),
    cmocka_unit_test (test_softmax_fixtures),
    cmocka_unit_test (test_softmax_large_logits),
    cmocka_unit_test (test_softmax_properties),
    cmocka_unit_test (test_softmax_gradcheck),
    cmocka_unit_test (test_softmax_errors),
    cmocka_unit_test (test_dropout_determinism),
    cmocka_unit_test (test_dropout_scale),
    cmocka_unit_test (test_dropout_identity),
    cmocka_unit_test (test_dropout_backward),
    cmocka_unit_test (test_dropout_gradcheck),
    cmocka_unit_test (test_dropout_errors),
    cmocka_unit_test (test_one_hot),
    cmocka_unit_test (test_one_hot_errors),
  };
  return cmocka_run_group_tests_name ("ops-nn", tests, NULL, NULL);
}
