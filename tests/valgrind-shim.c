/* valgrind-shim.c: preloaded into test programs under `meson test --setup valgrind` only.
 *
 * libavcodec links libjxl, which links libhwy (Highway).  libhwy 1.0's load-time
 * initializer calls hwy::platform::TimerResolution(), which executes RDTSCP whether or
 * not the CPU advertises it.  Hardware (and hypervisors) run it anyway, but valgrind only
 * decodes RDTSCP when CPUID advertises it, so on such machines (e.g. VMs that hide it)
 * every program linking libmact died with SIGILL before main().  This definition
 * interposes on libhwy's own call through its PLT.  The value only calibrates hwy's
 * benchmarking timer, which neither libjxl nor mact uses. */
#include <stdint.h>

/* hwy::platform::TimerResolution(), by its mangled name. */
uint64_t _ZN3hwy8platform15TimerResolutionEv (void);

uint64_t
_ZN3hwy8platform15TimerResolutionEv (void)
{
  return 1;
}
