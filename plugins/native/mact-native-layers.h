/* mact-native-layers.h: helpers the native blocks share: mmcv's layer configs
 * (conv_cfg, norm_cfg, act_cfg), ConvModule creation and walks over a module tree.
 * Internal to the plugin (hidden symbols). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/**
 * MactNativeLayerCfg:
 * @with_norm: a norm layer follows the conv (norm_cfg is not None)
 * @norm_requires_grad: the norm layer's affine parameters are trained (norm_cfg's
 *   `requires_grad`)
 * @has_act: an activation follows (act_cfg is not None)
 * @norm_sync: the norm is `SyncBN` (statistics shared across data-parallel processes)
 *
 * The parts of mmcv's conv/norm/act configs that the native blocks support.
 */
typedef struct {
  gboolean with_norm;
  gboolean norm_requires_grad;
  gboolean has_act;
  gboolean norm_sync;
} MactNativeLayerCfg;

gboolean    mact_native_parse_conv_cfg    (JsonNode           *cfg,
                                           const char         *block,
                                           const char *const  *types,
                                           GError            **error);
gboolean    mact_native_parse_norm_cfg    (JsonNode           *cfg,
                                           const char         *block,
                                           const char *const  *types,
                                           gboolean            default_with_norm,
                                           MactNativeLayerCfg *out,
                                           GError            **error);
gboolean    mact_native_parse_act_cfg     (JsonNode           *cfg,
                                           const char         *block,
                                           MactNativeLayerCfg *out,
                                           GError            **error);

gboolean    mact_native_parse_act_kind    (JsonNode           *cfg,
                                           const char         *block,
                                           MactActivationKind  default_kind,
                                           MactNativeLayerCfg *out,
                                           MactActivationKind *kind,
                                           GError            **error);

MactModule *mact_native_conv_module_act_new (gint                       in_channels,
                                             gint                       out_channels,
                                             gint                       kernel_size,
                                             gint                       stride,
                                             gint                       padding,
                                             gint                       groups,
                                             const MactNativeLayerCfg  *cfg,
                                             MactActivationKind         act,
                                             gboolean                   with_act,
                                             GError                   **error);

MactModule *mact_native_conv_module_new   (gint                       dims,
                                           gint                       in_channels,
                                           gint                       out_channels,
                                           gint                       kernel_size,
                                           gint                       stride,
                                           gint                       padding,
                                           gint                       dilation,
                                           const MactNativeLayerCfg  *cfg,
                                           gboolean                   with_act,
                                           GError                   **error);

/* Calls @func on every module below @root (children first-to-last, depth first, as
 * PyTorch's modules() without the root itself). */
typedef void (*MactNativeModuleFunc) (MactModule *module, gpointer user_data);
void        mact_native_foreach_module    (MactModule          *root,
                                           MactNativeModuleFunc func,
                                           gpointer             user_data);

void        mact_native_set_requires_grad (MactModule *module,
                                           gboolean    requires_grad);
void        mact_native_eval_batch_norms  (MactModule *module);
gboolean    mact_native_kaiming_init      (MactTensor    *weight,
                                           MactTensor    *bias,
                                           MactGenerator *generator,
                                           GError       **error);
gboolean    mact_native_normal_init       (MactTensor    *weight,
                                           MactTensor    *bias,
                                           MactGenerator *generator,
                                           double         std,
                                           GError       **error);
void        mact_native_constant_init     (MactTensor *weight,
                                           MactTensor *bias,
                                           float       value);

gboolean    mact_native_check_avg_consensus (JsonNode   *consensus,
                                             const char *block,
                                             GError    **error);

gboolean    mact_native_check_single_input (GPtrArray  *inputs,
                                            const char *block,
                                            GError    **error);

GPtrArray  *mact_native_residual_forward  (MactModule  *block,
                                           MactModule **convs,
                                           guint        n_convs,
                                           MactModule  *downsample,
                                           MactModule  *relu,
                                           GPtrArray   *inputs,
                                           GError     **error);

/* Property storage helpers for set_property/finalize. */
void        mact_native_replace_variant   (GVariant    **slot,
                                           const GValue *value);
void        mact_native_replace_json      (JsonNode    **slot,
                                           const GValue *value);
void        mact_native_clear_json        (JsonNode    **slot);

G_END_DECLS
