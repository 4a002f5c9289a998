/* mact-native-cutmix-blending.c: mmaction2's CutmixBlending, registered as
 * "CutmixBlending".
 *
 * In mmaction2's order: a random permutation of the batch, lam ~ Beta(alpha, alpha), then
 * a box of cut_w = int(W * sqrt(1 - lam)), cut_h = int(H * sqrt(1 - lam)) centred on a
 * uniform (cx, cy) and clipped to the image.  Every sample gets that box (in every frame
 * and channel: the last two dimensions are H and W, so NCHW and NCTHW batches both work)
 * from sample perm[b]; lam is then recomputed as 1 - box_area / (W * H) and the one-hot
 * labels are mixed with it.  Unlike mmaction2, the caller's batch is not modified. */
#include "mact-native-cutmix-blending.h"
#include "mact-native-blending-utils.h"
#include "mact-native-random.h"

#include <math.h>
#include <string.h>

struct _MactNativeCutmixBlending
{
  MactBlending parent_instance;
};

G_DEFINE_FINAL_TYPE (MactNativeCutmixBlending, mact_native_cutmix_blending, MACT_TYPE_BLENDING)

static gint64
clamp64 (gint64 v, gint64 low, gint64 high)
{
  return v < low ? low : (v > high ? high : v);
}

static gboolean
mact_native_cutmix_blending_do_blending (MactBlending *blending, MactTensor *imgs,
                                         MactTensor *label, MactGenerator *generator,
                                         MactTensor **imgs_out, MactTensor **label_out,
                                         GError **error)
{
  if (!mact_native_blending_check ("CutmixBlending", imgs, label, error))
    return FALSE;
  const double alpha = mact_blending_get_alpha (blending);
  const gint ndim = mact_tensor_get_ndim (imgs);
  const gint64 batch = mact_tensor_get_size (imgs, 0);
  const gint64 h = mact_tensor_get_size (imgs, ndim - 2);
  const gint64 w = mact_tensor_get_size (imgs, ndim - 1);

  g_autofree gint64 *perm = g_new (gint64, batch);
  mact_native_randperm (generator, batch, perm);
  const float lam = (float) mact_native_sample_beta (generator, alpha, alpha);

  /* rand_bbox, with mmaction2's float32 arithmetic and truncation. */
  const float cut_rat = sqrtf (1.0f - lam);
  const gint64 cut_w = (gint64) ((float) w * cut_rat);
  const gint64 cut_h = (gint64) ((float) h * cut_rat);
  const gint64 cx = mact_native_randint (generator, w);
  const gint64 cy = mact_native_randint (generator, h);
  const gint64 x1 = clamp64 (cx - cut_w / 2, 0, w), x2 = clamp64 (cx + cut_w / 2, 0, w);
  const gint64 y1 = clamp64 (cy - cut_h / 2, 0, h), y2 = clamp64 (cy + cut_h / 2, 0, h);

  g_autoptr(MactTensor) src = mact_tensor_contiguous (imgs);
  g_autoptr(MactTensor) out = mact_tensor_new_like (src, error);
  if (out == NULL)
    return FALSE;
  const gint64 plane = h * w;
  const gint64 planes = mact_tensor_get_numel (src) / (batch * plane);
  const float *s = mact_tensor_get_data (src);
  float *d = mact_tensor_get_data (out);
  memcpy (d, s, sizeof (float) * mact_tensor_get_numel (src));
  for (gint64 b = 0; b < batch; b++)
    for (gint64 p = 0; p < planes; p++)
      {
        const float *from = s + (perm[b] * planes + p) * plane;
        float *to = d + (b * planes + p) * plane;
        for (gint64 y = y1; y < y2; y++)
          memcpy (to + y * w + x1, from + y * w + x1, sizeof (float) * (x2 - x1));
      }

  const float box_lam = (float) (1.0 - (double) ((x2 - x1) * (y2 - y1)) / (double) (w * h));
  g_autoptr(MactTensor) mixed_label = mact_native_mix_rows (label, perm, box_lam, error);
  if (mixed_label == NULL)
    return FALSE;
  *imgs_out = g_steal_pointer (&out);
  *label_out = g_steal_pointer (&mixed_label);
  return TRUE;
}

static void
mact_native_cutmix_blending_class_init (MactNativeCutmixBlendingClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_blending_forward;
  MACT_BLENDING_CLASS (klass)->do_blending = mact_native_cutmix_blending_do_blending;
}

static void
mact_native_cutmix_blending_init (MactNativeCutmixBlending *self)
{
}
