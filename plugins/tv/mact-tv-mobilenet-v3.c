/* mact-tv-mobilenet-v3.c: torchvision's MobileNetV3 (torchvision/models/mobilenetv3.py),
 * registered once per builder: tv.mobilenet_v3_small and tv.mobilenet_v3_large.
 *
 * Children as torchvision names them: features (a Sequential: "0" the 3x3/2 stem
 * Conv2dNormActivation with Hardswish, the inverted residual blocks of the builder's
 * table, then a 1x1 Conv2dNormActivation to 6x the last block's channels, Hardswish),
 * avgpool (adaptive, 1x1) and classifier (Sequential: Linear "0", Hardswish "1", Dropout
 * "2", Linear "3").  Batch norms have eps 0.001 and momentum 0.01.  forward is
 * torchvision's; forward_features runs `features` only (mmaction2's extract_feat).
 *
 * Arguments are the builders': num_classes, width_mult, reduced_tail, dilated and
 * dropout, plus the base's weights/progress/pretrained. */
#include "mact-tv-mobilenet-v3.h"
#include "mact-tv-layers.h"
#include "mact-tv-inverted-residual.h"

#include <math.h>

/* Which values of a table row the builder's reduced_tail halves, and whether `dilated`
 * applies to the row (the C4 stage). */
enum {
  TAIL_IN = 1 << 0,
  TAIL_EXP = 1 << 1,
  TAIL_OUT = 1 << 2,
  C4 = 1 << 3,
};

/* One row of _mobilenet_v3_conf's table: input, kernel, expanded, output, SE,
 * Hardswish (else ReLU), stride, flags. */
typedef struct {
  gint     input;
  gint     kernel;
  gint     expanded;
  gint     out;
  gboolean se;
  gboolean hs;
  gint     stride;
  guint    flags;
} BneckRow;

struct _MactTvMobileNetV3Arch
{
  const char     *builder;
  const char     *gtype_name;
  const BneckRow *rows;
  guint           n_rows;
  gint            last_channel;   /* before reduced_tail and width_mult */
};

static const BneckRow large_rows[] = {
  { 16, 3, 16, 16, FALSE, FALSE, 1, 0 },
  { 16, 3, 64, 24, FALSE, FALSE, 2, 0 },
  { 24, 3, 72, 24, FALSE, FALSE, 1, 0 },
  { 24, 5, 72, 40, TRUE, FALSE, 2, 0 },
  { 40, 5, 120, 40, TRUE, FALSE, 1, 0 },
  { 40, 5, 120, 40, TRUE, FALSE, 1, 0 },
  { 40, 3, 240, 80, FALSE, TRUE, 2, 0 },
  { 80, 3, 200, 80, FALSE, TRUE, 1, 0 },
  { 80, 3, 184, 80, FALSE, TRUE, 1, 0 },
  { 80, 3, 184, 80, FALSE, TRUE, 1, 0 },
  { 80, 3, 480, 112, TRUE, TRUE, 1, 0 },
  { 112, 3, 672, 112, TRUE, TRUE, 1, 0 },
  { 112, 5, 672, 160, TRUE, TRUE, 2, TAIL_OUT | C4 },
  { 160, 5, 960, 160, TRUE, TRUE, 1, TAIL_IN | TAIL_EXP | TAIL_OUT | C4 },
  { 160, 5, 960, 160, TRUE, TRUE, 1, TAIL_IN | TAIL_EXP | TAIL_OUT | C4 },
};

static const BneckRow small_rows[] = {
  { 16, 3, 16, 16, TRUE, FALSE, 2, 0 },
  { 16, 3, 72, 24, FALSE, FALSE, 2, 0 },
  { 24, 3, 88, 24, FALSE, FALSE, 1, 0 },
  { 24, 5, 96, 40, TRUE, TRUE, 2, 0 },
  { 40, 5, 240, 40, TRUE, TRUE, 1, 0 },
  { 40, 5, 240, 40, TRUE, TRUE, 1, 0 },
  { 40, 5, 120, 48, TRUE, TRUE, 1, 0 },
  { 48, 5, 144, 48, TRUE, TRUE, 1, 0 },
  { 48, 5, 288, 96, TRUE, TRUE, 2, TAIL_OUT | C4 },
  { 96, 5, 576, 96, TRUE, TRUE, 1, TAIL_IN | TAIL_EXP | TAIL_OUT | C4 },
  { 96, 5, 576, 96, TRUE, TRUE, 1, TAIL_IN | TAIL_EXP | TAIL_OUT | C4 },
};

static const MactTvMobileNetV3Arch archs[] = {
  { "mobilenet_v3_large", "MactTvMobilenet_v3_large", large_rows, G_N_ELEMENTS (large_rows),
    1280 },
  { "mobilenet_v3_small", "MactTvMobilenet_v3_small", small_rows, G_N_ELEMENTS (small_rows),
    1024 },
};

typedef struct {
  gint     num_classes;
  double   width_mult;
  gboolean reduced_tail;
  gboolean dilated;
  double   dropout;
} MactTvMobileNetV3Private;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactTvMobileNetV3, mact_tv_mobilenet_v3,
                                     MACT_TV_TYPE_MODEL)

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_WIDTH_MULT,
  PROP_REDUCED_TAIL,
  PROP_DILATED,
  PROP_DROPOUT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* InvertedResidualConfig.adjust_channels. */
static gint
adjust_channels (gint channels, double width_mult)
{
  return mact_tv_make_divisible (channels * width_mult, 8);
}

static gboolean
mact_tv_mobilenet_v3_build_model (MactTvModel *model, GError **error)
{
  MactTvMobileNetV3 *self = MACT_TV_MOBILENET_V3 (model);
  MactTvMobileNetV3Private *priv = mact_tv_mobilenet_v3_get_instance_private (self);
  const MactTvMobileNetV3Arch *arch = MACT_TV_MOBILENET_V3_GET_CLASS (self)->arch;
  MactModule *module = MACT_MODULE (model);
  static const MactTvBatchNorm bn = { 0.001, 0.01 };
  const double wm = priv->width_mult;
  const gint rd = priv->reduced_tail ? 2 : 1;

  if (priv->num_classes < 1)
    return mact_tv_model_invalid (model, error, "num_classes must be positive, got %d",
                                  priv->num_classes);
  if (!(wm > 0.0) || !isfinite (wm))
    return mact_tv_model_invalid (model, error, "width_mult must be positive, got %g", wm);
  if (!(priv->dropout >= 0.0 && priv->dropout <= 1.0))
    return mact_tv_model_invalid (model, error,
                                  "dropout probability has to be between 0 and 1, but got %g",
                                  priv->dropout);

  g_autofree MactTvInvertedResidualConfig *cnf =
    g_new0 (MactTvInvertedResidualConfig, arch->n_rows);
  for (guint i = 0; i < arch->n_rows; i++)
    {
      const BneckRow *row = &arch->rows[i];
      cnf[i].input_channels = adjust_channels (row->input / (row->flags & TAIL_IN ? rd : 1), wm);
      cnf[i].kernel = row->kernel;
      cnf[i].expanded_channels = adjust_channels (row->expanded /
                                                  (row->flags & TAIL_EXP ? rd : 1), wm);
      cnf[i].out_channels = adjust_channels (row->out / (row->flags & TAIL_OUT ? rd : 1), wm);
      cnf[i].use_se = row->se;
      cnf[i].use_hs = row->hs;
      cnf[i].stride = row->stride;
      cnf[i].dilation = (row->flags & C4) && priv->dilated ? 2 : 1;
    }
  const gint last_channel = adjust_channels (arch->last_channel / rd, wm);

  g_autoptr(MactModule) features = mact_sequential_new ();
  g_autoptr(MactModule) stem = mact_tv_conv_norm_act_k (2, 3, cnf[0].input_channels, 3, 2, 1,
                                                        &bn, TRUE, MACT_ACTIVATION_HARDSWISH,
                                                        error);
  if (stem == NULL)
    return FALSE;
  mact_sequential_append (MACT_SEQUENTIAL (features), stem);
  for (guint i = 0; i < arch->n_rows; i++)
    {
      g_autoptr(MactModule) block = mact_tv_inverted_residual_v3_new (&cnf[i], error);
      if (block == NULL)
        return FALSE;
      mact_sequential_append (MACT_SEQUENTIAL (features), block);
    }
  const gint lastconv_in = cnf[arch->n_rows - 1].out_channels;
  const gint lastconv_out = 6 * lastconv_in;
  g_autoptr(MactModule) last = mact_tv_conv_norm_act_k (2, lastconv_in, lastconv_out, 1, 1, 1,
                                                        &bn, TRUE, MACT_ACTIVATION_HARDSWISH,
                                                        error);
  if (last == NULL)
    return FALSE;
  mact_sequential_append (MACT_SEQUENTIAL (features), last);

  const gint64 one[2] = { 1, 1 };
  g_autoptr(MactModule) avgpool = mact_adaptive_avg_pool_new (2, one, error);
  if (avgpool == NULL)
    return FALSE;
  g_autoptr(MactModule) fc1 = mact_linear_new (lastconv_out, last_channel, TRUE, error);
  if (fc1 == NULL)
    return FALSE;
  g_autoptr(MactModule) hardswish = mact_activation_new (MACT_ACTIVATION_HARDSWISH);
  g_autoptr(MactModule) dropout = mact_dropout_new (priv->dropout, error);
  if (dropout == NULL)
    return FALSE;
  g_autoptr(MactModule) fc2 = mact_linear_new (last_channel, priv->num_classes, TRUE, error);
  if (fc2 == NULL)
    return FALSE;
  g_autoptr(MactModule) classifier = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (classifier), fc1);
  mact_sequential_append (MACT_SEQUENTIAL (classifier), hardswish);
  mact_sequential_append (MACT_SEQUENTIAL (classifier), dropout);
  mact_sequential_append (MACT_SEQUENTIAL (classifier), fc2);

  mact_module_add_child (module, "features", features);
  mact_module_add_child (module, "avgpool", avgpool);
  mact_module_add_child (module, "classifier", classifier);
  return TRUE;
}

static MactTensor *
mact_tv_mobilenet_v3_forward_features (MactBackbone *backbone, MactTensor *input,
                                       GError **error)
{
  static const char *const path[] = { "features", NULL };
  if (!mact_tv_model_check_tensor (MACT_TV_MODEL (backbone), input, 4, error))
    return NULL;
  return mact_tv_run_children (MACT_MODULE (backbone), path, input, error);
}

static GPtrArray *
mact_tv_mobilenet_v3_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  static const char *const body[] = { "features", "avgpool", NULL };
  static const char *const head[] = { "classifier", NULL };
  MactTensor *x = mact_tv_model_check_input (MACT_TV_MODEL (module), inputs, 4, error);
  if (x == NULL)
    return NULL;
  g_autoptr(MactTensor) pooled = mact_tv_run_children (module, body, x, error);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (pooled, 1, -1, error);
  if (flat == NULL)
    return NULL;
  MactTensor *y = mact_tv_run_children (module, head, flat, error);
  return y != NULL ? mact_tv_single_output (y) : NULL;
}

static gboolean
mact_tv_mobilenet_v3_init_weights (MactModule *module, MactGenerator *generator,
                                   GError **error)
{
  return mact_tv_init_weights (module, MACT_TV_INIT_CLASSIFIER, generator, error);
}

static void
mact_tv_mobilenet_v3_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  MactTvMobileNetV3Private *priv =
    mact_tv_mobilenet_v3_get_instance_private (MACT_TV_MOBILENET_V3 (object));

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      priv->num_classes = g_value_get_int (value);
      break;
    case PROP_WIDTH_MULT:
      priv->width_mult = g_value_get_double (value);
      break;
    case PROP_REDUCED_TAIL:
      priv->reduced_tail = g_value_get_boolean (value);
      break;
    case PROP_DILATED:
      priv->dilated = g_value_get_boolean (value);
      break;
    case PROP_DROPOUT:
      priv->dropout = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_mobilenet_v3_get_property (GObject *object, guint prop_id, GValue *value,
                                   GParamSpec *pspec)
{
  MactTvMobileNetV3Private *priv =
    mact_tv_mobilenet_v3_get_instance_private (MACT_TV_MOBILENET_V3 (object));

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_int (value, priv->num_classes);
      break;
    case PROP_WIDTH_MULT:
      g_value_set_double (value, priv->width_mult);
      break;
    case PROP_REDUCED_TAIL:
      g_value_set_boolean (value, priv->reduced_tail);
      break;
    case PROP_DILATED:
      g_value_set_boolean (value, priv->dilated);
      break;
    case PROP_DROPOUT:
      g_value_set_double (value, priv->dropout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_mobilenet_v3_class_init (MactTvMobileNetV3Class *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_tv_mobilenet_v3_set_property;
  object_class->get_property = mact_tv_mobilenet_v3_get_property;
  MACT_MODULE_CLASS (klass)->forward = mact_tv_mobilenet_v3_forward;
  MACT_MODULE_CLASS (klass)->init_weights = mact_tv_mobilenet_v3_init_weights;
  MACT_BACKBONE_CLASS (klass)->forward_features = mact_tv_mobilenet_v3_forward_features;
  MACT_TV_MODEL_CLASS (klass)->build_model = mact_tv_mobilenet_v3_build_model;

  /**
   * MactTvMobileNetV3:num-classes:
   *
   * The outputs of the classifier's last Linear.
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_int ("num-classes", NULL, NULL, G_MININT, G_MAXINT, 1000, flags);
  /**
   * MactTvMobileNetV3:width-mult:
   *
   * Multiplies the channels of every block and of the classifier's hidden layer (rounded
   * to multiples of 8).
   */
  properties[PROP_WIDTH_MULT] =
    g_param_spec_double ("width-mult", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 1.0, flags);
  /**
   * MactTvMobileNetV3:reduced-tail:
   *
   * Halve the channels of the last stage (C4) and of the classifier's hidden layer.
   */
  properties[PROP_REDUCED_TAIL] =
    g_param_spec_boolean ("reduced-tail", NULL, NULL, FALSE, flags);
  /**
   * MactTvMobileNetV3:dilated:
   *
   * Replace the last stage's stride 2 by a dilation of 2.
   */
  properties[PROP_DILATED] =
    g_param_spec_boolean ("dilated", NULL, NULL, FALSE, flags);
  /**
   * MactTvMobileNetV3:dropout:
   *
   * The dropout probability in the classifier.
   */
  properties[PROP_DROPOUT] =
    g_param_spec_double ("dropout", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.2, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_tv_mobilenet_v3_init (MactTvMobileNetV3 *self)
{
}

static void
variant_class_init (gpointer klass, gpointer class_data)
{
  MACT_TV_MOBILENET_V3_CLASS (klass)->arch = class_data;
}

/**
 * mact_tv_mobilenet_v3_variant_get_type:
 * @builder: "mobilenet_v3_small" or "mobilenet_v3_large"
 *
 * Returns: the type of the builder's model, or %G_TYPE_INVALID for an unknown builder
 */
GType
mact_tv_mobilenet_v3_variant_get_type (const char *builder)
{
  for (gsize i = 0; i < G_N_ELEMENTS (archs); i++)
    if (g_str_equal (archs[i].builder, builder))
      return mact_tv_model_register_variant (MACT_TV_TYPE_MOBILENET_V3, archs[i].gtype_name,
                                             variant_class_init, &archs[i]);
  return G_TYPE_INVALID;
}
