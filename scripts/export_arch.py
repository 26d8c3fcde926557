#!/usr/bin/python3
"""Export the architectures of scripts/models/ to ONNX, in the ONNX
backend-test layout (model.onnx, test_data_set_0/input_K.pb, output_0.pb:
PyTorch's float32 output on seeded random weights and input).

    /usr/bin/python3 scripts/export_arch.py --arch NAME [--width full|reduced|W]
        [--opset 13|17] [--bn kept|folded] [--classes N] [--verify] --out DIR
    /usr/bin/python3 scripts/export_arch.py --fixtures [--only FIXTURE ...]
    /usr/bin/python3 scripts/export_arch.py --list

--out DIR writes DIR/model.onnx and DIR/test_data_set_0/.  --fixtures
writes the committed reduced-width fixtures tests/fixtures/<arch>_<bn|
folded>[_op17] (each checked against a float64 NumPy evaluation of the
exported graph, and for the structure the CFP tests rely on); afterwards
run `tests/reference/pyramid_ref.py --all-fixtures` for their reference
pyramids.  Full-width models come from scripts/make_full.py --archs.

Weights: torchvision VideoResNet's initialisation, torch seed 0; BatchNorm
statistics and affine parameters randomised (some negative gammas) by
make_fixtures.randomize_bn, so BN folding mistakes change the output.
SlowFast's `slow` input is PyTorchVideo's PackPathway subsample of `fast`:
slow = fast[:, :, linspace(0, T-1, T/alpha).long()].

Needs Debian's python3-torch (1.13), python3-onnx (1.12), python3-numpy.
"""
import argparse
import collections
import os
import shutil
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import onnx  # noqa: E402
import torch  # noqa: E402

import make_fixtures as mf  # noqa: E402
import models  # noqa: E402

SEED = 0
NUM_CLASSES_REDUCED = 10

# committed fixtures: (name, arch, opset, keep BatchNormalization)
FIXTURES = [(a + "_bn", a, 13, True) for a in models.ARCHS if a != "x3d_s"] + \
           [(a + "_folded", a, 13, False) for a in models.ARCHS if a != "x3d_s"] + [
    ("resnet50_3d_folded_op17", "resnet50_3d", 17, False),
    ("i3d_bn_op17", "i3d", 17, True),
    ("mfnet3d_folded_op17", "mfnet3d", 17, False),
    ("x3d_m_folded_op17", "x3d_m", 17, False),
    ("slowfast_r50_folded_op17", "slowfast_r50", 17, False),
]


def build(arch, width="reduced", num_classes=None, seed=SEED):
    """(model in eval mode, tuple of inputs, input names)."""
    spec = models.ARCHS[arch]
    if width == "full":
        w, shapes, kw = 1.0, spec["full"], spec["full_kw"]
        num_classes = num_classes or 400
    elif width == "reduced":
        w, shapes, kw = spec["reduced_width"], spec["reduced"], spec["reduced_kw"]
        num_classes = num_classes or NUM_CLASSES_REDUCED
    else:
        w, shapes, kw = float(width), spec["full"], spec["full_kw"]
        num_classes = num_classes or 400
    torch.manual_seed(seed)
    m = spec["build"](w, num_classes, **kw)
    mf.randomize_bn(m, seed + 1)
    m.eval()
    names = list(shapes)
    if names == ["slow", "fast"]:
        fast = mf.make_input(shapes["fast"], seed + 2)
        ts = shapes["slow"][2]
        idx = torch.linspace(0, fast.shape[2] - 1, ts).long()
        xs = (fast[:, :, idx].contiguous(), fast)
    else:
        xs = tuple(mf.make_input(shapes[n], seed + 2 + k) for k, n in enumerate(names))
    return m, xs, names


def grouped(proto):
    """(group, weight dims) of every Conv with a constant weight."""
    w = {t.name: tuple(t.dims) for t in proto.graph.initializer}
    out = []
    for n in proto.graph.node:
        if n.op_type == "Conv" and n.input[1] in w:
            g = next((a.i for a in n.attribute if a.name == "group"), 1)
            out.append((g, w[n.input[1]]))
    return out


def check_structure(arch, proto):
    """Fail when an export lost the structure its tests rely on."""
    ops = mf.op_histogram(proto)
    need = {"i3d": ("Concat", "MaxPool"), "x3d": ("Transpose", "MatMul", "Sigmoid", "Mul"),
            "slowfast": ("Concat", "Transpose", "MatMul"), "mfnet": ("Add",), "res": ("Add",)}
    for prefix, want in need.items():
        if arch.startswith(prefix):
            missing = [op for op in want if op not in ops]
            if missing:
                raise RuntimeError("%s: export lacks %s: %s" % (arch, missing, dict(ops)))
    g = grouped(proto)
    if arch == "resnext101_3d" and not any(k == 32 and d[1] > 1 for k, d in g):
        raise RuntimeError("resnext101_3d: no 32-group Conv with >= 2 channels per group")
    if arch == "mfnet3d" and not any(k == 16 and d[1] > 1 for k, d in g):
        raise RuntimeError("mfnet3d: no 16-fibre Conv with >= 2 channels per fibre")
    if arch.startswith("x3d") and not any(k > 1 and d[1] == 1 and d[2:] == (3, 3, 3) for k, d in g):
        raise RuntimeError("x3d: no depth-wise 3x3x3 Conv")
    init = {t.name for t in proto.graph.initializer}
    n_in = len([i for i in proto.graph.input if i.name not in init])
    if arch.startswith("slowfast") and n_in != 2:
        raise RuntimeError("slowfast: %d graph inputs" % n_in)


def export_one(arch, out, width="reduced", opset=13, keep_bn=True, num_classes=None, verify=True):
    model, xs, names = build(arch, width, num_classes)
    parent, name = os.path.split(os.path.abspath(out))
    pre_act = arch == "mfnet3d"  # BN before the conv: only conv1's BN folds
    info = mf.write_case(parent, name, model, xs, opset, keep_bn, verify=verify, input_names=names,
                         require_folded=not pre_act)
    proto = onnx.load(os.path.join(out, "model.onnx"))
    check_structure(arch, proto)
    if pre_act and not keep_bn:
        n_bn = info["ops"].get("BatchNormalization", 0)
        n_all = sum(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
        if n_bn >= n_all:
            raise RuntimeError("%s: folding removed no BatchNormalization (%d of %d left)" % (arch, n_bn, n_all))
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(models.ARCHS))
    ap.add_argument("--width", default="reduced", help="full, reduced or a multiplier")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--bn", choices=("kept", "folded"), default="folded")
    ap.add_argument("--classes", type=int, default=None, help="default 400 (full), 10 (reduced)")
    ap.add_argument("--out")
    ap.add_argument("--verify", action="store_true", help="check the graph with the float64 NumPy interpreter")
    ap.add_argument("--fixtures", action="store_true", help="write the committed reduced fixtures")
    ap.add_argument("--fixture-dir", default=os.path.join(os.path.dirname(HERE), "tests", "fixtures"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.list:
        for a, s in models.ARCHS.items():
            print("%-16s full %s  reduced x%.4g %s" % (a, s["full"], s["reduced_width"], s["reduced"]))
        return
    infos = []
    if args.fixtures:
        for name, arch, opset, keep_bn in FIXTURES:
            if args.only and name not in args.only:
                continue
            d = os.path.join(args.fixture_dir, name)
            keep = os.path.join(d, "pyramid")
            saved = None
            if os.path.isdir(keep):  # keep reference pyramids while the model is rewritten
                saved = keep + ".keep"
                shutil.rmtree(saved, ignore_errors=True)
                os.replace(keep, saved)
            shutil.rmtree(d, ignore_errors=True)
            infos.append(export_one(arch, d, "reduced", opset, keep_bn, verify=True))
            if saved:
                os.replace(saved, keep)
            print("%s written" % d, flush=True)
    elif args.arch and args.out:
        infos.append(export_one(args.arch, args.out, args.width, args.opset, args.bn == "kept", args.classes,
                                verify=args.verify))
    else:
        ap.error("--arch and --out, or --fixtures, or --list")
    mf.print_summary(infos)
    big = [i["name"] for i in infos if i["size"] > 1 << 20]
    if big:
        print("WARNING: over 1 MiB: " + ", ".join(big), file=sys.stderr)


if __name__ == "__main__":
    main()
