/* tiny-conv-net.h: TinyConvNet, a small 2D backbone of conv-bn-relu stages. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* The GType lives in this project's own namespace ("Example"), not mact's: GType names are
 * global to the process, and mact's plugins use Mact<Family><Name>. */
#define EXAMPLE_TYPE_TINY_CONV_NET (example_tiny_conv_net_get_type ())
G_DECLARE_FINAL_TYPE (ExampleTinyConvNet, example_tiny_conv_net, EXAMPLE, TINY_CONV_NET,
                      MactBackbone)

G_END_DECLS
