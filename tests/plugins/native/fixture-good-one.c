/* fixture-good-one.c: a good native plugin (file name with a dash) registering "TestBackbone".
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureNativeTestBackbone, mact_fixture_native_test_backbone)

/* How often init ran in this process, kept on the type so a test can read it without
 * any symbol of this module: it shows that a family is scanned once. */
static gint init_count;

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  GType type = mact_fixture_native_test_backbone_get_type ();
  gint count = g_atomic_int_add (&init_count, 1) + 1;
  g_type_set_qdata (type, g_quark_from_static_string (MACT_FIXTURE_INIT_COUNT),
                    GINT_TO_POINTER (count));
  return mact_plugin_add_type (plugin, "TestBackbone", type, error);
}

MACT_PLUGIN_DEFINE (native, good_one, "a good plugin with one backbone", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
