/* Many threads classifying with one shared recognizer (and one shared MactInference).
 *
 * mact_recognizer_classify() promises that threads may share a recognizer in evaluation
 * mode, each getting exactly the serial result: no cloning, the weights exist once.
 * The stress: 8 threads x 50 clips on one recognizer, each thread walking the clips in a
 * different order so that different inputs are in flight at once, every result compared
 * bit for bit with the serial one.  Two models with different plugins and layer kinds
 * (a 3D ResNet with batch norm, a 2D MobileNetV2 TSN with depthwise convolutions and
 * segment consensus), and the whole video path (decode, pipeline, recognizer) through
 * one MactInference from 8 threads.
 *
 * Under valgrind (MACT_TEST_UNDER_VALGRIND) the same runs with 8 threads x 3 clips: the
 * point there is memory errors, and valgrind serialises the threads anyway. */
#include "mact-test.h"

#include <string.h>

#define N_THREADS 8

static guint
clips_per_thread (void)
{
  return g_getenv ("MACT_TEST_UNDER_VALGRIND") != NULL ? 3 : 50;
}

static const char *config_3d =
  "{\"model\": {\"type\": \"Recognizer3D\","
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"
  "                 \"pretrained\": null, \"pretrained2d\": false},"
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 5, \"in_channels\": 32,"
  "                 \"dropout_ratio\": 0.5},"
  "  \"test_cfg\": {\"average_clips\": \"prob\"}},"
  " \"test_pipeline\": ["
  "  {\"type\": \"DecordInit\"},"
  "  {\"type\": \"SampleFrames\", \"clip_len\": 4, \"frame_interval\": 2, \"num_clips\": 2,"
  "   \"test_mode\": true},"
  "  {\"type\": \"DecordDecode\"},"
  "  {\"type\": \"Resize\", \"scale\": [-1, 16]},"
  "  {\"type\": \"CenterCrop\", \"crop_size\": 16},"
  "  {\"type\": \"Normalize\", \"mean\": [123.675, 116.28, 103.53],"
  "   \"std\": [58.395, 57.12, 57.375], \"to_bgr\": false},"
  "  {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"},"
  "  {\"type\": \"Collect\", \"keys\": [\"imgs\", \"label\"], \"meta_keys\": []},"
  "  {\"type\": \"ToTensor\", \"keys\": [\"imgs\", \"label\"]}]}";

static const char *config_2d =
  "{\"model\": {\"type\": \"Recognizer2D\","
  "  \"backbone\": {\"type\": \"MobileNetV2\", \"widen_factor\": 0.25},"
  "  \"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 5, \"in_channels\": 1280,"
  "                 \"spatial_type\": \"avg\","
  "                 \"consensus\": {\"type\": \"AvgConsensus\", \"dim\": 1},"
  "                 \"dropout_ratio\": 0.4, \"init_std\": 0.01},"
  "  \"test_cfg\": {\"average_clips\": \"score\"}}}";

typedef struct {
  MactRecognizer *recognizer;
  MactInference  *inference;   /* for the video path */
  GPtrArray      *inputs;      /* MactTensor batches, or video paths (char *) */
  GPtrArray      *expected;    /* MactTensor, the serial results */
  guint           n_clips;
  guint           offset;      /* this thread's starting clip */
  guint           mismatches;
  guint           failures;
  char           *first_failure;
} Worker;

static gboolean
bitwise_equal (MactTensor *a, MactTensor *b)
{
  gint nda, ndb;
  const gint64 *sa = mact_tensor_get_shape (a, &nda);
  const gint64 *sb = mact_tensor_get_shape (b, &ndb);
  if (nda != ndb || memcmp (sa, sb, nda * sizeof (gint64)) != 0)
    return FALSE;
  g_autoptr(MactTensor) ca = mact_tensor_contiguous (a);
  g_autoptr(MactTensor) cb = mact_tensor_contiguous (b);
  return memcmp (mact_tensor_get_data (ca), mact_tensor_get_data (cb),
                 (gsize) mact_tensor_get_numel (ca) * sizeof (float)) == 0;
}

static void
record (Worker *w, MactTensor *got, GError *error, guint clip)
{
  if (got == NULL)
    {
      if (w->failures++ == 0)
        w->first_failure = g_strdup_printf ("clip %u: %s", clip, error->message);
      return;
    }
  if (!bitwise_equal (got, g_ptr_array_index (w->expected, clip)))
    w->mismatches++;
}

static gpointer
classify_tensors (gpointer data)
{
  Worker *w = data;
  for (guint k = 0; k < w->n_clips; k++)
    {
      const guint clip = (w->offset + k) % w->inputs->len;
      g_autoptr(GError) error = NULL;
      g_autoptr(MactTensor) got = mact_recognizer_classify (w->recognizer,
                                                            g_ptr_array_index (w->inputs, clip),
                                                            NULL, &error);
      record (w, got, error, clip);
    }
  return NULL;
}

static gpointer
classify_videos (gpointer data)
{
  Worker *w = data;
  for (guint k = 0; k < w->n_clips; k++)
    {
      const guint clip = (w->offset + k) % w->inputs->len;
      g_autoptr(GError) error = NULL;
      g_autoptr(MactTensor) got = mact_inference_classify_video (w->inference,
                                                                 g_ptr_array_index (w->inputs,
                                                                                    clip),
                                                                 &error);
      record (w, got, error, clip);
    }
  return NULL;
}

/* Runs @func on N_THREADS workers at once and checks every result. */
static void
run_threads (GThreadFunc func, Worker *proto)
{
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  for (guint t = 0; t < N_THREADS; t++)
    {
      workers[t] = *proto;
      /* Different starting clips: thread t begins where no other thread does. */
      workers[t].offset = (t * 7) % proto->inputs->len;
      threads[t] = g_thread_new ("classify", func, &workers[t]);
    }
  guint mismatches = 0, failures = 0;
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (threads[t]);
      mismatches += workers[t].mismatches;
      failures += workers[t].failures;
      if (workers[t].first_failure != NULL)
        print_error ("thread %u: %s\n", t, workers[t].first_failure);
      g_free (workers[t].first_failure);
    }
  assert_int_equal (failures, 0);
  assert_int_equal (mismatches, 0);
}

static MactRecognizer *
build (const char *config, guint64 seed)
{
  g_autoptr(GError) error = NULL;
  mact_manual_seed (seed);
  MactRecognizer *r = mact_recognizer_new_from_data (config, -1, NULL, &error);
  if (r == NULL)
    fail_msg ("%s", error->message);
  mact_module_eval (MACT_MODULE (r));
  return r;
}

static void
stress_tensors (const char *config, gint ndim, const gint64 *shape)
{
  g_autoptr(MactRecognizer) r = build (config, 11);
  const guint n_clips = clips_per_thread ();
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                                mact_tensor_unref);
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                                  mact_tensor_unref);
  for (guint i = 0; i < n_clips; i++)
    {
      g_autoptr(GError) error = NULL;
      MactTensor *imgs = mact_test_random (ndim, shape, 100 + i, -2.0, 2.0);
      g_ptr_array_add (inputs, imgs);
      MactTensor *serial = mact_recognizer_classify (r, imgs, NULL, &error);
      if (serial == NULL)
        fail_msg ("%s", error->message);
      g_ptr_array_add (expected, serial);
    }
  /* The inputs differ enough that a mixed-up result would show. */
  assert_false (bitwise_equal (g_ptr_array_index (expected, 0),
                               g_ptr_array_index (expected, 1)));

  Worker proto = { .recognizer = r, .inputs = inputs, .expected = expected,
                   .n_clips = n_clips };
  run_threads (classify_tensors, &proto);
}

static void
test_3d_shared_recognizer (void **state)
{
  const gint64 shape[] = { 1, 2, 3, 4, 16, 16 };
  stress_tensors (config_3d, 6, shape);
}

static void
test_2d_shared_recognizer (void **state)
{
  /* TSN with 3 segments: [N, segments, C, H, W]. */
  const gint64 shape[] = { 1, 3, 3, 32, 32 };
  stress_tensors (config_2d, 5, shape);
}

static void
test_video_shared_inference (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-concurrency-XXXXXX", &error);
  assert_non_null (dir);
  g_autoptr(MactRecognizer) r = build (config_3d, 11);
  g_autoptr(JsonNode) config = mact_config_load_data (config_3d, -1, &error);
  JsonNode *pipeline = mact_inference_find_test_pipeline (config, &error);
  assert_non_null (pipeline);
  g_autoptr(MactInference) inference = mact_inference_new (r, pipeline, &error);
  if (inference == NULL)
    fail_msg ("%s", error->message);

  /* Fewer files than clips: each is decoded by several threads at once too. */
  const guint n_videos = 6;
  g_autoptr(GPtrArray) videos = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                                  mact_tensor_unref);
  for (guint i = 0; i < n_videos; i++)
    {
      g_autofree char *name = g_strdup_printf ("clip%02u.avi", i);
      char *path = mact_test_write_bar_clip (dir, name, 16, 40.0f + 10 * i, 1 + i % 3, i);
      g_ptr_array_add (videos, path);
      MactTensor *serial = mact_inference_classify_video (inference, path, &error);
      if (serial == NULL)
        fail_msg ("%s", error->message);
      g_ptr_array_add (expected, serial);
    }

  Worker proto = { .inference = inference, .inputs = videos, .expected = expected,
                   .n_clips = MIN (clips_per_thread (), 12) };
  run_threads (classify_videos, &proto);
  mact_test_remove_tree (dir);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_3d_shared_recognizer),
    cmocka_unit_test (test_2d_shared_recognizer),
    cmocka_unit_test (test_video_shared_inference),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
