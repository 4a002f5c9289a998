/* mact-ops-conv.c: convolution (2-D and 3-D), linear and matmul.
 *
 * Convolution has one N-d path: a 2-D convolution is a 3-D one with depth 1.  The
 * algorithm (vol2col + one GEMM per group of samples and conv group) sits behind
 * conv_forward_impl() and conv_backward_impl(), which only see a ConvParams and raw
 * contiguous buffers, so that a faster algorithm can replace them without touching
 * validation or autograd.
 *
 * Small planes (a 32x32 frame deep in a ResNet is 4x4) make one GEMM per sample tiny, and
 * OpenBLAS then spends its time packing; so the columns of several samples are laid side
 * by side and multiplied at once (see conv_samples_per_gemm()).
 *
 * Threading: vol2col/col2vol and the small elementwise loops run through
 * mact_parallel_for(); the GEMMs run outside parallel regions and split themselves.
 */
#include "mact-tensor-private.h"
#include "mact-conv-winograd-private.h"

#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */
/* ------------------------------------------------------------------------------------ */

/* Work per parallel chunk, in touched elements: below this, splitting costs more than it
 * gains. */
#define CONV_GRAIN_ELEMENTS 16384

static gint64
grain_for (gint64 work_per_item)
{
  return MAX (1, CONV_GRAIN_ELEMENTS / MAX (work_per_item, 1));
}

static gboolean
check_no_zero_dims (const char *op, const char *what, MactTensor *t, GError **error)
{
  for (gint i = 0; i < t->ndim; i++)
    if (t->shape[i] <= 0)
      {
        g_autofree gchar *s = mact_shape_format (t->ndim, t->shape);
        g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                     "%s: %s must not have empty dimensions, got %s", op, what, s);
        return FALSE;
      }
  return TRUE;
}

/* Checked a * b for non-negative sizes. */
static gboolean
mul_checked (const char *op, gint64 a, gint64 b, gint64 *out, GError **error)
{
  if (a != 0 && b > G_MAXINT64 / a)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_OVERFLOW,
                   "%s: buffer size %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                   " overflows", op, a, b);
      return FALSE;
    }
  *out = a * b;
  return TRUE;
}

static float *
alloc_floats (const char *op, gint64 n, GError **error)
{
  float *buf = NULL;

  if ((guint64) n <= G_MAXSIZE / sizeof (float))
    buf = g_try_new (float, (gsize) MAX (n, 1));
  if (buf == NULL)
    g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_NO_MEMORY,
                 "%s: cannot allocate a work buffer of %" G_GINT64_FORMAT " floats", op, n);
  return buf;
}

/* Adds bias[c] to every element of rows laid out as [outer][channels][inner]. */
typedef struct {
  float       *y;
  const float *bias;
  gint64       channels;
  gint64       inner;
} BiasAddTask;

static void
bias_add_func (gint64 begin, gint64 end, gpointer data)
{
  const BiasAddTask *t = data;

  for (gint64 r = begin; r < end; r++)
    {
      float b = t->bias[r % t->channels];
      float *row = t->y + r * t->inner;
      for (gint64 i = 0; i < t->inner; i++)
        row[i] += b;
    }
}

static void
bias_add (float *y, const float *bias, gint64 outer, gint64 channels, gint64 inner)
{
  BiasAddTask t = { y, bias, channels, inner };
  mact_parallel_for (outer * channels, grain_for (inner), bias_add_func, &t);
}

/* gb[c] = sum over outer and inner of g laid out as [outer][channels][inner]. */
typedef struct {
  const float *g;
  float       *gb;
  gint64       outer;
  gint64       channels;
  gint64       inner;
} BiasGradTask;

static void
bias_grad_func (gint64 begin, gint64 end, gpointer data)
{
  const BiasGradTask *t = data;

  if (t->inner == 1)
    {
      /* Linear layout [rows][channels]: walk rows outermost for locality. */
      g_autofree double *acc = g_new0 (double, end - begin);
      for (gint64 o = 0; o < t->outer; o++)
        {
          const float *row = t->g + o * t->channels;
          for (gint64 c = begin; c < end; c++)
            acc[c - begin] += row[c];
        }
      for (gint64 c = begin; c < end; c++)
        t->gb[c] = (float) acc[c - begin];
      return;
    }

  for (gint64 c = begin; c < end; c++)
    {
      double acc = 0.0;
      for (gint64 o = 0; o < t->outer; o++)
        {
          const float *row = t->g + (o * t->channels + c) * t->inner;
          float part = 0.0f;
          for (gint64 i = 0; i < t->inner; i++)
            part += row[i];
          acc += part;
        }
      t->gb[c] = (float) acc;
    }
}

static void
bias_grad (const float *g, float *gb, gint64 outer, gint64 channels, gint64 inner)
{
  BiasGradTask t = { g, gb, outer, channels, inner };
  mact_parallel_for (channels, grain_for (outer * inner), bias_grad_func, &t);
}

/* ------------------------------------------------------------------------------------ */
/* Convolution                                                                          */
/* ------------------------------------------------------------------------------------ */

/* Everything the convolution algorithm needs, in 3-D form (depth, height, width); a 2-D
 * convolution has in[0] = kernel[0] = out[0] = 1, stride[0] = dilation[0] = 1 and
 * padding[0] = 0. */
typedef struct {
  gint    nsp;                    /* spatial dims of the public op: 2 or 3 */
  gint64  batch;
  gint64  in_channels;
  gint64  out_channels;
  gint64  groups;
  gint64  in[3];
  gint64  kernel[3];
  gint64  out[3];
  gint64  stride[3];
  gint64  padding[3];
  gint64  dilation[3];
} ConvParams;

static inline gint64
conv_kernel_size (const ConvParams *p)
{
  return p->kernel[0] * p->kernel[1] * p->kernel[2];
}

static inline gint64
conv_in_plane (const ConvParams *p)
{
  return p->in[0] * p->in[1] * p->in[2];
}

static inline gint64
conv_out_plane (const ConvParams *p)
{
  return p->out[0] * p->out[1] * p->out[2];
}

/* A 1x1x1 kernel with stride 1 and no padding: the column matrix is the input itself. */
static gboolean
conv_is_pointwise (const ConvParams *p)
{
  for (gint i = 0; i < 3; i++)
    if (p->kernel[i] != 1 || p->stride[i] != 1 || p->padding[i] != 0)
      return FALSE;
  return TRUE;
}

/* The output positions o in [0, n_out) with 0 <= o * stride + off < size, as [*lo, *hi). */
static inline void
valid_range (gint64 off, gint64 stride, gint64 size, gint64 n_out, gint64 *lo, gint64 *hi)
{
  gint64 l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  gint64 h = size - 1 - off >= 0 ? (size - 1 - off) / stride + 1 : 0;

  l = MIN (l, n_out);
  h = CLAMP (h, l, n_out);
  *lo = l;
  *hi = h;
}

/* The column matrix of @nb samples is [C * K, nb * L]: row r = c * K + kernel offset,
 * and sample s fills the columns [s * L, (s + 1) * L). */
typedef struct {
  const ConvParams *p;
  const float      *x;      /* nb samples [nb, C, D, H, W] */
  gint64            nb;
  float            *col;    /* [C * K, nb * L] */
} Vol2ColTask;

/* Where kernel tap @kk (flat index over kd, kh, kw) reads, as an offset from the strided
 * output position, and the output positions whose read falls inside the input rather
 * than the padding, per axis as [lo, hi). */
typedef struct {
  gint64 off_d, off_h, off_w;
  gint64 d_lo, d_hi, h_lo, h_hi, w_lo, w_hi;
} ConvTap;

static inline void
conv_tap (const ConvParams *p, gint64 kk, ConvTap *t)
{
  const gint64 kd = kk / (p->kernel[1] * p->kernel[2]);
  const gint64 kh = (kk / p->kernel[2]) % p->kernel[1];
  const gint64 kw = kk % p->kernel[2];

  t->off_d = kd * p->dilation[0] - p->padding[0];
  t->off_h = kh * p->dilation[1] - p->padding[1];
  t->off_w = kw * p->dilation[2] - p->padding[2];
  valid_range (t->off_d, p->stride[0], p->in[0], p->out[0], &t->d_lo, &t->d_hi);
  valid_range (t->off_h, p->stride[1], p->in[1], p->out[1], &t->h_lo, &t->h_hi);
  valid_range (t->off_w, p->stride[2], p->in[2], p->out[2], &t->w_lo, &t->w_hi);
}

/* One output row of a column matrix: @srow read at stride @sw for the output columns
 * [w_lo, w_hi) whose input is inside the plane, zeros for the padding either side.
 * Plain loops rather than memcpy/memset: the rows of deep layers are a few floats long,
 * where a call costs more than the copy. */
static inline void
unfold_row (float *drow, const float *srow, gint64 OW, gint64 w_lo, gint64 w_hi, gint64 sw)
{
  for (gint64 ow = 0; ow < w_lo; ow++)
    drow[ow] = 0.0f;
  if (sw == 1)
    for (gint64 ow = w_lo; ow < w_hi; ow++)
      drow[ow] = srow[ow];
  else
    for (gint64 ow = w_lo; ow < w_hi; ow++)
      drow[ow] = srow[ow * sw];
  for (gint64 ow = w_hi; ow < OW; ow++)
    drow[ow] = 0.0f;
}

/* Copies one sample's plane of row (c, @tap) to @dst [OD * OH * OW], zero where the
 * kernel offset falls into the padding. */
static inline void
vol2col_plane (const ConvParams *p, const float *src, float *dst, const ConvTap *tap)
{
  const gint64 IH = p->in[1], IW = p->in[2];
  const gint64 OD = p->out[0], OH = p->out[1], OW = p->out[2];
  const gint64 sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];

  for (gint64 od = 0; od < OD; od++)
    {
      float *dplane = dst + od * OH * OW;
      if (od < tap->d_lo || od >= tap->d_hi)
        {
          memset (dplane, 0, sizeof (float) * OH * OW);
          continue;
        }
      const float *splane = src + (od * sd + tap->off_d) * IH * IW;
      for (gint64 oh = 0; oh < OH; oh++)
        {
          float *drow = dplane + oh * OW;
          if (oh < tap->h_lo || oh >= tap->h_hi)
            {
              for (gint64 ow = 0; ow < OW; ow++)
                drow[ow] = 0.0f;
              continue;
            }
          unfold_row (drow, splane + (oh * sh + tap->off_h) * IW + tap->off_w, OW,
                      tap->w_lo, tap->w_hi, sw);
        }
    }
}

static void
vol2col_func (gint64 begin, gint64 end, gpointer data)
{
  const Vol2ColTask *t = data;
  const ConvParams *p = t->p;
  const gint64 K = conv_kernel_size (p), L = conv_out_plane (p);
  const gint64 in_plane = conv_in_plane (p);

  /* Work item r is row r of every sample: the offsets and valid ranges are worked out
   * once per row, and the row is written contiguously (samples side by side). */
  for (gint64 r = begin; r < end; r++)
    {
      const gint64 c = r / K;
      ConvTap tap;
      conv_tap (p, r % K, &tap);

      for (gint64 sample = 0; sample < t->nb; sample++)
        vol2col_plane (p, t->x + (sample * p->in_channels + c) * in_plane,
                       t->col + r * t->nb * L + sample * L, &tap);
    }
}

static void
vol2col (const ConvParams *p, const float *x, gint64 nb, float *col)
{
  Vol2ColTask t = { p, x, nb, col };
  mact_parallel_for (p->in_channels * conv_kernel_size (p),
                     grain_for (nb * conv_out_plane (p)), vol2col_func, &t);
}

/* The adjoint of vol2col: gx[s, c] += the rows c * K .. c * K + K - 1 of sample s's
 * columns, put back at the input positions they were read from. */
typedef struct {
  const ConvParams *p;
  const float      *col;    /* [C * K, nb * L] */
  gint64            nb;
  float            *gx;     /* nb samples [nb, C, D, H, W], accumulated into */
} Col2VolTask;

static void
col2vol_func (gint64 begin, gint64 end, gpointer data)
{
  const Col2VolTask *t = data;
  const ConvParams *p = t->p;
  const gint64 K = conv_kernel_size (p), L = conv_out_plane (p);
  const gint64 ID = p->in[0], IH = p->in[1], IW = p->in[2];
  const gint64 OH = p->out[1], OW = p->out[2];
  const gint64 sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];

  /* Work item c is channel c of every sample: no two threads touch the same input
   * element, and each (channel, kernel offset)'s ranges are worked out once. */
  for (gint64 c = begin; c < end; c++)
    for (gint64 kk = 0; kk < K; kk++)
      {
        ConvTap tap;
        conv_tap (p, kk, &tap);

        for (gint64 sample = 0; sample < t->nb; sample++)
          {
            float *dst = t->gx + (sample * p->in_channels + c) * ID * IH * IW;
            const float *src = t->col + (c * K + kk) * t->nb * L + sample * L;
            for (gint64 od = tap.d_lo; od < tap.d_hi; od++)
              {
                float *dplane = dst + (od * sd + tap.off_d) * IH * IW;
                const float *splane = src + od * OH * OW;
                for (gint64 oh = tap.h_lo; oh < tap.h_hi; oh++)
                  {
                    float *drow = dplane + (oh * sh + tap.off_h) * IW + tap.off_w;
                    const float *srow = splane + oh * OW;
                    for (gint64 ow = tap.w_lo; ow < tap.w_hi; ow++)
                      drow[ow * sw] += srow[ow];
                  }
              }
          }
      }
}

static void
col2vol (const ConvParams *p, const float *col, gint64 nb, float *gx)
{
  Col2VolTask t = { p, col, nb, gx };
  mact_parallel_for (p->in_channels,
                     grain_for (nb * conv_kernel_size (p) * conv_out_plane (p)),
                     col2vol_func, &t);
}

/* Columns per GEMM worth aiming for: from about this width on, OpenBLAS's packing is a
 * small part of the product. */
#define CONV_GEMM_TARGET_COLUMNS 2048
/* Cap of a batched column buffer, in floats (64 MiB): batching never costs much memory. */
#define CONV_BATCHED_COL_MAX_FLOATS (G_GINT64_CONSTANT (16) << 20)

/* How many samples share one GEMM: enough for CONV_GEMM_TARGET_COLUMNS output columns,
 * as long as their column buffer stays under the cap.  Large planes give 1, the plain
 * one-sample path.  Called after the sizes were validated, so products cannot overflow
 * for nb = 1; the cap bounds the rest. */
static gint64
conv_samples_per_gemm (const ConvParams *p)
{
  const gint64 L = conv_out_plane (p);
  gint64 nb = MIN (p->batch, (CONV_GEMM_TARGET_COLUMNS + L - 1) / L);
  gint64 rows = MAX (p->in_channels * conv_kernel_size (p), p->out_channels);

  while (nb > 1 && rows > CONV_BATCHED_COL_MAX_FLOATS / (nb * L))
    nb--;
  return MAX (nb, 1);
}

/* The column buffer of @nb samples, or NULL (and no error) when one pointwise sample
 * is multiplied at a time and the input itself serves as the column matrix. */
static gboolean
conv_alloc_col (const ConvParams *p, const char *op, gint64 nb, float **col,
                GError **error)
{
  gint64 rows, cols, n;

  *col = NULL;
  if (nb == 1 && conv_is_pointwise (p))
    return TRUE;
  if (!mul_checked (op, p->in_channels, conv_kernel_size (p), &rows, error) ||
      !mul_checked (op, nb, conv_out_plane (p), &cols, error) ||
      !mul_checked (op, rows, cols, &n, error))
    return FALSE;
  *col = alloc_floats (op, n, error);
  return *col != NULL;
}

/* Copies between per-sample planes [nb, C, L] and side-by-side columns [C, nb * L]. */
typedef struct {
  float       *samples;
  float       *side_by_side;
  gint64       channels, L, nb;
  gboolean     to_samples;
} RegroupTask;

static void
regroup_func (gint64 begin, gint64 end, gpointer data)
{
  const RegroupTask *t = data;
  for (gint64 i = begin; i < end; i++)
    {
      gint64 s = i / t->channels, c = i % t->channels;
      float *plane = t->samples + i * t->L;
      float *cols = t->side_by_side + (c * t->nb + s) * t->L;
      if (t->to_samples)
        memcpy (plane, cols, sizeof (float) * t->L);
      else
        memcpy (cols, plane, sizeof (float) * t->L);
    }
}

static void
regroup (float *samples, float *side_by_side, gint64 nb, gint64 channels, gint64 L,
         gboolean to_samples)
{
  RegroupTask t = { samples, side_by_side, channels, L, nb, to_samples };
  mact_parallel_for (nb * channels, grain_for (L), regroup_func, &t);
}

/* Depthwise convolution (one input channel per group, as MobileNetV2's 3x3 layers): a
 * direct loop per output plane.  Through im2col every group would be its own GEMM of a
 * single weight row, so the call overhead and the column copy would cost far more than
 * the K multiply-adds per output.  Here each kernel tap is one pass of fused
 * multiply-adds over the output plane (contiguous rows, so they vectorise), starting
 * from the bias. */
typedef struct {
  const ConvParams *p;
  const float      *x;
  const float      *w;
  const float      *b;
  float            *y;
} DepthwiseTask;

static void
depthwise_func (gint64 begin, gint64 end, gpointer data)
{
  const DepthwiseTask *t = data;
  const ConvParams *p = t->p;
  const gint64 K = conv_kernel_size (p), L = conv_out_plane (p);
  const gint64 in_plane = conv_in_plane (p);
  const gint64 IH = p->in[1], IW = p->in[2];
  const gint64 OH = p->out[1], OW = p->out[2];
  const gint64 sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
  const gint64 cout_g = p->out_channels / p->groups;

  for (gint64 i = begin; i < end; i++)
    {
      const gint64 n = i / p->out_channels, co = i % p->out_channels;
      const float *xp = t->x + (n * p->in_channels + co / cout_g) * in_plane;
      const float *wk = t->w + co * K;
      float *yp = t->y + i * L;
      const float init = t->b != NULL ? t->b[co] : 0.0f;

      for (gint64 l = 0; l < L; l++)
        yp[l] = init;
      for (gint64 kk = 0; kk < K; kk++)
        {
          const float wv = wk[kk];
          ConvTap tap;
          conv_tap (p, kk, &tap);
          for (gint64 od = tap.d_lo; od < tap.d_hi; od++)
            for (gint64 oh = tap.h_lo; oh < tap.h_hi; oh++)
              {
                const float *srow =
                  xp + ((od * sd + tap.off_d) * IH + oh * sh + tap.off_h) * IW + tap.off_w;
                float *drow = yp + (od * OH + oh) * OW;
                if (sw == 1)
                  for (gint64 ow = tap.w_lo; ow < tap.w_hi; ow++)
                    drow[ow] += wv * srow[ow];
                else
                  for (gint64 ow = tap.w_lo; ow < tap.w_hi; ow++)
                    drow[ow] += wv * srow[ow * sw];
              }
        }
    }
}

static void
depthwise_forward (const ConvParams *p, const float *x, const float *w, const float *b,
                   float *y)
{
  DepthwiseTask t = { p, x, w, b, y };
  mact_parallel_for (p->batch * p->out_channels,
                     grain_for (conv_kernel_size (p) * conv_out_plane (p)), depthwise_func,
                     &t);
}

/* Column tiles for planes too large to unfold whole: a conv of a [64, 16, 56, 56] input
 * with a 3x3x3 kernel would otherwise write, then multiply, a 347 MB column matrix, most
 * of the time going to page faults and DRAM traffic.  A tile is a run of whole output
 * rows (fixed od, oh) whose columns fit in CONV_TILE_BYTES, so it stays in the cache
 * between being written and being multiplied. */
#define CONV_TILE_BYTES (G_GINT64_CONSTANT (8) << 20)
/* Fewer columns than this per GEMM and the weights' packing dominates again. */
#define CONV_TILE_MIN_COLUMNS 256

typedef struct {
  const ConvParams *p;
  const float      *x;      /* one sample [C, D, H, W] (vol2col) */
  float            *gx;     /* its gradient, accumulated into (col2vol) */
  gint64            t0;     /* first output row (od * OH + oh) of the tile */
  gint64            rows;   /* output rows in the tile */
  float            *col;    /* [C * K, rows * OW] */
} TileTask;

static void
vol2col_tile_func (gint64 begin, gint64 end, gpointer data)
{
  const TileTask *t = data;
  const ConvParams *p = t->p;
  const gint64 K = conv_kernel_size (p), in_plane = conv_in_plane (p);
  const gint64 IH = p->in[1], IW = p->in[2];
  const gint64 OH = p->out[1], OW = p->out[2];
  const gint64 sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
  const gint64 ncols = t->rows * OW;

  for (gint64 r = begin; r < end; r++)
    {
      const gint64 c = r / K, kk = r % K;
      ConvTap tap;
      conv_tap (p, kk, &tap);
      const float *src = t->x + c * in_plane;
      float *dst = t->col + r * ncols;
      for (gint64 i = 0; i < t->rows; i++)
        {
          const gint64 od = (t->t0 + i) / OH, oh = (t->t0 + i) % OH;
          float *drow = dst + i * OW;
          if (od < tap.d_lo || od >= tap.d_hi || oh < tap.h_lo || oh >= tap.h_hi)
            {
              for (gint64 ow = 0; ow < OW; ow++)
                drow[ow] = 0.0f;
              continue;
            }
          const float *srow =
            src + ((od * sd + tap.off_d) * IH + oh * sh + tap.off_h) * IW + tap.off_w;
          unfold_row (drow, srow, OW, tap.w_lo, tap.w_hi, sw);
        }
    }
}

/* The adjoint of vol2col_tile_func: gx[c] += the tile's rows c * K .. c * K + K - 1, put
 * back where they were read from.  Work item c is one input channel, so no two threads
 * touch the same element. */
static void
col2vol_tile_func (gint64 begin, gint64 end, gpointer data)
{
  const TileTask *t = data;
  const ConvParams *p = t->p;
  const gint64 K = conv_kernel_size (p), in_plane = conv_in_plane (p);
  const gint64 IH = p->in[1], IW = p->in[2];
  const gint64 OH = p->out[1], OW = p->out[2];
  const gint64 sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
  const gint64 ncols = t->rows * OW;

  for (gint64 c = begin; c < end; c++)
    for (gint64 kk = 0; kk < K; kk++)
      {
        ConvTap tap;
        conv_tap (p, kk, &tap);
        float *dst = t->gx + c * in_plane;
        const float *src = t->col + (c * K + kk) * ncols;
        for (gint64 i = 0; i < t->rows; i++)
          {
            const gint64 od = (t->t0 + i) / OH, oh = (t->t0 + i) % OH;
            if (od < tap.d_lo || od >= tap.d_hi || oh < tap.h_lo || oh >= tap.h_hi)
              continue;
            float *drow =
              dst + ((od * sd + tap.off_d) * IH + oh * sh + tap.off_h) * IW + tap.off_w;
            const float *srow = src + i * OW;
            for (gint64 ow = tap.w_lo; ow < tap.w_hi; ow++)
              drow[ow * sw] += srow[ow];
          }
      }
}

/* Output rows per tile, or 0 when the whole plane's columns fit in a tile anyway (or a
 * tile would be too narrow to multiply efficiently). */
static gint64
conv_tile_rows (const ConvParams *p)
{
  const gint64 col_rows = p->in_channels * conv_kernel_size (p);
  const gint64 OW = p->out[2], n_rows = p->out[0] * p->out[1];
  const gint64 cols = CONV_TILE_BYTES / (gint64) sizeof (float) / MAX (col_rows, 1);
  if (conv_is_pointwise (p) || col_rows * conv_out_plane (p) * (gint64) sizeof (float) <=
      CONV_TILE_BYTES || cols < CONV_TILE_MIN_COLUMNS)
    return 0;
  return CLAMP (cols / OW, 1, n_rows);
}

/* One sample's convolution tile by tile: y[Cout, L] = w x columns (+ b later). */
static gboolean
conv_forward_tiled (const ConvParams *p, const char *op, const float *x, const float *w,
                    float *y, gint64 tile_rows, GError **error)
{
  const gint64 K = conv_kernel_size (p), L = conv_out_plane (p), OW = p->out[2];
  const gint64 cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
  const gint64 n_rows = p->out[0] * p->out[1];
  g_autofree float *col = alloc_floats (op, p->in_channels * K * tile_rows * OW, error);
  if (col == NULL)
    return FALSE;

  for (gint64 t0 = 0; t0 < n_rows; t0 += tile_rows)
    {
      const gint64 rows = MIN (tile_rows, n_rows - t0), ncols = rows * OW;
      TileTask t = { p, x, NULL, t0, rows, col };
      mact_parallel_for (p->in_channels * K, grain_for (ncols), vol2col_tile_func, &t);
      for (gint64 g = 0; g < p->groups; g++)
        mact_gemm (FALSE, FALSE, cout_g, ncols, cin_g * K, 1.0f,
                   w + g * cout_g * cin_g * K, cin_g * K,
                   col + g * cin_g * K * ncols, ncols,
                   0.0f, y + g * cout_g * L + t0 * OW, L);
    }
  return TRUE;
}

/* The gradients of one sample tile by tile: gw += gy . columns^T, and gx += the columns
 * of w^T . gy folded back.  @gw, @gx may be NULL. */
static gboolean
conv_backward_tiled (const ConvParams *p, const char *op, const float *x, const float *w,
                     const float *gy, float *gx, float *gw, gint64 tile_rows,
                     GError **error)
{
  const gint64 K = conv_kernel_size (p), L = conv_out_plane (p), OW = p->out[2];
  const gint64 cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
  const gint64 n_rows = p->out[0] * p->out[1];
  g_autofree float *col = alloc_floats (op, p->in_channels * K * tile_rows * OW, error);
  if (col == NULL)
    return FALSE;

  for (gint64 t0 = 0; t0 < n_rows; t0 += tile_rows)
    {
      const gint64 rows = MIN (tile_rows, n_rows - t0), ncols = rows * OW;
      const float *gy_tile = gy + t0 * OW;
      if (gw != NULL)
        {
          TileTask t = { p, x, NULL, t0, rows, col };
          mact_parallel_for (p->in_channels * K, grain_for (ncols), vol2col_tile_func, &t);
          for (gint64 g = 0; g < p->groups; g++)
            mact_gemm (FALSE, TRUE, cout_g, cin_g * K, ncols, 1.0f,
                       gy_tile + g * cout_g * L, L,
                       col + g * cin_g * K * ncols, ncols,
                       1.0f, gw + g * cout_g * cin_g * K, cin_g * K);
        }
      if (gx != NULL)
        {
          for (gint64 g = 0; g < p->groups; g++)
            mact_gemm (TRUE, FALSE, cin_g * K, ncols, cout_g, 1.0f,
                       w + g * cout_g * cin_g * K, cin_g * K,
                       gy_tile + g * cout_g * L, L,
                       0.0f, col + g * cin_g * K * ncols, ncols);
          TileTask t = { p, NULL, gx, t0, rows, col };
          mact_parallel_for (p->in_channels, grain_for (K * ncols), col2vol_tile_func, &t);
        }
    }
  return TRUE;
}

/* Whether Winograd may be used at all: on unless MACT_CONV_WINOGRAD=0 (read once), which
 * exists to compare the two algorithms on a real model. */
static gboolean
winograd_enabled (void)
{
  static gsize once = 0;
  static gboolean enabled = TRUE;
  if (g_once_init_enter (&once))
    {
      const char *value = g_getenv ("MACT_CONV_WINOGRAD");
      enabled = value == NULL || strcmp (value, "0") != 0;
      g_once_init_leave (&once, 1);
    }
  return enabled;
}

/* Fills @wc when the convolution suits mact-conv-winograd.c and is big enough to gain
 * from it: a 3x3 spatial kernel, stride and dilation 1, one group, and output planes of
 * at least WINOGRAD_MIN_PLANE positions (on smaller planes the 4x4 tiles waste too much
 * and the transforms cost more than they save).  With @transposed, describes the input
 * gradient instead: a convolution of the output gradient with the rotated filter. */
#define WINOGRAD_MIN_PLANE 64
#define WINOGRAD_MIN_CHANNELS 8

static gboolean
winograd_plan (const ConvParams *p, gboolean transposed, MactWinogradConv *wc)
{
  if (!winograd_enabled () || p->groups != 1 || p->kernel[1] != 3 || p->kernel[2] != 3)
    return FALSE;
  for (gint i = 0; i < 3; i++)
    if (p->stride[i] != 1 || p->dilation[i] != 1)
      return FALSE;
  if (p->out[1] * p->out[2] < WINOGRAD_MIN_PLANE ||
      MIN (p->in_channels, p->out_channels) < WINOGRAD_MIN_CHANNELS)
    return FALSE;

  MactWinogradConv c = { .batch = p->batch, .kernel_d = p->kernel[0], .transposed = transposed };
  if (!transposed)
    {
      c.in_channels = p->in_channels;
      c.out_channels = p->out_channels;
      c.in_d = p->in[0], c.in_h = p->in[1], c.in_w = p->in[2];
      c.out_d = p->out[0], c.out_h = p->out[1], c.out_w = p->out[2];
      c.pad_d = p->padding[0], c.pad_h = p->padding[1], c.pad_w = p->padding[2];
    }
  else
    {
      /* Stride 1: the input gradient is the output gradient, padded by kernel - 1 -
       * padding, correlated with the rotated filter. */
      c.in_channels = p->out_channels;
      c.out_channels = p->in_channels;
      c.in_d = p->out[0], c.in_h = p->out[1], c.in_w = p->out[2];
      c.out_d = p->in[0], c.out_h = p->in[1], c.out_w = p->in[2];
      c.pad_d = p->kernel[0] - 1 - p->padding[0];
      c.pad_h = 2 - p->padding[1];
      c.pad_w = 2 - p->padding[2];
    }
  if (!mact_winograd_conv_supported (&c))
    return FALSE;
  *wc = c;
  return TRUE;
}

/* y[N, Cout, L] = conv(x[N, Cin, D, H, W], w[Cout, Cin/groups, K]) + b.  All buffers are
 * contiguous; @b may be NULL. */
static gboolean
conv_forward_impl (const ConvParams *p, const char *op, const float *x, const float *w,
                   const float *b, float *y, GError **error)
{
  const gint64 K = conv_kernel_size (p), L = conv_out_plane (p);
  const gint64 in_plane = conv_in_plane (p);
  const gint64 cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
  const gint64 nb = conv_samples_per_gemm (p);
  g_autofree float *col_buf = NULL;
  g_autofree float *y_buf = NULL;   /* [Cout, nb * L] when samples are batched */

  if (cin_g == 1 && p->groups > 1)
    {
      depthwise_forward (p, x, w, b, y);
      return TRUE;
    }
  MactWinogradConv wc;
  if (winograd_plan (p, FALSE, &wc))
    return mact_winograd_conv (&wc, op, x, w, b, y, error);
  const gint64 tile_rows = conv_tile_rows (p);
  if (tile_rows > 0)
    {
      for (gint64 n = 0; n < p->batch; n++)
        if (!conv_forward_tiled (p, op, x + n * p->in_channels * in_plane, w,
                                 y + n * p->out_channels * L, tile_rows, error))
          return FALSE;
      if (b != NULL)
        bias_add (y, b, p->batch, p->out_channels, L);
      return TRUE;
    }
  if (!conv_alloc_col (p, op, nb, &col_buf, error))
    return FALSE;
  if (nb > 1 && (y_buf = alloc_floats (op, p->out_channels * nb * L, error)) == NULL)
    return FALSE;

  for (gint64 n0 = 0; n0 < p->batch; n0 += nb)
    {
      const gint64 cnt = MIN (nb, p->batch - n0), ld = cnt * L;
      const float *xn = x + n0 * p->in_channels * in_plane;
      float *yn = y + n0 * p->out_channels * L;
      float *out = cnt > 1 ? y_buf : yn;
      const float *col = xn;

      if (col_buf != NULL)
        {
          vol2col (p, xn, cnt, col_buf);
          col = col_buf;
        }
      for (gint64 g = 0; g < p->groups; g++)
        mact_gemm (FALSE, FALSE, cout_g, ld, cin_g * K, 1.0f,
                   w + g * cout_g * cin_g * K, cin_g * K,
                   col + g * cin_g * K * ld, ld,
                   0.0f, out + g * cout_g * ld, ld);
      if (cnt > 1)
        regroup (yn, y_buf, cnt, p->out_channels, L, TRUE);
    }

  if (b != NULL)
    bias_add (y, b, p->batch, p->out_channels, L);
  return TRUE;
}

/* Gradients of conv_forward_impl() given gy[N, Cout, L].  Each of @gx, @gw, @gb may be
 * NULL (not wanted); @gx and @gw must be zero-filled, @gb is overwritten. */
static gboolean
conv_backward_impl (const ConvParams *p, const char *op, const float *x, const float *w,
                    const float *gy, float *gx, float *gw, float *gb, GError **error)
{
  const gint64 K = conv_kernel_size (p), L = conv_out_plane (p);
  const gint64 in_plane = conv_in_plane (p);
  const gint64 cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
  const gint64 nb = conv_samples_per_gemm (p);
  g_autofree float *col_buf = NULL;
  g_autofree float *gy_buf = NULL;   /* [Cout, nb * L] when samples are batched */

  if (gb != NULL)
    bias_grad (gy, gb, p->batch, p->out_channels, L);
  if (gx == NULL && gw == NULL)
    return TRUE;
  MactWinogradConv wc;
  if (gx != NULL && winograd_plan (p, TRUE, &wc))
    {
      if (!mact_winograd_conv (&wc, op, gy, w, NULL, gx, error))
        return FALSE;
      gx = NULL;   /* done; what remains is the weight gradient */
      if (gw == NULL)
        return TRUE;
    }
  const gint64 tile_rows = conv_tile_rows (p);
  if (tile_rows > 0)
    {
      for (gint64 n = 0; n < p->batch; n++)
        if (!conv_backward_tiled (p, op, x + n * p->in_channels * in_plane, w,
                                  gy + n * p->out_channels * L,
                                  gx != NULL ? gx + n * p->in_channels * in_plane : NULL,
                                  gw, tile_rows, error))
          return FALSE;
      return TRUE;
    }
  if (!conv_alloc_col (p, op, nb, &col_buf, error))
    return FALSE;
  if (nb > 1 && (gy_buf = alloc_floats (op, p->out_channels * nb * L, error)) == NULL)
    return FALSE;

  for (gint64 n0 = 0; n0 < p->batch; n0 += nb)
    {
      const gint64 cnt = MIN (nb, p->batch - n0), ld = cnt * L;
      const float *xn = x + n0 * p->in_channels * in_plane;
      const float *gyn = gy + n0 * p->out_channels * L;

      if (cnt > 1)
        {
          regroup ((float *) gyn, gy_buf, cnt, p->out_channels, L, FALSE);
          gyn = gy_buf;
        }

      if (gw != NULL)
        {
          /* gw_g[Cout_g, Cin_g K] += gy_g[Cout_g, cnt L] . col_g[Cin_g K, cnt L]^T */
          const float *col = xn;
          if (col_buf != NULL)
            {
              vol2col (p, xn, cnt, col_buf);
              col = col_buf;
            }
          for (gint64 g = 0; g < p->groups; g++)
            mact_gemm (FALSE, TRUE, cout_g, cin_g * K, ld, 1.0f,
                       gyn + g * cout_g * ld, ld,
                       col + g * cin_g * K * ld, ld,
                       1.0f, gw + g * cout_g * cin_g * K, cin_g * K);
        }

      if (gx != NULL)
        {
          /* gcol_g[Cin_g K, cnt L] = w_g[Cout_g, Cin_g K]^T . gy_g[Cout_g, cnt L] */
          float *gxn = gx + n0 * p->in_channels * in_plane;
          float *gcol = col_buf != NULL ? col_buf : gxn;
          for (gint64 g = 0; g < p->groups; g++)
            mact_gemm (TRUE, FALSE, cin_g * K, ld, cout_g, 1.0f,
                       w + g * cout_g * cin_g * K, cin_g * K,
                       gyn + g * cout_g * ld, ld,
                       0.0f, gcol + g * cin_g * K * ld, ld);
          if (col_buf != NULL)
            col2vol (p, col_buf, cnt, gxn);
        }
    }
  return TRUE;
}

static const char *
conv_op_name (const ConvParams *p)
{
  return p->nsp == 2 ? "conv2d" : "conv3d";
}

/* Validates the arguments of a public convolution and fills @p. */
static gboolean
conv_params_init (ConvParams *p, gint nsp, MactTensor *input, MactTensor *weight,
                  MactTensor *bias, const gint *stride, const gint *padding,
                  const gint *dilation, gint groups, GError **error)
{
  const char *op = nsp == 2 ? "conv2d" : "conv3d";
  const char *layout = nsp == 2 ? "[N, C, H, W]" : "[N, C, D, H, W]";
  const gint first = 3 - nsp;  /* the first of the 3 internal spatial slots that is used */

  memset (p, 0, sizeof *p);
  p->nsp = nsp;

  if (input->ndim != nsp + 2)
    {
      g_autofree gchar *s = mact_shape_format (input->ndim, input->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected a %d-D input %s, got %s", op, nsp + 2, layout, s);
      return FALSE;
    }
  if (weight->ndim != nsp + 2)
    {
      g_autofree gchar *s = mact_shape_format (weight->ndim, weight->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected a %d-D weight [C_out, C_in / groups, kernel...], got %s",
                   op, nsp + 2, s);
      return FALSE;
    }
  if (!check_no_zero_dims (op, "input", input, error) ||
      !check_no_zero_dims (op, "weight", weight, error))
    return FALSE;
  if (groups < 1)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: groups must be >= 1, got %d", op, groups);
      return FALSE;
    }

  for (gint i = 0; i < 3; i++)
    {
      p->stride[i] = 1;
      p->dilation[i] = 1;
      p->padding[i] = 0;
      p->in[i] = 1;
      p->kernel[i] = 1;
    }
  for (gint i = 0; i < nsp; i++)
    {
      gint s = stride != NULL ? stride[i] : 1;
      gint d = dilation != NULL ? dilation[i] : 1;
      gint pad = padding != NULL ? padding[i] : 0;
      if (s <= 0)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "%s: stride must be positive, got %d in dimension %d", op, s, i);
          return FALSE;
        }
      if (d <= 0)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "%s: dilation must be positive, got %d in dimension %d", op, d, i);
          return FALSE;
        }
      if (pad < 0)
        {
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                       "%s: padding must be >= 0, got %d in dimension %d", op, pad, i);
          return FALSE;
        }
      p->stride[first + i] = s;
      p->dilation[first + i] = d;
      p->padding[first + i] = pad;
      p->in[first + i] = input->shape[2 + i];
      p->kernel[first + i] = weight->shape[2 + i];
    }

  p->batch = input->shape[0];
  p->in_channels = input->shape[1];
  p->out_channels = weight->shape[0];
  p->groups = groups;

  if (p->in_channels % groups != 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: groups %d do not divide the %" G_GINT64_FORMAT " input channels",
                   op, groups, p->in_channels);
      return FALSE;
    }
  if (p->out_channels % groups != 0)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_INVALID_ARGUMENT,
                   "%s: groups %d do not divide the %" G_GINT64_FORMAT " output channels",
                   op, groups, p->out_channels);
      return FALSE;
    }
  if (weight->shape[1] * groups != p->in_channels)
    {
      g_autofree gchar *ws = mact_shape_format (weight->ndim, weight->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: input has %" G_GINT64_FORMAT " channels but weight %s with groups "
                   "%d expects %" G_GINT64_FORMAT, op, p->in_channels, ws, groups,
                   weight->shape[1] * groups);
      return FALSE;
    }
  if (bias != NULL && (bias->ndim != 1 || bias->shape[0] != p->out_channels))
    {
      g_autofree gchar *bs = mact_shape_format (bias->ndim, bias->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "%s: expected a bias of shape [%" G_GINT64_FORMAT "], got %s",
                   op, p->out_channels, bs);
      return FALSE;
    }

  for (gint i = 0; i < 3; i++)
    {
      gint64 padded = p->in[i] + 2 * p->padding[i];
      gint64 extent = p->dilation[i] * (p->kernel[i] - 1) + 1;
      if (extent > padded)
        {
          g_autofree gchar *is = mact_shape_format (input->ndim, input->shape);
          g_autofree gchar *ws = mact_shape_format (weight->ndim, weight->shape);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "%s: dilated kernel size %" G_GINT64_FORMAT " exceeds padded input "
                       "size %" G_GINT64_FORMAT " in spatial dimension %d (input %s, "
                       "weight %s)", op, extent, padded, i - first, is, ws);
          return FALSE;
        }
      p->out[i] = (padded - extent) / p->stride[i] + 1;
    }
  return TRUE;
}

static gboolean
conv_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
               GError **error)
{
  const ConvParams *p = node->ctx;
  MactTensor *x = mact_node_saved (node, 0);
  MactTensor *w = mact_node_saved (node, 1);
  g_autoptr(MactTensor) gy = mact_tensor_contiguous (grad_output);
  g_autoptr(MactTensor) gx = NULL;
  g_autoptr(MactTensor) gw = NULL;
  g_autoptr(MactTensor) gb = NULL;

  if (node->needs_grad[0] &&
      (gx = mact_tensor_new_with_shape (x->ndim, x->shape, TRUE, error)) == NULL)
    return FALSE;
  if (node->needs_grad[1] &&
      (gw = mact_tensor_new_with_shape (w->ndim, w->shape, TRUE, error)) == NULL)
    return FALSE;
  if (node->n_inputs > 2 && node->needs_grad[2] &&
      (gb = mact_tensor_new_with_shape (1, &p->out_channels, FALSE, error)) == NULL)
    return FALSE;

  if (!conv_backward_impl (p, conv_op_name (p), mact_tensor_data (x), mact_tensor_data (w),
                           mact_tensor_data (gy),
                           gx != NULL ? mact_tensor_data (gx) : NULL,
                           gw != NULL ? mact_tensor_data (gw) : NULL,
                           gb != NULL ? mact_tensor_data (gb) : NULL, error))
    return FALSE;

  grad_inputs[0] = g_steal_pointer (&gx);
  grad_inputs[1] = g_steal_pointer (&gw);
  if (node->n_inputs > 2)
    grad_inputs[2] = g_steal_pointer (&gb);
  return TRUE;
}

static MactTensor *
conv_nd (gint nsp, MactTensor *input, MactTensor *weight, MactTensor *bias,
         const gint *stride, const gint *padding, const gint *dilation, gint groups,
         GError **error)
{
  ConvParams p;
  g_autoptr(MactTensor) xc = NULL;
  g_autoptr(MactTensor) wc = NULL;
  g_autoptr(MactTensor) bc = NULL;
  g_autoptr(MactTensor) out = NULL;
  gint64 out_shape[5];
  gint ndim = 0;

  if (!conv_params_init (&p, nsp, input, weight, bias, stride, padding, dilation, groups,
                         error))
    return NULL;

  out_shape[ndim++] = p.batch;
  out_shape[ndim++] = p.out_channels;
  for (gint i = 3 - nsp; i < 3; i++)
    out_shape[ndim++] = p.out[i];
  out = mact_tensor_new_empty (ndim, out_shape, error);
  if (out == NULL)
    return NULL;

  /* Plain copies: the graph is recorded against the caller's tensors below. */
  MACT_NO_GRAD_BEGIN
  xc = mact_tensor_contiguous (input);
  wc = mact_tensor_contiguous (weight);
  bc = bias != NULL ? mact_tensor_contiguous (bias) : NULL;
  MACT_NO_GRAD_END

  if (!conv_forward_impl (&p, conv_op_name (&p), mact_tensor_data (xc),
                          mact_tensor_data (wc), bc != NULL ? mact_tensor_data (bc) : NULL,
                          mact_tensor_data (out), error))
    return NULL;

  MactTensor *inputs[3] = { input, weight, bias };
  guint n_inputs = bias != NULL ? 3 : 2;
  if (mact_autograd_wants (inputs, n_inputs))
    {
      MactNode *node = mact_node_new (nsp == 2 ? "Conv2dBackward" : "Conv3dBackward",
                                      conv_backward, inputs, n_inputs);
      mact_node_save (node, xc);   /* 0 */
      mact_node_save (node, wc);   /* 1 */
      mact_node_set_ctx (node, g_memdup2 (&p, sizeof p), g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return g_steal_pointer (&out);
}

/**
 * mact_conv2d:
 * @input: the input, [N, C_in, H, W]
 * @weight: the filters, [C_out, C_in / @groups, kH, kW]
 * @bias: (nullable): the bias, [C_out], or %NULL for none
 * @stride: (nullable) (array fixed-size=2): the stride (height, width), or %NULL for 1
 * @padding: (nullable) (array fixed-size=2): the zero padding on both sides of each
 *   spatial dimension (height, width), or %NULL for 0
 * @dilation: (nullable) (array fixed-size=2): the spacing between kernel elements
 *   (height, width), or %NULL for 1
 * @groups: the number of groups the channels are split into; must divide C_in and C_out
 *   (C_in for a depthwise convolution)
 * @error: return location for a #GError, or %NULL
 *
 * A 2-D convolution (a cross-correlation) as PyTorch's `F.conv2d`:
 * output [N, C_out, H_out, W_out] with
 * `H_out = (H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) / stride[0] + 1`
 * (and likewise for W).  Inputs may be non-contiguous.  Differentiable with respect to
 * @input, @weight and @bias.
 *
 * Errors (%MACT_TENSOR_ERROR): %MACT_TENSOR_ERROR_SHAPE when @input or @weight is not 4-D
 * or has an empty dimension, when C_in differs from the weight's C_in times @groups, when
 * @bias is not [C_out], or when the dilated kernel is larger than the padded input;
 * %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @groups is < 1 or does not divide C_in or
 * C_out, when a stride or dilation is not positive, or a padding is negative.
 *
 * Returns: (transfer full) (nullable): the output, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_conv2d (MactTensor *input, MactTensor *weight, MactTensor *bias, const gint *stride,
             const gint *padding, const gint *dilation, gint groups, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (weight != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return conv_nd (2, input, weight, bias, stride, padding, dilation, groups, error);
}

/**
 * mact_conv3d:
 * @input: the input, [N, C_in, D, H, W]
 * @weight: the filters, [C_out, C_in / @groups, kD, kH, kW]
 * @bias: (nullable): the bias, [C_out], or %NULL for none
 * @stride: (nullable) (array fixed-size=3): the stride (depth, height, width), or %NULL
 *   for 1
 * @padding: (nullable) (array fixed-size=3): the zero padding on both sides of each
 *   spatial dimension (depth, height, width), or %NULL for 0
 * @dilation: (nullable) (array fixed-size=3): the spacing between kernel elements
 *   (depth, height, width), or %NULL for 1
 * @groups: the number of groups the channels are split into; must divide C_in and C_out
 * @error: return location for a #GError, or %NULL
 *
 * A 3-D convolution (a cross-correlation) as PyTorch's `F.conv3d`:
 * output [N, C_out, D_out, H_out, W_out] with
 * `D_out = (D + 2 * padding[0] - dilation[0] * (kD - 1) - 1) / stride[0] + 1`
 * (and likewise for H and W).  Inputs may be non-contiguous.  Differentiable with respect
 * to @input, @weight and @bias.
 *
 * Errors (%MACT_TENSOR_ERROR): %MACT_TENSOR_ERROR_SHAPE when @input or @weight is not 5-D
 * or has an empty dimension, when C_in differs from the weight's C_in times @groups, when
 * @bias is not [C_out], or when the dilated kernel is larger than the padded input;
 * %MACT_TENSOR_ERROR_INVALID_ARGUMENT when @groups is < 1 or does not divide C_in or
 * C_out, when a stride or dilation is not positive, or a padding is negative.
 *
 * Returns: (transfer full) (nullable): the output, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_conv3d (MactTensor *input, MactTensor *weight, MactTensor *bias, const gint *stride,
             const gint *padding, const gint *dilation, gint groups, GError **error)
{
  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (weight != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return conv_nd (3, input, weight, bias, stride, padding, dilation, groups, error);
}

/* ------------------------------------------------------------------------------------ */
/* Linear                                                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  gint64 rows;          /* product of the input's leading dims */
  gint64 in_features;
  gint64 out_features;
} LinearParams;

static gboolean
linear_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                 GError **error)
{
  const LinearParams *p = node->ctx;
  MactTensor *x = mact_node_saved (node, 0);
  MactTensor *w = mact_node_saved (node, 1);
  g_autoptr(MactTensor) gy = mact_tensor_contiguous (grad_output);
  const float *gyd = mact_tensor_data (gy);

  if (node->needs_grad[0])
    {
      /* gx[rows, in] = gy[rows, out] . w[out, in] */
      MactTensor *gx = mact_tensor_new_with_shape (x->ndim, x->shape, FALSE, error);
      if (gx == NULL)
        return FALSE;
      mact_gemm (FALSE, FALSE, p->rows, p->in_features, p->out_features, 1.0f,
                 gyd, p->out_features, mact_tensor_data (w), p->in_features,
                 0.0f, mact_tensor_data (gx), p->in_features);
      grad_inputs[0] = gx;
    }
  if (node->needs_grad[1])
    {
      /* gw[out, in] = gy[rows, out]^T . x[rows, in] */
      MactTensor *gw = mact_tensor_new_with_shape (w->ndim, w->shape, FALSE, error);
      if (gw == NULL)
        return FALSE;
      mact_gemm (TRUE, FALSE, p->out_features, p->in_features, p->rows, 1.0f,
                 gyd, p->out_features, mact_tensor_data (x), p->in_features,
                 0.0f, mact_tensor_data (gw), p->in_features);
      grad_inputs[1] = gw;
    }
  if (node->n_inputs > 2 && node->needs_grad[2])
    {
      MactTensor *gb = mact_tensor_new_with_shape (1, &p->out_features, FALSE, error);
      if (gb == NULL)
        return FALSE;
      bias_grad (gyd, mact_tensor_data (gb), p->rows, p->out_features, 1);
      grad_inputs[2] = gb;
    }
  return TRUE;
}

/**
 * mact_linear:
 * @input: the input, [..., in_features] with any number (including none) of leading
 *   dimensions
 * @weight: the weight, [out_features, in_features]
 * @bias: (nullable): the bias, [out_features], or %NULL for none
 * @error: return location for a #GError, or %NULL
 *
 * A fully connected layer as PyTorch's `F.linear`: `input . weight^T + bias`, of shape
 * [..., out_features].  Inputs may be non-contiguous.  Differentiable with respect to
 * @input, @weight and @bias.
 *
 * Errors (%MACT_TENSOR_ERROR_SHAPE): @input has no dimension or an empty one, @weight is
 * not 2-D or has an empty dimension, the last dimension of @input is not in_features, or
 * @bias is not [out_features].
 *
 * Returns: (transfer full) (nullable): the output, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_linear (MactTensor *input, MactTensor *weight, MactTensor *bias, GError **error)
{
  LinearParams p;
  gint64 out_shape[MACT_MAX_DIMS];
  g_autoptr(MactTensor) xc = NULL;
  g_autoptr(MactTensor) wc = NULL;
  g_autoptr(MactTensor) bc = NULL;
  g_autoptr(MactTensor) out = NULL;

  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (weight != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (input->ndim < 1)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "linear: expected an input [..., in_features], got a 0-D tensor");
      return NULL;
    }
  if (weight->ndim != 2)
    {
      g_autofree gchar *s = mact_shape_format (weight->ndim, weight->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "linear: expected a 2-D weight [out_features, in_features], got %s", s);
      return NULL;
    }
  if (!check_no_zero_dims ("linear", "input", input, error) ||
      !check_no_zero_dims ("linear", "weight", weight, error))
    return NULL;

  p.in_features = weight->shape[1];
  p.out_features = weight->shape[0];
  if (input->shape[input->ndim - 1] != p.in_features)
    {
      g_autofree gchar *is = mact_shape_format (input->ndim, input->shape);
      g_autofree gchar *ws = mact_shape_format (weight->ndim, weight->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "linear: input %s has %" G_GINT64_FORMAT " features, weight %s expects %"
                   G_GINT64_FORMAT, is, input->shape[input->ndim - 1], ws, p.in_features);
      return NULL;
    }
  if (bias != NULL && (bias->ndim != 1 || bias->shape[0] != p.out_features))
    {
      g_autofree gchar *bs = mact_shape_format (bias->ndim, bias->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "linear: expected a bias of shape [%" G_GINT64_FORMAT "], got %s",
                   p.out_features, bs);
      return NULL;
    }

  p.rows = 1;
  for (gint i = 0; i < input->ndim - 1; i++)
    {
      p.rows *= input->shape[i];
      out_shape[i] = input->shape[i];
    }
  out_shape[input->ndim - 1] = p.out_features;
  out = mact_tensor_new_empty (input->ndim, out_shape, error);
  if (out == NULL)
    return NULL;

  MACT_NO_GRAD_BEGIN
  xc = mact_tensor_contiguous (input);
  wc = mact_tensor_contiguous (weight);
  bc = bias != NULL ? mact_tensor_contiguous (bias) : NULL;
  MACT_NO_GRAD_END

  /* y[rows, out] = x[rows, in] . w[out, in]^T */
  mact_gemm (FALSE, TRUE, p.rows, p.out_features, p.in_features, 1.0f,
             mact_tensor_data (xc), p.in_features, mact_tensor_data (wc), p.in_features,
             0.0f, mact_tensor_data (out), p.out_features);
  if (bc != NULL)
    bias_add (mact_tensor_data (out), mact_tensor_data (bc), p.rows, p.out_features, 1);

  MactTensor *inputs[3] = { input, weight, bias };
  guint n_inputs = bias != NULL ? 3 : 2;
  if (mact_autograd_wants (inputs, n_inputs))
    {
      MactNode *node = mact_node_new ("LinearBackward", linear_backward, inputs, n_inputs);
      mact_node_save (node, xc);   /* 0 */
      mact_node_save (node, wc);   /* 1 */
      mact_node_set_ctx (node, g_memdup2 (&p, sizeof p), g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return g_steal_pointer (&out);
}

/* ------------------------------------------------------------------------------------ */
/* Matmul                                                                               */
/* ------------------------------------------------------------------------------------ */

/* a is viewed as [batch_a..., m, k] and b as [batch_b..., k, n] (a 1-D a as [1, k], a 1-D
 * b as [k, 1]); the batch dims broadcast to batch_shape. */
typedef struct {
  gint64   m, k, n;
  gint     batch_ndim;
  gint64   batch_shape[MACT_MAX_DIMS];
  gint64   a_stride[MACT_MAX_DIMS];   /* in matrices; 0 along broadcast dims */
  gint64   b_stride[MACT_MAX_DIMS];
  gint64   batch;                     /* product of batch_shape */
  gboolean fold;                      /* b is one matrix and a is not broadcast: fold a's
                                       * batch into its rows and run a single GEMM */
} MatmulParams;

/* Matrix indices of a and b for output batch @t. */
static inline void
matmul_batch_offsets (const MatmulParams *p, gint64 t, gint64 *ia, gint64 *ib)
{
  gint64 a = 0, b = 0;

  for (gint d = p->batch_ndim - 1; d >= 0; d--)
    {
      gint64 i = t % p->batch_shape[d];
      t /= p->batch_shape[d];
      a += i * p->a_stride[d];
      b += i * p->b_stride[d];
    }
  *ia = a;
  *ib = b;
}

/* Strides (in matrices) of a batch of shape @shape (@ndim dims) right-aligned against an
 * output batch of @out_ndim dims, with 0 along broadcast dims. */
static void
matmul_batch_strides (gint ndim, const gint64 *shape, gint out_ndim, gint64 *strides)
{
  gint64 s = 1;

  for (gint d = out_ndim - 1; d >= 0; d--)
    {
      gint src = d - (out_ndim - ndim);
      if (src < 0 || shape[src] == 1)
        strides[d] = 0;
      else
        strides[d] = s;
      if (src >= 0)
        s *= shape[src];
    }
}

static gboolean
matmul_backward (MactNode *node, MactTensor *grad_output, MactTensor **grad_inputs,
                 GError **error)
{
  const MatmulParams *p = node->ctx;
  MactTensor *a = mact_node_saved (node, 0);
  MactTensor *b = mact_node_saved (node, 1);
  g_autoptr(MactTensor) gy = mact_tensor_contiguous (grad_output);
  g_autoptr(MactTensor) ga = NULL;
  g_autoptr(MactTensor) gb = NULL;
  const gint64 m = p->m, k = p->k, n = p->n;
  const float *ad = mact_tensor_data (a), *bd = mact_tensor_data (b);
  const float *gyd = mact_tensor_data (gy);

  /* Zero-filled: broadcast batches accumulate into the same matrix. */
  if (node->needs_grad[0] &&
      (ga = mact_tensor_new_with_shape (a->ndim, a->shape, TRUE, error)) == NULL)
    return FALSE;
  if (node->needs_grad[1] &&
      (gb = mact_tensor_new_with_shape (b->ndim, b->shape, TRUE, error)) == NULL)
    return FALSE;

  if (p->fold)
    {
      gint64 rows = p->batch * m;
      if (ga != NULL)   /* ga[rows, k] = gy[rows, n] . b[k, n]^T */
        mact_gemm (FALSE, TRUE, rows, k, n, 1.0f, gyd, n, bd, n,
                   0.0f, mact_tensor_data (ga), k);
      if (gb != NULL)   /* gb[k, n] = a[rows, k]^T . gy[rows, n] */
        mact_gemm (TRUE, FALSE, k, n, rows, 1.0f, ad, k, gyd, n,
                   0.0f, mact_tensor_data (gb), n);
    }
  else
    {
      for (gint64 t = 0; t < p->batch; t++)
        {
          gint64 ia, ib;
          const float *gyt = gyd + t * m * n;
          matmul_batch_offsets (p, t, &ia, &ib);
          if (ga != NULL)
            mact_gemm (FALSE, TRUE, m, k, n, 1.0f, gyt, n, bd + ib * k * n, n,
                       1.0f, mact_tensor_data (ga) + ia * m * k, k);
          if (gb != NULL)
            mact_gemm (TRUE, FALSE, k, n, m, 1.0f, ad + ia * m * k, k, gyt, n,
                       1.0f, mact_tensor_data (gb) + ib * k * n, n);
        }
    }

  grad_inputs[0] = g_steal_pointer (&ga);
  grad_inputs[1] = g_steal_pointer (&gb);
  return TRUE;
}

/**
 * mact_matmul:
 * @a: the left operand, at least 1-D
 * @b: the right operand, at least 1-D
 * @error: return location for a #GError, or %NULL
 *
 * The matrix product as PyTorch's `torch.matmul`:
 *
 * - 2-D x 2-D: [m, k] x [k, n] gives [m, n];
 * - 1-D x 1-D: the dot product, a 0-D tensor;
 * - 1-D x N-D: @a [k] is treated as [1, k] and the m dimension is removed from the
 *   result; N-D x 1-D: @b [k] is treated as [k, 1] and the n dimension is removed;
 * - batched: when either operand has more than 2 dimensions, the dimensions before the
 *   last two are batch dimensions, which broadcast as in PyTorch (e.g. [2, 3, 4] x [4, 5]
 *   gives [2, 3, 5] and [2, 1, 3, 4] x [5, 4, 2] gives [2, 5, 3, 2]).
 *
 * Inputs may be non-contiguous.  Differentiable with respect to @a and @b.
 *
 * Errors (%MACT_TENSOR_ERROR_SHAPE): an operand is 0-D or has an empty dimension, the
 * inner dimensions differ, or the batch dimensions do not broadcast.
 *
 * Returns: (transfer full) (nullable): the product, or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensor *
mact_matmul (MactTensor *a, MactTensor *b, GError **error)
{
  MatmulParams p;
  gint64 out_shape[MACT_MAX_DIMS];
  gint out_ndim;
  gint64 a_rows, b_cols;
  g_autoptr(MactTensor) ac = NULL;
  g_autoptr(MactTensor) bc = NULL;
  g_autoptr(MactTensor) out = NULL;

  g_return_val_if_fail (a != NULL, NULL);
  g_return_val_if_fail (b != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  memset (&p, 0, sizeof p);
  if (a->ndim < 1 || b->ndim < 1)
    {
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "matmul: both operands must be at least 1-D, got %d-D and %d-D",
                   a->ndim, b->ndim);
      return NULL;
    }
  if (!check_no_zero_dims ("matmul", "the left operand", a, error) ||
      !check_no_zero_dims ("matmul", "the right operand", b, error))
    return NULL;

  gint a_bnd = MAX (a->ndim - 2, 0), b_bnd = MAX (b->ndim - 2, 0);
  p.m = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
  p.k = a->shape[a->ndim - 1];
  gint64 bk = b->ndim >= 2 ? b->shape[b->ndim - 2] : b->shape[0];
  p.n = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
  if (bk != p.k)
    {
      g_autofree gchar *as = mact_shape_format (a->ndim, a->shape);
      g_autofree gchar *bs = mact_shape_format (b->ndim, b->shape);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "matmul: inner dimensions differ: %s x %s (%" G_GINT64_FORMAT " vs %"
                   G_GINT64_FORMAT ")", as, bs, p.k, bk);
      return NULL;
    }
  if (!mact_broadcast_shapes (a_bnd, a->shape, b_bnd, b->shape, &p.batch_ndim,
                              p.batch_shape, error))
    {
      g_prefix_error (error, "matmul: batch dimensions: ");
      return NULL;
    }
  matmul_batch_strides (a_bnd, a->shape, p.batch_ndim, p.a_stride);
  matmul_batch_strides (b_bnd, b->shape, p.batch_ndim, p.b_stride);

  p.batch = 1;
  a_rows = 1;
  b_cols = 1;
  for (gint d = 0; d < a_bnd; d++)
    a_rows *= a->shape[d];
  for (gint d = 0; d < b_bnd; d++)
    b_cols *= b->shape[d];
  out_ndim = 0;
  for (gint d = 0; d < p.batch_ndim; d++)
    {
      p.batch *= p.batch_shape[d];
      out_shape[out_ndim++] = p.batch_shape[d];
    }
  if (a->ndim >= 2)
    out_shape[out_ndim++] = p.m;
  if (b->ndim >= 2)
    out_shape[out_ndim++] = p.n;
  /* b holds a single matrix and a one per output batch: one GEMM over all rows. */
  p.fold = b_cols == 1 && a_rows == p.batch;

  out = mact_tensor_new_empty (out_ndim, out_shape, error);
  if (out == NULL)
    return NULL;

  MACT_NO_GRAD_BEGIN
  ac = mact_tensor_contiguous (a);
  bc = mact_tensor_contiguous (b);
  MACT_NO_GRAD_END

  const float *ad = mact_tensor_data (ac), *bd = mact_tensor_data (bc);
  float *yd = mact_tensor_data (out);
  if (p.fold)
    mact_gemm (FALSE, FALSE, p.batch * p.m, p.n, p.k, 1.0f, ad, p.k, bd, p.n,
               0.0f, yd, p.n);
  else
    for (gint64 t = 0; t < p.batch; t++)
      {
        gint64 ia, ib;
        matmul_batch_offsets (&p, t, &ia, &ib);
        mact_gemm (FALSE, FALSE, p.m, p.n, p.k, 1.0f, ad + ia * p.m * p.k, p.k,
                   bd + ib * p.k * p.n, p.n, 0.0f, yd + t * p.m * p.n, p.n);
      }

  MactTensor *inputs[2] = { a, b };
  if (mact_autograd_wants (inputs, 2))
    {
      MactNode *node = mact_node_new ("MatmulBackward", matmul_backward, inputs, 2);
      mact_node_save (node, ac);   /* 0 */
      mact_node_save (node, bc);   /* 1 */
      mact_node_set_ctx (node, g_memdup2 (&p, sizeof p), g_free);
      mact_tensor_set_grad_fn (out, node);
    }
  return g_steal_pointer (&out);
}
