/* fuzz-common.h: what the libFuzzer targets in fuzz/ share.
 *
 * Each target is a file with LLVMFuzzerTestOneInput() (and LLVMFuzzerInitialize() when it
 * needs set-up), linked with -fsanitize=fuzzer against the instrumented libmact; see
 * fuzz/meson.build for the build and tools/run-fuzzers.sh for running them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <mact/mact.h>

G_BEGIN_DECLS

/* Once per process: makes GLib criticals fatal (a g_return_if_fail() hit by library code
 * on hostile input is a bug, and the fuzzer should report it as a crash), keeps warnings,
 * debug and info messages quiet, and uses one compute thread. */
void        mact_fuzz_init              (void);

/* An anonymous in-memory file (memfd) holding @data, for the entry points that only take
 * a path.  Returns its descriptor and stores "/proc/self/fd/N" in @path (at least 32
 * bytes); close the descriptor when done.  Aborts if the kernel has no memfd (nothing to
 * fuzz then). */
int         mact_fuzz_memfd             (const uint8_t *data, size_t size,
                                         const char *name, char *path, size_t path_size);

/* Whether @node stays within the size limits a target sets before building from it:
 * nesting at most @max_depth, integers at most @max_integer and other numbers at most
 * @max_double in magnitude, at most @max_nodes nodes, and no string value equal to one of
 * @denied (NULL-terminated, may be NULL).  A target uses it to skip inputs that would
 * only make the build huge or slow (allocating gigabytes or initialising a ResNet-152 is
 * not a parser bug) while keeping everything else. */
gboolean    mact_fuzz_json_is_small     (JsonNode *node, guint max_depth, gint64 max_integer,
                                         double max_double, guint max_nodes,
                                         const char *const *denied);

/* Whether the JSON text @data nests at most @max_depth arrays and objects (strings are
 * skipped); for targets that hand text to json-glib directly, whose parser recurses. */
gboolean    mact_fuzz_json_text_is_shallow (const uint8_t *data, size_t size,
                                            guint max_depth);

G_END_DECLS
