/* mact-cmd-test.c: `mact test CONFIG WEIGHTS --ann LIST`, mmaction2's tools/test.py on
 * one process: classify every video (or frame directory) of an annotation list with the
 * config's test pipeline, then print top-1, top-5 and mean class accuracy.
 *
 * MactInference does the work: its data loader decodes the next video in a worker
 * thread while the recognizer runs on the current one.  This file builds the dataset,
 * draws mmcv's progress bar on a terminal and writes the --out file. */
#include "mact-cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  gboolean tty;
  gint64   start;   /* monotonic, us */
} Progress;

/* mmcv's ProgressBar: "[>>>>    ] 3/10, 2.1 task/s, elapsed: 1s, ETA:     3s". */
static void
on_progress (guint done, guint total, gpointer user_data)
{
  Progress *p = user_data;
  if (!p->tty)
    return;
  const double elapsed = (g_get_monotonic_time () - p->start) / 1e6;
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total - done) / rate : 0;
  const int width = 30, filled = total > 0 ? (int) ((double) done / total * width) : width;
  printf ("\r[");
  for (int i = 0; i < width; i++)
    putchar (i < filled ? '>' : ' ');
  printf ("] %u/%u, %.1f task/s, elapsed: %.0fs, ETA: %5.0fs", done, total, rate, elapsed,
          eta);
  fflush (stdout);
}

static JsonObject *
member_object (JsonObject *obj, const char *key)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, key) : NULL;
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* The dataset dict for the list: data.test's keys when it is a video or rawframe
 * dataset of the same kind (filename_tmpl, start_index, multi_class, ...), with the
 * list, the prefix and the test pipeline given here. */
static JsonNode *
dataset_config (JsonNode *config, const char *ann, const char *data_prefix,
                gboolean rawframes, GError **error)
{
  JsonNode *pipeline = mact_inference_find_test_pipeline (config, error);
  if (pipeline == NULL)
    return NULL;

  JsonObject *root = json_node_get_object (config);
  JsonObject *test = member_object (member_object (root, "data"), "test");
  const char *test_type = test != NULL
                          ? json_object_get_string_member_with_default (test, "type", NULL)
                          : NULL;
  const char *type = rawframes ? "RawframeDataset"
                     : g_strcmp0 (test_type, "RawframeDataset") == 0 ? "RawframeDataset"
                     : "VideoDataset";

  JsonObject *ds = json_object_new ();
  if (test != NULL && g_strcmp0 (test_type, type) == 0)
    {
      g_autoptr(GList) keys = json_object_get_members (test);
      for (GList *l = keys; l != NULL; l = l->next)
        json_object_set_member (ds, l->data,
                                json_node_copy (json_object_get_member (test, l->data)));
    }
  json_object_set_string_member (ds, "type", type);
  json_object_set_string_member (ds, "ann_file", ann);
  json_object_set_member (ds, "pipeline", json_node_copy (pipeline));
  json_object_set_boolean_member (ds, "test_mode", TRUE);
  if (data_prefix != NULL)
    json_object_set_string_member (ds, "data_prefix", data_prefix);
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, ds);
  return node;
}

static const MactAnnotation *
annotation_of (MactDataset *dataset, guint index)
{
  if (MACT_IS_VIDEO_DATASET (dataset))
    return mact_video_dataset_get_annotation (MACT_VIDEO_DATASET (dataset), index);
  return mact_rawframe_dataset_get_annotation (MACT_RAWFRAME_DATASET (dataset), index);
}

static gboolean
write_out (const char *path, MactDataset *dataset, MactTensor *scores, JsonObject *metrics,
           const char *mode, GError **error)
{
  const guint n = mact_dataset_get_length (dataset);
  const gsize per = (gsize) (mact_tensor_get_numel (scores) / n);
  const gint nd = mact_tensor_get_ndim (scores);
  const gsize k = (gsize) mact_tensor_get_size (scores, nd - 1);
  const float *s = mact_tensor_get_data (scores);

  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "average_clips");
  if (mode != NULL)
    json_builder_add_string_value (b, mode);
  else
    json_builder_add_null_value (b);
  if (metrics != NULL)
    {
      json_builder_set_member_name (b, "metrics");
      JsonNode *m = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (m, metrics);
      json_builder_add_value (b, m);
    }
  json_builder_set_member_name (b, "videos");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    {
      const MactAnnotation *ann = annotation_of (dataset, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, ann->path);
      json_builder_set_member_name (b, "labels");
      json_builder_begin_array (b);
      for (guint j = 0; j < ann->n_labels; j++)
        json_builder_add_int_value (b, ann->labels[j]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "scores");
      json_builder_begin_array (b);
      for (gsize r = 0; r < per / k; r++)
        {
          /* One list per view when nothing was averaged, else the flat list. */
          if (nd == 3)
            json_builder_begin_array (b);
          for (gsize j = 0; j < k; j++)
            json_builder_add_double_value (b, s[i * per + r * k + j]);
          if (nd == 3)
            json_builder_end_array (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  g_autoptr(GError) local = NULL;
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO, "%s: cannot write: %s",
                   display, local->message);
      return FALSE;
    }
  return TRUE;
}

int
mact_cli_test (int argc, char **argv)
{
  g_autofree char *ann = NULL;
  g_autofree char *data_prefix = NULL;
  g_autofree char *out_path = NULL;
  g_autofree char *average_clips = NULL;
  gboolean rawframes = FALSE;
  gint threads = 0;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "ann", 0, 0, G_OPTION_ARG_FILENAME, &ann,
      "Annotation list: 'path label' lines (videos) or 'frame_dir total_frames label' "
      "lines (rawframes)", "LIST" },
    { "data-prefix", 0, 0, G_OPTION_ARG_FILENAME, &data_prefix,
      "Directory the list's relative paths are in (default: data.test.data_prefix)", "DIR" },
    { "rawframes", 0, 0, G_OPTION_ARG_NONE, &rawframes,
      "The list names frame directories (default: as data.test.type says, else videos)",
      NULL },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out_path,
      "Write each video's scores (and the metrics) to FILE as JSON", "FILE" },
    { "average-clips", 0, 0, G_OPTION_ARG_STRING, &average_clips,
      "How views are averaged: prob, score or none (default: the config's "
      "test_cfg.average_clips)", "MODE" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Compute threads (default: MACT_NUM_THREADS, else all cores)", "N" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new ("CONFIG WEIGHTS - evaluate a recognizer on an annotation list");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Classifies every entry of --ann with the config's test pipeline (data.test.pipeline,\n"
    "test_pipeline, data.val.pipeline or val_pipeline), decoding the next video while\n"
    "the current one runs, and prints top1_acc, top5_acc and mean_class_accuracy as\n"
    "mmaction2's tools/test.py does.  data.test's other keys (filename_tmpl,\n"
    "start_index, with_offset, multi_class, num_classes) apply when its type matches.");
  g_autoptr(GError) error = NULL;
  /* "Usage: mact test ...", not the bare subcommand name. */
  g_set_prgname ("mact test");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("test", error);
      return 2;
    }
  if (rest == NULL || g_strv_length (rest) != 2 || ann == NULL)
    {
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
      fprintf (stderr, "mact test: expected CONFIG WEIGHTS --ann LIST\n\n%s", help);
      return 2;
    }
  if (average_clips != NULL && !g_str_equal (average_clips, "prob") &&
      !g_str_equal (average_clips, "score") && !g_str_equal (average_clips, "none"))
    {
      fprintf (stderr, "mact test: --average-clips must be prob, score or none, got '%s'\n",
               average_clips);
      return 2;
    }
  if (threads > 0)
    mact_set_num_threads (threads);

  g_autoptr(JsonNode) config = mact_config_load_file (rest[0], &error);
  if (config == NULL)
    return mact_cli_fail ("test", error);
  g_autoptr(MactInference) inference =
    mact_inference_new_from_config (config, rest[1], average_clips, &error);
  if (inference == NULL)
    {
      if (error->domain == MACT_CONFIG_ERROR || error->domain == MACT_REGISTRY_ERROR)
        g_prefix_error (&error, "%s: ", rest[0]);
      return mact_cli_fail ("test", error);
    }
  g_autoptr(JsonNode) ds_cfg = dataset_config (config, ann, data_prefix, rawframes, &error);
  if (ds_cfg == NULL)
    {
      g_prefix_error (&error, "%s: ", rest[0]);
      return mact_cli_fail ("test", error);
    }
  g_autoptr(MactDataset) dataset = mact_dataset_new_from_config (ds_cfg, &error);
  if (dataset == NULL)
    return mact_cli_fail ("test", error);
  if (mact_dataset_get_length (dataset) == 0)
    {
      fprintf (stderr, "mact test: %s: the annotation list is empty\n", ann);
      return 1;
    }

  Progress progress = { .tty = isatty (STDOUT_FILENO), .start = g_get_monotonic_time () };
  g_autoptr(MactTensor) labels = NULL;
  g_autoptr(MactTensor) scores =
    mact_inference_classify_dataset (inference, dataset, &labels, on_progress, &progress,
                                     NULL, &error);
  if (progress.tty)
    printf ("\n");
  if (scores == NULL)
    return mact_cli_fail ("test", error);

  const char *mode = mact_cli_average_clips (mact_inference_get_recognizer (inference));
  g_autoptr(JsonObject) metrics = NULL;
  const char *no_metrics = NULL;
  if (mact_tensor_get_ndim (scores) != 2)
    no_metrics = "the scores have one row per view (--average-clips none); metrics need one "
                 "row per video";
  else if (labels == NULL || mact_tensor_get_ndim (labels) != 1)
    no_metrics = "top-k accuracy needs single-label data; this list is multi-label";
  else if ((metrics = mact_evaluate_scores (scores, labels, &error)) == NULL)
    return mact_cli_fail ("test", error);

  if (metrics != NULL)
    {
      /* mmaction2's top_k_accuracy counts a hit when the label is among the k best; with
       * fewer than 5 classes that is every sample. */
      if (!json_object_has_member (metrics, "top5_acc"))
        json_object_set_double_member (metrics, "top5_acc", 1.0);
      const char *order[] = { "top1_acc", "top5_acc", "mean_class_accuracy" };
      for (gsize i = 0; i < G_N_ELEMENTS (order); i++)
        printf ("%s: %.4f\n", order[i], json_object_get_double_member (metrics, order[i]));
      fflush (stdout);
    }
  if (out_path != NULL && !write_out (out_path, dataset, scores, metrics, mode, &error))
    return mact_cli_fail ("test", error);
  if (no_metrics != NULL)
    {
      fprintf (stderr, "mact test: no metrics: %s\n", no_metrics);
      return out_path != NULL ? 0 : 1;
    }
  return 0;
}
