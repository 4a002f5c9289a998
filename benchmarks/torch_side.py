"""The PyTorch side of benchmarks/run.py, run by it with Debian's /usr/bin/python3.

  torch_side.py prepare DIR MODEL...
      For each model: seeded weights as DIR/MODEL.safetensors (mact's keys, which are
      also the PyTorch wrapper's, see models.py), the mact config DIR/MODEL.json, the
      input DIR/MODEL.npy (mact's shape, [N, V, ...]), and for the inference models
      DIR/MODEL.infer.npy (the same values without the batch dimension, what
      `mact infer` takes) with PyTorch's scores DIR/MODEL.expected.json, so that run.py
      --check can show both sides compute the same function.

  torch_side.py run DIR MODEL --threads N --iters K --warmup W
      Loads the weights and the input from those files (not from the seed), runs one
      cold run, W warm-up runs and K timed ones, and prints one JSON object: the timed
      runs, their median and the time from this process's start to the first result.

A run is what `mact bench` times: eval-mode forward under torch.no_grad(), or with a
training model one step of SGD (zero_grad, forward, cross-entropy, item(), backward,
step), as mmaction2's train_step and optimizer hook do.
"""
import time

T_START = time.monotonic()

import argparse  # noqa: E402
import ast  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    sys.exit("torch_side.py: %s; run it with Debian's /usr/bin/python3 and python3-torch, "
             "python3-torchvision (tools/install-deps.sh --reference)" % e)


# ---------------------------------------------------------------------------- files

def save_safetensors(path, tensors):
    """{key: tensor} as an F32 safetensors file (num_batches_tracked too, as
    tests/fixtures/fixtures.py writes them)."""
    header, blobs, offset = {}, [], 0
    for key in sorted(tensors):
        raw = tensors[key].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[key] = {"dtype": "F32", "shape": list(tensors[key].shape),
                       "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError("%s: %s is %s, expected F32" % (path, key, info["dtype"]))
        a, b = info["data_offsets"]
        out[key] = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32).reshape(
            info["shape"])
    return out


def save_npy(path, tensor):
    """A little-endian float32 C-order .npy (format 1.0), without numpy."""
    t = tensor.detach().to(torch.float32).contiguous()
    shape = tuple(t.shape)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (
        "(%d,)" % shape[0] if len(shape) == 1 else str(shape))
    pad = -(10 + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
        f.write(t.numpy().tobytes())


def load_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY" or data[6] != 1:
        raise ValueError("%s: not a version 1 .npy file" % path)
    (n,) = struct.unpack("<H", data[8:10])
    header = ast.literal_eval(data[10:10 + n].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        raise ValueError("%s: expected little-endian float32 in C order" % path)
    return torch.frombuffer(bytearray(data[10 + n:]), dtype=torch.float32).reshape(
        header["shape"])


# ---------------------------------------------------------------------------- prepare

def prepare(out_dir, names):
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name in names:
        spec = models.MODELS[name]
        t0 = time.monotonic()
        model = models.build(name)
        models.fill(model, spec["seed"])
        model.eval()
        base = os.path.join(out_dir, name)
        save_safetensors(base + ".safetensors", model.state_dict())
        with open(base + ".json", "w") as f:
            json.dump(spec["config"], f, indent=1)
        g = torch.Generator().manual_seed(spec["seed"] + 1)
        x = torch.randn(spec["mact_shape"], generator=g)
        save_npy(base + ".npy", x)
        if not spec["train"]:
            save_npy(base + ".infer.npy", x[0])
            with torch.no_grad():
                scores = model(x.reshape(spec["torch_shape"]))
            if not torch.isfinite(scores).all():
                sys.exit("torch_side.py: %s: the scores are not finite; change the "
                         "weights' scale in models.fill()" % name)
            with open(base + ".expected.json", "w") as f:
                json.dump(scores.reshape(-1).tolist(), f)
        with open(base + ".stamp", "w") as f:
            f.write("%d\n" % models.DATA_VERSION)
        print("prepared %s in %.1f s" % (name, time.monotonic() - t0), file=sys.stderr)


# ---------------------------------------------------------------------------- run

def run(data_dir, name, threads, iters, warmup):
    spec = models.MODELS[name]
    torch.set_num_threads(threads)
    base = os.path.join(data_dir, name)
    model = models.build(name)
    # strict: every key of the file and of the model, as mact loads them
    model.load_state_dict(load_safetensors(base + ".safetensors"), strict=True)
    x = load_npy(base + ".npy").reshape(spec["torch_shape"])

    if spec["train"]:
        model.train()
        opt = torch.optim.SGD(model.parameters(), **models.SGD)
        g = torch.Generator().manual_seed(spec["seed"] + 2)
        labels = torch.randint(0, 400, (x.shape[0],), generator=g)

        def once():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), labels)
            loss.item()      # mmaction2's parse_losses logs it
            loss.backward()
            opt.step()
    else:
        model.eval()

        def once():
            with torch.no_grad():
                model(x)

    times, first = [], None
    for i in range(-1 - warmup, iters):
        t0 = time.monotonic()
        once()
        t1 = time.monotonic()
        if first is None:
            first = (t1 - T_START) * 1000.0
        if i >= 0:
            times.append((t1 - t0) * 1000.0)
    json.dump({"model": name, "torch": torch.__version__, "threads": torch.get_num_threads(),
               "times_ms": times, "median_ms": statistics.median(times),
               "time_to_first_result_ms": first}, sys.stdout)
    print()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("dir")
    pp.add_argument("models", nargs="+", choices=list(models.MODELS))
    pr = sub.add_parser("run")
    pr.add_argument("dir")
    pr.add_argument("model", choices=list(models.MODELS))
    pr.add_argument("--threads", type=int, required=True)
    pr.add_argument("--iters", type=int, default=5)
    pr.add_argument("--warmup", type=int, default=1)
    a = p.parse_args(argv)
    if a.cmd == "prepare":
        prepare(a.dir, a.models)
    else:
        run(a.dir, a.model, a.threads, a.iters, a.warmup)


if __name__ == "__main__":
    main(sys.argv[1:])
