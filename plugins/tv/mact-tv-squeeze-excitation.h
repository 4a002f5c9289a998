/* mact-tv-squeeze-excitation.h: torchvision's SqueezeExcitation as MobileNetV3 uses it. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_TV_TYPE_SQUEEZE_EXCITATION (mact_tv_squeeze_excitation_get_type ())
G_DECLARE_FINAL_TYPE (MactTvSqueezeExcitation, mact_tv_squeeze_excitation, MACT_TV,
                      SQUEEZE_EXCITATION, MactModule)

MactModule *mact_tv_squeeze_excitation_new (gint     input_channels,
                                            gint     squeeze_channels,
                                            GError **error);

G_END_DECLS
