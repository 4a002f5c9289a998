/* mact-cls-drop-path.h: mmcv's DropPath (stochastic depth), used by mmcls's residual
 * blocks when drop_path_rate > 0. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_CLS_TYPE_DROP_PATH (mact_cls_drop_path_get_type ())
G_DECLARE_FINAL_TYPE (MactClsDropPath, mact_cls_drop_path, MACT_CLS, DROP_PATH, MactModule)

MactModule *mact_cls_drop_path_new (double drop_prob, GError **error);

G_END_DECLS
