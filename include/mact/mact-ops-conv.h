/* mact-ops-conv.h: convolution and dense products. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-tensor.h>

G_BEGIN_DECLS

MACT_AVAILABLE_IN_0_1
MactTensor *mact_conv2d (MactTensor *input, MactTensor *weight, MactTensor *bias,
                         const gint *stride, const gint *padding, const gint *dilation,
                         gint groups, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_conv3d (MactTensor *input, MactTensor *weight, MactTensor *bias,
                         const gint *stride, const gint *padding, const gint *dilation,
                         gint groups, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_linear (MactTensor *input, MactTensor *weight, MactTensor *bias,
                         GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_matmul (MactTensor *a, MactTensor *b, GError **error);

G_END_DECLS
