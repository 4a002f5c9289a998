/* mact-tv-sep-inception-block.c: S3D's SepInceptionBlock3D (torchvision/models/video/
 * s3d.py): four branches on the same input, concatenated over channels:
 *
 *   branch0: 1x1x1 Conv3dNormActivation
 *   branch1: 1x1x1 Conv3dNormActivation, TemporalSeparableConv k3
 *   branch2: 1x1x1 Conv3dNormActivation, TemporalSeparableConv k3
 *   branch3: MaxPool3d 3x3x3 stride 1 padding 1, 1x1x1 Conv3dNormActivation
 *
 * Children branch0 .. branch3 with torchvision's inner names, so the keys match; they are
 * looked up by name when they run. */
#include "mact-tv-sep-inception-block.h"

#define N_BRANCHES 4

struct _MactTvSepInceptionBlock
{
  MactModule parent_instance;
};

static const char *const branch_names[N_BRANCHES] = {
  "branch0", "branch1", "branch2", "branch3"
};

G_DEFINE_FINAL_TYPE (MactTvSepInceptionBlock, mact_tv_sep_inception_block, MACT_TYPE_MODULE)

static GPtrArray *
mact_tv_sep_inception_block_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactTensor *x = mact_tv_single_input (inputs, "SepInceptionBlock3D", error);
  MactTensor *outs[N_BRANCHES] = { NULL, };
  MactTensor *cat = NULL;

  if (x == NULL)
    return NULL;
  for (guint i = 0; i < N_BRANCHES; i++)
    {
      const char *const path[] = { branch_names[i], NULL };
      outs[i] = mact_tv_run_children (module, path, x, error);
      if (outs[i] == NULL)
        goto out;
    }
  cat = mact_cat (outs, N_BRANCHES, 1, error);
out:
  for (guint i = 0; i < N_BRANCHES; i++)
    g_clear_pointer (&outs[i], mact_tensor_unref);
  return cat != NULL ? mact_tv_single_output (cat) : NULL;
}

static void
mact_tv_sep_inception_block_class_init (MactTvSepInceptionBlockClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_tv_sep_inception_block_forward;
}

static void
mact_tv_sep_inception_block_init (MactTvSepInceptionBlock *self)
{
}

static MactModule *
pointwise (gint in_planes, gint out_planes, const MactTvBatchNorm *bn, GError **error)
{
  return mact_tv_conv_norm_act_k (3, in_planes, out_planes, 1, 1, 1, bn, TRUE,
                                  MACT_ACTIVATION_RELU, error);
}

/* Sequential(1x1x1 Conv3dNormActivation, TemporalSeparableConv(k3, stride 1, pad 1)). */
static MactModule *
separable_branch (gint in_planes, gint mid, gint out, const MactTvBatchNorm *bn,
                  GError **error)
{
  g_autoptr(MactModule) reduce = pointwise (in_planes, mid, bn, error);
  if (reduce == NULL)
    return NULL;
  g_autoptr(MactModule) sep = mact_tv_temporal_separable_conv_new (mid, out, 3, 1, 1, bn, error);
  if (sep == NULL)
    return NULL;
  g_autoptr(MactModule) seq = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (seq), reduce);
  mact_sequential_append (MACT_SEQUENTIAL (seq), sep);
  return g_steal_pointer (&seq);
}

/**
 * mact_tv_sep_inception_block_new:
 * @in_planes: input channels
 * @b0_out: branch0's channels
 * @b1_mid: branch1's reduction
 * @b1_out: branch1's channels
 * @b2_mid: branch2's reduction
 * @b2_out: branch2's channels
 * @b3_out: branch3's channels
 * @bn: the norm layers' arguments
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the block; its output has b0_out + b1_out +
 *   b2_out + b3_out channels
 */
MactModule *
mact_tv_sep_inception_block_new (gint in_planes, gint b0_out, gint b1_mid, gint b1_out,
                                 gint b2_mid, gint b2_out, gint b3_out,
                                 const MactTvBatchNorm *bn, GError **error)
{
  g_autoptr(MactModule) branch0 = pointwise (in_planes, b0_out, bn, error);
  if (branch0 == NULL)
    return NULL;
  g_autoptr(MactModule) branch1 = separable_branch (in_planes, b1_mid, b1_out, bn, error);
  if (branch1 == NULL)
    return NULL;
  g_autoptr(MactModule) branch2 = separable_branch (in_planes, b2_mid, b2_out, bn, error);
  if (branch2 == NULL)
    return NULL;
  const gint k[3] = { 3, 3, 3 }, s[3] = { 1, 1, 1 }, p[3] = { 1, 1, 1 };
  g_autoptr(MactModule) pool = mact_max_pool_new (3, k, s, p, FALSE, error);
  if (pool == NULL)
    return NULL;
  g_autoptr(MactModule) proj = pointwise (in_planes, b3_out, bn, error);
  if (proj == NULL)
    return NULL;
  g_autoptr(MactModule) branch3 = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (branch3), pool);
  mact_sequential_append (MACT_SEQUENTIAL (branch3), proj);

  MactModule *module = mact_module_new (MACT_TV_TYPE_SEP_INCEPTION_BLOCK, error, NULL);
  if (module == NULL)
    return NULL;
  MactModule *branches[N_BRANCHES] = { branch0, branch1, branch2, branch3 };
  for (guint i = 0; i < N_BRANCHES; i++)
    mact_module_add_child (module, branch_names[i], branches[i]);
  return module;
}
