/* mact-recognizer-async.c: MactRecognizer's classification entry point and the
 * asynchronous variants of classifying and loading weights.
 *
 * Classification is the one path several threads may run at once on a single
 * recognizer: in evaluation mode forward_test only reads parameters and buffers (batch
 * norm uses its running statistics, dropout is the identity) and every intermediate
 * tensor belongs to the calling thread.  Grad mode and the current cancellable are per
 * thread too.  So applications share one recognizer, and its weights, between threads
 * instead of cloning it. */
#include "mact-recognizer-private.h"
#include "mact-cancel-private.h"

/**
 * mact_recognizer_classify:
 * @self: a recognizer in evaluation mode (mact_module_eval())
 * @imgs: a batch shaped as forward_test takes it: [N, V, C, H, W] for 2D recognizers,
 *   [N, V, C, T, H, W] for 3D ones
 * @cancellable: (nullable): stops the work before the next layer when cancelled
 * @error: return location for a #GError, or %NULL
 *
 * Runs forward_test (mmaction2's `forward(imgs, return_loss=False)`) with gradients
 * off, as inference does in `torch.no_grad()`.
 *
 * Many threads may call this at once on one recognizer; each gets exactly the scores a
 * serial call gives.  Meanwhile nothing may change the recognizer: no training, no
 * mact_recognizer_load_weights(), no mode switch, no hooks added or removed (so no
 * mact_recognizer_forward_gradcam() either).
 *
 * Errors: %MACT_RECOGNIZER_ERROR_MODE when @self is in training mode (batch norm would
 * update its statistics, so the result would depend on what else runs);
 * %G_IO_ERROR_CANCELLED when @cancellable is cancelled (checked before every layer);
 * those of mact_recognizer_forward_test().
 *
 * Returns: (transfer full) (nullable): the scores, [N, num_classes] (averaged over the
 *   views as test_cfg's average_clips says)
 *
 * Since: 0.1
 */
MactTensor *
mact_recognizer_classify (MactRecognizer *self, MactTensor *imgs, GCancellable *cancellable,
                          GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (imgs != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (mact_module_is_training (MACT_MODULE (self)))
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_MODE,
                   "%s is in training mode; classifying needs evaluation mode "
                   "(mact_module_eval)", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  MactTensor *scores = NULL;
  GCancellable *previous = mact_cancel_scope_begin (cancellable);
  MACT_NO_GRAD_BEGIN;
  scores = mact_recognizer_forward_test (self, imgs, error);
  MACT_NO_GRAD_END;
  mact_cancel_scope_end (previous);
  return scores;
}

static void
classify_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  MactTensor *scores = mact_recognizer_classify (MACT_RECOGNIZER (source), task_data,
                                                 cancellable, &error);
  if (scores == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, scores, (GDestroyNotify) mact_tensor_unref);
}

/**
 * mact_recognizer_classify_async:
 * @self: a recognizer in evaluation mode
 * @imgs: a batch, as for mact_recognizer_classify()
 * @cancellable: (nullable): stops the work before the next layer when cancelled
 * @callback: (scope async) (closure user_data): called when the scores are ready
 * @user_data: data for @callback
 *
 * Runs mact_recognizer_classify() in a worker thread.  @callback runs in the thread-default
 * main context of the calling thread; call mact_recognizer_classify_finish() there.
 * Several classifications may be in flight at once on one recognizer.
 *
 * Since: 0.1
 */
void
mact_recognizer_classify_async (MactRecognizer *self, MactTensor *imgs,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (MACT_IS_RECOGNIZER (self));
  g_return_if_fail (imgs != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mact_recognizer_classify_async);
  g_task_set_task_data (task, mact_tensor_ref (imgs), (GDestroyNotify) mact_tensor_unref);
  g_task_run_in_thread (task, classify_thread);
}

/**
 * mact_recognizer_classify_finish:
 * @self: the recognizer
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Ends mact_recognizer_classify_async().
 *
 * Errors: those of mact_recognizer_classify(); %G_IO_ERROR_CANCELLED whenever the
 * cancellable was cancelled, even if the work had already finished.
 *
 * Returns: (transfer full) (nullable): the scores, [N, num_classes]
 *
 * Since: 0.1
 */
MactTensor *
mact_recognizer_classify_finish (MactRecognizer *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        mact_recognizer_classify_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  char     *path;
  gboolean  strict;
} LoadWeightsData;

static void
load_weights_data_free (gpointer data)
{
  LoadWeightsData *d = data;
  g_free (d->path);
  g_free (d);
}

static void
load_weights_thread (GTask *task, gpointer source, gpointer task_data,
                     GCancellable *cancellable)
{
  LoadWeightsData *d = task_data;
  GError *error = NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, &error) ||
      !mact_recognizer_load_weights (MACT_RECOGNIZER (source), d->path, d->strict, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * mact_recognizer_load_weights_async:
 * @self: a recognizer
 * @path: (type filename): a checkpoint, as for mact_recognizer_load_weights()
 * @strict: as for mact_recognizer_load_weights()
 * @cancellable: (nullable): checked before reading starts; a load that has started
 *   runs to its end
 * @callback: (scope async) (closure user_data): called when the weights are loaded
 * @user_data: data for @callback
 *
 * Runs mact_recognizer_load_weights() in a worker thread, so a large checkpoint does not
 * block the caller's main loop.  @callback runs in the thread-default main context of
 * the calling thread; call mact_recognizer_load_weights_finish() there.  Do not classify
 * with @self until the load has finished.
 *
 * Since: 0.1
 */
void
mact_recognizer_load_weights_async (MactRecognizer *self, const char *path, gboolean strict,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_return_if_fail (MACT_IS_RECOGNIZER (self));
  g_return_if_fail (path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  LoadWeightsData *d = g_new0 (LoadWeightsData, 1);
  d->path = g_strdup (path);
  d->strict = strict;
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mact_recognizer_load_weights_async);
  /* Weights that did load are reported as loaded, even if the caller cancelled late. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, d, load_weights_data_free);
  g_task_run_in_thread (task, load_weights_thread);
}

/**
 * mact_recognizer_load_weights_finish:
 * @self: the recognizer
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Ends mact_recognizer_load_weights_async().
 *
 * Errors: those of mact_recognizer_load_weights(); %G_IO_ERROR_CANCELLED when the
 * cancellable was cancelled.
 *
 * Returns: %TRUE when the weights were loaded
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_load_weights_finish (MactRecognizer *self, GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        mact_recognizer_load_weights_async, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
