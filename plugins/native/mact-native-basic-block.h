/* mact-native-basic-block.h: mmaction2's ResNet BasicBlock (two 3x3 ConvModules). */
#pragma once

#include <mact/mact.h>
#include "mact-native-layers.h"

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_BASIC_BLOCK (mact_native_basic_block_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeBasicBlock, mact_native_basic_block, MACT_NATIVE, BASIC_BLOCK,
                      MactModule)

MactModule *mact_native_basic_block_new (gint                      inplanes,
                                         gint                      planes,
                                         gint                      stride,
                                         gint                      dilation,
                                         MactModule               *downsample,
                                         const MactNativeLayerCfg *cfg,
                                         GError                  **error);

G_END_DECLS
