/* mact-ops.h: the differentiable kernels of the tensor engine.
 *
 * Every operation returns a new tensor (transfer full) or %NULL with a %MACT_TENSOR_ERROR
 * set; inputs are never modified (except the running statistics of batch norm in
 * training mode).  When grad mode is on and an input requires grad, the result records
 * how to differentiate it.  Spatial parameters use PyTorch's conventions and order.
 */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>

G_BEGIN_DECLS

/**
 * MactReduction:
 * @MACT_REDUCTION_NONE: return the per-element (or per-sample) loss.
 * @MACT_REDUCTION_MEAN: average, as PyTorch's `reduction='mean'`.
 * @MACT_REDUCTION_SUM: sum.
 *
 * How a loss reduces over the batch.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_REDUCTION_NONE,
  MACT_REDUCTION_MEAN,
  MACT_REDUCTION_SUM,
} MactReduction;

/**
 * MactInterpolateMode:
 * @MACT_INTERPOLATE_NEAREST: PyTorch's `mode='nearest'` (floor of the scaled index).
 * @MACT_INTERPOLATE_LINEAR: linear in every spatial dimension: bilinear for 4-D input,
 *   trilinear for 5-D input, linear for 3-D input.
 *
 * The interpolation of mact_interpolate().
 *
 * Since: 0.1
 */
typedef enum {
  MACT_INTERPOLATE_NEAREST,
  MACT_INTERPOLATE_LINEAR,
} MactInterpolateMode;

/**
 * MactPadMode:
 * @MACT_PAD_CONSTANT: fill with a constant value.
 * @MACT_PAD_REFLECT: mirror without repeating the edge.
 * @MACT_PAD_REPLICATE: repeat the edge value.
 *
 * The padding modes of mact_pad(), as in PyTorch's `F.pad`.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_PAD_CONSTANT,
  MACT_PAD_REFLECT,
  MACT_PAD_REPLICATE,
} MactPadMode;

#include <mact/mact-ops-elementwise.h>
#include <mact/mact-ops-reduce.h>
#include <mact/mact-ops-conv.h>
#include <mact/mact-ops-pool.h>
#include <mact/mact-ops-nn.h>
#include <mact/mact-ops-shape.h>

G_END_DECLS
