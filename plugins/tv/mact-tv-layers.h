/* mact-tv-layers.h: helpers the tv. models share: torchvision's layer idioms
 * (Conv{2,3}dNormActivation, _make_divisible), its weight-init loops and running a
 * module's children in sequence.  Internal to the plugin (hidden symbols). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/**
 * MactTvBatchNorm:
 * @eps: the norm layer's eps
 * @momentum: the norm layer's momentum
 *
 * The arguments torchvision's models give their norm layer (nn.BatchNorm2d/3d with
 * PyTorch's defaults, or the partial() of MobileNetV3 and S3D).
 */
typedef struct {
  double eps;
  double momentum;
} MactTvBatchNorm;

extern const MactTvBatchNorm mact_tv_bn_default;

MactModule *mact_tv_batch_norm_new     (gint                    dims,
                                        gint                    num_features,
                                        const MactTvBatchNorm  *bn,
                                        GError                **error);
MactModule *mact_tv_conv_norm_act_new  (gint                    dims,
                                        gint                    in_channels,
                                        gint                    out_channels,
                                        const gint             *kernel_size,
                                        const gint             *stride,
                                        const gint             *padding,
                                        const gint             *dilation,
                                        gint                    groups,
                                        const MactTvBatchNorm  *bn,
                                        gboolean                has_act,
                                        MactActivationKind      act,
                                        GError                **error);
MactModule *mact_tv_conv_norm_act_k    (gint                    dims,
                                        gint                    in_channels,
                                        gint                    out_channels,
                                        gint                    kernel_size,
                                        gint                    stride,
                                        gint                    groups,
                                        const MactTvBatchNorm  *bn,
                                        gboolean                has_act,
                                        MactActivationKind      act,
                                        GError                **error);

MactModule *mact_tv_temporal_separable_conv_new (gint                   in_planes,
                                                gint                   out_planes,
                                                gint                   kernel_size,
                                                gint                   stride,
                                                gint                   padding,
                                                const MactTvBatchNorm *bn,
                                                GError               **error);

gint        mact_tv_make_divisible     (double                  value,
                                        gint                    divisor);

/* How a model's construction loop initialises its layers (torchvision's
 * `for m in self.modules()` blocks). */
typedef enum {
  MACT_TV_INIT_RESNET,       /* conv kaiming_normal fan_out; BN 1/0; linear as nn.Linear
                              * makes it (kaiming_uniform(a=sqrt(5)), uniform bias) */
  MACT_TV_INIT_CLASSIFIER,   /* conv kaiming_normal fan_out, bias 0; BN 1/0; linear
                              * normal(0, 0.01), bias 0 (MobileNets, video ResNets) */
  MACT_TV_INIT_DEFAULT,      /* PyTorch's reset_parameters(): conv and linear
                              * kaiming_uniform(a=sqrt(5)) and uniform biases; BN 1/0 */
} MactTvInit;

gboolean    mact_tv_init_weights       (MactModule             *root,
                                        MactTvInit              init,
                                        MactGenerator          *generator,
                                        GError                **error);

MactTensor *mact_tv_run_children       (MactModule             *module,
                                        const char *const      *names,
                                        MactTensor             *input,
                                        GError                **error);
GPtrArray  *mact_tv_single_output      (MactTensor             *tensor);
MactTensor *mact_tv_single_input       (GPtrArray              *inputs,
                                        const char             *block,
                                        GError                **error);

G_END_DECLS
