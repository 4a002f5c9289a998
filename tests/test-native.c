/* The native plugin (plugins/native, libmact-native-mmaction.so): mmaction2's ResNet, C3D,
 * TSNHead, I3DHead, CrossEntropyLoss, BCELossWithLogits, MixupBlending and CutmixBlending,
 * loaded from the build tree through the default registry (MACT_PLUGIN_PATH) and built
 * from JSON configs as a model config would build them.
 *
 * Values: ResNet-18/50 against torchvision (tests/fixtures/gen_native.py; the weights are
 * recomputed here from the same integer hash, see weight_value()), the losses against
 * PyTorch and mmaction2's formulas, heads against sums computed here in double, and the
 * blendings against their own definitions (recovering lam, the permutation and the cutmix
 * box from the outputs).  Shapes follow mmaction2's unit tests (reference §4). */
#include "mact-test.h"

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
build (const char *json, GType kind)
{
  g_autoptr(GError) error = NULL;
  MactModule *module = try_build (json, kind, &error);
  if (module == NULL)
    fail_msg ("building %s: %s", json, error->message);
  assert_true (G_TYPE_CHECK_INSTANCE_TYPE (module, kind));
  return module;
}

static void
assert_build_error (const char *json, GType kind, GQuark domain, gint code)
{
  GError *error = NULL;
  MactModule *module = try_build (json, kind, &error);
  if (module != NULL)
    {
      g_object_unref (module);
      fail_msg ("building %s succeeded, expected an error", json);
    }
  mact_test_assert_error (&error, domain, code);
}

static MactTensor *
tensor_from (const float *data, gsize n, gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (data, n, ndim, shape, &error);
  if (t == NULL)
    fail_msg ("tensor_from: %s", error->message);
  return t;
}

static GPtrArray *
forward (MactModule *module, MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                                mact_tensor_unref);
  g_ptr_array_add (inputs, mact_tensor_ref (x));
  GPtrArray *outputs = mact_module_forward (module, inputs, &error);
  if (outputs == NULL)
    fail_msg ("%s forward: %s", G_OBJECT_TYPE_NAME (module), error->message);
  return outputs;
}

static void
assert_forward_error (MactModule *module, GPtrArray *inputs, GQuark domain, gint code)
{
  GError *error = NULL;
  GPtrArray *outputs = mact_module_forward (module, inputs, &error);
  if (outputs != NULL)
    {
      g_ptr_array_unref (outputs);
      fail_msg ("%s forward succeeded, expected an error", G_OBJECT_TYPE_NAME (module));
    }
  mact_test_assert_error (&error, domain, code);
}

static GPtrArray *
tensors (MactTensor *a, MactTensor *b)
{
  GPtrArray *array = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (array, mact_tensor_ref (a));
  if (b != NULL)
    g_ptr_array_add (array, mact_tensor_ref (b));
  return array;
}

static void
assert_shape (MactTensor *t, const char *expected)
{
  g_autofree char *shape = mact_tensor_shape_to_string (t);
  if (!g_str_equal (shape, expected))
    fail_msg ("shape %s, expected %s", shape, expected);
}

static MactModule *
submodule (MactModule *module, const char *path)
{
  g_autoptr(GError) error = NULL;
  MactModule *sub = mact_module_get_submodule (module, path, &error);
  if (sub == NULL)
    fail_msg ("no submodule %s: %s", path, error->message);
  return sub;
}

static MactTensor *
param (MactModule *module, const char *key)
{
  g_autoptr(MactTensorDict) state = mact_module_state_dict (module);
  MactTensor *t = mact_tensor_dict_lookup (state, key);
  if (t == NULL)
    fail_msg ("no state-dict entry %s", key);
  return t;   /* owned by the module */
}

static double
tensor_std (MactTensor *t, double *mean_out)
{
  gint64 n = mact_tensor_get_numel (t);
  g_autofree float *v = g_new (float, n);
  mact_tensor_copy_to_array (t, v);
  double mean = 0.0, sq = 0.0;
  for (gint64 i = 0; i < n; i++)
    mean += v[i];
  mean /= (double) n;
  for (gint64 i = 0; i < n; i++)
    sq += (v[i] - mean) * (v[i] - mean);
  if (mean_out)
    *mean_out = mean;
  return sqrt (sq / (double) n);
}

static gboolean
all_equal_to (MactTensor *t, float value)
{
  gint64 n = mact_tensor_get_numel (t);
  g_autofree float *v = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (t, v);
  for (gint64 i = 0; i < n; i++)
    if (v[i] != value)
      return FALSE;
  return TRUE;
}

static gboolean
same_values (MactTensor *a, MactTensor *b)
{
  gint64 n = mact_tensor_get_numel (a);
  if (n != mact_tensor_get_numel (b))
    return FALSE;
  g_autofree float *va = g_new (float, MAX (n, 1));
  g_autofree float *vb = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (a, va);
  mact_tensor_copy_to_array (b, vb);
  return memcmp (va, vb, sizeof (float) * n) == 0;
}

/* ------------------------------------------------------------------ plugin */

static void
test_plugin_types (void **state)
{
  static const struct {
    const char *name;
    GType     (*kind) (void);
  } expected[] = {
    { "ResNet", mact_backbone_get_type },
    { "C3D", mact_backbone_get_type },
    { "TSNHead", mact_head_get_type },
    { "I3DHead", mact_head_get_type },
    { "CrossEntropyLoss", mact_loss_get_type },
    { "BCELossWithLogits", mact_loss_get_type },
    { "MixupBlending", mact_blending_get_type },
    { "CutmixBlending", mact_blending_get_type },
  };
  MactRegistry *reg = mact_registry_get_default ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = mact_registry_list_types (reg, "native", &error);
  assert_non_null (names);

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      assert_true (g_strv_contains ((const char *const *) names, expected[i].name));
      GType type = mact_registry_lookup_type (reg, expected[i].name, &error);
      assert_int_not_equal (type, G_TYPE_INVALID);
      assert_true (g_type_is_a (type, expected[i].kind ()));
      assert_false (G_TYPE_IS_ABSTRACT (type));
    }

  /* The plugin that provides them is the build tree's libmact-native-mmaction.so. */
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (reg, "native");
  gboolean found = FALSE;
  for (guint i = 0; plugins != NULL && i < plugins->len; i++)
    {
      MactPlugin *plugin = g_ptr_array_index (plugins, i);
      if (g_str_equal (mact_plugin_get_name (plugin), "mmaction"))
        {
          found = TRUE;
          assert_string_equal (mact_plugin_get_family (plugin), "native");
          assert_true (g_str_has_suffix (mact_plugin_get_filename (plugin),
                                         "libmact-native-mmaction.so"));
        }
    }
  assert_true (found);
}

static void
test_plugin_create_block (void **state)
{
  g_autoptr(GError) error = NULL;
  const char *names[] = { "depth", "num-stages", "out-indices", "strides", "dilations" };
  const gint64 one[] = { 1 }, zero[] = { 0 };
  GValue values[5] = { G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT };
  g_value_init (&values[0], G_TYPE_INT);
  g_value_set_int (&values[0], 18);
  g_value_init (&values[1], G_TYPE_INT);
  g_value_set_int (&values[1], 1);
  g_value_init (&values[2], G_TYPE_VARIANT);
  g_value_set_variant (&values[2], mact_int_tuple_new (1, zero));
  g_value_init (&values[3], G_TYPE_VARIANT);
  g_value_set_variant (&values[3], mact_int_tuple_new (1, one));
  g_value_init (&values[4], G_TYPE_VARIANT);
  g_value_set_variant (&values[4], mact_int_tuple_new (1, one));

  g_autoptr(MactModule) resnet = mact_registry_create_block (mact_registry_get_default (),
                                                             "ResNet", MACT_TYPE_BACKBONE,
                                                             5, names, values, &error);
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    g_value_unset (&values[i]);
  assert_non_null (resnet);
  gint depth = 0, num_stages = 0;
  g_object_get (resnet, "depth", &depth, "num-stages", &num_stages, NULL);
  assert_int_equal (depth, 18);
  assert_int_equal (num_stages, 1);
  assert_string_equal (mact_registry_type_name_of (G_OBJECT_TYPE (resnet)), "ResNet");

  /* A backbone is not a head. */
  g_autoptr(MactModule) none = mact_registry_create_block (mact_registry_get_default (),
                                                           "ResNet", MACT_TYPE_HEAD, 0, NULL,
                                                           NULL, &error);
  assert_null (none);
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND);
}

/* ------------------------------------------------------------------ ResNet parity */

/* The weights of gen_native.py: an integer hash of (key, index) mapped to a value range
 * per kind of tensor, computed in double and rounded to float, as numpy does there. */
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

static void
fill_weights (const char *key, MactTensor *t)
{
  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (t, &ndim);
  gint64 n = mact_tensor_get_numel (t);
  guint32 h = fnv1a (key);
  g_autofree float *v = g_new (float, n);

  for (gint64 i = 0; i < n; i++)
    {
      double u = hash_uniform (h, i), x = 0.0;
      if (g_str_has_suffix (key, "conv.weight"))
        x = (2.0 * u - 1.0) * sqrt (3.0 / (double) (shape[1] * shape[2] * shape[3]));
      else if (g_str_has_suffix (key, "bn.weight") || g_str_has_suffix (key, "bn.running_var"))
        x = 0.5 + u;
      else if (g_str_has_suffix (key, "bn.bias") || g_str_has_suffix (key, "bn.running_mean"))
        x = (u - 0.5) * 0.2;
      else
        fail_msg ("no weight formula for %s", key);
      v[i] = (float) x;
    }
  g_autoptr(MactTensor) src = tensor_from (v, n, ndim, shape);
  g_autoptr(GError) error = NULL;
  if (!mact_tensor_copy_from (t, src, &error))
    fail_msg ("copy into %s: %s", key, error->message);
}

static char *
shape_key (MactTensor *t)
{
  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (t, &ndim);
  GString *s = g_string_new (NULL);
  for (gint d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? "x" : "", shape[d]);
  return g_string_free (s, FALSE);
}

typedef struct {
  guint       calls;
  MactTensor *output;
} HookData;

static void
record_hook (MactModule *module, GPtrArray *inputs, GPtrArray *outputs, gpointer user_data)
{
  HookData *data = user_data;
  data->calls++;
  g_clear_pointer (&data->output, mact_tensor_unref);
  data->output = mact_tensor_ref (g_ptr_array_index (outputs, 0));
}

static MactTensor *
random_input (gint ndim, const gint64 *shape, guint64 seed)
{
  return mact_test_random (ndim, shape, seed, -1.0, 1.0);
}

static GPtrArray *
eval_forward (MactModule *module, MactTensor *x)
{
  GPtrArray *outs;
  mact_module_eval (module);
  MACT_NO_GRAD_BEGIN
  outs = forward (module, x);
  MACT_NO_GRAD_END
  return outs;
}

/* Builds the fixture's ResNet, checks its state-dict keys and shapes against
 * torchvision's (mapped to mmaction2's names), loads the hashed weights and compares the
 * eval-mode outputs of the fixture's stages.  Returns the ResNet. */
static MactModule *
resnet_parity (const char *fixture_name)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (fixture_name);
  gint64 out_indices[4];
  gint n_out = mact_test_fixture_meta_ints (fx, "out_indices", out_indices, 4);
  g_autofree char *json = g_strdup_printf ("{\"type\": \"ResNet\", \"depth\": %s, "
                                           "\"out_indices\": [%s]}",
                                           mact_test_fixture_meta (fx, "depth"),
                                           mact_test_fixture_meta (fx, "out_indices"));
  g_autoptr(MactModule) resnet = build (json, MACT_TYPE_BACKBONE);

  /* The state dict has exactly mmaction2's keys, in order, with torchvision's shapes. */
  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  g_autoptr(MactTensorDict) state = mact_module_state_dict (resnet);
  assert_int_equal (mact_tensor_dict_get_size (state), g_strv_length (keys));
  assert_int_equal (g_strv_length (shapes), g_strv_length (keys));
  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (!g_str_equal (mact_tensor_dict_get_key (state, i), keys[i]))
        fail_msg ("state-dict key %u is %s, expected %s", i,
                  mact_tensor_dict_get_key (state, i), keys[i]);
      MactTensor *t = mact_tensor_dict_get_value (state, i);
      g_autofree char *shape = shape_key (t);
      if (!g_str_equal (shape, shapes[i]))
        fail_msg ("%s has shape %s, expected %s", keys[i], shape, shapes[i]);
      if (!g_str_has_suffix (keys[i], "num_batches_tracked"))
        fill_weights (keys[i], t);
    }

  /* GradCAM's target layer, 'backbone/layer4/1/relu' in mmaction2's tests, exists and
   * runs through forward; on the last block (layer4.1 of R18, layer4.2 of R50) the hook
   * sees the backbone's output. */
  assert_true (MACT_IS_ACTIVATION (submodule (resnet, "layer4/1/relu")));
  HookData data = { 0, NULL };
  MactModule *relu = submodule (resnet, g_str_equal (mact_test_fixture_meta (fx, "depth"),
                                                     "18") ? "layer4.1.relu"
                                                           : "layer4.2.relu");
  gulong id = mact_module_add_forward_hook (relu, record_hook, &data, NULL);

  g_autoptr(GPtrArray) outs = eval_forward (resnet, mact_test_fixture_get (fx, "input"));
  assert_int_equal (outs->len, n_out);
  for (gint i = 0; i < n_out; i++)
    {
      g_autofree char *name = g_strdup_printf ("layer%" G_GINT64_FORMAT, out_indices[i] + 1);
      mact_test_assert_close (g_ptr_array_index (outs, i), mact_test_fixture_get (fx, name),
                              1e-4, name);
    }
  assert_int_equal (data.calls, 1);
  assert_true (same_values (data.output, g_ptr_array_index (outs, n_out - 1)));
  mact_module_remove_forward_hook (relu, id);
  g_clear_pointer (&data.output, mact_tensor_unref);
  return g_steal_pointer (&resnet);
}

static void
test_full_resnet18_parity (void **state)
{
  /* All four stages: a tuple in stage order, layer1 .. layer4. */
  g_autoptr(MactModule) resnet = resnet_parity ("native_resnet18");
  /* ResNet-18: two BasicBlocks per stage. */
  assert_int_equal (mact_sequential_get_length (MACT_SEQUENTIAL (submodule (resnet,
                                                                            "layer4"))), 2);
}

static void
test_full_resnet50 (void **state)
{
  /* mmaction2's defaults: one output, layer4. */
  g_autoptr(MactModule) resnet = resnet_parity ("native_resnet50");

  /* mmaction2's test_resnet_backbone: R50 on (2, 3, 64, 64) gives (2, 2048, 2, 2). */
  const gint64 shape[] = { 2, 3, 64, 64 };
  g_autoptr(MactTensor) x = random_input (4, shape, 1);
  g_autoptr(GPtrArray) outs = eval_forward (resnet, x);
  assert_int_equal (outs->len, 1);
  assert_shape (g_ptr_array_index (outs, 0), "[2, 2048, 2, 2]");

  /* Bottleneck names: the downsample exists on the first block of each stage only. */
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (resnet);
  assert_true (mact_tensor_dict_contains (sd, "layer1.0.conv3.conv.weight"));
  assert_true (mact_tensor_dict_contains (sd, "layer1.0.downsample.conv.weight"));
  assert_true (mact_tensor_dict_contains (sd, "layer4.0.downsample.bn.running_var"));
  assert_false (mact_tensor_dict_contains (sd, "layer1.1.downsample.conv.weight"));
  assert_shape (mact_tensor_dict_lookup (sd, "layer4.2.conv3.conv.weight"),
                "[2048, 512, 1, 1]");
}

/* ------------------------------------------------------------------ ResNet shapes */

/* Most structural tests use fewer stages: a full ResNet has 11 to 60 M parameters, and
 * the suite also runs under valgrind. */
static void
test_full_resnet_out_indices (void **state)
{
  const gint64 shape[] = { 1, 3, 64, 64 };
  g_autoptr(MactTensor) x = random_input (4, shape, 2);

  /* mmaction2 collects outputs in stage order, whatever the order of out_indices. */
  g_autoptr(MactModule) two = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                     "\"num_stages\": 3, \"out_indices\": [2, 0], "
                                     "\"strides\": [1, 2, 2], \"dilations\": [1, 1, 1]}",
                                     MACT_TYPE_BACKBONE);
  g_autoptr(GPtrArray) outs2 = eval_forward (two, x);
  assert_int_equal (outs2->len, 2);
  assert_shape (g_ptr_array_index (outs2, 0), "[1, 64, 16, 16]");
  assert_shape (g_ptr_array_index (outs2, 1), "[1, 256, 4, 4]");

  /* Fewer stages: conv1, maxpool, layer1, layer2 only. */
  g_autoptr(MactModule) short_net = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                           "\"num_stages\": 2, \"out_indices\": [1], "
                                           "\"strides\": [1, 2], \"dilations\": [1, 1]}",
                                           MACT_TYPE_BACKBONE);
  g_autoptr(GPtrArray) outs3 = eval_forward (short_net, x);
  assert_int_equal (outs3->len, 1);
  assert_shape (g_ptr_array_index (outs3, 0), "[1, 128, 8, 8]");
  g_auto(GStrv) children = mact_module_list_children (short_net);
  assert_int_equal (g_strv_length (children), 4);
  assert_string_equal (children[3], "layer2");

  /* A dilated last stage without stride keeps the resolution. */
  g_autoptr(MactModule) dilated = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                         "\"num_stages\": 3, \"out_indices\": [2], "
                                         "\"strides\": [1, 2, 1], \"dilations\": [1, 1, 2]}",
                                         MACT_TYPE_BACKBONE);
  g_autoptr(GPtrArray) outs4 = eval_forward (dilated, x);
  assert_shape (g_ptr_array_index (outs4, 0), "[1, 256, 8, 8]");
  g_autoptr(GVariant) dilation = NULL;
  g_object_get (submodule (dilated, "layer3.1.conv1.conv"), "dilation", &dilation, NULL);
  gint d[2];
  assert_true (mact_int_tuple_get (dilation, 2, d, "dilation", NULL));
  assert_int_equal (d[0], 2);

  /* in_channels: e.g. 2-channel optical flow. */
  g_autoptr(MactModule) flow = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                      "\"in_channels\": 2, \"num_stages\": 1, "
                                      "\"out_indices\": [0], \"strides\": [1], "
                                      "\"dilations\": [1]}", MACT_TYPE_BACKBONE);
  assert_shape (param (flow, "conv1.conv.weight"), "[64, 2, 7, 7]");
  const gint64 fshape[] = { 1, 2, 32, 32 };
  g_autoptr(MactTensor) fx = random_input (4, fshape, 3);
  g_autoptr(GPtrArray) fouts = eval_forward (flow, fx);
  assert_shape (g_ptr_array_index (fouts, 0), "[1, 64, 8, 8]");
}

static void
assert_conv_stride (MactModule *resnet, const char *path, gint64 expected)
{
  g_autoptr(GVariant) stride = NULL;
  g_object_get (submodule (resnet, path), "stride", &stride, NULL);
  gint s[2];
  g_autoptr(GError) error = NULL;
  assert_true (mact_int_tuple_get (stride, 2, s, "stride", &error));
  assert_int_equal (s[0], expected);
  assert_int_equal (s[1], expected);
}

#define ONE_STAGE "\"num_stages\": 1, \"out_indices\": [0], \"strides\": [1], " \
                  "\"dilations\": [1]"
#define TWO_STAGES "\"num_stages\": 2, \"out_indices\": [1], \"strides\": [1, 2], " \
                   "\"dilations\": [1, 1]"
#define THREE_STAGES "\"num_stages\": 3, \"out_indices\": [2], \"strides\": [1, 2, 2], " \
                     "\"dilations\": [1, 1, 1]"

static void
test_full_resnet_style (void **state)
{
  /* 'pytorch': the stride is on the 3x3 conv2 of a Bottleneck; 'caffe': on conv1. */
  g_autoptr(MactModule) pytorch = build ("{\"type\": \"ResNet\", \"depth\": 50, "
                                         TWO_STAGES "}", MACT_TYPE_BACKBONE);
  assert_conv_stride (pytorch, "layer2.0.conv1.conv", 1);
  assert_conv_stride (pytorch, "layer2.0.conv2.conv", 2);
  assert_conv_stride (pytorch, "layer2.0.downsample.conv", 2);
  assert_conv_stride (pytorch, "layer2.1.conv2.conv", 1);

  g_autoptr(MactModule) caffe = build ("{\"type\": \"ResNet\", \"depth\": 50, "
                                       "\"style\": \"caffe\", " TWO_STAGES "}",
                                       MACT_TYPE_BACKBONE);
  assert_conv_stride (caffe, "layer2.0.conv1.conv", 2);
  assert_conv_stride (caffe, "layer2.0.conv2.conv", 1);
  const gint64 shape[] = { 1, 3, 64, 64 };
  g_autoptr(MactTensor) x = random_input (4, shape, 3);
  g_autoptr(GPtrArray) outs = eval_forward (caffe, x);
  assert_shape (g_ptr_array_index (outs, 0), "[1, 512, 8, 8]");

  /* A BasicBlock carries its stride on conv1 in both styles; ResNet-34 has 3, 4 blocks. */
  g_autoptr(MactModule) basic = build ("{\"type\": \"ResNet\", \"depth\": 34, "
                                       "\"style\": \"caffe\", " TWO_STAGES "}",
                                       MACT_TYPE_BACKBONE);
  assert_conv_stride (basic, "layer2.0.conv1.conv", 2);
  assert_conv_stride (basic, "layer2.0.conv2.conv", 1);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (basic);
  assert_true (mact_tensor_dict_contains (sd, "layer1.2.conv2.bn.weight"));
  assert_true (mact_tensor_dict_contains (sd, "layer2.3.conv2.bn.weight"));
  assert_false (mact_tensor_dict_contains (sd, "layer2.4.conv1.conv.weight"));
  assert_false (mact_tensor_dict_contains (sd, "layer1.0.downsample.conv.weight"));
}

/* ------------------------------------------------------------------ ResNet modes */

static void
assert_requires_grad (MactModule *resnet, const char *prefix, gboolean expected)
{
  g_autoptr(MactTensorDict) named = mact_module_named_parameters (resnet);
  guint checked = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (named); i++)
    {
      const char *key = mact_tensor_dict_get_key (named, i);
      if (!g_str_has_prefix (key, prefix))
        continue;
      checked++;
      if (mact_tensor_get_requires_grad (mact_tensor_dict_get_value (named, i)) != expected)
        fail_msg ("%s: requires_grad is %d, expected %d", key, !expected, expected);
    }
  assert_true (checked > 0);
}

static MactTensor *
snapshot (MactModule *module, const char *key)
{
  return mact_tensor_clone (param (module, key));
}

static void
train_forward (MactModule *module, MactTensor *x)
{
  mact_module_train (module, TRUE);
  g_autoptr(GPtrArray) outs = forward (module, x);
  assert_int_equal (outs->len, 1);
}

static void
test_full_resnet_frozen_stages (void **state)
{
  g_autoptr(MactModule) resnet = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                        "\"frozen_stages\": 1, " THREE_STAGES "}",
                                        MACT_TYPE_BACKBONE);
  /* Frozen at once (mmaction2 reaches this state with .train()). */
  assert_requires_grad (resnet, "conv1.", FALSE);
  assert_requires_grad (resnet, "layer1.", FALSE);
  assert_requires_grad (resnet, "layer2.", TRUE);
  assert_requires_grad (resnet, "layer3.", TRUE);

  /* Train mode keeps the stem's bn and layer1 in eval mode, through eval/train cycles. */
  mact_module_eval (resnet);
  mact_module_train (resnet, TRUE);
  assert_true (mact_module_is_training (resnet));
  assert_false (mact_module_is_training (submodule (resnet, "conv1.bn")));
  assert_false (mact_module_is_training (submodule (resnet, "layer1")));
  assert_false (mact_module_is_training (submodule (resnet, "layer1.1.conv2.bn")));
  assert_true (mact_module_is_training (submodule (resnet, "layer2.0.conv1.bn")));
  assert_true (mact_module_is_training (submodule (resnet, "conv1.conv")));

  /* A training forward/backward: frozen running stats and weights stay as they were. */
  const gint64 shape[] = { 2, 3, 32, 32 };
  g_autoptr(MactTensor) x = random_input (4, shape, 4);
  g_autoptr(MactTensor) stem_mean = snapshot (resnet, "conv1.bn.running_mean");
  g_autoptr(MactTensor) l1_mean = snapshot (resnet, "layer1.0.conv1.bn.running_mean");
  g_autoptr(MactTensor) l2_mean = snapshot (resnet, "layer2.0.conv1.bn.running_mean");
  g_autoptr(GPtrArray) outs = forward (resnet, x);
  g_autoptr(MactTensor) loss = mact_sum_all (g_ptr_array_index (outs, 0));
  g_autoptr(GError) error = NULL;
  assert_true (mact_tensor_backward (loss, NULL, &error));
  assert_true (same_values (stem_mean, param (resnet, "conv1.bn.running_mean")));
  assert_true (same_values (l1_mean, param (resnet, "layer1.0.conv1.bn.running_mean")));
  assert_false (same_values (l2_mean, param (resnet, "layer2.0.conv1.bn.running_mean")));
  assert_null (mact_tensor_get_grad (param (resnet, "conv1.conv.weight")));
  assert_null (mact_tensor_get_grad (param (resnet, "layer1.0.conv1.conv.weight")));
  assert_non_null (mact_tensor_get_grad (param (resnet, "layer2.0.conv1.conv.weight")));

  /* frozen_stages 0 freezes only the stem. */
  g_autoptr(MactModule) stem = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                      "\"frozen_stages\": 0, " ONE_STAGE "}",
                                      MACT_TYPE_BACKBONE);
  assert_requires_grad (stem, "conv1.", FALSE);
  assert_requires_grad (stem, "layer1.", TRUE);
  assert_false (mact_module_is_training (submodule (stem, "conv1.bn")));
  assert_true (mact_module_is_training (submodule (stem, "layer1.0.conv1.bn")));
}

static void
test_full_resnet_norm_eval (void **state)
{
  g_autoptr(MactModule) resnet = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                        "\"norm_eval\": true, " THREE_STAGES "}",
                                        MACT_TYPE_BACKBONE);
  mact_module_train (resnet, TRUE);
  assert_true (mact_module_is_training (resnet));
  assert_false (mact_module_is_training (submodule (resnet, "conv1.bn")));
  assert_false (mact_module_is_training (submodule (resnet, "layer3.1.conv2.bn")));
  assert_false (mact_module_is_training (submodule (resnet, "layer3.0.downsample.bn")));
  assert_true (mact_module_is_training (submodule (resnet, "layer3.1.conv2.conv")));
  /* The parameters still train; only the statistics are frozen. */
  assert_requires_grad (resnet, "", TRUE);

  const gint64 shape[] = { 2, 3, 32, 32 };
  g_autoptr(MactTensor) x = random_input (4, shape, 5);
  g_autoptr(MactTensor) mean = snapshot (resnet, "layer2.0.conv1.bn.running_mean");
  train_forward (resnet, x);
  assert_true (same_values (mean, param (resnet, "layer2.0.conv1.bn.running_mean")));

  /* Without norm_eval the same forward updates them. */
  g_autoptr(MactModule) plain = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                       TWO_STAGES "}", MACT_TYPE_BACKBONE);
  g_autoptr(MactTensor) mean2 = snapshot (plain, "layer2.0.conv1.bn.running_mean");
  train_forward (plain, x);
  assert_false (same_values (mean2, param (plain, "layer2.0.conv1.bn.running_mean")));
}

static void
test_resnet_partial_bn (void **state)
{
  g_autoptr(MactModule) resnet = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                        "\"partial_bn\": true, " TWO_STAGES "}",
                                        MACT_TYPE_BACKBONE);
  mact_module_train (resnet, TRUE);
  /* Only the first batch norm (the stem's) keeps training. */
  assert_true (mact_module_is_training (submodule (resnet, "conv1.bn")));
  assert_requires_grad (resnet, "conv1.bn.", TRUE);
  assert_false (mact_module_is_training (submodule (resnet, "layer1.0.conv1.bn")));
  assert_false (mact_module_is_training (submodule (resnet, "layer2.1.conv2.bn")));
  assert_requires_grad (resnet, "layer1.0.conv1.bn.", FALSE);
  assert_requires_grad (resnet, "layer2.0.downsample.bn.", FALSE);
  assert_requires_grad (resnet, "layer1.0.conv1.conv.", TRUE);

  /* In eval mode partial_bn changes nothing more; back in train mode it applies again. */
  mact_module_eval (resnet);
  assert_false (mact_module_is_training (submodule (resnet, "conv1.bn")));
  mact_module_train (resnet, TRUE);
  assert_true (mact_module_is_training (submodule (resnet, "conv1.bn")));
  assert_false (mact_module_is_training (submodule (resnet, "layer2.1.conv1.bn")));
}

static void
test_resnet_norm_cfg (void **state)
{
  /* requires_grad=False freezes every batch norm's affine parameters. */
  g_autoptr(MactModule) resnet = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                        "\"norm_cfg\": {\"type\": \"BN2d\", "
                                        "\"requires_grad\": false}, "
                                        "\"conv_cfg\": {\"type\": \"Conv\"}, "
                                        "\"act_cfg\": {\"type\": \"ReLU\", \"inplace\": true}, "
                                        THREE_STAGES "}", MACT_TYPE_BACKBONE);
  assert_requires_grad (resnet, "conv1.bn.", FALSE);
  assert_requires_grad (resnet, "layer3.0.downsample.bn.", FALSE);
  assert_requires_grad (resnet, "layer3.0.conv1.conv.", TRUE);

  /* Explicit defaults ("BN" is mmcv's BatchNorm2d) and null mean the default network. */
  g_autoptr(MactModule) bn = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                    "\"norm_cfg\": {\"type\": \"BN\", \"requires_grad\": true}, "
                                    "\"act_cfg\": null, " ONE_STAGE "}", MACT_TYPE_BACKBONE);
  assert_requires_grad (bn, "", TRUE);
  assert_true (MACT_IS_BATCH_NORM (submodule (bn, "layer1.0.conv1.bn")));
  assert_true (MACT_IS_ACTIVATION (submodule (bn, "layer1.0.conv1.activate")));
  gboolean sync = TRUE;
  g_object_get (submodule (bn, "layer1.0.conv1.bn"), "sync", &sync, NULL);
  assert_false (sync);

  /* SyncBN: the same network and keys, its batch norms with the sync property. */
  g_autoptr(MactModule) sync_bn = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                         "\"norm_cfg\": {\"type\": \"SyncBN\"}, "
                                         ONE_STAGE "}", MACT_TYPE_BACKBONE);
  g_object_get (submodule (sync_bn, "layer1.0.conv1.bn"), "sync", &sync, NULL);
  assert_true (sync);
  g_object_get (submodule (sync_bn, "conv1.bn"), "sync", &sync, NULL);
  assert_true (sync);
}

static void
test_resnet_init_weights (void **state)
{
  g_autoptr(MactModule) resnet = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                        THREE_STAGES "}", MACT_TYPE_BACKBONE);
  g_autoptr(MactGenerator) gen = mact_generator_new (7);
  g_autoptr(GError) error = NULL;
  /* Set the batch norms to something else first, to see init_weights reset them. */
  mact_tensor_fill (param (resnet, "layer2.1.conv1.bn.weight"), 3.0f);
  mact_tensor_fill (param (resnet, "layer2.1.conv1.bn.bias"), 3.0f);
  mact_tensor_fill (param (resnet, "layer2.1.conv1.bn.running_var"), 3.0f);
  assert_true (mact_module_init_weights (resnet, gen, &error));

  /* kaiming_init: normal, fan_out, gain sqrt(2): std = sqrt(2 / (out * kh * kw)). */
  double mean;
  double std = tensor_std (param (resnet, "conv1.conv.weight"), &mean);
  assert_true (fabs (std - sqrt (2.0 / (64 * 49))) < 0.05 * sqrt (2.0 / (64 * 49)));
  assert_true (fabs (mean) < 0.002);
  std = tensor_std (param (resnet, "layer3.1.conv2.conv.weight"), NULL);
  assert_true (fabs (std - sqrt (2.0 / (256 * 9))) < 0.02 * sqrt (2.0 / (256 * 9)));
  std = tensor_std (param (resnet, "layer3.0.downsample.conv.weight"), NULL);
  assert_true (fabs (std - sqrt (2.0 / 256)) < 0.05 * sqrt (2.0 / 256));
  /* constant_init(bn, 1): weight 1, bias 0; the running statistics are not touched. */
  assert_true (all_equal_to (param (resnet, "layer2.1.conv1.bn.weight"), 1.0f));
  assert_true (all_equal_to (param (resnet, "layer2.1.conv1.bn.bias"), 0.0f));
  assert_true (all_equal_to (param (resnet, "layer2.1.conv1.bn.running_var"), 3.0f));

  /* Same seed, same weights. */
  g_autoptr(MactTensor) first = snapshot (resnet, "layer3.1.conv1.conv.weight");
  mact_generator_set_seed (gen, 7);
  assert_true (mact_module_init_weights (resnet, gen, &error));
  assert_true (same_values (first, param (resnet, "layer3.1.conv1.conv.weight")));

  /* A pretrained name is accepted at build, but loading arrives with the model zoo. */
  g_autoptr(MactModule) pretrained = build ("{\"type\": \"ResNet\", \"depth\": 50, "
                                            "\"pretrained\": \"torchvision://resnet50\", "
                                            ONE_STAGE "}", MACT_TYPE_BACKBONE);
  assert_false (mact_module_init_weights (pretrained, gen, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED);
}

static void
test_resnet_errors (void **state)
{
  static const char *const invalid[] = {
    "{\"type\": \"ResNet\", \"depth\": 20}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"num_stages\": 5}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"num_stages\": 0}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"out_indices\": [4]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"out_indices\": [-1]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"out_indices\": []}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"num_stages\": 2, \"out_indices\": [2], "
    "\"strides\": [1, 2], \"dilations\": [1, 1]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"strides\": [1, 2, 2]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"num_stages\": 3}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"dilations\": [1, 1, 1, 1, 1]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"strides\": [1, 0, 2, 2]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"dilations\": [1, 1, 1, -2]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"style\": \"tf\"}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"style\": null}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"frozen_stages\": 5}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"frozen_stages\": -2}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"in_channels\": 0}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"with_cp\": true}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"conv_cfg\": {\"type\": \"Conv3d\"}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"conv_cfg\": {\"groups\": 2}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"norm_cfg\": {\"type\": \"GN\"}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"norm_cfg\": {\"type\": \"BN2d\", \"eps\": 0.1}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"norm_cfg\": {\"type\": \"BN2d\", "
    "\"requires_grad\": 1}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"norm_cfg\": \"BN2d\"}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"norm_cfg\": {\"type\": 2}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"norm_cfg\": {\"requires_grad\": true}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"strides\": [1, 2, 2, 9999999999]}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"act_cfg\": {\"type\": \"Tanh\"}}",
    "{\"type\": \"ResNet\", \"depth\": 18, \"act_cfg\": {\"type\": \"ReLU\", "
    "\"inplace\": \"yes\"}}",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    assert_build_error (invalid[i], MACT_TYPE_BACKBONE, MACT_MODULE_ERROR,
                        MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* with_cp is accepted (and has no effect) with Bottleneck. */
  g_autoptr(MactModule) cp = build ("{\"type\": \"ResNet\", \"depth\": 50, \"with_cp\": true, "
                                    ONE_STAGE "}", MACT_TYPE_BACKBONE);
  /* depth is required. */
  assert_build_error ("{\"type\": \"ResNet\"}", MACT_TYPE_BACKBONE, MACT_CONFIG_ERROR,
                      MACT_CONFIG_ERROR_MISSING_KEY);
  /* Built directly, without a depth, the block itself refuses. */
  GError *error = NULL;
  MactModule *none = mact_module_new (G_OBJECT_TYPE (cp), &error, NULL);
  assert_null (none);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* Forward: one 4-D input with in_channels channels. */
  g_autoptr(MactModule) resnet = build ("{\"type\": \"ResNet\", \"depth\": 18, "
                                        ONE_STAGE "}", MACT_TYPE_BACKBONE);
  const gint64 s5[] = { 1, 3, 2, 16, 16 }, s4c[] = { 1, 4, 16, 16 }, s4[] = { 1, 3, 16, 16 };
  g_autoptr(MactTensor) x5 = random_input (5, s5, 8);
  g_autoptr(MactTensor) x4c = random_input (4, s4c, 8);
  g_autoptr(MactTensor) x4 = random_input (4, s4, 8);
  g_autoptr(GPtrArray) in5 = tensors (x5, NULL);
  g_autoptr(GPtrArray) in4c = tensors (x4c, NULL);
  g_autoptr(GPtrArray) in2 = tensors (x4, x4);
  assert_forward_error (resnet, in5, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_forward_error (resnet, in4c, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_forward_error (resnet, in2, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ------------------------------------------------------------------ C3D */

static void
test_full_c3d (void **state)
{
  /* mmaction2's test: C3D(out_dim=512) on (1, 3, 16, 24, 24) gives (1, 4096). */
  g_autoptr(MactModule) c3d = build ("{\"type\": \"C3D\", \"out_dim\": 512}",
                                     MACT_TYPE_BACKBONE);
  const gint64 shape[] = { 1, 3, 16, 24, 24 };
  g_autoptr(MactTensor) x = random_input (5, shape, 9);
  g_autoptr(GPtrArray) outs = eval_forward (c3d, x);
  assert_int_equal (outs->len, 1);
  assert_shape (g_ptr_array_index (outs, 0), "[1, 4096]");
  /* The output went through the final ReLU. */
  double mean;
  tensor_std (g_ptr_array_index (outs, 0), &mean);
  assert_true (mean >= 0.0);

  /* mmaction2's keys: ConvModules without norm have a conv bias; fc6 takes out_dim. */
  static const char *const keys[] = {
    "conv1a.conv.weight", "conv1a.conv.bias", "conv2a.conv.weight", "conv2a.conv.bias",
    "conv3a.conv.weight", "conv3a.conv.bias", "conv3b.conv.weight", "conv3b.conv.bias",
    "conv4a.conv.weight", "conv4a.conv.bias", "conv4b.conv.weight", "conv4b.conv.bias",
    "conv5a.conv.weight", "conv5a.conv.bias", "conv5b.conv.weight", "conv5b.conv.bias",
    "fc6.weight", "fc6.bias", "fc7.weight", "fc7.bias",
  };
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (c3d);
  assert_int_equal (mact_tensor_dict_get_size (sd), G_N_ELEMENTS (keys));
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    assert_string_equal (mact_tensor_dict_get_key (sd, i), keys[i]);
  assert_shape (mact_tensor_dict_lookup (sd, "conv1a.conv.weight"), "[64, 3, 3, 3, 3]");
  assert_shape (mact_tensor_dict_lookup (sd, "fc6.weight"), "[4096, 512]");
  /* GradCAM's C3D target layer. */
  assert_true (MACT_IS_ACTIVATION (submodule (c3d, "conv5a/activate")));

  /* init_weights: kaiming for the convs (bias 0), normal(init_std=0.005) for the fcs. */
  g_autoptr(MactGenerator) gen = mact_generator_new (3);
  g_autoptr(GError) error = NULL;
  assert_true (mact_module_init_weights (c3d, gen, &error));
  double std = tensor_std (mact_tensor_dict_lookup (sd, "fc6.weight"), NULL);
  assert_true (fabs (std - 0.005) < 0.0002);
  assert_true (all_equal_to (mact_tensor_dict_lookup (sd, "fc7.bias"), 0.0f));
  assert_true (all_equal_to (mact_tensor_dict_lookup (sd, "conv2a.conv.bias"), 0.0f));
  std = tensor_std (mact_tensor_dict_lookup (sd, "conv3b.conv.weight"), NULL);
  assert_true (fabs (std - sqrt (2.0 / (256 * 27))) < 0.02 * sqrt (2.0 / (256 * 27)));

  /* Clips whose pool5 output does not have out_dim values are refused before the convs
   * run: 32x32 gives 2x2 (2048 values); 8 frames are too few for pool5's time kernel after
   * three halvings; 4-D input is not a clip. */
  const gint64 s32[] = { 1, 3, 16, 32, 32 }, s_small[] = { 1, 3, 8, 24, 24 },
               s4[] = { 1, 3, 24, 24 };
  g_autoptr(MactTensor) x32 = random_input (5, s32, 10);
  g_autoptr(MactTensor) xs = random_input (5, s_small, 10);
  g_autoptr(MactTensor) x4 = random_input (4, s4, 10);
  g_autoptr(GPtrArray) in32 = tensors (x32, NULL);
  g_autoptr(GPtrArray) in_small = tensors (xs, NULL);
  g_autoptr(GPtrArray) in4 = tensors (x4, NULL);
  g_autoptr(GPtrArray) in2 = tensors (x, x);
  assert_forward_error (c3d, in32, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_forward_error (c3d, in_small, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_forward_error (c3d, in4, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_forward_error (c3d, in2, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

}

static void
test_full_c3d_config (void **state)
{
  /* mmaction2's c3d_sports1m_pretrained.py base config, with a BN3d norm: no conv bias,
   * bn keys; pretrained is accepted, but loading it arrives with the model zoo. */
  g_autoptr(MactModule) c3d = build ("{\"type\": \"C3D\", \"out_dim\": 512, "
                                     "\"pretrained\": \"c3d_sports1m.pth\", "
                                     "\"style\": \"pytorch\", "
                                     "\"conv_cfg\": {\"type\": \"Conv3d\"}, "
                                     "\"norm_cfg\": {\"type\": \"BN3d\"}, "
                                     "\"act_cfg\": {\"type\": \"ReLU\"}, "
                                     "\"dropout_ratio\": 0.5, \"init_std\": 0.005}",
                                     MACT_TYPE_BACKBONE);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (c3d);
  assert_string_equal (mact_tensor_dict_get_key (sd, 0), "conv1a.conv.weight");
  assert_string_equal (mact_tensor_dict_get_key (sd, 1), "conv1a.bn.weight");
  assert_false (mact_tensor_dict_contains (sd, "conv1a.conv.bias"));
  g_autoptr(GError) error = NULL;
  assert_false (mact_module_init_weights (c3d, NULL, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED);

  static const char *const invalid[] = {
    "{\"type\": \"C3D\", \"out_dim\": 0}",
    "{\"type\": \"C3D\", \"dropout_ratio\": 1.5}",
    "{\"type\": \"C3D\", \"dropout_ratio\": -0.1}",
    "{\"type\": \"C3D\", \"init_std\": -1}",
    "{\"type\": \"C3D\", \"style\": \"keras\"}",
    "{\"type\": \"C3D\", \"conv_cfg\": {\"type\": \"Conv2d\"}}",
    "{\"type\": \"C3D\", \"norm_cfg\": {\"type\": \"BN2d\"}}",
    "{\"type\": \"C3D\", \"act_cfg\": {\"type\": \"LeakyReLU\"}}",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    assert_build_error (invalid[i], MACT_TYPE_BACKBONE, MACT_MODULE_ERROR,
                        MACT_MODULE_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ heads */

static MactTensor *
head_forward (MactModule *head, MactTensor *x, gint num_segs)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = tensors (x, NULL);
  MactTensor *score;
  mact_module_eval (head);
  MACT_NO_GRAD_BEGIN
  score = mact_head_forward_head (MACT_HEAD (head), inputs, num_segs, &error);
  MACT_NO_GRAD_END
  if (score == NULL)
    fail_msg ("forward_head: %s", error->message);
  return score;
}

static void
assert_head_error (MactModule *head, GPtrArray *inputs, gint num_segs, gint code)
{
  GError *error = NULL;
  MactTensor *score = mact_head_forward_head (MACT_HEAD (head), inputs, num_segs, &error);
  if (score != NULL)
    {
      mact_tensor_unref (score);
      fail_msg ("forward_head succeeded, expected an error");
    }
  mact_test_assert_error (&error, MACT_MODULE_ERROR, code);
}

/* scores[n, k] = b[k] + sum_c W[k, c] * feat[n, c], in double. */
static MactTensor *
expected_scores (MactModule *head, const double *feat, gint64 n, gint64 c)
{
  MactTensor *w = param (head, "fc_cls.weight"), *b = param (head, "fc_cls.bias");
  gint64 k = mact_tensor_get_size (w, 0);
  g_autofree float *wv = g_new (float, k * c);
  g_autofree float *bv = g_new (float, k);
  g_autofree float *out = g_new (float, n * k);
  mact_tensor_copy_to_array (w, wv);
  mact_tensor_copy_to_array (b, bv);
  for (gint64 i = 0; i < n; i++)
    for (gint64 j = 0; j < k; j++)
      {
        double s = bv[j];
        for (gint64 q = 0; q < c; q++)
          s += (double) wv[j * c + q] * feat[i * c + q];
        out[i * k + j] = (float) s;
      }
  const gint64 shape[] = { n, k };
  return tensor_from (out, n * k, 2, shape);
}

static void
test_tsn_head (void **state)
{
  /* mmaction2's test_tsn_head: defaults, and (8, 2048, 7, 7) with num_segs 8 -> (1, 4). */
  g_autoptr(MactModule) head = build ("{\"type\": \"TSNHead\", \"num_classes\": 4, "
                                      "\"in_channels\": 2048}", MACT_TYPE_HEAD);
  double dropout_ratio, init_std;
  g_autofree char *spatial_type = NULL;
  g_object_get (head, "dropout-ratio", &dropout_ratio, "init-std", &init_std,
                "spatial-type", &spatial_type, NULL);
  assert_true (dropout_ratio == 0.4);
  assert_true (init_std == 0.01);
  assert_string_equal (spatial_type, "avg");
  assert_true (MACT_IS_DROPOUT (submodule (head, "dropout")));
  assert_true (MACT_IS_ADAPTIVE_AVG_POOL (submodule (head, "avg_pool")));
  assert_string_equal (G_OBJECT_TYPE_NAME (mact_head_get_loss_cls (MACT_HEAD (head))),
                       "MactNativeCrossEntropyLoss");
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (head);
  assert_int_equal (mact_tensor_dict_get_size (sd), 2);
  assert_string_equal (mact_tensor_dict_get_key (sd, 0), "fc_cls.weight");
  assert_string_equal (mact_tensor_dict_get_key (sd, 1), "fc_cls.bias");

  const gint64 shape[] = { 8, 2048, 7, 7 };
  g_autoptr(MactTensor) x = random_input (4, shape, 11);
  g_autoptr(MactTensor) score = head_forward (head, x, 8);
  assert_shape (score, "[1, 4]");

  /* init_weights: normal(0, 0.01) weights, zero bias. */
  g_autoptr(MactGenerator) gen = mact_generator_new (5);
  g_autoptr(GError) error = NULL;
  assert_true (mact_module_init_weights (head, gen, &error));
  double std = tensor_std (param (head, "fc_cls.weight"), NULL);
  assert_true (fabs (std - 0.01) < 0.0005);
  assert_true (all_equal_to (param (head, "fc_cls.bias"), 0.0f));
}

static void
test_tsn_head_values (void **state)
{
  /* 2 samples x 3 segments, 4 channels, 2x2 maps: avg pool, segment mean, fc. */
  g_autoptr(MactModule) head = build ("{\"type\": \"TSNHead\", \"num_classes\": 3, "
                                      "\"in_channels\": 4, \"consensus\": "
                                      "{\"type\": \"AvgConsensus\", \"dim\": 1}}",
                                      MACT_TYPE_HEAD);
  const gint64 shape[] = { 6, 4, 2, 2 };
  g_autoptr(MactTensor) x = random_input (4, shape, 12);
  g_autofree float *xv = g_new (float, 6 * 4 * 4);
  mact_tensor_copy_to_array (x, xv);
  double feat[2 * 4] = { 0 };
  for (gint n = 0; n < 2; n++)
    for (gint s = 0; s < 3; s++)
      for (gint c = 0; c < 4; c++)
        for (gint p = 0; p < 4; p++)
          feat[n * 4 + c] += xv[((n * 3 + s) * 4 + c) * 4 + p] / 12.0;
  g_autoptr(MactTensor) expected = expected_scores (head, feat, 2, 4);
  g_autoptr(MactTensor) score = head_forward (head, x, 3);
  mact_test_assert_close (score, expected, 1e-5, "TSNHead");

  /* num_segs 1 (and the plain module forward) treat every row as a sample. */
  double feat1[6 * 4] = { 0 };
  for (gint r = 0; r < 6; r++)
    for (gint c = 0; c < 4; c++)
      for (gint p = 0; p < 4; p++)
        feat1[r * 4 + c] += xv[(r * 4 + c) * 4 + p] / 4.0;
  g_autoptr(MactTensor) expected1 = expected_scores (head, feat1, 6, 4);
  g_autoptr(GPtrArray) outs = eval_forward (head, x);
  mact_test_assert_close (g_ptr_array_index (outs, 0), expected1, 1e-5, "TSNHead forward");

  /* spatial_type None: features already pooled, [N * segs, C, 1, 1] or [N * segs, C]. */
  g_autoptr(MactModule) flat = build ("{\"type\": \"TSNHead\", \"num_classes\": 3, "
                                      "\"in_channels\": 4, \"spatial_type\": null, "
                                      "\"dropout_ratio\": 0}", MACT_TYPE_HEAD);
  assert_null (mact_module_get_child (flat, "avg_pool"));
  assert_null (mact_module_get_child (flat, "dropout"));
  const gint64 s2[] = { 6, 4 }, s4[] = { 6, 4, 1, 1 };
  g_autoptr(MactTensor) x2 = random_input (2, s2, 13);
  g_autoptr(MactTensor) x4 = mact_tensor_reshape (x2, 4, s4, NULL);
  g_autofree float *x2v = g_new (float, 24);
  mact_tensor_copy_to_array (x2, x2v);
  double feat2[2 * 4] = { 0 };
  for (gint n = 0; n < 2; n++)
    for (gint s = 0; s < 3; s++)
      for (gint c = 0; c < 4; c++)
        feat2[n * 4 + c] += x2v[(n * 3 + s) * 4 + c] / 3.0;
  g_autoptr(MactTensor) expected2 = expected_scores (flat, feat2, 2, 4);
  g_autoptr(MactTensor) score2 = head_forward (flat, x2, 3);
  g_autoptr(MactTensor) score4 = head_forward (flat, x4, 3);
  mact_test_assert_close (score2, expected2, 1e-5, "TSNHead [N, C]");
  mact_test_assert_close (score4, expected2, 1e-5, "TSNHead [N, C, 1, 1]");

  /* Training mode applies dropout (p = 0.4): same shape, autograd reaches fc_cls. */
  mact_module_train (head, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = tensors (x, NULL);
  g_autoptr(MactTensor) train_score = mact_head_forward_head (MACT_HEAD (head), inputs, 3,
                                                              &error);
  assert_non_null (train_score);
  assert_shape (train_score, "[2, 3]");
  g_autoptr(MactTensor) total = mact_sum_all (train_score);
  assert_true (mact_tensor_backward (total, NULL, &error));
  assert_non_null (mact_tensor_get_grad (param (head, "fc_cls.weight")));
}

static void
test_tsn_head_errors (void **state)
{
  static const char *const invalid[] = {
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"spatial_type\": \"max\"}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"consensus\": {\"type\": \"MaxConsensus\"}}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"consensus\": {\"dim\": 1}}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"consensus\": {\"type\": \"AvgConsensus\", \"dim\": 2}}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"consensus\": {\"type\": \"AvgConsensus\", \"dim\": 1.5}}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"consensus\": {\"type\": \"AvgConsensus\", \"keepdim\": true}}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"consensus\": \"AvgConsensus\"}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"dropout_ratio\": 1.5}",
    "{\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 8, \"init_std\": -0.1}",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    assert_build_error (invalid[i], MACT_TYPE_HEAD, MACT_MODULE_ERROR,
                        MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"TSNHead\", \"in_channels\": 8}", MACT_TYPE_HEAD,
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY);

  g_autoptr(MactModule) head = build ("{\"type\": \"TSNHead\", \"num_classes\": 4, "
                                      "\"in_channels\": 8}", MACT_TYPE_HEAD);
  mact_module_eval (head);
  const gint64 s4[] = { 6, 8, 2, 2 }, s5[] = { 6, 8, 1, 2, 2 }, sc[] = { 6, 5, 2, 2 };
  g_autoptr(MactTensor) x4 = random_input (4, s4, 14);
  g_autoptr(MactTensor) x5 = random_input (5, s5, 14);
  g_autoptr(MactTensor) xc = random_input (4, sc, 14);
  g_autoptr(GPtrArray) one = tensors (x4, NULL);
  g_autoptr(GPtrArray) two = tensors (x4, x4);
  g_autoptr(GPtrArray) five = tensors (x5, NULL);
  g_autoptr(GPtrArray) wrong_c = tensors (xc, NULL);
  assert_head_error (head, two, 3, MACT_MODULE_ERROR_INVALID_INPUT);      /* a tuple */
  assert_head_error (head, one, 0, MACT_MODULE_ERROR_INVALID_INPUT);      /* num_segs None */
  assert_head_error (head, one, 4, MACT_MODULE_ERROR_INVALID_INPUT);      /* 6 % 4 != 0 */
  assert_head_error (head, five, 3, MACT_MODULE_ERROR_INVALID_INPUT);     /* not 4-D */
  assert_head_error (head, wrong_c, 3, MACT_MODULE_ERROR_INVALID_INPUT);  /* 5 != 8 */
}

static void
test_i3d_head (void **state)
{
  /* mmaction2's test_i3d_head: defaults, and (3, 2048, 4, 7, 7) -> (3, 4). */
  g_autoptr(MactModule) head = build ("{\"type\": \"I3DHead\", \"num_classes\": 4, "
                                      "\"in_channels\": 2048}", MACT_TYPE_HEAD);
  double dropout_ratio, init_std;
  g_object_get (head, "dropout-ratio", &dropout_ratio, "init-std", &init_std, NULL);
  assert_true (dropout_ratio == 0.5);
  assert_true (init_std == 0.01);
  assert_true (MACT_IS_ADAPTIVE_AVG_POOL (submodule (head, "avg_pool")));
  const gint64 shape[] = { 3, 2048, 4, 7, 7 };
  g_autoptr(MactTensor) x = random_input (5, shape, 15);
  g_autoptr(MactTensor) score = head_forward (head, x, 0);
  assert_shape (score, "[3, 4]");
  g_autoptr(MactGenerator) gen = mact_generator_new (6);
  g_autoptr(GError) error = NULL;
  assert_true (mact_module_init_weights (head, gen, &error));
  double std = tensor_std (param (head, "fc_cls.weight"), NULL);
  assert_true (fabs (std - 0.01) < 0.0005);

  /* Values: average over T, H, W, then fc. */
  g_autoptr(MactModule) small = build ("{\"type\": \"I3DHead\", \"num_classes\": 3, "
                                       "\"in_channels\": 4}", MACT_TYPE_HEAD);
  const gint64 s[] = { 2, 4, 2, 3, 3 };
  g_autoptr(MactTensor) xs = random_input (5, s, 16);
  g_autofree float *xv = g_new (float, 2 * 4 * 18);
  mact_tensor_copy_to_array (xs, xv);
  double feat[2 * 4] = { 0 };
  for (gint n = 0; n < 2; n++)
    for (gint c = 0; c < 4; c++)
      for (gint p = 0; p < 18; p++)
        feat[n * 4 + c] += xv[(n * 4 + c) * 18 + p] / 18.0;
  g_autoptr(MactTensor) expected = expected_scores (small, feat, 2, 4);
  g_autoptr(MactTensor) got = head_forward (small, xs, 7);   /* num_segs is ignored */
  mact_test_assert_close (got, expected, 1e-5, "I3DHead");
  g_autoptr(GPtrArray) outs = eval_forward (small, xs);
  mact_test_assert_close (g_ptr_array_index (outs, 0), expected, 1e-5, "I3DHead forward");

  /* C3D's head: spatial_type None on [N, 4096]-like features. */
  g_autoptr(MactModule) c3d_head = build ("{\"type\": \"I3DHead\", \"num_classes\": 3, "
                                          "\"in_channels\": 4, \"spatial_type\": null, "
                                          "\"dropout_ratio\": 0.0}", MACT_TYPE_HEAD);
  assert_null (mact_module_get_child (c3d_head, "avg_pool"));
  assert_null (mact_module_get_child (c3d_head, "dropout"));
  const gint64 s2[] = { 2, 4 };
  g_autoptr(MactTensor) x2 = random_input (2, s2, 17);
  g_autofree float *x2v = g_new (float, 8);
  mact_tensor_copy_to_array (x2, x2v);
  double feat2[8];
  for (gint i = 0; i < 8; i++)
    feat2[i] = x2v[i];
  g_autoptr(MactTensor) expected2 = expected_scores (c3d_head, feat2, 2, 4);
  g_autoptr(MactTensor) got2 = head_forward (c3d_head, x2, 0);
  mact_test_assert_close (got2, expected2, 1e-5, "I3DHead spatial_type None");
}

static void
test_i3d_head_errors (void **state)
{
  static const char *const invalid[] = {
    "{\"type\": \"I3DHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"spatial_type\": \"max\"}",
    "{\"type\": \"I3DHead\", \"num_classes\": 4, \"in_channels\": 8, "
    "\"dropout_ratio\": -0.5}",
    "{\"type\": \"I3DHead\", \"num_classes\": 4, \"in_channels\": 8, \"init_std\": -1}",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    assert_build_error (invalid[i], MACT_TYPE_HEAD, MACT_MODULE_ERROR,
                        MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"I3DHead\", \"num_classes\": 0, \"in_channels\": 8}",
                      MACT_TYPE_HEAD, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  g_autoptr(MactModule) head = build ("{\"type\": \"I3DHead\", \"num_classes\": 4, "
                                      "\"in_channels\": 8}", MACT_TYPE_HEAD);
  const gint64 s4[] = { 2, 8, 3, 3 }, s5[] = { 2, 8, 2, 3, 3 }, sc[] = { 2, 6, 2, 3, 3 };
  g_autoptr(MactTensor) x4 = random_input (4, s4, 18);
  g_autoptr(MactTensor) x5 = random_input (5, s5, 18);
  g_autoptr(MactTensor) xc = random_input (5, sc, 18);
  g_autoptr(GPtrArray) four = tensors (x4, NULL);
  g_autoptr(GPtrArray) two = tensors (x5, x5);
  g_autoptr(GPtrArray) wrong_c = tensors (xc, NULL);
  assert_head_error (head, four, 0, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_head_error (head, two, 0, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_head_error (head, wrong_c, 0, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ------------------------------------------------------------------ losses */

static MactLoss *
build_loss (const char *json)
{
  return MACT_LOSS (build (json, MACT_TYPE_LOSS));
}

/* Loss and gradient of the scores against the fixture's @key and @key_grad. */
static void
check_loss (MactLoss *loss, MactTestFixture *fx, const char *label_key, const char *key,
            MactTensorDict *kwargs)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) score = mact_tensor_clone (mact_test_fixture_get (fx, "score"));
  assert_true (mact_tensor_set_requires_grad (score, TRUE, &error));
  g_autoptr(MactTensor) value = mact_loss_compute (loss, score,
                                                   mact_test_fixture_get (fx, label_key),
                                                   kwargs, &error);
  if (value == NULL)
    fail_msg ("%s: %s", key, error->message);
  assert_int_equal (mact_tensor_get_ndim (value), 0);
  mact_test_assert_close (value, mact_test_fixture_get (fx, key), 1e-5, key);
  assert_true (mact_tensor_backward (value, NULL, &error));
  g_autofree char *grad_key = g_strconcat (key, "_grad", NULL);
  mact_test_assert_close (mact_tensor_get_grad (score), mact_test_fixture_get (fx, grad_key),
                          1e-5, grad_key);
}

static const char *const weighted_ce =
  "{\"type\": \"CrossEntropyLoss\", \"class_weight\": [0.5, 1.0, 2.0, 1.5, 0.25]}";

static void
test_cross_entropy_loss (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_losses");
  g_autoptr(MactLoss) plain = build_loss ("{\"type\": \"CrossEntropyLoss\"}");
  g_autoptr(MactLoss) weighted = build_loss (weighted_ce);

  check_loss (plain, fx, "label_hard", "ce_hard", NULL);
  check_loss (weighted, fx, "label_hard", "ce_hard_w", NULL);
  check_loss (plain, fx, "label_soft", "ce_soft", NULL);
  check_loss (weighted, fx, "label_soft", "ce_soft_w", NULL);

  /* A "weight" kwarg (mmaction2 passes kwargs to F.cross_entropy) equals class_weight. */
  g_autoptr(MactTensorDict) kwargs = mact_tensor_dict_new ();
  mact_tensor_dict_insert (kwargs, "weight", mact_test_fixture_get (fx, "class_weight"));
  check_loss (plain, fx, "label_hard", "ce_hard_w", kwargs);

  /* loss_weight scales (BaseWeightedLoss). */
  g_autoptr(MactLoss) doubled = build_loss ("{\"type\": \"CrossEntropyLoss\", "
                                            "\"loss_weight\": 2.0}");
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) two = mact_loss_compute (doubled, mact_test_fixture_get (fx, "score"),
                                                 mact_test_fixture_get (fx, "label_hard"),
                                                 NULL, &error);
  g_autoptr(MactTensor) expected = mact_mul_scalar (mact_test_fixture_get (fx, "ce_hard"),
                                                    2.0f);
  mact_test_assert_close (two, expected, 1e-5, "loss_weight");

  /* The plain module forward: [score, label] -> [loss]. */
  g_autoptr(GPtrArray) inputs = tensors (mact_test_fixture_get (fx, "score"),
                                         mact_test_fixture_get (fx, "label_soft"));
  g_autoptr(GPtrArray) outs = mact_module_forward (MACT_MODULE (plain), inputs, &error);
  assert_non_null (outs);
  mact_test_assert_close (g_ptr_array_index (outs, 0), mact_test_fixture_get (fx, "ce_soft"),
                          1e-5, "forward");
}

static void
test_cross_entropy_soft_one_hot (void **state)
{
  /* mmaction2's test: one-hot soft labels give the hard-label loss, with and without
   * class weights, to 4 decimals. */
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_losses");
  MactTensor *score = mact_test_fixture_get (fx, "score");
  MactTensor *hard = mact_test_fixture_get (fx, "label_hard");
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) one_hot = mact_one_hot (hard, 5, &error);
  assert_non_null (one_hot);
  const char *configs[] = { "{\"type\": \"CrossEntropyLoss\"}", weighted_ce };
  for (gsize i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      g_autoptr(MactLoss) loss = build_loss (configs[i]);
      g_autoptr(MactTensor) h = mact_loss_compute (loss, score, hard, NULL, &error);
      g_autoptr(MactTensor) s = mact_loss_compute (loss, score, one_hot, NULL, &error);
      assert_non_null (h);
      assert_non_null (s);
      assert_true (fabs (mact_tensor_item (h) - mact_tensor_item (s)) < 1e-4);
    }
}

static void
test_bce_loss (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_losses");
  g_autoptr(MactLoss) plain = build_loss ("{\"type\": \"BCELossWithLogits\"}");
  g_autoptr(MactLoss) weighted = build_loss ("{\"type\": \"BCELossWithLogits\", "
                                             "\"class_weight\": [0.5, 1, 2, 1.5, 0.25]}");
  check_loss (plain, fx, "label_multi", "bce", NULL);
  check_loss (weighted, fx, "label_multi", "bce_w", NULL);
  g_autoptr(MactTensorDict) kwargs = mact_tensor_dict_new ();
  mact_tensor_dict_insert (kwargs, "weight", mact_test_fixture_get (fx, "class_weight"));
  check_loss (plain, fx, "label_multi", "bce_w", kwargs);

  /* The weighted multi-class head of mmaction2's test_tsn_head: BCE with loss_weight 160
   * and label smoothing, built as a nested loss_cls config. */
  g_autoptr(MactModule) head = build ("{\"type\": \"TSNHead\", \"num_classes\": 5, "
                                      "\"in_channels\": 4, \"multi_class\": true, "
                                      "\"label_smooth_eps\": 0.01, \"loss_cls\": "
                                      "{\"type\": \"BCELossWithLogits\", \"loss_weight\": 160}}",
                                      MACT_TYPE_HEAD);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) losses = mact_head_loss (MACT_HEAD (head),
                                                     mact_test_fixture_get (fx, "score"),
                                                     mact_test_fixture_get (fx, "label_multi"),
                                                     NULL, &error);
  assert_non_null (losses);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (losses, "loss_cls")) > 0.0f);
}

static void
test_loss_errors (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("native_losses");
  MactTensor *score = mact_test_fixture_get (fx, "score");
  GError *error = NULL;

  assert_build_error ("{\"type\": \"CrossEntropyLoss\", \"class_weight\": []}",
                      MACT_TYPE_LOSS, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"BCELossWithLogits\", \"class_weight\": []}",
                      MACT_TYPE_LOSS, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"CrossEntropyLoss\", \"class_weight\": [1, \"a\"]}",
                      MACT_TYPE_LOSS, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE);
  /* Non-finite class weights (not expressible in JSON; a direct construction). */
  const char *const losses[] = { "CrossEntropyLoss", "BCELossWithLogits" };
  for (gsize i = 0; i < G_N_ELEMENTS (losses); i++)
    {
      const double values[] = { 1.0, NAN };
      GVariant *cw = g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, values, 2,
                                                sizeof (double));
      GType type = mact_registry_lookup_type (mact_registry_get_default (), losses[i], &error);
      MactModule *module = mact_module_new (type, &error, "class-weight", cw, NULL);
      assert_null (module);
      mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
    }

  g_autoptr(MactLoss) plain = build_loss ("{\"type\": \"CrossEntropyLoss\"}");
  g_autoptr(MactLoss) weighted = build_loss (weighted_ce);
  g_autoptr(MactLoss) three = build_loss ("{\"type\": \"CrossEntropyLoss\", "
                                          "\"class_weight\": [1, 2, 3]}");
  g_autoptr(MactLoss) bce3 = build_loss ("{\"type\": \"BCELossWithLogits\", "
                                         "\"class_weight\": [1, 2, 3]}");
  g_autoptr(MactLoss) bce = build_loss ("{\"type\": \"BCELossWithLogits\"}");

  /* Soft labels must be 2-D. */
  const gint64 s3[] = { 2, 3, 4 };
  g_autoptr(MactTensor) score3 = random_input (3, s3, 19);
  g_autoptr(MactTensor) x = mact_loss_compute (plain, score3, score3, NULL, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  /* Soft labels take no kwargs. */
  g_autoptr(MactTensorDict) kwargs = mact_tensor_dict_new ();
  mact_tensor_dict_insert (kwargs, "weight", mact_test_fixture_get (fx, "class_weight"));
  x = mact_loss_compute (plain, score, mact_test_fixture_get (fx, "label_soft"), kwargs,
                         &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  /* "weight" twice (kwarg and class_weight), and an unknown kwarg. */
  x = mact_loss_compute (weighted, score, mact_test_fixture_get (fx, "label_hard"), kwargs,
                         &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(MactTensorDict) mask = mact_tensor_dict_new ();
  mact_tensor_dict_insert (mask, "mask", mact_test_fixture_get (fx, "class_weight"));
  x = mact_loss_compute (plain, score, mact_test_fixture_get (fx, "label_hard"), mask, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  x = mact_loss_compute (bce, score, mact_test_fixture_get (fx, "label_multi"), mask, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  /* class_weight must have one entry per class. */
  x = mact_loss_compute (three, score, mact_test_fixture_get (fx, "label_hard"), NULL, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  x = mact_loss_compute (three, score, mact_test_fixture_get (fx, "label_soft"), NULL, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  x = mact_loss_compute (bce3, score, mact_test_fixture_get (fx, "label_multi"), NULL, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  /* Shape errors of the underlying ops come through unchanged. */
  x = mact_loss_compute (bce, score, mact_test_fixture_get (fx, "label_hard"), NULL, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  const gint64 bad_shape[] = { 3 };
  const float bad[] = { 0, 1, 2 };
  g_autoptr(MactTensor) bad_labels = tensor_from (bad, 3, 1, bad_shape);
  x = mact_loss_compute (plain, score, bad_labels, NULL, &error);
  assert_null (x);
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);

  /* The module forward needs [score, label]. */
  g_autoptr(GPtrArray) one = tensors (score, NULL);
  assert_forward_error (MACT_MODULE (plain), one, MACT_MODULE_ERROR,
                        MACT_MODULE_ERROR_INVALID_INPUT);
  assert_forward_error (MACT_MODULE (bce), one, MACT_MODULE_ERROR,
                        MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ------------------------------------------------------------------ blending */

static MactBlending *
build_blending (const char *type, double alpha, guint64 seed)
{
  g_autofree char *json = g_strdup_printf ("{\"type\": \"%s\", \"num_classes\": 10, "
                                           "\"alpha\": %g}", type, alpha);
  MactBlending *blending = MACT_BLENDING (build (json, MACT_TYPE_BLENDING));
  g_autoptr(MactGenerator) gen = mact_generator_new (seed);
  mact_blending_set_generator (blending, gen);
  return blending;
}

/* Every sample b holds b * 10000 + (its flat index within the sample), so any value tells
 * where it came from; labels are b (distinct classes). */
static void
make_batch (gint ndim, const gint64 *shape, MactTensor **imgs, MactTensor **labels)
{
  gint64 n = 1;
  for (gint d = 0; d < ndim; d++)
    n *= shape[d];
  gint64 per = n / shape[0];
  g_autofree float *v = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    v[i] = (float) ((i / per) * 10000 + i % per);
  *imgs = tensor_from (v, n, ndim, shape);
  float l[8];
  for (gint64 b = 0; b < shape[0]; b++)
    l[b] = (float) b;
  *labels = tensor_from (l, shape[0], 1, shape);
}

static void
blend (MactBlending *blending, MactTensor *imgs, MactTensor *labels, MactTensor **imgs_out,
       MactTensor **labels_out)
{
  g_autoptr(GError) error = NULL;
  if (!mact_blending_apply (blending, imgs, labels, imgs_out, labels_out, &error))
    fail_msg ("blending: %s", error->message);
}

static void
check_label_rows (MactTensor *labels, gint64 batch)
{
  g_autofree float *v = g_new (float, batch * 10);
  mact_tensor_copy_to_array (labels, v);
  for (gint64 b = 0; b < batch; b++)
    {
      double sum = 0.0;
      for (gint k = 0; k < 10; k++)
        {
          assert_true (v[b * 10 + k] >= 0.0f);
          sum += v[b * 10 + k];
        }
      assert_true (fabs (sum - 1.0) < 1e-5);
    }
}

static void
test_blending_shapes (void **state)
{
  /* mmaction2's test_blending: NCHW (4, 4, 3, 32, 32) and NCTHW (4, 4, 2, 3, 32, 32),
   * labels (4,): images keep their shape, labels become (4, 10). */
  static const gint64 nchw[] = { 4, 4, 3, 32, 32 }, ncthw[] = { 4, 4, 2, 3, 32, 32 };
  const char *types[] = { "MixupBlending", "CutmixBlending" };
  for (gsize t = 0; t < G_N_ELEMENTS (types); t++)
    for (gint layout = 0; layout < 2; layout++)
      {
        g_autoptr(MactBlending) blending = build_blending (types[t], 0.2, 1);
        g_autoptr(MactTensor) imgs = NULL, labels = NULL, out = NULL, mixed = NULL;
        make_batch (layout ? 6 : 5, layout ? ncthw : nchw, &imgs, &labels);
        blend (blending, imgs, labels, &out, &mixed);
        assert_shape (out, layout ? "[4, 4, 2, 3, 32, 32]" : "[4, 4, 3, 32, 32]");
        assert_shape (mixed, "[4, 10]");
        check_label_rows (mixed, 4);
      }

  /* Labels of shape (B, 1) are accepted too; the plain forward returns [imgs, label]. */
  g_autoptr(MactBlending) mixup = build_blending ("MixupBlending", 0.2, 2);
  g_autoptr(MactTensor) imgs = NULL, labels = NULL;
  make_batch (5, nchw, &imgs, &labels);
  const gint64 col[] = { 4, 1 };
  g_autoptr(MactTensor) column = mact_tensor_reshape (labels, 2, col, NULL);
  g_autoptr(GPtrArray) inputs = tensors (imgs, column);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) outs = mact_module_forward (MACT_MODULE (mixup), inputs, &error);
  assert_non_null (outs);
  assert_int_equal (outs->len, 2);
  assert_shape (g_ptr_array_index (outs, 1), "[4, 10]");
}

/* Recovers, from sample b's mixed label row, lam and the partner p (= perm[b]): the row is
 * lam at class b plus (1 - lam) at class p (1 at b when p == b). */
static void
label_row (const float *row, gint64 b, gint64 batch, double *lam, gint64 *partner)
{
  *partner = b;
  *lam = row[b];
  for (gint64 k = 0; k < batch; k++)
    if (k != b && row[k] > 0.0f)
      *partner = k;
}

static void
test_mixup_values (void **state)
{
  static const gint64 shape[] = { 4, 2, 3, 5, 6 };
  g_autoptr(MactTensor) imgs = NULL, labels = NULL;
  make_batch (5, shape, &imgs, &labels);
  gint64 per = 2 * 3 * 5 * 6;
  g_autofree float *x = g_new (float, 4 * per);
  mact_tensor_copy_to_array (imgs, x);
  guint mixed_samples = 0;

  for (guint64 seed = 1; seed <= 6; seed++)
    {
      g_autoptr(MactBlending) mixup = build_blending ("MixupBlending", 1.0, seed);
      g_autoptr(MactTensor) out = NULL, mixed = NULL;
      blend (mixup, imgs, labels, &out, &mixed);
      g_autofree float *o = g_new (float, 4 * per);
      g_autofree float *l = g_new (float, 4 * 10);
      mact_tensor_copy_to_array (out, o);
      mact_tensor_copy_to_array (mixed, l);
      gint64 partners[4];
      double lam0 = -1.0;
      for (gint64 b = 0; b < 4; b++)
        {
          double lam;
          label_row (l + b * 10, b, 4, &lam, &partners[b]);
          if (partners[b] == b)
            {
              assert_true (fabs (lam - 1.0) < 1e-6);
              continue;
            }
          /* One lam for the whole batch. */
          if (lam0 < 0.0)
            lam0 = lam;
          assert_true (fabs (lam - lam0) < 1e-6);
          mixed_samples++;
          for (gint64 i = 0; i < per; i++)
            {
              double want = lam * x[b * per + i] + (1.0 - lam) * x[partners[b] * per + i];
              assert_true (fabs (o[b * per + i] - want) < 1e-3 + 1e-6 * fabs (want));
            }
        }
      /* The partners form a permutation. */
      gboolean seen[4] = { FALSE };
      for (gint64 b = 0; b < 4; b++)
        {
          assert_false (seen[partners[b]]);
          seen[partners[b]] = TRUE;
        }
    }
  assert_true (mixed_samples > 0);
  /* The caller's batch is untouched. */
  g_autofree float *after = g_new (float, 4 * per);
  mact_tensor_copy_to_array (imgs, after);
  assert_memory_equal (after, x, sizeof (float) * 4 * per);
}

static void
test_cutmix_box (void **state)
{
  /* NCTHW-like [B, V, C, T, H, W]: one box in every plane of a sample, from its partner;
   * the label weight of the sample's own class is 1 - box_area / (W * H). */
  static const gint64 shape[] = { 4, 1, 2, 3, 12, 16 };
  const gint64 h = 12, w = 16, planes = 6, per = planes * h * w;
  g_autoptr(MactTensor) imgs = NULL, labels = NULL;
  make_batch (6, shape, &imgs, &labels);
  g_autofree float *x = g_new (float, 4 * per);
  mact_tensor_copy_to_array (imgs, x);
  guint boxes = 0;

  for (guint64 seed = 1; seed <= 12; seed++)
    {
      g_autoptr(MactBlending) cutmix = build_blending ("CutmixBlending", 1.0, seed);
      g_autoptr(MactTensor) out = NULL, mixed = NULL;
      blend (cutmix, imgs, labels, &out, &mixed);
      g_autofree float *o = g_new (float, 4 * per);
      g_autofree float *l = g_new (float, 4 * 10);
      mact_tensor_copy_to_array (out, o);
      mact_tensor_copy_to_array (mixed, l);
      gint64 box[4] = { -1, -1, -1, -1 };   /* x1, y1, x2, y2 shared by all samples */

      for (gint64 b = 0; b < 4; b++)
        {
          double lam;
          gint64 partner;
          label_row (l + b * 10, b, 4, &lam, &partner);
          gint64 area = 0, x1 = w, y1 = h, x2 = 0, y2 = 0;
          for (gint64 p = 0; p < planes; p++)
            for (gint64 y = 0; y < h; y++)
              for (gint64 xx = 0; xx < w; xx++)
                {
                  gint64 i = (p * h + y) * w + xx;
                  float got = o[b * per + i];
                  if (got == x[b * per + i])
                    continue;
                  /* A pasted pixel comes from the same place of the partner. */
                  assert_true (got == x[partner * per + i]);
                  if (p == 0)
                    {
                      area++;
                      x1 = MIN (x1, xx);
                      y1 = MIN (y1, y);
                      x2 = MAX (x2, xx + 1);
                      y2 = MAX (y2, y + 1);
                    }
                }
          if (partner == b)
            {
              assert_int_equal (area, 0);
              assert_true (fabs (lam - 1.0) < 1e-6);
              continue;
            }
          /* The changed pixels fill a rectangle (the same in every plane: checked above
           * per pixel, and the counts below agree). */
          if (area > 0)
            {
              assert_int_equal (area, (x2 - x1) * (y2 - y1));
              if (box[0] < 0)
                {
                  box[0] = x1; box[1] = y1; box[2] = x2; box[3] = y2;
                }
              assert_int_equal (box[0], x1);
              assert_int_equal (box[1], y1);
              assert_int_equal (box[2], x2);
              assert_int_equal (box[3], y2);
              boxes++;
            }
          assert_true (fabs (lam - (1.0 - (double) area / (double) (w * h))) < 1e-6);
        }
    }
  assert_true (boxes > 0);
  g_autofree float *after = g_new (float, 4 * per);
  mact_tensor_copy_to_array (imgs, after);
  assert_memory_equal (after, x, sizeof (float) * 4 * per);
}

static void
test_blending_determinism (void **state)
{
  static const gint64 shape[] = { 4, 4, 3, 8, 8 };
  g_autoptr(MactTensor) imgs = NULL, labels = NULL;
  make_batch (5, shape, &imgs, &labels);
  const char *types[] = { "MixupBlending", "CutmixBlending" };
  for (gsize t = 0; t < G_N_ELEMENTS (types); t++)
    {
      g_autoptr(MactBlending) a = build_blending (types[t], 0.2, 42);
      g_autoptr(MactBlending) b = build_blending (types[t], 0.2, 42);
      g_autoptr(MactTensor) ia = NULL, la = NULL, ib = NULL, lb = NULL;
      blend (a, imgs, labels, &ia, &la);
      blend (b, imgs, labels, &ib, &lb);
      assert_true (same_values (ia, ib));
      assert_true (same_values (la, lb));

      /* Other seeds give other draws (at least one of several differs). */
      gboolean differs = FALSE;
      for (guint64 seed = 1; seed <= 5 && !differs; seed++)
        {
          g_autoptr(MactBlending) c = build_blending (types[t], 0.2, seed);
          g_autoptr(MactTensor) ic = NULL, lc = NULL;
          blend (c, imgs, labels, &ic, &lc);
          differs = !same_values (la, lc);
        }
      assert_true (differs);
    }
}

static void
test_mixup_beta_distribution (void **state)
{
  /* lam ~ Beta(alpha, alpha): mean 1/2, variance 1 / (4 (2 alpha + 1)).  With a batch of
   * two samples valued 0 and 1, a swapped pair gives out[0] = 1 - lam. */
  const double alphas[] = { 0.2, 2.0 };
  const gint64 shape[] = { 2, 1, 1, 1 };
  const float v[] = { 0.0f, 1.0f };
  g_autoptr(MactTensor) imgs = tensor_from (v, 2, 4, shape);
  g_autoptr(MactTensor) labels = tensor_from (v, 2, 1, shape);
  for (gsize a = 0; a < G_N_ELEMENTS (alphas); a++)
    {
      g_autoptr(MactBlending) mixup = build_blending ("MixupBlending", alphas[a], 100 + a);
      double sum = 0.0, sq = 0.0;
      guint n = 0;
      for (guint i = 0; i < 3000; i++)
        {
          g_autoptr(MactTensor) out = NULL, mixed = NULL;
          blend (mixup, imgs, labels, &out, &mixed);
          float o[2];
          mact_tensor_copy_to_array (out, o);
          if (o[0] == 0.0f && o[1] == 1.0f)
            continue;   /* identity permutation (or lam exactly 1): lam not observable */
          double lam = 1.0 - o[0];
          assert_true (lam >= 0.0 && lam <= 1.0);
          sum += lam;
          sq += lam * lam;
          n++;
        }
      double mean = sum / n, var = sq / n - mean * mean;
      double want_var = 1.0 / (4.0 * (2.0 * alphas[a] + 1.0));
      assert_true (n > 1000);
      assert_true (fabs (mean - 0.5) < 0.03);
      assert_true (fabs (var - want_var) < 0.1 * want_var);
    }
}

static void
test_blending_errors (void **state)
{
  g_autoptr(MactBlending) mixup = build_blending ("MixupBlending", 0.2, 1);
  g_autoptr(MactBlending) cutmix = build_blending ("CutmixBlending", 0.2, 1);
  static const gint64 shape[] = { 4, 3, 8, 8 };
  g_autoptr(MactTensor) imgs = NULL, labels = NULL;
  make_batch (4, shape, &imgs, &labels);
  g_autoptr(MactGenerator) gen = mact_generator_new (1);

  /* do_blending wants one-hot labels [B, K]. */
  MactBlending *blendings[] = { mixup, cutmix };
  for (gsize i = 0; i < G_N_ELEMENTS (blendings); i++)
    {
      GError *error = NULL;
      MactTensor *io = NULL, *lo = NULL;
      MactBlendingClass *klass = MACT_BLENDING_GET_CLASS (blendings[i]);
      assert_false (klass->do_blending (blendings[i], imgs, labels, gen, &io, &lo, &error));
      mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
      const gint64 wrong[] = { 3, 10 };
      g_autoptr(MactTensor) three = mact_tensor_new (2, wrong, NULL);
      assert_false (klass->do_blending (blendings[i], imgs, three, gen, &io, &lo, &error));
      mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
      assert_null (io);
      assert_null (lo);

      g_autoptr(GPtrArray) one = tensors (imgs, NULL);
      assert_forward_error (MACT_MODULE (blendings[i]), one, MACT_MODULE_ERROR,
                            MACT_MODULE_ERROR_INVALID_INPUT);
    }
  assert_build_error ("{\"type\": \"MixupBlending\", \"alpha\": 0.2}", MACT_TYPE_BLENDING,
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plugin_types),
    cmocka_unit_test (test_plugin_create_block),
    cmocka_unit_test (test_full_resnet18_parity),
    cmocka_unit_test (test_full_resnet50),
    cmocka_unit_test (test_full_resnet_out_indices),
    cmocka_unit_test (test_full_resnet_style),
    cmocka_unit_test (test_full_resnet_frozen_stages),
    cmocka_unit_test (test_full_resnet_norm_eval),
    cmocka_unit_test (test_resnet_partial_bn),
    cmocka_unit_test (test_resnet_norm_cfg),
    cmocka_unit_test (test_resnet_init_weights),
    cmocka_unit_test (test_resnet_errors),
    cmocka_unit_test (test_full_c3d),
    cmocka_unit_test (test_full_c3d_config),
    cmocka_unit_test (test_tsn_head),
    cmocka_unit_test (test_tsn_head_values),
    cmocka_unit_test (test_tsn_head_errors),
    cmocka_unit_test (test_i3d_head),
    cmocka_unit_test (test_i3d_head_errors),
    cmocka_unit_test (test_cross_entropy_loss),
    cmocka_unit_test (test_cross_entropy_soft_one_hot),
    cmocka_unit_test (test_bce_loss),
    cmocka_unit_test (test_loss_errors),
    cmocka_unit_test (test_blending_shapes),
    cmocka_unit_test (test_mixup_values),
    cmocka_unit_test (test_cutmix_box),
    cmocka_unit_test (test_blending_determinism),
    cmocka_unit_test (test_mixup_beta_distribution),
    cmocka_unit_test (test_blending_errors),
  };
  return cmocka_run_group_tests_name ("native", tests, NULL, NULL);
}
