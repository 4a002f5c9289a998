/* Acceptance of the training issue: each shipped config under configs/synthetic/ trains
 * its recognizer from scratch on the synthetic action dataset to >= 95% top-1 on the val
 * split within 5 minutes on this machine (2 cores), through the same MactRunner that
 * `mact train --validate` uses.  The config is used as shipped, except that the work
 * directory is a temporary one.  Its own meson suite (`acceptance`), since each case takes
 * minutes. */
#include "mact-test.h"

#include <glib/gstdio.h>
#include <malloc.h>

#define TIME_LIMIT_S   300.0
#define MIN_TOP1       0.95

typedef struct {
  double best_top1;
  double last_top1;
} Progress;

static void
on_log (MactRunner *runner, JsonObject *entry, Progress *p)
{
  if (!g_str_equal (json_object_get_string_member (entry, "mode"), "val"))
    return;
  p->last_top1 = json_object_get_double_member (entry, "top1_acc");
  p->best_top1 = MAX (p->best_top1, p->last_top1);
  g_printerr ("# epoch %" G_GINT64_FORMAT ": top1 %.4f, mean class %.4f\n",
              json_object_get_int_member (entry, "epoch"), p->last_top1,
              json_object_get_double_member (entry, "mean_class_accuracy"));
}

static void
train_config (const char *name)
{
  g_autofree char *path = g_build_filename (g_getenv ("MACT_TEST_CONFIG_DIR"), "synthetic",
                                            name, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) config = mact_config_load_file (path, &error);
  assert_null (error);
  g_autofree char *work_dir = g_dir_make_tmp ("mact-accept-XXXXXX", &error);
  assert_null (error);

  const gint64 start = g_get_monotonic_time ();
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  assert_null (error);
  g_object_set (runner, "work-dir", work_dir, "validate", TRUE, NULL);
  Progress p = { 0, 0 };
  g_signal_connect (runner, "log", G_CALLBACK (on_log), &p);
  gboolean ok = mact_runner_train (runner, NULL, &error);
  const double elapsed = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_printerr ("# %s: %.1f s, best top1 %.4f, last top1 %.4f\n", name, elapsed, p.best_top1,
              p.last_top1);
  mact_test_remove_tree (work_dir);
  if (!ok)
    fail_msg ("%s: %s", name, error->message);
  assert_true (p.best_top1 >= MIN_TOP1);
  assert_true (elapsed <= TIME_LIMIT_S);
}

static void
test_tsm_2d (void **state)
{
  train_config ("tsm_r18_1x1x4_synthetic.json");
}

static void
test_r3d_3d (void **state)
{
  train_config ("r3d_r18_8x1x1_synthetic.json");
}

int
main (void)
{
  /* The heap settings `mact train` uses (tools/mact/mact-main.c), so the time measured
   * here is the program's. */
  mallopt (M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt (M_TRIM_THRESHOLD, 512 * 1024 * 1024);
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_tsm_2d),
    cmocka_unit_test (test_r3d_3d),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
