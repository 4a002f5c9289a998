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
 * @MACT_IO_ERROR_NON_FINITE: a floating-point tensor holds NaN or infinite values (or an
 *   F64 value too large for float32), and the load did not allow them
 *   (%MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE).
 * @MACT_IO_ERROR_TOO_LARGE: a tensor would take more bytes as float32 than the cap of
 *   mact_safetensors_set_max_tensor_bytes(); refused before anything is allocated.
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
  MACT_IO_ERROR_NON_FINITE,
  MACT_IO_ERROR_TOO_LARGE,
} MactIoError;

/**
 * MactSafetensorsLoadFlags:
 * @MACT_SAFETENSORS_LOAD_DEFAULT: check everything, refuse NaN and infinite values.
 * @MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE: load NaN and infinite values as they are (and
 *   F64 values beyond float32's range as infinities), without scanning the data for
 *   them: to inspect the checkpoint of a training that diverged, or for a model that
 *   keeps infinities on purpose (a mask of -inf, say).
 *
 * Options of mact_safetensors_load_full() and mact_safetensors_load_bytes_full().
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/ {
  MACT_SAFETENSORS_LOAD_DEFAULT          = 0,
  MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE = 1 << 0,
} MactSafetensorsLoadFlags;

/**
 * MACT_SAFETENSORS_DEFAULT_MAX_TENSOR_BYTES:
 *
 * The initial cap of mact_safetensors_set_max_tensor_bytes(): 4 GiB of float32 per
 * tensor (a billion values), beyond any tensor of the models mact runs.
 *
 * Since: 0.1
 */
#define MACT_SAFETENSORS_DEFAULT_MAX_TENSOR_BYTES (G_GUINT64_CONSTANT (4) << 30)

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
MactTensorDict *mact_safetensors_load_full  (const char     *path,
                                             MactSafetensorsLoadFlags flags,
                                             GHashTable    **metadata,
                                             GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_safetensors_load_bytes_full (GBytes    *bytes,
                                             MactSafetensorsLoadFlags flags,
                                             GHashTable    **metadata,
                                             GError        **error);
MACT_AVAILABLE_IN_0_1
void            mact_safetensors_set_max_tensor_bytes (guint64 max_bytes);
MACT_AVAILABLE_IN_0_1
guint64         mact_safetensors_get_max_tensor_bytes (void);
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
