/* mact-tensor-dict.c: an ordered name -> tensor map (keys in insertion order). */
#include "mact-tensor-private.h"

struct _MactTensorDict {
  gint        ref_count;
  GPtrArray  *keys;      /* char*, owned */
  GPtrArray  *values;    /* MactTensor*, owned */
  GHashTable *index;     /* key (borrowed from keys) -> position + 1 */
};

G_DEFINE_BOXED_TYPE (MactTensorDict, mact_tensor_dict, mact_tensor_dict_ref,
                     mact_tensor_dict_unref)

/**
 * mact_tensor_dict_new:
 *
 * Returns: (transfer full): an empty dict
 *
 * Since: 0.1
 */
MactTensorDict *
mact_tensor_dict_new (void)
{
  MactTensorDict *self = g_new0 (MactTensorDict, 1);
  self->ref_count = 1;
  self->keys = g_ptr_array_new_with_free_func (g_free);
  self->values = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  self->index = g_hash_table_new (g_str_hash, g_str_equal);
  return self;
}

/**
 * mact_tensor_dict_ref:
 * @self: a dict
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
MactTensorDict *
mact_tensor_dict_ref (MactTensorDict *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * mact_tensor_dict_unref:
 * @self: (transfer full): a dict
 *
 * Since: 0.1
 */
void
mact_tensor_dict_unref (MactTensorDict *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;
  g_hash_table_unref (self->index);
  g_ptr_array_unref (self->keys);
  g_ptr_array_unref (self->values);
  g_free (self);
}

/**
 * mact_tensor_dict_insert:
 * @self: a dict
 * @key: the name
 * @tensor: the tensor (a reference is taken)
 *
 * Adds @key at the end, or replaces the tensor of an existing @key in its place.
 *
 * Since: 0.1
 */
void
mact_tensor_dict_insert (MactTensorDict *self, const char *key, MactTensor *tensor)
{
  g_return_if_fail (self != NULL && key != NULL && tensor != NULL);
  guint pos = GPOINTER_TO_UINT (g_hash_table_lookup (self->index, key));
  mact_tensor_ref (tensor);
  if (pos > 0)
    {
      mact_tensor_unref (self->values->pdata[pos - 1]);
      self->values->pdata[pos - 1] = tensor;
      return;
    }
  char *k = g_strdup (key);
  g_ptr_array_add (self->keys, k);
  g_ptr_array_add (self->values, tensor);
  g_hash_table_insert (self->index, k, GUINT_TO_POINTER (self->keys->len));
}

/**
 * mact_tensor_dict_insert_float:
 * @self: a dict
 * @key: the name
 * @value: a value, stored as a 0-D tensor
 *
 * Since: 0.1
 */
void
mact_tensor_dict_insert_float (MactTensorDict *self, const char *key, float value)
{
  g_autoptr(MactTensor) t = mact_tensor_new_scalar (value);
  mact_tensor_dict_insert (self, key, t);
}

/**
 * mact_tensor_dict_lookup:
 * @self: a dict
 * @key: the name
 *
 * Returns: (transfer none) (nullable): the tensor of @key, or %NULL
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_dict_lookup (MactTensorDict *self, const char *key)
{
  g_return_val_if_fail (self != NULL && key != NULL, NULL);
  guint pos = GPOINTER_TO_UINT (g_hash_table_lookup (self->index, key));
  return pos > 0 ? self->values->pdata[pos - 1] : NULL;
}

/**
 * mact_tensor_dict_contains:
 * @self: a dict
 * @key: the name
 *
 * Returns: whether @key is present
 *
 * Since: 0.1
 */
gboolean
mact_tensor_dict_contains (MactTensorDict *self, const char *key)
{
  return mact_tensor_dict_lookup (self, key) != NULL;
}

/**
 * mact_tensor_dict_remove:
 * @self: a dict
 * @key: the name
 *
 * Removes @key, keeping the order of the others.
 *
 * Returns: whether @key was present
 *
 * Since: 0.1
 */
gboolean
mact_tensor_dict_remove (MactTensorDict *self, const char *key)
{
  g_return_val_if_fail (self != NULL && key != NULL, FALSE);
  guint pos = GPOINTER_TO_UINT (g_hash_table_lookup (self->index, key));
  if (pos == 0)
    return FALSE;
  g_hash_table_remove (self->index, key);
  g_ptr_array_remove_index (self->keys, pos - 1);
  g_ptr_array_remove_index (self->values, pos - 1);
  for (guint i = pos - 1; i < self->keys->len; i++)
    g_hash_table_insert (self->index, self->keys->pdata[i], GUINT_TO_POINTER (i + 1));
  return TRUE;
}

/**
 * mact_tensor_dict_get_size:
 * @self: a dict
 *
 * Returns: the number of entries
 *
 * Since: 0.1
 */
guint
mact_tensor_dict_get_size (MactTensorDict *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->keys->len;
}

/**
 * mact_tensor_dict_get_key:
 * @self: a dict
 * @index: a position, less than the size
 *
 * Returns: (transfer none): the key at @index, in insertion order
 *
 * Since: 0.1
 */
const char *
mact_tensor_dict_get_key (MactTensorDict *self, guint index)
{
  g_return_val_if_fail (self != NULL && index < self->keys->len, NULL);
  return self->keys->pdata[index];
}

/**
 * mact_tensor_dict_get_value:
 * @self: a dict
 * @index: a position, less than the size
 *
 * Returns: (transfer none): the tensor at @index
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_dict_get_value (MactTensorDict *self, guint index)
{
  g_return_val_if_fail (self != NULL && index < self->values->len, NULL);
  return self->values->pdata[index];
}

/**
 * mact_tensor_dict_get_keys:
 * @self: a dict
 *
 * Returns: (transfer full) (array zero-terminated=1): the keys in order
 *
 * Since: 0.1
 */
gchar **
mact_tensor_dict_get_keys (MactTensorDict *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  gchar **keys = g_new0 (gchar *, self->keys->len + 1);
  for (guint i = 0; i < self->keys->len; i++)
    keys[i] = g_strdup (self->keys->pdata[i]);
  return keys;
}

/**
 * mact_tensor_dict_get_float:
 * @self: a dict
 * @key: the name of a one-element tensor
 * @value: (out): its value
 *
 * Returns: %TRUE if @key exists and holds exactly one element
 *
 * Since: 0.1
 */
gboolean
mact_tensor_dict_get_float (MactTensorDict *self, const char *key, float *value)
{
  MactTensor *t = mact_tensor_dict_lookup (self, key);
  if (t == NULL || mact_tensor_get_numel (t) != 1)
    return FALSE;
  *value = mact_tensor_data (t)[0];
  return TRUE;
}

/**
 * mact_tensor_dict_update:
 * @self: a dict
 * @other: entries to insert into @self, in their order
 *
 * As Python's `dict.update`.
 *
 * Since: 0.1
 */
void
mact_tensor_dict_update (MactTensorDict *self, MactTensorDict *other)
{
  g_return_if_fail (self != NULL && other != NULL);
  for (guint i = 0; i < other->keys->len; i++)
    mact_tensor_dict_insert (self, other->keys->pdata[i], other->values->pdata[i]);
}
