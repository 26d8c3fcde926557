#!/usr/bin/python3
"""Export FULL-size video models for `make test-full` / benchmarks.

    /usr/bin/python3 scripts/make_full.py OUTDIR [--bn] [--force] [--only NAME ...]
                                          [--verify] [--opset 13] [--torchvision-only]

Writes, in the ONNX backend-test layout,

    OUTDIR/<name>/model.onnx
    OUTDIR/<name>/test_data_set_0/input_0.pb
    OUTDIR/<name>/test_data_set_0/output_0.pb

for torchvision's r3d_18, mc3_18, r2plus1d_18 (input 1x3x16x112x112) and s3d
(input 1x3x16x224x224), 400 classes, random weights (weights=None, torch
seed 0) and randomised BatchNorm statistics/affine parameters (same scheme as
scripts/make_fixtures.py).  Models are exported BN-folded (names r3d_18,
mc3_18, r2plus1d_18, s3d); with --bn also with BatchNormalization kept
(names <name>_bn).  Each model.onnx is ~30-130 MB: never commit them.

Then the paper's architectures and today's from scripts/models/ at full
width (scripts/export_arch.py --width full): resnet50_3d, resnet101_3d,
resnet152_3d, resnext101_3d (16x112x112), i3d, mfnet3d, x3d_m (16x224x224),
x3d_s (13x160x160) and slowfast_r50 (inputs slow 8x224x224, fast
32x224x224), 400 classes, same weight scheme (15-470 MB each; 1.5 GB for
all).  --torchvision-only skips them.

The reference output_0.pb is PyTorch's output computed in float64 (same
float32 weights and input; rounded to float32): on ResNet-152-3D with random
weights PyTorch's float32 logits differ from it by up to 1.1e-4 (max |y| 242),
more than the test's 1e-5 + 1e-4 |y| on small logits.

Existing complete outputs are skipped unless --force.  --verify re-runs each
exported graph with the float64 NumPy interpreter from make_fixtures.py
(about 5-15 s per model on 2 cores, a few GB of RAM).
"""
import argparse
import os
import shutil
import sys
import time

import torch
from torchvision.models import video as tvv

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_arch  # noqa: E402
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402

SEED = 0
ARCHS = {
    # name: (builder, input shape)
    "r3d_18": (tvv.r3d_18, (1, 3, 16, 112, 112)),
    "mc3_18": (tvv.mc3_18, (1, 3, 16, 112, 112)),
    "r2plus1d_18": (tvv.r2plus1d_18, (1, 3, 16, 112, 112)),
    "s3d": (tvv.s3d, (1, 3, 16, 224, 224)),
}


def build(arch, seed=SEED):
    """(model, input tensor or tuple of them, input names)"""
    if arch in models.ARCHS:
        return export_arch.build(arch, "full", seed=seed)
    fn, shape = ARCHS[arch]
    torch.manual_seed(seed)
    m = fn(weights=None)
    mf.randomize_bn(m, seed + 1)
    m.eval()
    return m, mf.make_input(shape, seed + 2), ["input"]


def complete(d):
    return all(
        os.path.isfile(os.path.join(d, p))
        for p in ("model.onnx", "test_data_set_0/input_0.pb", "test_data_set_0/output_0.pb")
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--bn", action="store_true", help="also export with BatchNormalization kept (<name>_bn)")
    ap.add_argument("--force", action="store_true", help="regenerate models that already exist")
    ap.add_argument("--only", nargs="*", choices=sorted(ARCHS) + sorted(models.ARCHS), help="architectures to export")
    ap.add_argument("--torchvision-only", action="store_true", help="only the four torchvision models")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--verify", action="store_true", help="check the ONNX graph against torch with NumPy")
    args = ap.parse_args()

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(args.outdir, exist_ok=True)
    jobs = []
    for arch in list(ARCHS) + ([] if args.torchvision_only else list(models.ARCHS)):
        if args.only and arch not in args.only:
            continue
        jobs.append((arch, arch, False))
        if args.bn:
            jobs.append((arch + "_bn", arch, True))

    infos = []
    for name, arch, keep_bn in jobs:
        final = os.path.join(args.outdir, name)
        if complete(final) and not args.force:
            print("%s: exists, skipping (use --force to regenerate)" % final)
            continue
        t0 = time.time()
        model, x, names = build(arch)
        # write into a temporary sibling, then move into place, so an
        # interrupted run never leaves a half-written model that gets skipped
        tmp_parent = os.path.join(args.outdir, ".tmp-" + name)
        shutil.rmtree(tmp_parent, ignore_errors=True)
        info = mf.write_case(tmp_parent, name, model, x, args.opset, keep_bn, verify=args.verify, input_names=names,
                             require_folded=arch != "mfnet3d", f64_reference=True)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(os.path.join(tmp_parent, name), final)
        os.rmdir(tmp_parent)
        info["name"] = name
        infos.append(info)
        print("%s: written in %.0f s" % (final, time.time() - t0), flush=True)
    if infos:
        mf.print_summary(infos)


if __name__ == "__main__":
    main()
