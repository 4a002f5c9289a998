/* test-config.c: JSON configs: loading, value conversion, and building blocks from them.
 *
 * The blocks are defined here and registered through a static plugin in a private
 * registry, so the tests depend on no plugin file and on no other area's blocks. */
#define MACT_PLUGIN_STATIC
#include "mact-test.h"

#include <string.h>
#include <glib/gstdio.h>

/* ------------------------------------------------------------------ test types */

typedef enum {
  TEST_CFG_MODE_FAST,
  TEST_CFG_MODE_SLOW,
} TestCfgMode;

typedef enum {
  TEST_CFG_OPT_A = 1 << 0,
  TEST_CFG_OPT_B = 1 << 1,
  TEST_CFG_OPT_C = 1 << 2,
} TestCfgOpt;

static GType test_cfg_mode_get_type (void);
static GType test_cfg_opt_get_type (void);

static GType
test_cfg_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { TEST_CFG_MODE_FAST, "TEST_CFG_MODE_FAST", "fast" },
    { TEST_CFG_MODE_SLOW, "TEST_CFG_MODE_SLOW", "slow" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("TestCfgMode", values));
  return type;
}

static GType
test_cfg_opt_get_type (void)
{
  static gsize type = 0;
  static const GFlagsValue values[] = {
    { TEST_CFG_OPT_A, "TEST_CFG_OPT_A", "a" },
    { TEST_CFG_OPT_B, "TEST_CFG_OPT_B", "b" },
    { TEST_CFG_OPT_C, "TEST_CFG_OPT_C", "c" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_flags_register_static ("TestCfgOpt", values));
  return type;
}

/* A loss with one argument of its own, for nested configs. */
#define TEST_TYPE_CFG_LOSS (test_cfg_loss_get_type ())
G_DECLARE_FINAL_TYPE (TestCfgLoss, test_cfg_loss, TEST, CFG_LOSS, MactLoss)

struct _TestCfgLoss {
  MactLoss parent_instance;
  double   margin;
};

G_DEFINE_TYPE (TestCfgLoss, test_cfg_loss, MACT_TYPE_LOSS)

enum { LOSS_PROP_0, LOSS_PROP_MARGIN, LOSS_N_PROPS };

static void
test_cfg_loss_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  if (prop_id == LOSS_PROP_MARGIN)
    TEST_CFG_LOSS (object)->margin = g_value_get_double (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
test_cfg_loss_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  if (prop_id == LOSS_PROP_MARGIN)
    g_value_set_double (value, TEST_CFG_LOSS (object)->margin);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
test_cfg_loss_class_init (TestCfgLossClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->set_property = test_cfg_loss_set_property;
  object_class->get_property = test_cfg_loss_get_property;
  g_object_class_install_property (object_class, LOSS_PROP_MARGIN,
    g_param_spec_double ("margin", NULL, NULL, 0.0, 1.0, 0.5,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
}

static void
test_cfg_loss_init (TestCfgLoss *self)
{
}

/* A backbone with one argument of every kind a config can set.  Property values are kept
 * as GValues indexed by property id, which keeps the accessors generic. */
#define TEST_TYPE_CFG_BACKBONE (test_cfg_backbone_get_type ())
G_DECLARE_FINAL_TYPE (TestCfgBackbone, test_cfg_backbone, TEST, CFG_BACKBONE, MactBackbone)

enum {
  BB_PROP_0,
  BB_PROP_DEPTH,        /* int [1, 200], required */
  BB_PROP_RATIO,        /* double [0, 10] */
  BB_PROP_SCALE,        /* float [-1, 1] */
  BB_PROP_ENABLED,      /* boolean */
  BB_PROP_LABEL,        /* string */
  BB_PROP_MODE,         /* enum */
  BB_PROP_OPTIONS,      /* flags */
  BB_PROP_KERNEL_SIZE,  /* variant "ax" */
  BB_PROP_RATIOS,       /* variant "ad" */
  BB_PROP_ANYTHING,     /* variant "*" */
  BB_PROP_PAIR,         /* variant "(xi)" */
  BB_PROP_TAGS,         /* variant "as", default ["x"]: refuses NULL */
  BB_PROP_EXTRA,        /* JsonNode */
  BB_PROP_LOSS,         /* MactLoss */
  BB_PROP_HELPER,       /* a plain GObject */
  BB_PROP_NAMES,        /* GStrv */
  BB_PROP_COUNT64,      /* int64 [-5, 5] */
  BB_PROP_UCOUNT,       /* uint [1, 10] */
  BB_PROP_BIG,          /* uint64 */
  BB_PROP_LEVEL,        /* uchar [0, 9] */
  BB_PROP_OFFSET,       /* long */
  BB_PROP_CALLBACK,     /* pointer: not expressible in JSON */
  BB_PROP_STATE,        /* int, read-only */
  BB_PROP_RUNTIME,      /* int, read-write but not a construct property */
  BB_N_PROPS
};

struct _TestCfgBackbone {
  MactBackbone parent_instance;
  GValue       values[BB_N_PROPS];
};

G_DEFINE_TYPE (TestCfgBackbone, test_cfg_backbone, MACT_TYPE_BACKBONE)

static GParamSpec *bb_props[BB_N_PROPS];

static void
test_cfg_backbone_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  TestCfgBackbone *self = TEST_CFG_BACKBONE (object);
  if (prop_id == 0 || prop_id >= BB_N_PROPS)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  if (G_IS_VALUE (&self->values[prop_id]))
    g_value_unset (&self->values[prop_id]);
  g_value_init (&self->values[prop_id], pspec->value_type);
  g_value_copy (value, &self->values[prop_id]);
}

static void
test_cfg_backbone_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
  TestCfgBackbone *self = TEST_CFG_BACKBONE (object);
  if (prop_id == 0 || prop_id >= BB_N_PROPS)
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  if (G_IS_VALUE (&self->values[prop_id]))
    g_value_copy (&self->values[prop_id], value);
}

static gboolean
test_cfg_backbone_build (MactModule *module, GError **error)
{
  MactModuleClass *parent = MACT_MODULE_CLASS (test_cfg_backbone_parent_class);
  if (parent->build != NULL && !parent->build (module, error))
    return FALSE;
  TestCfgBackbone *self = TEST_CFG_BACKBONE (module);
  /* A message without the block name (the builder prefixes it) and one with it. */
  if (g_value_get_int (&self->values[BB_PROP_DEPTH]) == 13)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "depth 13 is not supported");
      return FALSE;
    }
  if (g_value_get_double (&self->values[BB_PROP_RATIO]) == 7.0)
    {
      g_set_error (error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT,
                   "TestCfgBackbone: ratio 7 is not allowed");
      return FALSE;
    }
  return TRUE;
}

static void
test_cfg_backbone_finalize (GObject *object)
{
  TestCfgBackbone *self = TEST_CFG_BACKBONE (object);
  for (guint i = 0; i < BB_N_PROPS; i++)
    if (G_IS_VALUE (&self->values[i]))
      g_value_unset (&self->values[i]);
  G_OBJECT_CLASS (test_cfg_backbone_parent_class)->finalize (object);
}

static void
test_cfg_backbone_class_init (TestCfgBackboneClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->set_property = test_cfg_backbone_set_property;
  object_class->get_property = test_cfg_backbone_get_property;
  object_class->finalize = test_cfg_backbone_finalize;
  MACT_MODULE_CLASS (klass)->build = test_cfg_backbone_build;

  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  const char *const default_tags[] = { "x" };
  bb_props[BB_PROP_DEPTH] =
    g_param_spec_int ("depth", NULL, NULL, 1, 200, 50, flags | MACT_PARAM_REQUIRED);
  bb_props[BB_PROP_RATIO] = g_param_spec_double ("ratio", NULL, NULL, 0.0, 10.0, 1.0, flags);
  bb_props[BB_PROP_SCALE] = g_param_spec_float ("scale", NULL, NULL, -1.0f, 1.0f, 0.0f, flags);
  bb_props[BB_PROP_ENABLED] = g_param_spec_boolean ("enabled", NULL, NULL, FALSE, flags);
  bb_props[BB_PROP_LABEL] = g_param_spec_string ("label", NULL, NULL, NULL, flags);
  bb_props[BB_PROP_MODE] =
    g_param_spec_enum ("mode", NULL, NULL, test_cfg_mode_get_type (), TEST_CFG_MODE_FAST,
                       flags);
  bb_props[BB_PROP_OPTIONS] =
    g_param_spec_flags ("options", NULL, NULL, test_cfg_opt_get_type (), 0, flags);
  bb_props[BB_PROP_KERNEL_SIZE] =
    g_param_spec_variant ("kernel-size", NULL, NULL, G_VARIANT_TYPE ("ax"), NULL, flags);
  bb_props[BB_PROP_RATIOS] =
    g_param_spec_variant ("ratios", NULL, NULL, G_VARIANT_TYPE ("ad"), NULL, flags);
  bb_props[BB_PROP_ANYTHING] =
    g_param_spec_variant ("anything", NULL, NULL, G_VARIANT_TYPE_ANY, NULL, flags);
  bb_props[BB_PROP_PAIR] =
    g_param_spec_variant ("pair", NULL, NULL, G_VARIANT_TYPE ("(xi)"), NULL, flags);
  bb_props[BB_PROP_TAGS] =
    g_param_spec_variant ("tags", NULL, NULL, G_VARIANT_TYPE_STRING_ARRAY,
                          g_variant_new_strv (default_tags, 1), flags);
  bb_props[BB_PROP_EXTRA] = g_param_spec_boxed ("extra", NULL, NULL, JSON_TYPE_NODE, flags);
  bb_props[BB_PROP_LOSS] = g_param_spec_object ("loss", NULL, NULL, MACT_TYPE_LOSS, flags);
  bb_props[BB_PROP_HELPER] = g_param_spec_object ("helper", NULL, NULL, G_TYPE_OBJECT, flags);
  bb_props[BB_PROP_NAMES] = g_param_spec_boxed ("names", NULL, NULL, G_TYPE_STRV, flags);
  bb_props[BB_PROP_COUNT64] = g_param_spec_int64 ("count64", NULL, NULL, -5, 5, 0, flags);
  bb_props[BB_PROP_UCOUNT] = g_param_spec_uint ("ucount", NULL, NULL, 1, 10, 1, flags);
  bb_props[BB_PROP_BIG] = g_param_spec_uint64 ("big", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  bb_props[BB_PROP_LEVEL] = g_param_spec_uchar ("level", NULL, NULL, 0, 9, 0, flags);
  bb_props[BB_PROP_OFFSET] =
    g_param_spec_long ("offset", NULL, NULL, G_MINLONG, G_MAXLONG, 0, flags);
  bb_props[BB_PROP_CALLBACK] = g_param_spec_pointer ("callback", NULL, NULL, flags);
  bb_props[BB_PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL, 0, 10, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  bb_props[BB_PROP_RUNTIME] =
    g_param_spec_int ("runtime", NULL, NULL, 0, 10, 0,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, BB_N_PROPS, bb_props);
}

static void
test_cfg_backbone_init (TestCfgBackbone *self)
{
}

static gboolean
test_plugin_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "TestCfgBackbone", TEST_TYPE_CFG_BACKBONE, error) &&
         mact_plugin_add_type (plugin, "TestCfgLoss", TEST_TYPE_CFG_LOSS, error);
}

MACT_PLUGIN_DEFINE (native, test_config, "Blocks for the config tests", test_plugin_init,
                    "0.1.0", "LGPL-2.1-or-later", "mact tests")

/* ------------------------------------------------------------------ helpers */

static int
setup_registry (void **state)
{
  g_autoptr(GError) error = NULL;
  MactRegistry *registry = mact_registry_new (FALSE);
  if (!mact_registry_add_static_plugin (registry, mact_plugin_native_test_config_get_desc (),
                                        &error))
    {
      fprintf (stderr, "# cannot add the test plugin: %s\n", error->message);
      g_object_unref (registry);
      return -1;
    }
  *state = registry;
  return 0;
}

static int
teardown_registry (void **state)
{
  g_clear_object ((MactRegistry **) state);
  return 0;
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = mact_config_load_data (json, -1, &error);
  if (node == NULL)
    fail_msg ("cannot parse %s: %s", json, error->message);
  return node;
}

static GParamSpec *
backbone_pspec (const char *name)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (TEST_TYPE_CFG_BACKBONE);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), name);
  assert_non_null (pspec);
  return pspec;   /* the class stays alive: the type is static */
}

/* Converts JSON text for the backbone property @name into @out; returns the error. */
static gboolean
convert (const char *name, const char *json, GValue *out, GError **error)
{
  g_autoptr(JsonNode) node = parse (json);
  return mact_config_value_to_gvalue (node, backbone_pspec (name), "TestCfgBackbone", out,
                                      error);
}

static void
assert_message_has (GError *error, const char *substring)
{
  assert_non_null (error);
  if (strstr (error->message, substring) == NULL)
    fail_msg ("message \"%s\" does not contain \"%s\"", error->message, substring);
}

/* The conversion of @json for @name fails with @code and a message containing @substring. */
static void
assert_convert_fails (const char *name, const char *json, gint code, const char *substring)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  assert_false (convert (name, json, &value, &error));
  assert_false (G_IS_VALUE (&value));
  if (substring)
    assert_message_has (error, substring);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, code);
}

static void
assert_variant (const GValue *value, const char *type, const char *text)
{
  GVariant *v = g_value_get_variant (value);
  assert_non_null (v);
  assert_string_equal (g_variant_get_type_string (v), type);
  g_autofree char *printed = g_variant_print (v, FALSE);
  assert_string_equal (printed, text);
}

/* The variant @json gives for the backbone property @name. */
static void
assert_converts_to_variant (const char *name, const char *json, const char *type,
                            const char *text)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  if (!convert (name, json, &value, &error))
    fail_msg ("%s = %s: %s", name, json, error->message);
  assert_variant (&value, type, text);
}

static MactModule *
build (void **state, const char *json, GType kind, GError **error)
{
  g_autoptr(JsonNode) node = parse (json);
  return mact_registry_build_from_json (*state, node, kind, error);
}

/* Building @json as a backbone fails with @domain/@code and a message with @substring. */
static void
assert_build_fails (void **state, const char *json, GQuark domain, gint code,
                    const char *substring)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) block = build (state, json, MACT_TYPE_BACKBONE, &error);
  assert_null (block);
  if (substring)
    assert_message_has (error, substring);
  mact_test_assert_error (&error, domain, code);
}

static char *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("mact-test-config-XXXXXX", &error);
  if (dir == NULL)
    fail_msg ("g_dir_make_tmp: %s", error->message);
  return dir;
}

/* ------------------------------------------------------------------ loading */

static void
test_load_data (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root =
    mact_config_load_data ("{\"type\": \"TSNHead\", \"num_classes\": 400, \"x\": [1, 2.5]}",
                           -1, &error);
  assert_null (error);
  assert_non_null (root);
  assert_true (JSON_NODE_HOLDS_OBJECT (root));
  JsonObject *object = json_node_get_object (root);
  assert_string_equal (json_object_get_string_member (object, "type"), "TSNHead");
  assert_int_equal (json_object_get_int_member (object, "num_classes"), 400);

  /* An explicit length stops before the rest of the buffer. */
  g_autoptr(JsonNode) part = mact_config_load_data ("[1, 2]garbage", 6, &error);
  assert_null (error);
  assert_int_equal (json_array_get_length (json_node_get_array (part)), 2);
}

static void
test_load_data_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root = mact_config_load_data ("{\n  \"a\": 1,\n  \"b\": }", -1, &error);
  assert_null (root);
  /* line 3, column 8 of the data */
  assert_message_has (error, "<data>:3:8");
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  root = mact_config_load_data ("", -1, &error);
  assert_null (root);
  assert_message_has (error, "empty");
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  root = mact_config_load_data ("{\"a\": 1} {", -1, &error);
  assert_null (root);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);
}

/* @text must be refused by mact_config_load_data() with MACT_CONFIG_ERROR_PARSE and a
 * message containing @substring. */
static void
assert_load_fails (const char *text, gssize length, const char *substring)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root = mact_config_load_data (text, length, &error);
  if (root != NULL)
    {
      json_node_unref (root);
      fail_msg ("loaded: %.80s", text);
    }
  if (substring != NULL)
    assert_message_has (error, substring);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);
}

/* Nesting deep enough to overflow json-glib's recursive parser, numbers it would wrap or
 * make infinite, what it accepts beyond JSON, duplicate keys: GErrors before parsing,
 * with the position.  Single-quoted strings stay accepted. */
static void
test_load_hostile (void **state)
{
  g_autoptr(GError) error = NULL;

  /* 100000 nested arrays and objects; 64 levels load, 65 do not */
  const gsize deep = 100000;
  GString *text = g_string_new (NULL);
  for (gsize i = 0; i < deep; i++)
    g_string_append_c (text, '[');
  for (gsize i = 0; i < deep; i++)
    g_string_append_c (text, ']');
  assert_load_fails (text->str, -1, "<data>:1:65: the data nests more than 64 levels deep");
  g_string_truncate (text, 0);
  for (gsize i = 0; i < deep; i++)
    g_string_append (text, "{\"a\": ");
  g_string_append (text, "1");
  for (gsize i = 0; i < deep; i++)
    g_string_append_c (text, '}');
  assert_load_fails (text->str, -1, "nests more than 64 levels deep");
  /* objects, then an empty array: levels + 1 containers */
  for (guint levels = 63; levels <= 64; levels++)
    {
      g_string_truncate (text, 0);
      for (guint i = 0; i < levels; i++)
        g_string_append (text, "{'k': ");
      g_string_append (text, "[]");
      for (guint i = 0; i < levels; i++)
        g_string_append_c (text, '}');
      JsonNode *root = mact_config_load_data (text->str, -1, &error);
      if (levels == 63)
        {
          assert_non_null (root);
          json_node_unref (root);
        }
      else
        {
          assert_null (root);
          mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);
        }
    }
  g_string_free (text, TRUE);

  /* the same from a file, named in the message */
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *path = g_build_filename (dir, "deep.json", NULL);
  g_autofree char *brackets = g_strnfill (deep, '[');
  assert_true (g_file_set_contents (path, brackets, -1, NULL));
  assert_null (mact_config_load_file (path, &error));
  g_autofree char *where = g_strdup_printf ("config file '%s' is not valid JSON: %s:1:65: ",
                                            path, path);
  assert_message_has (error, where);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);
  g_unlink (path);
  g_rmdir (dir);

  /* numbers: json-glib would wrap 2^64 + 4 to 4 and 2^63 to -2^63, and make 1e999
   * infinite; the 64-bit extremes and the largest doubles load */
  assert_load_fails ("{\"num_classes\": 18446744073709551620}", -1,
                     "<data>:1:17: the integer 18446744073709551620 does not fit in 64 bits");
  assert_load_fails ("[9223372036854775808]", -1, "does not fit in 64 bits");
  assert_load_fails ("[-9223372036854775809]", -1, "does not fit in 64 bits");
  g_autofree char *long_number = g_strnfill (5000, '7');
  g_autofree char *long_text = g_strdup_printf ("[%s]", long_number);
  assert_load_fails (long_text, -1, "77777777777777777777... (5000 characters)");
  assert_load_fails ("{\"lr\": 1e999}", -1, "the number 1e999 is too large for a double");
  assert_load_fails ("[-2e308]", -1, "too large");
  {
    g_autoptr(JsonNode) root = mact_config_load_data (
      "[9223372036854775807, -9223372036854775808, 1.7e308, 1e-400, -0]", -1, &error);
    assert_non_null (root);
    JsonArray *a = json_node_get_array (root);
    assert_true (json_array_get_int_element (a, 0) == G_MAXINT64);
    assert_true (json_array_get_int_element (a, 1) == G_MININT64);
    assert_true (json_array_get_double_element (a, 2) == 1.7e308);
    assert_true (json_array_get_double_element (a, 3) == 0.0);
  }

  /* beyond JSON: json-glib's comments between slashes, hexadecimal, octal, leading '.',
   * trailing '.', '+', a value followed by another, identifiers; malformed strings */
  assert_load_fails ("{/ a comment /}", -1, "<data>:1:2: unexpected '/'");
  assert_load_fails ("[0x10]", -1, "<data>:1:3: unexpected 'x'");
  assert_load_fails ("[010]", -1, "unexpected '1'");
  assert_load_fails ("[.5]", -1, "unexpected '.'");
  assert_load_fails ("[1.]", -1, "a '.' must be followed by digits");
  assert_load_fails ("[+1]", -1, "unexpected '+'");
  assert_load_fails ("[- 1]", -1, "a '-' must be followed by digits");
  assert_load_fails ("[1e]", -1, "an exponent must have digits");
  assert_load_fails ("{\"a\": 1} {\"b\": 2}", -1, "<data>:1:10: unexpected '{' after the value");
  assert_load_fails ("[True]", -1, "unexpected 'T', expected a value");
  assert_load_fails ("[1,]", -1, "unexpected ']', expected a value");
  assert_load_fails ("{\"a\": 1,}", -1, "expected a string (a key)");
  assert_load_fails ("{\"a\" 1}", -1, "expected ':'");
  assert_load_fails ("[1 2]", -1, "expected ',' or ']'");
  assert_load_fails ("{\"a\": ", -1, "<data>:1:7: unexpected end of data, expected a value");
  assert_load_fails ("[1, 2", -1, "unexpected end of data, expected ',' or ']'");
  assert_load_fails ("[\"abc", -1, "<data>:1:2: the string is not terminated");
  assert_load_fails ("['abc", -1, "the string is not terminated");
  assert_load_fails ("[\"a\\udc00\"]", -1, "second half of a UTF-16 surrogate pair");
  assert_load_fails ("[\"\\ud800\"]", -1, "first half of a UTF-16 surrogate pair");
  assert_load_fails ("[\"\\ud800\\u0041\"]", -1, "first half");
  assert_load_fails ("{\"type\\u0000x\": 1}", -1, "\\u0000 (a NUL character)");
  assert_load_fails ("[\"\\u12\"]", -1, "four hexadecimal digits");
  assert_load_fails ("[\"\\x41\"]", -1, "invalid escape: a backslash followed by 'x'");
  assert_load_fails ("[\"tab\there\"]", -1, "control character U+0009");
  assert_load_fails ("\n\n  [\"caf\xe9\"]", -1, "<data>:3:8: byte 0xe9 is not UTF-8");
  assert_load_fails ("[1, \0 2]", 7, "<data>:1:5: a NUL byte");

  /* duplicate keys, at any depth, however escaped: json-glib keeps the last silently */
  assert_load_fails ("{\"num_classes\": 400, \"num_classes\": 10}", -1,
                     "config data is refused: <data>: key \"num_classes\" appears twice in "
                     "one object");
  assert_load_fails ("{\"model\": {\"head\": {\"a\": 1, \"b\": 2, \"\\u0061\": 3}}}", -1,
                     "key \"a\" appears twice");
  assert_load_fails ("{'a': 1, \"a\": 2}", -1, "appears twice");
  {
    /* equal keys in different objects are fine */
    g_autoptr(JsonNode) root = mact_config_load_data ("[{\"a\": 1}, {\"a\": 2}]", -1,
                                                      &error);
    assert_non_null (root);
  }

  /* a byte order mark is skipped, as json-glib does; elsewhere it is a character */
  {
    g_autoptr(JsonNode) root = mact_config_load_data ("\xef\xbb\xbf{\"a\": 1}", -1, &error);
    assert_non_null (root);
  }
  assert_load_fails ("[1]\xef\xbb\xbf", -1, "unexpected U+FEFF after the value");

  /* single-quoted strings (no escapes inside) keep working, and valid escapes decode */
  {
    g_autoptr(JsonNode) root = mact_config_load_data (
      "{'type': 'Say \"hi\" \\n', \"e\": \"\\u00e9\\ud83d\\ude00\\/\\t\"}", -1, &error);
    if (root == NULL)
      fail_msg ("%s", error->message);
    JsonObject *o = json_node_get_object (root);
    assert_string_equal (json_object_get_string_member (o, "type"), "Say \"hi\" \\n");
    assert_string_equal (json_object_get_string_member (o, "e"), "\xc3\xa9\xf0\x9f\x98\x80/\t");
  }
}

static void
test_load_file (void **state)
{
  g_autofree char *dir = make_tmp_dir ();
  g_autofree char *good = g_build_filename (dir, "good.json", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.json", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.json", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.json", NULL);
  assert_true (g_file_set_contents (good, "{\"model\": {\"type\": \"Recognizer2D\"}}", -1, NULL));
  assert_true (g_file_set_contents (bad, "{\n  \"model\": [1,\n    2,, ]\n}", -1, NULL));
  assert_true (g_file_set_contents (empty, "", 0, NULL));

  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = mact_config_load_file (good, &error);
  assert_null (error);
  assert_true (JSON_NODE_HOLDS_OBJECT (root));
  JsonObject *model = json_object_get_object_member (json_node_get_object (root), "model");
  assert_string_equal (json_object_get_string_member (model, "type"), "Recognizer2D");

  /* Bad JSON: the file, line 3 and column 7. */
  assert_null (mact_config_load_file (bad, &error));
  g_autofree char *position = g_strdup_printf ("%s:3:7", bad);
  assert_message_has (error, position);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  assert_null (mact_config_load_file (missing, &error));
  assert_message_has (error, missing);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  assert_null (mact_config_load_file (empty, &error));
  assert_message_has (error, empty);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  /* A directory is not readable as a file. */
  assert_null (mact_config_load_file (dir, &error));
  assert_message_has (error, dir);
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_PARSE);

  g_unlink (good);
  g_unlink (bad);
  g_unlink (empty);
  g_rmdir (dir);
}

static void
test_config_copy (void **state)
{
  g_autoptr(JsonNode) root =
    parse ("{\"a\": [1, 2.0, 2.5, \"s\", true, null, {\"b\": 3}], \"c\": {\"d\": -1}}");
  g_autofree char *before = json_to_string (root, FALSE);
  g_autoptr(JsonNode) copy = mact_config_copy (root);
  assert_true (copy != root);
  assert_true (json_node_equal (copy, root));
  g_autofree char *copied = json_to_string (copy, FALSE);
  assert_string_equal (copied, before);
  /* integers and floating-point numbers keep their JSON type */
  JsonArray *a = json_object_get_array_member (json_node_get_object (copy), "a");
  assert_true (json_node_get_value_type (json_array_get_element (a, 0)) == G_TYPE_INT64);
  assert_true (json_node_get_value_type (json_array_get_element (a, 1)) == G_TYPE_DOUBLE);

  /* Nothing is shared: scalars, arrays and objects changed through the copy stay put in
   * the original (json_node_copy() would share all three). */
  json_node_set_int (json_array_get_element (a, 0), 42);
  json_array_remove_element (a, 5);
  json_object_set_int_member (json_node_get_object (json_array_get_element (a, 5)), "z", 1);
  json_object_set_null_member (json_object_get_object_member (json_node_get_object (copy), "c"),
                               "d");
  g_autofree char *after = json_to_string (root, FALSE);
  assert_string_equal (after, before);
  assert_false (json_node_equal (copy, root));

  g_autoptr(JsonNode) scalar = parse ("\"x\"");
  g_autoptr(JsonNode) scalar_copy = mact_config_copy (scalar);
  assert_string_equal (json_node_get_string (scalar_copy), "x");
  g_autoptr(JsonNode) null = parse ("null");
  g_autoptr(JsonNode) null_copy = mact_config_copy (null);
  assert_true (JSON_NODE_HOLDS_NULL (null_copy));
}

/* ------------------------------------------------------------------ conversions */

static void
test_convert_scalars (void **state)
{
  g_autoptr(GError) error = NULL;
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("enabled", "true", &v, &error));
    assert_true (G_VALUE_HOLDS_BOOLEAN (&v));
    assert_true (g_value_get_boolean (&v));
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("depth", "101", &v, &error));
    assert_int_equal (g_value_get_int (&v), 101);
  }
  {
    /* an exactly integral floating-point number is an integer */
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("depth", "2.0", &v, &error));
    assert_int_equal (g_value_get_int (&v), 2);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("count64", "-5", &v, &error));
    assert_int_equal (g_value_get_int64 (&v), -5);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("ucount", "10", &v, &error));
    assert_int_equal (g_value_get_uint (&v), 10);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("big", "9223372036854775807", &v, &error));
    assert_true (g_value_get_uint64 (&v) == G_MAXINT64);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("level", "9", &v, &error));
    assert_int_equal (g_value_get_uchar (&v), 9);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("offset", "-123456789012", &v, &error));
    assert_true (g_value_get_long (&v) == -123456789012L);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("ratio", "2.5", &v, &error));
    assert_true (g_value_get_double (&v) == 2.5);
  }
  {
    /* integers are numbers */
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("ratio", "3", &v, &error));
    assert_true (g_value_get_double (&v) == 3.0);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("scale", "-0.25", &v, &error));
    assert_true (g_value_get_float (&v) == -0.25f);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("label", "\"hello\"", &v, &error));
    assert_string_equal (g_value_get_string (&v), "hello");
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("label", "null", &v, &error));
    assert_true (G_VALUE_HOLDS_STRING (&v));
    assert_null (g_value_get_string (&v));
  }
  assert_null (error);
}

static void
test_convert_scalar_errors (void **state)
{
  const gint W = MACT_CONFIG_ERROR_WRONG_TYPE, I = MACT_CONFIG_ERROR_INVALID_VALUE;
  assert_convert_fails ("depth", "\"12\"", W,
                        "block 'TestCfgBackbone': argument 'depth' expects an integer, "
                        "got a string");
  assert_convert_fails ("depth", "2.5", W, "non-integral number 2.5");
  assert_convert_fails ("depth", "true", W, "got a boolean");
  assert_convert_fails ("depth", "null", W, "got null");
  assert_convert_fails ("depth", "[3]", W, "got an array");
  assert_convert_fails ("depth", "{}", W, "got an object");
  assert_convert_fails ("depth", "0", I, "must be in [1, 200], got 0");
  assert_convert_fails ("depth", "201", I, "got 201");
  assert_convert_fails ("depth", "1e30", I, "64-bit");
  /* the largest numbers a config can hold reach the range checks intact */
  assert_convert_fails ("depth", "9223372036854775807", I, "got 9223372036854775807");
  assert_convert_fails ("depth", "-9223372036854775808", I, "got -9223372036854775808");
  assert_convert_fails ("ratio", "1.7e308", I, "must be in [0, 10]");
  assert_convert_fails ("scale", "-1e300", I, NULL);
  assert_convert_fails ("ucount", "4294967297", I, "[1, 10]");
  assert_convert_fails ("count64", "6", I, "[-5, 5]");
  assert_convert_fails ("ucount", "-1", I, "[1, 10], got -1");
  assert_convert_fails ("big", "-1", I, NULL);
  assert_convert_fails ("level", "10", I, NULL);
  assert_convert_fails ("ratio", "10.5", I, "must be in [0, 10], got 10.5");
  assert_convert_fails ("ratio", "-1", I, NULL);
  assert_convert_fails ("ratio", "\"1.0\"", W, "expects a number, got a string");
  assert_convert_fails ("ratio", "null", W, NULL);
  assert_convert_fails ("scale", "1.5", I, NULL);
  assert_convert_fails ("enabled", "1", W, "expects a boolean, got an integer");
  assert_convert_fails ("enabled", "\"true\"", W, NULL);
  assert_convert_fails ("enabled", "null", W, NULL);
  assert_convert_fails ("label", "5", W, "argument 'label' expects a string, got an integer");
  /* not expressible in a config at all */
  assert_convert_fails ("callback", "1", W, "gpointer");
}

static void
test_convert_enum_flags (void **state)
{
  g_autoptr(GError) error = NULL;
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("mode", "\"slow\"", &v, &error));
    assert_int_equal (g_value_get_enum (&v), TEST_CFG_MODE_SLOW);
  }
  {
    /* by name too */
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("mode", "\"TEST_CFG_MODE_SLOW\"", &v, &error));
    assert_int_equal (g_value_get_enum (&v), TEST_CFG_MODE_SLOW);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("options", "\"a | c\"", &v, &error));
    assert_int_equal (g_value_get_flags (&v), TEST_CFG_OPT_A | TEST_CFG_OPT_C);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("options", "[\"b\", \"TEST_CFG_OPT_C\"]", &v, &error));
    assert_int_equal (g_value_get_flags (&v), TEST_CFG_OPT_B | TEST_CFG_OPT_C);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("options", "\"\"", &v, &error));
    assert_int_equal (g_value_get_flags (&v), 0);
  }
  assert_null (error);

  const gint W = MACT_CONFIG_ERROR_WRONG_TYPE, I = MACT_CONFIG_ERROR_INVALID_VALUE;
  assert_convert_fails ("mode", "\"medium\"", I,
                        "argument 'mode' must be one of 'fast', 'slow', got 'medium'");
  assert_convert_fails ("mode", "1", W, "got an integer");
  assert_convert_fails ("options", "\"a|z\"", I, "'a', 'b', 'c', got 'z'");
  assert_convert_fails ("options", "[\"a\", 2]", W, "argument 'options[1]'");
  assert_convert_fails ("options", "3", W, NULL);
}

static void
test_convert_variants (void **state)
{
  /* "ax" */
  assert_converts_to_variant ("kernel_size", "[3, 1, 1]", "ax", "[3, 1, 1]");
  assert_converts_to_variant ("kernel-size", "3", "ax", "[3]");
  assert_converts_to_variant ("kernel-size", "[2.0, 4]", "ax", "[2, 4]");
  assert_converts_to_variant ("kernel-size", "[]", "ax", "[]");
  /* "ad": integers convert */
  assert_converts_to_variant ("ratios", "[1, 0.5]", "ad", "[1.0, 0.5]");
  assert_converts_to_variant ("ratios", "2", "ad", "[2.0]");
  /* "(xi)" */
  assert_converts_to_variant ("pair", "[7, -3]", "(xi)", "(7, -3)");
  /* "*": inferred */
  assert_converts_to_variant ("anything", "[1, 2, 3]", "ax", "[1, 2, 3]");
  assert_converts_to_variant ("anything", "[1, 2.5]", "ad", "[1.0, 2.5]");
  assert_converts_to_variant ("anything", "[\"a\", \"b\"]", "as", "['a', 'b']");
  assert_converts_to_variant ("anything", "[true, false]", "ab", "[true, false]");
  assert_converts_to_variant ("anything", "[[1, 2], [3]]", "av", "[<[int64 1, 2]>, <[int64 3]>]");
  assert_converts_to_variant ("anything", "[[1], [\"x\"]]", "av", "[<[int64 1]>, <['x']>]");
  assert_converts_to_variant ("anything", "[1, \"x\"]", "av", "[<int64 1>, <'x'>]");
  assert_converts_to_variant ("anything", "[]", "av", "[]");
  assert_converts_to_variant ("anything", "5", "x", "5");
  assert_converts_to_variant ("anything", "0.5", "d", "0.5");
  assert_converts_to_variant ("anything", "\"s\"", "s", "'s'");
  assert_converts_to_variant ("anything", "false", "b", "false");
  assert_converts_to_variant ("anything", "{\"k\": [1, 2], \"s\": \"v\"}", "a{sv}",
                              "{'k': <[int64 1, 2]>, 's': <'v'>}");
  assert_converts_to_variant ("tags", "[\"p\", \"q\"]", "as", "['p', 'q']");

  /* null: NULL for a variant that allows it */
  {
    g_auto(GValue) v = G_VALUE_INIT;
    g_autoptr(GError) error = NULL;
    assert_true (convert ("kernel_size", "null", &v, &error));
    assert_null (g_value_get_variant (&v));
  }

  const gint W = MACT_CONFIG_ERROR_WRONG_TYPE, I = MACT_CONFIG_ERROR_INVALID_VALUE;
  assert_convert_fails ("kernel_size", "[1, 2.5]", W,
                        "argument 'kernel_size[1]' expects an integer, got the non-integral");
  assert_convert_fails ("kernel_size", "[1, \"a\"]", W, "'kernel_size[1]' expects an integer");
  assert_convert_fails ("kernel_size", "\"3\"", W, "expects an integer, got a string");
  assert_convert_fails ("kernel_size", "{\"a\": 1}", W, "expects an array");
  assert_convert_fails ("kernel_size", "[[1]]", W, "got an array");
  assert_convert_fails ("ratios", "[true]", W, "expects a number, got a boolean");
  assert_convert_fails ("pair", "[1, 2, 3]", I, "expects 2 items");
  assert_convert_fails ("pair", "[1, 3000000000]", I, "'pair[1]' must be in");
  assert_convert_fails ("pair", "3", W, NULL);
  assert_convert_fails ("anything", "[1, null]", W, "'anything[1]'");
  /* "tags" has a non-NULL default: GObject would refuse a NULL */
  assert_convert_fails ("tags", "null", I, "cannot be null");
  assert_convert_fails ("tags", "[1]", W, NULL);
}

static void
test_convert_boxed_objects (void **state)
{
  g_autoptr(GError) error = NULL;
  {
    /* JSON properties get a copy of anything, null included */
    g_autoptr(JsonNode) node = parse ("{\"k\": [1, {\"z\": null}]}");
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (mact_config_value_to_gvalue (node, backbone_pspec ("extra"), NULL, &v,
                                              &error));
    JsonNode *copy = g_value_get_boxed (&v);
    assert_non_null (copy);
    assert_true (copy != node);
    assert_true (json_node_equal (copy, node));
    json_object_set_int_member (json_node_get_object (copy), "k", 5);
    assert_false (json_node_equal (copy, node));
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("extra", "7", &v, &error));
    assert_int_equal (json_node_get_int (g_value_get_boxed (&v)), 7);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("extra", "null", &v, &error));
    assert_null (g_value_get_boxed (&v));
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("names", "[\"a\", \"b\"]", &v, &error));
    const char *const *names = g_value_get_boxed (&v);
    assert_int_equal (g_strv_length ((char **) names), 2);
    assert_string_equal (names[1], "b");
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("names", "\"solo\"", &v, &error));
    const char *const *names = g_value_get_boxed (&v);
    assert_int_equal (g_strv_length ((char **) names), 1);
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("loss", "null", &v, &error));
    assert_null (g_value_get_object (&v));
  }
  {
    g_auto(GValue) v = G_VALUE_INIT;
    assert_true (convert ("helper", "null", &v, &error));
    assert_null (g_value_get_object (&v));
  }
  assert_null (error);

  const gint W = MACT_CONFIG_ERROR_WRONG_TYPE;
  assert_convert_fails ("names", "[\"a\", 1]", W, "'names[1]' expects a string");
  assert_convert_fails ("names", "{}", W, NULL);
  /* a block needs a registry: only mact_registry_build_from_json builds it */
  assert_convert_fails ("loss", "{\"type\": \"TestCfgLoss\"}", W, "mact_registry_build_from_json");
  assert_convert_fails ("loss", "\"TestCfgLoss\"", W, "got a string");
  assert_convert_fails ("helper", "{}", W, "GObject");

  /* without a block name the message starts at the argument */
  g_auto(GValue) v = G_VALUE_INIT;
  g_autoptr(JsonNode) node = parse ("\"x\"");
  assert_false (mact_config_value_to_gvalue (node, backbone_pspec ("depth"), NULL, &v, &error));
  assert_true (g_str_has_prefix (error->message, "argument 'depth' expects an integer"));
  mact_test_assert_error (&error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE);
}

/* ------------------------------------------------------------------ building */

static const char *const full_config =
  "{\"type\": \"TestCfgBackbone\", \"depth\": 18, \"ratio\": 2, \"scale\": 0.5,"
  " \"enabled\": true, \"label\": \"r18\", \"mode\": \"slow\", \"options\": \"a|b\","
  " \"kernel_size\": 3, \"ratios\": [1, 0.5], \"anything\": [[1, 2], [3]],"
  " \"pair\": [1, 2], \"extra\": {\"nested\": [1, 2, 3]},"
  " \"loss\": {\"type\": \"TestCfgLoss\", \"loss_weight\": 0.25, \"margin\": 0.75},"
  " \"helper\": null, \"names\": [\"x\", \"y\"], \"count64\": -2, \"ucount\": 4,"
  " \"big\": 12345678901, \"level\": 3, \"offset\": -7}";

static void
test_build_full (void **state)
{
  g_autoptr(JsonNode) config = parse (full_config);
  g_autofree char *before = json_to_string (config, FALSE);

  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) block = mact_registry_build_from_json (*state, config,
                                                               MACT_TYPE_BACKBONE, &error);
  if (block == NULL)
    fail_msg ("build failed: %s", error->message);
  assert_true (TEST_IS_CFG_BACKBONE (block));

  gint depth;
  double ratio;
  float scale;
  gboolean enabled;
  g_autofree char *label = NULL;
  TestCfgMode mode;
  guint options;
  g_autoptr(GVariant) kernel = NULL;
  g_autoptr(GVariant) ratios = NULL;
  g_autoptr(GVariant) anything = NULL;
  g_autoptr(GVariant) pair = NULL;
  g_autoptr(GVariant) tags = NULL;
  g_autoptr(JsonNode) extra = NULL;
  g_autoptr(MactLoss) loss = NULL;
  g_autoptr(GObject) helper = NULL;
  g_auto(GStrv) names = NULL;
  gint64 count64;
  guint ucount;
  guint64 big;
  guchar level;
  glong offset;
  g_object_get (block, "depth", &depth, "ratio", &ratio, "scale", &scale, "enabled", &enabled,
                "label", &label, "mode", &mode, "options", &options, "kernel-size", &kernel,
                "ratios", &ratios, "anything", &anything, "pair", &pair, "tags", &tags,
                "extra", &extra, "loss", &loss, "helper", &helper, "names", &names,
                "count64", &count64, "ucount", &ucount, "big", &big, "level", &level,
                "offset", &offset, NULL);
  assert_int_equal (depth, 18);
  assert_true (ratio == 2.0);
  assert_true (scale == 0.5f);
  assert_true (enabled);
  assert_string_equal (label, "r18");
  assert_int_equal (mode, TEST_CFG_MODE_SLOW);
  assert_int_equal (options, TEST_CFG_OPT_A | TEST_CFG_OPT_B);
  g_autofree char *kernel_s = g_variant_print (kernel, TRUE);
  assert_string_equal (kernel_s, "[int64 3]");
  g_autofree char *ratios_s = g_variant_print (ratios, FALSE);
  assert_string_equal (ratios_s, "[1.0, 0.5]");
  assert_string_equal (g_variant_get_type_string (anything), "av");
  g_autofree char *pair_s = g_variant_print (pair, FALSE);
  assert_string_equal (pair_s, "(1, 2)");
  /* not given: the default */
  g_autofree char *tags_s = g_variant_print (tags, FALSE);
  assert_string_equal (tags_s, "['x']");
  assert_true (JSON_NODE_HOLDS_OBJECT (extra));
  assert_int_equal (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (extra), "nested")), 3);
  assert_null (helper);
  assert_string_equal (names[0], "x");
  assert_int_equal (count64, -2);
  assert_int_equal (ucount, 4);
  assert_true (big == G_GUINT64_CONSTANT (12345678901));
  assert_int_equal (level, 3);
  assert_int_equal (offset, -7);

  /* the nested block, built with its property's type as the kind */
  assert_non_null (loss);
  assert_true (TEST_IS_CFG_LOSS (loss));
  assert_true (mact_loss_get_loss_weight (loss) == 0.25);
  assert_true (TEST_CFG_LOSS (loss)->margin == 0.75);

  /* The block shares nothing with the config, and the config is untouched. */
  JsonNode *extra_in = json_object_get_member (json_node_get_object (config), "extra");
  assert_true (extra != extra_in);
  json_object_set_int_member (json_node_get_object (extra), "added", 1);
  g_autofree char *after = json_to_string (config, FALSE);
  assert_string_equal (before, after);
}

static void
test_build_minimal (void **state)
{
  g_autoptr(GError) error = NULL;
  /* Only the required argument; a null block argument stays NULL; `kind` any block. */
  g_autoptr(MactModule) block =
    build (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 1, \"loss\": null}",
           G_TYPE_INVALID, &error);
  if (block == NULL)
    fail_msg ("build failed: %s", error->message);
  gint depth;
  double ratio;
  g_autoptr(MactLoss) loss = NULL;
  g_object_get (block, "depth", &depth, "ratio", &ratio, "loss", &loss, NULL);
  assert_int_equal (depth, 1);
  assert_true (ratio == 1.0);
  assert_null (loss);

  /* a nested config built on its own, as a loss */
  g_autoptr(MactModule) lone = build (state, "{\"type\": \"TestCfgLoss\"}", MACT_TYPE_LOSS,
                                      &error);
  assert_non_null (lone);
  assert_true (mact_loss_get_loss_weight (MACT_LOSS (lone)) == 1.0);
}

static void
test_build_structure_errors (void **state)
{
  const GQuark C = MACT_CONFIG_ERROR;
  assert_build_fails (state, "[1, 2]", C, MACT_CONFIG_ERROR_INVALID,
                      "MactBackbone config: a block config must be a JSON object");
  assert_build_fails (state, "\"TestCfgBackbone\"", C, MACT_CONFIG_ERROR_INVALID, "got a string");
  assert_build_fails (state, "{\"depth\": 3}", C, MACT_CONFIG_ERROR_INVALID, "\"type\"");
  assert_build_fails (state, "{\"type\": 5, \"depth\": 3}", C, MACT_CONFIG_ERROR_INVALID,
                      "got an integer");
  assert_build_fails (state, "{\"type\": null}", C, MACT_CONFIG_ERROR_INVALID, NULL);
  /* the same argument twice, in both spellings */
  assert_build_fails (state,
                      "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"kernel_size\": 1,"
                      " \"kernel-size\": 2}", C, MACT_CONFIG_ERROR_INVALID,
                      "given twice (as 'kernel_size' and 'kernel-size')");
  /* a nested config without a type names where it is */
  assert_build_fails (state,
                      "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"loss\": {\"margin\": 1}}",
                      C, MACT_CONFIG_ERROR_INVALID,
                      "block 'TestCfgBackbone': argument 'loss': a block config needs");
}

static void
test_build_key_errors (void **state)
{
  const GQuark C = MACT_CONFIG_ERROR;
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"foo\": 1}", C,
                      MACT_CONFIG_ERROR_UNKNOWN_KEY,
                      "block 'TestCfgBackbone': unknown argument 'foo'");
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"no such\": 1}", C,
                      MACT_CONFIG_ERROR_UNKNOWN_KEY, "'no such'");
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"\": 1}", C,
                      MACT_CONFIG_ERROR_UNKNOWN_KEY, NULL);
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"state\": 1}", C,
                      MACT_CONFIG_ERROR_UNKNOWN_KEY, "read-only");
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"runtime\": 1}",
                      C, MACT_CONFIG_ERROR_UNKNOWN_KEY, "not a constructor argument");
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\"}", C,
                      MACT_CONFIG_ERROR_MISSING_KEY,
                      "block 'TestCfgBackbone': missing required argument 'depth'");
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": null}", C,
                      MACT_CONFIG_ERROR_MISSING_KEY, "required argument 'depth' is null");
  /* value errors carry the block and argument */
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": \"3\"}", C,
                      MACT_CONFIG_ERROR_WRONG_TYPE,
                      "block 'TestCfgBackbone': argument 'depth' expects an integer, "
                      "got a string");
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 300}", C,
                      MACT_CONFIG_ERROR_INVALID_VALUE, "argument 'depth' must be in");
  assert_build_fails (state,
                      "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"mode\": \"medium\"}",
                      C, MACT_CONFIG_ERROR_INVALID_VALUE, "'fast', 'slow'");
  assert_build_fails (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"loss\": 1}", C,
                      MACT_CONFIG_ERROR_WRONG_TYPE, "argument 'loss' expects a block config");
}

static void
test_build_registry_errors (void **state)
{
  const GQuark R = MACT_REGISTRY_ERROR;
  assert_build_fails (state, "{\"type\": \"NoSuchBlock\"}", R, MACT_REGISTRY_ERROR_NOT_FOUND,
                      NULL);
  assert_build_fails (state, "{\"type\": \"zzz.Thing\"}", R, MACT_REGISTRY_ERROR_UNKNOWN_FAMILY,
                      NULL);
  /* a loss where a backbone is asked for, at the top and nested */
  assert_build_fails (state, "{\"type\": \"TestCfgLoss\"}", R, MACT_REGISTRY_ERROR_WRONG_KIND,
                      "TestCfgLoss");
  assert_build_fails (state,
                      "{\"type\": \"TestCfgBackbone\", \"depth\": 3,"
                      " \"loss\": {\"type\": \"TestCfgBackbone\", \"depth\": 3}}",
                      R, MACT_REGISTRY_ERROR_WRONG_KIND, "argument 'loss'");
  assert_build_fails (state,
                      "{\"type\": \"TestCfgBackbone\", \"depth\": 3,"
                      " \"loss\": {\"type\": \"NoSuchLoss\"}}",
                      R, MACT_REGISTRY_ERROR_NOT_FOUND,
                      "block 'TestCfgBackbone': argument 'loss': ");
}

static void
test_build_nested_errors (void **state)
{
  /* errors inside the nested config keep their code and say where they come from */
  assert_build_fails (state,
                      "{\"type\": \"TestCfgBackbone\", \"depth\": 3,"
                      " \"loss\": {\"type\": \"TestCfgLoss\", \"foo\": 1}}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_UNKNOWN_KEY,
                      "block 'TestCfgBackbone': argument 'loss': block 'TestCfgLoss': "
                      "unknown argument 'foo'");
  assert_build_fails (state,
                      "{\"type\": \"TestCfgBackbone\", \"depth\": 3,"
                      " \"loss\": {\"type\": \"TestCfgLoss\", \"margin\": 2}}",
                      MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE,
                      "block 'TestCfgLoss': argument 'margin' must be in [0, 1], got 2");
}

static guint
count_occurrences (const char *haystack, const char *needle)
{
  guint n = 0;
  for (const char *p = strstr (haystack, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

static void
test_build_block_errors (void **state)
{
  /* the block's own validation; its message gets the block name when it lacks it */
  g_autoptr(GError) error = NULL;
  g_autoptr(MactModule) block =
    build (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 13}", MACT_TYPE_BACKBONE, &error);
  assert_null (block);
  assert_message_has (error, "depth 13 is not supported");
  assert_int_equal (count_occurrences (error->message, "TestCfgBackbone"), 1);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);

  block = build (state, "{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"ratio\": 7}",
                 MACT_TYPE_BACKBONE, &error);
  assert_null (block);
  assert_message_has (error, "TestCfgBackbone: ratio 7 is not allowed");
  assert_int_equal (count_occurrences (error->message, "TestCfgBackbone"), 1);
  mact_test_assert_error (&error, MACT_MODULE_ERROR, MACT_MODULE_ERROR_INVALID_ARGUMENT);
}

static void
test_build_input_unchanged (void **state)
{
  /* Failing builds do not touch the config either (mmaction2 0.x pops `type`). */
  static const char *const configs[] = {
    ("{\"type\": \"TestCfgBackbone\", \"depth\": 3, \"loss\": {\"type\": \"TestCfgLoss\","
     " \"foo\": 1}, \"extra\": [1, 2]}"),
    "{\"type\": \"TestCfgBackbone\", \"depth\": 13, \"kernel_size\": 3}",
    "{\"type\": \"TestCfgBackbone\", \"extra\": {\"a\": null}}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      g_autoptr(JsonNode) config = parse (configs[i]);
      g_autofree char *before = json_to_string (config, FALSE);
      g_autoptr(GError) error = NULL;
      g_autoptr(MactModule) block = mact_registry_build_from_json (*state, config,
                                                                   MACT_TYPE_BACKBONE, &error);
      assert_null (block);
      assert_non_null (error);
      g_autofree char *after = json_to_string (config, FALSE);
      assert_string_equal (before, after);
    }
}

/* Plugin descriptors and type names that are not UTF-8 (found by fuzz-plugin-desc: a
 * plugin registering "Goo\xff\xff" made a load error whose message was not UTF-8, which
 * the language bindings cannot take).  They are refused with UTF-8 messages. */
static gboolean
hostile_names_init (MactPlugin *plugin, GError **error)
{
  g_autoptr(GError) local = NULL;
  assert_false (mact_plugin_add_type (plugin, "Goo\xff\xff", TEST_TYPE_CFG_BACKBONE, &local));
  assert_true (g_utf8_validate (local->message, -1, NULL));
  assert_non_null (strstr (local->message, "not UTF-8"));
  mact_test_assert_error (&local, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_TYPE);
  /* init goes on, as the fuzzer's did */
  return mact_plugin_add_type (plugin, "HostileOk", TEST_TYPE_CFG_BACKBONE, error);
}

static void
test_hostile_plugin_names (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  MactPluginDesc desc = {
    .magic = MACT_PLUGIN_MAGIC, .abi_version = MACT_PLUGIN_ABI_VERSION,
    .core_major = MACT_MAJOR_VERSION, .core_minor = MACT_MINOR_VERSION,
    .name = "hostile", .family = "native", .description = "names",
    .version = "1", .license = "MIT", .origin = "tests", .init = hostile_names_init,
  };
  /* the type refused, recorded with a UTF-8 message, the other one registered */
  assert_false (mact_registry_add_static_plugin (registry, &desc, &error));
  mact_test_assert_error (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_TYPE);
  g_auto(GStrv) failures = mact_registry_dup_load_errors (registry, NULL);
  assert_non_null (failures);
  assert_non_null (failures[0]);
  for (guint i = 0; failures[i] != NULL; i++)
    assert_true (g_utf8_validate (failures[i], -1, NULL));
  assert_true (mact_registry_lookup_type (registry, "HostileOk", &error) ==
               TEST_TYPE_CFG_BACKBONE);
  assert_true (mact_registry_lookup_type (registry, "x.\xe9t\xe9", &error) == G_TYPE_INVALID);
  assert_true (g_utf8_validate (error->message, -1, NULL));
  mact_test_assert_error (&error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_INVALID_NAME);

  /* descriptor strings must be UTF-8: they reach messages and the utf8 getters */
  const char **fields[] = { &desc.name, &desc.family, &desc.description, &desc.version,
                            &desc.license, &desc.origin };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      const char *saved = *fields[i];
      *fields[i] = "caf\xe9";
      g_autoptr(MactRegistry) other = mact_registry_new (FALSE);
      assert_false (mact_registry_add_static_plugin (other, &desc, &error));
      assert_true (g_utf8_validate (error->message, -1, NULL));
      assert_non_null (strstr (error->message, "is not valid UTF-8"));
      mact_test_assert_error (&error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC);
      *fields[i] = saved;
    }
}

static void
test_describe_value (void **state)
{
  const struct { const char *json; const char *kind; } cases[] = {
    { "{}", "an object" }, { "[1]", "an array" }, { "null", "null" }, { "3", "an integer" },
    { "3.5", "a floating-point number" }, { "true", "a boolean" }, { "\"x\"", "a string" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) node = json_from_string (cases[i].json, NULL);
      assert_non_null (node);
      assert_string_equal (mact_config_describe_value (node), cases[i].kind);
    }
  assert_string_equal (mact_config_describe_value (NULL), "nothing");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_load_data),
    cmocka_unit_test (test_load_data_errors),
    cmocka_unit_test (test_load_file),
    cmocka_unit_test (test_load_hostile),
    cmocka_unit_test (test_config_copy),
    cmocka_unit_test (test_convert_scalars),
    cmocka_unit_test (test_convert_scalar_errors),
    cmocka_unit_test (test_convert_enum_flags),
    cmocka_unit_test (test_convert_variants),
    cmocka_unit_test (test_convert_boxed_objects),
    cmocka_unit_test (test_build_full),
    cmocka_unit_test (test_build_minimal),
    cmocka_unit_test (test_build_structure_errors),
    cmocka_unit_test (test_build_key_errors),
    cmocka_unit_test (test_build_registry_errors),
    cmocka_unit_test (test_build_nested_errors),
    cmocka_unit_test (test_build_block_errors),
    cmocka_unit_test (test_build_input_unchanged),
    cmocka_unit_test (test_describe_value),
    cmocka_unit_test (test_hostile_plugin_names),
  };
  return cmocka_run_group_tests_name ("config", tests, setup_registry, teardown_registry);
}
