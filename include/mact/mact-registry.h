/* mact-registry.h: from type names to block types, loading plugin families lazily. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <json-glib/json-glib.h>
#include <mact/mact-plugin.h>
#include <mact/mact-module.h>

G_BEGIN_DECLS

/**
 * MACT_REGISTRY_ERROR:
 *
 * Error domain for type lookups.  Errors in this domain are from #MactRegistryError.
 */
#define MACT_REGISTRY_ERROR (mact_registry_error_quark ())

/**
 * MactRegistryError:
 * @MACT_REGISTRY_ERROR_INVALID_NAME: not a valid `[family.]Name` type name.
 * @MACT_REGISTRY_ERROR_UNKNOWN_FAMILY: the prefix names no family (the message lists the
 *   families that exist).
 * @MACT_REGISTRY_ERROR_NOT_FOUND: no plugin provides the type (the message lists the
 *   directories searched and the plugins of that family that failed to load).
 * @MACT_REGISTRY_ERROR_WRONG_KIND: the type exists but is not of the kind asked for.
 *
 * Error codes in the %MACT_REGISTRY_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_REGISTRY_ERROR_INVALID_NAME,
  MACT_REGISTRY_ERROR_UNKNOWN_FAMILY,
  MACT_REGISTRY_ERROR_NOT_FOUND,
  MACT_REGISTRY_ERROR_WRONG_KIND,
} MactRegistryError;

MACT_AVAILABLE_IN_0_1
GQuark mact_registry_error_quark (void);

#define MACT_TYPE_REGISTRY (mact_registry_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactRegistry, mact_registry, MACT, REGISTRY, GObject)

MACT_AVAILABLE_IN_0_1
MactRegistry *mact_registry_get_default         (void);
MACT_AVAILABLE_IN_0_1
MactRegistry *mact_registry_new                 (gboolean       use_environment);
MACT_AVAILABLE_IN_0_1
void          mact_registry_prepend_search_path (MactRegistry  *self,
                                                 const char    *path);
MACT_AVAILABLE_IN_0_1
gchar       **mact_registry_get_search_path     (MactRegistry  *self);
MACT_AVAILABLE_IN_0_1
gboolean      mact_registry_add_static_plugin   (MactRegistry  *self,
                                                 const MactPluginDesc *desc,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
gboolean      mact_registry_parse_type_name     (const char    *type_name,
                                                 gchar        **family,
                                                 gchar        **name,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
GType         mact_registry_lookup_type         (MactRegistry  *self,
                                                 const char    *type_name,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
gchar       **mact_registry_list_types          (MactRegistry  *self,
                                                 const char    *family,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
GPtrArray    *mact_registry_list_plugins        (MactRegistry  *self,
                                                 const char    *family);
MACT_AVAILABLE_IN_0_1
gchar       **mact_registry_dup_load_errors     (MactRegistry  *self,
                                                 const char    *family);
MACT_AVAILABLE_IN_0_1
GError       *mact_registry_dup_load_error      (MactRegistry  *self,
                                                 const char    *file);
MACT_AVAILABLE_IN_0_1
gboolean      mact_registry_family_is_loaded    (MactRegistry  *self,
                                                 const char    *family);
MACT_AVAILABLE_IN_0_1
gchar       **mact_registry_list_plugin_files   (MactRegistry  *self,
                                                 const char    *family);
MACT_AVAILABLE_IN_0_1
gboolean      mact_registry_load_plugin_file    (MactRegistry  *self,
                                                 const char    *path,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
MactModule   *mact_registry_create_block        (MactRegistry  *self,
                                                 const char    *type_name,
                                                 GType          required_kind,
                                                 guint          n_properties,
                                                 const char   **names,
                                                 const GValue  *values,
                                                 GError       **error);
MACT_AVAILABLE_IN_0_1
const char   *mact_registry_type_name_of        (GType          type);
MACT_AVAILABLE_IN_0_1
const char   *mact_registry_kind_name_of        (GType          type);
MACT_AVAILABLE_IN_0_1
gchar       **mact_registry_list_families       (MactRegistry  *self);
MACT_AVAILABLE_IN_0_1
MactModule   *mact_registry_build_from_json     (MactRegistry  *self,
                                                 JsonNode      *config,
                                                 GType          required_kind,
                                                 GError       **error);

G_END_DECLS
