/* mact-runner.h: epoch-based training and validation driven by an mmaction2 config. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-recognizer.h>
#include <mact/mact-optimizer.h>
#include <mact/mact-lr-schedule.h>
#include <mact/mact-dataset.h>

G_BEGIN_DECLS

#define MACT_TYPE_RUNNER (mact_runner_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactRunner, mact_runner, MACT, RUNNER, GObject)

MACT_AVAILABLE_IN_0_1
MactRunner     *mact_runner_new            (JsonNode      *config,
                                            GError       **error);

MACT_AVAILABLE_IN_0_1
gboolean        mact_runner_train          (MactRunner    *self,
                                            GCancellable  *cancellable,
                                            GError       **error);

/* Training in a worker thread: MactRunner::log and MactRunner::progress are emitted in
 * the caller's thread-default main context while it runs, and @callback when it ends. */
MACT_AVAILABLE_IN_0_1
void            mact_runner_train_async    (MactRunner          *self,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
MACT_AVAILABLE_IN_0_1
gboolean        mact_runner_train_finish   (MactRunner          *self,
                                            GAsyncResult        *result,
                                            GError             **error);

MACT_AVAILABLE_IN_0_1
JsonObject     *mact_runner_evaluate       (MactRunner    *self,
                                            MactDataset   *dataset,
                                            GCancellable  *cancellable,
                                            GError       **error);

MACT_AVAILABLE_IN_0_1
MactRecognizer *mact_runner_get_model      (MactRunner    *self);
MACT_AVAILABLE_IN_0_1
MactOptimizer  *mact_runner_get_optimizer  (MactRunner    *self);
MACT_AVAILABLE_IN_0_1
const char     *mact_runner_get_work_dir   (MactRunner    *self);
MACT_AVAILABLE_IN_0_1
const char     *mact_runner_get_log_path   (MactRunner    *self);
MACT_AVAILABLE_IN_0_1
guint           mact_runner_get_epoch      (MactRunner    *self);
MACT_AVAILABLE_IN_0_1
guint64         mact_runner_get_iter       (MactRunner    *self);

/* Metrics of mmaction2's evaluate(): "top1_acc", "top5_acc" (top-k for k <= num_classes)
 * and "mean_class_accuracy" of @scores [N, K] against integer @labels [N]. */
MACT_AVAILABLE_IN_0_1
JsonObject     *mact_evaluate_scores       (MactTensor    *scores,
                                            MactTensor    *labels,
                                            GError       **error);

/**
 * MactRunnerAllReduce:
 * @values: (array length=n_values): the values to sum across all processes, in place
 * @n_values: how many
 * @user_data: the data given to mact_runner_set_distributed()
 * @error: return location for a #GError
 *
 * Sums @values element-wise over all ranks (MPI_Allreduce with MPI_SUM), in place.
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*MactRunnerAllReduce) (float    *values,
                                         gsize     n_values,
                                         gpointer  user_data,
                                         GError  **error);

/* Makes the runner one rank of @world_size: the loader shards by rank, gradients and
 * log_vars are summed by @all_reduce and divided by world_size, only rank 0 writes logs
 * and checkpoints.  Set before mact_runner_train(). */
MACT_AVAILABLE_IN_0_1
void            mact_runner_set_distributed (MactRunner          *self,
                                             guint                rank,
                                             guint                world_size,
                                             MactRunnerAllReduce  all_reduce,
                                             gpointer             user_data);

/**
 * MactRunnerAllReduceStart:
 * @values: (array length=n_values): the values to sum across all processes, in place
 * @n_values: how many
 * @user_data: the data given to mact_runner_set_distributed()
 * @error: return location for a #GError
 *
 * Starts summing @values over all ranks without waiting (MPI_Iallreduce).  @values stays
 * valid, and untouched by the runner, until the request is done or freed.
 *
 * Returns: (transfer full) (nullable): the request, or %NULL with @error set
 */
typedef gpointer (*MactRunnerAllReduceStart) (float    *values,
                                              gsize     n_values,
                                              gpointer  user_data,
                                              GError  **error);

/**
 * MactRunnerAllReduceWait:
 * @request: a request from #MactRunnerAllReduceStart
 * @block: wait until it completes, rather than only make progress
 * @done: (out): whether the sum is complete and in the request's @values
 * @user_data: the data given to mact_runner_set_distributed()
 * @error: return location for a #GError
 *
 * Makes progress on @request (MPI_Test) or, with @block, completes it (MPI_Wait, within
 * a timeout).
 *
 * Returns: %TRUE unless the collective failed
 */
typedef gboolean (*MactRunnerAllReduceWait) (gpointer   request,
                                             gboolean   block,
                                             gboolean  *done,
                                             gpointer   user_data,
                                             GError   **error);

/* Lets the runner overlap the gradient reduction with backward: buckets of gradients
 * (#MactRunner:bucket-cap-mb) are started with @start as soon as backward has finished
 * them, and completed with @wait before the optimizer step.  Without it, the buckets are
 * summed with the blocking all-reduce after backward. */
MACT_AVAILABLE_IN_0_1
void            mact_runner_set_async_all_reduce (MactRunner               *self,
                                                  MactRunnerAllReduceStart  start,
                                                  MactRunnerAllReduceWait   wait,
                                                  GDestroyNotify            free_request);

G_END_DECLS
