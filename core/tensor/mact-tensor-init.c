/* mact-tensor-init.c: random fills and the initialisers of torch.nn.init, with PyTorch's
 * definitions of fans and gains. */
#include "mact-tensor-private.h"

#include <math.h>

typedef double (*DrawFunc) (MactGenerator *gen, gpointer data);

/* Fills @self (any strides) with draws, in row-major order, so the result for a given
 * seed does not depend on the layout. */
static void
fill_with (MactTensor *self, MactGenerator *gen, DrawFunc draw, gpointer data)
{
  if (gen == NULL)
    gen = mact_generator_get_default ();
  gint64 n = mact_tensor_get_numel (self);
  gboolean contiguous = mact_tensor_is_contiguous (self);
  g_autoptr(MactTensor) tmp = contiguous ? NULL
    : mact_tensor_new_with_shape (self->ndim, self->shape, FALSE, NULL);
  float *d = mact_tensor_data (contiguous ? self : tmp);
  mact_generator_lock (gen);
  for (gint64 i = 0; i < n; i++)
    d[i] = (float) draw (gen, data);
  mact_generator_unlock (gen);
  if (!contiguous)
    mact_tensor_copy_from (self, tmp, NULL);
}

typedef struct { double a, b; } Range;
typedef struct { double mean, std, low, high; } TruncNormal;

static double
draw_uniform (MactGenerator *gen, gpointer data)
{
  const Range *r = data;
  return r->a + (r->b - r->a) * mact_generator_next_double_unlocked (gen);
}

static double
draw_normal (MactGenerator *gen, gpointer data)
{
  const Range *r = data;   /* a = mean, b = std */
  return r->a + r->b * mact_generator_next_normal_unlocked (gen);
}

static double
draw_trunc_normal (MactGenerator *gen, gpointer data)
{
  const TruncNormal *t = data;
  /* Rejection keeps the exact truncated distribution; for windows far in a tail it would
   * take long, so after many misses fall back to a uniform draw in the window. */
  for (int tries = 0; tries < 1000; tries++)
    {
      double v = t->mean + t->std * mact_generator_next_normal_unlocked (gen);
      if (v >= t->low && v <= t->high)
        return v;
    }
  return t->low + (t->high - t->low) * mact_generator_next_double_unlocked (gen);
}

/**
 * mact_tensor_uniform_:
 * @self: a tensor, filled in place
 * @generator: (nullable): the generator; %NULL uses the default one
 * @low: lower bound
 * @high: upper bound (exclusive)
 *
 * Fills @self with values drawn uniformly from [@low, @high).
 *
 * Since: 0.1
 */
void
mact_tensor_uniform_ (MactTensor *self, MactGenerator *generator, double low, double high)
{
  g_return_if_fail (self != NULL);
  Range r = { low, high };
  fill_with (self, generator, draw_uniform, &r);
}

/**
 * mact_tensor_normal_:
 * @self: a tensor, filled in place
 * @generator: (nullable): the generator; %NULL uses the default one
 * @mean: the mean
 * @std: the standard deviation
 *
 * Fills @self with draws from N(@mean, @std²).
 *
 * Since: 0.1
 */
void
mact_tensor_normal_ (MactTensor *self, MactGenerator *generator, double mean, double std)
{
  g_return_if_fail (self != NULL);
  Range r = { mean, std };
  fill_with (self, generator, draw_normal, &r);
}

/**
 * mact_tensor_trunc_normal_:
 * @self: a tensor, filled in place
 * @generator: (nullable): the generator; %NULL uses the default one
 * @mean: the mean of the underlying normal
 * @std: its standard deviation
 * @low: the lower cut-off (absolute value, as PyTorch's `a`)
 * @high: the upper cut-off (PyTorch's `b`)
 *
 * Fills @self with draws from N(@mean, @std²) restricted to [@low, @high], as
 * `torch.nn.init.trunc_normal_`.
 *
 * Since: 0.1
 */
void
mact_tensor_trunc_normal_ (MactTensor *self, MactGenerator *generator, double mean,
                           double std, double low, double high)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (low <= high);
  TruncNormal t = { mean, std, low, high };
  fill_with (self, generator, draw_trunc_normal, &t);
}

/**
 * mact_tensor_calculate_fans:
 * @self: a weight tensor of at least 2 dimensions
 * @fan_in: (out) (optional): size(1) times the receptive field
 * @fan_out: (out) (optional): size(0) times the receptive field
 * @error: return location for a #GError
 *
 * PyTorch's `_calculate_fan_in_and_fan_out`.  Fewer than 2 dimensions is a
 * %MACT_TENSOR_ERROR_SHAPE error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_calculate_fans (MactTensor *self, gint64 *fan_in, gint64 *fan_out, GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  if (self->ndim < 2)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "fan in and fan out need a tensor of at least 2 dimensions, got %d",
                   self->ndim);
      return FALSE;
    }
  gint64 receptive = 1;
  for (gint i = 2; i < self->ndim; i++)
    receptive *= self->shape[i];
  if (fan_in)
    *fan_in = self->shape[1] * receptive;
  if (fan_out)
    *fan_out = self->shape[0] * receptive;
  return TRUE;
}

/**
 * mact_calculate_gain:
 * @nonlinearity: "linear", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu",
 *   "leaky_relu" or "selu"
 * @param: the negative slope for "leaky_relu" (PyTorch's default 0.01 when negative)
 * @gain: (out): the recommended gain
 * @error: return location for a #GError
 *
 * PyTorch's `torch.nn.init.calculate_gain`.  An unknown name is a
 * %MACT_TENSOR_ERROR_INVALID_ARGUMENT error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_calculate_gain (const char *nonlinearity, double param, double *gain, GError **error)
{
  g_return_val_if_fail (nonlinearity != NULL && gain != NULL, FALSE);
  static const char *const unit[] = { "linear", "conv1d", "conv2d", "conv3d", "sigmoid",
                                      "conv_transpose1d", "conv_transpose2d",
                                      "conv_transpose3d", NULL };
  if (g_strv_contains (unit, nonlinearity))
    *gain = 1.0;
  else if (g_str_equal (nonlinearity, "tanh"))
    *gain = 5.0 / 3.0;
  else if (g_str_equal (nonlinearity, "relu"))
    *gain = sqrt (2.0);
  else if (g_str_equal (nonlinearity, "leaky_relu"))
    {
      double slope = param < 0 ? 0.01 : param;
      *gain = sqrt (2.0 / (1.0 + slope * slope));
    }
  else if (g_str_equal (nonlinearity, "selu"))
    *gain = 3.0 / 4.0;
  else
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "unsupported nonlinearity '%s'", nonlinearity);
      return FALSE;
    }
  return TRUE;
}

static gboolean
kaiming_std (MactTensor *self, double a, MactFanMode mode, const char *nonlinearity,
             double *std, GError **error)
{
  gint64 fan_in, fan_out;
  double gain;
  if (!mact_tensor_calculate_fans (self, &fan_in, &fan_out, error) ||
      !mact_calculate_gain (nonlinearity ? nonlinearity : "leaky_relu", a, &gain, error))
    return FALSE;
  gint64 fan = mode == MACT_FAN_IN ? fan_in : fan_out;
  if (fan == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "kaiming initialisation of a tensor with zero elements");
      return FALSE;
    }
  *std = gain / sqrt ((double) fan);
  return TRUE;
}

/**
 * mact_tensor_kaiming_uniform_:
 * @self: a weight of at least 2 dimensions, filled in place
 * @generator: (nullable): the generator; %NULL uses the default one
 * @a: the negative slope of the rectifier after this layer (for "leaky_relu")
 * @mode: which fan to preserve
 * @nonlinearity: (nullable): as mact_calculate_gain(); %NULL means "leaky_relu"
 * @error: return location for a #GError
 *
 * `torch.nn.init.kaiming_uniform_`: U(-b, b) with b = gain * sqrt(3 / fan).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_kaiming_uniform_ (MactTensor *self, MactGenerator *generator, double a,
                              MactFanMode mode, const char *nonlinearity, GError **error)
{
  double std;
  g_return_val_if_fail (self != NULL, FALSE);
  if (!kaiming_std (self, a, mode, nonlinearity, &std, error))
    return FALSE;
  double bound = sqrt (3.0) * std;
  mact_tensor_uniform_ (self, generator, -bound, bound);
  return TRUE;
}

/**
 * mact_tensor_kaiming_normal_:
 * @self: a weight of at least 2 dimensions, filled in place
 * @generator: (nullable): the generator; %NULL uses the default one
 * @a: the negative slope of the rectifier after this layer (for "leaky_relu")
 * @mode: which fan to preserve
 * @nonlinearity: (nullable): as mact_calculate_gain(); %NULL means "leaky_relu"
 * @error: return location for a #GError
 *
 * `torch.nn.init.kaiming_normal_`: N(0, std²) with std = gain / sqrt(fan).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_kaiming_normal_ (MactTensor *self, MactGenerator *generator, double a,
                             MactFanMode mode, const char *nonlinearity, GError **error)
{
  double std;
  g_return_val_if_fail (self != NULL, FALSE);
  if (!kaiming_std (self, a, mode, nonlinearity, &std, error))
    return FALSE;
  mact_tensor_normal_ (self, generator, 0.0, std);
  return TRUE;
}

static gboolean
xavier_std (MactTensor *self, double gain, double *std, GError **error)
{
  gint64 fan_in, fan_out;
  if (!mact_tensor_calculate_fans (self, &fan_in, &fan_out, error))
    return FALSE;
  if (fan_in + fan_out == 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "xavier initialisation of a tensor with zero elements");
      return FALSE;
    }
  *std = gain * sqrt (2.0 / (double) (fan_in + fan_out));
  return TRUE;
}

/**
 * mact_tensor_xavier_uniform_:
 * @self: a weight of at least 2 dimensions, filled in place
 * @generator: (nullable): the generator; %NULL uses the default one
 * @gain: the scaling factor
 * @error: return location for a #GError
 *
 * `torch.nn.init.xavier_uniform_`: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_xavier_uniform_ (MactTensor *self, MactGenerator *generator, double gain,
                             GError **error)
{
  double std;
  g_return_val_if_fail (self != NULL, FALSE);
  if (!xavier_std (self, gain, &std, error))
    return FALSE;
  double bound = sqrt (3.0) * std;
  mact_tensor_uniform_ (self, generator, -bound, bound);
  return TRUE;
}

/**
 * mact_tensor_xavier_normal_:
 * @self: a weight of at least 2 dimensions, filled in place
 * @generator: (nullable): the generator; %NULL uses the default one
 * @gain: the scaling factor
 * @error: return location for a #GError
 *
 * `torch.nn.init.xavier_normal_`: N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out)).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_xavier_normal_ (MactTensor *self, MactGenerator *generator, double gain,
                            GError **error)
{
  double std;
  g_return_val_if_fail (self != NULL, FALSE);
  if (!xavier_std (self, gain, &std, error))
    return FALSE;
  mact_tensor_normal_ (self, generator, 0.0, std);
  return TRUE;
}
