#!/usr/bin/python3
"""Write a small synthetic video with mact from a NumPy array.

    write_clip.py [--frames N] [--size S] OUT.mp4

A bright square crosses a dark background diagonally, changing colour as it goes: enough
motion and colour for a recognizer's pipeline to have something to sample, in a file of
a few kilobytes.  The container comes from OUT's extension (.mp4, .avi, .mkv, ...).
"""

import argparse
import sys

import gi

gi.require_version("GLib", "2.0")
gi.require_version("Mact", "1.0")
from gi.repository import GLib, Mact  # noqa: E402

import numpy as np  # noqa: E402


def tensor_from_numpy(array):
    """A Mact.Tensor holding a copy of @array as float32.

    Mact.Tensor.new_from_bytes() takes the raw values (native-endian float32, row-major)
    and the shape; ascontiguousarray() makes .tobytes() give exactly that layout.
    """
    array = np.ascontiguousarray(array, dtype=np.float32)
    return Mact.Tensor.new_from_bytes(GLib.Bytes.new(array.tobytes()), list(array.shape))


def moving_square(n_frames, size):
    """[n_frames, size, size, 3] RGB frames, 0-255, as MactVideoWriter takes them."""
    frames = np.full((n_frames, size, size, 3), 32.0, dtype=np.float32)
    side = size // 4
    for t in range(n_frames):
        # From the top-left corner to the bottom-right one over the clip.
        pos = round(t * (size - side) / max(n_frames - 1, 1))
        colour = (255.0, 255.0 * t / max(n_frames - 1, 1), 64.0)
        frames[t, pos:pos + side, pos:pos + side] = colour
    return frames


def main():
    parser = argparse.ArgumentParser(description="Write a synthetic clip of a moving "
                                                 "square to OUT through Mact.VideoWriter.")
    parser.add_argument("out", metavar="OUT.mp4")
    parser.add_argument("--frames", type=int, default=16, help="frame count (default: 16)")
    parser.add_argument("--size", type=int, default=64,
                        help="width and height, even and at least 16 (default: 64)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate (default: 25)")
    args = parser.parse_args()
    if args.frames < 1:
        parser.error("--frames must be at least 1")

    frames = moving_square(args.frames, args.size)
    try:
        # Mact.VideoWriter checks the size itself (even, at least 16): no need to
        # repeat its rules here.
        writer = Mact.VideoWriter.new(args.out, args.size, args.size, args.fps)
        writer.write(tensor_from_numpy(frames))
        # close() flushes the encoder and writes the trailer; an error there (a full
        # disk) would otherwise be lost when the writer is freed.
        writer.close()
    except GLib.Error as e:
        print(f"{parser.prog}: {e.message}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.frames} frames, {args.size}x{args.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
