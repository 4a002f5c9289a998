/* mact-cls-bottleneck.h: mmcls's ResNet Bottleneck, and ResNeXt's (grouped conv2). */
#pragma once

#include "mact-cls-utils.h"

G_BEGIN_DECLS

#define MACT_CLS_TYPE_BOTTLENECK (mact_cls_bottleneck_get_type ())
G_DECLARE_FINAL_TYPE (MactClsBottleneck, mact_cls_bottleneck, MACT_CLS, BOTTLENECK, MactModule)

MactModule *mact_cls_bottleneck_new (const MactClsResBlockArgs *args,
                                     MactModule                *downsample,
                                     GError                   **error);

G_END_DECLS
