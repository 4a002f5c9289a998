/* Loading state dicts (mact_module_load_state_dict) and weights files
 * (mact_recognizer_load_weights): strict and non-strict key handling with PyTorch's
 * messages, shape mismatches, all-or-nothing loading, parameters keeping their identity
 * and frozen state, the num_batches_tracked shape exception, checkpoints converted from
 * PyTorch by tools/convert-checkpoint.py (tests/fixtures/gen_safetensors.py), a
 * recognizer reproducing another's outputs after a save/load round trip, and zero-copy
 * loading from a mapped file (where it happens, where it must not, what training does
 * to the file) with MactInference's start that skips the random initialisation. */
#include "mact-test.h"
#include "mact-test-blocks.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <sys/sysmacros.h>
#endif

/* ------------------------------------------------------------------ helpers */

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "io", name, NULL);
}

static MactModule *
container (void)
{
  g_autoptr(GError) error = NULL;
  MactModule *m = mact_module_new (MACT_TYPE_MODULE, &error, NULL);
  if (m == NULL)
    fail_msg ("container: %s", error->message);
  return m;
}

static MactModule *
checked (MactModule *m, GError *error, const char *what)
{
  if (m == NULL)
    fail_msg ("%s: %s", what, error ? error->message : "(no error)");
  return m;
}

/* The mmaction2-style model of the fixture: backbone.conv1 (ConvModule 3 -> 4, 3x3,
 * pad 1, bn, relu) and cls_head.fc_cls (Linear 4 -> 5). */
static MactModule *
build_model (void)
{
  g_autoptr(GError) error = NULL;
  const gint k3[] = { 3, 3 }, pad1[] = { 1, 1 };
  MactModule *root = container ();
  g_autoptr(MactModule) backbone = container ();
  g_autoptr(MactModule) head = container ();
  g_autoptr(MactModule) conv1 = checked (mact_conv_module_new (2, 3, 4, k3, NULL, pad1, NULL,
                                                               1, TRUE, TRUE,
                                                               MACT_ACTIVATION_RELU, &error),
                                         error, "conv1");
  g_autoptr(MactModule) fc = checked (mact_linear_new (4, 5, TRUE, &error), error, "fc_cls");
  mact_module_add_child (backbone, "conv1", conv1);
  mact_module_add_child (head, "fc_cls", fc);
  mact_module_add_child (root, "backbone", backbone);
  mact_module_add_child (root, "cls_head", head);
  return root;
}

/* Fills every parameter and buffer with values drawn from @seed. */
static void
randomize (MactModule *module, guint64 seed)
{
  g_autoptr(MactGenerator) gen = mact_generator_new (seed);
  g_autoptr(MactTensorDict) state = mact_module_state_dict (module);
  for (guint i = 0; i < mact_tensor_dict_get_size (state); i++)
    mact_tensor_uniform_ (mact_tensor_dict_get_value (state, i), gen, 0.1, 1.0);
}

/* Independent copies of the module's current values. */
static MactTensorDict *
snapshot (MactModule *module)
{
  g_autoptr(MactTensorDict) state = mact_module_state_dict (module);
  MactTensorDict *copy = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (state); i++)
    {
      g_autoptr(MactTensor) clone = mact_tensor_clone (mact_tensor_dict_get_value (state, i));
      mact_tensor_dict_insert (copy, mact_tensor_dict_get_key (state, i), clone);
    }
  return copy;
}

/* A new dict holding the same tensors (so entries can be added or removed). */
static MactTensorDict *
dict_copy (MactTensorDict *dict)
{
  MactTensorDict *copy = mact_tensor_dict_new ();
  mact_tensor_dict_update (copy, dict);
  return copy;
}

static void
assert_dicts_equal (MactTensorDict *got, MactTensorDict *expected)
{
  assert_int_equal (mact_tensor_dict_get_size (got), mact_tensor_dict_get_size (expected));
  for (guint i = 0; i < mact_tensor_dict_get_size (expected); i++)
    {
      const char *key = mact_tensor_dict_get_key (expected, i);
      assert_string_equal (mact_tensor_dict_get_key (got, i), key);
      mact_test_assert_close (mact_tensor_dict_get_value (got, i),
                              mact_tensor_dict_get_value (expected, i), 0.0, key);
    }
}

static void
assert_values_equal (MactTensor *got, MactTensor *expected, const char *what)
{
  mact_test_assert_close (got, expected, 0.0, what);
}

static void
assert_strv (gchar **got, const char *const *expected, gsize n)
{
  assert_non_null (got);
  assert_int_equal (g_strv_length (got), n);
  for (gsize i = 0; i < n; i++)
    assert_string_equal (got[i], expected[i]);
}

/* Asserts a state-dict error whose message contains each of @needles, then clears it. */
static void
assert_state_dict_error (GError **error, const char *const *needles, gsize n)
{
  assert_non_null (*error);
  for (gsize i = 0; i < n; i++)
    if (strstr ((*error)->message, needles[i]) == NULL)
      fail_msg ("message \"%s\" does not contain \"%s\"", (*error)->message, needles[i]);
  mact_test_assert_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT);
}

static MactTensor *
filled (gint ndim, const gint64 *shape, float value)
{
  MactTensor *t = mact_tensor_new_full (ndim, shape, value, NULL);
  assert_non_null (t);
  return t;
}

/* ------------------------------------------------------------------ load_state_dict */

static void
test_strict_copies_in_place (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) a = build_model ();
  g_autoptr(MactModule) b = build_model ();
  randomize (a, 1);
  randomize (b, 2);

  /* a frozen parameter, as frozen_stages leaves it */
  MactTensor *frozen = mact_module_get_parameter (b, "backbone.conv1.conv.weight");
  assert_true (mact_tensor_set_requires_grad (frozen, FALSE, NULL));

  g_autoptr(MactTensorDict) before = mact_module_state_dict (b);
  g_autoptr(MactTensorDict) source = mact_module_state_dict (a);
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  assert_true (mact_module_load_state_dict (b, source, TRUE, &missing, &unexpected, &error));
  g_assert_no_error (error);
  assert_strv (missing, NULL, 0);
  assert_strv (unexpected, NULL, 0);

  g_autoptr(MactTensorDict) after = mact_module_state_dict (b);
  assert_int_equal (mact_tensor_dict_get_size (after), 8);
  for (guint i = 0; i < mact_tensor_dict_get_size (after); i++)
    {
      const char *key = mact_tensor_dict_get_key (after, i);
      MactTensor *t = mact_tensor_dict_get_value (after, i);
      /* the same tensor object, now holding a's values in its own storage */
      assert_ptr_equal (t, mact_tensor_dict_get_value (before, i));
      assert_values_equal (t, mact_tensor_dict_lookup (source, key), key);
      assert_false (mact_tensor_shares_storage (t, mact_tensor_dict_lookup (source, key)));
    }
  assert_ptr_equal (mact_module_get_parameter (b, "backbone.conv1.conv.weight"), frozen);
  assert_false (mact_tensor_get_requires_grad (frozen));
  assert_true (mact_tensor_get_requires_grad (
    mact_module_get_parameter (b, "cls_head.fc_cls.weight")));
  assert_true (mact_tensor_get_requires_grad (
    mact_module_get_parameter (b, "backbone.conv1.bn.weight")));
  assert_false (mact_tensor_get_requires_grad (
    mact_module_get_buffer (b, "backbone.conv1.bn.running_mean")));

  /* values were copied: changing the source later does not reach b */
  mact_tensor_fill (mact_tensor_dict_lookup (source, "cls_head.fc_cls.bias"), -5.0f);
  float bias[5];
  mact_tensor_copy_to_array (mact_module_get_parameter (b, "cls_head.fc_cls.bias"), bias);
  assert_true (bias[0] != -5.0f);

  /* the out lists are optional */
  assert_true (mact_module_load_state_dict (b, source, TRUE, NULL, NULL, &error));
  mact_tensor_copy_to_array (mact_module_get_parameter (b, "cls_head.fc_cls.bias"), bias);
  assert_true (bias[4] == -5.0f);
}

/* The checkpoint of @a with keys removed, added and of the wrong shape. */
static MactTensorDict *
broken_checkpoint (MactModule *a, gboolean with_mismatches)
{
  g_autoptr(MactTensorDict) own = mact_module_state_dict (a);
  MactTensorDict *sd = dict_copy (own);
  mact_tensor_dict_remove (sd, "backbone.conv1.bn.running_var");
  mact_tensor_dict_remove (sd, "cls_head.fc_cls.bias");
  const gint64 s4[] = { 4 }, s53[] = { 5, 3 }, s3[] = { 3 };
  g_autoptr(MactTensor) extra = filled (1, s4, 1.0f);
  mact_tensor_dict_insert (sd, "extra.weight", extra);
  mact_tensor_dict_insert (sd, "backbone.conv1.conv.bias", extra);
  if (with_mismatches)
    {
      g_autoptr(MactTensor) narrow = filled (2, s53, 2.0f);
      g_autoptr(MactTensor) short_bn = filled (1, s3, 3.0f);
      mact_tensor_dict_insert (sd, "cls_head.fc_cls.weight", narrow);
      mact_tensor_dict_insert (sd, "backbone.conv1.bn.weight", short_bn);
    }
  return sd;
}

static void
test_strict_reports_everything (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) a = build_model ();
  g_autoptr(MactModule) b = build_model ();
  randomize (a, 3);
  randomize (b, 4);
  g_autoptr(MactTensorDict) before = snapshot (b);

  g_autoptr(MactTensorDict) sd = broken_checkpoint (a, TRUE);
  gchar **missing = (gchar **) 0x1, **unexpected = (gchar **) 0x1;
  assert_false (mact_module_load_state_dict (b, sd, TRUE, &missing, &unexpected, &error));
  assert_null (missing);
  assert_null (unexpected);
  const char *needles[] = {
    "Error(s) in loading state_dict for MactModule",
    "Missing key(s) in state_dict: \"backbone.conv1.bn.running_var\", "
    "\"cls_head.fc_cls.bias\".",
    "Unexpected key(s) in state_dict: \"extra.weight\", \"backbone.conv1.conv.bias\".",
    "size mismatch for backbone.conv1.bn.weight: copying a param with shape [3] from "
    "checkpoint, the shape in current model is [4].",
    "size mismatch for cls_head.fc_cls.weight: copying a param with shape [5, 3] from "
    "checkpoint, the shape in current model is [5, 4].",
  };
  assert_state_dict_error (&error, needles, G_N_ELEMENTS (needles));

  /* all or nothing: even the keys that matched were left alone */
  g_autoptr(MactTensorDict) after = snapshot (b);
  assert_dicts_equal (after, before);

  /* strict with only missing keys, or only unexpected ones, fails too */
  g_autoptr(MactTensorDict) own = mact_module_state_dict (a);
  g_autoptr(MactTensorDict) fewer = dict_copy (own);
  mact_tensor_dict_remove (fewer, "cls_head.fc_cls.bias");
  assert_false (mact_module_load_state_dict (b, fewer, TRUE, NULL, NULL, &error));
  const char *missing_only[] = { "Missing key(s) in state_dict: \"cls_head.fc_cls.bias\"." };
  assert_state_dict_error (&error, missing_only, 1);
  g_autoptr(MactTensorDict) more = dict_copy (own);
  mact_tensor_dict_insert_float (more, "backbone.conv1.bn.extra", 1.0f);
  assert_false (mact_module_load_state_dict (b, more, TRUE, NULL, NULL, &error));
  const char *unexpected_only[] = { "Unexpected key(s) in state_dict: "
                                    "\"backbone.conv1.bn.extra\"." };
  assert_state_dict_error (&error, unexpected_only, 1);
  g_autoptr(MactTensorDict) still = snapshot (b);
  assert_dicts_equal (still, before);
}

static void
test_non_strict_lists (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) a = build_model ();
  g_autoptr(MactModule) b = build_model ();
  randomize (a, 5);
  randomize (b, 6);
  g_autoptr(MactTensorDict) before = snapshot (b);
  g_autoptr(MactTensorDict) source = mact_module_state_dict (a);

  g_autoptr(MactTensorDict) sd = broken_checkpoint (a, FALSE);
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  assert_true (mact_module_load_state_dict (b, sd, FALSE, &missing, &unexpected, &error));
  g_assert_no_error (error);
  const char *want_missing[] = { "backbone.conv1.bn.running_var", "cls_head.fc_cls.bias" };
  const char *want_unexpected[] = { "extra.weight", "backbone.conv1.conv.bias" };
  assert_strv (missing, want_missing, 2);
  assert_strv (unexpected, want_unexpected, 2);

  /* the keys in both were loaded, the missing ones kept their values */
  g_autoptr(MactTensorDict) after = mact_module_state_dict (b);
  for (guint i = 0; i < mact_tensor_dict_get_size (after); i++)
    {
      const char *key = mact_tensor_dict_get_key (after, i);
      gboolean was_missing = g_strv_contains ((const gchar * const *) missing, key);
      assert_values_equal (mact_tensor_dict_get_value (after, i),
                           mact_tensor_dict_lookup (was_missing ? before : source, key), key);
    }

  /* without out lists */
  assert_true (mact_module_load_state_dict (b, sd, FALSE, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_non_strict_mismatch_is_an_error (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) a = build_model ();
  g_autoptr(MactModule) b = build_model ();
  randomize (a, 7);
  randomize (b, 8);
  g_autoptr(MactTensorDict) before = snapshot (b);

  g_autoptr(MactTensorDict) sd = broken_checkpoint (a, TRUE);
  gchar **missing = NULL, **unexpected = NULL;
  assert_false (mact_module_load_state_dict (b, sd, FALSE, &missing, &unexpected, &error));
  assert_null (missing);
  assert_null (unexpected);
  assert_non_null (error);
  /* missing and unexpected keys are no error here, so not listed */
  assert_null (strstr (error->message, "Missing key(s)"));
  assert_null (strstr (error->message, "Unexpected key(s)"));
  const char *needles[] = { "size mismatch for cls_head.fc_cls.weight",
                            "size mismatch for backbone.conv1.bn.weight" };
  assert_state_dict_error (&error, needles, G_N_ELEMENTS (needles));
  g_autoptr(MactTensorDict) after = snapshot (b);
  assert_dicts_equal (after, before);
}

static void
test_num_batches_tracked_shapes (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) a = build_model ();
  g_autoptr(MactModule) b = build_model ();
  randomize (a, 9);
  g_autoptr(MactTensorDict) own = mact_module_state_dict (a);
  const char *key = "backbone.conv1.bn.num_batches_tracked";

  /* [1] into the 0-D buffer */
  const gint64 s1[] = { 1 }, s2[] = { 2 };
  g_autoptr(MactTensorDict) sd = dict_copy (own);
  g_autoptr(MactTensor) one = filled (1, s1, 9.0f);
  mact_tensor_dict_insert (sd, key, one);
  assert_true (mact_module_load_state_dict (b, sd, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  MactTensor *count = mact_module_get_buffer (b, key);
  assert_int_equal (mact_tensor_get_ndim (count), 0);
  assert_true (mact_tensor_item (count) == 9.0f);

  /* two elements are a mismatch */
  g_autoptr(MactTensor) two = filled (1, s2, 4.0f);
  mact_tensor_dict_insert (sd, key, two);
  assert_false (mact_module_load_state_dict (b, sd, FALSE, NULL, NULL, &error));
  const char *needles[] = { "size mismatch for backbone.conv1.bn.num_batches_tracked" };
  assert_state_dict_error (&error, needles, 1);
  assert_true (mact_tensor_item (count) == 9.0f);

  /* a checkpoint without it (older than PyTorch 0.4.1) is not missing it, in either mode;
   * the buffer keeps its value */
  g_autoptr(MactTensorDict) old_style = dict_copy (own);
  mact_tensor_dict_remove (old_style, key);
  assert_true (mact_module_load_state_dict (b, old_style, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_true (mact_tensor_item (count) == 9.0f);
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  assert_true (mact_module_load_state_dict (b, old_style, FALSE, &missing, &unexpected,
                                            &error));
  assert_strv (missing, NULL, 0);
  assert_strv (unexpected, NULL, 0);
  /* that allowance is for num_batches_tracked only */
  mact_tensor_dict_remove (old_style, "backbone.conv1.bn.running_mean");
  assert_false (mact_module_load_state_dict (b, old_style, TRUE, NULL, NULL, &error));
  const char *running[] = { "Missing key(s) in state_dict: "
                            "\"backbone.conv1.bn.running_mean\"." };
  assert_state_dict_error (&error, running, 1);

  /* the other way round: a [1] buffer called num_batches_tracked takes a 0-D value */
  g_autoptr(MactModule) m = container ();
  g_autoptr(MactTensor) m_count = filled (1, s1, 0.0f);
  g_autoptr(MactTensor) m_scale = mact_tensor_new_scalar (1.0f);
  g_autoptr(MactTensor) m_other = mact_tensor_new_scalar (1.0f);
  mact_module_register_parameter (m, "scale", m_scale);
  mact_module_register_buffer (m, "num_batches_tracked", m_count);
  mact_module_register_buffer (m, "steps", m_other);
  g_autoptr(MactTensorDict) good = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (good, "scale", 2.0f);
  mact_tensor_dict_insert_float (good, "num_batches_tracked", 12.0f);
  mact_tensor_dict_insert_float (good, "steps", 3.0f);
  assert_true (mact_module_load_state_dict (m, good, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  const gint64 zero[] = { 0 };
  assert_true (mact_tensor_get_item (mact_module_get_buffer (m, "num_batches_tracked"), zero)
               == 12.0f);

  /* the exception is for that buffer only: a 0-D parameter or another buffer is strict */
  g_autoptr(MactTensorDict) bad_param = dict_copy (good);
  g_autoptr(MactTensor) scale1 = filled (1, s1, 5.0f);
  mact_tensor_dict_insert (bad_param, "scale", scale1);
  assert_false (mact_module_load_state_dict (m, bad_param, TRUE, NULL, NULL, &error));
  const char *scale_needle[] = { "size mismatch for scale: copying a param with shape [1] "
                                 "from checkpoint, the shape in current model is []." };
  assert_state_dict_error (&error, scale_needle, 1);
  g_autoptr(MactTensorDict) bad_buffer = dict_copy (good);
  mact_tensor_dict_insert (bad_buffer, "steps", scale1);
  assert_false (mact_module_load_state_dict (m, bad_buffer, FALSE, NULL, NULL, &error));
  const char *steps_needle[] = { "size mismatch for steps" };
  assert_state_dict_error (&error, steps_needle, 1);
  assert_true (mact_tensor_item (mact_module_get_parameter (m, "scale")) == 2.0f);
}

static void
test_empty_module (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) m = container ();
  g_autoptr(MactTensorDict) none = mact_tensor_dict_new ();
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  assert_true (mact_module_load_state_dict (m, none, TRUE, &missing, &unexpected, &error));
  assert_strv (missing, NULL, 0);
  assert_strv (unexpected, NULL, 0);
  g_clear_pointer (&unexpected, g_strfreev);
  g_clear_pointer (&missing, g_strfreev);

  g_autoptr(MactTensorDict) one = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (one, "x", 1.0f);
  assert_true (mact_module_load_state_dict (m, one, FALSE, &missing, &unexpected, &error));
  const char *want[] = { "x" };
  assert_strv (unexpected, want, 1);
  assert_strv (missing, NULL, 0);
  assert_false (mact_module_load_state_dict (m, one, TRUE, NULL, NULL, &error));
  const char *needle[] = { "Unexpected key(s) in state_dict: \"x\"." };
  assert_state_dict_error (&error, needle, 1);
}

/* ------------------------------------------------------------------ converted checkpoints */

typedef struct {
  MactTensorDict *tensors;
  GHashTable     *metadata;
  MactTensorDict *expected;
  GHashTable     *expected_meta;
} Converted;

static void
converted_load (Converted *c, const char *file, const char *expected_file)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = data_path (file);
  g_autofree char *expected_path = data_path (expected_file);
  c->tensors = mact_safetensors_load (path, &c->metadata, &error);
  if (c->tensors == NULL)
    fail_msg ("%s", error->message);
  c->expected = mact_safetensors_load (expected_path, &c->expected_meta, &error);
  if (c->expected == NULL)
    fail_msg ("%s", error->message);

  /* The converter kept every key and its order, and each value is PyTorch's, as float32. */
  g_auto(GStrv) keys = g_strsplit (g_hash_table_lookup (c->expected_meta, "keys"), ",", -1);
  assert_int_equal (mact_tensor_dict_get_size (c->tensors), g_strv_length (keys));
  for (guint i = 0; keys[i] != NULL; i++)
    {
      assert_string_equal (mact_tensor_dict_get_key (c->tensors, i), keys[i]);
      g_autofree char *value_key = g_strconcat ("value.", keys[i], NULL);
      assert_values_equal (mact_tensor_dict_get_value (c->tensors, i),
                           mact_tensor_dict_lookup (c->expected, value_key), keys[i]);
    }
}

static void
converted_clear (Converted *c)
{
  g_clear_pointer (&c->tensors, mact_tensor_dict_unref);
  g_clear_pointer (&c->expected, mact_tensor_dict_unref);
  g_clear_pointer (&c->metadata, g_hash_table_unref);
  g_clear_pointer (&c->expected_meta, g_hash_table_unref);
}

static void
test_converted_mmaction2 (void **state)
{
  g_autoptr(GError) error = NULL;
  Converted c = { 0 };
  converted_load (&c, "mmaction2_ckpt.safetensors", "mmaction2_expected.safetensors");

  /* int64 num_batches_tracked came through as its value */
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (
    c.tensors, "backbone.conv1.bn.num_batches_tracked")) == 7.0f);

  /* metadata: source file, format and the mmaction2 meta as JSON */
  assert_string_equal (g_hash_table_lookup (c.metadata, "source"), "mmaction2_ckpt.pth");
  assert_string_equal (g_hash_table_lookup (c.metadata, "format"), "pt");
  g_autoptr(JsonParser) parser = json_parser_new ();
  assert_true (json_parser_load_from_data (parser, g_hash_table_lookup (c.metadata, "meta"),
                                           -1, &error));
  JsonObject *meta = json_node_get_object (json_parser_get_root (parser));
  assert_int_equal (json_object_get_int_member (meta, "epoch"), 3);
  assert_string_equal (json_object_get_string_member (meta, "mmcv_version"), "1.7.0");
  assert_int_equal (json_array_get_length (json_object_get_array_member (meta, "CLASSES")),
                    2);

  /* the keys are exactly mact's for the same model: it loads strictly, no renaming */
  g_autoptr(MactModule) model = build_model ();
  g_autoptr(MactTensorDict) own = mact_module_state_dict (model);
  for (guint i = 0; i < mact_tensor_dict_get_size (own); i++)
    assert_string_equal (mact_tensor_dict_get_key (own, i),
                         mact_tensor_dict_get_key (c.tensors, i));
  assert_true (mact_module_load_state_dict (model, c.tensors, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);

  /* and computes what PyTorch computed, in eval mode */
  mact_module_eval (model);
  MactModule *conv1 = mact_module_get_submodule (model, "backbone.conv1", &error);
  MactModule *fc = mact_module_get_submodule (model, "cls_head.fc_cls", &error);
  assert_non_null (conv1);
  assert_non_null (fc);
  g_autoptr(MactTensor) feat = mact_module_forward1 (conv1, mact_tensor_dict_lookup (c.expected,
                                                                                     "x"),
                                                     &error);
  if (feat == NULL)
    fail_msg ("%s", error->message);
  mact_test_assert_close (feat, mact_tensor_dict_lookup (c.expected, "feat"), 1e-5, "feat");
  const gint hw[] = { 2, 3 };
  g_autoptr(MactTensor) pooled = mact_mean (feat, 2, hw, FALSE, &error);
  g_autoptr(MactTensor) logits = mact_module_forward1 (fc, pooled, &error);
  assert_non_null (logits);
  mact_test_assert_close (logits, mact_tensor_dict_lookup (c.expected, "logits"), 1e-5,
                          "logits");
  converted_clear (&c);
}

static void
test_converted_torchvision (void **state)
{
  g_autoptr(GError) error = NULL;
  Converted c = { 0 };
  /* float16 values with a DataParallel "module." prefix, stripped by the converter */
  converted_load (&c, "tv_state_dict.safetensors", "tv_expected.safetensors");
  for (guint i = 0; i < mact_tensor_dict_get_size (c.tensors); i++)
    assert_false (g_str_has_prefix (mact_tensor_dict_get_key (c.tensors, i), "module."));
  assert_string_equal (g_hash_table_lookup (c.metadata, "source"), "tv_state_dict.pth");
  assert_null (g_hash_table_lookup (c.metadata, "meta"));   /* a bare state dict */
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (c.tensors,
                                                          "bn1.num_batches_tracked")) == 7.0f);

  /* torchvision's names load into the same structure built in mact */
  const gint k3[] = { 3, 3 };
  g_autoptr(MactModule) model = container ();
  g_autoptr(MactModule) conv1 = checked (mact_conv_new (2, 3, 4, k3, NULL, NULL, NULL, 1,
                                                        FALSE, &error), error, "conv1");
  g_autoptr(MactModule) bn1 = checked (mact_batch_norm_new (2, 4, 1e-5, 0.1, TRUE, &error),
                                       error, "bn1");
  g_autoptr(MactModule) fc = checked (mact_linear_new (4, 3, TRUE, &error), error, "fc");
  mact_module_add_child (model, "conv1", conv1);
  mact_module_add_child (model, "bn1", bn1);
  mact_module_add_child (model, "fc", fc);
  assert_true (mact_module_load_state_dict (model, c.tensors, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_values_equal (mact_module_get_parameter (model, "fc.weight"),
                       mact_tensor_dict_lookup (c.expected, "value.fc.weight"), "fc.weight");
  converted_clear (&c);
}

static void
test_converted_model_bf16 (void **state)
{
  Converted c = { 0 };
  /* a {"model": state_dict} checkpoint in bfloat16 */
  converted_load (&c, "model_bf16.safetensors", "model_bf16_expected.safetensors");
  assert_int_equal (mact_tensor_dict_get_size (c.tensors), 2);
  assert_string_equal (mact_tensor_dict_get_key (c.tensors, 0), "fc.weight");
  assert_string_equal (g_hash_table_lookup (c.metadata, "source"), "model_bf16.pth");
  assert_null (g_hash_table_lookup (c.metadata, "meta"));
  converted_clear (&c);
}

/* ------------------------------------------------------------------ recognizers */

#define REC2D "{\"type\": \"Recognizer2D\", \"backbone\": {\"type\": \"TestBackbone2D\"}, " \
  "\"cls_head\": {\"type\": \"TestHead2D\", \"num_classes\": 10, \"in_channels\": 8, " \
  "\"loss_cls\": {\"type\": \"TestCELoss\"}}, \"test_cfg\": {\"average_clips\": \"prob\"}}"

static MactRecognizer *
build_recognizer (MactRegistry *registry)
{
  g_autoptr(GError) error = NULL;
  MactRecognizer *rec = mact_recognizer_new_from_data (REC2D, -1, registry, &error);
  if (rec == NULL)
    fail_msg ("building the recognizer: %s", error->message);
  mact_module_eval (MACT_MODULE (rec));
  return rec;
}

static double
max_abs_diff (MactTensor *a, MactTensor *b)
{
  gint64 n = mact_tensor_get_numel (a);
  g_autofree float *x = g_new (float, n);
  g_autofree float *y = g_new (float, n);
  mact_tensor_copy_to_array (a, x);
  mact_tensor_copy_to_array (b, y);
  double worst = 0.0;
  for (gint64 i = 0; i < n; i++)
    worst = MAX (worst, fabs ((double) x[i] - (double) y[i]));
  return worst;
}

static void
test_recognizer_load_weights (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRegistry) registry = mact_test_blocks_registry ();
  g_autoptr(MactRecognizer) a = build_recognizer (registry);
  g_autoptr(MactRecognizer) b = build_recognizer (registry);
  randomize (MACT_MODULE (a), 11);
  randomize (MACT_MODULE (b), 12);

  g_autofree char *dir = g_dir_make_tmp ("mact-state-dict-XXXXXX", &error);
  assert_non_null (dir);
  g_autofree char *path = g_build_filename (dir, "a.safetensors", NULL);
  g_autoptr(MactTensorDict) weights = mact_module_state_dict (MACT_MODULE (a));
  assert_true (g_str_has_prefix (mact_tensor_dict_get_key (weights, 0), "backbone."));
  assert_true (mact_safetensors_save (path, weights, NULL, &error));

  const gint64 shape[] = { 2, 3, 3, 6, 6 };   /* N = 2 clips of 3 segments */
  g_autoptr(MactTensor) imgs = mact_test_random (5, shape, 13, -1.0, 1.0);
  g_autoptr(MactTensor) out_a = mact_recognizer_forward_test (a, imgs, &error);
  g_autoptr(MactTensor) out_b = mact_recognizer_forward_test (b, imgs, &error);
  assert_non_null (out_a);
  assert_non_null (out_b);
  assert_true (max_abs_diff (out_a, out_b) > 1e-4);

  assert_true (mact_recognizer_load_weights (b, path, TRUE, &error));
  g_assert_no_error (error);
  g_autoptr(MactTensor) out_loaded = mact_recognizer_forward_test (b, imgs, &error);
  assert_non_null (out_loaded);
  assert_true (max_abs_diff (out_a, out_loaded) == 0.0);

  /* a missing file */
  g_autofree char *missing = g_build_filename (dir, "missing.safetensors", NULL);
  assert_false (mact_recognizer_load_weights (b, missing, TRUE, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);

  /* a corrupt file */
  g_autofree char *corrupt = g_build_filename (dir, "corrupt.safetensors", NULL);
  assert_true (g_file_set_contents (corrupt, "\x05\0\0\0\0\0\0\0{}", 10, NULL));
  assert_false (mact_recognizer_load_weights (b, corrupt, TRUE, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT);

  /* an extra key: refused in strict mode, naming the file and the key; ignored otherwise */
  g_autoptr(MactTensorDict) extra = dict_copy (weights);
  mact_tensor_dict_insert_float (extra, "cls_head.extra", 1.0f);
  g_autofree char *extra_path = g_build_filename (dir, "extra.safetensors", NULL);
  assert_true (mact_safetensors_save (extra_path, extra, NULL, &error));
  assert_false (mact_recognizer_load_weights (b, extra_path, TRUE, &error));
  const char *needles[] = { "extra.safetensors", "Unexpected key(s) in state_dict: "
                            "\"cls_head.extra\"." };
  assert_state_dict_error (&error, needles, G_N_ELEMENTS (needles));
  assert_true (mact_recognizer_load_weights (b, extra_path, FALSE, &error));
  g_assert_no_error (error);

  /* a shape mismatch is an error in both modes, and leaves the recognizer as it was */
  randomize (MACT_MODULE (b), 14);
  g_autoptr(MactTensor) out_before = mact_recognizer_forward_test (b, imgs, &error);
  g_autoptr(MactTensorDict) wrong = dict_copy (weights);
  const gint64 s[] = { 10, 4 };
  g_autoptr(MactTensor) narrow = filled (2, s, 0.5f);
  mact_tensor_dict_insert (wrong, "cls_head.fc_cls.weight", narrow);
  g_autofree char *wrong_path = g_build_filename (dir, "wrong.safetensors", NULL);
  assert_true (mact_safetensors_save (wrong_path, wrong, NULL, &error));
  assert_false (mact_recognizer_load_weights (b, wrong_path, FALSE, &error));
  const char *mismatch[] = { "wrong.safetensors", "size mismatch for cls_head.fc_cls.weight" };
  assert_state_dict_error (&error, mismatch, G_N_ELEMENTS (mismatch));
  g_autoptr(MactTensor) out_after = mact_recognizer_forward_test (b, imgs, &error);
  assert_true (max_abs_diff (out_before, out_after) == 0.0);

  const char *files[] = { path, corrupt, extra_path, wrong_path };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    g_remove (files[i]);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ zero-copy loading */

/* Saves @module's state dict as @name in @dir; returns the path. */
static char *
save_state (MactModule *module, const char *dir, const char *name)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(MactTensorDict) state = mact_module_state_dict (module);
  if (!mact_safetensors_save (path, state, NULL, &error))
    fail_msg ("saving %s: %s", name, error->message);
  return path;
}

/* Whether @address lies in a mapping of the file @path, as /proc/self/maps lists them;
 * skips the test where there is no such list. */
static gboolean
in_file_mapping (gconstpointer address, const char *path)
{
#ifdef __linux__
  g_autofree char *maps = NULL;
  if (!g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL))
    skip ();
  GStatBuf st;
  assert_int_equal (g_stat (path, &st), 0);
  g_auto(GStrv) lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      unsigned long long start = 0, end = 0, inode = 0;
      unsigned int major_dev = 0, minor_dev = 0;
      if (sscanf (lines[i], "%llx-%llx %*s %*x %x:%x %llu", &start, &end, &major_dev,
                  &minor_dev, &inode) == 5 &&
          inode == (unsigned long long) st.st_ino && major_dev == major (st.st_dev) &&
          minor_dev == minor (st.st_dev) && (guintptr) address >= start &&
          (guintptr) address < end)
        return TRUE;
    }
  return FALSE;
#else
  skip ();
  return FALSE;
#endif
}

/* Asserts that @t holds @expected's values minus @delta (up to float rounding). */
static void
assert_shifted (MactTensor *t, MactTensor *expected, float delta, const char *what)
{
  gint64 n = mact_tensor_get_numel (t);
  g_autofree float *got = g_new (float, n);
  g_autofree float *want = g_new (float, n);
  mact_tensor_copy_to_array (t, got);
  mact_tensor_copy_to_array (expected, want);
  for (gint64 i = 0; i < n; i++)
    if (fabsf (got[i] - (want[i] - delta)) > 1e-6f)
      fail_msg ("%s[%" G_GINT64_FORMAT "]: %g, expected %g", what, i, got[i],
                want[i] - delta);
}

static void
test_zero_copy_from_file (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) a = build_model ();
  g_autoptr(MactModule) b = build_model ();
  randomize (a, 21);
  randomize (b, 22);
  g_autoptr(MactTensorDict) expected = snapshot (a);
  g_autofree char *dir = g_dir_make_tmp ("mact-zero-copy-XXXXXX", &error);
  assert_non_null (dir);
  g_autofree char *path = save_state (a, dir, "a.safetensors");
  g_autofree char *file_before = NULL;
  gsize length_before = 0;
  assert_true (g_file_get_contents (path, &file_before, &length_before, NULL));

  /* a frozen parameter, and an optimizer made before loading */
  MactTensor *frozen = mact_module_get_parameter (b, "backbone.conv1.conv.weight");
  assert_true (mact_tensor_set_requires_grad (frozen, FALSE, NULL));
  g_autoptr(JsonNode) sgd = json_from_string ("{\"type\": \"SGD\", \"lr\": 0.5}", NULL);
  g_autoptr(MactOptimizer) optimizer = mact_optimizer_new_from_config (b, sgd, &error);
  assert_non_null (optimizer);
  g_autoptr(MactTensorDict) before = mact_module_state_dict (b);

  MactTensorDict *loaded = mact_safetensors_load (path, NULL, &error);
  assert_non_null (loaded);
  assert_true (mact_module_load_state_dict (b, loaded, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  g_autoptr(MactTensorDict) after = mact_module_state_dict (b);
  assert_int_equal (mact_tensor_dict_get_size (after), 8);
  for (guint i = 0; i < mact_tensor_dict_get_size (after); i++)
    {
      const char *key = mact_tensor_dict_get_key (after, i);
      MactTensor *t = mact_tensor_dict_get_value (after, i);
      /* the same tensor object, with the file's values, read in place from the mapping */
      assert_ptr_equal (t, mact_tensor_dict_get_value (before, i));
      assert_values_equal (t, mact_tensor_dict_lookup (expected, key), key);
      assert_ptr_equal (mact_tensor_get_data (t),
                        mact_tensor_get_data (mact_tensor_dict_lookup (loaded, key)));
      assert_true (in_file_mapping (mact_tensor_get_data (t), path));
    }
  assert_false (mact_tensor_get_requires_grad (frozen));
  assert_true (mact_tensor_get_requires_grad (
    mact_module_get_parameter (b, "cls_head.fc_cls.weight")));
  assert_false (mact_tensor_get_requires_grad (
    mact_module_get_buffer (b, "backbone.conv1.bn.running_mean")));

  /* the module keeps the mapping alive without the state dict */
  mact_tensor_dict_unref (loaded);
  assert_dicts_equal (after, expected);

  /* an SGD step (lr 0.5, gradients of ones) writes into the mapped parameters: each
   * written page is copied for this process, so the file does not change */
  g_autoptr(GPtrArray) params = mact_module_parameters (b);
  for (guint i = 0; i < params->len; i++)
    {
      MactTensor *p = g_ptr_array_index (params, i);
      gint ndim = 0;
      const gint64 *shape = mact_tensor_get_shape (p, &ndim);
      g_autoptr(MactTensor) ones = filled (ndim, shape, 1.0f);
      mact_tensor_set_grad (p, ones);
    }
  assert_true (mact_optimizer_step (optimizer, &error));
  g_assert_no_error (error);
  const char *trained[] = { "cls_head.fc_cls.weight", "cls_head.fc_cls.bias",
                            "backbone.conv1.bn.weight" };
  for (gsize i = 0; i < G_N_ELEMENTS (trained); i++)
    assert_shifted (mact_tensor_dict_lookup (after, trained[i]),
                    mact_tensor_dict_lookup (expected, trained[i]), 0.5f, trained[i]);
  assert_values_equal (frozen, mact_tensor_dict_lookup (expected,
                                                        "backbone.conv1.conv.weight"),
                       "frozen");
  g_autofree char *file_after = NULL;
  gsize length_after = 0;
  assert_true (g_file_get_contents (path, &file_after, &length_after, NULL));
  assert_int_equal (length_after, length_before);
  assert_memory_equal (file_after, file_before, length_before);

  /* loading b's own state into another module copies: parameters never share memory,
   * even once the state dict b's came from is gone */
  g_autoptr(MactModule) e = build_model ();
  assert_true (mact_module_load_state_dict (e, after, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < mact_tensor_dict_get_size (after); i++)
    {
      const char *key = mact_tensor_dict_get_key (after, i);
      MactTensor *in_e = mact_module_get_parameter (e, key);
      if (in_e == NULL)
        in_e = mact_module_get_buffer (e, key);
      MactTensor *in_b = mact_tensor_dict_get_value (after, i);
      assert_false (mact_tensor_shares_storage (in_e, in_b));
      assert_values_equal (in_e, in_b, key);
    }

  /* and loading the file again gives its values, not the trained ones */
  g_autoptr(MactTensorDict) again = mact_safetensors_load (path, NULL, &error);
  assert_non_null (again);
  assert_dicts_equal (again, expected);

  /* one state dict into two modules: the first takes the mapping, the second copies,
   * so they never share memory */
  g_autoptr(MactModule) c = build_model ();
  g_autoptr(MactModule) d = build_model ();
  assert_true (mact_module_load_state_dict (c, again, TRUE, NULL, NULL, &error));
  assert_true (mact_module_load_state_dict (d, again, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  g_autoptr(MactTensorDict) in_c = mact_module_state_dict (c);
  g_autoptr(MactTensorDict) in_d = mact_module_state_dict (d);
  for (guint i = 0; i < mact_tensor_dict_get_size (again); i++)
    {
      const char *key = mact_tensor_dict_get_key (again, i);
      MactTensor *source = mact_tensor_dict_get_value (again, i);
      assert_true (mact_tensor_shares_storage (mact_tensor_dict_lookup (in_c, key), source));
      assert_false (mact_tensor_shares_storage (mact_tensor_dict_lookup (in_d, key), source));
      assert_values_equal (mact_tensor_dict_lookup (in_d, key), source, key);
    }
  /* the state dict and the module that took its memory share it (documented) */
  mact_tensor_fill (mact_module_get_parameter (c, "cls_head.fc_cls.bias"), -3.0f);
  assert_true (mact_tensor_get_item (mact_tensor_dict_lookup (again, "cls_head.fc_cls.bias"),
                                     (const gint64[]) { 0 }) == -3.0f);
  assert_values_equal (mact_module_get_parameter (d, "cls_head.fc_cls.bias"),
                       mact_tensor_dict_lookup (expected, "cls_head.fc_cls.bias"), "d");

  /* loading the same state dict into c again changes nothing */
  assert_true (mact_module_load_state_dict (c, again, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_true (mact_tensor_shares_storage (
    mact_module_get_parameter (c, "cls_head.fc_cls.bias"),
    mact_tensor_dict_lookup (again, "cls_head.fc_cls.bias")));

  g_remove (path);
  g_rmdir (dir);
}

static void
test_zero_copy_only_where_safe (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) a = build_model ();
  randomize (a, 31);
  g_autoptr(MactTensorDict) expected = snapshot (a);
  g_autofree char *dir = g_dir_make_tmp ("mact-zero-copy-XXXXXX", &error);
  assert_non_null (dir);
  g_autofree char *path = save_state (a, dir, "a.safetensors");

  /* memory the caller gives is immutable: load_bytes' tensors are copied */
  g_autofree char *contents = NULL;
  gsize length = 0;
  assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_autoptr(GBytes) bytes = g_bytes_new (contents, length);
  g_autoptr(MactTensorDict) from_bytes = mact_safetensors_load_bytes (bytes, NULL, &error);
  assert_non_null (from_bytes);
  g_autoptr(MactModule) b = build_model ();
  assert_true (mact_module_load_state_dict (b, from_bytes, TRUE, NULL, NULL, &error));
  g_autoptr(MactTensorDict) in_b = mact_module_state_dict (b);
  for (guint i = 0; i < mact_tensor_dict_get_size (in_b); i++)
    {
      const char *key = mact_tensor_dict_get_key (in_b, i);
      MactTensor *source = mact_tensor_dict_lookup (from_bytes, key);
      /* the source does point into the bytes, but the parameter has its own copy */
      const char *base = g_bytes_get_data (bytes, NULL);
      const char *data = (const char *) mact_tensor_get_data (source);
      assert_true (data >= base && data < base + length);
      MactTensor *own = mact_tensor_dict_get_value (in_b, i);
      assert_false (mact_tensor_shares_storage (own, source));
      assert_values_equal (own, source, key);
    }

  /* a view of a parameter made before loading keeps showing the parameter: copied */
  g_autoptr(MactModule) c = build_model ();
  MactTensor *weight = mact_module_get_parameter (c, "cls_head.fc_cls.weight");
  const gint64 flat[] = { 20 };
  g_autoptr(MactTensor) view = mact_tensor_reshape (weight, 1, flat, &error);
  assert_true (mact_tensor_shares_storage (view, weight));
  g_autoptr(MactTensorDict) loaded = mact_safetensors_load (path, NULL, &error);
  assert_non_null (loaded);
  assert_true (mact_module_load_state_dict (c, loaded, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_false (mact_tensor_shares_storage (weight, mact_tensor_dict_lookup (
    loaded, "cls_head.fc_cls.weight")));
  assert_true (mact_tensor_shares_storage (view, weight));
  g_autoptr(MactTensor) expected_flat =
    mact_tensor_reshape (mact_tensor_dict_lookup (expected, "cls_head.fc_cls.weight"), 1,
                         flat, &error);
  assert_values_equal (view, expected_flat, "view");
  /* while the parameters without views took the mapping */
  assert_true (mact_tensor_shares_storage (
    mact_module_get_parameter (c, "cls_head.fc_cls.bias"),
    mact_tensor_dict_lookup (loaded, "cls_head.fc_cls.bias")));

  /* a mapped tensor that something else uses (here a view of it) is copied */
  g_autoptr(MactModule) d = build_model ();
  g_autoptr(MactTensorDict) loaded2 = mact_safetensors_load (path, NULL, &error);
  assert_non_null (loaded2);
  MactTensor *bias = mact_tensor_dict_lookup (loaded2, "cls_head.fc_cls.bias");
  const gint64 column[] = { 5, 1 };
  g_autoptr(MactTensor) bias_view = mact_tensor_reshape (bias, 2, column, &error);
  assert_non_null (bias_view);   /* held across the load: the mapping has another user */
  assert_true (mact_module_load_state_dict (d, loaded2, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_false (mact_tensor_shares_storage (
    mact_module_get_parameter (d, "cls_head.fc_cls.bias"), bias));
  assert_values_equal (mact_module_get_parameter (d, "cls_head.fc_cls.bias"), bias, "bias");

  /* weights tied under two keys are copied key after key (the last wins, as in PyTorch),
   * leaving the file's tensors alone */
  g_autoptr(MactModule) tied = container ();
  g_autoptr(MactModule) x = checked (mact_linear_new (3, 3, FALSE, &error), error, "x");
  g_autoptr(MactModule) y = checked (mact_linear_new (3, 3, FALSE, &error), error, "y");
  mact_module_register_parameter (y, "weight", mact_module_get_parameter (x, "weight"));
  mact_module_add_child (tied, "x", x);
  mact_module_add_child (tied, "y", y);
  const gint64 s33[] = { 3, 3 };
  g_autoptr(MactTensor) ones = filled (2, s33, 1.0f);
  g_autoptr(MactTensor) twos = filled (2, s33, 2.0f);
  g_autoptr(MactTensorDict) tied_state = mact_tensor_dict_new ();
  mact_tensor_dict_insert (tied_state, "x.weight", ones);
  mact_tensor_dict_insert (tied_state, "y.weight", twos);
  g_autofree char *tied_path = g_build_filename (dir, "tied.safetensors", NULL);
  assert_true (mact_safetensors_save (tied_path, tied_state, NULL, &error));
  g_autoptr(MactTensorDict) tied_loaded = mact_safetensors_load (tied_path, NULL, &error);
  assert_non_null (tied_loaded);
  assert_true (mact_module_load_state_dict (tied, tied_loaded, TRUE, NULL, NULL, &error));
  g_assert_no_error (error);
  MactTensor *shared = mact_module_get_parameter (x, "weight");
  assert_ptr_equal (shared, mact_module_get_parameter (y, "weight"));
  assert_values_equal (shared, twos, "tied weight");
  assert_false (mact_tensor_shares_storage (shared, mact_tensor_dict_lookup (tied_loaded,
                                                                             "x.weight")));
  assert_false (mact_tensor_shares_storage (shared, mact_tensor_dict_lookup (tied_loaded,
                                                                             "y.weight")));
  assert_values_equal (mact_tensor_dict_lookup (tied_loaded, "x.weight"), ones, "x.weight");

  g_remove (path);
  g_remove (tied_path);
  g_rmdir (dir);
}

/* The tiny model of test-inference.c: mmaction2's ResNet3d-18 with 4 base channels. */
#define TINY_3D                                                                         \
  "{\"model\": {\"type\": \"Recognizer3D\","                                          \
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"       \
  "                 \"pretrained\": null, \"pretrained2d\": false},"                   \
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 3, \"in_channels\": 32,"     \
  "                 \"dropout_ratio\": 0.0},"                                          \
  "  \"test_cfg\": {\"average_clips\": \"prob\"}}}"

static void
test_inference_starts_from_mapping (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) config = json_from_string (TINY_3D, &error);
  assert_non_null (config);
  mact_manual_seed (3);
  g_autoptr(MactRecognizer) reference = mact_recognizer_new_from_json (config, NULL, &error);
  if (reference == NULL)
    fail_msg ("%s", error->message);
  g_autofree char *dir = g_dir_make_tmp ("mact-zero-copy-XXXXXX", &error);
  assert_non_null (dir);
  g_autofree char *path = save_state (MACT_MODULE (reference), dir, "tiny.safetensors");

  /* Without weights the constructors draw from the default generator. */
  mact_manual_seed (5);
  const double first = mact_generator_next_double (mact_generator_get_default ());
  mact_manual_seed (5);
  g_autoptr(MactInference) random_init = mact_inference_new_from_config (config, NULL, NULL,
                                                                         &error);
  assert_non_null (random_init);
  assert_true (mact_generator_next_double (mact_generator_get_default ()) != first);

  /* With weights nothing is drawn, since the load replaces every value, and every
   * parameter and buffer is read in place from the file's mapping. */
  mact_manual_seed (5);
  g_autoptr(MactInference) inference = mact_inference_new_from_config (config, path, NULL,
                                                                       &error);
  if (inference == NULL)
    fail_msg ("%s", error->message);
  assert_true (mact_generator_next_double (mact_generator_get_default ()) == first);
  MactModule *model = MACT_MODULE (mact_inference_get_recognizer (inference));
  g_autoptr(MactTensorDict) loaded = mact_module_state_dict (model);
  g_autoptr(MactTensorDict) want = mact_module_state_dict (MACT_MODULE (reference));
  assert_dicts_equal (loaded, want);
  for (guint i = 0; i < mact_tensor_dict_get_size (loaded); i++)
    if (!in_file_mapping (mact_tensor_get_data (mact_tensor_dict_get_value (loaded, i)),
                          path))
      fail_msg ("%s was copied, not mapped", mact_tensor_dict_get_key (loaded, i));

  /* and it computes what the reference computes */
  mact_module_eval (MACT_MODULE (reference));
  const gint64 shape[] = { 1, 1, 3, 4, 16, 16 };
  g_autoptr(MactTensor) imgs = mact_test_random (6, shape, 41, -1.0, 1.0);
  g_autoptr(MactTensor) want_scores = mact_recognizer_forward_test (reference, imgs, &error);
  assert_non_null (want_scores);
  g_autoptr(MactTensor) scores =
    mact_recognizer_forward_test (mact_inference_get_recognizer (inference), imgs, &error);
  if (scores == NULL)
    fail_msg ("%s", error->message);
  mact_test_assert_close (scores, want_scores, 0.0, "scores");

  g_remove (path);
  g_rmdir (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_strict_copies_in_place),
    cmocka_unit_test (test_strict_reports_everything),
    cmocka_unit_test (test_non_strict_lists),
    cmocka_unit_test (test_non_strict_mismatch_is_an_error),
    cmocka_unit_test (test_num_batches_tracked_shapes),
    cmocka_unit_test (test_empty_module),
    cmocka_unit_test (test_converted_mmaction2),
    cmocka_unit_test (test_converted_torchvision),
    cmocka_unit_test (test_converted_model_bf16),
    cmocka_unit_test (test_recognizer_load_weights),
    cmocka_unit_test (test_zero_copy_from_file),
    cmocka_unit_test (test_zero_copy_only_where_safe),
    cmocka_unit_test (test_inference_starts_from_mapping),
  };
  return cmocka_run_group_tests_name ("state-dict", tests, NULL, NULL);
}
