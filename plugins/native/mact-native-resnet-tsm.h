/* mact-native-resnet-tsm.h: mmaction2's ResNet with temporal shift ("ResNetTSM"). */
#pragma once

#include "mact-native-resnet.h"

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_RESNET_TSM (mact_native_resnet_tsm_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeResNetTSM, mact_native_resnet_tsm, MACT_NATIVE, RESNET_TSM,
                      MactNativeResNet)

G_END_DECLS
