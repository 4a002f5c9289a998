/* mact-video-reader.c: MactVideoReader (placeholder until the FFmpeg reader lands). */
#include <mact/mact.h>

G_DEFINE_QUARK (mact-video-error-quark, mact_video_error)

struct _MactVideoReader
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (MactVideoReader, mact_video_reader, G_TYPE_OBJECT)

static void mact_video_reader_class_init (MactVideoReaderClass *klass) {}
static void mact_video_reader_init (MactVideoReader *self) {}

MactVideoReader *
mact_video_reader_new (const char *path, GError **error)
{
  g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT, "%s: not implemented", path);
  return NULL;
}

gint64 mact_video_reader_get_n_frames (MactVideoReader *self) { return 0; }
gint mact_video_reader_get_width (MactVideoReader *self) { return 0; }
gint mact_video_reader_get_height (MactVideoReader *self) { return 0; }
double mact_video_reader_get_fps (MactVideoReader *self) { return 0.0; }
const char *mact_video_reader_get_path (MactVideoReader *self) { return NULL; }

MactTensor *
mact_video_reader_read_frames (MactVideoReader *self, const gint64 *indices, gsize n_indices,
                               GError **error)
{
  g_set_error_literal (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE, "not implemented");
  return NULL;
}

MactTensor *
mact_image_load (const char *path, GError **error)
{
  g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT, "%s: not implemented", path);
  return NULL;
}
