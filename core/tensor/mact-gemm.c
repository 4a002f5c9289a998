/* mact-gemm.c: the single entry point to BLAS.  Every matrix product in mact goes
 * through mact_gemm(), so a faster GEMM (or packing, or a different BLAS) changes one file. */
#include "mact-tensor-private.h"

#include <cblas.h>

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
  /* Make sure OpenBLAS agrees with mact's thread count before the first product. */
  (void) mact_get_num_threads ();
  g_assert (m <= G_MAXINT && n <= G_MAXINT && k <= G_MAXINT);
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans, (blasint) m, (blasint) n, (blasint) k,
               alpha, a, (blasint) lda, b, (blasint) ldb, beta, c, (blasint) ldc);
}
