#!/usr/bin/python3
"""Generate the small ONNX test fixtures in tests/fixtures/.

Each fixture directory uses the ONNX backend-test layout:

    tests/fixtures/<name>/model.onnx
    tests/fixtures/<name>/test_data_set_0/input_0.pb
    tests/fixtures/<name>/test_data_set_0/output_0.pb

The models are NARROW versions of torchvision's video classifiers
(r3d_18, mc3_18, r2plus1d_18, s3d), built from torchvision's own building
blocks with the same topology (strides, paddings, downsample projections,
[2,2,2,2] layers, R(2+1)D midplanes formula, S3D inception branches) but
with far fewer channels, random seeded weights and randomised BatchNorm
statistics/affine parameters (incl. negative gammas) so that BN-folding
bugs show up.  Every model is exported twice:

    <name>_folded  default eval-mode export: BN folded into Conv
    <name>_bn      TrainingMode.PRESERVE on an eval() model, no constant
                   folding: BatchNormalization nodes kept

Two more architectures exist for the Class Feature Pyramid tests: a narrow
3D ResNeXt (grouped 3x3x3 bottlenecks, projection shortcuts) and a narrow
X3D (depth-wise convs, squeeze-excitation, swish, PyTorchVideo-style head
Transpose -> MatMul -> ReduceMean).

The reference output is PyTorch's float32 output.  Each exported graph is
also run through a small float64 NumPy interpreter (see `run_onnx`) and
compared against the PyTorch output, so a fixture is only written if the
ONNX graph itself reproduces the reference.

Usage:  /usr/bin/python3 scripts/make_fixtures.py [--out tests/fixtures]
        [--only NAME ...] [--no-verify]
"""
import argparse
import collections
import copy
import io
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import onnx
from onnx import numpy_helper

from torchvision.models.video.resnet import (
    BasicBlock,
    Conv2Plus1D,
    Conv3DNoTemporal,
    Conv3DSimple,
    VideoResNet,
)
from torchvision.models.video.s3d import S3D, SepInceptionBlock3D, TemporalSeparableConv
from torchvision.ops.misc import Conv3dNormActivation

# the bottleneck and the init are those of the architecture definitions
from models.common import init_like_videoresnet as _init_like_videoresnet
from models.resnet3d import Bottleneck
from models.x3d import SqueezeExcitation  # PyTorchVideo/X3D SE: GAP -> 1x1x1 -> ReLU -> 1x1x1 -> sigmoid, x times it

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 0

# --------------------------------------------------------------------------
# Narrow model definitions (torchvision topology, fewer channels)
# --------------------------------------------------------------------------


def basic_stem(width):
    """torchvision.models.video.resnet.BasicStem with `width` output channels."""
    return nn.Sequential(
        nn.Conv3d(3, width, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    )


def r2plus1d_stem(width):
    """torchvision.models.video.resnet.R2Plus1dStem with `width` output channels.

    torchvision hard-codes 45 mid channels for 64 outputs; keep the ratio."""
    mid = max(1, int(round(45 * width / 64)))
    return nn.Sequential(
        nn.Conv3d(3, mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, width, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    )


class NarrowVideoResNet(VideoResNet):
    """VideoResNet with configurable widths (torchvision: 64/128/256/512).

    Reuses VideoResNet._make_layer (downsample projection logic) and
    VideoResNet.forward unchanged; BasicBlock computes the R(2+1)D midplanes
    as (inplanes*planes*27) // (inplanes*9 + 3*planes)."""

    def __init__(self, conv_makers, stem, widths, layers=(2, 2, 2, 2), num_classes=10):
        nn.Module.__init__(self)
        self.inplanes = widths[0]
        self.stem = stem
        self.layer1 = self._make_layer(BasicBlock, conv_makers[0], widths[0], layers[0], stride=1)
        self.layer2 = self._make_layer(BasicBlock, conv_makers[1], widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(BasicBlock, conv_makers[2], widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(BasicBlock, conv_makers[3], widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(widths[3] * BasicBlock.expansion, num_classes)
        # same init as torchvision's VideoResNet
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)


# torchvision S3D configuration, full widths.  Each inception entry is
# (b0_out, b1_mid, b1_out, b2_mid, b2_out, b3_out); in_planes is derived.
S3D_STEM = (64, 64, 192)  # TSC(3->64,k7,s2), 1x1x1 conv 64->64, TSC(64->192,k3)
S3D_INCEPTION = [
    (64, 96, 128, 16, 32, 32),
    (128, 128, 192, 32, 96, 64),
    "pool3",
    (192, 96, 208, 16, 48, 64),
    (160, 112, 224, 24, 64, 64),
    (128, 128, 256, 24, 64, 64),
    (112, 144, 288, 32, 64, 64),
    (256, 160, 320, 32, 128, 128),
    "pool2",
    (256, 160, 320, 32, 128, 128),
    (384, 192, 384, 48, 128, 128),
]


class NarrowS3D(S3D):
    """torchvision S3D with every channel count multiplied by `scale`.

    Same layer sequence, kernels, strides, paddings, BN eps (1e-3),
    four-branch SepInceptionBlock3D (incl. the max-pool branch), avg-pool and
    1x1x1 conv classifier; reuses S3D.forward (avgpool -> classifier ->
    mean over T,H,W).  `avgpool_kernel` replaces torchvision's (2,7,7), which
    only fits 16x224x224 inputs."""

    def __init__(self, scale, num_classes=10, avgpool_kernel=(2, 7, 7), dropout=0.2):
        nn.Module.__init__(self)
        from functools import partial

        norm_layer = partial(nn.BatchNorm3d, eps=0.001, momentum=0.001)

        def c(n):
            return max(2, int(round(n * scale)))

        s0, s1, s2 = (c(n) for n in S3D_STEM)
        layers = [
            TemporalSeparableConv(3, s0, 7, 2, 3, norm_layer),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            Conv3dNormActivation(s0, s1, kernel_size=1, stride=1, norm_layer=norm_layer),
            TemporalSeparableConv(s1, s2, 3, 1, 1, norm_layer),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        ]
        cin = s2
        for entry in S3D_INCEPTION:
            if entry == "pool3":
                layers.append(nn.MaxPool3d(kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1)))
            elif entry == "pool2":
                layers.append(nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0)))
            else:
                b0, b1m, b1, b2m, b2, b3 = (c(n) for n in entry)
                layers.append(SepInceptionBlock3D(cin, b0, b1m, b1, b2m, b2, b3, norm_layer))
                cin = b0 + b1 + b2 + b3
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AvgPool3d(kernel_size=avgpool_kernel, stride=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Conv3d(cin, num_classes, kernel_size=1, stride=1, bias=True),
        )


# (mid, out, blocks, stride) per stage; cardinality 4 -> 2, 4, 6 input
# channels per group in the grouped 3x3x3 convs.
RESNEXT_STAGES = ((8, 16, 2, 1), (16, 32, 2, 2), (24, 48, 2, 2))
RESNEXT_CARDINALITY = 4


class NarrowResNeXt3d(nn.Module):
    """A narrow 3D ResNeXt (ResNeXt-50-style bottlenecks, 3 stages of 2
    blocks): stem conv 3x7x7 s(1,2,2) + BN + ReLU + MaxPool(1,3,3) s(1,2,2),
    then bottlenecks with grouped 3x3x3 convs, GAP, Linear."""

    def __init__(self, stem=8, stages=RESNEXT_STAGES, cardinality=RESNEXT_CARDINALITY, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        )
        blocks = []
        cin = stem
        for mid, cout, n, stride in stages:
            for i in range(n):
                blocks.append(Bottleneck(cin, mid, cout, stride if i == 0 else 1, groups=cardinality))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(cin, num_classes)
        _init_like_videoresnet(self)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class X3DBlock(nn.Module):
    """X3D bottleneck: conv1x1x1 -> BN -> ReLU -> depth-wise 3x3x3 (groups =
    channels, spatial stride) -> BN -> [SE] -> swish -> conv1x1x1 -> BN,
    plus the (projection) shortcut, ReLU after the add."""

    def __init__(self, cin, inner, cout, stride, se):
        super().__init__()
        self.conv_a = nn.Conv3d(cin, inner, 1, bias=False)
        self.bn_a = nn.BatchNorm3d(inner)
        self.relu = nn.ReLU(inplace=True)
        self.conv_b = nn.Conv3d(inner, inner, 3, stride=(1, stride, stride), padding=1, groups=inner, bias=False)
        self.bn_b = nn.BatchNorm3d(inner)
        self.se = SqueezeExcitation(inner, max(2, inner // 4)) if se else None
        self.conv_c = nn.Conv3d(inner, cout, 1, bias=False)
        self.bn_c = nn.BatchNorm3d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False), nn.BatchNorm3d(cout))

    def forward(self, x):
        y = self.relu(self.bn_a(self.conv_a(x)))
        y = self.bn_b(self.conv_b(y))
        if self.se is not None:
            y = self.se(y)
        y = y * torch.sigmoid(y)  # swish
        y = self.bn_c(self.conv_c(y))
        sc = x if self.shortcut is None else self.shortcut(x)
        return self.relu(y + sc)


class PTVHead(nn.Module):
    """PyTorchVideo-style projection head: channels last -> Linear -> mean
    over (T, H, W).  Exports as Transpose -> MatMul -> Add -> ReduceMean."""

    def __init__(self, cin, num_classes):
        super().__init__()
        self.proj = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = x.permute(0, 2, 3, 4, 1)
        x = self.proj(x)
        return x.mean(dim=(1, 2, 3))


# (out channels, blocks) per stage; inner = 2.25 * out (X3D expansion),
# spatial stride 2 in the first block of every stage, SE on even blocks.
X3D_STAGES = ((8, 2), (16, 2), (24, 2))


class NarrowX3D(nn.Module):
    """A narrow X3D: stem (conv 1x3x3 s(1,2,2) -> depth-wise 5x1x1 -> BN ->
    ReLU), 3 stages of X3D blocks, head conv1x1x1 -> BN -> ReLU -> GAP ->
    PyTorchVideo-style permuted Linear head."""

    def __init__(self, stem=8, stages=X3D_STAGES, head=48, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem, kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
            nn.Conv3d(stem, stem, kernel_size=(5, 1, 1), padding=(2, 0, 0), groups=stem, bias=False),
            nn.BatchNorm3d(stem),
            nn.ReLU(inplace=True),
        )
        blocks = []
        cin = stem
        for cout, n in stages:
            inner = int(round(2.25 * cout))
            for i in range(n):
                blocks.append(X3DBlock(cin, inner, cout, 2 if i == 0 else 1, se=(i % 2 == 0)))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head_conv = nn.Sequential(nn.Conv3d(cin, head, 1, bias=False), nn.BatchNorm3d(head), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.head = PTVHead(head, num_classes)
        _init_like_videoresnet(self)
        # random SE biases, so the gates are not all sigmoid(0)
        g = torch.Generator().manual_seed(SEED + 7)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, SqueezeExcitation):
                    m.fc1.bias.copy_(torch.randn(m.fc1.bias.shape, generator=g) * 0.5)
                    m.fc2.bias.copy_(torch.randn(m.fc2.bias.shape, generator=g) * 0.5)

    def forward(self, x):
        x = self.head_conv(self.blocks(self.stem(x)))
        return self.head(self.pool(x))


# --------------------------------------------------------------------------
# Weight randomisation / export helpers (shared with make_full.py)
# --------------------------------------------------------------------------


def randomize_bn(model, seed):
    """Randomise BN running stats and affine params so BN folding bugs show.

    mean ~ N(0, 0.5), var ~ U(0.5, 2), gamma ~ U(-1.5, 1.5) (some negative),
    beta ~ N(0, 0.5)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 3.0 - 1.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.5)


def make_input(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def export(model, x, path, opset, keep_bn, input_names=("input",), require_folded=True):
    """Export `model` (already in eval mode) on input(s) `x` (a tensor or a
    tuple, one per name in `input_names`) to `path`; return ModelProto.
    `require_folded=False` accepts BatchNormalization nodes in a folded
    export (pre-activation BNs, which sit before a conv, cannot be folded)."""
    xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    kwargs = dict(
        opset_version=opset,
        input_names=list(input_names),
        output_names=["output"],
    )
    if keep_bn:
        kwargs.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        kwargs.update(training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
    assert not model.training
    buf = io.BytesIO()
    torch.onnx.export(model, xs, buf, **kwargs)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    ops = op_histogram(proto)
    if keep_bn and "BatchNormalization" not in ops:
        raise RuntimeError("%s: expected BatchNormalization nodes, got %s" % (path, dict(ops)))
    if not keep_bn and require_folded and "BatchNormalization" in ops:
        raise RuntimeError("%s: BatchNormalization was not folded: %s" % (path, dict(ops)))
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return proto


def op_histogram(proto):
    return collections.Counter(n.op_type for n in proto.graph.node)


def write_case(outdir, name, model, x, opset, keep_bn, verify=True, verify_tol=1e-3, input_names=("input",),
               require_folded=True, f64_reference=False):
    """Export model + test_data_set_0 into outdir/name.  `x` is one input
    tensor or a tuple of them (input_K.pb in graph-input order).
    `f64_reference`: output_0.pb is PyTorch's output computed in float64 (on
    the same float32 weights and input), rounded to float32; deep full-size
    models need it, as PyTorch's own float32 result is off by more than the
    comparison's tolerance on small logits.  Returns info dict."""
    xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    d = os.path.join(outdir, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    with torch.no_grad():
        y = model(*xs)
        if f64_reference:
            y = copy.deepcopy(model).double()(*(t.double() for t in xs)).float()
    proto = export(model, xs, os.path.join(d, "model.onnx"), opset, keep_bn, input_names, require_folded)
    g = proto.graph
    init_names = {i.name for i in g.initializer}
    real_inputs = [i for i in g.input if i.name not in init_names]
    assert len(real_inputs) == len(xs) and len(g.output) == 1, (real_inputs, g.output)
    xin = [t.numpy().astype(np.float32) for t in xs]
    yout = y.numpy().astype(np.float32)
    for k, (gi, a) in enumerate(zip(real_inputs, xin)):
        with open(os.path.join(ds, "input_%d.pb" % k), "wb") as f:
            f.write(numpy_helper.from_array(a, name=gi.name).SerializeToString())
    with open(os.path.join(ds, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(yout, name=g.output[0].name).SerializeToString())
    info = dict(
        name=name,
        opset=opset,
        ops=op_histogram(proto),
        in_shape=tuple(xin[0].shape) if len(xin) == 1 else tuple("x".join(map(str, a.shape)) for a in xin),
        out_shape=tuple(yout.shape),
        max_abs=float(np.abs(yout).max()),
        size=dir_size(d),
        model_size=os.path.getsize(os.path.join(d, "model.onnx")),
    )
    if verify:
        got = run_onnx(proto, {gi.name: a for gi, a in zip(real_inputs, xin)})[g.output[0].name]
        err = float(np.abs(got - yout).max())
        scale = max(1.0, float(np.abs(yout).max()))
        info["verify_err"] = err
        if not err <= verify_tol * scale:
            raise RuntimeError("%s: ONNX graph (numpy) differs from torch: max err %g" % (name, err))
    return info


def dir_size(d):
    """bytes in a fixture dir, not counting pyramid/ (reference pyramids
    written by tests/reference/pyramid_ref.py)."""
    total = 0
    for root, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if x != "pyramid"]
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    return total


# --------------------------------------------------------------------------
# The float64 NumPy ONNX interpreter lives in tests/reference/onnx_numpy.py
# (shared with the CFP reference implementation tests/reference/pyramid_ref.py).
# --------------------------------------------------------------------------

sys.path.insert(0, os.path.join(REPO, "tests", "reference"))
from onnx_numpy import run_onnx  # noqa: E402


# --------------------------------------------------------------------------
# Fixture definitions
# --------------------------------------------------------------------------

RESNET_WIDTHS = (8, 16, 24, 32)  # torchvision: 64, 128, 256, 512
RESNET_INPUT = (1, 3, 10, 28, 28)  # odd intermediate sizes: 28->14->7->4->2, T 10->5->3->2
S3D_SCALE = 0.1  # 64->6, 192->19, ..., 1024->102: deliberately not multiples of 8
# T=13, 49x49: T 13->7->7->7->4->2, H 49->25->13->7->4->2 (odd sizes in every pool)
S3D_INPUT = (1, 3, 13, 49, 49)
S3D_AVGPOOL = (1, 2, 2)  # on the 2x2x2 final map -> 2x1x1 so ReduceMean averages 2 values
NUM_CLASSES = 10
RESNEXT_INPUT = (1, 3, 10, 28, 28)  # H 28->14->7->7->4->2, T 10->10->5->3
X3D_INPUT = (1, 3, 10, 28, 28)  # H 28->14->7->4->2, T stays 10 (X3D strides only in space)


def build(arch, seed=SEED):
    torch.manual_seed(seed)
    if arch == "r3d_18":
        w = RESNET_WIDTHS
        m = NarrowVideoResNet([Conv3DSimple] * 4, basic_stem(w[0]), w, num_classes=NUM_CLASSES)
        shape = RESNET_INPUT
    elif arch == "mc3_18":
        w = RESNET_WIDTHS
        m = NarrowVideoResNet([Conv3DSimple] + [Conv3DNoTemporal] * 3, basic_stem(w[0]), w, num_classes=NUM_CLASSES)
        shape = RESNET_INPUT
    elif arch == "r2plus1d_18":
        w = RESNET_WIDTHS
        m = NarrowVideoResNet([Conv2Plus1D] * 4, r2plus1d_stem(w[0]), w, num_classes=NUM_CLASSES)
        shape = RESNET_INPUT
    elif arch == "s3d":
        m = NarrowS3D(S3D_SCALE, num_classes=NUM_CLASSES, avgpool_kernel=S3D_AVGPOOL)
        shape = S3D_INPUT
    elif arch == "resnext":
        m = NarrowResNeXt3d(num_classes=NUM_CLASSES)
        shape = RESNEXT_INPUT
    elif arch == "x3d":
        m = NarrowX3D(num_classes=NUM_CLASSES)
        shape = X3D_INPUT
    else:
        raise ValueError(arch)
    randomize_bn(m, seed + 1)
    m.eval()
    x = make_input(shape, seed + 2)
    return m, x


# ops an architecture's export must contain (the structure the CFP tests rely on)
REQUIRED_OPS = {
    "x3d": ("Transpose", "MatMul", "ReduceMean", "Sigmoid", "Mul"),
}


def check_structure(arch, proto):
    """Fail when an export lost the structure a fixture exists for."""
    ops = op_histogram(proto)
    missing = [op for op in REQUIRED_OPS.get(arch, ()) if op not in ops]
    if missing:
        raise RuntimeError("%s: export lacks %s: %s" % (arch, missing, dict(ops)))
    groups = [onnx.helper.get_attribute_value(a) for n in proto.graph.node if n.op_type == "Conv"
              for a in n.attribute if a.name == "group"]
    if arch == "resnext" and not any(g > 1 for g in groups):
        raise RuntimeError("resnext: no grouped Conv in the export")
    if arch == "x3d":
        w = {t.name: t.dims for t in proto.graph.initializer}
        dw = [n for n in proto.graph.node if n.op_type == "Conv" and n.input[1] in w and w[n.input[1]][1] == 1
              and any(a.name == "group" and a.i == w[n.input[1]][0] for a in n.attribute)]
        if not dw:
            raise RuntimeError("x3d: no depth-wise Conv in the export")


# (fixture name, architecture, opset, keep BatchNormalization)
FIXTURES = [
    ("r3d_18_bn", "r3d_18", 13, True),
    ("r3d_18_folded", "r3d_18", 13, False),
    ("mc3_18_bn", "mc3_18", 13, True),
    ("mc3_18_folded", "mc3_18", 13, False),
    ("r2plus1d_18_bn", "r2plus1d_18", 13, True),
    ("r2plus1d_18_folded", "r2plus1d_18", 13, False),
    ("s3d_bn", "s3d", 13, True),
    ("s3d_folded", "s3d", 13, False),
    ("r3d_18_folded_op17", "r3d_18", 17, False),
    ("mc3_18_bn_op11", "mc3_18", 11, True),
    ("resnext_bn", "resnext", 13, True),
    ("resnext_folded", "resnext", 13, False),
    ("x3d_bn", "x3d", 13, True),
    ("x3d_folded", "x3d", 13, False),
]


class DynamicHead(torch.nn.Module):
    """A tiny net exported with dynamic batch and time axes, so the exporter
    keeps the shape arithmetic of `x.view(x.size(0), -1)` and of a channel
    split as Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains, which
    cfp must fold to constants once the input shape is known."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv3d(3, 6, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm3d(6)
        self.pool = torch.nn.MaxPool3d((1, 2, 2))
        self.conv2 = torch.nn.Conv3d(6, 8, (1, 3, 3), padding=(0, 1, 1), groups=2)
        self.fc = torch.nn.Linear(8 * 2 * 2, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = torch.nn.functional.hardswish(self.conv2(x))
        n, c, t = x.size(0), x.size(1), x.size(2)
        x = x.reshape(n, c, t, -1).mean(dim=2)          # (N, C, H*W)
        x = torch.nn.functional.adaptive_avg_pool1d(x, 4)
        x = x.view(x.size(0), -1)
        return torch.softmax(self.fc(x), dim=1)


def write_dynamic_case(outdir, name="dynamic_shapes", opset=13):
    torch.manual_seed(SEED)
    m = DynamicHead()
    randomize_bn(m, SEED + 1)
    m.eval()
    x = make_input((2, 3, 6, 16, 16), SEED + 2)
    d = os.path.join(outdir, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    with torch.no_grad():
        y = m(x)
    buf = io.BytesIO()
    torch.onnx.export(m, (x,), buf, opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N", 2: "T"}, "output": {0: "N"}})
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    ops = op_histogram(proto)
    for op in ("Shape", "Gather", "Concat", "Reshape"):
        if op not in ops:
            raise RuntimeError("%s: expected a %s node in the exported graph, got %s" % (name, op, dict(ops)))
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(buf.getvalue())
    with open(os.path.join(ds, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.numpy(), name="input").SerializeToString())
    with open(os.path.join(ds, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y.numpy(), name="output").SerializeToString())
    return dict(name=name, opset=opset, ops=ops, in_shape=tuple(x.shape), out_shape=tuple(y.shape),
                max_abs=float(y.abs().max()), size=dir_size(d), model_size=os.path.getsize(os.path.join(d, "model.onnx")))


def print_summary(infos):
    all_ops = collections.Counter()
    for i in infos:
        all_ops.update(i["ops"])
        print(
            "%-22s opset %2d  in %-20s out %-8s max|y| %9.4f  model %8d B  dir %8d B%s"
            % (
                i["name"],
                i["opset"],
                (",".join if isinstance(i["in_shape"][0], str) else lambda t: "x".join(map(str, t)))(i["in_shape"]),
                "x".join(map(str, i["out_shape"])),
                i["max_abs"],
                i["model_size"],
                i["size"],
                ("  onnx-vs-torch %.2e" % i["verify_err"]) if "verify_err" in i else "",
            )
        )
        print("    ops: " + ", ".join("%s:%d" % kv for kv in sorted(i["ops"].items())))
    print("distinct op types: " + ", ".join(sorted(all_ops)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"))
    ap.add_argument("--only", nargs="*", help="fixture names to (re)generate")
    ap.add_argument("--no-verify", action="store_true", help="skip the NumPy re-evaluation of the ONNX graph")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    infos = []
    for name, arch, opset, keep_bn in FIXTURES:
        if args.only and name not in args.only:
            continue
        model, x = build(arch)
        infos.append(write_case(args.out, name, model, x, opset, keep_bn, verify=not args.no_verify))
        check_structure(arch, onnx.load(os.path.join(args.out, name, "model.onnx")))
    if not args.only or "dynamic_shapes" in args.only:
        infos.append(write_dynamic_case(args.out))
    print_summary(infos)
    big = [i["name"] for i in infos if i["size"] > 1 << 20]
    if big:
        print("WARNING: fixtures over 1 MiB: " + ", ".join(big), file=sys.stderr)


if __name__ == "__main__":
    main()
