/* mact-optimizer.h: optimizers (SGD, Adam, AdamW), parameter groups and gradient clipping. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>
#include <mact/mact-tensor-dict.h>
#include <mact/mact-module.h>

G_BEGIN_DECLS

/**
 * MACT_TRAIN_ERROR:
 *
 * Error domain for optimizers, learning-rate schedules, checkpoints and the runner.
 * Errors in this domain are from the #MactTrainError enumeration.
 */
#define MACT_TRAIN_ERROR (mact_train_error_quark ())

/**
 * MactTrainError:
 * @MACT_TRAIN_ERROR_INVALID_CONFIG: an `optimizer`, `optimizer_config`, `lr_config`, runner
 *   or checkpoint key is missing, has the wrong type or an out-of-range value, or names an
 *   unknown type.
 * @MACT_TRAIN_ERROR_STATE: saved optimizer or runner state does not fit the model (unknown
 *   parameter, wrong shape, wrong optimizer type).
 * @MACT_TRAIN_ERROR_NON_FINITE: a loss or gradient norm is NaN or infinite.
 * @MACT_TRAIN_ERROR_IO: a checkpoint, log or work directory cannot be read or written.
 * @MACT_TRAIN_ERROR_CANCELLED: training was cancelled.
 * @MACT_TRAIN_ERROR_DISTRIBUTED: an MPI call failed, MPI is not initialised, or libmact
 *   was built without MPI.
 * @MACT_TRAIN_ERROR_TIMEOUT: a collective did not complete within the distributed
 *   timeout (another rank died or hangs).
 *
 * Error codes in the %MACT_TRAIN_ERROR domain.  Values are only ever appended.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_TRAIN_ERROR_INVALID_CONFIG,
  MACT_TRAIN_ERROR_STATE,
  MACT_TRAIN_ERROR_NON_FINITE,
  MACT_TRAIN_ERROR_IO,
  MACT_TRAIN_ERROR_CANCELLED,
  MACT_TRAIN_ERROR_DISTRIBUTED,
  MACT_TRAIN_ERROR_TIMEOUT,
} MactTrainError;

MACT_AVAILABLE_IN_0_1
GQuark mact_train_error_quark (void);

#define MACT_TYPE_OPTIMIZER (mact_optimizer_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactOptimizer, mact_optimizer, MACT, OPTIMIZER, GObject)

/**
 * MactOptimizerClass:
 * @parent_class: the parent class
 * @update: updates the parameters of group @group_index in place from their `.grad`, using
 *   the group's hyper-parameters (mact_optimizer_get_group_option()).  Parameters without a
 *   gradient are skipped, as PyTorch does.  Per-parameter state is kept with
 *   mact_optimizer_get_state() under the parameter's name.
 * @state_names: the names of the per-parameter state tensors this optimizer keeps (e.g.
 *   "momentum_buffer"; "exp_avg", "exp_avg_sq"), NULL-terminated.
 *
 * The virtual table of #MactOptimizer.  Subclasses implement one update rule.
 *
 * Since: 0.1
 */
struct _MactOptimizerClass
{
  GObjectClass parent_class;

  gboolean (*update) (MactOptimizer *self,
                      guint          group_index,
                      GError       **error);
  const char * const *state_names;

  /*< private >*/
  gpointer padding[8];
};

/* Building: mmcv's DefaultOptimizerConstructor.  @optimizer_cfg is mmaction2's
 * `optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4,
 * paramwise_cfg=dict(...))`; type is "SGD", "Adam" or "AdamW"; the remaining keys are the
 * PyTorch constructor's (SGD: lr, momentum, dampening, weight_decay, nesterov; Adam/AdamW:
 * lr, betas, eps, weight_decay, amsgrad).  paramwise_cfg keys: bias_lr_mult,
 * bias_decay_mult, norm_decay_mult, dwconv_decay_mult, custom_keys {substring: {lr_mult,
 * decay_mult}}; each parameter with a distinct (lr, weight_decay) pair is its own group, in
 * named_parameters order.  Parameters with requires_grad FALSE (frozen stages) are left
 * out entirely. */
MACT_AVAILABLE_IN_0_1
MactOptimizer *mact_optimizer_new_from_config   (MactModule    *model,
                                                 JsonNode      *optimizer_cfg,
                                                 GError       **error);

MACT_AVAILABLE_IN_0_1
gboolean     mact_optimizer_step                (MactOptimizer *self,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
void         mact_optimizer_zero_grad           (MactOptimizer *self);

/* Groups.  Options are the per-group hyper-parameters by PyTorch's names ("lr",
 * "momentum", "weight_decay", "beta1", "beta2", "eps", ...); "initial_lr" is the lr the
 * group was built with, which schedules scale. */
MACT_AVAILABLE_IN_0_1
guint        mact_optimizer_get_n_groups        (MactOptimizer *self);
MACT_AVAILABLE_IN_0_1
GPtrArray   *mact_optimizer_get_group_params    (MactOptimizer *self,
                                                 guint          group_index);
MACT_AVAILABLE_IN_0_1
const char * const *mact_optimizer_get_group_param_names (MactOptimizer *self,
                                                          guint          group_index);
MACT_AVAILABLE_IN_0_1
double       mact_optimizer_get_group_option    (MactOptimizer *self,
                                                 guint          group_index,
                                                 const char    *option);
MACT_AVAILABLE_IN_0_1
void         mact_optimizer_set_group_option    (MactOptimizer *self,
                                                 guint          group_index,
                                                 const char    *option,
                                                 double         value);
MACT_AVAILABLE_IN_0_1
double       mact_optimizer_get_lr              (MactOptimizer *self);
MACT_AVAILABLE_IN_0_1
GPtrArray   *mact_optimizer_get_params          (MactOptimizer *self);

/* For subclasses: per-parameter state, created zero-filled with the parameter's shape on
 * first use.  @created is set TRUE when it was just created. */
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_optimizer_get_state           (MactOptimizer *self,
                                                 const char    *param_name,
                                                 const char    *state_name,
                                                 gboolean      *created,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
gint64       mact_optimizer_get_step_count      (MactOptimizer *self,
                                                 const char    *param_name);
MACT_AVAILABLE_IN_0_1
void         mact_optimizer_set_step_count      (MactOptimizer *self,
                                                 const char    *param_name,
                                                 gint64         step);

/* State for checkpoints: tensors keyed "state.<param name>.<state name>" and
 * "state.<param name>.step" (a one-element tensor), plus "param_groups.<i>.<option>"
 * one-element tensors (the value rounded to float, for reading) and
 * "param_groups.<i>.<option>.f64" (the exact double as four 16-bit integers), so resume
 * restores lr and momentum buffers exactly. */
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_optimizer_state_dict       (MactOptimizer *self);
MACT_AVAILABLE_IN_0_1
gboolean     mact_optimizer_load_state_dict     (MactOptimizer  *self,
                                                 MactTensorDict *state,
                                                 GError        **error);

/* torch.nn.utils.clip_grad_norm_: the total norm of all gradients of @params
 * (element-type MactTensor; parameters without a gradient are ignored) taken as one
 * vector; when max_norm / (norm + 1e-6) < 1 the gradients are scaled by it.
 * @norm_type is a p >= 1 or INFINITY.  Returns the total norm before clipping in
 * @total_norm; a non-finite norm is MACT_TRAIN_ERROR_NON_FINITE (gradients untouched). */
MACT_AVAILABLE_IN_0_1
gboolean     mact_clip_grad_norm                (GPtrArray     *params,
                                                 double         max_norm,
                                                 double         norm_type,
                                                 double        *total_norm,
                                                 GError       **error);

#define MACT_TYPE_SGD (mact_sgd_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactSGD, mact_sgd, MACT, SGD, MactOptimizer)

#define MACT_TYPE_ADAM (mact_adam_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactAdam, mact_adam, MACT, ADAM, MactOptimizer)

struct _MactAdamClass
{
  MactOptimizerClass parent_class;
  /* TRUE: weight decay is decoupled (AdamW); FALSE: added to the gradient (Adam). */
  gboolean decoupled_weight_decay;
  /*< private >*/
  gpointer padding[4];
};

#define MACT_TYPE_ADAMW (mact_adamw_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactAdamW, mact_adamw, MACT, ADAMW, MactAdam)

G_END_DECLS
