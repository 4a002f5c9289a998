#!/usr/bin/python3
"""Mact-1.0 from Python on video files: a clip written with Mact.VideoWriter from NumPy,
classified by Mact.Inference synchronously and through the GTask API on a
GLib.MainLoop, cancellation through Gio.Cancellable, and mact's video error domain."""

import os
import tempfile
import threading

from mactgi import GLib, Mact, MactTestCase, SRCDIR, main, np, tensor_from_numpy, \
    tensor_to_numpy

from gi.repository import Gio  # loaded with Mact, which depends on it

# A tiny I3D (ResNet3d-18 with 4 base channels) and mmaction2's I3D video test pipeline,
# shrunk to 2 clips of 4 frames cropped to 32x32: a clip classifies in milliseconds
# (seconds in valgrind).  Its head's init_std is larger than mmaction2's 0.01 so that the
# random scores differ visibly between classes, and so between inputs.
CONFIG_FILE = os.path.join(SRCDIR, "tiny-i3d-video.json")
NUM_CLASSES = 4

N_FRAMES, HEIGHT, WIDTH = 16, 48, 64

# How long a main loop waits for an async callback before the test fails with a message
# rather than being killed by meson's 120 s timeout.  A callback takes milliseconds, or
# seconds under valgrind (whose setup multiplies meson's timeout, not this one).
ASYNC_TIMEOUT_S = 100


def moving_square():
    """[T, H, W, 3] RGB frames, 0-255: a bright square crossing a dark background."""
    frames = np.full((N_FRAMES, HEIGHT, WIDTH, 3), 40.0, dtype=np.float32)
    for t in range(N_FRAMES):
        x, y = 3 * t, 2 * t
        frames[t, y:y + 16, x:x + 16] = (250.0, 16.0 * t, 90.0)
    return frames


class AsyncResult:
    """What a GAsyncReadyCallback received, and on which thread."""

    def __init__(self):
        self.source = None
        self.result = None
        self.thread = None


def run_async(start):
    """Calls @start(callback), runs a main loop on the default context until the
    callback has been called, and returns what it got."""
    loop = GLib.MainLoop()
    got = AsyncResult()

    def callback(source, result):
        got.source, got.result = source, result
        got.thread = threading.get_ident()
        loop.quit()

    def timed_out():
        loop.quit()
        return GLib.SOURCE_REMOVE

    start(callback)
    timeout = GLib.timeout_add_seconds(ASYNC_TIMEOUT_S, timed_out)
    loop.run()
    if got.result is None:
        raise AssertionError(f"no async callback within {ASYNC_TIMEOUT_S} s")
    GLib.source_remove(timeout)
    return got


class VideoTest(MactTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mact-gi-video-")
        cls.video = os.path.join(cls.tmp.name, "square.mp4")
        cls.frames = moving_square()
        writer = Mact.VideoWriter.new(cls.video, WIDTH, HEIGHT, 25.0)
        writer.write(tensor_from_numpy(cls.frames))
        writer.close()
        cls.inference = Mact.Inference.new_from_files(CONFIG_FILE, None, None)

    @classmethod
    def tearDownClass(cls):
        cls.inference = None
        cls.tmp.cleanup()

    def assertCancelled(self, error):
        self.assertIsInstance(error, GLib.Error)
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED),
                        f"{error.domain} {error.code}: {error.message}")

    def check_scores(self, scores):
        # test_cfg's average_clips "prob": the mean of the clips' softmaxes.
        self.assertEqual(scores.shape, (NUM_CLASSES,))
        self.assertTrue((scores > 0).all(), scores)
        self.assertAlmostEqual(float(scores.sum()), 1.0, places=5)
        # Not a uniform distribution, or comparing two runs' scores would prove little.
        self.assertGreater(float(scores.max() - scores.min()), 0.01, scores)

    def test_written_video_reads_back(self):
        reader = Mact.VideoReader.new(self.video)
        self.assertEqual(reader.get_n_frames(), N_FRAMES)
        self.assertEqual((reader.get_width(), reader.get_height()), (WIDTH, HEIGHT))
        self.assertEqual(reader.get_fps(), 25.0)
        indices = [0, 7, N_FRAMES - 1]
        decoded = tensor_to_numpy(reader.read_frames(indices))
        self.assertEqual(decoded.shape, (len(indices), HEIGHT, WIDTH, 3))
        # MPEG-4 is lossy: close on average, with the square where it was drawn.
        error = np.abs(decoded - self.frames[indices]).mean()
        self.assertLess(error, 8.0)
        for row, t in enumerate(indices):
            y, x = 2 * t + 8, 3 * t + 8
            self.assertGreater(decoded[row, y, x, 0], 200.0)
            self.assertLess(decoded[row, 2, WIDTH - 3, 0], 80.0)

    def test_classify_sync_and_async(self):
        sync = tensor_to_numpy(self.inference.classify_file(self.video))
        self.check_scores(sync)

        got = run_async(lambda cb: self.inference.classify_file_async(self.video, None, cb))
        # GTask delivers the result in the caller's main context: this thread.
        self.assertEqual(got.thread, threading.main_thread().ident)
        self.assertIs(got.source, self.inference)
        scores = tensor_to_numpy(self.inference.classify_file_finish(got.result))
        np.testing.assert_array_equal(scores, sync)

        # classify_video_async takes the same path for a video file.
        got = run_async(lambda cb: self.inference.classify_video_async(self.video, None,
                                                                       cb))
        self.assertEqual(got.thread, threading.main_thread().ident)
        np.testing.assert_array_equal(
            tensor_to_numpy(self.inference.classify_video_finish(got.result)), sync)

    def test_new_from_files_async(self):
        expected = tensor_to_numpy(self.inference.classify_file(self.video))
        weights = os.path.join(self.tmp.name, "weights.safetensors")
        state = self.inference.get_recognizer().state_dict()
        self.assertTrue(Mact.safetensors_save(weights, state, None))

        got = run_async(lambda cb: Mact.Inference.new_from_files_async(
            CONFIG_FILE, weights, None, None, cb))
        self.assertEqual(got.thread, threading.main_thread().ident)
        inference = Mact.Inference.new_from_files_finish(got.result)
        self.assertIsInstance(inference, Mact.Inference)
        # Built in a worker thread with the same weights: the same scores.
        scores = tensor_to_numpy(inference.classify_file(self.video))
        np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-7)

        with self.assertRaises(GLib.Error) as cm:
            got = run_async(lambda cb: Mact.Inference.new_from_files_async(
                os.path.join(self.tmp.name, "no-such-config.json"), None, None, None, cb))
            Mact.Inference.new_from_files_finish(got.result)
        self.assertEqual(cm.exception.domain,
                         GLib.quark_to_string(Mact.config_error_quark()))

    def test_cancel(self):
        expected = tensor_to_numpy(self.inference.classify_file(self.video))

        # Cancelled before the call: the work never runs.
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        got = run_async(lambda cb: self.inference.classify_file_async(self.video,
                                                                      cancellable, cb))
        with self.assertRaises(GLib.Error) as cm:
            self.inference.classify_file_finish(got.result)
        self.assertCancelled(cm.exception)

        # Cancelled while the worker may be running: whether the worker stopped early or
        # had already finished, the result is the cancellation.
        cancellable = Gio.Cancellable()

        def start_then_cancel(cb):
            self.inference.classify_file_async(self.video, cancellable, cb)
            cancellable.cancel()

        got = run_async(start_then_cancel)
        with self.assertRaises(GLib.Error) as cm:
            self.inference.classify_file_finish(got.result)
        self.assertCancelled(cm.exception)

        cancellable = Gio.Cancellable()
        cancellable.cancel()
        got = run_async(lambda cb: Mact.Inference.new_from_files_async(
            CONFIG_FILE, None, None, cancellable, cb))
        with self.assertRaises(GLib.Error) as cm:
            Mact.Inference.new_from_files_finish(got.result)
        self.assertCancelled(cm.exception)

        # A cancelled call leaves the inference as it was.
        np.testing.assert_array_equal(
            tensor_to_numpy(self.inference.classify_file(self.video)), expected)

    def test_missing_video(self):
        missing = os.path.join(self.tmp.name, "no-such-video.mp4")
        with self.assertRaises(GLib.Error) as cm:
            self.inference.classify_file(missing)
        self.assertMactError(cm.exception, Mact.video_error_quark(),
                             Mact.VideoError.NOT_FOUND)
        self.assertIn("no-such-video.mp4", cm.exception.message)

        got = run_async(lambda cb: self.inference.classify_file_async(missing, None, cb))
        with self.assertRaises(GLib.Error) as cm:
            self.inference.classify_file_finish(got.result)
        self.assertMactError(cm.exception, Mact.video_error_quark(),
                             Mact.VideoError.NOT_FOUND)

        with self.assertRaises(GLib.Error) as cm:
            Mact.VideoReader.new(missing)
        self.assertMactError(cm.exception, Mact.video_error_quark(),
                             Mact.VideoError.NOT_FOUND)

    def test_not_a_video(self):
        text = os.path.join(self.tmp.name, "notes.mp4")
        with open(text, "w", encoding="utf-8") as f:
            f.write("not a video\n" * 64)
        got = run_async(lambda cb: self.inference.classify_file_async(text, None, cb))
        with self.assertRaises(GLib.Error) as cm:
            self.inference.classify_file_finish(got.result)
        self.assertMactError(cm.exception, Mact.video_error_quark(),
                             Mact.VideoError.FORMAT)

    def test_writer_errors(self):
        # An odd width, and frames of another size than the writer's.
        with self.assertRaises(GLib.Error) as cm:
            Mact.VideoWriter.new(os.path.join(self.tmp.name, "odd.mp4"), 33, 32, 25.0)
        self.assertMactError(cm.exception, Mact.video_error_quark(),
                             Mact.VideoError.INVALID_ARGUMENT)
        small = os.path.join(self.tmp.name, "small.mp4")
        writer = Mact.VideoWriter.new(small, 32, 32, 25.0)
        with self.assertRaises(GLib.Error) as cm:
            writer.write(tensor_from_numpy(np.zeros((2, 16, 16, 3), np.float32)))
        self.assertMactError(cm.exception, Mact.video_error_quark(),
                             Mact.VideoError.INVALID_ARGUMENT)
        writer.close()


if __name__ == "__main__":
    main()
