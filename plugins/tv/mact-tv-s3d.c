/* mact-tv-s3d.c: torchvision's S3D (torchvision/models/video/s3d.py), registered as
 * tv.s3d.
 *
 * Children as torchvision names them: features (a Sequential of 16: the 7x7x7/2 and 3x3x3
 * TemporalSeparableConvs, 1x1x1 Conv3dNormActivation, max pools and nine
 * SepInceptionBlock3D), avgpool (AvgPool3d (2, 7, 7), stride 1) and classifier (Dropout
 * "0", then a 1x1x1 Conv3d with bias "1").  Batch norms have eps 0.001 and momentum
 * 0.001.  forward is torchvision's: features, avgpool, classifier, then the mean over
 * time and space; forward_features runs `features` only (mmaction2's extract_feat).
 *
 * The avgpool needs features of at least 2x7x7, that is clips of at least 13 frames of
 * 209x209 pixels: forward reports a smaller input by name (torchvision fails inside the
 * pooling).  Like torchvision, S3D keeps PyTorch's default layer initialisation.
 *
 * Arguments are the builder's: num_classes (400) and dropout, plus the base's
 * weights/progress/pretrained. */
#include "mact-tv-s3d.h"
#include "mact-tv-layers.h"
#include "mact-tv-sep-inception-block.h"

struct _MactTvS3D
{
  MactTvModel parent_instance;

  gint        num_classes;
  double      dropout;
};

G_DEFINE_FINAL_TYPE (MactTvS3D, mact_tv_s3d, MACT_TV_TYPE_MODEL)

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_DROPOUT,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static const MactTvBatchNorm s3d_bn = { 0.001, 0.001 };

/* The inception blocks' channels: in, b0_out, b1_mid, b1_out, b2_mid, b2_out, b3_out;
 * in = 0 marks a max pool, whose kernel, stride and padding follow. */
static const gint features_table[][7] = {
  { 0, 1, 3, 1, 2, 0, 1 },                  /* 4: MaxPool3d (1,3,3) /(1,2,2) pad (0,1,1) */
  { 192, 64, 96, 128, 16, 32, 32 },
  { 256, 128, 128, 192, 32, 96, 64 },
  { 0, 3, 3, 2, 2, 1, 1 },                  /* 7: MaxPool3d 3 /2 pad 1 */
  { 480, 192, 96, 208, 16, 48, 64 },
  { 512, 160, 112, 224, 24, 64, 64 },
  { 512, 128, 128, 256, 24, 64, 64 },
  { 512, 112, 144, 288, 32, 64, 64 },
  { 528, 256, 160, 320, 32, 128, 128 },
  { 0, 2, 2, 2, 2, 0, 0 },                  /* 13: MaxPool3d 2 /2 */
  { 832, 256, 160, 320, 32, 128, 128 },
  { 832, 384, 192, 384, 48, 128, 128 },
};

/* A max pool from a table row: kernel (k_t, k_hw), stride (s_t, s_hw), padding
 * (p_t, p_hw). */
static MactModule *
max_pool (const gint *row, GError **error)
{
  const gint k[3] = { row[1], row[2], row[2] };
  const gint s[3] = { row[3], row[4], row[4] };
  const gint p[3] = { row[5], row[6], row[6] };
  return mact_max_pool_new (3, k, s, p, FALSE, error);
}

static gboolean
append (MactModule *seq, MactModule *child)
{
  if (child == NULL)
    return FALSE;
  mact_sequential_append (MACT_SEQUENTIAL (seq), child);
  g_object_unref (child);
  return TRUE;
}

static gboolean
mact_tv_s3d_build_model (MactTvModel *model, GError **error)
{
  MactTvS3D *self = MACT_TV_S3D (model);
  MactModule *module = MACT_MODULE (model);

  if (self->num_classes < 1)
    return mact_tv_model_invalid (model, error, "num_classes must be positive, got %d",
                                  self->num_classes);
  if (!(self->dropout >= 0.0 && self->dropout <= 1.0))
    return mact_tv_model_invalid (model, error,
                                  "dropout probability has to be between 0 and 1, but got %g",
                                  self->dropout);

  g_autoptr(MactModule) features = mact_sequential_new ();
  static const gint first_pool[7] = { 0, 1, 3, 1, 2, 0, 1 };
  if (!append (features, mact_tv_temporal_separable_conv_new (3, 64, 7, 2, 3, &s3d_bn, error)) ||
      !append (features, max_pool (first_pool, error)) ||
      !append (features, mact_tv_conv_norm_act_k (3, 64, 64, 1, 1, 1, &s3d_bn, TRUE,
                                                  MACT_ACTIVATION_RELU, error)) ||
      !append (features, mact_tv_temporal_separable_conv_new (64, 192, 3, 1, 1, &s3d_bn,
                                                              error)))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (features_table); i++)
    {
      const gint *row = features_table[i];
      MactModule *child = row[0] == 0
                          ? max_pool (row, error)
                          : mact_tv_sep_inception_block_new (row[0], row[1], row[2], row[3],
                                                             row[4], row[5], row[6], &s3d_bn,
                                                             error);
      if (!append (features, child))
        return FALSE;
    }

  const gint k[3] = { 2, 7, 7 }, one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  g_autoptr(MactModule) avgpool = mact_avg_pool_new (3, k, one, zero, FALSE, TRUE, error);
  if (avgpool == NULL)
    return FALSE;
  g_autoptr(MactModule) dropout = mact_dropout_new (self->dropout, error);
  if (dropout == NULL)
    return FALSE;
  g_autoptr(MactModule) conv = mact_conv_new (3, 1024, self->num_classes, one, one, NULL, NULL,
                                              1, TRUE, error);
  if (conv == NULL)
    return FALSE;
  g_autoptr(MactModule) classifier = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (classifier), dropout);
  mact_sequential_append (MACT_SEQUENTIAL (classifier), conv);

  mact_module_add_child (module, "features", features);
  mact_module_add_child (module, "avgpool", avgpool);
  mact_module_add_child (module, "classifier", classifier);
  return TRUE;
}

static MactTensor *
mact_tv_s3d_forward_features (MactBackbone *backbone, MactTensor *input, GError **error)
{
  static const char *const path[] = { "features", NULL };
  if (!mact_tv_model_check_tensor (MACT_TV_MODEL (backbone), input, 5, error))
    return NULL;
  return mact_tv_run_children (MACT_MODULE (backbone), path, input, error);
}

static GPtrArray *
mact_tv_s3d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  static const char *const body[] = { "features", NULL };
  static const char *const head[] = { "avgpool", "classifier", NULL };
  MactTensor *x = mact_tv_single_input (inputs, mact_tv_model_get_name (MACT_TV_MODEL (module)),
                                        error);
  if (x == NULL)
    return NULL;
  /* Only the rank is checked here: the stem's conv reports wrong channels, and the
   * channels are free when `features` has been replaced (the head is then fed features
   * directly). */
  if (mact_tensor_get_ndim (x) != 5)
    {
      g_autofree char *shape = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected input [N, 3, T, H, W], got %s",
                   mact_tv_model_get_name (MACT_TV_MODEL (module)), shape);
      return NULL;
    }
  g_autoptr(MactTensor) f = mact_tv_run_children (module, body, x, error);
  if (f == NULL)
    return NULL;
  /* The (2, 7, 7) pooling window must fit. */
  if (mact_tensor_get_ndim (f) == 5 &&
      (mact_tensor_get_size (f, 2) < 2 || mact_tensor_get_size (f, 3) < 7 ||
       mact_tensor_get_size (f, 4) < 7))
    {
      g_autofree char *in_shape = mact_tensor_shape_to_string (x);
      g_autofree char *f_shape = mact_tensor_shape_to_string (f);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: input %s gives features %s, smaller than avgpool's (2, 7, 7) window; "
                   "clips need at least 13 frames of 209x209",
                   mact_tv_model_get_name (MACT_TV_MODEL (module)), in_shape, f_shape);
      return NULL;
    }
  g_autoptr(MactTensor) scores = mact_tv_run_children (module, head, f, error);
  if (scores == NULL)
    return NULL;
  static const gint dims[3] = { 2, 3, 4 };
  MactTensor *y = mact_mean (scores, 3, dims, FALSE, error);
  return y != NULL ? mact_tv_single_output (y) : NULL;
}

static gboolean
mact_tv_s3d_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  return mact_tv_init_weights (module, MACT_TV_INIT_DEFAULT, generator, error);
}

static void
mact_tv_s3d_set_property (GObject *object, guint prop_id, const GValue *value,
                          GParamSpec *pspec)
{
  MactTvS3D *self = MACT_TV_S3D (object);

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      self->num_classes = g_value_get_int (value);
      break;
    case PROP_DROPOUT:
      self->dropout = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_s3d_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactTvS3D *self = MACT_TV_S3D (object);

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_int (value, self->num_classes);
      break;
    case PROP_DROPOUT:
      g_value_set_double (value, self->dropout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_s3d_class_init (MactTvS3DClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_tv_s3d_set_property;
  object_class->get_property = mact_tv_s3d_get_property;
  MACT_MODULE_CLASS (klass)->forward = mact_tv_s3d_forward;
  MACT_MODULE_CLASS (klass)->init_weights = mact_tv_s3d_init_weights;
  MACT_BACKBONE_CLASS (klass)->forward_features = mact_tv_s3d_forward_features;
  MACT_TV_MODEL_CLASS (klass)->build_model = mact_tv_s3d_build_model;

  /**
   * MactTvS3D:num-classes:
   *
   * The output channels of the classifier's conv (Kinetics-400 by default).
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_int ("num-classes", NULL, NULL, G_MININT, G_MAXINT, 400, flags);
  /**
   * MactTvS3D:dropout:
   *
   * The dropout probability before the classifier's conv.
   */
  properties[PROP_DROPOUT] =
    g_param_spec_double ("dropout", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.2, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_tv_s3d_init (MactTvS3D *self)
{
}
