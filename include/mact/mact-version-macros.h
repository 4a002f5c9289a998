/* mact-version-macros.h: symbol visibility and availability annotations.
 *
 * Every public symbol carries MACT_AVAILABLE_IN_x_y.  The library is built with hidden
 * default visibility, so only annotated symbols are exported.
 */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib.h>
#include <mact/mact-version.h>

#ifndef _MACT_EXTERN
# if defined(MACT_COMPILATION)
#  define _MACT_EXTERN __attribute__((visibility ("default"))) extern
# else
#  define _MACT_EXTERN extern
# endif
#endif

#define MACT_VERSION_0_1 (MACT_ENCODE_VERSION (0, 1))
#define MACT_VERSION_CUR_STABLE (MACT_ENCODE_VERSION (MACT_MAJOR_VERSION, MACT_MINOR_VERSION))

#ifndef MACT_VERSION_MIN_REQUIRED
# define MACT_VERSION_MIN_REQUIRED (MACT_VERSION_CUR_STABLE)
#endif
#ifndef MACT_VERSION_MAX_ALLOWED
# define MACT_VERSION_MAX_ALLOWED (MACT_VERSION_CUR_STABLE)
#endif

#define MACT_DEPRECATED _MACT_EXTERN G_DEPRECATED
#define MACT_DEPRECATED_FOR(f) _MACT_EXTERN G_DEPRECATED_FOR (f)
#define MACT_UNAVAILABLE(maj, min) _MACT_EXTERN G_UNAVAILABLE (maj, min)

#if MACT_VERSION_MAX_ALLOWED < MACT_VERSION_0_1
# define MACT_AVAILABLE_IN_0_1 MACT_UNAVAILABLE (0, 1)
#else
# define MACT_AVAILABLE_IN_0_1 _MACT_EXTERN
#endif

/**
 * MACT_AVAILABLE_IN_ALL:
 *
 * Marks a symbol that exists in every version of the library.
 */
#define MACT_AVAILABLE_IN_ALL _MACT_EXTERN
