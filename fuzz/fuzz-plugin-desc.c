/* fuzz-plugin-desc.c: the checks a plugin passes before its types are used.
 *
 * The bytes describe a plugin as a hostile or broken file might: the descriptor's fixed
 * fields, its strings, and the types its init registers (names, and GTypes from a fixed
 * list: none, a plain GObject, a layer that is no kind, an abstract backbone, a concrete
 * backbone).  mact_registry_add_static_plugin() runs the same descriptor checks as the
 * loader does for a file (mact-plugin.c, check_desc) and the same registration checks
 * (mact_plugin_add_type), so this covers the validation without dlopen.  Every input
 * must be accepted or refused with a MACT_PLUGIN_ERROR; what was accepted must then be
 * found by its name.
 *
 * Layout: byte 0 flags (bit 0: magic from the input, 1: ABI version from the input, 2:
 * core version from the input, 3: no init, 4: init fails, 5: init fails without an
 * error, 6: init passes an add_type error on, 7: add the descriptor twice); then, when
 * the flags ask for them, the magic (4 bytes), ABI version (4) and core major and minor
 * (2 + 2); then NUL-separated strings: name, family, description, version, license,
 * origin, and then one per type, whose first byte picks the GType. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A concrete backbone, so that registrations can succeed. */
#define FUZZ_TYPE_BACKBONE (fuzz_backbone_get_type ())
G_DECLARE_FINAL_TYPE (FuzzBackbone, fuzz_backbone, FUZZ, BACKBONE, MactBackbone)
struct _FuzzBackbone { MactBackbone parent_instance; };
G_DEFINE_TYPE (FuzzBackbone, fuzz_backbone, MACT_TYPE_BACKBONE)
static void fuzz_backbone_class_init (FuzzBackboneClass *klass) { }
static void fuzz_backbone_init (FuzzBackbone *self) { }

typedef struct {
  guint8      flags;
  GPtrArray  *type_names;   /* (element-type utf8): each with its selector byte first */
} Input;

static Input current;

static GType
pick_type (guint8 selector)
{
  switch (selector % 5)
    {
    case 0:
      return G_TYPE_INVALID;
    case 1:
      return G_TYPE_OBJECT;
    case 2:
      return MACT_TYPE_LINEAR;
    case 3:
      return MACT_TYPE_BACKBONE;
    default:
      return FUZZ_TYPE_BACKBONE;
    }
}

static gboolean
fuzz_init (MactPlugin *plugin, GError **error)
{
  for (guint i = 0; i < current.type_names->len; i++)
    {
      const char *record = g_ptr_array_index (current.type_names, i);
      g_autoptr(GError) local = NULL;
      if (!mact_plugin_add_type (plugin, record + 1, pick_type ((guint8) record[0]), &local))
        {
          if (local == NULL || local->domain != MACT_PLUGIN_ERROR)
            abort ();
          if (current.flags & 64)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return FALSE;
            }
        }
    }
  if (current.flags & 16)
    {
      if (!(current.flags & 32))
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "init failed");
      return FALSE;
    }
  return TRUE;
}

static gboolean
take (const uint8_t **p, size_t *left, void *out, size_t n)
{
  if (*left < n)
    return FALSE;
  memcpy (out, *p, n);
  *p += n;
  *left -= n;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mact_fuzz_init ();
  const uint8_t *p = data;
  size_t left = size;
  guint8 flags = 0;
  if (!take (&p, &left, &flags, 1))
    return 0;

  MactPluginDesc desc = {
    .magic = MACT_PLUGIN_MAGIC,
    .abi_version = MACT_PLUGIN_ABI_VERSION,
    .core_major = MACT_MAJOR_VERSION,
    .core_minor = MACT_MINOR_VERSION,
    .init = (flags & 8) ? NULL : fuzz_init,
  };
  if ((flags & 1) && !take (&p, &left, &desc.magic, 4))
    return 0;
  if ((flags & 2) && !take (&p, &left, &desc.abi_version, 4))
    return 0;
  if ((flags & 4) && (!take (&p, &left, &desc.core_major, 2) ||
                      !take (&p, &left, &desc.core_minor, 2)))
    return 0;

  /* The strings, each nul-terminated in a copy; a missing one stays NULL. */
  g_autofree char *text = g_malloc (left + 1);
  memcpy (text, p, left);
  text[left] = '\0';
  const char **fields[] = { &desc.name, &desc.family, &desc.description, &desc.version,
                            &desc.license, &desc.origin };
  g_autoptr(GPtrArray) type_names = g_ptr_array_new ();
  char *s = text;
  char *end = text + left;
  for (guint i = 0; s < end; i++)
    {
      if (i < G_N_ELEMENTS (fields))
        *fields[i] = s;
      else if (s[0] != '\0')
        g_ptr_array_add (type_names, s);
      s += strlen (s) + 1;
    }
  current.flags = flags;
  current.type_names = type_names;

  g_autoptr(MactRegistry) registry = mact_registry_new (FALSE);
  g_autoptr(GError) error = NULL;
  gboolean ok = mact_registry_add_static_plugin (registry, &desc, &error);
  if (ok == (error != NULL))
    abort ();
  if (!ok && error->domain != MACT_PLUGIN_ERROR)
    abort ();
  if (flags & 128)
    {
      /* The same descriptor again does nothing. */
      g_clear_error (&error);
      mact_registry_add_static_plugin (registry, &desc, &error);
      if (error != NULL && error->domain != MACT_PLUGIN_ERROR)
        abort ();
    }

  /* Whatever was registered is found under its name, and creates a block. */
  g_auto(GStrv) names = mact_registry_list_types (registry, NULL, NULL);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      g_clear_error (&error);
      GType type = mact_registry_lookup_type (registry, names[i], &error);
      if (type != FUZZ_TYPE_BACKBONE)
        abort ();
      g_autoptr(MactModule) block = mact_registry_create_block (registry, names[i],
                                                                MACT_TYPE_BACKBONE, 0, NULL,
                                                                NULL, &error);
      if (block == NULL)
        abort ();
    }
  g_auto(GStrv) errors = mact_registry_dup_load_errors (registry, NULL);
  for (guint i = 0; errors != NULL && errors[i] != NULL; i++)
    if (!g_utf8_validate (errors[i], -1, NULL))
      abort ();
  current.type_names = NULL;
  return 0;
}
