/* The `mact` program as a user meets it: help, version, usage errors with exit status 2,
 * run-time errors on stderr with status 1 naming the file, and a short `mact train` run
 * whose output has mmcv's log lines and whose work directory holds the checkpoints.
 * The program is the build tree's (MACT_TEST_CLI); it inherits the test's plugin path. */
#include "mact-test.h"

#include <string.h>
#include <glib/gstdio.h>

static void
test_help_and_version (void **state)
{
  MactTestRun r = mact_test_run_cli ("--version", NULL);
  assert_int_equal (r.status, 0);
  g_autofree char *expected = g_strdup_printf ("mact %s\n", MACT_VERSION_S);
  assert_string_equal (r.out, expected);
  mact_test_run_clear (&r);

  r = mact_test_run_cli ("--help", NULL);
  assert_int_equal (r.status, 0);
  assert_non_null (strstr (r.out, "train"));
  mact_test_run_clear (&r);

  r = mact_test_run_cli ("train", "--help", NULL);
  assert_int_equal (r.status, 0);
  assert_non_null (strstr (r.out, "--resume-from"));
  assert_non_null (strstr (r.out, "--validate"));
  mact_test_run_clear (&r);
}

static void
test_usage_errors (void **state)
{
  MactTestRun r = mact_test_run_cli (NULL);
  assert_int_equal (r.status, 2);
  assert_non_null (strstr (r.err, "Usage"));
  mact_test_run_clear (&r);

  r = mact_test_run_cli ("frobnicate", NULL);
  assert_int_equal (r.status, 2);
  assert_non_null (strstr (r.err, "unknown command 'frobnicate'"));
  mact_test_run_clear (&r);

  r = mact_test_run_cli ("train", NULL);
  assert_int_equal (r.status, 2);
  assert_non_null (strstr (r.err, "exactly one CONFIG"));
  mact_test_run_clear (&r);

  r = mact_test_run_cli ("train", "--no-such-option", "x.json", NULL);
  assert_int_equal (r.status, 2);
  assert_non_null (strstr (r.err, "no-such-option"));
  mact_test_run_clear (&r);
}

static void
test_runtime_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-cli-XXXXXX", &error);
  assert_null (error);

  g_autofree char *missing = g_build_filename (dir, "missing.json", NULL);
  MactTestRun r = mact_test_run_cli ("train", missing, NULL);
  assert_int_equal (r.status, 1);
  assert_true (g_str_has_prefix (r.err, "mact train: "));
  assert_non_null (strstr (r.err, "missing.json"));
  assert_string_equal (r.out, "");
  mact_test_run_clear (&r);

  g_autofree char *bad = g_build_filename (dir, "bad.json", NULL);
  assert_true (g_file_set_contents (bad, "{\"model\": {\"type\": \"Recognizer2D\"", -1, NULL));
  r = mact_test_run_cli ("train", bad, NULL);
  assert_int_equal (r.status, 1);
  assert_non_null (strstr (r.err, "bad.json"));
  mact_test_run_clear (&r);

  g_autofree char *no_epochs = g_build_filename (dir, "no-epochs.json", NULL);
  assert_true (g_file_set_contents (no_epochs, "{\"model\": {}}", -1, NULL));
  r = mact_test_run_cli ("train", no_epochs, NULL);
  assert_int_equal (r.status, 1);
  assert_non_null (strstr (r.err, "total_epochs"));
  mact_test_run_clear (&r);

  g_unlink (missing);
  g_unlink (bad);
  g_unlink (no_epochs);
  g_rmdir (dir);
}

static const char *tiny_train =
  "{\"model\": {\"type\": \"Recognizer3D\","
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"
  "                 \"pretrained\": null, \"pretrained2d\": false},"
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 3, \"in_channels\": 32,"
  "                 \"dropout_ratio\": 0.0}, \"test_cfg\": {\"average_clips\": \"prob\"}},"
  " \"data\": {\"videos_per_gpu\": 2,"
  "  \"train\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 3,"
  "             \"num_samples\": 4, \"clip_len\": 4, \"height\": 16, \"width\": 16,"
  "             \"input_format\": \"NCTHW\"},"
  "  \"val\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 3, \"split\": \"val\","
  "           \"num_samples\": 4, \"clip_len\": 4, \"height\": 16, \"width\": 16,"
  "           \"input_format\": \"NCTHW\"}},"
  " \"optimizer\": {\"type\": \"SGD\", \"lr\": 0.01, \"momentum\": 0.9},"
  " \"total_epochs\": 2, \"log_config\": {\"interval\": 1}}";

static void
test_train_runs (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-cli-XXXXXX", &error);
  g_autofree char *config = g_build_filename (dir, "tiny.json", NULL);
  g_autofree char *work = g_build_filename (dir, "work", NULL);
  assert_true (g_file_set_contents (config, tiny_train, -1, NULL));

  MactTestRun r = mact_test_run_cli ("train", config, "--work-dir", work, "--validate", "--seed", "5",
                         "--threads", "1", NULL);
  if (r.status != 0)
    fail_msg ("mact train failed: %s", r.err);
  assert_non_null (strstr (r.out, "Epoch [1][1/2]\tlr: 1.000e-02"));
  assert_non_null (strstr (r.out, "Epoch [2][2/2]"));
  assert_non_null (strstr (r.out, "loss_cls: "));
  assert_non_null (strstr (r.out, "Epoch(val) [2]"));
  assert_non_null (strstr (r.out, "top1_acc: "));
  assert_non_null (strstr (r.out, "Training done: 2 epochs, 4 iterations"));
  assert_null (strstr (r.out, "\r"));   /* not a terminal: no progress bar */
  mact_test_run_clear (&r);

  g_autofree char *latest = g_build_filename (work, "latest.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  assert_true (json_parser_load_from_file (parser, latest, NULL));
  JsonObject *meta = json_node_get_object (json_parser_get_root (parser));
  assert_int_equal (json_object_get_int_member (meta, "epoch"), 2);
  assert_int_equal (json_object_get_int_member (meta, "seed"), 5);
  assert_string_equal (json_object_get_string_member (meta, "weights"),
                       "epoch_2.safetensors");

  /* Resuming at the end trains nothing more and succeeds. */
  r = mact_test_run_cli ("train", config, "--work-dir", work, "--resume-from", latest, NULL);
  assert_int_equal (r.status, 0);
  assert_non_null (strstr (r.out, "Training done: 2 epochs, 4 iterations"));
  mact_test_run_clear (&r);

  /* Clean up the work directory. */
  g_autoptr(GDir) d = g_dir_open (work, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (work, name, NULL);
      g_unlink (p);
    }
  g_rmdir (work);
  g_unlink (config);
  g_rmdir (dir);
}

/* The first prediction of a clip's line in `mact demo`'s table: "NAME PROB". */
static void
demo_top1 (const char *out, const char *clip, char **name, double *prob)
{
  const char *line = strstr (out, clip);
  if (line == NULL)
    fail_msg ("no line for %s in:\n%s", clip, out);
  g_autofree char *copy = g_strndup (line, strcspn (line, "\n"));
  g_auto(GStrv) words = g_strsplit_set (copy, " ,", -1);
  /* clip, true action, then the first non-empty words: name and probability. */
  guint seen = 0;
  for (guint i = 0; words[i] != NULL; i++)
    {
      if (words[i][0] == '\0')
        continue;
      if (seen == 2)
        *name = g_strdup (words[i]);
      else if (seen == 3)
        {
          *prob = g_ascii_strtod (words[i], NULL);
          return;
        }
      seen++;
    }
  fail_msg ("cannot parse: %s", copy);
}

/* `mact demo` end to end at a tiny size: it trains, writes one video per action,
 * classifies each, and its numbers agree with `mact infer` on the same file. */
static void
test_demo_runs (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-demo-XXXXXX", &error);
  g_autofree char *work = g_build_filename (dir, "demo", NULL);

  MactTestRun r = mact_test_run_cli ("demo", "--epochs", "1", "--train-samples", "16",
                         "--work-dir", work, "--threads", "1", NULL);
  if (r.status != 0)
    fail_msg ("mact demo failed: %s", r.err);
  assert_non_null (strstr (r.out, "Epoch(val) [1]"));
  assert_non_null (strstr (r.out, "Trained in "));
  assert_non_null (strstr (r.out, " of 10 video files classified correctly."));
  assert_non_null (strstr (r.out, "mact infer "));
  for (guint a = 0; a < MACT_SYNTHETIC_ACTION_N_ACTIONS; a++)
    {
      g_autofree char *clip = g_strdup_printf ("%02u_%s.mp4", a,
                                               mact_synthetic_action_get_name (a));
      g_autofree char *path = g_build_filename (work, "clips", clip, NULL);
      assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
      assert_non_null (strstr (r.out, clip));
    }
  g_autofree char *labels = g_build_filename (work, "labels.txt", NULL);
  g_autofree char *label_text = NULL;
  assert_true (g_file_get_contents (labels, &label_text, NULL, NULL));
  assert_true (g_str_has_prefix (label_text, "move_right\nmove_left\n"));

  /* The same file through `mact infer` with the checkpoint the demo saved. */
  g_autofree char *top_name = NULL;
  double top_prob = -1;
  demo_top1 (r.out, "00_move_right.mp4", &top_name, &top_prob);
  mact_test_run_clear (&r);
  g_autofree char *config = g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "configs",
                                              "synthetic", "r3d_r18_8x1x1_synthetic.json",
                                              NULL);
  g_autofree char *weights = g_build_filename (work, "epoch_1.safetensors", NULL);
  g_autofree char *clip0 = g_build_filename (work, "clips", "00_move_right.mp4", NULL);
  r = mact_test_run_cli ("infer", config, weights, clip0, "--labels", labels, "--topk", "1",
               "--threads", "1", NULL);
  if (r.status != 0)
    fail_msg ("mact infer failed: %s", r.err);
  g_autofree char *expected = g_strdup_printf ("%s: ", top_name);
  assert_true (g_str_has_prefix (r.out, expected));
  assert_float_equal (g_ascii_strtod (r.out + strlen (expected), NULL), top_prob, 1.5e-3);
  mact_test_run_clear (&r);

  /* Usage and run-time errors. */
  r = mact_test_run_cli ("demo", "--epochs", "-1", NULL);
  assert_int_equal (r.status, 2);
  assert_non_null (strstr (r.err, "--epochs"));
  mact_test_run_clear (&r);
  r = mact_test_run_cli ("demo", "extra", NULL);
  assert_int_equal (r.status, 2);
  assert_non_null (strstr (r.err, "extra"));
  mact_test_run_clear (&r);
  g_autofree char *blocker = g_build_filename (dir, "a-file", NULL);
  assert_true (g_file_set_contents (blocker, "", -1, NULL));
  g_autofree char *under_file = g_build_filename (blocker, "work", NULL);
  r = mact_test_run_cli ("demo", "--epochs", "1", "--train-samples", "4", "--work-dir", under_file,
               NULL);
  assert_int_equal (r.status, 1);
  assert_true (g_str_has_prefix (r.err, "mact demo: "));
  assert_non_null (strstr (r.err, "a-file"));
  mact_test_run_clear (&r);

  mact_test_remove_tree (dir);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_help_and_version),
    cmocka_unit_test (test_usage_errors),
    cmocka_unit_test (test_runtime_errors),
    cmocka_unit_test (test_train_runs),
    cmocka_unit_test (test_demo_runs),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
