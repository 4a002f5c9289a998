/* mact-inference-async.c: MactInference's asynchronous entry points.
 *
 * Each runs the synchronous function in a GTask worker thread with the call's
 * cancellable made current for that thread (mact-cancel-private.h), so the pipeline
 * checks it between its steps and the recognizer between its layers.  Results, and the
 * ::progress signal of a dataset run, reach the caller's thread-default main context. */
#include <mact/mact.h>
#include "mact-cancel-private.h"

typedef struct {
  char *config_path;
  char *weights;
  char *average_clips;
} NewFromFilesData;

static void
new_from_files_data_free (gpointer data)
{
  NewFromFilesData *d = data;
  g_free (d->config_path);
  g_free (d->weights);
  g_free (d->average_clips);
  g_free (d);
}

static void
new_from_files_thread (GTask *task, gpointer source, gpointer task_data,
                       GCancellable *cancellable)
{
  NewFromFilesData *d = task_data;
  GError *error = NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  MactInference *inference = mact_inference_new_from_files (d->config_path, d->weights,
                                                            d->average_clips, &error);
  if (inference == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, inference, g_object_unref);
}

/**
 * mact_inference_new_from_files_async:
 * @config_path: (type filename): the config, as for mact_inference_new_from_files()
 * @weights: (type filename) (nullable): a checkpoint to load, or %NULL
 * @average_clips: (nullable): "prob", "score" or "none" to override the config's, or %NULL
 * @cancellable: (nullable): checked before the work starts
 * @callback: (scope async) (closure user_data): called when the inference is ready
 * @user_data: data for @callback
 *
 * Runs mact_inference_new_from_files() in a worker thread: reading the config, loading the
 * plugins and the weights do not block the caller's main loop.  @callback runs in the
 * thread-default main context of the calling thread; call
 * mact_inference_new_from_files_finish() there.
 *
 * Since: 0.1
 */
void
mact_inference_new_from_files_async (const char *config_path, const char *weights,
                                     const char *average_clips, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (config_path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  NewFromFilesData *d = g_new0 (NewFromFilesData, 1);
  d->config_path = g_strdup (config_path);
  d->weights = g_strdup (weights);
  d->average_clips = g_strdup (average_clips);
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mact_inference_new_from_files_async);
  g_task_set_task_data (task, d, new_from_files_data_free);
  g_task_run_in_thread (task, new_from_files_thread);
}

/**
 * mact_inference_new_from_files_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Ends mact_inference_new_from_files_async().
 *
 * Errors: those of mact_inference_new_from_files(); %G_IO_ERROR_CANCELLED when the
 * cancellable was cancelled.
 *
 * Returns: (transfer full) (nullable): the inference, or %NULL with @error set
 *
 * Since: 0.1
 */
MactInference *
mact_inference_new_from_files_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        mact_inference_new_from_files_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ one input */

typedef MactTensor *(*ClassifyPathFunc) (MactInference *self, const char *path,
                                         GError **error);

typedef struct {
  char             *path;
  ClassifyPathFunc  func;
} ClassifyPathData;

static void
classify_path_data_free (gpointer data)
{
  ClassifyPathData *d = data;
  g_free (d->path);
  g_free (d);
}

static void
classify_path_thread (GTask *task, gpointer source, gpointer task_data,
                      GCancellable *cancellable)
{
  ClassifyPathData *d = task_data;
  GError *error = NULL;
  MactTensor *scores = NULL;
  if (!g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      GCancellable *previous = mact_cancel_scope_begin (cancellable);
      scores = d->func (MACT_INFERENCE (source), d->path, &error);
      mact_cancel_scope_end (previous);
    }
  if (scores == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, scores, (GDestroyNotify) mact_tensor_unref);
}

static void
classify_path_async (MactInference *self, const char *path, ClassifyPathFunc func,
                     gpointer source_tag, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  ClassifyPathData *d = g_new0 (ClassifyPathData, 1);
  d->path = g_strdup (path);
  d->func = func;
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, d, classify_path_data_free);
  g_task_run_in_thread (task, classify_path_thread);
}

/**
 * mact_inference_classify_file_async:
 * @self: a #MactInference
 * @path: (type filename): a video file, a rawframe directory or a .npy array, as for
 *   mact_inference_classify_file()
 * @cancellable: (nullable): stops the work between pipeline steps and between the
 *   recognizer's layers when cancelled
 * @callback: (scope async) (closure user_data): called when the scores are ready
 * @user_data: data for @callback
 *
 * Runs mact_inference_classify_file() in a worker thread.  @callback runs in the
 * thread-default main context of the calling thread; call
 * mact_inference_classify_file_finish() there.  Several calls may be in flight at once.
 *
 * Since: 0.1
 */
void
mact_inference_classify_file_async (MactInference *self, const char *path,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_return_if_fail (MACT_IS_INFERENCE (self));
  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  classify_path_async (self, path, mact_inference_classify_file,
                       mact_inference_classify_file_async, cancellable, callback,
                       user_data);
}

/**
 * mact_inference_classify_file_finish:
 * @self: the #MactInference
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Ends mact_inference_classify_file_async().
 *
 * Errors: those of mact_inference_classify_file(); %G_IO_ERROR_CANCELLED when the
 * cancellable was cancelled.
 *
 * Returns: (transfer full) (nullable): the scores, [num_classes] (or [views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_file_finish (MactInference *self, GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        mact_inference_classify_file_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mact_inference_classify_video_async:
 * @self: a #MactInference
 * @path: (type filename): a video file any FFmpeg demuxer reads
 * @cancellable: (nullable): stops the work between pipeline steps and between the
 *   recognizer's layers when cancelled
 * @callback: (scope async) (closure user_data): called when the scores are ready
 * @user_data: data for @callback
 *
 * Runs mact_inference_classify_video() in a worker thread.  @callback runs in the
 * thread-default main context of the calling thread; call
 * mact_inference_classify_video_finish() there.
 *
 * Since: 0.1
 */
void
mact_inference_classify_video_async (MactInference *self, const char *path,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_return_if_fail (MACT_IS_INFERENCE (self));
  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  classify_path_async (self, path, mact_inference_classify_video,
                       mact_inference_classify_video_async, cancellable, callback,
                       user_data);
}

/**
 * mact_inference_classify_video_finish:
 * @self: the #MactInference
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Ends mact_inference_classify_video_async().
 *
 * Errors: those of mact_inference_classify_video(); %G_IO_ERROR_CANCELLED when the
 * cancellable was cancelled.
 *
 * Returns: (transfer full) (nullable): the scores, [num_classes] (or [views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_video_finish (MactInference *self, GAsyncResult *result,
                                      GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        mact_inference_classify_video_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ datasets */

typedef struct {
  MactTensor *scores;
  MactTensor *labels;
} DatasetResult;

static void
dataset_result_free (gpointer data)
{
  DatasetResult *r = data;
  g_clear_pointer (&r->scores, mact_tensor_unref);
  g_clear_pointer (&r->labels, mact_tensor_unref);
  g_free (r);
}

typedef struct {
  MactInference *inference;
  guint          done;
  guint          total;
} ProgressEvent;

static void
progress_event_free (gpointer data)
{
  ProgressEvent *e = data;
  g_object_unref (e->inference);
  g_free (e);
}

static gboolean
emit_progress (gpointer data)
{
  ProgressEvent *e = data;
  g_signal_emit_by_name (e->inference, "progress", e->done, e->total);
  return G_SOURCE_REMOVE;
}

/* Called on the worker thread after each sample: the signal goes out in the caller's
 * context.  Always through a source attached to that context (never
 * g_main_context_invoke, which would run it right here if the context happened to be
 * free), and at the priority GTask uses for its result, so that the events come in
 * order and all before the callback. */
static void
post_progress (guint done, guint total, gpointer user_data)
{
  GTask *task = user_data;
  ProgressEvent *e = g_new0 (ProgressEvent, 1);
  e->inference = g_object_ref (g_task_get_source_object (task));
  e->done = done;
  e->total = total;
  g_autoptr(GSource) source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, emit_progress, e, progress_event_free);
  g_source_set_static_name (source, "[mact] MactInference::progress");
  g_source_attach (source, g_task_get_context (task));
}

static void
classify_dataset_thread (GTask *task, gpointer source, gpointer task_data,
                         GCancellable *cancellable)
{
  GError *error = NULL;
  DatasetResult *r = g_new0 (DatasetResult, 1);
  GCancellable *previous = mact_cancel_scope_begin (cancellable);
  r->scores = mact_inference_classify_dataset (MACT_INFERENCE (source),
                                               MACT_DATASET (task_data), &r->labels,
                                               post_progress, task, cancellable, &error);
  mact_cancel_scope_end (previous);
  if (r->scores == NULL)
    {
      dataset_result_free (r);
      g_task_return_error (task, error);
    }
  else
    g_task_return_pointer (task, r, dataset_result_free);
}

/**
 * mact_inference_classify_dataset_async:
 * @self: a #MactInference
 * @dataset: the samples to classify, as for mact_inference_classify_dataset()
 * @cancellable: (nullable): stops the work between samples, pipeline steps and layers
 * @callback: (scope async) (closure user_data): called when all samples are classified
 * @user_data: data for @callback
 *
 * Runs mact_inference_classify_dataset() in a worker thread (mmaction2's test loop, as
 * `mact test` runs it), emitting #MactInference::progress after each sample.  The
 * signal and @callback run in the thread-default main context of the calling thread;
 * call mact_inference_classify_dataset_finish() there.
 *
 * Since: 0.1
 */
void
mact_inference_classify_dataset_async (MactInference *self, MactDataset *dataset,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MACT_IS_INFERENCE (self));
  g_return_if_fail (MACT_IS_DATASET (dataset));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mact_inference_classify_dataset_async);
  g_task_set_task_data (task, g_object_ref (dataset), g_object_unref);
  g_task_run_in_thread (task, classify_dataset_thread);
}

/**
 * mact_inference_classify_dataset_finish:
 * @self: the #MactInference
 * @result: the #GAsyncResult given to the callback
 * @labels: (out) (optional) (transfer full): the samples' labels, as for
 *   mact_inference_classify_dataset()
 * @error: return location for a #GError, or %NULL
 *
 * Ends mact_inference_classify_dataset_async().
 *
 * Errors: those of mact_inference_classify_dataset(); %G_IO_ERROR_CANCELLED when the
 * cancellable was cancelled.
 *
 * Returns: (transfer full) (nullable): scores [N, num_classes] (or [N, views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_dataset_finish (MactInference *self, GAsyncResult *result,
                                        MactTensor **labels, GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        mact_inference_classify_dataset_async, NULL);

  DatasetResult *r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return NULL;
  MactTensor *scores = g_steal_pointer (&r->scores);
  if (labels != NULL)
    *labels = g_steal_pointer (&r->labels);
  dataset_result_free (r);
  return scores;
}
