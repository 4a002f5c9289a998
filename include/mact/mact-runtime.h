/* mact-runtime.h: library-wide runtime settings: versions and the thread count. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib.h>
#include <mact/mact-version-macros.h>

G_BEGIN_DECLS

MACT_AVAILABLE_IN_0_1
guint mact_get_major_version (void);
MACT_AVAILABLE_IN_0_1
guint mact_get_minor_version (void);
MACT_AVAILABLE_IN_0_1
guint mact_get_micro_version (void);

MACT_AVAILABLE_IN_0_1
void  mact_set_num_threads (gint n_threads);
MACT_AVAILABLE_IN_0_1
gint  mact_get_num_threads (void);

G_END_DECLS
