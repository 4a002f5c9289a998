/* mact-tensor.h: MactTensor, a refcounted strided float32 tensor. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-generator.h>

G_BEGIN_DECLS

/**
 * MACT_MAX_DIMS:
 *
 * The largest number of dimensions a #MactTensor can have.
 */
#define MACT_MAX_DIMS 6

/**
 * MACT_TENSOR_ALIGNMENT:
 *
 * The alignment in bytes of storage that mact allocates itself.
 */
#define MACT_TENSOR_ALIGNMENT 64

/**
 * MactTensor:
 *
 * A refcounted float32 tensor of up to %MACT_MAX_DIMS dimensions.
 *
 * A tensor is a strided view of a refcounted storage: views made by
 * mact_tensor_reshape(), mact_tensor_permute(), mact_tensor_narrow() and friends share
 * the storage with their source, as in PyTorch.  Sizes and strides are counted in
 * elements.  A tensor records how it was computed when autograd is enabled (see
 * mact_tensor_backward()).
 *
 * Since: 0.1
 */
typedef struct _MactTensor MactTensor;

/**
 * MactFanMode:
 * @MACT_FAN_IN: preserve the variance of the forward pass (PyTorch's `fan_in`).
 * @MACT_FAN_OUT: preserve the variance of the backward pass (`fan_out`).
 *
 * Which fan kaiming initialisation scales by.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_FAN_IN,
  MACT_FAN_OUT,
} MactFanMode;

#define MACT_TYPE_TENSOR (mact_tensor_get_type ())
MACT_AVAILABLE_IN_0_1
GType        mact_tensor_get_type        (void) G_GNUC_CONST;

/* creation */
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_new             (gint            ndim,
                                          const gint64   *shape,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_new_empty       (gint            ndim,
                                          const gint64   *shape,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_new_full        (gint            ndim,
                                          const gint64   *shape,
                                          float           value,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_new_like        (MactTensor     *other,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_new_from_data   (const float    *data,
                                          gsize           n_data,
                                          gint            ndim,
                                          const gint64   *shape,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_new_from_bytes  (GBytes         *bytes,
                                          gint            ndim,
                                          const gint64   *shape,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_new_scalar      (float           value);
MACT_AVAILABLE_IN_0_1
GBytes      *mact_tensor_to_bytes        (MactTensor     *self);

/* refcounting */
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_ref             (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
void         mact_tensor_unref           (MactTensor     *self);

/* metadata */
MACT_AVAILABLE_IN_0_1
gint         mact_tensor_get_ndim        (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
const gint64 *mact_tensor_get_shape      (MactTensor     *self,
                                          gint           *ndim);
MACT_AVAILABLE_IN_0_1
const gint64 *mact_tensor_get_strides    (MactTensor     *self,
                                          gint           *ndim);
MACT_AVAILABLE_IN_0_1
gint64       mact_tensor_get_size        (MactTensor     *self,
                                          gint            dim);
MACT_AVAILABLE_IN_0_1
gint64       mact_tensor_get_numel       (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_is_contiguous   (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_shares_storage  (MactTensor     *self,
                                          MactTensor     *other);
MACT_AVAILABLE_IN_0_1
gchar       *mact_tensor_shape_to_string (MactTensor     *self);

/* element access */
MACT_AVAILABLE_IN_0_1
float       *mact_tensor_get_data        (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
float        mact_tensor_get_item        (MactTensor     *self,
                                          const gint64   *index);
MACT_AVAILABLE_IN_0_1
float        mact_tensor_item            (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
void         mact_tensor_copy_to_array   (MactTensor     *self,
                                          float          *out);

/* views (share storage; differentiable) */
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_view            (MactTensor     *self,
                                          gint            ndim,
                                          const gint64   *shape,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_reshape         (MactTensor     *self,
                                          gint            ndim,
                                          const gint64   *shape,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_permute         (MactTensor     *self,
                                          gint            ndim,
                                          const gint     *dims,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_transpose       (MactTensor     *self,
                                          gint            dim0,
                                          gint            dim1,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_narrow          (MactTensor     *self,
                                          gint            dim,
                                          gint64          start,
                                          gint64          length,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_slice           (MactTensor     *self,
                                          gint            dim,
                                          gint64          start,
                                          gint64          end,
                                          gint64          step,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_squeeze         (MactTensor     *self,
                                          gint            dim,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_squeeze_all     (MactTensor     *self,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_unsqueeze       (MactTensor     *self,
                                          gint            dim,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_flatten         (MactTensor     *self,
                                          gint            start_dim,
                                          gint            end_dim,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_contiguous      (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_clone           (MactTensor     *self);
MACT_AVAILABLE_IN_0_1
MactTensor  *mact_tensor_detach          (MactTensor     *self);

/* in-place fills (never recorded by autograd) */
MACT_AVAILABLE_IN_0_1
void         mact_tensor_fill            (MactTensor     *self,
                                          float           value);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_copy_from       (MactTensor     *self,
                                          MactTensor     *src,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
void         mact_tensor_uniform_        (MactTensor     *self,
                                          MactGenerator  *generator,
                                          double          low,
                                          double          high);
MACT_AVAILABLE_IN_0_1
void         mact_tensor_normal_         (MactTensor     *self,
                                          MactGenerator  *generator,
                                          double          mean,
                                          double          std);
MACT_AVAILABLE_IN_0_1
void         mact_tensor_trunc_normal_   (MactTensor     *self,
                                          MactGenerator  *generator,
                                          double          mean,
                                          double          std,
                                          double          low,
                                          double          high);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_calculate_fans  (MactTensor     *self,
                                          gint64         *fan_in,
                                          gint64         *fan_out,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_kaiming_uniform_ (MactTensor    *self,
                                          MactGenerator  *generator,
                                          double          a,
                                          MactFanMode     mode,
                                          const char     *nonlinearity,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_kaiming_normal_ (MactTensor     *self,
                                          MactGenerator  *generator,
                                          double          a,
                                          MactFanMode     mode,
                                          const char     *nonlinearity,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_xavier_uniform_ (MactTensor     *self,
                                          MactGenerator  *generator,
                                          double          gain,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
gboolean     mact_tensor_xavier_normal_  (MactTensor     *self,
                                          MactGenerator  *generator,
                                          double          gain,
                                          GError        **error);
MACT_AVAILABLE_IN_0_1
gboolean     mact_calculate_gain         (const char     *nonlinearity,
                                          double          param,
                                          double         *gain,
                                          GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactTensor, mact_tensor_unref)

G_END_DECLS
