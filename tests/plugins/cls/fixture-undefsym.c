/* fixture-undefsym.c: needs a symbol nothing defines, so dlopen with RTLD_NOW
 * refuses it.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>

/* Defined nowhere.  A shared module may be linked with undefined symbols (meson does not
 * pass --no-undefined to shared_module), so the failure shows up at load time. */
extern void mact_fixture_no_such_symbol (void);

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  mact_fixture_no_such_symbol ();
  return TRUE;
}

MACT_PLUGIN_DEFINE (cls, undefsym, "has an undefined symbol", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
