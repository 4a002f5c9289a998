/* The inference path of the library: the .npy reader (goldens written by numpy, every
 * error), label maps, finding the test pipeline, MactInference on tensors, .npy files,
 * in-memory frames, PNG frame directories and videos (against the recognizer's own
 * forward_test on the pipeline's output), the averaging override, VideoDataset and
 * RawframeDataset (config keys, labels, errors naming the sample) and classifying a
 * whole dataset through the loader.
 *
 * Fixtures: tests/data/cli/ (tests/fixtures/gen_cli.py); videos are written by the test
 * with MactVideoWriter into a temporary directory. */
#include "mact-test.h"
#include "mact-test-blocks.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

/* ------------------------------------------------------------------ helpers */

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

static MactTensor *
tensor_from (gint ndim, const gint64 *shape, const float *values)
{
  gint64 n = 1;
  for (gint i = 0; i < ndim; i++)
    n *= shape[i];
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (values, (gsize) n, ndim, shape, &error);
  assert_null (error);
  return t;
}

static void
assert_shape (MactTensor *t, gint ndim, const gint64 *shape)
{
  assert_non_null (t);
  gint nd;
  const gint64 *s = mact_tensor_get_shape (t, &nd);
  assert_int_equal (nd, ndim);
  for (gint i = 0; i < ndim; i++)
    assert_int_equal (s[i], shape[i]);
}

/* Asserts @error is set with @domain and @code and its message contains @needle. */
static void
assert_error_with (GError **error, GQuark domain, gint code, const char *needle)
{
  assert_non_null (*error);
  if (needle != NULL && strstr ((*error)->message, needle) == NULL)
    fail_msg ("message \"%s\" does not mention \"%s\"", (*error)->message, needle);
  mact_test_assert_error (error, domain, code);
}

/* ------------------------------------------------------------------ .npy */

static MactTensor *
load_npy_fixture (const char *name)
{
  g_autofree char *path = data_path ("npy", name, NULL);
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_npy_load (path, &error);
  if (t == NULL)
    fail_msg ("%s: %s", name, error->message);
  return t;
}

static void
test_npy_goldens (void **state)
{
  {
    g_autoptr(MactTensor) t = load_npy_fixture ("f4_2x3.npy");
    const gint64 shape[] = { 2, 3 };
    const float want[] = { -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f };
    g_autoptr(MactTensor) expected = tensor_from (2, shape, want);
    mact_test_assert_close (t, expected, 0.0, "f4_2x3");
  }
  {
    g_autoptr(MactTensor) t = load_npy_fixture ("f8_v2.npy");
    const gint64 shape[] = { 2, 2 };
    const float want[] = { 1e-3f, -2.5f, 3.25f, 1e6f };
    g_autoptr(MactTensor) expected = tensor_from (2, shape, want);
    mact_test_assert_close (t, expected, 0.0, "f8_v2");
  }
  {
    g_autoptr(MactTensor) t = load_npy_fixture ("f4_v3.npy");
    const gint64 shape[] = { 3 };
    const float want[] = { 1.5f, -0.25f, 7.0f };
    g_autoptr(MactTensor) expected = tensor_from (1, shape, want);
    mact_test_assert_close (t, expected, 0.0, "f4_v3");
  }
  {
    g_autoptr(MactTensor) t = load_npy_fixture ("u1.npy");
    const gint64 shape[] = { 4 };
    const float want[] = { 0, 1, 128, 255 };
    g_autoptr(MactTensor) expected = tensor_from (1, shape, want);
    mact_test_assert_close (t, expected, 0.0, "u1");
  }
  {
    g_autoptr(MactTensor) t = load_npy_fixture ("i8.npy");
    const gint64 shape[] = { 2, 2 };
    const float want[] = { -3, 0, 7, 123456 };
    g_autoptr(MactTensor) expected = tensor_from (2, shape, want);
    mact_test_assert_close (t, expected, 0.0, "i8");
  }
  {
    g_autoptr(MactTensor) t = load_npy_fixture ("scalar.npy");
    assert_int_equal (mact_tensor_get_ndim (t), 0);
    assert_true (mact_tensor_item (t) == 2.5f);
  }
  {
    g_autoptr(MactTensor) t = load_npy_fixture ("empty.npy");
    const gint64 shape[] = { 0, 3 };
    assert_shape (t, 2, shape);
  }
}

/* mact_npy_save writes what numpy.save writes, byte for byte. */
static void
check_save_matches (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) t = load_npy_fixture (name);
  g_autofree char *dir = g_dir_make_tmp ("mact-npy-XXXXXX", &error);
  g_autofree char *out = g_build_filename (dir, name, NULL);
  assert_true (mact_npy_save (out, t, &error));
  assert_null (error);

  g_autofree char *ref_path = data_path ("npy", name, NULL);
  g_autofree char *ours = NULL, *ref = NULL;
  gsize ours_len, ref_len;
  assert_true (g_file_get_contents (out, &ours, &ours_len, NULL));
  assert_true (g_file_get_contents (ref_path, &ref, &ref_len, NULL));
  assert_int_equal (ours_len, ref_len);
  assert_memory_equal (ours, ref, ref_len);

  g_unlink (out);
  g_rmdir (dir);
}

static void
test_npy_save (void **state)
{
  check_save_matches ("f4_2x3.npy");
  check_save_matches ("scalar.npy");
  check_save_matches ("empty.npy");

  /* A 1-D tensor round-trips (numpy writes its shape as "(3,)"). */
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) t = load_npy_fixture ("f4_v3.npy");
  g_autofree char *dir = g_dir_make_tmp ("mact-npy-XXXXXX", &error);
  g_autofree char *out = g_build_filename (dir, "one.npy", NULL);
  assert_true (mact_npy_save (out, t, &error));
  g_autoptr(MactTensor) back = mact_npy_load (out, &error);
  assert_null (error);
  mact_test_assert_close (back, t, 0.0, "1-D round trip");
  g_unlink (out);

  /* Writing into a directory that does not exist. */
  g_autofree char *bad = g_build_filename (dir, "no", "such", "x.npy", NULL);
  assert_false (mact_npy_save (bad, t, &error));
  assert_error_with (&error, MACT_IO_ERROR, MACT_IO_ERROR_WRITE, "x.npy");
  g_rmdir (dir);
}

static void
npy_bytes_error (const void *data, gsize len, gint code, const char *needle)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) t = mact_npy_load_bytes (bytes, "case.npy", &error);
  assert_null (t);
  assert_non_null (error);
  if (strstr (error->message, "case.npy") == NULL)
    fail_msg ("message does not name the source: %s", error->message);
  assert_error_with (&error, MACT_IO_ERROR, code, needle);
}

/* A version 1.0 file with @header (unpadded) and @data_len zero bytes of data. */
static void
npy_header_error (const char *header, gsize data_len, gint code, const char *needle)
{
  const gsize hl = strlen (header);
  g_autofree guint8 *buf = g_malloc0 (10 + hl + data_len);
  memcpy (buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = hl & 0xff;
  buf[9] = hl >> 8;
  memcpy (buf + 10, header, hl);
  npy_bytes_error (buf, 10 + hl + data_len, code, needle);
}

static void
test_npy_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  struct {
    const char *file;
    gint        code;
    const char *needle;
  } files[] = {
    { "fortran.npy", MACT_IO_ERROR_FORMAT, "Fortran order" },
    { "big_endian.npy", MACT_IO_ERROR_DTYPE, "big-endian" },
    { "i4.npy", MACT_IO_ERROR_DTYPE, "'<i4'" },
    { "bool.npy", MACT_IO_ERROR_DTYPE, "'|b1'" },
    { "structured.npy", MACT_IO_ERROR_DTYPE, "structured" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = data_path ("npy", files[i].file, NULL);
      g_autoptr(MactTensor) t = mact_npy_load (path, &error);
      assert_null (t);
      assert_error_with (&error, MACT_IO_ERROR, files[i].code, files[i].needle);
    }

  g_autofree char *missing = data_path ("npy", "missing.npy", NULL);
  g_autoptr(MactTensor) t = mact_npy_load (missing, &error);
  assert_null (t);
  assert_error_with (&error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN, "missing.npy");

  /* Not .npy at all, an empty file, an unknown version. */
  npy_bytes_error ("PK\x03\x04 not numpy", 14, MACT_IO_ERROR_FORMAT, "magic");
  npy_bytes_error ("", 0, MACT_IO_ERROR_FORMAT, "magic");
  npy_bytes_error ("\x93NUMPY\x04\x00\x10\x00", 10, MACT_IO_ERROR_FORMAT, "version 4.0");
  /* A header longer than the file. */
  npy_bytes_error ("\x93NUMPY\x01\x00\xff\x00{}", 12, MACT_IO_ERROR_FORMAT, "header says");
  npy_bytes_error ("\x93NUMPY\x02\x00\x10\x00", 10, MACT_IO_ERROR_FORMAT, "truncated");

  const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  npy_header_error (ok, 20, MACT_IO_ERROR_FORMAT, "truncated");
  npy_header_error (ok, 28, MACT_IO_ERROR_FORMAT, "trailing bytes");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False}", 4, MACT_IO_ERROR_FORMAT,
                    "'shape' is missing");
  npy_header_error ("{'descr': '<f4', 'shape': (1,)}", 4, MACT_IO_ERROR_FORMAT,
                    "'fortran_order' is missing");
  npy_header_error ("{'fortran_order': False, 'shape': (1,)}", 4, MACT_IO_ERROR_FORMAT,
                    "'descr' is missing");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4,
                    MACT_IO_ERROR_FORMAT, "unknown key 'x'");
  npy_header_error ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", 4,
                    MACT_IO_ERROR_FORMAT, "True or False");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 4,
                    MACT_IO_ERROR_FORMAT, "non-negative");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", 8,
                    MACT_IO_ERROR_FORMAT, "expected ','");
  npy_header_error ("{'descr': '<f\\x34', 'fortran_order': False, 'shape': ()}", 4,
                    MACT_IO_ERROR_FORMAT, "escape");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1)}", 4,
                    MACT_IO_ERROR_FORMAT, "more than 6 dimensions");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False, 'shape': "
                    "(99999999999, 99999999999, 99999999999)}", 0, MACT_IO_ERROR_FORMAT,
                    "overflows");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", 4,
                    MACT_IO_ERROR_FORMAT, "after the dict");
  npy_header_error ("['descr']", 0, MACT_IO_ERROR_FORMAT, "expected '{'");
  npy_header_error ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8,
                    MACT_IO_ERROR_FORMAT, "shape");
  npy_header_error ("{'descr': '<f4", 0, MACT_IO_ERROR_FORMAT, "unterminated");
}

/* ------------------------------------------------------------------ label maps */

static void
test_label_map (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = data_path ("labels.txt", NULL);
  g_auto(GStrv) names = mact_label_map_load (path, &error);
  assert_null (error);
  assert_int_equal (g_strv_length (names), 3);
  assert_string_equal (names[0], "alpha");
  assert_string_equal (names[2], "gamma");

  g_autofree char *dir = g_dir_make_tmp ("mact-labels-XXXXXX", &error);
  g_autofree char *crlf = g_build_filename (dir, "crlf.txt", NULL);
  assert_true (g_file_set_contents (crlf, "abseiling\r\nair drumming \r\n\r\n\n", -1, NULL));
  g_auto(GStrv) crlf_names = mact_label_map_load (crlf, &error);
  assert_null (error);
  assert_int_equal (g_strv_length (crlf_names), 2);
  assert_string_equal (crlf_names[1], "air drumming");

  g_autofree char *gap = g_build_filename (dir, "gap.txt", NULL);
  assert_true (g_file_set_contents (gap, "a\n\nc\n", -1, NULL));
  g_auto(GStrv) none = mact_label_map_load (gap, &error);
  assert_null (none);
  assert_error_with (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE, "gap.txt:2");

  g_autofree char *empty = g_build_filename (dir, "empty.txt", NULL);
  assert_true (g_file_set_contents (empty, "\n \n", -1, NULL));
  none = mact_label_map_load (empty, &error);
  assert_null (none);
  assert_error_with (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE, "no class names");

  g_autofree char *missing = g_build_filename (dir, "missing.txt", NULL);
  none = mact_label_map_load (missing, &error);
  assert_null (none);
  assert_error_with (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO, "missing.txt");

  g_unlink (crlf);
  g_unlink (gap);
  g_unlink (empty);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ test pipelines */

static JsonNode *
json (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);
  if (node == NULL)
    fail_msg ("bad test JSON: %s", error->message);
  return node;
}

static void
expect_pipeline (const char *config_text, const char *marker)
{
  g_autoptr(JsonNode) config = json (config_text);
  g_autoptr(GError) error = NULL;
  JsonNode *p = mact_inference_find_test_pipeline (config, &error);
  assert_null (error);
  assert_true (JSON_NODE_HOLDS_ARRAY (p));
  JsonObject *step = json_array_get_object_element (json_node_get_array (p), 0);
  assert_string_equal (json_object_get_string_member (step, "type"), marker);
}

static void
test_find_test_pipeline (void **state)
{
  expect_pipeline ("{\"data\": {\"test\": {\"pipeline\": [{\"type\": \"A\"}]},"
                   " \"val\": {\"pipeline\": [{\"type\": \"C\"}]}},"
                   " \"test_pipeline\": [{\"type\": \"B\"}]}", "A");
  expect_pipeline ("{\"data\": {\"test\": {}, \"val\": {\"pipeline\": [{\"type\": \"C\"}]}},"
                   " \"test_pipeline\": [{\"type\": \"B\"}], "
                   " \"val_pipeline\": [{\"type\": \"D\"}]}", "B");
  expect_pipeline ("{\"data\": {\"test\": {\"pipeline\": null},"
                   " \"val\": {\"pipeline\": [{\"type\": \"C\"}]}},"
                   " \"val_pipeline\": [{\"type\": \"D\"}]}", "C");
  expect_pipeline ("{\"val_pipeline\": [{\"type\": \"D\"}]}", "D");

  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) none = json ("{\"model\": {}, \"data\": {\"train\": {}}}");
  assert_null (mact_inference_find_test_pipeline (none, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                     "data.test.pipeline");
  g_autoptr(JsonNode) wrong = json ("{\"test_pipeline\": {\"type\": \"A\"}}");
  assert_null (mact_inference_find_test_pipeline (wrong, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE, "test_pipeline");
}

/* ------------------------------------------------------------------ the tiny model */

#define MODEL_JSON                                                                      \
  "\"model\": {\"type\": \"Recognizer3D\","                                           \
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"       \
  "                 \"pretrained\": \"torchvision://resnet18\", \"pretrained2d\": false}," \
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 3, \"in_channels\": 32,"     \
  "                 \"dropout_ratio\": 0.0},"                                          \
  "  \"test_cfg\": {\"average_clips\": \"prob\"}}"

/* mmaction2's I3D test pipeline, shrunk: 2 clips of 4 frames, 16x16 centre crops. */
#define PIPELINE_JSON                                                                   \
  "[{\"type\": \"SampleFrames\", \"clip_len\": 4, \"frame_interval\": 1,"             \
  "  \"num_clips\": 2, \"test_mode\": true},"                                          \
  " {\"type\": \"RawFrameDecode\"},"                                                   \
  " {\"type\": \"Resize\", \"scale\": [-1, 16]},"                                      \
  " {\"type\": \"CenterCrop\", \"crop_size\": 16},"                                    \
  " {\"type\": \"Normalize\", \"mean\": [123.675, 116.28, 103.53],"                    \
  "  \"std\": [58.395, 57.12, 57.375], \"to_bgr\": false},"                            \
  " {\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"},"                         \
  " {\"type\": \"Collect\", \"keys\": [\"imgs\", \"label\"], \"meta_keys\": []},"      \
  " {\"type\": \"ToTensor\", \"keys\": [\"imgs\", \"label\"]}]"

static const char *config_no_pipeline = "{" MODEL_JSON "}";
static const char *config_with_pipeline =
  "{" MODEL_JSON ", \"data\": {\"test\": {\"type\": \"RawframeDataset\","
  " \"ann_file\": \"unused.txt\", \"filename_tmpl\": \"img_{:05}.png\", \"start_index\": 1,"
  " \"pipeline\": " PIPELINE_JSON "}}}";

typedef struct {
  char           *dir;
  char           *weights;
  MactRecognizer *reference;    /* built from the same config, weights saved from it */
} Model;

static void
model_setup (Model *m)
{
  g_autoptr(GError) error = NULL;
  m->dir = g_dir_make_tmp ("mact-inference-XXXXXX", &error);
  assert_null (error);
  mact_manual_seed (7);
  /* The config names a pretrained checkpoint, as mmaction2's do: inference drops it, as
   * init_recognizer does, and so must the reference. */
  g_autoptr(JsonNode) config = json (config_no_pipeline);
  JsonObject *model = json_object_get_object_member (json_node_get_object (config), "model");
  json_object_set_null_member (json_object_get_object_member (model, "backbone"), "pretrained");
  m->reference = mact_recognizer_new_from_json (config, NULL, &error);
  if (m->reference == NULL)
    fail_msg ("%s", error->message);
  mact_module_eval (MACT_MODULE (m->reference));
  m->weights = g_build_filename (m->dir, "weights.safetensors", NULL);
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (m->reference));
  assert_true (mact_safetensors_save (m->weights, sd, NULL, &error));
}

static void
model_teardown (Model *m)
{
  g_clear_object (&m->reference);
  mact_test_remove_tree (m->dir);
  g_free (m->dir);
  g_free (m->weights);
}

static MactInference *
inference_new (Model *m, const char *config_text, const char *average_clips)
{
  g_autoptr(JsonNode) config = json (config_text);
  g_autoptr(GError) error = NULL;
  /* Seeded differently from the reference: only the loaded weights can make them agree. */
  mact_manual_seed (99);
  MactInference *inf = mact_inference_new_from_config (config, m->weights, average_clips,
                                                       &error);
  if (inf == NULL)
    fail_msg ("%s", error->message);
  return inf;
}

/* The reference's forward_test on @imgs with a batch dimension added. */
static MactTensor *
reference_scores (Model *m, MactTensor *imgs)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) batch = mact_tensor_unsqueeze (imgs, 0, &error);
  MactTensor *scores;
  MACT_NO_GRAD_BEGIN;
  scores = mact_recognizer_forward_test (m->reference, batch, &error);
  MACT_NO_GRAD_END;
  if (scores == NULL)
    fail_msg ("%s", error->message);
  const gint64 shape[] = { mact_tensor_get_size (scores, 1) };
  MactTensor *flat = mact_tensor_reshape (scores, 1, shape, &error);
  mact_tensor_unref (scores);
  return flat;
}

static MactTensor *
random_clip (guint64 seed)
{
  const gint64 shape[] = { 2, 3, 4, 16, 16 };
  return mact_test_random (5, shape, seed, -2.0, 2.0);
}

static void
test_inference_tensor (void **state)
{
  Model m = { 0 };
  model_setup (&m);
  g_autoptr(MactInference) inf = inference_new (&m, config_no_pipeline, NULL);
  g_autoptr(GError) error = NULL;

  assert_false (mact_module_is_training (MACT_MODULE (mact_inference_get_recognizer (inf))));
  assert_null (mact_inference_get_pipeline (inf));
  g_autoptr(MactTensor) imgs = random_clip (1);
  g_autoptr(MactTensor) expected = reference_scores (&m, imgs);

  g_autoptr(MactTensor) scores = mact_inference_classify_tensor (inf, imgs, &error);
  assert_null (error);
  const gint64 k[] = { 3 };
  assert_shape (scores, 1, k);
  mact_test_assert_close (scores, expected, 1e-6, "classify_tensor [V, C, T, H, W]");
  const float *s = mact_tensor_get_data (scores);
  assert_true (fabsf (s[0] + s[1] + s[2] - 1.0f) < 1e-5f);   /* prob */

  /* With the batch dimension of one already there. */
  g_autoptr(MactTensor) batched = mact_tensor_unsqueeze (imgs, 0, &error);
  g_autoptr(MactTensor) scores2 = mact_inference_classify_tensor (inf, batched, &error);
  assert_null (error);
  mact_test_assert_close (scores2, expected, 1e-6, "classify_tensor [1, V, C, T, H, W]");

  /* Wrong rank, and a batch of two. */
  const gint64 flat_shape[] = { 3, 16, 16 };
  g_autoptr(MactTensor) flat = mact_test_random (3, flat_shape, 2, 0, 1);
  assert_null (mact_inference_classify_tensor (inf, flat, &error));
  assert_error_with (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE, "[V, C, T, H, W]");
  const gint64 two_shape[] = { 2, 2, 3, 4, 16, 16 };
  g_autoptr(MactTensor) two = mact_test_random (6, two_shape, 3, 0, 1);
  assert_null (mact_inference_classify_tensor (inf, two, &error));
  assert_error_with (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE, "one sample");

  /* Without a pipeline, only tensors can be classified. */
  g_autofree char *frames_dir = data_path ("rawframes", "vid_a", NULL);
  assert_null (mact_inference_classify_rawframes (inf, frames_dir, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY, "pipeline");
  assert_null (mact_inference_classify_video (inf, "x.mp4", &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY, "pipeline");
  const gint64 fshape[] = { 4, 16, 20, 3 };
  g_autoptr(MactTensor) frames = mact_test_random (4, fshape, 4, 0, 255);
  assert_null (mact_inference_classify_frames (inf, frames, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY, "pipeline");

  model_teardown (&m);
}

static void
softmax_row (const float *in, float *out, gint n)
{
  float mx = in[0];
  for (gint i = 1; i < n; i++)
    mx = MAX (mx, in[i]);
  double sum = 0;
  for (gint i = 0; i < n; i++)
    sum += exp (in[i] - mx);
  for (gint i = 0; i < n; i++)
    out[i] = (float) (exp (in[i] - mx) / sum);
}

static void
test_inference_average_clips (void **state)
{
  Model m = { 0 };
  model_setup (&m);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) imgs = random_clip (5);

  g_autoptr(MactInference) none = inference_new (&m, config_no_pipeline, "none");
  g_autoptr(MactInference) score = inference_new (&m, config_no_pipeline, "score");
  g_autoptr(MactInference) prob = inference_new (&m, config_no_pipeline, "prob");

  /* "none": one row per view, nothing averaged. */
  g_autoptr(MactTensor) rows = mact_inference_classify_tensor (none, imgs, &error);
  assert_null (error);
  const gint64 rows_shape[] = { 2, 3 };
  assert_shape (rows, 2, rows_shape);
  const float *r = mact_tensor_get_data (rows);

  g_autoptr(MactTensor) s = mact_inference_classify_tensor (score, imgs, &error);
  g_autoptr(MactTensor) p = mact_inference_classify_tensor (prob, imgs, &error);
  assert_null (error);
  float mean[3], mean_prob[3], p0[3], p1[3];
  softmax_row (r, p0, 3);
  softmax_row (r + 3, p1, 3);
  for (gint j = 0; j < 3; j++)
    {
      mean[j] = (r[j] + r[3 + j]) / 2;
      mean_prob[j] = (p0[j] + p1[j]) / 2;
    }
  const gint64 k[] = { 3 };
  g_autoptr(MactTensor) want_score = tensor_from (1, k, mean);
  g_autoptr(MactTensor) want_prob = tensor_from (1, k, mean_prob);
  mact_test_assert_close (s, want_score, 1e-5, "average_clips score");
  mact_test_assert_close (p, want_prob, 1e-5, "average_clips prob");

  /* An unknown mode, and configs the model cannot come from. */
  g_autoptr(JsonNode) config = json (config_no_pipeline);
  assert_null (mact_inference_new_from_config (config, NULL, "mean", &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE, "mean");
  g_autoptr(JsonNode) no_model = json ("{\"data\": {}}");
  assert_null (mact_inference_new_from_config (no_model, NULL, NULL, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY, "model");
  g_autoptr(JsonNode) array = json ("[1, 2]");
  assert_null (mact_inference_new_from_config (array, NULL, NULL, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID, "object");

  /* Weights that are not there, or do not fit. */
  g_autofree char *missing = g_build_filename (m.dir, "missing.safetensors", NULL);
  assert_null (mact_inference_new_from_config (config, missing, NULL, &error));
  assert_error_with (&error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN, "missing.safetensors");
  g_autofree char *partial = g_build_filename (m.dir, "partial.safetensors", NULL);
  g_autoptr(MactTensorDict) some = mact_tensor_dict_new ();
  const gint64 one[] = { 1 };
  g_autoptr(MactTensor) x = mact_tensor_new (1, one, NULL);
  mact_tensor_dict_insert (some, "cls_head.fc_cls.bias", x);
  assert_true (mact_safetensors_save (partial, some, NULL, &error));
  assert_null (mact_inference_new_from_config (config, partial, NULL, &error));
  assert_error_with (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT, NULL);

  /* From files: a config error names the file. */
  g_autofree char *bad_cfg = g_build_filename (m.dir, "bad.json", NULL);
  assert_true (g_file_set_contents (bad_cfg, "{\"model\": {\"type\": \"RecognizerXD\"}}", -1,
                                    NULL));
  assert_null (mact_inference_new_from_files (bad_cfg, NULL, NULL, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE, "bad.json");

  model_teardown (&m);
}

static void
test_inference_npy_file (void **state)
{
  Model m = { 0 };
  model_setup (&m);
  g_autoptr(MactInference) inf = inference_new (&m, config_no_pipeline, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) imgs = random_clip (9);
  g_autoptr(MactTensor) expected = reference_scores (&m, imgs);

  g_autofree char *path = g_build_filename (m.dir, "clip.NPY", NULL);
  assert_true (mact_npy_save (path, imgs, &error));
  g_autoptr(MactTensor) scores = mact_inference_classify_file (inf, path, &error);
  assert_null (error);
  mact_test_assert_close (scores, expected, 1e-6, "classify_file .npy");

  /* A wrongly shaped array names the file. */
  g_autofree char *bad = g_build_filename (m.dir, "bad.npy", NULL);
  g_autoptr(MactTensor) wrong = mact_test_random (2, (const gint64[]) { 2, 3 }, 1, 0, 1);
  assert_true (mact_npy_save (bad, wrong, &error));
  assert_null (mact_inference_classify_file (inf, bad, &error));
  assert_error_with (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE, "bad.npy");

  /* Other suffixes are videos. */
  g_autofree char *text = g_build_filename (m.dir, "notes.mp4", NULL);
  assert_true (g_file_set_contents (text, "this is not a video\n", -1, NULL));
  g_autoptr(JsonNode) config = json (config_with_pipeline);
  g_autoptr(MactInference) with_pipeline =
    mact_inference_new_from_config (config, m.weights, NULL, &error);
  assert_non_null (with_pipeline);
  assert_null (mact_inference_classify_file (with_pipeline, text, &error));
  assert_error_with (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT, "notes.mp4");

  model_teardown (&m);
}

/* A 2D recognizer built elsewhere (the test blocks' private registry), wrapped with
 * mact_inference_new and a TSN-style NCHW pipeline. */
static void
test_inference_2d (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRegistry) registry = mact_test_blocks_registry ();
  g_autoptr(JsonNode) model_cfg =
    json ("{\"type\": \"Recognizer2D\", \"backbone\": {\"type\": \"TestBackbone2D\"},"
          " \"cls_head\": {\"type\": \"TestHead2D\", \"num_classes\": 4, \"in_channels\": 8,"
          " \"loss_cls\": {\"type\": \"TestCELoss\"}}, \"test_cfg\": {\"average_clips\": \"score\"}}");
  g_autoptr(MactRecognizer) rec = mact_recognizer_new_from_json (model_cfg, registry, &error);
  if (rec == NULL)
    fail_msg ("%s", error->message);
  mact_module_train (MACT_MODULE (rec), TRUE);
  g_autoptr(JsonNode) pipeline_cfg =
    json ("[{\"type\": \"SampleFrames\", \"clip_len\": 1, \"frame_interval\": 1,"
          "  \"num_clips\": 3, \"test_mode\": true},"
          " {\"type\": \"ArrayDecode\"},"
          " {\"type\": \"Resize\", \"scale\": [-1, 8]},"
          " {\"type\": \"CenterCrop\", \"crop_size\": 8},"
          " {\"type\": \"Normalize\", \"mean\": [128, 128, 128], \"std\": [64, 64, 64]},"
          " {\"type\": \"FormatShape\", \"input_format\": \"NCHW\"}]");
  g_autoptr(MactInference) inf = mact_inference_new (rec, pipeline_cfg, &error);
  assert_non_null (inf);
  /* Wrapping puts the recognizer in eval mode. */
  assert_false (mact_module_is_training (MACT_MODULE (rec)));
  assert_true (mact_inference_get_recognizer (inf) == rec);
  assert_int_equal (mact_inference_get_start_index (inf), 1);

  /* [V, C, H, W] and [1, V, C, H, W] against forward_test on the batch. */
  const gint64 shape[] = { 3, 3, 8, 8 };
  g_autoptr(MactTensor) imgs = mact_test_random (4, shape, 21, -1, 1);
  g_autoptr(MactTensor) batch = mact_tensor_unsqueeze (imgs, 0, &error);
  g_autoptr(MactTensor) direct = NULL;
  MACT_NO_GRAD_BEGIN;
  direct = mact_recognizer_forward_test (rec, batch, &error);
  MACT_NO_GRAD_END;
  assert_non_null (direct);
  const gint64 k[] = { 4 };
  g_autoptr(MactTensor) expected = mact_tensor_reshape (direct, 1, k, &error);
  g_autoptr(MactTensor) a = mact_inference_classify_tensor (inf, imgs, &error);
  g_autoptr(MactTensor) b = mact_inference_classify_tensor (inf, batch, &error);
  assert_null (error);
  mact_test_assert_close (a, expected, 0.0, "2D [V, C, H, W]");
  mact_test_assert_close (b, expected, 0.0, "2D [1, V, C, H, W]");
  g_autoptr(MactTensor) wrong = mact_test_random (5, (const gint64[]) { 1, 3, 3, 8, 8 }, 1, 0, 1);
  g_autoptr(MactTensor) six = mact_tensor_unsqueeze (wrong, 0, &error);
  assert_null (mact_inference_classify_tensor (inf, six, &error));
  assert_error_with (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE, "[V, C, H, W]");

  /* In-memory frames through the pipeline: 3 segments of one frame. */
  const gint64 fshape[] = { 9, 8, 10, 3 };
  g_autoptr(MactTensor) frames = mact_test_random (4, fshape, 22, 0, 255);
  g_autoptr(MactPipeline) pipeline = mact_pipeline_new_from_config (pipeline_cfg, &error);
  g_autoptr(MactTensorDict) result = mact_pipeline_run_array (pipeline, frames, NULL, NULL,
                                                              &error);
  assert_non_null (result);
  MactTensor *out = mact_tensor_dict_lookup (result, "imgs");
  const gint64 out_shape[] = { 3, 3, 8, 8 };
  assert_shape (out, 4, out_shape);
  g_autoptr(MactTensor) fscores = mact_inference_classify_frames (inf, frames, &error);
  g_autoptr(MactTensor) fwant = mact_inference_classify_tensor (inf, out, &error);
  assert_null (error);
  mact_test_assert_close (fscores, fwant, 0.0, "2D frames");

  /* A pipeline the wrapper cannot build. */
  g_autoptr(JsonNode) bad = json ("[{\"type\": \"Resize\"}]");
  assert_null (mact_inference_new (rec, bad, &error));
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY);
}

/* ------------------------------------------------------------------ frames, rawframes, video */

static MactPipeline *
test_pipeline (void)
{
  g_autoptr(JsonNode) cfg = json (PIPELINE_JSON);
  g_autoptr(GError) error = NULL;
  MactPipeline *p = mact_pipeline_new_from_config (cfg, &error);
  if (p == NULL)
    fail_msg ("%s", error->message);
  return p;
}

static void
test_inference_rawframes (void **state)
{
  Model m = { 0 };
  model_setup (&m);
  g_autoptr(MactInference) inf = inference_new (&m, config_with_pipeline, NULL);
  g_autoptr(GError) error = NULL;
  /* data.test's naming is taken over. */
  assert_string_equal (mact_inference_get_filename_tmpl (inf), "img_{:05}.png");
  assert_int_equal (mact_inference_get_start_index (inf), 1);
  assert_non_null (mact_inference_get_pipeline (inf));

  g_autoptr(MactPipeline) pipeline = test_pipeline ();
  g_autofree char *dir = data_path ("rawframes", "vid_b", NULL);
  g_autoptr(MactTensorDict) result =
    mact_pipeline_run_rawframes (pipeline, dir, 10, "img_{:05}.png", 1, NULL, NULL, &error);
  if (result == NULL)
    fail_msg ("%s", error->message);
  MactTensor *imgs = mact_tensor_dict_lookup (result, "imgs");
  const gint64 want_shape[] = { 2, 3, 4, 16, 16 };
  assert_shape (imgs, 5, want_shape);
  g_autoptr(MactTensor) expected = reference_scores (&m, imgs);

  g_autoptr(MactTensor) scores = mact_inference_classify_rawframes (inf, dir, &error);
  if (scores == NULL)
    fail_msg ("%s", error->message);
  mact_test_assert_close (scores, expected, 1e-6, "classify_rawframes");
  /* A directory goes to the rawframe path. */
  g_autoptr(MactTensor) again = mact_inference_classify_file (inf, dir, &error);
  assert_null (error);
  mact_test_assert_close (again, expected, 0.0, "classify_file on a directory");

  /* No frame fits another template; a directory that is not there. */
  mact_inference_set_filename_tmpl (inf, "frame_{:04d}.jpg");
  assert_null (mact_inference_classify_rawframes (inf, dir, &error));
  assert_error_with (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY, "frame_{:04d}.jpg");
  mact_inference_set_filename_tmpl (inf, "no_field.png");
  assert_null (mact_inference_classify_rawframes (inf, dir, &error));
  assert_error_with (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE, "no_field");
  mact_inference_set_filename_tmpl (inf, NULL);
  assert_string_equal (mact_inference_get_filename_tmpl (inf), "img_{:05}.jpg");
  g_autofree char *missing = data_path ("rawframes", "vid_missing", NULL);
  assert_null (mact_inference_classify_rawframes (inf, missing, &error));
  assert_error_with (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND, "vid_missing");

  /* In-memory frames go through the same pipeline. */
  const gint64 fshape[] = { 7, 16, 20, 3 };
  g_autoptr(MactTensor) frames = mact_test_random (4, fshape, 11, 0, 255);
  g_autoptr(MactTensorDict) fresult = mact_pipeline_run_array (pipeline, frames, NULL, NULL,
                                                               &error);
  assert_non_null (fresult);
  g_autoptr(MactTensor) fexpected =
    reference_scores (&m, mact_tensor_dict_lookup (fresult, "imgs"));
  g_autoptr(MactTensor) fscores = mact_inference_classify_frames (inf, frames, &error);
  assert_null (error);
  mact_test_assert_close (fscores, fexpected, 1e-6, "classify_frames");

  model_teardown (&m);
}

static void
test_inference_video (void **state)
{
  Model m = { 0 };
  model_setup (&m);
  g_autoptr(MactInference) inf = inference_new (&m, config_with_pipeline, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *video = mact_test_write_bar_clip (m.dir, "clip.avi", 12, 60.0f, 2, 0);

  g_autoptr(MactPipeline) pipeline = test_pipeline ();
  g_autoptr(MactTensorDict) result = mact_pipeline_run_video (pipeline, video, NULL, NULL,
                                                              &error);
  if (result == NULL)
    fail_msg ("%s", error->message);
  g_autoptr(MactTensor) expected =
    reference_scores (&m, mact_tensor_dict_lookup (result, "imgs"));
  g_autoptr(MactTensor) scores = mact_inference_classify_video (inf, video, &error);
  assert_null (error);
  mact_test_assert_close (scores, expected, 1e-6, "classify_video");
  g_autoptr(MactTensor) via_file = mact_inference_classify_file (inf, video, &error);
  assert_null (error);
  mact_test_assert_close (via_file, expected, 0.0, "classify_file on a video");

  g_autofree char *missing = g_build_filename (m.dir, "missing.mp4", NULL);
  assert_null (mact_inference_classify_video (inf, missing, &error));
  assert_error_with (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND, "missing.mp4");
  model_teardown (&m);
}

/* ------------------------------------------------------------------ datasets */

static JsonNode *
rawframe_config (const char *ann, const char *extra)
{
  g_autofree char *ann_path = data_path (ann, NULL);
  g_autofree char *prefix = data_path ("rawframes", NULL);
  g_autofree char *text =
    g_strdup_printf ("{\"type\": \"RawframeDataset\", \"ann_file\": \"%s\","
                     " \"data_prefix\": \"%s\", \"filename_tmpl\": \"img_{:05}.png\","
                     " \"test_mode\": true, \"pipeline\": " PIPELINE_JSON "%s}",
                     ann_path, prefix, extra);
  return json (text);
}

static void
test_rawframe_dataset (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = rawframe_config ("rawframes.txt", "");
  g_autoptr(MactDataset) ds = mact_dataset_new_from_config (cfg, &error);
  if (ds == NULL)
    fail_msg ("%s", error->message);
  assert_true (MACT_IS_RAWFRAME_DATASET (ds));
  assert_int_equal (mact_dataset_get_length (ds), 3);
  assert_int_equal (mact_dataset_get_num_classes (ds), 3);   /* 1 + the largest label */
  const MactAnnotation *ann = mact_rawframe_dataset_get_annotation (MACT_RAWFRAME_DATASET (ds), 1);
  assert_int_equal (ann->total_frames, 10);
  assert_true (g_str_has_suffix (ann->path, "vid_b"));
  assert_non_null (mact_rawframe_dataset_get_pipeline (MACT_RAWFRAME_DATASET (ds)));

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(MactTensorDict) item = mact_dataset_get_item (ds, i, NULL, &error);
      if (item == NULL)
        fail_msg ("sample %u: %s", i, error->message);
      const gint64 shape[] = { 2, 3, 4, 16, 16 };
      assert_shape (mact_tensor_dict_lookup (item, "imgs"), 5, shape);
      MactTensor *label = mact_tensor_dict_lookup (item, "label");
      const gint64 one[] = { 1 };
      assert_shape (label, 1, one);
      assert_true (mact_tensor_item (label) == (float) i);
    }

  /* The sample's frames are the files the template names: same as the pipeline on the
   * directory. */
  g_autoptr(MactPipeline) pipeline = test_pipeline ();
  g_autofree char *dir = data_path ("rawframes", "vid_a", NULL);
  g_autoptr(MactTensorDict) direct =
    mact_pipeline_run_rawframes (pipeline, dir, 6, "img_{:05}.png", 1, NULL, NULL, &error);
  g_autoptr(MactTensorDict) item = mact_dataset_get_item (ds, 0, NULL, &error);
  assert_null (error);
  mact_test_assert_close (mact_tensor_dict_lookup (item, "imgs"),
                          mact_tensor_dict_lookup (direct, "imgs"), 0.0, "sample 0");

  /* multi_class: one-hot labels of num_classes. */
  g_autoptr(JsonNode) multi = rawframe_config ("rawframes_multi.txt",
                                               ", \"multi_class\": true, \"num_classes\": 3");
  g_autoptr(MactDataset) mds = mact_dataset_new_from_config (multi, &error);
  if (mds == NULL)
    fail_msg ("%s", error->message);
  assert_int_equal (mact_dataset_get_num_classes (mds), 3);
  g_autoptr(MactTensorDict) mitem = mact_dataset_get_item (mds, 0, NULL, &error);
  assert_null (error);
  const float onehot[] = { 1, 0, 1 };
  const gint64 three[] = { 3 };
  g_autoptr(MactTensor) want = tensor_from (1, three, onehot);
  mact_test_assert_close (mact_tensor_dict_lookup (mitem, "label"), want, 0.0, "one-hot");

  /* with_offset: frame i of "vid_b 2 6 1" is img_{i + start_index + offset}. */
  g_autofree char *offset_dir = g_dir_make_tmp ("mact-offset-XXXXXX", &error);
  g_autofree char *offset_list = g_build_filename (offset_dir, "list.txt", NULL);
  assert_true (g_file_set_contents (offset_list, "vid_b 2 6 1\n", -1, NULL));
  g_autofree char *frames_root = data_path ("rawframes", NULL);
  g_autofree char *offset_text =
    g_strdup_printf ("{\"type\": \"RawframeDataset\", \"ann_file\": \"%s\","
                     " \"data_prefix\": \"%s\", \"filename_tmpl\": \"img_{:05}.png\","
                     " \"with_offset\": true, \"pipeline\": " PIPELINE_JSON "}",
                     offset_list, frames_root);
  g_autoptr(JsonNode) offset_cfg = json (offset_text);
  g_autoptr(MactDataset) ods = mact_dataset_new_from_config (offset_cfg, &error);
  assert_non_null (ods);
  assert_int_equal (mact_rawframe_dataset_get_annotation (MACT_RAWFRAME_DATASET (ods), 0)->offset, 2);
  g_autoptr(MactTensorDict) oitem = mact_dataset_get_item (ods, 0, NULL, &error);
  assert_non_null (oitem);
  g_autofree char *vid_b = data_path ("rawframes", "vid_b", NULL);
  g_autoptr(MactTensorDict) shifted =
    mact_pipeline_run_rawframes (pipeline, vid_b, 6, "img_{:05}.png", 3, NULL, NULL, &error);
  assert_non_null (shifted);
  mact_test_assert_close (mact_tensor_dict_lookup (oitem, "imgs"),
                          mact_tensor_dict_lookup (shifted, "imgs"), 0.0, "with_offset");
  g_autoptr(MactTensorDict) unshifted =
    mact_pipeline_run_rawframes (pipeline, vid_b, 6, "img_{:05}.png", 1, NULL, NULL, &error);
  float diff = 0;
  const float *p0 = mact_tensor_get_data (mact_tensor_dict_lookup (oitem, "imgs"));
  const float *p1 = mact_tensor_get_data (mact_tensor_dict_lookup (unshifted, "imgs"));
  for (gint64 i = 0; i < mact_tensor_get_numel (mact_tensor_dict_lookup (oitem, "imgs")); i++)
    diff = MAX (diff, fabsf (p0[i] - p1[i]));
  assert_true (diff > 1.0f);   /* the offset really moved the frames */
  mact_test_remove_tree (offset_dir);

  /* start_index 0 names frames from img_00000.png, which do not exist: the error names
   * the sample and its directory. */
  g_autoptr(JsonNode) zero = rawframe_config ("rawframes.txt", ", \"start_index\": 0");
  g_autoptr(MactDataset) zds = mact_dataset_new_from_config (zero, &error);
  assert_null (error);
  g_autoptr(MactTensorDict) none = mact_dataset_get_item (zds, 2, NULL, &error);
  assert_null (none);
  assert_non_null (error);
  assert_non_null (strstr (error->message, "RawframeDataset: sample 2"));
  assert_non_null (strstr (error->message, "vid_c"));
  assert_int_equal (error->domain, MACT_VIDEO_ERROR);
  g_clear_error (&error);
}

static void
dataset_error (const char *text, GQuark domain, gint code, const char *needle)
{
  g_autoptr(JsonNode) cfg = json (text);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactDataset) ds = mact_dataset_new_from_config (cfg, &error);
  assert_null (ds);
  assert_error_with (&error, domain, code, needle);
}

static void
test_dataset_config_errors (void **state)
{
  g_autofree char *ann = data_path ("rawframes.txt", NULL);
  const GQuark D = MACT_DATA_ERROR;
  const gint INVALID = MACT_DATA_ERROR_INVALID_CONFIG;
#define P "\"pipeline\": " PIPELINE_JSON
  g_autofree char *base = g_strdup_printf ("\"ann_file\": \"%s\", " P, ann);
  struct {
    const char *type;
    const char *extra;
    GQuark      domain;
    gint        code;
    const char *needle;
  } cases[] = {
    { "RawframeDataset", ", \"frobnicate\": 1", D, INVALID, "'frobnicate' is unknown" },
    { "VideoDataset", ", \"filename_tmpl\": \"x\"", D, INVALID, "'filename_tmpl' is unknown" },
    { "RawframeDataset", ", \"test_mode\": 1", D, INVALID, "'test_mode' must be a boolean" },
    { "RawframeDataset", ", \"data_prefix\": 3", D, INVALID, "'data_prefix' must be a string" },
    { "RawframeDataset", ", \"num_classes\": 0", D, INVALID, "'num_classes' must be in" },
    { "RawframeDataset", ", \"num_classes\": \"3\"", D, INVALID, "must be an integer" },
    { "RawframeDataset", ", \"start_index\": -1", D, INVALID, "'start_index'" },
    { "VideoDataset", ", \"start_index\": 1", D, INVALID, "must be 0 for videos" },
    { "RawframeDataset", ", \"multi_class\": true", D, INVALID, "required with multi_class" },
    { "RawframeDataset", ", \"modality\": \"Flow\"", D, INVALID, "only \\\"RGB\\\"" },
    { "RawframeDataset", ", \"modality\": 1", D, INVALID, "'modality' must be a string" },
    { "RawframeDataset", ", \"with_offset\": \"no\"", D, INVALID, "'with_offset'" },
    { "RawframeDataset", ", \"num_classes\": 2", D, MACT_DATA_ERROR_PARSE, "rawframes.txt:3" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"type\": \"%s\", %s%s}", cases[i].type,
                                               base, cases[i].extra);
      /* The needle's escaped quotes are JSON-free text: unescape them. */
      g_autofree char *needle = g_strcompress (cases[i].needle);
      dataset_error (text, cases[i].domain, cases[i].code, needle);
    }

  g_autofree char *no_ann = g_strdup_printf ("{\"type\": \"VideoDataset\", " P "}");
  dataset_error (no_ann, D, INVALID, "'ann_file' is missing");
  g_autofree char *no_pipeline =
    g_strdup_printf ("{\"type\": \"VideoDataset\", \"ann_file\": \"%s\"}", ann);
  dataset_error (no_pipeline, D, INVALID, "'pipeline' is missing");
  g_autofree char *bad_pipeline =
    g_strdup_printf ("{\"type\": \"VideoDataset\", \"ann_file\": \"%s\", \"pipeline\": "
                     "[{\"type\": \"NoSuchTransform\"}]}", ann);
  dataset_error (bad_pipeline, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE,
                 "VideoDataset: key 'pipeline'");
  g_autofree char *pipeline_obj =
    g_strdup_printf ("{\"type\": \"VideoDataset\", \"ann_file\": \"%s\", \"pipeline\": {}}", ann);
  dataset_error (pipeline_obj, D, INVALID, "list of transforms");
  dataset_error ("{\"type\": \"RawframeDataset\", \"ann_file\": \"/no/such/list.txt\", " P "}",
                 D, MACT_DATA_ERROR_IO, "list.txt");
#undef P

  /* Direct constructors check the type and want an object. */
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) wrong_type = json ("{\"type\": \"RawframeDataset\"}");
  assert_null (mact_video_dataset_new_from_config (wrong_type, &error));
  assert_error_with (&error, D, INVALID, "'type' must be \"VideoDataset\"");
  g_autoptr(JsonNode) array = json ("[]");
  assert_null (mact_rawframe_dataset_new_from_config (array, &error));
  assert_error_with (&error, D, INVALID, "expected a config object");
}

static void
test_video_dataset (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-vds-XXXXXX", &error);
  g_autofree char *v0 = mact_test_write_bar_clip (dir, "v0.avi", 12, 30.0f, 2, 0);
  g_free (mact_test_write_bar_clip (dir, "v1.mp4", 12, 150.0f, 2, 0));
  g_autofree char *list = g_build_filename (dir, "list.txt", NULL);
  assert_true (g_file_set_contents (list, "v0.avi 1\nv1.mp4 0\nmissing.mp4 1\n", -1, NULL));

  g_autofree char *text =
    g_strdup_printf ("{\"type\": \"VideoDataset\", \"ann_file\": \"%s\", \"data_prefix\": "
                     "\"%s\", \"pipeline\": [{\"type\": \"DecordInit\"}, "
                     "{\"type\": \"SampleFrames\", \"clip_len\": 4, \"frame_interval\": 2, "
                     "\"num_clips\": 1, \"test_mode\": true}, {\"type\": \"DecordDecode\"}, "
                     "{\"type\": \"Resize\", \"scale\": [-1, 16]}, "
                     "{\"type\": \"CenterCrop\", \"crop_size\": 16}, "
                     "{\"type\": \"FormatShape\", \"input_format\": \"NCTHW\"}]}", list, dir);
  g_autoptr(JsonNode) cfg = json (text);
  g_autoptr(MactDataset) ds = mact_dataset_new_from_config (cfg, &error);
  if (ds == NULL)
    fail_msg ("%s", error->message);
  assert_true (MACT_IS_VIDEO_DATASET (ds));
  assert_int_equal (mact_dataset_get_length (ds), 3);
  assert_int_equal (mact_dataset_get_num_classes (ds), 2);
  assert_string_equal (mact_video_dataset_get_annotation (MACT_VIDEO_DATASET (ds), 0)->path, v0);
  assert_non_null (mact_video_dataset_get_pipeline (MACT_VIDEO_DATASET (ds)));

  g_autoptr(MactTensorDict) a = mact_dataset_get_item (ds, 0, NULL, &error);
  if (a == NULL)
    fail_msg ("%s", error->message);
  const gint64 shape[] = { 1, 3, 4, 16, 16 };
  assert_shape (mact_tensor_dict_lookup (a, "imgs"), 5, shape);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (a, "label")) == 1.0f);
  g_autoptr(MactTensorDict) b = mact_dataset_get_item (ds, 1, NULL, &error);
  assert_non_null (b);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (b, "label")) == 0.0f);
  /* The two clips differ in brightness: the samples are the videos' own frames. */
  const float *da = mact_tensor_get_data (mact_tensor_dict_lookup (a, "imgs"));
  const float *db = mact_tensor_get_data (mact_tensor_dict_lookup (b, "imgs"));
  assert_true (db[0] - da[0] > 60.0f);

  g_autoptr(MactTensorDict) c = mact_dataset_get_item (ds, 2, NULL, &error);
  assert_null (c);
  assert_non_null (error);
  assert_non_null (strstr (error->message, "VideoDataset: sample 2"));
  assert_non_null (strstr (error->message, "missing.mp4"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);

  mact_test_remove_tree (dir);
}

typedef struct {
  guint calls;
  guint last_done;
  guint total;
} ProgressLog;

static void
log_progress (guint done, guint total, gpointer user_data)
{
  ProgressLog *log = user_data;
  assert_int_equal (done, log->last_done + 1);
  log->calls++;
  log->last_done = done;
  log->total = total;
}

static void
test_classify_dataset (void **state)
{
  Model m = { 0 };
  model_setup (&m);
  g_autoptr(MactInference) inf = inference_new (&m, config_with_pipeline, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = rawframe_config ("rawframes.txt", "");
  g_autoptr(MactDataset) ds = mact_dataset_new_from_config (cfg, &error);
  assert_non_null (ds);

  ProgressLog log = { 0 };
  g_autoptr(MactTensor) labels = NULL;
  g_autoptr(MactTensor) scores =
    mact_inference_classify_dataset (inf, ds, &labels, log_progress, &log, NULL, &error);
  if (scores == NULL)
    fail_msg ("%s", error->message);
  const gint64 shape[] = { 3, 3 };
  assert_shape (scores, 2, shape);
  assert_int_equal (log.calls, 3);
  assert_int_equal (log.total, 3);
  const gint64 n[] = { 3 };
  const float want_labels[] = { 0, 1, 2 };
  g_autoptr(MactTensor) want = tensor_from (1, n, want_labels);
  mact_test_assert_close (labels, want, 0.0, "labels");

  /* Row i is what classifying sample i's directory alone gives. */
  const char *dirs[] = { "vid_a", "vid_b", "vid_c" };
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *dir = data_path ("rawframes", dirs[i], NULL);
      g_autoptr(MactTensor) one = mact_inference_classify_rawframes (inf, dir, &error);
      assert_null (error);
      g_autoptr(MactTensor) row = mact_tensor_narrow (scores, 0, i, 1, &error);
      g_autoptr(MactTensor) flat = mact_tensor_reshape (row, 1, n, &error);
      mact_test_assert_close (flat, one, 1e-6, dirs[i]);
    }

  /* A cancelled run stops with CANCELLED; a failing sample stops with its error. */
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  assert_null (mact_inference_classify_dataset (inf, ds, NULL, NULL, NULL, cancel, &error));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_CANCELLED);
  g_autoptr(JsonNode) zero = rawframe_config ("rawframes.txt", ", \"start_index\": 0");
  g_autoptr(MactDataset) bad = mact_dataset_new_from_config (zero, &error);
  assert_null (mact_inference_classify_dataset (inf, bad, NULL, NULL, NULL, NULL, &error));
  assert_error_with (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND, "sample 0");

  model_teardown (&m);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_npy_goldens),
    cmocka_unit_test (test_npy_save),
    cmocka_unit_test (test_npy_errors),
    cmocka_unit_test (test_label_map),
    cmocka_unit_test (test_find_test_pipeline),
    cmocka_unit_test (test_inference_tensor),
    cmocka_unit_test (test_inference_average_clips),
    cmocka_unit_test (test_inference_npy_file),
    cmocka_unit_test (test_inference_2d),
    cmocka_unit_test (test_inference_rawframes),
    cmocka_unit_test (test_inference_video),
    cmocka_unit_test (test_rawframe_dataset),
    cmocka_unit_test (test_dataset_config_errors),
    cmocka_unit_test (test_video_dataset),
    cmocka_unit_test (test_classify_dataset),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
