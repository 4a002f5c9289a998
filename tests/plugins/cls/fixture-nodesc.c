/* fixture-nodesc.c: a descriptor without a description.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return TRUE;
}

MACT_PLUGIN_DEFINE (cls, nodesc, NULL, plugin_init, "0.1.0", "LGPL-2.1-or-later", "mact tests")
