#!/usr/bin/python3
"""The models `make bench` times, and their preparation.

    /usr/bin/python3 bench/models.py DIR [NAME ...]     export what is missing
    /usr/bin/python3 bench/models.py --list             names, one a line

For each model, DIR/<name>/ holds model.onnx (BatchNorm folded, opset 13, the
graph cfp and ONNX Runtime run), test_data_set_0/input_0.pb (the input all
three programs get) and model.pt (the same torch module, pickled, for the
PyTorch side). Weights are random (seeded): speed does not depend on them.

To add a model, add a line to MODELS: a torchvision video model by name
(scripts/make_full.py), or an architecture of scripts/models/ (ARCHS, built
at full width). Models with more than one input are not supported here.
"""
import os
import shutil
import sys

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, ROOT)

# name, source ("tv": torchvision via scripts/make_full.py; "arch":
# scripts/models ARCHS at full width)
MODELS = [
    ("r3d_18", "tv"),
    ("mc3_18", "tv"),
    ("r2plus1d_18", "tv"),
    ("s3d", "tv"),
    ("resnet50_3d", "arch"),
    ("i3d", "arch"),
    ("x3d_m", "arch"),
]
SEED = 0


def available():
    """MODELS whose builder exists in this checkout."""
    out = []
    for name, src in MODELS:
        if src == "arch":
            try:
                from scripts.models import ARCHS
            except ImportError:
                continue
            spec = ARCHS.get(name)
            if not spec or len(spec["full"]) != 1:
                continue
        out.append(name)
    return out


def build(name):
    """(torch module in eval mode, input tensor)"""
    import make_fixtures as mf
    src = dict(MODELS)[name]
    if src == "tv":
        import make_full
        return make_full.build(name, SEED)
    import torch
    from scripts.models import ARCHS
    spec = ARCHS[name]
    torch.manual_seed(SEED)
    model = spec["build"](1.0, 400, **spec["full_kw"])
    mf.randomize_bn(model, SEED + 1)
    model.eval()
    (shape,) = spec["full"].values()
    return model, mf.make_input(shape, SEED + 2)


def complete(d):
    return all(os.path.isfile(os.path.join(d, p))
               for p in ("model.onnx", "model.pt", "test_data_set_0/input_0.pb"))


def prepare(outdir, name):
    import torch
    import make_fixtures as mf
    final = os.path.join(outdir, name)
    if complete(final):
        return
    torch.set_num_threads(os.cpu_count() or 1)
    model, x = build(name)
    if os.path.isfile(os.path.join(final, "model.onnx")) and os.path.isfile(
            os.path.join(final, "test_data_set_0", "input_0.pb")):
        # exported by scripts/make_full.py with the same seeds: add the module
        torch.save(model, os.path.join(final, "model.pt.tmp"))
        os.replace(os.path.join(final, "model.pt.tmp"), os.path.join(final, "model.pt"))
        return
    tmp = os.path.join(outdir, ".tmp-" + name)
    shutil.rmtree(tmp, ignore_errors=True)
    mf.write_case(tmp, name, model, x, 13, False, verify=False)
    torch.save(model, os.path.join(tmp, name, "model.pt"))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(os.path.join(tmp, name), final)
    os.rmdir(tmp)
    print("bench: exported %s" % final, file=sys.stderr, flush=True)


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(available()))
        return
    outdir, names = sys.argv[1], sys.argv[2:] or available()
    os.makedirs(outdir, exist_ok=True)
    for n in names:
        prepare(outdir, n)


if __name__ == "__main__":
    main()
