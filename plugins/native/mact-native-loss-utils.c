/* mact-native-loss-utils.c: what CrossEntropyLoss and BCELossWithLogits share: the
 * class_weight list as a tensor, the `weight` kwarg mmaction2 forwards to PyTorch's
 * functional losses, and the plain-module forward. */
#include "mact-native-loss-utils.h"

#include <math.h>

/**
 * mact_native_class_weight_new:
 * @class_weight: (nullable): the `class_weight` property, an "ad" array
 * @block: the loss's type name, for messages
 * @out: (out) (transfer full) (nullable): the weights as a [C] tensor, or %NULL when
 *   @class_weight is %NULL
 * @error: return location for a #GError
 *
 * Validates and converts a class_weight list (non-empty, finite values).
 *
 * Returns: %TRUE on success
 */
gboolean
mact_native_class_weight_new (GVariant *class_weight, const char *block, MactTensor **out,
                              GError **error)
{
  *out = NULL;
  if (class_weight == NULL)
    return TRUE;
  gsize n = 0;
  const double *values = g_variant_get_fixed_array (class_weight, &n, sizeof (double));
  if (n == 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: class_weight must not be empty", block);
      return FALSE;
    }
  g_autofree float *data = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    {
      if (!isfinite (values[i]))
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                       "%s: class_weight[%" G_GSIZE_FORMAT "] is not finite", block, i);
          return FALSE;
        }
      data[i] = (float) values[i];
    }
  const gint64 shape[] = { (gint64) n };
  *out = mact_tensor_new_from_data (data, n, 1, shape, error);
  return *out != NULL;
}

/**
 * mact_native_check_class_weight:
 * @block: the loss's type name, for messages
 * @class_weight: (nullable): the [C] class weights
 * @cls_score: the scores, classes on dim 1
 * @error: return location for a #GError
 *
 * Returns: %TRUE when there are no class weights or one per class of @cls_score, else
 *   sets %MACT_MODULE_ERROR_INVALID_INPUT
 */
gboolean
mact_native_check_class_weight (const char *block, MactTensor *class_weight,
                                MactTensor *cls_score, GError **error)
{
  if (class_weight == NULL)
    return TRUE;
  gint64 classes = mact_tensor_get_ndim (cls_score) >= 2 ? mact_tensor_get_size (cls_score, 1)
                                                         : -1;
  if (mact_tensor_get_numel (class_weight) != classes)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (cls_score);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: class_weight has %" G_GINT64_FORMAT " entries but the scores %s have "
                   "%" G_GINT64_FORMAT " classes", block, mact_tensor_get_numel (class_weight),
                   shape, classes);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_native_loss_weight_arg:
 * @block: the loss's type name, for messages
 * @class_weight: (nullable): the loss's own class weights
 * @kwargs: (nullable): the extra arguments of the call
 * @weight: (out) (transfer none) (nullable): the weight to pass to the PyTorch-style op
 * @error: return location for a #GError
 *
 * mmaction2 passes a loss's extra kwargs on to F.cross_entropy / F.binary_cross_entropy_
 * with_logits, whose only tensor argument is `weight`; a class_weight fills it, and both
 * together are refused ("The key 'weight' already exists").  Other names are refused.
 *
 * Returns: %TRUE on success
 */
gboolean
mact_native_loss_weight_arg (const char *block, MactTensor *class_weight,
                             MactTensorDict *kwargs, MactTensor **weight, GError **error)
{
  *weight = class_weight;
  guint n = kwargs != NULL ? mact_tensor_dict_get_size (kwargs) : 0;
  for (guint i = 0; i < n; i++)
    {
      const char *key = mact_tensor_dict_get_key (kwargs, i);
      if (!g_str_equal (key, "weight"))
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                       "%s: unexpected extra argument \"%s\" (only \"weight\" is accepted)",
                       block, key);
          return FALSE;
        }
      if (class_weight != NULL)
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                       "%s: extra argument \"weight\" given, but class_weight already sets it",
                       block);
          return FALSE;
        }
      *weight = mact_tensor_dict_get_value (kwargs, i);
    }
  return TRUE;
}

/**
 * mact_native_loss_forward:
 * @module: a #MactLoss
 * @inputs: (element-type MactTensor): `[cls_score, label]`
 * @error: return location for a #GError
 *
 * The forward of the native losses as plain modules: mact_loss_compute() with no kwargs.
 *
 * Returns: (transfer full) (element-type MactTensor) (nullable): the weighted loss
 */
GPtrArray *
mact_native_loss_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (inputs->len != 2)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected two inputs (cls_score, label), got %u",
                   G_OBJECT_TYPE_NAME (module), inputs->len);
      return NULL;
    }
  MactTensor *loss = mact_loss_compute (MACT_LOSS (module), g_ptr_array_index (inputs, 0),
                                        g_ptr_array_index (inputs, 1), NULL, error);
  if (loss == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, loss);
  return outputs;
}
