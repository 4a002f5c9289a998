/* mact-tv-model.c: the abstract base of the tv. models.
 *
 * torchvision's builders (resnet18(weights=None, progress=True, **kwargs), ...) build the
 * model, initialise it in its constructor and then load the weights they were given.  The
 * base's build() follows: the subclass's build_model() creates the layers, then a
 * #MactTvModel:weights path is loaded strictly (every key of torchvision's state dict, no
 * other), as model.load_state_dict() does.  torchvision's `weights` is an enum of downloadable
 * checkpoints; here it is the path of a safetensors file holding torchvision's state
 * dict (tools/convert-checkpoint.py writes one from a .pth), since mact never downloads.
 *
 * Without weights the model is initialised as torchvision's constructor does (each model
 * overrides init_weights() with its init loop); with weights that random draw is skipped,
 * since the strict load replaces every tensor anyway.
 *
 * A tv. model's forward is torchvision's forward (logits), so the classifier exists as the
 * child `fc` or `classifier`; the recognizer replaces it by an identity when the model is
 * a backbone, and models with a `features` child implement forward_features. */
#include "mact-tv-model.h"

typedef struct {
  gchar    *weights;
  gboolean  progress;
  gboolean  pretrained;
} MactTvModelPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactTvModel, mact_tv_model, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_WEIGHTS,
  PROP_PROGRESS,
  PROP_PRETRAINED,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/**
 * mact_tv_model_get_name:
 * @self: a model
 *
 * Returns: the name the model is registered under ("tv.resnet18"), for messages
 */
const char *
mact_tv_model_get_name (MactTvModel *self)
{
  const char *name = mact_registry_type_name_of (G_OBJECT_TYPE (self));
  return name != NULL ? name : G_OBJECT_TYPE_NAME (self);
}

/**
 * mact_tv_model_invalid:
 * @self: a model
 * @error: return location for a #GError
 * @format: printf format of the message, after the model's name
 * @...: the arguments
 *
 * Sets %MACT_MODULE_ERROR_INVALID_ARGUMENT with a message naming the model.
 *
 * Returns: %FALSE
 */
gboolean
mact_tv_model_invalid (MactTvModel *self, GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT, "%s: %s",
               mact_tv_model_get_name (self), message);
  return FALSE;
}

/**
 * mact_tv_model_check_tensor:
 * @self: a model
 * @input: the input
 * @ndim: 4 for images [N, 3, H, W], 5 for clips [N, 3, T, H, W]
 * @error: return location for a #GError
 *
 * torchvision's models take RGB input: checks the rank and the 3 channels, so that a
 * wrong input is reported by the model's name rather than by its first conv.
 *
 * Returns: %TRUE if @input fits, else %FALSE with %MACT_MODULE_ERROR_INVALID_INPUT
 */
gboolean
mact_tv_model_check_tensor (MactTvModel *self, MactTensor *input, gint ndim, GError **error)
{
  if (mact_tensor_get_ndim (input) == ndim && mact_tensor_get_size (input, 1) == 3)
    return TRUE;
  g_autofree char *shape = mact_tensor_shape_to_string (input);
  g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
               "%s: expected input %s, got %s", mact_tv_model_get_name (self),
               ndim == 4 ? "[N, 3, H, W]" : "[N, 3, T, H, W]", shape);
  return FALSE;
}

/**
 * mact_tv_model_check_input:
 * @self: a model
 * @inputs: (element-type MactTensor): the forward's inputs
 * @ndim: the rank of the one input
 * @error: return location for a #GError
 *
 * Returns: (transfer none) (nullable): the one input, or %NULL with
 *   %MACT_MODULE_ERROR_INVALID_INPUT
 */
MactTensor *
mact_tv_model_check_input (MactTvModel *self, GPtrArray *inputs, gint ndim, GError **error)
{
  if (inputs == NULL || inputs->len != 1 || g_ptr_array_index (inputs, 0) == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected one input tensor, got %u", mact_tv_model_get_name (self),
                   inputs != NULL ? inputs->len : 0);
      return NULL;
    }
  MactTensor *x = g_ptr_array_index (inputs, 0);
  return mact_tv_model_check_tensor (self, x, ndim, error) ? x : NULL;
}

static GMutex variant_lock;

/**
 * mact_tv_model_register_variant:
 * @parent: the model class the variant derives from
 * @type_name: the GType name of the variant
 * @class_init: sets the variant's class fields from @class_data
 * @class_data: the variant's architecture
 *
 * One torchvision class serves several builders (ResNet for resnet18 .. resnext50_32x4d,
 * MobileNetV3 for small and large, VideoResNet for r3d_18, mc3_18 and r2plus1d_18).
 * Each builder gets its own type, so that the registry maps its name to it, derived from
 * the model class with the builder's architecture as class data.  Registering twice (a
 * second registry loading the plugin again) returns the existing type.
 *
 * Returns: the variant's type
 */
GType
mact_tv_model_register_variant (GType parent, const char *type_name, GClassInitFunc class_init,
                                gconstpointer class_data)
{
  g_mutex_lock (&variant_lock);
  GType type = g_type_from_name (type_name);
  if (type == G_TYPE_INVALID)
    {
      GTypeQuery query;
      g_type_query (parent, &query);
      const GTypeInfo info = {
        .class_size = (guint16) query.class_size,
        .class_init = class_init,
        .class_data = class_data,
        .instance_size = (guint16) query.instance_size,
      };
      type = g_type_register_static (parent, type_name, &info, 0);
    }
  g_mutex_unlock (&variant_lock);
  return type;
}

static gboolean
load_weights (MactTvModel *self, const char *path, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(MactTensorDict) state = mact_safetensors_load (path, NULL, &local);
  if (state == NULL ||
      !mact_module_load_state_dict (MACT_MODULE (self), state, TRUE, NULL, NULL, &local))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: weights '%s': ",
                                  mact_tv_model_get_name (self), path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
mact_tv_model_build (MactModule *module, GError **error)
{
  MactTvModel *self = MACT_TV_MODEL (module);
  MactTvModelPrivate *priv = mact_tv_model_get_instance_private (self);

  if (!MACT_MODULE_CLASS (mact_tv_model_parent_class)->build (module, error))
    return FALSE;
  if (priv->pretrained)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "%s: pretrained=True downloads torchvision's weights, which mact does "
                   "not do; convert the checkpoint with tools/convert-checkpoint.py and give "
                   "its path as weights", mact_tv_model_get_name (self));
      return FALSE;
    }
  if (priv->weights != NULL && *priv->weights == '\0')
    return mact_tv_model_invalid (self, error, "weights must be a path or null, got ''");

  MactTvModelClass *klass = MACT_TV_MODEL_GET_CLASS (self);
  if (klass->build_model == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NOT_IMPLEMENTED,
                   "%s: the class does not build a model", G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }
  if (!klass->build_model (self, error))
    return FALSE;
  /* torchvision initialises in the constructor and then loads the weights.  The strict
   * load overwrites every parameter and buffer, so with weights the random draws would
   * be thrown away: skip them (a large model's init costs seconds). */
  if (priv->weights != NULL)
    return load_weights (self, priv->weights, error);
  return mact_module_init_weights (module, NULL, error);
}

static void
mact_tv_model_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  MactTvModelPrivate *priv = mact_tv_model_get_instance_private (MACT_TV_MODEL (object));

  switch (prop_id)
    {
    case PROP_WEIGHTS:
      g_free (priv->weights);
      priv->weights = g_value_dup_string (value);
      break;
    case PROP_PROGRESS:
      priv->progress = g_value_get_boolean (value);
      break;
    case PROP_PRETRAINED:
      priv->pretrained = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_model_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactTvModelPrivate *priv = mact_tv_model_get_instance_private (MACT_TV_MODEL (object));

  switch (prop_id)
    {
    case PROP_WEIGHTS:
      g_value_set_string (value, priv->weights);
      break;
    case PROP_PROGRESS:
      g_value_set_boolean (value, priv->progress);
      break;
    case PROP_PRETRAINED:
      g_value_set_boolean (value, priv->pretrained);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_model_finalize (GObject *object)
{
  MactTvModelPrivate *priv = mact_tv_model_get_instance_private (MACT_TV_MODEL (object));
  g_free (priv->weights);
  G_OBJECT_CLASS (mact_tv_model_parent_class)->finalize (object);
}

static void
mact_tv_model_class_init (MactTvModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_tv_model_set_property;
  object_class->get_property = mact_tv_model_get_property;
  object_class->finalize = mact_tv_model_finalize;
  MACT_MODULE_CLASS (klass)->build = mact_tv_model_build;

  /**
   * MactTvModel:weights:
   *
   * The path of a safetensors file with torchvision's state dict for this model, loaded
   * strictly at build time; %NULL keeps the random initialisation.
   */
  properties[PROP_WEIGHTS] =
    g_param_spec_string ("weights", NULL, NULL, NULL, flags);
  /**
   * MactTvModel:progress:
   *
   * torchvision's download progress bar.  Accepted for compatibility; without effect,
   * since nothing is downloaded.
   */
  properties[PROP_PROGRESS] =
    g_param_spec_boolean ("progress", NULL, NULL, TRUE, flags);
  /**
   * MactTvModel:pretrained:
   *
   * torchvision's deprecated `pretrained` argument (mmaction2's configs use it).  %TRUE
   * is refused with %MACT_MODULE_ERROR_NOT_IMPLEMENTED: give a converted file as
   * #MactTvModel:weights instead.
   */
  properties[PROP_PRETRAINED] =
    g_param_spec_boolean ("pretrained", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_tv_model_init (MactTvModel *self)
{
}
