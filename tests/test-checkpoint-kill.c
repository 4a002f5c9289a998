/* Checkpoints survive SIGKILL at any point of saving, and training resumes from them.
 *
 * The saver is a forked child that saves checkpoints of a small model over and over,
 * each save's contents a function of its index (every weight, the optimizer's lr and the
 * meta's "save_index"), so that whoever loads a checkpoint can tell which save each of
 * its files came from.  Each save writes a fresh name (save_K), points `latest` at it,
 * removes save_{K-3} (JSON first, as the runner does), and also saves over one fixed name
 * (rolling), the case where a kill between the files' renames would pair a JSON with
 * another save's tensors.  The saver reports each completed save through a pipe.
 *
 * The parent kills it with SIGKILL after a random (seeded) delay, many times, and after
 * each kill checks the directory: latest.json loads intact, no older than the last save
 * reported, and so does the save it names;
 * every *.json either loads with all its values from one save or is refused with a
 * GError (never silently mixed, never a partial file); then the next saver continues
 * where `latest` points, as a resumed run does.  A last case kills `mact train` during
 * training and resumes it with --resume-from: the resumed run continues from the last
 * good checkpoint and ends with the weights of an uninterrupted run, bit for bit.
 *
 * MACT_TEST_SEED picks another sequence of kill points; under valgrind
 * (MACT_TEST_UNDER_VALGRIND) there are fewer kills. */
#include "mact-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* 256 x 512 weights and a bias: half a megabyte, so writing takes long enough for kills
 * to land inside it. */
#define IN_FEATURES  256
#define OUT_FEATURES 512
#define KEEP         3

static gboolean
under_valgrind (void)
{
  return g_getenv ("MACT_TEST_UNDER_VALGRIND") != NULL;
}

static guint32
test_seed (void)
{
  const char *env = g_getenv ("MACT_TEST_SEED");
  return env != NULL ? (guint32) g_ascii_strtoull (env, NULL, 10) : 20240610u;
}

/* Element @i of a parameter in save @k: the integer part names the save, the fraction
 * the position; exact in float for any index this test reaches. */
static float
value_for (guint k, gsize i)
{
  return (float) k + (float) (i % 1000) / 1024.0f;
}

static double
lr_for (guint k)
{
  return 1e-3 * (k + 1);
}

static MactModule *
new_model (void)
{
  g_autoptr(GError) error = NULL;
  MactModule *model = mact_linear_new (IN_FEATURES, OUT_FEATURES, TRUE, &error);
  g_assert_no_error (error);
  return model;
}

static MactOptimizer *
new_optimizer (MactModule *model)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) cfg = json_from_string ("{\"type\": \"SGD\", \"lr\": 0.1, "
                                              "\"momentum\": 0.9}", &error);
  g_assert_no_error (error);
  MactOptimizer *optimizer = mact_optimizer_new_from_config (model, cfg, &error);
  g_assert_no_error (error);
  return optimizer;
}

static void
fill_params (MactModule *model, guint k)
{
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (model);
  for (guint p = 0; p < mact_tensor_dict_get_size (params); p++)
    {
      MactTensor *t = mact_tensor_dict_get_value (params, p);
      float *d = mact_tensor_get_data (t);
      for (gint64 i = 0; i < mact_tensor_get_numel (t); i++)
        d[i] = value_for (k, (gsize) i);
    }
}

static void
fill_for_save (MactModule *model, MactOptimizer *optimizer, guint k)
{
  fill_params (model, k);
  mact_optimizer_set_group_option (optimizer, 0, "lr", lr_for (k));
}

/* ------------------------------------------------------------------ the saver */

static void
remove_save (const char *dir, const char *name)
{
  /* The JSON first: while it exists, its tensor files do. */
  const char *suffixes[] = { ".json", ".safetensors", ".optim.safetensors" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (name, suffixes[i], NULL);
      g_autofree char *path = g_build_filename (dir, file, NULL);
      g_unlink (path);
    }
}

/* The body of a forked saver: never returns.  It reports each completed save as a line
 * "INDEX TIME" on @report_fd, with write(2): stdio buffers still hold the parent's
 * output. */
static void G_GNUC_NORETURN
run_saver (const char *dir, guint first, int report_fd)
{
  /* The parent's compute threads do not exist in this process: no parallel kernels. */
  mact_set_num_threads (1);
  g_autoptr(MactModule) model = new_model ();
  g_autoptr(MactOptimizer) optimizer = new_optimizer (model);
  const pid_t parent = getppid ();

  /* A saver killed before removing its oldest save leaves it behind: clear those first,
   * as a training job cleaning up after a restart would. */
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      guint j = 0;
      char tail[16] = "";
      if (sscanf (entry, "save_%u.%15s", &j, tail) == 2 && g_str_equal (tail, "json") &&
          j + KEEP < first)
        {
          g_autofree char *old = g_strdup_printf ("save_%u", j);
          remove_save (dir, old);
        }
    }

  /* Bounded, and stops when orphaned: a saver that outlives its test must not fill the
   * disk. */
  for (guint k = first; k < first + 5000 && getppid () == parent; k++)
    {
      g_autoptr(GError) error = NULL;
      fill_for_save (model, optimizer, k);
      g_autoptr(JsonObject) meta = json_object_new ();
      json_object_set_int_member (meta, "save_index", k);
      g_autofree char *name = g_strdup_printf ("save_%u", k);
      if (!mact_checkpoint_save (dir, name, model, optimizer, meta, &error) ||
          !mact_checkpoint_link (dir, "latest", name, &error) ||
          !mact_checkpoint_save (dir, "rolling", model, optimizer, meta, &error))
        {
          g_autofree char *line = g_strdup_printf ("saver: save %u: %s\n", k,
                                                   error->message);
          (void) !write (STDERR_FILENO, line, strlen (line));
          _exit (1);
        }
      if (k >= KEEP)
        {
          g_autofree char *old = g_strdup_printf ("save_%u", k - KEEP);
          remove_save (dir, old);
        }
      /* The time by the system-wide monotonic clock: reports may reach the parent in
       * bunches. */
      g_autofree char *line = g_strdup_printf ("%u %" G_GINT64_FORMAT "\n", k,
                                               g_get_monotonic_time ());
      if (write (report_fd, line, strlen (line)) < 0)
        _exit (1);
    }
  _exit (0);
}

/* ------------------------------------------------------------------ checks */

typedef enum {
  LOAD_OK,
  LOAD_REFUSED,    /* a GError: the files do not form one checkpoint */
} LoadResult;

/* The model and optimizer checkpoints are loaded into, made once (initialising weights
 * costs more than loading them) and reset to values of no save before each load. */
static MactModule *probe_model;
static MactOptimizer *probe_optimizer;
#define NO_SAVE 9999u   /* beyond any save index a run reaches */

static int
free_probe (void **state)
{
  g_clear_object (&probe_optimizer);
  g_clear_object (&probe_model);
  return 0;
}

/* Loads @file of @dir.  Fails the test if it loads with values of more than one save or
 * of none; otherwise LOAD_OK with the save's index, or LOAD_REFUSED with the error in
 * @refusal. */
static LoadResult
load_checked (const char *dir, const char *file, guint *index, GError **refusal)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  if (probe_model == NULL)
    {
      probe_model = new_model ();
      probe_optimizer = new_optimizer (probe_model);
    }
  MactModule *model = probe_model;
  MactOptimizer *optimizer = probe_optimizer;
  fill_for_save (model, optimizer, NO_SAVE);
  g_autoptr(JsonObject) meta = mact_checkpoint_load (path, model, TRUE, optimizer, refusal);
  if (meta == NULL)
    return LOAD_REFUSED;

  if (!json_object_has_member (meta, "save_index"))
    fail_msg ("%s loaded without a save_index", file);
  const guint k = (guint) json_object_get_int_member (meta, "save_index");
  g_autoptr(MactTensorDict) params = mact_module_named_parameters (model);
  for (guint p = 0; p < mact_tensor_dict_get_size (params); p++)
    {
      MactTensor *t = mact_tensor_dict_get_value (params, p);
      const float *d = mact_tensor_get_data (t);
      for (gint64 i = 0; i < mact_tensor_get_numel (t); i++)
        if (d[i] != value_for (k, (gsize) i))
          fail_msg ("%s: the meta is save %u's, but %s[%" G_GINT64_FORMAT "] = %g is "
                    "save %u's", file, k, mact_tensor_dict_get_key (params, p), i,
                    (double) d[i], (guint) d[i]);
    }
  const double lr = mact_optimizer_get_group_option (optimizer, 0, "lr");
  if (lr != lr_for (k))
    fail_msg ("%s: the meta is save %u's, but the optimizer's lr %g is not (%g)", file, k,
              lr, lr_for (k));
  *index = k;
  return LOAD_OK;
}

typedef struct {
  guint kills;
  guint saves;            /* completed saves reported by the savers */
  guint refused;          /* *.json refused as not one checkpoint */
  guint temp_files;       /* temporary files left by interrupted writes, at the end */
  guint loads;
} KillStats;

/* Checks the directory after a kill; returns the index `latest` points at. */
static guint
check_after_kill (const char *dir, guint last_reported, KillStats *stats)
{
  g_autoptr(GError) error = NULL;
  guint latest = 0;
  if (load_checked (dir, "latest.json", &latest, &error) != LOAD_OK)
    fail_msg ("latest.json does not load after a kill: %s", error->message);
  stats->loads++;
  /* The saver reports a save after linking latest to it. */
  if (latest < last_reported)
    fail_msg ("latest.json is save %u, but save %u had completed", latest, last_reported);

  g_autoptr(GDir) d = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  const char *name;
  gboolean seen_latest = FALSE;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".json") || g_str_equal (name, "latest.json"))
        continue;
      guint k = 0;
      g_autoptr(GError) refusal = NULL;
      if (load_checked (dir, name, &k, &refusal) == LOAD_OK)
        {
          stats->loads++;
          g_autofree char *expected = g_strdup_printf ("save_%u.json", k);
          if (!g_str_equal (name, "rolling.json") && !g_str_equal (name, expected))
            fail_msg ("%s holds save %u", name, k);
          if (k == latest && g_str_equal (name, expected))
            seen_latest = TRUE;
          continue;
        }
      /* Refusal is allowed only where a save was interrupted while replacing the same
       * name: rolling, or a save beyond latest that a resumed saver is writing again.
       * It must say which checkpoint and why. */
      guint j = 0;
      const gboolean beyond_latest = sscanf (name, "save_%u.json", &j) == 1 && j > latest;
      if (!g_str_equal (name, "rolling.json") && !beyond_latest)
        fail_msg ("%s (latest is save %u) does not load: %s", name, latest,
                  refusal->message);
      if (!g_error_matches (refusal, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE) ||
          strstr (refusal->message, name) == NULL)
        fail_msg ("%s refused with an unexpected error: %s", name, refusal->message);
      stats->refused++;
    }
  /* The checkpoint latest stands for is there in its own name too: the saver removes
   * only saves older than the one it has just linked. */
  if (!seen_latest)
    fail_msg ("save_%u.json, which latest.json copies, does not load", latest);
  return latest;
}

/* Counts the files of @dir that are neither checkpoints nor tensors: temporaries of
 * interrupted writes.  @removable: of them, those a later save removes (a random suffix,
 * not a lowercase word; see mact_checkpoint_save()). */
static guint
count_temp_files (const char *dir, guint *removable)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;
  *removable = 0;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      if (g_str_has_suffix (name, ".json") || g_str_has_suffix (name, ".safetensors"))
        continue;
      n++;
      const char *dot = strrchr (name, '.');
      gboolean word = TRUE;
      for (const char *c = dot + 1; *c != '\0'; c++)
        word = word && g_ascii_islower (*c);
      *removable += !word;
    }
  return n;
}

/* ------------------------------------------------------------------ children */

typedef struct {
  GPid     pid;
  int      out;          /* the child's stdout */
  GString *pending;      /* a partial line */
  guint    last;         /* the last index it reported */
  guint    reports;
  gint64   times[5];     /* when it completed its first saves (monotonic clock) */
  gboolean eof;
} Child;

static Child
spawn (const char *const *argv, const char *const *env_extra)
{
  g_auto(GStrv) envp = g_get_environ ();
  for (guint i = 0; env_extra != NULL && env_extra[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env_extra[i], "=", 2);
      envp = g_environ_setenv (envp, kv[0], kv[1], TRUE);
    }
  /* The children are timed by the parent: no valgrind preload, one compute thread. */
  envp = g_environ_unsetenv (envp, "LD_PRELOAD");
  envp = g_environ_setenv (envp, "MACT_NUM_THREADS", "1", TRUE);
  Child c = { 0 };
  g_autoptr(GError) error = NULL;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, envp, G_SPAWN_DO_NOT_REAP_CHILD,
                                 NULL, NULL, &c.pid, NULL, &c.out, NULL, &error))
    fail_msg ("cannot start %s: %s", argv[0], error->message);
  c.pending = g_string_new (NULL);
  return c;
}

/* Forks a saver.  Forking rather than starting a program keeps a round short: loading
 * libmact and its dependencies costs more than a save. */
static Child
fork_saver (const char *dir, guint first)
{
  int fds[2];
  assert_int_equal (pipe (fds), 0);
  fflush (stdout);
  fflush (stderr);
  Child c = { 0 };
  c.pid = fork ();
  assert_true (c.pid >= 0);
  if (c.pid == 0)
    {
      close (fds[0]);
      run_saver (dir, first, fds[1]);
    }
  close (fds[1]);
  c.out = fds[0];
  c.pending = g_string_new (NULL);
  return c;
}

/* Takes the complete lines of @c->pending: each that is a number is a report. */
static void
parse_lines (Child *c)
{
  char *nl;
  while ((nl = strchr (c->pending->str, '\n')) != NULL)
    {
      *nl = '\0';
      g_auto(GStrv) fields = g_strsplit (c->pending->str, " ", -1);
      guint64 index = 0, time = 0;
      if (g_strv_length (fields) == 2 &&
          g_ascii_string_to_unsigned (fields[0], 10, 0, G_MAXUINT, &index, NULL) &&
          g_ascii_string_to_unsigned (fields[1], 10, 0, G_MAXINT64, &time, NULL))
        {
          c->last = (guint) index;
          c->times[MIN (c->reports, G_N_ELEMENTS (c->times) - 1)] = (gint64) time;
          c->reports++;
        }
      g_string_erase (c->pending, 0, nl - c->pending->str + 1);
    }
}

/* Reads one chunk of the child's output if some comes within @timeout_ms, or with
 * @timeout_ms -1 everything up to end of file. */
static void
child_read (Child *c, int timeout_ms)
{
  while (!c->eof)
    {
      struct pollfd p = { .fd = c->out, .events = POLLIN };
      const int n = poll (&p, 1, timeout_ms);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      char buf[4096];
      const ssize_t got = read (c->out, buf, sizeof buf);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        c->eof = TRUE;
      else
        {
          g_string_append_len (c->pending, buf, got);
          parse_lines (c);
        }
      if (timeout_ms >= 0)
        return;
    }
}

/* Waits until the child has reported @n lines in all; fails the test on end of file or
 * after @timeout_ms. */
static void
child_wait_reports (Child *c, guint n, int timeout_ms)
{
  const gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (c->reports < n)
    {
      const gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      if (c->eof || left <= 0)
        fail_msg ("the child stopped after %u reports (wanted %u)", c->reports, n);
      child_read (c, (int) MIN (left, 50));
    }
}

/* SIGKILLs the child (unless @kill_it is FALSE), reaps it, reads the rest of its output.
 * Returns whether SIGKILL ended it (FALSE: it had exited by itself, with status 0). */
static gboolean
child_finish (Child *c, gboolean kill_it)
{
  if (kill_it)
    kill (c->pid, SIGKILL);
  int status = 0;
  while (waitpid (c->pid, &status, 0) < 0 && errno == EINTR)
    ;
  child_read (c, -1);
  close (c->out);
  g_string_free (c->pending, TRUE);
  g_spawn_close_pid (c->pid);
  if (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL)
    return TRUE;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    fail_msg ("the child failed (wait status 0x%x)", status);
  return FALSE;
}

/* ------------------------------------------------------------------ tests */

static void
test_kill_during_saves (void **state)
{
  const guint n_kills = under_valgrind () ? 6 : 50;
  const guint32 seed = test_seed ();
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  g_autoptr(GError) error = NULL;
  /* In memory when there is a tmpfs: what a kill can do to files does not depend on the
   * disk (fsync only matters for power cuts), and without its waits the rounds are short
   * and the kill points fine-grained.  `mact train` below writes to the disk. */
  g_autofree char *dir = NULL;
  if (g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) && access ("/dev/shm", W_OK) == 0)
    dir = g_mkdtemp (g_strdup ("/dev/shm/mact-ckpt-kill-XXXXXX"));
  if (dir == NULL)
    dir = g_dir_make_tmp ("mact-ckpt-kill-XXXXXX", &error);
  g_assert_no_error (error);
  assert_non_null (dir);
  KillStats stats = { 0 };
  const gint64 start = g_get_monotonic_time ();
  double period = 0;           /* seconds per save, measured in the first round */
  guint next = 1, last_done = 0;

  for (guint round = 0; round < n_kills; round++)
    {
      Child c = fork_saver (dir, next);
      /* One complete save first, so that every round makes progress; the first round
       * also measures how long a save takes. */
      child_wait_reports (&c, 1, 20000);
      if (period == 0)
        {
          child_wait_reports (&c, 5, 20000);
          period = (c.times[4] - c.times[0]) / 4e6;
        }
      /* Then a point anywhere in the next save or so.  A seed gives the same delays in
       * saves; where they land still varies with the machine's timing. */
      g_usleep ((gulong) (g_rand_double_range (rng, 0, 1.5 * period) * 1e6));
      if (!child_finish (&c, TRUE))
        fail_msg ("a saver exited by itself");
      stats.kills++;
      stats.saves += c.reports;
      last_done = MAX (last_done, c.last);

      const guint latest = check_after_kill (dir, last_done, &stats);
      /* Resume as a training run does: after the checkpoint `latest` names. */
      next = latest + 1;
    }
  guint removable = 0;
  stats.temp_files = count_temp_files (dir, &removable);
  const double seconds = (g_get_monotonic_time () - start) / 1e6;
  print_message ("# seed %u, %s: %u SIGKILLs in %.1f s, %u saves completed (%.1f ms each), "
                 "%u checkpoint loads verified, %u interrupted same-name saves refused, "
                 "%u temporary files left at the end\n",
                 seed, g_str_has_prefix (dir, "/dev/shm/") ? "in memory" : "on disk",
                 stats.kills, seconds, stats.saves, period * 1e3, stats.loads,
                 stats.refused, stats.temp_files);
  assert_int_equal (stats.kills, n_kills);
  /* Each save clears what interrupted writes of its own files left: at most the last
   * kill's temporary remains. */
  assert_true (removable <= 1);
  mact_test_remove_tree (dir);
}

/* A same-name save interrupted between its files: the old JSON with the new tensors is
 * refused, naming the file that does not belong; a checkpoint from before checkpoint ids
 * (no "checkpoint_id") still loads. */
static void
test_mixed_files_refused (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-ckpt-mixed-XXXXXX", &error);
  g_assert_no_error (error);
  g_autoptr(MactModule) model = new_model ();
  g_autoptr(MactOptimizer) optimizer = new_optimizer (model);
  g_autofree char *json = g_build_filename (dir, "a.json", NULL);
  g_autofree char *optim = g_build_filename (dir, "a.optim.safetensors", NULL);
  g_autofree char *json1 = NULL, *optim1 = NULL;
  gsize json1_len = 0, optim1_len = 0;

  for (guint k = 1; k <= 2; k++)
    {
      fill_for_save (model, optimizer, k);
      g_autoptr(JsonObject) meta = json_object_new ();
      json_object_set_int_member (meta, "save_index", k);
      assert_true (mact_checkpoint_save (dir, "a", model, optimizer, meta, &error));
      g_assert_no_error (error);
      if (k == 1)
        {
          assert_true (g_file_get_contents (json, &json1, &json1_len, NULL));
          assert_true (g_file_get_contents (optim, &optim1, &optim1_len, NULL));
        }
    }
  guint k = 0;
  assert_int_equal (load_checked (dir, "a.json", &k, &error), LOAD_OK);
  assert_int_equal (k, 2);

  /* Save 1's JSON over save 2's weights (a kill after the weights' rename). */
  assert_true (g_file_set_contents (json, json1, (gssize) json1_len, NULL));
  assert_int_equal (load_checked (dir, "a.json", &k, &error), LOAD_REFUSED);
  assert_non_null (strstr (error->message, "a.safetensors"));
  assert_non_null (strstr (error->message, "a.json"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);

  /* The weights must not have been half-applied: the model keeps its values. */
  {
    g_autofree char *path = g_build_filename (dir, "a.json", NULL);
    g_autoptr(MactModule) m = new_model ();
    fill_params (m, 7);
    assert_null (mact_checkpoint_load (path, m, TRUE, NULL, &error));
    mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
    g_autoptr(MactTensorDict) params = mact_module_named_parameters (m);
    assert_true (mact_tensor_get_data (mact_tensor_dict_get_value (params, 0))[0] ==
                 value_for (7, 0));
  }

  /* Save 2's JSON and weights with save 1's optimizer state. */
  fill_for_save (model, optimizer, 2);
  g_autoptr(JsonObject) meta = json_object_new ();
  json_object_set_int_member (meta, "save_index", 2);
  assert_true (mact_checkpoint_save (dir, "a", model, optimizer, meta, &error));
  assert_true (g_file_set_contents (optim, optim1, (gssize) optim1_len, NULL));
  assert_int_equal (load_checked (dir, "a.json", &k, &error), LOAD_REFUSED);
  assert_non_null (strstr (error->message, "a.optim.safetensors"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  /* Weights only (load_from): the optimizer file is not read, so not checked. */
  {
    g_autoptr(MactModule) m = new_model ();
    g_autoptr(JsonObject) got = mact_checkpoint_load (json, m, TRUE, NULL, &error);
    g_assert_no_error (error);
    assert_non_null (got);
  }

  /* A checkpoint id that is not a string is refused as such. */
  assert_true (mact_checkpoint_save (dir, "a", model, optimizer, meta, &error));
  g_autoptr(JsonParser) parser = json_parser_new ();
  assert_true (json_parser_load_from_file (parser, json, &error));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  assert_true (json_object_has_member (root, "checkpoint_id"));
  json_object_set_int_member (root, "checkpoint_id", 5);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, json_parser_get_root (parser));
  assert_true (json_generator_to_file (gen, json, &error));
  assert_int_equal (load_checked (dir, "a.json", &k, &error), LOAD_REFUSED);
  assert_non_null (strstr (error->message, "checkpoint_id"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);

  /* Without an id (a checkpoint of an older mact) the files are taken as they are. */
  json_object_remove_member (root, "checkpoint_id");
  assert_true (json_generator_to_file (gen, json, &error));
  assert_int_equal (load_checked (dir, "a.json", &k, &error), LOAD_OK);
  assert_int_equal (k, 2);

  /* latest is a copy: it carries the id and is checked the same way. */
  assert_true (mact_checkpoint_save (dir, "a", model, optimizer, meta, &error));
  assert_true (mact_checkpoint_link (dir, "latest", "a", &error));
  assert_int_equal (load_checked (dir, "latest.json", &k, &error), LOAD_OK);
  fill_for_save (model, optimizer, 3);
  json_object_set_int_member (meta, "save_index", 3);
  assert_true (mact_checkpoint_save (dir, "a", model, optimizer, meta, &error));
  assert_int_equal (load_checked (dir, "latest.json", &k, &error), LOAD_REFUSED);
  assert_non_null (strstr (error->message, "latest.json"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  mact_test_remove_tree (dir);
}

/* Temporaries that interrupted writes left are removed by the next save of the same
 * name, and only those. */
static void
test_stale_temporaries_removed (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-ckpt-temp-XXXXXX", &error);
  g_assert_no_error (error);
  const char *removed[] = { "a.json.Ab12Cd", "a.safetensors.XYZ123",
                            "a.optim.safetensors.q0w9e8", "latest.json.R2d2C3" };
  const char *kept[] = { "a.safetensors.backup",     /* a word: someone's copy */
                         "b.json.Ab12Cd",            /* another checkpoint's */
                         "a.json.Ab12C",             /* not the pattern */
                         "a.json.Ab12Cd.x", "ab.json.Ab12Cd" };
  for (guint i = 0; i < G_N_ELEMENTS (removed); i++)
    {
      g_autofree char *path = g_build_filename (dir, removed[i], NULL);
      assert_true (g_file_set_contents (path, "partial", -1, NULL));
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *path = g_build_filename (dir, kept[i], NULL);
      assert_true (g_file_set_contents (path, "mine", -1, NULL));
    }
  g_autoptr(MactModule) model = new_model ();
  g_autoptr(MactOptimizer) optimizer = new_optimizer (model);
  assert_true (mact_checkpoint_save (dir, "a", model, optimizer, NULL, &error));
  assert_true (mact_checkpoint_link (dir, "latest", "a", &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (removed); i++)
    {
      g_autofree char *path = g_build_filename (dir, removed[i], NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        fail_msg ("%s was not removed", removed[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *path = g_build_filename (dir, kept[i], NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        fail_msg ("%s was removed", kept[i]);
    }
  mact_test_remove_tree (dir);
}

/* ---- `mact train` killed during training, then resumed */

static const char *train_config =
  "{\"model\": {\"type\": \"Recognizer3D\","
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"
  "                 \"pretrained\": null, \"pretrained2d\": false},"
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 3, \"in_channels\": 32,"
  "                 \"dropout_ratio\": 0.0}, \"test_cfg\": {\"average_clips\": \"prob\"}},"
  " \"data\": {\"videos_per_gpu\": 2,"
  "  \"train\": {\"type\": \"SyntheticActionDataset\", \"num_classes\": 3,"
  "             \"num_samples\": 4, \"clip_len\": 4, \"height\": 16, \"width\": 16,"
  "             \"input_format\": \"NCTHW\"}},"
  " \"optimizer\": {\"type\": \"SGD\", \"lr\": 0.01, \"momentum\": 0.9},"
  " \"lr_config\": {\"policy\": \"step\", \"step\": [4]},"
  " \"total_epochs\": 8, \"log_config\": {\"interval\": 1}, \"seed\": 3}";

#define TRAIN_EPOCHS 8    /* as in train_config */

static void
assert_files_equal (const char *a, const char *b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) da = mact_safetensors_load (a, NULL, &error);
  g_assert_no_error (error);
  g_autoptr(MactTensorDict) db = mact_safetensors_load (b, NULL, &error);
  g_assert_no_error (error);
  assert_int_equal (mact_tensor_dict_get_size (da), mact_tensor_dict_get_size (db));
  for (guint i = 0; i < mact_tensor_dict_get_size (da); i++)
    {
      const char *key = mact_tensor_dict_get_key (da, i);
      MactTensor *ta = mact_tensor_dict_get_value (da, i);
      MactTensor *tb = mact_tensor_dict_lookup (db, key);
      assert_non_null (tb);
      assert_int_equal (mact_tensor_get_numel (ta), mact_tensor_get_numel (tb));
      g_autoptr(MactTensor) ca = mact_tensor_contiguous (ta);
      g_autoptr(MactTensor) cb = mact_tensor_contiguous (tb);
      if (memcmp (mact_tensor_get_data (ca), mact_tensor_get_data (cb),
                  (gsize) mact_tensor_get_numel (ca) * sizeof (float)) != 0)
        fail_msg ("'%s' differs between %s and %s", key, a, b);
    }
}

/* Reads the child's output until @path exists; fails the test after a minute. */
static void
wait_for_file (Child *c, const char *path)
{
  const gint64 t0 = g_get_monotonic_time ();
  while (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (c->eof || g_get_monotonic_time () - t0 > 60 * G_USEC_PER_SEC)
        fail_msg ("%s did not appear", path);
      child_read (c, 1);
    }
}

/* The runner resumed from @ckpt with total_epochs set to the checkpoint's epoch: nothing
 * trains, so its counters and weights are exactly what the resume restored. */
static void
assert_resume_restores (const char *ckpt, const char *scratch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  assert_true (json_parser_load_from_file (parser, ckpt, &error));
  JsonObject *meta = json_node_get_object (json_parser_get_root (parser));
  const gint64 epoch = json_object_get_int_member (meta, "epoch");
  const gint64 iter = json_object_get_int_member (meta, "iter");
  assert_true (epoch >= 1);
  assert_int_equal (iter, epoch * 2);    /* 4 samples, 2 per batch */

  g_autoptr(JsonNode) config = mact_config_load_data (train_config, -1, &error);
  g_assert_no_error (error);
  json_object_set_int_member (json_node_get_object (config), "total_epochs", epoch);
  json_object_set_string_member (json_node_get_object (config), "resume_from", ckpt);
  g_autoptr(MactRunner) runner = mact_runner_new (config, &error);
  g_assert_no_error (error);
  g_object_set (runner, "work-dir", scratch, NULL);
  assert_true (mact_runner_train (runner, NULL, &error));
  g_assert_no_error (error);
  assert_int_equal (mact_runner_get_epoch (runner), epoch);
  assert_int_equal (mact_runner_get_iter (runner), iter);

  g_autofree char *dir = g_path_get_dirname (ckpt);
  g_autofree char *weights = g_build_filename (dir,
                                               json_object_get_string_member (meta,
                                                                              "weights"),
                                               NULL);
  g_autofree char *restored = g_build_filename (scratch, "restored.safetensors", NULL);
  g_autoptr(MactTensorDict) state =
    mact_module_state_dict (MACT_MODULE (mact_runner_get_model (runner)));
  assert_true (mact_safetensors_save (restored, state, NULL, &error));
  assert_files_equal (weights, restored);
}

static void
test_train_killed_and_resumed (void **state)
{
  const guint n_kills = under_valgrind () ? 1 : 3;
  g_autoptr(GRand) rng = g_rand_new_with_seed (test_seed () + 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-ckpt-train-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *config = g_build_filename (dir, "tiny.json", NULL);
  assert_true (g_file_set_contents (config, train_config, -1, NULL));
  const char *cli = g_getenv ("MACT_TEST_CLI");
  assert_non_null (cli);

  /* The uninterrupted run, timed from its first checkpoint to its end. */
  g_autofree char *ref = g_build_filename (dir, "ref", NULL);
  double rest_time = 0;
  {
    g_autofree char *ref_latest = g_build_filename (ref, "latest.json", NULL);
    const char *argv[] = { cli, "train", config, "--work-dir", ref, NULL };
    Child c = spawn (argv, NULL);
    wait_for_file (&c, ref_latest);
    const gint64 t0 = g_get_monotonic_time ();
    if (child_finish (&c, FALSE))
      fail_msg ("mact train was killed");
    rest_time = (g_get_monotonic_time () - t0) / 1e6;
  }
  g_autofree char *final_name = g_strdup_printf ("epoch_%d.safetensors", TRAIN_EPOCHS);
  g_autofree char *ref_final = g_build_filename (ref, final_name, NULL);

  guint killed = 0;
  for (guint round = 0; round < n_kills; round++)
    {
      g_autofree char *wname = g_strdup_printf ("work%u", round);
      g_autofree char *work = g_build_filename (dir, wname, NULL);
      g_autofree char *latest = g_build_filename (work, "latest.json", NULL);
      const char *argv[] = { cli, "train", config, "--work-dir", work, NULL };
      Child c = spawn (argv, NULL);
      /* Once the first checkpoint exists, a point anywhere in most of the rest. */
      wait_for_file (&c, latest);
      g_usleep ((gulong) (g_rand_double_range (rng, 0, 0.9 * rest_time) * 1e6));
      const gboolean was_killed = child_finish (&c, TRUE);
      killed += was_killed;

      /* latest.json loads intact, and a runner resuming from it has its counters and
       * weights. */
      g_autofree char *scratch = g_build_filename (work, "scratch", NULL);
      assert_resume_restores (latest, scratch);
      g_autoptr(JsonParser) parser = json_parser_new ();
      assert_true (json_parser_load_from_file (parser, latest, &error));
      const gint64 epoch = json_object_get_int_member (
        json_node_get_object (json_parser_get_root (parser)), "epoch");

      /* Resume to the end: it starts right after the checkpoint and ends where the
       * uninterrupted run ended, bit for bit. */
      MactTestRun r = mact_test_run_cli ("train", config, "--work-dir", work,
                                         "--resume-from", latest, NULL);
      if (r.status != 0)
        fail_msg ("resumed mact train failed: %s", r.err);
      if (epoch < TRAIN_EPOCHS)
        {
          g_autofree char *first_line = g_strdup_printf ("Epoch [%d][1/2]",
                                                         (int) epoch + 1);
          const char *first = strstr (r.out, "Epoch [");
          assert_non_null (first);
          assert_true (g_str_has_prefix (first, first_line));
        }
      g_autofree char *done = g_strdup_printf ("Training done: %d epochs, %d iterations",
                                               TRAIN_EPOCHS, TRAIN_EPOCHS * 2);
      assert_non_null (strstr (r.out, done));
      mact_test_run_clear (&r);
      g_autofree char *final = g_build_filename (work, final_name, NULL);
      assert_files_equal (ref_final, final);
      print_message ("# mact train: killed %s after epoch %d's checkpoint, resumed to "
                     "epoch %d with the uninterrupted run's weights\n",
                     was_killed ? "with SIGKILL" : "(had finished)", (int) epoch,
                     TRAIN_EPOCHS);
    }
  print_message ("# %u of %u training runs killed mid-way (an uninterrupted run: %.2f s "
                 "after its first checkpoint)\n", killed, n_kills, rest_time);
  mact_test_remove_tree (dir);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_mixed_files_refused),
    cmocka_unit_test (test_stale_temporaries_removed),
    cmocka_unit_test (test_kill_during_saves),
    cmocka_unit_test (test_train_killed_and_resumed),
  };
  return cmocka_run_group_tests (tests, NULL, free_probe);
}
