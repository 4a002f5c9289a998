/* mact-error.h: the error domain of the tensor engine. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib.h>
#include <mact/mact-version-macros.h>

G_BEGIN_DECLS

/**
 * MACT_TENSOR_ERROR:
 *
 * Error domain for tensor creation, views, kernels and autograd.
 * Errors in this domain are from the #MactTensorError enumeration.
 */
#define MACT_TENSOR_ERROR (mact_tensor_error_quark ())

/**
 * MactTensorError:
 * @MACT_TENSOR_ERROR_SHAPE: a shape is invalid for the operation: mismatched channels,
 *   shapes that do not broadcast, a kernel larger than the padded input, an empty input,
 *   a dimension index out of range.
 * @MACT_TENSOR_ERROR_INVALID_ARGUMENT: a non-shape argument is invalid: a negative
 *   stride, a probability outside [0, 1], a label outside [0, num_classes), groups that do
 *   not divide the channels.
 * @MACT_TENSOR_ERROR_OVERFLOW: a size computation overflows, or a dimension is negative.
 * @MACT_TENSOR_ERROR_NO_MEMORY: the storage for a tensor could not be allocated.
 * @MACT_TENSOR_ERROR_AUTOGRAD: backward was asked of something that has no graph, or a
 *   graph that was already released, or a gradient of the wrong shape was given.
 *
 * Error codes in the %MACT_TENSOR_ERROR domain.  Values are only ever appended.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_TENSOR_ERROR_SHAPE,
  MACT_TENSOR_ERROR_INVALID_ARGUMENT,
  MACT_TENSOR_ERROR_OVERFLOW,
  MACT_TENSOR_ERROR_NO_MEMORY,
  MACT_TENSOR_ERROR_AUTOGRAD,
} MactTensorError;

MACT_AVAILABLE_IN_0_1
GQuark mact_tensor_error_quark (void);

G_END_DECLS
