/* mact-scratch-private.h: work buffers kept per thread and reused (mact-scratch.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The buffers an operation may hold at the same time; one owner each. */
typedef enum {
  MACT_SCRATCH_WINOGRAD_FILTER,
  MACT_SCRATCH_WINOGRAD_INPUT,
  MACT_SCRATCH_WINOGRAD_OUTPUT,
  MACT_SCRATCH_N_SLOTS
} MactScratchSlot;

/* A buffer of at least @n floats (contents undefined) that stays valid until the next
 * call for the same @slot on this thread.  %NULL with %MACT_TENSOR_ERROR_NO_MEMORY (the
 * message naming @op) when it cannot be allocated. */
float *mact_scratch_get (MactScratchSlot slot, gint64 n, const char *op, GError **error);

G_END_DECLS
