/* mact-loss.c: the abstract kind of losses; applies loss_weight as BaseWeightedLoss. */
#include "mact-tensor-private.h"

typedef struct {
  double loss_weight;
} MactLossPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactLoss, mact_loss, MACT_TYPE_MODULE)

enum { PROP_0, PROP_LOSS_WEIGHT, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
mact_loss_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  MactLossPrivate *priv = mact_loss_get_instance_private (MACT_LOSS (object));
  switch (prop_id)
    {
    case PROP_LOSS_WEIGHT:
      priv->loss_weight = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_loss_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactLossPrivate *priv = mact_loss_get_instance_private (MACT_LOSS (object));
  switch (prop_id)
    {
    case PROP_LOSS_WEIGHT:
      g_value_set_double (value, priv->loss_weight);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_loss_class_init (MactLossClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->set_property = mact_loss_set_property;
  object_class->get_property = mact_loss_get_property;

  /**
   * MactLoss:loss-weight:
   *
   * The factor the loss is multiplied by (mmaction2's `loss_weight`).
   */
  properties[PROP_LOSS_WEIGHT] =
    g_param_spec_double ("loss-weight", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_loss_init (MactLoss *self)
{
  MactLossPrivate *priv = mact_loss_get_instance_private (self);
  priv->loss_weight = 1.0;
}

/**
 * mact_loss_get_loss_weight:
 * @self: a loss
 *
 * Returns: the loss weight
 *
 * Since: 0.1
 */
double
mact_loss_get_loss_weight (MactLoss *self)
{
  g_return_val_if_fail (MACT_IS_LOSS (self), 0.0);
  MactLossPrivate *priv = mact_loss_get_instance_private (self);
  return priv->loss_weight;
}

/**
 * mact_loss_compute:
 * @self: a loss
 * @cls_score: the class scores
 * @label: hard labels (class indices as floats) or soft labels of @cls_score's shape
 * @kwargs: (nullable): extra named tensors (aux_info)
 * @error: return location for a #GError
 *
 * Computes the loss and multiplies it by `loss-weight`.
 *
 * Returns: (transfer full) (nullable): the loss, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_loss_compute (MactLoss *self, MactTensor *cls_score, MactTensor *label,
                   MactTensorDict *kwargs, GError **error)
{
  g_return_val_if_fail (MACT_IS_LOSS (self), NULL);
  g_return_val_if_fail (cls_score != NULL && label != NULL, NULL);
  MactLossClass *klass = MACT_LOSS_GET_CLASS (self);
  if (klass->compute == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "loss %s does not implement compute", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  g_autoptr(MactTensor) loss = klass->compute (self, cls_score, label, kwargs, error);
  if (loss == NULL)
    return NULL;
  MactLossPrivate *priv = mact_loss_get_instance_private (self);
  if (priv->loss_weight == 1.0)
    return g_steal_pointer (&loss);
  return mact_mul_scalar (loss, (float) priv->loss_weight);
}
