/* fixture-misfiled.c: a tv plugin placed in the cls directory.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return TRUE;
}

MACT_PLUGIN_DEFINE (tv, misfiled, "declares a family that is not its directory", plugin_init,
                    "0.1.0", "LGPL-2.1-or-later", "mact tests")
