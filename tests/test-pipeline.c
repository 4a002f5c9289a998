/* MactPipeline: mmaction2's data pipelines.  Frame indices of the samplers, crop boxes,
 * resize shapes and pixels, whole pipelines, against tests/data/pipeline/ (written by
 * tests/fixtures/gen_pipeline.py from mmaction2's formulas, torch's interpolate for the
 * resize reference); random steps by range, statistics and determinism; every config and
 * run-time error; the rawframe and video entry points. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ fixtures */

static JsonNode       *cases_root;    /* cases.json */
static MactTensorDict *pixels;        /* pixels.safetensors */

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "pipeline", name, NULL);
}

static int
load_fixtures (void **state)
{
  g_autofree char *cases = data_path ("cases.json");
  g_autofree char *pix = data_path ("pixels.safetensors");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, cases, &error))
    {
      print_error ("cannot read %s: %s\n", cases, error->message);
      return -1;
    }
  cases_root = json_node_copy (json_parser_get_root (parser));
  pixels = mact_safetensors_load (pix, NULL, &error);
  if (pixels == NULL)
    {
      print_error ("cannot read %s: %s\n", pix, error->message);
      return -1;
    }
  return 0;
}

static int
free_fixtures (void **state)
{
  g_clear_pointer (&cases_root, json_node_unref);
  g_clear_pointer (&pixels, mact_tensor_dict_unref);
  return 0;
}

static JsonArray *
section (const char *name)
{
  return json_object_get_array_member (json_node_get_object (cases_root), name);
}

static MactTensor *
pixel (const char *key)
{
  MactTensor *t = mact_tensor_dict_lookup (pixels, key);
  if (t == NULL)
    fail_msg ("pixels.safetensors has no '%s'", key);
  return t;
}

static char *
node_to_string (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

/* ------------------------------------------------------------------ helpers */

static MactPipeline *
try_build (const char *json, GError **error)
{
  g_autoptr(JsonNode) node = json_from_string (json, error);
  if (node == NULL)
    return NULL;
  return mact_pipeline_new_from_config (node, error);
}

static MactPipeline *
build (const char *json)
{
  g_autoptr(GError) error = NULL;
  MactPipeline *p = try_build (json, &error);
  if (p == NULL)
    fail_msg ("building %s: %s", json, error->message);
  return p;
}

/* [step, ArrayDecode]: what the sampler tests run. */
static MactPipeline *
build_sampler (JsonNode *step)
{
  g_autofree char *s = node_to_string (step);
  g_autofree char *json = g_strdup_printf ("[%s, {\"type\": \"ArrayDecode\"}]", s);
  return build (json);
}

/* [SampleFrames(clip_len=T, test_mode), ArrayDecode, step]: a step on all T frames. */
static MactPipeline *
build_on_frames (gint64 n_frames, const char *step_json)
{
  g_autofree char *json =
    g_strdup_printf ("[{\"type\": \"SampleFrames\", \"clip_len\": %" G_GINT64_FORMAT ", "
                     "\"test_mode\": true}, {\"type\": \"ArrayDecode\"}, %s]",
                     n_frames, step_json);
  return build (json);
}

static MactTensorDict *
run_array (MactPipeline *p, MactTensor *frames, MactTensor *label, guint64 seed)
{
  g_autoptr(MactGenerator) rng = mact_generator_new (seed);
  g_autoptr(GError) error = NULL;
  MactTensorDict *out = mact_pipeline_run_array (p, frames, label, rng, &error);
  if (out == NULL)
    fail_msg ("run_array: %s", error->message);
  return out;
}

/* Frames whose pixels are their coordinates: R = x, G = y, B = frame index. */
static MactTensor *
coordinate_frames (gint64 t, gint64 h, gint64 w)
{
  gint64 shape[4] = { t, h, w, 3 };
  MactTensor *frames = mact_tensor_new_empty (4, shape, NULL);
  float *d = mact_tensor_get_data (frames);
  for (gint64 i = 0; i < t; i++)
    for (gint64 y = 0; y < h; y++)
      for (gint64 x = 0; x < w; x++)
        {
          float *px = d + ((i * h + y) * w + x) * 3;
          px[0] = (float) x;
          px[1] = (float) y;
          px[2] = (float) i;
        }
  return frames;
}

static void
assert_shape (MactTensor *t, gint ndim, const gint64 *expected, const char *what)
{
  gint got_ndim;
  const gint64 *shape = mact_tensor_get_shape (t, &got_ndim);
  g_autofree char *got = mact_tensor_shape_to_string (t);
  if (got_ndim != ndim)
    fail_msg ("%s: shape %s, expected %d dims", what, got, ndim);
  for (gint i = 0; i < ndim; i++)
    if (shape[i] != expected[i])
      fail_msg ("%s: shape %s, dim %d expected %" G_GINT64_FORMAT, what, got, i, expected[i]);
}

static double
max_abs_diff (MactTensor *a, MactTensor *b)
{
  g_autoptr(MactTensor) ca = mact_tensor_contiguous (a);
  g_autoptr(MactTensor) cb = mact_tensor_contiguous (b);
  const float *x = mact_tensor_get_data (ca), *y = mact_tensor_get_data (cb);
  double m = 0;
  for (gint64 i = 0; i < mact_tensor_get_numel (ca); i++)
    m = MAX (m, fabs ((double) x[i] - (double) y[i]));
  return m;
}

static void
assert_pixels (MactTensor *got, MactTensor *expected, double tol, const char *what)
{
  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (expected, &ndim);
  assert_shape (got, ndim, shape, what);
  double d = max_abs_diff (got, expected);
  if (d > tol)
    fail_msg ("%s: max |got - expected| = %g > %g", what, d, tol);
}

static gint64
json_int (JsonObject *o, const char *key)
{
  return json_object_get_int_member (o, key);
}

static gint64 *
sample (MactPipeline *p, gint64 total, gint start_index, guint64 seed, gsize *n)
{
  g_autoptr(MactGenerator) rng = mact_generator_new (seed);
  g_autoptr(GError) error = NULL;
  gint64 *inds = mact_pipeline_sample_indices (p, total, start_index, rng, n, &error);
  if (inds == NULL)
    fail_msg ("sample_indices (%" G_GINT64_FORMAT "): %s", total, error->message);
  return inds;
}

static void
assert_indices (const gint64 *got, gsize n, JsonArray *expected, const char *what)
{
  guint n_exp = json_array_get_length (expected);
  if (n != n_exp)
    fail_msg ("%s: %" G_GSIZE_FORMAT " indices, expected %u", what, n, n_exp);
  for (guint i = 0; i < n_exp; i++)
    if (got[i] != json_array_get_int_element (expected, i))
      fail_msg ("%s: index %u is %" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT, what, i,
                got[i], json_array_get_int_element (expected, i));
}

/* ------------------------------------------------------------------ sampling */

/* Test mode of SampleFrames (several lengths x TSN/TSM/I3D/SlowOnly-like configs,
 * twice_sample, loop and repeat_last, start_index 0 and 1), DenseSampleFrames and
 * UntrimmedSampleFrames, against gen_pipeline.py's re-implementation. */
static void
test_sample_frames_test_mode (void **state)
{
  JsonArray *cases = section ("sample_frames");
  assert_true (json_array_get_length (cases) > 100);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autoptr(MactPipeline) p = build_sampler (json_object_get_member (c, "step"));
      gsize n;
      g_autofree gint64 *inds = sample (p, json_int (c, "total_frames"),
                                        (gint) json_int (c, "start_index"), i, &n);
      g_autofree char *step = node_to_string (json_object_get_member (c, "step"));
      g_autofree char *what = g_strdup_printf ("sample_frames case %u (%s, T=%" G_GINT64_FORMAT
                                               ")", i, step, json_int (c, "total_frames"));
      assert_indices (inds, n, json_object_get_array_member (c, "expected"), what);
    }
}

/* Train mode where a short video makes the offsets deterministic (np.around's
 * half-to-even included), exactly. */
static void
test_sample_frames_train_fallbacks (void **state)
{
  JsonArray *cases = section ("train_fallbacks");
  assert_true (json_array_get_length (cases) > 20);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autoptr(MactPipeline) p = build_sampler (json_object_get_member (c, "step"));
      for (guint64 seed = 0; seed < 3; seed++)
        {
          gsize n;
          g_autofree gint64 *inds = sample (p, json_int (c, "total_frames"), 0, seed, &n);
          g_autofree char *what = g_strdup_printf ("train fallback case %u", i);
          assert_indices (inds, n, json_object_get_array_member (c, "expected"), what);
        }
    }
}

/* Train mode with random offsets: every offset in its range (sorted in the
 * randint-and-sort branch), the clip built from it, the draws varying with the seed and
 * repeating for the same seed. */
static void
test_sample_frames_train_random (void **state)
{
  JsonArray *cases = section ("train_ranges");
  assert_true (json_array_get_length (cases) > 10);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      JsonObject *step = json_object_get_object_member (c, "step");
      JsonArray *lo = json_object_get_array_member (c, "offset_low");
      JsonArray *hi = json_object_get_array_member (c, "offset_high");
      gboolean sorted = json_object_get_boolean_member (c, "sorted");
      gint64 total = json_int (c, "total_frames");
      gint64 clip_len = json_int (step, "clip_len");
      gint64 interval = json_int (step, "frame_interval");
      guint nc = json_array_get_length (lo);
      g_autoptr(MactPipeline) p = build_sampler (json_object_get_member (c, "step"));

      gint64 first_seen = -1;
      gboolean varied = FALSE;
      for (guint64 seed = 0; seed < 40; seed++)
        {
          gsize n;
          g_autofree gint64 *inds = sample (p, total, 0, seed, &n);
          assert_int_equal (n, nc * clip_len);
          for (guint k = 0; k < nc; k++)
            {
              gint64 off = inds[k * clip_len];
              if (off < json_array_get_int_element (lo, k) ||
                  off > json_array_get_int_element (hi, k))
                fail_msg ("train case %u clip %u: offset %" G_GINT64_FORMAT " outside [%"
                          G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", i, k, off,
                          json_array_get_int_element (lo, k),
                          json_array_get_int_element (hi, k));
              if (sorted && k > 0)
                assert_true (inds[(k - 1) * clip_len] <= off);
              for (gint64 j = 0; j < clip_len; j++)
                assert_int_equal (inds[k * clip_len + j], (off + j * interval) % total);
            }
          if (first_seen < 0)
            first_seen = inds[0];
          else if (inds[0] != first_seen)
            varied = TRUE;

          gsize n2;
          g_autofree gint64 *again = sample (p, total, 0, seed, &n2);
          assert_memory_equal (inds, again, n * sizeof (gint64));
        }
      /* (keep_tail_frames' bound is loose by one: its draw is in [lo, lo + avg).) */
      if (json_array_get_int_element (hi, 0) - json_array_get_int_element (lo, 0) >= 2)
        assert_true (varied);
    }
}

/* The uniform draw: over many runs of TSN's 8-segment train sampling on 80 frames,
 * each segment offset takes every value of its 10-frame segment, with a mean near the
 * middle. */
static void
test_sample_frames_train_statistics (void **state)
{
  g_autoptr(MactPipeline) p =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"num_clips\": 8},"
           " {\"type\": \"DecordDecode\"}]");
  g_autoptr(MactGenerator) rng = mact_generator_new (7);
  guint counts[8][10] = { { 0 } };
  double sum = 0;
  const guint runs = 2000;
  for (guint r = 0; r < runs; r++)
    {
      gsize n;
      g_autoptr(GError) error = NULL;
      g_autofree gint64 *inds = mact_pipeline_sample_indices (p, 80, 0, rng, &n, &error);
      assert_non_null (inds);
      for (guint k = 0; k < 8; k++)
        {
          gint64 within = inds[k] - 10 * k;
          assert_true (within >= 0 && within < 10);
          counts[k][within]++;
          sum += (double) within;
        }
    }
  for (guint k = 0; k < 8; k++)
    for (guint v = 0; v < 10; v++)
      assert_true (counts[k][v] > runs / 20);    /* expected runs / 10 */
  double mean = sum / (runs * 8);
  assert_true (fabs (mean - 4.5) < 0.15);
}

/* temporal_jitter adds randint(frame_interval) to each index; DenseSampleFrames' train
 * start is random in [0, sample_position - 1). */
static void
test_sample_frames_jitter_and_dense (void **state)
{
  g_autoptr(MactPipeline) jitter =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 3, \"frame_interval\": 4,"
           "  \"num_clips\": 2, \"test_mode\": true, \"temporal_jitter\": true},"
           " {\"type\": \"ArrayDecode\"}]");
  gboolean moved = FALSE;
  for (guint64 seed = 0; seed < 20; seed++)
    {
      gsize n;
      g_autofree gint64 *inds = sample (jitter, 100, 0, seed, &n);
      assert_int_equal (n, 6);
      /* test offsets: avg = 89 / 2 = 44.5 -> 22, 66 */
      const gint64 base[2] = { 22, 66 };
      for (guint k = 0; k < 2; k++)
        for (guint j = 0; j < 3; j++)
          {
            gint64 d = inds[k * 3 + j] - (base[k] + 4 * j);
            assert_true (d >= 0 && d < 4);
            moved |= d != 0;
          }
    }
  assert_true (moved);

  g_autoptr(MactPipeline) dense =
    build ("[{\"type\": \"DenseSampleFrames\", \"clip_len\": 1, \"num_clips\": 8},"
           " {\"type\": \"ArrayDecode\"}]");
  gboolean started_late = FALSE;
  for (guint64 seed = 0; seed < 20; seed++)
    {
      gsize n;
      g_autofree gint64 *inds = sample (dense, 300, 0, seed, &n);
      assert_int_equal (n, 8);
      gint64 start = inds[0];
      assert_true (start >= 0 && start <= 300 - 64 - 1);
      for (guint k = 0; k < 8; k++)
        assert_int_equal (inds[k], (start + 8 * k) % 300);
      started_late |= start > 0;
    }
  assert_true (started_late);

  /* A video shorter than sample_range: start 0, indices wrap. */
  gsize n;
  g_autofree gint64 *inds = sample (dense, 20, 0, 3, &n);
  const gint64 wrapped[8] = { 0, 8, 16, 4, 12, 0, 8, 16 };
  assert_memory_equal (inds, wrapped, sizeof wrapped);
}

/* ------------------------------------------------------------------ crops */

/* Asserts that frames [first, first + n_frames) of @out hold box (x, y) of the
 * coordinate frames, mirrored when @mirror. */
static void
assert_box (MactTensor *out, gint64 first, gint64 n_frames, gint64 x, gint64 y,
            gboolean mirror, const char *what)
{
  const gint64 *shape = mact_tensor_get_shape (out, NULL);
  gint64 ch = shape[1], cw = shape[2];
  const float *d = mact_tensor_get_data (out);
  for (gint64 t = 0; t < n_frames; t++)
    for (gint64 r = 0; r < ch; r++)
      for (gint64 c = 0; c < cw; c++)
        {
          const float *px = d + (((first + t) * ch + r) * cw + c) * 3;
          float ex = (float) (x + (mirror ? cw - 1 - c : c));
          if (px[0] != ex || px[1] != (float) (y + r) || px[2] != (float) t)
            fail_msg ("%s: frame %" G_GINT64_FORMAT " pixel (%" G_GINT64_FORMAT ", %"
                      G_GINT64_FORMAT ") is (%g, %g, %g), expected (%g, %" G_GINT64_FORMAT
                      ", %" G_GINT64_FORMAT ")", what, first + t, c, r, px[0], px[1], px[2],
                      ex, y + r, t);
        }
}

/* CenterCrop, ThreeCrop, TenCrop (crop-major order, each crop followed by its mirror)
 * boxes against the formulas. */
static void
test_fixed_crops (void **state)
{
  JsonArray *cases = section ("crops");
  guint checked = 0;
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      if (!json_object_has_member (c, "boxes"))
        continue;
      g_autofree char *step = node_to_string (json_object_get_member (c, "step"));
      g_autoptr(MactPipeline) p = build_on_frames (2, step);
      g_autoptr(MactTensor) frames = coordinate_frames (2, json_int (c, "img_h"),
                                                        json_int (c, "img_w"));
      g_autoptr(MactTensorDict) out = run_array (p, frames, NULL, i);
      MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
      JsonArray *boxes = json_object_get_array_member (c, "boxes");
      guint nb = json_array_get_length (boxes);
      for (guint b = 0; b < nb; b++)
        {
          JsonArray *box = json_array_get_array_element (boxes, b);
          gint64 expected[4] = { 2 * (gint64) nb, json_array_get_int_element (box, 3),
                                 json_array_get_int_element (box, 2), 3 };
          assert_shape (imgs, 4, expected, step);
          g_autofree char *what = g_strdup_printf ("%s box %u", step, b);
          assert_box (imgs, 2 * b, 2, json_array_get_int_element (box, 0),
                      json_array_get_int_element (box, 1),
                      json_array_get_int_element (box, 4) != 0, what);
        }
      checked++;
    }
  assert_true (checked >= 12);
}

/* MultiScaleCrop with fixed crops: every draw is one of the candidate boxes, the same
 * for the same seed, and the draws cover all candidates; with random_crop the box lies
 * anywhere inside, with a candidate size. */
static void
test_multi_scale_crop (void **state)
{
  JsonArray *cases = section ("crops");
  guint checked = 0;
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      if (!json_object_has_member (c, "candidates"))
        continue;
      gint64 h = json_int (c, "img_h"), w = json_int (c, "img_w");
      JsonArray *cands = json_object_get_array_member (c, "candidates");
      guint nc = json_array_get_length (cands);
      g_autofree gboolean *seen = g_new0 (gboolean, nc);
      g_autofree char *step = node_to_string (json_object_get_member (c, "step"));
      g_autoptr(MactPipeline) p = build_on_frames (1, step);
      g_autoptr(MactTensor) frames = coordinate_frames (1, h, w);
      const guint64 draws = nc <= 40 ? 600 : 60;

      for (guint64 seed = 0; seed < draws; seed++)
        {
          g_autoptr(MactTensorDict) out = run_array (p, frames, NULL, seed);
          MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
          const gint64 *shape = mact_tensor_get_shape (imgs, NULL);
          const float *d = mact_tensor_get_data (imgs);
          gint64 x = (gint64) d[0], y = (gint64) d[1], ch = shape[1], cw = shape[2];
          assert_box (imgs, 0, 1, x, y, FALSE, step);
          gboolean found = FALSE;
          for (guint k = 0; k < nc && !found; k++)
            {
              JsonArray *b = json_array_get_array_element (cands, k);
              if (json_array_get_int_element (b, 0) == x &&
                  json_array_get_int_element (b, 1) == y &&
                  json_array_get_int_element (b, 2) == cw &&
                  json_array_get_int_element (b, 3) == ch)
                found = seen[k] = TRUE;
            }
          if (!found)
            fail_msg ("%s: box (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                      ", %" G_GINT64_FORMAT ") is not a candidate", step, x, y, cw, ch);
          g_autoptr(MactTensorDict) again = run_array (p, frames, NULL, seed);
          assert_pixels (mact_tensor_dict_lookup (again, "imgs"), imgs, 0, "same seed");
        }
      if (nc <= 40)
        for (guint k = 0; k < nc; k++)
          assert_true (seen[k]);
      checked++;
    }
  assert_int_equal (checked, 3);

  g_autoptr(MactPipeline) random =
    build_on_frames (1, "{\"type\": \"MultiScaleCrop\", \"input_size\": 8, "
                        "\"scales\": [1, 0.875, 0.75, 0.66], \"random_crop\": true}");
  g_autoptr(MactTensor) frames = coordinate_frames (1, 13, 17);
  gboolean odd_x = FALSE;
  for (guint64 seed = 0; seed < 100; seed++)
    {
      g_autoptr(MactTensorDict) out = run_array (random, frames, NULL, seed);
      MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
      const gint64 *shape = mact_tensor_get_shape (imgs, NULL);
      const float *d = mact_tensor_get_data (imgs);
      gint64 x = (gint64) d[0], y = (gint64) d[1];
      /* sizes int(13 * s) = 13, 11, 9 -> 8 (snapped), 8 */
      assert_true (shape[1] == 13 || shape[1] == 11 || shape[1] == 8);
      assert_true (shape[2] == 13 || shape[2] == 11 || shape[2] == 8);
      assert_true (x + shape[2] <= 17 && y + shape[1] <= 13);
      assert_box (imgs, 0, 1, x, y, FALSE, "random MultiScaleCrop");
      odd_x |= x % 2 == 1;    /* not restricted to the fixed grid */
    }
  assert_true (odd_x);
}

/* RandomResizedCrop: crops within the area and aspect ranges (up to rounding) anywhere
 * in the frame, the same for the same seed; the centred square when no attempt fits. */
static void
test_random_resized_crop (void **state)
{
  g_autoptr(MactPipeline) p = build_on_frames (2, "{\"type\": \"RandomResizedCrop\"}");
  g_autoptr(MactTensor) frames = coordinate_frames (2, 24, 30);
  gboolean small = FALSE;
  for (guint64 seed = 0; seed < 200; seed++)
    {
      g_autoptr(MactTensorDict) out = run_array (p, frames, NULL, seed);
      MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
      const gint64 *shape = mact_tensor_get_shape (imgs, NULL);
      const float *d = mact_tensor_get_data (imgs);
      gint64 x = (gint64) d[0], y = (gint64) d[1], ch = shape[1], cw = shape[2];
      assert_int_equal (shape[0], 2);
      assert_true (x + cw <= 30 && y + ch <= 24);
      assert_box (imgs, 0, 2, x, y, FALSE, "RandomResizedCrop");
      gboolean fallback = cw == 24 && ch == 24 && x == 3 && y == 0;
      if (!fallback)
        {
          /* w = round(sqrt(a r)), h = round(sqrt(a / r)): w h and w / h are within a
           * pixel's rounding of the drawn area and ratio. */
          double area = (double) (cw * ch) / (30.0 * 24.0);
          double ratio = (double) cw / (double) ch;
          assert_true (area > 0.08 * 0.7 && area <= 1.0);
          assert_true (ratio > 0.75 * (cw - 0.5) / (cw + 0.5) * (ch - 0.5) / (ch + 0.5) - 1e-9);
          assert_true (ratio < 4.0 / 3.0 * (cw + 0.5) / (cw - 0.5) * (ch + 0.5) / (ch - 0.5));
          small |= area < 0.5;
        }
      g_autoptr(MactTensorDict) again = run_array (p, frames, NULL, seed);
      assert_pixels (mact_tensor_dict_lookup (again, "imgs"), imgs, 0, "same seed");
    }
  assert_true (small);

  /* Ratios of 2-3 at 99% of a square's area never fit: the centred square. */
  g_autoptr(MactPipeline) never =
    build_on_frames (1, "{\"type\": \"RandomResizedCrop\", \"area_range\": [0.99, 1.0],"
                        " \"aspect_ratio_range\": [2.0, 3.0]}");
  g_autoptr(MactTensor) wide = coordinate_frames (1, 16, 20);
  g_autoptr(MactTensorDict) out = run_array (never, wide, NULL, 1);
  MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
  const gint64 square[4] = { 1, 16, 16, 3 };
  assert_shape (imgs, 4, square, "fallback");
  assert_box (imgs, 0, 1, 2, 0, FALSE, "fallback");
}

/* RandomCrop(size): np.random.randint(0, side - size) never gives the last offset. */
static void
test_random_crop (void **state)
{
  g_autoptr(MactPipeline) p = build_on_frames (1, "{\"type\": \"RandomCrop\", \"size\": 8}");
  g_autoptr(MactTensor) frames = coordinate_frames (1, 9, 13);
  gboolean seen[5] = { FALSE };
  for (guint64 seed = 0; seed < 100; seed++)
    {
      g_autoptr(MactTensorDict) out = run_array (p, frames, NULL, seed);
      MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
      const float *d = mact_tensor_get_data (imgs);
      gint64 x = (gint64) d[0], y = (gint64) d[1];
      const gint64 shape[4] = { 1, 8, 8, 3 };
      assert_shape (imgs, 4, shape, "RandomCrop");
      assert_true (x >= 0 && x <= 4);
      assert_int_equal (y, 0);
      seen[x] = TRUE;
    }
  for (guint i = 0; i < 5; i++)
    assert_true (seen[i]);
}

/* ------------------------------------------------------------------ resize */

/* Output (w, h) of Resize: (-1, s) short side, (s, -1), (w, h) within bounds, float
 * factors, keep_ratio false; mmcv's int(x + 0.5) rounding. */
static void
test_resize_shapes (void **state)
{
  JsonArray *cases = section ("resize_shapes");
  assert_true (json_array_get_length (cases) > 30);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      gint64 h = json_int (c, "img_h"), w = json_int (c, "img_w");
      JsonArray *e = json_object_get_array_member (c, "expected");
      g_autofree char *step = node_to_string (json_object_get_member (c, "step"));
      g_autoptr(MactPipeline) p = build_on_frames (1, step);
      gint64 shape[4] = { 1, h, w, 3 };
      g_autoptr(MactTensor) frames = mact_tensor_new (4, shape, NULL);
      g_autoptr(MactTensorDict) out = run_array (p, frames, NULL, 0);
      const gint64 expected[4] = { 1, json_array_get_int_element (e, 1),
                                   json_array_get_int_element (e, 0), 3 };
      g_autofree char *what = g_strdup_printf ("%s on %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
                                               step, w, h);
      assert_shape (mact_tensor_dict_lookup (out, "imgs"), 4, expected, what);
    }
}

/* Resize pixels (bilinear down, up, mixed, same size; nearest down and up) against
 * torch's interpolate, within 1e-3 on the 0-255 scale. */
static void
test_resize_pixels (void **state)
{
  JsonArray *cases = section ("resize_pixels");
  MactTensor *input = pixel ("input_small");
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autofree char *step = node_to_string (json_object_get_member (c, "step"));
      g_autoptr(MactPipeline) p = build_on_frames (2, step);
      g_autoptr(MactTensorDict) out = run_array (p, input, NULL, 0);
      assert_pixels (mact_tensor_dict_lookup (out, "imgs"),
                     pixel (json_object_get_string_member (c, "expected")), 1e-3, step);
    }
}

/* ------------------------------------------------------------------ whole pipelines */

/* mmaction2's TSN val and test (TenCrop), I3D test (ThreeCrop, NCTHW), a twice-sampled
 * SlowOnly-style test, repeat_last with collapse, Normalize to_bgr, nearest resize with
 * Flip, and a vertical flip without FormatShape, from JSON configs on an in-memory array,
 * against the numpy reference; Collect decides the output keys. */
static void
test_whole_pipelines (void **state)
{
  JsonArray *cases = section ("pipelines");
  const gint64 one[1] = { 1 };
  g_autoptr(MactTensor) label = mact_tensor_new_full (1, one, 3.0f, NULL);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *name = json_object_get_string_member (c, "name");
      g_autoptr(GError) error = NULL;
      g_autoptr(MactPipeline) p =
        mact_pipeline_new_from_config (json_object_get_member (c, "pipeline"), &error);
      if (p == NULL)
        fail_msg ("%s: %s", name, error->message);
      MactTensor *input = pixel (json_object_get_string_member (c, "input"));
      g_autoptr(MactTensorDict) out = run_array (p, input, label, 0);

      MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
      assert_non_null (imgs);
      assert_pixels (imgs, pixel (json_object_get_string_member (c, "expected")), 1e-3, name);

      gboolean want_label = FALSE;
      JsonArray *keys = json_object_get_array_member (c, "keys");
      for (guint k = 0; k < json_array_get_length (keys); k++)
        want_label |= g_str_equal (json_array_get_string_element (keys, k), "label");
      MactTensor *got_label = mact_tensor_dict_lookup (out, "label");
      if (want_label)
        {
          assert_ptr_equal (got_label, label);
          assert_int_equal (mact_tensor_dict_get_size (out), 2);
        }
      else
        {
          assert_null (got_label);
          assert_int_equal (mact_tensor_dict_get_size (out), 1);
        }
      /* The input is only read. */
      assert_true (mact_tensor_get_numel (input) > 0);
    }
  assert_int_equal (json_array_get_length (cases), 8);
}

/* The same pipeline on the same input and seed gives the same output; without Collect
 * both imgs and the given label come out; input arrays are not modified. */
static void
test_determinism_and_input (void **state)
{
  g_autoptr(MactPipeline) p =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 2, \"num_clips\": 3},"
           " {\"type\": \"DecordDecode\"},"
           " {\"type\": \"RandomResizedCrop\"},"
           " {\"type\": \"Resize\", \"scale\": [8, 8], \"keep_ratio\": false},"
           " {\"type\": \"Flip\", \"flip_ratio\": 0.5},"
           " {\"type\": \"Normalize\", \"mean\": [1, 2, 3], \"std\": [4, 5, 6]},"
           " {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"}]");
  MactTensor *input = pixel ("input_clip");
  g_autoptr(MactTensor) copy = mact_tensor_clone (input);
  const gint64 one[1] = { 1 };
  g_autoptr(MactTensor) label = mact_tensor_new_full (1, one, 2.0f, NULL);
  g_autoptr(MactTensorDict) a = run_array (p, input, label, 42);
  g_autoptr(MactTensorDict) b = run_array (p, input, label, 42);
  g_autoptr(MactTensorDict) c = run_array (p, input, label, 43);
  const gint64 shape[5] = { 3, 3, 2, 8, 8 };
  assert_shape (mact_tensor_dict_lookup (a, "imgs"), 5, shape, "train pipeline");
  assert_pixels (mact_tensor_dict_lookup (b, "imgs"), mact_tensor_dict_lookup (a, "imgs"), 0,
                 "same seed");
  assert_true (max_abs_diff (mact_tensor_dict_lookup (c, "imgs"),
                             mact_tensor_dict_lookup (a, "imgs")) > 0.1);
  assert_ptr_equal (mact_tensor_dict_lookup (a, "label"), label);
  assert_pixels (input, copy, 0, "input untouched");

  /* A NULL generator draws from the default one. */
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) d = mact_pipeline_run_array (p, input, NULL, NULL, &error);
  assert_non_null (d);
  assert_null (mact_tensor_dict_lookup (d, "label"));
}

/* Flip: flip_ratio 0 never flips; 0.5 flips about half the runs, all frames together;
 * flip_label_map swaps the label of flipped clips only. */
static void
test_flip (void **state)
{
  g_autoptr(MactTensor) frames = coordinate_frames (2, 3, 5);
  g_autoptr(MactPipeline) never = build_on_frames (2, "{\"type\": \"Flip\", \"flip_ratio\": 0}");
  g_autoptr(MactTensorDict) out = run_array (never, frames, NULL, 0);
  assert_box (mact_tensor_dict_lookup (out, "imgs"), 0, 2, 0, 0, FALSE, "flip_ratio 0");

  g_autoptr(MactPipeline) half = build_on_frames (2, "{\"type\": \"Flip\"}");
  guint flipped = 0;
  for (guint64 seed = 0; seed < 400; seed++)
    {
      g_autoptr(MactTensorDict) o = run_array (half, frames, NULL, seed);
      MactTensor *imgs = mact_tensor_dict_lookup (o, "imgs");
      gboolean f = mact_tensor_get_data (imgs)[0] == 4.0f;
      assert_box (imgs, 0, 2, 0, 0, f, "Flip 0.5");
      flipped += f;
    }
  assert_true (flipped > 160 && flipped < 240);

  g_autoptr(MactPipeline) mapped =
    build_on_frames (2, "{\"type\": \"Flip\", \"flip_ratio\": 1.0,"
                        " \"flip_label_map\": {\"3\": 5, \"5\": 3}, \"left_kp\": [1],"
                        " \"right_kp\": [2]}");
  const gint64 one[1] = { 1 };
  g_autoptr(MactTensor) three = mact_tensor_new_full (1, one, 3.0f, NULL);
  g_autoptr(MactTensor) four = mact_tensor_new_full (1, one, 4.0f, NULL);
  g_autoptr(MactTensorDict) o3 = run_array (mapped, frames, three, 0);
  g_autoptr(MactTensorDict) o4 = run_array (mapped, frames, four, 0);
  assert_float_equal (mact_tensor_item (mact_tensor_dict_lookup (o3, "label")), 5.0f, 0);
  assert_ptr_equal (mact_tensor_dict_lookup (o4, "label"), four);
  assert_float_equal (mact_tensor_item (three), 3.0f, 0);    /* the caller's is untouched */
}

/* ------------------------------------------------------------------ errors */

typedef struct {
  const char *json;
  gint        code;
  const char *fragment;     /* must appear in the message */
} BuildError;

/* Every config error, with its code and a message naming the step, type and key. */
static void
test_config_errors (void **state)
{
#define SF "{\"type\": \"SampleFrames\", \"clip_len\": 1}"
#define DEC "{\"type\": \"ArrayDecode\"}"
#define STEP(s) "[" SF ", " DEC ", " s "]"
  static const BuildError cases[] = {
    { "{\"type\": \"SampleFrames\"}", MACT_CONFIG_ERROR_INVALID, "list of transform" },
    { "[]", MACT_CONFIG_ERROR_INVALID, "empty" },
    { "[" SF ", 3]", MACT_CONFIG_ERROR_INVALID, "pipeline step 1" },
    { "[{\"clip_len\": 1}]", MACT_CONFIG_ERROR_MISSING_KEY, "'type'" },
    { "[{\"type\": 3}]", MACT_CONFIG_ERROR_WRONG_TYPE, "'type'" },
    { "[" SF ", {\"type\": \"ColorJitter\"}]", MACT_CONFIG_ERROR_INVALID_VALUE,
      "unknown transform 'ColorJitter'" },
    /* SampleFrames */
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"foo\": 2}, " DEC "]",
      MACT_CONFIG_ERROR_UNKNOWN_KEY, "pipeline step 0 (SampleFrames): key 'foo'" },
    { "[{\"type\": \"SampleFrames\", \"num_clips\": 2}, " DEC "]",
      MACT_CONFIG_ERROR_MISSING_KEY, "key 'clip_len'" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": \"8\"}, " DEC "]",
      MACT_CONFIG_ERROR_WRONG_TYPE, "key 'clip_len' expects an integer, got a string" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 1.5}, " DEC "]",
      MACT_CONFIG_ERROR_WRONG_TYPE, "key 'clip_len'" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 0}, " DEC "]",
      MACT_CONFIG_ERROR_INVALID_VALUE, "key 'clip_len'" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"frame_interval\": 0}, " DEC "]",
      MACT_CONFIG_ERROR_INVALID_VALUE, "key 'frame_interval'" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"out_of_bound_opt\": \"clamp\"}, "
      DEC "]", MACT_CONFIG_ERROR_INVALID_VALUE, "'loop', 'repeat_last'" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"out_of_bound_opt\": 3}, " DEC "]",
      MACT_CONFIG_ERROR_WRONG_TYPE, "key 'out_of_bound_opt' expects a string" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"twice_sample\": \"yes\"}, " DEC "]",
      MACT_CONFIG_ERROR_WRONG_TYPE, "key 'twice_sample' expects a boolean" },
    { "[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"start_index\": \"1\"}, " DEC "]",
      MACT_CONFIG_ERROR_WRONG_TYPE, "key 'start_index'" },
    { "[{\"type\": \"DenseSampleFrames\", \"clip_len\": 1, \"num_clips\": 8,"
      " \"sample_range\": 4}, " DEC "]", MACT_CONFIG_ERROR_INVALID_VALUE, "'sample_range'" },
    { "[{\"type\": \"UntrimmedSampleFrames\", \"num_clips\": 2}, " DEC "]",
      MACT_CONFIG_ERROR_UNKNOWN_KEY, "'num_clips'" },
    /* init and decode steps */
    { "[{\"type\": \"DecordInit\", \"io_backend\": \"petrel\"}, " SF ", " DEC "]",
      MACT_CONFIG_ERROR_INVALID_VALUE, "pipeline step 0 (DecordInit): key 'io_backend'" },
    { "[{\"type\": \"DecordInit\", \"num_threads\": -1}, " SF ", " DEC "]",
      MACT_CONFIG_ERROR_INVALID_VALUE, "'num_threads'" },
    { "[{\"type\": \"OpenCVInit\", \"num_threads\": 1}, " SF ", " DEC "]",
      MACT_CONFIG_ERROR_UNKNOWN_KEY, "'num_threads'" },
    { "[" SF ", {\"type\": \"DecordDecode\", \"mode\": \"fast\"}]",
      MACT_CONFIG_ERROR_INVALID_VALUE, "(DecordDecode): key 'mode'" },
    { "[" SF ", {\"type\": \"PyAVDecode\", \"multi_thread\": 1}]",
      MACT_CONFIG_ERROR_WRONG_TYPE, "'multi_thread'" },
    { "[" SF ", {\"type\": \"RawFrameDecode\", \"decoding_backend\": \"magick\"}]",
      MACT_CONFIG_ERROR_INVALID_VALUE, "'decoding_backend'" },
    { "[" SF ", {\"type\": \"ArrayDecode\", \"mode\": \"accurate\"}]",
      MACT_CONFIG_ERROR_UNKNOWN_KEY, "takes no arguments" },
    /* Resize */
    { STEP ("{\"type\": \"Resize\"}"), MACT_CONFIG_ERROR_MISSING_KEY,
      "pipeline step 2 (Resize): key 'scale'" },
    { STEP ("{\"type\": \"Resize\", \"scale\": \"big\"}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'scale'" },
    { STEP ("{\"type\": \"Resize\", \"scale\": -2.0}"), MACT_CONFIG_ERROR_INVALID_VALUE,
      "'scale'" },
    { STEP ("{\"type\": \"Resize\", \"scale\": [0, 5]}"), MACT_CONFIG_ERROR_INVALID_VALUE,
      "'scale'" },
    { STEP ("{\"type\": \"Resize\", \"scale\": [-1, -1]}"), MACT_CONFIG_ERROR_INVALID_VALUE,
      "'scale'" },
    { STEP ("{\"type\": \"Resize\", \"scale\": [1, 2, 3]}"), MACT_CONFIG_ERROR_INVALID_VALUE,
      "'scale'" },
    { STEP ("{\"type\": \"Resize\", \"scale\": [1, \"2\"]}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'scale' [1]" },
    { STEP ("{\"type\": \"Resize\", \"scale\": [-1, 16], \"keep_ratio\": false}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "keep_ratio" },
    { STEP ("{\"type\": \"Resize\", \"scale\": 0.5, \"keep_ratio\": false}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "keep_ratio" },
    { STEP ("{\"type\": \"Resize\", \"scale\": 0.5, \"interpolation\": \"bicubic\"}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'interpolation'" },
    { STEP ("{\"type\": \"Resize\", \"scale\": 0.5, \"lazy\": true}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'lazy'" },
    { STEP ("{\"type\": \"RandomRescale\", \"scale_range\": [256, 128]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'scale_range'" },
    { STEP ("{\"type\": \"RandomRescale\", \"scale_range\": [0, 128]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'scale_range' must be positive" },
    { STEP ("{\"type\": \"RandomRescale\"}"), MACT_CONFIG_ERROR_MISSING_KEY, "'scale_range'" },
    { STEP ("{\"type\": \"RandomRescale\", \"scale_range\": 128}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'scale_range' expects a pair of ints" },
    /* crops */
    { STEP ("{\"type\": \"CenterCrop\"}"), MACT_CONFIG_ERROR_MISSING_KEY, "'crop_size'" },
    { STEP ("{\"type\": \"CenterCrop\", \"crop_size\": [1]}"), MACT_CONFIG_ERROR_INVALID_VALUE,
      "'crop_size'" },
    { STEP ("{\"type\": \"CenterCrop\", \"crop_size\": \"a\"}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'crop_size'" },
    { STEP ("{\"type\": \"CenterCrop\", \"crop_size\": [8, \"x\"]}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'crop_size' [1] expects an integer" },
    { STEP ("{\"type\": \"ThreeCrop\", \"crop_size\": 0}"), MACT_CONFIG_ERROR_INVALID_VALUE,
      "(ThreeCrop): key 'crop_size'" },
    { STEP ("{\"type\": \"TenCrop\", \"crop_size\": 8, \"lazy\": false}"),
      MACT_CONFIG_ERROR_UNKNOWN_KEY, "'lazy'" },
    { STEP ("{\"type\": \"RandomCrop\"}"), MACT_CONFIG_ERROR_MISSING_KEY, "'size'" },
    { STEP ("{\"type\": \"MultiScaleCrop\", \"input_size\": 8, \"num_fixed_crops\": 7}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'num_fixed_crops'" },
    { STEP ("{\"type\": \"MultiScaleCrop\", \"input_size\": 8, \"scales\": \"x\"}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'scales'" },
    { STEP ("{\"type\": \"MultiScaleCrop\", \"input_size\": 8, \"scales\": [1, 0]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'scales'" },
    { STEP ("{\"type\": \"MultiScaleCrop\", \"scales\": [1]}"), MACT_CONFIG_ERROR_MISSING_KEY,
      "'input_size'" },
    { STEP ("{\"type\": \"MultiScaleCrop\", \"input_size\": 8, \"scales\": []}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'scales' expects 1 to 16 numbers, got 0" },
    { STEP ("{\"type\": \"RandomResizedCrop\", \"area_range\": [0.5, 0.2]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'area_range'" },
    { STEP ("{\"type\": \"RandomResizedCrop\", \"aspect_ratio_range\": [0, 1]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'aspect_ratio_range'" },
    /* Flip, Normalize */
    { STEP ("{\"type\": \"Flip\", \"direction\": \"diagonal\"}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'direction'" },
    { STEP ("{\"type\": \"Flip\", \"flip_ratio\": 2}"), MACT_CONFIG_ERROR_INVALID_VALUE,
      "'flip_ratio'" },
    { STEP ("{\"type\": \"Flip\", \"flip_ratio\": \"half\"}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'flip_ratio' expects a number" },
    { STEP ("{\"type\": \"Flip\", \"flip_label_map\": {\"3\": \"x\"}}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'flip_label_map' ['3']" },
    { STEP ("{\"type\": \"Flip\", \"right_kp\": 3}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'right_kp' expects a list" },
    { STEP ("{\"type\": \"Flip\", \"flip_label_map\": []}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'flip_label_map'" },
    { STEP ("{\"type\": \"Flip\", \"flip_label_map\": {\"a\": 1}}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'flip_label_map'" },
    { STEP ("{\"type\": \"Flip\", \"left_kp\": [\"x\"]}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'left_kp'" },
    { STEP ("{\"type\": \"Normalize\", \"std\": [1, 1, 1]}"), MACT_CONFIG_ERROR_MISSING_KEY,
      "'mean'" },
    { STEP ("{\"type\": \"Normalize\", \"mean\": [1, 2], \"std\": [1, 1, 1]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'mean'" },
    { STEP ("{\"type\": \"Normalize\", \"mean\": 1, \"std\": [1, 1, 1]}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'mean' expects an array of numbers" },
    { STEP ("{\"type\": \"Normalize\", \"mean\": [1, 2, 1e999], \"std\": [1, 1, 1]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'mean' [2] must be finite" },
    { STEP ("{\"type\": \"Normalize\", \"mean\": [1, 2, 3], \"std\": [1, 0, 1]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'std'" },
    { STEP ("{\"type\": \"Normalize\", \"mean\": [1, 2, 3], \"std\": [1, 1, true]}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'std' [2]" },
    /* formatting */
    { STEP ("{\"type\": \"FormatShape\"}"), MACT_CONFIG_ERROR_MISSING_KEY, "'input_format'" },
    { STEP ("{\"type\": \"FormatShape\", \"input_format\": \"NTHWC\"}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'input_format'" },
    { STEP ("{\"type\": \"FormatShape\", \"input_format\": \"NCHW_Flow\"}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'input_format'" },
    { STEP ("{\"type\": \"FormatShape\", \"input_format\": 4}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'input_format'" },
    { STEP ("{\"type\": \"Collect\", \"keys\": [\"imgs\", \"img_metas\"]}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'img_metas'" },
    { STEP ("{\"type\": \"Collect\", \"meta_keys\": []}"), MACT_CONFIG_ERROR_MISSING_KEY,
      "'keys'" },
    { STEP ("{\"type\": \"Collect\", \"keys\": \"imgs\"}"), MACT_CONFIG_ERROR_WRONG_TYPE,
      "'keys'" },
    { STEP ("{\"type\": \"Collect\", \"keys\": [\"imgs\"], \"nested\": true}"),
      MACT_CONFIG_ERROR_INVALID_VALUE, "'nested'" },
    { STEP ("{\"type\": \"Collect\", \"keys\": [\"imgs\"], \"meta_name\": 3}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'meta_name'" },
    { STEP ("{\"type\": \"ToTensor\", \"keys\": [\"imgs\", 1]}"),
      MACT_CONFIG_ERROR_WRONG_TYPE, "'keys' [1]" },
    /* order */
    { "[" DEC ", " SF "]", MACT_CONFIG_ERROR_INVALID, "pipeline step 0 (ArrayDecode)" },
    { "[" SF ", {\"type\": \"Resize\", \"scale\": 0.5}, " DEC "]", MACT_CONFIG_ERROR_INVALID,
      "pipeline step 1 (Resize): comes before the decode step" },
    { STEP ("{\"type\": \"FormatShape\", \"input_format\": \"NCHW\"},"
            " {\"type\": \"Flip\"}"), MACT_CONFIG_ERROR_INVALID,
      "pipeline step 3 (Flip): comes after FormatShape" },
    { STEP ("{\"type\": \"FormatShape\", \"input_format\": \"NCHW\"},"
            " {\"type\": \"FormatShape\", \"input_format\": \"NCHW\"}"),
      MACT_CONFIG_ERROR_INVALID, "second FormatShape" },
    { STEP ("{\"type\": \"DecordDecode\"}"), MACT_CONFIG_ERROR_INVALID, "second decode" },
    { STEP (SF), MACT_CONFIG_ERROR_INVALID, "after the decode step" },
    { "[" SF ", {\"type\": \"Collect\", \"keys\": [\"imgs\"]}]", MACT_CONFIG_ERROR_INVALID,
      "no decode step" },
  };
#undef STEP
#undef DEC
#undef SF
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MactPipeline) p = try_build (cases[i].json, &error);
      if (p != NULL)
        fail_msg ("%s: built", cases[i].json);
      if (!g_error_matches (error, MACT_CONFIG_ERROR, cases[i].code))
        fail_msg ("%s: got %s %d (%s), expected MACT_CONFIG_ERROR %d", cases[i].json,
                  g_quark_to_string (error->domain), error->code, error->message,
                  cases[i].code);
      if (strstr (error->message, cases[i].fragment) == NULL)
        fail_msg ("%s: message '%s' lacks '%s'", cases[i].json, error->message,
                  cases[i].fragment);
    }
}

typedef struct {
  const char *step;
  gint64      h, w;
  gint64      n_frames;
  gint        code;
  const char *fragment;
} RunError;

/* Steps that cannot apply to the frames they get: MACT_CONFIG_ERROR naming the step. */
static void
test_run_errors (void **state)
{
  static const RunError cases[] = {
    { "{\"type\": \"ThreeCrop\", \"crop_size\": 8}", 9, 13, 1, MACT_CONFIG_ERROR_INVALID_VALUE,
      "pipeline step 2 (ThreeCrop): key 'crop_size' (8, 8) must span" },
    { "{\"type\": \"ThreeCrop\", \"crop_size\": [14, 9]}", 9, 13, 1,
      MACT_CONFIG_ERROR_INVALID_VALUE, "must span" },
    { "{\"type\": \"CenterCrop\", \"crop_size\": 10}", 9, 13, 1,
      MACT_CONFIG_ERROR_INVALID_VALUE, "(CenterCrop): key 'crop_size' gives a 10x10 crop" },
    { "{\"type\": \"TenCrop\", \"crop_size\": [14, 4]}", 9, 13, 1,
      MACT_CONFIG_ERROR_INVALID_VALUE, "does not fit in the 13x9 frames" },
    { "{\"type\": \"RandomCrop\", \"size\": 10}", 9, 13, 1, MACT_CONFIG_ERROR_INVALID_VALUE,
      "(RandomCrop): key 'size'" },
    { "{\"type\": \"MultiScaleCrop\", \"input_size\": 8, \"scales\": [1.5]}", 9, 13, 1,
      MACT_CONFIG_ERROR_INVALID_VALUE, "(MultiScaleCrop): key 'scales'" },
    { "{\"type\": \"MultiScaleCrop\", \"input_size\": 8, \"scales\": [0.01]}", 9, 13, 1,
      MACT_CONFIG_ERROR_INVALID_VALUE, "gives an empty" },
    { "{\"type\": \"Resize\", \"scale\": 0.01}", 9, 13, 1, MACT_CONFIG_ERROR_INVALID_VALUE,
      "resizes the 13x9 frames to 0x0" },
    { "{\"type\": \"ThreeCrop\", \"crop_size\": 9}, {\"type\": \"FormatShape\","
      " \"input_format\": \"NCTHW\", \"collapse\": true}", 9, 13, 1,
      MACT_CONFIG_ERROR_INVALID_VALUE, "'collapse' needs a single view, got 3" },
    { "{\"type\": \"FormatShape\", \"input_format\": \"NCTHW\", \"collapse\": true}", 9, 13, 2,
      MACT_CONFIG_ERROR_INVALID_VALUE, "'collapse'" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      /* collapse needs num_clips 1: the last case samples 2 clips of 1 frame. */
      g_autofree char *json =
        cases[i].n_frames == 2
          ? g_strdup_printf ("[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"num_clips\": 2,"
                             " \"test_mode\": true}, {\"type\": \"ArrayDecode\"}, %s]",
                             cases[i].step)
          : g_strdup_printf ("[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"test_mode\":"
                             " true}, {\"type\": \"ArrayDecode\"}, %s]", cases[i].step);
      g_autoptr(MactPipeline) p = build (json);
      g_autoptr(MactTensor) frames = coordinate_frames (cases[i].n_frames, cases[i].h,
                                                        cases[i].w);
      g_autoptr(GError) error = NULL;
      g_autoptr(MactTensorDict) out = mact_pipeline_run_array (p, frames, NULL, NULL, &error);
      assert_null (out);
      if (!g_error_matches (error, MACT_CONFIG_ERROR, cases[i].code))
        fail_msg ("%s: got %s %d (%s)", cases[i].step, g_quark_to_string (error->domain),
                  error->code, error->message);
      if (strstr (error->message, cases[i].fragment) == NULL)
        fail_msg ("%s: message '%s' lacks '%s'", cases[i].step, error->message,
                  cases[i].fragment);
    }
}

/* Bad inputs to the entry points: MACT_VIDEO_ERROR codes. */
static void
test_input_errors (void **state)
{
  g_autoptr(MactPipeline) p =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"test_mode\": true},"
           " {\"type\": \"ArrayDecode\"}]");
  g_autoptr(GError) error = NULL;

  const gint64 s3[3] = { 2, 9, 13 }, s4c[4] = { 2, 9, 13, 4 }, s4e[4] = { 0, 9, 13, 3 };
  g_autoptr(MactTensor) three_d = mact_tensor_new (3, s3, NULL);
  g_autoptr(MactTensor) four_channels = mact_tensor_new (4, s4c, NULL);
  g_autoptr(MactTensor) empty = mact_tensor_new (4, s4e, NULL);
  assert_null (mact_pipeline_run_array (p, three_d, NULL, NULL, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT);
  assert_null (mact_pipeline_run_array (p, four_channels, NULL, NULL, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT);
  assert_non_null (empty);
  assert_null (mact_pipeline_run_array (p, empty, NULL, NULL, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY);

  gsize n = 7;
  assert_null (mact_pipeline_sample_indices (p, 0, 0, NULL, &n, &error));
  assert_int_equal (n, 0);
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY);

  /* UntrimmedSampleFrames: no clip centre (frame_interval // 2 = 8) in 5 frames. */
  g_autoptr(MactPipeline) untrimmed =
    build ("[{\"type\": \"UntrimmedSampleFrames\"}, {\"type\": \"ArrayDecode\"}]");
  assert_null (mact_pipeline_sample_indices (untrimmed, 5, 0, NULL, &n, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY);

  /* Rawframes: templates outside the format subset, an empty clip, no directory. */
  g_autofree char *dir = data_path ("rawframes");
  static const char *const bad_templates[] = {
    "img_{:x}.png", "img_{}_{}.png", "img.png", "img_{.png", "img_}.png", "img_{name}.png",
    "img_{0}.png", "img_{:>5}.png", "img_{:05s}.png",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad_templates); i++)
    {
      assert_null (mact_pipeline_run_rawframes (p, dir, 6, bad_templates[i], 1, NULL, NULL,
                                                &error));
      assert_non_null (error);
      assert_non_null (strstr (error->message, bad_templates[i]));
      mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE);
    }
  assert_null (mact_pipeline_run_rawframes (p, dir, 0, NULL, 1, NULL, NULL, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY);
  g_autofree char *missing = data_path ("no-such-dir");
  assert_null (mact_pipeline_run_rawframes (p, missing, 6, NULL, 1, NULL, NULL, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);

  /* Video: no such file. */
  g_autofree char *no_video = data_path ("no-such-video.mp4");
  assert_null (mact_pipeline_run_video (p, no_video, NULL, NULL, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);
}

/* ------------------------------------------------------------------ rawframes */

/* PNG rawframes (img_00001.png ...): the sampled frames exactly, through several
 * spellings of the template; an unreadable frame is the loader's error naming the file;
 * frames of different sizes are an error. */
static void
test_rawframes (void **state)
{
  g_autoptr(MactPipeline) p =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 2, \"frame_interval\": 2,"
           "  \"num_clips\": 2, \"test_mode\": true},"
           " {\"type\": \"RawFrameDecode\"},"
           " {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"}]");
  g_autofree char *dir = data_path ("rawframes");
  MactTensor *frames = pixel ("rawframes");    /* [6, 10, 14, 3] */

  /* test offsets on 6 frames, clip 2x2, 2 clips: avg = 3 / 2 -> 0, 2; frames 0 2 2 4 */
  gsize n;
  g_autofree gint64 *inds = mact_pipeline_sample_indices (p, 6, 0, NULL, &n, NULL);
  const gint64 expected_inds[4] = { 0, 2, 2, 4 };
  assert_int_equal (n, 4);
  assert_memory_equal (inds, expected_inds, sizeof expected_inds);

  static const char *const templates[] = {
    "img_{:05}.png", "img_{:05d}.png", "img_0000{}.png", "img_0000{:d}.png",
  };
  const gint64 one[1] = { 1 };
  g_autoptr(MactTensor) label = mact_tensor_new_full (1, one, 1.0f, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (templates); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MactTensorDict) out =
        mact_pipeline_run_rawframes (p, dir, 6, templates[i], 1, label, NULL, &error);
      if (out == NULL)
        fail_msg ("%s: %s", templates[i], error->message);
      MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
      const gint64 shape[5] = { 2, 3, 2, 10, 14 };
      assert_shape (imgs, 5, shape, templates[i]);
      const float *got = mact_tensor_get_data (imgs);
      const float *src = mact_tensor_get_data (frames);
      for (gint64 v = 0; v < 2; v++)
        for (gint64 c = 0; c < 3; c++)
          for (gint64 l = 0; l < 2; l++)
            for (gint64 p_ = 0; p_ < 140; p_++)
              {
                gint64 f = expected_inds[v * 2 + l];
                float e = src[(f * 140 + p_) * 3 + c];
                float g = got[((v * 3 + c) * 2 + l) * 140 + p_];
                if (e != g)
                  fail_msg ("%s: view %" G_GINT64_FORMAT " channel %" G_GINT64_FORMAT
                            " frame %" G_GINT64_FORMAT " pixel %" G_GINT64_FORMAT ": %g != %g",
                            templates[i], v, c, l, p_, g, e);
              }
      assert_ptr_equal (mact_tensor_dict_lookup (out, "label"), label);
    }

  /* The default template is img_{:05}.jpg: there are no .jpg files. */
  g_autoptr(GError) error = NULL;
  assert_null (mact_pipeline_run_rawframes (p, dir, 6, NULL, 1, NULL, NULL, &error));
  assert_non_null (error);
  assert_true (error->domain == MACT_VIDEO_ERROR);
  assert_non_null (strstr (error->message, "img_00001.jpg"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);

  /* Space padding and literal braces, as Python formats them. */
  assert_null (mact_pipeline_run_rawframes (p, dir, 6, "img_{:5}.png", 1, NULL, NULL, &error));
  assert_non_null (strstr (error->message, "img_    1.png"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);
  assert_null (mact_pipeline_run_rawframes (p, dir, 6, "{{img}}_{:03d}.png", 1, NULL, NULL,
                                            &error));
  assert_non_null (strstr (error->message, "{img}_001.png"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);

  /* start_index 0 asks for img_00000.png. */
  assert_null (mact_pipeline_run_rawframes (p, dir, 6, "img_{:05}.png", 0, NULL, NULL,
                                            &error));
  assert_non_null (strstr (error->message, "img_00000.png"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);

  /* rawframes_bad: frame 2 is not an image, frame 3 is 8x8. */
  g_autofree char *bad = data_path ("rawframes_bad");
  g_autoptr(MactPipeline) first_two =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 2, \"test_mode\": true},"
           " {\"type\": \"RawFrameDecode\"}]");
  assert_null (mact_pipeline_run_rawframes (first_two, bad, 2, "img_{:05}.png", 1, NULL, NULL,
                                            &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "img_00002.png"));
  assert_non_null (strstr (error->message, "pipeline step 1 (RawFrameDecode)"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT);

  g_autoptr(MactPipeline) first_and_third =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 2, \"frame_interval\": 2,"
           "  \"test_mode\": true}, {\"type\": \"RawFrameDecode\"}]");
  assert_null (mact_pipeline_run_rawframes (first_and_third, bad, 3, "img_{:05}.png", 1, NULL,
                                            NULL, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "img_00003.png is 8x8"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT);
}

/* ------------------------------------------------------------------ video */

/* A clip written with MactVideoWriter (frame t a flat grey 20 + 20 t) read back through
 * a video pipeline: the sampled frames, in order, with repeats, resized and cropped;
 * a file that is not a video is the reader's error. */
static void
test_video (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-pipeline-XXXXXX", &error);
  assert_non_null (dir);
  g_autofree char *path = g_build_filename (dir, "clip.mp4", NULL);

  const gint64 n_frames = 10, h = 24, w = 32;
  gint64 shape[4] = { n_frames, h, w, 3 };
  g_autoptr(MactTensor) frames = mact_tensor_new_empty (4, shape, NULL);
  float *d = mact_tensor_get_data (frames);
  for (gint64 t = 0; t < n_frames; t++)
    for (gint64 i = 0; i < h * w * 3; i++)
      d[t * h * w * 3 + i] = (float) (20 + 20 * t);
  {
    g_autoptr(MactVideoWriter) writer = mact_video_writer_new (path, (gint) w, (gint) h, 25.0,
                                                               &error);
    if (writer == NULL)
      fail_msg ("writer: %s", error->message);
    if (!mact_video_writer_write (writer, frames, &error) ||
        !mact_video_writer_close (writer, &error))
      fail_msg ("writing %s: %s", path, error->message);
  }

  g_autoptr(MactPipeline) p =
    build ("[{\"type\": \"DecordInit\"},"
           " {\"type\": \"SampleFrames\", \"clip_len\": 4, \"frame_interval\": 3,"
           "  \"num_clips\": 1, \"test_mode\": true, \"out_of_bound_opt\": \"repeat_last\"},"
           " {\"type\": \"DecordDecode\"},"
           " {\"type\": \"Resize\", \"scale\": [-1, 12]},"
           " {\"type\": \"CenterCrop\", \"crop_size\": 12},"
           " {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"}]");
  /* 10 frames, clip 4 x 3 = 12 > 10: offset 0, indices 0 3 6 9 */
  const gint64 one[1] = { 1 };
  g_autoptr(MactTensor) label = mact_tensor_new_full (1, one, 7.0f, NULL);
  g_autoptr(MactTensorDict) out = mact_pipeline_run_video (p, path, label, NULL, &error);
  if (out == NULL)
    fail_msg ("run_video: %s", error->message);
  MactTensor *imgs = mact_tensor_dict_lookup (out, "imgs");
  const gint64 expected_shape[5] = { 1, 3, 4, 12, 12 };
  assert_shape (imgs, 5, expected_shape, "video");
  const gint64 expected_frames[4] = { 0, 3, 6, 9 };
  const float *g = mact_tensor_get_data (imgs);
  for (gint64 c = 0; c < 3; c++)
    for (gint64 l = 0; l < 4; l++)
      {
        double sum = 0;
        for (gint64 p_ = 0; p_ < 144; p_++)
          sum += g[(c * 4 + l) * 144 + p_];
        double mean = sum / 144, want = 20.0 + 20.0 * (double) expected_frames[l];
        if (fabs (mean - want) > 6.0)
          fail_msg ("video frame %" G_GINT64_FORMAT " channel %" G_GINT64_FORMAT
                    ": mean %g, expected about %g", l, c, mean, want);
      }
  assert_ptr_equal (mact_tensor_dict_lookup (out, "label"), label);

  /* Not a video. */
  g_autofree char *text = g_build_filename (dir, "notes.mp4", NULL);
  assert_true (g_file_set_contents (text, "not a video\n", -1, NULL));
  assert_null (mact_pipeline_run_video (p, text, NULL, NULL, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT);

  mact_test_remove_tree (dir);
}

/* One pipeline run from several threads at once (the loader's workers do this). */
typedef struct {
  MactPipeline   *pipeline;
  MactTensor     *input;
  MactTensorDict *reference;
  gboolean        ok;
} ThreadJob;

static gpointer
thread_run (gpointer data)
{
  ThreadJob *job = data;
  job->ok = TRUE;
  for (guint i = 0; i < 5 && job->ok; i++)
    {
      g_autoptr(MactGenerator) rng = mact_generator_new (99);
      g_autoptr(MactTensorDict) out =
        mact_pipeline_run_array (job->pipeline, job->input, NULL, rng, NULL);
      job->ok = out != NULL &&
                max_abs_diff (mact_tensor_dict_lookup (out, "imgs"),
                              mact_tensor_dict_lookup (job->reference, "imgs")) == 0;
    }
  return NULL;
}

static void
test_threads (void **state)
{
  g_autoptr(MactPipeline) p =
    build ("[{\"type\": \"SampleFrames\", \"clip_len\": 2, \"num_clips\": 2},"
           " {\"type\": \"ArrayDecode\"},"
           " {\"type\": \"MultiScaleCrop\", \"input_size\": 8, \"scales\": [1, 0.75]},"
           " {\"type\": \"Resize\", \"scale\": [8, 8], \"keep_ratio\": false},"
           " {\"type\": \"Flip\"},"
           " {\"type\": \"FormatShape\", \"input_format\": \"NCHW\"}]");
  MactTensor *input = pixel ("input_clip");
  g_autoptr(MactTensorDict) reference = run_array (p, input, NULL, 99);
  ThreadJob jobs[3];
  GThread *threads[3];
  for (guint i = 0; i < 3; i++)
    {
      jobs[i] = (ThreadJob) { p, input, reference, FALSE };
      threads[i] = g_thread_new ("pipeline", thread_run, &jobs[i]);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_thread_join (threads[i]);
      assert_true (jobs[i].ok);
    }
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sample_frames_test_mode),
    cmocka_unit_test (test_sample_frames_train_fallbacks),
    cmocka_unit_test (test_sample_frames_train_random),
    cmocka_unit_test (test_sample_frames_train_statistics),
    cmocka_unit_test (test_sample_frames_jitter_and_dense),
    cmocka_unit_test (test_fixed_crops),
    cmocka_unit_test (test_multi_scale_crop),
    cmocka_unit_test (test_random_resized_crop),
    cmocka_unit_test (test_random_crop),
    cmocka_unit_test (test_resize_shapes),
    cmocka_unit_test (test_resize_pixels),
    cmocka_unit_test (test_whole_pipelines),
    cmocka_unit_test (test_determinism_and_input),
    cmocka_unit_test (test_flip),
    cmocka_unit_test (test_config_errors),
    cmocka_unit_test (test_run_errors),
    cmocka_unit_test (test_input_errors),
    cmocka_unit_test (test_rawframes),
    cmocka_unit_test (test_video),
    cmocka_unit_test (test_threads),
  };
  return cmocka_run_group_tests (tests, load_fixtures, free_fixtures);
}
