/* mact-config-private.h: JSON parsing that is safe on hostile text, shared by the config
 * loader (mact-config.c) and the safetensors reader (core/io/mact-safetensors.c).  Not
 * installed.
 *
 * json-glib parses recursively, without a depth limit before 1.8 (a file of 100000 '['
 * overflows the stack), silently wraps integers that do not fit in 64 bits, turns 1e999
 * into infinity, keeps the last of duplicate keys, and accepts more than JSON (comments
 * between slashes, hexadecimal and octal numbers, text after the value, lone UTF-16
 * surrogates that become invalid UTF-8).  mact_json_parse_checked() first checks the text
 * without recursion against the JSON grammar (RFC 8259), so that only text every version
 * of json-glib reads the same way reaches it. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  MACT_JSON_STRICT         = 0,
  /* Also accept 'single-quoted strings' (no escapes inside, as json-glib reads them):
   * configs written by hand and tests use them. */
  MACT_JSON_SINGLE_QUOTES  = 1 << 0,
  /* Parse with json_parser_new_immutable(). */
  MACT_JSON_IMMUTABLE      = 1 << 1,
} MactJsonFlags;

/* Checks and parses @length bytes of JSON text.
 *
 * Refused, with %MACT_CONFIG_ERROR_PARSE and a message "@source:line:column: what" (line
 * and column 1-based): anything outside the grammar (and single-quoted strings unless
 * allowed), text after the value, bytes that are not UTF-8 or are NUL, control
 * characters in strings, escapes other than JSON's, a \u0000 escape or a lone surrogate,
 * nesting deeper than @max_depth arrays and objects, an integer outside the 64-bit range,
 * a number too large for a double.  A key that appears twice in one object is
 * %MACT_CONFIG_ERROR_INVALID, "@source: key "k" appears twice in one object".
 *
 * A UTF-8 byte order mark at the start is skipped, as json-glib does.
 *
 * Returns %TRUE with *@root set to the tree, or to %NULL when the text is empty or only
 * whitespace (callers word that case themselves). */
gboolean mact_json_parse_checked (const char     *text,
                                  gsize           length,
                                  const char     *source,
                                  guint           max_depth,
                                  MactJsonFlags   flags,
                                  JsonNode      **root,
                                  GError        **error);

G_END_DECLS
