/* fuzz-safetensors.c: mact_safetensors_load_bytes() on arbitrary bytes.
 *
 * Every input must load or give a MACT_IO_ERROR; a file that loads must also survive a
 * round trip (serialize, load again) with the same names, shapes and values. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_same (MactTensorDict *a, MactTensorDict *b)
{
  guint n = mact_tensor_dict_get_size (a);
  if (mact_tensor_dict_get_size (b) != n)
    abort ();
  for (guint i = 0; i < n; i++)
    {
      if (strcmp (mact_tensor_dict_get_key (a, i), mact_tensor_dict_get_key (b, i)) != 0)
        abort ();
      MactTensor *x = mact_tensor_dict_get_value (a, i);
      MactTensor *y = mact_tensor_dict_get_value (b, i);
      gint nx = 0, ny = 0;
      const gint64 *sx = mact_tensor_get_shape (x, &nx);
      const gint64 *sy = mact_tensor_get_shape (y, &ny);
      if (nx != ny || memcmp (sx, sy, (gsize) nx * sizeof (gint64)) != 0)
        abort ();
      gint64 numel = mact_tensor_get_numel (x);
      g_autofree float *vx = g_new (float, MAX (numel, 1));
      g_autofree float *vy = g_new (float, MAX (numel, 1));
      mact_tensor_copy_to_array (x, vx);
      mact_tensor_copy_to_array (y, vy);
      /* Bit patterns, so that NaN payloads must survive too. */
      if (memcmp (vx, vy, (gsize) numel * sizeof (float)) != 0)
        abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mact_fuzz_init ();

  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) metadata = NULL;
  g_autoptr(MactTensorDict) dict = mact_safetensors_load_bytes (bytes, &metadata, &error);
  if (dict == NULL)
    {
      if (error == NULL || error->domain != MACT_IO_ERROR || metadata != NULL)
        abort ();
      return 0;
    }
  if (metadata == NULL || error != NULL)
    abort ();

  g_autoptr(GBytes) again = mact_safetensors_serialize (dict, metadata, &error);
  if (again == NULL)
    {
      /* Only names that cannot be written back (not UTF-8) may fail here. */
      if (error == NULL || error->domain != MACT_IO_ERROR)
        abort ();
      return 0;
    }
  g_autoptr(MactTensorDict) reloaded = mact_safetensors_load_bytes (again, NULL, &error);
  if (reloaded == NULL)
    abort ();
  check_same (dict, reloaded);
  return 0;
}
