/* mact-tv-resnet.c: torchvision's ResNet (torchvision/models/resnet.py), registered once
 * per builder: tv.resnet18, tv.resnet34 (BasicBlock), tv.resnet50, tv.resnet101,
 * tv.resnet152 and tv.resnext50_32x4d (Bottleneck).
 *
 * Children as torchvision names them: conv1 (7x7/2, no bias), bn1, relu, maxpool (3x3/2),
 * layer1 .. layer4 (Sequentials of blocks "0", "1", ...; the first block of a stage has a
 * `downsample` Sequential of a 1x1 conv and a batch norm when the shape changes), avgpool
 * (adaptive, 1x1) and fc.  forward is torchvision's: the logits [N, num_classes].
 *
 * Arguments are the builders' (the ResNet class's keyword arguments): num_classes,
 * zero_init_residual, groups, width_per_group, replace_stride_with_dilation, plus the
 * base's weights/progress/pretrained.  norm_layer is not configurable (BatchNorm2d).  As
 * in torchvision, resnext50_32x4d fixes groups=32 and width_per_group=4 and refuses other
 * values, and BasicBlock networks refuse groups != 1, width_per_group != 64 and dilation. */
#include "mact-tv-resnet.h"
#include "mact-tv-layers.h"
#include "mact-tv-residual-block.h"

struct _MactTvResNetArch
{
  const char *builder;
  const char *gtype_name;
  gboolean    bottleneck;
  gint        layers[4];
  /* The builder's groups / width_per_group; fixed ones refuse other values. */
  gint        groups;
  gint        width_per_group;
  gboolean    fixed_width;
};

static const MactTvResNetArch archs[] = {
  { "resnet18",        "MactTvResnet18",       FALSE, { 2, 2, 2, 2 },  1, 64, FALSE },
  { "resnet34",        "MactTvResnet34",       FALSE, { 3, 4, 6, 3 },  1, 64, FALSE },
  { "resnet50",        "MactTvResnet50",       TRUE,  { 3, 4, 6, 3 },  1, 64, FALSE },
  { "resnet101",       "MactTvResnet101",      TRUE,  { 3, 4, 23, 3 }, 1, 64, FALSE },
  { "resnet152",       "MactTvResnet152",      TRUE,  { 3, 8, 36, 3 }, 1, 64, FALSE },
  { "resnext50_32x4d", "MactTvResnext50_32x4d", TRUE, { 3, 4, 6, 3 },  32, 4, TRUE },
};

typedef struct {
  gint      num_classes;
  gboolean  zero_init_residual;
  gint      groups;
  gint      width_per_group;
  GVariant *replace_stride_with_dilation;
} MactTvResNetPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MactTvResNet, mact_tv_resnet, MACT_TV_TYPE_MODEL)

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_ZERO_INIT_RESIDUAL,
  PROP_GROUPS,
  PROP_WIDTH_PER_GROUP,
  PROP_REPLACE_STRIDE_WITH_DILATION,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static const char *const forward_order[] = {
  "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", NULL
};

/* Resolves an argument the builder may fix (-1: not given). */
static gboolean
resolve_width_arg (MactTvResNet *self, const char *name, gint given, gint builder_value,
                   gboolean fixed, gint *out, GError **error)
{
  if (given < 0)
    {
      *out = builder_value;
      return TRUE;
    }
  if (fixed && given != builder_value)
    return mact_tv_model_invalid (MACT_TV_MODEL (self), error,
                                  "the parameter '%s' expected value %d but got %d instead",
                                  name, builder_value, given);
  if (given < 1)
    return mact_tv_model_invalid (MACT_TV_MODEL (self), error,
                                  "%s must be positive, got %d", name, given);
  *out = given;
  return TRUE;
}

/* torchvision's ResNet._make_layer; @inplanes and @dilation are the network's running
 * values, updated as torchvision updates self.inplanes and self.dilation. */
static MactModule *
make_layer (MactTvResNet *self, const MactTvResNetArch *arch, gint *inplanes, gint *dilation,
            gint planes, gint blocks, gint stride, gboolean dilate, gint groups,
            gint base_width, GError **error)
{
  const gint expansion = arch->bottleneck ? MACT_TV_BOTTLENECK_EXPANSION : 1;
  const gint previous_dilation = *dilation;
  if (dilate)
    {
      *dilation *= stride;
      stride = 1;
    }

  g_autoptr(MactModule) downsample = NULL;
  if (stride != 1 || *inplanes != planes * expansion)
    {
      const gint k[2] = { 1, 1 }, s[2] = { stride, stride };
      g_autoptr(MactModule) conv = mact_conv_new (2, *inplanes, planes * expansion, k, s, NULL,
                                                  NULL, 1, FALSE, error);
      if (conv == NULL)
        return NULL;
      g_autoptr(MactModule) bn = mact_tv_batch_norm_new (2, planes * expansion,
                                                         &mact_tv_bn_default, error);
      if (bn == NULL)
        return NULL;
      downsample = mact_sequential_new ();
      mact_sequential_append (MACT_SEQUENTIAL (downsample), conv);
      mact_sequential_append (MACT_SEQUENTIAL (downsample), bn);
    }

  g_autoptr(MactModule) layer = mact_sequential_new ();
  for (gint b = 0; b < blocks; b++)
    {
      const gint block_dilation = b == 0 ? previous_dilation : *dilation;
      g_autoptr(MactModule) block = NULL;
      if (arch->bottleneck)
        block = mact_tv_bottleneck_new (*inplanes, planes, b == 0 ? stride : 1,
                                        b == 0 ? downsample : NULL, groups, base_width,
                                        block_dilation, error);
      else if (block_dilation > 1)
        {
          mact_tv_model_invalid (MACT_TV_MODEL (self), error,
                                 "dilation > 1 not supported in BasicBlock "
                                 "(replace_stride_with_dilation must be all false)");
          return NULL;
        }
      else
        block = mact_tv_basic_block_new (*inplanes, planes, b == 0 ? stride : 1,
                                         b == 0 ? downsample : NULL, 1, error);
      if (block == NULL)
        return NULL;
      mact_sequential_append (MACT_SEQUENTIAL (layer), block);
      *inplanes = planes * expansion;
    }
  return g_steal_pointer (&layer);
}

static gboolean
mact_tv_resnet_build_model (MactTvModel *model, GError **error)
{
  MactTvResNet *self = MACT_TV_RESNET (model);
  MactTvResNetPrivate *priv = mact_tv_resnet_get_instance_private (self);
  MactModule *module = MACT_MODULE (model);
  const MactTvResNetArch *arch = MACT_TV_RESNET_GET_CLASS (self)->arch;
  gboolean dilate[3] = { FALSE, FALSE, FALSE };
  gint groups = 1, width = 64;

  if (priv->num_classes < 1)
    return mact_tv_model_invalid (model, error, "num_classes must be positive, got %d",
                                  priv->num_classes);
  if (!resolve_width_arg (self, "groups", priv->groups, arch->groups, arch->fixed_width,
                          &groups, error) ||
      !resolve_width_arg (self, "width_per_group", priv->width_per_group,
                          arch->width_per_group, arch->fixed_width, &width, error))
    return FALSE;
  priv->groups = groups;
  priv->width_per_group = width;
  if (!arch->bottleneck && (groups != 1 || width != 64))
    return mact_tv_model_invalid (model, error,
                                  "BasicBlock only supports groups=1 and base_width=64, got "
                                  "groups=%d and width_per_group=%d", groups, width);
  if (priv->replace_stride_with_dilation != NULL)
    {
      gsize n = g_variant_n_children (priv->replace_stride_with_dilation);
      if (n != 3)
        return mact_tv_model_invalid (model, error,
                                      "replace_stride_with_dilation should be None or a "
                                      "3-element tuple, got %" G_GSIZE_FORMAT " elements", n);
      for (gsize i = 0; i < 3; i++)
        g_variant_get_child (priv->replace_stride_with_dilation, i, "b", &dilate[i]);
    }

  const gint k7[2] = { 7, 7 }, s2[2] = { 2, 2 }, p3[2] = { 3, 3 };
  g_autoptr(MactModule) conv1 = mact_conv_new (2, 3, 64, k7, s2, p3, NULL, 1, FALSE, error);
  if (conv1 == NULL)
    return FALSE;
  g_autoptr(MactModule) bn1 = mact_tv_batch_norm_new (2, 64, &mact_tv_bn_default, error);
  if (bn1 == NULL)
    return FALSE;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  const gint k3[2] = { 3, 3 }, p1[2] = { 1, 1 };
  g_autoptr(MactModule) maxpool = mact_max_pool_new (2, k3, s2, p1, FALSE, error);
  if (maxpool == NULL)
    return FALSE;
  mact_module_add_child (module, "conv1", conv1);
  mact_module_add_child (module, "bn1", bn1);
  mact_module_add_child (module, "relu", relu);
  mact_module_add_child (module, "maxpool", maxpool);

  gint inplanes = 64, dilation = 1;
  for (gint i = 0; i < 4; i++)
    {
      g_autoptr(MactModule) layer = make_layer (self, arch, &inplanes, &dilation, 64 << i,
                                                arch->layers[i], i == 0 ? 1 : 2,
                                                i == 0 ? FALSE : dilate[i - 1], groups, width,
                                                error);
      if (layer == NULL)
        return FALSE;
      g_autofree char *name = g_strdup_printf ("layer%d", i + 1);
      mact_module_add_child (module, name, layer);
    }

  const gint64 one[2] = { 1, 1 };
  g_autoptr(MactModule) avgpool = mact_adaptive_avg_pool_new (2, one, error);
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
mact_tv_resnet_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTensor *x = mact_tv_model_check_input (MACT_TV_MODEL (module), inputs, 4, error);
  if (x == NULL)
    return NULL;
  g_autoptr(MactTensor) pooled = mact_tv_run_children (module, forward_order, x, error);
  if (pooled == NULL)
    return NULL;
  g_autoptr(MactTensor) flat = mact_tensor_flatten (pooled, 1, -1, error);
  if (flat == NULL)
    return NULL;
  static const char *const head[] = { "fc", NULL };
  MactTensor *y = mact_tv_run_children (module, head, flat, error);
  return y != NULL ? mact_tv_single_output (y) : NULL;
}

static gboolean
mact_tv_resnet_init_weights (MactModule *module, MactGenerator *generator, GError **error)
{
  MactTvResNetPrivate *priv = mact_tv_resnet_get_instance_private (MACT_TV_RESNET (module));

  if (!mact_tv_init_weights (module, MACT_TV_INIT_RESNET, generator, error))
    return FALSE;
  if (!priv->zero_init_residual)
    return TRUE;
  /* Each residual branch starts as zero: the last batch norm of every block (bn3 of a
   * Bottleneck, bn2 of a BasicBlock) gets weight 0. */
  for (gint i = 1; i <= 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("layer%d", i);
      MactModule *layer = mact_module_get_child (module, name);
      if (layer == NULL)
        continue;
      g_auto(GStrv) blocks = mact_module_list_children (layer);
      for (guint b = 0; blocks[b] != NULL; b++)
        {
          MactModule *block = mact_module_get_child (layer, blocks[b]);
          MactModule *bn = mact_module_get_child (block, "bn3");
          if (bn == NULL)
            bn = mact_module_get_child (block, "bn2");
          MactTensor *weight = bn != NULL ? mact_module_get_parameter (bn, "weight") : NULL;
          if (weight != NULL)
            mact_tensor_fill (weight, 0.0f);
        }
    }
  return TRUE;
}

static void
mact_tv_resnet_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  MactTvResNetPrivate *priv = mact_tv_resnet_get_instance_private (MACT_TV_RESNET (object));

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      priv->num_classes = g_value_get_int (value);
      break;
    case PROP_ZERO_INIT_RESIDUAL:
      priv->zero_init_residual = g_value_get_boolean (value);
      break;
    case PROP_GROUPS:
      priv->groups = g_value_get_int (value);
      break;
    case PROP_WIDTH_PER_GROUP:
      priv->width_per_group = g_value_get_int (value);
      break;
    case PROP_REPLACE_STRIDE_WITH_DILATION:
      g_clear_pointer (&priv->replace_stride_with_dilation, g_variant_unref);
      priv->replace_stride_with_dilation = g_value_dup_variant (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_resnet_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactTvResNetPrivate *priv = mact_tv_resnet_get_instance_private (MACT_TV_RESNET (object));

  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_int (value, priv->num_classes);
      break;
    case PROP_ZERO_INIT_RESIDUAL:
      g_value_set_boolean (value, priv->zero_init_residual);
      break;
    case PROP_GROUPS:
      g_value_set_int (value, priv->groups);
      break;
    case PROP_WIDTH_PER_GROUP:
      g_value_set_int (value, priv->width_per_group);
      break;
    case PROP_REPLACE_STRIDE_WITH_DILATION:
      g_value_set_variant (value, priv->replace_stride_with_dilation);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_tv_resnet_finalize (GObject *object)
{
  MactTvResNetPrivate *priv = mact_tv_resnet_get_instance_private (MACT_TV_RESNET (object));
  g_clear_pointer (&priv->replace_stride_with_dilation, g_variant_unref);
  G_OBJECT_CLASS (mact_tv_resnet_parent_class)->finalize (object);
}

static void
mact_tv_resnet_class_init (MactTvResNetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_tv_resnet_set_property;
  object_class->get_property = mact_tv_resnet_get_property;
  object_class->finalize = mact_tv_resnet_finalize;
  MACT_MODULE_CLASS (klass)->forward = mact_tv_resnet_forward;
  MACT_MODULE_CLASS (klass)->init_weights = mact_tv_resnet_init_weights;
  MACT_TV_MODEL_CLASS (klass)->build_model = mact_tv_resnet_build_model;

  /**
   * MactTvResNet:num-classes:
   *
   * The outputs of `fc`.
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_int ("num-classes", NULL, NULL, G_MININT, G_MAXINT, 1000, flags);
  /**
   * MactTvResNet:zero-init-residual:
   *
   * Initialise the last batch norm of every block with weight 0, so each block starts as
   * an identity.
   */
  properties[PROP_ZERO_INIT_RESIDUAL] =
    g_param_spec_boolean ("zero-init-residual", NULL, NULL, FALSE, flags);
  /**
   * MactTvResNet:groups:
   *
   * Groups of the Bottleneck's 3x3 conv.  -1 (the default) is the builder's value: 1, or
   * 32 for resnext50_32x4d, which refuses any other.
   */
  properties[PROP_GROUPS] =
    g_param_spec_int ("groups", NULL, NULL, G_MININT, G_MAXINT, -1, flags);
  /**
   * MactTvResNet:width-per-group:
   *
   * Channels per group of the Bottleneck's 3x3 conv.  -1 (the default) is the builder's
   * value: 64, or 4 for resnext50_32x4d, which refuses any other.
   */
  properties[PROP_WIDTH_PER_GROUP] =
    g_param_spec_int ("width-per-group", NULL, NULL, G_MININT, G_MAXINT, -1, flags);
  /**
   * MactTvResNet:replace-stride-with-dilation:
   *
   * Three booleans ("ab"), for layer2 .. layer4: replace the stage's stride 2 by a
   * dilation.  %NULL means none.  BasicBlock networks refuse any.
   */
  properties[PROP_REPLACE_STRIDE_WITH_DILATION] =
    g_param_spec_variant ("replace-stride-with-dilation", NULL, NULL, G_VARIANT_TYPE ("ab"),
                          NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_tv_resnet_init (MactTvResNet *self)
{
}

static void
variant_class_init (gpointer klass, gpointer class_data)
{
  MACT_TV_RESNET_CLASS (klass)->arch = class_data;
}

/**
 * mact_tv_resnet_variant_get_type:
 * @builder: a torchvision builder name ("resnet18", ..., "resnext50_32x4d")
 *
 * Returns: the type of the builder's model, or %G_TYPE_INVALID for an unknown builder
 */
GType
mact_tv_resnet_variant_get_type (const char *builder)
{
  for (gsize i = 0; i < G_N_ELEMENTS (archs); i++)
    if (g_str_equal (archs[i].builder, builder))
      return mact_tv_model_register_variant (MACT_TV_TYPE_RESNET, archs[i].gtype_name,
                                             variant_class_init, &archs[i]);
  return G_TYPE_INVALID;
}
