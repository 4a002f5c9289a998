/* mact-cmd-plugins.c: `mact plugins [-v]`, what gst-inspect is to GStreamer: every plugin
 * family, the plugin files found for it, the block types each provides with their kind,
 * and the plugins that failed to load with the reason.
 *
 * Listing loads every family (the registry otherwise loads one only when a config names
 * one of its types).
 *
 * `mact plugins --check [DIR|FILE...]` vets plugin files without loading any of them
 * into this process, as GStreamer's gst-plugin-scanner does: each file is loaded by a
 * child process, this program run again in a hidden mode (`--scan-file FILE`), which
 * writes a JSON report of what loaded and what was refused.  A plugin that crashes only
 * kills the child, and is reported with the signal; one that hangs is killed when the
 * timeout expires; the scan goes on with the next file either way. */
#include "mact-cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#define DEFAULT_TIMEOUT_S 10.0
/* Enough of a failed child's stderr to show what it was doing; the start is cut. */
#define MAX_STDERR_BYTES 4096

/* The registry logs a warning for each plugin that fails to load.  The listing reports
 * them itself, in their place, so the duplicates on stderr are dropped. */
static GLogWriterOutput
quiet_plugin_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                       gpointer user_data)
{
  if (level & G_LOG_LEVEL_WARNING)
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0 &&
          g_str_equal (fields[i].value, "Mact"))
        return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
print_plugin (MactRegistry *registry, MactPlugin *plugin, gboolean verbose)
{
  g_autofree char *base = g_path_get_basename (mact_plugin_get_filename (plugin));
  g_auto(GStrv) types = mact_plugin_dup_type_names (plugin);
  const guint n_types = g_strv_length (types);
  printf ("  %s: %s (%u type%s)\n", mact_plugin_get_name (plugin), base, n_types,
          n_types == 1 ? "" : "s");
  if (verbose)
    {
      printf ("    file:        %s\n", mact_plugin_get_filename (plugin));
      printf ("    description: %s\n", mact_plugin_get_description (plugin));
      printf ("    version:     %s\n", mact_plugin_get_version (plugin));
      printf ("    license:     %s\n", mact_plugin_get_license (plugin));
    }
  qsort (types, n_types, sizeof (char *), compare_names);
  for (guint i = 0; i < n_types; i++)
    {
      GType type = mact_registry_lookup_type (registry, types[i], NULL);
      const char *kind = mact_registry_kind_name_of (type);
      if (verbose)
        printf ("    %-9s %-32s %s\n", kind ? kind : "?", types[i],
                type != G_TYPE_INVALID ? g_type_name (type) : "");
      else
        printf ("    %-9s %s\n", kind ? kind : "?", types[i]);
    }
}

static int
list_plugins (gboolean verbose)
{
  g_log_set_writer_func (quiet_plugin_warnings, NULL, NULL);
  MactRegistry *registry = mact_registry_get_default ();

  if (verbose)
    {
      g_auto(GStrv) roots = mact_registry_get_search_path (registry);
      printf ("Search path:\n");
      for (guint i = 0; roots[i] != NULL; i++)
        printf ("  %s\n", roots[i]);
      printf ("\n");
    }

  g_auto(GStrv) families = mact_registry_list_families (registry);
  guint n_failed = 0;
  for (guint f = 0; families[f] != NULL; f++)
    {
      g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, families[f]);
      g_auto(GStrv) types = mact_registry_list_types (registry, families[f], NULL);
      const guint n_types = types != NULL ? g_strv_length (types) : 0;
      printf ("%s%s: %u plugin%s, %u type%s\n", f > 0 ? "\n" : "", families[f],
              plugins->len, plugins->len == 1 ? "" : "s", n_types, n_types == 1 ? "" : "s");
      for (guint i = 0; i < plugins->len; i++)
        print_plugin (registry, g_ptr_array_index (plugins, i), verbose);
      g_auto(GStrv) failures = mact_registry_dup_load_errors (registry, families[f]);
      n_failed += g_strv_length (failures);
    }

  if (n_failed > 0)
    {
      printf ("\nFailed to load (%u):\n", n_failed);
      for (guint f = 0; families[f] != NULL; f++)
        {
          g_auto(GStrv) failures = mact_registry_dup_load_errors (registry, families[f]);
          for (guint i = 0; failures[i] != NULL; i++)
            printf ("  [%s] %s\n", families[f], failures[i]);
        }
    }
  fflush (stdout);
  return 0;
}

/* ------------------------------------------------------------------ the child: one file */

static gboolean
write_all (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static const char *
error_code_nick (const GError *error)
{
  if (error->domain != MACT_PLUGIN_ERROR)
    return NULL;
  g_autoptr(GEnumClass) codes = g_type_class_ref (MACT_TYPE_PLUGIN_ERROR);
  GEnumValue *value = g_enum_get_value (codes, error->code);
  return value != NULL ? value->value_nick : NULL;
}

/* The hidden mode: loads @path into a registry of its own and writes what happened, as
 * one JSON object, to what was stdout.  The plugin's own output (a stray printf in its
 * init) goes to stderr instead, so it cannot corrupt the report.  Exit status 0 if the
 * plugin and all its types loaded, 1 otherwise. */
static int
scan_one_file (const char *path)
{
  fflush (stdout);
  int report_fd = dup (STDOUT_FILENO);
  if (report_fd < 0 || dup2 (STDERR_FILENO, STDOUT_FILENO) < 0)
    {
      fprintf (stderr, "mact plugins: cannot set up the report: %s\n", g_strerror (errno));
      return 2;
    }

  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  g_autoptr(GError) error = NULL;
  gboolean ok = mact_registry_load_plugin_file (registry, path, &error);

  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, ok);

  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, NULL);
  MactPlugin *plugin = plugins->len > 0 ? g_ptr_array_index (plugins, 0) : NULL;
  if (plugin != NULL)
    {
      json_builder_set_member_name (b, "plugin");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, mact_plugin_get_name (plugin));
      json_builder_set_member_name (b, "family");
      json_builder_add_string_value (b, mact_plugin_get_family (plugin));
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, mact_plugin_get_version (plugin));
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, mact_plugin_get_description (plugin));
      json_builder_set_member_name (b, "license");
      json_builder_add_string_value (b, mact_plugin_get_license (plugin));
      json_builder_end_object (b);

      g_auto(GStrv) types = mact_plugin_dup_type_names (plugin);
      json_builder_set_member_name (b, "types");
      json_builder_begin_array (b);
      for (guint i = 0; types[i] != NULL; i++)
        {
          GType type = mact_registry_lookup_type (registry, types[i], NULL);
          const char *kind = mact_registry_kind_name_of (type);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, types[i]);
          json_builder_set_member_name (b, "kind");
          json_builder_add_string_value (b, kind != NULL ? kind : "");
          json_builder_set_member_name (b, "gtype");
          json_builder_add_string_value (b, type != G_TYPE_INVALID ? g_type_name (type) : "");
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  if (error != NULL)
    {
      const char *code = error_code_nick (error);
      json_builder_set_member_name (b, "error");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "domain");
      json_builder_add_string_value (b, g_quark_to_string (error->domain));
      json_builder_set_member_name (b, "code");
      if (code != NULL)
        json_builder_add_string_value (b, code);
      else
        json_builder_add_int_value (b, error->code);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, error->message);
      json_builder_end_object (b);
    }

  /* Every problem, not only the first: a plugin may have several types refused. */
  g_auto(GStrv) problems = mact_registry_dup_load_errors (registry, NULL);
  json_builder_set_member_name (b, "problems");
  json_builder_begin_array (b);
  for (guint i = 0; problems[i] != NULL; i++)
    json_builder_add_string_value (b, problems[i]);
  if (problems[0] == NULL && error != NULL)
    json_builder_add_string_value (b, error->message);
  json_builder_end_array (b);
  json_builder_end_object (b);

  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autofree gchar *text = json_to_string (root, FALSE);
  gboolean written = write_all (report_fd, text, strlen (text)) && write_all (report_fd, "\n", 1);
  close (report_fd);
  if (!written)
    return 2;
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------------ the parent */

typedef enum {
  CHECK_OK,
  CHECK_FAILED,    /* the child reported problems, or ended without a report */
  CHECK_CRASHED,   /* killed by a signal */
  CHECK_TIMEOUT,   /* killed by us */
} CheckStatus;

static const char *const status_names[] = { "ok", "failed", "crashed", "timeout" };

typedef struct {
  gchar       *file;
  CheckStatus  status;
  gint         signal;        /* CHECK_CRASHED */
  gint         exit_status;   /* -1 unless the child exited */
  double       seconds;
  JsonObject  *report;        /* the child's, or NULL */
  gchar       *summary;       /* one line, why it failed */
  gchar       *child_stderr;  /* the last MAX_STDERR_BYTES the child wrote there */
} CheckResult;

static void
check_result_free (CheckResult *r)
{
  g_free (r->file);
  g_clear_pointer (&r->report, json_object_unref);
  g_free (r->summary);
  g_free (r->child_stderr);
  g_free (r);
}

/* glibc has sigabbrev_np() only since 2.32, and no other libc has it: the signals a
 * plugin can die of are few. */
static gchar *
signal_name (gint sig)
{
  const struct { gint sig; const char *name; } names[] = {
    { SIGSEGV, "SIGSEGV" }, { SIGBUS, "SIGBUS" }, { SIGILL, "SIGILL" },
    { SIGFPE, "SIGFPE" }, { SIGABRT, "SIGABRT" }, { SIGTRAP, "SIGTRAP" },
    { SIGSYS, "SIGSYS" }, { SIGKILL, "SIGKILL" }, { SIGTERM, "SIGTERM" },
    { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" }, { SIGHUP, "SIGHUP" },
    { SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGXCPU, "SIGXCPU" },
    { SIGXFSZ, "SIGXFSZ" }, { SIGUSR1, "SIGUSR1" }, { SIGUSR2, "SIGUSR2" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (names[i].sig == sig)
      return g_strdup (names[i].name);
  return g_strdup_printf ("signal %d", sig);
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void
scanner_child_setup (gpointer user_data)
{
  /* Its own process group, so that killing it also kills what a plugin may have
   * started; dies with us if we die first, so a hanging plugin is never left behind;
   * and no core file for a plugin that crashes on purpose. */
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  const struct rlimit no_core = { 0, 0 };
  setrlimit (RLIMIT_CORE, &no_core);
}

typedef struct {
  gboolean  done;
  GBytes   *out;
  GBytes   *err;
  GError   *error;
} Communication;

static void
communicate_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Communication *c = user_data;
  g_subprocess_communicate_finish (G_SUBPROCESS (source), result, &c->out, &c->err,
                                   &c->error);
  c->done = TRUE;
}

static gboolean
timeout_expired (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The message of a problem without its leading "FILE: ", which the listing already
 * shows. */
static const char *
without_file (const char *message, const char *file)
{
  gsize len = strlen (file);
  if (g_str_has_prefix (message, file) && g_str_has_prefix (message + len, ": "))
    return message + len + 2;
  return message;
}

/* The "problems" array of a child's report, or NULL. */
static JsonArray *
report_problems (JsonObject *report)
{
  JsonNode *node = report != NULL ? json_object_get_member (report, "problems") : NULL;
  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* The end of what a child wrote to stderr: the last lines say most about how it ended. */
static gchar *
stderr_tail (GBytes *bytes)
{
  if (bytes == NULL)
    return g_strdup ("");
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);
  if (data == NULL || size == 0)
    return g_strdup ("");
  gsize skip = size > MAX_STDERR_BYTES ? size - MAX_STDERR_BYTES : 0;
  /* Valid UTF-8 only: it goes into JSON (a cut may split a character). */
  return g_utf8_make_valid (data + skip, (gssize) (size - skip));
}

static CheckResult *
check_file (const char *self_exe, const char *file, double timeout_s)
{
  CheckResult *r = g_new0 (CheckResult, 1);
  r->file = g_strdup (file);
  r->exit_status = -1;

  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, scanner_child_setup, NULL, NULL);
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GSubprocess) child =
    g_subprocess_launcher_spawn (launcher, &error, self_exe, "plugins", "--scan-file", file,
                                 NULL);
  if (child == NULL)
    {
      r->status = CHECK_FAILED;
      r->summary = g_strdup_printf ("cannot start the scanner process: %s", error->message);
      r->child_stderr = g_strdup ("");
      return r;
    }
  const gchar *pid_text = g_subprocess_get_identifier (child);
  const pid_t pid = pid_text != NULL ? (pid_t) g_ascii_strtoll (pid_text, NULL, 10) : 0;

  /* A context of our own, so that nothing else of the program runs meanwhile. */
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Communication c = { 0 };
  g_subprocess_communicate_async (child, NULL, cancellable, communicate_done, &c);
  gboolean timed_out = FALSE;
  GSource *timer = g_timeout_source_new ((guint) MIN (ceil (timeout_s * 1000.0), G_MAXUINT));
  g_source_set_callback (timer, timeout_expired, &timed_out, NULL);
  g_source_attach (timer, context);

  /* Communication ends when the child has exited and closed both pipes. */
  while (!c.done && !timed_out)
    g_main_context_iteration (context, TRUE);
  const gboolean killed = !c.done;
  if (killed)
    {
      if (pid > 0)
        kill (-pid, SIGKILL);
      g_subprocess_force_exit (child);
      g_cancellable_cancel (cancellable);
      while (!c.done)
        g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (timer);
  g_source_unref (timer);
  g_subprocess_wait (child, NULL, NULL);
  g_main_context_pop_thread_default (context);
  r->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  r->child_stderr = stderr_tail (c.err);

  if (killed)
    {
      r->status = CHECK_TIMEOUT;
      r->summary = g_strdup_printf ("still loading after %g s: killed (does its init hang?)",
                                    timeout_s);
    }
  else if (g_subprocess_get_if_signaled (child))
    {
      r->status = CHECK_CRASHED;
      r->signal = g_subprocess_get_term_sig (child);
      g_autofree gchar *name = signal_name (r->signal);
      r->summary = g_strdup_printf ("crashed while loading: killed by %s (%s)", name,
                                    g_strsignal (r->signal));
    }
  else
    {
      r->exit_status = g_subprocess_get_exit_status (child);
      g_autoptr(JsonParser) parser = json_parser_new ();
      gsize size = 0;
      const char *data = c.out != NULL ? g_bytes_get_data (c.out, &size) : NULL;
      JsonNode *root = NULL;
      if (size > 0 && json_parser_load_from_data (parser, data, (gssize) size, NULL))
        root = json_parser_get_root (parser);
      if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
        r->report = json_object_ref (json_node_get_object (root));

      if (r->report == NULL)
        {
          r->status = CHECK_FAILED;
          r->summary = g_strdup_printf ("the process exited with status %d before it could "
                                        "report (does the plugin's init end the program?)",
                                        r->exit_status);
        }
      else if (json_object_get_boolean_member_with_default (r->report, "ok", FALSE))
        r->status = CHECK_OK;
      else
        {
          r->status = CHECK_FAILED;
          JsonArray *problems = report_problems (r->report);
          const char *first = problems != NULL && json_array_get_length (problems) > 0
                                ? json_array_get_string_element (problems, 0)
                                : "the plugin was refused";
          r->summary = g_strdup (without_file (first, file));
        }
    }
  g_clear_pointer (&c.out, g_bytes_unref);
  g_clear_pointer (&c.err, g_bytes_unref);
  g_clear_error (&c.error);
  return r;
}

/* The files to check: those of each DIR (a plugin root, laid out as a search root is)
 * and each FILE named, in the order given; without arguments, those of the search path
 * (MACT_PLUGIN_PATH and the system directories) as the library would load them. */
static GPtrArray *
files_to_check (char **args, GError **error)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  if (args == NULL || args[0] == NULL)
    {
      g_autoptr(MactRegistry) registry = mact_registry_new (TRUE);
      g_auto(GStrv) paths = mact_registry_list_plugin_files (registry, NULL);
      for (guint i = 0; paths[i] != NULL; i++)
        g_ptr_array_add (files, g_strdup (paths[i]));
      return files;
    }
  for (guint a = 0; args[a] != NULL; a++)
    {
      if (g_file_test (args[a], G_FILE_TEST_IS_DIR))
        {
          g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
          mact_registry_prepend_search_path (registry, args[a]);
          g_auto(GStrv) paths = mact_registry_list_plugin_files (registry, NULL);
          for (guint i = 0; paths[i] != NULL; i++)
            g_ptr_array_add (files, g_strdup (paths[i]));
        }
      else if (g_file_test (args[a], G_FILE_TEST_EXISTS))
        g_ptr_array_add (files, g_path_is_absolute (args[a])
                                  ? g_strdup (args[a])
                                  : g_canonicalize_filename (args[a], NULL));
      else
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                       "%s: no such plugin file or directory", args[a]);
          g_ptr_array_unref (files);
          return NULL;
        }
    }
  return files;
}

static void
print_result_text (const CheckResult *r, gboolean verbose)
{
  g_autofree gchar *label = g_ascii_strup (status_names[r->status], -1);
  if (r->status == CHECK_OK)
    {
      JsonObject *plugin = json_object_get_object_member (r->report, "plugin");
      JsonArray *types = json_object_get_array_member (r->report, "types");
      const guint n_types = types != NULL ? json_array_get_length (types) : 0;
      printf ("  %-8s %s: %s/%s %s, %u type%s\n", label, r->file,
              json_object_get_string_member (plugin, "family"),
              json_object_get_string_member (plugin, "name"),
              json_object_get_string_member (plugin, "version"), n_types,
              n_types == 1 ? "" : "s");
      for (guint i = 0; verbose && i < n_types; i++)
        {
          JsonObject *type = json_array_get_object_element (types, i);
          printf ("             %-9s %-32s %s\n", json_object_get_string_member (type, "kind"),
                  json_object_get_string_member (type, "name"),
                  json_object_get_string_member (type, "gtype"));
        }
      return;
    }

  printf ("  %-8s %s: %s\n", label, r->file, r->summary);
  JsonArray *problems = report_problems (r->report);
  for (guint i = 1; problems != NULL && i < json_array_get_length (problems); i++)
    printf ("             %s\n", without_file (json_array_get_string_element (problems, i),
                                              r->file));
  if (verbose && r->child_stderr[0] != '\0')
    {
      g_auto(GStrv) lines = g_strsplit (r->child_stderr, "\n", -1);
      printf ("           its stderr:\n");
      for (guint i = 0; lines[i] != NULL; i++)
        if (lines[i][0] != '\0')
          printf ("             | %s\n", lines[i]);
    }
}

static void
add_result_json (JsonBuilder *b, const CheckResult *r)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, r->file);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, status_names[r->status]);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, r->seconds);
  if (r->status == CHECK_CRASHED)
    {
      g_autofree gchar *name = signal_name (r->signal);
      json_builder_set_member_name (b, "signal");
      json_builder_add_string_value (b, name);
    }
  if (r->exit_status >= 0)
    {
      json_builder_set_member_name (b, "exit_status");
      json_builder_add_int_value (b, r->exit_status);
    }
  if (r->summary != NULL)
    {
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, r->summary);
    }
  /* The child's report as it is: plugin, types, error (domain, code, message), problems. */
  if (r->report != NULL)
    {
      const char *members[] = { "plugin", "types", "error", "problems" };
      for (guint i = 0; i < G_N_ELEMENTS (members); i++)
        if (json_object_has_member (r->report, members[i]))
          {
            json_builder_set_member_name (b, members[i]);
            json_builder_add_value (b, json_node_copy (json_object_get_member (r->report,
                                                                              members[i])));
          }
    }
  if (r->status != CHECK_OK)
    {
      json_builder_set_member_name (b, "stderr");
      json_builder_add_string_value (b, r->child_stderr);
    }
  json_builder_end_object (b);
}

static int
check_plugins (char **args, double timeout_s, gboolean json, gboolean verbose)
{
  g_autoptr(GError) error = NULL;
  /* Run the very program that is running now, whatever PATH says. */
  g_autofree gchar *self_exe = g_file_read_link ("/proc/self/exe", &error);
  if (self_exe == NULL)
    return mact_cli_fail ("plugins", error);
  g_autoptr(GPtrArray) files = files_to_check (args, &error);
  if (files == NULL)
    return mact_cli_fail ("plugins", error);

  if (!json)
    {
      printf ("Checking %u plugin file%s, each in a process of its own (timeout %g s):\n",
              files->len, files->len == 1 ? "" : "s", timeout_s);
      fflush (stdout);
    }
  g_autoptr(GPtrArray) results =
    g_ptr_array_new_with_free_func ((GDestroyNotify) check_result_free);
  guint counts[G_N_ELEMENTS (status_names)] = { 0 };
  for (guint i = 0; i < files->len; i++)
    {
      CheckResult *r = check_file (self_exe, g_ptr_array_index (files, i), timeout_s);
      counts[r->status]++;
      if (!json)
        {
          print_result_text (r, verbose);
          fflush (stdout);
        }
      g_ptr_array_add (results, r);
    }
  const guint n_failed = files->len - counts[CHECK_OK];

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "timeout");
      json_builder_add_double_value (b, timeout_s);
      json_builder_set_member_name (b, "plugins");
      json_builder_begin_array (b);
      for (guint i = 0; i < results->len; i++)
        add_result_json (b, g_ptr_array_index (results, i));
      json_builder_end_array (b);
      json_builder_set_member_name (b, "summary");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "files");
      json_builder_add_int_value (b, files->len);
      /* As the text's summary: failed counts every file that is not ok, crashed and
       * timed out included. */
      json_builder_set_member_name (b, "ok");
      json_builder_add_int_value (b, counts[CHECK_OK]);
      json_builder_set_member_name (b, "failed");
      json_builder_add_int_value (b, n_failed);
      json_builder_set_member_name (b, "crashed");
      json_builder_add_int_value (b, counts[CHECK_CRASHED]);
      json_builder_set_member_name (b, "timed_out");
      json_builder_add_int_value (b, counts[CHECK_TIMEOUT]);
      json_builder_end_object (b);
      json_builder_end_object (b);
      g_autoptr(JsonNode) root = json_builder_get_root (b);
      g_autofree gchar *text = json_to_string (root, TRUE);
      printf ("%s\n", text);
    }
  else
    {
      printf ("\n%u plugin file%s: %u ok, %u failed", files->len, files->len == 1 ? "" : "s",
              counts[CHECK_OK], n_failed);
      if (counts[CHECK_CRASHED] > 0 || counts[CHECK_TIMEOUT] > 0)
        printf (" (%u crashed, %u timed out)", counts[CHECK_CRASHED], counts[CHECK_TIMEOUT]);
      printf ("\n");
    }
  fflush (stdout);
  return n_failed > 0 ? 1 : 0;
}

int
mact_cli_plugins (int argc, char **argv)
{
  gboolean verbose = FALSE;
  gboolean check = FALSE;
  gboolean json = FALSE;
  g_autofree gchar *timeout_text = NULL;
  g_autofree gchar *scan_file = NULL;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Also show the search path, each plugin's file, description, version and license, "
      "and the GType of each block (with --check: the types of each plugin that passed, "
      "and the stderr of each that failed)", NULL },
    { "check", 0, 0, G_OPTION_ARG_NONE, &check,
      "Check plugin files without loading them here: load each in a process of its own, "
      "report crashes, hangs and refusals; the files of the search path, or of each DIR "
      "(a plugin root) and FILE given", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout_text,
      "With --check: seconds a plugin may take to load before it is killed (default 10)",
      "SECONDS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "With --check: print the results as JSON", NULL },
    /* The child of --check. */
    { "scan-file", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &scan_file, NULL, NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, "[DIR|FILE...]" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new ("- list plugin families, plugins and the block types they provide");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Plugins are searched in MACT_PLUGIN_PATH, then MACT_PLUGIN_SYSTEM_PATH (or the\n"
    "user and system plugin directories), as <root>/<family>/libmact-<family>-<name>.so.\n"
    "Type names carry their family's prefix: none for native, cls. (mmcls.) and\n"
    "tv. (torchvision.).  Plugins that failed to load are listed with the reason.\n"
    "\n"
    "--check loads no plugin into this process: each file is loaded by a child process,\n"
    "so a plugin that crashes (reported with its signal) or hangs (killed after the\n"
    "timeout) cannot stop the check.  Exit status 1 if any file failed.");
  g_autoptr(GError) error = NULL;
  /* "Usage: mact plugins ...", not the bare subcommand name. */
  g_set_prgname ("mact plugins");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("plugins", error);
      return 2;
    }

  if (scan_file != NULL)
    return scan_one_file (scan_file);

  if (!check && (json || timeout_text != NULL))
    {
      fprintf (stderr, "mact plugins: --json and --timeout go with --check\n");
      return 2;
    }
  if (!check && rest != NULL && rest[0] != NULL)
    {
      fprintf (stderr, "mact plugins: unexpected argument '%s' (directories and files to "
                       "check go with --check)\n", rest[0]);
      return 2;
    }
  if (!check)
    return list_plugins (verbose);

  double timeout_s = DEFAULT_TIMEOUT_S;
  if (timeout_text != NULL)
    {
      char *end = NULL;
      timeout_s = g_ascii_strtod (timeout_text, &end);
      /* Also refuses nan: no comparison holds for it. */
      if (end == timeout_text || *end != '\0' || !(timeout_s > 0 && timeout_s <= 24 * 3600))
        {
          fprintf (stderr, "mact plugins: --timeout must be a number of seconds more than 0 "
                           "and at most a day, not '%s'\n", timeout_text);
          return 2;
        }
    }
  return check_plugins (rest, timeout_s, json, verbose);
}
