/* test-plugin-check.c: `mact plugins --check`, which vets plugin files by loading each in
 * a child process: a plugin that crashes is reported with its signal, one that hangs is
 * killed at the timeout, one that exits or is refused is reported as failed, and the
 * check goes on with the next file.  The hostile fixtures are in
 * <build>/tests/plugins/hostile (tests/plugins/hostile/native/meson.build); the program
 * is the build tree's (MACT_TEST_CLI). */
#include "mact-test.h"

#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

static gchar *
hostile_file (const char *name)
{
  const char *root = g_getenv ("MACT_TEST_PLUGIN_DIR");
  assert_non_null (root);
  g_autofree gchar *base = g_strdup_printf ("libmact-native-%s.so", name);
  return g_build_filename (root, "hostile", "native", base, NULL);
}

/* Runs `mact plugins ARGS...`.  In a build with AddressSanitizer, ASan would catch the
 * crash fixture's SIGSEGV itself and exit with a status: let the signal through, as it
 * is in a normal build. */
static MactTestRun
run_plugins (const char *const *args)
{
  const char *asan = g_getenv ("ASAN_OPTIONS");
  g_autofree gchar *asan_env = g_strdup_printf ("ASAN_OPTIONS=%s%shandle_segv=0",
                                                asan != NULL ? asan : "",
                                                asan != NULL && asan[0] != '\0' ? ":" : "");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, "plugins");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return mact_test_run_cli_envv ((const char *const[]) { asan_env, NULL },
                                 (const char *const *) argv->pdata);
}

static void
expect_in (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    fail_msg ("\"%s\" not found in:\n%s", needle, haystack);
}

/* The JSON output's entry for @file. */
static JsonObject *
result_for (JsonObject *root, const char *file)
{
  JsonArray *plugins = json_object_get_array_member (root, "plugins");
  for (guint i = 0; i < json_array_get_length (plugins); i++)
    {
      JsonObject *entry = json_array_get_object_element (plugins, i);
      if (g_str_equal (json_object_get_string_member (entry, "file"), file))
        return entry;
    }
  fail_msg ("no result for %s", file);
  return NULL;
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_data (parser, text, -1, &error))
    fail_msg ("not JSON (%s):\n%s", error->message, text);
  return json_node_copy (json_parser_get_root (parser));
}

/* Crash, exit, bad classes and a good plugin, as JSON: each outcome, and the check got
 * through all of them. */
static void
test_check_json (void **state)
{
  g_autofree gchar *crash = hostile_file ("crash");
  g_autofree gchar *exits = hostile_file ("exits");
  g_autofree gchar *badclass = hostile_file ("badclass");
  g_autofree gchar *fine = hostile_file ("fine");
  MactTestRun r = run_plugins ((const char *const[]) { "--check", "--json", crash, exits,
                                                       badclass, fine, NULL });
  assert_int_equal (r.status, 1);
  g_autoptr(JsonNode) node = parse_json (r.out);
  JsonObject *root = json_node_get_object (node);
  JsonArray *plugins = json_object_get_array_member (root, "plugins");
  assert_int_equal (json_array_get_length (plugins), 4);
  /* In the order given. */
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (plugins, 0),
                                                      "file"), crash);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (plugins, 3),
                                                      "file"), fine);

  JsonObject *c = result_for (root, crash);
  assert_string_equal (json_object_get_string_member (c, "status"), "crashed");
  assert_string_equal (json_object_get_string_member (c, "signal"), "SIGSEGV");
  expect_in (json_object_get_string_member (c, "message"), "killed by SIGSEGV");
  assert_false (json_object_has_member (c, "plugin"));

  JsonObject *e = result_for (root, exits);
  assert_string_equal (json_object_get_string_member (e, "status"), "failed");
  assert_int_equal (json_object_get_int_member (e, "exit_status"), 3);
  expect_in (json_object_get_string_member (e, "message"), "exited with status 3");

  JsonObject *b = result_for (root, badclass);
  assert_string_equal (json_object_get_string_member (b, "status"), "failed");
  JsonObject *error = json_object_get_object_member (b, "error");
  assert_string_equal (json_object_get_string_member (error, "domain"),
                       g_quark_to_string (MACT_PLUGIN_ERROR));
  assert_string_equal (json_object_get_string_member (error, "code"), "invalid-type");
  JsonArray *problems = json_object_get_array_member (b, "problems");
  assert_int_equal (json_array_get_length (problems), 3);
  expect_in (json_array_get_string_element (problems, 0), "NoFinalizeNet");
  expect_in (json_array_get_string_element (problems, 1), "GInitableIface.init");
  expect_in (json_array_get_string_element (problems, 2), "NotABackbone");
  /* Its good type loaded. */
  JsonArray *b_types = json_object_get_array_member (b, "types");
  assert_int_equal (json_array_get_length (b_types), 1);
  assert_string_equal (json_object_get_string_member (json_array_get_object_element (b_types, 0),
                                                      "name"), "BadClassOk");

  JsonObject *f = result_for (root, fine);
  assert_string_equal (json_object_get_string_member (f, "status"), "ok");
  JsonObject *plugin = json_object_get_object_member (f, "plugin");
  assert_string_equal (json_object_get_string_member (plugin, "name"), "fine");
  assert_string_equal (json_object_get_string_member (plugin, "family"), "native");
  JsonArray *types = json_object_get_array_member (f, "types");
  assert_int_equal (json_array_get_length (types), 1);
  JsonObject *type = json_array_get_object_element (types, 0);
  assert_string_equal (json_object_get_string_member (type, "name"), "FineNet");
  assert_string_equal (json_object_get_string_member (type, "kind"), "backbone");
  assert_string_equal (json_object_get_string_member (type, "gtype"), "MactFixtureNativeFineNet");
  assert_false (json_object_has_member (f, "stderr"));

  JsonObject *summary = json_object_get_object_member (root, "summary");
  assert_int_equal (json_object_get_int_member (summary, "files"), 4);
  assert_int_equal (json_object_get_int_member (summary, "ok"), 1);
  assert_int_equal (json_object_get_int_member (summary, "failed"), 3);
  assert_int_equal (json_object_get_int_member (summary, "crashed"), 1);
  assert_int_equal (json_object_get_int_member (summary, "timed_out"), 0);
  mact_test_run_clear (&r);
}

/* The hanging plugin is killed when the timeout expires, and the next file is checked. */
static void
test_check_timeout (void **state)
{
  g_autofree gchar *hang = hostile_file ("hang");
  g_autofree gchar *fine = hostile_file ("fine");
  gint64 start = g_get_monotonic_time ();
  MactTestRun r = run_plugins ((const char *const[]) { "--check", "--json", "--timeout", "2",
                                                       hang, fine, NULL });
  double elapsed = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  assert_int_equal (r.status, 1);
  g_autoptr(JsonNode) node = parse_json (r.out);
  JsonObject *root = json_node_get_object (node);
  assert_true (json_object_get_double_member (root, "timeout") == 2.0);

  JsonObject *h = result_for (root, hang);
  assert_string_equal (json_object_get_string_member (h, "status"), "timeout");
  expect_in (json_object_get_string_member (h, "message"), "still loading after 2 s");
  assert_true (json_object_get_double_member (h, "seconds") >= 2.0);
  assert_true (elapsed < 60.0);   /* not left to hang: its init sleeps forever */
  assert_false (json_object_has_member (h, "exit_status"));

  /* The next file was checked.  It loads in well under a second; only on a machine too
   * busy to start a process in 2 s may it time out as well. */
  JsonObject *f = result_for (root, fine);
  const char *status = json_object_get_string_member (f, "status");
  if (!g_str_equal (status, "ok") &&
      !(g_str_equal (status, "timeout") && json_object_get_double_member (f, "seconds") >= 2.0))
    fail_msg ("the file after the hanging one: %s", r.out);
  JsonObject *summary = json_object_get_object_member (root, "summary");
  assert_int_equal (json_object_get_int_member (summary, "files"), 2);
  assert_true (json_object_get_int_member (summary, "timed_out") >= 1);
  mact_test_run_clear (&r);
}

/* The human-readable form: one line per file with its outcome, then the summary. */
static void
test_check_text (void **state)
{
  g_autofree gchar *crash = hostile_file ("crash");
  g_autofree gchar *badclass = hostile_file ("badclass");
  g_autofree gchar *fine = hostile_file ("fine");
  MactTestRun r = run_plugins ((const char *const[]) { "--check", "-v", crash, badclass, fine,
                                                       NULL });
  assert_int_equal (r.status, 1);
  expect_in (r.out, "Checking 3 plugin files, each in a process of its own (timeout 10 s):\n");
  g_autofree gchar *crash_line =
    g_strdup_printf ("  CRASHED  %s: crashed while loading: killed by SIGSEGV (", crash);
  expect_in (r.out, crash_line);
  g_autofree gchar *badclass_line = g_strdup_printf ("  FAILED   %s: type \"NoFinalizeNet\"",
                                                     badclass);
  expect_in (r.out, badclass_line);
  /* Every problem, the file not repeated; with -v, the child's stderr. */
  expect_in (r.out, "\n             type \"NoInitNet\" (MactFixtureNativeNoInit): its class "
                    "leaves GInitableIface.init NULL");
  expect_in (r.out, "           its stderr:\n");
  expect_in (r.out, "is smaller than the parent type's 'MactBackbone' class size");
  g_autofree gchar *fine_line = g_strdup_printf ("  OK       %s: native/fine 0.1.0, 1 type\n",
                                                 fine);
  expect_in (r.out, fine_line);
  expect_in (r.out, "backbone  FineNet");
  expect_in (r.out, "\n3 plugin files: 1 ok, 2 failed (1 crashed, 0 timed out)\n");
  /* The parent loaded nothing itself: no loader warnings of its own. */
  assert_string_equal (r.err, "");
  mact_test_run_clear (&r);
}

/* Links @name of the loader's fixture root (<build>/tests/plugins) as @link in @root. */
static gchar *
link_fixture (const char *root, const char *name, const char *link)
{
  g_autofree gchar *target = g_build_filename (g_getenv ("MACT_TEST_PLUGIN_DIR"), name, NULL);
  gchar *path = g_build_filename (root, link, NULL);
  g_autofree gchar *dir = g_path_get_dirname (path);
  assert_int_equal (g_mkdir_with_parents (dir, 0700), 0);
  assert_int_equal (symlink (target, path), 0);
  return path;
}

/* A directory is a plugin root: its files are found as a scan finds them (family
 * directories and one level below, sorted) and checked in that order, each with its
 * outcome.  A few of the loader's fixtures, linked into a root of the test's own: each
 * check starts a process, so the whole fixture root would be slow. */
static void
test_check_root (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *root = g_dir_make_tmp ("mact-check-root-XXXXXX", &error);
  assert_non_null (root);
  const struct { const char *fixture, *link, *status, *detail; } cases[] = {
    { "native/libmact-native-good-one.so", "native/libmact-native-good-one.so", "ok", NULL },
    { "cls/libmact-cls-badabi.so", "cls/libmact-cls-badabi.so", "failed",
      "plugin ABI version 2" },
    { "cls/libmact-cls-good.so", "cls/libmact-cls-good.so", "ok", NULL },
    { "cls/libmact-cls-undefsym.so", "cls/sub/libmact-cls-undefsym.so", "failed",
      "mact_fixture_no_such_symbol" },
    { "tv/libmact-tv-good.so", "tv/libmact-tv-good.so", "ok", NULL },
  };
  g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_ptr_array_add (links, link_fixture (root, cases[i].fixture, cases[i].link));
  /* Not searched: two levels below a family directory, and outside any. */
  g_ptr_array_add (links, link_fixture (root, "cls/extra/deeper/libmact-cls-deep.so",
                                        "cls/sub/deeper/libmact-cls-deep.so"));
  g_ptr_array_add (links, link_fixture (root, "native/libmact-native-badtype.so",
                                        "libmact-native-badtype.so"));

  MactTestRun r = run_plugins ((const char *const[]) { "--check", "--json", root, NULL });
  assert_int_equal (r.status, 1);
  g_autoptr(JsonNode) node = parse_json (r.out);
  JsonObject *result = json_node_get_object (node);
  JsonArray *plugins = json_object_get_array_member (result, "plugins");
  assert_int_equal (json_array_get_length (plugins), G_N_ELEMENTS (cases));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      JsonObject *entry = json_array_get_object_element (plugins, i);
      assert_string_equal (json_object_get_string_member (entry, "file"),
                           g_ptr_array_index (links, i));
      assert_string_equal (json_object_get_string_member (entry, "status"), cases[i].status);
      if (cases[i].detail != NULL)
        expect_in (json_object_get_string_member (entry, "message"), cases[i].detail);
    }
  JsonObject *summary = json_object_get_object_member (result, "summary");
  assert_int_equal (json_object_get_int_member (summary, "ok"), 3);
  assert_int_equal (json_object_get_int_member (summary, "failed"), 2);
  mact_test_run_clear (&r);

  for (guint i = links->len; i > 0; i--)
    {
      const char *path = g_ptr_array_index (links, i - 1);
      g_unlink (path);
      g_autofree gchar *dir = g_path_get_dirname (path);
      while (!g_str_equal (dir, root) && g_rmdir (dir) == 0)
        {
          gchar *parent = g_path_get_dirname (dir);
          g_free (dir);
          dir = parent;
        }
    }
  g_rmdir (root);
}

/* Without arguments, the search path (the test's MACT_PLUGIN_PATH: mact's own plugins):
 * all load, exit status 0. */
static void
test_check_search_path (void **state)
{
  MactTestRun r = run_plugins ((const char *const[]) { "--check", NULL });
  if (r.status != 0)
    fail_msg ("mact plugins --check failed:\n%s%s", r.out, r.err);
  expect_in (r.out, "libmact-native-mmaction.so: native/mmaction ");
  expect_in (r.out, "libmact-tv-torchvision.so: tv/torchvision ");
  expect_in (r.out, "libmact-cls-mmcls.so: cls/mmcls ");
  assert_null (strstr (r.out, "FAILED"));
  expect_in (r.out, " ok, 0 failed\n");
  mact_test_run_clear (&r);
}

static void
test_check_errors (void **state)
{
  /* Options of --check without it, and bad timeouts: usage errors. */
  const char *const usage[][5] = {
    { "--timeout", "5", NULL },
    { "--check", "--timeout", "0", NULL },
    { "--check", "--timeout", "nan", NULL },
  };
  const char *needles[] = { "go with --check", "not '0'", "not 'nan'" };
  for (guint i = 0; i < G_N_ELEMENTS (usage); i++)
    {
      MactTestRun r = run_plugins (usage[i]);
      assert_int_equal (r.status, 2);
      expect_in (r.err, needles[i]);
      mact_test_run_clear (&r);
    }

  /* A path that does not exist: a run-time error naming it. */
  MactTestRun r = run_plugins ((const char *const[]) { "--check", "/nonexistent/mact-plugins",
                                                       NULL });
  assert_int_equal (r.status, 1);
  expect_in (r.err, "mact plugins: /nonexistent/mact-plugins: no such plugin file or directory");
  assert_string_equal (r.out, "");
  mact_test_run_clear (&r);

  /* A file that is no plugin by its name: checked, and failed with why. */
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("mact-check-XXXXXX", &error);
  g_autofree gchar *odd = g_build_filename (dir, "not-a-plugin.so", NULL);
  assert_true (g_file_set_contents (odd, "", 0, NULL));
  r = run_plugins ((const char *const[]) { "--check", "--json", odd, NULL });
  assert_int_equal (r.status, 1);
  g_autoptr(JsonNode) node = parse_json (r.out);
  JsonObject *entry = result_for (json_node_get_object (node), odd);
  assert_string_equal (json_object_get_string_member (entry, "status"), "failed");
  assert_string_equal (json_object_get_string_member (json_object_get_object_member (entry,
                                                                                     "error"),
                                                      "code"), "not-a-plugin");
  expect_in (json_object_get_string_member (entry, "message"), "not a plugin file name");
  mact_test_run_clear (&r);

  /* An empty directory: nothing to check, nothing failed. */
  r = run_plugins ((const char *const[]) { "--check", dir, NULL });
  assert_int_equal (r.status, 0);
  expect_in (r.out, "Checking 0 plugin files");
  expect_in (r.out, "0 plugin files: 0 ok, 0 failed\n");
  mact_test_run_clear (&r);

  g_unlink (odd);
  g_rmdir (dir);

  r = run_plugins ((const char *const[]) { "--help", NULL });
  assert_int_equal (r.status, 0);
  expect_in (r.out, "--check");
  expect_in (r.out, "--timeout=SECONDS");
  expect_in (r.out, "[DIR|FILE...]");
  /* The child's mode is not advertised. */
  assert_null (strstr (r.out, "scan-file"));
  mact_test_run_clear (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_check_json),
    cmocka_unit_test (test_check_timeout),
    cmocka_unit_test (test_check_text),
    cmocka_unit_test (test_check_root),
    cmocka_unit_test (test_check_search_path),
    cmocka_unit_test (test_check_errors),
  };
  return cmocka_run_group_tests_name ("plugin-check", tests, NULL, NULL);
}
