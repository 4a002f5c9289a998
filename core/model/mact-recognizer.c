/* mact-recognizer.c: MactRecognizer, mmaction2's BaseRecognizer.
 *
 * Built from a model config: the backbone by type name (its family gives backbone_from),
 * optional neck and cls_head, train_cfg (aux_info, blending) and test_cfg
 * (average_clips, max_testing_views, feature_extraction).  The caller's config is never
 * modified (mmaction2 0.x pops the type out of it). */
#include "mact-recognizer-private.h"

#include <string.h>

G_DEFINE_QUARK (mact-recognizer-error-quark, mact_recognizer_error)

typedef struct {
  MactBackbone      *backbone;
  MactNeck          *neck;
  MactHead          *cls_head;
  MactBlending      *blending;
  JsonNode          *train_cfg;
  JsonNode          *test_cfg;
  MactBackboneSource backbone_from;
  gchar            **aux_info;
  gint               max_testing_views;   /* 0 = None */
  gboolean           feature_extraction;
  MactLogVarsReducer reducer;
  gpointer           reducer_data;
  GDestroyNotify     reducer_destroy;
} MactRecognizerPrivate;


G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactRecognizer, mact_recognizer, MACT_TYPE_MODULE)

enum {
  PROP_0,
  PROP_BACKBONE,
  PROP_NECK,
  PROP_CLS_HEAD,
  PROP_BLENDING,
  PROP_TRAIN_CFG,
  PROP_TEST_CFG,
  PROP_BACKBONE_FROM,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_recognizer_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  MactRecognizerPrivate *priv = mact_recognizer_get_instance_private (MACT_RECOGNIZER (object));
  switch (prop_id)
    {
    case PROP_BACKBONE:
      g_set_object (&priv->backbone, g_value_get_object (value));
      break;
    case PROP_NECK:
      g_set_object (&priv->neck, g_value_get_object (value));
      break;
    case PROP_CLS_HEAD:
      g_set_object (&priv->cls_head, g_value_get_object (value));
      break;
    case PROP_BLENDING:
      g_set_object (&priv->blending, g_value_get_object (value));
      break;
    case PROP_TRAIN_CFG:
      g_clear_pointer (&priv->train_cfg, json_node_unref);
      priv->train_cfg = g_value_dup_boxed (value);
      break;
    case PROP_TEST_CFG:
      g_clear_pointer (&priv->test_cfg, json_node_unref);
      priv->test_cfg = g_value_dup_boxed (value);
      break;
    case PROP_BACKBONE_FROM:
      priv->backbone_from = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_recognizer_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec)
{
  MactRecognizerPrivate *priv = mact_recognizer_get_instance_private (MACT_RECOGNIZER (object));
  switch (prop_id)
    {
    case PROP_BACKBONE:
      g_value_set_object (value, priv->backbone);
      break;
    case PROP_NECK:
      g_value_set_object (value, priv->neck);
      break;
    case PROP_CLS_HEAD:
      g_value_set_object (value, priv->cls_head);
      break;
    case PROP_BLENDING:
      g_value_set_object (value, priv->blending);
      break;
    case PROP_TRAIN_CFG:
      g_value_set_boxed (value, priv->train_cfg);
      break;
    case PROP_TEST_CFG:
      g_value_set_boxed (value, priv->test_cfg);
      break;
    case PROP_BACKBONE_FROM:
      g_value_set_enum (value, priv->backbone_from);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static JsonObject *
cfg_object (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* Reads train_cfg and test_cfg: aux_info, max_testing_views, feature_extraction. */
static gboolean
parse_cfgs (MactRecognizer *self, GError **error)
{
  MactRecognizerPrivate *priv = mact_recognizer_get_instance_private (self);
  JsonObject *train = cfg_object (priv->train_cfg);
  JsonObject *test = cfg_object (priv->test_cfg);

  if ((priv->train_cfg && !train && !JSON_NODE_HOLDS_NULL (priv->train_cfg)) ||
      (priv->test_cfg && !test && !JSON_NODE_HOLDS_NULL (priv->test_cfg)))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE,
                   "recognizer: train_cfg and test_cfg must be objects or null");
      return FALSE;
    }

  GPtrArray *aux = g_ptr_array_new ();
  if (train && json_object_has_member (train, "aux_info"))
    {
      JsonNode *node = json_object_get_member (train, "aux_info");
      JsonArray *arr = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
      for (guint i = 0; arr && i < json_array_get_length (arr); i++)
        {
          JsonNode *item = json_array_get_element (arr, i);
          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            {
              arr = NULL;
              break;
            }
          g_ptr_array_add (aux, g_strdup (json_node_get_string (item)));
        }
      if (arr == NULL)
        {
          g_ptr_array_set_free_func (aux, g_free);
          g_ptr_array_unref (aux);
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE,
                       "recognizer: train_cfg.aux_info must be a list of strings");
          return FALSE;
        }
    }
  g_ptr_array_add (aux, NULL);
  priv->aux_info = (gchar **) g_ptr_array_free (aux, FALSE);

  if (test && json_object_has_member (test, "max_testing_views"))
    {
      JsonNode *node = json_object_get_member (test, "max_testing_views");
      if (!JSON_NODE_HOLDS_NULL (node))
        {
          if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
            {
              g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_TYPE,
                           "recognizer: test_cfg.max_testing_views must be an integer");
              return FALSE;
            }
          gint64 v = json_node_get_int (node);
          if (v <= 0 || v > G_MAXINT)
            {
              g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                           "recognizer: test_cfg.max_testing_views must be positive, got %"
                           G_GINT64_FORMAT, v);
              return FALSE;
            }
          priv->max_testing_views = (gint) v;
        }
    }
  if (test && json_object_has_member (test, "feature_extraction"))
    {
      JsonNode *node = json_object_get_member (test, "feature_extraction");
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE,
                       "recognizer: test_cfg.feature_extraction must be a boolean");
          return FALSE;
        }
      priv->feature_extraction = json_node_get_boolean (node);
    }
  return TRUE;
}

static gboolean
mact_recognizer_build (MactModule *module, GError **error)
{
  MactRecognizer *self = MACT_RECOGNIZER (module);
  MactRecognizerPrivate *priv = mact_recognizer_get_instance_private (self);

  if (!MACT_MODULE_CLASS (mact_recognizer_parent_class)->build (module, error))
    return FALSE;
  if (priv->backbone == NULL)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                   "%s: a backbone is required", G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }
  if (!parse_cfgs (self, error))
    return FALSE;

  /* Children in mmaction2's attribute order, so state-dict keys are backbone.*, neck.*,
   * cls_head.* as in its checkpoints. */
  mact_module_add_child (module, "backbone", MACT_MODULE (priv->backbone));
  if (priv->neck)
    mact_module_add_child (module, "neck", MACT_MODULE (priv->neck));
  if (priv->cls_head)
    mact_module_add_child (module, "cls_head", MACT_MODULE (priv->cls_head));

  /* The constructor initialises weights, as BaseRecognizer.__init__ does. */
  return mact_module_init_weights (module, NULL, error);
}

static gboolean
mact_recognizer_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  MactRecognizerPrivate *priv = mact_recognizer_get_instance_private (MACT_RECOGNIZER (module));

  switch (priv->backbone_from)
    {
    case MACT_BACKBONE_SOURCE_MMACTION2:
    case MACT_BACKBONE_SOURCE_MMCLS:
      if (!mact_module_init_weights (MACT_MODULE (priv->backbone), generator, error))
        return FALSE;
      break;
    case MACT_BACKBONE_SOURCE_TORCHVISION:
      /* torchvision models initialise themselves when constructed. */
      g_warning ("torchvision backbone %s: weights were initialised at construction; "
                 "init_weights leaves them as they are", G_OBJECT_TYPE_NAME (priv->backbone));
      break;
    }
  if (priv->cls_head && !mact_module_init_weights (MACT_MODULE (priv->cls_head), generator, error))
    return FALSE;
  if (priv->neck && !mact_module_init_weights (MACT_MODULE (priv->neck), generator, error))
    return FALSE;
  return TRUE;
}

static void
mact_recognizer_finalize (GObject *object)
{
  MactRecognizerPrivate *priv = mact_recognizer_get_instance_private (MACT_RECOGNIZER (object));
  g_clear_object (&priv->backbone);
  g_clear_object (&priv->neck);
  g_clear_object (&priv->cls_head);
  g_clear_object (&priv->blending);
  g_clear_pointer (&priv->train_cfg, json_node_unref);
  g_clear_pointer (&priv->test_cfg, json_node_unref);
  g_strfreev (priv->aux_info);
  if (priv->reducer_destroy)
    priv->reducer_destroy (priv->reducer_data);
  G_OBJECT_CLASS (mact_recognizer_parent_class)->finalize (object);
}

/* The recognizer's module forward is forward_test: images in, scores out. */
static GPtrArray *
mact_recognizer_module_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (inputs->len != 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: forward takes one input (the images), got %u",
                   G_OBJECT_TYPE_NAME (module), inputs->len);
      return NULL;
    }
  MactTensor *scores = mact_recognizer_forward_test (MACT_RECOGNIZER (module),
                                                     g_ptr_array_index (inputs, 0), error);
  if (scores == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (out, scores);
  return out;
}

static void
mact_recognizer_class_init (MactRecognizerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);

  object_class->set_property = mact_recognizer_set_property;
  object_class->get_property = mact_recognizer_get_property;
  object_class->finalize = mact_recognizer_finalize;
  module_class->build = mact_recognizer_build;
  module_class->init_weights = mact_recognizer_init_weights;
  module_class->forward = mact_recognizer_module_forward;
  klass->data_key = "imgs";

  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  /**
   * MactRecognizer:backbone:
   *
   * The backbone (required).
   */
  properties[PROP_BACKBONE] =
    g_param_spec_object ("backbone", NULL, NULL, MACT_TYPE_BACKBONE, flags | MACT_PARAM_REQUIRED);
  /**
   * MactRecognizer:neck:
   *
   * The neck, or %NULL.
   */
  properties[PROP_NECK] = g_param_spec_object ("neck", NULL, NULL, MACT_TYPE_NECK, flags);
  /**
   * MactRecognizer:cls-head:
   *
   * The classification head, or %NULL.
   */
  properties[PROP_CLS_HEAD] =
    g_param_spec_object ("cls-head", NULL, NULL, MACT_TYPE_HEAD, flags);
  /**
   * MactRecognizer:blending:
   *
   * The mini-batch blending of train_cfg, or %NULL.
   */
  properties[PROP_BLENDING] =
    g_param_spec_object ("blending", NULL, NULL, MACT_TYPE_BLENDING, flags);
  /**
   * MactRecognizer:train-cfg:
   *
   * The `train_cfg` as a JSON object (aux_info, blending), or %NULL.
   */
  properties[PROP_TRAIN_CFG] =
    g_param_spec_boxed ("train-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactRecognizer:test-cfg:
   *
   * The `test_cfg` as a JSON object (average_clips, max_testing_views, feature_extraction;
   * for Recognizer2D also fcn_test with num_segs and flip), or %NULL.
   */
  properties[PROP_TEST_CFG] =
    g_param_spec_boxed ("test-cfg", NULL, NULL, JSON_TYPE_NODE, flags);
  /**
   * MactRecognizer:backbone-from:
   *
   * Where the backbone comes from (mmaction2's `backbone_from`).
   */
  properties[PROP_BACKBONE_FROM] =
    g_param_spec_enum ("backbone-from", NULL, NULL, MACT_TYPE_BACKBONE_SOURCE,
                       MACT_BACKBONE_SOURCE_MMACTION2, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_recognizer_init (MactRecognizer *self)
{
}

/* ------------------------------------------------------------------ construction */

static GType
recognizer_type_for (const char *name)
{
  if (g_str_equal (name, "Recognizer2D"))
    return MACT_TYPE_RECOGNIZER_2D;
  if (g_str_equal (name, "Recognizer3D"))
    return MACT_TYPE_RECOGNIZER_3D;
  if (g_str_equal (name, "AudioRecognizer"))
    return MACT_TYPE_RECOGNIZER_AUDIO;
  return G_TYPE_INVALID;
}

static MactBackboneSource
source_of (const char *type_name)
{
  g_autofree char *family = NULL;
  if (!mact_registry_parse_type_name (type_name, &family, NULL, NULL) || family == NULL)
    return MACT_BACKBONE_SOURCE_MMACTION2;
  if (g_str_equal (family, "cls"))
    return MACT_BACKBONE_SOURCE_MMCLS;
  if (g_str_equal (family, "tv"))
    return MACT_BACKBONE_SOURCE_TORCHVISION;
  return MACT_BACKBONE_SOURCE_MMACTION2;
}

static MactModule *
build_part (MactRegistry *registry, JsonObject *model, const char *key, GType kind,
            GError **error)
{
  if (!json_object_has_member (model, key))
    return NULL;
  JsonNode *node = json_object_get_member (model, key);
  if (JSON_NODE_HOLDS_NULL (node))
    return NULL;
  MactModule *part = mact_registry_build_from_json (registry, node, kind, error);
  if (part == NULL)
    g_prefix_error (error, "model.%s: ", key);
  return part;
}

/**
 * mact_recognizer_new_from_json:
 * @config: a whole config (an object with a "model" member) or the model dict itself
 * @registry: (nullable): where block types are looked up; %NULL is the default registry
 * @error: return location for a #GError
 *
 * Builds a recognizer from an mmaction2-style model config: `type` (Recognizer2D,
 * Recognizer3D or AudioRecognizer), `backbone`, optional `neck` and `cls_head`,
 * `train_cfg`, `test_cfg`.  For torchvision (`tv.`) backbones the children `fc` and
 * `classifier`, where the model has them, are replaced by an identity.  @config is not
 * modified.
 *
 * Returns: (transfer full) (nullable): the recognizer, or %NULL on error
 *
 * Since: 0.1
 */
MactRecognizer *
mact_recognizer_new_from_json (JsonNode *config, MactRegistry *registry, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  if (registry == NULL)
    registry = mact_registry_get_default ();

  JsonObject *root = cfg_object (config);
  if (root == NULL)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "a model config must be a JSON object");
      return NULL;
    }
  JsonObject *model = root;
  if (json_object_has_member (root, "model"))
    {
      model = cfg_object (json_object_get_member (root, "model"));
      if (model == NULL)
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                       "config: \"model\" must be an object");
          return NULL;
        }
    }

  const char *type_name = NULL;
  if (json_object_has_member (model, "type"))
    {
      JsonNode *t = json_object_get_member (model, "type");
      if (JSON_NODE_HOLDS_VALUE (t) && json_node_get_value_type (t) == G_TYPE_STRING)
        type_name = json_node_get_string (t);
    }
  if (type_name == NULL)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "model: \"type\" must name a recognizer (Recognizer2D, Recognizer3D, "
                   "AudioRecognizer)");
      return NULL;
    }
  GType type = recognizer_type_for (type_name);
  if (type == G_TYPE_INVALID)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE,
                   "model: unknown recognizer type '%s' (known: Recognizer2D, Recognizer3D, "
                   "AudioRecognizer)", type_name);
      return NULL;
    }

  static const char *const known[] = { "type", "backbone", "neck", "cls_head", "train_cfg",
                                       "test_cfg", NULL };
  g_autoptr(GList) members = json_object_get_members (model);
  for (GList *l = members; l; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY,
                     "model (%s): unknown key '%s'", type_name, (const char *) l->data);
        return NULL;
      }

  JsonNode *bb_node = json_object_has_member (model, "backbone")
                      ? json_object_get_member (model, "backbone") : NULL;
  JsonObject *bb_obj = cfg_object (bb_node);
  if (bb_obj == NULL)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                   "model (%s): a backbone config object is required", type_name);
      return NULL;
    }
  const char *bb_type = json_object_has_member (bb_obj, "type") &&
                        JSON_NODE_HOLDS_VALUE (json_object_get_member (bb_obj, "type"))
                        ? json_object_get_string_member (bb_obj, "type") : NULL;
  MactBackboneSource source = bb_type ? source_of (bb_type) : MACT_BACKBONE_SOURCE_MMACTION2;

  g_autoptr(MactModule) backbone = build_part (registry, model, "backbone", MACT_TYPE_BACKBONE,
                                               error);
  if (backbone == NULL)
    return NULL;
  if (source == MACT_BACKBONE_SOURCE_TORCHVISION)
    {
      /* mmaction2 sets both attributes to nn.Identity; only existing children matter. */
      static const char *const replaced[] = { "classifier", "fc" };
      for (guint i = 0; i < G_N_ELEMENTS (replaced); i++)
        if (mact_module_get_child (backbone, replaced[i]) != NULL)
          {
            g_autoptr(MactModule) identity = mact_identity_new ();
            if (!mact_module_replace_child (backbone, replaced[i], identity, error))
              return NULL;
          }
    }

  g_autoptr(GError) local = NULL;
  g_autoptr(MactModule) neck = build_part (registry, model, "neck", MACT_TYPE_NECK, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  g_autoptr(MactModule) head = build_part (registry, model, "cls_head", MACT_TYPE_HEAD, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }

  JsonNode *train_cfg = json_object_has_member (model, "train_cfg")
                        ? json_object_get_member (model, "train_cfg") : NULL;
  JsonNode *test_cfg = json_object_has_member (model, "test_cfg")
                       ? json_object_get_member (model, "test_cfg") : NULL;
  g_autoptr(MactModule) blending = NULL;
  JsonObject *train_obj = cfg_object (train_cfg);
  if (train_obj && json_object_has_member (train_obj, "blending") &&
      !JSON_NODE_HOLDS_NULL (json_object_get_member (train_obj, "blending")))
    {
      blending = mact_registry_build_from_json (registry,
                                                json_object_get_member (train_obj, "blending"),
                                                MACT_TYPE_BLENDING, error);
      if (blending == NULL)
        {
          g_prefix_error (error, "model.train_cfg.blending: ");
          return NULL;
        }
    }

  /* Properties are passed as copies, so nothing the recognizer does reaches the caller. */
  g_autoptr(JsonNode) train_copy = train_cfg ? mact_config_copy (train_cfg) : NULL;
  g_autoptr(JsonNode) test_copy = test_cfg ? mact_config_copy (test_cfg) : NULL;
  GObject *obj = g_object_new (type,
                               "backbone", backbone,
                               "neck", neck,
                               "cls-head", head,
                               "blending", blending,
                               "train-cfg", train_copy,
                               "test-cfg", test_copy,
                               "backbone-from", source,
                               NULL);
  if (!g_initable_init (G_INITABLE (obj), NULL, error))
    {
      g_object_unref (obj);
      return NULL;
    }
  return MACT_RECOGNIZER (obj);
}

/**
 * mact_recognizer_new_from_data:
 * @data: a JSON config
 * @length: its length, or -1 if nul-terminated
 * @registry: (nullable): where block types are looked up; %NULL is the default registry
 * @error: return location for a #GError
 *
 * As mact_recognizer_new_from_json() on parsed @data.
 *
 * Returns: (transfer full) (nullable): the recognizer, or %NULL on error
 *
 * Since: 0.1
 */
MactRecognizer *
mact_recognizer_new_from_data (const char *data, gssize length, MactRegistry *registry,
                               GError **error)
{
  g_return_val_if_fail (data != NULL, NULL);
  g_autoptr(JsonNode) root = mact_config_load_data (data, length, error);
  if (root == NULL)
    return NULL;
  return mact_recognizer_new_from_json (root, registry, error);
}

/**
 * mact_recognizer_new_from_file:
 * @path: (type filename): a JSON config file
 * @registry: (nullable): where block types are looked up; %NULL is the default registry
 * @error: return location for a #GError
 *
 * As mact_recognizer_new_from_json() on the file's contents.
 *
 * Returns: (transfer full) (nullable): the recognizer, or %NULL on error
 *
 * Since: 0.1
 */
MactRecognizer *
mact_recognizer_new_from_file (const char *path, MactRegistry *registry, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr(JsonNode) root = mact_config_load_file (path, error);
  if (root == NULL)
    return NULL;
  return mact_recognizer_new_from_json (root, registry, error);
}

/* ------------------------------------------------------------------ accessors */

#define PRIV(self) ((MactRecognizerPrivate *) mact_recognizer_get_instance_private (self))

/**
 * mact_recognizer_get_backbone:
 * @self: a recognizer
 *
 * Returns: (transfer none): the backbone
 *
 * Since: 0.1
 */
MactBackbone *
mact_recognizer_get_backbone (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  return PRIV (self)->backbone;
}

/**
 * mact_recognizer_get_neck:
 * @self: a recognizer
 *
 * Returns: (transfer none) (nullable): the neck
 *
 * Since: 0.1
 */
MactNeck *
mact_recognizer_get_neck (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  return PRIV (self)->neck;
}

/**
 * mact_recognizer_get_cls_head:
 * @self: a recognizer
 *
 * Returns: (transfer none) (nullable): the head
 *
 * Since: 0.1
 */
MactHead *
mact_recognizer_get_cls_head (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  return PRIV (self)->cls_head;
}

/**
 * mact_recognizer_get_blending:
 * @self: a recognizer
 *
 * Returns: (transfer none) (nullable): the blending of train_cfg
 *
 * Since: 0.1
 */
MactBlending *
mact_recognizer_get_blending (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  return PRIV (self)->blending;
}

/**
 * mact_recognizer_get_backbone_from:
 * @self: a recognizer
 *
 * Returns: the backbone's family
 *
 * Since: 0.1
 */
MactBackboneSource
mact_recognizer_get_backbone_from (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), MACT_BACKBONE_SOURCE_MMACTION2);
  return PRIV (self)->backbone_from;
}

/**
 * mact_recognizer_get_with_neck:
 * @self: a recognizer
 *
 * Returns: whether there is a neck
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_get_with_neck (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  return PRIV (self)->neck != NULL;
}

/**
 * mact_recognizer_get_with_cls_head:
 * @self: a recognizer
 *
 * Returns: whether there is a head
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_get_with_cls_head (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  return PRIV (self)->cls_head != NULL;
}

/**
 * mact_recognizer_get_aux_info:
 * @self: a recognizer
 *
 * Returns: (transfer none) (array zero-terminated=1): train_cfg's aux_info keys
 *
 * Since: 0.1
 */
const gchar * const *
mact_recognizer_get_aux_info (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  return (const gchar * const *) PRIV (self)->aux_info;
}

/**
 * mact_recognizer_get_max_testing_views:
 * @self: a recognizer
 *
 * Returns: test_cfg's max_testing_views, or 0 for None
 *
 * Since: 0.1
 */
gint
mact_recognizer_get_max_testing_views (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), 0);
  return PRIV (self)->max_testing_views;
}

/**
 * mact_recognizer_get_feature_extraction:
 * @self: a recognizer
 *
 * Returns: test_cfg's feature_extraction
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_get_feature_extraction (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  return PRIV (self)->feature_extraction;
}

/**
 * mact_recognizer_get_test_cfg:
 * @self: a recognizer
 *
 * Returns: (transfer none) (nullable): test_cfg
 *
 * Since: 0.1
 */
JsonNode *
mact_recognizer_get_test_cfg (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  return PRIV (self)->test_cfg;
}

/**
 * mact_recognizer_get_train_cfg:
 * @self: a recognizer
 *
 * Returns: (transfer none) (nullable): train_cfg
 *
 * Since: 0.1
 */
JsonNode *
mact_recognizer_get_train_cfg (MactRecognizer *self)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  return PRIV (self)->train_cfg;
}

/* ------------------------------------------------------------------ shared behaviour */

MactTensor *
mact_recognizer_fold_views (MactTensor *imgs, const char *what, gint min_ndim, GError **error)
{
  gint nd;
  const gint64 *shape = mact_tensor_get_shape (imgs, &nd);
  if (nd < min_ndim)
    {
      g_autofree char *s = mact_tensor_shape_to_string (imgs);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected a %d-D input, got shape %s", what, min_ndim, s);
      return NULL;
    }
  gint64 out[MACT_MAX_DIMS];
  out[0] = -1;
  for (gint i = 2; i < nd; i++)
    out[i - 1] = shape[i];
  return mact_tensor_reshape (imgs, nd - 1, out, error);
}

/**
 * mact_recognizer_extract_feat:
 * @self: a recognizer
 * @imgs: images with views folded into the batch
 * @error: return location for a #GError
 *
 * The backbone's features: `features` for torchvision models that have it, otherwise the
 * backbone's forward (a tuple of one is unwrapped by taking its only element).
 *
 * Returns: (transfer container) (element-type MactTensor) (nullable): the features;
 *   the array holds a reference to each and releases them when freed
 *
 * Since: 0.1
 */
GPtrArray *
mact_recognizer_extract_feat (MactRecognizer *self, MactTensor *imgs, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (imgs != NULL, NULL);
  MactRecognizerPrivate *priv = PRIV (self);
  if (priv->backbone_from == MACT_BACKBONE_SOURCE_TORCHVISION &&
      mact_backbone_has_features (priv->backbone))
    {
      MactTensor *f = mact_backbone_forward_features (priv->backbone, imgs, error);
      if (f == NULL)
        return NULL;
      GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
      g_ptr_array_add (out, f);
      return out;
    }
  g_autoptr(GPtrArray) in = g_ptr_array_new ();
  g_ptr_array_add (in, imgs);
  return mact_module_forward (MACT_MODULE (priv->backbone), in, error);
}

GPtrArray *
mact_recognizer_run_neck (MactRecognizer *self, GPtrArray *feats, MactTensor *target,
                          MactTensorDict *aux_losses, GError **error)
{
  MactRecognizerPrivate *priv = PRIV (self);
  return mact_neck_forward_neck (priv->neck, feats, target, target ? aux_losses : NULL, error);
}

const char *
mact_recognizer_get_average_clips (MactRecognizer *self, gboolean *present)
{
  JsonObject *test = cfg_object (PRIV (self)->test_cfg);
  *present = test != NULL && json_object_has_member (test, "average_clips");
  if (!*present)
    return NULL;
  JsonNode *v = json_object_get_member (test, "average_clips");
  if (JSON_NODE_HOLDS_NULL (v))
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
    return "";   /* not a string: reported as an invalid value */
  return json_node_get_string (v);
}

/**
 * mact_recognizer_average_clip:
 * @self: a recognizer
 * @cls_score: scores [B, K]
 * @num_segs: how many consecutive rows belong to one sample
 * @error: return location for a #GError
 *
 * Averages the scores of each sample's views as test_cfg's `average_clips` says:
 * "score" (mean of scores), "prob" (mean of softmax) or null (unchanged).  No
 * `average_clips` key is a %MACT_RECOGNIZER_ERROR_KEY error, any other value
 * %MACT_RECOGNIZER_ERROR_VALUE (mmaction2's KeyError and ValueError).
 *
 * Returns: (transfer full) (nullable): scores [B / num_segs, K]
 *
 * Since: 0.1
 */
MactTensor *
mact_recognizer_average_clip (MactRecognizer *self, MactTensor *cls_score, gint num_segs,
                              GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (cls_score != NULL, NULL);
  gboolean present;
  const char *mode = mact_recognizer_get_average_clips (self, &present);
  if (!present)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY,
                   "\"average_clips\" must be defined in test_cfg");
      return NULL;
    }
  if (mode != NULL && !g_str_equal (mode, "score") && !g_str_equal (mode, "prob"))
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "%s is not supported; average_clips must be \"score\", \"prob\" or null",
                   *mode ? mode : "a non-string value");
      return NULL;
    }
  if (mode == NULL)
    return mact_tensor_ref (cls_score);
  gint64 batch = mact_tensor_get_size (cls_score, 0);
  if (num_segs <= 0 || batch <= 0 || batch % num_segs != 0)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "average_clip: %" G_GINT64_FORMAT " score rows do not split into groups "
                   "of %d views", batch, num_segs);
      return NULL;
    }
  const gint64 shape[] = { batch / num_segs, num_segs, -1 };
  g_autoptr(MactTensor) grouped = mact_tensor_reshape (cls_score, 3, shape, error);
  if (grouped == NULL)
    return NULL;
  const gint dim1[] = { 1 };
  if (g_str_equal (mode, "prob"))
    {
      g_autoptr(MactTensor) prob = mact_softmax (grouped, 2, error);
      return prob ? mact_mean (prob, 1, dim1, FALSE, error) : NULL;
    }
  return mact_mean (grouped, 1, dim1, FALSE, error);
}

/**
 * mact_recognizer_forward_train:
 * @self: a recognizer
 * @imgs: the batch ([N, V, C, H, W] for 2-D, [N, V, C, T, H, W] for 3-D)
 * @labels: the labels
 * @kwargs: (nullable): aux_info tensors for the head's loss
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the losses (`loss_cls`, `top1_acc`, ...)
 *
 * Since: 0.1
 */
MactTensorDict *
mact_recognizer_forward_train (MactRecognizer *self, MactTensor *imgs, MactTensor *labels,
                               MactTensorDict *kwargs, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (imgs != NULL && labels != NULL, NULL);
  if (PRIV (self)->cls_head == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NO_HEAD,
                   "%s: training needs a cls_head", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  return MACT_RECOGNIZER_GET_CLASS (self)->forward_train (self, imgs, labels, kwargs, error);
}

/**
 * mact_recognizer_forward_test:
 * @self: a recognizer
 * @imgs: the batch
 * @error: return location for a #GError
 *
 * Class scores [N, K] averaged over views (or pooled features with feature_extraction).
 * Inference should run in a no-grad scope (%MACT_NO_GRAD_BEGIN).
 *
 * Returns: (transfer full) (nullable): the scores
 *
 * Since: 0.1
 */
MactTensor *
mact_recognizer_forward_test (MactRecognizer *self, MactTensor *imgs, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (imgs != NULL, NULL);
  return MACT_RECOGNIZER_GET_CLASS (self)->forward_test (self, imgs, error);
}

/**
 * mact_recognizer_forward_gradcam:
 * @self: a recognizer
 * @imgs: the batch
 * @error: return location for a #GError
 *
 * The test path with grad mode on, so GradCAM can back-propagate from the scores.
 *
 * Returns: (transfer full) (nullable): the scores
 *
 * Since: 0.1
 */
MactTensor *
mact_recognizer_forward_gradcam (MactRecognizer *self, MactTensor *imgs, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (imgs != NULL, NULL);
  MactRecognizerClass *klass = MACT_RECOGNIZER_GET_CLASS (self);
  if (klass->forward_gradcam == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NOT_IMPLEMENTED,
                   "%s does not support gradcam", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  gboolean prev = mact_grad_set_enabled (TRUE);
  MactTensor *out = klass->forward_gradcam (self, imgs, error);
  mact_grad_set_enabled (prev);
  return out;
}

/**
 * mact_recognizer_forward:
 * @self: a recognizer
 * @data: the batch: the images under "imgs" ("audios" for audio), "label", and any
 *   other tensors (passed on as kwargs, e.g. aux_info)
 * @return_loss: train (losses) or test (scores)
 * @gradcam: run forward_gradcam instead
 * @error: return location for a #GError
 *
 * The forward dispatch of mmaction2's recognizers.  In training a missing label is a
 * %MACT_RECOGNIZER_ERROR_VALUE error, and blending (if configured) runs before
 * forward_train.  Test and gradcam results are under "cls_score".
 *
 * Returns: (transfer full) (nullable): losses, or {"cls_score": scores}
 *
 * Since: 0.1
 */
MactTensorDict *
mact_recognizer_forward (MactRecognizer *self, MactTensorDict *data, gboolean return_loss,
                         gboolean gradcam, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), NULL);
  g_return_val_if_fail (data != NULL, NULL);
  MactRecognizerClass *klass = MACT_RECOGNIZER_GET_CLASS (self);
  MactRecognizerPrivate *priv = PRIV (self);

  MactTensor *imgs = mact_tensor_dict_lookup (data, klass->data_key);
  if (imgs == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY,
                   "the batch has no \"%s\"", klass->data_key);
      return NULL;
    }
  if (gradcam || !return_loss)
    {
      g_autoptr(MactTensor) scores = gradcam ? mact_recognizer_forward_gradcam (self, imgs, error)
                                             : mact_recognizer_forward_test (self, imgs, error);
      if (scores == NULL)
        return NULL;
      MactTensorDict *out = mact_tensor_dict_new ();
      mact_tensor_dict_insert (out, "cls_score", scores);
      return out;
    }

  MactTensor *label = mact_tensor_dict_lookup (data, "label");
  if (label == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_VALUE,
                   "Label should not be None.");
      return NULL;
    }
  g_autoptr(MactTensorDict) kwargs = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (data); i++)
    {
      const char *k = mact_tensor_dict_get_key (data, i);
      if (!g_str_equal (k, klass->data_key) && !g_str_equal (k, "label"))
        mact_tensor_dict_insert (kwargs, k, mact_tensor_dict_get_value (data, i));
    }
  g_autoptr(MactTensor) blended_imgs = NULL, blended_label = NULL;
  if (priv->blending != NULL && klass->data_key != NULL && g_str_equal (klass->data_key, "imgs"))
    {
      if (!mact_blending_apply (priv->blending, imgs, label, &blended_imgs, &blended_label,
                                error))
        return NULL;
      imgs = blended_imgs;
      label = blended_label;
    }
  return mact_recognizer_forward_train (self, imgs, label, kwargs, error);
}

/**
 * mact_recognizer_set_log_vars_reducer:
 * @self: a recognizer
 * @reducer: (nullable) (scope notified) (closure user_data) (destroy destroy): the hook
 * @user_data: data for @reducer
 * @destroy: (nullable): frees @user_data
 *
 * Installs the hook parse_losses calls on the log vars (the distributed runner's
 * all-reduce).  The loss used for backward is never reduced.
 *
 * Since: 0.1
 */
void
mact_recognizer_set_log_vars_reducer (MactRecognizer *self, MactLogVarsReducer reducer,
                                      gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (MACT_IS_RECOGNIZER (self));
  MactRecognizerPrivate *priv = PRIV (self);
  if (priv->reducer_destroy)
    priv->reducer_destroy (priv->reducer_data);
  priv->reducer = reducer;
  priv->reducer_data = user_data;
  priv->reducer_destroy = destroy;
}

/**
 * mact_recognizer_parse_losses:
 * @self: a recognizer
 * @losses: the losses of forward_train
 * @loss: (out) (transfer full): the sum of every entry whose key contains "loss", for
 *   backward
 * @log_vars: (out) (transfer full): the mean of each entry and "loss", as detached 0-D
 *   tensors, reduced by the log-vars reducer when one is installed
 * @error: return location for a #GError
 *
 * As mmaction2's `_parse_losses`.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_parse_losses (MactRecognizer *self, MactTensorDict *losses, MactTensor **loss,
                              MactTensorDict **log_vars, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  g_return_val_if_fail (losses != NULL && loss != NULL && log_vars != NULL, FALSE);
  MactRecognizerPrivate *priv = PRIV (self);
  g_autoptr(MactTensorDict) means = mact_tensor_dict_new ();
  g_autoptr(MactTensor) total = NULL;

  for (guint i = 0; i < mact_tensor_dict_get_size (losses); i++)
    {
      const char *key = mact_tensor_dict_get_key (losses, i);
      MactTensor *v = mact_tensor_dict_get_value (losses, i);
      g_autoptr(MactTensor) m = mact_mean_all (v);
      if (m == NULL)
        {
          g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_TYPE,
                       "loss '%s' is an empty tensor", key);
          return FALSE;
        }
      mact_tensor_dict_insert (means, key, m);
      if (strstr (key, "loss") != NULL)
        {
          if (total == NULL)
            total = mact_tensor_ref (m);
          else
            {
              MactTensor *sum = mact_add (total, m, error);
              if (sum == NULL)
                return FALSE;
              mact_tensor_unref (total);
              total = sum;
            }
        }
    }
  if (total == NULL)
    total = mact_tensor_new_scalar (0.0f);

  g_autoptr(MactTensorDict) out = mact_tensor_dict_new ();
  for (guint i = 0; i < mact_tensor_dict_get_size (means); i++)
    {
      g_autoptr(MactTensor) d = mact_tensor_clone (mact_tensor_dict_get_value (means, i));
      g_autoptr(MactTensor) dd = mact_tensor_detach (d);
      mact_tensor_dict_insert (out, mact_tensor_dict_get_key (means, i), dd);
    }
  {
    g_autoptr(MactTensor) d = mact_tensor_clone (total);
    g_autoptr(MactTensor) dd = mact_tensor_detach (d);
    mact_tensor_dict_insert (out, "loss", dd);
  }
  if (priv->reducer != NULL && !priv->reducer (out, priv->reducer_data, error))
    return FALSE;
  *loss = g_steal_pointer (&total);
  *log_vars = g_steal_pointer (&out);
  return TRUE;
}

static gboolean
step (MactRecognizer *self, MactTensorDict *data_batch, MactTensor **loss,
      MactTensorDict **log_vars, gint *num_samples, GError **error)
{
  MactRecognizerClass *klass = MACT_RECOGNIZER_GET_CLASS (self);
  MactRecognizerPrivate *priv = PRIV (self);
  g_autoptr(MactTensorDict) data = mact_tensor_dict_new ();

  MactTensor *imgs = mact_tensor_dict_lookup (data_batch, klass->data_key);
  if (imgs == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY,
                   "the batch has no \"%s\"", klass->data_key);
      return FALSE;
    }
  mact_tensor_dict_insert (data, klass->data_key, imgs);
  MactTensor *label = mact_tensor_dict_lookup (data_batch, "label");
  if (label)
    mact_tensor_dict_insert (data, "label", label);
  /* The audio recognizer ignores aux_info, as mmaction2's does. */
  if (g_str_equal (klass->data_key, "imgs"))
    for (gchar **k = priv->aux_info; k && *k; k++)
      {
        MactTensor *t = mact_tensor_dict_lookup (data_batch, *k);
        if (t == NULL)
          {
            g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_KEY,
                         "aux_info key \"%s\" is not in the batch", *k);
            return FALSE;
          }
        mact_tensor_dict_insert (data, *k, t);
      }

  g_autoptr(MactTensorDict) losses = mact_recognizer_forward (self, data, TRUE, FALSE, error);
  if (losses == NULL)
    return FALSE;
  if (!mact_recognizer_parse_losses (self, losses, loss, log_vars, error))
    return FALSE;
  if (num_samples)
    {
      /* len(next(iter(data_batch.values()))) */
      MactTensor *first = mact_tensor_dict_get_size (data_batch) > 0
                          ? mact_tensor_dict_get_value (data_batch, 0) : NULL;
      *num_samples = first && mact_tensor_get_ndim (first) > 0
                     ? (gint) mact_tensor_get_size (first, 0) : 1;
    }
  return TRUE;
}

/**
 * mact_recognizer_train_step:
 * @self: a recognizer
 * @data_batch: "imgs" ("audios"), "label" and the aux_info keys
 * @loss: (out) (transfer full): the loss to back-propagate
 * @log_vars: (out) (transfer full): the logged values
 * @num_samples: (out) (optional): the batch size
 * @error: return location for a #GError
 *
 * One training forward: the loss for back-propagation and optimizer updating (done by
 * the caller, as mmaction2's optimizer hook does).  A missing aux_info key is a
 * %MACT_RECOGNIZER_ERROR_KEY error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_train_step (MactRecognizer *self, MactTensorDict *data_batch,
                            MactTensor **loss, MactTensorDict **log_vars, gint *num_samples,
                            GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  g_return_val_if_fail (data_batch != NULL && loss != NULL && log_vars != NULL, FALSE);
  return step (self, data_batch, loss, log_vars, num_samples, error);
}

/**
 * mact_recognizer_val_step:
 * @self: a recognizer
 * @data_batch: as for mact_recognizer_train_step()
 * @loss: (out) (transfer full): the loss
 * @log_vars: (out) (transfer full): the logged values
 * @num_samples: (out) (optional): the batch size
 * @error: return location for a #GError
 *
 * As train_step: mmaction2's val_step also computes losses, not predictions.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_val_step (MactRecognizer *self, MactTensorDict *data_batch, MactTensor **loss,
                          MactTensorDict **log_vars, gint *num_samples, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  g_return_val_if_fail (data_batch != NULL && loss != NULL && log_vars != NULL, FALSE);
  return step (self, data_batch, loss, log_vars, num_samples, error);
}

/**
 * mact_recognizer_load_weights:
 * @self: a recognizer
 * @path: (type filename): a safetensors file, such as tools/convert-checkpoint.py
 *   writes from an mmaction2 or torchvision checkpoint
 * @strict: whether the file's keys must match the recognizer's exactly
 * @error: return location for a #GError, or %NULL
 *
 * Loads weights into the recognizer: the file is read with mact_safetensors_load() and
 * its tensors are copied into the parameters and buffers by
 * mact_module_load_state_dict().  Keys are PyTorch's, unchanged (`backbone.*`, `neck.*`,
 * `cls_head.*`), so an mmaction2 checkpoint's state dict loads as it is.  With @strict
 * %FALSE the keys in both are loaded and the others are ignored (listed in a debug
 * message); shape mismatches are an error in either mode.  On error nothing is
 * modified.
 *
 * Errors: %MACT_IO_ERROR codes for the file (see mact_safetensors_load());
 * %MACT_MODULE_ERROR_STATE_DICT naming the file and every offending key.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_recognizer_load_weights (MactRecognizer *self, const char *path, gboolean strict,
                              GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr(MactTensorDict) weights = mact_safetensors_load (path, NULL, error);
  if (weights == NULL)
    return FALSE;

  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  if (!mact_module_load_state_dict (MACT_MODULE (self), weights, strict, &missing,
                                    &unexpected, error))
    {
      g_autofree char *display = g_filename_display_name (path);
      g_prefix_error (error, "%s: ", display);
      return FALSE;
    }
  if (missing[0] != NULL || unexpected[0] != NULL)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_autofree char *missing_list = g_strjoinv (", ", missing);
      g_autofree char *unexpected_list = g_strjoinv (", ", unexpected);
      g_debug ("%s: loaded non-strictly; missing keys: [%s]; unexpected keys: [%s]",
               display, missing_list, unexpected_list);
    }
  return TRUE;
}
