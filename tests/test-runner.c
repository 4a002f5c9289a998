/* The runner (mmcv's EpochBasedRunner with mmaction2's hooks), checkpoints, the metrics of
 * evaluation, and the `mact train` program.
 *
 * A tiny Recognizer3D (native ResNet3d-18 with base_channels 4, I3DHead) trains on a
 * small synthetic action set, so every case runs in well under a second, also under
 * valgrind.  What is asserted is behaviour: the loss falls; two runs with one seed give
 * the same loss curve bit for bit; a run resumed from an epoch checkpoint continues with
 * exactly the losses and final weights of the uninterrupted run; load_from sets weights
 * only; frozen stages stay bit-identical; checkpoint files, latest.json, max_keep_ckpts
 * and save_best behave as mmcv's hooks; metrics match hand-computed values; and every
 * config and checkpoint error is a GError with its domain and code. */
#include "mact-test.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

/* ------------------------------------------------------------------ helpers */

#define TINY_CONFIG \
  "{" \
  " \"model\": {\"type\": \"Recognizer3D\"," \
  "   \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4," \
  "                  \"pretrained\": null, \"pretrained2d\": false," \
  "                  \"conv1_kernel\": [3, 3, 3], \"frozen_stages\": %d}," \
  "   \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 4, \"in_channels\": 32," \
  "                  \"spatial_type\": \"avg\", \"dropout_ratio\": %s," \
  "                  \"label_smooth_eps\": %s}," \
  "   \"train_cfg\": %s," \
  "   \"test_cfg\": {\"average_clips\": \"prob\"}}," \
  " \"data\": {\"videos_per_gpu\": 4, \"workers_per_gpu\": %d," \
  "   \"train\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 4," \
  "               \"num_samples\": 16, \"split\": \"train\", \"seed\": 3, \"clip_len\": 4," \
  "               \"num_clips\": 1, \"height\": 16, \"width\": 16, \"noise\": 0.02," \
  "               \"clutter\": 0, \"input_format\": \"NCTHW\"}," \
  "   \"val\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 4," \
  "             \"num_samples\": 8, \"split\": \"val\", \"seed\": 3, \"clip_len\": 4," \
  "             \"num_clips\": 1, \"height\": 16, \"width\": 16, \"noise\": 0.02," \
  "             \"clutter\": 0, \"input_format\": \"NCTHW\"}}," \
  " \"optimizer\": {\"type\": \"SGD\", \"lr\": 0.05, \"momentum\": 0.9," \
  "                 \"weight_decay\": 0.0001}," \
  " \"optimizer_config\": {\"grad_clip\": {\"max_norm\": 40, \"norm_type\": 2}}," \
  " \"lr_config\": {\"policy\": \"step\", \"step\": [2]}," \
  " \"total_epochs\": %d," \
  " \"checkpoint_config\": {\"interval\": 1 %s}," \
  " \"evaluation\": {\"interval\": 1, \"save_best\": \"auto\"}," \
  " \"log_config\": {\"interval\": 1}," \
  " \"seed\": 7" \
  "}"

typedef struct {
  int         frozen_stages;
  const char *dropout;
  const char *smooth;
  const char *train_cfg;
  int         workers;
  int         epochs;
  const char *ckpt_extra;
} TinyOptions;

static JsonNode *
tiny_config_node (const TinyOptions *o)
{
  g_autofree char *text = g_strdup_printf (TINY_CONFIG, o->frozen_stages,
                                           o->dropout ? o->dropout : "0.0",
                                           o->smooth ? o->smooth : "0.0",
                                           o->train_cfg ? o->train_cfg : "null",
                                           o->workers, o->epochs,
                                           o->ckpt_extra ? o->ckpt_extra : "");
  g_autoptr(GError) error = NULL;
  JsonNode *node = mact_config_load_data (text, -1, &error);
  assert_null (error);
  assert_non_null (node);
  return node;
}

static const TinyOptions defaults = { -1, NULL, NULL, NULL, 0, 2, NULL };

/* Collects the train losses and val metrics the runner logs. */
typedef struct {
  GArray *losses;
  GArray *grad_norms;
  GArray *top1;
} Curve;

static void
on_log (MactRunner *runner, JsonObject *entry, Curve *curve)
{
  const char *mode = json_object_get_string_member (entry, "mode");
  if (g_str_equal (mode, "train"))
    {
      assert_true (json_object_has_member (entry, "loss"));
      assert_true (json_object_has_member (entry, "loss_cls"));
      assert_true (json_object_has_member (entry, "lr"));
      assert_true (json_object_has_member (entry, "time"));
      double loss = json_object_get_double_member (entry, "loss");
      g_array_append_val (curve->losses, loss);
      if (json_object_has_member (entry, "grad_norm"))
        {
          double n = json_object_get_double_member (entry, "grad_norm");
          g_array_append_val (curve->grad_norms, n);
        }
    }
  else
    {
      assert_string_equal (mode, "val");
      double top1 = json_object_get_double_member (entry, "top1_acc");
      g_array_append_val (curve->top1, top1);
    }
}

static void
curve_init (Curve *c)
{
  c->losses = g_array_new (FALSE, FALSE, sizeof (double));
  c->grad_norms = g_array_new (FALSE, FALSE, sizeof (double));
  c->top1 = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
curve_clear (Curve *c)
{
  g_array_unref (c->losses);
  g_array_unref (c->grad_norms);
  g_array_unref (c->top1);
}

static MactRunner *
new_runner (JsonNode *config, const char *work_dir, Curve *curve)
{
  g_autoptr(GError) error = NULL;
  MactRunner *runner = mact_runner_new (config, &error);
  assert_null (error);
  assert_non_null (runner);
  g_object_set (runner, "work-dir", work_dir, "validate", TRUE, NULL);
  if (curve != NULL)
    g_signal_connect (runner, "log", G_CALLBACK (on_log), curve);
  return runner;
}

static char *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("mact-runner-XXXXXX", &error);
  assert_null (error);
  return dir;
}

static gboolean
exists_in (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
assert_state_equal (MactModule *a, MactModule *b)
{
  g_autoptr(MactTensorDict) sa = mact_module_state_dict (a);
  g_autoptr(MactTensorDict) sb = mact_module_state_dict (b);
  assert_int_equal (mact_tensor_dict_get_size (sa), mact_tensor_dict_get_size (sb));
  for (guint i = 0; i < mact_tensor_dict_get_size (sa); i++)
    {
      MactTensor *ta = mact_tensor_dict_get_value (sa, i);
      MactTensor *tb = mact_tensor_dict_lookup (sb, mact_tensor_dict_get_key (sa, i));
      assert_non_null (tb);
      g_autoptr(MactTensor) ca = mact_tensor_contiguous (ta);
      g_autoptr(MactTensor) cb = mact_tensor_contiguous (tb);
      assert_int_equal (mact_tensor_get_numel (ca), mact_tensor_get_numel (cb));
      if (memcmp (mact_tensor_get_data (ca), mact_tensor_get_data (cb),
                  (gsize) mact_tensor_get_numel (ca) * sizeof (float)) != 0)
        fail_msg ("state '%s' differs", mact_tensor_dict_get_key (sa, i));
    }
}

/* ------------------------------------------------------------------ training */

static void
test_loss_falls_and_files (void **state)
{
  g_autofree char *dir = make_tmp_dir ();
  TinyOptions o = defaults;
  o.epochs = 3;
  g_autoptr(JsonNode) config = tiny_config_node (&o);
  Curve curve;
  curve_init (&curve);
  g_autoptr(MactRunner) runner = new_runner (config, dir, &curve);
  g_autoptr(GError) error = NULL;

  assert_true (mact_runner_train (runner, NULL, &error));
  assert_null (error);
  assert_int_equal (mact_runner_get_epoch (runner), 3);
  assert_int_equal (mact_runner_get_iter (runner), 12);          /* 16 samples / 4 */
  assert_int_equal (curve.losses->len, 12);                      /* log interval 1 */
  assert_int_equal (curve.grad_norms->len, 12);                  /* grad_clip is on */
  assert_int_equal (curve.top1->len, 3);

  /* The loss falls: the mean of the last epoch is below the mean of the first. */
  double first = 0, last = 0;
  for (guint i = 0; i < 4; i++)
    {
      first += g_array_index (curve.losses, double, i);
      last += g_array_index (curve.losses, double, 8 + i);
    }
  assert_true (last < first);

  /* The step policy: lr 0.05 for epochs 1-2, 0.005 in epoch 3. */
  MactOptimizer *opt = mact_runner_get_optimizer (runner);
  assert_true (fabs (mact_optimizer_get_lr (opt) - 0.005) < 1e-9);

  for (guint e = 1; e <= 3; e++)
    {
      g_autofree char *w = g_strdup_printf ("epoch_%u.safetensors", e);
      g_autofree char *o2 = g_strdup_printf ("epoch_%u.optim.safetensors", e);
      g_autofree char *j = g_strdup_printf ("epoch_%u.json", e);
      assert_true (exists_in (dir, w));
      assert_true (exists_in (dir, o2));
      assert_true (exists_in (dir, j));
    }
  assert_true (exists_in (dir, "latest.json"));

  /* The log: one JSON object per line, mmcv's keys. */
  const char *log_path = mact_runner_get_log_path (runner);
  assert_non_null (log_path);
  g_autofree char *text = NULL;
  assert_true (g_file_get_contents (log_path, &text, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit (g_strchomp (text), "\n", -1);
  assert_int_equal (g_strv_length (lines), 12 + 3);
  g_autoptr(JsonNode) first_line = json_from_string (lines[0], &error);
  assert_null (error);
  JsonObject *obj = json_node_get_object (first_line);
  assert_string_equal (json_object_get_string_member (obj, "mode"), "train");
  assert_int_equal (json_object_get_int_member (obj, "epoch"), 1);
  assert_int_equal (json_object_get_int_member (obj, "iter"), 1);
  assert_true (fabs (json_object_get_double_member (obj, "loss") -
                     g_array_index (curve.losses, double, 0)) < 1e-9);

  /* The weights file is a plain state dict with the recognizer's PyTorch keys. */
  g_autofree char *w1 = g_build_filename (dir, "epoch_3.safetensors", NULL);
  g_autoptr(MactTensorDict) saved = mact_safetensors_load (w1, NULL, &error);
  assert_null (error);
  assert_true (mact_tensor_dict_contains (saved, "backbone.conv1.conv.weight"));
  assert_true (mact_tensor_dict_contains (saved, "cls_head.fc_cls.weight"));

  curve_clear (&curve);
  mact_test_remove_tree (dir);
}

static void
run_to_end (const TinyOptions *o, const char *dir, Curve *curve, MactRunner **out)
{
  g_autoptr(JsonNode) config = tiny_config_node (o);
  MactRunner *runner = new_runner (config, dir, curve);
  g_autoptr(GError) error = NULL;
  assert_true (mact_runner_train (runner, NULL, &error));
  assert_null (error);
  *out = runner;
}

static void
assert_curves_equal (GArray *a, guint offset_a, GArray *b, guint offset_b, guint n)
{
  for (guint i = 0; i < n; i++)
    if (g_array_index (a, double, offset_a + i) != g_array_index (b, double, offset_b + i))
      fail_msg ("loss %u differs: %.9g vs %.9g", i, g_array_index (a, double, offset_a + i),
                g_array_index (b, double, offset_b + i));
}

static void
test_determinism_with_workers_and_dropout (void **state)
{
  g_autofree char *dir_a = make_tmp_dir ();
  g_autofree char *dir_b = make_tmp_dir ();
  Curve a, b;
  curve_init (&a);
  curve_init (&b);
  TinyOptions o = defaults;
  o.dropout = "0.5";
  o.workers = 0;
  g_autoptr(MactRunner) ra = NULL;
  g_autoptr(MactRunner) rb = NULL;
  run_to_end (&o, dir_a, &a, &ra);
  o.workers = 2;          /* prefetching threads must not change a thing */
  run_to_end (&o, dir_b, &b, &rb);
  assert_int_equal (a.losses->len, b.losses->len);
  assert_curves_equal (a.losses, 0, b.losses, 0, a.losses->len);
  assert_state_equal (MACT_MODULE (mact_runner_get_model (ra)),
                      MACT_MODULE (mact_runner_get_model (rb)));
  curve_clear (&a);
  curve_clear (&b);
  mact_test_remove_tree (dir_a);
  mact_test_remove_tree (dir_b);
}

static void
test_resume_continues_exactly (void **state)
{
  g_autofree char *dir_full = make_tmp_dir ();
  g_autofree char *dir_part = make_tmp_dir ();
  Curve full, part;
  curve_init (&full);
  curve_init (&part);
  TinyOptions o = defaults;
  o.dropout = "0.5";
  o.epochs = 3;
  g_autoptr(MactRunner) rf = NULL;
  run_to_end (&o, dir_full, &full, &rf);

  /* Train 1 epoch elsewhere, then resume from it to 3 epochs. */
  o.epochs = 1;
  g_autoptr(MactRunner) r1 = NULL;
  run_to_end (&o, dir_part, NULL, &r1);

  o.epochs = 3;
  g_autoptr(JsonNode) config = tiny_config_node (&o);
  g_autofree char *ckpt = g_build_filename (dir_part, "latest.json", NULL);
  json_object_set_string_member (json_node_get_object (config), "resume_from", ckpt);
  g_autoptr(MactRunner) r2 = new_runner (config, dir_part, &part);
  g_autoptr(GError) error = NULL;
  assert_true (mact_runner_train (r2, NULL, &error));
  assert_null (error);

  assert_int_equal (mact_runner_get_iter (r2), 12);
  assert_int_equal (part.losses->len, 8);
  assert_curves_equal (full.losses, 4, part.losses, 0, 8);
  assert_state_equal (MACT_MODULE (mact_runner_get_model (rf)),
                      MACT_MODULE (mact_runner_get_model (r2)));
  curve_clear (&full);
  curve_clear (&part);
  mact_test_remove_tree (dir_full);
  mact_test_remove_tree (dir_part);
}

static void
test_load_from_sets_weights_only (void **state)
{
  g_autofree char *dir = make_tmp_dir ();
  TinyOptions o = defaults;
  o.epochs = 1;
  g_autoptr(MactRunner) r1 = NULL;
  run_to_end (&o, dir, NULL, &r1);

  g_autoptr(JsonNode) config = tiny_config_node (&o);
  g_autofree char *weights = g_build_filename (dir, "epoch_1.safetensors", NULL);
  json_object_set_string_member (json_node_get_object (config), "load_from", weights);
  json_object_set_int_member (json_node_get_object (config), "total_epochs", 1);
  g_autofree char *dir2 = make_tmp_dir ();
  Curve c;
  curve_init (&c);
  g_autoptr(MactRunner) r2 = new_runner (config, dir2, &c);

  /* Evaluate before training: the loaded weights give the first run's val metrics. */
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) m1 = mact_runner_evaluate (r1, NULL, NULL, &error);
  assert_null (error);
  g_autoptr(JsonObject) m2 = NULL;
  {
    g_autoptr(MactRunner) probe = new_runner (config, dir2, NULL);
    g_autoptr(JsonObject) meta = mact_checkpoint_load (weights,
                                                       MACT_MODULE (mact_runner_get_model (probe)),
                                                       TRUE, NULL, &error);
    assert_null (error);
    assert_int_equal (json_object_get_size (meta), 0);
    assert_state_equal (MACT_MODULE (mact_runner_get_model (r1)),
                        MACT_MODULE (mact_runner_get_model (probe)));
    m2 = mact_runner_evaluate (probe, NULL, NULL, &error);
    assert_null (error);
  }
  assert_true (json_object_get_double_member (m1, "top1_acc") ==
               json_object_get_double_member (m2, "top1_acc"));

  /* load_from trains from epoch 0 (a whole epoch runs), unlike resume_from. */
  assert_true (mact_runner_train (r2, NULL, &error));
  assert_null (error);
  assert_int_equal (mact_runner_get_iter (r2), 4);
  assert_int_equal (c.losses->len, 4);
  curve_clear (&c);
  mact_test_remove_tree (dir);
  mact_test_remove_tree (dir2);
}

static void
test_frozen_stages_stay (void **state)
{
  g_autofree char *dir = make_tmp_dir ();
  TinyOptions o = defaults;
  o.frozen_stages = 1;   /* conv1 and layer1 */
  o.epochs = 1;
  g_autoptr(JsonNode) config = tiny_config_node (&o);
  g_autoptr(MactRunner) runner = new_runner (config, dir, NULL);
  MactModule *model = MACT_MODULE (mact_runner_get_model (runner));
  g_autoptr(MactTensorDict) before = mact_module_state_dict (model);
  g_autoptr(MactTensorDict) copy = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (before); i++)
    {
      g_autoptr(MactTensor) c = mact_tensor_clone (mact_tensor_dict_get_value (before, i));
      mact_tensor_dict_insert (copy, mact_tensor_dict_get_key (before, i), c);
    }
  g_autoptr(GError) error = NULL;
  assert_true (mact_runner_train (runner, NULL, &error));
  assert_null (error);

  g_autoptr(MactTensorDict) after = mact_module_state_dict (model);
  guint frozen_checked = 0, moved = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (after); i++)
    {
      const char *key = mact_tensor_dict_get_key (after, i);
      g_autoptr(MactTensor) a = mact_tensor_contiguous (mact_tensor_dict_get_value (after, i));
      MactTensor *b = mact_tensor_dict_lookup (copy, key);
      const gboolean same = memcmp (mact_tensor_get_data (a), mact_tensor_get_data (b),
                                    (gsize) mact_tensor_get_numel (a) * sizeof (float)) == 0;
      if (g_str_has_prefix (key, "backbone.conv1.") || g_str_has_prefix (key, "backbone.layer1."))
        {
          /* weights, BN affine and BN running statistics (frozen stages are in eval) */
          if (!same)
            fail_msg ("frozen '%s' changed", key);
          frozen_checked++;
        }
      else if (g_str_has_suffix (key, ".weight") && !same)
        moved++;
    }
  assert_true (frozen_checked > 10);
  assert_true (moved > 5);
  mact_test_remove_tree (dir);
}

static void
test_blending_with_label_smoothing (void **state)
{
  /* mmaction2 0.x ignores label_smooth_eps for blended (soft) labels of a single-label
   * head; mact smooths them.  The run must learn and stay deterministic. */
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *dir2 = make_tmp_dir ();
  TinyOptions o = defaults;
  o.smooth = "0.1";
  o.train_cfg = "{\"blending\": {\"type\": \"MixupBlending\", \"num_classes\": 4,"
                " \"alpha\": 0.2}}";
  o.epochs = 3;
  Curve a, b;
  curve_init (&a);
  curve_init (&b);
  g_autoptr(MactRunner) ra = NULL;
  g_autoptr(MactRunner) rb = NULL;
  run_to_end (&o, dir, &a, &ra);
  run_to_end (&o, dir2, &b, &rb);
  assert_curves_equal (a.losses, 0, b.losses, 0, a.losses->len);
  for (guint i = 0; i < a.losses->len; i++)
    assert_true (isfinite (g_array_index (a.losses, double, i)));
  curve_clear (&a);
  curve_clear (&b);
  mact_test_remove_tree (dir);
  mact_test_remove_tree (dir2);
}

static void
test_keep_and_best (void **state)
{
  g_autofree char *dir = make_tmp_dir ();
  TinyOptions o = defaults;
  o.epochs = 3;
  o.ckpt_extra = ", \"max_keep_ckpts\": 1";
  Curve c;
  curve_init (&c);
  g_autoptr(MactRunner) runner = NULL;
  run_to_end (&o, dir, &c, &runner);
  assert_false (exists_in (dir, "epoch_1.json"));
  assert_false (exists_in (dir, "epoch_1.safetensors"));
  assert_false (exists_in (dir, "epoch_2.optim.safetensors"));
  assert_true (exists_in (dir, "epoch_3.json"));

  /* Exactly one best checkpoint, at the first epoch with the highest top1. */
  guint best_epoch = 0;
  double best = -1;
  for (guint i = 0; i < c.top1->len; i++)
    if (g_array_index (c.top1, double, i) > best)
      {
        best = g_array_index (c.top1, double, i);
        best_epoch = i + 1;
      }
  g_autofree char *name = g_strdup_printf ("best_top1_acc_epoch_%u.json", best_epoch);
  assert_true (exists_in (dir, name));
  guint n_best = 0;
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *f;
  while ((f = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (f, "best_") && g_str_has_suffix (f, ".json"))
      n_best++;
  assert_int_equal (n_best, 1);
  curve_clear (&c);
  mact_test_remove_tree (dir);
}

static void
test_cancel (void **state)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autoptr(JsonNode) config = tiny_config_node (&defaults);
  g_autoptr(MactRunner) runner = new_runner (config, dir, NULL);
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_autoptr(GError) error = NULL;
  assert_false (mact_runner_train (runner, cancel, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_CANCELLED);
  assert_int_equal (mact_runner_get_iter (runner), 0);
  mact_test_remove_tree (dir);
}

/* ------------------------------------------------------------------ metrics */

static void
test_evaluate_scores_goldens (void **state)
{
  /* 5 samples, 6 classes.  Predictions (argmax): 0, 1, 1, 3, 5; labels 0, 1, 2, 2, 4.
   * top1 = 2/5.  The true class ranks: s0 1st, s1 1st, s2 2nd, s3 3rd, s4 6th ->
   * top5 = 4/5.  Classes seen (labels or predictions): 0,1,2,3,4,5 -> recalls
   * 1, 1, 0, (3 only predicted) 0, 0, (5 only predicted) 0 -> mean 2/6. */
  const float scores[] = {
    0.9f, 0.1f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.1f, 0.8f, 0.0f, 0.05f, 0.0f, 0.05f,
    0.1f, 0.5f, 0.4f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.3f, 0.2f, 0.5f, 0.0f, 0.0f,
    0.1f, 0.2f, 0.15f, 0.1f, 0.05f, 0.4f,
  };
  const float labels[] = { 0, 1, 2, 2, 4 };
  const gint64 ss[] = { 5, 6 }, ls[] = { 5 };
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) s = mact_tensor_new_from_data (scores, 30, 2, ss, &error);
  g_autoptr(MactTensor) l = mact_tensor_new_from_data (labels, 5, 1, ls, &error);
  g_autoptr(JsonObject) m = mact_evaluate_scores (s, l, &error);
  assert_null (error);
  assert_true (fabs (json_object_get_double_member (m, "top1_acc") - 0.4) < 1e-12);
  assert_true (fabs (json_object_get_double_member (m, "top5_acc") - 0.8) < 1e-12);
  assert_true (fabs (json_object_get_double_member (m, "mean_class_accuracy") - 2.0 / 6.0)
               < 1e-12);

  /* Errors: wrong shapes, a label that is not a class index. */
  const gint64 bad_ls[] = { 4 };
  g_autoptr(MactTensor) l4 = mact_tensor_new_from_data (labels, 4, 1, bad_ls, &error);
  assert_null (mact_evaluate_scores (s, l4, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE);
  const float out_of_range[] = { 0, 1, 2, 6, 4 };
  g_autoptr(MactTensor) l6 = mact_tensor_new_from_data (out_of_range, 5, 1, ls, &error);
  assert_null (mact_evaluate_scores (s, l6, &error));
  mact_test_assert_error (&error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ errors */

static void
assert_runner_error (const char *remove_key, const char *set_key, const char *set_json,
                     GQuark domain, gint code)
{
  g_autoptr(JsonNode) config = tiny_config_node (&defaults);
  JsonObject *root = json_node_get_object (config);
  if (remove_key != NULL)
    json_object_remove_member (root, remove_key);
  if (set_key != NULL)
    {
      g_autoptr(GError) e = NULL;
      JsonNode *value = json_from_string (set_json, &e);
      assert_null (e);
      json_object_set_member (root, set_key, value);
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  assert_null (runner);
  mact_test_assert_error (&error, domain, code);
}

static void
test_config_errors (void **state)
{
  const GQuark T = MACT_TRAIN_ERROR;
  const gint C = MACT_TRAIN_ERROR_INVALID_CONFIG;
  assert_runner_error ("total_epochs", NULL, NULL, T, C);
  assert_runner_error (NULL, "total_epochs", "0", T, C);
  assert_runner_error (NULL, "total_epochs", "\"3\"", T, C);
  assert_runner_error ("optimizer", NULL, NULL, T, C);
  assert_runner_error ("data", NULL, NULL, T, C);
  assert_runner_error (NULL, "data", "{\"workers_per_gpu\": 1, \"train\": {}}", T, C);
  assert_runner_error (NULL, "optimizer_config", "{\"grad_clip\": {\"max_norm\": -1}}", T, C);
  assert_runner_error (NULL, "optimizer_config",
                       "{\"grad_clip\": {\"max_norm\": 1, \"norm_type\": 0.5}}", T, C);
  assert_runner_error (NULL, "evaluation", "{\"save_best\": \"loss\"}", T, C);
  assert_runner_error (NULL, "checkpoint_config", "{\"interval\": 0}", T, C);
  assert_runner_error (NULL, "log_config", "[]", T, C);
  assert_runner_error (NULL, "seed", "-1", T, C);
  assert_runner_error (NULL, "work_dir", "3", T, C);
  assert_runner_error (NULL, "data",
                       "{\"videos_per_gpu\": 1, \"train\": {\"type\": \"NoSuchDataset\"}}",
                       MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);

  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) array = json_from_string ("[1]", &error);
  assert_null (mact_runner_new (array, &error));
  mact_test_assert_error (&error, T, C);

  /* No work_dir anywhere: the error comes at train time. */
  g_autoptr(JsonNode) config = tiny_config_node (&defaults);
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  assert_non_null (runner);
  assert_false (mact_runner_train (runner, NULL, &error));
  mact_test_assert_error (&error, T, C);
}

static void
test_checkpoint_errors (void **state)
{
  g_autofree char *dir = make_tmp_dir ();
  TinyOptions o = defaults;
  o.epochs = 1;
  g_autoptr(MactRunner) r1 = NULL;
  run_to_end (&o, dir, NULL, &r1);
  MactModule *model = MACT_MODULE (mact_runner_get_model (r1));
  g_autoptr(GError) error = NULL;

  /* A missing checkpoint. */
  g_autofree char *missing = g_build_filename (dir, "nope.json", NULL);
  assert_null (mact_checkpoint_load (missing, model, TRUE, NULL, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO);

  /* Not JSON, not an object, no weights, a weights path leaving the directory. */
  const struct { const char *text; } bad[] = {
    { "{not json" }, { "[1, 2]" }, { "{\"epoch\": 1}" },
    { "{\"weights\": \"../epoch_1.safetensors\"}" }, { "{\"weights\": 5}" },
  };
  g_autofree char *bad_path = g_build_filename (dir, "bad.json", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      assert_true (g_file_set_contents (bad_path, bad[i].text, -1, NULL));
      assert_null (mact_checkpoint_load (bad_path, model, TRUE, NULL, &error));
      mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
    }

  /* Optimizer state of another optimizer type. */
  g_autofree char *ckpt = g_build_filename (dir, "epoch_1.json", NULL);
  g_autoptr(JsonNode) config = tiny_config_node (&o);
  g_autoptr(JsonNode) adam = json_from_string ("{\"type\": \"Adam\", \"lr\": 0.001}", NULL);
  json_object_set_member (json_node_get_object (config), "optimizer", json_node_copy (adam));
  g_autoptr(MactRunner) r2 = mact_runner_new (config, &error);
  assert_null (error);
  assert_null (mact_checkpoint_load (ckpt, MACT_MODULE (mact_runner_get_model (r2)), TRUE,
                                     mact_runner_get_optimizer (r2), &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);

  /* A weights file of another model: strict load names the keys. */
  g_autoptr(MactModule) other = mact_test_build_kind (
    "{\"type\": \"I3DHead\", \"num_classes\": 3, \"in_channels\": 8}", MACT_TYPE_MODULE);
  assert_null (mact_checkpoint_load (ckpt, other, TRUE, NULL, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "epoch_1.safetensors"));
  g_clear_error (&error);

  /* latest.json cannot point at a checkpoint that does not exist. */
  assert_false (mact_checkpoint_link (dir, "latest", "epoch_99", &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO);

  /* resume_from pointing nowhere fails when training starts. */
  g_autoptr(JsonNode) config2 = tiny_config_node (&o);
  json_object_set_string_member (json_node_get_object (config2), "resume_from", missing);
  g_autoptr(MactRunner) r3 = new_runner (config2, dir, NULL);
  assert_false (mact_runner_train (r3, NULL, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO);

  /* A work_dir that cannot be created. */
  g_autofree char *file = g_build_filename (dir, "a-file", NULL);
  assert_true (g_file_set_contents (file, "x", -1, NULL));
  g_autofree char *under_file = g_build_filename (file, "sub", NULL);
  g_autoptr(JsonNode) config3 = tiny_config_node (&o);
  g_autoptr(MactRunner) r4 = new_runner (config3, under_file, NULL);
  assert_false (mact_runner_train (r4, NULL, &error));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO);
  mact_test_remove_tree (dir);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_evaluate_scores_goldens),
    cmocka_unit_test (test_loss_falls_and_files),
    cmocka_unit_test (test_determinism_with_workers_and_dropout),
    cmocka_unit_test (test_resume_continues_exactly),
    cmocka_unit_test (test_load_from_sets_weights_only),
    cmocka_unit_test (test_frozen_stages_stay),
    cmocka_unit_test (test_blending_with_label_smoothing),
    cmocka_unit_test (test_keep_and_best),
    cmocka_unit_test (test_cancel),
    cmocka_unit_test (test_config_errors),
    cmocka_unit_test (test_checkpoint_errors),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
