/* mact-cmd-infer.c: `mact infer CONFIG WEIGHTS INPUT`, mmaction2's demo/demo.py without
 * the video rendering: classify one video file, rawframe directory or .npy array and
 * print the top-k classes.
 *
 * The library does the work (MactInference); this file parses options, reads the label
 * map and formats the result as "label: score" lines or JSON. */
#include "mact-cli.h"

#include <stdio.h>
#include <string.h>

/* Indices of the @k largest of @n scores, largest first (ties: lower index first, as a
 * stable descending sort). */
static void
top_k (const float *scores, guint n, guint k, guint *out)
{
  g_autofree gboolean *taken = g_new0 (gboolean, n);
  for (guint r = 0; r < k; r++)
    {
      guint best = G_MAXUINT;
      for (guint j = 0; j < n; j++)
        if (!taken[j] && (best == G_MAXUINT || scores[j] > scores[best]))
          best = j;
      taken[best] = TRUE;
      out[r] = best;
    }
}

static void
print_top (const float *scores, guint n, guint k, char **labels, const char *indent)
{
  g_autofree guint *idx = g_new (guint, k);
  top_k (scores, n, k, idx);
  for (guint r = 0; r < k; r++)
    {
      if (labels != NULL)
        printf ("%s%s: %.4f\n", indent, labels[idx[r]], scores[idx[r]]);
      else
        printf ("%s%u: %.4f\n", indent, idx[r], scores[idx[r]]);
    }
}

static JsonNode *
scores_array (const float *scores, guint n)
{
  JsonArray *a = json_array_sized_new (n);
  for (guint j = 0; j < n; j++)
    json_array_add_double_element (a, scores[j]);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, a);
  return node;
}

static JsonNode *
top_array (const float *scores, guint n, guint k, char **labels)
{
  g_autofree guint *idx = g_new (guint, k);
  top_k (scores, n, k, idx);
  JsonArray *a = json_array_sized_new (k);
  for (guint r = 0; r < k; r++)
    {
      JsonObject *o = json_object_new ();
      json_object_set_int_member (o, "index", idx[r]);
      if (labels != NULL)
        json_object_set_string_member (o, "label", labels[idx[r]]);
      json_object_set_double_member (o, "score", scores[idx[r]]);
      json_array_add_object_element (a, o);
    }
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, a);
  return node;
}

/* What the recognizer's test_cfg says now ("prob", "score", or NULL for None). */
const char *
mact_cli_average_clips (MactRecognizer *recognizer)
{
  JsonNode *cfg = mact_recognizer_get_test_cfg (recognizer);
  if (cfg == NULL || !JSON_NODE_HOLDS_OBJECT (cfg))
    return NULL;
  JsonNode *v = json_object_get_member (json_node_get_object (cfg), "average_clips");
  if (v == NULL || !JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (v);
}

int
mact_cli_infer (int argc, char **argv)
{
  g_autofree char *labels_path = NULL;
  g_autofree char *average_clips = NULL;
  gint topk = 5, threads = 0;
  gboolean as_json = FALSE;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels_path,
      "Label map: one class name per line (class index = line number - 1)", "FILE" },
    { "topk", 0, 0, G_OPTION_ARG_INT, &topk, "How many classes to print (default: 5)", "K" },
    { "average-clips", 0, 0, G_OPTION_ARG_STRING, &average_clips,
      "How views are averaged: prob (softmax), score, or none (default: the config's "
      "test_cfg.average_clips)", "MODE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "Print all scores as JSON", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Compute threads (default: MACT_NUM_THREADS, else all cores)", "N" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new ("CONFIG WEIGHTS INPUT - classify a video, a frame directory or "
                          "an array");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "CONFIG is a JSON config with \"model\" and a test pipeline (data.test.pipeline,\n"
    "test_pipeline, data.val.pipeline or val_pipeline).  WEIGHTS is a .safetensors state\n"
    "dict (see tools/convert-checkpoint.py) or a checkpoint .json from mact train.\n"
    "INPUT is one of:\n"
    "  a video file (any container and codec FFmpeg reads);\n"
    "  a directory of frames named as data.test.filename_tmpl says (img_{:05}.jpg,\n"
    "    numbered from data.test.start_index, default 1);\n"
    "  a .npy array already shaped as the recognizer's input ([V, C, H, W] for 2D\n"
    "    recognizers, [V, C, T, H, W] for 3D, optionally with a batch dimension of 1).\n"
    "Prints the top-K classes as \"label: score\" lines, best first; scores are\n"
    "probabilities with --average-clips prob.");
  g_autoptr(GError) error = NULL;
  /* "Usage: mact infer ...", not the bare subcommand name. */
  g_set_prgname ("mact infer");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("infer", error);
      return 2;
    }
  if (rest == NULL || g_strv_length (rest) != 3)
    {
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
      fprintf (stderr, "mact infer: expected CONFIG WEIGHTS INPUT\n\n%s", help);
      return 2;
    }
  if (topk < 1)
    {
      fprintf (stderr, "mact infer: --topk must be at least 1, got %d\n", topk);
      return 2;
    }
  if (average_clips != NULL && !g_str_equal (average_clips, "prob") &&
      !g_str_equal (average_clips, "score") && !g_str_equal (average_clips, "none"))
    {
      fprintf (stderr, "mact infer: --average-clips must be prob, score or none, got '%s'\n",
               average_clips);
      return 2;
    }
  if (threads > 0)
    mact_set_num_threads (threads);

  g_auto(GStrv) labels = NULL;
  if (labels_path != NULL && (labels = mact_label_map_load (labels_path, &error)) == NULL)
    return mact_cli_fail ("infer", error);

  g_autoptr(MactInference) inference =
    mact_inference_new_from_files (rest[0], rest[1], average_clips, &error);
  if (inference == NULL)
    return mact_cli_fail ("infer", error);
  g_autoptr(MactTensor) scores = mact_inference_classify_file (inference, rest[2], &error);
  if (scores == NULL)
    return mact_cli_fail ("infer", error);

  /* [K], or [views, K] when average_clips is none and there are several views. */
  const gint nd = mact_tensor_get_ndim (scores);
  const guint n_classes = (guint) mact_tensor_get_size (scores, nd - 1);
  const guint rows = nd == 2 ? (guint) mact_tensor_get_size (scores, 0) : 1;
  const float *data = mact_tensor_get_data (scores);
  if (labels != NULL && g_strv_length (labels) != n_classes)
    {
      g_autofree char *display = g_filename_display_name (labels_path);
      fprintf (stderr, "mact infer: %s: the label map has %u class names but the model "
               "gives %u scores\n", display, g_strv_length (labels), n_classes);
      return 1;
    }
  const guint k = MIN ((guint) topk, n_classes);
  const char *mode = mact_cli_average_clips (mact_inference_get_recognizer (inference));

  if (as_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "input");
      json_builder_add_string_value (b, rest[2]);
      json_builder_set_member_name (b, "average_clips");
      if (mode != NULL)
        json_builder_add_string_value (b, mode);
      else
        json_builder_add_null_value (b);
      if (labels != NULL)
        {
          json_builder_set_member_name (b, "labels");
          json_builder_begin_array (b);
          for (guint j = 0; j < n_classes; j++)
            json_builder_add_string_value (b, labels[j]);
          json_builder_end_array (b);
        }
      if (nd == 1)
        {
          json_builder_set_member_name (b, "scores");
          json_builder_add_value (b, scores_array (data, n_classes));
          json_builder_set_member_name (b, "top");
          json_builder_add_value (b, top_array (data, n_classes, k, labels));
        }
      else
        {
          /* One list per view: nothing was averaged. */
          json_builder_set_member_name (b, "scores");
          json_builder_begin_array (b);
          for (guint r = 0; r < rows; r++)
            json_builder_add_value (b, scores_array (data + (gsize) r * n_classes, n_classes));
          json_builder_end_array (b);
          json_builder_set_member_name (b, "top");
          json_builder_begin_array (b);
          for (guint r = 0; r < rows; r++)
            json_builder_add_value (b, top_array (data + (gsize) r * n_classes, n_classes, k,
                                                  labels));
          json_builder_end_array (b);
        }
      json_builder_end_object (b);
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      g_autofree char *text = json_generator_to_data (gen, NULL);
      puts (text);
    }
  else if (nd == 1)
    print_top (data, n_classes, k, labels, "");
  else
    for (guint r = 0; r < rows; r++)
      {
        printf ("view %u:\n", r);
        print_top (data + (gsize) r * n_classes, n_classes, k, labels, "  ");
      }
  fflush (stdout);
  return 0;
}
