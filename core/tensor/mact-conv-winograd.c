/* mact-conv-winograd.c: convolutions with a 3x3 spatial kernel by Winograd's minimal
 * filtering, F(4x4, 3x3).
 *
 * Why: the 3-D ResNets (r3d_18, mc3_18) spend 85% of their time in 3x3x3 and 1x3x3
 * convolutions with 64-512 channels, and as one im2col GEMM each they are bound by the
 * GEMM's multiply-adds.  F(4x4, 3x3) computes a 4x4 block of outputs of a 3x3 filter
 * from a 6x6 block of inputs with 36 multiplications instead of 144: transform the input
 * tile (V = Bt d B) and the filter (U = G g Gt), multiply elementwise, transform back
 * (Y = At M A).  Summed over input channels, the elementwise products become 36
 * independent matrix products, one per position xi of the 6x6 tile:
 *
 *     M[xi][cout][tile] = sum over cin, kz of U[xi][cout][kz][cin] * V[xi][frame + kz][cin][tile]
 *
 * A temporal (depth) kernel of kd taps is not transformed: the kd input frames a given
 * output frame reads are adjacent in V (frame-major layout), so their taps stack into
 * the GEMM's inner dimension, K = kd * Cin, and each (xi, output frame) is one GEMM of
 * [Cout x K] by [K x tiles].  Those are small enough to stay in cache, which is where
 * OpenBLAS runs fastest.
 *
 * Frames are processed in chunks whose transformed input and output fit a fixed budget,
 * so the work buffers stay at a few MiB whatever the clip length.  A 1-frame kernel with
 * no temporal padding makes every frame of every sample independent: they are then one
 * sequence of frames (2-D convolutions over a batch of segments land here).
 *
 * The transforms run on 8 tiles at once in GCC/clang vector types, so they vectorise
 * on any target; on x86-64 an AVX2+FMA clone is chosen at run time where the CPU has it.
 *
 * Accuracy: the transforms add rounding of a few ulps times the magnitudes of the matrix
 * entries (up to 8); tests/test-ops-conv.c checks the result against a float64 direct
 * convolution, and the full-size parity suite runs the real models through this path.
 */
#include "mact-conv-winograd-private.h"
#include "mact-scratch-private.h"

#include <string.h>

/* Output tile edge, input tile edge, and the number of transformed positions. */
#define WINO_OUT   4
#define WINO_IN    6
#define WINO_XI    (WINO_IN * WINO_IN)
/* Tiles transformed together, one per vector lane. */
#define WINO_LANES 8
/* Planes of at least this many tiles stack the temporal taps into one GEMM per frame
 * (see Geometry); smaller ones make one GEMM per tap over all the chunk's frames. */
#define WINO_STACK_MIN_TILES 64
/* Bytes of transformed input and output per chunk of frames. */
#define WINO_CHUNK_BYTES (G_GINT64_CONSTANT (12) << 20)

typedef float WinoVec __attribute__ ((vector_size (WINO_LANES * sizeof (float))));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
/* GCC builds a default and an AVX2 version and picks one at load time (ifunc) by the
 * CPU's features ("arch=haswell" would test for the CPU model and miss AMD's). */
#define WINO_CLONES __attribute__ ((target_clones ("avx2", "default")))
#else
#define WINO_CLONES
#endif

/* ------------------------------------------------------------------------------------ */
/* The 1-D transforms, applied to rows and columns of a tile                            */
/* ------------------------------------------------------------------------------------ */

/* Input: v = Bt d for the interpolation points 0, 1, -1, 2, -2 and infinity. */
static inline void
input_1d (const WinoVec d[WINO_IN], WinoVec v[WINO_IN])
{
  v[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  v[1] = -4.0f * (d[1] + d[2]) + d[3] + d[4];
  v[2] = 4.0f * (d[1] - d[2]) - d[3] + d[4];
  v[3] = 2.0f * (d[3] - d[1]) - d[2] + d[4];
  v[4] = 2.0f * (d[1] - d[3]) - d[2] + d[4];
  v[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* Filter: u = G g (3 taps to 6 positions). */
static inline void
filter_1d (const WinoVec g[3], WinoVec u[WINO_IN])
{
  const WinoVec even = g[0] + g[2];
  u[0] = 0.25f * g[0];
  u[1] = (-1.0f / 6.0f) * (even + g[1]);
  u[2] = (-1.0f / 6.0f) * (even - g[1]);
  u[3] = (1.0f / 24.0f) * g[0] + (1.0f / 12.0f) * g[1] + (1.0f / 6.0f) * g[2];
  u[4] = (1.0f / 24.0f) * g[0] - (1.0f / 12.0f) * g[1] + (1.0f / 6.0f) * g[2];
  u[5] = g[2];
}

/* Output: y = At m (6 positions to 4 outputs). */
static inline void
output_1d (const WinoVec m[WINO_IN], WinoVec y[WINO_OUT])
{
  const WinoVec s12 = m[1] + m[2], d12 = m[1] - m[2];
  const WinoVec s34 = m[3] + m[4], d34 = m[3] - m[4];
  y[0] = m[0] + s12 + s34;
  y[1] = d12 + 2.0f * d34;
  y[2] = s12 + 4.0f * s34;
  y[3] = d12 + 8.0f * d34 + m[5];
}

/* Unaligned loads and stores.  Vectors pass by pointer: by value, a 32-byte vector's
 * calling convention would differ between the default and the AVX clones. */
static inline void
load_vec (WinoVec *v, const float *p)
{
  memcpy (v, p, sizeof *v);
}

static inline void
store_vec (float *p, const WinoVec *v)
{
  memcpy (p, v, sizeof *v);
}

/* ------------------------------------------------------------------------------------ */
/* Geometry                                                                             */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  const MactWinogradConv *c;
  gint64 tiles_h, tiles_w, tiles;   /* output tiles per frame */
  gint64 pad_rows, pad_cols;        /* the zero-padded input plane a frame is copied into */
  gboolean flat;                    /* frames of all samples form one sequence */
  gint64 frames_in, frames_out;     /* per sequence */
  gint64 sequences;
  /* Layout of the transformed input V and output M of a chunk, within one position xi.
   * Frame-major ([frame][channel][tile]) lets the kd taps of an output frame stack into
   * one GEMM; channel-major ([channel][frame][tile]) makes each tap one GEMM over all the
   * chunk's frames, which suits planes of few tiles. */
  gboolean frame_major;
} Geometry;

/* Offsets of (frame, channel) rows in V or M for a chunk of @frames frames. */
static inline gint64
row_offset (const Geometry *g, gint64 frames, gint64 channels, gint64 f, gint64 ch)
{
  return (g->frame_major ? f * channels + ch : ch * frames + f) * g->tiles;
}

/* The plane of channel @ch of frame @f of sequence @s in a [N, C, D, H, W] buffer. */
static inline gint64
plane_offset (const Geometry *g, gint64 channels, gint64 depth, gint64 plane, gint64 s,
              gint64 f, gint64 ch)
{
  const gint64 n = g->flat ? f / depth : s;
  const gint64 d = g->flat ? f % depth : f;
  return ((n * channels + ch) * depth + d) * plane;
}

/* ------------------------------------------------------------------------------------ */
/* Filter transform: U[xi][Cout][kd][Cin]                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  const Geometry *g;
  const float    *w;
  float          *u;
} FilterTask;

/* Tap (kz, kh, kw) of the filter from input channel @ci to output channel @co.  For the
 * transposed filter of a backward pass the channels swap and the kernel is rotated. */
static inline float
filter_tap (const MactWinogradConv *c, const float *w, gint64 co, gint64 ci, gint64 kz,
            gint64 kh, gint64 kw)
{
  const gint64 kd = c->kernel_d;
  if (c->transposed)
    return w[(((ci * c->out_channels + co) * kd + (kd - 1 - kz)) * 3 + (2 - kh)) * 3 +
             (2 - kw)];
  return w[(((co * c->in_channels + ci) * kd + kz) * 3 + kh) * 3 + kw];
}

WINO_CLONES static void
filter_transform_func (gint64 begin, gint64 end, gpointer data)
{
  const FilterTask *t = data;
  const MactWinogradConv *c = t->g->c;
  const gint64 cin = c->in_channels, kd = c->kernel_d;
  const gint64 xi_stride = c->out_channels * kd * cin;

  for (gint64 co = begin; co < end; co++)
    for (gint64 kz = 0; kz < kd; kz++)
      for (gint64 ci0 = 0; ci0 < cin; ci0 += WINO_LANES)
        {
          const gint64 lanes = MIN (WINO_LANES, cin - ci0);
          /* Gathered into plain floats first: writing vector lanes one by one makes
           * compilers spill the vector at every write. */
          float taps[3][3][WINO_LANES] = { { { 0 } } };
          WinoVec g[3][3], rows[3][WINO_IN], u[WINO_IN][WINO_IN];
          for (gint64 l = 0; l < lanes; l++)
            for (gint kh = 0; kh < 3; kh++)
              for (gint kw = 0; kw < 3; kw++)
                taps[kh][kw][l] = filter_tap (c, t->w, co, ci0 + l, kz, kh, kw);
          for (gint kh = 0; kh < 3; kh++)
            for (gint kw = 0; kw < 3; kw++)
              load_vec (&g[kh][kw], taps[kh][kw]);
          /* Rows first (along width), then columns: U = G g Gt. */
          for (gint kh = 0; kh < 3; kh++)
            filter_1d (g[kh], rows[kh]);
          for (gint j = 0; j < WINO_IN; j++)
            {
              WinoVec col[3] = { rows[0][j], rows[1][j], rows[2][j] }, out[WINO_IN];
              filter_1d (col, out);
              for (gint i = 0; i < WINO_IN; i++)
                u[i][j] = out[i];
            }
          float *dst = t->u + (co * kd + kz) * cin + ci0;
          for (gint i = 0; i < WINO_IN; i++)
            for (gint j = 0; j < WINO_IN; j++)
              {
                float *p = dst + (i * WINO_IN + j) * xi_stride;
                if (lanes == WINO_LANES)
                  store_vec (p, &u[i][j]);
                else
                  for (gint64 l = 0; l < lanes; l++)
                    p[l] = u[i][j][l];
              }
        }
}

/* ------------------------------------------------------------------------------------ */
/* Input transform: V[xi][frame][Cin][tile] for the frames of one chunk                 */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  const Geometry *g;
  const float    *x;
  gint64          sequence;
  gint64          d0, nd;       /* the chunk's input frames */
  float          *v;
} InputTask;

WINO_CLONES static void
input_transform_func (gint64 begin, gint64 end, gpointer data)
{
  const InputTask *t = data;
  const Geometry *g = t->g;
  const MactWinogradConv *c = g->c;
  const gint64 cin = c->in_channels, H = c->in_h, W = c->in_w, plane = H * W;
  const gint64 pr = g->pad_rows, pc = g->pad_cols;
  const gint64 xi_stride = t->nd * cin * g->tiles;
  /* The frame's plane with its zero border, so tiles read without bounds checks. */
  g_autofree float *padded = g_new0 (float, pr * pc);

  for (gint64 item = begin; item < end; item++)
    {
      const gint64 dd = item / cin, ci = item % cin;
      const float *src = t->x + plane_offset (g, cin, c->in_d, plane, t->sequence,
                                              t->d0 + dd, ci);
      for (gint64 h = 0; h < H; h++)
        memcpy (padded + (h + c->pad_h) * pc + c->pad_w, src + h * W, W * sizeof (float));

      float *dst = t->v + row_offset (g, t->nd, cin, dd, ci);
      /* Eight consecutive tiles at a time, across tile rows where a row ends. */
      for (gint64 k0 = 0; k0 < g->tiles; k0 += WINO_LANES)
        {
          const gint64 lanes = MIN (WINO_LANES, g->tiles - k0);
          const float *base[WINO_LANES];
          for (gint64 l = 0; l < lanes; l++)
            {
              const gint64 th = (k0 + l) / g->tiles_w, tw = (k0 + l) % g->tiles_w;
              base[l] = padded + th * WINO_OUT * pc + tw * WINO_OUT;
            }
          float patch[WINO_IN][WINO_IN][WINO_LANES];
          WinoVec d[WINO_IN][WINO_IN], rows[WINO_IN][WINO_IN];
          if (lanes < WINO_LANES)
            memset (patch, 0, sizeof patch);
          for (gint64 l = 0; l < lanes; l++)
            for (gint i = 0; i < WINO_IN; i++)
              for (gint j = 0; j < WINO_IN; j++)
                patch[i][j][l] = base[l][i * pc + j];
          for (gint i = 0; i < WINO_IN; i++)
            for (gint j = 0; j < WINO_IN; j++)
              load_vec (&d[i][j], patch[i][j]);
          /* V = Bt d B: each row through Bt, then each column. */
          for (gint i = 0; i < WINO_IN; i++)
            input_1d (d[i], rows[i]);
          for (gint j = 0; j < WINO_IN; j++)
            {
              WinoVec col[WINO_IN], v[WINO_IN];
              for (gint i = 0; i < WINO_IN; i++)
                col[i] = rows[i][j];
              input_1d (col, v);
              for (gint i = 0; i < WINO_IN; i++)
                {
                  float *q = dst + (i * WINO_IN + j) * xi_stride + k0;
                  if (lanes == WINO_LANES)
                    store_vec (q, &v[i]);
                  else
                    for (gint64 l = 0; l < lanes; l++)
                      q[l] = v[i][l];
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* The products: M[xi][frame][Cout][tile]                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  const Geometry *g;
  const float    *u, *v;
  gint64          t0, nt;   /* the chunk's output frames */
  gint64          d0, nd;   /* its input frames */
  float          *m;
} ProductTask;

/* Frame-major: item = (xi, output frame); the frame's taps are one GEMM with
 * K = taps * Cin. */
static void
product_stacked_func (gint64 begin, gint64 end, gpointer data)
{
  const ProductTask *t = data;
  const Geometry *g = t->g;
  const MactWinogradConv *c = g->c;
  const gint64 cin = c->in_channels, cout = c->out_channels, kd = c->kernel_d;
  const gint64 T = g->tiles;

  for (gint64 item = begin; item < end; item++)
    {
      const gint64 xi = item / t->nt, tt = item % t->nt;
      /* Tap kz reads input frame first + kz; the chunk holds every one that exists. */
      const gint64 first = t->t0 + tt - c->pad_d;
      const gint64 kz_lo = MAX (0, t->d0 - first);
      const gint64 kz_hi = MIN (kd, t->d0 + t->nd - first);
      float *m = t->m + xi * t->nt * cout * T + row_offset (g, t->nt, cout, tt, 0);
      if (kz_lo >= kz_hi)
        {
          memset (m, 0, cout * T * sizeof (float));
          continue;
        }
      const float *a = t->u + xi * cout * kd * cin + kz_lo * cin;
      const float *b = t->v + xi * t->nd * cin * T +
                       row_offset (g, t->nd, cin, first + kz_lo - t->d0, 0);
      mact_gemm (FALSE, FALSE, cout, T, (kz_hi - kz_lo) * cin, 1.0f, a, kd * cin, b, T,
                 0.0f, m, T);
    }
}

/* The output frames [*lo, *hi) of the chunk whose tap @kz reads a frame inside it. */
static inline void
tap_frames (const ProductTask *t, gint64 kz, gint64 *lo, gint64 *hi)
{
  const gint64 pad = t->g->c->pad_d;
  *lo = MAX (t->t0, t->d0 + pad - kz);
  *hi = MAX (*lo, MIN (t->t0 + t->nt, t->d0 + t->nd + pad - kz));
}

/* Channel-major: item = xi; each tap is one GEMM over all the frames it reaches,
 * accumulated. */
static void
product_taps_func (gint64 begin, gint64 end, gpointer data)
{
  const ProductTask *t = data;
  const Geometry *g = t->g;
  const MactWinogradConv *c = g->c;
  const gint64 cin = c->in_channels, cout = c->out_channels, kd = c->kernel_d;
  const gint64 T = g->tiles;

  for (gint64 xi = begin; xi < end; xi++)
    {
      float *m = t->m + xi * t->nt * cout * T;
      const float *v = t->v + xi * t->nd * cin * T;
      const float *u = t->u + xi * cout * kd * cin;
      /* A tap that reaches every frame of the chunk initialises M; otherwise zero it. */
      gint64 full = -1;
      for (gint64 kz = 0; kz < kd && full < 0; kz++)
        {
          gint64 lo, hi;
          tap_frames (t, kz, &lo, &hi);
          if (lo == t->t0 && hi == t->t0 + t->nt)
            full = kz;
        }
      if (full < 0)
        memset (m, 0, cout * t->nt * T * sizeof (float));
      for (gint64 i = 0; i < kd; i++)
        {
          const gint64 kz = full < 0 ? i : (i == 0 ? full : (i <= full ? i - 1 : i));
          gint64 lo, hi;
          tap_frames (t, kz, &lo, &hi);
          if (lo >= hi)
            continue;
          mact_gemm (FALSE, FALSE, cout, (hi - lo) * T, cin, 1.0f, u + kz * cin, kd * cin,
                     v + (lo - c->pad_d + kz - t->d0) * T, t->nd * T,
                     full >= 0 && i == 0 ? 0.0f : 1.0f, m + (lo - t->t0) * T, t->nt * T);
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Output transform: Y = At M A, plus the bias                                          */
/* ------------------------------------------------------------------------------------ */

typedef struct {
  const Geometry *g;
  const float    *m;
  const float    *bias;
  gint64          sequence;
  gint64          t0, nt;
  float          *y;
} OutputTask;

WINO_CLONES static void
output_transform_func (gint64 begin, gint64 end, gpointer data)
{
  const OutputTask *t = data;
  const Geometry *g = t->g;
  const MactWinogradConv *c = g->c;
  const gint64 cout = c->out_channels, OH = c->out_h, OW = c->out_w;
  const gint64 T = g->tiles, xi_stride = t->nt * cout * T;

  for (gint64 item = begin; item < end; item++)
    {
      const gint64 tt = item / cout, co = item % cout;
      const float b = t->bias != NULL ? t->bias[co] : 0.0f;
      const float *src = t->m + row_offset (g, t->nt, cout, tt, co);
      float *dst = t->y + plane_offset (g, cout, c->out_d, OH * OW, t->sequence,
                                        t->t0 + tt, co);
      for (gint64 k0 = 0; k0 < T; k0 += WINO_LANES)
        {
          const gint64 lanes = MIN (WINO_LANES, T - k0);
          const float *in = src + k0;
          WinoVec m[WINO_IN][WINO_IN], rows[WINO_IN][WINO_OUT], y[WINO_OUT][WINO_OUT];
          for (gint i = 0; i < WINO_IN; i++)
            for (gint j = 0; j < WINO_IN; j++)
              {
                const float *p = in + (i * WINO_IN + j) * xi_stride;
                if (lanes == WINO_LANES)
                  load_vec (&m[i][j], p);
                else
                  {
                    float part[WINO_LANES] = { 0 };
                    memcpy (part, p, lanes * sizeof (float));
                    load_vec (&m[i][j], part);
                  }
              }
          /* Y = At M A: each row through At, then each column. */
          for (gint i = 0; i < WINO_IN; i++)
            output_1d (m[i], rows[i]);
          for (gint j = 0; j < WINO_OUT; j++)
            {
              WinoVec col[WINO_IN], out[WINO_OUT];
              for (gint i = 0; i < WINO_IN; i++)
                col[i] = rows[i][j];
              output_1d (col, out);
              for (gint i = 0; i < WINO_OUT; i++)
                y[i][j] = out[i] + b;
            }
          /* Scatter each lane's 4x4 block, clipped at the plane's edge. */
          float block_values[WINO_OUT][WINO_OUT][WINO_LANES];
          for (gint i = 0; i < WINO_OUT; i++)
            for (gint j = 0; j < WINO_OUT; j++)
              store_vec (block_values[i][j], &y[i][j]);
          for (gint64 l = 0; l < lanes; l++)
            {
              const gint64 th = (k0 + l) / g->tiles_w, tw = (k0 + l) % g->tiles_w;
              const gint64 rows_here = MIN (WINO_OUT, OH - th * WINO_OUT);
              const gint64 cols_here = MIN (WINO_OUT, OW - tw * WINO_OUT);
              float *block = dst + th * WINO_OUT * OW + tw * WINO_OUT;
              for (gint64 i = 0; i < rows_here; i++)
                for (gint64 j = 0; j < cols_here; j++)
                  block[i * OW + j] = block_values[i][j][l];
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Driver                                                                               */
/* ------------------------------------------------------------------------------------ */

gboolean
mact_winograd_conv_supported (const MactWinogradConv *c)
{
  return c->kernel_d >= 1 && c->pad_d >= 0 && c->pad_d < c->kernel_d &&
         c->pad_h >= 0 && c->pad_h <= 2 && c->pad_w >= 0 && c->pad_w <= 2 &&
         c->out_d == c->in_d + 2 * c->pad_d - c->kernel_d + 1 &&
         c->out_h == c->in_h + 2 * c->pad_h - 2 && c->out_w == c->in_w + 2 * c->pad_w - 2 &&
         c->out_d > 0 && c->out_h > 0 && c->out_w > 0;
}

gboolean
mact_winograd_conv (const MactWinogradConv *c, const char *op, const float *x,
                    const float *w, const float *bias, float *y, GError **error)
{
  g_return_val_if_fail (mact_winograd_conv_supported (c), FALSE);

  Geometry g = { c };
  g.tiles_h = (c->out_h + WINO_OUT - 1) / WINO_OUT;
  g.tiles_w = (c->out_w + WINO_OUT - 1) / WINO_OUT;
  g.tiles = g.tiles_h * g.tiles_w;
  /* Tiles read WINO_IN rows from row th * WINO_OUT of the padded plane. */
  g.pad_rows = MAX (g.tiles_h * WINO_OUT + 2, c->in_h + c->pad_h);
  g.pad_cols = MAX (g.tiles_w * WINO_OUT + 2, c->in_w + c->pad_w);
  g.flat = c->kernel_d == 1 && c->pad_d == 0;
  g.frames_in = g.flat ? c->batch * c->in_d : c->in_d;
  g.frames_out = g.flat ? c->batch * c->out_d : c->out_d;
  g.sequences = g.flat ? 1 : c->batch;
  g.frame_major = c->kernel_d > 1 && g.tiles >= WINO_STACK_MIN_TILES;

  const gint64 cin = c->in_channels, cout = c->out_channels, kd = c->kernel_d;
  /* Output frames per chunk: their transformed outputs and (about) their inputs within
   * the budget. */
  const gint64 per_frame = WINO_XI * g.tiles * (cin + cout) * (gint64) sizeof (float);
  const gint64 chunk = CLAMP (WINO_CHUNK_BYTES / MAX (per_frame, 1) - (kd - 1), 1,
                              g.frames_out);
  const gint64 max_nd = MIN (chunk + kd - 1, g.frames_in);

  float *u = mact_scratch_get (MACT_SCRATCH_WINOGRAD_FILTER, WINO_XI * cout * kd * cin, op,
                               error);
  float *v = u != NULL ? mact_scratch_get (MACT_SCRATCH_WINOGRAD_INPUT,
                                           WINO_XI * max_nd * cin * g.tiles, op, error)
                       : NULL;
  float *m = v != NULL ? mact_scratch_get (MACT_SCRATCH_WINOGRAD_OUTPUT,
                                           WINO_XI * chunk * cout * g.tiles, op, error)
                       : NULL;
  if (m == NULL)
    return FALSE;

  FilterTask ft = { &g, w, u };
  mact_parallel_for (cout, 1, filter_transform_func, &ft);

  for (gint64 s = 0; s < g.sequences; s++)
    for (gint64 t0 = 0; t0 < g.frames_out; t0 += chunk)
      {
        const gint64 nt = MIN (chunk, g.frames_out - t0);
        const gint64 d0 = CLAMP (t0 - c->pad_d, 0, g.frames_in);
        const gint64 d1 = CLAMP (t0 + nt - 1 - c->pad_d + kd, d0, g.frames_in);
        const gint64 nd = d1 - d0;

        if (nd > 0)
          {
            InputTask it = { &g, x, s, d0, nd, v };
            mact_parallel_for (nd * cin, 1, input_transform_func, &it);
          }
        ProductTask pt = { &g, u, v, t0, nt, d0, nd, m };
        if (g.frame_major)
          mact_parallel_for (WINO_XI * nt, 1, product_stacked_func, &pt);
        else
          mact_parallel_for (WINO_XI, 1, product_taps_func, &pt);
        OutputTask ot = { &g, m, bias, s, t0, nt, y };
        mact_parallel_for (nt * cout, 1, output_transform_func, &ot);
      }
  return TRUE;
}
