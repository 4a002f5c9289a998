/* mact-clip-grad.c: gradient clipping by global norm (torch.nn.utils.clip_grad_norm_),
 * which mmcv's OptimizerHook applies with `grad_clip=dict(max_norm=40, norm_type=2)`.
 *
 * Norms are accumulated in double over all gradients taken as one vector (PyTorch takes
 * the norm of the per-tensor norms, which is the same number); the scale factor is
 * applied in float. */
#include "mact-tensor-private.h"

#include <math.h>

typedef struct {
  MactTensor *param;
  MactTensor *grad;    /* contiguous: the gradient itself or a copy of it (owned ref) */
} GradRef;

static void
grad_ref_clear (GradRef *ref)
{
  g_clear_pointer (&ref->grad, mact_tensor_unref);
}

/* max |x| over all gradients; NaN if any element is NaN. */
static double
max_abs (GArray *grads)
{
  double m = 0.0;
  for (guint i = 0; i < grads->len; i++)
    {
      MactTensor *g = g_array_index (grads, GradRef, i).grad;
      const float *x = mact_tensor_get_data (g);
      const gint64 n = mact_tensor_get_numel (g);
      for (gint64 j = 0; j < n; j++)
        {
          const double a = fabs ((double) x[j]);
          if (isnan (a))
            return NAN;
          if (a > m)
            m = a;
        }
    }
  return m;
}

/* sum of |x| (p = 1) or x^2 (p = 2) over @n floats, in double.  Four interleaved partial
 * sums break the dependency chain of one running sum; the grouping is fixed, so the
 * result is the same on every run. */
#define SUM_POWER_LOOP(TERM)                                                              \
  for (gint64 j = 0; j < n4; j += 4)                                                      \
    for (guint l = 0; l < 4; l++)                                                         \
      {                                                                                   \
        const double v = x[j + l];                                                        \
        acc[l] += (TERM);                                                                 \
      }                                                                                   \
  for (gint64 j = n4; j < n; j++)                                                         \
    {                                                                                     \
      const double v = x[j];                                                              \
      acc[0] += (TERM);                                                                   \
    }

static double
sum_power (const float *x, gint64 n, gboolean squares)
{
  double acc[4] = { 0.0, 0.0, 0.0, 0.0 };
  const gint64 n4 = n / 4 * 4;
  if (squares)
    {
      SUM_POWER_LOOP (v * v)
    }
  else
    {
      SUM_POWER_LOOP (fabs (v))
    }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static double
total_norm_of (GArray *grads, double norm_type)
{
  if (isinf (norm_type))
    return max_abs (grads);

  if (norm_type == 1.0 || norm_type == 2.0)
    {
      double sum = 0.0;
      for (guint i = 0; i < grads->len; i++)
        {
          MactTensor *g = g_array_index (grads, GradRef, i).grad;
          sum += sum_power (mact_tensor_get_data (g), mact_tensor_get_numel (g),
                            norm_type == 2.0);
        }
      return norm_type == 1.0 ? sum : sqrt (sum);
    }

  /* General p: scale by the largest magnitude so that |x|^p cannot overflow. */
  const double scale = max_abs (grads);
  if (scale == 0.0 || !isfinite (scale))
    return scale;
  double sum = 0.0;
  for (guint i = 0; i < grads->len; i++)
    {
      MactTensor *g = g_array_index (grads, GradRef, i).grad;
      const float *x = mact_tensor_get_data (g);
      const gint64 n = mact_tensor_get_numel (g);
      for (gint64 j = 0; j < n; j++)
        sum += pow (fabs ((double) x[j]) / scale, norm_type);
    }
  return scale * pow (sum, 1.0 / norm_type);
}

/**
 * mact_clip_grad_norm:
 * @params: (element-type MactTensor): the parameters whose gradients are clipped;
 *   parameters without a gradient are ignored
 * @max_norm: the largest total norm allowed, >= 0 (may be infinite: never clip)
 * @norm_type: the p of the p-norm, >= 1, or INFINITY for the largest magnitude
 * @total_norm: (out) (optional): the total norm before clipping
 * @error: return location for a #GError, or %NULL
 *
 * PyTorch's `torch.nn.utils.clip_grad_norm_`: the norm of all gradients of @params
 * together, taken as one vector; when max_norm / (norm + 1e-6) is below 1, every gradient
 * is multiplied by it in place (a non-contiguous gradient is replaced by a scaled
 * contiguous copy).  Without any gradient the norm is 0.
 *
 * A NaN or infinite total norm is %MACT_TRAIN_ERROR_NON_FINITE and leaves the gradients
 * untouched (@total_norm still receives it); a negative or NaN @max_norm, or a @norm_type
 * below 1 or NaN, is %MACT_TRAIN_ERROR_INVALID_CONFIG.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_clip_grad_norm (GPtrArray  *params,
                     double      max_norm,
                     double      norm_type,
                     double     *total_norm,
                     GError    **error)
{
  g_return_val_if_fail (params != NULL, FALSE);
  if (total_norm != NULL)
    *total_norm = 0.0;

  if (isnan (max_norm) || max_norm < 0.0)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG,
                   "grad_clip: 'max_norm' must be >= 0, got %g", max_norm);
      return FALSE;
    }
  if (isnan (norm_type) || norm_type < 1.0)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG,
                   "grad_clip: 'norm_type' must be >= 1 or inf, got %g", norm_type);
      return FALSE;
    }

  g_autoptr(GArray) grads = g_array_new (FALSE, TRUE, sizeof (GradRef));
  g_array_set_clear_func (grads, (GDestroyNotify) grad_ref_clear);
  for (guint i = 0; i < params->len; i++)
    {
      MactTensor *param = g_ptr_array_index (params, i);
      g_return_val_if_fail (param != NULL, FALSE);
      MactTensor *grad = mact_tensor_get_grad (param);
      if (grad == NULL)
        continue;
      GradRef ref = { param, mact_tensor_contiguous (grad) };
      g_array_append_val (grads, ref);
    }
  if (grads->len == 0)
    return TRUE;

  const double norm = total_norm_of (grads, norm_type);
  if (total_norm != NULL)
    *total_norm = norm;
  if (!isfinite (norm))
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_NON_FINITE,
                   "grad_clip: the total %g-norm of %u gradients is %g", norm_type,
                   grads->len, norm);
      return FALSE;
    }

  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0)
    return TRUE;
  const float c = (float) coef;
  for (guint i = 0; i < grads->len; i++)
    {
      GradRef *ref = &g_array_index (grads, GradRef, i);
      float *x = mact_tensor_get_data (ref->grad);
      const gint64 n = mact_tensor_get_numel (ref->grad);
      for (gint64 j = 0; j < n; j++)
        x[j] *= c;
      /* the copy of a non-contiguous gradient becomes the gradient */
      if (ref->grad != mact_tensor_get_grad (ref->param))
        mact_tensor_set_grad (ref->param, ref->grad);
    }
  return TRUE;
}
