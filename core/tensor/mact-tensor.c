/* mact-tensor.c: storage, creation, metadata, element access and views of MactTensor. */
#include "mact-tensor-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef G_OS_UNIX
#include <sys/mman.h>
#endif

G_DEFINE_BOXED_TYPE (MactTensor, mact_tensor, mact_tensor_ref, mact_tensor_unref)

/* ------------------------------------------------------------------ storage */

MactStorage *
mact_storage_new_aligned (gsize n_elements, gboolean zero, GError **error)
{
  gsize bytes;
  void *mem = NULL;

  /* Round up to a whole cache line so vector kernels may read the tail safely. */
  if (!g_size_checked_mul (&bytes, MAX (n_elements, 1), sizeof (float)) ||
      !g_size_checked_add (&bytes, bytes, MACT_TENSOR_ALIGNMENT - 1))
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW,
                   "tensor storage of %" G_GSIZE_FORMAT " elements overflows", n_elements);
      return NULL;
    }
  bytes &= ~(gsize) (MACT_TENSOR_ALIGNMENT - 1);
  if (posix_memalign (&mem, MACT_TENSOR_ALIGNMENT, bytes) != 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_NO_MEMORY,
                   "cannot allocate %" G_GSIZE_FORMAT " bytes for a tensor", bytes);
      return NULL;
    }
  if (zero)
    memset (mem, 0, bytes);

  MactStorage *storage = g_new0 (MactStorage, 1);
  storage->ref_count = 1;
  storage->data = mem;
  storage->n_elements = n_elements;
  storage->owns_data = TRUE;
  return storage;
}

MactStorage *
mact_storage_ref (MactStorage *storage)
{
  g_atomic_int_inc (&storage->ref_count);
  return storage;
}

void
mact_storage_unref (MactStorage *storage)
{
  if (storage == NULL || !g_atomic_int_dec_and_test (&storage->ref_count))
    return;
  if (storage->owns_data)
    free (storage->data);
  else if (storage->release != NULL)
    storage->release (storage->release_data);
  g_free (storage);
}

/* ------------------------------------------------------------------ shapes */

gboolean
mact_shape_numel (gint ndim, const gint64 *shape, gint64 *numel, GError **error)
{
  if (ndim < 0 || ndim > MACT_MAX_DIMS)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "a tensor has 0 to %d dimensions, not %d", MACT_MAX_DIMS, ndim);
      return FALSE;
    }
  if (ndim > 0 && shape == NULL)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "a shape of %d dimensions was given no sizes", ndim);
      return FALSE;
    }
  gint64 n = 1;
  for (gint i = 0; i < ndim; i++)
    {
      if (shape[i] < 0)
        {
          g_autofree char *s = mact_shape_format (ndim, shape);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW,
                       "shape %s has a negative size in dimension %d", s, i);
          return FALSE;
        }
      /* Keep numel * sizeof (float) representable too, so byte sizes never overflow. */
      if (__builtin_mul_overflow (n, shape[i], &n) || n > G_MAXINT64 / (gint64) sizeof (float))
        {
          g_autofree char *s = mact_shape_format (ndim, shape);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW,
                       "the element count of shape %s overflows", s);
          return FALSE;
        }
    }
  if (numel)
    *numel = n;
  return TRUE;
}

void
mact_shape_contiguous_strides (gint ndim, const gint64 *shape, gint64 *strides)
{
  gint64 s = 1;
  for (gint i = ndim - 1; i >= 0; i--)
    {
      strides[i] = s;
      s *= MAX (shape[i], 1);
    }
}

gboolean
mact_normalize_dim (gint dim, gint ndim, gint *out, GError **error)
{
  gint lo = -MAX (ndim, 1), hi = MAX (ndim, 1) - 1;
  if (dim < lo || dim > hi)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "dimension %d is out of range [%d, %d] for a %d-D tensor",
                   dim, lo, hi, ndim);
      return FALSE;
    }
  *out = dim < 0 ? dim + MAX (ndim, 1) : dim;
  return TRUE;
}

gchar *
mact_shape_format (gint ndim, const gint64 *shape)
{
  GString *s = g_string_new ("[");
  for (gint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

gboolean
mact_shape_equal (gint ndim_a, const gint64 *a, gint ndim_b, const gint64 *b)
{
  if (ndim_a != ndim_b)
    return FALSE;
  for (gint i = 0; i < ndim_a; i++)
    if (a[i] != b[i])
      return FALSE;
  return TRUE;
}

gboolean
mact_broadcast_shapes (gint ndim_a, const gint64 *a, gint ndim_b, const gint64 *b,
                       gint *ndim_out, gint64 *out, GError **error)
{
  gint nd = MAX (ndim_a, ndim_b);
  for (gint i = 0; i < nd; i++)
    {
      gint ia = i - (nd - ndim_a), ib = i - (nd - ndim_b);
      gint64 sa = ia >= 0 ? a[ia] : 1;
      gint64 sb = ib >= 0 ? b[ib] : 1;
      if (sa != sb && sa != 1 && sb != 1)
        {
          g_autofree char *fa = mact_shape_format (ndim_a, a);
          g_autofree char *fb = mact_shape_format (ndim_b, b);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "shapes %s and %s do not broadcast (dimension %d: %" G_GINT64_FORMAT
                       " vs %" G_GINT64_FORMAT ")", fa, fb, i, sa, sb);
          return FALSE;
        }
      out[i] = sa == 1 ? sb : sa;
    }
  *ndim_out = nd;
  return TRUE;
}

gboolean
mact_check_not_empty (MactTensor *t, const char *op, const char *what, GError **error)
{
  for (gint d = 0; d < t->ndim; d++)
    if (t->shape[d] <= 0)
      {
        g_autofree gchar *s = mact_shape_format (t->ndim, t->shape);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                     "%s: %s must not be empty, got shape %s", op, what, s);
        return FALSE;
      }
  return TRUE;
}

/* ------------------------------------------------------------------ creation */

MactTensor *
mact_tensor_new_view_of (MactStorage *storage, gint64 offset, gint ndim, const gint64 *shape,
                         const gint64 *strides)
{
  MactTensor *t = g_new0 (MactTensor, 1);
  t->ref_count = 1;
  t->storage = mact_storage_ref (storage);
  t->offset = offset;
  t->ndim = ndim;
  for (gint i = 0; i < ndim; i++)
    {
      t->shape[i] = shape[i];
      t->strides[i] = strides[i];
    }
  return t;
}

MactTensor *
mact_tensor_new_with_shape (gint ndim, const gint64 *shape, gboolean zero, GError **error)
{
  gint64 numel;
  if (!mact_shape_numel (ndim, shape, &numel, error))
    return NULL;
  MactStorage *storage = mact_storage_new_aligned ((gsize) numel, zero, error);
  if (storage == NULL)
    return NULL;
  gint64 strides[MACT_MAX_DIMS];
  mact_shape_contiguous_strides (ndim, shape, strides);
  MactTensor *t = mact_tensor_new_view_of (storage, 0, ndim, shape, strides);
  mact_storage_unref (storage);
  return t;
}

#if defined(G_OS_UNIX) && defined(MAP_ANONYMOUS)
/* Below this size a mapping of its own costs more (a system call, a whole page) than the
 * first-touch zeroing it saves. */
#define UNTOUCHED_MIN_BYTES ((gsize) 64 * 1024)

static void
unmap_storage (gpointer data)
{
  MactStorage *storage = data;
  munmap (storage->data, storage->n_elements * sizeof (float));
}
#endif

MactTensor *
mact_tensor_new_untouched_zeros (gint ndim, const gint64 *shape, GError **error)
{
  gint64 numel;
  if (!mact_shape_numel (ndim, shape, &numel, error))
    return NULL;
#if defined(G_OS_UNIX) && defined(MAP_ANONYMOUS)
  if ((guint64) numel <= G_MAXSIZE / sizeof (float) &&
      (gsize) numel * sizeof (float) >= UNTOUCHED_MIN_BYTES)
    {
      /* Page-aligned, so aligned for the kernels, and a whole number of pages, so the
       * tail they may read past the last element is mapped. */
      gsize bytes = (gsize) numel * sizeof (float);
      void *mem = mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
      if (mem != MAP_FAILED)
        {
          MactStorage *storage = g_new0 (MactStorage, 1);
          storage->ref_count = 1;
          storage->data = mem;
          storage->n_elements = (gsize) numel;
          storage->release = unmap_storage;
          storage->release_data = storage;
          gint64 strides[MACT_MAX_DIMS];
          mact_shape_contiguous_strides (ndim, shape, strides);
          MactTensor *t = mact_tensor_new_view_of (storage, 0, ndim, shape, strides);
          mact_storage_unref (storage);
          return t;
        }
      /* Out of mappings: the ordinary allocation below reports what it can. */
    }
#endif
  return mact_tensor_new_with_shape (ndim, shape, TRUE, error);
}

/**
 * mact_tensor_new:
 * @ndim: number of dimensions, 0 to %MACT_MAX_DIMS
 * @shape: (array length=ndim) (nullable): the size of each dimension
 * @error: return location for a #GError
 *
 * Creates a contiguous tensor filled with zeros.  A negative size, or a shape whose
 * element count overflows, is a %MACT_TENSOR_ERROR_OVERFLOW error.
 *
 * Returns: (transfer full) (nullable): a new tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_new (gint ndim, const gint64 *shape, GError **error)
{
  return mact_tensor_new_with_shape (ndim, shape, TRUE, error);
}

/**
 * mact_tensor_new_empty:
 * @ndim: number of dimensions
 * @shape: (array length=ndim) (nullable): sizes
 * @error: return location for a #GError
 *
 * Creates a contiguous tensor whose contents are not initialised.
 *
 * Returns: (transfer full) (nullable): a new tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_new_empty (gint ndim, const gint64 *shape, GError **error)
{
  return mact_tensor_new_with_shape (ndim, shape, FALSE, error);
}

/**
 * mact_tensor_new_full:
 * @ndim: number of dimensions
 * @shape: (array length=ndim) (nullable): sizes
 * @value: the fill value
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new tensor filled with @value, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_new_full (gint ndim, const gint64 *shape, float value, GError **error)
{
  MactTensor *t = mact_tensor_new_with_shape (ndim, shape, FALSE, error);
  if (t != NULL)
    mact_tensor_fill (t, value);
  return t;
}

/**
 * mact_tensor_new_like:
 * @other: a tensor
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a zero-filled contiguous tensor of @other's shape
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_new_like (MactTensor *other, GError **error)
{
  g_return_val_if_fail (other != NULL, NULL);
  return mact_tensor_new_with_shape (other->ndim, other->shape, TRUE, error);
}

/**
 * mact_tensor_new_scalar:
 * @value: the value
 *
 * Returns: (transfer full): a 0-D tensor holding @value
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_new_scalar (float value)
{
  MactTensor *t = mact_tensor_new_with_shape (0, NULL, FALSE, NULL);
  mact_tensor_data (t)[0] = value;
  return t;
}

static gboolean
check_data_size (gsize n_data, gint ndim, const gint64 *shape, gint64 *numel, GError **error)
{
  if (!mact_shape_numel (ndim, shape, numel, error))
    return FALSE;
  if ((guint64) *numel != (guint64) n_data)
    {
      g_autofree char *s = mact_shape_format (ndim, shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "shape %s needs %" G_GINT64_FORMAT " floats, but %" G_GSIZE_FORMAT
                   " were given", s, *numel, n_data);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_tensor_new_from_data:
 * @data: (array length=n_data): float32 values in row-major order
 * @n_data: number of values in @data
 * @ndim: number of dimensions
 * @shape: (array length=ndim) (nullable): sizes
 * @error: return location for a #GError
 *
 * Creates a tensor holding a copy of @data.  @n_data must equal the element count of
 * @shape (%MACT_TENSOR_ERROR_SHAPE otherwise).
 *
 * Returns: (transfer full) (nullable): a new tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_new_from_data (const float *data, gsize n_data, gint ndim, const gint64 *shape,
                           GError **error)
{
  gint64 numel;
  g_return_val_if_fail (data != NULL || n_data == 0, NULL);
  if (!check_data_size (n_data, ndim, shape, &numel, error))
    return NULL;
  MactTensor *t = mact_tensor_new_with_shape (ndim, shape, FALSE, error);
  if (t != NULL && numel > 0)
    memcpy (mact_tensor_data (t), data, (gsize) numel * sizeof (float));
  return t;
}

static void
release_bytes (gpointer bytes)
{
  g_bytes_unref (bytes);
}

/**
 * mact_tensor_new_from_bytes:
 * @bytes: native-endian float32 values in row-major order
 * @ndim: number of dimensions
 * @shape: (array length=ndim) (nullable): sizes
 * @error: return location for a #GError
 *
 * Creates a tensor from the contents of @bytes, whose size must be exactly 4 times the
 * element count of @shape.  When the data is suitably aligned the tensor shares the
 * memory of @bytes (keeping a reference; the memory must then not change); otherwise it
 * copies.  This is how bindings hand NumPy arrays over (`array.tobytes()`).
 *
 * Returns: (transfer full) (nullable): a new tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_new_from_bytes (GBytes *bytes, gint ndim, const gint64 *shape, GError **error)
{
  gsize size = 0;
  gint64 numel;
  g_return_val_if_fail (bytes != NULL, NULL);
  const guint8 *data = g_bytes_get_data (bytes, &size);
  if (size % sizeof (float) != 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%" G_GSIZE_FORMAT " bytes are not a whole number of float32 values", size);
      return NULL;
    }
  if (!check_data_size (size / sizeof (float), ndim, shape, &numel, error))
    return NULL;
  if (numel == 0 || ((guintptr) data % sizeof (float)) != 0)
    {
      MactTensor *t = mact_tensor_new_with_shape (ndim, shape, FALSE, error);
      if (t != NULL && numel > 0)
        memcpy (mact_tensor_data (t), data, size);
      return t;
    }
  MactStorage *storage = g_new0 (MactStorage, 1);
  storage->ref_count = 1;
  storage->data = (float *) data;
  storage->n_elements = (gsize) numel;
  storage->release = release_bytes;
  storage->release_data = g_bytes_ref (bytes);
  gint64 strides[MACT_MAX_DIMS];
  mact_shape_contiguous_strides (ndim, shape, strides);
  MactTensor *t = mact_tensor_new_view_of (storage, 0, ndim, shape, strides);
  mact_storage_unref (storage);
  return t;
}

gboolean
mact_tensor_adopt_mapped_storage (MactTensor *target, MactTensor *source)
{
  MactStorage *mapped = source->storage;

  if (!mact_shape_equal (target->ndim, target->shape, source->ndim, source->shape) ||
      !mact_tensor_is_contiguous (target) || !mact_tensor_is_contiguous (source))
    return FALSE;
  /* The same file loaded again into a module that already uses it: nothing to do. */
  if (target->storage == mapped && target->offset == source->offset)
    return TRUE;
  /* A mapping another tensor also uses (a view of the source, or a parameter that
   * adopted it before, which also cleared the mark) is not taken: two parameters must
   * never share memory. */
  if (!mapped->cow_mapping || g_atomic_int_get (&mapped->ref_count) != 1)
    return FALSE;
  /* Nothing else may see the target's old storage: a view of a parameter made before
   * loading must keep reading the parameter's values, which only a copy gives. */
  if (target->offset != 0 ||
      target->storage->n_elements != (gsize) mact_tensor_get_numel (target) ||
      g_atomic_int_get (&target->storage->ref_count) != 1)
    return FALSE;

  MactStorage *old = target->storage;
  target->storage = mact_storage_ref (mapped);
  target->offset = source->offset;
  mact_storage_unref (old);
  /* The memory is a parameter's now: loading this module's own state dict into another
   * module must copy it, even once the state dict it came from is gone. */
  mapped->cow_mapping = FALSE;
  return TRUE;
}

/**
 * mact_tensor_to_bytes:
 * @self: a tensor
 *
 * Copies the tensor's values, in row-major order, into new bytes (native-endian float32).
 *
 * Returns: (transfer full): the values
 *
 * Since: 0.1
 */
GBytes *
mact_tensor_to_bytes (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  gint64 n = mact_tensor_get_numel (self);
  float *buf = g_new (float, MAX (n, 1));
  mact_tensor_copy_to_array (self, buf);
  return g_bytes_new_take (buf, (gsize) n * sizeof (float));
}

/* ------------------------------------------------------------------ refcount */

/**
 * mact_tensor_ref:
 * @self: a tensor
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
MactTensor *
mact_tensor_ref (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * mact_tensor_unref:
 * @self: (transfer full): a tensor
 *
 * Since: 0.1
 */
void
mact_tensor_unref (MactTensor *self)
{
  g_return_if_fail (self != NULL);
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;
  mact_storage_unref (self->storage);
  if (self->grad)
    mact_tensor_unref (self->grad);
  if (self->grad_fn)
    mact_node_unref (self->grad_fn);
  g_free (self);
}

/* ------------------------------------------------------------------ metadata */

/**
 * mact_tensor_get_ndim:
 * @self: a tensor
 *
 * Returns: the number of dimensions
 *
 * Since: 0.1
 */
gint
mact_tensor_get_ndim (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->ndim;
}

/**
 * mact_tensor_get_shape:
 * @self: a tensor
 * @ndim: (out) (optional): the number of dimensions
 *
 * Returns: (array length=ndim) (transfer none): the sizes
 *
 * Since: 0.1
 */
const gint64 *
mact_tensor_get_shape (MactTensor *self, gint *ndim)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (ndim)
    *ndim = self->ndim;
  return self->shape;
}

/**
 * mact_tensor_get_strides:
 * @self: a tensor
 * @ndim: (out) (optional): the number of dimensions
 *
 * Returns: (array length=ndim) (transfer none): the strides, in elements
 *
 * Since: 0.1
 */
const gint64 *
mact_tensor_get_strides (MactTensor *self, gint *ndim)
{
  g_return_val_if_fail (self != NULL, NULL);
  if (ndim)
    *ndim = self->ndim;
  return self->strides;
}

/**
 * mact_tensor_get_size:
 * @self: a tensor
 * @dim: a dimension, negative counts from the end
 *
 * Returns: the size of @dim, or -1 if @dim is out of range
 *
 * Since: 0.1
 */
gint64
mact_tensor_get_size (MactTensor *self, gint dim)
{
  g_return_val_if_fail (self != NULL, -1);
  if (dim < 0)
    dim += self->ndim;
  if (dim < 0 || dim >= self->ndim)
    return -1;
  return self->shape[dim];
}

/**
 * mact_tensor_get_numel:
 * @self: a tensor
 *
 * Returns: the number of elements
 *
 * Since: 0.1
 */
gint64
mact_tensor_get_numel (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, 0);
  gint64 n = 1;
  for (gint i = 0; i < self->ndim; i++)
    n *= self->shape[i];
  return n;
}

/**
 * mact_tensor_is_contiguous:
 * @self: a tensor
 *
 * Returns: whether the elements lie in row-major order without gaps
 *
 * Since: 0.1
 */
gboolean
mact_tensor_is_contiguous (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  gint64 expected = 1;
  for (gint i = self->ndim - 1; i >= 0; i--)
    {
      if (self->shape[i] == 1)
        continue;
      if (self->strides[i] != expected)
        return FALSE;
      expected *= self->shape[i];
    }
  return TRUE;
}

/**
 * mact_tensor_shares_storage:
 * @self: a tensor
 * @other: another tensor
 *
 * Returns: whether both tensors view the same storage
 *
 * Since: 0.1
 */
gboolean
mact_tensor_shares_storage (MactTensor *self, MactTensor *other)
{
  g_return_val_if_fail (self != NULL && other != NULL, FALSE);
  return self->storage == other->storage;
}

/**
 * mact_tensor_shape_to_string:
 * @self: a tensor
 *
 * Returns: (transfer full): the shape written as "[2, 3]"
 *
 * Since: 0.1
 */
gchar *
mact_tensor_shape_to_string (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return mact_shape_format (self->ndim, self->shape);
}

/* ------------------------------------------------------------------ element access */

/**
 * mact_tensor_get_data: (skip)
 * @self: a tensor
 *
 * Direct access to the first element.  The elements are laid out by the tensor's strides;
 * only when mact_tensor_is_contiguous() holds are they a plain row-major array.
 * Bindings, which cannot hold a raw pointer, use mact_tensor_to_bytes() instead.
 *
 * Returns: (transfer none): a pointer to the first element
 *
 * Since: 0.1
 */
float *
mact_tensor_get_data (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return mact_tensor_data (self);
}

/**
 * mact_tensor_get_item: (skip)
 * @self: a tensor
 * @index: (array): one index per dimension, each in range
 *
 * Not introspectable: the length of @index is the tensor's number of dimensions, which
 * the annotations cannot express; bindings read elements through mact_tensor_to_bytes().
 *
 * Returns: the element at @index
 *
 * Since: 0.1
 */
float
mact_tensor_get_item (MactTensor *self, const gint64 *index)
{
  g_return_val_if_fail (self != NULL, 0.0f);
  gint64 off = self->offset;
  for (gint i = 0; i < self->ndim; i++)
    {
      g_return_val_if_fail (index[i] >= 0 && index[i] < self->shape[i], 0.0f);
      off += index[i] * self->strides[i];
    }
  return self->storage->data[off];
}

/**
 * mact_tensor_item:
 * @self: a tensor with exactly one element
 *
 * Returns: the single element
 *
 * Since: 0.1
 */
float
mact_tensor_item (MactTensor *self)
{
  g_return_val_if_fail (self != NULL, 0.0f);
  g_return_val_if_fail (mact_tensor_get_numel (self) == 1, 0.0f);
  return mact_tensor_data (self)[0];
}

/* Copies a strided tensor into a row-major buffer, innermost dimension as the fast loop. */
static void
gather_strided (MactTensor *t, float *out)
{
  gint64 numel = mact_tensor_get_numel (t);
  if (numel == 0)
    return;
  const float *base = mact_tensor_data (t);
  if (t->ndim == 0)
    {
      out[0] = base[0];
      return;
    }
  gint last = t->ndim - 1;
  gint64 inner = t->shape[last], inner_stride = t->strides[last];
  gint64 idx[MACT_MAX_DIMS] = { 0 };
  gint64 outer = numel / inner;
  for (gint64 o = 0; o < outer; o++)
    {
      gint64 off = 0;
      for (gint d = 0; d < last; d++)
        off += idx[d] * t->strides[d];
      const float *src = base + off;
      float *dst = out + o * inner;
      if (inner_stride == 1)
        memcpy (dst, src, (gsize) inner * sizeof (float));
      else
        for (gint64 i = 0; i < inner; i++)
          dst[i] = src[i * inner_stride];
      for (gint d = last - 1; d >= 0; d--)
        {
          if (++idx[d] < t->shape[d])
            break;
          idx[d] = 0;
        }
    }
}

/**
 * mact_tensor_copy_to_array: (skip)
 * @self: a tensor
 * @out: (array) (out caller-allocates): room for mact_tensor_get_numel() floats
 *
 * Copies the elements in row-major order.  Bindings use mact_tensor_to_bytes(), which
 * allocates the room itself.
 *
 * Since: 0.1
 */
void
mact_tensor_copy_to_array (MactTensor *self, float *out)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (out != NULL || mact_tensor_get_numel (self) == 0);
  if (mact_tensor_is_contiguous (self))
    {
      gint64 n = mact_tensor_get_numel (self);
      if (n > 0)
        memcpy (out, mact_tensor_data (self), (gsize) n * sizeof (float));
    }
  else
    gather_strided (self, out);
}

/* ------------------------------------------------------------------ fills */

/**
 * mact_tensor_fill:
 * @self: a tensor
 * @value: the value
 *
 * Sets every element to @value, in place.
 *
 * Since: 0.1
 */
void
mact_tensor_fill (MactTensor *self, float value)
{
  g_return_if_fail (self != NULL);
  if (mact_tensor_is_contiguous (self))
    {
      float *d = mact_tensor_data (self);
      gint64 n = mact_tensor_get_numel (self);
      for (gint64 i = 0; i < n; i++)
        d[i] = value;
      return;
    }
  gint64 idx[MACT_MAX_DIMS] = { 0 };
  gint64 n = mact_tensor_get_numel (self);
  for (gint64 k = 0; k < n; k++)
    {
      gint64 off = self->offset;
      for (gint d = 0; d < self->ndim; d++)
        off += idx[d] * self->strides[d];
      self->storage->data[off] = value;
      for (gint d = self->ndim - 1; d >= 0; d--)
        {
          if (++idx[d] < self->shape[d])
            break;
          idx[d] = 0;
        }
    }
}

/* Scatters a row-major buffer into a strided tensor. */
static void
scatter_strided (MactTensor *t, const float *in)
{
  gint64 n = mact_tensor_get_numel (t);
  gint64 idx[MACT_MAX_DIMS] = { 0 };
  for (gint64 k = 0; k < n; k++)
    {
      gint64 off = t->offset;
      for (gint d = 0; d < t->ndim; d++)
        off += idx[d] * t->strides[d];
      t->storage->data[off] = in[k];
      for (gint d = t->ndim - 1; d >= 0; d--)
        {
          if (++idx[d] < t->shape[d])
            break;
          idx[d] = 0;
        }
    }
}

/**
 * mact_tensor_copy_from:
 * @self: the destination
 * @src: a tensor of the same shape
 * @error: return location for a #GError
 *
 * Copies @src's values into @self in place (any strides on either side); not recorded
 * by autograd.  Different shapes are a %MACT_TENSOR_ERROR_SHAPE error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_tensor_copy_from (MactTensor *self, MactTensor *src, GError **error)
{
  g_return_val_if_fail (self != NULL && src != NULL, FALSE);
  if (!mact_shape_equal (self->ndim, self->shape, src->ndim, src->shape))
    {
      g_autofree char *a = mact_tensor_shape_to_string (self);
      g_autofree char *b = mact_tensor_shape_to_string (src);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "cannot copy a tensor of shape %s into one of shape %s", b, a);
      return FALSE;
    }
  gint64 n = mact_tensor_get_numel (self);
  if (n == 0)
    return TRUE;
  if (mact_tensor_is_contiguous (self) && mact_tensor_is_contiguous (src))
    {
      /* One pass; memmove because the two may overlap in a shared storage. */
      memmove (mact_tensor_data (self), mact_tensor_data (src), (gsize) n * sizeof (float));
      return TRUE;
    }
  g_autofree float *tmp = g_new (float, n);
  mact_tensor_copy_to_array (src, tmp);
  if (mact_tensor_is_contiguous (self))
    memcpy (mact_tensor_data (self), tmp, (gsize) n * sizeof (float));
  else
    scatter_strided (self, tmp);
  return TRUE;
}
