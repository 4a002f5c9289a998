/* mact-native-video-plugin.c: the "native" family's second plugin
 * (libmact-native-video3d.so): mmaction2's 3-D video backbones and their heads, under
 * mmaction2's type names.  This file only lists them. */
#include <mact/mact.h>

#include "mact-native-video-resnet3d.h"
#include "mact-native-video-resnet3d-slowonly.h"
#include "mact-native-video-resnet3d-slowfast.h"
#include "mact-native-video-resnet2plus1d.h"
#include "mact-native-video-x3d.h"
#include "mact-native-video-slowfast-head.h"
#include "mact-native-video-x3d-head.h"

static gboolean
native_video3d_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "ResNet3d", MACT_NATIVE_VIDEO_TYPE_RESNET3D, error) &&
         mact_plugin_add_type (plugin, "ResNet3dSlowOnly",
                               MACT_NATIVE_VIDEO_TYPE_RESNET3D_SLOWONLY, error) &&
         mact_plugin_add_type (plugin, "ResNet3dSlowFast",
                               MACT_NATIVE_VIDEO_TYPE_RESNET3D_SLOWFAST, error) &&
         mact_plugin_add_type (plugin, "ResNet2Plus1d", MACT_NATIVE_VIDEO_TYPE_RESNET2PLUS1D,
                               error) &&
         mact_plugin_add_type (plugin, "X3D", MACT_NATIVE_VIDEO_TYPE_X3D, error) &&
         mact_plugin_add_type (plugin, "SlowFastHead", MACT_NATIVE_VIDEO_TYPE_SLOWFAST_HEAD,
                               error) &&
         mact_plugin_add_type (plugin, "X3DHead", MACT_NATIVE_VIDEO_TYPE_X3D_HEAD, error);
}

MACT_PLUGIN_DEFINE (native, video3d,
                    "mmaction2's 3-D video blocks: ResNet3d, ResNet3dSlowOnly, "
                    "ResNet3dSlowFast, ResNet2Plus1d, X3D, SlowFastHead, X3DHead",
                    native_video3d_init, "0.1.0", "LGPL-2.1-or-later",
                    "https://github.com/open-mmlab/mmaction2")
