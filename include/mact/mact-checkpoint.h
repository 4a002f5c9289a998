/* mact-checkpoint.h: training checkpoints (weights, optimizer state and meta). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-module.h>
#include <mact/mact-optimizer.h>

G_BEGIN_DECLS

/* A checkpoint named NAME in DIR is three files, each written atomically:
 *   NAME.safetensors        the model's state dict, PyTorch key names (a PyTorch user loads
 *                           it with safetensors.torch.load_file + load_state_dict);
 *   NAME.optim.safetensors  the optimizer state (mact_optimizer_state_dict()), if any;
 *   NAME.json               meta: mact_version, epoch, iter, seed, config, optimizer type,
 *                           the two file names, plus whatever the caller adds.
 * The JSON is written last, so a checkpoint whose JSON exists is complete.  Errors are
 * MACT_TRAIN_ERROR_IO (files, directories, JSON), MACT_TRAIN_ERROR_STATE (contents that do
 * not fit), and the safetensors reader's and writer's MACT_IO_ERROR as they come. */
MACT_AVAILABLE_IN_0_1
gboolean  mact_checkpoint_save (const char     *dir,
                                const char     *name,
                                MactModule     *model,
                                MactOptimizer  *optimizer,
                                JsonObject     *meta,
                                GError        **error);

/* Loads a checkpoint: @path is its NAME.json, or a bare NAME.safetensors (weights only, as
 * mmcv's load_checkpoint reads a .pth).  Weights go into @model (@strict as
 * mact_module_load_state_dict); optimizer state into @optimizer when both it and the file
 * exist.  Returns the meta object (an empty object for a bare weights file). */
MACT_AVAILABLE_IN_0_1
JsonObject *mact_checkpoint_load (const char     *path,
                                  MactModule     *model,
                                  gboolean        strict,
                                  MactOptimizer  *optimizer,
                                  GError        **error);

MACT_AVAILABLE_IN_0_1
gboolean  mact_checkpoint_link (const char     *dir,
                                const char     *link_name,
                                const char     *target_name,
                                GError        **error);

G_END_DECLS
