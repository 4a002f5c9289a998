/* mact-tv-plugin.c: the "tv" family's torchvision plugin (libmact-tv-torchvision.so):
 * torchvision's classification and video models under their builder names.  This file
 * only lists them. */
#include <mact/mact.h>

#include "mact-tv-resnet.h"
#include "mact-tv-mobilenet-v2.h"
#include "mact-tv-mobilenet-v3.h"
#include "mact-tv-video-resnet.h"
#include "mact-tv-s3d.h"

static gboolean
tv_torchvision_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "tv.resnet18",
                               mact_tv_resnet_variant_get_type ("resnet18"), error) &&
         mact_plugin_add_type (plugin, "tv.resnet34",
                               mact_tv_resnet_variant_get_type ("resnet34"), error) &&
         mact_plugin_add_type (plugin, "tv.resnet50",
                               mact_tv_resnet_variant_get_type ("resnet50"), error) &&
         mact_plugin_add_type (plugin, "tv.resnet101",
                               mact_tv_resnet_variant_get_type ("resnet101"), error) &&
         mact_plugin_add_type (plugin, "tv.resnet152",
                               mact_tv_resnet_variant_get_type ("resnet152"), error) &&
         mact_plugin_add_type (plugin, "tv.resnext50_32x4d",
                               mact_tv_resnet_variant_get_type ("resnext50_32x4d"), error) &&
         mact_plugin_add_type (plugin, "tv.mobilenet_v2", MACT_TV_TYPE_MOBILENET_V2, error) &&
         mact_plugin_add_type (plugin, "tv.mobilenet_v3_small",
                               mact_tv_mobilenet_v3_variant_get_type ("mobilenet_v3_small"),
                               error) &&
         mact_plugin_add_type (plugin, "tv.mobilenet_v3_large",
                               mact_tv_mobilenet_v3_variant_get_type ("mobilenet_v3_large"),
                               error) &&
         mact_plugin_add_type (plugin, "tv.r3d_18",
                               mact_tv_video_resnet_variant_get_type ("r3d_18"), error) &&
         mact_plugin_add_type (plugin, "tv.mc3_18",
                               mact_tv_video_resnet_variant_get_type ("mc3_18"), error) &&
         mact_plugin_add_type (plugin, "tv.r2plus1d_18",
                               mact_tv_video_resnet_variant_get_type ("r2plus1d_18"), error) &&
         mact_plugin_add_type (plugin, "tv.s3d", MACT_TV_TYPE_S3D, error);
}

MACT_PLUGIN_DEFINE (tv, torchvision,
                    "torchvision's models: ResNet, ResNeXt, MobileNetV2/V3, video ResNets, S3D",
                    tv_torchvision_init, "0.1.0", "LGPL-2.1-or-later",
                    "https://github.com/pytorch/vision")
