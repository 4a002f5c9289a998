/* test-video.c: MactVideoReader, MactVideoWriter and mact_image_load.
 *
 * Clips are written with MactVideoWriter into a temporary directory and read back.  Frame
 * i of a clip has a flat background colour that no other frame of the clip comes within
 * 13 levels of (mean over channels), and a white bar at a position depending on i, so a
 * frame read back is identified by being within MPEG-4 tolerance (mean absolute error
 * <= 4) of the frame written.  Still images and a GIF clip written by PIL (an encoder
 * independent of FFmpeg) are in tests/data/video, made by tests/fixtures/gen_video.py;
 * their pixel patterns are restated here.  h264-bframes.avi there (libx264, made by
 * tests/fixtures/gen_h264_avi.c) holds the frames of make_clip (36). */
#include "mact-test.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define W 64
#define H 48
#define FRAME_SIZE ((gsize) W * H * 3)
/* Mean absolute error of a frame read back from MPEG-4 at qscale 2 (observed ~1-2.5). */
#define CODEC_MAE 4.0

static char *tmp_dir;

static int
group_setup (void **state)
{
  tmp_dir = g_dir_make_tmp ("mact-test-video-XXXXXX", NULL);
  return tmp_dir != NULL ? 0 : -1;
}

static int
group_teardown (void **state)
{
  mact_test_remove_tree (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  return 0;
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static char *
data_path (const char *name)
{
  const char *dir = g_getenv ("MACT_TEST_DATA_DIR");
  return g_build_filename (dir != NULL ? dir : "tests/data", "video", name, NULL);
}

/* ------------------------------------------------------------------ clips */

static void
clip_colour (gint i, float rgb[3])
{
  rgb[0] = 16 + (i * 23) % 224;
  rgb[1] = 16 + (i * 11) % 224;
  rgb[2] = 232 - (i * 7) % 216;
}

/* Frame i: the background of clip_colour (i) and a white bar 8 pixels wide at
 * x = 2 * (i % 28). */
static MactTensor *
make_clip (gint n_frames)
{
  gint64 shape[4] = { n_frames, H, W, 3 };
  MactTensor *clip = mact_tensor_new (4, shape, NULL);
  float *d = mact_tensor_get_data (clip);

  for (gint i = 0; i < n_frames; i++)
    {
      float bg[3];
      gint bar = 2 * (i % 28);
      clip_colour (i, bg);
      for (gint y = 0; y < H; y++)
        for (gint x = 0; x < W; x++)
          {
            float *p = d + i * FRAME_SIZE + ((gsize) y * W + x) * 3;
            gboolean in_bar = x >= bar && x < bar + 8;
            for (gint c = 0; c < 3; c++)
              p[c] = in_bar ? 240.0f : bg[c];
          }
    }
  return clip;
}

static double
frame_mae (const float *a, const float *b)
{
  double sum = 0.0;
  for (gsize k = 0; k < FRAME_SIZE; k++)
    sum += fabs ((double) a[k] - b[k]);
  return sum / FRAME_SIZE;
}

/* Asserts that frame @slot of @got is frame @expected of @clip. */
static void
assert_frame (MactTensor *got, gint64 slot, MactTensor *clip, gint64 expected, const char *what)
{
  const float *g = mact_tensor_get_data (got) + slot * FRAME_SIZE;
  const float *e = mact_tensor_get_data (clip) + expected * FRAME_SIZE;
  double mae = frame_mae (g, e);
  if (mae > CODEC_MAE)
    {
      /* Name the frame it is, to tell an order bug from damage. */
      gint64 n = mact_tensor_get_size (clip, 0), best = -1;
      double best_mae = G_MAXDOUBLE;
      for (gint64 i = 0; i < n; i++)
        {
          double m = frame_mae (g, mact_tensor_get_data (clip) + i * FRAME_SIZE);
          if (m < best_mae)
            {
              best_mae = m;
              best = i;
            }
        }
      fail_msg ("%s: slot %" G_GINT64_FORMAT " should be frame %" G_GINT64_FORMAT
                " (mae %.2f) but looks like frame %" G_GINT64_FORMAT " (mae %.2f)",
                what, slot, expected, mae, best, best_mae);
    }
}

static MactTensor *
read_ok (MactVideoReader *reader, const gint64 *indices, gsize n)
{
  g_autoptr(GError) error = NULL;
  MactTensor *out = mact_video_reader_read_frames (reader, indices, n, &error);
  if (out == NULL)
    fail_msg ("read_frames: %s", error->message);
  gint ndim = 0;
  const gint64 *shape = mact_tensor_get_shape (out, &ndim);
  assert_int_equal (ndim, 4);
  assert_int_equal (shape[0], (gint64) n);
  assert_int_equal (shape[1], H);
  assert_int_equal (shape[2], W);
  assert_int_equal (shape[3], 3);
  return out;
}

/* Reads @indices and checks every slot. */
static void
check_read (MactVideoReader *reader, MactTensor *clip, const gint64 *indices, gsize n,
            const char *what)
{
  g_autoptr(MactTensor) out = read_ok (reader, indices, n);
  for (gsize k = 0; k < n; k++)
    assert_frame (out, (gint64) k, clip, indices[k], what);
}

static void
write_clip (const char *path, MactTensor *clip, gint gop_size, gint max_b_frames)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactVideoWriter) writer =
    mact_video_writer_new_full (path, W, H, 25.0, gop_size, max_b_frames, &error);
  if (writer == NULL)
    fail_msg ("writer %s: %s", path, error->message);
  if (!mact_video_writer_write (writer, clip, &error))
    fail_msg ("write %s: %s", path, error->message);
  if (!mact_video_writer_close (writer, &error))
    fail_msg ("close %s: %s", path, error->message);
}

static MactVideoReader *
open_ok (const char *path)
{
  g_autoptr(GError) error = NULL;
  MactVideoReader *reader = mact_video_reader_new (path, &error);
  if (reader == NULL)
    fail_msg ("open %s: %s", path, error->message);
  return reader;
}

/* Number of MPEG-4 part 2 B-VOPs in a file: start code 00 00 01 B6, then two bits of
 * vop_coding_type (2 = B).  Proves that a clip really stores frames out of order. */
static guint
count_b_vops (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  guint n = 0;

  assert_true (g_file_get_contents (path, &contents, &len, NULL));
  const guint8 *d = (const guint8 *) contents;
  for (gsize i = 0; i + 4 < len; i++)
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && d[i + 3] == 0xB6 && (d[i + 4] >> 6) == 2)
      n++;
  return n;
}

/* Sequential, reversed, repeated and sparse reads of a 24-frame clip, one call each,
 * plus one frame per call in reverse (a seek each time). */
static void
check_clip_file (const char *name, gint gop_size, gint max_b_frames)
{
  g_autofree char *path = tmp_path (name);
  g_autoptr(MactTensor) clip = make_clip (24);
  write_clip (path, clip, gop_size, max_b_frames);
  if (max_b_frames > 0)
    assert_true (count_b_vops (path) > 0);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 24);
  assert_int_equal (mact_video_reader_get_width (reader), W);
  assert_int_equal (mact_video_reader_get_height (reader), H);
  assert_true (fabs (mact_video_reader_get_fps (reader) - 25.0) < 1e-6);
  assert_string_equal (mact_video_reader_get_path (reader), path);

  gint64 sequential[24], reversed[24];
  for (gint i = 0; i < 24; i++)
    {
      sequential[i] = i;
      reversed[i] = 23 - i;
    }
  check_read (reader, clip, sequential, 24, name);
  check_read (reader, clip, reversed, 24, name);
  const gint64 repeated[] = { 5, 5, 0, 5, 23, 0, 23, 11, 11 };
  check_read (reader, clip, repeated, G_N_ELEMENTS (repeated), name);
  const gint64 sparse[] = { 3, 17, 9, 22 };
  check_read (reader, clip, sparse, G_N_ELEMENTS (sparse), name);
  for (gint i = 23; i >= 0; i -= 2)
    {
      gint64 one = i;
      check_read (reader, clip, &one, 1, name);
    }
  /* Forward in small steps: decoding continues where the last call stopped. */
  for (gint i = 0; i + 3 <= 24; i += 3)
    {
      const gint64 step[] = { i, i + 1, i + 2 };
      check_read (reader, clip, step, 3, name);
    }
}

static void
test_mp4_roundtrip (void **state)
{
  check_clip_file ("plain.mp4", 12, 0);
}

static void
test_avi_roundtrip (void **state)
{
  check_clip_file ("plain.avi", 12, 0);
}

/* B-frames: file order differs from presentation order.  MP4 and Matroska give each
 * packet a pts; AVI gives none, and the reader has libavformat generate them. */
static void
test_mp4_bframes (void **state)
{
  check_clip_file ("bframes.mp4", 12, 2);
}

static void
test_mkv_bframes (void **state)
{
  check_clip_file ("bframes.mkv", 6, 3);
}

static void
test_avi_bframes (void **state)
{
  check_clip_file ("bframes.avi", 12, 2);
}

/* A 100-frame clip in two GOPs of 50 with B-frames: frames far into a GOP, backwards
 * and across the GOP boundary. */
static void
test_long_gop_seek (void **state)
{
  g_autofree char *path = tmp_path ("long.mp4");
  g_autoptr(MactTensor) clip = make_clip (100);
  write_clip (path, clip, 50, 2);
  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 100);

  const gint64 far[] = { 97 };
  check_read (reader, clip, far, 1, "far into the second GOP");
  const gint64 back[] = { 45 };
  check_read (reader, clip, back, 1, "back into the first GOP");
  const gint64 both[] = { 99, 48, 49, 50, 51, 1 };
  check_read (reader, clip, both, G_N_ELEMENTS (both), "across the GOP boundary");
  const gint64 clip_like[] = { 60, 62, 64, 66, 68, 70, 72, 74 };
  check_read (reader, clip, clip_like, G_N_ELEMENTS (clip_like), "a sampled clip");
}

/* Properties, and a clip written in several calls with frames [H, W, 3]. */
static void
test_properties_and_single_frames (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("single.mkv");
  g_autoptr(MactTensor) clip = make_clip (5);
  g_autoptr(MactVideoWriter) writer = mact_video_writer_new (path, W, H, 12.5, &error);
  assert_non_null (writer);

  g_autofree char *wpath = NULL;
  gint wwidth = 0, wheight = 0, gop = 0, bframes = -1;
  double wfps = 0.0;
  g_object_get (writer, "path", &wpath, "width", &wwidth, "height", &wheight, "fps", &wfps,
                "gop-size", &gop, "max-b-frames", &bframes, NULL);
  assert_string_equal (wpath, path);
  assert_int_equal (wwidth, W);
  assert_int_equal (wheight, H);
  assert_true (wfps == 12.5);
  assert_int_equal (gop, 12);
  assert_int_equal (bframes, 0);

  for (gint i = 0; i < 5; i++)
    {
      g_autoptr(MactTensor) frame = mact_tensor_narrow (clip, 0, i, 1, NULL);
      gint64 shape[3] = { H, W, 3 };
      g_autoptr(MactTensor) one = mact_tensor_reshape (frame, 3, shape, NULL);
      if (i == 2)
        {
          /* A strided view: [H, W, 3] over channel-major storage. */
          const gint to_chw[3] = { 2, 0, 1 }, to_hwc[3] = { 1, 2, 0 };
          g_autoptr(MactTensor) chw_view = mact_tensor_permute (one, 3, to_chw, NULL);
          g_autoptr(MactTensor) chw = mact_tensor_contiguous (chw_view);
          g_autoptr(MactTensor) hwc = mact_tensor_permute (chw, 3, to_hwc, NULL);
          assert_false (mact_tensor_is_contiguous (hwc));
          assert_true (mact_video_writer_write (writer, hwc, &error));
          continue;
        }
      assert_true (mact_video_writer_write (writer, one, &error));
    }
  /* No frames at all is fine too. */
  gint64 empty_shape[4] = { 0, H, W, 3 };
  g_autoptr(MactTensor) empty = mact_tensor_new (4, empty_shape, NULL);
  assert_true (mact_video_writer_write (writer, empty, &error));
  assert_true (mact_video_writer_close (writer, &error));
  /* Closing twice is harmless; writing after closing is an error. */
  assert_true (mact_video_writer_close (writer, &error));
  g_autoptr(MactTensor) first = mact_tensor_narrow (clip, 0, 0, 1, NULL);
  assert_false (mact_video_writer_write (writer, first, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_ENCODE);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  g_autofree char *rpath = NULL;
  gint64 n = 0;
  gint rwidth = 0, rheight = 0;
  double rfps = 0.0;
  g_object_get (reader, "path", &rpath, "n-frames", &n, "width", &rwidth, "height", &rheight,
                "fps", &rfps, NULL);
  assert_string_equal (rpath, path);
  assert_int_equal (n, 5);
  assert_int_equal (rwidth, W);
  assert_int_equal (rheight, H);
  assert_true (fabs (rfps - 12.5) < 1e-6);
  const gint64 all[] = { 4, 3, 2, 1, 0 };
  check_read (reader, clip, all, 5, "frames written one by one");

  /* No indices: an empty batch. */
  g_autoptr(MactTensor) none = mact_video_reader_read_frames (reader, NULL, 0, &error);
  assert_non_null (none);
  assert_int_equal (mact_tensor_get_size (none, 0), 0);
}

/* A writer disposed without close() still writes a complete file. */
static void
test_dispose_closes (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("unclosed.mp4");
  g_autoptr(MactTensor) clip = make_clip (3);
  MactVideoWriter *writer = mact_video_writer_new (path, W, H, 25.0, &error);
  assert_non_null (writer);
  assert_true (mact_video_writer_write (writer, clip, &error));
  g_object_unref (writer);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 3);
  const gint64 all[] = { 0, 1, 2 };
  check_read (reader, clip, all, 3, "disposed writer");
}

/* A GIF written by PIL: counted and decoded exactly (two colours per frame). */
static void
test_gif_from_pil (void **state)
{
  g_autofree char *path = data_path ("clip.gif");
  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 12);
  assert_int_equal (mact_video_reader_get_width (reader), 32);
  assert_int_equal (mact_video_reader_get_height (reader), 24);

  const gint64 indices[] = { 11, 0, 5, 5, 7, 1 };
  g_autoptr(GError) error = NULL;
  g_autoptr(MactTensor) out =
    mact_video_reader_read_frames (reader, indices, G_N_ELEMENTS (indices), &error);
  assert_non_null (out);
  const float *d = mact_tensor_get_data (out);
  for (gsize k = 0; k < G_N_ELEMENTS (indices); k++)
    {
      gint i = (gint) indices[k];
      float bg[3] = { (40 + 17 * i) % 256, (200 - 13 * i) % 256, (90 + 29 * i) % 256 };
      for (gint y = 0; y < 24; y++)
        for (gint x = 0; x < 32; x++)
          for (gint c = 0; c < 3; c++)
            {
              float expected = x >= 2 * i && x < 2 * i + 4 ? 255.0f : bg[c];
              float got = d[((k * 24 + y) * 32 + x) * 3 + c];
              if (got != expected)
                fail_msg ("gif slot %zu (frame %d) at (%d, %d, %d): %g, expected %g", k, i, x,
                          y, c, got, expected);
            }
    }
}

/* ------------------------------------------------------------------ damaged files */

static void
write_file (const char *path, const void *data, gsize len)
{
  assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
}

static void
assert_open_error (const char *path, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactVideoReader) reader = mact_video_reader_new (path, &error);
  assert_null (reader);
  assert_non_null (error);
  /* Messages name the file. */
  assert_non_null (strstr (error->message, path));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, code);
}

static void
test_open_errors (void **state)
{
  g_autofree char *missing = tmp_path ("missing.mp4");
  assert_open_error (missing, MACT_VIDEO_ERROR_NOT_FOUND);
  assert_open_error (tmp_dir, MACT_VIDEO_ERROR_NOT_FOUND);

  g_autofree char *text = tmp_path ("text.mp4");
  const char *words = "This is a text file with a video's name, not a video.\n";
  write_file (text, words, strlen (words));
  assert_open_error (text, MACT_VIDEO_ERROR_FORMAT);

  g_autofree char *zero = tmp_path ("zero.mp4");
  write_file (zero, "", 0);
  assert_open_error (zero, MACT_VIDEO_ERROR_FORMAT);

  /* A WAV file: a media file without a video stream (0.1 s of 8 kHz mono silence). */
  g_autofree char *wav = tmp_path ("sound.wav");
  guint8 header[44 + 800] = { 0 };
  const guint32 data_len = 800;
  memcpy (header, "RIFF", 4);
  guint32 riff_len = GUINT32_TO_LE (36 + data_len);
  memcpy (header + 4, &riff_len, 4);
  memcpy (header + 8, "WAVEfmt ", 8);
  const guint32 fmt_len = GUINT32_TO_LE (16), rate = GUINT32_TO_LE (8000);
  const guint16 pcm = GUINT16_TO_LE (1), channels = GUINT16_TO_LE (1),
                align = GUINT16_TO_LE (1), bits = GUINT16_TO_LE (8);
  memcpy (header + 16, &fmt_len, 4);
  memcpy (header + 20, &pcm, 2);
  memcpy (header + 22, &channels, 2);
  memcpy (header + 24, &rate, 4);
  memcpy (header + 28, &rate, 4);   /* bytes per second: 1 byte per sample */
  memcpy (header + 32, &align, 2);
  memcpy (header + 34, &bits, 2);
  memcpy (header + 36, "data", 4);
  guint32 dl = GUINT32_TO_LE (data_len);
  memcpy (header + 40, &dl, 4);
  memset (header + 44, 128, data_len);
  write_file (wav, header, sizeof header);
  assert_open_error (wav, MACT_VIDEO_ERROR_FORMAT);

  /* An AVI with its video stream but not a single frame. */
  g_autoptr(GError) error = NULL;
  g_autofree char *empty = tmp_path ("empty.avi");
  g_autoptr(MactVideoWriter) writer = mact_video_writer_new (empty, W, H, 25.0, &error);
  assert_non_null (writer);
  assert_true (mact_video_writer_close (writer, &error));
  assert_open_error (empty, MACT_VIDEO_ERROR_EMPTY);
}

static void
test_index_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("index.mp4");
  g_autoptr(MactTensor) clip = make_clip (6);
  write_clip (path, clip, 12, 0);
  g_autoptr(MactVideoReader) reader = open_ok (path);

  const gint64 past_end[] = { 0, 6 };
  assert_null (mact_video_reader_read_frames (reader, past_end, 2, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INDEX);
  const gint64 negative[] = { -1 };
  assert_null (mact_video_reader_read_frames (reader, negative, 1, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INDEX);
  /* The reader still works. */
  const gint64 last[] = { 5 };
  check_read (reader, clip, last, 1, "after an index error");
}

static const char *
find_bytes (const char *haystack, gsize len, const char *needle, gsize needle_len)
{
  for (gsize i = 0; i + needle_len <= len; i++)
    if (memcmp (haystack + i, needle, needle_len) == 0)
      return haystack + i;
  return NULL;
}

/* Finds video chunk @k ("00dc") of an AVI file's movi list: offset of its header and
 * payload size. */
static void
avi_chunk (const char *contents, gsize len, gint k, gsize *offset, guint32 *size)
{
  const char *movi = find_bytes (contents, len, "movi", 4);
  assert_non_null (movi);
  gsize pos = (gsize) (movi - contents) + 4;
  for (gint n = 0;; n++)
    {
      const char *chunk = find_bytes (contents + pos, len - pos, "00dc", 4);
      assert_non_null (chunk);
      guint32 sz;
      memcpy (&sz, chunk + 4, 4);
      sz = GUINT32_FROM_LE (sz);
      if (n == k)
        {
          *offset = (gsize) (chunk - contents);
          *size = sz;
          return;
        }
      pos = (gsize) (chunk - contents) + 8 + sz + (sz & 1);
    }
}

/* Copies the AVI file @source to @path with the payload of video chunk @k zeroed: one
 * damaged frame in an otherwise intact file. */
static void
zero_avi_frame (const char *source, const char *path, gint k)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  assert_true (g_file_get_contents (source, &contents, &len, NULL));
  gsize offset;
  guint32 size;
  avi_chunk (contents, len, k, &offset, &size);
  memset (contents + offset + 8, 0, size);
  write_file (path, contents, len);
}

/* An AVI (no B-frames) cut in the middle of frame 20's data: the count stops at the
 * cut, frames before it decode, the partial frame is a DECODE error. */
static void
test_truncated_avi (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("cut.avi");
  g_autoptr(MactTensor) clip = make_clip (48);
  write_clip (path, clip, 12, 0);

  g_autofree char *contents = NULL;
  gsize len = 0;
  assert_true (g_file_get_contents (path, &contents, &len, NULL));
  gsize offset;
  guint32 size;
  avi_chunk (contents, len, 20, &offset, &size);
  write_file (path, contents, offset + 8 + size / 2);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 21);
  gint64 before[20];
  for (gint i = 0; i < 20; i++)
    before[i] = 19 - i;
  check_read (reader, clip, before, 20, "before the cut");

  const gint64 partial[] = { 18, 20 };
  assert_null (mact_video_reader_read_frames (reader, partial, 2, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "frame 20"));
  assert_non_null (strstr (error->message, path));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE);

  const gint64 past[] = { 21 };
  assert_null (mact_video_reader_read_frames (reader, past, 1, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_INDEX);
  /* Errors leave the reader usable. */
  const gint64 again[] = { 7 };
  check_read (reader, clip, again, 1, "after a decode error");
}

/* An MP4 cut in half has lost its index (moov, written last): not readable. */
static void
test_truncated_mp4 (void **state)
{
  g_autofree char *path = tmp_path ("cut.mp4");
  g_autoptr(MactTensor) clip = make_clip (24);
  write_clip (path, clip, 12, 0);
  g_autofree char *contents = NULL;
  gsize len = 0;
  assert_true (g_file_get_contents (path, &contents, &len, NULL));
  write_file (path, contents, len / 2);
  assert_open_error (path, MACT_VIDEO_ERROR_FORMAT);
}

/* A Matroska file cut in half: the demuxer drops the partial block, so the count
 * reflects the cut and every counted frame decodes.  (Without B-frames, so that the
 * frames left are a prefix of the clip: with B-frames a P-frame can survive the cut
 * while the B-frames shown before it do not, and indices then skip those.) */
static void
test_truncated_mkv (void **state)
{
  g_autofree char *path = tmp_path ("cut.mkv");
  g_autoptr(MactTensor) clip = make_clip (48);
  write_clip (path, clip, 12, 0);
  g_autofree char *contents = NULL;
  gsize len = 0;
  assert_true (g_file_get_contents (path, &contents, &len, NULL));
  write_file (path, contents, len / 2);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  gint64 n = mact_video_reader_get_n_frames (reader);
  assert_true (n > 4 && n < 48);
  g_autofree gint64 *all = g_new (gint64, n);
  for (gint64 i = 0; i < n; i++)
    all[i] = n - 1 - i;
  check_read (reader, clip, all, (gsize) n, "truncated mkv");
}

/* Frame 20's data zeroed in an AVI without B-frames (frames matched by pts): frame 20
 * is a DECODE error, frames before it and in the next GOP (from 24) are right. */
static void
test_corrupt_frame (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("corrupt.avi");
  g_autoptr(MactTensor) clip = make_clip (48);
  write_clip (path, clip, 12, 0);
  zero_avi_frame (path, path, 20);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 48);
  const gint64 wanted[] = { 20 };
  assert_null (mact_video_reader_read_frames (reader, wanted, 1, &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "frame 20"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE);
  const gint64 around[] = { 30, 19, 47, 0, 24, 12 };
  check_read (reader, clip, around, G_N_ELEMENTS (around), "around a corrupt frame");
}

/* The same damage in an AVI with B-frames.  AVI stores no pts; for MPEG-4 part 2 the
 * reader has libavformat generate them, so frames are still matched by pts: the frames
 * that need the damaged one are DECODE errors, all others are right. */
static void
test_corrupt_frame_bframes (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("corrupt-b.avi");
  g_autoptr(MactTensor) clip = make_clip (48);
  write_clip (path, clip, 12, 2);
  zero_avi_frame (path, path, 20);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 48);
  gint n_failed = 0, first_failed = -1, last_failed = -1;
  for (gint64 i = 47; i >= 0; i--)
    {
      g_autoptr(MactTensor) out = mact_video_reader_read_frames (reader, &i, 1, &error);
      if (out == NULL)
        {
          mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE);
          n_failed++;
          last_failed = MAX (last_failed, (gint) i);
          first_failed = (gint) i;
          continue;
        }
      assert_frame (out, 0, clip, i, "around a damaged B-frame GOP");
    }
  /* Frame 20 in file order is shown around index 20; only its neighbours in the GOP
   * (12 to 23) may depend on it. */
  assert_true (n_failed >= 1);
  assert_true (first_failed >= 12 && last_failed < 24);
}

/* The policy for a partly damaged video (documented at mact_video_reader_read_frames()):
 * all or nothing per call.  A call that includes the damaged frame 20 among good ones
 * returns no tensor at all, and names frame 20; the same reader then reads the good
 * frames of that call, right. */
static void
test_partly_damaged_policy (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("partly-damaged.avi");
  g_autoptr(MactTensor) clip = make_clip (36);
  write_clip (path, clip, 12, 0);
  zero_avi_frame (path, path, 20);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  const gint64 mixed[] = { 0, 30, 20, 5, 35 };
  assert_null (mact_video_reader_read_frames (reader, mixed, G_N_ELEMENTS (mixed), &error));
  assert_non_null (error);
  assert_non_null (strstr (error->message, "partly-damaged.avi"));
  assert_non_null (strstr (error->message, "frame 20"));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE);
  const gint64 good[] = { 0, 30, 5, 35 };
  check_read (reader, clip, good, G_N_ELEMENTS (good), "the good frames of the same call");
}

/* Bytes flipped all over small clips (deterministic positions): every open and read
 * either works, with the promised shape, or is a MACT_VIDEO_ERROR; never a crash, a
 * critical or an invalid read (the valgrind setup checks that). */
static void
test_random_damage (void **state)
{
  const char *names[] = { "damage.avi", "damage.mp4", "damage.mkv" };
  g_autoptr(MactTensor) clip = make_clip (8);
  guint opened = 0, refused = 0;
  for (gsize f = 0; f < G_N_ELEMENTS (names); f++)
    {
      g_autofree char *path = tmp_path (names[f]);
      write_clip (path, clip, 4, f == 1 ? 2 : 0);
      g_autofree char *contents = NULL;
      gsize len = 0;
      assert_true (g_file_get_contents (path, &contents, &len, NULL));
      g_autoptr(GRand) rand = g_rand_new_with_seed (7 + f);
      for (guint trial = 0; trial < 12; trial++)
        {
          g_autofree char *copy = g_memdup2 (contents, len);
          for (guint k = 0; k < 8; k++)
            copy[g_rand_int_range (rand, 0, (gint32) len)] ^= (char) (1 + g_rand_int_range (rand, 0, 255));
          write_file (path, copy, len);
          g_autoptr(GError) error = NULL;
          g_autoptr(MactVideoReader) reader = mact_video_reader_new (path, &error);
          if (reader == NULL)
            {
              assert_true (error != NULL && error->domain == MACT_VIDEO_ERROR);
              refused++;
              continue;
            }
          opened++;
          gint64 n = mact_video_reader_get_n_frames (reader);
          assert_true (n >= 1);
          const gint64 wanted[] = { n - 1, 0, n / 2 };
          g_autoptr(MactTensor) frames = mact_video_reader_read_frames (reader, wanted, 3,
                                                                        &error);
          if (frames == NULL)
            assert_true (error != NULL && error->domain == MACT_VIDEO_ERROR);
          else
            {
              assert_int_equal (mact_tensor_get_size (frames, 0), 3);
              assert_int_equal (mact_tensor_get_size (frames, 1),
                                mact_video_reader_get_height (reader));
              assert_int_equal (mact_tensor_get_size (frames, 2),
                                mact_video_reader_get_width (reader));
            }
        }
    }
  assert_true (opened > 0 && refused > 0);
}

/* H.264 with B-pyramids and open GOPs in AVI (made by libx264, see
 * tests/fixtures/gen_h264_avi.c): no pts, none can be generated, so frames are
 * numbered by counting decoded pictures from the first packet. */
static void
test_avi_h264_counting (void **state)
{
  g_autofree char *path = data_path ("h264-bframes.avi");
  g_autoptr(MactTensor) clip = make_clip (36);
  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 36);
  assert_true (fabs (mact_video_reader_get_fps (reader) - 25.0) < 1e-6);

  gint64 reversed[36];
  for (gint i = 0; i < 36; i++)
    reversed[i] = 35 - i;
  check_read (reader, clip, reversed, 36, "h264 reversed");
  const gint64 sparse[] = { 30, 9, 10, 11, 12, 30, 2 };
  check_read (reader, clip, sparse, G_N_ELEMENTS (sparse), "h264 sparse");
  for (gint i = 35; i >= 0; i -= 7)
    {
      gint64 one = i;
      check_read (reader, clip, &one, 1, "h264 one by one");
    }
}

/* Packet 20's data zeroed in that file: the frames shown before the damage are right,
 * the frames after it are DECODE errors rather than frames shifted by one. */
static void
test_corrupt_frame_counting (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *source = data_path ("h264-bframes.avi");
  g_autofree char *path = tmp_path ("corrupt-h264.avi");
  g_autoptr(MactTensor) clip = make_clip (36);
  zero_avi_frame (source, path, 20);

  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 36);
  const gint64 early[] = { 15, 0, 8 };
  check_read (reader, clip, early, G_N_ELEMENTS (early), "before the damage");
  const gint64 late[] = { 30 };
  assert_null (mact_video_reader_read_frames (reader, late, 1, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE);
  const gint64 last[] = { 35, 1 };
  assert_null (mact_video_reader_read_frames (reader, last, 2, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE);
}

/* ------------------------------------------------------------------ writer errors */

static void
assert_writer_error (const char *path, gint width, gint height, double fps, gint gop,
                     gint bframes, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MactVideoWriter) writer =
    mact_video_writer_new_full (path, width, height, fps, gop, bframes, &error);
  assert_null (writer);
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, code);
}

static void
test_writer_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = tmp_path ("bad.mp4");
  const gint bad = MACT_VIDEO_ERROR_INVALID_ARGUMENT;

  assert_writer_error (path, 63, 48, 25.0, 12, 0, bad);
  assert_writer_error (path, 64, 47, 25.0, 12, 0, bad);
  assert_writer_error (path, 8, 48, 25.0, 12, 0, bad);
  assert_writer_error (path, 0, 0, 25.0, 12, 0, bad);
  assert_writer_error (path, 64, 48, 0.0, 12, 0, bad);
  assert_writer_error (path, 64, 48, -25.0, 12, 0, bad);
  assert_writer_error (path, 64, 48, NAN, 12, 0, bad);
  assert_writer_error (path, 64, 48, 25.0, 0, 0, bad);
  assert_writer_error (path, 64, 48, 25.0, 12, 17, bad);
  assert_writer_error (path, 64, 48, 25.0, 12, -1, bad);
  /* Nothing was created for bad arguments. */
  assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_autofree char *unwritable = tmp_path ("no-such-dir/clip.mp4");
  assert_writer_error (unwritable, 64, 48, 25.0, 12, 0, MACT_VIDEO_ERROR_ENCODE);
  g_autofree char *unknown = tmp_path ("clip.not-a-container");
  assert_writer_error (unknown, 64, 48, 25.0, 12, 0, MACT_VIDEO_ERROR_ENCODE);
  assert_false (g_file_test (unknown, G_FILE_TEST_EXISTS));

  /* Frames of the wrong shape. */
  g_autoptr(MactVideoWriter) writer = mact_video_writer_new (path, W, H, 25.0, &error);
  assert_non_null (writer);
  const gint64 shapes[][6] = {
    { 3, H, W, 4 },           /* RGBA */
    { 3, H + 2, W, 3 },       /* other height */
    { 4, 2, H, W - 2, 3 },    /* other width */
    { 2, H, W },              /* no channels */
    { 5, 1, 2, H, W, 3 },     /* 5 dimensions */
  };
  for (gsize k = 0; k < G_N_ELEMENTS (shapes); k++)
    {
      gint ndim = (gint) shapes[k][0];
      g_autoptr(MactTensor) t = mact_tensor_new (ndim, &shapes[k][1], NULL);
      assert_false (mact_video_writer_write (writer, t, &error));
      mact_test_assert_error (&error, MACT_VIDEO_ERROR, bad);
    }
  /* The writer is still good after refusing them. */
  g_autoptr(MactTensor) clip = make_clip (2);
  assert_true (mact_video_writer_write (writer, clip, &error));
  assert_true (mact_video_writer_close (writer, &error));
  g_autoptr(MactVideoReader) reader = open_ok (path);
  assert_int_equal (mact_video_reader_get_n_frames (reader), 2);
}

/* ------------------------------------------------------------------ images */

static float
image_pattern (gint x, gint y, gint c)
{
  return c == 0 ? 10 * x : c == 1 ? 15 * y : 5 * x + 9 * y;
}

static MactTensor *
load_ok (const char *path)
{
  g_autoptr(GError) error = NULL;
  MactTensor *image = mact_image_load (path, &error);
  if (image == NULL)
    fail_msg ("image %s: %s", path, error->message);
  return image;
}

/* Compares a [16, 24, 3] image with @expected (x, y, c) within @max_err and @max_mae. */
static void
check_image (MactTensor *image, float (*expected) (gint, gint, gint), double max_err,
             double max_mae, const char *what)
{
  gint ndim = 0;
  const gint64 *shape = mact_tensor_get_shape (image, &ndim);
  assert_int_equal (ndim, 3);
  assert_int_equal (shape[0], 16);
  assert_int_equal (shape[1], 24);
  assert_int_equal (shape[2], 3);
  const float *d = mact_tensor_get_data (image);
  double worst = 0.0, sum = 0.0;
  for (gint y = 0; y < 16; y++)
    for (gint x = 0; x < 24; x++)
      for (gint c = 0; c < 3; c++)
        {
          double err = fabs (d[(y * 24 + x) * 3 + c] - expected (x, y, c));
          worst = MAX (worst, err);
          sum += err;
        }
  double mae = sum / (16 * 24 * 3);
  if (worst > max_err || mae > max_mae)
    fail_msg ("%s: max error %.1f (limit %.1f), mean %.2f (limit %.2f)", what, worst,
              max_err, mae, max_mae);
}

static float
gray_pattern (gint x, gint y, gint c)
{
  return 10 * x + y;
}

static void
test_image_load (void **state)
{
  g_autofree char *png = data_path ("rgb.png");
  g_autoptr(MactTensor) rgb = load_ok (png);
  check_image (rgb, image_pattern, 0.0, 0.0, "rgb.png");

  g_autofree char *gray_path = data_path ("gray.png");
  g_autoptr(MactTensor) gray = load_ok (gray_path);
  check_image (gray, gray_pattern, 0.0, 0.0, "gray.png");

  g_autofree char *rgba_path = data_path ("rgba.png");
  g_autoptr(MactTensor) rgba = load_ok (rgba_path);
  check_image (rgba, image_pattern, 0.0, 0.0, "rgba.png (alpha dropped)");

  g_autofree char *jpg444 = data_path ("rgb444.jpg");
  g_autoptr(MactTensor) j444 = load_ok (jpg444);
  check_image (j444, image_pattern, 6.0, 1.5, "rgb444.jpg");

  /* 4:2:0 halves the chroma resolution of a steep gradient: larger local errors. */
  g_autofree char *jpg420 = data_path ("rgb420.jpg");
  g_autoptr(MactTensor) j420 = load_ok (jpg420);
  check_image (j420, image_pattern, 24.0, 4.0, "rgb420.jpg");

  /* The content decides, not the name: a PNG named .jpg loads. */
  g_autofree char *renamed = tmp_path ("really-a-png.jpg");
  g_autofree char *contents = NULL;
  gsize len = 0;
  assert_true (g_file_get_contents (png, &contents, &len, NULL));
  write_file (renamed, contents, len);
  g_autoptr(MactTensor) again = load_ok (renamed);
  check_image (again, image_pattern, 0.0, 0.0, "PNG named .jpg");
}

static void
test_image_errors (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = tmp_path ("missing.png");
  assert_null (mact_image_load (missing, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_NOT_FOUND);

  g_autofree char *text = tmp_path ("text.png");
  const char *words = "Not an image, although the name says so.\n";
  write_file (text, words, strlen (words));
  assert_null (mact_image_load (text, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT);

  g_autofree char *zero = tmp_path ("zero.jpg");
  write_file (zero, "", 0);
  assert_null (mact_image_load (zero, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_FORMAT);

  /* A JPEG cut after its headers: recognised, but not decodable. */
  g_autofree char *jpg = data_path ("rgb444.jpg");
  g_autofree char *contents = NULL;
  gsize len = 0;
  assert_true (g_file_get_contents (jpg, &contents, &len, NULL));
  g_autofree char *cut = tmp_path ("cut.jpg");
  const char *sos = find_bytes (contents, len, "\xff\xda", 2);   /* start of scan */
  assert_non_null (sos);
  write_file (cut, contents, (gsize) (sos - contents));
  assert_null (mact_image_load (cut, &error));
  mact_test_assert_error (&error, MACT_VIDEO_ERROR, MACT_VIDEO_ERROR_DECODE);
}

/* The writer's image sequences: numbered PNG (lossless, so rounding and clamping show
 * exactly) and JPEG files, read back with mact_image_load. */
static void
test_image_sequence (void **state)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = tmp_path ("rawframes");
  assert_int_equal (g_mkdir (dir, 0755), 0);
  g_autofree char *pattern = g_build_filename (dir, "img_%05d.png", NULL);
  const gint w = 16, h = 16;

  /* Frame t at (y, x, c): a value that rounds to a known byte. */
  gint64 shape[4] = { 2, h, w, 3 };
  g_autoptr(MactTensor) frames = mact_tensor_new (4, shape, NULL);
  float *d = mact_tensor_get_data (frames);
  for (gint t = 0; t < 2; t++)
    for (gint y = 0; y < h; y++)
      for (gint x = 0; x < w; x++)
        for (gint c = 0; c < 3; c++)
          d[(((gsize) t * h + y) * w + x) * 3 + c] = 10.4f * x + 3.0f * y + 40.0f * c + t;
  /* Clamping and NaN. */
  d[0] = -30.0f;
  d[1] = 300.0f;
  d[2] = NAN;
  d[3] = 12.5f;
  d[4] = 12.49f;

  g_autoptr(MactVideoWriter) writer = mact_video_writer_new (pattern, w, h, 25.0, &error);
  if (writer == NULL)
    fail_msg ("%s", error->message);
  assert_true (mact_video_writer_write (writer, frames, &error));
  assert_true (mact_video_writer_close (writer, &error));

  for (gint t = 0; t < 2; t++)
    {
      g_autofree char *name = g_strdup_printf ("img_%05d.png", t + 1);
      g_autofree char *file = g_build_filename (dir, name, NULL);
      g_autoptr(MactTensor) image = load_ok (file);
      assert_int_equal (mact_tensor_get_numel (image), h * w * 3);
      const float *got = mact_tensor_get_data (image);
      for (gsize k = 0; k < (gsize) h * w * 3; k++)
        {
          float v = d[(gsize) t * h * w * 3 + k];
          float expected = isnan (v) ? 0.0f : v <= 0.0f ? 0.0f : v >= 255.0f ? 255.0f
                           : floorf (v + 0.5f);
          if (got[k] != expected)
            fail_msg ("%s element %zu: %g, expected %g (from %g)", name, k, got[k],
                      expected, v);
        }
    }

  /* JPEG: MJPEG at a high quality. */
  g_autofree char *jpattern = g_build_filename (dir, "frame_%03d.jpg", NULL);
  g_autoptr(MactTensor) clip = make_clip (2);
  g_autoptr(MactVideoWriter) jwriter = mact_video_writer_new (jpattern, W, H, 25.0, &error);
  assert_non_null (jwriter);
  assert_true (mact_video_writer_write (jwriter, clip, &error));
  assert_true (mact_video_writer_close (jwriter, &error));
  for (gint t = 0; t < 2; t++)
    {
      g_autofree char *name = g_strdup_printf ("frame_%03d.jpg", t + 1);
      g_autofree char *file = g_build_filename (dir, name, NULL);
      g_autoptr(MactTensor) image = load_ok (file);
      gint64 one_shape[4] = { 1, H, W, 3 };
      g_autoptr(MactTensor) batch = mact_tensor_reshape (image, 4, one_shape, NULL);
      assert_frame (batch, 0, clip, t, name);
    }
}

int
main (void)
{
  mact_test_init ();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_mp4_roundtrip),
    cmocka_unit_test (test_avi_roundtrip),
    cmocka_unit_test (test_mp4_bframes),
    cmocka_unit_test (test_mkv_bframes),
    cmocka_unit_test (test_avi_bframes),
    cmocka_unit_test (test_long_gop_seek),
    cmocka_unit_test (test_properties_and_single_frames),
    cmocka_unit_test (test_dispose_closes),
    cmocka_unit_test (test_gif_from_pil),
    cmocka_unit_test (test_open_errors),
    cmocka_unit_test (test_index_errors),
    cmocka_unit_test (test_truncated_avi),
    cmocka_unit_test (test_truncated_mp4),
    cmocka_unit_test (test_truncated_mkv),
    cmocka_unit_test (test_corrupt_frame),
    cmocka_unit_test (test_corrupt_frame_bframes),
    cmocka_unit_test (test_partly_damaged_policy),
    cmocka_unit_test (test_random_damage),
    cmocka_unit_test (test_avi_h264_counting),
    cmocka_unit_test (test_corrupt_frame_counting),
    cmocka_unit_test (test_writer_errors),
    cmocka_unit_test (test_image_load),
    cmocka_unit_test (test_image_errors),
    cmocka_unit_test (test_image_sequence),
  };
  return cmocka_run_group_tests (tests, group_setup, group_teardown);
}
