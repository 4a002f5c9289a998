/* mact-runtime.c: versions and the one place that decides the thread count. */
#include "mact-tensor-private.h"

#include <cblas.h>

/* OpenBLAS exports this; Debian's cblas.h declares it, but keep the prototype local so the
 * code also compiles against a reference cblas.h. */
extern void openblas_set_num_threads (int num_threads);

/**
 * mact_get_major_version:
 *
 * Returns: the major version of the running library.
 *
 * Since: 0.1
 */
guint
mact_get_major_version (void)
{
  return MACT_MAJOR_VERSION;
}

/**
 * mact_get_minor_version:
 *
 * Returns: the minor version of the running library.
 *
 * Since: 0.1
 */
guint
mact_get_minor_version (void)
{
  return MACT_MINOR_VERSION;
}

/**
 * mact_get_micro_version:
 *
 * Returns: the micro version of the running library.
 *
 * Since: 0.1
 */
guint
mact_get_micro_version (void)
{
  return MACT_MICRO_VERSION;
}

static gint num_threads;   /* 0 = not decided yet; accessed atomically */

static gint
threads_from_environment (void)
{
  const char *env = g_getenv ("MACT_NUM_THREADS");
  if (env != NULL && *env != '\0')
    {
      gchar *end = NULL;
      gint64 v = g_ascii_strtoll (env, &end, 10);
      if (end != NULL && *end == '\0' && v >= 1 && v <= 1024)
        return (gint) v;
      g_debug ("ignoring MACT_NUM_THREADS=%s: not an integer in [1, 1024]", env);
    }
  return MAX (1, (gint) g_get_num_processors ());
}

/**
 * mact_set_num_threads:
 * @n_threads: the number of threads kernels use; 0 or less returns to the default
 *   (`MACT_NUM_THREADS`, else the number of processors)
 *
 * Sets how many threads mact's kernels use.  Matrix products are split across the same
 * threads by mact itself; OpenBLAS is kept single-threaded, so the two never
 * oversubscribe the machine.
 *
 * Since: 0.1
 */
void
mact_set_num_threads (gint n_threads)
{
  gint n = n_threads > 0 ? MIN (n_threads, 1024) : threads_from_environment ();
  g_atomic_int_set (&num_threads, n);
  openblas_set_num_threads (1);
}

/**
 * mact_get_num_threads:
 *
 * Returns the thread count in force: the one set with mact_set_num_threads(), else
 * `MACT_NUM_THREADS` from the environment, else the number of processors.
 *
 * Returns: the number of threads, at least 1
 *
 * Since: 0.1
 */
gint
mact_get_num_threads (void)
{
  gint n = g_atomic_int_get (&num_threads);
  if (G_UNLIKELY (n == 0))
    {
      n = threads_from_environment ();
      /* mact_gemm() threads the products itself: OpenBLAS runs one thread. */
      if (g_atomic_int_compare_and_exchange (&num_threads, 0, n))
        openblas_set_num_threads (1);
      n = g_atomic_int_get (&num_threads);
    }
  return n;
}
