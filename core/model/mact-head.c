/* mact-head.c: the abstract kind of classification heads, holding mmaction2's BaseHead
 * logic: the loss with `loss_cls`, top-k accuracy for hard labels, multi-class and label
 * smoothing.
 *
 * One deliberate difference from mmaction2 0.x (documented in the README): label
 * smoothing also applies to single-label heads (0.x silently ignores it there, issues
 * #427/#1639; 1.x fixed it the same way: hard labels become one-hot, then smoothed). */
#include "mact-tensor-private.h"
#include "mact-cancel-private.h"

#include <math.h>

typedef struct {
  gint      num_classes;
  gint      in_channels;
  MactLoss *loss_cls;
  gboolean  multi_class;
  double    label_smooth_eps;
  GVariant *topk;
  gint     *topk_values;
  guint     n_topk;
} MactHeadPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactHead, mact_head, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_IN_CHANNELS,
  PROP_LOSS_CLS,
  PROP_MULTI_CLASS,
  PROP_LABEL_SMOOTH_EPS,
  PROP_TOPK,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_head_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  MactHeadPrivate *priv = mact_head_get_instance_private (MACT_HEAD (object));
  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      priv->num_classes = g_value_get_int (value);
      break;
    case PROP_IN_CHANNELS:
      priv->in_channels = g_value_get_int (value);
      break;
    case PROP_LOSS_CLS:
      g_set_object (&priv->loss_cls, g_value_get_object (value));
      break;
    case PROP_MULTI_CLASS:
      priv->multi_class = g_value_get_boolean (value);
      break;
    case PROP_LABEL_SMOOTH_EPS:
      priv->label_smooth_eps = g_value_get_double (value);
      break;
    case PROP_TOPK:
      g_clear_pointer (&priv->topk, g_variant_unref);
      priv->topk = g_value_dup_variant (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_head_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactHeadPrivate *priv = mact_head_get_instance_private (MACT_HEAD (object));
  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_int (value, priv->num_classes);
      break;
    case PROP_IN_CHANNELS:
      g_value_set_int (value, priv->in_channels);
      break;
    case PROP_LOSS_CLS:
      g_value_set_object (value, priv->loss_cls);
      break;
    case PROP_MULTI_CLASS:
      g_value_set_boolean (value, priv->multi_class);
      break;
    case PROP_LABEL_SMOOTH_EPS:
      g_value_set_double (value, priv->label_smooth_eps);
      break;
    case PROP_TOPK:
      g_value_set_variant (value, priv->topk);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_head_build (MactModule *module, GError **error)
{
  MactHead *self = MACT_HEAD (module);
  MactHeadPrivate *priv = mact_head_get_instance_private (self);
  const char *name = G_OBJECT_TYPE_NAME (self);

  if (!MACT_MODULE_CLASS (mact_head_parent_class)->build (module, error))
    return FALSE;
  if (priv->num_classes <= 0 || priv->in_channels <= 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: num_classes and in_channels must be positive (got %d and %d)",
                   name, priv->num_classes, priv->in_channels);
      return FALSE;
    }
  /* topk may be an int or a tuple; every k must be positive (BaseHead asserts). */
  gsize n = priv->topk ? g_variant_n_children (priv->topk) : 0;
  if (priv->topk != NULL && !g_variant_is_of_type (priv->topk, G_VARIANT_TYPE ("ax")))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: topk must be an integer or a tuple of integers", name);
      return FALSE;
    }
  priv->n_topk = (guint) n;
  priv->topk_values = g_new0 (gint, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      gint64 k;
      g_variant_get_child (priv->topk, i, "x", &k);
      if (k <= 0 || k > G_MAXINT)
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                       "%s: topk values must be positive, got %" G_GINT64_FORMAT, name, k);
          return FALSE;
        }
      priv->topk_values[i] = (gint) k;
    }
  if (priv->label_smooth_eps < 0.0 || priv->label_smooth_eps > 1.0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: label_smooth_eps must be in [0, 1], got %g", name,
                   priv->label_smooth_eps);
      return FALSE;
    }
  if (priv->loss_cls == NULL)
    {
      /* mmaction2's default loss_cls=dict(type='CrossEntropyLoss'), from the native family. */
      MactModule *loss = mact_registry_create_block (mact_registry_get_default (),
                                                     "CrossEntropyLoss", MACT_TYPE_LOSS,
                                                     0, NULL, NULL, error);
      if (loss == NULL)
        {
          g_prefix_error (error, "%s: default loss_cls: ", name);
          return FALSE;
        }
      priv->loss_cls = MACT_LOSS (loss);
    }
  mact_module_add_child (module, "loss_cls", MACT_MODULE (priv->loss_cls));
  return TRUE;
}

static void
mact_head_finalize (GObject *object)
{
  MactHeadPrivate *priv = mact_head_get_instance_private (MACT_HEAD (object));
  g_clear_object (&priv->loss_cls);
  g_clear_pointer (&priv->topk, g_variant_unref);
  g_free (priv->topk_values);
  G_OBJECT_CLASS (mact_head_parent_class)->finalize (object);
}

static void
mact_head_class_init (MactHeadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->set_property = mact_head_set_property;
  object_class->get_property = mact_head_get_property;
  object_class->finalize = mact_head_finalize;
  module_class->build = mact_head_build;

  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  /**
   * MactHead:num-classes:
   *
   * Number of classes (required).
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_int ("num-classes", NULL, NULL, 0, G_MAXINT, 0, flags | MACT_PARAM_REQUIRED);
  /**
   * MactHead:in-channels:
   *
   * Number of input feature channels (required).
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_int ("in-channels", NULL, NULL, 0, G_MAXINT, 0, flags | MACT_PARAM_REQUIRED);
  /**
   * MactHead:loss-cls:
   *
   * The classification loss; %NULL builds mmaction2's default CrossEntropyLoss.
   */
  properties[PROP_LOSS_CLS] =
    g_param_spec_object ("loss-cls", NULL, NULL, MACT_TYPE_LOSS, flags);
  /**
   * MactHead:multi-class:
   *
   * Whether labels are multi-hot (no top-k accuracy is reported then).
   */
  properties[PROP_MULTI_CLASS] =
    g_param_spec_boolean ("multi-class", NULL, NULL, FALSE, flags);
  /**
   * MactHead:label-smooth-eps:
   *
   * Label smoothing: labels become (1 - eps) * labels + eps / num_classes.
   */
  properties[PROP_LABEL_SMOOTH_EPS] =
    g_param_spec_double ("label-smooth-eps", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.0, flags);
  /**
   * MactHead:topk:
   *
   * The k of the reported top-k accuracies, an "ax" tuple (default (1, 5)).
   */
  /* The default must live in the pspec: GObject sets every construct-only property that
   * the caller did not give to its pspec default, after instance init. */
  const gint64 default_topk[] = { 1, 5 };
  properties[PROP_TOPK] =
    g_param_spec_variant ("topk", NULL, NULL, G_VARIANT_TYPE ("ax"),
                          g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, default_topk,
                                                     G_N_ELEMENTS (default_topk),
                                                     sizeof (gint64)),
                          flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_head_init (MactHead *self)
{
}

/**
 * mact_head_get_num_classes:
 * @self: a head
 *
 * Returns: the number of classes
 *
 * Since: 0.1
 */
gint
mact_head_get_num_classes (MactHead *self)
{
  g_return_val_if_fail (MACT_IS_HEAD (self), 0);
  MactHeadPrivate *priv = mact_head_get_instance_private (self);
  return priv->num_classes;
}

/**
 * mact_head_get_in_channels:
 * @self: a head
 *
 * Returns: the number of input channels
 *
 * Since: 0.1
 */
gint
mact_head_get_in_channels (MactHead *self)
{
  g_return_val_if_fail (MACT_IS_HEAD (self), 0);
  MactHeadPrivate *priv = mact_head_get_instance_private (self);
  return priv->in_channels;
}

/**
 * mact_head_get_loss_cls:
 * @self: a built head
 *
 * Returns: (transfer none): the classification loss
 *
 * Since: 0.1
 */
MactLoss *
mact_head_get_loss_cls (MactHead *self)
{
  g_return_val_if_fail (MACT_IS_HEAD (self), NULL);
  MactHeadPrivate *priv = mact_head_get_instance_private (self);
  return priv->loss_cls;
}

/**
 * mact_head_forward_head:
 * @self: a head
 * @inputs: (element-type MactTensor): features
 * @num_segs: segments folded into the batch, or 0 for None
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the class scores
 *
 * Since: 0.1
 */
MactTensor *
mact_head_forward_head (MactHead *self, GPtrArray *inputs, gint num_segs, GError **error)
{
  g_return_val_if_fail (MACT_IS_HEAD (self), NULL);
  g_return_val_if_fail (inputs != NULL, NULL);
  MactHeadClass *klass = MACT_HEAD_GET_CLASS (self);
  if (klass->forward_head == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "head %s does not implement forward_head", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  if (!mact_cancel_check (G_OBJECT_TYPE_NAME (self), error))
    return NULL;
  return klass->forward_head (self, inputs, num_segs, error);
}

/**
 * mact_head_forward_fcn:
 * @self: a head
 * @inputs: (element-type MactTensor): feature maps, [N, C, T, H, W] for the heads that
 *   have the mode
 * @error: return location for a #GError
 *
 * Fully-convolutional testing: mmaction2's `cls_head(x, fcn_test=True)`, score maps
 * instead of pooled scores (Recognizer2D's forward_test calls it when test_cfg has
 * `fcn_test`).  A head without that mode sets %MACT_MODULE_ERROR_NOT_IMPLEMENTED
 * (mmaction2 raises a TypeError on the unknown argument).
 *
 * Returns: (transfer full) (nullable): the class score maps
 *
 * Since: 0.1
 */
MactTensor *
mact_head_forward_fcn (MactHead *self, GPtrArray *inputs, GError **error)
{
  g_return_val_if_fail (MACT_IS_HEAD (self), NULL);
  g_return_val_if_fail (inputs != NULL, NULL);
  MactHeadClass *klass = MACT_HEAD_GET_CLASS (self);
  if (klass->forward_fcn == NULL)
    {
      const char *name = mact_registry_type_name_of (G_OBJECT_TYPE (self));
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "head %s has no fully-convolutional test (test_cfg fcn_test); "
                   "TPNHead has one", name != NULL ? name : G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  if (!mact_cancel_check (G_OBJECT_TYPE_NAME (self), error))
    return NULL;
  return klass->forward_fcn (self, inputs, error);
}

/**
 * mact_top_k_accuracy:
 * @scores: class scores [N, K]
 * @labels: hard labels [N] (class indices stored as floats)
 * @n_topk: number of k values
 * @topk: (array length=n_topk): the k values
 * @accuracies: (array length=n_topk) (out caller-allocates): the fraction of samples whose
 *   label is among the k highest scores, for each k
 * @error: return location for a #GError
 *
 * The `top_k_accuracy` of mmaction2.  Ties rank as numpy's stable argsort then reversed:
 * of equal scores, the higher class index counts as higher.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_top_k_accuracy (MactTensor *scores, MactTensor *labels, guint n_topk, const gint *topk,
                     double *accuracies, GError **error)
{
  g_return_val_if_fail (scores != NULL && labels != NULL, FALSE);
  gint64 n = mact_tensor_get_size (scores, 0), k_classes = mact_tensor_get_size (scores, 1);
  if (mact_tensor_get_ndim (scores) != 2 || mact_tensor_get_numel (labels) != n || n <= 0)
    {
      g_autofree char *ss = mact_tensor_shape_to_string (scores);
      g_autofree char *ls = mact_tensor_shape_to_string (labels);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "top_k_accuracy: scores %s and labels %s do not match ([N, K] and [N])",
                   ss, ls);
      return FALSE;
    }
  g_autofree float *s = g_new (float, n * k_classes);
  g_autofree float *l = g_new (float, n);
  mact_tensor_copy_to_array (scores, s);
  mact_tensor_copy_to_array (labels, l);
  g_autofree gint64 *rank = g_new (gint64, n);
  for (gint64 i = 0; i < n; i++)
    {
      double lv = l[i];
      if (lv != floor (lv) || lv < 0 || lv >= (double) k_classes)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "top_k_accuracy: label %g of sample %" G_GINT64_FORMAT
                       " is not a class index in [0, %" G_GINT64_FORMAT ")",
                       lv, i, k_classes);
          return FALSE;
        }
      gint64 y = (gint64) lv;
      float sy = s[i * k_classes + y];
      gint64 r = 0;
      for (gint64 c = 0; c < k_classes; c++)
        {
          float v = s[i * k_classes + c];
          if (v > sy || (v == sy && c > y))
            r++;
        }
      rank[i] = r;
    }
  for (guint j = 0; j < n_topk; j++)
    {
      gint64 hits = 0;
      for (gint64 i = 0; i < n; i++)
        hits += rank[i] < topk[j];
      accuracies[j] = (double) hits / (double) n;
    }
  return TRUE;
}

/**
 * mact_head_loss:
 * @self: a built head
 * @cls_score: scores [N, K]
 * @labels: hard labels [N] (or a 0-D label), or soft/multi-hot labels [N, K] (a [K]
 *   label with a batch of one is taken as soft)
 * @kwargs: (nullable): extra tensors passed on to the loss (aux_info)
 * @error: return location for a #GError
 *
 * The `BaseHead.loss` of mmaction2: `top{k}_acc` for hard labels of single-label heads,
 * label smoothing when `label-smooth-eps` is not 0, then `loss_cls`.
 *
 * Returns: (transfer full) (nullable): the losses (`top1_acc`, `top5_acc`, `loss_cls`)
 *
 * Since: 0.1
 */
MactTensorDict *
mact_head_loss (MactHead *self, MactTensor *cls_score, MactTensor *labels,
                MactTensorDict *kwargs, GError **error)
{
  g_return_val_if_fail (MACT_IS_HEAD (self), NULL);
  g_return_val_if_fail (cls_score != NULL && labels != NULL, NULL);
  MactHeadPrivate *priv = mact_head_get_instance_private (self);
  g_autoptr(MactTensorDict) losses = mact_tensor_dict_new ();
  g_autoptr(MactTensor) y = NULL;

  if (priv->loss_cls == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: loss() called on a head that was not built", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  if (mact_tensor_get_ndim (labels) == 0)
    y = mact_tensor_unsqueeze (labels, 0, error);
  else if (mact_tensor_get_ndim (labels) == 1 &&
           mact_tensor_get_size (labels, 0) == priv->num_classes &&
           mact_tensor_get_size (cls_score, 0) == 1)
    y = mact_tensor_unsqueeze (labels, 0, error);   /* a soft label of a batch of one */
  else
    y = mact_tensor_ref (labels);
  if (y == NULL)
    return NULL;

  gint nd_s, nd_y;
  const gint64 *ss = mact_tensor_get_shape (cls_score, &nd_s);
  const gint64 *sy = mact_tensor_get_shape (y, &nd_y);
  gboolean hard = !mact_shape_equal (nd_s, ss, nd_y, sy);

  if (!priv->multi_class && hard)
    {
      g_autofree double *acc = g_new (double, MAX (priv->n_topk, 1));
      g_autoptr(MactTensor) flat = mact_tensor_squeeze_all (y, error);
      g_autoptr(MactTensor) flat1 = flat && mact_tensor_get_ndim (flat) == 0
                                    ? mact_tensor_unsqueeze (flat, 0, error) : NULL;
      g_autoptr(MactTensor) detached = mact_tensor_detach (cls_score);
      if (flat == NULL ||
          !mact_top_k_accuracy (detached, flat1 ? flat1 : flat, priv->n_topk,
                                priv->topk_values, acc, error))
        return NULL;
      for (guint i = 0; i < priv->n_topk; i++)
        {
          g_autofree char *key = g_strdup_printf ("top%d_acc", priv->topk_values[i]);
          mact_tensor_dict_insert_float (losses, key, (float) acc[i]);
        }
    }

  if (priv->label_smooth_eps != 0.0)
    {
      g_autoptr(MactTensor) soft = NULL;
      if (hard)
        {
          soft = mact_one_hot (y, priv->num_classes, error);
          if (soft == NULL)
            return NULL;
        }
      else
        soft = mact_tensor_ref (y);
      float eps = (float) priv->label_smooth_eps;
      g_autoptr(MactTensor) scaled = mact_mul_scalar (soft, 1.0f - eps);
      g_clear_pointer (&y, mact_tensor_unref);
      y = mact_add_scalar (scaled, eps / (float) priv->num_classes);
    }

  g_autoptr(MactTensor) loss = mact_loss_compute (priv->loss_cls, cls_score, y, kwargs, error);
  if (loss == NULL)
    return NULL;
  mact_tensor_dict_insert (losses, "loss_cls", loss);
  return g_steal_pointer (&losses);
}
