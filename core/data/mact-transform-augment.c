/* mact-transform-augment.c: mmaction2's spatial transforms (mmaction/datasets/pipelines/
 * augmentations.py, 0.x) on decoded frames, float32 [M, H, W, 3] RGB 0-255: Resize and
 * RandomRescale (mmcv's rescale_size, cv2's INTER_LINEAR / INTER_NEAREST), the crops
 * (RandomCrop, RandomResizedCrop, MultiScaleCrop, CenterCrop, ThreeCrop, TenCrop), Flip
 * and Normalize.  Every transform builds a new frames tensor, except Flip and Normalize,
 * which work in place on the run's own tensor. */
#include "mact-pipeline-private.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ frame helpers */

typedef struct {
  gint64 n, h, w;
} Frames;

static Frames
frames_of (MactTensor *imgs)
{
  const gint64 *shape = mact_tensor_get_shape (imgs, NULL);
  return (Frames) { shape[0], shape[1], shape[2] };
}

static MactTensor *
frames_new (gint64 n, gint64 h, gint64 w, GError **error)
{
  gint64 shape[4] = { n, h, w, 3 };
  return mact_tensor_new_empty (4, shape, error);
}

static void
replace_imgs (MactPipelineState *st, MactTensor *imgs)
{
  g_clear_pointer (&st->imgs, mact_tensor_unref);
  st->imgs = imgs;
}

/* Copies box (x, y, cw, ch) of every frame of @src to @dst (n frames of ch x cw),
 * mirrored left-right when @mirror. */
static void
copy_box (MactTensor *src, gint64 x, gint64 y, gint64 cw, gint64 ch, gboolean mirror,
          float *dst)
{
  Frames f = frames_of (src);
  const float *s = mact_tensor_get_data (src);
  for (gint64 i = 0; i < f.n; i++)
    for (gint64 r = 0; r < ch; r++)
      {
        const float *row = s + ((i * f.h + y + r) * f.w + x) * 3;
        float *out = dst + ((i * ch + r) * cw) * 3;
        if (!mirror)
          memcpy (out, row, cw * 3 * sizeof (float));
        else
          for (gint64 c = 0; c < cw; c++)
            memcpy (out + c * 3, row + (cw - 1 - c) * 3, 3 * sizeof (float));
      }
}

/* The crop steps share mmaction2's contract: the box must lie inside the frames (numpy
 * would silently wrap a negative offset). */
static gboolean
check_box_fits (const MactTransform *t, const char *key, Frames f, gint64 cw, gint64 ch,
                GError **error)
{
  if (cw <= f.w && ch <= f.h)
    return TRUE;
  mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID_VALUE, key,
                        "gives a %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " crop (w x h), which "
                        "does not fit in the %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " frames",
                        cw, ch, f.w, f.h);
  return FALSE;
}

/* Replaces the frames by their (x, y, cw, ch) box. */
static gboolean
crop_imgs (MactPipelineState *st, gint64 x, gint64 y, gint64 cw, gint64 ch, GError **error)
{
  Frames f = frames_of (st->imgs);
  MactTensor *out = frames_new (f.n, ch, cw, error);
  if (out == NULL)
    return FALSE;
  copy_box (st->imgs, x, y, cw, ch, FALSE, mact_tensor_get_data (out));
  replace_imgs (st, out);
  return TRUE;
}

/* ------------------------------------------------------------------ resizing */

/* cv2.resize on float32 frames.  INTER_LINEAR maps output pixel d to source position
 * (d + 0.5) * src / dst - 0.5 (half-pixel centres), clamped to the first and last pixel,
 * with no antialiasing: the same as PyTorch's bilinear with align_corners=False.
 * INTER_NEAREST takes source pixel floor(d * src / dst). */
static void
resize_axis (gint64 src, gint64 dst, gboolean nearest, gint64 *i0, gint64 *i1, float *frac)
{
  double scale = (double) src / (double) dst;
  for (gint64 d = 0; d < dst; d++)
    {
      if (nearest)
        {
          i0[d] = i1[d] = MIN ((gint64) floor ((double) d * scale), src - 1);
          frac[d] = 0.0f;
          continue;
        }
      double pos = ((double) d + 0.5) * scale - 0.5;
      gint64 lo = (gint64) floor (pos);
      double f = pos - (double) lo;
      if (lo < 0)
        {
          lo = 0;
          f = 0.0;
        }
      if (lo >= src - 1)
        {
          lo = src - 1;
          f = 0.0;
        }
      i0[d] = lo;
      i1[d] = MIN (lo + 1, src - 1);
      frac[d] = (float) f;
    }
}

static MactTensor *
resize_frames (MactTensor *imgs, gint64 nh, gint64 nw, gboolean nearest, GError **error)
{
  Frames f = frames_of (imgs);
  if (nh == f.h && nw == f.w)
    return mact_tensor_ref (imgs);

  MactTensor *out = frames_new (f.n, nh, nw, error);
  if (out == NULL)
    return NULL;
  g_autofree gint64 *x0 = g_new (gint64, nw);
  g_autofree gint64 *x1 = g_new (gint64, nw);
  g_autofree float *fx = g_new (float, nw);
  g_autofree gint64 *y0 = g_new (gint64, nh);
  g_autofree gint64 *y1 = g_new (gint64, nh);
  g_autofree float *fy = g_new (float, nh);
  resize_axis (f.w, nw, nearest, x0, x1, fx);
  resize_axis (f.h, nh, nearest, y0, y1, fy);

  const float *src = mact_tensor_get_data (imgs);
  float *dst = mact_tensor_get_data (out);
  for (gint64 i = 0; i < f.n; i++)
    {
      const float *frame = src + i * f.h * f.w * 3;
      for (gint64 y = 0; y < nh; y++)
        {
          const float *top = frame + y0[y] * f.w * 3;
          const float *bottom = frame + y1[y] * f.w * 3;
          float wy = fy[y];
          float *row = dst + ((i * nh + y) * nw) * 3;
          for (gint64 x = 0; x < nw; x++)
            {
              float wx = fx[x];
              const float *a = top + x0[x] * 3, *b = top + x1[x] * 3;
              const float *c = bottom + x0[x] * 3, *d = bottom + x1[x] * 3;
              for (gint k = 0; k < 3; k++)
                {
                  float upper = a[k] + (b[k] - a[k]) * wx;
                  float lower = c[k] + (d[k] - c[k]) * wx;
                  row[x * 3 + k] = upper + (lower - upper) * wy;
                }
            }
        }
    }
  return out;
}

static const char *const interpolations[] = { "bilinear", "nearest", NULL };

/* ------------------------------------------------------------------ Resize */

typedef struct {
  MactTransform parent;
  gboolean      by_factor;     /* scale is a float factor */
  double        factor;
  double        scale[2];      /* (w, h); (inf, s) for (-1, s) */
  gboolean      keep_ratio;
  gboolean      nearest;
} Resize;

/* mmcv.rescale_size: the largest size within the scale keeping the aspect ratio, each
 * side int(side * factor + 0.5). */
static void
rescale_size (gint64 w, gint64 h, gboolean by_factor, double factor, const double scale[2],
              gint64 *nw, gint64 *nh)
{
  double f = factor;
  if (!by_factor)
    {
      double long_edge = MAX (scale[0], scale[1]), short_edge = MIN (scale[0], scale[1]);
      f = MIN (long_edge / (double) MAX (h, w), short_edge / (double) MIN (h, w));
    }
  *nw = (gint64) ((double) w * f + 0.5);
  *nh = (gint64) ((double) h * f + 0.5);
}

static gboolean
resize_to (const MactTransform *t, MactPipelineState *st, gint64 nw, gint64 nh,
           gboolean nearest, GError **error)
{
  Frames f = frames_of (st->imgs);
  if (nw < 1 || nh < 1 || nw > 65536 || nh > 65536)
    {
      mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scale",
                            "resizes the %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " frames to %"
                            G_GINT64_FORMAT "x%" G_GINT64_FORMAT, f.w, f.h, nw, nh);
      return FALSE;
    }
  MactTensor *out = resize_frames (st->imgs, nh, nw, nearest, error);
  if (out == NULL)
    return FALSE;
  replace_imgs (st, out);
  st->scale_factor[0] *= (double) (float) ((double) nw / (double) f.w);
  st->scale_factor[1] *= (double) (float) ((double) nh / (double) f.h);
  return TRUE;
}

static gboolean
resize_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const Resize *r = (const Resize *) t;
  Frames f = frames_of (st->imgs);
  gint64 nw, nh;
  if (r->keep_ratio)
    rescale_size (f.w, f.h, r->by_factor, r->factor, r->scale, &nw, &nh);
  else
    {
      nw = (gint64) r->scale[0];
      nh = (gint64) r->scale[1];
    }
  return resize_to (t, st, nw, nh, r->nearest, error);
}

MactTransform *
mact_transform_resize_new (MactStepConfig *cfg, GError **error)
{
  g_autofree Resize *r = mact_transform_alloc (sizeof (Resize), cfg, MACT_STEP_IMAGE,
                                               resize_apply, NULL);
  guint interp = 0;
  if (!mact_step_config_get_bool (cfg, "keep_ratio", TRUE, &r->keep_ratio, error) ||
      !mact_step_config_get_choice (cfg, "interpolation", interpolations, 0, &interp, error) ||
      !mact_step_config_check_not_lazy (cfg, error))
    return NULL;
  r->nearest = interp == 1;

  JsonNode *scale = mact_step_config_lookup (cfg, "scale");
  if (scale == NULL || JSON_NODE_HOLDS_NULL (scale))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, "scale",
                       "is required (a float factor or a [w, h] pair)");
      return NULL;
    }
  if (JSON_NODE_HOLDS_ARRAY (scale))
    {
      gint64 pair[2];
      if (!mact_step_config_get_int_pair (cfg, "scale", pair, error))
        return NULL;
      gint64 lo = MIN (pair[0], pair[1]), hi = MAX (pair[0], pair[1]);
      if (lo == -1 && hi >= 1)
        {
          /* mmaction2: (-1, s) means short side s, computed as the scale (inf, s). */
          if (!r->keep_ratio)
            {
              mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scale",
                               "(-1, %" G_GINT64_FORMAT ") needs keep_ratio true", hi);
              return NULL;
            }
          r->scale[0] = INFINITY;
          r->scale[1] = (double) hi;
        }
      else if (lo >= 1)
        {
          r->scale[0] = (double) pair[0];
          r->scale[1] = (double) pair[1];
        }
      else
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scale",
                           "must be a positive (w, h) pair or (-1, short side), got (%"
                           G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")", pair[0], pair[1]);
          return NULL;
        }
    }
  else
    {
      if (!JSON_NODE_HOLDS_VALUE (scale) ||
          (json_node_get_value_type (scale) != G_TYPE_DOUBLE &&
           json_node_get_value_type (scale) != G_TYPE_INT64))
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, "scale",
                           "expects a float factor or a [w, h] pair, got %s",
                           mact_config_describe_value (scale));
          return NULL;
        }
      if (!mact_step_config_get_double (cfg, "scale", 1.0, 0.0, TRUE, INFINITY, &r->factor,
                                        error))
        return NULL;
      if (!r->keep_ratio)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scale",
                           "must be a [w, h] pair with keep_ratio false, got the factor %g",
                           r->factor);
          return NULL;
        }
      r->by_factor = TRUE;
    }

  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&r);
}

/* ------------------------------------------------------------------ RandomRescale */

typedef struct {
  MactTransform parent;
  gint64        lo, hi;
  gboolean      nearest;
} RandomRescale;

static gboolean
random_rescale_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const RandomRescale *r = (const RandomRescale *) t;
  gint64 short_edge = r->lo + mact_pipeline_randint (st->rng, r->hi - r->lo + 1);
  double scale[2] = { INFINITY, (double) short_edge };
  Frames f = frames_of (st->imgs);
  gint64 nw, nh;
  rescale_size (f.w, f.h, FALSE, 0.0, scale, &nw, &nh);
  return resize_to (t, st, nw, nh, r->nearest, error);
}

MactTransform *
mact_transform_random_rescale_new (MactStepConfig *cfg, GError **error)
{
  g_autofree RandomRescale *r =
    mact_transform_alloc (sizeof (RandomRescale), cfg, MACT_STEP_IMAGE, random_rescale_apply,
                          NULL);
  gint64 range[2];
  guint interp = 0;
  if (!mact_step_config_get_int_pair (cfg, "scale_range", range, error) ||
      !mact_step_config_get_choice (cfg, "interpolation", interpolations, 0, &interp, error))
    return NULL;
  if (range[0] < 1)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scale_range",
                       "must be positive, got (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")",
                       range[0], range[1]);
      return NULL;
    }
  if (range[0] >= range[1])
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scale_range",
                       "must be increasing, got (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")",
                       range[0], range[1]);
      return NULL;
    }
  r->lo = range[0];
  r->hi = range[1];
  r->nearest = interp == 1;
  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&r);
}

/* ------------------------------------------------------------------ RandomCrop */

typedef struct {
  MactTransform parent;
  gint64        size;
} RandomCrop;

static gboolean
random_crop_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const RandomCrop *r = (const RandomCrop *) t;
  Frames f = frames_of (st->imgs);
  if (!check_box_fits (t, "size", f, r->size, r->size, error))
    return FALSE;
  /* np.random.randint(0, side - size): the last offset is never drawn (0.x). */
  gint64 y = f.h > r->size ? mact_pipeline_randint (st->rng, f.h - r->size) : 0;
  gint64 x = f.w > r->size ? mact_pipeline_randint (st->rng, f.w - r->size) : 0;
  return crop_imgs (st, x, y, r->size, r->size, error);
}

MactTransform *
mact_transform_random_crop_new (MactStepConfig *cfg, GError **error)
{
  g_autofree RandomCrop *r = mact_transform_alloc (sizeof (RandomCrop), cfg, MACT_STEP_IMAGE,
                                                   random_crop_apply, NULL);
  JsonNode *node = mact_step_config_lookup (cfg, "size");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_MISSING_KEY, "size", "is required");
      return NULL;
    }
  if (!mact_step_config_get_int (cfg, "size", 0, 1, G_MAXINT32, &r->size, error) ||
      !mact_step_config_check_not_lazy (cfg, error) ||
      !mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&r);
}

/* ------------------------------------------------------------------ RandomResizedCrop */

typedef struct {
  MactTransform parent;
  double        area_range[2];
  double        aspect_ratio_range[2];
} RandomResizedCrop;

#define RRC_MAX_ATTEMPTS 10

static gboolean
random_resized_crop_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const RandomResizedCrop *r = (const RandomResizedCrop *) t;
  Frames f = frames_of (st->imgs);
  double area = (double) (f.h * f.w);
  double log_lo = log (r->aspect_ratio_range[0]), log_hi = log (r->aspect_ratio_range[1]);
  double ratios[RRC_MAX_ATTEMPTS], areas[RRC_MAX_ATTEMPTS];

  /* All ratios, then all areas, drawn up front as get_crop_bbox does. */
  for (gint i = 0; i < RRC_MAX_ATTEMPTS; i++)
    ratios[i] = exp (mact_pipeline_uniform (st->rng, log_lo, log_hi));
  for (gint i = 0; i < RRC_MAX_ATTEMPTS; i++)
    areas[i] = mact_pipeline_uniform (st->rng, r->area_range[0], r->area_range[1]) * area;

  for (gint i = 0; i < RRC_MAX_ATTEMPTS; i++)
    {
      /* np.round: half to even. */
      gint64 cw = (gint64) nearbyint (sqrt (areas[i] * ratios[i]));
      gint64 ch = (gint64) nearbyint (sqrt (areas[i] / ratios[i]));
      if (ch <= f.h && cw <= f.w && ch >= 1 && cw >= 1)
        {
          /* random.randint is inclusive of both ends. */
          gint64 x = mact_pipeline_randint (st->rng, f.w - cw + 1);
          gint64 y = mact_pipeline_randint (st->rng, f.h - ch + 1);
          return crop_imgs (st, x, y, cw, ch, error);
        }
    }

  /* No attempt fitted: the centred square of the short side. */
  gint64 side = MIN (f.h, f.w);
  return crop_imgs (st, (f.w - side) / 2, (f.h - side) / 2, side, side, error);
}

MactTransform *
mact_transform_random_resized_crop_new (MactStepConfig *cfg, GError **error)
{
  g_autofree RandomResizedCrop *r =
    mact_transform_alloc (sizeof (RandomResizedCrop), cfg, MACT_STEP_IMAGE,
                          random_resized_crop_apply, NULL);
  static const double area_def[2] = { 0.08, 1.0 };
  static const double ratio_def[2] = { 3.0 / 4.0, 4.0 / 3.0 };
  if (!mact_step_config_get_doubles (cfg, "area_range", area_def, 2, 2, r->area_range, NULL,
                                     error) ||
      !mact_step_config_get_doubles (cfg, "aspect_ratio_range", ratio_def, 2, 2,
                                     r->aspect_ratio_range, NULL, error) ||
      !mact_step_config_check_not_lazy (cfg, error))
    return NULL;
  if (!(0 < r->area_range[0] && r->area_range[0] <= r->area_range[1] && r->area_range[1] <= 1))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "area_range",
                       "must satisfy 0 < low <= high <= 1, got (%g, %g)", r->area_range[0],
                       r->area_range[1]);
      return NULL;
    }
  if (!(0 < r->aspect_ratio_range[0] && r->aspect_ratio_range[0] <= r->aspect_ratio_range[1]))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "aspect_ratio_range",
                       "must satisfy 0 < low <= high, got (%g, %g)", r->aspect_ratio_range[0],
                       r->aspect_ratio_range[1]);
      return NULL;
    }
  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&r);
}

/* ------------------------------------------------------------------ MultiScaleCrop */

#define MSC_MAX_SCALES 16

typedef struct {
  MactTransform parent;
  gint64        input_size[2];    /* (w, h) */
  double        scales[MSC_MAX_SCALES];
  gsize         n_scales;
  gint64        max_wh_scale_gap;
  gboolean      random_crop;
  gint64        num_fixed_crops;
} MultiScaleCrop;

/* The fixed crop positions, in units of (w_step, h_step): mmaction2's 5 (corners and
 * centre), then the 8 more of num_fixed_crops=13. */
static const gint fixed_offsets[13][2] = {
  { 0, 0 }, { 4, 0 }, { 0, 4 }, { 4, 4 }, { 2, 2 },
  { 0, 2 }, { 4, 2 }, { 2, 4 }, { 2, 0 }, { 1, 1 }, { 3, 1 }, { 1, 3 }, { 3, 3 },
};

static gboolean
multi_scale_crop_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const MultiScaleCrop *m = (const MultiScaleCrop *) t;
  Frames f = frames_of (st->imgs);
  gint64 base = MIN (f.h, f.w);
  gint64 sizes[MSC_MAX_SCALES];
  for (gsize i = 0; i < m->n_scales; i++)
    sizes[i] = (gint64) ((double) base * m->scales[i]);

  /* candidate (w, h) pairs: h from scale i, w from scale j, |i - j| <= gap, in
   * mmaction2's loop order. */
  gint64 cand[MSC_MAX_SCALES * MSC_MAX_SCALES][2];
  gsize n_cand = 0;
  for (gsize i = 0; i < m->n_scales; i++)
    for (gsize j = 0; j < m->n_scales; j++)
      if ((gint64) (i > j ? i - j : j - i) <= m->max_wh_scale_gap)
        {
          cand[n_cand][0] = sizes[j];
          cand[n_cand][1] = sizes[i];
          n_cand++;
        }
  gsize pick = (gsize) mact_pipeline_randint (st->rng, (gint64) n_cand);
  gint64 crop[2] = { cand[pick][0], cand[pick][1] };
  for (gint k = 0; k < 2; k++)
    if (ABS (crop[k] - m->input_size[k]) < 3)
      crop[k] = m->input_size[k];
  gint64 cw = crop[0], ch = crop[1];
  if (cw < 1 || ch < 1)
    {
      mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scales",
                            "gives an empty %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " crop of "
                            "the %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " frames", cw, ch, f.w,
                            f.h);
      return FALSE;
    }
  if (!check_box_fits (t, "scales", f, cw, ch, error))
    return FALSE;

  gint64 x, y;
  if (m->random_crop)
    {
      x = mact_pipeline_randint (st->rng, f.w - cw + 1);
      y = mact_pipeline_randint (st->rng, f.h - ch + 1);
    }
  else
    {
      gint64 w_step = (f.w - cw) / 4, h_step = (f.h - ch) / 4;
      gint64 k = mact_pipeline_randint (st->rng, m->num_fixed_crops);
      x = fixed_offsets[k][0] * w_step;
      y = fixed_offsets[k][1] * h_step;
    }
  return crop_imgs (st, x, y, cw, ch, error);
}

MactTransform *
mact_transform_multi_scale_crop_new (MactStepConfig *cfg, GError **error)
{
  g_autofree MultiScaleCrop *m =
    mact_transform_alloc (sizeof (MultiScaleCrop), cfg, MACT_STEP_IMAGE,
                          multi_scale_crop_apply, NULL);
  static const double scales_def[1] = { 1.0 };
  if (!mact_step_config_get_size (cfg, "input_size", NULL, m->input_size, error) ||
      !mact_step_config_get_doubles (cfg, "scales", scales_def, 1, MSC_MAX_SCALES, m->scales,
                                     &m->n_scales, error) ||
      !mact_step_config_get_int (cfg, "max_wh_scale_gap", 1, 0, G_MAXINT32,
                                 &m->max_wh_scale_gap, error) ||
      !mact_step_config_get_bool (cfg, "random_crop", FALSE, &m->random_crop, error) ||
      !mact_step_config_get_int (cfg, "num_fixed_crops", 5, G_MININT32, G_MAXINT32,
                                 &m->num_fixed_crops, error) ||
      !mact_step_config_check_not_lazy (cfg, error))
    return NULL;
  if (m->num_fixed_crops != 5 && m->num_fixed_crops != 13)
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "num_fixed_crops",
                       "must be 5 or 13, got %" G_GINT64_FORMAT, m->num_fixed_crops);
      return NULL;
    }
  for (gsize i = 0; i < m->n_scales; i++)
    if (!(m->scales[i] > 0))
      {
        mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "scales",
                         "[%" G_GSIZE_FORMAT "] must be positive, got %g", i, m->scales[i]);
        return NULL;
      }
  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&m);
}

/* ------------------------------------------------------------------ CenterCrop */

typedef struct {
  MactTransform parent;
  gint64        crop_size[2];    /* (w, h) */
} FixedCrop;

static gboolean
center_crop_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const FixedCrop *c = (const FixedCrop *) t;
  Frames f = frames_of (st->imgs);
  gint64 cw = c->crop_size[0], ch = c->crop_size[1];
  if (!check_box_fits (t, "crop_size", f, cw, ch, error))
    return FALSE;
  return crop_imgs (st, (f.w - cw) / 2, (f.h - ch) / 2, cw, ch, error);
}

static MactTransform *
fixed_crop_new (MactStepConfig *cfg, gpointer apply, gboolean has_lazy, GError **error)
{
  g_autofree FixedCrop *c = mact_transform_alloc (sizeof (FixedCrop), cfg, MACT_STEP_IMAGE,
                                                  apply, NULL);
  if (!mact_step_config_get_size (cfg, "crop_size", NULL, c->crop_size, error) ||
      (has_lazy && !mact_step_config_check_not_lazy (cfg, error)) ||
      !mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&c);
}

MactTransform *
mact_transform_center_crop_new (MactStepConfig *cfg, GError **error)
{
  return fixed_crop_new (cfg, center_crop_apply, TRUE, error);
}

/* ------------------------------------------------------------------ ThreeCrop, TenCrop */

/* Crops every frame at each of @n_boxes offsets (same size), crop-major: all frames of
 * box 0, then all of box 1, ...; with @and_mirrored, each box's frames are followed by
 * the same frames mirrored (TenCrop). */
static gboolean
multi_crop (MactPipelineState *st, const gint64 (*offsets)[2], gsize n_boxes, gint64 cw,
            gint64 ch, gboolean and_mirrored, GError **error)
{
  Frames f = frames_of (st->imgs);
  gint64 per_box = and_mirrored ? 2 : 1;
  MactTensor *out = frames_new (f.n * (gint64) n_boxes * per_box, ch, cw, error);
  if (out == NULL)
    return FALSE;
  float *dst = mact_tensor_get_data (out);
  gint64 block = f.n * ch * cw * 3;
  for (gsize b = 0; b < n_boxes; b++)
    {
      copy_box (st->imgs, offsets[b][0], offsets[b][1], cw, ch, FALSE,
                dst + (b * per_box) * block);
      if (and_mirrored)
        copy_box (st->imgs, offsets[b][0], offsets[b][1], cw, ch, TRUE,
                  dst + (b * per_box + 1) * block);
    }
  replace_imgs (st, out);
  return TRUE;
}

static gboolean
three_crop_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const FixedCrop *c = (const FixedCrop *) t;
  Frames f = frames_of (st->imgs);
  gint64 cw = c->crop_size[0], ch = c->crop_size[1];
  gint64 offsets[3][2];

  if (ch == f.h && cw <= f.w)
    {
      /* left, right, middle along the width */
      gint64 step = (f.w - cw) / 2;
      gint64 xs[3] = { 0, 2 * step, step };
      for (gint i = 0; i < 3; i++)
        {
          offsets[i][0] = xs[i];
          offsets[i][1] = 0;
        }
    }
  else if (cw == f.w && ch <= f.h)
    {
      /* top, bottom, middle along the height */
      gint64 step = (f.h - ch) / 2;
      gint64 ys[3] = { 0, 2 * step, step };
      for (gint i = 0; i < 3; i++)
        {
          offsets[i][0] = 0;
          offsets[i][1] = ys[i];
        }
    }
  else
    {
      mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID_VALUE, "crop_size",
                            "(%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") must span the full "
                            "height or the full width of the %" G_GINT64_FORMAT "x%"
                            G_GINT64_FORMAT " frames (and fit in the other side)",
                            cw, ch, f.w, f.h);
      return FALSE;
    }
  return multi_crop (st, (const gint64 (*)[2]) offsets, 3, cw, ch, FALSE, error);
}

MactTransform *
mact_transform_three_crop_new (MactStepConfig *cfg, GError **error)
{
  return fixed_crop_new (cfg, three_crop_apply, FALSE, error);
}

static gboolean
ten_crop_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const FixedCrop *c = (const FixedCrop *) t;
  Frames f = frames_of (st->imgs);
  gint64 cw = c->crop_size[0], ch = c->crop_size[1];
  if (!check_box_fits (t, "crop_size", f, cw, ch, error))
    return FALSE;
  gint64 ws = (f.w - cw) / 4, hs = (f.h - ch) / 4;
  /* upper left, upper right, lower left, lower right, centre */
  const gint64 offsets[5][2] = {
    { 0, 0 }, { 4 * ws, 0 }, { 0, 4 * hs }, { 4 * ws, 4 * hs }, { 2 * ws, 2 * hs },
  };
  return multi_crop (st, offsets, 5, cw, ch, TRUE, error);
}

MactTransform *
mact_transform_ten_crop_new (MactStepConfig *cfg, GError **error)
{
  return fixed_crop_new (cfg, ten_crop_apply, FALSE, error);
}

/* ------------------------------------------------------------------ Flip */

typedef struct {
  MactTransform parent;
  double        flip_ratio;
  gboolean      vertical;
  GHashTable   *label_map;     /* (nullable) gint64* -> gint64*, flip_label_map */
} Flip;

static gboolean
flip_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const Flip *fl = (const Flip *) t;
  st->flip = mact_generator_next_double (st->rng) < fl->flip_ratio;
  if (!st->flip)
    return TRUE;

  Frames f = frames_of (st->imgs);
  float *data = mact_tensor_get_data (st->imgs);
  float tmp[3];
  g_autofree float *row = fl->vertical ? g_new (float, f.w * 3) : NULL;
  for (gint64 i = 0; i < f.n; i++)
    {
      float *frame = data + i * f.h * f.w * 3;
      if (fl->vertical)
        {
          gsize bytes = f.w * 3 * sizeof (float);
          for (gint64 y = 0; y < f.h / 2; y++)
            {
              float *a = frame + y * f.w * 3, *b = frame + (f.h - 1 - y) * f.w * 3;
              memcpy (row, a, bytes);
              memcpy (a, b, bytes);
              memcpy (b, row, bytes);
            }
        }
      else
        for (gint64 y = 0; y < f.h; y++)
          {
            float *line = frame + y * f.w * 3;
            for (gint64 x = 0; x < f.w / 2; x++)
              {
                float *a = line + x * 3, *b = line + (f.w - 1 - x) * 3;
                memcpy (tmp, a, sizeof tmp);
                memcpy (a, b, sizeof tmp);
                memcpy (b, tmp, sizeof tmp);
              }
          }
    }

  /* flip_label_map: a flipped "move left" clip is a "move right" one. */
  if (fl->label_map != NULL && st->label != NULL && mact_tensor_get_numel (st->label) == 1)
    {
      g_autoptr(MactTensor) dense = mact_tensor_contiguous (st->label);
      float value = mact_tensor_get_data (dense)[0];
      gint64 key = (gint64) value;
      const gint64 *mapped = (double) key == (double) value
                               ? g_hash_table_lookup (fl->label_map, &key) : NULL;
      if (mapped != NULL)
        {
          gint ndim;
          const gint64 *shape = mact_tensor_get_shape (st->label, &ndim);
          float v = (float) *mapped;
          MactTensor *label = mact_tensor_new_from_data (&v, 1, ndim, shape, error);
          if (label == NULL)
            return FALSE;
          g_clear_pointer (&st->label, mact_tensor_unref);
          st->label = label;
        }
    }
  return TRUE;
}

static void
flip_free (MactTransform *t)
{
  g_clear_pointer (&((Flip *) t)->label_map, g_hash_table_unref);
}

/* left_kp / right_kp only reorder keypoints, which RGB pipelines do not have: checked as
 * lists of ints, then unused. */
static gboolean
check_int_list (MactStepConfig *cfg, const char *key, GError **error)
{
  JsonNode *node = mact_step_config_lookup (cfg, key);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                       "expects a list of ints, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  JsonArray *array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *e = json_array_get_element (array, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, key,
                           "[%u] expects an int, got %s", i, mact_config_describe_value (e));
          return FALSE;
        }
    }
  return TRUE;
}

MactTransform *
mact_transform_flip_new (MactStepConfig *cfg, GError **error)
{
  static const char *const directions[] = { "horizontal", "vertical", NULL };
  Flip *fl = mact_transform_alloc (sizeof (Flip), cfg, MACT_STEP_IMAGE, flip_apply, flip_free);
  g_autoptr(MactTransform) owned = (MactTransform *) fl;
  guint direction = 0;
  if (!mact_step_config_get_double (cfg, "flip_ratio", 0.5, 0.0, FALSE, 1.0, &fl->flip_ratio,
                                    error) ||
      !mact_step_config_get_choice (cfg, "direction", directions, 0, &direction, error) ||
      !check_int_list (cfg, "left_kp", error) ||
      !check_int_list (cfg, "right_kp", error) ||
      !mact_step_config_check_not_lazy (cfg, error))
    return NULL;
  fl->vertical = direction == 1;

  JsonNode *map = mact_step_config_lookup (cfg, "flip_label_map");
  if (map != NULL && !JSON_NODE_HOLDS_NULL (map))
    {
      if (!JSON_NODE_HOLDS_OBJECT (map))
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, "flip_label_map",
                           "expects an object mapping labels to labels, got %s",
                           mact_config_describe_value (map));
          return NULL;
        }
      fl->label_map = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
      JsonObject *obj = json_node_get_object (map);
      g_autoptr(GList) members = json_object_get_members (obj);
      for (GList *l = members; l != NULL; l = l->next)
        {
          const char *name = l->data;
          JsonNode *value = json_object_get_member (obj, name);
          gint64 from, to;
          char *end = NULL;
          from = g_ascii_strtoll (name, &end, 10);
          if (end == name || *end != '\0')
            {
              mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "flip_label_map",
                               "has the key '%s', which is not an integer label", name);
              return NULL;
            }
          if (!JSON_NODE_HOLDS_VALUE (value) ||
              json_node_get_value_type (value) != G_TYPE_INT64)
            {
              mact_step_error (cfg, error, MACT_CONFIG_ERROR_WRONG_TYPE, "flip_label_map",
                               "['%s'] expects an integer label, got %s", name,
                               mact_config_describe_value (value));
              return NULL;
            }
          to = json_node_get_int (value);
          g_hash_table_insert (fl->label_map, g_memdup2 (&from, sizeof from),
                               g_memdup2 (&to, sizeof to));
        }
    }

  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return g_steal_pointer (&owned);
}

/* ------------------------------------------------------------------ Normalize */

typedef struct {
  MactTransform parent;
  float         mean[3];
  float         inv_std[3];
  gboolean      to_bgr;
} Normalize;

/* mmcv.imnormalize_(img, mean, std, to_rgb=to_bgr): swap the channel order first when
 * asked, then (x - mean) / std per channel of the swapped image. */
static gboolean
normalize_apply (const MactTransform *t, MactPipelineState *st, GError **error)
{
  const Normalize *nm = (const Normalize *) t;
  float *data = mact_tensor_get_data (st->imgs);
  gint64 pixels = mact_tensor_get_numel (st->imgs) / 3;
  for (gint64 p = 0; p < pixels; p++)
    {
      float *px = data + p * 3;
      if (nm->to_bgr)
        {
          float r = px[0];
          px[0] = px[2];
          px[2] = r;
        }
      for (gint c = 0; c < 3; c++)
        px[c] = (px[c] - nm->mean[c]) * nm->inv_std[c];
    }
  return TRUE;
}

MactTransform *
mact_transform_normalize_new (MactStepConfig *cfg, GError **error)
{
  g_autofree Normalize *nm = mact_transform_alloc (sizeof (Normalize), cfg, MACT_STEP_IMAGE,
                                                   normalize_apply, NULL);
  double mean[3], std[3];
  gboolean adjust_magnitude;
  if (!mact_step_config_get_doubles (cfg, "mean", NULL, 3, 3, mean, NULL, error) ||
      !mact_step_config_get_doubles (cfg, "std", NULL, 3, 3, std, NULL, error) ||
      !mact_step_config_get_bool (cfg, "to_bgr", FALSE, &nm->to_bgr, error) ||
      /* Only scales optical flow, which mact's RGB pipelines never carry. */
      !mact_step_config_get_bool (cfg, "adjust_magnitude", FALSE, &adjust_magnitude, error))
    return NULL;
  for (gint c = 0; c < 3; c++)
    {
      if (std[c] == 0.0)
        {
          mact_step_error (cfg, error, MACT_CONFIG_ERROR_INVALID_VALUE, "std",
                           "[%d] must not be zero", c);
          return NULL;
        }
      nm->mean[c] = (float) mean[c];
      nm->inv_std[c] = (float) (1.0 / std[c]);
    }
  if (!mact_step_config_check_keys (cfg, error))
    return NULL;
  return (MactTransform *) g_steal_pointer (&nm);
}
