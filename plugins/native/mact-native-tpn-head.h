/* mact-native-tpn-head.h: mmaction2's TPNHead ("TPNHead"), a TSNHead. */
#pragma once

#include "mact-native-tsn-head.h"

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_TPN_HEAD (mact_native_tpn_head_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeTPNHead, mact_native_tpn_head, MACT_NATIVE, TPN_HEAD,
                      MactNativeTSNHead)

G_END_DECLS
