/* mact-tensor-view.c: views that share storage (reshape, permute, narrow, ...) and the
 * copies contiguous/clone/detach.  Every view is differentiable: its node maps the
 * gradient of the view back to the shape of its source. */
#include "mact-tensor-private.h"

#include <string.h>

typedef struct {
  gint   ndim;
  gint   dims[MACT_MAX_DIMS];   /* permute: the permutation */
  gint   dim;                   /* narrow: dimension */
  gint64 start, step;           /* narrow/slice */
} ViewCtx;

static MactTensor *
make_view (MactTensor *self, gint64 offset, gint ndim, const gint64 *shape,
           const gint64 *strides, const char *name, MactBackwardFunc backward,
           const ViewCtx *ctx)
{
  MactTensor *v = mact_tensor_new_view_of (self->storage, offset, ndim, shape, strides);
  if (mact_autograd_wants (&self, 1))
    {
      MactNode *node = mact_node_new (name, backward, &self, 1);
      if (ctx != NULL)
        mact_node_set_ctx (node, g_memdup2 (ctx, sizeof *ctx), g_free);
      mact_tensor_set_grad_fn (v, node);
    }
  return v;
}

/* ---- reshape family ---- */

static gboolean
reshape_backward (MactNode *node, MactTensor *grad, MactTensor **grad_inputs, GError **error)
{
  grad_inputs[0] = mact_tensor_reshape (grad, node->edges[0].ndim, node->edges[0].shape,
                                        error);
  return grad_inputs[0] != NULL;
}

/* Resolves one -1 entry and checks the element count. */
static gboolean
infer_shape (MactTensor *self, gint ndim, const gint64 *shape, gint64 *out, GError **error)
{
  gint infer = -1;
  gint64 known = 1, numel = mact_tensor_get_numel (self);
  if (ndim < 0 || ndim > MACT_MAX_DIMS || (ndim > 0 && shape == NULL))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "a tensor has 0 to %d dimensions, not %d", MACT_MAX_DIMS, ndim);
      return FALSE;
    }
  for (gint i = 0; i < ndim; i++)
    {
      out[i] = shape[i];
      if (shape[i] == -1 && infer < 0)
        {
          infer = i;
          continue;
        }
      if (shape[i] < 0)
        {
          g_autofree char *s = mact_shape_format (ndim, shape);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "invalid target shape %s: only one -1 is allowed and no other "
                       "negative size", s);
          return FALSE;
        }
      if (__builtin_mul_overflow (known, shape[i], &known))
        {
          g_autofree char *s = mact_shape_format (ndim, shape);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW,
                       "the element count of shape %s overflows", s);
          return FALSE;
        }
    }
  if (infer >= 0)
    {
      if (known == 0 || numel % known != 0)
        goto mismatch;
      out[infer] = numel / known;
      known = numel;
    }
  if (known != numel)
    goto mismatch;
  return TRUE;

mismatch:
  {
    g_autofree char *s = mact_shape_format (ndim, shape);
    g_autofree char *src = mact_tensor_shape_to_string (self);
    g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                 "shape %s is invalid for a tensor of shape %s (%" G_GINT64_FORMAT
                 " elements)", s, src, numel);
    return FALSE;
  }
}

/**
 * mact_tensor_view:
 * @self: a contiguous tensor
 * @ndim: the number of dimensions of the view
 * @shape: (array length=ndim): the new sizes; one may be -1 (inferred)
 * @error: return location for a #GError
 *
 * Returns a view of @self with a new shape, sharing storage.  @self must be contiguous
 * (%MACT_TENSOR_ERROR_SHAPE otherwise; use mact_tensor_reshape(), which copies when it
 * must), and the element count must not change.
 *
 * Returns: (transfer full) (nullable): the view, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_view (MactTensor *self, gint ndim, const gint64 *shape, GError **error)
{
  gint64 out[MACT_MAX_DIMS], strides[MACT_MAX_DIMS];
  g_return_val_if_fail (self != NULL, NULL);
  if (!infer_shape (self, ndim, shape, out, error))
    return NULL;
  if (!mact_tensor_is_contiguous (self))
    {
      g_autofree char *src = mact_tensor_shape_to_string (self);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "cannot view a non-contiguous tensor of shape %s with a new shape; "
                   "use reshape", src);
      return NULL;
    }
  mact_shape_contiguous_strides (ndim, out, strides);
  return make_view (self, self->offset, ndim, out, strides, "ViewBackward", reshape_backward,
                    NULL);
}

/**
 * mact_tensor_reshape:
 * @self: a tensor
 * @ndim: the number of dimensions of the result
 * @shape: (array length=ndim): the new sizes; one may be -1 (inferred)
 * @error: return location for a #GError
 *
 * As PyTorch's `reshape`: a view sharing storage when @self is contiguous, otherwise a
 * contiguous copy.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_reshape (MactTensor *self, gint ndim, const gint64 *shape, GError **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (mact_tensor_is_contiguous (self))
    return mact_tensor_view (self, ndim, shape, error);
  gint64 out[MACT_MAX_DIMS];
  if (!infer_shape (self, ndim, shape, out, error))
    return NULL;
  g_autoptr(MactTensor) c = mact_tensor_contiguous (self);
  return mact_tensor_view (c, ndim, out, error);
}

/**
 * mact_tensor_squeeze:
 * @self: a tensor
 * @dim: the dimension to remove; it must have size 1
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a view without @dim, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_squeeze (MactTensor *self, gint dim, GError **error)
{
  gint d;
  g_return_val_if_fail (self != NULL, NULL);
  if (!mact_normalize_dim (dim, self->ndim, &d, error))
    return NULL;
  if (self->ndim == 0 || self->shape[d] != 1)
    {
      g_autofree char *src = mact_tensor_shape_to_string (self);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "cannot squeeze dimension %d of shape %s: its size is not 1", dim, src);
      return NULL;
    }
  gint64 shape[MACT_MAX_DIMS], strides[MACT_MAX_DIMS];
  gint n = 0;
  for (gint i = 0; i < self->ndim; i++)
    if (i != d)
      {
        shape[n] = self->shape[i];
        strides[n++] = self->strides[i];
      }
  return make_view (self, self->offset, n, shape, strides, "SqueezeBackward",
                    reshape_backward, NULL);
}

/**
 * mact_tensor_squeeze_all:
 * @self: a tensor
 * @error: return location for a #GError
 *
 * As PyTorch's `squeeze()` without a dimension: removes every dimension of size 1.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_squeeze_all (MactTensor *self, GError **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  gint64 shape[MACT_MAX_DIMS];
  gint n = 0;
  for (gint i = 0; i < self->ndim; i++)
    if (self->shape[i] != 1)
      shape[n++] = self->shape[i];
  return mact_tensor_reshape (self, n, shape, error);
}

/**
 * mact_tensor_unsqueeze:
 * @self: a tensor
 * @dim: where to insert a dimension of size 1, in [-ndim-1, ndim]
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a view with one more dimension, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_unsqueeze (MactTensor *self, gint dim, GError **error)
{
  gint d;
  g_return_val_if_fail (self != NULL, NULL);
  if (self->ndim >= MACT_MAX_DIMS)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "cannot unsqueeze a tensor that already has %d dimensions", MACT_MAX_DIMS);
      return NULL;
    }
  if (dim < -(self->ndim + 1) || dim > self->ndim)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "dimension %d is out of range [%d, %d] for unsqueeze of a %d-D tensor",
                   dim, -(self->ndim + 1), self->ndim, self->ndim);
      return NULL;
    }
  d = dim < 0 ? dim + self->ndim + 1 : dim;
  gint64 shape[MACT_MAX_DIMS], strides[MACT_MAX_DIMS];
  for (gint i = 0, j = 0; i <= self->ndim; i++)
    {
      if (i == d)
        {
          shape[i] = 1;
          strides[i] = j < self->ndim ? self->strides[j] * self->shape[j] : 1;
          continue;
        }
      shape[i] = self->shape[j];
      strides[i] = self->strides[j++];
    }
  return make_view (self, self->offset, self->ndim + 1, shape, strides, "UnsqueezeBackward",
                    reshape_backward, NULL);
}

/**
 * mact_tensor_flatten:
 * @self: a tensor
 * @start_dim: first dimension to merge
 * @end_dim: last dimension to merge (negative counts from the end)
 * @error: return location for a #GError
 *
 * As PyTorch's `flatten`: merges dimensions @start_dim..@end_dim into one.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_flatten (MactTensor *self, gint start_dim, gint end_dim, GError **error)
{
  gint s, e;
  g_return_val_if_fail (self != NULL, NULL);
  if (self->ndim == 0)
    {
      gint64 one = 1;
      return mact_tensor_reshape (self, 1, &one, error);
    }
  if (!mact_normalize_dim (start_dim, self->ndim, &s, error) ||
      !mact_normalize_dim (end_dim, self->ndim, &e, error))
    return NULL;
  if (s > e)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "flatten: start_dim %d comes after end_dim %d", start_dim, end_dim);
      return NULL;
    }
  gint64 shape[MACT_MAX_DIMS];
  gint n = 0;
  for (gint i = 0; i < s; i++)
    shape[n++] = self->shape[i];
  gint64 merged = 1;
  for (gint i = s; i <= e; i++)
    merged *= self->shape[i];
  shape[n++] = merged;
  for (gint i = e + 1; i < self->ndim; i++)
    shape[n++] = self->shape[i];
  return mact_tensor_reshape (self, n, shape, error);
}

/* ---- permute ---- */

static gboolean
permute_backward (MactNode *node, MactTensor *grad, MactTensor **grad_inputs, GError **error)
{
  const ViewCtx *ctx = node->ctx;
  gint inverse[MACT_MAX_DIMS];
  for (gint i = 0; i < ctx->ndim; i++)
    inverse[ctx->dims[i]] = i;
  g_autoptr(MactTensor) p = mact_tensor_permute (grad, ctx->ndim, inverse, error);
  if (p == NULL)
    return FALSE;
  grad_inputs[0] = mact_tensor_contiguous (p);
  return TRUE;
}

/**
 * mact_tensor_permute:
 * @self: a tensor
 * @ndim: must equal the tensor's number of dimensions
 * @dims: (array length=ndim): a permutation of the dimensions (negative allowed)
 * @error: return location for a #GError
 *
 * Returns a view with reordered dimensions, sharing storage: dimension i of the result is
 * dimension @dims[i] of @self.
 *
 * Returns: (transfer full) (nullable): the view, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_permute (MactTensor *self, gint ndim, const gint *dims, GError **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  ViewCtx ctx = { .ndim = ndim };
  gboolean seen[MACT_MAX_DIMS] = { FALSE };
  if (ndim != self->ndim || (ndim > 0 && dims == NULL))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "permute of a %d-D tensor needs %d dimensions, got %d",
                   self->ndim, self->ndim, ndim);
      return NULL;
    }
  gint64 shape[MACT_MAX_DIMS], strides[MACT_MAX_DIMS];
  for (gint i = 0; i < ndim; i++)
    {
      gint d;
      if (!mact_normalize_dim (dims[i], ndim, &d, error))
        return NULL;
      if (seen[d])
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "permute: dimension %d appears twice", d);
          return NULL;
        }
      seen[d] = TRUE;
      ctx.dims[i] = d;
      shape[i] = self->shape[d];
      strides[i] = self->strides[d];
    }
  return make_view (self, self->offset, ndim, shape, strides, "PermuteBackward",
                    permute_backward, &ctx);
}

/**
 * mact_tensor_transpose:
 * @self: a tensor
 * @dim0: a dimension
 * @dim1: another dimension
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a view with @dim0 and @dim1 swapped
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_transpose (MactTensor *self, gint dim0, gint dim1, GError **error)
{
  gint a, b, dims[MACT_MAX_DIMS];
  g_return_val_if_fail (self != NULL, NULL);
  if (!mact_normalize_dim (dim0, self->ndim, &a, error) ||
      !mact_normalize_dim (dim1, self->ndim, &b, error))
    return NULL;
  if (self->ndim == 0)
    return mact_tensor_ref (self);
  for (gint i = 0; i < self->ndim; i++)
    dims[i] = i;
  dims[a] = b;
  dims[b] = a;
  return mact_tensor_permute (self, self->ndim, dims, error);
}

/* ---- narrow / slice ---- */

static gboolean
slice_backward (MactNode *node, MactTensor *grad, MactTensor **grad_inputs, GError **error)
{
  const ViewCtx *ctx = node->ctx;
  MactEdge *e = &node->edges[0];
  g_autoptr(MactTensor) full = mact_tensor_new (e->ndim, e->shape, error);
  if (full == NULL)
    return FALSE;
  g_autoptr(MactTensor) window = mact_tensor_slice (full, ctx->dim, ctx->start,
                                                    ctx->start + (grad->shape[ctx->dim] - 1) *
                                                    ctx->step + 1, ctx->step, error);
  if (window == NULL || !mact_tensor_copy_from (window, grad, error))
    return FALSE;
  grad_inputs[0] = g_steal_pointer (&full);
  return TRUE;
}

/**
 * mact_tensor_slice:
 * @self: a tensor
 * @dim: the dimension to slice
 * @start: first index (negative counts from the end; clamped as Python slices are)
 * @end: one past the last index (negative counts from the end; clamped)
 * @step: the step, at least 1
 * @error: return location for a #GError
 *
 * Returns a view of `self[..., start:end:step, ...]` along @dim, sharing storage.
 *
 * Returns: (transfer full) (nullable): the view, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_slice (MactTensor *self, gint dim, gint64 start, gint64 end, gint64 step,
                   GError **error)
{
  gint d;
  g_return_val_if_fail (self != NULL, NULL);
  if (self->ndim == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "cannot slice a 0-D tensor");
      return NULL;
    }
  if (!mact_normalize_dim (dim, self->ndim, &d, error))
    return NULL;
  if (step < 1)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "slice step must be at least 1, got %" G_GINT64_FORMAT, step);
      return NULL;
    }
  gint64 size = self->shape[d];
  if (start < 0)
    start += size;
  if (end < 0)
    end += size;
  start = CLAMP (start, 0, size);
  end = CLAMP (end, start, size);
  gint64 shape[MACT_MAX_DIMS], strides[MACT_MAX_DIMS];
  memcpy (shape, self->shape, sizeof shape);
  memcpy (strides, self->strides, sizeof strides);
  shape[d] = (end - start + step - 1) / step;
  strides[d] = self->strides[d] * step;
  ViewCtx ctx = { .dim = d, .start = start, .step = step };
  return make_view (self, self->offset + start * self->strides[d], self->ndim, shape,
                    strides, "SliceBackward", slice_backward, &ctx);
}

/**
 * mact_tensor_narrow:
 * @self: a tensor
 * @dim: the dimension to narrow
 * @start: first index (negative counts from the end)
 * @length: number of elements kept
 * @error: return location for a #GError
 *
 * As PyTorch's `narrow`: a view of @length elements of @dim from @start.  A window that
 * does not fit is a %MACT_TENSOR_ERROR_SHAPE error.
 *
 * Returns: (transfer full) (nullable): the view, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_narrow (MactTensor *self, gint dim, gint64 start, gint64 length, GError **error)
{
  gint d;
  g_return_val_if_fail (self != NULL, NULL);
  if (self->ndim == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "cannot narrow a 0-D tensor");
      return NULL;
    }
  if (!mact_normalize_dim (dim, self->ndim, &d, error))
    return NULL;
  gint64 size = self->shape[d];
  if (start < 0)
    start += size;
  if (start < 0 || length < 0 || start > size || length > size - start)
    {
      g_autofree char *src = mact_tensor_shape_to_string (self);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "narrow: window [%" G_GINT64_FORMAT ", +%" G_GINT64_FORMAT ") does not "
                   "fit dimension %d of shape %s", start, length, d, src);
      return NULL;
    }
  return mact_tensor_slice (self, d, start, start + length, 1, error);
}

/* ---- copies ---- */

static gboolean
identity_backward (MactNode *node, MactTensor *grad, MactTensor **grad_inputs, GError **error)
{
  grad_inputs[0] = mact_tensor_clone (grad);
  return TRUE;
}

static MactTensor *
copy_with_grad (MactTensor *self, const char *name)
{
  MactTensor *out = mact_tensor_new_with_shape (self->ndim, self->shape, FALSE, NULL);
  if (out == NULL)   /* the source already holds as many elements: cannot overflow */
    return NULL;
  mact_tensor_copy_to_array (self, mact_tensor_data (out));
  if (mact_autograd_wants (&self, 1))
    mact_tensor_set_grad_fn (out, mact_node_new (name, identity_backward, &self, 1));
  return out;
}

/**
 * mact_tensor_contiguous:
 * @self: a tensor
 *
 * Returns @self (a new reference) if it is contiguous, else a contiguous copy.
 *
 * Returns: (transfer full): a contiguous tensor with @self's values
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_contiguous (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (mact_tensor_is_contiguous (self))
    return mact_tensor_ref (self);
  return copy_with_grad (self, "ContiguousBackward");
}

/**
 * mact_tensor_clone:
 * @self: a tensor
 *
 * Returns: (transfer full): a contiguous copy with its own storage (differentiable)
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_clone (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return copy_with_grad (self, "CloneBackward");
}

/**
 * mact_tensor_detach:
 * @self: a tensor
 *
 * Returns: (transfer full): a tensor sharing @self's storage, cut from the autograd graph
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_detach (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return mact_tensor_new_view_of (self->storage, self->offset, self->ndim, self->shape,
                                  self->strides);
}
