/* Load and soak: many inferences on shared recognizers, many recognizers made and freed.
 *
 * 1. 8 threads x 1000 inferences on two shared recognizers (a 3D ResNet with batch norm
 *    and a 2D MobileNetV2 TSN, the tiny models of test-concurrency.c), each thread
 *    alternating between the models and walking the inputs from its own offset.  Every
 *    result must equal the serial one bit for bit.  Memory is measured once every thread
 *    has warmed up (the first 100 inferences each: per-thread convolution buffers, malloc
 *    arenas) and then sampled until the end: the resident set (RSS, /proc/self/statm) may
 *    grow by at most max(5 MiB, 5%), and the heap in use (glibc's mallinfo2) by at most
 *    16 KiB, where one leaked result tensor per inference would add a megabyte.
 * 2. 10,000 create/destroy cycles of a recognizer built from a config (the two configs in
 *    turn), after 200 to warm up: RSS within max(2 MiB, 5%), heap in use within 4 KiB
 *    (half a byte a cycle).
 *
 * The heap figure is exact when glibc's per-thread caches are off, as meson runs it
 * (GLIBC_TUNABLES=glibc.malloc.tcache_count=0); with them on, their filling up over the
 * first thousand or so cycles looks like a slow leak.  The figures are printed as TAP
 * comments.  This is the `soak` suite (about two minutes); with --quick it is a unit test
 * at a small scale (8 x 25 inferences, 100 cycles after 50), where the exact heap check
 * still applies but RSS is not asserted.  Under valgrind (MACT_TEST_UNDER_VALGRIND) it is
 * smaller still and memcheck's leak check stands in for the memory assertions, which are
 * left out (as under AddressSanitizer, whose quarantine holds freed memory on purpose). */
#include "mact-test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#define N_THREADS 8
#define N_INPUTS  16
#define MiB       (1024.0 * 1024.0)

typedef struct {
  guint    inferences;      /* per thread */
  guint    warmup;          /* of them, before the baseline */
  guint    cycles;          /* create/destroy */
  guint    cycle_warmup;
  gboolean check_rss;
} Scale;

static Scale scale;

static const char *config_3d =
  "{\"model\": {\"type\": \"Recognizer3D\","
  "  \"backbone\": {\"type\": \"ResNet3d\", \"depth\": 18, \"base_channels\": 4,"
  "                 \"pretrained\": null, \"pretrained2d\": false},"
  "  \"cls_head\": {\"type\": \"I3DHead\", \"num_classes\": 5, \"in_channels\": 32,"
  "                 \"dropout_ratio\": 0.5},"
  "  \"test_cfg\": {\"average_clips\": \"prob\"}}}";

static const char *config_2d =
  "{\"model\": {\"type\": \"Recognizer2D\","
  "  \"backbone\": {\"type\": \"MobileNetV2\", \"widen_factor\": 0.25},"
  "  \"cls_head\": {\"type\": \"TSNHead\", \"num_classes\": 5, \"in_channels\": 1280,"
  "                 \"spatial_type\": \"avg\","
  "                 \"consensus\": {\"type\": \"AvgConsensus\", \"dim\": 1},"
  "                 \"dropout_ratio\": 0.4, \"init_std\": 0.01},"
  "  \"test_cfg\": {\"average_clips\": \"score\"}}}";

/* ------------------------------------------------------------------ memory */

typedef struct {
  double rss;     /* bytes resident */
  double heap;    /* bytes malloc reports in use (0 when unknown) */
} Memory;

static Memory
memory_now (void)
{
  Memory m = { 0, 0 };
  g_autofree char *statm = NULL;
  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    {
      unsigned long size = 0, resident = 0;
      if (sscanf (statm, "%lu %lu", &size, &resident) == 2)
        m.rss = (double) resident * (double) sysconf (_SC_PAGESIZE);
    }
#ifdef HAVE_MALLINFO2
  struct mallinfo2 mi = mallinfo2 ();
  m.heap = (double) mi.uordblks + (double) mi.hblkhd;
#endif
  return m;
}

static gboolean
under_memory_tool (void)
{
#ifdef UNDER_SANITIZER
  return TRUE;
#else
  return g_getenv ("MACT_TEST_UNDER_VALGRIND") != NULL;
#endif
}

/* The heap figure is exact only without glibc's per-thread caches (tcache), whose freed
 * chunks count as in use and fill up over thousands of allocations; meson runs this test
 * with GLIBC_TUNABLES=glibc.malloc.tcache_count=0. */
static gboolean
heap_is_exact (void)
{
  const char *tunables = g_getenv ("GLIBC_TUNABLES");
  return tunables != NULL && strstr (tunables, "glibc.malloc.tcache_count=0") != NULL;
}

/* Asserts the growth from @base to @peak (RSS) and to @end (heap in use) within the
 * margins, after printing the figures.  RSS only means something at full scale; the heap
 * figure is exact at any scale. */
static void
check_growth (const char *what, Memory base, Memory peak, Memory end, double rss_floor,
              double heap_limit)
{
  const double rss_limit = MAX (rss_floor, 0.05 * base.rss);
  print_message ("# %s: RSS %.1f MiB after warm-up, peak %.1f MiB, end %.1f MiB "
                 "(growth %+.2f MiB, limit %.2f MiB); heap in use %.3f -> %.3f MiB "
                 "(growth %+.1f KiB, limit %.0f KiB)\n", what, base.rss / MiB, peak.rss / MiB,
                 end.rss / MiB, (peak.rss - base.rss) / MiB, rss_limit / MiB,
                 base.heap / MiB, end.heap / MiB, (end.heap - base.heap) / 1024.0,
                 heap_limit / 1024.0);
  if (under_memory_tool ())
    {
      print_message ("# %s: memory margins not asserted under a memory checker\n", what);
      return;
    }
  if (scale.check_rss && peak.rss - base.rss > rss_limit)
    fail_msg ("%s: RSS grew by %.2f MiB after warm-up (limit %.2f MiB)", what,
              (peak.rss - base.rss) / MiB, rss_limit / MiB);
  if (!heap_is_exact () || base.heap == 0)
    print_message ("# %s: heap growth not asserted (needs glibc with "
                   "GLIBC_TUNABLES=glibc.malloc.tcache_count=0)\n", what);
  else if (end.heap - base.heap > heap_limit)
    fail_msg ("%s: heap in use grew by %.1f KiB after warm-up (limit %.0f KiB)", what,
              (end.heap - base.heap) / 1024.0, heap_limit / 1024.0);
}

/* ------------------------------------------------------------------ threads */

typedef struct {
  GMutex lock;
  GCond  cond;
  guint  warmed;       /* workers past their warm-up */
  guint  finished;     /* workers done with all their inferences */
  gboolean go;         /* the baseline is taken: carry on */
  gboolean release;    /* the end is measured: exit */
} Phase;

typedef struct {
  MactRecognizer *models[2];
  GPtrArray      *inputs[2];     /* MactTensor */
  GPtrArray      *expected[2];   /* MactTensor, the serial results */
  Phase          *phase;
  guint           index;
  guint           done;
  guint           mismatches;
  guint           failures;
  char           *first_failure;
} Worker;

static gboolean
bitwise_equal (MactTensor *a, MactTensor *b)
{
  gint nda, ndb;
  const gint64 *sa = mact_tensor_get_shape (a, &nda);
  const gint64 *sb = mact_tensor_get_shape (b, &ndb);
  if (nda != ndb || memcmp (sa, sb, nda * sizeof (gint64)) != 0)
    return FALSE;
  g_autoptr(MactTensor) ca = mact_tensor_contiguous (a);
  g_autoptr(MactTensor) cb = mact_tensor_contiguous (b);
  return memcmp (mact_tensor_get_data (ca), mact_tensor_get_data (cb),
                 (gsize) mact_tensor_get_numel (ca) * sizeof (float)) == 0;
}

static void
infer (Worker *w, guint i)
{
  const guint m = (w->index + i) % 2;
  const guint clip = (w->index * 5 + i) % N_INPUTS;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) got = mact_recognizer_classify (w->models[m],
                                                        g_ptr_array_index (w->inputs[m], clip),
                                                        NULL, &error);
  w->done++;
  if (got == NULL)
    {
      if (w->failures++ == 0)
        w->first_failure = g_strdup_printf ("inference %u: %s", i, error->message);
      return;
    }
  if (!bitwise_equal (got, g_ptr_array_index (w->expected[m], clip)))
    w->mismatches++;
}

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  Phase *p = w->phase;
  for (guint i = 0; i < scale.warmup; i++)
    infer (w, i);

  g_mutex_lock (&p->lock);
  p->warmed++;
  g_cond_broadcast (&p->cond);
  while (!p->go)
    g_cond_wait (&p->cond, &p->lock);
  g_mutex_unlock (&p->lock);

  for (guint i = scale.warmup; i < scale.inferences; i++)
    infer (w, i);

  /* Stay alive until the end is measured: a thread's convolution buffers go with it. */
  g_mutex_lock (&p->lock);
  p->finished++;
  g_cond_broadcast (&p->cond);
  while (!p->release)
    g_cond_wait (&p->cond, &p->lock);
  g_mutex_unlock (&p->lock);
  return NULL;
}

static MactRecognizer *
build (const char *config, guint64 seed)
{
  g_autoptr(GError) error = NULL;
  mact_manual_seed (seed);
  MactRecognizer *r = mact_recognizer_new_from_data (config, -1, NULL, &error);
  if (r == NULL)
    fail_msg ("%s", error->message);
  mact_module_eval (MACT_MODULE (r));
  return r;
}

static void
test_threads_shared_recognizers (void **state)
{
  const gint64 shape_3d[] = { 1, 2, 3, 4, 16, 16 };
  const gint64 shape_2d[] = { 1, 3, 3, 32, 32 };   /* TSN: 3 segments */
  g_autoptr(MactRecognizer) r3d = build (config_3d, 11);
  g_autoptr(MactRecognizer) r2d = build (config_2d, 12);
  Worker proto = { .models = { r3d, r2d } };
  for (guint m = 0; m < 2; m++)
    {
      proto.inputs[m] = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
      proto.expected[m] = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
      for (guint i = 0; i < N_INPUTS; i++)
        {
          g_autoptr(GError) error = NULL;
          MactTensor *imgs = m == 0 ? mact_test_random (6, shape_3d, 100 + i, -2.0, 2.0)
                                    : mact_test_random (5, shape_2d, 200 + i, -2.0, 2.0);
          g_ptr_array_add (proto.inputs[m], imgs);
          MactTensor *serial = mact_recognizer_classify (proto.models[m], imgs, NULL, &error);
          if (serial == NULL)
            fail_msg ("%s", error->message);
          g_ptr_array_add (proto.expected[m], serial);
        }
      /* Different inputs give different results, so a mix-up would show. */
      assert_false (bitwise_equal (g_ptr_array_index (proto.expected[m], 0),
                                   g_ptr_array_index (proto.expected[m], 1)));
    }

  Phase phase = { 0 };
  g_mutex_init (&phase.lock);
  g_cond_init (&phase.cond);
  proto.phase = &phase;
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  const Memory before = memory_now ();
  const gint64 t0 = g_get_monotonic_time ();
  for (guint t = 0; t < N_THREADS; t++)
    {
      workers[t] = proto;
      workers[t].index = t;
      threads[t] = g_thread_new ("soak", worker_main, &workers[t]);
    }

  g_mutex_lock (&phase.lock);
  while (phase.warmed < N_THREADS)
    g_cond_wait (&phase.cond, &phase.lock);
  const Memory base = memory_now ();
  const gint64 t1 = g_get_monotonic_time ();
  phase.go = TRUE;
  g_cond_broadcast (&phase.cond);
  /* Sample while they run: the peak counts, not only the end. */
  Memory peak = base;
  while (phase.finished < N_THREADS)
    {
      const gint64 until = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;
      g_cond_wait_until (&phase.cond, &phase.lock, until);
      const Memory now = memory_now ();
      peak.rss = MAX (peak.rss, now.rss);
      peak.heap = MAX (peak.heap, now.heap);
    }
  const Memory end = memory_now ();
  const gint64 t2 = g_get_monotonic_time ();
  peak.rss = MAX (peak.rss, end.rss);
  phase.release = TRUE;
  g_cond_broadcast (&phase.cond);
  g_mutex_unlock (&phase.lock);

  guint mismatches = 0, failures = 0, done = 0;
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (threads[t]);
      done += workers[t].done;
      mismatches += workers[t].mismatches;
      failures += workers[t].failures;
      if (workers[t].first_failure != NULL)
        print_error ("thread %u: %s\n", t, workers[t].first_failure);
      g_free (workers[t].first_failure);
    }
  const Memory joined = memory_now ();
  g_mutex_clear (&phase.lock);
  g_cond_clear (&phase.cond);
  for (guint m = 0; m < 2; m++)
    {
      g_ptr_array_unref (proto.inputs[m]);
      g_ptr_array_unref (proto.expected[m]);
    }

  const double seconds = (t2 - t0) / 1e6;
  print_message ("# %u threads x %u inferences (3D ResNet and 2D TSN in turn): %u done in "
                 "%.1f s (%.0f/s; after warm-up %.1f s), %u mismatches, %u failures\n",
                 N_THREADS, scale.inferences, done, seconds, done / seconds,
                 (t2 - t1) / 1e6, mismatches, failures);
  /* Per-thread buffers go with their threads: the heap returns to where it was. */
  print_message ("# before the threads / after joining them: RSS %.1f / %.1f MiB, heap in "
                 "use %.3f / %.3f MiB\n", before.rss / MiB, joined.rss / MiB,
                 before.heap / MiB, joined.heap / MiB);
  assert_int_equal (done, N_THREADS * scale.inferences);
  assert_int_equal (failures, 0);
  assert_int_equal (mismatches, 0);
  check_growth ("inference threads", base, peak, end, 5 * MiB, 16 * 1024.0);
}

/* ------------------------------------------------------------------ create/destroy */

static void
test_create_destroy_cycles (void **state)
{
  const char *configs[] = { config_3d, config_2d };
  Memory base = { 0 }, peak = { 0 };
  const gint64 t0 = g_get_monotonic_time ();
  gint64 t1 = t0;
  for (guint c = 0; c < scale.cycle_warmup + scale.cycles; c++)
    {
      if (c == scale.cycle_warmup)
        {
          base = peak = memory_now ();
          t1 = g_get_monotonic_time ();
        }
      g_autoptr(GError) error = NULL;
      MactRecognizer *r = mact_recognizer_new_from_data (configs[c % 2], -1, NULL, &error);
      if (r == NULL)
        fail_msg ("cycle %u: %s", c, error->message);
      mact_module_eval (MACT_MODULE (r));
      g_object_unref (r);
      if (c > scale.cycle_warmup && c % 500 == 0)
        {
          const Memory now = memory_now ();
          peak.rss = MAX (peak.rss, now.rss);
        }
    }
  const Memory end = memory_now ();
  peak.rss = MAX (peak.rss, end.rss);
  const gint64 t2 = g_get_monotonic_time ();
  print_message ("# %u create/destroy cycles (+%u to warm up) of a recognizer from a config "
                 "(3D ResNet and 2D TSN in turn): %.1f s, %.2f ms each\n", scale.cycles,
                 scale.cycle_warmup, (t2 - t1) / 1e6, (t2 - t1) / 1e3 / scale.cycles);
  if (base.heap > 0)
    print_message ("# create/destroy: heap in use %+.1f bytes per cycle after warm-up\n",
                   (end.heap - base.heap) / scale.cycles);
  check_growth ("create/destroy", base, peak, end, 2 * MiB, 4 * 1024.0);
}

int
main (int argc, char **argv)
{
  const gboolean quick = argc > 1 && g_str_equal (argv[1], "--quick");
  if (g_getenv ("MACT_TEST_UNDER_VALGRIND") != NULL)
    scale = (Scale) { .inferences = 4, .warmup = 2, .cycles = 8, .cycle_warmup = 2 };
  else if (quick)
    scale = (Scale) { .inferences = 25, .warmup = 5, .cycles = 100, .cycle_warmup = 50 };
  else
    scale = (Scale) { .inferences = 1000, .warmup = 100, .cycles = 10000,
                      .cycle_warmup = 200, .check_rss = TRUE };

  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_threads_shared_recognizers),
    cmocka_unit_test (test_create_destroy_cycles),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
