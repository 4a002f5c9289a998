/* mact-tensor-dict.h: an ordered, refcounted map from names to tensors. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>

G_BEGIN_DECLS

/**
 * MactTensorDict:
 *
 * An ordered map from names to tensors: state dicts (`backbone.conv1.weight` → tensor),
 * loss dicts (`loss_cls`, `top1_acc`), data batches (`imgs`, `label`, aux_info keys) and
 * log vars.  Keys keep their insertion order, as Python dicts do; inserting an existing
 * key replaces its tensor in place.
 *
 * Since: 0.1
 */
typedef struct _MactTensorDict MactTensorDict;

#define MACT_TYPE_TENSOR_DICT (mact_tensor_dict_get_type ())
MACT_AVAILABLE_IN_0_1
GType           mact_tensor_dict_get_type   (void) G_GNUC_CONST;

MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_tensor_dict_new        (void);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_tensor_dict_ref        (MactTensorDict *self);
MACT_AVAILABLE_IN_0_1
void            mact_tensor_dict_unref      (MactTensorDict *self);
MACT_AVAILABLE_IN_0_1
void            mact_tensor_dict_insert     (MactTensorDict *self,
                                             const char     *key,
                                             MactTensor     *tensor);
MACT_AVAILABLE_IN_0_1
void            mact_tensor_dict_insert_float (MactTensorDict *self,
                                               const char     *key,
                                               float           value);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_tensor_dict_lookup     (MactTensorDict *self,
                                             const char     *key);
MACT_AVAILABLE_IN_0_1
gboolean        mact_tensor_dict_contains   (MactTensorDict *self,
                                             const char     *key);
MACT_AVAILABLE_IN_0_1
gboolean        mact_tensor_dict_remove     (MactTensorDict *self,
                                             const char     *key);
MACT_AVAILABLE_IN_0_1
guint           mact_tensor_dict_get_size   (MactTensorDict *self);
MACT_AVAILABLE_IN_0_1
const char     *mact_tensor_dict_get_key    (MactTensorDict *self,
                                             guint           index);
MACT_AVAILABLE_IN_0_1
MactTensor     *mact_tensor_dict_get_value  (MactTensorDict *self,
                                             guint           index);
MACT_AVAILABLE_IN_0_1
gchar         **mact_tensor_dict_get_keys   (MactTensorDict *self);
MACT_AVAILABLE_IN_0_1
gboolean        mact_tensor_dict_get_float  (MactTensorDict *self,
                                             const char     *key,
                                             float          *value);
MACT_AVAILABLE_IN_0_1
void            mact_tensor_dict_update     (MactTensorDict *self,
                                             MactTensorDict *other);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactTensorDict, mact_tensor_dict_unref)

G_END_DECLS
