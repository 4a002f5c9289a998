/* mact-native-blending-utils.h: what MixupBlending and CutmixBlending share.  Internal to
 * the plugin. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

gboolean    mact_native_blending_check    (const char *block,
                                           MactTensor *imgs,
                                           MactTensor *label,
                                           GError    **error);
MactTensor *mact_native_mix_rows          (MactTensor   *t,
                                           const gint64 *perm,
                                           float         lam,
                                           GError      **error);
GPtrArray  *mact_native_blending_forward  (MactModule *module,
                                           GPtrArray  *inputs,
                                           GError    **error);

G_END_DECLS
