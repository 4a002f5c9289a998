/* mact-recognizer-audio.c: AudioRecognizer.  Input [N, V, 1, F, T] spectrograms under
 * "audios"; no blending, no aux_info, no gradcam, as mmaction2's. */
#include "mact-recognizer-private.h"

struct _MactRecognizerAudio
{
  MactRecognizer parent_instance;
};

G_DEFINE_FINAL_TYPE (MactRecognizerAudio, mact_recognizer_audio, MACT_TYPE_RECOGNIZER)

static MactTensorDict *
mact_recognizer_audio_forward_train (MactRecognizer *self, MactTensor *audios,
                                     MactTensor *labels, MactTensorDict *kwargs,
                                     GError **error)
{
  g_autoptr(MactTensor) gt = mact_tensor_squeeze_all (labels, error);
  g_autoptr(MactTensor) x = gt ? mact_recognizer_fold_views (audios, "AudioRecognizer", 3, error)
                               : NULL;
  g_autoptr(GPtrArray) feat = x ? mact_recognizer_extract_feat (self, x, error) : NULL;
  if (feat == NULL)
    return NULL;
  MactHead *head = mact_recognizer_get_cls_head (self);
  g_autoptr(MactTensor) cls_score = mact_head_forward_head (head, feat, 0, error);
  if (cls_score == NULL)
    return NULL;
  return mact_head_loss (head, cls_score, gt, NULL, error);
}

static MactTensor *
mact_recognizer_audio_forward_test (MactRecognizer *self, MactTensor *audios, GError **error)
{
  if (mact_tensor_get_ndim (audios) < 3)
    {
      g_autofree char *s = mact_tensor_shape_to_string (audios);
      g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                   "AudioRecognizer: expected audios [N, V, ...], got %s", s);
      return NULL;
    }
  gint64 num_segs = mact_tensor_get_size (audios, 1);
  g_autoptr(MactTensor) x = mact_recognizer_fold_views (audios, "AudioRecognizer", 3, error);
  g_autoptr(GPtrArray) feat = x ? mact_recognizer_extract_feat (self, x, error) : NULL;
  if (feat == NULL)
    return NULL;
  MactHead *head = mact_recognizer_get_cls_head (self);
  if (head == NULL)
    {
      g_set_error (error, MACT_RECOGNIZER_ERROR, MACT_RECOGNIZER_ERROR_NO_HEAD,
                   "AudioRecognizer: testing needs a cls_head");
      return NULL;
    }
  g_autoptr(MactTensor) cls_score = mact_head_forward_head (head, feat, 0, error);
  if (cls_score == NULL)
    return NULL;
  return mact_recognizer_average_clip (self, cls_score, (gint) num_segs, error);
}

static void
mact_recognizer_audio_class_init (MactRecognizerAudioClass *klass)
{
  MactRecognizerClass *rec_class = MACT_RECOGNIZER_CLASS (klass);
  rec_class->data_key = "audios";
  rec_class->forward_train = mact_recognizer_audio_forward_train;
  rec_class->forward_test = mact_recognizer_audio_forward_test;
  rec_class->forward_gradcam = NULL;   /* mmaction2 raises NotImplementedError */
}

static void
mact_recognizer_audio_init (MactRecognizerAudio *self)
{
}
