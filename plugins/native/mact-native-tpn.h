/* mact-native-tpn.h: mmaction2's Temporal Pyramid Network neck ("TPN"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_TPN (mact_native_tpn_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeTPN, mact_native_tpn, MACT_NATIVE, TPN, MactNeck)

G_END_DECLS
