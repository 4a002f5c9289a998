/* mact-native-video-resnet3d-pathway.c: mmaction2's ResNet3dPathway (mmaction/models/
 * backbones/resnet3d_slowfast.py): a ResNet3d with optional lateral connections from a
 * faster pathway, built by ResNet3dSlowFast from its slow_pathway / fast_pathway dicts
 * (type 'resnet3d').  Not a registered block, as in mmaction2.
 *
 * The implementation is MactNativeVideoResNet3dBase's; this class only sets its name,
 * its switches and its property defaults (not registered). */
#include "mact-native-video-resnet3d-pathway.h"

struct _MactNativeVideoResNet3dPathway
{
  MactNativeVideoResNet3dBase parent_instance;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoResNet3dPathway, mact_native_video_resnet3d_pathway,
                     MACT_NATIVE_VIDEO_TYPE_RESNET3D_BASE)

static void
mact_native_video_resnet3d_pathway_class_init (MactNativeVideoResNet3dPathwayClass *klass)
{
  MactNativeVideoResNet3dBaseClass *base_class = MACT_NATIVE_VIDEO_RESNET3D_BASE_CLASS (klass);
  static const MactNativeVideoResNet3dDefaults defaults =
    { { 3, 7, 7 }, { 1, 1, 1, 1 }, TRUE, TRUE };

  base_class->block_name = "ResNet3dPathway";
  base_class->pathway = TRUE;
  mact_native_video_resnet3d_base_install_properties (G_OBJECT_CLASS (klass), &defaults);
}

static void
mact_native_video_resnet3d_pathway_init (MactNativeVideoResNet3dPathway *self)
{
}
