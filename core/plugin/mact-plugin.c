/* mact-plugin.c: one plugin, a descriptor and the block types its init registers.
 *
 * A plugin comes either from a file (mact_plugin_open(): dlopen, entry symbol, descriptor
 * checks) or from a descriptor linked into the program (mact_plugin_new_static()).  The
 * registry then runs its init; mact_plugin_add_type() only queues types, which the
 * registry commits under its own lock once init has succeeded.
 *
 * A plugin's module is never closed once its init may have run: its init registers
 * GTypes, and GLib cannot unregister a static type, so unmapping the code would leave
 * dangling class pointers behind (GStreamer and libvips keep their modules resident for the
 * same reason).  Files rejected before init are closed again.
 *
 * What loading in-process survives, and what it cannot: everything that can be checked
 * from the outside is a GError naming the file (dlopen failures such as a missing symbol
 * or a file that is not ELF, a missing entry point, a bad descriptor, an ABI or version
 * mismatch, a failed init, types that are not concrete blocks or whose classes leave
 * NULL a vfunc GObject calls unchecked).  Plugin code itself, once running, is trusted:
 * an init or class_init that crashes, hangs or calls exit() does so in the loading
 * process, and no signal handler here tries to recover from it (a process that took a
 * SIGSEGV in foreign code cannot be trusted afterwards).  `mact plugins --check` vets
 * plugin files in child processes for that reason, as GStreamer's gst-plugin-scanner does.
 */
#include "mact-plugin-private.h"

#include <dlfcn.h>
#include <string.h>

G_DEFINE_QUARK (mact-plugin-error-quark, mact_plugin_error)

struct _MactPlugin
{
  GObject               parent_instance;

  const MactPluginDesc *desc;       /* static data of the (resident) module or program */
  gchar                *filename;   /* NULL for static plugins */
  gchar                *label;      /* filename, or "static plugin <family>/<name>" */
  gpointer              module;     /* dlopen handle, never closed */

  gboolean              in_init;
  GPtrArray            *pending;    /* MactPendingType, only while init runs */
  GPtrArray            *rejected;   /* GError, add_type failures */

  GMutex                lock;       /* protects types: committed by the registry, read by anyone */
  GPtrArray            *types;      /* gchar*, committed names */
};

/**
 * MactPlugin:
 *
 * A loaded plugin: its descriptor, its file and the types it registered.  Plugins are
 * created by a #MactRegistry; a plugin's code sees one only in its #MactPluginInitFunc,
 * to call mact_plugin_add_type().
 *
 * Since: 0.1
 */
G_DEFINE_FINAL_TYPE (MactPlugin, mact_plugin, G_TYPE_OBJECT)

void
mact_pending_type_free (MactPendingType *pending)
{
  if (pending == NULL)
    return;
  g_free (pending->type_name);
  g_free (pending);
}

static void
mact_plugin_finalize (GObject *object)
{
  MactPlugin *self = MACT_PLUGIN (object);

  /* self->module is deliberately not closed: see the comment at the top of the file. */
  g_free (self->filename);
  g_free (self->label);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->rejected, g_ptr_array_unref);
  g_ptr_array_unref (self->types);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (mact_plugin_parent_class)->finalize (object);
}

static void
mact_plugin_class_init (MactPluginClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mact_plugin_finalize;
}

static void
mact_plugin_init (MactPlugin *self)
{
  g_mutex_init (&self->lock);
  self->types = g_ptr_array_new_with_free_func (g_free);
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_pending_type_free);
  self->rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
}

/* ------------------------------------------------------------------ descriptor checks */

static gboolean
is_plugin_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '_'))
      return FALSE;
  return TRUE;
}

/* Checks everything but family/name against the file.  Reads the four fixed fields first
 * and trusts nothing else until they match, since a wrong symbol or an older layout may
 * have any size. */
static gboolean
check_desc (const MactPluginDesc *desc, const char *label, GError **error)
{
  if (desc == NULL)
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_NOT_A_PLUGIN,
                   "%s: %s() returned no descriptor", label, MACT_PLUGIN_ENTRY_SYMBOL);
      return FALSE;
    }
  if (desc->magic != MACT_PLUGIN_MAGIC)
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_ABI_MISMATCH,
                   "%s: bad descriptor magic 0x%08x, expected 0x%08x (not an mact plugin "
                   "descriptor)", label, desc->magic, MACT_PLUGIN_MAGIC);
      return FALSE;
    }
  if (desc->abi_version != MACT_PLUGIN_ABI_VERSION)
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_ABI_MISMATCH,
                   "%s: plugin ABI version %u, this libmact supports ABI version %u",
                   label, desc->abi_version, MACT_PLUGIN_ABI_VERSION);
      return FALSE;
    }
  /* Same major, and a minor no newer than ours: a plugin may use API up to the core it
   * was built against. */
  if (desc->core_major != MACT_MAJOR_VERSION || desc->core_minor > MACT_MINOR_VERSION)
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_ABI_MISMATCH,
                   "%s: plugin built for libmact %u.%u, this is libmact %d.%d (needs the "
                   "same major version and a minor version no newer)", label,
                   desc->core_major, desc->core_minor, MACT_MAJOR_VERSION,
                   MACT_MINOR_VERSION);
      return FALSE;
    }

  const struct { const char *field; const char *value; } strings[] = {
    { "name", desc->name },
    { "family", desc->family },
    { "description", desc->description },
    { "version", desc->version },
    { "license", desc->license },
    { "origin", desc->origin },
  };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      if (strings[i].value == NULL || strings[i].value[0] == '\0')
        {
          g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                       "%s: descriptor field \"%s\" is missing or empty", label,
                       strings[i].field);
          return FALSE;
        }
      /* They reach messages and the utf8 getters (and so the language bindings). */
      if (!g_utf8_validate (strings[i].value, -1, NULL))
        {
          g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                       "%s: descriptor field \"%s\" is not valid UTF-8", label,
                       strings[i].field);
          return FALSE;
        }
    }
  if (desc->init == NULL)
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                   "%s: descriptor has no init function", label);
      return FALSE;
    }
  if (!is_plugin_name (desc->name))
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                   "%s: plugin name \"%s\" is not of the form [a-z0-9_]+", label,
                   desc->name);
      return FALSE;
    }
  gint family = mact_family_find (desc->family);
  if (family < 0 || !g_str_equal (mact_family_get (family)->name, desc->family))
    {
      g_autofree gchar *families = mact_family_describe_all ();
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                   "%s: plugin family \"%s\" is not one of the families: %s", label,
                   desc->family, families);
      return FALSE;
    }
  return TRUE;
}

static MactPlugin *
plugin_new (const MactPluginDesc *desc, const char *filename, gpointer module)
{
  MactPlugin *self = g_object_new (MACT_TYPE_PLUGIN, NULL);
  self->desc = desc;
  self->module = module;
  self->filename = g_strdup (filename);
  self->label = filename != NULL
                  ? g_strdup (filename)
                  : g_strdup_printf ("static plugin %s/%s", desc->family, desc->name);
  return self;
}

MactPlugin *
mact_plugin_open (const char *path, const char *family, const char *expected_name,
                  GError **error)
{
  g_return_val_if_fail (path != NULL && family != NULL && expected_name != NULL, NULL);

  /* RTLD_NOW: an undefined symbol fails here, with dlerror() naming it, instead of in the
   * middle of a forward pass.  RTLD_LOCAL: plugins cannot see each other's symbols, so
   * two plugins may use the same internal names. */
  dlerror ();
  gpointer module = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (module == NULL)
    {
      const char *why = dlerror ();
      if (why == NULL)
        why = "unknown error";
      /* glibc's message usually starts with the path again; say it once. */
      if (g_str_has_prefix (why, path) && g_str_has_prefix (why + strlen (path), ": "))
        why += strlen (path) + 2;
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_OPEN,
                   "%s: cannot open the plugin: %s", path, why);
      return NULL;
    }

  dlerror ();
  MactPluginGetDescFunc get_desc =
    (MactPluginGetDescFunc) dlsym (module, MACT_PLUGIN_ENTRY_SYMBOL);
  if (get_desc == NULL)
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_NOT_A_PLUGIN,
                   "%s: the file exports no %s() (is it an mact plugin built with "
                   "MACT_PLUGIN_DEFINE?)", path, MACT_PLUGIN_ENTRY_SYMBOL);
      dlclose (module);
      return NULL;
    }

  const MactPluginDesc *desc = get_desc ();
  if (!check_desc (desc, path, error))
    {
      dlclose (module);
      return NULL;
    }
  if (!g_str_equal (desc->family, family))
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                   "%s: plugin declares family \"%s\" but its file is named and placed for "
                   "family \"%s\"", path, desc->family, family);
      dlclose (module);
      return NULL;
    }
  if (!g_str_equal (desc->name, expected_name))
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                   "%s: plugin declares name \"%s\", expected \"%s\" from the file name "
                   "(the name argument of MACT_PLUGIN_DEFINE must match "
                   "libmact-<family>-<name>.so, '-' written as '_')", path, desc->name,
                   expected_name);
      dlclose (module);
      return NULL;
    }

  return plugin_new (desc, path, module);
}

MactPlugin *
mact_plugin_new_static (const MactPluginDesc *desc, GError **error)
{
  g_return_val_if_fail (desc != NULL, NULL);
  if (!check_desc (desc, "static plugin", error))
    return NULL;
  return plugin_new (desc, NULL, NULL);
}

/* ------------------------------------------------------------------ init and registration */

gboolean
mact_plugin_run_init (MactPlugin *self, GError **error)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (self), FALSE);
  g_return_val_if_fail (!self->in_init, FALSE);

  g_autoptr(GError) local = NULL;
  self->in_init = TRUE;
  gboolean ok = self->desc->init (self, &local);
  self->in_init = FALSE;
  if (ok)
    {
      /* A plugin that returned TRUE but left an error behind is sloppy, not broken. */
      if (local != NULL)
        g_debug ("%s: init succeeded but set an error: %s", self->label, local->message);
      return TRUE;
    }

  /* Nothing of a failed init is registered, so earlier refusals are moot too. */
  g_ptr_array_set_size (self->pending, 0);
  g_ptr_array_set_size (self->rejected, 0);
  if (local != NULL && local->domain == MACT_PLUGIN_ERROR)
    {
      /* mact_plugin_add_type() refused a type and init passed that on: keep its code
       * (INVALID_TYPE, WRONG_FAMILY), which says more than INIT_FAILED.  Its message
       * already names the plugin. */
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INIT_FAILED,
               "%s: plugin init failed: %s", self->label,
               local != NULL ? local->message : "init returned FALSE without an error");
  return FALSE;
}

GPtrArray *
mact_plugin_steal_pending (MactPlugin *self)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (self), NULL);
  GPtrArray *pending = self->pending;
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_pending_type_free);
  return pending;
}

GPtrArray *
mact_plugin_steal_rejected (MactPlugin *self)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (self), NULL);
  GPtrArray *rejected = self->rejected;
  self->rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  return rejected;
}

void
mact_plugin_note_committed (MactPlugin *self, const char *type_name)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->types, g_strdup (type_name));
  g_mutex_unlock (&self->lock);
}

const char *
mact_plugin_get_label (MactPlugin *self)
{
  return self->label;
}

const MactPluginDesc *
mact_plugin_get_desc_internal (MactPlugin *self)
{
  return self->desc;
}

const char *
mact_kind_name (GType type)
{
  const struct { GType type; const char *name; } kinds[] = {
    { MACT_TYPE_BACKBONE, "backbone" },
    { MACT_TYPE_NECK, "neck" },
    { MACT_TYPE_HEAD, "head" },
    { MACT_TYPE_LOSS, "loss" },
    { MACT_TYPE_BLENDING, "blending" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (g_type_is_a (type, kinds[i].type))
      return kinds[i].name;
  return NULL;
}

/* The first function GObject or GInitable would call through a NULL pointer for an
 * instance of @type (a concrete block type), or NULL if there is none.  GObject calls
 * these without checking them; a plugin whose class_init clears one would crash the
 * program at the first block it creates or frees, far from the plugin.  Creating the class
 * here also runs class_init now, while the plugin is being loaded (in `mact plugins
 * --check`'s child process when vetting it), rather than at the first use of the block. */
static const char *
class_missing_vfunc (GType type)
{
  GObjectClass *klass = g_type_class_ref (type);
  const struct { const char *name; gboolean missing; } vfuncs[] = {
    { "GObjectClass.constructor", klass->constructor == NULL },
    { "GObjectClass.constructed", klass->constructed == NULL },
    { "GObjectClass.dispose", klass->dispose == NULL },
    { "GObjectClass.finalize", klass->finalize == NULL },
    { "GObjectClass.dispatch_properties_changed", klass->dispatch_properties_changed == NULL },
  };
  const char *missing = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (vfuncs) && missing == NULL; i++)
    if (vfuncs[i].missing)
      missing = vfuncs[i].name;
  if (missing == NULL)
    {
      /* Every MactModule is a GInitable; a subclass may implement it again. */
      GInitableIface *initable = g_type_interface_peek (klass, G_TYPE_INITABLE);
      if (initable == NULL || initable->init == NULL)
        missing = "GInitableIface.init";
    }
  g_type_class_unref (klass);
  return missing;
}

static gboolean
reject (MactPlugin *self, GError **error, gint code, const char *format, ...) G_GNUC_PRINTF (4, 5);

/* Sets @error and keeps a copy, so the registry can record the refusal even when init
 * ignores it and goes on. */
static gboolean
reject (MactPlugin *self, GError **error, gint code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *what = g_strdup_vprintf (format, args);
  va_end (args);
  GError *err = g_error_new (MACT_PLUGIN_ERROR, code, "%s: %s", self->label, what);
  g_ptr_array_add (self->rejected, g_error_copy (err));
  g_propagate_error (error, err);
  return FALSE;
}

/**
 * mact_plugin_add_type:
 * @plugin: the plugin being initialised
 * @type_name: the registry name, in the plugin's family: `"ResNet"` for native,
 *   `"cls.ResNet"` (or `"mmcls.ResNet"`) for cls, `"tv.resnet50"` for tv
 * @type: a concrete (non-abstract) subtype of #MactBackbone, #MactNeck, #MactHead,
 *   #MactLoss or #MactBlending
 * @error: return location for a #GError
 *
 * Registers @type under @type_name.  Call it from the plugin's #MactPluginInitFunc only.
 * The type becomes visible once init returns %TRUE; if init fails, none of the plugin's
 * types are registered.  A name another plugin already provides is not an error here: it
 * is detected when the types are committed, recorded as
 * %MACT_PLUGIN_ERROR_DUPLICATE_TYPE, and the plugin's other types register all the same.
 *
 * A malformed name or a type of no kind is %MACT_PLUGIN_ERROR_INVALID_TYPE; a name
 * outside the plugin's family is %MACT_PLUGIN_ERROR_WRONG_FAMILY.  Such a type is not
 * registered, and the failure is recorded even if init goes on.
 *
 * The type's class is created here (its class_init runs now, not at the first use of the
 * block) and checked: a class that leaves NULL a function GObject or #GInitable calls
 * without checking (the constructor, constructed, dispose, finalize and
 * dispatch_properties_changed of #GObjectClass, the init of #GInitableIface) would crash
 * the program the first time a block of that type is created or freed, so it is
 * %MACT_PLUGIN_ERROR_INVALID_TYPE as well, naming the plugin, the type and the function.
 * The vfuncs of #MactModuleClass and of the kinds may be NULL: mact checks them before
 * each call, and a block without, say, a forward fails its forward calls with
 * %MACT_MODULE_ERROR_NOT_IMPLEMENTED.  %G_TYPE_INVALID (what a `_get_type()` function
 * returns when GType refused the registration, for example for a class structure smaller
 * than its parent's) is %MACT_PLUGIN_ERROR_INVALID_TYPE.
 *
 * Returns: %TRUE if the type was queued
 *
 * Since: 0.1
 */
gboolean
mact_plugin_add_type (MactPlugin *plugin, const char *type_name, GType type, GError **error)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), FALSE);
  g_return_val_if_fail (type_name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!plugin->in_init)
    return reject (plugin, error, MACT_PLUGIN_ERROR_INVALID_TYPE,
                   "type \"%s\" added outside the plugin's init function", type_name);

  g_autofree gchar *family = NULL;
  g_autofree gchar *name = NULL;
  g_autoptr(GError) parse_error = NULL;
  if (!mact_registry_parse_type_name (type_name, &family, &name, &parse_error))
    {
      if (g_error_matches (parse_error, MACT_REGISTRY_ERROR,
                           MACT_REGISTRY_ERROR_UNKNOWN_FAMILY))
        return reject (plugin, error, MACT_PLUGIN_ERROR_WRONG_FAMILY,
                       "type name \"%s\" is not in the plugin's family \"%s\"", type_name,
                       plugin->desc->family);
      return reject (plugin, error, MACT_PLUGIN_ERROR_INVALID_TYPE, "%s",
                     parse_error->message);
    }
  if (!g_str_equal (family, plugin->desc->family))
    return reject (plugin, error, MACT_PLUGIN_ERROR_WRONG_FAMILY,
                   "type name \"%s\" is in family \"%s\", not in the plugin's family \"%s\"",
                   type_name, family, plugin->desc->family);

  if (type == G_TYPE_INVALID)
    return reject (plugin, error, MACT_PLUGIN_ERROR_INVALID_TYPE,
                   "type \"%s\" has no GType (G_TYPE_INVALID: GType refused to register "
                   "its class; see the warning GLib logged about it)", type_name);
  const char *kind = mact_kind_name (type);
  if (kind == NULL)
    return reject (plugin, error, MACT_PLUGIN_ERROR_INVALID_TYPE,
                   "type \"%s\" (%s) is not a backbone, neck, head, loss or blending",
                   type_name, g_type_name (type));
  if (G_TYPE_IS_ABSTRACT (type))
    return reject (plugin, error, MACT_PLUGIN_ERROR_INVALID_TYPE,
                   "type \"%s\" (%s) is an abstract %s; only concrete types can be created",
                   type_name, g_type_name (type), kind);
  const char *missing = class_missing_vfunc (type);
  if (missing != NULL)
    return reject (plugin, error, MACT_PLUGIN_ERROR_INVALID_TYPE,
                   "type \"%s\" (%s): its class leaves %s NULL, which would crash the "
                   "program when a block of this type is created or freed", type_name,
                   g_type_name (type), missing);

  const MactFamilyInfo *info = mact_family_get (mact_family_find (family));
  MactPendingType *pending = g_new0 (MactPendingType, 1);
  pending->type_name = info->prefix != NULL ? g_strconcat (info->prefix, ".", name, NULL)
                                            : g_strdup (name);
  pending->type = type;
  g_ptr_array_add (plugin->pending, pending);
  return TRUE;
}

/**
 * mact_plugin_get_name:
 * @plugin: a plugin
 *
 * Returns: the plugin's name, as in its file name (`libmact-<family>-<name>.so`)
 *
 * Since: 0.1
 */
const char *
mact_plugin_get_name (MactPlugin *plugin)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), NULL);
  return plugin->desc->name;
}

/**
 * mact_plugin_get_family:
 * @plugin: a plugin
 *
 * Returns: the plugin's family: "native", "cls" or "tv"
 *
 * Since: 0.1
 */
const char *
mact_plugin_get_family (MactPlugin *plugin)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), NULL);
  return plugin->desc->family;
}

/**
 * mact_plugin_get_filename:
 * @plugin: a plugin
 *
 * Returns: (type filename) (nullable): the file the plugin was loaded from, or %NULL for a
 *   plugin added with mact_registry_add_static_plugin()
 *
 * Since: 0.1
 */
const char *
mact_plugin_get_filename (MactPlugin *plugin)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), NULL);
  return plugin->filename;
}

/**
 * mact_plugin_get_description:
 * @plugin: a plugin
 *
 * Returns: the one-line description from the plugin's descriptor
 *
 * Since: 0.1
 */
const char *
mact_plugin_get_description (MactPlugin *plugin)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), NULL);
  return plugin->desc->description;
}

/**
 * mact_plugin_get_version:
 * @plugin: a plugin
 *
 * Returns: the plugin's own version
 *
 * Since: 0.1
 */
const char *
mact_plugin_get_version (MactPlugin *plugin)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), NULL);
  return plugin->desc->version;
}

/**
 * mact_plugin_get_license:
 * @plugin: a plugin
 *
 * Returns: the plugin's licence, an SPDX expression
 *
 * Since: 0.1
 */
const char *
mact_plugin_get_license (MactPlugin *plugin)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), NULL);
  return plugin->desc->license;
}

/**
 * mact_plugin_dup_type_names:
 * @plugin: a plugin
 *
 * Lists the type names the registry accepted from this plugin, in registration order.
 * Names refused as duplicates or invalid are not included.
 *
 * Returns: (transfer full) (array zero-terminated=1): the type names
 *
 * Since: 0.1
 */
gchar **
mact_plugin_dup_type_names (MactPlugin *plugin)
{
  g_return_val_if_fail (MACT_IS_PLUGIN (plugin), NULL);
  g_mutex_lock (&plugin->lock);
  gchar **names = g_new0 (gchar *, plugin->types->len + 1);
  for (guint i = 0; i < plugin->types->len; i++)
    names[i] = g_strdup (g_ptr_array_index (plugin->types, i));
  g_mutex_unlock (&plugin->lock);
  return names;
}
