/* The asynchronous and cancellable API: mact_recognizer_classify and its _async pair,
 * loading weights asynchronously, MactInference's async entry points and ::progress,
 * and MactRunner's train_async with ::progress and ::log in the caller's context.
 *
 * What is asserted: async results are exactly the synchronous ones; callbacks and
 * signals arrive on the thread that started the work (its main context), in order and
 * before the completion callback; a cancellable stops a classification at the next layer
 * (layers after it never run) and training at the next iteration; errors carry their
 * domain and code.  One tiny Recognizer3D (native ResNet3d-18, base_channels 4) keeps
 * every case fast, also under valgrind. */
#include "mact-test.h"

#include <string.h>
#include <glib/gstdio.h>

#define MODEL_JSON                                                                      \
  "\"model\": {\"type\": \"Recognizer3D\","                                           \
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"       \
  "                 \"pretrained\": null, \"pretrained2d\": false},"                   \
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 4, \"in_channels\": 32,"     \
  "                 \"dropout_ratio\": 0.0},"                                          \
  "  \"test_cfg\": {\"average_clips\": \"prob\"}}"

/* A video test pipeline: 2 clips of 4 frames, 16x16 centre crops. */
#define VIDEO_PIPELINE_JSON                                                             \
  "[{\"type\": \"DecordInit\"},"                                                       \
  " {\"type\": \"SampleFrames\", \"clip_len\": 4, \"frame_interval\": 1,"             \
  "  \"num_clips\": 2, \"test_mode\": true},"                                          \
  " {\"type\": \"DecordDecode\"},"                                                     \
  " {\"type\": \"Resize\", \"scale\": [-1, 16]},"                                      \
  " {\"type\": \"CenterCrop\", \"crop_size\": 16},"                                    \
  " {\"type\": \"Normalize\", \"mean\": [123.675, 116.28, 103.53],"                    \
  "  \"std\": [58.395, 57.12, 57.375], \"to_bgr\": false},"                            \
  " {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"},"                         \
  " {\"type\": \"Collect\", \"keys\": [\"imgs\", \"label\"], \"meta_keys\": []},"      \
  " {\"type\": \"ToTensor\", \"keys\": [\"imgs\", \"label\"]}]"

static const char *config_text = "{" MODEL_JSON ", \"test_pipeline\": " VIDEO_PIPELINE_JSON "}";

/* The thread that runs the main loop: callbacks and signals must arrive here. */
static GThread *main_thread;

static MactRecognizer *
tiny_recognizer (guint64 seed)
{
  g_autoptr(GError) error = NULL;
  mact_manual_seed (seed);
  MactRecognizer *r = mact_recognizer_new_from_data (config_text, -1, NULL, &error);
  if (r == NULL)
    fail_msg ("%s", error->message);
  mact_module_eval (MACT_MODULE (r));
  return r;
}

static MactTensor *
random_batch (guint64 seed)
{
  const gint64 shape[] = { 2, 2, 3, 4, 16, 16 };
  return mact_test_random (6, shape, seed, -2.0, 2.0);
}

static MactTensor *
forward_test_no_grad (MactRecognizer *r, MactTensor *imgs)
{
  g_autoptr(GError) error = NULL;
  MactTensor *scores;
  MACT_NO_GRAD_BEGIN;
  scores = mact_recognizer_forward_test (r, imgs, &error);
  MACT_NO_GRAD_END;
  if (scores == NULL)
    fail_msg ("%s", error->message);
  return scores;
}

/* Runs the default main context until *@flag is set (or a generous timeout). */
static void
iterate_until (gboolean *flag)
{
  const gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!*flag)
    {
      g_main_context_iteration (NULL, TRUE);
      if (g_get_monotonic_time () > deadline)
        fail_msg ("timed out waiting for an async result");
    }
}

/* ------------------------------------------------------------------ classify */

static void
test_classify_sync (void **state)
{
  g_autoptr(MactRecognizer) r = tiny_recognizer (5);
  g_autoptr(MactTensor) imgs = random_batch (1);
  g_autoptr(GError) error = NULL;

  g_autoptr(MactTensor) expected = forward_test_no_grad (r, imgs);
  g_autoptr(MactTensor) got = mact_recognizer_classify (r, imgs, NULL, &error);
  assert_null (error);
  mact_test_assert_close (got, expected, 0.0, "classify = forward_test");
  /* It records no autograd history, even with grad mode on in the caller. */
  assert_false (mact_tensor_get_requires_grad (got));

  /* A pre-cancelled cancellable stops it before any work. */
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  assert_null (mact_recognizer_classify (r, imgs, cancel, &error));
  mact_test_assert_error (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* Training mode would update batch-norm statistics: refused. */
  mact_module_train (MACT_MODULE (r), TRUE);
  assert_null (mact_recognizer_classify (r, imgs, NULL, &error));
  mact_test_assert_error (&error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_MODE);
}

typedef struct {
  GCancellable *cancel;
  guint         calls;
} HookCount;

static void
count_and_cancel (MactModule *module, GPtrArray *inputs, GPtrArray *outputs,
                  gpointer user_data)
{
  HookCount *h = user_data;
  h->calls++;
  if (h->cancel != NULL)
    g_cancellable_cancel (h->cancel);
}

/* The first layer cancels; the layers after it (the last stage) must never run. */
static void
test_classify_cancel_between_layers (void **state)
{
  g_autoptr(MactRecognizer) r = tiny_recognizer (5);
  g_autoptr(MactTensor) imgs = random_batch (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancel = g_cancellable_new ();

  MactModule *backbone = MACT_MODULE (mact_recognizer_get_backbone (r));
  MactModule *first = mact_module_get_child (backbone, "conv1");
  assert_non_null (first);
  HookCount at_first = { cancel, 0 };
  HookCount at_head = { NULL, 0 };
  gulong h1 = mact_module_add_forward_hook (first, count_and_cancel, &at_first, NULL);
  MactModule *last = mact_module_get_child (backbone, "layer4");
  assert_non_null (last);
  gulong h2 = mact_module_add_forward_hook (last, count_and_cancel, &at_head, NULL);

  assert_null (mact_recognizer_classify (r, imgs, cancel, &error));
  mact_test_assert_error (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_int_equal (at_first.calls, 1);
  assert_int_equal (at_head.calls, 0);

  /* Without a cancellable the same recognizer runs to the end, and a later call with a
   * fresh cancellable is not affected by the old one. */
  at_first.cancel = NULL;
  g_autoptr(MactTensor) full = mact_recognizer_classify (r, imgs, NULL, &error);
  assert_non_null (full);
  assert_int_equal (at_head.calls, 1);
  g_autoptr(GCancellable) fresh = g_cancellable_new ();
  g_autoptr(MactTensor) again = mact_recognizer_classify (r, imgs, fresh, &error);
  assert_non_null (again);
  mact_test_assert_close (again, full, 0.0, "after a cancelled call");

  mact_module_remove_forward_hook (first, h1);
  mact_module_remove_forward_hook (last, h2);
}

typedef struct {
  gboolean    done;
  GThread    *thread;
  MactTensor *scores;
  GError     *error;
} ClassifyResult;

static void
on_classified (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ClassifyResult *res = user_data;
  res->thread = g_thread_self ();
  res->scores = mact_recognizer_classify_finish (MACT_RECOGNIZER (source), result,
                                                 &res->error);
  res->done = TRUE;
}

static void
classify_result_clear (ClassifyResult *res)
{
  g_clear_pointer (&res->scores, mact_tensor_unref);
  g_clear_error (&res->error);
}

static void
test_classify_async (void **state)
{
  g_autoptr(MactRecognizer) r = tiny_recognizer (5);
  enum { N = 3 };
  MactTensor *imgs[N];
  ClassifyResult res[N] = { 0 };

  /* Three in flight at once on one recognizer. */
  for (guint i = 0; i < N; i++)
    {
      imgs[i] = random_batch (10 + i);
      mact_recognizer_classify_async (r, imgs[i], NULL, on_classified, &res[i]);
    }
  for (guint i = 0; i < N; i++)
    iterate_until (&res[i].done);
  for (guint i = 0; i < N; i++)
    {
      assert_null (res[i].error);
      assert_ptr_equal (res[i].thread, main_thread);
      g_autoptr(MactTensor) expected = forward_test_no_grad (r, imgs[i]);
      mact_test_assert_close (res[i].scores, expected, 0.0, "async = sync");
      classify_result_clear (&res[i]);
      mact_tensor_unref (imgs[i]);
    }

  /* Cancelled between layers from inside the worker: the callback still comes, on the
   * main thread, with CANCELLED. */
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_autoptr(MactTensor) one = random_batch (20);
  MactModule *first = mact_module_get_child (MACT_MODULE (mact_recognizer_get_backbone (r)),
                                             "conv1");
  HookCount at_first = { cancel, 0 };
  HookCount at_head = { NULL, 0 };
  MactModule *head = mact_module_get_child (MACT_MODULE (mact_recognizer_get_backbone (r)),
                                            "layer4");
  gulong h1 = mact_module_add_forward_hook (first, count_and_cancel, &at_first, NULL);
  gulong h2 = mact_module_add_forward_hook (head, count_and_cancel, &at_head, NULL);
  ClassifyResult c = { 0 };
  mact_recognizer_classify_async (r, one, cancel, on_classified, &c);
  iterate_until (&c.done);
  assert_ptr_equal (c.thread, main_thread);
  assert_null (c.scores);
  mact_test_assert_error (&c.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_int_equal (at_first.calls, 1);
  assert_int_equal (at_head.calls, 0);
  mact_module_remove_forward_hook (first, h1);
  mact_module_remove_forward_hook (head, h2);

  /* Errors of the work reach the callback with their own domain and code. */
  mact_module_train (MACT_MODULE (r), TRUE);
  ClassifyResult t = { 0 };
  mact_recognizer_classify_async (r, one, NULL, on_classified, &t);
  iterate_until (&t.done);
  mact_test_assert_error (&t.error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_MODE);
}

/* ------------------------------------------------------------------ weights */

typedef struct {
  gboolean  done;
  GThread  *thread;
  gboolean  ok;
  GError   *error;
} LoadResult;

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadResult *res = user_data;
  res->thread = g_thread_self ();
  res->ok = mact_recognizer_load_weights_finish (MACT_RECOGNIZER (source), result,
                                                 &res->error);
  res->done = TRUE;
}

static void
test_load_weights_async (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-async-XXXXXX", &error);
  assert_non_null (dir);
  g_autofree char *path = g_build_filename (dir, "weights.safetensors", NULL);
  g_autoptr(MactRecognizer) source = tiny_recognizer (5);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (source));
  assert_true (mact_safetensors_save (path, sd, NULL, &error));

  g_autoptr(MactRecognizer) target = tiny_recognizer (6);
  g_autoptr(MactTensor) imgs = random_batch (3);
  g_autoptr(MactTensor) expected = forward_test_no_grad (source, imgs);

  LoadResult res = { 0 };
  mact_recognizer_load_weights_async (target, path, TRUE, NULL, on_loaded, &res);
  iterate_until (&res.done);
  assert_null (res.error);
  assert_true (res.ok);
  assert_ptr_equal (res.thread, main_thread);
  g_autoptr(MactTensor) got = mact_recognizer_classify (target, imgs, NULL, &error);
  mact_test_assert_close (got, expected, 0.0, "after load_weights_async");

  /* A missing file: the loader's own error. */
  g_autofree char *missing = g_build_filename (dir, "missing.safetensors", NULL);
  LoadResult bad = { 0 };
  mact_recognizer_load_weights_async (target, missing, TRUE, NULL, on_loaded, &bad);
  iterate_until (&bad.done);
  assert_false (bad.ok);
  mact_test_assert_error (&bad.error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);

  /* Cancelled before it starts. */
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  LoadResult cancelled = { 0 };
  mact_recognizer_load_weights_async (target, path, TRUE, cancel, on_loaded, &cancelled);
  iterate_until (&cancelled.done);
  assert_false (cancelled.ok);
  mact_test_assert_error (&cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  mact_test_remove_tree (dir);
}

/* ------------------------------------------------------------------ inference */

typedef struct {
  gboolean       done;
  GThread       *thread;
  MactInference *inference;
  MactTensor    *scores;
  MactTensor    *labels;
  GError        *error;
  /* ::progress */
  guint          events;
  guint          last_done;
  guint          total;
  gboolean       in_order;
  gboolean       after_done;   /* an event came after the completion callback */
  GCancellable  *cancel_at_first;
} InferenceResult;

static void
inference_result_clear (InferenceResult *res)
{
  g_clear_object (&res->inference);
  g_clear_pointer (&res->scores, mact_tensor_unref);
  g_clear_pointer (&res->labels, mact_tensor_unref);
  g_clear_error (&res->error);
}

static void
on_inference_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  InferenceResult *res = user_data;
  res->thread = g_thread_self ();
  res->inference = mact_inference_new_from_files_finish (result, &res->error);
  res->done = TRUE;
}

static void
on_file_classified (GObject *source, GAsyncResult *result, gpointer user_data)
{
  InferenceResult *res = user_data;
  res->thread = g_thread_self ();
  res->scores = mact_inference_classify_file_finish (MACT_INFERENCE (source), result,
                                                     &res->error);
  res->done = TRUE;
}

static void
on_video_classified (GObject *source, GAsyncResult *result, gpointer user_data)
{
  InferenceResult *res = user_data;
  res->thread = g_thread_self ();
  res->scores = mact_inference_classify_video_finish (MACT_INFERENCE (source), result,
                                                      &res->error);
  res->done = TRUE;
}

static void
on_dataset_classified (GObject *source, GAsyncResult *result, gpointer user_data)
{
  InferenceResult *res = user_data;
  res->thread = g_thread_self ();
  res->scores = mact_inference_classify_dataset_finish (MACT_INFERENCE (source), result,
                                                        &res->labels, &res->error);
  res->done = TRUE;
}

static void
on_progress (MactInference *inference, guint done, guint total, InferenceResult *res)
{
  if (g_thread_self () != main_thread || res->done)
    res->after_done = TRUE;
  if (done != res->last_done + 1)
    res->in_order = FALSE;
  res->events++;
  res->last_done = done;
  res->total = total;
  if (res->cancel_at_first != NULL)
    g_cancellable_cancel (res->cancel_at_first);
}

static void
test_inference_async (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-async-XXXXXX", &error);
  assert_non_null (dir);
  g_autofree char *config_path = g_build_filename (dir, "config.json", NULL);
  assert_true (g_file_set_contents (config_path, config_text, -1, &error));
  g_autofree char *weights = g_build_filename (dir, "weights.safetensors", NULL);
  g_autoptr(MactRecognizer) source = tiny_recognizer (5);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (source));
  assert_true (mact_safetensors_save (weights, sd, NULL, &error));
  g_autofree char *video = mact_test_write_bar_clip (dir, "clip.avi", 12, 50.0f, 2, 0);

  /* Built in a worker from the files. */
  InferenceResult made = { 0 };
  mact_inference_new_from_files_async (config_path, weights, NULL, NULL, on_inference_ready,
                                       &made);
  iterate_until (&made.done);
  if (made.inference == NULL)
    fail_msg ("%s", made.error->message);
  assert_ptr_equal (made.thread, main_thread);
  MactInference *inf = made.inference;
  g_autoptr(MactTensor) expected = mact_inference_classify_video (inf, video, &error);
  assert_non_null (expected);

  InferenceResult by_video = { 0 };
  mact_inference_classify_video_async (inf, video, NULL, on_video_classified, &by_video);
  InferenceResult by_file = { 0 };
  mact_inference_classify_file_async (inf, video, NULL, on_file_classified, &by_file);
  iterate_until (&by_video.done);
  iterate_until (&by_file.done);
  assert_null (by_video.error);
  assert_null (by_file.error);
  assert_ptr_equal (by_video.thread, main_thread);
  mact_test_assert_close (by_video.scores, expected, 0.0, "classify_video_async");
  mact_test_assert_close (by_file.scores, expected, 0.0, "classify_file_async");

  /* Errors keep their domain and code; cancelling gives CANCELLED. */
  g_autofree char *missing = g_build_filename (dir, "missing.mp4", NULL);
  InferenceResult gone = { 0 };
  mact_inference_classify_file_async (inf, missing, NULL, on_file_classified, &gone);
  iterate_until (&gone.done);
  mact_test_assert_error (&gone.error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  InferenceResult cancelled = { 0 };
  mact_inference_classify_video_async (inf, video, cancel, on_video_classified, &cancelled);
  iterate_until (&cancelled.done);
  mact_test_assert_error (&cancelled.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_autofree char *bad_config = g_build_filename (dir, "missing.json", NULL);
  InferenceResult bad = { 0 };
  mact_inference_new_from_files_async (bad_config, NULL, NULL, NULL, on_inference_ready, &bad);
  iterate_until (&bad.done);
  assert_null (bad.inference);
  mact_test_assert_error (&bad.error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  inference_result_clear (&by_video);
  inference_result_clear (&by_file);
  inference_result_clear (&made);
  mact_test_remove_tree (dir);
}

/* A synthetic val set shaped as the tiny recognizer's input (one NCTHW clip each). */
static MactDataset *
tiny_dataset (guint n)
{
  g_autofree char *text = g_strdup_printf (
    "{\"type\": \"SyntheticActionDataset\", \"num_classes\": 4, \"num_samples\": %u,"
    " \"split\": \"val\", \"seed\": 3, \"clip_len\": 4, \"num_clips\": 1, \"height\": 16,"
    " \"width\": 16, \"noise\": 0.02, \"clutter\": 0, \"input_format\": \"NCTHW\"}", n);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = mact_config_load_data (text, -1, &error);
  assert_non_null (cfg);
  MactDataset *ds = mact_dataset_new_from_config (cfg, &error);
  if (ds == NULL)
    fail_msg ("%s", error->message);
  return ds;
}

static void
test_classify_dataset_async (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) r = tiny_recognizer (5);
  g_autoptr(MactInference) inf = mact_inference_new (r, NULL, &error);
  assert_non_null (inf);
  g_autoptr(MactDataset) ds = tiny_dataset (5);

  g_autoptr(MactTensor) want_labels = NULL;
  g_autoptr(MactTensor) want = mact_inference_classify_dataset (inf, ds, &want_labels, NULL,
                                                               NULL, NULL, &error);
  assert_non_null (want);

  InferenceResult res = { .in_order = TRUE };
  gulong id = g_signal_connect (inf, "progress", G_CALLBACK (on_progress), &res);
  mact_inference_classify_dataset_async (inf, ds, NULL, on_dataset_classified, &res);
  iterate_until (&res.done);
  assert_null (res.error);
  assert_ptr_equal (res.thread, main_thread);
  mact_test_assert_close (res.scores, want, 0.0, "dataset scores");
  mact_test_assert_close (res.labels, want_labels, 0.0, "dataset labels");
  /* One event per sample, 1..5 in order, all on the main thread before the callback. */
  assert_int_equal (res.events, 5);
  assert_int_equal (res.total, 5);
  assert_true (res.in_order);
  assert_false (res.after_done);
  /* Nothing is left queued after the callback. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  assert_int_equal (res.events, 5);
  inference_result_clear (&res);

  /* Cancelled from the first ::progress handler: the run ends with CANCELLED. */
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  InferenceResult stopped = { .in_order = TRUE, .cancel_at_first = cancel };
  g_signal_handler_disconnect (inf, id);
  g_signal_connect (inf, "progress", G_CALLBACK (on_progress), &stopped);
  mact_inference_classify_dataset_async (inf, ds, cancel, on_dataset_classified, &stopped);
  iterate_until (&stopped.done);
  mact_test_assert_error (&stopped.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_true (stopped.events >= 1);
  inference_result_clear (&stopped);
}

/* ------------------------------------------------------------------ training */

#define TRAIN_CONFIG                                                                    \
  "{" MODEL_JSON ","                                                                    \
  " \"data\": {\"videos_per_gpu\": 2, \"workers_per_gpu\": 0,"                         \
  "   \"train\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 4,"            \
  "               \"num_samples\": %u, \"split\": \"train\", \"seed\": 3,"              \
  "               \"clip_len\": 4, \"num_clips\": 1, \"height\": 16, \"width\": 16,"    \
  "               \"noise\": 0.02, \"clutter\": 0, \"input_format\": \"NCTHW\"}},"     \
  " \"optimizer\": {\"type\": \"SGD\", \"lr\": 0.01, \"momentum\": 0.9},"               \
  " \"lr_config\": {\"policy\": \"fixed\"},"                                           \
  " \"total_epochs\": %u,"                                                              \
  " \"checkpoint_config\": {\"interval\": 100},"                                       \
  " \"log_config\": {\"interval\": 2},"                                                \
  " \"work_dir\": \"%s\", \"seed\": 1}"

static MactRunner *
tiny_runner (const char *work_dir, guint samples, guint epochs)
{
  g_autofree char *text = g_strdup_printf (TRAIN_CONFIG, samples, epochs, work_dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = mact_config_load_data (text, -1, &error);
  assert_non_null (cfg);
  MactRunner *runner = mact_runner_new (cfg, &error);
  if (runner == NULL)
    fail_msg ("%s", error->message);
  return runner;
}

typedef struct {
  gboolean      done;
  GThread      *thread;
  gboolean      ok;
  GError       *error;
  guint         progress_events;
  guint         log_events;
  guint64       last_iter;
  guint64       max_iters;
  gboolean      in_order;
  gboolean      off_thread;     /* a signal came on another thread or after the end */
  guint64       cancel_at;      /* cancel when ::progress reports this iteration */
  GCancellable *cancel;
} TrainResult;

static void
on_trained (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TrainResult *res = user_data;
  res->thread = g_thread_self ();
  res->ok = mact_runner_train_finish (MACT_RUNNER (source), result, &res->error);
  res->done = TRUE;
}

static void
on_train_progress (MactRunner *runner, guint64 iter, guint64 max_iters, TrainResult *res)
{
  if (g_thread_self () != main_thread || res->done)
    res->off_thread = TRUE;
  if (iter != res->last_iter + 1)
    res->in_order = FALSE;
  res->progress_events++;
  res->last_iter = iter;
  res->max_iters = max_iters;
  if (res->cancel != NULL && iter == res->cancel_at)
    g_cancellable_cancel (res->cancel);
}

static void
on_train_log (MactRunner *runner, JsonObject *entry, TrainResult *res)
{
  if (g_thread_self () != main_thread || res->done)
    res->off_thread = TRUE;
  res->log_events++;
}

static void
test_train_async (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-async-XXXXXX", &error);
  assert_non_null (dir);

  /* 8 samples, batch 2, 2 epochs: 8 iterations, a log entry every 2. */
  g_autoptr(MactRunner) runner = tiny_runner (dir, 8, 2);
  TrainResult res = { .in_order = TRUE };
  g_signal_connect (runner, "progress", G_CALLBACK (on_train_progress), &res);
  g_signal_connect (runner, "log", G_CALLBACK (on_train_log), &res);
  mact_runner_train_async (runner, NULL, on_trained, &res);
  iterate_until (&res.done);
  if (!res.ok)
    fail_msg ("%s", res.error->message);
  assert_ptr_equal (res.thread, main_thread);
  assert_int_equal (res.progress_events, 8);
  assert_int_equal (res.max_iters, 8);
  assert_true (res.in_order);
  assert_int_equal (res.log_events, 4);
  assert_false (res.off_thread);
  assert_int_equal (mact_runner_get_iter (runner), 8);
  mact_test_remove_tree (dir);
}

/* Synchronously, ::progress comes on the training thread, and cancelling from it stops
 * training before the next iteration: exactly at the iteration it was cancelled in. */
static void
test_train_cancel (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-async-XXXXXX", &error);
  assert_non_null (dir);
  g_autoptr(GCancellable) cancel = g_cancellable_new ();

  g_autoptr(MactRunner) runner = tiny_runner (dir, 8, 2);
  TrainResult res = { .in_order = TRUE, .cancel_at = 3, .cancel = cancel };
  g_signal_connect (runner, "progress", G_CALLBACK (on_train_progress), &res);
  assert_false (mact_runner_train (runner, cancel, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_CANCELLED);
  assert_int_equal (mact_runner_get_iter (runner), 3);
  assert_int_equal (res.progress_events, 3);
  mact_test_remove_tree (dir);

  /* Asynchronously: the cancel comes from the main thread while the worker trains a
   * long run (400 iterations), so it stops well before the end. */
  g_autofree char *dir2 = g_dir_make_tmp ("mact-async-XXXXXX", &error);
  g_autoptr(GCancellable) cancel2 = g_cancellable_new ();
  g_autoptr(MactRunner) long_run = tiny_runner (dir2, 400, 2);
  TrainResult ares = { .in_order = TRUE, .cancel_at = 2, .cancel = cancel2 };
  g_signal_connect (long_run, "progress", G_CALLBACK (on_train_progress), &ares);
  mact_runner_train_async (long_run, cancel2, on_trained, &ares);
  iterate_until (&ares.done);
  assert_false (ares.ok);
  mact_test_assert_error (&ares.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  assert_true (mact_runner_get_iter (long_run) < 400);
  assert_false (ares.off_thread);
  mact_test_remove_tree (dir2);
}

int
main (void)
{
  mact_test_init ();
  main_thread = g_thread_self ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_classify_sync),
    cmocka_unit_test (test_classify_cancel_between_layers),
    cmocka_unit_test (test_classify_async),
    cmocka_unit_test (test_load_weights_async),
    cmocka_unit_test (test_inference_async),
    cmocka_unit_test (test_classify_dataset_async),
    cmocka_unit_test (test_train_async),
    cmocka_unit_test (test_train_cancel),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
