/* The TSM family of the native plugin (libmact-native-mmaction.so): mmaction2's
 * ResNetTSM, TSMHead, MobileNetV2, MobileNetV2TSM, TPN and TPNHead, loaded from the build
 * tree through the default registry and built from JSON configs as mmaction2 configs
 * would build them.
 *
 * Values: tests/fixtures/gen_native_tsm.py re-implements the mmaction2 modules in PyTorch
 * (mmaction2 is not installed) and writes, per case, the state-dict keys and shapes of the
 * PyTorch module tree (TemporalShift wrappers included) and eval-mode outputs of a seeded
 * input.  ResNet widths are fixed, so ResNetTSM weights are computed on both sides from an
 * integer hash of (key, index) (hash_state_dict() here); the small blocks' weights are
 * committed.  Either way they go through mact_module_load_state_dict() in strict mode and
 * outputs must match within 1e-4 x max(1, max|ref|).  One case checks the gradients of a
 * train-mode cross-entropy step through Recognizer2D(ResNetTSM, TSMHead) within 1e-3
 * relative.  The shapes of mmaction2's tests (reference §4.6, §4.10, §4.12) are checked
 * on full-size blocks, and the configs of configs/recognition/{tsm,tpn} build.  TPNHead's
 * fcn_test mode is checked on its own and through Recognizer2D's fully-convolutional test
 * (test_cfg fcn_test, flip, num_segs).  The full-size models against live PyTorch are in
 * tests/parity/ (suite parity). */
#include "mact-test.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static MactModule *
build (const char *json)
{
  return mact_test_build_kind (json, MACT_TYPE_MODULE);
}

static char *
data_path (const char *file)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "ops", "native_tsm", file, NULL);
}

static char *
config_path (const char *file)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "..", "..", "configs", "recognition",
                           file, NULL);
}

static MactTensorDict *
load_file (const char *file)
{
  g_autofree char *path = data_path (file);
  g_autoptr(GError) error = NULL;
  MactTensorDict *weights = mact_safetensors_load (path, NULL, &error);
  if (weights == NULL)
    fail_msg ("loading %s: %s", path, error->message);
  return weights;
}

static void
load_strict (MactModule *module, MactTensorDict *weights)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  if (!mact_module_load_state_dict (module, weights, TRUE, &missing, &unexpected, &error))
    fail_msg ("load_state_dict: %s", error->message);
  assert_null (missing[0]);
  assert_null (unexpected[0]);
}

static GPtrArray *
try_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  GPtrArray *outs;
  MACT_NO_GRAD_BEGIN
  outs = mact_module_forward (module, inputs, error);
  MACT_NO_GRAD_END
  return outs;
}

static GPtrArray *
forward_inputs (MactModule *module, GPtrArray *inputs)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *outs = try_forward (module, inputs, &error);
  if (outs == NULL)
    fail_msg ("forward: %s", error->message);
  return outs;
}

static GPtrArray *
forward (MactModule *module, MactTensor *x)
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x);
  return forward_inputs (module, inputs);
}

static void
assert_forward_error (MactModule *module, MactTensor *x, GQuark domain, gint code)
{
  GError *error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x);
  GPtrArray *outs = try_forward (module, inputs, &error);
  if (outs != NULL)
    {
      g_ptr_array_unref (outs);
      fail_msg ("forward succeeded, expected an error");
    }
  mact_test_assert_error (&error, domain, code);
}

static char *
shape_key (MactTensor *t)
{
  gint nd;
  const gint64 *shape = mact_tensor_get_shape (t, &nd);
  GString *s = g_string_new (NULL);
  for (gint i = 0; i < nd; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
  return g_string_free (s, FALSE);
}

static void
assert_shape (MactTensor *t, const char *expected)
{
  g_autofree char *s = mact_tensor_shape_to_string (t);
  if (!g_str_equal (s, expected))
    fail_msg ("shape %s, expected %s", s, expected);
}

static MactTensor *
zeros (gint ndim, const gint64 *shape)
{
  return mact_tensor_new_full (ndim, shape, 0.0f, NULL);
}

static MactModule *
submodule (MactModule *root, const char *path)
{
  g_autoptr(GError) error = NULL;
  MactModule *m = mact_module_get_submodule (root, path, &error);
  if (m == NULL)
    fail_msg ("%s", error->message);
  return m;
}

static gboolean
param_requires_grad (MactModule *root, const char *path)
{
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (root);
  MactTensor *p = mact_tensor_dict_lookup (params, path);
  if (p == NULL)
    fail_msg ("no parameter %s", path);
  return mact_tensor_get_requires_grad (p);
}

static gboolean
has_key (MactModule *module, const char *key)
{
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (module);
  return mact_tensor_dict_lookup (sd, key) != NULL;
}

/* The module's state-dict keys, in order, are @keys with shapes @shapes (as "a,b,c"). */
static void
assert_keys (MactModule *module, gchar **keys, gchar **shapes)
{
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (module);
  guint n = mact_tensor_dict_get_size (sd);
  for (guint i = 0; i < n && keys[i] != NULL; i++)
    {
      if (!g_str_equal (mact_tensor_dict_get_key (sd, i), keys[i]))
        fail_msg ("state-dict key %u is %s, expected %s", i, mact_tensor_dict_get_key (sd, i),
                  keys[i]);
      g_autofree char *shape = shape_key (mact_tensor_dict_get_value (sd, i));
      if (!g_str_equal (shape, shapes[i]))
        fail_msg ("%s has shape [%s], expected [%s]", keys[i], shape, shapes[i]);
    }
  assert_int_equal (n, g_strv_length (keys));
}

/* ------------------------------------------------------------------ hashed weights */

/* The weights of gen_native_tsm.py (hash_value()): an integer hash of (key, index) mapped
 * to a range chosen by the key's last part and the rank, computed in double and rounded
 * to float as numpy does there. */
static guint32
fnv1a (const char *s)
{
  guint32 h = 0x811C9DC5u;
  for (const guchar *p = (const guchar *) s; *p; p++)
    h = (h ^ *p) * 0x01000193u;
  return h;
}

static double
hash_uniform (guint32 h, gint64 i)
{
  guint32 x = h ^ (guint32) ((guint64) i * 0x9E3779B1u);
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  x ^= x >> 16;
  return (double) x / 4294967296.0;
}

static MactTensor *
hash_tensor (const char *key, gint ndim, const gint64 *shape)
{
  gint64 n = 1, fan_in = 1;
  for (gint d = 0; d < ndim; d++)
    n *= shape[d];
  for (gint d = 1; d < ndim; d++)
    fan_in *= shape[d];
  const char *dot = strrchr (key, '.');
  const char *last = dot ? dot + 1 : key;
  const guint32 h = fnv1a (key);
  g_autofree float *v = g_new (float, MAX (n, 1));

  if (g_str_equal (last, "num_batches_tracked"))
    return mact_tensor_new_full (ndim, shape, 0.0f, NULL);
  for (gint64 i = 0; i < n; i++)
    {
      const double u = hash_uniform (h, i);
      double x = 0.0;
      if (g_str_equal (last, "weight") && ndim >= 2)
        x = (2.0 * u - 1.0) * sqrt (3.0 / (double) fan_in);
      else if (g_str_equal (last, "weight") || g_str_equal (last, "running_var"))
        x = 0.5 + u;
      else if (g_str_equal (last, "bias") || g_str_equal (last, "running_mean"))
        x = (u - 0.5) * 0.2;
      else
        fail_msg ("no weight formula for %s", key);
      v[i] = (float) x;
    }
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (v, n, ndim, shape, &error);
  if (t == NULL)
    fail_msg ("%s: %s", key, error->message);
  return t;
}

/* A state dict with the fixture's keys and shapes and the hashed values. */
static MactTensorDict *
hash_state_dict (gchar **keys, gchar **shapes)
{
  MactTensorDict *sd = mact_tensor_dict_new ();
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_auto(GStrv) dims = g_strsplit (shapes[i], ",", -1);
      gint64 shape[MACT_MAX_DIMS];
      gint ndim = 0;
      for (guint d = 0; dims[d] != NULL && dims[d][0] != '\0'; d++)
        shape[ndim++] = g_ascii_strtoll (dims[d], NULL, 10);
      g_autoptr(MactTensor) t = hash_tensor (keys[i], ndim, shape);
      mact_tensor_dict_insert (sd, keys[i], t);
    }
  return sd;
}

/* Builds the fixture's block from its JSON config, checks its keys and shapes against the
 * PyTorch re-implementation's, loads the weights strictly (committed <name>_weights, or
 * hashed when @hashed) and compares the eval-mode outputs. */
static MactModule *
parity (const char *name, gboolean hashed)
{
  g_autofree char *fixture_name = g_strconcat ("native_tsm/", name, NULL);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (fixture_name);
  g_autoptr(MactModule) module = build (mact_test_fixture_meta (fx, "config"));

  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  assert_keys (module, keys, shapes);

  g_autofree char *weights_file = g_strconcat (name, "_weights.safetensors", NULL);
  g_autoptr(MactTensorDict) weights = hashed ? hash_state_dict (keys, shapes)
                                             : load_file (weights_file);
  load_strict (module, weights);

  mact_module_eval (module);
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  if (mact_test_fixture_has (fx, "input"))
    g_ptr_array_add (inputs, mact_test_fixture_get (fx, "input"));
  for (guint i = 0;; i++)
    {
      g_autofree char *key = g_strdup_printf ("input%u", i);
      if (!mact_test_fixture_has (fx, key))
        break;
      g_ptr_array_add (inputs, mact_test_fixture_get (fx, key));
    }
  g_autoptr(GPtrArray) outs = forward_inputs (module, inputs);
  gint64 n_outputs = mact_test_fixture_meta_int (fx, "n_outputs");
  assert_int_equal (outs->len, n_outputs);
  for (gint64 i = 0; i < n_outputs; i++)
    {
      g_autofree char *key = g_strdup_printf ("out%" G_GINT64_FORMAT, i);
      g_autofree char *what = g_strdup_printf ("%s %s", name, key);
      mact_test_assert_close (g_ptr_array_index (outs, i), mact_test_fixture_get (fx, key),
                              1e-4, what);
    }
  return g_steal_pointer (&module);
}

/* ------------------------------------------------------------------ registry */

static void
test_registry (void **state)
{
  MactRegistry *registry = mact_registry_get_default ();
  static const struct { const char *name; const char *type; } blocks[] = {
    { "ResNetTSM", "MactNativeResNetTSM" },
    { "TSMHead", "MactNativeTSMHead" },
    { "MobileNetV2", "MactNativeMobileNetV2" },
    { "MobileNetV2TSM", "MactNativeMobileNetV2TSM" },
    { "TPN", "MactNativeTPN" },
    { "TPNHead", "MactNativeTPNHead" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
    {
      g_autoptr(GError) error = NULL;
      GType type = mact_registry_lookup_type (registry, blocks[i].name, &error);
      g_assert_no_error (error);
      assert_string_equal (g_type_name (type), blocks[i].type);
    }
  g_autoptr(GError) error = NULL;
  GType tsm = mact_registry_lookup_type (registry, "ResNetTSM", &error);
  GType resnet = mact_registry_lookup_type (registry, "ResNet", &error);
  g_assert_no_error (error);
  assert_true (g_type_is_a (tsm, resnet));
  assert_true (g_type_is_a (mact_registry_lookup_type (registry, "TSMHead", NULL),
                            MACT_TYPE_HEAD));
  /* The wrappers are no config types. */
  GError *local = NULL;
  assert_int_equal (mact_registry_lookup_type (registry, "TemporalShift", &local),
                    G_TYPE_INVALID);
  assert_non_null (local);
  g_clear_error (&local);
}

/* ------------------------------------------------------------------ ResNetTSM */

/* blockres shift on every block's conv1.conv (keys ...conv1.conv.net.weight), two
 * stages out. */
static void
test_full_resnet_tsm_r18_parity (void **state)
{
  g_autoptr(MactModule) r18 = parity ("r18_blockres", TRUE);
  assert_true (has_key (r18, "layer1.0.conv1.conv.net.weight"));
  assert_true (has_key (r18, "layer4.1.conv1.conv.net.weight"));
  assert_true (has_key (r18, "layer4.1.conv2.conv.weight"));
  assert_false (has_key (r18, "layer1.0.conv1.conv.weight"));
}

/* shift_place 'block' (the whole block wrapped) with shift_div 4 and the temporal pool
 * around layer2 (keys layer2.net.0.net...). */
static void
test_full_resnet_tsm_r50_parity (void **state)
{
  g_autoptr(MactModule) r50 = parity ("r50_block_tpool", TRUE);
  assert_true (has_key (r50, "layer1.0.net.conv1.conv.weight"));
  assert_true (has_key (r50, "layer2.net.0.net.conv1.conv.weight"));
  assert_true (has_key (r50, "layer2.net.0.net.downsample.conv.weight"));
  assert_true (has_key (r50, "layer3.5.net.conv3.bn.running_var"));
}

/* ResNet-101 (layer3 has 23 blocks): blockres shifts every second block only. */
static void
test_full_resnet_tsm_r101_every_second_block (void **state)
{
  g_autoptr(MactModule) r101 = build ("{\"type\": \"ResNetTSM\", \"depth\": 101}");
  for (guint i = 0; i < 23; i++)
    {
      g_autofree char *key = g_strdup_printf ("layer3.%u.conv1.conv.net.weight", i);
      assert_int_equal (has_key (r101, key), i % 2 == 0);
    }
  assert_true (has_key (r101, "layer1.2.conv1.conv.net.weight"));
  assert_true (has_key (r101, "layer1.1.conv1.conv.weight"));
}

/* The shapes of mmaction2's test_resnet_tsm_backbone (reference §4.12). */
static void
test_full_resnet_tsm_shapes (void **state)
{
  g_autoptr(MactTensor) x = mact_test_random (4, (gint64[]) { 8, 3, 64, 64 }, 7, -1.0, 1.0);
  g_autoptr(MactModule) r50 = build ("{\"type\": \"ResNetTSM\", \"depth\": 50}");
  mact_module_eval (r50);
  g_autoptr(GPtrArray) outs = forward (r50, x);
  assert_shape (g_ptr_array_index (outs, 0), "[8, 2048, 2, 2]");

  g_autoptr(MactModule) pooled = build ("{\"type\": \"ResNetTSM\", \"depth\": 50,"
                                        " \"temporal_pool\": true}");
  mact_module_eval (pooled);
  g_autoptr(GPtrArray) pooled_outs = forward (pooled, x);
  assert_shape (g_ptr_array_index (pooled_outs, 0), "[4, 2048, 2, 2]");

  /* is_shift False: a plain ResNet with the same keys as "ResNet". */
  g_autoptr(MactModule) plain = build ("{\"type\": \"ResNetTSM\", \"depth\": 18,"
                                       " \"is_shift\": false}");
  assert_true (has_key (plain, "layer1.0.conv1.conv.weight"));
  assert_false (has_key (plain, "layer1.0.conv1.conv.net.weight"));
}

/* |got - ref| <= rtol * max|ref|, per tensor. */
static void
assert_grad_close (MactTensor *got, MactTensor *expected, double rtol, const char *what)
{
  assert_non_null (got);
  g_autofree char *gs = mact_tensor_shape_to_string (got);
  g_autofree char *es = mact_tensor_shape_to_string (expected);
  if (!g_str_equal (gs, es))
    fail_msg ("%s: shape %s, expected %s", what, gs, es);
  gint64 n = mact_tensor_get_numel (got);
  g_autofree float *a = g_new (float, n);
  g_autofree float *b = g_new (float, n);
  mact_tensor_copy_to_array (got, a);
  mact_tensor_copy_to_array (expected, b);
  double scale = 0.0, err = 0.0;
  for (gint64 i = 0; i < n; i++)
    {
      scale = MAX (scale, fabs (b[i]));
      err = MAX (err, fabs ((double) a[i] - b[i]));
    }
  if (!(err <= rtol * scale + 1e-8))
    fail_msg ("%s: max abs error %g, max |ref| %g (relative %g > %g)", what, err, scale,
              err / MAX (scale, 1e-30), rtol);
}

/* A large gradient: max|g|, its L2 norm and 256 entries at hashed positions (the
 * fixture's sample_index()) within @rtol of max|g_ref|. */
static void
assert_grad_summary (MactTensor *got, MactTestFixture *fx, const char *name, double rtol)
{
  g_autofree char *skey = g_strconcat ("gsample.", name, NULL);
  g_autofree char *mkey = g_strconcat ("gmax.", name, NULL);
  g_autofree char *nkey = g_strconcat ("gnorm.", name, NULL);
  MactTensor *samples = mact_test_fixture_get (fx, skey);
  const double ref_max = mact_tensor_item (mact_test_fixture_get (fx, mkey));
  const double ref_norm = mact_tensor_item (mact_test_fixture_get (fx, nkey));
  gint64 n = mact_tensor_get_numel (got), n_samples = mact_tensor_get_numel (samples);
  g_autofree float *g = g_new (float, n);
  g_autofree float *s = g_new (float, n_samples);
  mact_tensor_copy_to_array (got, g);
  mact_tensor_copy_to_array (samples, s);

  double max = 0.0, norm = 0.0;
  for (gint64 i = 0; i < n; i++)
    {
      max = MAX (max, fabs (g[i]));
      norm += (double) g[i] * g[i];
    }
  norm = sqrt (norm);
  if (fabs (max - ref_max) > rtol * ref_max || fabs (norm - ref_norm) > rtol * ref_norm)
    fail_msg ("%s: max|g| %g (ref %g), |g| %g (ref %g)", name, max, ref_max, norm, ref_norm);
  g_autofree char *seed = g_strconcat ("sample:", name, NULL);
  const guint32 h = fnv1a (seed);
  for (gint64 j = 0; j < n_samples; j++)
    {
      gint64 index = (gint64) floor (hash_uniform (h, j) * (double) n);
      if (fabs ((double) g[index] - s[j]) > rtol * ref_max)
        fail_msg ("%s: gradient[%" G_GINT64_FORMAT "] = %g, expected %g", name, index,
                  g[index], s[j]);
    }
}

/* One train-mode step through Recognizer2D(ResNetTSM-18, TSMHead) on 2 clips of 4
 * segments: the cross-entropy loss and the gradient of every parameter match PyTorch's
 * (the shift's backward included). */
static void
test_full_resnet_tsm_gradients (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_tsm/r18_grad");
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (mact_test_fixture_meta (fx, "config"), -1,
                                   mact_registry_get_default (), &error);
  if (recognizer == NULL)
    fail_msg ("%s", error->message);
  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  g_autoptr(MactTensorDict) weights = hash_state_dict (keys, shapes);
  load_strict (MACT_MODULE (recognizer), weights);
  mact_module_train (MACT_MODULE (recognizer), TRUE);

  g_autoptr(MactTensorDict) losses =
    mact_recognizer_forward_train (recognizer, mact_test_fixture_get (fx, "imgs"),
                                   mact_test_fixture_get (fx, "labels"), NULL, &error);
  if (losses == NULL)
    fail_msg ("%s", error->message);
  MactTensor *loss = mact_tensor_dict_lookup (losses, "loss_cls");
  assert_non_null (loss);
  g_autoptr(MactTensor) flat_loss = mact_tensor_reshape (loss, 1, (gint64[]) { 1 }, &error);
  g_assert_no_error (error);
  mact_test_assert_close (flat_loss, mact_test_fixture_get (fx, "loss"), 1e-5, "loss_cls");
  if (!mact_tensor_backward (loss, NULL, &error))
    fail_msg ("%s", error->message);

  g_auto(GStrv) names = g_strsplit (mact_test_fixture_meta (fx, "params"), ",", -1);
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (MACT_MODULE (recognizer));
  assert_int_equal (g_strv_length (names), mact_tensor_dict_get_size (params));
  for (guint i = 0; names[i] != NULL; i++)
    {
      MactTensor *param = mact_tensor_dict_lookup (params, names[i]);
      if (param == NULL)
        fail_msg ("no parameter %s", names[i]);
      g_autofree char *key = g_strconcat ("grad.", names[i], NULL);
      if (mact_test_fixture_has (fx, key))
        assert_grad_close (mact_tensor_get_grad (param), mact_test_fixture_get (fx, key),
                           1e-3, names[i]);
      else
        assert_grad_summary (mact_tensor_get_grad (param), fx, names[i], 1e-3);
    }
}

/* frozen_stages reaches the stages through the wrappers (layer2 is a TemporalPool). */
static void
test_full_resnet_tsm_frozen_stages (void **state)
{
  g_autoptr(MactModule) r18 = build ("{\"type\": \"ResNetTSM\", \"depth\": 18,"
                                     " \"temporal_pool\": true, \"frozen_stages\": 2,"
                                     " \"shift_place\": \"block\"}");
  mact_module_train (r18, TRUE);
  assert_false (param_requires_grad (r18, "conv1.conv.weight"));
  assert_false (param_requires_grad (r18, "layer1.1.net.conv2.bn.weight"));
  assert_false (param_requires_grad (r18, "layer2.net.0.net.conv1.conv.weight"));
  assert_true (param_requires_grad (r18, "layer3.0.net.conv1.conv.weight"));
  assert_false (mact_module_is_training (submodule (r18, "layer2.net.1.net.conv1.bn")));
  assert_true (mact_module_is_training (submodule (r18, "layer3.1.net.conv1.bn")));
}

static void
test_full_resnet_tsm_errors (void **state)
{
  const GQuark M = MACT_MODULE_ERROR;
  const gint INVALID = MACT_MODULE_ERROR_INVALID_ARGUMENT;
  mact_test_assert_build_error ("{\"type\": \"ResNetTSM\", \"depth\": 18, \"shift_place\": \"bad\"}",
                      M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNetTSM\", \"depth\": 18, \"num_segments\": 0}",
                      M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNetTSM\", \"depth\": 18, \"shift_div\": 0}",
                      M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNetTSM\", \"depth\": 18, \"num_stages\": 3,"
                      " \"strides\": [1, 2, 2], \"dilations\": [1, 1, 1],"
                      " \"out_indices\": [2]}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNetTSM\", \"depth\": 18, \"num_segments\": 3,"
                      " \"temporal_pool\": true}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNetTSM\", \"depth\": 18,"
                      " \"non_local\": [[0, 1], [0, 0], [0, 0], [0, 0]],"
                      " \"non_local_cfg\": {\"sub_sample\": true}}", M, INVALID);
  /* The parent's checks still apply. */
  mact_test_assert_build_error ("{\"type\": \"ResNetTSM\", \"depth\": 19}", M, INVALID);
  /* non_local without a non_local_cfg is ignored, as in mmaction2. */
  g_autoptr(MactModule) r18 = build ("{\"type\": \"ResNetTSM\", \"depth\": 18,"
                                     " \"num_segments\": 4,"
                                     " \"non_local\": [[0, 1], [0, 0], [0, 0], [0, 0]]}");
  /* A batch that is not a multiple of num_segments: the shift refuses it. */
  g_autoptr(MactTensor) x = zeros (4, (gint64[]) { 6, 3, 16, 16 });
  assert_forward_error (r18, x, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
  g_autoptr(MactModule) pooled = build ("{\"type\": \"ResNetTSM\", \"depth\": 18,"
                                        " \"num_segments\": 4, \"temporal_pool\": true,"
                                        " \"is_shift\": false}");
  assert_forward_error (pooled, x, M, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ------------------------------------------------------------------ MobileNetV2 */

/* mmaction2's own MobileNetV2 at widen_factor 0.25, three stages out (a tuple). */
static void
test_mobilenet_v2_parity (void **state)
{
  g_autoptr(MactModule) m = parity ("mobilenet_v2", FALSE);
  assert_true (has_key (m, "layer1.0.conv.0.conv.weight"));
  assert_true (has_key (m, "layer2.1.conv.2.bn.running_var"));
  assert_true (has_key (m, "conv2.conv.weight"));
}

/* MobileNetV2TSM: conv.0 of the residual blocks with an expansion is shifted (keys
 * ...conv.0.net.conv.weight); layer1 (no expansion) and first blocks are not. */
static void
test_mobilenet_v2_tsm_parity (void **state)
{
  g_autoptr(MactModule) m = parity ("mobilenet_v2_tsm", FALSE);
  assert_true (has_key (m, "layer2.1.conv.0.net.conv.weight"));
  assert_true (has_key (m, "layer2.0.conv.0.conv.weight"));
  assert_true (has_key (m, "layer1.0.conv.0.conv.weight"));
  assert_false (has_key (m, "layer7.0.conv.0.net.conv.weight"));
}

/* Full width: 1280 channels (reference §4.12), and widen_factor > 1 widens conv2. */
static void
test_full_mobilenet_v2_tsm_shapes (void **state)
{
  g_autoptr(MactTensor) x = mact_test_random (4, (gint64[]) { 8, 3, 64, 64 }, 5, -1.0, 1.0);
  g_autoptr(MactModule) m = build ("{\"type\": \"MobileNetV2TSM\"}");
  mact_module_eval (m);
  g_autoptr(GPtrArray) outs = forward (m, x);
  assert_shape (g_ptr_array_index (outs, 0), "[8, 1280, 2, 2]");

  g_autoptr(MactModule) wide = build ("{\"type\": \"MobileNetV2\", \"widen_factor\": 1.5,"
                                      " \"out_indices\": [6, 7]}");
  g_autoptr(MactTensor) x2 = mact_test_random (4, (gint64[]) { 1, 3, 32, 32 }, 6, -1.0, 1.0);
  mact_module_eval (wide);
  g_autoptr(GPtrArray) wide_outs = forward (wide, x2);
  assert_int_equal (wide_outs->len, 2);
  assert_shape (g_ptr_array_index (wide_outs, 0), "[1, 480, 1, 1]");
  assert_shape (g_ptr_array_index (wide_outs, 1), "[1, 1920, 1, 1]");
}

static void
test_mobilenet_v2_frozen_and_norm_eval (void **state)
{
  g_autoptr(MactModule) m = build ("{\"type\": \"MobileNetV2TSM\", \"widen_factor\": 0.25,"
                                   " \"frozen_stages\": 2, \"norm_eval\": true}");
  mact_module_train (m, TRUE);
  assert_false (param_requires_grad (m, "conv1.conv.weight"));
  assert_false (param_requires_grad (m, "layer2.1.conv.0.net.conv.weight"));
  assert_true (param_requires_grad (m, "layer3.0.conv.0.conv.weight"));
  assert_true (mact_module_is_training (submodule (m, "layer3.0")));
  assert_false (mact_module_is_training (submodule (m, "layer3.0.conv.0.bn")));
  assert_false (mact_module_is_training (submodule (m, "layer2.1")));

  /* frozen_stages 8 reaches conv2; requires_grad False in norm_cfg freezes every norm. */
  g_autoptr(MactModule) all = build ("{\"type\": \"MobileNetV2\", \"widen_factor\": 0.25,"
                                     " \"frozen_stages\": 8}");
  assert_false (param_requires_grad (all, "conv2.conv.weight"));
  g_autoptr(MactModule) frozen_bn =
    build ("{\"type\": \"MobileNetV2\", \"widen_factor\": 0.25,"
           " \"norm_cfg\": {\"type\": \"BN2d\", \"requires_grad\": false},"
           " \"act_cfg\": {\"type\": \"ReLU\", \"inplace\": true}}");
  assert_false (param_requires_grad (frozen_bn, "layer4.0.conv.1.bn.weight"));
  assert_true (param_requires_grad (frozen_bn, "layer4.0.conv.1.conv.weight"));
  assert_true (MACT_IS_ACTIVATION (submodule (frozen_bn, "conv1.activate")));
}

static void
test_mobilenet_v2_errors (void **state)
{
  const GQuark M = MACT_MODULE_ERROR;
  const gint INVALID = MACT_MODULE_ERROR_INVALID_ARGUMENT;
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2\", \"out_indices\": [8]}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2\", \"out_indices\": []}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2\", \"frozen_stages\": 9}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2\", \"widen_factor\": 0}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2\", \"act_cfg\": {\"type\": \"GELU\"}}",
                      M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2\", \"norm_cfg\": {\"type\": \"GN\"}}",
                      M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2TSM\", \"widen_factor\": 0.25,"
                      " \"num_segments\": 0}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"MobileNetV2TSM\", \"widen_factor\": 0.25,"
                      " \"shift_div\": -1}", M, INVALID);

  g_autoptr(MactModule) m = build ("{\"type\": \"MobileNetV2TSM\", \"widen_factor\": 0.25,"
                                   " \"num_segments\": 4, \"pretrained\": \"mmcls://x\"}");
  GError *error = NULL;
  assert_false (mact_module_init_weights (m, NULL, &error));
  mact_test_assert_error (&error, M, MACT_MODULE_ERROR_NOT_IMPLEMENTED);
  g_autoptr(MactTensor) gray = zeros (4, (gint64[]) { 4, 1, 16, 16 });
  assert_forward_error (m, gray, M, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) odd = zeros (4, (gint64[]) { 6, 3, 16, 16 });
  assert_forward_error (m, odd, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);

  /* is_shift False: no wrappers; pretrained None: kaiming / constant init. */
  g_autoptr(MactModule) plain = build ("{\"type\": \"MobileNetV2TSM\", \"widen_factor\": 0.25,"
                                       " \"is_shift\": false}");
  assert_true (has_key (plain, "layer2.1.conv.0.conv.weight"));
  g_autoptr(MactGenerator) gen = mact_generator_new (3);
  g_autoptr(GError) local = NULL;
  assert_true (mact_module_init_weights (plain, gen, &local));
  float w[8];
  mact_tensor_copy_to_array (mact_module_get_parameter (submodule (plain, "conv1.bn"),
                                                        "weight"), w);
  for (guint i = 0; i < 8; i++)
    assert_true (w[i] == 1.0f);
}

/* ------------------------------------------------------------------ TSMHead */

static void test_tsm_head_parity (void **state) { g_object_unref (parity ("tsm_head", FALSE)); }
static void
test_tsm_head_tpool_parity (void **state)
{
  g_object_unref (parity ("tsm_head_tpool", FALSE));
}
static void
test_tsm_head_nopool_parity (void **state)
{
  g_object_unref (parity ("tsm_head_nopool", FALSE));
}

static MactTensor *
head_forward (MactModule *head, MactTensor *x, gint num_segs)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x);
  MactTensor *out;
  MACT_NO_GRAD_BEGIN
  out = mact_head_forward_head (MACT_HEAD (head), inputs, num_segs, &error);
  MACT_NO_GRAD_END
  if (out == NULL)
    fail_msg ("forward_head: %s", error->message);
  return out;
}

static void
assert_head_error_segs (MactModule *head, MactTensor *x, gint num_segs, gint code)
{
  GError *error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x);
  MactTensor *out;
  MACT_NO_GRAD_BEGIN
  out = mact_head_forward_head (MACT_HEAD (head), inputs, num_segs, &error);
  MACT_NO_GRAD_END
  assert_null (out);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, code);
}

static void
assert_head_error (MactModule *head, MactTensor *x, gint code)
{
  assert_head_error_segs (head, x, 8, code);
}

/* mmaction2's test_tsm_head (reference §4.6). */
static void
test_tsm_head_shapes (void **state)
{
  g_autoptr(MactModule) head = mact_test_build_kind ("{\"type\": \"TSMHead\", \"num_classes\": 4,"
                                           " \"in_channels\": 2048}", MACT_TYPE_HEAD);
  double dropout = 0.0, init_std = 0.0;
  gint num_segments = 0;
  g_object_get (head, "dropout-ratio", &dropout, "init-std", &init_std, "num-segments",
                &num_segments, NULL);
  assert_true (dropout == 0.8);
  assert_true (init_std == 0.001);
  assert_int_equal (num_segments, 8);
  assert_non_null (mact_module_get_child (head, "avg_pool"));
  mact_module_eval (head);
  g_autoptr(MactTensor) feat = mact_test_random (4, (gint64[]) { 8, 2048, 7, 7 }, 3, 0.0, 1.0);
  /* num_segs is ignored: the head's own num_segments groups the rows. */
  g_autoptr(MactTensor) out = head_forward (head, feat, 3);
  assert_shape (out, "[1, 4]");

  g_autoptr(MactModule) pooled = mact_test_build_kind ("{\"type\": \"TSMHead\", \"num_classes\": 4,"
                                             " \"in_channels\": 2048,"
                                             " \"temporal_pool\": true}", MACT_TYPE_HEAD);
  mact_module_eval (pooled);
  g_autoptr(MactTensor) pooled_out = head_forward (pooled, feat, 8);
  assert_shape (pooled_out, "[2, 4]");

  /* init_weights: fc_cls ~ N(0, 0.001), bias 0. */
  g_autoptr(GError) error = NULL;
  g_autoptr(MactGenerator) gen = mact_generator_new (11);
  assert_true (mact_module_init_weights (head, gen, &error));
  MactTensor *w = mact_module_get_parameter (submodule (head, "fc_cls"), "weight");
  gint64 n = mact_tensor_get_numel (w);
  g_autofree float *v = g_new (float, n);
  mact_tensor_copy_to_array (w, v);
  double sq = 0.0;
  for (gint64 i = 0; i < n; i++)
    sq += (double) v[i] * v[i];
  assert_true (fabs (sqrt (sq / n) - 0.001) < 0.0001);
  MactTensor *b = mact_module_get_parameter (submodule (head, "fc_cls"), "bias");
  float bias[4];
  mact_tensor_copy_to_array (b, bias);
  for (guint i = 0; i < 4; i++)
    assert_true (bias[i] == 0.0f);
}

static void
test_tsm_head_errors (void **state)
{
  const GQuark M = MACT_MODULE_ERROR;
  const gint INVALID = MACT_MODULE_ERROR_INVALID_ARGUMENT;
  mact_test_assert_build_error ("{\"type\": \"TSMHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"consensus\": {\"type\": \"TRNConsensus\"}}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"TSMHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"spatial_type\": \"max\"}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"TSMHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"num_segments\": 0}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"TSMHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"num_segments\": 1, \"temporal_pool\": true}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"TSMHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"dropout_ratio\": 1.5}", M, INVALID);
  mact_test_assert_build_error ("{\"type\": \"TSMHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"init_std\": -1}", M, INVALID);

  g_autoptr(MactModule) head = mact_test_build_kind ("{\"type\": \"TSMHead\", \"num_classes\": 4,"
                                           " \"in_channels\": 8, \"num_segments\": 4}",
                                           MACT_TYPE_HEAD);
  /* Rows that are not a multiple of num_segments, wrong rank, wrong channels. */
  g_autoptr(MactTensor) rows = zeros (4, (gint64[]) { 6, 8, 2, 2 });
  assert_head_error (head, rows, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) rank = zeros (2, (gint64[]) { 8, 8 });
  assert_head_error (head, rank, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) channels = zeros (4, (gint64[]) { 8, 6, 2, 2 });
  assert_head_error (head, channels, MACT_MODULE_ERROR_INVALID_INPUT);
  /* Without spatial pooling, unpooled maps do not fit fc_cls. */
  g_autoptr(MactModule) nopool = mact_test_build_kind ("{\"type\": \"TSMHead\", \"num_classes\": 4,"
                                             " \"in_channels\": 8, \"num_segments\": 4,"
                                             " \"spatial_type\": null}", MACT_TYPE_HEAD);
  g_autoptr(MactTensor) maps = zeros (4, (gint64[]) { 8, 8, 2, 2 });
  assert_head_error (nopool, maps, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ------------------------------------------------------------------ TPN */

static MactTensorDict *
neck_forward (MactModule *neck, MactTestFixture *fx, MactTensor *target, MactTensor **out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, mact_test_fixture_get (fx, "input0"));
  g_ptr_array_add (inputs, mact_test_fixture_get (fx, "input1"));
  MactTensorDict *aux = mact_tensor_dict_new ();
  GPtrArray *outs;
  MACT_NO_GRAD_BEGIN
  outs = mact_neck_forward_neck (MACT_NECK (neck), inputs, target, aux, &error);
  MACT_NO_GRAD_END
  if (outs == NULL)
    fail_msg ("forward_neck: %s", error->message);
  assert_int_equal (outs->len, 1);
  *out = mact_tensor_ref (g_ptr_array_index (outs, 0));
  g_ptr_array_unref (outs);
  return aux;
}

/* A reduced TPN (in_channels (32, 64)): keys, strictly loaded weights, the fused output
 * and loss_aux for a target; none without one. */
static void
tpn_parity (const char *name)
{
  g_autofree char *fixture_name = g_strconcat ("native_tsm/", name, NULL);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (fixture_name);
  g_autoptr(MactModule) tpn = mact_test_build_kind (mact_test_fixture_meta (fx, "config"),
                                          MACT_TYPE_NECK);
  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  assert_keys (tpn, keys, shapes);
  g_autofree char *weights_file = g_strconcat (mact_test_fixture_meta (fx, "weights"),
                                               "_weights.safetensors", NULL);
  g_autoptr(MactTensorDict) weights = load_file (weights_file);
  load_strict (tpn, weights);
  mact_module_eval (tpn);

  g_autoptr(MactTensor) out = NULL;
  g_autoptr(MactTensorDict) aux = neck_forward (tpn, fx, mact_test_fixture_get (fx, "target"),
                                                &out);
  mact_test_assert_close (out, mact_test_fixture_get (fx, "out0"), 1e-4, name);
  assert_int_equal (mact_tensor_dict_get_size (aux), 1);
  MactTensor *loss = mact_tensor_dict_lookup (aux, "loss_aux");
  assert_non_null (loss);
  g_autoptr(MactTensor) flat = mact_tensor_reshape (loss, 1, (gint64[]) { 1 }, NULL);
  mact_test_assert_close (flat, mact_test_fixture_get (fx, "loss_aux"), 1e-5, "loss_aux");

  g_autoptr(MactTensor) out2 = NULL;
  g_autoptr(MactTensorDict) none = neck_forward (tpn, fx, NULL, &out2);
  assert_int_equal (mact_tensor_dict_get_size (none), 0);
  mact_test_assert_close (out2, out, 0.0, "without target");

  /* The plain module forward is the fused output. */
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, mact_test_fixture_get (fx, "input0"));
  g_ptr_array_add (inputs, mact_test_fixture_get (fx, "input1"));
  g_autoptr(GPtrArray) outs = forward_inputs (tpn, inputs);
  mact_test_assert_close (g_ptr_array_index (outs, 0), out, 0.0, "forward");
}

static void test_tpn_cascade_parity (void **state) { tpn_parity ("tpn_cascade"); }
static void test_tpn_parallel_parity (void **state) { tpn_parity ("tpn_parallel"); }
/* Temporal scales (2, 4), a nearest x2 temporal upsample, a grouped 'before'
 * bottom-up downsample and unequal mid channels. */
static void test_tpn_scaled_parity (void **state) { tpn_parity ("tpn_scaled"); }

static char *
small_tpn_config (const char *key, const char *value)
{
  g_autoptr(JsonNode) node = json_from_string (
    "{\"type\": \"TPN\", \"in_channels\": [32, 64], \"out_channels\": 32,"
    " \"spatial_modulation_cfg\": {\"in_channels\": [32, 64], \"out_channels\": 64},"
    " \"temporal_modulation_cfg\": {\"downsample_scales\": [2, 2]},"
    " \"upsample_cfg\": {\"scale_factor\": [1, 1, 1]},"
    " \"downsample_cfg\": {\"downsample_scale\": [1, 1, 1]},"
    " \"level_fusion_cfg\": {\"in_channels\": [32, 32], \"mid_channels\": [32, 32],"
    "   \"out_channels\": 64, \"downsample_scales\": [[1, 1, 1], [1, 1, 1]]},"
    " \"aux_head_cfg\": {\"out_channels\": 5, \"loss_weight\": 0.5}}", NULL);
  JsonObject *obj = json_node_get_object (node);
  if (key != NULL)
    {
      g_autoptr(JsonNode) v = json_from_string (value, NULL);
      if (g_str_has_prefix (key, "downsample_cfg."))
        json_object_set_member (json_object_get_object_member (obj, "downsample_cfg"),
                                key + strlen ("downsample_cfg."), json_node_copy (v));
      else
        json_object_set_member (obj, key, json_node_copy (v));
    }
  return json_to_string (node, FALSE);
}

static void
assert_tpn_error (const char *key, const char *value, GQuark domain, gint code)
{
  g_autofree char *json = small_tpn_config (key, value);
  mact_test_assert_build_error (json, domain, code);
}

/* mmaction2's invalid TPN configs (reference §4.10) and mact's own checks. */
static void
test_tpn_errors (void **state)
{
  const GQuark M = MACT_MODULE_ERROR;
  const gint INVALID = MACT_MODULE_ERROR_INVALID_ARGUMENT;
  static const char *const cfgs[] = { "spatial_modulation_cfg", "temporal_modulation_cfg",
                                      "upsample_cfg", "downsample_cfg", "level_fusion_cfg",
                                      "aux_head_cfg" };
  /* A float out_channels is a config type error; an empty list for any *_cfg and a bad
   * downsample_position or flow_type are invalid arguments. */
  assert_tpn_error ("out_channels", "32.5", MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE);
  for (guint i = 0; i < G_N_ELEMENTS (cfgs); i++)
    assert_tpn_error (cfgs[i], "[]", M, INVALID);
  assert_tpn_error ("downsample_cfg.downsample_position", "\"unsupport\"", M, INVALID);
  assert_tpn_error ("flow_type", "\"unsupport\"", M, INVALID);
  /* Required configs, unknown keys, level counts, upsample modes. */
  assert_tpn_error ("level_fusion_cfg", "null", M, INVALID);
  assert_tpn_error ("temporal_modulation_cfg", "{\"downsample_scales\": [2]}", M, INVALID);
  assert_tpn_error ("temporal_modulation_cfg", "{\"scales\": [2, 2]}", M, INVALID);
  assert_tpn_error ("upsample_cfg", "{\"scale_factor\": 2, \"mode\": \"bicubic\"}", M,
                    INVALID);
  assert_tpn_error ("upsample_cfg", "{\"size\": [1, 2, 2]}", M, INVALID);
  assert_tpn_error ("downsample_cfg.norm_cfg", "{\"type\": \"GN\"}", M, INVALID);
  assert_tpn_error ("aux_head_cfg", "{\"loss_weight\": 0.5}", M, INVALID);
  assert_tpn_error ("in_channels", "[64]", M, INVALID);
  assert_tpn_error ("out_channels", "0", M, INVALID);

  /* Forward: one input per level, 5-D. */
  g_autofree char *json = small_tpn_config (NULL, NULL);
  g_autoptr(MactModule) tpn = mact_test_build_kind (json, MACT_TYPE_NECK);
  g_autoptr(MactTensor) x0 = zeros (5, (gint64[]) { 1, 32, 2, 4, 4 });
  assert_forward_error (tpn, x0, M, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_autoptr(MactTensor) flat = zeros (4, (gint64[]) { 1, 32, 4, 4 });
  g_ptr_array_add (inputs, flat);
  g_ptr_array_add (inputs, x0);
  GError *error = NULL;
  assert_null (try_forward (tpn, inputs, &error));
  mact_test_assert_error (&error, M, MACT_MODULE_ERROR_INVALID_INPUT);

  /* init_weights: xavier convs, unit norms, fc ~ N(0, 0.01). */
  g_autoptr(MactGenerator) gen = mact_generator_new (5);
  assert_true (mact_module_init_weights (tpn, gen, &error));
  g_assert_no_error (error);
  /* pyramid_fusion always has 2048 output channels. */
  g_autofree float *w = g_new (float, 2048);
  MactTensor *bn = mact_module_get_parameter (submodule (tpn, "pyramid_fusion.bn"), "weight");
  assert_int_equal (mact_tensor_get_numel (bn), 2048);
  mact_tensor_copy_to_array (bn, w);
  assert_true (w[0] == 1.0f && w[2047] == 1.0f);
}

/* ------------------------------------------------------------------ TPNHead */

static void
test_tpn_head_parity (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_tsm/tpn_head");
  g_autoptr(MactModule) head = mact_test_build_kind (mact_test_fixture_meta (fx, "config"),
                                           MACT_TYPE_HEAD);
  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  assert_keys (head, keys, shapes);
  g_autoptr(MactTensorDict) weights = load_file ("tpn_head_weights.safetensors");
  load_strict (head, weights);
  mact_module_eval (head);
  g_autoptr(MactTensor) out2d = head_forward (head, mact_test_fixture_get (fx, "input2d"), 3);
  mact_test_assert_close (out2d, mact_test_fixture_get (fx, "out2d"), 1e-4, "2-D path");
  g_autoptr(MactTensor) out3d = head_forward (head, mact_test_fixture_get (fx, "input3d"), 0);
  mact_test_assert_close (out3d, mact_test_fixture_get (fx, "out3d"), 1e-4, "3-D path");
}

/* mmaction2's test_tpn_head (reference §4.6). */
static void
test_tpn_head_shapes (void **state)
{
  g_autoptr(MactModule) head = mact_test_build_kind ("{\"type\": \"TPNHead\", \"num_classes\": 4,"
                                           " \"in_channels\": 2048}", MACT_TYPE_HEAD);
  assert_true (MACT_IS_ADAPTIVE_AVG_POOL (mact_module_get_child (head, "avg_pool3d")));
  assert_null (mact_module_get_child (head, "avg_pool2d"));
  mact_module_eval (head);
  g_autoptr(MactTensor) feat = mact_test_random (4, (gint64[]) { 4, 2048, 7, 7 }, 1, 0.0, 1.0);
  g_autoptr(MactTensor) out = head_forward (head, feat, 2);
  assert_shape (out, "[2, 4]");
  MactModule *pool2d = mact_module_get_child (head, "avg_pool2d");
  assert_true (MACT_IS_AVG_POOL (pool2d));
  g_autoptr(GVariant) kernel = NULL;
  g_object_get (pool2d, "kernel-size", &kernel, NULL);
  gint k[3];
  assert_true (mact_int_tuple_get (kernel, 3, k, "kernel", NULL));
  assert_int_equal (k[0], 1);
  assert_int_equal (k[1], 7);
  assert_int_equal (k[2], 7);
  g_autoptr(MactTensor) feat3d = mact_test_random (5, (gint64[]) { 2, 2048, 3, 7, 7 }, 2, 0.0,
                                                   1.0);
  g_autoptr(MactTensor) out3d = head_forward (head, feat3d, 0);
  assert_shape (out3d, "[2, 4]");
  /* The state dict is TSNHead's: fc_cls only. */
  assert_true (has_key (head, "fc_cls.weight"));
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (head);
  assert_int_equal (mact_tensor_dict_get_size (sd), 2);
}

static void
test_tpn_head_errors (void **state)
{
  g_autoptr(MactModule) head = mact_test_build_kind ("{\"type\": \"TPNHead\", \"num_classes\": 4,"
                                           " \"in_channels\": 8}", MACT_TYPE_HEAD);
  g_autoptr(MactTensor) first = zeros (4, (gint64[]) { 4, 8, 3, 3 });
  g_autoptr(MactTensor) ok = head_forward (head, first, 2);
  assert_shape (ok, "[2, 4]");
  /* avg_pool2d keeps the first input's kernel: a larger map no longer fits fc_cls. */
  g_autoptr(MactTensor) larger = zeros (4, (gint64[]) { 4, 8, 5, 5 });
  assert_head_error_segs (head, larger, 2, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) rows = zeros (4, (gint64[]) { 3, 8, 3, 3 });
  assert_head_error_segs (head, rows, 2, MACT_MODULE_ERROR_INVALID_INPUT);
  /* num_segs None takes 5-D input only. */
  assert_head_error_segs (head, first, 0, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactModule) nopool = mact_test_build_kind ("{\"type\": \"TPNHead\", \"num_classes\": 4,"
                                             " \"in_channels\": 8, \"spatial_type\": null}",
                                             MACT_TYPE_HEAD);
  assert_null (mact_module_get_child (nopool, "avg_pool3d"));
  g_autoptr(MactTensor) vol = zeros (5, (gint64[]) { 2, 8, 2, 3, 3 });
  assert_head_error_segs (nopool, vol, 0, MACT_MODULE_ERROR_INVALID_INPUT);
  /* TSNHead's argument checks apply. */
  mact_test_assert_build_error ("{\"type\": \"TPNHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"consensus\": {\"type\": \"MaxConsensus\"}}", MACT_MODULE_ERROR,
                      MACT_MODULE_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ fcn_test */

static MactTensor *
try_forward_fcn (MactModule *head, MactTensor *x, GError **error)
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x);
  MactTensor *out;
  MACT_NO_GRAD_BEGIN
  out = mact_head_forward_fcn (MACT_HEAD (head), inputs, error);
  MACT_NO_GRAD_END
  return out;
}

static MactTensor *
forward_fcn (MactModule *head, MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  MactTensor *out = try_forward_fcn (head, x, &error);
  if (out == NULL)
    fail_msg ("forward_fcn: %s", error->message);
  return out;
}

static void
assert_fcn_error (MactModule *head, MactTensor *x, gint code)
{
  GError *error = NULL;
  MactTensor *out = try_forward_fcn (head, x, &error);
  assert_null (out);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, code);
}

/* mmaction2's TPNHead(x, fcn_test=True): avg_pool3d then new_cls, a 1x1x1 Conv3d copied
 * from fc_cls at the first call (a child from then on, with state-dict keys); with
 * spatial_type None, a score map. */
static void
test_tpn_head_fcn_parity (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_tsm/tpn_head_fcn");
  g_autoptr(MactTensorDict) weights = load_file ("tpn_head_fcn_weights.safetensors");
  MactTensor *x = mact_test_fixture_get (fx, "input");

  g_autoptr(MactModule) head = mact_test_build_kind (mact_test_fixture_meta (fx, "config"),
                                                     MACT_TYPE_HEAD);
  load_strict (head, weights);
  mact_module_eval (head);
  assert_null (mact_module_get_child (head, "new_cls"));
  g_autoptr(MactTensor) out = forward_fcn (head, x);
  assert_shape (out, "[2, 5, 1, 1, 1]");
  mact_test_assert_close (out, mact_test_fixture_get (fx, "out_avg"), 1e-4, "fcn, avg pool");
  MactModule *new_cls = mact_module_get_child (head, "new_cls");
  assert_true (MACT_IS_CONV (new_cls));
  assert_true (has_key (head, "new_cls.weight"));
  assert_true (has_key (head, "new_cls.bias"));
  assert_shape (mact_module_get_parameter (new_cls, "weight"), "[5, 16, 1, 1, 1]");
  /* The same child serves the next call; the plain path is unchanged. */
  g_autoptr(MactTensor) again = forward_fcn (head, x);
  assert_true (mact_module_get_child (head, "new_cls") == new_cls);
  mact_test_assert_close (again, out, 0.0, "second fcn call");

  /* spatial_type None: no pooling, a [N, K, T, H, W] score map. */
  g_autoptr(MactModule) plain = mact_test_build_kind (
    "{\"type\": \"TPNHead\", \"num_classes\": 5, \"in_channels\": 16,"
    " \"dropout_ratio\": 0.5, \"spatial_type\": null}", MACT_TYPE_HEAD);
  load_strict (plain, weights);
  mact_module_eval (plain);
  g_autoptr(MactTensor) map = forward_fcn (plain, x);
  assert_shape (map, "[2, 5, 2, 3, 3]");
  mact_test_assert_close (map, mact_test_fixture_get (fx, "out_none"), 1e-4, "fcn score map");
}

static void
test_tpn_head_fcn_errors (void **state)
{
  g_autoptr(MactModule) head = mact_test_build_kind ("{\"type\": \"TPNHead\", \"num_classes\": 4,"
                                                     " \"in_channels\": 8}", MACT_TYPE_HEAD);
  g_autoptr(MactTensor) flat = zeros (4, (gint64[]) { 2, 8, 3, 3 });
  assert_fcn_error (head, flat, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensor) channels = zeros (5, (gint64[]) { 2, 6, 1, 3, 3 });
  assert_fcn_error (head, channels, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_null (mact_module_get_child (head, "new_cls"));
  /* Heads without the mode refuse it (mmaction2: a TypeError on fcn_test). */
  g_autoptr(MactModule) tsm = mact_test_build_kind ("{\"type\": \"TSMHead\", \"num_classes\": 4,"
                                                    " \"in_channels\": 8}", MACT_TYPE_HEAD);
  g_autoptr(MactTensor) vol = zeros (5, (gint64[]) { 2, 8, 1, 3, 3 });
  assert_fcn_error (tsm, vol, MACT_MODULE_ERROR_NOT_IMPLEMENTED);
}

/* The fixture's recognizer with @test_cfg_key's config: the committed MobileNetV2TSM
 * weights under backbone.*, the head's under cls_head.*. */
static MactRecognizer *
fcn_recognizer (MactTestFixture *fx, const char *config_key)
{
  g_autoptr(GError) error = NULL;
  MactRecognizer *recognizer =
    mact_recognizer_new_from_data (mact_test_fixture_meta (fx, config_key), -1,
                                   mact_registry_get_default (), &error);
  if (recognizer == NULL)
    fail_msg ("%s: %s", config_key, error->message);
  g_autoptr(MactTensorDict) weights = mact_tensor_dict_new ();
  g_autoptr(MactTensorDict) backbone = load_file ("mobilenet_v2_tsm_weights.safetensors");
  g_autoptr(MactTensorDict) head = load_file ("tpn_fcn_recognizer_head_weights.safetensors");
  for (guint i = 0; i < mact_tensor_dict_get_size (backbone); i++)
    {
      g_autofree char *key = g_strconcat ("backbone.", mact_tensor_dict_get_key (backbone, i),
                                          NULL);
      mact_tensor_dict_insert (weights, key, mact_tensor_dict_get_value (backbone, i));
    }
  for (guint i = 0; i < mact_tensor_dict_get_size (head); i++)
    {
      g_autofree char *key = g_strconcat ("cls_head.", mact_tensor_dict_get_key (head, i), NULL);
      mact_tensor_dict_insert (weights, key, mact_tensor_dict_get_value (head, i));
    }
  load_strict (MACT_MODULE (recognizer), weights);
  mact_module_eval (MACT_MODULE (recognizer));
  return recognizer;
}

static MactTensor *
try_forward_test (MactRecognizer *recognizer, MactTensor *imgs, GError **error)
{
  MactTensor *scores;
  MACT_NO_GRAD_BEGIN
  scores = mact_recognizer_forward_test (recognizer, imgs, error);
  MACT_NO_GRAD_END
  return scores;
}

/* Builds the fixture's recognizer for @variant's test_cfg and compares forward_test with
 * the fixture's scores_<variant>. */
static MactRecognizer *
check_fcn_variant (MactTestFixture *fx, const char *variant)
{
  g_autofree char *config_key = g_strconcat ("config_", variant, NULL);
  g_autofree char *scores_key = g_strconcat ("scores_", variant, NULL);
  g_autoptr(MactRecognizer) recognizer = fcn_recognizer (fx, config_key);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) scores = try_forward_test (recognizer, mact_test_fixture_get (fx, "imgs"),
                                                   &error);
  if (scores == NULL)
    fail_msg ("%s: %s", variant, error->message);
  mact_test_assert_close (scores, mact_test_fixture_get (fx, scores_key), 1e-4, variant);
  return g_steal_pointer (&recognizer);
}

/* Recognizer2D's fully-convolutional test (mmaction2's _do_fcn_test) on one sample of 2
 * crops x 4 segments, staged by the backbone's num_segments and averaged over the crops
 * ('prob'); gradcam keeps the plain path. */
static void
test_tpn_fcn_recognizer (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_tsm/tpn_fcn_recognizer");
  g_autoptr(MactRecognizer) recognizer = check_fcn_variant (fx, "prob");
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) plain = NULL;
  MACT_NO_GRAD_BEGIN
  plain = mact_recognizer_forward_gradcam (recognizer, mact_test_fixture_get (fx, "imgs"),
                                           &error);
  MACT_NO_GRAD_END
  if (plain == NULL)
    fail_msg ("gradcam: %s", error->message);
  assert_shape (plain, "[1, 5]");
}

/* The other test_cfgs: flipped along W and staged by test_cfg.num_segs 2 ('score' over 4
 * rows); average_clips None, which keeps the head's [rows, K, 1, 1, 1] maps. */
static void
test_full_tpn_fcn_recognizer_variants (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_tsm/tpn_fcn_recognizer");
  g_object_unref (check_fcn_variant (fx, "flip"));
  g_object_unref (check_fcn_variant (fx, "none"));
}

/* A recognizer from @json's model block (the test_cfg varies), tested on @imgs. */
static void
assert_fcn_test_error (const char *json, MactTensor *imgs, GQuark domain, gint code)
{
  g_autoptr(GError) build_error = NULL;
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (json, -1, mact_registry_get_default (), &build_error);
  if (recognizer == NULL)
    fail_msg ("%s", build_error->message);
  mact_module_eval (MACT_MODULE (recognizer));
  GError *error = NULL;
  MactTensor *scores = try_forward_test (recognizer, imgs, &error);
  assert_null (scores);
  mact_test_assert_error (&error, domain, code);
}

static void
test_full_tpn_fcn_recognizer_errors (void **state)
{
  g_autoptr(MactTensor) imgs = mact_test_random (5, (gint64[]) { 1, 4, 3, 32, 32 }, 3, -1.0,
                                                 1.0);
#define FCN_MODEL(backbone, head, test_cfg)                                               \
  "{\"model\": {\"type\": \"Recognizer2D\", \"backbone\": " backbone ", \"cls_head\": " head \
  ", \"test_cfg\": " test_cfg "}}"
#define TSM_BACKBONE "{\"type\": \"MobileNetV2TSM\", \"widen_factor\": 0.25, \"num_segments\": 4}"
#define TPN_HEAD "{\"type\": \"TPNHead\", \"num_classes\": 3, \"in_channels\": 1280}"
  const GQuark R = MACT_RECOGNIZER_ERROR;
  /* feature_extraction and fcn_test exclude each other (mmaction2 asserts). */
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE, TPN_HEAD,
                                    "{\"average_clips\": null, \"fcn_test\": true,"
                                    " \"feature_extraction\": true}"),
                         imgs, R, MACT_RECOGNIZER_ERROR_VALUE);
  /* A head without the mode. */
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE,
                                    "{\"type\": \"TSMHead\", \"num_classes\": 3,"
                                    " \"in_channels\": 1280, \"num_segments\": 4}",
                                    "{\"average_clips\": null, \"fcn_test\": true}"),
                         imgs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED);
  /* A backbone without num_segments needs test_cfg.num_segs. */
  assert_fcn_test_error (FCN_MODEL ("{\"type\": \"MobileNetV2\", \"widen_factor\": 0.25}",
                                    TPN_HEAD, "{\"average_clips\": null, \"fcn_test\": true}"),
                         imgs, R, MACT_RECOGNIZER_ERROR_KEY);
  /* Wrong types and values in test_cfg. */
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE, TPN_HEAD,
                                    "{\"average_clips\": null, \"fcn_test\": 1}"),
                         imgs, R, MACT_RECOGNIZER_ERROR_TYPE);
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE, TPN_HEAD,
                                    "{\"average_clips\": null, \"fcn_test\": true,"
                                    " \"flip\": \"yes\"}"),
                         imgs, R, MACT_RECOGNIZER_ERROR_TYPE);
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE, TPN_HEAD,
                                    "{\"average_clips\": null, \"fcn_test\": true,"
                                    " \"num_segs\": 2.5}"),
                         imgs, R, MACT_RECOGNIZER_ERROR_TYPE);
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE, TPN_HEAD,
                                    "{\"average_clips\": null, \"fcn_test\": true,"
                                    " \"num_segs\": 0}"),
                         imgs, R, MACT_RECOGNIZER_ERROR_VALUE);
  /* 4 views do not stage into clips of 3 segments. */
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE, TPN_HEAD,
                                    "{\"average_clips\": null, \"fcn_test\": true,"
                                    " \"num_segs\": 3}"),
                         imgs, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  /* 4-D images are not [N, V, C, H, W]. */
  g_autoptr(MactTensor) flat = mact_test_random (4, (gint64[]) { 4, 3, 32, 32 }, 4, -1.0, 1.0);
  assert_fcn_test_error (FCN_MODEL (TSM_BACKBONE, TPN_HEAD,
                                    "{\"average_clips\": null, \"fcn_test\": true}"),
                         flat, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
#undef FCN_MODEL
#undef TSM_BACKBONE
#undef TPN_HEAD
}

/* ------------------------------------------------------------------ configs */

/* The TPN-TSM config end to end on two tiny clips of 8 segments: training adds the neck's
 * loss_aux to the head's losses; testing (its test_cfg has fcn_test) gives a probability
 * row per clip. */
/* mmaction2's test_tpn shapes (reference §4.10) on a full-width TPN: its config's neck
 * (the parallel flow has the same shapes; its values are checked on the reduced TPN). */
static void
check_tpn_shapes (MactNeck *tpn)
{
  /* mmaction2 uses a batch of 32; 2 keeps the test fast and the shapes' meaning. */
  g_autoptr(MactTensor) x0 = mact_test_random (5, (gint64[]) { 2, 1024, 1, 4, 4 }, 1, 0.0, 1.0);
  g_autoptr(MactTensor) x1 = mact_test_random (5, (gint64[]) { 2, 2048, 1, 2, 2 }, 2, 0.0, 1.0);
  g_autoptr(MactTensor) target = mact_tensor_new_full (1, (gint64[]) { 2 }, 3.0f, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x0);
  g_ptr_array_add (inputs, x1);
  g_autoptr(MactTensorDict) aux = mact_tensor_dict_new ();
  g_autoptr(GPtrArray) outs = NULL;
  MACT_NO_GRAD_BEGIN
  outs = mact_neck_forward_neck (tpn, inputs, target, aux, &error);
  MACT_NO_GRAD_END
  g_assert_no_error (error);
  assert_shape (g_ptr_array_index (outs, 0), "[2, 2048, 1, 2, 2]");
  assert_int_equal (mact_tensor_dict_get_size (aux), 1);

  g_autoptr(MactTensorDict) none = mact_tensor_dict_new ();
  g_autoptr(GPtrArray) outs2 = NULL;
  MACT_NO_GRAD_BEGIN
  outs2 = mact_neck_forward_neck (tpn, inputs, NULL, none, &error);
  MACT_NO_GRAD_END
  g_assert_no_error (error);
  assert_shape (g_ptr_array_index (outs2, 0), "[2, 2048, 1, 2, 2]");
  assert_int_equal (mact_tensor_dict_get_size (none), 0);
}

static void
run_tpn_recognizer (MactRecognizer *recognizer)
{
  g_autoptr(GError) error = NULL;
  assert_true (mact_recognizer_get_with_neck (recognizer));
  check_tpn_shapes (mact_recognizer_get_neck (recognizer));
  g_autoptr(MactTensor) imgs = mact_test_random (5, (gint64[]) { 2, 8, 3, 32, 32 }, 4, -1.0,
                                                 1.0);
  g_autoptr(MactTensor) labels = mact_tensor_new_full (2, (gint64[]) { 2, 1 }, 7.0f, NULL);
  mact_module_train (MACT_MODULE (recognizer), TRUE);
  g_autoptr(MactTensorDict) losses = NULL;
  MACT_NO_GRAD_BEGIN
  losses = mact_recognizer_forward_train (recognizer, imgs, labels, NULL, &error);
  MACT_NO_GRAD_END
  if (losses == NULL)
    fail_msg ("%s", error->message);
  assert_non_null (mact_tensor_dict_lookup (losses, "loss_aux"));
  assert_non_null (mact_tensor_dict_lookup (losses, "loss_cls"));

  mact_module_eval (MACT_MODULE (recognizer));
  g_autoptr(MactTensor) scores = NULL;
  MACT_NO_GRAD_BEGIN
  scores = mact_recognizer_forward_test (recognizer, imgs, &error);
  MACT_NO_GRAD_END
  if (scores == NULL)
    fail_msg ("%s", error->message);
  assert_shape (scores, "[2, 174]");
}

/* The configs of configs/recognition/{tsm,tpn} build through the public config loader at
 * full size, with PyTorch's keys (mmaction2's checkpoint keys, wrappers included), shapes
 * and parameter count (structure.json); the TPN one also runs. */
static void
test_full_configs_build (void **state)
{
  g_autofree char *structure_path = data_path ("structure.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, structure_path, &error))
    fail_msg ("%s", error->message);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  g_autoptr(GList) files = json_object_get_members (root);
  assert_int_equal (g_list_length (files), 3);

  for (GList *l = files; l != NULL; l = l->next)
    {
      const char *file = l->data;
      JsonObject *entry = json_object_get_object_member (root, file);
      g_autofree char *path = config_path (file);
      g_autoptr(MactRecognizer) recognizer =
        mact_recognizer_new_from_file (path, mact_registry_get_default (), &error);
      if (recognizer == NULL)
        fail_msg ("%s: %s", file, error->message);
      assert_true (MACT_IS_RECOGNIZER_2D (recognizer));

      JsonArray *keys = json_object_get_array_member (entry, "keys");
      JsonArray *shapes = json_object_get_array_member (entry, "shapes");
      g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (recognizer));
      if (mact_tensor_dict_get_size (sd) != json_array_get_length (keys))
        fail_msg ("%s: %u state-dict entries, expected %u", file,
                  mact_tensor_dict_get_size (sd), json_array_get_length (keys));
      for (guint i = 0; i < json_array_get_length (keys); i++)
        {
          const char *key = json_array_get_string_element (keys, i);
          if (!g_str_equal (mact_tensor_dict_get_key (sd, i), key))
            fail_msg ("%s: key %u is %s, expected %s", file, i,
                      mact_tensor_dict_get_key (sd, i), key);
          JsonArray *shape = json_array_get_array_element (shapes, i);
          MactTensor *t = mact_tensor_dict_get_value (sd, i);
          gboolean same = (guint) mact_tensor_get_ndim (t) == json_array_get_length (shape);
          for (guint d = 0; same && d < json_array_get_length (shape); d++)
            same = mact_tensor_get_size (t, d) == json_array_get_int_element (shape, d);
          if (!same)
            fail_msg ("%s: %s has another shape than PyTorch's", file, key);
        }
      g_autoptr(GPtrArray) params = mact_module_parameters (MACT_MODULE (recognizer));
      gint64 count = 0;
      for (guint i = 0; i < params->len; i++)
        count += mact_tensor_get_numel (g_ptr_array_index (params, i));
      assert_int_equal (count, json_object_get_int_member (entry, "num_parameters"));
      if (mact_recognizer_get_with_neck (recognizer))
        run_tpn_recognizer (recognizer);
    }
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_registry),
    cmocka_unit_test (test_full_resnet_tsm_r18_parity),
    cmocka_unit_test (test_full_resnet_tsm_r50_parity),
    cmocka_unit_test (test_full_resnet_tsm_r101_every_second_block),
    cmocka_unit_test (test_full_resnet_tsm_shapes),
    cmocka_unit_test (test_full_resnet_tsm_gradients),
    cmocka_unit_test (test_full_resnet_tsm_frozen_stages),
    cmocka_unit_test (test_full_resnet_tsm_errors),
    cmocka_unit_test (test_mobilenet_v2_parity),
    cmocka_unit_test (test_mobilenet_v2_tsm_parity),
    cmocka_unit_test (test_full_mobilenet_v2_tsm_shapes),
    cmocka_unit_test (test_mobilenet_v2_frozen_and_norm_eval),
    cmocka_unit_test (test_mobilenet_v2_errors),
    cmocka_unit_test (test_tsm_head_parity),
    cmocka_unit_test (test_tsm_head_tpool_parity),
    cmocka_unit_test (test_tsm_head_nopool_parity),
    cmocka_unit_test (test_tsm_head_shapes),
    cmocka_unit_test (test_tsm_head_errors),
    cmocka_unit_test (test_tpn_cascade_parity),
    cmocka_unit_test (test_tpn_parallel_parity),
    cmocka_unit_test (test_tpn_scaled_parity),
    cmocka_unit_test (test_tpn_errors),
    cmocka_unit_test (test_tpn_head_parity),
    cmocka_unit_test (test_tpn_head_shapes),
    cmocka_unit_test (test_tpn_head_errors),
    cmocka_unit_test (test_tpn_head_fcn_parity),
    cmocka_unit_test (test_tpn_head_fcn_errors),
    cmocka_unit_test (test_tpn_fcn_recognizer),
    cmocka_unit_test (test_full_tpn_fcn_recognizer_variants),
    cmocka_unit_test (test_full_tpn_fcn_recognizer_errors),
    cmocka_unit_test (test_full_configs_build),
  };
  return cmocka_run_group_tests_name ("native-tsm", tests, NULL, NULL);
}
