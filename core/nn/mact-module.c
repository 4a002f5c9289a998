/* mact-module.c: MactModule, the GObject base of every block (PyTorch's nn.Module).
 *
 * A module owns three ordered lists: its own parameters, its own buffers and its named
 * children.  The order is the registration order, so that state-dict keys come out in
 * PyTorch's order (own parameters, own buffers, then each child recursively) and a real
 * checkpoint's keys line up with no renaming.
 *
 * Construction is two-step, through #GInitable: GObject sets the construct properties,
 * then g_initable_init() calls the class's build() once, which validates them and creates
 * the parameters, buffers and children.  This way a bad argument is a #GError rather than
 * a critical, and bindings can build any block from its type name and properties. */
#include "mact-tensor-private.h"
#include "mact-module-private.h"
#include "mact-cancel-private.h"

#include <math.h>

G_DEFINE_QUARK (mact-module-error-quark, mact_module_error)

/* ------------------------------------------------------------------ cancellation */

/* Borrowed: the scope that set it holds a reference until it ends. */
static _Thread_local GCancellable *thread_cancellable;

GCancellable *
mact_cancel_scope_begin (GCancellable *cancellable)
{
  GCancellable *previous = thread_cancellable;
  if (cancellable != NULL)
    thread_cancellable = cancellable;
  return previous;
}

void
mact_cancel_scope_end (GCancellable *previous)
{
  thread_cancellable = previous;
}

gboolean
mact_cancel_check (const char *what, GError **error)
{
  if (G_LIKELY (thread_cancellable == NULL) || !g_cancellable_is_cancelled (thread_cancellable))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: cancelled", what);
  return FALSE;
}

typedef struct {
  char       *name;
  MactTensor *tensor;     /* NULL: registered as absent, as PyTorch's `bias=None` */
} NamedTensor;

typedef struct {
  char       *name;
  MactModule *module;
} NamedChild;

typedef struct {
  gulong          id;
  MactForwardHook func;
  gpointer        user_data;
  GDestroyNotify  destroy;
} ForwardHook;

typedef enum {
  BUILD_PENDING,
  BUILD_DONE,
  BUILD_FAILED,
} BuildState;

typedef struct {
  GArray     *parameters;   /* NamedTensor */
  GArray     *buffers;      /* NamedTensor */
  GArray     *children;     /* NamedChild */
  GArray     *hooks;        /* ForwardHook */
  gulong      next_hook_id;
  gboolean    training;
  BuildState  build_state;
  GError     *build_error;  /* the first build's error, returned by later inits */
} MactModulePrivate;

/**
 * MactModule:
 *
 * The base of every block, as PyTorch's `nn.Module`: ordered parameters, buffers and
 * named children whose state dict has PyTorch's keys, a train/eval mode, forward hooks
 * and a forward that takes and returns arrays of tensors.
 *
 * Blocks are built from construct properties through #GInitable (see
 * mact_module_new_with_properties()): the class's build() runs once, validates the
 * properties and creates the parameters, buffers and children, reporting a bad argument
 * as a #GError.  A plain #MactModule has no forward and serves as a container
 * (PyTorch's `ModuleList`/`ModuleDict`).
 *
 * Since: 0.1
 */

static void mact_module_initable_iface_init (GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE (MactModule, mact_module, G_TYPE_OBJECT,
                         G_ADD_PRIVATE (MactModule)
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                mact_module_initable_iface_init))

static void
named_tensor_clear (gpointer data)
{
  NamedTensor *entry = data;
  g_clear_pointer (&entry->name, g_free);
  g_clear_pointer (&entry->tensor, mact_tensor_unref);
}

static void
named_child_clear (gpointer data)
{
  NamedChild *entry = data;
  g_clear_pointer (&entry->name, g_free);
  g_clear_object (&entry->module);
}

static void
forward_hook_clear (gpointer data)
{
  ForwardHook *hook = data;
  if (hook->destroy)
    hook->destroy (hook->user_data);
  hook->destroy = NULL;
}

static gboolean
mact_module_real_build (MactModule *self, GError **error)
{
  return TRUE;
}

static gboolean
mact_module_real_init_weights (MactModule *self, MactGenerator *generator, GError **error)
{
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  for (guint i = 0; i < priv->children->len; i++)
    {
      MactModule *child = g_array_index (priv->children, NamedChild, i).module;
      if (!mact_module_init_weights (child, generator, error))
        return FALSE;
    }
  return TRUE;
}

static void
mact_module_real_set_training (MactModule *self, gboolean training)
{
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  priv->training = training;
  for (guint i = 0; i < priv->children->len; i++)
    mact_module_train (g_array_index (priv->children, NamedChild, i).module, training);
}

static gboolean
mact_module_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  MactModule *self = MACT_MODULE (initable);
  MactModulePrivate *priv = mact_module_get_instance_private (self);

  /* GInitable asks that a repeated init give the first result, and build() must not
   * create parameters twice. */
  switch (priv->build_state)
    {
    case BUILD_DONE:
      return TRUE;
    case BUILD_FAILED:
      g_propagate_error (error, g_error_copy (priv->build_error));
      return FALSE;
    case BUILD_PENDING:
    default:
      break;
    }

  MactModuleClass *klass = MACT_MODULE_GET_CLASS (self);
  GError *local = NULL;
  if (klass->build == NULL || klass->build (self, &local))
    {
      priv->build_state = BUILD_DONE;
      return TRUE;
    }
  if (local == NULL)
    local = g_error_new (MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                         "%s: build failed without saying why", G_OBJECT_TYPE_NAME (self));
  priv->build_state = BUILD_FAILED;
  priv->build_error = g_error_copy (local);
  g_propagate_error (error, local);
  return FALSE;
}

static void
mact_module_initable_iface_init (GInitableIface *iface)
{
  iface->init = mact_module_initable_init;
}

static void
mact_module_dispose (GObject *object)
{
  MactModulePrivate *priv = mact_module_get_instance_private (MACT_MODULE (object));
  /* Children and hook data may point back at us; drop them here to break cycles. */
  g_array_set_size (priv->hooks, 0);
  g_array_set_size (priv->children, 0);
  G_OBJECT_CLASS (mact_module_parent_class)->dispose (object);
}

static void
mact_module_finalize (GObject *object)
{
  MactModulePrivate *priv = mact_module_get_instance_private (MACT_MODULE (object));
  g_array_unref (priv->parameters);
  g_array_unref (priv->buffers);
  g_array_unref (priv->children);
  g_array_unref (priv->hooks);
  g_clear_error (&priv->build_error);
  G_OBJECT_CLASS (mact_module_parent_class)->finalize (object);
}

static void
mact_module_class_init (MactModuleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = mact_module_dispose;
  object_class->finalize = mact_module_finalize;
  klass->build = mact_module_real_build;
  klass->init_weights = mact_module_real_init_weights;
  klass->set_training = mact_module_real_set_training;
}

static void
mact_module_init (MactModule *self)
{
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  priv->parameters = g_array_new (FALSE, TRUE, sizeof (NamedTensor));
  g_array_set_clear_func (priv->parameters, named_tensor_clear);
  priv->buffers = g_array_new (FALSE, TRUE, sizeof (NamedTensor));
  g_array_set_clear_func (priv->buffers, named_tensor_clear);
  priv->children = g_array_new (FALSE, TRUE, sizeof (NamedChild));
  g_array_set_clear_func (priv->children, named_child_clear);
  priv->hooks = g_array_new (FALSE, TRUE, sizeof (ForwardHook));
  g_array_set_clear_func (priv->hooks, forward_hook_clear);
  priv->next_hook_id = 1;
  priv->training = TRUE;
  priv->build_state = BUILD_PENDING;
}

/* ---- construction ---- */

/**
 * mact_module_new_with_properties:
 * @type: a non-abstract #MactModule subtype
 * @n_properties: the number of properties
 * @names: (array length=n_properties) (nullable): the property names
 * @values: (array length=n_properties) (nullable): the property values
 * @error: return location for a #GError, or %NULL
 *
 * Creates a block of @type with the given construct properties and builds it (through
 * g_initable_init(), which calls the class's build() once).  This is how configs and
 * bindings create any block from its type and arguments.
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT for a name that is not a writable property
 * of @type or a value that does not convert to the property's type; otherwise whatever
 * the type's build() reports, typically %MACT_MODULE_ERROR_INVALID_ARGUMENT naming the
 * block and the argument.
 *
 * Returns: (transfer full) (nullable): the built module, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_module_new_with_properties (GType type, guint n_properties, const char **names,
                                 const GValue *values, GError **error)
{
  g_return_val_if_fail (g_type_is_a (type, MACT_TYPE_MODULE), NULL);
  g_return_val_if_fail (!G_TYPE_IS_ABSTRACT (type), NULL);
  g_return_val_if_fail (n_properties == 0 || (names != NULL && values != NULL), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* g_object_new_with_properties() only warns about unknown names and mistyped values
   * and then builds the block without them; names and values from bindings or other
   * programs are input, so they are checked here and reported. */
  const char *block = mact_registry_type_name_of (type);
  if (block == NULL)
    block = g_type_name (type);
  g_autoptr(GTypeClass) klass = g_type_class_ref (type);
  for (guint i = 0; i < n_properties; i++)
    {
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), names[i]);
      if (pspec == NULL || (pspec->flags & G_PARAM_WRITABLE) == 0)
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                       "%s: no writable property \"%s\"", block, names[i]);
          return NULL;
        }
      if (!g_value_type_transformable (G_VALUE_TYPE (&values[i]), pspec->value_type))
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                       "%s: property \"%s\" expects %s, got %s", block, names[i],
                       g_type_name (pspec->value_type), G_VALUE_TYPE_NAME (&values[i]));
          return NULL;
        }
    }

  g_autoptr(GObject) object = g_object_new_with_properties (type, n_properties, names,
                                                            values);
  if (!g_initable_init (G_INITABLE (object), NULL, error))
    return NULL;
  return MACT_MODULE (g_steal_pointer (&object));
}

/**
 * mact_module_new: (skip)
 * @type: a non-abstract #MactModule subtype
 * @error: return location for a #GError, or %NULL
 * @first_property_name: (nullable): the name of the first property, or %NULL for none
 * @...: the value of the first property, then more name/value pairs, ending with %NULL
 *
 * C convenience for mact_module_new_with_properties(), taking properties as
 * g_object_new() does.
 *
 * Returns: (transfer full) (nullable): the built module, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_module_new (GType type, GError **error, const char *first_property_name, ...)
{
  g_return_val_if_fail (g_type_is_a (type, MACT_TYPE_MODULE), NULL);
  g_return_val_if_fail (!G_TYPE_IS_ABSTRACT (type), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  va_list args;
  va_start (args, first_property_name);
  GObject *object = g_initable_new_valist (type, first_property_name, args, NULL, error);
  va_end (args);
  return object != NULL ? MACT_MODULE (object) : NULL;
}

/* ---- structure ---- */

static gboolean
name_is_valid (const char *name)
{
  /* Dots and slashes separate path components in keys and submodule paths. */
  return name != NULL && *name != '\0' && strchr (name, '.') == NULL &&
         strchr (name, '/') == NULL;
}

static NamedTensor *
find_tensor (GArray *array, const char *name)
{
  for (guint i = 0; i < array->len; i++)
    {
      NamedTensor *entry = &g_array_index (array, NamedTensor, i);
      if (g_str_equal (entry->name, name))
        return entry;
    }
  return NULL;
}

static NamedChild *
find_child (MactModulePrivate *priv, const char *name)
{
  for (guint i = 0; i < priv->children->len; i++)
    {
      NamedChild *entry = &g_array_index (priv->children, NamedChild, i);
      if (g_str_equal (entry->name, name))
        return entry;
    }
  return NULL;
}

/* Parameters are leaves that train: a tensor computed by a recorded op is cut from its
 * graph first (sharing its storage), as nn.Parameter does. */
static MactTensor *
make_parameter (MactTensor *tensor, gboolean requires_grad)
{
  MactTensor *param = mact_tensor_is_leaf (tensor) ? mact_tensor_ref (tensor)
                                                   : mact_tensor_detach (tensor);
  /* Cannot fail: param is a leaf. */
  mact_tensor_set_requires_grad (param, requires_grad, NULL);
  return param;
}

static void
set_tensor_entry (GArray *array, const char *name, MactTensor *tensor)
{
  NamedTensor *entry = find_tensor (array, name);
  if (entry != NULL)
    {
      /* Re-registering keeps the position, as assigning an attribute again does. */
      g_clear_pointer (&entry->tensor, mact_tensor_unref);
      entry->tensor = tensor;
      return;
    }
  NamedTensor added = { g_strdup (name), tensor };
  g_array_append_val (array, added);
}

/**
 * mact_module_register_parameter:
 * @self: a module
 * @name: the parameter's name within @self (no `.` or `/`), e.g. "weight"
 * @parameter: (nullable): the tensor, or %NULL to record the parameter as absent (as
 *   PyTorch's `bias=None`: it keeps its place but appears in no state dict)
 *
 * Adds a parameter, or replaces the one already called @name in its place.  The module
 * keeps a reference to @parameter, which becomes a leaf with requires_grad set (a tensor
 * computed by a recorded op is detached first, sharing its storage).  Parameters appear
 * in the state dict in registration order, before the buffers.
 *
 * Since: 0.1
 */
void
mact_module_register_parameter (MactModule *self, const char *name, MactTensor *parameter)
{
  g_return_if_fail (MACT_IS_MODULE (self));
  g_return_if_fail (name_is_valid (name));
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  g_return_if_fail (find_tensor (priv->buffers, name) == NULL);
  g_return_if_fail (find_child (priv, name) == NULL);

  set_tensor_entry (priv->parameters, name,
                    parameter != NULL ? make_parameter (parameter, TRUE) : NULL);
}

/**
 * mact_module_register_buffer:
 * @self: a module
 * @name: the buffer's name within @self (no `.` or `/`), e.g. "running_mean"
 * @buffer: (nullable): the tensor, or %NULL to record the buffer as absent
 *
 * Adds a buffer (state that is saved but not trained, such as batch norm's running
 * statistics), or replaces the one already called @name in its place.  The module keeps
 * a reference to @buffer.
 *
 * Since: 0.1
 */
void
mact_module_register_buffer (MactModule *self, const char *name, MactTensor *buffer)
{
  g_return_if_fail (MACT_IS_MODULE (self));
  g_return_if_fail (name_is_valid (name));
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  g_return_if_fail (find_tensor (priv->parameters, name) == NULL);
  g_return_if_fail (find_child (priv, name) == NULL);

  set_tensor_entry (priv->buffers, name, buffer != NULL ? mact_tensor_ref (buffer) : NULL);
}

/**
 * mact_module_add_child:
 * @self: a module
 * @name: the child's name within @self (no `.` or `/`), e.g. "conv" or "0"
 * @child: the child module; a reference is taken
 *
 * Adds a child module at the end, or replaces the child already called @name in its
 * place.  Children's parameters and buffers appear in the state dict under
 * `name.` in the order the children were added.
 *
 * Since: 0.1
 */
void
mact_module_add_child (MactModule *self, const char *name, MactModule *child)
{
  g_return_if_fail (MACT_IS_MODULE (self));
  g_return_if_fail (name_is_valid (name));
  g_return_if_fail (MACT_IS_MODULE (child));
  g_return_if_fail (child != self);
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  g_return_if_fail (find_tensor (priv->parameters, name) == NULL);
  g_return_if_fail (find_tensor (priv->buffers, name) == NULL);

  NamedChild *entry = find_child (priv, name);
  if (entry != NULL)
    {
      g_set_object (&entry->module, child);
      return;
    }
  NamedChild added = { g_strdup (name), g_object_ref (child) };
  g_array_append_val (priv->children, added);
}

/* Splits a key "a.b.c" (or "a/b/c") into the module owning "c" and "c". */
static MactModule *
resolve_owner (MactModule *self, const char *key, const char **leaf, GError **error)
{
  const char *dot = strrchr (key, '.');
  const char *slash = strrchr (key, '/');
  const char *sep = dot > slash ? dot : slash;
  if (sep == NULL)
    {
      *leaf = key;
      return self;
    }
  *leaf = sep + 1;
  g_autofree char *prefix = g_strndup (key, sep - key);
  return mact_module_get_submodule (self, prefix, error);
}

/**
 * mact_module_replace_child:
 * @self: a module
 * @name: the name of an existing child, or a path to it ("layer1.0.conv1.conv" or
 *   "layer1/0/conv1/conv")
 * @child: the new child; a reference is taken
 * @error: return location for a #GError, or %NULL
 *
 * Puts @child in place of an existing child, keeping its position in the state-dict
 * order.  mmaction2 uses this to turn a torchvision model's `fc` or `classifier` into an
 * identity, and TSM to wrap a convolution.
 *
 * Errors: %MACT_MODULE_ERROR_NO_SUCH_CHILD when there is no such child.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_module_replace_child (MactModule *self, const char *name, MactModule *child,
                           GError **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (MACT_IS_MODULE (child), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  const char *leaf = NULL;
  MactModule *owner = resolve_owner (self, name, &leaf, error);
  if (owner == NULL)
    return FALSE;
  MactModulePrivate *priv = mact_module_get_instance_private (owner);
  NamedChild *entry = find_child (priv, leaf);
  if (entry == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD,
                   "%s: cannot replace child \"%s\" (in \"%s\"): there is no such child",
                   G_OBJECT_TYPE_NAME (owner), leaf, name);
      return FALSE;
    }
  g_return_val_if_fail (child != owner, FALSE);
  g_set_object (&entry->module, child);
  return TRUE;
}

/**
 * mact_module_set_parameter:
 * @self: a module
 * @name: a parameter (or buffer) key relative to @self: "weight", "conv.weight",
 *   "layer1.0.bn.running_mean"
 * @parameter: the new tensor, of the same shape as the current one; a reference is
 *   taken, its storage is shared, not copied
 * @error: return location for a #GError, or %NULL
 *
 * Replaces the tensor of a registered parameter, as loading a state dict does, without
 * copying (weights mapped from a file stay mapped).  A parameter keeps its requires_grad
 * setting (the new tensor becomes a leaf with that setting); a buffer is simply replaced.
 *
 * Errors: %MACT_MODULE_ERROR_NO_SUCH_CHILD when a module on the path, or the parameter
 * or buffer, does not exist (or was registered as absent);
 * %MACT_MODULE_ERROR_INVALID_ARGUMENT when the shapes differ (the message names the key
 * and both shapes).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_module_set_parameter (MactModule *self, const char *name, MactTensor *parameter,
                           GError **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (parameter != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  const char *leaf = NULL;
  MactModule *owner = resolve_owner (self, name, &leaf, error);
  if (owner == NULL)
    return FALSE;
  MactModulePrivate *priv = mact_module_get_instance_private (owner);
  gboolean is_parameter = TRUE;
  NamedTensor *entry = find_tensor (priv->parameters, leaf);
  if (entry == NULL)
    {
      entry = find_tensor (priv->buffers, leaf);
      is_parameter = FALSE;
    }
  if (entry == NULL || entry->tensor == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD,
                   "%s: no parameter or buffer \"%s\"%s (key \"%s\")",
                   G_OBJECT_TYPE_NAME (owner), leaf,
                   entry != NULL ? " (it was built without one)" : "", name);
      return FALSE;
    }

  gint ndim_old = 0, ndim_new = 0;
  const gint64 *shape_old = mact_tensor_get_shape (entry->tensor, &ndim_old);
  const gint64 *shape_new = mact_tensor_get_shape (parameter, &ndim_new);
  if (!mact_shape_equal (ndim_old, shape_old, ndim_new, shape_new))
    {
      g_autofree char *expected = mact_tensor_shape_to_string (entry->tensor);
      g_autofree char *got = mact_tensor_shape_to_string (parameter);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: size mismatch for \"%s\": the module has shape %s, got %s",
                   G_OBJECT_TYPE_NAME (owner), name, expected, got);
      return FALSE;
    }

  MactTensor *replacement =
    is_parameter ? make_parameter (parameter, mact_tensor_get_requires_grad (entry->tensor))
                 : mact_tensor_ref (parameter);
  mact_tensor_unref (entry->tensor);
  entry->tensor = replacement;
  return TRUE;
}

/* ---- lookup ---- */

/**
 * mact_module_get_child:
 * @self: a module
 * @name: a direct child's name
 *
 * Returns: (transfer none) (nullable): the child called @name, or %NULL if there is none
 *
 * Since: 0.1
 */
MactModule *
mact_module_get_child (MactModule *self, const char *name)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  NamedChild *entry = find_child (mact_module_get_instance_private (self), name);
  return entry != NULL ? entry->module : NULL;
}

/**
 * mact_module_get_submodule:
 * @self: a module
 * @path: a path of child names separated by `.` ("layer4.1.relu") or `/`
 *   ("layer4/1/relu", GradCAM's spelling); "" is @self
 * @error: return location for a #GError, or %NULL
 *
 * Finds a descendant by path, as PyTorch's `get_submodule`.
 *
 * Errors: %MACT_MODULE_ERROR_NO_SUCH_CHILD naming the first missing part.
 *
 * Returns: (transfer none) (nullable): the module, or %NULL with @error set
 *
 * Since: 0.1
 */
MactModule *
mact_module_get_submodule (MactModule *self, const char *path, GError **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (*path == '\0')
    return self;

  g_auto(GStrv) parts = g_strsplit_set (path, "./", -1);
  g_autoptr(GString) walked = g_string_new (NULL);
  MactModule *current = self;
  for (guint i = 0; parts[i] != NULL; i++)
    {
      MactModule *next = mact_module_get_child (current, parts[i]);
      if (next == NULL)
        {
          if (walked->len == 0)
            g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD,
                         "%s: no child \"%s\" (path \"%s\")",
                         G_OBJECT_TYPE_NAME (self), parts[i], path);
          else
            g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD,
                         "%s: no child \"%s\" in \"%s\" (%s; path \"%s\")",
                         G_OBJECT_TYPE_NAME (self), parts[i], walked->str,
                         G_OBJECT_TYPE_NAME (current), path);
          return NULL;
        }
      if (walked->len > 0)
        g_string_append_c (walked, '.');
      g_string_append (walked, parts[i]);
      current = next;
    }
  return current;
}

static NamedTensor *
lookup_tensor (MactModule *self, const char *key, gboolean buffers)
{
  const char *leaf = NULL;
  MactModule *owner = resolve_owner (self, key, &leaf, NULL);
  if (owner == NULL)
    return NULL;
  MactModulePrivate *priv = mact_module_get_instance_private (owner);
  return find_tensor (buffers ? priv->buffers : priv->parameters, leaf);
}

/**
 * mact_module_get_parameter:
 * @self: a module
 * @name: a parameter key relative to @self: "weight" or "conv.weight"
 *
 * Returns: (transfer none) (nullable): the parameter, or %NULL when there is none or it
 *   was registered as absent
 *
 * Since: 0.1
 */
MactTensor *
mact_module_get_parameter (MactModule *self, const char *name)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  NamedTensor *entry = lookup_tensor (self, name, FALSE);
  return entry != NULL ? entry->tensor : NULL;
}

/**
 * mact_module_get_buffer:
 * @self: a module
 * @name: a buffer key relative to @self: "running_mean" or "bn.running_mean"
 *
 * Returns: (transfer none) (nullable): the buffer, or %NULL when there is none or it was
 *   registered as absent
 *
 * Since: 0.1
 */
MactTensor *
mact_module_get_buffer (MactModule *self, const char *name)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  NamedTensor *entry = lookup_tensor (self, name, TRUE);
  return entry != NULL ? entry->tensor : NULL;
}

/**
 * mact_module_list_children:
 * @self: a module
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the direct children,
 *   in order
 *
 * Since: 0.1
 */
gchar **
mact_module_list_children (MactModule *self)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  gchar **names = g_new0 (gchar *, priv->children->len + 1);
  for (guint i = 0; i < priv->children->len; i++)
    names[i] = g_strdup (g_array_index (priv->children, NamedChild, i).name);
  return names;
}

static void
collect_tensors (MactModule *self, GString *prefix, gboolean with_buffers,
                 GHashTable *seen, MactTensorDict *out)
{
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  gsize prefix_len = prefix->len;

  for (guint kind = 0; kind < (with_buffers ? 2u : 1u); kind++)
    {
      GArray *array = kind == 0 ? priv->parameters : priv->buffers;
      for (guint i = 0; i < array->len; i++)
        {
          NamedTensor *entry = &g_array_index (array, NamedTensor, i);
          if (entry->tensor == NULL)
            continue;
          /* named_parameters lists a shared (tied) parameter once, as PyTorch does. */
          if (seen != NULL && !g_hash_table_add (seen, entry->tensor))
            continue;
          g_string_append (prefix, entry->name);
          mact_tensor_dict_insert (out, prefix->str, entry->tensor);
          g_string_truncate (prefix, prefix_len);
        }
    }

  for (guint i = 0; i < priv->children->len; i++)
    {
      NamedChild *entry = &g_array_index (priv->children, NamedChild, i);
      g_string_append (prefix, entry->name);
      g_string_append_c (prefix, '.');
      collect_tensors (entry->module, prefix, with_buffers, seen, out);
      g_string_truncate (prefix, prefix_len);
    }
}

/**
 * mact_module_state_dict:
 * @self: a module
 *
 * The module's state with PyTorch's keys and order: own parameters, own buffers, then
 * each child's state under `childname.`, recursively
 * ("layer1.0.conv1.conv.weight").  Parameters and buffers registered as absent are left
 * out.  The tensors are the module's own (shared, not copied): copying values into them
 * loads weights in place.
 *
 * Returns: (transfer full): the state dict
 *
 * Since: 0.1
 */
MactTensorDict *
mact_module_state_dict (MactModule *self)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  MactTensorDict *dict = mact_tensor_dict_new ();
  g_autoptr(GString) prefix = g_string_new (NULL);
  collect_tensors (self, prefix, TRUE, NULL, dict);
  return dict;
}

/**
 * mact_module_named_parameters:
 * @self: a module
 *
 * The parameters with their keys, in state-dict order, without buffers; a parameter
 * shared by several modules is listed once, under its first key.
 *
 * Returns: (transfer full): the parameters by key
 *
 * Since: 0.1
 */
MactTensorDict *
mact_module_named_parameters (MactModule *self)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  MactTensorDict *dict = mact_tensor_dict_new ();
  g_autoptr(GString) prefix = g_string_new (NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  collect_tensors (self, prefix, FALSE, seen, dict);
  return dict;
}

/* Whether @key names a buffer called num_batches_tracked (BatchNorm's update count). */
static gboolean
is_batch_count (MactModule *self, const char *key, MactTensor *own)
{
  const char *dot = strrchr (key, '.');
  const char *leaf = dot != NULL ? dot + 1 : key;
  return g_str_equal (leaf, "num_batches_tracked") &&
         mact_module_get_buffer (self, key) == own;
}

/* PyTorch stores BatchNorm's num_batches_tracked as a 0-D tensor, but checkpoints written
 * by older code or converted through other tools sometimes hold it as shape [1]; the
 * value is the same single count, so such a pair is accepted for that buffer only. */
static gboolean
is_batch_count_pair (MactModule *self, const char *key, MactTensor *own, MactTensor *given)
{
  return is_batch_count (self, key, own) &&
         mact_tensor_get_ndim (own) <= 1 && mact_tensor_get_ndim (given) <= 1 &&
         mact_tensor_get_numel (own) == 1 && mact_tensor_get_numel (given) == 1;
}

static void
append_key_list (GString *message, const char *what, GPtrArray *keys)
{
  g_string_append_printf (message, "\n\t%s key(s) in state_dict: ", what);
  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (message, "%s\"%s\"", i > 0 ? ", " : "",
                            (const char *) g_ptr_array_index (keys, i));
  g_string_append_c (message, '.');
}

static gchar **
key_list_to_strv (GPtrArray *keys)
{
  gchar **strv = g_new0 (gchar *, keys->len + 1);
  for (guint i = 0; i < keys->len; i++)
    strv[i] = g_strdup (g_ptr_array_index (keys, i));
  return strv;
}

/**
 * mact_module_load_state_dict:
 * @self: a module
 * @state_dict: the tensors to load, by key relative to @self (as
 *   mact_module_state_dict() names them: parameters and buffers)
 * @strict: whether the keys of @state_dict must match the module's exactly
 * @missing_keys: (out) (optional) (transfer full) (array zero-terminated=1): the module's
 *   keys that @state_dict lacks, in state-dict order, or %NULL
 * @unexpected_keys: (out) (optional) (transfer full) (array zero-terminated=1): the
 *   keys of @state_dict the module does not have, in @state_dict's order, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Loads weights as PyTorch's `load_state_dict`: the values go into the module's existing
 * parameters and buffers, so each keeps its identity (optimizers and views holding it
 * see the new values), its requires_grad setting and so a frozen parameter stays frozen.
 *
 * Weights from mact_safetensors_load() are not copied where the layout allows, so a
 * model starts without reading its weights: a parameter or buffer that is contiguous
 * and the only user of its storage drops that storage and uses the file's mapped memory
 * instead, when its source tensor is the only user of that memory.  The mapping is
 * private and copy-on-write: training may write to such a parameter (each page written
 * is then copied for this process alone), and neither the file on disk nor a later load
 * of it ever sees the change.  The state dict's tensor and the parameter do share memory
 * while both exist, as after PyTorch's `load_state_dict(assign=True)`: a write to one
 * shows in the other.  A state dict is usually dropped after loading; to keep one
 * unchanged, clone its tensors or load the file again.  Everything else is copied: other
 * sources (mact_safetensors_load_bytes(), tensors in memory), a parameter that a view
 * made before loading shares, weights tied under several keys, and mapped memory that a
 * view or a module already uses, so two modules never share memory (loading one state
 * dict into two modules, the second copies the first one's current values).  The module
 * stays tied to the file while it uses the mapping: replacing the file by renaming
 * another over it (as mact_safetensors_save() does) is safe, but truncating or
 * rewriting it in place meanwhile is not supported; to load a detached copy, read the
 * file and use mact_safetensors_load_bytes().  Since a parameter may change its memory,
 * no other thread may use the module while it loads.
 *
 * With @strict, every key of the module must be given and no other key: any missing or
 * unexpected key is an error.  Without it, the keys present in both are loaded and the
 * others are returned in @missing_keys and @unexpected_keys.  In both modes a key whose
 * shape differs from the module's is an error, as in PyTorch.
 *
 * BatchNorm's `num_batches_tracked` buffers get two allowances.  Their shape may be [] or
 * [1] on either side (a one-element count is stored both ways).  And a checkpoint may
 * lack them altogether without their being missing, in either mode: checkpoints older
 * than PyTorch 0.4.1, such as torchvision's original ResNet weights, have none, and
 * mmcv's loader ignores them the same way; the buffer then keeps its value.
 *
 * Loading is all or nothing: on error nothing is modified, and the message lists every
 * problem by key, in PyTorch's words ("Missing key(s) in state_dict: ...", "Unexpected
 * key(s) in state_dict: ...", "size mismatch for KEY: copying a param with shape [a]
 * from checkpoint, the shape in current model is [b].").
 *
 * Errors: %MACT_MODULE_ERROR_STATE_DICT as described.
 *
 * Returns: %TRUE on success (then the out lists are set); %FALSE with @error set
 *   (then they are %NULL)
 *
 * Since: 0.1
 */
gboolean
mact_module_load_state_dict (MactModule *self, MactTensorDict *state_dict, gboolean strict,
                             gchar ***missing_keys, gchar ***unexpected_keys,
                             GError **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), FALSE);
  g_return_val_if_fail (state_dict != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (missing_keys != NULL)
    *missing_keys = NULL;
  if (unexpected_keys != NULL)
    *unexpected_keys = NULL;

  /* The module's own tensors under their keys: copying into them loads in place. */
  g_autoptr(MactTensorDict) own = mact_module_state_dict (self);
  guint n_own = mact_tensor_dict_get_size (own);
  guint n_given = mact_tensor_dict_get_size (state_dict);

  /* Keys are borrowed from the two dicts, which outlive these arrays. */
  g_autoptr(GPtrArray) missing = g_ptr_array_new ();
  g_autoptr(GPtrArray) unexpected = g_ptr_array_new ();
  g_autoptr(GPtrArray) mismatches = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) targets = g_ptr_array_new ();   /* MactTensor *, own */
  g_autoptr(GPtrArray) sources = g_ptr_array_new ();   /* MactTensor *, given */

  for (guint i = 0; i < n_own; i++)
    {
      const char *key = mact_tensor_dict_get_key (own, i);
      MactTensor *target = mact_tensor_dict_get_value (own, i);
      MactTensor *source = mact_tensor_dict_lookup (state_dict, key);
      if (source == NULL)
        {
          /* Checkpoints saved before PyTorch 0.4.1, torchvision's original model-zoo
           * files among them, have no num_batches_tracked; PyTorch fills it in and mmcv's
           * loader ignores it, so it is not missing. */
          if (!is_batch_count (self, key, target))
            g_ptr_array_add (missing, (gpointer) key);
          continue;
        }
      gint ndim_target = 0, ndim_source = 0;
      const gint64 *shape_target = mact_tensor_get_shape (target, &ndim_target);
      const gint64 *shape_source = mact_tensor_get_shape (source, &ndim_source);
      if (!mact_shape_equal (ndim_target, shape_target, ndim_source, shape_source) &&
          !is_batch_count_pair (self, key, target, source))
        {
          g_autofree char *from = mact_tensor_shape_to_string (source);
          g_autofree char *to = mact_tensor_shape_to_string (target);
          g_ptr_array_add (mismatches,
                           g_strdup_printf ("size mismatch for %s: copying a param with "
                                            "shape %s from checkpoint, the shape in "
                                            "current model is %s.", key, from, to));
          continue;
        }
      g_ptr_array_add (targets, target);
      g_ptr_array_add (sources, source);
    }
  for (guint i = 0; i < n_given; i++)
    {
      const char *key = mact_tensor_dict_get_key (state_dict, i);
      if (!mact_tensor_dict_contains (own, key))
        g_ptr_array_add (unexpected, (gpointer) key);
    }

  gboolean report_keys = strict && (missing->len > 0 || unexpected->len > 0);
  if (report_keys || mismatches->len > 0)
    {
      g_autoptr(GString) message = g_string_new (NULL);
      g_string_append_printf (message, "Error(s) in loading state_dict for %s:",
                              G_OBJECT_TYPE_NAME (self));
      if (report_keys && missing->len > 0)
        append_key_list (message, "Missing", missing);
      if (report_keys && unexpected->len > 0)
        append_key_list (message, "Unexpected", unexpected);
      for (guint i = 0; i < mismatches->len; i++)
        g_string_append_printf (message, "\n\t%s",
                                (const char *) g_ptr_array_index (mismatches, i));
      g_set_error_literal (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT,
                           message->str);
      return FALSE;
    }

  /* A tensor held under several keys (tied weights) is always copied into, key after
   * key: had it adopted the first key's mapped memory, copying the next key's values
   * would write into the first source tensor. */
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) tied = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < targets->len; i++)
    if (!g_hash_table_add (seen, g_ptr_array_index (targets, i)))
      g_hash_table_add (tied, g_ptr_array_index (targets, i));

  /* Everything was checked: the copies cannot fail on shapes from here on. */
  for (guint i = 0; i < targets->len; i++)
    {
      MactTensor *target = g_ptr_array_index (targets, i);
      g_autoptr(MactTensor) source = NULL;
      MactTensor *given = g_ptr_array_index (sources, i);
      if (mact_tensor_get_ndim (target) != mact_tensor_get_ndim (given))
        {
          /* The num_batches_tracked case: view the single value with the target's shape. */
          gint ndim = 0;
          const gint64 *shape = mact_tensor_get_shape (target, &ndim);
          source = mact_tensor_reshape (given, ndim, shape, NULL);
        }
      else
        source = mact_tensor_ref (given);
      if (source == NULL)
        g_warn_if_reached ();
      else if (!g_hash_table_contains (tied, target) &&
               mact_tensor_adopt_mapped_storage (target, source))
        continue;   /* zero-copy: the parameter now uses the mapped file's memory */
      else if (!mact_tensor_copy_from (target, source, NULL))
        g_warn_if_reached ();
    }

  if (missing_keys != NULL)
    *missing_keys = key_list_to_strv (missing);
  if (unexpected_keys != NULL)
    *unexpected_keys = key_list_to_strv (unexpected);
  return TRUE;
}

/**
 * mact_module_parameters:
 * @self: a module
 *
 * The parameters in the order of mact_module_named_parameters(), e.g. for an optimizer.
 *
 * Returns: (transfer container) (element-type MactTensor): the parameters; the array holds
 *   a reference to each and releases them when freed
 *
 * Since: 0.1
 */
GPtrArray *
mact_module_parameters (MactModule *self)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  g_autoptr(MactTensorDict) named = mact_module_named_parameters (self);
  guint n = mact_tensor_dict_get_size (named);
  GPtrArray *params = g_ptr_array_new_full (n, (GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (params, mact_tensor_ref (mact_tensor_dict_get_value (named, i)));
  return params;
}

static void
zero_grad_recursive (MactModule *self)
{
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  for (guint i = 0; i < priv->parameters->len; i++)
    {
      MactTensor *param = g_array_index (priv->parameters, NamedTensor, i).tensor;
      if (param != NULL)
        mact_tensor_set_grad (param, NULL);
    }
  for (guint i = 0; i < priv->children->len; i++)
    zero_grad_recursive (g_array_index (priv->children, NamedChild, i).module);
}

/**
 * mact_module_zero_grad:
 * @self: a module
 *
 * Clears the gradient of every parameter of @self and its descendants (PyTorch's
 * `zero_grad(set_to_none=True)`): the next backward starts from nothing.
 *
 * Since: 0.1
 */
void
mact_module_zero_grad (MactModule *self)
{
  g_return_if_fail (MACT_IS_MODULE (self));
  zero_grad_recursive (self);
}

/* ---- mode and initialisation ---- */

/* Depth of mact_nn_skip_init_begin() scopes on this thread.  Blocks are built on the
 * thread that asks for them (GInitable), so a scope covers exactly the modules its
 * caller builds, whatever plugin they come from. */
static _Thread_local guint skip_init_depth;

void
mact_nn_skip_init_begin (void)
{
  skip_init_depth++;
}

void
mact_nn_skip_init_end (void)
{
  g_return_if_fail (skip_init_depth > 0);
  skip_init_depth--;
}

/**
 * mact_module_is_training:
 * @self: a module
 *
 * Returns: %TRUE in training mode (the default for a new module), %FALSE in evaluation
 *   mode
 *
 * Since: 0.1
 */
gboolean
mact_module_is_training (MactModule *self)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), FALSE);
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  return priv->training;
}

/**
 * mact_module_train:
 * @self: a module
 * @training: %TRUE for training mode, %FALSE for evaluation mode
 *
 * Switches the mode through the class's set_training(), which by default sets it on
 * @self and every descendant; blocks may override it to keep parts frozen (norm_eval).
 *
 * Since: 0.1
 */
void
mact_module_train (MactModule *self, gboolean training)
{
  g_return_if_fail (MACT_IS_MODULE (self));
  MactModuleClass *klass = MACT_MODULE_GET_CLASS (self);
  if (klass->set_training != NULL)
    klass->set_training (self, !!training);
}

/**
 * mact_module_eval:
 * @self: a module
 *
 * Same as mact_module_train() with %FALSE.
 *
 * Since: 0.1
 */
void
mact_module_eval (MactModule *self)
{
  mact_module_train (self, FALSE);
}

/**
 * mact_module_init_weights:
 * @self: a module
 * @generator: (nullable): the generator to draw from, or %NULL for the default one
 * @error: return location for a #GError, or %NULL
 *
 * (Re)initialises the weights through the class's init_weights() (mmcv's
 * `init_weights`).  The default calls it on every child in order, so a module that does
 * not override it, such as a generic layer, keeps the initialisation it was built with,
 * as PyTorch's layers (which have no init_weights) do.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_module_init_weights (MactModule *self, MactGenerator *generator, GError **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  MactModuleClass *klass = MACT_MODULE_GET_CLASS (self);
  if (klass->init_weights == NULL || skip_init_depth > 0)
    return TRUE;
  return klass->init_weights (self, generator, error);
}

/* ---- forward ---- */

/**
 * mact_module_forward:
 * @self: a module
 * @inputs: (element-type MactTensor): the inputs
 * @error: return location for a #GError, or %NULL
 *
 * Runs the class's forward(), then the forward hooks in the order they were added.
 * Blocks call their children through this function (not through the class pointer), so
 * that hooks on any layer fire.
 *
 * Several threads may run forward on the same module in evaluation mode at once; adding
 * or removing hooks, changing the mode or the structure, or loading weights meanwhile is
 * not safe.
 *
 * Errors: %MACT_MODULE_ERROR_NOT_IMPLEMENTED when the class has no forward;
 * %MACT_MODULE_ERROR_INVALID_INPUT for the wrong number or kind of inputs; errors of the
 * ops it runs; %G_IO_ERROR_CANCELLED when it runs inside mact_recognizer_classify() (or
 * an async classification) whose #GCancellable has been cancelled: the check comes
 * before every layer, so a cancelled classification stops at the next layer.
 *
 * Returns: (transfer container) (element-type MactTensor) (nullable): the outputs (the
 *   array holds a reference to each and releases them when freed), or %NULL with @error
 *   set
 *
 * Since: 0.1
 */
GPtrArray *
mact_module_forward (MactModule *self, GPtrArray *inputs, GError **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  g_return_val_if_fail (inputs != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  MactModuleClass *klass = MACT_MODULE_GET_CLASS (self);
  if (klass->forward == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "%s does not implement forward", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  /* Between layers is where a classification can stop without leaving anything
   * half-written: each layer's output is a new tensor. */
  if (!mact_cancel_check (G_OBJECT_TYPE_NAME (self), error))
    return NULL;
  GPtrArray *outputs = klass->forward (self, inputs, error);
  if (outputs == NULL)
    return NULL;

  MactModulePrivate *priv = mact_module_get_instance_private (self);
  for (guint i = 0; i < priv->hooks->len; i++)
    {
      ForwardHook *hook = &g_array_index (priv->hooks, ForwardHook, i);
      hook->func (self, inputs, outputs, hook->user_data);
    }
  return outputs;
}

/**
 * mact_module_forward1:
 * @self: a module
 * @input: the single input
 * @error: return location for a #GError, or %NULL
 *
 * Runs mact_module_forward() for the common case of one tensor in and one out.
 *
 * Errors: those of mact_module_forward(); %MACT_MODULE_ERROR_INVALID_INPUT when the
 * module does not return exactly one tensor.
 *
 * Returns: (transfer full) (nullable): the output, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_module_forward1 (MactModule *self, MactTensor *input, GError **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), NULL);
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                                mact_tensor_unref);
  g_ptr_array_add (inputs, mact_tensor_ref (input));
  g_autoptr(GPtrArray) outputs = mact_module_forward (self, inputs, error);
  if (outputs == NULL)
    return NULL;
  if (outputs->len != 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected exactly one output from forward, got %u",
                   G_OBJECT_TYPE_NAME (self), outputs->len);
      return NULL;
    }
  return mact_tensor_ref (g_ptr_array_index (outputs, 0));
}

/**
 * mact_module_add_forward_hook:
 * @self: a module
 * @hook: (scope notified) (closure user_data) (destroy destroy): called after each
 *   forward of @self with its inputs and outputs
 * @user_data: data for @hook
 * @destroy: (nullable): frees @user_data when the hook is removed or @self finalized
 *
 * Adds a forward hook, as PyTorch's `register_forward_hook` (GradCAM grabs a layer's
 * activation this way).  Hooks must not add or remove hooks of the same module.
 *
 * Returns: an id for mact_module_remove_forward_hook(), never 0
 *
 * Since: 0.1
 */
gulong
mact_module_add_forward_hook (MactModule *self, MactForwardHook hook, gpointer user_data,
                              GDestroyNotify destroy)
{
  g_return_val_if_fail (MACT_IS_MODULE (self), 0);
  g_return_val_if_fail (hook != NULL, 0);
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  ForwardHook added = { priv->next_hook_id++, hook, user_data, destroy };
  g_array_append_val (priv->hooks, added);
  return added.id;
}

/**
 * mact_module_remove_forward_hook:
 * @self: a module
 * @hook_id: an id returned by mact_module_add_forward_hook() for @self
 *
 * Removes a forward hook and frees its data.  An id that is no longer attached is
 * ignored, as removing a PyTorch hook handle twice is.
 *
 * Since: 0.1
 */
void
mact_module_remove_forward_hook (MactModule *self, gulong hook_id)
{
  g_return_if_fail (MACT_IS_MODULE (self));
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  for (guint i = 0; i < priv->hooks->len; i++)
    if (g_array_index (priv->hooks, ForwardHook, i).id == hook_id)
      {
        g_array_remove_index (priv->hooks, i);
        return;
      }
}

/* ---- int tuples ---- */

/**
 * mact_int_tuple_new:
 * @n: the number of values
 * @values: (array length=n) (nullable): the values (%NULL only when @n is 0)
 *
 * Makes the value of an int-tuple property (kernel-size, stride, ...): a #GVariant of
 * type `ax`.
 *
 * Returns: (transfer none): a new floating #GVariant
 *
 * Since: 0.1
 */
GVariant *
mact_int_tuple_new (guint n, const gint64 *values)
{
  g_return_val_if_fail (n == 0 || values != NULL, NULL);
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, values, n, sizeof (gint64));
}

/**
 * mact_int_tuple_get:
 * @tuple: (nullable): a #GVariant of type `ax`
 * @n_expected: how many values the caller needs
 * @out: (out caller-allocates) (array length=n_expected): where to store them
 * @what: what the tuple is, for messages, e.g. "Conv2d: stride"
 * @error: return location for a #GError, or %NULL
 *
 * Reads an int-tuple property into @n_expected ints.  A single value is repeated
 * @n_expected times, as PyTorch's `_pair`/`_triple` do with an int.
 *
 * Errors: %MACT_MODULE_ERROR_INVALID_ARGUMENT naming @what when @tuple is %NULL or not
 * of type `ax`, has neither 1 nor @n_expected values, or holds a value outside the range
 * of #gint.
 *
 * Returns: %TRUE on success (then @out is filled)
 *
 * Since: 0.1
 */
gboolean
mact_int_tuple_get (GVariant *tuple, guint n_expected, gint *out, const char *what,
                    GError **error)
{
  g_return_val_if_fail (out != NULL || n_expected == 0, FALSE);
  g_return_val_if_fail (what != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (tuple == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: no value given, expected %u integer%s", what, n_expected,
                   n_expected == 1 ? "" : "s");
      return FALSE;
    }
  if (!g_variant_is_of_type (tuple, G_VARIANT_TYPE ("ax")))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: expected a tuple of integers (GVariant type ax), got type %s",
                   what, g_variant_get_type_string (tuple));
      return FALSE;
    }

  gsize n = 0;
  const gint64 *values = g_variant_get_fixed_array (tuple, &n, sizeof (gint64));
  if (n != n_expected && !(n == 1 && n_expected > 0))
    {
      if (n_expected <= 1)
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                     "%s: expected %u value%s, got %" G_GSIZE_FORMAT, what, n_expected,
                     n_expected == 1 ? "" : "s", n);
      else
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                     "%s: expected 1 or %u values, got %" G_GSIZE_FORMAT, what,
                     n_expected, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    if (values[i] < G_MININT || values[i] > G_MAXINT)
      {
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                     "%s: value %" G_GINT64_FORMAT " is outside the range of an int",
                     what, values[i]);
        return FALSE;
      }
  for (guint i = 0; i < n_expected; i++)
    out[i] = (gint) (n == 1 ? values[0] : values[i]);
  return TRUE;
}

/* ---- helpers for the generic layers (mact-module-private.h) ---- */

guint
mact_nn_get_n_children (MactModule *self)
{
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  return priv->children->len;
}

MactModule *
mact_nn_get_child_at (MactModule *self, guint index)
{
  MactModulePrivate *priv = mact_module_get_instance_private (self);
  g_return_val_if_fail (index < priv->children->len, NULL);
  return g_array_index (priv->children, NamedChild, index).module;
}

static GValue *
props_next (MactNNProps *props, const char *name, GType type)
{
  g_assert (props->n < MACT_NN_MAX_PROPS);
  props->names[props->n] = name;
  GValue *value = &props->values[props->n++];
  g_value_init (value, type);
  return value;
}

void
mact_nn_props_add_int (MactNNProps *props, const char *name, gint value)
{
  g_value_set_int (props_next (props, name, G_TYPE_INT), value);
}

void
mact_nn_props_add_boolean (MactNNProps *props, const char *name, gboolean value)
{
  g_value_set_boolean (props_next (props, name, G_TYPE_BOOLEAN), value);
}

void
mact_nn_props_add_double (MactNNProps *props, const char *name, double value)
{
  g_value_set_double (props_next (props, name, G_TYPE_DOUBLE), value);
}

void
mact_nn_props_add_enum (MactNNProps *props, const char *name, GType type, gint value)
{
  g_value_set_enum (props_next (props, name, type), value);
}

void
mact_nn_props_add_variant (MactNNProps *props, const char *name, GVariant *value)
{
  if (value == NULL)
    return;
  g_value_set_variant (props_next (props, name, G_TYPE_VARIANT), value);
}

void
mact_nn_props_add_int64s (MactNNProps *props, const char *name, guint n,
                          const gint64 *values)
{
  if (values == NULL)
    return;
  g_value_set_variant (props_next (props, name, G_TYPE_VARIANT),
                       mact_int_tuple_new (n, values));
}

void
mact_nn_props_add_ints (MactNNProps *props, const char *name, guint n, const gint *values)
{
  if (values == NULL)
    return;
  gint64 wide[MACT_MAX_DIMS];
  g_assert (n <= MACT_MAX_DIMS);
  for (guint i = 0; i < n; i++)
    wide[i] = values[i];
  mact_nn_props_add_int64s (props, name, n, wide);
}

MactModule *
mact_nn_props_build (MactNNProps *props, GType type, GError **error)
{
  MactModule *module = mact_module_new_with_properties (type, props->n, props->names,
                                                        props->values, error);
  for (guint i = 0; i < props->n; i++)
    g_value_unset (&props->values[i]);
  props->n = 0;
  return module;
}

gchar *
mact_nn_format_ints (const gint *values, guint n)
{
  GString *s = g_string_new ("(");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i > 0 ? ", " : "", values[i]);
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

gboolean
mact_nn_tuple_or_default (GVariant *tuple, guint n, gint default_value, gint *out,
                          const char *block, const char *arg, GError **error)
{
  if (tuple == NULL)
    {
      for (guint i = 0; i < n; i++)
        out[i] = default_value;
      return TRUE;
    }
  g_autofree char *what = g_strdup_printf ("%s: %s", block, arg);
  return mact_int_tuple_get (tuple, n, out, what, error);
}

gboolean
mact_nn_check_min (const gint *values, guint n, gint min, const char *block,
                   const char *arg, GError **error)
{
  for (guint i = 0; i < n; i++)
    if (values[i] < min)
      {
        g_autofree char *shown = mact_nn_format_ints (values, n);
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                     "%s: %s must be %s (got %s)", block, arg,
                     min == 1 ? "positive" : min == 0 ? "non-negative" : "in range", shown);
        return FALSE;
      }
  return TRUE;
}

MactTensor *
mact_nn_single_input (GPtrArray *inputs, const char *block, GError **error)
{
  if (inputs->len != 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: forward takes exactly one input, got %u", block, inputs->len);
      return NULL;
    }
  return g_ptr_array_index (inputs, 0);
}

gboolean
mact_nn_check_input (MactTensor *input, gint min_ndim, gint max_ndim, gint channel_dim,
                     gint64 channels, const char *channel_name, const char *block,
                     GError **error)
{
  gint ndim = mact_tensor_get_ndim (input);
  if (ndim < min_ndim || ndim > max_ndim)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (input);
      if (min_ndim == max_ndim)
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                     "%s: expected a %d-D input, got shape %s", block, min_ndim, shape);
      else
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                     "%s: expected a %d-D to %d-D input, got shape %s", block, min_ndim,
                     max_ndim, shape);
      return FALSE;
    }
  gint dim = channel_dim < 0 ? ndim + channel_dim : channel_dim;
  if (channels >= 0 && mact_tensor_get_size (input, dim) != channels)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (input);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected an input with %s = %" G_GINT64_FORMAT " (dim %d), got "
                   "shape %s", block, channel_name, channels, dim, shape);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
mact_nn_output (MactTensor *output)
{
  if (output == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_full (1, (GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, output);
  return outputs;
}

gboolean
mact_nn_reset_weight_bias (MactTensor *weight, MactTensor *bias, MactGenerator *generator,
                           GError **error)
{
  if (skip_init_depth > 0)
    return TRUE;
  /* kaiming_uniform with a = sqrt(5) and leaky_relu's gain sqrt(2 / (1 + a^2)) gives
   * the bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in), PyTorch's historical default. */
  if (!mact_tensor_kaiming_uniform_ (weight, generator, sqrt (5.0), MACT_FAN_IN,
                                     "leaky_relu", error))
    return FALSE;
  if (bias != NULL)
    {
      gint64 fan_in = 0, fan_out = 0;
      if (!mact_tensor_calculate_fans (weight, &fan_in, &fan_out, error))
        return FALSE;
      double bound = fan_in > 0 ? 1.0 / sqrt ((double) fan_in) : 0.0;
      mact_tensor_uniform_ (bias, generator, -bound, bound);
    }
  return TRUE;
}

MactTensor *
mact_nn_new_tensor (gint ndim, const gint64 *shape, float value, const char *block,
                    const char *name, GError **error)
{
  g_autoptr(GError) local = NULL;
  /* Layers create their weights as zeros and then initialise them; when that is skipped
   * because a load follows (mact_nn_skip_init_begin()), untouched zero pages make the
   * weight cost nothing until the load hands it the file's memory.  +0.0 only: -0.0 is
   * not all zero bits. */
  MactTensor *tensor = value == 0.0f && !signbit (value)
                         ? mact_tensor_new_untouched_zeros (ndim, shape, &local)
                         : mact_tensor_new_full (ndim, shape, value, &local);
  if (tensor == NULL)
    g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                 "%s: cannot create %s: %s", block, name, local->message);
  return tensor;
}
