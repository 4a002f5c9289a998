/* mact-native-bce-loss-with-logits.h: mmaction2's BCELossWithLogits ("BCELossWithLogits"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_BCE_LOSS_WITH_LOGITS (mact_native_bce_loss_with_logits_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeBCELossWithLogits, mact_native_bce_loss_with_logits,
                      MACT_NATIVE, BCE_LOSS_WITH_LOGITS, MactLoss)

G_END_DECLS
