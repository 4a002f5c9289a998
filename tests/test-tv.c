/* The tv. family (plugins/tv, libmact-tv-torchvision.so): torchvision's models under their
 * builder names, loaded from the build tree through the default registry and built from
 * JSON configs (and once through mact_registry_create_block()).
 *
 * Parity: tests/fixtures/gen_tv.py runs each model in torchvision 0.14 with weights that
 * are a hash of (state-dict key, element index), far too many to commit; this file
 * computes the same weights (tv_fill()) and compares the eval-mode logits (and features)
 * with torchvision's within 1e-4 x max(1, max|ref|).  The fixtures also hold
 * torchvision's state-dict keys and shapes, in order, which each model must reproduce
 * exactly.  Full-size numerics: resnet18, resnet34, resnet50, resnext50_32x4d,
 * mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large, r3d_18, mc3_18, r2plus1d_18;
 * resnet101 and resnet152 at reduced widths (their builders' groups / width_per_group);
 * s3d's features on a small clip and its head on features given directly (its avgpool
 * needs clips of 13 x 209 x 209).  For tv.resnet18 and tv.r3d_18 one train-mode step is
 * compared too: logits, loss, every parameter's gradient (1e-3 relative) and the updated
 * running statistics.  The weights also go through the public loaders: the state-dict
 * loader and the models' `weights` file argument.  Then torchvision's weight init, the
 * builders' argument checks, and the two recognizer paths (fc replaced by an identity;
 * `features` used by extract_feat). */
#include "mact-test.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#if defined(__has_include)
# if __has_include (<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define TV_UNDER_VALGRIND() RUNNING_ON_VALGRIND
# endif
#endif
#ifndef TV_UNDER_VALGRIND
# define TV_UNDER_VALGRIND() 0
#endif


/* ------------------------------------------------------------------ helpers */

static MactModule *
try_build (const char *json, GError **error)
{
  g_autoptr(JsonNode) node = json_from_string (json, error);
  if (node == NULL)
    return NULL;
  return mact_registry_build_from_json (mact_registry_get_default (), node,
                                        MACT_TYPE_BACKBONE, error);
}

static MactModule *
build (const char *json)
{
  g_autoptr(GError) error = NULL;
  MactModule *module = try_build (json, &error);
  if (module == NULL)
    fail_msg ("building %s: %s", json, error->message);
  assert_true (MACT_IS_BACKBONE (module));
  return module;
}

static void
assert_build_error (const char *json, GQuark domain, gint code)
{
  GError *error = NULL;
  MactModule *module = try_build (json, &error);
  if (module != NULL)
    {
      g_object_unref (module);
      fail_msg ("building %s succeeded, expected an error", json);
    }
  mact_test_assert_error (&error, domain, code);
}

static void
assert_shape (MactTensor *t, const char *expected)
{
  g_autofree char *shape = mact_tensor_shape_to_string (t);
  if (!g_str_equal (shape, expected))
    fail_msg ("shape %s, expected %s", shape, expected);
}

static MactModule *
submodule (MactModule *module, const char *path)
{
  g_autoptr(GError) error = NULL;
  MactModule *sub = mact_module_get_submodule (module, path, &error);
  if (sub == NULL)
    fail_msg ("no submodule %s: %s", path, error->message);
  return sub;
}

static MactTensor *
forward1 (MactModule *module, MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  MactTensor *y = mact_module_forward1 (module, x, &error);
  if (y == NULL)
    fail_msg ("%s forward: %s", G_OBJECT_TYPE_NAME (module), error->message);
  return y;
}

static MactTensor *
eval_forward (MactModule *module, MactTensor *x)
{
  MactTensor *y;
  mact_module_eval (module);
  MACT_NO_GRAD_BEGIN
  y = forward1 (module, x);
  MACT_NO_GRAD_END
  return y;
}

static MactTensor *
eval_features (MactModule *module, MactTensor *x)
{
  g_autoptr(GError) error = NULL;
  MactTensor *y;
  mact_module_eval (module);
  MACT_NO_GRAD_BEGIN
  y = mact_backbone_forward_features (MACT_BACKBONE (module), x, &error);
  MACT_NO_GRAD_END
  if (y == NULL)
    fail_msg ("%s features: %s", G_OBJECT_TYPE_NAME (module), error->message);
  return y;
}

static char *
shape_key (MactTensor *t)
{
  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (t, &ndim);
  GString *s = g_string_new (NULL);
  for (gint d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? "x" : "", shape[d]);
  return g_string_free (s, FALSE);
}

static double
max_abs (MactTensor *t)
{
  g_autoptr(MactTensor) c = mact_tensor_contiguous (t);
  const float *v = mact_tensor_get_data (c);
  double m = 0.0;
  for (gint64 i = 0; i < mact_tensor_get_numel (c); i++)
    m = MAX (m, fabs (v[i]));
  return m;
}

/* ------------------------------------------------------------------ hashed weights */

/* gen_tv.py's weights: a 32-bit hash of (key, index), mapped by the kind of tensor the key
 * names, computed in double and rounded to float, as numpy does there. */
static guint32
fnv1a (const char *s)
{
  guint32 h = 0x811C9DC5u;
  for (const guchar *p = (const guchar *) s; *p; p++)
    h = (h ^ *p) * 0x01000193u;
  return h;
}

static guint32
hash_u32 (guint32 h, gint64 i)
{
  guint32 x = h ^ (guint32) ((guint64) i * 0x9E3779B1u);
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  x ^= x >> 16;
  return x;
}

static MactTensor *
new_tensor (gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_empty (ndim, shape, &error);
  if (t == NULL)
    fail_msg ("new tensor: %s", error->message);
  return t;
}

/* Writes the hashed values of the tensor @key (of @shape) to @out. */
static void
tv_fill (const char *key, gint ndim, const gint64 *shape, float *out, double gain)
{
  gint64 n = 1;
  for (gint d = 0; d < ndim; d++)
    n *= shape[d];
  const guint32 h = fnv1a (key);
  const char *dot = strrchr (key, '.');
  const char *leaf = dot != NULL ? dot + 1 : key;
  enum { SCALE, SHIFT, WEIGHT } kind = WEIGHT;

  if (g_str_equal (leaf, "running_var") || (g_str_equal (leaf, "weight") && ndim == 1))
    kind = SCALE;
  else if (g_str_equal (leaf, "running_mean") || g_str_equal (leaf, "bias"))
    kind = SHIFT;
  else if (!g_str_equal (leaf, "weight"))
    fail_msg ("no weight formula for %s", key);
  const double bound = kind == WEIGHT ? sqrt (3.0 * gain / (double) (n / shape[0])) : 0.0;

  for (gint64 i = 0; i < n; i++)
    {
      const double u = (double) hash_u32 (h, i) / 4294967296.0;
      switch (kind)
        {
        case SCALE:
          out[i] = (float) (0.5 + u);
          break;
        case SHIFT:
          out[i] = (float) ((u - 0.5) * 0.2);
          break;
        case WEIGHT:
        default:
          out[i] = (float) ((2.0 * u - 1.0) * bound);
          break;
        }
    }
}

static MactTensor *
tv_weight_values (const char *key, gint ndim, const gint64 *shape, double gain)
{
  MactTensor *t = new_tensor (ndim, shape);
  tv_fill (key, ndim, shape, mact_tensor_get_data (t), gain);
  return t;
}

/* gen_tv.py's hashed_input(): uniform in [-1, 1). */
static MactTensor *
hashed_input (const char *key, gint ndim, const gint64 *shape)
{
  MactTensor *t = new_tensor (ndim, shape);
  float *v = mact_tensor_get_data (t);
  const guint32 h = fnv1a (key);
  for (gint64 i = 0; i < mact_tensor_get_numel (t); i++)
    v[i] = (float) (2.0 * ((double) hash_u32 (h, i) / 4294967296.0) - 1.0);
  return t;
}

/* Checks that @model's state dict has exactly the fixture's keys (torchvision's), in
 * order and with its shapes. */
static void
check_keys (MactModule *model, MactTestFixture *fx)
{
  g_auto(GStrv) keys = g_strsplit (mact_test_fixture_meta (fx, "keys"), ",", -1);
  g_auto(GStrv) shapes = g_strsplit (mact_test_fixture_meta (fx, "shapes"), ";", -1);
  g_autoptr(MactTensorDict) own = mact_module_state_dict (model);

  assert_int_equal (g_strv_length (shapes), g_strv_length (keys));
  for (guint i = 0; keys[i] != NULL; i++)
    {
      if (i >= mact_tensor_dict_get_size (own))
        fail_msg ("the state dict ends before %s (key %u of %u)", keys[i], i,
                  g_strv_length (keys));
      if (!g_str_equal (mact_tensor_dict_get_key (own, i), keys[i]))
        fail_msg ("state-dict key %u is %s, expected %s", i, mact_tensor_dict_get_key (own, i),
                  keys[i]);
      g_autofree char *shape = shape_key (mact_tensor_dict_get_value (own, i));
      if (!g_str_equal (shape, shapes[i]))
        fail_msg ("%s has shape %s, expected %s", keys[i], shape, shapes[i]);
    }
  if (mact_tensor_dict_get_size (own) != g_strv_length (keys))
    fail_msg ("the state dict has %u keys, torchvision's %u (extra: %s)",
              mact_tensor_dict_get_size (own), g_strv_length (keys),
              mact_tensor_dict_get_key (own, g_strv_length (keys)));
}

/* The hashed weights as a state dict under @model's keys (num_batches_tracked as the
 * model has it), for the public loaders. */
static MactTensorDict *
hashed_state_dict (MactModule *model, double gain)
{
  g_autoptr(MactTensorDict) own = mact_module_state_dict (model);
  MactTensorDict *state = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (own); i++)
    {
      const char *key = mact_tensor_dict_get_key (own, i);
      MactTensor *t = mact_tensor_dict_get_value (own, i);
      gint ndim;
      const gint64 *shape = mact_tensor_get_shape (t, &ndim);
      g_autoptr(MactTensor) value = g_str_has_suffix (key, "num_batches_tracked")
                                    ? mact_tensor_clone (t)
                                    : tv_weight_values (key, ndim, shape, gain);
      mact_tensor_dict_insert (state, key, value);
    }
  return state;
}

/* Writes the hashed weights straight into @model's tensors: a large model's weights
 * are not copied twice (the loaders are tested on small models). */
static void
fill_hashed (MactModule *model, double gain)
{
  g_autoptr(MactTensorDict) own = mact_module_state_dict (model);
  for (guint i = 0; i < mact_tensor_dict_get_size (own); i++)
    {
      const char *key = mact_tensor_dict_get_key (own, i);
      MactTensor *t = mact_tensor_dict_get_value (own, i);
      if (g_str_has_suffix (key, "num_batches_tracked"))
        continue;
      assert_true (mact_tensor_is_contiguous (t));
      gint ndim;
      const gint64 *shape = mact_tensor_get_shape (t, &ndim);
      tv_fill (key, ndim, shape, mact_tensor_get_data (t), gain);
    }
}

/* Builds the fixture's model from its JSON config and checks its keys. */
static MactModule *
fixture_build (MactTestFixture *fx)
{
  MactModule *model = build (mact_test_fixture_meta (fx, "config"));
  check_keys (model, fx);
  return model;
}

/* Compares the eval-mode logits (and, where the model has them, features) of @model,
 * holding the hashed weights, with the fixture's. */
static void
check_eval (MactModule *model, MactTestFixture *fx, const char *what)
{
  MactTensor *x = mact_test_fixture_get (fx, "input");
  if (mact_test_fixture_has (fx, "output"))
    {
      g_autoptr(MactTensor) y = eval_forward (model, x);
      mact_test_assert_close (y, mact_test_fixture_get (fx, "output"), 1e-4, what);
    }
  assert_int_equal (mact_backbone_has_features (MACT_BACKBONE (model)),
                    mact_test_fixture_has (fx, "features"));
  if (mact_test_fixture_has (fx, "features"))
    {
      g_autoptr(MactTensor) f = eval_features (model, x);
      mact_test_assert_close (f, mact_test_fixture_get (fx, "features"), 1e-4, what);
    }
}

static MactTestFixture *
load_fixture (const char *name)
{
  g_autofree char *path = g_strconcat ("tv/", name, NULL);
  return mact_test_fixture_load (path);
}

/* The parity of one fixture: build from the config, keys, hashed weights, outputs. */
static MactModule *
eval_parity (const char *name)
{
  g_autoptr(MactTestFixture) fx = load_fixture (name);
  MactModule *model = fixture_build (fx);
  fill_hashed (model, mact_test_fixture_meta_double (fx, "gain"));
  check_eval (model, fx, name);
  return model;
}

/* max |a - b| <= rtol * max|b|: gradients are small, so the tolerance scales with the
 * reference itself rather than with max(1, max|ref|). */
static void
assert_rel_close (const float *got, const float *expected, gint64 n, double scale,
                  double rtol, const char *what)
{
  double worst = 0.0;
  gint64 at = 0;
  for (gint64 i = 0; i < n; i++)
    {
      double e = fabs ((double) got[i] - (double) expected[i]);
      if (e > worst)
        {
          worst = e;
          at = i;
        }
    }
  if (worst > rtol * scale + 1e-12)
    fail_msg ("%s: max abs error %g at %" G_GINT64_FORMAT " (got %g, expected %g) exceeds "
              "%g x %g", what, worst, at, got[at], expected[at], rtol, scale);
}

/* One train-mode step of the grad_* fixture on @model (already holding the hashed
 * weights): logits, loss, the gradient of every parameter within 1e-3 relative, and the
 * running statistics the batch norms hold afterwards. */
static void
check_train_step (MactModule *model, const char *name)
{
  g_autoptr(MactTestFixture) fx = load_fixture (name);
  g_autoptr(GError) error = NULL;

  mact_module_train (model, TRUE);
  mact_module_zero_grad (model);
  g_autoptr(MactTensor) logits = forward1 (model, mact_test_fixture_get (fx, "input"));
  mact_test_assert_close (logits, mact_test_fixture_get (fx, "output"), 1e-4, name);
  g_autoptr(MactTensor) loss = mact_cross_entropy (logits, mact_test_fixture_get (fx, "labels"),
                                                   NULL, MACT_REDUCTION_MEAN, &error);
  assert_non_null (loss);
  const float expected_loss = mact_tensor_item (mact_test_fixture_get (fx, "loss"));
  assert_true (fabs (mact_tensor_item (loss) - expected_loss) <= 1e-4 * MAX (1.0, expected_loss));
  assert_true (mact_tensor_backward (loss, NULL, &error));

  g_autoptr(MactTensorDict) params = mact_module_named_parameters (model);
  assert_true (mact_tensor_dict_get_size (params) > 0);
  for (guint i = 0; i < mact_tensor_dict_get_size (params); i++)
    {
      const char *key = mact_tensor_dict_get_key (params, i);
      MactTensor *grad = mact_tensor_get_grad (mact_tensor_dict_get_value (params, i));
      if (grad == NULL)
        fail_msg ("%s: no gradient", key);
      g_autoptr(MactTensor) g = mact_tensor_contiguous (grad);
      const float *gv = mact_tensor_get_data (g);
      const gint64 n = mact_tensor_get_numel (g);
      g_autofree char *full_key = g_strconcat ("grad.", key, NULL);
      g_autofree char *sample_key = g_strconcat ("grad_sample.", key, NULL);
      g_autofree char *stats_key = g_strconcat ("grad_stats.", key, NULL);

      if (mact_test_fixture_has (fx, full_key))
        {
          MactTensor *ref = mact_test_fixture_get (fx, full_key);
          assert_int_equal (mact_tensor_get_numel (ref), n);
          assert_rel_close (gv, mact_tensor_get_data (ref), n, max_abs (ref), 1e-3, full_key);
          continue;
        }
      /* Large tensors: 256 elements at hashed indices, max |g| and the L2 norm. */
      MactTensor *sample = mact_test_fixture_get (fx, sample_key);
      const float *stats = mact_tensor_get_data (mact_test_fixture_get (fx, stats_key));
      const gint64 m = mact_tensor_get_numel (sample);
      g_autofree float *picked = g_new (float, m);
      g_autofree char *idx_key = g_strconcat ("idx.", key, NULL);
      const guint32 h = fnv1a (idx_key);
      double sq = 0.0, top = 0.0;
      for (gint64 j = 0; j < m; j++)
        picked[j] = gv[((guint64) hash_u32 (h, j) * (guint64) n) >> 32];
      for (gint64 j = 0; j < n; j++)
        {
          sq += (double) gv[j] * gv[j];
          top = MAX (top, fabs (gv[j]));
        }
      assert_rel_close (picked, mact_tensor_get_data (sample), m, stats[0], 1e-3, sample_key);
      if (fabs (top - stats[0]) > 1e-3 * stats[0] || fabs (sqrt (sq) - stats[1]) > 1e-3 * stats[1])
        fail_msg ("%s: max |g| %g and norm %g, expected %g and %g", key, top, sqrt (sq),
                  stats[0], stats[1]);
    }

  /* Train-mode batch norms updated their running statistics (momentum 0.1). */
  g_autoptr(MactTensorDict) state = mact_module_state_dict (model);
  guint n_checked = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (state); i++)
    {
      const char *key = mact_tensor_dict_get_key (state, i);
      MactTensor *t = mact_tensor_dict_get_value (state, i);
      if (g_str_has_suffix (key, "num_batches_tracked"))
        {
          assert_float_equal (mact_tensor_item (t), 1.0f, 0.0f);
          continue;
        }
      if (!g_str_has_suffix (key, "running_mean") && !g_str_has_suffix (key, "running_var"))
        continue;
      g_autofree char *after_key = g_strconcat ("after.", key, NULL);
      mact_test_assert_close (t, mact_test_fixture_get (fx, after_key), 1e-4, after_key);
      n_checked++;
    }
  assert_true (n_checked > 0);
  mact_module_eval (model);
}

/* ------------------------------------------------------------------ init */

typedef struct {
  double mean;
  double std;
  double min;
  double max;
} Stats;

static Stats
stats_of (MactTensor *t)
{
  g_autoptr(MactTensor) c = mact_tensor_contiguous (t);
  const float *v = mact_tensor_get_data (c);
  const gint64 n = mact_tensor_get_numel (c);
  double sum = 0.0, sq = 0.0;
  Stats s = { 0.0, 0.0, INFINITY, -INFINITY };
  for (gint64 i = 0; i < n; i++)
    {
      sum += v[i];
      sq += (double) v[i] * v[i];
      s.min = MIN (s.min, v[i]);
      s.max = MAX (s.max, v[i]);
    }
  s.mean = sum / n;
  s.std = sqrt (MAX (0.0, sq / n - s.mean * s.mean));
  return s;
}

static MactTensor *
state_tensor (MactModule *model, const char *key)
{
  g_autoptr(MactTensorDict) state = mact_module_state_dict (model);
  MactTensor *t = mact_tensor_dict_lookup (state, key);
  if (t == NULL)
    fail_msg ("no key %s", key);
  return t;
}

/* A weight drawn from normal(0, std): mean ~0 and std within 3% (large tensors only). */
static void
assert_normal (MactModule *model, const char *key, double std)
{
  Stats s = stats_of (state_tensor (model, key));
  if (fabs (s.std - std) > 0.03 * std || fabs (s.mean) > 0.05 * std)
    fail_msg ("%s: mean %g std %g, expected normal(0, %g)", key, s.mean, s.std, std);
}

/* A weight drawn from uniform(-bound, bound). */
static void
assert_uniform (MactModule *model, const char *key, double bound)
{
  Stats s = stats_of (state_tensor (model, key));
  if (s.min < -bound || s.max > bound || fabs (s.std - bound / sqrt (3.0)) > 0.05 * bound)
    fail_msg ("%s: in [%g, %g] with std %g, expected uniform(-%g, %g)", key, s.min, s.max,
              s.std, bound, bound);
}

static void
assert_constant (MactModule *model, const char *key, float value)
{
  Stats s = stats_of (state_tensor (model, key));
  if (s.min != value || s.max != value)
    fail_msg ("%s: in [%g, %g], expected all %g", key, s.min, s.max, value);
}

/* ------------------------------------------------------------------ registry */

static const char *const all_types[] = {
  "tv.resnet18", "tv.resnet34", "tv.resnet50", "tv.resnet101", "tv.resnet152",
  "tv.resnext50_32x4d", "tv.mobilenet_v2", "tv.mobilenet_v3_small", "tv.mobilenet_v3_large",
  "tv.r3d_18", "tv.mc3_18", "tv.r2plus1d_18", "tv.s3d",
};

static void
test_plugin_types (void **state)
{
  MactRegistry *registry = mact_registry_get_default ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) types = mact_registry_list_types (registry, "tv", &error);
  assert_non_null (types);
  for (gsize i = 0; i < G_N_ELEMENTS (all_types); i++)
    {
      if (!g_strv_contains ((const char *const *) types, all_types[i]))
        fail_msg ("%s is not registered", all_types[i]);
      GType type = mact_registry_lookup_type (registry, all_types[i], &error);
      assert_true (g_type_is_a (type, MACT_TYPE_BACKBONE));
      assert_false (G_TYPE_IS_ABSTRACT (type));
      assert_string_equal (mact_registry_type_name_of (type), all_types[i]);
    }
  assert_int_equal (g_strv_length (types), G_N_ELEMENTS (all_types));

  /* One plugin file provides them, under torchvision's own prefix too. */
  g_autoptr(GPtrArray) plugins = mact_registry_list_plugins (registry, "tv");
  assert_int_equal (plugins->len, 1);
  assert_string_equal (mact_plugin_get_name (g_ptr_array_index (plugins, 0)), "torchvision");
  GType alias = mact_registry_lookup_type (registry, "torchvision.mobilenet_v2", &error);
  assert_true (alias == mact_registry_lookup_type (registry, "tv.mobilenet_v2", &error));

  /* Each builder has its own type. */
  assert_true (mact_registry_lookup_type (registry, "tv.resnet18", &error) !=
               mact_registry_lookup_type (registry, "tv.resnet34", &error));
  g_autoptr(MactModule) none = mact_registry_create_block (registry, "tv.resnet18",
                                                           MACT_TYPE_HEAD, 0, NULL, NULL,
                                                           &error);
  assert_null (none);
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND);
}

/* ------------------------------------------------------------------ ResNets */

static void
test_resnet18 (void **state)
{
  g_autoptr(MactTestFixture) fx = load_fixture ("resnet18");
  g_autoptr(MactTestFixture) gx = load_fixture ("grad_resnet18");
  assert_string_equal (mact_test_fixture_meta (fx, "config"),
                       mact_test_fixture_meta (gx, "config"));

  /* Through the registry's create_block, as a program would without a config. */
  GValue value = G_VALUE_INIT;
  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 7);
  const char *names[] = { "num-classes" };
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) model = mact_registry_create_block (mact_registry_get_default (),
                                                            "tv.resnet18", MACT_TYPE_BACKBONE,
                                                            1, names, &value, &error);
  g_value_unset (&value);
  assert_non_null (model);
  check_keys (model, fx);

  /* torchvision's init: convs kaiming_normal(fan_out, relu), batch norms 1 and 0, fc as
   * nn.Linear makes it (kaiming_uniform(a=sqrt(5)): bound 1/sqrt(fan_in)). */
  assert_normal (model, "layer4.1.conv2.weight", sqrt (2.0 / (512 * 9)));
  assert_normal (model, "conv1.weight", sqrt (2.0 / (64 * 49)));
  assert_constant (model, "layer4.1.bn2.weight", 1.0f);
  assert_constant (model, "layer4.1.bn2.bias", 0.0f);
  assert_uniform (model, "fc.weight", 1.0 / sqrt (512.0));
  assert_false (mact_backbone_has_features (MACT_BACKBONE (model)));

  fill_hashed (model, mact_test_fixture_meta_double (fx, "gain"));
  check_eval (model, fx, "resnet18");

  /* GradCAM's target layer exists under torchvision's path. */
  assert_true (MACT_IS_ACTIVATION (submodule (model, "layer4/1/relu")));

  check_train_step (model, "grad_resnet18");
}

static void
test_resnet34 (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("resnet34");
  assert_int_equal (mact_sequential_get_length (MACT_SEQUENTIAL (submodule (model, "layer3"))),
                    6);
}

static void
test_resnet50 (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("resnet50");
  gint groups = 0, width = 0;
  g_object_get (model, "groups", &groups, "width-per-group", &width, NULL);
  assert_int_equal (groups, 1);
  assert_int_equal (width, 64);
}

static void
test_resnet101 (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("resnet101_reduced");
  assert_int_equal (mact_sequential_get_length (MACT_SEQUENTIAL (submodule (model, "layer3"))),
                    23);
}

static void
test_resnet152 (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("resnet152_reduced");
  assert_int_equal (mact_sequential_get_length (MACT_SEQUENTIAL (submodule (model, "layer3"))),
                    36);
}

static void
test_resnext50_32x4d (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("resnext50_32x4d");
  gint groups = 0, width = 0;
  g_object_get (model, "groups", &groups, "width-per-group", &width, NULL);
  assert_int_equal (groups, 32);
  assert_int_equal (width, 4);
}

/* zero_init_residual: every block's last batch norm starts at weight 0.  A Bottleneck
 * network at width_per_group 1 keeps this cheap. */
static void
test_resnet_zero_init_residual (void **state)
{
  g_autoptr(MactModule) model = build ("{\"type\": \"tv.resnet50\", \"width_per_group\": 1, "
                                       "\"zero_init_residual\": true, \"num_classes\": 3}");
  assert_constant (model, "layer1.0.bn3.weight", 0.0f);
  assert_constant (model, "layer4.2.bn3.weight", 0.0f);
  assert_constant (model, "layer4.2.bn2.weight", 1.0f);
  assert_constant (model, "layer4.0.downsample.1.weight", 1.0f);
  /* width = int(planes * width_per_group / 64) * groups: 1 channel in layer1. */
  assert_shape (state_tensor (model, "layer1.0.conv2.weight"), "[1, 1, 3, 3]");
}

static void
test_resnet_errors (void **state)
{
  /* torchvision's BasicBlock refuses other widths, groups and any dilation. */
  assert_build_error ("{\"type\": \"tv.resnet18\", \"groups\": 2}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.resnet34\", \"width_per_group\": 32}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.resnet18\", "
                      "\"replace_stride_with_dilation\": [false, false, true]}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  /* resnext50_32x4d fixes its width. */
  assert_build_error ("{\"type\": \"tv.resnext50_32x4d\", \"groups\": 8}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.resnext50_32x4d\", \"width_per_group\": 8}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.resnet50\", "
                      "\"replace_stride_with_dilation\": [false, true]}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.resnet50\", \"groups\": 0}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.resnet152\", \"num_classes\": 0}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  /* An argument torchvision's builder does not take. */
  assert_build_error ("{\"type\": \"tv.resnet18\", \"depth\": 18}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY);
  /* No downloads: pretrained=True asks for a file. */
  assert_build_error ("{\"type\": \"tv.resnet18\", \"pretrained\": true}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED);
  assert_build_error ("{\"type\": \"tv.resnet18\", \"weights\": \"\"}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ MobileNets */

static void
test_mobilenet_v2 (void **state)
{
  g_autoptr(MactTestFixture) fx = load_fixture ("mobilenet_v2_w035");
  g_autoptr(MactModule) model = fixture_build (fx);

  /* torchvision's init: convs kaiming_normal(fan_out), linear normal(0, 0.01), bias 0;
   * the last conv keeps 1280 channels at width 0.35. */
  assert_normal (model, "features.18.0.weight", sqrt (2.0 / 1280));
  assert_normal (model, "classifier.1.weight", 0.01);
  assert_constant (model, "classifier.1.bias", 0.0f);
  assert_constant (model, "features.17.conv.3.weight", 1.0f);

  fill_hashed (model, mact_test_fixture_meta_double (fx, "gain"));
  check_eval (model, fx, "mobilenet_v2_w035");
}

static void
test_mobilenet_v2_full (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("mobilenet_v2");
  assert_shape (state_tensor (model, "features.1.conv.1.weight"), "[16, 32, 1, 1]");
}

static void
test_mobilenet_v3_large (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("mobilenet_v3_large");
  /* The squeeze-excitation of block 4: 72 -> make_divisible(72 / 4, 8) = 24 -> 72. */
  assert_shape (state_tensor (model, "features.4.block.2.fc1.weight"), "[24, 72, 1, 1]");
}

/* width_mult, reduced_tail and dilated. */
static void
test_mobilenet_v3_large_reduced (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("mobilenet_v3_large_reduced");

  /* Batch norms with eps 0.001 and momentum 0.01. */
  double eps = 0.0, momentum = 0.0;
  g_object_get (submodule (model, "features.0.1"), "eps", &eps, "momentum", &momentum, NULL);
  assert_float_equal (eps, 0.001, 1e-12);
  assert_float_equal (momentum, 0.01, 1e-12);
}

static void
test_mobilenet_errors (void **state)
{
  assert_build_error ("{\"type\": \"tv.mobilenet_v2\", \"width_mult\": 0}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.mobilenet_v2\", \"round_nearest\": 0}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.mobilenet_v2\", \"dropout\": 1.5}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.mobilenet_v2\", \"num_classes\": -1}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.mobilenet_v3_small\", \"width_mult\": -0.5}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.mobilenet_v3_large\", \"dropout\": -0.1}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
  assert_build_error ("{\"type\": \"tv.mobilenet_v3_large\", \"num_classes\": 0}",
                      MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  /* Inputs: one RGB image batch. */
  g_autoptr(MactModule) model = build ("{\"type\": \"tv.mobilenet_v3_small\", "
                                       "\"width_mult\": 0.25, \"num_classes\": 3}");
  const gint64 gray[] = { 1, 1, 32, 32 }, clip[] = { 1, 3, 2, 32, 32 };
  g_autoptr(MactTensor) x1 = mact_test_random (4, gray, 1, -1, 1);
  g_autoptr(MactTensor) x5 = mact_test_random (5, clip, 2, -1, 1);
  GError *error = NULL;
  assert_null (mact_module_forward1 (model, x1, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_null (mact_module_forward1 (model, x5, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  assert_null (mact_backbone_forward_features (MACT_BACKBONE (model), x1, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
  g_autoptr(GPtrArray) two = g_ptr_array_new ();
  g_ptr_array_add (two, x1);
  g_ptr_array_add (two, x1);
  assert_null (mact_module_forward (model, two, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);
}

/* ------------------------------------------------------------------ video */

static void
test_r3d_18 (void **state)
{
  g_autoptr(MactTestFixture) fx = load_fixture ("r3d_18");
  g_autoptr(MactTestFixture) gx = load_fixture ("grad_r3d_18");
  assert_string_equal (mact_test_fixture_meta (fx, "config"),
                       mact_test_fixture_meta (gx, "config"));
  g_autoptr(MactModule) model = fixture_build (fx);

  /* torchvision's init: Conv3d kaiming_normal(fan_out, relu), fc normal(0, 0.01). */
  assert_normal (model, "layer4.1.conv2.0.weight", sqrt (2.0 / (512 * 27)));
  assert_normal (model, "fc.weight", 0.01);
  assert_constant (model, "fc.bias", 0.0f);

  fill_hashed (model, mact_test_fixture_meta_double (fx, "gain"));
  check_eval (model, fx, "r3d_18");

  /* Clips only. */
  const gint64 image[] = { 1, 3, 16, 16 };
  g_autoptr(MactTensor) x = mact_test_random (4, image, 3, -1, 1);
  GError *error = NULL;
  assert_null (mact_module_forward1 (model, x, &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  check_train_step (model, "grad_r3d_18");
}

static void
test_mc3_18 (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("mc3_18");
  /* Conv3DNoTemporal from layer2 on. */
  assert_shape (state_tensor (model, "layer2.0.conv1.0.weight"), "[128, 64, 1, 3, 3]");
  assert_shape (state_tensor (model, "layer1.0.conv1.0.weight"), "[64, 64, 3, 3, 3]");
}

static void
test_r2plus1d_18 (void **state)
{
  g_autoptr(MactModule) model = eval_parity ("r2plus1d_18");
  /* Conv2Plus1D's middle width, (in * out * 27) / (in * 9 + 3 * out), is shared by both
   * convs of a block: 230 for layer2.0 (64 -> 128). */
  assert_shape (state_tensor (model, "layer2.0.conv2.0.0.weight"), "[230, 128, 1, 3, 3]");
}

static void
test_s3d (void **state)
{
  g_autoptr(MactTestFixture) fx = load_fixture ("s3d");
  g_autoptr(MactModule) model = fixture_build (fx);

  /* S3D keeps PyTorch's layer init: convs kaiming_uniform(a=sqrt(5)), bound
   * 1/sqrt(fan_in); batch norms 1 and 0, with eps 0.001. */
  assert_uniform (model, "classifier.1.weight", 1.0 / sqrt (1024.0));
  assert_uniform (model, "features.15.branch0.0.weight", 1.0 / sqrt (832.0));
  assert_constant (model, "features.15.branch0.1.weight", 1.0f);
  double eps = 0.0;
  g_object_get (submodule (model, "features.15.branch0.1"), "eps", &eps, NULL);
  assert_float_equal (eps, 0.001, 1e-12);

  fill_hashed (model, mact_test_fixture_meta_double (fx, "gain"));
  check_eval (model, fx, "s3d");

  /* The whole forward needs clips of 13 x 209 x 209 at least: a smaller one is refused
   * by name... */
  GError *error = NULL;
  assert_null (mact_module_forward1 (model, mact_test_fixture_get (fx, "input"), &error));
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT);

  /* ... so the head (avgpool, classifier, mean) runs on features given directly, with
   * `features` replaced by an identity. */
  g_autoptr(MactModule) identity = mact_identity_new ();
  assert_true (mact_module_replace_child (model, "features", identity, &error));
  const gint64 shape[] = { 1, 1024, 3, 8, 8 };
  g_autoptr(MactTensor) f = hashed_input ("head_input", 5, shape);
  g_autoptr(MactTensor) y = eval_forward (model, f);
  mact_test_assert_close (y, mact_test_fixture_get (fx, "head_output"), 1e-4, "s3d head");
}

/* ------------------------------------------------------------------ weights */

/* The public loader takes torchvision's state dict as it is. */
static void
test_load_state_dict (void **state)
{
  g_autoptr(MactTestFixture) fx = load_fixture ("mobilenet_v3_small");
  g_autoptr(MactModule) model = fixture_build (fx);
  g_autoptr(MactTensorDict) weights =
    hashed_state_dict (model, mact_test_fixture_meta_double (fx, "gain"));
  g_autoptr(GError) error = NULL;
  assert_true (mact_module_load_state_dict (model, weights, TRUE, NULL, NULL, &error));
  check_eval (model, fx, "mobilenet_v3_small (load_state_dict)");
}

static char *
temp_weights_path (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("mact-tv-XXXXXX", &error);
  if (dir == NULL)
    fail_msg ("temporary directory: %s", error->message);
  char *path = g_build_filename (dir, "weights.safetensors", NULL);
  g_free (dir);
  return path;
}

static void
remove_weights (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

/* `weights`: a safetensors file of torchvision's state dict, loaded at build time. */
static void
test_weights_file (void **state)
{
  g_autoptr(MactTestFixture) fx = load_fixture ("mobilenet_v2_w035");
  g_autoptr(MactModule) reference = fixture_build (fx);
  g_autoptr(MactTensorDict) weights =
    hashed_state_dict (reference, mact_test_fixture_meta_double (fx, "gain"));
  g_autofree char *path = temp_weights_path ();
  g_autoptr(GError) error = NULL;
  assert_true (mact_safetensors_save (path, weights, NULL, &error));

  g_autofree char *json = g_strdup_printf ("{\"type\": \"tv.mobilenet_v2\", \"num_classes\": 5, "
                                           "\"width_mult\": 0.35, \"weights\": \"%s\"}", path);
  g_autoptr(MactModule) model = build (json);
  g_autofree char *got_path = NULL;
  g_object_get (model, "weights", &got_path, NULL);
  assert_string_equal (got_path, path);
  check_eval (model, fx, "mobilenet_v2_w035 (weights)");

  /* Another model's weights: the strict load names what does not fit. */
  g_autofree char *wrong = g_strdup_printf ("{\"type\": \"tv.mobilenet_v2\", \"num_classes\": 5, "
                                            "\"weights\": \"%s\"}", path);
  assert_build_error (wrong, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT);
  remove_weights (path);

  /* A missing file. */
  g_autofree char *missing = g_strdup_printf ("{\"type\": \"tv.mobilenet_v2\", \"weights\": "
                                              "\"%s\"}", path);
  assert_build_error (missing, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);
}

/* ------------------------------------------------------------------ recognizers */

static MactRecognizer *
build_recognizer (const char *json)
{
  g_autoptr(GError) error = NULL;
  MactRecognizer *rec = mact_recognizer_new_from_data (json, -1, NULL, &error);
  if (rec == NULL)
    fail_msg ("building %s: %s", json, error->message);
  return rec;
}

static MactTensor *
forward_test (MactRecognizer *rec, MactTensor *imgs)
{
  g_autoptr(GError) error = NULL;
  MactTensor *scores;
  mact_module_eval (MACT_MODULE (rec));
  MACT_NO_GRAD_BEGIN
  scores = mact_recognizer_forward_test (rec, imgs, &error);
  MACT_NO_GRAD_END
  if (scores == NULL)
    fail_msg ("forward_test: %s", error->message);
  return scores;
}

/* TSN on a torchvision ResNet: fc becomes an identity, the backbone's output is the
 * pooled [N*V, 512] vector, which the recognizer shapes for the native TSNHead. */
static void
test_recognizer_resnet18 (void **state)
{
  g_autoptr(MactRecognizer) rec = build_recognizer (
    "{\"model\": {\"type\": \"Recognizer2D\", "
    "\"backbone\": {\"type\": \"tv.resnet18\", \"num_classes\": 11}, "
    "\"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 4, \"in_channels\": 512}, "
    "\"test_cfg\": {\"average_clips\": \"prob\"}}}");
  MactBackbone *backbone = mact_recognizer_get_backbone (rec);
  assert_int_equal (mact_recognizer_get_backbone_from (rec), MACT_BACKBONE_SOURCE_TORCHVISION);
  assert_true (MACT_IS_IDENTITY (mact_module_get_child (MACT_MODULE (backbone), "fc")));
  g_autoptr(MactTensorDict) sd = mact_module_state_dict (MACT_MODULE (rec));
  assert_true (mact_tensor_dict_contains (sd, "backbone.layer4.1.bn2.running_var"));
  assert_false (mact_tensor_dict_contains (sd, "backbone.fc.weight"));

  const gint64 shape[] = { 2, 3, 3, 32, 32 };
  g_autoptr(MactTensor) imgs = mact_test_random (5, shape, 4, -1, 1);
  g_autoptr(MactTensor) scores = forward_test (rec, imgs);
  assert_shape (scores, "[2, 4]");

  /* The backbone gives the pooled vector (its fc is the identity). */
  const gint64 one_shape[] = { 1, 3, 32, 32 };
  g_autoptr(MactTensor) img = mact_test_random (4, one_shape, 5, -1, 1);
  g_autoptr(MactTensor) feat = eval_forward (MACT_MODULE (backbone), img);
  assert_shape (feat, "[1, 512]");
}

/* TSN on a torchvision MobileNetV2: extract_feat goes through `features`, whose maps the
 * 2-D recognizer pools. */
static void
test_recognizer_mobilenet_v2 (void **state)
{
  g_autoptr(MactRecognizer) rec = build_recognizer (
    "{\"model\": {\"type\": \"Recognizer2D\", "
    "\"backbone\": {\"type\": \"tv.mobilenet_v2\", \"width_mult\": 0.5}, "
    "\"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 6, \"in_channels\": 1280}, "
    "\"test_cfg\": {\"average_clips\": null}}}");
  MactBackbone *backbone = mact_recognizer_get_backbone (rec);
  assert_true (MACT_IS_IDENTITY (mact_module_get_child (MACT_MODULE (backbone),
                                                        "classifier")));
  assert_null (mact_module_get_child (MACT_MODULE (backbone), "fc"));
  assert_true (mact_backbone_has_features (backbone));

  const gint64 shape[] = { 2, 2, 3, 64, 64 };
  g_autoptr(MactTensor) imgs = mact_test_random (5, shape, 6, -1, 1);
  g_autoptr(MactTensor) scores = forward_test (rec, imgs);
  assert_shape (scores, "[2, 6]");

  /* extract_feat returns the feature maps (forward would give the pooled vector). */
  const gint64 folded_shape[] = { 4, 3, 64, 64 };
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) folded = mact_tensor_reshape (imgs, 4, folded_shape, &error);
  g_autoptr(GPtrArray) feats = NULL;
  MACT_NO_GRAD_BEGIN
  feats = mact_recognizer_extract_feat (rec, folded, &error);
  MACT_NO_GRAD_END
  assert_non_null (feats);
  assert_int_equal (feats->len, 1);
  assert_shape (g_ptr_array_index (feats, 0), "[4, 1280, 2, 2]");
  g_autoptr(MactTensor) direct = eval_features (MACT_MODULE (backbone), folded);
  mact_test_assert_close (g_ptr_array_index (feats, 0), direct, 0.0, "features");
}

/* Building a full-size model costs about 4 us per parameter under valgrind (the random
 * initialisation and the hashed weights are per-element loops), so the 11-33 M
 * parameter models would keep the valgrind run busy for ten minutes.  Valgrind looks for
 * memory errors, not numbers: under it, the FULL_SIZE cases are left out, each of them
 * running code that a cheaper case runs too.  Every class and builder path of the plugin
 * keeps a case there, except R(2+1)D's Conv2Plus1D and stem, which exist only in the
 * 31 M parameter r2plus1d_18.  The normal run has every case. */
typedef struct {
  struct CMUnitTest test;
  gboolean          full_size;
} TvCase;

#define CASE(f) { cmocka_unit_test (f), FALSE }
#define FULL_SIZE(f) { cmocka_unit_test (f), TRUE }

int
main (void)
{
  static const TvCase cases[] = {
    CASE (test_plugin_types),
    FULL_SIZE (test_resnet18),
    FULL_SIZE (test_resnet34),
    FULL_SIZE (test_resnet50),
    CASE (test_resnet101),
    FULL_SIZE (test_resnet152),
    FULL_SIZE (test_resnext50_32x4d),
    CASE (test_resnet_zero_init_residual),
    CASE (test_resnet_errors),
    CASE (test_mobilenet_v2),
    FULL_SIZE (test_mobilenet_v2_full),
    FULL_SIZE (test_mobilenet_v3_large),
    CASE (test_mobilenet_v3_large_reduced),
    CASE (test_mobilenet_errors),
    FULL_SIZE (test_r3d_18),
    CASE (test_mc3_18),
    FULL_SIZE (test_r2plus1d_18),
    CASE (test_s3d),
    CASE (test_load_state_dict),
    CASE (test_weights_file),
    FULL_SIZE (test_recognizer_resnet18),
    CASE (test_recognizer_mobilenet_v2),
  };
  struct CMUnitTest tests[G_N_ELEMENTS (cases)];
  const gboolean under_valgrind = TV_UNDER_VALGRIND ();
  size_t n = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    if (!(cases[i].full_size && under_valgrind))
      tests[n++] = cases[i].test;
  /* TV_FILTER=test_s3d runs one case while working on a model. */
  if (g_getenv ("TV_FILTER"))
    cmocka_set_test_filter (g_getenv ("TV_FILTER"));
  return _cmocka_run_group_tests ("tv", tests, n, NULL, NULL);
}
