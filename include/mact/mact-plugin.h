/* mact-plugin.h: what a plugin .so exports, and how it registers its block types. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>

G_BEGIN_DECLS

/**
 * MACT_PLUGIN_MAGIC:
 *
 * The first field of every #MactPluginDesc; guards against a wrong or garbage symbol.
 */
#define MACT_PLUGIN_MAGIC 0x4d414354u   /* "MACT" */
/**
 * MACT_PLUGIN_ABI_VERSION:
 *
 * Bumped on any incompatible change a plugin can see: #MactPluginDesc, the class
 * structures of #MactModule and the kinds, inline helpers.
 */
#define MACT_PLUGIN_ABI_VERSION 1u
/**
 * MACT_PLUGIN_ENTRY_SYMBOL:
 *
 * The symbol the loader looks up in each plugin file.
 */
#define MACT_PLUGIN_ENTRY_SYMBOL "mact_plugin_get_desc"

/**
 * MACT_PLUGIN_ERROR:
 *
 * Error domain for loading plugins.  Errors in this domain are from #MactPluginError.
 */
#define MACT_PLUGIN_ERROR (mact_plugin_error_quark ())

/**
 * MactPluginError:
 * @MACT_PLUGIN_ERROR_OPEN: dlopen failed (missing dependency, undefined symbol, not an
 *   ELF object, wrong architecture).
 * @MACT_PLUGIN_ERROR_NOT_A_PLUGIN: the file exports no `mact_plugin_get_desc`.
 * @MACT_PLUGIN_ERROR_ABI_MISMATCH: bad magic, plugin ABI version, or a plugin built for a
 *   newer core.
 * @MACT_PLUGIN_ERROR_INVALID_DESC: a required descriptor field is missing, or family and
 *   name do not match the directory and file name.
 * @MACT_PLUGIN_ERROR_INIT_FAILED: the plugin's init function failed.
 * @MACT_PLUGIN_ERROR_INVALID_TYPE: a registered type is not a concrete #MactModule kind,
 *   its class leaves NULL a function GObject calls unchecked, or its name is malformed.
 * @MACT_PLUGIN_ERROR_WRONG_FAMILY: a registered type name is not in the plugin's family.
 * @MACT_PLUGIN_ERROR_DUPLICATE_TYPE: a type name is already provided by another plugin.
 * @MACT_PLUGIN_ERROR_DUPLICATE_FILE: mact_registry_load_plugin_file() was given a file
 *   whose name the registry has already loaded from another path (plugin files are
 *   unique by file name).
 *
 * Error codes in the %MACT_PLUGIN_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_PLUGIN_ERROR_OPEN,
  MACT_PLUGIN_ERROR_NOT_A_PLUGIN,
  MACT_PLUGIN_ERROR_ABI_MISMATCH,
  MACT_PLUGIN_ERROR_INVALID_DESC,
  MACT_PLUGIN_ERROR_INIT_FAILED,
  MACT_PLUGIN_ERROR_INVALID_TYPE,
  MACT_PLUGIN_ERROR_WRONG_FAMILY,
  MACT_PLUGIN_ERROR_DUPLICATE_TYPE,
  MACT_PLUGIN_ERROR_DUPLICATE_FILE,
} MactPluginError;

MACT_AVAILABLE_IN_0_1
GQuark mact_plugin_error_quark (void);

#define MACT_TYPE_PLUGIN (mact_plugin_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactPlugin, mact_plugin, MACT, PLUGIN, GObject)

/**
 * MactPluginInitFunc:
 * @plugin: the plugin being loaded
 * @error: return location for a #GError
 *
 * Registers the plugin's types with mact_plugin_add_type().  Must be cheap: no weights,
 * no threads, no BLAS.
 *
 * Returns: %TRUE on success
 */
typedef gboolean (*MactPluginInitFunc) (MactPlugin *plugin, GError **error);

/**
 * MactPluginDesc:
 * @magic: %MACT_PLUGIN_MAGIC
 * @abi_version: %MACT_PLUGIN_ABI_VERSION at build time
 * @core_major: %MACT_MAJOR_VERSION at build time
 * @core_minor: %MACT_MINOR_VERSION at build time
 * @name: the plugin's name, `[a-z0-9_]+`; must match the file name
 *   (`libmact-<family>-<name>.so`, with `-` for `_`)
 * @family: "native", "cls" or "tv"; must match the directory
 * @description: one line
 * @version: the plugin's own version
 * @license: an SPDX expression
 * @origin: a URL or package name
 * @init: registers the types
 *
 * What a plugin exports.  Write it with MACT_PLUGIN_DEFINE().
 *
 * Since: 0.1
 */
typedef struct {
  guint32             magic;
  guint32             abi_version;
  guint16             core_major;
  guint16             core_minor;
  const char         *name;
  const char         *family;
  const char         *description;
  const char         *version;
  const char         *license;
  const char         *origin;
  MactPluginInitFunc  init;
  /*< private >*/
  gpointer            _mact_reserved[8];
} MactPluginDesc;

typedef const MactPluginDesc *(*MactPluginGetDescFunc) (void);

#define MACT_PLUGIN_EXPORT __attribute__ ((visibility ("default")))

#define _MACT_PLUGIN_SYM(family, name) \
  G_PASTE (G_PASTE (G_PASTE (mact_plugin_, family), G_PASTE (_, name)), _get_desc)

/* The loader finds the entry point by its C name, so it has C linkage in a C++ plugin. */
#ifdef __cplusplus
# define _MACT_PLUGIN_EXTERN_C extern "C"
#else
# define _MACT_PLUGIN_EXTERN_C
#endif

/* Function-like on purpose: g-ir-scanner parses the bodies of object-like macros and
 * would take this declaration for a library function (and crash resolving it). */
#ifdef MACT_PLUGIN_STATIC
# define _MACT_PLUGIN_DYNAMIC_ENTRY()
#else
# define _MACT_PLUGIN_DYNAMIC_ENTRY()                                                  \
  _MACT_PLUGIN_EXTERN_C MACT_PLUGIN_EXPORT const MactPluginDesc *                      \
  mact_plugin_get_desc (void);                                                        \
  const MactPluginDesc *mact_plugin_get_desc (void) { return &_mact_plugin_desc; }
#endif

/**
 * MACT_PLUGIN_DEFINE:
 * @family: the plugin's family, a bare identifier (not a string): `native` (type names
 *   without a prefix), `cls` or `tv`; the plugin file must be in that family's
 *   directory of a plugin root (`<root>/native/`, ...)
 * @name: the plugin's name, a bare identifier made of `[a-z0-9_]`; the file must be
 *   `libmact-<family>-<name>.so`, where a `-` in the file name stands for a `_` in @name
 * @description: a string: one line saying what the plugin provides
 * @init: the #MactPluginInitFunc that registers the plugin's types with
 *   mact_plugin_add_type()
 * @version: a string: the plugin's own version
 * @license: a string: an SPDX license expression, such as "LGPL-2.1-or-later"
 * @origin: a string: where the plugin comes from, a URL or a package name
 *
 * Defines the plugin's descriptor and its entry point.  Use it once per plugin, at file
 * scope in one of its C files.
 *
 * It expands to a static #MactPluginDesc holding the arguments together with
 * %MACT_PLUGIN_MAGIC, %MACT_PLUGIN_ABI_VERSION and the major and minor version of the
 * mact the plugin is compiled against, and to two functions returning it:
 * `mact_plugin_get_desc()` (%MACT_PLUGIN_ENTRY_SYMBOL), which the loader looks up in the
 * file and which is exported even when the module is built with hidden symbol
 * visibility (and has C linkage in C++), and `mact_plugin_<family>_<name>_get_desc()`.
 *
 * The loader refuses the file (%MACT_PLUGIN_ERROR_ABI_MISMATCH) when the magic or the
 * ABI version differ from its own, when the plugin was built for another major version
 * of mact or a newer minor one; and (%MACT_PLUGIN_ERROR_INVALID_DESC) when @family and
 * @name do not match the file's directory and name.  A refused plugin is skipped, and
 * `mact plugins` lists it with the reason.
 *
 * With `MACT_PLUGIN_STATIC` defined, only `mact_plugin_<family>_<name>_get_desc()` is
 * emitted, for linking a plugin into a program and adding it with
 * mact_registry_add_static_plugin(); several plugins can then live in one program.
 *
 * A plugin providing one backbone, built as `libmact-native-tinyconv.so` (the complete
 * plugin is `examples/plugin/` in mact's source tree):
 *
 * ```c
 * #include <mact/mact.h>
 * #include "tiny-conv-net.h"
 *
 * static gboolean
 * tinyconv_init (MactPlugin *plugin, GError **error)
 * {
 *   return mact_plugin_add_type (plugin, "TinyConvNet", EXAMPLE_TYPE_TINY_CONV_NET,
 *                                error);
 * }
 *
 * MACT_PLUGIN_DEFINE (native, tinyconv, "TinyConvNet: a small 2D backbone",
 *                     tinyconv_init, "1.0.0", "LGPL-2.1-or-later",
 *                     "https://example.org/tinyconv")
 * ```
 *
 * Since: 0.1
 */
#define MACT_PLUGIN_DEFINE(family, name, description, init, version, license, origin)   \
  static const MactPluginDesc _mact_plugin_desc = {                                     \
    MACT_PLUGIN_MAGIC, MACT_PLUGIN_ABI_VERSION, MACT_MAJOR_VERSION, MACT_MINOR_VERSION,  \
    G_STRINGIFY (name), G_STRINGIFY (family), description, version, license, origin,    \
    init, { NULL, }                                                                     \
  };                                                                                    \
  _MACT_PLUGIN_EXTERN_C MACT_PLUGIN_EXPORT const MactPluginDesc *                        \
  _MACT_PLUGIN_SYM (family, name) (void);                                               \
  const MactPluginDesc *_MACT_PLUGIN_SYM (family, name) (void) { return &_mact_plugin_desc; } \
  _MACT_PLUGIN_DYNAMIC_ENTRY ()

MACT_AVAILABLE_IN_0_1
gboolean     mact_plugin_add_type        (MactPlugin  *plugin,
                                          const char  *type_name,
                                          GType        type,
                                          GError     **error);
MACT_AVAILABLE_IN_0_1
const char  *mact_plugin_get_name        (MactPlugin  *plugin);
MACT_AVAILABLE_IN_0_1
const char  *mact_plugin_get_family      (MactPlugin  *plugin);
MACT_AVAILABLE_IN_0_1
const char  *mact_plugin_get_filename    (MactPlugin  *plugin);
MACT_AVAILABLE_IN_0_1
const char  *mact_plugin_get_description (MactPlugin  *plugin);
MACT_AVAILABLE_IN_0_1
const char  *mact_plugin_get_version     (MactPlugin  *plugin);
MACT_AVAILABLE_IN_0_1
const char  *mact_plugin_get_license     (MactPlugin  *plugin);
MACT_AVAILABLE_IN_0_1
gchar      **mact_plugin_dup_type_names  (MactPlugin  *plugin);

G_END_DECLS
