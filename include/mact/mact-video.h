/* mact-video.h: video and image input and output through FFmpeg (libavformat,
 * libavcodec, libswscale). */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-tensor.h>

G_BEGIN_DECLS

/**
 * MACT_VIDEO_ERROR:
 *
 * Error domain for decoding and encoding video and image files.  Errors in this domain
 * are from the #MactVideoError enumeration.
 */
#define MACT_VIDEO_ERROR (mact_video_error_quark ())

/**
 * MactVideoError:
 * @MACT_VIDEO_ERROR_NOT_FOUND: the file does not exist or cannot be opened.
 * @MACT_VIDEO_ERROR_FORMAT: the file is not a video (or image) FFmpeg can read, or has
 *   no video stream.
 * @MACT_VIDEO_ERROR_DECODE: the stream is corrupt or truncated where a frame was needed.
 * @MACT_VIDEO_ERROR_EMPTY: the video has no frames.
 * @MACT_VIDEO_ERROR_INDEX: a frame index is negative or not below the frame count.
 * @MACT_VIDEO_ERROR_ENCODE: a frame could not be encoded or the file not written.
 * @MACT_VIDEO_ERROR_INVALID_ARGUMENT: a frame tensor of the wrong shape, a bad size or
 *   frame rate.
 *
 * Error codes in the %MACT_VIDEO_ERROR domain.  Values are only ever appended.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_VIDEO_ERROR_NOT_FOUND,
  MACT_VIDEO_ERROR_FORMAT,
  MACT_VIDEO_ERROR_DECODE,
  MACT_VIDEO_ERROR_EMPTY,
  MACT_VIDEO_ERROR_INDEX,
  MACT_VIDEO_ERROR_ENCODE,
  MACT_VIDEO_ERROR_INVALID_ARGUMENT,
} MactVideoError;

MACT_AVAILABLE_IN_0_1
GQuark mact_video_error_quark (void);

/* ---- reading ---- */

#define MACT_TYPE_VIDEO_READER (mact_video_reader_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactVideoReader, mact_video_reader, MACT, VIDEO_READER, GObject)

/* Opens @path and counts its frames exactly (by demuxing every packet, without
 * decoding), so that frame indices mean what decord's mean.  Properties: "path",
 * "n-frames", "width", "height", "fps" (all read-only). */
MACT_AVAILABLE_IN_0_1
MactVideoReader *mact_video_reader_new          (const char      *path,
                                                 GError         **error);
MACT_AVAILABLE_IN_0_1
gint64           mact_video_reader_get_n_frames (MactVideoReader *self);
MACT_AVAILABLE_IN_0_1
gint             mact_video_reader_get_width    (MactVideoReader *self);
MACT_AVAILABLE_IN_0_1
gint             mact_video_reader_get_height   (MactVideoReader *self);
MACT_AVAILABLE_IN_0_1
double           mact_video_reader_get_fps      (MactVideoReader *self);
MACT_AVAILABLE_IN_0_1
const char      *mact_video_reader_get_path     (MactVideoReader *self);

/* Decodes the frames at @indices (any order, repeats allowed; each in [0, n_frames)),
 * frame-accurately: it seeks to the keyframe at or before each needed run and decodes
 * forward.  Returns a float32 tensor [n_indices, height, width, 3]: RGB, 0-255, in the
 * order of @indices. */
MACT_AVAILABLE_IN_0_1
MactTensor      *mact_video_reader_read_frames  (MactVideoReader *self,
                                                 const gint64    *indices,
                                                 gsize            n_indices,
                                                 GError         **error);

/* Decodes one image file (JPEG, PNG, anything FFmpeg reads) into a float32 tensor
 * [height, width, 3]: RGB, 0-255.  Rawframe directories are read with this. */
MACT_AVAILABLE_IN_0_1
MactTensor      *mact_image_load                (const char      *path,
                                                 GError         **error);

/* ---- writing ---- */

#define MACT_TYPE_VIDEO_WRITER (mact_video_writer_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactVideoWriter, mact_video_writer, MACT, VIDEO_WRITER, GObject)

/* Creates @path, its container chosen from the extension (.mp4, .avi, .mkv, ...), with
 * a codec FFmpeg can encode without extra libraries (MPEG-4 part 2 when the container
 * takes it).  @width and @height are even and at least 16. */
MACT_AVAILABLE_IN_0_1
MactVideoWriter *mact_video_writer_new          (const char      *path,
                                                 gint             width,
                                                 gint             height,
                                                 double           fps,
                                                 GError         **error);
/* As mact_video_writer_new(), with the largest keyframe distance (at least 1) and the
 * largest run of B-frames (0 to 16; ignored by codecs without B-frames). */
MACT_AVAILABLE_IN_0_1
MactVideoWriter *mact_video_writer_new_full     (const char      *path,
                                                 gint             width,
                                                 gint             height,
                                                 double           fps,
                                                 gint             gop_size,
                                                 gint             max_b_frames,
                                                 GError         **error);
/* Appends frames from a float32 tensor [H, W, 3] or [T, H, W, 3], RGB 0-255 (values
 * are rounded and clamped). */
MACT_AVAILABLE_IN_0_1
gboolean         mact_video_writer_write        (MactVideoWriter *self,
                                                 MactTensor      *frames,
                                                 GError         **error);
/* Flushes the encoder and writes the trailer.  Disposing a writer without closing it
 * closes it and drops any error. */
MACT_AVAILABLE_IN_0_1
gboolean         mact_video_writer_close        (MactVideoWriter *self,
                                                 GError         **error);

G_END_DECLS
