/* The head base logic (mmaction2's BaseHead, reference §2.3, §4.7, §4.9): top-k accuracy
 * against mmaction2's golden vectors and its errors; loss_cls for hard, soft, 0-D and
 * batch-of-one labels; loss_weight; multi-class BCE with label smoothing; label smoothing
 * of single-label heads (a documented fix of 0.x); topk as an int or a tuple; construction
 * errors; kwargs reaching the loss.  Heads and losses are the test blocks
 * (tests/common/mact-test-blocks.c) in a private registry.  Expected losses are computed
 * here in double from their definitions, independently of the library's ops. */
#include "mact-test.h"
#include "mact-test-blocks.h"

#include <math.h>

#define K 400   /* mmaction2's ExampleHead(3, 400) */

/* ------------------------------------------------------------------ helpers */

static MactTensor *
tensor_from (const float *data, gsize n, gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (data, n, ndim, shape, &error);
  if (t == NULL)
    fail_msg ("tensor_from: %s", error->message);
  return t;
}

static MactTensor *
labels_from (const float *values, gint64 n)
{
  return tensor_from (values, (gsize) n, 1, &n);
}

static GType
lookup (MactRegistry *reg, const char *name)
{
  g_autoptr(GError) error = NULL;
  GType type = mact_registry_lookup_type (reg, name, &error);
  if (type == G_TYPE_INVALID)
    fail_msg ("lookup %s: %s", name, error->message);
  return type;
}

static MactLoss *
new_loss (MactRegistry *reg, const char *type_name, double loss_weight)
{
  g_autoptr(GError) error = NULL;
  MactModule *loss = mact_module_new (lookup (reg, type_name), &error,
                                      "loss-weight", loss_weight, NULL);
  if (loss == NULL)
    fail_msg ("%s: %s", type_name, error->message);
  assert_true (MACT_IS_LOSS (loss));
  return MACT_LOSS (loss);
}

/* A TestFlatHead(num_classes, in_channels 3) with the given loss and options; @topk
 * (nullable, floating or not) is an "ax" tuple.  NULL with @error set when the head
 * refuses its arguments. */
static MactHead *
try_new_head (MactRegistry *reg, gint num_classes, MactLoss *loss, gboolean multi_class,
              double eps, GVariant *topk, GError **error)
{
  g_autoptr(GVariant) owned_topk = topk ? g_variant_ref_sink (topk) : NULL;
  MactModule *head = mact_module_new (lookup (reg, "TestFlatHead"), error,
                                      "num-classes", num_classes,
                                      "in-channels", 3,
                                      "loss-cls", loss,
                                      "multi-class", multi_class,
                                      "label-smooth-eps", eps,
                                      owned_topk ? "topk" : NULL, owned_topk,
                                      NULL);
  return head ? MACT_HEAD (head) : NULL;
}

static MactHead *
new_head (MactRegistry *reg, MactLoss *loss, gboolean multi_class, double eps, GVariant *topk)
{
  g_autoptr(GError) error = NULL;
  MactHead *head = try_new_head (reg, K, loss, multi_class, eps, topk, &error);
  if (head == NULL)
    fail_msg ("TestFlatHead: %s", error->message);
  return head;
}

static GVariant *
int_tuple (guint n, const gint64 *values)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, values, n, sizeof (gint64));
}

static MactTensorDict *
head_loss (MactHead *head, MactTensor *score, MactTensor *labels, MactTensorDict *kwargs)
{
  g_autoptr(GError) error = NULL;
  MactTensorDict *losses = mact_head_loss (head, score, labels, kwargs, &error);
  if (losses == NULL)
    fail_msg ("mact_head_loss: %s", error->message);
  return losses;
}

static float
dict_float (MactTensorDict *d, const char *key)
{
  float v = 0.0f;
  if (!mact_tensor_dict_get_float (d, key, &v))
    fail_msg ("no \"%s\" in the losses", key);
  return v;
}

static void
assert_close_rel (double got, double expected, double rtol, const char *what)
{
  if (fabs (got - expected) > rtol * MAX (1.0, fabs (expected)))
    fail_msg ("%s: got %.9g, expected %.9g", what, got, expected);
}

/* Scores [3, K] where label 2 ranks first in row 0, third in row 1 and last in row 2:
 * top1 = 1/3, top5 = 2/3 for labels [2, 2, 2]. */
static MactTensor *
ranked_scores (void)
{
  const gint64 shape[] = { 3, K };
  g_autoptr(MactTensor) r = mact_test_random (2, shape, 7, 0.0, 1.0);
  MactTensor *s = mact_tensor_contiguous (r);
  float *d = mact_tensor_get_data (s);
  d[0 * K + 2] = 2.0f;
  d[1 * K + 2] = 1.5f;
  d[1 * K + 7] = 1.8f;
  d[1 * K + 8] = 1.9f;
  d[2 * K + 2] = -1.0f;
  return s;
}

/* mean over rows of -log softmax(score)[y], in double */
static double
ce_hard (MactTensor *score, const float *labels)
{
  gint64 n = mact_tensor_get_size (score, 0), k = mact_tensor_get_size (score, 1);
  g_autofree float *s = g_new (float, n * k);
  mact_tensor_copy_to_array (score, s);
  double total = 0.0;
  for (gint64 i = 0; i < n; i++)
    {
      double m = -INFINITY, z = 0.0;
      for (gint64 c = 0; c < k; c++)
        m = MAX (m, s[i * k + c]);
      for (gint64 c = 0; c < k; c++)
        z += exp ((double) s[i * k + c] - m);
      total += -((double) s[i * k + (gint64) labels[i]] - m - log (z));
    }
  return total / (double) n;
}

/* mean over rows of -sum_c q[c] log softmax(score)[c], in double */
static double
ce_soft (MactTensor *score, const double *q)
{
  gint64 n = mact_tensor_get_size (score, 0), k = mact_tensor_get_size (score, 1);
  g_autofree float *s = g_new (float, n * k);
  mact_tensor_copy_to_array (score, s);
  double total = 0.0;
  for (gint64 i = 0; i < n; i++)
    {
      double m = -INFINITY, z = 0.0;
      for (gint64 c = 0; c < k; c++)
        m = MAX (m, s[i * k + c]);
      for (gint64 c = 0; c < k; c++)
        z += exp ((double) s[i * k + c] - m);
      for (gint64 c = 0; c < k; c++)
        total += -q[i * k + c] * ((double) s[i * k + c] - m - log (z));
    }
  return total / (double) n;
}

/* mean over all elements of BCE-with-logits(score, q), in double */
static double
bce (MactTensor *score, const double *q)
{
  gint64 n = mact_tensor_get_numel (score);
  g_autofree float *s = g_new (float, n);
  mact_tensor_copy_to_array (score, s);
  double total = 0.0;
  for (gint64 i = 0; i < n; i++)
    {
      double x = s[i];
      /* max(x, 0) - x q + log(1 + exp(-|x|)) */
      total += MAX (x, 0.0) - x * q[i] + log1p (exp (-fabs (x)));
    }
  return total / (double) n;
}

static int
setup (void **state)
{
  *state = mact_test_blocks_registry ();
  return 0;
}

static int
teardown (void **state)
{
  g_clear_object ((MactRegistry **) state);
  return 0;
}

/* ------------------------------------------------------------------ top-k accuracy */

static const float topk_scores[4 * 5] = {
  -0.2203f, -0.7538f, 1.8789f, 0.4451f, -0.2526f,
  -0.0413f, 0.6366f, 1.1155f, 0.3484f, 0.0395f,
  0.0365f, 0.5158f, 1.1067f, -0.9276f, -0.2124f,
  0.6232f, 0.9912f, -0.8562f, 0.0148f, 1.6413f,
};

typedef struct {
  guint  n_topk;
  gint   topk[3];
  float  labels[4];
  double expected[3];
} TopkCase;

/* mmaction2 tests/test_metrics/test_accuracy.py::test_topk, all ten cases. */
static const TopkCase topk_cases[] = {
  { 1, { 1 }, { 3, 1, 1, 1 }, { 0.0 } },
  { 1, { 1 }, { 2, 0, 4, 3 }, { 0.25 } },
  { 1, { 1 }, { 2, 2, 3, 1 }, { 0.5 } },
  { 1, { 1 }, { 2, 2, 2, 3 }, { 0.75 } },
  { 1, { 1 }, { 2, 2, 2, 4 }, { 1.0 } },
  { 2, { 1, 2 }, { 3, 1, 1, 1 }, { 0.0, 1.0 } },
  { 2, { 1, 2 }, { 3, 1, 2, 3 }, { 0.25, 0.75 } },
  { 3, { 1, 3, 5 }, { 1, 0, 3, 2 }, { 0.0, 0.0, 1.0 } },
  { 3, { 1, 3, 5 }, { 1, 3, 4, 0 }, { 0.0, 0.5, 1.0 } },
  { 3, { 1, 3, 5 }, { 2, 3, 0, 2 }, { 0.25, 0.75, 1.0 } },
};

static void
test_topk_golden (void **state)
{
  const gint64 shape[] = { 4, 5 };
  g_autoptr(MactTensor) scores = tensor_from (topk_scores, 20, 2, shape);
  for (guint c = 0; c < G_N_ELEMENTS (topk_cases); c++)
    {
      const TopkCase *tc = &topk_cases[c];
      g_autoptr(MactTensor) labels = labels_from (tc->labels, 4);
      g_autoptr(GError) error = NULL;
      double acc[3] = { -1, -1, -1 };
      if (!mact_top_k_accuracy (scores, labels, tc->n_topk, tc->topk, acc, &error))
        fail_msg ("case %u: %s", c, error->message);
      for (guint j = 0; j < tc->n_topk; j++)
        if (fabs (acc[j] - tc->expected[j]) > 1e-12)
          fail_msg ("case %u, k=%d: got %g, expected %g", c, tc->topk[j], acc[j],
                    tc->expected[j]);
    }
}

static void
test_topk_non_contiguous (void **state)
{
  /* The same golden case through a transposed view of the transposed scores. */
  const gint64 tshape[] = { 5, 4 };
  float t[20];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 5; j++)
      t[j * 4 + i] = topk_scores[i * 5 + j];
  g_autoptr(MactTensor) st = tensor_from (t, 20, 2, tshape);
  g_autoptr(MactTensor) scores = mact_tensor_transpose (st, 0, 1, NULL);
  assert_false (mact_tensor_is_contiguous (scores));
  const float l[] = { 2, 3, 0, 2 };
  g_autoptr(MactTensor) labels = labels_from (l, 4);
  const gint topk[] = { 1, 3, 5 };
  double acc[3];
  assert_true (mact_top_k_accuracy (scores, labels, 3, topk, acc, NULL));
  assert_float_equal (acc[0], 0.25, 1e-12);
  assert_float_equal (acc[1], 0.75, 1e-12);
  assert_float_equal (acc[2], 1.0, 1e-12);
}

static void
test_topk_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 4, 5 }, flat[] = { 20 };
  g_autoptr(MactTensor) scores = tensor_from (topk_scores, 20, 2, shape);
  g_autoptr(MactTensor) scores1d = tensor_from (topk_scores, 20, 1, flat);
  const gint topk[] = { 1 };
  double acc[1];

  /* scores must be [N, K] */
  const float l4[] = { 0, 1, 2, 3 };
  g_autoptr(MactTensor) labels = labels_from (l4, 4);
  assert_false (mact_top_k_accuracy (scores1d, labels, 1, topk, acc, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  /* one label per row */
  g_autoptr(MactTensor) labels3 = labels_from (l4, 3);
  assert_false (mact_top_k_accuracy (scores, labels3, 1, topk, acc, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  /* labels must be class indices in [0, K) */
  const float out_of_range[] = { 0, 1, 5, 3 };
  const float negative[] = { 0, -1, 2, 3 };
  const float fractional[] = { 0, 1.5f, 2, 3 };
  const float *bad[] = { out_of_range, negative, fractional };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(MactTensor) lb = labels_from (bad[i], 4);
      assert_false (mact_top_k_accuracy (scores, lb, 1, topk, acc, &error));
      mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
    }
}

/* ------------------------------------------------------------------ BaseHead.loss */

static void
test_hard_labels (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactHead) head = new_head (reg, loss, FALSE, 0.0, NULL);
  assert_int_equal (mact_head_get_num_classes (head), K);
  assert_int_equal (mact_head_get_in_channels (head), 3);
  assert_ptr_equal (mact_head_get_loss_cls (head), loss);

  g_autoptr(MactTensor) score = ranked_scores ();
  const float y[] = { 2, 2, 2 };
  g_autoptr(MactTensor) labels = labels_from (y, 3);
  g_autoptr(MactTensorDict) losses = head_loss (head, score, labels, NULL);

  /* Exactly top1_acc, top5_acc and loss_cls, in mmaction2's order. */
  assert_int_equal (mact_tensor_dict_get_size (losses), 3);
  assert_string_equal (mact_tensor_dict_get_key (losses, 0), "top1_acc");
  assert_string_equal (mact_tensor_dict_get_key (losses, 1), "top5_acc");
  assert_string_equal (mact_tensor_dict_get_key (losses, 2), "loss_cls");
  assert_float_equal (dict_float (losses, "top1_acc"), 1.0 / 3.0, 1e-6);
  assert_float_equal (dict_float (losses, "top5_acc"), 2.0 / 3.0, 1e-6);

  double loss_cls = dict_float (losses, "loss_cls");
  assert_true (loss_cls > 0.0);
  assert_close_rel (loss_cls, ce_hard (score, y), 1e-5, "loss_cls vs definition");
  g_autoptr(MactTensor) direct = mact_cross_entropy (score, labels, NULL, MACT_REDUCTION_MEAN,
                                                     NULL);
  assert_non_null (direct);
  assert_float_equal (loss_cls, mact_tensor_item (direct), 1e-7);

  /* The loss is differentiable w.r.t. the scores: it is what training back-propagates. */
  g_autoptr(MactTensor) leaf = mact_tensor_clone (score);
  assert_true (mact_tensor_set_requires_grad (leaf, TRUE, NULL));
  g_autoptr(MactTensorDict) with_grad = head_loss (head, leaf, labels, NULL);
  assert_true (mact_tensor_backward (mact_tensor_dict_lookup (with_grad, "loss_cls"), NULL,
                                     NULL));
  assert_non_null (mact_tensor_get_grad (leaf));
}

static void
test_loss_weight (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactLoss) loss1 = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactLoss) loss2 = new_loss (reg, "TestCELoss", 2.0);
  assert_float_equal (mact_loss_get_loss_weight (loss2), 2.0, 0.0);
  g_autoptr(MactHead) head1 = new_head (reg, loss1, FALSE, 0.0, NULL);
  g_autoptr(MactHead) head2 = new_head (reg, loss2, FALSE, 0.0, NULL);
  g_autoptr(MactTensor) score = ranked_scores ();
  const float y[] = { 2, 2, 2 };
  g_autoptr(MactTensor) labels = labels_from (y, 3);
  g_autoptr(MactTensorDict) l1 = head_loss (head1, score, labels, NULL);
  g_autoptr(MactTensorDict) l2 = head_loss (head2, score, labels, NULL);
  assert_true (dict_float (l2, "loss_cls") > 0.0);
  assert_close_rel (dict_float (l2, "loss_cls"), 2.0 * dict_float (l1, "loss_cls"), 1e-6,
                    "loss_weight 2");
  /* The weight scales the loss only, not the accuracies. */
  assert_float_equal (dict_float (l2, "top1_acc"), dict_float (l1, "top1_acc"), 0.0);
}

static MactTensor *
one_hot_rows (gint64 n, const float *classes, gint64 k)
{
  g_autofree float *d = g_new0 (float, n * k);
  for (gint64 i = 0; i < n; i++)
    d[i * k + (gint64) classes[i]] = 1.0f;
  const gint64 shape[] = { n, k };
  return tensor_from (d, (gsize) (n * k), 2, shape);
}

static void
test_soft_labels (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactHead) head = new_head (reg, loss, FALSE, 0.0, NULL);
  g_autoptr(MactTensor) score = ranked_scores ();
  const float y[] = { 2, 2, 2 };
  g_autoptr(MactTensor) hard = labels_from (y, 3);
  g_autoptr(MactTensorDict) hard_losses = head_loss (head, score, hard, NULL);

  /* batch 3: one-hot labels of the scores' shape are soft: no accuracy keys */
  g_autoptr(MactTensor) soft = one_hot_rows (3, y, K);
  g_autoptr(MactTensorDict) soft_losses = head_loss (head, score, soft, NULL);
  assert_int_equal (mact_tensor_dict_get_size (soft_losses), 1);
  assert_false (mact_tensor_dict_contains (soft_losses, "top1_acc"));
  assert_false (mact_tensor_dict_contains (soft_losses, "top5_acc"));
  assert_true (dict_float (soft_losses, "loss_cls") > 0.0);
  assert_close_rel (dict_float (soft_losses, "loss_cls"), dict_float (hard_losses, "loss_cls"),
                    1e-5, "soft one-hot batch 3 vs hard");

  /* batch 1: a [K] label with a [1, K] score is a soft label of a batch of one */
  g_autoptr(MactTensor) row = mact_tensor_narrow (score, 0, 1, 1, NULL);
  g_autoptr(MactTensor) row_hard = labels_from (y, 1);
  g_autoptr(MactTensorDict) row_hard_losses = head_loss (head, row, row_hard, NULL);
  g_autoptr(MactTensor) soft2d = one_hot_rows (1, y, K);
  const gint64 kshape[] = { K };
  g_autoptr(MactTensor) soft1 = mact_tensor_reshape (soft2d, 1, kshape, NULL);
  g_autoptr(MactTensorDict) row_soft_losses = head_loss (head, row, soft1, NULL);
  assert_int_equal (mact_tensor_dict_get_size (row_soft_losses), 1);
  assert_true (mact_tensor_dict_contains (row_soft_losses, "loss_cls"));
  assert_true (dict_float (row_soft_losses, "loss_cls") > 0.0);
  assert_close_rel (dict_float (row_soft_losses, "loss_cls"),
                    dict_float (row_hard_losses, "loss_cls"), 1e-5, "soft [K] vs hard [1]");
  assert_close_rel (dict_float (row_hard_losses, "loss_cls"), ce_hard (row, y), 1e-5,
                    "batch-one hard loss vs definition");
}

static void
test_zero_dim_label (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactHead) head = new_head (reg, loss, FALSE, 0.0, NULL);
  g_autoptr(MactTensor) score = ranked_scores ();
  /* Row 1: label 2 ranks third, so top1 0 and top5 1. */
  g_autoptr(MactTensor) row = mact_tensor_narrow (score, 0, 1, 1, NULL);
  g_autoptr(MactTensor) scalar = mact_tensor_new_scalar (2.0f);
  g_autoptr(MactTensorDict) losses = head_loss (head, row, scalar, NULL);
  const float y[] = { 2 };
  assert_float_equal (dict_float (losses, "top1_acc"), 0.0, 0.0);
  assert_float_equal (dict_float (losses, "top5_acc"), 1.0, 0.0);
  assert_close_rel (dict_float (losses, "loss_cls"), ce_hard (row, y), 1e-5, "0-D label");
  /* The caller's label is not reshaped in place. */
  assert_int_equal (mact_tensor_get_ndim (scalar), 0);
}

static void
test_multi_class_bce_smoothing (void **state)
{
  MactRegistry *reg = *state;
  const double eps = 0.1;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestBCELoss", 1.0);
  g_autoptr(MactHead) head = new_head (reg, loss, TRUE, eps, NULL);

  const gint64 shape[] = { 2, K };
  g_autoptr(MactTensor) score = mact_test_random (2, shape, 11, -2.0, 2.0);
  g_autofree float *y = g_new0 (float, 2 * K);
  y[0 * K + 1] = y[0 * K + 5] = y[0 * K + 399] = 1.0f;
  y[1 * K + 2] = 1.0f;
  g_autoptr(MactTensor) labels = tensor_from (y, 2 * K, 2, shape);
  g_autofree double *q = g_new (double, 2 * K);
  for (int i = 0; i < 2 * K; i++)
    q[i] = (1.0 - eps) * y[i] + eps / K;

  g_autoptr(MactTensorDict) losses = head_loss (head, score, labels, NULL);
  assert_int_equal (mact_tensor_dict_get_size (losses), 1);   /* multi-class: no accuracy */
  double got = dict_float (losses, "loss_cls");
  assert_true (got > 0.0);
  assert_close_rel (got, bce (score, q), 1e-5, "BCE on smoothed labels");
  /* ... and not BCE on the raw labels */
  g_autofree double *raw = g_new (double, 2 * K);
  for (int i = 0; i < 2 * K; i++)
    raw[i] = y[i];
  assert_true (fabs (got - bce (score, raw)) > 1e-4);

  /* batch 1: a [K] multi-hot label with a [1, K] score */
  g_autoptr(MactTensor) row = mact_tensor_narrow (score, 0, 0, 1, NULL);
  const gint64 kshape[] = { K };
  g_autoptr(MactTensor) label1 = tensor_from (y, K, 1, kshape);
  g_autoptr(MactTensorDict) l1 = head_loss (head, row, label1, NULL);
  assert_int_equal (mact_tensor_dict_get_size (l1), 1);
  assert_true (dict_float (l1, "loss_cls") > 0.0);
  assert_close_rel (dict_float (l1, "loss_cls"), bce (row, q), 1e-5, "BCE batch 1");
}

static void
test_single_label_smoothing (void **state)
{
  /* mmaction2 0.x ignores label_smooth_eps for single-label heads (issues #427, #1639);
   * mact smooths the one-hot labels as 1.x does, and still reports accuracies. */
  MactRegistry *reg = *state;
  const double eps = 0.1;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactHead) head = new_head (reg, loss, FALSE, eps, NULL);
  g_autoptr(MactTensor) score = ranked_scores ();
  const float y[] = { 2, 2, 2 };
  g_autoptr(MactTensor) labels = labels_from (y, 3);
  g_autoptr(MactTensorDict) losses = head_loss (head, score, labels, NULL);

  assert_float_equal (dict_float (losses, "top1_acc"), 1.0 / 3.0, 1e-6);
  assert_float_equal (dict_float (losses, "top5_acc"), 2.0 / 3.0, 1e-6);
  g_autofree double *q = g_new (double, 3 * K);
  for (int i = 0; i < 3; i++)
    for (int c = 0; c < K; c++)
      q[i * K + c] = (1.0 - eps) * (c == 2) + eps / K;
  double got = dict_float (losses, "loss_cls");
  assert_close_rel (got, ce_soft (score, q), 1e-5, "CE on the smoothed one-hot");
  assert_true (fabs (got - ce_hard (score, y)) > 1e-3);   /* smoothing did apply */
}

static void
test_topk_options (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactTensor) score = ranked_scores ();
  const float y[] = { 2, 2, 2 };
  g_autoptr(MactTensor) labels = labels_from (y, 3);

  /* a single k, as a tuple of one (what an int becomes) */
  const gint64 three[] = { 3 };
  g_autoptr(MactHead) h3 = new_head (reg, loss, FALSE, 0.0, int_tuple (1, three));
  g_autoptr(MactTensorDict) l3 = head_loss (h3, score, labels, NULL);
  assert_int_equal (mact_tensor_dict_get_size (l3), 2);
  assert_string_equal (mact_tensor_dict_get_key (l3, 0), "top3_acc");
  assert_float_equal (dict_float (l3, "top3_acc"), 2.0 / 3.0, 1e-6);
  assert_true (mact_tensor_dict_contains (l3, "loss_cls"));

  /* three ks */
  const gint64 ks[] = { 1, 2, 400 };
  g_autoptr(MactHead) hk = new_head (reg, loss, FALSE, 0.0, int_tuple (3, ks));
  g_autoptr(MactTensorDict) lk = head_loss (hk, score, labels, NULL);
  assert_float_equal (dict_float (lk, "top1_acc"), 1.0 / 3.0, 1e-6);
  assert_float_equal (dict_float (lk, "top2_acc"), 1.0 / 3.0, 1e-6);
  assert_float_equal (dict_float (lk, "top400_acc"), 1.0, 1e-6);

  /* topk as an int in a config, as mmaction2 allows (wrapped into a tuple) */
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = json_from_string (
    "{\"type\": \"TestFlatHead\", \"num_classes\": 400, \"in_channels\": 3,"
    " \"loss_cls\": {\"type\": \"TestCELoss\"}, \"topk\": 3}", &error);
  assert_non_null (cfg);
  g_autoptr(MactModule) hc = mact_registry_build_from_json (reg, cfg, MACT_TYPE_HEAD, &error);
  if (hc == NULL)
    fail_msg ("topk int config: %s", error->message);
  g_autoptr(MactTensorDict) lc = head_loss (MACT_HEAD (hc), score, labels, NULL);
  assert_int_equal (mact_tensor_dict_get_size (lc), 2);
  assert_float_equal (dict_float (lc, "top3_acc"), 2.0 / 3.0, 1e-6);
}

static void
test_construction_errors (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);

  /* every k must be positive */
  const gint64 zero[] = { 0 }, mixed[] = { 1, -2 };
  assert_null (try_new_head (reg, K, loss, FALSE, 0.0, int_tuple (1, zero), &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (try_new_head (reg, K, loss, FALSE, 0.0, int_tuple (2, mixed), &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* num_classes must be positive (it is required: 0 is the unset default) */
  assert_null (try_new_head (reg, 0, loss, FALSE, 0.0, NULL, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* label_smooth_eps must be in [0, 1] */
  const double bad_eps[] = { -0.1, 1.5 };
  for (guint i = 0; i < G_N_ELEMENTS (bad_eps); i++)
    {
      assert_null (try_new_head (reg, K, loss, FALSE, bad_eps[i], NULL, &error));
      mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
      assert_null (try_new_head (reg, K, loss, TRUE, bad_eps[i], NULL, &error));
      mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
    }
  /* the bounds themselves are allowed */
  g_autoptr(MactHead) h0 = try_new_head (reg, K, loss, FALSE, 0.0, NULL, NULL);
  g_autoptr(MactHead) h1 = try_new_head (reg, K, loss, FALSE, 1.0, NULL, NULL);
  assert_non_null (h0);
  assert_non_null (h1);
}

static void
test_loss_errors (void **state)
{
  /* Labels that fit neither a hard [N] nor a soft [N, K] reading are reported. */
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactHead) head = new_head (reg, loss, FALSE, 0.0, NULL);
  g_autoptr(MactTensor) score = ranked_scores ();
  const float y[] = { 2, 2 };
  g_autoptr(MactTensor) two = labels_from (y, 2);
  assert_null (mact_head_loss (head, score, two, NULL, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  const float bad[] = { 2, 400, 2 };
  g_autoptr(MactTensor) out_of_range = labels_from (bad, 3);
  assert_null (mact_head_loss (head, score, out_of_range, NULL, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
}

static void
test_kwargs_reach_loss (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactHead) head = new_head (reg, loss, FALSE, 0.0, NULL);
  g_autoptr(MactTensor) score = ranked_scores ();
  const float y[] = { 2, 2, 2 };
  g_autoptr(MactTensor) labels = labels_from (y, 3);
  g_autoptr(MactTensorDict) plain = head_loss (head, score, labels, NULL);

  const float m[] = { 0.0f, 0.5f, 1.0f };   /* mean 0.5 */
  g_autoptr(MactTensor) mask = labels_from (m, 3);
  g_autoptr(MactTensorDict) kwargs = mact_tensor_dict_new ();
  mact_tensor_dict_insert (kwargs, "mask", mask);
  g_autoptr(MactTensorDict) masked = head_loss (head, score, labels, kwargs);
  assert_close_rel (dict_float (masked, "loss_cls"), 0.5 * dict_float (plain, "loss_cls"),
                    1e-6, "mask kwarg");
  /* kwargs do not become loss entries of their own */
  assert_int_equal (mact_tensor_dict_get_size (masked), 3);
}

static void
test_head_forward (void **state)
{
  /* The test heads' forward shapes, which the recognizer tests rely on. */
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactLoss) loss = new_loss (reg, "TestCELoss", 1.0);
  g_autoptr(MactModule) head = mact_module_new (lookup (reg, "TestHead2D"), &error,
                                                "num-classes", 4, "in-channels", 8,
                                                "loss-cls", loss, NULL);
  assert_non_null (head);
  const gint64 fshape[] = { 6, 8, 3, 3 };
  g_autoptr(MactTensor) feat = mact_test_random (4, fshape, 3, -1.0, 1.0);
  g_autoptr(GPtrArray) in = g_ptr_array_new ();
  g_ptr_array_add (in, feat);
  g_autoptr(MactTensor) s3 = mact_head_forward_head (MACT_HEAD (head), in, 3, &error);
  assert_non_null (s3);
  assert_int_equal (mact_tensor_get_size (s3, 0), 2);
  assert_int_equal (mact_tensor_get_size (s3, 1), 4);
  g_autoptr(MactTensor) s0 = mact_head_forward_head (MACT_HEAD (head), in, 0, &error);
  assert_non_null (s0);
  assert_int_equal (mact_tensor_get_size (s0, 0), 6);

  /* the loss is a child, so its (absent) parameters sit under cls_head.loss_cls */
  assert_ptr_equal (mact_module_get_child (head, "loss_cls"), loss);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (head);
  assert_non_null (mact_tensor_dict_lookup (sd, "fc_cls.weight"));
  assert_non_null (mact_tensor_dict_lookup (sd, "fc_cls.bias"));
  assert_int_equal (mact_tensor_dict_get_size (sd), 2);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_topk_golden),
    cmocka_unit_test (test_topk_non_contiguous),
    cmocka_unit_test (test_topk_errors),
    cmocka_unit_test_setup_teardown (test_hard_labels, setup, teardown),
    cmocka_unit_test_setup_teardown (test_loss_weight, setup, teardown),
    cmocka_unit_test_setup_teardown (test_soft_labels, setup, teardown),
    cmocka_unit_test_setup_teardown (test_zero_dim_label, setup, teardown),
    cmocka_unit_test_setup_teardown (test_multi_class_bce_smoothing, setup, teardown),
    cmocka_unit_test_setup_teardown (test_single_label_smoothing, setup, teardown),
    cmocka_unit_test_setup_teardown (test_topk_options, setup, teardown),
    cmocka_unit_test_setup_teardown (test_construction_errors, setup, teardown),
    cmocka_unit_test_setup_teardown (test_loss_errors, setup, teardown),
    cmocka_unit_test_setup_teardown (test_kwargs_reach_loss, setup, teardown),
    cmocka_unit_test_setup_teardown (test_head_forward, setup, teardown),
  };
  return cmocka_run_group_tests_name ("heads", tests, NULL, NULL);
}
