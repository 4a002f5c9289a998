/* The `mact` subcommands of the inference side, run as a user runs them: the build
 * tree's program (MACT_TEST_CLI) on a tiny Recognizer3D whose weights the test saves,
 * over PNG frame directories (tests/data/cli/), .npy arrays and videos written here with
 * MactVideoWriter.  Each command: its --help, a happy path whose numbers are checked
 * against the library computing the same thing in this process, usage errors (exit 2)
 * and run-time errors (exit 1) with a message on stderr naming the culprit. */
#include "mact-test.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

/* ------------------------------------------------------------------ running the program */


static void
expect_status (MactTestRun *r, int status)
{
  if (r->status != status)
    fail_msg ("exit status %d, expected %d\nstdout: %s\nstderr: %s", r->status, status,
              r->out, r->err);
}

/* Exit status 1, nothing on stdout, and stderr "mact CMD: ..." mentioning @needle. */
static void
expect_failure (MactTestRun *r, const char *cmd, const char *needle)
{
  expect_status (r, 1);
  g_autofree char *prefix = g_strdup_printf ("mact %s: ", cmd);
  if (!g_str_has_prefix (r->err, prefix))
    fail_msg ("stderr does not start with '%s': %s", prefix, r->err);
  if (strstr (r->err, needle) == NULL)
    fail_msg ("stderr does not mention '%s': %s", needle, r->err);
  mact_test_run_clear (r);
}

static void
expect_usage_error (MactTestRun *r, const char *needle)
{
  expect_status (r, 2);
  if (strstr (r->err, needle) == NULL)
    fail_msg ("stderr does not mention '%s': %s", needle, r->err);
  mact_test_run_clear (r);
}

static void
expect_in (const char *text, const char *needle)
{
  if (strstr (text, needle) == NULL)
    fail_msg ("'%s' not found in:\n%s", needle, text);
}

/* ------------------------------------------------------------------ fixtures */

static char *
data_path (const char *first, ...)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  assert_non_null (dir);
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) dir);
  g_ptr_array_add (parts, (gpointer) "cli");
  va_list ap;
  va_start (ap, first);
  for (const char *p = first; p != NULL; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

#define MODEL_JSON                                                                      \
  "\"model\": {\"type\": \"Recognizer3D\","                                           \
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"       \
  "                 \"pretrained\": null, \"pretrained2d\": false},"                   \
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 3, \"in_channels\": 32,"     \
  "                 \"dropout_ratio\": 0.0},"                                          \
  "  \"test_cfg\": {\"average_clips\": \"prob\"}}"

#define PIPELINE_JSON                                                                   \
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

/* Frame directories (data.test is a RawframeDataset naming PNG frames). */
static const char *rawframe_config =
  "{" MODEL_JSON ", \"data\": {\"test\": {\"type\": \"RawframeDataset\","
  " \"ann_file\": \"unused.txt\", \"filename_tmpl\": \"img_{:05}.png\","
  " \"pipeline\": " PIPELINE_JSON "}}}";
/* Videos, with the pipeline at the top level. */
static const char *video_config = "{" MODEL_JSON ", \"test_pipeline\": " PIPELINE_JSON "}";
static const char *model_only_config = "{" MODEL_JSON "}";

typedef struct {
  char          *dir;
  char          *weights;
  char          *rawframe_cfg;
  char          *video_cfg;
  char          *model_cfg;
  char          *labels;
  char          *frames;       /* tests/data/cli/rawframes */
  MactInference *inference;    /* the library doing what `mact infer` should */
} Fixture;

static char *
write_file (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  assert_true (g_file_set_contents (path, contents, -1, NULL));
  return g_steal_pointer (&path);
}

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("mact-cli-video-XXXXXX", &error);
  assert_null (error);
  f->rawframe_cfg = write_file (f->dir, "rawframes.json", rawframe_config);
  f->video_cfg = write_file (f->dir, "video.json", video_config);
  f->model_cfg = write_file (f->dir, "model.json", model_only_config);
  f->labels = data_path ("labels.txt", NULL);
  f->frames = data_path ("rawframes", NULL);

  /* Weights of a recognizer built from the config, as a user's converted checkpoint. */
  mact_manual_seed (3);
  g_autoptr(MactRecognizer) model = mact_recognizer_new_from_file (f->model_cfg, NULL, &error);
  if (model == NULL)
    fail_msg ("%s", error->message);
  f->weights = g_build_filename (f->dir, "weights.safetensors", NULL);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (model));
  assert_true (mact_safetensors_save (f->weights, sd, NULL, &error));

  f->inference = mact_inference_new_from_files (f->rawframe_cfg, f->weights, NULL, &error);
  if (f->inference == NULL)
    fail_msg ("%s", error->message);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;
  g_clear_object (&f->inference);
  mact_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->weights);
  g_free (f->rawframe_cfg);
  g_free (f->video_cfg);
  g_free (f->model_cfg);
  g_free (f->labels);
  g_free (f->frames);
  g_free (f);
  return 0;
}

/* The expected "label: score" lines of the top @k of @scores [3]. */
static char *
expected_top (MactTensor *scores, guint k, gboolean with_labels)
{
  static const char *names[] = { "alpha", "beta", "gamma" };
  const float *s = mact_tensor_get_data (scores);
  gboolean taken[3] = { FALSE, FALSE, FALSE };
  GString *out = g_string_new (NULL);
  for (guint r = 0; r < k; r++)
    {
      gint best = -1;
      for (gint j = 0; j < 3; j++)
        if (!taken[j] && (best < 0 || s[j] > s[best]))
          best = j;
      taken[best] = TRUE;
      if (with_labels)
        g_string_append_printf (out, "%s: %.4f\n", names[best], s[best]);
      else
        g_string_append_printf (out, "%d: %.4f\n", best, s[best]);
    }
  return g_string_free (out, FALSE);
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_data (parser, text, -1, &error))
    fail_msg ("not JSON (%s): %s", error->message, text);
  JsonNode *root = json_parser_get_root (parser);
  assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

/* ------------------------------------------------------------------ help and usage */

static void
test_help (void **state)
{
  MactTestRun r = mact_test_run_cli ("--help");
  expect_status (&r, 0);
  for (const char *const *c = (const char *const[]) { "infer", "test", "train", "plugins",
                                                      "bench", NULL }; *c; c++)
    expect_in (r.out, *c);
  mact_test_run_clear (&r);

  const struct {
    const char *cmd;
    const char *options[5];
  } helps[] = {
    { "infer", { "--labels", "--topk", "--average-clips", "--json", NULL } },
    { "test", { "--ann", "--data-prefix", "--out", "--average-clips", NULL } },
    { "plugins", { "--verbose", "-v", NULL } },
    { "bench", { "--shape", "--threads", "--iters", "--warmup", NULL } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (helps); i++)
    {
      r = mact_test_run_cli (helps[i].cmd, "--help");
      expect_status (&r, 0);
      g_autofree char *usage = g_strdup_printf ("mact %s", helps[i].cmd);
      expect_in (r.out, "Usage:");
      expect_in (r.out, usage);
      for (guint j = 0; helps[i].options[j] != NULL; j++)
        expect_in (r.out, helps[i].options[j]);
      mact_test_run_clear (&r);
    }
}

static void
test_usage_errors (void **state)
{
  MactTestRun r = mact_test_run_cli ("infer", "a.json", "b.safetensors");
  expect_usage_error (&r, "CONFIG WEIGHTS INPUT");
  r = mact_test_run_cli ("infer", "a", "b", "c", "--topk", "0");
  expect_usage_error (&r, "--topk");
  r = mact_test_run_cli ("infer", "a", "b", "c", "--average-clips", "mean");
  expect_usage_error (&r, "'mean'");
  r = mact_test_run_cli ("test", "a.json", "b.safetensors");
  expect_usage_error (&r, "--ann LIST");
  r = mact_test_run_cli ("plugins", "extra");
  expect_usage_error (&r, "'extra'");
  r = mact_test_run_cli ("bench");
  expect_usage_error (&r, "exactly one CONFIG");
  r = mact_test_run_cli ("bench", "a.json", "--shape", "1,x,3");
  expect_usage_error (&r, "'x' is not a positive size");
  r = mact_test_run_cli ("bench", "a.json", "--iters", "0");
  expect_usage_error (&r, "--iters");
}

/* ------------------------------------------------------------------ infer */

static void
test_infer_rawframes (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = data_path ("rawframes", "vid_b", NULL);
  g_autoptr(MactTensor) scores = mact_inference_classify_rawframes (f->inference, dir, &error);
  if (scores == NULL)
    fail_msg ("%s", error->message);

  MactTestRun r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, dir, "--labels", f->labels,
                         "--topk", "2");
  expect_status (&r, 0);
  g_autofree char *want = expected_top (scores, 2, TRUE);
  assert_string_equal (r.out, want);
  mact_test_run_clear (&r);

  /* Without a label map the class indices stand in; topk beyond K gives K lines. */
  r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, dir, "--topk", "9");
  expect_status (&r, 0);
  g_autofree char *want3 = expected_top (scores, 3, FALSE);
  assert_string_equal (r.out, want3);
  mact_test_run_clear (&r);

  /* --json: every score, and the top-k. */
  r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, dir, "--json", "--labels", f->labels,
               "--topk", "1");
  expect_status (&r, 0);
  g_autoptr(JsonObject) o = parse_object (r.out);
  assert_string_equal (json_object_get_string_member (o, "average_clips"), "prob");
  JsonArray *s = json_object_get_array_member (o, "scores");
  assert_int_equal (json_array_get_length (s), 3);
  const float *want_s = mact_tensor_get_data (scores);
  for (guint j = 0; j < 3; j++)
    assert_true (fabs (json_array_get_double_element (s, j) - want_s[j]) < 1e-6);
  JsonArray *top = json_object_get_array_member (o, "top");
  assert_int_equal (json_array_get_length (top), 1);
  JsonObject *best = json_array_get_object_element (top, 0);
  assert_non_null (json_object_get_string_member (best, "label"));
  assert_int_equal (json_array_get_length (json_object_get_array_member (o, "labels")), 3);
  mact_test_run_clear (&r);

  /* --average-clips none: one block per view (2 clips). */
  r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, dir, "--average-clips", "none",
               "--topk", "1");
  expect_status (&r, 0);
  expect_in (r.out, "view 0:\n  ");
  expect_in (r.out, "view 1:\n  ");
  mact_test_run_clear (&r);
  r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, dir, "--average-clips", "score",
               "--json");
  expect_status (&r, 0);
  g_autoptr(JsonObject) so = parse_object (r.out);
  assert_string_equal (json_object_get_string_member (so, "average_clips"), "score");
  mact_test_run_clear (&r);
}

static void
test_infer_npy_and_video (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;

  /* A .npy already shaped as the recognizer's input; the model-only config suffices. */
  const gint64 shape[] = { 2, 3, 4, 16, 16 };
  g_autoptr(MactTensor) clip = mact_test_random (5, shape, 5, -2, 2);
  g_autofree char *npy = g_build_filename (f->dir, "clip.npy", NULL);
  assert_true (mact_npy_save (npy, clip, &error));
  g_autoptr(MactTensor) scores = mact_inference_classify_tensor (f->inference, clip, &error);
  assert_null (error);
  MactTestRun r = mact_test_run_cli ("infer", f->model_cfg, f->weights, npy, "--labels", f->labels);
  expect_status (&r, 0);
  g_autofree char *want = expected_top (scores, 3, TRUE);
  assert_string_equal (r.out, want);
  mact_test_run_clear (&r);

  /* A video file. */
  g_autofree char *video = mact_test_write_bar_clip (f->dir, "clip.mp4", 12, 90.0f, 2, 0);
  g_autoptr(MactTensor) vscores = mact_inference_classify_video (f->inference, video, &error);
  if (vscores == NULL)
    fail_msg ("%s", error->message);
  r = mact_test_run_cli ("infer", f->video_cfg, f->weights, video, "--topk", "3");
  expect_status (&r, 0);
  g_autofree char *vwant = expected_top (vscores, 3, FALSE);
  assert_string_equal (r.out, vwant);
  mact_test_run_clear (&r);
}

static void
test_infer_errors (void **state)
{
  Fixture *f = *state;
  g_autofree char *dir = data_path ("rawframes", "vid_a", NULL);

  g_autofree char *missing_cfg = g_build_filename (f->dir, "missing.json", NULL);
  MactTestRun r = mact_test_run_cli ("infer", missing_cfg, f->weights, dir);
  expect_failure (&r, "infer", "missing.json");

  g_autofree char *bad_cfg = write_file (f->dir, "bad.json", "{\"model\": {\"type\": ");
  r = mact_test_run_cli ("infer", bad_cfg, f->weights, dir);
  expect_failure (&r, "infer", "bad.json");

  g_autofree char *unknown = write_file (f->dir, "unknown.json",
                                         "{\"model\": {\"type\": \"Recognizer3D\", "
                                         "\"backbone\": {\"type\": \"NoSuchNet\"}}}");
  r = mact_test_run_cli ("infer", unknown, f->weights, dir);
  expect_failure (&r, "infer", "NoSuchNet");

  g_autofree char *missing_w = g_build_filename (f->dir, "missing.safetensors", NULL);
  r = mact_test_run_cli ("infer", f->rawframe_cfg, missing_w, dir);
  expect_failure (&r, "infer", "missing.safetensors");

  g_autofree char *missing_video = g_build_filename (f->dir, "missing.mp4", NULL);
  r = mact_test_run_cli ("infer", f->video_cfg, f->weights, missing_video);
  expect_failure (&r, "infer", "missing.mp4");

  g_autofree char *text = write_file (f->dir, "notes.avi", "not a video at all\n");
  r = mact_test_run_cli ("infer", f->video_cfg, f->weights, text);
  expect_failure (&r, "infer", "notes.avi");

  g_autofree char *empty_dir = g_build_filename (f->dir, "no-frames", NULL);
  g_mkdir (empty_dir, 0700);
  r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, empty_dir);
  expect_failure (&r, "infer", "no-frames");

  const gint64 wrong_shape[] = { 3, 16, 16 };
  g_autoptr(MactTensor) wrong = mact_test_random (3, wrong_shape, 1, 0, 1);
  g_autofree char *bad_npy = g_build_filename (f->dir, "wrong.npy", NULL);
  assert_true (mact_npy_save (bad_npy, wrong, NULL));
  r = mact_test_run_cli ("infer", f->model_cfg, f->weights, bad_npy);
  expect_failure (&r, "infer", "wrong.npy");

  g_autofree char *two = write_file (f->dir, "two.txt", "a\nb\n");
  r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, dir, "--labels", two);
  expect_failure (&r, "infer", "two.txt");
  g_autofree char *missing_labels = g_build_filename (f->dir, "missing-labels.txt", NULL);
  r = mact_test_run_cli ("infer", f->rawframe_cfg, f->weights, dir, "--labels", missing_labels);
  expect_failure (&r, "infer", "missing-labels.txt");

  /* A video with a config that has no pipeline. */
  r = mact_test_run_cli ("infer", f->model_cfg, f->weights, missing_video);
  expect_failure (&r, "infer", "test pipeline");
}

/* ------------------------------------------------------------------ test */

static void
test_test_rawframes (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *ann = data_path ("rawframes.txt", NULL);

  /* What the library says for the same list. */
  g_autofree char *ds_text =
    g_strdup_printf ("{\"type\": \"RawframeDataset\", \"ann_file\": \"%s\", "
                     "\"data_prefix\": \"%s\", \"filename_tmpl\": \"img_{:05}.png\", "
                     "\"pipeline\": " PIPELINE_JSON "}", ann, f->frames);
  g_autoptr(JsonNode) ds_cfg = json_from_string (ds_text, &error);
  g_autoptr(MactDataset) ds = mact_dataset_new_from_config (ds_cfg, &error);
  assert_non_null (ds);
  g_autoptr(MactTensor) labels = NULL;
  g_autoptr(MactTensor) scores =
    mact_inference_classify_dataset (f->inference, ds, &labels, NULL, NULL, NULL, &error);
  assert_non_null (scores);
  g_autoptr(JsonObject) metrics = mact_evaluate_scores (scores, labels, &error);
  assert_non_null (metrics);
  g_autofree char *want =
    g_strdup_printf ("top1_acc: %.4f\ntop5_acc: 1.0000\nmean_class_accuracy: %.4f\n",
                     json_object_get_double_member (metrics, "top1_acc"),
                     json_object_get_double_member (metrics, "mean_class_accuracy"));

  g_autofree char *out = g_build_filename (f->dir, "results.json", NULL);
  MactTestRun r = mact_test_run_cli ("test", f->rawframe_cfg, f->weights, "--ann", ann, "--data-prefix",
                         f->frames, "--out", out);
  expect_status (&r, 0);
  assert_string_equal (r.out, want);   /* no progress bar: not a terminal */
  mact_test_run_clear (&r);

  g_autofree char *text = NULL;
  assert_true (g_file_get_contents (out, &text, NULL, NULL));
  g_autoptr(JsonObject) o = parse_object (text);
  JsonArray *videos = json_object_get_array_member (o, "videos");
  assert_int_equal (json_array_get_length (videos), 3);
  const float *s = mact_tensor_get_data (scores);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *v = json_array_get_object_element (videos, i);
      g_autofree char *name = g_strdup_printf ("vid_%c", 'a' + i);
      assert_true (g_str_has_suffix (json_object_get_string_member (v, "path"), name));
      assert_int_equal (json_array_get_int_element (json_object_get_array_member (v, "labels"),
                                                    0), i);
      JsonArray *vs = json_object_get_array_member (v, "scores");
      assert_int_equal (json_array_get_length (vs), 3);
      for (guint j = 0; j < 3; j++)
        assert_true (fabs (json_array_get_double_element (vs, j) - s[i * 3 + j]) < 1e-6);
    }
  JsonObject *m = json_object_get_object_member (o, "metrics");
  assert_true (json_object_get_double_member (m, "top1_acc") ==
               json_object_get_double_member (metrics, "top1_acc"));

  /* none: per-view scores go to --out, metrics are refused. */
  r = mact_test_run_cli ("test", f->rawframe_cfg, f->weights, "--ann", ann, "--data-prefix", f->frames,
               "--average-clips", "none");
  expect_status (&r, 1);
  expect_in (r.err, "one row per view");
  mact_test_run_clear (&r);
}

static void
test_test_videos (void **state)
{
  Fixture *f = *state;
  g_free (mact_test_write_bar_clip (f->dir, "v0.avi", 12, 40.0f, 2, 0));
  g_free (mact_test_write_bar_clip (f->dir, "v1.mkv", 12, 200.0f, 2, 0));
  g_autofree char *list = write_file (f->dir, "videos.txt", "v0.avi 0\nv1.mkv 2\n");
  MactTestRun r = mact_test_run_cli ("test", f->video_cfg, f->weights, "--ann", list, "--data-prefix",
                         f->dir);
  expect_status (&r, 0);
  expect_in (r.out, "top1_acc: ");
  expect_in (r.out, "top5_acc: 1.0000\n");
  expect_in (r.out, "mean_class_accuracy: ");
  mact_test_run_clear (&r);

  /* A list naming a video that is not there: the error names the sample and file. */
  g_autofree char *bad_list = write_file (f->dir, "bad.txt", "v0.avi 0\ngone.mp4 1\n");
  r = mact_test_run_cli ("test", f->video_cfg, f->weights, "--ann", bad_list, "--data-prefix", f->dir);
  expect_failure (&r, "test", "gone.mp4");

  g_autofree char *missing_list = g_build_filename (f->dir, "missing.txt", NULL);
  r = mact_test_run_cli ("test", f->video_cfg, f->weights, "--ann", missing_list);
  expect_failure (&r, "test", "missing.txt");

  g_autofree char *malformed = write_file (f->dir, "malformed.txt", "v0.avi zero\n");
  r = mact_test_run_cli ("test", f->video_cfg, f->weights, "--ann", malformed);
  expect_failure (&r, "test", "malformed.txt:1");

  r = mact_test_run_cli ("test", f->model_cfg, f->weights, "--ann", list);
  expect_failure (&r, "test", "test pipeline");

  g_autofree char *empty = write_file (f->dir, "empty.txt", "\n");
  r = mact_test_run_cli ("test", f->video_cfg, f->weights, "--ann", empty);
  expect_failure (&r, "test", "empty");
}

/* ------------------------------------------------------------------ plugins */

static void
test_plugins (void **state)
{
  MactTestRun r = mact_test_run_cli ("plugins");
  expect_status (&r, 0);
  expect_in (r.out, "native: ");
  expect_in (r.out, "cls: ");
  expect_in (r.out, "tv: ");
  expect_in (r.out, "libmact-native-");
  expect_in (r.out, "    backbone  ResNet3d\n");
  expect_in (r.out, "    head      I3DHead\n");
  expect_in (r.out, "    backbone  tv.resnet18\n");
  expect_in (r.out, "    backbone  cls.ResNet\n");
  assert_null (strstr (r.out, "Failed to load"));
  assert_string_equal (r.err, "");
  mact_test_run_clear (&r);

  r = mact_test_run_cli ("plugins", "-v");
  expect_status (&r, 0);
  expect_in (r.out, "Search path:\n");
  expect_in (r.out, "    description: ");
  expect_in (r.out, "    license:     ");
  expect_in (r.out, "ResNet3d                         MactNativeVideoResNet3d\n");
  mact_test_run_clear (&r);

  /* The loader's fixture plugins: each fails in its own way and is listed with why. */
  const char *fixtures = g_getenv ("MACT_TEST_PLUGIN_DIR");
  assert_non_null (fixtures);
  g_autofree char *path = g_strdup_printf ("MACT_PLUGIN_PATH=%s", fixtures);
  r = mact_test_run_cli_envv ((const char *const[]) { path, NULL },
                    (const char *const[]) { "plugins", NULL });
  expect_status (&r, 0);
  expect_in (r.out, "Failed to load (");
  expect_in (r.out, "libmact-cls-initfail.so");
  expect_in (r.out, "libmact-cls-namemismatch.so");
  /* Reported in the listing only, not again as log warnings. */
  assert_null (strstr (r.err, "WARNING"));
  mact_test_run_clear (&r);
}

/* The registry listing `mact plugins` is built on. */
static void
test_registry_listing (void **state)
{
  MactRegistry *registry = mact_registry_get_default ();
  g_auto(GStrv) families = mact_registry_list_families (registry);
  assert_int_equal (g_strv_length (families), 3);
  assert_string_equal (families[0], "native");
  assert_string_equal (families[1], "cls");
  assert_string_equal (families[2], "tv");

  g_autoptr(GError) error = NULL;
  const struct {
    const char *type;
    const char *kind;
  } cases[] = {
    { "ResNet3d", "backbone" }, { "I3DHead", "head" }, { "CrossEntropyLoss", "loss" },
    { "MixupBlending", "blending" }, { "TPN", "neck" }, { "tv.resnet18", "backbone" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GType type = mact_registry_lookup_type (registry, cases[i].type, &error);
      assert_null (error);
      assert_string_equal (mact_registry_kind_name_of (type), cases[i].kind);
    }
  assert_null (mact_registry_kind_name_of (G_TYPE_INVALID));
  assert_null (mact_registry_kind_name_of (G_TYPE_OBJECT));
  assert_null (mact_registry_kind_name_of (MACT_TYPE_RECOGNIZER_3D));
}

/* ------------------------------------------------------------------ bench */

static void
test_bench (void **state)
{
  Fixture *f = *state;
  MactTestRun r = mact_test_run_cli ("bench", f->model_cfg, "--shape", "1,1,3,4,16,16", "--shape",
                         "2,1,3,4,16,16", "--iters", "3", "--warmup", "1", "--threads", "1");
  expect_status (&r, 0);
  expect_in (r.out, "Recognizer3D, weights random, 1 threads\n");
  expect_in (r.out, "shape 1,1,3,4,16,16: median ");
  expect_in (r.out, "shape 2,1,3,4,16,16: median ");
  expect_in (r.out, " clips/s, ");
  expect_in (r.out, "time to first result: ");
  mact_test_run_clear (&r);

  /* The shape from the test pipeline, weights from a file, JSON out. */
  r = mact_test_run_cli ("bench", f->video_cfg, "--weights", f->weights, "--iters", "2", "--warmup",
               "0", "--json");
  expect_status (&r, 0);
  g_autoptr(JsonObject) o = parse_object (r.out);
  assert_string_equal (json_object_get_string_member (o, "recognizer"), "MactRecognizer3D");
  assert_true (json_object_get_double_member (o, "time_to_first_result_ms") > 0);
  JsonArray *results = json_object_get_array_member (o, "results");
  assert_int_equal (json_array_get_length (results), 1);
  JsonObject *res = json_array_get_object_element (results, 0);
  assert_string_equal (json_object_get_string_member (res, "shape"), "1,2,3,4,16,16");
  assert_int_equal (json_object_get_int_member (res, "iters"), 2);
  const double median = json_object_get_double_member (res, "median_ms");
  assert_true (median > 0);
  assert_true (json_object_get_double_member (res, "min_ms") <= median);
  /* 2 views per run: twice as many clips as samples. */
  assert_true (fabs (json_object_get_double_member (res, "clips_per_s") -
                     2 * json_object_get_double_member (res, "samples_per_s")) < 1e-6);
  mact_test_run_clear (&r);

  /* No shape and no pipeline; a shape the model cannot take; a bad config. */
  r = mact_test_run_cli ("bench", f->model_cfg);
  expect_failure (&r, "bench", "no --shape");
  r = mact_test_run_cli ("bench", f->model_cfg, "--shape", "1,3,16,16");
  expect_failure (&r, "bench", "shape 1,3,16,16");
  g_autofree char *missing = g_build_filename (f->dir, "missing.json", NULL);
  r = mact_test_run_cli ("bench", missing);
  expect_failure (&r, "bench", "missing.json");
}

/* The options the side-by-side benchmarks use (benchmarks/run.py): a given input array,
 * training steps, and the per-module profile. */
static void
test_bench_options (void **state)
{
  Fixture *f = *state;
  g_autoptr(GError) error = NULL;
  const gint64 shape[] = { 2, 1, 3, 4, 16, 16 };
  g_autoptr(MactTensor) x = mact_tensor_new_empty (6, shape, &error);
  g_autoptr(MactGenerator) rng = mact_generator_new (11);
  mact_tensor_normal_ (x, rng, 0.0, 1.0);
  g_autofree char *npy = g_build_filename (f->dir, "bench-input.npy", NULL);
  assert_true (mact_npy_save (npy, x, &error));

  MactTestRun r = mact_test_run_cli ("bench", "--help");
  expect_status (&r, 0);
  for (const char *const *opt = (const char *const[]) { "--input", "--train", "--profile",
                                                        NULL }; *opt; opt++)
    expect_in (r.out, *opt);
  mact_test_run_clear (&r);

  /* --input: the array's shape is the one measured. */
  r = mact_test_run_cli ("bench", f->model_cfg, "--input", npy, "--iters", "2", "--warmup",
                         "0", "--threads", "1", "--json");
  expect_status (&r, 0);
  g_autoptr(JsonObject) o = parse_object (r.out);
  assert_string_equal (json_object_get_string_member (o, "input"), npy);
  assert_string_equal (json_object_get_string_member (o, "mode"), "inference");
  JsonArray *results = json_object_get_array_member (o, "results");
  assert_int_equal (json_array_get_length (results), 1);
  JsonObject *res = json_array_get_object_element (results, 0);
  assert_string_equal (json_object_get_string_member (res, "shape"), "2,1,3,4,16,16");
  assert_false (json_object_has_member (res, "profile"));
  mact_test_run_clear (&r);

  /* --profile as text: the module table, largest first, and the sums by type. */
  r = mact_test_run_cli ("bench", f->model_cfg, "--input", npy, "--iters", "2", "--warmup",
                         "0", "--threads", "1", "--profile");
  expect_status (&r, 0);
  expect_in (r.out, "profile: ");
  expect_in (r.out, "backbone.conv1.conv ");
  expect_in (r.out, "MactConv");
  expect_in (r.out, "3x7x7/1x2x2 3>4");
  expect_in (r.out, "by type");
  mact_test_run_clear (&r);

  /* --train --profile as JSON: every module's share, the backward pass and the step;
   * the shares add up to the whole. */
  r = mact_test_run_cli ("bench", f->model_cfg, "--shape", "2,1,3,4,16,16", "--train",
                         "--profile", "--iters", "2", "--warmup", "1", "--threads", "1",
                         "--json");
  expect_status (&r, 0);
  g_autoptr(JsonObject) t = parse_object (r.out);
  assert_string_equal (json_object_get_string_member (t, "mode"), "train");
  res = json_array_get_object_element (json_object_get_array_member (t, "results"), 0);
  assert_true (json_object_get_double_member (res, "median_ms") > 0);
  JsonArray *profile = json_object_get_array_member (res, "profile");
  double percent = 0, previous = G_MAXDOUBLE;
  gboolean seen_backward = FALSE, seen_step = FALSE, seen_fc = FALSE;
  for (guint i = 0; i < json_array_get_length (profile); i++)
    {
      JsonObject *row = json_array_get_object_element (profile, i);
      const char *module = json_object_get_string_member (row, "module");
      const double ms = json_object_get_double_member (row, "ms_per_run");
      assert_true (ms <= previous);
      previous = ms;
      percent += json_object_get_double_member (row, "percent");
      seen_backward |= g_str_equal (module, "(backward)");
      seen_step |= g_str_equal (module, "(optimizer zero_grad and step)");
      if (g_str_equal (module, "cls_head.fc_cls"))
        {
          seen_fc = TRUE;
          assert_string_equal (json_object_get_string_member (row, "type"), "MactLinear");
          assert_true (json_object_get_boolean_member (row, "leaf"));
          assert_float_equal (json_object_get_double_member (row, "calls_per_run"), 1, 0);
        }
    }
  assert_true (seen_backward && seen_step && seen_fc);
  assert_float_equal (percent, 100, 0.01);
  assert_true (json_array_get_length (json_object_get_array_member (res,
                                                                    "profile_by_type")) > 0);
  mact_test_run_clear (&r);

  /* Errors: --input with --shape (usage), a missing or unusable array (run time). */
  r = mact_test_run_cli ("bench", f->model_cfg, "--input", npy, "--shape", "1,1,3,4,16,16");
  expect_usage_error (&r, "--input and --shape");
  g_autofree char *missing = g_build_filename (f->dir, "no-such.npy", NULL);
  r = mact_test_run_cli ("bench", f->model_cfg, "--input", missing);
  expect_failure (&r, "bench", "no-such.npy");
  const gint64 flat_shape[] = { 5 };
  g_autoptr(MactTensor) flat = mact_tensor_new_full (1, flat_shape, 1.0f, &error);
  g_autofree char *flat_npy = g_build_filename (f->dir, "flat.npy", NULL);
  assert_true (mact_npy_save (flat_npy, flat, &error));
  r = mact_test_run_cli ("bench", f->model_cfg, "--input", flat_npy);
  expect_failure (&r, "bench", "flat.npy");
  r = mact_test_run_cli ("bench", f->model_cfg, "--input", npy, "--train", "--shape",
                         "2,1,3,4,16,16");
  expect_usage_error (&r, "--input and --shape");
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_help),
    cmocka_unit_test (test_usage_errors),
    cmocka_unit_test (test_infer_rawframes),
    cmocka_unit_test (test_infer_npy_and_video),
    cmocka_unit_test (test_infer_errors),
    cmocka_unit_test (test_test_rawframes),
    cmocka_unit_test (test_test_videos),
    cmocka_unit_test (test_plugins),
    cmocka_unit_test (test_registry_listing),
    cmocka_unit_test (test_bench),
    cmocka_unit_test (test_bench_options),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
