/* mact-ops-elementwise.h: broadcasting arithmetic and activations. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-tensor.h>

G_BEGIN_DECLS

MACT_AVAILABLE_IN_0_1
MactTensor *mact_add        (MactTensor *a, MactTensor *b, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_sub        (MactTensor *a, MactTensor *b, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_mul        (MactTensor *a, MactTensor *b, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_div        (MactTensor *a, MactTensor *b, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_add_scalar (MactTensor *self, float value);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_mul_scalar (MactTensor *self, float value);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_neg        (MactTensor *self);

MACT_AVAILABLE_IN_0_1
MactTensor *mact_relu       (MactTensor *self);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_relu6      (MactTensor *self);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_sigmoid    (MactTensor *self);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_silu       (MactTensor *self);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_hardswish  (MactTensor *self);

G_END_DECLS
