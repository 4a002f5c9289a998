/* mact-autograd.h: reverse-mode automatic differentiation. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>

G_BEGIN_DECLS

MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_get_requires_grad (MactTensor *self);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_set_requires_grad (MactTensor *self,
                                            gboolean    requires_grad,
                                            GError    **error);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_is_leaf           (MactTensor *self);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_get_grad          (MactTensor *self);
MACT_AVAILABLE_IN_0_1
void         mact_tensor_set_grad          (MactTensor *self,
                                            MactTensor *grad);
MACT_AVAILABLE_IN_0_1
const char  *mact_tensor_get_grad_fn_name  (MactTensor *self);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_backward          (MactTensor *self,
                                            MactTensor *grad_output,
                                            GError    **error);

/**
 * MactGradReadyFunc:
 * @leaf: a leaf tensor that requires grad, whose gradient for this backward is complete
 *   (its grad may still be %NULL when no gradient reached it)
 * @user_data: the data given to mact_tensor_backward_full()
 * @error: return location for a #GError
 *
 * Called by mact_tensor_backward_full() once per reached leaf, as soon as no node still
 * to run can add to the leaf's gradient.
 *
 * Returns: %TRUE to continue backward, %FALSE (with @error set) to stop it
 *
 * Since: 0.1
 */
typedef gboolean (*MactGradReadyFunc) (MactTensor  *leaf,
                                       gpointer     user_data,
                                       GError     **error);

MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_backward_full     (MactTensor         *self,
                                            MactTensor         *grad_output,
                                            MactGradReadyFunc   ready,
                                            gpointer            user_data,
                                            GError            **error);

MACT_AVAILABLE_IN_0_1
gboolean     mact_grad_is_enabled          (void);
MACT_AVAILABLE_IN_0_1
gboolean     mact_grad_set_enabled         (gboolean    enabled);

/**
 * MACT_NO_GRAD_BEGIN:
 *
 * Opens a scope in which no operation records autograd history (PyTorch's
 * `torch.no_grad()`); close it with %MACT_NO_GRAD_END in the same block.  Inference should
 * run inside such a scope: nothing is recorded and no tensor is kept for backward.
 */
#define MACT_NO_GRAD_BEGIN { gboolean _mact_prev_grad_mode = mact_grad_set_enabled (FALSE);
/**
 * MACT_NO_GRAD_END:
 *
 * Closes a %MACT_NO_GRAD_BEGIN scope and restores the previous grad mode.
 */
#define MACT_NO_GRAD_END mact_grad_set_enabled (_mact_prev_grad_mode); }

G_END_DECLS
