/* mact-npy.c: NumPy's .npy container, read and written by hand.
 *
 * A .npy file is the magic "\x93NUMPY", a major and a minor version byte, the header
 * length (a little-endian uint16 for version 1.0, uint32 for 2.0 and 3.0), then the
 * header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by a newline, then the raw array data.  The header is
 * parsed with a small recursive-descent reader for exactly that literal subset (strings,
 * True/False, tuples of integers), so no Python evaluation is ever involved, and every
 * size is checked before the data is touched: a malformed or hostile file is a GError,
 * never an out-of-bounds read. */
#include <mact/mact.h>

#include <string.h>

/* numpy itself refuses headers above 10000 bytes by default; a real header is about a
 * hundred.  This bound only keeps a hostile length from being honoured. */
#define MAX_HEADER_LEN (1024 * 1024)

static const guint8 npy_magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

/* ------------------------------------------------------------------ header parsing */

typedef struct {
  const char *p;
  const char *end;
  const char *source;   /* for messages */
} Cursor;

static gboolean G_GNUC_PRINTF (3, 4)
header_error (Cursor *c, GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT, "%s: malformed .npy header: %s",
               c->source, what);
  return FALSE;
}

static void
skip_ws (Cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static gboolean
expect (Cursor *c, char ch, GError **error)
{
  skip_ws (c);
  if (c->p >= c->end || *c->p != ch)
    return header_error (c, error, "expected '%c'", ch);
  c->p++;
  return TRUE;
}

/* A Python string literal in single or double quotes, without escapes (numpy never
 * writes any in the keys and dtype strings it produces). */
static gboolean
parse_string (Cursor *c, char **out, GError **error)
{
  skip_ws (c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    return header_error (c, error, "expected a quoted string");
  const char quote = *c->p++;
  const char *start = c->p;
  while (c->p < c->end && *c->p != quote)
    {
      if (*c->p == '\\')
        return header_error (c, error, "escape sequences in strings are not supported");
      c->p++;
    }
  if (c->p >= c->end)
    return header_error (c, error, "unterminated string");
  *out = g_strndup (start, c->p - start);
  c->p++;
  return TRUE;
}

static gboolean
parse_bool (Cursor *c, gboolean *out, GError **error)
{
  skip_ws (c);
  gsize left = c->end - c->p;
  if (left >= 4 && strncmp (c->p, "True", 4) == 0)
    {
      c->p += 4;
      *out = TRUE;
      return TRUE;
    }
  if (left >= 5 && strncmp (c->p, "False", 5) == 0)
    {
      c->p += 5;
      *out = FALSE;
      return TRUE;
    }
  return header_error (c, error, "'fortran_order' must be True or False");
}

/* A tuple of non-negative integers: (), (5,), (2, 3) or (2, 3,); Python 2's "3L" too. */
static gboolean
parse_shape (Cursor *c, gint64 *shape, gint *ndim, GError **error)
{
  if (!expect (c, '(', error))
    return FALSE;
  *ndim = 0;
  for (;;)
    {
      skip_ws (c);
      if (c->p < c->end && *c->p == ')')
        {
          c->p++;
          return TRUE;
        }
      if (c->p >= c->end || !g_ascii_isdigit (*c->p))
        return header_error (c, error, "'shape' must be a tuple of non-negative integers");
      guint64 v = 0;
      while (c->p < c->end && g_ascii_isdigit (*c->p))
        {
          if (v > (guint64) G_MAXINT64 / 10)
            return header_error (c, error, "a dimension of 'shape' is too large");
          v = v * 10 + (guint64) (*c->p - '0');
          c->p++;
        }
      if (v > (guint64) G_MAXINT64)
        return header_error (c, error, "a dimension of 'shape' is too large");
      if (c->p < c->end && *c->p == 'L')
        c->p++;
      if (*ndim >= MACT_MAX_DIMS)
        {
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "%s: the array has more than %d dimensions, the most a tensor has",
                       c->source, MACT_MAX_DIMS);
          return FALSE;
        }
      shape[(*ndim)++] = (gint64) v;
      skip_ws (c);
      if (c->p < c->end && *c->p == ',')
        c->p++;
      else if (c->p < c->end && *c->p == ')')
        continue;
      else
        return header_error (c, error, "expected ',' or ')' in 'shape'");
    }
}

typedef struct {
  char     *descr;
  gboolean  fortran_order;
  gboolean  has_fortran_order;
  gint64    shape[MACT_MAX_DIMS];
  gint      ndim;
  gboolean  has_shape;
} NpyHeader;

static gboolean
parse_header (Cursor *c, NpyHeader *h, GError **error)
{
  if (!expect (c, '{', error))
    return FALSE;
  for (;;)
    {
      skip_ws (c);
      if (c->p < c->end && *c->p == '}')
        {
          c->p++;
          break;
        }
      g_autofree char *key = NULL;
      if (!parse_string (c, &key, error) || !expect (c, ':', error))
        return FALSE;
      if (g_str_equal (key, "descr"))
        {
          skip_ws (c);
          if (c->p < c->end && *c->p == '[')
            {
              g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_DTYPE,
                           "%s: structured dtypes are not supported (need float32, float64, "
                           "uint8 or int64)", c->source);
              return FALSE;
            }
          g_free (h->descr);
          if (!parse_string (c, &h->descr, error))
            return FALSE;
        }
      else if (g_str_equal (key, "fortran_order"))
        {
          if (!parse_bool (c, &h->fortran_order, error))
            return FALSE;
          h->has_fortran_order = TRUE;
        }
      else if (g_str_equal (key, "shape"))
        {
          if (!parse_shape (c, h->shape, &h->ndim, error))
            return FALSE;
          h->has_shape = TRUE;
        }
      else
        return header_error (c, error, "unknown key '%s'", key);

      skip_ws (c);
      if (c->p < c->end && *c->p == ',')
        c->p++;
      else if (!(c->p < c->end && *c->p == '}'))
        return header_error (c, error, "expected ',' or '}' after the value of '%s'", key);
    }
  skip_ws (c);
  if (c->p != c->end)
    return header_error (c, error, "unexpected text after the dict");
  if (h->descr == NULL || !h->has_fortran_order || !h->has_shape)
    return header_error (c, error, "key '%s' is missing",
                         h->descr == NULL ? "descr"
                         : !h->has_fortran_order ? "fortran_order" : "shape");
  return TRUE;
}

/* ------------------------------------------------------------------ dtypes */

typedef enum { DT_F4, DT_F8, DT_U1, DT_I8 } Dtype;

static gboolean
dtype_from_descr (const char *descr, const char *source, Dtype *dtype, gsize *itemsize,
                  GError **error)
{
  static const struct {
    const char *descr;
    Dtype       dtype;
    gsize       size;
  } known[] = {
    { "<f4", DT_F4, 4 }, { "<f8", DT_F8, 8 }, { "|u1", DT_U1, 1 }, { "<u1", DT_U1, 1 },
    { "<i8", DT_I8, 8 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    if (g_str_equal (descr, known[i].descr))
      {
        *dtype = known[i].dtype;
        *itemsize = known[i].size;
        return TRUE;
      }
  g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_DTYPE,
               "%s: dtype '%s' is not supported (need little-endian float32 '<f4', "
               "float64 '<f8', uint8 '|u1' or int64 '<i8')%s", source, descr,
               descr[0] == '>' ? "; the array is big-endian" : "");
  return FALSE;
}

static void
convert (Dtype dtype, const guint8 *src, float *dst, gsize n)
{
  switch (dtype)
    {
    case DT_F4:
      for (gsize i = 0; i < n; i++)
        {
          guint32 bits;
          memcpy (&bits, src + 4 * i, 4);
          bits = GUINT32_FROM_LE (bits);
          memcpy (dst + i, &bits, 4);
        }
      break;
    case DT_F8:
      for (gsize i = 0; i < n; i++)
        {
          guint64 bits;
          double d;
          memcpy (&bits, src + 8 * i, 8);
          bits = GUINT64_FROM_LE (bits);
          memcpy (&d, &bits, 8);
          dst[i] = (float) d;
        }
      break;
    case DT_U1:
      for (gsize i = 0; i < n; i++)
        dst[i] = (float) src[i];
      break;
    case DT_I8:
      for (gsize i = 0; i < n; i++)
        {
          guint64 bits;
          memcpy (&bits, src + 8 * i, 8);
          dst[i] = (float) (gint64) GUINT64_FROM_LE (bits);
        }
      break;
    default:
      g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------ loading */

static MactTensor *
load_data (const guint8 *data, gsize size, const char *source, GError **error)
{
  if (size < 10 || memcmp (data, npy_magic, sizeof npy_magic) != 0)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: not a .npy file (no \\x93NUMPY magic)", source);
      return NULL;
    }
  const guint major = data[6], minor = data[7];
  gsize header_len, prefix;
  if (major == 1 && minor == 0)
    {
      header_len = (gsize) data[8] | ((gsize) data[9] << 8);
      prefix = 10;
    }
  else if ((major == 2 || major == 3) && minor == 0)
    {
      if (size < 12)
        {
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "%s: truncated .npy file (%" G_GSIZE_FORMAT " bytes)", source, size);
          return NULL;
        }
      header_len = (gsize) data[8] | ((gsize) data[9] << 8) | ((gsize) data[10] << 16) |
                   ((gsize) data[11] << 24);
      prefix = 12;
    }
  else
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: .npy format version %u.%u is not supported (1.0, 2.0, 3.0)",
                   source, major, minor);
      return NULL;
    }
  if (header_len > MAX_HEADER_LEN || header_len > size - prefix)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: the .npy header says %" G_GSIZE_FORMAT " bytes but the file has %"
                   G_GSIZE_FORMAT " after the preamble", source, header_len, size - prefix);
      return NULL;
    }

  NpyHeader h = { 0 };
  Cursor c = { (const char *) data + prefix, (const char *) data + prefix + header_len,
               source };
  gboolean ok = parse_header (&c, &h, error);
  g_autofree char *descr = h.descr;
  if (!ok)
    return NULL;

  Dtype dtype;
  gsize itemsize;
  if (!dtype_from_descr (descr, source, &dtype, &itemsize, error))
    return NULL;
  if (h.fortran_order)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: the array is in Fortran order; only C order is supported "
                   "(save it with numpy.ascontiguousarray)", source);
      return NULL;
    }

  guint64 numel = 1;
  for (gint i = 0; i < h.ndim; i++)
    if (h.shape[i] != 0 && numel > G_MAXSIZE / itemsize / (guint64) h.shape[i])
      {
        g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                     "%s: the shape's element count overflows", source);
        return NULL;
      }
    else
      numel *= (guint64) h.shape[i];

  const gsize expected = (gsize) numel * itemsize;
  const gsize have = size - prefix - header_len;
  if (have != expected)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: %s: the header's shape and dtype need %" G_GSIZE_FORMAT
                   " data bytes, the file has %" G_GSIZE_FORMAT, source,
                   have < expected ? "truncated" : "trailing bytes", expected, have);
      return NULL;
    }

  g_autoptr(MactTensor) t = mact_tensor_new_empty (h.ndim, h.shape, error);
  if (t == NULL)
    {
      g_prefix_error (error, "%s: ", source);
      return NULL;
    }
  if (numel > 0)
    convert (dtype, data + prefix + header_len, mact_tensor_get_data (t), (gsize) numel);
  return g_steal_pointer (&t);
}

/**
 * mact_npy_load_bytes:
 * @bytes: the contents of a .npy file
 * @source_name: (nullable): what to call the data in messages (a file name); %NULL
 *   gives `"<bytes>"`
 * @error: return location for a #GError, or %NULL
 *
 * Reads a NumPy array from memory, as mact_npy_load() reads a file.
 *
 * Returns: (transfer full) (nullable): a new float32 tensor, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_npy_load_bytes (GBytes *bytes, const char *source_name, GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  return load_data (data, size, source_name ? source_name : "<bytes>", error);
}

/**
 * mact_npy_load:
 * @path: (type filename): a .npy file
 * @error: return location for a #GError, or %NULL
 *
 * Reads a NumPy array saved with `numpy.save`: format versions 1.0, 2.0 and 3.0, dtype
 * float32, float64, uint8 or int64 (little-endian), C order, up to %MACT_MAX_DIMS
 * dimensions.  The values are converted to float32 (int64 beyond 2^24 and float64 lose
 * precision, as a cast in NumPy would).  The file is read in full; the tensor owns its
 * data.
 *
 * Errors: %MACT_IO_ERROR_OPEN when the file cannot be read; %MACT_IO_ERROR_FORMAT when
 * it is not a .npy file, its header is malformed, it is in Fortran order, or its size
 * does not match the header (truncated or trailing bytes); %MACT_IO_ERROR_DTYPE for
 * other dtypes (big-endian included).  Messages start with the file name.
 *
 * Returns: (transfer full) (nullable): a new float32 tensor, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_npy_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *display = g_filename_display_name (path);
  g_autoptr(GError) local = NULL;
  g_autoptr(GMappedFile) file = g_mapped_file_new (path, FALSE, &local);
  if (file == NULL)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN, "%s: cannot read: %s", display,
                   local->message);
      return NULL;
    }
  /* A mapping of an empty file has no contents pointer at all. */
  const gsize size = g_mapped_file_get_length (file);
  const guint8 *data = size > 0 ? (const guint8 *) g_mapped_file_get_contents (file)
                                : (const guint8 *) "";
  return load_data (data, size, display, error);
}

/* ------------------------------------------------------------------ saving */

/**
 * mact_npy_save:
 * @path: (type filename): the file to write
 * @tensor: the tensor to save
 * @error: return location for a #GError, or %NULL
 *
 * Writes @tensor as NumPy's `numpy.save` would write a float32 C-order array (format
 * 1.0, or 2.0 if the header does not fit in 64 KiB; header padded so the data starts at
 * a multiple of 64 bytes).  The file is replaced atomically.
 *
 * Errors: %MACT_IO_ERROR_WRITE when the file cannot be written.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_npy_save (const char *path, MactTensor *tensor, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (tensor != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (tensor, &ndim);
  g_autoptr(GString) dict = g_string_new ("{'descr': '<f4', 'fortran_order': False, 'shape': (");
  for (gint i = 0; i < ndim; i++)
    g_string_append_printf (dict, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append (dict, ndim == 1 ? ",), }" : "), }");

  /* Pad with spaces so that preamble + header + '\n' is a multiple of 64. */
  gsize prefix = 10;
  gsize total = prefix + dict->len + 1;
  if (total + (64 - total % 64) % 64 - prefix > G_MAXUINT16)
    {
      prefix = 12;
      total = prefix + dict->len + 1;
    }
  const gsize padded = total + (64 - total % 64) % 64;
  const gsize header_len = padded - prefix;
  while (dict->len + 1 < header_len)
    g_string_append_c (dict, ' ');
  g_string_append_c (dict, '\n');

  const gsize numel = (gsize) mact_tensor_get_numel (tensor);
  g_autoptr(GByteArray) out = g_byte_array_sized_new (padded + numel * 4);
  g_byte_array_append (out, npy_magic, sizeof npy_magic);
  const guint8 version[2] = { prefix == 10 ? 1 : 2, 0 };
  g_byte_array_append (out, version, 2);
  if (prefix == 10)
    {
      const guint8 len[2] = { header_len & 0xff, (header_len >> 8) & 0xff };
      g_byte_array_append (out, len, 2);
    }
  else
    {
      const guint8 len[4] = { header_len & 0xff, (header_len >> 8) & 0xff,
                              (header_len >> 16) & 0xff, (header_len >> 24) & 0xff };
      g_byte_array_append (out, len, 4);
    }
  g_byte_array_append (out, (const guint8 *) dict->str, dict->len);

  g_autoptr(MactTensor) c = mact_tensor_contiguous (tensor);
  const float *src = numel > 0 ? mact_tensor_get_data (c) : NULL;
  for (gsize i = 0; i < numel; i++)
    {
      guint32 bits;
      memcpy (&bits, src + i, 4);
      bits = GUINT32_TO_LE (bits);
      g_byte_array_append (out, (const guint8 *) &bits, 4);
    }

  g_autoptr(GError) local = NULL;
  if (!g_file_set_contents_full (path, (const char *) out->data, out->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_WRITE, "%s: cannot write: %s",
                   display, local->message);
      return FALSE;
    }
  return TRUE;
}
