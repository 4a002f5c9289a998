/* Sum and mean over dimensions: PyTorch fixtures, finite differences, errors. */
#include "mact-test.h"

static const char *const cases[] = {
  "reduce_sum_1", "reduce_sum_02_keep", "reduce_sum_neg", "reduce_sum_all",
  "reduce_mean_2", "reduce_mean_01_keep", "reduce_mean_all",
};

static void
test_reduce_fixtures (void **state)
{
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(MactTestFixture) fx = mact_test_fixture_load (cases[c]);
      g_autoptr(GError) error = NULL;
      gint64 dims64[MACT_MAX_DIMS];
      gint dims[MACT_MAX_DIMS];
      const char *meta = mact_test_fixture_meta (fx, "dims");
      gint n = *meta ? mact_test_fixture_meta_ints (fx, "dims", dims64, MACT_MAX_DIMS) : 0;
      for (gint i = 0; i < n; i++)
        dims[i] = (gint) dims64[i];
      gboolean keep = mact_test_fixture_meta_int (fx, "keepdim");
      gboolean mean = mact_test_fixture_meta_int (fx, "mean");

      g_autoptr(MactTensor) x = mact_tensor_clone (mact_test_fixture_get (fx, "input"));
      assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
      g_autoptr(MactTensor) out = mean ? mact_mean (x, n, dims, keep, &error)
                                       : mact_sum (x, n, dims, keep, &error);
      assert_null (error);
      mact_test_assert_close (out, mact_test_fixture_get (fx, "output"), 1e-5, cases[c]);
      assert_true (mact_tensor_backward (out, mact_test_fixture_get (fx, "grad_output"), &error));
      mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, "grad_input"),
                              1e-5, cases[c]);
    }
}

typedef struct { gint n; gint dims[3]; gboolean keep, mean; } ReduceArgs;

static MactTensor *
call_reduce (MactTensor **in, gpointer data, GError **error)
{
  ReduceArgs *a = data;
  return a->mean ? mact_mean (in[0], a->n, a->dims, a->keep, error)
                 : mact_sum (in[0], a->n, a->dims, a->keep, error);
}

static void
test_reduce_gradcheck (void **state)
{
  ReduceArgs args[] = {
    { 1, { 0 }, FALSE, FALSE }, { 2, { 1, 3 }, TRUE, TRUE }, { 0, { 0 }, FALSE, TRUE },
    { 1, { -2 }, FALSE, FALSE },
  };
  const gint64 s[] = { 2, 3, 2, 4 };
  for (guint i = 0; i < G_N_ELEMENTS (args); i++)
    {
      g_autoptr(MactTensor) x = mact_test_random (4, s, 40 + i, -1.0, 1.0);
      assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
      MactTensor *in[] = { x };
      mact_test_gradcheck (call_reduce, in, 1, &args[i], 1e-2, 1e-2);
    }
}

static void
test_reduce_noncontiguous (void **state)
{
  const gint64 s[] = { 3, 4, 5 };
  g_autoptr(MactTensor) x = mact_test_random (3, s, 5, -1.0, 1.0);
  const gint perm[] = { 2, 0, 1 };
  g_autoptr(MactTensor) p = mact_tensor_permute (x, 3, perm, NULL);
  g_autoptr(MactTensor) pc = mact_tensor_contiguous (p);
  const gint d[] = { 1 };
  g_autoptr(MactTensor) a = mact_sum (p, 1, d, FALSE, NULL);
  g_autoptr(MactTensor) b = mact_sum (pc, 1, d, FALSE, NULL);
  mact_test_assert_close (a, b, 1e-6, "sum of permuted view");
}

static void
test_reduce_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3 };
  g_autoptr(MactTensor) x = mact_tensor_new (2, s, NULL);
  const gint bad[] = { 2 };
  const gint twice[] = { 1, -1 };
  MactTensor *r = mact_sum (x, 1, bad, FALSE, &error);
  assert_null (r);
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  r = mact_mean (x, 2, twice, FALSE, &error);
  assert_null (r);
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  const gint64 empty_shape[] = { 0, 3 };
  g_autoptr(MactTensor) empty = mact_tensor_new (2, empty_shape, NULL);
  const gint d0[] = { 0 };
  r = mact_mean (empty, 1, d0, FALSE, &error);
  assert_null (r);
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* The sum of nothing is zero, as in PyTorch. */
  g_autoptr(MactTensor) z = mact_sum (empty, 1, d0, FALSE, &error);
  assert_non_null (z);
  assert_int_equal (mact_tensor_get_numel (z), 3);
  assert_float_equal (mact_tensor_get_data (z)[0], 0.0f, 0.0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_reduce_fixtures),
    cmocka_unit_test (test_reduce_gradcheck),
    cmocka_unit_test (test_reduce_noncontiguous),
    cmocka_unit_test (test_reduce_errors),
  };
  return cmocka_run_group_tests_name ("ops-reduce", tests, NULL, NULL);
}
