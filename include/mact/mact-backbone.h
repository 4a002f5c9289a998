/* mact-backbone.h: the abstract kind of feature extractors. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-module.h>

G_BEGIN_DECLS

#define MACT_TYPE_BACKBONE (mact_backbone_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactBackbone, mact_backbone, MACT, BACKBONE, MactModule)

/**
 * MactBackboneClass:
 * @parent_class: the parent class
 * @forward_features: for torchvision-style models with a `features` child, the part the
 *   recognizer calls instead of the whole forward (mmaction2's `backbone.features(x)`);
 *   %NULL when the model has none.
 *
 * The class structure of #MactBackbone.  A backbone's forward takes one tensor and
 * returns one tensor, or a tuple (several stages, SlowFast's two pathways).
 *
 * Since: 0.1
 */
struct _MactBackboneClass
{
  MactModuleClass parent_class;

  MactTensor *(*forward_features) (MactBackbone *self,
                                   MactTensor   *input,
                                   GError      **error);

  /*< private >*/
  gpointer padding[12];
};

MACT_AVAILABLE_IN_0_1
gboolean    mact_backbone_has_features     (MactBackbone *self);
MACT_AVAILABLE_IN_0_1
MactTensor *mact_backbone_forward_features (MactBackbone *self,
                                            MactTensor   *input,
                                            GError      **error);

G_END_DECLS
