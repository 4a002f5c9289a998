#!/usr/bin/python3
"""Classify one video with mact from Python without blocking a GLib main loop.

    classify.py [--label-map FILE] CONFIG VIDEO [WEIGHTS]

The Python twin of examples/glib-app: the config is parsed, the recognizer built, the
video decoded and the network run in mact's worker threads, and the results come back as
callbacks on this thread's GLib.MainLoop, so a GTK window would keep drawing meanwhile.
Ctrl-C cancels the work in flight through a Gio.Cancellable.

Prints the five best classes as "label: score" lines, best first (as `mact infer` does);
errors print the GLib.Error's message and exit with status 1.
"""

import argparse
import signal
import sys

import gi

gi.require_version("GLib", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("Mact", "1.0")
from gi.repository import Gio, GLib, Mact  # noqa: E402

import numpy as np  # noqa: E402

TOP_K = 5


def tensor_to_numpy(tensor):
    """A float32 NumPy copy of a Mact.Tensor, in its shape.

    to_bytes() copies the values out in row-major order whatever the tensor's strides,
    so the buffer can be viewed directly with the tensor's shape.
    """
    data = tensor.to_bytes().get_data()
    return np.frombuffer(data, dtype=np.float32).reshape(tensor.get_shape())


class App:
    def __init__(self, prog, config, video, weights, labels):
        self.prog = prog
        self.config = config
        self.video = video
        self.weights = weights
        self.labels = labels
        self.loop = GLib.MainLoop()
        # One cancellable for every step: a Ctrl-C stops whichever is running.
        self.cancellable = Gio.Cancellable()
        self.status = 1

    def run(self):
        # A GLib signal source runs the handler in the main loop.  It also replaces
        # PyGObject's own SIGINT fallback, which would quit the loop and raise
        # KeyboardInterrupt without stopping the worker thread.
        sigint = GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT,
                                      self.on_sigint)
        # The callbacks run in the caller's thread-default main context: here the
        # default one, which self.loop runs.
        Mact.Inference.new_from_files_async(self.config, self.weights, None,
                                            self.cancellable, self.on_inference_ready)
        self.loop.run()
        if sigint:
            GLib.source_remove(sigint)
        return self.status

    def fail(self, message):
        print(f"{self.prog}: {message}", file=sys.stderr)
        self.status = 1
        self.loop.quit()

    def on_sigint(self):
        # The worker stops between pipeline steps or layers; the pending _finish then
        # raises G_IO_ERROR_CANCELLED, handled like any other error.
        print(f"{self.prog}: interrupted, cancelling", file=sys.stderr)
        self.cancellable.cancel()
        # Removing the source restores the default handler for a second Ctrl-C.
        return GLib.SOURCE_REMOVE

    def on_inference_ready(self, _source, result):
        try:
            inference = Mact.Inference.new_from_files_finish(result)
        except GLib.Error as e:
            self.fail(e.message)
            return
        inference.classify_file_async(self.video, self.cancellable, self.on_classified)

    def on_classified(self, inference, result):
        try:
            scores = tensor_to_numpy(inference.classify_file_finish(result))
        except GLib.Error as e:
            self.fail(e.message)
            return

        # [num_classes]; [views, num_classes] when the config's test_cfg says
        # average_clips "none", in which case each view is printed on its own.
        if self.labels is not None and len(self.labels) != scores.shape[-1]:
            self.fail(f"the label map has {len(self.labels)} class names but the model "
                      f"gives {scores.shape[-1]} scores")
            return
        if scores.ndim == 1:
            self.print_top(scores, "")
        else:
            for view, row in enumerate(scores):
                print(f"view {view}:")
                self.print_top(row, "  ")
        sys.stdout.flush()
        self.status = 0
        self.loop.quit()

    def print_top(self, scores, indent):
        # A stable sort of the negated scores: ties keep the lower class index first.
        for index in np.argsort(-scores, kind="stable")[:TOP_K]:
            name = self.labels[index] if self.labels is not None else str(index)
            print(f"{indent}{name}: {scores[index]:.4f}")


def main():
    parser = argparse.ArgumentParser(
        description="Classify VIDEO with the recognizer and test pipeline of CONFIG (an "
                    "mmaction2-style JSON config) and print the top-5 classes.")
    parser.add_argument("config", metavar="CONFIG")
    parser.add_argument("video", metavar="VIDEO")
    parser.add_argument("weights", metavar="WEIGHTS", nargs="?",
                        help=".safetensors or checkpoint .json (default: random init)")
    parser.add_argument("-l", "--label-map", metavar="FILE",
                        help="class names, one per line (the first names class 0)")
    args = parser.parse_args()

    labels = None
    if args.label_map is not None:
        # Read before any slow work, so that a wrong path fails at once.
        try:
            labels = Mact.label_map_load(args.label_map)
        except GLib.Error as e:
            print(f"{parser.prog}: {e.message}", file=sys.stderr)
            return 1

    return App(parser.prog, args.config, args.video, args.weights, labels).run()


if __name__ == "__main__":
    sys.exit(main())
