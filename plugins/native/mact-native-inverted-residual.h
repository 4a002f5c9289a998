/* mact-native-inverted-residual.h: mmaction2's MobileNetV2 InvertedResidual block. */
#pragma once

#include <mact/mact.h>
#include "mact-native-layers.h"

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_INVERTED_RESIDUAL (mact_native_inverted_residual_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeInvertedResidual, mact_native_inverted_residual, MACT_NATIVE,
                      INVERTED_RESIDUAL, MactModule)

MactModule *mact_native_inverted_residual_new (gint                      in_channels,
                                               gint                      out_channels,
                                               gint                      stride,
                                               gint                      expand_ratio,
                                               const MactNativeLayerCfg *cfg,
                                               MactActivationKind        act,
                                               GError                  **error);
gboolean    mact_native_inverted_residual_get_use_res_connect (MactNativeInvertedResidual *self);

G_END_DECLS
