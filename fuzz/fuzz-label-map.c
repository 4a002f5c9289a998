/* fuzz-label-map.c: mact_label_map_load() on arbitrary file contents.
 *
 * The loader only takes a path, so the bytes are put in an in-memory file.  A map that
 * loads must hold at least one name, none empty, each valid UTF-8 (they are `utf8`
 * strings to the language bindings). */
#include "fuzz-common.h"

#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mact_fuzz_init ();
  char path[64];
  int fd = mact_fuzz_memfd (data, size, "label-map", path, sizeof path);

  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = mact_label_map_load (path, &error);
  close (fd);
  if (names == NULL)
    {
      if (error == NULL || error->domain != MACT_DATA_ERROR)
        abort ();
      return 0;
    }
  if (names[0] == NULL)
    abort ();
  for (guint i = 0; names[i] != NULL; i++)
    if (names[i][0] == '\0' || !g_utf8_validate (names[i], -1, NULL))
      abort ();
  return 0;
}
