/* mact-config.h: mmaction2-style model configs in JSON. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>

G_BEGIN_DECLS

/**
 * MACT_CONFIG_ERROR:
 *
 * Error domain for configs.  Errors in this domain are from #MactConfigError.
 */
#define MACT_CONFIG_ERROR (mact_config_error_quark ())

/**
 * MactConfigError:
 * @MACT_CONFIG_ERROR_PARSE: the file is not valid JSON or cannot be read.
 * @MACT_CONFIG_ERROR_INVALID: the structure is wrong (not an object, no `type`).
 * @MACT_CONFIG_ERROR_UNKNOWN_KEY: a key is not an argument of the block.
 * @MACT_CONFIG_ERROR_WRONG_TYPE: a value has the wrong JSON type for its argument.
 * @MACT_CONFIG_ERROR_MISSING_KEY: a required argument is missing.
 * @MACT_CONFIG_ERROR_INVALID_VALUE: a value has the right type but is not allowed
 *   (out of range, unknown enum nick).
 *
 * Error codes in the %MACT_CONFIG_ERROR domain.  Messages name the block and the key.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_CONFIG_ERROR_PARSE,
  MACT_CONFIG_ERROR_INVALID,
  MACT_CONFIG_ERROR_UNKNOWN_KEY,
  MACT_CONFIG_ERROR_WRONG_TYPE,
  MACT_CONFIG_ERROR_MISSING_KEY,
  MACT_CONFIG_ERROR_INVALID_VALUE,
} MactConfigError;

MACT_AVAILABLE_IN_0_1
GQuark    mact_config_error_quark   (void);

MACT_AVAILABLE_IN_0_1
JsonNode *mact_config_load_file     (const char    *path,
                                     GError       **error);
MACT_AVAILABLE_IN_0_1
JsonNode *mact_config_load_data     (const char    *data,
                                     gssize         length,
                                     GError       **error);
MACT_AVAILABLE_IN_0_1
JsonNode *mact_config_copy          (JsonNode      *node);
MACT_AVAILABLE_IN_0_1
const char *mact_config_describe_value (JsonNode   *node);
MACT_AVAILABLE_IN_0_1
gboolean  mact_config_value_to_gvalue (JsonNode    *value,
                                       GParamSpec  *pspec,
                                       const char  *block,
                                       GValue      *out,
                                       GError     **error);

G_END_DECLS
