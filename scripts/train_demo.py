#!/usr/bin/python3
"""Train the bundled demo model (models/demo/) on scripts/synthetic_actions.py.

A small residual 3D ResNet (torchvision-style BasicBlocks with BatchNorm, 4
stages, widths 16/32/48/64, a head that takes the maximum over each time
step's cells and averages it over the time steps, + Linear; a last feature map of
5x9x9 whose cells sit where cfp's corner-aligned zoom draws them, a penalty
that keeps each of its channels to one place per time step, and classifier
weights kept >= 0: docs/evaluation.md says why) is trained on the CPU
on synthetic clips rendered at 16x112x112 and resized to the model's input,
16x64x64: a short warm-up on clips with less clutter (a curriculum: without it
the loss sits at chance for a long time), then the full data, with horizontal
flips and time reversal (labels swapped accordingly). Everything is seeded;
the script regenerates, in --out:

    model.onnx            BatchNormalization nodes kept (opset 13)
    model_folded.onnx     default export, BatchNorm folded into the convolutions
    model.onnx.json       sidecar: the preprocessing (same for both models)
    model_folded.onnx.json
    labels.txt            one class name per line
    samples/<class>_<k>.mp4, .mask   three sample clips (H.264) and their masks
    samples/expected.json PyTorch's logits for each sample, as cfp would feed it
    train_log.json        accuracy, confusion matrix, timings

Usage: /usr/bin/python3 scripts/train_demo.py [--out models/demo] [--threads 2]
See scripts/README.md for the numbers of the shipped model.
"""
import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synthetic_actions as sa  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = 112      # clips are rendered (and shipped) at 112x112
INPUT = 64      # the model's input: the clip resized to 64x64
FRAMES = 16
MEAN = 0.45     # model input = (pixel/255 - MEAN) / STD, all three channels
STD = 0.225
TRAIN_SEED, TEST_SEED, SAMPLE_SEED, EASY_SEED = 1, 2, 3, 11
# left<->right swap under a horizontal flip
HFLIP = [sa.CLASSES.index(c) for c in
         ["move_right", "move_left", "move_up", "move_down", "rotate", "grow", "shrink", "bounce", "approach"]]
# played backwards: left<->right, up<->down, grow<->shrink; rotate and bounce stay;
# approach would become "separate", not a class (-1: never reversed)
TREV = [sa.CLASSES.index(c) if c else -1 for c in
        ["move_right", "move_left", "move_down", "move_up", "rotate", "shrink", "grow", "bounce", None]]


# ------------------------------------------------------------------ model ----
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, spatial=3, tpad=1):
        super().__init__()
        k, pad = (3, spatial, spatial), (1, spatial // 2, spatial // 2)
        self.conv1 = nn.Conv3d(cin, cout, k, stride, (tpad,) + pad[1:], bias=False)
        self.bn1 = nn.BatchNorm3d(cout)
        self.conv2 = nn.Conv3d(cout, cout, k, 1, pad, bias=False)
        self.bn2 = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv3d(cin, cout, 1, stride, (tpad - 1, 0, 0), bias=False),
                                            nn.BatchNorm3d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class DemoR3D(nn.Module):
    """Stem (3x7x7, stride 1x4x4) -> 4 residual stages -> pool -> Linear.
    pool "space" (the shipped model): the maximum over each time step's cells,
    averaged over the time steps (ONNX: ReduceMax over H, W, then ReduceMean over T);
    "max": global max pooling; "avg": global average pooling.
    Feature maps (TxHxW) for a 16x64x64 input, align=False and strides 1,2,2,2 in
    time: stem 16x16x16, layer1 16x16x16, layer2 8x8x8, layer3 4x8x8, layer4 2x8x8.

    align=True (the shipped model, with time strides 1,2,2,1) pads the stem by 4
    pixels instead of 3 and stage 2's first conv by 2 frames instead of 1 (its
    1x1x1 shortcut by 1 frame): stem 16x17x17, layer1 16x17x17, layer2 9x9x9,
    layer3 5x9x9, layer4 5x9x9, with cell (t, y, x) centred on frame 4t-1 and
    pixel (8y-1, 8x-1) of the input. A corner-aligned zoom of the map to 16x64x64
    (cfp's, scipy.ndimage.zoom's default: first cell on the first frame/pixel,
    last on the last) draws it at frame 3.75t and pixel 7.875y: within a frame and
    a pixel of the cell's centre everywhere. Without it the cells are centred on
    frames 0, 8 and pixels 0..56 but drawn at frames 0, 15 and pixels 0..63: the
    second half of the clip showed the actor where it was at frame 8, and the
    bottom right of the frame was off by up to 12 px of the 112 px clip."""

    def __init__(self, num_classes=len(sa.CLASSES), widths=(16, 32, 48, 64),
                 strides=((1, 1, 1), (2, 2, 2), (2, 1, 1), (1, 1, 1)), pool="space",
                 spatial=(3, 3, 3, 3), align=True):
        super().__init__()
        sp = 4 if align else 3
        self.stem = nn.Sequential(nn.Conv3d(3, widths[0], (3, 7, 7), (1, 4, 4), (1, sp, sp), bias=False),
                                  nn.BatchNorm3d(widths[0]), nn.ReLU(inplace=True))
        # layers 3 and 4 do not stride in space, so the last feature map keeps 8x8 (9x9)
        # spatial cells (8 px of the 64x64 input, 14 px of the 112x112 clip) and
        # the class-level saliency can point at an object, not a quadrant
        layers, cin = [], widths[0]
        for i, (w, s, k) in enumerate(zip(widths, strides, spatial)):
            layers.append(BasicBlock(cin, w, s, k, 2 if align and i == 1 else 1))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        # max pooling makes the class score depend on the strongest cell (a local
        # feature) rather than on the sum over the whole map; "space" takes it per
        # time step and averages those, so that every time step has to carry the
        # class at one place, not only the time step where the evidence is strongest
        # (the object that grows is small at the start: with one global maximum the
        # first time steps' maps were free to light up anything)
        self.pool = pool
        self.avgpool = {"avg": nn.AdaptiveAvgPool3d(1), "max": nn.AdaptiveMaxPool3d(1)}.get(pool)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        self.features = x  # the last feature map, for --l1 and --peak
        if self.pool == "space":
            return self.fc(x.amax((3, 4)).mean(2))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ------------------------------------------------------------------- data ----
def _yuv420_roundtrip(x):
    """x float (N,3,H,W) 0..255 RGB -> the same after BT.601 4:2:0 chroma
    subsampling, roughly what H.264 yuv420p does to colour edges."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = (b - y) * 0.564
    cr = (r - y) * 0.713
    c = torch.stack([cb, cr], 1)
    c = F.interpolate(F.avg_pool2d(c, 2), scale_factor=2, mode="bilinear", align_corners=False)
    cb, cr = c[:, 0], c[:, 1]
    return torch.stack([y + 1.403 * cr, y - 0.344 * cb - 0.714 * cr, y + 1.773 * cb], 1).clamp(0, 255)


def to_input_size(clips, chroma=None):
    """uint8 (N,T,H,W,3) at 112 -> uint8 (N,T,64,64,3): antialiased bilinear, like
    libswscale's bilinear downscale. chroma: bool (N,) clips to pass through 4:2:0 first."""
    N, T, H, W, _ = clips.shape
    x = torch.from_numpy(clips).reshape(N * T, H, W, 3).permute(0, 3, 1, 2).float()
    if chroma is not None and chroma.any():
        sel = torch.from_numpy(np.repeat(chroma, T))
        x[sel] = _yuv420_roundtrip(x[sel])
    x = F.interpolate(x, size=(INPUT, INPUT), mode="bilinear", align_corners=False, antialias=True)
    x = x.round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).reshape(N, T, INPUT, INPUT, 3).numpy()


def _chunk(args):
    seed, start, n, clutter = args
    torch.set_num_threads(1)
    clips, labels, _ = sa.generate(n, seed, CLIP, FRAMES, start=start, clutter=clutter)
    chroma = (np.arange(start, start + n) % 2) == 0  # half the clips see 4:2:0 chroma
    return start, to_input_size(clips, chroma), labels


def make_set(seed, n, workers, chunk=60, easy=False):
    """easy: the curriculum's warm-up set, clutter rising from 0 to 0.6 over the set."""
    jobs = [(seed, s, min(chunk, n - s), 0.6 * s / n if easy else 1.0) for s in range(0, n, chunk)]
    X = np.empty((n, FRAMES, INPUT, INPUT, 3), np.uint8)
    Y = np.empty(n, np.int64)
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for s, x, y in pool.imap_unordered(_chunk, jobs):
                X[s:s + len(y)], Y[s:s + len(y)] = x, y
    else:
        for j in jobs:
            s, x, y = _chunk(j)
            X[s:s + len(y)], Y[s:s + len(y)] = x, y
    return X, Y


def preprocess(x_uint8):
    """uint8 (N,T,H,W,3) RGB -> float (N,3,T,H,W): (x/255 - MEAN)/STD."""
    x = torch.from_numpy(np.ascontiguousarray(x_uint8)).permute(0, 4, 1, 2, 3).float()
    return (x / 255.0 - MEAN) / STD


def evaluate(model, X, Y, bs=64):
    model.eval()
    pred = []
    with torch.no_grad():
        for i in range(0, len(X), bs):
            pred.append(model(preprocess(X[i:i + bs])).argmax(1).numpy())
    pred = np.concatenate(pred)
    C = len(sa.CLASSES)
    conf = np.zeros((C, C), np.int64)
    np.add.at(conf, (Y, pred), 1)
    return float((pred == Y).mean()), conf


# ----------------------------------------------------------------- export ----
def export(model, out):
    import onnx
    model.eval()
    x = torch.zeros(1, 3, FRAMES, INPUT, INPUT)
    kw = dict(opset_version=13, input_names=["input"], output_names=["logits"])
    p_bn, p_fold = os.path.join(out, "model.onnx"), os.path.join(out, "model_folded.onnx")
    torch.onnx.export(model, x, p_bn, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, **kw)
    torch.onnx.export(model, x, p_fold, **kw)
    info = {}
    for p in (p_bn, p_fold):
        m = onnx.load(p)
        onnx.checker.check_model(m)
        ops = [n.op_type for n in m.graph.node]
        info[os.path.basename(p)] = {"bytes": os.path.getsize(p), "nodes": len(ops),
                                     "BatchNormalization": ops.count("BatchNormalization"), "Conv": ops.count("Conv")}
    assert info["model.onnx"]["BatchNormalization"] > 0, "BatchNorm was folded in model.onnx"
    assert info["model_folded.onnx"]["BatchNormalization"] == 0, "BatchNorm left in model_folded.onnx"
    return info


def sidecar():
    return {"resize": [INPUT, INPUT], "crop": [INPUT, INPUT], "scale": 1 / 255.0,
            "mean": [MEAN] * 3, "std": [STD] * 3, "bgr": False, "layout": "ncthw",
            "frames": FRAMES, "stride": 1, "labels": "labels.txt"}


def write_samples(model, out, classes=("approach", "rotate", "bounce")):
    """One confidently-classified clip of each class, from the sample seed."""
    d = os.path.join(out, "samples")
    os.makedirs(d, exist_ok=True)
    model.eval()
    expected = {"note": "logits of the PyTorch model on each clip decoded by `ffmpeg -i CLIP -vf "
                        f"scale={INPUT}:{INPUT}:flags=bilinear -pix_fmt rgb24` and normalised as in the sidecar",
                "samples": []}
    want = {sa.CLASSES.index(c): c for c in classes}
    i = 0
    while want:
        clip, label, mask = sa.make_clip(SAMPLE_SEED, i, CLIP, FRAMES)
        i += 1
        if label not in want:
            continue
        name = f"{want[label]}_{i - 1}"
        path = os.path.join(d, name + ".mp4")
        sa.write_video(path, clip, crf=18, pix_fmt="yuv420p")
        frames = sa.read_video(path, INPUT)
        with torch.no_grad():
            logits = model(preprocess(frames[None]))[0].numpy()
        p = torch.softmax(torch.from_numpy(logits), 0)
        strict = i < 400  # (a poorly trained model gets whatever it classifies right)
        if i > 3000:
            raise RuntimeError("no correctly classified sample of " + ", ".join(want.values()))
        if logits.argmax() != label or strict and (p[label] < 0.9 or mask.mean() < 0.02):
            os.remove(path)  # keep only clear, correctly classified examples
            continue
        sa.write_mask(os.path.join(d, name + ".mask"), mask)
        expected["samples"].append({"file": name + ".mp4", "mask": name + ".mask", "class": int(label),
                                    "name": sa.CLASSES[label], "seed": SAMPLE_SEED, "index": i - 1,
                                    "logits": [float(v) for v in logits],
                                    "probability": float(p[label])})
        del want[label]
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    return expected


def cpu_seconds():
    """CPU time (user + system) of this process and its finished children."""
    import resource
    r = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(x.ru_utime + x.ru_stime for x in r)


# ------------------------------------------------------------------- main ----
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "models", "demo"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="processes generating data")
    ap.add_argument("--train", type=int, default=3600)
    ap.add_argument("--test", type=int, default=900)
    ap.add_argument("--easy", type=int, default=1800, help="warm-up clips with less clutter")
    ap.add_argument("--warmup", type=int, default=2, help="epochs on the warm-up set alone (then as many on both)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--widths", type=int, nargs=4, default=[16, 32, 48, 64], help="channels of the 4 stages")
    ap.add_argument("--strides", nargs=4, default=["1x1x1", "2x2x2", "2x1x1", "1x1x1"],
                    help="TxHxW stride of the 4 stages")
    ap.add_argument("--spatial", type=int, nargs=4, default=[3, 3, 3, 3],
                    help="spatial kernel size (3 or 1) of the 4 stages' convolutions; 1 keeps the last layer's "
                         "receptive field small")
    ap.add_argument("--pool", choices=("avg", "max", "space"), default="space",
                    help="pooling before the classifier: space (the shipped model): the maximum over each time "
                         "step's cells, averaged over the time steps; max: global max pooling (the models shipped "
                         "before 2026-11-28 07:00); avg: global average pooling (docs/evaluation.md compares them)")
    ap.add_argument("--l1", type=float, default=0.0,
                    help="weight of an L1 penalty on the last feature map (its mean): features that stay zero "
                         "where nothing decides the class")
    ap.add_argument("--peak", type=float, default=3.0,
                    help="weight of a penalty on how spread each channel of the last feature map is within a time "
                         "step (mean / max over the cells, per clip, channel and time step): features that fire "
                         "at one place; scale-free, unlike --l1")
    ap.add_argument("--peak-from", type=int, default=0,
                    help="first epoch with the --peak penalty (0: from the start, as the shipped model)")
    ap.add_argument("--nonneg", type=int, choices=(0, 1), default=1,
                    help="1: keep the classifier's weights >= 0 (a class is scored only by features that are "
                         "present, never by the absence of others)")
    ap.add_argument("--align", type=int, choices=(0, 1), default=1,
                    help="1: pad the stem (4 px) and stage 2 (2 frames) so that the last feature map (5x9x9 with the "
                         "default strides) has cells centred on frames -1, 3, 7, 11, 15 and pixels -1, 7, ..., 63: "
                         "where a corner-aligned zoom of the map (cfp's, SciPy's default) draws them; 0: the models "
                         "shipped before 2026-11-28 (2x8x8 with --strides 1x1x1 2x2x2 2x1x1 2x1x1)")
    ap.add_argument("--seed", type=int, default=0, help="initial weights and batch order (the data stay the same)")
    ap.add_argument("--cache", help="keep the generated data in CACHE.<train>.<test>.npz and reuse it (development)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    random.seed(a.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    cache = a.cache and f"{a.cache}.{a.train}.{a.test}.npz"
    if cache and os.path.exists(cache):
        z = np.load(cache)
        Xtr, Ytr, Xte, Yte = z["Xtr"], z["Ytr"], z["Xte"], z["Yte"]
    else:
        Xtr, Ytr = make_set(TRAIN_SEED, a.train, a.workers)
        Xte, Yte = make_set(TEST_SEED, a.test, a.workers)
        if cache:
            np.savez(cache, Xtr=Xtr, Ytr=Ytr, Xte=Xte, Yte=Yte)
    cache_e = a.cache and f"{a.cache}.easy.{a.easy}.npz"
    if cache_e and os.path.exists(cache_e):
        z = np.load(cache_e)
        Xe, Ye = z["X"], z["Y"]
    else:
        Xe, Ye = make_set(EASY_SEED, a.easy, a.workers, easy=True)
        if cache_e:
            np.savez(cache_e, X=Xe, Y=Ye)
    t_data = time.time() - t0
    print(f"data: {a.train} train + {a.easy} warm-up + {a.test} test clips in {t_data:.0f} s; "
          f"train classes {np.bincount(Ytr)}", flush=True)
    # curriculum: the first epochs on the easy set, then easy + full, then the full set
    Xall, Yall = np.concatenate([Xtr, Xe]), np.concatenate([Ytr, Ye])
    pools = []
    for ep in range(a.epochs):
        if ep < a.warmup:
            pools.append(np.arange(a.train, a.train + a.easy))
        elif ep < 2 * a.warmup:
            pools.append(np.arange(a.train + a.easy))
        else:
            pools.append(np.arange(a.train))

    model = DemoR3D(widths=tuple(a.widths), strides=tuple(tuple(int(v) for v in s.split("x")) for s in a.strides),
                    pool=a.pool, spatial=tuple(a.spatial), align=bool(a.align))
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    steps = sum(len(p) // a.batch for p in pools)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.15)
    g = np.random.default_rng(a.seed)
    hflip, trev = np.array(HFLIP), np.array(TREV)
    history = []
    t1 = time.time()
    step = 0
    for ep in range(a.epochs):
        model.train()
        perm = g.permutation(pools[ep])
        tot, correct, n = 0.0, 0, 0
        for b in range(len(perm) // a.batch):
            idx = np.sort(perm[b * a.batch:(b + 1) * a.batch])
            x, y = Xall[idx], Yall[idx].copy()
            flip = g.random(len(idx)) < 0.5  # horizontal flip swaps left and right
            x = np.where(flip[:, None, None, None, None], x[:, :, :, ::-1], x)
            y[flip] = hflip[y[flip]]
            rev = (g.random(len(idx)) < 0.5) & (trev[y] >= 0)  # time reversal
            x = np.where(rev[:, None, None, None, None], x[:, ::-1], x)
            y[rev] = trev[y[rev]]
            xt, yt = preprocess(x), torch.from_numpy(y)
            out = model(xt)
            loss = F.cross_entropy(out, yt, label_smoothing=0.05)
            if a.l1 > 0:
                loss = loss + a.l1 * model.features.mean()
            if a.peak > 0 and ep >= a.peak_from:
                f = model.features.flatten(3)  # (N, C, T, H*W), after the last Relu
                loss = loss + a.peak * (f.mean(3) / (f.amax(3) + 1e-3)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if a.nonneg:
                with torch.no_grad():
                    model.fc.weight.clamp_(min=0)
            sched.step()
            step += 1
            tot += float(loss) * len(y)
            correct += int((out.argmax(1) == yt).sum())
            n += len(y)
            if b % 40 == 0:
                print(f"  epoch {ep} step {b}: loss {tot / n:.3f} acc {correct / n:.3f}  "
                      f"({time.time() - t1:.0f} s)", flush=True)
        acc, conf = evaluate(model, Xte, Yte)
        history.append({"epoch": ep, "train_loss": tot / n, "train_acc": correct / n, "test_acc": acc,
                        "seconds": time.time() - t0})
        print(f"epoch {ep}: train loss {tot / n:.3f} acc {correct / n:.3f}; held-out acc {acc:.4f} "
              f"({time.time() - t0:.0f} s wall, {cpu_seconds():.0f} s CPU)", flush=True)
    t_train = time.time() - t1
    acc, conf = evaluate(model, Xte, Yte)

    info = export(model, a.out)
    with open(os.path.join(a.out, "labels.txt"), "w") as f:
        f.write("\n".join(sa.CLASSES) + "\n")
    for name in ("model.onnx.json", "model_folded.onnx.json"):
        with open(os.path.join(a.out, name), "w") as f:
            json.dump(sidecar(), f, indent=1)
            f.write("\n")
    expected = write_samples(model, a.out)
    total = time.time() - t0
    log = {"classes": sa.CLASSES, "params": n_params, "input": [1, 3, FRAMES, INPUT, INPUT],
           "train_clips": a.train, "warmup_clips": a.easy, "test_clips": a.test, "train_seed": TRAIN_SEED,
           "warmup_seed": EASY_SEED, "test_seed": TEST_SEED, "warmup_epochs": a.warmup,
           "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "threads": a.threads,
           "pool": a.pool, "widths": a.widths, "spatial": a.spatial, "l1": a.l1, "peak": a.peak,
           "peak_from": a.peak_from, "align": a.align, "nonneg": a.nonneg, "seed": a.seed, "strides": a.strides,
           "test_accuracy": acc, "confusion": conf.tolist(), "history": history,
           "seconds": {"data": round(t_data, 1), "train": round(t_train, 1), "total": round(total, 1),
                       "cpu": round(cpu_seconds(), 1)},
           "onnx": info, "samples": [s["file"] for s in expected["samples"]]}
    with open(os.path.join(a.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1)
        f.write("\n")
    print(f"held-out accuracy {acc:.4f} on {a.test} clips; {n_params} parameters; total {total:.0f} s "
          f"wall, {cpu_seconds():.0f} s CPU")
    print("confusion (rows: true, columns: predicted):")
    w = max(len(c) for c in sa.CLASSES)
    for c, row in zip(sa.CLASSES, conf):
        print(f"  {c:>{w}} " + " ".join(f"{v:4d}" for v in row))


if __name__ == "__main__":
    main()
