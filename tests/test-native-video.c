/* The native family's 3-D video plugin (plugins/native/video, libmact-native-video3d.so):
 * mmaction2's ResNet3d, ResNet3dSlowOnly, ResNet3dSlowFast, ResNet2Plus1d, X3D,
 * SlowFastHead and X3DHead, loaded from the build tree through the default registry and
 * built from JSON configs as mmaction2 configs would build them.
 *
 * Values: tests/fixtures/gen_native_video.py re-implements the mmaction2 modules in
 * PyTorch (mmaction2 is not installed) at reduced widths and writes, per case, the state
 * dict (mmaction2's keys) and the eval-mode outputs of a seeded input.  The tests check
 * the key lists and shapes, load the weights through the public safetensors loader
 * (strict) and compare every output within 1e-4 x max(1, max|ref|).  One case checks
 * every parameter's gradient after a train-mode cross-entropy step through Recognizer3D
 * (within 1e-3 relative); two check pretrained2d inflation of 2-D weights.  The full-size
 * configs of configs/recognition/ are built (not run) and compared with PyTorch's key
 * lists, shapes and parameter counts (structure.json). */
#include "mact-test.h"

#include <glib/gstdio.h>
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
  return g_build_filename (dir ? dir : "tests/data", "ops", "native_video", file, NULL);
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

static MactTensorDict *
load_weights (const char *name)
{
  g_autofree char *file = g_strconcat (name, "_weights.safetensors", NULL);
  return load_file (file);
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
forward_inputs (MactModule *module, GPtrArray *inputs)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *outs;
  MACT_NO_GRAD_BEGIN
  outs = mact_module_forward (module, inputs, &error);
  MACT_NO_GRAD_END
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
assert_forward_error (MactModule *module, GPtrArray *inputs, GQuark domain, gint code)
{
  GError *error = NULL;
  GPtrArray *outs;
  MACT_NO_GRAD_BEGIN
  outs = mact_module_forward (module, inputs, &error);
  MACT_NO_GRAD_END
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
random_input (gint ndim, const gint64 *shape, guint64 seed)
{
  return mact_test_random (ndim, shape, seed, -1.0, 1.0);
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

static MactTensor *
sd_get (MactModule *root, const char *key)
{
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (root);
  MactTensor *t = mact_tensor_dict_lookup (sd, key);
  if (t == NULL)
    fail_msg ("no state-dict entry %s", key);
  return t;
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

/* Builds the fixture's block from its JSON config, checks its keys and shapes against the
 * PyTorch re-implementation's, loads the weights strictly and compares the eval-mode
 * outputs.  The inputs are "input" or "input0", "input1", ... */
static void
parity (const char *name)
{
  g_autofree char *fixture_name = g_strconcat ("native_video/", name, NULL);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (fixture_name);
  g_autoptr(MactModule) module = build (mact_test_fixture_meta (fx, "config"));

  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  assert_keys (module, keys, shapes);

  g_autoptr(MactTensorDict) weights = load_weights (name);
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
}

/* ------------------------------------------------------------------ registry */

static void
test_registry (void **state)
{
  MactRegistry *registry = mact_registry_get_default ();
  static const char *const names[] = { "ResNet3d", "ResNet3dSlowOnly", "ResNet3dSlowFast",
                                       "ResNet2Plus1d", "X3D", "SlowFastHead", "X3DHead" };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      GType type = mact_registry_lookup_type (registry, names[i], &error);
      g_assert_no_error (error);
      assert_true (g_type_is_a (type, i < 5 ? MACT_TYPE_BACKBONE : MACT_TYPE_HEAD));
      assert_true (g_str_has_prefix (g_type_name (type), "MactNativeVideo"));
    }

  /* Both native plugins are loaded; this one describes itself. */
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "native");
  MactPlugin *video = NULL;
  for (guint i = 0; i < plugins->len; i++)
    if (g_str_equal (mact_plugin_get_name (g_ptr_array_index (plugins, i)), "video3d"))
      video = g_ptr_array_index (plugins, i);
  assert_non_null (video);
  assert_true (plugins->len >= 2);
  assert_string_equal (mact_plugin_get_family (video), "native");
  assert_true (g_str_has_suffix (mact_plugin_get_filename (video),
                                 "native/video/libmact-native-video3d.so"));
  g_auto(GStrv) types = mact_plugin_dup_type_names (video);
  assert_int_equal (g_strv_length (types), G_N_ELEMENTS (names));

  /* The abstract ResNet3d base and the pathway are not blocks a config can name. */
  GError *local = NULL;
  assert_int_equal (mact_registry_lookup_type (registry, "ResNet3dPathway", &local),
                    G_TYPE_INVALID);
  assert_non_null (local);
  g_clear_error (&local);
}

/* ------------------------------------------------------------------ parity */

static void test_resnet3d_r18_parity (void **state) { parity ("r18"); }
static void test_resnet3d_i3d_parity (void **state) { parity ("i3d_r50"); }
static void test_resnet3d_caffe_3x3x3_parity (void **state) { parity ("r50_caffe_3x3x3"); }
static void test_slowonly_parity (void **state) { parity ("slowonly"); }
static void test_slowfast_parity (void **state) { parity ("slowfast"); }
static void test_r2plus1d_parity (void **state) { parity ("r2plus1d"); }
static void test_x3d_parity (void **state) { parity ("x3d"); }
static void test_x3d_se_all_parity (void **state) { parity ("x3d_all"); }
static void test_slowfast_head_parity (void **state) { parity ("slowfast_head"); }
static void test_x3d_head_avg_parity (void **state) { parity ("x3d_head_avg"); }
static void test_x3d_head_max_parity (void **state) { parity ("x3d_head_max"); }

/* ------------------------------------------------------------------ gradients */

/* |got - ref| <= rtol * max|ref| elementwise, per tensor (a relative check, stricter than
 * mact_test_assert_close's max(1, ...) scale for small gradients). */
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

/* One train-mode step through Recognizer3D(ResNet3d-18, I3DHead): the cross-entropy loss
 * and the gradient of every parameter match PyTorch's. */
static void
test_resnet3d_gradients (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_video/r18_grad");
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (mact_test_fixture_meta (fx, "config"), -1,
                                   mact_registry_get_default (), &error);
  if (recognizer == NULL)
    fail_msg ("%s", error->message);
  g_autofree char *weights = data_path ("r18_grad_weights.safetensors");
  if (!mact_recognizer_load_weights (recognizer, weights, TRUE, &error))
    fail_msg ("%s", error->message);
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
      assert_grad_close (mact_tensor_get_grad (param), mact_test_fixture_get (fx, key), 1e-3,
                         names[i]);
    }
}

/* ------------------------------------------------------------------ pretrained */

static char *
replace_all (const char *s, const char *from, const char *to)
{
  g_auto(GStrv) parts = g_strsplit (s, from, -1);
  return g_strjoinv (to, parts);
}

/* The tensors of @expected_name equal the module's after init_weights. */
static void
assert_inflated (MactModule *module, const char *expected_name)
{
  g_autoptr(GError) error = NULL;
  if (!mact_module_init_weights (module, NULL, &error))
    fail_msg ("init_weights: %s", error->message);
  g_autofree char *file = g_strconcat (expected_name, ".safetensors", NULL);
  g_autoptr(MactTensorDict) expected = load_file (file);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (module);
  for (guint i = 0; i < mact_tensor_dict_get_size (expected); i++)
    {
      const char *key = mact_tensor_dict_get_key (expected, i);
      MactTensor *got = mact_tensor_dict_lookup (sd, key);
      if (got == NULL)
        fail_msg ("no state-dict entry %s", key);
      MactTensor *want = mact_tensor_dict_get_value (expected, i);
      if (mact_tensor_get_ndim (want) == 0 || mact_tensor_get_ndim (got) == 0)
        {
          assert_true (fabsf (mact_tensor_item (got) - mact_tensor_item (want)) < 1e-6f);
          continue;
        }
      mact_test_assert_close (got, want, 1e-6, key);
    }
}

/* pretrained2d: a 2-D ResNet's weights (torchvision names) are inflated into ResNet3d. */
static void
test_resnet3d_inflate_2d (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_video/r18_inflate");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) config = json_from_string (mact_test_fixture_meta (fx, "config"), &error);
  g_assert_no_error (error);
  g_autofree char *path = data_path ("r18_inflate_2d.safetensors");
  json_object_set_string_member (json_node_get_object (config), "pretrained", path);
  g_autoptr(MactModule) r18 = mact_registry_build_from_json (mact_registry_get_default (),
                                                             config, MACT_TYPE_BACKBONE,
                                                             &error);
  g_assert_no_error (error);
  assert_inflated (r18, "r18_inflate");

  /* The entry the 2-D checkpoint lacks keeps the ConvModule's construction values (no
   * kaiming or zero_init_residual pass with a pretrained checkpoint). */
  MactTensor *w = sd_get (r18, "layer4.1.conv2.bn.weight");
  MactTensor *b = sd_get (r18, "layer4.1.conv2.bn.bias");
  g_autoptr(MactTensor) ones = mact_tensor_new_full (1, (gint64[]) { 32 }, 1.0f, NULL);
  g_autoptr(MactTensor) zeros = mact_tensor_new_full (1, (gint64[]) { 32 }, 0.0f, NULL);
  mact_test_assert_close (w, ones, 0.0, "layer4.1.conv2.bn.weight");
  mact_test_assert_close (b, zeros, 0.0, "layer4.1.conv2.bn.bias");
}

/* A 2-D norm entry without its bias is refused (mmaction2 raises a KeyError). */
static void
test_inflate_incomplete (void **state)
{
  g_autoptr(MactTensorDict) sd2d = load_file ("r18_inflate_2d.safetensors");
  g_autoptr(MactTensorDict) copy = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (sd2d); i++)
    if (!g_str_equal (mact_tensor_dict_get_key (sd2d, i), "bn1.bias"))
      mact_tensor_dict_insert (copy, mact_tensor_dict_get_key (sd2d, i),
                               mact_tensor_dict_get_value (sd2d, i));
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-native-video-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "incomplete.safetensors", NULL);
  assert_true (mact_safetensors_save (path, copy, NULL, &error));
  g_autofree char *config = g_strdup_printf ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                                             " \"base_channels\": 4, \"conv1_kernel\": [3, 7, 7],"
                                             " \"inflate\": [1, 0, 1, 0],"
                                             " \"pretrained\": \"%s\"}", path);
  g_autoptr(MactModule) r18 = build (config);
  GError *local = NULL;
  assert_false (mact_module_init_weights (r18, NULL, &local));
  mact_test_assert_error (&local, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT);
  g_unlink (path);
  g_rmdir (dir);
}

/* A lateral slow pathway: the first blocks' kernels are zero-padded for the lateral
 * channels, and the lateral connections are left alone. */
static void
test_slowfast_inflate_2d (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_video/slowfast_inflate");
  g_autofree char *path = data_path ("slowfast_inflate_2d.safetensors");
  g_autofree char *config = replace_all (mact_test_fixture_meta (fx, "config"), "@2D@", path);
  g_autoptr(MactModule) slowfast = mact_test_build_kind (config, MACT_TYPE_BACKBONE);
  assert_inflated (slowfast, "slowfast_inflate");
}

/* pretrained2d False: a 3-D checkpoint is loaded as it is (non-strict for ResNet3d and
 * X3D, strict for ResNet3dSlowFast). */
static void
test_pretrained_3d (void **state)
{
  static const char *const cases[] = { "r18", "x3d", "slowfast" };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *fixture_name = g_strconcat ("native_video/", cases[i], NULL);
      g_autoptr(MactTestFixture) fx = mact_test_fixture_load (fixture_name);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) config = json_from_string (mact_test_fixture_meta (fx, "config"),
                                                     &error);
      g_autofree char *file = g_strconcat (cases[i], "_weights.safetensors", NULL);
      g_autofree char *path = data_path (file);
      JsonObject *obj = json_node_get_object (config);
      json_object_set_string_member (obj, "pretrained", path);
      if (g_str_equal (cases[i], "r18"))
        json_object_set_boolean_member (obj, "pretrained2d", FALSE);
      g_autoptr(MactModule) module = mact_registry_build_from_json (mact_registry_get_default (),
                                                                    config, MACT_TYPE_BACKBONE,
                                                                    &error);
      g_assert_no_error (error);
      if (!mact_module_init_weights (module, NULL, &error))
        fail_msg ("%s: %s", cases[i], error->message);
      g_autoptr(MactTensorDict) weights = load_weights (cases[i]);
      g_autoptr(MactTensorDict) sd = mact_module_state_dict (module);
      for (guint k = 0; k < mact_tensor_dict_get_size (weights); k++)
        {
          const char *key = mact_tensor_dict_get_key (weights, k);
          MactTensor *want = mact_tensor_dict_get_value (weights, k);
          if (mact_tensor_get_ndim (want) == 0)
            continue;
          mact_test_assert_close (mact_tensor_dict_lookup (sd, key), want, 0.0, key);
        }
    }

  /* URLs are not downloaded; a missing file is an I/O error. */
  static const char url[] =
    "{\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 2,"
    " \"pretrained\": \"torchvision://resnet18\"}";
  static const char missing[] =
    "{\"type\": \"X3D\", \"gamma_w\": 0.25, \"gamma_d\": 0.5,"
    " \"pretrained\": \"/nonexistent/x3d.safetensors\"}";
  GError *error = NULL;
  g_autoptr(MactModule) a = build (url);
  assert_false (mact_module_init_weights (a, NULL, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED);
  g_autoptr(MactModule) b = build (missing);
  assert_false (mact_module_init_weights (b, NULL, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);
  /* A 3-D checkpoint of another shape is refused by name. */
  g_autofree char *r18_weights = data_path ("r18_weights.safetensors");
  g_autofree char *wrong = g_strdup_printf ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                                            " \"base_channels\": 2, \"pretrained2d\": false,"
                                            " \"pretrained\": \"%s\"}", r18_weights);
  g_autoptr(MactModule) c = build (wrong);
  assert_false (mact_module_init_weights (c, NULL, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT);
}

/* ------------------------------------------------------------------ full-size configs */

/* Each config of configs/recognition/ builds at full size through the public config
 * loader, with PyTorch's keys, shapes and parameter count (not run: too big). */
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
  assert_int_equal (g_list_length (files), 5);

  for (GList *l = files; l != NULL; l = l->next)
    {
      const char *file = l->data;
      JsonObject *entry = json_object_get_object_member (root, file);
      g_autofree char *path = config_path (file);
      g_autoptr(MactRecognizer) recognizer =
        mact_recognizer_new_from_file (path, mact_registry_get_default (), &error);
      if (recognizer == NULL)
        fail_msg ("%s: %s", file, error->message);
      assert_true (MACT_IS_RECOGNIZER_3D (recognizer));

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
    }
}

/* ------------------------------------------------------------------ shapes */

static void
assert_backbone_shapes (const char *config, gint ndim, const gint64 *in_shape,
                        const char *const *expected, guint n_expected)
{
  g_autoptr(MactModule) backbone = mact_test_build_kind (config, MACT_TYPE_BACKBONE);
  mact_module_eval (backbone);
  g_autoptr(MactTensor) x = mact_tensor_new_full (ndim, in_shape, 0.5f, NULL);
  g_autoptr(GPtrArray) outs = forward (backbone, x);
  assert_int_equal (outs->len, n_expected);
  for (guint i = 0; i < n_expected; i++)
    assert_shape (g_ptr_array_index (outs, i), expected[i]);
}

/* reference/mmaction2.md §4.12 (X3D at full width; the ResNets at reduced width with
 * mmaction2's geometry, so every temporal and spatial size is the test's). */
static void
test_backbone_shapes (void **state)
{
  const gint64 x3d_in[] = { 1, 3, 13, 64, 64 };
  const char *const x3d_out[] = { "[1, 432, 13, 2, 2]" };
  assert_backbone_shapes ("{\"type\": \"X3D\", \"gamma_w\": 1, \"gamma_b\": 2.25,"
                          " \"gamma_d\": 2.2}", 5, x3d_in, x3d_out, 1);

  const gint64 clip[] = { 1, 3, 8, 64, 64 };
  /* R(2+1)D-34: 512 channels at full width (base 64); 64 at base 8. */
  const char *const r2plus1d_out[] = { "[1, 64, 1, 2, 2]" };
  assert_backbone_shapes ("{\"type\": \"ResNet2Plus1d\", \"depth\": 34, \"base_channels\": 8,"
                          " \"pretrained\": null, \"pretrained2d\": false,"
                          " \"conv_cfg\": {\"type\": \"Conv2plus1d\"},"
                          " \"temporal_strides\": [1, 2, 2, 2]}", 5, clip, r2plus1d_out, 1);
  /* SlowFast R50: slow 2048 and fast 256 at full width; 256 and 32 at base 8 / 1. */
  const char *const slowfast_out[] = { "[1, 256, 1, 2, 2]", "[1, 32, 8, 2, 2]" };
  assert_backbone_shapes ("{\"type\": \"ResNet3dSlowFast\", \"pretrained\": null,"
                          " \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 50,"
                          "   \"pretrained\": null, \"lateral\": true, \"base_channels\": 8,"
                          "   \"conv1_kernel\": [1, 7, 7], \"inflate\": [0, 0, 1, 1]},"
                          " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 50,"
                          "   \"pretrained\": null, \"lateral\": false, \"base_channels\": 1,"
                          "   \"conv1_kernel\": [5, 7, 7]}}", 5, clip, slowfast_out, 2);
  /* SlowOnly R50: 2048 at full width; 256 at base 8. */
  const char *const slowonly_out[] = { "[1, 256, 8, 2, 2]" };
  assert_backbone_shapes ("{\"type\": \"ResNet3dSlowOnly\", \"depth\": 50,"
                          " \"base_channels\": 8, \"pretrained\": null}", 5, clip,
                          slowonly_out, 1);
}

/* reference/mmaction2.md §4.6 */
static void
test_head_shapes (void **state)
{
  g_autoptr(MactModule) sf = mact_test_build_kind ("{\"type\": \"SlowFastHead\", \"num_classes\": 4,"
                                         " \"in_channels\": 2304}", MACT_TYPE_HEAD);
  double dropout = 0.0, init_std = 0.0;
  g_object_get (sf, "dropout-ratio", &dropout, "init-std", &init_std, NULL);
  assert_true (dropout == 0.8 && init_std == 0.01);
  mact_module_eval (sf);
  g_autoptr(MactTensor) slow = mact_tensor_new_full (5, (gint64[]) { 3, 2048, 32, 7, 7 }, 0.5f,
                                                     NULL);
  g_autoptr(MactTensor) fast = mact_tensor_new_full (5, (gint64[]) { 3, 256, 4, 7, 7 }, 0.5f,
                                                     NULL);
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, slow);
  g_ptr_array_add (inputs, fast);
  g_autoptr(GPtrArray) outs = forward_inputs (sf, inputs);
  assert_shape (g_ptr_array_index (outs, 0), "[3, 4]");

  g_autoptr(MactModule) x3d = mact_test_build_kind ("{\"type\": \"X3DHead\", \"num_classes\": 4,"
                                          " \"in_channels\": 432}", MACT_TYPE_HEAD);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (x3d);
  assert_non_null (mact_tensor_dict_lookup (sd, "fc1.weight"));
  assert_null (mact_tensor_dict_lookup (sd, "fc1.bias"));
  assert_non_null (mact_tensor_dict_lookup (sd, "fc2.bias"));
  assert_shape (mact_tensor_dict_lookup (sd, "fc1.weight"), "[2048, 432]");
}

/* ------------------------------------------------------------------ train / init */

static void
test_frozen_stages (void **state)
{
  g_autoptr(MactModule) r18 = build ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                                     " \"base_channels\": 2, \"pretrained\": null,"
                                     " \"frozen_stages\": 1}");
  mact_module_train (r18, TRUE);
  assert_false (param_requires_grad (r18, "conv1.conv.weight"));
  assert_false (param_requires_grad (r18, "layer1.1.conv2.bn.bias"));
  assert_true (param_requires_grad (r18, "layer2.0.conv1.conv.weight"));
  assert_false (mact_module_is_training (submodule (r18, "layer1.0.conv1.bn")));
  assert_true (mact_module_is_training (submodule (r18, "layer2.0.conv1.bn")));

  /* A lateral pathway also freezes the lateral connection after each frozen stage. */
  g_autoptr(MactModule) sf = build ("{\"type\": \"ResNet3dSlowFast\", \"pretrained\": null,"
                                    " \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 18,"
                                    "   \"pretrained\": null, \"lateral\": true,"
                                    "   \"base_channels\": 16, \"frozen_stages\": 2},"
                                    " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 18,"
                                    "   \"pretrained\": null, \"lateral\": false,"
                                    "   \"base_channels\": 2}}");
  mact_module_train (sf, TRUE);
  assert_false (param_requires_grad (sf, "slow_path.layer2.0.conv1.conv.weight"));
  assert_false (param_requires_grad (sf, "slow_path.layer1_lateral.conv.weight"));
  assert_false (param_requires_grad (sf, "slow_path.layer2_lateral.conv.weight"));
  assert_true (param_requires_grad (sf, "slow_path.layer3_lateral.conv.weight"));
  assert_true (param_requires_grad (sf, "slow_path.conv1_lateral.conv.weight"));
  assert_true (param_requires_grad (sf, "fast_path.layer1.0.conv1.conv.weight"));

  /* X3D: 0 freezes the stem (conv1_s, conv1_t); norm_eval keeps every norm in eval. */
  g_autoptr(MactModule) x3d = build ("{\"type\": \"X3D\", \"gamma_w\": 0.25, \"gamma_d\": 0.5,"
                                     " \"frozen_stages\": 0, \"norm_eval\": true}");
  mact_module_train (x3d, TRUE);
  assert_false (param_requires_grad (x3d, "conv1_s.conv.weight"));
  assert_false (param_requires_grad (x3d, "conv1_t.bn.weight"));
  assert_true (param_requires_grad (x3d, "layer1.0.conv1.conv.weight"));
  assert_false (mact_module_is_training (submodule (x3d, "layer4.0.conv3.bn")));
  assert_true (mact_module_is_training (submodule (x3d, "layer4.0.conv3")));

  /* norm_cfg requires_grad False freezes the norms' affine parameters, Conv2plus1d's too. */
  g_autoptr(MactModule) r2 = build ("{\"type\": \"ResNet2Plus1d\", \"depth\": 18,"
                                    " \"base_channels\": 2, \"pretrained2d\": false,"
                                    " \"conv_cfg\": {\"type\": \"Conv2plus1d\","
                                    "   \"norm_cfg\": {\"type\": \"BN3d\","
                                    "     \"requires_grad\": false}},"
                                    " \"norm_cfg\": {\"type\": \"BN3d\","
                                    "   \"requires_grad\": false}}");
  assert_false (param_requires_grad (r2, "layer1.0.conv1.bn.weight"));
  assert_false (param_requires_grad (r2, "layer1.0.conv1.conv.bn_s.weight"));
  assert_true (param_requires_grad (r2, "layer1.0.conv1.conv.conv_s.weight"));

  /* norm_cfg SyncBN: batch norms with the sync property, Conv2plus1d's when its own
   * norm_cfg says so. */
  g_autoptr(MactModule) r2s = build ("{\"type\": \"ResNet2Plus1d\", \"depth\": 18,"
                                     " \"base_channels\": 2, \"pretrained2d\": false,"
                                     " \"conv_cfg\": {\"type\": \"Conv2plus1d\","
                                     "   \"norm_cfg\": {\"type\": \"SyncBN\"}},"
                                     " \"norm_cfg\": {\"type\": \"SyncBN\"}}");
  g_autoptr(MactModule) r3 = build ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                                    " \"base_channels\": 2, \"pretrained2d\": false}");
  gboolean sync = FALSE;
  g_object_get (submodule (r2s, "layer1.0.conv1.bn"), "sync", &sync, NULL);
  assert_true (sync);
  g_object_get (submodule (r2s, "layer1.0.conv1.conv.bn_s"), "sync", &sync, NULL);
  assert_true (sync);
  g_object_get (submodule (r3, "layer1.0.conv1.bn"), "sync", &sync, NULL);
  assert_false (sync);
}

static double
tensor_abs_max (MactTensor *t)
{
  gint64 n = mact_tensor_get_numel (t);
  g_autofree float *v = g_new (float, n);
  mact_tensor_copy_to_array (t, v);
  double m = 0.0;
  for (gint64 i = 0; i < n; i++)
    m = MAX (m, fabs (v[i]));
  return m;
}

static double
tensor_std (MactTensor *t)
{
  gint64 n = mact_tensor_get_numel (t);
  g_autofree float *v = g_new (float, n);
  mact_tensor_copy_to_array (t, v);
  double s = 0.0, s2 = 0.0;
  for (gint64 i = 0; i < n; i++)
    {
      s += v[i];
      s2 += (double) v[i] * v[i];
    }
  return sqrt (s2 / n - (s / n) * (s / n));
}

/* pretrained=None: kaiming (fan_out) convs, ones/zeros norms, zero_init_residual. */
static void
test_init_weights (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactGenerator) gen = mact_generator_new (7);
  g_autoptr(MactModule) r50 = build ("{\"type\": \"ResNet3d\", \"depth\": 50,"
                                     " \"base_channels\": 8, \"pretrained\": null}");
  assert_true (mact_module_init_weights (r50, gen, &error));
  assert_true (tensor_abs_max (sd_get (r50, "layer1.0.conv3.bn.weight")) == 0.0);
  assert_true (tensor_abs_max (sd_get (r50, "layer1.0.conv3.bn.bias")) == 0.0);
  assert_true (tensor_abs_max (sd_get (r50, "layer1.0.conv2.bn.weight")) == 1.0);
  /* layer3.0.conv2: 3x3 (1x3x3) conv, fan_out = 32 * 9: std sqrt(2 / 288). */
  double std = tensor_std (sd_get (r50, "layer3.0.conv2.conv.weight"));
  assert_true (fabs (std - sqrt (2.0 / 288.0)) < 0.1 * sqrt (2.0 / 288.0));

  g_autoptr(MactModule) r18 = build ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                                     " \"base_channels\": 2, \"pretrained\": null,"
                                     " \"zero_init_residual\": false}");
  assert_true (mact_module_init_weights (r18, gen, &error));
  assert_true (tensor_abs_max (sd_get (r18, "layer1.0.conv2.bn.weight")) == 1.0);

  g_autoptr(MactModule) x3d = build ("{\"type\": \"X3D\", \"gamma_w\": 0.25, \"gamma_d\": 0.5}");
  assert_true (mact_module_init_weights (x3d, gen, &error));
  assert_true (tensor_abs_max (sd_get (x3d, "layer2.0.conv3.bn.weight")) == 0.0);
  assert_true (tensor_abs_max (sd_get (x3d, "layer2.0.se_module.fc1.bias")) == 0.0);
  assert_true (tensor_abs_max (sd_get (x3d, "layer2.0.se_module.fc1.weight")) > 0.0);
  /* se_style 'half': blocks 0, 2, ... have an SE unit. */
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (x3d);
  assert_non_null (mact_tensor_dict_lookup (sd, "layer3.2.se_module.fc2.weight"));
  assert_null (mact_tensor_dict_lookup (sd, "layer3.1.se_module.fc2.weight"));

  g_autoptr(MactModule) head = mact_test_build_kind ("{\"type\": \"X3DHead\", \"num_classes\": 4,"
                                           " \"in_channels\": 16, \"init_std\": 0.5}",
                                           MACT_TYPE_HEAD);
  assert_true (mact_module_init_weights (head, gen, &error));
  std = tensor_std (sd_get (head, "fc2.weight"));
  assert_true (fabs (std - 0.5) < 0.05);
  assert_true (tensor_abs_max (sd_get (head, "fc2.bias")) == 0.0);
}

/* Through Recognizer3D: several views, a tuple of features into SlowFastHead. */
static void
test_recognizer_slowfast (void **state)
{
  static const char config[] =
    "{\"model\": {\"type\": \"Recognizer3D\","
    " \"backbone\": {\"type\": \"ResNet3dSlowFast\", \"pretrained\": null,"
    "   \"resample_rate\": 4, \"speed_ratio\": 2, \"channel_ratio\": 2,"
    "   \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 18, \"pretrained\": null,"
    "     \"lateral\": true, \"base_channels\": 4, \"conv1_kernel\": [1, 7, 7],"
    "     \"inflate\": [0, 0, 1, 1]},"
    "   \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 18, \"pretrained\": null,"
    "     \"lateral\": false, \"base_channels\": 2, \"conv1_kernel\": [5, 7, 7]}},"
    " \"cls_head\": {\"type\": \"SlowFastHead\", \"num_classes\": 5, \"in_channels\": 48},"
    " \"test_cfg\": {\"average_clips\": \"prob\"}}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (config, -1, mact_registry_get_default (), &error);
  if (recognizer == NULL)
    fail_msg ("%s", error->message);
  const gint64 shape[] = { 1, 2, 3, 8, 32, 32 };
  g_autoptr(MactTensor) imgs = random_input (6, shape, 11);
  mact_module_eval (MACT_MODULE (recognizer));
  g_autoptr(MactTensor) scores = NULL;
  MACT_NO_GRAD_BEGIN
  scores = mact_recognizer_forward_test (recognizer, imgs, &error);
  MACT_NO_GRAD_END
  if (scores == NULL)
    fail_msg ("%s", error->message);
  assert_shape (scores, "[1, 5]");
  /* 'prob': a probability distribution. */
  float p[5];
  mact_tensor_copy_to_array (scores, p);
  assert_true (fabsf (p[0] + p[1] + p[2] + p[3] + p[4] - 1.0f) < 1e-5f);
}

/* ------------------------------------------------------------------ errors */

#define INVALID MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT
/* A cheap slow pathway, for SlowFast errors raised after it is built. */
#define SMALL_SLOW \
  "\"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 18, \"pretrained\": null," \
  " \"lateral\": false, \"base_channels\": 2}"

static void
test_build_errors (void **state)
{
  /* ResNet3d family */
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 20}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"num_stages\": 5}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 0}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"out_indices\": [4]}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"spatial_strides\": [1, 2]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"dilations\": [1, 1, 0, 1]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"stage_blocks\": [1, 1]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"conv1_kernel\": [3, 7]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"style\": \"tf\"}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"inflate_style\": \"3x3x1\"}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"frozen_stages\": 5}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"inflate\": [1, 1, 1]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"inflate\": [[1, 1, 1], 1, 1, 1]}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"inflate\": \"yes\"}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"non_local\": [0, 1, 0, 0]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"inflate\": [[\"a\", 1], 1, 1, 1]}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"inflate\": [\"x\", 1, 1, 1]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"spatial_strides\": [1, 2, 2, 3000000000]}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"conv1_kernel\": [0, 7, 7]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"conv1_kernel\": [1, 3, 7, 7]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"conv1_stride_s\": 0}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"stage_blocks\": [0, 1, 1, 1]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"in_channels\": 0}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"norm_cfg\": \"BN3d\"}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"norm_cfg\": {\"eps\": 0.1}}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"norm_cfg\": {\"type\": \"BN3d\", \"affine\": false}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"norm_cfg\": {\"type\": \"BN3d\", \"requires_grad\": 1}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"norm_cfg\": {\"type\": \"BN3d\", \"eps\": \"small\"}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"norm_cfg\": {\"type\": \"BN3d\", \"momentum\": 2}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"conv_cfg\": {\"type\": \"Conv3d\", \"norm_cfg\": {\"type\": \"BN3d\"}}}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"norm_cfg\": {\"type\": \"GN\"}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"norm_cfg\": {\"type\": \"BN3d\", \"eps\": -1}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"act_cfg\": {\"type\": \"GELU\"}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                      " \"conv_cfg\": {\"type\": \"Conv2plus1d\"}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3d\", \"depth\": 18, \"lateral\": true}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowOnly\", \"depth\": 50, \"lateral\": true}",
                      INVALID);
  /* ResNet2Plus1d's own asserts: its defaults fail, as in mmaction2. */
  mact_test_assert_build_error ("{\"type\": \"ResNet2Plus1d\", \"depth\": 18,"
                      " \"conv_cfg\": {\"type\": \"Conv2plus1d\"}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet2Plus1d\", \"depth\": 18, \"pretrained2d\": false}",
                      INVALID);
  /* Conv2plus1d's middle width rounds to 0 for a 1 -> 2 shortcut. */
  mact_test_assert_build_error ("{\"type\": \"ResNet2Plus1d\", \"depth\": 18, \"base_channels\": 1,"
                      " \"pretrained2d\": false, \"conv_cfg\": {\"type\": \"Conv2plus1d\"}}",
                      INVALID);

  /* ResNet3dSlowFast */
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", \"resample_rate\": 4,"
                      " \"speed_ratio\": 8}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", \"channel_ratio\": 0}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\","
                      " \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 50,"
                      "   \"pretrained\": null}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\","
                      " \"slow_pathway\": {\"type\": \"bninception\", \"depth\": 50,"
                      "   \"pretrained\": null, \"lateral\": false}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", \"slow_pathway\": [1, 2]}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\","
                      " \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 50,"
                      "   \"pretrained\": null, \"lateral\": \"yes\"}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ", \"fast_pathway\": [1]}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ","
                      " \"fast_pathway\": {\"depth\": 50, \"pretrained\": null}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ","
                      " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 50}}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY);
  /* A lateral connection needs fast channels: base 4 // channel_ratio 8 is 0. */
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\","
                      " \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 18,"
                      "   \"pretrained\": null, \"lateral\": true, \"base_channels\": 4}}",
                      INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\","
                      " \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 18,"
                      "   \"pretrained\": null, \"lateral\": true, \"base_channels\": 16,"
                      "   \"fusion_kernel\": 0}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ","
                      " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 50,"
                      "   \"pretrained\": null, \"widen\": 2}}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ","
                      " \"fast_pathway\": {\"type\": \"resnet3d\", \"pretrained\": null}}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ","
                      " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 50,"
                      "   \"pretrained\": null, \"base_channels\": \"eight\"}}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ","
                      " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 51,"
                      "   \"pretrained\": null}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"ResNet3dSlowFast\", " SMALL_SLOW ","
                      " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 50,"
                      "   \"pretrained\": null, \"num_stages\": 3, \"out_indices\": [2]}}",
                      INVALID);

  /* X3D */
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"se_style\": \"some\"}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"se_ratio\": -0.5}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"gamma_b\": 0}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"num_stages\": 0}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"spatial_strides\": [2, 2]}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"frozen_stages\": 5}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"conv_cfg\": {\"type\": \"Conv2d\"}}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"in_channels\": 0}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"spatial_strides\": [2, 0, 2, 2]}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3D\", \"gamma_w\": 0.25, \"gamma_b\": 0.01}", INVALID);

  /* Heads */
  mact_test_assert_build_error ("{\"type\": \"SlowFastHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"spatial_type\": \"max\"}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"SlowFastHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"dropout_ratio\": 1.5}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3DHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"spatial_type\": \"min\"}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3DHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"init_std\": -1}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3DHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"dropout_ratio\": -0.1}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"SlowFastHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"init_std\": -1}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3DHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"multi_class\": true}", INVALID);
  mact_test_assert_build_error ("{\"type\": \"X3DHead\", \"num_classes\": 4, \"in_channels\": 8,"
                      " \"topk\": [1]}", INVALID);
}

static void
test_forward_errors (void **state)
{
  g_autoptr(MactModule) r18 = build ("{\"type\": \"ResNet3d\", \"depth\": 18,"
                                     " \"base_channels\": 2}");
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (inputs, mact_tensor_new_full (4, (gint64[]) { 1, 3, 16, 16 }, 0.0f, NULL));
  assert_forward_error (r18, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_ptr_array_set_size (inputs, 0);
  g_ptr_array_add (inputs, mact_tensor_new_full (5, (gint64[]) { 1, 2, 2, 16, 16 }, 0.0f, NULL));
  assert_forward_error (r18, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  g_autoptr(MactModule) sf = build ("{\"type\": \"ResNet3dSlowFast\", \"resample_rate\": 4,"
                                    " \"speed_ratio\": 2, \"channel_ratio\": 2,"
                                    " \"slow_pathway\": {\"type\": \"resnet3d\", \"depth\": 18,"
                                    "   \"pretrained\": null, \"lateral\": true,"
                                    "   \"base_channels\": 4},"
                                    " \"fast_pathway\": {\"type\": \"resnet3d\", \"depth\": 18,"
                                    "   \"pretrained\": null, \"lateral\": false,"
                                    "   \"base_channels\": 2}}");
  /* Fewer frames than the resample rate leaves the slow path none. */
  g_ptr_array_set_size (inputs, 0);
  g_ptr_array_add (inputs, mact_tensor_new_full (5, (gint64[]) { 1, 3, 2, 16, 16 }, 0.0f, NULL));
  assert_forward_error (sf, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_ptr_array_set_size (inputs, 0);
  g_ptr_array_add (inputs, mact_tensor_new_full (3, (gint64[]) { 1, 3, 2 }, 0.0f, NULL));
  assert_forward_error (sf, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  /* 10 frames: the slow path gets 2, the lateral convs make 3 of the fast path's 5, and
   * the concatenation fails, as in mmaction2. */
  g_ptr_array_set_size (inputs, 0);
  g_ptr_array_add (inputs, mact_tensor_new_full (5, (gint64[]) { 1, 3, 10, 16, 16 }, 0.0f,
                                                 NULL));
  assert_forward_error (sf, inputs, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  g_autoptr(MactModule) x3d = build ("{\"type\": \"X3D\", \"gamma_w\": 0.25, \"gamma_d\": 0.5}");
  g_ptr_array_set_size (inputs, 0);
  g_ptr_array_add (inputs, mact_tensor_new_full (5, (gint64[]) { 1, 1, 2, 16, 16 }, 0.0f, NULL));
  assert_forward_error (x3d, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  g_autoptr(MactModule) head = mact_test_build_kind ("{\"type\": \"SlowFastHead\", \"num_classes\": 4,"
                                           " \"in_channels\": 24}", MACT_TYPE_HEAD);
  g_ptr_array_set_size (inputs, 0);
  g_ptr_array_add (inputs, mact_tensor_new_full (5, (gint64[]) { 1, 16, 1, 2, 2 }, 0.0f, NULL));
  assert_forward_error (head, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  /* Channels that do not add up to in_channels. */
  g_ptr_array_add (inputs, mact_tensor_new_full (5, (gint64[]) { 1, 16, 1, 2, 2 }, 0.0f, NULL));
  assert_forward_error (head, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_ptr_array_set_size (inputs, 1);
  g_ptr_array_add (inputs, mact_tensor_new_full (2, (gint64[]) { 1, 8 }, 0.0f, NULL));
  assert_forward_error (head, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  g_autoptr(MactModule) x3d_head = mact_test_build_kind ("{\"type\": \"X3DHead\", \"num_classes\": 4,"
                                               " \"in_channels\": 8}", MACT_TYPE_HEAD);
  g_ptr_array_set_size (inputs, 0);
  g_ptr_array_add (inputs, mact_tensor_new_full (5, (gint64[]) { 1, 6, 1, 2, 2 }, 0.0f, NULL));
  assert_forward_error (x3d_head, inputs, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_registry),
    cmocka_unit_test (test_resnet3d_r18_parity),
    cmocka_unit_test (test_resnet3d_i3d_parity),
    cmocka_unit_test (test_resnet3d_caffe_3x3x3_parity),
    cmocka_unit_test (test_slowonly_parity),
    cmocka_unit_test (test_slowfast_parity),
    cmocka_unit_test (test_r2plus1d_parity),
    cmocka_unit_test (test_x3d_parity),
    cmocka_unit_test (test_x3d_se_all_parity),
    cmocka_unit_test (test_slowfast_head_parity),
    cmocka_unit_test (test_x3d_head_avg_parity),
    cmocka_unit_test (test_x3d_head_max_parity),
    cmocka_unit_test (test_resnet3d_gradients),
    cmocka_unit_test (test_resnet3d_inflate_2d),
    cmocka_unit_test (test_slowfast_inflate_2d),
    cmocka_unit_test (test_inflate_incomplete),
    cmocka_unit_test (test_pretrained_3d),
    cmocka_unit_test (test_full_configs_build),
    cmocka_unit_test (test_backbone_shapes),
    cmocka_unit_test (test_head_shapes),
    cmocka_unit_test (test_frozen_stages),
    cmocka_unit_test (test_init_weights),
    cmocka_unit_test (test_recognizer_slowfast),
    cmocka_unit_test (test_build_errors),
    cmocka_unit_test (test_forward_errors),
  };
  return cmocka_run_group_tests_name ("native-video", tests, NULL, NULL);
}
