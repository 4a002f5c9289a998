/* The shipped recognition configs (configs/recognition/<family>/<name>.json): each one
 * loads, every pipeline it has (train_pipeline, val_pipeline, test_pipeline and the
 * data.train/val/test copies) builds, the copies agree with the top-level lists and with
 * img_norm_cfg, and the test pipeline mact_inference_find_test_pipeline() picks runs on
 * small in-memory frames giving exactly the "imgs" shape mmaction2 would give.
 *
 * The expected shape is worked out here from the config's own values (SampleFrames'
 * clip_len / num_clips / twice_sample, DenseSampleFrames' num_sample_positions, Resize
 * with mmcv's rescale_size rounding, the crops, FormatShape), not taken from mact.  Each
 * config is its own cmocka test, found by walking the directory: a config added later is
 * tested without touching this file (and a step this walker does not know fails it).
 *
 * Frames: 40 constant frames, 48 high and 64 wide, RGB (100, 150, 200).  A constant image
 * stays constant through every resize and crop, so the output also checks Normalize's
 * values and channel order: channel c must be (value[c] - mean[c]) / std[c] everywhere.
 *
 * Several test pipelines make hundreds of 256x256 crops (i3d: 10 clips x 3 crops x 32
 * frames, 750 MB of output); those run with the sampler's num_clips set to 1 instead, the
 * full count of clips being checked on the untouched pipeline through
 * mact_pipeline_sample_indices(), which samples without decoding.  Under valgrind every
 * config runs that way.
 *
 * Config directory: $MACT_TEST_CONFIG_DIR if set, else $G_TEST_SRCDIR/../configs. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

#define FRAMES_T 40
#define FRAMES_H 48
#define FRAMES_W 64
/* Above this many output floats (16 MB) a test pipeline runs with one clip. */
#define FULL_RUN_MAX_NUMEL ((gint64) 4 * 1024 * 1024)

static const float frame_rgb[3] = { 100.0f, 150.0f, 200.0f };

/* ------------------------------------------------------------------ config access */

static char *
config_root (void)
{
  const char *dir = g_getenv ("MACT_TEST_CONFIG_DIR");
  if (dir != NULL && *dir != '\0')
    return g_strdup (dir);
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  assert_non_null (srcdir);
  return g_build_filename (srcdir, "..", "configs", NULL);
}

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* Every configs/recognition/<family>/<name>.json, sorted. */
static GPtrArray *
find_configs (void)
{
  g_autofree char *root = config_root ();
  g_autofree char *recognition = g_build_filename (root, "recognition", NULL);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) top = g_dir_open (recognition, 0, &error);
  if (top == NULL)
    fail_msg ("%s", error->message);
  for (const char *family; (family = g_dir_read_name (top)) != NULL;)
    {
      g_autofree char *family_dir = g_build_filename (recognition, family, NULL);
      if (!g_file_test (family_dir, G_FILE_TEST_IS_DIR))
        continue;
      g_autoptr(GDir) sub = g_dir_open (family_dir, 0, &error);
      if (sub == NULL)
        fail_msg ("%s", error->message);
      for (const char *name; (name = g_dir_read_name (sub)) != NULL;)
        if (g_str_has_suffix (name, ".json"))
          g_ptr_array_add (paths, g_build_filename (family_dir, name, NULL));
    }
  g_ptr_array_sort (paths, compare_paths);
  return paths;
}

static JsonObject *
member_object (JsonObject *obj, const char *key)
{
  if (obj == NULL || !json_object_has_member (obj, key))
    return NULL;
  JsonNode *node = json_object_get_member (obj, key);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static gint64
step_int (JsonObject *step, const char *key, gint64 dflt)
{
  if (!json_object_has_member (step, key))
    return dflt;
  return json_object_get_int_member (step, key);
}

static gboolean
step_bool (JsonObject *step, const char *key, gboolean dflt)
{
  if (!json_object_has_member (step, key))
    return dflt;
  return json_object_get_boolean_member (step, key);
}

/* mmaction2's _pair on crop_size / size: an int n is (n, n), a list is (w, h). */
static void
step_pair (JsonObject *step, const char *key, gint64 *w, gint64 *h)
{
  JsonNode *node = json_object_get_member (step, key);
  assert_non_null (node);
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      assert_int_equal (json_array_get_length (a), 2);
      *w = json_array_get_int_element (a, 0);
      *h = json_array_get_int_element (a, 1);
    }
  else
    *w = *h = json_node_get_int (node);
}

/* ------------------------------------------------------------------ expected shape */

typedef struct
{
  gint64 clips;     /* clip offsets sampled (twice_sample and dense positions included) */
  gint64 num_clips; /* results['num_clips'] as FormatShape sees it */
  gint64 clip_len;
  gint64 crops;
  gint64 h, w;
  gint   ndim;      /* of the output, 0 before FormatShape */
  gint64 shape[5];
} Expected;

/* mmcv.rescale_size((w, h), (long, short)): the largest factor that keeps the long edge
 * within @max_long and the short edge within @max_short, sizes rounded half up. */
static void
rescale_size (gint64 *w, gint64 *h, double max_long, double max_short)
{
  double factor = MIN (max_long / (double) MAX (*w, *h), max_short / (double) MIN (*w, *h));
  *w = (gint64) ((double) *w * factor + 0.5);
  *h = (gint64) ((double) *h * factor + 0.5);
}

/* Walks a test pipeline the way mmaction2 0.x would on FRAMES_T frames of
 * FRAMES_H x FRAMES_W, giving the final "imgs" shape. */
static void
expected_shape (const char *name, JsonArray *pipeline, Expected *e)
{
  memset (e, 0, sizeof *e);
  e->crops = 1;
  e->h = FRAMES_H;
  e->w = FRAMES_W;
  for (guint i = 0; i < json_array_get_length (pipeline); i++)
    {
      JsonObject *step = json_array_get_object_element (pipeline, i);
      const char *type = json_object_get_string_member (step, "type");
      if (g_str_equal (type, "SampleFrames"))
        {
          e->clip_len = step_int (step, "clip_len", -1);
          e->num_clips = step_int (step, "num_clips", 1);
          e->clips = e->num_clips * (step_bool (step, "twice_sample", FALSE) ? 2 : 1);
        }
      else if (g_str_equal (type, "DenseSampleFrames"))
        {
          e->clip_len = step_int (step, "clip_len", -1);
          e->num_clips = step_int (step, "num_clips", 1);
          /* In test mode every one of num_sample_positions starts gives num_clips clips. */
          e->clips = e->num_clips * (step_bool (step, "test_mode", FALSE)
                                     ? step_int (step, "num_sample_positions", 10) : 1);
        }
      else if (g_str_equal (type, "Resize"))
        {
          JsonArray *scale = json_object_get_array_member (step, "scale");
          assert_non_null (scale);
          gint64 sw = json_array_get_int_element (scale, 0);
          gint64 sh = json_array_get_int_element (scale, 1);
          if (step_bool (step, "keep_ratio", TRUE))
            {
              double lo = (double) MIN (sw, sh), hi = (double) MAX (sw, sh);
              if (lo == -1)
                rescale_size (&e->w, &e->h, INFINITY, hi);
              else
                rescale_size (&e->w, &e->h, hi, lo);
            }
          else
            {
              e->w = sw;
              e->h = sh;
            }
        }
      else if (g_str_equal (type, "CenterCrop") || g_str_equal (type, "ThreeCrop") ||
               g_str_equal (type, "TenCrop"))
        {
          gint64 cw, ch;
          step_pair (step, "crop_size", &cw, &ch);
          /* The frames must hold the crop: mmaction2 would slice past the edge. */
          if (cw > e->w || ch > e->h)
            fail_msg ("%s: step %u (%s) crops %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                      " from %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
                      name, i, type, cw, ch, e->w, e->h);
          e->w = cw;
          e->h = ch;
          if (g_str_equal (type, "ThreeCrop"))
            e->crops *= 3;
          else if (g_str_equal (type, "TenCrop"))
            e->crops *= 10;
        }
      else if (g_str_equal (type, "FormatShape"))
        {
          const char *fmt = json_object_get_string_member (step, "input_format");
          gint64 frames = e->crops * e->clips * e->clip_len;
          if (g_str_equal (fmt, "NCHW"))
            {
              e->ndim = 4;
              gint64 s[] = { frames, 3, e->h, e->w };
              memcpy (e->shape, s, sizeof s);
            }
          else if (g_str_equal (fmt, "NCTHW"))
            {
              e->ndim = 5;
              gint64 s[] = { frames / e->clip_len, 3, e->clip_len, e->h, e->w };
              memcpy (e->shape, s, sizeof s);
            }
          else
            fail_msg ("%s: FormatShape '%s' is not handled by this test", name, fmt);
        }
      else if (g_str_equal (type, "RawFrameDecode") || g_str_equal (type, "DecordInit") ||
               g_str_equal (type, "DecordDecode") || g_str_equal (type, "OpenCVInit") ||
               g_str_equal (type, "OpenCVDecode") || g_str_equal (type, "PyAVInit") ||
               g_str_equal (type, "PyAVDecode") || g_str_equal (type, "Flip") ||
               g_str_equal (type, "Normalize") || g_str_equal (type, "Collect") ||
               g_str_equal (type, "ToTensor"))
        ;  /* no effect on the shape */
      else
        fail_msg ("%s: test pipeline step %u (%s) is not handled by this test", name, i, type);
    }
  if (e->clips == 0 || e->clip_len <= 0 || e->ndim == 0)
    fail_msg ("%s: test pipeline has no sampler with clip_len or no FormatShape", name);
}

static gint64
expected_numel (const Expected *e)
{
  gint64 n = 1;
  for (gint i = 0; i < e->ndim; i++)
    n *= e->shape[i];
  return n;
}

/* ------------------------------------------------------------------ checks */

static MactPipeline *
build_pipeline (const char *name, const char *where, JsonNode *node)
{
  g_autoptr(GError) error = NULL;
  MactPipeline *p = mact_pipeline_new_from_config (node, &error);
  if (p == NULL)
    fail_msg ("%s: %s: %s", name, where, error->message);
  return p;
}

/* Each Normalize step carries img_norm_cfg's values, inlined as mmaction2's
 * dict(type='Normalize', **img_norm_cfg) does. */
static void
check_normalize_steps (const char *name, const char *where, JsonArray *pipeline,
                       JsonObject *norm)
{
  guint found = 0;
  for (guint i = 0; i < json_array_get_length (pipeline); i++)
    {
      JsonObject *step = json_array_get_object_element (pipeline, i);
      if (!g_str_equal (json_object_get_string_member (step, "type"), "Normalize"))
        continue;
      found++;
      const char *keys[] = { "mean", "std", "to_bgr" };
      for (gsize k = 0; k < G_N_ELEMENTS (keys); k++)
        if (!json_node_equal (json_object_get_member (step, keys[k]),
                              json_object_get_member (norm, keys[k])))
          fail_msg ("%s: %s step %u: '%s' differs from img_norm_cfg", name, where, i, keys[k]);
    }
  if (found != 1)
    fail_msg ("%s: %s has %u Normalize steps, expected 1", name, where, found);
}

/* A copy of @pipeline whose sampler draws one clip. */
static JsonNode *
with_one_clip (JsonNode *pipeline)
{
  JsonNode *copy = json_node_copy (pipeline);
  JsonArray *a = json_node_get_array (copy);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *step = json_array_get_object_element (a, i);
      const char *type = json_object_get_string_member (step, "type");
      if (g_str_equal (type, "SampleFrames") || g_str_equal (type, "DenseSampleFrames"))
        json_object_set_int_member (step, "num_clips", 1);
    }
  return copy;
}

static MactTensor *
constant_frames (void)
{
  gsize n = (gsize) FRAMES_T * FRAMES_H * FRAMES_W * 3;
  g_autofree float *data = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    data[i] = frame_rgb[i % 3];
  const gint64 shape[] = { FRAMES_T, FRAMES_H, FRAMES_W, 3 };
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (data, n, 4, shape, &error);
  assert_null (error);
  return t;
}

/* Runs @pipeline_node on the constant frames: "imgs" has @e's shape and, channel by
 * channel, the normalized frame colour; "label" is kept. */
static void
run_and_check (const char *name, JsonNode *pipeline_node, const Expected *e,
               JsonObject *norm)
{
  g_autoptr(MactPipeline) pipeline = build_pipeline (name, "test pipeline", pipeline_node);
  g_autoptr(MactTensor) frames = constant_frames ();
  g_autoptr(MactTensor) label = mact_tensor_new_scalar (3.0f);
  g_autoptr(MactGenerator) rng = mact_generator_new (7);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) out = mact_pipeline_run_array (pipeline, frames, label, rng,
                                                           &error);
  if (out == NULL)
    fail_msg ("%s: running the test pipeline: %s", name, error->message);

  MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
  assert_non_null (imgs);
  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (imgs, &ndim);
  g_autofree char *got = mact_tensor_shape_to_string (imgs);
  if (ndim != e->ndim || memcmp (shape, e->shape, sizeof (gint64) * (gsize) ndim) != 0)
    {
      g_autoptr(GString) want = g_string_new ("[");
      for (gint i = 0; i < e->ndim; i++)
        g_string_append_printf (want, "%s%" G_GINT64_FORMAT, i ? ", " : "", e->shape[i]);
      fail_msg ("%s: imgs shape %s, expected %s]", name, got, want->str);
    }

  MactTensor *out_label = mact_tensor_dict_lookup (out, "label");
  assert_non_null (out_label);
  assert_true (mact_tensor_item (out_label) == 3.0f);

  /* Channel is dim 1 in both layouts. */
  JsonArray *mean = json_object_get_array_member (norm, "mean");
  JsonArray *std = json_object_get_array_member (norm, "std");
  gboolean to_bgr = json_object_get_boolean_member (norm, "to_bgr");
  double want[3];
  for (gint c = 0; c < 3; c++)
    want[c] = (frame_rgb[to_bgr ? 2 - c : c] - json_array_get_double_element (mean, c))
              / json_array_get_double_element (std, c);
  gint64 inner = 1;
  for (gint i = 2; i < ndim; i++)
    inner *= shape[i];
  g_autofree float *values = g_new (float, mact_tensor_get_numel (imgs));
  mact_tensor_copy_to_array (imgs, values);
  for (gint64 i = 0, n = mact_tensor_get_numel (imgs); i < n; i++)
    {
      gint c = (gint) ((i / inner) % 3);
      if (fabs (values[i] - want[c]) > 1e-3 * MAX (1.0, fabs (want[c])))
        fail_msg ("%s: imgs element %" G_GINT64_FORMAT " (channel %d) is %g, expected %g",
                  name, i, c, values[i], want[c]);
    }
}

static void
test_config (void **state)
{
  const char *path = *state;
  g_autofree char *name = g_path_get_basename (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) config = mact_config_load_file (path, &error);
  if (config == NULL)
    fail_msg ("%s: %s", name, error->message);
  JsonObject *root = json_node_get_object (config);
  assert_true (json_object_has_member (root, "model"));

  JsonObject *norm = member_object (root, "img_norm_cfg");
  if (norm == NULL)
    fail_msg ("%s: no img_norm_cfg", name);
  JsonObject *data = member_object (root, "data");
  if (data == NULL)
    fail_msg ("%s: no data dict", name);
  assert_true (json_object_has_member (data, "videos_per_gpu"));
  assert_true (json_object_has_member (data, "workers_per_gpu"));

  /* Every pipeline the config has builds; data.<split>.pipeline is the top-level
   * <split>_pipeline (mmaction2's data dicts refer to those lists). */
  static const char *const splits[] = { "train", "val", "test" };
  guint n_pipelines = 0;
  for (gsize s = 0; s < G_N_ELEMENTS (splits); s++)
    {
      g_autofree char *top_key = g_strdup_printf ("%s_pipeline", splits[s]);
      g_autofree char *data_key = g_strdup_printf ("data.%s.pipeline", splits[s]);
      JsonNode *top = json_object_get_member (root, top_key);
      JsonObject *split = member_object (data, splits[s]);
      JsonNode *inner = split != NULL ? json_object_get_member (split, "pipeline") : NULL;
      if ((top == NULL) != (split == NULL))
        fail_msg ("%s: %s and data.%s: one without the other", name, top_key, splits[s]);
      if (top == NULL)
        continue;
      n_pipelines++;
      assert_non_null (inner);
      if (!json_node_equal (top, inner))
        fail_msg ("%s: %s differs from %s", name, data_key, top_key);
      const char *type = json_object_get_string_member (split, "type");
      if (!g_str_equal (type, "RawframeDataset") && !g_str_equal (type, "VideoDataset"))
        fail_msg ("%s: data.%s.type is '%s'", name, splits[s], type);
      assert_true (json_object_has_member (split, "ann_file"));
      assert_true (json_object_has_member (split, "data_prefix"));

      g_autoptr(MactPipeline) p1 = build_pipeline (name, top_key, top);
      g_autoptr(MactPipeline) p2 = build_pipeline (name, data_key, inner);
      assert_non_null (p1);
      assert_non_null (p2);
      check_normalize_steps (name, top_key, json_node_get_array (top), norm);
    }
  if (n_pipelines == 0 || !json_object_has_member (data, "test"))
    fail_msg ("%s: no test split", name);

  /* The test pipeline, as `mact infer` and mact_inference_new_from_config() find it. */
  JsonNode *test_node = mact_inference_find_test_pipeline (config, &error);
  if (test_node == NULL)
    fail_msg ("%s: %s", name, error->message);
  assert_true (json_node_equal (test_node, json_object_get_member (
                                  member_object (data, "test"), "pipeline")));
  Expected full;
  expected_shape (name, json_node_get_array (test_node), &full);

  /* The number of clips, from the untouched pipeline. */
  g_autoptr(MactPipeline) test_pipeline = build_pipeline (name, "test pipeline", test_node);
  gsize n_indices = 0;
  g_autofree gint64 *indices = mact_pipeline_sample_indices (test_pipeline, FRAMES_T, 0,
                                                             NULL, &n_indices, &error);
  if (indices == NULL)
    fail_msg ("%s: sampling: %s", name, error->message);
  assert_int_equal (n_indices, full.clips * full.clip_len);
  for (gsize i = 0; i < n_indices; i++)
    if (indices[i] < 0 || indices[i] >= FRAMES_T)
      fail_msg ("%s: sampled index %" G_GINT64_FORMAT " outside the %d frames",
                name, indices[i], FRAMES_T);

  if (expected_numel (&full) <= FULL_RUN_MAX_NUMEL &&
      g_getenv ("MACT_TEST_UNDER_VALGRIND") == NULL)
    run_and_check (name, test_node, &full, norm);
  else
    {
      g_autoptr(JsonNode) one = with_one_clip (test_node);
      Expected e1;
      expected_shape (name, json_node_get_array (one), &e1);
      /* Only the clip count differs from the full run. */
      assert_int_equal (e1.shape[0] * full.num_clips, full.shape[0]);
      run_and_check (name, one, &e1, norm);
    }
}

/* The walker itself, on hand-computed cases: mmcv's rounding and the view counts. */
static void
test_expected_shape_walker (void **state)
{
  (void) state;
  g_autoptr(GError) error = NULL;
  Expected e;

  /* (-1, 256) on 64x48: factor 256/48, width int(341.33 + 0.5) = 341; ThreeCrop 256
   * fits; NCTHW: 3 crops x 10 clips views of 32 frames. */
  g_autoptr(JsonNode) a = json_from_string (
    "[{\"type\": \"SampleFrames\", \"clip_len\": 32, \"frame_interval\": 2,"
    "  \"num_clips\": 10, \"test_mode\": true},"
    " {\"type\": \"Resize\", \"scale\": [-1, 256]},"
    " {\"type\": \"ThreeCrop\", \"crop_size\": 256},"
    " {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"}]", &error);
  assert_null (error);
  expected_shape ("a", json_node_get_array (a), &e);
  assert_int_equal (e.ndim, 5);
  const gint64 sa[] = { 30, 3, 32, 256, 256 };
  assert_memory_equal (e.shape, sa, sizeof sa);

  /* (128, 171) keeping the ratio on 64x48: min(171/64, 128/48) = 2.6667 -> 171x128. */
  g_autoptr(JsonNode) b = json_from_string (
    "[{\"type\": \"SampleFrames\", \"clip_len\": 16, \"num_clips\": 1},"
    " {\"type\": \"Resize\", \"scale\": [128, 171]},"
    " {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"}]", &error);
  assert_null (error);
  expected_shape ("b", json_node_get_array (b), &e);
  const gint64 sb[] = { 1, 3, 16, 128, 171 };
  assert_memory_equal (e.shape, sb, sizeof sb);

  /* Dense test sampling: 10 positions x 8 clips, TenCrop, NCHW: 800 frames. */
  g_autoptr(JsonNode) c = json_from_string (
    "[{\"type\": \"DenseSampleFrames\", \"clip_len\": 1, \"num_clips\": 8,"
    "  \"test_mode\": true},"
    " {\"type\": \"Resize\", \"scale\": [224, 224], \"keep_ratio\": false},"
    " {\"type\": \"TenCrop\", \"crop_size\": 224},"
    " {\"type\": \"FormatShape\", \"input_format\": \"NCHW\"}]", &error);
  assert_null (error);
  expected_shape ("c", json_node_get_array (c), &e);
  const gint64 sc[] = { 800, 3, 224, 224 };
  assert_memory_equal (e.shape, sc, sizeof sc);

  /* twice_sample doubles the clips (8 -> 16 frames of clip_len 1). */
  g_autoptr(JsonNode) d = json_from_string (
    "[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"num_clips\": 8,"
    "  \"twice_sample\": true, \"test_mode\": true},"
    " {\"type\": \"CenterCrop\", \"crop_size\": [40, 32]},"
    " {\"type\": \"FormatShape\", \"input_format\": \"NCHW\"}]", &error);
  assert_null (error);
  expected_shape ("d", json_node_get_array (d), &e);
  const gint64 sd[] = { 16, 3, 32, 40 };
  assert_memory_equal (e.shape, sd, sizeof sd);
}

int
main (void)
{
  mact_test_init ();
  g_autoptr(GPtrArray) paths = find_configs ();
  if (paths->len == 0)
    {
      g_printerr ("no configs found under the config directory\n");
      return 1;
    }
  g_autoptr(GArray) tests = g_array_new (FALSE, TRUE, sizeof (struct CMUnitTest));
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct CMUnitTest walker = cmocka_unit_test (test_expected_shape_walker);
  g_array_append_val (tests, walker);
  for (guint i = 0; i < paths->len; i++)
    {
      char *base = g_path_get_basename (paths->pdata[i]);
      char *test_name = g_strdup_printf ("test_config_%.*s", (int) (strlen (base) - 5), base);
      g_free (base);
      g_ptr_array_add (names, test_name);
      struct CMUnitTest t = {
        .name = test_name,
        .test_func = test_config,
        .initial_state = paths->pdata[i],
      };
      g_array_append_val (tests, t);
    }
  return _cmocka_run_group_tests ("configs", (struct CMUnitTest *) tests->data, tests->len,
                                  NULL, NULL);
}
