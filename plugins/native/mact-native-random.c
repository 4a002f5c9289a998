/* mact-native-random.c: Beta, uniform integer and permutation draws from a #MactGenerator.
 *
 * The streams differ from PyTorch's (different generators), so results are reproducible
 * with mact's seeds, not bit-identical to mmaction2's; the distributions are the same. */
#include "mact-native-random.h"

#include <math.h>

/* A uniform draw in (0, 1]: never 0, so its logarithm is finite. */
static double
uniform_open0 (MactGenerator *generator)
{
  return 1.0 - mact_generator_next_double (generator);
}

/* log of a Gamma(shape, 1) draw.  Marsaglia and Tsang's squeeze method for shape >= 1;
 * for shape < 1 the boost Gamma(shape) = Gamma(shape + 1) * U^(1/shape), kept in log space
 * because with mixup's alpha = 0.2 the factor U^5 underflows doubles quite often. */
static double
sample_log_gamma (MactGenerator *generator, double shape)
{
  double boost = 0.0;
  if (shape < 1.0)
    {
      boost = log (uniform_open0 (generator)) / shape;
      shape += 1.0;
    }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / sqrt (9.0 * d);
  for (;;)
    {
      double x = mact_generator_next_normal (generator);
      double v = 1.0 + c * x;
      if (v <= 0.0)
        continue;
      v = v * v * v;
      double u = uniform_open0 (generator);
      double x2 = x * x;
      if (u < 1.0 - 0.0331 * x2 * x2 ||
          log (u) < 0.5 * x2 + d * (1.0 - v + log (v)))
        return log (d * v) + boost;
    }
}

/**
 * mact_native_sample_beta:
 * @generator: the generator
 * @a: first concentration, > 0
 * @b: second concentration, > 0
 *
 * A Beta(@a, @b) draw as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b), computed as
 * 1 / (1 + exp(log Y - log X)) so that tiny gamma draws do not give 0/0.
 *
 * Returns: a value in [0, 1]
 */
double
mact_native_sample_beta (MactGenerator *generator, double a, double b)
{
  double lx = sample_log_gamma (generator, a);
  double ly = sample_log_gamma (generator, b);
  return 1.0 / (1.0 + exp (ly - lx));
}

/**
 * mact_native_randint:
 * @generator: the generator
 * @n: the bound, > 0
 *
 * Returns: a uniform integer in [0, @n), without modulo bias (rejection sampling)
 */
gint64
mact_native_randint (MactGenerator *generator, gint64 n)
{
  g_return_val_if_fail (n > 0, 0);
  const guint64 range = (guint64) n;
  /* The largest multiple of range that fits: draws at or above it are redrawn. */
  const guint64 limit = G_MAXUINT64 - (G_MAXUINT64 % range);
  guint64 r;
  do
    r = mact_generator_next_uint64 (generator);
  while (r >= limit);
  return (gint64) (r % range);
}

/**
 * mact_native_randperm:
 * @generator: the generator
 * @n: the length
 * @perm: (array length=n) (out caller-allocates): receives a uniform random permutation
 *   of 0 .. @n - 1
 *
 * Fisher-Yates shuffle.
 */
void
mact_native_randperm (MactGenerator *generator, gint64 n, gint64 *perm)
{
  for (gint64 i = 0; i < n; i++)
    perm[i] = i;
  for (gint64 i = n - 1; i > 0; i--)
    {
      gint64 j = mact_native_randint (generator, i + 1);
      gint64 t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
}
