/* mact-ops-reduce.h: reductions over dimensions. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-tensor.h>

G_BEGIN_DECLS

MACT_AVAILABLE_IN_0_1
MactTensor *mact_sum      (MactTensor *self, gint n_dims, const gint *dims,
                           gboolean keepdim, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_mean     (MactTensor *self, gint n_dims, const gint *dims,
                           gboolean keepdim, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_sum_all  (MactTensor *self);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_mean_all (MactTensor *self);

G_END_DECLS
