/* mact-lr-schedule.h: mmcv's learning-rate updater policies (`lr_config`). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>

G_BEGIN_DECLS

/* A schedule is a pure function of the training position, so resuming needs no schedule
 * state: `lr_config=dict(policy='step', step=[40, 80], gamma=0.1, by_epoch=True,
 * warmup='linear', warmup_iters=500, warmup_ratio=0.1, warmup_by_epoch=False)`,
 * `dict(policy='CosineAnnealing', min_lr=0 | min_lr_ratio=..., by_epoch=...)`,
 * `dict(policy='fixed')`.  Errors are MACT_TRAIN_ERROR_INVALID_CONFIG. */
#define MACT_TYPE_LR_SCHEDULE (mact_lr_schedule_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactLrSchedule, mact_lr_schedule, MACT, LR_SCHEDULE, GObject)

MACT_AVAILABLE_IN_0_1
MactLrSchedule *mact_lr_schedule_new_from_config (JsonNode       *lr_config,
                                                  GError        **error);

/* The lr of a parameter group whose initial lr is @base_lr, for the iteration that is
 * about to run: @epoch (0-based) and @iter (0-based global iteration count) of a run of
 * @max_epochs epochs with @epoch_len iterations each.  This is what mmcv's LrUpdaterHook
 * sets in before_train_epoch / before_train_iter (regular lr, then warmup). */
MACT_AVAILABLE_IN_0_1
double          mact_lr_schedule_get_lr          (MactLrSchedule *self,
                                                  double          base_lr,
                                                  guint           epoch,
                                                  guint64         iter,
                                                  guint           epoch_len,
                                                  guint           max_epochs);

MACT_AVAILABLE_IN_0_1
gboolean        mact_lr_schedule_get_by_epoch    (MactLrSchedule *self);

G_END_DECLS
