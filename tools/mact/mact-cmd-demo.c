/* mact-cmd-demo.c: `mact demo`, the whole path on files it makes itself.
 *
 * No downloads and no input files: the 3D synthetic config is compiled into the program
 * (a GResource of configs/synthetic/r3d_r18_8x1x1_synthetic.json).  The demo trains it on
 * the built-in synthetic action dataset with the runner `mact train` uses, writes one
 * val clip per action as a real video file through FFmpeg, classifies each file back
 * through MactInference (what `mact infer` runs: decode, the config's test_pipeline,
 * forward_test), and ends with the commands to do the same by hand. */
#include "mact-cli.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#define DEMO_CONFIG_RESOURCE "/org/mact/cli/r3d_r18_8x1x1_synthetic.json"
#define DEMO_CONFIG_NAME     "configs/synthetic/r3d_r18_8x1x1_synthetic.json"
/* The clips are rendered at the model's 32x32 and written 4x larger, each pixel a 4x4
 * block, so the video is watchable; the test pipeline's bilinear Resize back to 32x32
 * samples inside those blocks and recovers the rendered pixels (up to the codec). */
#define DEMO_UPSCALE         4
#define DEMO_FPS             8.0
#define DEMO_TOPK            3

typedef struct {
  MactCliTrainLog log;
  double          best_top1;
  guint           best_epoch;
} DemoProgress;

static void
on_log (MactRunner *runner, JsonObject *entry, DemoProgress *progress)
{
  mact_cli_train_log_print (runner, entry, &progress->log);
  const char *mode = json_object_get_string_member_with_default (entry, "mode", "train");
  if (g_str_equal (mode, "val") && json_object_has_member (entry, "top1_acc"))
    {
      double top1 = json_object_get_double_member (entry, "top1_acc");
      if (top1 >= progress->best_top1)
        {
          progress->best_top1 = top1;
          progress->best_epoch = (guint) json_object_get_int_member (entry, "epoch");
        }
    }
}

static JsonNode *
load_demo_config (GError **error)
{
  g_autoptr(GBytes) bytes = g_resources_lookup_data (DEMO_CONFIG_RESOURCE,
                                                     G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (bytes == NULL)
    return NULL;
  gsize size = 0;
  const char *data = g_bytes_get_data (bytes, &size);
  g_autofree char *text = g_strndup (data, size);
  return mact_config_load_data (text, -1, error);
}

/* The val set's first clips, one per action (sample i has class i % num_classes), as
 * frames [T, H, W, 3] on the 0-255 scale, each pixel repeated into a block. */
static MactTensor *
render_clip (JsonNode *val_cfg, guint index, GError **error)
{
  g_autoptr(JsonNode) cfg = json_node_copy (val_cfg);
  JsonObject *obj = json_node_get_object (cfg);
  JsonArray *zero = json_array_new (), *one = json_array_new ();
  for (int c = 0; c < 3; c++)
    {
      json_array_add_double_element (zero, 0.0);
      json_array_add_double_element (one, 1.0);
    }
  json_object_set_array_member (obj, "mean", zero);
  json_object_set_array_member (obj, "std", one);
  json_object_set_string_member (obj, "input_format", "NCHW");

  g_autoptr(MactDataset) dataset = mact_dataset_new_from_config (cfg, error);
  if (dataset == NULL)
    return NULL;
  g_autoptr(MactTensorDict) item = mact_dataset_get_item (dataset, index, NULL, error);
  if (item == NULL)
    return NULL;
  MactTensor *imgs = mact_tensor_dict_lookup (item, "imgs");   /* [T, 3, H, W] */
  gint ndim = 0;
  const gint64 *shape = mact_tensor_get_shape (imgs, &ndim);
  const gint64 size[2] = { shape[2] * DEMO_UPSCALE, shape[3] * DEMO_UPSCALE };
  g_autoptr(MactTensor) big = mact_interpolate (imgs, 2, size, MACT_INTERPOLATE_NEAREST,
                                                FALSE, error);
  if (big == NULL)
    return NULL;
  const gint to_hwc[4] = { 0, 2, 3, 1 };
  g_autoptr(MactTensor) frames = mact_tensor_permute (big, 4, to_hwc, error);
  if (frames == NULL)
    return NULL;
  return mact_tensor_contiguous (frames);
}

static char *
write_clip (const char *dir, guint index, const char *action, MactTensor *frames,
            GError **error)
{
  g_autofree char *name = g_strdup_printf ("%02u_%s.mp4", index, action);
  char *path = g_build_filename (dir, name, NULL);
  const gint64 *shape = mact_tensor_get_shape (frames, NULL);
  g_autoptr(MactVideoWriter) writer = mact_video_writer_new (path, (gint) shape[2],
                                                             (gint) shape[1], DEMO_FPS,
                                                             error);
  if (writer == NULL || !mact_video_writer_write (writer, frames, error) ||
      !mact_video_writer_close (writer, error))
    {
      g_free (path);
      return NULL;
    }
  return path;
}

static gboolean
write_label_map (const char *path, guint num_classes, GError **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  for (guint c = 0; c < num_classes; c++)
    g_string_append_printf (text, "%s\n", mact_synthetic_action_get_name (c));
  return g_file_set_contents (path, text->str, (gssize) text->len, error);
}

/* The index of the k-th largest of @n scores. */
static void
top_k (const float *scores, guint n, guint k, guint *out)
{
  for (guint i = 0; i < k; i++)
    {
      guint best = G_MAXUINT;
      for (guint c = 0; c < n; c++)
        {
          gboolean taken = FALSE;
          for (guint j = 0; j < i; j++)
            taken |= out[j] == c;
          if (!taken && (best == G_MAXUINT || scores[c] > scores[best]))
            best = c;
        }
      out[i] = best;
    }
}

/* Finds the newest checkpoint's weights in @work_dir through latest.json. */
static char *
latest_weights (const char *work_dir)
{
  g_autofree char *latest = g_build_filename (work_dir, "latest.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, latest, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
  const char *weights = json_object_get_string_member_with_default (obj, "weights", NULL);
  if (weights == NULL)
    return NULL;
  return g_path_is_absolute (weights) ? g_strdup (weights)
                                      : g_build_filename (work_dir, weights, NULL);
}

int
mact_cli_demo (int argc, char **argv)
{
  g_autofree char *work_dir = NULL;
  gint threads = 0, epochs = 0, train_samples = 0;
  GOptionEntry entries[] = {
    { "work-dir", 0, 0, G_OPTION_ARG_FILENAME, &work_dir,
      "Where checkpoints, logs and the clips go (default: ./mact-demo)", "DIR" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Compute threads (default: MACT_NUM_THREADS, else all cores)", "N" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs,
      "Train for N epochs instead of the config's 4 (a quick look: 1)", "N" },
    { "train-samples", 0, 0, G_OPTION_ARG_INT, &train_samples,
      "Synthetic training clips per epoch instead of the config's 4000", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (
    "- train a small recognizer on synthetic actions and classify real video files");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Needs no files and no network.  Trains " DEMO_CONFIG_NAME "\n"
    "(a ResNet3d-18 with 16 base channels) from scratch on the built-in synthetic action\n"
    "dataset, validating each epoch (a few minutes on 2 cores), then writes one val clip\n"
    "per action as an MPEG-4 video and classifies each file back as `mact infer` does.");
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("demo", error);
      return 2;
    }
  if (argc > 1)
    {
      fprintf (stderr, "mact demo: unexpected argument '%s'\n", argv[1]);
      return 2;
    }
  if (epochs < 0 || train_samples < 0)
    {
      fprintf (stderr, "mact demo: --epochs and --train-samples must be positive\n");
      return 2;
    }
  if (threads > 0)
    mact_set_num_threads (threads);
  if (work_dir == NULL)
    work_dir = g_strdup ("mact-demo");

  g_autoptr(JsonNode) config = load_demo_config (&error);
  if (config == NULL)
    return mact_cli_fail ("demo", error);
  JsonObject *root = json_node_get_object (config);
  JsonObject *data = json_object_get_object_member (root, "data");
  if (epochs > 0)
    json_object_set_int_member (root, "total_epochs", epochs);
  if (train_samples > 0)
    json_object_set_int_member (json_object_get_object_member (data, "train"),
                                "num_samples", train_samples);
  JsonNode *val_cfg = json_object_get_member (data, "val");
  const guint num_classes = (guint) json_object_get_int_member (
    json_object_get_object_member (data, "val"), "num_classes");

  printf ("mact demo: 1/3 training %s from scratch on %u synthetic actions (%s)\n",
          DEMO_CONFIG_NAME, num_classes, work_dir);
  fflush (stdout);
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  if (runner == NULL)
    return mact_cli_fail ("demo", error);
  g_object_set (runner, "work-dir", work_dir, "validate", TRUE, NULL);
  DemoProgress progress = { .log.tty = isatty (STDOUT_FILENO), .best_top1 = -1 };
  g_signal_connect (runner, "log", G_CALLBACK (on_log), &progress);
  const gint64 start = g_get_monotonic_time ();
  gboolean trained = mact_runner_train (runner, NULL, &error);
  mact_cli_train_log_clear_bar (&progress.log);
  if (!trained)
    return mact_cli_fail ("demo", error);
  const double seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_autofree char *took = mact_cli_format_duration (seconds);
  printf ("Trained in %s: best val top-1 %.1f%% (epoch %u)\n\n", took,
          100.0 * MAX (progress.best_top1, 0.0), progress.best_epoch);

  g_autofree char *clip_dir = g_build_filename (work_dir, "clips", NULL);
  g_autofree char *labels = g_build_filename (work_dir, "labels.txt", NULL);
  if (g_mkdir_with_parents (clip_dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (&error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "cannot create %s: %s", clip_dir, g_strerror (saved));
      return mact_cli_fail ("demo", error);
    }
  if (!write_label_map (labels, num_classes, &error))
    return mact_cli_fail ("demo", error);

  /* The trained model as it is in memory, through the config's test_pipeline. */
  JsonNode *pipeline_cfg = mact_inference_find_test_pipeline (config, &error);
  if (pipeline_cfg == NULL)
    return mact_cli_fail ("demo", error);
  g_autoptr(MactInference) inference = mact_inference_new (mact_runner_get_model (runner),
                                                           pipeline_cfg, &error);
  if (inference == NULL)
    return mact_cli_fail ("demo", error);

  printf ("mact demo: 2/3 writing one val clip per action to %s\n", clip_dir);
  printf ("mact demo: 3/3 classifying each file (decode, test_pipeline, forward_test)\n\n");
  printf ("%-36s %-24s %s\n", "video", "true action", "top-3 (probability)");
  guint correct = 0;
  g_autofree char *first_clip = NULL;
  for (guint i = 0; i < num_classes; i++)
    {
      const char *action = mact_synthetic_action_get_name (i);
      g_autoptr(MactTensor) frames = render_clip (val_cfg, i, &error);
      if (frames == NULL)
        return mact_cli_fail ("demo", error);
      g_autofree char *path = write_clip (clip_dir, i, action, frames, &error);
      if (path == NULL)
        return mact_cli_fail ("demo", error);
      g_autoptr(MactTensor) scores = mact_inference_classify_video (inference, path, &error);
      if (scores == NULL)
        return mact_cli_fail ("demo", error);
      const float *s = mact_tensor_get_data (scores);
      guint best[DEMO_TOPK];
      top_k (s, num_classes, DEMO_TOPK, best);
      correct += best[0] == i;
      g_autofree char *base = g_path_get_basename (path);
      printf ("%-36s %-24s", base, action);
      for (guint k = 0; k < DEMO_TOPK; k++)
        printf ("%s%s %.3f", k ? ", " : " ", mact_synthetic_action_get_name (best[k]),
                s[best[k]]);
      printf ("%s\n", best[0] == i ? "" : "   <- wrong");
      if (first_clip == NULL)
        first_clip = g_steal_pointer (&path);
    }
  printf ("\n%u of %u video files classified correctly.\n\n", correct, num_classes);

  g_autofree char *weights = latest_weights (work_dir);
  printf ("Next steps:\n");
  printf ("  # the same on one file, by hand:\n");
  printf ("  mact infer %s %s %s --labels %s --topk 3\n", DEMO_CONFIG_NAME,
          weights ? weights : "WORK_DIR/epoch_N.safetensors", first_clip, labels);
  printf ("  # your own video with a converted mmaction2 or torchvision checkpoint\n"
          "  # (see README: tools/convert-checkpoint.py):\n");
  printf ("  mact infer CONFIG.json WEIGHTS.safetensors VIDEO.mp4 --labels LABELS.txt\n");
  printf ("  # accuracy over an annotation list, and training your own config:\n");
  printf ("  mact test CONFIG.json WEIGHTS.safetensors --ann LIST.txt --data-prefix DIR\n");
  printf ("  mact train CONFIG.json --validate\n");
  fflush (stdout);
  return 0;
}
