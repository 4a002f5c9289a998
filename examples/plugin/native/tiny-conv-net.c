/* tiny-conv-net.c: TinyConvNet, registered as "TinyConvNet".
 *
 * A stem `conv1` and `num_stages` stages `layer1`, `layer2`, ..., each one 3x3
 * conv-bn-relu (mact's #MactConvModule, mmcv's ConvModule) of stride 2; each stage
 * doubles the channels.  Input [N, in_channels, H, W], output
 * [N, base_channels * 2^num_stages, H / 2^(num_stages + 1), W / ...]: one feature map,
 * what Recognizer2D hands to TSNHead.
 *
 * The children are named as the PyTorch module's attributes in reference.py, and the
 * ConvModule's own children are conv, bn and activate as in mmcv, so the state-dict keys
 * are PyTorch's: `conv1.conv.weight`, `layer2.bn.running_var`, ... (`backbone.` in
 * front inside a recognizer). */
#include "tiny-conv-net.h"

#define MAX_STAGES 5

struct _ExampleTinyConvNet
{
  MactBackbone  parent_instance;

  /* properties */
  gint          in_channels;
  gint          base_channels;
  gint          num_stages;
  gboolean      norm_eval;

  /* built: conv1, layer1 .. layerN, borrowed from the children table */
  MactModule   *stages[MAX_STAGES + 1];
  guint         n_built;
};

G_DEFINE_FINAL_TYPE (ExampleTinyConvNet, example_tiny_conv_net, MACT_TYPE_BACKBONE)

enum {
  PROP_0,
  PROP_IN_CHANNELS,
  PROP_BASE_CHANNELS,
  PROP_NUM_STAGES,
  PROP_NORM_EVAL,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
example_tiny_conv_net_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  ExampleTinyConvNet *self = EXAMPLE_TINY_CONV_NET (object);

  switch (prop_id)
    {
    case PROP_IN_CHANNELS:
      self->in_channels = g_value_get_int (value);
      break;
    case PROP_BASE_CHANNELS:
      self->base_channels = g_value_get_int (value);
      break;
    case PROP_NUM_STAGES:
      self->num_stages = g_value_get_int (value);
      break;
    case PROP_NORM_EVAL:
      self->norm_eval = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
example_tiny_conv_net_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  ExampleTinyConvNet *self = EXAMPLE_TINY_CONV_NET (object);

  switch (prop_id)
    {
    case PROP_IN_CHANNELS:
      g_value_set_int (value, self->in_channels);
      break;
    case PROP_BASE_CHANNELS:
      g_value_set_int (value, self->base_channels);
      break;
    case PROP_NUM_STAGES:
      g_value_set_int (value, self->num_stages);
      break;
    case PROP_NORM_EVAL:
      g_value_set_boolean (value, self->norm_eval);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Arguments are checked here rather than through the ranges of their GParamSpecs: build()
 * runs however the block is made (a config, mact_module_new(), a binding), and a GError
 * naming the block and the argument is what each of those reports to its user, where an
 * out-of-range property value would only be a warning from GObject. */
static gboolean
example_tiny_conv_net_build (MactModule *module, GError **error)
{
  ExampleTinyConvNet *self = EXAMPLE_TINY_CONV_NET (module);
  static const gint kernel[2] = { 3, 3 }, stride[2] = { 2, 2 }, padding[2] = { 1, 1 },
                    dilation[2] = { 1, 1 };

  if (!MACT_MODULE_CLASS (example_tiny_conv_net_parent_class)->build (module, error))
    return FALSE;
  if (self->num_stages < 1 || self->num_stages > MAX_STAGES)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TinyConvNet: num_stages must be between 1 and %d, got %d", MAX_STAGES,
                   self->num_stages);
      return FALSE;
    }
  if (self->in_channels < 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TinyConvNet: in_channels must be positive, got %d", self->in_channels);
      return FALSE;
    }
  /* The last stage has base_channels << num_stages channels. */
  if (self->base_channels < 1 || self->base_channels > (G_MAXINT >> self->num_stages))
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TinyConvNet: base_channels must be positive and small enough to double "
                   "%d times, got %d", self->num_stages, self->base_channels);
      return FALSE;
    }

  gint channels = self->in_channels;
  for (gint i = 0; i <= self->num_stages; i++)
    {
      /* conv1 keeps base_channels; every stage after it doubles them. */
      gint out_channels = i == 0 ? self->base_channels : channels * 2;
      g_autoptr(MactModule) stage =
        mact_conv_module_new (2, channels, out_channels, kernel, stride, padding, dilation, 1,
                              TRUE, TRUE, MACT_ACTIVATION_RELU, error);
      if (stage == NULL)
        return FALSE;
      g_autofree char *name = i == 0 ? g_strdup ("conv1") : g_strdup_printf ("layer%d", i);
      mact_module_add_child (module, name, stage);
      self->stages[i] = stage;
      channels = out_channels;
    }
  self->n_built = (guint) self->num_stages + 1;
  return TRUE;
}

static GPtrArray *
example_tiny_conv_net_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  ExampleTinyConvNet *self = EXAMPLE_TINY_CONV_NET (module);

  MactTensor *input = inputs->len == 1 ? g_ptr_array_index (inputs, 0) : NULL;
  if (input == NULL || mact_tensor_get_ndim (input) != 4 ||
      mact_tensor_get_size (input, 1) != self->in_channels)
    {
      g_autofree char *shape = input != NULL ? mact_tensor_shape_to_string (input) : NULL;
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "TinyConvNet: expected one input [N, %d, H, W], got %s", self->in_channels,
                   shape != NULL ? shape : "several inputs");
      return NULL;
    }

  /* Children run through mact_module_forward1() so that their forward hooks run and a
   * cancelled classification stops between them. */
  g_autoptr(MactTensor) x = mact_tensor_ref (input);
  for (guint i = 0; i < self->n_built; i++)
    {
      MactTensor *y = mact_module_forward1 (self->stages[i], x, error);
      if (y == NULL)
        return NULL;
      mact_tensor_unref (x);
      x = y;
    }

  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, g_steal_pointer (&x));
  return outputs;
}

/* norm_eval, as in mmaction2's backbones: in training mode the batch norms still use
 * (and do not update) their running statistics, for fine-tuning with small batches. */
static void
example_tiny_conv_net_set_training (MactModule *module, gboolean training)
{
  ExampleTinyConvNet *self = EXAMPLE_TINY_CONV_NET (module);

  MACT_MODULE_CLASS (example_tiny_conv_net_parent_class)->set_training (module, training);
  if (!training || !self->norm_eval)
    return;
  for (guint i = 0; i < self->n_built; i++)
    {
      MactModule *bn = mact_module_get_child (self->stages[i], "bn");
      if (bn != NULL)
        mact_module_eval (bn);
    }
}

static void
example_tiny_conv_net_class_init (ExampleTinyConvNetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = example_tiny_conv_net_set_property;
  object_class->get_property = example_tiny_conv_net_get_property;
  module_class->build = example_tiny_conv_net_build;
  module_class->forward = example_tiny_conv_net_forward;
  module_class->set_training = example_tiny_conv_net_set_training;
  /* init_weights is MactModule's: each ConvModule initialises itself as mmcv does. */

  /**
   * ExampleTinyConvNet:in-channels:
   *
   * Channels of the input images (3 for RGB).  Config key `in_channels`.
   */
  properties[PROP_IN_CHANNELS] =
    g_param_spec_int ("in-channels", NULL, NULL, G_MININT, G_MAXINT, 3, flags);
  /**
   * ExampleTinyConvNet:base-channels:
   *
   * Output channels of the stem `conv1`; stage i has base_channels * 2^i.
   */
  properties[PROP_BASE_CHANNELS] =
    g_param_spec_int ("base-channels", NULL, NULL, G_MININT, G_MAXINT, 16, flags);
  /**
   * ExampleTinyConvNet:num-stages:
   *
   * How many stride-2 stages follow the stem, 1 to 5.
   */
  properties[PROP_NUM_STAGES] =
    g_param_spec_int ("num-stages", NULL, NULL, G_MININT, G_MAXINT, 3, flags);
  /**
   * ExampleTinyConvNet:norm-eval:
   *
   * Whether the batch norms stay in evaluation mode while the model trains.
   */
  properties[PROP_NORM_EVAL] =
    g_param_spec_boolean ("norm-eval", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
example_tiny_conv_net_init (ExampleTinyConvNet *self)
{
}
