/* mact-native-video-conv2plus1d.c: mmaction2's Conv2plus1d (mmaction/models/common/
 * conv2plus1d.py), the (2+1)-D factorisation of a T x H x W convolution.
 *
 * Children, in mmaction2's order: conv_s (1 x H x W, spatial stride and padding), bn_s
 * (BatchNorm3d), relu, conv_t (T x 1 x 1, temporal stride and padding).  The middle width
 * follows the paper's parameter-matching formula, with mmaction2's hard-coded temporal
 * size 3: floor(3 * Cin * Cout * kh * kw / (Cin * kh * kw + 3 * Cout)).  As in mmaction2
 * the convolutions have no bias when the enclosing ConvModule has a norm (always, here),
 * and dilation and groups are not used.  Built as mmaction2's constructor leaves it
 * (init_weights: kaiming for both convs, ones and zeros for bn_s). */
#include "mact-native-video-conv2plus1d.h"

struct _MactNativeVideoConv2plus1d
{
  MactModule  parent_instance;

  /* Borrowed: the children table holds them. */
  MactModule *conv_s;
  MactModule *bn_s;
  MactModule *relu;
  MactModule *conv_t;
};

G_DEFINE_FINAL_TYPE (MactNativeVideoConv2plus1d, mact_native_video_conv2plus1d,
                     MACT_TYPE_MODULE)

static GPtrArray *
mact_native_video_conv2plus1d_forward (MactModule *module, GPtrArray *inputs, GError **error)
{
  MactNativeVideoConv2plus1d *self = MACT_NATIVE_VIDEO_CONV2PLUS1D (module);
  MactModule *order[] = { self->conv_s, self->bn_s, self->relu, self->conv_t };

  if (!mact_native_check_single_input (inputs, "Conv2plus1d", error))
    return NULL;
  g_autoptr(MactTensor) x = mact_tensor_ref (g_ptr_array_index (inputs, 0));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      MactTensor *y = mact_module_forward1 (order[i], x, error);
      if (y == NULL)
        return NULL;
      mact_tensor_unref (x);
      x = y;
    }
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (outputs, g_steal_pointer (&x));
  return outputs;
}

static gboolean
mact_native_video_conv2plus1d_init_weights (MactModule *module, MactGenerator *generator,
                                            GError **error)
{
  MactNativeVideoConv2plus1d *self = MACT_NATIVE_VIDEO_CONV2PLUS1D (module);
  MactGenerator *gen = generator != NULL ? generator : mact_generator_get_default ();

  if (!mact_native_kaiming_init (mact_module_get_parameter (self->conv_s, "weight"),
                                 mact_module_get_parameter (self->conv_s, "bias"), gen,
                                 error) ||
      !mact_native_kaiming_init (mact_module_get_parameter (self->conv_t, "weight"),
                                 mact_module_get_parameter (self->conv_t, "bias"), gen,
                                 error))
    return FALSE;
  mact_native_constant_init (mact_module_get_parameter (self->bn_s, "weight"),
                             mact_module_get_parameter (self->bn_s, "bias"), 1.0f);
  return TRUE;
}

static void
mact_native_video_conv2plus1d_class_init (MactNativeVideoConv2plus1dClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_video_conv2plus1d_forward;
  MACT_MODULE_CLASS (klass)->init_weights = mact_native_video_conv2plus1d_init_weights;
}

static void
mact_native_video_conv2plus1d_init (MactNativeVideoConv2plus1d *self)
{
}

/**
 * mact_native_video_conv2plus1d_mid_channels:
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: (array fixed-size=3): the (T, H, W) kernel
 *
 * Returns: the width between conv_s and conv_t, computed as mmaction2 does (in
 *   floating point, then truncated)
 */
gint
mact_native_video_conv2plus1d_mid_channels (gint in_channels, gint out_channels,
                                            const gint *kernel_size)
{
  /* Python: mid = 3 * (Cin * Cout * kh * kw); mid /= (Cin * kh * kw + 3 * Cout); int(mid).
   * The numerator and denominator are exact integers; the true division is a double. */
  const double spatial = (double) kernel_size[1] * kernel_size[2];
  const double num = 3.0 * ((double) in_channels * out_channels * spatial);
  const double den = (double) in_channels * spatial + 3.0 * out_channels;
  return (gint) (num / den);
}

/**
 * mact_native_video_conv2plus1d_new:
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: (array fixed-size=3): the (T, H, W) kernel
 * @stride: (array fixed-size=3): (T, H, W) strides
 * @padding: (array fixed-size=3): (T, H, W) paddings
 * @norm: bn_s's config
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the built, initialised module
 */
MactModule *
mact_native_video_conv2plus1d_new (gint in_channels, gint out_channels,
                                   const gint *kernel_size, const gint *stride,
                                   const gint *padding, const MactNativeVideoNormCfg *norm,
                                   GError **error)
{
  const gint mid = mact_native_video_conv2plus1d_mid_channels (in_channels, out_channels,
                                                               kernel_size);
  if (mid < 1)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "Conv2plus1d: %d -> %d channels leave no middle channel", in_channels,
                   out_channels);
      return NULL;
    }
  const gint ks[3] = { 1, kernel_size[1], kernel_size[2] };
  const gint ss[3] = { 1, stride[1], stride[2] };
  const gint ps[3] = { 0, padding[1], padding[2] };
  const gint kt[3] = { kernel_size[0], 1, 1 };
  const gint st[3] = { stride[0], 1, 1 };
  const gint pt[3] = { padding[0], 0, 0 };
  const gint one[3] = { 1, 1, 1 };

  g_autoptr(MactModule) module = mact_module_new (MACT_NATIVE_VIDEO_TYPE_CONV2PLUS1D, error,
                                                  NULL);
  if (module == NULL)
    return NULL;
  MactNativeVideoConv2plus1d *self = MACT_NATIVE_VIDEO_CONV2PLUS1D (module);
  g_autoptr(MactModule) conv_s = mact_conv_new (3, in_channels, mid, ks, ss, ps, one, 1, FALSE,
                                                error);
  if (conv_s == NULL)
    return NULL;
  g_autoptr(MactModule) bn_s = mact_batch_norm_new (3, mid, norm->eps, norm->momentum, TRUE,
                                                    error);
  if (bn_s == NULL)
    return NULL;
  g_object_set (bn_s, "sync", norm->sync, NULL);
  if (!norm->requires_grad)
    mact_native_set_requires_grad (bn_s, FALSE);
  g_autoptr(MactModule) relu = mact_activation_new (MACT_ACTIVATION_RELU);
  g_autoptr(MactModule) conv_t = mact_conv_new (3, mid, out_channels, kt, st, pt, one, 1,
                                                FALSE, error);
  if (conv_t == NULL)
    return NULL;
  mact_module_add_child (module, "conv_s", conv_s);
  mact_module_add_child (module, "bn_s", bn_s);
  mact_module_add_child (module, "relu", relu);
  mact_module_add_child (module, "conv_t", conv_t);
  self->conv_s = conv_s;
  self->bn_s = bn_s;
  self->relu = relu;
  self->conv_t = conv_t;
  /* mmaction2's constructor ends with self.init_weights(). */
  if (!mact_module_init_weights (module, NULL, error))
    return NULL;
  return g_steal_pointer (&module);
}
