/* mact-ops-shape.h: joining, reordering and padding. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-tensor.h>
#include <mact/mact-ops.h>  /* the enums (included from there too: #pragma once) */

G_BEGIN_DECLS

MACT_AVAILABLE_IN_0_1
MactTensor *mact_cat   (MactTensor **tensors, guint n_tensors, gint dim, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_stack (MactTensor **tensors, guint n_tensors, gint dim, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_flip  (MactTensor *input, gint n_dims, const gint *dims, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_pad   (MactTensor *input, gint n_pad, const gint64 *pad, MactPadMode mode,
                        float value, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_temporal_shift (MactTensor *input, gint num_segments, gint shift_div,
                                 GError **error);

G_END_DECLS
