/* fixture-initfail.c: adds a type, then fails its init with an error.
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureClsInitFailNet, mact_fixture_cls_init_fail_net)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  /* Queued, then discarded because init fails: the registry must not know it. */
  if (!mact_plugin_add_type (plugin, "cls.InitFailNet",
                             mact_fixture_cls_init_fail_net_get_type (), error))
    return FALSE;
  g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                       "fixture init failure: a resource is missing");
  return FALSE;
}

MACT_PLUGIN_DEFINE (cls, initfail, "fails its init", plugin_init, "0.1.0", "LGPL-2.1-or-later", "mact tests")
