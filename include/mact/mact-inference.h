/* mact-inference.h: classifying videos, frame directories and arrays with a recognizer
 * and its config's test pipeline (mmaction2's init_recognizer / inference_recognizer). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>
#include <mact/mact-dataset.h>
#include <mact/mact-pipeline.h>
#include <mact/mact-recognizer.h>

G_BEGIN_DECLS

/**
 * MactInferenceProgressFunc:
 * @done: samples classified so far
 * @total: samples in all
 * @user_data: the data given with the function
 *
 * Called by mact_inference_classify_dataset() after each sample.
 *
 * Since: 0.1
 */
typedef void (*MactInferenceProgressFunc) (guint    done,
                                           guint    total,
                                           gpointer user_data);

#define MACT_TYPE_INFERENCE (mact_inference_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactInference, mact_inference, MACT, INFERENCE, GObject)

/* The config's test pipeline: data.test.pipeline, else test_pipeline, else
 * data.val.pipeline, else val_pipeline.  MACT_CONFIG_ERROR_MISSING_KEY when none. */
MACT_AVAILABLE_IN_0_1
JsonNode       *mact_inference_find_test_pipeline (JsonNode                  *config,
                                                   GError                   **error);

MACT_AVAILABLE_IN_0_1
MactInference  *mact_inference_new                (MactRecognizer            *recognizer,
                                                   JsonNode                  *pipeline_cfg,
                                                   GError                   **error);
/* @average_clips (nullable): NULL keeps the config's test_cfg; "prob", "score" or
 * "none" overrides it.  @weights (nullable): a checkpoint's .json or a .safetensors. */
MACT_AVAILABLE_IN_0_1
MactInference  *mact_inference_new_from_config    (JsonNode                  *config,
                                                   const char                *weights,
                                                   const char                *average_clips,
                                                   GError                   **error);
MACT_AVAILABLE_IN_0_1
MactInference  *mact_inference_new_from_files     (const char                *config_path,
                                                   const char                *weights,
                                                   const char                *average_clips,
                                                   GError                   **error);

MACT_AVAILABLE_IN_0_1
MactRecognizer *mact_inference_get_recognizer     (MactInference             *self);
MACT_AVAILABLE_IN_0_1
MactPipeline   *mact_inference_get_pipeline       (MactInference             *self);
MACT_AVAILABLE_IN_0_1
const char     *mact_inference_get_filename_tmpl  (MactInference             *self);
MACT_AVAILABLE_IN_0_1
void            mact_inference_set_filename_tmpl  (MactInference             *self,
                                                   const char                *filename_tmpl);
MACT_AVAILABLE_IN_0_1
gint            mact_inference_get_start_index    (MactInference             *self);
MACT_AVAILABLE_IN_0_1
void            mact_inference_set_start_index    (MactInference             *self,
                                                   gint                       start_index);

/* Each returns the scores of one input: [num_classes], or [views, num_classes] when
 * average_clips is "none" and the recognizer gives several rows. */
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_video     (MactInference             *self,
                                                   const char                *path,
                                                   GError                   **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_rawframes (MactInference             *self,
                                                   const char                *frame_dir,
                                                   GError                   **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_frames    (MactInference             *self,
                                                   MactTensor                *frames,
                                                   GError                   **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_tensor    (MactInference             *self,
                                                   MactTensor                *imgs,
                                                   GError                   **error);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_file      (MactInference             *self,
                                                   const char                *path,
                                                   GError                   **error);
/* All samples of @dataset in order, decoding the next sample in the loader's worker
 * while the current one runs: scores [N, num_classes] (or [N, views, num_classes]). */
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_dataset   (MactInference             *self,
                                                   MactDataset               *dataset,
                                                   MactTensor               **labels,
                                                   MactInferenceProgressFunc  progress,
                                                   gpointer                   user_data,
                                                   GCancellable              *cancellable,
                                                   GError                   **error);

/* Asynchronous variants: the work runs in a worker thread, the callback in the
 * caller's thread-default main context.  A cancelled @cancellable stops the work
 * between pipeline steps and between the recognizer's layers; the finish function then
 * fails with G_IO_ERROR_CANCELLED. */
MACT_AVAILABLE_IN_0_1
void            mact_inference_new_from_files_async   (const char          *config_path,
                                                       const char          *weights,
                                                       const char          *average_clips,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
MACT_AVAILABLE_IN_0_1
MactInference  *mact_inference_new_from_files_finish  (GAsyncResult        *result,
                                                       GError             **error);
MACT_AVAILABLE_IN_0_1
void            mact_inference_classify_file_async    (MactInference       *self,
                                                       const char          *path,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_file_finish   (MactInference       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
MACT_AVAILABLE_IN_0_1
void            mact_inference_classify_video_async   (MactInference       *self,
                                                       const char          *path,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_video_finish  (MactInference       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);
/* Emits MactInference::progress in the caller's main context after each sample. */
MACT_AVAILABLE_IN_0_1
void            mact_inference_classify_dataset_async (MactInference       *self,
                                                       MactDataset         *dataset,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_inference_classify_dataset_finish (MactInference      *self,
                                                        GAsyncResult       *result,
                                                        MactTensor        **labels,
                                                        GError            **error);

/* A label map: one class name per line, the class index being the 0-based line
 * number.  MACT_DATA_ERROR_IO / MACT_DATA_ERROR_PARSE naming the file (and line). */
MACT_AVAILABLE_IN_0_1
gchar         **mact_label_map_load               (const char                *path,
                                                   GError                   **error);

G_END_DECLS
