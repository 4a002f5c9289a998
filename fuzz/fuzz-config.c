/* fuzz-config.c: a whole config as `mact infer` reads one.
 *
 * The bytes are parsed by mact_config_load_data(); a config that parses is built the way
 * mact_inference_new_from_config() builds it: every block of "model" through the default
 * registry (the plugins of this build) and the test pipeline.  Any input must give a
 * result or a GError; criticals are fatal (fuzz-common.c).
 *
 * The size of what is built is bounded by a budget of tensor memory per input: tensor
 * storage comes from posix_memalign() with mact's alignment, or from an anonymous mmap()
 * for large zeroed parameters, both wrapped below.  A config that asks for more than
 * 8 MB of tensors in all fails with mact's out-of-memory GError, as it would on a
 * machine without that memory.  Without the budget a mutated "depth": 152 would spend
 * seconds initialising weights under the sanitizers, which tests nothing the fuzzer is
 * after and starves it; with it, the error paths of a failed allocation in every builder
 * are exercised instead.  Numbers are also bounded (magnitudes up to 4096, 64 for those
 * with a fraction) so that no loop runs for millions of iterations without allocating. */
#include "fuzz-common.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define TENSOR_BUDGET ((size_t) 8 << 20)

/* The bytes of tensor storage this input may still allocate; unlimited between inputs. */
static size_t budget_left = SIZE_MAX;

static gboolean
take_budget (size_t size)
{
  size_t left = __atomic_load_n (&budget_left, __ATOMIC_RELAXED);
  do
    if (size > left)
      return FALSE;
  while (!__atomic_compare_exchange_n (&budget_left, &left, left - size, FALSE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return TRUE;
}

/* ASan's own functions (clang 14 names its interceptors so): the definitions below take
 * precedence over their weak aliases, and are exported so that libmact binds to them (see
 * fuzz/meson.build).  GLib's slice allocator also uses posix_memalign(), with a page
 * alignment, and must not fail: only mact's alignment counts. */
int __interceptor_posix_memalign (void **memptr, size_t alignment, size_t size);
void *__interceptor_mmap64 (void *addr, size_t length, int prot, int flags, int fd,
                            off_t offset);
int posix_memalign (void **memptr, size_t alignment, size_t size);

int
posix_memalign (void **memptr, size_t alignment, size_t size)
{
  if (alignment == MACT_TENSOR_ALIGNMENT && !take_budget (size))
    return ENOMEM;
  return __interceptor_posix_memalign (memptr, alignment, size);
}

/* This is mmap64 (the build has 64-bit file offsets, and <sys/mman.h> renames mmap). */
void *
mmap (void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
  /* Thread stacks and fixed mappings (the dynamic loader's) are not tensors. */
  if ((flags & MAP_ANONYMOUS) && !(flags & (MAP_FIXED | MAP_STACK)) &&
      !take_budget (length))
    {
      errno = ENOMEM;
      return MAP_FAILED;
    }
  return __interceptor_mmap64 (addr, length, prot, flags, fd, offset);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_setenv ("MACT_PLUGIN_PATH", MACT_FUZZ_PLUGIN_DIR, FALSE);
  g_setenv ("MACT_PLUGIN_SYSTEM_PATH", "", FALSE);
  mact_fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  /* Not nul-terminated: the length is passed, as a caller reading a file would. */
  g_autoptr(JsonNode) config = mact_config_load_data ((const char *) data, (gssize) size,
                                                      &error);
  if (config == NULL)
    {
      if (error == NULL || error->domain != MACT_CONFIG_ERROR)
        abort ();
      return 0;
    }
  if (!mact_fuzz_json_is_small (config, 32, 4096, 64.0, 4096, NULL))
    return 0;

  __atomic_store_n (&budget_left, TENSOR_BUDGET, __ATOMIC_RELAXED);
  g_autoptr(MactInference) inference = mact_inference_new_from_config (config, NULL, NULL,
                                                                       &error);
  if (inference == NULL && error == NULL)
    abort ();
  if (inference != NULL && error != NULL)
    abort ();
  __atomic_store_n (&budget_left, SIZE_MAX, __ATOMIC_RELAXED);
  return 0;
}
