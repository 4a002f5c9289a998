/* fixture-dup.c: in a subdirectory, so it loads after cls/good;
 * registers "cls.TestNet" again (refused as a duplicate) and "cls.DupOnly".
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureClsDupNet, mact_fixture_cls_dup_net)
MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureClsDupOnly, mact_fixture_cls_dup_only)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "cls.TestNet", mact_fixture_cls_dup_net_get_type (),
                               error) &&
         mact_plugin_add_type (plugin, "mmcls.DupOnly", mact_fixture_cls_dup_only_get_type (),
                               error);
}

MACT_PLUGIN_DEFINE (cls, dup, "registers a name another plugin has", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
