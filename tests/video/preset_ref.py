#!/usr/bin/python3
"""Reference model input for a preset, independent of cfp: the ffmpeg CLI
decodes and resizes (-vf scale=W:H:flags=bilinear -pix_fmt rgb24); NumPy
samples the frames, center-crops, normalises and lays out, following the
published recipes (torchvision VideoClassification, PyTorchVideo
ShortSideScale/CenterCropVideo/PackPathway, ...).

usage: preset_ref.py VIDEO PRESET START_FRAME T STRIDE OUT
writes OUT.0.f32 (and OUT.1.f32 for the fast pathway of slowfast), raw
little-endian float32 in the preset's layout (1x3xTxHxW)."""
import json, subprocess, sys
import numpy as np

# name: (resize HxW or None, short side or None, crop, scale, mean, std, alpha)
K_MEAN, K_STD = [0.43216, 0.394666, 0.37645], [0.22803, 0.22145, 0.216989]
PRESETS = {
    "kinetics-r3d": ((128, 171), None, 112, 1 / 255, K_MEAN, K_STD, 0),
    "kinetics-s3d": ((256, 256), None, 224, 1 / 255, K_MEAN, K_STD, 0),
    "i3d": (None, 256, 224, 1 / 255, [0.5] * 3, [0.5] * 3, 0),
    "hara-resnet": (None, 112, 112, 1 / 255, [0.4345, 0.4051, 0.3775], [0.2768, 0.2713, 0.2737], 0),
    "hara-resnet-2017": (None, 112, 112, 1.0, [114.7748, 107.7354, 99.4750], [1, 1, 1], 0),
    "mfnet": ((256, 256), None, 224, 1 / 255, [124 / 255, 117 / 255, 104 / 255], [1 / (0.0167 * 255)] * 3, 0),
    "x3d-xs": (None, 182, 182, 1 / 255, [0.45] * 3, [0.225] * 3, 0),
    "x3d-s": (None, 182, 182, 1 / 255, [0.45] * 3, [0.225] * 3, 0),
    "x3d-m": (None, 256, 256, 1 / 255, [0.45] * 3, [0.225] * 3, 0),
    "slowfast": (None, 256, 256, 1 / 255, [0.45] * 3, [0.225] * 3, 4),
}


def main():
    video, preset, start, T, stride, out = sys.argv[1:7]
    start, T, stride = int(start), int(T), int(stride)
    resize, short, crop, scale, mean, std, alpha = PRESETS[preset]
    probe = json.loads(subprocess.check_output(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "json", video]))["streams"][0]
    w, h = probe["width"], probe["height"]
    if resize:
        rh, rw = resize
    elif w <= h:  # torchvision resize(int): the short side becomes N, the long int(N * long / short)
        rw, rh = short, int(short * h / w)
    else:
        rh, rw = short, int(short * w / h)
    need = start + (T - 1) * stride + 1
    raw = subprocess.check_output(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", video, "-frames:v", str(need), "-vf",
         f"scale={rw}:{rh}:flags=bilinear", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
    frames = np.frombuffer(raw, np.uint8).reshape(-1, rh, rw, 3)
    idx = [min(start + i * stride, len(frames) - 1) for i in range(T)]
    clip = frames[idx]                                     # T, H, W, C
    top, left = int(round((rh - crop) / 2.0)), int(round((rw - crop) / 2.0))
    clip = clip[:, top:top + crop, left:left + crop, :]
    x = (clip.astype(np.float64) * scale - np.array(mean)) / np.array(std)
    x = x.astype(np.float32).transpose(3, 0, 1, 2)[None]   # 1, C, T, H, W
    outs = [x]
    if alpha:  # PyTorchVideo PackPathway: slow = index_select(linspace(0, T-1, T // alpha).long())
        slow_idx = np.linspace(0, T - 1, T // alpha).astype(np.int64)
        outs = [x[:, :, slow_idx], x]
    for k, t in enumerate(outs):
        np.ascontiguousarray(t).astype("<f4").tofile(f"{out}.{k}.f32")


main()
