/* mact-native-loss-utils.h: what the native losses share.  Internal to the plugin. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

gboolean    mact_native_class_weight_new  (GVariant     *class_weight,
                                           const char   *block,
                                           MactTensor  **out,
                                           GError      **error);
gboolean    mact_native_loss_weight_arg   (const char     *block,
                                           MactTensor     *class_weight,
                                           MactTensorDict *kwargs,
                                           MactTensor    **weight,
                                           GError        **error);
gboolean    mact_native_check_class_weight (const char *block,
                                            MactTensor *class_weight,
                                            MactTensor *cls_score,
                                            GError    **error);
GPtrArray  *mact_native_loss_forward      (MactModule *module,
                                           GPtrArray  *inputs,
                                           GError    **error);

G_END_DECLS
