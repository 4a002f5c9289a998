/* mact-tv-model.h: the abstract base of the tv. models (torchvision's model builders). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

#define MACT_TV_TYPE_MODEL (mact_tv_model_get_type ())
G_DECLARE_DERIVABLE_TYPE (MactTvModel, mact_tv_model, MACT_TV, MODEL, MactBackbone)

/**
 * MactTvModelClass:
 * @parent_class: the parent class
 * @build_model: validates the builder's arguments and creates the model's layers, with
 *   torchvision's module names.  The base's build() calls it, then either loads
 *   #MactTvModel:weights or, without weights, calls init_weights() (which a model
 *   overrides with its constructor's init loop).
 *
 * The class structure of #MactTvModel.
 */
struct _MactTvModelClass
{
  MactBackboneClass parent_class;

  gboolean (*build_model) (MactTvModel *self,
                           GError     **error);

  /*< private >*/
  gpointer padding[8];
};

const char *mact_tv_model_get_name      (MactTvModel     *self);
MactTensor *mact_tv_model_check_input   (MactTvModel     *self,
                                         GPtrArray       *inputs,
                                         gint             ndim,
                                         GError         **error);
gboolean    mact_tv_model_check_tensor  (MactTvModel     *self,
                                         MactTensor      *input,
                                         gint             ndim,
                                         GError         **error);
gboolean    mact_tv_model_invalid       (MactTvModel     *self,
                                         GError         **error,
                                         const char      *format,
                                         ...) G_GNUC_PRINTF (3, 4);
GType       mact_tv_model_register_variant (GType           parent,
                                            const char     *type_name,
                                            GClassInitFunc  class_init,
                                            gconstpointer   class_data);

G_END_DECLS
