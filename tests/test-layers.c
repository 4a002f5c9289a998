/* The generic layers: each forward equals the op it wraps called with the layer's own
 * parameters; PyTorch's state-dict keys; PyTorch's default initialisation (bounds and
 * exact draws from the default generator); batch norm's running statistics and
 * num_batches_tracked; ConvModule's structure, mmcv init and bias rule; Sequential
 * order; Dropout; and every construction and forward error. */
#include "mact-test.h"

#include <math.h>

static MactTensor *
forward_ok (MactModule *module, MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  MactTensor *y = mact_module_forward1 (module, x, &error);
  if (y == NULL)
    fail_msg ("%s forward: %s", G_OBJECT_TYPE_NAME (module), error->message);
  return y;
}

static void
assert_keys (MactModule *module, const char *const *expected)
{
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (module);
  g_auto(GStrv) keys = mact_tensor_dict_get_keys (sd);
  g_autofree char *joined = g_strjoinv (" ", keys);
  guint n = 0;
  while (expected[n] != NULL)
    n++;
  if (mact_tensor_dict_get_size (sd) != n)
    fail_msg ("%s: keys %s, expected %u keys", G_OBJECT_TYPE_NAME (module), joined, n);
  for (guint i = 0; i < n; i++)
    assert_string_equal (keys[i], expected[i]);
}

static void
assert_shape (MactTensor *t, gint ndim, const gint64 *shape)
{
  assert_non_null (t);
  gint got_ndim = 0;
  const gint64 *got = mact_tensor_get_shape (t, &got_ndim);
  assert_int_equal (got_ndim, ndim);
  for (gint i = 0; i < ndim; i++)
    assert_int_equal (got[i], shape[i]);
}

/* max |t| and whether every |t| < bound */
static double
max_abs (MactTensor *t)
{
  gint64 n = mact_tensor_get_numel (t);
  g_autofree float *v = g_new (float, n);
  mact_tensor_copy_to_array (t, v);
  double m = 0.0;
  for (gint64 i = 0; i < n; i++)
    m = MAX (m, fabs (v[i]));
  return m;
}

/* ---- Conv ---- */

static void
test_conv2d (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint k[2] = { 3, 2 }, s[2] = { 2, 1 }, p[2] = { 1, 0 }, d[2] = { 1, 2 };
  g_autoptr(MactModule) conv = mact_conv_new (2, 4, 6, k, s, p, d, 2, TRUE, &error);
  assert_non_null (conv);
  assert_true (MACT_IS_CONV (conv));
  static const char *const keys[] = { "weight", "bias", NULL };
  assert_keys (conv, keys);
  MactTensor *w = mact_module_get_parameter (conv, "weight");
  MactTensor *b = mact_module_get_parameter (conv, "bias");
  assert_shape (w, 4, (gint64[]) { 6, 2, 3, 2 });
  assert_shape (b, 1, (gint64[]) { 6 });
  assert_true (mact_tensor_get_requires_grad (w));

  g_autoptr(MactTensor) x = mact_test_random (4, (gint64[]) { 2, 4, 7, 6 }, 1, -1, 1);
  g_autoptr(MactTensor) y = forward_ok (conv, x);
  g_autoptr(MactTensor) want = mact_conv2d (x, w, b, s, p, d, 2, &error);
  mact_test_assert_close (y, want, 0.0, "Conv2d forward");

  /* Properties read back as given; defaults as PyTorch's. */
  gint groups = 0, out_channels = 0;
  g_autoptr(GVariant) stride = NULL;
  g_object_get (conv, "groups", &groups, "out-channels", &out_channels, "stride", &stride,
                NULL);
  assert_int_equal (groups, 2);
  assert_int_equal (out_channels, 6);
  gint sv[2];
  assert_true (mact_int_tuple_get (stride, 2, sv, "stride", NULL));
  assert_int_equal (sv[0], 2);

  g_autoptr(MactModule) plain = mact_conv_new (2, 3, 5, (gint[]) { 1, 1 }, NULL, NULL,
                                               NULL, 1, FALSE, &error);
  assert_non_null (plain);
  static const char *const keys_nobias[] = { "weight", NULL };
  assert_keys (plain, keys_nobias);
  assert_null (mact_module_get_parameter (plain, "bias"));
  g_autoptr(MactTensor) x2 = mact_test_random (4, (gint64[]) { 1, 3, 4, 4 }, 2, -1, 1);
  g_autoptr(MactTensor) y2 = forward_ok (plain, x2);
  g_autoptr(MactTensor) want2 = mact_conv2d (x2, mact_module_get_parameter (plain, "weight"),
                                             NULL, NULL, NULL, NULL, 1, &error);
  mact_test_assert_close (y2, want2, 0.0, "Conv2d 1x1 forward");

  /* The same layer through properties, with one value broadcast to both dims. */
  const gint64 three = 3, one = 1;
  g_autoptr(MactModule) byprops =
    mact_module_new (MACT_TYPE_CONV, &error, "in-channels", 2, "out-channels", 2,
                     "kernel-size", mact_int_tuple_new (1, &three),
                     "padding", mact_int_tuple_new (1, &one), NULL);
  assert_non_null (byprops);
  assert_shape (mact_module_get_parameter (byprops, "weight"), 4, (gint64[]) { 2, 2, 3, 3 });
}

static void
test_conv3d (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint k[3] = { 3, 1, 1 }, p[3] = { 1, 0, 0 };
  g_autoptr(MactModule) conv = mact_conv_new (3, 3, 4, k, NULL, p, NULL, 1, TRUE, &error);
  assert_non_null (conv);
  MactTensor *w = mact_module_get_parameter (conv, "weight");
  assert_shape (w, 5, (gint64[]) { 4, 3, 3, 1, 1 });
  g_autoptr(MactTensor) x = mact_test_random (5, (gint64[]) { 1, 3, 4, 3, 3 }, 3, -1, 1);
  g_autoptr(MactTensor) y = forward_ok (conv, x);
  g_autoptr(MactTensor) want = mact_conv3d (x, w, mact_module_get_parameter (conv, "bias"),
                                            NULL, p, NULL, 1, &error);
  mact_test_assert_close (y, want, 0.0, "Conv3d forward");

  /* A replaced weight is the one used. */
  g_autoptr(MactTensor) w2 = mact_test_random (5, (gint64[]) { 4, 3, 3, 1, 1 }, 9, -1, 1);
  assert_true (mact_module_set_parameter (conv, "weight", w2, &error));
  g_autoptr(MactTensor) y2 = forward_ok (conv, x);
  g_autoptr(MactTensor) want2 = mact_conv3d (x, w2, mact_module_get_parameter (conv, "bias"),
                                             NULL, p, NULL, 1, &error);
  mact_test_assert_close (y2, want2, 0.0, "Conv3d forward after set_parameter");
}

static void
test_conv_default_init (void **state)
{
  g_autoptr(GError) error = NULL;
  /* fan_in = in_channels / groups * kh * kw = 2 * 3 * 3 = 18. */
  mact_manual_seed (1234);
  g_autoptr(MactModule) conv = mact_conv_new (2, 4, 8, (gint[]) { 3, 3 }, NULL, NULL, NULL,
                                              2, TRUE, &error);
  assert_non_null (conv);
  MactTensor *w = mact_module_get_parameter (conv, "weight");
  MactTensor *b = mact_module_get_parameter (conv, "bias");
  const double bound = 1.0 / sqrt (18.0);
  /* kaiming_uniform(a = sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); 144 draws come
   * close to the bound. */
  assert_true (max_abs (w) <= bound);
  assert_true (max_abs (w) > 0.8 * bound);
  assert_true (max_abs (b) <= bound);
  assert_true (max_abs (b) > 0.0);

  /* Exactly PyTorch's recipe, drawn from the default generator: weight then bias. */
  mact_manual_seed (1234);
  g_autoptr(MactTensor) ew = mact_tensor_new (4, (gint64[]) { 8, 2, 3, 3 }, NULL);
  g_autoptr(MactTensor) eb = mact_tensor_new (1, (gint64[]) { 8 }, NULL);
  assert_true (mact_tensor_kaiming_uniform_ (ew, NULL, sqrt (5.0), MACT_FAN_IN,
                                             "leaky_relu", &error));
  mact_tensor_uniform_ (eb, NULL, -bound, bound);
  mact_test_assert_close (w, ew, 0.0, "conv weight init");
  mact_test_assert_close (b, eb, 0.0, "conv bias init");

  /* Layers keep their construction-time init: init_weights does not redraw (PyTorch
   * layers have no init_weights). */
  g_autoptr(MactGenerator) gen = mact_generator_new (5);
  assert_true (mact_module_init_weights (conv, gen, &error));
  mact_test_assert_close (w, ew, 0.0, "conv weight after init_weights");
}

static void
test_conv_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint k2[2] = { 3, 3 }, k3[3] = { 1, 3, 3 };

  assert_null (mact_conv_new (4, 3, 3, k2, NULL, NULL, NULL, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "dims"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 0, 3, k2, NULL, NULL, NULL, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "Conv2d: in_channels"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 3, -1, k2, NULL, NULL, NULL, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "out_channels"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 3, 3, k2, NULL, NULL, NULL, 0, TRUE, &error));
  assert_non_null (strstr (error->message, "groups"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (3, 6, 8, k3, NULL, NULL, NULL, 4, TRUE, &error));
  assert_string_equal (error->message,
                       "Conv3d: in_channels must be divisible by groups (got 6 and 4)");
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (3, 8, 6, k3, NULL, NULL, NULL, 4, TRUE, &error));
  assert_non_null (strstr (error->message, "out_channels must be divisible by groups"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 3, 3, NULL, NULL, NULL, NULL, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "kernel_size is required"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 3, 3, (gint[]) { 3, 0 }, NULL, NULL, NULL, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "kernel_size must be positive (got (3, 0))"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 3, 3, k2, (gint[]) { 0, 1 }, NULL, NULL, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "stride"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 3, 3, k2, NULL, (gint[]) { -1, 0 }, NULL, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "padding must be non-negative"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_new (2, 3, 3, k2, NULL, NULL, (gint[]) { 1, 0 }, 1, TRUE, &error));
  assert_non_null (strstr (error->message, "dilation"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* A tuple of the wrong length, through properties. */
  const gint64 three[3] = { 1, 1, 1 };
  g_autoptr(MactModule) bad_tuple =
    mact_module_new (MACT_TYPE_CONV, &error, "in-channels", 2, "out-channels", 2,
                     "kernel-size", mact_int_tuple_new (3, three), NULL);
  assert_null (bad_tuple);
  assert_non_null (strstr (error->message, "Conv2d: kernel_size"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* Too large to allocate: an error, not an abort. */
  g_autoptr(MactModule) huge = mact_conv_new (2, G_MAXINT, G_MAXINT, (gint[]) { 65536, 65536 },
                                              NULL, NULL, NULL, 1, TRUE, &error);
  assert_null (huge);
  assert_non_null (strstr (error->message, "Conv2d: cannot create weight"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* Forward errors. */
  g_autoptr(MactModule) conv = mact_conv_new (2, 3, 4, k2, NULL, NULL, NULL, 1, TRUE, &error);
  g_autoptr(MactTensor) x3d = mact_tensor_new (3, (gint64[]) { 3, 5, 5 }, NULL);
  assert_null (mact_module_forward1 (conv, x3d, &error));
  assert_non_null (strstr (error->message, "Conv2d: expected a 4-D input"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) x_channels = mact_tensor_new (4, (gint64[]) { 1, 2, 5, 5 }, NULL);
  assert_null (mact_module_forward1 (conv, x_channels, &error));
  assert_non_null (strstr (error->message, "in_channels = 3"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) x_small = mact_tensor_new (4, (gint64[]) { 1, 3, 2, 2 }, NULL);
  assert_null (mact_module_forward1 (conv, x_small, &error));
  assert_true (g_str_has_prefix (error->message, "Conv2d: "));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  g_autoptr(GPtrArray) two = g_ptr_array_new ();
  g_ptr_array_add (two, x_small);
  g_ptr_array_add (two, x_small);
  assert_null (mact_module_forward (conv, two, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ---- BatchNorm ---- */

/* Per-channel mean and unbiased variance of x [N, C, S...] in double. */
static void
channel_stats (MactTensor *x, gint64 c, double *mean, double *var_unbiased)
{
  gint64 n = mact_tensor_get_size (x, 0), numel = mact_tensor_get_numel (x);
  gint64 s = numel / (n * c);
  g_autofree float *v = g_new (float, numel);
  mact_tensor_copy_to_array (x, v);
  for (gint64 ch = 0; ch < c; ch++)
    {
      double sum = 0, sq = 0;
      for (gint64 i = 0; i < n; i++)
        for (gint64 j = 0; j < s; j++)
          sum += v[(i * c + ch) * s + j];
      double m = sum / (n * s);
      for (gint64 i = 0; i < n; i++)
        for (gint64 j = 0; j < s; j++)
          {
            double e = v[(i * c + ch) * s + j] - m;
            sq += e * e;
          }
      mean[ch] = m;
      var_unbiased[ch] = sq / (n * s - 1);
    }
}

static void
test_batch_norm_train (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) bn = mact_batch_norm_new (2, 3, 1e-5, 0.1, TRUE, &error);
  assert_non_null (bn);
  static const char *const keys[] = { "weight", "bias", "running_mean", "running_var",
                                      "num_batches_tracked", NULL };
  assert_keys (bn, keys);
  MactTensor *count = mact_module_get_buffer (bn, "num_batches_tracked");
  assert_int_equal (mact_tensor_get_ndim (count), 0);
  assert_float_equal (mact_tensor_item (count), 0.0f, 0.0);
  MactTensor *w = mact_module_get_parameter (bn, "weight");
  MactTensor *b = mact_module_get_parameter (bn, "bias");
  /* PyTorch's init: weight ones, bias zeros, running mean zeros, var ones. */
  assert_float_equal (mact_tensor_get_item (w, (gint64[]) { 2 }), 1.0f, 0.0);
  assert_float_equal (mact_tensor_get_item (b, (gint64[]) { 2 }), 0.0f, 0.0);
  mact_tensor_uniform_ (w, NULL, 0.5, 1.5);
  mact_tensor_uniform_ (b, NULL, -0.5, 0.5);

  g_autoptr(MactTensor) x = mact_test_random (4, (gint64[]) { 4, 3, 2, 2 }, 11, -2, 3);
  g_autoptr(MactTensor) y = forward_ok (bn, x);
  /* Training uses the batch statistics. */
  g_autoptr(MactTensor) want = mact_batch_norm (x, NULL, NULL, w, b, TRUE, 0.1, 1e-5, &error);
  mact_test_assert_close (y, want, 1e-6, "BatchNorm2d train forward");

  /* running = 0.9 * running + 0.1 * batch statistic (unbiased variance). */
  double mean[3], var[3];
  channel_stats (x, 3, mean, var);
  MactTensor *rm = mact_module_get_buffer (bn, "running_mean");
  MactTensor *rv = mact_module_get_buffer (bn, "running_var");
  for (gint64 c = 0; c < 3; c++)
    {
      assert_float_equal (mact_tensor_get_item (rm, &c), 0.1 * mean[c], 1e-5);
      assert_float_equal (mact_tensor_get_item (rv, &c), 0.9 + 0.1 * var[c], 1e-5);
    }
  assert_float_equal (mact_tensor_item (count), 1.0f, 0.0);
  g_autoptr(MactTensor) y_again = forward_ok (bn, x);
  mact_test_assert_close (y_again, want, 1e-6, "BatchNorm2d second train forward");
  assert_float_equal (mact_tensor_item (count), 2.0f, 0.0);
  for (gint64 c = 0; c < 3; c++)
    assert_float_equal (mact_tensor_get_item (rm, &c), 0.19 * mean[c], 1e-5);

  /* Evaluation uses the running statistics and changes nothing. */
  mact_module_eval (bn);
  const float rmv[] = { 0.5f, -1.0f, 2.0f }, rvv[] = { 4.0f, 0.25f, 1.0f };
  g_autoptr(MactTensor) rm_set = mact_tensor_new_from_data (rmv, 3, 1, (gint64[]) { 3 }, NULL);
  g_autoptr(MactTensor) rv_set = mact_tensor_new_from_data (rvv, 3, 1, (gint64[]) { 3 }, NULL);
  assert_true (mact_module_set_parameter (bn, "running_mean", rm_set, &error));
  assert_true (mact_module_set_parameter (bn, "running_var", rv_set, &error));
  g_autoptr(MactTensor) y_eval = forward_ok (bn, x);
  assert_float_equal (mact_tensor_item (count), 2.0f, 0.0);
  assert_float_equal (mact_tensor_get_item (rm_set, (gint64[]) { 0 }), 0.5f, 0.0);
  /* By hand: (x - rm) / sqrt(rv + eps) * w + b. */
  gint64 numel = mact_tensor_get_numel (x);
  g_autofree float *xv = g_new (float, numel);
  g_autofree float *ev = g_new (float, numel);
  mact_tensor_copy_to_array (x, xv);
  for (gint64 i = 0; i < numel; i++)
    {
      gint64 c = (i / 4) % 3;
      ev[i] = (float) ((xv[i] - rmv[c]) / sqrt (rvv[c] + 1e-5) *
                       mact_tensor_get_item (w, &c) + mact_tensor_get_item (b, &c));
    }
  g_autoptr(MactTensor) want_eval = mact_tensor_new_from_data (ev, numel, 4,
                                                               (gint64[]) { 4, 3, 2, 2 }, NULL);
  mact_test_assert_close (y_eval, want_eval, 1e-5, "BatchNorm2d eval forward");
}

static void
test_batch_norm_variants (void **state)
{
  g_autoptr(GError) error = NULL;

  /* 1d on [N, C] and [N, C, L]. */
  g_autoptr(MactModule) bn1 = mact_batch_norm_new (1, 2, 1e-3, 0.5, TRUE, &error);
  assert_non_null (bn1);
  g_autoptr(MactTensor) x2 = mact_test_random (2, (gint64[]) { 5, 2 }, 3, -1, 1);
  g_autoptr(MactTensor) x3 = mact_test_random (3, (gint64[]) { 2, 2, 3 }, 4, -1, 1);
  g_autoptr(MactTensor) y2 = forward_ok (bn1, x2);
  g_autoptr(MactTensor) want2 = mact_batch_norm (x2, NULL, NULL, NULL, NULL, TRUE, 0.5, 1e-3,
                                                 &error);
  mact_test_assert_close (y2, want2, 1e-6, "BatchNorm1d [N, C]");
  g_autoptr(MactTensor) y3 = forward_ok (bn1, x3);
  g_autoptr(MactTensor) want3 = mact_batch_norm (x3, NULL, NULL, NULL, NULL, TRUE, 0.5, 1e-3,
                                                 &error);
  mact_test_assert_close (y3, want3, 1e-6, "BatchNorm1d [N, C, L]");

  /* 3d in eval with default stats: x / sqrt(1 + eps). */
  g_autoptr(MactModule) bn3 = mact_batch_norm_new (3, 2, 1e-5, 0.1, TRUE, &error);
  mact_module_eval (bn3);
  g_autoptr(MactTensor) x5 = mact_test_random (5, (gint64[]) { 1, 2, 2, 2, 2 }, 5, -1, 1);
  g_autoptr(MactTensor) y5 = forward_ok (bn3, x5);
  g_autoptr(MactTensor) want5 = mact_mul_scalar (x5, (float) (1.0 / sqrt (1.0 + 1e-5)));
  mact_test_assert_close (y5, want5, 1e-6, "BatchNorm3d eval forward");

  /* affine FALSE: no parameters, absent from the state dict. */
  g_autoptr(MactModule) plain = mact_batch_norm_new (2, 3, 1e-5, 0.1, FALSE, &error);
  static const char *const plain_keys[] = { "running_mean", "running_var",
                                            "num_batches_tracked", NULL };
  assert_keys (plain, plain_keys);
  assert_null (mact_module_get_parameter (plain, "weight"));

  /* track-running-stats FALSE: no buffers, batch statistics even in eval mode. */
  g_autoptr(MactModule) untracked =
    mact_module_new (MACT_TYPE_BATCH_NORM, &error, "num-features", 2,
                     "track-running-stats", FALSE, NULL);
  assert_non_null (untracked);
  static const char *const untracked_keys[] = { "weight", "bias", NULL };
  assert_keys (untracked, untracked_keys);
  mact_module_eval (untracked);
  g_autoptr(MactTensor) x4 = mact_test_random (4, (gint64[]) { 2, 2, 2, 2 }, 6, -1, 1);
  g_autoptr(MactTensor) y4 = forward_ok (untracked, x4);
  g_autoptr(MactTensor) want4 = mact_batch_norm (x4, NULL, NULL, NULL, NULL, TRUE, 0.1, 1e-5,
                                                 &error);
  mact_test_assert_close (y4, want4, 1e-6, "untracked BatchNorm2d eval forward");
}

/* SyncBN as a layer: the sync property (on a ConvModule: norm-sync), the same keys as
 * BN, plain BN's values without a reducer, and the process group's sum used only by sync
 * layers in training mode. */
static guint sync_calls;

static gboolean
count_sync_calls (float *values, gsize n_values, gpointer user_data, GError **error)
{
  sync_calls++;
  assert_ptr_equal (user_data, &sync_calls);
  return TRUE;
}

static void
test_batch_norm_sync (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) plain = mact_batch_norm_new (2, 3, 1e-5, 0.1, TRUE, &error);
  g_autoptr(MactModule) sync = mact_batch_norm_new (2, 3, 1e-5, 0.1, TRUE, &error);
  assert_non_null (sync);
  gboolean on = TRUE;
  g_object_get (sync, "sync", &on, NULL);
  assert_false (on);
  g_object_set (sync, "sync", TRUE, NULL);
  g_object_get (sync, "sync", &on, NULL);
  assert_true (on);
  static const char *const keys[] = { "weight", "bias", "running_mean", "running_var",
                                      "num_batches_tracked", NULL };
  assert_keys (sync, keys);

  const gint64 s[] = { 2, 3, 2, 2 };
  g_autoptr(MactTensor) x = mact_test_random (4, s, 11, -1.0, 2.0);
  mact_module_train (plain, TRUE);
  mact_module_train (sync, TRUE);

  /* No reducer (one process): a sync layer computes what BN computes. */
  g_autoptr(MactTensor) y_plain = mact_module_forward1 (plain, x, &error);
  g_autoptr(MactTensor) y_sync = mact_module_forward1 (sync, x, &error);
  assert_non_null (y_sync);
  mact_test_assert_close (y_sync, y_plain, 1e-6, "SyncBN without reducer");
  mact_test_assert_close (mact_module_get_buffer (sync, "running_var"),
                          mact_module_get_buffer (plain, "running_var"), 1e-6,
                          "SyncBN running_var");

  /* With the group's sum (here the identity of one process): used twice per training
   * forward of a sync layer, never by a plain one nor in evaluation mode. */
  sync_calls = 0;
  mact_batch_norm_set_sync_reducer (count_sync_calls, &sync_calls);
  g_autoptr(MactTensor) y_plain2 = mact_module_forward1 (plain, x, &error);
  assert_int_equal (sync_calls, 0);
  g_autoptr(MactTensor) y_sync2 = mact_module_forward1 (sync, x, &error);
  assert_int_equal (sync_calls, 2);
  mact_test_assert_close (y_sync2, y_plain2, 1e-5, "SyncBN with a one-process sum");
  mact_module_eval (sync);
  g_autoptr(MactTensor) y_eval = mact_module_forward1 (sync, x, &error);
  assert_non_null (y_eval);
  assert_int_equal (sync_calls, 2);
  mact_batch_norm_set_sync_reducer (NULL, NULL);
  mact_module_train (sync, TRUE);
  g_autoptr(MactTensor) y_sync3 = mact_module_forward1 (sync, x, &error);
  assert_non_null (y_sync3);
  assert_int_equal (sync_calls, 2);

  /* mmcv's norm_cfg SyncBN on a ConvModule: norm-sync. */
  const gint k[2] = { 3, 3 };
  const gint64 k64 = 3;
  g_autoptr(MactModule) cm = mact_module_new (MACT_TYPE_CONV_MODULE, &error,
                                              "dims", 2, "in-channels", 2,
                                              "out-channels", 3,
                                              "kernel-size", mact_int_tuple_new (1, &k64),
                                              "with-norm", TRUE, "norm-sync", TRUE, NULL);
  assert_non_null (cm);
  g_object_get (mact_module_get_child (cm, "bn"), "sync", &on, NULL);
  assert_true (on);
  g_autoptr(MactModule) cm_plain = mact_conv_module_new (2, 2, 3, k, NULL, NULL, NULL, 1,
                                                         TRUE, TRUE, MACT_ACTIVATION_RELU,
                                                         &error);
  g_object_get (mact_module_get_child (cm_plain, "bn"), "sync", &on, NULL);
  assert_false (on);
}

static void
test_batch_norm_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  assert_null (mact_batch_norm_new (4, 3, 1e-5, 0.1, TRUE, &error));
  assert_non_null (strstr (error->message, "dims must be 1, 2 or 3 (got 4)"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm_new (2, 0, 1e-5, 0.1, TRUE, &error));
  assert_non_null (strstr (error->message, "BatchNorm2d: num_features"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm_new (2, 3, -1e-5, 0.1, TRUE, &error));
  assert_non_null (strstr (error->message, "eps"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm_new (2, 3, NAN, 0.1, TRUE, &error));
  assert_non_null (strstr (error->message, "eps"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm_new (3, 3, 1e-5, 1.5, TRUE, &error));
  assert_non_null (strstr (error->message, "BatchNorm3d: momentum"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_batch_norm_new (3, 3, 1e-5, NAN, TRUE, &error));
  assert_non_null (strstr (error->message, "momentum"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  g_autoptr(MactModule) bn = mact_batch_norm_new (2, 3, 1e-5, 0.1, TRUE, &error);
  g_autoptr(MactTensor) x5 = mact_tensor_new (5, (gint64[]) { 1, 3, 2, 2, 2 }, NULL);
  assert_null (mact_module_forward1 (bn, x5, &error));
  assert_non_null (strstr (error->message, "BatchNorm2d: expected a 4-D input"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) x_channels = mact_tensor_new (4, (gint64[]) { 2, 4, 2, 2 }, NULL);
  assert_null (mact_module_forward1 (bn, x_channels, &error));
  assert_non_null (strstr (error->message, "num_features = 3"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  /* One value per channel in training mode: the op's error, named by the layer; the
   * batch is not counted. */
  g_autoptr(MactTensor) x_one = mact_tensor_new (4, (gint64[]) { 1, 3, 1, 1 }, NULL);
  assert_null (mact_module_forward1 (bn, x_one, &error));
  assert_true (g_str_has_prefix (error->message, "BatchNorm2d: "));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  assert_float_equal (mact_tensor_item (mact_module_get_buffer (bn, "num_batches_tracked")),
                      0.0f, 0.0);
}

/* ---- Linear ---- */

static void
test_linear (void **state)
{
  g_autoptr(GError) error = NULL;
  mact_manual_seed (99);
  g_autoptr(MactModule) fc = mact_linear_new (5, 3, TRUE, &error);
  assert_non_null (fc);
  static const char *const keys[] = { "weight", "bias", NULL };
  assert_keys (fc, keys);
  MactTensor *w = mact_module_get_parameter (fc, "weight");
  MactTensor *b = mact_module_get_parameter (fc, "bias");
  assert_shape (w, 2, (gint64[]) { 3, 5 });
  assert_shape (b, 1, (gint64[]) { 3 });

  /* PyTorch's init: both within 1/sqrt(in_features), weight then bias. */
  const double bound = 1.0 / sqrt (5.0);
  assert_true (max_abs (w) <= bound && max_abs (b) <= bound);
  mact_manual_seed (99);
  g_autoptr(MactTensor) ew = mact_tensor_new (2, (gint64[]) { 3, 5 }, NULL);
  g_autoptr(MactTensor) eb = mact_tensor_new (1, (gint64[]) { 3 }, NULL);
  assert_true (mact_tensor_kaiming_uniform_ (ew, NULL, sqrt (5.0), MACT_FAN_IN,
                                             "leaky_relu", &error));
  mact_tensor_uniform_ (eb, NULL, -bound, bound);
  mact_test_assert_close (w, ew, 0.0, "linear weight init");
  mact_test_assert_close (b, eb, 0.0, "linear bias init");

  g_autoptr(MactTensor) x = mact_test_random (3, (gint64[]) { 2, 4, 5 }, 7, -1, 1);
  g_autoptr(MactTensor) y = forward_ok (fc, x);
  g_autoptr(MactTensor) want = mact_linear (x, w, b, &error);
  mact_test_assert_close (y, want, 0.0, "Linear forward");

  g_autoptr(MactModule) nobias = mact_linear_new (5, 2, FALSE, &error);
  static const char *const nobias_keys[] = { "weight", NULL };
  assert_keys (nobias, nobias_keys);

  /* Errors. */
  assert_null (mact_linear_new (0, 3, TRUE, &error));
  assert_non_null (strstr (error->message, "Linear: in_features"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_linear_new (3, -2, TRUE, &error));
  assert_non_null (strstr (error->message, "Linear: out_features"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_linear_new (G_MAXINT, G_MAXINT, TRUE, &error));
  assert_non_null (strstr (error->message, "Linear: cannot create weight"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  g_autoptr(MactTensor) x_bad = mact_tensor_new (2, (gint64[]) { 2, 4 }, NULL);
  assert_null (mact_module_forward1 (fc, x_bad, &error));
  assert_non_null (strstr (error->message, "in_features = 5"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) x_0d = mact_tensor_new_scalar (1.0f);
  assert_null (mact_module_forward1 (fc, x_0d, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ---- Activation, pools, Identity, Dropout ---- */

static void
test_activation (void **state)
{
  g_autoptr(MactTensor) x = mact_test_random (2, (gint64[]) { 3, 5 }, 8, -8, 8);
  MactTensor *(*ops[]) (MactTensor *) = { mact_relu, mact_relu6, mact_sigmoid, mact_silu,
                                          mact_hardswish };
  for (gint kind = MACT_ACTIVATION_RELU; kind <= MACT_ACTIVATION_HARDSWISH; kind++)
    {
      g_autoptr(MactModule) act = mact_activation_new (kind);
      assert_non_null (act);
      static const char *const no_keys[] = { NULL };
      assert_keys (act, no_keys);
      g_autoptr(MactTensor) y = forward_ok (act, x);
      g_autoptr(MactTensor) want = ops[kind] (x);
      mact_test_assert_close (y, want, 0.0, "activation forward");
      MactActivationKind got = 0;
      g_object_get (act, "kind", &got, NULL);
      assert_int_equal (got, kind);
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  assert_null (mact_module_forward (relu, none, &error));
  assert_non_null (strstr (error->message, "ReLU"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

static void
test_pools (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) x4 = mact_test_random (4, (gint64[]) { 2, 3, 7, 6 }, 12, -1, 1);
  g_autoptr(MactTensor) x5 = mact_test_random (5, (gint64[]) { 1, 2, 4, 5, 5 }, 13, -1, 1);

  /* MaxPool2d(3, stride 2, padding 1) as ResNet's stem. */
  const gint k[2] = { 3, 3 }, s[2] = { 2, 2 }, p[2] = { 1, 1 };
  g_autoptr(MactModule) mp = mact_max_pool_new (2, k, s, p, FALSE, &error);
  assert_non_null (mp);
  g_autoptr(MactTensor) y = forward_ok (mp, x4);
  g_autoptr(MactTensor) want = mact_max_pool2d (x4, k, s, p, NULL, FALSE, &error);
  mact_test_assert_close (y, want, 0.0, "MaxPool2d forward");

  /* MaxPool3d with stride NULL = kernel, ceil mode; unbatched input works too. */
  const gint k3[3] = { 1, 2, 2 };
  g_autoptr(MactModule) mp3 = mact_max_pool_new (3, k3, NULL, NULL, TRUE, &error);
  g_autoptr(MactTensor) y3 = forward_ok (mp3, x5);
  g_autoptr(MactTensor) want3 = mact_max_pool3d (x5, k3, k3, NULL, NULL, TRUE, &error);
  mact_test_assert_close (y3, want3, 0.0, "MaxPool3d forward");
  g_autoptr(MactTensor) x5u = mact_tensor_squeeze (x5, 0, &error);
  g_autoptr(MactTensor) y3u = forward_ok (mp3, x5u);
  assert_int_equal (mact_tensor_get_ndim (y3u), 4);

  /* Dilation through properties. */
  const gint64 two = 2, one = 1;
  g_autoptr(MactModule) dil =
    mact_module_new (MACT_TYPE_MAX_POOL, &error, "kernel-size", mact_int_tuple_new (1, &two),
                     "stride", mact_int_tuple_new (1, &one),
                     "dilation", mact_int_tuple_new (1, &two), NULL);
  assert_non_null (dil);
  g_autoptr(MactTensor) yd = forward_ok (dil, x4);
  g_autoptr(MactTensor) wantd = mact_max_pool2d (x4, (gint[]) { 2, 2 }, (gint[]) { 1, 1 },
                                                 NULL, (gint[]) { 2, 2 }, FALSE, &error);
  mact_test_assert_close (yd, wantd, 0.0, "dilated MaxPool2d forward");

  /* AvgPool2d / 3d, both divisor rules. */
  g_autoptr(MactModule) ap = mact_avg_pool_new (2, k, s, p, TRUE, FALSE, &error);
  assert_non_null (ap);
  g_autoptr(MactTensor) ya = forward_ok (ap, x4);
  g_autoptr(MactTensor) wanta = mact_avg_pool2d (x4, k, s, p, TRUE, FALSE, &error);
  mact_test_assert_close (ya, wanta, 0.0, "AvgPool2d forward");
  const gint ka3[3] = { 2, 2, 2 }, pa3[3] = { 0, 1, 1 };
  g_autoptr(MactModule) ap3 = mact_avg_pool_new (3, ka3, NULL, pa3, FALSE, TRUE, &error);
  g_autoptr(MactTensor) ya3 = forward_ok (ap3, x5);
  g_autoptr(MactTensor) wanta3 = mact_avg_pool3d (x5, ka3, NULL, pa3, FALSE, TRUE, &error);
  mact_test_assert_close (ya3, wanta3, 0.0, "AvgPool3d forward");

  /* AdaptiveAvgPool: default global, and a given size. */
  g_autoptr(MactModule) gap = mact_adaptive_avg_pool_new (2, NULL, &error);
  g_autoptr(MactTensor) yg = forward_ok (gap, x4);
  assert_shape (yg, 4, (gint64[]) { 2, 3, 1, 1 });
  g_autoptr(MactTensor) wantg = mact_adaptive_avg_pool2d (x4, (gint64[]) { 1, 1 }, &error);
  mact_test_assert_close (yg, wantg, 0.0, "AdaptiveAvgPool2d forward");
  const gint64 os[3] = { 1, 2, 3 };
  g_autoptr(MactModule) gap3 = mact_adaptive_avg_pool_new (3, os, &error);
  g_autoptr(MactTensor) yg3 = forward_ok (gap3, x5);
  g_autoptr(MactTensor) wantg3 = mact_adaptive_avg_pool3d (x5, os, &error);
  mact_test_assert_close (yg3, wantg3, 0.0, "AdaptiveAvgPool3d forward");
  static const char *const no_keys[] = { NULL };
  assert_keys (gap3, no_keys);
  assert_keys (mp, no_keys);
}

static void
test_pool_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint k[2] = { 3, 3 };
  assert_null (mact_max_pool_new (1, k, NULL, NULL, FALSE, &error));
  assert_non_null (strstr (error->message, "MaxPool: dims"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_max_pool_new (2, NULL, NULL, NULL, FALSE, &error));
  assert_non_null (strstr (error->message, "MaxPool2d: kernel_size is required"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_max_pool_new (2, (gint[]) { 0, 3 }, NULL, NULL, FALSE, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_max_pool_new (2, k, (gint[]) { 0, 1 }, NULL, FALSE, &error));
  assert_non_null (strstr (error->message, "stride"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_max_pool_new (2, k, NULL, (gint[]) { -1, 0 }, FALSE, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_max_pool_new (2, k, NULL, (gint[]) { 2, 0 }, FALSE, &error));
  assert_non_null (strstr (error->message, "at most half of kernel_size"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  const gint64 zero = 0, three = 3;
  g_autoptr(MactModule) bad_dil =
    mact_module_new (MACT_TYPE_MAX_POOL, &error, "kernel-size", mact_int_tuple_new (1, &three),
                     "dilation", mact_int_tuple_new (1, &zero), NULL);
  assert_null (bad_dil);
  assert_non_null (strstr (error->message, "dilation"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  const gint64 st3[3] = { 1, 1, 1 };
  g_autoptr(MactModule) bad_stride =
    mact_module_new (MACT_TYPE_MAX_POOL, &error, "kernel-size", mact_int_tuple_new (1, &three),
                     "stride", mact_int_tuple_new (3, st3), NULL);
  assert_null (bad_stride);
  assert_non_null (strstr (error->message, "MaxPool2d: stride"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  assert_null (mact_avg_pool_new (5, k, NULL, NULL, FALSE, TRUE, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_avg_pool_new (3, NULL, NULL, NULL, FALSE, TRUE, &error));
  assert_non_null (strstr (error->message, "AvgPool3d: kernel_size is required"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_avg_pool_new (2, k, (gint[]) { 1, -1 }, NULL, FALSE, TRUE, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_avg_pool_new (2, k, NULL, (gint[]) { 1, 2 }, FALSE, TRUE, &error));
  assert_non_null (strstr (error->message, "AvgPool2d: padding must be at most half"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_avg_pool_new (2, (gint[]) { -3, 3 }, NULL, NULL, FALSE, TRUE, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  assert_null (mact_adaptive_avg_pool_new (1, NULL, &error));
  assert_non_null (strstr (error->message, "dims"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_adaptive_avg_pool_new (2, (gint64[]) { 1, 0 }, &error));
  assert_non_null (strstr (error->message, "AdaptiveAvgPool2d: output_size"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_adaptive_avg_pool_new (2, (gint64[]) { 1, (gint64) G_MAXINT + 1 },
                                           &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* Forward errors: wrong rank is ours; a window larger than the input is the op's. */
  g_autoptr(MactModule) mp = mact_max_pool_new (2, k, NULL, NULL, FALSE, &error);
  g_autoptr(MactModule) ap = mact_avg_pool_new (2, k, NULL, NULL, FALSE, TRUE, &error);
  g_autoptr(MactModule) gap = mact_adaptive_avg_pool_new (3, NULL, &error);
  g_autoptr(MactTensor) x2d = mact_tensor_new (2, (gint64[]) { 4, 4 }, NULL);
  g_autoptr(MactTensor) x_small = mact_tensor_new (4, (gint64[]) { 1, 1, 2, 2 }, NULL);
  assert_null (mact_module_forward1 (mp, x2d, &error));
  assert_non_null (strstr (error->message, "MaxPool2d: expected a 3-D to 4-D input"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_null (mact_module_forward1 (ap, x2d, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_null (mact_module_forward1 (gap, x2d, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_null (mact_module_forward1 (mp, x_small, &error));
  assert_true (g_str_has_prefix (error->message, "MaxPool2d: "));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  assert_null (mact_module_forward1 (ap, x_small, &error));
  assert_true (g_str_has_prefix (error->message, "AvgPool2d: "));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

static void
test_identity (void **state)
{
  g_autoptr(MactModule) id = mact_identity_new ();
  g_autoptr(MactTensor) a = mact_tensor_new_scalar (1.0f);
  g_autoptr(MactTensor) b = mact_tensor_new_scalar (2.0f);
  g_autoptr(GPtrArray) in = g_ptr_array_new ();
  g_ptr_array_add (in, a);
  g_ptr_array_add (in, b);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = mact_module_forward (id, in, &error);
  assert_non_null (out);
  assert_int_equal (out->len, 2);
  assert_ptr_equal (g_ptr_array_index (out, 0), a);
  assert_ptr_equal (g_ptr_array_index (out, 1), b);
  g_autoptr(MactTensor) y = forward_ok (id, a);
  assert_ptr_equal (y, a);
}

static void
test_dropout (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) drop = mact_dropout_new (0.5, &error);
  assert_non_null (drop);
  double p = 0;
  g_object_get (drop, "p", &p, NULL);
  assert_float_equal (p, 0.5, 0.0);
  g_autoptr(MactTensor) x = mact_test_random (2, (gint64[]) { 4, 8 }, 21, 0.5, 1.5);

  /* Training: the same mask as the op with an equally seeded generator. */
  g_autoptr(MactGenerator) g1 = mact_generator_new (77);
  g_autoptr(MactGenerator) g2 = mact_generator_new (77);
  mact_dropout_set_generator (MACT_DROPOUT (drop), g1);
  g_autoptr(MactTensor) y = forward_ok (drop, x);
  g_autoptr(MactTensor) want = mact_dropout (x, 0.5, TRUE, g2, &error);
  mact_test_assert_close (y, want, 0.0, "Dropout train forward");
  g_autoptr(MactTensor) y_next = forward_ok (drop, x);
  g_autoptr(MactTensor) want_next = mact_dropout (x, 0.5, TRUE, g2, &error);
  mact_test_assert_close (y_next, want_next, 0.0, "Dropout second mask");
  mact_dropout_set_generator (MACT_DROPOUT (drop), NULL);

  /* Eval: the input itself. */
  mact_module_eval (drop);
  g_autoptr(MactTensor) y_eval = forward_ok (drop, x);
  assert_ptr_equal (y_eval, x);

  assert_null (mact_dropout_new (1.5, &error));
  assert_non_null (strstr (error->message, "Dropout: p"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_dropout_new (-0.1, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_dropout_new (NAN, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  g_autoptr(GPtrArray) two = g_ptr_array_new ();
  g_ptr_array_add (two, x);
  g_ptr_array_add (two, x);
  assert_null (mact_module_forward (drop, two, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ---- Sequential ---- */

static void
test_sequential (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) seq = mact_sequential_new ();
  g_autoptr(MactTensor) x = mact_test_random (4, (gint64[]) { 2, 2, 5, 5 }, 31, -1, 1);

  /* Empty: returns its input. */
  g_autoptr(MactTensor) same = forward_ok (seq, x);
  assert_ptr_equal (same, x);

  g_autoptr(MactModule) conv = mact_conv_new (2, 2, 3, (gint[]) { 3, 3 }, NULL,
                                              (gint[]) { 1, 1 }, NULL, 1, TRUE, &error);
  g_autoptr(MactModule) bn = mact_batch_norm_new (2, 3, 1e-5, 0.1, TRUE, &error);
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  g_autoptr(MactModule) pool = mact_adaptive_avg_pool_new (2, NULL, &error);
  mact_sequential_append (MACT_SEQUENTIAL (seq), conv);
  mact_sequential_append (MACT_SEQUENTIAL (seq), bn);
  mact_sequential_append (MACT_SEQUENTIAL (seq), relu);
  mact_sequential_append (MACT_SEQUENTIAL (seq), pool);
  assert_int_equal (mact_sequential_get_length (MACT_SEQUENTIAL (seq)), 4);
  static const char *const keys[] = { "0.weight", "0.bias", "1.weight", "1.bias",
                                      "1.running_mean", "1.running_var",
                                      "1.num_batches_tracked", NULL };
  assert_keys (seq, keys);
  assert_ptr_equal (mact_module_get_child (seq, "2"), relu);

  mact_module_eval (seq);
  assert_false (mact_module_is_training (bn));
  g_autoptr(MactTensor) y = forward_ok (seq, x);
  g_autoptr(MactTensor) a = forward_ok (conv, x);
  g_autoptr(MactTensor) b = forward_ok (bn, a);
  g_autoptr(MactTensor) c = mact_relu (b);
  g_autoptr(MactTensor) want = mact_adaptive_avg_pool2d (c, (gint64[]) { 1, 1 }, &error);
  mact_test_assert_close (y, want, 0.0, "Sequential forward");

  /* A child's error comes through. */
  g_autoptr(MactTensor) bad = mact_tensor_new (4, (gint64[]) { 1, 5, 4, 4 }, NULL);
  assert_null (mact_module_forward1 (seq, bad, &error));
  assert_non_null (strstr (error->message, "Conv2d"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ---- ConvModule ---- */

static void
test_conv_module_structure (void **state)
{
  g_autoptr(GError) error = NULL;
  const gint k[3] = { 1, 3, 3 }, p[3] = { 0, 1, 1 };
  g_autoptr(MactModule) cm = mact_conv_module_new (3, 2, 4, k, NULL, p, NULL, 1, TRUE, TRUE,
                                                   MACT_ACTIVATION_RELU, &error);
  assert_non_null (cm);
  /* mmcv: with a norm, bias "auto" means no conv bias. */
  static const char *const keys[] = { "conv.weight", "bn.weight", "bn.bias",
                                      "bn.running_mean", "bn.running_var",
                                      "bn.num_batches_tracked", NULL };
  assert_keys (cm, keys);
  g_auto(GStrv) children = mact_module_list_children (cm);
  assert_int_equal (g_strv_length (children), 3);
  assert_string_equal (children[0], "conv");
  assert_string_equal (children[1], "bn");
  assert_string_equal (children[2], "activate");
  assert_true (MACT_IS_CONV (mact_module_get_child (cm, "conv")));
  assert_true (MACT_IS_BATCH_NORM (mact_module_get_child (cm, "bn")));
  assert_true (MACT_IS_ACTIVATION (mact_module_get_child (cm, "activate")));
  assert_null (mact_module_get_parameter (cm, "conv.bias"));

  /* Without a norm the conv has a bias (zeroed by mmcv's init); without act no child. */
  g_autoptr(MactModule) plain = mact_conv_module_new (2, 2, 3, (gint[]) { 3, 3 }, NULL, NULL,
                                                      NULL, 1, FALSE, FALSE,
                                                      MACT_ACTIVATION_RELU, &error);
  static const char *const plain_keys[] = { "conv.weight", "conv.bias", NULL };
  assert_keys (plain, plain_keys);
  assert_float_equal (max_abs (mact_module_get_parameter (plain, "conv.bias")), 0.0, 0.0);
  g_auto(GStrv) plain_children = mact_module_list_children (plain);
  assert_int_equal (g_strv_length (plain_children), 1);

  /* bias FALSE without a norm (SlowFast's lateral connections). */
  const gint64 one = 1;
  g_autoptr(MactModule) lateral =
    mact_module_new (MACT_TYPE_CONV_MODULE, &error, "in-channels", 2, "out-channels", 4,
                     "kernel-size", mact_int_tuple_new (1, &one),
                     "bias", MACT_CONV_BIAS_FALSE, "has-act", FALSE, NULL);
  assert_non_null (lateral);
  static const char *const lateral_keys[] = { "conv.weight", NULL };
  assert_keys (lateral, lateral_keys);

  /* Norm settings reach the BatchNorm. */
  g_autoptr(MactModule) eps =
    mact_module_new (MACT_TYPE_CONV_MODULE, &error, "in-channels", 2, "out-channels", 4,
                     "kernel-size", mact_int_tuple_new (1, &one), "with-norm", TRUE,
                     "norm-eps", 1e-3, "norm-momentum", 0.2, NULL);
  double got_eps = 0, got_momentum = 0;
  g_object_get (mact_module_get_child (eps, "bn"), "eps", &got_eps, "momentum",
                &got_momentum, NULL);
  assert_float_equal (got_eps, 1e-3, 0.0);
  assert_float_equal (got_momentum, 0.2, 0.0);
}

static void
test_conv_module_forward (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) cm = mact_conv_module_new (2, 3, 4, (gint[]) { 3, 3 },
                                                   (gint[]) { 2, 2 }, (gint[]) { 1, 1 },
                                                   NULL, 1, TRUE, TRUE,
                                                   MACT_ACTIVATION_RELU6, &error);
  assert_non_null (cm);
  MactModule *bn = mact_module_get_child (cm, "bn");
  mact_tensor_uniform_ (mact_module_get_parameter (bn, "weight"), NULL, 0.5, 1.5);
  mact_tensor_uniform_ (mact_module_get_parameter (bn, "bias"), NULL, -1, 1);
  g_autoptr(MactTensor) x = mact_test_random (4, (gint64[]) { 2, 3, 6, 6 }, 41, -1, 1);

  /* Eval: conv -> bn with running stats -> relu6, through the ops. */
  mact_module_eval (cm);
  g_autoptr(MactTensor) y = forward_ok (cm, x);
  g_autoptr(MactTensor) c = mact_conv2d (x, mact_module_get_parameter (cm, "conv.weight"),
                                         NULL, (gint[]) { 2, 2 }, (gint[]) { 1, 1 }, NULL, 1,
                                         &error);
  g_autoptr(MactTensor) n = mact_batch_norm (c, mact_module_get_buffer (cm, "bn.running_mean"),
                                             mact_module_get_buffer (cm, "bn.running_var"),
                                             mact_module_get_parameter (cm, "bn.weight"),
                                             mact_module_get_parameter (cm, "bn.bias"),
                                             FALSE, 0.1, 1e-5, &error);
  g_autoptr(MactTensor) want = mact_relu6 (n);
  mact_test_assert_close (y, want, 0.0, "ConvModule eval forward");

  /* Train: batch statistics, and the batch is counted. */
  mact_module_train (cm, TRUE);
  g_autoptr(MactTensor) y_train = forward_ok (cm, x);
  g_autoptr(MactTensor) n_train = mact_batch_norm (c, NULL, NULL,
                                                   mact_module_get_parameter (cm, "bn.weight"),
                                                   mact_module_get_parameter (cm, "bn.bias"),
                                                   TRUE, 0.1, 1e-5, &error);
  g_autoptr(MactTensor) want_train = mact_relu6 (n_train);
  mact_test_assert_close (y_train, want_train, 1e-6, "ConvModule train forward");
  assert_float_equal (mact_tensor_item (mact_module_get_buffer (cm, "bn.num_batches_tracked")),
                      1.0f, 0.0);

  /* A replaced conv (as TSM wraps it) is the one that runs. */
  g_autoptr(MactModule) cm2 = mact_conv_module_new (2, 3, 3, (gint[]) { 1, 1 }, NULL, NULL,
                                                    NULL, 1, TRUE, TRUE,
                                                    MACT_ACTIVATION_RELU, &error);
  mact_module_eval (cm2);
  g_autoptr(MactModule) id = mact_identity_new ();
  assert_true (mact_module_replace_child (cm2, "conv", id, &error));
  g_autoptr(MactTensor) x3 = mact_test_random (4, (gint64[]) { 1, 3, 2, 2 }, 42, -1, 1);
  g_autoptr(MactTensor) y3 = forward_ok (cm2, x3);
  g_autoptr(MactTensor) n3 = forward_ok (mact_module_get_child (cm2, "bn"), x3);
  g_autoptr(MactTensor) want3 = mact_relu (n3);
  mact_test_assert_close (y3, want3, 0.0, "ConvModule with a replaced conv");
  assert_true (mact_module_init_weights (cm2, NULL, &error));
}

static void
test_conv_module_init (void **state)
{
  g_autoptr(GError) error = NULL;
  mact_manual_seed (2024);
  g_autoptr(MactModule) cm = mact_conv_module_new (2, 4, 6, (gint[]) { 3, 3 }, NULL, NULL,
                                                   NULL, 2, TRUE, TRUE,
                                                   MACT_ACTIVATION_RELU, &error);
  assert_non_null (cm);
  /* The conv's own PyTorch init, then mmcv's: kaiming_normal(fan_out, relu). */
  mact_manual_seed (2024);
  g_autoptr(MactTensor) ew = mact_tensor_new (4, (gint64[]) { 6, 2, 3, 3 }, NULL);
  assert_true (mact_tensor_kaiming_uniform_ (ew, NULL, sqrt (5.0), MACT_FAN_IN,
                                             "leaky_relu", &error));
  assert_true (mact_tensor_kaiming_normal_ (ew, NULL, 0.0, MACT_FAN_OUT, "relu", &error));
  mact_test_assert_close (mact_module_get_parameter (cm, "conv.weight"), ew, 0.0,
                          "ConvModule conv init");

  /* constant_init(norm, 1, bias=0). */
  MactTensor *bw = mact_module_get_parameter (cm, "bn.weight");
  mact_tensor_fill (bw, 0.25f);
  g_autoptr(MactGenerator) gen = mact_generator_new (3);
  g_autoptr(MactGenerator) gen2 = mact_generator_new (3);
  assert_true (mact_module_init_weights (cm, gen, &error));
  assert_float_equal (mact_tensor_get_item (bw, (gint64[]) { 5 }), 1.0f, 0.0);
  assert_float_equal (max_abs (mact_module_get_parameter (cm, "bn.bias")), 0.0, 0.0);
  assert_true (mact_tensor_kaiming_normal_ (ew, gen2, 0.0, MACT_FAN_OUT, "relu", &error));
  mact_test_assert_close (mact_module_get_parameter (cm, "conv.weight"), ew, 0.0,
                          "ConvModule init_weights with a generator");
}

static void
test_conv_module_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  assert_null (mact_conv_module_new (3, 6, 8, (gint[]) { 1, 1, 1 }, NULL, NULL, NULL, 4, TRUE,
                                     TRUE, MACT_ACTIVATION_RELU, &error));
  assert_string_equal (error->message, "ConvModule: Conv3d: in_channels must be divisible "
                                       "by groups (got 6 and 4)");
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_module_new (1, 2, 2, NULL, NULL, NULL, NULL, 1, FALSE, TRUE,
                                     MACT_ACTIVATION_RELU, &error));
  assert_non_null (strstr (error->message, "dims"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_null (mact_conv_module_new (2, 2, 2, NULL, NULL, NULL, NULL, 1, FALSE, TRUE,
                                     MACT_ACTIVATION_RELU, &error));
  assert_non_null (strstr (error->message, "kernel_size is required"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  const gint64 one = 1;
  g_autoptr(MactModule) bad_norm =
    mact_module_new (MACT_TYPE_CONV_MODULE, &error, "in-channels", 2, "out-channels", 4,
                     "kernel-size", mact_int_tuple_new (1, &one), "with-norm", TRUE,
                     "norm-momentum", 2.0, NULL);
  assert_null (bad_norm);
  assert_true (g_str_has_prefix (error->message, "ConvModule: BatchNorm2d: momentum"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  g_autoptr(MactModule) cm = mact_conv_module_new (2, 3, 4, (gint[]) { 1, 1 }, NULL, NULL,
                                                   NULL, 1, TRUE, TRUE,
                                                   MACT_ACTIVATION_RELU, &error);
  g_autoptr(MactTensor) x = mact_tensor_new (4, (gint64[]) { 2, 5, 2, 2 }, NULL);
  assert_null (mact_module_forward1 (cm, x, &error));
  assert_non_null (strstr (error->message, "in_channels = 3"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(GPtrArray) none = g_ptr_array_new ();
  assert_null (mact_module_forward (cm, none, &error));
  assert_non_null (strstr (error->message, "ConvModule"));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_conv2d),
    cmocka_unit_test (test_conv3d),
    cmocka_unit_test (test_conv_default_init),
    cmocka_unit_test (test_conv_errors),
    cmocka_unit_test (test_batch_norm_train),
    cmocka_unit_test (test_batch_norm_variants),
    cmocka_unit_test (test_batch_norm_errors),
    cmocka_unit_test (test_batch_norm_sync),
    cmocka_unit_test (test_linear),
    cmocka_unit_test (test_activation),
    cmocka_unit_test (test_pools),
    cmocka_unit_test (test_pool_errors),
    cmocka_unit_test (test_identity),
    cmocka_unit_test (test_dropout),
    cmocka_unit_test (test_sequential),
    cmocka_unit_test (test_conv_module_structure),
    cmocka_unit_test (test_conv_module_forward),
    cmocka_unit_test (test_conv_module_init),
    cmocka_unit_test (test_conv_module_errors),
  };
  return cmocka_run_group_tests_name ("layers", tests, NULL, NULL);
}
