/* mact-neck.c: the abstract kind of necks. */
#include "mact-tensor-private.h"
#include "mact-cancel-private.h"

G_DEFINE_ABSTRACT_TYPE (MactNeck, mact_neck, MACT_TYPE_MODULE)

static void
mact_neck_class_init (MactNeckClass *klass)
{
}

static void
mact_neck_init (MactNeck *self)
{
}

/**
 * mact_neck_forward_neck:
 * @self: a neck
 * @inputs: (element-type MactTensor): the backbone's outputs
 * @target: (nullable): the labels in training, for auxiliary losses
 * @aux_losses: (nullable): where auxiliary losses are added (`loss_aux`)
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type MactTensor) (nullable): the fused features;
 *   the array holds a reference to each and releases them when freed
 *
 * Since: 0.1
 */
GPtrArray *
mact_neck_forward_neck (MactNeck *self, GPtrArray *inputs, MactTensor *target,
                        MactTensorDict *aux_losses, GError **error)
{
  g_return_val_if_fail (MACT_IS_NECK (self), NULL);
  g_return_val_if_fail (inputs != NULL, NULL);
  MactNeckClass *klass = MACT_NECK_GET_CLASS (self);
  if (klass->forward_neck == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "neck %s does not implement forward_neck", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  if (!mact_cancel_check (G_OBJECT_TYPE_NAME (self), error))
    return NULL;
  return klass->forward_neck (self, inputs, target, aux_losses, error);
}
