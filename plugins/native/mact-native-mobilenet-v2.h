/* mact-native-mobilenet-v2.h: mmaction2's own MobileNetV2 backbone ("MobileNetV2"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_MOBILENET_V2 (mact_native_mobilenet_v2_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactNativeMobileNetV2, mact_native_mobilenet_v2, MACT_NATIVE,
                          MOBILENET_V2, MactBackbone)

/**
 * MactNativeMobileNetV2Class:
 * @parent_class: the parent class
 *
 * The class structure of #MactNativeMobileNetV2.  Derivable for MobileNetV2TSM.
 */
struct _MactNativeMobileNetV2Class
{
  MactBackboneClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

G_END_DECLS
