/* mact-test-blocks.c: the test block types (see mact-test-blocks.h) and their static
 * plugins.  Test-only code, written against the public API exactly as a plugin would be:
 * blocks create their children from mact-layers.h in build() and compute with public ops.
 * Several small classes share this one file because they only exist for the tests. */
#include "mact-test-blocks.h"
#include "mact-test.h"

/* ------------------------------------------------------------------ shared helpers */

/* The construct properties the test blocks use; each class installs the ones it has. */
enum {
  PROP_0,
  PROP_IN_CHANNELS,
  PROP_OUT_CHANNELS,
  PROP_NUM_CLASSES,
  PROP_LOSS_WEIGHT,
};

typedef struct {
  gint   in_channels;
  gint   out_channels;
  gint   num_classes;
  double loss_weight;
} BlockCfg;

static void
cfg_set (BlockCfg *cfg, GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_IN_CHANNELS:
      cfg->in_channels = g_value_get_int (value);
      break;
    case PROP_OUT_CHANNELS:
      cfg->out_channels = g_value_get_int (value);
      break;
    case PROP_NUM_CLASSES:
      cfg->num_classes = g_value_get_int (value);
      break;
    case PROP_LOSS_WEIGHT:
      cfg->loss_weight = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cfg_get (BlockCfg *cfg, GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_IN_CHANNELS:
      g_value_set_int (value, cfg->in_channels);
      break;
    case PROP_OUT_CHANNELS:
      g_value_set_int (value, cfg->out_channels);
      break;
    case PROP_NUM_CLASSES:
      g_value_set_int (value, cfg->num_classes);
      break;
    case PROP_LOSS_WEIGHT:
      g_value_set_double (value, cfg->loss_weight);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Generates the GObject property accessors of a type whose instance has a BlockCfg `cfg`. */
#define TEST_CFG_ACCESSORS(prefix, Type)                                                  \
  static void                                                                             \
  prefix##_set_property (GObject *o, guint id, const GValue *v, GParamSpec *p)            \
  {                                                                                       \
    cfg_set (&((Type *) o)->cfg, o, id, v, p);                                            \
  }                                                                                       \
  static void                                                                             \
  prefix##_get_property (GObject *o, guint id, GValue *v, GParamSpec *p)                  \
  {                                                                                       \
    cfg_get (&((Type *) o)->cfg, o, id, v, p);                                            \
  }

#define CFG_FLAGS (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS)

static void
install_int (GObjectClass *klass, guint prop_id, const char *name, gint minimum, gint dflt)
{
  g_object_class_install_property (klass, prop_id,
                                   g_param_spec_int (name, NULL, NULL, minimum, G_MAXINT,
                                                     dflt, CFG_FLAGS));
}

static void
install_loss_weight (GObjectClass *klass, double dflt)
{
  g_object_class_install_property (klass, PROP_LOSS_WEIGHT,
                                   g_param_spec_double ("loss-weight", NULL, NULL,
                                                        -G_MAXDOUBLE, G_MAXDOUBLE, dflt,
                                                        CFG_FLAGS));
}

static GPtrArray *
tensor_array (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
}

/* An array of one tensor, taking @t (transfer full); NULL passes through. */
static GPtrArray *
single (MactTensor *t)
{
  if (t == NULL)
    return NULL;
  GPtrArray *out = tensor_array ();
  g_ptr_array_add (out, t);
  return out;
}

static gboolean
check_n_inputs (MactModule *self, GPtrArray *inputs, guint min, guint max, GError **error)
{
  if (inputs->len < min || inputs->len > max)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected %u to %u inputs, got %u", G_OBJECT_TYPE_NAME (self),
                   min, max, inputs->len);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_ndim (MactModule *self, MactTensor *x, gint ndim, GError **error)
{
  if (mact_tensor_get_ndim (x) != ndim)
    {
      g_autofree char *s = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected a %d-D input, got %s", G_OBJECT_TYPE_NAME (self), ndim, s);
      return FALSE;
    }
  return TRUE;
}

/* Adds a new child built by a layer constructor; FALSE (error set) when it failed. */
static gboolean
add_child (MactModule *self, const char *name, MactModule *child)
{
  if (child == NULL)
    return FALSE;
  mact_module_add_child (self, name, child);
  g_object_unref (child);
  return TRUE;
}

/* A conv with a cubic kernel of size @k, padding k/2 and the given stride. */
static MactModule *
conv_new (gint dims, gint in, gint out, gint k, const gint *stride, GError **error)
{
  const gint kernel[3] = { k, k, k }, pad[3] = { k / 2, k / 2, k / 2 };
  const gint unit[3] = { 1, 1, 1 };
  return mact_conv_new (dims, in, out, kernel, stride ? stride : unit, pad, unit, 1, TRUE,
                        error);
}

/* relu(child(x)) for a child named @name. */
static MactTensor *
child_relu (MactModule *self, const char *name, MactTensor *x, GError **error)
{
  g_autoptr(MactTensor) y = mact_module_forward1 (mact_module_get_child (self, name), x, error);
  return y ? mact_relu (y) : NULL;
}

/* mean over every dimension from 2 on: [N, C, ...] -> [N, C] */
static MactTensor *
global_mean (MactTensor *x, GError **error)
{
  gint nd = mact_tensor_get_ndim (x);
  gint dims[MACT_MAX_DIMS];
  for (gint d = 2; d < nd; d++)
    dims[d - 2] = d;
  if (nd <= 2)
    return mact_tensor_ref (x);
  return mact_mean (x, nd - 2, dims, FALSE, error);
}

/* ------------------------------------------------------------------ init counting */

static const char *const counted_names[] = {
  "TestBackbone2D", "TestBackbone3D", "TestTupleBackbone3D", "cls.TestNet",
  "tv.testnet", "tv.testresnet", "tv.testmaps",
};
static gint init_counts[G_N_ELEMENTS (counted_names)];

static void
count_init (const char *type_name)
{
  for (guint i = 0; i < G_N_ELEMENTS (counted_names); i++)
    if (g_str_equal (counted_names[i], type_name))
      g_atomic_int_inc (&init_counts[i]);
}

guint
mact_test_blocks_init_count (const char *type_name)
{
  for (guint i = 0; i < G_N_ELEMENTS (counted_names); i++)
    if (g_str_equal (counted_names[i], type_name))
      return (guint) g_atomic_int_get (&init_counts[i]);
  return 0;
}

/* Every backbone's init_weights: count, then the default (every child's). */
#define TEST_COUNTED_INIT_WEIGHTS(prefix, registry_name)                                  \
  static gboolean                                                                         \
  prefix##_init_weights (MactModule *self, MactGenerator *generator, GError **error)      \
  {                                                                                       \
    count_init (registry_name);                                                           \
    return MACT_MODULE_CLASS (prefix##_parent_class)->init_weights (self, generator,      \
                                                                    error);               \
  }

/* ------------------------------------------------------------------ TestBackbone2D/3D */

G_DECLARE_FINAL_TYPE (MactTestBackbone2D, mact_test_backbone_2d, MACT, TEST_BACKBONE_2D,
                      MactBackbone)
struct _MactTestBackbone2D
{
  MactBackbone parent_instance;
  BlockCfg     cfg;
};
G_DEFINE_FINAL_TYPE (MactTestBackbone2D, mact_test_backbone_2d, MACT_TYPE_BACKBONE)
TEST_CFG_ACCESSORS (mact_test_backbone_2d, MactTestBackbone2D)
TEST_COUNTED_INIT_WEIGHTS (mact_test_backbone_2d, "TestBackbone2D")

static gboolean
mact_test_backbone_2d_build (MactModule *module, GError **error)
{
  MactTestBackbone2D *self = MACT_TEST_BACKBONE_2D (module);
  if (!MACT_MODULE_CLASS (mact_test_backbone_2d_parent_class)->build (module, error))
    return FALSE;
  return add_child (module, "conv1",
                    conv_new (2, self->cfg.in_channels, self->cfg.out_channels, 3, NULL, error));
}

static GPtrArray *
mact_test_backbone_2d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (!check_n_inputs (module, inputs, 1, 1, error) ||
      !check_ndim (module, g_ptr_array_index (inputs, 0), 4, error))
    return NULL;
  return single (child_relu (module, "conv1", g_ptr_array_index (inputs, 0), error));
}

static void
mact_test_backbone_2d_class_init (MactTestBackbone2DClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = mact_test_backbone_2d_set_property;
  object_class->get_property = mact_test_backbone_2d_get_property;
  module_class->build = mact_test_backbone_2d_build;
  module_class->forward = mact_test_backbone_2d_forward;
  module_class->init_weights = mact_test_backbone_2d_init_weights;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 3);
  install_int (object_class, PROP_OUT_CHANNELS, "out-channels", 1, 8);
}

static void
mact_test_backbone_2d_init (MactTestBackbone2D *self)
{
  self->cfg.in_channels = 3;
  self->cfg.out_channels = 8;
}

G_DECLARE_FINAL_TYPE (MactTestBackbone3D, mact_test_backbone_3d, MACT, TEST_BACKBONE_3D,
                      MactBackbone)
struct _MactTestBackbone3D
{
  MactBackbone parent_instance;
  BlockCfg     cfg;
};
G_DEFINE_FINAL_TYPE (MactTestBackbone3D, mact_test_backbone_3d, MACT_TYPE_BACKBONE)
TEST_CFG_ACCESSORS (mact_test_backbone_3d, MactTestBackbone3D)
TEST_COUNTED_INIT_WEIGHTS (mact_test_backbone_3d, "TestBackbone3D")

static gboolean
mact_test_backbone_3d_build (MactModule *module, GError **error)
{
  MactTestBackbone3D *self = MACT_TEST_BACKBONE_3D (module);
  if (!MACT_MODULE_CLASS (mact_test_backbone_3d_parent_class)->build (module, error))
    return FALSE;
  return add_child (module, "conv1",
                    conv_new (3, self->cfg.in_channels, self->cfg.out_channels, 3, NULL, error));
}

static GPtrArray *
mact_test_backbone_3d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (!check_n_inputs (module, inputs, 1, 1, error) ||
      !check_ndim (module, g_ptr_array_index (inputs, 0), 5, error))
    return NULL;
  return single (child_relu (module, "conv1", g_ptr_array_index (inputs, 0), error));
}

static void
mact_test_backbone_3d_class_init (MactTestBackbone3DClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = mact_test_backbone_3d_set_property;
  object_class->get_property = mact_test_backbone_3d_get_property;
  module_class->build = mact_test_backbone_3d_build;
  module_class->forward = mact_test_backbone_3d_forward;
  module_class->init_weights = mact_test_backbone_3d_init_weights;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 3);
  install_int (object_class, PROP_OUT_CHANNELS, "out-channels", 1, 8);
}

static void
mact_test_backbone_3d_init (MactTestBackbone3D *self)
{
  self->cfg.in_channels = 3;
  self->cfg.out_channels = 8;
}

/* ------------------------------------------------------------------ TestTupleBackbone3D */

G_DECLARE_FINAL_TYPE (MactTestTupleBackbone3D, mact_test_tuple_backbone_3d, MACT,
                      TEST_TUPLE_BACKBONE_3D, MactBackbone)
struct _MactTestTupleBackbone3D
{
  MactBackbone parent_instance;
  BlockCfg     cfg;
};
G_DEFINE_FINAL_TYPE (MactTestTupleBackbone3D, mact_test_tuple_backbone_3d, MACT_TYPE_BACKBONE)
TEST_CFG_ACCESSORS (mact_test_tuple_backbone_3d, MactTestTupleBackbone3D)
TEST_COUNTED_INIT_WEIGHTS (mact_test_tuple_backbone_3d, "TestTupleBackbone3D")

static gboolean
mact_test_tuple_backbone_3d_build (MactModule *module, GError **error)
{
  MactTestTupleBackbone3D *self = MACT_TEST_TUPLE_BACKBONE_3D (module);
  const gint fast_stride[] = { 1, 2, 2 };
  if (!MACT_MODULE_CLASS (mact_test_tuple_backbone_3d_parent_class)->build (module, error))
    return FALSE;
  return add_child (module, "slow", conv_new (3, self->cfg.in_channels, 8, 3, NULL, error)) &&
         add_child (module, "fast",
                    conv_new (3, self->cfg.in_channels, 4, 3, fast_stride, error));
}

static GPtrArray *
mact_test_tuple_backbone_3d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (!check_n_inputs (module, inputs, 1, 1, error) ||
      !check_ndim (module, g_ptr_array_index (inputs, 0), 5, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  g_autoptr(MactTensor) slow = child_relu (module, "slow", x, error);
  g_autoptr(MactTensor) fast = slow ? child_relu (module, "fast", x, error) : NULL;
  if (fast == NULL)
    return NULL;
  GPtrArray *out = tensor_array ();
  g_ptr_array_add (out, g_steal_pointer (&slow));
  g_ptr_array_add (out, g_steal_pointer (&fast));
  return out;
}

static void
mact_test_tuple_backbone_3d_class_init (MactTestTupleBackbone3DClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = mact_test_tuple_backbone_3d_set_property;
  object_class->get_property = mact_test_tuple_backbone_3d_get_property;
  module_class->build = mact_test_tuple_backbone_3d_build;
  module_class->forward = mact_test_tuple_backbone_3d_forward;
  module_class->init_weights = mact_test_tuple_backbone_3d_init_weights;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 3);
}

static void
mact_test_tuple_backbone_3d_init (MactTestTupleBackbone3D *self)
{
  self->cfg.in_channels = 3;
}

/* ------------------------------------------------------------------ heads */

/* The fc_cls every test head has: Linear(in_channels, num_classes) from the base. */
static gboolean
head_build_fc (MactModule *module, GError **error)
{
  MactHead *head = MACT_HEAD (module);
  return add_child (module, "fc_cls",
                    mact_linear_new (mact_head_get_in_channels (head),
                                     mact_head_get_num_classes (head), TRUE, error));
}

static MactTensor *
head_fc (MactHead *self, MactTensor *x, GError **error)
{
  return mact_module_forward1 (mact_module_get_child (MACT_MODULE (self), "fc_cls"), x, error);
}

/* [B, C] features must have in_channels columns; a nicer message than the linear's. */
static gboolean
head_check_channels (MactHead *self, MactTensor *x, GError **error)
{
  if (mact_tensor_get_size (x, 1) != mact_head_get_in_channels (self))
    {
      g_autofree char *s = mact_tensor_shape_to_string (x);
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: features %s do not have in_channels = %d channels",
                   G_OBJECT_TYPE_NAME (self), s, mact_head_get_in_channels (self));
      return FALSE;
    }
  return TRUE;
}

G_DECLARE_FINAL_TYPE (MactTestHead2D, mact_test_head_2d, MACT, TEST_HEAD_2D, MactHead)
struct _MactTestHead2D
{
  MactHead parent_instance;
};
G_DEFINE_FINAL_TYPE (MactTestHead2D, mact_test_head_2d, MACT_TYPE_HEAD)

static gboolean
mact_test_head_2d_build (MactModule *module, GError **error)
{
  return MACT_MODULE_CLASS (mact_test_head_2d_parent_class)->build (module, error) &&
         head_build_fc (module, error);
}

static MactTensor *
mact_test_head_2d_forward_head (MactHead *self, GPtrArray *inputs, gint num_segs,
                                GError **error)
{
  if (!check_n_inputs (MACT_MODULE (self), inputs, 1, 1, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  if (!check_ndim (MACT_MODULE (self), x, 4, error))
    return NULL;
  /* [B, C, H, W] -> [B, C] -> [N, segs, C] -> mean over segs (AvgConsensus) -> fc */
  g_autoptr(MactTensor) pooled = global_mean (x, error);
  if (pooled == NULL || !head_check_channels (self, pooled, error))
    return NULL;
  const gint64 shape[] = { -1, MAX (num_segs, 1), mact_tensor_get_size (pooled, 1) };
  g_autoptr(MactTensor) grouped = mact_tensor_reshape (pooled, 3, shape, error);
  const gint dim1[] = { 1 };
  g_autoptr(MactTensor) consensus = grouped ? mact_mean (grouped, 1, dim1, FALSE, error) : NULL;
  return consensus ? head_fc (self, consensus, error) : NULL;
}

static void
mact_test_head_2d_class_init (MactTestHead2DClass *klass)
{
  MACT_MODULE_CLASS (klass)->build = mact_test_head_2d_build;
  MACT_HEAD_CLASS (klass)->forward_head = mact_test_head_2d_forward_head;
}

static void
mact_test_head_2d_init (MactTestHead2D *self)
{
}

G_DECLARE_FINAL_TYPE (MactTestHead3D, mact_test_head_3d, MACT, TEST_HEAD_3D, MactHead)
struct _MactTestHead3D
{
  MactHead parent_instance;
};
G_DEFINE_FINAL_TYPE (MactTestHead3D, mact_test_head_3d, MACT_TYPE_HEAD)

static gboolean
mact_test_head_3d_build (MactModule *module, GError **error)
{
  return MACT_MODULE_CLASS (mact_test_head_3d_parent_class)->build (module, error) &&
         head_build_fc (module, error);
}

static MactTensor *
mact_test_head_3d_forward_head (MactHead *self, GPtrArray *inputs, gint num_segs,
                                GError **error)
{
  if (!check_n_inputs (MACT_MODULE (self), inputs, 1, 4, error))
    return NULL;
  /* Pool every pathway to [B, C_i] and concatenate, as SlowFastHead does. */
  g_autoptr(GPtrArray) pooled = tensor_array ();
  for (guint i = 0; i < inputs->len; i++)
    {
      MactTensor *x = g_ptr_array_index (inputs, i);
      if (!check_ndim (MACT_MODULE (self), x, 5, error))
        return NULL;
      MactTensor *p = global_mean (x, error);
      if (p == NULL)
        return NULL;
      g_ptr_array_add (pooled, p);
    }
  g_autoptr(MactTensor) joined = mact_cat ((MactTensor **) pooled->pdata, pooled->len, 1, error);
  if (joined == NULL || !head_check_channels (self, joined, error))
    return NULL;
  return head_fc (self, joined, error);
}

static void
mact_test_head_3d_class_init (MactTestHead3DClass *klass)
{
  MACT_MODULE_CLASS (klass)->build = mact_test_head_3d_build;
  MACT_HEAD_CLASS (klass)->forward_head = mact_test_head_3d_forward_head;
}

static void
mact_test_head_3d_init (MactTestHead3D *self)
{
}

G_DECLARE_FINAL_TYPE (MactTestFlatHead, mact_test_flat_head, MACT, TEST_FLAT_HEAD, MactHead)
struct _MactTestFlatHead
{
  MactHead parent_instance;
};
G_DEFINE_FINAL_TYPE (MactTestFlatHead, mact_test_flat_head, MACT_TYPE_HEAD)

static gboolean
mact_test_flat_head_build (MactModule *module, GError **error)
{
  return MACT_MODULE_CLASS (mact_test_flat_head_parent_class)->build (module, error) &&
         head_build_fc (module, error);
}

static MactTensor *
mact_test_flat_head_forward_head (MactHead *self, GPtrArray *inputs, gint num_segs,
                                  GError **error)
{
  if (!check_n_inputs (MACT_MODULE (self), inputs, 1, 1, error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  g_autoptr(MactTensor) flat = mact_tensor_get_ndim (x) > 2
                               ? mact_tensor_flatten (x, 1, -1, error) : mact_tensor_ref (x);
  if (flat == NULL || !head_check_channels (self, flat, error))
    return NULL;
  return head_fc (self, flat, error);
}

static void
mact_test_flat_head_class_init (MactTestFlatHeadClass *klass)
{
  MACT_MODULE_CLASS (klass)->build = mact_test_flat_head_build;
  MACT_HEAD_CLASS (klass)->forward_head = mact_test_flat_head_forward_head;
}

static void
mact_test_flat_head_init (MactTestFlatHead *self)
{
}

/* ------------------------------------------------------------------ TestNeck */

G_DECLARE_FINAL_TYPE (MactTestNeck, mact_test_neck, MACT, TEST_NECK, MactNeck)
struct _MactTestNeck
{
  MactNeck parent_instance;
  BlockCfg cfg;
};
G_DEFINE_FINAL_TYPE (MactTestNeck, mact_test_neck, MACT_TYPE_NECK)
TEST_CFG_ACCESSORS (mact_test_neck, MactTestNeck)

static gboolean
mact_test_neck_build (MactModule *module, GError **error)
{
  MactTestNeck *self = MACT_TEST_NECK (module);
  if (!MACT_MODULE_CLASS (mact_test_neck_parent_class)->build (module, error))
    return FALSE;
  if (self->cfg.num_classes == 0)
    return TRUE;
  return add_child (module, "aux_fc",
                    mact_linear_new (self->cfg.in_channels, self->cfg.num_classes, TRUE, error));
}

static GPtrArray *
mact_test_neck_forward_neck (MactNeck *neck, GPtrArray *inputs, MactTensor *target,
                             MactTensorDict *aux_losses, GError **error)
{
  MactTestNeck *self = MACT_TEST_NECK (neck);
  MactModule *module = MACT_MODULE (neck);
  if (!check_n_inputs (module, inputs, 1, 4, error))
    return NULL;
  g_autoptr(GPtrArray) out = tensor_array ();
  const gint time_dim[] = { 2 };
  for (guint i = 0; i < inputs->len; i++)
    {
      MactTensor *x = g_ptr_array_index (inputs, i);
      if (mact_tensor_get_ndim (x) < 3)
        {
          g_autofree char *s = mact_tensor_shape_to_string (x);
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                       "TestNeck: expected inputs [N, C, T, ...], got %s", s);
          return NULL;
        }
      MactTensor *m = mact_mean (x, 1, time_dim, TRUE, error);
      if (m == NULL)
        return NULL;
      g_ptr_array_add (out, m);
    }

  MactModule *aux_fc = mact_module_get_child (module, "aux_fc");
  if (target != NULL && aux_losses != NULL && aux_fc != NULL)
    {
      /* A batch of one arrives as a 0-D label after labels.squeeze(). */
      g_autoptr(MactTensor) y = mact_tensor_get_ndim (target) == 0
                                ? mact_tensor_unsqueeze (target, 0, error)
                                : mact_tensor_ref (target);
      g_autoptr(MactTensor) feat = y ? global_mean (g_ptr_array_index (inputs, inputs->len - 1),
                                                    error) : NULL;
      g_autoptr(MactTensor) logits = feat ? mact_module_forward1 (aux_fc, feat, error) : NULL;
      g_autoptr(MactTensor) ce = logits ? mact_cross_entropy (logits, y, NULL,
                                                              MACT_REDUCTION_MEAN, error)
                                        : NULL;
      if (ce == NULL)
        return NULL;
      g_autoptr(MactTensor) weighted = mact_mul_scalar (ce, (float) self->cfg.loss_weight);
      mact_tensor_dict_insert (aux_losses, "loss_aux", weighted);
    }
  return g_steal_pointer (&out);
}

static void
mact_test_neck_class_init (MactTestNeckClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->set_property = mact_test_neck_set_property;
  object_class->get_property = mact_test_neck_get_property;
  MACT_MODULE_CLASS (klass)->build = mact_test_neck_build;
  MACT_NECK_CLASS (klass)->forward_neck = mact_test_neck_forward_neck;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 8);
  install_int (object_class, PROP_NUM_CLASSES, "num-classes", 0, 0);
  install_loss_weight (object_class, 0.5);
}

static void
mact_test_neck_init (MactTestNeck *self)
{
  self->cfg.in_channels = 8;
  self->cfg.loss_weight = 0.5;
}

/* ------------------------------------------------------------------ losses */

G_DECLARE_FINAL_TYPE (MactTestCELoss, mact_test_ce_loss, MACT, TEST_CE_LOSS, MactLoss)
struct _MactTestCELoss
{
  MactLoss parent_instance;
};
G_DEFINE_FINAL_TYPE (MactTestCELoss, mact_test_ce_loss, MACT_TYPE_LOSS)

static MactTensor *
mact_test_ce_loss_compute (MactLoss *self, MactTensor *cls_score, MactTensor *label,
                           MactTensorDict *kwargs, GError **error)
{
  g_autoptr(MactTensor) ce = mact_cross_entropy (cls_score, label, NULL, MACT_REDUCTION_MEAN,
                                                 error);
  MactTensor *mask = kwargs ? mact_tensor_dict_lookup (kwargs, "mask") : NULL;
  if (ce == NULL || mask == NULL)
    return g_steal_pointer (&ce);
  /* The kwarg shows it reached the loss: the loss is scaled by the mask's mean. */
  g_autoptr(MactTensor) m = mact_mean_all (mask);
  return m ? mact_mul (ce, m, error) : NULL;
}

static void
mact_test_ce_loss_class_init (MactTestCELossClass *klass)
{
  MACT_LOSS_CLASS (klass)->compute = mact_test_ce_loss_compute;
}

static void
mact_test_ce_loss_init (MactTestCELoss *self)
{
}

G_DECLARE_FINAL_TYPE (MactTestBCELoss, mact_test_bce_loss, MACT, TEST_BCE_LOSS, MactLoss)
struct _MactTestBCELoss
{
  MactLoss parent_instance;
};
G_DEFINE_FINAL_TYPE (MactTestBCELoss, mact_test_bce_loss, MACT_TYPE_LOSS)

static MactTensor *
mact_test_bce_loss_compute (MactLoss *self, MactTensor *cls_score, MactTensor *label,
                            MactTensorDict *kwargs, GError **error)
{
  return mact_binary_cross_entropy_with_logits (cls_score, label, NULL, NULL,
                                                MACT_REDUCTION_MEAN, error);
}

static void
mact_test_bce_loss_class_init (MactTestBCELossClass *klass)
{
  MACT_LOSS_CLASS (klass)->compute = mact_test_bce_loss_compute;
}

static void
mact_test_bce_loss_init (MactTestBCELoss *self)
{
}

/* ------------------------------------------------------------------ TestMixup */

G_DECLARE_FINAL_TYPE (MactTestMixup, mact_test_mixup, MACT, TEST_MIXUP, MactBlending)
struct _MactTestMixup
{
  MactBlending parent_instance;
};
G_DEFINE_FINAL_TYPE (MactTestMixup, mact_test_mixup, MACT_TYPE_BLENDING)

/* 0.75 x[i] + 0.25 x[(i + 1) % B], deterministic so tests can compute it by hand. */
static MactTensor *
mix_with_next (MactTensor *x, GError **error)
{
  gint64 b = mact_tensor_get_size (x, 0);
  g_autoptr(MactTensor) rolled = NULL;
  if (b == 1)
    rolled = mact_tensor_ref (x);
  else
    {
      g_autoptr(MactTensor) tail = mact_tensor_narrow (x, 0, 1, b - 1, error);
      g_autoptr(MactTensor) head = tail ? mact_tensor_narrow (x, 0, 0, 1, error) : NULL;
      if (head == NULL)
        return NULL;
      MactTensor *parts[] = { tail, head };
      rolled = mact_cat (parts, 2, 0, error);
      if (rolled == NULL)
        return NULL;
    }
  g_autoptr(MactTensor) a = mact_mul_scalar (x, 0.75f);
  g_autoptr(MactTensor) c = mact_mul_scalar (rolled, 0.25f);
  return mact_add (a, c, error);
}

static gboolean
mact_test_mixup_do_blending (MactBlending *self, MactTensor *imgs, MactTensor *label,
                             MactGenerator *generator, MactTensor **imgs_out,
                             MactTensor **label_out, GError **error)
{
  g_autoptr(MactTensor) x = mix_with_next (imgs, error);
  g_autoptr(MactTensor) y = x ? mix_with_next (label, error) : NULL;
  if (y == NULL)
    return FALSE;
  *imgs_out = g_steal_pointer (&x);
  *label_out = g_steal_pointer (&y);
  return TRUE;
}

static void
mact_test_mixup_class_init (MactTestMixupClass *klass)
{
  MACT_BLENDING_CLASS (klass)->do_blending = mact_test_mixup_do_blending;
}

static void
mact_test_mixup_init (MactTestMixup *self)
{
}

/* ------------------------------------------------------------------ cls.TestNet */

G_DECLARE_FINAL_TYPE (MactTestClsNet, mact_test_cls_net, MACT, TEST_CLS_NET, MactBackbone)
struct _MactTestClsNet
{
  MactBackbone parent_instance;
  BlockCfg     cfg;
};
G_DEFINE_FINAL_TYPE (MactTestClsNet, mact_test_cls_net, MACT_TYPE_BACKBONE)
TEST_CFG_ACCESSORS (mact_test_cls_net, MactTestClsNet)
TEST_COUNTED_INIT_WEIGHTS (mact_test_cls_net, "cls.TestNet")

static gboolean
mact_test_cls_net_build (MactModule *module, GError **error)
{
  MactTestClsNet *self = MACT_TEST_CLS_NET (module);
  if (!MACT_MODULE_CLASS (mact_test_cls_net_parent_class)->build (module, error))
    return FALSE;
  return add_child (module, "conv",
                    conv_new (2, self->cfg.in_channels, self->cfg.out_channels, 3, NULL, error));
}

static GPtrArray *
mact_test_cls_net_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  /* New mmcls backbones return a tuple of stages; here a tuple of one. */
  if (!check_n_inputs (module, inputs, 1, 1, error) ||
      !check_ndim (module, g_ptr_array_index (inputs, 0), 4, error))
    return NULL;
  return single (child_relu (module, "conv", g_ptr_array_index (inputs, 0), error));
}

static void
mact_test_cls_net_class_init (MactTestClsNetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = mact_test_cls_net_set_property;
  object_class->get_property = mact_test_cls_net_get_property;
  module_class->build = mact_test_cls_net_build;
  module_class->forward = mact_test_cls_net_forward;
  module_class->init_weights = mact_test_cls_net_init_weights;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 3);
  install_int (object_class, PROP_OUT_CHANNELS, "out-channels", 1, 8);
}

static void
mact_test_cls_net_init (MactTestClsNet *self)
{
  self->cfg.in_channels = 3;
  self->cfg.out_channels = 8;
}

/* ------------------------------------------------------------------ tv.* */

#define TV_WIDTH 8

G_DECLARE_FINAL_TYPE (MactTestTvNet, mact_test_tv_net, MACT, TEST_TV_NET, MactBackbone)
struct _MactTestTvNet
{
  MactBackbone parent_instance;
  BlockCfg     cfg;
};
G_DEFINE_FINAL_TYPE (MactTestTvNet, mact_test_tv_net, MACT_TYPE_BACKBONE)
TEST_CFG_ACCESSORS (mact_test_tv_net, MactTestTvNet)
TEST_COUNTED_INIT_WEIGHTS (mact_test_tv_net, "tv.testnet")

static gboolean
mact_test_tv_net_build (MactModule *module, GError **error)
{
  MactTestTvNet *self = MACT_TEST_TV_NET (module);
  if (!MACT_MODULE_CLASS (mact_test_tv_net_parent_class)->build (module, error))
    return FALSE;
  MactModule *conv = conv_new (2, self->cfg.in_channels, TV_WIDTH, 3, NULL, error);
  if (conv == NULL)
    return FALSE;
  /* torchvision's densenet/mobilenet/vgg shape: features (convs and activations), then
   * classifier. */
  g_autoptr(MactModule) features = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (features), conv);
  g_object_unref (conv);
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  mact_sequential_append (MACT_SEQUENTIAL (features), relu);
  mact_module_add_child (module, "features", features);
  return add_child (module, "classifier",
                    mact_linear_new (TV_WIDTH, self->cfg.num_classes, TRUE, error));
}

static MactTensor *
mact_test_tv_net_forward_features (MactBackbone *self, MactTensor *input, GError **error)
{
  if (!check_ndim (MACT_MODULE (self), input, 4, error))
    return NULL;
  return mact_module_forward1 (mact_module_get_child (MACT_MODULE (self), "features"), input,
                               error);
}

/* Children are looked up at every call: the recognizer may have replaced them. */
static GPtrArray *
mact_test_tv_net_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (!check_n_inputs (module, inputs, 1, 1, error))
    return NULL;
  g_autoptr(MactTensor) f = mact_test_tv_net_forward_features (MACT_BACKBONE (module),
                                                               g_ptr_array_index (inputs, 0),
                                                               error);
  g_autoptr(MactTensor) pooled = f ? global_mean (f, error) : NULL;
  if (pooled == NULL)
    return NULL;
  return single (mact_module_forward1 (mact_module_get_child (module, "classifier"), pooled,
                                       error));
}

static void
mact_test_tv_net_class_init (MactTestTvNetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = mact_test_tv_net_set_property;
  object_class->get_property = mact_test_tv_net_get_property;
  module_class->build = mact_test_tv_net_build;
  module_class->forward = mact_test_tv_net_forward;
  module_class->init_weights = mact_test_tv_net_init_weights;
  MACT_BACKBONE_CLASS (klass)->forward_features = mact_test_tv_net_forward_features;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 3);
  install_int (object_class, PROP_NUM_CLASSES, "num-classes", 1, 5);
}

static void
mact_test_tv_net_init (MactTestTvNet *self)
{
  self->cfg.in_channels = 3;
  self->cfg.num_classes = 5;
}

G_DECLARE_FINAL_TYPE (MactTestTvResnet, mact_test_tv_resnet, MACT, TEST_TV_RESNET, MactBackbone)
struct _MactTestTvResnet
{
  MactBackbone parent_instance;
  BlockCfg     cfg;
};
G_DEFINE_FINAL_TYPE (MactTestTvResnet, mact_test_tv_resnet, MACT_TYPE_BACKBONE)
TEST_CFG_ACCESSORS (mact_test_tv_resnet, MactTestTvResnet)
TEST_COUNTED_INIT_WEIGHTS (mact_test_tv_resnet, "tv.testresnet")

static gboolean
mact_test_tv_resnet_build (MactModule *module, GError **error)
{
  MactTestTvResnet *self = MACT_TEST_TV_RESNET (module);
  if (!MACT_MODULE_CLASS (mact_test_tv_resnet_parent_class)->build (module, error))
    return FALSE;
  return add_child (module, "conv1", conv_new (2, self->cfg.in_channels, TV_WIDTH, 3, NULL,
                                               error)) &&
         add_child (module, "fc", mact_linear_new (TV_WIDTH, self->cfg.num_classes, TRUE, error));
}

static GPtrArray *
mact_test_tv_resnet_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (!check_n_inputs (module, inputs, 1, 1, error) ||
      !check_ndim (module, g_ptr_array_index (inputs, 0), 4, error))
    return NULL;
  g_autoptr(MactTensor) f = child_relu (module, "conv1", g_ptr_array_index (inputs, 0), error);
  g_autoptr(MactTensor) pooled = f ? global_mean (f, error) : NULL;
  if (pooled == NULL)
    return NULL;
  return single (mact_module_forward1 (mact_module_get_child (module, "fc"), pooled, error));
}

static void
mact_test_tv_resnet_class_init (MactTestTvResnetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = mact_test_tv_resnet_set_property;
  object_class->get_property = mact_test_tv_resnet_get_property;
  module_class->build = mact_test_tv_resnet_build;
  module_class->forward = mact_test_tv_resnet_forward;
  module_class->init_weights = mact_test_tv_resnet_init_weights;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 3);
  install_int (object_class, PROP_NUM_CLASSES, "num-classes", 1, 5);
}

static void
mact_test_tv_resnet_init (MactTestTvResnet *self)
{
  self->cfg.in_channels = 3;
  self->cfg.num_classes = 5;
}

G_DECLARE_FINAL_TYPE (MactTestTvMaps, mact_test_tv_maps, MACT, TEST_TV_MAPS, MactBackbone)
struct _MactTestTvMaps
{
  MactBackbone parent_instance;
  BlockCfg     cfg;
};
G_DEFINE_FINAL_TYPE (MactTestTvMaps, mact_test_tv_maps, MACT_TYPE_BACKBONE)
TEST_CFG_ACCESSORS (mact_test_tv_maps, MactTestTvMaps)
TEST_COUNTED_INIT_WEIGHTS (mact_test_tv_maps, "tv.testmaps")

static gboolean
mact_test_tv_maps_build (MactModule *module, GError **error)
{
  MactTestTvMaps *self = MACT_TEST_TV_MAPS (module);
  if (!MACT_MODULE_CLASS (mact_test_tv_maps_parent_class)->build (module, error))
    return FALSE;
  return add_child (module, "conv1", conv_new (2, self->cfg.in_channels, TV_WIDTH, 3, NULL,
                                               error));
}

static GPtrArray *
mact_test_tv_maps_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  if (!check_n_inputs (module, inputs, 1, 1, error) ||
      !check_ndim (module, g_ptr_array_index (inputs, 0), 4, error))
    return NULL;
  g_autoptr(MactTensor) f = child_relu (module, "conv1", g_ptr_array_index (inputs, 0), error);
  const gint64 two[] = { 2, 2 };
  return single (f ? mact_adaptive_avg_pool2d (f, two, error) : NULL);
}

static void
mact_test_tv_maps_class_init (MactTestTvMapsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactModuleClass *module_class = MACT_MODULE_CLASS (klass);
  object_class->set_property = mact_test_tv_maps_set_property;
  object_class->get_property = mact_test_tv_maps_get_property;
  module_class->build = mact_test_tv_maps_build;
  module_class->forward = mact_test_tv_maps_forward;
  module_class->init_weights = mact_test_tv_maps_init_weights;
  install_int (object_class, PROP_IN_CHANNELS, "in-channels", 1, 3);
}

static void
mact_test_tv_maps_init (MactTestTvMaps *self)
{
  self->cfg.in_channels = 3;
}

/* ------------------------------------------------------------------ static plugins */

static gboolean
native_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "TestBackbone2D", mact_test_backbone_2d_get_type (),
                               error) &&
         mact_plugin_add_type (plugin, "TestBackbone3D", mact_test_backbone_3d_get_type (),
                               error) &&
         mact_plugin_add_type (plugin, "TestTupleBackbone3D",
                               mact_test_tuple_backbone_3d_get_type (), error) &&
         mact_plugin_add_type (plugin, "TestHead2D", mact_test_head_2d_get_type (), error) &&
         mact_plugin_add_type (plugin, "TestHead3D", mact_test_head_3d_get_type (), error) &&
         mact_plugin_add_type (plugin, "TestFlatHead", mact_test_flat_head_get_type (), error) &&
         mact_plugin_add_type (plugin, "TestNeck", mact_test_neck_get_type (), error) &&
         mact_plugin_add_type (plugin, "TestCELoss", mact_test_ce_loss_get_type (), error) &&
         mact_plugin_add_type (plugin, "TestBCELoss", mact_test_bce_loss_get_type (), error) &&
         mact_plugin_add_type (plugin, "TestMixup", mact_test_mixup_get_type (), error);
}

static gboolean
cls_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "cls.TestNet", mact_test_cls_net_get_type (), error);
}

static gboolean
tv_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "tv.testnet", mact_test_tv_net_get_type (), error) &&
         mact_plugin_add_type (plugin, "tv.testresnet", mact_test_tv_resnet_get_type (),
                               error) &&
         mact_plugin_add_type (plugin, "tv.testmaps", mact_test_tv_maps_get_type (), error);
}

/* Written out rather than with MACT_PLUGIN_DEFINE, which defines one descriptor per file. */
#define TEST_PLUGIN_DESC(family_, name_, init_)                                           \
  {                                                                                       \
    MACT_PLUGIN_MAGIC, MACT_PLUGIN_ABI_VERSION, MACT_MAJOR_VERSION, MACT_MINOR_VERSION,    \
    name_, family_, "mact test blocks (" family_ ")", "0.1.0", "LGPL-2.1-or-later",         \
    "mact tests", init_, { NULL, }                                                        \
  }

static const MactPluginDesc test_plugins[] = {
  TEST_PLUGIN_DESC ("native", "test_native", native_init),
  TEST_PLUGIN_DESC ("cls", "test_cls", cls_init),
  TEST_PLUGIN_DESC ("tv", "test_tv", tv_init),
};

MactRegistry *
mact_test_blocks_registry (void)
{
  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (test_plugins); i++)
    {
      g_autoptr(GError) error = NULL;
      if (!mact_registry_add_static_plugin (registry, &test_plugins[i], &error))
        fail_msg ("cannot add the %s test plugin: %s", test_plugins[i].family, error->message);
    }
  return g_steal_pointer (&registry);
}
