/* mact-transform.c: what every pipeline transform shares: reading a step's config dict
 * (mmaction2's keyword arguments, with their defaults, checked for type and range), the
 * transform base struct, and the Python-format subset of rawframe filename templates. */
#include "mact-pipeline-private.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------------ errors */

static void step_error_valist (guint index, const char *type, GError **error, gint code,
                               const char *key, const char *format, va_list args)
  G_GNUC_PRINTF (6, 0);

static void
step_error_valist (guint index, const char *type, GError **error, gint code, const char *key,
                   const char *format, va_list args)
{
  g_autofree char *detail = g_strdup_vprintf (format, args);
  if (key != NULL)
    g_set_error (error, MACT_CONFIG_ERROR, code, "pipeline step %u (%s): key '%s' %s", index,
                 type, key, detail);
  else
    g_set_error (error, MACT_CONFIG_ERROR, code, "pipeline step %u (%s): %s", index, type,
                 detail);
}

void
mact_step_error (const MactStepConfig *cfg, GError **error, gint code, const char *key,
                 const char *format, ...)
{
  va_list args;
  va_start (args, format);
  step_error_valist (cfg->index, cfg->type, error, code, key, format, args);
  va_end (args);
}

void
mact_transform_error (const MactTransform *self, GError **error, gint code, const char *key,
                      const char *format, ...)
{
  va_list args;
  va_start (args, format);
  step_error_valist (self->index, self->type, error, code, key, format, args);
  va_end (args);
}

/* ------------------------------------------------------------------ config getters */

JsonNode *
mact_step_config_lookup (MactStepConfig *cfg, const char *key)
{
  g_ptr_array_add (cfg->known, (gpointer) key);
  return json_object_get_member (cfg->obj, key);
}

/* The member, or NULL when absent or null (mmaction2's None: use the default). */
static JsonNode *
lookup_value (MactStepConfig *cfg, const char *key)
{
  JsonNode *node = mact_step_config_lookup (cfg, key);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

static gboolean
is_value (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
is_number (JsonNode *node)
{
  return is_value (node, G_TYPE_INT64) || is_value (node, G_TYPE_DOUBLE);
}

/* An integer; a floating-point JSON number is accepted when it is integral (JSON writers
 * often emit 2.0 for 2), as the rest of mact's config code does. */
static gboolean
read_int (const MactStepConfig *cfg, const char *key, const char *where, JsonNode *node,
          gint64 *out, GError **error)
{
  if (is_value (node, G_TYPE_INT64))
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (is_value (node, G_TYPE_DOUBLE))
    {
      double d = json_node_get_double (node);
      if (isfinite (d) && floor (d) == d && fabs (d) < 9007199254740992.0)
        {
          *out = (gint64) d;
          return TRUE;
        }
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "%sexpects an integer, got the non-integral number %g", where, d);
      return FALSE;
    }
  mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key, "%sexpects an integer, got %s",
                   where, mact_config_describe_value (node));
  return FALSE;
}

gboolean
mact_step_config_get_int (MactStepConfig *cfg, const char *key, gint64 def, gint64 min,
                          gint64 max, gint64 *out, GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  gint64 v;
  if (!read_int (cfg, key, "", node, &v, error))
    return FALSE;
  if (v < min || v > max)
    {
      if (max == G_MAXINT64)
        mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                         "must be at least %" G_GINT64_FORMAT ", got %" G_GINT64_FORMAT, min, v);
      else
        mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                         "must be in [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "], got %"
                         G_GINT64_FORMAT, min, max, v);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

gboolean
mact_step_config_get_bool (MactStepConfig *cfg, const char *key, gboolean def, gboolean *out,
                           GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (!is_value (node, G_TYPE_BOOLEAN))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects a boolean, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
check_range (const MactStepConfig *cfg, const char *key, const char *where, double v,
             double min, gboolean min_open, double max, GError **error)
{
  gboolean low_ok = min_open ? v > min : v >= min;
  if (isfinite (v) && low_ok && v <= max)
    return TRUE;
  if (isinf (max))
    mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                     "%smust be %s %g, got %g", where,
                     min_open ? "greater than" : "at least", min, v);
  else
    mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                     "%smust be in %c%g, %g], got %g", where, min_open ? '(' : '[', min, max, v);
  return FALSE;
}

gboolean
mact_step_config_get_double (MactStepConfig *cfg, const char *key, double def, double min,
                             gboolean min_open, double max, double *out, GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (!is_number (node))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects a number, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  double v = json_node_get_double (node);
  if (!check_range (cfg, key, "", v, min, min_open, max, error))
    return FALSE;
  *out = v;
  return TRUE;
}

static char *
join_choices (const char *const *choices)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; choices[i] != NULL; i++)
    g_string_append_printf (s, "%s'%s'", i ? ", " : "", choices[i]);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

gboolean
mact_step_config_get_choice (MactStepConfig *cfg, const char *key, const char *const *choices,
                             guint def, guint *out, GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (!is_value (node, G_TYPE_STRING))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects a string, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  const char *s = json_node_get_string (node);
  for (guint i = 0; choices[i] != NULL; i++)
    if (g_str_equal (s, choices[i]))
      {
        *out = i;
        return TRUE;
      }
  g_autofree char *known = join_choices (choices);
  mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                   "must be one of %s, got '%s'", known, s);
  return FALSE;
}

gboolean
mact_step_config_get_size (MactStepConfig *cfg, const char *key, const gint64 *def,
                           gint64 out[2], GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (node == NULL)
    {
      if (def == NULL)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, key,
                           "is required (an int or a [w, h] pair)");
          return FALSE;
        }
      out[0] = def[0];
      out[1] = def[1];
      return TRUE;
    }

  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      if (json_array_get_length (array) != 2)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                           "expects an int or a [w, h] pair, got an array of %u values",
                           json_array_get_length (array));
          return FALSE;
        }
      for (guint i = 0; i < 2; i++)
        {
          const char *where = i == 0 ? "[0] " : "[1] ";
          if (!read_int (cfg, key, where, json_array_get_element (array, i), &out[i], error))
            return FALSE;
        }
    }
  else if (is_number (node))
    {
      if (!read_int (cfg, key, "", node, &out[0], error))
        return FALSE;
      out[1] = out[0];
    }
  else
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects an int or a [w, h] pair, got %s",
                       mact_config_describe_value (node));
      return FALSE;
    }

  if (out[0] < 1 || out[1] < 1)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                       "must be positive, got (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")",
                       out[0], out[1]);
      return FALSE;
    }
  return TRUE;
}

gboolean
mact_step_config_get_int_pair (MactStepConfig *cfg, const char *key, gint64 out[2],
                               GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (node == NULL)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, key, "is required");
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects a pair of ints, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  JsonArray *array = json_node_get_array (node);
  if (json_array_get_length (array) != 2)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                       "expects a pair of ints, got an array of %u values",
                       json_array_get_length (array));
      return FALSE;
    }
  return read_int (cfg, key, "[0] ", json_array_get_element (array, 0), &out[0], error) &&
         read_int (cfg, key, "[1] ", json_array_get_element (array, 1), &out[1], error);
}

gboolean
mact_step_config_get_doubles (MactStepConfig *cfg, const char *key, const double *def,
                              gsize n_min, gsize n_max, double *out, gsize *n_out,
                              GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (n_out == NULL)
    n_max = n_min;
  if (node == NULL)
    {
      if (def == NULL)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, key, "is required");
          return FALSE;
        }
      memcpy (out, def, n_min * sizeof (double));
      if (n_out != NULL)
        *n_out = n_min;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects an array of numbers, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  JsonArray *array = json_node_get_array (node);
  gsize n = json_array_get_length (array);
  if (n < n_min || n > n_max)
    {
      if (n_min == n_max)
        mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                         "expects %" G_GSIZE_FORMAT " numbers, got %" G_GSIZE_FORMAT, n_min, n);
      else
        mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                         "expects %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT " numbers, got %"
                         G_GSIZE_FORMAT, n_min, n_max, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, (guint) i);
      if (!is_number (element))
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                           "[%" G_GSIZE_FORMAT "] expects a number, got %s", i,
                           mact_config_describe_value (element));
          return FALSE;
        }
      out[i] = json_node_get_double (element);
      if (!isfinite (out[i]))
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                           "[%" G_GSIZE_FORMAT "] must be finite, got %g", i, out[i]);
          return FALSE;
        }
    }
  if (n_out != NULL)
    *n_out = n;
  return TRUE;
}

gboolean
mact_step_config_get_strings (MactStepConfig *cfg, const char *key, gboolean def_empty,
                              GStrv *out, GError **error)
{
  JsonNode *node = lookup_value (cfg, key);
  if (node == NULL)
    {
      if (!def_empty)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, key,
                           "is required (a list of strings)");
          return FALSE;
        }
      *out = g_new0 (char *, 1);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects a list of strings, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  JsonArray *array = json_node_get_array (node);
  guint n = json_array_get_length (array);
  g_auto(GStrv) strv = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      if (!is_value (element, G_TYPE_STRING))
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                           "[%u] expects a string, got %s", i,
                           mact_config_describe_value (element));
          return FALSE;
        }
      strv[i] = g_strdup (json_node_get_string (element));
    }
  *out = g_steal_pointer (&strv);
  return TRUE;
}

gboolean
mact_step_config_get_io_backend (MactStepConfig *cfg, GError **error)
{
  static const char *const backends[] = { "disk", NULL };
  guint ignored;
  return mact_step_config_get_choice (cfg, "io_backend", backends, 0, &ignored, error);
}

gboolean
mact_step_config_check_not_lazy (MactStepConfig *cfg, GError **error)
{
  gboolean lazy;
  if (!mact_step_config_get_bool (cfg, "lazy", FALSE, &lazy, error))
    return FALSE;
  if (lazy)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "lazy",
                       "true is not supported (mact has no Fuse step); use false");
      return FALSE;
    }
  return TRUE;
}

gboolean
mact_step_config_check_keys (MactStepConfig *cfg, GError **error)
{
  g_autoptr(GList) members = json_object_get_members (cfg->obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      if (g_str_equal (key, "type"))
        continue;
      gboolean known = FALSE;
      for (guint i = 0; i < cfg->known->len && !known; i++)
        known = g_str_equal (key, g_ptr_array_index (cfg->known, i));
      if (known)
        continue;

      g_autoptr(GString) list = g_string_new (NULL);
      for (guint i = 0; i < cfg->known->len; i++)
        {
          const char *k = g_ptr_array_index (cfg->known, i);
          /* A getter may have asked twice; list each key once. */
          gboolean seen = FALSE;
          for (guint j = 0; j < i && !seen; j++)
            seen = g_str_equal (k, g_ptr_array_index (cfg->known, j));
          if (!seen)
            g_string_append_printf (list, "%s'%s'", list->len ? ", " : "", k);
        }
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_UNKNOWN_KEY, key,
                       "is not an argument of %s (it takes %s)", cfg->type,
                       list->len ? list->str : "no arguments");
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ the base struct */

gpointer
mact_transform_alloc (gsize size, const MactStepConfig *cfg, MactStepKind kind, gpointer apply,
                      gpointer free_func)
{
  g_assert (size >= sizeof (MactTransform));
  MactTransform *self = g_malloc0 (size);
  self->type = g_intern_string (cfg->type);
  self->index = cfg->index;
  self->kind = kind;
  self->apply = apply;
  self->free = free_func;
  return self;
}

void
mact_transform_free (MactTransform *self)
{
  if (self == NULL)
    return;
  if (self->free != NULL)
    self->free (self);
  g_free (self);
}

/* ------------------------------------------------------------------ filename templates */

/* The part of Python's str.format that mmaction2's filename_tmpl values use: exactly one
 * replacement field "{}", "{:d}", "{:N}", "{:Nd}", "{:0N}" or "{:0Nd}" (N decimal digits),
 * literal text around it, and "{{" / "}}" for literal braces. */
struct _MactFilenameTemplate {
  char    *prefix;
  char    *suffix;
  gint     width;
  gboolean zero_pad;
};

void
mact_filename_template_free (MactFilenameTemplate *tmpl)
{
  if (tmpl == NULL)
    return;
  g_free (tmpl->prefix);
  g_free (tmpl->suffix);
  g_free (tmpl);
}

static gboolean
parse_field_spec (const char *spec, gsize len, gint *width, gboolean *zero_pad)
{
  *width = 0;
  *zero_pad = FALSE;
  if (len == 0)
    return TRUE;
  if (spec[0] != ':')
    return FALSE;
  gsize i = 1;
  if (i < len && spec[i] == '0')
    {
      *zero_pad = TRUE;
      i++;
    }
  gsize digits_start = i;
  while (i < len && g_ascii_isdigit (spec[i]))
    i++;
  if (i - digits_start > 4)       /* a width beyond 9999 is not a file name */
    return FALSE;
  if (i > digits_start)
    *width = (gint) g_ascii_strtoll (spec + digits_start, NULL, 10);
  else if (*zero_pad)
    *zero_pad = FALSE;            /* "{:0}" is width 0: no padding */
  if (i < len && spec[i] == 'd')
    i++;
  return i == len;
}

MactFilenameTemplate *
mact_filename_template_parse (const char *tmpl, GError **error)
{
  g_autoptr(GString) prefix = g_string_new (NULL);
  g_autoptr(GString) suffix = g_string_new (NULL);
  GString *current = prefix;
  gint width = 0;
  gboolean zero_pad = FALSE;
  guint n_fields = 0;
  const char *why = NULL;

  for (const char *p = tmpl; *p != '\0' && why == NULL; p++)
    {
      if (p[0] == '{' && p[1] == '{')
        {
          g_string_append_c (current, '{');
          p++;
        }
      else if (p[0] == '}' && p[1] == '}')
        {
          g_string_append_c (current, '}');
          p++;
        }
      else if (p[0] == '}')
        why = "a single '}' (write '}}' for a literal brace)";
      else if (p[0] == '{')
        {
          const char *end = strchr (p, '}');
          if (end == NULL)
            why = "an unclosed '{'";
          else if (!parse_field_spec (p + 1, (gsize) (end - p - 1), &width, &zero_pad))
            why = "a replacement field other than {}, {:d}, {:N}, {:Nd}, {:0N} or {:0Nd}";
          else if (++n_fields > 1)
            why = "more than one replacement field";
          else
            {
              current = suffix;
              p = end;
            }
        }
      else
        g_string_append_c (current, *p);
    }
  if (why == NULL && n_fields == 0)
    why = "no replacement field for the frame index";

  if (why != NULL)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE,
                   "filename_tmpl '%s': %s", tmpl, why);
      return NULL;
    }

  MactFilenameTemplate *self = g_new0 (MactFilenameTemplate, 1);
  self->prefix = g_string_free (g_steal_pointer (&prefix), FALSE);
  self->suffix = g_string_free (g_steal_pointer (&suffix), FALSE);
  self->width = width;
  self->zero_pad = zero_pad;
  return self;
}

char *
mact_filename_template_format (const MactFilenameTemplate *tmpl, gint64 index)
{
  /* printf's "%0*d" and "%*d" pad exactly as Python's "{:0N}" and "{:N}" do for ints,
   * sign included in the width. */
  if (tmpl->zero_pad)
    return g_strdup_printf ("%s%0*" G_GINT64_FORMAT "%s", tmpl->prefix, tmpl->width, index,
                            tmpl->suffix);
  return g_strdup_printf ("%s%*" G_GINT64_FORMAT "%s", tmpl->prefix, tmpl->width, index,
                          tmpl->suffix);
}
