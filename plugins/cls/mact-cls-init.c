/* mact-cls-init.c: mmcv's init_cfg for the cls backbones (mmcv.cnn.utils.weight_init).
 *
 * An init_cfg is one initializer dict or a list of them, applied in order.  Each names
 * the layer classes it applies to (`layer`, PyTorch class names or their bases:
 * Conv2d/_ConvNd for the convolutions, BatchNorm2d/_BatchNorm/_NormBase for the batch
 * norms) and sets their `weight`, then their `bias` to `bias` (or to
 * -log((1 - bias_prob) / bias_prob)):
 *   Kaiming(a=0, mode='fan_out', nonlinearity='relu', distribution='normal')
 *   Constant(val)            Normal(mean=0, std=1)        Uniform(a=0, b=1)
 *   Xavier(gain=1, distribution='normal')                TruncNormal(mean=0, std=1, a=-2, b=2)
 *   Pretrained(checkpoint, prefix=None, map_location)    (a safetensors file)
 * `override` (per-child initializers by attribute name) is not supported.
 *
 * A config's null reaches a block as an unset property, so %NULL means mmcls's default
 * init_cfg: [Kaiming(layer=['Conv2d']), Constant(val=1, layer=['_BatchNorm',
 * 'GroupNorm'])].  (mmcls's explicit init_cfg=None, which keeps PyTorch's defaults, cannot
 * be expressed.)  Everything is validated when the block is built; init_weights() only
 * applies it. */
#include "mact-cls-init.h"

#include <math.h>
#include <string.h>

typedef enum {
  INIT_PRETRAINED,
  INIT_KAIMING,
  INIT_CONSTANT,
  INIT_NORMAL,
  INIT_UNIFORM,
  INIT_XAVIER,
  INIT_TRUNC_NORMAL,
} InitKind;

typedef struct {
  const char *name;
  InitKind    kind;
  const char *keys[10];
} Initializer;

#define INIT_COMMON_KEYS "type", "layer", "bias", "bias_prob"

static const Initializer initializers[] = {
  { "Pretrained", INIT_PRETRAINED, { "type", "checkpoint", "prefix", "map_location", NULL } },
  { "Kaiming", INIT_KAIMING, { INIT_COMMON_KEYS, "a", "mode", "nonlinearity", "distribution",
                               NULL } },
  { "Constant", INIT_CONSTANT, { INIT_COMMON_KEYS, "val", NULL } },
  { "Normal", INIT_NORMAL, { INIT_COMMON_KEYS, "mean", "std", NULL } },
  { "Uniform", INIT_UNIFORM, { INIT_COMMON_KEYS, "a", "b", NULL } },
  { "Xavier", INIT_XAVIER, { INIT_COMMON_KEYS, "gain", "distribution", NULL } },
  { "TruncNormal", INIT_TRUNC_NORMAL, { INIT_COMMON_KEYS, "mean", "std", "a", "b", NULL } },
};

/* mmcls's default init_cfg of ResNet and MobileNetV2. */
static const char default_init_cfg[] =
  "[{\"type\": \"Kaiming\", \"layer\": [\"Conv2d\"]},"
  " {\"type\": \"Constant\", \"val\": 1, \"layer\": [\"_BatchNorm\", \"GroupNorm\"]}]";

/* The class names (and base class names) of the layers mmcv's `layer` can match. */
static const char *const conv_names[] = { "Conv2d", "_ConvNd", NULL };
static const char *const norm_names[] = { "BatchNorm2d", "_BatchNorm", "_NormBase", NULL };

static gboolean
fail (GError **error, const char *block, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, const char *block, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "%s: init_cfg: %s",
               block, message);
  return FALSE;
}

static gboolean
is_json_type (JsonNode *node, GType type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
is_number (JsonNode *node)
{
  return is_json_type (node, G_TYPE_DOUBLE) || is_json_type (node, G_TYPE_INT64);
}

static double
number_or (JsonObject *obj, const char *name, double fallback)
{
  JsonNode *node = json_object_get_member (obj, name);
  return node != NULL ? json_node_get_double (node) : fallback;
}

static const char *
string_or (JsonObject *obj, const char *name, const char *fallback)
{
  JsonNode *node = json_object_get_member (obj, name);
  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? json_node_get_string (node) : fallback;
}

static const Initializer *
find_initializer (JsonObject *obj)
{
  JsonNode *type = json_object_get_member (obj, "type");
  if (!is_json_type (type, G_TYPE_STRING))
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (initializers); i++)
    if (g_str_equal (json_node_get_string (type), initializers[i].name))
      return &initializers[i];
  return NULL;
}

static gboolean
check_choice (JsonObject *obj, const char *name, const char *const *choices, const char *block,
              GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  if (node == NULL)
    return TRUE;
  if (is_json_type (node, G_TYPE_STRING) && g_strv_contains (choices, json_node_get_string (node)))
    return TRUE;
  g_autofree char *expected = g_strjoinv ("' or '", (char **) choices);
  return fail (error, block, "\"%s\" must be '%s'", name, expected);
}

/* Validates one initializer dict. */
static gboolean
check_entry (JsonNode *entry, const char *block, GError **error)
{
  static const char *const modes[] = { "fan_in", "fan_out", NULL };
  static const char *const distributions[] = { "normal", "uniform", NULL };
  static const char *const numbers[] = { "bias", "bias_prob", "a", "b", "val", "mean", "std",
                                         "gain", NULL };

  if (!JSON_NODE_HOLDS_OBJECT (entry))
    return fail (error, block, "expected a dict or a list of dicts with a \"type\"");
  JsonObject *obj = json_node_get_object (entry);
  const Initializer *init = find_initializer (obj);
  if (init == NULL)
    return fail (error, block, "\"type\" must be one of Pretrained, Kaiming, Constant, Normal, "
                 "Uniform, Xavier, TruncNormal");

  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      if (g_str_equal (key, "override"))
        return fail (error, block, "\"override\" is not supported");
      if (!g_strv_contains (init->keys, key))
        return fail (error, block, "%s does not take \"%s\"", init->name, key);
      if (g_strv_contains (numbers, key) && !is_number (json_object_get_member (obj, key)))
        return fail (error, block, "%s \"%s\" must be a number", init->name, key);
    }

  if (init->kind == INIT_PRETRAINED)
    {
      JsonNode *checkpoint = json_object_get_member (obj, "checkpoint");
      JsonNode *prefix = json_object_get_member (obj, "prefix");
      if (!is_json_type (checkpoint, G_TYPE_STRING) ||
          *json_node_get_string (checkpoint) == '\0')
        return fail (error, block, "Pretrained needs a \"checkpoint\" path");
      if (prefix != NULL && !JSON_NODE_HOLDS_NULL (prefix) && !is_json_type (prefix, G_TYPE_STRING))
        return fail (error, block, "Pretrained \"prefix\" must be a string");
      return TRUE;
    }

  JsonNode *layer = json_object_get_member (obj, "layer");
  if (layer != NULL && !is_json_type (layer, G_TYPE_STRING))
    {
      JsonArray *names = JSON_NODE_HOLDS_ARRAY (layer) ? json_node_get_array (layer) : NULL;
      for (guint i = 0; names != NULL && i < json_array_get_length (names); i++)
        if (!is_json_type (json_array_get_element (names, i), G_TYPE_STRING))
          names = NULL;
      if (names == NULL)
        return fail (error, block, "\"layer\" must be a class name or a list of them");
    }
  if (init->kind == INIT_CONSTANT && json_object_get_member (obj, "val") == NULL)
    return fail (error, block, "Constant needs \"val\"");
  if (json_object_has_member (obj, "bias_prob"))
    {
      double p = number_or (obj, "bias_prob", 0.5);
      if (!(p > 0.0 && p < 1.0))
        return fail (error, block, "\"bias_prob\" must be in (0, 1), got %g", p);
    }
  if (!check_choice (obj, "mode", modes, block, error) ||
      !check_choice (obj, "distribution", distributions, block, error))
    return FALSE;
  if (init->kind == INIT_KAIMING)
    {
      JsonNode *nl = json_object_get_member (obj, "nonlinearity");
      double gain;
      g_autoptr(GError) local = NULL;
      if (nl != NULL && (!is_json_type (nl, G_TYPE_STRING) ||
                         !mact_calculate_gain (json_node_get_string (nl), 0.0, &gain, &local)))
        return fail (error, block, "Kaiming \"nonlinearity\" is not a known nonlinearity");
    }
  if ((init->kind == INIT_NORMAL || init->kind == INIT_TRUNC_NORMAL) &&
      !(number_or (obj, "std", 1.0) >= 0.0))
    return fail (error, block, "%s \"std\" must not be negative", init->name);
  return TRUE;
}

/**
 * mact_cls_parse_init_cfg:
 * @cfg: (nullable): the `init_cfg` property; %NULL means mmcls's default
 * @block: the block's name, for messages
 * @pretrained_dict: (out): whether @cfg is a single 'Pretrained' dict (mmcls's ResNet
 *   then skips zero_init_residual)
 * @error: return location for a #GError
 *
 * Validates an init_cfg (see the file comment for what is supported).
 *
 * Returns: %TRUE when @cfg is acceptable
 */
gboolean
mact_cls_parse_init_cfg (JsonNode *cfg, const char *block, gboolean *pretrained_dict,
                         GError **error)
{
  *pretrained_dict = FALSE;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    return TRUE;
  if (JSON_NODE_HOLDS_ARRAY (cfg))
    {
      JsonArray *entries = json_node_get_array (cfg);
      for (guint i = 0; i < json_array_get_length (entries); i++)
        if (!check_entry (json_array_get_element (entries, i), block, error))
          return FALSE;
      return TRUE;
    }
  if (!check_entry (cfg, block, error))
    return FALSE;
  *pretrained_dict = find_initializer (json_node_get_object (cfg))->kind == INIT_PRETRAINED;
  return TRUE;
}

/* ------------------------------------------------------------------ Pretrained */

/* mmcv's PretrainedInit: loads the checkpoint non-strictly.  With `prefix` only the keys
 * under it are taken, with the prefix removed (an mmcls classifier checkpoint with
 * prefix='backbone.'); without, a leading `module.` (DataParallel) is removed, as mmcv's
 * load_checkpoint does.  Keys of the block missing from the file keep their values
 * (listed in a debug message).  Unlike mmcv, which only logs it, a checkpoint of which no
 * key fits is an error: that is a wrong file or prefix, never intended. */
static gboolean
load_pretrained (MactModule *module, JsonObject *obj, const char *block, GError **error)
{
  const char *checkpoint = json_object_get_string_member (obj, "checkpoint");
  const char *prefix = string_or (obj, "prefix", NULL);

  if (strstr (checkpoint, "://") != NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "%s: init_cfg checkpoint '%s' is a URL; download it and convert it to "
                   "safetensors with tools/convert-checkpoint.py", block, checkpoint);
      return FALSE;
    }
  g_autoptr(GError) local = NULL;
  g_autoptr(MactTensorDict) file = mact_safetensors_load (checkpoint, NULL, &local);
  if (file == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  "%s: init_cfg checkpoint (a .pth file must first be "
                                  "converted with tools/convert-checkpoint.py): ", block);
      return FALSE;
    }

  g_autofree char *wanted = NULL;
  if (prefix != NULL)
    wanted = g_str_has_suffix (prefix, ".") ? g_strdup (prefix) : g_strconcat (prefix, ".", NULL);
  else
    wanted = g_strdup ("module.");
  const gsize wanted_len = strlen (wanted);

  g_autoptr(MactTensorDict) weights = mact_tensor_dict_new ();
  const guint n = mact_tensor_dict_get_size (file);
  for (guint i = 0; i < n; i++)
    {
      const char *key = mact_tensor_dict_get_key (file, i);
      MactTensor *value = mact_tensor_dict_get_value (file, i);
      if (g_str_has_prefix (key, wanted))
        mact_tensor_dict_insert (weights, key + wanted_len, value);
      else if (prefix == NULL)
        mact_tensor_dict_insert (weights, key, value);
    }
  if (prefix != NULL && mact_tensor_dict_get_size (weights) == 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT,
                   "%s: init_cfg prefix '%s' is not in the checkpoint '%s'", block, prefix,
                   checkpoint);
      return FALSE;
    }

  g_autoptr(MactTensorDict) own = mact_module_state_dict (module);
  guint matched = 0;
  for (guint i = 0; i < mact_tensor_dict_get_size (own); i++)
    matched += mact_tensor_dict_contains (weights, mact_tensor_dict_get_key (own, i));
  if (matched == 0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_STATE_DICT,
                   "%s: no key of the checkpoint '%s'%s%s%s fits the backbone (its keys "
                   "start like '%s'; a classifier checkpoint needs prefix='backbone.')",
                   block, checkpoint, prefix ? " under prefix '" : "", prefix ? prefix : "",
                   prefix ? "'" : "",
                   n > 0 ? mact_tensor_dict_get_key (file, 0) : "(empty file)");
      return FALSE;
    }

  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  if (!mact_module_load_state_dict (module, weights, FALSE, &missing, &unexpected, error))
    {
      g_prefix_error (error, "%s: init_cfg checkpoint '%s': ", block, checkpoint);
      return FALSE;
    }
  if (missing[0] != NULL || unexpected[0] != NULL)
    {
      g_autofree char *missing_list = g_strjoinv (", ", missing);
      g_autofree char *unexpected_list = g_strjoinv (", ", unexpected);
      g_debug ("%s: init_cfg checkpoint '%s' loaded non-strictly; missing keys: [%s]; "
               "unexpected keys: [%s]", block, checkpoint, missing_list, unexpected_list);
    }
  return TRUE;
}

/* ------------------------------------------------------------------ initializers */

typedef struct {
  JsonObject        *obj;
  const Initializer *init;
  MactGenerator     *generator;
  GError            *error;
} ApplyState;

static gboolean
layer_matches (JsonObject *obj, MactModule *module)
{
  const char *const *names = MACT_IS_CONV (module) ? conv_names
                             : MACT_IS_BATCH_NORM (module) ? norm_names : NULL;
  JsonNode *layer = json_object_get_member (obj, "layer");
  if (names == NULL || layer == NULL)
    return FALSE;
  if (JSON_NODE_HOLDS_VALUE (layer))
    return g_strv_contains (names, json_node_get_string (layer));
  JsonArray *list = json_node_get_array (layer);
  for (guint i = 0; i < json_array_get_length (list); i++)
    if (g_strv_contains (names, json_array_get_string_element (list, i)))
      return TRUE;
  return FALSE;
}

static gboolean
init_weight (const ApplyState *state, MactTensor *weight, GError **error)
{
  JsonObject *obj = state->obj;
  const gboolean uniform = g_strcmp0 (string_or (obj, "distribution", "normal"), "uniform") == 0;

  switch (state->init->kind)
    {
    case INIT_KAIMING:
      {
        const double a = number_or (obj, "a", 0.0);
        const MactFanMode mode = g_strcmp0 (string_or (obj, "mode", "fan_out"), "fan_in") == 0
                                 ? MACT_FAN_IN : MACT_FAN_OUT;
        const char *nl = string_or (obj, "nonlinearity", "relu");
        return uniform
               ? mact_tensor_kaiming_uniform_ (weight, state->generator, a, mode, nl, error)
               : mact_tensor_kaiming_normal_ (weight, state->generator, a, mode, nl, error);
      }
    case INIT_CONSTANT:
      mact_tensor_fill (weight, (float) number_or (obj, "val", 0.0));
      return TRUE;
    case INIT_NORMAL:
      mact_tensor_normal_ (weight, state->generator, number_or (obj, "mean", 0.0),
                           number_or (obj, "std", 1.0));
      return TRUE;
    case INIT_UNIFORM:
      mact_tensor_uniform_ (weight, state->generator, number_or (obj, "a", 0.0),
                            number_or (obj, "b", 1.0));
      return TRUE;
    case INIT_XAVIER:
      {
        const double gain = number_or (obj, "gain", 1.0);
        return uniform ? mact_tensor_xavier_uniform_ (weight, state->generator, gain, error)
                       : mact_tensor_xavier_normal_ (weight, state->generator, gain, error);
      }
    case INIT_TRUNC_NORMAL:
      mact_tensor_trunc_normal_ (weight, state->generator, number_or (obj, "mean", 0.0),
                                 number_or (obj, "std", 1.0), number_or (obj, "a", -2.0),
                                 number_or (obj, "b", 2.0));
      return TRUE;
    case INIT_PRETRAINED:
    default:
      g_assert_not_reached ();
    }
}

static void
apply_visit (MactModule *module, gpointer user_data)
{
  ApplyState *state = user_data;
  if (state->error != NULL || !layer_matches (state->obj, module))
    return;
  MactTensor *weight = mact_module_get_parameter (module, "weight");
  MactTensor *bias = mact_module_get_parameter (module, "bias");
  if (weight != NULL && !init_weight (state, weight, &state->error))
    return;
  if (bias != NULL)
    {
      double value = number_or (state->obj, "bias", 0.0);
      if (json_object_has_member (state->obj, "bias_prob"))
        {
          /* mmcv's bias_init_with_prob. */
          double p = number_or (state->obj, "bias_prob", 0.5);
          value = -log ((1.0 - p) / p);
        }
      mact_tensor_fill (bias, (float) value);
    }
}

static gboolean
apply_entry (MactModule *module, JsonObject *obj, const char *block, MactGenerator *generator,
             GError **error)
{
  const Initializer *init = find_initializer (obj);
  if (init->kind == INIT_PRETRAINED)
    return load_pretrained (module, obj, block, error);
  ApplyState state = { obj, init, generator, NULL };
  mact_cls_foreach_module (module, apply_visit, &state);
  if (state.error != NULL)
    {
      g_propagate_prefixed_error (error, state.error, "%s: init_cfg %s: ", block, init->name);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_cls_init_weights:
 * @module: the backbone
 * @cfg: (nullable): its validated init_cfg; %NULL for mmcls's default
 * @block: the block's name, for messages
 * @generator: (nullable): the generator to draw from, %NULL for the default one
 * @error: return location for a #GError
 *
 * Applies an init_cfg as mmcv's BaseModule.init_weights does: each initializer in turn
 * over every layer it names.
 *
 * Errors: those of a 'Pretrained' checkpoint (%MACT_MODULE_ERROR_NOT_IMPLEMENTED for a
 * URL, %MACT_IO_ERROR codes for the file, %MACT_MODULE_ERROR_STATE_DICT when it does not
 * fit); %MACT_TENSOR_ERROR when an initializer cannot apply to a layer (Kaiming or Xavier
 * on a batch norm's 1-D weight, as in PyTorch).
 *
 * Returns: %TRUE on success
 */
gboolean
mact_cls_init_weights (MactModule *module, JsonNode *cfg, const char *block,
                       MactGenerator *generator, GError **error)
{
  g_autoptr(JsonNode) fallback = NULL;
  if (cfg == NULL || JSON_NODE_HOLDS_NULL (cfg))
    {
      fallback = json_from_string (default_init_cfg, NULL);
      cfg = fallback;
    }
  if (generator == NULL)
    generator = mact_generator_get_default ();

  if (!JSON_NODE_HOLDS_ARRAY (cfg))
    return apply_entry (module, json_node_get_object (cfg), block, generator, error);
  JsonArray *entries = json_node_get_array (cfg);
  for (guint i = 0; i < json_array_get_length (entries); i++)
    if (!apply_entry (module, json_array_get_object_element (entries, i), block, generator,
                      error))
      return FALSE;
  return TRUE;
}
