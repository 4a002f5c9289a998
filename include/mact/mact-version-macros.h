/* mact-version-macros.h: symbol visibility and availability annotations.
 *
 * Every public symbol carries MACT_AVAILABLE_IN_x_y.  The library is built with hidden
 * default visibility (-fvisibility=hidden), so only annotated symbols are exported: the
 * library's ABI is exactly what the headers declare, and helpers shared between its
 * source files stay private however they are named.
 */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib.h>
#include <mact/mact-version.h>

/* Inside the library a declaration marks its symbol for export; outside it is a plain
 * extern declaration. */
#ifndef _MACT_EXTERN
# if defined(MACT_COMPILATION)
#  define _MACT_EXTERN __attribute__((visibility ("default"))) extern
# else
#  define _MACT_EXTERN extern
# endif
#endif

/**
 * MACT_VERSION_0_1:
 *
 * The encoded version 0.1, for %MACT_VERSION_MIN_REQUIRED and %MACT_VERSION_MAX_ALLOWED.
 *
 * Since: 0.1
 */
#define MACT_VERSION_0_1 (MACT_ENCODE_VERSION (0, 1))

/**
 * MACT_VERSION_CUR_STABLE:
 *
 * The encoded major.minor version of the headers.
 *
 * Since: 0.1
 */
#define MACT_VERSION_CUR_STABLE (MACT_ENCODE_VERSION (MACT_MAJOR_VERSION, MACT_MINOR_VERSION))

/**
 * MACT_VERSION_MIN_REQUIRED:
 *
 * Define before including <mact/mact.h> to the oldest version (e.g. %MACT_VERSION_0_1)
 * the program supports; defaults to %MACT_VERSION_CUR_STABLE.
 *
 * Since: 0.1
 */
#ifndef MACT_VERSION_MIN_REQUIRED
# define MACT_VERSION_MIN_REQUIRED (MACT_VERSION_CUR_STABLE)
#endif

/**
 * MACT_VERSION_MAX_ALLOWED:
 *
 * Define before including <mact/mact.h> to the newest version whose API the program may
 * use: symbols added later then fail to compile.  Defaults to %MACT_VERSION_CUR_STABLE.
 *
 * Since: 0.1
 */
#ifndef MACT_VERSION_MAX_ALLOWED
# define MACT_VERSION_MAX_ALLOWED (MACT_VERSION_CUR_STABLE)
#endif

/**
 * MACT_DEPRECATED:
 *
 * Marks an exported symbol as deprecated.
 *
 * Since: 0.1
 */
#define MACT_DEPRECATED _MACT_EXTERN G_DEPRECATED

/**
 * MACT_DEPRECATED_FOR:
 * @f: the replacement
 *
 * Marks an exported symbol as deprecated in favour of @f.
 *
 * Since: 0.1
 */
#define MACT_DEPRECATED_FOR(f) _MACT_EXTERN G_DEPRECATED_FOR (f)

/**
 * MACT_UNAVAILABLE:
 * @maj: the major version that added the symbol
 * @min: the minor version that added the symbol
 *
 * Marks an exported symbol that is newer than %MACT_VERSION_MAX_ALLOWED.
 *
 * Since: 0.1
 */
#define MACT_UNAVAILABLE(maj, min) _MACT_EXTERN G_UNAVAILABLE (maj, min)

/**
 * MACT_AVAILABLE_IN_0_1:
 *
 * Marks an exported symbol that appeared in mact 0.1.
 *
 * Since: 0.1
 */
#if MACT_VERSION_MAX_ALLOWED < MACT_VERSION_0_1
# define MACT_AVAILABLE_IN_0_1 MACT_UNAVAILABLE (0, 1)
#else
# define MACT_AVAILABLE_IN_0_1 _MACT_EXTERN
#endif

/**
 * MACT_AVAILABLE_IN_ALL:
 *
 * Marks a symbol that exists in every version of the library.
 *
 * Since: 0.1
 */
#define MACT_AVAILABLE_IN_ALL _MACT_EXTERN
