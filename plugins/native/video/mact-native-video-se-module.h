/* mact-native-video-se-module.h: X3D's squeeze-and-excitation unit (SEModule). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_SE_MODULE (mact_native_video_se_module_get_type ())
G_DECLARE_FINAL_TYPE (MactNativeVideoSEModule, mact_native_video_se_module, MACT_NATIVE_VIDEO,
                      SE_MODULE, MactModule)

gint        mact_native_video_se_module_round_width (gint   width,
                                                     double multiplier);
MactModule *mact_native_video_se_module_new         (gint     channels,
                                                     double   reduction,
                                                     GError **error);

G_END_DECLS
