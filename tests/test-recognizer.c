/* The recognizers (mmaction2's BaseRecognizer, Recognizer2D, Recognizer3D and
 * AudioRecognizer; reference §1 and the tests of §4.1-4.4), built from JSON configs on the
 * test blocks (tests/common/mact-test-blocks.c) in a private registry, with small shapes:
 * the average_clip and forward contracts, train/test/gradcam smoke tests, max_testing_views,
 * feature extraction, train_step and parse_losses, aux_info, the log-vars reducer,
 * blending, torchvision and mmcls backbones, init_weights per source, config handling and
 * state-dict keys. */
#include "mact-test.h"
#include "mact-test-blocks.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define K 10

/* Config fragments, with ' for " (see build()). */
#define BB2D "'backbone': {'type': 'TestBackbone2D'}"
#define BB3D "'backbone': {'type': 'TestBackbone3D'}"
#define BBTUPLE "'backbone': {'type': 'TestTupleBackbone3D'}"
#define CE "'loss_cls': {'type': 'TestCELoss'}"
#define HEAD2D "'cls_head': {'type': 'TestHead2D', 'num_classes': 10, 'in_channels': 8, " CE "}"
#define HEAD3D "'cls_head': {'type': 'TestHead3D', 'num_classes': 10, 'in_channels': 8, " CE "}"
#define HEADTUPLE \
  "'cls_head': {'type': 'TestHead3D', 'num_classes': 10, 'in_channels': 12, " CE "}"
#define NECK "'neck': {'type': 'TestNeck', 'in_channels': 8, 'num_classes': 10}"
#define PROB "'test_cfg': {'average_clips': 'prob'}"

#define REC2D "{'type': 'Recognizer2D', " BB2D ", " HEAD2D ", " PROB "}"
#define REC3D "{'type': 'Recognizer3D', " BB3D ", " HEAD3D ", " PROB "}"

/* ------------------------------------------------------------------ log capture */

/* The recognizer warns that it leaves torchvision weights alone; count those warnings
 * instead of printing them, and pass everything else to GLib's default writer (which keeps
 * criticals fatal under G_DEBUG=fatal-criticals). */
static guint tv_warnings;

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & G_LOG_LEVEL_WARNING)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE"))
        {
          g_autofree char *msg = fields[i].length < 0
                                 ? g_strdup (fields[i].value)
                                 : g_strndup (fields[i].value, fields[i].length);
          if (strstr (msg, "torchvision") != NULL)
            {
              tv_warnings++;
              return G_LOG_WRITER_HANDLED;
            }
        }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* ------------------------------------------------------------------ helpers */

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

static char *
json_of (const char *single_quoted)
{
  char *json = g_strdup (single_quoted);
  g_strdelimit (json, "'", '"');
  return json;
}

static MactRecognizer *
try_build (MactRegistry *reg, const char *config, GError **error)
{
  g_autofree char *json = json_of (config);
  return mact_recognizer_new_from_data (json, -1, reg, error);
}

static MactRecognizer *
build (MactRegistry *reg, const char *config)
{
  g_autoptr(GError) error = NULL;
  MactRecognizer *rec = try_build (reg, config, &error);
  if (rec == NULL)
    fail_msg ("building %s: %s", config, error->message);
  return rec;
}

static MactTensor *
rand_t (gint ndim, const gint64 *shape, guint64 seed)
{
  return mact_test_random (ndim, shape, seed, -1.0, 1.0);
}

static MactTensor *
full (gint ndim, const gint64 *shape, float value)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_full (ndim, shape, value, &error);
  if (t == NULL)
    fail_msg ("full: %s", error->message);
  return t;
}

static MactTensor *
from_data (const float *data, gsize n, gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (data, n, ndim, shape, &error);
  if (t == NULL)
    fail_msg ("from_data: %s", error->message);
  return t;
}

static MactTensorDict *
batch (const char *data_key, MactTensor *imgs, MactTensor *label)
{
  MactTensorDict *d = mact_tensor_dict_new ();
  mact_tensor_dict_insert (d, data_key, imgs);
  if (label)
    mact_tensor_dict_insert (d, "label", label);
  return d;
}

static MactTensorDict *
forward_ok (MactRecognizer *rec, MactTensorDict *data, gboolean return_loss, gboolean gradcam)
{
  g_autoptr(GError) error = NULL;
  MactTensorDict *out = mact_recognizer_forward (rec, data, return_loss, gradcam, &error);
  if (out == NULL)
    fail_msg ("forward: %s", error->message);
  return out;
}

/* Scores of forward_test through the batch dict, in a no-grad scope. */
static MactTensor *
test_scores (MactRecognizer *rec, const char *data_key, MactTensor *imgs)
{
  g_autoptr(MactTensorDict) data = batch (data_key, imgs, NULL);
  g_autoptr(MactTensorDict) out = NULL;
  MACT_NO_GRAD_BEGIN
  out = forward_ok (rec, data, FALSE, FALSE);
  MACT_NO_GRAD_END
  MactTensor *scores = mact_tensor_dict_lookup (out, "cls_score");
  assert_non_null (scores);
  assert_false (mact_tensor_get_requires_grad (scores));
  return mact_tensor_ref (scores);
}

static void
assert_shape2 (MactTensor *t, gint64 a, gint64 b)
{
  assert_non_null (t);
  assert_int_equal (mact_tensor_get_ndim (t), 2);
  assert_int_equal (mact_tensor_get_size (t, 0), a);
  assert_int_equal (mact_tensor_get_size (t, 1), b);
}

static float
dict_float (MactTensorDict *d, const char *key)
{
  float v = 0.0f;
  if (!mact_tensor_dict_get_float (d, key, &v))
    fail_msg ("no \"%s\"", key);
  return v;
}

static void
assert_keys (MactTensorDict *d, const char *const *keys)
{
  guint n = g_strv_length ((gchar **) keys);
  g_auto(GStrv) got = mact_tensor_dict_get_keys (d);
  g_autofree char *joined = g_strjoinv (", ", got);
  if (mact_tensor_dict_get_size (d) != n)
    fail_msg ("keys are [%s], expected %u keys", joined, n);
  for (guint i = 0; i < n; i++)
    if (!mact_tensor_dict_contains (d, keys[i]))
      fail_msg ("keys are [%s], missing %s", joined, keys[i]);
}

static const char *const train_keys[] = { "top1_acc", "top5_acc", "loss_cls", NULL };

/* Rows of a [R, C] tensor, each a softmax: sums to 1. */
static void
assert_rows_are_probs (MactTensor *t)
{
  gint64 r = mact_tensor_get_size (t, 0), c = mact_tensor_get_size (t, 1);
  g_autofree float *d = g_new (float, r * c);
  mact_tensor_copy_to_array (t, d);
  for (gint64 i = 0; i < r; i++)
    {
      double s = 0.0;
      for (gint64 j = 0; j < c; j++)
        {
          assert_true (d[i * c + j] >= 0.0f && d[i * c + j] <= 1.0f);
          s += d[i * c + j];
        }
      assert_float_equal (s, 1.0, 1e-5);
    }
}

/* Clears every parameter's grad, back-propagates @loss and checks each trainable
 * parameter received a gradient. */
static void
assert_backward_reaches_all (MactRecognizer *rec, MactTensor *loss)
{
  g_autoptr(GPtrArray) params = mact_module_parameters (MACT_MODULE (rec));
  assert_true (params->len > 0);
  for (guint i = 0; i < params->len; i++)
    mact_tensor_set_grad (g_ptr_array_index (params, i), NULL);
  g_autoptr(GError) error = NULL;
  if (!mact_tensor_backward (loss, NULL, &error))
    fail_msg ("backward: %s", error->message);
  g_autoptr(MactTensorDict) named = mact_module_named_parameters (MACT_MODULE (rec));
  for (guint i = 0; i < mact_tensor_dict_get_size (named); i++)
    {
      MactTensor *p = mact_tensor_dict_get_value (named, i);
      if (mact_tensor_get_requires_grad (p) && mact_tensor_get_grad (p) == NULL)
        fail_msg ("parameter %s received no gradient", mact_tensor_dict_get_key (named, i));
    }
}

/* max |a - b| over two state dicts with the same keys; fails on a key mismatch. */
static void
assert_same_weights (MactRecognizer *a, MactRecognizer *b)
{
  g_autoptr(MactTensorDict) sa = mact_module_state_dict (MACT_MODULE (a));
  g_autoptr(MactTensorDict) sb = mact_module_state_dict (MACT_MODULE (b));
  assert_int_equal (mact_tensor_dict_get_size (sa), mact_tensor_dict_get_size (sb));
  for (guint i = 0; i < mact_tensor_dict_get_size (sa); i++)
    {
      const char *key = mact_tensor_dict_get_key (sa, i);
      MactTensor *tb = mact_tensor_dict_lookup (sb, key);
      if (tb == NULL)
        fail_msg ("state dict key %s missing", key);
      mact_test_assert_close (mact_tensor_dict_get_value (sa, i), tb, 0.0, key);
    }
}

/* ------------------------------------------------------------------ §4.4 base contract */

static void
test_average_clip (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 5, 400 };
  g_autoptr(MactTensor) score = rand_t (2, shape, 1);

  /* no average_clips in test_cfg (or no test_cfg): KeyError */
  const char *no_key[] = {
    "{'type': 'Recognizer2D', " BB2D "}",
    "{'type': 'Recognizer2D', " BB2D ", 'test_cfg': {}}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (no_key); i++)
    {
      g_autoptr(MactRecognizer) rec = build (reg, no_key[i]);
      assert_null (mact_recognizer_average_clip (rec, score, 5, &error));
      mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY);
    }

  /* a value other than score, prob or null: ValueError */
  const char *bad[] = {
    "{'type': 'Recognizer2D', " BB2D ", 'test_cfg': {'average_clips': 'softmax'}}",
    "{'type': 'Recognizer2D', " BB2D ", 'test_cfg': {'average_clips': 3}}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(MactRecognizer) rec = build (reg, bad[i]);
      assert_null (mact_recognizer_average_clip (rec, score, 5, &error));
      mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE);
    }

  /* null: unchanged */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', " BB2D ", 'test_cfg': {'average_clips': null}}");
    g_autoptr(MactTensor) out = mact_recognizer_average_clip (rec, score, 5, &error);
    assert_non_null (out);
    mact_test_assert_close (out, score, 0.0, "average_clips null");
  }

  g_autofree float *s = g_new (float, 5 * 400);
  mact_tensor_copy_to_array (score, s);

  /* score: the mean of the 5 rows, [1, 400] (keepdim) */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', " BB2D ", 'test_cfg': {'average_clips': 'score'}}");
    g_autoptr(MactTensor) out = mact_recognizer_average_clip (rec, score, 5, &error);
    float expected[400];
    for (int c = 0; c < 400; c++)
      {
        double m = 0.0;
        for (int r = 0; r < 5; r++)
          m += s[r * 400 + c];
        expected[c] = (float) (m / 5.0);
      }
    const gint64 eshape[] = { 1, 400 };
    g_autoptr(MactTensor) e = from_data (expected, 400, 2, eshape);
    mact_test_assert_close (out, e, 1e-6, "average_clips score");

    /* rows that do not split into groups of num_segs */
    assert_null (mact_recognizer_average_clip (rec, score, 2, &error));
    mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE);
  }

  /* prob: the mean of the rows' softmax */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', " BB2D ", " PROB "}");
    g_autoptr(MactTensor) out = mact_recognizer_average_clip (rec, score, 5, &error);
    double acc[400] = { 0 };
    for (int r = 0; r < 5; r++)
      {
        double m = -INFINITY, z = 0.0;
        for (int c = 0; c < 400; c++)
          m = MAX (m, s[r * 400 + c]);
        for (int c = 0; c < 400; c++)
          z += exp (s[r * 400 + c] - m);
        for (int c = 0; c < 400; c++)
          acc[c] += exp (s[r * 400 + c] - m) / z / 5.0;
      }
    float expected[400];
    for (int c = 0; c < 400; c++)
      expected[c] = (float) acc[c];
    const gint64 eshape[] = { 1, 400 };
    g_autoptr(MactTensor) e = from_data (expected, 400, 2, eshape);
    mact_test_assert_close (out, e, 1e-6, "average_clips prob");
  }
}

static void
test_forward_errors (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) rec = build (reg, REC2D);
  const gint64 shape[] = { 1, 2, 3, 8, 8 };
  g_autoptr(MactTensor) imgs = rand_t (5, shape, 2);

  /* training without a label: ValueError */
  g_autoptr(MactTensorDict) no_label = batch ("imgs", imgs, NULL);
  assert_null (mact_recognizer_forward (rec, no_label, TRUE, FALSE, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE);

  /* no "imgs": KeyError, in every mode and in train_step */
  const gint64 lshape[] = { 1 };
  g_autoptr(MactTensor) label = full (1, lshape, 2.0f);
  g_autoptr(MactTensorDict) no_imgs = batch ("frames", imgs, label);
  for (int mode = 0; mode < 3; mode++)
    {
      assert_null (mact_recognizer_forward (rec, no_imgs, mode == 0, mode == 2, &error));
      mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY);
    }
  g_autoptr(MactTensor) loss = NULL;
  g_autoptr(MactTensorDict) log_vars = NULL;
  assert_false (mact_recognizer_train_step (rec, no_imgs, &loss, &log_vars, NULL, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY);
  assert_false (mact_recognizer_val_step (rec, no_imgs, &loss, &log_vars, NULL, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY);

  /* a 3-D batch given to the 2-D recognizer */
  const gint64 s6[] = { 1, 1, 3, 2, 8, 8 };
  g_autoptr(MactTensor) clip = rand_t (6, s6, 3);
  assert_null (mact_recognizer_forward_test (rec, clip, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

/* ------------------------------------------------------------------ §4.1-4.2 smoke tests */

/* mmaction2's pattern: losses on the batch, test per sample, gradcam on the batch and per
 * sample; plus consistency between batch and per-sample scores. */
static void
smoke (MactRecognizer *rec, MactTensor *imgs, MactTensor *labels, const char *const *keys)
{
  gint64 n = mact_tensor_get_size (imgs, 0);
  g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);
  g_autoptr(MactTensorDict) losses = forward_ok (rec, data, TRUE, FALSE);
  assert_keys (losses, keys);
  assert_true (dict_float (losses, "loss_cls") > 0.0f);
  assert_true (mact_tensor_get_requires_grad (mact_tensor_dict_lookup (losses, "loss_cls")));

  g_autoptr(MactTensor) all = test_scores (rec, "imgs", imgs);
  assert_shape2 (all, n, K);
  assert_rows_are_probs (all);
  for (gint64 i = 0; i < n; i++)
    {
      g_autoptr(MactTensor) one = mact_tensor_narrow (imgs, 0, i, 1, NULL);
      g_autoptr(MactTensor) s = test_scores (rec, "imgs", one);
      assert_shape2 (s, 1, K);
      g_autoptr(MactTensor) row = mact_tensor_narrow (all, 0, i, 1, NULL);
      mact_test_assert_close (s, row, 1e-5, "per-sample vs batch scores");

      g_autoptr(MactTensorDict) d1 = batch ("imgs", one, NULL);
      g_autoptr(MactTensorDict) g1 = forward_ok (rec, d1, FALSE, TRUE);
      assert_shape2 (mact_tensor_dict_lookup (g1, "cls_score"), 1, K);
    }

  /* gradcam: scores with a graph, back-propagated to the backbone */
  g_autoptr(MactTensorDict) g = NULL;
  MACT_NO_GRAD_BEGIN
  g = forward_ok (rec, data, FALSE, TRUE);   /* grad mode is turned on for gradcam */
  MACT_NO_GRAD_END
  MactTensor *gs = mact_tensor_dict_lookup (g, "cls_score");
  assert_shape2 (gs, n, K);
  assert_true (mact_tensor_get_requires_grad (gs));
  mact_test_assert_close (gs, all, 1e-5, "gradcam vs test scores");
  g_autoptr(MactTensor) total = mact_sum_all (gs);
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (MACT_MODULE (rec));
  MactTensor *first = mact_tensor_dict_get_value (params, 0);
  assert_true (g_str_has_prefix (mact_tensor_dict_get_key (params, 0), "backbone."));
  mact_tensor_set_grad (first, NULL);
  assert_true (mact_tensor_backward (total, NULL, NULL));
  assert_non_null (mact_tensor_get_grad (first));
}

static void
test_recognizer2d_smoke (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactRecognizer) rec = build (reg, REC2D);
  assert_true (MACT_IS_RECOGNIZER_2D (rec));
  assert_true (mact_recognizer_get_with_cls_head (rec));
  assert_false (mact_recognizer_get_with_neck (rec));
  assert_int_equal (mact_recognizer_get_backbone_from (rec), MACT_BACKBONE_SOURCE_MMACTION2);

  /* test_tsn's input (1, 3, 3, 32, 32) with label [2] */
  const gint64 s1[] = { 1, 3, 3, 32, 32 }, l1[] = { 1 };
  g_autoptr(MactTensor) imgs1 = rand_t (5, s1, 4);
  g_autoptr(MactTensor) labels1 = full (1, l1, 2.0f);
  smoke (rec, imgs1, labels1, train_keys);

  /* a batch of two, labels [N, 1] as collated */
  const gint64 s2[] = { 2, 3, 3, 8, 8 }, l2[] = { 2, 1 };
  g_autoptr(MactTensor) imgs2 = rand_t (5, s2, 5);
  g_autoptr(MactTensor) labels2 = full (2, l2, 2.0f);
  smoke (rec, imgs2, labels2, train_keys);
}

static void
test_recognizer3d_smoke (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactRecognizer) rec = build (reg, REC3D);
  assert_true (MACT_IS_RECOGNIZER_3D (rec));
  /* (1, 3, 3, 8, 16, 16) with labels [2] * V: every view is a training sample */
  const gint64 s[] = { 1, 3, 3, 8, 16, 16 }, l[] = { 3 };
  g_autoptr(MactTensor) imgs = rand_t (6, s, 6);
  g_autoptr(MactTensor) labels = full (1, l, 2.0f);
  smoke (rec, imgs, labels, train_keys);

  /* a batch of two clips of two views each */
  const gint64 s2[] = { 2, 2, 3, 2, 6, 6 }, l2[] = { 4 };
  g_autoptr(MactTensor) imgs2 = rand_t (6, s2, 7);
  g_autoptr(MactTensor) labels2 = full (1, l2, 1.0f);
  smoke (rec, imgs2, labels2, train_keys);

  /* the 3-D test scores are average_clip over the views of the head's [N*V, K] */
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) folded = mact_tensor_flatten (imgs, 0, 1, &error);
  g_autoptr(GPtrArray) feat = mact_recognizer_extract_feat (rec, folded, &error);
  assert_non_null (feat);
  g_autoptr(MactTensor) rows = mact_head_forward_head (mact_recognizer_get_cls_head (rec),
                                                       feat, 0, &error);
  assert_shape2 (rows, 3, K);
  g_autoptr(MactTensor) expected = mact_recognizer_average_clip (rec, rows, 3, &error);
  g_autoptr(MactTensor) got = test_scores (rec, "imgs", imgs);
  mact_test_assert_close (got, expected, 1e-6, "3-D scores");
}

/* ------------------------------------------------------------------ max_testing_views */

static void
check_max_testing_views (MactRegistry *reg, const char *plain_cfg, const char *chunked_cfg)
{
  /* Same seed, same draws: identical weights in both recognizers. */
  mact_manual_seed (1234);
  g_autoptr(MactRecognizer) plain = build (reg, plain_cfg);
  mact_manual_seed (1234);
  g_autoptr(MactRecognizer) chunked = build (reg, chunked_cfg);
  assert_same_weights (plain, chunked);
  assert_int_equal (mact_recognizer_get_max_testing_views (plain), 0);
  assert_int_equal (mact_recognizer_get_max_testing_views (chunked), 2);

  /* five views in chunks of 2, 2 and 1 */
  const gint64 s[] = { 1, 5, 3, 2, 6, 6 };
  g_autoptr(MactTensor) imgs = rand_t (6, s, 8);
  g_autoptr(MactTensor) a = test_scores (plain, "imgs", imgs);
  g_autoptr(MactTensor) b = test_scores (chunked, "imgs", imgs);
  assert_shape2 (b, 1, K);
  mact_test_assert_close (b, a, 1e-5, "max_testing_views vs all views at once");

  /* only a batch of one */
  g_autoptr(GError) error = NULL;
  const gint64 s2[] = { 2, 2, 3, 2, 6, 6 };
  g_autoptr(MactTensor) two = rand_t (6, s2, 9);
  assert_null (mact_recognizer_forward_test (chunked, two, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE);
}

static void
test_max_testing_views (void **state)
{
  MactRegistry *reg = *state;
  check_max_testing_views (reg, REC3D,
    "{'type': 'Recognizer3D', " BB3D ", " HEAD3D ", "
    "'test_cfg': {'average_clips': 'prob', 'max_testing_views': 2}}");
  /* SlowFast-like tuples are concatenated element-wise */
  check_max_testing_views (reg,
    "{'type': 'Recognizer3D', " BBTUPLE ", " HEADTUPLE ", " PROB "}",
    "{'type': 'Recognizer3D', " BBTUPLE ", " HEADTUPLE ", "
    "'test_cfg': {'average_clips': 'prob', 'max_testing_views': 2}}");

  /* mmaction2 asserts an int: other types are TypeError, non-positive ValueError */
  g_autoptr(GError) error = NULL;
  const char *not_int[] = { "2.5", "'2'", "true", "[2]" };
  for (guint i = 0; i < G_N_ELEMENTS (not_int); i++)
    {
      g_autofree char *cfg = g_strdup_printf (
        "{'type': 'Recognizer3D', " BB3D ", " HEAD3D ", "
        "'test_cfg': {'average_clips': 'prob', 'max_testing_views': %s}}", not_int[i]);
      assert_null (try_build (reg, cfg, &error));
      mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_TYPE);
    }
  assert_null (try_build (reg, "{'type': 'Recognizer3D', " BB3D ", " HEAD3D ", "
                               "'test_cfg': {'average_clips': 'prob', 'max_testing_views': 0}}",
                          &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE);
  /* null is None */
  g_autoptr(MactRecognizer) none = build (reg, "{'type': 'Recognizer3D', " BB3D ", " HEAD3D ", "
                                               "'test_cfg': {'average_clips': 'prob', "
                                               "'max_testing_views': null}}");
  assert_int_equal (mact_recognizer_get_max_testing_views (none), 0);
}

/* ------------------------------------------------------------------ feature extraction */

/* mean over dims >= 2 of a [B, C, ...] tensor, then over the V rows of each sample */
static MactTensor *
expected_features (MactTensor *feat, gint64 n, gint64 v)
{
  gint64 b = mact_tensor_get_size (feat, 0), c = mact_tensor_get_size (feat, 1);
  gint64 per = mact_tensor_get_numel (feat) / (b * c);
  g_autofree float *f = g_new (float, mact_tensor_get_numel (feat));
  mact_tensor_copy_to_array (feat, f);
  g_autofree float *out = g_new0 (float, n * c);
  for (gint64 i = 0; i < n; i++)
    for (gint64 ch = 0; ch < c; ch++)
      {
        double s = 0.0;
        for (gint64 j = 0; j < v; j++)
          for (gint64 p = 0; p < per; p++)
            s += f[((i * v + j) * c + ch) * per + p];
        out[i * c + ch] = (float) (s / (double) (v * per));
      }
  const gint64 shape[] = { n, c };
  return from_data (out, (gsize) (n * c), 2, shape);
}

static void
test_feature_extraction (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;

  /* 2-D, no head: [N, C] */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', " BB2D ", 'test_cfg': {'feature_extraction': true}}");
    assert_true (mact_recognizer_get_feature_extraction (rec));
    assert_false (mact_recognizer_get_with_cls_head (rec));
    const gint64 s[] = { 2, 3, 3, 6, 6 };
    g_autoptr(MactTensor) imgs = rand_t (5, s, 10);
    g_autoptr(MactTensor) got = test_scores (rec, "imgs", imgs);
    assert_shape2 (got, 2, 8);
    g_autoptr(MactTensor) folded = mact_tensor_flatten (imgs, 0, 1, NULL);
    g_autoptr(GPtrArray) feat = mact_recognizer_extract_feat (rec, folded, &error);
    assert_non_null (feat);
    g_autoptr(MactTensor) expected = expected_features (g_ptr_array_index (feat, 0), 2, 3);
    mact_test_assert_close (got, expected, 1e-5, "2-D features");

    /* training needs a head */
    const gint64 l[] = { 2 };
    g_autoptr(MactTensor) labels = full (1, l, 1.0f);
    g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);
    assert_null (mact_recognizer_forward (rec, data, TRUE, FALSE, &error));
    mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NO_HEAD);
  }

  /* 3-D: [N, C], and [N, C_slow + C_fast] for tuples */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer3D', " BB3D ", 'test_cfg': {'feature_extraction': true}}");
    const gint64 s[] = { 2, 2, 3, 2, 6, 6 };
    g_autoptr(MactTensor) imgs = rand_t (6, s, 11);
    g_autoptr(MactTensor) got = test_scores (rec, "imgs", imgs);
    assert_shape2 (got, 2, 8);
    g_autoptr(MactTensor) folded = mact_tensor_flatten (imgs, 0, 1, NULL);
    g_autoptr(GPtrArray) feat = mact_recognizer_extract_feat (rec, folded, &error);
    g_autoptr(MactTensor) expected = expected_features (g_ptr_array_index (feat, 0), 2, 2);
    mact_test_assert_close (got, expected, 1e-5, "3-D features");

    g_autoptr(MactRecognizer) tuple =
      build (reg, "{'type': 'Recognizer3D', " BBTUPLE ", 'test_cfg': {'feature_extraction': true}}");
    g_autoptr(MactTensor) both = test_scores (tuple, "imgs", imgs);
    assert_shape2 (both, 2, 12);
  }

  /* no head and no feature extraction: testing needs a head */
  {
    g_autoptr(MactRecognizer) rec = build (reg, "{'type': 'Recognizer2D', " BB2D ", " PROB "}");
    const gint64 s[] = { 1, 2, 3, 6, 6 };
    g_autoptr(MactTensor) imgs = rand_t (5, s, 12);
    assert_null (mact_recognizer_forward_test (rec, imgs, &error));
    mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NO_HEAD);
  }
}

/* ------------------------------------------------------------------ train_step */

static void
test_parse_losses (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactRecognizer) rec = build (reg, REC2D);
  g_autoptr(MactTensorDict) losses = mact_tensor_dict_new ();
  const float a[] = { 1.0f, 2.0f, 6.0f }, b[] = { 0.5f, 1.5f };
  const gint64 sa[] = { 3 }, sb[] = { 2 };
  g_autoptr(MactTensor) ta = from_data (a, 3, 1, sa);
  g_autoptr(MactTensor) tb = from_data (b, 2, 1, sb);
  g_autoptr(MactTensor) acc = mact_tensor_new_scalar (0.25f);
  mact_tensor_dict_insert (losses, "loss_a", ta);
  mact_tensor_dict_insert (losses, "top1_acc", acc);
  mact_tensor_dict_insert (losses, "my_loss_b", tb);

  g_autoptr(MactTensor) loss = NULL;
  g_autoptr(MactTensorDict) log_vars = NULL;
  assert_true (mact_recognizer_parse_losses (rec, losses, &loss, &log_vars, NULL));
  /* every value is a mean; "loss" sums the keys containing "loss" */
  const char *const keys[] = { "loss_a", "top1_acc", "my_loss_b", "loss", NULL };
  assert_keys (log_vars, keys);
  assert_string_equal (mact_tensor_dict_get_key (log_vars, 3), "loss");
  assert_float_equal (dict_float (log_vars, "loss_a"), 3.0, 1e-6);
  assert_float_equal (dict_float (log_vars, "my_loss_b"), 1.0, 1e-6);
  assert_float_equal (dict_float (log_vars, "top1_acc"), 0.25, 1e-6);
  assert_float_equal (dict_float (log_vars, "loss"), 4.0, 1e-6);
  assert_float_equal (mact_tensor_item (loss), 4.0, 1e-6);
  for (guint i = 0; i < mact_tensor_dict_get_size (log_vars); i++)
    assert_int_equal (mact_tensor_get_ndim (mact_tensor_dict_get_value (log_vars, i)), 0);
}

static void
check_train_step (MactRecognizer *rec, gboolean with_neck)
{
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 3, 3, 6, 6 }, l[] = { 2, 1 };
  g_autoptr(MactTensor) imgs = rand_t (5, s, 13);
  const float lv[] = { 2.0f, 7.0f };
  g_autoptr(MactTensor) labels = from_data (lv, 2, 2, l);
  g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);

  g_autoptr(MactTensor) loss = NULL;
  g_autoptr(MactTensorDict) log_vars = NULL;
  gint num_samples = -1;
  if (!mact_recognizer_train_step (rec, data, &loss, &log_vars, &num_samples, &error))
    fail_msg ("train_step: %s", error->message);
  assert_int_equal (num_samples, 2);
  const char *const plain_keys[] = { "top1_acc", "top5_acc", "loss_cls", "loss", NULL };
  const char *const neck_keys[] = { "loss_aux", "top1_acc", "top5_acc", "loss_cls", "loss",
                                    NULL };
  assert_keys (log_vars, with_neck ? neck_keys : plain_keys);

  /* log vars are the (detached) means of forward's losses; loss sums the "loss" keys */
  g_autoptr(MactTensorDict) losses = forward_ok (rec, data, TRUE, FALSE);
  assert_float_equal (dict_float (log_vars, "loss_cls"), dict_float (losses, "loss_cls"), 1e-6);
  assert_float_equal (dict_float (log_vars, "top1_acc"), dict_float (losses, "top1_acc"), 0.0);
  double expected = dict_float (losses, "loss_cls");
  if (with_neck)
    {
      assert_true (dict_float (losses, "loss_aux") > 0.0f);
      assert_float_equal (dict_float (log_vars, "loss_aux"), dict_float (losses, "loss_aux"),
                          1e-6);
      expected += dict_float (losses, "loss_aux");
    }
  assert_float_equal (dict_float (log_vars, "loss"), expected, 1e-5);
  assert_float_equal (mact_tensor_item (loss), expected, 1e-5);
  for (guint i = 0; i < mact_tensor_dict_get_size (log_vars); i++)
    assert_false (mact_tensor_get_requires_grad (mact_tensor_dict_get_value (log_vars, i)));
  assert_true (mact_tensor_get_requires_grad (loss));

  assert_backward_reaches_all (rec, loss);

  /* val_step computes the same losses */
  g_autoptr(MactTensor) vloss = NULL;
  g_autoptr(MactTensorDict) vlog = NULL;
  assert_true (mact_recognizer_val_step (rec, data, &vloss, &vlog, NULL, NULL));
  assert_keys (vlog, with_neck ? neck_keys : plain_keys);
  assert_float_equal (dict_float (vlog, "loss"), expected, 1e-5);

  /* the test path: [N, K] (with a neck num_segs became 1 before the head) */
  g_autoptr(MactTensor) scores = test_scores (rec, "imgs", imgs);
  assert_shape2 (scores, 2, K);
}

static void
test_train_step (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactRecognizer) rec = build (reg, REC2D);
  check_train_step (rec, FALSE);

  g_autoptr(MactRecognizer) with_neck =
    build (reg, "{'type': 'Recognizer2D', " BB2D ", " NECK ", " HEAD2D ", " PROB "}");
  assert_true (mact_recognizer_get_with_neck (with_neck));
  assert_true (MACT_IS_NECK (mact_recognizer_get_neck (with_neck)));
  check_train_step (with_neck, TRUE);
}

static void
test_neck_3d (void **state)
{
  /* Recognizer3D with a neck: loss_aux merged into the losses; test ignores it. */
  MactRegistry *reg = *state;
  g_autoptr(MactRecognizer) rec =
    build (reg, "{'type': 'Recognizer3D', " BB3D ", " NECK ", " HEAD3D ", " PROB "}");
  const gint64 s[] = { 1, 2, 3, 2, 6, 6 }, l[] = { 2 };
  g_autoptr(MactTensor) imgs = rand_t (6, s, 14);
  g_autoptr(MactTensor) labels = full (1, l, 3.0f);
  const char *const keys[] = { "loss_aux", "top1_acc", "top5_acc", "loss_cls", NULL };
  smoke (rec, imgs, labels, keys);
}

static void
test_aux_info (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) rec =
    build (reg, "{'type': 'Recognizer2D', " BB2D ", " HEAD2D ", " PROB ", "
                "'train_cfg': {'aux_info': ['mask']}}");
  const gchar *const *aux = mact_recognizer_get_aux_info (rec);
  assert_non_null (aux);
  assert_string_equal (aux[0], "mask");
  assert_null (aux[1]);

  const gint64 s[] = { 2, 2, 3, 6, 6 }, l[] = { 2 };
  g_autoptr(MactTensor) imgs = rand_t (5, s, 15);
  g_autoptr(MactTensor) labels = full (1, l, 4.0f);
  g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);
  g_autoptr(MactTensor) loss = NULL;
  g_autoptr(MactTensorDict) log_vars = NULL;

  /* a missing aux_info key is a KeyError */
  assert_false (mact_recognizer_train_step (rec, data, &loss, &log_vars, NULL, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY);

  /* a present one reaches the loss: TestCELoss scales by mean(mask) = 0.25 */
  g_autoptr(MactTensorDict) plain = forward_ok (rec, data, TRUE, FALSE);
  const float m[] = { 0.0f, 0.5f };
  const gint64 ms[] = { 2 };
  g_autoptr(MactTensor) mask = from_data (m, 2, 1, ms);
  mact_tensor_dict_insert (data, "mask", mask);
  if (!mact_recognizer_train_step (rec, data, &loss, &log_vars, NULL, &error))
    fail_msg ("train_step with mask: %s", error->message);
  assert_float_equal (dict_float (log_vars, "loss_cls"),
                      0.25 * dict_float (plain, "loss_cls"), 1e-6);
  assert_false (mact_tensor_dict_contains (log_vars, "mask"));
}

/* ------------------------------------------------------------------ log-vars reducer */

typedef struct {
  guint    calls;
  gboolean fail;
} ReducerState;

static guint reducer_destroyed;

static gboolean
doubling_reducer (MactTensorDict *log_vars, gpointer user_data, GError **error)
{
  ReducerState *st = user_data;
  st->calls++;
  if (st->fail)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "test reducer: all-reduce failed");
      return FALSE;
    }
  /* as a 2-rank all-reduce of equal values without the division would */
  for (guint i = 0; i < mact_tensor_dict_get_size (log_vars); i++)
    {
      g_autoptr(MactTensor) v = mact_mul_scalar (mact_tensor_dict_get_value (log_vars, i), 2.0f);
      mact_tensor_dict_insert (log_vars, mact_tensor_dict_get_key (log_vars, i), v);
    }
  mact_tensor_dict_insert_float (log_vars, "world_size", 2.0f);
  return TRUE;
}

static void
reducer_destroy (gpointer data)
{
  reducer_destroyed++;
}

static void
test_log_vars_reducer (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  ReducerState st = { 0, FALSE };
  guint destroyed_before = reducer_destroyed;
  {
    g_autoptr(MactRecognizer) rec = build (reg, REC2D);
    const gint64 s[] = { 2, 2, 3, 6, 6 }, l[] = { 2 };
    g_autoptr(MactTensor) imgs = rand_t (5, s, 16);
    g_autoptr(MactTensor) labels = full (1, l, 5.0f);
    g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);

    g_autoptr(MactTensor) loss0 = NULL, loss1 = NULL;
    g_autoptr(MactTensorDict) log0 = NULL, log1 = NULL;
    assert_true (mact_recognizer_train_step (rec, data, &loss0, &log0, NULL, NULL));

    mact_recognizer_set_log_vars_reducer (rec, doubling_reducer, &st, reducer_destroy);
    assert_true (mact_recognizer_train_step (rec, data, &loss1, &log1, NULL, NULL));
    assert_int_equal (st.calls, 1);
    assert_float_equal (dict_float (log1, "loss_cls"), 2.0 * dict_float (log0, "loss_cls"),
                        1e-6);
    assert_float_equal (dict_float (log1, "loss"), 2.0 * dict_float (log0, "loss"), 1e-6);
    assert_float_equal (dict_float (log1, "top1_acc"), 2.0 * dict_float (log0, "top1_acc"),
                        1e-6);
    assert_float_equal (dict_float (log1, "world_size"), 2.0, 0.0);
    /* the loss for backward is the local one, never reduced */
    assert_float_equal (mact_tensor_item (loss1), mact_tensor_item (loss0), 1e-6);

    /* a failing reducer fails the step with its error */
    g_autoptr(MactTensor) loss2 = NULL;
    g_autoptr(MactTensorDict) log2 = NULL;
    st.fail = TRUE;
    assert_false (mact_recognizer_train_step (rec, data, &loss2, &log2, NULL, &error));
    mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE);
    assert_null (loss2);
    assert_null (log2);

    /* replacing the reducer releases the old user data */
    mact_recognizer_set_log_vars_reducer (rec, doubling_reducer, &st, reducer_destroy);
    assert_int_equal (reducer_destroyed, destroyed_before + 1);
  }
  /* so does finalizing the recognizer */
  assert_int_equal (reducer_destroyed, destroyed_before + 2);
}

/* ------------------------------------------------------------------ blending */

static void
test_blending (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) rec =
    build (reg, "{'type': 'Recognizer2D', " BB2D ", " HEAD2D ", " PROB ", "
                "'train_cfg': {'blending': {'type': 'TestMixup', 'num_classes': 10}}}");
  MactBlending *blending = mact_recognizer_get_blending (rec);
  assert_non_null (blending);
  assert_int_equal (mact_blending_get_num_classes (blending), K);

  const gint64 s[] = { 2, 3, 3, 6, 6 }, l[] = { 2, 1 };
  g_autoptr(MactTensor) imgs = rand_t (5, s, 17);
  const float lv[] = { 3.0f, 8.0f };
  g_autoptr(MactTensor) labels = from_data (lv, 2, 2, l);
  g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);
  g_autoptr(MactTensorDict) losses = forward_ok (rec, data, TRUE, FALSE);
  /* soft labels: no accuracy */
  const char *const keys[] = { "loss_cls", NULL };
  assert_keys (losses, keys);

  /* the same as forward_train on the blended batch, by hand */
  g_autoptr(MactTensor) x0 = mact_tensor_narrow (imgs, 0, 0, 1, NULL);
  g_autoptr(MactTensor) x1 = mact_tensor_narrow (imgs, 0, 1, 1, NULL);
  g_autoptr(MactTensor) a0 = mact_mul_scalar (x0, 0.75f);
  g_autoptr(MactTensor) b1 = mact_mul_scalar (x1, 0.25f);
  g_autoptr(MactTensor) a1 = mact_mul_scalar (x1, 0.75f);
  g_autoptr(MactTensor) b0 = mact_mul_scalar (x0, 0.25f);
  g_autoptr(MactTensor) m0 = mact_add (a0, b1, NULL);
  g_autoptr(MactTensor) m1 = mact_add (a1, b0, NULL);
  MactTensor *parts[] = { m0, m1 };
  g_autoptr(MactTensor) mixed = mact_cat (parts, 2, 0, NULL);
  float y[2 * K] = { 0 };
  y[0 * K + 3] = 0.75f;
  y[0 * K + 8] = 0.25f;
  y[1 * K + 8] = 0.75f;
  y[1 * K + 3] = 0.25f;
  const gint64 ys[] = { 2, K };
  g_autoptr(MactTensor) soft = from_data (y, 2 * K, 2, ys);
  g_autoptr(MactTensorDict) by_hand = mact_recognizer_forward_train (rec, mixed, soft, NULL,
                                                                     &error);
  assert_non_null (by_hand);
  assert_float_equal (dict_float (losses, "loss_cls"), dict_float (by_hand, "loss_cls"), 1e-5);

  /* blending is for training only: test scores are unchanged by it */
  g_autoptr(MactTensor) scores = test_scores (rec, "imgs", imgs);
  assert_shape2 (scores, 2, K);
}

/* ------------------------------------------------------------------ tv. and cls. */

static void
test_torchvision_backbones (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  const gint64 s[] = { 2, 2, 3, 6, 6 }, l[] = { 2 };
  g_autoptr(MactTensor) imgs = rand_t (5, s, 18);
  g_autoptr(MactTensor) labels = full (1, l, 1.0f);

  /* tv.testnet: classifier replaced, `features` used by extract_feat */
  {
    guint warnings = tv_warnings;
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'tv.testnet'}, " HEAD2D ", "
                  PROB "}");
    assert_int_equal (tv_warnings, warnings + 1);   /* init_weights leaves tv weights alone */
    assert_int_equal (mact_recognizer_get_backbone_from (rec), MACT_BACKBONE_SOURCE_TORCHVISION);
    MactModule *backbone = MACT_MODULE (mact_recognizer_get_backbone (rec));
    assert_true (MACT_IS_IDENTITY (mact_module_get_child (backbone, "classifier")));
    assert_null (mact_module_get_child (backbone, "fc"));

    g_autoptr(MactTensor) folded = mact_tensor_flatten (imgs, 0, 1, NULL);
    g_autoptr(GPtrArray) feat = mact_recognizer_extract_feat (rec, folded, &error);
    assert_non_null (feat);
    assert_int_equal (feat->len, 1);
    MactTensor *f = g_ptr_array_index (feat, 0);
    assert_int_equal (mact_tensor_get_ndim (f), 4);   /* features, not the pooled forward */
    g_autoptr(MactTensor) direct =
      mact_module_forward1 (mact_module_get_child (backbone, "features"), folded, &error);
    mact_test_assert_close (f, direct, 0.0, "extract_feat uses features");

    g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);
    g_autoptr(MactTensorDict) losses = forward_ok (rec, data, TRUE, FALSE);
    assert_keys (losses, train_keys);
    g_autoptr(MactTensor) scores = test_scores (rec, "imgs", imgs);
    assert_shape2 (scores, 2, K);

    g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (rec));
    assert_true (mact_tensor_dict_contains (sd, "backbone.features.0.weight"));
    assert_false (mact_tensor_dict_contains (sd, "backbone.classifier.weight"));
  }

  /* tv.testresnet: fc replaced, so the forward returns [N, C] and the 2-D path shapes it
   * [N, C, 1, 1] (with fc kept the head would get 5 channels instead of 8) */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'tv.testresnet'}, " HEAD2D
                  ", " PROB "}");
    MactModule *backbone = MACT_MODULE (mact_recognizer_get_backbone (rec));
    assert_true (MACT_IS_IDENTITY (mact_module_get_child (backbone, "fc")));
    g_autoptr(MactTensorDict) data = batch ("imgs", imgs, labels);
    g_autoptr(MactTensorDict) losses = forward_ok (rec, data, TRUE, FALSE);
    assert_keys (losses, train_keys);
    g_autoptr(MactTensor) scores = test_scores (rec, "imgs", imgs);
    assert_shape2 (scores, 2, K);
  }

  /* tv.testmaps: 4-D maps [N, 8, 2, 2] are pooled to [N, 8, 1, 1] in the 2-D path, so a
   * head that flattens its input sees 8 features, not 32 */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'tv.testmaps'}, "
                  "'cls_head': {'type': 'TestFlatHead', 'num_classes': 10, 'in_channels': 8, "
                  CE "}, " PROB "}");
    /* TestFlatHead ignores num_segs, so training sees [N*V, K] scores: labels per view */
    const gint64 lv[] = { 4 };
    g_autoptr(MactTensor) view_labels = full (1, lv, 1.0f);
    g_autoptr(MactTensorDict) data = batch ("imgs", imgs, view_labels);
    g_autoptr(MactTensorDict) losses = forward_ok (rec, data, TRUE, FALSE);
    assert_keys (losses, train_keys);
    g_autoptr(MactTensor) scores = test_scores (rec, "imgs", imgs);
    assert_shape2 (scores, 2, K);   /* average_clip over the 2 views */
  }

  /* native backbones are not pooled by the recognizer: the same head gets 8 * 6 * 6 */
  {
    g_autoptr(MactRecognizer) rec =
      build (reg, "{'type': 'Recognizer2D', " BB2D ", "
                  "'cls_head': {'type': 'TestFlatHead', 'num_classes': 10, 'in_channels': 8, "
                  CE "}, " PROB "}");
    assert_null (mact_recognizer_forward_test (rec, imgs, &error));
    mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  }
}

static void
test_init_weights_per_source (void **state)
{
  MactRegistry *reg = *state;

  guint native = mact_test_blocks_init_count ("TestBackbone2D");
  g_autoptr(MactRecognizer) r1 = build (reg, REC2D);
  assert_int_equal (mact_test_blocks_init_count ("TestBackbone2D"), native + 1);
  assert_int_equal (mact_recognizer_get_backbone_from (r1), MACT_BACKBONE_SOURCE_MMACTION2);

  guint cls = mact_test_blocks_init_count ("cls.TestNet");
  g_autoptr(MactRecognizer) r2 =
    build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'cls.TestNet'}, " HEAD2D ", "
                PROB "}");
  assert_int_equal (mact_test_blocks_init_count ("cls.TestNet"), cls + 1);
  assert_int_equal (mact_recognizer_get_backbone_from (r2), MACT_BACKBONE_SOURCE_MMCLS);

  /* the mmcls path: a 1-tuple output unwrapped, no pooling in the recognizer */
  const gint64 s[] = { 1, 2, 3, 6, 6 }, l[] = { 1 };
  g_autoptr(MactTensor) imgs = rand_t (5, s, 19);
  g_autoptr(MactTensor) labels = full (1, l, 9.0f);
  smoke (r2, imgs, labels, train_keys);

  guint tv = mact_test_blocks_init_count ("tv.testnet");
  guint warnings = tv_warnings;
  g_autoptr(MactRecognizer) r3 =
    build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'tv.testnet'}, " HEAD2D ", "
                PROB "}");
  assert_int_equal (mact_test_blocks_init_count ("tv.testnet"), tv);
  assert_int_equal (tv_warnings, warnings + 1);
  assert_int_equal (mact_recognizer_get_backbone_from (r3), MACT_BACKBONE_SOURCE_TORCHVISION);
  /* an explicit init_weights call leaves the tv backbone alone too */
  assert_true (mact_module_init_weights (MACT_MODULE (r3), NULL, NULL));
  assert_int_equal (mact_test_blocks_init_count ("tv.testnet"), tv);
  assert_int_equal (tv_warnings, warnings + 2);
}

/* ------------------------------------------------------------------ configs */

static void
test_config_forms (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;

  /* a whole config and the model dict alone */
  g_autoptr(MactRecognizer) whole = build (reg, "{'model': " REC2D "}");
  g_autoptr(MactRecognizer) model = build (reg, REC2D);
  assert_true (MACT_IS_RECOGNIZER_2D (whole));
  assert_true (MACT_IS_RECOGNIZER_2D (model));

  /* train_cfg and test_cfg are kept */
  JsonNode *test_cfg = mact_recognizer_get_test_cfg (whole);
  assert_non_null (test_cfg);
  assert_string_equal (json_object_get_string_member (json_node_get_object (test_cfg),
                                                      "average_clips"), "prob");
  assert_null (mact_recognizer_get_train_cfg (whole));

  /* the caller's JSON is not modified, and builds again (0.x pops the type) */
  const char *aliases = "{'model': {'type': 'Recognizer2D', "
                        "'backbone': {'type': 'torchvision.testnet'}, " HEAD2D ", " PROB ", "
                        "'train_cfg': {'blending': {'type': 'TestMixup', 'num_classes': 10}}}}";
  g_autofree char *json = json_of (aliases);
  g_autoptr(JsonNode) node = json_from_string (json, &error);
  assert_non_null (node);
  g_autofree char *before = json_to_string (node, FALSE);
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(MactRecognizer) rec = mact_recognizer_new_from_json (node, reg, &error);
      if (rec == NULL)
        fail_msg ("torchvision alias: %s", error->message);
      assert_int_equal (mact_recognizer_get_backbone_from (rec), MACT_BACKBONE_SOURCE_TORCHVISION);
      MactModule *bb = MACT_MODULE (mact_recognizer_get_backbone (rec));
      assert_true (MACT_IS_IDENTITY (mact_module_get_child (bb, "classifier")));
      g_autofree char *after = json_to_string (node, FALSE);
      assert_string_equal (after, before);
    }

  /* mmcls. is cls. */
  g_autofree char *cls_json = json_of ("{'type': 'Recognizer2D', "
                                       "'backbone': {'type': 'mmcls.TestNet'}, " HEAD2D ", "
                                       PROB "}");
  g_autoptr(JsonNode) cls_node = json_from_string (cls_json, &error);
  g_autofree char *cls_before = json_to_string (cls_node, FALSE);
  g_autoptr(MactRecognizer) cls = mact_recognizer_new_from_json (cls_node, reg, &error);
  if (cls == NULL)
    fail_msg ("mmcls alias: %s", error->message);
  assert_int_equal (mact_recognizer_get_backbone_from (cls), MACT_BACKBONE_SOURCE_MMCLS);
  g_autofree char *cls_after = json_to_string (cls_node, FALSE);
  assert_string_equal (cls_after, cls_before);

  /* from a file */
  g_autofree char *path = NULL;
  gint fd = g_file_open_tmp ("mact-test-recognizer-XXXXXX.json", &path, &error);
  assert_true (fd >= 0);
  close (fd);
  g_autofree char *rec_json = json_of (REC3D);
  assert_true (g_file_set_contents (path, rec_json, -1, NULL));
  g_autoptr(MactRecognizer) from_file = mact_recognizer_new_from_file (path, reg, &error);
  if (from_file == NULL)
    fail_msg ("from file: %s", error->message);
  assert_true (MACT_IS_RECOGNIZER_3D (from_file));
  g_unlink (path);
}

static void
test_config_errors (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;

  /* an unknown key in the model */
  assert_null (try_build (reg, "{'type': 'Recognizer2D', " BB2D ", " HEAD2D ", "
                               "'pretrained': null}", &error));
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY);

  /* an unknown recognizer */
  assert_null (try_build (reg, "{'type': 'Recognizer4D', " BB2D "}", &error));
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE);

  /* no backbone */
  assert_null (try_build (reg, "{'type': 'Recognizer2D', " HEAD2D "}", &error));
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY);

  /* timm is not a family of mact */
  assert_null (try_build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'timm.x'}, "
                               HEAD2D "}", &error));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_UNKNOWN_FAMILY);

  /* a type that no plugin provides */
  assert_null (try_build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'NoSuchNet'}}",
                          &error));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND);

  /* a head where the backbone goes */
  assert_null (try_build (reg, "{'type': 'Recognizer2D', 'backbone': {'type': 'TestHead2D', "
                               "'num_classes': 10, 'in_channels': 8}}", &error));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND);

  /* a missing or unreadable file */
  assert_null (mact_recognizer_new_from_file ("/nonexistent/mact/model.json", reg, &error));
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  /* not JSON */
  assert_null (mact_recognizer_new_from_data ("{model", -1, reg, &error));
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);
}

static void
check_state_dict_prefixes (MactRecognizer *rec, gboolean with_neck)
{
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (rec));
  gboolean seen_backbone = FALSE, seen_head = FALSE, seen_neck = FALSE;
  for (guint i = 0; i < mact_tensor_dict_get_size (sd); i++)
    {
      const char *key = mact_tensor_dict_get_key (sd, i);
      if (g_str_has_prefix (key, "backbone."))
        seen_backbone = TRUE;
      else if (g_str_has_prefix (key, "cls_head."))
        seen_head = TRUE;
      else if (with_neck && g_str_has_prefix (key, "neck."))
        seen_neck = TRUE;
      else
        fail_msg ("unexpected state dict key %s", key);
    }
  assert_true (seen_backbone && seen_head);
  assert_int_equal (seen_neck, with_neck);
  assert_true (mact_tensor_dict_contains (sd, "backbone.conv1.weight"));
  assert_true (mact_tensor_dict_contains (sd, "backbone.conv1.bias"));
  assert_true (mact_tensor_dict_contains (sd, "cls_head.fc_cls.weight"));
  assert_true (mact_tensor_dict_contains (sd, "cls_head.fc_cls.bias"));
}

static void
test_state_dict_keys (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(MactRecognizer) rec = build (reg, REC2D);
  check_state_dict_prefixes (rec, FALSE);
  g_autoptr(MactRecognizer) with_neck =
    build (reg, "{'type': 'Recognizer2D', " BB2D ", " NECK ", " HEAD2D ", " PROB "}");
  check_state_dict_prefixes (with_neck, TRUE);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (with_neck));
  assert_true (mact_tensor_dict_contains (sd, "neck.aux_fc.weight"));
}

/* ------------------------------------------------------------------ §4.3 audio */

static void
test_audio_recognizer (void **state)
{
  MactRegistry *reg = *state;
  g_autoptr(GError) error = NULL;
  /* aux_info is ignored by the audio recognizer, as in mmaction2 */
  g_autoptr(MactRecognizer) rec =
    build (reg, "{'type': 'AudioRecognizer', "
                "'backbone': {'type': 'TestBackbone2D', 'in_channels': 1}, " HEAD2D ", " PROB ", "
                "'train_cfg': {'aux_info': ['mask']}}");
  assert_true (MACT_IS_RECOGNIZER_AUDIO (rec));

  /* (1, 3, 1, 16, 10) spectrograms with labels [2] * 3 */
  const gint64 s[] = { 1, 3, 1, 16, 10 }, l[] = { 3 };
  g_autoptr(MactTensor) audios = rand_t (5, s, 20);
  g_autoptr(MactTensor) labels = full (1, l, 2.0f);
  g_autoptr(MactTensorDict) data = batch ("audios", audios, labels);
  g_autoptr(MactTensorDict) losses = forward_ok (rec, data, TRUE, FALSE);
  assert_keys (losses, train_keys);
  assert_true (dict_float (losses, "loss_cls") > 0.0f);

  g_autoptr(MactTensor) scores = test_scores (rec, "audios", audios);
  assert_shape2 (scores, 1, K);
  assert_rows_are_probs (scores);

  g_autoptr(MactTensor) loss = NULL;
  g_autoptr(MactTensorDict) log_vars = NULL;
  gint num_samples = 0;
  if (!mact_recognizer_train_step (rec, data, &loss, &log_vars, &num_samples, &error))
    fail_msg ("audio train_step: %s", error->message);
  assert_int_equal (num_samples, 1);
  assert_float_equal (dict_float (log_vars, "loss"), dict_float (losses, "loss_cls"), 1e-6);
  assert_backward_reaches_all (rec, loss);

  /* gradcam is not implemented for audio */
  assert_null (mact_recognizer_forward (rec, data, FALSE, TRUE, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NOT_IMPLEMENTED);
  assert_null (mact_recognizer_forward_gradcam (rec, audios, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NOT_IMPLEMENTED);

  /* the data key is "audios" */
  g_autoptr(MactTensorDict) imgs_data = batch ("imgs", audios, labels);
  assert_null (mact_recognizer_forward (rec, imgs_data, TRUE, FALSE, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY);
}

int
main (void)
{
  g_log_set_writer_func (log_writer, NULL, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_average_clip, setup, teardown),
    cmocka_unit_test_setup_teardown (test_forward_errors, setup, teardown),
    cmocka_unit_test_setup_teardown (test_recognizer2d_smoke, setup, teardown),
    cmocka_unit_test_setup_teardown (test_recognizer3d_smoke, setup, teardown),
    cmocka_unit_test_setup_teardown (test_max_testing_views, setup, teardown),
    cmocka_unit_test_setup_teardown (test_feature_extraction, setup, teardown),
    cmocka_unit_test_setup_teardown (test_parse_losses, setup, teardown),
    cmocka_unit_test_setup_teardown (test_train_step, setup, teardown),
    cmocka_unit_test_setup_teardown (test_neck_3d, setup, teardown),
    cmocka_unit_test_setup_teardown (test_aux_info, setup, teardown),
    cmocka_unit_test_setup_teardown (test_log_vars_reducer, setup, teardown),
    cmocka_unit_test_setup_teardown (test_blending, setup, teardown),
    cmocka_unit_test_setup_teardown (test_torchvision_backbones, setup, teardown),
    cmocka_unit_test_setup_teardown (test_init_weights_per_source, setup, teardown),
    cmocka_unit_test_setup_teardown (test_config_forms, setup, teardown),
    cmocka_unit_test_setup_teardown (test_config_errors, setup, teardown),
    cmocka_unit_test_setup_teardown (test_state_dict_keys, setup, teardown),
    cmocka_unit_test_setup_teardown (test_audio_recognizer, setup, teardown),
  };
  return cmocka_run_group_tests_name ("recognizer", tests, NULL, NULL);
}
