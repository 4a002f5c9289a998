/* test-registry.c: the plugin loader and the registry.
 *
 * The fixture plugins (tests/plugins/) are real shared modules, one per failure mode,
 * found through MACT_TEST_PLUGIN_DIR (<build>/tests/plugins).  Every test but the one
 * about the default registry uses a private registry with only API directories, so
 * nothing installed gets in.  The loader's warnings are captured, not printed, so tests
 * can assert that broken plugins were reported.
 */
#define MACT_PLUGIN_STATIC   /* the test's own plugin is linked in, not a file */
#include "mact-test.h"

#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <glib/gstdio.h>

/* ------------------------------------------------------------------ a privileged process */

/* While set, the process looks privileged to libmact (and to anything else asking). */
static gboolean pretend_privileged;

/* glibc's own name for getauxval(), exported next to it. */
extern unsigned long __getauxval (unsigned long type);

/* The kernel sets AT_SECURE for setuid, setgid and file-capability programs; that flag
 * is what the registry's rule for such programs reads.  This definition interposes
 * glibc's for the whole process (the executable comes first in symbol lookup, so
 * libmact's call lands here too), which tests the rule without a setuid binary.  It
 * forwards through __getauxval rather than dlsym(), which may allocate: a sanitizer's
 * runtime asks for auxiliary values before it can serve allocations. */
unsigned long
getauxval (unsigned long type)
{
  if (type == AT_SECURE && pretend_privileged)
    return 1;
  return __getauxval (type);
}

/* ------------------------------------------------------------------ helpers */

static GMutex log_lock;
static GPtrArray *warnings;   /* gchar*, "Mact" warnings */

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                gpointer user_data)
{
  const char *domain = NULL;
  const char *message = NULL;
  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }
  if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0 (domain, "Mact") == 0 && message != NULL)
    {
      g_mutex_lock (&log_lock);
      g_ptr_array_add (warnings, g_strdup (message));
      g_mutex_unlock (&log_lock);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gboolean
warned_about (const char *needle)
{
  gboolean found = FALSE;
  g_mutex_lock (&log_lock);
  for (guint i = 0; i < warnings->len && !found; i++)
    found = strstr (g_ptr_array_index (warnings, i), needle) != NULL;
  g_mutex_unlock (&log_lock);
  return found;
}

static const char *
fixture_dir (void)
{
  const char *dir = g_getenv ("MACT_TEST_PLUGIN_DIR");
  if (dir == NULL)
    fail_msg ("MACT_TEST_PLUGIN_DIR is not set (run through meson test)");
  return dir;
}

static gchar *
shadow_dir (void)
{
  return g_build_filename (fixture_dir (), "shadow", NULL);
}

/* A file of the hostile root, whose plugins crash or hang: never scanned here, only
 * loaded by name, and only the ones that are safe in-process. */
static gchar *
hostile_file (const char *name)
{
  g_autofree gchar *base = g_strdup_printf ("libmact-native-%s.so", name);
  return g_build_filename (fixture_dir (), "hostile", "native", base, NULL);
}

/* A registry that searches only the fixture root. */
static MactRegistry *
fixture_registry (void)
{
  MactRegistry *registry = mact_registry_new (FALSE);
  mact_registry_prepend_search_path (registry, fixture_dir ());
  return registry;
}

/* Asserts @error has @domain and @code and its message contains @needle, then clears it. */
static void
assert_error_with (GError **error, GQuark domain, gint code, const char *needle)
{
  assert_non_null (*error);
  if (needle != NULL && strstr ((*error)->message, needle) == NULL)
    fail_msg ("error message \"%s\" does not mention \"%s\"", (*error)->message, needle);
  mact_test_assert_error (error, domain, code);
}

static gint
init_count (const char *gtype_name)
{
  GType type = g_type_from_name (gtype_name);
  if (type == G_TYPE_INVALID)
    return 0;
  return GPOINTER_TO_INT (g_type_get_qdata (type, g_quark_from_static_string (
                                              "mact-fixture-init-count")));
}

static GType
lookup_ok (MactRegistry *registry, const char *type_name)
{
  g_autoptr(GError) error = NULL;
  GType type = mact_registry_lookup_type (registry, type_name, &error);
  if (type == G_TYPE_INVALID)
    fail_msg ("lookup of %s failed: %s", type_name, error->message);
  return type;
}

static void
assert_not_found (MactRegistry *registry, const char *type_name)
{
  g_autoptr(GError) error = NULL;
  assert_int_equal (mact_registry_lookup_type (registry, type_name, &error), G_TYPE_INVALID);
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND);
}

/* ------------------------------------------------------------------ the test's static plugin */

typedef struct { MactBackbone parent_instance; } TestStaticBackbone;
typedef struct { MactBackboneClass parent_class; } TestStaticBackboneClass;
GType test_static_backbone_get_type (void);
G_DEFINE_FINAL_TYPE (TestStaticBackbone, test_static_backbone, MACT_TYPE_BACKBONE)
static void test_static_backbone_class_init (TestStaticBackboneClass *klass) {}
static void test_static_backbone_init (TestStaticBackbone *self) {}

typedef struct { MactHead parent_instance; } TestStaticHead;
typedef struct { MactHeadClass parent_class; } TestStaticHeadClass;
GType test_static_head_get_type (void);
G_DEFINE_FINAL_TYPE (TestStaticHead, test_static_head, MACT_TYPE_HEAD)
static void test_static_head_class_init (TestStaticHeadClass *klass) {}
static void test_static_head_init (TestStaticHead *self) {}

static gboolean
static_plugin_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "StaticBackbone", test_static_backbone_get_type (),
                               error) &&
         mact_plugin_add_type (plugin, "StaticHead", test_static_head_get_type (), error);
}

MACT_PLUGIN_DEFINE (native, teststatic, "the test program's own blocks", static_plugin_init,
                    "0.1.0", "LGPL-2.1-or-later", "mact tests")

/* Hand-made descriptors for the error paths of static plugins. */
static MactPluginDesc
make_desc (const char *name, const char *family, MactPluginInitFunc init)
{
  MactPluginDesc desc = *mact_plugin_native_teststatic_get_desc ();
  desc.name = name;
  desc.family = family;
  desc.init = init;
  return desc;
}

static gboolean
init_fails (MactPlugin *plugin, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such thing");
  return FALSE;
}

static gboolean
init_wrong_family (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "cls.Foreign", test_static_backbone_get_type (), error);
}

static gboolean
init_unknown_prefix (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "timm.Foreign", test_static_backbone_get_type (), error);
}

static gboolean
init_object_type (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "JustAnObject", G_TYPE_OBJECT, error);
}

static gboolean
init_abstract_type (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "AbstractHead", MACT_TYPE_HEAD, error);
}

static gboolean
init_layer_type (MactPlugin *plugin, GError **error)
{
  /* A concrete module, but a layer, not one of the kinds a config can name. */
  return mact_plugin_add_type (plugin, "JustALayer", MACT_TYPE_IDENTITY, error);
}

/* A backbone whose class_init clears dispose: GObject would call NULL at its first
 * unref, so the registry refuses it. */
typedef struct { MactBackbone parent_instance; } TestNoDispose;
typedef struct { MactBackboneClass parent_class; } TestNoDisposeClass;
GType test_no_dispose_get_type (void);
G_DEFINE_FINAL_TYPE (TestNoDispose, test_no_dispose, MACT_TYPE_BACKBONE)
static void test_no_dispose_class_init (TestNoDisposeClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = NULL;
}
static void test_no_dispose_init (TestNoDispose *self) {}

static gboolean
init_no_dispose (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "NoDispose", test_no_dispose_get_type (), error);
}

static gboolean
init_invalid_gtype (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "NoGType", G_TYPE_INVALID, error);
}

static gboolean
init_bad_name (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "Bad-Name", test_static_backbone_get_type (), error);
}

static gboolean
init_dup (MactPlugin *plugin, GError **error)
{
  /* StaticBackbone is already taken; StaticDupHead is new and must register anyway. */
  return mact_plugin_add_type (plugin, "StaticBackbone", test_static_head_get_type (), error) &&
         mact_plugin_add_type (plugin, "StaticDupHead", test_static_head_get_type (), error);
}

/* ------------------------------------------------------------------ tests */

/* Runs first: the default registry reads the environment when it is created. */
static void
test_default_registry (void **state)
{
  g_autofree gchar *reentrant = g_build_filename (fixture_dir (), "reentrant", NULL);
  g_autofree gchar *path = g_strjoin (G_SEARCHPATH_SEPARATOR_S, fixture_dir (), reentrant,
                                      NULL);
  g_setenv ("MACT_PLUGIN_PATH", path, TRUE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", "", TRUE);

  MactRegistry *registry = mact_registry_get_default ();
  assert_non_null (registry);
  assert_ptr_equal (registry, mact_registry_get_default ());
  gboolean use_environment = FALSE;
  g_object_get (registry, "use-environment", &use_environment, NULL);
  assert_true (use_environment);

  g_auto(GStrv) roots = mact_registry_get_search_path (registry);
  const char *expected[] = { fixture_dir (), reentrant, NULL };
  assert_true (g_strv_equal ((const char * const *) roots, expected));

  assert_false (mact_registry_family_is_loaded (registry, "tv"));
  GType type = lookup_ok (registry, "tv.test_net");
  assert_string_equal (g_type_name (type), "MactFixtureTvTestNet");
  assert_true (mact_registry_family_is_loaded (registry, "tv"));
  assert_false (mact_registry_family_is_loaded (registry, "cls"));

  /* The reentrant fixture's init looked up a missing native type in this registry while
   * it was loading the native family: it got NOT_FOUND ("still being loaded"), did not
   * deadlock, and registered its probe only then. */
  lookup_ok (registry, "ReentrantProbe");
  assert_null (mact_registry_dup_load_error (registry, "libmact-native-reentrant.so"));
  /* Once loaded, the family answers normally. */
  lookup_ok (registry, "TestBackbone");
}

static void
test_environment_search_path (void **state)
{
  g_autofree gchar *saved_path = g_strdup (g_getenv ("MACT_PLUGIN_PATH"));
  g_autofree gchar *saved_system = g_strdup (g_getenv ("MACT_PLUGIN_SYSTEM_PATH"));

  /* Empty entries are skipped; API directories come before the environment's. */
  g_setenv ("MACT_PLUGIN_PATH", "/mact-test/a::/mact-test/b:", TRUE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", "/mact-test/system", TRUE);
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (TRUE);
    mact_registry_prepend_search_path (registry, "/mact-test/api");
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    const char *expected[] = { "/mact-test/api", "/mact-test/a", "/mact-test/b",
                               "/mact-test/system", NULL };
    assert_true (g_strv_equal ((const char * const *) roots, expected));
  }

  /* Without MACT_PLUGIN_SYSTEM_PATH: the user's and the installed directory. */
  g_unsetenv ("MACT_PLUGIN_SYSTEM_PATH");
  g_unsetenv ("MACT_PLUGIN_PATH");
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (TRUE);
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    assert_int_equal (g_strv_length (roots), 2);
    g_autofree gchar *user = g_build_filename (g_get_user_data_dir (), "mact-1.0", "plugins",
                                               NULL);
    assert_string_equal (roots[0], user);
    assert_true (g_str_has_suffix (roots[1], "/mact-1.0/plugins"));
  }

  /* Without the environment: nothing at all. */
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    assert_int_equal (g_strv_length (roots), 0);
  }

  if (saved_path != NULL)
    g_setenv ("MACT_PLUGIN_PATH", saved_path, TRUE);
  if (saved_system != NULL)
    g_setenv ("MACT_PLUGIN_SYSTEM_PATH", saved_system, TRUE);
}

static void
test_parse_type_names (void **state)
{
  const struct { const char *in, *family, *name; } cases[] = {
    { "TSNHead", "native", "TSNHead" },
    { "_private2", "native", "_private2" },
    { "cls.ResNet", "cls", "ResNet" },
    { "mmcls.ResNeXt", "cls", "ResNeXt" },
    { "tv.r3d_18", "tv", "r3d_18" },
    { "torchvision.resnet50", "tv", "resnet50" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *family = NULL;
      g_autofree gchar *name = NULL;
      g_autoptr(GError) error = NULL;
      assert_true (mact_registry_parse_type_name (cases[i].in, &family, &name, &error));
      assert_null (error);
      assert_string_equal (family, cases[i].family);
      assert_string_equal (name, cases[i].name);
    }
  /* Both outputs are optional. */
  assert_true (mact_registry_parse_type_name ("cls.X", NULL, NULL, NULL));
}

static void
test_invalid_names (void **state)
{
  g_autofree gchar *longest = g_strnfill (64, 'a');
  g_autofree gchar *too_long = g_strnfill (65, 'a');
  g_autofree gchar *too_long_cls = g_strconcat ("cls.", too_long, NULL);
  assert_true (mact_registry_parse_type_name (longest, NULL, NULL, NULL));

  const char *bad[] = { "", "cls.", ".ResNet", "cls.1net", "cls.res-net", "cls.a.b",
                        "Res Net", "tv.resnet50!", "9lives", "mm cls.X", too_long,
                        too_long_cls };
  g_autoptr(MactRegistry) registry = fixture_registry ();
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      assert_false (mact_registry_parse_type_name (bad[i], NULL, NULL, &error));
      mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_INVALID_NAME);
      assert_int_equal (mact_registry_lookup_type (registry, bad[i], &error), G_TYPE_INVALID);
      mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_INVALID_NAME);
    }
  /* A name that cannot exist never loads anything. */
  assert_false (mact_registry_family_is_loaded (registry, "native"));
  assert_false (mact_registry_family_is_loaded (registry, "cls"));
}

static void
test_unknown_family (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  const char *names[] = { "timm.efficientnet_b0", "native.ResNet", "mmpretrain.ResNet" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GError) error = NULL;
      assert_int_equal (mact_registry_lookup_type (registry, names[i], &error),
                        G_TYPE_INVALID);
      assert_non_null (error);
      /* The message names the families that exist, with their prefixes. */
      assert_non_null (strstr (error->message, "native (no prefix)"));
      assert_non_null (strstr (error->message, "cls (cls., mmcls.)"));
      assert_non_null (strstr (error->message, "tv (tv., torchvision.)"));
      mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_UNKNOWN_FAMILY);
    }
  const char *all[] = { "native", "cls", "tv" };
  for (guint f = 0; f < G_N_ELEMENTS (all); f++)
    assert_false (mact_registry_family_is_loaded (registry, all[f]));

  g_autoptr(GError) error = NULL;
  assert_null (mact_registry_list_types (registry, "timm", &error));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_UNKNOWN_FAMILY);
}

static void
test_lookup_each_family (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  const struct { const char *name, *gtype; } cases[] = {
    { "TestBackbone", "MactFixtureNativeTestBackbone" },
    { "cls.TestNet", "MactFixtureClsTestNet" },
    { "tv.test_net", "MactFixtureTvTestNet" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GType type = lookup_ok (registry, cases[i].name);
      assert_string_equal (g_type_name (type), cases[i].gtype);
      assert_true (g_type_is_a (type, MACT_TYPE_BACKBONE));
      /* The registry name is kept on the type, for blocks to report. */
      assert_string_equal (mact_registry_type_name_of (type), cases[i].name);
    }
  assert_null (mact_registry_type_name_of (G_TYPE_OBJECT));
  assert_null (mact_registry_type_name_of (G_TYPE_INVALID));

  /* Type names are case-sensitive, as in mmaction2. */
  assert_not_found (registry, "cls.testnet");
}

static void
test_aliases (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  GType cls = lookup_ok (registry, "cls.TestNet");
  assert_int_equal (lookup_ok (registry, "mmcls.TestNet"), cls);
  GType tv = lookup_ok (registry, "torchvision.test_net");
  assert_int_equal (lookup_ok (registry, "tv.test_net"), tv);
  assert_true (mact_registry_family_is_loaded (registry, "mmcls"));
  assert_true (mact_registry_family_is_loaded (registry, "torchvision"));

  /* A plugin may register with the alias too; the registry keeps the canonical name. */
  assert_string_equal (mact_registry_type_name_of (lookup_ok (registry, "mmcls.DupOnly")),
                       "cls.DupOnly");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) types = mact_registry_list_types (registry, "mmcls", &error);
  assert_null (error);
  const char *expected[] = { "cls.DupOnly", "cls.TestNet", NULL };
  assert_true (g_strv_equal ((const char * const *) types, expected));
}

static void
test_failure_modes (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  lookup_ok (registry, "cls.TestNet");

  const struct { const char *file; gint code; const char *detail; } cases[] = {
    { "libmact-cls-noentry.so", MACT_PLUGIN_ERROR_NOT_A_PLUGIN, "mact_plugin_get_desc" },
    { "libmact-cls-badmagic.so", MACT_PLUGIN_ERROR_ABI_MISMATCH, "magic 0xdeadbeef" },
    { "libmact-cls-badabi.so", MACT_PLUGIN_ERROR_ABI_MISMATCH, "plugin ABI version 2" },
    { "libmact-cls-newcore.so", MACT_PLUGIN_ERROR_ABI_MISMATCH, "built for libmact" },
    { "libmact-cls-undefsym.so", MACT_PLUGIN_ERROR_OPEN, "mact_fixture_no_such_symbol" },
    { "libmact-cls-notelf.so", MACT_PLUGIN_ERROR_OPEN, "cannot open the plugin: invalid ELF" },
    { "libmact-cls-initfail.so", MACT_PLUGIN_ERROR_INIT_FAILED, "a resource is missing" },
    { "libmact-cls-initnoerror.so", MACT_PLUGIN_ERROR_INIT_FAILED, "without an error" },
    { "libmact-cls-wrongfamily.so", MACT_PLUGIN_ERROR_WRONG_FAMILY, "tv.WrongNet" },
    { "libmact-cls-namemismatch.so", MACT_PLUGIN_ERROR_INVALID_DESC, "\"othername\"" },
    { "libmact-cls-misfiled.so", MACT_PLUGIN_ERROR_INVALID_DESC, "family \"tv\"" },
    { "libmact-cls-nodesc.so", MACT_PLUGIN_ERROR_INVALID_DESC, "\"description\"" },
    { "libmact-cls-dup.so", MACT_PLUGIN_ERROR_DUPLICATE_TYPE, "libmact-cls-good.so" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = mact_registry_dup_load_error (registry, cases[i].file);
      if (error == NULL)
        fail_msg ("no load error recorded for %s", cases[i].file);
      /* Every message names its file. */
      assert_non_null (strstr (error->message, cases[i].file));
      assert_error_with (&error, MACT_PLUGIN_ERROR, cases[i].code, cases[i].detail);
      /* ... and was logged as a warning, not printed. */
      assert_true (warned_about (cases[i].file));
    }

  /* By full path as well. */
  g_autofree gchar *badabi = g_build_filename (fixture_dir (), "cls", "libmact-cls-badabi.so",
                                               NULL);
  g_autoptr(GError) by_path = mact_registry_dup_load_error (registry, badabi);
  mact_test_assert_error (&by_path, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_ABI_MISMATCH);

  /* One message per problem, each "file: message". */
  g_auto(GStrv) messages = mact_registry_dup_load_errors (registry, "cls");
  assert_int_equal (g_strv_length (messages), G_N_ELEMENTS (cases));
  for (guint i = 0; messages[i] != NULL; i++)
    assert_true (g_str_has_prefix (messages[i], fixture_dir ()));
  /* Files load in name order, the family directory's before its subdirectories', so the
   * outcome does not depend on the file system's order. */
  const char *order[] = { "badabi", "badmagic", "initfail", "initnoerror", "misfiled",
                          "namemismatch", "newcore", "nodesc", "noentry", "notelf",
                          "undefsym", "wrongfamily", "extra/libmact-cls-dup" };
  assert_int_equal (G_N_ELEMENTS (order), G_N_ELEMENTS (cases));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    if (strstr (messages[i], order[i]) == NULL)
      fail_msg ("load error %u is \"%s\", expected one about %s", i, messages[i], order[i]);

  /* The rest of the family works: good's type, not dup's copy of the name. */
  assert_string_equal (g_type_name (lookup_ok (registry, "cls.TestNet")),
                       "MactFixtureClsTestNet");
  lookup_ok (registry, "cls.DupOnly");
  assert_null (mact_registry_dup_load_error (registry, "libmact-cls-good.so"));
  /* A failed init registers nothing, not even what it added before failing. */
  assert_not_found (registry, "cls.InitFailNet");
  /* Deeper than one directory below the family directory is never scanned. */
  assert_not_found (registry, "cls.DeepNet");
  assert_null (mact_registry_dup_load_error (registry, "libmact-cls-deep.so"));
  /* The wrong-family type went nowhere. */
  assert_not_found (registry, "tv.WrongNet");

  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "cls");
  assert_int_equal (plugins->len, 2);
  MactPlugin *good = g_ptr_array_index (plugins, 0);
  assert_string_equal (mact_plugin_get_name (good), "good");
  assert_string_equal (mact_plugin_get_family (good), "cls");
  assert_string_equal (mact_plugin_get_version (good), "0.1.0");
  assert_string_equal (mact_plugin_get_license (good), "LGPL-2.1-or-later");
  assert_non_null (strstr (mact_plugin_get_description (good), "good plugin"));
  g_autofree gchar *good_path = g_build_filename (fixture_dir (), "cls", "libmact-cls-good.so",
                                                  NULL);
  assert_string_equal (mact_plugin_get_filename (good), good_path);
  g_auto(GStrv) good_types = mact_plugin_dup_type_names (good);
  const char *expected_good[] = { "cls.TestNet", NULL };
  assert_true (g_strv_equal ((const char * const *) good_types, expected_good));
  MactPlugin *dup = g_ptr_array_index (plugins, 1);
  assert_string_equal (mact_plugin_get_name (dup), "dup");
  g_auto(GStrv) dup_types = mact_plugin_dup_type_names (dup);
  const char *expected_dup[] = { "cls.DupOnly", NULL };
  assert_true (g_strv_equal ((const char * const *) dup_types, expected_dup));

  /* Adding a type after init is refused. */
  g_autoptr(GError) late = NULL;
  assert_false (mact_plugin_add_type (good, "cls.Late", lookup_ok (registry, "cls.TestNet"),
                                      &late));
  assert_error_with (&late, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_TYPE, "outside");
}

static void
test_invalid_types_recorded (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  /* badtype's init ignores two refusals and succeeds: its good type registers, and the
   * refusals are recorded all the same. */
  lookup_ok (registry, "BadTypeOk");
  assert_not_found (registry, "BadAbstract");
  assert_not_found (registry, "BadObject");
  g_auto(GStrv) messages = mact_registry_dup_load_errors (registry, "native");
  assert_int_equal (g_strv_length (messages), 2);
  assert_non_null (strstr (messages[0], "abstract"));
  assert_non_null (strstr (messages[1], "GObject"));
  g_autoptr(GError) error = mact_registry_dup_load_error (registry, "libmact-native-badtype.so");
  mact_test_assert_error (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_TYPE);

  /* The file name's '-' is the descriptor name's '_'. */
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "native");
  gboolean found = FALSE;
  for (guint i = 0; i < plugins->len; i++)
    found |= g_str_equal (mact_plugin_get_name (g_ptr_array_index (plugins, i)), "good_one");
  assert_true (found);
}

static void
test_not_found_message (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  mact_registry_prepend_search_path (registry, "/nonexistent/mact-root");
  g_autoptr(GError) error = NULL;
  assert_int_equal (mact_registry_lookup_type (registry, "cls.Nope", &error), G_TYPE_INVALID);
  assert_non_null (error);

  g_autofree gchar *cls_dir = g_build_filename (fixture_dir (), "cls", NULL);
  const char *needles[] = { "\"cls.Nope\"", cls_dir, "/nonexistent/mact-root/cls (missing)",
                            "13 problems", "libmact-cls-badabi.so", "libmact-cls-notelf.so",
                            "libmact-cls-initfail.so", "libmact-cls-dup.so" };
  for (guint i = 0; i < G_N_ELEMENTS (needles); i++)
    if (strstr (error->message, needles[i]) == NULL)
      fail_msg ("NOT_FOUND message \"%s\" does not mention \"%s\"", error->message, needles[i]);
  /* Failures of other families are not its business. */
  assert_null (strstr (error->message, "badtype"));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND);

  /* With nothing to search, it says so. */
  g_autoptr(MactRegistry) empty = mact_registry_new (FALSE);
  assert_int_equal (mact_registry_lookup_type (empty, "TSNHead", &error), G_TYPE_INVALID);
  assert_error_with (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND,
                     "search path is empty");
}

static void
test_create_block (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  g_autoptr(GError) error = NULL;

  assert_null (mact_registry_create_block (registry, "TestBackbone", MACT_TYPE_HEAD, 0, NULL,
                                           NULL, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "backbone"));
  assert_error_with (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND, "head");

  assert_null (mact_registry_create_block (registry, "cls.TestNet", MACT_TYPE_LOSS, 0, NULL,
                                           NULL, &error));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND);
  assert_null (mact_registry_create_block (registry, "cls.Nope", MACT_TYPE_BACKBONE, 0, NULL,
                                           NULL, &error));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND);
  assert_null (mact_registry_create_block (registry, "cls.", MACT_TYPE_BACKBONE, 0, NULL,
                                           NULL, &error));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_INVALID_NAME);

  g_autoptr(MactModule) block = mact_registry_create_block (registry, "cls.TestNet",
                                                            MACT_TYPE_BACKBONE, 0, NULL, NULL,
                                                            &error);
  if (block == NULL)
    fail_msg ("create_block failed: %s", error->message);
  assert_true (MACT_IS_BACKBONE (block));
  assert_string_equal (mact_registry_type_name_of (G_OBJECT_TYPE (block)), "cls.TestNet");

  /* G_TYPE_INVALID accepts any kind. */
  g_autoptr(MactModule) any = mact_registry_create_block (registry, "TestBackbone",
                                                          G_TYPE_INVALID, 0, NULL, NULL, &error);
  assert_non_null (any);
  assert_null (error);
}

static void
test_search_path_precedence (void **state)
{
  g_autofree gchar *shadow = shadow_dir ();

  /* shadow first: its libmact-tv-good.so wins and the fixture root's copy is skipped. */
  {
    g_autoptr(MactRegistry) registry = fixture_registry ();
    mact_registry_prepend_search_path (registry, shadow);
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    const char *expected[] = { shadow, fixture_dir (), NULL };
    assert_true (g_strv_equal ((const char * const *) roots, expected));
    assert_string_equal (g_type_name (lookup_ok (registry, "tv.shadow_net")),
                         "MactFixtureTvShadowNet");
    assert_not_found (registry, "tv.test_net");
  }
  /* The other way round. */
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
    mact_registry_prepend_search_path (registry, shadow);
    mact_registry_prepend_search_path (registry, fixture_dir ());
    lookup_ok (registry, "tv.test_net");
    assert_not_found (registry, "tv.shadow_net");
    /* Prepending a root again moves it to the front, once. */
    mact_registry_prepend_search_path (registry, shadow);
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    const char *expected[] = { shadow, fixture_dir (), NULL };
    assert_true (g_strv_equal ((const char * const *) roots, expected));
  }
  /* A root added after a family was loaded is scanned on the next miss. */
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
    mact_registry_prepend_search_path (registry, shadow);
    assert_not_found (registry, "cls.TestNet");
    assert_true (mact_registry_family_is_loaded (registry, "cls"));
    mact_registry_prepend_search_path (registry, fixture_dir ());
    lookup_ok (registry, "cls.TestNet");
    /* Already-loaded files are not loaded twice: one record per broken file. */
    assert_not_found (registry, "cls.StillNope");
    g_auto(GStrv) messages = mact_registry_dup_load_errors (registry, "cls");
    assert_int_equal (g_strv_length (messages), 13);
  }
}

static void
test_lazy_per_family (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  gint cls_inits = init_count ("MactFixtureClsTestNet");

  lookup_ok (registry, "tv.test_net");
  assert_true (mact_registry_family_is_loaded (registry, "tv"));
  assert_false (mact_registry_family_is_loaded (registry, "cls"));
  assert_false (mact_registry_family_is_loaded (registry, "native"));
  /* No cls file was opened: no cls plugin ran, no cls failure was recorded. */
  assert_int_equal (init_count ("MactFixtureClsTestNet"), cls_inits);
  assert_null (mact_registry_dup_load_error (registry, "libmact-cls-badabi.so"));

  lookup_ok (registry, "TestBackbone");
  assert_true (mact_registry_family_is_loaded (registry, "native"));
  assert_false (mact_registry_family_is_loaded (registry, "cls"));
  assert_false (mact_registry_family_is_loaded (registry, "nosuchfamily"));

  /* Listing everything loads everything. */
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) all = mact_registry_list_types (registry, NULL, &error);
  assert_null (error);
  assert_true (g_strv_contains ((const char * const *) all, "cls.TestNet"));
  assert_true (g_strv_contains ((const char * const *) all, "tv.test_net"));
  assert_true (g_strv_contains ((const char * const *) all, "TestBackbone"));
  assert_true (mact_registry_family_is_loaded (registry, "cls"));
  assert_int_equal (init_count ("MactFixtureClsTestNet"), cls_inits + 1);
  const char *expected[] = { "BadTypeOk", "TestBackbone", "cls.DupOnly", "cls.TestNet",
                             "tv.test_net", NULL };
  assert_true (g_strv_equal ((const char * const *) all, expected));
}

#define N_THREADS 8

typedef struct {
  MactRegistry *registry;
  gint         *ready;
  GType         result;
} ThreadData;

static gpointer
lookup_thread (gpointer user_data)
{
  ThreadData *data = user_data;
  /* Start together, so the lookups really overlap. */
  g_atomic_int_inc (data->ready);
  while (g_atomic_int_get (data->ready) < N_THREADS)
    g_thread_yield ();
  data->result = mact_registry_lookup_type (data->registry, "cls.TestNet", NULL);
  return NULL;
}

static void
test_threads_scan_once (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  gint before = init_count ("MactFixtureClsTestNet");

  gint ready = 0;
  ThreadData data[N_THREADS];
  GThread *threads[N_THREADS];
  for (guint i = 0; i < N_THREADS; i++)
    {
      data[i] = (ThreadData) { registry, &ready, G_TYPE_INVALID };
      threads[i] = g_thread_new ("lookup", lookup_thread, &data[i]);
    }
  for (guint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  GType expected = g_type_from_name ("MactFixtureClsTestNet");
  assert_true (expected != G_TYPE_INVALID);
  for (guint i = 0; i < N_THREADS; i++)
    assert_int_equal (data[i].result, expected);
  /* One scan: the good plugin's init ran once, each broken file was recorded once. */
  assert_int_equal (init_count ("MactFixtureClsTestNet"), before + 1);
  g_auto(GStrv) messages = mact_registry_dup_load_errors (registry, "cls");
  assert_int_equal (g_strv_length (messages), 13);
}

static MactRegistry *nested_registry;

static gboolean
init_nested_lookup (MactPlugin *plugin, GError **error)
{
  /* A plugin's init may look up another family of the registry it is added to. */
  if (mact_registry_lookup_type (nested_registry, "tv.test_net", error) == G_TYPE_INVALID)
    return FALSE;
  return mact_plugin_add_type (plugin, "NestedBackbone", test_static_backbone_get_type (),
                               error);
}

static void
test_static_plugin (void **state)
{
  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  g_autoptr(GError) error = NULL;
  const MactPluginDesc *desc = mact_plugin_native_teststatic_get_desc ();

  assert_true (mact_registry_add_static_plugin (registry, desc, &error));
  assert_null (error);
  GType type = lookup_ok (registry, "StaticBackbone");
  assert_int_equal (type, test_static_backbone_get_type ());
  assert_int_equal (lookup_ok (registry, "StaticHead"), test_static_head_get_type ());
  /* Found without any file: the family was never scanned. */
  assert_false (mact_registry_family_is_loaded (registry, "native"));
  /* Adding the same descriptor again changes nothing. */
  assert_true (mact_registry_add_static_plugin (registry, desc, &error));
  g_auto(GStrv) none = mact_registry_dup_load_errors (registry, "native");
  assert_int_equal (g_strv_length (none), 0);

  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "native");
  assert_int_equal (plugins->len, 1);
  assert_null (mact_plugin_get_filename (g_ptr_array_index (plugins, 0)));
  assert_string_equal (mact_plugin_get_name (g_ptr_array_index (plugins, 0)), "teststatic");

  assert_null (mact_registry_create_block (registry, "StaticHead", MACT_TYPE_BACKBONE, 0, NULL,
                                           NULL, &error));
  assert_error_with (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND, "head");
}

static void
test_static_plugin_errors (void **state)
{
  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  g_autoptr(GError) error = NULL;
  assert_true (mact_registry_add_static_plugin (registry,
                                                mact_plugin_native_teststatic_get_desc (),
                                                &error));

  /* Descriptor checks. */
  MactPluginDesc desc = make_desc ("magic", "native", static_plugin_init);
  desc.magic = 0;
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_ABI_MISMATCH, "magic");
  desc = make_desc ("abi", "native", static_plugin_init);
  desc.abi_version = MACT_PLUGIN_ABI_VERSION + 1;
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  mact_test_assert_error (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_ABI_MISMATCH);
  desc = make_desc ("major", "native", static_plugin_init);
  desc.core_major = MACT_MAJOR_VERSION + 1;
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  mact_test_assert_error (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_ABI_MISMATCH);

  const struct { const char *name, *family; const char *detail; } bad_desc[] = {
    { "foo", "timm", "\"timm\"" },
    { "foo", "mmcls", "\"mmcls\"" },   /* the descriptor takes the canonical name */
    { "Foo", "native", "[a-z0-9_]+" },
    { "foo-bar", "native", "[a-z0-9_]+" },
    { NULL, "native", "\"name\"" },
    { "foo", NULL, "\"family\"" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad_desc); i++)
    {
      desc = make_desc (bad_desc[i].name, bad_desc[i].family, static_plugin_init);
      assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
      assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                         bad_desc[i].detail);
    }
  desc = make_desc ("nolicense", "native", static_plugin_init);
  desc.license = "";
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC, "\"license\"");
  /* Another descriptor under a static plugin's family and name. */
  desc = make_desc ("teststatic", "native", static_plugin_init);
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC, "already");
  desc = make_desc ("noinit", "native", NULL);
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC, "init");

  /* Init and add_type failures. */
  const struct { const char *name; MactPluginInitFunc init; gint code; const char *detail; }
  bad_init[] = {
    { "fails", init_fails, MACT_PLUGIN_ERROR_INIT_FAILED, "no such thing" },
    { "wrongfam", init_wrong_family, MACT_PLUGIN_ERROR_WRONG_FAMILY, "cls.Foreign" },
    { "unknownprefix", init_unknown_prefix, MACT_PLUGIN_ERROR_WRONG_FAMILY, "timm.Foreign" },
    { "objecttype", init_object_type, MACT_PLUGIN_ERROR_INVALID_TYPE, "GObject" },
    { "abstracttype", init_abstract_type, MACT_PLUGIN_ERROR_INVALID_TYPE, "abstract head" },
    { "layertype", init_layer_type, MACT_PLUGIN_ERROR_INVALID_TYPE, "not a backbone" },
    { "badname", init_bad_name, MACT_PLUGIN_ERROR_INVALID_TYPE, "Bad-Name" },
    { "nodispose", init_no_dispose, MACT_PLUGIN_ERROR_INVALID_TYPE,
      "\"NoDispose\" (TestNoDispose): its class leaves GObjectClass.dispose NULL" },
    { "invalidgtype", init_invalid_gtype, MACT_PLUGIN_ERROR_INVALID_TYPE,
      "\"NoGType\" has no GType (G_TYPE_INVALID" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad_init); i++)
    {
      desc = make_desc (bad_init[i].name, "native", bad_init[i].init);
      assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
      assert_non_null (error);
      assert_non_null (strstr (error->message, bad_init[i].name));   /* names the plugin */
      assert_error_with (&error, MACT_PLUGIN_ERROR, bad_init[i].code, bad_init[i].detail);
    }
  assert_not_found (registry, "Foreign");
  assert_not_found (registry, "JustALayer");
  assert_not_found (registry, "NoDispose");

  /* A duplicate is refused; the plugin's other type registers. */
  desc = make_desc ("dups", "native", init_dup);
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_DUPLICATE_TYPE,
                     "static plugin native/teststatic");
  assert_int_equal (lookup_ok (registry, "StaticBackbone"), test_static_backbone_get_type ());
  assert_int_equal (lookup_ok (registry, "StaticDupHead"), test_static_head_get_type ());

  /* Problems after the descriptor check are kept with the family's load errors too. */
  g_auto(GStrv) messages = mact_registry_dup_load_errors (registry, "native");
  assert_int_equal (g_strv_length (messages), G_N_ELEMENTS (bad_init) + 1);
}

static void
test_static_plugin_nested_lookup (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  g_autoptr(GError) error = NULL;
  nested_registry = registry;
  MactPluginDesc desc = make_desc ("nested", "native", init_nested_lookup);
  assert_true (mact_registry_add_static_plugin (registry, &desc, &error));
  assert_null (error);
  nested_registry = NULL;
  assert_true (mact_registry_family_is_loaded (registry, "tv"));
  lookup_ok (registry, "NestedBackbone");
}

/* ------------------------------------------------------------------ hostile plugins */

static void
test_bad_classes (void **state)
{
  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  g_autofree gchar *file = hostile_file ("badclass");
  g_autoptr(GError) error = NULL;

  /* badclass's init ignores the refusals and succeeds: its good type registers, and the
   * first refusal is what loading the file answers. */
  assert_false (mact_registry_load_plugin_file (registry, file, &error));
  assert_non_null (error);
  assert_true (g_str_has_prefix (error->message, file));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_TYPE,
                     "\"NoFinalizeNet\" (MactFixtureNativeNoFinalize)");

  /* The fixture's classes really are broken the way the messages say. */
  GObjectClass *no_finalize = g_type_class_peek (g_type_from_name ("MactFixtureNativeNoFinalize"));
  assert_non_null (no_finalize);
  assert_null (no_finalize->finalize);
  GObjectClass *no_init = g_type_class_peek (g_type_from_name ("MactFixtureNativeNoInit"));
  assert_non_null (no_init);
  GInitableIface *initable = g_type_interface_peek (no_init, G_TYPE_INITABLE);
  assert_non_null (initable);
  assert_null (initable->init);
  assert_int_equal (g_type_from_name ("MactFixtureNativeNotABackbone"), G_TYPE_INVALID);

  /* Each refusal is recorded, names the file and the type, and says what is wrong. */
  g_auto(GStrv) messages = mact_registry_dup_load_errors (registry, "native");
  const struct { const char *type, *detail; } expected[] = {
    { "\"NoFinalizeNet\"", "leaves GObjectClass.finalize NULL" },
    { "\"NoInitNet\"", "leaves GInitableIface.init NULL" },
    { "\"NotABackbone\"", "G_TYPE_INVALID" },
  };
  assert_int_equal (g_strv_length (messages), G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      assert_true (g_str_has_prefix (messages[i], file));
      if (strstr (messages[i], expected[i].type) == NULL ||
          strstr (messages[i], expected[i].detail) == NULL)
        fail_msg ("load error %u is \"%s\", expected %s: %s", i, messages[i], expected[i].type,
                  expected[i].detail);
      assert_true (warned_about (expected[i].type));
    }
  GError *recorded = mact_registry_dup_load_error (registry, "libmact-native-badclass.so");
  assert_error_with (&recorded, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_TYPE,
                     "NoFinalizeNet");

  /* None of them can be created; the plugin's good type works. */
  assert_not_found (registry, "NoFinalizeNet");
  assert_not_found (registry, "NoInitNet");
  assert_not_found (registry, "NotABackbone");
  g_autoptr(MactModule) block = mact_registry_create_block (registry, "BadClassOk",
                                                            MACT_TYPE_BACKBONE, 0, NULL, NULL,
                                                            &error);
  if (block == NULL)
    fail_msg ("create_block failed: %s", error->message);
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "native");
  assert_int_equal (plugins->len, 1);
  assert_string_equal (mact_plugin_get_name (g_ptr_array_index (plugins, 0)), "badclass");
}

static void
test_load_plugin_file (void **state)
{
  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  g_autoptr(GError) error = NULL;

  /* A name that is no plugin file name: refused before anything is opened. */
  const char *not_plugins[] = { "/nonexistent/libfoo.so", "/nonexistent/libmact-timm-x.so",
                                "/nonexistent/libmact-native-.so",
                                "/nonexistent/libmact-native-x.so.1" };
  for (guint i = 0; i < G_N_ELEMENTS (not_plugins); i++)
    {
      assert_false (mact_registry_load_plugin_file (registry, not_plugins[i], &error));
      assert_non_null (error);
      assert_true (g_str_has_prefix (error->message, not_plugins[i]));
      assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_NOT_A_PLUGIN,
                         "native, cls, tv");
    }

  /* A relative path is taken from the current directory, and kept absolute. */
  g_autofree gchar *saved_cwd = g_get_current_dir ();
  g_autofree gchar *native_dir = g_build_filename (fixture_dir (), "native", NULL);
  assert_int_equal (g_chdir (native_dir), 0);
  g_autofree gchar *cwd = g_get_current_dir ();
  g_autofree gchar *good = g_build_filename (cwd, "libmact-native-good-one.so", NULL);
  gboolean loaded = mact_registry_load_plugin_file (registry, "libmact-native-good-one.so",
                                                    &error);
  assert_int_equal (g_chdir (saved_cwd), 0);
  if (!loaded)
    fail_msg ("loading good-one failed: %s", error->message);
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "native");
  assert_int_equal (plugins->len, 1);
  assert_string_equal (mact_plugin_get_filename (g_ptr_array_index (plugins, 0)), good);
  assert_string_equal (mact_plugin_get_name (g_ptr_array_index (plugins, 0)), "good_one");
  lookup_ok (registry, "TestBackbone");
  /* The same path again loads nothing and answers the same. */
  assert_true (mact_registry_load_plugin_file (registry, good, &error));
  assert_null (error);

  /* Another file of the same name is refused without being opened. */
  g_autofree gchar *tmp = g_dir_make_tmp ("mact-registry-XXXXXX", &error);
  assert_non_null (tmp);
  g_autofree gchar *link = g_build_filename (tmp, "libmact-native-good-one.so", NULL);
  assert_int_equal (symlink (good, link), 0);
  assert_false (mact_registry_load_plugin_file (registry, link, &error));
  assert_non_null (error);
  assert_true (g_str_has_prefix (error->message, link));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_DUPLICATE_FILE, good);

  /* A file that cannot be opened is refused, recorded, and refused again alike. */
  g_autofree gchar *missing = g_build_filename (tmp, "libmact-cls-missing.so", NULL);
  assert_false (mact_registry_load_plugin_file (registry, missing, &error));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_OPEN, missing);
  assert_true (warned_about (missing));
  GError *recorded = mact_registry_dup_load_error (registry, missing);
  assert_error_with (&recorded, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_OPEN, "cannot open");
  assert_false (mact_registry_load_plugin_file (registry, missing, &error));
  assert_error_with (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_OPEN, missing);
  g_auto(GStrv) cls_errors = mact_registry_dup_load_errors (registry, "cls");
  assert_int_equal (g_strv_length (cls_errors), 1);

  /* A later scan skips the file loaded by name: one plugin, no duplicate types. */
  mact_registry_prepend_search_path (registry, fixture_dir ());
  lookup_ok (registry, "BadTypeOk");
  g_autoptr(GPtrArray) after_scan = mact_registry_list_plugins (registry, "native");
  assert_int_equal (after_scan->len, 2);
  g_auto(GStrv) native_errors = mact_registry_dup_load_errors (registry, "native");
  for (guint i = 0; native_errors[i] != NULL; i++)
    assert_null (strstr (native_errors[i], "TestBackbone"));

  g_unlink (link);
  g_rmdir (tmp);
}

static void
test_list_plugin_files (void **state)
{
  g_autoptr(MactRegistry) registry = fixture_registry ();
  g_autofree gchar *shadow = shadow_dir ();
  mact_registry_prepend_search_path (registry, shadow);

  /* The order a scan opens them in: sorted, the family directory before the one below
   * it, never two levels down. */
  g_auto(GStrv) cls = mact_registry_list_plugin_files (registry, "mmcls");
  const char *cls_order[] = { "badabi", "badmagic", "good", "initfail", "initnoerror",
                              "misfiled", "namemismatch", "newcore", "nodesc", "noentry",
                              "notelf", "undefsym", "wrongfamily", "extra/libmact-cls-dup" };
  assert_int_equal (g_strv_length (cls), G_N_ELEMENTS (cls_order));
  for (guint i = 0; i < G_N_ELEMENTS (cls_order); i++)
    {
      g_autofree gchar *suffix = strchr (cls_order[i], '/') != NULL
        ? g_strconcat ("/cls/", cls_order[i], ".so", NULL)
        : g_strconcat ("/cls/libmact-cls-", cls_order[i], ".so", NULL);
      if (!g_str_has_suffix (cls[i], suffix) || !g_str_has_prefix (cls[i], fixture_dir ()))
        fail_msg ("plugin file %u is %s, expected one ending in %s", i, cls[i], suffix);
    }

  /* Unique by file name: the shadow root's libmact-tv-good.so hides the other one. */
  g_auto(GStrv) tv = mact_registry_list_plugin_files (registry, "tv");
  g_autofree gchar *shadow_tv = g_build_filename (shadow, "tv", "libmact-tv-good.so", NULL);
  const char *tv_expected[] = { shadow_tv, NULL };
  assert_true (g_strv_equal ((const char * const *) tv, tv_expected));

  /* All families, in their order; an unknown family has none. */
  g_auto(GStrv) all = mact_registry_list_plugin_files (registry, NULL);
  g_auto(GStrv) native = mact_registry_list_plugin_files (registry, "native");
  assert_int_equal (g_strv_length (all), g_strv_length (native) + g_strv_length (cls) + 1);
  assert_string_equal (all[0], native[0]);
  assert_string_equal (all[g_strv_length (all) - 1], shadow_tv);
  g_auto(GStrv) none = mact_registry_list_plugin_files (registry, "timm");
  assert_int_equal (g_strv_length (none), 0);

  /* Nothing was opened. */
  assert_false (mact_registry_family_is_loaded (registry, "cls"));
  assert_null (mact_registry_dup_load_error (registry, "libmact-cls-badabi.so"));
}

static void
test_nothing_from_current_directory (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *saved_path = g_strdup (g_getenv ("MACT_PLUGIN_PATH"));
  g_autofree gchar *saved_system = g_strdup (g_getenv ("MACT_PLUGIN_SYSTEM_PATH"));
  g_autofree gchar *saved_cwd = g_get_current_dir ();

  /* The current directory is laid out as a plugin root, with a good plugin in it. */
  g_autofree gchar *tmp = g_dir_make_tmp ("mact-cwd-XXXXXX", &error);
  assert_non_null (tmp);
  g_autofree gchar *tmp_native = g_build_filename (tmp, "native", NULL);
  assert_int_equal (g_mkdir (tmp_native, 0700), 0);
  g_autofree gchar *fine = hostile_file ("fine");
  g_autofree gchar *copy = g_build_filename (tmp_native, "libmact-native-fine.so", NULL);
  g_autoptr(GFile) from = g_file_new_for_path (fine);
  g_autoptr(GFile) to = g_file_new_for_path (copy);
  assert_true (g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, &error));
  assert_int_equal (g_chdir (tmp), 0);
  g_autofree gchar *cwd = g_get_current_dir ();

  /* A registry searching other roots does not look here. */
  {
    g_autoptr(MactRegistry) registry = fixture_registry ();
    assert_not_found (registry, "FineNet");
    g_auto(GStrv) files = mact_registry_list_plugin_files (registry, NULL);
    for (guint i = 0; files[i] != NULL; i++)
      assert_false (g_str_has_prefix (files[i], cwd));
  }
  /* Empty entries of the variables do not mean the current directory. */
  g_setenv ("MACT_PLUGIN_PATH", "::", TRUE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", ":", TRUE);
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (TRUE);
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    assert_int_equal (g_strv_length (roots), 0);
    assert_int_equal (mact_registry_lookup_type (registry, "FineNet", &error), G_TYPE_INVALID);
    assert_error_with (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND,
                       "search path is empty");
  }
  /* Nor do the defaults. */
  g_unsetenv ("MACT_PLUGIN_PATH");
  g_unsetenv ("MACT_PLUGIN_SYSTEM_PATH");
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (TRUE);
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    assert_int_equal (g_strv_length (roots), 2);
    for (guint i = 0; roots[i] != NULL; i++)
      {
        assert_true (g_path_is_absolute (roots[i]));
        assert_false (g_str_equal (roots[i], cwd));
      }
  }
  /* A relative directory the environment or the program names is resolved when it is
   * given: changing directory afterwards changes nothing. */
  g_setenv ("MACT_PLUGIN_PATH", ".", TRUE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", "", TRUE);
  g_autoptr(MactRegistry) from_env = mact_registry_new (TRUE);
  g_autoptr(MactRegistry) from_api = mact_registry_new (FALSE);
  mact_registry_prepend_search_path (from_api, "./native/..");
  assert_int_equal (g_chdir (saved_cwd), 0);
  g_auto(GStrv) env_roots = mact_registry_get_search_path (from_env);
  g_auto(GStrv) api_roots = mact_registry_get_search_path (from_api);
  const char *expected[] = { cwd, NULL };
  assert_true (g_strv_equal ((const char * const *) env_roots, expected));
  assert_true (g_strv_equal ((const char * const *) api_roots, expected));
  /* ... and loads from there, now that it is no longer the current directory. */
  lookup_ok (from_env, "FineNet");
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (from_env, "native");
  assert_int_equal (plugins->len, 1);
  g_autofree gchar *expected_file = g_build_filename (cwd, "native", "libmact-native-fine.so",
                                                      NULL);
  assert_string_equal (mact_plugin_get_filename (g_ptr_array_index (plugins, 0)),
                       expected_file);

  g_setenv ("MACT_PLUGIN_PATH", saved_path != NULL ? saved_path : "", TRUE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", saved_system != NULL ? saved_system : "", TRUE);
  g_unlink (copy);
  g_rmdir (tmp_native);
  g_rmdir (tmp);
}

static void
test_privileged_process (void **state)
{
  g_autofree gchar *saved_path = g_strdup (g_getenv ("MACT_PLUGIN_PATH"));
  g_autofree gchar *saved_system = g_strdup (g_getenv ("MACT_PLUGIN_SYSTEM_PATH"));

  /* The installed directory: the last default root of an ordinary process. */
  g_unsetenv ("MACT_PLUGIN_PATH");
  g_unsetenv ("MACT_PLUGIN_SYSTEM_PATH");
  g_autoptr(MactRegistry) ordinary = mact_registry_new (TRUE);
  g_auto(GStrv) defaults = mact_registry_get_search_path (ordinary);
  assert_int_equal (g_strv_length (defaults), 2);
  const char *installed = defaults[1];

  /* Variables that an ordinary process follows... */
  g_setenv ("MACT_PLUGIN_PATH", "/mact-test/user-chosen", TRUE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", "/mact-test/user-system", TRUE);
  {
    g_autoptr(MactRegistry) registry = mact_registry_new (TRUE);
    g_auto(GStrv) roots = mact_registry_get_search_path (registry);
    const char *expected[] = { "/mact-test/user-chosen", "/mact-test/user-system", NULL };
    assert_true (g_strv_equal ((const char * const *) roots, expected));
  }
  /* ... a privileged one ignores, and the user's data directory with them: only the
   * installed directory is left. */
  pretend_privileged = TRUE;
  g_autoptr(MactRegistry) privileged = mact_registry_new (TRUE);
  g_unsetenv ("MACT_PLUGIN_SYSTEM_PATH");
  g_autoptr(MactRegistry) privileged_defaults = mact_registry_new (TRUE);
  pretend_privileged = FALSE;
  const char *expected[] = { installed, NULL };
  g_auto(GStrv) roots = mact_registry_get_search_path (privileged);
  assert_true (g_strv_equal ((const char * const *) roots, expected));
  g_auto(GStrv) roots_defaults = mact_registry_get_search_path (privileged_defaults);
  assert_true (g_strv_equal ((const char * const *) roots_defaults, expected));
  /* The program's own directories still count: it chose them, not the user. */
  mact_registry_prepend_search_path (privileged, fixture_dir ());
  lookup_ok (privileged, "cls.TestNet");

  g_setenv ("MACT_PLUGIN_PATH", saved_path != NULL ? saved_path : "", TRUE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", saved_system != NULL ? saved_system : "", TRUE);
}

int
main (void)
{
  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_default_registry),
    cmocka_unit_test (test_environment_search_path),
    cmocka_unit_test (test_parse_type_names),
    cmocka_unit_test (test_invalid_names),
    cmocka_unit_test (test_unknown_family),
    cmocka_unit_test (test_lookup_each_family),
    cmocka_unit_test (test_aliases),
    cmocka_unit_test (test_failure_modes),
    cmocka_unit_test (test_invalid_types_recorded),
    cmocka_unit_test (test_not_found_message),
    cmocka_unit_test (test_create_block),
    cmocka_unit_test (test_search_path_precedence),
    cmocka_unit_test (test_lazy_per_family),
    cmocka_unit_test (test_threads_scan_once),
    cmocka_unit_test (test_static_plugin),
    cmocka_unit_test (test_static_plugin_errors),
    cmocka_unit_test (test_static_plugin_nested_lookup),
    cmocka_unit_test (test_bad_classes),
    cmocka_unit_test (test_load_plugin_file),
    cmocka_unit_test (test_list_plugin_files),
    cmocka_unit_test (test_nothing_from_current_directory),
    cmocka_unit_test (test_privileged_process),
  };
  int failed = cmocka_run_group_tests_name ("registry", tests, NULL, NULL);
  g_ptr_array_unref (warnings);
  return failed;
}
