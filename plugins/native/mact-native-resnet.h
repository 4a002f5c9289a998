/* mact-native-resnet.h: mmaction2's 2-D ResNet backbone ("ResNet"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_RESNET (mact_native_resnet_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactNativeResNet, mact_native_resnet, MACT_NATIVE, RESNET,
                          MactBackbone)

/**
 * MactNativeResNetClass:
 * @parent_class: the parent class
 *
 * The class structure of #MactNativeResNet.  Derivable so that the ResNet variants of
 * mmaction2 (ResNetTSM, ResNetTIN) can build on it.
 */
struct _MactNativeResNetClass
{
  MactBackboneClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

G_END_DECLS
