/* mact-native-cross-entropy-loss.c: mmaction2's CrossEntropyLoss, registered as
 * "CrossEntropyLoss".
 *
 * Hard labels (a shape other than the scores'): F.cross_entropy(score, label,
 * weight=class_weight), mean over the batch weighted as PyTorch does.
 * Soft labels (the scores' shape, 2-D only): -(label * log_softmax(score)).sum(1); with
 * class_weight the log-probabilities are weighted per class and the sum is divided by
 * sum(class_weight * label), otherwise the mean is taken.  That weighted mean is
 * mmaction2's own (PyTorch's soft cross entropy divides by N whatever the weights), so
 * it is composed here from public ops, which also gives the autograd.
 *
 * Extra arguments (kwargs): `weight` for hard labels when no class_weight is set, as
 * mmaction2 passes them to F.cross_entropy; none for soft labels (mmaction2 asserts). */
#include "mact-native-cross-entropy-loss.h"
#include "mact-native-layers.h"
#include "mact-native-loss-utils.h"

#include <string.h>

struct _MactNativeCrossEntropyLoss
{
  MactLoss    parent_instance;

  GVariant   *class_weight_prop;
  MactTensor *class_weight;   /* [C], or NULL */
};

G_DEFINE_FINAL_TYPE (MactNativeCrossEntropyLoss, mact_native_cross_entropy_loss, MACT_TYPE_LOSS)

enum {
  PROP_0,
  PROP_CLASS_WEIGHT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_native_cross_entropy_loss_set_property (GObject *object, guint prop_id,
                                             const GValue *value, GParamSpec *pspec)
{
  MactNativeCrossEntropyLoss *self = MACT_NATIVE_CROSS_ENTROPY_LOSS (object);

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
mact_native_cross_entropy_loss_get_property (GObject *object, guint prop_id, GValue *value,
                                             GParamSpec *pspec)
{
  MactNativeCrossEntropyLoss *self = MACT_NATIVE_CROSS_ENTROPY_LOSS (object);

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
mact_native_cross_entropy_loss_build (MactModule *module, GError **error)
{
  MactNativeCrossEntropyLoss *self = MACT_NATIVE_CROSS_ENTROPY_LOSS (module);

  if (!MACT_MODULE_CLASS (mact_native_cross_entropy_loss_parent_class)->build (module, error))
    return FALSE;
  return mact_native_class_weight_new (self->class_weight_prop, "CrossEntropyLoss",
                                       &self->class_weight, error);
}

static MactTensor *
soft_label_loss (MactNativeCrossEntropyLoss *self, MactTensor *cls_score, MactTensor *label,
                 GError **error)
{
  const gint class_dim[] = { 1 };

  g_autoptr(MactTensor) lsm = mact_log_softmax (cls_score, 1, error);
  if (lsm == NULL)
    return NULL;
  if (self->class_weight != NULL)
    {
      MactTensor *weighted = mact_mul (lsm, self->class_weight, error);
      if (weighted == NULL)
        return NULL;
      mact_tensor_unref (lsm);
      lsm = weighted;
    }
  g_autoptr(MactTensor) prod = mact_mul (label, lsm, error);
  g_autoptr(MactTensor) per_sample = prod ? mact_sum (prod, 1, class_dim, FALSE, error) : NULL;
  if (per_sample == NULL)
    return NULL;
  g_autoptr(MactTensor) reduced = NULL;
  if (self->class_weight != NULL)
    {
      /* The weighted mean of PyTorch's hard-label loss: divide by the total weight. */
      g_autoptr(MactTensor) total = mact_sum_all (per_sample);
      g_autoptr(MactTensor) wl = mact_mul (label, self->class_weight, error);
      g_autoptr(MactTensor) norm = wl ? mact_sum_all (wl) : NULL;
      if (norm == NULL)
        return NULL;
      reduced = mact_div (total, norm, error);
    }
  else
    reduced = mact_mean_all (per_sample);
  if (reduced == NULL)
    return NULL;
  return mact_neg (reduced);
}

static MactTensor *
mact_native_cross_entropy_loss_compute (MactLoss *loss, MactTensor *cls_score,
                                        MactTensor *label, MactTensorDict *kwargs,
                                        GError **error)
{
  MactNativeCrossEntropyLoss *self = MACT_NATIVE_CROSS_ENTROPY_LOSS (loss);
  gint nd_s, nd_l;
  const gint64 *ss = mact_tensor_get_shape (cls_score, &nd_s);
  const gint64 *ls = mact_tensor_get_shape (label, &nd_l);
  gboolean soft = nd_s == nd_l && memcmp (ss, ls, sizeof (gint64) * nd_s) == 0;

  if (!mact_native_check_class_weight ("CrossEntropyLoss", self->class_weight, cls_score,
                                       error))
    return NULL;
  if (soft)
    {
      if (nd_s != 2)
        {
          g_autofree char *shape = mact_tensor_shape_to_string (cls_score);
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                       "CrossEntropyLoss: only 2-D soft labels [N, K] are supported, got %s",
                       shape);
          return NULL;
        }
      if (kwargs != NULL && mact_tensor_dict_get_size (kwargs) > 0)
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                       "CrossEntropyLoss: no extra arguments are supported with soft labels, "
                       "got \"%s\"", mact_tensor_dict_get_key (kwargs, 0));
          return NULL;
        }
      return soft_label_loss (self, cls_score, label, error);
    }

  MactTensor *weight = NULL;
  if (!mact_native_loss_weight_arg ("CrossEntropyLoss", self->class_weight, kwargs, &weight,
                                    error))
    return NULL;
  return mact_cross_entropy (cls_score, label, weight, MACT_REDUCTION_MEAN, error);
}

static void
mact_native_cross_entropy_loss_finalize (GObject *object)
{
  MactNativeCrossEntropyLoss *self = MACT_NATIVE_CROSS_ENTROPY_LOSS (object);

  g_clear_pointer (&self->class_weight_prop, g_variant_unref);
  g_clear_pointer (&self->class_weight, mact_tensor_unref);
  G_OBJECT_CLASS (mact_native_cross_entropy_loss_parent_class)->finalize (object);
}

static void
mact_native_cross_entropy_loss_class_init (MactNativeCrossEntropyLossClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->set_property = mact_native_cross_entropy_loss_set_property;
  object_class->get_property = mact_native_cross_entropy_loss_get_property;
  object_class->finalize = mact_native_cross_entropy_loss_finalize;
  module_class->build = mact_native_cross_entropy_loss_build;
  module_class->forward = mact_native_loss_forward;
  MACT_LOSS_CLASS (klass)->compute = mact_native_cross_entropy_loss_compute;

  /**
   * MactNativeCrossEntropyLoss:class-weight:
   *
   * One weight per class ("ad"), or %NULL for none.
   */
  properties[PROP_CLASS_WEIGHT] =
    g_param_spec_variant ("class-weight", NULL, NULL, G_VARIANT_TYPE ("ad"), NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_native_cross_entropy_loss_init (MactNativeCrossEntropyLoss *self)
{
}
