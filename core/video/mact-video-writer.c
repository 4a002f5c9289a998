/* mact-video-writer.c: MactVideoWriter, float32 RGB frames encoded to a video file with
 * libavformat, libavcodec and libswscale.
 *
 * Frames arrive as float tensors [H, W, 3] (or [T, H, W, 3]), RGB on the 0-255 scale.
 * Each is rounded and clamped to RGB24, converted by swscale to the encoder's pixel format
 * (yuv420p for MPEG-4), encoded, and its packets interleaved into the container.  The
 * codec is MPEG-4 part 2 at a fixed quantiser (qscale 2) when the container takes it:
 * libavcodec always has that encoder, and at that quantiser flat synthetic images come
 * back within a few levels, which the tests and the demo rely on.  Other containers get
 * their default codec when libavcodec can encode it (PNG or JPEG for image sequences). */
#include "mact-video-private.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Limits of the arguments.  MPEG-4 and most codecs need even sizes for 4:2:0 chroma; the
 * lower bound keeps to one macroblock. */
#define MIN_SIZE 16
#define MAX_SIZE 16384
#define MAX_FPS 1000.0
#define MAX_GOP 100000
#define MAX_B_FRAMES 16   /* libavcodec's FF_MAX_B_FRAMES */

/* The fixed quantiser of MPEG-family encoders: 2 is near-transparent (1 is allowed but
 * mostly wastes bits). */
#define QSCALE 2

/**
 * MactVideoWriter:
 *
 * Writes float32 RGB frames to a video file through FFmpeg.
 *
 * The container is chosen from the file name's extension (".mp4", ".avi", ".mkv",
 * ".mov", ...), as FFmpeg's command line does.  The video codec is MPEG-4 part 2 at a
 * high fixed quality when the container can hold it, else the container's default codec
 * when libavcodec can encode it.  A name with a frame-number pattern such as
 * "img_%05d.jpg" writes one image per frame, numbered from 1 as mmaction2's rawframe
 * directories are.
 *
 * Frames are appended with mact_video_writer_write(); mact_video_writer_close() flushes
 * the encoder and writes the container's trailer (index).  A writer disposed without
 * being closed is closed then, and any error is dropped, so call
 * mact_video_writer_close() when the result matters.  After an error the writer refuses
 * further frames.  A writer is not thread-safe: use it from one thread at a time.
 *
 * Since: 0.1
 */
struct _MactVideoWriter
{
  GObject parent_instance;

  char   *path;
  gint    width;
  gint    height;
  double  fps;
  gint    gop_size;
  gint    max_b_frames;

  AVFormatContext   *oc;
  AVCodecContext    *enc;
  AVStream          *stream;
  struct SwsContext *sws;
  AVFrame           *frame;     /* in the encoder's pixel format */
  AVPacket          *packet;
  guint8            *rgb;       /* one frame as RGB24 */
  gint64             next_pts;  /* in the encoder's time base: one tick per frame */
  gboolean           opened_file;
  gboolean           closed;
  gboolean           failed;
};

G_DEFINE_FINAL_TYPE (MactVideoWriter, mact_video_writer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PATH,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FPS,
  PROP_GOP_SIZE,
  PROP_MAX_B_FRAMES,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

/* Frees the FFmpeg state.  The file, when opened, is closed as it is. */
static void
release (MactVideoWriter *self)
{
  if (self->oc != NULL)
    {
      if (self->opened_file)
        avio_closep (&self->oc->pb);
      avformat_free_context (self->oc);
      self->oc = NULL;
      self->stream = NULL;
    }
  self->opened_file = FALSE;
  avcodec_free_context (&self->enc);
  sws_freeContext (self->sws);
  self->sws = NULL;
  av_frame_free (&self->frame);
  av_packet_free (&self->packet);
  g_clear_pointer (&self->rgb, g_free);
}

static void
mact_video_writer_dispose (GObject *object)
{
  MactVideoWriter *self = MACT_VIDEO_WRITER (object);

  /* As documented: an unclosed writer still gets its trailer, errors are dropped. */
  if (!self->closed)
    mact_video_writer_close (self, NULL);
  release (self);
  G_OBJECT_CLASS (mact_video_writer_parent_class)->dispose (object);
}

static void
mact_video_writer_finalize (GObject *object)
{
  MactVideoWriter *self = MACT_VIDEO_WRITER (object);

  g_free (self->path);
  G_OBJECT_CLASS (mact_video_writer_parent_class)->finalize (object);
}

static void
mact_video_writer_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
  MactVideoWriter *self = MACT_VIDEO_WRITER (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;
    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;
    case PROP_FPS:
      g_value_set_double (value, self->fps);
      break;
    case PROP_GOP_SIZE:
      g_value_set_int (value, self->gop_size);
      break;
    case PROP_MAX_B_FRAMES:
      g_value_set_int (value, self->max_b_frames);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mact_video_writer_class_init (MactVideoWriterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->dispose = mact_video_writer_dispose;
  object_class->finalize = mact_video_writer_finalize;
  object_class->get_property = mact_video_writer_get_property;

  /**
   * MactVideoWriter:path:
   *
   * The file being written.
   *
   * Since: 0.1
   */
  properties[PROP_PATH] =
    g_param_spec_string ("path", "Path", "The file being written", NULL, ro);
  /**
   * MactVideoWriter:width:
   *
   * The width of every frame, in pixels.
   *
   * Since: 0.1
   */
  properties[PROP_WIDTH] =
    g_param_spec_int ("width", "Width", "Frame width in pixels", 0, MAX_SIZE, 0, ro);
  /**
   * MactVideoWriter:height:
   *
   * The height of every frame, in pixels.
   *
   * Since: 0.1
   */
  properties[PROP_HEIGHT] =
    g_param_spec_int ("height", "Height", "Frame height in pixels", 0, MAX_SIZE, 0, ro);
  /**
   * MactVideoWriter:fps:
   *
   * The frame rate, in frames per second.
   *
   * Since: 0.1
   */
  properties[PROP_FPS] =
    g_param_spec_double ("fps", "Frame rate", "Frames per second", 0.0, MAX_FPS, 0.0, ro);
  /**
   * MactVideoWriter:gop-size:
   *
   * The largest distance between two keyframes, in frames.
   *
   * Since: 0.1
   */
  properties[PROP_GOP_SIZE] =
    g_param_spec_int ("gop-size", "GOP size", "Largest distance between keyframes",
                      0, MAX_GOP, 0, ro);
  /**
   * MactVideoWriter:max-b-frames:
   *
   * The largest number of consecutive B-frames (frames predicted from a later frame,
   * stored out of presentation order); 0 when the codec has none.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_B_FRAMES] =
    g_param_spec_int ("max-b-frames", "Max B-frames", "Largest run of B-frames",
                      0, MAX_B_FRAMES, 0, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mact_video_writer_init (MactVideoWriter *self)
{
}

static void
set_av_error (GError **error, gint code, const char *path, const char *what, int errnum)
{
  char buf[MACT_VIDEO_AV_ERROR_SIZE];

  g_set_error (error, MACT_VIDEO_ERROR, code, "%s: %s: %s", path, what,
               mact_video_av_error_string (errnum, buf, sizeof buf));
}

/* MPEG-style encoders take a fixed quantiser (AV_CODEC_FLAG_QSCALE); the others get a
 * generous bit rate instead. */
static gboolean
codec_takes_qscale (enum AVCodecID id)
{
  switch (id)
    {
    case AV_CODEC_ID_MPEG4:
    case AV_CODEC_ID_MJPEG:
    case AV_CODEC_ID_MPEG1VIDEO:
    case AV_CODEC_ID_MPEG2VIDEO:
    case AV_CODEC_ID_H263:
    case AV_CODEC_ID_H263P:
    case AV_CODEC_ID_MSMPEG4V2:
    case AV_CODEC_ID_MSMPEG4V3:
    case AV_CODEC_ID_WMV1:
    case AV_CODEC_ID_WMV2:
    case AV_CODEC_ID_FLV1:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
pix_fmt_listed (const enum AVPixelFormat *list, enum AVPixelFormat fmt)
{
  for (; list != NULL && *list != AV_PIX_FMT_NONE; list++)
    if (*list == fmt)
      return TRUE;
  return FALSE;
}

/* yuv420p when the encoder takes it (what players expect), full-range yuvj420p for
 * MJPEG (its standard form), else the encoder's format that loses least from RGB24
 * (RGB24 itself for PNG). */
static enum AVPixelFormat
choose_pix_fmt (const AVCodec *codec)
{
  if (codec->pix_fmts == NULL)
    return AV_PIX_FMT_YUV420P;
  if (codec->id == AV_CODEC_ID_MJPEG && pix_fmt_listed (codec->pix_fmts, AV_PIX_FMT_YUVJ420P))
    return AV_PIX_FMT_YUVJ420P;
  if (pix_fmt_listed (codec->pix_fmts, AV_PIX_FMT_YUV420P))
    return AV_PIX_FMT_YUV420P;
  return avcodec_find_best_pix_fmt_of_list (codec->pix_fmts, AV_PIX_FMT_RGB24, 0, NULL);
}

/* For image sequences, the codec of the extension (av_guess_codec picks PNG or MJPEG);
 * else MPEG-4 part 2 when the container takes it; else the container's default.  Image
 * sequences are told apart by name because their muxer takes MPEG-4 too (as raw .m4v
 * frames, whatever the extension says). */
static const AVCodec *
choose_encoder (const AVOutputFormat *ofmt, const char *path, GError **error)
{
  enum AVCodecID id = av_guess_codec (ofmt, NULL, path, NULL, AVMEDIA_TYPE_VIDEO);
  const AVCodec *codec = NULL;

  if (!g_str_equal (ofmt->name, "image2")
      && avformat_query_codec (ofmt, AV_CODEC_ID_MPEG4, FF_COMPLIANCE_NORMAL) == 1)
    id = AV_CODEC_ID_MPEG4;
  if (id != AV_CODEC_ID_NONE)
    codec = avcodec_find_encoder (id);
  if (codec == NULL)
    g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE,
                 "%s: the %s container has no video codec that libavcodec can encode "
                 "(its default is %s)", path, ofmt->name,
                 id == AV_CODEC_ID_NONE ? "none" : avcodec_get_name (id));
  return codec;
}

static gboolean
check_arguments (const char *path, gint width, gint height, double fps, gint gop_size,
                 gint max_b_frames, GError **error)
{
  if (width < MIN_SIZE || height < MIN_SIZE || width > MAX_SIZE || height > MAX_SIZE
      || width % 2 != 0 || height % 2 != 0)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT,
                   "%s: frame size %dx%d: expected even width and height in [%d, %d]",
                   path, width, height, MIN_SIZE, MAX_SIZE);
      return FALSE;
    }
  if (!isfinite (fps) || fps <= 0.0 || fps > MAX_FPS)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT,
                   "%s: frame rate %g: expected a number in (0, %g]", path, fps, MAX_FPS);
      return FALSE;
    }
  if (gop_size < 1 || gop_size > MAX_GOP)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT,
                   "%s: gop_size %d: expected a value in [1, %d]", path, gop_size, MAX_GOP);
      return FALSE;
    }
  if (max_b_frames < 0 || max_b_frames > MAX_B_FRAMES)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT,
                   "%s: max_b_frames %d: expected a value in [0, %d]", path, max_b_frames,
                   MAX_B_FRAMES);
      return FALSE;
    }
  return TRUE;
}

/* Sets up the encoder, the stream and the file, and writes the container header. */
static gboolean
open_output (MactVideoWriter *self, GError **error)
{
  int ret;

  ret = avformat_alloc_output_context2 (&self->oc, NULL, NULL, self->path);
  if (ret < 0 || self->oc == NULL)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE,
                   "%s: no container format known for this file name (use an extension "
                   "such as .mp4, .avi or .mkv)", self->path);
      return FALSE;
    }
  const AVOutputFormat *ofmt = self->oc->oformat;
  const AVCodec *codec = choose_encoder (ofmt, self->path, error);
  if (codec == NULL)
    return FALSE;

  self->enc = avcodec_alloc_context3 (codec);
  if (self->enc == NULL)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot allocate the encoder",
                    AVERROR (ENOMEM));
      return FALSE;
    }
  /* The frame rate as a rational; MPEG-4 limits time base terms to 16 bits. */
  AVRational rate = av_d2q (self->fps, 65535);
  AVCodecContext *enc = self->enc;
  enc->width = self->width;
  enc->height = self->height;
  enc->framerate = rate;
  enc->time_base = av_inv_q (rate);
  enc->sample_aspect_ratio = (AVRational) { 1, 1 };
  enc->pix_fmt = choose_pix_fmt (codec);
  enc->gop_size = self->gop_size;
  /* Only codecs that reorder frames have B-frames; the others refuse a nonzero count. */
  const AVCodecDescriptor *desc = avcodec_descriptor_get (codec->id);
  if (desc != NULL && (desc->props & AV_CODEC_PROP_REORDER))
    enc->max_b_frames = self->max_b_frames;
  else
    {
      enc->max_b_frames = 0;
      self->max_b_frames = 0;
    }
  /* swscale converts with BT.601 coefficients; say so, so readers convert back alike. */
  const AVPixFmtDescriptor *pdesc = av_pix_fmt_desc_get (enc->pix_fmt);
  if (pdesc != NULL && !(pdesc->flags & AV_PIX_FMT_FLAG_RGB) && pdesc->nb_components >= 3)
    {
      enc->colorspace = AVCOL_SPC_SMPTE170M;
      enc->color_range = (enc->pix_fmt == AV_PIX_FMT_YUVJ420P
                          || enc->pix_fmt == AV_PIX_FMT_YUVJ422P
                          || enc->pix_fmt == AV_PIX_FMT_YUVJ444P)
                           ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    }
  if (codec_takes_qscale (codec->id))
    {
      enc->flags |= AV_CODEC_FLAG_QSCALE;
      enc->global_quality = FF_QP2LAMBDA * QSCALE;
    }
  else
    {
      /* About two bits per pixel: far more than these codecs need for high quality. */
      enc->bit_rate = (int64_t) MAX (2.0 * self->width * self->height * self->fps, 1e6);
    }
  /* Keyframes exactly every gop_size frames: MPEG-style encoders also start a GOP at
   * each "scene change", which synthetic clips (a new flat colour per frame) trigger
   * constantly.  Codecs without the option ignore it. */
  av_opt_set_int (enc, "sc_threshold", 1000000000, AV_OPT_SEARCH_CHILDREN);
  /* One thread: videos are written next to other work, and output stays deterministic. */
  enc->thread_count = 1;
  if (ofmt->flags & AVFMT_GLOBALHEADER)
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

  ret = avcodec_open2 (enc, codec, NULL);
  if (ret < 0)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path,
                    avcodec_get_name (codec->id), ret);
      return FALSE;
    }

  self->stream = avformat_new_stream (self->oc, NULL);
  if (self->stream == NULL)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot add a stream",
                    AVERROR (ENOMEM));
      return FALSE;
    }
  self->stream->time_base = enc->time_base;
  self->stream->avg_frame_rate = rate;
  ret = avcodec_parameters_from_context (self->stream->codecpar, enc);
  if (ret < 0)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "codec parameters", ret);
      return FALSE;
    }

  self->frame = av_frame_alloc ();
  self->packet = av_packet_alloc ();
  if (self->frame == NULL || self->packet == NULL)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot allocate a frame",
                    AVERROR (ENOMEM));
      return FALSE;
    }
  self->frame->format = enc->pix_fmt;
  self->frame->width = self->width;
  self->frame->height = self->height;
  ret = av_frame_get_buffer (self->frame, 0);
  if (ret < 0)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot allocate a frame",
                    ret);
      return FALSE;
    }
  self->sws = sws_getContext (self->width, self->height, AV_PIX_FMT_RGB24,
                              self->width, self->height, enc->pix_fmt,
                              SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP,
                              NULL, NULL, NULL);
  if (self->sws == NULL)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE,
                   "%s: swscale cannot convert RGB24 to %s", self->path,
                   av_get_pix_fmt_name (enc->pix_fmt));
      return FALSE;
    }
  self->rgb = g_malloc0 ((gsize) self->width * self->height * 3 + MACT_VIDEO_SWS_PADDING);

  /* Image sequences (AVFMT_NOFILE) open one file per frame themselves. */
  if (!(ofmt->flags & AVFMT_NOFILE))
    {
      ret = avio_open (&self->oc->pb, self->path, AVIO_FLAG_WRITE);
      if (ret < 0)
        {
          set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot create the file",
                        ret);
          return FALSE;
        }
      self->opened_file = TRUE;
    }
  ret = avformat_write_header (self->oc, NULL);
  if (ret < 0)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path,
                    "cannot write the container header", ret);
      return FALSE;
    }
  return TRUE;
}

/**
 * mact_video_writer_new_full:
 * @path: the file to create; its extension chooses the container
 * @width: frame width in pixels: even, at least 16
 * @height: frame height in pixels: even, at least 16
 * @fps: frames per second, in (0, 1000]
 * @gop_size: the largest distance between keyframes, at least 1 (1: every frame is a
 *   keyframe)
 * @max_b_frames: the largest run of B-frames, in [0, 16]; ignored by codecs without
 *   B-frames
 * @error: return location for a #GError, or %NULL
 *
 * As mact_video_writer_new(), choosing the keyframe interval and B-frames.  B-frames
 * store frames out of presentation order, as most real videos do.
 *
 * Errors: %MACT_VIDEO_ERROR_INVALID_ARGUMENT for a bad size, frame rate, @gop_size or
 * @max_b_frames; %MACT_VIDEO_ERROR_ENCODE when no container matches the file name, no
 * encoder is available or the file cannot be created.
 *
 * Returns: (transfer full) (nullable): a writer, or %NULL on error
 *
 * Since: 0.1
 */
MactVideoWriter *
mact_video_writer_new_full (const char *path, gint width, gint height, double fps,
                            gint gop_size, gint max_b_frames, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_arguments (path, width, height, fps, gop_size, max_b_frames, error))
    return NULL;
  mact_video_init_ffmpeg ();

  g_autoptr(MactVideoWriter) self = g_object_new (MACT_TYPE_VIDEO_WRITER, NULL);
  self->path = g_strdup (path);
  self->width = width;
  self->height = height;
  self->fps = fps;
  self->gop_size = gop_size;
  self->max_b_frames = max_b_frames;
  if (!open_output (self, error))
    {
      gboolean created = self->opened_file;
      /* Nothing to flush: mark closed so dispose does not write a trailer. */
      self->closed = TRUE;
      release (self);
      if (created)
        g_unlink (path);
      return NULL;
    }
  return g_steal_pointer (&self);
}

/**
 * mact_video_writer_new:
 * @path: the file to create; its extension chooses the container (".mp4", ".avi",
 *   ".mkv", ...; "dir/img_%05d.jpg" writes numbered images)
 * @width: frame width in pixels: even, at least 16
 * @height: frame height in pixels: even, at least 16
 * @fps: frames per second, in (0, 1000]
 * @error: return location for a #GError, or %NULL
 *
 * Creates @path and writes the container's header.  The codec is MPEG-4 part 2 at a
 * near-transparent fixed quantiser when the container takes it, else the container's
 * default codec if libavcodec can encode it.  Keyframes come every 12 frames and there
 * are no B-frames; see mact_video_writer_new_full() to change that.
 *
 * Errors: %MACT_VIDEO_ERROR_INVALID_ARGUMENT for an odd or too small size or a frame
 * rate that is not positive; %MACT_VIDEO_ERROR_ENCODE when no container matches the file
 * name, no encoder is available or the file cannot be created.
 *
 * Returns: (transfer full) (nullable): a writer, or %NULL on error
 *
 * Since: 0.1
 */
MactVideoWriter *
mact_video_writer_new (const char *path, gint width, gint height, double fps,
                       GError **error)
{
  return mact_video_writer_new_full (path, width, height, fps, 12, 0, error);
}

/* Sends @frame (NULL: flush) to the encoder and muxes every packet it returns. */
static gboolean
encode (MactVideoWriter *self, AVFrame *frame, GError **error)
{
  int ret = avcodec_send_frame (self->enc, frame);
  if (ret < 0)
    {
      set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot encode a frame", ret);
      return FALSE;
    }
  for (;;)
    {
      ret = avcodec_receive_packet (self->enc, self->packet);
      if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
        return TRUE;
      if (ret < 0)
        {
          set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot encode a frame",
                        ret);
          return FALSE;
        }
      av_packet_rescale_ts (self->packet, self->enc->time_base, self->stream->time_base);
      self->packet->stream_index = self->stream->index;
      /* Takes the packet's reference and leaves it blank. */
      ret = av_interleaved_write_frame (self->oc, self->packet);
      if (ret < 0)
        {
          set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path, "cannot write a packet",
                        ret);
          return FALSE;
        }
    }
}

/* Rounds and clamps one [H, W, 3] float frame into self->rgb; NaN becomes 0. */
static void
float_to_rgb24 (MactVideoWriter *self, const float *src)
{
  gsize n = (gsize) self->width * self->height * 3;
  for (gsize i = 0; i < n; i++)
    {
      float v = src[i];
      /* The comparisons are false for NaN, which falls through to 0. */
      self->rgb[i] = v >= 255.0f ? 255 : v > 0.0f ? (guint8) (v + 0.5f) : 0;
    }
}

/**
 * mact_video_writer_write:
 * @self: a writer
 * @frames: a float32 tensor [H, W, 3] (one frame) or [T, H, W, 3], RGB on the 0-255
 *   scale, with H and W the writer's height and width
 * @error: return location for a #GError, or %NULL
 *
 * Encodes and appends @frames.  Values are rounded to the nearest integer and clamped to
 * [0, 255]; NaN becomes 0.
 *
 * Errors: %MACT_VIDEO_ERROR_INVALID_ARGUMENT when @frames has another shape (nothing is
 * written then); %MACT_VIDEO_ERROR_ENCODE when encoding or writing fails, or the writer
 * is closed or failed before.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
mact_video_writer_write (MactVideoWriter *self, MactTensor *frames, GError **error)
{
  g_return_val_if_fail (MACT_IS_VIDEO_WRITER (self), FALSE);
  g_return_val_if_fail (frames != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->closed || self->failed)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE,
                   "%s: the writer is %s", self->path,
                   self->closed ? "closed" : "broken by an earlier error");
      return FALSE;
    }

  gint ndim = 0;
  const gint64 *shape = mact_tensor_get_shape (frames, &ndim);
  if ((ndim != 3 && ndim != 4) || shape[ndim - 3] != self->height
      || shape[ndim - 2] != self->width || shape[ndim - 1] != 3)
    {
      g_autofree char *got = mact_tensor_shape_to_string (frames);
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INVALID_ARGUMENT,
                   "%s: frames: expected a tensor [%d, %d, 3] or [T, %d, %d, 3] (RGB), "
                   "got %s", self->path, self->height, self->width, self->height,
                   self->width, got);
      return FALSE;
    }
  gint64 n_frames = ndim == 4 ? shape[0] : 1;

  g_autoptr(MactTensor) detached = mact_tensor_detach (frames);
  g_autoptr(MactTensor) dense = mact_tensor_contiguous (detached);
  const float *data = mact_tensor_get_data (dense);
  gsize frame_size = (gsize) self->width * self->height * 3;

  for (gint64 t = 0; t < n_frames; t++)
    {
      float_to_rgb24 (self, data + t * frame_size);
      /* The encoder may still hold a reference to the previous frame's buffers. */
      int ret = av_frame_make_writable (self->frame);
      if (ret < 0)
        {
          self->failed = TRUE;
          set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path,
                        "cannot allocate a frame", ret);
          return FALSE;
        }
      const guint8 *src_planes[1] = { self->rgb };
      const int src_strides[1] = { self->width * 3 };
      sws_scale (self->sws, src_planes, src_strides, 0, self->height,
                 self->frame->data, self->frame->linesize);
      self->frame->pts = self->next_pts++;
      if (self->enc->flags & AV_CODEC_FLAG_QSCALE)
        self->frame->quality = self->enc->global_quality;
      if (!encode (self, self->frame, error))
        {
          self->failed = TRUE;
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * mact_video_writer_close:
 * @self: a writer
 * @error: return location for a #GError, or %NULL
 *
 * Flushes the encoder, writes the container's trailer and closes the file.  Closing a
 * closed writer does nothing and succeeds.  A writer that failed before is closed
 * without flushing, and this reports the failure again.
 *
 * Errors: %MACT_VIDEO_ERROR_ENCODE when flushing or writing the trailer fails.
 *
 * Returns: %TRUE when the file is complete
 *
 * Since: 0.1
 */
gboolean
mact_video_writer_close (MactVideoWriter *self, GError **error)
{
  g_return_val_if_fail (MACT_IS_VIDEO_WRITER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->closed)
    return TRUE;
  self->closed = TRUE;

  gboolean ok = TRUE;
  if (self->failed)
    {
      g_set_error (error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE,
                   "%s: the file is incomplete after an earlier error", self->path);
      ok = FALSE;
    }
  else if (!encode (self, NULL, error))
    ok = FALSE;
  else
    {
      int ret = av_write_trailer (self->oc);
      if (ret < 0)
        {
          set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path,
                        "cannot write the container trailer", ret);
          ok = FALSE;
        }
    }
  if (self->opened_file)
    {
      int ret = avio_closep (&self->oc->pb);
      self->opened_file = FALSE;
      if (ret < 0 && ok)
        {
          set_av_error (error, MACT_VIDEO_ERROR_ENCODE, self->path,
                        "cannot close the file", ret);
          ok = FALSE;
        }
    }
  if (!ok)
    self->failed = TRUE;
  release (self);
  return ok;
}
