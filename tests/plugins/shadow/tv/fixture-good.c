/* fixture-good.c: a second libmact-tv-good.so, in another root, registering
 * "tv.shadow_net": whichever root comes first in the search path provides the file.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureTvShadowNet, mact_fixture_tv_shadow_net)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "tv.shadow_net", mact_fixture_tv_shadow_net_get_type (),
                               error);
}

MACT_PLUGIN_DEFINE (tv, good, "the shadowing copy of tv/good", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
