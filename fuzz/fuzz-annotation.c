/* fuzz-annotation.c: mact_annotation_list_parse_data() in every format.
 *
 * The first byte chooses the format, with_offset, multi_class, whether a data prefix is
 * joined and whether labels are range-checked; the rest is the list.  Every annotation
 * that comes back must be consistent: labels in range, at least one, exactly one when the
 * list is not multi_class, a non-empty path (a file name: any bytes but NUL). */
#include "fuzz-common.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mact_fuzz_init ();
  if (size < 1)
    return 0;
  guint8 options = data[0];
  MactAnnotationFormat format = (options & 1) ? MACT_ANNOTATION_FORMAT_RAWFRAME
                                              : MACT_ANNOTATION_FORMAT_VIDEO;
  gboolean with_offset = (options & 2) != 0;
  gboolean multi_class = (options & 4) != 0;
  const char *prefix = (options & 8) ? "data/videos" : NULL;
  guint num_classes = (options & 16) ? 400 : 0;

  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = mact_annotation_list_parse_data ((const char *) data + 1,
                                                               (gssize) size - 1, "fuzz",
                                                               format, with_offset,
                                                               multi_class, num_classes,
                                                               prefix, &error);
  if (list == NULL)
    {
      if (error == NULL || error->domain != MACT_DATA_ERROR)
        abort ();
      return 0;
    }
  for (guint i = 0; i < list->len; i++)
    {
      const MactAnnotation *a = g_ptr_array_index (list, i);
      if (a->path == NULL || a->path[0] == '\0' || a->n_labels == 0 ||
          (!multi_class && a->n_labels != 1))
        abort ();
      for (guint k = 0; k < a->n_labels; k++)
        if (a->labels[k] < 0 || (num_classes > 0 && (guint) a->labels[k] >= num_classes))
          abort ();
      if (format == MACT_ANNOTATION_FORMAT_RAWFRAME && (a->total_frames < 0 || a->offset < 0))
        abort ();
    }
  return 0;
}
