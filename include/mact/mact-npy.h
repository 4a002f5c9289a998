/* mact-npy.h: reading and writing NumPy's .npy arrays. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>

G_BEGIN_DECLS

/* Format versions 1.0, 2.0 and 3.0; little-endian float32, float64, uint8 and int64 in C
 * order, converted to a float32 tensor.  Anything else (Fortran order, big-endian or
 * other dtypes, a malformed or truncated file) is a MACT_IO_ERROR whose message names
 * the file.  Errors: MACT_IO_ERROR_OPEN (cannot read), MACT_IO_ERROR_FORMAT (not .npy,
 * malformed header, Fortran order, size mismatch), MACT_IO_ERROR_DTYPE. */
MACT_AVAILABLE_IN_0_1
MactTensor *mact_npy_load       (const char  *path,
                                 GError     **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_npy_load_bytes (GBytes      *bytes,
                                 const char  *source_name,
                                 GError     **error);
/* Writes @tensor as a version 1.0 (2.0 when the header needs it) little-endian float32
 * C-order array, replacing @path atomically.  Errors: MACT_IO_ERROR_WRITE. */
MACT_AVAILABLE_IN_0_1
gboolean    mact_npy_save       (const char  *path,
                                 MactTensor  *tensor,
                                 GError     **error);

G_END_DECLS
