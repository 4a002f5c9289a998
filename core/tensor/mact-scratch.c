/* mact-scratch.c: work buffers kept per thread and reused.
 *
 * A Winograd convolution needs tens of MiB of work space per call.  Fresh blocks that
 * large come from mmap and glibc gives them back on free, so every call would fault in
 * every page again: in a VM that was a quarter of the convolution's time.  Each thread
 * that runs operations keeps one buffer per slot instead, grown to the largest request
 * and freed when the thread exits.  Pool workers that only run chunks of an operation
 * never own any. */
#include "mact-scratch-private.h"
#include "mact-tensor-private.h"

typedef struct {
  float *data[MACT_SCRATCH_N_SLOTS];
  gint64 size[MACT_SCRATCH_N_SLOTS];
} Scratch;

static void
scratch_free (gpointer data)
{
  Scratch *scratch = data;

  for (gint i = 0; i < MACT_SCRATCH_N_SLOTS; i++)
    g_free (scratch->data[i]);
  g_free (scratch);
}

static GPrivate scratch_key = G_PRIVATE_INIT (scratch_free);

float *
mact_scratch_get (MactScratchSlot slot, gint64 n, const char *op, GError **error)
{
  g_return_val_if_fail (slot < MACT_SCRATCH_N_SLOTS, NULL);

  Scratch *scratch = g_private_get (&scratch_key);
  if (scratch == NULL)
    {
      scratch = g_new0 (Scratch, 1);
      g_private_set (&scratch_key, scratch);
    }
  n = MAX (n, 1);
  if (scratch->size[slot] >= n)
    return scratch->data[slot];

  /* Free first: the old contents are not needed and the peak stays lower. */
  g_clear_pointer (&scratch->data[slot], g_free);
  scratch->size[slot] = 0;
  if ((guint64) n <= G_MAXSIZE / sizeof (float))
    scratch->data[slot] = g_try_new (float, (gsize) n);
  if (scratch->data[slot] == NULL)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_NO_MEMORY,
                   "%s: cannot allocate a work buffer of %" G_GINT64_FORMAT " floats",
                   op, n);
      return NULL;
    }
  scratch->size[slot] = n;
  return scratch->data[slot];
}
