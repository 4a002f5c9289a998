/* mact-cls-resnet.h: mmcls's ResNet backbone ("cls.ResNet"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_CLS_TYPE_RESNET (mact_cls_resnet_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactClsResNet, mact_cls_resnet, MACT_CLS, RESNET, MactBackbone)

/**
 * MactClsResNetClass:
 * @parent_class: the parent class
 * @block_name: the name used in error messages ("ResNet", "ResNeXt")
 * @bottleneck_only: whether only the Bottleneck depths (50, 101, 152) exist, as in
 *   ResNeXt's arch_settings
 * @get_groups: the grouping of the Bottleneck's conv2 (mmcls's ResNeXt.make_res_layer
 *   passes groups and width_per_group); the default is 1 group, a plain ResNet
 *
 * The class structure of #MactClsResNet.  Derivable so that ResNeXt (and ResNetV1c/d
 * style variants) can build on it.
 */
struct _MactClsResNetClass
{
  MactBackboneClass parent_class;

  const char *block_name;
  gboolean    bottleneck_only;
  void      (*get_groups) (MactClsResNet *self,
                           gint          *groups,
                           gint          *width_per_group);

  /*< private >*/
  gpointer padding[8];
};

G_END_DECLS
