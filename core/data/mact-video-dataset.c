/* mact-video-dataset.c: MactVideoDataset, mmaction2's VideoDataset (an annotation list of
 * video files, each sample decoded through FFmpeg and run through the pipeline), and the
 * BaseDataset logic it shares with MactRawframeDataset: config keys, annotation list,
 * labels.
 *
 * Datasets are immutable once built: the pipeline and the annotation list are only read
 * by get_item, so the loader's worker threads can prepare samples concurrently. */
#include "mact-video-dataset-private.h"

#include <string.h>

/* ------------------------------------------------------------------ shared config */

static gboolean G_GNUC_PRINTF (4, 5)
bad_key (GError **error, const char *type_name, const char *key, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG, "%s: key '%s' %s",
               type_name, key, what);
  return FALSE;
}

static gboolean
is_type (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
get_bool (JsonNode *node, const char *type_name, const char *key, gboolean *out,
          GError **error)
{
  if (!is_type (node, G_TYPE_BOOLEAN))
    return bad_key (error, type_name, key, "must be a boolean, got %s",
                    mact_config_describe_value (node));
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
get_string (JsonNode *node, const char *type_name, const char *key, gboolean nullable,
            char **out, GError **error)
{
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    {
      g_clear_pointer (out, g_free);
      return TRUE;
    }
  if (!is_type (node, G_TYPE_STRING))
    return bad_key (error, type_name, key, "must be a string%s, got %s",
                    nullable ? " or null" : "", mact_config_describe_value (node));
  g_free (*out);
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
get_int (JsonNode *node, const char *type_name, const char *key, gint64 min, gint64 max,
         gint64 *out, GError **error)
{
  if (!is_type (node, G_TYPE_INT64))
    return bad_key (error, type_name, key, "must be an integer, got %s",
                    mact_config_describe_value (node));
  gint64 v = json_node_get_int (node);
  if (v < min || v > max)
    return bad_key (error, type_name, key, "must be in [%" G_GINT64_FORMAT ", %"
                    G_GINT64_FORMAT "], got %" G_GINT64_FORMAT, min, max, v);
  *out = v;
  return TRUE;
}

gboolean
mact_annotated_data_init_from_config (MactAnnotatedData *data, const char *type_name,
                                      MactAnnotationFormat format, JsonNode *config,
                                      GError **error)
{
  const gboolean rawframe = format == MACT_ANNOTATION_FORMAT_RAWFRAME;
  static const char *const video_keys[] = {
    "type", "ann_file", "pipeline", "data_prefix", "test_mode", "multi_class", "num_classes",
    "start_index", "modality", NULL
  };
  static const char *const rawframe_keys[] = {
    "type", "ann_file", "pipeline", "data_prefix", "test_mode", "multi_class", "num_classes",
    "start_index", "modality", "filename_tmpl", "with_offset", NULL
  };
  const char *const *known = rawframe ? rawframe_keys : video_keys;

  data->type_name = type_name;
  data->format = format;
  /* mmaction2's defaults: VideoDataset passes start_index=0 to BaseDataset, whose own
   * default (kept by RawframeDataset) is 1. */
  data->start_index = rawframe ? 1 : 0;
  if (rawframe)
    data->filename_tmpl = g_strdup ("img_{:05}.jpg");

  if (!JSON_NODE_HOLDS_OBJECT (config))
    {
      g_set_error (error, MACT_DATA_ERROR, MACT_DATA_ERROR_INVALID_CONFIG,
                   "%s: expected a config object, got %s", type_name,
                   mact_config_describe_value (config));
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (config);
  JsonNode *pipeline_cfg = NULL;
  g_autoptr(GList) members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *node = json_object_get_member (obj, key);
      gint64 v;
      if (!g_strv_contains (known, key))
        {
          g_autofree char *list = g_strjoinv ("', '", (char **) known);
          return bad_key (error, type_name, key, "is unknown (known keys: '%s')", list);
        }
      if (g_str_equal (key, "type"))
        {
          if (!is_type (node, G_TYPE_STRING) ||
              !g_str_equal (json_node_get_string (node), type_name))
            return bad_key (error, type_name, key, "must be \"%s\"", type_name);
        }
      else if (g_str_equal (key, "ann_file"))
        {
          if (!get_string (node, type_name, key, FALSE, &data->ann_file, error))
            return FALSE;
        }
      else if (g_str_equal (key, "pipeline"))
        {
          if (!JSON_NODE_HOLDS_ARRAY (node))
            return bad_key (error, type_name, key, "must be a list of transforms, got %s",
                            mact_config_describe_value (node));
          pipeline_cfg = node;
        }
      else if (g_str_equal (key, "data_prefix"))
        {
          if (!get_string (node, type_name, key, TRUE, &data->data_prefix, error))
            return FALSE;
        }
      else if (g_str_equal (key, "test_mode"))
        {
          if (!get_bool (node, type_name, key, &data->test_mode, error))
            return FALSE;
        }
      else if (g_str_equal (key, "multi_class"))
        {
          if (!get_bool (node, type_name, key, &data->multi_class, error))
            return FALSE;
        }
      else if (g_str_equal (key, "num_classes"))
        {
          if (JSON_NODE_HOLDS_NULL (node))
            data->num_classes = 0;
          else if (!get_int (node, type_name, key, 1, G_MAXINT, &v, error))
            return FALSE;
          else
            data->num_classes = (guint) v;
        }
      else if (g_str_equal (key, "start_index"))
        {
          if (!get_int (node, type_name, key, 0, G_MAXINT / 2, &v, error))
            return FALSE;
          /* mmaction2 adds start_index to the sampled indices of videos too, which only
           * ever makes sense for 0 (the first decoded frame is frame 0). */
          if (!rawframe && v != 0)
            return bad_key (error, type_name, key, "must be 0 for videos, got %" G_GINT64_FORMAT,
                            v);
          data->start_index = (gint) v;
        }
      else if (g_str_equal (key, "modality"))
        {
          if (!is_type (node, G_TYPE_STRING))
            return bad_key (error, type_name, key, "must be a string, got %s",
                            mact_config_describe_value (node));
          if (!g_str_equal (json_node_get_string (node), "RGB"))
            return bad_key (error, type_name, key, "is \"%s\"; only \"RGB\" is supported",
                            json_node_get_string (node));
        }
      else if (g_str_equal (key, "filename_tmpl"))
        {
          if (!get_string (node, type_name, key, FALSE, &data->filename_tmpl, error))
            return FALSE;
        }
      else if (g_str_equal (key, "with_offset"))
        {
          if (!get_bool (node, type_name, key, &data->with_offset, error))
            return FALSE;
        }
    }

  if (data->ann_file == NULL)
    return bad_key (error, type_name, "ann_file", "is missing (the annotation list)");
  if (pipeline_cfg == NULL)
    return bad_key (error, type_name, "pipeline", "is missing (the list of transforms)");
  /* mmaction2 asserts this too: a one-hot label needs its length. */
  if (data->multi_class && data->num_classes == 0)
    return bad_key (error, type_name, "num_classes", "is required with multi_class");

  data->pipeline = mact_pipeline_new_from_config (pipeline_cfg, error);
  if (data->pipeline == NULL)
    {
      g_prefix_error (error, "%s: key 'pipeline': ", type_name);
      return FALSE;
    }

  data->annotations = mact_annotation_list_load (data->ann_file, format, data->with_offset,
                                                 data->multi_class, data->num_classes,
                                                 data->data_prefix, error);
  if (data->annotations == NULL)
    {
      g_prefix_error (error, "%s: ", type_name);
      return FALSE;
    }

  data->label_classes = data->num_classes;
  if (data->label_classes == 0)
    for (guint i = 0; i < data->annotations->len; i++)
      {
        const MactAnnotation *ann = g_ptr_array_index (data->annotations, i);
        for (guint j = 0; j < ann->n_labels; j++)
          data->label_classes = MAX (data->label_classes, (guint) ann->labels[j] + 1);
      }
  return TRUE;
}

void
mact_annotated_data_clear (MactAnnotatedData *data)
{
  g_clear_pointer (&data->ann_file, g_free);
  g_clear_pointer (&data->data_prefix, g_free);
  g_clear_pointer (&data->filename_tmpl, g_free);
  g_clear_object (&data->pipeline);
  g_clear_pointer (&data->annotations, g_ptr_array_unref);
}

MactTensor *
mact_annotated_data_make_label (MactAnnotatedData *data, guint index, GError **error)
{
  const MactAnnotation *ann = g_ptr_array_index (data->annotations, index);
  if (!data->multi_class)
    {
      const gint64 shape[] = { 1 };
      return mact_tensor_new_full (1, shape, (float) ann->labels[0], error);
    }
  const gint64 shape[] = { data->num_classes };
  MactTensor *onehot = mact_tensor_new (1, shape, error);
  if (onehot == NULL)
    return NULL;
  float *d = mact_tensor_get_data (onehot);
  for (guint j = 0; j < ann->n_labels; j++)
    d[ann->labels[j]] = 1.0f;
  return onehot;
}

void
mact_annotated_data_prefix_error (MactAnnotatedData *data, guint index, GError **error)
{
  const MactAnnotation *ann = g_ptr_array_index (data->annotations, index);
  g_autofree char *display = g_filename_display_name (ann->path);
  g_prefix_error (error, "%s: sample %u (%s): ", data->type_name, index, display);
}

/* ------------------------------------------------------------------ MactVideoDataset */

/**
 * MactVideoDataset:
 *
 * The `VideoDataset` of mmaction2 ("VideoDataset" in configs): an annotation list of
 * `path label` lines (see mact_annotation_list_load()), each sample a video file decoded
 * through FFmpeg and run through the config's pipeline (#MactPipeline).  Config keys:
 * `ann_file`, `pipeline`, `data_prefix`, `test_mode`, `multi_class`, `num_classes`,
 * `start_index` (0, the only value that makes sense for decoded video) and `modality`
 * (only "RGB").  `test_mode` is kept for parity; whether frames are sampled for training
 * or testing is the SampleFrames step's own `test_mode`.
 *
 * A sample is "imgs" as the pipeline's FormatShape lays it out and "label": a [1] tensor
 * holding the class index as a float, or with `multi_class` a [num_classes] one-hot
 * tensor.  get_item may be called from several threads at once.
 *
 * Since: 0.1
 */
struct _MactVideoDataset
{
  MactDataset       parent_instance;
  MactAnnotatedData data;
};

G_DEFINE_FINAL_TYPE (MactVideoDataset, mact_video_dataset, MACT_TYPE_DATASET)

static guint
mact_video_dataset_get_length (MactDataset *dataset)
{
  MactVideoDataset *self = MACT_VIDEO_DATASET (dataset);
  return self->data.annotations != NULL ? self->data.annotations->len : 0;
}

static guint
mact_video_dataset_get_num_classes (MactDataset *dataset)
{
  return MACT_VIDEO_DATASET (dataset)->data.label_classes;
}

static MactTensorDict *
mact_video_dataset_get_item (MactDataset *dataset, guint index, MactGenerator *rng,
                             GError **error)
{
  MactVideoDataset *self = MACT_VIDEO_DATASET (dataset);
  g_autoptr(MactTensor) label = mact_annotated_data_make_label (&self->data, index, error);
  if (label == NULL)
    return NULL;
  const MactAnnotation *ann = g_ptr_array_index (self->data.annotations, index);
  MactTensorDict *item = mact_pipeline_run_video (self->data.pipeline, ann->path, label, rng,
                                                  error);
  if (item == NULL)
    mact_annotated_data_prefix_error (&self->data, index, error);
  return item;
}

static void
mact_video_dataset_finalize (GObject *object)
{
  mact_annotated_data_clear (&MACT_VIDEO_DATASET (object)->data);
  G_OBJECT_CLASS (mact_video_dataset_parent_class)->finalize (object);
}

static void
mact_video_dataset_class_init (MactVideoDatasetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactDatasetClass *dataset_class = MACT_DATASET_CLASS (klass);

  object_class->finalize = mact_video_dataset_finalize;
  dataset_class->get_length = mact_video_dataset_get_length;
  dataset_class->get_item = mact_video_dataset_get_item;
  dataset_class->get_num_classes = mact_video_dataset_get_num_classes;
}

static void
mact_video_dataset_init (MactVideoDataset *self)
{
}

/**
 * mact_video_dataset_new_from_config:
 * @config: mmaction2's dataset dict: a JSON object with "ann_file", "pipeline" and
 *   optionally "type": "VideoDataset", "data_prefix", "test_mode", "multi_class",
 *   "num_classes", "start_index", "modality"
 * @error: return location for a #GError, or %NULL
 *
 * Builds a #MactVideoDataset: reads the annotation list (relative paths are joined to
 * `data_prefix`) and builds the pipeline.  Videos are only opened when a sample is
 * asked for.  Without `num_classes` the number of classes is one more than the largest
 * label in the list.  @config is not modified.
 *
 * Errors: %MACT_DATA_ERROR_INVALID_CONFIG for an unknown key, a value of the wrong type
 * or out of range, a missing `ann_file` or `pipeline`, `multi_class` without
 * `num_classes`, a modality other than "RGB" (the message names the key);
 * %MACT_CONFIG_ERROR from the pipeline (prefixed with "VideoDataset: key 'pipeline'");
 * %MACT_DATA_ERROR_IO and %MACT_DATA_ERROR_PARSE from the annotation list (naming the
 * file and line).
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 *
 * Since: 0.1
 */
MactDataset *
mact_video_dataset_new_from_config (JsonNode *config, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(MactVideoDataset) self = g_object_new (MACT_TYPE_VIDEO_DATASET, NULL);
  if (!mact_annotated_data_init_from_config (&self->data, "VideoDataset",
                                             MACT_ANNOTATION_FORMAT_VIDEO, config, error))
    return NULL;
  return MACT_DATASET (g_steal_pointer (&self));
}

/**
 * mact_video_dataset_get_annotation:
 * @self: a video dataset
 * @index: a sample index, below mact_dataset_get_length()
 *
 * The annotation line of sample @index: its path (joined to the data prefix) and labels.
 *
 * Returns: (transfer none): the annotation
 *
 * Since: 0.1
 */
const MactAnnotation *
mact_video_dataset_get_annotation (MactVideoDataset *self, guint index)
{
  g_return_val_if_fail (MACT_IS_VIDEO_DATASET (self), NULL);
  g_return_val_if_fail (index < self->data.annotations->len, NULL);
  return g_ptr_array_index (self->data.annotations, index);
}

/**
 * mact_video_dataset_get_pipeline:
 * @self: a video dataset
 *
 * Returns: (transfer none): the pipeline every sample runs through
 *
 * Since: 0.1
 */
MactPipeline *
mact_video_dataset_get_pipeline (MactVideoDataset *self)
{
  g_return_val_if_fail (MACT_IS_VIDEO_DATASET (self), NULL);
  return self->data.pipeline;
}
