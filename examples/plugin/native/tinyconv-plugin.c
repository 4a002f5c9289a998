/* tinyconv-plugin.c: the plugin's entry point.  The file is libmact-native-tinyconv.so, so
 * the descriptor's family is `native` (the directory it is installed in, and no prefix in
 * type names) and its name `tinyconv` (the rest of the file name). */
#include <mact/mact.h>

#include "tiny-conv-net.h"

/* Runs once, when a config first asks the registry for a native type: only registers
 * types (no weights, no threads), and fails with the GError of mact_plugin_add_type(). */
static gboolean
tinyconv_init (MactPlugin *plugin, GError **error)
{
  return mact_plugin_add_type (plugin, "TinyConvNet", EXAMPLE_TYPE_TINY_CONV_NET, error);
}

MACT_PLUGIN_DEFINE (native, tinyconv,
                    "TinyConvNet: a small 2D backbone of conv-bn-relu stages (SDK example)",
                    tinyconv_init, "1.0.0", "LGPL-2.1-or-later",
                    "mact examples/plugin")
