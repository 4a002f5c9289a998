/* mact-cls-utils.h: helpers the cls blocks share: mmcv's layer configs (conv_cfg,
 * norm_cfg, act_cfg), layer creation, walks over a module tree, freezing and the
 * residual forward.  Internal to the plugin (hidden symbols). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/**
 * MactClsNormCfg:
 * @eps: the batch norm's eps (norm_cfg's `eps`, default 1e-5)
 * @momentum: the batch norm's momentum (norm_cfg's `momentum`, default 0.1)
 * @requires_grad: whether the affine parameters are trained (norm_cfg's `requires_grad`)
 * @sync: the norm is `SyncBN` (statistics shared across data-parallel processes)
 *
 * The parts of mmcv's norm_cfg that the cls blocks support (batch norm only).
 */
typedef struct {
  double   eps;
  double   momentum;
  gboolean requires_grad;
  gboolean sync;
} MactClsNormCfg;

/**
 * MactClsResBlockArgs:
 * @in_channels: input channels
 * @out_channels: output channels
 * @expansion: out_channels / mid_channels (1 for BasicBlock)
 * @stride: the block's stride
 * @dilation: the dilation of the 3x3 conv (conv1 of BasicBlock, conv2 of Bottleneck)
 * @caffe_style: Bottleneck: the stride on conv1 instead of conv2
 * @groups: Bottleneck: groups of conv2 (1 for ResNet; ResNeXt's cardinality)
 * @width_per_group: ResNeXt: width of each group (used when @groups != 1)
 * @base_channels: ResNeXt: the backbone's base_channels (used when @groups != 1)
 * @drop_path_rate: the DropPath probability of the residual branch
 * @norm: the norm config
 *
 * The arguments mmcls's ResLayer gives each residual block.
 */
typedef struct {
  gint                  in_channels;
  gint                  out_channels;
  gint                  expansion;
  gint                  stride;
  gint                  dilation;
  gboolean              caffe_style;
  gint                  groups;
  gint                  width_per_group;
  gint                  base_channels;
  double                drop_path_rate;
  const MactClsNormCfg *norm;
} MactClsResBlockArgs;

MactModule *mact_cls_drop_path_or_identity (double drop_path_rate,
                                            GError **error);

gboolean    mact_cls_parse_conv_cfg   (JsonNode             *cfg,
                                       const char           *block,
                                       GError              **error);
gboolean    mact_cls_parse_norm_cfg   (JsonNode             *cfg,
                                       const char           *block,
                                       MactClsNormCfg       *out,
                                       GError              **error);
gboolean    mact_cls_parse_act_cfg    (JsonNode             *cfg,
                                       const char           *block,
                                       MactActivationKind    default_kind,
                                       MactActivationKind   *out,
                                       GError              **error);

gboolean    mact_cls_read_out_indices (GVariant             *out_indices,
                                       gint                  n_stages,
                                       const char           *block,
                                       gboolean             *mask,
                                       GError              **error);
gboolean    mact_cls_invalid_argument (GError              **error,
                                       const char           *block,
                                       const char           *format,
                                       ...) G_GNUC_PRINTF (3, 4);

MactModule *mact_cls_conv_new         (gint                  in_channels,
                                       gint                  out_channels,
                                       gint                  kernel_size,
                                       gint                  stride,
                                       gint                  padding,
                                       gint                  dilation,
                                       gint                  groups,
                                       GError              **error);
MactModule *mact_cls_norm_new         (gint                  num_features,
                                       const MactClsNormCfg *cfg,
                                       GError              **error);
MactModule *mact_cls_conv_module_new  (gint                  in_channels,
                                       gint                  out_channels,
                                       gint                  kernel_size,
                                       gint                  stride,
                                       gint                  padding,
                                       gint                  groups,
                                       const MactClsNormCfg *norm,
                                       gboolean              has_act,
                                       MactActivationKind    act,
                                       GError              **error);

/* Calls @func on every module below @root (depth first, in registration order, as
 * PyTorch's modules() without the root itself). */
typedef void (*MactClsModuleFunc) (MactModule *module, gpointer user_data);
void        mact_cls_foreach_module   (MactModule           *root,
                                       MactClsModuleFunc     func,
                                       gpointer              user_data);
void        mact_cls_set_requires_grad (MactModule          *module,
                                        gboolean             requires_grad);
void        mact_cls_eval_batch_norms (MactModule           *module);
void        mact_cls_freeze           (MactModule           *module);


gboolean    mact_cls_check_input      (GPtrArray            *inputs,
                                       const char           *block,
                                       gint                  channels,
                                       GError              **error);
GPtrArray  *mact_cls_single_output    (MactTensor           *tensor);
GPtrArray  *mact_cls_residual_forward (const char           *block,
                                       MactModule          **path,
                                       guint                 n_path,
                                       MactModule           *downsample,
                                       MactModule           *drop_path,
                                       MactModule           *relu,
                                       GPtrArray            *inputs,
                                       GError              **error);

/* Property storage helpers for set_property/finalize. */
void        mact_cls_replace_variant  (GVariant            **slot,
                                       const GValue         *value);
void        mact_cls_replace_json     (JsonNode            **slot,
                                       const GValue         *value);
void        mact_cls_clear_json       (JsonNode            **slot);

G_END_DECLS
