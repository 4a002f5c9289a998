/* Broadcasting arithmetic and activations: forward and gradients against PyTorch fixtures,
 * gradients against finite differences, and the shape errors. */
#include "mact-test.h"

typedef MactTensor *(*BinaryFn) (MactTensor *, MactTensor *, GError **);

static void
check_binary_fixture (const char *name, BinaryFn fn)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) a = mact_tensor_clone (mact_test_fixture_get (fx, "a"));
  g_autoptr(MactTensor) b = mact_tensor_clone (mact_test_fixture_get (fx, "b"));
  assert_true (mact_tensor_set_requires_grad (a, TRUE, &error));
  assert_true (mact_tensor_set_requires_grad (b, TRUE, &error));

  g_autoptr(MactTensor) out = fn (a, b, &error);
  assert_null (error);
  mact_test_assert_close (out, mact_test_fixture_get (fx, "output"), 1e-5, name);
  assert_true (mact_tensor_backward (out, mact_test_fixture_get (fx, "grad_output"), &error));
  mact_test_assert_close (mact_tensor_get_grad (a), mact_test_fixture_get (fx, "grad_a"), 1e-5,
                          "grad a");
  mact_test_assert_close (mact_tensor_get_grad (b), mact_test_fixture_get (fx, "grad_b"), 1e-5,
                          "grad b");
}

static void
test_add_fixture (void **state)
{
  check_binary_fixture ("add_broadcast", mact_add);
  check_binary_fixture ("add_same", mact_add);
}

static void
test_sub_fixture (void **state)
{
  check_binary_fixture ("sub_broadcast", mact_sub);
}

static void
test_mul_fixture (void **state)
{
  check_binary_fixture ("mul_broadcast", mact_mul);
  check_binary_fixture ("mul_scalar_tensor", mact_mul);
}

static void
test_div_fixture (void **state)
{
  check_binary_fixture ("div_broadcast", mact_div);
}

static MactTensor *
call_binary (MactTensor **in, gpointer fn, GError **error)
{
  return ((BinaryFn) fn) (in[0], in[1], error);
}

static void
test_binary_gradcheck (void **state)
{
  const gint64 sa[] = { 2, 3, 4 }, sb[] = { 3, 1 };
  BinaryFn fns[] = { mact_add, mact_sub, mact_mul, mact_div };
  for (guint i = 0; i < G_N_ELEMENTS (fns); i++)
    {
      g_autoptr(MactTensor) a = mact_test_random (3, sa, 1 + i, -1.0, 1.0);
      /* Keep the divisor away from zero. */
      g_autoptr(MactTensor) b = mact_test_random (2, sb, 7 + i, 0.5, 1.5);
      assert_true (mact_tensor_set_requires_grad (a, TRUE, NULL));
      assert_true (mact_tensor_set_requires_grad (b, TRUE, NULL));
      MactTensor *in[] = { a, b };
      mact_test_gradcheck (call_binary, in, 2, fns[i], 1e-2, 1e-2);
    }
}

static void
test_broadcast_error (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 sa[] = { 2, 3 }, sb[] = { 4 };
  g_autoptr(MactTensor) a = mact_tensor_new (2, sa, NULL);
  g_autoptr(MactTensor) b = mact_tensor_new (1, sb, NULL);
  BinaryFn fns[] = { mact_add, mact_sub, mact_mul, mact_div };
  for (guint i = 0; i < G_N_ELEMENTS (fns); i++)
    {
      g_autoptr(MactTensor) out = fns[i] (a, b, &error);
      assert_null (out);
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
    }
}

static void
test_scalar_ops (void **state)
{
  const float v[] = { 1.0f, -2.0f, 3.5f };
  const gint64 s[] = { 3 };
  g_autoptr(MactTensor) x = mact_tensor_new_from_data (v, 3, 1, s, NULL);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
  g_autoptr(MactTensor) y = mact_add_scalar (x, 2.0f);
  g_autoptr(MactTensor) z = mact_mul_scalar (y, -3.0f);
  g_autoptr(MactTensor) w = mact_neg (z);
  const float *d = mact_tensor_get_data (w);
  assert_float_equal (d[0], 9.0f, 1e-6);
  assert_float_equal (d[1], 0.0f, 1e-6);
  assert_float_equal (d[2], 16.5f, 1e-6);
  g_autoptr(MactTensor) total = mact_sum_all (w);
  assert_true (mact_tensor_backward (total, NULL, NULL));
  const float *g = mact_tensor_get_data (mact_tensor_get_grad (x));
  for (int i = 0; i < 3; i++)
    assert_float_equal (g[i], 3.0f, 1e-6);
}

typedef MactTensor *(*UnaryFn) (MactTensor *);

static const struct { const char *name; UnaryFn fn; } activations[] = {
  { "act_relu", mact_relu },
  { "act_relu6", mact_relu6 },
  { "act_sigmoid", mact_sigmoid },
  { "act_silu", mact_silu },
  { "act_hardswish", mact_hardswish },
};

static void
test_activation_fixtures (void **state)
{
  for (guint i = 0; i < G_N_ELEMENTS (activations); i++)
    {
      g_autoptr(MactTestFixture) fx = mact_test_fixture_load (activations[i].name);
      g_autoptr(GError) error = NULL;
      g_autoptr(MactTensor) x = mact_tensor_clone (mact_test_fixture_get (fx, "input"));
      assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
      g_autoptr(MactTensor) out = activations[i].fn (x);
      mact_test_assert_close (out, mact_test_fixture_get (fx, "output"), 1e-5,
                              activations[i].name);
      assert_true (mact_tensor_backward (out, mact_test_fixture_get (fx, "grad_output"), &error));
      mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, "grad_input"),
                              1e-5, activations[i].name);
    }
}

static MactTensor *
call_unary (MactTensor **in, gpointer fn, GError **error)
{
  return ((UnaryFn) fn) (in[0]);
}

static void
test_activation_gradcheck (void **state)
{
  /* Values on a grid that avoids the kinks at 0, -3, 3 and 6 by more than eps. */
  float v[40];
  for (int i = 0; i < 40; i++)
    v[i] = -7.45f + 0.37f * (float) i;
  const gint64 s[] = { 5, 8 };
  for (guint i = 0; i < G_N_ELEMENTS (activations); i++)
    {
      g_autoptr(MactTensor) x = mact_tensor_new_from_data (v, 40, 2, s, NULL);
      assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
      MactTensor *in[] = { x };
      mact_test_gradcheck (call_unary, in, 1, activations[i].fn, 1e-2, 1e-2);
    }
}

static void
test_noncontiguous_input (void **state)
{
  /* A transposed view broadcasts and activates like its contiguous copy. */
  const gint64 s[] = { 3, 4 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 3, -2.0, 2.0);
  g_autoptr(MactTensor) xt = mact_tensor_transpose (x, 0, 1, NULL);
  g_autoptr(MactTensor) xc = mact_tensor_contiguous (xt);
  assert_false (mact_tensor_is_contiguous (xt));
  g_autoptr(MactTensor) r1 = mact_relu (xt);
  g_autoptr(MactTensor) r2 = mact_relu (xc);
  mact_test_assert_close (r1, r2, 0.0, "relu of view");
  g_autoptr(MactTensor) s1 = mact_add (xt, xt, NULL);
  g_autoptr(MactTensor) s2 = mact_add (xc, xc, NULL);
  mact_test_assert_close (s1, s2, 0.0, "add of view");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_add_fixture),
    cmocka_unit_test (test_sub_fixture),
    cmocka_unit_test (test_mul_fixture),
    cmocka_unit_test (test_div_fixture),
    cmocka_unit_test (test_binary_gradcheck),
    cmocka_unit_test (test_broadcast_error),
    cmocka_unit_test (test_scalar_ops),
    cmocka_unit_test (test_activation_fixtures),
    cmocka_unit_test (test_activation_gradcheck),
    cmocka_unit_test (test_noncontiguous_input),
  };
  return cmocka_run_group_tests_name ("ops-elementwise", tests, NULL, NULL);
}
