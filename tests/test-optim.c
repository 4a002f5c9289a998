/* Optimizers: SGD / Adam / AdamW against several steps of torch.optim (fixtures from
 * tests/fixtures/gen_optim.py: three parameter shapes, steps where a parameter has no
 * gradient, every option combination, groups from custom_keys); building from mmaction2
 * configs with mmcv's paramwise rules (custom_keys with longest/alphabetical matching,
 * bias/norm/dwconv multipliers, top-level names); frozen parameters; zero_grad and
 * skipping; group options; state dict round trips (in memory and through safetensors)
 * that continue bit-identically; clip_grad_norm_ against PyTorch for norms 2, 1, 3 and
 * inf; and every error path with its domain and code. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static JsonNode *
parse_json (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = mact_config_load_data (json, -1, &error);
  if (node == NULL)
    fail_msg ("bad test JSON %s: %s", json, error->message);
  return node;
}

static MactOptimizer *
build_ok (MactModule *model, const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = parse_json (json);
  MactOptimizer *opt = mact_optimizer_new_from_config (model, cfg, &error);
  if (opt == NULL)
    fail_msg ("optimizer %s: %s", json, error->message);
  return opt;
}

static void
assert_build_error (MactModule *model, const char *json, gint code, const char *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = parse_json (json);
  g_autoptr(MactOptimizer) opt = mact_optimizer_new_from_config (model, cfg, &error);
  assert_null (opt);
  if (error == NULL)
    fail_msg ("%s: no error", json);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    fail_msg ("%s: message '%s' does not name '%s'", json, error->message, needle);
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, code);
}

static void
step_ok (MactOptimizer *opt)
{
  g_autoptr(GError) error = NULL;
  if (!mact_optimizer_step (opt, &error))
    fail_msg ("step: %s", error->message);
}

static MactTensor *
copy_tensor (MactTensor *t)
{
  MactTensor *c = mact_tensor_new_empty (mact_tensor_get_ndim (t),
                                         mact_tensor_get_shape (t, NULL), NULL);
  mact_tensor_copy_to_array (t, mact_tensor_get_data (c));
  return c;
}

static gboolean
bit_equal (MactTensor *a, MactTensor *b)
{
  gint64 n = mact_tensor_get_numel (a);
  if (n != mact_tensor_get_numel (b))
    return FALSE;
  g_autofree float *x = g_new (float, MAX (n, 1));
  g_autofree float *y = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (a, x);
  mact_tensor_copy_to_array (b, y);
  return memcmp (x, y, sizeof (float) * (gsize) n) == 0;
}

/* Element-wise: |got - want| <= rtol * |want| + atol. */
static void
assert_rel_close (MactTensor *got, MactTensor *want, double rtol, double atol,
                  const char *what)
{
  gint64 n = mact_tensor_get_numel (want);
  assert_int_equal (mact_tensor_get_numel (got), n);
  g_autofree float *x = g_new (float, MAX (n, 1));
  g_autofree float *y = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (got, x);
  mact_tensor_copy_to_array (want, y);
  for (gint64 i = 0; i < n; i++)
    if (!(fabs ((double) x[i] - y[i]) <= rtol * fabs ((double) y[i]) + atol))
      fail_msg ("%s[%" G_GINT64_FORMAT "]: got %.9g, expected %.9g (rel %.3g)", what, i,
                x[i], y[i], fabs ((double) x[i] - y[i]) / MAX (fabs ((double) y[i]), 1e-30));
}

/* A module holding the given tensors as top-level trainable parameters p0, p1, ... */
static MactModule *
param_holder (MactTensor **tensors, guint n)
{
  MactModule *holder = mact_sequential_new ();
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("p%u", i);
      g_autoptr(MactTensor) p = copy_tensor (tensors[i]);
      mact_module_register_parameter (holder, name, p);
    }
  return holder;
}

static MactTensor *
param (MactModule *model, const char *name)
{
  g_autoptr(MactTensorDict) named = mact_module_named_parameters (model);
  MactTensor *p = mact_tensor_dict_lookup (named, name);
  if (p == NULL)
    fail_msg ("no parameter %s", name);
  return p;   /* the module keeps it alive */
}

static void
set_random_grads (MactModule *model, guint64 seed)
{
  g_autoptr(MactTensorDict) named = mact_module_named_parameters (model);
  for (guint i = 0; i < mact_tensor_dict_get_size (named); i++)
    {
      MactTensor *p = mact_tensor_dict_get_value (named, i);
      gint nd = 0;
      const gint64 *shape = mact_tensor_get_shape (p, &nd);
      g_autoptr(MactTensor) g = mact_test_random (nd, shape, seed + i, -1.0, 1.0);
      mact_tensor_set_grad (p, g);
    }
}

/* ------------------------------------------------------------------ a layer named *Norm */

#define TEST_TYPE_LAYER_NORM (test_layer_norm_get_type ())
G_DECLARE_FINAL_TYPE (TestLayerNorm, test_layer_norm, TEST, LAYER_NORM, MactModule)

struct _TestLayerNorm
{
  MactModule parent_instance;
};

G_DEFINE_FINAL_TYPE (TestLayerNorm, test_layer_norm, MACT_TYPE_MODULE)

static void
test_layer_norm_class_init (TestLayerNormClass *klass)
{
}

static void
test_layer_norm_init (TestLayerNorm *self)
{
}

/* The paramwise test model (named_parameters order):
 *   scale                                 [2]   top-level
 *   backbone.0  Conv2d 3->4 k3            weight, bias
 *   backbone.1  BatchNorm2d 4             weight, bias
 *   backbone.2  Conv2d 4->4 k3 groups 4   weight, bias (depthwise)
 *   neck.0      Conv2d 4->4 k1            weight, bias
 *   neck.1      TestLayerNorm             weight, bias
 *   cls_head    Linear 4->3               weight, bias */
static MactModule *
small_model (void)
{
  g_autoptr(GError) error = NULL;
  const gint k3[2] = { 3, 3 }, k1[2] = { 1, 1 }, one[2] = { 1, 1 }, pad[2] = { 1, 1 },
             zero[2] = { 0, 0 };
  MactModule *model = mact_sequential_new ();
  g_autoptr(MactTensor) scale = mact_test_random (1, (gint64[]) { 2 }, 7, 0.5, 1.5);
  mact_module_register_parameter (model, "scale", scale);

  g_autoptr(MactModule) backbone = mact_sequential_new ();
  g_autoptr(MactModule) c0 = mact_conv_new (2, 3, 4, k3, one, pad, one, 1, TRUE, &error);
  assert_non_null (c0);
  g_autoptr(MactModule) bn = mact_batch_norm_new (2, 4, 1e-5, 0.1, TRUE, &error);
  assert_non_null (bn);
  g_autoptr(MactModule) dw = mact_conv_new (2, 4, 4, k3, one, pad, one, 4, TRUE, &error);
  assert_non_null (dw);
  mact_sequential_append (MACT_SEQUENTIAL (backbone), c0);
  mact_sequential_append (MACT_SEQUENTIAL (backbone), bn);
  mact_sequential_append (MACT_SEQUENTIAL (backbone), dw);

  g_autoptr(MactModule) neck = mact_sequential_new ();
  g_autoptr(MactModule) c1 = mact_conv_new (2, 4, 4, k1, one, zero, one, 1, TRUE, &error);
  assert_non_null (c1);
  g_autoptr(MactModule) ln = mact_module_new (TEST_TYPE_LAYER_NORM, &error, NULL);
  assert_non_null (ln);
  g_autoptr(MactTensor) lw = mact_tensor_new_full (1, (gint64[]) { 4 }, 1.0f, NULL);
  g_autoptr(MactTensor) lb = mact_tensor_new_full (1, (gint64[]) { 4 }, 0.1f, NULL);
  mact_module_register_parameter (ln, "weight", lw);
  mact_module_register_parameter (ln, "bias", lb);
  mact_sequential_append (MACT_SEQUENTIAL (neck), c1);
  mact_sequential_append (MACT_SEQUENTIAL (neck), ln);

  g_autoptr(MactModule) head = mact_linear_new (4, 3, TRUE, &error);
  assert_non_null (head);

  mact_module_add_child (model, "backbone", backbone);
  mact_module_add_child (model, "neck", neck);
  mact_module_add_child (model, "cls_head", head);
  return model;
}

typedef struct {
  const char *name;
  double      lr;
  double      wd;
} Expected;

/* Checks each listed parameter's group lr / weight_decay, and that the groups hold
 * exactly the trainable parameters, each once, in named_parameters order per group. */
static void
assert_groups (MactOptimizer *opt, const Expected *expected, guint n_expected,
               guint n_groups)
{
  assert_int_equal (mact_optimizer_get_n_groups (opt), n_groups);
  guint seen = 0;
  for (guint e = 0; e < n_expected; e++)
    {
      gboolean found = FALSE;
      for (guint g = 0; g < n_groups && !found; g++)
        {
          const char *const *names = mact_optimizer_get_group_param_names (opt, g);
          for (guint i = 0; names[i] != NULL; i++)
            if (g_str_equal (names[i], expected[e].name))
              {
                found = TRUE;
                double lr = mact_optimizer_get_group_option (opt, g, "lr");
                double wd = mact_optimizer_get_group_option (opt, g, "weight_decay");
                if (fabs (lr - expected[e].lr) > 1e-15 || fabs (wd - expected[e].wd) > 1e-15)
                  fail_msg ("%s: lr %g wd %g, expected lr %g wd %g", expected[e].name, lr,
                            wd, expected[e].lr, expected[e].wd);
                assert_true (mact_optimizer_get_group_option (opt, g, "initial_lr") == lr);
              }
        }
      if (!found)
        fail_msg ("%s is in no group", expected[e].name);
    }
  for (guint g = 0; g < n_groups; g++)
    {
      g_autoptr(GPtrArray) params = mact_optimizer_get_group_params (opt, g);
      const char *const *names = mact_optimizer_get_group_param_names (opt, g);
      assert_int_equal (g_strv_length ((gchar **) names), params->len);
      assert_true (params->len > 0);
      seen += params->len;
    }
  assert_int_equal (seen, n_expected);
  g_autoptr(GPtrArray) all = mact_optimizer_get_params (opt);
  assert_int_equal (all->len, n_expected);
}

/* ------------------------------------------------------------------ PyTorch fixtures */

static void
run_fixture (const char *name)
{
  g_autofree char *path = g_strconcat ("optim/", name, NULL);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (path);
  const gint64 n_params = mact_test_fixture_meta_int (fx, "n_params");
  const gint64 n_steps = mact_test_fixture_meta_int (fx, "n_steps");
  MactTensor *init[8];
  assert_true (n_params <= 8);
  for (gint64 i = 0; i < n_params; i++)
    {
      g_autofree char *key = g_strdup_printf ("p%" G_GINT64_FORMAT, i);
      init[i] = mact_test_fixture_get (fx, key);
    }
  g_autoptr(MactModule) model = param_holder (init, (guint) n_params);
  g_autoptr(MactOptimizer) opt = build_ok (model, mact_test_fixture_meta (fx, "config"));

  for (gint64 k = 0; k < n_steps; k++)
    {
      for (gint64 i = 0; i < n_params; i++)
        {
          g_autofree char *pname = g_strdup_printf ("p%" G_GINT64_FORMAT, i);
          g_autofree char *gkey = g_strdup_printf ("g%" G_GINT64_FORMAT "_%" G_GINT64_FORMAT,
                                                   k, i);
          MactTensor *p = param (model, pname);
          if (mact_test_fixture_has (fx, gkey))
            {
              g_autoptr(MactTensor) g = copy_tensor (mact_test_fixture_get (fx, gkey));
              mact_tensor_set_grad (p, g);
            }
          else
            {
              mact_tensor_set_grad (p, NULL);
            }
        }
      step_ok (opt);
      for (gint64 i = 0; i < n_params; i++)
        {
          g_autofree char *pname = g_strdup_printf ("p%" G_GINT64_FORMAT, i);
          g_autofree char *key = g_strdup_printf ("p%" G_GINT64_FORMAT "_after%" G_GINT64_FORMAT,
                                                  i, k);
          g_autofree char *what = g_strdup_printf ("%s %s", name, key);
          /* 1e-6 relative, with an absolute floor of a few float ulps of the update for
           * elements that pass through zero. */
          assert_rel_close (param (model, pname), mact_test_fixture_get (fx, key), 1e-6, 1e-7,
                            what);
          mact_test_assert_close (param (model, pname), mact_test_fixture_get (fx, key), 1e-6,
                                  what);
        }
    }
}

static void
test_sgd_fixtures (void **state)
{
  static const char *const cases[] = {
    "sgd_plain", "sgd_wd", "sgd_momentum", "sgd_momentum_wd", "sgd_dampening",
    "sgd_nesterov", "sgd_nesterov_nowd", "sgd_groups",
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_fixture (cases[i]);
}

static void
test_adam_fixtures (void **state)
{
  static const char *const cases[] = {
    "adam_default", "adam_wd", "adam_amsgrad", "adam_amsgrad_wd", "adam_groups",
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_fixture (cases[i]);
}

static void
test_adamw_fixtures (void **state)
{
  static const char *const cases[] = {
    "adamw_default", "adamw_wd", "adamw_amsgrad", "adamw_nodecay",
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_fixture (cases[i]);
}

/* The groups of the fixture configs: custom keys on top-level names. */
static void
test_fixture_groups (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("optim/sgd_groups");
  MactTensor *init[3] = {
    mact_test_fixture_get (fx, "p0"), mact_test_fixture_get (fx, "p1"),
    mact_test_fixture_get (fx, "p2"),
  };
  g_autoptr(MactModule) model = param_holder (init, 3);
  g_autoptr(MactOptimizer) opt = build_ok (model, mact_test_fixture_meta (fx, "config"));
  const Expected expected[] = {
    { "p0", 0.05, 0.0 }, { "p1", 0.1, 0.01 }, { "p2", 0.2, 0.01 },
  };
  assert_groups (opt, expected, G_N_ELEMENTS (expected), 3);
  assert_true (MACT_IS_SGD (opt));
  assert_true (mact_optimizer_get_group_option (opt, 0, "momentum") == 0.9);
}

/* ------------------------------------------------------------------ config */

static void
test_config_values (void **state)
{
  MactTensor *init[1];
  g_autoptr(MactTensor) t = mact_test_random (1, (gint64[]) { 3 }, 1, -1, 1);
  init[0] = t;
  g_autoptr(MactModule) model = param_holder (init, 1);

  g_autoptr(MactOptimizer) sgd = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.02, \"momentum\": 0.9, \"dampening\": 0, "
    "\"weight_decay\": 1e-4, \"nesterov\": true, \"constructor\": "
    "\"DefaultOptimizerConstructor\"}");
  assert_true (MACT_IS_SGD (sgd));
  assert_int_equal (mact_optimizer_get_n_groups (sgd), 1);
  assert_true (mact_optimizer_get_group_option (sgd, 0, "lr") == 0.02);
  assert_true (mact_optimizer_get_group_option (sgd, 0, "initial_lr") == 0.02);
  assert_true (mact_optimizer_get_group_option (sgd, 0, "momentum") == 0.9);
  assert_true (mact_optimizer_get_group_option (sgd, 0, "dampening") == 0.0);
  assert_true (mact_optimizer_get_group_option (sgd, 0, "weight_decay") == 1e-4);
  assert_true (mact_optimizer_get_group_option (sgd, 0, "nesterov") == 1.0);
  assert_true (isnan (mact_optimizer_get_group_option (sgd, 0, "beta1")));
  assert_true (mact_optimizer_get_lr (sgd) == 0.02);

  /* integer lr, torch defaults */
  g_autoptr(MactOptimizer) plain = build_ok (model, "{\"type\": \"SGD\", \"lr\": 1}");
  assert_true (mact_optimizer_get_group_option (plain, 0, "lr") == 1.0);
  assert_true (mact_optimizer_get_group_option (plain, 0, "momentum") == 0.0);
  assert_true (mact_optimizer_get_group_option (plain, 0, "weight_decay") == 0.0);
  assert_true (mact_optimizer_get_group_option (plain, 0, "nesterov") == 0.0);

  g_autoptr(MactOptimizer) adam = build_ok (model, "{\"type\": \"Adam\"}");
  assert_true (MACT_IS_ADAM (adam) && !MACT_IS_ADAMW (adam));
  assert_true (mact_optimizer_get_group_option (adam, 0, "lr") == 1e-3);
  assert_true (mact_optimizer_get_group_option (adam, 0, "beta1") == 0.9);
  assert_true (mact_optimizer_get_group_option (adam, 0, "beta2") == 0.999);
  assert_true (mact_optimizer_get_group_option (adam, 0, "eps") == 1e-8);
  assert_true (mact_optimizer_get_group_option (adam, 0, "weight_decay") == 0.0);
  assert_true (mact_optimizer_get_group_option (adam, 0, "amsgrad") == 0.0);

  g_autoptr(MactOptimizer) adamw = build_ok (model,
    "{\"type\": \"AdamW\", \"lr\": 5e-4, \"betas\": [0.8, 0.95], \"eps\": 1e-6, "
    "\"amsgrad\": true}");
  assert_true (MACT_IS_ADAMW (adamw) && MACT_IS_ADAM (adamw));
  assert_true (mact_optimizer_get_group_option (adamw, 0, "weight_decay") == 1e-2);
  assert_true (mact_optimizer_get_group_option (adamw, 0, "beta1") == 0.8);
  assert_true (mact_optimizer_get_group_option (adamw, 0, "beta2") == 0.95);
  assert_true (mact_optimizer_get_group_option (adamw, 0, "eps") == 1e-6);
  assert_true (mact_optimizer_get_group_option (adamw, 0, "amsgrad") == 1.0);

  /* the caller's JSON is not modified */
  const char *json = "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": "
                     "{\"custom_keys\": {\"p0\": {\"lr_mult\": 2}}}}";
  g_autoptr(JsonNode) cfg = parse_json (json);
  g_autofree char *before = json_to_string (cfg, FALSE);
  g_autoptr(MactOptimizer) again = mact_optimizer_new_from_config (model, cfg, NULL);
  assert_non_null (again);
  g_autofree char *after = json_to_string (cfg, FALSE);
  assert_string_equal (before, after);
}

static void
test_config_errors (void **state)
{
  g_autoptr(MactModule) model = small_model ();
  const gint C = MACT_TRAIN_ERROR_INVALID_CONFIG;
  static const struct { const char *json; const char *needle; } cases[] = {
    { "[1, 2]", "optimizer" },
    { "{\"lr\": 0.1}", "type" },
    { "{\"type\": 3, \"lr\": 0.1}", "type" },
    { "{\"type\": \"RMSprop\", \"lr\": 0.1}", "RMSprop" },
    { "{\"type\": \"SGD\"}", "lr" },
    { "{\"type\": \"SGD\", \"lr\": \"0.1\"}", "lr" },
    { "{\"type\": \"SGD\", \"lr\": -0.1}", "lr" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"momentum\": -0.9}", "momentum" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"momentum\": true}", "momentum" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"weight_decay\": -1}", "weight_decay" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"nesterov\": 1}", "nesterov" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"nesterov\": true}", "nesterov" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"momentum\": 0.9, \"dampening\": 0.1, "
      "\"nesterov\": true}", "nesterov" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"dampening\": null}", "dampening" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"betas\": [0.9, 0.99]}", "betas" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"foo\": 1}", "foo" },
    { "{\"type\": \"Adam\", \"momentum\": 0.9}", "momentum" },
    { "{\"type\": \"Adam\", \"betas\": [0.9]}", "betas" },
    { "{\"type\": \"Adam\", \"betas\": 0.9}", "betas" },
    { "{\"type\": \"Adam\", \"betas\": [0.9, \"x\"]}", "betas" },
    { "{\"type\": \"Adam\", \"betas\": [1.0, 0.999]}", "betas" },
    { "{\"type\": \"Adam\", \"betas\": [0.9, -0.1]}", "betas" },
    { "{\"type\": \"Adam\", \"eps\": -1e-8}", "eps" },
    { "{\"type\": \"AdamW\", \"amsgrad\": \"yes\"}", "amsgrad" },
    { "{\"type\": \"AdamW\", \"weight_decay\": -0.01}", "weight_decay" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"constructor\": \"TSMOptimizerConstructor\"}",
      "constructor" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"constructor\": 1}", "constructor" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": [1]}", "paramwise_cfg" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"fc_lr5\": true}}", "fc_lr5" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"weight_decay\": 1e-4, \"paramwise_cfg\": "
      "{\"bias_lr_mult\": -2}}", "bias_lr_mult" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"weight_decay\": 1e-4, \"paramwise_cfg\": "
      "{\"norm_decay_mult\": \"0\"}}", "norm_decay_mult" },
    /* mmcv: a decay multiplier needs an explicit weight_decay */
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"norm_decay_mult\": 0}}",
      "norm_decay_mult" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"bias_decay_mult\": 0}}",
      "bias_decay_mult" },
    { "{\"type\": \"AdamW\", \"paramwise_cfg\": {\"dwconv_decay_mult\": 0}}",
      "dwconv_decay_mult" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"custom_keys\": "
      "{\"backbone\": {\"decay_mult\": 0}}}}", "decay_mult" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"custom_keys\": [1]}}",
      "custom_keys" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"custom_keys\": "
      "{\"backbone\": 0.1}}}", "backbone" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"custom_keys\": "
      "{\"backbone\": {\"lr\": 0.1}}}}", "lr" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"custom_keys\": "
      "{\"backbone\": {\"lr_mult\": -1}}}}", "lr_mult" },
    { "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"bypass_duplicate\": 1}}",
      "bypass_duplicate" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_build_error (model, cases[i].json, C, cases[i].needle);

  /* a model whose parameters are all frozen */
  g_autoptr(MactTensor) t = mact_test_random (1, (gint64[]) { 3 }, 1, -1, 1);
  MactTensor *init[1] = { t };
  g_autoptr(MactModule) frozen = param_holder (init, 1);
  assert_true (mact_tensor_set_requires_grad (param (frozen, "p0"), FALSE, NULL));
  assert_build_error (frozen, "{\"type\": \"SGD\", \"lr\": 0.1}", C, "requires grad");

  /* bypass_duplicate is accepted (a no-op) */
  g_autoptr(MactOptimizer) ok = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"bypass_duplicate\": true}}");
  assert_int_equal (mact_optimizer_get_n_groups (ok), 1);
}

/* ------------------------------------------------------------------ paramwise_cfg */

/* One plain SGD step with the groups' lr and weight decay, checked per parameter. */
static void
assert_step_uses_groups (MactModule *model, MactOptimizer *opt)
{
  set_random_grads (model, 900);
  g_autoptr(MactTensorDict) named = mact_module_named_parameters (model);
  const guint n = mact_tensor_dict_get_size (named);
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (before, copy_tensor (mact_tensor_dict_get_value (named, i)));
  step_ok (opt);
  for (guint g = 0; g < mact_optimizer_get_n_groups (opt); g++)
    {
      const float lr = (float) mact_optimizer_get_group_option (opt, g, "lr");
      const float wd = (float) mact_optimizer_get_group_option (opt, g, "weight_decay");
      const char *const *names = mact_optimizer_get_group_param_names (opt, g);
      for (guint j = 0; names[j] != NULL; j++)
        {
          guint idx = 0;
          while (!g_str_equal (mact_tensor_dict_get_key (named, idx), names[j]))
            idx++;
          MactTensor *p = mact_tensor_dict_get_value (named, idx);
          MactTensor *p0 = g_ptr_array_index (before, idx);
          MactTensor *grad = mact_tensor_get_grad (p);
          g_autoptr(MactTensor) want = copy_tensor (p0);
          float *w = mact_tensor_get_data (want);
          const float *gr = mact_tensor_get_data (grad);
          for (gint64 e = 0; e < mact_tensor_get_numel (want); e++)
            w[e] = w[e] - lr * (gr[e] + wd * w[e]);
          mact_test_assert_close (p, want, 1e-6, names[j]);
        }
    }
}

/* custom_keys {'backbone': {lr_mult: 0.1}} with no decay on norms and biases elsewhere */
static void
test_paramwise_backbone_lr_mult (void **state)
{
  g_autoptr(MactModule) model = small_model ();
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"weight_decay\": 1e-4, \"paramwise_cfg\": "
    "{\"custom_keys\": {\"backbone\": {\"lr_mult\": 0.1}}, \"norm_decay_mult\": 0.0, "
    "\"bias_decay_mult\": 0.0}}");
  /* a custom key overrides every other rule: backbone norms and biases keep the decay */
  const Expected expected[] = {
    { "scale", 0.1, 1e-4 },
    { "backbone.0.weight", 0.1 * 0.1, 1e-4 }, { "backbone.0.bias", 0.1 * 0.1, 1e-4 },
    { "backbone.1.weight", 0.1 * 0.1, 1e-4 }, { "backbone.1.bias", 0.1 * 0.1, 1e-4 },
    { "backbone.2.weight", 0.1 * 0.1, 1e-4 }, { "backbone.2.bias", 0.1 * 0.1, 1e-4 },
    { "neck.0.weight", 0.1, 1e-4 }, { "neck.0.bias", 0.1, 0.0 },
    { "neck.1.weight", 0.1, 0.0 }, { "neck.1.bias", 0.1, 0.0 },
    { "cls_head.weight", 0.1, 1e-4 }, { "cls_head.bias", 0.1, 0.0 },
  };
  assert_groups (opt, expected, G_N_ELEMENTS (expected), 3);
  /* groups in order of first appearance, parameters in named order */
  const char *const *g0 = mact_optimizer_get_group_param_names (opt, 0);
  assert_string_equal (g0[0], "scale");
  assert_string_equal (g0[1], "neck.0.weight");
  assert_string_equal (g0[2], "cls_head.weight");
  assert_null (g0[3]);
  const char *const *g1 = mact_optimizer_get_group_param_names (opt, 1);
  assert_string_equal (g1[0], "backbone.0.weight");
  assert_string_equal (g1[5], "backbone.2.bias");
  assert_step_uses_groups (model, opt);
}

/* norm / bias / dwconv rules without custom keys */
static void
test_paramwise_norm_bias_dwconv (void **state)
{
  g_autoptr(MactModule) model = small_model ();
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"weight_decay\": 1e-4, \"paramwise_cfg\": "
    "{\"norm_decay_mult\": 0, \"bias_decay_mult\": 0, \"dwconv_decay_mult\": 0.5, "
    "\"bias_lr_mult\": 2}}");
  const Expected expected[] = {
    { "scale", 0.1, 1e-4 },
    { "backbone.0.weight", 0.1, 1e-4 }, { "backbone.0.bias", 0.2, 0.0 },
    /* norm: no decay, and bias_lr_mult does not apply */
    { "backbone.1.weight", 0.1, 0.0 }, { "backbone.1.bias", 0.1, 0.0 },
    /* depthwise conv: dwconv_decay_mult wins over bias_decay_mult */
    { "backbone.2.weight", 0.1, 0.5e-4 }, { "backbone.2.bias", 0.2, 0.5e-4 },
    { "neck.0.weight", 0.1, 1e-4 }, { "neck.0.bias", 0.2, 0.0 },
    /* any type whose name has "Norm" */
    { "neck.1.weight", 0.1, 0.0 }, { "neck.1.bias", 0.1, 0.0 },
    { "cls_head.weight", 0.1, 1e-4 }, { "cls_head.bias", 0.2, 0.0 },
  };
  assert_groups (opt, expected, G_N_ELEMENTS (expected), 5);
  assert_step_uses_groups (model, opt);

  /* without weight_decay in the config the decay policy is skipped (torch default 0) */
  g_autoptr(MactOptimizer) nodecay = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"paramwise_cfg\": {\"bias_lr_mult\": 2}}");
  const Expected expected2[] = {
    { "scale", 0.1, 0 }, { "backbone.0.weight", 0.1, 0 }, { "backbone.0.bias", 0.2, 0 },
    { "backbone.1.weight", 0.1, 0 }, { "backbone.1.bias", 0.1, 0 },
    { "backbone.2.weight", 0.1, 0 }, { "backbone.2.bias", 0.2, 0 },
    { "neck.0.weight", 0.1, 0 }, { "neck.0.bias", 0.2, 0 },
    { "neck.1.weight", 0.1, 0 }, { "neck.1.bias", 0.1, 0 },
    { "cls_head.weight", 0.1, 0 }, { "cls_head.bias", 0.2, 0 },
  };
  assert_groups (nodecay, expected2, G_N_ELEMENTS (expected2), 2);

  /* a single-channel conv with groups == in_channels == 1 is not depthwise */
  g_autoptr(GError) error = NULL;
  const gint k1[2] = { 1, 1 }, one[2] = { 1, 1 }, zero[2] = { 0, 0 };
  g_autoptr(MactModule) single = mact_conv_new (2, 1, 2, k1, one, zero, one, 1, FALSE,
                                                &error);
  assert_non_null (single);
  g_autoptr(MactOptimizer) sopt = build_ok (single,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"weight_decay\": 1e-4, \"paramwise_cfg\": "
    "{\"dwconv_decay_mult\": 0}}");
  const Expected expected3[] = { { "weight", 0.1, 1e-4 } };
  assert_groups (sopt, expected3, 1, 1);
}

/* the longest matching key wins, ties alphabetically; top-level names read ".name" */
static void
test_paramwise_custom_key_order (void **state)
{
  g_autoptr(MactModule) model = small_model ();
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"Adam\", \"lr\": 0.1, \"weight_decay\": 1e-4, \"paramwise_cfg\": "
    "{\"custom_keys\": {\"head\": {\"lr_mult\": 3}, \"bias\": {\"lr_mult\": 5, "
    "\"decay_mult\": 0}, \".scale\": {\"lr_mult\": 7}, \"backbone\": {\"lr_mult\": 0.1}, "
    "\"backbone.0\": {\"lr_mult\": 0.2}}, \"norm_decay_mult\": 0}}");
  const Expected expected[] = {
    { "scale", 0.1 * 7, 1e-4 },
    { "backbone.0.weight", 0.1 * 0.2, 1e-4 }, { "backbone.0.bias", 0.1 * 0.2, 1e-4 },
    { "backbone.1.weight", 0.1 * 0.1, 1e-4 }, { "backbone.1.bias", 0.1 * 0.1, 1e-4 },
    { "backbone.2.weight", 0.1 * 0.1, 1e-4 }, { "backbone.2.bias", 0.1 * 0.1, 1e-4 },
    { "neck.0.weight", 0.1, 1e-4 }, { "neck.0.bias", 0.1 * 5, 0.0 },
    { "neck.1.weight", 0.1, 0.0 }, { "neck.1.bias", 0.1 * 5, 0.0 },
    { "cls_head.weight", 0.1 * 3, 1e-4 }, { "cls_head.bias", 0.1 * 5, 0.0 },
  };
  assert_groups (opt, expected, G_N_ELEMENTS (expected), 7);
  assert_true (MACT_IS_ADAM (opt));
}

/* ------------------------------------------------------------------ frozen, zero_grad */

static void
test_frozen_parameters_unchanged (void **state)
{
  static const char *const configs[] = {
    "{\"type\": \"SGD\", \"lr\": 0.5, \"momentum\": 0.9, \"weight_decay\": 0.1}",
    "{\"type\": \"AdamW\", \"lr\": 0.5, \"weight_decay\": 0.5}",
    "{\"type\": \"Adam\", \"lr\": 0.5, \"weight_decay\": 0.5}",
  };
  static const char *const frozen_names[] = {
    "backbone.0.weight", "backbone.0.bias", "backbone.1.weight", "backbone.1.bias",
  };
  for (guint c = 0; c < G_N_ELEMENTS (configs); c++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MactModule) model = small_model ();
      MactTensor *frozen[G_N_ELEMENTS (frozen_names)];
      MactTensor *saved[G_N_ELEMENTS (frozen_names)];
      for (guint i = 0; i < G_N_ELEMENTS (frozen_names); i++)
        {
          frozen[i] = param (model, frozen_names[i]);
          assert_true (mact_tensor_set_requires_grad (frozen[i], FALSE, NULL));
          saved[i] = copy_tensor (frozen[i]);
        }
      MactTensor *trained = param (model, "backbone.2.weight");
      g_autoptr(MactTensor) trained0 = copy_tensor (trained);

      g_autoptr(MactOptimizer) opt = build_ok (model, configs[c]);
      g_autoptr(GPtrArray) params = mact_optimizer_get_params (opt);
      assert_int_equal (params->len, 13 - G_N_ELEMENTS (frozen_names));
      for (guint g = 0; g < mact_optimizer_get_n_groups (opt); g++)
        for (const char *const *n = mact_optimizer_get_group_param_names (opt, g); *n; n++)
          for (guint i = 0; i < G_N_ELEMENTS (frozen_names); i++)
            assert_false (g_str_equal (*n, frozen_names[i]));

      MactModule *backbone = mact_module_get_child (model, "backbone");
      for (guint s = 0; s < 3; s++)
        {
          mact_optimizer_zero_grad (opt);
          g_autoptr(MactTensor) x = mact_test_random (4, (gint64[]) { 2, 3, 4, 4 }, 50 + s,
                                                      -1, 1);
          g_autoptr(MactTensor) y = mact_module_forward1 (backbone, x, &error);
          assert_non_null (y);
          g_autoptr(MactTensor) y2 = mact_mul (y, y, &error);
          g_autoptr(MactTensor) loss = mact_sum_all (y2);
          assert_true (mact_tensor_backward (loss, NULL, &error));
          /* (frozen[0] keeps the gradient set by hand below: the optimizer's zero_grad
           * only clears its own parameters, as PyTorch's does) */
          for (guint i = s == 0 ? 0 : 1; i < G_N_ELEMENTS (frozen_names); i++)
            assert_null (mact_tensor_get_grad (frozen[i]));
          /* even a gradient set by hand does not move a frozen parameter */
          g_autoptr(MactTensor) fake = mact_tensor_new_full (
            mact_tensor_get_ndim (frozen[0]), mact_tensor_get_shape (frozen[0], NULL), 1.0f,
            NULL);
          mact_tensor_set_grad (frozen[0], fake);
          assert_non_null (mact_tensor_get_grad (trained));
          step_ok (opt);
        }
      for (guint i = 0; i < G_N_ELEMENTS (frozen_names); i++)
        {
          if (!bit_equal (frozen[i], saved[i]))
            fail_msg ("%s: frozen %s changed", configs[c], frozen_names[i]);
          mact_tensor_unref (saved[i]);
        }
      assert_false (bit_equal (trained, trained0));
    }
}

static void
test_zero_grad_and_skip (void **state)
{
  g_autoptr(MactTensor) a = mact_test_random (2, (gint64[]) { 2, 3 }, 1, -1, 1);
  g_autoptr(MactTensor) b = mact_test_random (1, (gint64[]) { 4 }, 2, -1, 1);
  MactTensor *init[2] = { a, b };
  g_autoptr(MactModule) model = param_holder (init, 2);
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"momentum\": 0.9, \"weight_decay\": 0.1}");
  MactTensor *p0 = param (model, "p0"), *p1 = param (model, "p1");

  set_random_grads (model, 3);
  assert_non_null (mact_tensor_get_grad (p0));
  mact_optimizer_zero_grad (opt);
  assert_null (mact_tensor_get_grad (p0));
  assert_null (mact_tensor_get_grad (p1));

  /* no gradient at all: nothing moves, no state is created (weight decay included) */
  step_ok (opt);
  assert_true (bit_equal (p0, a));
  assert_true (bit_equal (p1, b));
  assert_int_equal (mact_optimizer_get_step_count (opt, "p0"), 0);
  g_autoptr(MactTensorDict) empty = mact_optimizer_state_dict (opt);
  for (guint i = 0; i < mact_tensor_dict_get_size (empty); i++)
    assert_false (g_str_has_prefix (mact_tensor_dict_get_key (empty, i), "state."));

  /* only p1 has a gradient */
  g_autoptr(MactTensor) g1 = mact_tensor_new_full (1, (gint64[]) { 4 }, 1.0f, NULL);
  mact_tensor_set_grad (p1, g1);
  step_ok (opt);
  assert_true (bit_equal (p0, a));
  assert_false (bit_equal (p1, b));
  assert_int_equal (mact_optimizer_get_step_count (opt, "p0"), 0);
  assert_int_equal (mact_optimizer_get_step_count (opt, "p1"), 1);
  g_autoptr(MactTensorDict) sd = mact_optimizer_state_dict (opt);
  assert_true (mact_tensor_dict_contains (sd, "state.p1.momentum_buffer"));
  assert_true (mact_tensor_dict_contains (sd, "state.p1.step"));
  assert_false (mact_tensor_dict_contains (sd, "state.p0.step"));
  /* the first momentum buffer is the decayed gradient itself */
  g_autoptr(MactTensor) want = copy_tensor (b);
  float *w = mact_tensor_get_data (want);
  for (guint i = 0; i < 4; i++)
    w[i] = 1.0f + 0.1f * w[i];
  mact_test_assert_close (mact_tensor_dict_lookup (sd, "state.p1.momentum_buffer"), want,
                          1e-7, "first momentum buffer");

  /* a non-contiguous gradient is used by value */
  g_autoptr(MactTensor) gt = mact_test_random (2, (gint64[]) { 3, 2 }, 9, -1, 1);
  g_autoptr(MactTensor) gv = mact_tensor_transpose (gt, 0, 1, NULL);
  assert_false (mact_tensor_is_contiguous (gv));
  mact_optimizer_zero_grad (opt);
  mact_tensor_set_grad (p0, gv);
  g_autoptr(MactTensor) p0_before = copy_tensor (p0);
  step_ok (opt);
  g_autoptr(MactTensor) gc = mact_tensor_contiguous (gv);
  g_autoptr(MactTensor) want0 = copy_tensor (p0_before);
  float *w0 = mact_tensor_get_data (want0);
  const float *gg = mact_tensor_get_data (gc);
  for (guint i = 0; i < 6; i++)
    w0[i] = w0[i] + (-0.1f) * (gg[i] + 0.1f * w0[i]);
  mact_test_assert_close (p0, want0, 1e-7, "non-contiguous gradient");
}

/* ------------------------------------------------------------------ group options */

static void
test_group_options (void **state)
{
  g_autoptr(MactModule) model = small_model ();
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"momentum\": 0.9, \"weight_decay\": 1e-4, "
    "\"paramwise_cfg\": {\"custom_keys\": {\"backbone\": {\"lr_mult\": 0.1}}}}");
  assert_int_equal (mact_optimizer_get_n_groups (opt), 2);
  mact_optimizer_set_group_option (opt, 1, "lr", 0.0025);
  assert_true (mact_optimizer_get_group_option (opt, 1, "lr") == 0.0025);
  assert_true (mact_optimizer_get_group_option (opt, 1, "initial_lr") == 0.1 * 0.1);
  assert_true (mact_optimizer_get_group_option (opt, 0, "lr") == 0.1);
  mact_optimizer_set_group_option (opt, 0, "lr", 0.05);
  assert_true (mact_optimizer_get_lr (opt) == 0.05);
  assert_true (mact_optimizer_get_group_option (opt, 0, "initial_lr") == 0.1);
  /* a new option (e.g. a momentum schedule's) */
  assert_true (isnan (mact_optimizer_get_group_option (opt, 0, "initial_momentum")));
  mact_optimizer_set_group_option (opt, 0, "initial_momentum", 0.9);
  assert_true (mact_optimizer_get_group_option (opt, 0, "initial_momentum") == 0.9);
  g_autoptr(MactTensorDict) sd = mact_optimizer_state_dict (opt);
  assert_true (mact_tensor_dict_contains (sd, "param_groups.0.initial_momentum"));
  assert_float_equal (mact_tensor_item (mact_tensor_dict_lookup (sd, "param_groups.0.lr")),
                      0.05f, 0.0);

  /* the set lr is what the step uses */
  mact_optimizer_set_group_option (opt, 0, "momentum", 0.0);
  mact_optimizer_set_group_option (opt, 1, "momentum", 0.0);
  assert_step_uses_groups (model, opt);
}

/* ------------------------------------------------------------------ state dict */

/* (parenthesised: one string each, split over lines) */
static const char *const roundtrip_configs[] = {
  ("{\"type\": \"SGD\", \"lr\": 0.05, \"momentum\": 0.9, \"nesterov\": true, "
   "\"weight_decay\": 1e-3, \"paramwise_cfg\": {\"custom_keys\": {\"backbone\": "
   "{\"lr_mult\": 0.1}}}}"),
  "{\"type\": \"SGD\", \"lr\": 0.05, \"momentum\": 0.8, \"dampening\": 0.2}",
  "{\"type\": \"Adam\", \"lr\": 0.01, \"weight_decay\": 1e-3, \"amsgrad\": true}",
  ("{\"type\": \"AdamW\", \"lr\": 0.01, \"betas\": [0.85, 0.97], \"paramwise_cfg\": "
   "{\"bias_lr_mult\": 2}}"),
};

static void
run_steps (MactModule *model, MactOptimizer *opt, guint first, guint n)
{
  for (guint s = first; s < first + n; s++)
    {
      set_random_grads (model, 1000 * (s + 1));
      /* the head skips one step: its state must also survive a gap */
      if (s == 1)
        mact_tensor_set_grad (param (model, "cls_head.weight"), NULL);
      /* an lr that a float cannot hold, as a schedule sets it */
      mact_optimizer_set_group_option (opt, 0, "lr",
                                       mact_optimizer_get_group_option (opt, 0, "initial_lr") /
                                       (3.0 + s));
      step_ok (opt);
    }
}

static void
assert_models_bit_equal (MactModule *a, MactModule *b, const char *what)
{
  g_autoptr(MactTensorDict) na = mact_module_named_parameters (a);
  g_autoptr(MactTensorDict) nb = mact_module_named_parameters (b);
  for (guint i = 0; i < mact_tensor_dict_get_size (na); i++)
    if (!bit_equal (mact_tensor_dict_get_value (na, i), mact_tensor_dict_get_value (nb, i)))
      fail_msg ("%s: %s differs", what, mact_tensor_dict_get_key (na, i));
}

static void
test_state_dict_roundtrip (void **state)
{
  for (guint c = 0; c < G_N_ELEMENTS (roundtrip_configs); c++)
    for (guint via_file = 0; via_file < 2; via_file++)
      {
        g_autoptr(GError) error = NULL;
        /* A: uninterrupted for 5 steps; B: a copy of A after 2 steps, resumed from A's
         * state into a fresh optimizer, then the same 3 steps. */
        g_autoptr(MactModule) a = small_model ();
        g_autoptr(MactOptimizer) oa = build_ok (a, roundtrip_configs[c]);
        run_steps (a, oa, 0, 2);

        g_autoptr(MactModule) b = small_model ();
        g_autoptr(MactTensorDict) weights = mact_module_state_dict (a);
        assert_true (mact_module_load_state_dict (b, weights, TRUE, NULL, NULL, &error));
        g_autoptr(MactTensorDict) saved = mact_optimizer_state_dict (oa);
        if (via_file)
          {
            g_autoptr(GBytes) bytes = mact_safetensors_serialize (saved, NULL, &error);
            assert_non_null (bytes);
            g_clear_pointer (&saved, mact_tensor_dict_unref);
            saved = mact_safetensors_load_bytes (bytes, NULL, &error);
            assert_non_null (saved);
          }
        g_autoptr(MactOptimizer) ob = build_ok (b, roundtrip_configs[c]);
        if (!mact_optimizer_load_state_dict (ob, saved, &error))
          fail_msg ("%s: load: %s", roundtrip_configs[c], error->message);
        assert_true (mact_optimizer_get_group_option (ob, 0, "lr") ==
                     mact_optimizer_get_group_option (oa, 0, "lr"));
        assert_int_equal (mact_optimizer_get_step_count (ob, "backbone.0.weight"), 2);
        assert_int_equal (mact_optimizer_get_step_count (ob, "cls_head.weight"), 1);

        /* the snapshot does not follow later steps */
        g_autoptr(MactTensorDict) again = mact_optimizer_state_dict (oa);
        run_steps (a, oa, 2, 3);
        run_steps (b, ob, 2, 3);
        assert_models_bit_equal (a, b, roundtrip_configs[c]);
        g_autoptr(MactTensorDict) after = mact_optimizer_state_dict (oa);
        for (guint i = 0; i < mact_tensor_dict_get_size (again); i++)
          {
            const char *key = mact_tensor_dict_get_key (again, i);
            if (g_str_has_suffix (key, ".step"))
              assert_false (bit_equal (mact_tensor_dict_get_value (again, i),
                                       mact_tensor_dict_lookup (after, key)));
          }
        g_autoptr(MactTensorDict) sb = mact_optimizer_state_dict (ob);
        assert_int_equal (mact_tensor_dict_get_size (sb), mact_tensor_dict_get_size (after));
        for (guint i = 0; i < mact_tensor_dict_get_size (after); i++)
          assert_true (bit_equal (mact_tensor_dict_get_value (after, i),
                                  mact_tensor_dict_lookup (sb, mact_tensor_dict_get_key (after, i))));
      }
}

/* Loading replaces state; state for parameters absent from the dict is dropped; a plain
 * option value that disagrees with its .f64 (edited by hand) wins. */
static void
test_state_dict_replace (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) model = small_model ();
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"momentum\": 0.9}");
  g_autoptr(MactTensorDict) fresh = mact_optimizer_state_dict (opt);
  assert_true (mact_tensor_dict_contains (fresh, "param_groups.0.lr"));
  assert_true (mact_tensor_dict_contains (fresh, "param_groups.0.lr.f64"));
  run_steps (model, opt, 0, 1);
  assert_int_equal (mact_optimizer_get_step_count (opt, "scale"), 1);

  mact_tensor_dict_insert_float (fresh, "param_groups.0.lr", 0.25f);
  mact_tensor_dict_insert_float (fresh, "param_groups.0.momentum", 0.5f);
  mact_tensor_dict_remove (fresh, "param_groups.0.momentum.f64");
  assert_true (mact_optimizer_load_state_dict (opt, fresh, &error));
  assert_int_equal (mact_optimizer_get_step_count (opt, "scale"), 0);
  assert_true (mact_optimizer_get_group_option (opt, 0, "lr") == 0.25);
  assert_true (mact_optimizer_get_group_option (opt, 0, "momentum") == 0.5);
  assert_true (mact_optimizer_get_group_option (opt, 0, "initial_lr") == 0.1);
  g_autoptr(MactTensorDict) sd = mact_optimizer_state_dict (opt);
  assert_false (mact_tensor_dict_contains (sd, "state.scale.momentum_buffer"));
}

static void
test_state_dict_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) model = small_model ();
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"SGD\", \"lr\": 0.1, \"momentum\": 0.9}");
  run_steps (model, opt, 0, 1);
  g_autoptr(MactTensorDict) good = mact_optimizer_state_dict (opt);
  g_autoptr(MactTensor) before = copy_tensor (
    mact_tensor_dict_lookup (good, "state.backbone.0.weight.momentum_buffer"));

  g_autoptr(MactTensor) wrong_shape = mact_tensor_new (1, (gint64[]) { 3 }, NULL);
  g_autoptr(MactTensor) four = mact_tensor_new (1, (gint64[]) { 4 }, NULL);
  g_autoptr(MactTensor) vec2 = mact_tensor_new (1, (gint64[]) { 2 }, NULL);
  g_autoptr(MactTensor) bad_piece = mact_tensor_new_from_data ((float[]) { 0, 0, 0, 70000 },
                                                               4, 1, (gint64[]) { 4 }, NULL);
  g_autoptr(MactTensor) frac_piece = mact_tensor_new_from_data ((float[]) { 0.5f, 0, 0, 0 },
                                                                4, 1, (gint64[]) { 4 }, NULL);
  /* the bits of +inf */
  g_autoptr(MactTensor) inf_bits = mact_tensor_new_from_data ((float[]) { 0, 0, 0, 0x7ff0 },
                                                              4, 1, (gint64[]) { 4 }, NULL);
  g_autoptr(MactTensor) half = mact_tensor_new_scalar (1.5f);
  g_autoptr(MactTensor) negative = mact_tensor_new_scalar (-1.0f);
  g_autoptr(MactTensor) huge = mact_tensor_new_scalar (1e8f);
  g_autoptr(MactTensor) nan = mact_tensor_new_scalar (NAN);
  g_autoptr(MactTensor) zero = mact_tensor_new_scalar (0.0f);
  struct { const char *key; MactTensor *value; const char *remove; } cases[] = {
    { "state.backbone.9.weight.momentum_buffer", four, NULL },
    { "state.backbone.0.weight.exp_avg", before, NULL },
    { "state.backbone.0.weight.momentum_buffer", wrong_shape, NULL },
    { "state.scale.momentum_buffer", four, NULL },
    { "state.nodot", zero, NULL },
    { "state..step", zero, NULL },
    { "state.scale.step", half, NULL },
    { "state.scale.step", negative, NULL },
    { "state.scale.step", huge, NULL },
    { "state.scale.step", vec2, NULL },
    { "param_groups.1.lr", zero, NULL },
    { "param_groups.x.lr", zero, NULL },
    { "param_groups.0", zero, NULL },
    { "param_groups.0.", zero, NULL },
    { "param_groups.0.a.b", zero, NULL },
    { "param_groups.0.lr", nan, NULL },
    { "param_groups.0.lr", vec2, NULL },
    { "param_groups.0.lr.f64", bad_piece, NULL },
    { "param_groups.0.lr.f64", frac_piece, NULL },
    { "param_groups.0.lr.f64", inf_bits, NULL },
    { "param_groups.0.lr.f64", zero, NULL },
    { "optimizer.lr", zero, NULL },
    /* a missing option of this optimizer: e.g. Adam state loaded into SGD */
    { NULL, NULL, "param_groups.0.momentum" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MactTensorDict) bad = mact_tensor_dict_new ();
      mact_tensor_dict_update (bad, good);
      if (cases[i].key != NULL)
        mact_tensor_dict_insert (bad, cases[i].key, cases[i].value);
      if (cases[i].remove != NULL)
        assert_true (mact_tensor_dict_remove (bad, cases[i].remove));
      mact_optimizer_set_group_option (opt, 0, "lr", 0.125);
      if (mact_optimizer_load_state_dict (opt, bad, &error))
        fail_msg ("case %u (%s): loaded", i, cases[i].key ? cases[i].key : cases[i].remove);
      mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
      /* nothing changed */
      assert_true (mact_optimizer_get_group_option (opt, 0, "lr") == 0.125);
      MactTensor *buf = mact_optimizer_get_state (opt, "backbone.0.weight", "momentum_buffer",
                                                  NULL, &error);
      assert_non_null (buf);
      assert_true (bit_equal (buf, before));
    }

  /* Adam state into SGD, SGD state into Adam */
  g_autoptr(MactModule) model2 = small_model ();
  g_autoptr(MactOptimizer) adam = build_ok (model2, "{\"type\": \"Adam\"}");
  run_steps (model2, adam, 0, 1);
  g_autoptr(MactTensorDict) adam_state = mact_optimizer_state_dict (adam);
  assert_false (mact_optimizer_load_state_dict (opt, adam_state, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  assert_false (mact_optimizer_load_state_dict (adam, good, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  g_autoptr(MactTensorDict) groups_only = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (good); i++)
    if (g_str_has_prefix (mact_tensor_dict_get_key (good, i), "param_groups."))
      mact_tensor_dict_insert (groups_only, mact_tensor_dict_get_key (good, i),
                               mact_tensor_dict_get_value (good, i));
  assert_false (mact_optimizer_load_state_dict (adam, groups_only, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
}

/* ------------------------------------------------------------------ step errors, state */

static void
test_step_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) a = mact_test_random (2, (gint64[]) { 2, 3 }, 1, -1, 1);
  g_autoptr(MactTensor) b = mact_test_random (1, (gint64[]) { 4 }, 2, -1, 1);
  MactTensor *init[2] = { a, b };
  g_autoptr(MactModule) model = param_holder (init, 2);
  g_autoptr(MactOptimizer) opt = build_ok (model,
    "{\"type\": \"Adam\", \"lr\": 0.1}");
  MactTensor *p0 = param (model, "p0"), *p1 = param (model, "p1");

  /* a gradient of the wrong shape: nothing is updated, not even the good one */
  g_autoptr(MactTensor) g0 = mact_tensor_new_full (2, (gint64[]) { 2, 3 }, 1.0f, NULL);
  g_autoptr(MactTensor) g1 = mact_tensor_new_full (1, (gint64[]) { 5 }, 1.0f, NULL);
  mact_tensor_set_grad (p0, g0);
  mact_tensor_set_grad (p1, g1);
  assert_false (mact_optimizer_step (opt, &error));
  assert_non_null (strstr (error->message, "p1"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  assert_true (bit_equal (p0, a));
  assert_true (bit_equal (p1, b));
  assert_int_equal (mact_optimizer_get_step_count (opt, "p0"), 0);

  /* a parameter that is a non-contiguous view cannot be updated in place */
  g_autoptr(MactTensor) base = mact_test_random (2, (gint64[]) { 3, 2 }, 4, -1, 1);
  g_autoptr(MactTensor) view = mact_tensor_transpose (base, 0, 1, NULL);
  g_autoptr(MactModule) odd = mact_sequential_new ();
  mact_module_register_parameter (odd, "w", view);
  g_autoptr(MactOptimizer) oopt = build_ok (odd, "{\"type\": \"SGD\", \"lr\": 0.1}");
  MactTensor *w = param (odd, "w");
  assert_false (mact_tensor_is_contiguous (w));
  g_autoptr(MactTensor) gw = mact_tensor_new_full (2, (gint64[]) { 2, 3 }, 1.0f, NULL);
  mact_tensor_set_grad (w, gw);
  assert_false (mact_optimizer_step (oopt, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);

  /* state accessors */
  gboolean created = FALSE;
  MactTensor *m = mact_optimizer_get_state (opt, "p0", "exp_avg", &created, &error);
  assert_non_null (m);
  assert_true (created);
  assert_int_equal (mact_tensor_get_numel (m), 6);
  assert_true (mact_optimizer_get_state (opt, "p0", "exp_avg", &created, &error) == m);
  assert_false (created);
  assert_null (mact_optimizer_get_state (opt, "nope", "exp_avg", &created, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  assert_null (mact_optimizer_get_state (opt, "p0", "momentum_buffer", NULL, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  mact_optimizer_set_step_count (opt, "p1", 7);
  assert_int_equal (mact_optimizer_get_step_count (opt, "p1"), 7);
}

/* ------------------------------------------------------------------ clip_grad_norm */

static void
run_clip_fixture (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strconcat ("optim/", name, NULL);
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load (path);
  const double max_norm = mact_test_fixture_meta_double (fx, "max_norm");
  const char *nt = mact_test_fixture_meta (fx, "norm_type");
  const double norm_type = g_str_equal (nt, "inf") ? INFINITY : g_ascii_strtod (nt, NULL);

  g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *gkey = g_strdup_printf ("g%u", i);
      MactTensor *ref = mact_test_fixture_has (fx, gkey) ? mact_test_fixture_get (fx, gkey)
                                                          : NULL;
      gint64 shape[1] = { 1 };
      MactTensor *p = ref != NULL ? copy_tensor (ref) : mact_tensor_new (1, shape, NULL);
      if (ref != NULL)
        {
          g_autoptr(MactTensor) g = copy_tensor (ref);
          mact_tensor_set_grad (p, g);
        }
      g_ptr_array_add (params, p);
    }
  double total = -1;
  if (!mact_clip_grad_norm (params, max_norm, norm_type, &total, &error))
    fail_msg ("%s: %s", name, error->message);
  MactTensor *want_total = mact_test_fixture_get (fx, "total_norm");
  const double wt = mact_tensor_item (want_total);
  if (fabs (total - wt) > 1e-6 * fabs (wt))
    fail_msg ("%s: total norm %.9g, expected %.9g", name, total, wt);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *key = g_strdup_printf ("clipped%u", i);
      MactTensor *p = g_ptr_array_index (params, i);
      if (!mact_test_fixture_has (fx, key))
        {
          assert_null (mact_tensor_get_grad (p));
          continue;
        }
      assert_rel_close (mact_tensor_get_grad (p), mact_test_fixture_get (fx, key), 1e-6, 1e-9,
                        key);
    }
}

static void
test_clip_grad_fixtures (void **state)
{
  static const char *const cases[] = {
    "clip_l2", "clip_l2_noclip", "clip_l1", "clip_inf", "clip_l3",
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_clip_fixture (cases[i]);
}

static void
test_clip_grad_edges (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (params, mact_tensor_new (1, (gint64[]) { 4 }, NULL));
  g_ptr_array_add (params, mact_tensor_new (2, (gint64[]) { 2, 2 }, NULL));
  MactTensor *p0 = params->pdata[0], *p1 = params->pdata[1];

  /* no gradients: norm 0 */
  double total = -1;
  assert_true (mact_clip_grad_norm (params, 1.0, 2.0, &total, &error));
  assert_true (total == 0.0);
  assert_true (mact_clip_grad_norm (params, 1.0, 2.0, NULL, &error));

  /* 3-4-5 by hand: scaled by 1 / (5 + 1e-6); a non-contiguous gradient is replaced */
  g_autoptr(MactTensor) g0 = mact_tensor_new_from_data ((float[]) { 3, 0, 0, 0 }, 4, 1,
                                                        (gint64[]) { 4 }, NULL);
  g_autoptr(MactTensor) g1base = mact_tensor_new_from_data ((float[]) { 0, 0, 4, 0 }, 4, 2,
                                                            (gint64[]) { 2, 2 }, NULL);
  g_autoptr(MactTensor) g1 = mact_tensor_transpose (g1base, 0, 1, NULL);
  mact_tensor_set_grad (p0, g0);
  mact_tensor_set_grad (p1, g1);
  assert_true (mact_clip_grad_norm (params, 1.0, 2.0, &total, &error));
  assert_true (total == 5.0);
  assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (p0))[0],
                      (float) (3.0 / (5.0 + 1e-6)), 1e-7);
  assert_true (mact_tensor_is_contiguous (mact_tensor_get_grad (p1)));
  assert_float_equal (mact_tensor_get_data (mact_tensor_get_grad (p1))[1],
                      (float) (4.0 / (5.0 + 1e-6)), 1e-7);

  /* an infinite max_norm never clips */
  g_autoptr(MactTensor) snapshot = copy_tensor (mact_tensor_get_grad (p0));
  assert_true (mact_clip_grad_norm (params, INFINITY, 2.0, &total, &error));
  assert_true (bit_equal (mact_tensor_get_grad (p0), snapshot));

  /* non-finite norms: error, gradients untouched */
  static const float bad_values[] = { NAN, INFINITY };
  static const double norm_types[] = { 1.0, 2.0, 3.0, INFINITY };
  for (guint v = 0; v < G_N_ELEMENTS (bad_values); v++)
    for (guint t = 0; t < G_N_ELEMENTS (norm_types); t++)
      {
        g_autoptr(MactTensor) bad = mact_tensor_new_from_data (
          (float[]) { 1, bad_values[v], 2, 0 }, 4, 2, (gint64[]) { 2, 2 }, NULL);
        mact_tensor_set_grad (p1, bad);
        g_autoptr(MactTensor) g0_before = copy_tensor (mact_tensor_get_grad (p0));
        assert_false (mact_clip_grad_norm (params, 1e-3, norm_types[t], &total, &error));
        mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_NON_FINITE);
        assert_false (isfinite (total));
        assert_true (mact_tensor_get_grad (p1) == bad);
        assert_true (isnan (mact_tensor_get_data (bad)[1]) || isinf (mact_tensor_get_data (bad)[1]));
        assert_float_equal (mact_tensor_get_data (bad)[0], 1.0f, 0.0);
        assert_true (bit_equal (mact_tensor_get_grad (p0), g0_before));
      }

  /* bad arguments */
  assert_false (mact_clip_grad_norm (params, -1.0, 2.0, &total, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG);
  assert_false (mact_clip_grad_norm (params, NAN, 2.0, &total, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG);
  assert_false (mact_clip_grad_norm (params, 1.0, 0.5, &total, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG);
  assert_false (mact_clip_grad_norm (params, 1.0, NAN, &total, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG);
  assert_false (mact_clip_grad_norm (params, 1.0, -INFINITY, &total, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG);

  /* huge p does not overflow */
  g_autoptr(MactTensor) big = mact_tensor_new_from_data ((float[]) { 3e30f, 4e30f, 0, 0 }, 4,
                                                         2, (gint64[]) { 2, 2 }, NULL);
  mact_tensor_set_grad (p1, big);
  mact_tensor_set_grad (p0, NULL);
  assert_true (mact_clip_grad_norm (params, 1e40, 50.0, &total, &error));
  assert_true (fabs (total - 4e30 * pow (1.0 + pow (0.75, 50.0), 1.0 / 50.0)) < 1e24);
}

static void
test_error_quark (void **state)
{
  assert_true (MACT_TRAIN_ERROR != 0);
  assert_string_equal (g_quark_to_string (MACT_TRAIN_ERROR), "mact-train-error-quark");
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sgd_fixtures),
    cmocka_unit_test (test_adam_fixtures),
    cmocka_unit_test (test_adamw_fixtures),
    cmocka_unit_test (test_fixture_groups),
    cmocka_unit_test (test_config_values),
    cmocka_unit_test (test_config_errors),
    cmocka_unit_test (test_paramwise_backbone_lr_mult),
    cmocka_unit_test (test_paramwise_norm_bias_dwconv),
    cmocka_unit_test (test_paramwise_custom_key_order),
    cmocka_unit_test (test_frozen_parameters_unchanged),
    cmocka_unit_test (test_zero_grad_and_skip),
    cmocka_unit_test (test_group_options),
    cmocka_unit_test (test_state_dict_roundtrip),
    cmocka_unit_test (test_state_dict_replace),
    cmocka_unit_test (test_state_dict_errors),
    cmocka_unit_test (test_step_errors),
    cmocka_unit_test (test_clip_grad_fixtures),
    cmocka_unit_test (test_clip_grad_edges),
    cmocka_unit_test (test_error_quark),
  };
  return cmocka_run_group_tests_name ("optim", tests, NULL, NULL);
}
