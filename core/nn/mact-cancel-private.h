/* mact-cancel-private.h: the cancellable of the work running on this thread (not
 * installed).
 *
 * Forward passes and pipelines have no GCancellable argument: a plugin author's forward
 * must not have to pass one through every layer.  Instead the entry points that take one
 * (mact_recognizer_classify(), the async functions) make it current for their thread,
 * and mact_module_forward() and the pipeline check it before every layer and step.  The
 * value is per thread, so many threads classifying at once each see their own. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Makes @cancellable current for this thread and returns the previous one, to give back
 * to mact_cancel_scope_end().  A NULL @cancellable keeps the current one (an outer
 * scope's cancellable still applies inside an inner call that has none). */
GCancellable *mact_cancel_scope_begin (GCancellable *cancellable);
void          mact_cancel_scope_end   (GCancellable *previous);
/* FALSE with G_IO_ERROR_CANCELLED ("@what: cancelled") when this thread's cancellable is
 * cancelled. */
gboolean      mact_cancel_check       (const char *what, GError **error);

G_END_DECLS
