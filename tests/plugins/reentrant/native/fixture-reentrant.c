/* fixture-reentrant.c: a native plugin whose init looks up a missing native type in the
 * default registry, while that registry is loading the native family.
 * Fixture plugin for tests/test-registry.c; only the default registry's test searches its
 * root (<build>/tests/plugins/reentrant). */
#include <string.h>
#include "mact-fixture.h"

MACT_FIXTURE_DEFINE_BACKBONE (MactFixtureNativeReentrantProbe, mact_fixture_native_reentrant_probe)

static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  /* Types committed earlier in the scan would be found; a missing one must neither
   * deadlock nor recurse into the scan: the family is being loaded, so the answer is
   * NOT_FOUND, saying so.  The probe type registers only if that is what
   * happened; anything else fails init with what was seen. */
  GError *nested = NULL;
  GType type = mact_registry_lookup_type (mact_registry_get_default (), "NotThereYet",
                                          &nested);
  if (type != G_TYPE_INVALID)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                   "nested lookup found %s while its family was loading", g_type_name (type));
      return FALSE;
    }
  if (!g_error_matches (nested, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND) ||
      strstr (nested->message, "still being loaded") == NULL)
    {
      g_propagate_prefixed_error (error, nested, "nested lookup: ");
      return FALSE;
    }
  g_error_free (nested);
  return mact_plugin_add_type (plugin, "ReentrantProbe",
                               mact_fixture_native_reentrant_probe_get_type (), error);
}

MACT_PLUGIN_DEFINE (native, reentrant, "looks up its own family from init", plugin_init,
                    "0.1.0", "LGPL-2.1-or-later", "mact tests")
