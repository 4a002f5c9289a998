/* mact-dataset.h: the dataset interface the runner and the CLI read samples from. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-generator.h>
#include <mact/mact-tensor-dict.h>

G_BEGIN_DECLS

/**
 * MACT_DATA_ERROR:
 *
 * Error domain for datasets, annotation lists, data loading and (later) video decoding and
 * pipelines.  Errors in this domain are from the #MactDataError enumeration.
 */
#define MACT_DATA_ERROR (mact_data_error_quark ())

/**
 * MactDataError:
 * @MACT_DATA_ERROR_INVALID_CONFIG: a dataset or loader option is missing, of the wrong
 *   type, or out of range, or names an unknown dataset type.
 * @MACT_DATA_ERROR_PARSE: a line of an annotation list or label map is malformed (the
 *   message carries file and line number).
 * @MACT_DATA_ERROR_IO: a file cannot be read.
 * @MACT_DATA_ERROR_INDEX: a sample index is out of range.
 * @MACT_DATA_ERROR_CANCELLED: loading was cancelled.
 *
 * Error codes in the %MACT_DATA_ERROR domain.  Values are only ever appended.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_DATA_ERROR_INVALID_CONFIG,
  MACT_DATA_ERROR_PARSE,
  MACT_DATA_ERROR_IO,
  MACT_DATA_ERROR_INDEX,
  MACT_DATA_ERROR_CANCELLED,
} MactDataError;

MACT_AVAILABLE_IN_0_1
GQuark mact_data_error_quark (void);

#define MACT_TYPE_DATASET (mact_dataset_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_DERIVABLE_TYPE (MactDataset, mact_dataset, MACT, DATASET, GObject)

/**
 * MactDatasetClass:
 * @parent_class: the parent class
 * @get_length: the number of samples
 * @get_item: prepares sample @index, mmaction2's results dict after the pipeline:
 *   "imgs" (one sample, no batch dimension: [V, C, H, W] for 2D recognizers or
 *   [V, C, T, H, W] for 3D, float32) and "label" (a one-element tensor holding the class
 *   index, or a [num_classes] multi-hot/soft tensor for multi-label data).  All randomness
 *   comes from @rng, which the loader seeds from (seed, epoch, index) so a sample is the
 *   same whichever worker prepares it.  Must be safe to call from several threads at once.
 * @get_num_classes: the number of classes
 *
 * Since: 0.1
 */
struct _MactDatasetClass
{
  GObjectClass parent_class;

  guint            (*get_length)      (MactDataset   *self);
  MactTensorDict  *(*get_item)        (MactDataset   *self,
                                       guint          index,
                                       MactGenerator *rng,
                                       GError       **error);
  guint            (*get_num_classes) (MactDataset   *self);

  /*< private >*/
  gpointer padding[8];
};

MACT_AVAILABLE_IN_0_1
guint           mact_dataset_get_length      (MactDataset   *self);
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_dataset_get_item        (MactDataset   *self,
                                              guint          index,
                                              MactGenerator *rng,
                                              GError       **error);
MACT_AVAILABLE_IN_0_1
guint           mact_dataset_get_num_classes (MactDataset   *self);

/* The seed of one sample's generator, mixed from (seed, stream, index): the loader uses
 * (seed, epoch, index). */
MACT_AVAILABLE_IN_0_1
guint64         mact_dataset_sample_seed     (guint64        seed,
                                              guint64        stream,
                                              guint64        index);

/* Builds a dataset from mmaction2's `data.train` / `data.val` dict.  Known types:
 * "SyntheticActionDataset", "VideoDataset", "RawframeDataset" (mact-video-dataset.h). */
MACT_AVAILABLE_IN_0_1
MactDataset    *mact_dataset_new_from_config (JsonNode      *dataset_cfg,
                                              GError       **error);

/* Stacks samples (element-type MactTensorDict) along a new first dimension: "imgs"
 * [B, V, ...] and "label" [B, 1] (or [B, num_classes]), as mmcv's collate does. */
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_dataset_collate         (GPtrArray     *samples,
                                              GError       **error);

G_END_DECLS
