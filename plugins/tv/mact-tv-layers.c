/* mact-tv-layers.c: helpers the tv. models share (see mact-tv-layers.h). */
#include "mact-tv-layers.h"

#include <math.h>

/* nn.BatchNorm2d/3d's defaults, used by the ResNets, MobileNetV2 and the video ResNets. */
const MactTvBatchNorm mact_tv_bn_default = { 1e-5, 0.1 };

/**
 * mact_tv_batch_norm_new:
 * @dims: 2 or 3
 * @num_features: channels
 * @bn: eps and momentum
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): an affine batch norm tracking running statistics
 */
MactModule *
mact_tv_batch_norm_new (gint dims, gint num_features, const MactTvBatchNorm *bn,
                        GError **error)
{
  return mact_batch_norm_new (dims, num_features, bn->eps, bn->momentum, TRUE, error);
}

/**
 * mact_tv_conv_norm_act_new:
 * @dims: 2 or 3
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: (array length=dims): the kernel
 * @stride: (array length=dims) (nullable): the stride, %NULL for 1
 * @padding: (array length=dims) (nullable): the padding; %NULL for torchvision's
 *   default, (kernel - 1) / 2 * dilation
 * @dilation: (array length=dims) (nullable): the dilation, %NULL for 1
 * @groups: channel groups
 * @bn: the norm layer's arguments
 * @has_act: whether an activation follows
 * @act: the activation
 * @error: return location for a #GError
 *
 * torchvision's Conv2dNormActivation / Conv3dNormActivation with a norm layer: a
 * Sequential of a conv without bias ("0"), a batch norm ("1") and, with @has_act, the
 * activation ("2"), so the keys are `0.weight`, `1.weight`, `1.running_mean`, ...
 *
 * Returns: (transfer full) (nullable): the Sequential
 */
MactModule *
mact_tv_conv_norm_act_new (gint dims, gint in_channels, gint out_channels,
                           const gint *kernel_size, const gint *stride, const gint *padding,
                           const gint *dilation, gint groups, const MactTvBatchNorm *bn,
                           gboolean has_act, MactActivationKind act, GError **error)
{
  gint default_padding[3];
  if (padding == NULL)
    {
      for (gint d = 0; d < dims; d++)
        default_padding[d] = (kernel_size[d] - 1) / 2 * (dilation != NULL ? dilation[d] : 1);
      padding = default_padding;
    }
  g_autoptr(MactModule) conv = mact_conv_new (dims, in_channels, out_channels, kernel_size,
                                              stride, padding, dilation, groups, FALSE,
                                              error);
  if (conv == NULL)
    return NULL;
  g_autoptr(MactModule) norm = mact_tv_batch_norm_new (dims, out_channels, bn, error);
  if (norm == NULL)
    return NULL;
  g_autoptr(MactModule) seq = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (seq), conv);
  mact_sequential_append (MACT_SEQUENTIAL (seq), norm);
  if (has_act)
    {
      g_autoptr(MactModule) activation = mact_activation_new (act);
      mact_sequential_append (MACT_SEQUENTIAL (seq), activation);
    }
  return g_steal_pointer (&seq);
}

/**
 * mact_tv_conv_norm_act_k:
 * @dims: 2 or 3
 * @in_channels: input channels
 * @out_channels: output channels
 * @kernel_size: the cubic/square kernel
 * @stride: the stride in every dimension
 * @groups: channel groups
 * @bn: the norm layer's arguments
 * @has_act: whether an activation follows
 * @act: the activation
 * @error: return location for a #GError
 *
 * mact_tv_conv_norm_act_new() with one kernel size and stride for every dimension and the
 * default padding, as torchvision's callers mostly write it.
 *
 * Returns: (transfer full) (nullable): the Sequential
 */
MactModule *
mact_tv_conv_norm_act_k (gint dims, gint in_channels, gint out_channels, gint kernel_size,
                         gint stride, gint groups, const MactTvBatchNorm *bn, gboolean has_act,
                         MactActivationKind act, GError **error)
{
  const gint k[3] = { kernel_size, kernel_size, kernel_size };
  const gint s[3] = { stride, stride, stride };
  return mact_tv_conv_norm_act_new (dims, in_channels, out_channels, k, s, NULL, NULL, groups,
                                    bn, has_act, act, error);
}

/**
 * mact_tv_temporal_separable_conv_new:
 * @in_planes: input channels
 * @out_planes: output channels
 * @kernel_size: k, of the 1xkxk spatial and the kx1x1 temporal conv
 * @stride: the stride of both, in their own dimensions
 * @padding: the padding of both, in their own dimensions
 * @bn: the norm layers' arguments
 * @error: return location for a #GError
 *
 * S3D's TemporalSeparableConv: a Sequential of two Conv3dNormActivation with ReLU, the
 * 1xkxk spatial one ("0") then the kx1x1 temporal one ("1").
 *
 * Returns: (transfer full) (nullable): the Sequential
 */
MactModule *
mact_tv_temporal_separable_conv_new (gint in_planes, gint out_planes, gint kernel_size,
                                     gint stride, gint padding, const MactTvBatchNorm *bn,
                                     GError **error)
{
  const gint ks[3] = { 1, kernel_size, kernel_size }, ss[3] = { 1, stride, stride };
  const gint ps[3] = { 0, padding, padding };
  const gint kt[3] = { kernel_size, 1, 1 }, st[3] = { stride, 1, 1 };
  const gint pt[3] = { padding, 0, 0 };
  g_autoptr(MactModule) spatial = mact_tv_conv_norm_act_new (3, in_planes, out_planes, ks, ss,
                                                             ps, NULL, 1, bn, TRUE,
                                                             MACT_ACTIVATION_RELU, error);
  if (spatial == NULL)
    return NULL;
  g_autoptr(MactModule) temporal = mact_tv_conv_norm_act_new (3, out_planes, out_planes, kt, st,
                                                              pt, NULL, 1, bn, TRUE,
                                                              MACT_ACTIVATION_RELU, error);
  if (temporal == NULL)
    return NULL;
  g_autoptr(MactModule) seq = mact_sequential_new ();
  mact_sequential_append (MACT_SEQUENTIAL (seq), spatial);
  mact_sequential_append (MACT_SEQUENTIAL (seq), temporal);
  return g_steal_pointer (&seq);
}

/**
 * mact_tv_make_divisible:
 * @value: a channel count before rounding
 * @divisor: the multiple to round to
 *
 * torchvision's _make_divisible (from the TensorFlow MobileNet code) with min_value =
 * @divisor: the nearest multiple of @divisor, at least @divisor, and never more than 10%
 * below @value.
 *
 * Returns: the rounded channel count
 */
gint
mact_tv_make_divisible (double value, gint divisor)
{
  /* int(v + divisor / 2) // divisor * divisor: truncation, then floor division of a
   * non-negative integer. */
  gint64 rounded = ((gint64) (value + divisor / 2.0)) / divisor * divisor;
  gint64 result = MAX ((gint64) divisor, rounded);
  if ((double) result < 0.9 * value)
    result += divisor;
  return (gint) result;
}

/* ------------------------------------------------------------------ weight init */

typedef struct {
  MactTvInit     init;
  MactGenerator *generator;
  GError        *error;
} InitState;

/* PyTorch's _ConvNd/Linear.reset_parameters(): kaiming_uniform(a=sqrt(5)) on the weight
 * and uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias. */
static gboolean
reset_default (MactTensor *weight, MactTensor *bias, MactGenerator *generator,
               GError **error)
{
  if (!mact_tensor_kaiming_uniform_ (weight, generator, sqrt (5.0), MACT_FAN_IN, "leaky_relu",
                                     error))
    return FALSE;
  if (bias != NULL)
    {
      gint64 fan_in = 0, fan_out = 0;
      if (!mact_tensor_calculate_fans (weight, &fan_in, &fan_out, error))
        return FALSE;
      double bound = fan_in > 0 ? 1.0 / sqrt ((double) fan_in) : 0.0;
      mact_tensor_uniform_ (bias, generator, -bound, bound);
    }
  return TRUE;
}

static void
init_module (MactModule *module, InitState *state)
{
  MactTensor *weight = mact_module_get_parameter (module, "weight");
  MactTensor *bias = mact_module_get_parameter (module, "bias");

  if (MACT_IS_CONV (module))
    {
      if (state->init == MACT_TV_INIT_DEFAULT)
        {
          reset_default (weight, bias, state->generator, &state->error);
          return;
        }
      /* kaiming_normal_(mode="fan_out"): the ResNets and video ResNets name
       * nonlinearity="relu", the MobileNets keep the default leaky_relu with a = 0; both
       * give the gain sqrt(2). */
      if (!mact_tensor_kaiming_normal_ (weight, state->generator, 0.0, MACT_FAN_OUT, "relu",
                                        &state->error))
        return;
      if (bias != NULL)
        mact_tensor_fill (bias, 0.0f);
    }
  else if (MACT_IS_BATCH_NORM (module))
    {
      if (weight != NULL)
        mact_tensor_fill (weight, 1.0f);
      if (bias != NULL)
        mact_tensor_fill (bias, 0.0f);
    }
  else if (MACT_IS_LINEAR (module))
    {
      switch (state->init)
        {
        case MACT_TV_INIT_RESNET:
          /* torchvision's ResNet leaves fc as nn.Linear made it; reset it to the same
           * distribution so init_weights() redraws every layer. */
        case MACT_TV_INIT_DEFAULT:
          reset_default (weight, bias, state->generator, &state->error);
          break;
        case MACT_TV_INIT_CLASSIFIER:
        default:
          mact_tensor_normal_ (weight, state->generator, 0.0, 0.01);
          if (bias != NULL)
            mact_tensor_fill (bias, 0.0f);
          break;
        }
    }
}

static void
init_visit (MactModule *root, InitState *state)
{
  g_auto(GStrv) names = mact_module_list_children (root);
  for (guint i = 0; names != NULL && names[i] != NULL && state->error == NULL; i++)
    {
      MactModule *child = mact_module_get_child (root, names[i]);
      init_module (child, state);
      if (state->error == NULL)
        init_visit (child, state);
    }
}

/**
 * mact_tv_init_weights:
 * @root: a model
 * @init: which of torchvision's loops to run
 * @generator: (nullable): the random source, %NULL for the default generator
 * @error: return location for a #GError
 *
 * Initialises every layer below @root, in module order (PyTorch's `self.modules()`),
 * as the model's constructor does.
 *
 * Returns: %TRUE on success
 */
gboolean
mact_tv_init_weights (MactModule *root, MactTvInit init, MactGenerator *generator,
                      GError **error)
{
  InitState state = { init, generator != NULL ? generator : mact_generator_get_default (),
                      NULL };
  init_visit (root, &state);
  if (state.error != NULL)
    {
      g_propagate_error (error, state.error);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ forward helpers */

/**
 * mact_tv_run_children:
 * @module: a module
 * @names: (array zero-terminated=1): child names, in the order they run
 * @input: the first child's input
 * @error: return location for a #GError
 *
 * Runs the named children of @module one after the other, looking each up when it runs
 * so that a replaced child (the recognizer's identity `fc`) is the one called.
 *
 * Returns: (transfer full) (nullable): the last child's output
 */
MactTensor *
mact_tv_run_children (MactModule *module, const char *const *names, MactTensor *input,
                      GError **error)
{
  g_autoptr(MactTensor) x = mact_tensor_ref (input);
  for (guint i = 0; names[i] != NULL; i++)
    {
      MactModule *child = mact_module_get_child (module, names[i]);
      if (child == NULL)
        {
          g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_NO_SUCH_CHILD,
                       "%s: no child \"%s\"", G_OBJECT_TYPE_NAME (module), names[i]);
          return NULL;
        }
      MactTensor *next = mact_module_forward1 (child, x, error);
      if (next == NULL)
        return NULL;
      mact_tensor_unref (x);
      x = next;
    }
  return g_steal_pointer (&x);
}

/**
 * mact_tv_single_output:
 * @tensor: (transfer full): the output
 *
 * Returns: (transfer full) (element-type MactTensor): a one-tensor output array
 */
GPtrArray *
mact_tv_single_output (MactTensor *tensor)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_tensor_unref);
  g_ptr_array_add (out, tensor);
  return out;
}

/**
 * mact_tv_single_input:
 * @inputs: (element-type MactTensor): a forward's inputs
 * @block: the block's name, for the message
 * @error: return location for a #GError
 *
 * Returns: (transfer none) (nullable): the only input, or %NULL with
 *   %MACT_MODULE_ERROR_INVALID_INPUT when there is not exactly one
 */
MactTensor *
mact_tv_single_input (GPtrArray *inputs, const char *block, GError **error)
{
  if (inputs == NULL || inputs->len != 1 || g_ptr_array_index (inputs, 0) == NULL)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_INPUT,
                   "%s: expected one input tensor, got %u", block,
                   inputs != NULL ? inputs->len : 0);
      return NULL;
    }
  return g_ptr_array_index (inputs, 0);
}
