/* mact-native-cross-entropy-loss.h: mmaction2's CrossEntropyLoss ("CrossEntropyLoss"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_CROSS_ENTROPY_LOSS (mact_native_cross_entropy_loss_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeCrossEntropyLoss, mact_native_cross_entropy_loss, MACT_NATIVE,
                      CROSS_ENTROPY_LOSS, MactLoss)

G_END_DECLS
