/* mact-module.h: MactModule, the GObject base of every block (PyTorch's nn.Module). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <gio/gio.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>
#include <mact/mact-tensor-dict.h>
#include <mact/mact-generator.h>

G_BEGIN_DECLS

/**
 * MACT_MODULE_ERROR:
 *
 * Error domain for module structure and forward calls.  Errors in this domain are from
 * the #MactModuleError enumeration.
 */
#define MACT_MODULE_ERROR (mact_module_error_quark ())

/**
 * MactModuleError:
 * @MACT_MODULE_ERROR_NO_SUCH_CHILD: a child or parameter name does not exist.
 * @MACT_MODULE_ERROR_INVALID_INPUT: a forward call got the wrong number or shape of inputs.
 * @MACT_MODULE_ERROR_INVALID_ARGUMENT: a constructor argument (property) is invalid; the
 *   message names the block and the argument.
 * @MACT_MODULE_ERROR_NOT_IMPLEMENTED: the module does not implement the operation.
 * @MACT_MODULE_ERROR_STATE_DICT: a state dict does not fit the module: missing or
 *   unexpected keys (strict mode) or shape mismatches; the message lists them by name.
 *
 * Error codes in the %MACT_MODULE_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_MODULE_ERROR_NO_SUCH_CHILD,
  MACT_MODULE_ERROR_INVALID_INPUT,
  MACT_MODULE_ERROR_INVALID_ARGUMENT,
  MACT_MODULE_ERROR_NOT_IMPLEMENTED,
  MACT_MODULE_ERROR_STATE_DICT,
} MactModuleError;

MACT_AVAILABLE_IN_0_1
GQuark mact_module_error_quark (void);

/**
 * MACT_PARAM_REQUIRED:
 *
 * A #GParamFlags bit for block properties that a config must give (mmaction2's
 * constructor arguments without a default).  The config builder reports a missing one
 * as %MACT_CONFIG_ERROR_MISSING_KEY.
 */
#define MACT_PARAM_REQUIRED (1 << G_PARAM_USER_SHIFT)

#define MACT_TYPE_MODULE (mact_module_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactModule, mact_module, MACT, MODULE, GObject)

/**
 * MactModuleClass:
 * @parent_class: the parent class
 * @build: called once after construction (through #GInitable) with all construct
 *   properties set: validate them and create parameters, buffers and children.  Chain up
 *   first.
 * @forward: computes outputs from inputs.  Both arrays hold #MactTensor; the result is a
 *   new array (a tuple when it has several entries) that owns a reference to each
 *   tensor (free function mact_tensor_unref()).  Call children through
 *   mact_module_forward() so their hooks run.
 * @init_weights: initialises (again) the parameters; the default calls it on every child.
 * @set_training: switches train/eval mode; the default sets the flag on this module and
 *   every child.  Override to keep parts frozen (norm_eval).
 *
 * The class structure of #MactModule.
 *
 * Since: 0.1
 */
struct _MactModuleClass
{
  GObjectClass parent_class;

  gboolean   (*build)        (MactModule     *self,
                              GError        **error);
  GPtrArray *(*forward)      (MactModule     *self,
                              GPtrArray      *inputs,
                              GError        **error);
  gboolean   (*init_weights) (MactModule     *self,
                              MactGenerator  *generator,
                              GError        **error);
  void       (*set_training) (MactModule     *self,
                              gboolean        training);

  /*< private >*/
  gpointer padding[12];
};

/**
 * MactForwardHook:
 * @module: the module that ran
 * @inputs: (element-type MactTensor): its inputs
 * @outputs: (element-type MactTensor): its outputs
 * @user_data: data given when the hook was added
 *
 * Called after a module's forward, as PyTorch's forward hooks (GradCAM uses one to grab a
 * layer's activation).
 *
 * Since: 0.1
 */
typedef void (*MactForwardHook) (MactModule *module,
                                 GPtrArray  *inputs,
                                 GPtrArray  *outputs,
                                 gpointer    user_data);

MACT_AVAILABLE_IN_0_1
MactModule *mact_module_new_with_properties (GType          type,
                                             guint          n_properties,
                                             const char   **names,
                                             const GValue  *values,
                                             GError       **error);
MACT_AVAILABLE_IN_0_1
MactModule *mact_module_new                 (GType          type,
                                             GError       **error,
                                             const char    *first_property_name,
                                             ...);

/* structure, for subclasses building themselves */
MACT_AVAILABLE_IN_0_1
void         mact_module_register_parameter (MactModule    *self,
                                             const char    *name,
                                             MactTensor    *parameter);
MACT_AVAILABLE_IN_0_1
void         mact_module_register_buffer    (MactModule    *self,
                                             const char    *name,
                                             MactTensor    *buffer);
MACT_AVAILABLE_IN_0_1
void         mact_module_add_child          (MactModule    *self,
                                             const char    *name,
                                             MactModule    *child);
MACT_AVAILABLE_IN_0_1
gboolean     mact_module_replace_child      (MactModule    *self,
                                             const char    *name,
                                             MactModule    *child,
                                             GError       **error);
MACT_AVAILABLE_IN_0_1
gboolean     mact_module_set_parameter      (MactModule    *self,
                                             const char    *name,
                                             MactTensor    *parameter,
                                             GError       **error);

/* lookup */
MACT_AVAILABLE_IN_0_1
MactModule  *mact_module_get_child          (MactModule    *self,
                                             const char    *name);
MACT_AVAILABLE_IN_0_1
MactModule  *mact_module_get_submodule      (MactModule    *self,
                                             const char    *path,
                                             GError       **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_module_get_parameter      (MactModule    *self,
                                             const char    *name);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_module_get_buffer         (MactModule    *self,
                                             const char    *name);
MACT_AVAILABLE_IN_0_1
gchar      **mact_module_list_children      (MactModule    *self);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_module_state_dict      (MactModule    *self);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_module_named_parameters (MactModule   *self);
MACT_AVAILABLE_IN_0_1
gboolean     mact_module_load_state_dict    (MactModule     *self,
                                             MactTensorDict *state_dict,
                                             gboolean        strict,
                                             gchar        ***missing_keys,
                                             gchar        ***unexpected_keys,
                                             GError        **error);
MACT_AVAILABLE_IN_0_1
GPtrArray   *mact_module_parameters         (MactModule    *self);
MACT_AVAILABLE_IN_0_1
void         mact_module_zero_grad          (MactModule    *self);

/* mode and initialisation */
MACT_AVAILABLE_IN_0_1
gboolean     mact_module_is_training        (MactModule    *self);
MACT_AVAILABLE_IN_0_1
void         mact_module_train              (MactModule    *self,
                                             gboolean       training);
MACT_AVAILABLE_IN_0_1
void         mact_module_eval               (MactModule    *self);
MACT_AVAILABLE_IN_0_1
gboolean     mact_module_init_weights       (MactModule    *self,
                                             MactGenerator *generator,
                                             GError       **error);

/* forward */
MACT_AVAILABLE_IN_0_1
GPtrArray   *mact_module_forward            (MactModule    *self,
                                             GPtrArray     *inputs,
                                             GError       **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_module_forward1           (MactModule    *self,
                                             MactTensor    *input,
                                             GError       **error);
MACT_AVAILABLE_IN_0_1
gulong       mact_module_add_forward_hook   (MactModule    *self,
                                             MactForwardHook hook,
                                             gpointer       user_data,
                                             GDestroyNotify destroy);
MACT_AVAILABLE_IN_0_1
void         mact_module_remove_forward_hook (MactModule   *self,
                                              gulong        hook_id);

/* helpers for property-driven blocks */
MACT_AVAILABLE_IN_0_1
GVariant    *mact_int_tuple_new             (guint          n,
                                             const gint64  *values);
MACT_AVAILABLE_IN_0_1
gboolean     mact_int_tuple_get             (GVariant      *tuple,
                                             guint          n_expected,
                                             gint          *out,
                                             const char    *what,
                                             GError       **error);

G_END_DECLS
