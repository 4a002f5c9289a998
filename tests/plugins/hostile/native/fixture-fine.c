/* fixture-fine.c: a good native plugin registering "FineNet", so that a check of the
 * hostile root has one plugin that passes.
 * Fixture plugin for tests/test-plugin-check.c and tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureNativeFineNet, mact_fixture_native_fine_net)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "FineNet", mact_fixture_native_fine_net_get_type (),
                               error);
}

MACT_PLUGIN_DEFINE (native, fine, "a good plugin among hostile ones", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
