/* mact-native-blending-utils.c: input checks, row mixing and the plain-module forward of
 * the native blendings.
 *
 * Blending is data augmentation: the results are fresh tensors with no autograd history,
 * and the caller's tensors are never modified (mmaction2's CutmixBlending pastes into the
 * batch in place; mact returns a new batch instead). */
#include "mact-native-blending-utils.h"

/**
 * mact_native_blending_check:
 * @block: the blending's type name, for messages
 * @imgs: the batch [B, ..., H, W]
 * @label: the one-hot labels
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @label is [B, K] for @imgs' batch size B, else sets
 *   %MACT_MODULE_ERROR_INVALID_INPUT
 */
gboolean
mact_native_blending_check (const char *block, MactTensor *imgs, MactTensor *label,
                            GError **error)
{
  if (mact_tensor_get_ndim (imgs) < 3 || mact_tensor_get_ndim (label) != 2 ||
      mact_tensor_get_size (label, 0) != mact_tensor_get_size (imgs, 0) ||
      mact_tensor_get_numel (imgs) == 0)
    {
      g_autofree char *is = mact_tensor_shape_to_string (imgs);
      g_autofree char *ls = mact_tensor_shape_to_string (label);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected images [B, ..., H, W] and one-hot labels [B, K], got %s and %s",
                   block, is, ls);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_native_mix_rows:
 * @t: a tensor [B, ...]
 * @perm: (array): a permutation of the B rows
 * @lam: the mixing weight
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): `lam * t + (1 - lam) * t[perm]`, a new tensor
 */
MactTensor *
mact_native_mix_rows (MactTensor *t, const gint64 *perm, float lam, GError **error)
{
  g_autoptr(MactTensor) src = mact_tensor_contiguous (t);
  MactTensor *out = mact_tensor_new_like (src, error);
  if (out == NULL)
    return NULL;
  const gint64 rows = mact_tensor_get_size (src, 0);
  const gint64 row = rows > 0 ? mact_tensor_get_numel (src) / rows : 0;
  const float *s = mact_tensor_get_data (src);
  float *d = mact_tensor_get_data (out);
  const float other = 1.0f - lam;
  for (gint64 b = 0; b < rows; b++)
    {
      const float *a = s + b * row, *p = s + perm[b] * row;
      float *o = d + b * row;
      for (gint64 i = 0; i < row; i++)
        o[i] = lam * a[i] + other * p[i];
    }
  return out;
}

/**
 * mact_native_blending_forward:
 * @module: a #MactBlending
 * @inputs: (element-type MactTensor): `[imgs, label]` (hard labels)
 * @error: return location for a #GError
 *
 * The forward of the native blendings as plain modules: mact_blending_apply().
 *
 * Returns: (transfer full) (element-type MactTensor) (nullable): `[imgs, label]`, blended
 */
GPtrArray *
mact_native_blending_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (inputs->len != 2)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected two inputs (imgs, label), got %u",
                   G_OBJECT_TYPE_NAME (module), inputs->len);
      return NULL;
    }
  MactTensor *imgs = NULL, *label = NULL;
  if (!mact_blending_apply (MACT_BLENDING (module), g_ptr_array_index (inputs, 0),
                            g_ptr_array_index (inputs, 1), &imgs, &label, error))
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, imgs);
  g_ptr_array_add (outputs, label);
  return outputs;
}
