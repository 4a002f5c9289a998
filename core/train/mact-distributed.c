/* mact-distributed.c: the MPI processes of data-parallel training.
 *
 * A thin layer over MPI that the runner and `mact train` use: initialisation, rank and
 * world size, sums and broadcasts of float arrays, and a non-blocking sum for the
 * gradient buckets.  libmact builds without MPI too (meson -Dmpi=disabled); then every
 * call that needs MPI fails with "built without MPI", the world has one rank, and a
 * program that was not started by mpirun never calls into MPI at all.
 *
 * No hangs: MPI's default error handler aborts the process; mact's communicator (a
 * duplicate of MPI_COMM_WORLD, so mact's collectives never match an application's) returns
 * error codes instead, which become GErrors.  A dead or stuck peer usually produces no
 * error at all, only a collective that never completes, so every collective here is
 * non-blocking and is waited for by polling MPI_Test against a deadline (the timeout,
 * MACT_DIST_TIMEOUT).  On expiry the caller gets %MACT_TRAIN_ERROR_TIMEOUT; MPI cannot
 * cancel a collective, so the request and its buffer are kept (abandoned) until
 * finalize, and the program is expected to end the job (mact_distributed_abort()).  The
 * library itself never aborts or exits.
 *
 * Buffers: a request works on its own copy of the values, copied back on completion, so
 * an abandoned request never writes into memory its caller has since freed.  The copies
 * are pooled: the gradient buckets of every step reuse the same buffers, since fresh
 * large allocations cost page faults every step (measured: twice the step time).
 *
 * Threads: MPI is initialised with MPI_THREAD_SERIALIZED and every MPI call here is made
 * under one lock, so any thread may call these functions (the compute and loader threads
 * never do). */
#include <mact/mact.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef MACT_HAVE_MPI
#include <mpi.h>
#endif

struct _MactDistributedRequest
{
  const char *what;        /* "all-reduce", "broadcast", "barrier" */
  float      *dest;        /* the caller's values, written on completion */
  float      *buf;         /* what MPI reads and writes */
  gsize       n_values;
  gsize       capacity;    /* of buf */
  gboolean    done;
#ifdef MACT_HAVE_MPI
  guint        n_requests;
  MPI_Request *requests;
#endif
};

static struct {
  GMutex      lock;
  gboolean    initialized;
  gboolean    finalized;
  gboolean    owns_mpi;      /* mact called MPI_Init, so mact calls MPI_Finalize */
  guint       rank;
  guint       world_size;
  double      timeout;       /* seconds; <= 0: no limit; NAN: not read yet */
  GPtrArray  *abandoned;     /* MactDistributedRequest that never completed */
  GPtrArray  *pool;          /* PooledBuffer: request buffers for reuse */
#ifdef MACT_HAVE_MPI
  MPI_Comm    comm;
#endif
} dist = { .world_size = 1, .timeout = NAN };

/* ------------------------------------------------------------------ helpers */

static gboolean
dist_error (GError **error, gint code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
dist_error (GError **error, gint code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, MACT_TRAIN_ERROR, code, "distributed: %s", msg);
  return FALSE;
}

static gboolean
check_ready (const char *what, GError **error)
{
#ifndef MACT_HAVE_MPI
  return dist_error (error, MACT_TRAIN_ERROR_DISTRIBUTED,
                     "cannot %s: libmact was built without MPI (configure with "
                     "-Dmpi=enabled and OpenMPI installed)", what);
#else
  if (!dist.initialized)
    return dist_error (error, MACT_TRAIN_ERROR_DISTRIBUTED,
                       "cannot %s: MPI is not initialised (call mact_distributed_init())",
                       what);
  return TRUE;
#endif
}

#ifdef MACT_HAVE_MPI
static gboolean
mpi_error (GError **error, int rc, const char *call)
{
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  if (MPI_Error_string (rc, text, &len) != MPI_SUCCESS)
    g_snprintf (text, sizeof text, "MPI error code %d", rc);
  return dist_error (error, MACT_TRAIN_ERROR_DISTRIBUTED, "%s failed on rank %u of %u: %s",
                     call, dist.rank, dist.world_size, text);
}
#endif

static double
read_timeout_env (void)
{
  const char *env = g_getenv ("MACT_DIST_TIMEOUT");
  if (env != NULL && *env != '\0')
    {
      char *end = NULL;
      double v = g_ascii_strtod (env, &end);
      if (end != env && *end == '\0' && isfinite (v))
        return v;
      g_warning ("MACT_DIST_TIMEOUT='%s' is not a number of seconds; using %g", env,
                 MACT_DISTRIBUTED_DEFAULT_TIMEOUT);
    }
  return MACT_DISTRIBUTED_DEFAULT_TIMEOUT;
}

/* ------------------------------------------------------------------ processes */

/**
 * mact_distributed_is_available:
 *
 * Returns: whether libmact was built with MPI
 *
 * Since: 0.1
 */
gboolean
mact_distributed_is_available (void)
{
#ifdef MACT_HAVE_MPI
  return TRUE;
#else
  return FALSE;
#endif
}

/**
 * mact_distributed_is_launched:
 *
 * Whether this process was started by an MPI launcher, from the environment it sets:
 * `OMPI_COMM_WORLD_SIZE` (OpenMPI's mpirun), `PMIX_RANK` (PMIx launchers such as
 * `srun --mpi=pmix`) or `PMI_SIZE` / `PMI_RANK` (MPICH's hydra).  Makes no MPI call, so
 * a program can decide whether to initialise MPI at all.
 *
 * Returns: %TRUE when launched as an MPI rank
 *
 * Since: 0.1
 */
gboolean
mact_distributed_is_launched (void)
{
  static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE",
                                      "PMI_RANK" };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++)
    if (g_getenv (vars[i]) != NULL)
      return TRUE;
  return FALSE;
}

#ifdef MACT_HAVE_MPI
/* SyncBN's sum across the ranks (see mact_batch_norm_set_sync_reducer()). */
static gboolean
sync_bn_all_reduce (float *values, gsize n_values, gpointer user_data, GError **error)
{
  return mact_distributed_all_reduce_sum (values, n_values, error);
}
#endif

/**
 * mact_distributed_init:
 * @error: return location for a #GError
 *
 * Initialises MPI (MPI_Init_thread with MPI_THREAD_SERIALIZED, unless the program already
 * did) and mact's communicator, a duplicate of MPI_COMM_WORLD whose errors are returned
 * rather than fatal.  The collective timeout is read from `MACT_DIST_TIMEOUT` (seconds,
 * 0 for none) unless set with mact_distributed_set_timeout().  Calling it again is a no-op.
 * MPI cannot be initialised again after mact_distributed_finalize().  With more than one
 * rank it installs the all-reduce of SyncBN layers (mact_batch_norm_set_sync_reducer()),
 * which mact_distributed_finalize() removes.
 *
 * Errors: %MACT_TRAIN_ERROR_DISTRIBUTED when libmact was built without MPI, MPI was
 * finalised, or an MPI call fails.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_distributed_init (GError **error)
{
#ifndef MACT_HAVE_MPI
  return check_ready ("initialise", error);
#else
  g_mutex_lock (&dist.lock);
  gboolean ok = FALSE;
  int flag = 0, provided = 0, rank = 0, size = 1, rc;

  if (dist.initialized)
    {
      ok = TRUE;
      goto out;
    }
  if (dist.finalized)
    {
      dist_error (error, MACT_TRAIN_ERROR_DISTRIBUTED,
                  "MPI was finalised and cannot be initialised again");
      goto out;
    }

  MPI_Initialized (&flag);
  if (!flag)
    {
      /* Only the training thread calls MPI, one call at a time under dist.lock. */
      rc = MPI_Init_thread (NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
      if (rc != MPI_SUCCESS)
        {
          mpi_error (error, rc, "MPI_Init_thread");
          goto out;
        }
      dist.owns_mpi = TRUE;
    }
  else
    MPI_Query_thread (&provided);
  if (provided < MPI_THREAD_SERIALIZED)
    {
      dist_error (error, MACT_TRAIN_ERROR_DISTRIBUTED,
                  "the MPI library provides thread level %d, mact needs "
                  "MPI_THREAD_SERIALIZED (%d)", provided, MPI_THREAD_SERIALIZED);
      goto out;
    }

  /* Errors on the world communicator return too: nothing in MPI may end the process. */
  MPI_Comm_set_errhandler (MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  rc = MPI_Comm_dup (MPI_COMM_WORLD, &dist.comm);
  if (rc != MPI_SUCCESS)
    {
      mpi_error (error, rc, "MPI_Comm_dup");
      goto out;
    }
  MPI_Comm_set_errhandler (dist.comm, MPI_ERRORS_RETURN);
  if ((rc = MPI_Comm_rank (dist.comm, &rank)) != MPI_SUCCESS ||
      (rc = MPI_Comm_size (dist.comm, &size)) != MPI_SUCCESS)
    {
      mpi_error (error, rc, "MPI_Comm_rank/size");
      goto out;
    }
  dist.rank = (guint) rank;
  dist.world_size = (guint) size;
  if (isnan (dist.timeout))
    dist.timeout = read_timeout_env ();
  if (dist.abandoned == NULL)
    dist.abandoned = g_ptr_array_new ();
  if (dist.pool == NULL)
    dist.pool = g_ptr_array_new ();
  dist.initialized = TRUE;
  /* SyncBN layers share their statistics only when there is someone to share with. */
  if (dist.world_size > 1)
    mact_batch_norm_set_sync_reducer (sync_bn_all_reduce, NULL);
  ok = TRUE;

out:
  g_mutex_unlock (&dist.lock);
  return ok;
#endif
}

/**
 * mact_distributed_is_initialized:
 *
 * Returns: whether mact_distributed_init() succeeded and MPI was not finalised since
 *
 * Since: 0.1
 */
gboolean
mact_distributed_is_initialized (void)
{
  return dist.initialized;
}

/**
 * mact_distributed_get_rank:
 *
 * Returns: this process's rank in [0, world size); 0 when not initialised
 *
 * Since: 0.1
 */
guint
mact_distributed_get_rank (void)
{
  return dist.initialized ? dist.rank : 0;
}

/**
 * mact_distributed_get_world_size:
 *
 * Returns: the number of processes; 1 when not initialised or built without MPI
 *
 * Since: 0.1
 */
guint
mact_distributed_get_world_size (void)
{
  return dist.initialized ? dist.world_size : 1;
}

/**
 * mact_distributed_set_timeout:
 * @seconds: the longest a collective may block; 0 or less for no limit
 *
 * Overrides `MACT_DIST_TIMEOUT` and %MACT_DISTRIBUTED_DEFAULT_TIMEOUT.  The limit applies
 * to each blocking wait, so it must exceed the longest time one rank can spend away from
 * the others (a checkpoint or validation only rank 0 does, a slow first iteration).
 *
 * Since: 0.1
 */
void
mact_distributed_set_timeout (double seconds)
{
  g_mutex_lock (&dist.lock);
  dist.timeout = isfinite (seconds) ? seconds : 0.0;
  g_mutex_unlock (&dist.lock);
}

/**
 * mact_distributed_get_timeout:
 *
 * Returns: the collective timeout in seconds (0 or less: none)
 *
 * Since: 0.1
 */
double
mact_distributed_get_timeout (void)
{
  g_mutex_lock (&dist.lock);
  if (isnan (dist.timeout))
    dist.timeout = read_timeout_env ();
  double t = dist.timeout;
  g_mutex_unlock (&dist.lock);
  return t;
}

/* ------------------------------------------------------------------ requests */

#ifdef MACT_HAVE_MPI
/* MPI counts are ints: larger arrays are cut into pieces, one request each. */
#define PIECE ((gsize) 1 << 30)

typedef struct {
  float *data;
  gsize  capacity;
} PooledBuffer;

/* A buffer of at least @n floats, from the pool when one fits without wasting more than
 * half of it. */
static float *
buffer_take (gsize n, gsize *capacity)
{
  n = MAX (n, 1);
  g_mutex_lock (&dist.lock);
  for (guint i = 0; dist.pool != NULL && i < dist.pool->len; i++)
    {
      PooledBuffer *pb = dist.pool->pdata[i];
      if (pb->capacity >= n && pb->capacity / 2 <= n)
        {
          float *data = pb->data;
          *capacity = pb->capacity;
          g_ptr_array_remove_index_fast (dist.pool, i);
          g_free (pb);
          g_mutex_unlock (&dist.lock);
          return data;
        }
    }
  g_mutex_unlock (&dist.lock);
  *capacity = n;
  return g_new (float, n);
}

static void
buffer_give (float *data, gsize capacity)
{
  g_mutex_lock (&dist.lock);
  /* Bounded: a run has a few buckets; anything beyond is freed. */
  if (dist.pool != NULL && dist.pool->len < 64)
    {
      PooledBuffer *pb = g_new (PooledBuffer, 1);
      pb->data = data;
      pb->capacity = capacity;
      g_ptr_array_add (dist.pool, pb);
      data = NULL;
    }
  g_mutex_unlock (&dist.lock);
  g_free (data);
}

static void
pool_free (void)
{
  for (guint i = 0; dist.pool != NULL && i < dist.pool->len; i++)
    {
      PooledBuffer *pb = dist.pool->pdata[i];
      g_free (pb->data);
      g_free (pb);
    }
  g_clear_pointer (&dist.pool, g_ptr_array_unref);
}

static MactDistributedRequest *
request_new (const char *what, float *values, gsize n_values)
{
  MactDistributedRequest *req = g_new0 (MactDistributedRequest, 1);
  req->what = what;
  req->dest = values;
  req->n_values = n_values;
  req->buf = buffer_take (n_values, &req->capacity);
  if (n_values > 0)
    memcpy (req->buf, values, n_values * sizeof (float));
  req->n_requests = (guint) MAX ((n_values + PIECE - 1) / PIECE, 1);
  req->requests = g_new (MPI_Request, req->n_requests);
  for (guint i = 0; i < req->n_requests; i++)
    req->requests[i] = MPI_REQUEST_NULL;
  return req;
}

static void
request_destroy (MactDistributedRequest *req)
{
  buffer_give (req->buf, req->capacity);
  g_free (req->requests);
  g_free (req);
}

/* Starts the collective on @req's buffer; @root is for broadcasts. */
static gboolean
request_start (MactDistributedRequest *req, guint root, GError **error)
{
  g_mutex_lock (&dist.lock);
  int rc = MPI_SUCCESS;
  const char *call = "MPI_Iallreduce";
  for (guint i = 0; i < req->n_requests && rc == MPI_SUCCESS; i++)
    {
      const gsize off = (gsize) i * PIECE;
      const int count = (int) MIN (PIECE, req->n_values - MIN (off, req->n_values));
      if (g_str_equal (req->what, "all-reduce"))
        rc = MPI_Iallreduce (MPI_IN_PLACE, req->buf + off, count, MPI_FLOAT, MPI_SUM,
                             dist.comm, &req->requests[i]);
      else if (g_str_equal (req->what, "broadcast"))
        {
          call = "MPI_Ibcast";
          rc = MPI_Ibcast (req->buf + off, count, MPI_FLOAT, (int) root, dist.comm,
                           &req->requests[i]);
        }
      else
        {
          call = "MPI_Ibarrier";
          rc = MPI_Ibarrier (dist.comm, &req->requests[i]);
        }
    }
  g_mutex_unlock (&dist.lock);
  if (rc != MPI_SUCCESS)
    {
      /* Pieces already started cannot be taken back: keep them with the buffer. */
      gboolean started = FALSE;
      for (guint i = 0; i < req->n_requests; i++)
        started |= req->requests[i] != MPI_REQUEST_NULL;
      if (started)
        mact_distributed_request_free (req);
      else
        request_destroy (req);
      return mpi_error (error, rc, call);
    }
  return TRUE;
}

static gboolean
request_poll (MactDistributedRequest *req, GError **error)
{
  if (req->done)
    return TRUE;
  int flag = 0;
  g_mutex_lock (&dist.lock);
  int rc = MPI_Testall ((int) req->n_requests, req->requests, &flag, MPI_STATUSES_IGNORE);
  g_mutex_unlock (&dist.lock);
  if (rc != MPI_SUCCESS)
    return mpi_error (error, rc, "MPI_Testall");
  if (flag)
    {
      req->done = TRUE;
      if (req->dest != NULL && req->n_values > 0)
        memcpy (req->dest, req->buf, req->n_values * sizeof (float));
    }
  return TRUE;
}

/* Polls until done or the deadline: spinning at first (a sum of a few values completes in
 * microseconds), then sleeping a little between polls so a waiting rank leaves the
 * cores to the others. */
static gboolean
request_wait_deadline (MactDistributedRequest *req, double timeout, GError **error)
{
  const gint64 start = g_get_monotonic_time ();
  const gint64 limit = timeout > 0 ? (gint64) (timeout * G_USEC_PER_SEC) : G_MAXINT64;
  for (;;)
    {
      if (!request_poll (req, error))
        return FALSE;
      if (req->done)
        return TRUE;
      const gint64 waited = g_get_monotonic_time () - start;
      if (waited > limit)
        return dist_error (error, MACT_TRAIN_ERROR_TIMEOUT,
                           "%s of %" G_GSIZE_FORMAT " values did not complete within %g s "
                           "on rank %u of %u: another rank has died, hangs, or is in a "
                           "different collective (MACT_DIST_TIMEOUT sets the limit)",
                           req->what, req->n_values, timeout, dist.rank, dist.world_size);
      if (waited > 100000)
        g_usleep (500);
      else if (waited > 2000)
        g_usleep (50);
    }
}
#endif

/**
 * mact_distributed_all_reduce_sum_start: (skip)
 * @values: (array length=n_values): the values to sum over all ranks
 * @n_values: how many; every rank must pass the same number
 * @error: return location for a #GError
 *
 * Starts MPI_Iallreduce (sum) of @values and returns at once.  The sum is written into
 * @values when mact_distributed_request_test() or mact_distributed_request_wait() finds
 * it complete, so @values must stay valid until then or until the request is freed.
 * Every rank must start the same collectives in the same order.  Not introspectable:
 * the result lands in the caller's buffer after the call returns, which no binding can
 * express.
 *
 * Returns: (transfer full) (nullable): the request, or %NULL with
 *   %MACT_TRAIN_ERROR_DISTRIBUTED
 *
 * Since: 0.1
 */
MactDistributedRequest *
mact_distributed_all_reduce_sum_start (float    *values,
                                       gsize     n_values,
                                       GError  **error)
{
  g_return_val_if_fail (values != NULL || n_values == 0, NULL);
  if (!check_ready ("all-reduce", error))
    return NULL;
#ifdef MACT_HAVE_MPI
  MactDistributedRequest *req = request_new ("all-reduce", values, n_values);
  if (!request_start (req, 0, error))
    return NULL;
  return req;
#else
  return NULL;
#endif
}

/**
 * mact_distributed_request_test:
 * @request: a request
 * @done: (out): whether it has completed (the result is then in the caller's values)
 * @error: return location for a #GError
 *
 * Makes progress on @request without blocking (MPI_Test).  Calling it now and then while
 * computing is what lets a collective overlap the computation.
 *
 * Returns: %FALSE with %MACT_TRAIN_ERROR_DISTRIBUTED when MPI reports a failure
 *
 * Since: 0.1
 */
gboolean
mact_distributed_request_test (MactDistributedRequest  *request,
                               gboolean                *done,
                               GError                 **error)
{
  g_return_val_if_fail (request != NULL && done != NULL, FALSE);
#ifdef MACT_HAVE_MPI
  if (!request_poll (request, error))
    return FALSE;
  *done = request->done;
  return TRUE;
#else
  *done = TRUE;
  return TRUE;
#endif
}

/**
 * mact_distributed_request_wait:
 * @request: a request
 * @error: return location for a #GError
 *
 * Waits until @request completes, for at most the timeout
 * (mact_distributed_get_timeout()).
 *
 * Errors: %MACT_TRAIN_ERROR_TIMEOUT when the timeout expires (a rank died or hangs; the
 * job should be ended with mact_distributed_abort()); %MACT_TRAIN_ERROR_DISTRIBUTED when
 * MPI reports a failure.
 *
 * Returns: %TRUE when complete
 *
 * Since: 0.1
 */
gboolean
mact_distributed_request_wait (MactDistributedRequest  *request,
                               GError                 **error)
{
  g_return_val_if_fail (request != NULL, FALSE);
#ifdef MACT_HAVE_MPI
  return request_wait_deadline (request, mact_distributed_get_timeout (), error);
#else
  return TRUE;
#endif
}

/**
 * mact_distributed_request_free:
 * @request: (nullable): a request
 *
 * Frees @request.  One that has not completed cannot be cancelled (MPI has no way to), so
 * it is kept, with its own copy of the values, until mact_distributed_finalize(); the
 * caller's values are no longer written.
 *
 * Since: 0.1
 */
void
mact_distributed_request_free (MactDistributedRequest *request)
{
  if (request == NULL)
    return;
#ifdef MACT_HAVE_MPI
  g_mutex_lock (&dist.lock);
  const gboolean keep = !request->done && dist.abandoned != NULL;
  if (keep)
    {
      request->dest = NULL;
      g_ptr_array_add (dist.abandoned, request);
    }
  g_mutex_unlock (&dist.lock);
  if (!keep)
    request_destroy (request);
#else
  g_free (request);
#endif
}

/* ------------------------------------------------------------------ blocking collectives */

#ifdef MACT_HAVE_MPI
static gboolean
run_blocking (const char *what, float *values, gsize n_values, guint root, GError **error)
{
  MactDistributedRequest *req = request_new (what, values, n_values);
  if (!request_start (req, root, error))
    return FALSE;
  gboolean ok = request_wait_deadline (req, mact_distributed_get_timeout (), error);
  mact_distributed_request_free (req);
  return ok;
}
#endif

/**
 * mact_distributed_all_reduce_sum: (skip)
 * @values: (array length=n_values): the values to sum over all ranks, in place
 * @n_values: how many; every rank must pass the same number
 * @error: return location for a #GError
 *
 * Replaces @values with their element-wise sum over all ranks (MPI_Allreduce, MPI_SUM),
 * waiting at most the timeout.
 *
 * Errors: %MACT_TRAIN_ERROR_DISTRIBUTED (without MPI, before init, or when MPI fails),
 * %MACT_TRAIN_ERROR_TIMEOUT.  @values is unchanged on error.  Not introspectable: an
 * array changed in place has no binding form.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_distributed_all_reduce_sum (float    *values,
                                 gsize     n_values,
                                 GError  **error)
{
  g_return_val_if_fail (values != NULL || n_values == 0, FALSE);
  if (!check_ready ("all-reduce", error))
    return FALSE;
#ifdef MACT_HAVE_MPI
  return run_blocking ("all-reduce", values, n_values, 0, error);
#else
  return FALSE;
#endif
}

/**
 * mact_distributed_broadcast: (skip)
 * @values: (array length=n_values): on @root the values to send; elsewhere replaced
 *   with them
 * @n_values: how many; every rank must pass the same number
 * @root: the sending rank
 * @error: return location for a #GError
 *
 * MPI_Bcast of floats, waiting at most the timeout.  A @root outside the world is an
 * MPI error, reported as %MACT_TRAIN_ERROR_DISTRIBUTED like any other.  Not
 * introspectable: an array changed in place has no binding form.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_distributed_broadcast (float    *values,
                            gsize     n_values,
                            guint     root,
                            GError  **error)
{
  g_return_val_if_fail (values != NULL || n_values == 0, FALSE);
  if (!check_ready ("broadcast", error))
    return FALSE;
#ifdef MACT_HAVE_MPI
  return run_blocking ("broadcast", values, n_values, MIN (root, (guint) G_MAXINT), error);
#else
  return FALSE;
#endif
}

/**
 * mact_distributed_barrier:
 * @error: return location for a #GError
 *
 * Waits (at most the timeout) until every rank has called it.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_distributed_barrier (GError **error)
{
  if (!check_ready ("barrier", error))
    return FALSE;
#ifdef MACT_HAVE_MPI
  return run_blocking ("barrier", NULL, 0, 0, error);
#else
  return FALSE;
#endif
}

/* ------------------------------------------------------------------ the runner */

static gboolean
runner_all_reduce (float *values, gsize n_values, gpointer user_data, GError **error)
{
  return mact_distributed_all_reduce_sum (values, n_values, error);
}

static gpointer
runner_all_reduce_start (float *values, gsize n_values, gpointer user_data, GError **error)
{
  return mact_distributed_all_reduce_sum_start (values, n_values, error);
}

static gboolean
runner_all_reduce_wait (gpointer request, gboolean block, gboolean *done, gpointer user_data,
                        GError **error)
{
  if (!block)
    return mact_distributed_request_test (request, done, error);
  if (!mact_distributed_request_wait (request, error))
    return FALSE;
  *done = TRUE;
  return TRUE;
}

/**
 * mact_distributed_attach_runner:
 * @runner: a #MactRunner, before mact_runner_train()
 * @error: return location for a #GError
 *
 * Makes @runner this process's rank of the MPI world: mact_runner_set_distributed() with
 * this rank and world size and MPI sums, and mact_runner_set_async_all_reduce() so the
 * gradient buckets are reduced while backward runs.  With one process this changes
 * nothing.
 *
 * Errors: %MACT_TRAIN_ERROR_DISTRIBUTED when MPI is not initialised (or not built in).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_distributed_attach_runner (MactRunner  *runner,
                                GError     **error)
{
  g_return_val_if_fail (MACT_IS_RUNNER (runner), FALSE);
  if (!check_ready ("attach a runner", error))
    return FALSE;
  mact_runner_set_distributed (runner, dist.rank, dist.world_size, runner_all_reduce, NULL);
  mact_runner_set_async_all_reduce (runner, runner_all_reduce_start, runner_all_reduce_wait,
                                    (GDestroyNotify) mact_distributed_request_free);
  return TRUE;
}

/* ------------------------------------------------------------------ the end */

/**
 * mact_distributed_finalize:
 * @error: return location for a #GError
 *
 * Frees mact's communicator and, when mact initialised MPI, calls MPI_Finalize.  Every
 * rank must call it.  Without MPI, or when not initialised, it does nothing.
 *
 * Errors: %MACT_TRAIN_ERROR_TIMEOUT when collectives given up on earlier still do not
 * complete within the timeout (MPI is then left initialised: end the job with
 * mact_distributed_abort()); %MACT_TRAIN_ERROR_DISTRIBUTED when MPI fails.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_distributed_finalize (GError **error)
{
#ifdef MACT_HAVE_MPI
  if (!dist.initialized)
    return TRUE;
  /* A collective given up on (timeout) may still complete once the late rank joins, and
   * MPI_Finalize must not run with requests pending. */
  while (dist.abandoned->len > 0)
    {
      MactDistributedRequest *req = dist.abandoned->pdata[dist.abandoned->len - 1];
      if (!request_wait_deadline (req, mact_distributed_get_timeout (), error))
        return FALSE;
      g_ptr_array_remove_index (dist.abandoned, dist.abandoned->len - 1);
      request_destroy (req);
    }
  mact_batch_norm_set_sync_reducer (NULL, NULL);
  g_mutex_lock (&dist.lock);
  int rc = MPI_Comm_free (&dist.comm);
  if (rc == MPI_SUCCESS && dist.owns_mpi)
    rc = MPI_Finalize ();
  dist.initialized = FALSE;
  dist.finalized = TRUE;
  g_clear_pointer (&dist.abandoned, g_ptr_array_unref);
  g_mutex_unlock (&dist.lock);
  pool_free ();
  if (rc != MPI_SUCCESS)
    return mpi_error (error, rc, "MPI_Finalize");
#endif
  return TRUE;
}

/**
 * mact_distributed_abort:
 * @exit_code: the exit status the job should end with
 *
 * Ends every rank of the job (MPI_Abort on MPI_COMM_WORLD): what a program does after a
 * distributed error, so that the other ranks do not wait forever.  libmact never calls
 * it itself.  Without MPI, or when MPI is not initialised, it returns and the program
 * should simply exit.
 *
 * Since: 0.1
 */
void
mact_distributed_abort (int exit_code)
{
#ifdef MACT_HAVE_MPI
  if (dist.initialized)
    MPI_Abort (MPI_COMM_WORLD, exit_code);
#endif
}
