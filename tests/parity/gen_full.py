"""Reference data for tests/parity/test-parity-full.c: full-size models against live PyTorch.

Run by the parity test itself (meson test --suite parity), with Debian's python3,
python3-torch and python3-torchvision:

    /usr/bin/python3 tests/parity/gen_full.py [--check] OUT_DIR [CASE ...]

Nothing here is committed data: every model is built at full width, with seeded random
weights, and written to OUT_DIR (the build tree) as
  CASE.weights.safetensors   the state dict, keys exactly as PyTorch names them
                             (torchvision's, mmcls's, or mmaction2's backbone.* / neck.* /
                             cls_head.*), so that the C side loads it like a checkpoint
  CASE.ref.safetensors       the seeded input and the expected outputs; metadata "kind",
                             "config" (the JSON the C side builds) or "config_file" (a
                             file of configs/recognition/), and "seconds"
The models are torchvision's own builders and the PyTorch re-implementations the unit-test
fixtures use, imported from tests/fixtures/ (gen_cls for mmcls, gen_native_video and
gen_native_tsm for mmaction2); the few small blocks no fixture needed (C3D, TSNHead,
I3DHead with spatial_type None) are written here.

Inputs are 1 sample of reduced spatial and temporal size, so the whole suite stays within
minutes; the widths are the real ones.  Eval cases store the backbone features, the head's
logits (models without a neck) and the recognizer's final scores (average_clip as the
config's test_cfg asks, fcn_test included).  Gradient cases store one train-mode
cross-entropy step: logits, loss, every parameter's gradient and the batch-norm buffers
after the step.

Random weights can make a reference ill-conditioned, so that no float32 implementation
could match it: a deep stack amplifying rounding, or, in train mode, a ReLU input or a
max-pool tie within rounding of its kink.  The gains and seeds below were chosen so that
PyTorch's float32 results agree with float64 ones (and, for the gradient cases, with
float32 without oneDNN, another summation order) ten times more closely than the C test
requires; --check verifies that (check_conditioning(), train_step()).  Float64
convolutions are slow, so the suite's own runs leave it out: run it after changing a case.
"""
import copy
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
CONFIG_ROOT = os.path.join(ROOT, "configs", "recognition")
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision  # noqa: F401
except ImportError as e:
    sys.exit("gen_full.py: %s. The parity suite needs Debian's PyTorch: install it with "
             "tools/install-deps.sh --reference (python3-torch, python3-torchvision)" % e)

import fixtures  # noqa: E402
import gen_cls  # noqa: E402
import gen_native_tsm as ntsm  # noqa: E402
import gen_native_video as nvid  # noqa: E402


# ---------------------------------------------------------------------------- weights

def fill(model, seed, gain=1.0, head_gain=None):
    """Seeded random values for every state-dict entry, by the entry's last key part and
    rank: conv/linear weights uniform with variance gain / fan_in (head_gain for the
    classifier, so that logits and probabilities are not flat), norm scales and running
    variances in [0.5, 1.5), biases and running means in [-0.1, 0.1).  Eval-mode batch
    norm is thus no identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            leaf = key.rsplit(".", 1)[-1]
            if leaf == "num_batches_tracked":
                continue
            # in place: fresh memory is slow to touch, and these tensors are large
            if leaf == "weight" and t.dim() >= 2:
                k = gain
                if head_gain is not None and (key.startswith("cls_head.") or
                                              key.startswith("fc.") or
                                              key.startswith("classifier.")):
                    k = head_gain
                bound = math.sqrt(3.0 * k / t[0].numel())
                t.uniform_(-bound, bound, generator=g)
            elif leaf in ("weight", "running_var"):
                t.uniform_(0.5, 1.5, generator=g)
            elif leaf in ("bias", "running_mean"):
                t.uniform_(-0.1, 0.1, generator=g)
            else:
                raise ValueError("no value rule for state-dict key %s" % key)


def seeded(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


def check_output(case, what, t):
    """A reference that is not finite or flat would make the comparison meaningless."""
    if not torch.isfinite(t).all():
        raise SystemExit("%s: %s is not finite" % (case, what))
    if t.numel() > 1 and t.float().std().item() < 1e-3:
        raise SystemExit("%s: %s is flat (std %.3g): change the weight gain"
                         % (case, what, t.float().std().item()))


def check_conditioning(case, model, run, tensors):
    """Runs @run (model -> {key: output}) on a float64 copy of @model: the float32 outputs in
    @tensors must be within 1e-5 x max(1, max|ref|) of it, a tenth of the C test's tolerance.
    Random weights can make a network amplify rounding (large activations cancelling in a
    sum, eval-mode batch norms with random statistics multiplying their gains); such a
    reference could not be matched by any float32 implementation, so it is refused."""
    if not CHECK:
        return
    exact = run(copy.deepcopy(model).double())
    for key, ref in exact.items():
        err = (tensors[key].double() - ref).abs().max().item() / max(1.0, ref.abs().max().item())
        if err > 1e-5:
            raise SystemExit("%s: %s in float32 is off by %.3g from float64: ill-conditioned "
                             "weights, lower the gain" % (case, key, err))


def state_dict_f32(model, copy_values=False):
    """The state dict as float32 tensors; they share the model's memory unless
    @copy_values (a train step updates the batch-norm buffers in place)."""
    return {k: (v.detach().clone() if copy_values else v.detach()).float()
            for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------- small blocks

class C3D(nn.Module):
    """mmaction2's C3D (backbones/c3d.py) without a norm: eight 3x3x3 convs with bias,
    five max pools, fc6, fc7."""

    def __init__(self, out_dim=8192, **_):
        # the config's other arguments (style, conv_cfg, act_cfg, dropout_ratio,
        # init_std) change nothing in eval mode; norm_cfg is checked by build_backbone()
        super().__init__()

        def cm(cin, cout):
            return ntsm.ConvModule(cin, cout, 3, 1, 1, norm=False, act="relu", dims=3)

        self.conv1a = cm(3, 64)
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.conv2a = cm(64, 128)
        self.pool2 = nn.MaxPool3d(2, 2)
        self.conv3a = cm(128, 256)
        self.conv3b = cm(256, 256)
        self.pool3 = nn.MaxPool3d(2, 2)
        self.conv4a = cm(256, 512)
        self.conv4b = cm(512, 512)
        self.pool4 = nn.MaxPool3d(2, 2)
        self.conv5a = cm(512, 512)
        self.conv5b = cm(512, 512)
        self.pool5 = nn.MaxPool3d(2, 2, (0, 1, 1))
        self.fc6 = nn.Linear(out_dim, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.pool1(self.conv1a(x))
        x = self.pool2(self.conv2a(x))
        x = self.pool3(self.conv3b(self.conv3a(x)))
        x = self.pool4(self.conv4b(self.conv4a(x)))
        x = self.pool5(self.conv5b(self.conv5a(x)))
        x = self.relu(self.fc6(x.flatten(start_dim=1)))
        return [self.relu(self.fc7(x))]


class TSNHead(nn.Module):
    """mmaction2's TSNHead: avg pool, AvgConsensus over num_segs, dropout, fc_cls."""

    def __init__(self, num_classes, in_channels, spatial_type="avg", dropout_ratio=0.4):
        super().__init__()
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1)) if spatial_type == "avg" else None

    def forward(self, x, num_segs):
        if self.avg_pool is not None:
            x = self.avg_pool(x)
        x = x.reshape((-1, num_segs) + x.shape[1:]).mean(dim=1, keepdim=True).squeeze(1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x.view(x.size(0), -1))


class I3DHead(nn.Module):
    """mmaction2's I3DHead, spatial_type 'avg' or None (C3D's config)."""

    def __init__(self, num_classes, in_channels, spatial_type="avg", dropout_ratio=0.5):
        super().__init__()
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1)) if spatial_type == "avg" else None

    def forward(self, x):
        if self.avg_pool is not None:
            x = self.avg_pool(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x.view(x.shape[0], -1))


# ---------------------------------------------------------------------------- recognizers

def strip(cfg, *keys):
    return {k: v for k, v in cfg.items() if k not in ("type",) + keys}


def build_backbone(cfg):
    kind = cfg["type"]
    if kind == "ResNet":
        assert cfg.get("depth") and not cfg.get("partial_bn", False)
        return ntsm.ResNet(cfg["depth"], tuple(cfg.get("out_indices", (3,))))
    if kind == "ResNetTSM":
        kw = strip(cfg, "pretrained", "norm_eval")
        if "out_indices" in kw:
            kw["out_indices"] = tuple(kw["out_indices"])
        return ntsm.ResNetTSM(**kw)
    if kind == "MobileNetV2TSM":
        return ntsm.MobileNetV2TSM(**strip(cfg, "pretrained"))
    if kind == "C3D":
        assert cfg.get("norm_cfg") is None
        return C3D(**strip(cfg))
    return nvid.build_backbone(cfg)


def build_head(cfg):
    kind = cfg["type"]
    dropout = cfg.get("dropout_ratio")
    if kind == "TSNHead":
        return TSNHead(cfg["num_classes"], cfg["in_channels"], cfg.get("spatial_type", "avg"),
                       0.4 if dropout is None else dropout)
    if kind == "TSMHead":
        return ntsm.TSMHead(cfg["num_classes"], cfg["in_channels"], cfg.get("num_segments", 8),
                            cfg.get("spatial_type", "avg"), 0.8 if dropout is None else dropout,
                            cfg.get("is_shift", True), cfg.get("temporal_pool", False))
    if kind == "TPNHead":
        return ntsm.TPNHead(cfg["num_classes"], cfg["in_channels"],
                            0.4 if dropout is None else dropout, cfg.get("spatial_type", "avg"))
    if kind == "I3DHead":
        return I3DHead(cfg["num_classes"], cfg["in_channels"], cfg.get("spatial_type", "avg"),
                       0.5 if dropout is None else dropout)
    if kind == "SlowFastHead":
        return nvid.SlowFastHead(cfg["num_classes"], cfg["in_channels"],
                                 0.8 if dropout is None else dropout)
    if kind == "X3DHead":
        return nvid.X3DHead(cfg["num_classes"], cfg["in_channels"],
                            cfg.get("spatial_type", "avg"), 0.5 if dropout is None else dropout,
                            cfg.get("fc1_bias", False))
    raise KeyError(kind)


class Recognizer(nn.ModuleDict):
    """mmaction2 0.x's Recognizer2D / Recognizer3D test and train paths over the
    re-implemented blocks (children backbone[, neck], cls_head: mmaction2's keys)."""

    def __init__(self, cfg):
        parts = {"backbone": build_backbone(cfg["backbone"])}
        if "neck" in cfg:
            parts["neck"] = ntsm.tpn_from_cfg(cfg["neck"])
        parts["cls_head"] = build_head(cfg["cls_head"])
        super().__init__(parts)
        self.kind = cfg["type"]
        self.head_type = cfg["cls_head"]["type"]
        self.test_cfg = cfg.get("test_cfg") or {}
        # mmaction2 reads backbone.num_segments in fcn_test; the re-implementations do
        # not keep it, the config has it (or the default 8)
        self.num_segments = cfg["backbone"].get("num_segments", 8)

    def extract_feat(self, x):
        out = self["backbone"](x)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def head(self, feats, num_segs, fcn_test=False):
        head = self["cls_head"]
        if fcn_test:
            return head(feats[0], fcn_test=True)
        if self.head_type in ("TSNHead", "TSMHead", "TPNHead"):
            return head(feats[0], num_segs)
        if self.head_type == "I3DHead":
            return head(feats[0])
        return head(feats)[0]   # SlowFastHead, X3DHead take the list, return [scores]

    def average_clip(self, cls_score, num_segs):
        mode = self.test_cfg["average_clips"]
        if mode is None:
            return cls_score
        cls_score = cls_score.view(cls_score.shape[0] // num_segs, num_segs, -1)
        if mode == "prob":
            return F.softmax(cls_score, dim=2).mean(dim=1)
        return cls_score.mean(dim=1)

    def to_neck(self, feats, num_segs):
        return [e.reshape((-1, num_segs) + e.shape[1:]).transpose(1, 2).contiguous()
                for e in feats]

    def forward_test(self, imgs):
        """Returns the features, the head's logits (None with a neck) and the scores."""
        batches = imgs.shape[0]
        x = imgs.reshape((-1,) + imgs.shape[2:])
        feats = self.extract_feat(x)
        logits = None
        if self.kind == "Recognizer2D" and self.test_cfg.get("fcn_test", False):
            num_segs = self.test_cfg.get("num_segs", self.num_segments)
            assert not self.test_cfg.get("flip", False)
            if "neck" in self:
                y, _ = self["neck"](self.to_neck(feats, num_segs))
            else:
                y = self.to_neck(feats, num_segs)[0]
            cls_score = self.head([y], None, fcn_test=True)
            scores = self.average_clip(cls_score, cls_score.shape[0] // batches)
            return feats, logits, scores
        num_segs = x.shape[0] // batches
        head_in = feats
        if "neck" in self:
            assert self.kind == "Recognizer2D"   # no shipped 3-D config has a neck
            y, _ = self["neck"](self.to_neck(feats, num_segs))
            head_in, num_segs = [y.squeeze(2)], 1
        cls_score = self.head(head_in, num_segs if self.kind == "Recognizer2D" else None)
        if "neck" not in self:
            logits = cls_score
        if self.kind == "Recognizer2D":
            scores = self.average_clip(cls_score, cls_score.shape[0] // batches)
        else:
            scores = self.average_clip(cls_score, num_segs)
        return feats, logits, scores

    def train_logits(self, imgs):
        assert self.kind == "Recognizer2D" and "neck" not in self
        batches = imgs.shape[0]
        x = imgs.reshape((-1,) + imgs.shape[2:])
        return self.head(self.extract_feat(x), x.shape[0] // batches)


def load_config(config_file):
    with open(os.path.join(CONFIG_ROOT, config_file)) as f:
        return json.load(f)


# ---------------------------------------------------------------------------- cases

def save_case(out_dir, name, weights, tensors, meta):
    fixtures.save(name + ".weights", weights, directory=out_dir)
    fixtures.save(name + ".ref", tensors, meta, directory=out_dir)


def tv_case(out_dir, name, builder, shape, gain, seed):
    import torchvision.models as tvm
    import torchvision.models.video as tvv
    model = (getattr(tvm, builder, None) or getattr(tvv, builder))()
    fill(model, seed, gain, head_gain=4.0)
    model.eval()
    x = seeded(shape, seed + 1)

    def run(m):
        with torch.no_grad():
            xm = x.to(next(m.parameters()).dtype)
            out = {"output": m(xm)}
            if hasattr(m, "features"):
                out["features"] = m.features(xm)
        return out

    tensors = run(model)
    for k, v in tensors.items():
        check_output(name, k, v)
    check_conditioning(name, model, run, tensors)
    tensors["input"] = x
    meta = {"kind": "tv", "config": json.dumps({"type": "tv." + builder})}
    return state_dict_f32(model), tensors, meta


def cls_case(out_dir, name, config, shape, gain, seed):
    build = gen_cls.mobilenet_from if config["type"].endswith("MobileNetV2") else gen_cls.resnet_from
    model = build(config)
    fill(model, seed, gain)
    model.eval()
    x = seeded(shape, seed + 1)

    def run(m):
        with torch.no_grad():
            outs = m(x.to(next(m.parameters()).dtype))
        return {"out%d" % i: o for i, o in enumerate(outs)}

    tensors = run(model)
    for k, v in tensors.items():
        check_output(name, k, v)
    check_conditioning(name, model, run, tensors)
    n_outputs = len(tensors)
    tensors["input"] = x
    meta = {"kind": "cls", "config": json.dumps(config), "n_outputs": n_outputs}
    return state_dict_f32(model), tensors, meta


def recognizer_case(out_dir, name, config_file, shape, gain, seed):
    cfg = load_config(config_file)["model"]
    model = Recognizer(cfg)
    fill(model, seed, gain, head_gain=16.0)
    model.eval()
    imgs = seeded(shape, seed + 1)
    # before any forward: TPNHead's fcn_test adds new_cls.* to the state dict
    weights = state_dict_f32(model)

    def run(m):
        with torch.no_grad():
            feats, logits, scores = m.forward_test(imgs.to(next(m.parameters()).dtype))
        out = {"scores": scores}
        out.update({"feat%d" % i: f for i, f in enumerate(feats)})
        if logits is not None:
            out["logits"] = logits
        return out

    tensors = run(model)
    for k, v in tensors.items():
        check_output(name, k, v)
    check_conditioning(name, model, run, tensors)
    n_feats = sum(k.startswith("feat") for k in tensors)
    tensors["imgs"] = imgs
    meta = {"kind": "recognizer", "config_file": config_file, "n_feats": n_feats}
    return weights, tensors, meta


def grad_tensors(model, logits, loss):
    tensors = {"output": logits.detach(), "loss": loss.detach().reshape(1)}
    for key, p in model.named_parameters():
        tensors["grad." + key] = p.grad.detach()
    for key, b in model.named_buffers():
        tensors["after." + key] = b.detach().float()
    return tensors


def shift_bn_biases(model, seed, low, high):
    """Batch-norm shifts in [low, high): most ReLU inputs then lie away from the kink."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.bias.uniform_(low, high, generator=g)


def cross_entropy_step(model, forward, inputs, target, dtype=torch.float32, mkldnn=True):
    model.train()
    with torch.backends.mkldnn.flags(enabled=mkldnn):
        logits = forward(model, inputs.to(dtype))
        loss = F.cross_entropy(logits, target)
        loss.backward()
    return logits, loss


def train_step(name, model, forward, inputs, target):
    """One float32 cross-entropy step of @model; returns (logits, loss), @model holds the
    gradients.

    A train-mode network is ill-conditioned where a ReLU input or the gap between a max-pool
    window's two largest values is within rounding of 0: there the gradient jumps, and any
    float32 implementation may land on either side.  Behind a global pool, the last batch
    norm's backward also cancels most of its upstream gradient, so one such flip can move
    every gradient below it by 1%.  With --check, the same step runs in float64 and in
    float32 without oneDNN (PyTorch's im2col + GEMM convolution, another summation order);
    unless both float32 steps are within 1e-4 of the float64 one (relative to max |g|),
    the case is refused: pick another seed."""
    copies = {}
    if CHECK:
        copies = {"float64": copy.deepcopy(model).double(),
                  "float32 without oneDNN": copy.deepcopy(model)}
    logits, loss = cross_entropy_step(model, forward, inputs, target)
    if CHECK:
        cross_entropy_step(copies["float64"], forward, inputs, target, torch.float64)
        cross_entropy_step(copies["float32 without oneDNN"], forward, inputs, target,
                           mkldnn=False)
        exact = dict(copies["float64"].named_parameters())
        for label, m in (("float32", model), ("float32 without oneDNN",
                                             copies["float32 without oneDNN"])):
            for key, p in m.named_parameters():
                ref = exact[key].grad
                err = (p.grad.double() - ref).abs().max().item() / ref.abs().max().item()
                if err > 1e-4:
                    raise SystemExit("%s: %s's %s gradient is off by %.3g (relative) from "
                                     "the float64 one: ill-conditioned, pick another seed"
                                     % (name, key, label, err))
    print("  loss %.5f" % loss.item())
    return logits, loss


def grad_tv_case(out_dir, name, builder, shape, labels, gain, seed):
    import torchvision.models as tvm
    model = getattr(tvm, builder)()
    fill(model, seed, gain)
    weights = state_dict_f32(model, copy_values=True)
    x = seeded(shape, seed + 1)
    target = torch.tensor(labels)
    logits, loss = train_step(name, model, lambda m, v: m(v), x, target)
    tensors = grad_tensors(model, logits, loss)
    tensors.update({"input": x, "labels": target.float()})
    meta = {"kind": "grad_tv", "config": json.dumps({"type": "tv." + builder})}
    return weights, tensors, meta


def grad_recognizer_case(out_dir, name, config_file, shape, labels, gain, seed):
    """One train step of a Recognizer2D config with the head's dropout off.  The batch
    norms' shifts are raised (see train_step() for why)."""
    config = load_config(config_file)
    config["model"]["cls_head"]["dropout_ratio"] = 0.0
    model = Recognizer(config["model"])
    fill(model, seed, gain)
    shift_bn_biases(model, seed + 7, 2.0, 3.0)
    weights = state_dict_f32(model, copy_values=True)
    imgs = seeded(shape, seed + 1)
    target = torch.tensor(labels)
    logits, loss = train_step(name, model, lambda m, v: m.train_logits(v), imgs,
                              target.squeeze(1))
    tensors = grad_tensors(model, logits, loss)
    tensors.update({"imgs": imgs, "labels": target.float()})
    meta = {"kind": "grad_recognizer", "config_file": config_file,
            "config": json.dumps(config)}
    return weights, tensors, meta


# name -> (function, arguments: ..., weight gain, seed).  ResNets and MobileNets keep gain 1
# (residual sums grow with depth; MobileNetV2/V3 at gain 2 amplify rounding beyond 1e-5);
# the plain stacks (C3D, S3D, X3D, torchvision's video ResNets) use He's gain 2 so that
# their signals do not fade.  2-D inputs are 112x112 (64x64 with 8 TSM segments); clips
# 8x64x64 (8x56x56 for torchvision's video ResNets), 16 frames where a model needs them
# (SlowFast's lateral stride, C3D's fixed fc6 width at 16x112x112, S3D's pool at
# 16x224x224); 2 views for I3D and X3D (average_clip over views).  The gradient cases use
# batches of 2 (a train-mode batch norm over one clip passes no gradient back) and seeds
# that --check accepts.
CASES = {
    "tv_resnet18": (tv_case, ("resnet18", (1, 3, 112, 112), 1.0, 10)),
    "tv_resnet34": (tv_case, ("resnet34", (1, 3, 112, 112), 1.0, 20)),
    "tv_resnet50": (tv_case, ("resnet50", (1, 3, 112, 112), 1.0, 30)),
    "tv_resnet101": (tv_case, ("resnet101", (1, 3, 112, 112), 1.0, 40)),
    "tv_resnet152": (tv_case, ("resnet152", (1, 3, 112, 112), 1.0, 50)),
    "tv_resnext50_32x4d": (tv_case, ("resnext50_32x4d", (1, 3, 112, 112), 1.0, 60)),
    "tv_mobilenet_v2": (tv_case, ("mobilenet_v2", (1, 3, 112, 112), 1.0, 70)),
    "tv_mobilenet_v3_small": (tv_case, ("mobilenet_v3_small", (1, 3, 112, 112), 1.0, 80)),
    "tv_mobilenet_v3_large": (tv_case, ("mobilenet_v3_large", (1, 3, 112, 112), 1.0, 90)),
    "tv_r3d_18": (tv_case, ("r3d_18", (1, 3, 8, 56, 56), 2.0, 100)),
    "tv_mc3_18": (tv_case, ("mc3_18", (1, 3, 8, 56, 56), 2.0, 110)),
    "tv_r2plus1d_18": (tv_case, ("r2plus1d_18", (1, 3, 8, 56, 56), 2.0, 120)),
    "tv_s3d": (tv_case, ("s3d", (1, 3, 16, 224, 224), 2.0, 130)),
    "cls_resnet50": (cls_case, ({"type": "cls.ResNet", "depth": 50, "out_indices": [0, 1, 2, 3]},
                                (1, 3, 112, 112), 1.0, 200)),
    "cls_resnet101": (cls_case, ({"type": "cls.ResNet", "depth": 101,
                                  "out_indices": [0, 1, 2, 3]}, (1, 3, 112, 112), 1.0, 210)),
    "cls_resnext50": (cls_case, ({"type": "cls.ResNeXt", "depth": 50, "groups": 32,
                                  "width_per_group": 4, "out_indices": [0, 1, 2, 3]},
                                 (1, 3, 112, 112), 1.0, 220)),
    "cls_mobilenet_v2": (cls_case, ({"type": "cls.MobileNetV2", "out_indices": [2, 4, 7]},
                                    (1, 3, 112, 112), 1.0, 230)),
    "tsn_r50": (recognizer_case, ("tsn/tsn_r50_1x1x3_100e_kinetics400_rgb.json",
                                  (1, 3, 3, 112, 112), 1.0, 300)),
    "tsm_r50": (recognizer_case, ("tsm/tsm_r50_1x1x8_50e_kinetics400_rgb.json",
                                  (1, 8, 3, 64, 64), 1.0, 310)),
    "tsm_mobilenetv2": (recognizer_case,
                        ("tsm/tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb.json",
                         (1, 8, 3, 112, 112), 1.0, 320)),
    "i3d_r50": (recognizer_case, ("i3d/i3d_r50_32x2x1_100e_kinetics400_rgb.json",
                                  (1, 2, 3, 8, 64, 64), 1.0, 330)),
    "slowonly_r50": (recognizer_case, ("slowonly/slowonly_r50_4x16x1_256e_kinetics400_rgb.json",
                                       (1, 1, 3, 8, 64, 64), 1.0, 340)),
    "slowfast_r50": (recognizer_case, ("slowfast/slowfast_r50_4x16x1_256e_kinetics400_rgb.json",
                                       (1, 1, 3, 16, 64, 64), 1.0, 350)),
    "r2plus1d_r34": (recognizer_case, ("r2plus1d/r2plus1d_r34_8x8x1_180e_kinetics400_rgb.json",
                                       (1, 1, 3, 8, 64, 64), 1.0, 360)),
    "c3d": (recognizer_case, ("c3d/c3d_sports1m_16x1x1_45e_ucf101_rgb.json",
                              (1, 1, 3, 16, 112, 112), 2.0, 370)),
    "x3d_s": (recognizer_case, ("x3d/x3d_s_13x6x1_facebook_kinetics400_rgb.json",
                                (1, 2, 3, 8, 64, 64), 2.0, 380)),
    "tpn_tsm": (recognizer_case, ("tpn/tpn_tsm_r50_1x1x8_150e_sthv1_rgb.json",
                                  (1, 8, 3, 64, 64), 1.0, 390)),
    "grad_tv_resnet18": (grad_tv_case, ("resnet18", (2, 3, 112, 112), [1, 3], 1.0, 401)),
    "grad_tsm_r50": (grad_recognizer_case, ("tsm/tsm_r50_1x1x8_50e_kinetics400_rgb.json",
                                            (2, 8, 3, 64, 64), [[3], [1]], 1.0, 5)),
}


# --check: verify every case's conditioning against float64 (check_conditioning(),
# train_step()).  Float64 convolutions are slow on the CPU (minutes for the depthwise
# ones), so the suite's own runs leave it out; run it after changing a case, seed or gain.
CHECK = False


def main(argv):
    global CHECK
    if "--check" in argv:
        CHECK = True
        argv = [a for a in argv if a != "--check"]
    if len(argv) < 2:
        sys.exit("usage: gen_full.py [--check] OUT_DIR [CASE ...]; cases: " + " ".join(CASES))
    out_dir = argv[1]
    names = argv[2:] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        sys.exit("gen_full.py: unknown case(s) %s; known: %s" % (" ".join(unknown),
                                                                 " ".join(CASES)))
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("MACT_NUM_THREADS", "0")) or os.cpu_count())
    total = time.monotonic()
    for name in names:
        start = time.monotonic()
        for suffix in (".weights.safetensors", ".ref.safetensors"):
            path = os.path.join(out_dir, name + suffix)
            if os.path.exists(path):
                os.unlink(path)
        func, args = CASES[name]
        weights, tensors, meta = func(out_dir, name, *args)
        meta["seconds"] = "%.2f" % (time.monotonic() - start)
        save_case(out_dir, name, weights, tensors, meta)
        n = sum(v.numel() for v in weights.values())
        print("%-22s %6.2f s  %11d weights" % (name, time.monotonic() - start, n), flush=True)
    print("total %.1f s" % (time.monotonic() - total))


if __name__ == "__main__":
    main(sys.argv)
