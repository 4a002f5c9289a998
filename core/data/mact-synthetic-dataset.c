/* mact-synthetic-dataset.c: MactSyntheticDataset, short procedural clips of a shape
 * performing one of ten actions, so a model can be trained and tested with no files.
 *
 * A sample is a pure function of (seed, split, index): its parameters are drawn from a
 * generator seeded with mact_dataset_sample_seed (seed, split stream, index), then every
 * frame is rendered from them.  Nothing is shared between calls, so samples are
 * bit-identical across calls and threads.  Rendering is a few passes over the frame
 * (background, distractors, the shape inside its bounding box, noise, normalisation):
 * an 8x3x32x32 clip takes well under a millisecond. */
#include <mact/mact.h>

#include <math.h>
#include <string.h>

/**
 * MactSyntheticDataset:
 *
 * A built-in action dataset ("SyntheticActionDataset" in configs).  Each clip shows one
 * shape (a square, a triangle, a notched disc, whose notch makes its rotation visible,
 * or a cross) in a random colour on a random background colour, performing the action
 * of its class (#MactSyntheticAction; class c of N is action c, and sample i has class
 * i % N, so classes are balanced).  Shape kind, colour, size, orientation, start
 * position, speed and background vary per sample; the class is only in the motion.
 * Optional per-pixel noise and static or randomly drifting distractor shapes (smaller
 * than the actor, moving independently of the class) make the task harder.
 *
 * Every action spans the whole sample: sampled frame p of T = num_clips * clip_len
 * shows the state at time p / (T - 1), so moves cross 30-45% of the frame and sizes
 * change about two-fold over T frames whatever T is; rotations turn 15-30 degrees per
 * sampled frame about a pivot 0.5-0.7 radii behind the shape (a rigid turn, like a clock
 * hand's), and blinks toggle every one or two frames per sampled frame.  frame_interval is accepted
 * for parity with mmaction2's SampleFrames; as the action spans the sampled frames, it
 * does not change what a clip shows.
 *
 * The output is "imgs" normalized with mean/std on the 0-255 scale, laid out as the
 * recognizers expect ([num_clips * clip_len, 3, H, W] for "NCHW",
 * [num_clips, 3, clip_len, H, W] for "NCTHW"), and "label", a [1] tensor holding the
 * class index as a float.  The generator passed to get_item is not used: the data do
 * not change between epochs.
 *
 * Since: 0.1
 */
struct _MactSyntheticDataset
{
  MactDataset parent_instance;

  guint       num_classes;
  guint       num_samples;
  char       *split;
  guint64     seed;
  guint       clip_len;
  guint       num_clips;
  guint       frame_interval;
  guint       height;
  guint       width;
  double      noise;
  guint       clutter;
  char       *input_format;
  GVariant   *mean;
  GVariant   *std;
  gboolean    test_mode;

  /* Set by initable_init from the properties above. */
  gboolean    initialized;
  gboolean    ncthw;
  guint64     stream;        /* the split's seed stream */
  float       mean_v[3];
  float       inv_std[3];
};

static void mact_synthetic_dataset_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MactSyntheticDataset, mact_synthetic_dataset, MACT_TYPE_DATASET,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      mact_synthetic_dataset_initable_iface_init))

enum {
  PROP_0,
  PROP_NUM_CLASSES,
  PROP_NUM_SAMPLES,
  PROP_SPLIT,
  PROP_SEED,
  PROP_CLIP_LEN,
  PROP_NUM_CLIPS,
  PROP_FRAME_INTERVAL,
  PROP_HEIGHT,
  PROP_WIDTH,
  PROP_NOISE,
  PROP_CLUTTER,
  PROP_INPUT_FORMAT,
  PROP_MEAN,
  PROP_STD,
  PROP_TEST_MODE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

#define TYPE_NAME "SyntheticActionDataset"

/* mmaction2's img_norm_cfg for ImageNet-pretrained backbones. */
static const double default_mean[3] = { 123.675, 116.28, 103.53 };
static const double default_std[3] = { 58.395, 57.12, 57.375 };

/* Seed streams of the splits: any two distinct constants give unrelated samples. */
#define STREAM_TRAIN G_GUINT64_CONSTANT (0x747261696e)   /* "train" */
#define STREAM_VAL   G_GUINT64_CONSTANT (0x76616c)       /* "val" */

static const char *const action_names[MACT_SYNTHETIC_ACTION_N_ACTIONS] = {
  "move_right", "move_left", "move_down", "move_up", "rotate_clockwise",
  "rotate_counterclockwise", "grow", "shrink", "blink", "stand_still",
};

/**
 * mact_synthetic_action_get_name:
 * @action: an action
 *
 * The action's name, as a label map would list it ("move_right", "rotate_clockwise",
 * "stand_still", ...).
 *
 * Returns: (nullable): the name, or %NULL when @action is not an action
 *
 * Since: 0.1
 */
const char *
mact_synthetic_action_get_name (MactSyntheticAction action)
{
  if ((guint) action >= MACT_SYNTHETIC_ACTION_N_ACTIONS)
    return NULL;
  return action_names[action];
}

/* ------------------------------------------------------------------ sample parameters */

typedef enum {
  SHAPE_SQUARE,
  SHAPE_TRIANGLE,
  SHAPE_DISC,
  SHAPE_CROSS,
  N_SHAPES
} ShapeKind;

/* One shape's trajectory over normalized time u in [0, 1]. */
typedef struct {
  ShapeKind kind;
  float     colour[3];      /* 0-255 */
  double    x0, y0;         /* centre at u = 0, pixels */
  double    dx, dy;         /* displacement over the sample */
  double    r0, r1;         /* circumradius at u = 0 and u = 1 (geometric in between) */
  double    theta0, dtheta; /* orientation at u = 0 (radians) and its change over the sample */
  guint     blink_half;     /* 0: always visible; else visible in half-periods of this many frames */
  guint     blink_phase;
  double    pivot_dist;     /* > 0: (x0, y0) is a pivot, the centre is this far from it */
} Shape;

static inline double
uniform (MactGenerator *g, double lo, double hi)
{
  return lo + (hi - lo) * mact_generator_next_double (g);
}

static inline guint
below (MactGenerator *g, guint n)
{
  guint v = (guint) (mact_generator_next_double (g) * n);
  return MIN (v, n - 1);
}

/* A random colour whose summed channel distance from @bg is at least @min_dist, so the
 * shape is always visible.  Falls back to the complement after a few draws. */
static void
contrasting_colour (MactGenerator *g, const float bg[3], float min_dist, float out[3])
{
  for (int attempt = 0; attempt < 16; attempt++)
    {
      float dist = 0.0f;
      for (int c = 0; c < 3; c++)
        {
          out[c] = (float) below (g, 256);
          dist += fabsf (out[c] - bg[c]);
        }
      if (dist >= min_dist)
        return;
    }
  for (int c = 0; c < 3; c++)
    out[c] = 255.0f - bg[c];
  /* The complement of a mid-grey is a mid-grey: push it to an extreme instead. */
  if (fabsf (out[0] - bg[0]) + fabsf (out[1] - bg[1]) + fabsf (out[2] - bg[2]) < min_dist)
    for (int c = 0; c < 3; c++)
      out[c] = bg[c] < 128.0f ? 255.0f : 0.0f;
}

/* Chooses a start so that the whole trajectory (circumradius up to r_max, one pixel
 * margin) stays inside [0, extent). */
static double
place (MactGenerator *g, double extent, double r_max, double displacement)
{
  double lo = r_max + 1.0 - MIN (displacement, 0.0);
  double hi = extent - r_max - 1.0 - MAX (displacement, 0.0);
  if (hi <= lo)
    return (lo + hi) / 2.0;
  return uniform (g, lo, hi);
}

static void
actor_params (MactSyntheticDataset *self, MactSyntheticAction action, guint n_frames,
              MactGenerator *g, const float bg[3], Shape *s)
{
  double w = self->width, h = self->height, m = MIN (w, h);
  memset (s, 0, sizeof *s);
  s->kind = (ShapeKind) below (g, N_SHAPES);
  contrasting_colour (g, bg, 180.0f, s->colour);
  s->theta0 = uniform (g, 0.0, 2.0 * G_PI);
  s->r0 = s->r1 = uniform (g, 0.16, 0.24) * m;

  switch (action)
    {
    case MACT_SYNTHETIC_ACTION_GROW:
    case MACT_SYNTHETIC_ACTION_SHRINK:
      {
        double small = uniform (g, 0.10, 0.13) * m;
        double large = small * uniform (g, 1.8, 2.3);
        s->r0 = action == MACT_SYNTHETIC_ACTION_GROW ? small : large;
        s->r1 = action == MACT_SYNTHETIC_ACTION_GROW ? large : small;
        break;
      }
    case MACT_SYNTHETIC_ACTION_ROTATE_CLOCKWISE:
    case MACT_SYNTHETIC_ACTION_ROTATE_COUNTERCLOCKWISE:
      {
        /* A rigid turn about a pivot just behind the shape, as a clock hand turns:
         * the shape swings along an arc while it turns.  A turn about the shape's own
         * centre only moves its outline by a pixel or two at 32x32, and models (mact's
         * and PyTorch's alike) could not tell its direction apart; the swing makes it
         * as visible as a move.  Per-frame turns stay below 45 degrees, so the
         * direction is never ambiguous.  In image coordinates (y down) a growing angle
         * turns clockwise on screen. */
        double step = uniform (g, 15.0, 30.0) * G_PI / 180.0;
        double sign = action == MACT_SYNTHETIC_ACTION_ROTATE_CLOCKWISE ? 1.0 : -1.0;
        s->dtheta = sign * step * (n_frames - 1);
        s->pivot_dist = uniform (g, 0.5, 0.7) * s->r0;
        break;
      }
    case MACT_SYNTHETIC_ACTION_BLINK:
      /* With four frames or more, a half-period of two still shows both states. */
      s->blink_half = n_frames < 4 ? 1 : 1 + below (g, 2);
      s->blink_phase = below (g, 2 * s->blink_half);
      break;
    case MACT_SYNTHETIC_ACTION_MOVE_RIGHT:
    case MACT_SYNTHETIC_ACTION_MOVE_LEFT:
    case MACT_SYNTHETIC_ACTION_MOVE_DOWN:
    case MACT_SYNTHETIC_ACTION_MOVE_UP:
      {
        gboolean horizontal = action == MACT_SYNTHETIC_ACTION_MOVE_RIGHT ||
                              action == MACT_SYNTHETIC_ACTION_MOVE_LEFT;
        double extent = horizontal ? w : h;
        double dist = MIN (uniform (g, 0.30, 0.45) * extent, extent - 2.0 * s->r0 - 2.0);
        if (action == MACT_SYNTHETIC_ACTION_MOVE_LEFT || action == MACT_SYNTHETIC_ACTION_MOVE_UP)
          dist = -dist;
        if (horizontal)
          s->dx = dist;
        else
          s->dy = dist;
        break;
      }
    case MACT_SYNTHETIC_ACTION_STAND_STILL:
    case MACT_SYNTHETIC_ACTION_N_ACTIONS:
    default:
      break;
    }

  /* Everything the shape covers lies within r_max of (x0, y0): its centre, or its pivot. */
  double r_max = MAX (s->r0, s->r1) + s->pivot_dist;
  s->x0 = place (g, w, r_max, s->dx);
  s->y0 = place (g, h, r_max, s->dy);
}

/* Distractors: smaller than the actor, anywhere (possibly partly outside the frame),
 * either static or drifting in a random direction, never turning or changing size. */
static void
distractor_params (MactSyntheticDataset *self, MactGenerator *g, const float bg[3],
                   Shape *s)
{
  double w = self->width, h = self->height, m = MIN (w, h);
  memset (s, 0, sizeof *s);
  s->kind = (ShapeKind) below (g, N_SHAPES);
  contrasting_colour (g, bg, 90.0f, s->colour);
  s->theta0 = uniform (g, 0.0, 2.0 * G_PI);
  s->r0 = s->r1 = MAX (uniform (g, 0.05, 0.09) * m, 1.5);
  s->x0 = uniform (g, 0.0, w);
  s->y0 = uniform (g, 0.0, h);
  if (mact_generator_next_double (g) < 0.5)
    {
      double dir = uniform (g, 0.0, 2.0 * G_PI);
      double dist = uniform (g, 0.1, 0.4) * m;
      s->dx = dist * cos (dir);
      s->dy = dist * sin (dir);
    }
}

/* ------------------------------------------------------------------ rendering */

/* Draws @s as it is at time @u of frame @p into the three 0-255 planes. */
static void
draw_shape (float *const planes[3], guint width, guint height, const Shape *s, double u,
            guint p)
{
  if (s->blink_half > 0 && ((p + s->blink_phase) / s->blink_half) % 2 == 1)
    return;

  double r = s->r0 * pow (s->r1 / s->r0, u);
  double theta = s->theta0 + u * s->dtheta;
  /* The centre sits pivot_dist ahead of the pivot along the shape's own direction. */
  double cx = s->x0 + u * s->dx + s->pivot_dist * cos (theta);
  double cy = s->y0 + u * s->dy + s->pivot_dist * sin (theta);
  double ct = cos (theta), st = sin (theta);

  int x_lo = MAX ((int) floor (cx - r - 1.0), 0);
  int x_hi = MIN ((int) ceil (cx + r + 1.0), (int) width - 1);
  int y_lo = MAX ((int) floor (cy - r - 1.0), 0);
  int y_hi = MIN ((int) ceil (cy + r + 1.0), (int) height - 1);

  /* Shape-frame constants: square half-side, triangle inradius with its edge normals at
   * 60, 180 and 300 degrees (vertex at 0), notch half-angle tangent, cross arms. */
  double half_side = r * G_SQRT2 / 2.0;
  double r2 = r * r;
  double inradius = r / 2.0;
  const double n_cos[3] = { 0.5, -1.0, 0.5 };
  const double n_sin[3] = { 0.86602540378443865, 0.0, -0.86602540378443865 };
  const double notch_tan = 0.57735026918962576;   /* tan 30 degrees: a 60-degree notch */
  double arm = 0.95 * r, arm_w = 0.3 * r;

  for (int y = y_lo; y <= y_hi; y++)
    {
      double py = y + 0.5 - cy;
      gsize row = (gsize) y * width;
      for (int x = x_lo; x <= x_hi; x++)
        {
          double px = x + 0.5 - cx;
          /* Into the shape's frame: rotate by -theta. */
          double a = px * ct + py * st;
          double b = -px * st + py * ct;
          gboolean inside;
          switch (s->kind)
            {
            case SHAPE_SQUARE:
              inside = fabs (a) <= half_side && fabs (b) <= half_side;
              break;
            case SHAPE_TRIANGLE:
              inside = a * n_cos[0] + b * n_sin[0] <= inradius &&
                       a * n_cos[1] + b * n_sin[1] <= inradius &&
                       a * n_cos[2] + b * n_sin[2] <= inradius;
              break;
            case SHAPE_DISC:
              inside = a * a + b * b <= r2 && !(a > 0.0 && fabs (b) < a * notch_tan);
              break;
            case SHAPE_CROSS:
            case N_SHAPES:
            default:
              inside = (fabs (a) <= arm && fabs (b) <= arm_w) ||
                       (fabs (b) <= arm && fabs (a) <= arm_w);
              break;
            }
          if (inside)
            for (int c = 0; c < 3; c++)
              planes[c][row + x] = s->colour[c];
        }
    }
}

/* The noise stream: splitmix64, inlined because noise needs one draw per value (a call
 * into the generator per value would dominate rendering).  Seeded from the sample's
 * generator, so it is as deterministic as the rest. */
static inline guint64
noise_next (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall), centred
 * and scaled to unit variance, from one 64-bit draw.  Bounded at +-3.46, which is fine
 * for image noise and several times cheaper than an exact Gaussian. */
static inline float
fast_normal (guint64 *state)
{
  guint64 r = noise_next (state);
  float sum = (float) (r & 0xffff) + (float) ((r >> 16) & 0xffff) +
              (float) ((r >> 32) & 0xffff) + (float) (r >> 48);
  return (sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

static MactTensorDict *
mact_synthetic_dataset_get_item (MactDataset *dataset, guint index, MactGenerator *rng,
                                 GError **error)
{
  MactSyntheticDataset *self = MACT_SYNTHETIC_DATASET (dataset);
  if (!self->initialized)
    {
      g_set_error_literal (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                           TYPE_NAME ": the dataset was not initialised "
                           "(use mact_synthetic_dataset_new_from_config() or g_initable_new())");
      return NULL;
    }

  guint n_frames = self->num_clips * self->clip_len;
  guint width = self->width, height = self->height;
  gsize hw = (gsize) height * width;
  guint label = index % self->num_classes;

  gint64 shape[5];
  gint ndim;
  if (self->ncthw)
    {
      ndim = 5;
      shape[0] = self->num_clips;
      shape[1] = 3;
      shape[2] = self->clip_len;
      shape[3] = height;
      shape[4] = width;
    }
  else
    {
      ndim = 4;
      shape[0] = n_frames;
      shape[1] = 3;
      shape[2] = height;
      shape[3] = width;
    }
  g_autoptr(MactTensor) imgs = mact_tensor_new_empty (ndim, shape, error);
  if (imgs == NULL)
    {
      g_prefix_error (error, TYPE_NAME ": sample %u: ", index);
      return NULL;
    }
  float *out = mact_tensor_get_data (imgs);

  g_autoptr(MactGenerator) g =
    mact_generator_new (mact_dataset_sample_seed (self->seed, self->stream, index));
  float bg[3];
  for (int c = 0; c < 3; c++)
    bg[c] = (float) below (g, 256);
  Shape actor;
  actor_params (self, (MactSyntheticAction) label, n_frames, g, bg, &actor);
  g_autofree Shape *distractors = g_new (Shape, MAX (self->clutter, 1));
  for (guint i = 0; i < self->clutter; i++)
    distractor_params (self, g, bg, &distractors[i]);

  float noise_scale = (float) (self->noise * 255.0);
  guint64 noise_state = mact_generator_next_uint64 (g);
  for (guint p = 0; p < n_frames; p++)
    {
      float *planes[3];
      for (int c = 0; c < 3; c++)
        {
          gsize plane;
          if (self->ncthw)
            plane = ((gsize) (p / self->clip_len) * 3 + c) * self->clip_len + p % self->clip_len;
          else
            plane = (gsize) p * 3 + c;
          planes[c] = out + plane * hw;
          for (gsize i = 0; i < hw; i++)
            planes[c][i] = bg[c];
        }

      double u = (double) p / (double) (n_frames - 1);
      for (guint i = 0; i < self->clutter; i++)
        draw_shape (planes, width, height, &distractors[i], u, p);
      draw_shape (planes, width, height, &actor, u, p);

      for (int c = 0; c < 3; c++)
        {
          float *v = planes[c];
          float mean = self->mean_v[c], inv_std = self->inv_std[c];
          if (noise_scale > 0.0f)
            for (gsize i = 0; i < hw; i++)
              {
                float noisy = v[i] + noise_scale * fast_normal (&noise_state);
                v[i] = CLAMP (noisy, 0.0f, 255.0f);
              }
          for (gsize i = 0; i < hw; i++)
            v[i] = (v[i] - mean) * inv_std;
        }
    }

  const gint64 label_shape[] = { 1 };
  g_autoptr(MactTensor) label_t = mact_tensor_new_full (1, label_shape, (float) label, error);
  if (label_t == NULL)
    return NULL;

  g_autoptr(MactTensorDict) item = mact_tensor_dict_new ();
  mact_tensor_dict_insert (item, "imgs", imgs);
  mact_tensor_dict_insert (item, "label", label_t);
  return g_steal_pointer (&item);
}

static guint
mact_synthetic_dataset_get_length (MactDataset *dataset)
{
  return MACT_SYNTHETIC_DATASET (dataset)->num_samples;
}

static guint
mact_synthetic_dataset_get_num_classes (MactDataset *dataset)
{
  return MACT_SYNTHETIC_DATASET (dataset)->num_classes;
}

/* ------------------------------------------------------------------ validation */

static gboolean
read_triple (GVariant *value, const char *key, gboolean positive, double out[3],
             GError **error)
{
  gsize n = 0;
  const double *v = value ? g_variant_get_fixed_array (value, &n, sizeof (double)) : NULL;
  if (n != 3)
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   TYPE_NAME ": key '%s' must have 3 values (one per channel), got %"
                   G_GSIZE_FORMAT, key, n);
      return FALSE;
    }
  for (int c = 0; c < 3; c++)
    {
      if (!isfinite (v[c]) || (positive && v[c] <= 0.0))
        {
          g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                       TYPE_NAME ": key '%s' must hold %s numbers, got %g at [%d]", key,
                       positive ? "positive finite" : "finite", v[c], c);
          return FALSE;
        }
      out[c] = v[c];
    }
  return TRUE;
}

static gboolean
mact_synthetic_dataset_initable_init (GInitable *initable, GCancellable *cancellable,
                                      GError **error)
{
  MactSyntheticDataset *self = MACT_SYNTHETIC_DATASET (initable);

  if (g_strcmp0 (self->split, "train") == 0)
    self->stream = STREAM_TRAIN;
  else if (g_strcmp0 (self->split, "val") == 0)
    self->stream = STREAM_VAL;
  else
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   TYPE_NAME ": key 'split' must be \"train\" or \"val\", got %s%s%s",
                   self->split ? "\"" : "", self->split ? self->split : "null",
                   self->split ? "\"" : "");
      return FALSE;
    }

  if (g_strcmp0 (self->input_format, "NCHW") == 0)
    self->ncthw = FALSE;
  else if (g_strcmp0 (self->input_format, "NCTHW") == 0)
    self->ncthw = TRUE;
  else
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   TYPE_NAME ": key 'input_format' must be \"NCHW\" (2D recognizers) or "
                   "\"NCTHW\" (3D), got %s%s%s", self->input_format ? "\"" : "",
                   self->input_format ? self->input_format : "null",
                   self->input_format ? "\"" : "");
      return FALSE;
    }

  if ((guint64) self->clip_len * self->num_clips < 2)
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   TYPE_NAME ": keys 'clip_len' and 'num_clips' give %u frame(s) per "
                   "sample; actions need at least 2", self->clip_len * self->num_clips);
      return FALSE;
    }

  double mean[3], std[3];
  if (!read_triple (self->mean, "mean", FALSE, mean, error) ||
      !read_triple (self->std, "std", TRUE, std, error))
    return FALSE;
  for (int c = 0; c < 3; c++)
    {
      self->mean_v[c] = (float) mean[c];
      self->inv_std[c] = (float) (1.0 / std[c]);
    }
  self->initialized = TRUE;
  return TRUE;
}

static void
mact_synthetic_dataset_initable_iface_init (GInitableIface *iface)
{
  iface->init = mact_synthetic_dataset_initable_init;
}

/* ------------------------------------------------------------------ GObject */

static void
mact_synthetic_dataset_set_property (GObject *object, guint prop_id, const GValue *value,
                                     GParamSpec *pspec)
{
  MactSyntheticDataset *self = MACT_SYNTHETIC_DATASET (object);
  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      self->num_classes = g_value_get_uint (value);
      break;
    case PROP_NUM_SAMPLES:
      self->num_samples = g_value_get_uint (value);
      break;
    case PROP_SPLIT:
      g_free (self->split);
      self->split = g_value_dup_string (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_CLIP_LEN:
      self->clip_len = g_value_get_uint (value);
      break;
    case PROP_NUM_CLIPS:
      self->num_clips = g_value_get_uint (value);
      break;
    case PROP_FRAME_INTERVAL:
      self->frame_interval = g_value_get_uint (value);
      break;
    case PROP_HEIGHT:
      self->height = g_value_get_uint (value);
      break;
    case PROP_WIDTH:
      self->width = g_value_get_uint (value);
      break;
    case PROP_NOISE:
      self->noise = g_value_get_double (value);
      break;
    case PROP_CLUTTER:
      self->clutter = g_value_get_uint (value);
      break;
    case PROP_INPUT_FORMAT:
      g_free (self->input_format);
      self->input_format = g_value_dup_string (value);
      break;
    case PROP_MEAN:
      g_clear_pointer (&self->mean, g_variant_unref);
      self->mean = g_value_dup_variant (value);
      break;
    case PROP_STD:
      g_clear_pointer (&self->std, g_variant_unref);
      self->std = g_value_dup_variant (value);
      break;
    case PROP_TEST_MODE:
      self->test_mode = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_synthetic_dataset_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  MactSyntheticDataset *self = MACT_SYNTHETIC_DATASET (object);
  switch (prop_id)
    {
    case PROP_NUM_CLASSES:
      g_value_set_uint (value, self->num_classes);
      break;
    case PROP_NUM_SAMPLES:
      g_value_set_uint (value, self->num_samples);
      break;
    case PROP_SPLIT:
      g_value_set_string (value, self->split);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_CLIP_LEN:
      g_value_set_uint (value, self->clip_len);
      break;
    case PROP_NUM_CLIPS:
      g_value_set_uint (value, self->num_clips);
      break;
    case PROP_FRAME_INTERVAL:
      g_value_set_uint (value, self->frame_interval);
      break;
    case PROP_HEIGHT:
      g_value_set_uint (value, self->height);
      break;
    case PROP_WIDTH:
      g_value_set_uint (value, self->width);
      break;
    case PROP_NOISE:
      g_value_set_double (value, self->noise);
      break;
    case PROP_CLUTTER:
      g_value_set_uint (value, self->clutter);
      break;
    case PROP_INPUT_FORMAT:
      g_value_set_string (value, self->input_format);
      break;
    case PROP_MEAN:
      g_value_set_variant (value, self->mean);
      break;
    case PROP_STD:
      g_value_set_variant (value, self->std);
      break;
    case PROP_TEST_MODE:
      g_value_set_boolean (value, self->test_mode);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_synthetic_dataset_finalize (GObject *object)
{
  MactSyntheticDataset *self = MACT_SYNTHETIC_DATASET (object);
  g_free (self->split);
  g_free (self->input_format);
  g_clear_pointer (&self->mean, g_variant_unref);
  g_clear_pointer (&self->std, g_variant_unref);
  G_OBJECT_CLASS (mact_synthetic_dataset_parent_class)->finalize (object);
}

static GVariant *
triple_variant (const double v[3])
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, v, 3, sizeof (double));
}

static void
mact_synthetic_dataset_class_init (MactSyntheticDatasetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactDatasetClass *dataset_class = MACT_DATASET_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->set_property = mact_synthetic_dataset_set_property;
  object_class->get_property = mact_synthetic_dataset_get_property;
  object_class->finalize = mact_synthetic_dataset_finalize;
  dataset_class->get_length = mact_synthetic_dataset_get_length;
  dataset_class->get_item = mact_synthetic_dataset_get_item;
  dataset_class->get_num_classes = mact_synthetic_dataset_get_num_classes;

  /**
   * MactSyntheticDataset:num-classes:
   *
   * The number of classes, 2 to 10: the first num-classes #MactSyntheticAction values.
   */
  properties[PROP_NUM_CLASSES] =
    g_param_spec_uint ("num-classes", NULL, NULL, 2, MACT_SYNTHETIC_ACTION_N_ACTIONS,
                       MACT_SYNTHETIC_ACTION_N_ACTIONS, flags);
  /**
   * MactSyntheticDataset:num-samples:
   *
   * The number of samples in the split.
   */
  properties[PROP_NUM_SAMPLES] =
    g_param_spec_uint ("num-samples", NULL, NULL, 1, G_MAXUINT, 1000, flags);
  /**
   * MactSyntheticDataset:split:
   *
   * "train" or "val": the splits draw their samples from unrelated seed streams.
   */
  properties[PROP_SPLIT] =
    g_param_spec_string ("split", NULL, NULL, "train", flags);
  /**
   * MactSyntheticDataset:seed:
   *
   * The seed every sample is derived from, with the split and the sample index.
   */
  properties[PROP_SEED] =
    g_param_spec_uint64 ("seed", NULL, NULL, 0, G_MAXUINT64, 0, flags);
  /**
   * MactSyntheticDataset:clip-len:
   *
   * Frames per clip.
   */
  properties[PROP_CLIP_LEN] =
    g_param_spec_uint ("clip-len", NULL, NULL, 1, 1024, 8, flags);
  /**
   * MactSyntheticDataset:num-clips:
   *
   * Clips (views) per sample; the action spans all of them.
   */
  properties[PROP_NUM_CLIPS] =
    g_param_spec_uint ("num-clips", NULL, NULL, 1, 1024, 1, flags);
  /**
   * MactSyntheticDataset:frame-interval:
   *
   * Accepted for parity with SampleFrames; it does not change the clips.
   */
  properties[PROP_FRAME_INTERVAL] =
    g_param_spec_uint ("frame-interval", NULL, NULL, 1, 1024, 1, flags);
  /**
   * MactSyntheticDataset:height:
   *
   * Frame height in pixels, 16 to 4096.
   */
  properties[PROP_HEIGHT] =
    g_param_spec_uint ("height", NULL, NULL, 16, 4096, 32, flags);
  /**
   * MactSyntheticDataset:width:
   *
   * Frame width in pixels, 16 to 4096.
   */
  properties[PROP_WIDTH] =
    g_param_spec_uint ("width", NULL, NULL, 16, 4096, 32, flags);
  /**
   * MactSyntheticDataset:noise:
   *
   * Standard deviation of the per-pixel, per-channel noise on intensities in [0, 1]
   * (approximately Gaussian; the noisy values are clamped to [0, 1]).
   */
  properties[PROP_NOISE] =
    g_param_spec_double ("noise", NULL, NULL, 0.0, 1.0, 0.0, flags);
  /**
   * MactSyntheticDataset:clutter:
   *
   * The number of distractor shapes, each static or drifting at random.
   */
  properties[PROP_CLUTTER] =
    g_param_spec_uint ("clutter", NULL, NULL, 0, 64, 0, flags);
  /**
   * MactSyntheticDataset:input-format:
   *
   * "NCHW" (imgs [num_clips * clip_len, 3, H, W], 2D recognizers) or "NCTHW"
   * ([num_clips, 3, clip_len, H, W], 3D recognizers).
   */
  properties[PROP_INPUT_FORMAT] =
    g_param_spec_string ("input-format", NULL, NULL, "NCHW", flags);
  /**
   * MactSyntheticDataset:mean:
   *
   * Per-channel (RGB) mean subtracted on the 0-255 scale; default ImageNet's.
   */
  properties[PROP_MEAN] =
    g_param_spec_variant ("mean", NULL, NULL, G_VARIANT_TYPE ("ad"),
                          triple_variant (default_mean), flags);
  /**
   * MactSyntheticDataset:std:
   *
   * Per-channel (RGB) standard deviation divided by on the 0-255 scale; default
   * ImageNet's.
   */
  properties[PROP_STD] =
    g_param_spec_variant ("std", NULL, NULL, G_VARIANT_TYPE ("ad"),
                          triple_variant (default_std), flags);
  /**
   * MactSyntheticDataset:test-mode:
   *
   * The `test_mode` of mmaction2, which its builders set for validation datasets;
   * accepted so such configs build, it changes nothing here.
   */
  properties[PROP_TEST_MODE] =
    g_param_spec_boolean ("test-mode", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_synthetic_dataset_init (MactSyntheticDataset *self)
{
}

/* ------------------------------------------------------------------ configs */

static char *
known_keys (void)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 1; i < N_PROPS; i++)
    {
      g_autofree char *name = g_strdelimit (g_strdup (properties[i]->name), "-", '_');
      g_string_append_printf (s, "%s'%s'", i > 1 ? ", " : "", name);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
clear_value (gpointer data)
{
  g_value_unset (data);
}

/**
 * mact_synthetic_dataset_new_from_config:
 * @config: a JSON object with the dataset's keys in snake_case (num_classes,
 *   num_samples, split, seed, clip_len, num_clips, frame_interval, height, width, noise,
 *   clutter, input_format, mean, std, test_mode) and optionally
 *   "type": "SyntheticActionDataset"
 * @error: return location for a #GError, or %NULL
 *
 * Builds a #MactSyntheticDataset.  Keys left out take their defaults: 10 classes, 1000
 * samples, the "train" split, seed 0, one clip of 8 frames of 32x32, no noise, no
 * clutter, "NCHW", ImageNet's mean and std.  @config is not modified.
 *
 * Errors: %MACT_DATA_ERROR_INVALID_CONFIG when @config is not an object, a key is
 * unknown, of the wrong JSON type or out of range (num_classes outside 2..10, a zero or
 * too large size), split or input_format is not one of the known values, mean/std do not
 * hold three finite numbers (std positive), or a sample would have fewer than 2 frames.
 * The message names the key.
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 *
 * Since: 0.1
 */
MactDataset *
mact_synthetic_dataset_new_from_config (JsonNode *config, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (config))
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   TYPE_NAME ": expected a config object, got %s",
                   json_node_type_name (config));
      return NULL;
    }

  /* The class must exist before its properties can be looked up. */
  g_autoptr(GTypeClass) klass = g_type_class_ref (MACT_TYPE_SYNTHETIC_DATASET);
  JsonObject *obj = json_node_get_object (config);
  g_autoptr(GList) members = json_object_get_members (obj);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
  g_array_set_clear_func (values, clear_value);

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *node = json_object_get_member (obj, key);
      if (g_str_equal (key, "type"))
        {
          if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
              !g_str_equal (json_node_get_string (node), TYPE_NAME))
            {
              g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                           TYPE_NAME ": key 'type' must be \"" TYPE_NAME "\"");
              return NULL;
            }
          continue;
        }

      g_autofree char *canonical = g_strdelimit (g_strdup (key), "_", '-');
      GParamSpec *pspec = g_param_spec_is_valid_name (canonical)
                          ? g_object_class_find_property (G_OBJECT_CLASS (klass), canonical)
                          : NULL;
      if (pspec == NULL)
        {
          g_autofree char *known = known_keys ();
          g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                       TYPE_NAME ": unknown key '%s' (known keys: %s)", key, known);
          return NULL;
        }

      for (guint i = 0; i < names->len; i++)
        if (g_ptr_array_index (names, i) == (gpointer) pspec->name)
          {
            g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                         TYPE_NAME ": key '%s' is given twice (as '_' and '-' spellings)",
                         key);
            return NULL;
          }

      GValue value = G_VALUE_INIT;
      g_autoptr(GError) local = NULL;
      if (!mact_config_value_to_gvalue (node, pspec, TYPE_NAME, &value, &local))
        {
          /* The config layer's message already names the block and the key. */
          g_set_error_literal (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                               local->message);
          return NULL;
        }
      g_ptr_array_add (names, (gpointer) pspec->name);
      g_array_append_val (values, value);
    }

  g_autoptr(GObject) object =
    g_object_new_with_properties (MACT_TYPE_SYNTHETIC_DATASET, names->len,
                                  (const char **) names->pdata, (const GValue *) values->data);
  if (!g_initable_init (G_INITABLE (object), NULL, error))
    return NULL;
  return MACT_DATASET (g_steal_pointer (&object));
}
