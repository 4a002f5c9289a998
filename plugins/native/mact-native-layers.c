/* mact-native-layers.c: mmcv's layer configs, ConvModule creation and module-tree walks
 * shared by the native blocks.
 *
 * Only the configs mmaction2's own defaults use are supported (Conv/Conv3d, BN/BN2d/BN3d
 * with requires_grad, ReLU); anything else is refused at build time with an error naming
 * the block and the key, rather than silently building a different network. */
#include "mact-native-layers.h"

#include <math.h>

static gboolean
type_in (const char *type, const char *const *types)
{
  return type != NULL && g_strv_contains (types, type);
}

static gboolean
set_unsupported_type (const char *block, const char *key, const char *type,
                      const char *const *types, GError **error)
{
  g_autofree char *expected = g_strjoinv (", ", (char **) types);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
               "%s: %s type \"%s\" is not supported (expected one of %s)",
               block, key, type ? type : "(missing)", expected);
  return FALSE;
}

/* Checks that @cfg is a dict with a string "type" and only @keys; returns the type. */
static gboolean
read_cfg_dict (JsonNode *cfg, const char *block, const char *key,
               const char *const *keys, const char **type, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (cfg))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: %s must be a dict with a \"type\" key", block, key);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (cfg);
  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (keys, l->data))
      {
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                     "%s: %s key \"%s\" is not supported", block, key,
                     (const char *) l->data);
        return FALSE;
      }
  JsonNode *type_node = json_object_get_member (obj, "type");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: %s needs a string \"type\"", block, key);
      return FALSE;
    }
  *type = json_node_get_string (type_node);
  return TRUE;
}

static gboolean
read_optional_bool (JsonNode *cfg, const char *name, gboolean *value, const char *block,
                    const char *key, GError **error)
{
  JsonNode *node = json_object_get_member (json_node_get_object (cfg), name);
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: %s \"%s\" must be a boolean", block, key, name);
      return FALSE;
    }
  *value = json_node_get_boolean (node);
  return TRUE;
}

/**
 * mact_native_parse_conv_cfg:
 * @cfg: (nullable): the `conv_cfg` property; %NULL or a JSON null means the default
 * @block: the block's type name, for messages
 * @types: (array zero-terminated=1): the accepted `type` values
 * @error: return location for a #GError
 *
 * Validates mmcv's `conv_cfg` (only the plain convolution of @types is supported).
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_native_parse_conv_cfg (JsonNode *cfg, const char *block, const char *const *types,
                            GError **error)
{
  static const char *const keys[] = { "type", NULL };
  const char *type = NULL;

  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  if (!read_cfg_dict (cfg, block, "conv_cfg", keys, &type, error))
    return FALSE;
  if (!type_in (type, types))
    return set_unsupported_type (block, "conv_cfg", type, types, error);
  return TRUE;
}

/**
 * mact_native_parse_norm_cfg:
 * @cfg: (nullable): the `norm_cfg` property; %NULL (a config's null included) or a JSON
 *   null means the block's default
 * @block: the block's type name, for messages
 * @types: (array zero-terminated=1): the accepted `type` values
 * @default_with_norm: whether the block's default has a norm layer
 * @out: (out caller-allocates): receives `with_norm`, `norm_requires_grad` and
 *   `norm_sync`
 * @error: return location for a #GError
 *
 * Parses mmcv's `norm_cfg`: a dict `{type, requires_grad}`.  A config's null reaches a
 * block as %NULL, indistinguishable from an absent key, so None always means the block's
 * default here.
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_native_parse_norm_cfg (JsonNode *cfg, const char *block, const char *const *types,
                            gboolean default_with_norm, MactNativeLayerCfg *out,
                            GError **error)
{
  static const char *const keys[] = { "type", "requires_grad", NULL };
  const char *type = NULL;

  out->norm_requires_grad = TRUE;
  out->norm_sync = FALSE;
  out->with_norm = default_with_norm;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  if (!read_cfg_dict (cfg, block, "norm_cfg", keys, &type, error))
    return FALSE;
  if (!type_in (type, types))
    return set_unsupported_type (block, "norm_cfg", type, types, error);
  out->with_norm = TRUE;
  out->norm_sync = g_str_equal (type, "SyncBN");
  return read_optional_bool (cfg, "requires_grad", &out->norm_requires_grad, block,
                             "norm_cfg", error);
}

/**
 * mact_native_parse_act_cfg:
 * @cfg: (nullable): the `act_cfg` property; %NULL or a JSON null means the default ReLU
 * @block: the block's type name, for messages
 * @out: (out caller-allocates): receives `has_act`
 * @error: return location for a #GError
 *
 * Parses mmcv's `act_cfg`: only `{type: 'ReLU'}` is supported; `inplace` is accepted and
 * has no effect (mact never computes in place).
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_native_parse_act_cfg (JsonNode *cfg, const char *block, MactNativeLayerCfg *out,
                           GError **error)
{
  static const char *const keys[] = { "type", "inplace", NULL };
  static const char *const types[] = { "ReLU", NULL };
  const char *type = NULL;
  gboolean inplace = TRUE;

  out->has_act = TRUE;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  if (!read_cfg_dict (cfg, block, "act_cfg", keys, &type, error))
    return FALSE;
  if (!type_in (type, types))
    return set_unsupported_type (block, "act_cfg", type, types, error);
  return read_optional_bool (cfg, "inplace", &inplace, block, "act_cfg", error);
}

/**
 * mact_native_parse_act_kind:
 * @cfg: (nullable): the `act_cfg` property; %NULL or a JSON null means @default_kind
 * @block: the block's type name, for messages
 * @default_kind: the block's default activation
 * @out: (out caller-allocates): receives the activation (`has_act` is always set: a
 *   config's null reaches a block as %NULL, indistinguishable from the default)
 * @kind: (out): receives the activation's function
 * @error: return location for a #GError
 *
 * Parses mmcv's `act_cfg` for blocks whose activation is ReLU or ReLU6 (MobileNetV2);
 * `inplace` is accepted and has no effect.
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_native_parse_act_kind (JsonNode *cfg, const char *block, MactActivationKind default_kind,
                            MactNativeLayerCfg *out, MactActivationKind *kind, GError **error)
{
  static const char *const keys[] = { "type", "inplace", NULL };
  static const char *const types[] = { "ReLU", "ReLU6", NULL };
  const char *type = NULL;
  gboolean inplace = TRUE;

  out->has_act = TRUE;
  *kind = default_kind;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  if (!read_cfg_dict (cfg, block, "act_cfg", keys, &type, error))
    return FALSE;
  if (!type_in (type, types))
    return set_unsupported_type (block, "act_cfg", type, types, error);
  *kind = g_str_equal (type, "ReLU6") ? MACT_ACTIVATION_RELU6 : MACT_ACTIVATION_RELU;
  return read_optional_bool (cfg, "inplace", &inplace, block, "act_cfg", error);
}

/**
 * mact_native_conv_module_act_new:
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: the square kernel size
 * @stride: the stride
 * @padding: the padding
 * @groups: the groups (in_channels for a depthwise conv)
 * @cfg: the parsed norm/act configs
 * @act: the activation's function
 * @with_act: whether this ConvModule has an activation
 * @error: return location for a #GError
 *
 * A 2-D mmcv ConvModule with a chosen activation (mact_native_conv_module_new() is
 * always ReLU) and groups; frozen norm parameters when the norm config says
 * `requires_grad=False`.
 *
 * Returns: (transfer full) (nullable): the built module
 */
MactModule *
mact_native_conv_module_act_new (gint in_channels, gint out_channels, gint kernel_size,
                                 gint stride, gint padding, gint groups,
                                 const MactNativeLayerCfg *cfg, MactActivationKind act,
                                 gboolean with_act, GError **error)
{
  const gint k[2] = { kernel_size, kernel_size };
  const gint s[2] = { stride, stride };
  const gint p[2] = { padding, padding };
  const gint d[2] = { 1, 1 };

  MactModule *module = mact_conv_module_new (2, in_channels, out_channels, k, s, p, d, groups,
                                             cfg->with_norm, with_act && cfg->has_act, act,
                                             error);
  if (module == NULL)
    return NULL;
  MactModule *bn = cfg->with_norm ? mact_module_get_child (module, "bn") : NULL;
  if (bn != NULL)
    g_object_set (bn, "sync", cfg->norm_sync, NULL);
  if (bn != NULL && !cfg->norm_requires_grad)
    mact_native_set_requires_grad (bn, FALSE);
  return module;
}

/**
 * mact_native_conv_module_new:
 * @dims: 2 or 3
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: the kernel size in every spatial dimension
 * @stride: the stride in every spatial dimension
 * @padding: the padding in every spatial dimension
 * @dilation: the dilation in every spatial dimension
 * @cfg: the parsed norm/act configs
 * @with_act: whether this ConvModule has an activation (mmaction2 passes act_cfg=None
 *   for the last conv of a residual block and the downsample)
 * @error: return location for a #GError
 *
 * An mmcv ConvModule (children conv, bn, activate) with a cubic kernel.  A norm layer
 * whose config says `requires_grad=False` gets frozen affine parameters, as mmcv's
 * build_norm_layer does.
 *
 * Returns: (transfer full) (nullable): the built module
 */
MactModule *
mact_native_conv_module_new (gint dims, gint in_channels, gint out_channels, gint kernel_size,
                             gint stride, gint padding, gint dilation,
                             const MactNativeLayerCfg *cfg, gboolean with_act, GError **error)
{
  const gint k[3] = { kernel_size, kernel_size, kernel_size };
  const gint s[3] = { stride, stride, stride };
  const gint p[3] = { padding, padding, padding };
  const gint d[3] = { dilation, dilation, dilation };

  g_return_val_if_fail (dims == 2 || dims == 3, NULL);
  MactModule *module = mact_conv_module_new (dims, in_channels, out_channels, k, s, p, d, 1,
                                             cfg->with_norm, with_act && cfg->has_act,
                                             MACT_ACTIVATION_RELU, error);
  if (module == NULL)
    return NULL;
  MactModule *bn = cfg->with_norm ? mact_module_get_child (module, "bn") : NULL;
  if (bn != NULL)
    g_object_set (bn, "sync", cfg->norm_sync, NULL);
  if (bn != NULL && !cfg->norm_requires_grad)
    mact_native_set_requires_grad (bn, FALSE);
  return module;
}

/**
 * mact_native_foreach_module:
 * @root: a module
 * @func: (scope call): called for every descendant of @root
 * @user_data: data for @func
 *
 * Visits the descendants of @root depth first, in registration order.
 */
void
mact_native_foreach_module (MactModule *root, MactNativeModuleFunc func, gpointer user_data)
{
  g_auto(GStrv) names = mact_module_list_children (root);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      MactModule *child = mact_module_get_child (root, names[i]);
      if (child == NULL)
        continue;
      func (child, user_data);
      mact_native_foreach_module (child, func, user_data);
    }
}

/**
 * mact_native_set_requires_grad:
 * @module: a module
 * @requires_grad: the new flag
 *
 * Sets `requires_grad` on every parameter of @module and its descendants (PyTorch's
 * `for p in m.parameters(): p.requires_grad = flag`).
 */
void
mact_native_set_requires_grad (MactModule *module, gboolean requires_grad)
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
 * mact_native_eval_batch_norms:
 * @module: a module
 *
 * Puts every batch norm below @module (and @module itself if it is one) in eval mode,
 * so that its running statistics are used and not updated.
 */
void
mact_native_eval_batch_norms (MactModule *module)
{
  if (MACT_IS_BATCH_NORM (module))
    mact_module_eval (module);
  mact_native_foreach_module (module, eval_if_batch_norm, NULL);
}

/**
 * mact_native_kaiming_init:
 * @weight: a conv weight
 * @bias: (nullable): its bias
 * @generator: the generator to draw from
 * @error: return location for a #GError
 *
 * mmcv's `kaiming_init` defaults: kaiming normal with mode fan_out and a ReLU gain, bias 0.
 *
 * Returns: %TRUE on success
 */
gboolean
mact_native_kaiming_init (MactTensor *weight, MactTensor *bias, MactGenerator *generator,
                          GError **error)
{
  if (!mact_tensor_kaiming_normal_ (weight, generator, 0.0, MACT_FAN_OUT, "relu", error))
    return FALSE;
  if (bias != NULL)
    mact_tensor_fill (bias, 0.0f);
  return TRUE;
}

/**
 * mact_native_normal_init:
 * @weight: a weight
 * @bias: (nullable): its bias
 * @generator: the generator to draw from
 * @std: the standard deviation
 * @error: return location for a #GError
 *
 * mmcv's `normal_init(m, std=std)`: weight ~ N(0, std), bias 0.
 *
 * Returns: %TRUE (@std is checked by the caller: a finite value >= 0)
 */
gboolean
mact_native_normal_init (MactTensor *weight, MactTensor *bias, MactGenerator *generator,
                         double std, GError **error)
{
  /* The blocks validate init_std at build time. */
  g_return_val_if_fail (std >= 0.0 && isfinite (std), FALSE);
  mact_tensor_normal_ (weight, generator, 0.0, std);
  if (bias != NULL)
    mact_tensor_fill (bias, 0.0f);
  return TRUE;
}

/**
 * mact_native_constant_init:
 * @weight: (nullable): a weight
 * @bias: (nullable): its bias
 * @value: the weight's value
 *
 * mmcv's `constant_init(m, value)`: weight = value, bias 0.
 */
void
mact_native_constant_init (MactTensor *weight, MactTensor *bias, float value)
{
  if (weight != NULL)
    mact_tensor_fill (weight, value);
  if (bias != NULL)
    mact_tensor_fill (bias, 0.0f);
}

/**
 * mact_native_check_single_input:
 * @inputs: (element-type MactTensor): the inputs of a forward call
 * @block: the block's type name, for messages
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @inputs holds exactly one tensor, else sets
 *   %MACT_MODULE_ERROR_INVALID_INPUT
 */
gboolean
mact_native_check_single_input (GPtrArray *inputs, const char *block, GError **error)
{
  if (inputs->len != 1 || g_ptr_array_index (inputs, 0) == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected one input tensor, got %u (tuple inputs are not supported)",
                   block, inputs->len);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_native_check_avg_consensus:
 * @consensus: (nullable): a head's `consensus` config; %NULL or a JSON null means the
 *   default AvgConsensus(dim=1)
 * @block: the head's type name, for messages
 * @error: return location for a #GError
 *
 * Accepts only `{type: 'AvgConsensus', dim: 1}`: mmaction2 turns any other type into a
 * None consensus that crashes in forward, and with the squeeze(1) that follows only dim 1
 * gives a working head.
 *
 * Returns: %TRUE when @consensus is acceptable
 */
gboolean
mact_native_check_avg_consensus (JsonNode *consensus, const char *block, GError **error)
{
  /* A config's null arrives as NULL: both mean the default AvgConsensus(dim=1). */
  if (consensus == NULL || JSON_NODE_HOLDS_NULL (consensus))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (consensus))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: consensus must be a dict like {type: 'AvgConsensus', dim: 1}", block);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (consensus);
  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_str_equal (l->data, "type") && !g_str_equal (l->data, "dim"))
      {
        g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                     "%s: consensus key \"%s\" is not supported (expected type, dim)",
                     block, (const char *) l->data);
        return FALSE;
      }
  JsonNode *type = json_object_get_member (obj, "type");
  if (type == NULL || !JSON_NODE_HOLDS_VALUE (type) ||
      json_node_get_value_type (type) != G_TYPE_STRING ||
      !g_str_equal (json_node_get_string (type), "AvgConsensus"))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: consensus type must be \"AvgConsensus\", got %s", block,
                   type && JSON_NODE_HOLDS_VALUE (type) &&
                   json_node_get_value_type (type) == G_TYPE_STRING
                   ? json_node_get_string (type) : "none");
      return FALSE;
    }
  JsonNode *dim = json_object_get_member (obj, "dim");
  if (dim != NULL &&
      (!JSON_NODE_HOLDS_VALUE (dim) || json_node_get_value_type (dim) != G_TYPE_INT64 ||
       json_node_get_int (dim) != 1))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "%s: AvgConsensus dim must be 1 (the segment dimension)", block);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_native_residual_forward:
 * @block: the residual block, for messages
 * @convs: (array length=n_convs): the ConvModules of the main path, in order
 * @n_convs: how many
 * @downsample: (nullable): the shortcut's ConvModule, or %NULL for the identity
 * @relu: the activation applied after the sum
 * @inputs: (element-type MactTensor): the block's inputs (one tensor)
 * @error: return location for a #GError
 *
 * The forward of mmaction2's BasicBlock and Bottleneck: relu(convs(x) + shortcut(x)).
 * Every child runs through mact_module_forward1(), so forward hooks on them fire
 * (GradCAM targets `layer4.1.relu`).
 *
 * Returns: (transfer full) (element-type MactTensor) (nullable): one output tensor
 */
GPtrArray *
mact_native_residual_forward (MactModule *block, MactModule **convs, guint n_convs,
                              MactModule *downsample, MactModule *relu, GPtrArray *inputs,
                              GError **error)
{
  if (!mact_native_check_single_input (inputs, G_OBJECT_TYPE_NAME (block), error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  g_autoptr(MactTensor) out = mact_tensor_ref (x);
  for (guint i = 0; i < n_convs; i++)
    {
      MactTensor *next = mact_module_forward1 (convs[i], out, error);
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
  g_autoptr(MactTensor) sum = mact_add (out, identity, error);
  if (sum == NULL)
    return NULL;
  MactTensor *y = mact_module_forward1 (relu, sum, error);
  if (y == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, y);
  return outputs;
}

/**
 * mact_native_replace_variant:
 * @slot: where a #GVariant property is kept
 * @value: the new value (holding a #GVariant or %NULL)
 *
 * Replaces the stored variant with a reference to the one in @value.
 */
void
mact_native_replace_variant (GVariant **slot, const GValue *value)
{
  g_clear_pointer (slot, g_variant_unref);
  *slot = g_value_dup_variant (value);
}

/**
 * mact_native_clear_json:
 * @slot: where a #JsonNode property is kept
 *
 * Frees the stored node, if any, and sets @slot to %NULL.
 */
void
mact_native_clear_json (JsonNode **slot)
{
  if (*slot != NULL)
    g_boxed_free (JSON_TYPE_NODE, g_steal_pointer (slot));
}

/**
 * mact_native_replace_json:
 * @slot: where a #JsonNode property is kept
 * @value: the new value (holding a #JsonNode or %NULL)
 *
 * Replaces the stored node with a copy of the one in @value.
 */
void
mact_native_replace_json (JsonNode **slot, const GValue *value)
{
  mact_native_clear_json (slot);
  *slot = g_value_dup_boxed (value);
}
