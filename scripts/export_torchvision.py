#!/usr/bin/python3
"""Export a torchvision video classifier to ONNX for cfp, with a sidecar
MODEL.onnx.json that names its preprocessing.

    /usr/bin/python3 scripts/export_torchvision.py MODEL --out DIR/model.onnx
        [--checkpoint PATH] [--classes N] [--opset 13|17] [--bn kept|folded]
        [--frames T] [--size S] [--test-data] [--list]

MODEL is a torchvision.models.video builder: r3d_18, mc3_18, r2plus1d_18,
s3d, and in torchvision >= 0.14 mvit_v1_b, mvit_v2_s (swin3d_* from 0.15);
`--list` prints those this torchvision has.

Weights: random (torch seed 0) unless --checkpoint names a file saved with
torch.save: a state_dict, or a dict holding one under "state_dict" or
"model" (a "module." prefix from DataParallel is dropped). The number of
classes is read from the checkpoint's last layer unless --classes is given.
torchvision's own Kinetics-400 weights can be turned into such a file on a
machine with network access:

    python3 -c "import torch, torchvision.models.video as v;
                torch.save(v.r3d_18(weights='KINETICS400_V1').state_dict(), 'r3d_18_k400.pth')"

The sidecar gives cfp the preset of the model's weights (README, presets):
r3d_18/mc3_18/r2plus1d_18 -> kinetics-r3d, s3d -> kinetics-s3d, and for
MViT torchvision's VideoClassification values written out (short side 256,
crop 224, mean 0.45, std 0.225, 16 frames). 400-class models get
"labels": "kinetics400".

--test-data also writes DIR/test_data_set_0/input_0.pb and output_0.pb
(PyTorch's output on a seeded random clip), so `cfp run` can be checked:

    build/cfp run DIR/model.onnx -i DIR/test_data_set_0/input_0.pb -o /tmp/out.pb

Needs Debian's python3-torch (1.13), python3-torchvision (0.14), python3-onnx.
"""
import argparse
import io
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from torchvision.models import video as tvv  # noqa: E402

import make_fixtures as mf  # noqa: E402

KINETICS_R3D = {"preset": "kinetics-r3d"}
# (sidecar, default input T x H x W)
MODELS = {
    "r3d_18": (KINETICS_R3D, (16, 112, 112)),
    "mc3_18": (KINETICS_R3D, (16, 112, 112)),
    "r2plus1d_18": (KINETICS_R3D, (16, 112, 112)),
    "s3d": ({"preset": "kinetics-s3d", "frames": 16}, (16, 224, 224)),
    # torchvision MViT_V1_B / MViT_V2_S weights: VideoClassification(crop 224, resize 256, mean/std 0.45/0.225), 16 frames
    "mvit_v1_b": ({"short_side": 256, "crop": [224, 224], "scale": 1 / 255.0, "mean": [0.45] * 3, "std": [0.225] * 3,
                   "frames": 16}, (16, 224, 224)),
    "mvit_v2_s": ({"short_side": 256, "crop": [224, 224], "scale": 1 / 255.0, "mean": [0.45] * 3, "std": [0.225] * 3,
                   "frames": 16}, (16, 224, 224)),
    "swin3d_t": ({"short_side": 256, "crop": [224, 224], "scale": 1 / 255.0, "mean": [0.485, 0.456, 0.406],
                  "std": [0.229, 0.224, 0.225], "frames": 32}, (32, 224, 224)),
}


def available():
    return [n for n in MODELS if hasattr(tvv, n)]


def load_checkpoint(path):
    sd = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict):
        raise SystemExit("%s: not a state_dict" % path)
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def classes_in(sd):
    """out features of the last 2-D (Linear) or 5-D 1x1x1 (S3D) weight."""
    last = None
    for k, v in sd.items():
        if k.endswith("weight") and (v.dim() == 2 or (v.dim() == 5 and tuple(v.shape[2:]) == (1, 1, 1))):
            last = v
    return int(last.shape[0]) if last is not None else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?")
    ap.add_argument("--out", help="the .onnx file to write")
    ap.add_argument("--checkpoint")
    ap.add_argument("--classes", type=int)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--bn", choices=("kept", "folded"), default="folded")
    ap.add_argument("--frames", type=int, help="input T (default: the model's)")
    ap.add_argument("--size", type=int, help="input H = W (default: the model's)")
    ap.add_argument("--test-data", action="store_true", help="write test_data_set_0/ next to the model")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        print("torchvision %s: %s" % (torchvision.__version__, " ".join(available())))
        return
    if not args.model or not args.out:
        ap.error("MODEL and --out are required")
    if args.model not in available():
        ap.error("%s: not a video model of torchvision %s (have: %s)" % (args.model, torchvision.__version__,
                                                                         " ".join(available())))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    sidecar, (t, h, w) = MODELS[args.model]
    sd = load_checkpoint(args.checkpoint) if args.checkpoint else None
    n_cls = args.classes or (classes_in(sd) if sd else None) or 400
    torch.manual_seed(0)
    model = getattr(tvv, args.model)(weights=None, num_classes=n_cls)
    if sd is not None:
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise SystemExit("%s does not fit %s: missing %s, unexpected %s" % (
                args.checkpoint, args.model, missing[:5], unexpected[:5]))
    else:
        mf.randomize_bn(model, 1)
    model.eval()
    x = mf.make_input((1, 3, args.frames or t, args.size or h, args.size or w), 2)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    mf.export(model, x, args.out, args.opset, args.bn == "kept", require_folded=False)
    meta = dict(sidecar)
    if args.frames:
        meta["frames"] = args.frames
    if n_cls == 400:
        meta["labels"] = "kinetics400"
    with open(args.out + ".json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print("%s (%s, %d classes, opset %d, input 1x3x%dx%dx%d) and %s.json" % (
        args.out, "checkpoint " + args.checkpoint if sd else "random weights", n_cls, args.opset,
        x.shape[2], x.shape[3], x.shape[4], args.out))
    if args.test_data:
        ds = os.path.join(out_dir, "test_data_set_0")
        os.makedirs(ds, exist_ok=True)
        with torch.no_grad():
            y = model(x)
        with open(os.path.join(ds, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x.numpy(), "input").SerializeToString())
        with open(os.path.join(ds, "output_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(y.numpy().astype(np.float32), "output").SerializeToString())
        print("%s/{input_0,output_0}.pb" % ds)


if __name__ == "__main__":
    main()
