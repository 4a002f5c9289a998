/* mact-adamw.c: MactAdamW, torch.optim.AdamW: Adam with decoupled weight decay.
 *
 * The update is MactAdam's (mact-adam.c); the class flag makes it shrink the parameter by
 * (1 - lr * weight_decay) before the moment update instead of adding the decay to the
 * gradient, as PyTorch 1.13's AdamW does. */
#include "mact-tensor-private.h"

/**
 * MactAdamW:
 *
 * PyTorch's `torch.optim.AdamW`.  Same group options and state as #MactAdam; its default
 * weight decay is 1e-2.  Build one with mact_optimizer_new_from_config().
 *
 * Since: 0.1
 */
struct _MactAdamW
{
  MactAdam parent_instance;
};

G_DEFINE_FINAL_TYPE (MactAdamW, mact_adamw, MACT_TYPE_ADAM)

static void
mact_adamw_class_init (MactAdamWClass *klass)
{
  MACT_ADAM_CLASS (klass)->decoupled_weight_decay = TRUE;
}

static void
mact_adamw_init (MactAdamW *self)
{
}
