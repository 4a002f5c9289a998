/* mact-cls-resnext.c: mmcls's ResNeXt backbone (mmcls/models/backbones/resnext.py),
 * registered as "cls.ResNeXt" (also "mmcls.ResNeXt").
 *
 * A ResNet whose Bottlenecks have a grouped conv2: groups (the cardinality) of
 * width_per_group channels at the first stage, doubling each stage ("32x4d" is groups 32,
 * width_per_group 4).  Depths 50, 101 and 152 only, as mmcls's arch_settings.  Every
 * ResNet argument applies; the keys are ResNet's. */
#include "mact-cls-resnext.h"
#include "mact-cls-utils.h"

struct _MactClsResNeXt
{
  MactClsResNet parent_instance;

  gint          groups;
  gint          width_per_group;
};

G_DEFINE_FINAL_TYPE (MactClsResNeXt, mact_cls_resnext, MACT_CLS_TYPE_RESNET)

enum {
  PROP_0,
  PROP_GROUPS,
  PROP_WIDTH_PER_GROUP,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static void
mact_cls_resnext_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  MactClsResNeXt *self = MACT_CLS_RESNEXT (object);
  switch (prop_id)
    {
    case PROP_GROUPS:
      self->groups = g_value_get_int (value);
      break;
    case PROP_WIDTH_PER_GROUP:
      self->width_per_group = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_cls_resnext_get_property (GObject *object, guint prop_id, GValue *value,
                               GParamSpec *pspec)
{
  MactClsResNeXt *self = MACT_CLS_RESNEXT (object);
  switch (prop_id)
    {
    case PROP_GROUPS:
      g_value_set_int (value, self->groups);
      break;
    case PROP_WIDTH_PER_GROUP:
      g_value_set_int (value, self->width_per_group);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
mact_cls_resnext_build (MactModule *module, GError **error)
{
  MactClsResNeXt *self = MACT_CLS_RESNEXT (module);

  if (self->groups < 1 || self->width_per_group < 1)
    return mact_cls_invalid_argument (error, "ResNeXt", "groups (%d) and width_per_group "
                                      "(%d) must be positive", self->groups,
                                      self->width_per_group);
  return MACT_MODULE_CLASS (mact_cls_resnext_parent_class)->build (module, error);
}

static void
mact_cls_resnext_get_groups (MactClsResNet *resnet, gint *groups, gint *width_per_group)
{
  MactClsResNeXt *self = MACT_CLS_RESNEXT (resnet);
  *groups = self->groups;
  *width_per_group = self->width_per_group;
}

static void
mact_cls_resnext_class_init (MactClsResNeXtClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactClsResNetClass *resnet_class = MACT_CLS_RESNET_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_cls_resnext_set_property;
  object_class->get_property = mact_cls_resnext_get_property;
  MACT_MODULE_CLASS (klass)->build = mact_cls_resnext_build;
  resnet_class->block_name = "ResNeXt";
  resnet_class->bottleneck_only = TRUE;
  resnet_class->get_groups = mact_cls_resnext_get_groups;

  /**
   * MactClsResNeXt:groups:
   *
   * Groups of the Bottlenecks' 3x3 conv (the cardinality).
   */
  properties[PROP_GROUPS] =
    g_param_spec_int ("groups", NULL, NULL, G_MININT, G_MAXINT, 32, flags);
  /**
   * MactClsResNeXt:width-per-group:
   *
   * Channels of each group at the first stage (doubling every stage).
   */
  properties[PROP_WIDTH_PER_GROUP] =
    g_param_spec_int ("width-per-group", NULL, NULL, G_MININT, G_MAXINT, 4, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_cls_resnext_init (MactClsResNeXt *self)
{
}
