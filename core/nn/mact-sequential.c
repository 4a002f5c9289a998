/* mact-sequential.c: MactSequential, PyTorch's nn.Sequential. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"

/**
 * MactSequential:
 *
 * A chain of modules (PyTorch's `nn.Sequential`): children are named "0", "1", ... in
 * the order they are appended, so their keys are `0.weight`, `1.running_mean`, ...; the
 * outputs of each child are the inputs of the next.  An empty chain returns its inputs.
 *
 * Since: 0.1
 */
struct _MactSequential
{
  MactModule parent_instance;
};

G_DEFINE_FINAL_TYPE (MactSequential, mact_sequential, MACT_TYPE_MODULE)

static GPtrArray *
mact_sequential_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  /* Children are walked by position at each call, so a replaced child takes part. */
  g_autoptr(GPtrArray) current = g_ptr_array_new_full (inputs->len,
                                                       (GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < inputs->len; i++)
    g_ptr_array_add (current, mact_tensor_ref (g_ptr_array_index (inputs, i)));

  guint n = mact_nn_get_n_children (module);
  for (guint i = 0; i < n; i++)
    {
      GPtrArray *next = mact_module_forward (mact_nn_get_child_at (module, i), current,
                                             error);
      if (next == NULL)
        return NULL;
      g_ptr_array_unref (current);
      current = next;
    }
  return g_steal_pointer (&current);
}

static void
mact_sequential_class_init (MactSequentialClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_sequential_forward;
}

static void
mact_sequential_init (MactSequential *self)
{
}

/**
 * mact_sequential_new:
 *
 * Creates an empty chain (see #MactSequential); fill it with mact_sequential_append().
 *
 * Returns: (transfer full): the chain
 *
 * Since: 0.1
 */
MactModule *
mact_sequential_new (void)
{
  /* No properties and nothing to build: cannot fail. */
  return mact_module_new_with_properties (MACT_TYPE_SEQUENTIAL, 0, NULL, NULL, NULL);
}

/**
 * mact_sequential_append:
 * @self: a chain
 * @child: the module to run last; a reference is taken
 *
 * Appends @child under the next index as its name ("0" for the first).
 *
 * Since: 0.1
 */
void
mact_sequential_append (MactSequential *self, MactModule *child)
{
  g_return_if_fail (MACT_IS_SEQUENTIAL (self));
  g_return_if_fail (MACT_IS_MODULE (child));
  MactModule *module = MACT_MODULE (self);
  char name[16];
  g_snprintf (name, sizeof name, "%u", mact_nn_get_n_children (module));
  mact_module_add_child (module, name, child);
}

/**
 * mact_sequential_get_length:
 * @self: a chain
 *
 * Returns: the number of modules in the chain
 *
 * Since: 0.1
 */
guint
mact_sequential_get_length (MactSequential *self)
{
  g_return_val_if_fail (MACT_IS_SEQUENTIAL (self), 0);
  return mact_nn_get_n_children (MACT_MODULE (self));
}
