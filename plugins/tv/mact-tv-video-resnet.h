/* mact-tv-video-resnet.h: torchvision's VideoResNet (tv.r3d_18, tv.mc3_18,
 * tv.r2plus1d_18). */
#pragma once

#include "mact-tv-model.h"

G_BEGIN_DECLS

#define MACT_TV_TYPE_VIDEO_RESNET (mact_tv_video_resnet_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactTvVideoResNet, mact_tv_video_resnet, MACT_TV, VIDEO_RESNET,
                          MactTvModel)

typedef struct _MactTvVideoResNetArch MactTvVideoResNetArch;

/**
 * MactTvVideoResNetClass:
 * @parent_class: the parent class
 * @arch: the builder's architecture; set by each builder's variant type
 *
 * The class structure of #MactTvVideoResNet.  Abstract: the registered types are its
 * variants, one per builder.
 */
struct _MactTvVideoResNetClass
{
  MactTvModelClass             parent_class;

  const MactTvVideoResNetArch *arch;

  /*< private >*/
  gpointer padding[4];
};

GType mact_tv_video_resnet_variant_get_type (const char *builder);

G_END_DECLS
