/* mact-native-plugin.c: the "native" family's mmaction2 plugin (libmact-native-mmaction.so):
 * mmaction2's own blocks, under mmaction2's type names.  This file only lists them. */
#include <mact/mact.h>

#include "mact-native-resnet.h"
#include "mact-native-resnet-tsm.h"
#include "mact-native-mobilenet-v2.h"
#include "mact-native-mobilenet-v2-tsm.h"
#include "mact-native-c3d.h"
#include "mact-native-tsn-head.h"
#include "mact-native-tsm-head.h"
#include "mact-native-tpn.h"
#include "mact-native-tpn-head.h"
#include "mact-native-i3d-head.h"
#include "mact-native-cross-entropy-loss.h"
#include "mact-native-bce-loss-with-logits.h"
#include "mact-native-mixup-blending.h"
#include "mact-native-cutmix-blending.h"

static gboolean
native_mmaction_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "ResNet", MACT_NATIVE_TYPE_RESNET, error) &&
         mact_plugin_add_type (plugin, "ResNetTSM", MACT_NATIVE_TYPE_RESNET_TSM, error) &&
         mact_plugin_add_type (plugin, "MobileNetV2", MACT_NATIVE_TYPE_MOBILENET_V2, error) &&
         mact_plugin_add_type (plugin, "MobileNetV2TSM", MACT_NATIVE_TYPE_MOBILENET_V2_TSM,
                               error) &&
         mact_plugin_add_type (plugin, "C3D", MACT_NATIVE_TYPE_C3D, error) &&
         mact_plugin_add_type (plugin, "TSNHead", MACT_NATIVE_TYPE_TSN_HEAD, error) &&
         mact_plugin_add_type (plugin, "TSMHead", MACT_NATIVE_TYPE_TSM_HEAD, error) &&
         mact_plugin_add_type (plugin, "TPN", MACT_NATIVE_TYPE_TPN, error) &&
         mact_plugin_add_type (plugin, "TPNHead", MACT_NATIVE_TYPE_TPN_HEAD, error) &&
         mact_plugin_add_type (plugin, "I3DHead", MACT_NATIVE_TYPE_I3D_HEAD, error) &&
         mact_plugin_add_type (plugin, "CrossEntropyLoss", MACT_NATIVE_TYPE_CROSS_ENTROPY_LOSS,
                               error) &&
         mact_plugin_add_type (plugin, "BCELossWithLogits",
                               MACT_NATIVE_TYPE_BCE_LOSS_WITH_LOGITS, error) &&
         mact_plugin_add_type (plugin, "MixupBlending", MACT_NATIVE_TYPE_MIXUP_BLENDING,
                               error) &&
         mact_plugin_add_type (plugin, "CutmixBlending", MACT_NATIVE_TYPE_CUTMIX_BLENDING,
                               error);
}

MACT_PLUGIN_DEFINE (native, mmaction,
                    "mmaction2's own blocks: ResNet, ResNetTSM, MobileNetV2, "
                    "MobileNetV2TSM, C3D, TSNHead, TSMHead, TPN, TPNHead, "
                    "I3DHead, losses, blendings",
                    native_mmaction_init, "0.1.0", "LGPL-2.1-or-later",
                    "https://github.com/open-mmlab/mmaction2")
