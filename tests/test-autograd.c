/* The reverse-mode engine: gradient flow through shared subexpressions and views,
 * accumulation, no-grad scopes that record nothing, release of saved tensors, errors. */
#include "mact-test.h"

static MactTensor *
leaf (gint ndim, const gint64 *shape, guint64 seed)
{
  MactTensor *t = mact_test_random (ndim, shape, seed, -1.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (t, TRUE, NULL));
  return t;
}

static void
test_shared_subexpression (void **state)
{
  /* y = sum(x * x + x): dy/dx = 2x + 1; x feeds two nodes and a node feeds twice. */
  const gint64 s[] = { 3, 4 };
  g_autoptr(MactTensor) x = leaf (2, s, 1);
  g_autoptr(MactTensor) sq = mact_mul (x, x, NULL);
  g_autoptr(MactTensor) a = mact_add (sq, x, NULL);
  g_autoptr(MactTensor) y = mact_sum_all (a);
  assert_string_equal (mact_tensor_get_grad_fn_name (y), "SumBackward");
  assert_true (mact_tensor_is_leaf (x));
  assert_false (mact_tensor_is_leaf (y));
  assert_true (mact_tensor_backward (y, NULL, NULL));
  const float *xd = mact_tensor_get_data (x);
  const float *g = mact_tensor_get_data (mact_tensor_get_grad (x));
  for (int i = 0; i < 12; i++)
    assert_float_equal (g[i], 2 * xd[i] + 1, 1e-6);
}

static void
test_accumulates_across_backwards (void **state)
{
  const gint64 s[] = { 4 };
  g_autoptr(MactTensor) x = leaf (1, s, 2);
  for (int k = 0; k < 2; k++)
    {
      g_autoptr(MactTensor) y = mact_mul_scalar (x, 3.0f);
      g_autoptr(MactTensor) l = mact_sum_all (y);
      assert_true (mact_tensor_backward (l, NULL, NULL));
    }
  for (int i = 0; i < 4; i++)
    assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (x))[i], 6.0f, 1e-6);
  mact_tensor_set_grad (x, NULL);
  assert_null (mact_tensor_get_grad (x));
}

static void
test_no_grad_records_nothing (void **state)
{
  const gint64 s[] = { 2, 3 };
  g_autoptr(MactTensor) x = leaf (2, s, 3);
  assert_true (mact_grad_is_enabled ());
  MACT_NO_GRAD_BEGIN
  assert_false (mact_grad_is_enabled ());
  g_autoptr(MactTensor) y = mact_mul (x, x, NULL);
  g_autoptr(MactTensor) v = mact_tensor_transpose (y, 0, 1, NULL);
  assert_null (mact_tensor_get_grad_fn_name (y));
  assert_null (mact_tensor_get_grad_fn_name (v));
  assert_false (mact_tensor_get_requires_grad (y));
  g_autoptr(GError) error = NULL;
  assert_false (mact_tensor_backward (y, NULL, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD);
  MACT_NO_GRAD_END
  assert_true (mact_grad_is_enabled ());
}

static void
test_backward_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3 };
  g_autoptr(MactTensor) x = leaf (2, s, 4);
  g_autoptr(MactTensor) y = mact_mul (x, x, NULL);

  /* Non-scalar output without a gradient. */
  assert_false (mact_tensor_backward (y, NULL, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD);
  /* A gradient of the wrong shape. */
  const gint64 wrong[] = { 3, 2 };
  g_autoptr(MactTensor) gw = mact_tensor_new (2, wrong, NULL);
  assert_false (mact_tensor_backward (y, gw, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD);
  /* requires_grad of a non-leaf is fixed. */
  assert_false (mact_tensor_set_requires_grad (y, FALSE, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD);
  /* A second backward through a released graph. */
  g_autoptr(MactTensor) l = mact_sum_all (y);
  assert_true (mact_tensor_backward (l, NULL, &error));
  assert_false (mact_tensor_backward (l, NULL, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD);
  /* Nothing requires grad. */
  g_autoptr(MactTensor) plain = mact_tensor_new (2, s, NULL);
  assert_false (mact_tensor_backward (plain, NULL, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_AUTOGRAD);
}

typedef struct { int which; } ViewArgs;

static MactTensor *
view_chain (MactTensor **in, gpointer data, GError **error)
{
  /* Every view kind between two multiplications, so a wrong view backward shows. */
  MactTensor *x = in[0];
  g_autoptr(MactTensor) a = mact_mul (x, x, error);
  const gint perm[] = { 2, 0, 1 };
  g_autoptr(MactTensor) p = mact_tensor_permute (a, 3, perm, error);
  g_autoptr(MactTensor) n = mact_tensor_narrow (p, 0, 1, 2, error);
  g_autoptr(MactTensor) s = mact_tensor_slice (n, 2, 0, 3, 2, error);
  g_autoptr(MactTensor) t = mact_tensor_transpose (s, 1, 2, error);
  const gint64 flat[] = { -1 };
  g_autoptr(MactTensor) r = mact_tensor_reshape (t, 1, flat, error);
  g_autoptr(MactTensor) u = mact_tensor_unsqueeze (r, 0, error);
  g_autoptr(MactTensor) c = mact_tensor_clone (u);
  return mact_mul (c, c, error);
}

static void
test_view_gradients (void **state)
{
  const gint64 s[] = { 2, 3, 4 };
  g_autoptr(MactTensor) x = leaf (3, s, 5);
  MactTensor *in[] = { x };
  mact_test_gradcheck (view_chain, in, 1, NULL, 1e-2, 1e-2);
}

static void
test_detach_cuts_graph (void **state)
{
  const gint64 s[] = { 3 };
  g_autoptr(MactTensor) x = leaf (1, s, 6);
  g_autoptr(MactTensor) y = mact_mul_scalar (x, 2.0f);
  g_autoptr(MactTensor) d = mact_tensor_detach (y);
  assert_false (mact_tensor_get_requires_grad (d));
  g_autoptr(MactTensor) z = mact_mul (y, d, NULL);   /* d/dx (2x * const) = 2 * const */
  g_autoptr(MactTensor) l = mact_sum_all (z);
  assert_true (mact_tensor_backward (l, NULL, NULL));
  for (int i = 0; i < 3; i++)
    assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (x))[i],
                        2.0f * mact_tensor_get_data (d)[i], 1e-6);
}

static void
test_deep_chain (void **state)
{
  /* 20000 nodes: neither backward nor freeing the graph may recurse per node. */
  const gint64 s[] = { 2 };
  g_autoptr(MactTensor) x = leaf (1, s, 7);
  MactTensor *cur = mact_tensor_ref (x);
  for (int i = 0; i < 20000; i++)
    {
      MactTensor *next = mact_add_scalar (cur, 1.0f);
      mact_tensor_unref (cur);
      cur = next;
    }
  g_autoptr(MactTensor) l = mact_sum_all (cur);
  mact_tensor_unref (cur);
  assert_true (mact_tensor_backward (l, NULL, NULL));
  assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (x))[0], 1.0f, 0.0);
}

static void
test_backward_of_leaf_and_given_grad (void **state)
{
  const gint64 s[] = { 2 };
  g_autoptr(MactTensor) x = leaf (1, s, 8);
  g_autoptr(MactTensor) g = mact_tensor_new_full (1, s, 0.5f, NULL);
  assert_true (mact_tensor_backward (x, g, NULL));
  assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (x))[1], 0.5f, 0.0);
  /* The caller's gradient tensor is not adopted: changing it later changes nothing. */
  mact_tensor_fill (g, 9.0f);
  assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (x))[1], 0.5f, 0.0);
}

/* ---- the ready hook of mact_tensor_backward_full() ---- */

typedef struct {
  GPtrArray *leaves;     /* reported leaves, in order */
  GPtrArray *grads;      /* a copy of each one's grad when reported (or NULL) */
  MactTensor *fail_on;   /* report that returns an error */
} ReadyLog;

static gboolean
record_ready (MactTensor *leaf, gpointer user_data, GError **error)
{
  ReadyLog *log = user_data;
  g_ptr_array_add (log->leaves, leaf);
  MactTensor *g = mact_tensor_get_grad (leaf);
  g_ptr_array_add (log->grads, g != NULL ? mact_tensor_clone (g) : NULL);
  if (leaf == log->fail_on)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "stop here");
      return FALSE;
    }
  return TRUE;
}

static void
ready_log_init (ReadyLog *log)
{
  log->leaves = g_ptr_array_new ();
  log->grads = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  log->fail_on = NULL;
}

static void
ready_log_clear (ReadyLog *log)
{
  g_ptr_array_unref (log->leaves);
  g_ptr_array_unref (log->grads);
}

static gint
ready_index (ReadyLog *log, MactTensor *t)
{
  guint i;
  return g_ptr_array_find (log->leaves, t, &i) ? (gint) i : -1;
}

static void
test_ready_hook (void **state)
{
  /* A three-layer chain l = sum(relu(relu(x * w1) * w2) * w3) where w1 also feeds the
   * last layer (l += sum(w1 * w3)): backward finishes w3 first, then w2, and w1 only
   * after its early use, although its late use is reached first.  `unused` requires grad
   * but is not in the graph; `x` is a leaf that needs no grad. */
  const gint64 s[] = { 2, 3 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 20, -1.0, 1.0);
  g_autoptr(MactTensor) w1 = leaf (2, s, 21);
  g_autoptr(MactTensor) w2 = leaf (2, s, 22);
  g_autoptr(MactTensor) w3 = leaf (2, s, 23);
  g_autoptr(MactTensor) unused = leaf (2, s, 24);
  g_autoptr(MactTensor) a = mact_mul (x, w1, NULL);
  g_autoptr(MactTensor) ra = mact_relu (a);
  g_autoptr(MactTensor) b = mact_mul (ra, w2, NULL);
  g_autoptr(MactTensor) rb = mact_relu (b);
  g_autoptr(MactTensor) c = mact_mul (rb, w3, NULL);
  g_autoptr(MactTensor) d = mact_mul (w1, w3, NULL);
  g_autoptr(MactTensor) e = mact_add (c, d, NULL);
  g_autoptr(MactTensor) l = mact_sum_all (e);

  ReadyLog log;
  ready_log_init (&log);
  assert_true (mact_tensor_backward_full (l, NULL, record_ready, &log, NULL));

  /* Each reached leaf is reported once, the unused one never. */
  assert_int_equal (log.leaves->len, 3);
  assert_int_equal (ready_index (&log, unused), -1);
  assert_int_equal (ready_index (&log, x), -1);
  assert_true (ready_index (&log, w3) < ready_index (&log, w2));
  assert_true (ready_index (&log, w2) < ready_index (&log, w1));
  /* When reported, a gradient is already what it is at the end. */
  for (guint i = 0; i < log.leaves->len; i++)
    {
      MactTensor *reported = log.grads->pdata[i];
      assert_non_null (reported);
      mact_test_assert_close (reported, mact_tensor_get_grad (log.leaves->pdata[i]), 0.0,
                              "gradient when reported");
    }
  ready_log_clear (&log);
}

static void
test_ready_hook_unreached_and_leaf_root (void **state)
{
  /* Only the leaves of the graph being differentiated are reported: w feeds another
   * graph, not this one. */
  const gint64 s[] = { 4 };
  g_autoptr(MactTensor) w = leaf (1, s, 30);
  g_autoptr(MactTensor) v = leaf (1, s, 31);
  g_autoptr(MactTensor) other = mact_mul (w, w, NULL);
  g_autoptr(MactTensor) live = mact_mul_scalar (v, 2.0f);
  g_autoptr(MactTensor) l = mact_sum_all (live);
  ReadyLog log;
  ready_log_init (&log);
  assert_true (mact_tensor_backward_full (l, NULL, record_ready, &log, NULL));
  assert_int_equal (log.leaves->len, 1);
  assert_ptr_equal (log.leaves->pdata[0], v);
  ready_log_clear (&log);

  /* backward of a leaf itself reports that leaf. */
  ready_log_init (&log);
  g_autoptr(MactTensor) one = mact_tensor_new_full (1, s, 1.0f, NULL);
  assert_true (mact_tensor_backward_full (w, one, record_ready, &log, NULL));
  assert_int_equal (log.leaves->len, 1);
  assert_ptr_equal (log.leaves->pdata[0], w);
  ready_log_clear (&log);

  /* A NULL hook is plain backward. */
  mact_tensor_set_grad (w, NULL);
  g_autoptr(MactTensor) l3 = mact_sum_all (other);
  assert_true (mact_tensor_backward_full (l3, NULL, NULL, NULL, NULL));
  assert_non_null (mact_tensor_get_grad (w));
}

static void
test_ready_hook_error_stops_backward (void **state)
{
  const gint64 s[] = { 3 };
  g_autoptr(MactTensor) w1 = leaf (1, s, 40);
  g_autoptr(MactTensor) w2 = leaf (1, s, 41);
  g_autoptr(MactTensor) a = mact_mul (w1, w1, NULL);
  g_autoptr(MactTensor) b = mact_relu (a);
  g_autoptr(MactTensor) c = mact_mul (b, w2, NULL);
  g_autoptr(MactTensor) l = mact_sum_all (c);
  ReadyLog log;
  ready_log_init (&log);
  log.fail_on = w2;
  g_autoptr(GError) error = NULL;
  assert_false (mact_tensor_backward_full (l, NULL, record_ready, &log, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  /* Backward stopped at w2: w1, further down, got nothing. */
  assert_int_equal (log.leaves->len, 1);
  assert_null (mact_tensor_get_grad (w1));
  ready_log_clear (&log);

  /* Leaf root: the hook's error is returned too. */
  ready_log_init (&log);
  log.fail_on = w1;
  g_autoptr(MactTensor) one = mact_tensor_new_full (1, s, 1.0f, NULL);
  assert_false (mact_tensor_backward_full (w1, one, record_ready, &log, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  ready_log_clear (&log);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_shared_subexpression),
    cmocka_unit_test (test_accumulates_across_backwards),
    cmocka_unit_test (test_no_grad_records_nothing),
    cmocka_unit_test (test_backward_errors),
    cmocka_unit_test (test_view_gradients),
    cmocka_unit_test (test_detach_cuts_graph),
    cmocka_unit_test (test_deep_chain),
    cmocka_unit_test (test_backward_of_leaf_and_given_grad),
    cmocka_unit_test (test_ready_hook),
    cmocka_unit_test (test_ready_hook_unreached_and_leaf_root),
    cmocka_unit_test (test_ready_hook_error_stops_backward),
  };
  return cmocka_run_group_tests_name ("autograd", tests, NULL, NULL);
}
