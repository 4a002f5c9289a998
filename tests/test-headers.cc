/* <mact/mact.h> from C++: the umbrella header compiles as C++ and its declarations have
 * C linkage (G_BEGIN_DECLS), so a C++ program links against libmact and calls it, and a
 * plugin can be written in C++. */
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <csetjmp>
/* cmocka 1.1's header has no C++ guard of its own. */
extern "C" {
#include <cmocka.h>
}
#include <mact/mact.h>

/* A plugin written in C++: its entry points keep their C names for the loader. */
static gboolean
cpp_plugin_init (MactPlugin *, GError **)
{
  return TRUE;
}

MACT_PLUGIN_DEFINE (native, cpptest, "a plugin written in C++", cpp_plugin_init, "1.0",
                    "LGPL-2.1-or-later", "tests/test-headers.cc")

/* These redeclarations compile only if MACT_PLUGIN_DEFINE gave both C linkage. */
extern "C" const MactPluginDesc *mact_plugin_get_desc (void);
extern "C" const MactPluginDesc *mact_plugin_native_cpptest_get_desc (void);

static void
test_plugin (void **)
{
  const MactPluginDesc *desc = mact_plugin_get_desc ();
  assert_true (desc == mact_plugin_native_cpptest_get_desc ());
  assert_int_equal (desc->magic, MACT_PLUGIN_MAGIC);
  assert_string_equal (desc->name, "cpptest");
  assert_string_equal (desc->family, "native");

  GError *error = NULL;
  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  assert_true (mact_registry_add_static_plugin (registry, desc, &error));
  assert_null (error);
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "native");
  gboolean found = FALSE;
  for (guint i = 0; i < plugins->len; i++)
    {
      MactPlugin *plugin = (MactPlugin *) g_ptr_array_index (plugins, i);
      found |= g_str_equal (mact_plugin_get_name (plugin), "cpptest");
    }
  assert_true (found);
}

static void
test_calls (void **)
{
  GError *error = NULL;
  const gint64 shape[] = { 2, 3 };
  g_autoptr(MactTensor) ones = mact_tensor_new_full (2, shape, 1.0f, &error);
  assert_non_null (ones);
  g_autoptr(MactTensor) twos = mact_add (ones, ones, &error);
  assert_non_null (twos);
  assert_int_equal (mact_tensor_get_numel (twos), 6);
  assert_true (mact_tensor_get_data (twos)[5] == 2.0f);

  g_autoptr(MactTensorDict) dict = mact_tensor_dict_new ();
  mact_tensor_dict_insert (dict, "twos", twos);
  assert_true (mact_tensor_dict_lookup (dict, "twos") == twos);

  /* GObject types and error domains, as C++ code checks them. */
  assert_true (g_type_is_a (MACT_TYPE_BACKBONE, MACT_TYPE_MODULE));
  assert_true (G_TYPE_IS_ABSTRACT (MACT_TYPE_RECOGNIZER));
  g_autoptr(JsonNode) config = mact_config_load_data ("{", -1, &error);
  assert_null (config);
  assert_true (g_error_matches (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE));
  g_clear_error (&error);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_calls),
    cmocka_unit_test (test_plugin),
  };
  return cmocka_run_group_tests_name ("headers-cpp", tests, NULL, NULL);
}
