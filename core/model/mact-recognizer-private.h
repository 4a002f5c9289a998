/* mact-recognizer-private.h: helpers the recognizer subclasses share. */
#pragma once

#include "mact-tensor-private.h"

G_BEGIN_DECLS

/* Folds the first two dimensions: [N, V, ...] -> [N*V, ...]. */
MactTensor *mact_recognizer_fold_views      (MactTensor *imgs, const char *what,
                                             gint min_ndim, GError **error);
/* Runs the neck on features; adds loss_aux to @aux_losses when @target is given. */
GPtrArray  *mact_recognizer_run_neck        (MactRecognizer *self, GPtrArray *feats,
                                             MactTensor *target, MactTensorDict *aux_losses,
                                             GError **error);
const char *mact_recognizer_get_average_clips (MactRecognizer *self, gboolean *present);

G_END_DECLS
