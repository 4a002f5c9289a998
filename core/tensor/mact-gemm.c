/* mact-gemm.c: the single entry point to BLAS.  Every matrix product in mact goes
 * through mact_gemm(), so a faster GEMM (or packing, or a different BLAS) changes one file.
 *
 * Threading happens at exactly one level: OpenBLAS runs single-threaded (mact-runtime.c
 * pins it to one thread) and mact_gemm() splits a large product into column (or row)
 * blocks across mact's own pool.  OpenBLAS's pthreads workers busy-wait with sched_yield
 * between calls; with many small products per training step (a 32x32 ResNet-18 makes
 * hundreds) they spent a third of the CPU spinning against mact's own threads. */
#include "mact-tensor-private.h"

#include <cblas.h>

/* Below this many multiply-adds a product runs on the calling thread: waking a worker
 * costs more than it saves. */
#define GEMM_PARALLEL_MIN_MACS (G_GINT64_CONSTANT (1) << 18)
/* Column blocks are cut at multiples of this, so every block but the last keeps the
 * micro-kernel's full width. */
#define GEMM_COLUMN_ALIGN 16

typedef struct {
  gboolean     trans_a, trans_b, split_columns;
  gint64       m, n, k, lda, ldb, ldc, step;
  float        alpha, beta;
  const float *a, *b;
  float       *c;
} GemmTask;

static void
sgemm (gboolean trans_a, gboolean trans_b, gint64 m, gint64 n, gint64 k, float alpha,
       const float *a, gint64 lda, const float *b, gint64 ldb, float beta, float *c,
       gint64 ldc)
{
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans, (blasint) m, (blasint) n, (blasint) k,
               alpha, a, (blasint) lda, b, (blasint) ldb, beta, c, (blasint) ldc);
}

static void
gemm_block_func (gint64 begin, gint64 end, gpointer data)
{
  const GemmTask *t = data;

  for (gint64 blk = begin; blk < end; blk++)
    {
      if (t->split_columns)
        {
          /* Columns [j0, j1) of C: the same columns of op(B). */
          gint64 j0 = blk * t->step, j1 = MIN (t->n, j0 + t->step);
          const float *b = t->trans_b ? t->b + j0 * t->ldb : t->b + j0;
          sgemm (t->trans_a, t->trans_b, t->m, j1 - j0, t->k, t->alpha, t->a, t->lda,
                 b, t->ldb, t->beta, t->c + j0, t->ldc);
        }
      else
        {
          /* Rows [i0, i1) of C: the same rows of op(A). */
          gint64 i0 = blk * t->step, i1 = MIN (t->m, i0 + t->step);
          const float *a = t->trans_a ? t->a + i0 : t->a + i0 * t->lda;
          sgemm (t->trans_a, t->trans_b, i1 - i0, t->n, t->k, t->alpha, a, t->lda,
                 t->b, t->ldb, t->beta, t->c + i0 * t->ldc, t->ldc);
        }
    }
}

void
mact_gemm (gboolean trans_a, gboolean trans_b, gint64 m, gint64 n, gint64 k, float alpha,
           const float *a, gint64 lda, const float *b, gint64 ldb, float beta, float *c,
           gint64 ldc)
{
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0)
    {
      /* BLAS leaves C untouched for k == 0 only when beta == 1; make it explicit. */
      for (gint64 i = 0; i < m; i++)
        for (gint64 j = 0; j < n; j++)
          c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
      return;
    }
  /* Pins OpenBLAS to one thread before the first product (mact-runtime.c). */
  gint n_threads = mact_get_num_threads ();
  g_assert (m <= G_MAXINT && n <= G_MAXINT && k <= G_MAXINT);

  GemmTask t = { trans_a, trans_b, TRUE, m, n, k, lda, ldb, ldc, 0, alpha, beta, a, b, c };
  gint64 blocks = 1;
  if (n_threads > 1 && m * n * k >= GEMM_PARALLEL_MIN_MACS)
    {
      /* Split the larger of the two output dimensions: each block packs the whole other
       * operand, so cutting the long side keeps that duplicated work smallest. */
      t.split_columns = n >= m;
      gint64 extent = t.split_columns ? n : m;
      gint64 align = t.split_columns ? GEMM_COLUMN_ALIGN : 4;
      t.step = (extent + n_threads - 1) / n_threads;
      t.step = (t.step + align - 1) / align * align;
      blocks = (extent + t.step - 1) / t.step;
    }
  if (blocks <= 1)
    {
      sgemm (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  mact_parallel_for (blocks, 1, gemm_block_func, &t);
}
