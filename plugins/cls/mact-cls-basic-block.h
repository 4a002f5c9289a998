/* mact-cls-basic-block.h: mmcls's ResNet BasicBlock (two 3x3 convs, expansion 1). */
#pragma once

#include "mact-cls-utils.h"

G_BEGIN_DECLS

#define MACT_CLS_TYPE_BASIC_BLOCK (mact_cls_basic_block_get_type ())
G_DECLARE_FINAL_TYPE (MactClsBasicBlock, mact_cls_basic_block, MACT_CLS, BASIC_BLOCK,
                      MactModule)

MactModule *mact_cls_basic_block_new (const MactClsResBlockArgs *args,
                                      MactModule                *downsample,
                                      GError                   **error);

G_END_DECLS
