/* mact-adam.c: MactAdam, torch.optim.Adam, and the shared update of MactAdamW.
 *
 * PyTorch 1.13's single-tensor rule, element by element in float; the bias corrections and
 * the step size are computed in double from the step count, then rounded to float as
 * PyTorch passes them to its kernels:
 *
 *   step += 1
 *   p = p * (1 - lr * weight_decay)               (AdamW: decoupled decay)
 *   g = g + weight_decay * p                      (Adam, when weight_decay != 0)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 *   vmax = max(vmax, v)                           (amsgrad; the denominator then uses vmax)
 *   denom = sqrt(v) / sqrt(1 - beta2^step) + eps
 *   p = p - lr / (1 - beta1^step) * m / denom
 */
#include "mact-tensor-private.h"

#include <math.h>

/**
 * MactAdam:
 *
 * PyTorch's `torch.optim.Adam`.  Group options: "lr", "beta1", "beta2", "eps",
 * "weight_decay", "amsgrad" (0 or 1).  State per parameter: "exp_avg", "exp_avg_sq" and,
 * with amsgrad, "max_exp_avg_sq", plus the step count.  #MactAdamW derives from it.
 * Build one with mact_optimizer_new_from_config().
 *
 * Since: 0.1
 */
G_DEFINE_TYPE (MactAdam, mact_adam, MACT_TYPE_OPTIMIZER)

static const char *const adam_state_names[] = {
  "exp_avg", "exp_avg_sq", "max_exp_avg_sq", NULL
};

#define GRAIN 16384

typedef struct {
  float       *p;
  const float *g;
  float       *m, *v, *vmax;     /* vmax: NULL without amsgrad */
  gboolean     decoupled;
  float        decay_factor;     /* AdamW: 1 - lr * weight_decay */
  float        weight_decay;     /* Adam: added to the gradient */
  float        beta1, one_minus_beta1, beta2, one_minus_beta2;
  float        bias_correction2_sqrt, eps, neg_step_size;
} AdamKernel;

/* One element range of the update.  Always inlined with constant @decoupled and
 * @amsgrad, so each variant is a branch-free loop the compiler vectorises (sqrt and
 * division included; the per-element arithmetic is the same as the scalar loop's, so
 * results do not change).  The scalar, branchy version was 14% of a small training
 * step. */
typedef enum {
  DECAY_NONE,         /* Adam without weight decay: the gradient is used as it is */
  DECAY_DECOUPLED,    /* AdamW: the weight shrinks first */
  DECAY_COUPLED,      /* Adam: weight_decay * p joins the gradient */
} DecayMode;

static inline __attribute__ ((always_inline)) void
adam_range (const AdamKernel *k, gint64 begin, gint64 end, DecayMode decay,
            gboolean amsgrad)
{
  float *restrict pp = k->p, *restrict mm = k->m, *restrict vv = k->v;
  float *restrict vmax = k->vmax;
  const float *restrict gg = k->g;
  const float decay_factor = k->decay_factor, weight_decay = k->weight_decay;
  const float beta1 = k->beta1, one_minus_beta1 = k->one_minus_beta1;
  const float beta2 = k->beta2, one_minus_beta2 = k->one_minus_beta2;
  const float bc2_sqrt = k->bias_correction2_sqrt, eps = k->eps;
  const float neg_step_size = k->neg_step_size;

  for (gint64 i = begin; i < end; i++)
    {
      float p = pp[i];
      float g = gg[i];
      if (decay == DECAY_DECOUPLED)
        p = p * decay_factor;
      else if (decay == DECAY_COUPLED)
        g = g + weight_decay * p;
      const float m = mm[i] * beta1 + one_minus_beta1 * g;
      const float v = vv[i] * beta2 + one_minus_beta2 * g * g;
      mm[i] = m;
      vv[i] = v;
      float second = v;
      if (amsgrad)
        {
          /* torch.maximum: NaN propagates */
          const float old = vmax[i];
          second = (isnan (old) || old > v) ? old : v;
          vmax[i] = second;
        }
      const float denom = sqrtf (second) / bc2_sqrt + eps;
      pp[i] = p + neg_step_size * m / denom;
    }
}

static void
adam_kernel (gint64 begin, gint64 end, gpointer data)
{
  const AdamKernel *k = data;
  /* As torch: Adam adds nothing (not 0 * p, which is NaN for an infinite weight) when
   * weight_decay is 0. */
  const DecayMode decay = k->decoupled ? DECAY_DECOUPLED
                        : k->weight_decay != 0.0f ? DECAY_COUPLED : DECAY_NONE;
  const gboolean amsgrad = k->vmax != NULL;

  switch (decay)
    {
    case DECAY_DECOUPLED:
      if (amsgrad)
        adam_range (k, begin, end, DECAY_DECOUPLED, TRUE);
      else
        adam_range (k, begin, end, DECAY_DECOUPLED, FALSE);
      break;
    case DECAY_COUPLED:
      if (amsgrad)
        adam_range (k, begin, end, DECAY_COUPLED, TRUE);
      else
        adam_range (k, begin, end, DECAY_COUPLED, FALSE);
      break;
    case DECAY_NONE:
    default:
      if (amsgrad)
        adam_range (k, begin, end, DECAY_NONE, TRUE);
      else
        adam_range (k, begin, end, DECAY_NONE, FALSE);
      break;
    }
}

static gboolean
mact_adam_update (MactOptimizer  *optimizer,
                  guint           group_index,
                  GError        **error)
{
  const gboolean decoupled = MACT_ADAM_GET_CLASS (optimizer)->decoupled_weight_decay;
  const double lr = mact_optimizer_get_group_option (optimizer, group_index, "lr");
  const double beta1 = mact_optimizer_get_group_option (optimizer, group_index, "beta1");
  const double beta2 = mact_optimizer_get_group_option (optimizer, group_index, "beta2");
  const double eps = mact_optimizer_get_group_option (optimizer, group_index, "eps");
  const double weight_decay = mact_optimizer_get_group_option (optimizer, group_index,
                                                               "weight_decay");
  const gboolean amsgrad = mact_optimizer_get_group_option (optimizer, group_index,
                                                            "amsgrad") != 0.0;

  g_autoptr(GPtrArray) params = mact_optimizer_get_group_params (optimizer, group_index);
  const char *const *names = mact_optimizer_get_group_param_names (optimizer, group_index);
  for (guint i = 0; i < params->len; i++)
    {
      MactTensor *param = g_ptr_array_index (params, i);
      MactTensor *grad = mact_tensor_get_grad (param);
      if (grad == NULL)
        continue;
      MactTensor *m = mact_optimizer_get_state (optimizer, names[i], "exp_avg", NULL, error);
      if (m == NULL)
        return FALSE;
      MactTensor *v = mact_optimizer_get_state (optimizer, names[i], "exp_avg_sq", NULL,
                                                error);
      if (v == NULL)
        return FALSE;
      MactTensor *vmax = NULL;
      if (amsgrad)
        {
          vmax = mact_optimizer_get_state (optimizer, names[i], "max_exp_avg_sq", NULL,
                                           error);
          if (vmax == NULL)
            return FALSE;
        }

      const gint64 step = mact_optimizer_get_step_count (optimizer, names[i]) + 1;
      mact_optimizer_set_step_count (optimizer, names[i], step);
      const double bias_correction1 = 1.0 - pow (beta1, (double) step);
      const double bias_correction2 = 1.0 - pow (beta2, (double) step);
      const double step_size = lr / bias_correction1;

      AdamKernel k = {
        .p = mact_tensor_get_data (param),
        .g = mact_tensor_get_data (grad),
        .m = mact_tensor_get_data (m),
        .v = mact_tensor_get_data (v),
        .vmax = vmax != NULL ? mact_tensor_get_data (vmax) : NULL,
        .decoupled = decoupled,
        .decay_factor = (float) (1.0 - lr * weight_decay),
        .weight_decay = (float) weight_decay,
        .beta1 = (float) beta1,
        .one_minus_beta1 = (float) (1.0 - beta1),
        .beta2 = (float) beta2,
        .one_minus_beta2 = (float) (1.0 - beta2),
        .bias_correction2_sqrt = (float) sqrt (bias_correction2),
        .eps = (float) eps,
        .neg_step_size = (float) -step_size,
      };
      mact_parallel_for (mact_tensor_get_numel (param), GRAIN, adam_kernel, &k);
    }
  return TRUE;
}

static void
mact_adam_class_init (MactAdamClass *klass)
{
  MactOptimizerClass *optimizer_class = MACT_OPTIMIZER_CLASS (klass);
  optimizer_class->update = mact_adam_update;
  optimizer_class->state_names = adam_state_names;
  klass->decoupled_weight_decay = FALSE;
}

static void
mact_adam_init (MactAdam *self)
{
}
