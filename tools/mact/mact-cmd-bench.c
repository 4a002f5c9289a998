/* mact-cmd-bench.c: `mact bench CONFIG`, inference latency and throughput of a
 * recognizer on random input: the numbers the performance work is measured by.
 *
 * For each input shape: one cold forward, --warmup untimed ones, then --iters timed
 * ones.  Reported: the median latency (and min, max), throughput in clips/s (N * V views
 * per forward: clips for 3D recognizers, frames or segments for 2D ones) and samples/s,
 * and once, the time to the first result (from the start of the command: config, model
 * build, weights, first forward).  Without --shape the shape is the one the config's test
 * pipeline gives for a random clip of 64 frames of 240x320 (the time that takes is left
 * out of the time to the first result). */
#include "mact-cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  gint   ndim;
  gint64 shape[MACT_MAX_DIMS];
} Shape;

static gboolean
parse_shape (const char *text, Shape *out, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  const guint n = g_strv_length (parts);
  if (n < 2 || n > MACT_MAX_DIMS)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--shape '%s': expected 2 to %d comma-separated sizes "
                   "(N,V,C,H,W for 2D recognizers, N,V,C,T,H,W for 3D)", text, MACT_MAX_DIMS);
      return FALSE;
    }
  out->ndim = (gint) n;
  for (guint i = 0; i < n; i++)
    {
      guint64 v;
      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 1 << 20, &v, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--shape '%s': '%s' is not a positive size", text, parts[i]);
          return FALSE;
        }
      out->shape[i] = (gint64) v;
    }
  return TRUE;
}

static char *
shape_text (const Shape *s)
{
  GString *str = g_string_new (NULL);
  for (gint i = 0; i < s->ndim; i++)
    g_string_append_printf (str, "%s%" G_GINT64_FORMAT, i ? "," : "", s->shape[i]);
  return g_string_free (str, FALSE);
}

/* The test pipeline's output for a random 64-frame 240x320 clip, with a batch of one. */
static gboolean
shape_from_pipeline (JsonNode *config, Shape *out, GError **error)
{
  JsonNode *pipeline_cfg = mact_inference_find_test_pipeline (config, error);
  if (pipeline_cfg == NULL)
    return FALSE;
  g_autoptr(MactPipeline) pipeline = mact_pipeline_new_from_config (pipeline_cfg, error);
  if (pipeline == NULL)
    return FALSE;
  const gint64 frames_shape[] = { 64, 240, 320, 3 };
  g_autoptr(MactTensor) frames = mact_tensor_new_empty (4, frames_shape, error);
  if (frames == NULL)
    return FALSE;
  g_autoptr(MactGenerator) rng = mact_generator_new (0);
  mact_tensor_uniform_ (frames, rng, 0.0, 255.0);
  g_autoptr(MactTensorDict) result = mact_pipeline_run_array (pipeline, frames, NULL, rng,
                                                              error);
  if (result == NULL)
    return FALSE;
  MactTensor *imgs = mact_tensor_dict_lookup (result, "imgs");
  if (imgs == NULL || mact_tensor_get_ndim (imgs) + 1 > MACT_MAX_DIMS)
    {
      g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                           "the test pipeline gives no usable \"imgs\"");
      return FALSE;
    }
  gint nd;
  const gint64 *shape = mact_tensor_get_shape (imgs, &nd);
  out->ndim = nd + 1;
  out->shape[0] = 1;
  memcpy (out->shape + 1, shape, nd * sizeof (gint64));
  return TRUE;
}

static int
compare_doubles (const void *a, const void *b)
{
  const double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

int
mact_cli_bench (int argc, char **argv)
{
  const double t_start = now_ms ();
  g_auto(GStrv) shape_args = NULL;
  g_autofree char *weights = NULL;
  g_autofree char *average_clips = NULL;
  gint threads = 0, iters = 10, warmup = 2;
  gint64 seed = 0;
  gboolean as_json = FALSE;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "shape", 0, 0, G_OPTION_ARG_STRING_ARRAY, &shape_args,
      "Input shape N,V,C,H,W (2D) or N,V,C,T,H,W (3D); repeat for several (default: "
      "what the config's test pipeline gives)", "SHAPE" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "Compute threads (default: MACT_NUM_THREADS, else all cores)", "N" },
    { "iters", 0, 0, G_OPTION_ARG_INT, &iters, "Timed forwards per shape (default: 10)", "K" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup,
      "Untimed forwards per shape after the first (default: 2)", "W" },
    { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights,
      "Weights (.safetensors or checkpoint .json; default: random initialisation)", "FILE" },
    { "average-clips", 0, 0, G_OPTION_ARG_STRING, &average_clips,
      "prob, score or none (default: the config's)", "MODE" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the random weights and input", "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "Print the results as JSON", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx =
    g_option_context_new ("CONFIG - measure inference latency and throughput");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Runs forward_test on random input without autograd: one cold run, W warm-up runs,\n"
    "then K timed runs per shape.  Reports the median latency, throughput in clips/s\n"
    "(N*V views per run) and samples/s, and the time from start to the first result\n"
    "(config, model, weights and the first forward).");
  g_autoptr(GError) error = NULL;
  /* "Usage: mact bench ...", not the bare subcommand name. */
  g_set_prgname ("mact bench");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("bench", error);
      return 2;
    }
  if (rest == NULL || g_strv_length (rest) != 1)
    {
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
      fprintf (stderr, "mact bench: expected exactly one CONFIG\n\n%s", help);
      return 2;
    }
  if (iters < 1 || warmup < 0 || seed < 0)
    {
      fprintf (stderr, "mact bench: --iters must be at least 1, --warmup and --seed at "
               "least 0\n");
      return 2;
    }
  g_autoptr(GArray) shapes = g_array_new (FALSE, FALSE, sizeof (Shape));
  for (guint i = 0; shape_args != NULL && shape_args[i] != NULL; i++)
    {
      Shape s;
      if (!parse_shape (shape_args[i], &s, &error))
        {
          mact_cli_fail ("bench", error);
          return 2;
        }
      g_array_append_val (shapes, s);
    }
  if (threads > 0)
    mact_set_num_threads (threads);

  g_autoptr(JsonNode) config = mact_config_load_file (rest[0], &error);
  if (config == NULL)
    return mact_cli_fail ("bench", error);
  mact_manual_seed ((guint64) seed);
  g_autoptr(MactInference) inference =
    mact_inference_new_from_config (config, weights, average_clips, &error);
  if (inference == NULL)
    {
      if (error->domain == MACT_CONFIG_ERROR || error->domain == MACT_REGISTRY_ERROR)
        g_prefix_error (&error, "%s: ", rest[0]);
      return mact_cli_fail ("bench", error);
    }
  MactRecognizer *recognizer = mact_inference_get_recognizer (inference);
  const double t_built = now_ms ();

  /* Deriving the shape runs the pipeline on a made-up clip: not part of the time to
   * the first result, which is what a user's first inference would wait for. */
  double t_derive = 0;
  if (shapes->len == 0)
    {
      const double t0 = now_ms ();
      Shape s;
      if (!shape_from_pipeline (config, &s, &error))
        {
          g_prefix_error (&error, "%s: no --shape given and none from the test pipeline: ",
                          rest[0]);
          return mact_cli_fail ("bench", error);
        }
      g_array_append_val (shapes, s);
      t_derive = now_ms () - t0;
    }

  g_autoptr(MactGenerator) rng = mact_generator_new ((guint64) seed + 1);
  g_autoptr(JsonArray) results = json_array_new ();
  double first_result = -1, first_forward = 0;
  if (!as_json)
    printf ("%s: %s, weights %s, %d threads\n", rest[0], G_OBJECT_TYPE_NAME (recognizer),
            weights ? weights : "random", mact_get_num_threads ());

  for (guint si = 0; si < shapes->len; si++)
    {
      const Shape *s = &g_array_index (shapes, Shape, si);
      g_autofree char *text = shape_text (s);
      g_autoptr(MactTensor) input = mact_tensor_new_empty (s->ndim, s->shape, &error);
      if (input == NULL)
        return mact_cli_fail ("bench", error);
      mact_tensor_normal_ (input, rng, 0.0, 1.0);
      const gint64 batch = s->shape[0];
      const gint64 views = s->ndim > 1 ? s->shape[1] : 1;

      g_autofree double *times = g_new (double, iters);
      for (gint it = -1 - warmup; it < iters; it++)
        {
          const double t0 = now_ms ();
          g_autoptr(MactTensor) scores = NULL;
          MACT_NO_GRAD_BEGIN;
          scores = mact_recognizer_forward_test (recognizer, input, &error);
          MACT_NO_GRAD_END;
          const double t1 = now_ms ();
          if (scores == NULL)
            {
              g_prefix_error (&error, "shape %s: ", text);
              return mact_cli_fail ("bench", error);
            }
          if (first_result < 0)
            {
              first_result = t1 - t_start - t_derive;
              first_forward = t1 - t0;
            }
          if (it >= 0)
            times[it] = t1 - t0;
        }
      double sum = 0;
      for (gint i = 0; i < iters; i++)
        sum += times[i];
      qsort (times, iters, sizeof (double), compare_doubles);
      const double median = iters % 2 ? times[iters / 2]
                                      : (times[iters / 2 - 1] + times[iters / 2]) / 2;
      const double mean = sum / iters;
      const double clips_per_s = 1000.0 * batch * views / mean;
      const double samples_per_s = 1000.0 * batch / mean;

      JsonObject *r = json_object_new ();
      json_object_set_string_member (r, "shape", text);
      json_object_set_int_member (r, "iters", iters);
      json_object_set_double_member (r, "median_ms", median);
      json_object_set_double_member (r, "min_ms", times[0]);
      json_object_set_double_member (r, "max_ms", times[iters - 1]);
      json_object_set_double_member (r, "mean_ms", mean);
      json_object_set_double_member (r, "clips_per_s", clips_per_s);
      json_object_set_double_member (r, "samples_per_s", samples_per_s);
      json_array_add_object_element (results, r);
      if (!as_json)
        printf ("shape %s: median %.2f ms (min %.2f, max %.2f, %d runs), %.2f clips/s, "
                "%.2f samples/s\n", text, median, times[0], times[iters - 1], iters,
                clips_per_s, samples_per_s);
    }

  if (as_json)
    {
      g_autoptr(JsonObject) root = json_object_new ();
      json_object_set_string_member (root, "config", rest[0]);
      json_object_set_string_member (root, "recognizer", G_OBJECT_TYPE_NAME (recognizer));
      if (weights != NULL)
        json_object_set_string_member (root, "weights", weights);
      else
        json_object_set_null_member (root, "weights");
      json_object_set_int_member (root, "threads", mact_get_num_threads ());
      json_object_set_double_member (root, "time_to_first_result_ms", first_result);
      json_object_set_double_member (root, "build_ms", t_built - t_start);
      json_object_set_double_member (root, "first_forward_ms", first_forward);
      json_object_set_array_member (root, "results", json_array_ref (results));
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (node, root);
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      json_generator_set_root (gen, node);
      json_generator_set_pretty (gen, TRUE);
      g_autofree char *out = json_generator_to_data (gen, NULL);
      puts (out);
    }
  else
    printf ("time to first result: %.1f ms (config, model and weights %.1f ms, first "
            "forward %.1f ms)\n", first_result, t_built - t_start, first_forward);
  fflush (stdout);
  return 0;
}
