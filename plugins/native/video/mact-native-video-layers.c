/* mact-native-video-layers.c: mmcv's conv_cfg / norm_cfg for the 3-D video blocks,
 * ConvModules with per-dimension kernels (Conv3d or Conv2plus1d), and the per-stage and
 * per-block tuples of mmaction2's 3-D backbones.
 *
 * As in the first native plugin, only the configs mmaction2's 3-D models use are
 * supported: conv_cfg Conv3d (or Conv2plus1d for ResNet2Plus1d), norm_cfg BN3d or SyncBN
 * (a BN3d with the sync property: statistics shared across data-parallel ranks) with
 * requires_grad, eps and momentum; anything else is refused at build time with an error naming the block and the key. */
#include "mact-native-video-layers.h"
#include "mact-native-video-conv2plus1d.h"

#include <math.h>
#include <string.h>

/**
 * mact_native_video_invalid:
 * @error: return location for a #GError
 * @block: the block's type name
 * @format: printf-style message
 * @...: arguments for @format
 *
 * Sets %MACT_MODULE_ERROR_INVALID_ARGUMENT with "@block: message".
 *
 * Returns: %FALSE, for `return mact_native_video_invalid (...)`
 */
gboolean
mact_native_video_invalid (GError **error, const char *block, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "%s: %s", block,
               message);
  return FALSE;
}

static JsonObject *
cfg_object (JsonNode *cfg, const char *block, const char *key, const char *const *keys,
            const char **type, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (cfg))
    {
      mact_native_video_invalid (error, block, "%s must be a dict with a \"type\" key", key);
      return NULL;
    }
  JsonObject *obj = json_node_get_object (cfg);
  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (keys, l->data))
      {
        g_autofree char *expected = g_strjoinv (", ", (char **) keys);
        mact_native_video_invalid (error, block, "%s key \"%s\" is not supported (expected "
                                   "%s)", key, (const char *) l->data, expected);
        return NULL;
      }
  JsonNode *type_node = json_object_get_member (obj, "type");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      mact_native_video_invalid (error, block, "%s needs a string \"type\"", key);
      return NULL;
    }
  *type = json_node_get_string (type_node);
  return obj;
}

static gboolean
read_number (JsonObject *obj, const char *name, double *value, const char *block,
             const char *key, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      (json_node_get_value_type (node) != G_TYPE_DOUBLE &&
       json_node_get_value_type (node) != G_TYPE_INT64))
    return mact_native_video_invalid (error, block, "%s \"%s\" must be a number", key, name);
  *value = json_node_get_double (node);
  return TRUE;
}

/**
 * mact_native_video_parse_norm_cfg:
 * @cfg: (nullable): an mmcv `norm_cfg`; %NULL or a JSON null means BN3d's defaults
 * @block: the block's type name, for messages
 * @key: the argument's name, for messages
 * @out: (out caller-allocates): the parsed config
 * @error: return location for a #GError
 *
 * Parses `{type: 'BN3d' | 'SyncBN', requires_grad, eps, momentum}`.  A config's null
 * reaches a block as an unset property, so None means the default here: mmaction2's 3-D
 * backbones without norm layers are not supported.
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_native_video_parse_norm_cfg (JsonNode *cfg, const char *block, const char *key,
                                  MactNativeVideoNormCfg *out, GError **error)
{
  static const char *const keys[] = { "type", "requires_grad", "eps", "momentum", NULL };
  static const char *const types[] = { "BN3d", "SyncBN", NULL };
  const char *type = NULL;

  out->requires_grad = TRUE;
  out->eps = 1e-5;
  out->momentum = 0.1;
  out->sync = FALSE;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  JsonObject *obj = cfg_object (cfg, block, key, keys, &type, error);
  if (obj == NULL)
    return FALSE;
  if (!g_strv_contains (types, type))
    return mact_native_video_invalid (error, block, "%s type \"%s\" is not supported "
                                      "(expected BN3d or SyncBN)", key, type);
  out->sync = g_str_equal (type, "SyncBN");
  JsonNode *grad = json_object_get_member (obj, "requires_grad");
  if (grad != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (grad) || json_node_get_value_type (grad) != G_TYPE_BOOLEAN)
        return mact_native_video_invalid (error, block, "%s \"requires_grad\" must be a "
                                          "boolean", key);
      out->requires_grad = json_node_get_boolean (grad);
    }
  if (!read_number (obj, "eps", &out->eps, block, key, error) ||
      !read_number (obj, "momentum", &out->momentum, block, key, error))
    return FALSE;
  if (!(out->eps > 0.0 && isfinite (out->eps)))
    return mact_native_video_invalid (error, block, "%s eps must be positive, got %g", key,
                                      out->eps);
  if (!(out->momentum >= 0.0 && out->momentum <= 1.0))
    return mact_native_video_invalid (error, block, "%s momentum must be in [0, 1], got %g",
                                      key, out->momentum);
  return TRUE;
}

/**
 * mact_native_video_parse_conv_cfg:
 * @cfg: (nullable): an mmcv `conv_cfg`; %NULL or a JSON null means Conv3d
 * @block: the block's type name, for messages
 * @allow_plus1d: whether 'Conv2plus1d' is accepted (ResNet2Plus1d)
 * @out: (inout): receives `plus1d` and `inner_norm`; `norm` is left alone
 * @error: return location for a #GError
 *
 * Parses `{type: 'Conv3d'}` or `{type: 'Conv2plus1d', norm_cfg: {...}}`.  mmcv passes
 * the extra keys of a conv_cfg to the conv's constructor, so a Conv2plus1d's own norm
 * (bn_s) follows conv_cfg's `norm_cfg` and is a default BN3d otherwise, whatever the
 * backbone's norm_cfg says.
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_native_video_parse_conv_cfg (JsonNode *cfg, const char *block, gboolean allow_plus1d,
                                  MactNativeVideoLayerCfg *out, GError **error)
{
  static const char *const conv3d_keys[] = { "type", NULL };
  static const char *const plus1d_keys[] = { "type", "norm_cfg", NULL };
  const char *type = NULL;

  out->plus1d = FALSE;
  if (!mact_native_video_parse_norm_cfg (NULL, block, "conv_cfg.norm_cfg", &out->inner_norm,
                                         error))
    return FALSE;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  JsonObject *obj = cfg_object (cfg, block, "conv_cfg", allow_plus1d ? plus1d_keys
                                                                     : conv3d_keys,
                                &type, error);
  if (obj == NULL)
    return FALSE;
  if (g_str_equal (type, "Conv3d") && json_object_get_size (obj) == 1)
    return TRUE;
  if (allow_plus1d && g_str_equal (type, "Conv2plus1d"))
    {
      out->plus1d = TRUE;
      return mact_native_video_parse_norm_cfg (json_object_get_member (obj, "norm_cfg"),
                                               block, "conv_cfg.norm_cfg", &out->inner_norm,
                                               error);
    }
  if (g_str_equal (type, "Conv3d"))
    return mact_native_video_invalid (error, block, "conv_cfg key \"norm_cfg\" is only "
                                      "supported with Conv2plus1d");
  return mact_native_video_invalid (error, block, "conv_cfg type \"%s\" is not supported "
                                    "(expected %s)", type,
                                    allow_plus1d ? "Conv3d or Conv2plus1d" : "Conv3d");
}

/**
 * mact_native_video_int_tuple:
 * @n: the number of values
 * @values: (array length=n): the values
 *
 * Returns: (transfer floating): an "ax" variant
 */
GVariant *
mact_native_video_int_tuple (gsize n, const gint64 *values)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, values, n, sizeof (gint64));
}

static GVariant *
triple (const gint *v)
{
  const gint64 values[3] = { v[0], v[1], v[2] };
  return mact_native_video_int_tuple (3, values);
}

/**
 * mact_native_video_conv_module_new:
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: (array fixed-size=3): (T, H, W) kernel
 * @stride: (array fixed-size=3): strides
 * @padding: (array fixed-size=3): paddings
 * @dilation: (array fixed-size=3): dilations
 * @groups: the conv's groups
 * @cfg: the parsed layer configs
 * @with_norm: whether a norm follows (norm_cfg is not None for this ConvModule)
 * @with_act: whether a ReLU follows (act_cfg is not None for this ConvModule)
 * @error: return location for a #GError
 *
 * An mmcv ConvModule (children conv, bn, activate) as mmaction2's 3-D blocks create it,
 * always with `bias=False`.  With a Conv2plus1d conv_cfg the "conv" child is a
 * Conv2plus1d (which ignores dilation and groups, as mmaction2's does); the ConvModule's
 * own kernel-size, stride, padding and dilation properties then describe a 1x1x1
 * placeholder, not the Conv2plus1d, which holds the real geometry.  A norm whose config
 * says `requires_grad=False` gets frozen affine parameters.
 *
 * Returns: (transfer full) (nullable): the built module
 */
MactModule *
mact_native_video_conv_module_new (gint in_channels, gint out_channels,
                                   const gint *kernel_size, const gint *stride,
                                   const gint *padding, const gint *dilation, gint groups,
                                   const MactNativeVideoLayerCfg *cfg, gboolean with_norm,
                                   gboolean with_act, GError **error)
{
  static const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  const gboolean plus1d = cfg->plus1d;
  g_autoptr(MactModule) module =
    mact_module_new (MACT_TYPE_CONV_MODULE, error,
                     "dims", 3,
                     "in-channels", in_channels,
                     "out-channels", out_channels,
                     "kernel-size", triple (plus1d ? one : kernel_size),
                     "stride", triple (plus1d ? one : stride),
                     "padding", triple (plus1d ? zero : padding),
                     "dilation", triple (plus1d ? one : dilation),
                     "groups", plus1d ? 1 : groups,
                     "bias", MACT_CONV_BIAS_FALSE,
                     "with-norm", with_norm,
                     "norm-eps", cfg->norm.eps,
                     "norm-momentum", cfg->norm.momentum,
                     "norm-sync", cfg->norm.sync,
                     "has-act", with_act,
                     "act", MACT_ACTIVATION_RELU,
                     NULL);
  if (module == NULL)
    return NULL;
  if (plus1d)
    {
      g_autoptr(MactModule) conv = mact_native_video_conv2plus1d_new (in_channels,
                                                                      out_channels,
                                                                      kernel_size, stride,
                                                                      padding,
                                                                      &cfg->inner_norm,
                                                                      error);
      if (conv == NULL || !mact_module_replace_child (module, "conv", conv, error))
        return NULL;
    }
  if (with_norm && !cfg->norm.requires_grad)
    mact_native_set_requires_grad (mact_module_get_child (module, "bn"), FALSE);
  return g_steal_pointer (&module);
}

/**
 * mact_native_video_zero_norm:
 * @conv_module: a ConvModule
 *
 * mmcv's `constant_init(conv_module.bn, 0)`: the norm's weight and bias become 0, so
 * that a residual block starts as the identity (zero_init_residual).
 */
void
mact_native_video_zero_norm (MactModule *conv_module)
{
  MactModule *bn = mact_module_get_child (conv_module, "bn");
  if (bn != NULL)
    mact_native_constant_init (mact_module_get_parameter (bn, "weight"),
                               mact_module_get_parameter (bn, "bias"), 0.0f);
}

/**
 * mact_native_video_read_ints:
 * @tuple: (nullable): an "ax" variant
 * @n_min: the fewest values accepted
 * @n_max: the most values accepted (the size of @out)
 * @out: (out caller-allocates) (array length=n_max): the values
 * @n_out: (out) (optional): how many were read
 * @block: the block's type name, for messages
 * @name: the argument's name, for messages
 * @error: return location for a #GError
 *
 * Reads an int tuple of @n_min to @n_max entries.
 *
 * Returns: %TRUE on success
 */
gboolean
mact_native_video_read_ints (GVariant *tuple, gint n_min, gint n_max, gint *out, gint *n_out,
                             const char *block, const char *name, GError **error)
{
  gsize n = tuple != NULL ? g_variant_n_children (tuple) : 0;
  if (n < (gsize) n_min || n > (gsize) n_max)
    {
      if (n_min == n_max)
        return mact_native_video_invalid (error, block, "%s must have %d entries, got %"
                                          G_GSIZE_FORMAT, name, n_min, n);
      return mact_native_video_invalid (error, block, "%s must have %d to %d entries, got %"
                                        G_GSIZE_FORMAT, name, n_min, n_max, n);
    }
  for (gsize i = 0; i < n; i++)
    {
      gint64 v;
      g_variant_get_child (tuple, i, "x", &v);
      if (v < G_MININT || v > G_MAXINT)
        return mact_native_video_invalid (error, block, "%s entry %" G_GSIZE_FORMAT " (%"
                                          G_GINT64_FORMAT ") is out of range", name, i, v);
      out[i] = (gint) v;
    }
  if (n_out != NULL)
    *n_out = (gint) n;
  return TRUE;
}

/* Reads an integer-like variant (ints of any width, or a boolean as Python's True == 1)
 * through any "v" boxes. */
static gboolean
variant_scalar (GVariant *v, gint64 *out)
{
  g_autoptr(GVariant) inner = g_variant_ref (v);
  while (g_variant_is_of_type (inner, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *next = g_variant_get_variant (inner);
      g_variant_unref (inner);
      inner = next;
    }
  switch (g_variant_classify (inner))
    {
    case G_VARIANT_CLASS_BOOLEAN: *out = g_variant_get_boolean (inner); return TRUE;
    case G_VARIANT_CLASS_BYTE: *out = g_variant_get_byte (inner); return TRUE;
    case G_VARIANT_CLASS_INT16: *out = g_variant_get_int16 (inner); return TRUE;
    case G_VARIANT_CLASS_UINT16: *out = g_variant_get_uint16 (inner); return TRUE;
    case G_VARIANT_CLASS_INT32: *out = g_variant_get_int32 (inner); return TRUE;
    case G_VARIANT_CLASS_UINT32: *out = g_variant_get_uint32 (inner); return TRUE;
    case G_VARIANT_CLASS_INT64: *out = g_variant_get_int64 (inner); return TRUE;
    case G_VARIANT_CLASS_UINT64: *out = (gint64) g_variant_get_uint64 (inner); return TRUE;
    default: return FALSE;
    }
}

static GVariant *
variant_unbox (GVariant *v)
{
  GVariant *inner = g_variant_ref (v);
  while (g_variant_is_of_type (inner, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *next = g_variant_get_variant (inner);
      g_variant_unref (inner);
      inner = next;
    }
  return inner;
}

static gboolean
is_sequence (GVariant *v)
{
  return g_variant_is_of_type (v, G_VARIANT_TYPE_ARRAY) ||
         g_variant_is_of_type (v, G_VARIANT_TYPE_TUPLE);
}

/**
 * mact_native_video_read_block_flags:
 * @spec: (nullable): the argument: an int, a per-stage sequence whose entries are ints or
 *   per-block sequences (mmaction2's `inflate` and `non_local`); %NULL means 0
 * @num_stages: the number of stages
 * @stage_blocks: (array length=num_stages): blocks per stage
 * @flags: (out caller-allocates): one flag per block, stage after stage
 * @block: the block's type name, for messages
 * @name: the argument's name, for messages
 * @error: return location for a #GError
 *
 * mmaction2's `_ntuple(num_stages)(x)` followed by make_res_layer's per-block expansion:
 * an int applies to every stage; a sequence gives one entry per stage (entries past
 * num_stages are ignored, as Python's indexing does; fewer is an error); a stage's int
 * applies to all its blocks and a stage's sequence must have one entry per block.  A
 * block's flag is set when its value equals 1, as mmaction2's `inflate[i] == 1`.
 *
 * Returns: %TRUE on success
 */
gboolean
mact_native_video_read_block_flags (GVariant *spec, gint num_stages, const gint *stage_blocks,
                                    gboolean *flags, const char *block, const char *name,
                                    GError **error)
{
  gint64 scalar = 0;
  gint offset = 0;

  if (spec == NULL || variant_scalar (spec, &scalar))
    {
      for (gint s = 0; s < num_stages; s++)
        for (gint b = 0; b < stage_blocks[s]; b++)
          flags[offset++] = scalar == 1;
      return TRUE;
    }
  g_autoptr(GVariant) stages = variant_unbox (spec);
  if (!is_sequence (stages))
    return mact_native_video_invalid (error, block, "%s must be an int or a sequence of "
                                      "per-stage values", name);
  if (g_variant_n_children (stages) < (gsize) num_stages)
    return mact_native_video_invalid (error, block, "%s has %" G_GSIZE_FORMAT " entries, "
                                      "expected one per stage (%d)", name,
                                      g_variant_n_children (stages), num_stages);
  for (gint s = 0; s < num_stages; s++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (stages, s);
      if (variant_scalar (entry, &scalar))
        {
          for (gint b = 0; b < stage_blocks[s]; b++)
            flags[offset++] = scalar == 1;
          continue;
        }
      g_autoptr(GVariant) per_block = variant_unbox (entry);
      if (!is_sequence (per_block))
        return mact_native_video_invalid (error, block, "%s entry %d must be an int or a "
                                          "sequence of per-block values", name, s);
      if (g_variant_n_children (per_block) != (gsize) stage_blocks[s])
        return mact_native_video_invalid (error, block, "%s entry %d has %" G_GSIZE_FORMAT
                                          " values, expected one per block (%d)", name, s,
                                          g_variant_n_children (per_block),
                                          stage_blocks[s]);
      for (gint b = 0; b < stage_blocks[s]; b++)
        {
          g_autoptr(GVariant) value = g_variant_get_child_value (per_block, b);
          if (!variant_scalar (value, &scalar))
            return mact_native_video_invalid (error, block, "%s entry %d value %d must be "
                                              "an int", name, s, b);
          flags[offset++] = scalar == 1;
        }
    }
  return TRUE;
}

/**
 * mact_native_video_read_checkpoint:
 * @block: the block's type name, for messages
 * @path: a `pretrained` argument
 * @error: return location for a #GError
 *
 * Reads the weights a `pretrained` argument names: a .safetensors file (convert .pth
 * checkpoints with the tools/ converter).  URLs such as 'torchvision://resnet50' or
 * 'https://...' are %MACT_MODULE_ERROR_NOT_IMPLEMENTED: mact downloads nothing.
 *
 * Returns: (transfer full) (nullable): the state dict
 */
MactTensorDict *
mact_native_video_read_checkpoint (const char *block, const char *path, GError **error)
{
  if (strstr (path, "://") != NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "%s: pretrained='%s': checkpoints are not downloaded; convert it to "
                   ".safetensors (tools/) and give the file's path", block, path);
      return NULL;
    }
  MactTensorDict *weights = mact_safetensors_load (path, NULL, error);
  if (weights == NULL)
    g_prefix_error (error, "%s: pretrained: ", block);
  return weights;
}

/**
 * mact_native_video_load_checkpoint:
 * @module: the block
 * @block: the block's type name, for messages
 * @path: a `pretrained` argument
 * @strict: mmcv's load_checkpoint `strict`
 * @error: return location for a #GError
 *
 * mmcv's `load_checkpoint(module, path, strict)` for a converted checkpoint: without
 * @strict, keys present on one side only are ignored; a shape mismatch is an error in
 * both modes (PyTorch's load_state_dict rule; mmcv would skip it with a warning).
 *
 * Returns: %TRUE on success
 */
gboolean
mact_native_video_load_checkpoint (MactModule *module, const char *block, const char *path,
                                   gboolean strict, GError **error)
{
  g_autoptr(MactTensorDict) weights = mact_native_video_read_checkpoint (block, path, error);
  if (weights == NULL)
    return FALSE;
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  if (!mact_module_load_state_dict (module, weights, strict, &missing, &unexpected, error))
    {
      g_prefix_error (error, "%s: pretrained: ", block);
      return FALSE;
    }
  return TRUE;
}
