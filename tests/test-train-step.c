/* Whole training steps against PyTorch (issue 5's acceptance item): forward, loss,
 * backward and SGD with momentum and weight decay on a small recognizer give the same
 * loss (within 1e-5) and the same weights and batch-norm statistics (within 1e-5
 * relative) as PyTorch on the same weights and batches.
 *
 * tests/fixtures/gen_train_step.py re-implements Recognizer3D(ResNet3d, I3DHead) in plain
 * PyTorch (mmaction2's module tree and state-dict keys), gives it seeded weights and
 * batch-norm statistics and runs two steps per optimizer config in train mode:
 * zero_grad, loss_cls, backward, torch.optim.SGD.step, with the parameter groups mmcv's
 * DefaultOptimizerConstructor builds.  It stores the initial state dict, the two batches,
 * the loss of each step and the state dicts after the steps.  Here the same recognizer is
 * built from its JSON config, the initial weights are loaded strictly, the optimizer is
 * built from the same mmaction2 `optimizer` config and each step is what the runner does
 * per iteration: mact_optimizer_zero_grad, mact_recognizer_train_step,
 * mact_tensor_backward, mact_optimizer_step.  Every state-dict entry (parameters,
 * running_mean, running_var, num_batches_tracked) is compared, so a wrong running-var
 * update (biased instead of unbiased) or a missing num_batches_tracked increment fails
 * as well as a wrong update rule.
 *
 * Cases (see the generator):
 *   sgd         lr 0.01, momentum 0.9, weight_decay 1e-4 (mmaction2's usual settings);
 *               checked after step 1 and step 2 (the momentum buffer's first real use).
 *   sgd_groups  lr 0.02, momentum 0.9, weight_decay 1e-2, paramwise_cfg with
 *               bias_decay_mult 0 and custom_keys {backbone.layer4: lr_mult 0.5}; checked
 *               after step 2.  Its weight decay is large enough that leaving it off the
 *               batch-norm parameters (PyTorch decays them unless norm_decay_mult says
 *               otherwise) shifts a weight by 5.7e-4 relative, 57 times the tolerance; in
 *               the sgd case that error would be 3e-6, below it. */
#include "mact-test.h"

#include <math.h>

#define TOL 1e-5

static char *
data_path (const char *file)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "ops", "train_step", file, NULL);
}

static gboolean
data_exists (const char *file)
{
  g_autofree char *path = data_path (file);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static MactTensorDict *
load_file (const char *file)
{
  g_autofree char *path = data_path (file);
  g_autoptr(GError) error = NULL;
  MactTensorDict *dict = mact_safetensors_load (path, NULL, &error);
  if (dict == NULL)
    fail_msg ("loading %s: %s", path, error->message);
  return dict;
}

/* The recognizer of the fixture's config with the initial weights (strict), in train
 * mode. */
static MactRecognizer *
build_recognizer (MactTestFixture *fx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRecognizer) recognizer =
    mact_recognizer_new_from_data (mact_test_fixture_meta (fx, "config"), -1,
                                   mact_registry_get_default (), &error);
  if (recognizer == NULL)
    fail_msg ("building the recognizer: %s", error->message);
  g_autofree char *weights = data_path ("r3d_init.safetensors");
  if (!mact_recognizer_load_weights (recognizer, weights, TRUE, &error))
    fail_msg ("loading the initial weights: %s", error->message);
  mact_module_train (MACT_MODULE (recognizer), TRUE);
  return g_steal_pointer (&recognizer);
}

static MactOptimizer *
build_optimizer (MactTestFixture *fx, MactRecognizer *recognizer, const char *case_name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *key = g_strconcat ("optimizer.", case_name, NULL);
  g_autoptr(JsonNode) cfg = json_from_string (mact_test_fixture_meta (fx, key), &error);
  g_assert_no_error (error);
  MactOptimizer *optimizer = mact_optimizer_new_from_config (MACT_MODULE (recognizer), cfg,
                                                             &error);
  if (optimizer == NULL)
    fail_msg ("%s: building the optimizer: %s", case_name, error->message);
  return optimizer;
}

/* mmaction2's data batch of step @step (1-based): "imgs" [N, 1, C, T, H, W], "label" [N, 1]. */
static MactTensorDict *
batch (MactTestFixture *fx, guint step)
{
  g_autofree char *imgs = g_strdup_printf ("imgs%u", step);
  g_autofree char *label = g_strdup_printf ("label%u", step);
  MactTensorDict *data = mact_tensor_dict_new ();
  mact_tensor_dict_insert (data, "imgs", mact_test_fixture_get (fx, imgs));
  mact_tensor_dict_insert (data, "label", mact_test_fixture_get (fx, label));
  return data;
}

static void
assert_loss_close (float got, float want, const char *what)
{
  double tol = TOL * MAX (1.0, fabs (want));
  if (!(fabs ((double) got - want) <= tol))
    fail_msg ("%s: loss %.9g, PyTorch %.9g (|d| %.3g > %.3g)", what, got, want,
              fabs ((double) got - want), tol);
}

/* Every entry of the module's state dict equals the reference file's (same keys; max abs
 * error <= 1e-5 x max(1, max|ref|) per tensor; num_batches_tracked exactly). */
static void
assert_state_dict_matches (MactModule *module, const char *file)
{
  g_autoptr(MactTensorDict) want = load_file (file);
  g_autoptr(MactTensorDict) got = mact_module_state_dict (module);
  if (mact_tensor_dict_get_size (got) != mact_tensor_dict_get_size (want))
    fail_msg ("%s: %u state-dict entries, PyTorch has %u", file,
              mact_tensor_dict_get_size (got), mact_tensor_dict_get_size (want));
  for (guint i = 0; i < mact_tensor_dict_get_size (want); i++)
    {
      const char *key = mact_tensor_dict_get_key (want, i);
      MactTensor *w = mact_tensor_dict_get_value (want, i);
      MactTensor *g = mact_tensor_dict_lookup (got, key);
      if (g == NULL)
        fail_msg ("%s: no state-dict entry %s", file, key);
      g_autofree char *what = g_strdup_printf ("%s: %s", file, key);
      if (g_str_has_suffix (key, "num_batches_tracked"))
        {
          if (mact_tensor_get_numel (g) != 1 || mact_tensor_item (g) != mact_tensor_item (w))
            fail_msg ("%s = %g, PyTorch %g", what, (double) mact_tensor_item (g),
                      (double) mact_tensor_item (w));
          continue;
        }
      mact_test_assert_close (g, w, TOL, what);
    }
}

/* Runs the case's steps as mmaction2's runner does and compares each loss and the stored
 * state dicts.  Returns the optimizer for further checks. */
static MactOptimizer *
run_case (MactTestFixture *fx, MactRecognizer *recognizer, const char *case_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactOptimizer) optimizer = build_optimizer (fx, recognizer, case_name);

  /* Every parameter is trainable, so every one is in some group. */
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (MACT_MODULE (recognizer));
  g_autoptr(GPtrArray) opt_params = mact_optimizer_get_params (optimizer);
  assert_int_equal (opt_params->len, mact_tensor_dict_get_size (params));

  g_autofree char *loss_key = g_strconcat (case_name, ".loss", NULL);
  MactTensor *ref_losses = mact_test_fixture_get (fx, loss_key);
  const float *ref = mact_tensor_get_data (ref_losses);
  guint n_steps = (guint) mact_tensor_get_numel (ref_losses);
  assert_int_equal (n_steps, 2);

  for (guint step = 1; step <= n_steps; step++)
    {
      g_autofree char *what = g_strdup_printf ("%s step %u", case_name, step);
      g_autoptr(MactTensorDict) data = batch (fx, step);
      g_autoptr(MactTensor) loss = NULL;
      g_autoptr(MactTensorDict) log_vars = NULL;
      gint num_samples = 0;

      mact_optimizer_zero_grad (optimizer);
      if (!mact_recognizer_train_step (recognizer, data, &loss, &log_vars, &num_samples,
                                       &error))
        fail_msg ("%s: train_step: %s", what, error->message);
      assert_int_equal (num_samples, 4);
      assert_int_equal (mact_tensor_get_numel (loss), 1);
      assert_loss_close (mact_tensor_item (loss), ref[step - 1], what);
      /* The logged values are the same loss, detached. */
      MactTensor *logged = mact_tensor_dict_lookup (log_vars, "loss");
      MactTensor *logged_cls = mact_tensor_dict_lookup (log_vars, "loss_cls");
      assert_non_null (logged);
      assert_non_null (logged_cls);
      assert_true (mact_tensor_item (logged) == mact_tensor_item (loss));
      assert_true (mact_tensor_item (logged_cls) == mact_tensor_item (loss));

      if (!mact_tensor_backward (loss, NULL, &error))
        fail_msg ("%s: backward: %s", what, error->message);
      if (!mact_optimizer_step (optimizer, &error))
        fail_msg ("%s: optimizer step: %s", what, error->message);

      g_autofree char *file = g_strdup_printf ("r3d_%s_step%u.safetensors", case_name, step);
      if (data_exists (file))
        assert_state_dict_matches (MACT_MODULE (recognizer), file);
    }
  return g_steal_pointer (&optimizer);
}

/* The group holding parameter @name; fails when none does. */
static guint
group_of (MactOptimizer *optimizer, const char *name)
{
  for (guint g = 0; g < mact_optimizer_get_n_groups (optimizer); g++)
    {
      const char * const *names = mact_optimizer_get_group_param_names (optimizer, g);
      if (names != NULL && g_strv_contains (names, name))
        return g;
    }
  fail_msg ("no optimizer group holds %s", name);
  return 0;
}

static void
assert_group (MactOptimizer *optimizer, const char *name, double lr, double weight_decay)
{
  guint g = group_of (optimizer, name);
  double got_lr = mact_optimizer_get_group_option (optimizer, g, "lr");
  double got_wd = mact_optimizer_get_group_option (optimizer, g, "weight_decay");
  if (fabs (got_lr - lr) > 1e-12 || fabs (got_wd - weight_decay) > 1e-12)
    fail_msg ("%s: lr %g weight_decay %g, expected %g and %g", name, got_lr, got_wd, lr,
              weight_decay);
}

/* SGD(lr=0.01, momentum=0.9, weight_decay=1e-4), two steps on two batches. */
static void
test_sgd (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("train_step/r3d");
  g_autoptr(MactRecognizer) recognizer = build_recognizer (fx);
  g_autoptr(MactOptimizer) optimizer = run_case (fx, recognizer, "sgd");

  /* No paramwise_cfg: one lr and weight decay for all, batch-norm parameters included. */
  assert_group (optimizer, "backbone.conv1.bn.weight", 0.01, 1e-4);
  assert_group (optimizer, "cls_head.fc_cls.bias", 0.01, 1e-4);
}

/* SGD with a large weight decay and paramwise_cfg groups, two steps. */
static void
test_sgd_groups (void **state)
{
  g_autoptr(MactTestFixture) fx = mact_test_fixture_load ("train_step/r3d");
  g_autoptr(MactRecognizer) recognizer = build_recognizer (fx);
  g_autoptr(MactOptimizer) optimizer = run_case (fx, recognizer, "sgd_groups");

  /* mmcv: custom_keys win over everything; bias_decay_mult only for biases of modules
   * that are not norms; norm parameters keep the full decay (norm_decay_mult 1). */
  assert_group (optimizer, "backbone.layer4.0.conv1.conv.weight", 0.01, 1e-2);
  assert_group (optimizer, "backbone.layer4.0.conv1.bn.bias", 0.01, 1e-2);
  assert_group (optimizer, "backbone.layer3.0.conv1.bn.bias", 0.02, 1e-2);
  assert_group (optimizer, "backbone.conv1.conv.weight", 0.02, 1e-2);
  assert_group (optimizer, "cls_head.fc_cls.weight", 0.02, 1e-2);
  assert_group (optimizer, "cls_head.fc_cls.bias", 0.02, 0.0);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sgd),
    cmocka_unit_test (test_sgd_groups),
  };
  return cmocka_run_group_tests_name ("train-step", tests, NULL, NULL);
}
