"""PyTorch definitions of the video CNNs cfp is tested on, written from the
published architecture descriptions (each module's docstring names its
source).  `ARCHS` maps a name to how it is built and fed:

    build(width, num_classes, **kw) -> nn.Module
    full:    graph inputs at full width, {input name: shape}
    reduced: the width multiplier, inputs and build arguments of the small
             committed fixtures (tests/fixtures/<name>_*)

The reduced models keep the published depth, kernels, strides, groups and
branches, with fewer channels and smaller clips.
"""
import sys

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__

from . import i3d, mfnet, resnet3d, slowfast, x3d  # noqa: E402


def _spec(build, full, reduced_width, reduced, full_kw=None, reduced_kw=None):
    return dict(build=build, full=full, full_kw=full_kw or {}, reduced_width=reduced_width, reduced=reduced,
                reduced_kw=reduced_kw or {})


CLIP112 = {"input": (1, 3, 16, 112, 112)}
CLIP224 = {"input": (1, 3, 16, 224, 224)}
SMALL = {"input": (1, 3, 8, 16, 16)}

ARCHS = {
    "resnet50_3d": _spec(resnet3d.resnet50_3d, CLIP112, 1 / 16, SMALL),
    "resnet101_3d": _spec(resnet3d.resnet101_3d, CLIP112, 1 / 32, SMALL),
    "resnet152_3d": _spec(resnet3d.resnet152_3d, CLIP112, 1 / 32, SMALL),
    "resnext101_3d": _spec(resnet3d.resnext101_3d, CLIP112, 1 / 16, SMALL),
    "i3d": _spec(i3d.i3d, CLIP224, 1 / 8, {"input": (1, 3, 8, 24, 24)}, reduced_kw=dict(pool=(1, 1, 1))),
    "mfnet3d": _spec(mfnet.mfnet3d, CLIP224, 1 / 8, {"input": (1, 3, 16, 16, 16)}, reduced_kw=dict(pool=(8, 1, 1))),
    "x3d_m": _spec(x3d.x3d_m, CLIP224, 1 / 6, {"input": (1, 3, 8, 24, 24)}, reduced_kw=dict(pool=(8, 1, 1))),
    "x3d_s": _spec(x3d.x3d_s, {"input": (1, 3, 13, 160, 160)}, 1 / 6, {"input": (1, 3, 13, 24, 24)},
                   reduced_kw=dict(pool=(13, 1, 1))),
    "slowfast_r50": _spec(slowfast.slowfast_r50, {"slow": (1, 3, 8, 224, 224), "fast": (1, 3, 32, 224, 224)}, 1 / 16,
                          {"slow": (1, 3, 4, 16, 16), "fast": (1, 3, 16, 16, 16)}),
}
