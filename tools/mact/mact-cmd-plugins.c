/* mact-cmd-plugins.c: `mact plugins [-v]`, what gst-inspect is to GStreamer: every plugin
 * family, the plugin files found for it, the block types each provides with their kind,
 * and the plugins that failed to load with the reason.
 *
 * Listing loads every family (the registry otherwise loads one only when a config names
 * one of its types). */
#include "mact-cli.h"

#include <stdio.h>
#include <string.h>

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

int
mact_cli_plugins (int argc, char **argv)
{
  gboolean verbose = FALSE;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Also show the search path, each plugin's file, description, version and license, "
      "and the GType of each block", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new ("- list plugin families, plugins and the block types they provide");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Plugins are searched in MACT_PLUGIN_PATH, then MACT_PLUGIN_SYSTEM_PATH (or the\n"
    "user and system plugin directories), as <root>/<family>/libmact-<family>-<name>.so.\n"
    "Type names carry their family's prefix: none for native, cls. (mmcls.) and\n"
    "tv. (torchvision.).  Plugins that failed to load are listed with the reason.");
  g_autoptr(GError) error = NULL;
  /* "Usage: mact plugins ...", not the bare subcommand name. */
  g_set_prgname ("mact plugins");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("plugins", error);
      return 2;
    }
  if (rest != NULL && rest[0] != NULL)
    {
      fprintf (stderr, "mact plugins: unexpected argument '%s'\n", rest[0]);
      return 2;
    }

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
