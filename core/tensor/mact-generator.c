/* mact-generator.c: xoshiro256** seeded through splitmix64, with Gaussian draws by the
 * Marsaglia polar method.  Own code; the algorithms are public domain descriptions. */
#include "mact-tensor-private.h"

#include <math.h>

struct _MactGenerator {
  gint     ref_count;
  guint64  s[4];
  gboolean has_spare;
  double   spare;
  GMutex  *lock;   /* only the default generator is locked */
};

G_DEFINE_BOXED_TYPE (MactGenerator, mact_generator, mact_generator_ref, mact_generator_unref)

static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static void
seed_state (MactGenerator *self, guint64 seed)
{
  guint64 sm = seed;
  for (int i = 0; i < 4; i++)
    self->s[i] = splitmix64 (&sm);
  self->has_spare = FALSE;
}

/**
 * mact_generator_new:
 * @seed: the seed
 *
 * Creates a generator; the same seed always gives the same sequence.
 *
 * Returns: (transfer full): a new generator
 *
 * Since: 0.1
 */
MactGenerator *
mact_generator_new (guint64 seed)
{
  MactGenerator *self = g_new0 (MactGenerator, 1);
  self->ref_count = 1;
  seed_state (self, seed);
  return self;
}

/**
 * mact_generator_ref:
 * @self: a generator
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
MactGenerator *
mact_generator_ref (MactGenerator *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * mact_generator_unref:
 * @self: (transfer full): a generator
 *
 * Since: 0.1
 */
void
mact_generator_unref (MactGenerator *self)
{
  g_return_if_fail (self != NULL);
  if (g_atomic_int_dec_and_test (&self->ref_count))
    g_free (self);
}

static inline guint64
next_locked (MactGenerator *self)
{
  guint64 result = rotl (self->s[1] * 5, 7) * 9;
  guint64 t = self->s[1] << 17;
  self->s[2] ^= self->s[0];
  self->s[3] ^= self->s[1];
  self->s[1] ^= self->s[2];
  self->s[0] ^= self->s[3];
  self->s[2] ^= t;
  self->s[3] = rotl (self->s[3], 45);
  return result;
}

/**
 * mact_generator_set_seed:
 * @self: a generator
 * @seed: the new seed
 *
 * Restarts the sequence from @seed.
 *
 * Since: 0.1
 */
void
mact_generator_set_seed (MactGenerator *self, guint64 seed)
{
  g_return_if_fail (self != NULL);
  if (self->lock) g_mutex_lock (self->lock);
  seed_state (self, seed);
  if (self->lock) g_mutex_unlock (self->lock);
}

void
mact_generator_lock (MactGenerator *self)
{
  if (self->lock)
    g_mutex_lock (self->lock);
}

void
mact_generator_unlock (MactGenerator *self)
{
  if (self->lock)
    g_mutex_unlock (self->lock);
}

guint64
mact_generator_next_uint64_unlocked (MactGenerator *self)
{
  return next_locked (self);
}

double
mact_generator_next_double_unlocked (MactGenerator *self)
{
  return (double) (next_locked (self) >> 11) * 0x1.0p-53;
}

double
mact_generator_next_normal_unlocked (MactGenerator *self)
{
  if (self->has_spare)
    {
      self->has_spare = FALSE;
      return self->spare;
    }
  double u, v, s;
  do
    {
      u = 2.0 * ((double) (next_locked (self) >> 11) * 0x1.0p-53) - 1.0;
      v = 2.0 * ((double) (next_locked (self) >> 11) * 0x1.0p-53) - 1.0;
      s = u * u + v * v;
    }
  while (s >= 1.0 || s == 0.0);
  double f = sqrt (-2.0 * log (s) / s);
  self->spare = v * f;
  self->has_spare = TRUE;
  return u * f;
}

/**
 * mact_generator_next_uint64:
 * @self: a generator
 *
 * Returns: the next 64 random bits
 *
 * Since: 0.1
 */
guint64
mact_generator_next_uint64 (MactGenerator *self)
{
  g_return_val_if_fail (self != NULL, 0);
  if (self->lock) g_mutex_lock (self->lock);
  guint64 v = next_locked (self);
  if (self->lock) g_mutex_unlock (self->lock);
  return v;
}

/**
 * mact_generator_next_double:
 * @self: a generator
 *
 * Returns: a uniform double in [0, 1) with 53 random bits
 *
 * Since: 0.1
 */
double
mact_generator_next_double (MactGenerator *self)
{
  return (double) (mact_generator_next_uint64 (self) >> 11) * 0x1.0p-53;
}

/**
 * mact_generator_next_normal:
 * @self: a generator
 *
 * Returns: a standard normal draw
 *
 * Since: 0.1
 */
double
mact_generator_next_normal (MactGenerator *self)
{
  g_return_val_if_fail (self != NULL, 0.0);
  mact_generator_lock (self);
  double result = mact_generator_next_normal_unlocked (self);
  mact_generator_unlock (self);
  return result;
}

static GMutex default_lock;

/**
 * mact_generator_get_default:
 *
 * The process-wide generator used when a function is given no generator.  It is locked,
 * so it may be used from several threads; it starts from seed 0 until mact_manual_seed().
 *
 * Returns: (transfer none): the default generator
 *
 * Since: 0.1
 */
MactGenerator *
mact_generator_get_default (void)
{
  static MactGenerator *default_generator;
  if (g_once_init_enter (&default_generator))
    {
      MactGenerator *g = mact_generator_new (0);
      g->lock = &default_lock;
      g_once_init_leave (&default_generator, g);
    }
  return default_generator;
}

/**
 * mact_manual_seed:
 * @seed: the seed
 *
 * Seeds the default generator, as PyTorch's `torch.manual_seed()`.
 *
 * Since: 0.1
 */
void
mact_manual_seed (guint64 seed)
{
  mact_generator_set_seed (mact_generator_get_default (), seed);
}
