/* test-tinyconv.c: the example plugin as mact's users meet it.
 *
 * The plugin is not linked in: the test finds it through the default registry, which
 * searches MACT_PLUGIN_PATH (the build root, set by tests/meson.build) and mact's own
 * plugin directory (for Recognizer2D's TSNHead).  The reference test builds the
 * recognizer from configs/tsn_tinyconv.json, loads data/tsn_tinyconv.safetensors, and
 * compares its scores for a fixed input with PyTorch's (both files written by
 * reference.py). */
#include <mact/mact.h>

#include <math.h>
#include <string.h>

#define TOLERANCE 1e-4

/* Fails with the registry's load errors, which say why a plugin file was refused. */
static GType
lookup_or_explain (MactRegistry *registry, const char *type_name)
{
  g_autoptr(GError) error = NULL;
  GType type = mact_registry_lookup_type (registry, type_name, &error);
  if (type == G_TYPE_INVALID)
    {
      g_auto(GStrv) load_errors = mact_registry_dup_load_errors (registry, NULL);
      for (guint i = 0; load_errors != NULL && load_errors[i] != NULL; i++)
        g_test_message ("load error: %s", load_errors[i]);
      g_test_message ("MACT_PLUGIN_PATH=%s", g_getenv ("MACT_PLUGIN_PATH"));
    }
  g_assert_no_error (error);
  return type;
}

static void
test_found_through_plugin_path (void)
{
  MactRegistry *registry = mact_registry_get_default ();
  GType type = lookup_or_explain (registry, "TinyConvNet");

  g_assert_true (g_type_is_a (type, MACT_TYPE_BACKBONE));
  g_assert_cmpstr (g_type_name (type), ==, "ExampleTinyConvNet");
  g_assert_cmpstr (mact_registry_type_name_of (type), ==, "TinyConvNet");
  g_assert_cmpstr (mact_registry_kind_name_of (type), ==, "backbone");

  /* The file that provides it is the one built here, not an installed copy. */
  const char *plugin_path = g_getenv ("MACT_PLUGIN_PATH");
  g_assert_nonnull (plugin_path);
  g_auto(GStrv) roots = g_strsplit (plugin_path, G_SEARCHPATH_SEPARATOR_S, 2);
  g_autofree char *expected = g_build_filename (roots[0], "native",
                                                "libmact-native-tinyconv.so", NULL);
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "native");
  MactPlugin *found = NULL;
  for (guint i = 0; i < plugins->len; i++)
    if (g_str_equal (mact_plugin_get_name (g_ptr_array_index (plugins, i)), "tinyconv"))
      found = g_ptr_array_index (plugins, i);
  g_assert_nonnull (found);
  g_assert_cmpstr (mact_plugin_get_family (found), ==, "native");
  g_assert_cmpstr (mact_plugin_get_filename (found), ==, expected);
  g_auto(GStrv) types = mact_plugin_dup_type_names (found);
  g_assert_cmpstrv (types, ((const char *const[]) { "TinyConvNet", NULL }));
}

/* Properties shape the network: children, state-dict keys and the output. */
static void
test_properties (void)
{
  MactRegistry *registry = mact_registry_get_default ();
  g_autoptr(GError) error = NULL;
  const char *names[] = { "base-channels", "num-stages" };
  GValue values[2] = { G_VALUE_INIT, G_VALUE_INIT };
  g_value_set_int (g_value_init (&values[0], G_TYPE_INT), 2);
  g_value_set_int (g_value_init (&values[1], G_TYPE_INT), 2);

  g_autoptr(MactModule) net = mact_registry_create_block (registry, "TinyConvNet",
                                                          MACT_TYPE_BACKBONE, 2, names,
                                                          values, &error);
  g_assert_no_error (error);
  gint base_channels = 0, num_stages = 0, in_channels = 0;
  g_object_get (net, "base-channels", &base_channels, "num-stages", &num_stages,
                "in-channels", &in_channels, NULL);
  g_assert_cmpint (base_channels, ==, 2);
  g_assert_cmpint (num_stages, ==, 2);
  g_assert_cmpint (in_channels, ==, 3);

  g_auto(GStrv) children = mact_module_list_children (net);
  g_assert_cmpstrv (children, ((const char *const[]) { "conv1", "layer1", "layer2", NULL }));
  g_autoptr(MactTensorDict) state = mact_module_state_dict (net);
  g_assert_nonnull (mact_tensor_dict_lookup (state, "layer2.conv.weight"));
  g_assert_nonnull (mact_tensor_dict_lookup (state, "conv1.bn.running_var"));
  g_assert_null (mact_tensor_dict_lookup (state, "layer3.conv.weight"));

  /* [2, 3, 16, 16] -> stem /2, two stages /2 each, 2 * 2^2 channels: [2, 8, 2, 2] */
  mact_module_eval (net);
  g_autoptr(MactTensor) input = mact_tensor_new_full (4, (const gint64[]) { 2, 3, 16, 16 },
                                                      0.5f, &error);
  g_assert_no_error (error);
  g_autoptr(MactTensor) output = mact_module_forward1 (net, input, &error);
  g_assert_no_error (error);
  g_autofree char *shape = mact_tensor_shape_to_string (output);
  g_assert_cmpstr (shape, ==, "[2, 8, 2, 2]");

  g_value_unset (&values[0]);
  g_value_unset (&values[1]);
}

/* norm_eval keeps the batch norms in eval mode while the rest trains. */
static void
test_norm_eval (void)
{
  g_autoptr(GError) error = NULL;
  GType type = lookup_or_explain (mact_registry_get_default (), "TinyConvNet");
  g_autoptr(MactModule) net = mact_module_new (type, &error, "norm-eval", TRUE, NULL);
  g_assert_no_error (error);

  mact_module_train (net, TRUE);
  g_assert_true (mact_module_is_training (net));
  g_assert_true (mact_module_is_training (mact_module_get_child (net, "layer1")));
  MactModule *bn = mact_module_get_submodule (net, "layer1.bn", &error);
  g_assert_no_error (error);
  g_assert_false (mact_module_is_training (bn));
}

static MactTensor *
lookup_tensor (MactTensorDict *dict, const char *key)
{
  MactTensor *tensor = mact_tensor_dict_lookup (dict, key);
  g_assert_nonnull (tensor);
  return tensor;
}

/* The recognizer of the config, with the weights PyTorch wrote, gives PyTorch's scores. */
static void
test_matches_pytorch (void)
{
  g_autoptr(GError) error = NULL;
  const char *config = g_test_get_filename (G_TEST_DIST, "configs", "tsn_tinyconv.json",
                                            NULL);
  const char *weights = g_test_get_filename (G_TEST_DIST, "data", "tsn_tinyconv.safetensors",
                                             NULL);
  const char *reference = g_test_get_filename (G_TEST_DIST, "data", "reference.safetensors",
                                               NULL);

  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_file (config, mact_registry_get_default (), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (G_OBJECT_TYPE_NAME (mact_recognizer_get_backbone (recognizer)), ==,
                   "ExampleTinyConvNet");
  /* strict: every key of the file is a parameter or buffer of the recognizer, and the
   * other way round, so a naming mistake in the plugin fails here. */
  g_assert_true (mact_recognizer_load_weights (recognizer, weights, TRUE, &error));
  g_assert_no_error (error);
  mact_module_eval (MACT_MODULE (recognizer));

  g_autoptr(MactTensorDict) ref = mact_safetensors_load (reference, NULL, &error);
  g_assert_no_error (error);
  MactTensor *imgs = lookup_tensor (ref, "imgs");
  MactTensor *expected = lookup_tensor (ref, "scores");

  g_autoptr(MactTensor) scores = mact_recognizer_classify (recognizer, imgs, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *shape = mact_tensor_shape_to_string (scores);
  g_autofree char *expected_shape = mact_tensor_shape_to_string (expected);
  g_assert_cmpstr (shape, ==, expected_shape);

  gint64 n = mact_tensor_get_numel (expected);
  g_autofree float *got = g_new (float, n);
  g_autofree float *want = g_new (float, n);
  mact_tensor_copy_to_array (scores, got);
  mact_tensor_copy_to_array (expected, want);
  double worst = 0.0;
  for (gint64 i = 0; i < n; i++)
    worst = MAX (worst, fabs ((double) got[i] - (double) want[i]));
  g_test_message ("largest difference from PyTorch: %g", worst);
  g_assert_cmpfloat (worst, <=, TOLERANCE);
}

/* A bad argument is a GError naming the block and the argument, from the config builder. */
static void
test_bad_property (void)
{
  g_autoptr(GError) error = NULL;
  static const char bad_stages[] =
    "{\"model\": {\"type\": \"Recognizer2D\","
    " \"backbone\": {\"type\": \"TinyConvNet\", \"num_stages\": 0},"
    " \"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 5, \"in_channels\": 32}}}";
  static const char unknown_key[] =
    "{\"model\": {\"type\": \"Recognizer2D\","
    " \"backbone\": {\"type\": \"TinyConvNet\", \"depth\": 18},"
    " \"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 5, \"in_channels\": 32}}}";

  MactRecognizer *recognizer =
    mact_recognizer_new_from_data (bad_stages, -1, mact_registry_get_default (), &error);
  g_assert_null (recognizer);
  g_assert_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "TinyConvNet"));
  g_assert_nonnull (strstr (error->message, "num_stages"));
  g_clear_error (&error);

  recognizer = mact_recognizer_new_from_data (unknown_key, -1, mact_registry_get_default (),
                                              &error);
  g_assert_null (recognizer);
  g_assert_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY);
  g_assert_nonnull (strstr (error->message, "depth"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tinyconv/found-through-plugin-path", test_found_through_plugin_path);
  g_test_add_func ("/tinyconv/properties", test_properties);
  g_test_add_func ("/tinyconv/norm-eval", test_norm_eval);
  g_test_add_func ("/tinyconv/matches-pytorch", test_matches_pytorch);
  g_test_add_func ("/tinyconv/bad-property", test_bad_property);
  return g_test_run ();
}
