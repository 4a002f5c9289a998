/* fixture-initnoerror.c: init returns FALSE without setting an error.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return FALSE;
}

MACT_PLUGIN_DEFINE (cls, initnoerror, "fails its init silently", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
