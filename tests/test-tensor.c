/* MactTensor: creation, overflow-checked sizes, views sharing storage, copies, bytes,
 * seeded random fills and the torch.nn.init initialisers, the thread-count setting. */
#include "mact-test.h"

#include <math.h>

static void
test_new_and_metadata (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3, 4 };
  g_autoptr(MactTensor) t = mact_tensor_new (3, s, &error);
  assert_non_null (t);
  assert_int_equal (mact_tensor_get_ndim (t), 3);
  assert_int_equal (mact_tensor_get_numel (t), 24);
  assert_int_equal (mact_tensor_get_size (t, -1), 4);
  assert_int_equal (mact_tensor_get_size (t, 3), -1);
  gint nd;
  const gint64 *st = mact_tensor_get_strides (t, &nd);
  assert_int_equal (st[0], 12);
  assert_int_equal (st[1], 4);
  assert_int_equal (st[2], 1);
  assert_true (mact_tensor_is_contiguous (t));
  /* 64-byte aligned storage. */
  assert_int_equal ((guintptr) mact_tensor_get_data (t) % MACT_TENSOR_ALIGNMENT, 0);
  for (int i = 0; i < 24; i++)
    assert_float_equal (mact_tensor_get_data (t)[i], 0.0f, 0.0);
  g_autofree char *str = mact_tensor_shape_to_string (t);
  assert_string_equal (str, "[2, 3, 4]");

  g_autoptr(MactTensor) f = mact_tensor_new_full (3, s, 2.5f, &error);
  assert_float_equal (mact_tensor_get_data (f)[23], 2.5f, 0.0);
  g_autoptr(MactTensor) sc = mact_tensor_new_scalar (7.0f);
  assert_int_equal (mact_tensor_get_ndim (sc), 0);
  assert_float_equal (mact_tensor_item (sc), 7.0f, 0.0);

  /* The boxed type copies by reference. */
  GType type = MACT_TYPE_TENSOR;
  assert_true (G_TYPE_IS_BOXED (type));
  MactTensor *copy = g_boxed_copy (type, t);
  assert_ptr_equal (copy, t);
  g_boxed_free (type, copy);
}

static void
test_shape_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 neg[] = { 2, -1 };
  assert_null (mact_tensor_new (2, neg, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW);

  const gint64 huge[] = { G_GINT64_CONSTANT (1) << 32, G_GINT64_CONSTANT (1) << 32 };
  assert_null (mact_tensor_new (2, huge, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW);

  const gint64 big[] = { G_MAXINT64 / 2, 3 };
  assert_null (mact_tensor_new_empty (2, big, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW);

  /* Representable but impossible to allocate on this machine: NO_MEMORY, not a crash. */
  const gint64 too_much[] = { G_GINT64_CONSTANT (1) << 60 };
  assert_null (mact_tensor_new_empty (1, too_much, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_NO_MEMORY);

  const gint64 seven[] = { 1, 1, 1, 1, 1, 1, 1 };
  assert_null (mact_tensor_new (7, seven, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  const float data[] = { 1, 2, 3 };
  const gint64 four[] = { 4 };
  assert_null (mact_tensor_new_from_data (data, 3, 1, four, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

static MactTensor *
arange (gint ndim, const gint64 *shape)
{
  g_autoptr(MactTensor) t = mact_tensor_new_empty (ndim, shape, NULL);
  float *d = mact_tensor_get_data (t);
  for (gint64 i = 0; i < mact_tensor_get_numel (t); i++)
    d[i] = (float) i;
  return g_steal_pointer (&t);
}

static void
test_views_share_storage (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3, 4 };
  g_autoptr(MactTensor) t = arange (3, s);

  const gint64 r[] = { 6, -1 };
  g_autoptr(MactTensor) v = mact_tensor_view (t, 2, r, &error);
  assert_non_null (v);
  assert_int_equal (mact_tensor_get_size (v, 1), 4);
  assert_true (mact_tensor_shares_storage (v, t));
  mact_tensor_get_data (v)[5] = 100.0f;   /* writes through */
  assert_float_equal (mact_tensor_get_data (t)[5], 100.0f, 0.0);
  mact_tensor_get_data (t)[5] = 5.0f;

  const gint perm[] = { 2, 0, 1 };
  g_autoptr(MactTensor) p = mact_tensor_permute (t, 3, perm, &error);
  assert_true (mact_tensor_shares_storage (p, t));
  assert_false (mact_tensor_is_contiguous (p));
  const gint64 idx[] = { 3, 1, 2 };   /* p[3,1,2] = t[1,2,3] = 12 + 8 + 3 */
  assert_float_equal (mact_tensor_get_item (p, idx), 23.0f, 0.0);

  /* A view of a non-contiguous tensor must go through reshape, which copies. */
  const gint64 flat[] = { 24 };
  assert_null (mact_tensor_view (p, 1, flat, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  g_autoptr(MactTensor) pr = mact_tensor_reshape (p, 1, flat, &error);
  assert_false (mact_tensor_shares_storage (pr, t));
  /* pr is p in row-major order: p[0,0,0]=0, p[0,0,1]=4, p[0,0,2]=8, p[0,1,0]=12 */
  assert_float_equal (mact_tensor_get_data (pr)[1], 4.0f, 0.0);
  assert_float_equal (mact_tensor_get_data (pr)[3], 12.0f, 0.0);

  g_autoptr(MactTensor) tr = mact_tensor_transpose (t, 0, -1, &error);
  assert_int_equal (mact_tensor_get_size (tr, 0), 4);
  assert_int_equal (mact_tensor_get_size (tr, 2), 2);

  g_autoptr(MactTensor) n = mact_tensor_narrow (t, 1, 1, 2, &error);
  assert_true (mact_tensor_shares_storage (n, t));
  assert_int_equal (mact_tensor_get_size (n, 1), 2);
  const gint64 i0[] = { 1, 0, 2 };   /* t[1,1,2] = 12 + 4 + 2 */
  assert_float_equal (mact_tensor_get_item (n, i0), 18.0f, 0.0);

  g_autoptr(MactTensor) sl = mact_tensor_slice (t, 2, 1, 100, 2, &error);
  assert_int_equal (mact_tensor_get_size (sl, 2), 2);   /* indices 1, 3 */
  const gint64 i1[] = { 0, 0, 1 };
  assert_float_equal (mact_tensor_get_item (sl, i1), 3.0f, 0.0);

  g_autoptr(MactTensor) un = mact_tensor_unsqueeze (t, 1, &error);
  assert_int_equal (mact_tensor_get_ndim (un), 4);
  assert_int_equal (mact_tensor_get_size (un, 1), 1);
  g_autoptr(MactTensor) sq = mact_tensor_squeeze (un, 1, &error);
  assert_int_equal (mact_tensor_get_ndim (sq), 3);
  const gint64 ones_shape[] = { 1, 2, 1, 3, 1 };
  g_autoptr(MactTensor) ones = mact_tensor_new (5, ones_shape, NULL);
  g_autoptr(MactTensor) sqa = mact_tensor_squeeze_all (ones, &error);
  g_autofree char *sqa_s = mact_tensor_shape_to_string (sqa);
  assert_string_equal (sqa_s, "[2, 3]");
  g_autoptr(MactTensor) one = mact_tensor_new (2, (gint64[]) { 1, 1 }, NULL);
  g_autoptr(MactTensor) sq0 = mact_tensor_squeeze_all (one, &error);
  assert_int_equal (mact_tensor_get_ndim (sq0), 0);
  g_autoptr(MactTensor) fl = mact_tensor_flatten (t, 1, -1, &error);
  assert_int_equal (mact_tensor_get_size (fl, 1), 12);

  g_autoptr(MactTensor) c = mact_tensor_contiguous (p);
  assert_true (mact_tensor_is_contiguous (c));
  g_autoptr(MactTensor) c_flat = mact_tensor_view (c, 1, flat, &error);
  mact_test_assert_close (c_flat, pr, 0.0, "contiguous keeps the view's values");

  g_autoptr(MactTensor) same = mact_tensor_contiguous (t);
  assert_ptr_equal (same, t);
  g_autoptr(MactTensor) cl = mact_tensor_clone (t);
  assert_false (mact_tensor_shares_storage (cl, t));
  g_autoptr(MactTensor) de = mact_tensor_detach (t);
  assert_true (mact_tensor_shares_storage (de, t));
}

static void
test_view_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3 };
  g_autoptr(MactTensor) t = mact_tensor_new (2, s, NULL);
  const gint64 bad[] = { 4, 2 };
  assert_null (mact_tensor_view (t, 2, bad, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  const gint64 two_infer[] = { -1, -1 };
  assert_null (mact_tensor_reshape (t, 2, two_infer, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  const gint dup[] = { 0, 0 };
  assert_null (mact_tensor_permute (t, 2, dup, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  const gint three[] = { 0, 1, 2 };
  assert_null (mact_tensor_permute (t, 3, three, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_tensor_transpose (t, 0, 2, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_tensor_narrow (t, 1, 2, 2, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_tensor_slice (t, 0, 0, 2, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_tensor_squeeze (t, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_tensor_unsqueeze (t, 4, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  const gint64 other[] = { 3, 2 };
  g_autoptr(MactTensor) o = mact_tensor_new (2, other, NULL);
  assert_false (mact_tensor_copy_from (t, o, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

static void
test_bytes_roundtrip (void **state)
{
  g_autoptr(GError) error = NULL;
  float *values = g_new (float, 6);
  for (int i = 0; i < 6; i++)
    values[i] = (float) i * 0.5f;
  g_autoptr(GBytes) bytes = g_bytes_new_take (values, 6 * sizeof (float));
  const gint64 s[] = { 2, 3 };
  g_autoptr(MactTensor) t = mact_tensor_new_from_bytes (bytes, 2, s, &error);
  assert_non_null (t);
  /* Aligned input is shared, not copied. */
  assert_ptr_equal (mact_tensor_get_data (t), g_bytes_get_data (bytes, NULL));

  g_autoptr(MactTensor) tt = mact_tensor_transpose (t, 0, 1, NULL);
  g_autoptr(GBytes) out = mact_tensor_to_bytes (tt);
  gsize size;
  const float *o = g_bytes_get_data (out, &size);
  assert_int_equal (size, 6 * sizeof (float));
  assert_float_equal (o[1], 1.5f, 0.0);   /* tt[0,1] = t[1,0] */

  g_autoptr(GBytes) odd = g_bytes_new ("abcde", 5);
  assert_null (mact_tensor_new_from_bytes (odd, 1, s, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  const gint64 wrong[] = { 4 };
  assert_null (mact_tensor_new_from_bytes (bytes, 1, wrong, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

static void
stats (MactTensor *t, double *mean, double *std, double *lo, double *hi)
{
  gint64 n = mact_tensor_get_numel (t);
  const float *d = mact_tensor_get_data (t);
  double s = 0, s2 = 0;
  *lo = INFINITY;
  *hi = -INFINITY;
  for (gint64 i = 0; i < n; i++)
    {
      s += d[i];
      s2 += (double) d[i] * d[i];
      *lo = MIN (*lo, d[i]);
      *hi = MAX (*hi, d[i]);
    }
  *mean = s / n;
  *std = sqrt (s2 / n - *mean * *mean);
}

static void
test_random_fills (void **state)
{
  const gint64 s[] = { 200, 100 };
  g_autoptr(MactTensor) a = mact_tensor_new (2, s, NULL);
  g_autoptr(MactTensor) b = mact_tensor_new (2, s, NULL);
  g_autoptr(MactGenerator) g1 = mact_generator_new (42);
  g_autoptr(MactGenerator) g2 = mact_generator_new (42);
  mact_tensor_normal_ (a, g1, 1.0, 2.0);
  mact_tensor_normal_ (b, g2, 1.0, 2.0);
  mact_test_assert_close (a, b, 0.0, "same seed, same draws");
  double mean, std, lo, hi;
  stats (a, &mean, &std, &lo, &hi);
  assert_true (fabs (mean - 1.0) < 0.05);
  assert_true (fabs (std - 2.0) < 0.05);

  mact_tensor_uniform_ (a, g1, -3.0, 5.0);
  stats (a, &mean, &std, &lo, &hi);
  assert_true (lo >= -3.0 && hi < 5.0);
  assert_true (fabs (mean - 1.0) < 0.1);
  assert_true (fabs (std - 8.0 / sqrt (12.0)) < 0.05);

  mact_tensor_trunc_normal_ (a, g1, 0.0, 1.0, -0.5, 0.5);
  stats (a, &mean, &std, &lo, &hi);
  assert_true (lo >= -0.5 && hi <= 0.5);
  /* Variance of N(0,1) truncated to [-0.5, 0.5]: 1 - 2*0.5*phi(0.5)/(2*Phi(0.5)-1). */
  double phi = exp (-0.125) / sqrt (2 * G_PI);
  double z = erf (0.5 / sqrt (2.0));
  assert_true (fabs (std - sqrt (1.0 - phi / z)) < 0.01);

  /* A different seed gives different values; the default generator follows manual_seed. */
  g_autoptr(MactGenerator) g3 = mact_generator_new (43);
  mact_tensor_normal_ (b, g3, 1.0, 2.0);
  assert_true (mact_tensor_get_data (b)[0] != mact_tensor_get_data (a)[0]);
  mact_manual_seed (7);
  mact_tensor_uniform_ (a, NULL, 0.0, 1.0);
  mact_manual_seed (7);
  mact_tensor_uniform_ (b, NULL, 0.0, 1.0);
  mact_test_assert_close (a, b, 0.0, "manual_seed");

  /* Strided fill draws in row-major order of the view. */
  g_autoptr(MactTensor) small = mact_tensor_new (2, (gint64[]) { 3, 4 }, NULL);
  g_autoptr(MactTensor) view = mact_tensor_transpose (small, 0, 1, NULL);
  g_autoptr(MactGenerator) g4 = mact_generator_new (9);
  mact_tensor_uniform_ (view, g4, 0.0, 1.0);
  g_autoptr(MactGenerator) g5 = mact_generator_new (9);
  double first = mact_generator_next_double (g5), second = mact_generator_next_double (g5);
  assert_float_equal (mact_tensor_get_data (small)[0], (float) first, 0.0);
  assert_float_equal (mact_tensor_get_data (small)[4], (float) second, 0.0);
}

static void
test_initialisers (void **state)
{
  g_autoptr(GError) error = NULL;
  /* Conv weight [64, 32, 3, 3]: fan_in = 288, fan_out = 576. */
  const gint64 s[] = { 64, 32, 3, 3 };
  g_autoptr(MactTensor) w = mact_tensor_new (4, s, NULL);
  gint64 fi, fo;
  assert_true (mact_tensor_calculate_fans (w, &fi, &fo, &error));
  assert_int_equal (fi, 288);
  assert_int_equal (fo, 576);
  g_autoptr(MactGenerator) g = mact_generator_new (1);
  double mean, std, lo, hi;

  assert_true (mact_tensor_kaiming_normal_ (w, g, 0.0, MACT_FAN_OUT, "relu", &error));
  stats (w, &mean, &std, &lo, &hi);
  assert_true (fabs (std - sqrt (2.0 / 576)) / sqrt (2.0 / 576) < 0.03);

  assert_true (mact_tensor_kaiming_uniform_ (w, g, sqrt (5.0), MACT_FAN_IN, NULL, &error));
  /* PyTorch's default conv init: bound = 1 / sqrt(fan_in). */
  stats (w, &mean, &std, &lo, &hi);
  double bound = 1.0 / sqrt (288.0);
  assert_true (hi <= bound && lo >= -bound && hi > 0.99 * bound);

  assert_true (mact_tensor_xavier_uniform_ (w, g, 1.0, &error));
  stats (w, &mean, &std, &lo, &hi);
  bound = sqrt (6.0 / (288 + 576));
  assert_true (hi <= bound && hi > 0.99 * bound);
  assert_true (mact_tensor_xavier_normal_ (w, g, 2.0, &error));
  stats (w, &mean, &std, &lo, &hi);
  assert_true (fabs (std - 2.0 * sqrt (2.0 / 864)) / (2.0 * sqrt (2.0 / 864)) < 0.03);

  double gain;
  assert_true (mact_calculate_gain ("tanh", 0, &gain, &error));
  assert_float_equal (gain, 5.0 / 3.0, 1e-12);
  assert_true (mact_calculate_gain ("leaky_relu", -1, &gain, &error));
  assert_float_equal (gain, sqrt (2.0 / (1 + 0.0001)), 1e-12);
  assert_false (mact_calculate_gain ("gelu-ish", 0, &gain, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);

  const gint64 one[] = { 5 };
  g_autoptr(MactTensor) v = mact_tensor_new (1, one, NULL);
  assert_false (mact_tensor_kaiming_uniform_ (v, g, 0, MACT_FAN_IN, "relu", &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_false (mact_tensor_xavier_normal_ (v, g, 1.0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

static void
test_num_threads (void **state)
{
  /* meson's test environment sets MACT_NUM_THREADS=2. */
  assert_int_equal (mact_get_num_threads (), 2);
  mact_set_num_threads (1);
  assert_int_equal (mact_get_num_threads (), 1);
  mact_set_num_threads (0);   /* back to the environment's choice */
  assert_int_equal (mact_get_num_threads (), 2);
  assert_int_equal (mact_get_major_version (), MACT_MAJOR_VERSION);
  assert_true (MACT_CHECK_VERSION (0, 1, 0));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_new_and_metadata),
    cmocka_unit_test (test_shape_errors),
    cmocka_unit_test (test_views_share_storage),
    cmocka_unit_test (test_view_errors),
    cmocka_unit_test (test_bytes_roundtrip),
    cmocka_unit_test (test_random_fills),
    cmocka_unit_test (test_initialisers),
    cmocka_unit_test (test_num_threads),
  };
  return cmocka_run_group_tests_name ("tensor", tests, NULL, NULL);
}
