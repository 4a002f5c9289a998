/* mact-native-bce-loss-with-logits.c: mmaction2's BCELossWithLogits, registered as
 * "BCELossWithLogits": F.binary_cross_entropy_with_logits(score, label,
 * weight=class_weight), the mean over every element.  Labels are multi-hot (or smoothed)
 * of the scores' shape; class_weight weighs each class (broadcast over the batch). */
#include "mact-native-bce-loss-with-logits.h"
#include "mact-native-layers.h"
#include "mact-native-loss-utils.h"

struct _MactNativeBCELossWithLogits
{
  MactLoss    parent_instance;

  GVariant   *class_weight_prop;
  MactTensor *class_weight;   /* [C], or NULL */
};

G_DEFINE_FINAL_TYPE (MactNativeBCELossWithLogits, mact_native_bce_loss_with_logits,
                     MACT_TYPE_LOSS)

enum {
  PROP_0,
  PROP_CLASS_WEIGHT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_bce_loss_with_logits_set_property (GObject *object, guint prop_id,
                                               const GValue *value, GParamSpec *pspec)
{
  MactNativeBCELossWithLogits *self = MACT_NATIVE_BCE_LOSS_WITH_LOGITS (object);

  switch (prop_id)
    {
    case PROP_CLASS_WEIGHT:
      mact_native_replace_variant (&self->class_weight_prop, value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_native_bce_loss_with_logits_get_property (GObject *object, guint prop_id,
                                               GValue *value, GParamSpec *pspec)
{
  MactNativeBCELossWithLogits *self = MACT_NATIVE_BCE_LOSS_WITH_LOGITS (object);

  switch (prop_id)
    {
    case PROP_CLASS_WEIGHT:
      g_value_set_variant (value, self->class_weight_prop);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_native_bce_loss_with_logits_build (MactModule *module, GError **error)
{
  MactNativeBCELossWithLogits *self = MACT_NATIVE_BCE_LOSS_WITH_LOGITS (module);

  if (!MACT_MODULE_CLASS (mact_native_bce_loss_with_logits_parent_class)->build (module, error))
    return FALSE;
  return mact_native_class_weight_new (self->class_weight_prop, "BCELossWithLogits",
                                       &self->class_weight, error);
}

static MactTensor *
mact_native_bce_loss_with_logits_compute (MactLoss *loss, MactTensor *cls_score,
                                          MactTensor *label, MactTensorDict *kwargs,
                                          GError **error)
{
  MactNativeBCELossWithLogits *self = MACT_NATIVE_BCE_LOSS_WITH_LOGITS (loss);
  MactTensor *weight = NULL;

  if (!mact_native_check_class_weight ("BCELossWithLogits", self->class_weight, cls_score,
                                       error) ||
      !mact_native_loss_weight_arg ("BCELossWithLogits", self->class_weight, kwargs, &weight,
                                    error))
    return NULL;
  return mact_binary_cross_entropy_with_logits (cls_score, label, weight, NULL,
                                                MACT_REDUCTION_MEAN, error);
}

static void
mact_native_bce_loss_with_logits_finalize (GObject *object)
{
  MactNativeBCELossWithLogits *self = MACT_NATIVE_BCE_LOSS_WITH_LOGITS (object);

  g_clear_pointer (&self->class_weight_prop, g_variant_unref);
  g_clear_pointer (&self->class_weight, mact_tensor_unref);
  G_OBJECT_CLASS (mact_native_bce_loss_with_logits_parent_class)->finalize (object);
}

static void
mact_native_bce_loss_with_logits_class_init (MactNativeBCELossWithLogitsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->set_property = mact_native_bce_loss_with_logits_set_property;
  object_class->get_property = mact_native_bce_loss_with_logits_get_property;
  object_class->finalize = mact_native_bce_loss_with_logits_finalize;
  module_class->build = mact_native_bce_loss_with_logits_build;
  module_class->forward = mact_native_loss_forward;
  MACT_LOSS_CLASS (klass)->compute = mact_native_bce_loss_with_logits_compute;

  /**
   * MactNativeBCELossWithLogits:class-weight:
   *
   * One weight per class ("ad"), or %NULL for none.
   */
  properties[PROP_CLASS_WEIGHT] =
    g_param_spec_variant ("class-weight", NULL, NULL, G_VARIANT_TYPE ("ad"), NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_bce_loss_with_logits_init (MactNativeBCELossWithLogits *self)
{
}
