/* mact-video-writer.c: MactVideoWriter (placeholder until the FFmpeg writer lands). */
#include <mact/mact.h>

struct _MactVideoWriter
{
  GObject parent_instance;
};

G_DEFINE_FINAL_TYPE (MactVideoWriter, mact_video_writer, G_TYPE_OBJECT)

static void mact_video_writer_class_init (MactVideoWriterClass *klass) {}
static void mact_video_writer_init (MactVideoWriter *self) {}

MactVideoWriter *
mact_video_writer_new (const char *path, gint width, gint height, double fps, GError **error)
{
  g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE, "%s: not implemented", path);
  return NULL;
}

gboolean
mact_video_writer_write (MactVideoWriter *self, MactTensor *frames, GError **error)
{
  g_set_error_literal (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE, "not implemented");
  return FALSE;
}

gboolean
mact_video_writer_close (MactVideoWriter *self, GError **error)
{
  return TRUE;
}
