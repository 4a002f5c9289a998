/* mact-annotation.c: mmaction2's annotation lists (VideoDataset and RawframeDataset
 * load_annotations, text form).
 *
 * A list has one sample per line, fields separated by whitespace:
 *
 *   video:                     path label [label ...]
 *   rawframe:                  frame_dir total_frames label [label ...]
 *   rawframe with offset:      frame_dir offset total_frames label [label ...]
 *
 * with more than one label only in multi_class lists.  mmaction2 reads the file with
 * Python's universal newlines (so "\n", "\r\n" and a lone "\r" all end a line), strips
 * each line and splits it on whitespace; mact does the same with ASCII whitespace.
 * Where mmaction2 would crash with an IndexError or an AssertionError, or silently accept
 * a value that later indexes the wrong class (a negative label), mact reports
 * MACT_DATA_ERROR_PARSE naming the source and the line.  Blank lines are skipped (mmaction2
 * fails on them).  Numbers are decimal, with an optional '+', and must fit a gint. */
#include <mact/mact.h>

#include <string.h>

G_DEFINE_BOXED_TYPE (MactAnnotation, mact_annotation, mact_annotation_copy,
                     mact_annotation_free)

/**
 * mact_annotation_copy:
 * @self: an annotation
 *
 * Copies @self, with its path and labels.
 *
 * Returns: (transfer full): a new annotation
 *
 * Since: 0.1
 */
MactAnnotation *
mact_annotation_copy (const MactAnnotation *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  MactAnnotation *copy = g_new0 (MactAnnotation, 1);
  copy->path = g_strdup (self->path);
  copy->offset = self->offset;
  copy->total_frames = self->total_frames;
  copy->n_labels = self->n_labels;
  copy->labels = self->n_labels > 0 ? g_memdup2 (self->labels, self->n_labels * sizeof (gint))
                                    : NULL;
  return copy;
}

/**
 * mact_annotation_free:
 * @self: (nullable) (transfer full): an annotation
 *
 * Frees @self, its path and its labels.
 *
 * Since: 0.1
 */
void
mact_annotation_free (MactAnnotation *self)
{
  if (self == NULL)
    return;
  g_free (self->path);
  g_free (self->labels);
  g_free (self);
}

/* ------------------------------------------------------------------ parsing */

typedef struct {
  const char *start;
  gsize       length;
} Token;

typedef struct {
  const char *source;
  guint64     line;
} Where;

static void parse_error (GError **error, const Where *where, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static void
parse_error (GError **error, const Where *where, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE, "%s:%" G_GUINT64_FORMAT ": %s",
               where->source, where->line, detail);
}

/* A token for a message: at most 40 bytes (a line may be megabytes long), with
 * non-printable bytes escaped. */
static char *
show_token (const Token *token)
{
  const gsize max = 40;
  g_autofree char *raw = g_strndup (token->start, MIN (token->length, max));
  g_autofree char *escaped = g_strescape (raw, NULL);
  return g_strdup_printf ("'%s%s'", escaped, token->length > max ? "..." : "");
}

/* Python's int() on the fields, restricted to what an annotation can hold: ASCII decimal
 * digits with an optional '+' (or "-0"), at most G_MAXINT.  Negative values are refused:
 * mmaction2 would let a label of -1 index the last class. */
static gboolean
parse_count (const Token *token, const char *field, const Where *where, gint *out,
             GError **error)
{
  const char *p = token->start;
  const char *end = token->start + token->length;
  gboolean negative = FALSE;
  gboolean digits = FALSE;
  gboolean overflow = FALSE;
  gint64 value = 0;

  if (p < end && (*p == '+' || *p == '-'))
    {
      negative = *p == '-';
      p++;
    }
  for (; p < end && g_ascii_isdigit (*p); p++)
    {
      digits = TRUE;
      if (!overflow)
        {
          value = value * 10 + (*p - '0');
          overflow = value > G_MAXINT;
        }
    }

  g_autofree char *shown = show_token (token);
  if (!digits || p != end)
    {
      parse_error (error, where, "%s %s is not an integer", field, shown);
      return FALSE;
    }
  if (negative && (value != 0 || overflow))
    {
      parse_error (error, where, "%s %s is negative", field, shown);
      return FALSE;
    }
  if (overflow)
    {
      parse_error (error, where, "%s %s is too large (integer overflow: the maximum is %d)",
                   field, shown, G_MAXINT);
      return FALSE;
    }
  *out = (gint) value;
  return TRUE;
}

/* The fields of one line, in the order they must appear. */
static const char *
layout (MactAnnotationFormat format, gboolean with_offset)
{
  if (format == MACT_ANNOTATION_FORMAT_VIDEO)
    return "'path label'";
  return with_offset ? "'frame_dir offset total_frames label'"
                     : "'frame_dir total_frames label'";
}

static MactAnnotation *
parse_line (const Token *tokens, guint n_tokens, const Where *where,
            MactAnnotationFormat format, gboolean with_offset, gboolean multi_class,
            guint num_classes, const char *data_prefix, GError **error)
{
  g_autoptr(MactAnnotation) ann = g_new0 (MactAnnotation, 1);
  ann->total_frames = -1;

  /* Field names, in order, before the labels. */
  const char *fields[3] = { NULL, NULL, NULL };
  guint n_fields = 0;
  fields[n_fields++] = format == MACT_ANNOTATION_FORMAT_VIDEO ? "path" : "frame_dir";
  if (format == MACT_ANNOTATION_FORMAT_RAWFRAME)
    {
      if (with_offset)
        fields[n_fields++] = "offset";
      fields[n_fields++] = "total_frames";
    }

  if (n_tokens <= n_fields)
    {
      const char *missing = n_tokens < n_fields ? fields[n_tokens] : "label";
      parse_error (error, where, "missing %s: expected %s%s, got %u field%s", missing,
                   layout (format, with_offset), multi_class ? " with one or more labels" : "",
                   n_tokens, n_tokens == 1 ? "" : "s");
      return NULL;
    }

  guint n_labels = n_tokens - n_fields;
  if (!multi_class && n_labels != 1)
    {
      parse_error (error, where, "expected one label (the list is not multi_class), got %u: "
                   "expected %s", n_labels, layout (format, with_offset));
      return NULL;
    }

  guint i = 1;
  if (format == MACT_ANNOTATION_FORMAT_RAWFRAME)
    {
      if (with_offset && !parse_count (&tokens[i++], "offset", where, &ann->offset, error))
        return NULL;
      if (!parse_count (&tokens[i++], "total_frames", where, &ann->total_frames, error))
        return NULL;
    }

  ann->labels = g_new (gint, n_labels);
  ann->n_labels = n_labels;
  for (guint k = 0; k < n_labels; k++, i++)
    {
      if (!parse_count (&tokens[i], "label", where, &ann->labels[k], error))
        return NULL;
      if (num_classes > 0 && (guint) ann->labels[k] >= num_classes)
        {
          parse_error (error, where, "label %d is out of range: num_classes is %u, so labels "
                       "must be in [0, %u)", ann->labels[k], num_classes, num_classes);
          return NULL;
        }
    }

  /* os.path.join semantics: an absolute path ignores the prefix. */
  g_autofree char *path = g_strndup (tokens[0].start, tokens[0].length);
  if (data_prefix != NULL && !g_path_is_absolute (path))
    ann->path = g_build_filename (data_prefix, path, NULL);
  else
    ann->path = g_steal_pointer (&path);

  return g_steal_pointer (&ann);
}

static inline gboolean
is_field_space (char c)
{
  /* The ASCII whitespace of Python's str.split() that does not end a line. */
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || (c >= '\x1c' && c <= '\x1f');
}

static GPtrArray *
parse (const char *data, gsize length, const char *source, MactAnnotationFormat format,
       gboolean with_offset, gboolean multi_class, guint num_classes, const char *data_prefix,
       GError **error)
{
  if (format == MACT_ANNOTATION_FORMAT_VIDEO && with_offset)
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   "%s: with_offset applies to rawframe lists only, not to video lists",
                   source);
      return NULL;
    }

  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func (
      (GDestroyNotify) mact_annotation_free);
  g_autoptr(GArray) tokens = g_array_new (FALSE, FALSE, sizeof (Token));
  Where where = { source, 0 };

  const char *p = data;
  const char *end = data + length;
  while (p < end)
    {
      const char *line_start = p;
      where.line++;
      g_array_set_size (tokens, 0);

      /* Split the line, stopping at its end: "\n", "\r\n" or a lone "\r". */
      while (p < end && *p != '\n' && *p != '\r')
        {
          if (*p == '\0')
            {
              parse_error (error, &where, "the line contains a NUL byte at column %"
                           G_GSIZE_FORMAT " (is this a text file?)",
                           (gsize) (p - line_start) + 1);
              return NULL;
            }
          if (is_field_space (*p))
            {
              p++;
              continue;
            }
          Token token = { p, 0 };
          while (p < end && *p != '\n' && *p != '\r' && *p != '\0' && !is_field_space (*p))
            p++;
          token.length = (gsize) (p - token.start);
          g_array_append_val (tokens, token);
        }
      if (p < end && *p++ == '\r' && p < end && *p == '\n')
        p++;

      if (tokens->len == 0)
        continue;
      MactAnnotation *ann = parse_line ((const Token *) (gpointer) tokens->data, tokens->len,
                                        &where, format, with_offset, multi_class,
                                        num_classes, data_prefix, error);
      if (ann == NULL)
        return NULL;
      g_ptr_array_add (result, ann);
    }
  return g_steal_pointer (&result);
}

/**
 * mact_annotation_list_parse_data:
 * @data: (array length=length) (element-type guint8) (nullable): the text of an annotation
 *   list (%NULL only when @length is 0)
 * @length: the length of @data in bytes, or -1 if it is nul-terminated
 * @source_name: (nullable): what to call the text in error messages, e.g. a file name;
 *   `"<data>"` when %NULL
 * @format: video or rawframe lines
 * @with_offset: rawframe lines carry an offset before total_frames
 * @multi_class: lines may carry several labels (else exactly one)
 * @num_classes: labels must be below this; 0 does not check
 * @data_prefix: (nullable) (type filename): a directory joined before each relative path
 * @error: return location for a #GError
 *
 * Parses an annotation list held in memory, as mmaction2's VideoDataset and
 * RawframeDataset read their `ann_file`.
 *
 * Lines end with "\n", "\r\n" or "\r"; the last one need not end at all.  Fields are
 * separated by runs of spaces or tabs; blank lines are skipped.  A video line is
 * `path label`; a rawframe line is `frame_dir total_frames label`, or
 * `frame_dir offset total_frames label` with @with_offset.  With @multi_class a line ends
 * with one or more labels.  Numbers are non-negative decimal integers that fit a #gint.
 * When @data_prefix is given it is joined to each relative path (os.path.join: an absolute
 * path is kept as it is).
 *
 * A malformed line (a missing field, a number that is not an integer, is negative or
 * overflows, a label not below @num_classes, more than one label without @multi_class,
 * a NUL byte) is %MACT_DATA_ERROR_PARSE with a message starting "source:line: ".
 * @with_offset for a video list is %MACT_DATA_ERROR_INVALID_CONFIG.
 *
 * Returns: (transfer container) (element-type MactAnnotation) (nullable): the annotations
 *   in file order (an empty array for an empty list; the array frees them), or %NULL on
 *   error
 *
 * Since: 0.1
 */
GPtrArray *
mact_annotation_list_parse_data (const char *data, gssize length, const char *source_name,
                                 MactAnnotationFormat format, gboolean with_offset,
                                 gboolean multi_class, guint num_classes,
                                 const char *data_prefix, GError **error)
{
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (format == MACT_ANNOTATION_FORMAT_VIDEO
                        || format == MACT_ANNOTATION_FORMAT_RAWFRAME, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gsize n = length < 0 ? strlen (data) : (gsize) length;
  return parse (data != NULL ? data : "", n, source_name ? source_name : "<data>", format,
                with_offset, multi_class, num_classes, data_prefix, error);
}

/**
 * mact_annotation_list_load:
 * @path: (type filename): an annotation list file
 * @format: video or rawframe lines
 * @with_offset: rawframe lines carry an offset before total_frames
 * @multi_class: lines may carry several labels (else exactly one)
 * @num_classes: labels must be below this; 0 does not check
 * @data_prefix: (nullable) (type filename): a directory joined before each relative path
 * @error: return location for a #GError
 *
 * Reads and parses an annotation list file; see mact_annotation_list_parse_data() for
 * the format.  Parse errors name @path and the line ("path:line: ...").  A file that cannot
 * be read is %MACT_DATA_ERROR_IO.
 *
 * Returns: (transfer container) (element-type MactAnnotation) (nullable): the annotations
 *   in file order (the array frees them), or %NULL on error
 *
 * Since: 0.1
 */
GPtrArray *
mact_annotation_list_load (const char *path, MactAnnotationFormat format, gboolean with_offset,
                           gboolean multi_class, guint num_classes, const char *data_prefix,
                           GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (format == MACT_ANNOTATION_FORMAT_VIDEO
                        || format == MACT_ANNOTATION_FORMAT_RAWFRAME, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &contents, &length, &local))
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO,
                   "cannot read annotation list '%s': %s", path, local->message);
      return NULL;
    }
  return parse (contents, length, path, format, with_offset, multi_class, num_classes,
                data_prefix, error);
}
