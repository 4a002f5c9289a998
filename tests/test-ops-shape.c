/* test-ops-shape.c: cat, stack, flip, pad and the temporal shift against PyTorch fixtures
 * (tests/fixtures/gen_shape.py), finite differences, and every error path. */
#include "mact-test.h"

#include <string.h>

#define TOL 1e-5
#define GC_EPS 1e-2
#define GC_RTOL 1e-2
/* Finite differences cost two forward passes per element; keep them cheap. */
#define GC_MAX_NUMEL 200

/* ---- helpers ---------------------------------------------------------------------- */

/* A fresh contiguous leaf holding @t's values. */
static MactTensor *
leaf_from (MactTensor *t, gboolean requires_grad)
{
  g_autoptr(GError) error = NULL;
  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (t, &ndim);
  gint64 n = mact_tensor_get_numel (t);
  g_autofree float *buf = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (t, buf);
  MactTensor *leaf = mact_tensor_new_from_data (buf, (gsize) n, ndim, shape, &error);
  assert_non_null (leaf);
  if (requires_grad)
    assert_true (mact_tensor_set_requires_grad (leaf, TRUE, &error));
  return leaf;
}

/* A non-contiguous view holding @t's values: transpose of a contiguous transposed copy. */
static MactTensor *
noncontig_from (MactTensor *t)
{
  g_autoptr(GError) error = NULL;
  gint ndim = mact_tensor_get_ndim (t);
  if (ndim < 2)
    {
      /* Every other element of a tensor twice as long. */
      gint64 n = mact_tensor_get_numel (t);
      g_autofree float *src = g_new (float, MAX (n, 1));
      g_autofree float *wide = g_new0 (float, 2 * MAX (n, 1));
      mact_tensor_copy_to_array (t, src);
      for (gint64 i = 0; i < n; i++)
        wide[2 * i] = src[i];
      gint64 wshape[1] = { 2 * n };
      g_autoptr(MactTensor) w = mact_tensor_new_from_data (wide, (gsize) (2 * n), 1, wshape,
                                                           &error);
      assert_non_null (w);
      MactTensor *v = mact_tensor_slice (w, 0, 0, 2 * n, 2, &error);
      assert_non_null (v);
      assert_false (mact_tensor_is_contiguous (v));
      return v;
    }
  g_autoptr(MactTensor) tr = NULL;
  MACT_NO_GRAD_BEGIN
  g_autoptr(MactTensor) view = mact_tensor_transpose (t, 0, ndim - 1, &error);
  assert_non_null (view);
  tr = mact_tensor_contiguous (view);
  MACT_NO_GRAD_END
  g_autoptr(MactTensor) copy = leaf_from (tr, FALSE);
  MactTensor *v = mact_tensor_transpose (copy, 0, ndim - 1, &error);
  assert_non_null (v);
  return v;
}

static void
assert_fresh_output (MactTensor *out, MactTensor *input)
{
  assert_true (mact_tensor_is_contiguous (out));
  assert_false (mact_tensor_shares_storage (out, input));
}

static MactPadMode
pad_mode_from_string (const char *s)
{
  if (g_str_equal (s, "reflect"))
    return MACT_PAD_REFLECT;
  if (g_str_equal (s, "replicate"))
    return MACT_PAD_REPLICATE;
  assert_string_equal (s, "constant");
  return MACT_PAD_CONSTANT;
}

/* ---- cat / stack ------------------------------------------------------------------ */

typedef struct {
  gboolean stack;
  gint     dim;
  guint    n;
} JoinArgs;

static MactTensor *
join_fn (MactTensor **inputs, gpointer user_data, GError **error)
{
  JoinArgs *a = user_data;
  return a->stack ? mact_stack (inputs, a->n, a->dim, error)
                  : mact_cat (inputs, a->n, a->dim, error);
}

static void
check_join (const char *name, gboolean stack)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  JoinArgs args = {
    .stack = stack,
    .dim = (gint) mact_test_fixture_meta_int (fx, "dim"),
    .n = (guint) mact_test_fixture_meta_int (fx, "n"),
  };
  gint64 needs[8];
  assert_int_equal (mact_test_fixture_meta_ints (fx, "needs_grad", needs, 8), args.n);

  MactTensor *x[8] = { NULL, };
  MactTensor *nc[8] = { NULL, };
  gint64 total = 0;
  for (guint i = 0; i < args.n; i++)
    {
      g_autofree char *key = g_strdup_printf ("x%u", i);
      x[i] = leaf_from (mact_test_fixture_get (fx, key), needs[i] != 0);
      nc[i] = noncontig_from (x[i]);
      total += mact_tensor_get_numel (x[i]);
    }
  MactTensor *expected = mact_test_fixture_get (fx, "output");

  /* Forward and backward vs PyTorch. */
  g_autoptr(MactTensor) out = join_fn (x, &args, &error);
  assert_non_null (out);
  mact_test_assert_close (out, expected, TOL, name);
  assert_fresh_output (out, x[0]);
  assert_string_equal (mact_tensor_get_grad_fn_name (out),
                       stack ? "StackBackward" : "CatBackward");
  assert_true (mact_tensor_backward (out, mact_test_fixture_get (fx, "grad_output"), &error));
  for (guint i = 0; i < args.n; i++)
    {
      g_autofree char *key = g_strdup_printf ("grad_x%u", i);
      if (needs[i])
        mact_test_assert_close (mact_tensor_get_grad (x[i]),
                                mact_test_fixture_get (fx, key), TOL, key);
      else
        assert_null (mact_tensor_get_grad (x[i]));
    }

  /* Non-contiguous inputs give the same result. */
  g_autoptr(MactTensor) out_nc = NULL;
  MACT_NO_GRAD_BEGIN
  out_nc = join_fn (nc, &args, &error);
  MACT_NO_GRAD_END
  assert_non_null (out_nc);
  mact_test_assert_close (out_nc, expected, TOL, "non-contiguous inputs");
  assert_null (mact_tensor_get_grad_fn_name (out_nc));

  if (total <= GC_MAX_NUMEL)
    mact_test_gradcheck (join_fn, x, args.n, &args, GC_EPS, GC_RTOL);

  for (guint i = 0; i < args.n; i++)
    {
      mact_tensor_unref (x[i]);
      mact_tensor_unref (nc[i]);
    }
}

static void test_cat_dim0 (void **state) { check_join ("shape_cat_dim0", FALSE); }
static void test_cat_dim1 (void **state) { check_join ("shape_cat_dim1", FALSE); }
static void test_cat_neg1 (void **state) { check_join ("shape_cat_neg1", FALSE); }
static void test_cat_neg3 (void **state) { check_join ("shape_cat_neg3", FALSE); }
static void test_cat_one (void **state) { check_join ("shape_cat_one", FALSE); }
static void test_stack_start (void **state) { check_join ("shape_stack_start", TRUE); }
static void test_stack_mid (void **state) { check_join ("shape_stack_mid", TRUE); }
static void test_stack_end (void **state) { check_join ("shape_stack_end", TRUE); }
static void test_stack_neg_end (void **state) { check_join ("shape_stack_neg_end", TRUE); }
static void test_stack_neg_start (void **state) { check_join ("shape_stack_neg_start", TRUE); }

/* The same tensor twice: both slices of the gradient accumulate into it. */
static void
test_cat_same_tensor_twice (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[2] = { 2, 3 };
  g_autoptr(MactTensor) x = mact_test_random (2, shape, 7, -1.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, &error));
  MactTensor *both[2] = { x, x };
  g_autoptr(MactTensor) out = mact_cat (both, 2, 1, &error);
  assert_non_null (out);
  assert_int_equal (mact_tensor_get_size (out, 1), 6);

  float g[12];
  for (gint i = 0; i < 12; i++)
    g[i] = (float) i;
  const gint64 oshape[2] = { 2, 6 };
  g_autoptr(MactTensor) grad = mact_tensor_new_from_data (g, 12, 2, oshape, &error);
  assert_true (mact_tensor_backward (out, grad, &error));
  float expected[6];
  for (gint r = 0; r < 2; r++)
    for (gint c = 0; c < 3; c++)
      expected[r * 3 + c] = g[r * 6 + c] + g[r * 6 + 3 + c];
  g_autoptr(MactTensor) e = mact_tensor_new_from_data (expected, 6, 2, shape, &error);
  mact_test_assert_close (mact_tensor_get_grad (x), e, TOL, "cat(x, x) grad");
}

static void
test_cat_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s234[3] = { 2, 3, 4 };
  const gint64 s254[3] = { 2, 5, 4 };
  const gint64 s23[2] = { 2, 3 };
  g_autoptr(MactTensor) a = mact_test_random (3, s234, 1, -1, 1);
  g_autoptr(MactTensor) b = mact_test_random (3, s254, 2, -1, 1);
  g_autoptr(MactTensor) c = mact_test_random (2, s23, 3, -1, 1);
  g_autoptr(MactTensor) scalar = mact_tensor_new_scalar (1.0f);
  MactTensor *ab[2] = { a, b };
  MactTensor *ac[2] = { a, c };
  MactTensor *ss[2] = { scalar, scalar };

  assert_null (mact_cat (ab, 0, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_cat (ab, 2, 3, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_cat (ab, 2, -4, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* Sizes differ outside the joined dim. */
  assert_null (mact_cat (ab, 2, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_cat (ab, 2, 2, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* Numbers of dims differ. */
  assert_null (mact_cat (ac, 2, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* 0-dimensional tensors cannot be concatenated. */
  assert_null (mact_cat (ss, 2, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  /* The valid join for contrast. */
  g_autoptr(MactTensor) ok = mact_cat (ab, 2, -2, &error);
  assert_non_null (ok);
  assert_int_equal (mact_tensor_get_size (ok, 1), 8);
}

static void
test_stack_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s23[2] = { 2, 3 };
  const gint64 s32[2] = { 3, 2 };
  const gint64 s6[6] = { 1, 1, 1, 1, 1, 2 };
  g_autoptr(MactTensor) a = mact_test_random (2, s23, 1, -1, 1);
  g_autoptr(MactTensor) b = mact_test_random (2, s32, 2, -1, 1);
  g_autoptr(MactTensor) big = mact_test_random (6, s6, 3, -1, 1);
  g_autoptr(MactTensor) scalar = mact_tensor_new_scalar (2.0f);
  MactTensor *aa[2] = { a, a };
  MactTensor *ab[2] = { a, b };
  MactTensor *bigs[2] = { big, big };
  MactTensor *ss[3] = { scalar, scalar, scalar };

  assert_null (mact_stack (aa, 0, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_stack (aa, 2, 3, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_stack (aa, 2, -4, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_stack (ab, 2, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_stack (bigs, 2, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  /* Scalars stack into a vector; both ends of the dim range are valid. */
  g_autoptr(MactTensor) v = mact_stack (ss, 3, -1, &error);
  assert_non_null (v);
  assert_int_equal (mact_tensor_get_ndim (v), 1);
  assert_int_equal (mact_tensor_get_size (v, 0), 3);
  assert_true (mact_tensor_get_data (v)[2] == 2.0f);
  g_autoptr(MactTensor) e = mact_stack (aa, 2, 2, &error);
  assert_non_null (e);
  g_autoptr(MactTensor) s = mact_stack (aa, 2, -3, &error);
  assert_non_null (s);
  assert_int_equal (mact_tensor_get_size (s, 0), 2);
}

/* ---- flip ------------------------------------------------------------------------- */

typedef struct {
  gint n;
  gint dims[MACT_MAX_DIMS];
} FlipArgs;

static MactTensor *
flip_fn (MactTensor **inputs, gpointer user_data, GError **error)
{
  FlipArgs *a = user_data;
  return mact_flip (inputs[0], a->n, a->dims, error);
}

static void
check_flip (const char *name)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  gint64 dims[MACT_MAX_DIMS];
  FlipArgs args = { .n = mact_test_fixture_meta_ints (fx, "dims", dims, MACT_MAX_DIMS) };
  for (gint i = 0; i < args.n; i++)
    args.dims[i] = (gint) dims[i];

  g_autoptr(MactTensor) x = leaf_from (mact_test_fixture_get (fx, "input"), TRUE);
  MactTensor *expected = mact_test_fixture_get (fx, "output");
  g_autoptr(MactTensor) out = flip_fn (&x, &args, &error);
  assert_non_null (out);
  mact_test_assert_close (out, expected, TOL, name);
  assert_fresh_output (out, x);
  assert_string_equal (mact_tensor_get_grad_fn_name (out), "FlipBackward");
  assert_true (mact_tensor_backward (out, mact_test_fixture_get (fx, "grad_output"), &error));
  mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, "grad_input"),
                          TOL, "flip grad_input");

  g_autoptr(MactTensor) nc = noncontig_from (x);
  g_autoptr(MactTensor) out_nc = flip_fn (&nc, &args, &error);
  assert_non_null (out_nc);
  mact_test_assert_close (out_nc, expected, TOL, "flip non-contiguous");

  if (mact_tensor_get_numel (x) <= GC_MAX_NUMEL)
    mact_test_gradcheck (flip_fn, &x, 1, &args, GC_EPS, GC_RTOL);
}

static void test_flip_0_2 (void **state) { check_flip ("shape_flip_0_2"); }
static void test_flip_multi (void **state) { check_flip ("shape_flip_multi"); }
static void test_flip_mid (void **state) { check_flip ("shape_flip_mid"); }
static void test_flip_1d (void **state) { check_flip ("shape_flip_1d"); }

static void
test_flip_no_dims (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[2] = { 3, 2 };
  g_autoptr(MactTensor) x = mact_test_random (2, shape, 5, -1, 1);
  g_autoptr(MactTensor) out = mact_flip (x, 0, NULL, &error);
  assert_non_null (out);
  mact_test_assert_close (out, x, 0.0, "flip of no dims");
  assert_fresh_output (out, x);
}

static void
test_flip_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[3] = { 2, 3, 4 };
  g_autoptr(MactTensor) x = mact_test_random (3, shape, 1, -1, 1);
  const gint dup[2] = { 0, 0 };
  const gint dup_neg[3] = { 1, 0, -3 };
  const gint out_of_range[1] = { 3 };
  const gint out_of_range_neg[2] = { 0, -4 };

  assert_null (mact_flip (x, 2, dup, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_flip (x, 3, dup_neg, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_flip (x, 1, out_of_range, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_flip (x, 2, out_of_range_neg, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_flip (x, -1, dup, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
}

/* ---- pad -------------------------------------------------------------------------- */

typedef struct {
  gint        n_pad;
  gint64      pad[2 * MACT_MAX_DIMS];
  MactPadMode mode;
  float       value;
} PadArgs;

static MactTensor *
pad_fn (MactTensor **inputs, gpointer user_data, GError **error)
{
  PadArgs *a = user_data;
  return mact_pad (inputs[0], a->n_pad, a->pad, a->mode, a->value, error);
}

static void
check_pad (const char *name)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  PadArgs args = { 0, };
  args.n_pad = mact_test_fixture_meta_ints (fx, "pad", args.pad, 2 * MACT_MAX_DIMS);
  args.mode = pad_mode_from_string (mact_test_fixture_meta (fx, "mode"));
  args.value = (float) mact_test_fixture_meta_double (fx, "value");

  g_autoptr(MactTensor) x = leaf_from (mact_test_fixture_get (fx, "input"), TRUE);
  MactTensor *expected = mact_test_fixture_get (fx, "output");
  g_autoptr(MactTensor) out = pad_fn (&x, &args, &error);
  if (out == NULL)
    fail_msg ("%s: %s", name, error->message);
  mact_test_assert_close (out, expected, TOL, name);
  assert_fresh_output (out, x);
  assert_string_equal (mact_tensor_get_grad_fn_name (out), "PadBackward");
  assert_true (mact_tensor_backward (out, mact_test_fixture_get (fx, "grad_output"), &error));
  mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, "grad_input"),
                          TOL, "pad grad_input");

  g_autoptr(MactTensor) nc = noncontig_from (x);
  g_autoptr(MactTensor) out_nc = pad_fn (&nc, &args, &error);
  assert_non_null (out_nc);
  mact_test_assert_close (out_nc, expected, TOL, "pad non-contiguous");

  if (mact_tensor_get_numel (x) <= GC_MAX_NUMEL)
    mact_test_gradcheck (pad_fn, &x, 1, &args, GC_EPS, GC_RTOL);
}

static void test_pad_const_last (void **state) { check_pad ("shape_pad_const_last"); }
static void test_pad_const_neg (void **state) { check_pad ("shape_pad_const_neg"); }
static void test_pad_const_all (void **state) { check_pad ("shape_pad_const_all"); }
static void test_pad_const_crop (void **state) { check_pad ("shape_pad_const_crop"); }
static void test_pad_const_1d (void **state) { check_pad ("shape_pad_const_1d"); }
static void test_pad_const_5d (void **state) { check_pad ("shape_pad_const_5d"); }
static void test_pad_reflect_2d (void **state) { check_pad ("shape_pad_reflect_2d"); }
static void test_pad_reflect_3d (void **state) { check_pad ("shape_pad_reflect_3d"); }
static void test_pad_reflect_3d_neg (void **state) { check_pad ("shape_pad_reflect_3d_neg"); }
static void test_pad_reflect_3d_2 (void **state) { check_pad ("shape_pad_reflect_3d_2"); }
static void test_pad_reflect_4d (void **state) { check_pad ("shape_pad_reflect_4d"); }
static void test_pad_reflect_5d (void **state) { check_pad ("shape_pad_reflect_5d"); }
static void test_pad_replicate_3d (void **state) { check_pad ("shape_pad_replicate_3d"); }
static void test_pad_replicate_3d_neg (void **state) { check_pad ("shape_pad_replicate_3d_neg"); }
static void test_pad_replicate_4d (void **state) { check_pad ("shape_pad_replicate_4d"); }
static void test_pad_replicate_4d_3 (void **state) { check_pad ("shape_pad_replicate_4d_3"); }
static void test_pad_replicate_5d (void **state) { check_pad ("shape_pad_replicate_5d"); }

static void
test_pad_none (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[2] = { 3, 2 };
  g_autoptr(MactTensor) x = mact_test_random (2, shape, 5, -1, 1);
  g_autoptr(MactTensor) out = mact_pad (x, 0, NULL, MACT_PAD_CONSTANT, 1.0f, &error);
  assert_non_null (out);
  mact_test_assert_close (out, x, 0.0, "pad of nothing");
  assert_fresh_output (out, x);
}

static void
test_pad_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s4[1] = { 4 };
  const gint64 s24[2] = { 2, 4 };
  const gint64 s134[3] = { 1, 3, 4 };
  const gint64 s1234[4] = { 1, 2, 3, 4 };
  const gint64 s12234[5] = { 1, 2, 2, 3, 4 };
  g_autoptr(MactTensor) x1 = mact_test_random (1, s4, 1, -1, 1);
  g_autoptr(MactTensor) x2 = mact_test_random (2, s24, 1, -1, 1);
  g_autoptr(MactTensor) x3 = mact_test_random (3, s134, 1, -1, 1);
  g_autoptr(MactTensor) x4 = mact_test_random (4, s1234, 1, -1, 1);
  g_autoptr(MactTensor) x5 = mact_test_random (5, s12234, 1, -1, 1);
  const gint64 p1[1] = { 1 };
  const gint64 p11[2] = { 1, 1 };
  const gint64 p1111[4] = { 1, 1, 1, 1 };
  const gint64 p8[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
  const gint64 p_reflect_big[2] = { 4, 0 };
  const gint64 p_reflect_big_r[4] = { 0, 1, 1, 3 };
  const gint64 p_crop_too_much[2] = { -5, 3 };
  const gint64 p_crop_too_much_r[2] = { 2, -5 };
  const gint64 p_empty[2] = { -2, -2 };
  const gint64 p_replicate_empty[2] = { -3, -2 };
  const gint64 p_huge[2] = { G_MAXINT64, 0 };

  /* n_pad odd / negative. */
  assert_null (mact_pad (x3, 1, p1, MACT_PAD_CONSTANT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_pad (x3, -2, p11, MACT_PAD_CONSTANT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  /* More pairs than dims. */
  assert_null (mact_pad (x1, 4, p1111, MACT_PAD_CONSTANT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* Not a mode. */
  assert_null (mact_pad (x3, 2, p11, (MactPadMode) 7, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  /* A fill value outside constant mode. */
  assert_null (mact_pad (x3, 2, p11, MACT_PAD_REFLECT, 1.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  /* Reflect / replicate pad 1-3 dims only. */
  assert_null (mact_pad (x5, 8, p8, MACT_PAD_REFLECT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_pad (x3, 0, NULL, MACT_PAD_REPLICATE, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  /* ... of an input with one or two more dims. */
  assert_null (mact_pad (x4, 2, p11, MACT_PAD_REFLECT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_pad (x5, 4, p1111, MACT_PAD_REPLICATE, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_pad (x2, 4, p1111, MACT_PAD_REPLICATE, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_pad (x1, 2, p11, MACT_PAD_REFLECT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* Reflect padding must be smaller than the dim. */
  assert_null (mact_pad (x3, 2, p_reflect_big, MACT_PAD_REFLECT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_pad (x3, 4, p_reflect_big_r, MACT_PAD_REFLECT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* Replicate has no such limit. */
  g_autoptr(MactTensor) rep = mact_pad (x3, 2, p_reflect_big, MACT_PAD_REPLICATE, 0.0f,
                                        &error);
  assert_non_null (rep);
  assert_int_equal (mact_tensor_get_size (rep, 2), 8);
  /* Crops larger than the dim. */
  assert_null (mact_pad (x3, 2, p_crop_too_much, MACT_PAD_CONSTANT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_pad (x3, 2, p_crop_too_much_r, MACT_PAD_CONSTANT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* Empty results. */
  assert_null (mact_pad (x3, 2, p_empty, MACT_PAD_CONSTANT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_pad (x3, 2, p_replicate_empty, MACT_PAD_REPLICATE, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_pad (x3, 2, p_empty, MACT_PAD_REFLECT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* Absurd amounts. */
  assert_null (mact_pad (x3, 2, p_huge, MACT_PAD_CONSTANT, 0.0f, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW);
}

/* ---- temporal shift --------------------------------------------------------------- */

typedef struct {
  gint num_segments;
  gint shift_div;
} ShiftArgs;

static MactTensor *
shift_fn (MactTensor **inputs, gpointer user_data, GError **error)
{
  ShiftArgs *a = user_data;
  return mact_temporal_shift (inputs[0], a->num_segments, a->shift_div, error);
}

/* Through a permuted, non-contiguous view: the leaf is stored [C, N*T, H, W]. */
static MactTensor *
shift_permuted_fn (MactTensor **inputs, gpointer user_data, GError **error)
{
  ShiftArgs *a = user_data;
  const gint perm[4] = { 1, 0, 2, 3 };
  g_autoptr(MactTensor) v = mact_tensor_permute (inputs[0], 4, perm, error);
  if (v == NULL)
    return NULL;
  return mact_temporal_shift (v, a->num_segments, a->shift_div, error);
}

static void
check_shift (const char *name)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  ShiftArgs args = {
    .num_segments = (gint) mact_test_fixture_meta_int (fx, "num_segments"),
    .shift_div = (gint) mact_test_fixture_meta_int (fx, "shift_div"),
  };
  gboolean permuted = mact_test_fixture_meta_int (fx, "permuted") != 0;
  MactTestFunc fn = permuted ? shift_permuted_fn : shift_fn;

  g_autoptr(MactTensor) x = leaf_from (
      mact_test_fixture_get (fx, permuted ? "input_cnhw" : "input"), TRUE);
  MactTensor *expected = mact_test_fixture_get (fx, "output");
  g_autoptr(MactTensor) out = fn (&x, &args, &error);
  if (out == NULL)
    fail_msg ("%s: %s", name, error->message);
  mact_test_assert_close (out, expected, TOL, name);
  assert_fresh_output (out, x);
  assert_string_equal (mact_tensor_get_grad_fn_name (out), "TemporalShiftBackward");
  assert_true (mact_tensor_backward (out, mact_test_fixture_get (fx, "grad_output"), &error));
  mact_test_assert_close (mact_tensor_get_grad (x),
                          mact_test_fixture_get (fx, permuted ? "grad_input_cnhw"
                                                              : "grad_input"),
                          TOL, "temporal shift grad_input");

  if (!permuted)
    {
      g_autoptr(MactTensor) nc = noncontig_from (x);
      g_autoptr(MactTensor) out_nc = fn (&nc, &args, &error);
      assert_non_null (out_nc);
      mact_test_assert_close (out_nc, expected, TOL, "temporal shift non-contiguous");
    }

  if (mact_tensor_get_numel (x) <= GC_MAX_NUMEL)
    mact_test_gradcheck (fn, &x, 1, &args, GC_EPS, GC_RTOL);
}

static void test_tsm_div8 (void **state) { check_shift ("shape_tsm_div8"); }
static void test_tsm_div4 (void **state) { check_shift ("shape_tsm_div4"); }
static void test_tsm_div4_c10 (void **state) { check_shift ("shape_tsm_div4_c10"); }
static void test_tsm_noncontig (void **state) { check_shift ("shape_tsm_noncontig"); }
static void test_tsm_seg1 (void **state) { check_shift ("shape_tsm_seg1"); }
static void test_tsm_nofold (void **state) { check_shift ("shape_tsm_nofold"); }

/* Finite differences on small inputs for the cases whose fixtures are too large. */
static void
test_tsm_gradcheck_small (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[4] = { 6, 8, 1, 2 };   /* 2 clips of 3 segments */
  g_autoptr(MactTensor) x = mact_test_random (4, shape, 11, -1, 1);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, &error));
  ShiftArgs div8 = { 3, 8 };
  ShiftArgs div4 = { 3, 4 };
  mact_test_gradcheck (shift_fn, &x, 1, &div8, GC_EPS, GC_RTOL);
  mact_test_gradcheck (shift_fn, &x, 1, &div4, GC_EPS, GC_RTOL);

  const gint64 pshape[4] = { 8, 6, 1, 2 };  /* [C, N*T, H, W] */
  g_autoptr(MactTensor) p = mact_test_random (4, pshape, 12, -1, 1);
  assert_true (mact_tensor_set_requires_grad (p, TRUE, &error));
  mact_test_gradcheck (shift_permuted_fn, &p, 1, &div4, GC_EPS, GC_RTOL);
}

static void
test_tsm_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s3[3] = { 4, 8, 2 };
  const gint64 s4[4] = { 6, 8, 1, 2 };
  g_autoptr(MactTensor) x3 = mact_test_random (3, s3, 1, -1, 1);
  g_autoptr(MactTensor) x4 = mact_test_random (4, s4, 1, -1, 1);

  assert_null (mact_temporal_shift (x3, 2, 8, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_temporal_shift (x4, 0, 8, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_temporal_shift (x4, -3, 8, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_temporal_shift (x4, 3, 0, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_temporal_shift (x4, 3, -8, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_null (mact_temporal_shift (x4, 4, 8, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
}

/* ---- threading: results do not depend on how the work is split ---------------------- */

#define N_LARGE_OPS 6

/* Runs every op on @x (a leaf requiring grad) and its backward with a fixed upstream
 * gradient; stores outputs and input gradients (transfer full). */
static void
run_large_ops (MactTensor *x, MactTensor **outs, MactTensor **grads)
{
  g_autoptr(GError) error = NULL;
  const gint dims[2] = { 3, 1 };
  const gint64 reflect[4] = { 3, 2, 1, 3 };
  const gint64 replicate[6] = { 2, 5, 0, 1, 1, 2 };
  const gint64 constant[6] = { 1, -2, 2, 1, 0, 1 };

  for (gint op = 0; op < N_LARGE_OPS; op++)
    {
      mact_tensor_set_grad (x, NULL);
      MactTensor *pair[2] = { x, x };
      MactTensor *out = NULL;
      switch (op)
        {
        case 0: out = mact_cat (pair, 2, 2, &error); break;
        case 1: out = mact_stack (pair, 2, 1, &error); break;
        case 2: out = mact_flip (x, 2, dims, &error); break;
        case 3: out = mact_pad (x, 4, reflect, MACT_PAD_REFLECT, 0.0f, &error); break;
        case 4: out = mact_pad (x, 6, replicate, MACT_PAD_REPLICATE, 0.0f, &error); break;
        case 5: out = mact_temporal_shift (x, 4, 8, &error); break;
        default: break;
        }
      g_assert_no_error (error);
      assert_non_null (out);
      gint ndim;
      const gint64 *shape = mact_tensor_get_shape (out, &ndim);
      g_autoptr(MactTensor) g = mact_test_random (ndim, shape, 100 + op, -1, 1);
      assert_true (mact_tensor_backward (out, g, &error));
      outs[op] = out;
      grads[op] = leaf_from (mact_tensor_get_grad (x), FALSE);
    }
  /* Constant padding with negative amounts on a large tensor as well (forward only). */
  MactTensor *cp = mact_pad (x, 6, constant, MACT_PAD_CONSTANT, 0.25f, &error);
  g_assert_no_error (error);
  mact_tensor_unref (outs[3]);
  outs[3] = cp;
}

static void
test_threads_agree (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[4] = { 8, 16, 24, 20 };   /* large enough to be split */
  g_autoptr(MactTensor) x = mact_test_random (4, shape, 21, -1, 1);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, &error));
  gint saved = mact_get_num_threads ();
  MactTensor *outs1[N_LARGE_OPS], *grads1[N_LARGE_OPS];
  MactTensor *outs4[N_LARGE_OPS], *grads4[N_LARGE_OPS];

  mact_set_num_threads (1);
  run_large_ops (x, outs1, grads1);
  mact_set_num_threads (4);
  run_large_ops (x, outs4, grads4);
  mact_set_num_threads (saved);

  for (gint op = 0; op < N_LARGE_OPS; op++)
    {
      mact_test_assert_close (outs4[op], outs1[op], 0.0, "output, 4 threads vs 1");
      mact_test_assert_close (grads4[op], grads1[op], 0.0, "grad, 4 threads vs 1");
      mact_tensor_unref (outs1[op]);
      mact_tensor_unref (outs4[op]);
      mact_tensor_unref (grads1[op]);
      mact_tensor_unref (grads4[op]);
    }
}

/* Nothing is recorded in no-grad mode or when no input requires grad. */
static void
test_no_graph (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[4] = { 2, 8, 2, 3 };
  g_autoptr(MactTensor) plain = mact_test_random (4, shape, 3, -1, 1);
  g_autoptr(MactTensor) x = mact_test_random (4, shape, 4, -1, 1);
  assert_true (mact_tensor_set_requires_grad (x, TRUE, &error));
  const gint dims[1] = { 1 };
  const gint64 pad[4] = { 1, 1, 1, 0 };

  g_autoptr(MactTensor) a = mact_flip (plain, 1, dims, &error);
  g_assert_no_error (error);
  g_autoptr(MactTensor) b = mact_pad (plain, 4, pad, MACT_PAD_REFLECT, 0.0f, &error);
  g_assert_no_error (error);
  g_autoptr(MactTensor) c = mact_temporal_shift (plain, 2, 4, &error);
  g_assert_no_error (error);
  MactTensor *two[2] = { plain, plain };
  g_autoptr(MactTensor) d = mact_cat (two, 2, 0, &error);
  g_assert_no_error (error);
  g_autoptr(MactTensor) e = mact_stack (two, 2, 0, &error);
  g_assert_no_error (error);
  assert_null (mact_tensor_get_grad_fn_name (a));
  assert_null (mact_tensor_get_grad_fn_name (b));
  assert_null (mact_tensor_get_grad_fn_name (c));
  assert_null (mact_tensor_get_grad_fn_name (d));
  assert_null (mact_tensor_get_grad_fn_name (e));

  MACT_NO_GRAD_BEGIN
  g_autoptr(MactTensor) f = mact_pad (x, 4, pad, MACT_PAD_CONSTANT, 0.0f, &error);
  g_assert_no_error (error);
  g_autoptr(MactTensor) g = mact_temporal_shift (x, 2, 4, &error);
  g_assert_no_error (error);
  assert_null (mact_tensor_get_grad_fn_name (f));
  assert_null (mact_tensor_get_grad_fn_name (g));
  MACT_NO_GRAD_END

  /* One input of a cat requiring grad is enough. */
  MactTensor *mixed[2] = { plain, x };
  g_autoptr(MactTensor) h = mact_cat (mixed, 2, 1, &error);
  g_assert_no_error (error);
  assert_string_equal (mact_tensor_get_grad_fn_name (h), "CatBackward");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_cat_dim0),
    cmocka_unit_test (test_cat_dim1),
    cmocka_unit_test (test_cat_neg1),
    cmocka_unit_test (test_cat_neg3),
    cmocka_unit_test (test_cat_one),
    cmocka_unit_test (test_cat_same_tensor_twice),
    cmocka_unit_test (test_cat_errors),
    cmocka_unit_test (test_stack_start),
    cmocka_unit_test (test_stack_mid),
    cmocka_unit_test (test_stack_end),
    cmocka_unit_test (test_stack_neg_end),
    cmocka_unit_test (test_stack_neg_start),
    cmocka_unit_test (test_stack_errors),
    cmocka_unit_test (test_flip_0_2),
    cmocka_unit_test (test_flip_multi),
    cmocka_unit_test (test_flip_mid),
    cmocka_unit_test (test_flip_1d),
    cmocka_unit_test (test_flip_no_dims),
    cmocka_unit_test (test_flip_errors),
    cmocka_unit_test (test_pad_const_last),
    cmocka_unit_test (test_pad_const_neg),
    cmocka_unit_test (test_pad_const_all),
    cmocka_unit_test (test_pad_const_crop),
    cmocka_unit_test (test_pad_const_1d),
    cmocka_unit_test (test_pad_const_5d),
    cmocka_unit_test (test_pad_reflect_2d),
    cmocka_unit_test (test_pad_reflect_3d),
    cmocka_unit_test (test_pad_reflect_3d_neg),
    cmocka_unit_test (test_pad_reflect_3d_2),
    cmocka_unit_test (test_pad_reflect_4d),
    cmocka_unit_test (test_pad_reflect_5d),
    cmocka_unit_test (test_pad_replicate_3d),
    cmocka_unit_test (test_pad_replicate_3d_neg),
    cmocka_unit_test (test_pad_replicate_4d),
    cmocka_unit_test (test_pad_replicate_4d_3),
    cmocka_unit_test (test_pad_replicate_5d),
    cmocka_unit_test (test_pad_none),
    cmocka_unit_test (test_pad_errors),
    cmocka_unit_test (test_tsm_div8),
    cmocka_unit_test (test_tsm_div4),
    cmocka_unit_test (test_tsm_div4_c10),
    cmocka_unit_test (test_tsm_noncontig),
    cmocka_unit_test (test_tsm_seg1),
    cmocka_unit_test (test_tsm_nofold),
    cmocka_unit_test (test_tsm_gradcheck_small),
    cmocka_unit_test (test_tsm_errors),
    cmocka_unit_test (test_no_graph),
    cmocka_unit_test (test_threads_agree),
  };
  return cmocka_run_group_tests_name ("ops-shape", tests, NULL, NULL);
}
