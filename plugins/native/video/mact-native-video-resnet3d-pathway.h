/* mact-native-video-resnet3d-pathway.h: mmaction2's ResNet3dPathway, SlowFast's pathways. */
#pragma once

#include "mact-native-video-resnet3d-base.h"

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_RESNET3D_PATHWAY (mact_native_video_resnet3d_pathway_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoResNet3dPathway, mact_native_video_resnet3d_pathway,
                      MACT_NATIVE_VIDEO, RESNET3D_PATHWAY, MactNativeVideoResNet3dBase)

G_END_DECLS
