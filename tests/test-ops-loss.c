/* nll_loss, cross_entropy (hard and soft labels) and binary_cross_entropy_with_logits:
 * forward and gradients against PyTorch fixtures (tests/fixtures/gen_loss.py) for every
 * reduction, consistency between the losses, gradients against finite differences, and
 * every error path. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

static const char *reduction_names[] = { "none", "mean", "sum" };
static const MactReduction reductions[] = {
  MACT_REDUCTION_NONE, MACT_REDUCTION_MEAN, MACT_REDUCTION_SUM,
};

/* A leaf copy of a fixture tensor (or NULL when absent and @optional). */
static MactTensor *
leaf (MactTestFixture *fx, const char *key, gboolean requires_grad, gboolean optional)
{
  if (optional && !mact_test_fixture_has (fx, key))
    return NULL;
  MactTensor *t = mact_tensor_clone (mact_test_fixture_get (fx, key));
  assert_true (mact_tensor_set_requires_grad (t, requires_grad, NULL));
  return t;
}

static MactTensor *
tensor_from (const float *data, gsize n, gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (data, n, ndim, shape, &error);
  assert_non_null (t);
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

/* A [shape] tensor of class indices in [0, c), drawn from @seed. */
static MactTensor *
random_labels (gint ndim, const gint64 *shape, gint64 c, guint64 seed)
{
  MactTensor *t = mact_test_random (ndim, shape, seed, 0.0, (double) c);
  float *d = mact_tensor_get_data (t);
  for (gint64 i = 0; i < mact_tensor_get_numel (t); i++)
    d[i] = MIN (floorf (d[i]), (float) (c - 1));
  return t;
}

static char *
key (const char *reduction, const char *what)
{
  return g_strconcat (reduction, "_", what, NULL);
}

/* ---------------------------------------------------------------------- fixtures */

typedef enum { OP_NLL, OP_CE, OP_BCE } LossOp;

static void
check_loss_fixture (const char *name, LossOp op)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (name);
  gboolean soft = op == OP_BCE ||
                  (op == OP_CE && mact_test_fixture_meta_int (fx, "soft") != 0);

  for (guint r = 0; r < G_N_ELEMENTS (reductions); r++)
    {
      g_autoptr(GError) error = NULL;
      const char *rn = reduction_names[r];
      g_autoptr(MactTensor) x = leaf (fx, "input", TRUE, FALSE);
      g_autoptr(MactTensor) t = leaf (fx, "target", soft, FALSE);
      g_autoptr(MactTensor) w = leaf (fx, "weight", FALSE, TRUE);
      g_autoptr(MactTensor) pw = leaf (fx, "pos_weight", FALSE, TRUE);
      g_autoptr(MactTensor) y = NULL;
      switch (op)
        {
        case OP_NLL:
          y = mact_nll_loss (x, t, w, reductions[r], &error);
          break;
        case OP_CE:
          y = mact_cross_entropy (x, t, w, reductions[r], &error);
          break;
        case OP_BCE:
          y = mact_binary_cross_entropy_with_logits (x, t, w, pw, reductions[r], &error);
          break;
        }
      assert_null (error);
      g_autofree char *k_out = key (rn, "output");
      g_autofree char *k_go = key (rn, "grad_output");
      g_autofree char *k_gi = key (rn, "grad_input");
      g_autofree char *k_gt = key (rn, "grad_target");
      g_autofree char *what = g_strdup_printf ("%s %s", name, rn);
      mact_test_assert_close (y, mact_test_fixture_get (fx, k_out), 1e-5, what);
      assert_true (mact_tensor_backward (y, mact_test_fixture_get (fx, k_go), &error));
      mact_test_assert_close (mact_tensor_get_grad (x), mact_test_fixture_get (fx, k_gi),
                              1e-5, k_gi);
      if (soft)
        mact_test_assert_close (mact_tensor_get_grad (t), mact_test_fixture_get (fx, k_gt),
                                1e-5, k_gt);
      else
        assert_null (mact_tensor_get_grad (t));
      /* Class and element weights are constants. */
      if (w != NULL)
        assert_null (mact_tensor_get_grad (w));
    }
}

static void
test_nll_fixtures (void **state)
{
  check_loss_fixture ("nll_plain", OP_NLL);
  check_loss_fixture ("nll_weighted", OP_NLL);
  check_loss_fixture ("nll_kd_weighted", OP_NLL);
}

static void
test_cross_entropy_hard_fixtures (void **state)
{
  check_loss_fixture ("ce_hard_plain", OP_CE);
  check_loss_fixture ("ce_hard_weighted", OP_CE);
  check_loss_fixture ("ce_hard_kd_weighted", OP_CE);
}

static void
test_cross_entropy_soft_fixtures (void **state)
{
  check_loss_fixture ("ce_soft_plain", OP_CE);
  check_loss_fixture ("ce_soft_weighted", OP_CE);
  check_loss_fixture ("ce_soft_kd_weighted", OP_CE);
}

static void
test_bce_fixtures (void **state)
{
  check_loss_fixture ("bce_plain", OP_BCE);
  check_loss_fixture ("bce_weighted", OP_BCE);
  check_loss_fixture ("bce_pos_weight_3d", OP_BCE);
  /* Logits of magnitude ~100: a naive log(sigmoid(x)) would give inf. */
  check_loss_fixture ("bce_extreme", OP_BCE);
}

/* ---------------------------------------------------------------------- consistency */

/* A one-hot probability target gives the same losses and input gradients as the hard
 * label, for every reduction without weights; with class weights NONE and SUM agree and
 * MEAN divides by N (soft) instead of sum(weight[y]) (hard). */
static void
test_cross_entropy_hard_soft_equivalence (void **state)
{
  const gint64 s[] = { 5, 4 }, ts[] = { 5 }, cs[] = { 4 };
  g_autoptr(MactTensor) labels = random_labels (1, ts, 4, 3);
  g_autoptr(MactTensor) w = mact_test_random (1, cs, 4, 0.2, 1.2);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) probs = mact_one_hot (labels, 4, &error);
  assert_non_null (probs);

  for (int weighted = 0; weighted <= 1; weighted++)
    for (guint r = 0; r < G_N_ELEMENTS (reductions); r++)
      {
        g_autoptr(MactTensor) xh = mact_test_random (2, s, 2, -3.0, 3.0);
        g_autoptr(MactTensor) xs = mact_tensor_clone (xh);
        assert_true (mact_tensor_set_requires_grad (xh, TRUE, NULL));
        assert_true (mact_tensor_set_requires_grad (xs, TRUE, NULL));
        MactTensor *cw = weighted ? w : NULL;
        g_autoptr(MactTensor) yh = mact_cross_entropy (xh, labels, cw, reductions[r], &error);
        g_autoptr(MactTensor) ys = mact_cross_entropy (xs, probs, cw, reductions[r], &error);
        assert_non_null (yh);
        assert_non_null (ys);
        if (weighted && reductions[r] == MACT_REDUCTION_MEAN)
          {
            double wsum = 0.0;
            for (int i = 0; i < 5; i++)
              wsum += mact_tensor_get_data (w)[(int) mact_tensor_get_data (labels)[i]];
            assert_float_equal (mact_tensor_item (ys) * 5.0, mact_tensor_item (yh) * wsum,
                                1e-5 * MAX (1.0, fabs (mact_tensor_item (yh) * wsum)));
            continue;
          }
        mact_test_assert_close (ys, yh, 1e-5, "soft one-hot vs hard");
        g_autoptr(MactTensor) go = mact_tensor_new_full (mact_tensor_get_ndim (yh),
                                                         mact_tensor_get_shape (yh, NULL),
                                                         0.5f, &error);
        assert_true (mact_tensor_backward (yh, go, &error));
        assert_true (mact_tensor_backward (ys, go, &error));
        mact_test_assert_close (mact_tensor_get_grad (xs), mact_tensor_get_grad (xh), 1e-5,
                                "soft one-hot vs hard grad");
      }
}

/* cross_entropy(x, y) == nll_loss(log_softmax(x, 1), y), gradients included. */
static void
test_cross_entropy_matches_nll (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3, 4, 2 }, ts[] = { 3, 2 }, cs[] = { 4 };
  g_autoptr(MactTensor) labels = random_labels (2, ts, 4, 9);
  g_autoptr(MactTensor) w = mact_test_random (1, cs, 10, 0.2, 1.2);
  for (guint r = 0; r < G_N_ELEMENTS (reductions); r++)
    {
      g_autoptr(MactTensor) x1 = mact_test_random (2 + 1, s, 11, -2.0, 2.0);
      g_autoptr(MactTensor) x2 = mact_tensor_clone (x1);
      assert_true (mact_tensor_set_requires_grad (x1, TRUE, NULL));
      assert_true (mact_tensor_set_requires_grad (x2, TRUE, NULL));
      g_autoptr(MactTensor) ce = mact_cross_entropy (x1, labels, w, reductions[r], &error);
      g_autoptr(MactTensor) lsm = mact_log_softmax (x2, 1, &error);
      g_autoptr(MactTensor) nll = mact_nll_loss (lsm, labels, w, reductions[r], &error);
      assert_non_null (ce);
      assert_non_null (nll);
      mact_test_assert_close (ce, nll, 1e-5, "ce vs nll(log_softmax)");
      g_autoptr(MactTensor) go = mact_tensor_new_full (mact_tensor_get_ndim (ce),
                                                       mact_tensor_get_shape (ce, NULL),
                                                       1.0f, &error);
      assert_true (mact_tensor_backward (ce, go, &error));
      assert_true (mact_tensor_backward (nll, go, &error));
      mact_test_assert_close (mact_tensor_get_grad (x1), mact_tensor_get_grad (x2), 1e-5,
                              "ce vs nll grad");
    }
}

/* Non-contiguous inputs, targets and weights give the same values. */
static void
test_loss_non_contiguous (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 4, 5 }, ts[] = { 5 }, ws[] = { 4, 2 };
  g_autoptr(MactTensor) base = mact_test_random (2, s, 1, -2.0, 2.0);   /* [C=4, N=5] */
  g_autoptr(MactTensor) x = mact_tensor_transpose (base, 0, 1, &error); /* [5, 4] */
  g_autoptr(MactTensor) xc = mact_tensor_contiguous (x);
  g_autoptr(MactTensor) wbase = mact_test_random (2, ws, 2, 0.5, 1.5);
  g_autoptr(MactTensor) wcol = mact_tensor_narrow (wbase, 1, 1, 1, &error);
  g_autoptr(MactTensor) w = mact_tensor_squeeze (wcol, 1, &error);      /* [4], stride 2 */
  g_autoptr(MactTensor) wc = mact_tensor_contiguous (w);
  g_autoptr(MactTensor) labels = random_labels (1, ts, 4, 3);
  g_autoptr(MactTensor) pbase = mact_test_random (2, s, 4, 0.0, 1.0);
  g_autoptr(MactTensor) p = mact_tensor_transpose (pbase, 0, 1, &error);
  g_autoptr(MactTensor) pc = mact_tensor_contiguous (p);
  assert_false (mact_tensor_is_contiguous (x));
  assert_false (mact_tensor_is_contiguous (w));

  g_autoptr(MactTensor) a1 = mact_cross_entropy (x, labels, w, MACT_REDUCTION_NONE, &error);
  g_autoptr(MactTensor) a2 = mact_cross_entropy (xc, labels, wc, MACT_REDUCTION_NONE, &error);
  mact_test_assert_close (a1, a2, 1e-6, "ce hard");
  g_autoptr(MactTensor) b1 = mact_cross_entropy (x, p, w, MACT_REDUCTION_NONE, &error);
  g_autoptr(MactTensor) b2 = mact_cross_entropy (xc, pc, wc, MACT_REDUCTION_NONE, &error);
  mact_test_assert_close (b1, b2, 1e-6, "ce soft");
  g_autoptr(MactTensor) c1 = mact_nll_loss (x, labels, w, MACT_REDUCTION_NONE, &error);
  g_autoptr(MactTensor) c2 = mact_nll_loss (xc, labels, wc, MACT_REDUCTION_NONE, &error);
  mact_test_assert_close (c1, c2, 1e-6, "nll");
  /* BCE: [5, 4] logits, a [4] weight column view, a [5, 1] pos_weight view. */
  g_autoptr(MactTensor) pw = mact_tensor_narrow (p, 1, 2, 1, &error);
  g_autoptr(MactTensor) pwc = mact_tensor_contiguous (pw);
  g_autoptr(MactTensor) d1 = mact_binary_cross_entropy_with_logits (x, p, w, pw,
                                                                    MACT_REDUCTION_NONE,
                                                                    &error);
  g_autoptr(MactTensor) d2 = mact_binary_cross_entropy_with_logits (xc, pc, wc, pwc,
                                                                    MACT_REDUCTION_NONE,
                                                                    &error);
  assert_non_null (d1);
  mact_test_assert_close (d1, d2, 1e-6, "bce");
}

/* BCE against the textbook formula where it is well-conditioned, and the weight and
 * pos_weight broadcasting rules. */
static void
test_bce_formula (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3 }, cs[] = { 3 }, rs[] = { 2, 1 };
  const float xv[] = { -1.5f, 0.0f, 2.0f, 0.5f, -0.25f, 3.0f };
  const float tv[] = { 0.0f, 1.0f, 0.3f, 1.0f, 0.0f, 0.9f };
  const float wv[] = { 0.5f, 2.0f };
  const float pv[] = { 1.0f, 3.0f, 0.5f };
  g_autoptr(MactTensor) x = tensor_from (xv, 6, 2, s);
  g_autoptr(MactTensor) t = tensor_from (tv, 6, 2, s);
  g_autoptr(MactTensor) w = tensor_from (wv, 2, 2, rs);
  g_autoptr(MactTensor) pw = tensor_from (pv, 3, 1, cs);
  g_autoptr(MactTensor) y = mact_binary_cross_entropy_with_logits (x, t, w, pw,
                                                                   MACT_REDUCTION_NONE,
                                                                   &error);
  assert_non_null (y);
  g_autoptr(MactTensor) ysum = mact_binary_cross_entropy_with_logits (x, t, w, pw,
                                                                      MACT_REDUCTION_SUM,
                                                                      &error);
  g_autoptr(MactTensor) ymean = mact_binary_cross_entropy_with_logits (x, t, w, pw,
                                                                       MACT_REDUCTION_MEAN,
                                                                       &error);
  double total = 0.0;
  for (int i = 0; i < 6; i++)
    {
      double sig = 1.0 / (1.0 + exp (-xv[i]));
      double l = -(wv[i / 3]) * (pv[i % 3] * tv[i] * log (sig) + (1 - tv[i]) * log (1 - sig));
      assert_float_equal (mact_tensor_get_data (y)[i], l, 1e-5);
      total += l;
    }
  assert_float_equal (mact_tensor_item (ysum), total, 1e-5);
  assert_float_equal (mact_tensor_item (ymean), total / 6.0, 1e-5);
  assert_int_equal (mact_tensor_get_ndim (ysum), 0);
}

/* ---------------------------------------------------------------------- gradcheck */

typedef struct {
  LossOp        op;
  MactReduction reduction;
} LossArgs;

/* inputs: input, target, weight, pos_weight */
static MactTensor *
call_loss (MactTensor **in, gpointer data, GError **error)
{
  LossArgs *a = data;
  switch (a->op)
    {
    case OP_NLL:
      return mact_nll_loss (in[0], in[1], in[2], a->reduction, error);
    case OP_CE:
      return mact_cross_entropy (in[0], in[1], in[2], a->reduction, error);
    case OP_BCE:
    default:
      return mact_binary_cross_entropy_with_logits (in[0], in[1], in[2], in[3], a->reduction,
                                                    error);
    }
}

static void
test_loss_gradcheck (void **state)
{
  const gint64 s[] = { 3, 4, 2 }, ts[] = { 3, 2 }, cs[] = { 4 }, bw[] = { 4, 1 }, bp[] = { 2 };

  for (guint r = 0; r < G_N_ELEMENTS (reductions); r++)
    {
      LossArgs args = { OP_NLL, reductions[r] };
      g_autoptr(MactTensor) labels = random_labels (2, ts, 4, 20 + r);
      g_autoptr(MactTensor) w = mact_test_random (1, cs, 21 + r, 0.2, 1.5);

      /* nll_loss: log_probs need not be normalised for the gradient. */
      g_autoptr(MactTensor) lp = mact_test_random (3, s, 22 + r, -3.0, 0.0);
      assert_true (mact_tensor_set_requires_grad (lp, TRUE, NULL));
      MactTensor *in_nll[] = { lp, labels, w, NULL };
      mact_test_gradcheck (call_loss, in_nll, 4, &args, 1e-2, 1e-2);

      /* Hard cross-entropy, with and without weights. */
      args.op = OP_CE;
      g_autoptr(MactTensor) x = mact_test_random (3, s, 23 + r, -2.0, 2.0);
      assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
      MactTensor *in_ce[] = { x, labels, w, NULL };
      mact_test_gradcheck (call_loss, in_ce, 4, &args, 1e-2, 1e-2);
      MactTensor *in_ce_nw[] = { x, labels, NULL, NULL };
      mact_test_gradcheck (call_loss, in_ce_nw, 4, &args, 1e-2, 1e-2);

      /* Soft cross-entropy: gradients for both the logits and the target. */
      g_autoptr(MactTensor) p = mact_test_random (3, s, 24 + r, 0.0, 1.0);
      assert_true (mact_tensor_set_requires_grad (p, TRUE, NULL));
      MactTensor *in_soft[] = { x, p, w, NULL };
      mact_test_gradcheck (call_loss, in_soft, 4, &args, 1e-2, 1e-2);

      /* BCE with a weight broadcast over the last dim and a pos_weight over it. */
      args.op = OP_BCE;
      g_autoptr(MactTensor) bx = mact_test_random (3, s, 25 + r, -3.0, 3.0);
      g_autoptr(MactTensor) bt = mact_test_random (3, s, 26 + r, 0.0, 1.0);
      g_autoptr(MactTensor) bwt = mact_test_random (2, bw, 27 + r, 0.5, 1.5);
      g_autoptr(MactTensor) bpw = mact_test_random (1, bp, 28 + r, 0.5, 3.0);
      assert_true (mact_tensor_set_requires_grad (bx, TRUE, NULL));
      assert_true (mact_tensor_set_requires_grad (bt, TRUE, NULL));
      MactTensor *in_bce[] = { bx, bt, bwt, bpw };
      mact_test_gradcheck (call_loss, in_bce, 4, &args, 1e-2, 1e-2);
      MactTensor *in_bce_plain[] = { bx, bt, NULL, NULL };
      mact_test_gradcheck (call_loss, in_bce_plain, 4, &args, 1e-2, 1e-2);
    }
}

/* Only what requires grad gets a gradient; nothing is recorded without grad mode. */
static void
test_loss_partial_grad (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 1, -1.0, 1.0);
  g_autoptr(MactTensor) t = mact_test_random (2, s, 2, 0.0, 1.0);
  assert_true (mact_tensor_set_requires_grad (t, TRUE, NULL));

  g_autoptr(MactTensor) ce = mact_cross_entropy (x, t, NULL, MACT_REDUCTION_SUM, &error);
  assert_non_null (ce);
  assert_string_equal (mact_tensor_get_grad_fn_name (ce), "CrossEntropyBackward");
  assert_true (mact_tensor_backward (ce, NULL, &error));
  assert_null (mact_tensor_get_grad (x));
  assert_non_null (mact_tensor_get_grad (t));
  mact_tensor_set_grad (t, NULL);

  g_autoptr(MactTensor) bce = mact_binary_cross_entropy_with_logits (x, t, NULL, NULL,
                                                                     MACT_REDUCTION_MEAN,
                                                                     &error);
  assert_true (mact_tensor_backward (bce, NULL, &error));
  assert_null (mact_tensor_get_grad (x));
  assert_non_null (mact_tensor_get_grad (t));

  /* Hard labels requiring grad do not make the loss differentiable. */
  const float lv[] = { 0, 2 };
  const gint64 ls[] = { 2 };
  g_autoptr(MactTensor) labels = tensor_from (lv, 2, 1, ls);
  assert_true (mact_tensor_set_requires_grad (labels, TRUE, NULL));
  g_autoptr(MactTensor) hard = mact_cross_entropy (x, labels, NULL, MACT_REDUCTION_MEAN,
                                                   &error);
  assert_non_null (hard);
  assert_null (mact_tensor_get_grad_fn_name (hard));
  g_autoptr(MactTensor) nll = mact_nll_loss (x, labels, NULL, MACT_REDUCTION_MEAN, &error);
  assert_null (mact_tensor_get_grad_fn_name (nll));

  assert_true (mact_tensor_set_requires_grad (x, TRUE, NULL));
  g_autoptr(MactTensor) ng = NULL;
  MACT_NO_GRAD_BEGIN
  ng = mact_cross_entropy (x, labels, NULL, MACT_REDUCTION_MEAN, &error);
  MACT_NO_GRAD_END
  assert_non_null (ng);
  assert_false (mact_tensor_get_requires_grad (ng));
}

/* ---------------------------------------------------------------------- errors */

static void
test_class_loss_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3, 4 }, s1[] = { 4 }, ts[] = { 3 }, ts2[] = { 2 }, ts31[] = { 3, 1 },
               cs5[] = { 5 }, cs41[] = { 4, 1 }, empty[] = { 0, 4 }, ets[] = { 0 },
               s3d[] = { 3, 4, 2 }, ts3d_bad[] = { 3, 3 };
  const float good[] = { 0, 3, 1 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 1, -1.0, 1.0);
  g_autoptr(MactTensor) x1 = mact_test_random (1, s1, 1, -1.0, 1.0);
  g_autoptr(MactTensor) xe = mact_tensor_new (2, empty, &error);
  g_autoptr(MactTensor) te = mact_tensor_new (1, ets, &error);
  g_autoptr(MactTensor) x3 = mact_test_random (3, s3d, 1, -1.0, 1.0);
  g_autoptr(MactTensor) t = tensor_from (good, 3, 1, ts);
  g_autoptr(MactTensor) t2 = ones (1, ts2);
  g_autoptr(MactTensor) t31 = ones (2, ts31);
  g_autoptr(MactTensor) t3bad = ones (2, ts3d_bad);
  g_autoptr(MactTensor) w5 = ones (1, cs5);
  g_autoptr(MactTensor) w41 = ones (2, cs41);
  typedef MactTensor *(*ClassLoss) (MactTensor *, MactTensor *, MactTensor *, MactReduction,
                                    GError **);
  ClassLoss fns[] = { mact_nll_loss, mact_cross_entropy };

  for (guint k = 0; k < G_N_ELEMENTS (fns); k++)
    {
      /* SHAPE: input rank, empty input, target shape, weight shape. */
      assert_null (fns[k] (x1, t, NULL, MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (xe, te, NULL, MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (x, t2, NULL, MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (x, t31, NULL, MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (x3, t3bad, NULL, MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (x, t, w5, MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (fns[k] (x, t, w41, MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

      /* INVALID_ARGUMENT: labels out of range, negative, non-integral, NaN; reduction. */
      const float bad[][3] = { { 0, 4, 1 }, { -1, 0, 1 }, { 0, 0.5f, 1 }, { 0, 1, NAN },
                               { -100, 0, 0 } };
      for (guint b = 0; b < G_N_ELEMENTS (bad); b++)
        {
          g_autoptr(MactTensor) tb = tensor_from (bad[b], 3, 1, ts);
          assert_null (fns[k] (x, tb, NULL, MACT_REDUCTION_SUM, &error));
          mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
        }
      assert_null (fns[k] (x, t, NULL, (MactReduction) 7, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
      assert_null (fns[k] (x, t, NULL, (MactReduction) -1, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
    }

  /* nll_loss never takes probability targets. */
  g_autoptr(MactTensor) probs = ones (2, s);
  assert_null (mact_nll_loss (x, probs, NULL, MACT_REDUCTION_MEAN, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

static void
test_bce_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 3, 4 }, s43[] = { 4, 3 }, w3[] = { 3 }, w5[] = { 5 }, w134[] = { 1, 3, 4 },
               w21[] = { 2, 1 }, empty[] = { 0, 4 };
  g_autoptr(MactTensor) x = mact_test_random (2, s, 1, -1.0, 1.0);
  g_autoptr(MactTensor) t = mact_test_random (2, s, 2, 0.0, 1.0);
  g_autoptr(MactTensor) t43 = ones (2, s43);
  g_autoptr(MactTensor) bad3 = ones (1, w3);
  g_autoptr(MactTensor) bad5 = ones (1, w5);
  g_autoptr(MactTensor) bad134 = ones (3, w134);
  g_autoptr(MactTensor) bad21 = ones (2, w21);
  g_autoptr(MactTensor) xe = mact_tensor_new (2, empty, &error);

  assert_null (mact_binary_cross_entropy_with_logits (x, t43, NULL, NULL, MACT_REDUCTION_MEAN,
                                                      &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_binary_cross_entropy_with_logits (xe, xe, NULL, NULL, MACT_REDUCTION_MEAN,
                                                      &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  MactTensor *bad[] = { bad3, bad5, bad134, bad21 };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      assert_null (mact_binary_cross_entropy_with_logits (x, t, bad[k], NULL,
                                                          MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
      assert_null (mact_binary_cross_entropy_with_logits (x, t, NULL, bad[k],
                                                          MACT_REDUCTION_MEAN, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
    }
  assert_null (mact_binary_cross_entropy_with_logits (x, t, NULL, NULL, (MactReduction) 3,
                                                      &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_nll_fixtures),
    cmocka_unit_test (test_cross_entropy_hard_fixtures),
    cmocka_unit_test (test_cross_entropy_soft_fixtures),
    cmocka_unit_test (test_bce_fixtures),
    cmocka_unit_test (test_cross_entropy_hard_soft_equivalence),
    cmocka_unit_test (test_cross_entropy_matches_nll),
    cmocka_unit_test (test_loss_non_contiguous),
    cmocka_unit_test (test_bce_formula),
    cmocka_unit_test (test_loss_gradcheck),
    cmocka_unit_test (test_loss_partial_grad),
    cmocka_unit_test (test_class_loss_errors),
    cmocka_unit_test (test_bce_errors),
  };
  return cmocka_run_group_tests_name ("ops-loss", tests, NULL, NULL);
}
