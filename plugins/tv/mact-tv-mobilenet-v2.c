/* mact-tv-mobilenet-v2.c: torchvision's MobileNetV2 (torchvision/models/mobilenetv2.py),
 * registered as tv.mobilenet_v2.
 *
 * Children as torchvision names them: features (a Sequential: "0" the 3x3/2 stem
 * Conv2dNormActivation with ReLU6, then the 17 inverted residual blocks, then the 1x1
 * Conv2dNormActivation to last_channel) and classifier (Sequential of Dropout "0" and
 * Linear "1").  forward is torchvision's: features, adaptive average pooling to 1x1 (a
 * function there, so no child), flatten, classifier.  forward_features runs `features`
 * only, as mmaction2's extract_feat does with torchvision models that have it.
 *
 * Arguments are the builder's: num_classes, width_mult, round_nearest and dropout, plus
 * the base's weights/progress/pretrained.  inverted_residual_setting, block and
 * norm_layer are not configurable (torchvision's defaults). */
#include "mact-tv-mobilenet-v2.h"
#include "mact-tv-layers.h"
#include "mact-tv-inverted-residual.h"

#include <math.h>

struct _MactTvMobileNetV2
{
  MactTvModel parent_instance;

  gint        num_classes;
  double      width_mult;
  gint        round_nearest;
  double      dropout;
};

G_DEFINE_FINAL_TYPE (MactTvMobileNetV2, mact_tv_mobilenet_v2, MACT_TV_TYPE_MODEL)

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_WIDTH_MULT,
  PROP_ROUND_NEAREST,
  PROP_DROPOUT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* t (expansion), c (output channels), n (blocks), s (first stride). */
static const gint inverted_residual_setting[][4] = {
  { 1, 16, 1, 1 },
  { 6, 24, 2, 2 },
  { 6, 32, 3, 2 },
  { 6, 64, 4, 2 },
  { 6, 96, 3, 1 },
  { 6, 160, 3, 2 },
  { 6, 320, 1, 1 },
};

/* _make_divisible(v, divisor) for round_nearest >= 1; round_nearest = 1 turns rounding
 * off (then only the 10% rule and min_value = 1 apply, as in torchvision). */
static gint
round_channels (MactTvMobileNetV2 *self, double value)
{
  return mact_tv_make_divisible (value, self->round_nearest);
}

static gboolean
mact_tv_mobilenet_v2_build_model (MactTvModel *model, GError **error)
{
  MactTvMobileNetV2 *self = MACT_TV_MOBILENET_V2 (model);
  MactModule *module = MACT_MODULE (model);
  const MactTvBatchNorm *bn = &mact_tv_bn_default;

  if (self->num_classes < 1)
    return mact_tv_model_invalid (model, error, "num_classes must be positive, got %d",
                                  self->num_classes);
  if (!(self->width_mult > 0.0) || !isfinite (self->width_mult))
    return mact_tv_model_invalid (model, error, "width_mult must be positive, got %g",
                                  self->width_mult);
  if (self->round_nearest < 1)
    return mact_tv_model_invalid (model, error, "round_nearest must be positive, got %d",
                                  self->round_nearest);
  if (!(self->dropout >= 0.0 && self->dropout <= 1.0))
    return mact_tv_model_invalid (model, error,
                                  "dropout probability has to be between 0 and 1, but got %g",
                                  self->dropout);

  gint input_channel = round_channels (self, 32 * self->width_mult);
  const gint last_channel = round_channels (self, 1280 * MAX (1.0, self->width_mult));

  g_autoptr(MactModule) features = mact_sequential_new ();
  g_autoptr(MactModule) stem = mact_tv_conv_norm_act_k (2, 3, input_channel, 3, 2, 1, bn, TRUE,
                                                        MACT_ACTIVATION_RELU6, error);
  if (stem == NULL)
    return FALSE;
  mact_sequential_append (MACT_SEQUENTIAL (features), stem);
  for (gsize i = 0; i < G_N_ELEMENTS (inverted_residual_setting); i++)
    {
      const gint *tcns = inverted_residual_setting[i];
      const gint output_channel = round_channels (self, tcns[1] * self->width_mult);
      for (gint b = 0; b < tcns[2]; b++)
        {
          g_autoptr(MactModule) block =
            mact_tv_inverted_residual_v2_new (input_channel, output_channel,
                                              b == 0 ? tcns[3] : 1, tcns[0], error);
          if (block == NULL)
            return FALSE;
          mact_sequential_append (MACT_SEQUENTIAL (features), block);
          input_channel = output_channel;
        }
    }
  g_autoptr(MactModule) last = mact_tv_conv_norm_act_k (2, input_channel, last_channel, 1, 1, 1,
                                                        bn, TRUE, MACT_ACTIVATION_RELU6, error);
  if (last == NULL)
    return FALSE;
  mact_sequential_append (MACT_SEQUENTIAL (features), last);

  g_autoptr(MactModule) dropout = mact_dropout_new (self->dropout, error);
  if (dropout == NULL)
    return FALSE;
  g_autoptr(MactModule) linear = mact_linear_new (last_channel, self->num_classes, TRUE, error);
  if (linear == NULL)
    return FALSE;
  g_autoptr(MactModule) classifier = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (classifier), dropout);
  mact_sequential_append (MACT_SEQUENTIAL (classifier), linear);

  mact_module_add_child (module, "features", features);
  mact_module_add_child (module, "classifier", classifier);
  return TRUE;
}

static MactTensor *
mact_tv_mobilenet_v2_forward_features (MactBackbone *backbone, MactTensor *input,
                                       GError **error)
{
  static const char *const path[] = { "features", NULL };
  if (!mact_tv_model_check_tensor (MACT_TV_MODEL (backbone), input, 4, error))
    return NULL;
  return mact_tv_run_children (MACT_MODULE (backbone), path, input, error);
}

static GPtrArray *
mact_tv_mobilenet_v2_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  static const char *const head[] = { "classifier", NULL };
  MactTensor *x = mact_tv_model_check_input (MACT_TV_MODEL (module), inputs, 4, error);
  if (x == NULL)
    return NULL;
  g_autoptr(MactTensor) f = mact_tv_mobilenet_v2_forward_features (MACT_BACKBONE (module), x,
                                                                   error);
  if (f == NULL)
    return NULL;
  const gint64 one[2] = { 1, 1 };
  g_autoptr(MactTensor) pooled = mact_adaptive_avg_pool2d (f, one, error);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (pooled, 1, -1, error);
  if (flat == NULL)
    return NULL;
  MactTensor *y = mact_tv_run_children (module, head, flat, error);
  return y != NULL ? mact_tv_single_output (y) : NULL;
}

static gboolean
mact_tv_mobilenet_v2_init_weights (MactModule *module, MactGenerator *generator,
                                   GError **error)
{
  return mact_tv_init_weights (module, MACT_TV_INIT_CLASSIFIER, generator, error);
}

static void
mact_tv_mobilenet_v2_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  MactTvMobileNetV2 *self = MACT_TV_MOBILENET_V2 (object);

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      self->num_classes = g_value_get_int (value);
      break;
    case PROP_WIDTH_MULT:
      self->width_mult = g_value_get_double (value);
      break;
    case PROP_ROUND_NEAREST:
      self->round_nearest = g_value_get_int (value);
      break;
    case PROP_DROPOUT:
      self->dropout = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_mobilenet_v2_get_property (GObject *object, guint prop_id, GValue *value,
                                   GParamSpec *pspec)
{
  MactTvMobileNetV2 *self = MACT_TV_MOBILENET_V2 (object);

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_int (value, self->num_classes);
      break;
    case PROP_WIDTH_MULT:
      g_value_set_double (value, self->width_mult);
      break;
    case PROP_ROUND_NEAREST:
      g_value_set_int (value, self->round_nearest);
      break;
    case PROP_DROPOUT:
      g_value_set_double (value, self->dropout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_mobilenet_v2_class_init (MactTvMobileNetV2Class *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_tv_mobilenet_v2_set_property;
  object_class->get_property = mact_tv_mobilenet_v2_get_property;
  MACT_MODULE_CLASS (klass)->forward = mact_tv_mobilenet_v2_forward;
  MACT_MODULE_CLASS (klass)->init_weights = mact_tv_mobilenet_v2_init_weights;
  MACT_BACKBONE_CLASS (klass)->forward_features = mact_tv_mobilenet_v2_forward_features;
  MACT_TV_MODEL_CLASS (klass)->build_model = mact_tv_mobilenet_v2_build_model;

  /**
   * MactTvMobileNetV2:num-classes:
   *
   * The outputs of the classifier's Linear.
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_int ("num-classes", NULL, NULL, G_MININT, G_MAXINT, 1000, flags);
  /**
   * MactTvMobileNetV2:width-mult:
   *
   * Multiplies the channels of every layer (then rounded to round_nearest); the last
   * conv keeps at least 1280 channels.
   */
  properties[PROP_WIDTH_MULT] =
    g_param_spec_double ("width-mult", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0, flags);
  /**
   * MactTvMobileNetV2:round-nearest:
   *
   * Channel counts are rounded to a multiple of this; 1 turns rounding off.
   */
  properties[PROP_ROUND_NEAREST] =
    g_param_spec_int ("round-nearest", NULL, NULL, G_MININT, G_MAXINT, 8, flags);
  /**
   * MactTvMobileNetV2:dropout:
   *
   * The dropout probability before the classifier's Linear.
   */
  properties[PROP_DROPOUT] =
    g_param_spec_double ("dropout", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.2, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_tv_mobilenet_v2_init (MactTvMobileNetV2 *self)
{
}
