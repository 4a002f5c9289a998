/* `mpirun -np 2 mact train`, end to end (meson suite mpi).
 *
 * Each case starts a real job (mpirun from MACT_TEST_MPIRUN, the program from
 * MACT_TEST_CLI) in its own process group, with its output in files, and a deadline:
 * - a healthy job trains, only rank 0 prints the log and writes the work directory;
 * - a rank killed mid-training (SIGKILL) ends the whole job with an error, in bounded
 *   time;
 * - a rank that hangs (SIGSTOP) makes the other rank's collective time out
 *   (--dist-timeout 3): it reports which rank and what timed out, and the job ends.
 * The ranks are found by the environment mpirun gives them (OMPI_COMM_WORLD_RANK) plus a
 * tag this test sets, so no other process on the machine is ever signalled. */
#include "mact-test-dist.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char   *dir;
  char   *work_dir;
  char   *out_path;
  char   *err_path;
  char   *tag;
  GPid    pid;
  gint64  started;
} Job;

static void
child_setup (gpointer data)
{
  /* Its own process group, so a stuck job can be killed as a whole. */
  setpgid (0, 0);
}

static Job *
job_start (guint epochs, const char *const *extra)
{
  const char *mpirun = g_getenv ("MACT_TEST_MPIRUN");
  const char *cli = g_getenv ("MACT_TEST_CLI");
  assert_non_null (mpirun);
  assert_non_null (cli);

  Job *job = g_new0 (Job, 1);
  job->dir = mact_test_dist_tmp_dir ();
  job->work_dir = g_build_filename (job->dir, "work", NULL);
  job->out_path = g_build_filename (job->dir, "stdout", NULL);
  job->err_path = g_build_filename (job->dir, "stderr", NULL);
  job->tag = g_strdup_printf ("%d-%" G_GINT64_FORMAT, getpid (), g_get_monotonic_time ());
  g_autofree char *config = g_build_filename (job->dir, "tiny.json", NULL);
  g_autofree char *text = mact_test_dist_config_text (2, 16, epochs);
  assert_true (g_file_set_contents (config, text, -1, NULL));

  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *fixed[] = { mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                          cli, "train", config, "--work-dir", job->work_dir };
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (argv, (gpointer) fixed[i]);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);

  g_auto(GStrv) envp = g_get_environ ();
  envp = g_environ_setenv (envp, "MACT_TEST_TAG", job->tag, TRUE);
  envp = g_environ_setenv (envp, "MACT_NUM_THREADS", "1", TRUE);

  int out = open (job->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open (job->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true (out >= 0 && err >= 0);
  g_autoptr(GError) error = NULL;
  job->started = g_get_monotonic_time ();
  gboolean ok = g_spawn_async_with_fds (NULL, (char **) argv->pdata, envp,
                                        G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL,
                                        &job->pid, -1, out, err, &error);
  close (out);
  close (err);
  assert_null (error);
  assert_true (ok);
  return job;
}

/* The pid of rank @rank of @job's mact processes, or 0. */
static pid_t
job_find_rank (Job *job, guint rank)
{
  g_autofree char *want_tag = g_strconcat ("MACT_TEST_TAG=", job->tag, NULL);
  g_autofree char *want_rank = g_strdup_printf ("OMPI_COMM_WORLD_RANK=%u", rank);
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  assert_non_null (proc);
  const char *name;
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      if (!g_ascii_isdigit (name[0]))
        continue;
      g_autofree char *comm_path = g_build_filename ("/proc", name, "comm", NULL);
      g_autofree char *comm = NULL;
      if (!g_file_get_contents (comm_path, &comm, NULL, NULL) ||
          !g_str_equal (g_strchomp (comm), "mact"))
        continue;
      g_autofree char *env_path = g_build_filename ("/proc", name, "environ", NULL);
      g_autofree char *env = NULL;
      gsize len = 0;
      if (!g_file_get_contents (env_path, &env, &len, NULL))
        continue;
      gboolean tag = FALSE, rk = FALSE;
      for (gsize off = 0; off < len; off += strlen (env + off) + 1)
        {
          tag |= g_str_equal (env + off, want_tag);
          rk |= g_str_equal (env + off, want_rank);
        }
      if (tag && rk)
        return (pid_t) g_ascii_strtoll (name, NULL, 10);
    }
  return 0;
}

/* Waits until rank 0 has logged a training iteration (the job is under way). */
static void
job_wait_training (Job *job, double limit)
{
  const gint64 deadline = g_get_monotonic_time () + (gint64) (limit * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GDir) d = g_dir_open (job->work_dir, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        if (g_str_has_suffix (name, ".log.json"))
          {
            g_autofree char *path = g_build_filename (job->work_dir, name, NULL);
            g_autofree char *text = NULL;
            if (g_file_get_contents (path, &text, NULL, NULL) && strchr (text, '\n') != NULL)
              return;
          }
      g_usleep (20000);
    }
  fail_msg ("the job did not start training within %g s", limit);
}

/* Waits for mpirun to end; on the deadline kills the whole job and fails.  Returns the
 * wait status and sets @elapsed (seconds since the start). */
static int
job_wait (Job *job, double limit, double *elapsed)
{
  const gint64 deadline = job->started + (gint64) (limit * G_USEC_PER_SEC);
  int status = 0;
  for (;;)
    {
      pid_t r = waitpid (job->pid, &status, WNOHANG);
      if (r == job->pid)
        break;
      assert_true (r == 0 || errno == EINTR);
      if (g_get_monotonic_time () > deadline)
        {
          kill (-job->pid, SIGKILL);
          for (guint rank = 0; rank < 2; rank++)
            {
              pid_t p = job_find_rank (job, rank);
              if (p > 0)
                kill (p, SIGKILL);
            }
          waitpid (job->pid, &status, 0);
          fail_msg ("the job did not end within %g s (it hangs)", limit);
        }
      g_usleep (20000);
    }
  *elapsed = (double) (g_get_monotonic_time () - job->started) / G_USEC_PER_SEC;
  return status;
}

static char *
job_read (const char *path)
{
  char *text = NULL;
  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static guint
count (const char *text, const char *what)
{
  g_auto(GStrv) parts = g_strsplit (text, what, -1);
  return g_strv_length (parts) - 1;
}

static void
job_free (Job *job)
{
  /* Nothing of the job may outlive the case. */
  for (guint rank = 0; rank < 2; rank++)
    {
      pid_t p = job_find_rank (job, rank);
      if (p > 0)
        kill (p, SIGKILL);
    }
  mact_test_remove_tree (job->dir);
  g_free (job->dir);
  g_free (job->work_dir);
  g_free (job->out_path);
  g_free (job->err_path);
  g_free (job->tag);
  g_spawn_close_pid (job->pid);
  g_free (job);
}

/* ------------------------------------------------------------------ cases */

static void
test_two_ranks_train (void **state)
{
  const char *extra[] = { "--validate", "--bucket-mb", "0.004", NULL };
  Job *job = job_start (2, extra);
  double elapsed = 0;
  int status = job_wait (job, 90, &elapsed);
  g_autofree char *out = job_read (job->out_path);
  g_autofree char *err = job_read (job->err_path);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("mpirun ended with status %d\nstdout:\n%s\nstderr:\n%s", status, out, err);
  g_printerr ("# healthy 2-rank job: %.2f s\n", elapsed);

  /* Only rank 0 prints: one line per step (16 samples / 2 ranks / 2 = 4 a epoch) and
   * per validation. */
  assert_non_null (strstr (out, "Training done on 2 ranks: 2 epochs, 8 iterations"));
  assert_int_equal (count (out, "Epoch(val)"), 2);
  assert_int_equal (count (out, "Epoch [1]["), 4);
  assert_int_equal (count (out, "Training done"), 1);

  /* One log and the checkpoints, written once. */
  guint logs = 0;
  g_autoptr(GDir) d = g_dir_open (job->work_dir, 0, NULL);
  assert_non_null (d);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    logs += g_str_has_suffix (name, ".log.json");
  assert_int_equal (logs, 1);
  assert_true (mact_test_dist_exists_in (job->work_dir, "epoch_2.safetensors"));
  assert_true (mact_test_dist_exists_in (job->work_dir, "latest.json"));
  job_free (job);
}

static void
test_dead_rank_ends_the_job (void **state)
{
  Job *job = job_start (1000, NULL);
  job_wait_training (job, 60);
  pid_t victim = job_find_rank (job, 1);
  assert_true (victim > 0);
  const gint64 t0 = g_get_monotonic_time ();
  assert_int_equal (kill (victim, SIGKILL), 0);
  double elapsed = 0;
  int status = job_wait (job, 90, &elapsed);
  const double after_kill = (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
  g_autofree char *err = job_read (job->err_path);
  g_printerr ("# rank 1 killed: the job ended %.2f s later\n", after_kill);
  assert_false (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  assert_true (after_kill < 30);
  /* mpirun names the rank that died. */
  assert_non_null (strstr (err, "rank 1"));
  assert_null (strstr (err, "Training done"));
  job_free (job);
}

static void
test_hung_rank_times_out (void **state)
{
  const char *extra[] = { "--dist-timeout", "3", NULL };
  Job *job = job_start (1000, extra);
  job_wait_training (job, 60);
  pid_t victim = job_find_rank (job, 1);
  assert_true (victim > 0);
  const gint64 t0 = g_get_monotonic_time ();
  assert_int_equal (kill (victim, SIGSTOP), 0);
  double elapsed = 0;
  int status = job_wait (job, 90, &elapsed);
  const double after_stop = (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
  kill (victim, SIGKILL);
  g_autofree char *err = job_read (job->err_path);
  g_printerr ("# rank 1 stopped: the job ended %.2f s later\n", after_stop);
  assert_false (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  /* Rank 0 gave up after the 3 s timeout, said why, and the job ended. */
  if (strstr (err, "[rank 0/2]") == NULL || strstr (err, "did not complete within 3 s") == NULL)
    fail_msg ("rank 0 did not report the timeout; stderr:\n%s", err);
  assert_true (after_stop >= 3.0 && after_stop < 30);
  job_free (job);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_two_ranks_train),
    cmocka_unit_test (test_dead_rank_ends_the_job),
    cmocka_unit_test (test_hung_rank_times_out),
  };
  return cmocka_run_group_tests_name ("mpi-cli", tests, NULL, NULL);
}
