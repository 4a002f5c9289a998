/* mact-native-video-resnet3d-slowonly.c: mmaction2's ResNet3dSlowOnly (mmaction/models/
 * backbones/resnet3d_slowonly.py): a ResNet3dPathway with SlowOnly's defaults:
 * conv1_kernel (1, 7, 7), inflate (0, 0, 1, 1), with_pool2 False, and lateral, which must
 * stay False.
 *
 * The implementation is MactNativeVideoResNet3dBase's; this class only sets its name,
 * its switches and its property defaults (registered as "ResNet3dSlowOnly"). */
#include "mact-native-video-resnet3d-slowonly.h"

struct _MactNativeVideoResNet3dSlowOnly
{
  MactNativeVideoResNet3dBase parent_instance;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoResNet3dSlowOnly, mact_native_video_resnet3d_slowonly,
                     MACT_NATIVE_VIDEO_TYPE_RESNET3D_BASE)

static void
mact_native_video_resnet3d_slowonly_class_init (MactNativeVideoResNet3dSlowOnlyClass *klass)
{
  MactNativeVideoResNet3dBaseClass *base_class = MACT_NATIVE_VIDEO_RESNET3D_BASE_CLASS (klass);
  static const MactNativeVideoResNet3dDefaults defaults =
    { { 1, 7, 7 }, { 0, 0, 1, 1 }, FALSE, TRUE };

  base_class->block_name = "ResNet3dSlowOnly";
  base_class->pathway = TRUE;
  base_class->forbid_lateral = TRUE;
  mact_native_video_resnet3d_base_install_properties (G_OBJECT_CLASS (klass), &defaults);
}

static void
mact_native_video_resnet3d_slowonly_init (MactNativeVideoResNet3dSlowOnly *self)
{
}
