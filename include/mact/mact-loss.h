/* mact-loss.h: the abstract kind of losses (mmaction2's BaseWeightedLoss). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-module.h>

G_BEGIN_DECLS

#define MACT_TYPE_LOSS (mact_loss_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactLoss, mact_loss, MACT, LOSS, MactModule)

/**
 * MactLossClass:
 * @parent_class: the parent class
 * @compute: the unweighted loss of @cls_score against @label; @kwargs (nullable) holds
 *   extra tensors (aux_info) by name.  mact_loss_compute() multiplies by `loss_weight`.
 *
 * The class structure of #MactLoss.  Property `loss-weight` (default 1.0).
 *
 * Since: 0.1
 */
struct _MactLossClass
{
  MactModuleClass parent_class;

  MactTensor *(*compute) (MactLoss        *self,
                          MactTensor      *cls_score,
                          MactTensor      *label,
                          MactTensorDict  *kwargs,
                          GError         **error);

  /*< private >*/
  gpointer padding[12];
};

MACT_AVAILABLE_IN_0_1
MactTensor *mact_loss_compute         (MactLoss        *self,
                                       MactTensor      *cls_score,
                                       MactTensor      *label,
                                       MactTensorDict  *kwargs,
                                       GError         **error);
MACT_AVAILABLE_IN_0_1
double      mact_loss_get_loss_weight (MactLoss        *self);

G_END_DECLS
