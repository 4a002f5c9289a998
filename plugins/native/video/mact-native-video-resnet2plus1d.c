/* mact-native-video-resnet2plus1d.c: mmaction2's ResNet2Plus1d (mmaction/models/backbones/
 * resnet2plus1d.py): a ResNet3d whose convolutions are Conv2plus1d.  As in mmaction2,
 * conv_cfg must be {type: 'Conv2plus1d'} and pretrained2d False (their defaults fail),
 * and forward always max-pools after the stem and never applies pool2.
 *
 * The implementation is MactNativeVideoResNet3dBase's; this class only sets its name,
 * its switches and its property defaults (registered as "ResNet2Plus1d"). */
#include "mact-native-video-resnet2plus1d.h"

struct _MactNativeVideoResNet2Plus1d
{
  MactNativeVideoResNet3dBase parent_instance;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoResNet2Plus1d, mact_native_video_resnet2plus1d,
                     MACT_NATIVE_VIDEO_TYPE_RESNET3D_BASE)

static void
mact_native_video_resnet2plus1d_class_init (MactNativeVideoResNet2Plus1dClass *klass)
{
  MactNativeVideoResNet3dBaseClass *base_class = MACT_NATIVE_VIDEO_RESNET3D_BASE_CLASS (klass);
  static const MactNativeVideoResNet3dDefaults defaults =
    { { 3, 7, 7 }, { 1, 1, 1, 1 }, TRUE, FALSE };

  base_class->block_name = "ResNet2Plus1d";
  base_class->plus1d = TRUE;
  mact_native_video_resnet3d_base_install_properties (G_OBJECT_CLASS (klass), &defaults);
}

static void
mact_native_video_resnet2plus1d_init (MactNativeVideoResNet2Plus1d *self)
{
}
