/* mact-cls-inverted-residual.h: mmcls's MobileNetV2 InvertedResidual block. */
#pragma once

#include "mact-cls-utils.h"

G_BEGIN_DECLS

#define MACT_CLS_TYPE_INVERTED_RESIDUAL (mact_cls_inverted_residual_get_type ())
G_DECLARE_FINAL_TYPE (MactClsInvertedResidual, mact_cls_inverted_residual, MACT_CLS,
                      INVERTED_RESIDUAL, MactModule)

MactModule *mact_cls_inverted_residual_new (gint                  in_channels,
                                            gint                  out_channels,
                                            gint                  stride,
                                            gint                  expand_ratio,
                                            const MactClsNormCfg *norm,
                                            MactActivationKind    act,
                                            GError              **error);

G_END_DECLS
