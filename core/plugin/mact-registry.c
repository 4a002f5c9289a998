/* mact-registry.c: from type names to block types, loading plugin families lazily.
 *
 * A type name is `Name` (the native family, mmaction2's own blocks), `cls.Name` (alias
 * `mmcls.Name`) or `tv.Name` (alias `torchvision.Name`).  Its family says which
 * subdirectory of each search root holds the plugin files that can provide it, so a
 * lookup opens only the plugins of one family, and only the first time that family is
 * asked for.  Plugin files are `<root>/<family>/libmact-<family>-<name>.so`, also one
 * directory deeper (`<root>/<family>/<subdir>/...`, which is how a build tree is laid out)
 * but no deeper.
 *
 * Locks: `load_lock` (recursive) serialises scanning, dlopen and plugin init; `lock`
 * protects the tables.  The order is load_lock, then lock, and plugin code never runs
 * while `lock` is held, so a lookup that hits never waits for a scan.  A family's state is
 * checked again after taking load_lock, so threads asking for the same family at once
 * scan it once.  A lookup made by a plugin's init for the family being scanned (same
 * thread, load_lock is recursive) sees the SCANNING state and fails instead of recursing.
 *
 * Where code comes from: only the search path's roots, which are absolute (a relative
 * directory is resolved once, when it is given), and only files found in them, opened by
 * their full path, so neither the current directory nor the dynamic linker's own search
 * (LD_LIBRARY_PATH, the system library directories) ever decides what is loaded.  In a
 * privileged process (setuid, setgid, file capabilities: the kernel's AT_SECURE) the
 * environment decides nothing either: only the installed plugin directory is searched.
 */
#define _GNU_SOURCE   /* secure_getenv */
#include "mact-plugin-private.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#ifndef MACT_PLUGINSDIR
#error "MACT_PLUGINSDIR (the installed plugin root) must be defined by the build"
#endif

#define MAX_NAME_BYTES 64
#define PLUGIN_SUFFIX  ".so"

G_DEFINE_QUARK (mact-registry-error-quark, mact_registry_error)

/* ------------------------------------------------------------------ the family table */

enum { FAMILY_NATIVE, FAMILY_CLS, FAMILY_TV, N_FAMILIES };

static const MactFamilyInfo families[N_FAMILIES] = {
  [FAMILY_NATIVE] = { "native", NULL, NULL, "native" },
  [FAMILY_CLS] = { "cls", "cls", "mmcls", "cls" },
  [FAMILY_TV] = { "tv", "tv", "torchvision", "tv" },
};

guint
mact_family_count (void)
{
  return N_FAMILIES;
}

const MactFamilyInfo *
mact_family_get (guint index)
{
  g_return_val_if_fail (index < N_FAMILIES, NULL);
  return &families[index];
}

gint
mact_family_find (const char *name)
{
  if (name == NULL)
    return -1;
  for (guint i = 0; i < N_FAMILIES; i++)
    if (g_str_equal (name, families[i].name) ||
        (families[i].alias != NULL && g_str_equal (name, families[i].alias)))
      return (gint) i;
  return -1;
}

static gint
family_find_by_prefix (const char *prefix)
{
  for (guint i = 0; i < N_FAMILIES; i++)
    if ((families[i].prefix != NULL && g_str_equal (prefix, families[i].prefix)) ||
        (families[i].alias != NULL && g_str_equal (prefix, families[i].alias)))
      return (gint) i;
  return -1;
}

gchar *
mact_family_describe_all (void)
{
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < N_FAMILIES; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      if (families[i].prefix == NULL)
        g_string_append_printf (out, "%s (no prefix)", families[i].name);
      else if (families[i].alias != NULL)
        g_string_append_printf (out, "%s (%s., %s.)", families[i].name, families[i].prefix,
                                families[i].alias);
      else
        g_string_append_printf (out, "%s (%s.)", families[i].name, families[i].prefix);
    }
  return g_string_free (out, FALSE);
}

static gchar *
canonical_name (guint family, const char *name)
{
  return families[family].prefix != NULL
           ? g_strconcat (families[family].prefix, ".", name, NULL)
           : g_strdup (name);
}

/* ------------------------------------------------------------------ the registry */

typedef enum {
  FAMILY_UNSCANNED,
  FAMILY_SCANNING,
  FAMILY_SCANNED,
} FamilyState;

typedef struct {
  GType       type;
  guint       family;
  MactPlugin *plugin;   /* owned */
} Entry;

typedef struct {
  guint   family;
  gchar  *path;         /* NULL for static plugins */
  GError *error;        /* message starts with the file (or static plugin) */
} LoadFailure;

struct _MactRegistry
{
  GObject      parent_instance;

  gboolean     use_environment;
  GRecMutex    load_lock;
  GMutex       lock;

  /* everything below is protected by lock */
  GPtrArray   *api_roots;             /* gchar*, newest first */
  GPtrArray   *env_roots;             /* gchar*, fixed at construction */
  GHashTable  *types;                 /* canonical name -> Entry */
  GPtrArray   *plugins;               /* MactPlugin, in load order */
  GHashTable  *seen;                  /* basename -> path of the plugin files considered */
  GPtrArray   *failures;              /* LoadFailure */
  FamilyState  state[N_FAMILIES];
  gboolean     loaded[N_FAMILIES];    /* a scan has completed */
  gboolean     stale[N_FAMILIES];     /* a root was added since the last scan */
};

/**
 * MactRegistry:
 *
 * Maps type names ("TSNHead", "cls.ResNet", "tv.resnet50") to block types, loading the
 * plugin files of a family the first time one of its names is looked up.  Use the
 * process-wide mact_registry_get_default(), or mact_registry_new() for a registry of
 * your own.  All methods are thread-safe.
 *
 * Plugins load in-process, with dlopen().  What the loader survives: every problem it
 * can see from the outside is a #GError in the %MACT_PLUGIN_ERROR domain naming the file,
 * the plugin is skipped, and the rest of the family loads: a file dlopen() refuses
 * (not ELF, wrong architecture, a missing library or symbol), a missing entry point, a
 * bad descriptor, an ABI or version mismatch, a failed init, a type that is not a
 * concrete block, is outside the plugin's family or is already provided, a class that
 * leaves NULL a function GObject calls without checking.  What it cannot survive: the
 * plugin's own code misbehaving, since it runs in this process.  An init or class_init
 * that crashes takes the process down, one that hangs hangs the lookup that loads it
 * (and every other lookup of that registry waiting for the load), one that calls
 * exit() ends the program.  No signal handler is installed to catch this: after a
 * SIGSEGV in foreign code nothing in the process can be trusted.  To vet plugins before
 * a program loads them, `mact plugins --check` loads each file in a child process with a
 * timeout (mact_registry_list_plugin_files(), mact_registry_load_plugin_file()) and
 * reports the signal or the timeout.
 *
 * Plugins are only loaded from the search path (see mact_registry_get_default()) or
 * from a file named to mact_registry_load_plugin_file(), always by absolute path: never
 * from the current directory unless the program or the environment names it, never
 * through the dynamic linker's library search path.
 *
 * Since: 0.1
 */
G_DEFINE_FINAL_TYPE (MactRegistry, mact_registry, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_USE_ENVIRONMENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GQuark
type_name_quark (void)
{
  return g_quark_from_static_string ("mact-registry-type-name");
}

static void
entry_free (Entry *entry)
{
  g_object_unref (entry->plugin);
  g_free (entry);
}

static void
load_failure_free (LoadFailure *failure)
{
  g_free (failure->path);
  g_error_free (failure->error);
  g_free (failure);
}

/* @path made absolute against the current directory, now: a search root must not change
 * meaning when the program changes directory later. */
static gchar *
absolute_root (const char *path)
{
  return g_path_is_absolute (path) ? g_strdup (path) : g_canonicalize_filename (path, NULL);
}

/* Adds the directories of a `:`-separated list.  An empty entry is skipped: unlike in
 * PATH, it does not mean the current directory. */
static void
add_env_list (GPtrArray *roots, const char *value)
{
  g_auto(GStrv) parts = g_strsplit (value, G_SEARCHPATH_SEPARATOR_S, -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_ptr_array_add (roots, absolute_root (parts[i]));
}

/* Whether the program runs with privileges the user who started it may not have: setuid,
 * setgid or file capabilities.  The kernel then sets AT_SECURE, which is also what makes
 * secure_getenv() return NULL; GLib's own setuid check reads the same flag. */
static gboolean
process_is_privileged (void)
{
  return getauxval (AT_SECURE) != 0;
}

static void
mact_registry_constructed (GObject *object)
{
  MactRegistry *self = MACT_REGISTRY (object);

  G_OBJECT_CLASS (mact_registry_parent_class)->constructed (object);

  if (!self->use_environment)
    return;
  /* A privileged program must not load code an unprivileged user chose: the variables
   * are ignored (GIO's rule for GIO_EXTRA_MODULES), and so is the user's data directory,
   * which XDG_DATA_HOME and HOME decide.  Only the installed directory is left. */
  if (process_is_privileged ())
    {
      g_ptr_array_add (self->env_roots, g_strdup (MACT_PLUGINSDIR));
      return;
    }
  /* secure_getenv as well, should the two checks ever disagree.  The system path, when
   * set, replaces the defaults; set to "" it means no system directories. */
  const char *path = secure_getenv ("MACT_PLUGIN_PATH");
  if (path != NULL)
    add_env_list (self->env_roots, path);
  const char *system_path = secure_getenv ("MACT_PLUGIN_SYSTEM_PATH");
  if (system_path != NULL)
    add_env_list (self->env_roots, system_path);
  else
    {
      g_ptr_array_add (self->env_roots,
                       g_build_filename (g_get_user_data_dir (), "mact-1.0", "plugins", NULL));
      g_ptr_array_add (self->env_roots, g_strdup (MACT_PLUGINSDIR));
    }
}

static void
mact_registry_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MactRegistry *self = MACT_REGISTRY (object);
  switch (prop_id)
    {
    case PROP_USE_ENVIRONMENT:
      g_value_set_boolean (value, self->use_environment);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_registry_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  MactRegistry *self = MACT_REGISTRY (object);
  switch (prop_id)
    {
    case PROP_USE_ENVIRONMENT:
      self->use_environment = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_registry_finalize (GObject *object)
{
  MactRegistry *self = MACT_REGISTRY (object);

  g_ptr_array_unref (self->api_roots);
  g_ptr_array_unref (self->env_roots);
  g_hash_table_unref (self->types);
  g_ptr_array_unref (self->plugins);
  g_hash_table_unref (self->seen);
  g_ptr_array_unref (self->failures);
  g_mutex_clear (&self->lock);
  g_rec_mutex_clear (&self->load_lock);

  G_OBJECT_CLASS (mact_registry_parent_class)->finalize (object);
}

static void
mact_registry_class_init (MactRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = mact_registry_constructed;
  object_class->get_property = mact_registry_get_property;
  object_class->set_property = mact_registry_set_property;
  object_class->finalize = mact_registry_finalize;

  /**
   * MactRegistry:use-environment:
   *
   * Whether the search path includes `MACT_PLUGIN_PATH`, then `MACT_PLUGIN_SYSTEM_PATH`
   * or the default directories, read when the registry is created.  Without it only
   * the directories given to mact_registry_prepend_search_path() are searched.
   *
   * Empty entries of the variables are skipped (they do not mean the current directory)
   * and relative ones are made absolute against the current directory of that moment.
   * In a privileged program (setuid, setgid or file capabilities: the kernel's
   * `AT_SECURE`) both variables and the user's data directory are ignored, so that only
   * the installed plugin directory is searched.
   *
   * Since: 0.1
   */
  properties[PROP_USE_ENVIRONMENT] =
    g_param_spec_boolean ("use-environment", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_registry_init (MactRegistry *self)
{
  g_rec_mutex_init (&self->load_lock);
  g_mutex_init (&self->lock);
  self->api_roots = g_ptr_array_new_with_free_func (g_free);
  self->env_roots = g_ptr_array_new_with_free_func (g_free);
  self->types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) entry_free);
  self->plugins = g_ptr_array_new_with_free_func (g_object_unref);
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->failures = g_ptr_array_new_with_free_func ((GDestroyNotify) load_failure_free);
}

/**
 * mact_registry_new:
 * @use_environment: whether to search the directories of `MACT_PLUGIN_PATH` and the
 *   system directories (see #MactRegistry:use-environment)
 *
 * Creates a registry of its own, with no types yet.  Nothing is read from disk until a
 * type is looked up.  Tests use `mact_registry_new (FALSE)` with
 * mact_registry_prepend_search_path() or mact_registry_add_static_plugin(), so that
 * nothing installed gets in.
 *
 * Returns: (transfer full): a new registry
 *
 * Since: 0.1
 */
MactRegistry *
mact_registry_new (gboolean use_environment)
{
  return g_object_new (MACT_TYPE_REGISTRY, "use-environment", use_environment, NULL);
}

/**
 * mact_registry_get_default:
 *
 * The registry of the process, created on first use with the environment's search path:
 * directories added with mact_registry_prepend_search_path(), then `MACT_PLUGIN_PATH`
 * (a `:`-separated list), then `MACT_PLUGIN_SYSTEM_PATH` if it is set (empty means none),
 * else `$XDG_DATA_HOME/mact-1.0/plugins` and the installed plugin directory (pkg-config
 * variable `pluginsdir`).  The variables are read once, when the registry is created.
 * In setuid, setgid and other privileged programs the variables and the user's directory
 * are ignored and only the installed directory is searched (see
 * #MactRegistry:use-environment).  The current directory is never searched unless a
 * variable names it.  Safe to call from any thread.
 *
 * Returns: (transfer none): the default registry
 *
 * Since: 0.1
 */
MactRegistry *
mact_registry_get_default (void)
{
  static MactRegistry *default_registry;
  if (g_once_init_enter (&default_registry))
    g_once_init_leave (&default_registry, mact_registry_new (TRUE));
  return default_registry;
}

/**
 * mact_registry_prepend_search_path:
 * @self: a registry
 * @path: (type filename): a plugin root, holding `native/`, `cls/` and `tv/` subdirectories
 *
 * Puts @path first in the search path, ahead of earlier calls and of the environment.
 * A relative @path is made absolute against the current directory now, so the root
 * stays the same when the program changes directory before the next scan.
 * Plugin files are unique by file name: the first root holding a given
 * `libmact-<family>-<name>.so` provides it.  A family that was already loaded is
 * scanned again, for new files only, on its next failed lookup; plugins already loaded
 * stay (they cannot be unloaded), even when @path has a file of the same name.
 *
 * Since: 0.1
 */
void
mact_registry_prepend_search_path (MactRegistry *self, const char *path)
{
  g_return_if_fail (MACT_IS_REGISTRY (self));
  g_return_if_fail (path != NULL);

  g_autofree gchar *root = absolute_root (path);
  g_mutex_lock (&self->lock);
  guint index;
  if (g_ptr_array_find_with_equal_func (self->api_roots, root, g_str_equal, &index))
    g_free (g_ptr_array_steal_index (self->api_roots, index));
  g_ptr_array_insert (self->api_roots, 0, g_steal_pointer (&root));
  for (guint f = 0; f < N_FAMILIES; f++)
    if (self->loaded[f])
      self->stale[f] = TRUE;
  g_mutex_unlock (&self->lock);
}

/* Called with lock held. */
static gchar **
search_path_locked (MactRegistry *self)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  for (guint i = 0; i < self->api_roots->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->api_roots, i));
  for (guint i = 0; i < self->env_roots->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->env_roots, i));
  gchar **roots = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return roots;
}

/**
 * mact_registry_get_search_path:
 * @self: a registry
 *
 * Returns: (transfer full) (array zero-terminated=1) (element-type filename): the plugin
 *   roots in search order
 *
 * Since: 0.1
 */
gchar **
mact_registry_get_search_path (MactRegistry *self)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  g_mutex_lock (&self->lock);
  gchar **roots = search_path_locked (self);
  g_mutex_unlock (&self->lock);
  return roots;
}

/* ------------------------------------------------------------------ type names */

static gboolean
is_identifier (const char *s, gsize len)
{
  if (len == 0 || !(g_ascii_isalpha (s[0]) || s[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!(g_ascii_isalnum (s[i]) || s[i] == '_'))
      return FALSE;
  return TRUE;
}

/* Parses @type_name into a family index and the name part (borrowed from @type_name). */
static gboolean
parse_type_name (const char *type_name, guint *family, const char **name, GError **error)
{
  /* The messages below quote the name; a GError message must be UTF-8. */
  if (!g_utf8_validate (type_name, -1, NULL))
    {
      g_autofree gchar *shown = g_strescape (type_name, NULL);
      g_set_error (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_INVALID_NAME,
                   "invalid type name \"%s\": not UTF-8 (expected Name or family.Name)",
                   shown);
      return FALSE;
    }
  const char *dot = strchr (type_name, '.');
  const char *name_part = type_name;
  gint f = FAMILY_NATIVE;

  if (dot != NULL)
    {
      g_autofree gchar *prefix = g_strndup (type_name, dot - type_name);
      if (!is_identifier (prefix, strlen (prefix)))
        {
          g_set_error (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_INVALID_NAME,
                       "invalid type name \"%s\": the family prefix \"%s\" is not an "
                       "identifier (expected Name or family.Name)", type_name, prefix);
          return FALSE;
        }
      f = family_find_by_prefix (prefix);
      if (f < 0)
        {
          g_autofree gchar *all = mact_family_describe_all ();
          g_set_error (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_UNKNOWN_FAMILY,
                       "type name \"%s\": no plugin family has the prefix \"%s.\"; the "
                       "families are %s", type_name, prefix, all);
          return FALSE;
        }
      name_part = dot + 1;
    }

  gsize len = strlen (name_part);
  if (!is_identifier (name_part, len) || len > MAX_NAME_BYTES)
    {
      g_set_error (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_INVALID_NAME,
                   "invalid type name \"%s\": the name \"%s\" must match "
                   "[A-Za-z_][A-Za-z0-9_]* and be at most %d bytes", type_name, name_part,
                   MAX_NAME_BYTES);
      return FALSE;
    }
  *family = (guint) f;
  *name = name_part;
  return TRUE;
}

/**
 * mact_registry_parse_type_name:
 * @type_name: a type name: `Name`, `cls.Name`, `mmcls.Name`, `tv.Name` or
 *   `torchvision.Name`
 * @family: (out) (optional) (transfer full): the canonical family: "native", "cls" or "tv"
 * @name: (out) (optional) (transfer full): the name without its prefix
 * @error: return location for a #GError
 *
 * Splits a type name at its first dot.  The name part must match
 * `[A-Za-z_][A-Za-z0-9_]*` and be at most 64 bytes, else the error is
 * %MACT_REGISTRY_ERROR_INVALID_NAME; a prefix that is no family's is
 * %MACT_REGISTRY_ERROR_UNKNOWN_FAMILY, with a message listing the families.  Aliases
 * give their family's canonical name: `mmcls.ResNeXt` is family "cls", name "ResNeXt".
 *
 * Returns: %TRUE if @type_name is valid
 *
 * Since: 0.1
 */
gboolean
mact_registry_parse_type_name (const char *type_name, gchar **family, gchar **name,
                               GError **error)
{
  g_return_val_if_fail (type_name != NULL, FALSE);
  guint f;
  const char *name_part;
  if (!parse_type_name (type_name, &f, &name_part, error))
    return FALSE;
  if (family != NULL)
    *family = g_strdup (families[f].name);
  if (name != NULL)
    *name = g_strdup (name_part);
  return TRUE;
}

/**
 * mact_registry_type_name_of:
 * @type: a #GType
 *
 * The registry name a block type was registered under, so that a block can say what
 * it is called in configs (for example "cls.ResNet" for the class `MactClsResNet`).  A
 * type registered under several names reports the first.
 *
 * Returns: (nullable): the type name, or %NULL if @type was never registered by a plugin
 *
 * Since: 0.1
 */
const char *
mact_registry_type_name_of (GType type)
{
  if (type == G_TYPE_INVALID)
    return NULL;
  return g_type_get_qdata (type, type_name_quark ());
}

/**
 * mact_registry_kind_name_of:
 * @type: a #GType
 *
 * The kind of block a type is, as `mact plugins` lists it: "backbone", "neck", "head",
 * "loss" or "blending" for a subtype of #MactBackbone, #MactNeck, #MactHead, #MactLoss
 * or #MactBlending.
 *
 * Returns: (nullable): the kind, or %NULL when @type is none of them
 *
 * Since: 0.1
 */
const char *
mact_registry_kind_name_of (GType type)
{
  if (type == G_TYPE_INVALID)
    return NULL;
  return mact_kind_name (type);
}

/**
 * mact_registry_list_families:
 * @self: a registry
 *
 * The plugin families, by canonical name ("native", "cls", "tv"), in the order they are
 * described in messages.  Nothing is loaded.
 *
 * Returns: (transfer full) (array zero-terminated=1): the family names
 *
 * Since: 0.1
 */
gchar **
mact_registry_list_families (MactRegistry *self)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  gchar **names = g_new0 (gchar *, N_FAMILIES + 1);
  for (guint i = 0; i < N_FAMILIES; i++)
    names[i] = g_strdup (families[i].name);
  return names;
}

/* ------------------------------------------------------------------ loading */

/* Keeps a failure for dup_load_errors() and NOT_FOUND messages.  Takes @error. */
static void
record_failure (MactRegistry *self, guint family, const char *path, GError *error)
{
  /* Logged outside the lock: a log handler is arbitrary code. */
  g_warning ("%s", error->message);

  LoadFailure *failure = g_new0 (LoadFailure, 1);
  failure->family = family;
  failure->path = g_strdup (path);
  failure->error = error;
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->failures, failure);
  g_mutex_unlock (&self->lock);
}

/* Runs @plugin's init and commits its types.  Called with load_lock held.  Returns FALSE
 * (with @error set to the first recorded problem) if anything was recorded, even if some
 * types were registered. */
static gboolean
register_plugin (MactRegistry *self, guint family, MactPlugin *plugin, GError **error)
{
  const char *path = mact_plugin_get_filename (plugin);
  GError *init_error = NULL;

  if (!mact_plugin_run_init (plugin, &init_error))
    {
      if (error != NULL)
        *error = g_error_copy (init_error);
      record_failure (self, family, path, init_error);
      return FALSE;
    }

  g_autoptr(GPtrArray) problems = mact_plugin_steal_rejected (plugin);
  g_autoptr(GPtrArray) pending = mact_plugin_steal_pending (plugin);
  /* Problems are recorded by record_failure(), which takes them. */
  g_ptr_array_set_free_func (problems, NULL);

  /* Check-then-insert in one critical section: two plugins of the same name can never
   * both get in. */
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < pending->len; i++)
    {
      MactPendingType *p = g_ptr_array_index (pending, i);
      Entry *old = g_hash_table_lookup (self->types, p->type_name);
      if (old != NULL)
        {
          g_ptr_array_add (problems,
                           g_error_new (MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_DUPLICATE_TYPE,
                                        "%s: type \"%s\" is already provided by %s; this "
                                        "plugin's %s is not registered",
                                        mact_plugin_get_label (plugin), p->type_name,
                                        mact_plugin_get_label (old->plugin),
                                        g_type_name (p->type)));
          continue;
        }
      Entry *entry = g_new0 (Entry, 1);
      entry->type = p->type;
      entry->family = family;
      entry->plugin = g_object_ref (plugin);
      g_hash_table_insert (self->types, g_strdup (p->type_name), entry);
      /* Interned, so the pointer stays valid for as long as the GType: forever. */
      if (g_type_get_qdata (p->type, type_name_quark ()) == NULL)
        g_type_set_qdata (p->type, type_name_quark (), (gpointer) g_intern_string (p->type_name));
      mact_plugin_note_committed (plugin, p->type_name);
    }
  g_ptr_array_add (self->plugins, g_object_ref (plugin));
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < problems->len; i++)
    {
      GError *problem = g_ptr_array_index (problems, i);
      if (i == 0 && error != NULL)
        *error = g_error_copy (problem);
      record_failure (self, family, path, problem);
    }
  return problems->len == 0;
}

/* For g_ptr_array_sort(), which passes pointers to the elements. */
static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static gboolean
is_plugin_file_name (const char *base, const char *file_prefix)
{
  gsize len = strlen (base);
  gsize prefix_len = strlen (file_prefix);
  gsize suffix_len = strlen (PLUGIN_SUFFIX);
  return len > prefix_len + suffix_len &&
         g_str_has_prefix (base, file_prefix) &&
         g_str_has_suffix (base, PLUGIN_SUFFIX);
}

/* Appends the plugin files of @dir, sorted, to @files; its subdirectories, sorted, to
 * @subdirs when given. */
static void
collect_dir (const char *dir, const char *file_prefix, GPtrArray *files, GPtrArray *subdirs)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  const char *base;
  while ((base = g_dir_read_name (d)) != NULL)
    {
      if (base[0] == '.')
        continue;
      g_autofree gchar *path = g_build_filename (dir, base, NULL);
      if (is_plugin_file_name (base, file_prefix))
        {
          /* Follows symlinks: a link to a plugin file is a plugin file. */
          if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add (found, g_steal_pointer (&path));
        }
      else if (subdirs != NULL && g_file_test (path, G_FILE_TEST_IS_DIR))
        g_ptr_array_add (dirs, g_steal_pointer (&path));
    }
  /* Sorted, so the load order (and which of two duplicate type names wins) does not
   * depend on the file system. */
  g_ptr_array_sort (found, compare_strings);
  g_ptr_array_sort (dirs, compare_strings);
  g_ptr_array_extend_and_steal (files, g_steal_pointer (&found));
  if (subdirs != NULL)
    g_ptr_array_extend_and_steal (subdirs, g_steal_pointer (&dirs));
}

/* The family's plugin files of one root: those directly in <root>/<family>/ first, then
 * those of each subdirectory.  Deeper directories are not searched on purpose: the
 * build tree needs one level, and a deep recursive scan would load stray files. */
static GPtrArray *
family_files (const char *root, guint family)
{
  g_autofree gchar *dir = g_build_filename (root, families[family].dir, NULL);
  g_autofree gchar *file_prefix = g_strdup_printf ("libmact-%s-", families[family].name);
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) subdirs = g_ptr_array_new_with_free_func (g_free);
  collect_dir (dir, file_prefix, files, subdirs);
  for (guint i = 0; i < subdirs->len; i++)
    collect_dir (g_ptr_array_index (subdirs, i), file_prefix, files, NULL);
  return files;
}

/* The name the descriptor of @base, a plugin file name libmact-<family>-<name>.so of
 * @family, must declare: <name> with '-' written as '_'. */
static gchar *
expected_plugin_name (const char *base, guint family)
{
  gsize prefix_len = strlen ("libmact-") + strlen (families[family].name) + 1;
  gchar *expected = g_strndup (base + prefix_len,
                               strlen (base) - prefix_len - strlen (PLUGIN_SUFFIX));
  g_strdelimit (expected, "-", '_');
  return expected;
}

/* The family of a plugin file name, or -1 if @base is not libmact-<family>-<name>.so. */
static gint
plugin_file_family (const char *base)
{
  for (guint f = 0; f < N_FAMILIES; f++)
    {
      g_autofree gchar *file_prefix = g_strdup_printf ("libmact-%s-", families[f].name);
      if (is_plugin_file_name (base, file_prefix))
        return (gint) f;
    }
  return -1;
}

/* Called with load_lock held and the family in the SCANNING state. */
static void
scan_family (MactRegistry *self, guint family)
{
  g_mutex_lock (&self->lock);
  g_auto(GStrv) roots = search_path_locked (self);
  g_mutex_unlock (&self->lock);

  for (guint r = 0; roots[r] != NULL; r++)
    {
      g_autoptr(GPtrArray) files = family_files (roots[r], family);
      for (guint i = 0; i < files->len; i++)
        {
          const char *path = g_ptr_array_index (files, i);
          g_autofree gchar *base = g_path_get_basename (path);

          /* Unique by file name: the first root that has it wins. */
          g_mutex_lock (&self->lock);
          gboolean seen = g_hash_table_contains (self->seen, base);
          if (!seen)
            g_hash_table_insert (self->seen, g_strdup (base), g_strdup (path));
          g_mutex_unlock (&self->lock);
          if (seen)
            {
              g_debug ("skipping plugin %s: a file of that name was found earlier in the "
                       "search path", path);
              continue;
            }

          g_autofree gchar *expected = expected_plugin_name (base, family);

          /* If the plugin's init crashes, this is the last line logged. */
          g_debug ("loading plugin %s", path);
          GError *error = NULL;
          g_autoptr(MactPlugin) plugin =
            mact_plugin_open (path, families[family].name, expected, &error);
          if (plugin == NULL)
            {
              record_failure (self, family, path, error);
              continue;
            }
          register_plugin (self, family, plugin, NULL);
        }
    }
}

/* Makes sure @family has been scanned (again, if a root was added since). */
static void
ensure_family (MactRegistry *self, guint family)
{
  g_rec_mutex_lock (&self->load_lock);

  g_mutex_lock (&self->lock);
  gboolean scan = self->state[family] == FAMILY_UNSCANNED ||
                  (self->state[family] == FAMILY_SCANNED && self->stale[family]);
  if (scan)
    {
      self->state[family] = FAMILY_SCANNING;
      self->stale[family] = FALSE;
    }
  g_mutex_unlock (&self->lock);

  if (scan)
    {
      g_debug ("scanning plugin family \"%s\"", families[family].name);
      scan_family (self, family);
      g_mutex_lock (&self->lock);
      self->state[family] = FAMILY_SCANNED;
      self->loaded[family] = TRUE;
      g_mutex_unlock (&self->lock);
    }

  g_rec_mutex_unlock (&self->load_lock);
}

/**
 * mact_registry_list_plugin_files:
 * @self: a registry
 * @family: (nullable): a family name ("native", "cls", "tv") or alias, or %NULL for all
 *   families
 *
 * Lists the plugin files a first scan of the search path opens, in the order it opens
 * them: family by family (in the order of mact_registry_list_families() when @family is
 * %NULL), root by root, each root's `<root>/<family>/libmact-<family>-*.so` sorted by
 * name, then those one directory below.  A file whose name an earlier root already has
 * is left out, as the scan skips it.
 *
 * Nothing is opened, so this is safe on files that are not trusted yet:
 * `mact plugins --check` lists the files this way and loads each one in a child process
 * (mact_registry_load_plugin_file()), so that a plugin that crashes or hangs cannot take
 * the checking program down.  An unknown family gives an empty list.
 *
 * Returns: (transfer full) (array zero-terminated=1) (element-type filename): the paths
 *
 * Since: 0.1
 */
gchar **
mact_registry_list_plugin_files (MactRegistry *self, const char *family)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  gint f = family != NULL ? mact_family_find (family) : -1;
  GStrvBuilder *builder = g_strv_builder_new ();
  if (family == NULL || f >= 0)
    {
      g_mutex_lock (&self->lock);
      g_auto(GStrv) roots = search_path_locked (self);
      g_mutex_unlock (&self->lock);
      for (guint fam = 0; fam < N_FAMILIES; fam++)
        {
          if (f >= 0 && (guint) f != fam)
            continue;
          g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                               g_free, NULL);
          for (guint r = 0; roots[r] != NULL; r++)
            {
              g_autoptr(GPtrArray) files = family_files (roots[r], fam);
              for (guint i = 0; i < files->len; i++)
                {
                  const char *path = g_ptr_array_index (files, i);
                  if (g_hash_table_add (names, g_path_get_basename (path)))
                    g_strv_builder_add (builder, path);
                }
            }
        }
    }
  gchar **paths = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return paths;
}

/* Called with load_lock held. */
static gboolean
load_file_locked (MactRegistry *self, guint family, const char *file, GError **error)
{
  g_autofree gchar *base = g_path_get_basename (file);

  g_mutex_lock (&self->lock);
  g_autofree gchar *earlier = g_strdup (g_hash_table_lookup (self->seen, base));
  gboolean loaded = FALSE;
  GError *refused = NULL;
  if (earlier == NULL)
    g_hash_table_insert (self->seen, g_strdup (base), g_strdup (file));
  else if (g_str_equal (earlier, file))
    {
      for (guint i = 0; i < self->plugins->len && !loaded; i++)
        loaded = g_strcmp0 (mact_plugin_get_filename (g_ptr_array_index (self->plugins, i)),
                            file) == 0;
      for (guint i = 0; i < self->failures->len && !loaded && refused == NULL; i++)
        {
          LoadFailure *failure = g_ptr_array_index (self->failures, i);
          if (g_strcmp0 (failure->path, file) == 0)
            refused = g_error_copy (failure->error);
        }
    }
  g_mutex_unlock (&self->lock);

  if (earlier != NULL)
    {
      if (loaded)
        return TRUE;
      if (refused != NULL)
        {
          g_propagate_error (error, refused);
          return FALSE;
        }
      /* Two files of one name would typically register the same GType names: the
       * second registration would fail inside GLib, not here. */
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_DUPLICATE_FILE,
                   "%s: a plugin file of the same name, %s, is already loaded or being "
                   "loaded; plugin files are unique by file name", file, earlier);
      return FALSE;
    }

  g_autofree gchar *expected = expected_plugin_name (base, family);
  g_debug ("loading plugin %s", file);
  GError *open_error = NULL;
  g_autoptr(MactPlugin) plugin =
    mact_plugin_open (file, families[family].name, expected, &open_error);
  if (plugin == NULL)
    {
      if (error != NULL)
        *error = g_error_copy (open_error);
      record_failure (self, family, file, open_error);
      return FALSE;
    }
  return register_plugin (self, family, plugin, error);
}

/**
 * mact_registry_load_plugin_file:
 * @self: a registry
 * @path: (type filename): a plugin file, `libmact-<family>-<name>.so`; a relative path
 *   is taken from the current directory
 * @error: return location for a #GError
 *
 * Loads one plugin file now, wherever it is, as a scan loads the files it finds: the
 * file name gives the family and the name the descriptor must declare, the descriptor
 * is checked, init runs, and the types are registered.  It is not added to the search
 * path.  Plugin files are unique by file name here too: a later scan skips files of the
 * same name, and loading a file whose name this registry has already loaded, or is
 * loading, from another path is %MACT_PLUGIN_ERROR_DUPLICATE_FILE.  Loading the same
 * path again loads nothing: the answer is %TRUE if the plugin was loaded (even with
 * problems), else the error it was refused with.
 *
 * A name that is not a plugin file name is %MACT_PLUGIN_ERROR_NOT_A_PLUGIN (nothing is
 * opened); the other errors are a scan's (%MACT_PLUGIN_ERROR_OPEN, ...,
 * %MACT_PLUGIN_ERROR_DUPLICATE_TYPE), each message starting with the file, and are kept
 * with the family's load errors (mact_registry_dup_load_errors(),
 * mact_registry_dup_load_error()) as a scan's are.
 *
 * The plugin's code runs in this process: an init that crashes, hangs or exits takes the
 * process with it.  `mact plugins --check FILE` runs this function in a child process,
 * to vet a plugin first.
 *
 * Returns: %TRUE if the plugin and all its types were registered
 *
 * Since: 0.1
 */
gboolean
mact_registry_load_plugin_file (MactRegistry *self, const char *path, GError **error)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Never a bare name: dlopen() would look it up in the library search path. */
  g_autofree gchar *file = absolute_root (path);
  g_autofree gchar *base = g_path_get_basename (file);
  gint family = plugin_file_family (base);
  if (family < 0)
    {
      g_autoptr(GString) all = g_string_new (NULL);
      for (guint f = 0; f < N_FAMILIES; f++)
        g_string_append_printf (all, "%s%s", f > 0 ? ", " : "", families[f].name);
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_NOT_A_PLUGIN,
                   "%s: not a plugin file name: expected libmact-<family>-<name>.so, "
                   "the family one of %s", file, all->str);
      return FALSE;
    }

  g_rec_mutex_lock (&self->load_lock);
  gboolean ok = load_file_locked (self, (guint) family, file, error);
  g_rec_mutex_unlock (&self->load_lock);
  return ok;
}

static gboolean
find_type (MactRegistry *self, const char *canonical, GType *type)
{
  g_mutex_lock (&self->lock);
  Entry *entry = g_hash_table_lookup (self->types, canonical);
  if (entry != NULL)
    *type = entry->type;
  g_mutex_unlock (&self->lock);
  return entry != NULL;
}

static void
set_not_found (MactRegistry *self, guint family, const char *type_name, GError **error)
{
  GString *msg = g_string_new (NULL);
  g_string_append_printf (msg, "type \"%s\" not found", type_name);

  g_mutex_lock (&self->lock);
  if (self->state[family] == FAMILY_SCANNING)
    {
      /* Only the thread holding load_lock can see this: a plugin's init asked for a type
       * of its own family. */
      g_string_append_printf (msg, ": family \"%s\" is still being loaded (looked up from "
                              "a plugin's init?)", families[family].name);
      g_mutex_unlock (&self->lock);
      g_set_error_literal (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND, msg->str);
      g_string_free (msg, TRUE);
      return;
    }

  g_auto(GStrv) roots = search_path_locked (self);
  if (roots[0] == NULL)
    g_string_append (msg, " (no plugin directories searched: the search path is empty)");
  else
    {
      g_string_append (msg, " (searched ");
      for (guint i = 0; roots[i] != NULL; i++)
        {
          g_autofree gchar *dir = g_build_filename (roots[i], families[family].dir, NULL);
          g_string_append_printf (msg, "%s%s%s", i > 0 ? ", " : "", dir,
                                  g_file_test (dir, G_FILE_TEST_IS_DIR) ? "" : " (missing)");
        }
      g_string_append_c (msg, ')');
    }

  guint n_failed = 0;
  for (guint i = 0; i < self->failures->len; i++)
    {
      LoadFailure *failure = g_ptr_array_index (self->failures, i);
      if (failure->family == family)
        n_failed++;
    }
  if (n_failed > 0)
    {
      g_string_append_printf (msg, "; %u problem%s loading plugins of family \"%s\": ",
                              n_failed, n_failed == 1 ? "" : "s", families[family].name);
      guint k = 0;
      for (guint i = 0; i < self->failures->len; i++)
        {
          LoadFailure *failure = g_ptr_array_index (self->failures, i);
          if (failure->family != family)
            continue;
          g_string_append_printf (msg, "%s%s", k++ > 0 ? "; " : "", failure->error->message);
        }
    }
  g_mutex_unlock (&self->lock);

  g_set_error_literal (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_NOT_FOUND, msg->str);
  g_string_free (msg, TRUE);
}

/**
 * mact_registry_lookup_type:
 * @self: a registry
 * @type_name: a type name such as "TSNHead", "cls.ResNet" or "torchvision.resnet50"
 * @error: return location for a #GError
 *
 * Finds the block type registered under @type_name.  The first lookup in a family loads
 * that family's plugins (and only that family's); plugins that fail to load are skipped
 * and remembered.  Safe to call from several threads at once: a family is scanned once.
 *
 * Errors: %MACT_REGISTRY_ERROR_INVALID_NAME, %MACT_REGISTRY_ERROR_UNKNOWN_FAMILY, or
 * %MACT_REGISTRY_ERROR_NOT_FOUND, whose message lists the directories searched and the
 * plugins of the family that failed to load, and why.
 *
 * Returns: the type, or %G_TYPE_INVALID on error
 *
 * Since: 0.1
 */
GType
mact_registry_lookup_type (MactRegistry *self, const char *type_name, GError **error)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), G_TYPE_INVALID);
  g_return_val_if_fail (type_name != NULL, G_TYPE_INVALID);

  guint family;
  const char *name;
  if (!parse_type_name (type_name, &family, &name, error))
    return G_TYPE_INVALID;
  g_autofree gchar *canonical = canonical_name (family, name);

  GType type;
  if (find_type (self, canonical, &type))
    return type;
  ensure_family (self, family);
  if (find_type (self, canonical, &type))
    return type;
  set_not_found (self, family, type_name, error);
  return G_TYPE_INVALID;
}

static const char *
kind_description (GType kind)
{
  const char *name = mact_kind_name (kind);
  return name != NULL ? name : g_type_name (kind);
}

/**
 * mact_registry_create_block:
 * @self: a registry
 * @type_name: the block's type name
 * @required_kind: the kind the caller needs (%MACT_TYPE_BACKBONE, %MACT_TYPE_HEAD, ...),
 *   or %G_TYPE_INVALID for any
 * @n_properties: the number of properties
 * @names: (array length=n_properties) (nullable): their names
 * @values: (array length=n_properties) (nullable): their values
 * @error: return location for a #GError
 *
 * Looks @type_name up (see mact_registry_lookup_type()), checks its kind, and creates
 * and builds the block with mact_module_new_with_properties().  A type that is not a
 * @required_kind is %MACT_REGISTRY_ERROR_WRONG_KIND.
 *
 * Returns: (transfer full) (nullable): the new block, or %NULL on error
 *
 * Since: 0.1
 */
MactModule *
mact_registry_create_block (MactRegistry *self, const char *type_name, GType required_kind,
                            guint n_properties, const char **names, const GValue *values,
                            GError **error)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (type_name != NULL, NULL);
  g_return_val_if_fail (n_properties == 0 || (names != NULL && values != NULL), NULL);

  GType type = mact_registry_lookup_type (self, type_name, error);
  if (type == G_TYPE_INVALID)
    return NULL;
  if (required_kind != G_TYPE_INVALID && !g_type_is_a (type, required_kind))
    {
      g_set_error (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_WRONG_KIND,
                   "type \"%s\" is a %s (%s), expected a %s", type_name,
                   kind_description (type), g_type_name (type),
                   kind_description (required_kind));
      return NULL;
    }
  return mact_module_new_with_properties (type, n_properties, names, values, error);
}

/**
 * mact_registry_add_static_plugin:
 * @self: a registry
 * @desc: a descriptor linked into the program: `mact_plugin_<family>_<name>_get_desc ()`
 *   of a plugin compiled with `MACT_PLUGIN_STATIC`
 * @error: return location for a #GError
 *
 * Registers a plugin that is not a file, running its init now.  The descriptor is
 * checked as a file's would be (magic, ABI and core version, fields, family), but there
 * is no file name to match.  Adding the same descriptor again does nothing; another
 * descriptor with the family and name of one already added is
 * %MACT_PLUGIN_ERROR_INVALID_DESC.  Its types
 * take precedence over plugin files of their family that are scanned later.
 *
 * Returns %FALSE on the first problem: a bad descriptor (nothing registered), a failed
 * init (nothing registered), or a type that was refused or already provided (its other
 * types are registered, as for a plugin file).  Problems after the descriptor check are
 * also kept with the load errors of the family.
 *
 * Returns: %TRUE if the plugin and all its types were registered
 *
 * Since: 0.1
 */
gboolean
mact_registry_add_static_plugin (MactRegistry *self, const MactPluginDesc *desc,
                                 GError **error)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (desc != NULL, FALSE);

  g_autoptr(MactPlugin) plugin = mact_plugin_new_static (desc, error);
  if (plugin == NULL)
    return FALSE;

  g_rec_mutex_lock (&self->load_lock);
  const MactPluginDesc *known = NULL;
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->plugins->len && known == NULL; i++)
    {
      MactPlugin *other = g_ptr_array_index (self->plugins, i);
      const MactPluginDesc *other_desc = mact_plugin_get_desc_internal (other);
      if (mact_plugin_get_filename (other) == NULL &&
          g_str_equal (other_desc->family, desc->family) &&
          g_str_equal (other_desc->name, desc->name))
        known = other_desc;
    }
  g_mutex_unlock (&self->lock);

  gboolean ok;
  if (known == desc)
    ok = TRUE;
  else if (known != NULL)
    {
      g_set_error (error, MACT_PLUGIN_ERROR, MACT_PLUGIN_ERROR_INVALID_DESC,
                   "%s: another static plugin of that family and name was added already",
                   mact_plugin_get_label (plugin));
      ok = FALSE;
    }
  else
    ok = register_plugin (self, (guint) mact_family_find (desc->family), plugin, error);
  g_rec_mutex_unlock (&self->load_lock);
  return ok;
}

/* Resolves a family argument (canonical name or alias); -1 with @error if unknown. */
static gint
family_arg (const char *family, GError **error)
{
  gint f = mact_family_find (family);
  if (f < 0)
    {
      g_autofree gchar *all = mact_family_describe_all ();
      g_set_error (error, MACT_REGISTRY_ERROR, MACT_REGISTRY_ERROR_UNKNOWN_FAMILY,
                   "no plugin family is called \"%s\"; the families are %s", family, all);
    }
  return f;
}

/* Scans @family, or every family when it is -1. */
static void
ensure_families (MactRegistry *self, gint family)
{
  for (guint f = 0; f < N_FAMILIES; f++)
    if (family < 0 || (guint) family == f)
      ensure_family (self, f);
}

/**
 * mact_registry_list_types:
 * @self: a registry
 * @family: (nullable): "native", "cls" or "tv" (or an alias: "mmcls", "torchvision"),
 *   or %NULL for all families
 * @error: return location for a #GError
 *
 * Lists the registered type names, loading the family's plugins first.  An unknown
 * family is %MACT_REGISTRY_ERROR_UNKNOWN_FAMILY.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the type names, sorted,
 *   or %NULL on error
 *
 * Since: 0.1
 */
gchar **
mact_registry_list_types (MactRegistry *self, const char *family, GError **error)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  gint f = -1;
  if (family != NULL && (f = family_arg (family, error)) < 0)
    return NULL;
  ensure_families (self, f);

  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_mutex_lock (&self->lock);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, self->types);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (f < 0 || ((Entry *) value)->family == (guint) f)
      g_ptr_array_add (names, g_strdup (key));
  g_mutex_unlock (&self->lock);
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return (gchar **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/**
 * mact_registry_list_plugins:
 * @self: a registry
 * @family: (nullable): a family name, or %NULL for all families
 *
 * Lists the plugins whose init succeeded, loading the family's plugins first.  An
 * unknown family gives an empty array.
 *
 * Returns: (transfer container) (element-type MactPlugin): the plugins, in load order;
 *   the array holds a reference to each and releases them when freed
 *
 * Since: 0.1
 */
GPtrArray *
mact_registry_list_plugins (MactRegistry *self, const char *family)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  GPtrArray *plugins = g_ptr_array_new_with_free_func (g_object_unref);
  gint f = family != NULL ? mact_family_find (family) : -1;
  if (family != NULL && f < 0)
    return plugins;
  ensure_families (self, f);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->plugins->len; i++)
    {
      MactPlugin *plugin = g_ptr_array_index (self->plugins, i);
      if (f < 0 || g_str_equal (mact_plugin_get_family (plugin), families[f].name))
        g_ptr_array_add (plugins, g_object_ref (plugin));
    }
  g_mutex_unlock (&self->lock);
  return plugins;
}

/**
 * mact_registry_dup_load_errors:
 * @self: a registry
 * @family: (nullable): a family name, or %NULL for all families
 *
 * Lists what went wrong loading the family's plugins (loading them first): files that
 * could not be opened or were refused, failed inits, refused and duplicate types.  Each
 * message starts with the file (or the static plugin) it is about: "file: message".  An
 * unknown family gives an empty list.
 *
 * Returns: (transfer full) (array zero-terminated=1): the messages, in load order
 *
 * Since: 0.1
 */
gchar **
mact_registry_dup_load_errors (MactRegistry *self, const char *family)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  gint f = family != NULL ? mact_family_find (family) : -1;
  GStrvBuilder *builder = g_strv_builder_new ();
  if (family == NULL || f >= 0)
    {
      ensure_families (self, f);
      g_mutex_lock (&self->lock);
      for (guint i = 0; i < self->failures->len; i++)
        {
          LoadFailure *failure = g_ptr_array_index (self->failures, i);
          if (f < 0 || failure->family == (guint) f)
            g_strv_builder_add (builder, failure->error->message);
        }
      g_mutex_unlock (&self->lock);
    }
  gchar **messages = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return messages;
}

/**
 * mact_registry_dup_load_error:
 * @self: a registry
 * @file: (type filename): a plugin file, by path or by file name
 *   ("libmact-cls-resnet.so")
 *
 * The first problem recorded for @file, among the families loaded so far, with its
 * %MACT_PLUGIN_ERROR code (for example %MACT_PLUGIN_ERROR_ABI_MISMATCH).  Does not load
 * anything.
 *
 * Returns: (transfer full) (nullable): a copy of the error, or %NULL if none was
 *   recorded for @file
 *
 * Since: 0.1
 */
GError *
mact_registry_dup_load_error (MactRegistry *self, const char *file)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (file != NULL, NULL);
  gboolean by_path = strchr (file, G_DIR_SEPARATOR) != NULL;
  GError *found = NULL;
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->failures->len && found == NULL; i++)
    {
      LoadFailure *failure = g_ptr_array_index (self->failures, i);
      if (failure->path == NULL)
        continue;
      g_autofree gchar *base = by_path ? NULL : g_path_get_basename (failure->path);
      if (g_str_equal (by_path ? failure->path : base, file))
        found = g_error_copy (failure->error);
    }
  g_mutex_unlock (&self->lock);
  return found;
}

/**
 * mact_registry_family_is_loaded:
 * @self: a registry
 * @family: a family name ("native", "cls", "tv") or alias
 *
 * Whether the family's plugins have been scanned.  Families are loaded on the first
 * lookup that needs them, so a program using only `tv.` types never opens a `cls`
 * plugin.
 *
 * Returns: %TRUE once a scan of the family has completed; %FALSE for an unknown family
 *
 * Since: 0.1
 */
gboolean
mact_registry_family_is_loaded (MactRegistry *self, const char *family)
{
  g_return_val_if_fail (MACT_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (family != NULL, FALSE);
  gint f = mact_family_find (family);
  if (f < 0)
    return FALSE;
  g_mutex_lock (&self->lock);
  gboolean loaded = self->loaded[f];
  g_mutex_unlock (&self->lock);
  return loaded;
}
