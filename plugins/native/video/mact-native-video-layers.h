/* mact-native-video-layers.h: helpers the 3-D video blocks share: mmcv's conv_cfg and
 * norm_cfg as the 3-D networks use them (Conv3d or Conv2plus1d; BN3d with eps and
 * momentum), ConvModules with per-dimension kernels, and per-stage tuples.  Internal to
 * the plugin (hidden symbols); the generic walks and initialisers come from the first
 * native plugin's mact-native-layers.c, compiled into this module too. */
#pragma once

#include <mact/mact.h>
#include "mact-native-layers.h"

G_BEGIN_DECLS

/**
 * MactNativeVideoNormCfg:
 * @requires_grad: the norm's affine parameters are trained (norm_cfg's `requires_grad`)
 * @eps: the norm's eps
 * @momentum: the norm's momentum
 * @sync: the norm is `SyncBN` (statistics shared across data-parallel processes)
 *
 * The parts of an mmcv `norm_cfg` for a 3-D batch norm that mact supports.
 */
typedef struct {
  gboolean requires_grad;
  double   eps;
  double   momentum;
  gboolean sync;
} MactNativeVideoNormCfg;

/**
 * MactNativeVideoLayerCfg:
 * @norm: the norm layers' config
 * @plus1d: convolutions are mmaction2's Conv2plus1d (conv_cfg type 'Conv2plus1d')
 * @inner_norm: the norm inside a Conv2plus1d (conv_cfg's own `norm_cfg`, else BN3d)
 *
 * What a 3-D block needs to know to build its ConvModules.  Activations are always
 * ReLU (mmaction2's act_cfg default, the only one supported).
 */
typedef struct {
  MactNativeVideoNormCfg norm;
  gboolean               plus1d;
  MactNativeVideoNormCfg inner_norm;
} MactNativeVideoLayerCfg;

gboolean    mact_native_video_parse_norm_cfg (JsonNode               *cfg,
                                              const char             *block,
                                              const char             *key,
                                              MactNativeVideoNormCfg *out,
                                              GError                **error);
gboolean    mact_native_video_parse_conv_cfg (JsonNode                *cfg,
                                              const char              *block,
                                              gboolean                 allow_plus1d,
                                              MactNativeVideoLayerCfg *out,
                                              GError                 **error);

MactModule *mact_native_video_conv_module_new (gint                           in_channels,
                                               gint                           out_channels,
                                               const gint                    *kernel_size,
                                               const gint                    *stride,
                                               const gint                    *padding,
                                               const gint                    *dilation,
                                               gint                           groups,
                                               const MactNativeVideoLayerCfg *cfg,
                                               gboolean                       with_norm,
                                               gboolean                       with_act,
                                               GError                       **error);

gboolean    mact_native_video_read_ints      (GVariant   *tuple,
                                              gint        n_min,
                                              gint        n_max,
                                              gint       *out,
                                              gint       *n_out,
                                              const char *block,
                                              const char *name,
                                              GError    **error);
gboolean    mact_native_video_read_block_flags (GVariant    *spec,
                                                gint         num_stages,
                                                const gint  *stage_blocks,
                                                gboolean    *flags,
                                                const char  *block,
                                                const char  *name,
                                                GError     **error);
GVariant   *mact_native_video_int_tuple      (gsize         n,
                                              const gint64 *values);

gboolean    mact_native_video_invalid        (GError    **error,
                                              const char *block,
                                              const char *format,
                                              ...) G_GNUC_PRINTF (3, 4);

void        mact_native_video_zero_norm      (MactModule *conv_module);

MactTensorDict *mact_native_video_read_checkpoint (const char *block,
                                                   const char *path,
                                                   GError    **error);
gboolean    mact_native_video_load_checkpoint (MactModule *module,
                                               const char *block,
                                               const char *path,
                                               gboolean    strict,
                                               GError    **error);

G_END_DECLS
