/* mact-pipeline.c: MactPipeline, mmaction2's data pipeline: a list of transforms built
 * from a config's train_pipeline / val_pipeline / test_pipeline, run on a video file, a
 * rawframe directory or frames in memory.  The transforms live in mact-transform-*.c;
 * this file builds them by type name, checks their order, and runs them. */
#include "mact-pipeline-private.h"
#include "mact-cancel-private.h"

#include <string.h>

/**
 * MactPipeline:
 *
 * The data pipeline of mmaction2 0.x: the transforms of a `train_pipeline`, `val_pipeline`
 * or `test_pipeline` list, with mmaction2's type names, parameter names, defaults and
 * formulas.  Frames are float32 HWC RGB on the 0-255 scale inside the pipeline; the
 * output is a #MactTensorDict with "imgs" laid out by FormatShape ([V, C, H, W] for
 * NCHW, [V, C, T, H, W] for NCTHW, [M, H, W, 3] without FormatShape) and "label" when
 * one is given.
 *
 * Supported types:
 *
 * - samplers: SampleFrames, DenseSampleFrames, UntrimmedSampleFrames;
 * - init steps: DecordInit, OpenCVInit, PyAVInit (their keys are checked; the entry
 *   point opens the source);
 * - decode steps: DecordDecode, OpenCVDecode, PyAVDecode, RawFrameDecode, ArrayDecode,
 *   all of which read the sampled frames from the source the entry point was given,
 *   decoding each distinct index once (videos through FFmpeg, frame-accurately);
 * - Resize, RandomRescale, RandomCrop, RandomResizedCrop, MultiScaleCrop, CenterCrop,
 *   ThreeCrop, TenCrop, Flip, Normalize;
 * - FormatShape (NCHW, NCTHW), Collect, ToTensor ("imgs" and "label").
 *
 * Differences from mmaction2, all deliberate: `lazy=True` (which needs mmaction2's
 * Fuse step) is refused; crops that do not fit in the frames are errors where numpy would
 * silently wrap; SampleFrames' deprecated `start_index` is accepted and ignored, as in
 * mmaction2, the entry point's start index being used; `mode='efficient'` decodes
 * accurately.  Random draws come from the #MactGenerator given to the run, so they do
 * not reproduce numpy's stream, only its distributions.
 *
 * A pipeline is immutable once built: all of a run's state is local to the run, so one
 * pipeline may run on several threads at once (the data loader's workers do).
 *
 * Since: 0.1
 */
struct _MactPipeline
{
  GObject    parent_instance;
  GPtrArray *steps;     /* (element-type MactTransform) (owned) */
};

G_DEFINE_FINAL_TYPE (MactPipeline, mact_pipeline, G_TYPE_OBJECT)

static void
mact_pipeline_finalize (GObject *object)
{
  MactPipeline *self = MACT_PIPELINE (object);
  g_clear_pointer (&self->steps, g_ptr_array_unref);
  G_OBJECT_CLASS (mact_pipeline_parent_class)->finalize (object);
}

static void
mact_pipeline_class_init (MactPipelineClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mact_pipeline_finalize;
}

static void
mact_pipeline_init (MactPipeline *self)
{
  self->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) mact_transform_free);
}

/* ------------------------------------------------------------------ building */

static const struct {
  const char         *type;
  MactTransformBuild  build;
} transform_types[] = {
  { "SampleFrames",          mact_transform_sample_frames_new },
  { "DenseSampleFrames",     mact_transform_dense_sample_new },
  { "UntrimmedSampleFrames", mact_transform_untrimmed_sample_new },
  { "DecordInit",            mact_transform_decord_init_new },
  { "OpenCVInit",            mact_transform_opencv_init_new },
  { "PyAVInit",              mact_transform_pyav_init_new },
  { "DecordDecode",          mact_transform_decord_decode_new },
  { "OpenCVDecode",          mact_transform_opencv_decode_new },
  { "PyAVDecode",            mact_transform_pyav_decode_new },
  { "RawFrameDecode",        mact_transform_rawframe_decode_new },
  { "ArrayDecode",           mact_transform_array_decode_new },
  { "Resize",                mact_transform_resize_new },
  { "RandomRescale",         mact_transform_random_rescale_new },
  { "RandomCrop",            mact_transform_random_crop_new },
  { "RandomResizedCrop",     mact_transform_random_resized_crop_new },
  { "MultiScaleCrop",        mact_transform_multi_scale_crop_new },
  { "CenterCrop",            mact_transform_center_crop_new },
  { "ThreeCrop",             mact_transform_three_crop_new },
  { "TenCrop",               mact_transform_ten_crop_new },
  { "Flip",                  mact_transform_flip_new },
  { "Normalize",             mact_transform_normalize_new },
  { "FormatShape",           mact_transform_format_shape_new },
  { "Collect",               mact_transform_collect_new },
  { "ToTensor",              mact_transform_to_tensor_new },
};

static char *
known_types (void)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (transform_types); i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", transform_types[i].type);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Order rules: frames exist only after the decode step, which needs sampled indices;
 * image transforms need HWC frames, which FormatShape replaces by the final layout. */
typedef struct {
  gboolean sampled;
  gboolean decoded;
  gboolean formatted;
} Order;

static gboolean
check_order (const MactTransform *t, Order *order, GError **error)
{
  const char *problem = NULL;
  switch (t->kind)
    {
    case MACT_STEP_SAMPLE:
    case MACT_STEP_INIT:
      if (order->decoded)
        problem = "comes after the decode step, which has already read the frames";
      order->sampled |= t->kind == MACT_STEP_SAMPLE;
      break;
    case MACT_STEP_DECODE:
      if (!order->sampled)
        problem = "needs a frame sampler (SampleFrames, DenseSampleFrames or "
                  "UntrimmedSampleFrames) before it";
      else if (order->decoded)
        problem = "is a second decode step";
      order->decoded = TRUE;
      break;
    case MACT_STEP_IMAGE:
    case MACT_STEP_FORMAT:
      if (!order->decoded)
        problem = "comes before the decode step, so there are no frames yet";
      else if (order->formatted)
        problem = t->kind == MACT_STEP_FORMAT
                    ? "is a second FormatShape"
                    : "comes after FormatShape, which has laid the frames out for the model";
      order->formatted |= t->kind == MACT_STEP_FORMAT;
      break;
    case MACT_STEP_COLLECT:
    default:
      break;
    }
  if (problem == NULL)
    return TRUE;
  mact_transform_error (t, error, MACT_CONFIG_ERROR_INVALID, NULL, "%s", problem);
  return FALSE;
}

static MactTransform *
build_step (JsonNode *node, guint index, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "pipeline step %u: expected a transform dict with a 'type', got %s", index,
                   mact_config_describe_value (node));
      return NULL;
    }
  JsonObject *obj = json_node_get_object (node);
  JsonNode *type_node = json_object_get_member (obj, "type");
  if (type_node == NULL || JSON_NODE_HOLDS_NULL (type_node))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                   "pipeline step %u: key 'type' is missing", index);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (type_node) ||
      json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE,
                   "pipeline step %u: key 'type' expects a string, got %s", index,
                   mact_config_describe_value (type_node));
      return NULL;
    }

  const char *type = json_node_get_string (type_node);
  for (gsize i = 0; i < G_N_ELEMENTS (transform_types); i++)
    if (g_str_equal (type, transform_types[i].type))
      {
        g_autoptr(GPtrArray) known = g_ptr_array_new ();
        MactStepConfig cfg = { index, transform_types[i].type, obj, known };
        return transform_types[i].build (&cfg, error);
      }

  g_autofree char *known = known_types ();
  g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE,
               "pipeline step %u: key 'type': unknown transform '%s' (known: %s)", index, type,
               known);
  return NULL;
}

/**
 * mact_pipeline_new_from_config:
 * @pipeline_cfg: a JSON array of transform dicts, mmaction2's `train_pipeline`,
 *   `val_pipeline` or `test_pipeline`: each {"type": ..., parameters...} with mmaction2's
 *   parameter names (tuples as JSON arrays)
 * @error: return location for a #GError, or %NULL
 *
 * Builds a pipeline.  @pipeline_cfg is not modified.
 *
 * Errors, all %MACT_CONFIG_ERROR with a message naming the step (its index and type) and
 * the key: %MACT_CONFIG_ERROR_INVALID when @pipeline_cfg is not a non-empty array, a step
 * is not an object, the steps are in an impossible order (no decode step, a decode step
 * before any sampler, an image transform before decoding or after FormatShape);
 * %MACT_CONFIG_ERROR_MISSING_KEY for a missing "type" or required argument;
 * %MACT_CONFIG_ERROR_WRONG_TYPE for a value of the wrong JSON type;
 * %MACT_CONFIG_ERROR_UNKNOWN_KEY for a key the transform does not take;
 * %MACT_CONFIG_ERROR_INVALID_VALUE for an unknown type name or a value out of range.
 *
 * Returns: (transfer full) (nullable): the pipeline, or %NULL with @error set
 *
 * Since: 0.1
 */
MactPipeline *
mact_pipeline_new_from_config (JsonNode *pipeline_cfg, GError **error)
{
  g_return_val_if_fail (pipeline_cfg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_ARRAY (pipeline_cfg))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "pipeline: expected a list of transform dicts, got %s",
                   mact_config_describe_value (pipeline_cfg));
      return NULL;
    }
  JsonArray *array = json_node_get_array (pipeline_cfg);
  guint n = json_array_get_length (array);
  if (n == 0)
    {
      g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                           "pipeline: the list of transforms is empty");
      return NULL;
    }

  g_autoptr(MactPipeline) self = g_object_new (MACT_TYPE_PIPELINE, NULL);
  Order order = { FALSE, FALSE, FALSE };
  for (guint i = 0; i < n; i++)
    {
      MactTransform *step = build_step (json_array_get_element (array, i), i, error);
      if (step == NULL)
        return NULL;
      g_ptr_array_add (self->steps, step);
      if (!check_order (step, &order, error))
        return NULL;
    }
  if (!order.decoded)
    {
      g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                           "pipeline: no decode step (DecordDecode, OpenCVDecode, PyAVDecode, "
                           "RawFrameDecode or ArrayDecode), so no frames would be read");
      return NULL;
    }
  return g_steal_pointer (&self);
}

/* ------------------------------------------------------------------ running */

static void
state_init (MactPipelineState *st, MactTensor *label, MactGenerator *rng)
{
  memset (st, 0, sizeof *st);
  st->source = MACT_PIPELINE_SOURCE_NONE;
  st->label = label != NULL ? mact_tensor_ref (label) : NULL;
  st->rng = rng != NULL ? rng : mact_generator_get_default ();
  st->scale_factor[0] = st->scale_factor[1] = 1.0;
  st->keys = MACT_PIPELINE_KEY_IMGS | MACT_PIPELINE_KEY_LABEL;
}

static void
state_clear (MactPipelineState *st)
{
  g_clear_object (&st->reader);
  g_clear_pointer (&st->array, mact_tensor_unref);
  g_clear_pointer (&st->imgs, mact_tensor_unref);
  g_clear_pointer (&st->label, mact_tensor_unref);
  g_clear_pointer (&st->frame_inds, g_free);
}

static gboolean
run_steps (MactPipeline *self, MactPipelineState *st, gboolean sample_only, GError **error)
{
  for (guint i = 0; i < self->steps->len; i++)
    {
      const MactTransform *step = g_ptr_array_index (self->steps, i);
      if (sample_only && step->kind != MACT_STEP_SAMPLE)
        continue;
      if (!mact_cancel_check ("pipeline", error))
        return FALSE;
      if (!step->apply (step, st, error))
        return FALSE;
    }
  return TRUE;
}

static MactTensorDict *
run (MactPipeline *self, MactPipelineState *st, GError **error)
{
  if (!run_steps (self, st, FALSE, error))
    return NULL;
  MactTensorDict *out = mact_tensor_dict_new ();
  if ((st->keys & MACT_PIPELINE_KEY_IMGS) && st->imgs != NULL)
    mact_tensor_dict_insert (out, "imgs", st->imgs);
  if ((st->keys & MACT_PIPELINE_KEY_LABEL) && st->label != NULL)
    mact_tensor_dict_insert (out, "label", st->label);
  return out;
}

/**
 * mact_pipeline_run_video:
 * @self: a pipeline
 * @filename: a video file any FFmpeg demuxer and decoder reads
 * @label: (nullable): the sample's label, stored under "label" as given
 * @rng: (nullable): the generator random steps draw from; %NULL uses the default one
 * @error: return location for a #GError, or %NULL
 *
 * Runs the pipeline on a video, as mmaction2's VideoDataset does (start_index 0): the
 * sampler sees the video's exact frame count, and the decode step reads the sampled
 * frames through #MactVideoReader.
 *
 * Errors: the %MACT_VIDEO_ERROR of the reader (missing file, not a video, corrupt stream,
 * no frames); %MACT_CONFIG_ERROR from a step that cannot apply to these frames (a crop
 * larger than the frames, ...), naming the step.
 *
 * Returns: (transfer full) (nullable): a dict with "imgs" ([V, C, H, W] for NCHW,
 *   [V, C, T, H, W] for NCTHW) and "label" when given (unless Collect leaves either
 *   out), or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_pipeline_run_video (MactPipeline *self, const char *filename, MactTensor *label,
                         MactGenerator *rng, GError **error)
{
  g_return_val_if_fail (MACT_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (filename != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  MactPipelineState st;
  state_init (&st, label, rng);
  st.source = MACT_PIPELINE_SOURCE_VIDEO;
  st.reader = mact_video_reader_new (filename, error);
  MactTensorDict *out = NULL;
  if (st.reader != NULL)
    {
      st.total_frames = mact_video_reader_get_n_frames (st.reader);
      if (st.total_frames <= 0)
        g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY,
                     "%s: the video has no frames", filename);
      else
        out = run (self, &st, error);
    }
  state_clear (&st);
  return out;
}

/**
 * mact_pipeline_run_rawframes:
 * @self: a pipeline
 * @frame_dir: the directory holding the clip's frames
 * @total_frames: the number of frames (as in a rawframe annotation list)
 * @filename_tmpl: (nullable): the frame file names, in the part of Python's format
 *   syntax mmaction2's configs use: one field "{}", "{:d}", "{:05}", "{:05d}" (any width,
 *   zero-padded or not) among literal text; %NULL means "img_{:05}.jpg"
 * @start_index: the number of the first frame file (mmaction2's RawframeDataset uses 1)
 * @label: (nullable): the sample's label, stored under "label" as given
 * @rng: (nullable): the generator random steps draw from; %NULL uses the default one
 * @error: return location for a #GError, or %NULL
 *
 * Runs the pipeline on a rawframe directory: sampled frame i (in [0, @total_frames))
 * is read with mact_image_load() from @frame_dir / @filename_tmpl formatted with
 * i + @start_index.
 *
 * Errors: %MACT_CONFIG_ERROR_INVALID_VALUE for a template outside that syntax;
 * %MACT_VIDEO_ERROR_EMPTY when @total_frames is not positive;
 * %MACT_VIDEO_ERROR_NOT_FOUND when @frame_dir is not a directory; the
 * %MACT_VIDEO_ERROR of mact_image_load() for an unreadable frame (its message names the
 * file); %MACT_VIDEO_ERROR_FORMAT when the frames differ in size; step errors as
 * mact_pipeline_run_video().
 *
 * Returns: (transfer full) (nullable): the output dict, as mact_pipeline_run_video(),
 *   or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_pipeline_run_rawframes (MactPipeline *self, const char *frame_dir, gint64 total_frames,
                             const char *filename_tmpl, gint start_index, MactTensor *label,
                             MactGenerator *rng, GError **error)
{
  g_return_val_if_fail (MACT_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (frame_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(MactFilenameTemplate) tmpl =
    mact_filename_template_parse (filename_tmpl != NULL ? filename_tmpl : "img_{:05}.jpg",
                                  error);
  if (tmpl == NULL)
    return NULL;
  if (total_frames <= 0)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY,
                   "%s: total_frames must be positive, got %" G_GINT64_FORMAT, frame_dir,
                   total_frames);
      return NULL;
    }
  if (!g_file_test (frame_dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND,
                   "%s: no such rawframe directory", frame_dir);
      return NULL;
    }

  MactPipelineState st;
  state_init (&st, label, rng);
  st.source = MACT_PIPELINE_SOURCE_RAWFRAMES;
  st.frame_dir = frame_dir;
  st.tmpl = tmpl;
  st.total_frames = total_frames;
  st.start_index = start_index;
  MactTensorDict *out = run (self, &st, error);
  state_clear (&st);
  return out;
}

/**
 * mact_pipeline_run_array:
 * @self: a pipeline
 * @frames: float32 [T, H, W, 3] frames, RGB 0-255 (mmaction2's ArrayDecode input)
 * @label: (nullable): the sample's label, stored under "label" as given
 * @rng: (nullable): the generator random steps draw from; %NULL uses the default one
 * @error: return location for a #GError, or %NULL
 *
 * Runs the pipeline on frames already in memory (start_index 0).  @frames is only read.
 *
 * Errors: %MACT_VIDEO_ERROR_INVALID_ARGUMENT when @frames is not [T, H, W, 3] with
 * H, W >= 1; %MACT_VIDEO_ERROR_EMPTY when T is 0; step errors as
 * mact_pipeline_run_video().
 *
 * Returns: (transfer full) (nullable): the output dict, as mact_pipeline_run_video(),
 *   or %NULL with @error set
 *
 * Since: 0.1
 */
MactTensorDict *
mact_pipeline_run_array (MactPipeline *self, MactTensor *frames, MactTensor *label,
                         MactGenerator *rng, GError **error)
{
  g_return_val_if_fail (MACT_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (frames != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gint ndim;
  const gint64 *shape = mact_tensor_get_shape (frames, &ndim);
  if (ndim != 4 || shape[3] != 3 || shape[1] < 1 || shape[2] < 1)
    {
      g_autofree char *got = mact_tensor_shape_to_string (frames);
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT,
                   "frames: expected a [T, H, W, 3] tensor, got %s", got);
      return NULL;
    }
  if (shape[0] == 0)
    {
      g_set_error_literal (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY,
                           "frames: the array has no frames");
      return NULL;
    }

  MactPipelineState st;
  state_init (&st, label, rng);
  st.source = MACT_PIPELINE_SOURCE_ARRAY;
  st.array = mact_tensor_contiguous (frames);
  st.total_frames = shape[0];
  MactTensorDict *out = run (self, &st, error);
  state_clear (&st);
  return out;
}

/**
 * mact_pipeline_sample_indices:
 * @self: a pipeline
 * @total_frames: the video's frame count
 * @start_index: added to every index (1 for mmaction2's rawframe datasets, else 0)
 * @rng: (nullable): the generator train-mode sampling draws from; %NULL uses the default
 *   one
 * @n_indices: (out): return location for the number of indices
 * @error: return location for a #GError, or %NULL
 *
 * Runs only the pipeline's sampler steps: the frame indices (mmaction2's `frame_inds`)
 * a run on a video of @total_frames frames would decode, clip after clip.
 *
 * Errors: %MACT_VIDEO_ERROR_EMPTY when @total_frames is not positive (or an
 * UntrimmedSampleFrames finds no clip in it).
 *
 * Returns: (transfer full) (array length=n_indices) (nullable): the indices, free with
 *   g_free(), or %NULL with @error set
 *
 * Since: 0.1
 */
gint64 *
mact_pipeline_sample_indices (MactPipeline *self, gint64 total_frames, gint start_index,
                              MactGenerator *rng, gsize *n_indices, GError **error)
{
  g_return_val_if_fail (MACT_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (n_indices != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  *n_indices = 0;
  if (total_frames <= 0)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY,
                   "total_frames must be positive, got %" G_GINT64_FORMAT, total_frames);
      return NULL;
    }

  MactPipelineState st;
  state_init (&st, NULL, rng);
  st.total_frames = total_frames;
  st.start_index = start_index;
  gint64 *indices = NULL;
  if (run_steps (self, &st, TRUE, error))
    {
      indices = g_steal_pointer (&st.frame_inds);
      *n_indices = st.n_frame_inds;
    }
  state_clear (&st);
  return indices;
}
