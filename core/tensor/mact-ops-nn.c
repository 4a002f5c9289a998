/* mact-ops-nn.c: batch normalisation, softmax, log-softmax, dropout and one-hot.
 *
 * Copyright 2025 The mact authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mact-tensor-private.h"

#include <math.h>
#include <string.h>

/* Elements per parallel chunk that make a thread hand-off worth it. */
#define NN_GRAIN_ELEMENTS 8192

static gint64
grain_for (gint64 elements_per_item)
{
  return MAX (1, NN_GRAIN_ELEMENTS / MAX (1, elements_per_item));
}

/* Checks that @t (nullable) is a 1-D tensor of @c elements. */
static gboolean
check_channel_vector (MactTensor *t, gint64 c, const char *op, const char *what,
                      GError **error)
{
  if (t == NULL)
    return TRUE;
  if (t->ndim != 1 || t->shape[0] != c)
    {
      g_autofree gchar *s = mact_shape_format (t->ndim, t->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: %s must have shape [%" G_GINT64_FORMAT "], got %s", op, what, c, s);
      return FALSE;
    }
  return TRUE;
}

static inline float *
vec_at (MactTensor *t, gint64 i)
{
  return mact_tensor_data (t) + i * t->strides[0];
}

/* ------------------------------------------------------------------------------------ */
/* batch norm                                                                           */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  gint64   n, c, s;       /* batch, channels, spatial size */
  gboolean training;
  float   *mean;          /* [c]: the statistics used to normalise */
  float   *invstd;        /* [c]: 1 / sqrt(var + eps) */
  gint     edge_weight;   /* index of weight among the node's inputs, or -1 */
  gint     edge_bias;     /* index of bias among the node's inputs, or -1 */
  gint     saved_weight;  /* index of weight in node->saved, or -1 */
  /* SyncBN: sums the per-channel reductions across processes; NULL for plain BN. */
  MactAllReduceSumFunc reduce;
  gpointer             reduce_data;
  double               count;   /* values per channel over all processes */
} BatchNormCtx;

static void
batch_norm_ctx_free (gpointer data)
{
  BatchNormCtx *ctx = data;
  g_free (ctx->mean);
  g_free (ctx->invstd);
  g_free (ctx);
}

typedef struct {
  gint64       n, c, s;
  gboolean     training;
  double       momentum, eps;
  const float *x;
  float       *y;
  MactTensor  *running_mean, *running_var, *weight, *bias;  /* nullable */
  float       *mean, *invstd;
  gboolean     have_stats;   /* mean and invstd are given (SyncBN): only normalise */
} BatchNormForward;

static void
batch_norm_forward_range (gint64 begin, gint64 end, gpointer data)
{
  BatchNormForward *f = data;
  const gint64 n = f->n, c_all = f->c, s = f->s;
  const double m = (double) (n * s);

  for (gint64 c = begin; c < end; c++)
    {
      double mean, invstd;
      if (f->have_stats)
        {
          mean = f->mean[c];
          invstd = f->invstd[c];
        }
      else if (f->training)
        {
          double sum = 0.0, sq = 0.0;
          for (gint64 b = 0; b < n; b++)
            {
              const float *xp = f->x + (b * c_all + c) * s;
              for (gint64 i = 0; i < s; i++)
                sum += xp[i];
            }
          mean = sum / m;
          for (gint64 b = 0; b < n; b++)
            {
              const float *xp = f->x + (b * c_all + c) * s;
              for (gint64 i = 0; i < s; i++)
                {
                  double d = (double) xp[i] - mean;
                  sq += d * d;
                }
            }
          double var = sq / m;
          invstd = 1.0 / sqrt (var + f->eps);
          if (f->running_mean != NULL)
            {
              float *rm = vec_at (f->running_mean, c);
              float *rv = vec_at (f->running_var, c);
              double unbiased = sq / (m - 1.0);
              *rm = (float) ((1.0 - f->momentum) * (double) *rm + f->momentum * mean);
              *rv = (float) ((1.0 - f->momentum) * (double) *rv + f->momentum * unbiased);
            }
        }
      else
        {
          mean = *vec_at (f->running_mean, c);
          invstd = 1.0 / sqrt ((double) *vec_at (f->running_var, c) + f->eps);
        }
      f->mean[c] = (float) mean;
      f->invstd[c] = (float) invstd;

      double w = f->weight != NULL ? *vec_at (f->weight, c) : 1.0;
      double bias = f->bias != NULL ? *vec_at (f->bias, c) : 0.0;
      float scale = (float) (w * invstd);
      float shift = (float) bias;
      float fmean = (float) mean;
      for (gint64 b = 0; b < n; b++)
        {
          const float *xp = f->x + (b * c_all + c) * s;
          float *yp = f->y + (b * c_all + c) * s;
          for (gint64 i = 0; i < s; i++)
            yp[i] = (xp[i] - fmean) * scale + shift;
        }
    }
}

typedef struct {
  BatchNormCtx *ctx;
  const float  *x, *g;
  MactTensor   *weight;   /* nullable */
  float        *gx, *gw, *gb;  /* nullable */
  float        *sums;          /* SyncBN: [2c] sum_g then sum_gx, reduced across processes */
} BatchNormBackward;

static void
batch_norm_backward_range (gint64 begin, gint64 end, gpointer data)
{
  BatchNormBackward *b = data;
  const BatchNormCtx *ctx = b->ctx;
  const gint64 n = ctx->n, c_all = ctx->c, s = ctx->s;
  const double m = (double) (n * s);

  for (gint64 c = begin; c < end; c++)
    {
      const float mean = ctx->mean[c], invstd = ctx->invstd[c];
      double sum_g = 0.0, sum_gx = 0.0;
      for (gint64 bi = 0; bi < n; bi++)
        {
          const float *xp = b->x + (bi * c_all + c) * s;
          const float *gp = b->g + (bi * c_all + c) * s;
          for (gint64 i = 0; i < s; i++)
            {
              sum_g += gp[i];
              sum_gx += (double) gp[i] * (double) ((xp[i] - mean) * invstd);
            }
        }
      if (b->gw != NULL)
        b->gw[c] = (float) sum_gx;
      if (b->gb != NULL)
        b->gb[c] = (float) sum_g;
      if (b->sums != NULL)
        {
          /* SyncBN's first pass: grad_input waits for the sums of every process. */
          b->sums[c] = (float) sum_g;
          b->sums[c_all + c] = (float) sum_gx;
          continue;
        }
      if (b->gx == NULL)
        continue;

      const double w = b->weight != NULL ? *vec_at (b->weight, c) : 1.0;
      const float scale = (float) (w * invstd);
      if (ctx->training)
        {
          const float mean_g = (float) (sum_g / m);
          const float mean_gx = (float) (sum_gx / m);
          for (gint64 bi = 0; bi < n; bi++)
            {
              const float *xp = b->x + (bi * c_all + c) * s;
              const float *gp = b->g + (bi * c_all + c) * s;
              float *op = b->gx + (bi * c_all + c) * s;
              for (gint64 i = 0; i < s; i++)
                {
                  float xhat = (xp[i] - mean) * invstd;
                  op[i] = scale * (gp[i] - mean_g - xhat * mean_gx);
                }
            }
        }
      else
        {
          for (gint64 bi = 0; bi < n; bi++)
            {
              const float *gp = b->g + (bi * c_all + c) * s;
              float *op = b->gx + (bi * c_all + c) * s;
              for (gint64 i = 0; i < s; i++)
                op[i] = scale * gp[i];
            }
        }
    }
}

/* SyncBN's grad_input, once sum_g and sum_gx are the sums over every process. */
static void
batch_norm_sync_grad_range (gint64 begin, gint64 end, gpointer data)
{
  BatchNormBackward *b = data;
  const BatchNormCtx *ctx = b->ctx;
  const gint64 n = ctx->n, c_all = ctx->c, s = ctx->s;

  for (gint64 c = begin; c < end; c++)
    {
      const float mean = ctx->mean[c], invstd = ctx->invstd[c];
      const double w = b->weight != NULL ? *vec_at (b->weight, c) : 1.0;
      const float scale = (float) (w * invstd);
      const float mean_g = (float) (b->sums[c] / ctx->count);
      const float mean_gx = (float) (b->sums[c_all + c] / ctx->count);
      for (gint64 bi = 0; bi < n; bi++)
        {
          const float *xp = b->x + (bi * c_all + c) * s;
          const float *gp = b->g + (bi * c_all + c) * s;
          float *op = b->gx + (bi * c_all + c) * s;
          for (gint64 i = 0; i < s; i++)
            {
              float xhat = (xp[i] - mean) * invstd;
              op[i] = scale * (gp[i] - mean_g - xhat * mean_gx);
            }
        }
    }
}

static gboolean
batch_norm_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                     GError **error)
{
  BatchNormCtx *ctx = node->ctx;
  BatchNormBackward b = {
    .ctx = ctx,
    .x = mact_tensor_data (mact_node_saved (node, 0)),
    .g = mact_tensor_data (grad_output),
    .weight = ctx->saved_weight >= 0 ? mact_node_saved (node, ctx->saved_weight) : NULL,
  };
  g_autoptr(MactTensor) gx = NULL, gw = NULL, gb = NULL;

  if (node->needs_grad[0])
    {
      gx = mact_tensor_new_with_shape (node->edges[0].ndim, node->edges[0].shape, FALSE,
                                       error);
      if (gx == NULL)
        return FALSE;
      b.gx = mact_tensor_data (gx);
    }
  if (ctx->edge_weight >= 0 && node->needs_grad[ctx->edge_weight])
    {
      gw = mact_tensor_new_with_shape (1, &ctx->c, FALSE, error);
      if (gw == NULL)
        return FALSE;
      b.gw = mact_tensor_data (gw);
    }
  if (ctx->edge_bias >= 0 && node->needs_grad[ctx->edge_bias])
    {
      gb = mact_tensor_new_with_shape (1, &ctx->c, FALSE, error);
      if (gb == NULL)
        return FALSE;
      b.gb = mact_tensor_data (gb);
    }

  if (ctx->reduce != NULL && ctx->training && b.gx != NULL)
    {
      /* As torch's SyncBatchNorm: weight and bias get this process's sums (the gradient
       * averaging of data-parallel training reduces them), grad_input the global ones. */
      g_autofree float *sums = g_new (float, 2 * ctx->c);
      float *gx_data = b.gx;
      b.gx = NULL;
      b.sums = sums;
      mact_parallel_for (ctx->c, grain_for (ctx->n * ctx->s), batch_norm_backward_range,
                         &b);
      if (!ctx->reduce (sums, 2 * (gsize) ctx->c, ctx->reduce_data, error))
        {
          g_prefix_error (error, "sync_batch_norm backward: ");
          return FALSE;
        }
      b.gx = gx_data;
      mact_parallel_for (ctx->c, grain_for (ctx->n * ctx->s), batch_norm_sync_grad_range,
                         &b);
    }
  else
    mact_parallel_for (ctx->c, grain_for (ctx->n * ctx->s), batch_norm_backward_range, &b);

  if (gx != NULL)
    grad_inputs[0] = g_steal_pointer (&gx);
  if (gw != NULL)
    grad_inputs[ctx->edge_weight] = g_steal_pointer (&gw);
  if (gb != NULL)
    grad_inputs[ctx->edge_bias] = g_steal_pointer (&gb);
  return TRUE;
}

typedef struct {
  gint64        n, c, s;
  const float  *x;
  const double *mean;   /* nullable: the first pass sums x, the second (x - mean)^2 */
  float        *out;    /* [c] */
} BatchNormSums;

static void
batch_norm_sums_range (gint64 begin, gint64 end, gpointer data)
{
  BatchNormSums *p = data;
  const gint64 n = p->n, c_all = p->c, s = p->s;

  for (gint64 c = begin; c < end; c++)
    {
      double acc = 0.0;
      for (gint64 b = 0; b < n; b++)
        {
          const float *xp = p->x + (b * c_all + c) * s;
          if (p->mean == NULL)
            for (gint64 i = 0; i < s; i++)
              acc += xp[i];
          else
            for (gint64 i = 0; i < s; i++)
              {
                double d = (double) xp[i] - p->mean[c];
                acc += d * d;
              }
        }
      p->out[c] = (float) acc;
    }
}

/* SyncBN's statistics: the mean, then the squared deviations from it, each summed over
 * every process by @reduce (two passes as plain batch norm, so one process computes what
 * it computes up to the rounding of the sums to float).  Fills @mean and @invstd ([c]),
 * the values per channel over all processes in @count, and updates the running
 * statistics with the unbiased variance of the global count, as torch's SyncBatchNorm. */
static gboolean
sync_batch_stats (const char *op, MactTensor *xc, gint64 n, gint64 c, gint64 s,
                  MactTensor *running_mean, MactTensor *running_var, double momentum,
                  double eps, MactAllReduceSumFunc reduce, gpointer reduce_data,
                  float *mean, float *invstd, double *count, GError **error)
{
  g_autofree float *buf = g_new (float, c + 1);
  g_autofree double *gmean = g_new (double, c);
  BatchNormSums p = { .n = n, .c = c, .s = s, .x = mact_tensor_data (xc), .out = buf };

  mact_parallel_for (c, grain_for (n * s), batch_norm_sums_range, &p);
  buf[c] = (float) (n * s);
  if (!reduce (buf, (gsize) c + 1, reduce_data, error))
    {
      g_prefix_error (error, "%s: ", op);
      return FALSE;
    }
  const double m = buf[c];
  if (!(m > 1.0))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: expected more than 1 value per channel over all processes when "
                   "training, got %g", op, m);
      return FALSE;
    }
  for (gint64 i = 0; i < c; i++)
    gmean[i] = buf[i] / m;

  p.mean = gmean;
  mact_parallel_for (c, grain_for (n * s), batch_norm_sums_range, &p);
  if (!reduce (buf, (gsize) c, reduce_data, error))
    {
      g_prefix_error (error, "%s: ", op);
      return FALSE;
    }
  for (gint64 i = 0; i < c; i++)
    {
      const double sq = MAX (0.0, (double) buf[i]);
      mean[i] = (float) gmean[i];
      invstd[i] = (float) (1.0 / sqrt (sq / m + eps));
      if (running_mean != NULL)
        {
          float *rm = vec_at (running_mean, i);
          float *rv = vec_at (running_var, i);
          *rm = (float) ((1.0 - momentum) * (double) *rm + momentum * gmean[i]);
          *rv = (float) ((1.0 - momentum) * (double) *rv + momentum * (sq / (m - 1.0)));
        }
    }
  *count = m;
  return TRUE;
}

static MactTensor *
batch_norm_impl (const char *op, MactTensor *input, MactTensor *running_mean,
                 MactTensor *running_var, MactTensor *weight, MactTensor *bias,
                 gboolean training, double momentum, double eps,
                 MactAllReduceSumFunc reduce, gpointer reduce_data, GError **error)
{

  if (input->ndim < 2 || input->ndim > 5)
    {
      g_autofree gchar *s = mact_shape_format (input->ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected a 2-D to 5-D input [N, C, ...], got shape %s", op, s);
      return NULL;
    }
  if (!mact_check_not_empty (input, op, "input", error))
    return NULL;

  const gint64 n = input->shape[0], c = input->shape[1];
  gint64 s = 1;
  for (gint d = 2; d < input->ndim; d++)
    s *= input->shape[d];

  if (!check_channel_vector (running_mean, c, op, "running_mean", error) ||
      !check_channel_vector (running_var, c, op, "running_var", error) ||
      !check_channel_vector (weight, c, op, "weight", error) ||
      !check_channel_vector (bias, c, op, "bias", error))
    return NULL;
  if ((running_mean == NULL) != (running_var == NULL))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: running_mean and running_var must be both given or both NULL, "
                   "got only %s", op, running_mean != NULL ? "running_mean" : "running_var");
      return NULL;
    }
  if (!training && running_mean == NULL)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: evaluation mode needs running_mean and running_var, got NULL", op);
      return NULL;
    }
  if (training && reduce == NULL && n * s <= 1)
    {
      g_autofree gchar *shp = mact_shape_format (input->ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: expected more than 1 value per channel when training, got input "
                   "shape %s", op, shp);
      return NULL;
    }
  if (!(momentum >= 0.0 && momentum <= 1.0))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: momentum must be in [0, 1], got %g", op, momentum);
      return NULL;
    }
  if (!(eps >= 0.0 && isfinite (eps)))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: eps must be finite and >= 0, got %g", op, eps);
      return NULL;
    }

  g_autoptr(MactTensor) xc = mact_tensor_contiguous (input);
  const gboolean sync = training && reduce != NULL;
  g_autofree float *stat_mean = g_new (float, c);
  g_autofree float *stat_invstd = g_new (float, c);
  double count = (double) (n * s);
  if (sync && !sync_batch_stats (op, xc, n, c, s, running_mean, running_var, momentum, eps,
                                 reduce, reduce_data, stat_mean, stat_invstd, &count, error))
    return NULL;

  MactTensor *out = mact_tensor_new_with_shape (input->ndim, input->shape, FALSE, error);
  if (out == NULL)
    return NULL;

  BatchNormCtx *ctx = g_new0 (BatchNormCtx, 1);
  ctx->n = n;
  ctx->c = c;
  ctx->s = s;
  ctx->training = training;
  ctx->mean = g_steal_pointer (&stat_mean);
  ctx->invstd = g_steal_pointer (&stat_invstd);
  ctx->edge_weight = ctx->edge_bias = ctx->saved_weight = -1;
  ctx->reduce = sync ? reduce : NULL;
  ctx->reduce_data = sync ? reduce_data : NULL;
  ctx->count = count;

  BatchNormForward f = {
    .n = n, .c = c, .s = s,
    .training = training, .momentum = momentum, .eps = eps,
    .x = mact_tensor_data (xc), .y = mact_tensor_data (out),
    .running_mean = running_mean, .running_var = running_var,
    .weight = weight, .bias = bias,
    .mean = ctx->mean, .invstd = ctx->invstd,
    .have_stats = sync,
  };
  mact_parallel_for (c, grain_for (n * s), batch_norm_forward_range, &f);

  MactTensor *inputs[3] = { input, NULL, NULL };
  guint n_inputs = 1;
  if (weight != NULL)
    {
      ctx->edge_weight = (gint) n_inputs;
      inputs[n_inputs++] = weight;
    }
  if (bias != NULL)
    {
      ctx->edge_bias = (gint) n_inputs;
      inputs[n_inputs++] = bias;
    }

  if (!mact_autograd_wants (inputs, n_inputs))
    {
      batch_norm_ctx_free (ctx);
      return out;
    }

  MactNode *node = mact_node_new ("BatchNormBackward", batch_norm_backward, inputs,
                                  n_inputs);
  mact_node_save (node, xc);
  if (weight != NULL)
    ctx->saved_weight = (gint) mact_node_save (node, weight);
  mact_node_set_ctx (node, ctx, batch_norm_ctx_free);
  mact_tensor_set_grad_fn (out, node);
  return out;
}

/**
 * mact_batch_norm:
 * @input: the input, of shape `[N, C]`, `[N, C, L]`, `[N, C, H, W]` or `[N, C, T, H, W]`
 * @running_mean: (nullable): the running mean, of shape `[C]`; updated in place when
 *   @training is %TRUE
 * @running_var: (nullable): the running variance, of shape `[C]`; updated in place when
 *   @training is %TRUE
 * @weight: (nullable): the per-channel scale (gamma), of shape `[C]`, or %NULL for 1
 * @bias: (nullable): the per-channel shift (beta), of shape `[C]`, or %NULL for 0
 * @training: whether to normalise with the statistics of the batch (and update the
 *   running statistics) rather than with the running statistics
 * @momentum: the weight of the batch statistics in the running-statistics update,
 *   in [0, 1] (PyTorch's default is 0.1)
 * @eps: added to the variance for numerical stability; must be >= 0 (PyTorch's
 *   default is 1e-5)
 * @error: return location for a #GError, or %NULL
 *
 * Batch normalisation over the channel dimension 1, as PyTorch's `F.batch_norm`:
 * `y = (x - mean) / sqrt(var + eps) * weight + bias`.
 *
 * In training mode, mean and var are the statistics of @input over every dimension
 * but 1 (the variance is biased), and, when @running_mean and @running_var are given,
 * they are updated in place as `running = (1 - momentum) * running + momentum * stat`,
 * with the unbiased variance for @running_var.  Training needs more than one value per
 * channel.  In evaluation mode, @running_mean and @running_var are required and used as
 * the statistics.
 *
 * @running_mean and @running_var must be both given or both %NULL.  Gradients flow to
 * @input, @weight and @bias; the running statistics are buffers and receive none.
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @input is not 2-D to 5-D or is empty, or a
 * per-channel tensor does not have shape `[C]`; %MACT_TENSOR_ERROR_INVALID_ARGUMENT when
 * only one of the running statistics is given, they are missing in evaluation mode,
 * there is only one value per channel in training mode, or @momentum or @eps is out of
 * range.
 *
 * Returns: (transfer full) (nullable): the normalised tensor, of @input's shape, or
 *   %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_batch_norm (MactTensor *input, MactTensor *running_mean, MactTensor *running_var,
                 MactTensor *weight, MactTensor *bias, gboolean training, double momentum,
                 double eps, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return batch_norm_impl ("batch_norm", input, running_mean, running_var, weight, bias,
                          training, momentum, eps, NULL, NULL, error);
}

/**
 * mact_sync_batch_norm: (skip)
 * @input: the input, of shape `[N, C]`, `[N, C, L]`, `[N, C, H, W]` or `[N, C, T, H, W]`
 * @running_mean: (nullable): the running mean, of shape `[C]`
 * @running_var: (nullable): the running variance, of shape `[C]`
 * @weight: (nullable): the per-channel scale, of shape `[C]`, or %NULL for 1
 * @bias: (nullable): the per-channel shift, of shape `[C]`, or %NULL for 0
 * @training: whether to normalise with the statistics of the batch
 * @momentum: the running-statistics momentum, in [0, 1]
 * @eps: added to the variance, >= 0
 * @reduce: (nullable) (scope call): sums float arrays across processes, or %NULL
 * @user_data: (closure reduce): data for @reduce
 * @error: return location for a #GError
 *
 * Like mact_batch_norm(), with the batch the union of every process's (PyTorch's
 * `SyncBatchNorm`).  In training mode each process sums its values and squared
 * deviations per channel, @reduce sums those across processes, and the global mean and
 * biased variance normalise; the running statistics get the unbiased variance of the
 * global count.  Backward sums the two per-channel reductions (of the gradient and of
 * the gradient times the normalised input) across processes before computing the input
 * gradient; the weight and bias gradients stay this process's own, as in PyTorch, for
 * data-parallel training to average.  Every process must run forward and backward of
 * its sync batch norms in the same order.  @reduce and @user_data must stay valid until
 * the backward pass has run.
 *
 * In evaluation mode, or when @reduce is %NULL, this is mact_batch_norm().  Not
 * introspectable: @reduce sums a float buffer in place and outlives the call.
 *
 * Errors: those of mact_batch_norm(); %MACT_TENSOR_ERROR_INVALID_ARGUMENT when there is
 * only one value per channel over all processes; whatever @reduce reports, prefixed.
 *
 * Returns: (transfer full) (nullable): the normalised tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_sync_batch_norm (MactTensor *input, MactTensor *running_mean, MactTensor *running_var,
                      MactTensor *weight, MactTensor *bias, gboolean training,
                      double momentum, double eps, MactAllReduceSumFunc reduce,
                      gpointer user_data, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return batch_norm_impl ("sync_batch_norm", input, running_mean, running_var, weight,
                          bias, training, momentum, eps, reduce, user_data, error);
}

/* ------------------------------------------------------------------------------------ */
/* softmax and log-softmax                                                              */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  gint64   outer, size, inner;
  gboolean log;
} SoftmaxCtx;

typedef struct {
  const SoftmaxCtx *ctx;
  const float      *x;   /* forward: input; backward: saved output */
  const float      *g;   /* backward only */
  float            *y;   /* forward: output; backward: grad input */
} SoftmaxJob;

static void
softmax_forward_range (gint64 begin, gint64 end, gpointer data)
{
  SoftmaxJob *j = data;
  const gint64 size = j->ctx->size, inner = j->ctx->inner;

  for (gint64 r = begin; r < end; r++)
    {
      const gint64 base = (r / inner) * size * inner + r % inner;
      const float *xp = j->x + base;
      float *yp = j->y + base;
      float max = -INFINITY;
      for (gint64 k = 0; k < size; k++)
        max = MAX (max, xp[k * inner]);
      double sum = 0.0;
      if (j->ctx->log)
        {
          for (gint64 k = 0; k < size; k++)
            sum += expf (xp[k * inner] - max);
          const float lse = (float) log (sum);
          for (gint64 k = 0; k < size; k++)
            yp[k * inner] = (xp[k * inner] - max) - lse;
        }
      else
        {
          for (gint64 k = 0; k < size; k++)
            {
              float e = expf (xp[k * inner] - max);
              yp[k * inner] = e;
              sum += e;
            }
          const float inv = (float) (1.0 / sum);
          for (gint64 k = 0; k < size; k++)
            yp[k * inner] *= inv;
        }
    }
}

static void
softmax_backward_range (gint64 begin, gint64 end, gpointer data)
{
  SoftmaxJob *j = data;
  const gint64 size = j->ctx->size, inner = j->ctx->inner;

  for (gint64 r = begin; r < end; r++)
    {
      const gint64 base = (r / inner) * size * inner + r % inner;
      const float *yp = j->x + base;
      const float *gp = j->g + base;
      float *op = j->y + base;
      double acc = 0.0;
      if (j->ctx->log)
        {
          for (gint64 k = 0; k < size; k++)
            acc += gp[k * inner];
          const float sum_g = (float) acc;
          for (gint64 k = 0; k < size; k++)
            op[k * inner] = gp[k * inner] - expf (yp[k * inner]) * sum_g;
        }
      else
        {
          for (gint64 k = 0; k < size; k++)
            acc += (double) gp[k * inner] * (double) yp[k * inner];
          const float dot = (float) acc;
          for (gint64 k = 0; k < size; k++)
            op[k * inner] = yp[k * inner] * (gp[k * inner] - dot);
        }
    }
}

static gboolean
softmax_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                  GError **error)
{
  SoftmaxCtx *ctx = node->ctx;
  g_autoptr(MactTensor) gx = mact_tensor_new_with_shape (node->edges[0].ndim,
                                                         node->edges[0].shape, FALSE, error);
  if (gx == NULL)
    return FALSE;
  SoftmaxJob j = {
    .ctx = ctx,
    .x = mact_tensor_data (mact_node_saved (node, 0)),
    .g = mact_tensor_data (grad_output),
    .y = mact_tensor_data (gx),
  };
  mact_parallel_for (ctx->outer * ctx->inner, grain_for (ctx->size),
                     softmax_backward_range, &j);
  grad_inputs[0] = g_steal_pointer (&gx);
  return TRUE;
}

static MactTensor *
softmax_common (MactTensor *input, gint dim, gboolean log, GError **error)
{
  const char *op = log ? "log_softmax" : "softmax";
  gint d = 0;

  if (input->ndim == 0)
    {
      if (dim != 0 && dim != -1)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "%s: dim %d is out of range for a 0-D input (expected 0 or -1)",
                       op, dim);
          return NULL;
        }
    }
  else
    {
      g_autoptr(GError) local = NULL;
      if (!mact_normalize_dim (dim, input->ndim, &d, &local))
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "%s: %s", op, local->message);
          return NULL;
        }
      if (!mact_check_not_empty (input, op, "input", error))
        return NULL;
    }

  SoftmaxCtx *ctx = g_new0 (SoftmaxCtx, 1);
  ctx->outer = ctx->size = ctx->inner = 1;
  ctx->log = log;
  for (gint i = 0; i < input->ndim; i++)
    {
      if (i < d)
        ctx->outer *= input->shape[i];
      else if (i == d)
        ctx->size = input->shape[i];
      else
        ctx->inner *= input->shape[i];
    }

  g_autoptr(MactTensor) xc = mact_tensor_contiguous (input);
  MactTensor *out = mact_tensor_new_with_shape (input->ndim, input->shape, FALSE, error);
  if (out == NULL)
    {
      g_free (ctx);
      return NULL;
    }
  SoftmaxJob j = { .ctx = ctx, .x = mact_tensor_data (xc), .y = mact_tensor_data (out) };
  mact_parallel_for (ctx->outer * ctx->inner, grain_for (ctx->size),
                     softmax_forward_range, &j);

  MactTensor *inputs[1] = { input };
  if (!mact_autograd_wants (inputs, 1))
    {
      g_free (ctx);
      return out;
    }
  MactNode *node = mact_node_new (log ? "LogSoftmaxBackward" : "SoftmaxBackward",
                                  softmax_backward, inputs, 1);
  /* Keep the output's values through a detached view: saving @out itself would make a
   * reference cycle out -> node -> out. */
  g_autoptr(MactTensor) saved = mact_tensor_new_view_of (out->storage, out->offset,
                                                         out->ndim, out->shape,
                                                         out->strides);
  mact_node_save (node, saved);
  mact_node_set_ctx (node, ctx, g_free);
  mact_tensor_set_grad_fn (out, node);
  return out;
}

/**
 * mact_softmax:
 * @input: the input tensor
 * @dim: the dimension to normalise over; negative values count from the end
 * @error: return location for a #GError, or %NULL
 *
 * The softmax `exp(x) / sum(exp(x))` along @dim, as PyTorch's `F.softmax`, computed
 * stably (the maximum along @dim is subtracted first).  Differentiable.
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @dim is out of range or @input is empty.
 *
 * Returns: (transfer full) (nullable): a new tensor of @input's shape, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_softmax (MactTensor *input, gint dim, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return softmax_common (input, dim, FALSE, error);
}

/**
 * mact_log_softmax:
 * @input: the input tensor
 * @dim: the dimension to normalise over; negative values count from the end
 * @error: return location for a #GError, or %NULL
 *
 * The logarithm of the softmax along @dim, `x - log(sum(exp(x)))`, as PyTorch's
 * `F.log_softmax`, computed stably with the log-sum-exp trick.  Differentiable.
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @dim is out of range or @input is empty.
 *
 * Returns: (transfer full) (nullable): a new tensor of @input's shape, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_log_softmax (MactTensor *input, gint dim, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return softmax_common (input, dim, TRUE, error);
}

/* ------------------------------------------------------------------------------------ */
/* dropout                                                                              */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  guint64      key;
  double       p;
  float        scale;
  const float *x;
  float       *y;
  float       *mask;
} DropoutJob;

/* A counter-based generator: the finaliser of splitmix64 applied to key + i * golden
 * ratio.  Element i's draw depends only on the key and i, so the mask is the same
 * whatever the number of threads. */
static inline double
dropout_uniform (guint64 key, guint64 i)
{
  guint64 z = key + (i + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  z ^= z >> 31;
  return (double) (z >> 11) * 0x1.0p-53;
}

static void
dropout_range (gint64 begin, gint64 end, gpointer data)
{
  DropoutJob *j = data;
  for (gint64 i = begin; i < end; i++)
    {
      float m = dropout_uniform (j->key, (guint64) i) >= j->p ? j->scale : 0.0f;
      j->mask[i] = m;
      j->y[i] = j->x[i] * m;
    }
}

static void
dropout_backward_range (gint64 begin, gint64 end, gpointer data)
{
  DropoutJob *j = data;
  for (gint64 i = begin; i < end; i++)
    j->y[i] = j->x[i] * j->mask[i];
}

static gboolean
dropout_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                  GError **error)
{
  MactTensor *mask = mact_node_saved (node, 0);
  g_autoptr(MactTensor) gx = mact_tensor_new_with_shape (node->edges[0].ndim,
                                                         node->edges[0].shape, FALSE, error);
  if (gx == NULL)
    return FALSE;
  DropoutJob j = {
    .x = mact_tensor_data (grad_output),
    .y = mact_tensor_data (gx),
    .mask = mact_tensor_data (mask),
  };
  mact_parallel_for (mact_tensor_get_numel (gx), NN_GRAIN_ELEMENTS, dropout_backward_range,
                     &j);
  grad_inputs[0] = g_steal_pointer (&gx);
  return TRUE;
}

/**
 * mact_dropout:
 * @input: the input tensor
 * @p: the probability of zeroing an element, in [0, 1]
 * @training: whether dropout is active; when %FALSE, @input is returned unchanged
 * @generator: (nullable): the generator to draw the mask from, or %NULL for the default
 *   generator (see mact_generator_get_default())
 * @error: return location for a #GError, or %NULL
 *
 * Dropout, as PyTorch's `F.dropout`: in training mode, every element is zeroed with
 * probability @p and the others are scaled by `1 / (1 - p)`, so the expectation is
 * unchanged; with @p equal to 1 the result is all zeros.  The mask is a function of one
 * 64-bit draw from @generator only, so the same seed gives the same mask whatever the
 * number of threads, and each call advances the generator.  The gradient is the upstream
 * gradient times the same mask.
 *
 * When @training is %FALSE or @p is 0, no randomness is drawn and a new reference to
 * @input itself is returned (as PyTorch returns its input).
 *
 * Errors: %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @p is outside [0, 1] or NaN.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_dropout (MactTensor *input, double p, gboolean training, MactGenerator *generator,
              GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!(p >= 0.0 && p <= 1.0))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "dropout: probability p must be in [0, 1], got %g", p);
      return NULL;
    }
  if (!training || p == 0.0)
    return mact_tensor_ref (input);

  g_autoptr(MactTensor) xc = mact_tensor_contiguous (input);
  g_autoptr(MactTensor) mask = mact_tensor_new_with_shape (input->ndim, input->shape,
                                                           FALSE, error);
  if (mask == NULL)
    return NULL;
  MactTensor *out = mact_tensor_new_with_shape (input->ndim, input->shape, FALSE, error);
  if (out == NULL)
    return NULL;

  MactGenerator *gen = generator != NULL ? generator : mact_generator_get_default ();
  DropoutJob j = {
    .key = mact_generator_next_uint64 (gen),
    .p = p,
    .scale = p < 1.0 ? (float) (1.0 / (1.0 - p)) : 0.0f,
    .x = mact_tensor_data (xc),
    .y = mact_tensor_data (out),
    .mask = mact_tensor_data (mask),
  };
  mact_parallel_for (mact_tensor_get_numel (out), NN_GRAIN_ELEMENTS, dropout_range, &j);

  MactTensor *inputs[1] = { input };
  if (mact_autograd_wants (inputs, 1))
    {
      MactNode *node = mact_node_new ("DropoutBackward", dropout_backward, inputs, 1);
      mact_node_save (node, mask);
      mact_tensor_set_grad_fn (out, node);
    }
  return out;
}

/* ------------------------------------------------------------------------------------ */
/* one-hot                                                                              */
/* ------------------------------------------------------------------------------------ */

/**
 * mact_one_hot:
 * @labels: class indices, as float32 values holding integers in [0, @num_classes),
 *   of any shape with fewer than %MACT_MAX_DIMS dimensions
 * @num_classes: the number of classes, > 0
 * @error: return location for a #GError, or %NULL
 *
 * One-hot encoding, as PyTorch's `F.one_hot`: the result has shape
 * `labels.shape + [num_classes]`, with 1 at each label's index and 0 elsewhere.  The
 * result is float32 and records no gradient.
 *
 * Errors: %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @num_classes <= 0 or a label is not
 * an integer in [0, @num_classes); %MACT_TENSOR_ERROR_SHAPE when @labels already has
 * %MACT_MAX_DIMS dimensions or is empty.
 *
 * Returns: (transfer full) (nullable): the one-hot tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_one_hot (MactTensor *labels, gint64 num_classes, GError **error)
{
  static const char *op = "one_hot";

  g_return_val_if_fail (labels != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (num_classes <= 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: num_classes must be > 0, got %" G_GINT64_FORMAT, op, num_classes);
      return NULL;
    }
  if (labels->ndim >= MACT_MAX_DIMS)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: labels must have fewer than %d dimensions, got %d", op,
                   MACT_MAX_DIMS, labels->ndim);
      return NULL;
    }
  if (!mact_check_not_empty (labels, op, "labels", error))
    return NULL;

  g_autoptr(MactTensor) lc = mact_tensor_contiguous (labels);
  const float *l = mact_tensor_data (lc);
  const gint64 n = mact_tensor_get_numel (lc);
  for (gint64 i = 0; i < n; i++)
    {
      float v = l[i];
      if (!(v >= 0.0f && v < (float) num_classes) || v != floorf (v))
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "%s: label %g at flat index %" G_GINT64_FORMAT " is not an integer "
                       "in [0, %" G_GINT64_FORMAT ")", op, (double) v, i, num_classes);
          return NULL;
        }
    }

  gint64 shape[MACT_MAX_DIMS];
  memcpy (shape, labels->shape, sizeof (gint64) * labels->ndim);
  shape[labels->ndim] = num_classes;
  MactTensor *out = mact_tensor_new_with_shape (labels->ndim + 1, shape, TRUE, error);
  if (out == NULL)
    return NULL;
  float *o = mact_tensor_data (out);
  for (gint64 i = 0; i < n; i++)
    o[i * num_classes + (gint64) l[i]] = 1.0f;
  return out;
}
