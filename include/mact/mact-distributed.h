/* mact-distributed.h: data-parallel processes over MPI. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-runner.h>

G_BEGIN_DECLS

/**
 * MACT_DISTRIBUTED_DEFAULT_TIMEOUT:
 *
 * Seconds a collective may block before it fails with %MACT_TRAIN_ERROR_TIMEOUT, unless
 * `MACT_DIST_TIMEOUT` or mact_distributed_set_timeout() says otherwise (PyTorch's default
 * process-group timeout).
 *
 * Since: 0.1
 */
#define MACT_DISTRIBUTED_DEFAULT_TIMEOUT 1800.0

/**
 * MactDistributedRequest:
 *
 * A collective started with mact_distributed_all_reduce_sum_start(), to be completed with
 * mact_distributed_request_test() or mact_distributed_request_wait() and freed with
 * mact_distributed_request_free().
 *
 * Since: 0.1
 */
typedef struct _MactDistributedRequest MactDistributedRequest;

MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_is_available     (void);
MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_is_launched      (void);
MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_init             (GError   **error);
MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_is_initialized   (void);
MACT_AVAILABLE_IN_0_1
guint     mact_distributed_get_rank         (void);
MACT_AVAILABLE_IN_0_1
guint     mact_distributed_get_world_size   (void);
MACT_AVAILABLE_IN_0_1
void      mact_distributed_set_timeout      (double     seconds);
MACT_AVAILABLE_IN_0_1
double    mact_distributed_get_timeout      (void);

MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_all_reduce_sum   (float     *values,
                                             gsize      n_values,
                                             GError   **error);
MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_broadcast        (float     *values,
                                             gsize      n_values,
                                             guint      root,
                                             GError   **error);
MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_barrier          (GError   **error);

MACT_AVAILABLE_IN_0_1
MactDistributedRequest *
          mact_distributed_all_reduce_sum_start (float     *values,
                                                 gsize      n_values,
                                                 GError   **error);
MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_request_test     (MactDistributedRequest  *request,
                                             gboolean                *done,
                                             GError                 **error);
MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_request_wait     (MactDistributedRequest  *request,
                                             GError                 **error);
MACT_AVAILABLE_IN_0_1
void      mact_distributed_request_free     (MactDistributedRequest  *request);

MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_attach_runner    (MactRunner *runner,
                                             GError    **error);

MACT_AVAILABLE_IN_0_1
gboolean  mact_distributed_finalize         (GError   **error);
MACT_AVAILABLE_IN_0_1
void      mact_distributed_abort            (int        exit_code);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactDistributedRequest, mact_distributed_request_free)

G_END_DECLS
