/* mact-native-temporal-pool.h: ResNetTSM's TemporalPool wrapper (temporal_pool=True). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_TEMPORAL_POOL (mact_native_temporal_pool_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeTemporalPool, mact_native_temporal_pool, MACT_NATIVE,
                      TEMPORAL_POOL, MactModule)

MactModule *mact_native_temporal_pool_new (MactModule *net,
                                           gint        num_segments,
                                           GError    **error);

G_END_DECLS
