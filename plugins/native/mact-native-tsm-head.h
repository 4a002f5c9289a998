/* mact-native-tsm-head.h: mmaction2's TSMHead ("TSMHead"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_TSM_HEAD (mact_native_tsm_head_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeTSMHead, mact_native_tsm_head, MACT_NATIVE, TSM_HEAD,
                      MactHead)

G_END_DECLS
