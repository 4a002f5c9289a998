/* mact-identity.c: MactIdentity, PyTorch's nn.Identity. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactIdentity:
 *
 * A layer that returns its inputs unchanged (the same tensors, any number of them).
 * mmaction2 puts one in place of a torchvision model's `fc` or `classifier`, so that
 * the backbone returns features; it has no parameters, so the replaced layer's keys
 * disappear from the state dict.
 *
 * Since: 0.1
 */
struct _MactIdentity
{
  MactModule parent_instance;
};

G_DEFINE_FINAL_TYPE (MactIdentity, mact_identity, MACT_TYPE_MODULE)

static GPtrArray *
mact_identity_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  GPtrArray *outputs = g_ptr_array_new_full (inputs->len,
                                             (GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < inputs->len; i++)
    g_ptr_array_add (outputs, mact_tensor_ref (g_ptr_array_index (inputs, i)));
  return outputs;
}

static void
mact_identity_class_init (MactIdentityClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_identity_forward;
}

static void
mact_identity_init (MactIdentity *self)
{
}

/**
 * mact_identity_new:
 *
 * Creates an identity layer (see #MactIdentity).
 *
 * Returns: (transfer full): the layer
 *
 * Since: 0.1
 */
MactModule *
mact_identity_new (void)
{
  /* No properties and nothing to build: cannot fail. */
  return mact_module_new_with_properties (MACT_TYPE_IDENTITY, 0, NULL, NULL, NULL);
}
