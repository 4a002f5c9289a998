/* mact-transform-loading.c: mmaction2's loading steps (mmaction/datasets/pipelines/
 * loading.py, 0.x): the frame samplers (SampleFrames, DenseSampleFrames,
 * UntrimmedSampleFrames), the Init steps of every video backend, and the decode steps,
 * which all read the sampled frames from whatever source the run was given. */
#include "mact-pipeline-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ SampleFrames */

typedef enum {
  SAMPLER_UNIFORM,    /* SampleFrames */
  SAMPLER_DENSE,      /* DenseSampleFrames */
  SAMPLER_UNTRIMMED,  /* UntrimmedSampleFrames */
} SamplerKind;

typedef struct {
  MactTransform parent;
  SamplerKind   kind;
  gint64        clip_len;
  gint64        frame_interval;
  gint64        num_clips;
  gboolean      temporal_jitter;
  gboolean      twice_sample;
  gboolean      repeat_last;        /* out_of_bound_opt == 'repeat_last' */
  gboolean      test_mode;
  gboolean      keep_tail_frames;
  gint64        sample_range;       /* DenseSampleFrames */
  gint64        num_sample_positions;
} SampleFrames;

/* Python's floor division, which _get_train_clips uses on a possibly negative numerator
 * (C's '/' truncates towards zero instead). */
static gint64
floor_div (gint64 a, gint64 b)
{
  gint64 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* SampleFrames._get_train_clips.  Offsets are kept as doubles throughout because
 * mmaction2's twice_sample appends float offsets and only truncates at the very end. */
static double *
uniform_train_clips (const SampleFrames *s, gint64 T, MactGenerator *rng, gsize *n)
{
  gint64 ori = s->clip_len * s->frame_interval;
  gint64 nc = s->num_clips;
  double *off = g_new0 (double, nc);
  *n = (gsize) nc;

  if (s->keep_tail_frames)
    {
      double avg = (double) (T - ori + 1) / (double) nc;
      if (T > ori - 1)
        for (gint64 i = 0; i < nc; i++)
          off[i] = trunc ((double) i * avg + mact_pipeline_uniform (rng, 0.0, avg));
      return off;
    }

  gint64 avg = floor_div (T - ori + 1, nc);
  if (avg > 0)
    {
      for (gint64 i = 0; i < nc; i++)
        off[i] = (double) (i * avg + mact_pipeline_randint (rng, avg));
    }
  else if (T > MAX (nc, ori))
    {
      for (gint64 i = 0; i < nc; i++)
        off[i] = (double) mact_pipeline_randint (rng, T - ori + 1);
      qsort (off, nc, sizeof (double), compare_double);
    }
  else if (avg == 0)
    {
      double ratio = ((double) (T - ori) + 1.0) / (double) nc;
      /* np.around rounds half to even, as nearbyint does in the default rounding mode. */
      for (gint64 i = 0; i < nc; i++)
        off[i] = nearbyint ((double) i * ratio);
    }
  /* else: all zeros */
  return off;
}

/* SampleFrames._get_test_clips. */
static double *
uniform_test_clips (const SampleFrames *s, gint64 T, gsize *n)
{
  gint64 ori = s->clip_len * s->frame_interval;
  gint64 nc = s->num_clips;
  double avg = (double) (T - ori + 1) / (double) nc;

  if (T > ori - 1)
    {
      *n = (gsize) (s->twice_sample ? 2 * nc : nc);
      double *off = g_new0 (double, *n);
      for (gint64 i = 0; i < nc; i++)
        {
          double base = (double) i * avg;
          off[i] = trunc (base + avg / 2.0);
          if (s->twice_sample)
            off[nc + i] = base;       /* the un-shifted offsets, not truncated (0.x) */
        }
      return off;
    }
  /* Too short: num_clips zero offsets, without the twice_sample copy (as mmaction2). */
  *n = (gsize) nc;
  return g_new0 (double, nc);
}

/* DenseSampleFrames._get_train_clips / _get_test_clips. */
static double *
dense_clips (const SampleFrames *s, gint64 T, MactGenerator *rng, gsize *n)
{
  gint64 sample_position = MAX (1, 1 + T - s->sample_range);
  gint64 interval = s->sample_range / s->num_clips;
  gint64 nc = s->num_clips;

  if (!s->test_mode)
    {
      /* np.random.randint(0, sample_position - 1): the last position is never drawn. */
      gint64 start = sample_position <= 2 ? 0 : mact_pipeline_randint (rng, sample_position - 1);
      double *off = g_new0 (double, nc);
      *n = (gsize) nc;
      for (gint64 i = 0; i < nc; i++)
        off[i] = (double) ((i * interval + start) % T);
      return off;
    }

  gint64 np_ = s->num_sample_positions;
  double *off = g_new0 (double, np_ * nc);
  *n = (gsize) (np_ * nc);
  /* np.linspace(0, sample_position - 1, num, dtype=int): i * step, the last exactly the
   * stop, truncated. */
  double stop = (double) (sample_position - 1);
  double step = np_ > 1 ? stop / (double) (np_ - 1) : 0.0;
  for (gint64 p = 0; p < np_; p++)
    {
      gint64 start = (gint64) ((np_ > 1 && p == np_ - 1) ? stop : (double) p * step);
      for (gint64 i = 0; i < nc; i++)
        off[p * nc + i] = (double) ((i * interval + start) % T);
    }
  return off;
}

static gboolean
sample_frames_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const SampleFrames *s = (const SampleFrames *) t;
  gint64 T = st->total_frames;
  gint64 clip_len = s->clip_len;

  g_free (st->frame_inds);
  st->frame_inds = NULL;
  st->n_frame_inds = 0;

  if (s->kind == SAMPLER_UNTRIMMED)
    {
      /* Clips centred every frame_interval frames from frame_interval // 2, clamped to
       * the video. */
      gint64 first = s->frame_interval / 2;
      gint64 nc = first < T ? (T - first + s->frame_interval - 1) / s->frame_interval : 0;
      if (nc == 0)
        {
          g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY,
                       "pipeline step %u (%s): a video of %" G_GINT64_FORMAT " frames has no "
                       "clip centre at frame_interval %" G_GINT64_FORMAT, t->index, t->type, T,
                       s->frame_interval);
          return FALSE;
        }
      st->frame_inds = g_new (gint64, nc * clip_len);
      st->n_frame_inds = (gsize) (nc * clip_len);
      for (gint64 c = 0; c < nc; c++)
        for (gint64 j = 0; j < clip_len; j++)
          {
            gint64 idx = first + c * s->frame_interval + j - clip_len / 2;
            st->frame_inds[c * clip_len + j] = CLAMP (idx, 0, T - 1) + st->start_index;
          }
      st->clip_len = clip_len;
      st->frame_interval = s->frame_interval;
      st->num_clips = nc;
      return TRUE;
    }

  gsize n_off = 0;
  g_autofree double *off = NULL;
  if (s->kind == SAMPLER_DENSE)
    off = dense_clips (s, T, st->rng, &n_off);
  else if (s->test_mode)
    off = uniform_test_clips (s, T, &n_off);
  else
    off = uniform_train_clips (s, T, st->rng, &n_off);

  gsize n = n_off * (gsize) clip_len;
  g_autofree double *inds = g_new (double, n);
  for (gsize c = 0; c < n_off; c++)
    for (gint64 j = 0; j < clip_len; j++)
      inds[c * clip_len + j] = off[c] + (double) (j * s->frame_interval);

  if (s->temporal_jitter)
    for (gsize i = 0; i < n; i++)
      inds[i] += (double) mact_pipeline_randint (st->rng, s->frame_interval);

  if (!s->repeat_last)
    {
      for (gsize i = 0; i < n; i++)
        inds[i] = fmod (inds[i], (double) T);
    }
  else
    {
      /* Per clip: indices past the end become the largest in-range index of that clip
       * (0 when none is in range), as mmaction2's masked max does. */
      for (gsize c = 0; c < n_off; c++)
        {
          double *row = inds + c * clip_len;
          double last = 0.0;
          for (gint64 j = 0; j < clip_len; j++)
            if (row[j] < (double) T)
              last = MAX (last, row[j]);
          for (gint64 j = 0; j < clip_len; j++)
            if (row[j] >= (double) T)
              row[j] = last;
        }
    }

  st->frame_inds = g_new (gint64, n);
  st->n_frame_inds = n;
  for (gsize i = 0; i < n; i++)
    st->frame_inds[i] = (gint64) (inds[i] + (double) st->start_index);
  st->clip_len = clip_len;
  st->frame_interval = s->frame_interval;
  st->num_clips = s->num_clips;
  return TRUE;
}

static MactTransform *
sampler_new (MactStepConfig *cfg, SamplerKind kind, GError **error)
{
  static const char *const bound_opts[] = { "loop", "repeat_last", NULL };
  g_autofree SampleFrames *s =
    mact_transform_alloc (sizeof (SampleFrames), cfg, MACT_STEP_SAMPLE, sample_frames_apply,
                          NULL);
  s->kind = kind;

  if (kind == SAMPLER_UNTRIMMED)
    {
      if (!mact_step_config_get_int (cfg, "clip_len", 1, 1, G_MAXINT32, &s->clip_len, error) ||
          !mact_step_config_get_int (cfg, "frame_interval", 16, 1, G_MAXINT32,
                                     &s->frame_interval, error))
        return NULL;
    }
  else
    {
      JsonNode *clip_len = mact_step_config_lookup (cfg, "clip_len");
      if (clip_len == NULL || JSON_NODE_HOLDS_NULL (clip_len))
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, "clip_len",
                           "is required");
          return NULL;
        }
      guint opt = 0;
      if (!mact_step_config_get_int (cfg, "clip_len", 1, 1, G_MAXINT32, &s->clip_len, error) ||
          !mact_step_config_get_int (cfg, "frame_interval", 1, 1, G_MAXINT32,
                                     &s->frame_interval, error) ||
          !mact_step_config_get_int (cfg, "num_clips", 1, 1, G_MAXINT32, &s->num_clips,
                                     error) ||
          !mact_step_config_get_bool (cfg, "temporal_jitter", FALSE, &s->temporal_jitter,
                                      error) ||
          !mact_step_config_get_bool (cfg, "twice_sample", FALSE, &s->twice_sample, error) ||
          !mact_step_config_get_choice (cfg, "out_of_bound_opt", bound_opts, 0, &opt, error) ||
          !mact_step_config_get_bool (cfg, "test_mode", FALSE, &s->test_mode, error) ||
          !mact_step_config_get_bool (cfg, "keep_tail_frames", FALSE, &s->keep_tail_frames,
                                      error))
        return NULL;
      s->repeat_last = opt == 1;
      if (kind == SAMPLER_DENSE &&
          (!mact_step_config_get_int (cfg, "sample_range", 64, 1, G_MAXINT32,
                                      &s->sample_range, error) ||
           !mact_step_config_get_int (cfg, "num_sample_positions", 10, 1, 100000,
                                      &s->num_sample_positions, error)))
        return NULL;
      if (kind == SAMPLER_DENSE && s->sample_range < s->num_clips)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "sample_range",
                           "(%" G_GINT64_FORMAT ") must be at least num_clips (%"
                           G_GINT64_FORMAT ")", s->sample_range, s->num_clips);
          return NULL;
        }
    }

  /* start_index: deprecated in mmaction2 (it warns and ignores it; the dataset's
   * start_index is used).  The same here: the entry point's start_index is added. */
  JsonNode *start_index = mact_step_config_lookup (cfg, "start_index");
  gint64 ignored;
  if (start_index != NULL &&
      !mact_step_config_get_int (cfg, "start_index", 0, G_MININT32, G_MAXINT32, &ignored, error))
    return NULL;

  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&s);
}

MactTransform *
mact_transform_sample_frames_new (MactStepConfig *cfg, GError **error)
{
  return sampler_new (cfg, SAMPLER_UNIFORM, error);
}

MactTransform *
mact_transform_dense_sample_new (MactStepConfig *cfg, GError **error)
{
  return sampler_new (cfg, SAMPLER_DENSE, error);
}

MactTransform *
mact_transform_untrimmed_sample_new (MactStepConfig *cfg, GError **error)
{
  return sampler_new (cfg, SAMPLER_UNTRIMMED, error);
}

/* ------------------------------------------------------------------ Init steps */

/* The entry point has already opened the source (the sampler needs total_frames before
 * any Init step could run in a pipeline without one), so an Init step only validates its
 * keys: every backend reads through FFmpeg. */
static gboolean
init_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  return TRUE;
}

MactTransform *
mact_transform_decord_init_new (MactStepConfig *cfg, GError **error)
{
  gint64 num_threads;
  if (!mact_step_config_get_io_backend (cfg, error) ||
      !mact_step_config_get_int (cfg, "num_threads", 1, 0, 1024, &num_threads, error) ||
      !mact_step_config_check_keys (cfg, error))
    return NULL;
  return mact_transform_alloc (sizeof (MactTransform), cfg, MACT_STEP_INIT, init_apply, NULL);
}

MactTransform *
mact_transform_opencv_init_new (MactStepConfig *cfg, GError **error)
{
  if (!mact_step_config_get_io_backend (cfg, error) ||
      !mact_step_config_check_keys (cfg, error))
    return NULL;
  return mact_transform_alloc (sizeof (MactTransform), cfg, MACT_STEP_INIT, init_apply, NULL);
}

MactTransform *
mact_transform_pyav_init_new (MactStepConfig *cfg, GError **error)
{
  return mact_transform_opencv_init_new (cfg, error);
}

/* ------------------------------------------------------------------ decode steps */

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

/* Reads the distinct frames of @unique (sorted, no repeats) into [u, H, W, 3]. */
static MactTensor *
read_unique_frames (const MactTransform *t, MactPipelineState *st, const gint64 *unique,
                    gsize n_unique, GError **error)
{
  switch (st->source)
    {
    case MACT_PIPELINE_SOURCE_VIDEO:
      return mact_video_reader_read_frames (st->reader, unique, n_unique, error);

    case MACT_PIPELINE_SOURCE_ARRAY:
      {
        const gint64 *shape = mact_tensor_get_shape (st->array, NULL);
        gint64 frame = shape[1] * shape[2] * 3;
        if (unique[0] < 0 || unique[n_unique - 1] >= shape[0])
          {
            gint64 bad = unique[0] < 0 ? unique[0] : unique[n_unique - 1];
            g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INDEX,
                         "frame index %" G_GINT64_FORMAT " is out of range for an array of %"
                         G_GINT64_FORMAT " frames", bad, shape[0]);
            return NULL;
          }
        gint64 out_shape[4] = { (gint64) n_unique, shape[1], shape[2], 3 };
        MactTensor *out = mact_tensor_new_empty (4, out_shape, error);
        if (out == NULL)
          return NULL;
        const float *src = mact_tensor_get_data (st->array);
        float *dst = mact_tensor_get_data (out);
        for (gsize i = 0; i < n_unique; i++)
          memcpy (dst + i * frame, src + unique[i] * frame, frame * sizeof (float));
        return out;
      }

    case MACT_PIPELINE_SOURCE_RAWFRAMES:
      {
        g_autoptr(MactTensor) out = NULL;
        gint64 h = 0, w = 0;
        g_autofree char *first_path = NULL;
        for (gsize i = 0; i < n_unique; i++)
          {
            g_autofree char *name = mact_filename_template_format (st->tmpl, unique[i]);
            g_autofree char *path = g_build_filename (st->frame_dir, name, NULL);
            g_autoptr(MactTensor) img = mact_image_load (path, error);
            if (img == NULL)
              return NULL;
            const gint64 *shape = mact_tensor_get_shape (img, NULL);
            if (out == NULL)
              {
                h = shape[0];
                w = shape[1];
                gint64 out_shape[4] = { (gint64) n_unique, h, w, 3 };
                out = mact_tensor_new_empty (4, out_shape, error);
                if (out == NULL)
                  return NULL;
                first_path = g_steal_pointer (&path);
              }
            else if (shape[0] != h || shape[1] != w)
              {
                g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT,
                             "%s is %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " but %s is %"
                             G_GINT64_FORMAT "x%" G_GINT64_FORMAT ": the frames of a clip "
                             "must have one size", path, shape[1], shape[0], first_path, w, h);
                return NULL;
              }
            g_autoptr(MactTensor) dense = mact_tensor_contiguous (img);
            memcpy (mact_tensor_get_data (out) + i * h * w * 3, mact_tensor_get_data (dense),
                    h * w * 3 * sizeof (float));
          }
        return g_steal_pointer (&out);
      }

    case MACT_PIPELINE_SOURCE_NONE:
    default:
      break;
    }
  mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID, NULL, "no frame source to decode");
  return NULL;
}

/* Every decode step: the frames at frame_inds, each distinct index decoded once, into
 * [n_frame_inds, H, W, 3]. */
static gboolean
decode_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  gsize n = st->n_frame_inds;
  if (n == 0)
    {
      mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID, NULL,
                            "no frame indices to decode (the sampler gave none)");
      return FALSE;
    }

  g_autofree gint64 *unique = g_memdup2 (st->frame_inds, n * sizeof (gint64));
  qsort (unique, n, sizeof (gint64), compare_gint64);
  gsize n_unique = 0;
  for (gsize i = 0; i < n; i++)
    if (n_unique == 0 || unique[n_unique - 1] != unique[i])
      unique[n_unique++] = unique[i];

  g_autoptr(GError) local = NULL;
  g_autoptr(MactTensor) read = read_unique_frames (t, st, unique, n_unique, &local);
  if (read == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "pipeline step %u (%s): ",
                                  t->index, t->type);
      return FALSE;
    }
  /* The transforms index raw row-major data. */
  g_autoptr(MactTensor) frames = mact_tensor_contiguous (read);

  const gint64 *shape = mact_tensor_get_shape (frames, NULL);
  gint64 frame = shape[1] * shape[2] * shape[3];
  if (n_unique == n && memcmp (unique, st->frame_inds, n * sizeof (gint64)) == 0)
    {
      /* Already in order with no repeats (the common test-mode case): no gather. */
      g_clear_pointer (&st->imgs, mact_tensor_unref);
      st->imgs = g_steal_pointer (&frames);
      return TRUE;
    }

  gint64 out_shape[4] = { (gint64) n, shape[1], shape[2], shape[3] };
  MactTensor *imgs = mact_tensor_new_empty (4, out_shape, error);
  if (imgs == NULL)
    return FALSE;
  const float *src = mact_tensor_get_data (frames);
  float *dst = mact_tensor_get_data (imgs);
  for (gsize i = 0; i < n; i++)
    {
      const gint64 *at = bsearch (&st->frame_inds[i], unique, n_unique, sizeof (gint64),
                                  compare_gint64);
      memcpy (dst + i * frame, src + (at - unique) * frame, frame * sizeof (float));
    }
  g_clear_pointer (&st->imgs, mact_tensor_unref);
  st->imgs = imgs;
  return TRUE;
}

static MactTransform *
decode_new (MactStepConfig *cfg, GError **error)
{
  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return mact_transform_alloc (sizeof (MactTransform), cfg, MACT_STEP_DECODE, decode_apply,
                               NULL);
}

static const char *const decode_modes[] = { "accurate", "efficient", NULL };

/* mode='efficient' (seek to key frames only) is accepted, and decoded accurately: the
 * reader is frame-accurate at the cost of decoding forward from the keyframe. */
MactTransform *
mact_transform_decord_decode_new (MactStepConfig *cfg, GError **error)
{
  guint mode;
  if (!mact_step_config_get_choice (cfg, "mode", decode_modes, 0, &mode, error))
    return NULL;
  return decode_new (cfg, error);
}

MactTransform *
mact_transform_opencv_decode_new (MactStepConfig *cfg, GError **error)
{
  return decode_new (cfg, error);
}

MactTransform *
mact_transform_pyav_decode_new (MactStepConfig *cfg, GError **error)
{
  guint mode;
  gboolean multi_thread;
  if (!mact_step_config_get_bool (cfg, "multi_thread", FALSE, &multi_thread, error) ||
      !mact_step_config_get_choice (cfg, "mode", decode_modes, 0, &mode, error))
    return NULL;
  return decode_new (cfg, error);
}

MactTransform *
mact_transform_rawframe_decode_new (MactStepConfig *cfg, GError **error)
{
  /* Images are decoded by FFmpeg whatever mmcv backend the config names. */
  static const char *const backends[] = { "cv2", "pillow", "turbojpeg", NULL };
  guint backend;
  if (!mact_step_config_get_io_backend (cfg, error) ||
      !mact_step_config_get_choice (cfg, "decoding_backend", backends, 0, &backend, error))
    return NULL;
  return decode_new (cfg, error);
}

MactTransform *
mact_transform_array_decode_new (MactStepConfig *cfg, GError **error)
{
  return decode_new (cfg, error);
}
