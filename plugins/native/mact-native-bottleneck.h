/* mact-native-bottleneck.h: mmaction2's ResNet Bottleneck (1x1, 3x3, 1x1 ConvModules). */
#pragma once

#include <mact/mact.h>
#include "mact-native-layers.h"

G_BEGIN_DECLS

/* The channel expansion of the last 1x1 conv. */
#define MACT_NATIVE_BOTTLENECK_EXPANSION 4

#define MACT_NATIVE_TYPE_BOTTLENECK (mact_native_bottleneck_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeBottleneck, mact_native_bottleneck, MACT_NATIVE, BOTTLENECK,
                      MactModule)

MactModule *mact_native_bottleneck_new (gint                      inplanes,
                                        gint                      planes,
                                        gint                      stride,
                                        gint                      dilation,
                                        gboolean                  caffe_style,
                                        MactModule               *downsample,
                                        const MactNativeLayerCfg *cfg,
                                        GError                  **error);

G_END_DECLS
