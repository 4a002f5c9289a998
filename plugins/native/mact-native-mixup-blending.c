/* mact-native-mixup-blending.c: mmaction2's MixupBlending, registered as "MixupBlending".
 *
 * lam ~ Beta(alpha, alpha), then a random permutation of the batch (drawn in that order,
 * as mmaction2 does); images and one-hot labels become lam * x + (1 - lam) * x[perm].
 * Works for any [B, ...] batch (NCHW clips [B, V, C, H, W] and NCTHW [B, V, C, T, H, W]). */
#include "mact-native-mixup-blending.h"
#include "mact-native-blending-utils.h"
#include "mact-native-random.h"

struct _MactNativeMixupBlending
{
  MactBlending parent_instance;
};

G_DEFINE_FINAL_TYPE (MactNativeMixupBlending, mact_native_mixup_blending, MACT_TYPE_BLENDING)

static gboolean
mact_native_mixup_blending_do_blending (MactBlending *blending, MactTensor *imgs,
                                        MactTensor *label, MactGenerator *generator,
                                        MactTensor **imgs_out, MactTensor **label_out,
                                        GError **error)
{
  if (!mact_native_blending_check ("MixupBlending", imgs, label, error))
    return FALSE;
  const double alpha = mact_blending_get_alpha (blending);
  const gint64 batch = mact_tensor_get_size (imgs, 0);
  const float lam = (float) mact_native_sample_beta (generator, alpha, alpha);
  g_autofree gint64 *perm = g_new (gint64, batch);
  mact_native_randperm (generator, batch, perm);

  g_autoptr(MactTensor) mixed_imgs = mact_native_mix_rows (imgs, perm, lam, error);
  if (mixed_imgs == NULL)
    return FALSE;
  g_autoptr(MactTensor) mixed_label = mact_native_mix_rows (label, perm, lam, error);
  if (mixed_label == NULL)
    return FALSE;
  *imgs_out = g_steal_pointer (&mixed_imgs);
  *label_out = g_steal_pointer (&mixed_label);
  return TRUE;
}

static void
mact_native_mixup_blending_class_init (MactNativeMixupBlendingClass *klass)
{
  MACT_MODULE_CLASS (klass)->forward = mact_native_blending_forward;
  MACT_BLENDING_CLASS (klass)->do_blending = mact_native_mixup_blending_do_blending;
}

static void
mact_native_mixup_blending_init (MactNativeMixupBlending *self)
{
}
