/* mact-tv-residual-block.c: torchvision's residual blocks, out = relu(main(x) + shortcut(x)).
 *
 * One class serves the three blocks, which differ only in their children (names as in
 * torchvision, so the state-dict keys match):
 * - resnet.BasicBlock: conv1 (3x3, stride, no bias), bn1, relu, conv2 (3x3), bn2 and an
 *   optional downsample (Sequential of a 1x1 conv and a batch norm);
 * - resnet.Bottleneck: conv1 (1x1), bn1, conv2 (3x3, stride, groups, dilation), bn2, conv3
 *   (1x1, x4 channels), bn3, relu, downsample;
 * - video.resnet.BasicBlock: conv1 (Sequential of the stage's conv builder, BatchNorm3d,
 *   ReLU), conv2 (conv builder, BatchNorm3d), relu, downsample.
 * The `relu` child runs inside the main path and again after the sum, as in torchvision,
 * so a forward hook on it (GradCAM's target) sees the block's output last.  Children are
 * looked up by name when they run, so replacing one (mact_module_replace_child()) is
 * safe. */
#include "mact-tv-residual-block.h"
#include "mact-tv-layers.h"

#define MAX_MAIN 8

struct _MactTvResidualBlock
{
  MactModule  parent_instance;

  /* The main path, by child name (static strings); relu appears twice in it. */
  const char *main[MAX_MAIN + 1];
  guint       n_main;
};

G_DEFINE_FINAL_TYPE (MactTvResidualBlock, mact_tv_residual_block, MACT_TYPE_MODULE)

static GPtrArray *
mact_tv_residual_block_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTvResidualBlock *self = MACT_TV_RESIDUAL_BLOCK (module);
  MactTensor *x = mact_tv_single_input (inputs, "residual block", error);
  if (x == NULL)
    return NULL;

  g_autoptr(MactTensor) out = mact_tv_run_children (module, self->main, x, error);
  if (out == NULL)
    return NULL;
  MactModule *downsample = mact_module_get_child (module, "downsample");
  g_autoptr(MactTensor) identity = downsample != NULL
                                   ? mact_module_forward1 (downsample, x, error)
                                   : mact_tensor_ref (x);
  if (identity == NULL)
    return NULL;
  g_autoptr(MactTensor) sum = mact_add (out, identity, error);
  if (sum == NULL)
    return NULL;
  static const char *const last[] = { "relu", NULL };
  MactTensor *y = mact_tv_run_children (module, last, sum, error);
  return y != NULL ? mact_tv_single_output (y) : NULL;
}

static void
mact_tv_residual_block_class_init (MactTvResidualBlockClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_tv_residual_block_forward;
}

static void
mact_tv_residual_block_init (MactTvResidualBlock *self)
{
}

static MactTvResidualBlock *
block_new (GError **error)
{
  MactModule *module = mact_module_new (MACT_TV_TYPE_RESIDUAL_BLOCK, error, NULL);
  return module != NULL ? MACT_TV_RESIDUAL_BLOCK (module) : NULL;
}

static void
append_main (MactTvResidualBlock *self, const char *name)
{
  g_assert (self->n_main < MAX_MAIN);
  self->main[self->n_main++] = name;
  self->main[self->n_main] = NULL;
}

/* Adds a child under @name (a static string) and, with @in_main, appends it to the main
 * path. */
static void
add (MactTvResidualBlock *self, const char *name, MactModule *child, gboolean in_main)
{
  mact_module_add_child (MACT_MODULE (self), name, child);
  if (in_main)
    append_main (self, name);
}

static void
add_relu (MactTvResidualBlock *self, gboolean in_main)
{
  if (mact_module_get_child (MACT_MODULE (self), "relu") == NULL)
    {
      g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
      mact_module_add_child (MACT_MODULE (self), "relu", relu);
    }
  if (in_main)
    append_main (self, "relu");
}

static void
set_downsample (MactTvResidualBlock *self, MactModule *downsample)
{
  if (downsample != NULL)
    mact_module_add_child (MACT_MODULE (self), "downsample", downsample);
}

static MactModule *
conv2d (gint in_channels, gint out_channels, gint kernel, gint stride, gint groups,
        gint dilation, GError **error)
{
  const gint k[2] = { kernel, kernel };
  const gint s[2] = { stride, stride };
  /* conv3x3 pads by the dilation, conv1x1 not at all. */
  const gint pad = kernel == 3 ? dilation : 0;
  const gint p[2] = { pad, pad };
  const gint d[2] = { dilation, dilation };
  return mact_conv_new (2, in_channels, out_channels, k, s, p, d, groups, FALSE, error);
}

/**
 * mact_tv_basic_block_new:
 * @inplanes: input channels
 * @planes: output channels
 * @stride: conv1's stride
 * @downsample: (nullable) (transfer none): the shortcut, or %NULL for the identity
 * @dilation: must be 1 (torchvision raises NotImplementedError otherwise; the caller
 *   reports it with the model's name)
 * @error: return location for a #GError
 *
 * torchvision's resnet.BasicBlock (expansion 1).
 *
 * Returns: (transfer full) (nullable): the block
 */
MactModule *
mact_tv_basic_block_new (gint inplanes, gint planes, gint stride, MactModule *downsample,
                         gint dilation, GError **error)
{
  g_autoptr(MactTvResidualBlock) self = block_new (error);
  if (self == NULL)
    return NULL;
  g_autoptr(MactModule) c1 = conv2d (inplanes, planes, 3, stride, 1, dilation, error);
  if (c1 == NULL)
    return NULL;
  g_autoptr(MactModule) b1 = mact_tv_batch_norm_new (2, planes, &mact_tv_bn_default, error);
  if (b1 == NULL)
    return NULL;
  g_autoptr(MactModule) c2 = conv2d (planes, planes, 3, 1, 1, 1, error);
  if (c2 == NULL)
    return NULL;
  g_autoptr(MactModule) b2 = mact_tv_batch_norm_new (2, planes, &mact_tv_bn_default, error);
  if (b2 == NULL)
    return NULL;
  add (self, "conv1", c1, TRUE);
  add (self, "bn1", b1, TRUE);
  add_relu (self, TRUE);
  add (self, "conv2", c2, TRUE);
  add (self, "bn2", b2, TRUE);
  set_downsample (self, downsample);
  return MACT_MODULE (g_steal_pointer (&self));
}

/**
 * mact_tv_bottleneck_new:
 * @inplanes: input channels
 * @planes: the stage's planes; the output has planes * 4 channels
 * @stride: conv2's stride
 * @downsample: (nullable) (transfer none): the shortcut, or %NULL for the identity
 * @groups: conv2's groups
 * @base_width: width_per_group
 * @dilation: conv2's dilation and padding
 * @error: return location for a #GError
 *
 * torchvision's resnet.Bottleneck (stride on the 3x3 conv, "ResNet V1.5"): the inner
 * width is int(planes * base_width / 64) * groups.
 *
 * Returns: (transfer full) (nullable): the block
 */
MactModule *
mact_tv_bottleneck_new (gint inplanes, gint planes, gint stride, MactModule *downsample,
                        gint groups, gint base_width, gint dilation, GError **error)
{
  const gint width = (gint) (planes * (base_width / 64.0)) * groups;
  const gint out = planes * MACT_TV_BOTTLENECK_EXPANSION;
  g_autoptr(MactTvResidualBlock) self = block_new (error);
  if (self == NULL)
    return NULL;

  g_autoptr(MactModule) c1 = conv2d (inplanes, width, 1, 1, 1, 1, error);
  if (c1 == NULL)
    return NULL;
  g_autoptr(MactModule) b1 = mact_tv_batch_norm_new (2, width, &mact_tv_bn_default, error);
  if (b1 == NULL)
    return NULL;
  g_autoptr(MactModule) c2 = conv2d (width, width, 3, stride, groups, dilation, error);
  if (c2 == NULL)
    return NULL;
  g_autoptr(MactModule) b2 = mact_tv_batch_norm_new (2, width, &mact_tv_bn_default, error);
  if (b2 == NULL)
    return NULL;
  g_autoptr(MactModule) c3 = conv2d (width, out, 1, 1, 1, 1, error);
  if (c3 == NULL)
    return NULL;
  g_autoptr(MactModule) b3 = mact_tv_batch_norm_new (2, out, &mact_tv_bn_default, error);
  if (b3 == NULL)
    return NULL;
  /* Children in torchvision's order (relu after bn3); the main path runs relu twice. */
  add (self, "conv1", c1, TRUE);
  add (self, "bn1", b1, TRUE);
  add (self, "conv2", c2, FALSE);
  add (self, "bn2", b2, FALSE);
  add (self, "conv3", c3, FALSE);
  add (self, "bn3", b3, FALSE);
  add_relu (self, FALSE);
  static const char *const path[] = { "relu", "conv2", "bn2", "relu", "conv3", "bn3" };
  for (guint i = 0; i < G_N_ELEMENTS (path); i++)
    append_main (self, path[i]);
  set_downsample (self, downsample);
  return MACT_MODULE (g_steal_pointer (&self));
}

/**
 * mact_tv_video_conv_downsample_stride:
 * @conv: the stage's conv builder
 * @stride: the stage's stride
 * @out: (out caller-allocates) (array fixed-size=3): the (T, H, W) stride of the
 *   shortcut's 1x1x1 conv (get_downsample_stride)
 */
void
mact_tv_video_conv_downsample_stride (MactTvVideoConv conv, gint stride, gint *out)
{
  out[0] = conv == MACT_TV_VIDEO_CONV_3D_NO_TEMPORAL ? 1 : stride;
  out[1] = stride;
  out[2] = stride;
}

/* The conv of a video BasicBlock: Conv3DSimple, Conv3DNoTemporal or Conv2Plus1D. */
static MactModule *
video_conv (MactTvVideoConv kind, gint in_planes, gint out_planes, gint midplanes,
            gint stride, GError **error)
{
  switch (kind)
    {
    case MACT_TV_VIDEO_CONV_3D_SIMPLE:
      {
        const gint k[3] = { 3, 3, 3 }, s[3] = { stride, stride, stride }, p[3] = { 1, 1, 1 };
        return mact_conv_new (3, in_planes, out_planes, k, s, p, NULL, 1, FALSE, error);
      }
    case MACT_TV_VIDEO_CONV_3D_NO_TEMPORAL:
      {
        const gint k[3] = { 1, 3, 3 }, s[3] = { 1, stride, stride }, p[3] = { 0, 1, 1 };
        return mact_conv_new (3, in_planes, out_planes, k, s, p, NULL, 1, FALSE, error);
      }
    case MACT_TV_VIDEO_CONV_2PLUS1D:
    default:
      {
        const gint ks[3] = { 1, 3, 3 }, ss[3] = { 1, stride, stride }, ps[3] = { 0, 1, 1 };
        const gint kt[3] = { 3, 1, 1 }, st[3] = { stride, 1, 1 }, pt[3] = { 1, 0, 0 };
        g_autoptr(MactModule) spatial = mact_conv_new (3, in_planes, midplanes, ks, ss, ps,
                                                       NULL, 1, FALSE, error);
        if (spatial == NULL)
          return NULL;
        g_autoptr(MactModule) bn = mact_tv_batch_norm_new (3, midplanes, &mact_tv_bn_default,
                                                           error);
        if (bn == NULL)
          return NULL;
        g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
        g_autoptr(MactModule) temporal = mact_conv_new (3, midplanes, out_planes, kt, st, pt,
                                                        NULL, 1, FALSE, error);
        if (temporal == NULL)
          return NULL;
        g_autoptr(MactModule) seq = mact_sequential_new ();
        mact_sequential_append (MACT_SEQUENTIAL (seq), spatial);
        mact_sequential_append (MACT_SEQUENTIAL (seq), bn);
        mact_sequential_append (MACT_SEQUENTIAL (seq), relu);
        mact_sequential_append (MACT_SEQUENTIAL (seq), temporal);
        return g_steal_pointer (&seq);
      }
    }
}

/* Sequential(conv builder, BatchNorm3d[, ReLU]): a video BasicBlock's conv1 / conv2. */
static MactModule *
video_unit (MactTvVideoConv kind, gint in_planes, gint planes, gint midplanes, gint stride,
            gboolean with_relu, GError **error)
{
  g_autoptr(MactModule) conv = video_conv (kind, in_planes, planes, midplanes, stride, error);
  if (conv == NULL)
    return NULL;
  g_autoptr(MactModule) bn = mact_tv_batch_norm_new (3, planes, &mact_tv_bn_default, error);
  if (bn == NULL)
    return NULL;
  g_autoptr(MactModule) seq = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (seq), conv);
  mact_sequential_append (MACT_SEQUENTIAL (seq), bn);
  if (with_relu)
    {
      g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
      mact_sequential_append (MACT_SEQUENTIAL (seq), relu);
    }
  return g_steal_pointer (&seq);
}

/**
 * mact_tv_video_basic_block_new:
 * @inplanes: input channels
 * @planes: output channels
 * @conv: the stage's conv builder
 * @stride: conv1's stride
 * @downsample: (nullable) (transfer none): the shortcut, or %NULL for the identity
 * @error: return location for a #GError
 *
 * torchvision's video.resnet.BasicBlock.  Conv2Plus1D's middle width is computed once
 * from (inplanes, planes) and used by both convs, as torchvision does.
 *
 * Returns: (transfer full) (nullable): the block
 */
MactModule *
mact_tv_video_basic_block_new (gint inplanes, gint planes, MactTvVideoConv conv, gint stride,
                               MactModule *downsample, GError **error)
{
  const gint64 midplanes = ((gint64) inplanes * planes * 3 * 3 * 3) /
                           ((gint64) inplanes * 3 * 3 + 3 * planes);
  g_autoptr(MactTvResidualBlock) self = block_new (error);
  if (self == NULL)
    return NULL;
  g_autoptr(MactModule) conv1 = video_unit (conv, inplanes, planes, (gint) midplanes, stride,
                                            TRUE, error);
  if (conv1 == NULL)
    return NULL;
  g_autoptr(MactModule) conv2 = video_unit (conv, planes, planes, (gint) midplanes, 1, FALSE,
                                            error);
  if (conv2 == NULL)
    return NULL;
  add (self, "conv1", conv1, TRUE);
  add (self, "conv2", conv2, TRUE);
  add_relu (self, FALSE);
  set_downsample (self, downsample);
  return MACT_MODULE (g_steal_pointer (&self));
}
