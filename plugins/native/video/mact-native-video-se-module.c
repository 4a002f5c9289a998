/* mact-native-video-se-module.c: X3D's SEModule (mmaction/models/backbones/x3d.py).
 *
 * Children, in mmaction2's order: avg_pool (AdaptiveAvgPool3d(1)), fc1 (1x1x1 Conv3d with
 * bias, channels -> bottleneck), relu, fc2 (1x1x1 Conv3d with bias, back to channels),
 * sigmoid.  Forward rescales the input channels: x * sigmoid(fc2(relu(fc1(pool(x))))).
 * The bottleneck width is channels * reduction rounded to a multiple of 8 (at least 8),
 * by mmaction2's _round_width. */
#include "mact-native-video-se-module.h"
#include "mact-native-layers.h"

struct _MactNativeVideoSEModule
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds them. */
  MactModule *avg_pool;
  MactModule *fc1;
  MactModule *relu;
  MactModule *fc2;
  MactModule *sigmoid;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoSEModule, mact_native_video_se_module, MACT_TYPE_MODULE)

static GPtrArray *
mact_native_video_se_module_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeVideoSEModule *self = MACT_NATIVE_VIDEO_SE_MODULE (module);
  MactModule *order[] = { self->avg_pool, self->fc1, self->relu, self->fc2, self->sigmoid };

  if (!mact_native_check_single_input (inputs, "SEModule", error))
    return NULL;
  MactTensor *x = g_ptr_array_index (inputs, 0);
  g_autoptr(MactTensor) s = mact_tensor_ref (x);
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      MactTensor *next = mact_module_forward1 (order[i], s, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (s);
      s = next;
    }
  MactTensor *y = mact_mul (x, s, error);
  if (y == NULL)
    return NULL;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, y);
  return outputs;
}

static void
mact_native_video_se_module_class_init (MactNativeVideoSEModuleClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_video_se_module_forward;
}

static void
mact_native_video_se_module_init (MactNativeVideoSEModule *self)
{
}

/**
 * mact_native_video_se_module_round_width:
 * @width: the number of channels
 * @multiplier: the reduction ratio
 *
 * mmaction2's SEModule._round_width(width, multiplier, min_width=8, divisor=8).
 *
 * Returns: the bottleneck width
 */
gint
mact_native_video_se_module_round_width (gint width, double multiplier)
{
  const double w = width * multiplier;
  gint out = MAX (8, ((gint) (w + 4.0)) / 8 * 8);
  if (out < 0.9 * w)
    out += 8;
  return out;
}

/**
 * mact_native_video_se_module_new:
 * @channels: the channels to rescale
 * @reduction: the reduction ratio (se_ratio), positive
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built unit
 */
MactModule *
mact_native_video_se_module_new (gint channels, double reduction, GError **error)
{
  const gint bottleneck = mact_native_video_se_module_round_width (channels, reduction);
  const gint one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
  const gint64 pool_size[3] = { 1, 1, 1 };

  g_autoptr(MactModule) module = mact_module_new (MACT_NATIVE_VIDEO_TYPE_SE_MODULE, error,
                                                  NULL);
  if (module == NULL)
    return NULL;
  MactNativeVideoSEModule *self = MACT_NATIVE_VIDEO_SE_MODULE (module);
  g_autoptr(MactModule) avg_pool = mact_adaptive_avg_pool_new (3, pool_size, error);
  if (avg_pool == NULL)
    return NULL;
  g_autoptr(MactModule) fc1 = mact_conv_new (3, channels, bottleneck, one, one, zero, one, 1,
                                             TRUE, error);
  if (fc1 == NULL)
    return NULL;
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  g_autoptr(MactModule) fc2 = mact_conv_new (3, bottleneck, channels, one, one, zero, one, 1,
                                             TRUE, error);
  if (fc2 == NULL)
    return NULL;
  g_autoptr(MactModule) sigmoid = mact_activation_new (MACT_ACTIVATION_SIGMOID);

  mact_module_add_child (module, "avg_pool", avg_pool);
  mact_module_add_child (module, "fc1", fc1);
  mact_module_add_child (module, "relu", relu);
  mact_module_add_child (module, "fc2", fc2);
  mact_module_add_child (module, "sigmoid", sigmoid);
  self->avg_pool = avg_pool;
  self->fc1 = fc1;
  self->relu = relu;
  self->fc2 = fc2;
  self->sigmoid = sigmoid;
  return g_steal_pointer (&module);
}
