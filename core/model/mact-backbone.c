/* mact-backbone.c: the abstract kind of feature extractors. */
#include "mact-tensor-private.h"

G_DEFINE_ABSTRACT_TYPE (MactBackbone, mact_backbone, MACT_TYPE_MODULE)

static void
mact_backbone_class_init (MactBackboneClass *klass)
{
}

static void
mact_backbone_init (MactBackbone *self)
{
}

/**
 * mact_backbone_has_features:
 * @self: a backbone
 *
 * Returns: whether the backbone has a `features` part that recognizers use instead of its
 *   whole forward (torchvision's densenet, mobilenet, vgg)
 *
 * Since: 0.1
 */
gboolean
mact_backbone_has_features (MactBackbone *self)
{
  g_return_val_if_fail (MACT_IS_BACKBONE (self), FALSE);
  return MACT_BACKBONE_GET_CLASS (self)->forward_features != NULL;
}

/**
 * mact_backbone_forward_features:
 * @self: a backbone with features
 * @input: the images
 * @error: return location for a #GError
 *
 * Runs only the `features` part.  A backbone without one is a
 * %MACT_MODULE_ERROR_NOT_IMPLEMENTED error.
 *
 * Returns: (transfer full) (nullable): the features, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_backbone_forward_features (MactBackbone *self, MactTensor *input, GError **error)
{
  g_return_val_if_fail (MACT_IS_BACKBONE (self), NULL);
  g_return_val_if_fail (input != NULL, NULL);
  MactBackboneClass *klass = MACT_BACKBONE_GET_CLASS (self);
  if (klass->forward_features == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "backbone %s has no features part", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  return klass->forward_features (self, input, error);
}
