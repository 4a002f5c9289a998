/* mact-ops-pool.c: max, average and adaptive average pooling over 2 or 3 spatial dims.
 *
 * Every pool is computed by one 3-D implementation; the 2-D ops are the 3-D ones with a
 * depth of 1 (kernel 1, stride 1, padding 0).  A pool is described by a PoolGeom: for
 * each spatial dim and each output index, the first input index of the window that lies
 * inside the input, how many taps of the window lie inside it, the step between taps
 * (the dilation for max pooling, 1 otherwise) and, for averages, that dim's factor of
 * the divisor.  The divisor is always a product of per-dim factors, which is what makes
 * one table per dim enough for PyTorch's rules (count_include_pad, windows clipped by
 * ceil_mode, adaptive windows).
 */
#include "mact-tensor-private.h"

#include <math.h>

typedef enum {
  POOL_MAX,
  POOL_AVG,
} PoolKind;

typedef struct {
  gint64  planes;       /* product of the non-spatial dims (N * C, or C) */
  gint64  in[3];        /* D, H, W of the input (D = 1 for 2-D pools) */
  gint64  out[3];
  gint64  step[3];      /* distance between taps: the dilation, or 1 */
  gint64 *first[3];     /* per output index: first tap inside the input */
  gint64 *count[3];     /* per output index: number of taps inside the input */
  gint64 *divisor[3];   /* per output index: this dim's factor of the divisor */
  gint64 *buf;
} PoolGeom;

static void
pool_geom_free (gpointer data)
{
  PoolGeom *geom = data;

  if (geom == NULL)
    return;
  g_free (geom->buf);
  g_free (geom);
}

/* Floor division for a possibly negative numerator and a positive divisor. */
static gint64
floor_div (gint64 a, gint64 b)
{
  gint64 q = a / b;
  if ((a % b != 0) && (a < 0))
    q--;
  return q;
}

/* PyTorch's pooling_output_shape(): with ceil_mode the last window must start inside
 * the input or the left padding. */
static gint64
pool_output_size (gint64 in, gint64 k, gint64 s, gint64 p, gint64 d, gboolean ceil_mode)
{
  gint64 out = floor_div (in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p)
    out--;
  return out;
}

static PoolGeom *
pool_geom_new (gint64 planes, const gint64 *in, const gint64 *out)
{
  PoolGeom *geom = g_new0 (PoolGeom, 1);
  gint64 total = out[0] + out[1] + out[2];

  geom->planes = planes;
  geom->buf = g_new (gint64, 3 * total);
  gint64 *p = geom->buf;
  for (gint i = 0; i < 3; i++)
    {
      geom->in[i] = in[i];
      geom->out[i] = out[i];
      geom->step[i] = 1;
      geom->first[i] = p;
      p += out[i];
      geom->count[i] = p;
      p += out[i];
      geom->divisor[i] = p;
      p += out[i];
    }
  return geom;
}

/* Fills dim @i of @geom for a strided (max or average) window. */
static void
pool_geom_fill_strided (PoolGeom *geom, gint i, gint64 k, gint64 s, gint64 p, gint64 d,
                        gboolean count_include_pad)
{
  gint64 in = geom->in[i];

  geom->step[i] = d;
  for (gint64 o = 0; o < geom->out[i]; o++)
    {
      gint64 start = o * s - p;
      /* Taps t in [0, k) sit at start + t * d; keep those in [0, in). */
      gint64 lo = start >= 0 ? 0 : (-start + d - 1) / d;
      gint64 hi = start >= in ? 0 : MIN (k, (in - start + d - 1) / d);
      gint64 count = MAX (hi - lo, 0);

      geom->first[i][o] = start + lo * d;
      geom->count[i][o] = count;
      /* PyTorch: the window is first clipped to the padded input, and that size is
       * the divisor with count_include_pad; otherwise the taps inside the input. */
      if (count_include_pad)
        geom->divisor[i][o] = MIN (start + k, in + p) - start;
      else
        geom->divisor[i][o] = count;
    }
}

/* Fills dim @i of @geom for an adaptive window:
 * [floor(o * in / out), ceil((o + 1) * in / out)). */
static void
pool_geom_fill_adaptive (PoolGeom *geom, gint i)
{
  gint64 in = geom->in[i];
  gint64 out = geom->out[i];

  for (gint64 o = 0; o < out; o++)
    {
      gint64 start = (o / out) * in + ((o % out) * in) / out;
      gint64 end = 1 + ((o + 1) * in - 1) / out;

      geom->first[i][o] = start;
      geom->count[i][o] = end - start;
      geom->divisor[i][o] = end - start;
    }
}

/* ---- argument checking ---- */

static const char *
pool_layout (gint n_spatial, gboolean batched)
{
  if (n_spatial == 2)
    return batched ? "(N, C, H, W)" : "(C, H, W)";
  return batched ? "(N, C, D, H, W)" : "(C, D, H, W)";
}

/* Checks that @input is a (batched or not) tensor with @n_spatial spatial dims and no
 * empty dim; fills @planes and the 3-D spatial size @in (depth 1 for 2-D). */
static gboolean
pool_check_input (const char *op, MactTensor *input, gint n_spatial, gint64 *planes,
                  gint64 *in, GError **error)
{
  gint ndim = input->ndim;

  if (ndim != n_spatial + 1 && ndim != n_spatial + 2)
    {
      g_autofree gchar *s = mact_shape_format (ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected a %d-D %s or %d-D %s input, got shape %s", op,
                   n_spatial + 1, pool_layout (n_spatial, FALSE), n_spatial + 2,
                   pool_layout (n_spatial, TRUE), s);
      return FALSE;
    }
  for (gint i = 0; i < ndim; i++)
    if (input->shape[i] <= 0)
      {
        g_autofree gchar *s = mact_shape_format (ndim, input->shape);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                     "%s: expected an input without empty dimensions, got shape %s", op, s);
        return FALSE;
      }

  *planes = 1;
  for (gint i = 0; i < ndim - n_spatial; i++)
    *planes *= input->shape[i];
  in[0] = 1;
  for (gint i = 0; i < n_spatial; i++)
    in[3 - n_spatial + i] = input->shape[ndim - n_spatial + i];
  return TRUE;
}

static gchar *
format_ints (gint n, const gint *v)
{
  GString *s = g_string_new ("(");
  for (gint i = 0; i < n; i++)
    g_string_append_printf (s, i ? ", %d" : "%d", v[i]);
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

/* Validates the parameters of a max or average pool and builds its geometry. */
static PoolGeom *
pool_setup (const char *op, MactTensor *input, gint n_spatial, PoolKind kind,
            const gint *kernel_size, const gint *stride, const gint *padding,
            const gint *dilation, gboolean ceil_mode, gboolean count_include_pad,
            GError **error)
{
  gint64 planes, in[3], out[3];
  gint k[3] = { 1, 1, 1 }, s[3] = { 1, 1, 1 }, p[3] = { 0, 0, 0 }, d[3] = { 1, 1, 1 };
  gint off = 3 - n_spatial;

  if (!pool_check_input (op, input, n_spatial, &planes, in, error))
    return NULL;

  for (gint i = 0; i < n_spatial; i++)
    {
      k[off + i] = kernel_size[i];
      s[off + i] = stride != NULL ? stride[i] : kernel_size[i];
      p[off + i] = padding != NULL ? padding[i] : 0;
      d[off + i] = dilation != NULL ? dilation[i] : 1;
    }

  for (gint i = 0; i < n_spatial; i++)
    if (kernel_size[i] <= 0)
      {
        g_autofree gchar *v = format_ints (n_spatial, kernel_size);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                     "%s: expected a positive kernel_size, got %s", op, v);
        return NULL;
      }
  for (gint i = 0; i < n_spatial; i++)
    if (s[off + i] <= 0)
      {
        g_autofree gchar *v = format_ints (n_spatial, s + off);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                     "%s: expected a positive stride, got %s", op, v);
        return NULL;
      }
  for (gint i = 0; i < n_spatial; i++)
    if (d[off + i] <= 0)
      {
        g_autofree gchar *v = format_ints (n_spatial, d + off);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                     "%s: expected a positive dilation, got %s", op, v);
        return NULL;
      }
  for (gint i = 0; i < n_spatial; i++)
    if (p[off + i] < 0 || p[off + i] > k[off + i] / 2)
      {
        g_autofree gchar *pv = format_ints (n_spatial, p + off);
        g_autofree gchar *kv = format_ints (n_spatial, k + off);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                     "%s: expected padding between 0 and half the kernel_size %s, got %s",
                     op, kv, pv);
        return NULL;
      }

  for (gint i = 0; i < 3; i++)
    {
      out[i] = pool_output_size (in[i], k[i], s[i], p[i], d[i], ceil_mode);
      if (out[i] <= 0)
        {
          g_autofree gchar *is = mact_shape_format (input->ndim, input->shape);
          g_autofree gchar *kv = format_ints (n_spatial, k + off);
          g_autofree gchar *dv = format_ints (n_spatial, d + off);
          g_autofree gchar *pv = format_ints (n_spatial, p + off);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "%s: kernel_size %s with dilation %s is larger than the input %s "
                       "padded by %s (output size %" G_GINT64_FORMAT ")",
                       op, kv, dv, is, pv, out[i]);
          return NULL;
        }
    }

  PoolGeom *geom = pool_geom_new (planes, in, out);
  for (gint i = 0; i < 3; i++)
    pool_geom_fill_strided (geom, i, k[i], s[i], p[i], d[i],
                            kind == POOL_AVG && count_include_pad);
  return geom;
}

static MactTensor *
pool_new_output (MactTensor *input, gint n_spatial, const PoolGeom *geom, GError **error)
{
  gint64 shape[MACT_MAX_DIMS];
  gint ndim = input->ndim;

  for (gint i = 0; i < ndim - n_spatial; i++)
    shape[i] = input->shape[i];
  for (gint i = 0; i < n_spatial; i++)
    shape[ndim - n_spatial + i] = geom->out[3 - n_spatial + i];
  return mact_tensor_new_empty (ndim, shape, error);
}

static gint64
pool_grain (gint64 work_per_item)
{
  return MAX (1, 32768 / MAX (work_per_item, 1));
}

/* ---- max pooling ---- */

/* The argmax of one window in a plane (flat index, -1 if the window is empty) and its
 * value.  Ties keep the first maximum in (d, h, w) order; a NaN wins, as in PyTorch. */
static inline gint64
max_window (const PoolGeom *g, const float *x, gint64 od, gint64 oh, gint64 ow,
            float *value)
{
  gint64 cd = g->count[0][od], ch = g->count[1][oh], cw = g->count[2][ow];
  gint64 fd = g->first[0][od], fh = g->first[1][oh], fw = g->first[2][ow];
  gint64 H = g->in[1], W = g->in[2];
  float best = -INFINITY;
  gint64 best_i = -1;

  if (cd > 0 && ch > 0 && cw > 0)
    best_i = (fd * H + fh) * W + fw;
  for (gint64 a = 0; a < cd; a++)
    for (gint64 b = 0; b < ch; b++)
      {
        gint64 row = ((fd + a * g->step[0]) * H + fh + b * g->step[1]) * W;
        for (gint64 c = 0; c < cw; c++)
          {
            gint64 idx = row + fw + c * g->step[2];
            float v = x[idx];
            if (v > best || isnan (v))
              {
                best = v;
                best_i = idx;
              }
          }
      }
  *value = best;
  return best_i;
}

typedef struct {
  const PoolGeom *geom;
  const float    *x;
  float          *y;
} PoolJob;

/* Backward: job.x is the saved input (max pool only), job.y the gradient of the input. */
typedef struct {
  PoolJob      job;
  const float *go;
} PoolBackwardJob;

/* Forward jobs run over output rows (plane, od, oh). */
static void
max_pool_forward_rows (gint64 begin, gint64 end, gpointer data)
{
  PoolJob *job = data;
  const PoolGeom *g = job->geom;
  gint64 in_plane = g->in[0] * g->in[1] * g->in[2];

  for (gint64 r = begin; r < end; r++)
    {
      gint64 oh = r % g->out[1];
      gint64 od = (r / g->out[1]) % g->out[0];
      gint64 plane = r / (g->out[1] * g->out[0]);
      const float *x = job->x + plane * in_plane;
      float *y = job->y + r * g->out[2];

      for (gint64 ow = 0; ow < g->out[2]; ow++)
        max_window (g, x, od, oh, ow, &y[ow]);
    }
}

/* Backward jobs run over planes: windows overlap, so a plane is written by one thread. */
static void
max_pool_backward_planes (gint64 begin, gint64 end, gpointer data)
{
  PoolBackwardJob *bjob = data;
  const PoolGeom *g = bjob->job.geom;
  gint64 in_plane = g->in[0] * g->in[1] * g->in[2];
  gint64 out_plane = g->out[0] * g->out[1] * g->out[2];

  for (gint64 plane = begin; plane < end; plane++)
    {
      const float *x = bjob->job.x + plane * in_plane;
      float *gi = bjob->job.y + plane * in_plane;
      const float *go = bjob->go + plane * out_plane;

      for (gint64 od = 0; od < g->out[0]; od++)
        for (gint64 oh = 0; oh < g->out[1]; oh++)
          for (gint64 ow = 0; ow < g->out[2]; ow++)
            {
              float v;
              gint64 idx = max_window (g, x, od, oh, ow, &v);
              if (idx >= 0)
                gi[idx] += *go;
              go++;
            }
    }
}

static gboolean
max_pool_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                   GError **error)
{
  const PoolGeom *g = node->ctx;
  MactTensor *x = mact_node_saved (node, 0);

  if (!node->needs_grad[0])
    return TRUE;
  MactTensor *gi = mact_tensor_new_with_shape (node->edges[0].ndim, node->edges[0].shape,
                                               TRUE, error);
  if (gi == NULL)
    return FALSE;

  PoolBackwardJob bjob = {
    { g, mact_tensor_data (x), mact_tensor_data (gi) },
    mact_tensor_data (grad_output),
  };
  mact_parallel_for (g->planes, pool_grain (g->out[0] * g->out[1] * g->out[2] * 4),
                     max_pool_backward_planes, &bjob);
  grad_inputs[0] = gi;
  return TRUE;
}

static MactTensor *
max_pool_impl (const char *op, const char *node_name, gint n_spatial, MactTensor *input,
               const gint *kernel_size, const gint *stride, const gint *padding,
               const gint *dilation, gboolean ceil_mode, GError **error)
{
  PoolGeom *geom = pool_setup (op, input, n_spatial, POOL_MAX, kernel_size, stride,
                               padding, dilation, ceil_mode, FALSE, error);
  if (geom == NULL)
    return NULL;

  MactTensor *out = pool_new_output (input, n_spatial, geom, error);
  if (out == NULL)
    {
      pool_geom_free (geom);
      return NULL;
    }

  g_autoptr(MactTensor) x = mact_tensor_contiguous (input);
  PoolJob job = { geom, mact_tensor_data (x), mact_tensor_data (out) };
  gint64 window = geom->count[0][0] * geom->count[1][0] * geom->count[2][0];
  mact_parallel_for (geom->planes * geom->out[0] * geom->out[1],
                     pool_grain (geom->out[2] * MAX (window, 1)),
                     max_pool_forward_rows, &job);

  MactTensor *inputs[1] = { input };
  if (mact_autograd_wants (inputs, 1))
    {
      MactNode *node = mact_node_new (node_name, max_pool_backward, inputs, 1);
      mact_node_save (node, x);
      mact_node_set_ctx (node, geom, pool_geom_free);
      mact_tensor_set_grad_fn (out, node);
    }
  else
    pool_geom_free (geom);
  return out;
}

/* ---- average pooling (strided and adaptive) ---- */

static void
avg_pool_forward_rows (gint64 begin, gint64 end, gpointer data)
{
  PoolJob *job = data;
  const PoolGeom *g = job->geom;
  gint64 H = g->in[1], W = g->in[2];
  gint64 in_plane = g->in[0] * H * W;

  for (gint64 r = begin; r < end; r++)
    {
      gint64 oh = r % g->out[1];
      gint64 od = (r / g->out[1]) % g->out[0];
      gint64 plane = r / (g->out[1] * g->out[0]);
      const float *x = job->x + plane * in_plane;
      float *y = job->y + r * g->out[2];
      gint64 cd = g->count[0][od], ch = g->count[1][oh];
      gint64 fd = g->first[0][od], fh = g->first[1][oh];
      gint64 div_dh = g->divisor[0][od] * g->divisor[1][oh];

      for (gint64 ow = 0; ow < g->out[2]; ow++)
        {
          gint64 cw = g->count[2][ow], fw = g->first[2][ow];
          float sum = 0.0f;

          if (cd <= 0 || ch <= 0 || cw <= 0)
            {
              y[ow] = 0.0f;
              continue;
            }
          for (gint64 a = 0; a < cd; a++)
            for (gint64 b = 0; b < ch; b++)
              {
                const float *row = x + ((fd + a) * H + fh + b) * W + fw;
                for (gint64 c = 0; c < cw; c++)
                  sum += row[c];
              }
          y[ow] = sum / (float) (div_dh * g->divisor[2][ow]);
        }
    }
}

static void
avg_pool_backward_planes (gint64 begin, gint64 end, gpointer data)
{
  PoolBackwardJob *bjob = data;
  const PoolGeom *g = bjob->job.geom;
  gint64 H = g->in[1], W = g->in[2];
  gint64 in_plane = g->in[0] * H * W;
  gint64 out_plane = g->out[0] * g->out[1] * g->out[2];

  for (gint64 plane = begin; plane < end; plane++)
    {
      float *gi = bjob->job.y + plane * in_plane;
      const float *go = bjob->go + plane * out_plane;

      for (gint64 od = 0; od < g->out[0]; od++)
        for (gint64 oh = 0; oh < g->out[1]; oh++)
          {
            gint64 cd = g->count[0][od], ch = g->count[1][oh];
            gint64 fd = g->first[0][od], fh = g->first[1][oh];
            gint64 div_dh = g->divisor[0][od] * g->divisor[1][oh];

            for (gint64 ow = 0; ow < g->out[2]; ow++, go++)
              {
                gint64 cw = g->count[2][ow], fw = g->first[2][ow];
                if (cd <= 0 || ch <= 0 || cw <= 0)
                  continue;
                float v = *go / (float) (div_dh * g->divisor[2][ow]);
                for (gint64 a = 0; a < cd; a++)
                  for (gint64 b = 0; b < ch; b++)
                    {
                      float *row = gi + ((fd + a) * H + fh + b) * W + fw;
                      for (gint64 c = 0; c < cw; c++)
                        row[c] += v;
                    }
              }
          }
    }
}

static gboolean
avg_pool_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                   GError **error)
{
  const PoolGeom *g = node->ctx;

  if (!node->needs_grad[0])
    return TRUE;
  MactTensor *gi = mact_tensor_new_with_shape (node->edges[0].ndim, node->edges[0].shape,
                                               TRUE, error);
  if (gi == NULL)
    return FALSE;

  PoolBackwardJob bjob = {
    { g, NULL, mact_tensor_data (gi) },
    mact_tensor_data (grad_output),
  };
  mact_parallel_for (g->planes, pool_grain (g->in[0] * g->in[1] * g->in[2] * 4),
                     avg_pool_backward_planes, &bjob);
  grad_inputs[0] = gi;
  return TRUE;
}

/* Runs an average pool described by @geom (ownership taken). */
static MactTensor *
avg_pool_run (const char *node_name, gint n_spatial, MactTensor *input, PoolGeom *geom,
              GError **error)
{
  MactTensor *out = pool_new_output (input, n_spatial, geom, error);
  if (out == NULL)
    {
      pool_geom_free (geom);
      return NULL;
    }

  g_autoptr(MactTensor) x = mact_tensor_contiguous (input);
  PoolJob job = { geom, mact_tensor_data (x), mact_tensor_data (out) };
  gint64 window = geom->count[0][0] * geom->count[1][0] * geom->count[2][0];
  mact_parallel_for (geom->planes * geom->out[0] * geom->out[1],
                     pool_grain (geom->out[2] * MAX (window, 1)),
                     avg_pool_forward_rows, &job);

  MactTensor *inputs[1] = { input };
  if (mact_autograd_wants (inputs, 1))
    {
      MactNode *node = mact_node_new (node_name, avg_pool_backward, inputs, 1);
      mact_node_set_ctx (node, geom, pool_geom_free);
      mact_tensor_set_grad_fn (out, node);
    }
  else
    pool_geom_free (geom);
  return out;
}

static MactTensor *
avg_pool_impl (const char *op, const char *node_name, gint n_spatial, MactTensor *input,
               const gint *kernel_size, const gint *stride, const gint *padding,
               gboolean ceil_mode, gboolean count_include_pad, GError **error)
{
  PoolGeom *geom = pool_setup (op, input, n_spatial, POOL_AVG, kernel_size, stride,
                               padding, NULL, ceil_mode, count_include_pad, error);
  if (geom == NULL)
    return NULL;
  return avg_pool_run (node_name, n_spatial, input, geom, error);
}

static MactTensor *
adaptive_avg_pool_impl (const char *op, const char *node_name, gint n_spatial,
                        MactTensor *input, const gint64 *output_size, GError **error)
{
  gint64 planes, in[3], out[3] = { 1, 1, 1 };

  if (!pool_check_input (op, input, n_spatial, &planes, in, error))
    return NULL;
  for (gint i = 0; i < n_spatial; i++)
    {
      out[3 - n_spatial + i] = output_size[i];
      if (output_size[i] <= 0)
        {
          g_autofree gchar *s = mact_shape_format (n_spatial, output_size);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "%s: expected a positive output_size, got %s", op, s);
          return NULL;
        }
    }

  PoolGeom *geom = pool_geom_new (planes, in, out);
  for (gint i = 0; i < 3; i++)
    pool_geom_fill_adaptive (geom, i);
  return avg_pool_run (node_name, n_spatial, input, geom, error);
}

/* ---- public API ---- */

/**
 * mact_max_pool2d:
 * @input: a (C, H, W) or (N, C, H, W) tensor
 * @kernel_size: (array fixed-size=2): the window size (kH, kW)
 * @stride: (nullable) (array fixed-size=2): the window step (sH, sW); %NULL for
 *   @kernel_size
 * @padding: (nullable) (array fixed-size=2): implicit padding on both sides (pH, pW),
 *   which never wins the maximum; %NULL for 0
 * @dilation: (nullable) (array fixed-size=2): the distance between window taps; %NULL
 *   for 1
 * @ceil_mode: round the output size up instead of down; as in PyTorch, a window that
 *   would start in the right padding is dropped
 * @error: return location for a #GError, or %NULL
 *
 * 2-D max pooling, as PyTorch's `F.max_pool2d`.  The output size along a dim of input
 * size I is floor((I + 2p - d(k - 1) - 1 + (ceil_mode ? s - 1 : 0)) / s) + 1, minus one
 * when @ceil_mode makes the last window start at or past I + p.  On ties the gradient
 * goes to the first maximum of the window in row-major order; a NaN in a window is its
 * maximum.
 *
 * Errors (domain %MACT_TENSOR_ERROR):
 * - %MACT_TENSOR_ERROR_SHAPE: @input is not 3-D or 4-D, has an empty dimension, a
 *   @kernel_size entry is not positive, or the dilated kernel does not fit the padded
 *   input (an output size below 1);
 * - %MACT_TENSOR_ERROR_INVALID_ARGUMENT: a @stride or @dilation entry is not positive,
 *   or a @padding entry is negative or larger than half the kernel size.
 *
 * Returns: (transfer full) (nullable): the pooled tensor, with @input's leading dims,
 *   or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_max_pool2d (MactTensor *input, const gint *kernel_size, const gint *stride,
                 const gint *padding, const gint *dilation, gboolean ceil_mode,
                 GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (kernel_size != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return max_pool_impl ("mact_max_pool2d", "MaxPool2dBackward", 2, input, kernel_size,
                        stride, padding, dilation, ceil_mode, error);
}

/**
 * mact_max_pool3d:
 * @input: a (C, D, H, W) or (N, C, D, H, W) tensor
 * @kernel_size: (array fixed-size=3): the window size (kD, kH, kW)
 * @stride: (nullable) (array fixed-size=3): the window step; %NULL for @kernel_size
 * @padding: (nullable) (array fixed-size=3): implicit padding on both sides, which never
 *   wins the maximum; %NULL for 0
 * @dilation: (nullable) (array fixed-size=3): the distance between window taps; %NULL
 *   for 1
 * @ceil_mode: round the output size up instead of down; as in PyTorch, a window that
 *   would start in the right padding is dropped
 * @error: return location for a #GError, or %NULL
 *
 * 3-D max pooling, as PyTorch's `F.max_pool3d`; see mact_max_pool2d() for the output
 * size and the tie rule (first maximum in (d, h, w) order).
 *
 * Errors (domain %MACT_TENSOR_ERROR):
 * - %MACT_TENSOR_ERROR_SHAPE: @input is not 4-D or 5-D, has an empty dimension, a
 *   @kernel_size entry is not positive, or the dilated kernel does not fit the padded
 *   input (an output size below 1);
 * - %MACT_TENSOR_ERROR_INVALID_ARGUMENT: a @stride or @dilation entry is not positive,
 *   or a @padding entry is negative or larger than half the kernel size.
 *
 * Returns: (transfer full) (nullable): the pooled tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_max_pool3d (MactTensor *input, const gint *kernel_size, const gint *stride,
                 const gint *padding, const gint *dilation, gboolean ceil_mode,
                 GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (kernel_size != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return max_pool_impl ("mact_max_pool3d", "MaxPool3dBackward", 3, input, kernel_size,
                        stride, padding, dilation, ceil_mode, error);
}

/**
 * mact_avg_pool2d:
 * @input: a (C, H, W) or (N, C, H, W) tensor
 * @kernel_size: (array fixed-size=2): the window size (kH, kW)
 * @stride: (nullable) (array fixed-size=2): the window step; %NULL for @kernel_size
 * @padding: (nullable) (array fixed-size=2): implicit zero padding on both sides; %NULL
 *   for 0
 * @ceil_mode: round the output size up instead of down (see mact_max_pool2d())
 * @count_include_pad: divide by the window size including padding rather than by the
 *   number of input elements in the window
 * @error: return location for a #GError, or %NULL
 *
 * 2-D average pooling, as PyTorch's `F.avg_pool2d`.  The divisor follows PyTorch: with
 * @count_include_pad it is the window clipped to the padded input (so a window that
 * @ceil_mode lets run past the right padding counts only up to its end), without it
 * the number of input elements in the window.
 *
 * Errors (domain %MACT_TENSOR_ERROR):
 * - %MACT_TENSOR_ERROR_SHAPE: @input is not 3-D or 4-D, has an empty dimension, a
 *   @kernel_size entry is not positive, or the kernel does not fit the padded input;
 * - %MACT_TENSOR_ERROR_INVALID_ARGUMENT: a @stride entry is not positive, or a @padding
 *   entry is negative or larger than half the kernel size.
 *
 * Returns: (transfer full) (nullable): the pooled tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_avg_pool2d (MactTensor *input, const gint *kernel_size, const gint *stride,
                 const gint *padding, gboolean ceil_mode, gboolean count_include_pad,
                 GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (kernel_size != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return avg_pool_impl ("mact_avg_pool2d", "AvgPool2dBackward", 2, input, kernel_size,
                        stride, padding, ceil_mode, count_include_pad, error);
}

/**
 * mact_avg_pool3d:
 * @input: a (C, D, H, W) or (N, C, D, H, W) tensor
 * @kernel_size: (array fixed-size=3): the window size (kD, kH, kW)
 * @stride: (nullable) (array fixed-size=3): the window step; %NULL for @kernel_size
 * @padding: (nullable) (array fixed-size=3): implicit zero padding on both sides; %NULL
 *   for 0
 * @ceil_mode: round the output size up instead of down (see mact_max_pool2d())
 * @count_include_pad: divide by the window size including padding rather than by the
 *   number of input elements in the window
 * @error: return location for a #GError, or %NULL
 *
 * 3-D average pooling, as PyTorch's `F.avg_pool3d`, with the divisor rules of
 * mact_avg_pool2d().
 *
 * Errors (domain %MACT_TENSOR_ERROR):
 * - %MACT_TENSOR_ERROR_SHAPE: @input is not 4-D or 5-D, has an empty dimension, a
 *   @kernel_size entry is not positive, or the kernel does not fit the padded input;
 * - %MACT_TENSOR_ERROR_INVALID_ARGUMENT: a @stride entry is not positive, or a @padding
 *   entry is negative or larger than half the kernel size.
 *
 * Returns: (transfer full) (nullable): the pooled tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_avg_pool3d (MactTensor *input, const gint *kernel_size, const gint *stride,
                 const gint *padding, gboolean ceil_mode, gboolean count_include_pad,
                 GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (kernel_size != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return avg_pool_impl ("mact_avg_pool3d", "AvgPool3dBackward", 3, input, kernel_size,
                        stride, padding, ceil_mode, count_include_pad, error);
}

/**
 * mact_adaptive_avg_pool2d:
 * @input: a (C, H, W) or (N, C, H, W) tensor
 * @output_size: (array fixed-size=2): the output's (H, W)
 * @error: return location for a #GError, or %NULL
 *
 * 2-D adaptive average pooling, as PyTorch's `F.adaptive_avg_pool2d`: output index i of
 * a dim averages the input indices [floor(i * I / O), ceil((i + 1) * I / O)).  Any
 * positive output size works, including sizes that do not divide the input or exceed
 * it.
 *
 * Errors (domain %MACT_TENSOR_ERROR):
 * - %MACT_TENSOR_ERROR_SHAPE: @input is not 3-D or 4-D, has an empty dimension, or an
 *   @output_size entry is not positive.
 *
 * Returns: (transfer full) (nullable): the pooled tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_adaptive_avg_pool2d (MactTensor *input, const gint64 *output_size, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (output_size != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return adaptive_avg_pool_impl ("mact_adaptive_avg_pool2d", "AdaptiveAvgPool2dBackward",
                                 2, input, output_size, error);
}

/**
 * mact_adaptive_avg_pool3d:
 * @input: a (C, D, H, W) or (N, C, D, H, W) tensor
 * @output_size: (array fixed-size=3): the output's (D, H, W)
 * @error: return location for a #GError, or %NULL
 *
 * 3-D adaptive average pooling, as PyTorch's `F.adaptive_avg_pool3d`, with the windows
 * of mact_adaptive_avg_pool2d().
 *
 * Errors (domain %MACT_TENSOR_ERROR):
 * - %MACT_TENSOR_ERROR_SHAPE: @input is not 4-D or 5-D, has an empty dimension, or an
 *   @output_size entry is not positive.
 *
 * Returns: (transfer full) (nullable): the pooled tensor, or %NULL on error
 *
 * Since: 0.1
 */
MactTensor *
mact_adaptive_avg_pool3d (MactTensor *input, const gint64 *output_size, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (output_size != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return adaptive_avg_pool_impl ("mact_adaptive_avg_pool3d", "AdaptiveAvgPool3dBackward",
                                 3, input, output_size, error);
}
