/* mact-native-video-resnet3d.c: mmaction2's ResNet3d backbone (mmaction/models/backbones/
 * resnet3d.py): an inflated 3-D ResNet (I3D and friends).
 *
 * The implementation is MactNativeVideoResNet3dBase's; this class only sets its name,
 * its switches and its property defaults (registered as "ResNet3d"). */
#include "mact-native-video-resnet3d.h"

struct _MactNativeVideoResNet3d
{
  MactNativeVideoResNet3dBase parent_instance;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoResNet3d, mact_native_video_resnet3d,
                     MACT_NATIVE_VIDEO_TYPE_RESNET3D_BASE)

static void
mact_native_video_resnet3d_class_init (MactNativeVideoResNet3dClass *klass)
{
  MactNativeVideoResNet3dBaseClass *base_class = MACT_NATIVE_VIDEO_RESNET3D_BASE_CLASS (klass);
  static const MactNativeVideoResNet3dDefaults defaults =
    { { 3, 7, 7 }, { 1, 1, 1, 1 }, TRUE, FALSE };

  base_class->block_name = "ResNet3d";
  mact_native_video_resnet3d_base_install_properties (G_OBJECT_CLASS (klass), &defaults);
}

static void
mact_native_video_resnet3d_init (MactNativeVideoResNet3d *self)
{
}
