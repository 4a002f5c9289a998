/* mact-native-tsn-head.h: mmaction2's TSNHead ("TSNHead"). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_NATIVE_TYPE_TSN_HEAD (mact_native_tsn_head_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactNativeTSNHead, mact_native_tsn_head, MACT_NATIVE, TSN_HEAD,
                          MactHead)

/**
 * MactNativeTSNHeadClass:
 * @parent_class: the parent class
 *
 * The class structure of #MactNativeTSNHead.  Derivable for mmaction2's heads built on
 * it (TPNHead).
 */
struct _MactNativeTSNHeadClass
{
  MactHeadClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

G_END_DECLS
