/* mact-conv-winograd-private.h: the Winograd F(4x4, 3x3) convolution engine
 * (mact-conv-winograd.c), used by mact-ops-conv.c for stride-1 convolutions whose spatial
 * kernel is 3x3. */
#pragma once

#include "mact-tensor-private.h"

G_BEGIN_DECLS

/* One convolution, stride 1 and dilation 1 everywhere, groups 1: input [N, Cin, D, H, W],
 * filter [Cout, Cin, kd, 3, 3], output [N, Cout, OD, OH, OW].  With @transposed the filter
 * buffer holds the forward filter [Cin, Cout, kd, 3, 3] of which this is the input
 * gradient: channels swapped, kernel rotated by 180 degrees in all three axes. */
typedef struct {
  gint64   batch;
  gint64   in_channels, out_channels;
  gint64   in_d, in_h, in_w;
  gint64   out_d, out_h, out_w;
  gint64   kernel_d;
  gint64   pad_d, pad_h, pad_w;
  gboolean transposed;
} MactWinogradConv;

gboolean mact_winograd_conv_supported (const MactWinogradConv *conv);

/* Writes (does not accumulate) @y; @bias may be NULL.  Fails only to allocate its work
 * buffers (%MACT_TENSOR_ERROR_NO_MEMORY, message starting with @op). */
gboolean mact_winograd_conv           (const MactWinogradConv *conv, const char *op,
                                       const float *x, const float *w, const float *bias,
                                       float *y, GError **error);

G_END_DECLS
