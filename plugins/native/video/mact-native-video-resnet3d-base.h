/* mact-native-video-resnet3d-base.h: the shared implementation of mmaction2's ResNet3d
 * family (ResNet3d, ResNet3dPathway, ResNet3dSlowOnly, ResNet2Plus1d). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_VIDEO_TYPE_RESNET3D_BASE (mact_native_video_resnet3d_base_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactNativeVideoResNet3dBase, mact_native_video_resnet3d_base,
                          MACT_NATIVE_VIDEO, RESNET3D_BASE, MactBackbone)

/**
 * MactNativeVideoResNet3dBaseClass:
 * @parent_class: the parent class
 * @block_name: mmaction2's class name, for messages
 * @plus1d: ResNet2Plus1d: Conv2plus1d convolutions (asserted in conv_cfg), pretrained2d
 *   must be %FALSE, and forward always max-pools after the stem and never uses pool2
 * @pathway: ResNet3dPathway semantics: the lateral-connection properties exist and 2-D
 *   inflation pads input channels (mmaction2's ResNet3dPathway._inflate_conv_params)
 * @forbid_lateral: ResNet3dSlowOnly asserts `not lateral`
 *
 * The concrete classes differ only in these flags and in their property defaults, which
 * each installs with mact_native_video_resnet3d_base_install_properties().
 */
struct _MactNativeVideoResNet3dBaseClass
{
  MactBackboneClass parent_class;

  const char *block_name;
  gboolean    plus1d;
  gboolean    pathway;
  gboolean    forbid_lateral;

  /*< private >*/
  gpointer padding[8];
};

/**
 * MactNativeVideoResNet3dDefaults:
 * @conv1_kernel: the default stem kernel (T, H, W)
 * @inflate: the default per-stage inflation
 * @with_pool2: the default of with_pool2
 * @pathway_props: also install ResNet3dPathway's lateral, lateral_norm, speed_ratio,
 *   channel_ratio and fusion_kernel
 *
 * The defaults in which mmaction2's ResNet3d subclasses differ.
 */
typedef struct {
  gint64   conv1_kernel[3];
  gint64   inflate[4];
  gboolean with_pool2;
  gboolean pathway_props;
} MactNativeVideoResNet3dDefaults;

void     mact_native_video_resnet3d_base_install_properties
                                              (GObjectClass                          *klass,
                                               const MactNativeVideoResNet3dDefaults *defaults);
gboolean mact_native_video_resnet3d_base_inflate_weights
                                              (MactNativeVideoResNet3dBase *self,
                                               MactTensorDict              *state_dict_2d,
                                               GError                     **error);
gboolean mact_native_video_resnet3d_base_get_lateral (MactNativeVideoResNet3dBase *self);
gint     mact_native_video_resnet3d_base_get_num_stages (MactNativeVideoResNet3dBase *self);

G_END_DECLS
