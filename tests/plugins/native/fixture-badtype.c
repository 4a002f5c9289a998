/* fixture-badtype.c: adds an abstract type and a non-block type, ignores
 * the refusals and registers one good type; init succeeds.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureNativeBadTypeOk, mact_fixture_native_bad_type_ok)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  /* Both refused with MACT_PLUGIN_ERROR_INVALID_TYPE; the loader records them anyway. */
  mact_plugin_add_type (plugin, "BadAbstract", MACT_TYPE_BACKBONE, NULL);
  mact_plugin_add_type (plugin, "BadObject", G_TYPE_OBJECT, NULL);
  return mact_plugin_add_type (plugin, "BadTypeOk", mact_fixture_native_bad_type_ok_get_type (),
                               error);
}

MACT_PLUGIN_DEFINE (native, badtype, "registers invalid types next to a good one", plugin_init,
                    "0.1.0", "LGPL-2.1-or-later", "mact tests")
