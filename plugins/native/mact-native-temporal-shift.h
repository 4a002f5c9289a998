/* mact-native-temporal-shift.h: mmaction2's TemporalShift wrapper (TSM). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_TEMPORAL_SHIFT (mact_native_temporal_shift_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeTemporalShift, mact_native_temporal_shift, MACT_NATIVE,
                      TEMPORAL_SHIFT, MactModule)

MactModule *mact_native_temporal_shift_new (MactModule *net,
                                            gint        num_segments,
                                            gint        shift_div);

G_END_DECLS
