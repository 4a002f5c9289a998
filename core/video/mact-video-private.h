/* mact-video-private.h: helpers shared by the FFmpeg reader and writer (not installed). */
#pragma once

#include <mact/mact.h>

G_BEGIN_DECLS

/* Routes FFmpeg's log output to g_debug() (once per process), so that libmact never
 * prints: FFmpeg's default callback writes warnings about damaged files to stderr. */
G_GNUC_INTERNAL
void mact_video_init_ffmpeg (void);

/* A readable message for an FFmpeg error code (av_strerror). */
G_GNUC_INTERNAL
const char *mact_video_av_error_string (int errnum, char *buf, gsize buf_size);

#define MACT_VIDEO_AV_ERROR_SIZE 128

/* Extra bytes after packed RGB24 buffers handed to swscale: its SIMD loops read (and may
 * write) up to a vector past the last pixel.  Zeroed, so the reads see defined bytes. */
#define MACT_VIDEO_SWS_PADDING 64

G_END_DECLS
