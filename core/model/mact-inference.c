/* mact-inference.c: MactInference, a recognizer in eval mode with its config's test
 * pipeline: mmaction2's init_recognizer (build, drop the backbone's `pretrained`, load
 * the checkpoint, eval) and inference_recognizer (pipeline on a video, a frame directory
 * or an array, collate to a batch of one, forward_test).
 *
 * Where mmaction2 rewrites the pipeline's Init/Decode steps for each kind of input,
 * MactPipeline already reads frames from whatever its entry point is given, so one
 * pipeline serves videos, frame directories and arrays unchanged.  Classifying a list
 * goes through MactDataLoader, whose worker thread decodes and transforms the next
 * sample while the recognizer runs on the current one. */
#include <mact/mact.h>
#include "mact-module-private.h"

#include <string.h>

#define DEFAULT_FILENAME_TMPL "img_{:05}.jpg"

/**
 * MactInference:
 *
 * Classifies inputs with a recognizer and a test pipeline, as mmaction2's
 * `inference_recognizer` does: a video file (decoded through FFmpeg), a directory of
 * frames (counted with #MactInference:filename-tmpl), frames already in memory, or a
 * tensor already shaped as the recognizer's input.  Each call returns the class scores
 * of one input, averaged over its views as the recognizer's test_cfg `average_clips`
 * says ("prob": softmax probabilities, "score": mean scores, null: unchanged).
 *
 * The recognizer is put in eval mode; every classification runs without recording
 * autograd history.  A #MactInference holds no per-call state, so it may classify from
 * several threads at once as far as the recognizer allows.
 *
 * Since: 0.1
 */
struct _MactInference
{
  GObject         parent_instance;

  MactRecognizer *recognizer;
  MactPipeline   *pipeline;       /* NULL: only tensors can be classified */
  char           *filename_tmpl;
  gint            start_index;
};

G_DEFINE_FINAL_TYPE (MactInference, mact_inference, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RECOGNIZER,
  PROP_PIPELINE,
  PROP_FILENAME_TMPL,
  PROP_START_INDEX,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PROGRESS,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
mact_inference_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  MactInference *self = MACT_INFERENCE (object);
  switch (prop_id)
    {
    case PROP_RECOGNIZER:
      g_set_object (&self->recognizer, g_value_get_object (value));
      break;
    case PROP_PIPELINE:
      g_set_object (&self->pipeline, g_value_get_object (value));
      break;
    case PROP_FILENAME_TMPL:
      mact_inference_set_filename_tmpl (self, g_value_get_string (value));
      break;
    case PROP_START_INDEX:
      mact_inference_set_start_index (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_inference_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  MactInference *self = MACT_INFERENCE (object);
  switch (prop_id)
    {
    case PROP_RECOGNIZER:
      g_value_set_object (value, self->recognizer);
      break;
    case PROP_PIPELINE:
      g_value_set_object (value, self->pipeline);
      break;
    case PROP_FILENAME_TMPL:
      g_value_set_string (value, self->filename_tmpl);
      break;
    case PROP_START_INDEX:
      g_value_set_int (value, self->start_index);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_inference_finalize (GObject *object)
{
  MactInference *self = MACT_INFERENCE (object);
  g_clear_object (&self->recognizer);
  g_clear_object (&self->pipeline);
  g_free (self->filename_tmpl);
  G_OBJECT_CLASS (mact_inference_parent_class)->finalize (object);
}

static void
mact_inference_class_init (MactInferenceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = mact_inference_set_property;
  object_class->get_property = mact_inference_get_property;
  object_class->finalize = mact_inference_finalize;

  /**
   * MactInference:recognizer:
   *
   * The recognizer, in eval mode.
   *
   * Since: 0.1
   */
  properties[PROP_RECOGNIZER] =
    g_param_spec_object ("recognizer", "Recognizer", "The recognizer, in eval mode",
                         MACT_TYPE_RECOGNIZER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MactInference:pipeline:
   *
   * The test pipeline, or %NULL when only ready-shaped tensors are classified.
   *
   * Since: 0.1
   */
  properties[PROP_PIPELINE] =
    g_param_spec_object ("pipeline", "Pipeline", "The test pipeline", MACT_TYPE_PIPELINE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * MactInference:filename-tmpl:
   *
   * How frames of a rawframe directory are named, in Python's format syntax
   * ("img_{:05}.jpg" by default, or the config's data.test.filename_tmpl).
   *
   * Since: 0.1
   */
  properties[PROP_FILENAME_TMPL] =
    g_param_spec_string ("filename-tmpl", "Filename template",
                         "How frames of a rawframe directory are named",
                         DEFAULT_FILENAME_TMPL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * MactInference:start-index:
   *
   * The number in the name of a rawframe directory's first frame (1 by default, or the
   * config's data.test.start_index).
   *
   * Since: 0.1
   */
  properties[PROP_START_INDEX] =
    g_param_spec_int ("start-index", "Start index",
                      "The number in the name of a rawframe directory's first frame",
                      0, G_MAXINT / 2, 1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MactInference::progress:
   * @inference: the inference
   * @done: samples classified so far
   * @total: samples in all
   *
   * Emitted after each sample of mact_inference_classify_dataset_async(), in the
   * thread-default main context of the thread that started it, so a user interface can
   * bind a progress bar to it directly.  (The synchronous
   * mact_inference_classify_dataset() calls its progress function instead.)
   *
   * Since: 0.1
   */
  signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT);
}

static void
mact_inference_init (MactInference *self)
{
  self->filename_tmpl = g_strdup (DEFAULT_FILENAME_TMPL);
  self->start_index = 1;
}

/* ------------------------------------------------------------------ configs */

static JsonObject *
member_object (JsonObject *obj, const char *key)
{
  JsonNode *node = obj != NULL ? json_object_get_member (obj, key) : NULL;
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/**
 * mact_inference_find_test_pipeline:
 * @config: a whole config (a JSON object)
 * @error: return location for a #GError, or %NULL
 *
 * Finds the pipeline to classify with, in mmaction2's order of preference:
 * `data.test.pipeline`, the top-level `test_pipeline`, `data.val.pipeline`, the
 * top-level `val_pipeline`.
 *
 * Errors: %MACT_CONFIG_ERROR_MISSING_KEY when the config has none of them (the message
 * lists where it looked); %MACT_CONFIG_ERROR_WRONG_TYPE when the first one found is not
 * a list.
 *
 * Returns: (transfer none) (nullable): the pipeline list, a node of @config, or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
JsonNode *
mact_inference_find_test_pipeline (JsonNode *config, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  JsonObject *root = JSON_NODE_HOLDS_OBJECT (config) ? json_node_get_object (config) : NULL;
  JsonObject *data = member_object (root, "data");
  const struct {
    JsonObject *obj;
    const char *key;
    const char *name;
  } places[] = {
    { member_object (data, "test"), "pipeline", "data.test.pipeline" },
    { root, "test_pipeline", "test_pipeline" },
    { member_object (data, "val"), "pipeline", "data.val.pipeline" },
    { root, "val_pipeline", "val_pipeline" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (places); i++)
    {
      JsonNode *node = places[i].obj != NULL
                       ? json_object_get_member (places[i].obj, places[i].key) : NULL;
      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        continue;
      if (!JSON_NODE_HOLDS_ARRAY (node))
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE,
                       "config: key '%s' must be a list of transforms, got %s",
                       places[i].name, mact_config_describe_value (node));
          return NULL;
        }
      return node;
    }
  g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                       "config: no test pipeline (looked for data.test.pipeline, "
                       "test_pipeline, data.val.pipeline and val_pipeline)");
  return NULL;
}

/**
 * mact_inference_new:
 * @recognizer: a recognizer; it is put in eval mode
 * @pipeline_cfg: (nullable): the test pipeline, a JSON list of transforms (see
 *   mact_pipeline_new_from_config()); %NULL to classify only ready-shaped tensors
 * @error: return location for a #GError, or %NULL
 *
 * Wraps a recognizer already built and loaded.  Its test_cfg decides how views are
 * averaged; to override `average_clips` build it with
 * mact_inference_new_from_config().
 *
 * Errors: %MACT_CONFIG_ERROR from the pipeline.
 *
 * Returns: (transfer full) (nullable): a new #MactInference, or %NULL with @error set
 *
 * Since: 0.1
 */
MactInference *
mact_inference_new (MactRecognizer *recognizer, JsonNode *pipeline_cfg, GError **error)
{
  g_return_val_if_fail (MACT_IS_RECOGNIZER (recognizer), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(MactPipeline) pipeline = NULL;
  if (pipeline_cfg != NULL)
    {
      pipeline = mact_pipeline_new_from_config (pipeline_cfg, error);
      if (pipeline == NULL)
        return NULL;
    }
  mact_module_eval (MACT_MODULE (recognizer));
  return g_object_new (MACT_TYPE_INFERENCE, "recognizer", recognizer, "pipeline", pipeline,
                       NULL);
}

/* init_recognizer's edits to a private copy of the config: no pretrained download, and
 * average_clips as asked ("none" is mmaction2's None). */
static gboolean
prepare_model_config (JsonObject *root, const char *average_clips, GError **error)
{
  JsonObject *model = member_object (root, "model");
  if (model == NULL)
    {
      g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
                           "config: key 'model' is missing or not an object");
      return FALSE;
    }
  JsonObject *backbone = member_object (model, "backbone");
  if (backbone != NULL && json_object_has_member (backbone, "pretrained"))
    json_object_set_null_member (backbone, "pretrained");

  if (average_clips == NULL)
    return TRUE;
  if (!g_str_equal (average_clips, "prob") && !g_str_equal (average_clips, "score") &&
      !g_str_equal (average_clips, "none"))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE,
                   "average_clips must be \"prob\", \"score\" or \"none\", got \"%s\"",
                   average_clips);
      return FALSE;
    }
  JsonObject *test_cfg = member_object (model, "test_cfg");
  if (test_cfg == NULL)
    {
      json_object_set_object_member (model, "test_cfg", json_object_new ());
      test_cfg = member_object (model, "test_cfg");
    }
  if (g_str_equal (average_clips, "none"))
    json_object_set_null_member (test_cfg, "average_clips");
  else
    json_object_set_string_member (test_cfg, "average_clips", average_clips);
  return TRUE;
}

/**
 * mact_inference_new_from_config:
 * @config: a whole config: "model", and a test pipeline where
 *   mact_inference_find_test_pipeline() looks
 * @weights: (nullable) (type filename): the weights: a checkpoint's .json (as
 *   `mact train` writes) or a .safetensors state dict; %NULL keeps the initial weights
 * @average_clips: (nullable): "prob", "score" or "none" to override test_cfg's
 *   `average_clips`; %NULL keeps the config's
 * @error: return location for a #GError, or %NULL
 *
 * As mmaction2's `init_recognizer`: builds the recognizer from `model` (with the
 * backbone's `pretrained` set to null, so nothing is fetched), loads @weights strictly
 * (every key of the model must be in the file and nothing else), puts it in eval mode,
 * and builds the test pipeline when the config has one (without it only
 * mact_inference_classify_tensor() works).
 *
 * With @weights the model is not randomly initialised first, since the load replaces
 * every value (so the default generator is not advanced either), and a safetensors
 * file's weights are used in place from its private mapping rather than copied (see
 * mact_module_load_state_dict()): a large model is ready in milliseconds.
 *
 * `data.test.filename_tmpl` and `data.test.start_index` set
 * #MactInference:filename-tmpl and #MactInference:start-index when present.  @config is
 * not modified.
 *
 * Errors: %MACT_CONFIG_ERROR for the model, the pipeline or @average_clips;
 * %MACT_IO_ERROR, %MACT_TRAIN_ERROR and %MACT_MODULE_ERROR from loading @weights (the
 * message names the file).
 *
 * Returns: (transfer full) (nullable): a new #MactInference, or %NULL with @error set
 *
 * Since: 0.1
 */
MactInference *
mact_inference_new_from_config (JsonNode *config, const char *weights,
                                const char *average_clips, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (config))
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                   "config: expected an object, got %s", mact_config_describe_value (config));
      return NULL;
    }
  g_autoptr(JsonNode) copy = mact_config_copy (config);
  JsonObject *root = json_node_get_object (copy);
  if (!prepare_model_config (root, average_clips, error))
    return NULL;

  /* With weights, the strict load below replaces every parameter and buffer, so the
   * random initialisation is skipped: together with the zero-copy load it is what lets
   * a model start in milliseconds.  If the load fails the model is dropped unseen. */
  if (weights != NULL)
    mact_nn_skip_init_begin ();
  g_autoptr(MactRecognizer) recognizer = mact_recognizer_new_from_json (copy, NULL, error);
  if (weights != NULL)
    mact_nn_skip_init_end ();
  if (recognizer == NULL)
    return NULL;
  if (weights != NULL)
    {
      g_autoptr(JsonObject) meta = mact_checkpoint_load (weights, MACT_MODULE (recognizer),
                                                         TRUE, NULL, error);
      if (meta == NULL)
        return NULL;
    }

  g_autoptr(GError) missing = NULL;
  JsonNode *pipeline_cfg = mact_inference_find_test_pipeline (copy, &missing);
  if (pipeline_cfg == NULL && !g_error_matches (missing, MACT_CONFIG_ERROR,
                                                MACT_CONFIG_ERROR_MISSING_KEY))
    {
      g_propagate_error (error, g_steal_pointer (&missing));
      return NULL;
    }
  g_autoptr(MactInference) self = mact_inference_new (recognizer, pipeline_cfg, error);
  if (self == NULL)
    return NULL;

  /* inference_recognizer reads the rawframe naming from data.test. */
  JsonObject *test = member_object (member_object (root, "data"), "test");
  JsonNode *tmpl = test != NULL ? json_object_get_member (test, "filename_tmpl") : NULL;
  JsonNode *start = test != NULL ? json_object_get_member (test, "start_index") : NULL;
  if (tmpl != NULL && !JSON_NODE_HOLDS_NULL (tmpl))
    {
      if (!JSON_NODE_HOLDS_VALUE (tmpl) || json_node_get_value_type (tmpl) != G_TYPE_STRING)
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE,
                       "config: key 'data.test.filename_tmpl' must be a string, got %s",
                       mact_config_describe_value (tmpl));
          return NULL;
        }
      mact_inference_set_filename_tmpl (self, json_node_get_string (tmpl));
    }
  if (start != NULL && !JSON_NODE_HOLDS_NULL (start))
    {
      if (!JSON_NODE_HOLDS_VALUE (start) || json_node_get_value_type (start) != G_TYPE_INT64 ||
          json_node_get_int (start) < 0 || json_node_get_int (start) > G_MAXINT / 2)
        {
          g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_WRONG_TYPE,
                       "config: key 'data.test.start_index' must be a non-negative integer, "
                       "got %s", mact_config_describe_value (start));
          return NULL;
        }
      mact_inference_set_start_index (self, (gint) json_node_get_int (start));
    }
  return g_steal_pointer (&self);
}

/**
 * mact_inference_new_from_files:
 * @config_path: (type filename): a JSON config file
 * @weights: (nullable) (type filename): a checkpoint's .json or a .safetensors file
 * @average_clips: (nullable): "prob", "score" or "none" to override the config's
 * @error: return location for a #GError, or %NULL
 *
 * Loads @config_path with mact_config_load_file() and calls
 * mact_inference_new_from_config().  Errors about the config's contents
 * (%MACT_CONFIG_ERROR, %MACT_REGISTRY_ERROR) are prefixed with the file name.
 *
 * Returns: (transfer full) (nullable): a new #MactInference, or %NULL with @error set
 *
 * Since: 0.1
 */
MactInference *
mact_inference_new_from_files (const char *config_path, const char *weights,
                               const char *average_clips, GError **error)
{
  g_return_val_if_fail (config_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(JsonNode) config = mact_config_load_file (config_path, error);
  if (config == NULL)
    return NULL;
  MactInference *self = mact_inference_new_from_config (config, weights, average_clips,
                                                        error);
  if (self == NULL)
    {
      /* Config and type-lookup errors are about the file's contents: say which file. */
      if (error != NULL && *error != NULL &&
          ((*error)->domain == MACT_CONFIG_ERROR || (*error)->domain == MACT_REGISTRY_ERROR))
        {
          g_autofree char *display = g_filename_display_name (config_path);
          g_prefix_error (error, "%s: ", display);
        }
    }
  return self;
}

/* ------------------------------------------------------------------ accessors */

/**
 * mact_inference_get_recognizer:
 * @self: a #MactInference
 *
 * Returns: (transfer none): the recognizer
 *
 * Since: 0.1
 */
MactRecognizer *
mact_inference_get_recognizer (MactInference *self)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  return self->recognizer;
}

/**
 * mact_inference_get_pipeline:
 * @self: a #MactInference
 *
 * Returns: (transfer none) (nullable): the test pipeline, or %NULL when there is none
 *
 * Since: 0.1
 */
MactPipeline *
mact_inference_get_pipeline (MactInference *self)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  return self->pipeline;
}

/**
 * mact_inference_get_filename_tmpl:
 * @self: a #MactInference
 *
 * Returns: how rawframe files are named (#MactInference:filename-tmpl)
 *
 * Since: 0.1
 */
const char *
mact_inference_get_filename_tmpl (MactInference *self)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  return self->filename_tmpl;
}

/**
 * mact_inference_set_filename_tmpl:
 * @self: a #MactInference
 * @filename_tmpl: (nullable): a Python format string such as "img_{:05}.jpg"; %NULL
 *   restores the default
 *
 * Sets how the frames of a rawframe directory are named.
 *
 * Since: 0.1
 */
void
mact_inference_set_filename_tmpl (MactInference *self, const char *filename_tmpl)
{
  g_return_if_fail (MACT_IS_INFERENCE (self));
  if (filename_tmpl == NULL)
    filename_tmpl = DEFAULT_FILENAME_TMPL;
  if (g_strcmp0 (self->filename_tmpl, filename_tmpl) == 0)
    return;
  g_free (self->filename_tmpl);
  self->filename_tmpl = g_strdup (filename_tmpl);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FILENAME_TMPL]);
}

/**
 * mact_inference_get_start_index:
 * @self: a #MactInference
 *
 * Returns: the number in the name of a rawframe directory's first frame
 *
 * Since: 0.1
 */
gint
mact_inference_get_start_index (MactInference *self)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), 0);
  return self->start_index;
}

/**
 * mact_inference_set_start_index:
 * @self: a #MactInference
 * @start_index: the number in the name of the first frame, 0 or more
 *
 * Sets the number the frames of a rawframe directory start from.
 *
 * Since: 0.1
 */
void
mact_inference_set_start_index (MactInference *self, gint start_index)
{
  g_return_if_fail (MACT_IS_INFERENCE (self));
  g_return_if_fail (start_index >= 0);
  if (self->start_index == start_index)
    return;
  self->start_index = start_index;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_START_INDEX]);
}

/* ------------------------------------------------------------------ classifying */

/* The rank of a batched input: [N, V, C, H, W] for 2D (and audio) recognizers,
 * [N, V, C, T, H, W] for 3D ones. */
static gint
batched_ndim (MactInference *self)
{
  return MACT_IS_RECOGNIZER_3D (self->recognizer) ? 6 : 5;
}

static const char *
layout_name (MactInference *self)
{
  return MACT_IS_RECOGNIZER_3D (self->recognizer) ? "[V, C, T, H, W] or [1, V, C, T, H, W]"
                                                  : "[V, C, H, W] or [1, V, C, H, W]";
}

/* forward_test on a batch of one; [1, K] becomes [K]. */
static MactTensor *
forward_one (MactInference *self, MactTensor *batch, GError **error)
{
  /* classify: no-grad, and the cancellable of an async call made current by its worker
   * still applies between the layers. */
  g_autoptr(MactTensor) scores = mact_recognizer_classify (self->recognizer, batch, NULL,
                                                           error);
  if (scores == NULL)
    return NULL;
  if (mact_tensor_get_ndim (scores) == 2 && mact_tensor_get_size (scores, 0) == 1)
    {
      const gint64 shape[] = { mact_tensor_get_size (scores, 1) };
      g_autoptr(MactTensor) flat = mact_tensor_reshape (scores, 1, shape, error);
      return flat != NULL ? mact_tensor_contiguous (flat) : NULL;
    }
  return mact_tensor_contiguous (scores);
}

/* Adds the batch dimension to one sample, or accepts a batch of one. */
static MactTensor *
as_batch (MactInference *self, MactTensor *imgs, GError **error)
{
  const gint want = batched_ndim (self);
  const gint nd = mact_tensor_get_ndim (imgs);
  if (nd == want - 1)
    return mact_tensor_unsqueeze (imgs, 0, error);
  if (nd == want && mact_tensor_get_size (imgs, 0) == 1)
    return mact_tensor_ref (imgs);

  g_autofree char *got = mact_tensor_shape_to_string (imgs);
  if (nd == want)
    g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                 "%s takes one sample at a time, %s; got a batch of %" G_GINT64_FORMAT
                 " (shape %s)", G_OBJECT_TYPE_NAME (self->recognizer), layout_name (self),
                 mact_tensor_get_size (imgs, 0), got);
  else
    g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                 "%s takes input shaped %s, got %s", G_OBJECT_TYPE_NAME (self->recognizer),
                 layout_name (self), got);
  return NULL;
}

/**
 * mact_inference_classify_tensor:
 * @self: a #MactInference
 * @imgs: one sample already shaped as the recognizer's input, as the pipeline's
 *   FormatShape would give it: [V, C, H, W] for 2D recognizers or [V, C, T, H, W] for
 *   3D ones, with or without a leading batch dimension of 1
 * @error: return location for a #GError, or %NULL
 *
 * Runs forward_test on @imgs with no pipeline.
 *
 * Errors: %MACT_TENSOR_ERROR_SHAPE when @imgs is not of one of those shapes (the message
 * gives the expected layout and the shape it got); whatever forward_test reports.
 *
 * Returns: (transfer full) (nullable): the scores, [num_classes] (or [views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_tensor (MactInference *self, MactTensor *imgs, GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (imgs != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(MactTensor) batch = as_batch (self, imgs, error);
  if (batch == NULL)
    return NULL;
  return forward_one (self, batch, error);
}

static gboolean
need_pipeline (MactInference *self, const char *what, GError **error)
{
  if (self->pipeline != NULL)
    return TRUE;
  g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_MISSING_KEY,
               "classifying %s needs a test pipeline (data.test.pipeline, test_pipeline, "
               "data.val.pipeline or val_pipeline in the config)", what);
  return FALSE;
}

static MactTensor *
classify_result (MactInference *self, MactTensorDict *result, GError **error)
{
  MactTensor *imgs = mact_tensor_dict_lookup (result, "imgs");
  if (imgs == NULL)
    {
      g_set_error_literal (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID,
                           "the test pipeline gave no \"imgs\"");
      return NULL;
    }
  return mact_inference_classify_tensor (self, imgs, error);
}

/**
 * mact_inference_classify_video:
 * @self: a #MactInference
 * @path: (type filename): a video file any FFmpeg demuxer reads
 * @error: return location for a #GError, or %NULL
 *
 * Decodes the frames the test pipeline samples, runs the pipeline and the recognizer.
 *
 * Errors: %MACT_CONFIG_ERROR_MISSING_KEY without a test pipeline; %MACT_VIDEO_ERROR
 * when the file is missing, not a video, corrupt or empty; whatever the pipeline and the
 * recognizer report.
 *
 * Returns: (transfer full) (nullable): the scores, [num_classes] (or [views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_video (MactInference *self, const char *path, GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!need_pipeline (self, "a video", error))
    return NULL;
  g_autoptr(MactTensorDict) result = mact_pipeline_run_video (self->pipeline, path, NULL,
                                                              NULL, error);
  if (result == NULL)
    return NULL;
  return classify_result (self, result, error);
}

/* Counts the files of @dir named like @tmpl with any number in place of its first
 * replacement field, as inference_recognizer does (it turns "img_{:05}.jpg" into the
 * pattern ^img_\d+.jpg$). */
static gint64
count_frames (const char *dir, const char *tmpl, GError **error)
{
  g_autofree char *display = g_filename_display_name (dir);
  const char *open = strchr (tmpl, '{');
  const char *close = open != NULL ? strchr (open, '}') : NULL;
  if (close == NULL)
    {
      g_set_error (error, MACT_CONFIG_ERROR, MACT_CONFIG_ERROR_INVALID_VALUE,
                   "filename_tmpl \"%s\" has no {} field for the frame number", tmpl);
      return -1;
    }
  g_autofree char *prefix = g_strndup (tmpl, open - tmpl);
  const char *suffix = close + 1;
  const gsize prefix_len = strlen (prefix), suffix_len = strlen (suffix);

  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND,
                   "%s: cannot open the frame directory: %s", display, local->message);
      return -1;
    }
  gint64 count = 0;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      const gsize len = strlen (name);
      if (len <= prefix_len + suffix_len || !g_str_has_prefix (name, prefix) ||
          !g_str_has_suffix (name, suffix))
        continue;
      gboolean digits = TRUE;
      for (gsize i = prefix_len; i < len - suffix_len && digits; i++)
        digits = g_ascii_isdigit (name[i]);
      count += digits;
    }
  if (count == 0)
    g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_EMPTY,
                 "%s: no frames named like \"%s\"", display, tmpl);
  return count;
}

/**
 * mact_inference_classify_rawframes:
 * @self: a #MactInference
 * @frame_dir: (type filename): a directory of frames named by
 *   #MactInference:filename-tmpl, numbered from #MactInference:start-index
 * @error: return location for a #GError, or %NULL
 *
 * Counts the frames (the files whose names fit the template with a number in place of
 * its field), then runs the test pipeline on them and the recognizer.
 *
 * Errors: %MACT_CONFIG_ERROR_MISSING_KEY without a test pipeline;
 * %MACT_VIDEO_ERROR_NOT_FOUND when the directory cannot be opened,
 * %MACT_VIDEO_ERROR_EMPTY when no file fits the template; %MACT_VIDEO_ERROR for an
 * unreadable frame; whatever the pipeline and the recognizer report.
 *
 * Returns: (transfer full) (nullable): the scores, [num_classes] (or [views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_rawframes (MactInference *self, const char *frame_dir,
                                   GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (frame_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!need_pipeline (self, "rawframes", error))
    return NULL;
  const gint64 total = count_frames (frame_dir, self->filename_tmpl, error);
  if (total <= 0)
    return NULL;
  g_autoptr(MactTensorDict) result =
    mact_pipeline_run_rawframes (self->pipeline, frame_dir, total, self->filename_tmpl,
                                 self->start_index, NULL, NULL, error);
  if (result == NULL)
    return NULL;
  return classify_result (self, result, error);
}

/**
 * mact_inference_classify_frames:
 * @self: a #MactInference
 * @frames: decoded frames, float32 [T, H, W, 3], RGB on the 0-255 scale
 * @error: return location for a #GError, or %NULL
 *
 * Runs the test pipeline on frames already in memory (mmaction2's ArrayDecode input),
 * then the recognizer.
 *
 * Errors: %MACT_CONFIG_ERROR_MISSING_KEY without a test pipeline; whatever the pipeline
 * and the recognizer report.
 *
 * Returns: (transfer full) (nullable): the scores, [num_classes] (or [views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_frames (MactInference *self, MactTensor *frames, GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (frames != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!need_pipeline (self, "frames", error))
    return NULL;
  g_autoptr(MactTensorDict) result = mact_pipeline_run_array (self->pipeline, frames, NULL,
                                                              NULL, error);
  if (result == NULL)
    return NULL;
  return classify_result (self, result, error);
}

/**
 * mact_inference_classify_file:
 * @self: a #MactInference
 * @path: (type filename): a directory (rawframes), a `.npy` file (a tensor already
 *   shaped as the recognizer's input, see mact_inference_classify_tensor()) or a video
 * @error: return location for a #GError, or %NULL
 *
 * Classifies @path as what it is, as `mact infer` does: a directory goes to
 * mact_inference_classify_rawframes(), a file ending in ".npy" is read with
 * mact_npy_load() and given to mact_inference_classify_tensor(), anything else to
 * mact_inference_classify_video().
 *
 * Errors: those of the function used; messages name @path.
 *
 * Returns: (transfer full) (nullable): the scores, [num_classes] (or [views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_file (MactInference *self, const char *path, GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return mact_inference_classify_rawframes (self, path, error);

  g_autofree char *lower = g_ascii_strdown (path, -1);
  if (g_str_has_suffix (lower, ".npy"))
    {
      g_autoptr(MactTensor) imgs = mact_npy_load (path, error);
      if (imgs == NULL)
        return NULL;
      MactTensor *scores = mact_inference_classify_tensor (self, imgs, error);
      if (scores == NULL)
        {
          g_autofree char *display = g_filename_display_name (path);
          g_prefix_error (error, "%s: ", display);
        }
      return scores;
    }
  return mact_inference_classify_video (self, path, error);
}

/**
 * mact_inference_classify_dataset:
 * @self: a #MactInference
 * @dataset: the samples to classify (a #MactVideoDataset or #MactRawframeDataset built
 *   with the test pipeline, or any dataset whose "imgs" fit the recognizer)
 * @labels: (out) (optional) (transfer full): the samples' labels, [N] class indices or
 *   [N, num_classes] for multi-label data
 * @progress: (scope call) (nullable) (closure user_data): called after each sample
 * @user_data: data for @progress
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError, or %NULL
 *
 * Classifies every sample of @dataset in order (mmaction2's single-GPU test loop with
 * one video per batch).  The samples come through a #MactDataLoader with one prefetch
 * worker: while the recognizer runs on one sample, the worker decodes and transforms
 * the next, so decoding overlaps compute.
 *
 * Errors: the first failing sample's error (the dataset names the sample and its file);
 * %MACT_DATA_ERROR_CANCELLED when cancelled; %MACT_TENSOR_ERROR_SHAPE when samples give
 * different numbers of score rows.
 *
 * Returns: (transfer full) (nullable): scores [N, num_classes] (or [N, views,
 *   num_classes] with average_clips "none" and several views)
 *
 * Since: 0.1
 */
MactTensor *
mact_inference_classify_dataset (MactInference *self, MactDataset *dataset,
                                 MactTensor **labels, MactInferenceProgressFunc progress,
                                 gpointer user_data, GCancellable *cancellable,
                                 GError **error)
{
  g_return_val_if_fail (MACT_IS_INFERENCE (self), NULL);
  g_return_val_if_fail (MACT_IS_DATASET (dataset), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  const guint n = mact_dataset_get_length (dataset);
  g_autoptr(MactDataLoader) loader = mact_data_loader_new (dataset, 1, FALSE, 0);
  /* One worker, two samples ahead: decoding the next video overlaps this one's forward
   * without holding many decoded clips in memory. */
  g_object_set (loader, "num-workers", 1, "prefetch", 2, NULL);
  if (!mact_data_loader_start_epoch (loader, 0, error))
    return NULL;

  g_autoptr(MactTensor) all_scores = NULL;
  g_autoptr(MactTensor) all_labels = NULL;
  gint64 row_shape[2] = { 0, 0 };
  gint row_ndim = 0;
  gint64 label_len = 0;
  guint done = 0;
  for (;;)
    {
      g_autoptr(GError) local = NULL;
      g_autoptr(MactTensorDict) batch = mact_data_loader_next (loader, cancellable, &local);
      if (batch == NULL)
        {
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
          break;
        }
      MactTensor *imgs = mact_tensor_dict_lookup (batch, "imgs");
      MactTensor *label = mact_tensor_dict_lookup (batch, "label");
      MactTensor *index = mact_tensor_dict_lookup (batch, "index");
      if (imgs == NULL || index == NULL)
        {
          g_set_error_literal (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                               "the dataset's samples have no \"imgs\"");
          return NULL;
        }
      g_autoptr(MactTensor) scores = forward_one (self, imgs, error);
      if (scores == NULL)
        return NULL;
      const guint at = (guint) mact_tensor_item (index);

      gint nd;
      const gint64 *shape = mact_tensor_get_shape (scores, &nd);
      if (nd > 2)
        {
          g_autofree char *got = mact_tensor_shape_to_string (scores);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "sample %u: the recognizer gives scores shaped %s; expected one or "
                       "two dimensions", at, got);
          return NULL;
        }
      if (all_scores == NULL)
        {
          /* The first sample fixes the layout of the result. */
          row_ndim = nd;
          gint64 full[3] = { n, shape[0], nd == 2 ? shape[1] : 0 };
          memcpy (row_shape, shape, nd * sizeof (gint64));
          all_scores = mact_tensor_new (nd + 1, full, error);
          if (all_scores == NULL)
            return NULL;
          if (label != NULL)
            {
              label_len = mact_tensor_get_numel (label);
              const gint64 lshape[2] = { n, label_len };
              all_labels = mact_tensor_new (label_len == 1 ? 1 : 2, lshape, error);
              if (all_labels == NULL)
                return NULL;
            }
        }
      else if (nd != row_ndim || memcmp (shape, row_shape, nd * sizeof (gint64)) != 0)
        {
          g_autofree char *got = mact_tensor_shape_to_string (scores);
          g_set_error (error, MACT_TENSOR_ERROR, MACT_TENSOR_ERROR_SHAPE,
                       "sample %u gives scores shaped %s, unlike the first sample's", at, got);
          return NULL;
        }
      const gsize per = (gsize) mact_tensor_get_numel (scores);
      memcpy (mact_tensor_get_data (all_scores) + (gsize) at * per,
              mact_tensor_get_data (scores), per * sizeof (float));
      if (all_labels != NULL && label != NULL && mact_tensor_get_numel (label) == label_len)
        {
          g_autoptr(MactTensor) lc = mact_tensor_contiguous (label);
          memcpy (mact_tensor_get_data (all_labels) + (gsize) at * label_len,
                  mact_tensor_get_data (lc), (gsize) label_len * sizeof (float));
        }
      done++;
      if (progress != NULL)
        progress (done, n, user_data);
    }

  if (all_scores == NULL)
    {
      g_set_error_literal (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                           "the dataset is empty: nothing to classify");
      return NULL;
    }
  if (labels != NULL)
    *labels = g_steal_pointer (&all_labels);
  return g_steal_pointer (&all_scores);
}

/* ------------------------------------------------------------------ label maps */

/**
 * mact_label_map_load:
 * @path: (type filename): a label map, such as mmaction2's label_map_k400.txt
 * @error: return location for a #GError, or %NULL
 *
 * Reads a label map: one class name per line, class i on line i + 1 (0-based class
 * indices).  Lines are stripped of surrounding whitespace (and of "\r"); empty lines at
 * the end of the file are ignored.
 *
 * Errors: %MACT_DATA_ERROR_IO when the file cannot be read; %MACT_DATA_ERROR_PARSE
 * (`<file>:<line>: ...`) for an empty line before the last name, a file with no name, or
 * text that is not UTF-8 (a NUL byte included).
 *
 * Returns: (transfer full) (array zero-terminated=1): the class names, by index
 *
 * Since: 0.1
 */
gchar **
mact_label_map_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &contents, &length, &local))
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_IO, "%s: cannot read the label "
                   "map: %s", display, local->message);
      return NULL;
    }
  /* Names are UTF-8 strings to callers and bindings; a NUL would silently end the map. */
  const char *bad = NULL;
  if (!g_utf8_validate_len (contents, length, &bad))
    {
      guint line = 1;
      for (const char *p = contents; p < bad; p++)
        line += *p == '\n';
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE,
                   "%s:%u: %s (the label map must be UTF-8 text)", display, line,
                   *bad == '\0' ? "a NUL byte" : "bytes that are not UTF-8");
      return NULL;
    }
  g_auto(GStrv) lines = g_strsplit (contents, "\n", -1);
  guint n = g_strv_length (lines);
  for (guint i = 0; i < n; i++)
    g_strstrip (lines[i]);
  while (n > 0 && lines[n - 1][0] == '\0')
    n--;
  if (n == 0)
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE,
                   "%s: the label map has no class names", display);
      return NULL;
    }
  GStrvBuilder *builder = g_strv_builder_new ();
  for (guint i = 0; i < n; i++)
    {
      if (lines[i][0] == '\0')
        {
          g_strv_builder_unref (builder);
          g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_PARSE,
                       "%s:%u: empty class name (class %u)", display, i + 1, i);
          return NULL;
        }
      g_strv_builder_add (builder, lines[i]);
    }
  gchar **names = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return names;
}
