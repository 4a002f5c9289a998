/* mact-layers.h: the generic layers plugins build with (PyTorch's nn.Conv2d, ... and
 * mmcv's ConvModule).  Each is a final #MactModule subclass with one .c file in core/nn/;
 * the state-dict keys of each are PyTorch's (`weight`, `bias`, `running_mean`, ...).
 *
 * Every constructor returns a built module (transfer full) or %NULL with a
 * %MACT_MODULE_ERROR_INVALID_ARGUMENT error naming the layer and the argument.  Weights
 * get PyTorch's default initialisation (kaiming_uniform with a = sqrt(5) for conv and
 * linear weights, uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for their biases; ones and
 * zeros for batch norm) drawn from the default generator. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-module.h>
#include <mact/mact-ops-nn.h>

G_BEGIN_DECLS

/**
 * MactActivationKind:
 * @MACT_ACTIVATION_RELU: ReLU
 * @MACT_ACTIVATION_RELU6: ReLU6
 * @MACT_ACTIVATION_SIGMOID: Sigmoid
 * @MACT_ACTIVATION_SILU: SiLU / Swish
 * @MACT_ACTIVATION_HARDSWISH: Hardswish
 *
 * The function of a #MactActivation.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_ACTIVATION_RELU,
  MACT_ACTIVATION_RELU6,
  MACT_ACTIVATION_SIGMOID,
  MACT_ACTIVATION_SILU,
  MACT_ACTIVATION_HARDSWISH,
} MactActivationKind;

/**
 * MactConvBias:
 * @MACT_CONV_BIAS_AUTO: a bias only when no norm follows (mmcv's `bias='auto'`)
 * @MACT_CONV_BIAS_FALSE: no bias
 * @MACT_CONV_BIAS_TRUE: a bias
 *
 * Whether the convolution of a #MactConvModule has a bias (its `bias` property).
 *
 * Since: 0.1
 */
typedef enum {
  MACT_CONV_BIAS_AUTO,
  MACT_CONV_BIAS_FALSE,
  MACT_CONV_BIAS_TRUE,
} MactConvBias;

/* Conv2d / Conv3d: properties dims (2|3), in-channels, out-channels, kernel-size, stride,
 * padding, dilation (int tuples "ax", one value broadcasts), groups, bias. */
#define MACT_TYPE_CONV (mact_conv_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactConv, mact_conv, MACT, CONV, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_conv_new (gint dims, gint in_channels, gint out_channels,
                           const gint *kernel_size, const gint *stride,
                           const gint *padding, const gint *dilation, gint groups,
                           gboolean bias, GError **error);

/* BatchNorm1d/2d/3d: properties dims (1|2|3), num-features, eps (1e-5), momentum (0.1),
 * affine (TRUE), track-running-stats (TRUE), sync (FALSE: SyncBN).  Buffers running_mean, running_var,
 * num_batches_tracked (a 0-D tensor). */
#define MACT_TYPE_BATCH_NORM (mact_batch_norm_layer_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactBatchNorm, mact_batch_norm_layer, MACT, BATCH_NORM, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_batch_norm_new (gint dims, gint num_features, double eps, double momentum,
                                 gboolean affine, GError **error);
MACT_AVAILABLE_IN_0_1
void        mact_batch_norm_set_sync_reducer (MactAllReduceSumFunc func,
                                              gpointer             user_data);

/* Linear: in-features, out-features, bias. */
#define MACT_TYPE_LINEAR (mact_linear_layer_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactLinear, mact_linear_layer, MACT, LINEAR, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_linear_new (gint in_features, gint out_features, gboolean bias,
                             GError **error);

/* Activation: property kind (#MactActivationKind). */
#define MACT_TYPE_ACTIVATION (mact_activation_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactActivation, mact_activation, MACT, ACTIVATION, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_activation_new (MactActivationKind kind);

/* MaxPool2d/3d: dims, kernel-size, stride (empty = kernel), padding, dilation, ceil-mode. */
#define MACT_TYPE_MAX_POOL (mact_max_pool_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactMaxPool, mact_max_pool, MACT, MAX_POOL, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_max_pool_new (gint dims, const gint *kernel_size, const gint *stride,
                               const gint *padding, gboolean ceil_mode, GError **error);

/* AvgPool2d/3d: dims, kernel-size, stride, padding, ceil-mode, count-include-pad. */
#define MACT_TYPE_AVG_POOL (mact_avg_pool_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactAvgPool, mact_avg_pool, MACT, AVG_POOL, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_avg_pool_new (gint dims, const gint *kernel_size, const gint *stride,
                               const gint *padding, gboolean ceil_mode,
                               gboolean count_include_pad, GError **error);

/* AdaptiveAvgPool2d/3d: dims, output-size. */
#define MACT_TYPE_ADAPTIVE_AVG_POOL (mact_adaptive_avg_pool_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactAdaptiveAvgPool, mact_adaptive_avg_pool, MACT, ADAPTIVE_AVG_POOL,
                      MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_adaptive_avg_pool_new (gint dims, const gint64 *output_size, GError **error);

/* Dropout: p (0.5).  Uses its own generator when one is set, else the default one. */
#define MACT_TYPE_DROPOUT (mact_dropout_layer_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactDropout, mact_dropout_layer, MACT, DROPOUT, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_dropout_new (double p, GError **error);
MACT_AVAILABLE_IN_0_1
void        mact_dropout_set_generator (MactDropout *self, MactGenerator *generator);

/* Identity: returns its inputs. */
#define MACT_TYPE_IDENTITY (mact_identity_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactIdentity, mact_identity, MACT, IDENTITY, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_identity_new (void);

/* Sequential: children named "0", "1", ...; forward chains them. */
#define MACT_TYPE_SEQUENTIAL (mact_sequential_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactSequential, mact_sequential, MACT, SEQUENTIAL, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_sequential_new    (void);
MACT_AVAILABLE_IN_0_1
void        mact_sequential_append (MactSequential *self, MactModule *child);
MACT_AVAILABLE_IN_0_1
guint       mact_sequential_get_length (MactSequential *self);

/* ConvModule (mmcv): conv [+ norm] [+ activation] in that order, children "conv", "bn"
 * (BatchNorm; "gn" would be GroupNorm) and "activate".  Properties: the Conv ones but
 * bias, which is a #MactConvBias ("auto", the default, means no bias when a norm
 * follows), with-norm (FALSE; a BatchNorm of the conv's dims), norm-eps (1e-5),
 * norm-momentum (0.1), norm-sync (FALSE; SyncBN), has-act (TRUE) and act (ReLU).
 * Built as mmcv builds it: the conv and norm are then initialised by init_weights
 * (kaiming_normal fan_out for the conv, ones and zeros for the norm). */
#define MACT_TYPE_CONV_MODULE (mact_conv_module_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactConvModule, mact_conv_module, MACT, CONV_MODULE, MactModule)
MACT_AVAILABLE_IN_0_1
MactModule *mact_conv_module_new (gint dims, gint in_channels, gint out_channels,
                                  const gint *kernel_size, const gint *stride,
                                  const gint *padding, const gint *dilation, gint groups,
                                  gboolean with_norm, gboolean has_act,
                                  MactActivationKind act, GError **error);

G_END_DECLS
