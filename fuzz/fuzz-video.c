/* fuzz-video.c: the video input path on mutated clips.
 *
 * The bytes are put in an in-memory file and opened with mact_video_reader_new() (which
 * demuxes every packet to count the frames), then a few frames are decoded: the first,
 * one in the middle, the last, and the first again (a backwards seek).  The same bytes
 * also go through mact_image_load().  Any outcome but a tensor of the promised shape or a
 * MACT_VIDEO_ERROR is a bug; FFmpeg's own libraries are not instrumented, so what is
 * fuzzed for coverage is mact's reader around them.  Seeds: tiny clips made with
 * MactVideoWriter (fuzz/corpus/video/, see tools/run-fuzzers.sh). */
#include "fuzz-common.h"

#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_frames (MactTensor *frames, gint64 n, gint height, gint width)
{
  gint ndim = 0;
  const gint64 *shape = mact_tensor_get_shape (frames, &ndim);
  if (ndim != 4 || shape[0] != n || shape[1] != height || shape[2] != width || shape[3] != 3)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mact_fuzz_init ();
  char path[64];
  int fd = mact_fuzz_memfd (data, size, "video", path, sizeof path);

  g_autoptr(GError) error = NULL;
  g_autoptr(MactVideoReader) reader = mact_video_reader_new (path, &error);
  if (reader == NULL)
    {
      if (error == NULL || error->domain != MACT_VIDEO_ERROR)
        abort ();
      g_clear_error (&error);
    }
  else
    {
      gint64 n = mact_video_reader_get_n_frames (reader);
      gint width = mact_video_reader_get_width (reader);
      gint height = mact_video_reader_get_height (reader);
      if (n < 1 || width < 1 || height < 1)
        abort ();
      const gint64 indices[] = { 0, n / 2, n - 1, 0 };
      /* Only small pictures are decoded: a mutated header may claim 16384 x 16384, and
       * allocating that is not what this target tests. */
      if ((gint64) width * height <= 256 * 256)
        {
          g_autoptr(MactTensor) frames = mact_video_reader_read_frames (
            reader, indices, G_N_ELEMENTS (indices), &error);
          if (frames != NULL)
            check_frames (frames, G_N_ELEMENTS (indices), height, width);
          else if (error == NULL || error->domain != MACT_VIDEO_ERROR)
            abort ();
          g_clear_error (&error);
        }
      /* An index out of range is an error, never a read. */
      const gint64 outside = n;
      if (mact_video_reader_read_frames (reader, &outside, 1, &error) != NULL)
        abort ();
      g_clear_error (&error);
    }

  g_autoptr(MactTensor) image = mact_image_load (path, &error);
  if (image == NULL && (error == NULL || error->domain != MACT_VIDEO_ERROR))
    abort ();
  close (fd);
  return 0;
}
