/* mact-safetensors.c: reading and writing weights in the safetensors format.
 *
 * A safetensors file is: an 8-byte little-endian header length N, N bytes of JSON header
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
 * then the data buffer, which the offsets (relative to the buffer's start) must tile
 * exactly: no overlaps, no holes, nothing left over.
 *
 * Loading maps the file and lets float32 tensors point into the mapping, so a large
 * checkpoint is not copied twice.  Everything in the header is validated before any
 * tensor is made: a hostile or truncated file is a #GError, never a crash or an
 * out-of-bounds read.  So are each tensor's size (against a cap, before anything is
 * allocated) and its values (NaN and infinities are refused unless the caller accepts
 * them).  Saving writes float32 with the header padded to a multiple of 8
 * bytes (so the data is aligned when mapped) and replaces the target atomically. */
#include "mact-tensor-private.h"
#include "mact-config-private.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

G_DEFINE_QUARK (mact-io-error-quark, mact_io_error)

/* A header larger than this is refused before it is even parsed: real headers are a few
 * hundred bytes per tensor, so 100 MB is far beyond any model yet cheap to reject. */
#define MAX_HEADER_SIZE ((guint64) 100 * 1024 * 1024)

/* A valid header nests three levels deep (root, entry, shape array); anything much deeper
 * is hostile, and json-glib parses recursively, so depth must be bounded beforehand
 * (mact_json_parse_checked() does, and refuses integers json-glib would wrap, duplicate
 * keys, and everything beyond strict JSON that other readers of the format would read
 * differently). */
#define MAX_HEADER_DEPTH 16

#define METADATA_KEY "__metadata__"

/* The cap of mact_safetensors_set_max_tensor_bytes(); 0 is none. */
G_LOCK_DEFINE_STATIC (max_tensor_bytes);
static guint64 max_tensor_bytes = MACT_SAFETENSORS_DEFAULT_MAX_TENSOR_BYTES;

/* ------------------------------------------------------------------ dtypes */

/* Converts @n little-endian values of a dtype at @src (any alignment) to floats. */
typedef void (*ConvertFunc) (const guint8 *src, float *dst, gsize n);

typedef struct {
  const char  *name;
  gsize        size;      /* bytes per element */
  ConvertFunc  convert;
} DtypeInfo;

static inline guint16
read_u16_le (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static inline guint32
read_u32_le (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) |
         ((guint32) p[3] << 24);
}

static inline guint64
read_u64_le (const guint8 *p)
{
  return (guint64) read_u32_le (p) | ((guint64) read_u32_le (p + 4) << 32);
}

static inline float
float_from_bits (guint32 bits)
{
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* IEEE 754 binary16 to binary32, exactly (every half is representable as a float). */
static float
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000u) << 16;
  guint32 exponent = (h >> 10) & 0x1fu;
  guint32 mantissa = h & 0x3ffu;

  if (exponent == 0)
    {
      /* Zero or subnormal: mantissa * 2^-24. */
      float magnitude = ldexpf ((float) mantissa, -24);
      return sign ? -magnitude : magnitude;
    }
  if (exponent == 31)   /* infinity or NaN, keeping the NaN payload */
    return float_from_bits (sign | 0x7f800000u | (mantissa << 13));
  /* Rebias the exponent from 15 to 127. */
  return float_from_bits (sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

static void
convert_f32 (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = float_from_bits (read_u32_le (src + 4 * i));
}

static void
convert_f16 (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = half_to_float (read_u16_le (src + 2 * i));
}

static void
convert_bf16 (const guint8 *src, float *dst, gsize n)
{
  /* bfloat16 is the upper half of a float32. */
  for (gsize i = 0; i < n; i++)
    dst[i] = float_from_bits ((guint32) read_u16_le (src + 2 * i) << 16);
}

static void
convert_f64 (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      guint64 bits = read_u64_le (src + 8 * i);
      double d;
      memcpy (&d, &bits, sizeof d);
      dst[i] = (float) d;
    }
}

static void
convert_i64 (const guint8 *src, float *dst, gsize n)
{
  /* Rounds to the nearest float: exact up to 2^24 in magnitude. */
  for (gsize i = 0; i < n; i++)
    dst[i] = (float) (gint64) read_u64_le (src + 8 * i);
}

static void
convert_i32 (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = (float) (gint32) read_u32_le (src + 4 * i);
}

static void
convert_i16 (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = (float) (gint16) read_u16_le (src + 2 * i);
}

static void
convert_i8 (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = (float) (gint8) src[i];
}

static void
convert_u8 (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = (float) src[i];
}

static void
convert_bool (const guint8 *src, float *dst, gsize n)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = src[i] != 0 ? 1.0f : 0.0f;
}

static const DtypeInfo dtypes[] = {
  { "F32",  4, convert_f32 },
  { "F16",  2, convert_f16 },
  { "BF16", 2, convert_bf16 },
  { "F64",  8, convert_f64 },
  { "I64",  8, convert_i64 },
  { "I32",  4, convert_i32 },
  { "I16",  2, convert_i16 },
  { "I8",   1, convert_i8 },
  { "U8",   1, convert_u8 },
  { "BOOL", 1, convert_bool },
};

static const DtypeInfo *
dtype_lookup (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (g_str_equal (dtypes[i].name, name))
      return &dtypes[i];
  return NULL;
}

/* ------------------------------------------------------------------ header checks */

/* One tensor of the header, validated. */
typedef struct {
  const char      *name;     /* borrowed from the parsed header */
  const DtypeInfo *dtype;
  gint             ndim;
  gint64           shape[MACT_MAX_DIMS];
  guint64          numel;
  guint64          begin;    /* byte offsets into the data buffer */
  guint64          end;
} Entry;

/* Reads a JSON integer; %FALSE for anything else (doubles such as 3.0 included). */
static gboolean
node_get_integer (JsonNode *node, gint64 *out)
{
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

static const char *
node_kind (JsonNode *node)
{
  if (node == NULL)
    return "nothing";
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType type = json_node_get_value_type (node);
      if (type == G_TYPE_INT64)
        return "an integer";
      if (type == G_TYPE_DOUBLE)
        return "a number with a fraction or exponent";
      if (type == G_TYPE_BOOLEAN)
        return "a boolean";
      return "a string";
    }
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return "an object";
    case JSON_NODE_ARRAY:
      return "an array";
    case JSON_NODE_NULL:
      return "null";
    default:
      return "something else";
    }
}

static gboolean
parse_entry (JsonObject *root, const char *name, guint64 data_length, const char *source,
             Entry *entry, GError **error)
{
  JsonNode *node = json_object_get_member (root, name);
  if (JSON_NODE_TYPE (node) != JSON_NODE_OBJECT)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": the header entry must be an object, got %s", source,
                   name, node_kind (node));
      return FALSE;
    }
  JsonObject *object = json_node_get_object (node);
  entry->name = name;

  /* dtype */
  JsonNode *dtype = json_object_get_member (object, "dtype");
  if (dtype == NULL || !JSON_NODE_HOLDS_VALUE (dtype) ||
      json_node_get_value_type (dtype) != G_TYPE_STRING)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": \"dtype\" must be a string, got %s", source, name,
                   node_kind (dtype));
      return FALSE;
    }

  /* shape */
  JsonNode *shape = json_object_get_member (object, "shape");
  if (shape == NULL || JSON_NODE_TYPE (shape) != JSON_NODE_ARRAY)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": \"shape\" must be an array of integers, got %s",
                   source, name, node_kind (shape));
      return FALSE;
    }
  JsonArray *dims = json_node_get_array (shape);
  guint ndim = json_array_get_length (dims);
  if (ndim > MACT_MAX_DIMS)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\" has %u dimensions; mact tensors have at most %d",
                   source, name, ndim, MACT_MAX_DIMS);
      return FALSE;
    }
  entry->ndim = (gint) ndim;
  /* The product is checked over the non-zero sizes too: an empty tensor whose other
   * sizes overflow would still make strides overflow. */
  guint64 numel = 1, nonzero = 1;
  gboolean overflow = FALSE;
  for (guint i = 0; i < ndim; i++)
    {
      gint64 size = 0;
      JsonNode *dim = json_array_get_element (dims, i);
      if (!node_get_integer (dim, &size))
        {
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "%s: tensor \"%s\": shape entry %u must be a non-negative integer, "
                       "got %s", source, name, i, node_kind (dim));
          return FALSE;
        }
      if (size < 0)
        {
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "%s: tensor \"%s\": shape entry %u must be a non-negative integer, "
                       "got %" G_GINT64_FORMAT, source, name, i, size);
          return FALSE;
        }
      entry->shape[i] = size;
      if (size > 0 && !g_uint64_checked_mul (&nonzero, nonzero, (guint64) size))
        overflow = TRUE;
      numel *= (guint64) size;   /* cannot overflow when nonzero did not */
    }
  guint64 n_bytes = 0;
  if (overflow || nonzero > (guint64) G_MAXINT64 / sizeof (float) ||
      !g_uint64_checked_mul (&n_bytes, numel, 8))
    {
      g_autofree char *s = mact_shape_format (entry->ndim, entry->shape);
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": the element count of shape %s overflows", source,
                   name, s);
      return FALSE;
    }
  entry->numel = numel;

  /* data_offsets */
  JsonNode *offsets = json_object_get_member (object, "data_offsets");
  gint64 begin = 0, end = 0;
  if (offsets == NULL || JSON_NODE_TYPE (offsets) != JSON_NODE_ARRAY ||
      json_array_get_length (json_node_get_array (offsets)) != 2 ||
      !node_get_integer (json_array_get_element (json_node_get_array (offsets), 0), &begin) ||
      !node_get_integer (json_array_get_element (json_node_get_array (offsets), 1), &end))
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": \"data_offsets\" must be an array of two integers "
                   "[begin, end]", source, name);
      return FALSE;
    }
  if (begin < 0 || end < 0)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": data_offsets [%" G_GINT64_FORMAT ", %"
                   G_GINT64_FORMAT "] are negative", source, name, begin, end);
      return FALSE;
    }
  if (begin > end)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": data_offsets [%" G_GINT64_FORMAT ", %"
                   G_GINT64_FORMAT "] begin after they end", source, name, begin, end);
      return FALSE;
    }
  if ((guint64) end > data_length)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": data_offsets [%" G_GINT64_FORMAT ", %"
                   G_GINT64_FORMAT "] end beyond the data buffer of %" G_GUINT64_FORMAT
                   " bytes (truncated file?)", source, name, begin, end, data_length);
      return FALSE;
    }
  entry->begin = (guint64) begin;
  entry->end = (guint64) end;

  /* The dtype is looked up last, so that a structurally broken entry is reported as
   * such; its size is needed for the byte count. */
  const char *dtype_name = json_node_get_string (dtype);
  entry->dtype = dtype_lookup (dtype_name);
  if (entry->dtype == NULL)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_DTYPE,
                   "%s: tensor \"%s\" has dtype \"%s\", which mact cannot convert to "
                   "float32 (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)",
                   source, name, dtype_name);
      return FALSE;
    }
  n_bytes = numel * entry->dtype->size;   /* fits: checked against numel * 8 above */
  if (entry->end - entry->begin != n_bytes)
    {
      g_autofree char *s = mact_shape_format (entry->ndim, entry->shape);
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: tensor \"%s\": shape %s of %s needs %" G_GUINT64_FORMAT
                   " bytes, but data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                   "] hold %" G_GUINT64_FORMAT, source, name, s, entry->dtype->name,
                   n_bytes, entry->begin, entry->end, entry->end - entry->begin);
      return FALSE;
    }

  /* The cap is on the float32 size, which is what loading allocates (or maps); it fits:
   * numel * 8 was checked above. */
  guint64 cap = mact_safetensors_get_max_tensor_bytes ();
  if (cap != 0 && numel * sizeof (float) > cap)
    {
      g_autofree char *s = mact_shape_format (entry->ndim, entry->shape);
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_TOO_LARGE,
                   "%s: tensor \"%s\" of shape %s takes %" G_GUINT64_FORMAT " bytes as "
                   "float32, more than the cap of %" G_GUINT64_FORMAT " bytes per tensor "
                   "(mact_safetensors_set_max_tensor_bytes())", source, name, s,
                   numel * (guint64) sizeof (float), cap);
      return FALSE;
    }
  return TRUE;
}

/* The floating-point dtypes, whose values may be NaN or infinite. */
typedef enum { FLOAT_NONE, FLOAT_F32, FLOAT_F16, FLOAT_BF16, FLOAT_F64 } FloatKind;

static FloatKind
float_kind (const DtypeInfo *dtype)
{
  if (dtype->convert == convert_f32)
    return FLOAT_F32;
  if (dtype->convert == convert_f16)
    return FLOAT_F16;
  if (dtype->convert == convert_bf16)
    return FLOAT_BF16;
  if (dtype->convert == convert_f64)
    return FLOAT_F64;
  return FLOAT_NONE;
}

/* Whether element @i at @src is NaN (*nan) or otherwise not finite as float32 (an F64
 * value beyond float32's range would become an infinity). */
static inline gboolean
is_non_finite (FloatKind kind, const guint8 *src, guint64 i, gboolean *nan)
{
  switch (kind)
    {
    case FLOAT_F32:
      {
        guint32 bits = read_u32_le (src + 4 * i);
        *nan = (bits & 0x7fffffffu) > 0x7f800000u;
        return (bits & 0x7f800000u) == 0x7f800000u;
      }
    case FLOAT_F16:
    case FLOAT_BF16:
      {
        /* binary16: 5 exponent bits, 10 mantissa bits; bfloat16: 8 and 7. */
        guint16 bits = read_u16_le (src + 2 * i);
        guint16 exponent = kind == FLOAT_F16 ? 0x7c00u : 0x7f80u;
        *nan = (bits & 0x7fffu) > exponent;
        return (bits & exponent) == exponent;
      }
    case FLOAT_F64:
      {
        guint64 bits = read_u64_le (src + 8 * i);
        double d;
        memcpy (&d, &bits, sizeof d);
        *nan = isnan (d);
        return *nan || !isfinite ((float) d);
      }
    case FLOAT_NONE:
    default:
      *nan = FALSE;
      return FALSE;
    }
}

/* Counts the non-finite values of @entry's data at @src, and the NaN among them; @first
 * is the index of the first. */
static guint64
count_non_finite (const Entry *entry, const guint8 *src, guint64 *n_nan, guint64 *first)
{
  FloatKind kind = float_kind (entry->dtype);
  guint64 count = 0;
  *n_nan = 0;
  *first = 0;
  for (guint64 i = 0; kind != FLOAT_NONE && i < entry->numel; i++)
    {
      gboolean nan = FALSE;
      if (!is_non_finite (kind, src, i, &nan))
        continue;
      if (count++ == 0)
        *first = i;
      if (nan)
        (*n_nan)++;
    }
  return count;
}

/* Whether @entry's data is all finite: one pass without branches that the compiler can
 * vectorize, since real weights are scanned whole and have no such values. */
static gboolean
all_finite (const Entry *entry, const guint8 *src)
{
  FloatKind kind = float_kind (entry->dtype);
  gsize n = (gsize) entry->numel;
  guint bad = 0;
  switch (kind)
    {
    case FLOAT_F32:
      for (gsize i = 0; i < n; i++)
        {
          guint32 bits;
          memcpy (&bits, src + 4 * i, sizeof bits);
          bad |= (GUINT32_FROM_LE (bits) & 0x7f800000u) == 0x7f800000u;
        }
      break;
    case FLOAT_F16:
    case FLOAT_BF16:
      {
        guint16 exponent = kind == FLOAT_F16 ? 0x7c00u : 0x7f80u;
        for (gsize i = 0; i < n; i++)
          {
            guint16 bits;
            memcpy (&bits, src + 2 * i, sizeof bits);
            bad |= (GUINT16_FROM_LE (bits) & exponent) == exponent;
          }
      }
      break;
    case FLOAT_F64:
      for (gsize i = 0; i < n; i++)
        {
          gboolean nan = FALSE;
          bad |= is_non_finite (kind, src, i, &nan);
        }
      break;
    case FLOAT_NONE:
    default:
      break;
    }
  return bad == 0;
}

/* Refuses a tensor with NaN or infinite values, naming it, with the counts. */
static gboolean
check_finite (const Entry *entry, const guint8 *src, const char *source, GError **error)
{
  if (all_finite (entry, src))
    return TRUE;
  guint64 n_nan = 0, first = 0;
  guint64 count = count_non_finite (entry, src, &n_nan, &first);
  g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_NON_FINITE,
               "%s: tensor \"%s\" has %" G_GUINT64_FORMAT " non-finite values of %"
               G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " NaN, %" G_GUINT64_FORMAT
               " infinite%s; the first at element %" G_GUINT64_FORMAT "); load with "
               "MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE to accept them", source, entry->name,
               count, entry->numel, n_nan, count - n_nan,
               g_str_equal (entry->dtype->name, "F64") ? " or beyond float32" : "", first);
  return FALSE;
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(const Entry * const *) a;
  const Entry *y = *(const Entry * const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return 0;
}

/* The format asks that the byte ranges tile the data buffer: sorted by offset, each
 * starts where the previous one ended and the last ends at the buffer's end.  Anything
 * else is overlapping data (two tensors aliasing the same bytes) or unexplained bytes. */
static gboolean
check_coverage (GArray *entries, guint64 data_length, const char *source, GError **error)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new (entries->len);
  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (sorted, &g_array_index (entries, Entry, i));
  g_ptr_array_sort (sorted, compare_entries);

  guint64 expected = 0;
  const Entry *previous = NULL;
  for (guint i = 0; i < sorted->len; i++)
    {
      const Entry *e = g_ptr_array_index (sorted, i);
      if (e->begin < expected)
        {
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "%s: tensors \"%s\" [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                       "] and \"%s\" [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                       "] overlap", source, previous->name, previous->begin,
                       previous->end, e->name, e->begin, e->end);
          return FALSE;
        }
      if (e->begin > expected)
        {
          if (previous != NULL)
            g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                         "%s: the data buffer has a hole of %" G_GUINT64_FORMAT
                         " bytes between tensors \"%s\" (ending at %" G_GUINT64_FORMAT
                         ") and \"%s\" (starting at %" G_GUINT64_FORMAT ")", source,
                         e->begin - expected, previous->name, expected, e->name,
                         e->begin);
          else
            g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                         "%s: the data buffer has a hole of %" G_GUINT64_FORMAT
                         " bytes before the first tensor \"%s\"", source, e->begin,
                         e->name);
          return FALSE;
        }
      expected = e->end;
      previous = e;
    }
  if (expected != data_length)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: the tensors cover %" G_GUINT64_FORMAT " bytes of a %"
                   G_GUINT64_FORMAT "-byte data buffer; %" G_GUINT64_FORMAT
                   " bytes at the end belong to no tensor", source, expected, data_length,
                   data_length - expected);
      return FALSE;
    }
  return TRUE;
}

static GHashTable *
parse_metadata (JsonNode *node, const char *source, GError **error)
{
  if (JSON_NODE_TYPE (node) != JSON_NODE_OBJECT)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: \"" METADATA_KEY "\" must be an object of strings, got %s", source,
                   node_kind (node));
      return NULL;
    }
  JsonObject *object = json_node_get_object (node);
  g_autoptr(GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       g_free);
  g_autoptr(GList) members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *value = json_object_get_member (object, l->data);
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        {
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "%s: metadata \"%s\" must be a string, got %s", source,
                       (const char *) l->data, node_kind (value));
          return NULL;
        }
      g_hash_table_insert (table, g_strdup (l->data), g_strdup (json_node_get_string (value)));
    }
  return g_steal_pointer (&table);
}

/* Makes the float32 tensor of @entry.  Little-endian F32 shares @file's memory through
 * mact_tensor_new_from_bytes(), which keeps a reference and falls back to a copy when the
 * data is not 4-byte aligned; every other dtype is converted into new storage. */
static MactTensor *
make_tensor (GBytes *file, gsize data_start, const Entry *entry, GError **error)
{
  gsize offset = data_start + (gsize) entry->begin;

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (entry->dtype->convert == convert_f32)
    {
      gsize length = (gsize) (entry->end - entry->begin);
      g_autoptr(GBytes) slice = g_bytes_new_from_bytes (file, offset, length);
      return mact_tensor_new_from_bytes (slice, entry->ndim, entry->shape, error);
    }
#endif

  MactTensor *tensor = mact_tensor_new_empty (entry->ndim, entry->shape, error);
  if (tensor == NULL)
    return NULL;
  const guint8 *src = (const guint8 *) g_bytes_get_data (file, NULL) + offset;
  if (entry->numel > 0)
    entry->dtype->convert (src, mact_tensor_data (tensor), (gsize) entry->numel);
  return tensor;
}

/* Marks the tensors of @dict that use @mapping's memory in place as living in a private,
 * writable file mapping, so that mact_module_load_state_dict() may hand that memory to a
 * module's parameters instead of copying it.  Converted or copied tensors own their
 * storage and are left alone.  Only for mact_safetensors_load()'s own mapping: memory a
 * caller gives (mact_safetensors_load_bytes()) is immutable. */
static void
mark_cow_mapping (MactTensorDict *dict, GBytes *mapping)
{
  gsize size = 0;
  const guintptr begin = (guintptr) g_bytes_get_data (mapping, &size);
  for (guint i = 0; i < mact_tensor_dict_get_size (dict); i++)
    {
      MactStorage *storage = mact_tensor_dict_get_value (dict, i)->storage;
      const guintptr data = (guintptr) storage->data;
      if (!storage->owns_data && data >= begin && data - begin < size)
        storage->cow_mapping = TRUE;
    }
}

static MactTensorDict *
parse_safetensors (GBytes *file, const char *source, MactSafetensorsLoadFlags flags,
                   GHashTable **metadata, GError **error)
{
  gsize size = 0;
  const guint8 *bytes = g_bytes_get_data (file, &size);

  if (size < 8)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes are too short for a safetensors file "
                   "(the header length alone takes 8)", source, size);
      return NULL;
    }
  guint64 header_length = read_u64_le (bytes);
  if (header_length > MAX_HEADER_SIZE)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: the header length %" G_GUINT64_FORMAT " is absurd (more than %"
                   G_GUINT64_FORMAT " bytes); not a safetensors file?", source,
                   header_length, MAX_HEADER_SIZE);
      return NULL;
    }
  if (header_length > (guint64) size - 8)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: the header length %" G_GUINT64_FORMAT " exceeds the %"
                   G_GSIZE_FORMAT " bytes after it (truncated file?)", source,
                   header_length, size - 8);
      return NULL;
    }
  const char *header = (const char *) bytes + 8;
  gsize data_start = 8 + (gsize) header_length;
  guint64 data_length = (guint64) (size - data_start);

  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) json_error = NULL;
  if (!mact_json_parse_checked (header, (gsize) header_length, "header", MAX_HEADER_DEPTH,
                                MACT_JSON_STRICT | MACT_JSON_IMMUTABLE, &root, &json_error))
    {
      if (g_error_matches (json_error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID))
        g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                     "%s: the header is refused: %s", source, json_error->message);
      else
        g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                     "%s: the header is not valid JSON: %s", source, json_error->message);
      return NULL;
    }
  if (root == NULL || JSON_NODE_TYPE (root) != JSON_NODE_OBJECT)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "%s: the header must be a JSON object, got %s", source,
                   root == NULL ? "an empty header" : node_kind (root));
      return NULL;
    }
  JsonObject *object = json_node_get_object (root);

  /* Validate every entry, the metadata and the coverage before making any tensor.
   * Members come in the header's order, which becomes the dict's order. */
  g_autoptr(GArray) entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_autoptr(GHashTable) table = NULL;
  g_autoptr(GList) members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      if (g_str_equal (name, METADATA_KEY))
        {
          table = parse_metadata (json_object_get_member (object, name), source, error);
          if (table == NULL)
            return NULL;
          continue;
        }
      Entry entry = { 0 };
      if (!parse_entry (object, name, data_length, source, &entry, error))
        return NULL;
      g_array_append_val (entries, entry);
    }
  if (!check_coverage (entries, data_length, source, error))
    return NULL;
  /* NaN or infinite weights load without complaint and then poison every result; they
   * are refused unless asked for, before any tensor is made. */
  if (!(flags & MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE))
    for (guint i = 0; i < entries->len; i++)
      {
        const Entry *entry = &g_array_index (entries, Entry, i);
        if (!check_finite (entry, bytes + data_start + entry->begin, source, error))
          return NULL;
      }

  g_autoptr(MactTensorDict) dict = mact_tensor_dict_new ();
  for (guint i = 0; i < entries->len; i++)
    {
      const Entry *entry = &g_array_index (entries, Entry, i);
      g_autoptr(GError) local = NULL;
      g_autoptr(MactTensor) tensor = make_tensor (file, data_start, entry, &local);
      if (tensor == NULL)
        {
          /* Only allocation can fail here: the shape was validated above. */
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "%s: tensor \"%s\": %s", source, entry->name, local->message);
          return NULL;
        }
      mact_tensor_dict_insert (dict, entry->name, tensor);
    }

  if (metadata != NULL)
    *metadata = table != NULL ? g_steal_pointer (&table)
                              : g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       g_free);
  return g_steal_pointer (&dict);
}

/* ------------------------------------------------------------------ loading */

/**
 * mact_safetensors_load:
 * @path: (type filename): a safetensors file
 * @metadata: (out) (optional) (transfer full) (element-type utf8 utf8): where to store
 *   the `__metadata__` strings (an empty table when the file has none), or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Loads every tensor of a safetensors file, converted to float32, in the order of the
 * file's header.
 *
 * The file is memory-mapped privately (copy-on-write) and little-endian F32 tensors whose
 * data is 4-byte aligned use the mapping in place, with no copy; the mapping lives until
 * the last such tensor is freed.  Writing into those tensors (an in-place training
 * update, say) copies the touched pages privately: the file on disk never changes.
 * mact_module_load_state_dict() lets a module's parameters use those tensors' memory
 * instead of copying it (see there).  The file only needs read permission.  Other tensors are copied and converted: F16, BF16
 * and F64 exactly or to the nearest float; the integer types I64, I32, I16, I8, U8 and
 * BOOL to their float value, which is exact up to 2^24 in magnitude (larger I64 values,
 * such as a huge `num_batches_tracked` in a PyTorch checkpoint, lose precision).
 *
 * Everything in the header is validated before it is used.  As with any mapped file,
 * truncating the file while its tensors are still in use is not supported.
 *
 * Errors: %MACT_IO_ERROR_OPEN when the file cannot be opened or mapped;
 * %MACT_IO_ERROR_FORMAT, naming the file and the tensor, when it is shorter than 8
 * bytes, its header length is larger than the file or absurd (over 100 MB), the header
 * is not a JSON object of objects, an entry's `dtype`, `shape` or `data_offsets` is
 * missing or mistyped, a size is negative or not an integer, the element count
 * overflows, a tensor has more than %MACT_MAX_DIMS dimensions, offsets begin after they
 * end or end beyond the data, a byte count does not match shape and dtype, ranges
 * overlap or do not cover the data buffer exactly, or a metadata value is not a string;
 * also when the header is not strict JSON (RFC 8259: no comments, no single quotes, no
 * text after the object), nests more than 16 levels, has an integer beyond 64 bits or a
 * key twice (a tensor or a field of one: readers would disagree on which counts);
 * %MACT_IO_ERROR_DTYPE when a dtype is not one of those above;
 * %MACT_IO_ERROR_TOO_LARGE when a tensor would be larger, as float32, than the cap of
 * mact_safetensors_set_max_tensor_bytes() (checked before anything is allocated);
 * %MACT_IO_ERROR_NON_FINITE, with the tensor's name and how many values, when an F32,
 * F16, BF16 or F64 tensor holds NaN or infinite values (mact_safetensors_load_full()
 * can accept them).
 *
 * Returns: (transfer full) (nullable): the tensors by name, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_safetensors_load (const char *path, GHashTable **metadata, GError **error)
{
  return mact_safetensors_load_full (path, MACT_SAFETENSORS_LOAD_DEFAULT, metadata, error);
}

/**
 * mact_safetensors_load_full:
 * @path: (type filename): a safetensors file
 * @flags: options, such as %MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE
 * @metadata: (out) (optional) (transfer full) (element-type utf8 utf8): where to store
 *   the `__metadata__` strings (an empty table when the file has none), or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * As mact_safetensors_load(), with options.
 *
 * Returns: (transfer full) (nullable): the tensors by name, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_safetensors_load_full (const char *path, MactSafetensorsLoadFlags flags,
                            GHashTable **metadata, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (metadata != NULL)
    *metadata = NULL;
  g_autofree char *display = g_filename_display_name (path);

  /* g_mapped_file_new (path, TRUE) would open the file read-write and so refuse a
   * read-only checkpoint; a writable MAP_PRIVATE mapping needs only a read-only
   * descriptor, which may be closed once the mapping exists.  O_NONBLOCK keeps a FIFO
   * given by mistake from blocking the open; it changes nothing for regular files. */
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN, "cannot open %s: %s",
                   display, g_strerror (saved));
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN,
                   "cannot map %s: not a regular file", display);
      g_close (fd, NULL);
      return NULL;
    }
  g_autoptr(GError) map_error = NULL;
  GMappedFile *mapped = g_mapped_file_new_from_fd (fd, TRUE, &map_error);
  g_close (fd, NULL);
  if (mapped == NULL)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN, "cannot map %s: %s",
                   display, map_error->message);
      return NULL;
    }
  /* The bytes own the mapping from here on; tensors sharing it hold slices of them. */
  g_autoptr(GBytes) bytes = g_mapped_file_get_bytes (mapped);
  g_mapped_file_unref (mapped);
  MactTensorDict *dict = parse_safetensors (bytes, display, flags, metadata, error);
  if (dict != NULL)
    mark_cow_mapping (dict, bytes);
  return dict;
}

/**
 * mact_safetensors_load_bytes:
 * @bytes: the contents of a safetensors file
 * @metadata: (out) (optional) (transfer full) (element-type utf8 utf8): where to store
 *   the `__metadata__` strings (an empty table when there are none), or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * As mact_safetensors_load(), from memory.  Aligned little-endian F32 tensors share the
 * memory of @bytes (keeping a reference), as mact_tensor_new_from_bytes() does.  #GBytes
 * are immutable, so treat those tensors as read-only: loading them into a module with
 * mact_module_load_state_dict() copies and is fine; clone them before changing them in
 * place.  Messages name the data "safetensors data".
 *
 * Errors: as mact_safetensors_load(), without %MACT_IO_ERROR_OPEN.
 *
 * Returns: (transfer full) (nullable): the tensors by name, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_safetensors_load_bytes (GBytes *bytes, GHashTable **metadata, GError **error)
{
  return mact_safetensors_load_bytes_full (bytes, MACT_SAFETENSORS_LOAD_DEFAULT, metadata,
                                           error);
}

/**
 * mact_safetensors_load_bytes_full:
 * @bytes: the contents of a safetensors file
 * @flags: options, such as %MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE
 * @metadata: (out) (optional) (transfer full) (element-type utf8 utf8): where to store
 *   the `__metadata__` strings (an empty table when there are none), or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * As mact_safetensors_load_bytes(), with options.
 *
 * Returns: (transfer full) (nullable): the tensors by name, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_safetensors_load_bytes_full (GBytes *bytes, MactSafetensorsLoadFlags flags,
                                  GHashTable **metadata, GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (metadata != NULL)
    *metadata = NULL;
  return parse_safetensors (bytes, "safetensors data", flags, metadata, error);
}

/**
 * mact_safetensors_set_max_tensor_bytes:
 * @max_bytes: the largest tensor, in bytes as float32, that loading accepts; 0 for no cap
 *
 * Sets the cap on the size of one tensor that mact_safetensors_load() and the other
 * loaders accept, for the whole process (checkpoints and `pretrained` weights read by
 * plugins included).  A larger tensor is %MACT_IO_ERROR_TOO_LARGE, refused before
 * anything is allocated.
 *
 * Loading converts F16, BF16, integer and misaligned tensors into new float32 storage,
 * and a file may be sparse (holes read as zeros and take no disk space), so a small or
 * truncated-looking file can ask for far more memory than it holds; the cap bounds that.
 * The initial cap is %MACT_SAFETENSORS_DEFAULT_MAX_TENSOR_BYTES.  An application that
 * reads untrusted weights may lower it; one with larger tensors may raise it.  Safe to
 * call from any thread; loads already running keep the cap they started with or see the
 * new one.
 *
 * Since: 0.1
 */
void
mact_safetensors_set_max_tensor_bytes (guint64 max_bytes)
{
  G_LOCK (max_tensor_bytes);
  max_tensor_bytes = max_bytes;
  G_UNLOCK (max_tensor_bytes);
}

/**
 * mact_safetensors_get_max_tensor_bytes:
 *
 * The cap set with mact_safetensors_set_max_tensor_bytes().
 *
 * Returns: the largest tensor loading accepts, in bytes as float32; 0 for no cap
 *
 * Since: 0.1
 */
guint64
mact_safetensors_get_max_tensor_bytes (void)
{
  G_LOCK (max_tensor_bytes);
  guint64 value = max_tensor_bytes;
  G_UNLOCK (max_tensor_bytes);
  return value;
}

/* ------------------------------------------------------------------ saving */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/**
 * mact_safetensors_serialize:
 * @tensors: the tensors to write, by name
 * @metadata: (nullable) (element-type utf8 utf8): strings for `__metadata__`, or %NULL
 *   for none
 * @error: return location for a #GError, or %NULL
 *
 * Encodes tensors in the safetensors format: F32, little-endian, in the order of
 * @tensors, each stored contiguously whatever its strides.  The header is padded with
 * spaces to a multiple of 8 bytes, so that every tensor's data is aligned when the file
 * is mapped.  Metadata keys are written sorted, so equal inputs give equal bytes.
 *
 * Errors: %MACT_IO_ERROR_FORMAT when a name or metadata string is not valid UTF-8, a
 * tensor is named `__metadata__` (the format reserves it), or the data would be too
 * large to address.
 *
 * Returns: (transfer full) (nullable): the file's contents, or %NULL with @error set
 *
 * Since: 0.1
 */
GBytes *
mact_safetensors_serialize (MactTensorDict *tensors, GHashTable *metadata, GError **error)
{
  g_return_val_if_fail (tensors != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  guint n = mact_tensor_dict_get_size (tensors);
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);

  /* __metadata__ first, as the reference writer puts it. */
  if (metadata != NULL)
    {
      g_autofree gpointer *keys = g_hash_table_get_keys_as_array (metadata, NULL);
      guint n_keys = g_hash_table_size (metadata);
      qsort (keys, n_keys, sizeof (gpointer), compare_strings);
      json_builder_set_member_name (builder, METADATA_KEY);
      json_builder_begin_object (builder);
      for (guint i = 0; i < n_keys; i++)
        {
          const char *key = keys[i];
          const char *value = g_hash_table_lookup (metadata, key);
          if (!g_utf8_validate (key, -1, NULL) || value == NULL ||
              !g_utf8_validate (value, -1, NULL))
            {
              g_autofree char *shown = g_utf8_make_valid (key, -1);
              g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                           "cannot write metadata \"%s\": keys and values must be UTF-8 "
                           "strings", shown);
              return NULL;
            }
          json_builder_set_member_name (builder, key);
          json_builder_add_string_value (builder, value);
        }
      json_builder_end_object (builder);
    }

  guint64 offset = 0;
  for (guint i = 0; i < n; i++)
    {
      const char *name = mact_tensor_dict_get_key (tensors, i);
      MactTensor *tensor = mact_tensor_dict_get_value (tensors, i);
      if (!g_utf8_validate (name, -1, NULL) || g_str_equal (name, METADATA_KEY))
        {
          g_autofree char *shown = g_utf8_make_valid (name, -1);
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "cannot write tensor \"%s\": names must be UTF-8 and not \""
                       METADATA_KEY "\"", shown);
          return NULL;
        }
      gint ndim = 0;
      const gint64 *shape = mact_tensor_get_shape (tensor, &ndim);
      guint64 n_bytes = (guint64) mact_tensor_get_numel (tensor) * sizeof (float);
      json_builder_set_member_name (builder, name);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "dtype");
      json_builder_add_string_value (builder, "F32");
      json_builder_set_member_name (builder, "shape");
      json_builder_begin_array (builder);
      for (gint d = 0; d < ndim; d++)
        json_builder_add_int_value (builder, shape[d]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "data_offsets");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, (gint64) offset);
      if (!g_uint64_checked_add (&offset, offset, n_bytes) || offset > G_MAXINT64)
        {
          g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                       "cannot write tensor \"%s\": the data exceeds the largest offset",
                       name);
          return NULL;
        }
      json_builder_add_int_value (builder, (gint64) offset);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
    }
  json_builder_end_object (builder);

  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  gsize json_length = 0;
  g_autofree char *json = json_generator_to_data (generator, &json_length);

  gsize header_length = json_length + (8 - json_length % 8) % 8;
  gsize total = 0;
  if (!g_size_checked_add (&total, 8, header_length) || offset > G_MAXSIZE ||
      !g_size_checked_add (&total, total, (gsize) offset))
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "cannot write %u tensors: %" G_GUINT64_FORMAT " bytes of data do not "
                   "fit in memory", n, offset);
      return NULL;
    }

  guint8 *out = g_try_malloc (total);
  if (out == NULL)
    {
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT,
                   "cannot allocate %" G_GSIZE_FORMAT " bytes to serialize %u tensors",
                   total, n);
      return NULL;
    }
  guint64 le_length = GUINT64_TO_LE ((guint64) header_length);
  memcpy (out, &le_length, 8);
  memcpy (out + 8, json, json_length);
  memset (out + 8 + json_length, ' ', header_length - json_length);

  /* out comes from malloc and the data starts at a multiple of 8, so it is aligned for
   * floats. */
  float *data = (float *) (gpointer) (out + 8 + header_length);
  for (guint i = 0; i < n; i++)
    {
      MactTensor *tensor = mact_tensor_dict_get_value (tensors, i);
      gint64 numel = mact_tensor_get_numel (tensor);
      if (numel == 0)
        continue;
      mact_tensor_copy_to_array (tensor, data);
#if G_BYTE_ORDER == G_BIG_ENDIAN
      guint32 *words = (guint32 *) data;
      for (gint64 k = 0; k < numel; k++)
        words[k] = GUINT32_TO_LE (words[k]);
#endif
      data += numel;
    }
  return g_bytes_new_take (out, total);
}

/**
 * mact_safetensors_save:
 * @path: (type filename): the file to write
 * @tensors: the tensors to write, by name
 * @metadata: (nullable) (element-type utf8 utf8): strings for `__metadata__`, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Writes tensors as mact_safetensors_serialize() encodes them, atomically: the contents
 * go to a temporary file in the same directory, which is flushed to disk (fsync) and
 * then renamed over @path.  A crash or a failure midway leaves the previous file, if
 * any, intact.  A new file gets mode 0666 minus the umask.
 *
 * Errors: those of mact_safetensors_serialize(); %MACT_IO_ERROR_WRITE naming @path
 * when the file cannot be written (no such directory, @path is a directory, no space,
 * no permission, ...).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_safetensors_save (const char *path, MactTensorDict *tensors, GHashTable *metadata,
                       GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (tensors != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr(GBytes) contents = mact_safetensors_serialize (tensors, metadata, error);
  if (contents == NULL)
    return FALSE;

  gsize length = 0;
  const char *data = g_bytes_get_data (contents, &length);
  g_autoptr(GError) local = NULL;
  if (!g_file_set_contents_full (path, data, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT |
                                 G_FILE_SET_CONTENTS_DURABLE,
                                 0666, &local))
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, MACT_IO_ERROR, MACT_IO_ERROR_WRITE, "cannot save weights to %s: %s",
                   display, local->message);
      return FALSE;
    }
  return TRUE;
}
