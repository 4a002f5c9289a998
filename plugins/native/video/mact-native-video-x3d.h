/* mact-native-video-x3d.h: mmaction2's X3D backbone ("X3D"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_X3D (mact_native_video_x3d_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoX3D, mact_native_video_x3d, MACT_NATIVE_VIDEO, X3D,
                      MactBackbone)

gint mact_native_video_x3d_round_width   (gint   width,
                                          double multiplier);
gint mact_native_video_x3d_round_repeats (gint   repeats,
                                          double multiplier);

G_END_DECLS
