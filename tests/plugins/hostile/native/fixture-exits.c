/* fixture-exits.c: a native plugin whose init ends the process with exit (3).
 * Fixture plugin for tests/test-plugin-check.c: the check must tell a process that
 * ended before it could report from a plugin that failed. */
#include <stdlib.h>
#include <mact/mact.h>

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  exit (3);
}

MACT_PLUGIN_DEFINE (native, exits, "exits the process in its init", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
