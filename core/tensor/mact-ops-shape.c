/* mact-ops-shape.c: joining (cat, stack), reordering (flip, temporal shift) and padding.
 *
 * Every op reads a contiguous copy of its inputs and writes a fresh contiguous result.
 * The kernels are pure index remappings, so forward and backward share them: cat/stack
 * backward splits the gradient with the same row copy, flip is its own inverse, the
 * temporal shift's backward is the opposite shift, and constant padding's backward is a
 * constant padding with negated amounts.  Reflect/replicate backward accumulates, and is
 * split only over the unpadded leading dimensions so that no two workers add to the same
 * element.
 */
#include "mact-tensor-private.h"

#include <string.h>

/* Rows of at least this many elements are worth a worker each. */
#define SHAPE_GRAIN_ELEMENTS 16384

static gint64
grain_for (gint64 elements_per_item)
{
  if (elements_per_item <= 0)
    return 1;
  return MAX (1, SHAPE_GRAIN_ELEMENTS / elements_per_item);
}

static gint64
prod_range (const gint64 *shape, gint begin, gint end)
{
  gint64 p = 1;
  for (gint i = begin; i < end; i++)
    p *= shape[i];
  return p;
}

/* Like mact_normalize_dim() but with a message naming the op. */
static gboolean
normalize_dim (const char *op, gint dim, gint ndim, gint *out, GError **error)
{
  gint n = MAX (ndim, 1);
  if (dim < -n || dim >= n || ndim == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: dim %d is out of range for a %d-dimensional tensor "
                   "(expected a dim in [%d, %d])", op, dim, ndim, -n, n - 1);
      return FALSE;
    }
  *out = dim < 0 ? dim + ndim : dim;
  return TRUE;
}

/* ======================================================================================
 * Joining: cat and stack share one kernel.  Viewed as [outer, row], the output row is the
 * concatenation of the inputs' rows, input i contributing inner[i] contiguous elements.
 * ====================================================================================== */

typedef struct {
  gint64        outer;
  guint         n;
  const gint64 *inner;    /* n: elements of input i per row */
  const gint64 *offset;   /* n: where input i starts inside an output row */
  gint64        row;      /* elements of an output row */
  float       **parts;    /* n: contiguous data of the inputs (NULL: skip) */
  float        *whole;    /* the joined tensor */
  gboolean      split;    /* FALSE: parts -> whole (forward); TRUE: whole -> parts */
} JoinData;

static void
join_worker (gint64 begin, gint64 end, gpointer user_data)
{
  JoinData *d = user_data;

  for (gint64 item = begin; item < end; item++)
    {
      gint64 o = item / d->n;
      guint i = (guint) (item % d->n);
      if (d->parts[i] == NULL)
        continue;
      float *part = d->parts[i] + o * d->inner[i];
      float *whole = d->whole + o * d->row + d->offset[i];
      if (d->split)
        memcpy (part, whole, (gsize) d->inner[i] * sizeof (float));
      else
        memcpy (whole, part, (gsize) d->inner[i] * sizeof (float));
    }
}

static void
join_run (JoinData *d)
{
  gint64 per_item = d->n > 0 ? d->row / d->n : 1;
  mact_parallel_for (d->outer * d->n, grain_for (per_item), join_worker, d);
}

typedef struct {
  gint64 outer;
  gint64 row;
  guint  n;
  gint64 inner[];   /* n */
} JoinCtx;

static gboolean
join_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
               GError **error)
{
  JoinCtx *ctx = node->ctx;
  g_autoptr(MactTensor) g = mact_tensor_contiguous (grad_output);
  g_autofree gint64 *offset = g_new (gint64, ctx->n);
  g_autofree float **parts = g_new0 (float *, ctx->n);
  gint64 acc = 0;

  for (guint i = 0; i < ctx->n; i++)
    {
      offset[i] = acc;
      acc += ctx->inner[i];
      if (!node->needs_grad[i])
        continue;
      grad_inputs[i] = mact_tensor_new_with_shape (node->edges[i].ndim,
                                                   node->edges[i].shape, FALSE, error);
      if (grad_inputs[i] == NULL)
        return FALSE;
      parts[i] = mact_tensor_data (grad_inputs[i]);
    }

  JoinData d = {
    .outer = ctx->outer, .n = ctx->n, .inner = ctx->inner, .offset = offset,
    .row = ctx->row, .parts = parts, .whole = mact_tensor_data (g), .split = TRUE,
  };
  join_run (&d);
  return TRUE;
}

/* Joins contiguous copies of @tensors into a tensor of @out_shape and records autograd. */
static MactTensor *
join_tensors (const char *grad_name, MactTensor **tensors, guint n, gint out_ndim,
              const gint64 *out_shape, gint64 outer, const gint64 *inner, GError **error)
{
  g_autoptr(GPtrArray) contig = g_ptr_array_new_with_free_func (
      (GDestroyNotify) mact_tensor_unref);
  g_autofree float **parts = g_new (float *, n);
  g_autofree gint64 *offset = g_new (gint64, n);
  gint64 row = 0;

  for (guint i = 0; i < n; i++)
    {
      MactTensor *c = mact_tensor_contiguous (tensors[i]);
      g_ptr_array_add (contig, c);
      parts[i] = mact_tensor_data (c);
      offset[i] = row;
      row += inner[i];
    }

  g_autoptr(MactTensor) out = mact_tensor_new_with_shape (out_ndim, out_shape, FALSE,
                                                          error);
  if (out == NULL)
    return NULL;

  JoinData d = {
    .outer = outer, .n = n, .inner = inner, .offset = offset, .row = row,
    .parts = parts, .whole = mact_tensor_data (out), .split = FALSE,
  };
  join_run (&d);

  if (mact_autograd_wants (tensors, n))
    {
      MactNode *node = mact_node_new (grad_name, join_backward, tensors, n);
      JoinCtx *ctx = g_malloc (sizeof (JoinCtx) + n * sizeof (gint64));
      ctx->outer = outer;
      ctx->row = row;
      ctx->n = n;
      memcpy (ctx->inner, inner, n * sizeof (gint64));
      mact_node_set_ctx (node, ctx, g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return g_steal_pointer (&out);
}

/**
 * mact_cat:
 * @tensors: (array length=n_tensors): the tensors to join
 * @n_tensors: how many tensors; at least 1
 * @dim: the dimension to join along; negative counts from the end
 * @error: return location for a #GError, or %NULL
 *
 * Concatenates @tensors along @dim, as PyTorch's `torch.cat`.  All tensors must have the
 * same number of dimensions (at least 1) and the same sizes in every dimension except
 * @dim.  The gradient of each input is its slice of the output's gradient.
 *
 * Errors: %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @n_tensors is 0;
 * %MACT_TENSOR_ERROR_SHAPE when @dim is out of range, a tensor is 0-dimensional, or the
 * numbers of dimensions or the other sizes differ.
 *
 * Returns: (transfer full) (nullable): a new contiguous tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_cat (MactTensor **tensors, guint n_tensors, gint dim, GError **error)
{
  g_return_val_if_fail (tensors != NULL || n_tensors == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (n_tensors == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_cat: expected at least one tensor, got 0");
      return NULL;
    }
  for (guint i = 0; i < n_tensors; i++)
    g_return_val_if_fail (tensors[i] != NULL, NULL);

  MactTensor *first = tensors[0];
  gint ndim = first->ndim;
  if (ndim == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "mact_cat: tensor 0 is 0-dimensional and cannot be concatenated "
                   "(expected at least 1 dimension)");
      return NULL;
    }
  gint d;
  if (!normalize_dim ("mact_cat", dim, ndim, &d, error))
    return NULL;

  gint64 out_shape[MACT_MAX_DIMS];
  memcpy (out_shape, first->shape, sizeof (gint64) * ndim);
  out_shape[d] = 0;
  for (guint i = 0; i < n_tensors; i++)
    {
      MactTensor *t = tensors[i];
      gboolean ok = t->ndim == ndim;
      for (gint k = 0; ok && k < ndim; k++)
        if (k != d && t->shape[k] != first->shape[k])
          ok = FALSE;
      if (!ok)
        {
          g_autofree gchar *expected = mact_shape_format (ndim, first->shape);
          g_autofree gchar *got = mact_shape_format (t->ndim, t->shape);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "mact_cat: tensor %u has shape %s, expected the shape of tensor 0 "
                       "%s in every dimension except %d", i, got, expected, d);
          return NULL;
        }
      out_shape[d] += t->shape[d];
    }

  gint64 outer = prod_range (first->shape, 0, d);
  gint64 post = prod_range (first->shape, d + 1, ndim);
  g_autofree gint64 *inner = g_new (gint64, n_tensors);
  for (guint i = 0; i < n_tensors; i++)
    inner[i] = tensors[i]->shape[d] * post;

  return join_tensors ("CatBackward", tensors, n_tensors, ndim, out_shape, outer, inner,
                       error);
}

/**
 * mact_stack:
 * @tensors: (array length=n_tensors): the tensors to stack
 * @n_tensors: how many tensors; at least 1
 * @dim: where the new dimension goes, in [-(ndim + 1), ndim]
 * @error: return location for a #GError, or %NULL
 *
 * Stacks tensors of equal shape along a new dimension @dim, as PyTorch's `torch.stack`.
 * The result has one more dimension than the inputs, of size @n_tensors.  The gradient of
 * each input is its slice of the output's gradient.
 *
 * Errors: %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @n_tensors is 0;
 * %MACT_TENSOR_ERROR_SHAPE when @dim is out of range, the shapes differ, or the inputs
 * already have %MACT_MAX_DIMS dimensions.
 *
 * Returns: (transfer full) (nullable): a new contiguous tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_stack (MactTensor **tensors, guint n_tensors, gint dim, GError **error)
{
  g_return_val_if_fail (tensors != NULL || n_tensors == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (n_tensors == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_stack: expected at least one tensor, got 0");
      return NULL;
    }
  for (guint i = 0; i < n_tensors; i++)
    g_return_val_if_fail (tensors[i] != NULL, NULL);

  MactTensor *first = tensors[0];
  gint ndim = first->ndim;
  if (ndim >= MACT_MAX_DIMS)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "mact_stack: inputs have %d dimensions, expected at most %d so that "
                   "the result fits in %d", ndim, MACT_MAX_DIMS - 1, MACT_MAX_DIMS);
      return NULL;
    }
  if (dim < -(ndim + 1) || dim > ndim)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "mact_stack: dim %d is out of range for %d-dimensional inputs "
                   "(expected a dim in [%d, %d])", dim, ndim, -(ndim + 1), ndim);
      return NULL;
    }
  gint d = dim < 0 ? dim + ndim + 1 : dim;

  for (guint i = 1; i < n_tensors; i++)
    if (!mact_shape_equal (tensors[i]->ndim, tensors[i]->shape, ndim, first->shape))
      {
        g_autofree gchar *expected = mact_shape_format (ndim, first->shape);
        g_autofree gchar *got = mact_shape_format (tensors[i]->ndim, tensors[i]->shape);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                     "mact_stack: tensor %u has shape %s, expected %s (the shape of "
                     "tensor 0)", i, got, expected);
        return NULL;
      }

  gint64 out_shape[MACT_MAX_DIMS];
  for (gint k = 0, j = 0; k <= ndim; k++)
    out_shape[k] = k == d ? (gint64) n_tensors : first->shape[j++];

  gint64 outer = prod_range (first->shape, 0, d);
  gint64 chunk = prod_range (first->shape, d, ndim);
  g_autofree gint64 *inner = g_new (gint64, n_tensors);
  for (guint i = 0; i < n_tensors; i++)
    inner[i] = chunk;

  return join_tensors ("StackBackward", tensors, n_tensors, ndim + 1, out_shape, outer,
                       inner, error);
}

/* ======================================================================================
 * Flip
 * ====================================================================================== */

typedef struct {
  gint          ndim;
  const gint64 *shape;
  gboolean      flip[MACT_MAX_DIMS];
  const float  *src;
  float        *dst;
} FlipData;

static void
flip_worker (gint64 begin, gint64 end, gpointer user_data)
{
  FlipData *d = user_data;
  gint nd = d->ndim;
  gint64 len = nd > 0 ? d->shape[nd - 1] : 1;
  gboolean flip_last = nd > 0 && d->flip[nd - 1];
  gint64 strides[MACT_MAX_DIMS];

  mact_shape_contiguous_strides (nd, d->shape, strides);
  for (gint64 r = begin; r < end; r++)
    {
      gint64 rem = r, src_off = 0;
      for (gint k = nd - 2; k >= 0; k--)
        {
          gint64 i = rem % d->shape[k];
          rem /= d->shape[k];
          if (d->flip[k])
            i = d->shape[k] - 1 - i;
          src_off += i * strides[k];
        }
      const float *src = d->src + src_off;
      float *dst = d->dst + r * len;
      if (flip_last)
        for (gint64 j = 0; j < len; j++)
          dst[j] = src[len - 1 - j];
      else
        memcpy (dst, src, (gsize) len * sizeof (float));
    }
}

/* @input contiguous; result contiguous, no autograd. */
static MactTensor *
flip_compute (MactTensor *input, const gboolean *flip, GError **error)
{
  MactTensor *out = mact_tensor_new_with_shape (input->ndim, input->shape, FALSE, error);
  if (out == NULL)
    return NULL;

  FlipData d = {
    .ndim = input->ndim, .shape = input->shape,
    .src = mact_tensor_data (input), .dst = mact_tensor_data (out),
  };
  memcpy (d.flip, flip, sizeof (d.flip));
  gint64 len = input->ndim > 0 ? input->shape[input->ndim - 1] : 1;
  gint64 rows = prod_range (input->shape, 0, MAX (input->ndim - 1, 0));
  mact_parallel_for (rows, grain_for (len), flip_worker, &d);
  return out;
}

typedef struct {
  gboolean flip[MACT_MAX_DIMS];
} FlipCtx;

static gboolean
flip_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
               GError **error)
{
  FlipCtx *ctx = node->ctx;
  g_autoptr(MactTensor) g = mact_tensor_contiguous (grad_output);
  grad_inputs[0] = flip_compute (g, ctx->flip, error);
  return grad_inputs[0] != NULL;
}

/**
 * mact_flip:
 * @input: the tensor to flip
 * @n_dims: how many dimensions to flip; 0 returns a copy
 * @dims: (array length=n_dims) (nullable): the dimensions to reverse; negative counts from
 *   the end
 * @error: return location for a #GError, or %NULL
 *
 * Reverses the order of the elements along each of @dims, as PyTorch's `torch.flip`.
 * The gradient is the output's gradient flipped along the same dimensions.
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when a dim is out of range;
 * %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @n_dims is negative or a dim appears twice.
 *
 * Returns: (transfer full) (nullable): a new contiguous tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_flip (MactTensor *input, gint n_dims, const gint *dims, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (dims != NULL || n_dims <= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (n_dims < 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_flip: n_dims is %d, expected a count >= 0", n_dims);
      return NULL;
    }

  gboolean flip[MACT_MAX_DIMS] = { FALSE, };
  for (gint i = 0; i < n_dims; i++)
    {
      gint d;
      if (!normalize_dim ("mact_flip", dims[i], input->ndim, &d, error))
        return NULL;
      if (flip[d])
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "mact_flip: dim %d (given as %d) appears more than once in dims, "
                       "expected distinct dims", d, dims[i]);
          return NULL;
        }
      flip[d] = TRUE;
    }

  g_autoptr(MactTensor) x = mact_tensor_contiguous (input);
  g_autoptr(MactTensor) out = flip_compute (x, flip, error);
  if (out == NULL)
    return NULL;

  if (mact_autograd_wants (&input, 1))
    {
      MactNode *node = mact_node_new ("FlipBackward", flip_backward, &input, 1);
      FlipCtx *ctx = g_new (FlipCtx, 1);
      memcpy (ctx->flip, flip, sizeof (ctx->flip));
      mact_node_set_ctx (node, ctx, g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return g_steal_pointer (&out);
}

/* ======================================================================================
 * Padding.  Each output index j of a dimension maps to a source index of the input
 * (k = j - left, then reflected / clamped / rejected by the mode); -1 means "the
 * constant".  Unpadded dimensions map identically.
 * ====================================================================================== */

typedef struct {
  gint        ndim;
  MactPadMode mode;
  gint64      in_shape[MACT_MAX_DIMS];
  gint64      out_shape[MACT_MAX_DIMS];
  gint64      left[MACT_MAX_DIMS];    /* per dim, in dimension order */
  gint64      right[MACT_MAX_DIMS];
  gint        first_padded;           /* dims before this one are not padded */
} PadPlan;

static gint64
pad_source (MactPadMode mode, gint64 j, gint64 left, gint64 size)
{
  gint64 k = j - left;
  switch (mode)
    {
    case MACT_PAD_REFLECT:
      if (k < 0)
        k = -k;
      if (k >= size)
        k = 2 * (size - 1) - k;
      return k;
    case MACT_PAD_REPLICATE:
      return CLAMP (k, 0, size - 1);
    case MACT_PAD_CONSTANT:
    default:
      return k >= 0 && k < size ? k : -1;
    }
}

/* Builds the index maps: map + moff[d] holds out_shape[d] source indices of dim d. */
static gint64 *
pad_maps (const PadPlan *p, gint64 *moff)
{
  gint64 total = 0;
  for (gint d = 0; d < p->ndim; d++)
    {
      moff[d] = total;
      total += p->out_shape[d];
    }
  gint64 *map = g_new (gint64, MAX (total, 1));
  for (gint d = 0; d < p->ndim; d++)
    for (gint64 j = 0; j < p->out_shape[d]; j++)
      map[moff[d] + j] = pad_source (p->mode, j, p->left[d], p->in_shape[d]);
  return map;
}

typedef struct {
  const PadPlan *plan;
  const gint64  *map;
  const gint64  *moff;
  gint64         in_strides[MACT_MAX_DIMS];
  const float   *src;
  float         *dst;
  float          value;
} PadData;

static void
pad_forward_worker (gint64 begin, gint64 end, gpointer user_data)
{
  PadData *d = user_data;
  const PadPlan *p = d->plan;
  gint nd = p->ndim;
  gint64 len = nd > 0 ? p->out_shape[nd - 1] : 1;
  const gint64 *last = nd > 0 ? d->map + d->moff[nd - 1] : NULL;

  for (gint64 r = begin; r < end; r++)
    {
      gint64 rem = r, src_off = 0;
      gboolean outside = FALSE;
      for (gint k = nd - 2; k >= 0; k--)
        {
          gint64 i = rem % p->out_shape[k];
          rem /= p->out_shape[k];
          gint64 s = d->map[d->moff[k] + i];
          if (s < 0)
            outside = TRUE;
          src_off += s * d->in_strides[k];
        }
      float *dst = d->dst + r * len;
      if (outside)
        {
          for (gint64 j = 0; j < len; j++)
            dst[j] = d->value;
          continue;
        }
      const float *src = d->src + src_off;
      if (last == NULL)
        {
          dst[0] = src[0];
          continue;
        }
      for (gint64 j = 0; j < len; j++)
        dst[j] = last[j] < 0 ? d->value : src[last[j]];
    }
}

/* @input contiguous of plan->in_shape; result contiguous of plan->out_shape. */
static MactTensor *
pad_compute (const PadPlan *plan, MactTensor *input, float value, GError **error)
{
  MactTensor *out = mact_tensor_new_with_shape (plan->ndim, plan->out_shape, FALSE, error);
  if (out == NULL)
    return NULL;

  gint64 moff[MACT_MAX_DIMS];
  g_autofree gint64 *map = pad_maps (plan, moff);
  PadData d = {
    .plan = plan, .map = map, .moff = moff,
    .src = mact_tensor_data (input), .dst = mact_tensor_data (out), .value = value,
  };
  mact_shape_contiguous_strides (plan->ndim, plan->in_shape, d.in_strides);
  gint64 len = plan->ndim > 0 ? plan->out_shape[plan->ndim - 1] : 1;
  gint64 rows = prod_range (plan->out_shape, 0, MAX (plan->ndim - 1, 0));
  mact_parallel_for (rows, grain_for (len), pad_forward_worker, &d);
  return out;
}

/* Reflect / replicate backward: grad_in[source(j)] += grad_out[j].  Split over the
 * unpadded leading dims only; each worker owns whole input slices. */
static void
pad_backward_worker (gint64 begin, gint64 end, gpointer user_data)
{
  PadData *d = user_data;
  const PadPlan *p = d->plan;
  gint nd = p->ndim;
  gint f = p->first_padded;
  gint64 in_slice = prod_range (p->in_shape, f, nd);
  gint64 out_slice = prod_range (p->out_shape, f, nd);
  gint64 len = p->out_shape[nd - 1];
  gint64 rows = out_slice / len;
  const gint64 *last = d->map + d->moff[nd - 1];

  for (gint64 o = begin; o < end; o++)
    {
      const float *g = d->src + o * out_slice;
      float *gi = d->dst + o * in_slice;
      for (gint64 r = 0; r < rows; r++)
        {
          gint64 rem = r, src_off = 0;
          for (gint k = nd - 2; k >= f; k--)
            {
              gint64 i = rem % p->out_shape[k];
              rem /= p->out_shape[k];
              src_off += d->map[d->moff[k] + i] * d->in_strides[k];
            }
          const float *grow = g + r * len;
          float *irow = gi + src_off;
          for (gint64 j = 0; j < len; j++)
            irow[last[j]] += grow[j];
        }
    }
}

static gboolean
pad_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
              GError **error)
{
  const PadPlan *plan = node->ctx;
  g_autoptr(MactTensor) g = mact_tensor_contiguous (grad_output);

  if (plan->mode == MACT_PAD_CONSTANT)
    {
      /* Each input element appears at most once in the output: crop the gradient back. */
      PadPlan inv = *plan;
      for (gint d = 0; d < plan->ndim; d++)
        {
          inv.in_shape[d] = plan->out_shape[d];
          inv.out_shape[d] = plan->in_shape[d];
          inv.left[d] = -plan->left[d];
          inv.right[d] = -plan->right[d];
        }
      grad_inputs[0] = pad_compute (&inv, g, 0.0f, error);
      return grad_inputs[0] != NULL;
    }

  g_autoptr(MactTensor) gi = mact_tensor_new_with_shape (plan->ndim, plan->in_shape, TRUE,
                                                         error);
  if (gi == NULL)
    return FALSE;
  gint64 moff[MACT_MAX_DIMS];
  g_autofree gint64 *map = pad_maps (plan, moff);
  PadData d = {
    .plan = plan, .map = map, .moff = moff,
    .src = mact_tensor_data (g), .dst = mact_tensor_data (gi),
  };
  mact_shape_contiguous_strides (plan->ndim, plan->in_shape, d.in_strides);
  gint64 outer = prod_range (plan->in_shape, 0, plan->first_padded);
  mact_parallel_for (outer, grain_for (prod_range (plan->out_shape, plan->first_padded,
                                                   plan->ndim)),
                     pad_backward_worker, &d);
  grad_inputs[0] = g_steal_pointer (&gi);
  return TRUE;
}

static const char *
pad_mode_name (MactPadMode mode)
{
  switch (mode)
    {
    case MACT_PAD_CONSTANT:
      return "constant";
    case MACT_PAD_REFLECT:
      return "reflect";
    case MACT_PAD_REPLICATE:
      return "replicate";
    default:
      return "unknown";
    }
}

/**
 * mact_pad:
 * @input: the tensor to pad
 * @n_pad: the number of padding amounts: even, at most twice the number of dimensions
 * @pad: (array length=n_pad) (nullable): the padding amounts, in PyTorch's order: @pad[0]
 *   and @pad[1] are added before and after the last dimension, @pad[2] and @pad[3] around
 *   the second last, and so on
 * @mode: how to fill the new elements
 * @value: the fill value of %MACT_PAD_CONSTANT; must be 0 for the other modes
 * @error: return location for a #GError, or %NULL
 *
 * Pads @input as PyTorch's `torch.nn.functional.pad`.
 *
 * %MACT_PAD_CONSTANT pads any number of trailing dimensions with @value; negative amounts
 * crop instead (by at most the dimension's size on each side).
 * %MACT_PAD_REFLECT and %MACT_PAD_REPLICATE pad the last 1, 2 or 3 dimensions
 * (@n_pad 2, 4 or 6) of an input with one or two more dimensions than that: 2-D or 3-D
 * input for 1-D padding, 3-D or 4-D for 2-D padding, 4-D or 5-D for 3-D padding.
 * Reflect padding must be smaller than the padded dimension.  Negative amounts crop in
 * these modes too.  Every output dimension must be at least 1.
 *
 * Backward: constant padding crops the gradient back; reflect and replicate padding sum
 * the gradient of every copy of an input element into it.
 *
 * Errors: %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @n_pad is negative or odd, @mode is not
 * a #MactPadMode, @value is not 0 outside constant mode, or a reflect/replicate @n_pad is
 * not 2, 4 or 6; %MACT_TENSOR_ERROR_SHAPE when @n_pad / 2 exceeds the number of
 * dimensions, the input's number of dimensions does not suit a reflect/replicate padding,
 * a reflect padding is not smaller than its dimension, a crop is larger than its
 * dimension, or an output size would be below 1.
 *
 * Returns: (transfer full) (nullable): a new contiguous tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_pad (MactTensor *input, gint n_pad, const gint64 *pad, MactPadMode mode, float value,
          GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (pad != NULL || n_pad <= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gint ndim = input->ndim;

  if (mode != MACT_PAD_CONSTANT && mode != MACT_PAD_REFLECT && mode != MACT_PAD_REPLICATE)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_pad: mode %d is not a padding mode (expected constant, reflect "
                   "or replicate)", (gint) mode);
      return NULL;
    }
  if (n_pad < 0 || n_pad % 2 != 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_pad: n_pad is %d, expected a non-negative even number "
                   "(one before/after pair per padded dimension)", n_pad);
      return NULL;
    }
  gint n_padded = n_pad / 2;
  if (n_padded > ndim)
    {
      g_autofree gchar *s = mact_shape_format (ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "mact_pad: %d padding amounts pad %d dimensions, but the input %s has "
                   "only %d", n_pad, n_padded, s, ndim);
      return NULL;
    }
  if (mode != MACT_PAD_CONSTANT)
    {
      if (value != 0.0f)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "mact_pad: %s padding takes no fill value, got %g (expected 0)",
                       pad_mode_name (mode), (double) value);
          return NULL;
        }
      if (n_padded < 1 || n_padded > 3)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "mact_pad: %s padding pads 1, 2 or 3 dimensions (n_pad 2, 4 or 6), "
                       "got n_pad %d", pad_mode_name (mode), n_pad);
          return NULL;
        }
      if (ndim != n_padded + 1 && ndim != n_padded + 2)
        {
          g_autofree gchar *s = mact_shape_format (ndim, input->shape);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "mact_pad: %s padding of %d dimensions needs a %d-D or %d-D input, "
                       "got %s", pad_mode_name (mode), n_padded, n_padded + 1,
                       n_padded + 2, s);
          return NULL;
        }
    }

  g_autofree PadPlan *plan = g_new0 (PadPlan, 1);
  plan->ndim = ndim;
  plan->mode = mode;
  plan->first_padded = ndim - n_padded;
  for (gint d = 0; d < ndim; d++)
    {
      gint64 size = input->shape[d];
      gint64 l = 0, r = 0;
      if (d >= plan->first_padded)
        {
          gint pair = ndim - 1 - d;
          l = pad[2 * pair];
          r = pad[2 * pair + 1];
        }
      plan->in_shape[d] = size;
      plan->left[d] = l;
      plan->right[d] = r;

      if (l > G_MAXINT32 || r > G_MAXINT32 || l < -G_MAXINT32 || r < -G_MAXINT32)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW,
                       "mact_pad: padding (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                       ") of dim %d is too large (expected amounts within +-%d)",
                       l, r, d, G_MAXINT32);
          return NULL;
        }

      if (mode == MACT_PAD_REFLECT && (l >= size || r >= size))
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "mact_pad: reflect padding (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                       ") of dim %d must be smaller than its size %" G_GINT64_FORMAT,
                       l, r, d, size);
          return NULL;
        }
      if (mode == MACT_PAD_CONSTANT && size + MIN (l, 0) + MIN (r, 0) < 0)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "mact_pad: negative padding (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                       ") crops more than the size %" G_GINT64_FORMAT " of dim %d",
                       l, r, size, d);
          return NULL;
        }
      plan->out_shape[d] = size + l + r;
      if (plan->out_shape[d] < 1)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "mact_pad: dim %d of size %" G_GINT64_FORMAT " padded by (%"
                       G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") would have size %"
                       G_GINT64_FORMAT ", expected at least 1",
                       d, size, l, r, plan->out_shape[d]);
          return NULL;
        }
    }

  g_autoptr(MactTensor) x = mact_tensor_contiguous (input);
  g_autoptr(MactTensor) out = pad_compute (plan, x, value, error);
  if (out == NULL)
    return NULL;

  if (mact_autograd_wants (&input, 1))
    {
      MactNode *node = mact_node_new ("PadBackward", pad_backward, &input, 1);
      mact_node_set_ctx (node, g_steal_pointer (&plan), g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return g_steal_pointer (&out);
}

/* ======================================================================================
 * Temporal shift (TSM): rows of H*W elements indexed by (n, t, c).
 * ====================================================================================== */

typedef struct {
  gint64       segments;   /* T */
  gint64       channels;   /* C */
  gint64       fold;
  gint64       hw;
  gboolean     reverse;    /* backward: shift the opposite way */
  const float *src;
  float       *dst;
} ShiftData;

static void
shift_worker (gint64 begin, gint64 end, gpointer user_data)
{
  ShiftData *d = user_data;

  for (gint64 r = begin; r < end; r++)
    {
      gint64 c = r % d->channels;
      gint64 t = (r / d->channels) % d->segments;
      gint64 dt = 0;                      /* out[t] = x[t + dt] */
      if (c < d->fold)
        dt = 1;                           /* shifted left in time */
      else if (c < 2 * d->fold)
        dt = -1;                          /* shifted right in time */
      if (d->reverse)
        dt = -dt;
      float *dst = d->dst + r * d->hw;
      gint64 ts = t + dt;
      if (ts < 0 || ts >= d->segments)
        memset (dst, 0, (gsize) d->hw * sizeof (float));
      else
        memcpy (dst, d->src + (r + dt * d->channels) * d->hw,
                (gsize) d->hw * sizeof (float));
    }
}

/* @input contiguous 4-D; result contiguous, no autograd. */
static MactTensor *
shift_compute (MactTensor *input, gint64 segments, gint64 fold, gboolean reverse,
               GError **error)
{
  MactTensor *out = mact_tensor_new_with_shape (4, input->shape, FALSE, error);
  if (out == NULL)
    return NULL;
  ShiftData d = {
    .segments = segments, .channels = input->shape[1], .fold = fold,
    .hw = input->shape[2] * input->shape[3], .reverse = reverse,
    .src = mact_tensor_data (input), .dst = mact_tensor_data (out),
  };
  mact_parallel_for (input->shape[0] * input->shape[1], grain_for (d.hw), shift_worker,
                     &d);
  return out;
}

typedef struct {
  gint64 segments;
  gint64 fold;
} ShiftCtx;

static gboolean
shift_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                GError **error)
{
  ShiftCtx *ctx = node->ctx;
  g_autoptr(MactTensor) g = mact_tensor_contiguous (grad_output);
  grad_inputs[0] = shift_compute (g, ctx->segments, ctx->fold, TRUE, error);
  return grad_inputs[0] != NULL;
}

/**
 * mact_temporal_shift:
 * @input: features of shape [N * @num_segments, C, H, W], the segments of each clip
 *   consecutive
 * @num_segments: the number of segments (frames) per clip
 * @shift_div: the fraction of channels shifted each way is 1 / @shift_div
 * @error: return location for a #GError, or %NULL
 *
 * The temporal shift of TSM (mmaction2's `TemporalShift.shift`).  With
 * fold = C / @shift_div (rounded down), viewing @input as [N, @num_segments, C, H * W]:
 * channels [0, fold) take the value of the next segment (the last segment gets zeros),
 * channels [fold, 2 * fold) take the value of the previous segment (the first gets
 * zeros), and the other channels are unchanged.  The gradient is shifted the opposite
 * ways.
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @input is not 4-D;
 * %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @num_segments or @shift_div is not positive,
 * or the first dimension is not a multiple of @num_segments.
 *
 * Returns: (transfer full) (nullable): a new contiguous tensor of @input's shape, or %NULL
 *   on error
 *
 * Since: 0.1
 */
MactTensor *
mact_temporal_shift (MactTensor *input, gint num_segments, gint shift_div, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (input->ndim != 4)
    {
      g_autofree gchar *s = mact_shape_format (input->ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "mact_temporal_shift: expected a 4-D input [N * num_segments, C, H, W], "
                   "got %s", s);
      return NULL;
    }
  if (num_segments <= 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_temporal_shift: num_segments is %d, expected > 0", num_segments);
      return NULL;
    }
  if (shift_div <= 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_temporal_shift: shift_div is %d, expected > 0", shift_div);
      return NULL;
    }
  if (input->shape[0] % num_segments != 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "mact_temporal_shift: the first dim %" G_GINT64_FORMAT " is not a "
                   "multiple of num_segments %d", input->shape[0], num_segments);
      return NULL;
    }

  gint64 fold = input->shape[1] / shift_div;
  g_autoptr(MactTensor) x = mact_tensor_contiguous (input);
  g_autoptr(MactTensor) out = shift_compute (x, num_segments, fold, FALSE, error);
  if (out == NULL)
    return NULL;

  if (mact_autograd_wants (&input, 1))
    {
      MactNode *node = mact_node_new ("TemporalShiftBackward", shift_backward, &input, 1);
      ShiftCtx *ctx = g_new (ShiftCtx, 1);
      ctx->segments = num_segments;
      ctx->fold = fold;
      mact_node_set_ctx (node, ctx, g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return g_steal_pointer (&out);
}
