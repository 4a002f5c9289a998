/* mact-head.h: the abstract kind of classification heads (mmaction2's BaseHead). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-module.h>
#include <mact/mact-loss.h>

G_BEGIN_DECLS

#define MACT_TYPE_HEAD (mact_head_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactHead, mact_head, MACT, HEAD, MactModule)

/**
 * MactHeadClass:
 * @parent_class: the parent class
 * @forward_head: class scores from features.  @num_segs is the number of segments the
 *   2-D recognizer folded into the batch, or 0 for None (3-D heads ignore it).
 * @forward_fcn: class score maps for fully-convolutional testing (mmaction2's
 *   `cls_head(x, fcn_test=True)`, which Recognizer2D calls when test_cfg has
 *   `fcn_test`); %NULL for heads without that mode (TPNHead has it).
 *
 * The class structure of #MactHead.  Properties mirror BaseHead's constructor:
 * `num-classes` and `in-channels` (required), `loss-cls` (a #MactLoss; default
 * CrossEntropyLoss), `multi-class`, `label-smooth-eps`, `topk` (default (1, 5)).
 *
 * Since: 0.1
 */
struct _MactHeadClass
{
  MactModuleClass parent_class;

  MactTensor *(*forward_head) (MactHead   *self,
                               GPtrArray  *inputs,
                               gint        num_segs,
                               GError    **error);
  MactTensor *(*forward_fcn)  (MactHead   *self,
                               GPtrArray  *inputs,
                               GError    **error);

  /*< private >*/
  gpointer padding[11];
};

MACT_AVAILABLE_IN_0_1
MactTensor     *mact_head_forward_head   (MactHead        *self,
                                          GPtrArray       *inputs,
                                          gint             num_segs,
                                          GError         **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_head_forward_fcn    (MactHead        *self,
                                          GPtrArray       *inputs,
                                          GError         **error);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_head_loss           (MactHead        *self,
                                          MactTensor      *cls_score,
                                          MactTensor      *labels,
                                          MactTensorDict  *kwargs,
                                          GError         **error);
MACT_AVAILABLE_IN_0_1
gint            mact_head_get_num_classes (MactHead       *self);
MACT_AVAILABLE_IN_0_1
gint            mact_head_get_in_channels (MactHead       *self);
MACT_AVAILABLE_IN_0_1
MactLoss       *mact_head_get_loss_cls    (MactHead       *self);
MACT_AVAILABLE_IN_0_1
gboolean        mact_top_k_accuracy       (MactTensor     *scores,
                                           MactTensor     *labels,
                                           guint           n_topk,
                                           const gint     *topk,
                                           double         *accuracies,
                                           GError        **error);

G_END_DECLS
