/* mact-optimizer.c: MactOptimizer, the base of the optimizers: parameter groups built as
 * mmcv's DefaultOptimizerConstructor builds them, per-parameter state, checkpoints of that
 * state, and the MACT_TRAIN_ERROR domain.
 *
 * Groups.  mmcv gives every parameter its own torch param group; the update of a parameter
 * only depends on its group's hyper-parameters, so parameters that end up with the same
 * (lr, weight_decay) are kept in one group here, in order of first appearance.  This keeps
 * the group count small for schedules and logs without changing any update.
 *
 * State.  Each parameter has a step count and the tensors named by the class's
 * state_names, created zero-filled on first use.  mact_optimizer_state_dict() writes them
 * as float32 tensors (so they go through safetensors): "state.<param>.<state>",
 * "state.<param>.step" (0-D), and per group "param_groups.<i>.<option>" (0-D, the value
 * rounded to float) plus "param_groups.<i>.<option>.f64", the exact double as four 16-bit
 * pieces, so that a resumed run continues with bit-identical hyper-parameters. */
#include "mact-tensor-private.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (mact-train-error-quark, mact_train_error)

typedef struct {
  char   *name;
  double  value;
} GroupOption;

typedef struct {
  GPtrArray *params;   /* MactTensor (owned refs) */
  GPtrArray *names;    /* gchar * (owned), NULL-terminated */
  GArray    *options;  /* GroupOption, in insertion order */
} Group;

typedef struct {
  MactTensor  *param;  /* owned ref */
  gint64       step;
  MactTensor **state;  /* one slot per class state name, NULL until created */
  guint        n_state;
} ParamEntry;

typedef struct {
  GPtrArray  *groups;   /* Group * */
  GPtrArray  *order;    /* const char * (owned by @entries' keys), named_parameters order */
  GHashTable *entries;  /* name -> ParamEntry * */
} MactOptimizerPrivate;

/**
 * MactOptimizer:
 *
 * The abstract base of the optimizers (#MactSGD, #MactAdam, #MactAdamW): parameter
 * groups with their hyper-parameters, per-parameter state and its checkpoints.
 * Subclasses implement #MactOptimizerClass.update.
 *
 * Since: 0.1
 */
G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactOptimizer, mact_optimizer, G_TYPE_OBJECT)

/* float32 holds every integer up to 2^24 exactly; step counts are stored that way. */
#define MAX_STORED_STEP ((gint64) 1 << 24)

static void
group_free (Group *group)
{
  g_ptr_array_unref (group->params);
  g_ptr_array_unref (group->names);
  for (guint i = 0; i < group->options->len; i++)
    g_free (g_array_index (group->options, GroupOption, i).name);
  g_array_unref (group->options);
  g_free (group);
}

static Group *
group_new (void)
{
  Group *group = g_new0 (Group, 1);
  group->params = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  group->names = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (group->names, NULL);
  group->options = g_array_new (FALSE, FALSE, sizeof (GroupOption));
  return group;
}

static void
entry_clear_state (ParamEntry *entry)
{
  for (guint i = 0; i < entry->n_state; i++)
    g_clear_pointer (&entry->state[i], mact_tensor_unref);
  entry->step = 0;
}

static void
entry_free (ParamEntry *entry)
{
  entry_clear_state (entry);
  g_free (entry->state);
  mact_tensor_unref (entry->param);
  g_free (entry);
}

static GroupOption *
group_find_option (Group *group, const char *option)
{
  for (guint i = 0; i < group->options->len; i++)
    {
      GroupOption *opt = &g_array_index (group->options, GroupOption, i);
      if (g_str_equal (opt->name, option))
        return opt;
    }
  return NULL;
}

static void
group_set_option (Group *group, const char *option, double value)
{
  GroupOption *opt = group_find_option (group, option);
  if (opt != NULL)
    {
      opt->value = value;
      return;
    }
  GroupOption fresh = { g_strdup (option), value };
  g_array_append_val (group->options, fresh);
}

static void
mact_optimizer_finalize (GObject *object)
{
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (MACT_OPTIMIZER (object));
  g_ptr_array_unref (priv->groups);
  g_ptr_array_unref (priv->order);
  g_hash_table_unref (priv->entries);
  G_OBJECT_CLASS (mact_optimizer_parent_class)->finalize (object);
}

static void
mact_optimizer_class_init (MactOptimizerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mact_optimizer_finalize;
}

static void
mact_optimizer_init (MactOptimizer *self)
{
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  priv->groups = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);
  priv->order = g_ptr_array_new ();
  priv->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) entry_free);
}

static guint
class_n_state_names (MactOptimizerClass *klass)
{
  guint n = 0;
  if (klass->state_names != NULL)
    while (klass->state_names[n] != NULL)
      n++;
  return n;
}

/* The slot of @state_name in the class's state names, or -1. */
static gint
class_state_index (MactOptimizerClass *klass, const char *state_name)
{
  if (klass->state_names == NULL)
    return -1;
  for (guint i = 0; klass->state_names[i] != NULL; i++)
    if (g_str_equal (klass->state_names[i], state_name))
      return (gint) i;
  return -1;
}

/* ------------------------------------------------------------------ config parsing */

typedef struct {
  const char *type_name;            /* mmaction2's `type` */
  GType     (*get_type) (void);
  const char *const *keys;          /* accepted keys besides type/paramwise_cfg/constructor */
  double      default_lr;           /* NAN: required */
  double      default_weight_decay;
} OptimizerKind;

static const char *const sgd_keys[] = {
  "lr", "momentum", "dampening", "weight_decay", "nesterov", NULL
};
static const char *const adam_keys[] = {
  "lr", "betas", "eps", "weight_decay", "amsgrad", NULL
};

static const OptimizerKind optimizer_kinds[] = {
  { "SGD", mact_sgd_get_type, sgd_keys, NAN, 0.0 },
  { "Adam", mact_adam_get_type, adam_keys, 1e-3, 0.0 },
  /* torch.optim.AdamW's own default decay. */
  { "AdamW", mact_adamw_get_type, adam_keys, 1e-3, 1e-2 },
};

static gboolean
node_is_number (JsonNode *node)
{
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType t = json_node_get_value_type (node);
  return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

static gboolean
invalid (GError **error, const char *block, const char *key, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

static gboolean
invalid (GError **error, const char *block, const char *key, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG, "%s: '%s' %s",
               block, key, what);
  return FALSE;
}

/* Reads number @key of @obj into @out when present (leaving it untouched otherwise) and
 * checks it is finite and >= @min. */
static gboolean
read_number (JsonObject  *obj,
             const char  *block,
             const char  *key,
             double       min,
             double      *out,
             gboolean    *given,
             GError     **error)
{
  JsonNode *node = json_object_get_member (obj, key);
  if (given != NULL)
    *given = node != NULL;
  if (node == NULL)
    return TRUE;
  if (!node_is_number (node))
    return invalid (error, block, key, "must be a number, got %s", mact_config_describe_value (node));
  double v = json_node_get_double (node);
  if (!isfinite (v) || v < min)
    return invalid (error, block, key, "must be a finite number >= %g, got %g", min, v);
  *out = v;
  return TRUE;
}

static gboolean
read_bool (JsonObject  *obj,
           const char  *block,
           const char  *key,
           gboolean    *out,
           GError     **error)
{
  JsonNode *node = json_object_get_member (obj, key);
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return invalid (error, block, key, "must be a boolean, got %s", mact_config_describe_value (node));
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
check_keys (JsonObject         *obj,
            const char         *block,
            const char *const  *allowed,
            const char *const  *more_allowed,
            GError            **error)
{
  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      if (g_strv_contains ((const char *const *) allowed, key) ||
          (more_allowed != NULL && g_strv_contains ((const char *const *) more_allowed, key)))
        continue;
      g_autoptr(GString) list = g_string_new (NULL);
      for (const char *const *k = allowed; *k != NULL; k++)
        g_string_append_printf (list, "%s%s", list->len ? ", " : "", *k);
      if (more_allowed != NULL)
        for (const char *const *k = more_allowed; *k != NULL; k++)
          g_string_append_printf (list, "%s%s", list->len ? ", " : "", *k);
      return invalid (error, block, key, "is not a known key (expected one of: %s)",
                      list->str);
    }
  return TRUE;
}

typedef struct {
  char   *key;
  double  lr_mult;
  double  decay_mult;
  gboolean has_decay_mult;
} CustomKey;

static void
custom_key_clear (CustomKey *ck)
{
  g_free (ck->key);
}

typedef struct {
  double  bias_lr_mult;
  double  bias_decay_mult;
  double  norm_decay_mult;
  double  dwconv_decay_mult;
  GArray *custom_keys;   /* CustomKey, in matching order */
} ParamwiseCfg;

static void
paramwise_cfg_clear (ParamwiseCfg *pw)
{
  g_clear_pointer (&pw->custom_keys, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ParamwiseCfg, paramwise_cfg_clear)

/* mmcv matches the longest key first, ties in alphabetical order. */
static gint
custom_key_compare (gconstpointer a, gconstpointer b)
{
  const CustomKey *ka = a, *kb = b;
  gsize la = strlen (ka->key), lb = strlen (kb->key);
  if (la != lb)
    return la > lb ? -1 : 1;
  return strcmp (ka->key, kb->key);
}

static gboolean
parse_paramwise (JsonNode      *node,
                 gboolean       base_wd_given,
                 ParamwiseCfg  *out,
                 GError       **error)
{
  const char *block = "optimizer.paramwise_cfg";
  out->bias_lr_mult = out->bias_decay_mult = 1.0;
  out->norm_decay_mult = out->dwconv_decay_mult = 1.0;
  out->custom_keys = g_array_new (FALSE, TRUE, sizeof (CustomKey));
  g_array_set_clear_func (out->custom_keys, (GDestroyNotify) custom_key_clear);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, "optimizer", "paramwise_cfg", "must be an object, got %s",
                    mact_config_describe_value (node));
  JsonObject *obj = json_node_get_object (node);
  static const char *const keys[] = {
    "bias_lr_mult", "bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult",
    "custom_keys", "bypass_duplicate", NULL
  };
  if (!check_keys (obj, block, keys, NULL, error))
    return FALSE;
  if (!read_number (obj, block, "bias_lr_mult", 0.0, &out->bias_lr_mult, NULL, error))
    return FALSE;
  static const char *const decay_keys[] = {
    "bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult"
  };
  double *decay_out[] = {
    &out->bias_decay_mult, &out->norm_decay_mult, &out->dwconv_decay_mult
  };
  for (guint i = 0; i < G_N_ELEMENTS (decay_keys); i++)
    {
      gboolean given = FALSE;
      if (!read_number (obj, block, decay_keys[i], 0.0, decay_out[i], &given, error))
        return FALSE;
      /* mmcv: "base_wd should not be None" */
      if (given && !base_wd_given)
        return invalid (error, block, decay_keys[i],
                        "needs 'weight_decay' in the optimizer config");
    }
  /* Parameters are unique in named_parameters already: bypassing duplicates is a no-op. */
  gboolean bypass = FALSE;
  if (!read_bool (obj, block, "bypass_duplicate", &bypass, error))
    return FALSE;

  JsonNode *ck_node = json_object_get_member (obj, "custom_keys");
  if (ck_node == NULL || JSON_NODE_HOLDS_NULL (ck_node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (ck_node))
    return invalid (error, block, "custom_keys", "must be an object, got %s",
                    mact_config_describe_value (ck_node));
  JsonObject *ck_obj = json_node_get_object (ck_node);
  g_autoptr(GList) members = json_object_get_members (ck_obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      g_autofree char *ck_block = g_strdup_printf ("%s.custom_keys", block);
      JsonNode *entry = json_object_get_member (ck_obj, name);
      if (!JSON_NODE_HOLDS_OBJECT (entry))
        return invalid (error, ck_block, name, "must be an object, got %s",
                        mact_config_describe_value (entry));
      JsonObject *entry_obj = json_node_get_object (entry);
      g_autofree char *entry_block = g_strdup_printf ("%s.%s", ck_block, name);
      static const char *const entry_keys[] = { "lr_mult", "decay_mult", NULL };
      if (!check_keys (entry_obj, entry_block, entry_keys, NULL, error))
        return FALSE;
      CustomKey ck = { NULL, 1.0, 1.0, FALSE };
      if (!read_number (entry_obj, entry_block, "lr_mult", 0.0, &ck.lr_mult, NULL, error) ||
          !read_number (entry_obj, entry_block, "decay_mult", 0.0, &ck.decay_mult,
                        &ck.has_decay_mult, error))
        return FALSE;
      if (ck.has_decay_mult && !base_wd_given)
        return invalid (error, entry_block, "decay_mult",
                        "needs 'weight_decay' in the optimizer config");
      ck.key = g_strdup (name);
      g_array_append_val (out->custom_keys, ck);
    }
  g_array_sort (out->custom_keys, custom_key_compare);
  return TRUE;
}

/* Whether @module is a normalisation layer: mmcv tests for _BatchNorm, _InstanceNorm,
 * GroupNorm and LayerNorm; here any type in the module's ancestry whose name has "Norm". */
static gboolean
module_is_norm (MactModule *module)
{
  if (MACT_IS_BATCH_NORM (module))
    return TRUE;
  for (GType t = G_OBJECT_TYPE (module); t != 0; t = g_type_parent (t))
    if (strstr (g_type_name (t), "Norm") != NULL)
      return TRUE;
  return FALSE;
}

/* A depthwise convolution: one group per input channel (and more than one channel, so a
 * plain single-channel conv does not count). */
static gboolean
module_is_dwconv (MactModule *module)
{
  if (!MACT_IS_CONV (module))
    return FALSE;
  gint groups = 0, in_channels = 0;
  g_object_get (module, "groups", &groups, "in-channels", &in_channels, NULL);
  return in_channels > 1 && groups == in_channels;
}

/* DefaultOptimizerConstructor.add_params for one parameter. */
static gboolean
param_options (MactModule    *model,
               const char    *name,
               ParamwiseCfg  *pw,
               double         base_lr,
               double         base_wd,
               gboolean       base_wd_given,
               double        *lr,
               double        *wd,
               GError       **error)
{
  *lr = base_lr;
  *wd = base_wd;

  const char *dot = strrchr (name, '.');
  const char *leaf = dot != NULL ? dot + 1 : name;
  MactModule *owner = model;
  if (dot != NULL)
    {
      g_autofree char *path = g_strndup (name, (gsize) (dot - name));
      owner = mact_module_get_submodule (model, path, error);
      if (owner == NULL)
        return FALSE;
    }
  /* mmcv matches f'{prefix}.{name}': a top-level parameter reads ".name". */
  g_autofree char *match_name = dot != NULL ? g_strdup (name) : g_strconcat (".", name, NULL);

  for (guint i = 0; i < pw->custom_keys->len; i++)
    {
      CustomKey *ck = &g_array_index (pw->custom_keys, CustomKey, i);
      if (strstr (match_name, ck->key) == NULL)
        continue;
      /* A custom key overrides every other rule. */
      *lr = base_lr * ck->lr_mult;
      if (base_wd_given)
        *wd = base_wd * ck->decay_mult;
      return TRUE;
    }

  const gboolean is_bias = g_str_equal (leaf, "bias");
  const gboolean is_norm = module_is_norm (owner);
  if (is_bias && !is_norm)
    *lr = base_lr * pw->bias_lr_mult;
  if (!base_wd_given)
    return TRUE;
  if (is_norm)
    *wd = base_wd * pw->norm_decay_mult;
  else if (module_is_dwconv (owner))
    *wd = base_wd * pw->dwconv_decay_mult;
  else if (is_bias)
    *wd = base_wd * pw->bias_decay_mult;
  return TRUE;
}

typedef struct {
  double   momentum, dampening;
  gboolean nesterov;
  double   beta1, beta2, eps;
  gboolean amsgrad;
} TypeOptions;

static gboolean
parse_type_options (JsonObject          *obj,
                    const OptimizerKind *kind,
                    TypeOptions         *opts,
                    GError             **error)
{
  const char *block = "optimizer";
  if (kind->get_type == mact_sgd_get_type)
    {
      opts->momentum = 0.0;
      opts->dampening = 0.0;
      opts->nesterov = FALSE;
      if (!read_number (obj, block, "momentum", 0.0, &opts->momentum, NULL, error) ||
          !read_number (obj, block, "dampening", -G_MAXDOUBLE, &opts->dampening, NULL,
                        error) ||
          !read_bool (obj, block, "nesterov", &opts->nesterov, error))
        return FALSE;
      if (opts->nesterov && (opts->momentum <= 0.0 || opts->dampening != 0.0))
        return invalid (error, block, "nesterov",
                        "requires a momentum > 0 and zero dampening (momentum %g, "
                        "dampening %g)", opts->momentum, opts->dampening);
      return TRUE;
    }

  opts->beta1 = 0.9;
  opts->beta2 = 0.999;
  opts->eps = 1e-8;
  opts->amsgrad = FALSE;
  if (!read_number (obj, block, "eps", 0.0, &opts->eps, NULL, error) ||
      !read_bool (obj, block, "amsgrad", &opts->amsgrad, error))
    return FALSE;
  JsonNode *betas = json_object_get_member (obj, "betas");
  if (betas != NULL)
    {
      JsonArray *arr = JSON_NODE_HOLDS_ARRAY (betas) ? json_node_get_array (betas) : NULL;
      if (arr == NULL || json_array_get_length (arr) != 2 ||
          !node_is_number (json_array_get_element (arr, 0)) ||
          !node_is_number (json_array_get_element (arr, 1)))
        return invalid (error, block, "betas", "must be a list of two numbers");
      double b[2] = { json_array_get_double_element (arr, 0),
                      json_array_get_double_element (arr, 1) };
      for (guint i = 0; i < 2; i++)
        if (!(b[i] >= 0.0 && b[i] < 1.0))
          return invalid (error, block, "betas", "must be in [0, 1), got %g at index %u",
                          b[i], i);
      opts->beta1 = b[0];
      opts->beta2 = b[1];
    }
  return TRUE;
}

static void
group_add_type_options (Group *group, const OptimizerKind *kind, const TypeOptions *opts)
{
  if (kind->get_type == mact_sgd_get_type)
    {
      group_set_option (group, "momentum", opts->momentum);
      group_set_option (group, "dampening", opts->dampening);
      group_set_option (group, "nesterov", opts->nesterov ? 1.0 : 0.0);
      return;
    }
  group_set_option (group, "beta1", opts->beta1);
  group_set_option (group, "beta2", opts->beta2);
  group_set_option (group, "eps", opts->eps);
  group_set_option (group, "amsgrad", opts->amsgrad ? 1.0 : 0.0);
}

/**
 * mact_optimizer_new_from_config:
 * @model: the model whose parameters are optimised
 * @optimizer_cfg: mmaction2's `optimizer` dict as a JSON object
 * @error: return location for a #GError, or %NULL
 *
 * Builds an optimizer the way mmcv's DefaultOptimizerConstructor does.  `type` is "SGD",
 * "Adam" or "AdamW"; the other keys are the PyTorch constructor's, with PyTorch's defaults
 * (SGD: `lr` (required), `momentum`, `dampening`, `weight_decay`, `nesterov`; Adam/AdamW:
 * `lr` (1e-3), `betas` ([0.9, 0.999]), `eps` (1e-8), `weight_decay` (0, AdamW 1e-2),
 * `amsgrad`).  `constructor` may only name "DefaultOptimizerConstructor".
 *
 * `paramwise_cfg` sets per-parameter lr and weight decay: `custom_keys` {substring:
 * {lr_mult, decay_mult}} (the longest matching key wins, ties alphabetically, and it
 * overrides every other rule), `bias_lr_mult` (biases outside norm layers),
 * `norm_decay_mult` (parameters of modules whose type name contains "Norm", such as
 * #MactBatchNorm), `dwconv_decay_mult` (a #MactConv with groups == in_channels > 1) and
 * `bias_decay_mult` (other biases).  The decay multipliers need an explicit
 * `weight_decay`, as in mmcv.  `bypass_duplicate` is accepted and has no effect: shared
 * parameters are listed once anyway.
 *
 * Parameters that do not require grad (frozen stages) are left out, so the optimizer never
 * changes them.  Parameters with the same (lr, weight_decay) share a group, in
 * mact_module_named_parameters() order; each group's "initial_lr" is its lr.
 *
 * Any unknown key, wrong JSON type, out-of-range value or unknown type is
 * %MACT_TRAIN_ERROR_INVALID_CONFIG with a message naming the key, as is a model without
 * any trainable parameter.
 *
 * Returns: (transfer full) (nullable): a #MactSGD, #MactAdam or #MactAdamW, or %NULL with
 *   @error set
 *
 * Since: 0.1
 */
MactOptimizer *
mact_optimizer_new_from_config (MactModule  *model,
                                JsonNode    *optimizer_cfg,
                                GError     **error)
{
  g_return_val_if_fail (MACT_IS_MODULE (model), NULL);
  g_return_val_if_fail (optimizer_cfg != NULL, NULL);
  const char *block = "optimizer";

  if (!JSON_NODE_HOLDS_OBJECT (optimizer_cfg))
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG,
                   "optimizer: expected an object, got %s", mact_config_describe_value (optimizer_cfg));
      return NULL;
    }
  JsonObject *obj = json_node_get_object (optimizer_cfg);

  JsonNode *type_node = json_object_get_member (obj, "type");
  if (type_node == NULL)
    {
      invalid (error, block, "type", "is missing (expected SGD, Adam or AdamW)");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      invalid (error, block, "type", "must be a string, got %s", mact_config_describe_value (type_node));
      return NULL;
    }
  const char *type_name = json_node_get_string (type_node);
  const OptimizerKind *kind = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (optimizer_kinds); i++)
    if (g_str_equal (optimizer_kinds[i].type_name, type_name))
      kind = &optimizer_kinds[i];
  if (kind == NULL)
    {
      invalid (error, block, "type", "names an unknown optimizer '%s' (expected SGD, Adam "
               "or AdamW)", type_name);
      return NULL;
    }

  static const char *const common_keys[] = {
    "type", "paramwise_cfg", "constructor", NULL
  };
  if (!check_keys (obj, block, common_keys, kind->keys, error))
    return NULL;

  JsonNode *ctor = json_object_get_member (obj, "constructor");
  if (ctor != NULL &&
      (!JSON_NODE_HOLDS_VALUE (ctor) || json_node_get_value_type (ctor) != G_TYPE_STRING ||
       !g_str_equal (json_node_get_string (ctor), "DefaultOptimizerConstructor")))
    {
      invalid (error, block, "constructor",
               "must be \"DefaultOptimizerConstructor\" (the only one mact implements)");
      return NULL;
    }

  double base_lr = kind->default_lr;
  gboolean lr_given = FALSE;
  if (!read_number (obj, block, "lr", 0.0, &base_lr, &lr_given, error))
    return NULL;
  if (!lr_given && isnan (base_lr))
    {
      invalid (error, block, "lr", "is required for %s", kind->type_name);
      return NULL;
    }
  double base_wd = kind->default_weight_decay;
  gboolean wd_given = FALSE;
  if (!read_number (obj, block, "weight_decay", 0.0, &base_wd, &wd_given, error))
    return NULL;

  TypeOptions topts;
  if (!parse_type_options (obj, kind, &topts, error))
    return NULL;

  g_auto(ParamwiseCfg) pw = { 0 };
  if (!parse_paramwise (json_object_get_member (obj, "paramwise_cfg"), wd_given, &pw, error))
    return NULL;

  g_autoptr(MactOptimizer) self = g_object_new (kind->get_type (), NULL);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  const guint n_state = class_n_state_names (MACT_OPTIMIZER_GET_CLASS (self));

  g_autoptr(MactTensorDict) named = mact_module_named_parameters (model);
  const guint n = mact_tensor_dict_get_size (named);
  for (guint i = 0; i < n; i++)
    {
      const char *name = mact_tensor_dict_get_key (named, i);
      MactTensor *param = mact_tensor_dict_get_value (named, i);
      if (!mact_tensor_get_requires_grad (param))
        continue;
      double lr = 0, wd = 0;
      if (!param_options (model, name, &pw, base_lr, base_wd, wd_given, &lr, &wd, error))
        return NULL;

      Group *group = NULL;
      guint group_index = 0;
      for (; group_index < priv->groups->len; group_index++)
        {
          Group *g = g_ptr_array_index (priv->groups, group_index);
          if (group_find_option (g, "lr")->value == lr &&
              group_find_option (g, "weight_decay")->value == wd)
            {
              group = g;
              break;
            }
        }
      if (group == NULL)
        {
          group = group_new ();
          group_set_option (group, "lr", lr);
          group_set_option (group, "initial_lr", lr);
          group_set_option (group, "weight_decay", wd);
          group_add_type_options (group, kind, &topts);
          g_ptr_array_add (priv->groups, group);
        }
      g_ptr_array_add (group->params, mact_tensor_ref (param));
      /* keep the names array NULL-terminated */
      group->names->pdata[group->names->len - 1] = g_strdup (name);
      g_ptr_array_add (group->names, NULL);

      ParamEntry *entry = g_new0 (ParamEntry, 1);
      entry->param = mact_tensor_ref (param);
      entry->n_state = n_state;
      entry->state = g_new0 (MactTensor *, MAX (n_state, 1));
      char *key = g_strdup (name);
      g_hash_table_insert (priv->entries, key, entry);
      g_ptr_array_add (priv->order, key);
    }

  if (priv->groups->len == 0)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG,
                   "optimizer: the model has no parameter that requires grad (%u "
                   "parameters, all frozen)", n);
      return NULL;
    }
  return g_steal_pointer (&self);
}

/* ------------------------------------------------------------------ stepping */

/**
 * mact_optimizer_step:
 * @self: an optimizer
 * @error: return location for a #GError, or %NULL
 *
 * Updates every parameter that has a gradient from it (PyTorch's `optimizer.step()`);
 * parameters without a gradient are skipped.  All gradients are checked before anything
 * changes: a gradient whose shape differs from its parameter's, or a parameter that is
 * not contiguous, is %MACT_TRAIN_ERROR_STATE and leaves every parameter as it was.
 * A non-contiguous gradient is replaced by a contiguous copy.  Nothing is recorded by
 * autograd.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_optimizer_step (MactOptimizer  *self,
                     GError        **error)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), FALSE);
  MactOptimizerClass *klass = MACT_OPTIMIZER_GET_CLASS (self);
  g_return_val_if_fail (klass->update != NULL, FALSE);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);

  for (guint i = 0; i < priv->order->len; i++)
    {
      const char *name = g_ptr_array_index (priv->order, i);
      ParamEntry *entry = g_hash_table_lookup (priv->entries, name);
      MactTensor *grad = mact_tensor_get_grad (entry->param);
      if (grad == NULL)
        continue;
      gint pnd = 0, gnd = 0;
      const gint64 *ps = mact_tensor_get_shape (entry->param, &pnd);
      const gint64 *gs = mact_tensor_get_shape (grad, &gnd);
      if (pnd != gnd || memcmp (ps, gs, sizeof (gint64) * (gsize) pnd) != 0)
        {
          g_autofree char *want = mact_tensor_shape_to_string (entry->param);
          g_autofree char *got = mact_tensor_shape_to_string (grad);
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                       "optimizer step: the gradient of '%s' has shape %s, expected %s",
                       name, got, want);
          return FALSE;
        }
      if (!mact_tensor_is_contiguous (entry->param))
        {
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                       "optimizer step: parameter '%s' is not contiguous and cannot be "
                       "updated in place", name);
          return FALSE;
        }
    }
  for (guint i = 0; i < priv->order->len; i++)
    {
      ParamEntry *entry = g_hash_table_lookup (priv->entries,
                                               g_ptr_array_index (priv->order, i));
      MactTensor *grad = mact_tensor_get_grad (entry->param);
      if (grad != NULL && !mact_tensor_is_contiguous (grad))
        {
          g_autoptr(MactTensor) copy = mact_tensor_new_empty (mact_tensor_get_ndim (grad),
                                                              mact_tensor_get_shape (grad,
                                                                                     NULL),
                                                              NULL);
          mact_tensor_copy_to_array (grad, mact_tensor_get_data (copy));
          mact_tensor_set_grad (entry->param, copy);
        }
    }

  for (guint g = 0; g < priv->groups->len; g++)
    if (!klass->update (self, g, error))
      return FALSE;
  return TRUE;
}

/**
 * mact_optimizer_zero_grad:
 * @self: an optimizer
 *
 * Clears the gradient of every parameter of the optimizer, as
 * `zero_grad(set_to_none=True)` (and mact_module_zero_grad()) do: until the next backward
 * reaches a parameter, mact_optimizer_step() skips it.
 *
 * Since: 0.1
 */
void
mact_optimizer_zero_grad (MactOptimizer *self)
{
  g_return_if_fail (MACT_IS_OPTIMIZER (self));
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, priv->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    mact_tensor_set_grad (((ParamEntry *) value)->param, NULL);
}

/* ------------------------------------------------------------------ groups */

/**
 * mact_optimizer_get_n_groups:
 * @self: an optimizer
 *
 * Returns: the number of parameter groups (at least one)
 *
 * Since: 0.1
 */
guint
mact_optimizer_get_n_groups (MactOptimizer *self)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), 0);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  return priv->groups->len;
}

static Group *
get_group (MactOptimizer *self, guint group_index)
{
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  if (group_index >= priv->groups->len)
    return NULL;
  return g_ptr_array_index (priv->groups, group_index);
}

/**
 * mact_optimizer_get_group_params:
 * @self: an optimizer
 * @group_index: a group index, below mact_optimizer_get_n_groups()
 *
 * Returns: (transfer container) (element-type MactTensor): the group's parameters, in
 *   mact_module_named_parameters() order; the array holds a reference to each and
 *   releases them when freed
 *
 * Since: 0.1
 */
GPtrArray *
mact_optimizer_get_group_params (MactOptimizer *self,
                                 guint          group_index)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), NULL);
  Group *group = get_group (self, group_index);
  g_return_val_if_fail (group != NULL, NULL);
  GPtrArray *out = g_ptr_array_new_full (group->params->len,
                                         (GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < group->params->len; i++)
    g_ptr_array_add (out, mact_tensor_ref (g_ptr_array_index (group->params, i)));
  return out;
}

/**
 * mact_optimizer_get_group_param_names:
 * @self: an optimizer
 * @group_index: a group index, below mact_optimizer_get_n_groups()
 *
 * Returns: (transfer none) (array zero-terminated=1): the names of the group's
 *   parameters (keys of mact_module_named_parameters()), in the order of
 *   mact_optimizer_get_group_params()
 *
 * Since: 0.1
 */
const char * const *
mact_optimizer_get_group_param_names (MactOptimizer *self,
                                      guint          group_index)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), NULL);
  Group *group = get_group (self, group_index);
  g_return_val_if_fail (group != NULL, NULL);
  return (const char * const *) group->names->pdata;
}

/**
 * mact_optimizer_get_group_option:
 * @self: an optimizer
 * @group_index: a group index, below mact_optimizer_get_n_groups()
 * @option: an option name: "lr", "initial_lr", "weight_decay"; for SGD "momentum",
 *   "dampening", "nesterov" (0 or 1); for Adam and AdamW "beta1", "beta2", "eps",
 *   "amsgrad" (0 or 1); or any name set with mact_optimizer_set_group_option()
 *
 * Returns: the option's value, or NAN when the group has no such option
 *
 * Since: 0.1
 */
double
mact_optimizer_get_group_option (MactOptimizer *self,
                                 guint          group_index,
                                 const char    *option)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), NAN);
  g_return_val_if_fail (option != NULL, NAN);
  Group *group = get_group (self, group_index);
  g_return_val_if_fail (group != NULL, NAN);
  GroupOption *opt = group_find_option (group, option);
  return opt != NULL ? opt->value : NAN;
}

/**
 * mact_optimizer_set_group_option:
 * @self: an optimizer
 * @group_index: a group index, below mact_optimizer_get_n_groups()
 * @option: an option name without '.' (see mact_optimizer_get_group_option())
 * @value: the new value
 *
 * Sets a hyper-parameter of a group, as assigning `param_groups[i][option]` in PyTorch:
 * schedules set "lr" (and leave "initial_lr", the lr the group was built with).  A new
 * name adds an option, which mact_optimizer_state_dict() then saves too.
 *
 * Since: 0.1
 */
void
mact_optimizer_set_group_option (MactOptimizer *self,
                                 guint          group_index,
                                 const char    *option,
                                 double         value)
{
  g_return_if_fail (MACT_IS_OPTIMIZER (self));
  g_return_if_fail (option != NULL && *option != '\0' && strchr (option, '.') == NULL);
  Group *group = get_group (self, group_index);
  g_return_if_fail (group != NULL);
  group_set_option (group, option, value);
}

/**
 * mact_optimizer_get_lr:
 * @self: an optimizer
 *
 * The lr of the first group, which mmcv's runner logs as "lr".
 *
 * Returns: the current lr of group 0
 *
 * Since: 0.1
 */
double
mact_optimizer_get_lr (MactOptimizer *self)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), NAN);
  return mact_optimizer_get_group_option (self, 0, "lr");
}

/**
 * mact_optimizer_get_params:
 * @self: an optimizer
 *
 * All parameters the optimizer updates (those that required grad when it was built), in
 * mact_module_named_parameters() order, e.g. for gradient clipping.
 *
 * Returns: (transfer container) (element-type MactTensor): the parameters; the array
 *   holds a reference to each and releases them when freed
 *
 * Since: 0.1
 */
GPtrArray *
mact_optimizer_get_params (MactOptimizer *self)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), NULL);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  GPtrArray *out = g_ptr_array_new_full (priv->order->len,
                                         (GDestroyNotify) mact_tensor_unref);
  for (guint i = 0; i < priv->order->len; i++)
    {
      ParamEntry *entry = g_hash_table_lookup (priv->entries,
                                               g_ptr_array_index (priv->order, i));
      g_ptr_array_add (out, mact_tensor_ref (entry->param));
    }
  return out;
}

/* ------------------------------------------------------------------ per-parameter state */

/**
 * mact_optimizer_get_state:
 * @self: an optimizer
 * @param_name: a parameter's name (see mact_optimizer_get_group_param_names())
 * @state_name: one of the class's state names (#MactOptimizerClass.state_names)
 * @created: (out) (optional): set to %TRUE when the tensor was just created
 * @error: return location for a #GError, or %NULL
 *
 * The per-parameter state tensor @state_name of @param_name, created zero-filled with the
 * parameter's shape on first use.  An unknown parameter or state name is
 * %MACT_TRAIN_ERROR_STATE.
 *
 * Returns: (transfer none) (nullable): the state tensor, owned by the optimizer, or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_optimizer_get_state (MactOptimizer  *self,
                          const char     *param_name,
                          const char     *state_name,
                          gboolean       *created,
                          GError        **error)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), NULL);
  g_return_val_if_fail (param_name != NULL && state_name != NULL, NULL);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  if (created != NULL)
    *created = FALSE;
  ParamEntry *entry = g_hash_table_lookup (priv->entries, param_name);
  if (entry == NULL)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                   "%s has no parameter named '%s'", G_OBJECT_TYPE_NAME (self), param_name);
      return NULL;
    }
  gint slot = class_state_index (MACT_OPTIMIZER_GET_CLASS (self), state_name);
  if (slot < 0)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                   "%s keeps no state named '%s'", G_OBJECT_TYPE_NAME (self), state_name);
      return NULL;
    }
  if (entry->state[slot] == NULL)
    {
      MactTensor *t = mact_tensor_new (mact_tensor_get_ndim (entry->param),
                                       mact_tensor_get_shape (entry->param, NULL), error);
      if (t == NULL)
        return NULL;
      entry->state[slot] = t;
      if (created != NULL)
        *created = TRUE;
    }
  return entry->state[slot];
}

/**
 * mact_optimizer_get_step_count:
 * @self: an optimizer
 * @param_name: a parameter's name
 *
 * Returns: how many updates @param_name has had (PyTorch's `state[p]['step']`), 0 before
 *   the first
 *
 * Since: 0.1
 */
gint64
mact_optimizer_get_step_count (MactOptimizer *self,
                               const char    *param_name)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), 0);
  g_return_val_if_fail (param_name != NULL, 0);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  ParamEntry *entry = g_hash_table_lookup (priv->entries, param_name);
  g_return_val_if_fail (entry != NULL, 0);
  return entry->step;
}

/**
 * mact_optimizer_set_step_count:
 * @self: an optimizer
 * @param_name: a parameter's name
 * @step: the new count, >= 0
 *
 * Sets the update count of @param_name; subclasses increment it in their update.
 *
 * Since: 0.1
 */
void
mact_optimizer_set_step_count (MactOptimizer *self,
                               const char    *param_name,
                               gint64         step)
{
  g_return_if_fail (MACT_IS_OPTIMIZER (self));
  g_return_if_fail (param_name != NULL && step >= 0);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  ParamEntry *entry = g_hash_table_lookup (priv->entries, param_name);
  g_return_if_fail (entry != NULL);
  entry->step = step;
}

/* ------------------------------------------------------------------ checkpoints */

#define STATE_PREFIX "state."
#define GROUPS_PREFIX "param_groups."
#define EXACT_SUFFIX ".f64"

static MactTensor *
copy_tensor (MactTensor *src)
{
  MactTensor *dst = mact_tensor_new_empty (mact_tensor_get_ndim (src),
                                           mact_tensor_get_shape (src, NULL), NULL);
  mact_tensor_copy_to_array (src, mact_tensor_get_data (dst));
  return dst;
}

/* The bits of a double as four 16-bit pieces (least significant first), each exact in a
 * float. */
static MactTensor *
encode_double (double value)
{
  guint64 bits;
  memcpy (&bits, &value, sizeof bits);
  float pieces[4];
  for (guint i = 0; i < 4; i++)
    pieces[i] = (float) ((bits >> (16 * i)) & 0xffff);
  return mact_tensor_new_from_data (pieces, 4, 1, (gint64[]) { 4 }, NULL);
}

static gboolean
decode_double (MactTensor *t, double *value)
{
  if (mact_tensor_get_ndim (t) != 1 || mact_tensor_get_numel (t) != 4)
    return FALSE;
  float pieces[4];
  mact_tensor_copy_to_array (t, pieces);
  guint64 bits = 0;
  for (guint i = 0; i < 4; i++)
    {
      if (!(pieces[i] >= 0.0f && pieces[i] <= 65535.0f) || pieces[i] != floorf (pieces[i]))
        return FALSE;
      bits |= (guint64) pieces[i] << (16 * i);
    }
  memcpy (value, &bits, sizeof bits);
  return isfinite (*value);
}

static gboolean
entry_has_state (ParamEntry *entry)
{
  if (entry->step > 0)
    return TRUE;
  for (guint i = 0; i < entry->n_state; i++)
    if (entry->state[i] != NULL)
      return TRUE;
  return FALSE;
}

/**
 * mact_optimizer_state_dict:
 * @self: an optimizer
 *
 * A snapshot of the optimizer's state for checkpoints, as float32 tensors that
 * safetensors can hold (copies: stepping on does not change them):
 *
 * - `state.<param>.<state name>`: each per-parameter state tensor (e.g.
 *   "state.backbone.conv1.weight.momentum_buffer");
 * - `state.<param>.step`: the parameter's update count, a 0-D tensor (exact up to 2^24);
 * - `param_groups.<i>.<option>`: each option of group i as a 0-D tensor (the value
 *   rounded to float, for reading), and `param_groups.<i>.<option>.f64`: the exact double
 *   as four 16-bit integers, least significant first.
 *
 * Parameters that have never been updated have no `state.` entries, as in PyTorch.
 *
 * Returns: (transfer full): the state
 *
 * Since: 0.1
 */
MactTensorDict *
mact_optimizer_state_dict (MactOptimizer *self)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), NULL);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  MactOptimizerClass *klass = MACT_OPTIMIZER_GET_CLASS (self);
  MactTensorDict *dict = mact_tensor_dict_new ();
  g_autoptr(GString) key = g_string_new (NULL);

  for (guint i = 0; i < priv->order->len; i++)
    {
      const char *name = g_ptr_array_index (priv->order, i);
      ParamEntry *entry = g_hash_table_lookup (priv->entries, name);
      if (!entry_has_state (entry))
        continue;
      for (guint s = 0; s < entry->n_state; s++)
        {
          if (entry->state[s] == NULL)
            continue;
          g_autoptr(MactTensor) copy = copy_tensor (entry->state[s]);
          g_string_printf (key, STATE_PREFIX "%s.%s", name, klass->state_names[s]);
          mact_tensor_dict_insert (dict, key->str, copy);
        }
      g_string_printf (key, STATE_PREFIX "%s.step", name);
      g_autoptr(MactTensor) step = mact_tensor_new_scalar ((float) entry->step);
      mact_tensor_dict_insert (dict, key->str, step);
    }

  for (guint g = 0; g < priv->groups->len; g++)
    {
      Group *group = g_ptr_array_index (priv->groups, g);
      for (guint o = 0; o < group->options->len; o++)
        {
          GroupOption *opt = &g_array_index (group->options, GroupOption, o);
          g_string_printf (key, GROUPS_PREFIX "%u.%s", g, opt->name);
          g_autoptr(MactTensor) value = mact_tensor_new_scalar ((float) opt->value);
          mact_tensor_dict_insert (dict, key->str, value);
          g_string_append (key, EXACT_SUFFIX);
          g_autoptr(MactTensor) exact = encode_double (opt->value);
          mact_tensor_dict_insert (dict, key->str, exact);
        }
    }
  return dict;
}

static gboolean
state_error (GError **error, const char *key, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
state_error (GError **error, const char *key, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
               "optimizer state: '%s' %s", key, what);
  return FALSE;
}

static gboolean
read_scalar (MactTensor *t, double *value)
{
  if (mact_tensor_get_numel (t) != 1 || mact_tensor_get_ndim (t) > 1)
    return FALSE;
  float v = 0;
  mact_tensor_copy_to_array (t, &v);
  *value = v;
  return isfinite (v);
}

/* One option value of the dict being loaded. */
typedef struct {
  guint   group;
  char   *name;
  double  value;
} LoadedOption;

static void
loaded_option_clear (LoadedOption *opt)
{
  g_free (opt->name);
}

/**
 * mact_optimizer_load_state_dict:
 * @self: an optimizer
 * @state: a state from mact_optimizer_state_dict(), possibly through a safetensors file
 * @error: return location for a #GError, or %NULL
 *
 * Replaces the optimizer's state and group options with @state's, as PyTorch's
 * `load_state_dict`: parameters absent from @state start afresh.  The tensors are copied.
 * An exact `.f64` value is used when it rounds to the plain value beside it; otherwise
 * (the plain value was edited, or has no `.f64`) the plain value is used.
 *
 * Everything is checked before anything changes; these are %MACT_TRAIN_ERROR_STATE: a key
 * that is neither `state.` nor `param_groups.`, an unknown parameter or state name, a state
 * tensor whose shape differs from its parameter's, a step that is not an integer in
 * [0, 2^24], a group index beyond the optimizer's groups, a non-finite or non-scalar option
 * value, a malformed `.f64`, and a group option of this optimizer missing from @state
 * (which is how a state saved by another optimizer type shows).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_optimizer_load_state_dict (MactOptimizer   *self,
                                MactTensorDict  *state,
                                GError         **error)
{
  g_return_val_if_fail (MACT_IS_OPTIMIZER (self), FALSE);
  g_return_val_if_fail (state != NULL, FALSE);
  MactOptimizerPrivate *priv = mact_optimizer_get_instance_private (self);
  MactOptimizerClass *klass = MACT_OPTIMIZER_GET_CLASS (self);

  g_autoptr(GArray) options = g_array_new (FALSE, TRUE, sizeof (LoadedOption));
  g_array_set_clear_func (options, (GDestroyNotify) loaded_option_clear);
  g_autoptr(GHashTable) exact = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       g_free);

  /* pass 1: check everything */
  const guint n = mact_tensor_dict_get_size (state);
  for (guint i = 0; i < n; i++)
    {
      const char *key = mact_tensor_dict_get_key (state, i);
      MactTensor *t = mact_tensor_dict_get_value (state, i);
      if (g_str_has_prefix (key, STATE_PREFIX))
        {
          const char *rest = key + strlen (STATE_PREFIX);
          const char *dot = strrchr (rest, '.');
          if (dot == NULL || dot == rest)
            return state_error (error, key, "is not 'state.<parameter>.<state name>'");
          g_autofree char *pname = g_strndup (rest, (gsize) (dot - rest));
          const char *sname = dot + 1;
          ParamEntry *entry = g_hash_table_lookup (priv->entries, pname);
          if (entry == NULL)
            return state_error (error, key, "names parameter '%s', which %s does not "
                                "optimize", pname, G_OBJECT_TYPE_NAME (self));
          if (g_str_equal (sname, "step"))
            {
              double v = 0;
              if (!read_scalar (t, &v) || v < 0 || v > (double) MAX_STORED_STEP ||
                  v != floor (v))
                return state_error (error, key, "must be one integer in [0, 2^24]");
              continue;
            }
          if (class_state_index (klass, sname) < 0)
            return state_error (error, key, "names state '%s', which %s does not keep",
                                sname, G_OBJECT_TYPE_NAME (self));
          gint pnd = 0, snd = 0;
          const gint64 *ps = mact_tensor_get_shape (entry->param, &pnd);
          const gint64 *ss = mact_tensor_get_shape (t, &snd);
          if (pnd != snd || memcmp (ps, ss, sizeof (gint64) * (gsize) pnd) != 0)
            {
              g_autofree char *want = mact_tensor_shape_to_string (entry->param);
              g_autofree char *got = mact_tensor_shape_to_string (t);
              return state_error (error, key, "has shape %s, but parameter '%s' has %s",
                                  got, pname, want);
            }
          continue;
        }
      if (g_str_has_prefix (key, GROUPS_PREFIX))
        {
          const char *rest = key + strlen (GROUPS_PREFIX);
          char *end = NULL;
          guint64 index = g_ascii_strtoull (rest, &end, 10);
          if (end == rest || *end != '.' || end[1] == '\0' || !g_ascii_isdigit (*rest))
            return state_error (error, key, "is not 'param_groups.<index>.<option>'");
          if (index >= priv->groups->len)
            return state_error (error, key, "names group %" G_GUINT64_FORMAT ", but the "
                                "optimizer has %u groups", index, priv->groups->len);
          const char *oname = end + 1;
          if (g_str_has_suffix (oname, EXACT_SUFFIX))
            {
              double v = 0;
              if (!decode_double (t, &v))
                return state_error (error, key, "must be four integers in [0, 65535] "
                                    "holding a finite double");
              g_hash_table_insert (exact, g_strdup (key), g_memdup2 (&v, sizeof v));
              continue;
            }
          if (strchr (oname, '.') != NULL)
            return state_error (error, key, "is not 'param_groups.<index>.<option>'");
          LoadedOption opt = { (guint) index, g_strdup (oname), 0 };
          g_array_append_val (options, opt);
          if (!read_scalar (t, &g_array_index (options, LoadedOption,
                                               options->len - 1).value))
            return state_error (error, key, "must be one finite number");
          continue;
        }
      return state_error (error, key, "is not an optimizer state key (expected 'state.' "
                          "or 'param_groups.')");
    }

  for (guint g = 0; g < priv->groups->len; g++)
    {
      Group *group = g_ptr_array_index (priv->groups, g);
      for (guint o = 0; o < group->options->len; o++)
        {
          const char *oname = g_array_index (group->options, GroupOption, o).name;
          gboolean found = FALSE;
          for (guint j = 0; j < options->len && !found; j++)
            {
              LoadedOption *lo = &g_array_index (options, LoadedOption, j);
              found = lo->group == g && g_str_equal (lo->name, oname);
            }
          if (!found)
            {
              g_autofree char *key = g_strdup_printf (GROUPS_PREFIX "%u.%s", g, oname);
              return state_error (error, key, "is missing: the state is not from a %s with "
                                  "these groups", G_OBJECT_TYPE_NAME (self));
            }
        }
    }

  /* pass 2: apply */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, priv->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    entry_clear_state (value);

  for (guint i = 0; i < n; i++)
    {
      const char *key = mact_tensor_dict_get_key (state, i);
      if (!g_str_has_prefix (key, STATE_PREFIX))
        continue;
      MactTensor *t = mact_tensor_dict_get_value (state, i);
      const char *rest = key + strlen (STATE_PREFIX);
      const char *dot = strrchr (rest, '.');
      g_autofree char *pname = g_strndup (rest, (gsize) (dot - rest));
      ParamEntry *entry = g_hash_table_lookup (priv->entries, pname);
      if (g_str_equal (dot + 1, "step"))
        {
          double v = 0;
          read_scalar (t, &v);
          entry->step = (gint64) v;
          continue;
        }
      gint slot = class_state_index (klass, dot + 1);
      g_clear_pointer (&entry->state[slot], mact_tensor_unref);
      entry->state[slot] = copy_tensor (t);
    }

  for (guint j = 0; j < options->len; j++)
    {
      LoadedOption *lo = &g_array_index (options, LoadedOption, j);
      g_autofree char *exact_key = g_strdup_printf (GROUPS_PREFIX "%u.%s" EXACT_SUFFIX,
                                                    lo->group, lo->name);
      double v = lo->value;
      const double *precise = g_hash_table_lookup (exact, exact_key);
      if (precise != NULL && (float) *precise == (float) lo->value)
        v = *precise;
      group_set_option (g_ptr_array_index (priv->groups, lo->group), lo->name, v);
    }
  return TRUE;
}
