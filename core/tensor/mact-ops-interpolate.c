/* mact-ops-interpolate.c: nearest and (bi/tri)linear resampling to a given size.
 *
 * One 3-D implementation serves 1, 2 and 3 spatial dims (missing leading spatial dims
 * have size 1 in and out).  Resampling is separable: for each spatial dim and output
 * index there are one (nearest, or an unchanged size) or two (linear) taps, each an
 * input index and a weight, computed with PyTorch 1.13's float arithmetic so the source
 * indices match it exactly.  An output row is the sum of up to four input rows (the
 * D and H taps), each resampled along W and scaled by its D and H weights; backward
 * scatters the gradient through the same taps.
 */
#include "mact-tensor-private.h"

#include <math.h>
#include <string.h>

typedef struct {
  gint64  planes;         /* N * C */
  gint64  in[3];          /* D, H, W (leading ones are 1 for fewer spatial dims) */
  gint64  out[3];
  gint    taps[3];        /* 1 or 2 */
  gint64 *idx[3][2];      /* per output index: input index of each tap */
  float  *weight[3][2];   /* per output index: weight of each tap */
} InterpGeom;

static void
interp_geom_free (gpointer data)
{
  InterpGeom *geom = data;

  if (geom == NULL)
    return;
  for (gint i = 0; i < 3; i++)
    for (gint t = 0; t < 2; t++)
      {
        g_free (geom->idx[i][t]);
        g_free (geom->weight[i][t]);
      }
  g_free (geom);
}

/* PyTorch's nearest_idx(): floor(dst * (in / out)) in float, clamped to in - 1. */
static void
interp_fill_nearest (InterpGeom *geom, gint i)
{
  gint64 in = geom->in[i], out = geom->out[i];
  float scale = (float) in / (float) out;

  geom->taps[i] = 1;
  for (gint64 o = 0; o < out; o++)
    {
      gint64 src;
      if (out == in)
        src = o;
      else if (out == 2 * in)
        src = o >> 1;
      else
        src = MIN ((gint64) floorf ((float) o * scale), in - 1);
      geom->idx[i][0][o] = src;
      geom->weight[i][0][o] = 1.0f;
    }
}

/* PyTorch's area_pixel_compute_scale() / area_pixel_compute_source_index() /
 * compute_source_index_and_lambda() for a given output size (no scale factor). */
static void
interp_fill_linear (InterpGeom *geom, gint i, gboolean align_corners)
{
  gint64 in = geom->in[i], out = geom->out[i];
  float scale;

  if (in == out)
    {
      /* PyTorch copies: lambda0 = 1, lambda1 = 0. */
      geom->taps[i] = 1;
      for (gint64 o = 0; o < out; o++)
        {
          geom->idx[i][0][o] = o;
          geom->weight[i][0][o] = 1.0f;
        }
      return;
    }

  if (align_corners)
    scale = out > 1 ? (float) (in - 1) / (float) (out - 1) : 0.0f;
  else
    scale = (float) in / (float) out;

  geom->taps[i] = 2;
  for (gint64 o = 0; o < out; o++)
    {
      float src;
      if (align_corners)
        src = scale * (float) o;
      else
        {
          /* PyTorch evaluates this in double (dst_index + 0.5 is a double). */
          src = (float) ((double) scale * ((double) o + 0.5) - 0.5);
          if (src < 0.0f)
            src = 0.0f;
        }
      gint64 i0 = MIN ((gint64) src, in - 1);
      gint64 i1 = i0 + (i0 < in - 1 ? 1 : 0);
      float l1 = CLAMP (src - (float) i0, 0.0f, 1.0f);

      geom->idx[i][0][o] = i0;
      geom->idx[i][1][o] = i1;
      geom->weight[i][0][o] = 1.0f - l1;
      geom->weight[i][1][o] = l1;
    }
}

typedef struct {
  const InterpGeom *geom;
  const float      *src;   /* forward: input; backward: grad output */
  float            *dst;   /* forward: output; backward: grad input */
} InterpJob;

/* Adds w * (the W-resampled input row @row) to the output row @y. */
static inline void
interp_row_forward (const InterpGeom *g, const float *row, float w, float *y)
{
  const gint64 *i0 = g->idx[2][0], *i1 = g->idx[2][1];
  const float *w0 = g->weight[2][0], *w1 = g->weight[2][1];
  gint64 ow_n = g->out[2];

  if (g->taps[2] == 2)
    for (gint64 ow = 0; ow < ow_n; ow++)
      y[ow] += w * (row[i0[ow]] * w0[ow] + row[i1[ow]] * w1[ow]);
  else
    for (gint64 ow = 0; ow < ow_n; ow++)
      y[ow] += w * row[i0[ow]];
}

/* Adds w * @go, resampled back along W, to the input gradient row @row. */
static inline void
interp_row_backward (const InterpGeom *g, const float *go, float w, float *row)
{
  const gint64 *i0 = g->idx[2][0], *i1 = g->idx[2][1];
  const float *w0 = g->weight[2][0], *w1 = g->weight[2][1];
  gint64 ow_n = g->out[2];

  if (g->taps[2] == 2)
    for (gint64 ow = 0; ow < ow_n; ow++)
      {
        float v = w * go[ow];
        row[i0[ow]] += v * w0[ow];
        row[i1[ow]] += v * w1[ow];
      }
  else
    for (gint64 ow = 0; ow < ow_n; ow++)
      row[i0[ow]] += w * go[ow];
}

/* Forward over output rows (plane, od, oh): each output row is a weighted sum of up to
 * four input rows, each resampled along W. */
static void
interp_forward_rows (gint64 begin, gint64 end, gpointer data)
{
  InterpJob *job = data;
  const InterpGeom *g = job->geom;
  gint64 H = g->in[1], W = g->in[2];
  gint64 in_plane = g->in[0] * H * W;

  for (gint64 r = begin; r < end; r++)
    {
      gint64 oh = r % g->out[1];
      gint64 od = (r / g->out[1]) % g->out[0];
      gint64 plane = r / (g->out[1] * g->out[0]);
      const float *x = job->src + plane * in_plane;
      float *y = job->dst + r * g->out[2];

      memset (y, 0, sizeof (float) * g->out[2]);
      for (gint a = 0; a < g->taps[0]; a++)
        for (gint b = 0; b < g->taps[1]; b++)
          {
            const float *row = x + (g->idx[0][a][od] * H + g->idx[1][b][oh]) * W;
            interp_row_forward (g, row, g->weight[0][a][od] * g->weight[1][b][oh], y);
          }
    }
}

/* Backward over planes: taps of neighbouring outputs share inputs. */
static void
interp_backward_planes (gint64 begin, gint64 end, gpointer data)
{
  InterpJob *job = data;
  const InterpGeom *g = job->geom;
  gint64 H = g->in[1], W = g->in[2];
  gint64 in_plane = g->in[0] * H * W;
  gint64 out_plane = g->out[0] * g->out[1] * g->out[2];

  for (gint64 plane = begin; plane < end; plane++)
    {
      const float *go = job->src + plane * out_plane;
      float *gi = job->dst + plane * in_plane;

      for (gint64 od = 0; od < g->out[0]; od++)
        for (gint64 oh = 0; oh < g->out[1]; oh++, go += g->out[2])
          for (gint a = 0; a < g->taps[0]; a++)
            for (gint b = 0; b < g->taps[1]; b++)
              {
                float *row = gi + (g->idx[0][a][od] * H + g->idx[1][b][oh]) * W;
                interp_row_backward (g, go, g->weight[0][a][od] * g->weight[1][b][oh], row);
              }
    }
}

static gint64
interp_grain (gint64 work_per_item)
{
  return MAX (1, 32768 / MAX (work_per_item, 1));
}

static gboolean
interp_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                 GError **error)
{
  const InterpGeom *g = node->ctx;

  if (!node->needs_grad[0])
    return TRUE;
  MactTensor *gi = mact_tensor_new_with_shape (node->edges[0].ndim, node->edges[0].shape,
                                               TRUE, error);
  if (gi == NULL)
    return FALSE;

  InterpJob job = { g, mact_tensor_data (grad_output), mact_tensor_data (gi) };
  mact_parallel_for (g->planes,
                     interp_grain (g->out[0] * g->out[1] * g->out[2]
                                   * g->taps[0] * g->taps[1] * g->taps[2]),
                     interp_backward_planes, &job);
  grad_inputs[0] = gi;
  return TRUE;
}

/**
 * mact_interpolate:
 * @input: a (N, C, W), (N, C, H, W) or (N, C, D, H, W) tensor
 * @n_sizes: the number of entries of @output_size: the number of spatial dims of
 *   @input (1, 2 or 3)
 * @output_size: (array length=n_sizes): the output's spatial size
 * @mode: %MACT_INTERPOLATE_NEAREST or %MACT_INTERPOLATE_LINEAR
 * @align_corners: for %MACT_INTERPOLATE_LINEAR, map the corner samples of input and
 *   output onto each other (PyTorch's `align_corners=True`) instead of their pixel
 *   areas; must be %FALSE for %MACT_INTERPOLATE_NEAREST
 * @error: return location for a #GError, or %NULL
 *
 * Resamples the spatial dims of @input to @output_size, as PyTorch 1.13's
 * `F.interpolate(input, size=output_size, mode=..., align_corners=...)`.
 *
 * With %MACT_INTERPOLATE_NEAREST, output index o reads input index
 * floor(o * (I / O)) (computed in float, clamped to I - 1).  With
 * %MACT_INTERPOLATE_LINEAR (linear, bilinear or trilinear by the input's rank), the
 * source coordinate is o * (I - 1) / (O - 1) with @align_corners (0 when O = 1), else
 * max((o + 0.5) * I / O - 0.5, 0), and the two nearest input samples are blended.
 *
 * Errors (domain %MACT_TENSOR_ERROR):
 * - %MACT_TENSOR_ERROR_SHAPE: @input is not 3-D, 4-D or 5-D, has an empty dimension,
 *   @n_sizes differs from its number of spatial dims, or an @output_size entry is not
 *   positive;
 * - %MACT_TENSOR_ERROR_INVALID_ARGUMENT: @mode is not a #MactInterpolateMode, or
 *   @align_corners is %TRUE with %MACT_INTERPOLATE_NEAREST.
 *
 * Returns: (transfer full) (nullable): the resampled (N, C, @output_size...) tensor, or
 *   %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_interpolate (MactTensor *input, gint n_sizes, const gint64 *output_size,
                  MactInterpolateMode mode, gboolean align_corners, GError **error)
{
  static const char *op = "mact_interpolate";

  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (output_size != NULL || n_sizes <= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gint ndim = input->ndim;
  if (ndim < 3 || ndim > 5)
    {
      g_autofree gchar *s = mact_shape_format (ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected a 3-D (N, C, W), 4-D (N, C, H, W) or 5-D (N, C, D, H, W) "
                   "input, got shape %s", op, s);
      return NULL;
    }
  for (gint i = 0; i < ndim; i++)
    if (input->shape[i] <= 0)
      {
        g_autofree gchar *s = mact_shape_format (ndim, input->shape);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                     "%s: expected an input without empty dimensions, got shape %s", op, s);
        return NULL;
      }
  gint n_spatial = ndim - 2;
  if (n_sizes != n_spatial)
    {
      g_autofree gchar *s = mact_shape_format (ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected %d output sizes for input of shape %s, got %d", op,
                   n_spatial, s, n_sizes);
      return NULL;
    }
  for (gint i = 0; i < n_sizes; i++)
    if (output_size[i] <= 0)
      {
        g_autofree gchar *s = mact_shape_format (n_sizes, output_size);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                     "%s: expected a positive output_size, got %s", op, s);
        return NULL;
      }
  if (mode != MACT_INTERPOLATE_NEAREST && mode != MACT_INTERPOLATE_LINEAR)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: expected mode MACT_INTERPOLATE_NEAREST or MACT_INTERPOLATE_LINEAR, "
                   "got %d", op, (gint) mode);
      return NULL;
    }
  if (mode == MACT_INTERPOLATE_NEAREST && align_corners)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: align_corners can only be set with MACT_INTERPOLATE_LINEAR, "
                   "got it with MACT_INTERPOLATE_NEAREST", op);
      return NULL;
    }

  gint64 shape[MACT_MAX_DIMS];
  shape[0] = input->shape[0];
  shape[1] = input->shape[1];
  for (gint i = 0; i < n_spatial; i++)
    shape[2 + i] = output_size[i];
  MactTensor *out = mact_tensor_new_empty (ndim, shape, error);
  if (out == NULL)
    return NULL;

  InterpGeom *geom = g_new0 (InterpGeom, 1);
  geom->planes = input->shape[0] * input->shape[1];
  for (gint i = 0; i < 3; i++)
    {
      gint j = i - (3 - n_spatial);   /* index into the spatial dims, < 0 if missing */
      geom->in[i] = j >= 0 ? input->shape[2 + j] : 1;
      geom->out[i] = j >= 0 ? output_size[j] : 1;
      for (gint t = 0; t < 2; t++)
        {
          geom->idx[i][t] = g_new0 (gint64, geom->out[i]);
          geom->weight[i][t] = g_new0 (float, geom->out[i]);
        }
      if (mode == MACT_INTERPOLATE_NEAREST)
        interp_fill_nearest (geom, i);
      else
        interp_fill_linear (geom, i, align_corners);
    }

  g_autoptr(MactTensor) x = mact_tensor_contiguous (input);
  InterpJob job = { geom, mact_tensor_data (x), mact_tensor_data (out) };
  mact_parallel_for (geom->planes * geom->out[0] * geom->out[1],
                     interp_grain (geom->out[2] * geom->taps[0] * geom->taps[1]
                                   * geom->taps[2]),
                     interp_forward_rows, &job);

  MactTensor *inputs[1] = { input };
  if (mact_autograd_wants (inputs, 1))
    {
      MactNode *node = mact_node_new (mode == MACT_INTERPOLATE_NEAREST
                                      ? "UpsampleNearestBackward"
                                      : "UpsampleLinearBackward",
                                      interp_backward, inputs, 1);
      mact_node_set_ctx (node, geom, interp_geom_free);
      mact_tensor_set_grad_fn (out, node);
    }
  else
    interp_geom_free (geom);
  return out;
}
