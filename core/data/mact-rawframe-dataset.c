/* mact-rawframe-dataset.c: MactRawframeDataset, mmaction2's RawframeDataset: an
 * annotation list of frame directories (JPEG/PNG frames named by filename_tmpl), each
 * sample read through the pipeline.  The config, the list and the labels are handled by
 * the code it shares with MactVideoDataset (mact-video-dataset.c). */
#include "mact-video-dataset-private.h"

/**
 * MactRawframeDataset:
 *
 * The `RawframeDataset` of mmaction2 ("RawframeDataset" in configs): an annotation list
 * of `frame_dir total_frames label` lines (`frame_dir offset total_frames label` with
 * `with_offset`), each sample a directory of frames run through the config's pipeline.
 * Frame i of a sample, counted from 0 as SampleFrames samples it, is the file
 * `frame_dir / filename_tmpl.format(i + start_index + offset)`.  Config keys: those of
 * #MactVideoDataset, with `start_index` defaulting to 1, plus `filename_tmpl` (default
 * "img_{:05}.jpg") and `with_offset` (default false).
 *
 * get_item may be called from several threads at once.
 *
 * Since: 0.1
 */
struct _MactRawframeDataset
{
  MactDataset       parent_instance;
  MactAnnotatedData data;
};

G_DEFINE_FINAL_TYPE (MactRawframeDataset, mact_rawframe_dataset, MACT_TYPE_DATASET)

static guint
mact_rawframe_dataset_get_length (MactDataset *dataset)
{
  MactRawframeDataset *self = MACT_RAWFRAME_DATASET (dataset);
  return self->data.annotations != NULL ? self->data.annotations->len : 0;
}

static guint
mact_rawframe_dataset_get_num_classes (MactDataset *dataset)
{
  return MACT_RAWFRAME_DATASET (dataset)->data.label_classes;
}

static MactTensorDict *
mact_rawframe_dataset_get_item (MactDataset *dataset, guint index, MactGenerator *rng,
                                GError **error)
{
  MactRawframeDataset *self = MACT_RAWFRAME_DATASET (dataset);
  g_autoptr(MactTensor) label = mact_annotated_data_make_label (&self->data, index, error);
  if (label == NULL)
    return NULL;
  const MactAnnotation *ann = g_ptr_array_index (self->data.annotations, index);
  /* mmaction2's RawFrameDecode adds the offset to indices that SampleFrames has already
   * shifted by start_index. */
  MactTensorDict *item =
    mact_pipeline_run_rawframes (self->data.pipeline, ann->path, ann->total_frames,
                                 self->data.filename_tmpl,
                                 self->data.start_index + ann->offset, label, rng, error);
  if (item == NULL)
    mact_annotated_data_prefix_error (&self->data, index, error);
  return item;
}

static void
mact_rawframe_dataset_finalize (GObject *object)
{
  mact_annotated_data_clear (&MACT_RAWFRAME_DATASET (object)->data);
  G_OBJECT_CLASS (mact_rawframe_dataset_parent_class)->finalize (object);
}

static void
mact_rawframe_dataset_class_init (MactRawframeDatasetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MactDatasetClass *dataset_class = MACT_DATASET_CLASS (klass);

  object_class->finalize = mact_rawframe_dataset_finalize;
  dataset_class->get_length = mact_rawframe_dataset_get_length;
  dataset_class->get_item = mact_rawframe_dataset_get_item;
  dataset_class->get_num_classes = mact_rawframe_dataset_get_num_classes;
}

static void
mact_rawframe_dataset_init (MactRawframeDataset *self)
{
}

/**
 * mact_rawframe_dataset_new_from_config:
 * @config: mmaction2's dataset dict: a JSON object with "ann_file", "pipeline" and
 *   optionally "type": "RawframeDataset", "data_prefix", "test_mode", "filename_tmpl",
 *   "with_offset", "multi_class", "num_classes", "start_index", "modality"
 * @error: return location for a #GError, or %NULL
 *
 * Builds a #MactRawframeDataset: reads the annotation list (relative frame directories
 * are joined to `data_prefix`) and builds the pipeline.  Frames are only read when a
 * sample is asked for.  Without `num_classes` the number of classes is one more than the
 * largest label in the list.  @config is not modified.
 *
 * Errors: as mact_video_dataset_new_from_config(), with "RawframeDataset" in messages.
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 *
 * Since: 0.1
 */
MactDataset *
mact_rawframe_dataset_new_from_config (JsonNode *config, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(MactRawframeDataset) self = g_object_new (MACT_TYPE_RAWFRAME_DATASET, NULL);
  if (!mact_annotated_data_init_from_config (&self->data, "RawframeDataset",
                                             MACT_ANNOTATION_FORMAT_RAWFRAME, config, error))
    return NULL;
  return MACT_DATASET (g_steal_pointer (&self));
}

/**
 * mact_rawframe_dataset_get_annotation:
 * @self: a rawframe dataset
 * @index: a sample index, below mact_dataset_get_length()
 *
 * The annotation line of sample @index: its frame directory (joined to the data
 * prefix), offset, frame count and labels.
 *
 * Returns: (transfer none): the annotation
 *
 * Since: 0.1
 */
const MactAnnotation *
mact_rawframe_dataset_get_annotation (MactRawframeDataset *self, guint index)
{
  g_return_val_if_fail (MACT_IS_RAWFRAME_DATASET (self), NULL);
  g_return_val_if_fail (index < self->data.annotations->len, NULL);
  return g_ptr_array_index (self->data.annotations, index);
}

/**
 * mact_rawframe_dataset_get_pipeline:
 * @self: a rawframe dataset
 *
 * Returns: (transfer none): the pipeline every sample runs through
 *
 * Since: 0.1
 */
MactPipeline *
mact_rawframe_dataset_get_pipeline (MactRawframeDataset *self)
{
  g_return_val_if_fail (MACT_IS_RAWFRAME_DATASET (self), NULL);
  return self->data.pipeline;
}
