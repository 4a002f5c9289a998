#!/usr/bin/python3
"""Converts a PyTorch checkpoint (.pth/.pt) to a safetensors file that mact loads.

Accepted inputs:
  * an mmaction2 (mmcv runner) checkpoint {"meta": {...}, "state_dict": {...},
    "optimizer": {...}}: the state dict is converted, the optimizer state dropped and the
    meta kept in the output's metadata as a JSON string;
  * a {"model": {...}} dict (the form many training scripts save);
  * a bare state dict, as torchvision's model zoo files are;
  * a whole pickled nn.Module (its state_dict() is converted).

Keys are kept exactly (mact uses PyTorch's names), except that --strip-prefix removes a
prefix such as "module." left by DataParallel.  Floating-point tensors keep their dtype
(F32, F16, BF16, F64), integer tensors are written as I64 and booleans as BOOL; mact
converts them all to float32 when it loads the file.  The output's metadata records the
source file name ("source"), "format": "pt", and the mmaction2 meta ("meta") when there is
one.

Needs Debian's python3-torch (only here: mact itself never needs torch).  torch.load
unpickles, which can run code from the file: convert only checkpoints you trust, or pass
--weights-only (PyTorch's restricted unpickler; mmaction2 checkpoints whose meta holds
other objects may then fail to load).

Exit status: 0 on success, 1 when the conversion fails (the message goes to stderr), 2 on
a usage error.
"""
import argparse
import collections
import json
import os
import struct
import sys
import tempfile

PROG = "convert-checkpoint"

# torch dtype name -> safetensors dtype, for the floating-point types written unchanged
FLOAT_DTYPES = {
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "float64": "F64",
}
INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8")


class ConversionError(Exception):
    """A problem with the input that is reported to the user without a traceback."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Convert a PyTorch checkpoint (an mmaction2 checkpoint with "
                    "'state_dict', a {'model': ...} dict, or a bare torchvision state "
                    "dict) to a .safetensors file that mact can load. Keys are kept.",
        epilog="torch.load runs pickled code: convert only files you trust. "
               "Exit status: 0 success, 1 conversion error, 2 usage error.")
    parser.add_argument("input", help="the .pth/.pt checkpoint to read")
    parser.add_argument("output", nargs="?",
                        help="the .safetensors file to write (default: the input with "
                             "its extension replaced by .safetensors)")
    parser.add_argument("--strip-prefix", metavar="PREFIX", default=None,
                        help="remove PREFIX from the keys that start with it, e.g. "
                             "'module.' from a DataParallel checkpoint")
    parser.add_argument("--weights-only", action="store_true",
                        help="load with torch.load(weights_only=True), which refuses "
                             "arbitrary pickled objects")
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUTPUT if it exists")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="do not print a summary")
    args = parser.parse_args(argv)
    if args.output is None:
        root, _ = os.path.splitext(args.input)
        args.output = root + ".safetensors"
    if args.strip_prefix == "":
        parser.error("--strip-prefix must not be empty")
    return args


def load_checkpoint(path, weights_only):
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    import torch  # imported here so that --help and usage errors work without torch

    kwargs = {"map_location": "cpu"}
    if weights_only:
        kwargs["weights_only"] = True
    try:
        return torch.load(path, **kwargs)
    except Exception as exc:  # torch raises many types for a bad file
        raise ConversionError(f"{path}: cannot load with torch.load: {exc}") from exc


def find_state_dict(checkpoint, path):
    """Returns (state_dict, meta) from the forms of checkpoint we accept."""
    import torch

    if isinstance(checkpoint, torch.nn.Module):
        return checkpoint.state_dict(), None
    if not isinstance(checkpoint, dict):
        raise ConversionError(
            f"{path}: expected a dict (a checkpoint or a state dict), got "
            f"{type(checkpoint).__name__}")
    meta = checkpoint.get("meta")
    for key in ("state_dict", "model"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key], meta if isinstance(meta, dict) else None
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint, None
    keys = ", ".join(repr(k) for k in list(checkpoint)[:8])
    raise ConversionError(
        f"{path}: found neither a 'state_dict' nor a 'model' entry, nor a bare state "
        f"dict of tensors (top-level keys: {keys or 'none'})")


def convert_tensors(state_dict, strip_prefix, path):
    """Returns an ordered {key: (safetensors dtype, shape, bytes)}."""
    import torch

    out = collections.OrderedDict()
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ConversionError(f"{path}: key {key!r} is not a string")
        if not isinstance(value, torch.Tensor):
            raise ConversionError(
                f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        name = key
        if strip_prefix and name.startswith(strip_prefix):
            name = name[len(strip_prefix):]
        if name == "__metadata__":
            raise ConversionError(f"{path}: a tensor may not be named '__metadata__'")
        if name in out:
            raise ConversionError(
                f"{path}: key {key!r} becomes {name!r}, which another key already has")
        if value.is_quantized or value.is_sparse or value.is_complex():
            raise ConversionError(
                f"{path}: tensor {key!r} is quantized, sparse or complex "
                f"({value.dtype}); mact loads dense real tensors only")

        t = value.detach().cpu().contiguous()
        dtype_name = str(t.dtype).replace("torch.", "")
        if dtype_name in FLOAT_DTYPES:
            st_dtype = FLOAT_DTYPES[dtype_name]
        elif dtype_name in INT_DTYPES:
            st_dtype, t = "I64", t.to(torch.int64)
        elif dtype_name == "bool":
            st_dtype = "BOOL"
        else:
            raise ConversionError(
                f"{path}: tensor {key!r} has dtype {t.dtype}, which safetensors for mact "
                f"does not hold")
        out[name] = (st_dtype, list(t.shape), tensor_bytes(t))
    return out


def tensor_bytes(t):
    """The tensor's values as little-endian bytes in row-major order."""
    import torch

    if t.dtype == torch.bfloat16:
        # NumPy has no bfloat16: reinterpret the same bits as int16.
        array = t.view(torch.int16).numpy()
    else:
        array = t.numpy()
    if array.dtype.itemsize > 1:
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return array.tobytes(order="C")


DTYPE_SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2,
               "I8": 1, "U8": 1, "BOOL": 1}


def encode_safetensors(tensors, metadata):
    """Returns the bytes of a safetensors file.

    The header lists the tensors in their order.  The data is laid out by decreasing
    element size (stable), so that, with the header padded to a multiple of 8, every
    tensor starts at an offset aligned for its dtype and mact can map F32 data in place;
    the ranges still tile the data buffer with no holes, as the format requires.
    """
    layout = sorted(tensors, key=lambda k: -DTYPE_SIZES[tensors[k][0]])
    offsets, position = {}, 0
    for name in layout:
        size = len(tensors[name][2])
        offsets[name] = (position, position + size)
        position += size

    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for name, (dtype, shape, _) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": list(offsets[name])}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text] +
                    [tensors[name][2] for name in layout])


def write_atomically(path, data):
    """Writes through a temporary file in the same directory, fsync and rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def meta_to_json(meta):
    # mmcv's meta holds strings, numbers and lists, sometimes numpy values or tuples:
    # anything JSON cannot hold is written as its str().
    return json.dumps(meta, default=str, sort_keys=True, ensure_ascii=False)


def convert(args):
    if os.path.isdir(args.output):
        raise ConversionError(f"{args.output}: is a directory")
    if os.path.exists(args.output) and not args.force:
        raise ConversionError(f"{args.output}: exists (pass --force to overwrite)")
    checkpoint = load_checkpoint(args.input, args.weights_only)
    state_dict, meta = find_state_dict(checkpoint, args.input)
    tensors = convert_tensors(state_dict, args.strip_prefix, args.input)
    if not tensors:
        raise ConversionError(f"{args.input}: the state dict is empty")
    metadata = {"format": "pt", "source": os.path.basename(args.input)}
    if meta is not None:
        metadata["meta"] = meta_to_json(meta)
    data = encode_safetensors(tensors, metadata)
    try:
        write_atomically(args.output, data)
    except OSError as exc:
        raise ConversionError(f"{args.output}: cannot write: {exc}") from exc
    if not args.quiet:
        print(f"{args.output}: {len(tensors)} tensors, {len(data)} bytes")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        convert(args)
    except ConversionError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"{PROG}: error: {exc} (install Debian's python3-torch)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
