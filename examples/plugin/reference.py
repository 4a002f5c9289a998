#!/usr/bin/python3
"""The example's network in PyTorch: writes its weights and the scores mact must match.

TinyConvNet is written here as a researcher would write it for mmaction2 (an nn.Module
whose children are mmcv-style ConvModules: conv, bn, activate), and wrapped in the
parts of mmaction2's Recognizer2D and TSNHead that run at test time.  The script builds
it with a fixed seed, gives every parameter and batch-norm statistic a non-trivial value,
and writes, next to this file:

  data/tsn_tinyconv.safetensors  the recognizer's state dict, keys exactly as PyTorch
                                 names them (backbone.conv1.conv.weight, ...,
                                 cls_head.fc_cls.bias): what mact_recognizer_load_weights()
                                 and `mact infer` read;
  data/reference.safetensors     a fixed input "imgs" [1, 3, 3, 32, 32] (one video, three
                                 segments) and the scores "scores" [1, 5] it gives in
                                 eval mode with average_clips='prob'.

The C test (tests/test-tinyconv.c) loads both and compares within 1e-4.  Run with Debian's
python3 and python3-torch; mmaction2 and mmcv are not needed.  The generated files are
committed, so building and testing the example needs no Python.
"""
import json
import os
import struct

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

# Must agree with configs/tsn_tinyconv.json.
BACKBONE_ARGS = dict(in_channels=3, base_channels=4, num_stages=3)
NUM_CLASSES = 5
NUM_SEGS = 3
SIZE = 32


class ConvModule(nn.Module):
    """mmcv's ConvModule with norm_cfg=BN and act_cfg=ReLU: conv (no bias), bn, activate."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


class TinyConvNet(nn.Module):
    """A stem (conv1) and num_stages stages (layer1, layer2, ...), each one 3x3 conv-bn-relu
    of stride 2; the stages double the channels.  Output: base_channels * 2**num_stages
    channels at 1 / 2**(num_stages + 1) of the input's height and width."""

    def __init__(self, in_channels=3, base_channels=16, num_stages=3, norm_eval=False):
        super().__init__()
        assert 1 <= num_stages <= 5
        self.norm_eval = norm_eval
        self.conv1 = ConvModule(in_channels, base_channels, 2)
        channels = base_channels
        self.layer_names = []
        for i in range(num_stages):
            name = "layer%d" % (i + 1)
            self.add_module(name, ConvModule(channels, channels * 2, 2))
            self.layer_names.append(name)
            channels *= 2
        self.out_channels = channels

    def forward(self, x):
        x = self.conv1(x)
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x

    def train(self, mode=True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self


class TSNHead(nn.Module):
    """mmaction2's TSNHead at test time: average pool, average consensus, fc_cls."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.4)
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def forward(self, x, num_segs):
        x = self.avg_pool(x)
        x = x.reshape((-1, num_segs) + x.shape[1:]).mean(dim=1)
        x = self.dropout(x)
        return self.fc_cls(x.view(x.size(0), -1))


class Recognizer2D(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = TinyConvNet(**BACKBONE_ARGS)
        self.cls_head = TSNHead(NUM_CLASSES, self.backbone.out_channels)

    def forward_test(self, imgs):
        """mmaction2's Recognizer2D._do_test with test_cfg average_clips='prob'."""
        batches = imgs.shape[0]
        num_segs = imgs.shape[1]
        x = self.backbone(imgs.reshape((-1,) + imgs.shape[2:]))
        cls_score = self.cls_head(x, num_segs)
        cls_score = cls_score.view(batches, -1, cls_score.shape[-1])
        return cls_score.softmax(dim=2).mean(dim=1)


def randomise(model, generator):
    """Values far from PyTorch's defaults, so that a wrong key or layout shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bn.weight"):
                p.uniform_(0.5, 1.5, generator=generator)
            elif name.endswith("bn.bias") or name.endswith("fc_cls.bias"):
                p.normal_(0.0, 0.2, generator=generator)
            else:
                fan_in = p[0].numel()
                p.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.normal_(0.0, 0.1, generator=generator)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 2.0, generator=generator)
            elif name.endswith("num_batches_tracked"):
                b.fill_(100)


def write_safetensors(path, tensors, metadata):
    """A safetensors file: F32 for floating-point tensors, I64 for integer ones."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        if t.is_floating_point():
            dtype, raw = "F32", t.to(torch.float32).numpy().tobytes()
        else:
            dtype, raw = "I64", t.to(torch.int64).numpy().tobytes()
        header[key] = {"dtype": dtype, "shape": list(t.shape),
                       "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def main():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(20240601)
    model = Recognizer2D()
    randomise(model, generator)
    model.eval()

    # Roughly the value range of normalised images.
    imgs = torch.randn(1, NUM_SEGS, 3, SIZE, SIZE, generator=generator)
    with torch.no_grad():
        scores = model.forward_test(imgs)

    os.makedirs(DATA, exist_ok=True)
    write_safetensors(os.path.join(DATA, "tsn_tinyconv.safetensors"), model.state_dict(),
                      {"format": "pt", "source": "examples/plugin/reference.py"})
    write_safetensors(os.path.join(DATA, "reference.safetensors"),
                      {"imgs": imgs, "scores": scores},
                      {"torch": torch.__version__, "average_clips": "prob"})
    print("keys:", ", ".join(model.state_dict().keys()))
    print("scores:", [round(v, 6) for v in scores[0].tolist()])


if __name__ == "__main__":
    main()
