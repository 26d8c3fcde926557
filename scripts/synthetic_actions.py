#!/usr/bin/python3
"""Synthetic action clips with a known answer: which object performs the action.

Nine motion classes. In every clip one object (two for "approach") performs the
action; 2-4 distractor objects drawn from the same shapes, colours and sizes
only jitter in place (a small, smooth, zero-mean wobble: no drift, no rotation,
no change of size), and the background is a coloured multi-scale noise texture
with static clutter shapes on it that pans slowly (0.2-1 px/frame at 112 px) in
a random direction. So the class is decided by the motion of the acting object
alone, and the per-frame mask of that object's visible pixels is the ground
truth for "where is the evidence".

    0 move_left   1 move_right  2 move_up   3 move_down   (2-4 px/frame)
    4 rotate      (8-20 deg/frame, either way, in place)
    5 grow        6 shrink      (radius x1.8-2.6 over the clip)
    7 bounce      (vertical hops off an invisible floor, >= 1 bounce per clip)
    8 approach    (two objects move towards each other; mask = both)

All speeds and sizes are defined at 112x112 and scale with the frame size.
Objects have random colour, an optional stripe pattern (so rotation shows even
on round shapes), random shape and size; the acting object sits at a random
depth among the distractors, so it can be partly occluded (the mask holds only
its visible pixels). Per-clip brightness/contrast and per-frame sensor noise.

API (from other scripts: sys.path.insert(0, "scripts"); import synthetic_actions):

    clips, labels, masks = generate(n, seed, size=112, frames=16)
        clips  uint8 (n, T, H, W, 3) RGB
        labels int64 (n,)
        masks  bool  (n, T, H, W)
    CLASSES  list of the class names, index = label

A clip is a pure function of (seed, index, size, frames): clip i of
generate(n, seed) is the same for any n >= i+1 (each clip has its own
numpy Generator seeded with (seed, i)).

CLI: write a folder of clips for evaluation (format in scripts/README.md):

    /usr/bin/python3 scripts/synthetic_actions.py --out DIR --n 200 --seed 123
"""
import argparse
import csv
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
from scipy import ndimage

CLASSES = ["move_left", "move_right", "move_up", "move_down", "rotate", "grow", "shrink", "bounce", "approach"]
REF = 112.0  # sizes and speeds below are in pixels of a 112x112 frame

# ---------------------------------------------------------------- shapes ----
# Each shape: ("poly", vertices in the unit disc) or ("ellipse", (a, b)).


def _regular(n, phase=0.0, r=1.0):
    a = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def _star(n, r_in):
    a = np.pi / 2 + np.pi * np.arange(2 * n) / n
    r = np.where(np.arange(2 * n) % 2 == 0, 1.0, r_in)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


_CROSS = np.array([[-.3, -1], [.3, -1], [.3, -.3], [1, -.3], [1, .3], [.3, .3], [.3, 1], [-.3, 1], [-.3, .3],
                   [-1, .3], [-1, -.3], [-.3, -.3]]) * 0.95
_L = np.array([[-.8, -.9], [-.2, -.9], [-.2, .3], [.8, .3], [.8, .9], [-.8, .9]])
_ARROW = np.array([[-1, -.3], [.2, -.3], [.2, -.75], [1, 0], [.2, .75], [.2, .3], [-1, .3]])
SHAPES = {
    "circle": ("ellipse", (1.0, 1.0)),
    "ellipse": ("ellipse", (1.0, 0.55)),
    "square": ("poly", _regular(4, np.pi / 4)),
    "rect": ("poly", np.array([[-1, -.5], [1, -.5], [1, .5], [-1, .5]])),
    "triangle": ("poly", _regular(3, -np.pi / 2)),
    "diamond": ("poly", np.array([[0, -1], [.6, 0], [0, 1], [-.6, 0]])),
    "hexagon": ("poly", _regular(6)),
    "star": ("poly", _star(5, 0.45)),
    "cross": ("poly", _CROSS),
    "L": ("poly", _L),
    "arrow": ("poly", _ARROW),
}
SHAPE_NAMES = list(SHAPES)
# shapes whose rotation shows from the outline (round shapes get stripes when rotating)
ROT_SHAPES = ["ellipse", "rect", "triangle", "diamond", "star", "cross", "L", "arrow"]


def _inside(kind, geom, u, v):
    """u, v: local coordinates (unit = object radius). Boolean inside test."""
    if kind == "ellipse":
        a, b = geom
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    poly = geom
    inside = np.zeros(u.shape, bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for k in range(len(poly)):  # even-odd ray casting
        ya, yb = y0[k], y1[k]
        if ya == yb:
            continue
        cond = (ya > v) != (yb > v)
        xi = x0[k] + (v - ya) * (x1[k] - x0[k]) / (yb - ya)
        inside ^= cond & (u < xi)
    return inside


def _random_colour(rng):
    # saturated-ish colours with random brightness, far from pure grey on average
    h = rng.random()
    s = rng.uniform(0.45, 1.0)
    val = rng.uniform(0.35, 1.0)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = val * (1 - s), val * (1 - f * s), val * (1 - (1 - f) * s)
    rgb = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i]
    return np.array(rgb) * 255.0


class _Obj:
    def __init__(self, rng, k, radius=None, shape=None, actor=False):
        self.shape = shape or SHAPE_NAMES[rng.integers(len(SHAPE_NAMES))]
        self.kind, self.geom = SHAPES[self.shape]
        self.r0 = radius if radius is not None else rng.uniform(8, 15) * k
        self.c1 = _random_colour(rng)
        self.stripes = rng.random() < 0.5
        self.c2 = _random_colour(rng) if rng.random() < 0.5 else self.c1 * rng.uniform(0.3, 0.6)
        self.freq = rng.uniform(2.0, 4.0)
        self.theta0 = rng.uniform(0, 2 * np.pi)
        self.actor = actor

    def draw(self, img, owner, oid, cx, cy, r, theta):
        H, W = owner.shape
        x0, x1 = int(np.floor(cx - r - 1)), int(np.ceil(cx + r + 2))
        y0, y1 = int(np.floor(cy - r - 1)), int(np.ceil(cy + r + 2))
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, W), min(y1, H)
        if x1 <= x0 or y1 <= y0:
            return
        # 2x2 supersampling for anti-aliased edges
        off = np.array([0.25, 0.75])
        ys = (np.arange(y0, y1)[:, None] + off[None, :]).reshape(-1)
        xs = (np.arange(x0, x1)[:, None] + off[None, :]).reshape(-1)
        X, Y = np.meshgrid(xs - cx, ys - cy)
        c, s = np.cos(theta), np.sin(theta)
        u = (c * X + s * Y) / r
        v = (-s * X + c * Y) / r
        ins = _inside(self.kind, self.geom, u, v)
        h, w = y1 - y0, x1 - x0
        cov = ins.reshape(h, 2, w, 2).mean((1, 3))
        if not cov.any():
            return
        if self.stripes:
            st = (np.sin(u * self.freq * np.pi) > 0).reshape(h, 2, w, 2).mean((1, 3))
            col = self.c1[None, None, :] * (1 - st[..., None]) + self.c2[None, None, :] * st[..., None]
        else:
            col = np.broadcast_to(self.c1, (h, w, 3))
        sub = img[y0:y1, x0:x1]
        a = cov[..., None]
        sub[...] = sub * (1 - a) + col * a
        o = owner[y0:y1, x0:x1]
        o[cov >= 0.5] = oid


def _texture(rng, h, w):
    """Coloured multi-scale noise with static clutter shapes, float (h, w, 3) 0..255."""
    acc = np.zeros((h, w), np.float64)
    amp = 1.0
    for cell in (32, 12, 5):
        gh, gw = h // cell + 3, w // cell + 3
        g = rng.standard_normal((gh, gw))
        z = ndimage.zoom(g, cell, order=3)[:h, :w]
        acc += amp * z
        amp *= 0.6
    acc = (acc - acc.mean()) / (acc.std() + 1e-6)
    t = 1 / (1 + np.exp(-1.5 * acc))  # 0..1
    ca, cb = _random_colour(rng) * rng.uniform(0.4, 0.9), _random_colour(rng) * rng.uniform(0.4, 0.9)
    img = ca[None, None, :] * (1 - t[..., None]) + cb[None, None, :] * t[..., None]
    img += rng.normal(0, 5, (h, w, 1))  # fine grain
    owner = np.zeros((h, w), np.int16)
    k = max(h, w) / REF / 1.4
    for _ in range(rng.integers(4, 10)):  # static clutter, pans with the background
        o = _Obj(rng, k)
        o.c1 = o.c1 * rng.uniform(0.4, 0.8)
        o.draw(img, owner, 1, rng.uniform(0, w), rng.uniform(0, h), o.r0 * rng.uniform(0.5, 1.2), o.theta0)
    return img


def _jitter(rng, T, amp):
    """Smooth, zero-mean wobble of at most ~amp pixels (no net drift)."""
    n = rng.standard_normal(T + 8)
    n = np.convolve(n, np.ones(5) / 5, mode="same")[4:4 + T]
    n = n - n.mean()
    m = np.abs(n).max() + 1e-6
    return n / m * amp * rng.uniform(0.3, 1.0)


def make_clip(seed, index, size=112, frames=16, clutter=1.0):
    """One clip: (uint8 T,H,W,3), label, (bool T,H,W). Pure function of its arguments.
    clutter in [0, 1] scales the difficulty (1, the default, is the dataset):
    background contrast and panning speed, and the number of distractors. The
    random draws do not depend on it, so the actor's motion is the same."""
    rng = np.random.default_rng([int(seed), int(index), 0x5A17])
    H = W = int(size)
    T = int(frames)
    k = size / REF
    ts = T / 16.0  # speeds are per frame of a 16-frame clip; longer clips move slower
    label = int(rng.integers(len(CLASSES)))
    name = CLASSES[label]

    # background: padded texture, panned
    speed = rng.uniform(0.2, 1.0) * k / ts
    ang = rng.uniform(0, 2 * np.pi)
    pad = int(np.ceil(speed * T)) + 2
    tex = _texture(rng, H + 2 * pad, W + 2 * pad)
    if clutter < 1:
        m = tex.mean((0, 1))
        tex = m + (tex - m) * max(float(clutter), 0.15)
        speed *= clutter
    bx = pad + np.cos(ang) * speed * (np.arange(T) - (T - 1) / 2)
    by = pad + np.sin(ang) * speed * (np.arange(T) - (T - 1) / 2)

    t = np.arange(T, dtype=np.float64)
    # per-object tracks: (cx[T], cy[T], r[T], theta[T])
    actors = []
    if name in ("move_left", "move_right", "move_up", "move_down"):
        o = _Obj(rng, k, actor=True)
        v = rng.uniform(2.0, 4.0) * k / ts
        travel = v * (T - 1)
        r = o.r0
        lo, hi = r, size - r
        along0 = rng.uniform(lo, max(lo, hi - travel))
        along = along0 + v * t
        if name in ("move_left", "move_up"):
            along = along[::-1].copy()
        cross = rng.uniform(lo, hi) + rng.uniform(-0.4, 0.4) * k / ts * (t - (T - 1) / 2)
        cx, cy = (along, cross) if name in ("move_left", "move_right") else (cross, along)
        actors.append((o, cx, cy, np.full(T, r), np.full(T, o.theta0)))
    elif name == "rotate":
        o = _Obj(rng, k, actor=True, shape=ROT_SHAPES[rng.integers(len(ROT_SHAPES))])
        if o.shape == "ellipse":
            o.stripes = True
        w = np.deg2rad(rng.uniform(8, 20)) / ts * (1 if rng.random() < 0.5 else -1)
        r = o.r0 * rng.uniform(1.0, 1.25)
        cx = rng.uniform(r, size - r) + _jitter(rng, T, 1.5 * k)
        cy = rng.uniform(r, size - r) + _jitter(rng, T, 1.5 * k)
        actors.append((o, cx, cy, np.full(T, r), o.theta0 + w * t))
    elif name in ("grow", "shrink"):
        o = _Obj(rng, k, actor=True)
        r0 = rng.uniform(5, 9) * k
        f = rng.uniform(1.8, 2.6)
        rr = r0 * f ** (t / (T - 1))
        if name == "shrink":
            rr = rr[::-1].copy()
        rmax = rr.max()
        cx = rng.uniform(rmax * 0.8, size - rmax * 0.8) + _jitter(rng, T, 1.5 * k)
        cy = rng.uniform(rmax * 0.8, size - rmax * 0.8) + _jitter(rng, T, 1.5 * k)
        actors.append((o, cx, cy, rr, np.full(T, o.theta0)))
    elif name == "bounce":
        o = _Obj(rng, k, actor=True)
        r = o.r0 * rng.uniform(0.8, 1.0)
        P = rng.uniform(5, 9) * ts  # frames per hop
        hgt = rng.uniform(22, 40) * k
        floor = rng.uniform(r + hgt, size - r)
        phase = rng.uniform(0, P)
        cy = floor - hgt * np.abs(np.sin(np.pi * (t + phase) / P))
        cx = rng.uniform(r, size - r) + rng.uniform(-0.4, 0.4) * k / ts * (t - (T - 1) / 2)
        actors.append((o, cx, cy, np.full(T, r), np.full(T, o.theta0)))
    else:  # approach
        a = rng.uniform(0, 2 * np.pi)
        o1, o2 = _Obj(rng, k, actor=True), _Obj(rng, k, actor=True)
        r1, r2 = o1.r0 * 0.85, o2.r0 * 0.85
        d1 = r1 + r2 + rng.uniform(0, 6) * k
        d0 = d1 + rng.uniform(35, 60) * k
        m = max(r1, r2)
        ex, ey = np.cos(a), np.sin(a)
        half = d0 / 2
        mx = rng.uniform(min(size / 2, half * abs(ex) + m), max(size / 2, size - half * abs(ex) - m))
        my = rng.uniform(min(size / 2, half * abs(ey) + m), max(size / 2, size - half * abs(ey) - m))
        d = d0 + (d1 - d0) * t / (T - 1)
        actors.append((o1, mx - ex * d / 2, my - ey * d / 2, np.full(T, r1), np.full(T, o1.theta0)))
        actors.append((o2, mx + ex * d / 2, my + ey * d / 2, np.full(T, r2), np.full(T, o2.theta0)))

    distract = []
    n_distract = int(rng.integers(2, 5))
    for j in range(n_distract):
        o = _Obj(rng, k)
        cx = rng.uniform(o.r0, size - o.r0) + _jitter(rng, T, 2.0 * k)
        cy = rng.uniform(o.r0, size - o.r0) + _jitter(rng, T, 2.0 * k)
        if j < round(n_distract * clutter):
            distract.append((o, cx, cy, np.full(T, o.r0), np.full(T, o.theta0)))
    # depth order: actors at a random depth, mostly near the top
    order = list(distract)
    pos = len(order) if rng.random() < 0.6 else int(rng.integers(0, len(order) + 1))
    order[pos:pos] = actors

    gain = rng.uniform(0.8, 1.15)
    bias = rng.uniform(-15, 15)
    noise = rng.uniform(1.5, 5.0)
    clip = np.empty((T, H, W, 3), np.uint8)
    mask = np.empty((T, H, W), bool)
    grain = rng.standard_normal((T, H, W, 3), dtype=np.float32) * np.float32(noise)
    for f in range(T):
        ox, oy = int(round(bx[f])), int(round(by[f]))
        img = tex[oy:oy + H, ox:ox + W].copy()
        owner = np.zeros((H, W), np.int16)
        for j, (o, cx, cy, rr, th) in enumerate(order):
            o.draw(img, owner, (2 if o.actor else 3), cx[f], cy[f], rr[f], th[f])
        img = img * gain + bias + grain[f]
        clip[f] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        mask[f] = owner == 2
    return clip, label, mask


def generate(n, seed, size=112, frames=16, start=0, clutter=1.0):
    """n clips: uint8 (n,T,H,W,3) RGB, int64 labels (n,), bool masks (n,T,H,W)."""
    clips = np.empty((n, frames, size, size, 3), np.uint8)
    masks = np.empty((n, frames, size, size), bool)
    labels = np.empty(n, np.int64)
    for i in range(n):
        clips[i], labels[i], masks[i] = make_clip(seed, start + i, size, frames, clutter)
    return clips, labels, masks


# ------------------------------------------------------------------ files ----
MASK_MAGIC = b"CFPMASK1"


def write_mask(path, mask):
    """Mask file (.mask): the 8 bytes "CFPMASK1", then T, H, W as uint32
    little-endian, then the T*H*W mask bits (frame-major, then rows, then
    columns) packed 8 to a byte, most significant bit first: voxel i is
    (data[i >> 3] >> (7 - (i & 7))) & 1. The last byte is zero-padded."""
    T, H, W = mask.shape
    with open(path, "wb") as f:
        f.write(MASK_MAGIC + struct.pack("<3I", T, H, W))
        f.write(np.packbits(np.ascontiguousarray(mask, dtype=bool).reshape(-1)).tobytes())


def read_mask(path):
    """bool (T, H, W) from a .mask file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MASK_MAGIC or len(data) < 20:
        raise ValueError(f"{path}: not a CFPMASK1 file")
    T, H, W = struct.unpack("<3I", data[8:20])
    n = T * H * W
    if len(data) != 20 + (n + 7) // 8:
        raise ValueError(f"{path}: expected {(n + 7) // 8} bytes of mask data, found {len(data) - 20}")
    bits = np.unpackbits(np.frombuffer(data, np.uint8, offset=20), count=n)
    return bits.reshape(T, H, W).astype(bool)


def write_video(path, clip, fps=16, crf=12, pix_fmt="yuv420p"):
    """H.264 via the ffmpeg CLI (libx264, CRF crf, given pixel format)."""
    T, H, W, _ = clip.shape
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(fps),
           "-i", "-", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", pix_fmt,
           "-g", str(T), "-bf", "0", "-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact",
           "-flags:v", "+bitexact", "-movflags", "+faststart", path]
    subprocess.run(cmd, input=np.ascontiguousarray(clip).tobytes(), check=True)


def read_video(path, size=None):
    """Decode with the ffmpeg CLI to rgb24 (optionally scaled bilinearly to size x size,
    as cfp's preprocessing does): uint8 (T,H,W,3)."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", path], capture_output=True, text=True,
                           check=True).stdout.strip().split(",")
    W, H = int(probe[0]), int(probe[1])
    vf = ["-vf", f"scale={size}:{size}:flags=bilinear"] if size else ["-vf", f"scale=iw:ih:flags=bilinear"]
    if size:
        W = H = size
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path] + vf + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, H, W, 3)


def write_folder(out, n, seed, size=112, frames=16, fps=16, crf=12, pix_fmt="yuv420p"):
    if not shutil.which("ffmpeg"):
        sys.exit("synthetic_actions.py: the ffmpeg command is needed to write videos")
    os.makedirs(out, exist_ok=True)
    rows = []
    for i in range(n):
        clip, label, mask = make_clip(seed, i, size, frames)
        name = f"clip_{i:04d}"
        write_video(os.path.join(out, name + ".mp4"), clip, fps, crf, pix_fmt)
        write_mask(os.path.join(out, name + ".mask"), mask)
        rows.append((name + ".mp4", label, CLASSES[label]))
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "class", "name"])
        w.writerows(rows)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write clip_NNNN.mp4, clip_NNNN.mask, labels.csv")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--fps", type=int, default=16)
    ap.add_argument("--crf", type=int, default=12, help="x264 CRF (0 = lossless; 12: visually lossless)")
    ap.add_argument("--pix-fmt", default="yuv420p", choices=["yuv420p", "yuv444p"],
                    help="yuv420p (default) plays everywhere, browsers included; yuv444p keeps full colour resolution")
    a = ap.parse_args()
    rows = write_folder(a.out, a.n, a.seed, a.size, a.frames, a.fps, a.crf, a.pix_fmt)
    counts = np.bincount([r[1] for r in rows], minlength=len(CLASSES))
    print(f"wrote {len(rows)} clips to {a.out}: " + ", ".join(f"{c} {k}" for c, k in zip(CLASSES, counts)))


if __name__ == "__main__":
    main()
