/* The full-size parity suite (meson test --suite parity): every model of the zoo at its
 * real width against live PyTorch.
 *
 * The first test runs tests/parity/gen_full.py (Debian's python3 with python3-torch and
 * python3-torchvision; MACT_TEST_PYTHON overrides the interpreter) with the cases to
 * check.  It writes, per case, a weights file and a reference file to MACT_TEST_PARITY_DIR
 * (the build tree: nothing here is committed).  Then one test per model:
 *
 * - tv_*: the torchvision model by its type name ("tv.resnet152"), default arguments (1000
 *   classes), with the weights file as its `weights` argument (a strict load at build
 *   time); the logits, and features(x) where the model has them, in eval mode.
 * - cls_*: the mmcls backbone by type name, weights loaded strictly with
 *   mact_safetensors_load() + mact_module_load_state_dict(); every requested stage.
 * - the recognizers of configs/recognition/: mact_recognizer_new_from_file() on the
 *   shipped config, mact_recognizer_load_weights() (strict) on the weights file, then in
 *   eval mode the backbone features (extract_feat), the head's logits (models without a
 *   neck) and the final scores of forward_test (average_clip, fcn_test for TPN-TSM).
 * - grad_*: one train-mode cross-entropy step (dropout off) of tv.resnet18 and of the
 *   TSM-R50 config, on batches of 2: loss, the gradient of every parameter, and the
 *   batch-norm buffers after the step.  Full-size train-mode gradients are easily
 *   ill-conditioned (see train_step() in gen_full.py); the seeds, and for TSM-R50 raised
 *   batch-norm shifts, were chosen so that PyTorch's own float32 variants agree with
 *   float64 within 1e-4.
 *
 * Inputs are one sample of reduced size (see gen_full.py); values must match within
 * 1e-4 x max(1, max|ref|), gradients within 1e-3 x max|ref| per tensor.  Each test prints
 * its timings and worst errors as TAP comments.  A case's files are deleted when it passes
 * (set MACT_PARITY_KEEP to keep them); MACT_PARITY_CASES (names separated by commas or
 * spaces) runs a subset.  Without python3-torch the first test, and so every other,
 * fails with the generator's message: the suite never passes without a reference. */
#include "mact-test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

typedef enum {
  KIND_TV,
  KIND_CLS,
  KIND_RECOGNIZER,
  KIND_GRAD_TV,
  KIND_GRAD_RECOGNIZER,
} CaseKind;

typedef struct {
  const char *name;
  CaseKind    kind;
} ParityCase;

/* The same names as gen_full.py's CASES. */
static const ParityCase all_cases[] = {
  { "tv_resnet18", KIND_TV },
  { "tv_resnet34", KIND_TV },
  { "tv_resnet50", KIND_TV },
  { "tv_resnet101", KIND_TV },
  { "tv_resnet152", KIND_TV },
  { "tv_resnext50_32x4d", KIND_TV },
  { "tv_mobilenet_v2", KIND_TV },
  { "tv_mobilenet_v3_small", KIND_TV },
  { "tv_mobilenet_v3_large", KIND_TV },
  { "tv_r3d_18", KIND_TV },
  { "tv_mc3_18", KIND_TV },
  { "tv_r2plus1d_18", KIND_TV },
  { "tv_s3d", KIND_TV },
  { "cls_resnet50", KIND_CLS },
  { "cls_resnet101", KIND_CLS },
  { "cls_resnext50", KIND_CLS },
  { "cls_mobilenet_v2", KIND_CLS },
  { "tsn_r50", KIND_RECOGNIZER },
  { "tsm_r50", KIND_RECOGNIZER },
  { "tsm_mobilenetv2", KIND_RECOGNIZER },
  { "i3d_r50", KIND_RECOGNIZER },
  { "slowonly_r50", KIND_RECOGNIZER },
  { "slowfast_r50", KIND_RECOGNIZER },
  { "r2plus1d_r34", KIND_RECOGNIZER },
  { "c3d", KIND_RECOGNIZER },
  { "x3d_s", KIND_RECOGNIZER },
  { "tpn_tsm", KIND_RECOGNIZER },
  { "grad_tv_resnet18", KIND_GRAD_TV },
  { "grad_tsm_r50", KIND_GRAD_RECOGNIZER },
};

#define VALUE_TOL 1e-4
#define GRAD_TOL  1e-3

/* Set by the first test. */
static GPtrArray *selected;          /* (element-type ParityCase) borrowed */
static gboolean   generated;
static char      *data_dir;

/* ------------------------------------------------------------------ paths */

static const char *
source_tests_dir (void)
{
  const char *dir = g_getenv ("G_TEST_SRCDIR");
  return dir != NULL ? dir : "tests";
}

static char *
case_file (const ParityCase *c, const char *suffix)
{
  g_autofree char *base = g_strconcat (c->name, suffix, NULL);
  return g_build_filename (data_dir, base, NULL);
}

static double
seconds_since (gint64 start)
{
  return (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
}

/* ------------------------------------------------------------------ generator */

/* Runs gen_full.py for the selected cases.  Its summary lines (one per case, and the
 * total) are repeated as TAP comments. */
static void
test_generate_reference (void **state)
{
  const char *python = g_getenv ("MACT_TEST_PYTHON");
  g_autofree char *script = g_build_filename (source_tests_dir (), "parity", "gen_full.py",
                                              NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) (python != NULL && *python ? python : "/usr/bin/python3"));
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, data_dir);
  for (guint i = 0; i < selected->len; i++)
    g_ptr_array_add (argv, (gpointer) ((const ParityCase *) g_ptr_array_index (selected, i))->name);
  g_ptr_array_add (argv, NULL);

  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint status = 0;
  g_autoptr(GError) error = NULL;
  const gint64 start = g_get_monotonic_time ();
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                     &err, &status, &error))
    fail_msg ("cannot run the reference generator %s with %s: %s (the parity suite needs "
              "Debian's python3 with python3-torch and python3-torchvision: "
              "tools/install-deps.sh --reference; MACT_TEST_PYTHON names another "
              "interpreter)", script, (char *) g_ptr_array_index (argv, 0), error->message);
  if (!g_spawn_check_wait_status (status, &error))
    fail_msg ("the reference generator failed (%s):\n%s%s", error->message, out, err);

  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      printf ("# generator: %s\n", lines[i]);
  printf ("# generator: %.1f s including Python's start-up\n", seconds_since (start));
  fflush (stdout);
  generated = TRUE;
}

/* ------------------------------------------------------------------ comparisons */

typedef struct {
  double worst_value;   /* max over compared tensors of err / max(1, max|ref|) */
  double worst_grad;    /* max over gradients of err / max|ref| */
  guint  n_values;
  guint  n_grads;
} Errors;

static void
max_abs_diff (MactTensor *got, MactTensor *ref, double *err, double *scale)
{
  g_autoptr(MactTensor) a = mact_tensor_contiguous (got);
  g_autoptr(MactTensor) b = mact_tensor_contiguous (ref);
  const float *av = mact_tensor_get_data (a);
  const float *bv = mact_tensor_get_data (b);
  const gint64 n = mact_tensor_get_numel (b);
  *err = 0.0;
  *scale = 0.0;
  for (gint64 i = 0; i < n; i++)
    {
      const double d = fabs ((double) av[i] - (double) bv[i]);
      if (isnan (d))
        *err = INFINITY;   /* a NaN must not compare as a small error */
      else if (d > *err)
        *err = d;
      *scale = MAX (*scale, fabs ((double) bv[i]));
    }
}

static void
assert_same_shape (MactTensor *got, MactTensor *ref, const char *what)
{
  g_autofree char *gs = mact_tensor_shape_to_string (got);
  g_autofree char *rs = mact_tensor_shape_to_string (ref);
  if (!g_str_equal (gs, rs))
    fail_msg ("%s: shape %s, PyTorch's is %s", what, gs, rs);
}

/* max|got - ref| <= VALUE_TOL * max(1, max|ref|). */
static void
check_values (MactTensor *got, MactTensor *ref, const char *what, Errors *errors)
{
  assert_non_null (got);
  assert_same_shape (got, ref, what);
  double err, scale;
  max_abs_diff (got, ref, &err, &scale);
  const double rel = err / MAX (1.0, scale);
  errors->worst_value = MAX (errors->worst_value, rel);
  errors->n_values++;
  if (!(rel <= VALUE_TOL))
    fail_msg ("%s: max abs error %g, max |ref| %g: %g x max(1, max|ref|) > %g", what, err,
              scale, rel, VALUE_TOL);
}

/* max|got - ref| <= GRAD_TOL * max|ref|. */
static void
check_grad (MactTensor *got, MactTensor *ref, const char *what, Errors *errors)
{
  if (got == NULL)
    fail_msg ("%s: no gradient", what);
  assert_same_shape (got, ref, what);
  double err, scale;
  max_abs_diff (got, ref, &err, &scale);
  const double rel = err / MAX (scale, 1e-30);
  errors->worst_grad = MAX (errors->worst_grad, rel);
  errors->n_grads++;
  if (!(err <= GRAD_TOL * scale))
    fail_msg ("%s: max abs error %g, max |ref| %g: relative %g > %g", what, err, scale, rel,
              GRAD_TOL);
}

/* ------------------------------------------------------------------ reference files */

typedef struct {
  MactTensorDict *tensors;
  GHashTable     *meta;
} Reference;

static void
reference_clear (Reference *ref)
{
  g_clear_pointer (&ref->tensors, mact_tensor_dict_unref);
  g_clear_pointer (&ref->meta, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Reference, reference_clear)

static void
reference_load (Reference *ref, const ParityCase *c)
{
  if (!generated)
    fail_msg ("%s: no reference data: the generator failed (see test generate_reference)",
              c->name);
  g_autofree char *path = case_file (c, ".ref.safetensors");
  g_autoptr(GError) error = NULL;
  ref->tensors = mact_safetensors_load (path, &ref->meta, &error);
  if (ref->tensors == NULL)
    fail_msg ("%s: %s", c->name, error->message);
}

static MactTensor *
ref_get (Reference *ref, const char *key)
{
  MactTensor *t = mact_tensor_dict_lookup (ref->tensors, key);
  if (t == NULL)
    fail_msg ("the reference has no tensor %s", key);
  return t;
}

static const char *
ref_meta (Reference *ref, const char *key)
{
  const char *v = g_hash_table_lookup (ref->meta, key);
  if (v == NULL)
    fail_msg ("the reference has no metadata %s", key);
  return v;
}

/* Prints the case's timings and worst errors, then deletes its files (it passed). */
static void
report (const ParityCase *c, Reference *ref, double build, double load, double run,
        const Errors *errors)
{
  GString *line = g_string_new (NULL);
  g_string_append_printf (line, "# %s: build %.2f s", c->name, build);
  if (load >= 0.0)
    g_string_append_printf (line, ", load %.2f s", load);
  g_string_append_printf (line, ", run %.2f s, mact total %.2f s, generator %s s; "
                          "%u outputs, worst %.2g", run, build + MAX (load, 0.0) + run,
                          ref_meta (ref, "seconds"), errors->n_values, errors->worst_value);
  if (errors->n_grads > 0)
    g_string_append_printf (line, "; %u gradients, worst %.2g", errors->n_grads,
                            errors->worst_grad);
  printf ("%s\n", line->str);
  fflush (stdout);
  g_string_free (line, TRUE);

  if (g_getenv ("MACT_PARITY_KEEP") == NULL)
    for (guint i = 0; i < 2; i++)
      {
        g_autofree char *path = case_file (c, i == 0 ? ".ref.safetensors"
                                                     : ".weights.safetensors");
        g_unlink (path);
      }
}

/* ------------------------------------------------------------------ building */

/* @config (a JSON object) with "weights": @weights when given, built with the default
 * registry. */
static MactModule *
build_block (const char *config, const char *weights)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_data (parser, config, -1, &error))
    fail_msg ("config %s: %s", config, error->message);
  JsonNode *root = json_parser_get_root (parser);
  if (weights != NULL)
    json_object_set_string_member (json_node_get_object (root), "weights", weights);
  MactModule *module = mact_registry_build_from_json (mact_registry_get_default (), root,
                                                      MACT_TYPE_BACKBONE, &error);
  if (module == NULL)
    fail_msg ("building %s: %s", config, error->message);
  return module;
}

static GPtrArray *
eval_forward (MactModule *module, MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new ();
  g_ptr_array_add (inputs, x);
  GPtrArray *outs;
  MACT_NO_GRAD_BEGIN
  outs = mact_module_forward (module, inputs, &error);
  MACT_NO_GRAD_END
  if (outs == NULL)
    fail_msg ("forward: %s", error->message);
  return outs;
}

/* ------------------------------------------------------------------ tv. and cls. */

static void
run_tv (const ParityCase *c, Reference *ref)
{
  Errors errors = { 0 };
  g_autofree char *weights = case_file (c, ".weights.safetensors");
  gint64 start = g_get_monotonic_time ();
  g_autoptr(MactModule) model = build_block (ref_meta (ref, "config"), weights);
  const double build = seconds_since (start);

  start = g_get_monotonic_time ();
  mact_module_eval (model);
  MactTensor *x = ref_get (ref, "input");
  g_autoptr(GPtrArray) outs = eval_forward (model, x);
  assert_int_equal (outs->len, 1);
  check_values (g_ptr_array_index (outs, 0), ref_get (ref, "output"), "logits", &errors);

  const gboolean has_features = mact_tensor_dict_contains (ref->tensors, "features");
  assert_int_equal (mact_backbone_has_features (MACT_BACKBONE (model)), has_features);
  if (has_features)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MactTensor) f = NULL;
      MACT_NO_GRAD_BEGIN
      f = mact_backbone_forward_features (MACT_BACKBONE (model), x, &error);
      MACT_NO_GRAD_END
      if (f == NULL)
        fail_msg ("features: %s", error->message);
      check_values (f, ref_get (ref, "features"), "features", &errors);
    }
  report (c, ref, build, -1.0, seconds_since (start), &errors);
}

static void
load_strict (MactModule *module, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) weights = mact_safetensors_load (path, NULL, &error);
  if (weights == NULL)
    fail_msg ("%s", error->message);
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  if (!mact_module_load_state_dict (module, weights, TRUE, &missing, &unexpected, &error))
    fail_msg ("%s: %s", path, error->message);
  assert_null (missing[0]);
  assert_null (unexpected[0]);
}

static void
run_cls (const ParityCase *c, Reference *ref)
{
  Errors errors = { 0 };
  gint64 start = g_get_monotonic_time ();
  g_autoptr(MactModule) model = build_block (ref_meta (ref, "config"), NULL);
  const double build = seconds_since (start);

  start = g_get_monotonic_time ();
  g_autofree char *weights = case_file (c, ".weights.safetensors");
  load_strict (model, weights);
  const double load = seconds_since (start);

  start = g_get_monotonic_time ();
  mact_module_eval (model);
  g_autoptr(GPtrArray) outs = eval_forward (model, ref_get (ref, "input"));
  const guint n = (guint) g_ascii_strtoull (ref_meta (ref, "n_outputs"), NULL, 10);
  assert_int_equal (outs->len, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *key = g_strdup_printf ("out%u", i);
      check_values (g_ptr_array_index (outs, i), ref_get (ref, key), key, &errors);
    }
  report (c, ref, build, load, seconds_since (start), &errors);
}

/* ------------------------------------------------------------------ recognizers */

static char *
config_path (const char *file)
{
  return g_build_filename (source_tests_dir (), "..", "configs", "recognition", file, NULL);
}

/* [N, V, ...] -> [N * V, ...], as the recognizers fold views. */
static MactTensor *
fold_views (MactTensor *imgs)
{
  gint nd;
  const gint64 *s = mact_tensor_get_shape (imgs, &nd);
  gint64 shape[MACT_MAX_DIMS];
  shape[0] = s[0] * s[1];
  for (gint d = 2; d < nd; d++)
    shape[d - 1] = s[d];
  g_autoptr(GError) error = NULL;
  MactTensor *folded = mact_tensor_reshape (imgs, nd - 1, shape, &error);
  if (folded == NULL)
    fail_msg ("%s", error->message);
  return folded;
}

static MactRecognizer *
recognizer_from_file (const char *file)
{
  g_autofree char *path = config_path (file);
  g_autoptr(GError) error = NULL;
  MactRecognizer *recognizer = mact_recognizer_new_from_file (path, mact_registry_get_default (),
                                                              &error);
  if (recognizer == NULL)
    fail_msg ("%s: %s", path, error->message);
  return recognizer;
}

static void
load_weights (MactRecognizer *recognizer, const ParityCase *c)
{
  g_autofree char *weights = case_file (c, ".weights.safetensors");
  g_autoptr(GError) error = NULL;
  if (!mact_recognizer_load_weights (recognizer, weights, TRUE, &error))
    fail_msg ("%s", error->message);
}

static void
run_recognizer (const ParityCase *c, Reference *ref)
{
  Errors errors = { 0 };
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(MactRecognizer) recognizer = recognizer_from_file (ref_meta (ref, "config_file"));
  const double build = seconds_since (start);

  start = g_get_monotonic_time ();
  load_weights (recognizer, c);
  const double load = seconds_since (start);

  start = g_get_monotonic_time ();
  mact_module_eval (MACT_MODULE (recognizer));
  MactTensor *imgs = ref_get (ref, "imgs");
  g_autoptr(MactTensor) folded = fold_views (imgs);
  g_autoptr(GPtrArray) feats = NULL;
  g_autoptr(MactTensor) logits = NULL;
  g_autoptr(MactTensor) scores = NULL;
  const gboolean with_logits = mact_tensor_dict_contains (ref->tensors, "logits");
  const gint num_segs = MACT_IS_RECOGNIZER_2D (recognizer) ? (gint) mact_tensor_get_size (imgs, 1)
                                                           : 0;
  MACT_NO_GRAD_BEGIN
  feats = mact_recognizer_extract_feat (recognizer, folded, &error);
  if (feats != NULL && with_logits)
    logits = mact_head_forward_head (mact_recognizer_get_cls_head (recognizer), feats,
                                     num_segs, &error);
  if (error == NULL)
    scores = mact_recognizer_forward_test (recognizer, imgs, &error);
  MACT_NO_GRAD_END
  if (error != NULL)
    fail_msg ("%s", error->message);

  const guint n_feats = (guint) g_ascii_strtoull (ref_meta (ref, "n_feats"), NULL, 10);
  assert_int_equal (feats->len, n_feats);
  for (guint i = 0; i < n_feats; i++)
    {
      g_autofree char *key = g_strdup_printf ("feat%u", i);
      check_values (g_ptr_array_index (feats, i), ref_get (ref, key), key, &errors);
    }
  if (with_logits)
    check_values (logits, ref_get (ref, "logits"), "logits", &errors);
  check_values (scores, ref_get (ref, "scores"), "scores (forward_test)", &errors);
  report (c, ref, build, load, seconds_since (start), &errors);
}

/* ------------------------------------------------------------------ gradients */

/* Every parameter's gradient against grad.<key>, the buffers against after.<key>. */
static void
check_step (MactModule *model, Reference *ref, Errors *errors)
{
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (model);
  guint n_ref = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (ref->tensors); i++)
    n_ref += g_str_has_prefix (mact_tensor_dict_get_key (ref->tensors, i), "grad.");
  assert_int_equal (mact_tensor_dict_get_size (params), n_ref);
  for (guint i = 0; i < mact_tensor_dict_get_size (params); i++)
    {
      const char *key = mact_tensor_dict_get_key (params, i);
      g_autofree char *ref_key = g_strconcat ("grad.", key, NULL);
      check_grad (mact_tensor_get_grad (mact_tensor_dict_get_value (params, i)),
                  ref_get (ref, ref_key), key, errors);
    }

  /* Train-mode batch norms updated their running statistics and counters. */
  g_autoptr(MactTensorDict) state = mact_module_state_dict (model);
  guint n_buffers = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (state); i++)
    {
      const char *key = mact_tensor_dict_get_key (state, i);
      g_autofree char *ref_key = g_strconcat ("after.", key, NULL);
      MactTensor *after = mact_tensor_dict_lookup (ref->tensors, ref_key);
      if (after == NULL)
        continue;
      check_values (mact_tensor_dict_get_value (state, i), after, ref_key, errors);
      n_buffers++;
    }
  guint n_after = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (ref->tensors); i++)
    n_after += g_str_has_prefix (mact_tensor_dict_get_key (ref->tensors, i), "after.");
  assert_int_equal (n_buffers, n_after);
}

static void
check_loss (MactTensor *loss, Reference *ref, Errors *errors)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) flat = mact_tensor_reshape (loss, 1, (gint64[]) { 1 }, &error);
  g_assert_no_error (error);
  check_values (flat, ref_get (ref, "loss"), "loss", errors);
}

static void
run_grad_tv (const ParityCase *c, Reference *ref)
{
  Errors errors = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *weights = case_file (c, ".weights.safetensors");
  gint64 start = g_get_monotonic_time ();
  g_autoptr(MactModule) model = build_block (ref_meta (ref, "config"), weights);
  const double build = seconds_since (start);

  start = g_get_monotonic_time ();
  mact_module_train (model, TRUE);
  mact_module_zero_grad (model);
  g_autoptr(MactTensor) logits = mact_module_forward1 (model, ref_get (ref, "input"), &error);
  if (logits == NULL)
    fail_msg ("forward: %s", error->message);
  check_values (logits, ref_get (ref, "output"), "logits", &errors);
  g_autoptr(MactTensor) loss = mact_cross_entropy (logits, ref_get (ref, "labels"), NULL,
                                                   MACT_REDUCTION_MEAN, &error);
  if (loss == NULL)
    fail_msg ("cross entropy: %s", error->message);
  check_loss (loss, ref, &errors);
  if (!mact_tensor_backward (loss, NULL, &error))
    fail_msg ("backward: %s", error->message);
  check_step (model, ref, &errors);
  report (c, ref, build, -1.0, seconds_since (start), &errors);
}

static void
run_grad_recognizer (const ParityCase *c, Reference *ref)
{
  Errors errors = { 0 };
  g_autoptr(GError) error = NULL;
  /* The shipped config with the head's dropout off (the reference's config). */
  gint64 start = g_get_monotonic_time ();
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (ref_meta (ref, "config"), -1, mact_registry_get_default (),
                                   &error);
  if (recognizer == NULL)
    fail_msg ("%s: %s", ref_meta (ref, "config_file"), error->message);
  const double build = seconds_since (start);

  start = g_get_monotonic_time ();
  load_weights (recognizer, c);
  const double load = seconds_since (start);

  start = g_get_monotonic_time ();
  MactModule *model = MACT_MODULE (recognizer);
  mact_module_train (model, TRUE);
  mact_module_zero_grad (model);
  g_autoptr(MactTensorDict) losses =
    mact_recognizer_forward_train (recognizer, ref_get (ref, "imgs"), ref_get (ref, "labels"),
                                   NULL, &error);
  if (losses == NULL)
    fail_msg ("forward_train: %s", error->message);
  MactTensor *loss = mact_tensor_dict_lookup (losses, "loss_cls");
  assert_non_null (loss);
  check_loss (loss, ref, &errors);
  if (!mact_tensor_backward (loss, NULL, &error))
    fail_msg ("backward: %s", error->message);
  check_step (model, ref, &errors);
  report (c, ref, build, load, seconds_since (start), &errors);
}

/* ------------------------------------------------------------------ main */

static void
run_case (void **state)
{
  const ParityCase *c = *state;
  g_auto(Reference) ref = { 0 };
  reference_load (&ref, c);
  switch (c->kind)
    {
    case KIND_TV:
      run_tv (c, &ref);
      break;
    case KIND_CLS:
      run_cls (c, &ref);
      break;
    case KIND_RECOGNIZER:
      run_recognizer (c, &ref);
      break;
    case KIND_GRAD_TV:
      run_grad_tv (c, &ref);
      break;
    case KIND_GRAD_RECOGNIZER:
      run_grad_recognizer (c, &ref);
      break;
    }
}

/* The cases MACT_PARITY_CASES names, or all; an unknown name is an error. */
static gboolean
select_cases (void)
{
  selected = g_ptr_array_new ();
  const char *only = g_getenv ("MACT_PARITY_CASES");
  if (only == NULL || *only == '\0')
    {
      for (guint i = 0; i < G_N_ELEMENTS (all_cases); i++)
        g_ptr_array_add (selected, (gpointer) &all_cases[i]);
      return TRUE;
    }
  g_auto(GStrv) names = g_strsplit_set (only, ", ", -1);
  for (guint j = 0; names[j] != NULL; j++)
    {
      if (names[j][0] == '\0')
        continue;
      guint i;
      for (i = 0; i < G_N_ELEMENTS (all_cases); i++)
        if (g_str_equal (all_cases[i].name, names[j]))
          break;
      if (i == G_N_ELEMENTS (all_cases))
        {
          fprintf (stderr, "MACT_PARITY_CASES: unknown case %s\n", names[j]);
          return FALSE;
        }
      g_ptr_array_add (selected, (gpointer) &all_cases[i]);
    }
  return TRUE;
}

int
main (void)
{
  mact_test_init ();
  if (!select_cases ())
    return 1;
  const char *dir = g_getenv ("MACT_TEST_PARITY_DIR");
  data_dir = g_strdup (dir != NULL && *dir ? dir : "parity-data");

  struct CMUnitTest *tests = g_new0 (struct CMUnitTest, selected->len + 1);
  tests[0].name = "generate_reference";
  tests[0].test_func = test_generate_reference;
  for (guint i = 0; i < selected->len; i++)
    {
      const ParityCase *c = g_ptr_array_index (selected, i);
      tests[i + 1].name = c->name;
      tests[i + 1].test_func = run_case;
      tests[i + 1].initial_state = (void *) c;
    }
  const gint64 start = g_get_monotonic_time ();
  int failed = _cmocka_run_group_tests ("parity", tests, selected->len + 1, NULL, NULL);
  printf ("# parity suite: %.1f s\n", seconds_since (start));
  g_free (tests);
  g_ptr_array_unref (selected);
  g_free (data_dir);
  return failed;
}
