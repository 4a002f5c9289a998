/* fixture-crash.c: a native plugin whose init writes through a null pointer (SIGSEGV).
 * Fixture plugin for tests/test-plugin-check.c.  Only `mact plugins --check` loads it,
 * in a child process: loaded in-process it takes the loading program down, which is
 * what the check is there to find out. */
#include <mact/mact.h>

/* Not instrumented by UBSan: in a sanitizer build (tools/run-tests.sh) it would report
 * the null store and exit instead of letting the SIGSEGV happen. */
#if defined(__GNUC__) && (__GNUC__ >= 8 || defined(__clang__))
__attribute__ ((no_sanitize ("undefined")))
#endif
static gboolean
plugin_init (MactPlugin *plugin, GError **error)
{
  /* Both volatile: the pointer, so the compiler cannot prove it null and replace the
   * store by a trap instruction (SIGILL); the target, so the store cannot be dropped.
   * This is a genuine SIGSEGV. */
  volatile int *volatile target = NULL;
  *target = 42;
  return TRUE;
}

MACT_PLUGIN_DEFINE (native, crash, "crashes in its init", plugin_init, "0.1.0",
                    "LGPL-2.1-or-later", "mact tests")
