/* mact-sgd.c: MactSGD, torch.optim.SGD (momentum, dampening, nesterov, weight decay).
 *
 * The update follows PyTorch 1.13's single-tensor rule element by element, in float as
 * PyTorch computes it, with the hyper-parameters rounded to float where PyTorch passes
 * them to its kernels as scalars:
 *
 *   d = g + weight_decay * p                       (when weight_decay != 0)
 *   buf = d                                        (first step of the parameter)
 *   buf = momentum * buf + (1 - dampening) * d     (later steps)
 *   d = nesterov ? d + momentum * buf : buf        (when momentum != 0)
 *   p = p - lr * d
 */
#include "mact-tensor-private.h"

/**
 * MactSGD:
 *
 * Stochastic gradient descent, PyTorch's `torch.optim.SGD`.  Group options: "lr",
 * "momentum", "dampening", "weight_decay", "nesterov" (0 or 1).  State: a
 * "momentum_buffer" per parameter when momentum is not zero.  Build one with
 * mact_optimizer_new_from_config().
 *
 * Since: 0.1
 */
struct _MactSGD
{
  MactOptimizer parent_instance;
};

G_DEFINE_FINAL_TYPE (MactSGD, mact_sgd, MACT_TYPE_OPTIMIZER)

static const char *const sgd_state_names[] = { "momentum_buffer", NULL };

/* Elements per parallel chunk: small tensors stay on the calling thread. */
#define GRAIN 32768

typedef struct {
  float       *p;
  const float *g;
  float       *buf;         /* NULL without momentum */
  gboolean     first;       /* the buffer starts as the (decayed) gradient */
  gboolean     nesterov;
  float        weight_decay, momentum, one_minus_dampening, neg_lr;
} SgdKernel;

/* Each variant is a separate branch-free loop over restrict pointers, so that compilers
 * can vectorise it; every element goes through the same operations whichever loop or
 * thread chunk it falls in, so results do not depend on the thread count. */
#define SGD_LOOP(D_EXPR, BUF_EXPR, STEP_EXPR)                                             \
  for (gint64 i = 0; i < n; i++)                                                          \
    {                                                                                     \
      const float d = (D_EXPR);                                                           \
      const float b = (BUF_EXPR);                                                         \
      buf[i] = b;                                                                         \
      p[i] = p[i] + neg_lr * (STEP_EXPR);                                                 \
    }

#define SGD_MOMENTUM_LOOPS(D_EXPR)                                                        \
  G_STMT_START                                                                            \
    {                                                                                     \
      if (k->first && k->nesterov)                                                        \
        SGD_LOOP (D_EXPR, d, d + mom * b)                                                 \
      else if (k->first)                                                                  \
        SGD_LOOP (D_EXPR, d, b)                                                           \
      else if (k->nesterov)                                                               \
        SGD_LOOP (D_EXPR, buf[i] * mom + omd * d, d + mom * b)                            \
      else                                                                                \
        SGD_LOOP (D_EXPR, buf[i] * mom + omd * d, b)                                      \
    }                                                                                     \
  G_STMT_END

G_ALWAYS_INLINE static inline void
sgd_range (const SgdKernel   *k,
           float *restrict    p,
           const float       *restrict g,
           float *restrict    buf,
           gint64             n)
{
  const float wd = k->weight_decay, mom = k->momentum, omd = k->one_minus_dampening;
  const float neg_lr = k->neg_lr;
  /* Without decay the term is left out rather than multiplied by zero, as PyTorch does:
   * g + 0 * p is not g when p is infinite. */
  if (buf == NULL)
    {
      if (wd != 0.0f)
        for (gint64 i = 0; i < n; i++)
          p[i] = p[i] + neg_lr * (g[i] + wd * p[i]);
      else
        for (gint64 i = 0; i < n; i++)
          p[i] = p[i] + neg_lr * g[i];
    }
  else if (wd != 0.0f)
    {
      SGD_MOMENTUM_LOOPS (g[i] + wd * p[i]);
    }
  else
    {
      SGD_MOMENTUM_LOOPS (g[i]);
    }
}

static void
sgd_kernel (gint64 begin, gint64 end, gpointer data)
{
  const SgdKernel *k = data;
  /* A trip count that is a multiple of 8 lets GCC vectorise at -O2; the rest runs the
   * same code. */
  const gint64 n = end - begin, n8 = n / 8 * 8;
  float *buf = k->buf != NULL ? k->buf + begin : NULL;
  sgd_range (k, k->p + begin, k->g + begin, buf, n8);
  sgd_range (k, k->p + begin + n8, k->g + begin + n8, buf != NULL ? buf + n8 : NULL,
             n - n8);
}

static gboolean
mact_sgd_update (MactOptimizer  *optimizer,
                 guint           group_index,
                 GError        **error)
{
  const double lr = mact_optimizer_get_group_option (optimizer, group_index, "lr");
  const double momentum = mact_optimizer_get_group_option (optimizer, group_index,
                                                           "momentum");
  const double dampening = mact_optimizer_get_group_option (optimizer, group_index,
                                                            "dampening");
  const double weight_decay = mact_optimizer_get_group_option (optimizer, group_index,
                                                               "weight_decay");
  const gboolean nesterov = mact_optimizer_get_group_option (optimizer, group_index,
                                                             "nesterov") != 0.0;

  g_autoptr(GPtrArray) params = mact_optimizer_get_group_params (optimizer, group_index);
  const char *const *names = mact_optimizer_get_group_param_names (optimizer, group_index);
  for (guint i = 0; i < params->len; i++)
    {
      MactTensor *param = g_ptr_array_index (params, i);
      MactTensor *grad = mact_tensor_get_grad (param);
      if (grad == NULL)
        continue;
      SgdKernel k = {
        .p = mact_tensor_get_data (param),
        .g = mact_tensor_get_data (grad),
        .nesterov = nesterov,
        .weight_decay = (float) weight_decay,
        .momentum = (float) momentum,
        .one_minus_dampening = (float) (1.0 - dampening),
        .neg_lr = (float) -lr,
      };
      if (momentum != 0.0)
        {
          MactTensor *buf = mact_optimizer_get_state (optimizer, names[i], "momentum_buffer",
                                                      &k.first, error);
          if (buf == NULL)
            return FALSE;
          k.buf = mact_tensor_get_data (buf);
        }
      mact_parallel_for (mact_tensor_get_numel (param), GRAIN, sgd_kernel, &k);
      mact_optimizer_set_step_count (optimizer, names[i],
                                     mact_optimizer_get_step_count (optimizer, names[i]) + 1);
    }
  return TRUE;
}

static void
mact_sgd_class_init (MactSGDClass *klass)
{
  MactOptimizerClass *optimizer_class = MACT_OPTIMIZER_CLASS (klass);
  optimizer_class->update = mact_sgd_update;
  optimizer_class->state_names = sgd_state_names;
}

static void
mact_sgd_init (MactSGD *self)
{
}
