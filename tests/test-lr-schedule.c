/* Learning-rate schedules (core/train/mact-lr-schedule.c): mmcv 1.x's LrUpdaterHook.
 *
 * Hand-computed goldens for every policy and warmup kind at chosen positions, including
 * the boundaries (the step epoch itself, the last warmup iteration and the first after
 * it), and full per-iteration traces of a simulated mmcv hook driven by a fake
 * EpochBasedRunner (tests/fixtures/gen_lr.py -> tests/data/lr-schedule/traces.json), which
 * check that mact's pure function replays the hook's state correctly.  Every config error
 * is MACT_TRAIN_ERROR_INVALID_CONFIG with the key named in the message. */
#include "mact-test.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static MactLrSchedule *
schedule (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = mact_config_load_data (json, -1, &error);
  if (node == NULL)
    fail_msg ("bad test JSON %s: %s", json, error->message);
  MactLrSchedule *self = mact_lr_schedule_new_from_config (node, &error);
  if (self == NULL)
    fail_msg ("lr_config %s: %s", json, error->message);
  return self;
}

/* |got - expected| <= 1e-12 * max(|expected|, 1e-3): relative, with an absolute floor
 * for values at or near zero. */
static void
assert_lr (double got, double expected, const char *what)
{
  double tol = 1e-12 * MAX (fabs (expected), 1e-3);
  if (!(fabs (got - expected) <= tol))
    fail_msg ("%s: lr %.17g, expected %.17g", what, got, expected);
}

/* lr of @base_lr at (epoch, iter) for a run of 10 epochs of 5 iterations. */
static double
lr_at (MactLrSchedule *s, double base_lr, guint epoch, guint64 iter)
{
  return mact_lr_schedule_get_lr (s, base_lr, epoch, iter, 5, 10);
}

static void
assert_config_error (const char *json, const char *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = mact_config_load_data (json, -1, &error);
  if (node == NULL)
    fail_msg ("bad test JSON %s: %s", json, error->message);
  g_autoptr(MactLrSchedule) s = mact_lr_schedule_new_from_config (node, &error);
  if (s != NULL)
    fail_msg ("lr_config %s: expected an error naming '%s', got a schedule", json,
              key ? key : "lr_config");
  assert_non_null (error);
  /* NULL: the whole lr_config is wrong, which the "lr_config: " prefix names. */
  if (key != NULL)
    {
      g_autofree char *quoted = g_strdup_printf ("'%s'", key);
      if (strstr (error->message, quoted) == NULL)
        fail_msg ("lr_config %s: message \"%s\" does not name %s", json, error->message,
                  quoted);
    }
  if (strncmp (error->message, "lr_config: ", 11) != 0)
    fail_msg ("lr_config %s: message \"%s\" does not start with the block", json,
              error->message);
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG);
}

/* ------------------------------------------------------------------ policies */

static void
test_fixed (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"fixed\"}");
  assert_true (mact_lr_schedule_get_by_epoch (s));
  assert_lr (lr_at (s, 0.1, 0, 0), 0.1, "fixed at start");
  assert_lr (lr_at (s, 0.1, 9, 49), 0.1, "fixed at end");
  assert_lr (lr_at (s, 0.02, 3, 17), 0.02, "fixed, other group");

  /* mmcv title-cases lowercase policies, so "Fixed" names the same hook. */
  g_autoptr(MactLrSchedule) t = schedule ("{\"policy\": \"Fixed\", \"by_epoch\": false}");
  assert_false (mact_lr_schedule_get_by_epoch (t));
  assert_lr (lr_at (t, 0.5, 2, 12), 0.5, "Fixed");
}

static void
test_no_config_is_constant (void **state)
{
  (void) state;
  /* lr_config=None in mmcv: no lr hook, the lr stays at its initial value. */
  g_autoptr(MactLrSchedule) s = mact_lr_schedule_new_from_config (NULL, NULL);
  assert_non_null (s);
  assert_lr (lr_at (s, 0.1, 7, 36), 0.1, "NULL config");

  g_autoptr(JsonNode) null = json_node_new (JSON_NODE_NULL);
  g_autoptr(MactLrSchedule) t = mact_lr_schedule_new_from_config (null, NULL);
  assert_non_null (t);
  assert_true (mact_lr_schedule_get_by_epoch (t));
  assert_lr (lr_at (t, 0.1, 7, 36), 0.1, "null config");
}

static void
test_step_list_by_epoch (void **state)
{
  (void) state;
  /* mmaction2's sgd_100e schedule. */
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"step\", \"step\": [40, 80]}");
  double b = 0.01;
  assert_lr (mact_lr_schedule_get_lr (s, b, 0, 0, 100, 100), 0.01, "epoch 0");
  assert_lr (mact_lr_schedule_get_lr (s, b, 39, 3999, 100, 100), 0.01, "epoch 39");
  /* The step epoch itself already has the decayed lr, from its first iteration. */
  assert_lr (mact_lr_schedule_get_lr (s, b, 40, 4000, 100, 100), 0.001, "epoch 40");
  assert_lr (mact_lr_schedule_get_lr (s, b, 40, 4099, 100, 100), 0.001, "end of epoch 40");
  assert_lr (mact_lr_schedule_get_lr (s, b, 79, 7999, 100, 100), 0.001, "epoch 79");
  assert_lr (mact_lr_schedule_get_lr (s, b, 80, 8000, 100, 100), 0.0001, "epoch 80");
  assert_lr (mact_lr_schedule_get_lr (s, b, 99, 9999, 100, 100), 0.0001, "epoch 99");
  /* By epoch: the iteration does not matter. */
  assert_lr (mact_lr_schedule_get_lr (s, b, 10, 9999, 100, 100), 0.01, "by epoch");
}

static void
test_step_int_and_gamma (void **state)
{
  (void) state;
  /* An int step decays every `step` epochs. */
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"Step\", \"step\": 3, "
                                          "\"gamma\": 0.5}");
  assert_lr (lr_at (s, 0.8, 2, 14), 0.8, "epoch 2");
  assert_lr (lr_at (s, 0.8, 3, 15), 0.4, "epoch 3");
  assert_lr (lr_at (s, 0.8, 5, 29), 0.4, "epoch 5");
  assert_lr (lr_at (s, 0.8, 6, 30), 0.2, "epoch 6");
  assert_lr (lr_at (s, 0.8, 9, 49), 0.1, "epoch 9");

  /* An exactly integral JSON float counts as an integer, as elsewhere in mact. */
  g_autoptr(MactLrSchedule) t = schedule ("{\"policy\": \"step\", \"step\": [2.0, 4], "
                                          "\"gamma\": 1}");
  assert_lr (lr_at (t, 0.3, 5, 25), 0.3, "gamma 1");
}

static void
test_step_min_lr (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"step\", \"step\": [1, 2, 3], "
                                          "\"min_lr\": 0.005}");
  assert_lr (lr_at (s, 0.1, 0, 0), 0.1, "epoch 0");
  assert_lr (lr_at (s, 0.1, 1, 5), 0.01, "epoch 1");
  assert_lr (lr_at (s, 0.1, 2, 10), 0.005, "epoch 2, clipped from 0.001");
  assert_lr (lr_at (s, 0.1, 3, 15), 0.005, "epoch 3, clipped from 0.0001");
  /* The floor applies per group: a smaller base lr is clipped sooner. */
  assert_lr (lr_at (s, 0.02, 1, 5), 0.005, "group 2 epoch 1, clipped from 0.002");

  /* null is Python's None: no clipping. */
  g_autoptr(MactLrSchedule) t = schedule ("{\"policy\": \"step\", \"step\": [1, 2, 3], "
                                          "\"min_lr\": null}");
  assert_lr (lr_at (t, 0.1, 3, 15), 0.0001, "no min_lr");
}

static void
test_step_by_iter (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"step\", \"step\": [10, 20], "
                                          "\"gamma\": 0.2, \"by_epoch\": false}");
  assert_false (mact_lr_schedule_get_by_epoch (s));
  assert_lr (lr_at (s, 1.0, 1, 9), 1.0, "iter 9");
  assert_lr (lr_at (s, 1.0, 2, 10), 0.2, "iter 10");
  assert_lr (lr_at (s, 1.0, 3, 19), 0.2, "iter 19");
  assert_lr (lr_at (s, 1.0, 4, 20), 0.04, "iter 20");
  /* Not by epoch: the epoch does not matter. */
  assert_lr (lr_at (s, 1.0, 9, 3), 1.0, "epoch ignored");

  g_autoptr(MactLrSchedule) t = schedule ("{\"policy\": \"step\", \"step\": 4, "
                                          "\"by_epoch\": false}");
  assert_lr (lr_at (t, 1.0, 0, 3), 1.0, "iter 3");
  assert_lr (lr_at (t, 1.0, 0, 4), 0.1, "iter 4");
  assert_lr (lr_at (t, 1.0, 1, 8), 0.01, "iter 8");

  /* An empty list is accepted, as in mmcv: the lr never decays. */
  g_autoptr(MactLrSchedule) u = schedule ("{\"policy\": \"step\", \"step\": []}");
  assert_lr (lr_at (u, 0.1, 9, 49), 0.1, "empty step list");
}

static void
test_cosine_by_epoch (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"CosineAnnealing\", \"min_lr\": 0}");
  /* 4 epochs: lr = base * (1 + cos(pi * epoch / 4)) / 2. */
  assert_lr (mact_lr_schedule_get_lr (s, 0.1, 0, 0, 5, 4), 0.1, "epoch 0");
  assert_lr (mact_lr_schedule_get_lr (s, 0.1, 0, 4, 5, 4), 0.1, "end of epoch 0");
  assert_lr (mact_lr_schedule_get_lr (s, 0.1, 1, 5, 5, 4), 0.1 * (0.5 + G_SQRT2 / 4),
             "epoch 1");
  assert_lr (mact_lr_schedule_get_lr (s, 0.1, 2, 10, 5, 4), 0.05, "epoch 2");
  assert_lr (mact_lr_schedule_get_lr (s, 0.1, 3, 15, 5, 4), 0.1 * (0.5 - G_SQRT2 / 4),
             "epoch 3");
  /* At max_epochs the curve reaches min_lr (never run, but that is the formula). */
  assert_lr (mact_lr_schedule_get_lr (s, 0.1, 4, 20, 5, 4), 0.0, "epoch 4");

  /* min_lr_ratio: the target is a fraction of each group's initial lr. */
  g_autoptr(MactLrSchedule) t = schedule ("{\"policy\": \"CosineAnnealing\", "
                                          "\"min_lr_ratio\": 0.1}");
  assert_lr (mact_lr_schedule_get_lr (t, 1.0, 2, 10, 5, 4), 0.55, "ratio, epoch 2");
  assert_lr (mact_lr_schedule_get_lr (t, 2.0, 2, 10, 5, 4), 1.1, "ratio, group 2");
  assert_lr (mact_lr_schedule_get_lr (t, 1.0, 4, 20, 5, 4), 0.1, "ratio, epoch 4");

  /* min_lr is absolute: the same target whatever the base lr. */
  g_autoptr(MactLrSchedule) u = schedule ("{\"policy\": \"CosineAnnealing\", "
                                          "\"min_lr\": 0.2, \"min_lr_ratio\": null}");
  assert_lr (mact_lr_schedule_get_lr (u, 1.0, 2, 10, 5, 4), 0.6, "min_lr, epoch 2");
  assert_lr (mact_lr_schedule_get_lr (u, 2.0, 2, 10, 5, 4), 1.1, "min_lr, group 2");
}

static void
test_cosine_by_iter (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"CosineAnnealing\", "
                                          "\"min_lr\": 0, \"by_epoch\": false}");
  /* 2 epochs of 5 iterations: the curve spans 10 iterations. */
  assert_lr (mact_lr_schedule_get_lr (s, 1.0, 0, 0, 5, 2), 1.0, "iter 0");
  assert_lr (mact_lr_schedule_get_lr (s, 1.0, 0, 1, 5, 2), (1 + cos (G_PI / 10)) / 2,
             "iter 1");
  assert_lr (mact_lr_schedule_get_lr (s, 1.0, 1, 5, 5, 2), 0.5, "iter 5");
  assert_lr (mact_lr_schedule_get_lr (s, 1.0, 1, 9, 5, 2), (1 + cos (G_PI * 0.9)) / 2,
             "iter 9");
}

/* ------------------------------------------------------------------ warmup */

static void
test_warmup_linear (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"fixed\", \"warmup\": \"linear\", "
                                          "\"warmup_iters\": 10, \"warmup_ratio\": 0.1}");
  /* lr = base * (1 - (1 - iter / 10) * (1 - 0.1)) */
  assert_lr (lr_at (s, 1.0, 0, 0), 0.1, "iter 0");
  assert_lr (lr_at (s, 1.0, 0, 1), 0.19, "iter 1");
  assert_lr (lr_at (s, 1.0, 1, 5), 0.55, "iter 5");
  assert_lr (lr_at (s, 1.0, 1, 9), 0.91, "last warmup iteration");
  assert_lr (lr_at (s, 1.0, 2, 10), 1.0, "first after warmup");
  assert_lr (lr_at (s, 1.0, 3, 17), 1.0, "after warmup");
  assert_lr (lr_at (s, 0.5, 1, 5), 0.275, "other group");

  /* The default warmup_ratio is 0.1. */
  g_autoptr(MactLrSchedule) t = schedule ("{\"policy\": \"fixed\", \"warmup\": \"linear\", "
                                          "\"warmup_iters\": 10}");
  assert_lr (lr_at (t, 1.0, 0, 0), 0.1, "default ratio");
}

static void
test_warmup_constant (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"fixed\", "
                                          "\"warmup\": \"constant\", \"warmup_iters\": 4, "
                                          "\"warmup_ratio\": 0.25}");
  assert_lr (lr_at (s, 1.0, 0, 0), 0.25, "iter 0");
  assert_lr (lr_at (s, 1.0, 0, 3), 0.25, "last warmup iteration");
  assert_lr (lr_at (s, 1.0, 0, 4), 1.0, "first after warmup");
}

static void
test_warmup_exp (void **state)
{
  (void) state;
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"fixed\", \"warmup\": \"exp\", "
                                          "\"warmup_iters\": 4, \"warmup_ratio\": 0.01}");
  /* lr = base * 0.01 ^ (1 - iter / 4) */
  assert_lr (lr_at (s, 1.0, 0, 0), 0.01, "iter 0");
  assert_lr (lr_at (s, 1.0, 0, 2), 0.1, "iter 2");
  assert_lr (lr_at (s, 1.0, 0, 3), sqrt (0.1), "last warmup iteration");
  assert_lr (lr_at (s, 1.0, 0, 4), 1.0, "first after warmup");
}

static void
test_warmup_scales_regular_lr (void **state)
{
  (void) state;
  /* Warmup across an epoch boundary with a by-epoch step at epoch 1: mmcv sets the
   * regular lr of the new epoch in before_train_epoch, then before_train_iter overwrites
   * it with the warmup of that regular lr. */
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"step\", \"step\": [1], "
                                          "\"warmup\": \"linear\", \"warmup_iters\": 10, "
                                          "\"warmup_ratio\": 0.1}");
  assert_lr (lr_at (s, 1.0, 0, 4), 1.0 * (1 - 0.6 * 0.9), "epoch 0, iter 4");
  assert_lr (lr_at (s, 1.0, 1, 7), 0.1 * (1 - 0.3 * 0.9), "epoch 1, iter 7");
  assert_lr (lr_at (s, 1.0, 1, 9), 0.1 * 0.91, "last warmup iteration");
  assert_lr (lr_at (s, 1.0, 2, 10), 0.1, "first after warmup");

  /* Cosine by iteration with exp warmup: both vary per iteration. */
  g_autoptr(MactLrSchedule) t = schedule ("{\"policy\": \"CosineAnnealing\", "
                                          "\"min_lr\": 0, \"by_epoch\": false, "
                                          "\"warmup\": \"exp\", \"warmup_iters\": 4, "
                                          "\"warmup_ratio\": 0.01}");
  assert_lr (mact_lr_schedule_get_lr (t, 1.0, 0, 2, 5, 2), 0.1 * (1 + cos (G_PI / 5)) / 2,
             "cosine iter 2 under exp warmup");
}

static void
test_warmup_by_epoch (void **state)
{
  (void) state;
  /* warmup_iters counts epochs: 2 epochs of 5 iterations = 10 iterations. */
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"fixed\", \"warmup\": \"linear\", "
                                          "\"warmup_iters\": 2, \"warmup_ratio\": 0.1, "
                                          "\"warmup_by_epoch\": true}");
  assert_lr (lr_at (s, 1.0, 0, 0), 0.1, "iter 0");
  assert_lr (lr_at (s, 1.0, 1, 5), 0.55, "iter 5");
  assert_lr (lr_at (s, 1.0, 1, 9), 0.91, "last warmup iteration");
  assert_lr (lr_at (s, 1.0, 2, 10), 1.0, "first after warmup");
  /* The length follows the epoch length given. */
  assert_lr (mact_lr_schedule_get_lr (s, 1.0, 1, 15, 20, 10), 1 - (1 - 15.0 / 40) * 0.9,
             "epoch_len 20");
}

static void
test_warmup_none (void **state)
{
  (void) state;
  /* warmup_iters and warmup_ratio are read but unused without a warmup, as in mmcv. */
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"fixed\", \"warmup\": null, "
                                          "\"warmup_iters\": 100, \"warmup_ratio\": 0.5}");
  assert_lr (lr_at (s, 1.0, 0, 0), 1.0, "no warmup");
}

/* ------------------------------------------------------------------ traces */

static JsonNode *
load_traces (void)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  g_autofree char *path = g_build_filename (dir ? dir : "tests/data", "lr-schedule",
                                            "traces.json", NULL);
  g_autoptr(GError) error = NULL;
  JsonNode *root = mact_config_load_file (path, &error);
  if (root == NULL)
    fail_msg ("%s", error->message);
  return root;
}

static void
test_traces_match_mmcv_hook (void **state)
{
  (void) state;
  g_autoptr(JsonNode) root = load_traces ();
  JsonObject *cases = json_node_get_object (root);
  g_autoptr(GList) names = json_object_get_members (cases);
  assert_true (g_list_length (names) >= 15);

  guint checked = 0;
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonObject *c = json_object_get_object_member (cases, name);
      g_autoptr(GError) error = NULL;
      g_autoptr(MactLrSchedule) s =
        mact_lr_schedule_new_from_config (json_object_get_member (c, "config"), &error);
      if (s == NULL)
        fail_msg ("%s: %s", name, error->message);

      guint epoch_len = (guint) json_object_get_int_member (c, "epoch_len");
      guint max_epochs = (guint) json_object_get_int_member (c, "max_epochs");
      JsonArray *base_lrs = json_object_get_array_member (c, "base_lrs");
      JsonArray *lrs = json_object_get_array_member (c, "lrs");
      for (guint g = 0; g < json_array_get_length (base_lrs); g++)
        {
          double base = json_array_get_double_element (base_lrs, g);
          JsonArray *expected = json_array_get_array_element (lrs, g);
          assert_int_equal (json_array_get_length (expected), epoch_len * max_epochs);
          for (guint it = 0; it < epoch_len * max_epochs; it++)
            {
              double got = mact_lr_schedule_get_lr (s, base, it / epoch_len, it, epoch_len,
                                                    max_epochs);
              g_autofree char *what = g_strdup_printf ("%s group %u iter %u", name, g, it);
              assert_lr (got, json_array_get_double_element (expected, it), what);
              checked++;
            }
        }
    }
  assert_true (checked >= 15 * 2 * 30);
}

static void
test_stateless (void **state)
{
  (void) state;
  /* The lr is a function of the position only: querying backwards, or twice, gives the
   * same values as a forward pass, which is what lets a resumed run continue exactly. */
  g_autoptr(MactLrSchedule) s = schedule ("{\"policy\": \"CosineAnnealing\", "
                                          "\"min_lr_ratio\": 0.01, \"warmup\": \"linear\", "
                                          "\"warmup_iters\": 7}");
  double forward[50];
  for (guint it = 0; it < 50; it++)
    forward[it] = lr_at (s, 0.1, it / 5, it);
  for (guint it = 50; it-- > 0;)
    assert_true (lr_at (s, 0.1, it / 5, it) == forward[it]);
}

static void
test_config_not_modified (void **state)
{
  (void) state;
  const char *json = "{\"policy\": \"step\", \"step\": [3, 6], \"warmup\": \"linear\", "
                     "\"warmup_iters\": 5}";
  g_autoptr(JsonNode) node = mact_config_load_data (json, -1, NULL);
  g_autofree char *before = json_to_string (node, FALSE);
  g_autoptr(MactLrSchedule) s = mact_lr_schedule_new_from_config (node, NULL);
  assert_non_null (s);
  g_autofree char *after = json_to_string (node, FALSE);
  assert_string_equal (before, after);
}

/* ------------------------------------------------------------------ errors */

static void
test_errors_structure (void **state)
{
  (void) state;
  assert_config_error ("[1, 2]", NULL);
  assert_config_error ("\"step\"", NULL);
  assert_config_error ("{}", "policy");
  assert_config_error ("{\"step\": [1]}", "policy");
  assert_config_error ("{\"policy\": 3}", "policy");
  assert_config_error ("{\"policy\": null}", "policy");
  /* Only the three policies, in mmcv's spellings. */
  assert_config_error ("{\"policy\": \"poly\"}", "policy");
  assert_config_error ("{\"policy\": \"STEP\"}", "policy");
  assert_config_error ("{\"policy\": \"cosineannealing\"}", "policy");
  assert_config_error ("{\"policy\": \"Cosine\"}", "policy");
  /* Keys the policy's hook does not take (TypeError in mmcv). */
  assert_config_error ("{\"policy\": \"fixed\", \"step\": [1]}", "step");
  assert_config_error ("{\"policy\": \"fixed\", \"gamma\": 0.1}", "gamma");
  assert_config_error ("{\"policy\": \"fixed\", \"type\": \"FixedLrUpdaterHook\"}", "type");
  assert_config_error ("{\"policy\": \"step\", \"step\": 1, \"min_lr_ratio\": 0.1}",
                       "min_lr_ratio");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr\": 0, \"gamma\": 0.1}",
                       "gamma");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr\": 0, \"warmpu\": 1}",
                       "warmpu");
}

static void
test_errors_step (void **state)
{
  (void) state;
  assert_config_error ("{\"policy\": \"step\"}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": null}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": \"40\"}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": {\"a\": 1}}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": 2.5}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": 0}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": -3}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": [40, \"80\"]}", "step[1]");
  assert_config_error ("{\"policy\": \"step\", \"step\": [40, true]}", "step[1]");
  assert_config_error ("{\"policy\": \"step\", \"step\": [[40]]}", "step[0]");
  assert_config_error ("{\"policy\": \"step\", \"step\": [0, 2]}", "step[0]");
  assert_config_error ("{\"policy\": \"step\", \"step\": [-1, 2]}", "step[0]");
  assert_config_error ("{\"policy\": \"step\", \"step\": [1.5, 2]}", "step[0]");
  /* Not strictly increasing. */
  assert_config_error ("{\"policy\": \"step\", \"step\": [40, 40]}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": [80, 40]}", "step");
  assert_config_error ("{\"policy\": \"step\", \"step\": [10, 20, 15]}", "step");
  /* gamma and min_lr: non-negative numbers. */
  assert_config_error ("{\"policy\": \"step\", \"step\": 1, \"gamma\": -0.1}", "gamma");
  assert_config_error ("{\"policy\": \"step\", \"step\": 1, \"gamma\": \"0.1\"}", "gamma");
  assert_config_error ("{\"policy\": \"step\", \"step\": 1, \"gamma\": null}", "gamma");
  assert_config_error ("{\"policy\": \"step\", \"step\": 1, \"min_lr\": -1e-5}", "min_lr");
  assert_config_error ("{\"policy\": \"step\", \"step\": 1, \"min_lr\": [0]}", "min_lr");
}

static void
test_errors_cosine (void **state)
{
  (void) state;
  /* Exactly one of min_lr and min_lr_ratio (mmcv asserts the xor). */
  assert_config_error ("{\"policy\": \"CosineAnnealing\"}", "min_lr");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr\": null}", "min_lr");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr\": 0, "
                       "\"min_lr_ratio\": 0.1}", "min_lr_ratio");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr\": -0.1}", "min_lr");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr_ratio\": -1}",
                       "min_lr_ratio");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr_ratio\": \"0.1\"}",
                       "min_lr_ratio");
  assert_config_error ("{\"policy\": \"CosineAnnealing\", \"min_lr\": false}", "min_lr");
}

static void
test_errors_common (void **state)
{
  (void) state;
  assert_config_error ("{\"policy\": \"fixed\", \"by_epoch\": \"yes\"}", "by_epoch");
  assert_config_error ("{\"policy\": \"fixed\", \"by_epoch\": 1}", "by_epoch");
  assert_config_error ("{\"policy\": \"fixed\", \"by_epoch\": null}", "by_epoch");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"cosine\"}", "warmup");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"Linear\"}", "warmup");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": 1}", "warmup");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": true}", "warmup");
  /* A warmup needs a positive length (mmcv's assert); warmup_iters is a count. */
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"linear\"}", "warmup_iters");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"linear\", "
                       "\"warmup_iters\": 0}", "warmup_iters");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup_iters\": -5}", "warmup_iters");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"exp\", "
                       "\"warmup_iters\": 1.5}", "warmup_iters");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"exp\", "
                       "\"warmup_iters\": \"10\"}", "warmup_iters");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"exp\", "
                       "\"warmup_iters\": 1099511627776}", "warmup_iters");
  /* warmup_ratio in (0, 1]. */
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"linear\", "
                       "\"warmup_iters\": 5, \"warmup_ratio\": 0}", "warmup_ratio");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"linear\", "
                       "\"warmup_iters\": 5, \"warmup_ratio\": 1.5}", "warmup_ratio");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup\": \"linear\", "
                       "\"warmup_iters\": 5, \"warmup_ratio\": -0.1}", "warmup_ratio");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup_ratio\": \"0.1\"}", "warmup_ratio");
  assert_config_error ("{\"policy\": \"fixed\", \"warmup_by_epoch\": \"true\"}",
                       "warmup_by_epoch");
}

static void
test_errors_non_finite (void **state)
{
  (void) state;
  /* JSON text cannot hold inf or NaN, but a tree built in code can. */
  const char *keys[] = { "gamma", "min_lr" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "policy");
      json_builder_add_string_value (b, "step");
      json_builder_set_member_name (b, "step");
      json_builder_add_int_value (b, 3);
      json_builder_set_member_name (b, keys[i]);
      json_builder_add_double_value (b, i == 0 ? INFINITY : NAN);
      json_builder_end_object (b);
      g_autoptr(JsonNode) node = json_builder_get_root (b);
      g_autoptr(GError) error = NULL;
      g_autoptr(MactLrSchedule) s = mact_lr_schedule_new_from_config (node, &error);
      assert_null (s);
      assert_non_null (error);
      g_autofree char *quoted = g_strdup_printf ("'%s'", keys[i]);
      assert_non_null (strstr (error->message, quoted));
      mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG);
    }
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_fixed),
    cmocka_unit_test (test_no_config_is_constant),
    cmocka_unit_test (test_step_list_by_epoch),
    cmocka_unit_test (test_step_int_and_gamma),
    cmocka_unit_test (test_step_min_lr),
    cmocka_unit_test (test_step_by_iter),
    cmocka_unit_test (test_cosine_by_epoch),
    cmocka_unit_test (test_cosine_by_iter),
    cmocka_unit_test (test_warmup_linear),
    cmocka_unit_test (test_warmup_constant),
    cmocka_unit_test (test_warmup_exp),
    cmocka_unit_test (test_warmup_scales_regular_lr),
    cmocka_unit_test (test_warmup_by_epoch),
    cmocka_unit_test (test_warmup_none),
    cmocka_unit_test (test_traces_match_mmcv_hook),
    cmocka_unit_test (test_stateless),
    cmocka_unit_test (test_config_not_modified),
    cmocka_unit_test (test_errors_structure),
    cmocka_unit_test (test_errors_step),
    cmocka_unit_test (test_errors_cosine),
    cmocka_unit_test (test_errors_common),
    cmocka_unit_test (test_errors_non_finite),
  };
  return cmocka_run_group_tests_name ("lr-schedule", tests, NULL, NULL);
}
