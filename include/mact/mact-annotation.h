/* mact-annotation.h: mmaction2's annotation-list formats. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-dataset.h>

G_BEGIN_DECLS

/**
 * MactAnnotationFormat:
 * @MACT_ANNOTATION_FORMAT_VIDEO: `path label [label ...]` lines (VideoDataset).
 * @MACT_ANNOTATION_FORMAT_RAWFRAME: `frame_dir total_frames label [label ...]` lines
 *   (RawframeDataset), or with `with_offset`: `frame_dir offset total_frames label ...`.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_ANNOTATION_FORMAT_VIDEO,
  MACT_ANNOTATION_FORMAT_RAWFRAME,
} MactAnnotationFormat;

/**
 * MactAnnotation:
 * @path: (type filename): the video file or frame directory, joined to the data prefix
 *   when one was given (an absolute path is kept as it is, as os.path.join does)
 * @offset: the first frame (rawframe lists with offsets), else 0
 * @total_frames: the frame count (rawframe lists), else -1
 * @labels: (array length=n_labels): the class indices
 * @n_labels: the number of labels (1 unless multi-label)
 *
 * One line of an annotation list.
 *
 * Since: 0.1
 */
typedef struct {
  char  *path;
  gint   offset;
  gint   total_frames;
  gint  *labels;
  guint  n_labels;
} MactAnnotation;

MACT_AVAILABLE_IN_0_1
GType           mact_annotation_get_type (void) G_GNUC_CONST;
MACT_AVAILABLE_IN_0_1
MactAnnotation *mact_annotation_copy     (const MactAnnotation *self);
MACT_AVAILABLE_IN_0_1
void            mact_annotation_free     (MactAnnotation *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactAnnotation, mact_annotation_free)

/* Parses an annotation list (blank lines skipped) into a GPtrArray of MactAnnotation.
 * With @multi_class FALSE each line has exactly one label; with TRUE, one or more
 * (mmaction2's multi_class lists); labels must be in [0, @num_classes) when @num_classes
 * is non-zero.  @data_prefix (nullable) is joined to each path.  A malformed line is
 * MACT_DATA_ERROR_PARSE with "<file>:<line>: ..." in the message; an unreadable file is
 * MACT_DATA_ERROR_IO.  @source_name names the text in messages for _parse_data. */
MACT_AVAILABLE_IN_0_1
GPtrArray *mact_annotation_list_load       (const char           *path,
                                            MactAnnotationFormat  format,
                                            gboolean              with_offset,
                                            gboolean              multi_class,
                                            guint                 num_classes,
                                            const char           *data_prefix,
                                            GError              **error);
MACT_AVAILABLE_IN_0_1
GPtrArray *mact_annotation_list_parse_data (const char           *data,
                                            gssize                length,
                                            const char           *source_name,
                                            MactAnnotationFormat  format,
                                            gboolean              with_offset,
                                            gboolean              multi_class,
                                            guint                 num_classes,
                                            const char           *data_prefix,
                                            GError              **error);

G_END_DECLS
