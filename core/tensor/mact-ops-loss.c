/* mact-ops-loss.c: negative log-likelihood, cross-entropy and binary cross-entropy with
 * logits.
 *
 * Copyright 2025 The mact authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Class-indexed losses take an input of shape [N, C, d1, ..., dk] (k >= 0) and read it
 * as N * (d1 * ... * dk) "positions", each a vector of C values spaced by the spatial
 * size S = d1 * ... * dk.  Position i = b * S + s is at offset b * C * S + s.
 */
#include "mact-tensor-private.h"

#include <math.h>
#include <string.h>

#define LOSS_GRAIN_ELEMENTS 8192

static gint64
loss_grain (gint64 elements_per_item)
{
  return MAX (1, LOSS_GRAIN_ELEMENTS / MAX (1, elements_per_item));
}

static gboolean
check_reduction (MactReduction reduction, const char *op, GError **error)
{
  if (reduction != MACT_REDUCTION_NONE && reduction != MACT_REDUCTION_MEAN &&
      reduction != MACT_REDUCTION_SUM)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: invalid reduction %d (expected NONE, MEAN or SUM)", op,
                   (int) reduction);
      return FALSE;
    }
  return TRUE;
}

/* input [N, C, ...]: fills n, c and s (the product of the dims after C). */
static gboolean
check_class_input (MactTensor *input, const char *op, gint64 *n, gint64 *c, gint64 *s,
                   GError **error)
{
  if (input->ndim < 2)
    {
      g_autofree gchar *shp = mact_shape_format (input->ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected input of shape [N, C] or [N, C, d1, ...], got %s", op, shp);
      return FALSE;
    }
  if (!mact_check_not_empty (input, op, "input", error))
    return FALSE;
  *n = input->shape[0];
  *c = input->shape[1];
  *s = 1;
  for (gint d = 2; d < input->ndim; d++)
    *s *= input->shape[d];
  return TRUE;
}

/* The shape of class indices for @input: input's shape without dim 1. */
static void
hard_target_shape (MactTensor *input, gint *ndim, gint64 *shape)
{
  *ndim = input->ndim - 1;
  shape[0] = input->shape[0];
  for (gint d = 2; d < input->ndim; d++)
    shape[d - 1] = input->shape[d];
}

static gboolean
check_class_weight (MactTensor *weight, gint64 c, const char *op, GError **error)
{
  if (weight == NULL)
    return TRUE;
  if (weight->ndim != 1 || weight->shape[0] != c)
    {
      g_autofree gchar *s = mact_shape_format (weight->ndim, weight->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: weight must have shape [%" G_GINT64_FORMAT "], got %s", op, c, s);
      return FALSE;
    }
  return TRUE;
}

/* A contiguous float copy of a [C] weight, or NULL. */
static float *
copy_class_weight (MactTensor *weight)
{
  if (weight == NULL)
    return NULL;
  float *w = g_new (float, weight->shape[0]);
  const float *src = mact_tensor_data (weight);
  for (gint64 i = 0; i < weight->shape[0]; i++)
    w[i] = src[i * weight->strides[0]];
  return w;
}

/* Reads class indices stored as floats; fails on a non-integral or out-of-range one. */
static gint64 *
read_labels (MactTensor *target, gint64 c, const char *op, GError **error)
{
  g_autoptr(MactTensor) tc = mact_tensor_contiguous (target);
  const float *t = mact_tensor_data (tc);
  const gint64 n = mact_tensor_get_numel (tc);
  g_autofree gint64 *labels = g_new (gint64, MAX (n, 1));

  for (gint64 i = 0; i < n; i++)
    {
      float v = t[i];
      if (!(v >= 0.0f && v < (float) c) || v != floorf (v))
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "%s: target %g at flat index %" G_GINT64_FORMAT " is not a class "
                       "index in [0, %" G_GINT64_FORMAT ")", op, (double) v, i, c);
          return NULL;
        }
      labels[i] = (gint64) v;
    }
  return g_steal_pointer (&labels);
}

/* The result of a reduction: the per-position losses themselves (NONE, with @shape) or
 * their sum divided by @divisor (0-D). */
static MactTensor *
reduce_losses (float *losses, gint64 count, MactReduction reduction, double divisor,
               gint ndim, const gint64 *shape, GError **error)
{
  if (reduction == MACT_REDUCTION_NONE)
    {
      MactTensor *out = mact_tensor_new_with_shape (ndim, shape, FALSE, error);
      if (out == NULL)
        return NULL;
      memcpy (mact_tensor_data (out), losses, sizeof (float) * count);
      return out;
    }
  double acc = 0.0;
  for (gint64 i = 0; i < count; i++)
    acc += losses[i];
  if (reduction == MACT_REDUCTION_MEAN)
    acc /= divisor;
  return mact_tensor_new_scalar ((float) acc);
}

/* The factor of position @i's gradient: the upstream gradient, divided for MEAN. */
static inline float
upstream_coef (const float *g, gint64 i, MactReduction reduction, double divisor)
{
  switch (reduction)
    {
    case MACT_REDUCTION_NONE:
      return g[i];
    case MACT_REDUCTION_MEAN:
      return (float) ((double) g[0] / divisor);
    case MACT_REDUCTION_SUM:
    default:
      return g[0];
    }
}

/* ------------------------------------------------------------------------------------ */
/* nll_loss                                                                             */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  gint64        n, c, s;
  MactReduction reduction;
  gint64       *labels;      /* [n * s] */
  float        *wpos;        /* [n * s]: the class weight of each position's label */
  double        weight_sum;  /* the MEAN divisor */
} NllCtx;

static void
nll_ctx_free (gpointer data)
{
  NllCtx *ctx = data;
  g_free (ctx->labels);
  g_free (ctx->wpos);
  g_free (ctx);
}

static gboolean
nll_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
              GError **error)
{
  NllCtx *ctx = node->ctx;
  g_autoptr(MactTensor) gx = mact_tensor_new_with_shape (node->edges[0].ndim,
                                                         node->edges[0].shape, TRUE, error);
  if (gx == NULL)
    return FALSE;
  const float *g = mact_tensor_data (grad_output);
  float *o = mact_tensor_data (gx);
  const gint64 count = ctx->n * ctx->s;
  for (gint64 i = 0; i < count; i++)
    {
      gint64 b = i / ctx->s, si = i % ctx->s;
      float coef = upstream_coef (g, i, ctx->reduction, ctx->weight_sum);
      o[(b * ctx->c + ctx->labels[i]) * ctx->s + si] = -ctx->wpos[i] * coef;
    }
  grad_inputs[0] = g_steal_pointer (&gx);
  return TRUE;
}

/**
 * mact_nll_loss:
 * @log_probs: log-probabilities, of shape `[N, C]` or `[N, C, d1, ..., dk]`
 * @target: class indices as float32 values holding integers in [0, C), of shape `[N]`
 *   or `[N, d1, ..., dk]`
 * @weight: (nullable): per-class weights, of shape `[C]`, or %NULL for all 1
 * @reduction: how to reduce the per-sample losses
 * @error: return location for a #GError, or %NULL
 *
 * The negative log-likelihood loss, as PyTorch's `F.nll_loss`: the loss of sample n is
 * `-weight[y_n] * log_probs[n, y_n]`.  %MACT_REDUCTION_MEAN is the weighted mean
 * `sum(loss) / sum(weight[y_n])`; %MACT_REDUCTION_NONE returns the losses with
 * @target's shape.  Differentiable with respect to @log_probs only (@weight is a
 * constant, as in PyTorch).
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @log_probs has fewer than 2 dimensions or is
 * empty, or @target or @weight has the wrong shape; %MACT_TENSOR_ERROR_INVALID_ARGUMENT
 * when a target is not an integer in [0, C) or @reduction is invalid.
 *
 * Returns: (transfer full) (nullable): the loss (0-D unless @reduction is
 *   %MACT_REDUCTION_NONE), or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_nll_loss (MactTensor *log_probs, MactTensor *target, MactTensor *weight,
               MactReduction reduction, GError **error)
{
  static const char *op = "nll_loss";
  gint64 n, c, s;
  gint tndim;
  gint64 tshape[MACT_MAX_DIMS];

  g_return_val_if_fail (log_probs != NULL, NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_reduction (reduction, op, error) ||
      !check_class_input (log_probs, op, &n, &c, &s, error) ||
      !check_class_weight (weight, c, op, error))
    return NULL;
  hard_target_shape (log_probs, &tndim, tshape);
  if (!mact_shape_equal (target->ndim, target->shape, tndim, tshape))
    {
      g_autofree gchar *want = mact_shape_format (tndim, tshape);
      g_autofree gchar *got = mact_shape_format (target->ndim, target->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: target must have shape %s, got %s", op, want, got);
      return NULL;
    }
  g_autofree gint64 *labels = read_labels (target, c, op, error);
  if (labels == NULL)
    return NULL;

  g_autoptr(MactTensor) xc = mact_tensor_contiguous (log_probs);
  g_autofree float *w = copy_class_weight (weight);
  const gint64 count = n * s;
  const float *x = mact_tensor_data (xc);
  g_autofree float *wpos = g_new (float, count);
  g_autofree float *losses = g_new (float, count);
  double weight_sum = 0.0;
  for (gint64 i = 0; i < count; i++)
    {
      gint64 b = i / s, si = i % s, y = labels[i];
      wpos[i] = w != NULL ? w[y] : 1.0f;
      weight_sum += wpos[i];
      losses[i] = -wpos[i] * x[(b * c + y) * s + si];
    }

  MactTensor *out = reduce_losses (losses, count, reduction, weight_sum, tndim, tshape,
                                   error);
  if (out == NULL)
    return NULL;

  MactTensor *inputs[1] = { log_probs };
  if (!mact_autograd_wants (inputs, 1))
    return out;
  NllCtx *ctx = g_new0 (NllCtx, 1);
  ctx->n = n;
  ctx->c = c;
  ctx->s = s;
  ctx->reduction = reduction;
  ctx->labels = g_steal_pointer (&labels);
  ctx->wpos = g_steal_pointer (&wpos);
  ctx->weight_sum = weight_sum;
  MactNode *node = mact_node_new ("NllLossBackward", nll_backward, inputs, 1);
  mact_node_set_ctx (node, ctx, nll_ctx_free);
  mact_tensor_set_grad_fn (out, node);
  return out;
}

/* ------------------------------------------------------------------------------------ */
/* cross_entropy                                                                        */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  gint64        n, c, s;
  MactReduction reduction;
  gboolean      soft;
  gint64       *labels;      /* hard: [n * s] */
  float        *wpos;        /* hard: [n * s] class weight of each label */
  float        *weight;      /* soft: [c] copy, or NULL */
  float        *lse;         /* [n * s]: log-sum-exp of each position */
  double        divisor;     /* the MEAN divisor */
  gint          edge_target; /* soft: index of target among the node's inputs, or -1 */
} CrossEntropyCtx;

static void
cross_entropy_ctx_free (gpointer data)
{
  CrossEntropyCtx *ctx = data;
  g_free (ctx->labels);
  g_free (ctx->wpos);
  g_free (ctx->weight);
  g_free (ctx->lse);
  g_free (ctx);
}

typedef struct {
  CrossEntropyCtx *ctx;
  const float     *x, *t;     /* t: soft target */
  float           *losses;    /* forward */
  const float     *g;         /* backward */
  float           *gx, *gt;   /* backward, nullable */
} CrossEntropyJob;

static void
cross_entropy_forward_range (gint64 begin, gint64 end, gpointer data)
{
  CrossEntropyJob *j = data;
  CrossEntropyCtx *ctx = j->ctx;
  const gint64 c = ctx->c, s = ctx->s;

  for (gint64 i = begin; i < end; i++)
    {
      const gint64 base = (i / s) * c * s + i % s;
      const float *xp = j->x + base;
      float max = -INFINITY;
      for (gint64 k = 0; k < c; k++)
        max = MAX (max, xp[k * s]);
      double sum = 0.0;
      for (gint64 k = 0; k < c; k++)
        sum += exp ((double) xp[k * s] - (double) max);
      const double lse = (double) max + log (sum);
      ctx->lse[i] = (float) lse;
      if (!ctx->soft)
        {
          j->losses[i] = (float) ((double) ctx->wpos[i] * (lse - xp[ctx->labels[i] * s]));
          continue;
        }
      const float *tp = j->t + base;
      double acc = 0.0;
      for (gint64 k = 0; k < c; k++)
        {
          double wt = (double) tp[k * s] * (ctx->weight != NULL ? ctx->weight[k] : 1.0);
          acc -= wt * ((double) xp[k * s] - lse);
        }
      j->losses[i] = (float) acc;
    }
}

static void
cross_entropy_backward_range (gint64 begin, gint64 end, gpointer data)
{
  CrossEntropyJob *j = data;
  CrossEntropyCtx *ctx = j->ctx;
  const gint64 c = ctx->c, s = ctx->s;

  for (gint64 i = begin; i < end; i++)
    {
      const gint64 base = (i / s) * c * s + i % s;
      const float *xp = j->x + base;
      const float lse = ctx->lse[i];
      const float coef = upstream_coef (j->g, i, ctx->reduction, ctx->divisor);
      if (!ctx->soft)
        {
          if (j->gx == NULL)
            continue;
          const float cw = coef * ctx->wpos[i];
          float *gp = j->gx + base;
          for (gint64 k = 0; k < c; k++)
            gp[k * s] = cw * expf (xp[k * s] - lse);
          gp[ctx->labels[i] * s] -= cw;
          continue;
        }
      const float *tp = j->t + base;
      if (j->gx != NULL)
        {
          double tw = 0.0;
          for (gint64 k = 0; k < c; k++)
            tw += (double) tp[k * s] * (ctx->weight != NULL ? ctx->weight[k] : 1.0);
          float *gp = j->gx + base;
          for (gint64 k = 0; k < c; k++)
            {
              float wk = ctx->weight != NULL ? ctx->weight[k] : 1.0f;
              gp[k * s] = coef * (expf (xp[k * s] - lse) * (float) tw - wk * tp[k * s]);
            }
        }
      if (j->gt != NULL)
        {
          float *gp = j->gt + base;
          for (gint64 k = 0; k < c; k++)
            {
              float wk = ctx->weight != NULL ? ctx->weight[k] : 1.0f;
              gp[k * s] = -coef * wk * (xp[k * s] - lse);
            }
        }
    }
}

static gboolean
cross_entropy_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                        GError **error)
{
  CrossEntropyCtx *ctx = node->ctx;
  g_autoptr(MactTensor) gx = NULL, gt = NULL;
  CrossEntropyJob j = {
    .ctx = ctx,
    .x = mact_tensor_data (mact_node_saved (node, 0)),
    .t = ctx->soft ? mact_tensor_data (mact_node_saved (node, 1)) : NULL,
    .g = mact_tensor_data (grad_output),
  };

  if (node->needs_grad[0])
    {
      gx = mact_tensor_new_with_shape (node->edges[0].ndim, node->edges[0].shape, FALSE,
                                       error);
      if (gx == NULL)
        return FALSE;
      j.gx = mact_tensor_data (gx);
    }
  if (ctx->edge_target >= 0 && node->needs_grad[ctx->edge_target])
    {
      MactEdge *e = &node->edges[ctx->edge_target];
      gt = mact_tensor_new_with_shape (e->ndim, e->shape, FALSE, error);
      if (gt == NULL)
        return FALSE;
      j.gt = mact_tensor_data (gt);
    }
  mact_parallel_for (ctx->n * ctx->s, loss_grain (ctx->c), cross_entropy_backward_range,
                     &j);
  if (gx != NULL)
    grad_inputs[0] = g_steal_pointer (&gx);
  if (gt != NULL)
    grad_inputs[ctx->edge_target] = g_steal_pointer (&gt);
  return TRUE;
}

/**
 * mact_cross_entropy:
 * @input: unnormalised logits, of shape `[N, C]` or `[N, C, d1, ..., dk]`
 * @target: either class indices as float32 values holding integers in [0, C), of shape
 *   `[N]` or `[N, d1, ..., dk]` (hard labels), or class probabilities of @input's shape
 *   (soft labels)
 * @weight: (nullable): per-class weights, of shape `[C]`, or %NULL for all 1
 * @reduction: how to reduce the per-sample losses
 * @error: return location for a #GError, or %NULL
 *
 * The cross-entropy between softmax(@input) over dim 1 and @target, as PyTorch's
 * `F.cross_entropy` (without ignore_index or label smoothing), computed stably through
 * the log-sum-exp.
 *
 * With hard labels, the loss of sample n is `weight[y_n] * -log_softmax(x_n)[y_n]` and
 * %MACT_REDUCTION_MEAN divides the sum by `sum(weight[y_n])`, as mact_nll_loss().  With
 * soft labels, the loss of sample n is `-sum_c weight[c] * target[n, c] *
 * log_softmax(x_n)[c]` and %MACT_REDUCTION_MEAN divides the sum by the number of samples
 * (N * d1 * ... * dk), whatever the weights, as PyTorch 1.13 does.  Which form is used
 * depends only on @target's shape.  Soft targets are not checked to be probabilities.
 *
 * Differentiable with respect to @input, and, for soft labels, with respect to @target
 * too (the gradient is `-weight[c] * log_softmax(x)[c]` times the upstream factor).
 * @weight is a constant, and hard labels get no gradient.
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @input has fewer than 2 dimensions or is empty,
 * @target has neither accepted shape, or @weight is not `[C]`;
 * %MACT_TENSOR_ERROR_INVALID_ARGUMENT when a hard label is not an integer in [0, C) or
 * @reduction is invalid.
 *
 * Returns: (transfer full) (nullable): the loss (0-D unless @reduction is
 *   %MACT_REDUCTION_NONE, then of shape `[N, d1, ..., dk]`), or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_cross_entropy (MactTensor *input, MactTensor *target, MactTensor *weight,
                    MactReduction reduction, GError **error)
{
  static const char *op = "cross_entropy";
  gint64 n, c, s;
  gint tndim;
  gint64 tshape[MACT_MAX_DIMS];

  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_reduction (reduction, op, error) ||
      !check_class_input (input, op, &n, &c, &s, error) ||
      !check_class_weight (weight, c, op, error))
    return NULL;
  hard_target_shape (input, &tndim, tshape);

  gboolean soft;
  if (mact_shape_equal (target->ndim, target->shape, input->ndim, input->shape))
    soft = TRUE;
  else if (mact_shape_equal (target->ndim, target->shape, tndim, tshape))
    soft = FALSE;
  else
    {
      g_autofree gchar *hard = mact_shape_format (tndim, tshape);
      g_autofree gchar *prob = mact_shape_format (input->ndim, input->shape);
      g_autofree gchar *got = mact_shape_format (target->ndim, target->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: target must have shape %s (class indices) or %s (class "
                   "probabilities), got %s", op, hard, prob, got);
      return NULL;
    }

  CrossEntropyCtx *ctx = g_new0 (CrossEntropyCtx, 1);
  ctx->n = n;
  ctx->c = c;
  ctx->s = s;
  ctx->reduction = reduction;
  ctx->soft = soft;
  ctx->edge_target = -1;
  const gint64 count = n * s;
  g_autoptr(MactTensor) tc = NULL;
  if (soft)
    {
      ctx->weight = copy_class_weight (weight);
      ctx->divisor = (double) count;
      tc = mact_tensor_contiguous (target);
    }
  else
    {
      ctx->labels = read_labels (target, c, op, error);
      if (ctx->labels == NULL)
        {
          cross_entropy_ctx_free (ctx);
          return NULL;
        }
      g_autofree float *w = copy_class_weight (weight);
      ctx->wpos = g_new (float, count);
      double weight_sum = 0.0;
      for (gint64 i = 0; i < count; i++)
        {
          ctx->wpos[i] = w != NULL ? w[ctx->labels[i]] : 1.0f;
          weight_sum += ctx->wpos[i];
        }
      ctx->divisor = weight_sum;
    }
  ctx->lse = g_new (float, count);

  g_autoptr(MactTensor) xc = mact_tensor_contiguous (input);
  g_autofree float *losses = g_new (float, count);
  CrossEntropyJob j = {
    .ctx = ctx,
    .x = mact_tensor_data (xc),
    .t = tc != NULL ? mact_tensor_data (tc) : NULL,
    .losses = losses,
  };
  mact_parallel_for (count, loss_grain (c), cross_entropy_forward_range, &j);

  MactTensor *out = reduce_losses (losses, count, reduction, ctx->divisor, tndim, tshape,
                                   error);
  if (out == NULL)
    {
      cross_entropy_ctx_free (ctx);
      return NULL;
    }

  MactTensor *inputs[2] = { input, target };
  guint n_inputs = soft ? 2 : 1;
  if (!mact_autograd_wants (inputs, n_inputs))
    {
      cross_entropy_ctx_free (ctx);
      return out;
    }
  if (soft)
    ctx->edge_target = 1;
  MactNode *node = mact_node_new ("CrossEntropyBackward", cross_entropy_backward, inputs,
                                  n_inputs);
  mact_node_save (node, xc);
  if (soft)
    mact_node_save (node, tc);
  mact_node_set_ctx (node, ctx, cross_entropy_ctx_free);
  mact_tensor_set_grad_fn (out, node);
  return out;
}

/* ------------------------------------------------------------------------------------ */
/* binary_cross_entropy_with_logits                                                     */
/* ------------------------------------------------------------------------------------ */

/* A contiguous copy of @t broadcast to exactly @shape; NULL with a SHAPE error when @t
 * does not broadcast to it. */
static float *
expand_to_shape (MactTensor *t, gint ndim, const gint64 *shape, const char *op,
                 const char *what, GError **error)
{
  gint64 strides[MACT_MAX_DIMS];
  gboolean ok = t->ndim <= ndim;

  for (gint d = 0; ok && d < ndim; d++)
    {
      gint td = d - (ndim - t->ndim);
      if (td < 0)
        strides[d] = 0;
      else if (t->shape[td] == shape[d])
        strides[d] = shape[d] == 1 ? 0 : t->strides[td];
      else if (t->shape[td] == 1)
        strides[d] = 0;
      else
        ok = FALSE;
    }
  if (!ok)
    {
      g_autofree gchar *want = mact_shape_format (ndim, shape);
      g_autofree gchar *got = mact_shape_format (t->ndim, t->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: %s of shape %s does not broadcast to the input shape %s", op, what,
                   got, want);
      return NULL;
    }

  gint64 numel = 1;
  for (gint d = 0; d < ndim; d++)
    numel *= shape[d];
  float *out = g_new (float, MAX (numel, 1));
  const float *src = mact_tensor_data (t);
  gint64 index[MACT_MAX_DIMS] = { 0 };
  gint64 pos = 0;
  for (gint64 i = 0; i < numel; i++)
    {
      out[i] = src[pos];
      for (gint d = ndim - 1; d >= 0; d--)
        {
          if (++index[d] < shape[d])
            {
              pos += strides[d];
              break;
            }
          pos -= strides[d] * (shape[d] - 1);
          index[d] = 0;
        }
    }
  return out;
}

typedef struct {
  gint64        numel;
  MactReduction reduction;
  float        *w;    /* expanded weight, or NULL */
  float        *pw;   /* expanded pos_weight, or NULL */
} BceCtx;

static void
bce_ctx_free (gpointer data)
{
  BceCtx *ctx = data;
  g_free (ctx->w);
  g_free (ctx->pw);
  g_free (ctx);
}

typedef struct {
  BceCtx      *ctx;
  const float *x, *t;
  float       *losses;       /* forward */
  const float *g;            /* backward */
  float       *gx, *gt;      /* backward, nullable */
} BceJob;

/* softplus(-x) = log(1 + exp(-x)), without overflow. */
static inline double
softplus_neg (double x)
{
  return log1p (exp (-fabs (x))) + MAX (-x, 0.0);
}

/* sigmoid(-x) = 1 / (1 + exp(x)), without overflow. */
static inline double
sigmoid_neg (double x)
{
  if (x >= 0.0)
    {
      double e = exp (-x);
      return e / (1.0 + e);
    }
  return 1.0 / (1.0 + exp (x));
}

static void
bce_forward_range (gint64 begin, gint64 end, gpointer data)
{
  BceJob *j = data;
  const BceCtx *ctx = j->ctx;
  for (gint64 i = begin; i < end; i++)
    {
      const double x = j->x[i], t = j->t[i];
      const double lw = ctx->pw != NULL ? 1.0 + ((double) ctx->pw[i] - 1.0) * t : 1.0;
      double l = (1.0 - t) * x + lw * softplus_neg (x);
      if (ctx->w != NULL)
        l *= ctx->w[i];
      j->losses[i] = (float) l;
    }
}

static void
bce_backward_range (gint64 begin, gint64 end, gpointer data)
{
  BceJob *j = data;
  const BceCtx *ctx = j->ctx;
  for (gint64 i = begin; i < end; i++)
    {
      const double x = j->x[i], t = j->t[i];
      double coef = upstream_coef (j->g, i, ctx->reduction, (double) ctx->numel);
      if (ctx->w != NULL)
        coef *= ctx->w[i];
      if (j->gx != NULL)
        {
          const double lw = ctx->pw != NULL ? 1.0 + ((double) ctx->pw[i] - 1.0) * t : 1.0;
          j->gx[i] = (float) (coef * ((1.0 - t) - lw * sigmoid_neg (x)));
        }
      if (j->gt != NULL)
        {
          double d = -x;
          if (ctx->pw != NULL)
            d += ((double) ctx->pw[i] - 1.0) * softplus_neg (x);
          j->gt[i] = (float) (coef * d);
        }
    }
}

static gboolean
bce_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
              GError **error)
{
  BceCtx *ctx = node->ctx;
  g_autoptr(MactTensor) gx = NULL, gt = NULL;
  BceJob j = {
    .ctx = ctx,
    .x = mact_tensor_data (mact_node_saved (node, 0)),
    .t = mact_tensor_data (mact_node_saved (node, 1)),
    .g = mact_tensor_data (grad_output),
  };
  for (guint i = 0; i < 2; i++)
    {
      if (!node->needs_grad[i])
        continue;
      MactTensor *gi = mact_tensor_new_with_shape (node->edges[i].ndim, node->edges[i].shape,
                                                   FALSE, error);
      if (gi == NULL)
        return FALSE;
      if (i == 0)
        {
          gx = gi;
          j.gx = mact_tensor_data (gx);
        }
      else
        {
          gt = gi;
          j.gt = mact_tensor_data (gt);
        }
    }
  mact_parallel_for (ctx->numel, LOSS_GRAIN_ELEMENTS, bce_backward_range, &j);
  if (gx != NULL)
    grad_inputs[0] = g_steal_pointer (&gx);
  if (gt != NULL)
    grad_inputs[1] = g_steal_pointer (&gt);
  return TRUE;
}

/**
 * mact_binary_cross_entropy_with_logits:
 * @input: logits, of any shape
 * @target: targets in [0, 1] (hard or soft), of @input's shape
 * @weight: (nullable): weights that broadcast to @input's shape (multiplying each
 *   element's loss), or %NULL
 * @pos_weight: (nullable): weights of the positive term that broadcast to @input's shape,
 *   typically of shape `[C]` for the classes along the last dimension, or %NULL
 * @reduction: how to reduce the per-element losses; %MACT_REDUCTION_MEAN divides by the
 *   number of elements
 * @error: return location for a #GError, or %NULL
 *
 * Sigmoid followed by binary cross-entropy, as PyTorch's
 * `F.binary_cross_entropy_with_logits`, computed stably:
 * `loss = weight * ((1 - t) * x + (1 + (pos_weight - 1) * t) * log(1 + exp(-x)))`,
 * where `log(1 + exp(-x))` is evaluated as `log1p(exp(-|x|)) + max(-x, 0)`.
 *
 * Differentiable with respect to @input and @target.  @weight and @pos_weight are
 * constants (PyTorch 1.13 does not differentiate them either).  Targets are not checked
 * to lie in [0, 1].
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @target's shape differs from @input's, @input is
 * empty, or @weight or @pos_weight does not broadcast to @input's shape;
 * %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @reduction is invalid.
 *
 * Returns: (transfer full) (nullable): the loss (0-D unless @reduction is
 *   %MACT_REDUCTION_NONE, then of @input's shape), or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_binary_cross_entropy_with_logits (MactTensor *input, MactTensor *target,
                                       MactTensor *weight, MactTensor *pos_weight,
                                       MactReduction reduction, GError **error)
{
  static const char *op = "binary_cross_entropy_with_logits";

  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_reduction (reduction, op, error) ||
      !mact_check_not_empty (input, op, "input", error))
    return NULL;
  if (!mact_shape_equal (target->ndim, target->shape, input->ndim, input->shape))
    {
      g_autofree gchar *want = mact_shape_format (input->ndim, input->shape);
      g_autofree gchar *got = mact_shape_format (target->ndim, target->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: target must have the input's shape %s, got %s", op, want, got);
      return NULL;
    }

  g_autofree float *w = NULL, *pw = NULL;
  if (weight != NULL &&
      (w = expand_to_shape (weight, input->ndim, input->shape, op, "weight", error)) == NULL)
    return NULL;
  if (pos_weight != NULL &&
      (pw = expand_to_shape (pos_weight, input->ndim, input->shape, op, "pos_weight",
                             error)) == NULL)
    return NULL;

  g_autoptr(MactTensor) xc = mact_tensor_contiguous (input);
  g_autoptr(MactTensor) tc = mact_tensor_contiguous (target);
  const gint64 numel = mact_tensor_get_numel (xc);
  g_autofree float *losses = g_new (float, MAX (numel, 1));
  BceCtx local_ctx = { .numel = numel, .reduction = reduction, .w = w, .pw = pw };
  BceJob j = {
    .ctx = &local_ctx,
    .x = mact_tensor_data (xc),
    .t = mact_tensor_data (tc),
    .losses = losses,
  };
  mact_parallel_for (numel, LOSS_GRAIN_ELEMENTS, bce_forward_range, &j);

  MactTensor *out = reduce_losses (losses, numel, reduction, (double) numel, input->ndim,
                                   input->shape, error);
  if (out == NULL)
    return NULL;

  MactTensor *inputs[2] = { input, target };
  if (!mact_autograd_wants (inputs, 2))
    return out;
  BceCtx *ctx = g_new0 (BceCtx, 1);
  ctx->numel = numel;
  ctx->reduction = reduction;
  ctx->w = g_steal_pointer (&w);
  ctx->pw = g_steal_pointer (&pw);
  MactNode *node = mact_node_new ("BinaryCrossEntropyWithLogitsBackward", bce_backward,
                                  inputs, 2);
  mact_node_save (node, xc);
  mact_node_save (node, tc);
  mact_node_set_ctx (node, ctx, bce_ctx_free);
  mact_tensor_set_grad_fn (out, node);
  return out;
}
