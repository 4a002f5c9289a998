/* Annotation lists (core/data/mact-annotation.c): mmaction2's VideoDataset and
 * RawframeDataset text formats, single- and multi-label, with offsets and a data prefix;
 * line endings (LF, CRLF, CR, none at the end), blank lines, huge lines; every malformed
 * line is MACT_DATA_ERROR_PARSE naming the source and the line, an unreadable file is
 * MACT_DATA_ERROR_IO.  Committed lists live in tests/data/annotations/; lists with NUL bytes
 * are written to temporary files here.  Label maps from hostile files are here too. */
#include "mact-test.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define VIDEO    MACT_ANNOTATION_FORMAT_VIDEO
#define RAWFRAME MACT_ANNOTATION_FORMAT_RAWFRAME

/* ------------------------------------------------------------------ helpers */

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir ? dir : "tests/data", "annotations", name, NULL);
}

static GPtrArray *
parse_ok (const char *data, gssize length, MactAnnotationFormat format, gboolean with_offset,
          gboolean multi_class, guint num_classes, const char *prefix)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *list = mact_annotation_list_parse_data (data, length, "list.txt", format,
                                                     with_offset, multi_class, num_classes,
                                                     prefix, &error);
  if (list == NULL)
    fail_msg ("unexpected error: %s", error->message);
  return list;
}

static MactAnnotation *
item (GPtrArray *list, guint i)
{
  assert_true (i < list->len);
  return g_ptr_array_index (list, i);
}

static void
assert_ann (GPtrArray *list, guint i, const char *path, gint offset, gint total_frames,
            guint n_labels, const gint *labels)
{
  MactAnnotation *a = item (list, i);
  assert_string_equal (a->path, path);
  assert_int_equal (a->offset, offset);
  assert_int_equal (a->total_frames, total_frames);
  assert_int_equal (a->n_labels, n_labels);
  for (guint k = 0; k < n_labels; k++)
    assert_int_equal (a->labels[k], labels[k]);
}

/* Asserts a PARSE error whose message starts with "list.txt:LINE: " and contains
 * @needle. */
static void
assert_parse_error_full (const char *data, gssize length, MactAnnotationFormat format,
                         gboolean with_offset, gboolean multi_class, guint num_classes,
                         guint line, const char *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = mact_annotation_list_parse_data (data, length, "list.txt",
                                                               format, with_offset,
                                                               multi_class, num_classes,
                                                               NULL, &error);
  if (list != NULL)
    fail_msg ("expected a parse error at line %u (%s), got %u annotations", line, needle,
              list->len);
  assert_non_null (error);
  g_autofree char *prefix = g_strdup_printf ("list.txt:%u: ", line);
  if (!g_str_has_prefix (error->message, prefix))
    fail_msg ("message \"%s\" does not start with \"%s\"", error->message, prefix);
  if (strstr (error->message, needle) == NULL)
    fail_msg ("message \"%s\" does not contain \"%s\"", error->message, needle);
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);
}

static void
assert_parse_error (const char *data, MactAnnotationFormat format, gboolean with_offset,
                    gboolean multi_class, guint num_classes, guint line, const char *needle)
{
  assert_parse_error_full (data, -1, format, with_offset, multi_class, num_classes, line,
                           needle);
}

static char *
write_tmp (const char *contents, gsize length)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("mact-annotation-XXXXXX.txt", &path, &error);
  if (fd < 0)
    fail_msg ("%s", error->message);
  close (fd);
  if (!g_file_set_contents (path, contents, (gssize) length, &error))
    fail_msg ("%s", error->message);
  return path;
}

/* ------------------------------------------------------------------ formats */

static void
test_video_list (void **state)
{
  (void) state;
  g_autoptr(GPtrArray) list = parse_ok ("some/video-1.mp4 1\nsome/video-2.mp4\t0\n", -1,
                                        VIDEO, FALSE, FALSE, 3, NULL);
  assert_int_equal (list->len, 2);
  assert_ann (list, 0, "some/video-1.mp4", 0, -1, 1, (gint[]) { 1 });
  assert_ann (list, 1, "some/video-2.mp4", 0, -1, 1, (gint[]) { 0 });

  /* Fields split on whitespace, as in mmaction2, so a path cannot hold a space: here
   * "2.mp4" and "0" read as two labels, and "2.mp4" as a label that is not a number. */
  assert_parse_error ("video 2.mp4 0\n", VIDEO, FALSE, FALSE, 0, 1, "got 2");
  assert_parse_error ("video 2.mp4 0\n", VIDEO, FALSE, TRUE, 0, 1,
                      "label '2.mp4' is not an integer");
}

static void
test_rawframe_list (void **state)
{
  (void) state;
  /* mmaction2's docstring example, without a final newline. */
  g_autoptr(GPtrArray) list = parse_ok ("some/directory-1 163 1\n"
                                        "some/directory-2 122 1\n"
                                        "some/directory-3 258 2", -1, RAWFRAME, FALSE, FALSE,
                                        0, NULL);
  assert_int_equal (list->len, 3);
  assert_ann (list, 0, "some/directory-1", 0, 163, 1, (gint[]) { 1 });
  assert_ann (list, 1, "some/directory-2", 0, 122, 1, (gint[]) { 1 });
  assert_ann (list, 2, "some/directory-3", 0, 258, 1, (gint[]) { 2 });

  g_autoptr(GPtrArray) off = parse_ok ("some/directory-1 12 163 3\n"
                                       "some/directory-5 0 295 3\n", -1, RAWFRAME, TRUE,
                                       FALSE, 4, NULL);
  assert_int_equal (off->len, 2);
  assert_ann (off, 0, "some/directory-1", 12, 163, 1, (gint[]) { 3 });
  assert_ann (off, 1, "some/directory-5", 0, 295, 1, (gint[]) { 3 });
}

static void
test_multi_class (void **state)
{
  (void) state;
  g_autoptr(GPtrArray) raw = parse_ok ("some/directory-1 163 1 3 5\n"
                                       "some/directory-2 122 1 2\n"
                                       "some/directory-3 258 2\n", -1, RAWFRAME, FALSE, TRUE,
                                       6, NULL);
  assert_int_equal (raw->len, 3);
  assert_ann (raw, 0, "some/directory-1", 0, 163, 3, (gint[]) { 1, 3, 5 });
  assert_ann (raw, 1, "some/directory-2", 0, 122, 2, (gint[]) { 1, 2 });
  assert_ann (raw, 2, "some/directory-3", 0, 258, 1, (gint[]) { 2 });

  g_autoptr(GPtrArray) vid = parse_ok ("a.mp4 0 4\nb.mp4 3\n", -1, VIDEO, FALSE, TRUE, 5,
                                       NULL);
  assert_ann (vid, 0, "a.mp4", 0, -1, 2, (gint[]) { 0, 4 });
  assert_ann (vid, 1, "b.mp4", 0, -1, 1, (gint[]) { 3 });

  g_autoptr(GPtrArray) off = parse_ok ("d 5 20 1 2\n", -1, RAWFRAME, TRUE, TRUE, 0, NULL);
  assert_ann (off, 0, "d", 5, 20, 2, (gint[]) { 1, 2 });

  /* Labels out of range, in any position, for multi-label lists too. */
  assert_parse_error ("a.mp4 1\nb.mp4 0 6 2\n", VIDEO, FALSE, TRUE, 6, 2,
                      "label 6 is out of range");
}

static void
test_data_prefix (void **state)
{
  (void) state;
  g_autoptr(GPtrArray) list = parse_ok ("a.mp4 1\nsub/b.mp4 2\n/abs/c.mp4 0\n", -1, VIDEO,
                                        FALSE, FALSE, 0, "data/kinetics400");
  assert_string_equal (item (list, 0)->path, "data/kinetics400/a.mp4");
  assert_string_equal (item (list, 1)->path, "data/kinetics400/sub/b.mp4");
  /* os.path.join: an absolute path ignores the prefix. */
  assert_string_equal (item (list, 2)->path, "/abs/c.mp4");

  g_autoptr(GPtrArray) slash = parse_ok ("d 10 1\n", -1, RAWFRAME, FALSE, FALSE, 0,
                                         "/data/frames/");
  assert_string_equal (item (slash, 0)->path, "/data/frames/d");

  g_autoptr(GPtrArray) none = parse_ok ("d 10 1\n", -1, RAWFRAME, FALSE, FALSE, 0, NULL);
  assert_string_equal (item (none, 0)->path, "d");
}

static void
test_numbers (void **state)
{
  (void) state;
  /* Python's int() accepts a '+' sign, leading zeros and "-0". */
  g_autoptr(GPtrArray) list = parse_ok ("a +5\nb 007\nc -0\nd 2147483647\n", -1, VIDEO,
                                        FALSE, FALSE, 0, NULL);
  assert_int_equal (item (list, 0)->labels[0], 5);
  assert_int_equal (item (list, 1)->labels[0], 7);
  assert_int_equal (item (list, 2)->labels[0], 0);
  assert_int_equal (item (list, 3)->labels[0], G_MAXINT);

  /* total_frames 0 is a valid (if useless) count. */
  g_autoptr(GPtrArray) raw = parse_ok ("d 0 0\n", -1, RAWFRAME, FALSE, FALSE, 0, NULL);
  assert_int_equal (item (raw, 0)->total_frames, 0);
}

/* ------------------------------------------------------------------ lines */

static void
test_line_endings (void **state)
{
  (void) state;
  const char *lists[] = {
    "a.mp4 1\nb.mp4 2\n",       /* LF */
    "a.mp4 1\r\nb.mp4 2\r\n",   /* CRLF */
    "a.mp4 1\rb.mp4 2\r",       /* CR: Python's universal newlines end a line there too */
    "a.mp4 1\r\nb.mp4 2",       /* no newline at the end */
    "a.mp4 1\n\r\nb.mp4 2\r",   /* mixed, with a blank line */
  };
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      g_autoptr(GPtrArray) list = parse_ok (lists[i], -1, VIDEO, FALSE, FALSE, 3, NULL);
      assert_int_equal (list->len, 2);
      assert_ann (list, 0, "a.mp4", 0, -1, 1, (gint[]) { 1 });
      assert_ann (list, 1, "b.mp4", 0, -1, 1, (gint[]) { 2 });
    }

  /* Line numbers count CRLF once, and blank lines too. */
  assert_parse_error ("a.mp4 1\r\n\r\nb.mp4 x\r\n", VIDEO, FALSE, FALSE, 0, 3, "'x'");
  assert_parse_error ("a.mp4 1\r\rb.mp4 x", VIDEO, FALSE, FALSE, 0, 3, "'x'");
  assert_parse_error ("a.mp4 1\n\n\nb.mp4 x", VIDEO, FALSE, FALSE, 0, 4, "'x'");
}

static void
test_blank_lines_and_spaces (void **state)
{
  (void) state;
  g_autoptr(GPtrArray) list = parse_ok ("\n\n  a.mp4   1  \n \t \n\tb.mp4\t\t2\t\n\n", -1,
                                        VIDEO, FALSE, FALSE, 0, NULL);
  assert_int_equal (list->len, 2);
  assert_ann (list, 0, "a.mp4", 0, -1, 1, (gint[]) { 1 });
  assert_ann (list, 1, "b.mp4", 0, -1, 1, (gint[]) { 2 });

  /* Empty lists are empty, not errors. */
  g_autoptr(GPtrArray) empty = parse_ok ("", -1, VIDEO, FALSE, FALSE, 0, NULL);
  assert_int_equal (empty->len, 0);
  g_autoptr(GPtrArray) blank = parse_ok ("\n \r\n\t\n", -1, RAWFRAME, TRUE, TRUE, 0, NULL);
  assert_int_equal (blank->len, 0);
  g_autoptr(GPtrArray) zero = parse_ok (NULL, 0, VIDEO, FALSE, FALSE, 0, NULL);
  assert_int_equal (zero->len, 0);

  /* The length bounds the text: what follows is not read. */
  g_autoptr(GPtrArray) part = parse_ok ("a.mp4 1\nb.mp4 x\n", 8, VIDEO, FALSE, FALSE, 0, NULL);
  assert_int_equal (part->len, 1);
}

static void
test_huge_lines (void **state)
{
  (void) state;
  /* A 1 MiB path. */
  gsize n = 1 << 20;
  GString *text = g_string_new ("short.mp4 0\n");
  gsize start = text->len;
  g_string_set_size (text, start + n);
  for (gsize i = 0; i < n; i++)
    text->str[start + i] = (char) ('a' + i % 26);
  g_string_append (text, " 3\nlast.mp4 1");
  g_autoptr(GPtrArray) list = parse_ok (text->str, (gssize) text->len, VIDEO, FALSE, FALSE,
                                        4, NULL);
  assert_int_equal (list->len, 3);
  assert_int_equal (strlen (item (list, 1)->path), n);
  assert_memory_equal (item (list, 1)->path, text->str + start, n);
  assert_int_equal (item (list, 1)->labels[0], 3);

  /* A huge bad token: the message quotes only its start. */
  g_string_truncate (text, start);
  g_string_append (text, "x.mp4 ");
  gsize digits_at = text->len;
  g_string_set_size (text, digits_at + n);
  memset (text->str + digits_at, '9', n);
  g_string_append_c (text, 'z');
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) bad = mact_annotation_list_parse_data (text->str, (gssize) text->len,
                                                              "list.txt", VIDEO, FALSE,
                                                              FALSE, 0, NULL, &error);
  assert_null (bad);
  assert_non_null (error);
  assert_true (g_str_has_prefix (error->message, "list.txt:2: label '9999"));
  assert_non_null (strstr (error->message, "...' is not an integer"));
  assert_true (strlen (error->message) < 200);
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);
  g_string_free (text, TRUE);

  /* 100000 labels on one multi-label line. */
  /* Labels cycle through 0..9 (" 0 1 2 ... 9 0 1 ..."), built without printf so the
   * test stays fast under valgrind. */
  GString *many = g_string_new ("d 64");
  for (guint i = 0; i < 100000; i++)
    {
      g_string_append_c (many, ' ');
      g_string_append_c (many, (char) ('0' + i % 10));
    }
  g_autoptr(GPtrArray) multi = parse_ok (many->str, (gssize) many->len, RAWFRAME, FALSE, TRUE,
                                         10, NULL);
  assert_int_equal (item (multi, 0)->n_labels, 100000);
  assert_int_equal (item (multi, 0)->labels[12345], 5);
  assert_int_equal (item (multi, 0)->labels[99999], 9);
  g_string_free (many, TRUE);
}

/* ------------------------------------------------------------------ errors */

static void
test_missing_fields (void **state)
{
  (void) state;
  assert_parse_error ("a.mp4 1\nb.mp4\n", VIDEO, FALSE, FALSE, 0, 2, "missing label");
  assert_parse_error ("a.mp4\n", VIDEO, FALSE, TRUE, 0, 1, "missing label");
  assert_parse_error ("d\n", RAWFRAME, FALSE, FALSE, 0, 1, "missing total_frames");
  assert_parse_error ("d 10\n", RAWFRAME, FALSE, FALSE, 0, 1, "missing label");
  assert_parse_error ("d 10\n", RAWFRAME, FALSE, TRUE, 0, 1, "missing label");
  assert_parse_error ("d\n", RAWFRAME, TRUE, FALSE, 0, 1, "missing offset");
  assert_parse_error ("d 0\n", RAWFRAME, TRUE, FALSE, 0, 1, "missing total_frames");
  assert_parse_error ("d 0 10", RAWFRAME, TRUE, FALSE, 0, 1, "missing label");
  /* The message says what a line should hold. */
  assert_parse_error ("d 0 10", RAWFRAME, TRUE, FALSE, 0, 1,
                      "'frame_dir offset total_frames label'");
}

static void
test_not_integers (void **state)
{
  (void) state;
  const char *bad[] = { "one", "1.0", "1e3", "0x1", "+", "-", "1_000", "5a", "--1", "1-" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *line = g_strdup_printf ("a.mp4 %s\n", bad[i]);
      g_autofree char *needle = g_strdup_printf ("label '%s' is not an integer", bad[i]);
      assert_parse_error (line, VIDEO, FALSE, FALSE, 0, 1, needle);
    }
  /* Only ASCII digits: Python's int() would take U+0661 ARABIC-INDIC DIGIT ONE. */
  assert_parse_error ("a.mp4 \xd9\xa1\n", VIDEO, FALSE, FALSE, 0, 1,
                      "label '\\331\\241' is not an integer");
  assert_parse_error ("d abc 1\n", RAWFRAME, FALSE, FALSE, 0, 1,
                      "total_frames 'abc' is not an integer");
  assert_parse_error ("d 1.5 10 1\n", RAWFRAME, TRUE, FALSE, 0, 1,
                      "offset '1.5' is not an integer");
  assert_parse_error ("d 10 1 two\n", RAWFRAME, FALSE, TRUE, 0, 1,
                      "label 'two' is not an integer");
  /* Control bytes are escaped in messages. */
  assert_parse_error ("a.mp4 1\x01\n", VIDEO, FALSE, FALSE, 0, 1, "'1\\001'");
}

static void
test_negative_values (void **state)
{
  (void) state;
  /* mmaction2 would let -1 index the last class; a negative count is never valid. */
  assert_parse_error ("a.mp4 -1\n", VIDEO, FALSE, FALSE, 0, 1, "label '-1' is negative");
  assert_parse_error ("d -5 1\n", RAWFRAME, FALSE, FALSE, 0, 1,
                      "total_frames '-5' is negative");
  assert_parse_error ("d -1 10 1\n", RAWFRAME, TRUE, FALSE, 0, 1, "offset '-1' is negative");
  assert_parse_error ("d 10 1 -2\n", RAWFRAME, FALSE, TRUE, 0, 1, "label '-2' is negative");
  assert_parse_error ("a.mp4 -99999999999\n", VIDEO, FALSE, FALSE, 0, 1, "is negative");
}

static void
test_label_range (void **state)
{
  (void) state;
  g_autoptr(GPtrArray) ok = parse_ok ("a.mp4 4\n", -1, VIDEO, FALSE, FALSE, 5, NULL);
  assert_int_equal (item (ok, 0)->labels[0], 4);
  assert_parse_error ("a.mp4 4\nb.mp4 5\n", VIDEO, FALSE, FALSE, 5, 2,
                      "label 5 is out of range: num_classes is 5");
  assert_parse_error ("d 10 400\n", RAWFRAME, FALSE, FALSE, 400, 1, "label 400 is out of range");
  /* num_classes 0 does not check. */
  g_autoptr(GPtrArray) any = parse_ok ("a.mp4 1000000\n", -1, VIDEO, FALSE, FALSE, 0, NULL);
  assert_int_equal (item (any, 0)->labels[0], 1000000);
}

static void
test_extra_labels (void **state)
{
  (void) state;
  /* mmaction2 asserts len(label) == 1 without multi_class. */
  assert_parse_error ("a.mp4 1 2\n", VIDEO, FALSE, FALSE, 0, 1,
                      "expected one label (the list is not multi_class), got 2");
  assert_parse_error ("a 1 0\nd 10 1 2 3\n", RAWFRAME, FALSE, FALSE, 0, 2, "got 3");
  /* With offsets the extra field is a label too. */
  assert_parse_error ("d 0 10 1 2\n", RAWFRAME, TRUE, FALSE, 0, 1, "got 2");
  /* A rawframe list read as a video list: total_frames looks like a second label. */
  assert_parse_error ("d 10 1\n", VIDEO, FALSE, FALSE, 0, 1, "got 2");
}

static void
test_overflow (void **state)
{
  (void) state;
  assert_parse_error ("a.mp4 2147483648\n", VIDEO, FALSE, FALSE, 0, 1, "integer overflow");
  assert_parse_error ("a.mp4 99999999999999999999999999999\n", VIDEO, FALSE, FALSE, 0, 1,
                      "integer overflow");
  assert_parse_error ("d 4294967296 1\n", RAWFRAME, FALSE, FALSE, 0, 1,
                      "total_frames '4294967296' is too large");
  assert_parse_error ("d 18446744073709551617 10 1\n", RAWFRAME, TRUE, FALSE, 0, 1,
                      "offset '18446744073709551617' is too large");
}

static void
test_nul_bytes (void **state)
{
  (void) state;
  static const char text[] = "a.mp4 1\nb.mp4\0 2\nc.mp4 3\n";
  assert_parse_error_full (text, sizeof text - 1, VIDEO, FALSE, FALSE, 0, 2,
                           "NUL byte at column 6");
  /* In a blank-looking line, or at the very end. */
  static const char tail[] = "a.mp4 1\n\0";
  assert_parse_error_full (tail, sizeof tail - 1, VIDEO, FALSE, FALSE, 0, 2, "NUL byte");

  /* From a file: the message names it. */
  g_autofree char *path = write_tmp (text, sizeof text - 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = mact_annotation_list_load (path, VIDEO, FALSE, FALSE, 0, NULL,
                                                         &error);
  assert_null (list);
  assert_non_null (error);
  g_autofree char *prefix = g_strdup_printf ("%s:2: ", path);
  assert_true (g_str_has_prefix (error->message, prefix));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);
  g_unlink (path);
}

static void
test_video_with_offset (void **state)
{
  (void) state;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = mact_annotation_list_parse_data ("a.mp4 1\n", -1, NULL, VIDEO,
                                                               TRUE, FALSE, 0, NULL, &error);
  assert_null (list);
  assert_non_null (error);
  assert_non_null (strstr (error->message, "with_offset"));
  assert_true (g_str_has_prefix (error->message, "<data>: "));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG);

  /* Without a source name, parse errors say "<data>". */
  g_autoptr(GPtrArray) bad = mact_annotation_list_parse_data ("a.mp4\n", -1, NULL, VIDEO,
                                                              FALSE, FALSE, 0, NULL, &error);
  assert_null (bad);
  assert_true (g_str_has_prefix (error->message, "<data>:1: "));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);
}

/* ------------------------------------------------------------------ files */

static void
test_load_files (void **state)
{
  (void) state;
  g_autoptr(GError) error = NULL;

  g_autofree char *video = data_path ("video.txt");
  g_autoptr(GPtrArray) v = mact_annotation_list_load (video, VIDEO, FALSE, FALSE, 3,
                                                      "/data/videos", &error);
  g_assert_no_error (error);
  assert_int_equal (v->len, 3);
  assert_ann (v, 0, "/data/videos/some/video-1.mp4", 0, -1, 1, (gint[]) { 1 });
  assert_ann (v, 2, "/data/videos/some/video-3.mp4", 0, -1, 1, (gint[]) { 2 });

  /* CRLF endings, a blank line, no final newline. */
  g_autofree char *crlf = data_path ("rawframe_offset_crlf.txt");
  g_autoptr(GPtrArray) r = mact_annotation_list_load (crlf, RAWFRAME, TRUE, FALSE, 0, NULL,
                                                      &error);
  g_assert_no_error (error);
  assert_int_equal (r->len, 3);
  assert_ann (r, 0, "some/directory-1", 12, 163, 1, (gint[]) { 3 });
  assert_ann (r, 1, "some/directory-2", 213, 122, 1, (gint[]) { 4 });
  assert_ann (r, 2, "some/directory-3", 0, 258, 1, (gint[]) { 5 });

  g_autofree char *multi = data_path ("rawframe_multi.txt");
  g_autoptr(GPtrArray) m = mact_annotation_list_load (multi, RAWFRAME, FALSE, TRUE, 6, NULL,
                                                      &error);
  g_assert_no_error (error);
  assert_ann (m, 0, "some/directory-1", 0, 163, 3, (gint[]) { 1, 3, 5 });

  /* Read single-label, the multi-label list fails at its first line. */
  g_autoptr(GPtrArray) single = mact_annotation_list_load (multi, RAWFRAME, FALSE, FALSE, 6,
                                                           NULL, &error);
  assert_null (single);
  g_autofree char *prefix = g_strdup_printf ("%s:1: ", multi);
  assert_true (g_str_has_prefix (error->message, prefix));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);

  g_autofree char *bad = data_path ("video_bad_line2.txt");
  g_autoptr(GPtrArray) b = mact_annotation_list_load (bad, VIDEO, FALSE, FALSE, 0, NULL,
                                                      &error);
  assert_null (b);
  g_autofree char *prefix2 = g_strdup_printf ("%s:2: label 'one' is not an integer", bad);
  assert_true (g_str_has_prefix (error->message, prefix2));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);
}

static void
test_unreadable_files (void **state)
{
  (void) state;
  g_autoptr(GError) error = NULL;

  g_autofree char *missing = data_path ("no-such-list.txt");
  g_autoptr(GPtrArray) a = mact_annotation_list_load (missing, VIDEO, FALSE, FALSE, 0, NULL,
                                                      &error);
  assert_null (a);
  assert_non_null (error);
  assert_non_null (strstr (error->message, missing));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO);

  /* A directory is not a list. */
  g_autofree char *dir = g_dir_make_tmp ("mact-annotation-XXXXXX", NULL);
  assert_non_null (dir);
  g_autoptr(GPtrArray) d = mact_annotation_list_load (dir, RAWFRAME, FALSE, FALSE, 0, NULL,
                                                      &error);
  assert_null (d);
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO);

  /* A file without read permission (skipped for root, who can read it anyway). */
  g_autofree char *path = write_tmp ("a.mp4 1\n", 8);
  g_chmod (path, 0);
  if (access (path, R_OK) != 0)
    {
      g_autoptr(GPtrArray) p = mact_annotation_list_load (path, VIDEO, FALSE, FALSE, 0, NULL,
                                                          &error);
      assert_null (p);
      mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO);
    }
  g_unlink (path);
  g_rmdir (dir);

  /* An empty file is an empty list. */
  g_autofree char *empty = write_tmp ("", 0);
  g_autoptr(GPtrArray) e = mact_annotation_list_load (empty, VIDEO, FALSE, FALSE, 0, NULL,
                                                      &error);
  g_assert_no_error (error);
  assert_int_equal (e->len, 0);
  g_unlink (empty);
}

/* ------------------------------------------------------------------ boxed type */

/* Label maps (mact_label_map_load) from hostile files.  Fuzzing found the first: a map
 * whose bytes are not UTF-8 was returned as is, though its names are UTF-8 strings to
 * callers and to the language bindings (fuzz/corpus/label-map, fuzz-label-map). */
static void
test_label_map_hostile (void **state)
{
  (void) state;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mact-label-map-XXXXXX", NULL);
  assert_non_null (dir);
  g_autofree char *path = g_build_filename (dir, "labels.txt", NULL);

  /* the fuzzer's input: "caf\xc3\xa9\n\xe2eh \x93\x9ccck\n" */
  const char found[] = "caf\xc3\xa9\n\xe2" "eh \x93\x9c" "cck\n";
  assert_true (g_file_set_contents (path, found, sizeof found - 1, NULL));
  assert_null (mact_label_map_load (path, &error));
  g_autofree char *line2 = g_strdup_printf ("%s:2: bytes that are not UTF-8", path);
  assert_non_null (error);
  assert_true (g_str_has_prefix (error->message, line2));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);

  /* a NUL byte used to end the map silently after "b" */
  const char nul[] = "a\nb\0c\nd\n";
  assert_true (g_file_set_contents (path, nul, sizeof nul - 1, NULL));
  assert_null (mact_label_map_load (path, &error));
  g_autofree char *line2nul = g_strdup_printf ("%s:2: a NUL byte", path);
  assert_true (g_str_has_prefix (error->message, line2nul));
  mact_test_assert_error (&error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE);

  /* valid UTF-8 names load unchanged */
  const char fine[] = "caf\xc3\xa9\n\xe2\x9c\x93 check\r\n";
  assert_true (g_file_set_contents (path, fine, sizeof fine - 1, NULL));
  g_auto(GStrv) names = mact_label_map_load (path, &error);
  g_assert_no_error (error);
  assert_int_equal (g_strv_length (names), 2);
  assert_string_equal (names[0], "caf\xc3\xa9");
  assert_string_equal (names[1], "\xe2\x9c\x93 check");

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_boxed (void **state)
{
  (void) state;
  assert_true (G_TYPE_IS_ENUM (MACT_TYPE_ANNOTATION_FORMAT));
  GType type = mact_annotation_get_type ();
  assert_true (G_TYPE_IS_BOXED (type));
  assert_string_equal (g_type_name (type), "MactAnnotation");

  g_autoptr(GPtrArray) list = parse_ok ("d 3 30 1 2\n", -1, RAWFRAME, TRUE, TRUE, 0, "p");
  MactAnnotation *orig = item (list, 0);
  g_autoptr(MactAnnotation) copy = g_boxed_copy (type, orig);
  assert_ptr_not_equal (copy, orig);
  assert_ptr_not_equal (copy->path, orig->path);
  assert_ptr_not_equal (copy->labels, orig->labels);
  assert_string_equal (copy->path, "p/d");
  assert_int_equal (copy->offset, 3);
  assert_int_equal (copy->total_frames, 30);
  assert_int_equal (copy->n_labels, 2);
  assert_int_equal (copy->labels[1], 2);
  copy->labels[1] = 7;
  assert_int_equal (orig->labels[1], 2);

  /* Through a GValue, as bindings hold it. */
  GValue value = G_VALUE_INIT;
  g_value_init (&value, type);
  g_value_set_boxed (&value, orig);
  MactAnnotation *held = g_value_dup_boxed (&value);
  assert_string_equal (held->path, "p/d");
  g_value_unset (&value);
  mact_annotation_free (held);

  /* An annotation without labels copies too. */
  MactAnnotation bare = { (char *) "x", 0, -1, NULL, 0 };
  g_autoptr(MactAnnotation) bare_copy = mact_annotation_copy (&bare);
  assert_string_equal (bare_copy->path, "x");
  assert_null (bare_copy->labels);
  mact_annotation_free (NULL);
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_video_list),
    cmocka_unit_test (test_rawframe_list),
    cmocka_unit_test (test_multi_class),
    cmocka_unit_test (test_data_prefix),
    cmocka_unit_test (test_numbers),
    cmocka_unit_test (test_line_endings),
    cmocka_unit_test (test_blank_lines_and_spaces),
    cmocka_unit_test (test_huge_lines),
    cmocka_unit_test (test_missing_fields),
    cmocka_unit_test (test_not_integers),
    cmocka_unit_test (test_negative_values),
    cmocka_unit_test (test_label_range),
    cmocka_unit_test (test_extra_labels),
    cmocka_unit_test (test_overflow),
    cmocka_unit_test (test_nul_bytes),
    cmocka_unit_test (test_video_with_offset),
    cmocka_unit_test (test_load_files),
    cmocka_unit_test (test_unreadable_files),
    cmocka_unit_test (test_label_map_hostile),
    cmocka_unit_test (test_boxed),
  };
  return cmocka_run_group_tests_name ("annotation", tests, NULL, NULL);
}
