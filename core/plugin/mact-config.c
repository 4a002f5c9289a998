/* mact-config.c: mmaction2-style model configs in JSON, and building blocks from them.
 *
 * A block config is a JSON object with a string "type" (the registry name) and one member
 * per constructor argument, as an mmaction2 `dict(type=..., **kwargs)`.  Arguments are the
 * block class's construct properties: `num_classes` in a config is the property
 * `num-classes`.  Values are converted against the property's GParamSpec, so a config can
 * only ever produce values the class declared acceptable; anything else is a GError in
 * %MACT_CONFIG_ERROR naming the block and the argument.
 *
 * Unlike mmaction2 0.x (whose builders pop `type` from the caller's dict and rewrite
 * `mmcls.` prefixes in place) nothing here modifies the caller's JSON: values are read,
 * and JSON-typed properties receive deep copies (mact_config_copy()). */
#include <mact/mact.h>

#include "mact-config-private.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (mact-config-error-quark, mact_config_error)

/* A config nests a handful of levels (model, backbone, a list of stages, a tuple); this
 * is far beyond any real one, and keeps every recursive walk of the tree (json-glib's
 * parser, mact_config_copy(), the block builder) a few kilobytes of stack deep. */
#define CONFIG_MAX_DEPTH 64

/* ------------------------------------------------------------------ checked JSON text */

typedef struct {
  const char    *text;
  gsize          length;
  gsize          pos;
  const char    *source;
  MactJsonFlags  flags;
} Scan;

/* "'x'" for a printable ASCII character, else its code point; "end of data" past the end.
 * The text before @at is valid UTF-8 (checked first). */
static char *
describe_at (const Scan *s, gsize at)
{
  if (at >= s->length)
    return g_strdup ("end of data");
  guchar c = (guchar) s->text[at];
  if (c >= 0x20 && c < 0x7f)
    return g_strdup_printf ("'%c'", c);
  if (c < 0x80)
    return g_strdup_printf ("U+%04X", c);
  return g_strdup_printf ("U+%04X", g_utf8_get_char (s->text + at));
}

static gboolean scan_fail (const Scan *s, gsize at, GError **error, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

/* Sets "source:line:column: what" for the byte at @at; always returns %FALSE. */
static gboolean
scan_fail (const Scan *s, gsize at, GError **error, const char *format, ...)
{
  guint line = 1;
  gsize line_start = 0;
  for (gsize i = 0; i < at && i < s->length; i++)
    if (s->text[i] == '\n')
      {
        line++;
        line_start = i + 1;
      }
  /* Columns count characters, as json-glib's do; only valid UTF-8 precedes @at. */
  glong column = g_utf8_strlen (s->text + line_start,
                                (gssize) (MIN (at, s->length) - line_start)) + 1;
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE, "%s:%u:%ld: %s", s->source,
               line, column, what);
  return FALSE;
}

static void
skip_space (Scan *s)
{
  while (s->pos < s->length && (s->text[s->pos] == ' ' || s->text[s->pos] == '\t' ||
                                s->text[s->pos] == '\n' || s->text[s->pos] == '\r'))
    s->pos++;
}

static gint
hex4 (const Scan *s, gsize at)
{
  if (at + 4 > s->length)
    return -1;
  gint value = 0;
  for (gsize i = at; i < at + 4; i++)
    {
      gint digit = g_ascii_xdigit_value (s->text[i]);
      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  return value;
}

static gboolean
scan_string (Scan *s, GError **error)
{
  gsize start = s->pos;
  char quote = s->text[s->pos++];
  for (;;)
    {
      if (s->pos >= s->length)
        return scan_fail (s, start, error, "the string is not terminated");
      guchar c = (guchar) s->text[s->pos];
      if (c == (guchar) quote)
        {
          s->pos++;
          return TRUE;
        }
      if (c < 0x20)
        return scan_fail (s, s->pos, error, "control character U+%04X in a string (write it "
                          "as an escape)", c);
      /* json-glib reads single-quoted strings without escapes. */
      if (c != '\\' || quote == '\'')
        {
          s->pos++;
          continue;
        }
      gsize escape = s->pos++;
      if (s->pos >= s->length)
        return scan_fail (s, start, error, "the string is not terminated");
      c = (guchar) s->text[s->pos];
      if (c != 'u')
        {
          if (c == '\0' || strchr ("\"\\/bfnrt", c) == NULL)
            {
              g_autofree char *shown = describe_at (s, s->pos);
              return scan_fail (s, escape, error, "invalid escape: a backslash followed by %s",
                                shown);
            }
          s->pos++;
          continue;
        }
      gint unit = hex4 (s, s->pos + 1);
      if (unit < 0)
        return scan_fail (s, escape, error, "\\u must be followed by four hexadecimal digits");
      s->pos += 5;
      if (unit == 0)
        return scan_fail (s, escape, error, "\\u0000 (a NUL character) cannot be held in a "
                          "string");
      if (unit >= 0xdc00 && unit <= 0xdfff)
        return scan_fail (s, escape, error, "\\u%04x is the second half of a UTF-16 "
                          "surrogate pair without the first", (guint) unit);
      if (unit >= 0xd800 && unit <= 0xdbff)
        {
          gint low = s->pos + 1 < s->length && s->text[s->pos] == '\\' &&
                     s->text[s->pos + 1] == 'u' ? hex4 (s, s->pos + 2) : -1;
          if (low < 0xdc00 || low > 0xdfff)
            return scan_fail (s, escape, error, "\\u%04x is the first half of a UTF-16 "
                              "surrogate pair without the second", (guint) unit);
          s->pos += 6;
        }
    }
}

static gboolean
scan_number (Scan *s, GError **error)
{
  gsize start = s->pos;
  gboolean fraction = FALSE;

  if (s->text[s->pos] == '-')
    s->pos++;
  if (s->pos >= s->length || !g_ascii_isdigit (s->text[s->pos]))
    return scan_fail (s, start, error, "malformed number: a '-' must be followed by digits");
  if (s->text[s->pos] == '0')
    s->pos++;   /* no leading zeros: a digit after it is refused as unexpected */
  else
    while (s->pos < s->length && g_ascii_isdigit (s->text[s->pos]))
      s->pos++;
  if (s->pos < s->length && s->text[s->pos] == '.')
    {
      fraction = TRUE;
      if (++s->pos >= s->length || !g_ascii_isdigit (s->text[s->pos]))
        return scan_fail (s, start, error, "malformed number: a '.' must be followed by "
                          "digits");
      while (s->pos < s->length && g_ascii_isdigit (s->text[s->pos]))
        s->pos++;
    }
  if (s->pos < s->length && (s->text[s->pos] == 'e' || s->text[s->pos] == 'E'))
    {
      fraction = TRUE;
      s->pos++;
      if (s->pos < s->length && (s->text[s->pos] == '+' || s->text[s->pos] == '-'))
        s->pos++;
      if (s->pos >= s->length || !g_ascii_isdigit (s->text[s->pos]))
        return scan_fail (s, start, error, "malformed number: an exponent must have digits");
      while (s->pos < s->length && g_ascii_isdigit (s->text[s->pos]))
        s->pos++;
    }

  gsize n = s->pos - start;
  g_autofree char *number = g_strndup (s->text + start, n);
  /* A number in a message is cut short: a hostile one may be megabytes of digits. */
  g_autofree char *shown = n <= 40 ? g_strdup (number)
                                   : g_strdup_printf ("%.20s... (%" G_GSIZE_FORMAT
                                                      " characters)", number, n);
  if (!fraction)
    {
      /* json-glib would wrap it silently (2^64 + 4 becomes 4). */
      if (!g_ascii_string_to_signed (number, 10, G_MININT64, G_MAXINT64, NULL, NULL))
        return scan_fail (s, start, error, "the integer %s does not fit in 64 bits", shown);
    }
  else if (!isfinite (g_ascii_strtod (number, NULL)))
    return scan_fail (s, start, error, "the number %s is too large for a double "
                      "(it would become infinite)", shown);
  return TRUE;
}

/* The grammar of RFC 8259 without recursion: @stack holds the open containers. */
static gboolean
check_json_text (Scan *s, guint max_depth, GError **error)
{
  const gchar *bad = NULL;
  if (!g_utf8_validate_len (s->text, s->length, &bad))
    {
      gsize at = (gsize) (bad - s->text);
      if (*bad == '\0')
        return scan_fail (s, at, error, "a NUL byte (is this a text file?)");
      return scan_fail (s, at, error, "byte 0x%02x is not UTF-8", (guchar) *bad);
    }

  g_autofree char *stack = g_malloc (max_depth + 1);
  guint depth = 0;
  enum { VALUE, KEY, AFTER } state = VALUE;

  /* A UTF-8 byte order mark may start the text (RFC 8259 lets readers ignore it, and
   * json-glib does). */
  if (s->length >= 3 && memcmp (s->text, "\xef\xbb\xbf", 3) == 0)
    s->pos = 3;
  skip_space (s);
  if (s->pos == s->length)
    return TRUE;   /* empty: the caller says so */
  for (;;)
    {
      skip_space (s);
      if (state == AFTER)
        {
          if (depth == 0)
            {
              if (s->pos == s->length)
                return TRUE;
              g_autofree char *shown = describe_at (s, s->pos);
              return scan_fail (s, s->pos, error, "unexpected %s after the value", shown);
            }
          char close = stack[depth - 1] == '{' ? '}' : ']';
          if (s->pos < s->length && s->text[s->pos] == ',')
            {
              s->pos++;
              state = close == '}' ? KEY : VALUE;
              continue;
            }
          if (s->pos < s->length && s->text[s->pos] == close)
            {
              s->pos++;
              depth--;
              continue;
            }
          g_autofree char *shown = describe_at (s, s->pos);
          return scan_fail (s, s->pos, error, "unexpected %s, expected ',' or '%c'", shown,
                            close);
        }

      char c = s->pos < s->length ? s->text[s->pos] : '\0';
      gboolean is_string = c == '"' || (c == '\'' && (s->flags & MACT_JSON_SINGLE_QUOTES));
      if (state == KEY)
        {
          if (!is_string)
            {
              g_autofree char *shown = describe_at (s, s->pos);
              return scan_fail (s, s->pos, error, "unexpected %s, expected a string (a key)",
                                shown);
            }
          if (!scan_string (s, error))
            return FALSE;
          skip_space (s);
          if (s->pos >= s->length || s->text[s->pos] != ':')
            {
              g_autofree char *shown = describe_at (s, s->pos);
              return scan_fail (s, s->pos, error, "unexpected %s, expected ':'", shown);
            }
          s->pos++;
          state = VALUE;
          continue;
        }

      /* A value. */
      if (c == '{' || c == '[')
        {
          if (depth == max_depth)
            return scan_fail (s, s->pos, error, "the data nests more than %u levels deep",
                              max_depth);
          stack[depth++] = c;
          s->pos++;
          skip_space (s);
          if (s->pos < s->length && s->text[s->pos] == (c == '{' ? '}' : ']'))
            {
              s->pos++;
              depth--;
              state = AFTER;
            }
          else
            state = c == '{' ? KEY : VALUE;
          continue;
        }
      state = AFTER;
      if (is_string)
        {
          if (!scan_string (s, error))
            return FALSE;
          continue;
        }
      if (c == '-' || g_ascii_isdigit (c))
        {
          if (!scan_number (s, error))
            return FALSE;
          continue;
        }
      const char *const literals[] = { "true", "false", "null" };
      gboolean found = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS (literals) && !found; i++)
        {
          gsize n = strlen (literals[i]);
          if (s->length - s->pos >= n && memcmp (s->text + s->pos, literals[i], n) == 0)
            {
              s->pos += n;
              found = TRUE;
            }
        }
      if (!found)
        {
          g_autofree char *shown = describe_at (s, s->pos);
          return scan_fail (s, s->pos, error, "unexpected %s, expected a value", shown);
        }
    }
}

typedef struct {
  GHashTable *counts;      /* JsonObject -> members parsed into it so far */
  char       *duplicate;   /* the first key seen twice */
} DuplicateCheck;

/* json-glib keeps the last of two equal keys.  Every parsed member is announced after it
 * was set, so more announcements than members means one replaced another. */
static void
on_object_member (JsonParser *parser, JsonObject *object, const char *name, gpointer data)
{
  DuplicateCheck *check = data;
  if (check->duplicate != NULL)
    return;
  guint seen = GPOINTER_TO_UINT (g_hash_table_lookup (check->counts, object)) + 1;
  g_hash_table_insert (check->counts, object, GUINT_TO_POINTER (seen));
  if (seen > json_object_get_size (object))
    check->duplicate = g_strdup (name);
}

gboolean
mact_json_parse_checked (const char *text, gsize length, const char *source, guint max_depth,
                         MactJsonFlags flags, JsonNode **root, GError **error)
{
  g_return_val_if_fail (text != NULL || length == 0, FALSE);
  g_return_val_if_fail (root != NULL, FALSE);

  *root = NULL;
  Scan scan = { text, length, 0, source, flags };
  if (!check_json_text (&scan, max_depth, error))
    return FALSE;
  if (length == 0)
    return TRUE;

  g_autoptr(JsonParser) parser = (flags & MACT_JSON_IMMUTABLE) ? json_parser_new_immutable ()
                                                                : json_parser_new ();
  DuplicateCheck check = { g_hash_table_new (NULL, NULL), NULL };
  g_signal_connect (parser, "object-member", G_CALLBACK (on_object_member), &check);
  g_autoptr(GError) local = NULL;
  gboolean parsed = json_parser_load_from_data (parser, text, (gssize) length, &local);
  g_signal_handlers_disconnect_by_data (parser, &check);
  g_hash_table_unref (check.counts);
  g_autofree char *duplicate = check.duplicate;
  if (!parsed)
    {
      /* Not expected after the check above; json-glib's message has the position. */
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE, "%s", local->message);
      return FALSE;
    }
  if (duplicate != NULL)
    {
      g_autofree char *escaped = g_strescape (duplicate, NULL);
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "%s: key \"%.60s%s\" appears twice in one object (which one would count "
                   "is ambiguous)", source, escaped, strlen (escaped) > 60 ? "..." : "");
      return FALSE;
    }
  *root = json_parser_steal_root (parser);
  return TRUE;
}

/* ------------------------------------------------------------------ loading */

/* Parses config text with mact_json_parse_checked(), words its errors for @what ("config
 * data", "config file 'x'") and refuses empty text. */
static JsonNode *
parse_config_text (const char *text, gsize length, const char *source, const char *what,
                   GError **error)
{
  g_autoptr(GError) local = NULL;
  JsonNode *root = NULL;
  if (!mact_json_parse_checked (text, length, source, CONFIG_MAX_DEPTH,
                                MACT_JSON_SINGLE_QUOTES, &root, &local))
    {
      if (g_error_matches (local, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID))
        g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE, "%s is refused: %s",
                     what, local->message);
      else
        g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE,
                     "%s is not valid JSON: %s", what, local->message);
      return NULL;
    }
  if (root == NULL)
    g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE,
                 "%s is empty: expected a JSON value", what);
  return root;
}

/**
 * mact_config_load_file:
 * @path: (type filename): a JSON file
 * @error: return location for a #GError
 *
 * Reads and parses a JSON config file.
 *
 * The text must be JSON (RFC 8259); strings may also be written in single quotes, with no
 * escapes inside them.  A file that cannot be read, is empty or is not such JSON gives
 * %MACT_CONFIG_ERROR_PARSE; the message names the file and, for bad JSON, the line and
 * column (`path:line:column: ...`).  Hostile text is refused the same way before it is
 * parsed: arrays and objects nested more than 64 levels deep, an integer that does not
 * fit in 64 bits, a number too large for a double, text after the value, bytes that are
 * not UTF-8, a `\u0000` escape or a lone UTF-16 surrogate, and a key that appears twice
 * in one object.
 *
 * Returns: (transfer full) (nullable): the root node, or %NULL on error
 *
 * Since: 0.1
 */
JsonNode *
mact_config_load_file (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &contents, &length, &local))
    {
      /* GLib's message names the file. */
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE,
                   "cannot read config file '%s': %s", path, local->message);
      return NULL;
    }
  g_autofree char *what = g_strdup_printf ("config file '%s'", path);
  return parse_config_text (contents, length, path, what, error);
}

/**
 * mact_config_load_data:
 * @data: JSON text
 * @length: the length of @data in bytes, or -1 if it is nul-terminated
 * @error: return location for a #GError
 *
 * Parses a JSON config held in memory, as mact_config_load_file() does.  Bad JSON gives
 * %MACT_CONFIG_ERROR_PARSE with the line and column (`<data>:line:column: ...`).
 *
 * Returns: (transfer full) (nullable): the root node, or %NULL on error
 *
 * Since: 0.1
 */
JsonNode *
mact_config_load_data (const char *data, gssize length, GError **error)
{
  g_return_val_if_fail (data != NULL, NULL);

  return parse_config_text (data, length < 0 ? strlen (data) : (gsize) length, "<data>",
                            "config data", error);
}

/**
 * mact_config_copy:
 * @node: a JSON tree
 *
 * Copies @node and everything under it.
 *
 * json_node_copy() shares the objects, arrays and even scalar values of its argument, so
 * a change through the copy shows in the original; blocks keep configs they are given
 * (train_cfg, test_cfg) and must not be able to change their caller's tree.
 *
 * Returns: (transfer full): an independent copy, mutable
 *
 * Since: 0.1
 */
JsonNode *
mact_config_copy (JsonNode *node)
{
  g_return_val_if_fail (node != NULL, NULL);

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonObject *copy = json_object_new ();
        g_autoptr(GList) members = json_object_get_members (object);
        for (GList *l = members; l; l = l->next)
          json_object_set_member (copy, l->data,
                                  mact_config_copy (json_object_get_member (object, l->data)));
        JsonNode *result = json_node_init_object (json_node_alloc (), copy);
        json_object_unref (copy);
        return result;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        JsonArray *copy = json_array_sized_new (n);
        for (guint i = 0; i < n; i++)
          json_array_add_element (copy, mact_config_copy (json_array_get_element (array, i)));
        JsonNode *result = json_node_init_array (json_node_alloc (), copy);
        json_array_unref (copy);
        return result;
      }
    case JSON_NODE_VALUE:
      {
        GType t = json_node_get_value_type (node);
        if (t == G_TYPE_INT64)
          return json_node_init_int (json_node_alloc (), json_node_get_int (node));
        if (t == G_TYPE_DOUBLE)
          return json_node_init_double (json_node_alloc (), json_node_get_double (node));
        if (t == G_TYPE_BOOLEAN)
          return json_node_init_boolean (json_node_alloc (), json_node_get_boolean (node));
        if (t == G_TYPE_STRING)
          return json_node_init_string (json_node_alloc (), json_node_get_string (node));
      }
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
  return json_node_init_null (json_node_alloc ());
}

/* ------------------------------------------------------------------ messages */

/**
 * mact_config_describe_value:
 * @node: (nullable): a JSON node
 *
 * What kind of JSON value @node is, as a phrase for "expects X, got Y" messages: "an
 * object", "an array", "null", "an integer", "a floating-point number", "a boolean", "a
 * string".  Plugins use it to word their config errors the way core does.
 *
 * Returns: a static string
 *
 * Since: 0.1
 */
const char *
mact_config_describe_value (JsonNode *node)
{
  if (node == NULL)
    return "nothing";

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return "an object";
    case JSON_NODE_ARRAY:
      return "an array";
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
      {
        GType t = json_node_get_value_type (node);
        if (t == G_TYPE_INT64)
          return "an integer";
        if (t == G_TYPE_DOUBLE)
          return "a floating-point number";
        if (t == G_TYPE_BOOLEAN)
          return "a boolean";
        if (t == G_TYPE_STRING)
          return "a string";
      }
      break;
    default:
      break;
    }
  return "an unsupported JSON value";
}

/* Configs spell arguments in snake_case, as mmaction2's Python keyword arguments. */
static char *
arg_name (GParamSpec *pspec)
{
  return g_strdelimit (g_strdup (pspec->name), "-", '_');
}

/* Where a conversion is: the block and argument for messages, and the position inside
 * an array value ("[2]", "[0][1]", ".key") so a bad element is named precisely. */
typedef struct {
  const char *block;
  GParamSpec *pspec;
  const char *where;
} Ctx;

static void set_arg_error (GError **error, const Ctx *ctx, gint code,
                           const char *format, ...) G_GNUC_PRINTF (4, 5);

static void
set_arg_error (GError **error, const Ctx *ctx, gint code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *detail = g_strdup_vprintf (format, args);
  va_end (args);

  g_autofree char *name = arg_name (ctx->pspec);
  const char *where = ctx->where ? ctx->where : "";
  if (ctx->block)
    g_set_error (error, MACT_CONFIG_ERROR, code, "block '%s': argument '%s%s' %s",
                 ctx->block, name, where, detail);
  else
    g_set_error (error, MACT_CONFIG_ERROR, code, "argument '%s%s' %s", name, where, detail);
}

static void
wrong_type (GError **error, const Ctx *ctx, const char *expected, JsonNode *got)
{
  set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE, "expects %s, got %s", expected,
                 mact_config_describe_value (got));
}

/* ------------------------------------------------------------------ scalars */

static gboolean
is_json_value (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
is_json_number (JsonNode *node)
{
  return is_json_value (node, G_TYPE_INT64) || is_json_value (node, G_TYPE_DOUBLE);
}

/* Reads an integer.  A floating-point JSON number is accepted when it is exactly integral
 * (JSON writers often emit 2.0 for 2); 2.5 is a type error, and an integral value beyond
 * the 64-bit range is an out-of-range value. */
static gboolean
read_integer (JsonNode *node, const Ctx *ctx, gint64 *out, GError **error)
{
  if (is_json_value (node, G_TYPE_INT64))
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (is_json_value (node, G_TYPE_DOUBLE))
    {
      double d = json_node_get_double (node);
      if (!isfinite (d) || floor (d) != d)
        {
          set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE,
                         "expects an integer, got the non-integral number %g", d);
          return FALSE;
        }
      /* 2^63 is exactly representable; anything at or above it does not fit. */
      if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        {
          set_arg_error (error, ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                         "must fit in a 64-bit integer, got %g", d);
          return FALSE;
        }
      *out = (gint64) d;
      return TRUE;
    }
  wrong_type (error, ctx, "an integer", node);
  return FALSE;
}

static gboolean
check_signed (gint64 v, gint64 lo, gint64 hi, const Ctx *ctx, GError **error)
{
  if (v >= lo && v <= hi)
    return TRUE;
  set_arg_error (error, ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                 "must be in [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "], got %"
                 G_GINT64_FORMAT, lo, hi, v);
  return FALSE;
}

static gboolean
check_unsigned (gint64 v, guint64 lo, guint64 hi, const Ctx *ctx, GError **error)
{
  if (v >= 0 && (guint64) v >= lo && (guint64) v <= hi)
    return TRUE;
  set_arg_error (error, ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                 "must be in [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "], got %"
                 G_GINT64_FORMAT, lo, hi, v);
  return FALSE;
}

static gboolean
read_double (JsonNode *node, const Ctx *ctx, double lo, double hi, double *out,
             GError **error)
{
  if (!is_json_number (node))
    {
      wrong_type (error, ctx, "a number", node);
      return FALSE;
    }
  /* json_node_get_double converts integers. */
  double d = json_node_get_double (node);
  if (!(d >= lo && d <= hi))
    {
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                     "must be in [%g, %g], got %g", lo, hi, d);
      return FALSE;
    }
  *out = d;
  return TRUE;
}

static char *
enum_nicks (GEnumClass *klass)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < klass->n_values; i++)
    g_string_append_printf (s, "%s'%s'", i ? ", " : "", klass->values[i].value_nick);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static char *
flags_nicks (GFlagsClass *klass)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < klass->n_values; i++)
    g_string_append_printf (s, "%s'%s'", i ? ", " : "", klass->values[i].value_nick);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gboolean
read_enum (JsonNode *node, const Ctx *ctx, GValue *out, GError **error)
{
  GEnumClass *klass = G_PARAM_SPEC_ENUM (ctx->pspec)->enum_class;
  if (!is_json_value (node, G_TYPE_STRING))
    {
      g_autofree char *nicks = enum_nicks (klass);
      g_autofree char *expected = g_strdup_printf ("a string (one of %s)", nicks);
      wrong_type (error, ctx, expected, node);
      return FALSE;
    }
  const char *s = json_node_get_string (node);
  GEnumValue *ev = g_enum_get_value_by_nick (klass, s);
  if (ev == NULL)
    ev = g_enum_get_value_by_name (klass, s);
  if (ev == NULL)
    {
      g_autofree char *nicks = enum_nicks (klass);
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                     "must be one of %s, got '%s'", nicks, s);
      return FALSE;
    }
  g_value_set_enum (out, ev->value);
  return TRUE;
}

static gboolean
add_flag (GFlagsClass *klass, const char *word, const Ctx *ctx, guint *flags, GError **error)
{
  GFlagsValue *fv = g_flags_get_value_by_nick (klass, word);
  if (fv == NULL)
    fv = g_flags_get_value_by_name (klass, word);
  if (fv == NULL)
    {
      g_autofree char *nicks = flags_nicks (klass);
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                     "takes flags from %s, got '%s'", nicks, word);
      return FALSE;
    }
  *flags |= fv->value;
  return TRUE;
}

/* Flags are written "a|b" (GLib's own notation) or as an array of nicks. */
static gboolean
read_flags (JsonNode *node, const Ctx *ctx, GValue *out, GError **error)
{
  GFlagsClass *klass = G_PARAM_SPEC_FLAGS (ctx->pspec)->flags_class;
  guint flags = 0;
  if (is_json_value (node, G_TYPE_STRING))
    {
      g_auto(GStrv) words = g_strsplit (json_node_get_string (node), "|", -1);
      for (guint i = 0; words[i]; i++)
        {
          g_strstrip (words[i]);
          if (*words[i] != '\0' && !add_flag (klass, words[i], ctx, &flags, error))
            return FALSE;
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);
          if (!is_json_value (item, G_TYPE_STRING))
            {
              g_autofree char *where = g_strdup_printf ("[%u]", i);
              Ctx sub = { ctx->block, ctx->pspec, where };
              wrong_type (error, &sub, "a flag name (a string)", item);
              return FALSE;
            }
          if (!add_flag (klass, json_node_get_string (item), ctx, &flags, error))
            return FALSE;
        }
    }
  else
    {
      wrong_type (error, ctx, "flags (a string \"a|b\" or an array of strings)", node);
      return FALSE;
    }
  g_value_set_flags (out, flags);
  return TRUE;
}

/* ------------------------------------------------------------------ variants */

static GVariant *variant_from_json (JsonNode *node, const GVariantType *type, const Ctx *ctx,
                                    GError **error);

static Ctx
sub_ctx (const Ctx *ctx, char **where_out, guint index)
{
  *where_out = g_strdup_printf ("%s[%u]", ctx->where ? ctx->where : "", index);
  return (Ctx) { ctx->block, ctx->pspec, *where_out };
}

/* Infers a variant type from the JSON alone (for properties typed "*", "v" or an
 * indefinite type): integers "x", other numbers "d", strings "s", booleans "b"; arrays of
 * one scalar kind "ax"/"ad"/"as"/"ab" (integers mixed with floating-point numbers give
 * "ad"); other arrays (nested, mixed, empty) "av"; objects "a{sv}". */
static GVariant *
variant_infer (JsonNode *node, const Ctx *ctx, GError **error)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_VALUE:
      {
        GType t = json_node_get_value_type (node);
        if (t == G_TYPE_INT64)
          return g_variant_new_int64 (json_node_get_int (node));
        if (t == G_TYPE_DOUBLE)
          return g_variant_new_double (json_node_get_double (node));
        if (t == G_TYPE_BOOLEAN)
          return g_variant_new_boolean (json_node_get_boolean (node));
        if (t == G_TYPE_STRING)
          return g_variant_new_string (json_node_get_string (node));
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        guint n_int = 0, n_double = 0, n_string = 0, n_bool = 0;
        for (guint i = 0; i < n; i++)
          {
            JsonNode *item = json_array_get_element (array, i);
            n_int += is_json_value (item, G_TYPE_INT64);
            n_double += is_json_value (item, G_TYPE_DOUBLE);
            n_string += is_json_value (item, G_TYPE_STRING);
            n_bool += is_json_value (item, G_TYPE_BOOLEAN);
          }
        const char *type = "av";
        if (n > 0 && n_int == n)
          type = "ax";
        else if (n > 0 && n_int + n_double == n)
          type = "ad";
        else if (n > 0 && n_string == n)
          type = "as";
        else if (n > 0 && n_bool == n)
          type = "ab";
        return variant_from_json (node, G_VARIANT_TYPE (type), ctx, error);
      }
    case JSON_NODE_OBJECT:
      return variant_from_json (node, G_VARIANT_TYPE_VARDICT, ctx, error);
    case JSON_NODE_NULL:
    default:
      break;
    }
  wrong_type (error, ctx, "a value (null cannot be stored inside a variant)", node);
  return NULL;
}

static GVariant *
variant_basic (JsonNode *node, char code, const Ctx *ctx, GError **error)
{
  gint64 v;
  switch (code)
    {
    case 'b':
      if (!is_json_value (node, G_TYPE_BOOLEAN))
        break;
      return g_variant_new_boolean (json_node_get_boolean (node));
    case 's':
      if (!is_json_value (node, G_TYPE_STRING))
        break;
      return g_variant_new_string (json_node_get_string (node));
    case 'd':
      {
        double d;
        if (!read_double (node, ctx, -G_MAXDOUBLE, G_MAXDOUBLE, &d, error))
          return NULL;
        return g_variant_new_double (d);
      }
    case 'y':
      if (!read_integer (node, ctx, &v, error) || !check_unsigned (v, 0, G_MAXUINT8, ctx, error))
        return NULL;
      return g_variant_new_byte ((guint8) v);
    case 'n':
      if (!read_integer (node, ctx, &v, error) ||
          !check_signed (v, G_MININT16, G_MAXINT16, ctx, error))
        return NULL;
      return g_variant_new_int16 ((gint16) v);
    case 'q':
      if (!read_integer (node, ctx, &v, error) || !check_unsigned (v, 0, G_MAXUINT16, ctx, error))
        return NULL;
      return g_variant_new_uint16 ((guint16) v);
    case 'i':
      if (!read_integer (node, ctx, &v, error) ||
          !check_signed (v, G_MININT32, G_MAXINT32, ctx, error))
        return NULL;
      return g_variant_new_int32 ((gint32) v);
    case 'u':
      if (!read_integer (node, ctx, &v, error) || !check_unsigned (v, 0, G_MAXUINT32, ctx, error))
        return NULL;
      return g_variant_new_uint32 ((guint32) v);
    case 'x':
      if (!read_integer (node, ctx, &v, error))
        return NULL;
      return g_variant_new_int64 (v);
    case 't':
      if (!read_integer (node, ctx, &v, error) || !check_unsigned (v, 0, G_MAXUINT64, ctx, error))
        return NULL;
      return g_variant_new_uint64 ((guint64) v);
    default:
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE,
                     "has variant type '%c', which a config cannot express", code);
      return NULL;
    }
  wrong_type (error, ctx, code == 'b' ? "a boolean" : "a string", node);
  return NULL;
}

static void
free_items (GVariant **items, guint n)
{
  for (guint i = 0; i < n; i++)
    if (items[i] != NULL)
      g_variant_unref (g_variant_ref_sink (items[i]));
}

/* Makes an array of @n converted items.  With an indefinite element type the items were
 * inferred one by one and may disagree ([1, "a"] for "a*"): that is a type error, not a
 * GVariant critical. */
static GVariant *
finish_array (GVariant **items, guint n, const GVariantType *type, const Ctx *ctx,
              GError **error)
{
  const GVariantType *elem = g_variant_type_element (type);
  if (n == 0)
    return g_variant_new_array (g_variant_type_is_definite (elem) ? elem
                                : g_variant_type_is_dict_entry (elem) ? G_VARIANT_TYPE ("{sv}")
                                : G_VARIANT_TYPE_VARIANT, NULL, 0);
  for (guint i = 1; i < n; i++)
    if (!g_variant_type_equal (g_variant_get_type (items[i]), g_variant_get_type (items[0])))
      {
        g_autofree char *t = g_variant_type_dup_string (type);
        free_items (items, n);
        set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE,
                       "expects items that all have one type (variant type '%s')", t);
        return NULL;
      }
  return g_variant_new_array (NULL, items, n);
}

static GVariant *
variant_array (JsonNode *node, const GVariantType *type, const Ctx *ctx, GError **error)
{
  const GVariantType *elem = g_variant_type_element (type);
  const char *base = ctx->where ? ctx->where : "";

  /* {"k": v} for "a{s?}" */
  if (g_variant_type_is_dict_entry (elem))
    {
      if (!JSON_NODE_HOLDS_OBJECT (node) ||
          !g_variant_type_is_subtype_of (G_VARIANT_TYPE_STRING, g_variant_type_key (elem)))
        {
          g_autofree char *t = g_variant_type_dup_string (type);
          g_autofree char *expected = g_strdup_printf ("an object (variant type '%s')", t);
          wrong_type (error, ctx, expected, node);
          return NULL;
        }
      const GVariantType *value_type = g_variant_type_value (elem);
      JsonObject *object = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (object);
      guint n = g_list_length (members);
      g_autofree GVariant **items = g_new0 (GVariant *, MAX (n, 1));
      guint i = 0;
      for (GList *l = members; l; l = l->next, i++)
        {
          const char *key = l->data;
          g_autofree char *where = g_strdup_printf ("%s.%s", base, key);
          Ctx sub = { ctx->block, ctx->pspec, where };
          GVariant *value = variant_from_json (json_object_get_member (object, key),
                                               value_type, &sub, error);
          if (value == NULL)
            {
              free_items (items, i);
              return NULL;
            }
          items[i] = g_variant_new_dict_entry (g_variant_new_string (key), value);
        }
      return finish_array (items, n, type, ctx, error);
    }

  /* A lone scalar for an array argument is a one-element array: `kernel_size: 3` for
   * "ax", as mmaction2 accepts an int where PyTorch takes a tuple. */
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GVariant *item = variant_from_json (node, elem, ctx, error);
      if (item == NULL)
        return NULL;
      return g_variant_new_array (NULL, &item, 1);
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_autofree char *t = g_variant_type_dup_string (type);
      g_autofree char *expected = g_strdup_printf ("an array (variant type '%s')", t);
      wrong_type (error, ctx, expected, node);
      return NULL;
    }

  JsonArray *array = json_node_get_array (node);
  guint n = json_array_get_length (array);
  g_autofree GVariant **items = g_new0 (GVariant *, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *where = NULL;
      Ctx sub = sub_ctx (ctx, &where, i);
      items[i] = variant_from_json (json_array_get_element (array, i), elem, &sub, error);
      if (items[i] == NULL)
        {
          free_items (items, i);
          return NULL;
        }
    }
  return finish_array (items, n, type, ctx, error);
}

static GVariant *
variant_tuple (JsonNode *node, const GVariantType *type, const Ctx *ctx, GError **error)
{
  gsize n = g_variant_type_n_items (type);
  g_autofree char *t = g_variant_type_dup_string (type);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_autofree char *expected = g_strdup_printf ("an array of %" G_GSIZE_FORMAT
                                                   " items (variant type '%s')", n, t);
      wrong_type (error, ctx, expected, node);
      return NULL;
    }
  JsonArray *array = json_node_get_array (node);
  if (json_array_get_length (array) != n)
    {
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                     "expects %" G_GSIZE_FORMAT " items (variant type '%s'), got %u", n, t,
                     json_array_get_length (array));
      return NULL;
    }
  g_autofree GVariant **items = g_new0 (GVariant *, MAX (n, 1));
  const GVariantType *item_type = g_variant_type_first (type);
  for (guint i = 0; i < n; i++, item_type = g_variant_type_next (item_type))
    {
      g_autofree char *where = NULL;
      Ctx sub = sub_ctx (ctx, &where, i);
      items[i] = variant_from_json (json_array_get_element (array, i), item_type, &sub, error);
      if (items[i] == NULL)
        {
          free_items (items, i);
          return NULL;
        }
    }
  return g_variant_new_tuple (items, n);
}

/* Converts @node to a (floating) variant of @type, which may be indefinite. */
static GVariant *
variant_from_json (JsonNode *node, const GVariantType *type, const Ctx *ctx, GError **error)
{
  if (g_variant_type_equal (type, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = variant_infer (node, ctx, error);
      return inner ? g_variant_new_variant (inner) : NULL;
    }
  if (g_variant_type_is_array (type))
    return variant_array (node, type, ctx, error);
  if (g_variant_type_is_tuple (type) && g_variant_type_is_definite (type))
    return variant_tuple (node, type, ctx, error);
  if (g_variant_type_is_maybe (type))
    {
      if (JSON_NODE_HOLDS_NULL (node))
        return g_variant_new_maybe (g_variant_type_is_definite (type)
                                    ? g_variant_type_element (type) : G_VARIANT_TYPE_VARIANT,
                                    NULL);
      GVariant *inner = variant_from_json (node, g_variant_type_element (type), ctx, error);
      return inner ? g_variant_new_maybe (NULL, inner) : NULL;
    }
  if (g_variant_type_is_basic (type) && g_variant_type_is_definite (type))
    return variant_basic (node, g_variant_type_peek_string (type)[0], ctx, error);

  /* "*", "?", "r" and other indefinite types: infer, then check it fits. */
  GVariant *value = variant_infer (node, ctx, error);
  if (value == NULL)
    return NULL;
  if (!g_variant_is_of_type (value, type))
    {
      g_autofree char *t = g_variant_type_dup_string (type);
      g_autofree char *expected = g_strdup_printf ("a value of variant type '%s'", t);
      g_variant_unref (g_variant_ref_sink (value));
      wrong_type (error, ctx, expected, node);
      return NULL;
    }
  return value;
}

/* ------------------------------------------------------------------ values */

static gboolean
null_allowed (GType fundamental)
{
  return fundamental == G_TYPE_STRING || fundamental == G_TYPE_OBJECT ||
         fundamental == G_TYPE_BOXED || fundamental == G_TYPE_VARIANT ||
         fundamental == G_TYPE_INTERFACE;
}

static gboolean
read_strv (JsonNode *node, const Ctx *ctx, GValue *out, GError **error)
{
  if (is_json_value (node, G_TYPE_STRING))
    {
      const char *one[] = { json_node_get_string (node), NULL };
      g_value_set_boxed (out, one);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      wrong_type (error, ctx, "an array of strings", node);
      return FALSE;
    }
  JsonArray *array = json_node_get_array (node);
  guint n = json_array_get_length (array);
  g_auto(GStrv) strv = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      if (!is_json_value (item, G_TYPE_STRING))
        {
          g_autofree char *where = NULL;
          Ctx sub = sub_ctx (ctx, &where, i);
          wrong_type (error, &sub, "a string", item);
          return FALSE;
        }
      strv[i] = g_strdup (json_node_get_string (item));
    }
  g_value_take_boxed (out, g_steal_pointer (&strv));
  return TRUE;
}

static gboolean
convert_value (JsonNode *node, const Ctx *ctx, GValue *out, GError **error)
{
  GParamSpec *pspec = ctx->pspec;
  GType fundamental = G_TYPE_FUNDAMENTAL (pspec->value_type);
  gint64 v;
  double d;

  if (JSON_NODE_HOLDS_NULL (node))
    {
      if (null_allowed (fundamental))
        return TRUE;   /* g_value_init() left it NULL */
      /* Fall through: every scalar branch below reports "got null" as a type error. */
    }

  switch (fundamental)
    {
    case G_TYPE_BOOLEAN:
      if (!is_json_value (node, G_TYPE_BOOLEAN))
        {
          wrong_type (error, ctx, "a boolean", node);
          return FALSE;
        }
      g_value_set_boolean (out, json_node_get_boolean (node));
      return TRUE;

    case G_TYPE_CHAR:
      {
        GParamSpecChar *p = G_PARAM_SPEC_CHAR (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_signed (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_schar (out, (gint8) v);
        return TRUE;
      }
    case G_TYPE_UCHAR:
      {
        GParamSpecUChar *p = G_PARAM_SPEC_UCHAR (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_unsigned (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_uchar (out, (guchar) v);
        return TRUE;
      }
    case G_TYPE_INT:
      {
        GParamSpecInt *p = G_PARAM_SPEC_INT (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_signed (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_int (out, (gint) v);
        return TRUE;
      }
    case G_TYPE_UINT:
      {
        GParamSpecUInt *p = G_PARAM_SPEC_UINT (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_unsigned (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_uint (out, (guint) v);
        return TRUE;
      }
    case G_TYPE_LONG:
      {
        GParamSpecLong *p = G_PARAM_SPEC_LONG (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_signed (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_long (out, (glong) v);
        return TRUE;
      }
    case G_TYPE_ULONG:
      {
        GParamSpecULong *p = G_PARAM_SPEC_ULONG (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_unsigned (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_ulong (out, (gulong) v);
        return TRUE;
      }
    case G_TYPE_INT64:
      {
        GParamSpecInt64 *p = G_PARAM_SPEC_INT64 (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_signed (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_int64 (out, v);
        return TRUE;
      }
    case G_TYPE_UINT64:
      {
        GParamSpecUInt64 *p = G_PARAM_SPEC_UINT64 (pspec);
        if (!read_integer (node, ctx, &v, error) ||
            !check_unsigned (v, p->minimum, p->maximum, ctx, error))
          return FALSE;
        g_value_set_uint64 (out, (guint64) v);
        return TRUE;
      }
    case G_TYPE_DOUBLE:
      {
        GParamSpecDouble *p = G_PARAM_SPEC_DOUBLE (pspec);
        if (!read_double (node, ctx, p->minimum, p->maximum, &d, error))
          return FALSE;
        g_value_set_double (out, d);
        return TRUE;
      }
    case G_TYPE_FLOAT:
      {
        GParamSpecFloat *p = G_PARAM_SPEC_FLOAT (pspec);
        if (!read_double (node, ctx, p->minimum, p->maximum, &d, error))
          return FALSE;
        g_value_set_float (out, (float) d);
        return TRUE;
      }

    case G_TYPE_STRING:
      if (!is_json_value (node, G_TYPE_STRING))
        {
          wrong_type (error, ctx, "a string", node);
          return FALSE;
        }
      g_value_set_string (out, json_node_get_string (node));
      return TRUE;

    case G_TYPE_ENUM:
      return read_enum (node, ctx, out, error);
    case G_TYPE_FLAGS:
      return read_flags (node, ctx, out, error);

    case G_TYPE_VARIANT:
      {
        GVariant *value = variant_from_json (node, G_PARAM_SPEC_VARIANT (pspec)->type, ctx,
                                             error);
        if (value == NULL)
          return FALSE;
        g_value_take_variant (out, g_variant_ref_sink (value));
        return TRUE;
      }

    case G_TYPE_BOXED:
      if (pspec->value_type == JSON_TYPE_NODE)
        {
          /* A deep copy, so the block never shares (or changes) the caller's tree. */
          g_value_take_boxed (out, mact_config_copy (node));
          return TRUE;
        }
      if (pspec->value_type == G_TYPE_STRV)
        return read_strv (node, ctx, out, error);
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE,
                     "has type %s, which a config cannot set (got %s)",
                     g_type_name (pspec->value_type), mact_config_describe_value (node));
      return FALSE;

    case G_TYPE_OBJECT:
      if (g_type_is_a (pspec->value_type, MACT_TYPE_MODULE))
        {
          if (JSON_NODE_HOLDS_OBJECT (node))
            set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE,
                           "is a %s block, which needs a registry: build the enclosing "
                           "config with mact_registry_build_from_json()",
                           g_type_name (pspec->value_type));
          else
            {
              g_autofree char *expected =
                g_strdup_printf ("a block config (an object with \"type\") for a %s",
                                 g_type_name (pspec->value_type));
              wrong_type (error, ctx, expected, node);
            }
          return FALSE;
        }
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE,
                     "has type %s, which a config can only set to null (got %s)",
                     g_type_name (pspec->value_type), mact_config_describe_value (node));
      return FALSE;

    default:
      set_arg_error (error, ctx, MACT_CONFIG_ERROR_WRONG_TYPE,
                     "has type %s, which a config cannot set (got %s)",
                     g_type_name (pspec->value_type), mact_config_describe_value (node));
      return FALSE;
    }
}

/**
 * mact_config_value_to_gvalue:
 * @value: a JSON value from a config
 * @pspec: the property it is for
 * @block: (nullable): the block's type name, for messages
 * @out: (out caller-allocates): an unset #GValue (%G_VALUE_INIT); on success it holds a
 *   value of @pspec's type, on failure it is left unset
 * @error: return location for a #GError
 *
 * Converts one config argument to a value @pspec accepts.
 *
 * - booleans: %G_TYPE_BOOLEAN only;
 * - integers: the integer types, checked against @pspec's range
 *   (%MACT_CONFIG_ERROR_INVALID_VALUE when outside); a floating-point number is accepted
 *   only when exactly integral (2.0 is 2, 2.5 is %MACT_CONFIG_ERROR_WRONG_TYPE);
 * - numbers: %G_TYPE_DOUBLE and %G_TYPE_FLOAT (integers accepted), range-checked;
 * - strings: %G_TYPE_STRING; enums by nick or name (an unknown one is
 *   %MACT_CONFIG_ERROR_INVALID_VALUE listing the nicks); flags as `"a|b"` or an array of
 *   nicks; %G_TYPE_STRV from an array of strings;
 * - %G_TYPE_VARIANT properties follow the property's variant type: "ax", "ai", "ad", "as",
 *   "ab", tuples, "a{sv}" and nested arrays; a single scalar given to an array type is a
 *   one-element array (`kernel_size: 3` for "ax"), integers are accepted for "d".  For an
 *   indefinite type ("*") the type is inferred: all-integer arrays "ax", arrays of numbers
 *   with a floating-point one "ad", strings "as", booleans "ab", nested, mixed or empty
 *   arrays "av", objects "a{sv}";
 * - %JSON_TYPE_NODE properties receive a deep copy of @value (mact_config_copy()),
 *   whatever it holds;
 * - null gives %NULL for string, object, boxed and variant properties (unless the property
 *   refuses %NULL, then %MACT_CONFIG_ERROR_INVALID_VALUE) and
 *   %MACT_CONFIG_ERROR_WRONG_TYPE for the others.
 *
 * Any other mismatch is %MACT_CONFIG_ERROR_WRONG_TYPE, as in "block 'X': argument 'y'
 * expects an integer, got a string".  Block-typed (#MactModule) properties need a
 * registry: use mact_registry_build_from_json() on the enclosing block; here an object for
 * them is %MACT_CONFIG_ERROR_WRONG_TYPE.  @value is not modified.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_config_value_to_gvalue (JsonNode *value, GParamSpec *pspec, const char *block,
                             GValue *out, GError **error)
{
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (G_IS_PARAM_SPEC (pspec), FALSE);
  g_return_val_if_fail (out != NULL && G_VALUE_TYPE (out) == G_TYPE_INVALID, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  Ctx ctx = { block, pspec, NULL };
  g_value_init (out, pspec->value_type);
  if (!convert_value (value, &ctx, out, error))
    {
      g_value_unset (out);
      return FALSE;
    }
  /* The last word is the pspec's own: GObject would otherwise warn and silently replace a
   * value it rejects (a NULL for a non-nullable variant, a string outside its charset). */
  if (g_param_value_validate (pspec, out))
    {
      if (JSON_NODE_HOLDS_NULL (value))
        set_arg_error (error, &ctx, MACT_CONFIG_ERROR_INVALID_VALUE, "cannot be null");
      else
        set_arg_error (error, &ctx, MACT_CONFIG_ERROR_INVALID_VALUE,
                       "is not a valid %s value", g_type_name (pspec->value_type));
      g_value_unset (out);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ building */

/* The property a config key names: `num_classes` (mmaction2's spelling) and `num-classes`
 * (GObject's) are the same argument. */
static GParamSpec *
find_argument (GObjectClass *klass, const char *key)
{
  g_autofree char *canonical = g_strdelimit (g_strdup (key), "_", '-');
  if (!g_param_spec_is_valid_name (canonical))
    return NULL;
  return g_object_class_find_property (klass, canonical);
}

static char *
missing_list (GPtrArray *missing)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < missing->len; i++)
    {
      g_autofree char *name = arg_name (g_ptr_array_index (missing, i));
      g_string_append_printf (s, "%s'%s'", i ? ", " : "", name);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
clear_gvalue (gpointer data)
{
  g_value_unset (data);
}

static MactModule *build_block (MactRegistry *self, JsonNode *config, GType required_kind,
                                const char *context, GError **error);

/* Builds a block-typed argument from its nested config. */
static gboolean
build_child_argument (MactRegistry *self, const char *block, const char *key,
                      GParamSpec *pspec, JsonNode *node, GValue *out, GError **error)
{
  g_autofree char *context = g_strdup_printf ("block '%s': argument '%s'", block, key);
  g_autoptr(GError) local = NULL;
  MactModule *child = build_block (self, node, pspec->value_type, context, &local);
  if (child == NULL)
    {
      /* Say which argument of which block the failing config came from. */
      if (!g_str_has_prefix (local->message, context))
        g_prefix_error (&local, "%s: ", context);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_value_init (out, pspec->value_type);
  g_value_take_object (out, child);
  return TRUE;
}

static gboolean
names_block (const char *message, const char *type_name, GType type)
{
  return strstr (message, type_name) != NULL || strstr (message, g_type_name (type)) != NULL;
}

static MactModule *
build_block (MactRegistry *self, JsonNode *config, GType required_kind, const char *context,
             GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (config))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "%s: a block config must be a JSON object with a string \"type\", got %s",
                   context, mact_config_describe_value (config));
      return NULL;
    }
  JsonObject *object = json_node_get_object (config);
  JsonNode *type_node = json_object_get_member (object, "type");
  if (type_node == NULL || !is_json_value (type_node, G_TYPE_STRING))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "%s: a block config needs a string \"type\", got %s", context,
                   type_node ? mact_config_describe_value (type_node) : "none");
      return NULL;
    }
  const char *type_name = json_node_get_string (type_node);

  GType type = mact_registry_lookup_type (self, type_name, error);
  if (type == G_TYPE_INVALID)
    return NULL;
  /* Checked before the arguments, so a wrong kind is reported as such rather than as the
   * unknown arguments that usually follow from it. */
  if (!g_type_is_a (type, required_kind))
    {
      g_set_error (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND,
                   "%s: block '%s' is a %s, not a %s", context, type_name,
                   g_type_name (type), g_type_name (required_kind));
      return NULL;
    }

  g_autoptr(GTypeClass) type_class = g_type_class_ref (type);
  GObjectClass *klass = G_OBJECT_CLASS (type_class);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
  g_array_set_clear_func (values, clear_gvalue);
  /* pspec -> the key that gave it, to catch `num_classes` and `num-classes` together */
  g_autoptr(GHashTable) given = g_hash_table_new (NULL, NULL);

  g_autoptr(GList) members = json_object_get_members (object);
  for (GList *l = members; l; l = l->next)
    {
      const char *key = l->data;
      if (g_str_equal (key, "type"))
        continue;

      GParamSpec *pspec = find_argument (klass, key);
      if (pspec == NULL)
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY,
                       "block '%s': unknown argument '%s'", type_name, key);
          return NULL;
        }
      /* Only what a constructor takes: read-only state and run-time settings are not
       * arguments, even though they are properties. */
      if (!(pspec->flags & G_PARAM_WRITABLE) ||
          !(pspec->flags & (G_PARAM_CONSTRUCT | G_PARAM_CONSTRUCT_ONLY)))
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY,
                       "block '%s': '%s' is not a constructor argument (the property is %s)",
                       type_name, key,
                       (pspec->flags & G_PARAM_WRITABLE) ? "only settable after construction"
                                                         : "read-only");
          return NULL;
        }
      const char *previous = g_hash_table_lookup (given, pspec);
      if (previous != NULL)
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                       "block '%s': argument '%s' is given twice (as '%s' and '%s')",
                       type_name, key, previous, key);
          return NULL;
        }
      g_hash_table_insert (given, pspec, (gpointer) key);

      JsonNode *node = json_object_get_member (object, key);
      if (JSON_NODE_HOLDS_NULL (node) && (pspec->flags & MACT_PARAM_REQUIRED))
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                       "block '%s': required argument '%s' is null", type_name, key);
          return NULL;
        }

      GValue value = G_VALUE_INIT;
      if (g_type_is_a (pspec->value_type, MACT_TYPE_MODULE) && JSON_NODE_HOLDS_OBJECT (node))
        {
          if (!build_child_argument (self, type_name, key, pspec, node, &value, error))
            return NULL;
        }
      else if (!mact_config_value_to_gvalue (node, pspec, type_name, &value, error))
        return NULL;
      g_ptr_array_add (names, (gpointer) pspec->name);
      g_array_append_val (values, value);
    }

  guint n_pspecs = 0;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties (klass, &n_pspecs);
  g_autoptr(GPtrArray) missing = g_ptr_array_new ();
  for (guint i = 0; i < n_pspecs; i++)
    if ((pspecs[i]->flags & MACT_PARAM_REQUIRED) && !g_hash_table_contains (given, pspecs[i]))
      g_ptr_array_add (missing, pspecs[i]);
  if (missing->len > 0)
    {
      g_autofree char *list = missing_list (missing);
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                   "block '%s': missing required argument%s %s", type_name,
                   missing->len > 1 ? "s" : "", list);
      return NULL;
    }

  g_autoptr(GError) local = NULL;
  MactModule *block = mact_registry_create_block (self, type_name, required_kind, names->len,
                                                  (const char **) names->pdata,
                                                  (const GValue *) values->data, &local);
  if (block == NULL)
    {
      if (local == NULL)
        g_set_error (&local, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                     "block '%s' could not be created", type_name);
      else if (!names_block (local->message, type_name, type))
        g_prefix_error (&local, "block '%s': ", type_name);
      g_propagate_error (error, g_steal_pointer (&local));
    }
  return block;
}

/**
 * mact_registry_build_from_json:
 * @self: a registry
 * @config: a block config: a JSON object with a string `type` and the block's arguments
 * @required_kind: the kind the block must be (%MACT_TYPE_BACKBONE, %MACT_TYPE_HEAD, ...),
 *   or %G_TYPE_INVALID for any block
 * @error: return location for a #GError
 *
 * Builds a block from an mmaction2-style config such as
 * `{"type": "TSNHead", "num_classes": 400, "in_channels": 2048}`.
 *
 * The type is looked up in @self (registry errors are returned unchanged).  Every other
 * member is a constructor argument, the construct property of the same name with `_`
 * read as `-`, converted with mact_config_value_to_gvalue().  An argument whose property
 * holds a block (a #MactModule subtype) and whose value is an object is built
 * recursively with that property's type as the required kind, as a head's
 * `"loss_cls": {"type": "CrossEntropyLoss"}`; null leaves it %NULL.
 *
 * Errors, all naming the block and argument: %MACT_CONFIG_ERROR_INVALID for a config that
 * is not an object with a string `type` (or gives an argument twice, as `num_classes` and
 * `num-classes`), %MACT_CONFIG_ERROR_UNKNOWN_KEY for a key that is not a constructor
 * argument, %MACT_CONFIG_ERROR_MISSING_KEY when an argument flagged %MACT_PARAM_REQUIRED is
 * absent or null, the conversion errors of mact_config_value_to_gvalue(),
 * %MACT_REGISTRY_ERROR_WRONG_KIND when the type is not a @required_kind, and the block's
 * own construction errors (prefixed with the block name when they do not name it).  Errors
 * inside a nested config are prefixed with the enclosing block and argument.
 *
 * @config is not modified, and the block shares nothing with it.
 *
 * Returns: (transfer full) (nullable): the new block, or %NULL on error
 *
 * Since: 0.1
 */
MactModule *
mact_registry_build_from_json (MactRegistry *self, JsonNode *config, GType required_kind,
                               GError **error)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *context = required_kind != G_TYPE_INVALID
                             ? g_strdup_printf ("%s config", g_type_name (required_kind))
                             : g_strdup ("block config");
  /* "Any block" is the root kind for the registry. */
  if (required_kind == G_TYPE_INVALID)
    required_kind = MACT_TYPE_MODULE;
  return build_block (self, config, required_kind, context, error);
}
