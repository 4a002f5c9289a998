/* mact-safetensors.h: reading and writing weights in the safetensors format. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <gio/gio.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor-dict.h>

G_BEGIN_DECLS

/**
 * MACT_IO_ERROR:
 *
 * Error domain for weight files.  Errors in this domain are from #MactIoError.
 */
#define MACT_IO_ERROR (mact_io_error_quark ())

/**
 * MactIoError:
 * @MACT_IO_ERROR_OPEN: the file cannot be opened, mapped or read.
 * @MACT_IO_ERROR_FORMAT: the file is not valid safetensors: truncated, an absurd or
 *   malformed header, offsets out of range, overlapping or not covering the data, a shape
 *   that does not match its byte count.
 * @MACT_IO_ERROR_DTYPE: a tensor has a dtype mact cannot convert to float32.
 * @MACT_IO_ERROR_WRITE: the file could not be written (the previous file, if any, is left
 *   intact).
 *
 * Error codes in the %MACT_IO_ERROR domain.  Messages name the file and the tensor.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_IO_ERROR_OPEN,
  MACT_IO_ERROR_FORMAT,
  MACT_IO_ERROR_DTYPE,
  MACT_IO_ERROR_WRITE,
} MactIoError;

MACT_AVAILABLE_IN_0_1
GQuark          mact_io_error_quark         (void);

MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_safetensors_load       (const char     *path,
                                             GHashTable    **metadata,
                                             GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_safetensors_load_bytes (GBytes         *bytes,
                                             GHashTable    **metadata,
                                             GError        **error);
MACT_AVAILABLE_IN_0_1
gboolean        mact_safetensors_save       (const char     *path,
                                             MactTensorDict *tensors,
                                             GHashTable     *metadata,
                                             GError        **error);
MACT_AVAILABLE_IN_0_1
GBytes         *mact_safetensors_serialize  (MactTensorDict *tensors,
                                             GHashTable     *metadata,
                                             GError        **error);

G_END_DECLS
