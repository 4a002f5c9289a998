/* fixture-namemismatch.c: built as libmact-cls-namemismatch.so but declares
 * the name "othername".
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return TRUE;
}

MACT_PLUGIN_DEFINE (cls, othername, "declares a name that is not its file name", plugin_init,
                    "0.1.0", "LGPL-2.1-or-later", "mact tests")
