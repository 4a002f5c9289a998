/* mact-tv-resnet.h: torchvision's ResNet (tv.resnet18 .. tv.resnet152, tv.resnext50_32x4d). */
#pragma once

#include "mact-tv-model.h"

G_BEGIN_DECLS

#define MACT_TV_TYPE_RESNET (mact_tv_resnet_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactTvResNet, mact_tv_resnet, MACT_TV, RESNET, MactTvModel)

typedef struct _MactTvResNetArch MactTvResNetArch;

/**
 * MactTvResNetClass:
 * @parent_class: the parent class
 * @arch: the builder's architecture; set by each builder's variant type
 *
 * The class structure of #MactTvResNet.  The class itself is abstract: the registered
 * types are its variants, one per torchvision builder.
 */
struct _MactTvResNetClass
{
  MactTvModelClass        parent_class;

  const MactTvResNetArch *arch;

  /*< private >*/
  gpointer padding[4];
};

GType mact_tv_resnet_variant_get_type (const char *builder);

G_END_DECLS
