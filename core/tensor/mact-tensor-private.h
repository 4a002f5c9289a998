/* mact-tensor-private.h: the tensor's layout and the helpers every kernel uses.
 *
 * Not installed.  Kernel files include this and implement a public op as:
 *
 *   1. validate arguments; on bad input set a MACT_TENSOR_ERROR and return NULL;
 *   2. read inputs through contiguous copies (mact_tensor_contiguous()) or strides;
 *   3. allocate the result with mact_tensor_new_empty()/mact_tensor_new() and compute it;
 *   4. if mact_autograd_wants (inputs, n) is TRUE, create a node with mact_node_new(),
 *      save what backward needs (mact_node_save(), mact_node_set_ctx()), and attach it to
 *      the result with mact_tensor_set_grad_fn().
 *
 * A backward function receives the node and the gradient of its output (contiguous, the
 * output's shape) and stores, for each input i with node->needs_grad[i], a new tensor of
 * input i's shape in grad_inputs[i] (transfer full).  It runs with grad mode off, so it may
 * call public ops freely.  On failure (it should not fail on shapes it validated itself)
 * it sets @error and returns FALSE.
 */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

typedef struct _MactStorage MactStorage;
typedef struct _MactNode MactNode;

struct _MactStorage {
  gint           ref_count;   /* atomic */
  float         *data;
  gsize          n_elements;
  gboolean       owns_data;   /* data was allocated by mact (aligned, freed with free()) */
  GDestroyNotify release;     /* external memory: called with release_data */
  gpointer       release_data;
  /* External memory that lies in a private, writable (copy-on-write) file mapping made by
   * mact_safetensors_load(): writes stay in this process and never reach the file, so a
   * module may adopt it as a parameter's storage (mact_tensor_adopt_mapped_storage(),
   * which clears the mark: a parameter's memory is never adopted again).  Never set for
   * memory a caller handed over (a GBytes is immutable). */
  gboolean       cow_mapping;
};

struct _MactTensor {
  gint         ref_count;      /* atomic */
  MactStorage *storage;
  gint64       offset;         /* in elements */
  gint         ndim;
  gint64       shape[MACT_MAX_DIMS];
  gint64       strides[MACT_MAX_DIMS];
  gboolean     requires_grad;  /* only leaves set this; results derive it from grad_fn */
  MactTensor  *grad;
  MactNode    *grad_fn;
};

typedef gboolean (*MactBackwardFunc) (MactNode    *node,
                                      MactTensor  *grad_output,
                                      MactTensor **grad_inputs,
                                      GError     **error);

/* One input of a node: where its gradient flows. */
typedef struct {
  MactNode   *fn;        /* the node that produced the input (ref), or NULL */
  MactTensor *leaf;      /* the input itself when it is a leaf requiring grad (ref) */
  gint        ndim;      /* the input's shape, so backward can check and reduce */
  gint64      shape[MACT_MAX_DIMS];
} MactEdge;

struct _MactNode {
  gint              ref_count;     /* atomic */
  const char       *name;          /* static string, e.g. "AddBackward" */
  MactBackwardFunc  backward;
  guint             n_inputs;
  MactEdge         *edges;         /* n_inputs */
  gboolean         *needs_grad;    /* n_inputs: edge leads to something requiring grad */
  GPtrArray        *saved;         /* MactTensor refs kept for backward */
  gpointer          ctx;           /* op-specific parameters */
  GDestroyNotify    ctx_free;
  gint              out_ndim;
  gint64            out_shape[MACT_MAX_DIMS];
  gboolean          released;      /* saved tensors were freed after a backward */
};

/* ---- storage and shapes ---- */
MactStorage *mact_storage_new_aligned   (gsize n_elements, gboolean zero, GError **error);
MactStorage *mact_storage_ref           (MactStorage *storage);
void         mact_storage_unref         (MactStorage *storage);

/* Validates ndim and sizes and computes the element count, with overflow checks. */
gboolean     mact_shape_numel           (gint ndim, const gint64 *shape, gint64 *numel,
                                         GError **error);
void         mact_shape_contiguous_strides (gint ndim, const gint64 *shape, gint64 *strides);
/* Normalises a possibly negative dim against ndim; GError SHAPE when out of range. */
gboolean     mact_normalize_dim         (gint dim, gint ndim, gint *out, GError **error);
gchar       *mact_shape_format          (gint ndim, const gint64 *shape);
gboolean     mact_shape_equal           (gint ndim_a, const gint64 *a, gint ndim_b,
                                         const gint64 *b);
/* Broadcast shapes as numpy/PyTorch do; GError SHAPE if they do not broadcast. */
gboolean     mact_broadcast_shapes      (gint ndim_a, const gint64 *a, gint ndim_b,
                                         const gint64 *b, gint *ndim_out, gint64 *out,
                                         GError **error);

/* GError SHAPE "<op>: <what> must not be empty, got shape [..]" when a size is 0. */
gboolean     mact_check_not_empty       (MactTensor *t, const char *op, const char *what,
                                         GError **error);

/* For mact_module_load_state_dict(): when @target (a contiguous tensor that is its
 * storage's only user, from offset 0) and @source (a contiguous tensor of the same shape
 * that alone uses a cow_mapping storage) qualify, @target drops its storage and shares
 * @source's instead, and TRUE is returned: the mapped weights are used in place, with no
 * copy.  Otherwise nothing changes and FALSE is returned (the caller copies). */
gboolean     mact_tensor_adopt_mapped_storage (MactTensor *target, MactTensor *source);

/* Creates a tensor viewing @storage (ref taken). */
MactTensor  *mact_tensor_new_view_of    (MactStorage *storage, gint64 offset, gint ndim,
                                         const gint64 *shape, const gint64 *strides);
/* A contiguous tensor of zeros whose memory, when large, is fresh anonymous pages that
 * the kernel zeroes on first touch: creating it costs no page faults, and a parameter
 * that a weight load replaces before anything writes to it never costs any (see
 * mact_tensor_adopt_mapped_storage()).  Small ones are ordinary allocations. */
MactTensor  *mact_tensor_new_untouched_zeros (gint ndim, const gint64 *shape,
                                              GError **error);
/* Shorthand for allocation with internal (programmer-checked) shapes from a tensor. */
MactTensor  *mact_tensor_new_with_shape (gint ndim, const gint64 *shape, gboolean zero,
                                         GError **error);

static inline float *
mact_tensor_data (MactTensor *t)
{
  return t->storage->data + t->offset;
}

/* Reduces @grad (of a broadcast result) back to @ndim/@shape by summing broadcast dims. */
MactTensor  *mact_sum_to_shape          (MactTensor *grad, gint ndim, const gint64 *shape,
                                         GError **error);
/* In place: dst += src (same shape; src any strides, dst contiguous). */
void         mact_tensor_accumulate     (MactTensor *dst, MactTensor *src);

/* ---- autograd ---- */
gboolean     mact_tensor_needs_grad     (MactTensor *t);  /* requires_grad || grad_fn */
/* TRUE when grad mode is on and one of @inputs (NULL entries allowed) needs grad. */
gboolean     mact_autograd_wants        (MactTensor **inputs, guint n_inputs);
MactNode    *mact_node_new              (const char *name, MactBackwardFunc backward,
                                         MactTensor **inputs, guint n_inputs);
MactNode    *mact_node_ref              (MactNode *node);
void         mact_node_unref            (MactNode *node);
/* Keeps a reference to @t for backward; returns its index in node->saved. */
guint        mact_node_save             (MactNode *node, MactTensor *t);
static inline MactTensor *
mact_node_saved (MactNode *node, guint i)
{
  return g_ptr_array_index (node->saved, i);
}
void         mact_node_set_ctx          (MactNode *node, gpointer ctx, GDestroyNotify free);
/* Attaches @node (ownership transferred) as @out's grad_fn and records out's shape. */
void         mact_tensor_set_grad_fn    (MactTensor *out, MactNode *node);

/* ---- generators (mact-generator.c) ----
 * Bulk draws take the default generator's lock once, not once per number. */
void         mact_generator_lock                 (MactGenerator *self);
void         mact_generator_unlock               (MactGenerator *self);
guint64      mact_generator_next_uint64_unlocked (MactGenerator *self);
double       mact_generator_next_double_unlocked (MactGenerator *self);
double       mact_generator_next_normal_unlocked (MactGenerator *self);

/* ---- threading (mact-parallel.c) ---- */
/* Runs func(begin, end, data) over [0, n) split in chunks across mact's threads.  Calls
 * from inside a parallel region run serially (mact_gemm() included), so nesting cannot
 * oversubscribe or deadlock. */
typedef void (*MactParallelFunc) (gint64 begin, gint64 end, gpointer data);
void         mact_parallel_for          (gint64 n, gint64 grain, MactParallelFunc func,
                                         gpointer data);

/* ---- GEMM (mact-gemm.c): the single entry point to BLAS ----
 * Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. */
void         mact_gemm                  (gboolean trans_a, gboolean trans_b,
                                         gint64 m, gint64 n, gint64 k, float alpha,
                                         const float *a, gint64 lda, const float *b,
                                         gint64 ldb, float beta, float *c, gint64 ldc);

G_END_DECLS
