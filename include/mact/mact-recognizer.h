/* mact-recognizer.h: MactRecognizer, mmaction2's BaseRecognizer as a GObject. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <json-glib/json-glib.h>
#include <mact/mact-module.h>
#include <mact/mact-backbone.h>
#include <mact/mact-neck.h>
#include <mact/mact-head.h>
#include <mact/mact-blending.h>
#include <mact/mact-registry.h>

G_BEGIN_DECLS

/**
 * MACT_RECOGNIZER_ERROR:
 *
 * Error domain for recognizers.  mmaction2's KeyError, ValueError and TypeError map to
 * the codes of #MactRecognizerError.
 */
#define MACT_RECOGNIZER_ERROR (mact_recognizer_error_quark ())

/**
 * MactRecognizerError:
 * @MACT_RECOGNIZER_ERROR_KEY: a required key is missing: `average_clips` in test_cfg, an
 *   aux_info key or the images in a data batch (mmaction2's KeyError/AssertionError).
 * @MACT_RECOGNIZER_ERROR_VALUE: a value is not allowed: an `average_clips` other than
 *   "score", "prob" or null, a missing label in training, a batch size other than 1 with
 *   max_testing_views, scores whose batch does not divide (ValueError).
 * @MACT_RECOGNIZER_ERROR_TYPE: a value has the wrong type: `max_testing_views` not an
 *   integer (mmaction2 asserts), a loss that is not a tensor (TypeError).
 * @MACT_RECOGNIZER_ERROR_NO_HEAD: the operation needs a cls_head and there is none.
 * @MACT_RECOGNIZER_ERROR_NOT_IMPLEMENTED: the recognizer cannot do this (gradcam of the
 *   audio recognizer).
 * @MACT_RECOGNIZER_ERROR_MODE: the operation needs evaluation mode (mact_module_eval())
 *   and the recognizer is in training mode: mact_recognizer_classify(), which may run
 *   on several threads at once, must not update batch-norm statistics.
 *
 * Error codes in the %MACT_RECOGNIZER_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_RECOGNIZER_ERROR_KEY,
  MACT_RECOGNIZER_ERROR_VALUE,
  MACT_RECOGNIZER_ERROR_TYPE,
  MACT_RECOGNIZER_ERROR_NO_HEAD,
  MACT_RECOGNIZER_ERROR_NOT_IMPLEMENTED,
  MACT_RECOGNIZER_ERROR_MODE,
} MactRecognizerError;

MACT_AVAILABLE_IN_0_1
GQuark mact_recognizer_error_quark (void);

/**
 * MactBackboneSource:
 * @MACT_BACKBONE_SOURCE_MMACTION2: a native block (no prefix)
 * @MACT_BACKBONE_SOURCE_MMCLS: a `cls.` (`mmcls.`) block
 * @MACT_BACKBONE_SOURCE_TORCHVISION: a `tv.` (`torchvision.`) model
 *
 * Where the backbone comes from: mmaction2's `backbone_from`.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_BACKBONE_SOURCE_MMACTION2,
  MACT_BACKBONE_SOURCE_MMCLS,
  MACT_BACKBONE_SOURCE_TORCHVISION,
} MactBackboneSource;

/**
 * MactLogVarsReducer:
 * @log_vars: the log vars of one step (0-D tensors), to reduce in place
 * @user_data: data given with the reducer
 * @error: return location for a #GError
 *
 * Called by parse_losses after the local log vars are computed; the distributed runner
 * installs one that all-reduces them and divides by the world size.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
typedef gboolean (*MactLogVarsReducer) (MactTensorDict *log_vars,
                                        gpointer        user_data,
                                        GError        **error);

#define MACT_TYPE_RECOGNIZER (mact_recognizer_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactRecognizer, mact_recognizer, MACT, RECOGNIZER, MactModule)

/**
 * MactRecognizerClass:
 * @parent_class: the parent class
 * @data_key: the name of the input in a data batch: "imgs", or "audios" for audio
 * @forward_train: losses of one batch (mmaction2's forward_train)
 * @forward_test: class scores [N, K], or features with feature_extraction
 * @forward_gradcam: scores computed with grad mode on, for GradCAM
 *
 * The class structure of #MactRecognizer.
 *
 * Since: 0.1
 */
struct _MactRecognizerClass
{
  MactModuleClass parent_class;

  const char     *data_key;
  MactTensorDict *(*forward_train)   (MactRecognizer  *self,
                                      MactTensor      *imgs,
                                      MactTensor      *labels,
                                      MactTensorDict  *kwargs,
                                      GError         **error);
  MactTensor     *(*forward_test)    (MactRecognizer  *self,
                                      MactTensor      *imgs,
                                      GError         **error);
  MactTensor     *(*forward_gradcam) (MactRecognizer  *self,
                                      MactTensor      *imgs,
                                      GError         **error);

  /*< private >*/
  gpointer padding[12];
};

MACT_AVAILABLE_IN_0_1
MactRecognizer *mact_recognizer_new_from_file  (const char      *path,
                                                MactRegistry    *registry,
                                                GError         **error);
MACT_AVAILABLE_IN_0_1
MactRecognizer *mact_recognizer_new_from_data  (const char      *data,
                                                gssize           length,
                                                MactRegistry    *registry,
                                                GError         **error);
MACT_AVAILABLE_IN_0_1
MactRecognizer *mact_recognizer_new_from_json  (JsonNode        *config,
                                                MactRegistry    *registry,
                                                GError         **error);

MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_load_weights   (MactRecognizer  *self,
                                                const char      *path,
                                                gboolean         strict,
                                                GError         **error);

/* Asynchronous loading: the same in a worker thread; the callback runs in the caller's
 * thread-default main context.  Do not classify while weights load. */
MACT_AVAILABLE_IN_0_1
void            mact_recognizer_load_weights_async  (MactRecognizer      *self,
                                                     const char          *path,
                                                     gboolean             strict,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_load_weights_finish (MactRecognizer      *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);

/* Classifying: forward_test in a no-grad scope, in evaluation mode, checking
 * @cancellable before every layer.  Safe to call from many threads at once on one
 * recognizer (see the function's documentation). */
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_recognizer_classify            (MactRecognizer      *self,
                                                     MactTensor          *imgs,
                                                     GCancellable        *cancellable,
                                                     GError             **error);
MACT_AVAILABLE_IN_0_1
void            mact_recognizer_classify_async      (MactRecognizer      *self,
                                                     MactTensor          *imgs,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_recognizer_classify_finish     (MactRecognizer      *self,
                                                     GAsyncResult        *result,
                                                     GError             **error);

MACT_AVAILABLE_IN_0_1
MactBackbone   *mact_recognizer_get_backbone      (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
MactNeck       *mact_recognizer_get_neck          (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
MactHead       *mact_recognizer_get_cls_head      (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
MactBlending   *mact_recognizer_get_blending      (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
MactBackboneSource mact_recognizer_get_backbone_from (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_get_with_neck     (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_get_with_cls_head (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
const gchar * const *mact_recognizer_get_aux_info (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
gint            mact_recognizer_get_max_testing_views (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_get_feature_extraction (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
JsonNode       *mact_recognizer_get_test_cfg      (MactRecognizer *self);
MACT_AVAILABLE_IN_0_1
JsonNode       *mact_recognizer_get_train_cfg     (MactRecognizer *self);

MACT_AVAILABLE_IN_0_1
GPtrArray      *mact_recognizer_extract_feat      (MactRecognizer  *self,
                                                   MactTensor      *imgs,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_recognizer_average_clip      (MactRecognizer  *self,
                                                   MactTensor      *cls_score,
                                                   gint             num_segs,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_recognizer_forward           (MactRecognizer  *self,
                                                   MactTensorDict  *data,
                                                   gboolean         return_loss,
                                                   gboolean         gradcam,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_recognizer_forward_train     (MactRecognizer  *self,
                                                   MactTensor      *imgs,
                                                   MactTensor      *labels,
                                                   MactTensorDict  *kwargs,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_recognizer_forward_test      (MactRecognizer  *self,
                                                   MactTensor      *imgs,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_recognizer_forward_gradcam   (MactRecognizer  *self,
                                                   MactTensor      *imgs,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_parse_losses      (MactRecognizer  *self,
                                                   MactTensorDict  *losses,
                                                   MactTensor     **loss,
                                                   MactTensorDict **log_vars,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_train_step        (MactRecognizer  *self,
                                                   MactTensorDict  *data_batch,
                                                   MactTensor     **loss,
                                                   MactTensorDict **log_vars,
                                                   gint            *num_samples,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
gboolean        mact_recognizer_val_step          (MactRecognizer  *self,
                                                   MactTensorDict  *data_batch,
                                                   MactTensor     **loss,
                                                   MactTensorDict **log_vars,
                                                   gint            *num_samples,
                                                   GError         **error);
MACT_AVAILABLE_IN_0_1
void            mact_recognizer_set_log_vars_reducer (MactRecognizer    *self,
                                                      MactLogVarsReducer reducer,
                                                      gpointer           user_data,
                                                      GDestroyNotify     destroy);

#define MACT_TYPE_RECOGNIZER_2D (mact_recognizer_2d_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactRecognizer2D, mact_recognizer_2d, MACT, RECOGNIZER_2D, MactRecognizer)

#define MACT_TYPE_RECOGNIZER_3D (mact_recognizer_3d_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactRecognizer3D, mact_recognizer_3d, MACT, RECOGNIZER_3D, MactRecognizer)

#define MACT_TYPE_RECOGNIZER_AUDIO (mact_recognizer_audio_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactRecognizerAudio, mact_recognizer_audio, MACT, RECOGNIZER_AUDIO,
                      MactRecognizer)

G_END_DECLS
