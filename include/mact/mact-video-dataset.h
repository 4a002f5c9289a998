/* mact-video-dataset.h: mmaction2's VideoDataset and RawframeDataset. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <json-glib/json-glib.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-dataset.h>
#include <mact/mact-annotation.h>
#include <mact/mact-pipeline.h>

G_BEGIN_DECLS

/* Config keys (mmaction2's names): ann_file (required), pipeline (required: a list of
 * transforms, see mact-pipeline.h), data_prefix (null), test_mode (false), multi_class
 * (false), num_classes (null; required with multi_class), start_index (0), modality
 * ("RGB", the only one supported).  "label" is a [1] tensor holding the class index, or
 * with multi_class a [num_classes] one-hot tensor. */
#define MACT_TYPE_VIDEO_DATASET (mact_video_dataset_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactVideoDataset, mact_video_dataset, MACT, VIDEO_DATASET, MactDataset)

MACT_AVAILABLE_IN_0_1
MactDataset          *mact_video_dataset_new_from_config    (JsonNode            *config,
                                                             GError             **error);
MACT_AVAILABLE_IN_0_1
const MactAnnotation *mact_video_dataset_get_annotation     (MactVideoDataset    *self,
                                                             guint                index);
MACT_AVAILABLE_IN_0_1
MactPipeline         *mact_video_dataset_get_pipeline       (MactVideoDataset    *self);

/* As VideoDataset, plus filename_tmpl ("img_{:05}.jpg") and with_offset (false); the
 * default start_index is 1, as mmaction2's.  Frame i of a sample (0-based, as sampled)
 * is read from frame_dir / filename_tmpl formatted with i + start_index + offset. */
#define MACT_TYPE_RAWFRAME_DATASET (mact_rawframe_dataset_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactRawframeDataset, mact_rawframe_dataset, MACT, RAWFRAME_DATASET,
                      MactDataset)

MACT_AVAILABLE_IN_0_1
MactDataset          *mact_rawframe_dataset_new_from_config (JsonNode            *config,
                                                             GError             **error);
MACT_AVAILABLE_IN_0_1
const MactAnnotation *mact_rawframe_dataset_get_annotation  (MactRawframeDataset *self,
                                                             guint                index);
MACT_AVAILABLE_IN_0_1
MactPipeline         *mact_rawframe_dataset_get_pipeline    (MactRawframeDataset *self);

G_END_DECLS
