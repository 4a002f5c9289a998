/* mact-tv-video-resnet.c: torchvision's VideoResNet (torchvision/models/video/resnet.py),
 * registered once per builder: tv.r3d_18 (Conv3DSimple in every stage), tv.mc3_18
 * (Conv3DSimple, then Conv3DNoTemporal) and tv.r2plus1d_18 (Conv2Plus1D, R(2+1)D stem).
 *
 * Children as torchvision names them: stem (Sequential: Conv3d 3x7x7 /(1,2,2), BN, ReLU;
 * or for R(2+1)D Conv3d 1x7x7 to 45 channels, BN, ReLU, Conv3d 3x1x1 to 64, BN, ReLU),
 * layer1 .. layer4 (two BasicBlocks each; a stage's first block has a `downsample` of a
 * 1x1x1 conv and a BatchNorm3d when the shape changes), avgpool (adaptive, 1x1x1) and fc.
 * forward is torchvision's: the logits [N, num_classes] of clips [N, 3, T, H, W].
 *
 * Arguments are the builders': num_classes (400) and zero_init_residual, plus the base's
 * weights/progress/pretrained.  zero_init_residual has no effect, exactly as in
 * torchvision, whose loop only touches Bottleneck blocks, which these builders never use. */
#include "mact-tv-video-resnet.h"
#include "mact-tv-layers.h"
#include "mact-tv-residual-block.h"

struct _MactTvVideoResNetArch
{
  const char      *builder;
  const char      *gtype_name;
  MactTvVideoConv  conv_makers[4];
  gboolean         r2plus1d_stem;
};

static const MactTvVideoResNetArch archs[] = {
  { "r3d_18", "MactTvR3d_18",
    { MACT_TV_VIDEO_CONV_3D_SIMPLE, MACT_TV_VIDEO_CONV_3D_SIMPLE,
      MACT_TV_VIDEO_CONV_3D_SIMPLE, MACT_TV_VIDEO_CONV_3D_SIMPLE }, FALSE },
  { "mc3_18", "MactTvMc3_18",
    { MACT_TV_VIDEO_CONV_3D_SIMPLE, MACT_TV_VIDEO_CONV_3D_NO_TEMPORAL,
      MACT_TV_VIDEO_CONV_3D_NO_TEMPORAL, MACT_TV_VIDEO_CONV_3D_NO_TEMPORAL }, FALSE },
  { "r2plus1d_18", "MactTvR2plus1d_18",
    { MACT_TV_VIDEO_CONV_2PLUS1D, MACT_TV_VIDEO_CONV_2PLUS1D, MACT_TV_VIDEO_CONV_2PLUS1D,
      MACT_TV_VIDEO_CONV_2PLUS1D }, TRUE },
};

/* Every builder uses two BasicBlocks per stage. */
static const gint stage_blocks[4] = { 2, 2, 2, 2 };

typedef struct {
  gint     num_classes;
  gboolean zero_init_residual;
} MactTvVideoResNetPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactTvVideoResNet, mact_tv_video_resnet,
                                     MACT_TV_TYPE_MODEL)

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_ZERO_INIT_RESIDUAL,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static const char *const forward_order[] = {
  "stem", "layer1", "layer2", "layer3", "layer4", "avgpool", NULL
};

/* Appends conv, BatchNorm3d and ReLU to the stem. */
static gboolean
stem_unit (MactModule *stem, gint in_channels, gint out_channels, const gint *kernel,
           const gint *stride, const gint *padding, GError **error)
{
  g_autoptr(MactModule) conv = mact_conv_new (3, in_channels, out_channels, kernel, stride,
                                              padding, NULL, 1, FALSE, error);
  if (conv == NULL)
    return FALSE;
  g_autoptr(MactModule) bn = mact_tv_batch_norm_new (3, out_channels, &mact_tv_bn_default,
                                                     error);
  if (bn == NULL)
    return FALSE;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  mact_sequential_append (MACT_SEQUENTIAL (stem), conv);
  mact_sequential_append (MACT_SEQUENTIAL (stem), bn);
  mact_sequential_append (MACT_SEQUENTIAL (stem), relu);
  return TRUE;
}

static MactModule *
make_stem (const MactTvVideoResNetArch *arch, GError **error)
{
  g_autoptr(MactModule) stem = mact_sequential_new ();
  if (arch->r2plus1d_stem)
    {
      const gint ks[3] = { 1, 7, 7 }, ss[3] = { 1, 2, 2 }, ps[3] = { 0, 3, 3 };
      const gint kt[3] = { 3, 1, 1 }, st[3] = { 1, 1, 1 }, pt[3] = { 1, 0, 0 };
      if (!stem_unit (stem, 3, 45, ks, ss, ps, error) ||
          !stem_unit (stem, 45, 64, kt, st, pt, error))
        return NULL;
    }
  else
    {
      const gint k[3] = { 3, 7, 7 }, s[3] = { 1, 2, 2 }, p[3] = { 1, 3, 3 };
      if (!stem_unit (stem, 3, 64, k, s, p, error))
        return NULL;
    }
  return g_steal_pointer (&stem);
}

/* VideoResNet._make_layer. */
static MactModule *
make_layer (MactTvVideoConv conv, gint *inplanes, gint planes, gint blocks, gint stride,
            GError **error)
{
  g_autoptr(MactModule) downsample = NULL;
  if (stride != 1 || *inplanes != planes)
    {
      gint ds_stride[3];
      const gint k[3] = { 1, 1, 1 };
      mact_tv_video_conv_downsample_stride (conv, stride, ds_stride);
      g_autoptr(MactModule) ds_conv = mact_conv_new (3, *inplanes, planes, k, ds_stride, NULL,
                                                     NULL, 1, FALSE, error);
      if (ds_conv == NULL)
        return NULL;
      g_autoptr(MactModule) ds_bn = mact_tv_batch_norm_new (3, planes, &mact_tv_bn_default,
                                                            error);
      if (ds_bn == NULL)
        return NULL;
      downsample = mact_sequential_new ();
      mact_sequential_append (MACT_SEQUENTIAL (downsample), ds_conv);
      mact_sequential_append (MACT_SEQUENTIAL (downsample), ds_bn);
    }
  g_autoptr(MactModule) layer = mact_sequential_new ();
  for (gint b = 0; b < blocks; b++)
    {
      g_autoptr(MactModule) block =
        mact_tv_video_basic_block_new (*inplanes, planes, conv, b == 0 ? stride : 1,
                                       b == 0 ? downsample : NULL, error);
      if (block == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (layer), block);
      *inplanes = planes;
    }
  return g_steal_pointer (&layer);
}

static gboolean
mact_tv_video_resnet_build_model (MactTvModel *model, GError **error)
{
  MactTvVideoResNet *self = MACT_TV_VIDEO_RESNET (model);
  MactTvVideoResNetPrivate *priv = mact_tv_video_resnet_get_instance_private (self);
  const MactTvVideoResNetArch *arch = MACT_TV_VIDEO_RESNET_GET_CLASS (self)->arch;
  MactModule *module = MACT_MODULE (model);

  if (priv->num_classes < 1)
    return mact_tv_model_invalid (model, error, "num_classes must be positive, got %d",
                                  priv->num_classes);

  g_autoptr(MactModule) stem = make_stem (arch, error);
  if (stem == NULL)
    return FALSE;
  mact_module_add_child (module, "stem", stem);
  gint inplanes = 64;
  for (gint i = 0; i < 4; i++)
    {
      g_autoptr(MactModule) layer = make_layer (arch->conv_makers[i], &inplanes, 64 << i,
                                                stage_blocks[i], i == 0 ? 1 : 2, error);
      if (layer == NULL)
        return FALSE;
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, name, layer);
    }
  const gint64 one[3] = { 1, 1, 1 };
  g_autoptr(MactModule) avgpool = mact_adaptive_avg_pool_new (3, one, error);
  if (avgpool == NULL)
    return FALSE;
  g_autoptr(MactModule) fc = mact_linear_new (inplanes, priv->num_classes, TRUE, error);
  if (fc == NULL)
    return FALSE;
  mact_module_add_child (module, "avgpool", avgpool);
  mact_module_add_child (module, "fc", fc);
  return TRUE;
}

static GPtrArray *
mact_tv_video_resnet_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  static const char *const head[] = { "fc", NULL };
  MactTensor *x = mact_tv_model_check_input (MACT_TV_MODEL (module), inputs, 5, error);
  if (x == NULL)
    return NULL;
  g_autoptr(MactTensor) pooled = mact_tv_run_children (module, forward_order, x, error);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (pooled, 1, -1, error);
  if (flat == NULL)
    return NULL;
  MactTensor *y = mact_tv_run_children (module, head, flat, error);
  return y != NULL ? mact_tv_single_output (y) : NULL;
}

static gboolean
mact_tv_video_resnet_init_weights (MactModule *module, MactGenerator *generator,
                                   GError **error)
{
  return mact_tv_init_weights (module, MACT_TV_INIT_CLASSIFIER, generator, error);
}

static void
mact_tv_video_resnet_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  MactTvVideoResNetPrivate *priv =
    mact_tv_video_resnet_get_instance_private (MACT_TV_VIDEO_RESNET (object));

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      priv->num_classes = g_value_get_int (value);
      break;
    case PROP_ZERO_INIT_RESIDUAL:
      priv->zero_init_residual = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_video_resnet_get_property (GObject *object, guint prop_id, GValue *value,
                                   GParamSpec *pspec)
{
  MactTvVideoResNetPrivate *priv =
    mact_tv_video_resnet_get_instance_private (MACT_TV_VIDEO_RESNET (object));

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_int (value, priv->num_classes);
      break;
    case PROP_ZERO_INIT_RESIDUAL:
      g_value_set_boolean (value, priv->zero_init_residual);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_video_resnet_class_init (MactTvVideoResNetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_tv_video_resnet_set_property;
  object_class->get_property = mact_tv_video_resnet_get_property;
  MACT_MODULE_CLASS (klass)->forward = mact_tv_video_resnet_forward;
  MACT_MODULE_CLASS (klass)->init_weights = mact_tv_video_resnet_init_weights;
  MACT_TV_MODEL_CLASS (klass)->build_model = mact_tv_video_resnet_build_model;

  /**
   * MactTvVideoResNet:num-classes:
   *
   * The outputs of `fc` (Kinetics-400 by default).
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_int ("num-classes", NULL, NULL, G_MININT, G_MAXINT, 400, flags);
  /**
   * MactTvVideoResNet:zero-init-residual:
   *
   * Accepted for compatibility and, as in torchvision, without effect on these
   * BasicBlock networks.
   */
  properties[PROP_ZERO_INIT_RESIDUAL] =
    g_param_spec_boolean ("zero-init-residual", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_tv_video_resnet_init (MactTvVideoResNet *self)
{
}

static void
variant_class_init (gpointer klass, gpointer class_data)
{
  MACT_TV_VIDEO_RESNET_CLASS (klass)->arch = class_data;
}

/**
 * mact_tv_video_resnet_variant_get_type:
 * @builder: "r3d_18", "mc3_18" or "r2plus1d_18"
 *
 * Returns: the type of the builder's model, or %G_TYPE_INVALID for an unknown builder
 */
GType
mact_tv_video_resnet_variant_get_type (const char *builder)
{
  for (gsize i = 0; i < G_N_ELEMENTS (archs); i++)
    if (g_str_equal (archs[i].builder, builder))
      return mact_tv_model_register_variant (MACT_TV_TYPE_VIDEO_RESNET, archs[i].gtype_name,
                                             variant_class_init, &archs[i]);
  return G_TYPE_INVALID;
}
