/* test-ops-conv.c: conv2d, conv3d, linear and matmul against PyTorch fixtures
 * (tests/fixtures/gen_conv.py), finite differences, a naive reference and every error. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

#define TOL 1e-5

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */
/* ------------------------------------------------------------------------------------ */

/* A leaf copy of a fixture tensor that requires grad. */
static MactTensor *
leaf_from (MactTestFixture *fx, const char *key, gboolean requires_grad)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_clone (mact_test_fixture_get (fx, key));
  assert_non_null (t);
  assert_true (mact_tensor_set_requires_grad (t, requires_grad, &error));
  assert_null (error);
  return t;
}

static MactTensor *
random_leaf (gint ndim, const gint64 *shape, guint64 seed)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_test_random (ndim, shape, seed, -1.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (t, TRUE, &error));
  return t;
}

static MactTensor *
zeros (gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new (ndim, shape, &error);
  assert_non_null (t);
  return t;
}

static void
read_params (MactTestFixture *fx, const char *key, gint *out, gint n)
{
  gint64 v[3];
  assert_int_equal (mact_test_fixture_meta_ints (fx, key, v, 3), n);
  for (gint i = 0; i < n; i++)
    out[i] = (gint) v[i];
}

static void
assert_grad (MactTensor *leaf, MactTestFixture *fx, const char *key)
{
  MactTensor *g = mact_tensor_get_grad (leaf);
  if (g == NULL)
    fail_msg ("%s: no gradient", key);
  mact_test_assert_close (g, mact_test_fixture_get (fx, key), TOL, key);
}

/* ------------------------------------------------------------------------------------ */
/* Fixtures                                                                             */
/* ------------------------------------------------------------------------------------ */

static void
test_conv_fixture (void **state)
{
  const char *name = *state;
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  gint nsp = g_str_equal (mact_test_fixture_meta (fx, "op"), "conv2d") ? 2 : 3;
  gboolean has_bias = mact_test_fixture_meta_int (fx, "has_bias") != 0;
  gint stride[3], padding[3], dilation[3];
  gint groups = (gint) mact_test_fixture_meta_int (fx, "groups");

  read_params (fx, "stride", stride, nsp);
  read_params (fx, "padding", padding, nsp);
  read_params (fx, "dilation", dilation, nsp);

  g_autoptr(MactTensor) x = leaf_from (fx, "input", TRUE);
  g_autoptr(MactTensor) w = leaf_from (fx, "weight", TRUE);
  g_autoptr(MactTensor) b = has_bias ? leaf_from (fx, "bias", TRUE) : NULL;
  g_autoptr(MactTensor) y = nsp == 2
    ? mact_conv2d (x, w, b, stride, padding, dilation, groups, &error)
    : mact_conv3d (x, w, b, stride, padding, dilation, groups, &error);
  assert_null (error);
  assert_non_null (y);
  assert_true (mact_tensor_is_contiguous (y));
  mact_test_assert_close (y, mact_test_fixture_get (fx, "output"), TOL, "output");
  assert_string_equal (mact_tensor_get_grad_fn_name (y),
                       nsp == 2 ? "Conv2dBackward" : "Conv3dBackward");

  assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, "grad_output"), &error));
  assert_null (error);
  assert_grad (x, fx, "grad_input");
  assert_grad (w, fx, "grad_weight");
  if (has_bias)
    assert_grad (b, fx, "grad_bias");
}

static void
test_linear_fixture (void **state)
{
  const char *name = *state;
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;
  gboolean has_bias = mact_test_fixture_meta_int (fx, "has_bias") != 0;

  g_autoptr(MactTensor) x = leaf_from (fx, "input", TRUE);
  g_autoptr(MactTensor) w = leaf_from (fx, "weight", TRUE);
  g_autoptr(MactTensor) b = has_bias ? leaf_from (fx, "bias", TRUE) : NULL;
  g_autoptr(MactTensor) y = mact_linear (x, w, b, &error);
  assert_null (error);
  mact_test_assert_close (y, mact_test_fixture_get (fx, "output"), TOL, "output");
  assert_string_equal (mact_tensor_get_grad_fn_name (y), "LinearBackward");

  assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, "grad_output"), &error));
  assert_grad (x, fx, "grad_input");
  assert_grad (w, fx, "grad_weight");
  if (has_bias)
    assert_grad (b, fx, "grad_bias");
}

static void
test_matmul_fixture (void **state)
{
  const char *name = *state;
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  g_autoptr(GError) error = NULL;

  g_autoptr(MactTensor) a = leaf_from (fx, "a", TRUE);
  g_autoptr(MactTensor) b = leaf_from (fx, "b", TRUE);
  g_autoptr(MactTensor) y = mact_matmul (a, b, &error);
  assert_null (error);
  mact_test_assert_close (y, mact_test_fixture_get (fx, "output"), TOL, "output");
  assert_string_equal (mact_tensor_get_grad_fn_name (y), "MatmulBackward");

  assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, "grad_output"), &error));
  assert_grad (a, fx, "grad_a");
  assert_grad (b, fx, "grad_b");
}

/* Only the weight requires grad: the input gets none, the weight the fixture's. */
static void
test_conv_partial_grad (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("conv2d_groups");
  g_autoptr(GError) error = NULL;
  gint stride[2], padding[2], dilation[2];

  read_params (fx, "stride", stride, 2);
  read_params (fx, "padding", padding, 2);
  read_params (fx, "dilation", dilation, 2);
  g_autoptr(MactTensor) x = leaf_from (fx, "input", FALSE);
  g_autoptr(MactTensor) w = leaf_from (fx, "weight", TRUE);
  g_autoptr(MactTensor) b = leaf_from (fx, "bias", FALSE);
  g_autoptr(MactTensor) y = mact_conv2d (x, w, b, stride, padding, dilation,
                                         (gint) mact_test_fixture_meta_int (fx, "groups"),
                                         &error);
  assert_non_null (y);
  assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, "grad_output"), &error));
  assert_null (mact_tensor_get_grad (x));
  assert_null (mact_tensor_get_grad (b));
  assert_grad (w, fx, "grad_weight");

  /* Only the bias. */
  g_autoptr(MactTensor) w2 = leaf_from (fx, "weight", FALSE);
  g_autoptr(MactTensor) b2 = leaf_from (fx, "bias", TRUE);
  g_autoptr(MactTensor) y2 = mact_conv2d (x, w2, b2, stride, padding, dilation,
                                          (gint) mact_test_fixture_meta_int (fx, "groups"),
                                          &error);
  assert_true (mact_tensor_backward (y2, mact_test_fixture_get (fx, "grad_output"), &error));
  assert_null (mact_tensor_get_grad (w2));
  assert_grad (b2, fx, "grad_bias");
}

/* No graph in no-grad mode, nor when nothing requires grad. */
static void
test_no_grad (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("conv2d_basic");
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) x = leaf_from (fx, "input", TRUE);
  g_autoptr(MactTensor) w = leaf_from (fx, "weight", TRUE);
  g_autoptr(MactTensor) y = NULL;
  g_autoptr(MactTensor) l = NULL;
  g_autoptr(MactTensor) m = NULL;
  const gint64 s34[2] = { 3, 4 }, s43[2] = { 4, 3 };
  g_autoptr(MactTensor) lx = random_leaf (2, s34, 1);
  g_autoptr(MactTensor) lw = random_leaf (2, s43, 2);

  MACT_NO_GRAD_BEGIN
  y = mact_conv2d (x, w, NULL, NULL, NULL, NULL, 1, &error);
  l = mact_linear (lx, lx, NULL, &error);
  m = mact_matmul (lx, lw, &error);
  MACT_NO_GRAD_END
  assert_non_null (y);
  assert_null (mact_tensor_get_grad_fn_name (y));
  assert_null (mact_tensor_get_grad_fn_name (l));
  assert_null (mact_tensor_get_grad_fn_name (m));
  assert_null (error);

  g_autoptr(MactTensor) xc = leaf_from (fx, "input", FALSE);
  g_autoptr(MactTensor) wc = leaf_from (fx, "weight", FALSE);
  g_autoptr(MactTensor) y2 = mact_conv2d (xc, wc, NULL, NULL, NULL, NULL, 1, &error);
  assert_null (mact_tensor_get_grad_fn_name (y2));
  mact_test_assert_close (y2, y, 0.0, "same result");
}

/* NULL stride/padding/dilation mean 1/0/1. */
static void
test_conv_defaults (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 xs[5] = { 1, 2, 3, 4, 5 }, ws[5] = { 3, 2, 2, 2, 2 };
  const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  g_autoptr(MactTensor) x = mact_test_random (5, xs, 1, -1, 1);
  g_autoptr(MactTensor) w = mact_test_random (5, ws, 2, -1, 1);
  g_autoptr(MactTensor) y1 = mact_conv3d (x, w, NULL, NULL, NULL, NULL, 1, &error);
  g_autoptr(MactTensor) y2 = mact_conv3d (x, w, NULL, one, zero, one, 1, &error);
  assert_null (error);
  assert_int_equal (mact_tensor_get_size (y1, 2), 2);
  assert_int_equal (mact_tensor_get_size (y1, 3), 3);
  assert_int_equal (mact_tensor_get_size (y1, 4), 4);
  mact_test_assert_close (y1, y2, 0.0, "defaults");
}

/* ------------------------------------------------------------------------------------ */
/* A naive reference on a shape large enough to split vol2col/col2vol across threads     */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  gint64 n, cin, cout, groups;
  gint64 in[3], k[3], out[3], s[3], p[3], d[3];
} RefConv;

static void
ref_conv3d (const RefConv *c, const float *x, const float *w, const float *b,
            const float *gy, float *y, float *gx, float *gw, float *gb)
{
  gint64 cin_g = c->cin / c->groups, cout_g = c->cout / c->groups;
  gint64 inp = c->in[0] * c->in[1] * c->in[2], outp = c->out[0] * c->out[1] * c->out[2];
  gint64 kp = c->k[0] * c->k[1] * c->k[2];
  g_autofree double *dgx = g_new0 (double, c->n * c->cin * inp);
  g_autofree double *dgw = g_new0 (double, c->cout * cin_g * kp);

  for (gint64 co = 0; co < c->cout; co++)
    {
      double sb = 0.0;
      for (gint64 n = 0; n < c->n; n++)
        for (gint64 o = 0; o < outp; o++)
          sb += gy[(n * c->cout + co) * outp + o];
      gb[co] = (float) sb;
    }

  for (gint64 n = 0; n < c->n; n++)
    for (gint64 co = 0; co < c->cout; co++)
      for (gint64 od = 0; od < c->out[0]; od++)
        for (gint64 oh = 0; oh < c->out[1]; oh++)
          for (gint64 ow = 0; ow < c->out[2]; ow++)
            {
              gint64 g = co / cout_g;
              gint64 oi = (n * c->cout + co) * outp + (od * c->out[1] + oh) * c->out[2] + ow;
              double acc = b[co];
              for (gint64 ci = 0; ci < cin_g; ci++)
                for (gint64 kd = 0; kd < c->k[0]; kd++)
                  for (gint64 kh = 0; kh < c->k[1]; kh++)
                    for (gint64 kw = 0; kw < c->k[2]; kw++)
                      {
                        gint64 id = od * c->s[0] - c->p[0] + kd * c->d[0];
                        gint64 ih = oh * c->s[1] - c->p[1] + kh * c->d[1];
                        gint64 iw = ow * c->s[2] - c->p[2] + kw * c->d[2];
                        if (id < 0 || id >= c->in[0] || ih < 0 || ih >= c->in[1] ||
                            iw < 0 || iw >= c->in[2])
                          continue;
                        gint64 xi = (n * c->cin + g * cin_g + ci) * inp +
                                    (id * c->in[1] + ih) * c->in[2] + iw;
                        gint64 wi = ((co * cin_g + ci) * c->k[0] + kd) * c->k[1] * c->k[2] +
                                    kh * c->k[2] + kw;
                        acc += (double) x[xi] * w[wi];
                        dgx[xi] += (double) gy[oi] * w[wi];
                        dgw[wi] += (double) gy[oi] * x[xi];
                      }
              y[oi] = (float) acc;
            }
  for (gint64 i = 0; i < c->n * c->cin * inp; i++)
    gx[i] = (float) dgx[i];
  for (gint64 i = 0; i < c->cout * cin_g * kp; i++)
    gw[i] = (float) dgw[i];
}

/* mact_conv3d against ref_conv3d on @c (out[] filled in here): output and gradients. */
static void
check_conv_reference (RefConv c, guint64 seed)
{
  g_autoptr(GError) error = NULL;
  for (gint i = 0; i < 3; i++)
    c.out[i] = (c.in[i] + 2 * c.p[i] - c.d[i] * (c.k[i] - 1) - 1) / c.s[i] + 1;
  const gint64 xs[5] = { c.n, c.cin, c.in[0], c.in[1], c.in[2] };
  const gint64 ws[5] = { c.cout, c.cin / c.groups, c.k[0], c.k[1], c.k[2] };
  const gint64 ys[5] = { c.n, c.cout, c.out[0], c.out[1], c.out[2] };
  gint stride[3], padding[3], dilation[3];
  for (gint i = 0; i < 3; i++)
    {
      stride[i] = (gint) c.s[i];
      padding[i] = (gint) c.p[i];
      dilation[i] = (gint) c.d[i];
    }

  g_autoptr(MactTensor) x = random_leaf (5, xs, seed);
  g_autoptr(MactTensor) w = random_leaf (5, ws, seed + 1);
  g_autoptr(MactTensor) b = random_leaf (1, &c.cout, seed + 2);
  g_autoptr(MactTensor) gy = mact_test_random (5, ys, seed + 3, -1, 1);
  g_autoptr(MactTensor) ey = zeros (5, ys);
  g_autoptr(MactTensor) egx = zeros (5, xs);
  g_autoptr(MactTensor) egw = zeros (5, ws);
  g_autoptr(MactTensor) egb = zeros (1, &c.cout);

  ref_conv3d (&c, mact_tensor_get_data (x), mact_tensor_get_data (w),
              mact_tensor_get_data (b), mact_tensor_get_data (gy),
              mact_tensor_get_data (ey), mact_tensor_get_data (egx),
              mact_tensor_get_data (egw), mact_tensor_get_data (egb));

  g_autoptr(MactTensor) y = mact_conv3d (x, w, b, stride, padding, dilation,
                                         (gint) c.groups, &error);
  assert_null (error);
  mact_test_assert_close (y, ey, TOL, "reference output");
  assert_true (mact_tensor_backward (y, gy, &error));
  mact_test_assert_close (mact_tensor_get_grad (x), egx, TOL, "reference grad_input");
  mact_test_assert_close (mact_tensor_get_grad (w), egw, TOL, "reference grad_weight");
  mact_test_assert_close (mact_tensor_get_grad (b), egb, TOL, "reference grad_bias");
}

static void
test_conv_reference (void **state)
{
  check_conv_reference ((RefConv) { .n = 2, .cin = 8, .cout = 6, .groups = 2,
                                    .in = { 3, 12, 11 }, .k = { 2, 3, 3 },
                                    .s = { 1, 2, 1 }, .p = { 1, 1, 2 }, .d = { 1, 1, 2 } },
                        10);
}

/* Planes whose column matrix exceeds the tile size (8 MiB) are unfolded a run of output
 * rows at a time: two tiles here, the second partial; grouped, then strided. */
static void
test_conv_tiled_plane (void **state)
{
  check_conv_reference ((RefConv) { .n = 1, .cin = 8, .cout = 6, .groups = 2,
                                    .in = { 6, 44, 44 }, .k = { 3, 3, 3 },
                                    .s = { 1, 1, 1 }, .p = { 1, 1, 1 }, .d = { 1, 1, 1 } },
                        20);
  check_conv_reference ((RefConv) { .n = 2, .cin = 16, .cout = 4, .groups = 1,
                                    .in = { 4, 90, 64 }, .k = { 3, 3, 3 },
                                    .s = { 1, 2, 2 }, .p = { 1, 1, 1 }, .d = { 1, 1, 1 } },
                        30);
}

/* Depthwise convolutions (one input channel per group) take a direct kernel; with a
 * channel multiplier of 2, strides, padding and dilation. */
static void
test_conv_depthwise_reference (void **state)
{
  check_conv_reference ((RefConv) { .n = 2, .cin = 4, .cout = 8, .groups = 4,
                                    .in = { 3, 9, 10 }, .k = { 3, 3, 3 },
                                    .s = { 1, 2, 1 }, .p = { 1, 1, 1 }, .d = { 1, 1, 2 } },
                        40);
}

/* Stride-1 convolutions with a 3x3 spatial kernel, one group, at least 8 channels and
 * output planes of 64 positions or more run Winograd F(4x4, 3x3) (mact-conv-winograd.c)
 * forward, and the same for the input gradient (a convolution of the output gradient with
 * the rotated filter).  Planes that are not multiples of the 4x4 tile, channel counts
 * that are not multiples of the 8 vector lanes, every temporal padding allowed and
 * spatial paddings 0 to 2; a 1-frame kernel (frames of all samples become one
 * sequence); planes of few tiles (one GEMM per temporal tap) and of many (the taps
 * stacked into one GEMM per frame).
 * The run without Winograd (MACT_CONV_WINOGRAD=0, tests/meson.build) checks the same
 * shapes through im2col. */
static void
test_conv_winograd_reference (void **state)
{
  check_conv_reference ((RefConv) { .n = 2, .cin = 9, .cout = 10, .groups = 1,
                                    .in = { 4, 13, 11 }, .k = { 3, 3, 3 },
                                    .s = { 1, 1, 1 }, .p = { 1, 1, 1 }, .d = { 1, 1, 1 } },
                        50);
  check_conv_reference ((RefConv) { .n = 3, .cin = 8, .cout = 12, .groups = 1,
                                    .in = { 2, 9, 17 }, .k = { 1, 3, 3 },
                                    .s = { 1, 1, 1 }, .p = { 0, 0, 2 }, .d = { 1, 1, 1 } },
                        60);
  check_conv_reference ((RefConv) { .n = 1, .cin = 11, .cout = 8, .groups = 1,
                                    .in = { 5, 10, 12 }, .k = { 2, 3, 3 },
                                    .s = { 1, 1, 1 }, .p = { 0, 2, 0 }, .d = { 1, 1, 1 } },
                        70);
  check_conv_reference ((RefConv) { .n = 2, .cin = 8, .cout = 9, .groups = 1,
                                    .in = { 3, 8, 8 }, .k = { 3, 3, 3 },
                                    .s = { 1, 1, 1 }, .p = { 2, 1, 1 }, .d = { 1, 1, 1 } },
                        80);
  /* 72 tiles per frame: the temporal taps stack into one GEMM per output frame. */
  check_conv_reference ((RefConv) { .n = 1, .cin = 8, .cout = 9, .groups = 1,
                                    .in = { 3, 30, 34 }, .k = { 3, 3, 3 },
                                    .s = { 1, 1, 1 }, .p = { 1, 1, 1 }, .d = { 1, 1, 1 } },
                        85);
}

/* Long clips on large planes are transformed a chunk of frames at a time (12 MiB of
 * transformed input and output): here 4 chunks (7, 7, 7 and 3 frames), the temporal taps reading
 * across chunk boundaries. */
static void
test_full_conv_winograd_chunks (void **state)
{
  check_conv_reference ((RefConv) { .n = 1, .cin = 8, .cout = 8, .groups = 1,
                                    .in = { 24, 96, 96 }, .k = { 3, 3, 3 },
                                    .s = { 1, 1, 1 }, .p = { 1, 1, 1 }, .d = { 1, 1, 1 } },
                        90);
}

/* ------------------------------------------------------------------------------------ */
/* Finite differences                                                                   */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  gint nsp;
  gint stride[3], padding[3], dilation[3];
  gint groups;
  gboolean transpose_input;   /* the input leaf holds [N, C, W, H]: transpose it first */
} ConvArgs;

static MactTensor *
conv_fn (MactTensor **in, gpointer user_data, GError **error)
{
  const ConvArgs *a = user_data;
  g_autoptr(MactTensor) xt = NULL;
  MactTensor *x = in[0];

  if (a->transpose_input)
    {
      xt = mact_tensor_transpose (in[0], 2, 3, error);
      if (xt == NULL)
        return NULL;
      g_assert (!mact_tensor_is_contiguous (xt));
      x = xt;
    }
  if (a->nsp == 2)
    return mact_conv2d (x, in[1], in[2], a->stride, a->padding, a->dilation, a->groups,
                        error);
  return mact_conv3d (x, in[1], in[2], a->stride, a->padding, a->dilation, a->groups,
                      error);
}

static void
gradcheck_conv (const ConvArgs *args, const gint64 *xs, const gint64 *ws, gboolean bias)
{
  gint ndim = args->nsp + 2;
  g_autoptr(MactTensor) x = random_leaf (ndim, xs, 101);
  g_autoptr(MactTensor) w = random_leaf (ndim, ws, 102);
  g_autoptr(MactTensor) b = bias ? random_leaf (1, ws, 103) : NULL;
  MactTensor *inputs[3] = { x, w, b };

  mact_test_gradcheck (conv_fn, inputs, 3, (gpointer) args, 1e-2, 1e-2);
}

static void
test_conv2d_gradcheck (void **state)
{
  {
    ConvArgs a = { .nsp = 2, .stride = { 2, 1 }, .padding = { 1, 2 },
                   .dilation = { 1, 2 }, .groups = 1 };
    const gint64 xs[4] = { 2, 2, 5, 4 }, ws[4] = { 3, 2, 3, 2 };
    gradcheck_conv (&a, xs, ws, TRUE);
  }
  {
    ConvArgs a = { .nsp = 2, .stride = { 1, 2 }, .padding = { 1, 1 },
                   .dilation = { 1, 1 }, .groups = 2 };
    const gint64 xs[4] = { 1, 4, 4, 5 }, ws[4] = { 4, 2, 3, 3 };
    gradcheck_conv (&a, xs, ws, FALSE);
  }
  {
    /* Depthwise. */
    ConvArgs a = { .nsp = 2, .stride = { 2, 2 }, .padding = { 1, 1 },
                   .dilation = { 1, 1 }, .groups = 3 };
    const gint64 xs[4] = { 2, 3, 5, 5 }, ws[4] = { 3, 1, 3, 3 };
    gradcheck_conv (&a, xs, ws, TRUE);
  }
  {
    /* Pointwise: the column matrix is the input itself. */
    ConvArgs a = { .nsp = 2, .stride = { 1, 1 }, .padding = { 0, 0 },
                   .dilation = { 1, 1 }, .groups = 1 };
    const gint64 xs[4] = { 2, 3, 3, 4 }, ws[4] = { 2, 3, 1, 1 };
    gradcheck_conv (&a, xs, ws, TRUE);
  }
}

static void
test_conv3d_gradcheck (void **state)
{
  {
    ConvArgs a = { .nsp = 3, .stride = { 1, 2, 2 }, .padding = { 1, 1, 1 },
                   .dilation = { 1, 1, 1 }, .groups = 1 };
    const gint64 xs[5] = { 1, 2, 3, 5, 4 }, ws[5] = { 2, 2, 3, 3, 3 };
    gradcheck_conv (&a, xs, ws, TRUE);
  }
  {
    ConvArgs a = { .nsp = 3, .stride = { 2, 1, 1 }, .padding = { 0, 1, 0 },
                   .dilation = { 1, 1, 2 }, .groups = 2 };
    const gint64 xs[5] = { 1, 4, 4, 3, 5 }, ws[5] = { 2, 2, 2, 2, 2 };
    gradcheck_conv (&a, xs, ws, TRUE);
  }
  {
    /* Temporal-only kernel (3, 1, 1). */
    ConvArgs a = { .nsp = 3, .stride = { 1, 1, 1 }, .padding = { 1, 0, 0 },
                   .dilation = { 1, 1, 1 }, .groups = 1 };
    const gint64 xs[5] = { 2, 2, 4, 2, 3 }, ws[5] = { 3, 2, 3, 1, 1 };
    gradcheck_conv (&a, xs, ws, FALSE);
  }
}

/* Non-contiguous input and weight: the result equals that of contiguous copies, and
 * gradients flow back through the views. */
static void
test_conv_noncontiguous (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 xs_t[4] = { 2, 3, 5, 4 };   /* [N, C, W, H] */
  const gint64 ws_t[4] = { 3, 4, 3, 2 };   /* [C_in, C_out, kH, kW] */
  const gint stride[2] = { 1, 2 }, padding[2] = { 1, 0 };
  g_autoptr(MactTensor) x_t = mact_test_random (4, xs_t, 1, -1, 1);
  g_autoptr(MactTensor) w_t = mact_test_random (4, ws_t, 2, -1, 1);
  g_autoptr(MactTensor) x = mact_tensor_transpose (x_t, 2, 3, &error);
  g_autoptr(MactTensor) w = mact_tensor_transpose (w_t, 0, 1, &error);
  g_autoptr(MactTensor) xc = mact_tensor_contiguous (x);
  g_autoptr(MactTensor) wc = mact_tensor_contiguous (w);
  assert_false (mact_tensor_is_contiguous (x));
  assert_false (mact_tensor_is_contiguous (w));

  g_autoptr(MactTensor) y1 = mact_conv2d (x, w, NULL, stride, padding, NULL, 1, &error);
  g_autoptr(MactTensor) y2 = mact_conv2d (xc, wc, NULL, stride, padding, NULL, 1, &error);
  assert_null (error);
  mact_test_assert_close (y1, y2, 0.0, "non-contiguous conv2d");

  /* Gradient through the transposed input. */
  ConvArgs a = { .nsp = 2, .stride = { 1, 2 }, .padding = { 1, 0 },
                 .dilation = { 1, 1 }, .groups = 1, .transpose_input = TRUE };
  const gint64 xs_small[4] = { 1, 2, 4, 3 }, ws_small[4] = { 2, 2, 2, 2 };
  g_autoptr(MactTensor) gx = random_leaf (4, xs_small, 5);
  g_autoptr(MactTensor) gw = random_leaf (4, ws_small, 6);
  MactTensor *inputs[3] = { gx, gw, NULL };
  mact_test_gradcheck (conv_fn, inputs, 3, &a, 1e-2, 1e-2);
}

typedef struct {
  gboolean transpose_weight;   /* weight leaf holds [in, out] */
} LinearArgs;

static MactTensor *
linear_fn (MactTensor **in, gpointer user_data, GError **error)
{
  const LinearArgs *a = user_data;
  g_autoptr(MactTensor) wt = NULL;
  MactTensor *w = in[1];

  if (a->transpose_weight)
    {
      wt = mact_tensor_transpose (in[1], 0, 1, error);
      w = wt;
    }
  return mact_linear (in[0], w, in[2], error);
}

static void
test_linear_gradcheck (void **state)
{
  const gint64 xs[3] = { 2, 3, 4 }, ws[2] = { 5, 4 }, wts[2] = { 4, 5 }, bs[1] = { 5 };
  {
    LinearArgs a = { FALSE };
    g_autoptr(MactTensor) x = random_leaf (3, xs, 1);
    g_autoptr(MactTensor) w = random_leaf (2, ws, 2);
    g_autoptr(MactTensor) b = random_leaf (1, bs, 3);
    MactTensor *inputs[3] = { x, w, b };
    mact_test_gradcheck (linear_fn, inputs, 3, &a, 1e-2, 1e-2);
  }
  {
    /* Non-contiguous weight, no bias. */
    LinearArgs a = { TRUE };
    g_autoptr(MactTensor) x = random_leaf (3, xs, 4);
    g_autoptr(MactTensor) w = random_leaf (2, wts, 5);
    MactTensor *inputs[3] = { x, w, NULL };
    mact_test_gradcheck (linear_fn, inputs, 3, &a, 1e-2, 1e-2);
  }
}

typedef struct {
  gboolean transpose_b;   /* b leaf holds [..., n, k]: swap its last two dims */
} MatmulArgs;

static MactTensor *
matmul_fn (MactTensor **in, gpointer user_data, GError **error)
{
  const MatmulArgs *a = user_data;
  g_autoptr(MactTensor) bt = NULL;
  MactTensor *b = in[1];

  if (a->transpose_b)
    {
      gint nd = mact_tensor_get_ndim (in[1]);
      bt = mact_tensor_transpose (in[1], nd - 2, nd - 1, error);
      b = bt;
    }
  return mact_matmul (in[0], b, error);
}

static void
gradcheck_matmul (gint nda, const gint64 *as, gint ndb, const gint64 *bs,
                  gboolean transpose_b)
{
  MatmulArgs args = { transpose_b };
  g_autoptr(MactTensor) a = random_leaf (nda, as, 7);
  g_autoptr(MactTensor) b = random_leaf (ndb, bs, 8);
  MactTensor *inputs[2] = { a, b };
  mact_test_gradcheck (matmul_fn, inputs, 2, &args, 1e-2, 1e-2);
}

static void
test_matmul_gradcheck (void **state)
{
  {
    const gint64 as[2] = { 3, 4 }, bs[2] = { 4, 2 };
    gradcheck_matmul (2, as, 2, bs, FALSE);
  }
  {
    /* Broadcast batch on both sides. */
    const gint64 as[4] = { 2, 1, 3, 4 }, bs[3] = { 3, 4, 2 };
    gradcheck_matmul (4, as, 3, bs, FALSE);
  }
  {
    /* Batched with a non-contiguous right operand. */
    const gint64 as[3] = { 2, 3, 4 }, bs[3] = { 2, 5, 4 };
    gradcheck_matmul (3, as, 3, bs, TRUE);
  }
  {
    /* N-D x 2-D (single GEMM over folded rows). */
    const gint64 as[3] = { 2, 3, 4 }, bs[2] = { 4, 3 };
    gradcheck_matmul (3, as, 2, bs, FALSE);
  }
  {
    const gint64 as[1] = { 4 }, bs[3] = { 2, 4, 3 };
    gradcheck_matmul (1, as, 3, bs, FALSE);
  }
  {
    const gint64 as[3] = { 2, 3, 4 }, bs[1] = { 4 };
    gradcheck_matmul (3, as, 1, bs, FALSE);
  }
  {
    const gint64 as[1] = { 4 }, bs[1] = { 4 };
    gradcheck_matmul (1, as, 1, bs, FALSE);
  }
}

static void
test_matmul_shapes (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 v[1] = { 4 };
  g_autoptr(MactTensor) a = mact_test_random (1, v, 1, -1, 1);
  g_autoptr(MactTensor) b = mact_test_random (1, v, 2, -1, 1);
  g_autoptr(MactTensor) dot = mact_matmul (a, b, &error);
  assert_non_null (dot);
  assert_int_equal (mact_tensor_get_ndim (dot), 0);
  float expected = 0.0f;
  for (gint i = 0; i < 4; i++)
    expected += mact_tensor_get_data (a)[i] * mact_tensor_get_data (b)[i];
  assert_float_equal (mact_tensor_item (dot), expected, 1e-5);

  const gint64 as[4] = { 2, 1, 3, 4 }, bs[3] = { 5, 4, 2 };
  g_autoptr(MactTensor) a4 = mact_test_random (4, as, 3, -1, 1);
  g_autoptr(MactTensor) b3 = mact_test_random (3, bs, 4, -1, 1);
  g_autoptr(MactTensor) y = mact_matmul (a4, b3, &error);
  assert_non_null (y);
  const gint64 expected_shape[4] = { 2, 5, 3, 2 };
  gint nd;
  const gint64 *shape = mact_tensor_get_shape (y, &nd);
  assert_int_equal (nd, 4);
  for (gint i = 0; i < 4; i++)
    assert_int_equal (shape[i], expected_shape[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */
/* ------------------------------------------------------------------------------------ */

#define EXPECT_ERROR(call, code)                                                   \
  G_STMT_START {                                                                   \
    g_autoptr(MactTensor) _r = (call);                                             \
    assert_null (_r);                                                              \
    mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_##code);  \
  } G_STMT_END

#define EXPECT_OK(call)                                                            \
  G_STMT_START {                                                                   \
    g_autoptr(MactTensor) _r = (call);                                             \
    assert_null (error);                                                           \
    assert_non_null (_r);                                                          \
  } G_STMT_END

static void
test_conv2d_errors (void **state)
{
  GError *error = NULL;
  const gint64 xs[4] = { 1, 4, 5, 5 }, ws[4] = { 6, 4, 3, 3 }, wgs[4] = { 6, 2, 3, 3 };
  const gint64 x3s[3] = { 4, 5, 5 }, w3s[3] = { 6, 4, 3 };
  const gint64 x0s[4] = { 0, 4, 5, 5 }, w0s[4] = { 6, 4, 0, 3 };
  const gint64 xsmall[4] = { 1, 4, 2, 5 }, b5[1] = { 5 }, b2d[2] = { 1, 6 };
  const gint64 x3c[4] = { 1, 3, 5, 5 }, w5s[4] = { 5, 2, 3, 3 }, wgood[1] = { 6 };
  g_autoptr(MactTensor) x = zeros (4, xs);
  g_autoptr(MactTensor) w = zeros (4, ws);
  g_autoptr(MactTensor) wg = zeros (4, wgs);
  g_autoptr(MactTensor) x3 = zeros (3, x3s);
  g_autoptr(MactTensor) w3 = zeros (3, w3s);
  g_autoptr(MactTensor) x0 = zeros (4, x0s);
  g_autoptr(MactTensor) w0 = zeros (4, w0s);
  g_autoptr(MactTensor) xs2 = zeros (4, xsmall);
  g_autoptr(MactTensor) bias5 = zeros (1, b5);
  g_autoptr(MactTensor) bias2d = zeros (2, b2d);
  g_autoptr(MactTensor) bias = zeros (1, wgood);
  g_autoptr(MactTensor) xc3 = zeros (4, x3c);
  g_autoptr(MactTensor) w5 = zeros (4, w5s);
  const gint s0[2] = { 0, 1 }, sneg[2] = { 1, -2 }, d0[2] = { 1, 0 }, pneg[2] = { -1, 0 };
  const gint p1[2] = { 1, 1 }, d3[2] = { 3, 1 };

  /* Wrong ndim. */
  EXPECT_ERROR (mact_conv2d (x3, w, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_ERROR (mact_conv2d (x, w3, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  /* Empty dims. */
  EXPECT_ERROR (mact_conv2d (x0, w, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_ERROR (mact_conv2d (x, w0, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  /* groups < 1 */
  EXPECT_ERROR (mact_conv2d (x, w, NULL, NULL, NULL, NULL, 0, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv2d (x, w, NULL, NULL, NULL, NULL, -1, &error), INVALID_ARGUMENT);
  /* Non-positive stride or dilation, negative padding. */
  EXPECT_ERROR (mact_conv2d (x, w, NULL, s0, NULL, NULL, 1, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv2d (x, w, NULL, sneg, NULL, NULL, 1, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv2d (x, w, NULL, NULL, NULL, d0, 1, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv2d (x, w, NULL, NULL, pneg, NULL, 1, &error), INVALID_ARGUMENT);
  /* Groups not dividing C_in (3 channels, 2 groups) or C_out (5 filters, 2 groups). */
  EXPECT_ERROR (mact_conv2d (xc3, w5, NULL, NULL, NULL, NULL, 2, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv2d (x, w5, NULL, NULL, NULL, NULL, 2, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv2d (x, w, NULL, NULL, NULL, NULL, 3, &error), INVALID_ARGUMENT);
  /* Channel mismatch: 4 channels, weight expects 4 * 2 = 8 or 2 * 1 = 2. */
  EXPECT_ERROR (mact_conv2d (x, w, NULL, NULL, NULL, NULL, 2, &error), SHAPE);
  EXPECT_ERROR (mact_conv2d (x, wg, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_ERROR (mact_conv2d (xc3, w, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  /* Bias of the wrong size or rank. */
  EXPECT_ERROR (mact_conv2d (x, w, bias5, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_ERROR (mact_conv2d (x, w, bias2d, NULL, NULL, NULL, 1, &error), SHAPE);
  /* Kernel larger than the (padded) input: height 2 < 3; with padding 1 it fits. */
  EXPECT_ERROR (mact_conv2d (xs2, w, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_OK (mact_conv2d (xs2, w, NULL, NULL, p1, NULL, 1, &error));
  /* Dilation 3 spans 7 > 5 + 2 * 0; with padding 1 it spans exactly 7. */
  EXPECT_ERROR (mact_conv2d (x, w, NULL, NULL, NULL, d3, 1, &error), SHAPE);
  EXPECT_OK (mact_conv2d (x, w, bias, NULL, p1, d3, 1, &error));
  EXPECT_OK (mact_conv2d (x, wg, bias, NULL, NULL, NULL, 2, &error));
}

static void
test_conv3d_errors (void **state)
{
  GError *error = NULL;
  const gint64 xs[5] = { 1, 2, 2, 4, 4 }, ws[5] = { 2, 2, 3, 1, 1 };
  const gint64 x4s[4] = { 1, 2, 4, 4 }, wcs[5] = { 2, 1, 1, 1, 1 };
  const gint64 xe[5] = { 1, 2, 2, 0, 4 };
  g_autoptr(MactTensor) x = zeros (5, xs);
  g_autoptr(MactTensor) w = zeros (5, ws);
  g_autoptr(MactTensor) x4 = zeros (4, x4s);
  g_autoptr(MactTensor) wc = zeros (5, wcs);
  g_autoptr(MactTensor) x0 = zeros (5, xe);
  const gint s122[3] = { 1, 2, 2 }, s0[3] = { 1, 1, 0 }, p1[3] = { 1, 0, 0 };
  const gint pneg[3] = { 0, 0, -1 }, dneg[3] = { -1, 1, 1 };

  EXPECT_ERROR (mact_conv3d (x4, w, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_ERROR (mact_conv3d (x, x4, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_ERROR (mact_conv3d (x0, w, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  /* Depth 2 < kernel 3, unless padded. */
  EXPECT_ERROR (mact_conv3d (x, w, NULL, s122, NULL, NULL, 1, &error), SHAPE);
  EXPECT_OK (mact_conv3d (x, w, NULL, s122, p1, NULL, 1, &error));
  EXPECT_ERROR (mact_conv3d (x, w, NULL, s0, p1, NULL, 1, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv3d (x, w, NULL, NULL, pneg, NULL, 1, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv3d (x, w, NULL, NULL, p1, dneg, 1, &error), INVALID_ARGUMENT);
  /* 2 channels vs weight's 1 * 1. */
  EXPECT_ERROR (mact_conv3d (x, wc, NULL, NULL, NULL, NULL, 1, &error), SHAPE);
  EXPECT_OK (mact_conv3d (x, wc, NULL, NULL, NULL, NULL, 2, &error));
  EXPECT_ERROR (mact_conv3d (x, wc, NULL, NULL, NULL, NULL, 4, &error), INVALID_ARGUMENT);
  EXPECT_ERROR (mact_conv3d (x, wc, wc, NULL, NULL, NULL, 2, &error), SHAPE);
}

static void
test_linear_errors (void **state)
{
  GError *error = NULL;
  const gint64 xs[3] = { 2, 3, 4 }, ws[2] = { 5, 4 }, wbad[2] = { 5, 3 }, w1[1] = { 4 };
  const gint64 b4[1] = { 4 }, x0s[3] = { 2, 0, 4 }, w0s[2] = { 0, 4 };
  g_autoptr(MactTensor) x = zeros (3, xs);
  g_autoptr(MactTensor) w = zeros (2, ws);
  g_autoptr(MactTensor) wb = zeros (2, wbad);
  g_autoptr(MactTensor) wv = zeros (1, w1);
  g_autoptr(MactTensor) b = zeros (1, b4);
  g_autoptr(MactTensor) x0 = zeros (3, x0s);
  g_autoptr(MactTensor) w0 = zeros (2, w0s);
  g_autoptr(MactTensor) scalar = mact_tensor_new_scalar (1.0f);

  EXPECT_ERROR (mact_linear (scalar, w, NULL, &error), SHAPE);
  EXPECT_ERROR (mact_linear (x, wv, NULL, &error), SHAPE);
  EXPECT_ERROR (mact_linear (x, x, NULL, &error), SHAPE);
  EXPECT_ERROR (mact_linear (x, wb, NULL, &error), SHAPE);
  EXPECT_ERROR (mact_linear (x, w, b, &error), SHAPE);
  EXPECT_ERROR (mact_linear (x, w, w, &error), SHAPE);
  EXPECT_ERROR (mact_linear (x0, w, NULL, &error), SHAPE);
  EXPECT_ERROR (mact_linear (x, w0, NULL, &error), SHAPE);
}

static void
test_matmul_errors (void **state)
{
  GError *error = NULL;
  const gint64 a2[2] = { 3, 4 }, b2[2] = { 5, 2 }, v5[1] = { 5 };
  const gint64 a3[3] = { 2, 3, 4 }, b3[3] = { 3, 4, 5 }, a0[2] = { 3, 0 }, b0[2] = { 0, 2 };
  g_autoptr(MactTensor) ma = zeros (2, a2);
  g_autoptr(MactTensor) mb = zeros (2, b2);
  g_autoptr(MactTensor) vec = zeros (1, v5);
  g_autoptr(MactTensor) ba = zeros (3, a3);
  g_autoptr(MactTensor) bb = zeros (3, b3);
  g_autoptr(MactTensor) za = zeros (2, a0);
  g_autoptr(MactTensor) zb = zeros (2, b0);
  g_autoptr(MactTensor) scalar = mact_tensor_new_scalar (1.0f);

  EXPECT_ERROR (mact_matmul (scalar, ma, &error), SHAPE);
  EXPECT_ERROR (mact_matmul (ma, scalar, &error), SHAPE);
  EXPECT_ERROR (mact_matmul (ma, mb, &error), SHAPE);      /* 4 vs 5 */
  EXPECT_ERROR (mact_matmul (ma, vec, &error), SHAPE);     /* 4 vs 5 */
  EXPECT_ERROR (mact_matmul (vec, ma, &error), SHAPE);     /* 5 vs 3 */
  EXPECT_ERROR (mact_matmul (ba, bb, &error), SHAPE);      /* batch 2 vs 3 */
  EXPECT_ERROR (mact_matmul (za, zb, &error), SHAPE);      /* empty */
  EXPECT_OK (mact_matmul (vec, mb, &error));
}

/* One sample [1, C, H, W] of a 4-D tensor, as a new leaf that requires grad. */
static MactTensor *
sample_of (MactTensor *x, gint64 s)
{
  g_autoptr(GError) error = NULL;
  const gint64 *shape = mact_tensor_get_shape (x, NULL);
  const gint64 one[4] = { 1, shape[1], shape[2], shape[3] };
  const gint64 n = shape[1] * shape[2] * shape[3];
  MactTensor *t = mact_tensor_new (4, one, &error);
  assert_non_null (t);
  memcpy (mact_tensor_get_data (t), mact_tensor_get_data (x) + s * n, sizeof (float) * n);
  assert_true (mact_tensor_set_requires_grad (t, TRUE, &error));
  return t;
}

/* Asserts that sample @s of @full ([N, ...]) equals @one ([1, ...]) within @tol. */
static void
assert_sample_close (MactTensor *full, gint64 s, MactTensor *one, double tol,
                     const char *what)
{
  gint64 n = mact_tensor_get_numel (one);
  const float *f = mact_tensor_get_data (full) + s * n, *o = mact_tensor_get_data (one);
  for (gint64 i = 0; i < n; i++)
    if (fabs (f[i] - o[i]) > tol * MAX (1.0, fabs (o[i])))
      fail_msg ("%s: sample %" G_GINT64_FORMAT " element %" G_GINT64_FORMAT ": %g vs %g",
                what, s, i, f[i], o[i]);
}

/* Small planes multiply the columns of many samples in one GEMM (130 samples of 5x5
 * make two groups, the second partial), and large products are split across threads.
 * Both must give what one sample at a time on one thread gives: outputs and input
 * gradients per sample, weight and bias gradients summed. */
static void
test_conv_batched_samples (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 xs[] = { 130, 8, 5, 5 }, ws[] = { 16, 4, 3, 3 }, bs[] = { 16 },
               ys[] = { 130, 16, 5, 5 };
  const gint pad[] = { 1, 1 };
  gint threads = mact_get_num_threads ();
  g_autoptr(MactTensor) x = random_leaf (4, xs, 71);
  g_autoptr(MactTensor) w = random_leaf (4, ws, 72);
  g_autoptr(MactTensor) b = random_leaf (1, bs, 73);
  g_autoptr(MactTensor) gy = mact_test_random (4, ys, 74, -1.0, 1.0);

  mact_set_num_threads (MAX (threads, 2));
  g_autoptr(MactTensor) y = mact_conv2d (x, w, b, NULL, pad, NULL, 2, &error);
  assert_non_null (y);
  assert_true (mact_tensor_backward (y, gy, &error));
  g_autoptr(MactTensor) gw_all = mact_tensor_clone (mact_tensor_get_grad (w));
  g_autoptr(MactTensor) gb_all = mact_tensor_clone (mact_tensor_get_grad (b));
  mact_tensor_set_grad (w, NULL);
  mact_tensor_set_grad (b, NULL);

  /* One sample at a time, one thread: the per-sample GEMMs of the plain path. */
  mact_set_num_threads (1);
  for (gint64 s = 0; s < xs[0]; s++)
    {
      g_autoptr(MactTensor) xi = sample_of (x, s);
      g_autoptr(MactTensor) gyi = sample_of (gy, s);
      g_autoptr(MactTensor) yi = mact_conv2d (xi, w, b, NULL, pad, NULL, 2, &error);
      assert_non_null (yi);
      assert_true (mact_tensor_backward (yi, gyi, &error));
      assert_sample_close (y, s, yi, 1e-5, "output");
      assert_sample_close (mact_tensor_get_grad (x), s, mact_tensor_get_grad (xi), 1e-5,
                           "input gradient");
    }
  mact_set_num_threads (threads);
  mact_test_assert_close (gw_all, mact_tensor_get_grad (w), 1e-4, "weight gradient");
  mact_test_assert_close (gb_all, mact_tensor_get_grad (b), 1e-4, "bias gradient");
}

/* ------------------------------------------------------------------------------------ */

/* A fixture test named after its case, with the case name as its state. */
#define FIXTURE_TEST(f, name) { #f "/" name, f, NULL, NULL, (void *) name }

int
main (void)
{
  const struct CMUnitTest tests[] = {
    FIXTURE_TEST (test_conv_fixture, "conv2d_basic"),
    FIXTURE_TEST (test_conv_fixture, "conv2d_stride_pad"),
    FIXTURE_TEST (test_conv_fixture, "conv2d_dilation"),
    FIXTURE_TEST (test_conv_fixture, "conv2d_groups"),
    FIXTURE_TEST (test_conv_fixture, "conv2d_depthwise"),
    FIXTURE_TEST (test_conv_fixture, "conv2d_pointwise"),
    FIXTURE_TEST (test_conv_fixture, "conv2d_pointwise_stride"),
    FIXTURE_TEST (test_conv_fixture, "conv2d_big_pad"),
    FIXTURE_TEST (test_conv_fixture, "conv3d_basic"),
    FIXTURE_TEST (test_conv_fixture, "conv3d_stride122"),
    FIXTURE_TEST (test_conv_fixture, "conv3d_groups"),
    FIXTURE_TEST (test_conv_fixture, "conv3d_temporal"),
    FIXTURE_TEST (test_conv_fixture, "conv3d_depthwise"),
    FIXTURE_TEST (test_conv_fixture, "conv3d_pointwise"),
    FIXTURE_TEST (test_linear_fixture, "linear_3d"),
    FIXTURE_TEST (test_linear_fixture, "linear_2d_nobias"),
    FIXTURE_TEST (test_linear_fixture, "linear_1d"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_2d"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_batched"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_batched_4d"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_nd_2d"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_2d_nd"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_broadcast"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_vec_mat"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_mat_vec"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_dot"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_vec_batched"),
    FIXTURE_TEST (test_matmul_fixture, "matmul_batched_vec"),
    cmocka_unit_test (test_conv_partial_grad),
    cmocka_unit_test (test_no_grad),
    cmocka_unit_test (test_conv_defaults),
    cmocka_unit_test (test_conv_reference),
    cmocka_unit_test (test_conv_tiled_plane),
    cmocka_unit_test (test_conv_depthwise_reference),
    cmocka_unit_test (test_conv_winograd_reference),
    cmocka_unit_test (test_full_conv_winograd_chunks),
    cmocka_unit_test (test_conv2d_gradcheck),
    cmocka_unit_test (test_conv3d_gradcheck),
    cmocka_unit_test (test_conv_noncontiguous),
    cmocka_unit_test (test_conv_batched_samples),
    cmocka_unit_test (test_linear_gradcheck),
    cmocka_unit_test (test_matmul_gradcheck),
    cmocka_unit_test (test_matmul_shapes),
    cmocka_unit_test (test_conv2d_errors),
    cmocka_unit_test (test_conv3d_errors),
    cmocka_unit_test (test_linear_errors),
    cmocka_unit_test (test_matmul_errors),
  };
  return cmocka_run_group_tests_name ("ops-conv", tests, NULL, NULL);
}
