/* mact-video-dataset-private.h: what VideoDataset and RawframeDataset share (mmaction2's
 * BaseDataset): reading the config, the annotation list and the label tensors.  Not
 * installed; the code is in mact-video-dataset.c. */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

typedef struct {
  const char           *type_name;     /* "VideoDataset" or "RawframeDataset", for messages */
  MactAnnotationFormat  format;
  char                 *ann_file;
  char                 *data_prefix;
  gboolean              test_mode;
  gboolean              multi_class;
  guint                 num_classes;   /* 0: not given */
  gint                  start_index;
  char                 *filename_tmpl; /* rawframes only */
  gboolean              with_offset;   /* rawframes only */
  MactPipeline         *pipeline;
  GPtrArray            *annotations;   /* MactAnnotation */
  guint                 label_classes; /* num_classes, else 1 + the largest label */
} MactAnnotatedData;

/* Reads @config (keys as in mact-video-dataset.h; filename_tmpl and with_offset only for
 * MACT_ANNOTATION_FORMAT_RAWFRAME), builds the pipeline and loads the annotation list.
 * @data must be zeroed; on failure it may be partly filled: clear it either way. */
gboolean    mact_annotated_data_init_from_config (MactAnnotatedData    *data,
                                                  const char           *type_name,
                                                  MactAnnotationFormat  format,
                                                  JsonNode             *config,
                                                  GError              **error);
void        mact_annotated_data_clear            (MactAnnotatedData    *data);
/* The label of annotation @index: [1] class index, or [num_classes] one-hot. */
MactTensor *mact_annotated_data_make_label       (MactAnnotatedData    *data,
                                                  guint                 index,
                                                  GError              **error);
/* Prefixes @error with "<type>: sample <index> (<path>): ". */
void        mact_annotated_data_prefix_error     (MactAnnotatedData    *data,
                                                  guint                 index,
                                                  GError              **error);

G_END_DECLS
