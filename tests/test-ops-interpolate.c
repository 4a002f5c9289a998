/* test-ops-interpolate.c: mact_interpolate() against PyTorch fixtures
 * (tests/fixtures/gen_interpolate.py), finite differences, and every error path. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

typedef struct {
  gint                n_sizes;
  gint64              size[3];
  MactInterpolateMode mode;
  gboolean            align_corners;
} InterpParams;

static MactTensor *
interp_func (MactTensor **inputs, gpointer user_data, GError **error)
{
  const InterpParams *p = user_data;
  return mact_interpolate (inputs[0], p->n_sizes, p->size, p->mode, p->align_corners,
                           error);
}

static MactTensor *
non_contiguous_copy (MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  gint nd = mact_tensor_get_ndim (x);
  g_autoptr(MactTensor) t = mact_tensor_transpose (x, 0, nd - 1, &error);
  assert_non_null (t);
  g_autoptr(MactTensor) c = mact_tensor_contiguous (t);
  MactTensor *v = mact_tensor_transpose (c, 0, nd - 1, &error);
  assert_non_null (v);
  assert_false (mact_tensor_is_contiguous (v));
  return v;
}

static void
check_fixture (const char *name)
{
  g_autoptr(MactTestFixture) f = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  MactTensor *x = mact_test_fixture_get (f, "input");
  MactTensor *expected = mact_test_fixture_get (f, "output");
  const char *mode = mact_test_fixture_meta (f, "mode");
  InterpParams p;
  MactTensor *inputs[1];

  memset (&p, 0, sizeof p);
  p.n_sizes = mact_test_fixture_meta_ints (f, "output_size", p.size, 3);
  assert_int_equal (p.n_sizes, mact_tensor_get_ndim (x) - 2);
  if (g_str_equal (mode, "nearest"))
    p.mode = MACT_INTERPOLATE_NEAREST;
  else if (g_str_equal (mode, "linear"))
    p.mode = MACT_INTERPOLATE_LINEAR;
  else
    fail_msg ("%s: unknown mode %s", name, mode);
  p.align_corners = mact_test_fixture_meta_int (f, "align_corners") != 0;

  /* forward */
  inputs[0] = x;
  g_autoptr(MactTensor) y = interp_func (inputs, &p, &error);
  if (y == NULL)
    fail_msg ("%s: %s", name, error->message);
  mact_test_assert_close (y, expected, 1e-5, name);
  assert_null (mact_tensor_get_grad_fn_name (y));

  /* forward of a non-contiguous view */
  g_autoptr(MactTensor) xv = non_contiguous_copy (x);
  inputs[0] = xv;
  g_autoptr(MactTensor) yv = interp_func (inputs, &p, &error);
  assert_non_null (yv);
  mact_test_assert_close (yv, expected, 1e-5, name);

  /* backward */
  g_autoptr(MactTensor) xg = mact_tensor_clone (x);
  assert_true (mact_tensor_set_requires_grad (xg, TRUE, &error));
  inputs[0] = xg;
  g_autoptr(MactTensor) yg = interp_func (inputs, &p, &error);
  assert_non_null (yg);
  assert_non_null (mact_tensor_get_grad_fn_name (yg));
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
test_nearest_fixtures (void **state)
{
  static const char *const names[] = {
    "interp_nearest1d_up", "interp_nearest1d_down", "interp_nearest2d_up",
    "interp_nearest2d_down", "interp_nearest2d_x2", "interp_nearest3d_mixed",
    "interp_nearest3d_down", NULL,
  };
  check_fixtures (names);
}

static void
test_linear_fixtures (void **state)
{
  static const char *const names[] = {
    "interp_linear1d_up_ac0", "interp_linear1d_down_ac0", "interp_linear2d_up_ac0",
    "interp_linear2d_down_ac0", "interp_linear2d_mixed_ac0", "interp_linear2d_same_ac0",
    "interp_linear3d_up_ac0", "interp_linear3d_down_ac0",
    "interp_linear1d_up_ac1", "interp_linear1d_down_ac1", "interp_linear2d_up_ac1",
    "interp_linear2d_down_ac1", "interp_linear2d_mixed_ac1", "interp_linear2d_same_ac1",
    "interp_linear3d_up_ac1", "interp_linear3d_down_ac1", NULL,
  };
  check_fixtures (names);
}

/* Hand-checked values: bilinear 2x2 -> 3x3 with align_corners puts the input on the
 * corners and averages in between; nearest 2 -> 5 reads floor(o * 0.4). */
static void
test_known_values (void **state)
{
  g_autoptr(GError) error = NULL;
  const float data[] = { 0.0f, 2.0f, 4.0f, 6.0f };
  const gint64 shape[] = { 1, 1, 2, 2 };
  g_autoptr(MactTensor) x = mact_tensor_new_from_data (data, 4, 4, shape, &error);
  const gint64 size[] = { 3, 3 };
  g_autoptr(MactTensor) y = mact_interpolate (x, 2, size, MACT_INTERPOLATE_LINEAR, TRUE,
                                              &error);
  assert_non_null (y);
  const float expected[] = { 0, 1, 2, 2, 3, 4, 4, 5, 6 };
  float got[9];
  mact_tensor_copy_to_array (y, got);
  for (gint i = 0; i < 9; i++)
    assert_float_equal (got[i], expected[i], 1e-6);

  const float d1[] = { 10.0f, 20.0f };
  const gint64 s1[] = { 1, 1, 2 };
  g_autoptr(MactTensor) x1 = mact_tensor_new_from_data (d1, 2, 3, s1, &error);
  const gint64 size1[] = { 5 };
  g_autoptr(MactTensor) y1 = mact_interpolate (x1, 1, size1, MACT_INTERPOLATE_NEAREST,
                                               FALSE, &error);
  assert_non_null (y1);
  const float e1[] = { 10, 10, 10, 20, 20 };
  float g1[5];
  mact_tensor_copy_to_array (y1, g1);
  for (gint i = 0; i < 5; i++)
    assert_float_equal (g1[i], e1[i], 0.0);
}

static void
gradcheck_case (gint ndim, const gint64 *shape, const InterpParams *p)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) x = mact_test_random (ndim, shape, 99, -1.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, &error));
  MactTensor *inputs[1] = { x };
  mact_test_gradcheck (interp_func, inputs, 1, (gpointer) p, 1e-2, 1e-2);
}

static void
test_gradcheck (void **state)
{
  const gint64 s3[] = { 2, 2, 5 };
  const gint64 s4[] = { 1, 2, 4, 5 };
  const gint64 s5[] = { 1, 1, 3, 4, 3 };

  for (gint ac = 0; ac < 2; ac++)
    {
      InterpParams l1 = { 1, { 8 }, MACT_INTERPOLATE_LINEAR, ac };
      InterpParams l1d = { 1, { 3 }, MACT_INTERPOLATE_LINEAR, ac };
      InterpParams l2 = { 2, { 7, 3 }, MACT_INTERPOLATE_LINEAR, ac };
      InterpParams l3 = { 3, { 4, 2, 5 }, MACT_INTERPOLATE_LINEAR, ac };
      gradcheck_case (3, s3, &l1);
      gradcheck_case (3, s3, &l1d);
      gradcheck_case (4, s4, &l2);
      gradcheck_case (5, s5, &l3);
    }
  InterpParams n1 = { 1, { 7 }, MACT_INTERPOLATE_NEAREST, FALSE };
  InterpParams n2 = { 2, { 3, 8 }, MACT_INTERPOLATE_NEAREST, FALSE };
  InterpParams n3 = { 3, { 5, 3, 2 }, MACT_INTERPOLATE_NEAREST, FALSE };
  gradcheck_case (3, s3, &n1);
  gradcheck_case (4, s4, &n2);
  gradcheck_case (5, s5, &n3);
}

static void
expect_error (MactTensor *x, gint n_sizes, const gint64 *size, MactInterpolateMode mode,
              gboolean align_corners, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) y = mact_interpolate (x, n_sizes, size, mode, align_corners,
                                              &error);
  assert_null (y);
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, code);
}

static void
test_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s2[] = { 2, 5 };
  const gint64 s4[] = { 1, 2, 4, 5 };
  const gint64 s6[] = { 1, 1, 2, 3, 4, 5 };
  const gint64 e4[] = { 1, 2, 0, 5 };
  g_autoptr(MactTensor) x2 = mact_tensor_new (2, s2, &error);
  g_autoptr(MactTensor) x4 = mact_tensor_new (4, s4, &error);
  g_autoptr(MactTensor) x6 = mact_tensor_new (6, s6, &error);
  g_autoptr(MactTensor) empty = mact_tensor_new (4, e4, &error);
  const gint64 ok[] = { 3, 3, 3, 3 };
  const gint64 zero[] = { 3, 0 };
  const gint64 neg[] = { -1, 3 };

  assert_non_null (x2);
  assert_non_null (x4);
  assert_non_null (x6);
  assert_non_null (empty);

  /* wrong ndim */
  expect_error (x2, 0, ok, MACT_INTERPOLATE_NEAREST, FALSE, MACT_TENSOR_ERROR_SHAPE);
  expect_error (x2, 1, ok, MACT_INTERPOLATE_LINEAR, FALSE, MACT_TENSOR_ERROR_SHAPE);
  expect_error (x6, 4, ok, MACT_INTERPOLATE_LINEAR, FALSE, MACT_TENSOR_ERROR_SHAPE);
  /* empty input */
  expect_error (empty, 2, ok, MACT_INTERPOLATE_NEAREST, FALSE, MACT_TENSOR_ERROR_SHAPE);
  /* n_sizes that does not match the spatial dims */
  expect_error (x4, 1, ok, MACT_INTERPOLATE_NEAREST, FALSE, MACT_TENSOR_ERROR_SHAPE);
  expect_error (x4, 3, ok, MACT_INTERPOLATE_LINEAR, TRUE, MACT_TENSOR_ERROR_SHAPE);
  /* non-positive output sizes */
  expect_error (x4, 2, zero, MACT_INTERPOLATE_NEAREST, FALSE, MACT_TENSOR_ERROR_SHAPE);
  expect_error (x4, 2, neg, MACT_INTERPOLATE_LINEAR, FALSE, MACT_TENSOR_ERROR_SHAPE);
  /* bad mode, align_corners with nearest */
  expect_error (x4, 2, ok, (MactInterpolateMode) 7, FALSE,
                MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  expect_error (x4, 2, ok, MACT_INTERPOLATE_NEAREST, TRUE,
                MACT_TENSOR_ERROR_INVALID_ARGUMENT);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_nearest_fixtures),
    cmocka_unit_test (test_linear_fixtures),
    cmocka_unit_test (test_known_values),
    cmocka_unit_test (test_gradcheck),
    cmocka_unit_test (test_errors),
  };
  return cmocka_run_group_tests_name ("ops-interpolate", tests, NULL, NULL);
}
