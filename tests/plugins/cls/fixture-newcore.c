/* fixture-newcore.c: a plugin built for a newer minor version of the core.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  /* Never called: the descriptor is refused first. */
  g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "must not run");
  return FALSE;
}

static const MactPluginDesc desc = {
  MACT_PLUGIN_MAGIC,
  MACT_PLUGIN_ABI_VERSION,
  MACT_MAJOR_VERSION,
  MACT_MINOR_VERSION + 1,
  "newcore", "cls", "a descriptor the loader must refuse", "0.1.0", "LGPL-2.1-or-later", "mact tests",
  plugin_init, { NULL, }
};

MACT_PLUGIN_EXPORT const MactPluginDesc *mact_plugin_get_desc (void);

const MactPluginDesc *
mact_plugin_get_desc (void)
{
  return &desc;
}
