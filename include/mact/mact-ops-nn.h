/* mact-ops-nn.h: normalisation, softmax, losses, dropout. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-tensor.h>
#include <mact/mact-ops.h>  /* the enums (included from there too: #pragma once) */
#include <mact/mact-generator.h>

G_BEGIN_DECLS

/**
 * MactAllReduceSumFunc:
 * @values: (array length=n_values): the values, replaced in place by their sums over
 *   every process
 * @n_values: the number of values
 * @user_data: the data given with the function
 * @error: return location for a #GError
 *
 * Sums @values element-wise across the processes of a data-parallel job (an MPI
 * all-reduce; mact_distributed_init() installs one for SyncBN).  Every process calls it
 * at the same point with the same @n_values.  With one process it leaves @values alone.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
typedef gboolean (*MactAllReduceSumFunc) (float    *values,
                                          gsize     n_values,
                                          gpointer  user_data,
                                          GError  **error);

MACT_AVAILABLE_IN_0_1
MactTensor *mact_batch_norm (MactTensor *input, MactTensor *running_mean,
                             MactTensor *running_var, MactTensor *weight, MactTensor *bias,
                             gboolean training, double momentum, double eps,
                             GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_sync_batch_norm (MactTensor *input, MactTensor *running_mean,
                                  MactTensor *running_var, MactTensor *weight,
                                  MactTensor *bias, gboolean training, double momentum,
                                  double eps, MactAllReduceSumFunc reduce,
                                  gpointer user_data, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_softmax     (MactTensor *input, gint dim, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_log_softmax (MactTensor *input, gint dim, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_nll_loss    (MactTensor *log_probs, MactTensor *target, MactTensor *weight,
                              MactReduction reduction, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_cross_entropy (MactTensor *input, MactTensor *target, MactTensor *weight,
                                MactReduction reduction, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_binary_cross_entropy_with_logits (MactTensor *input, MactTensor *target,
                                                   MactTensor *weight, MactTensor *pos_weight,
                                                   MactReduction reduction, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_dropout     (MactTensor *input, double p, gboolean training,
                              MactGenerator *generator, GError **error);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_one_hot     (MactTensor *labels, gint64 num_classes, GError **error);

G_END_DECLS
