/* mact-blending.h: the abstract kind of mini-batch blending (mixup, cutmix). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-module.h>

G_BEGIN_DECLS

#define MACT_TYPE_BLENDING (mact_blending_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactBlending, mact_blending, MACT, BLENDING, MactModule)

/**
 * MactBlendingClass:
 * @parent_class: the parent class
 * @do_blending: blends @imgs ([B, ...]) and one-hot @label ([B, K]) with draws from
 *   @generator; sets new tensors in @imgs_out and @label_out.
 *
 * The class structure of #MactBlending (mmaction2's BaseMiniBatchBlending).  Properties:
 * `num-classes` (required), `alpha` (0.2).
 *
 * Since: 0.1
 */
/**
 * MactBlendingClass::do_blending:
 * @self: a built blending
 * @imgs: the batch [B, ...]
 * @label: one-hot labels [B, K]
 * @generator: where the random draws come from
 * @imgs_out: (out) (transfer full): the blended images
 * @label_out: (out) (transfer full): the blended soft labels [B, K]
 * @error: return location for a #GError
 *
 * Blends one batch; called by mact_blending_apply().
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
struct _MactBlendingClass
{
  MactModuleClass parent_class;

  gboolean (*do_blending) (MactBlending   *self,
                           MactTensor     *imgs,
                           MactTensor     *label,
                           MactGenerator  *generator,
                           MactTensor    **imgs_out,
                           MactTensor    **label_out,
                           GError        **error);

  /*< private >*/
  gpointer padding[12];
};

MACT_AVAILABLE_IN_0_1
gboolean mact_blending_apply         (MactBlending   *self,
                                      MactTensor     *imgs,
                                      MactTensor     *label,
                                      MactTensor    **imgs_out,
                                      MactTensor    **label_out,
                                      GError        **error);
MACT_AVAILABLE_IN_0_1
void     mact_blending_set_generator (MactBlending   *self,
                                      MactGenerator  *generator);
MACT_AVAILABLE_IN_0_1
gint     mact_blending_get_num_classes (MactBlending *self);
MACT_AVAILABLE_IN_0_1
double   mact_blending_get_alpha     (MactBlending   *self);

G_END_DECLS
