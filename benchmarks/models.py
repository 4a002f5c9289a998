"""The models benchmarks/run.py compares (issue 9's table), as data both sides share.

This module imports nothing beyond the standard library at load time: run.py (which
must stay small, see run.py) reads the table; torch_side.py calls build() and the other
functions that need PyTorch.

Every PyTorch model is arranged so that its state-dict keys are the keys mact's
recognizer expects (backbone.*, cls_head.fc_cls.*): torchvision's classifier `fc`
becomes the head's fc_cls, applied to the same pooled features, which computes exactly
what torchvision's own forward does.  One safetensors file thus loads on both sides.
"""

# Bump when the prepared files (weights, inputs, configs) change meaning.
DATA_VERSION = 1

_TV_VIDEO_HEAD = {"type": "I3DHead", "num_classes": 400, "in_channels": 512,
                  # torchvision's video ResNets end in avgpool, flatten, fc: the
                  # features reach the head pooled (C3D's spatial_type None).
                  "spatial_type": None,
                  # no dropout in torchvision's models: the training steps match
                  "dropout_ratio": 0.0}


def _tv_video(builder):
    return {"model": {"type": "Recognizer3D", "backbone": {"type": "tv." + builder},
                      "cls_head": dict(_TV_VIDEO_HEAD),
                      "test_cfg": {"average_clips": "score"}}}


# name: title (as in the issue), mact input shape, PyTorch input shape, training?, the
# mact config, and issue 9's PyTorch reference at 2 threads (ms, MB) for orientation.
MODELS = {
    "tsn_r50": {
        "title": "TSN ResNet-50", "input": "8x3x224x224",
        "mact_shape": (1, 8, 3, 224, 224), "torch_shape": (8, 3, 224, 224), "train": False,
        "config": {"model": {
            "type": "Recognizer2D", "backbone": {"type": "tv.resnet50"},
            "cls_head": {"type": "TSNHead", "num_classes": 400, "in_channels": 2048,
                         "dropout_ratio": 0.4},
            "test_cfg": {"average_clips": "score"}}},
        "issue": (595, 472), "seed": 901,
    },
    "r3d_18": {
        "title": "r3d_18", "input": "1x3x16x112x112",
        "mact_shape": (1, 1, 3, 16, 112, 112), "torch_shape": (1, 3, 16, 112, 112),
        "train": False, "config": _tv_video("r3d_18"), "issue": (736, 464), "seed": 902,
    },
    "r2plus1d_18": {
        "title": "r2plus1d_18", "input": "1x3x16x112x112",
        "mact_shape": (1, 1, 3, 16, 112, 112), "torch_shape": (1, 3, 16, 112, 112),
        "train": False, "config": _tv_video("r2plus1d_18"), "issue": (805, 517),
        "seed": 903,
    },
    "mc3_18": {
        "title": "mc3_18", "input": "1x3x16x112x112",
        "mact_shape": (1, 1, 3, 16, 112, 112), "torch_shape": (1, 3, 16, 112, 112),
        "train": False, "config": _tv_video("mc3_18"), "issue": (546, 381), "seed": 904,
    },
    "mobilenet_v2_tsm": {
        "title": "MobileNetV2 TSM, 8 segments", "input": "8x3x224x224",
        "mact_shape": (1, 8, 3, 224, 224), "torch_shape": (8, 3, 224, 224), "train": False,
        "config": {"model": {
            "type": "Recognizer2D",
            "backbone": {"type": "MobileNetV2TSM", "num_segments": 8, "shift_div": 8,
                         "is_shift": True, "pretrained": None},
            "cls_head": {"type": "TSMHead", "num_segments": 8, "num_classes": 400,
                         "in_channels": 1280, "spatial_type": "avg",
                         "consensus": {"type": "AvgConsensus", "dim": 1},
                         "dropout_ratio": 0.5, "is_shift": True},
            "test_cfg": {"average_clips": "score"}}},
        "issue": (181, 409), "seed": 905,
    },
    "r3d_18_train": {
        "title": "r3d_18 training step (SGD, CE), batch 2", "input": "2x3x16x112x112",
        "mact_shape": (2, 1, 3, 16, 112, 112), "torch_shape": (2, 3, 16, 112, 112),
        "train": True, "config": _tv_video("r3d_18"), "issue": (3560, 1536), "seed": 906,
    },
}

# SGD as mmaction2's configs set it up and `mact bench --train` runs it.
SGD = {"lr": 0.01, "momentum": 0.9}


def build(name):
    """The PyTorch model of @name, its parameters not yet filled."""
    import os
    import sys

    import torch.nn as nn
    import torchvision.models as tvm
    import torchvision.models.video as tvv

    class Head(nn.Module):
        def __init__(self, in_channels, num_classes=400):
            super().__init__()
            self.fc_cls = nn.Linear(in_channels, num_classes)

    if name == "tsn_r50":
        class TSN(nn.Module):
            """torchvision resnet50 with fc = Identity, the mean over the segments, then
            the Linear head (mmaction2's TSNHead at test time; its pooling of a
            [N, 2048, 1, 1] map and its dropout do nothing then)."""

            def __init__(self):
                super().__init__()
                self.backbone = tvm.resnet50()
                self.backbone.fc = nn.Identity()
                self.cls_head = Head(2048)

            def forward(self, x):
                f = self.backbone(x)
                return self.cls_head.fc_cls(f.view(-1, 8, f.shape[-1]).mean(1))

        return TSN()

    if name in ("r3d_18", "r2plus1d_18", "mc3_18", "r3d_18_train"):
        builder = getattr(tvv, name.replace("_train", ""))

        class Video(nn.Module):
            """A torchvision video ResNet; its fc is the head's fc_cls."""

            def __init__(self):
                super().__init__()
                self.backbone = builder()
                self.backbone.fc = nn.Identity()
                self.cls_head = Head(512)

            def forward(self, x):
                return self.cls_head.fc_cls(self.backbone(x))

        return Video()

    if name == "mobilenet_v2_tsm":
        # The re-implementation of mmaction2's MobileNetV2TSM and TSMHead that the unit
        # tests' fixtures use (same module tree, so the same keys).
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path.insert(0, os.path.join(here, "..", "tests", "fixtures"))
        import gen_native_tsm as ntsm

        class TSM(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = ntsm.MobileNetV2TSM(num_segments=8, is_shift=True,
                                                     shift_div=8)
                self.cls_head = ntsm.TSMHead(400, 1280, num_segments=8, spatial_type="avg",
                                             dropout_ratio=0.5, is_shift=True)

            def forward(self, x):
                return self.cls_head(self.backbone(x)[0])

        return TSM()

    raise KeyError(name)


def fill(model, seed):
    """Seeded random values for every state-dict entry: conv and linear weights uniform
    with variance 2 / fan_in (activations keep their scale through ReLU stacks, so
    neither side meets overflow or denormals), batch-norm scales and running variances
    in [0.5, 1.5), biases and running means in [-0.1, 0.1)."""
    import math

    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            leaf = key.rsplit(".", 1)[-1]
            if leaf == "num_batches_tracked":
                continue
            if leaf == "weight" and t.dim() >= 2:
                bound = math.sqrt(3.0 * 2.0 / t[0].numel())
                t.uniform_(-bound, bound, generator=g)
            elif leaf in ("weight", "running_var"):
                t.uniform_(0.5, 1.5, generator=g)
            elif leaf in ("bias", "running_mean"):
                t.uniform_(-0.1, 0.1, generator=g)
            else:
                raise ValueError("no value rule for state-dict key %s" % key)
