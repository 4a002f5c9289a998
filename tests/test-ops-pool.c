/* test-ops-pool.c: max, average and adaptive average pooling against PyTorch fixtures
 * (tests/fixtures/gen_pool.py), finite differences, and every error path. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

typedef enum {
  OP_MAX2D,
  OP_MAX3D,
  OP_AVG2D,
  OP_AVG3D,
  OP_ADAPTIVE2D,
  OP_ADAPTIVE3D,
} PoolOp;

/* The parameters of one pool call; has_* FALSE passes NULL. */
typedef struct {
  PoolOp   op;
  gint     kernel[3], stride[3], padding[3], dilation[3];
  gboolean has_stride, has_padding, has_dilation;
  gboolean ceil_mode, count_include_pad;
  gint64   output_size[3];
} PoolParams;

static MactTensor *
apply_pool (const PoolParams *p, MactTensor *x, GError **error)
{
  const gint *s = p->has_stride ? p->stride : NULL;
  const gint *pad = p->has_padding ? p->padding : NULL;
  const gint *d = p->has_dilation ? p->dilation : NULL;

  switch (p->op)
    {
    case OP_MAX2D:
      return mact_max_pool2d (x, p->kernel, s, pad, d, p->ceil_mode, error);
    case OP_MAX3D:
      return mact_max_pool3d (x, p->kernel, s, pad, d, p->ceil_mode, error);
    case OP_AVG2D:
      return mact_avg_pool2d (x, p->kernel, s, pad, p->ceil_mode, p->count_include_pad,
                              error);
    case OP_AVG3D:
      return mact_avg_pool3d (x, p->kernel, s, pad, p->ceil_mode, p->count_include_pad,
                              error);
    case OP_ADAPTIVE2D:
      return mact_adaptive_avg_pool2d (x, p->output_size, error);
    case OP_ADAPTIVE3D:
      return mact_adaptive_avg_pool3d (x, p->output_size, error);
    default:
      fail_msg ("bad op");
    }
  return NULL;
}

static MactTensor *
pool_func (MactTensor **inputs, gpointer user_data, GError **error)
{
  return apply_pool (user_data, inputs[0], error);
}

/* Reads an int list from metadata; FALSE when it is empty ("not given"). */
static gboolean
meta_ints (MactTestFixture *f, const char *key, gint *out, gint n)
{
  gint64 v[3];

  if (mact_test_fixture_meta (f, key)[0] == '\0')
    return FALSE;
  assert_int_equal (mact_test_fixture_meta_ints (f, key, v, 3), n);
  for (gint i = 0; i < n; i++)
    out[i] = (gint) v[i];
  return TRUE;
}

static void
params_from_fixture (MactTestFixture *f, PoolParams *p)
{
  const char *op = mact_test_fixture_meta (f, "op");
  gint n = g_str_has_suffix (op, "3d") ? 3 : 2;

  memset (p, 0, sizeof *p);
  if (g_str_has_prefix (op, "max_pool"))
    p->op = n == 2 ? OP_MAX2D : OP_MAX3D;
  else if (g_str_has_prefix (op, "avg_pool"))
    p->op = n == 2 ? OP_AVG2D : OP_AVG3D;
  else if (g_str_has_prefix (op, "adaptive_avg_pool"))
    p->op = n == 2 ? OP_ADAPTIVE2D : OP_ADAPTIVE3D;
  else
    fail_msg ("unknown op %s", op);

  if (p->op == OP_ADAPTIVE2D || p->op == OP_ADAPTIVE3D)
    {
      assert_int_equal (mact_test_fixture_meta_ints (f, "output_size", p->output_size, 3),
                        n);
      return;
    }
  assert_true (meta_ints (f, "kernel", p->kernel, n));
  p->has_stride = meta_ints (f, "stride", p->stride, n);
  p->has_padding = meta_ints (f, "padding", p->padding, n);
  if (p->op == OP_MAX2D || p->op == OP_MAX3D)
    p->has_dilation = meta_ints (f, "dilation", p->dilation, n);
  p->ceil_mode = mact_test_fixture_meta_int (f, "ceil_mode") != 0;
  if (p->op == OP_AVG2D || p->op == OP_AVG3D)
    p->count_include_pad = mact_test_fixture_meta_int (f, "count_include_pad") != 0;
}

/* A non-contiguous view holding the same values as @x: the last two dims swapped in
 * memory and swapped back as a view. */
static MactTensor *
non_contiguous_copy (MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  gint nd = mact_tensor_get_ndim (x);
  g_autoptr(MactTensor) t = mact_tensor_transpose (x, nd - 2, nd - 1, &error);
  assert_non_null (t);
  g_autoptr(MactTensor) c = mact_tensor_contiguous (t);
  MactTensor *v = mact_tensor_transpose (c, nd - 2, nd - 1, &error);
  assert_non_null (v);
  assert_false (mact_tensor_is_contiguous (v));
  return v;
}

/* Forward, non-contiguous forward and backward of one fixture case. */
static void
check_fixture (const char *name)
{
  g_autoptr(MactTestFixture) f = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  PoolParams p;
  MactTensor *x = mact_test_fixture_get (f, "input");
  MactTensor *expected = mact_test_fixture_get (f, "output");

  params_from_fixture (f, &p);

  /* forward */
  g_autoptr(MactTensor) y = apply_pool (&p, x, &error);
  if (y == NULL)
    fail_msg ("%s: %s", name, error->message);
  mact_test_assert_close (y, expected, 1e-5, name);
  assert_null (mact_tensor_get_grad_fn_name (y));

  /* forward of a non-contiguous view */
  g_autoptr(MactTensor) xv = non_contiguous_copy (x);
  g_autoptr(MactTensor) yv = apply_pool (&p, xv, &error);
  assert_non_null (yv);
  mact_test_assert_close (yv, expected, 1e-5, name);

  /* backward */
  g_autoptr(MactTensor) xg = mact_tensor_clone (x);
  assert_true (mact_tensor_set_requires_grad (xg, TRUE, &error));
  g_autoptr(MactTensor) yg = apply_pool (&p, xg, &error);
  assert_non_null (yg);
  assert_non_null (mact_tensor_get_grad_fn_name (yg));
  mact_test_assert_close (yg, expected, 1e-5, name);
  if (!mact_tensor_backward (yg, mact_test_fixture_get (f, "grad_output"), &error))
    fail_msg ("%s: backward: %s", name, error->message);
  MactTensor *grad = mact_tensor_get_grad (xg);
  assert_non_null (grad);
  g_autofree char *what = g_strconcat (name, " grad_input", NULL);
  mact_test_assert_close (grad, mact_test_fixture_get (f, "grad_input"), 1e-5, what);
}

static void
check_fixtures (const char *const *names)
{
  for (gint i = 0; names[i] != NULL; i++)
    check_fixture (names[i]);
}

static void
test_max_pool2d_fixtures (void **state)
{
  static const char *const names[] = {
    "pool_max2d_basic", "pool_max2d_default_stride", "pool_max2d_ceil",
    "pool_max2d_ceil_drop", "pool_max2d_dilation", "pool_max2d_dilation_ceil",
    "pool_max2d_unbatched", "pool_max2d_ties", "pool_max2d_kernel_gt_input_ceil", NULL,
  };
  check_fixtures (names);
}

static void
test_max_pool3d_fixtures (void **state)
{
  static const char *const names[] = {
    "pool_max3d_133", "pool_max3d_ceil_dil", "pool_max3d_unbatched", "pool_max3d_ties",
    NULL,
  };
  check_fixtures (names);
}

static void
test_avg_pool2d_fixtures (void **state)
{
  static const char *const names[] = {
    "pool_avg2d_c0_i0", "pool_avg2d_c0_i1", "pool_avg2d_c1_i0", "pool_avg2d_c1_i1",
    "pool_avg2d_rect", "pool_avg2d_default_stride", "pool_avg2d_unbatched", NULL,
  };
  check_fixtures (names);
}

static void
test_avg_pool3d_fixtures (void **state)
{
  static const char *const names[] = {
    "pool_avg3d_c0_i0", "pool_avg3d_c0_i1", "pool_avg3d_c1_i0", "pool_avg3d_c1_i1",
    "pool_avg3d_cube", NULL,
  };
  check_fixtures (names);
}

static void
test_adaptive_fixtures (void **state)
{
  static const char *const names[] = {
    "pool_adaptive2d_basic", "pool_adaptive2d_up", "pool_adaptive2d_one",
    "pool_adaptive2d_unbatched", "pool_adaptive3d_basic", "pool_adaptive3d_up",
    "pool_adaptive3d_unbatched", NULL,
  };
  check_fixtures (names);
}

/* ---- finite differences ---- */

/* A leaf requiring grad whose values are distinct multiples of 0.1 (a permutation), so
 * that max pooling has no ties within a gradcheck step. */
static MactTensor *
distinct_input (gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *x = mact_tensor_new_empty (ndim, shape, &error);
  assert_non_null (x);
  gint64 n = mact_tensor_get_numel (x);
  float *d = mact_tensor_get_data (x);
  /* 37 is prime and does not divide the sizes used below: i -> 37 i mod n permutes. */
  assert_true (n % 37 != 0);
  for (gint64 i = 0; i < n; i++)
    d[i] = (float) ((i * 37) % n) * 0.1f - (float) n * 0.05f;
  assert_true (mact_tensor_set_requires_grad (x, TRUE, &error));
  return x;
}

static void
gradcheck_pool (const PoolParams *p, gint ndim, const gint64 *shape)
{
  g_autoptr(MactTensor) x = distinct_input (ndim, shape);
  MactTensor *inputs[1] = { x };
  mact_test_gradcheck (pool_func, inputs, 1, (gpointer) p, 1e-2, 1e-2);
}

static void
test_max_pool_gradcheck (void **state)
{
  const gint64 s2[] = { 1, 2, 5, 6 };
  const gint64 s3[] = { 1, 1, 3, 4, 5 };
  PoolParams a = { .op = OP_MAX2D, .kernel = { 3, 2 }, .stride = { 2, 1 },
                   .padding = { 1, 1 }, .has_stride = TRUE, .has_padding = TRUE,
                   .ceil_mode = TRUE };
  PoolParams b = { .op = OP_MAX2D, .kernel = { 2, 2 }, .stride = { 1, 2 },
                   .dilation = { 2, 1 }, .has_stride = TRUE, .has_dilation = TRUE };
  PoolParams c = { .op = OP_MAX3D, .kernel = { 1, 3, 3 }, .stride = { 1, 2, 2 },
                   .padding = { 0, 1, 1 }, .has_stride = TRUE, .has_padding = TRUE };
  PoolParams d = { .op = OP_MAX3D, .kernel = { 2, 2, 2 }, .stride = { 2, 1, 2 },
                   .dilation = { 1, 2, 1 }, .has_stride = TRUE, .has_dilation = TRUE,
                   .ceil_mode = TRUE };

  gradcheck_pool (&a, 4, s2);
  gradcheck_pool (&b, 4, s2);
  gradcheck_pool (&c, 5, s3);
  gradcheck_pool (&d, 5, s3);
}

static void
test_avg_pool_gradcheck (void **state)
{
  const gint64 s2[] = { 1, 2, 5, 6 };
  const gint64 s3[] = { 1, 1, 3, 4, 5 };

  for (gint ceil = 0; ceil < 2; ceil++)
    for (gint inc = 0; inc < 2; inc++)
      {
        PoolParams a = { .op = OP_AVG2D, .kernel = { 3, 2 }, .stride = { 2, 1 },
                         .padding = { 1, 1 }, .has_stride = TRUE, .has_padding = TRUE,
                         .ceil_mode = ceil, .count_include_pad = inc };
        PoolParams b = { .op = OP_AVG3D, .kernel = { 2, 3, 3 }, .stride = { 1, 2, 2 },
                         .padding = { 1, 1, 1 }, .has_stride = TRUE, .has_padding = TRUE,
                         .ceil_mode = ceil, .count_include_pad = inc };
        gradcheck_pool (&a, 4, s2);
        gradcheck_pool (&b, 5, s3);
      }
}

static void
test_adaptive_gradcheck (void **state)
{
  const gint64 s2[] = { 1, 2, 5, 6 };
  const gint64 s3[] = { 1, 1, 3, 4, 5 };
  PoolParams a = { .op = OP_ADAPTIVE2D, .output_size = { 3, 4 } };
  PoolParams b = { .op = OP_ADAPTIVE2D, .output_size = { 7, 2 } };
  PoolParams c = { .op = OP_ADAPTIVE3D, .output_size = { 2, 3, 4 } };

  gradcheck_pool (&a, 4, s2);
  gradcheck_pool (&b, 4, s2);
  gradcheck_pool (&c, 5, s3);
}

/* Hand-checked values: the divisor of a window clipped by ceil_mode. */
static void
test_avg_pool_ceil_divisor (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 1, 1, 6, 6 };
  g_autoptr(MactTensor) x = mact_tensor_new_full (4, shape, 1.0f, &error);
  const gint k[] = { 3, 3 }, s[] = { 2, 2 }, p[] = { 1, 1 };

  /* Including padding: the last window covers rows 5..6 of the padded input, 2 rows
   * (it stops at the padding's end), so the corner is 1 / (2 * 2) * 1 = 0.25. */
  g_autoptr(MactTensor) y = mact_avg_pool2d (x, k, s, p, TRUE, TRUE, &error);
  assert_non_null (y);
  assert_int_equal (mact_tensor_get_size (y, 2), 4);
  const gint64 i00[] = { 0, 0, 0, 0 }, i33[] = { 0, 0, 3, 3 }, i11[] = { 0, 0, 1, 1 };
  assert_float_equal (mact_tensor_get_item (y, i00), 4.0f / 9.0f, 1e-6);
  assert_float_equal (mact_tensor_get_item (y, i11), 1.0f, 1e-6);
  assert_float_equal (mact_tensor_get_item (y, i33), 0.25f, 1e-6);

  /* Excluding padding: every window averages ones. */
  g_autoptr(MactTensor) z = mact_avg_pool2d (x, k, s, p, TRUE, FALSE, &error);
  assert_non_null (z);
  assert_float_equal (mact_tensor_get_item (z, i00), 1.0f, 1e-6);
  assert_float_equal (mact_tensor_get_item (z, i33), 1.0f, 1e-6);
}

/* A window that only covers padding and dilated holes yields -inf, as in PyTorch, and
 * routes no gradient. */
static void
test_max_pool_empty_window (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 1, 1, 2, 2 };
  g_autoptr(MactTensor) x = mact_tensor_new_full (4, shape, 1.0f, &error);
  const gint k[] = { 2, 2 }, s[] = { 1, 1 }, p[] = { 1, 1 }, d[] = { 3, 3 };

  assert_true (mact_tensor_set_requires_grad (x, TRUE, &error));
  g_autoptr(MactTensor) y = mact_max_pool2d (x, k, s, p, d, FALSE, &error);
  assert_non_null (y);
  assert_int_equal (mact_tensor_get_numel (y), 1);
  assert_true (isinf (mact_tensor_item (y)) && mact_tensor_item (y) < 0);
  g_autoptr(MactTensor) g = mact_tensor_new_full (4, (const gint64[]) { 1, 1, 1, 1 },
                                                  1.0f, &error);
  assert_true (mact_tensor_backward (y, g, &error));
  MactTensor *grad = mact_tensor_get_grad (x);
  assert_non_null (grad);
  float v[4];
  mact_tensor_copy_to_array (grad, v);
  for (gint i = 0; i < 4; i++)
    assert_float_equal (v[i], 0.0f, 0.0);
}

/* ---- errors ---- */

static void
expect_error (const PoolParams *p, MactTensor *x, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) y = apply_pool (p, x, &error);
  assert_null (y);
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, code);
}

static MactTensor *
ones (gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_full (ndim, shape, 1.0f, &error);
  assert_non_null (t);
  return t;
}

/* A tensor with an empty dim. */
static MactTensor *
empty_tensor (gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new (ndim, shape, &error);
  assert_non_null (t);
  return t;
}

static void
test_errors_max_avg (void **state)
{
  const gint64 s1[] = { 8 };
  const gint64 s2[] = { 5, 6 };
  const gint64 s4[] = { 1, 2, 5, 6 };
  const gint64 s5[] = { 1, 2, 3, 5, 6 };
  const gint64 s6[] = { 1, 1, 2, 3, 5, 6 };
  const gint64 e4[] = { 1, 0, 5, 6 };
  const gint64 e5[] = { 1, 2, 3, 0, 6 };
  g_autoptr(MactTensor) x1 = ones (1, s1);
  g_autoptr(MactTensor) x2 = ones (2, s2);
  g_autoptr(MactTensor) x4 = ones (4, s4);
  g_autoptr(MactTensor) x5 = ones (5, s5);
  g_autoptr(MactTensor) x6 = ones (6, s6);
  g_autoptr(MactTensor) empty4 = empty_tensor (4, e4);
  g_autoptr(MactTensor) empty5 = empty_tensor (5, e5);
  const PoolOp ops[] = { OP_MAX2D, OP_AVG2D, OP_MAX3D, OP_AVG3D };

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      gboolean is3d = ops[i] == OP_MAX3D || ops[i] == OP_AVG3D;
      gboolean is_max = ops[i] == OP_MAX2D || ops[i] == OP_MAX3D;
      MactTensor *good = is3d ? x5 : x4;
      gint n = is3d ? 3 : 2;
      PoolParams p = { .op = ops[i], .kernel = { 2, 2, 2 } };

      /* wrong ndim */
      expect_error (&p, x1, MACT_TENSOR_ERROR_SHAPE);
      expect_error (&p, x2, MACT_TENSOR_ERROR_SHAPE);
      expect_error (&p, is3d ? x6 : x5, MACT_TENSOR_ERROR_SHAPE);
      if (is3d)
        {
          /* 3-D pools reject 3-D input too */
          g_autoptr(MactTensor) x3 = ones (3, s4 + 1);
          expect_error (&p, x3, MACT_TENSOR_ERROR_SHAPE);
        }
      /* empty input */
      expect_error (&p, is3d ? empty5 : empty4, MACT_TENSOR_ERROR_SHAPE);

      /* non-positive kernel sizes */
      p.kernel[n - 1] = 0;
      expect_error (&p, good, MACT_TENSOR_ERROR_SHAPE);
      p.kernel[n - 1] = -2;
      expect_error (&p, good, MACT_TENSOR_ERROR_SHAPE);
      p.kernel[n - 1] = 2;

      /* kernel larger than the padded input */
      p.kernel[n - 1] = 7;
      expect_error (&p, good, MACT_TENSOR_ERROR_SHAPE);
      p.kernel[n - 1] = 9;
      p.padding[n - 1] = 1;
      p.has_padding = TRUE;
      expect_error (&p, good, MACT_TENSOR_ERROR_SHAPE);
      p.kernel[n - 1] = 2;
      p.padding[n - 1] = 0;
      p.has_padding = FALSE;

      /* bad stride */
      p.has_stride = TRUE;
      p.stride[0] = p.stride[1] = p.stride[2] = 1;
      p.stride[0] = 0;
      expect_error (&p, good, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
      p.stride[0] = -1;
      expect_error (&p, good, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
      p.has_stride = FALSE;

      /* bad padding: negative, or more than half the kernel */
      p.has_padding = TRUE;
      p.padding[1] = -1;
      expect_error (&p, good, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
      p.padding[1] = 2;
      expect_error (&p, good, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
      p.padding[1] = 1;
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(MactTensor) y = apply_pool (&p, good, &error);
        assert_non_null (y);   /* padding == kernel / 2 is fine */
      }
      p.has_padding = FALSE;
      p.padding[1] = 0;

      /* bad dilation (max pools) */
      if (is_max)
        {
          p.has_dilation = TRUE;
          p.dilation[0] = p.dilation[1] = p.dilation[2] = 1;
          p.dilation[n - 1] = 0;
          expect_error (&p, good, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
          p.dilation[n - 1] = -1;
          expect_error (&p, good, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
          /* a dilated kernel spanning more than the input */
          p.dilation[n - 1] = 6;
          expect_error (&p, good, MACT_TENSOR_ERROR_SHAPE);
        }
    }
}

static void
test_errors_adaptive (void **state)
{
  const gint64 s2[] = { 5, 6 };
  const gint64 s4[] = { 1, 2, 5, 6 };
  const gint64 s5[] = { 1, 2, 3, 5, 6 };
  const gint64 s6[] = { 1, 1, 2, 3, 5, 6 };
  const gint64 e4[] = { 1, 2, 5, 0 };
  g_autoptr(MactTensor) x2 = ones (2, s2);
  g_autoptr(MactTensor) x4 = ones (4, s4);
  g_autoptr(MactTensor) x5 = ones (5, s5);
  g_autoptr(MactTensor) x6 = ones (6, s6);
  g_autoptr(MactTensor) empty4 = empty_tensor (4, e4);
  PoolParams a = { .op = OP_ADAPTIVE2D, .output_size = { 2, 2 } };
  PoolParams b = { .op = OP_ADAPTIVE3D, .output_size = { 2, 2, 2 } };

  expect_error (&a, x2, MACT_TENSOR_ERROR_SHAPE);
  expect_error (&a, x5, MACT_TENSOR_ERROR_SHAPE);
  expect_error (&b, x2, MACT_TENSOR_ERROR_SHAPE);
  expect_error (&b, x6, MACT_TENSOR_ERROR_SHAPE);
  expect_error (&a, empty4, MACT_TENSOR_ERROR_SHAPE);
  expect_error (&b, empty4, MACT_TENSOR_ERROR_SHAPE);

  a.output_size[1] = 0;
  expect_error (&a, x4, MACT_TENSOR_ERROR_SHAPE);
  a.output_size[0] = -3;
  expect_error (&a, x4, MACT_TENSOR_ERROR_SHAPE);
  b.output_size[2] = 0;
  expect_error (&b, x5, MACT_TENSOR_ERROR_SHAPE);
  b.output_size[2] = -1;
  expect_error (&b, x4, MACT_TENSOR_ERROR_SHAPE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_max_pool2d_fixtures),
    cmocka_unit_test (test_max_pool3d_fixtures),
    cmocka_unit_test (test_avg_pool2d_fixtures),
    cmocka_unit_test (test_avg_pool3d_fixtures),
    cmocka_unit_test (test_adaptive_fixtures),
    cmocka_unit_test (test_max_pool_gradcheck),
    cmocka_unit_test (test_avg_pool_gradcheck),
    cmocka_unit_test (test_adaptive_gradcheck),
    cmocka_unit_test (test_avg_pool_ceil_divisor),
    cmocka_unit_test (test_max_pool_empty_window),
    cmocka_unit_test (test_errors_max_avg),
    cmocka_unit_test (test_errors_adaptive),
  };
  return cmocka_run_group_tests_name ("ops-pool", tests, NULL, NULL);
}
