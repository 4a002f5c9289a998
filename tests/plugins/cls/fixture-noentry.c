/* fixture-noentry.c: a shared object without mact_plugin_get_desc().
 * Fixture plugin for tests/test-registry.c. */
#include <mact/mact.h>

/* Exported, so the module is not empty, but not the entry point. */
MACT_PLUGIN_EXPORT int mact_fixture_noentry (void);

int
mact_fixture_noentry (void)
{
  return 42;
}
