/* The cls. family (plugins/cls, libmact-cls-mmcls.so): mmcls's ResNet, ResNeXt and
 * MobileNetV2, loaded from the build tree through the default registry and built from
 * JSON configs, as "cls.X" and through mmaction2's "mmcls.X" alias.
 *
 * Values: tests/fixtures/gen_cls.py re-implements the three mmcls modules in PyTorch
 * (mmcls is not installed) with reduced widths (mmcls's own stem_channels /
 * base_channels / widen_factor) and writes, per case, the state dict (mmcls's keys) and
 * the eval-mode outputs of a seeded input.  The tests check the key lists and shapes,
 * load the weights through the public safetensors loader and compare every output
 * within 1e-4 x max(1, max|ref|).  Full-width models are checked for structure only
 * (structure.json: keys and shapes). */
#include "mact-test.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static MactModule *
try_build (const char *json, GType kind, GError **error)
{
  g_autoptr(JsonNode) node = json_from_string (json, error);
  if (node == NULL)
    return NULL;
  return mact_registry_build_from_json (mact_registry_get_default (), node, kind, error);
}

static MactModule *
build (const char *json)
{
  g_autoptr(GError) error = NULL;
  MactModule *module = try_build (json, MACT_TYPE_BACKBONE, &error);
  if (module == NULL)
    fail_msg ("building %s: %s", json, error->message);
  return module;
}

static void
assert_build_error (const char *json, GQuark domain, gint code)
{
  GError *error = NULL;
  MactModule *module = try_build (json, MACT_TYPE_BACKBONE, &error);
  if (module != NULL)
    {
      g_object_unref (module);
      fail_msg ("building %s succeeded, expected an error", json);
    }
  mact_test_assert_error (&error, domain, code);
}

static char *
data_path (const char *file)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "ops", "cls", file, NULL);
}

static MactTensorDict *
load_weights (const char *name)
{
  g_autofree char *file = g_strconcat (name, "_weights.safetensors", NULL);
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
forward (MactModule *module, MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x);
  GPtrArray *outs = mact_module_forward (module, inputs, &error);
  if (outs == NULL)
    fail_msg ("forward: %s", error->message);
  return outs;
}

static GPtrArray *
no_grad_forward (MactModule *module, MactTensor *x)
{
  GPtrArray *outs;
  MACT_NO_GRAD_BEGIN
  outs = forward (module, x);
  MACT_NO_GRAD_END
  return outs;
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

static MactTensor *
random_input (gint ndim, const gint64 *shape, guint64 seed)
{
  return mact_test_random (ndim, shape, seed, -1.0, 1.0);
}

/* The module's state-dict keys, in order, are @keys with shapes @shapes (as "a,b,c"). */
static void
assert_keys (MactModule *module, gchar **keys, gchar **shapes)
{
  g_autoptr(MactTensorDict) state = mact_module_state_dict (module);
  guint n = mact_tensor_dict_get_size (state);
  for (guint i = 0; i < n && keys[i] != NULL; i++)
    {
      if (!g_str_equal (mact_tensor_dict_get_key (state, i), keys[i]))
        fail_msg ("state-dict key %u is %s, expected %s", i,
                  mact_tensor_dict_get_key (state, i), keys[i]);
      g_autofree char *shape = shape_key (mact_tensor_dict_get_value (state, i));
      if (!g_str_equal (shape, shapes[i]))
        fail_msg ("%s has shape [%s], expected [%s]", keys[i], shape, shapes[i]);
    }
  assert_int_equal (n, g_strv_length (keys));
}

/* Builds the fixture's backbone from its JSON config, checks its keys and shapes against
 * the PyTorch re-implementation's, loads the weights strictly and compares the eval-mode
 * outputs (a tuple, one per out_index).  Returns the backbone (weights loaded). */
static MactModule *
parity (const char *name)
{
  g_autofree char *fixture_name = g_strconcat ("cls/", name, NULL);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (fixture_name);
  g_autoptr(MactModule) backbone = build (mact_test_fixture_meta (fx, "config"));

  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  assert_keys (backbone, keys, shapes);

  g_autoptr(MactTensorDict) weights = load_weights (name);
  load_strict (backbone, weights);

  mact_module_eval (backbone);
  g_autoptr(GPtrArray) outs = no_grad_forward (backbone, mact_test_fixture_get (fx, "input"));
  gint64 n_outputs = mact_test_fixture_meta_int (fx, "n_outputs");
  assert_int_equal (outs->len, n_outputs);
  for (gint64 i = 0; i < n_outputs; i++)
    {
      g_autofree char *key = g_strdup_printf ("out%" G_GINT64_FORMAT, i);
      g_autofree char *what = g_strdup_printf ("%s %s", name, key);
      mact_test_assert_close (g_ptr_array_index (outs, i), mact_test_fixture_get (fx, key),
                              1e-4, what);
    }
  return g_steal_pointer (&backbone);
}

/* ------------------------------------------------------------------ registry */

static void
test_registry (void **state)
{
  MactRegistry *registry = mact_registry_get_default ();
  g_autoptr(GError) error = NULL;

  g_auto(GStrv) types = mact_registry_list_types (registry, "cls", &error);
  assert_non_null (types);
  assert_int_equal (g_strv_length (types), 3);
  assert_true (g_strv_contains ((const char *const *) types, "cls.ResNet"));
  assert_true (g_strv_contains ((const char *const *) types, "cls.ResNeXt"));
  assert_true (g_strv_contains ((const char *const *) types, "cls.MobileNetV2"));

  /* mmaction2's "mmcls." prefix names the same types. */
  const char *const names[] = { "ResNet", "ResNeXt", "MobileNetV2" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *cls = g_strconcat ("cls.", names[i], NULL);
      g_autofree char *mmcls = g_strconcat ("mmcls.", names[i], NULL);
      GType a = mact_registry_lookup_type (registry, cls, &error);
      g_assert_no_error (error);
      GType b = mact_registry_lookup_type (registry, mmcls, &error);
      g_assert_no_error (error);
      assert_true (a == b);
      assert_true (g_type_is_a (a, MACT_TYPE_BACKBONE));
      assert_string_equal (mact_registry_type_name_of (a), cls);
    }

  /* The plugin describes itself. */
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "cls");
  assert_int_equal (plugins->len, 1);
  MactPlugin *plugin = g_ptr_array_index (plugins, 0);
  assert_string_equal (mact_plugin_get_name (plugin), "mmcls");
  assert_string_equal (mact_plugin_get_family (plugin), "cls");
  assert_true (g_str_has_suffix (mact_plugin_get_filename (plugin), "libmact-cls-mmcls.so"));

  /* Built by name with GObject properties (dashed names), as a program would. */
  const char *prop_names[] = { "depth", "stem-channels", "base-channels" };
  GValue values[3] = { G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT };
  const gint prop_values[] = { 50, 8, 4 };
  for (guint i = 0; i < 3; i++)
    {
      g_value_init (&values[i], G_TYPE_INT);
      g_value_set_int (&values[i], prop_values[i]);
    }
  g_autoptr(MactModule) r50 = mact_registry_create_block (registry, "mmcls.ResNet",
                                                          MACT_TYPE_BACKBONE, 3, prop_names,
                                                          values, &error);
  g_assert_no_error (error);
  g_autoptr(MactTensorDict) weights = load_weights ("resnet50");
  load_strict (r50, weights);
  GError *local = NULL;
  assert_null (mact_registry_create_block (registry, "cls.ResNet", MACT_TYPE_HEAD, 3,
                                           prop_names, values, &local));
  mact_test_assert_error (&local, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND);
  for (guint i = 0; i < 3; i++)
    g_value_unset (&values[i]);

  /* A name the family does not have. */
  assert_build_error ("{\"type\": \"mmcls.VGG\", \"depth\": 11}", MACT_REGISTRY_ERROR,
                      MACT_REGISTRY_ERROR_NOT_FOUND);
}

/* ------------------------------------------------------------------ parity */

static void
test_resnet18_parity (void **state)
{
  /* All four stages: a 4-tuple in stage order. */
  g_autoptr(MactModule) resnet = parity ("resnet18");
  assert_int_equal (mact_sequential_get_length (MACT_SEQUENTIAL (submodule (resnet,
                                                                            "layer4"))), 2);
  /* The stem is conv1, bn1, relu (mmcls's names, not ConvModule's). */
  assert_true (MACT_IS_CONV (submodule (resnet, "conv1")));
  assert_true (MACT_IS_BATCH_NORM (submodule (resnet, "bn1")));
  assert_true (MACT_IS_ACTIVATION (submodule (resnet, "relu")));
  assert_true (MACT_IS_BATCH_NORM (submodule (resnet, "layer2.0.downsample.1")));
  /* No parameters in drop_path (an Identity at rate 0). */
  assert_true (MACT_IS_IDENTITY (submodule (resnet, "layer1.0.drop_path")));
}

static void
test_resnet50_parity (void **state)
{
  /* Built as "mmcls.ResNet", mmcls's default out_indices (3,): a 1-tuple. */
  g_autoptr(MactModule) resnet = parity ("resnet50");
  assert_true (MACT_IS_CONV (submodule (resnet, "layer1.0.conv3")));
  assert_true (MACT_IS_CONV (submodule (resnet, "layer1.0.downsample.0")));
}

static void
test_resnet50_v1d_parity (void **state)
{
  /* deep_stem + avg_down: stem.0..2 ConvModules; downsample AvgPool, conv, bn. */
  g_autoptr(MactModule) resnet = parity ("resnet50_v1d");
  assert_true (MACT_IS_CONV_MODULE (submodule (resnet, "stem.2")));
  assert_true (MACT_IS_AVG_POOL (submodule (resnet, "layer2.0.downsample.0")));
  assert_true (MACT_IS_CONV (submodule (resnet, "layer2.0.downsample.1")));
  /* layer1 has stride 1 and keeps the stem's 16 channels (4 * 4): no shortcut. */
  assert_null (mact_module_get_child (submodule (resnet, "layer1.0"), "downsample"));
}

static void
test_resnet50_caffe_parity (void **state)
{
  /* caffe style with strides (1, 2, 1, 1) and dilations (1, 1, 2, 2), two outputs. */
  g_autoptr(MactModule) resnet = parity ("resnet50_caffe");
  /* The stride sits on conv1 (1x1), conv2 is dilated from layer3 on. */
  gint64 stride[2] = { 0, 0 }, dilation[2] = { 0, 0 };
  g_autoptr(GVariant) s = NULL;
  g_autoptr(GVariant) d = NULL;
  g_object_get (submodule (resnet, "layer2.0.conv1"), "stride", &s, NULL);
  g_object_get (submodule (resnet, "layer3.0.conv2"), "dilation", &d, NULL);
  g_variant_get_child (s, 0, "x", &stride[0]);
  g_variant_get_child (d, 0, "x", &dilation[0]);
  assert_int_equal (stride[0], 2);
  assert_int_equal (dilation[0], 2);
}

static void
test_resnet34_parity (void **state)
{
  /* 3 stages, 2 input channels, outputs of stages 0 and 2. */
  g_autoptr(MactModule) resnet = parity ("resnet34_3stages");
  assert_null (mact_module_get_child (resnet, "layer4"));
}

static void
test_resnext50_parity (void **state)
{
  g_autoptr(MactModule) resnext = parity ("resnext50");
  /* conv2 is grouped: 4 groups of 4 channels at stage 1 ([16, 4, 3, 3]). */
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (resnext);
  assert_shape (mact_tensor_dict_lookup (sd, "layer1.0.conv2.weight"), "[16, 4, 3, 3]");
  assert_shape (mact_tensor_dict_lookup (sd, "layer4.2.conv2.weight"), "[128, 32, 3, 3]");
}

static void
test_mobilenet_v2_parity (void **state)
{
  /* widen_factor 0.35, out_indices (4, 7): layer5 and conv2. */
  g_autoptr(MactModule) mobilenet = parity ("mobilenet_v2");
  /* make_divisible(32 * 0.35 = 11.2, 8) rounds to 8 < 0.9 * 11.2, so goes up to 16. */
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (mobilenet);
  assert_shape (mact_tensor_dict_lookup (sd, "conv1.conv.weight"), "[16, 3, 3, 3]");
  /* layer1 has expand_ratio 1: no expansion conv, the depthwise conv comes first. */
  assert_shape (mact_tensor_dict_lookup (sd, "layer1.0.conv.0.conv.weight"), "[16, 1, 3, 3]");
  assert_true (MACT_IS_ACTIVATION (submodule (mobilenet, "layer2.0.conv.0.activate")));
  assert_null (mact_module_get_child (submodule (mobilenet, "layer2.0.conv.2"), "activate"));
}

/* ------------------------------------------------------------------ structure */

/* Models too big for weight fixtures: keys and shapes against the PyTorch
 * re-implementation's, from structure.json.  mmcls's default ResNet-50 and MobileNetV2
 * are at full width (the shapes of real checkpoints); the deeper ones (ResNet-101/152,
 * ResNeXt-101 32x4d, ...) use reduced widths, their keys being what matters. */
static void
test_structure (void **state)
{
  g_autofree char *path = data_path ("structure.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, path, &error))
    fail_msg ("%s: %s", path, error->message);
  JsonArray *cases = json_node_get_array (json_parser_get_root (parser));
  assert_true (json_array_get_length (cases) >= 7);

  for (guint c = 0; c < json_array_get_length (cases); c++)
    {
      JsonObject *entry = json_array_get_object_element (cases, c);
      const char *name = json_object_get_string_member (entry, "name");
      g_autofree char *config = json_to_string (json_object_get_member (entry, "config"),
                                                FALSE);
      JsonArray *keys = json_object_get_array_member (entry, "keys");
      g_autoptr(MactModule) module = build (config);
      g_autoptr(MactTensorDict) sd = mact_module_state_dict (module);
      if (mact_tensor_dict_get_size (sd) != json_array_get_length (keys))
        fail_msg ("%s: %u keys, expected %u", name, mact_tensor_dict_get_size (sd),
                  json_array_get_length (keys));
      for (guint i = 0; i < json_array_get_length (keys); i++)
        {
          JsonArray *pair = json_array_get_array_element (keys, i);
          const char *key = json_array_get_string_element (pair, 0);
          JsonArray *dims = json_array_get_array_element (pair, 1);
          if (!g_str_equal (mact_tensor_dict_get_key (sd, i), key))
            fail_msg ("%s: key %u is %s, expected %s", name, i,
                      mact_tensor_dict_get_key (sd, i), key);
          MactTensor *t = mact_tensor_dict_get_value (sd, i);
          gboolean same = (guint) mact_tensor_get_ndim (t) == json_array_get_length (dims);
          for (guint d = 0; same && d < json_array_get_length (dims); d++)
            same = mact_tensor_get_size (t, d) == json_array_get_int_element (dims, d);
          if (!same)
            {
              g_autofree char *shape = mact_tensor_shape_to_string (t);
              fail_msg ("%s: %s has shape %s", name, key, shape);
            }
        }
    }
}

static void
test_output_shapes (void **state)
{
  /* mmcls's docstring example: ResNet-18 on (1, 3, 32, 32) with all four stages. */
  g_autoptr(MactModule) r18 = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                     "\"stem_channels\": 8, \"base_channels\": 8, "
                                     "\"out_indices\": [3, 0, 2, 1]}");
  const gint64 shape[] = { 1, 3, 32, 32 };
  g_autoptr(MactTensor) x = random_input (4, shape, 3);
  mact_module_eval (r18);
  g_autoptr(GPtrArray) outs = no_grad_forward (r18, x);
  /* Stage order whatever the order of out_indices; widths base * 2^i. */
  assert_int_equal (outs->len, 4);
  assert_shape (g_ptr_array_index (outs, 0), "[1, 8, 8, 8]");
  assert_shape (g_ptr_array_index (outs, 1), "[1, 16, 4, 4]");
  assert_shape (g_ptr_array_index (outs, 2), "[1, 32, 2, 2]");
  assert_shape (g_ptr_array_index (outs, 3), "[1, 64, 1, 1]");

  /* A single stage is still a tuple (of one). */
  g_autoptr(MactModule) mb = build ("{\"type\": \"mmcls.MobileNetV2\", "
                                    "\"widen_factor\": 0.25, \"out_indices\": [6]}");
  mact_module_eval (mb);
  g_autoptr(GPtrArray) mb_outs = no_grad_forward (mb, x);
  assert_int_equal (mb_outs->len, 1);
  assert_shape (g_ptr_array_index (mb_outs, 0), "[1, 80, 1, 1]");

  /* expansion 2 for a Bottleneck network: stage widths base * 2 * 2^i. */
  g_autoptr(MactModule) r50 = build ("{\"type\": \"cls.ResNet\", \"depth\": 50, "
                                     "\"expansion\": 2, \"stem_channels\": 8, "
                                     "\"base_channels\": 4, \"num_stages\": 2, "
                                     "\"strides\": [1, 2], \"dilations\": [1, 1], "
                                     "\"out_indices\": [0, 1]}");
  mact_module_eval (r50);
  g_autoptr(GPtrArray) r50_outs = no_grad_forward (r50, x);
  assert_shape (g_ptr_array_index (r50_outs, 0), "[1, 8, 8, 8]");
  assert_shape (g_ptr_array_index (r50_outs, 1), "[1, 16, 4, 4]");
}

/* ------------------------------------------------------------------ frozen stages */

static void
test_resnet_frozen_stages (void **state)
{
  g_autoptr(MactModule) resnet = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                        "\"stem_channels\": 8, \"base_channels\": 8, "
                                        "\"out_indices\": [0, 1, 2, 3], "
                                        "\"frozen_stages\": 2}");
  /* Frozen from construction on, as mmcls's constructor calls _freeze_stages(). */
  for (gint round = 0; round < 2; round++)
    {
      mact_module_train (resnet, TRUE);
      assert_false (param_requires_grad (resnet, "conv1.weight"));
      assert_false (param_requires_grad (resnet, "bn1.weight"));
      assert_false (param_requires_grad (resnet, "layer1.0.conv1.weight"));
      assert_false (param_requires_grad (resnet, "layer2.1.bn2.bias"));
      assert_true (param_requires_grad (resnet, "layer3.0.conv1.weight"));
      assert_true (param_requires_grad (resnet, "layer4.1.bn2.weight"));
      /* Modes: bn1 and the frozen stages in eval, the rest training. */
      assert_true (mact_module_is_training (resnet));
      assert_false (mact_module_is_training (submodule (resnet, "bn1")));
      assert_false (mact_module_is_training (submodule (resnet, "layer1")));
      assert_false (mact_module_is_training (submodule (resnet, "layer2.1.bn1")));
      assert_true (mact_module_is_training (submodule (resnet, "layer3.0.bn1")));
      assert_true (mact_module_is_training (submodule (resnet, "layer4")));
      /* eval() then train() again: the frozen parts stay frozen. */
      mact_module_eval (resnet);
      assert_false (mact_module_is_training (submodule (resnet, "layer3.0.bn1")));
    }

  /* One backward in train mode: gradients reach the trained stages only. */
  mact_module_train (resnet, TRUE);
  const gint64 shape[] = { 2, 3, 32, 32 };
  g_autoptr(MactTensor) x = random_input (4, shape, 4);
  g_autoptr(GPtrArray) train_outs = forward (resnet, x);
  g_autoptr(MactTensor) loss = mact_sum_all (g_ptr_array_index (train_outs, 3));
  g_autoptr(GError) error = NULL;
  assert_true (mact_tensor_backward (loss, NULL, &error));
  g_assert_no_error (error);
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (resnet);
  assert_null (mact_tensor_get_grad (mact_tensor_dict_lookup (params, "conv1.weight")));
  assert_null (mact_tensor_get_grad (mact_tensor_dict_lookup (params, "layer2.1.conv2.weight")));
  assert_non_null (mact_tensor_get_grad (mact_tensor_dict_lookup (params,
                                                                  "layer3.0.conv1.weight")));
  assert_non_null (mact_tensor_get_grad (mact_tensor_dict_lookup (params, "layer4.1.bn2.bias")));

  /* With every stage frozen the network computes in train mode what it computes in eval
   * mode: compare with the fixture. */
  g_autoptr(MactModule) all = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                     "\"stem_channels\": 8, \"base_channels\": 8, "
                                     "\"out_indices\": [0, 1, 2, 3], \"frozen_stages\": 4}");
  g_autoptr(MactTensorDict) weights = load_weights ("resnet18");
  load_strict (all, weights);
  mact_module_train (all, TRUE);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("cls/resnet18");
  g_autoptr(GPtrArray) outs = forward (all, mact_test_fixture_get (fx, "input"));
  mact_test_assert_close (g_ptr_array_index (outs, 3), mact_test_fixture_get (fx, "out3"),
                          1e-4, "frozen resnet18 layer4");
  /* No parameter takes part in autograd. */
  assert_false (mact_tensor_get_requires_grad (g_ptr_array_index (outs, 3)));

  /* deep_stem: the whole stem is frozen (eval, no gradients). */
  g_autoptr(MactModule) deep = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                      "\"stem_channels\": 8, \"base_channels\": 8, "
                                      "\"deep_stem\": true, \"frozen_stages\": 0}");
  mact_module_train (deep, TRUE);
  assert_false (mact_module_is_training (submodule (deep, "stem")));
  assert_false (mact_module_is_training (submodule (deep, "stem.1.bn")));
  assert_false (param_requires_grad (deep, "stem.2.conv.weight"));
  assert_true (param_requires_grad (deep, "layer1.0.conv1.weight"));
  assert_true (mact_module_is_training (submodule (deep, "layer1.0.bn1")));
}

static void
test_resnet_norm_eval (void **state)
{
  g_autoptr(MactModule) resnet = build ("{\"type\": \"cls.ResNeXt\", \"depth\": 50, "
                                        "\"groups\": 4, \"width_per_group\": 4, "
                                        "\"stem_channels\": 8, \"base_channels\": 4, "
                                        "\"norm_eval\": true}");
  g_autoptr(MactTensorDict) weights = load_weights ("resnext50");
  load_strict (resnet, weights);
  mact_module_train (resnet, TRUE);
  /* Every batch norm in eval mode, every parameter still trained. */
  assert_true (mact_module_is_training (resnet));
  assert_false (mact_module_is_training (submodule (resnet, "bn1")));
  assert_false (mact_module_is_training (submodule (resnet, "layer3.4.bn2")));
  assert_false (mact_module_is_training (submodule (resnet, "layer4.0.downsample.1")));
  assert_true (mact_module_is_training (submodule (resnet, "layer3.4")));
  assert_true (param_requires_grad (resnet, "layer3.4.bn2.weight"));

  /* Train mode then equals the eval-mode fixture, and running statistics do not move. */
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (resnet);
  MactTensor *running_mean = mact_tensor_dict_lookup (sd, "layer1.0.bn1.running_mean");
  g_autoptr(MactTensor) before = mact_tensor_clone (running_mean);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("cls/resnext50");
  g_autoptr(GPtrArray) outs = no_grad_forward (resnet, mact_test_fixture_get (fx, "input"));
  mact_test_assert_close (g_ptr_array_index (outs, 0), mact_test_fixture_get (fx, "out0"),
                          1e-4, "norm_eval resnext50");
  mact_test_assert_close (running_mean, before, 0.0, "running_mean");

  /* Without norm_eval the batch norms train (batch statistics) with the rest. */
  g_autoptr(MactModule) plain = build ("{\"type\": \"cls.ResNeXt\", \"depth\": 50, "
                                       "\"groups\": 4, \"width_per_group\": 4, "
                                       "\"stem_channels\": 8, \"base_channels\": 4}");
  mact_module_train (plain, TRUE);
  assert_true (mact_module_is_training (submodule (plain, "layer3.4.bn2")));
}

static void
test_mobilenet_v2_frozen_stages (void **state)
{
  g_autoptr(MactModule) mb = build ("{\"type\": \"cls.MobileNetV2\", \"widen_factor\": 0.25, "
                                    "\"frozen_stages\": 3, \"norm_eval\": false}");
  mact_module_train (mb, TRUE);
  /* conv1: no gradients, but (as in mmcls) still in train mode. */
  assert_false (param_requires_grad (mb, "conv1.conv.weight"));
  assert_false (param_requires_grad (mb, "conv1.bn.weight"));
  assert_true (mact_module_is_training (submodule (mb, "conv1.bn")));
  assert_false (param_requires_grad (mb, "layer3.2.conv.1.bn.bias"));
  assert_false (mact_module_is_training (submodule (mb, "layer3.2.conv.1.bn")));
  assert_false (mact_module_is_training (submodule (mb, "layer1")));
  assert_true (param_requires_grad (mb, "layer4.0.conv.0.conv.weight"));
  assert_true (mact_module_is_training (submodule (mb, "layer4.0.conv.0.bn")));
  assert_true (param_requires_grad (mb, "conv2.conv.weight"));

  /* norm_eval: every batch norm in eval mode when training. */
  g_autoptr(MactModule) ne = build ("{\"type\": \"cls.MobileNetV2\", \"widen_factor\": 0.25, "
                                    "\"norm_eval\": true}");
  mact_module_train (ne, TRUE);
  assert_false (mact_module_is_training (submodule (ne, "conv1.bn")));
  assert_false (mact_module_is_training (submodule (ne, "conv2.bn")));
  assert_true (mact_module_is_training (submodule (ne, "layer7")));
  assert_true (param_requires_grad (ne, "conv2.bn.weight"));

  /* frozen_stages 7 freezes layer1 .. layer7 but not conv2. */
  g_autoptr(MactModule) seven = build ("{\"type\": \"cls.MobileNetV2\", "
                                       "\"widen_factor\": 0.25, \"frozen_stages\": 7}");
  assert_false (param_requires_grad (seven, "layer7.0.conv.2.conv.weight"));
  assert_true (param_requires_grad (seven, "conv2.conv.weight"));
}

static void
test_norm_cfg (void **state)
{
  /* requires_grad False: every norm's affine parameters are frozen, convs are not. */
  g_autoptr(MactModule) resnet = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                        "\"stem_channels\": 8, \"base_channels\": 8, "
                                        "\"deep_stem\": true, \"norm_cfg\": {\"type\": "
                                        "\"BN\", \"requires_grad\": false, \"eps\": 0.001}}");
  assert_false (param_requires_grad (resnet, "stem.0.bn.weight"));
  assert_false (param_requires_grad (resnet, "layer2.0.downsample.1.bias"));
  assert_false (param_requires_grad (resnet, "layer4.1.bn2.weight"));
  assert_true (param_requires_grad (resnet, "layer4.1.conv2.weight"));
  double eps = 0.0;
  g_object_get (submodule (resnet, "layer3.1.bn1"), "eps", &eps, NULL);
  assert_true (fabs (eps - 0.001) < 1e-12);
  g_object_get (submodule (resnet, "stem.1.bn"), "eps", &eps, NULL);
  assert_true (fabs (eps - 0.001) < 1e-12);

  /* SyncBN is a batch norm with the sync property (plain BN in one process); conv_cfg
   * Conv2d is the default. */
  g_autoptr(MactModule) mb = build ("{\"type\": \"cls.MobileNetV2\", \"widen_factor\": 0.25, "
                                    "\"norm_cfg\": {\"type\": \"SyncBN\"}, "
                                    "\"conv_cfg\": {\"type\": \"Conv2d\"}, "
                                    "\"act_cfg\": {\"type\": \"ReLU\", \"inplace\": true}}");
  assert_true (MACT_IS_BATCH_NORM (submodule (mb, "conv1.bn")));
  gboolean sync = FALSE;
  g_object_get (submodule (mb, "conv1.bn"), "sync", &sync, NULL);
  assert_true (sync);
  MactActivationKind kind;
  g_object_get (submodule (mb, "layer2.0.conv.1"), "act", &kind, NULL);
  assert_int_equal (kind, MACT_ACTIVATION_RELU);
  g_autoptr(MactModule) mb6 = build ("{\"type\": \"cls.MobileNetV2\", \"widen_factor\": 0.25}");
  g_object_get (submodule (mb6, "layer2.0.conv.1"), "act", &kind, NULL);
  assert_int_equal (kind, MACT_ACTIVATION_RELU6);
}

/* ------------------------------------------------------------------ initialisation */

static void
test_init_weights (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) resnet = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                        "\"stem_channels\": 8, \"base_channels\": 8}");
  g_autoptr(MactGenerator) generator = mact_generator_new (5);
  assert_true (mact_module_init_weights (resnet, generator, &error));
  g_assert_no_error (error);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (resnet);
  /* Constant 1 / 0 for the norms, zero_init_residual for each block's last norm. */
  MactTensor *bn1 = mact_tensor_dict_lookup (sd, "layer1.0.bn1.weight");
  MactTensor *bn2 = mact_tensor_dict_lookup (sd, "layer1.0.bn2.weight");
  MactTensor *ds = mact_tensor_dict_lookup (sd, "layer2.0.downsample.1.weight");
  for (gint64 i = 0; i < mact_tensor_get_numel (bn1); i++)
    {
      assert_true (mact_tensor_get_data (bn1)[i] == 1.0f);
      assert_true (mact_tensor_get_data (bn2)[i] == 0.0f);
    }
  assert_true (mact_tensor_get_data (ds)[0] == 1.0f);
  /* Kaiming normal, fan_out, ReLU gain: std sqrt(2 / (64 * 9)) for layer4's 3x3 convs. */
  MactTensor *w = mact_tensor_dict_lookup (sd, "layer4.0.conv2.weight");
  double sum2 = 0.0;
  const float *data = mact_tensor_get_data (w);
  gint64 n = mact_tensor_get_numel (w);
  for (gint64 i = 0; i < n; i++)
    sum2 += (double) data[i] * data[i];
  double std = sqrt (sum2 / n), expected = sqrt (2.0 / (64 * 9));
  assert_true (fabs (std - expected) < 0.1 * expected);

  /* zero_init_residual False: the last norms are 1 too (Bottleneck: bn3). */
  g_autoptr(MactModule) r50 = build ("{\"type\": \"cls.ResNet\", \"depth\": 50, "
                                     "\"stem_channels\": 8, \"base_channels\": 4, "
                                     "\"zero_init_residual\": false}");
  assert_true (mact_module_init_weights (r50, generator, &error));
  g_autoptr(MactTensorDict) sd50 = mact_module_state_dict (r50);
  assert_true (mact_tensor_get_data (mact_tensor_dict_lookup (sd50,
                                                              "layer1.0.bn3.weight"))[0] == 1.0f);

  /* An init_cfg list, in order: Normal on every conv, then Constant on the batch norms
   * (by a base class name) with a bias from bias_prob; zero_init_residual still runs
   * after it (only a Pretrained dict skips it). */
  g_autoptr(MactModule) custom = build ("{\"type\": \"cls.MobileNetV2\", "
                                        "\"widen_factor\": 0.25, \"init_cfg\": ["
                                        "{\"type\": \"Normal\", \"std\": 0.01, "
                                        "\"layer\": [\"Conv2d\"]},"
                                        "{\"type\": \"Constant\", \"val\": 0.5, "
                                        "\"bias_prob\": 0.01, \"layer\": \"_BatchNorm\"}]}");
  assert_true (mact_module_init_weights (custom, generator, &error));
  g_assert_no_error (error);
  g_autoptr(MactTensorDict) sdc = mact_module_state_dict (custom);
  MactTensor *conv2 = mact_tensor_dict_lookup (sdc, "conv2.conv.weight");
  double csum2 = 0.0;
  for (gint64 i = 0; i < mact_tensor_get_numel (conv2); i++)
    csum2 += (double) mact_tensor_get_data (conv2)[i] * mact_tensor_get_data (conv2)[i];
  double cstd = sqrt (csum2 / mact_tensor_get_numel (conv2));
  assert_true (fabs (cstd - 0.01) < 0.001);
  MactTensor *bnw = mact_tensor_dict_lookup (sdc, "layer3.1.conv.1.bn.weight");
  MactTensor *bnb = mact_tensor_dict_lookup (sdc, "layer3.1.conv.1.bn.bias");
  assert_true (mact_tensor_get_data (bnw)[0] == 0.5f);
  assert_true (fabsf (mact_tensor_get_data (bnb)[0] - (float) -log (0.99 / 0.01)) < 1e-5f);

  g_autoptr(MactModule) zeroed = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                        "\"stem_channels\": 8, \"base_channels\": 8, "
                                        "\"init_cfg\": {\"type\": \"Uniform\", \"a\": 2, "
                                        "\"b\": 3, \"layer\": \"BatchNorm2d\"}}");
  assert_true (mact_module_init_weights (zeroed, generator, &error));
  g_autoptr(MactTensorDict) sdz = mact_module_state_dict (zeroed);
  float u = mact_tensor_get_data (mact_tensor_dict_lookup (sdz, "layer1.1.bn1.weight"))[0];
  assert_true (u >= 2.0f && u < 3.0f);
  assert_true (mact_tensor_get_data (mact_tensor_dict_lookup (sdz,
                                                              "layer1.1.bn2.weight"))[0] == 0.0f);

  /* Kaiming on a batch norm's 1-D weight fails as in PyTorch (no fans). */
  g_autoptr(MactModule) bad = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                     "\"stem_channels\": 8, \"base_channels\": 8, "
                                     "\"init_cfg\": {\"type\": \"Kaiming\", "
                                     "\"layer\": \"_BatchNorm\"}}");
  GError *local = NULL;
  assert_false (mact_module_init_weights (bad, generator, &local));
  mact_test_assert_error (&local, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
}

static void
assert_pretrained_error (const char *config, GQuark domain, gint code)
{
  g_autoptr(MactModule) module = build (config);
  GError *error = NULL;
  if (mact_module_init_weights (module, NULL, &error))
    fail_msg ("init_weights of %s succeeded, expected an error", config);
  mact_test_assert_error (&error, domain, code);
}

static void
test_init_cfg_pretrained (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *weights_path = data_path ("resnet18_weights.safetensors");
  const char *base = "\"type\": \"cls.ResNet\", \"depth\": 18, \"stem_channels\": 8, "
                     "\"base_channels\": 8, \"out_indices\": [0, 1, 2, 3]";
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("cls/resnet18");

  /* A backbone checkpoint: loaded as it is by init_weights (no zero_init_residual). */
  g_autoptr(JsonNode) path_node = json_node_init_string (json_node_alloc (), weights_path);
  g_autofree char *quoted = json_to_string (path_node, FALSE);
  g_autofree char *config = g_strdup_printf ("{%s, \"init_cfg\": {\"type\": \"Pretrained\", "
                                             "\"checkpoint\": %s}}", base, quoted);
  g_autoptr(MactModule) resnet = build (config);
  assert_true (mact_module_init_weights (resnet, NULL, &error));
  g_assert_no_error (error);
  mact_module_eval (resnet);
  g_autoptr(GPtrArray) outs = no_grad_forward (resnet, mact_test_fixture_get (fx, "input"));
  mact_test_assert_close (g_ptr_array_index (outs, 3), mact_test_fixture_get (fx, "out3"),
                          1e-4, "pretrained resnet18");

  /* A classifier checkpoint (backbone.*, head.*) with prefix 'backbone' (no dot). */
  g_autoptr(MactTensorDict) weights = load_weights ("resnet18");
  g_autoptr(MactTensorDict) classifier = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (weights); i++)
    {
      g_autofree char *key = g_strconcat ("backbone.", mact_tensor_dict_get_key (weights, i),
                                          NULL);
      mact_tensor_dict_insert (classifier, key, mact_tensor_dict_get_value (weights, i));
    }
  const gint64 fc_shape[] = { 10, 64 };
  g_autoptr(MactTensor) fc = mact_tensor_new (2, fc_shape, NULL);
  mact_tensor_dict_insert (classifier, "head.fc.weight", fc);
  g_autofree char *dir = g_dir_make_tmp ("mact-cls-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *cls_path = g_build_filename (dir, "classifier.safetensors", NULL);
  assert_true (mact_safetensors_save (cls_path, classifier, NULL, &error));
  g_assert_no_error (error);
  g_autoptr(JsonNode) cls_node = json_node_init_string (json_node_alloc (), cls_path);
  g_autofree char *cls_quoted = json_to_string (cls_node, FALSE);

  g_autofree char *prefixed = g_strdup_printf ("{%s, \"init_cfg\": {\"type\": \"Pretrained\", "
                                               "\"checkpoint\": %s, \"prefix\": \"backbone\"}}",
                                               base, cls_quoted);
  g_autoptr(MactModule) from_cls = build (prefixed);
  assert_true (mact_module_init_weights (from_cls, NULL, &error));
  g_assert_no_error (error);
  mact_module_eval (from_cls);
  g_autoptr(GPtrArray) outs2 = no_grad_forward (from_cls, mact_test_fixture_get (fx, "input"));
  mact_test_assert_close (g_ptr_array_index (outs2, 3), mact_test_fixture_get (fx, "out3"),
                          1e-4, "pretrained resnet18 from a classifier checkpoint");

  /* Errors: no key fits (the classifier without prefix), a prefix not in the file, a
   * URL, a missing file, a shape mismatch (a wider network). */
  g_autofree char *no_prefix = g_strdup_printf ("{%s, \"init_cfg\": {\"type\": \"Pretrained\", "
                                                "\"checkpoint\": %s}}", base, cls_quoted);
  assert_pretrained_error (no_prefix, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT);
  g_autofree char *bad_prefix = g_strdup_printf ("{%s, \"init_cfg\": {\"type\": "
                                                 "\"Pretrained\", \"checkpoint\": %s, "
                                                 "\"prefix\": \"neck.\"}}", base, cls_quoted);
  assert_pretrained_error (bad_prefix, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT);
  g_autofree char *url = g_strdup_printf ("{%s, \"init_cfg\": {\"type\": \"Pretrained\", "
                                          "\"checkpoint\": \"https://download.openmmlab.com/"
                                          "mmclassification/v0/resnet/r18.pth\"}}", base);
  assert_pretrained_error (url, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED);
  g_autofree char *missing = g_strdup_printf ("{%s, \"init_cfg\": {\"type\": \"Pretrained\", "
                                              "\"checkpoint\": \"/nonexistent/r18."
                                              "safetensors\"}}", base);
  assert_pretrained_error (missing, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);
  g_autofree char *wider = g_strdup_printf ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                            "\"stem_channels\": 16, \"base_channels\": 8, "
                                            "\"init_cfg\": {\"type\": \"Pretrained\", "
                                            "\"checkpoint\": %s}}", quoted);
  assert_pretrained_error (wider, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT);

  /* MobileNetV2 takes the same init_cfg. */
  g_autofree char *mb_path = data_path ("mobilenet_v2_weights.safetensors");
  g_autoptr(JsonNode) mb_node = json_node_init_string (json_node_alloc (), mb_path);
  g_autofree char *mb_quoted = json_to_string (mb_node, FALSE);
  g_autofree char *mb_config = g_strdup_printf ("{\"type\": \"cls.MobileNetV2\", "
                                                "\"widen_factor\": 0.35, "
                                                "\"out_indices\": [4, 7], \"init_cfg\": "
                                                "{\"type\": \"Pretrained\", "
                                                "\"checkpoint\": %s}}", mb_quoted);
  g_autoptr(MactModule) mb = build (mb_config);
  assert_true (mact_module_init_weights (mb, NULL, &error));
  g_assert_no_error (error);
  g_autoptr(MactTestFixture) mb_fx = mact_test_fixture_load ("cls/mobilenet_v2");
  mact_module_eval (mb);
  g_autoptr(GPtrArray) mb_outs = no_grad_forward (mb, mact_test_fixture_get (mb_fx, "input"));
  mact_test_assert_close (g_ptr_array_index (mb_outs, 1), mact_test_fixture_get (mb_fx, "out1"),
                          1e-4, "pretrained mobilenet_v2");

  g_unlink (cls_path);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ drop path */

static void
test_drop_path (void **state)
{
  /* Same keys as without drop path; eval mode ignores it. */
  g_autoptr(MactModule) resnet = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                        "\"stem_channels\": 8, \"base_channels\": 8, "
                                        "\"out_indices\": [0, 1, 2, 3], "
                                        "\"drop_path_rate\": 0.3}");
  g_autoptr(MactTensorDict) weights = load_weights ("resnet18");
  load_strict (resnet, weights);
  mact_module_eval (resnet);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("cls/resnet18");
  g_autoptr(GPtrArray) outs = no_grad_forward (resnet, mact_test_fixture_get (fx, "input"));
  mact_test_assert_close (g_ptr_array_index (outs, 3), mact_test_fixture_get (fx, "out3"),
                          1e-4, "drop_path resnet18 (eval)");

  /* In training mode each sample's branch is kept (scaled by 1 / 0.7) or zeroed. */
  MactModule *drop = submodule (resnet, "layer3.1.drop_path");
  mact_module_train (resnet, TRUE);
  mact_manual_seed (11);
  const gint64 shape[] = { 200, 2, 1, 2 };
  g_autoptr(MactTensor) ones = mact_tensor_new_full (4, shape, 1.0f, NULL);
  g_autoptr(GPtrArray) dropped = no_grad_forward (drop, ones);
  MactTensor *y = g_ptr_array_index (dropped, 0);
  assert_shape (y, "[200, 2, 1, 2]");
  const float *data = mact_tensor_get_data (y);
  gint kept = 0;
  for (gint s = 0; s < 200; s++)
    {
      for (gint j = 1; j < 4; j++)
        assert_true (data[s * 4 + j] == data[s * 4]);
      if (data[s * 4] != 0.0f)
        {
          assert_true (fabsf (data[s * 4] - 1.0f / 0.7f) < 1e-6f);
          kept++;
        }
    }
  /* 200 draws with p = 0.7: 140 expected, sd 6.5. */
  assert_in_range (kept, 110, 170);

  /* Eval mode: the identity. */
  mact_module_eval (resnet);
  g_autoptr(GPtrArray) same = no_grad_forward (drop, ones);
  mact_test_assert_close (g_ptr_array_index (same, 0), ones, 0.0, "drop_path eval");
}

/* ------------------------------------------------------------------ errors */

static void
test_errors (void **state)
{
  const GQuark M = MACT_MODULE_ERROR;
  const gint ARG = MACT_MODULE_ERROR_INVALID_ARGUMENT;

  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 20}", M, ARG);
  /* ResNeXt has Bottleneck depths only. */
  assert_build_error ("{\"type\": \"cls.ResNeXt\", \"depth\": 18}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNeXt\", \"depth\": 50, \"groups\": 0}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"num_stages\": 5}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"strides\": [1, 2]}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"dilations\": [1, 1, 0, 1]}",
                      M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"out_indices\": [4]}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"out_indices\": [-1]}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"out_indices\": []}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"num_stages\": 2, "
                      "\"strides\": [1, 2], \"dilations\": [1, 1], \"out_indices\": [2]}",
                      M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 50, \"style\": \"tf\"}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"frozen_stages\": 5}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"frozen_stages\": -2}", M,
                      ARG);
  /* BasicBlock only has expansion 1. */
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 34, \"expansion\": 2}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 50, \"expansion\": -4}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"stem_channels\": 0}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"drop_path_rate\": 1.0}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"norm_cfg\": {\"type\": \"GN\", \"num_groups\": 2}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"norm_cfg\": {\"type\": \"BN\", \"requires_grad\": 1}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"norm_cfg\": {\"type\": \"BN\", \"eps\": 0}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"conv_cfg\": {\"type\": \"ConvWS\"}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Orthogonal\", \"layer\": \"Conv2d\"}}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Kaiming\", \"override\": {\"name\": "
                      "\"conv1\", \"type\": \"Constant\", \"val\": 0}}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Kaiming\", \"mode\": \"fan\"}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Kaiming\", \"nonlinearity\": \"gelu\"}}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": [{\"type\": \"Constant\", \"layer\": \"Conv2d\"}]}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Normal\", \"std\": \"big\"}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Normal\", \"layer\": 3}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Constant\", \"val\": 1, "
                      "\"bias_prob\": 1.5}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Constant\", \"val\": 1, \"std\": 1}}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": {\"type\": \"Pretrained\"}}", M, ARG);
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                      "\"init_cfg\": \"Pretrained\"}", M, ARG);
  assert_build_error ("{\"type\": \"cls.MobileNetV2\", \"out_indices\": [8]}", M, ARG);
  assert_build_error ("{\"type\": \"cls.MobileNetV2\", \"frozen_stages\": 8}", M, ARG);
  assert_build_error ("{\"type\": \"cls.MobileNetV2\", \"widen_factor\": 0}", M, ARG);
  assert_build_error ("{\"type\": \"cls.MobileNetV2\", \"act_cfg\": {\"type\": \"GELU\"}}", M,
                      ARG);
  assert_build_error ("{\"type\": \"cls.MobileNetV2\", \"act_cfg\": \"ReLU\"}", M, ARG);
  /* Config-level errors: unknown argument, missing depth. */
  assert_build_error ("{\"type\": \"cls.ResNet\", \"depth\": 18, \"pretrained\": null}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY);
  assert_build_error ("{\"type\": \"cls.ResNet\"}", MACT_CONFIG_ERROR,
                      MACT_CONFIG_ERROR_MISSING_KEY);

  /* Forward errors: wrong channels, wrong rank, two inputs. */
  g_autoptr(MactModule) resnet = build ("{\"type\": \"cls.ResNet\", \"depth\": 18, "
                                        "\"stem_channels\": 8, \"base_channels\": 8, "
                                        "\"num_stages\": 1, \"strides\": [1], "
                                        "\"dilations\": [1], \"out_indices\": [0]}");
  const gint64 bad_c[] = { 1, 4, 16, 16 }, bad_rank[] = { 3, 16, 16 };
  g_autoptr(MactTensor) x4 = random_input (4, bad_c, 1);
  g_autoptr(MactTensor) x3 = random_input (3, bad_rank, 1);
  GError *error = NULL;
  g_autoptr(GPtrArray) in = g_ptr_array_new ();
  g_ptr_array_add (in, x4);
  assert_null (mact_module_forward (resnet, in, &error));
  mact_test_assert_error (&error, M, MACT_MODULE_ERROR_INVALID_INPUT);
  g_ptr_array_index (in, 0) = x3;
  assert_null (mact_module_forward (resnet, in, &error));
  mact_test_assert_error (&error, M, MACT_MODULE_ERROR_INVALID_INPUT);
  g_ptr_array_add (in, x3);
  assert_null (mact_module_forward (resnet, in, &error));
  mact_test_assert_error (&error, M, MACT_MODULE_ERROR_INVALID_INPUT);

  g_autoptr(MactModule) mb = build ("{\"type\": \"cls.MobileNetV2\", \"widen_factor\": 0.25}");
  g_autoptr(GPtrArray) in_mb = g_ptr_array_new ();
  g_ptr_array_add (in_mb, x4);
  assert_null (mact_module_forward (mb, in_mb, &error));
  mact_test_assert_error (&error, M, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ------------------------------------------------------------------ recognizer */

/* mmaction2's test_tsn with an mmcls ResNeXt backbone (reference §4.1; a ResNeXt-50 with
 * reduced widths instead of ResNeXt-101 32x4d): the recognizer builds it through the
 * "mmcls." prefix, backbone_from is mmcls, the 1-tuple output is unwrapped and TSNHead
 * pools it. */
static void
test_recognizer_tsn_resnext (void **state)
{
  static const char config[] =
    "{\"type\": \"Recognizer2D\","
    " \"backbone\": {\"type\": \"mmcls.ResNeXt\", \"depth\": 50, \"num_stages\": 4,"
    "   \"out_indices\": [3], \"groups\": 4, \"width_per_group\": 4, \"style\": \"pytorch\","
    "   \"stem_channels\": 8, \"base_channels\": 4},"
    " \"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 5, \"in_channels\": 128,"
    "   \"spatial_type\": \"avg\", \"consensus\": {\"type\": \"AvgConsensus\", \"dim\": 1},"
    "   \"dropout_ratio\": 0.4, \"init_std\": 0.01},"
    " \"train_cfg\": null,"
    " \"test_cfg\": {\"average_clips\": null}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (config, -1, mact_registry_get_default (), &error);
  if (recognizer == NULL)
    fail_msg ("%s", error->message);
  assert_int_equal (mact_recognizer_get_backbone_from (recognizer), MACT_BACKBONE_SOURCE_MMCLS);

  /* The backbone's weights under backbone.* (a converted mmaction2 checkpoint's keys). */
  g_autoptr(MactTensorDict) weights = load_weights ("resnext50");
  MactModule *backbone = MACT_MODULE (mact_recognizer_get_backbone (recognizer));
  load_strict (backbone, weights);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (recognizer));
  assert_non_null (mact_tensor_dict_lookup (sd, "backbone.layer4.2.conv2.weight"));
  assert_non_null (mact_tensor_dict_lookup (sd, "cls_head.fc_cls.weight"));

  /* forward_test on [N=2, V=3, 3, 32, 32]: [N, K], the mean over the 3 segments of the
   * fc of the pooled features (checked against the backbone and fc_cls run here). */
  const gint64 shape[] = { 2, 3, 3, 32, 32 };
  g_autoptr(MactTensor) imgs = random_input (5, shape, 7);
  mact_module_eval (MACT_MODULE (recognizer));
  g_autoptr(MactTensor) scores = NULL;
  MACT_NO_GRAD_BEGIN
  scores = mact_recognizer_forward_test (recognizer, imgs, &error);
  MACT_NO_GRAD_END
  if (scores == NULL)
    fail_msg ("%s", error->message);
  assert_shape (scores, "[2, 5]");

  const gint64 folded_shape[] = { 6, 3, 32, 32 };
  g_autoptr(MactTensor) folded = mact_tensor_reshape (imgs, 4, folded_shape, &error);
  g_autoptr(MactTensor) contiguous = mact_tensor_contiguous (folded);
  g_autoptr(GPtrArray) feats = no_grad_forward (backbone, contiguous);
  assert_int_equal (feats->len, 1);
  assert_shape (g_ptr_array_index (feats, 0), "[6, 128, 1, 1]");
  const float *f = mact_tensor_get_data (g_ptr_array_index (feats, 0));
  MactModule *fc = submodule (MACT_MODULE (recognizer), "cls_head.fc_cls");
  const float *w = mact_tensor_get_data (mact_module_get_parameter (fc, "weight"));
  const float *b = mact_tensor_get_data (mact_module_get_parameter (fc, "bias"));
  float expected[10];
  for (gint n = 0; n < 2; n++)
    for (gint k = 0; k < 5; k++)
      {
        double acc = b[k];
        for (gint c = 0; c < 128; c++)
          {
            double mean = 0.0;
            for (gint s = 0; s < 3; s++)
              mean += f[(n * 3 + s) * 128 + c] / 3.0;
            acc += w[k * 128 + c] * mean;
          }
        expected[n * 5 + k] = (float) acc;
      }
  const gint64 out_shape[] = { 2, 5 };
  g_autoptr(MactTensor) expected_t = mact_tensor_new_from_data (expected, 10, 2, out_shape,
                                                                &error);
  mact_test_assert_close (scores, expected_t, 1e-4, "TSN with mmcls.ResNeXt");

  /* Training (mmaction2's (1, 3, 3, 32, 32) with label 2): a loss dict. */
  mact_module_train (MACT_MODULE (recognizer), TRUE);
  g_autoptr(MactTensor) one = mact_tensor_narrow (imgs, 0, 0, 1, &error);
  const gint64 label_shape[] = { 1, 1 };
  g_autoptr(MactTensor) labels = mact_tensor_new_full (2, label_shape, 2.0f, NULL);
  g_autoptr(MactTensorDict) losses = mact_recognizer_forward_train (recognizer, one, labels,
                                                                    NULL, &error);
  if (losses == NULL)
    fail_msg ("%s", error->message);
  MactTensor *loss = mact_tensor_dict_lookup (losses, "loss_cls");
  assert_non_null (loss);
  assert_true (isfinite (mact_tensor_item (loss)));
}

/* An mmcls backbone with several outputs: mmaction2's extract_feat asserts a 1-tuple;
 * here the tuple reaches TSNHead, which refuses it. */
static void
test_recognizer_multi_output (void **state)
{
  static const char config[] =
    "{\"type\": \"Recognizer2D\","
    " \"backbone\": {\"type\": \"mmcls.MobileNetV2\", \"widen_factor\": 0.25,"
    "   \"out_indices\": [6, 7]},"
    " \"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 1280},"
    " \"test_cfg\": {\"average_clips\": \"prob\"}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (config, -1, mact_registry_get_default (), &error);
  if (recognizer == NULL)
    fail_msg ("%s", error->message);
  const gint64 shape[] = { 1, 2, 3, 32, 32 };
  g_autoptr(MactTensor) imgs = random_input (5, shape, 8);
  mact_module_eval (MACT_MODULE (recognizer));
  GError *local = NULL;
  MactTensor *scores = NULL;
  MACT_NO_GRAD_BEGIN
  scores = mact_recognizer_forward_test (recognizer, imgs, &local);
  MACT_NO_GRAD_END
  assert_null (scores);
  mact_test_assert_error (&local, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_registry),
    cmocka_unit_test (test_resnet18_parity),
    cmocka_unit_test (test_resnet50_parity),
    cmocka_unit_test (test_resnet50_v1d_parity),
    cmocka_unit_test (test_resnet50_caffe_parity),
    cmocka_unit_test (test_resnet34_parity),
    cmocka_unit_test (test_resnext50_parity),
    cmocka_unit_test (test_mobilenet_v2_parity),
    cmocka_unit_test (test_structure),
    cmocka_unit_test (test_output_shapes),
    cmocka_unit_test (test_resnet_frozen_stages),
    cmocka_unit_test (test_resnet_norm_eval),
    cmocka_unit_test (test_mobilenet_v2_frozen_stages),
    cmocka_unit_test (test_norm_cfg),
    cmocka_unit_test (test_init_weights),
    cmocka_unit_test (test_init_cfg_pretrained),
    cmocka_unit_test (test_drop_path),
    cmocka_unit_test (test_errors),
    cmocka_unit_test (test_recognizer_tsn_resnext),
    cmocka_unit_test (test_recognizer_multi_output),
  };
  return cmocka_run_group_tests_name ("cls", tests, NULL, NULL);
}
