/* mact-ops-pool.h: pooling and resampling. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-tensor.h>
#include <mact/mact-ops.h>  /* the enums (included from there too: #pragma once) */

G_BEGIN_DECLS

MACT_AVAILABLE_IN_0_1
MactTensor *mact_max_pool2d (MactTensor *input, const gint *kernel_size, const gint *stride,
                             const gint *padding, const gint *dilation, gboolean ceil_mode,
                             GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_max_pool3d (MactTensor *input, const gint *kernel_size, const gint *stride,
                             const gint *padding, const gint *dilation, gboolean ceil_mode,
                             GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_avg_pool2d (MactTensor *input, const gint *kernel_size, const gint *stride,
                             const gint *padding, gboolean ceil_mode,
                             gboolean count_include_pad, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_avg_pool3d (MactTensor *input, const gint *kernel_size, const gint *stride,
                             const gint *padding, gboolean ceil_mode,
                             gboolean count_include_pad, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_adaptive_avg_pool2d (MactTensor *input, const gint64 *output_size,
                                      GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_adaptive_avg_pool3d (MactTensor *input, const gint64 *output_size,
                                      GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_interpolate (MactTensor *input, gint n_sizes, const gint64 *output_size,
                              MactInterpolateMode mode, gboolean align_corners,
                              GError **error);

G_END_DECLS
