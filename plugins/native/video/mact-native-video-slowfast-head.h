/* mact-native-video-slowfast-head.h: mmaction2's SlowFastHead ("SlowFastHead"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_SLOWFAST_HEAD (mact_native_video_slowfast_head_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoSlowFastHead, mact_native_video_slowfast_head,
                      MACT_NATIVE_VIDEO, SLOWFAST_HEAD, MactHead)

G_END_DECLS
