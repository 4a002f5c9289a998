/* mact-cls-utils.c: mmcv's layer configs, layer creation, module-tree walks, freezing and
 * the residual forward shared by the cls blocks.
 *
 * Only configs that build the networks mmcls builds by default are supported (plain
 * convolutions, batch norm, the activations mact has); anything else is refused at build
 * time with an error naming the block and the key, rather than silently building a
 * different network. */
#include "mact-cls-utils.h"
#include "mact-cls-drop-path.h"

#include <math.h>

/**
 * mact_cls_invalid_argument:
 * @error: return location for a #GError
 * @block: the block's name, for the message
 * @format: printf-style message
 * @...: its arguments
 *
 * Sets %MACT_MODULE_ERROR_INVALID_ARGUMENT with "@block: message".
 *
 * Returns: %FALSE, for `return mact_cls_invalid_argument (...)`
 */
gboolean
mact_cls_invalid_argument (GError **error, const char *block, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "%s: %s", block,
               message);
  return FALSE;
}

/* ------------------------------------------------------------------ configs */

static gboolean
is_json_type (JsonNode *node, GType type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* Checks that @cfg is a dict with a string "type" and only @keys; returns the type. */
static gboolean
read_cfg_dict (JsonNode *cfg, const char *block, const char *what, const char *const *keys,
               const char **type, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (cfg))
    return mact_cls_invalid_argument (error, block, "%s must be a dict with a \"type\" key",
                                      what);
  JsonObject *obj = json_node_get_object (cfg);
  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (keys, l->data))
      {
        g_autofree char *expected = g_strjoinv (", ", (char **) keys);
        return mact_cls_invalid_argument (error, block, "%s key \"%s\" is not supported "
                                          "(expected %s)", what, (const char *) l->data,
                                          expected);
      }
  JsonNode *type_node = json_object_get_member (obj, "type");
  if (!is_json_type (type_node, G_TYPE_STRING))
    return mact_cls_invalid_argument (error, block, "%s needs a string \"type\"", what);
  *type = json_node_get_string (type_node);
  return TRUE;
}

static gboolean
check_type (const char *type, const char *const *types, const char *block, const char *what,
            GError **error)
{
  if (g_strv_contains (types, type))
    return TRUE;
  g_autofree char *expected = g_strjoinv (", ", (char **) types);
  return mact_cls_invalid_argument (error, block, "%s type \"%s\" is not supported "
                                    "(expected one of %s)", what, type, expected);
}

/**
 * mact_cls_parse_conv_cfg:
 * @cfg: (nullable): the `conv_cfg` property; %NULL or a JSON null means a plain Conv2d
 * @block: the block's name, for messages
 * @error: return location for a #GError
 *
 * Validates mmcv's `conv_cfg`: only `{type: 'Conv' | 'Conv2d'}` (a plain convolution).
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_cls_parse_conv_cfg (JsonNode *cfg, const char *block, GError **error)
{
  static const char *const keys[] = { "type", NULL };
  static const char *const types[] = { "Conv", "Conv2d", NULL };
  const char *type = NULL;

  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  return read_cfg_dict (cfg, block, "conv_cfg", keys, &type, error) &&
         check_type (type, types, block, "conv_cfg", error);
}

static gboolean
read_number (JsonObject *obj, const char *name, double *value, const char *block,
             const char *what, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  if (node == NULL)
    return TRUE;
  if (!is_json_type (node, G_TYPE_DOUBLE) && !is_json_type (node, G_TYPE_INT64))
    return mact_cls_invalid_argument (error, block, "%s \"%s\" must be a number", what, name);
  *value = json_node_get_double (node);
  return TRUE;
}

static gboolean
read_bool (JsonObject *obj, const char *name, gboolean *value, const char *block,
           const char *what, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  if (node == NULL)
    return TRUE;
  if (!is_json_type (node, G_TYPE_BOOLEAN))
    return mact_cls_invalid_argument (error, block, "%s \"%s\" must be a boolean", what,
                                      name);
  *value = json_node_get_boolean (node);
  return TRUE;
}

/**
 * mact_cls_parse_norm_cfg:
 * @cfg: (nullable): the `norm_cfg` property; %NULL (a config's null included) or a JSON
 *   null means the default batch norm
 * @block: the block's name, for messages
 * @out: (out caller-allocates): the parsed config
 * @error: return location for a #GError
 *
 * Parses mmcv's `norm_cfg` for a batch norm: `{type: 'BN' | 'BN2d' | 'SyncBN',
 * requires_grad, eps, momentum}`.  SyncBN is a batch norm with the sync property
 * (statistics shared across data-parallel processes in training).  A config's null reaches a block as
 * %NULL, indistinguishable from an absent key, so None means the default (mmcls cannot
 * build its ResNet without a norm either).
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_cls_parse_norm_cfg (JsonNode *cfg, const char *block, MactClsNormCfg *out,
                         GError **error)
{
  static const char *const keys[] = { "type", "requires_grad", "eps", "momentum", NULL };
  static const char *const types[] = { "BN", "BN2d", "SyncBN", NULL };
  const char *type = NULL;

  out->eps = 1e-5;
  out->momentum = 0.1;
  out->requires_grad = TRUE;
  out->sync = FALSE;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  if (!read_cfg_dict (cfg, block, "norm_cfg", keys, &type, error) ||
      !check_type (type, types, block, "norm_cfg", error))
    return FALSE;
  out->sync = g_str_equal (type, "SyncBN");
  JsonObject *obj = json_node_get_object (cfg);
  if (!read_bool (obj, "requires_grad", &out->requires_grad, block, "norm_cfg", error) ||
      !read_number (obj, "eps", &out->eps, block, "norm_cfg", error) ||
      !read_number (obj, "momentum", &out->momentum, block, "norm_cfg", error))
    return FALSE;
  if (!(out->eps > 0.0) || !isfinite (out->eps))
    return mact_cls_invalid_argument (error, block, "norm_cfg \"eps\" must be positive, "
                                      "got %g", out->eps);
  if (!(out->momentum >= 0.0 && out->momentum <= 1.0))
    return mact_cls_invalid_argument (error, block, "norm_cfg \"momentum\" must be in "
                                      "[0, 1], got %g", out->momentum);
  return TRUE;
}

/**
 * mact_cls_parse_act_cfg:
 * @cfg: (nullable): the `act_cfg` property; %NULL or a JSON null means @default_kind
 * @block: the block's name, for messages
 * @default_kind: the block's default activation
 * @out: (out): the activation
 * @error: return location for a #GError
 *
 * Parses mmcv's `act_cfg`: ReLU, ReLU6, Sigmoid, Swish / SiLU and HSwish / Hardswish;
 * `inplace` is accepted and has no effect (mact never computes in place).
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_cls_parse_act_cfg (JsonNode *cfg, const char *block, MactActivationKind default_kind,
                        MactActivationKind *out, GError **error)
{
  static const char *const keys[] = { "type", "inplace", NULL };
  static const struct {
    const char         *name;
    MactActivationKind  kind;
  } acts[] = {
    { "ReLU", MACT_ACTIVATION_RELU },
    { "ReLU6", MACT_ACTIVATION_RELU6 },
    { "Sigmoid", MACT_ACTIVATION_SIGMOID },
    { "Swish", MACT_ACTIVATION_SILU },
    { "SiLU", MACT_ACTIVATION_SILU },
    { "HSwish", MACT_ACTIVATION_HARDSWISH },
    { "Hardswish", MACT_ACTIVATION_HARDSWISH },
  };
  const char *type = NULL;
  gboolean inplace = TRUE;

  *out = default_kind;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  if (!read_cfg_dict (cfg, block, "act_cfg", keys, &type, error) ||
      !read_bool (json_node_get_object (cfg), "inplace", &inplace, block, "act_cfg", error))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (acts); i++)
    if (g_str_equal (type, acts[i].name))
      {
        *out = acts[i].kind;
        return TRUE;
      }
  return mact_cls_invalid_argument (error, block, "act_cfg type \"%s\" is not supported "
                                    "(expected one of ReLU, ReLU6, Sigmoid, Swish, SiLU, "
                                    "HSwish, Hardswish)", type);
}

/**
 * mact_cls_read_out_indices:
 * @out_indices: (nullable): an "ax" tuple
 * @n_stages: the number of outputs the block can give
 * @block: the block's name, for messages
 * @mask: (array fixed-size=n_stages): set to %TRUE for each stage to output
 * @error: return location for a #GError
 *
 * Validates out_indices: at least one entry, each in [0, @n_stages).  Duplicates are
 * harmless (outputs are collected in stage order, once each, as mmcls's `i in
 * out_indices` does).
 *
 * Returns: %TRUE on success
 */
gboolean
mact_cls_read_out_indices (GVariant *out_indices, gint n_stages, const char *block,
                           gboolean *mask, GError **error)
{
  gsize n = out_indices != NULL ? g_variant_n_children (out_indices) : 0;
  for (gint i = 0; i < n_stages; i++)
    mask[i] = FALSE;
  if (n == 0)
    return mact_cls_invalid_argument (error, block, "out_indices must name at least one "
                                      "stage");
  for (gsize i = 0; i < n; i++)
    {
      gint64 index;
      g_variant_get_child (out_indices, i, "x", &index);
      if (index < 0 || index >= n_stages)
        return mact_cls_invalid_argument (error, block, "out_indices entry %" G_GINT64_FORMAT
                                          " is out of range [0, %d)", index, n_stages);
      mask[index] = TRUE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ layers */

/**
 * mact_cls_conv_new:
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: square kernel size
 * @stride: stride
 * @padding: padding
 * @dilation: dilation
 * @groups: groups
 * @error: return location for a #GError
 *
 * A Conv2d without bias, as mmcls's blocks build with `build_conv_layer(..., bias=False)`.
 *
 * Returns: (transfer full) (nullable): the conv
 */
MactModule *
mact_cls_conv_new (gint in_channels, gint out_channels, gint kernel_size, gint stride,
                   gint padding, gint dilation, gint groups, GError **error)
{
  const gint k[2] = { kernel_size, kernel_size };
  const gint s[2] = { stride, stride };
  const gint p[2] = { padding, padding };
  const gint d[2] = { dilation, dilation };
  return mact_conv_new (2, in_channels, out_channels, k, s, p, d, groups, FALSE, error);
}

/**
 * mact_cls_norm_new:
 * @num_features: channels
 * @cfg: the parsed norm_cfg
 * @error: return location for a #GError
 *
 * A BatchNorm2d as mmcv's build_norm_layer makes it: eps and momentum from the config,
 * and frozen affine parameters when the config says `requires_grad=False`.
 *
 * Returns: (transfer full) (nullable): the norm
 */
MactModule *
mact_cls_norm_new (gint num_features, const MactClsNormCfg *cfg, GError **error)
{
  MactModule *bn = mact_batch_norm_new (2, num_features, cfg->eps, cfg->momentum, TRUE, error);
  if (bn != NULL)
    g_object_set (bn, "sync", cfg->sync, NULL);
  if (bn != NULL && !cfg->requires_grad)
    mact_cls_set_requires_grad (bn, FALSE);
  return bn;
}

/**
 * mact_cls_conv_module_new:
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: square kernel size
 * @stride: stride
 * @padding: padding
 * @groups: groups
 * @norm: the parsed norm_cfg
 * @has_act: whether an activation follows (mmcv's act_cfg is not None)
 * @act: the activation
 * @error: return location for a #GError
 *
 * mmcv's ConvModule with a batch norm: children conv (no bias, as bias='auto' with a
 * norm), bn and, with @has_act, activate.
 *
 * Returns: (transfer full) (nullable): the module
 */
MactModule *
mact_cls_conv_module_new (gint in_channels, gint out_channels, gint kernel_size, gint stride,
                          gint padding, gint groups, const MactClsNormCfg *norm,
                          gboolean has_act, MactActivationKind act, GError **error)
{
  const gint64 k = kernel_size, s = stride, p = padding;
  MactModule *module = mact_module_new (MACT_TYPE_CONV_MODULE, error,
                                        "dims", 2,
                                        "in-channels", in_channels,
                                        "out-channels", out_channels,
                                        "kernel-size", mact_int_tuple_new (1, &k),
                                        "stride", mact_int_tuple_new (1, &s),
                                        "padding", mact_int_tuple_new (1, &p),
                                        "groups", groups,
                                        "with-norm", TRUE,
                                        "norm-eps", norm->eps,
                                        "norm-momentum", norm->momentum,
                                        "norm-sync", norm->sync,
                                        "has-act", has_act,
                                        "act", act,
                                        NULL);
  if (module != NULL && !norm->requires_grad)
    mact_cls_set_requires_grad (mact_module_get_child (module, "bn"), FALSE);
  return module;
}

/**
 * mact_cls_drop_path_or_identity:
 * @drop_path_rate: the rate
 * @error: return location for a #GError
 *
 * The `drop_path` child of mmcls's residual blocks: a DropPath when the rate exceeds
 * mmcls's eps (1e-5), else an Identity.
 *
 * Returns: (transfer full) (nullable): the module
 */
MactModule *
mact_cls_drop_path_or_identity (double drop_path_rate, GError **error)
{
  if (drop_path_rate > 1.0e-5)
    return mact_cls_drop_path_new (drop_path_rate, error);
  return mact_identity_new ();
}

/* ------------------------------------------------------------------ walks and modes */

/**
 * mact_cls_foreach_module:
 * @root: a module
 * @func: (scope call): called for every descendant of @root
 * @user_data: data for @func
 *
 * Visits the descendants of @root depth first, in registration order.
 */
void
mact_cls_foreach_module (MactModule *root, MactClsModuleFunc func, gpointer user_data)
{
  g_auto(GStrv) names = mact_module_list_children (root);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      MactModule *child = mact_module_get_child (root, names[i]);
      if (child == NULL)
        continue;
      func (child, user_data);
      mact_cls_foreach_module (child, func, user_data);
    }
}

/**
 * mact_cls_set_requires_grad:
 * @module: a module
 * @requires_grad: the new flag
 *
 * Sets `requires_grad` on every parameter of @module and its descendants (PyTorch's
 * `for p in m.parameters(): p.requires_grad = flag`).
 */
void
mact_cls_set_requires_grad (MactModule *module, gboolean requires_grad)
{
  g_autoptr(GPtrArray) params = mact_module_parameters (module);
  for (guint i = 0; params != NULL && i < params->len; i++)
    /* Parameters are leaves, so this cannot fail. */
    mact_tensor_set_requires_grad (g_ptr_array_index (params, i), requires_grad, NULL);
}

static void
eval_if_batch_norm (MactModule *module, gpointer user_data)
{
  if (MACT_IS_BATCH_NORM (module))
    mact_module_eval (module);
}

/**
 * mact_cls_eval_batch_norms:
 * @module: a module
 *
 * Puts every batch norm below @module (and @module itself if it is one) in eval mode, as
 * mmcls's `norm_eval` does in train().
 */
void
mact_cls_eval_batch_norms (MactModule *module)
{
  eval_if_batch_norm (module, NULL);
  mact_cls_foreach_module (module, eval_if_batch_norm, NULL);
}

/**
 * mact_cls_freeze:
 * @module: a module
 *
 * mmcls's `_freeze_stages` for one part: `m.eval()` and no gradient for its parameters.
 */
void
mact_cls_freeze (MactModule *module)
{
  mact_module_eval (module);
  mact_cls_set_requires_grad (module, FALSE);
}

/* ------------------------------------------------------------------ forward helpers */

/**
 * mact_cls_check_input:
 * @inputs: (element-type MactTensor): the inputs of a forward call
 * @block: the block's name, for messages
 * @channels: the expected channels, or 0 for any
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @inputs holds exactly one [N, @channels, H, W] tensor, else sets
 *   %MACT_MODULE_ERROR_INVALID_INPUT
 */
gboolean
mact_cls_check_input (GPtrArray *inputs, const char *block, gint channels, GError **error)
{
  if (inputs->len != 1 || g_ptr_array_index (inputs, 0) == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected one input tensor, got %u", block, inputs->len);
      return FALSE;
    }
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (mact_tensor_get_ndim (x) != 4 ||
      (channels > 0 && mact_tensor_get_size (x, 1) != channels))
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_autofree char *c = channels > 0 ? g_strdup_printf ("%d", channels) : g_strdup ("C");
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected input [N, %s, H, W], got %s", block, c, shape);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_cls_single_output:
 * @tensor: (transfer full): an output
 *
 * Returns: (transfer full) (element-type MactTensor): a forward result holding @tensor
 */
GPtrArray *
mact_cls_single_output (MactTensor *tensor)
{
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, tensor);
  return outputs;
}

/**
 * mact_cls_residual_forward:
 * @block: the block's name, for messages
 * @path: (array length=n_path): the modules of the residual branch, applied in order
 *   (conv1, bn1, relu, conv2, bn2, ...: the relu module is called several times, as in
 *   mmcls, so its hooks fire once per call)
 * @n_path: how many
 * @downsample: (nullable): the shortcut, or %NULL for the identity
 * @drop_path: the branch's DropPath (or Identity)
 * @relu: the activation applied after the sum
 * @inputs: (element-type MactTensor): the block's inputs (one tensor)
 * @error: return location for a #GError
 *
 * The forward of mmcls's BasicBlock and Bottleneck: relu(drop_path(branch(x)) +
 * shortcut(x)).  Every child runs through mact_module_forward1(), so forward hooks fire.
 *
 * Returns: (transfer full) (element-type MactTensor) (nullable): one output tensor
 */
GPtrArray *
mact_cls_residual_forward (const char *block, MactModule **path, guint n_path,
                           MactModule *downsample, MactModule *drop_path, MactModule *relu,
                           GPtrArray *inputs, GError **error)
{
  if (!mact_cls_check_input (inputs, block, 0, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  g_autoptr(MactTensor) out = mact_tensor_ref (x);
  for (guint i = 0; i < n_path; i++)
    {
      MactTensor *next = mact_module_forward1 (path[i], out, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (out);
      out = next;
    }
  g_autoptr(MactTensor) identity = downsample != NULL
                                   ? mact_module_forward1 (downsample, x, error)
                                   : mact_tensor_ref (x);
  if (identity == NULL)
    return NULL;
  g_autoptr(MactTensor) dropped = mact_module_forward1 (drop_path, out, error);
  if (dropped == NULL)
    return NULL;
  g_autoptr(MactTensor) sum = mact_add (dropped, identity, error);
  if (sum == NULL)
    return NULL;
  MactTensor *y = mact_module_forward1 (relu, sum, error);
  return y != NULL ? mact_cls_single_output (y) : NULL;
}

/* ------------------------------------------------------------------ properties */

/**
 * mact_cls_replace_variant:
 * @slot: where a #GVariant property is kept
 * @value: the new value (holding a #GVariant or %NULL)
 *
 * Replaces the stored variant with a reference to the one in @value.
 */
void
mact_cls_replace_variant (GVariant **slot, const GValue *value)
{
  g_clear_pointer (slot, g_variant_unref);
  *slot = g_value_dup_variant (value);
}

/**
 * mact_cls_clear_json:
 * @slot: where a #JsonNode property is kept
 *
 * Frees the stored node, if any, and sets @slot to %NULL.
 */
void
mact_cls_clear_json (JsonNode **slot)
{
  if (*slot != NULL)
    g_boxed_free (JSON_TYPE_NODE, g_steal_pointer (slot));
}

/**
 * mact_cls_replace_json:
 * @slot: where a #JsonNode property is kept
 * @value: the new value (holding a #JsonNode or %NULL)
 *
 * Replaces the stored node with a copy of the one in @value.
 */
void
mact_cls_replace_json (JsonNode **slot, const GValue *value)
{
  mact_cls_clear_json (slot);
  *slot = g_value_dup_boxed (value);
}
