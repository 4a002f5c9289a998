/* mact-cmd-train.c: `mact train CONFIG`, mmaction2's tools/train.py.
 *
 * The runner does the work and reports through its "log" signal; mact-cli-train-log.c
 * turns log entries into mmcv's text lines (and a progress bar on a terminal).
 *
 * Under mpirun (`mpirun -np K mact train CONFIG`) each process is one rank of a
 * data-parallel job: MPI is initialised, the runner is attached to it, only rank 0
 * prints the log, and any error on any rank ends the whole job (MPI_Abort), since the
 * other ranks would otherwise wait for it forever.  Started without mpirun, no MPI call
 * is made at all. */
#include "mact-cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* One rank's failure: says which rank, then ends the job on every rank. */
static int
train_fail (gboolean distributed, const GError *error)
{
  if (!distributed || !mact_distributed_is_initialized ())
    return mact_cli_fail ("train", error);
  fprintf (stderr, "mact train: [rank %u/%u] %s\n", mact_distributed_get_rank (),
           mact_distributed_get_world_size (), error ? error->message : "failed");
  fflush (stderr);
  mact_distributed_abort (1);
  return 1;
}

/* Launched by mpirun: initialise MPI.  Unless told otherwise, the ranks on one machine
 * share its cores rather than each starting a thread per core. */
static gboolean
init_distributed (gint threads, double timeout, GError **error)
{
  if (!mact_distributed_is_available ())
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_DISTRIBUTED,
                   "started by an MPI launcher, but libmact was built without MPI");
      return FALSE;
    }
  if (timeout >= 0)
    mact_distributed_set_timeout (timeout);
  if (!mact_distributed_init (error))
    return FALSE;
#ifdef __GLIBC__
  /* MPI's non-blocking collectives allocate and free buffers of a bucket's size each
   * step; with glibc's defaults those come from fresh pages every time (heap trimming),
   * and the page faults doubled the backward time of a step in measurements.  A training
   * process can afford to keep its freed memory. */
  mallopt (M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt (M_TRIM_THRESHOLD, 512 * 1024 * 1024);
#endif
  const char *local = g_getenv ("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (threads <= 0 && g_getenv ("MACT_NUM_THREADS") == NULL && local != NULL)
    {
      const guint64 per_node = g_ascii_strtoull (local, NULL, 10);
      if (per_node > 1)
        mact_set_num_threads ((gint) MAX (1, g_get_num_processors () / per_node));
    }
  return TRUE;
}

int
mact_cli_train (int argc, char **argv)
{
  g_autofree char *work_dir = NULL;
  g_autofree char *resume_from = NULL;
  g_autofree char *load_from = NULL;
  gint64 seed = -1;
  gint threads = 0;
  gboolean validate = FALSE;
  double dist_timeout = -1, bucket_mb = 25.0;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "work-dir", 0, 0, G_OPTION_ARG_FILENAME, &work_dir,
      "Directory for logs and checkpoints (default: the config's work_dir, else "
      "./work_dirs/CONFIG-NAME)", "DIR" },
    { "resume-from", 0, 0, G_OPTION_ARG_FILENAME, &resume_from,
      "Resume from a checkpoint (its .json): weights, optimizer, epoch", "FILE" },
    { "load-from", 0, 0, G_OPTION_ARG_FILENAME, &load_from,
      "Initialise weights from a checkpoint or .safetensors state dict", "FILE" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (default: the config's, else 0)",
      "N" },
    { "validate", 0, 0, G_OPTION_ARG_NONE, &validate,
      "Evaluate on data.val during training (as evaluation in the config says)", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Compute threads (default: "
      "MACT_NUM_THREADS, else all cores, shared by the ranks on a machine)", "N" },
    { "dist-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &dist_timeout, "Under mpirun: seconds a "
      "rank may wait for the others before the job is ended (default: MACT_DIST_TIMEOUT, "
      "else 1800; 0: no limit)", "S" },
    { "bucket-mb", 0, 0, G_OPTION_ARG_DOUBLE, &bucket_mb, "Under mpirun: size of the "
      "gradient buckets reduced while backward runs (default: 25)", "MB" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, "CONFIG" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("CONFIG - train a recognizer");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "CONFIG is a JSON config with mmaction2's keys: model, data, optimizer,\n"
    "optimizer_config, lr_config, total_epochs, checkpoint_config, evaluation,\n"
    "log_config, work_dir, load_from, resume_from, seed.\n\n"
    "Data-parallel on K processes, on one machine or several (hostfile):\n"
    "  mpirun -np K [--hostfile FILE] mact train CONFIG\n"
    "Each rank trains on its shard with data.videos_per_gpu videos per batch.");
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      mact_cli_fail ("train", error);
      return 2;
    }
  if (rest == NULL || rest[0] == NULL || rest[1] != NULL)
    {
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
      fprintf (stderr, "mact train: expected exactly one CONFIG\n\n%s", help);
      return 2;
    }
  if (threads > 0)
    mact_set_num_threads (threads);
  if (!(bucket_mb > 0))
    {
      fprintf (stderr, "mact train: --bucket-mb must be positive\n");
      return 2;
    }

  /* Only a launcher's environment brings MPI in: a plain run makes no MPI call. */
  const gboolean distributed = mact_distributed_is_launched ();
  if (distributed && !init_distributed (threads, dist_timeout, &error))
    return train_fail (distributed, error);
  const gboolean is_main = mact_distributed_get_rank () == 0;

  g_autoptr(JsonNode) config = mact_config_load_file (rest[0], &error);
  if (config == NULL)
    return train_fail (distributed, error);
  if (JSON_NODE_HOLDS_OBJECT (config))
    {
      JsonObject *root = json_node_get_object (config);
      if (resume_from != NULL)
        json_object_set_string_member (root, "resume_from", resume_from);
      if (load_from != NULL)
        json_object_set_string_member (root, "load_from", load_from);
      if (seed >= 0)
        json_object_set_int_member (root, "seed", seed);
    }

  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  if (runner == NULL)
    return train_fail (distributed, error);
  if (distributed && !mact_distributed_attach_runner (runner, &error))
    return train_fail (distributed, error);
  g_object_set (runner, "bucket-cap-mb", bucket_mb, NULL);

  if (work_dir == NULL && mact_runner_get_work_dir (runner) == NULL)
    {
      g_autofree char *base = g_path_get_basename (rest[0]);
      char *dot = strrchr (base, '.');
      if (dot != NULL)
        *dot = '\0';
      work_dir = g_build_filename (".", "work_dirs", base, NULL);
    }
  if (work_dir != NULL)
    g_object_set (runner, "work-dir", work_dir, NULL);
  g_object_set (runner, "validate", validate, NULL);

  MactCliTrainLog out = { .tty = isatty (STDOUT_FILENO) };
  /* All ranks log the same all-reduced values: rank 0 speaks for them, as in mmcv. */
  if (is_main)
    g_signal_connect (runner, "log", G_CALLBACK (mact_cli_train_log_print), &out);

  if (!mact_runner_train (runner, NULL, &error))
    {
      mact_cli_train_log_clear_bar (&out);
      return train_fail (distributed, error);
    }
  mact_cli_train_log_clear_bar (&out);
  if (is_main)
    {
      if (distributed)
        printf ("Training done on %u ranks: ", mact_distributed_get_world_size ());
      else
        printf ("Training done: ");
      printf ("%u epochs, %" G_GUINT64_FORMAT " iterations; log %s\n",
              mact_runner_get_epoch (runner), mact_runner_get_iter (runner),
              mact_runner_get_log_path (runner));
      fflush (stdout);
    }
  if (distributed && !mact_distributed_finalize (&error))
    return train_fail (distributed, error);
  return 0;
}
