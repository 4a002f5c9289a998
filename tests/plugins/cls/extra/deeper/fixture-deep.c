/* fixture-deep.c: two directories below cls/, deeper than the scan goes.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureClsDeepNet, mact_fixture_cls_deep_net)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "cls.DeepNet", mact_fixture_cls_deep_net_get_type (),
                               error);
}

MACT_PLUGIN_DEFINE (cls, deep, "must never be loaded", plugin_init, "0.1.0", "LGPL-2.1-or-later", "mact tests")
