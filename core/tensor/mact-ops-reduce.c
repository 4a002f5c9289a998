/* mact-ops-reduce.c: sum and mean over dimensions (accumulated in double), and the
 * reduction of broadcast gradients back to an input's shape. */
#include "mact-tensor-private.h"

#include <string.h>

typedef struct {
  gboolean reduce[MACT_MAX_DIMS];
  gint     in_ndim;
  gint64   in_shape[MACT_MAX_DIMS];
  double   scale;          /* 1 for sum, 1/count for mean */
} ReduceCtx;

static gboolean
parse_dims (MactTensor *self, gint n_dims, const gint *dims, ReduceCtx *ctx, GError **error)
{
  memset (ctx, 0, sizeof *ctx);
  ctx->in_ndim = self->ndim;
  memcpy (ctx->in_shape, self->shape, sizeof ctx->in_shape);
  if (n_dims == 0 || dims == NULL)
    {
      /* PyTorch's dim=None: reduce everything. */
      for (gint i = 0; i < self->ndim; i++)
        ctx->reduce[i] = TRUE;
      return TRUE;
    }
  for (gint i = 0; i < n_dims; i++)
    {
      gint d;
      if (!mact_normalize_dim (dims[i], self->ndim, &d, error))
        return FALSE;
      if (self->ndim > 0 && ctx->reduce[d])
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "reduction: dimension %d appears more than once", d);
          return FALSE;
        }
      if (self->ndim > 0)
        ctx->reduce[d] = TRUE;
    }
  return TRUE;
}

/* Output shape of a reduction, with reduced dims kept as 1. */
static void
kept_shape (const ReduceCtx *ctx, gint64 *shape)
{
  for (gint i = 0; i < ctx->in_ndim; i++)
    shape[i] = ctx->reduce[i] ? 1 : ctx->in_shape[i];
}

static MactTensor *
reduce_forward (MactTensor *self, const ReduceCtx *ctx, gboolean keepdim, GError **error)
{
  gint nd = self->ndim;
  gint64 kshape[MACT_MAX_DIMS], kstrides[MACT_MAX_DIMS];
  kept_shape (ctx, kshape);
  mact_shape_contiguous_strides (nd, kshape, kstrides);
  gint64 n_out = 1;
  for (gint i = 0; i < nd; i++)
    n_out *= kshape[i];

  g_autofree double *acc = g_new0 (double, MAX (n_out, 1));
  g_autoptr(MactTensor) x = mact_tensor_contiguous (self);
  const float *src = mact_tensor_data (x);
  gint64 n = mact_tensor_get_numel (x);

  if (nd == 0)
    acc[0] = n ? src[0] : 0.0;
  else if (n > 0)
    {
      /* Walk the input in order with an index counter; the output offset follows the kept
       * dimensions only.  The innermost dimension is a tight loop. */
      gint last = nd - 1;
      gint64 inner = self->shape[last];
      gint64 idx[MACT_MAX_DIMS] = { 0 };
      for (gint64 base = 0; base < n; base += inner)
        {
          gint64 o = 0;
          for (gint d = 0; d < last; d++)
            if (!ctx->reduce[d])
              o += idx[d] * kstrides[d];
          const float *row = src + base;
          if (ctx->reduce[last])
            {
              double s = 0.0;
              for (gint64 i = 0; i < inner; i++)
                s += row[i];
              acc[o] += s;
            }
          else
            for (gint64 i = 0; i < inner; i++)
              acc[o + i] += row[i];
          for (gint d = last - 1; d >= 0; d--)
            {
              if (++idx[d] < self->shape[d])
                break;
              idx[d] = 0;
            }
        }
    }

  gint out_nd = 0;
  gint64 out_shape[MACT_MAX_DIMS];
  for (gint i = 0; i < nd; i++)
    if (keepdim || !ctx->reduce[i])
      out_shape[out_nd++] = kshape[i];
  MactTensor *out = mact_tensor_new_with_shape (out_nd, out_shape, FALSE, error);
  if (out == NULL)
    return NULL;
  float *po = mact_tensor_data (out);
  for (gint64 i = 0; i < n_out; i++)
    po[i] = (float) (acc[i] * ctx->scale);
  return out;
}

static gboolean
reduce_backward (MactNode *node, MactTensor *grad, MactTensor **grad_inputs, GError **error)
{
  const ReduceCtx *ctx = node->ctx;
  gint64 kshape[MACT_MAX_DIMS], strides[MACT_MAX_DIMS];
  kept_shape (ctx, kshape);
  /* View the gradient with the reduced dims as stride-0 repeats, then materialise. */
  g_autoptr(MactTensor) g = mact_tensor_reshape (grad, ctx->in_ndim, kshape, error);
  if (g == NULL)
    return FALSE;
  for (gint i = 0; i < ctx->in_ndim; i++)
    strides[i] = ctx->reduce[i] ? 0 : g->strides[i];
  g_autoptr(MactTensor) expanded = mact_tensor_new_view_of (g->storage, g->offset, ctx->in_ndim,
                                                            ctx->in_shape, strides);
  MactTensor *out = mact_tensor_new_with_shape (ctx->in_ndim, ctx->in_shape, FALSE, error);
  if (out == NULL)
    return FALSE;
  mact_tensor_copy_to_array (expanded, mact_tensor_data (out));
  if (ctx->scale != 1.0)
    {
      float *d = mact_tensor_data (out);
      gint64 n = mact_tensor_get_numel (out);
      for (gint64 i = 0; i < n; i++)
        d[i] = (float) (d[i] * ctx->scale);
    }
  grad_inputs[0] = out;
  return TRUE;
}

static MactTensor *
reduce (MactTensor *self, gint n_dims, const gint *dims, gboolean keepdim, gboolean mean,
        GError **error)
{
  ReduceCtx ctx;
  g_return_val_if_fail (self != NULL, NULL);
  if (!parse_dims (self, n_dims, dims, &ctx, error))
    return NULL;
  gint64 count = 1;
  for (gint i = 0; i < self->ndim; i++)
    if (ctx.reduce[i])
      count *= self->shape[i];
  if (mean && count == 0)
    {
      g_autofree char *s = mact_tensor_shape_to_string (self);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "mean over an empty set of elements (input shape %s)", s);
      return NULL;
    }
  ctx.scale = mean ? 1.0 / (double) count : 1.0;
  MactTensor *out = reduce_forward (self, &ctx, keepdim, error);
  if (out != NULL && mact_autograd_wants (&self, 1))
    {
      MactNode *node = mact_node_new (mean ? "MeanBackward" : "SumBackward", reduce_backward,
                                      &self, 1);
      mact_node_set_ctx (node, g_memdup2 (&ctx, sizeof ctx), g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return out;
}

/**
 * mact_sum:
 * @self: a tensor
 * @n_dims: number of dimensions to reduce; 0 reduces all
 * @dims: (array length=n_dims) (nullable): the dimensions (negative allowed)
 * @keepdim: keep reduced dimensions with size 1
 * @error: return location for a #GError
 *
 * Sums over @dims, accumulating in double precision.  A dimension out of range is a
 * %MACT_TENSOR_ERROR_SHAPE error, a repeated one %MACT_TENSOR_ERROR_INVALID_ARGUMENT.
 *
 * Returns: (transfer full) (nullable): the sums, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_sum (MactTensor *self, gint n_dims, const gint *dims, gboolean keepdim, GError **error)
{
  return reduce (self, n_dims, dims, keepdim, FALSE, error);
}

/**
 * mact_mean:
 * @self: a tensor
 * @n_dims: number of dimensions to reduce; 0 reduces all
 * @dims: (array length=n_dims) (nullable): the dimensions (negative allowed)
 * @keepdim: keep reduced dimensions with size 1
 * @error: return location for a #GError
 *
 * Averages over @dims.  The mean of no elements is a %MACT_TENSOR_ERROR_SHAPE error.
 *
 * Returns: (transfer full) (nullable): the means, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_mean (MactTensor *self, gint n_dims, const gint *dims, gboolean keepdim, GError **error)
{
  return reduce (self, n_dims, dims, keepdim, TRUE, error);
}

/**
 * mact_sum_all:
 * @self: a tensor
 *
 * Returns: (transfer full): a 0-D tensor holding the sum of all elements
 *
 * Since: 0.1
 */
MactTensor *
mact_sum_all (MactTensor *self)
{
  return reduce (self, 0, NULL, FALSE, FALSE, NULL);
}

/**
 * mact_mean_all:
 * @self: a tensor with at least one element
 *
 * Returns: (transfer full) (nullable): a 0-D tensor holding the mean of all elements, or
 *   %NULL for an empty tensor
 *
 * Since: 0.1
 */
MactTensor *
mact_mean_all (MactTensor *self)
{
  return reduce (self, 0, NULL, FALSE, TRUE, NULL);
}

MactTensor *
mact_sum_to_shape (MactTensor *grad, gint ndim, const gint64 *shape, GError **error)
{
  if (mact_shape_equal (grad->ndim, grad->shape, ndim, shape))
    return mact_tensor_ref (grad);
  /* Leading dims that the target lacks, and dims where the target has 1, were broadcast. */
  gint dims[MACT_MAX_DIMS], n = 0, lead = grad->ndim - ndim;
  for (gint i = 0; i < grad->ndim; i++)
    if (i < lead || (shape[i - lead] == 1 && grad->shape[i] != 1))
      dims[n++] = i;
  g_autoptr(MactTensor) summed = n > 0 ? mact_sum (grad, n, dims, TRUE, error)
                                       : mact_tensor_ref (grad);
  if (summed == NULL)
    return NULL;
  return mact_tensor_reshape (summed, ndim, shape, error);
}
