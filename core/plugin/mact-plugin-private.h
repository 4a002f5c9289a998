/* mact-plugin-private.h: what the registry and the plugin loader share.  Not installed.
 *
 * mact-registry.c owns the family table, the search path, the tables of committed types
 * and the locks.  mact-plugin.c owns one plugin: opening and validating its file, running
 * its init and collecting the types it adds.  A plugin's types are only pending until the
 * registry commits them, so a failing init never leaves half of its types behind.
 */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* The static family table (mact-registry.c).  A family is a type-name prefix, an optional
 * alias prefix that means the same family, and the subdirectory of every search root that
 * holds its plugin files. */
typedef struct {
  const char *name;     /* canonical: "native", "cls", "tv"; also the descriptor's family */
  const char *prefix;   /* in type names, without the dot; NULL for the unprefixed family */
  const char *alias;    /* another prefix for the same family, or NULL */
  const char *dir;      /* subdirectory of each search root */
} MactFamilyInfo;

guint                  mact_family_count        (void);
const MactFamilyInfo  *mact_family_get          (guint        index);
/* Index of the family named @name (canonical name or alias, no dot), or -1. */
gint                   mact_family_find         (const char  *name);
/* "native (no prefix), cls (cls., mmcls.), tv (tv., torchvision.)", for messages. */
gchar                 *mact_family_describe_all (void);

/* One pending registration of a plugin's init. */
typedef struct {
  gchar *type_name;     /* canonical ("cls.ResNet", "TSNHead") */
  GType  type;
} MactPendingType;

/* Opens @path with dlopen (RTLD_NOW | RTLD_LOCAL), finds the entry symbol and validates
 * the descriptor against @family (canonical) and @expected_name (the file stem with '-'
 * mapped to '_').  No plugin code but the entry function runs.  On failure the file is
 * closed again and @error says why (MACT_PLUGIN_ERROR_OPEN, NOT_A_PLUGIN, ABI_MISMATCH or
 * INVALID_DESC), its message starting with @path.  The returned plugin keeps the module
 * resident forever. */
MactPlugin *mact_plugin_open       (const char            *path,
                                    const char            *family,
                                    const char            *expected_name,
                                    GError               **error);
/* A plugin for a descriptor linked into the program (no file).  Same checks as above but
 * for the file name. */
MactPlugin *mact_plugin_new_static (const MactPluginDesc  *desc,
                                    GError               **error);

/* Runs the descriptor's init.  Types added during it become pending.  On failure the
 * pending types are discarded and @error is set: an error mact_plugin_add_type() raised
 * and init passed on keeps its code; any other failure is MACT_PLUGIN_ERROR_INIT_FAILED.
 * Either way its message starts with the plugin's label.  Must be called once. */
gboolean    mact_plugin_run_init   (MactPlugin            *self,
                                    GError               **error);
/* (transfer full) (element-type MactPendingType): the types init added, in order. */
GPtrArray  *mact_plugin_steal_pending  (MactPlugin        *self);
/* (transfer full) (element-type GError): add_type failures init did not pass on (it went on
 * and returned TRUE); the registry records them. */
GPtrArray  *mact_plugin_steal_rejected (MactPlugin        *self);
/* Called by the registry, under its lock, for each committed type. */
void        mact_plugin_note_committed (MactPlugin        *self,
                                        const char        *type_name);
/* The file path, or "static plugin <family>/<name>" for static ones; for messages. */
const char *mact_plugin_get_label      (MactPlugin        *self);
const MactPluginDesc *mact_plugin_get_desc_internal (MactPlugin *self);

void        mact_pending_type_free     (MactPendingType   *pending);

/* "backbone", "neck", "head", "loss" or "blending" for a type of that kind, else NULL. */
const char *mact_kind_name             (GType              type);

G_END_DECLS
