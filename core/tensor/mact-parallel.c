/* mact-parallel.c: the kernels' thread pool.
 *
 * A parallel_for splits [0, n) into one contiguous chunk per thread (as ggml does with
 * ith/nth), runs the first chunk on the calling thread and the rest on a shared GThreadPool,
 * and waits.  A call made from inside a chunk runs serially, so nesting cannot deadlock.
 */
#include "mact-tensor-private.h"

typedef struct {
  MactParallelFunc func;
  gpointer         data;
  gint             pending;   /* chunks not finished yet */
  GMutex           lock;
  GCond            done;
} ParallelJob;

typedef struct {
  ParallelJob *job;
  gint64       begin;
  gint64       end;
} ParallelChunk;

static _Thread_local gboolean in_parallel_region;
static GThreadPool *pool;
static GMutex pool_lock;

static void
run_chunk (gpointer chunk_ptr, gpointer unused)
{
  ParallelChunk *chunk = chunk_ptr;
  ParallelJob *job = chunk->job;

  in_parallel_region = TRUE;
  job->func (chunk->begin, chunk->end, job->data);
  in_parallel_region = FALSE;

  g_mutex_lock (&job->lock);
  if (--job->pending == 0)
    g_cond_signal (&job->done);
  g_mutex_unlock (&job->lock);
}

static GThreadPool *
get_pool (gint n_workers)
{
  g_mutex_lock (&pool_lock);
  if (pool == NULL)
    pool = g_thread_pool_new (run_chunk, NULL, n_workers, FALSE, NULL);
  else if (g_thread_pool_get_max_threads (pool) < n_workers)
    g_thread_pool_set_max_threads (pool, n_workers, NULL);
  g_mutex_unlock (&pool_lock);
  return pool;
}

void
mact_parallel_for (gint64 n, gint64 grain, MactParallelFunc func, gpointer data)
{
  if (n <= 0)
    return;
  gint n_threads = mact_get_num_threads ();
  grain = MAX (grain, 1);
  gint64 n_chunks = MIN ((gint64) n_threads, (n + grain - 1) / grain);

  if (n_chunks <= 1 || in_parallel_region)
    {
      func (0, n, data);
      return;
    }

  ParallelJob job = { .func = func, .data = data, .pending = (gint) n_chunks };
  g_mutex_init (&job.lock);
  g_cond_init (&job.done);
  ParallelChunk chunks[n_chunks];
  gint64 step = (n + n_chunks - 1) / n_chunks;
  GThreadPool *workers = get_pool (n_threads - 1);

  for (gint64 c = 0; c < n_chunks; c++)
    {
      chunks[c].job = &job;
      chunks[c].begin = c * step;
      chunks[c].end = MIN (n, (c + 1) * step);
    }
  for (gint64 c = 1; c < n_chunks; c++)
    g_thread_pool_push (workers, &chunks[c], NULL);
  run_chunk (&chunks[0], NULL);

  g_mutex_lock (&job.lock);
  while (job.pending > 0)
    g_cond_wait (&job.done, &job.lock);
  g_mutex_unlock (&job.lock);
  g_mutex_clear (&job.lock);
  g_cond_clear (&job.done);
}
