/* fixture-hang.c: a native plugin whose init never returns.
 * Fixture plugin for tests/test-plugin-check.c: `mact plugins --check` must kill it when
 * its timeout expires and go on with the next file. */
#include <mact/mact.h>

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  /* Sleeps rather than spins: the check kills it either way, and a sleeping hang does
   * not take CPU from the tests running next to it.  The flag is never cleared; it only
   * keeps the compiler from treating the loop as the end of the function. */
  static volatile gboolean forever = TRUE;
  while (forever)
    g_usleep (G_USEC_PER_SEC);
  return TRUE;
}

MACT_PLUGIN_DEFINE (native, hang, "never returns from its init", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
