/* mact-neck.h: the abstract kind of feature fusers between backbone and head (TPN). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-module.h>

G_BEGIN_DECLS

#define MACT_TYPE_NECK (mact_neck_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactNeck, mact_neck, MACT, NECK, MactModule)

/**
 * MactNeckClass:
 * @parent_class: the parent class
 * @forward_neck: fuses the backbone's outputs.  @target (nullable) is the label during
 *   training, for auxiliary losses, which go into @aux_losses (mmaction2's `loss_aux`).
 *   Returns a new array of output tensors.
 *
 * The class structure of #MactNeck.
 *
 * Since: 0.1
 */
struct _MactNeckClass
{
  MactModuleClass parent_class;

  GPtrArray *(*forward_neck) (MactNeck        *self,
                              GPtrArray       *inputs,
                              MactTensor      *target,
                              MactTensorDict  *aux_losses,
                              GError         **error);

  /*< private >*/
  gpointer padding[12];
};

MACT_AVAILABLE_IN_0_1
GPtrArray *mact_neck_forward_neck (MactNeck        *self,
                                   GPtrArray       *inputs,
                                   MactTensor      *target,
                                   MactTensorDict  *aux_losses,
                                   GError         **error);

G_END_DECLS
