/* mact-blending.c: the abstract kind of mini-batch blending (BaseMiniBatchBlending):
 * labels become one-hot, then the subclass mixes images and labels. */
#include "mact-tensor-private.h"

typedef struct {
  gint           num_classes;
  double         alpha;
  MactGenerator *generator;
} MactBlendingPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactBlending, mact_blending, MACT_TYPE_MODULE)

enum { PROP_0, PROP_NUM_CLASSES, PROP_ALPHA, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
mact_blending_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  MactBlendingPrivate *priv = mact_blending_get_instance_private (MACT_BLENDING (object));
  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      priv->num_classes = g_value_get_int (value);
      break;
    case PROP_ALPHA:
      priv->alpha = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_blending_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactBlendingPrivate *priv = mact_blending_get_instance_private (MACT_BLENDING (object));
  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_int (value, priv->num_classes);
      break;
    case PROP_ALPHA:
      g_value_set_double (value, priv->alpha);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_blending_build (MactModule *module, GError **error)
{
  MactBlendingPrivate *priv = mact_blending_get_instance_private (MACT_BLENDING (module));
  if (!MACT_MODULE_CLASS (mact_blending_parent_class)->build (module, error))
    return FALSE;
  if (priv->num_classes <= 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: num_classes must be positive, got %d", G_OBJECT_TYPE_NAME (module),
                   priv->num_classes);
      return FALSE;
    }
  if (!(priv->alpha > 0.0))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: alpha must be positive, got %g", G_OBJECT_TYPE_NAME (module),
                   priv->alpha);
      return FALSE;
    }
  return TRUE;
}

static void
mact_blending_finalize (GObject *object)
{
  MactBlendingPrivate *priv = mact_blending_get_instance_private (MACT_BLENDING (object));
  g_clear_pointer (&priv->generator, mact_generator_unref);
  G_OBJECT_CLASS (mact_blending_parent_class)->finalize (object);
}

static void
mact_blending_class_init (MactBlendingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->set_property = mact_blending_set_property;
  object_class->get_property = mact_blending_get_property;
  object_class->finalize = mact_blending_finalize;
  MACT_MODULE_CLASS (klass)->build = mact_blending_build;

  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  /**
   * MactBlending:num-classes:
   *
   * Number of classes, for the one-hot labels (required).
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_int ("num-classes", NULL, NULL, 0, G_MAXINT, 0, flags | MACT_PARAM_REQUIRED);
  /**
   * MactBlending:alpha:
   *
   * The parameter of the Beta(alpha, alpha) mixing distribution.
   */
  properties[PROP_ALPHA] =
    g_param_spec_double ("alpha", NULL, NULL, 0.0, G_MAXDOUBLE, 0.2, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_blending_init (MactBlending *self)
{
  MactBlendingPrivate *priv = mact_blending_get_instance_private (self);
  priv->alpha = 0.2;
}

/**
 * mact_blending_get_num_classes:
 * @self: a blending
 *
 * Returns: the number of classes
 *
 * Since: 0.1
 */
gint
mact_blending_get_num_classes (MactBlending *self)
{
  g_return_val_if_fail (MACT_IS_BLENDING (self), 0);
  MactBlendingPrivate *priv = mact_blending_get_instance_private (self);
  return priv->num_classes;
}

/**
 * mact_blending_get_alpha:
 * @self: a blending
 *
 * Returns: alpha
 *
 * Since: 0.1
 */
double
mact_blending_get_alpha (MactBlending *self)
{
  g_return_val_if_fail (MACT_IS_BLENDING (self), 0.0);
  MactBlendingPrivate *priv = mact_blending_get_instance_private (self);
  return priv->alpha;
}

/**
 * mact_blending_set_generator:
 * @self: a blending
 * @generator: (nullable): the generator to draw from; %NULL uses the default one
 *
 * Since: 0.1
 */
void
mact_blending_set_generator (MactBlending *self, MactGenerator *generator)
{
  g_return_if_fail (MACT_IS_BLENDING (self));
  MactBlendingPrivate *priv = mact_blending_get_instance_private (self);
  if (generator)
    mact_generator_ref (generator);
  g_clear_pointer (&priv->generator, mact_generator_unref);
  priv->generator = generator;
}

/**
 * mact_blending_apply:
 * @self: a built blending
 * @imgs: a batch [B, ...]; the last two dimensions are spatial
 * @label: hard labels [B] or [B, 1] (class indices as floats)
 * @imgs_out: (out) (transfer full): the blended images
 * @label_out: (out) (transfer full): the blended soft labels [B, K]
 * @error: return location for a #GError
 *
 * Makes the labels one-hot and blends (mmaction2's `__call__`).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_blending_apply (MactBlending *self, MactTensor *imgs, MactTensor *label,
                     MactTensor **imgs_out, MactTensor **label_out, GError **error)
{
  g_return_val_if_fail (MACT_IS_BLENDING (self), FALSE);
  g_return_val_if_fail (imgs != NULL && label != NULL && imgs_out && label_out, FALSE);
  MactBlendingPrivate *priv = mact_blending_get_instance_private (self);
  MactBlendingClass *klass = MACT_BLENDING_GET_CLASS (self);

  gint64 batch = mact_tensor_get_size (imgs, 0);
  if (mact_tensor_get_ndim (imgs) < 3 || mact_tensor_get_numel (label) != batch)
    {
      g_autofree char *is = mact_tensor_shape_to_string (imgs);
      g_autofree char *ls = mact_tensor_shape_to_string (label);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: images %s and labels %s do not form a batch ([B, ..., H, W] and [B])",
                   G_OBJECT_TYPE_NAME (self), is, ls);
      return FALSE;
    }
  if (klass->do_blending == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "blending %s does not implement do_blending", G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }
  const gint64 flat_shape[] = { batch };
  g_autoptr(MactTensor) flat = mact_tensor_reshape (label, 1, flat_shape, error);
  g_autoptr(MactTensor) one_hot = flat ? mact_one_hot (flat, priv->num_classes, error) : NULL;
  if (one_hot == NULL)
    return FALSE;
  MactGenerator *gen = priv->generator ? priv->generator : mact_generator_get_default ();
  return klass->do_blending (self, imgs, one_hot, gen, imgs_out, label_out, error);
}
