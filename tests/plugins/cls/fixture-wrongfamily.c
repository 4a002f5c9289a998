/* fixture-wrongfamily.c: a cls plugin that registers a tv type and passes
 * the refusal on.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureClsWrongFamilyNet, mact_fixture_cls_wrong_family_net)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "tv.WrongNet",
                               mact_fixture_cls_wrong_family_net_get_type (), error);
}

MACT_PLUGIN_DEFINE (cls, wrongfamily, "registers outside its family", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
