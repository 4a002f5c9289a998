/* Reading and writing safetensors files (core/io/mact-safetensors.c): dtype conversion
 * against files written with PyTorch (tests/fixtures/gen_safetensors.py), save/load round
 * trips, tensors sharing the private mapping without ever changing the file, atomic saves
 * that leave the previous file intact when writing fails, and hostile files, built here
 * byte by byte, that must each give a MACT_IO_ERROR with the right code and never crash. */
#include "mact-test.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "io", name, NULL);
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *dir = g_dir_open (path, 0, NULL);
      if (dir != NULL)
        {
          const char *name;
          while ((name = g_dir_read_name (dir)) != NULL)
            {
              g_autofree char *child = g_build_filename (path, name, NULL);
              remove_tree (child);
            }
          g_dir_close (dir);
        }
      g_chmod (path, 0700);
      g_rmdir (path);
    }
  else
    g_remove (path);
}

/* Each test gets a fresh temporary directory as its state. */
static int
setup_tmpdir (void **state)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("mact-safetensors-XXXXXX", &error);
  if (dir == NULL)
    fail_msg ("cannot make a temporary directory: %s", error->message);
  *state = dir;
  return 0;
}

static int
teardown_tmpdir (void **state)
{
  remove_tree (*state);
  g_free (*state);
  return 0;
}

static MactTensor *
tensor_of (const float *values, gsize n, gint ndim, const gint64 *shape)
{
  g_autoptr(GError) error = NULL;
  MactTensor *t = mact_tensor_new_from_data (values, n, ndim, shape, &error);
  if (t == NULL)
    fail_msg ("tensor_of: %s", error->message);
  return t;
}

/* A file: little-endian @header_length, then @header (its first @header_bytes bytes),
 * then @data. */
static GBytes *
make_file (guint64 header_length, const char *header, gsize header_bytes,
           const guint8 *data, gsize data_length)
{
  GByteArray *out = g_byte_array_new ();
  guint8 prefix[8];
  for (int i = 0; i < 8; i++)
    prefix[i] = (guint8) (header_length >> (8 * i));
  g_byte_array_append (out, prefix, 8);
  if (header_bytes > 0)
    g_byte_array_append (out, (const guint8 *) header, (guint) header_bytes);
  if (data_length > 0)
    g_byte_array_append (out, data, (guint) data_length);
  return g_byte_array_free_to_bytes (out);
}

static GBytes *
make_simple (const char *header, gsize data_length)
{
  g_autofree guint8 *data = g_malloc0 (MAX (data_length, 1));
  for (gsize i = 0; i < data_length; i++)
    data[i] = (guint8) (i * 7 + 1);
  return make_file (strlen (header), header, strlen (header), data, data_length);
}

static char *
write_file (const char *dir, const char *name, GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);
  gsize n = 0;
  const char *contents = g_bytes_get_data (bytes, &n);
  if (!g_file_set_contents (path, contents ? contents : "", (gssize) n, &error))
    fail_msg ("cannot write %s: %s", path, error->message);
  return path;
}

/* Loads @bytes both from memory and from a file; both must fail with @code and a message
 * that contains @needle (when not NULL). */
static void
expect_bad_bytes (const char *dir, GBytes *bytes, gint code, const char *needle,
                  const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) metadata = NULL;

  MactTensorDict *dict = mact_safetensors_load_bytes (bytes, &metadata, &error);
  if (dict != NULL)
    fail_msg ("%s: loading from memory succeeded", what);
  assert_null (metadata);
  if (needle != NULL && (error == NULL || strstr (error->message, needle) == NULL))
    fail_msg ("%s: message \"%s\" does not contain \"%s\"", what,
              error ? error->message : "(none)", needle);
  mact_test_assert_error (&error, MACT_IO_ERROR, code);

  g_autofree char *path = write_file (dir, "bad.safetensors", bytes);
  dict = mact_safetensors_load (path, &metadata, &error);
  if (dict != NULL)
    fail_msg ("%s: loading from a file succeeded", what);
  assert_null (metadata);
  if (error == NULL || strstr (error->message, "bad.safetensors") == NULL)
    fail_msg ("%s: message \"%s\" does not name the file", what,
              error ? error->message : "(none)");
  if (needle != NULL && strstr (error->message, needle) == NULL)
    fail_msg ("%s: message \"%s\" does not contain \"%s\"", what, error->message, needle);
  mact_test_assert_error (&error, MACT_IO_ERROR, code);
}

static void
expect_bad (const char *dir, const char *header, gsize data_length, gint code,
            const char *needle)
{
  g_autoptr(GBytes) bytes = make_simple (header, data_length);
  expect_bad_bytes (dir, bytes, code, needle, header);
}

/* Whether @p lies inside a mapping of @path according to /proc/self/maps. */
static gboolean
address_in_file_mapping (const void *p, const char *path)
{
  g_autofree char *maps = NULL;
  if (!g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL))
    fail_msg ("cannot read /proc/self/maps");
  g_autofree char *real = realpath (path, NULL);
  assert_non_null (real);
  g_auto(GStrv) lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      guint64 start = 0, end = 0;
      const char *slash = strchr (lines[i], '/');
      if (slash == NULL || !g_str_equal (slash, real))
        continue;
      if (sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", &start, &end) != 2)
        continue;
      if ((guint64) (guintptr) p >= start && (guint64) (guintptr) p < end)
        return TRUE;
    }
  return FALSE;
}

static MactTensorDict *
sample_dict (void)
{
  MactTensorDict *dict = mact_tensor_dict_new ();
  const gint64 s23[] = { 2, 3 }, s4[] = { 4 }, s0[] = { 0, 5 };
  const float a[] = { 1, -2, 3.5f, 4, 5e-20f, -6 };
  const float b[] = { 0.25f, -0.5f, 1e10f, -3 };
  g_autoptr(MactTensor) ta = tensor_of (a, 6, 2, s23);
  g_autoptr(MactTensor) tb = tensor_of (b, 4, 1, s4);
  g_autoptr(MactTensor) scalar = mact_tensor_new_scalar (7.5f);
  g_autoptr(MactTensor) empty = mact_tensor_new (2, s0, NULL);
  /* A strided view: saved as its contiguous values, [3, 2]. */
  g_autoptr(MactTensor) transposed = mact_tensor_transpose (ta, 0, 1, NULL);
  /* Not in sorted order, so that the order is seen to be kept. */
  mact_tensor_dict_insert (dict, "zeta.weight", ta);
  mact_tensor_dict_insert (dict, "alpha", tb);
  mact_tensor_dict_insert (dict, "mid.scalar", scalar);
  mact_tensor_dict_insert (dict, "empty", empty);
  mact_tensor_dict_insert (dict, "t", transposed);
  return dict;
}

static void
assert_dicts_equal (MactTensorDict *got, MactTensorDict *expected)
{
  assert_int_equal (mact_tensor_dict_get_size (got), mact_tensor_dict_get_size (expected));
  for (guint i = 0; i < mact_tensor_dict_get_size (expected); i++)
    {
      assert_string_equal (mact_tensor_dict_get_key (got, i),
                           mact_tensor_dict_get_key (expected, i));
      mact_test_assert_close (mact_tensor_dict_get_value (got, i),
                              mact_tensor_dict_get_value (expected, i), 0.0,
                              mact_tensor_dict_get_key (expected, i));
    }
}

static GHashTable *
sample_metadata (void)
{
  GHashTable *metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (metadata, g_strdup ("format"), g_strdup ("pt"));
  g_hash_table_insert (metadata, g_strdup ("note"), g_strdup ("a \"quoted\" \\ caf\xc3\xa9"));
  g_hash_table_insert (metadata, g_strdup ("empty"), g_strdup (""));
  return metadata;
}

static guint64
header_length_of (GBytes *bytes)
{
  const guint8 *p = g_bytes_get_data (bytes, NULL);
  guint64 n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | p[i];
  return n;
}

/* ------------------------------------------------------------------ PyTorch files */

static void
test_dtypes (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) metadata = NULL;
  g_autofree char *path = data_path ("dtypes.safetensors");

  /* The file holds an infinity and a NaN in F16 and F64, to check their conversion:
   * refused by default, naming the first such tensor and its counts. */
  assert_null (mact_safetensors_load (path, &metadata, &error));
  assert_null (metadata);
  assert_non_null (strstr (error->message, "tensor \"f16\" has 2 non-finite values of 8 "
                                           "(1 NaN, 1 infinite; the first at element 6)"));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_NON_FINITE);

  g_autoptr(MactTensorDict) dict = mact_safetensors_load_full (
    path, MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE, &metadata, &error);
  if (dict == NULL)
    fail_msg ("%s", error->message);

  /* Every converted tensor equals PyTorch's own conversion to float32, exactly. */
  const char *names[] = { "f32", "f16", "bf16", "f64", "i64", "scalar", "empty",
                          "i32", "i16", "i8", "u8", "bool" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *expected_key = g_strconcat (names[i], ".expected", NULL);
      MactTensor *got = mact_tensor_dict_lookup (dict, names[i]);
      MactTensor *expected = mact_tensor_dict_lookup (dict, expected_key);
      assert_non_null (got);
      assert_non_null (expected);
      mact_test_assert_close (got, expected, 0.0, names[i]);
    }

  /* Header order is kept: f32, f32.expected, f16, ... */
  assert_int_equal (mact_tensor_dict_get_size (dict), 2 * G_N_ELEMENTS (names));
  assert_string_equal (mact_tensor_dict_get_key (dict, 0), "f32");
  assert_string_equal (mact_tensor_dict_get_key (dict, 1), "f32.expected");
  assert_string_equal (mact_tensor_dict_get_key (dict, 2), "f16");

  /* A few hand-checked values, independent of PyTorch. */
  float f16[8];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "f16"), f16);
  assert_true (f16[0] == 1.5f && f16[1] == -2.25f);
  assert_true (f16[2] == ldexpf (1.0f, -24));            /* smallest subnormal */
  assert_true (f16[4] == 65504.0f);                      /* largest half */
  assert_true (f16[5] == 0.0f && signbit (f16[5]));      /* -0 */
  assert_true (isinf (f16[6]) && f16[6] > 0);
  assert_true (isnan (f16[7]));
  float i64[4];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "i64"), i64);
  assert_true (i64[0] == 0.0f && i64[1] == -7.0f);
  assert_true (i64[2] == 16777216.0f);                   /* 2^24 + 1 rounds to even */
  assert_true (i64[3] == 1099511627776.0f);              /* 2^40 + 3 rounds to 2^40 */
  float bf16[4];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "bf16"), bf16);
  assert_true (bf16[1] == -3.140625f);
  float u8[3], b[3], i8[3];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "u8"), u8);
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "bool"), b);
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "i8"), i8);
  assert_true (u8[2] == 255.0f && b[0] == 1.0f && b[1] == 0.0f && i8[0] == -128.0f);
  assert_int_equal (mact_tensor_get_ndim (mact_tensor_dict_lookup (dict, "scalar")), 0);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (dict, "scalar")) == 4.75f);
  assert_int_equal (mact_tensor_get_numel (mact_tensor_dict_lookup (dict, "empty")), 0);
  assert_int_equal (mact_tensor_get_size (mact_tensor_dict_lookup (dict, "empty"), 1), 3);

  assert_non_null (metadata);
  assert_int_equal (g_hash_table_size (metadata), 2);
  assert_string_equal (g_hash_table_lookup (metadata, "purpose"), "dtype conversion");
  assert_string_equal (g_hash_table_lookup (metadata, "note"), "caf\xc3\xa9 \xe2\x9c\x93");
}

static void
test_metadata_optional (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = data_path ("dtypes.safetensors");
  g_autoptr(MactTensorDict) dict = mact_safetensors_load_full (
    path, MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE, NULL, &error);
  assert_non_null (dict);

  /* A file without __metadata__ gives an empty table. */
  g_autoptr(MactTensorDict) one = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (one, "x", 2.0f);
  g_autofree char *plain = g_build_filename (dir, "plain.safetensors", NULL);
  assert_true (mact_safetensors_save (plain, one, NULL, &error));
  g_autoptr(GHashTable) metadata = NULL;
  g_autoptr(MactTensorDict) back = mact_safetensors_load (plain, &metadata, &error);
  assert_non_null (back);
  assert_non_null (metadata);
  assert_int_equal (g_hash_table_size (metadata), 0);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (back, "x")) == 2.0f);
}

/* ------------------------------------------------------------------ round trips */

static void
test_round_trip (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) dict = sample_dict ();
  g_autoptr(GHashTable) metadata = sample_metadata ();
  g_autofree char *path = g_build_filename (dir, "w.safetensors", NULL);

  assert_true (mact_safetensors_save (path, dict, metadata, &error));
  g_assert_no_error (error);

  g_autoptr(GHashTable) got_meta = NULL;
  g_autoptr(MactTensorDict) back = mact_safetensors_load (path, &got_meta, &error);
  if (back == NULL)
    fail_msg ("%s", error->message);
  assert_dicts_equal (back, dict);
  /* the strided view came back with its own shape and values */
  MactTensor *t = mact_tensor_dict_lookup (back, "t");
  assert_int_equal (mact_tensor_get_size (t, 0), 3);
  assert_true (mact_tensor_is_contiguous (t));
  const gint64 index[] = { 2, 0 };
  assert_true (mact_tensor_get_item (t, index) == 3.5f);

  assert_int_equal (g_hash_table_size (got_meta), 3);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    assert_string_equal (g_hash_table_lookup (got_meta, key), value);

  /* serialize gives the file's bytes, deterministically, with an 8-byte aligned header */
  g_autoptr(GBytes) bytes = mact_safetensors_serialize (dict, metadata, &error);
  g_autoptr(GBytes) again = mact_safetensors_serialize (dict, metadata, &error);
  assert_non_null (bytes);
  assert_true (g_bytes_equal (bytes, again));
  assert_int_equal (header_length_of (bytes) % 8, 0);
  g_autofree char *contents = NULL;
  gsize length = 0;
  assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_autoptr(GBytes) file_bytes = g_bytes_new (contents, length);
  assert_true (g_bytes_equal (bytes, file_bytes));

  /* and loads from memory as from the file */
  g_autoptr(MactTensorDict) from_memory = mact_safetensors_load_bytes (bytes, NULL, &error);
  assert_non_null (from_memory);
  assert_dicts_equal (from_memory, dict);

  /* an empty dict is a valid file too */
  g_autoptr(MactTensorDict) none = mact_tensor_dict_new ();
  g_autoptr(GBytes) empty_file = mact_safetensors_serialize (none, NULL, &error);
  g_autoptr(MactTensorDict) none_back = mact_safetensors_load_bytes (empty_file, NULL, &error);
  assert_non_null (none_back);
  assert_int_equal (mact_tensor_dict_get_size (none_back), 0);

  /* saving again replaces the file */
  g_autoptr(MactTensorDict) other = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (other, "only", -1.0f);
  assert_true (mact_safetensors_save (path, other, NULL, &error));
  g_autoptr(MactTensorDict) replaced = mact_safetensors_load (path, NULL, &error);
  assert_int_equal (mact_tensor_dict_get_size (replaced), 1);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (replaced, "only")) == -1.0f);
}

static void
test_serialize_errors (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, "never.safetensors", NULL);

  g_autoptr(MactTensorDict) reserved = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (reserved, "__metadata__", 1.0f);
  assert_null (mact_safetensors_serialize (reserved, NULL, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT);
  assert_false (mact_safetensors_save (path, reserved, NULL, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT);

  g_autoptr(MactTensorDict) bad_name = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (bad_name, "caf\xe9", 1.0f);   /* Latin-1, not UTF-8 */
  assert_null (mact_safetensors_serialize (bad_name, NULL, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT);

  g_autoptr(MactTensorDict) fine = sample_dict ();
  g_autoptr(GHashTable) bad_meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (bad_meta, "key", "\xff\xfe");
  assert_null (mact_safetensors_serialize (fine, bad_meta, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT);

  assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------------ mapping */

static void
test_mapping_is_shared_and_private (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) dict = sample_dict ();
  g_autofree char *path = g_build_filename (dir, "mapped.safetensors", NULL);
  assert_true (mact_safetensors_save (path, dict, NULL, &error));
  g_autofree char *before = NULL;
  gsize before_length = 0;
  assert_true (g_file_get_contents (path, &before, &before_length, NULL));

  g_autoptr(MactTensorDict) loaded = mact_safetensors_load (path, NULL, &error);
  assert_non_null (loaded);
  for (guint i = 0; i < mact_tensor_dict_get_size (loaded); i++)
    {
      MactTensor *t = mact_tensor_dict_get_value (loaded, i);
      if (mact_tensor_get_numel (t) == 0)
        continue;
      float *p = mact_tensor_get_data (t);
      /* used in place: the data lies in the file's mapping, 4-byte aligned */
      if (!address_in_file_mapping (p, path))
        fail_msg ("tensor \"%s\" was copied instead of mapped",
                  mact_tensor_dict_get_key (loaded, i));
      assert_int_equal ((guintptr) p % sizeof (float), 0);
      /* an in-place update stays private */
      mact_tensor_fill (t, 42.0f);
      assert_true (mact_tensor_get_data (t)[0] == 42.0f);
    }

  g_autofree char *after = NULL;
  gsize after_length = 0;
  assert_true (g_file_get_contents (path, &after, &after_length, NULL));
  assert_int_equal (after_length, before_length);
  assert_memory_equal (after, before, before_length);

  /* a second load sees the original values */
  g_autoptr(MactTensorDict) reloaded = mact_safetensors_load (path, NULL, &error);
  assert_dicts_equal (reloaded, dict);

  /* the mapping outlives the dict while a tensor still uses it */
  g_autoptr(MactTensor) kept = mact_tensor_ref (mact_tensor_dict_lookup (reloaded, "alpha"));
  g_clear_pointer (&reloaded, mact_tensor_dict_unref);
  assert_true (address_in_file_mapping (mact_tensor_get_data (kept), path));
  assert_true (mact_tensor_get_data (kept)[1] == -0.5f);
  /* the file can be removed meanwhile: the mapping keeps the data */
  assert_int_equal (g_remove (path), 0);
  assert_true (mact_tensor_get_data (kept)[3] == -3.0f);
}

static void
test_misaligned_data_is_copied (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  /* A header of 4k + 1 bytes puts the data at an odd address: no in-place use. */
  GString *header = g_string_new ("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],"
                                  "\"data_offsets\":[0,12]}}");
  while (header->len % 4 != 1)
    g_string_append_c (header, ' ');
  const float values[] = { 1.5f, -2.0f, 1e-3f };
  g_autoptr(GBytes) bytes = make_file (header->len, header->str, header->len,
                                       (const guint8 *) values, sizeof values);
  g_string_free (header, TRUE);
  g_autofree char *path = write_file (dir, "odd.safetensors", bytes);

  g_autoptr(MactTensorDict) dict = mact_safetensors_load (path, NULL, &error);
  if (dict == NULL)
    fail_msg ("%s", error->message);
  MactTensor *w = mact_tensor_dict_lookup (dict, "w");
  float *p = mact_tensor_get_data (w);
  assert_false (address_in_file_mapping (p, path));
  assert_int_equal ((guintptr) p % sizeof (float), 0);
  assert_true (p[0] == 1.5f && p[1] == -2.0f && p[2] == 1e-3f);

  g_autoptr(MactTensorDict) from_memory = mact_safetensors_load_bytes (bytes, NULL, &error);
  assert_true (mact_tensor_get_data (mact_tensor_dict_lookup (from_memory, "w"))[2] == 1e-3f);
}

/* ------------------------------------------------------------------ atomic saves */

static void
test_save_failures_keep_old_file (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) dict = sample_dict ();

  /* no such directory */
  g_autofree char *missing = g_build_filename (dir, "no", "such", "w.safetensors", NULL);
  assert_false (mact_safetensors_save (missing, dict, NULL, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "w.safetensors"));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_WRITE);

  /* the target is a directory: it stays one, with its contents */
  g_autofree char *target_dir = g_build_filename (dir, "adir", NULL);
  assert_int_equal (g_mkdir (target_dir, 0755), 0);
  g_autofree char *inside = g_build_filename (target_dir, "keep", NULL);
  assert_true (g_file_set_contents (inside, "x", 1, NULL));
  assert_false (mact_safetensors_save (target_dir, dict, NULL, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_WRITE);
  assert_true (g_file_test (target_dir, G_FILE_TEST_IS_DIR));
  assert_true (g_file_test (inside, G_FILE_TEST_IS_REGULAR));

  /* A write that fails midway (the file-size limit, which root does not escape either)
   * leaves the previous file as it was and no temporary file behind. */
  g_autofree char *path = g_build_filename (dir, "old.safetensors", NULL);
  g_autoptr(MactTensorDict) small = mact_tensor_dict_new ();
  mact_tensor_dict_insert_float (small, "old", 3.0f);
  assert_true (mact_safetensors_save (path, small, NULL, &error));
  g_autofree char *old_contents = NULL;
  gsize old_length = 0;
  assert_true (g_file_get_contents (path, &old_contents, &old_length, NULL));

  g_autoptr(MactTensorDict) big = mact_tensor_dict_new ();
  const gint64 shape[] = { 4096 };
  g_autoptr(MactTensor) ones = mact_tensor_new_full (1, shape, 1.0f, NULL);
  mact_tensor_dict_insert (big, "big", ones);

  struct rlimit saved;
  assert_int_equal (getrlimit (RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 1024;   /* the new file would be over 16 KiB */
  void (*old_handler) (int) = signal (SIGXFSZ, SIG_IGN);
  assert_int_equal (setrlimit (RLIMIT_FSIZE, &limited), 0);
  gboolean saved_ok = mact_safetensors_save (path, big, NULL, &error);
  assert_int_equal (setrlimit (RLIMIT_FSIZE, &saved), 0);
  signal (SIGXFSZ, old_handler);
  assert_false (saved_ok);
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_WRITE);

  g_autofree char *now = NULL;
  gsize now_length = 0;
  assert_true (g_file_get_contents (path, &now, &now_length, NULL));
  assert_int_equal (now_length, old_length);
  assert_memory_equal (now, old_contents, old_length);
  g_autoptr(MactTensorDict) still = mact_safetensors_load (path, NULL, &error);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (still, "old")) == 3.0f);

  /* only the files we made are left */
  GDir *listing = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      if (!g_str_equal (name, "old.safetensors") && !g_str_equal (name, "adir"))
        fail_msg ("unexpected file %s left behind", name);
      n++;
    }
  g_dir_close (listing);
  assert_int_equal (n, 2);

  /* Without root, a read-only directory is refused too. */
  if (geteuid () != 0)
    {
      assert_int_equal (g_chmod (dir, 0500), 0);
      assert_false (mact_safetensors_save (path, big, NULL, &error));
      mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_WRITE);
      assert_int_equal (g_chmod (dir, 0700), 0);
      g_autofree char *kept = NULL;
      assert_true (g_file_get_contents (path, &kept, NULL, NULL));
      assert_memory_equal (kept, old_contents, old_length);
    }
}

/* ------------------------------------------------------------------ hostile files */

static void
test_open_errors (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) metadata = NULL;
  g_autofree char *missing = g_build_filename (dir, "missing.safetensors", NULL);
  assert_null (mact_safetensors_load (missing, &metadata, &error));
  assert_null (metadata);
  assert_non_null (strstr (error->message, "missing.safetensors"));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);

  /* a directory cannot be mapped */
  assert_null (mact_safetensors_load (dir, NULL, &error));
  assert_non_null (strstr (error->message, "not a regular file"));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);

  /* nor a FIFO, which must not block the call waiting for a writer */
  g_autofree char *fifo = g_build_filename (dir, "fifo", NULL);
  assert_int_equal (mkfifo (fifo, 0600), 0);
  assert_null (mact_safetensors_load (fifo, NULL, &error));
  mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_OPEN);
}

static void
test_short_and_absurd (void **state)
{
  const char *dir = *state;

  for (gsize n = 0; n < 8; n++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new ("\x02\0\0\0\0\0\0\0", n);
      expect_bad_bytes (dir, bytes, MACT_IO_ERROR_FORMAT, "too short", "short file");
    }

  /* header length larger than the file */
  g_autoptr(GBytes) longer = make_file (100, "{}", 2, NULL, 0);
  expect_bad_bytes (dir, longer, MACT_IO_ERROR_FORMAT, "exceeds", "header beyond file");
  g_autoptr(GBytes) by_one = make_file (3, "{}", 2, NULL, 0);
  expect_bad_bytes (dir, by_one, MACT_IO_ERROR_FORMAT, "exceeds", "header one too long");

  /* absurd lengths: over 100 MB, 2^63, 2^64 - 1 */
  const guint64 absurd[] = { 100 * 1024 * 1024 + 1, G_GUINT64_CONSTANT (1) << 63,
                             G_MAXUINT64 };
  for (gsize i = 0; i < G_N_ELEMENTS (absurd); i++)
    {
      g_autoptr(GBytes) bytes = make_file (absurd[i], "{}", 2, NULL, 0);
      expect_bad_bytes (dir, bytes, MACT_IO_ERROR_FORMAT, "absurd", "absurd length");
    }

  /* an empty header, and whitespace only */
  g_autoptr(GBytes) empty = make_file (0, "", 0, NULL, 0);
  expect_bad_bytes (dir, empty, MACT_IO_ERROR_FORMAT, "JSON object", "empty header");
  expect_bad (dir, "        ", 0, MACT_IO_ERROR_FORMAT, NULL);
}

static void
test_bad_headers (void **state)
{
  const char *dir = *state;
  const gint F = MACT_IO_ERROR_FORMAT;

  /* not JSON, not an object, bad bytes */
  expect_bad (dir, "{not json", 0, F, "not valid JSON");
  expect_bad (dir, "[1, 2]", 0, F, "JSON object");
  expect_bad (dir, "\"text\"", 0, F, "JSON object");
  expect_bad (dir, "42", 0, F, "JSON object");
  expect_bad (dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}} x", 4, F,
              NULL);
  expect_bad (dir, "{\"caf\xe9\":{}}", 0, F, NULL);                  /* not UTF-8 */
  {
    const char with_nul[] = "{\"a\":\0}";
    g_autoptr(GBytes) bytes = make_file (sizeof with_nul - 1, with_nul, sizeof with_nul - 1,
                                         NULL, 0);
    expect_bad_bytes (dir, bytes, F, NULL, "NUL in header");
  }

  /* entries that are not objects */
  expect_bad (dir, "{\"w\":3}", 0, F, "\"w\"");
  expect_bad (dir, "{\"w\":[0,4]}", 0, F, "\"w\"");
  expect_bad (dir, "{\"w\":null}", 0, F, "\"w\"");

  /* dtype missing or mistyped */
  expect_bad (dir, "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "dtype");
  expect_bad (dir, "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F,
              "dtype");
  expect_bad (dir, "{\"w\":{\"dtype\":[\"F32\"],\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F,
              "dtype");

  /* shape missing, mistyped, negative, fractional */
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, F, "shape");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, F,
              "shape");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, F,
              "shape entry 0");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2.5],\"data_offsets\":[0,8]}}", 8,
              F, "shape entry 1");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, F,
              "shape entry 0");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, F,
              "shape entry 0");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1e2],\"data_offsets\":[0,400]}}", 400,
              F, "shape entry 0");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],"
                   "\"data_offsets\":[0,4]}}", 4, F, "7 dimensions");

  /* element counts that overflow, with and without a zero size */
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                   "\"data_offsets\":[0,4]}}", 4, F, "overflow");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,1000000000000,1000000000000],"
                   "\"data_offsets\":[0,0]}}", 0, F, "overflow");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F64\",\"shape\":[100000000000000000,100],"
                   "\"data_offsets\":[0,8]}}", 8, F, "overflow");

  /* data_offsets missing, mistyped, the wrong length, negative, reversed, too far */
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, F, "data_offsets");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0,4\"}}", 4, F,
              "data_offsets");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, F,
              "data_offsets");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, F,
              "data_offsets");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4, F,
              "data_offsets");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,null]}}", 4, F,
              "data_offsets");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, F,
              "negative");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, F,
              "begin after");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, F,
              "beyond the data");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                   "\"data_offsets\":[99999999999999996,100000000000000000]}}", 4, F,
              "beyond the data");

  /* byte counts that do not match shape and dtype */
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, F,
              "needs 8 bytes");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, F,
              "needs 8 bytes");
  expect_bad (dir, "{\"w\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, F,
              "needs 8 bytes");

  /* hostile JSON: nesting deep enough to exhaust a recursive parser's stack (arrays,
   * objects, and behind what json-glib reads as a comment or a single-quoted string,
   * where a scan for brackets that only knows double-quoted strings would not look), and
   * integers json-glib would silently wrap (2^64 + 4 -> 4, 2^63 -> -2^63) */
  {
    gsize depth = 200000;
    g_autofree char *deep = g_malloc (6 * depth + 16);
    memset (deep, '[', depth);
    memset (deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    expect_bad (dir, deep, 0, F, "nests more than 16 levels deep");
    GString *objects = g_string_new (NULL);
    for (gsize i = 0; i < depth; i++)
      g_string_append (objects, "{\"a\":");
    g_string_append_c (objects, '1');
    for (gsize i = 0; i < depth; i++)
      g_string_append_c (objects, '}');
    expect_bad (dir, objects->str, 0, F, "nests more than 16 levels deep");
    g_string_free (objects, TRUE);
    g_snprintf (deep, 16, "[/* \" */ ");
    memset (deep + strlen (deep), '[', depth);
    deep[10 + depth] = '\0';
    expect_bad (dir, deep, 0, F, "not valid JSON");
    g_snprintf (deep, 16, "['\"', ");
    memset (deep + strlen (deep), '[', depth);
    deep[6 + depth] = '\0';
    expect_bad (dir, deep, 0, F, "not valid JSON");
  }
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                   "\"data_offsets\":[0,18446744073709551620]}}", 4, F,
              "the integer 18446744073709551620 does not fit in 64 bits");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                   "\"data_offsets\":[-18446744073709551616,4]}}", 4, F,
              "does not fit in 64 bits");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],"
                   "\"data_offsets\":[0,4]}}", 4, F, "does not fit in 64 bits");

  /* what json-glib accepts beyond JSON, and other readers of the format read differently
   * or not at all: comments, single quotes, hexadecimal and octal numbers, text after the
   * header, a lone UTF-16 surrogate (json-glib makes it invalid UTF-8), a NUL escape
   * (which would cut the name short), a raw control character, an infinite number */
  const char *const lenient[] = {
    "{/ comment /}",
    "{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[0x1],\"data_offsets\":[0,4]}}",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} {}",
    "{\"\\udc00\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    "{\"\\ud800x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    "{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    "{\"w\\q\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    "{\"w\t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    "{\"__metadata__\":{\"a\":\"b\"},\"x\":1e999}",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[- 1],\"data_offsets\":[0,4]}}",
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],}}",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (lenient); i++)
    expect_bad (dir, lenient[i], 4, F, "not valid JSON");

  /* duplicate keys: json-glib keeps the last, the reference reader may keep the first,
   * so two readers would load different weights from the same file */
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, F,
              "key \"w\" appears twice");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
                   "\"data_offsets\":[4,8]}}", 8, F, "key \"data_offsets\" appears twice");
  expect_bad (dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"\\u0077\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              8, F, "appears twice");
  expect_bad (dir, "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, F,
              "key \"a\" appears twice");

  /* metadata that is not an object of strings */
  expect_bad (dir, "{\"__metadata__\":[\"a\"]}", 0, F, "__metadata__");
  expect_bad (dir, "{\"__metadata__\":{\"epoch\":3}}", 0, F, "\"epoch\"");
  expect_bad (dir, "{\"__metadata__\":{\"a\":\"b\",\"nested\":{\"c\":\"d\"}}}", 0, F,
              "\"nested\"");
  expect_bad (dir, "{\"__metadata__\":{\"a\":null}}", 0, F, "\"a\"");
}

static void
test_bad_layout (void **state)
{
  const char *dir = *state;
  const gint F = MACT_IO_ERROR_FORMAT;

  /* overlapping ranges, both named */
  expect_bad (dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, F,
              "overlap");
  expect_bad (dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, F,
              "\"b\"");
  /* an empty tensor inside another's range */
  expect_bad (dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, F,
              "overlap");
  /* holes: between tensors, before the first, after the last */
  expect_bad (dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, F,
              "hole");
  expect_bad (dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, F,
              "hole");
  expect_bad (dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, F,
              "belong to no tensor");
  expect_bad (dir, "{}", 4, F, "belong to no tensor");
  expect_bad (dir, "{\"__metadata__\":{}}", 1, F, "belong to no tensor");

  /* Valid layouts in any header order, empty tensors included, are accepted. */
  g_autoptr(GBytes) fine = make_simple (
    "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]},"
    "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[8,8]},"
    "\"a\":{\"dtype\":\"I32\",\"shape\":[2,1],\"data_offsets\":[0,8]}}", 10);
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) dict = mact_safetensors_load_bytes (fine, NULL, &error);
  if (dict == NULL)
    fail_msg ("%s", error->message);
  assert_string_equal (mact_tensor_dict_get_key (dict, 0), "b");
  assert_string_equal (mact_tensor_dict_get_key (dict, 2), "a");
  /* make_simple's bytes are 1, 8, 15, 22, ... (7 i + 1) */
  float b[2];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "b"), b);
  assert_true (b[0] == 57.0f && b[1] == 64.0f);
  float a[2];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "a"), a);
  assert_true (a[0] == (float) 0x160f0801 && a[1] == (float) 0x322b241d);
}

/* One tensor @name of @dtype holding @data (@n_bytes, little-endian) of shape [@numel]. */
static GBytes *
make_one (const char *name, const char *dtype, const void *data, gsize n_bytes, gsize numel)
{
  g_autofree char *header = g_strdup_printf (
    "{\"%s\":{\"dtype\":\"%s\",\"shape\":[%" G_GSIZE_FORMAT "],"
    "\"data_offsets\":[0,%" G_GSIZE_FORMAT "]}}", name, dtype, numel, n_bytes);
  return make_file (strlen (header), header, strlen (header), data, n_bytes);
}

/* NaN and infinities are refused by default in every floating-point dtype, naming the
 * tensor with the counts; MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE loads them unchanged. */
static void
test_non_finite (void **state)
{
  const char *dir = *state;
  const gint NF = MACT_IO_ERROR_NON_FINITE;
  g_autoptr(GError) error = NULL;

  /* F32: 1, NaN, -inf, 2, +inf, NaN with a payload (little-endian bit patterns) */
  const guint32 f32[] = { 0x3f800000u, 0x7fc00000u, 0xff800000u, 0x40000000u, 0x7f800000u,
                          0xffc00123u };
  guint8 f32_le[sizeof f32];
  for (gsize i = 0; i < G_N_ELEMENTS (f32); i++)
    for (int k = 0; k < 4; k++)
      f32_le[4 * i + k] = (guint8) (f32[i] >> (8 * k));
  g_autoptr(GBytes) f32_file = make_one ("conv.weight", "F32", f32_le, sizeof f32_le, 6);
  expect_bad_bytes (dir, f32_file, NF, "tensor \"conv.weight\" has 4 non-finite values of 6 "
                    "(2 NaN, 2 infinite; the first at element 1)", "F32 NaN and inf");

  /* F16 (0x7e00 NaN, 0xfc00 -inf), BF16 (0x7fc1 NaN), F64 (+inf, and 1e300, finite as a
   * double but infinite as float32) */
  const guint8 f16[] = { 0x00, 0x3c, 0x00, 0x7e, 0x00, 0xfc };
  g_autoptr(GBytes) f16_file = make_one ("h", "F16", f16, sizeof f16, 3);
  expect_bad_bytes (dir, f16_file, NF, "\"h\" has 2 non-finite values of 3 (1 NaN, 1 "
                    "infinite; the first at element 1)", "F16");
  const guint8 bf16[] = { 0x80, 0x3f, 0xc1, 0x7f };
  g_autoptr(GBytes) bf16_file = make_one ("b", "BF16", bf16, sizeof bf16, 2);
  expect_bad_bytes (dir, bf16_file, NF, "\"b\" has 1 non-finite values of 2 (1 NaN, 0 "
                    "infinite; the first at element 1)", "BF16");
  const double f64[] = { 0.5, 1e300, -INFINITY, 3.0e38 };
  guint8 f64_le[sizeof f64];
  for (gsize i = 0; i < G_N_ELEMENTS (f64); i++)
    {
      guint64 bits;
      memcpy (&bits, &f64[i], 8);
      for (int k = 0; k < 8; k++)
        f64_le[8 * i + k] = (guint8) (bits >> (8 * k));
    }
  g_autoptr(GBytes) f64_file = make_one ("d", "F64", f64_le, sizeof f64_le, 4);
  expect_bad_bytes (dir, f64_file, NF, "\"d\" has 2 non-finite values of 4 (0 NaN, 2 "
                    "infinite or beyond float32; the first at element 1)", "F64");

  /* Allowed: the values come through as they are (the NaN payload included). */
  g_autoptr(MactTensorDict) dict = mact_safetensors_load_bytes_full (
    f32_file, MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE, NULL, &error);
  if (dict == NULL)
    fail_msg ("%s", error->message);
  float got[6];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (dict, "conv.weight"), got);
  guint32 bits[6];
  memcpy (bits, got, sizeof bits);
  assert_memory_equal (bits, f32, sizeof f32);
  g_autofree char *path = write_file (dir, "nan.safetensors", f64_file);
  g_autoptr(MactTensorDict) from_file = mact_safetensors_load_full (
    path, MACT_SAFETENSORS_LOAD_ALLOW_NON_FINITE, NULL, &error);
  if (from_file == NULL)
    fail_msg ("%s", error->message);
  float d[4];
  mact_tensor_copy_to_array (mact_tensor_dict_lookup (from_file, "d"), d);
  assert_true (d[0] == 0.5f && isinf (d[1]) && isinf (d[2]) && d[2] < 0 && d[3] == 3.0e38f);

  /* Integers have no NaN; the largest finite values and empty tensors are fine. */
  const guint8 all_ones[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  g_autoptr(GBytes) ints = make_one ("i", "I32", all_ones, 8, 2);
  g_autoptr(MactTensorDict) loaded = mact_safetensors_load_bytes (ints, NULL, &error);
  assert_non_null (loaded);
  const guint8 largest[] = { 0xff, 0xff, 0x7f, 0x7f, 0xff, 0x7b };   /* FLT_MAX; 65504 */
  g_autoptr(GBytes) big = make_file (
    strlen ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]},"
            "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]}}"),
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
    "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]},"
    "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]}}",
    strlen ("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]},"
            "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]}}"),
    largest, sizeof largest);
  g_autoptr(MactTensorDict) finite = mact_safetensors_load_bytes (big, NULL, &error);
  if (finite == NULL)
    fail_msg ("%s", error->message);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (finite, "a")) == G_MAXFLOAT);
  assert_true (mact_tensor_item (mact_tensor_dict_lookup (finite, "b")) == 65504.0f);
}

/* The cap on one tensor's float32 size refuses before allocating, for every dtype; 0 lifts
 * it.  A sparse file claims gigabytes it does not hold on disk. */
static void
test_tensor_size_cap (void **state)
{
  const char *dir = *state;
  const gint TL = MACT_IO_ERROR_TOO_LARGE;
  g_autoptr(GError) error = NULL;

  assert_true (mact_safetensors_get_max_tensor_bytes () ==
               MACT_SAFETENSORS_DEFAULT_MAX_TENSOR_BYTES);
  mact_safetensors_set_max_tensor_bytes (16);
  assert_true (mact_safetensors_get_max_tensor_bytes () == 16);

  const guint8 zeros[32] = { 0 };
  g_autoptr(GBytes) four = make_one ("w", "F32", zeros, 16, 4);
  g_autoptr(MactTensorDict) fits = mact_safetensors_load_bytes (four, NULL, &error);
  assert_non_null (fits);
  g_autoptr(GBytes) five = make_one ("fc.weight", "F32", zeros, 20, 5);
  expect_bad_bytes (dir, five, TL, "tensor \"fc.weight\" of shape [5] takes 20 bytes as "
                    "float32, more than the cap of 16 bytes", "F32 over the cap");
  /* 10 bytes in the file, 20 as float32 */
  g_autoptr(GBytes) half = make_one ("h", "F16", zeros, 10, 5);
  expect_bad_bytes (dir, half, TL, "takes 20 bytes", "F16 over the cap");
  g_autoptr(GBytes) bytes5 = make_one ("u", "U8", zeros, 5, 5);
  expect_bad_bytes (dir, bytes5, TL, "\"u\"", "U8 over the cap");

  mact_safetensors_set_max_tensor_bytes (0);
  g_autoptr(MactTensorDict) uncapped = mact_safetensors_load_bytes (five, NULL, &error);
  assert_non_null (uncapped);
  mact_safetensors_set_max_tensor_bytes (MACT_SAFETENSORS_DEFAULT_MAX_TENSOR_BYTES);

  /* A 1.5 GiB U8 tensor in a sparse file (no disk space used): 6 GiB as float32, over
   * the default cap of 4 GiB, refused without allocating or reading its data. */
  const guint64 n = G_GUINT64_CONSTANT (3) << 29;
  g_autofree char *header = g_strdup_printf (
    "{\"huge\":{\"dtype\":\"U8\",\"shape\":[%" G_GUINT64_FORMAT "],"
    "\"data_offsets\":[0,%" G_GUINT64_FORMAT "]}}", n, n);
  g_autoptr(GBytes) head = make_file (strlen (header), header, strlen (header), NULL, 0);
  g_autofree char *path = write_file (dir, "sparse.safetensors", head);
  int fd = g_open (path, O_WRONLY, 0);
  assert_true (fd >= 0);
  assert_int_equal (ftruncate (fd, (off_t) (g_bytes_get_size (head) + n)), 0);
  g_close (fd, NULL);
  assert_null (mact_safetensors_load (path, NULL, &error));
  assert_non_null (strstr (error->message, "tensor \"huge\" of shape [1610612736] takes "
                                           "6442450944 bytes as float32"));
  mact_test_assert_error (&error, MACT_IO_ERROR, TL);
}

/* A checkpoint's meta JSON (mact_checkpoint_load(), `mact infer --weights ckpt.json`) is a
 * hostile file too: json-glib used to parse it directly and overflowed the stack on deep
 * nesting; it is now checked as a config is. */
static void
test_hostile_checkpoint_json (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) model = mact_linear_new (2, 3, TRUE, &error);
  assert_non_null (model);
  g_autofree char *path = g_build_filename (dir, "deep.json", NULL);

  g_autofree char *deep = g_strnfill (100000, '[');
  assert_true (g_file_set_contents (path, deep, -1, NULL));
  assert_null (mact_checkpoint_load (path, model, TRUE, NULL, &error));
  assert_non_null (strstr (error->message, "nests more than 64 levels deep"));
  assert_non_null (strstr (error->message, "deep.json"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);

  const char *dup = "{\"weights\": \"a.safetensors\", \"weights\": \"b.safetensors\"}";
  assert_true (g_file_set_contents (path, dup, -1, NULL));
  assert_null (mact_checkpoint_load (path, model, TRUE, NULL, &error));
  assert_non_null (strstr (error->message, "key \"weights\" appears twice"));
  mact_test_assert_error (&error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE);
  g_unlink (path);
}

static void
test_bad_dtypes (void **state)
{
  const char *dir = *state;
  const char *unknown[] = { "U32", "U16", "U64", "F8_E4M3", "F8_E5M2", "C64", "f32", "",
                            "FLOAT" };
  for (gsize i = 0; i < G_N_ELEMENTS (unknown); i++)
    {
      g_autofree char *header = g_strdup_printf (
        "{\"ok\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"odd\":{\"dtype\":\"%s\",\"shape\":[1],\"data_offsets\":[4,8]}}", unknown[i]);
      g_autoptr(GBytes) bytes = make_simple (header, 8);
      expect_bad_bytes (dir, bytes, MACT_IO_ERROR_DTYPE, "\"odd\"", header);
    }
}

/* Every prefix of a valid file, and every single-byte change to its header, is either
 * loaded or refused with an error: never a crash or an invalid read (valgrind checks). */
static void
test_truncation_and_corruption (void **state)
{
  const char *dir = *state;
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensorDict) dict = sample_dict ();
  g_autoptr(GHashTable) metadata = sample_metadata ();
  g_autoptr(GBytes) bytes = mact_safetensors_serialize (dict, metadata, &error);
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  for (gsize n = 0; n < size; n++)
    {
      g_autoptr(GBytes) prefix = g_bytes_new (data, n);
      assert_null (mact_safetensors_load_bytes (prefix, NULL, &error));
      mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT);
    }
  /* a few truncations through the file path as well */
  const gsize cuts[] = { 0, 4, 8, 9, 40, size / 2, size - 4, size - 1 };
  for (gsize i = 0; i < G_N_ELEMENTS (cuts); i++)
    {
      g_autoptr(GBytes) prefix = g_bytes_new (data, cuts[i]);
      g_autofree char *path = write_file (dir, "cut.safetensors", prefix);
      assert_null (mact_safetensors_load (path, NULL, &error));
      mact_test_assert_error (&error, MACT_IO_ERROR, MACT_IO_ERROR_FORMAT);
    }

  /* single-byte corruption of the length and the header */
  guint64 header_length = header_length_of (bytes);
  const guint8 replacements[] = { '0', '9', '-', '"', '{', ']', ' ', 0x00, 0xff };
  g_autofree guint8 *copy = g_memdup2 (data, size);
  guint loaded = 0, refused = 0;
  for (gsize pos = 0; pos < 8 + header_length; pos++)
    for (gsize r = 0; r < G_N_ELEMENTS (replacements); r++)
      {
        copy[pos] = replacements[r];
        g_autoptr(GBytes) corrupt = g_bytes_new (copy, size);
        g_autoptr(MactTensorDict) result = mact_safetensors_load_bytes (corrupt, NULL, &error);
        if (result != NULL)
          loaded++;
        else
          {
            assert_non_null (error);
            assert_true (error->domain == MACT_IO_ERROR);
            g_clear_error (&error);
            refused++;
          }
        copy[pos] = data[pos];
      }
  assert_true (refused > 0 && loaded > 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_dtypes),
    cmocka_unit_test_setup_teardown (test_metadata_optional, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_round_trip, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_serialize_errors, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_mapping_is_shared_and_private, setup_tmpdir,
                                     teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_misaligned_data_is_copied, setup_tmpdir,
                                     teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_save_failures_keep_old_file, setup_tmpdir,
                                     teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_open_errors, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_short_and_absurd, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_bad_headers, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_bad_layout, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_bad_dtypes, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_non_finite, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_hostile_checkpoint_json, setup_tmpdir,
                                     teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_tensor_size_cap, setup_tmpdir, teardown_tmpdir),
    cmocka_unit_test_setup_teardown (test_truncation_and_corruption, setup_tmpdir,
                                     teardown_tmpdir),
  };
  return cmocka_run_group_tests_name ("safetensors", tests, NULL, NULL);
}
