#!/usr/bin/python3
"""Write the SciPy reference data for cfp_zoom (src/spline.c) into
tests/fixtures_spline/.

For every case: a seeded random float32 volume in [0, 1) of shape (t, h, w)
and scipy.ndimage.zoom(vol, (T/t, H/h, W/w), order=ORDER) with SciPy's
defaults (mode='constant', cval=0, prefilter=True, grid_mode=False), each as
an ONNX TensorProto (.pb). Large outputs are stored subsampled, out[::st,
::sh, ::sw] (the strides are chosen so that the last sample of each axis is
kept); tests/test_spline.c zooms to the full size and compares that grid.

index.txt, one case a line:
    NAME ORDER t h w T H W st sh sw
files NAME_in.pb (the input, shared by both orders) and NAME_oORDER.pb.

Run with Debian's Python, which has SciPy and onnx:
    /usr/bin/python3 scripts/make_spline_refs.py [--out tests/fixtures_spline]
"""
import argparse
import os

import numpy as np
import onnx.numpy_helper as nh
import scipy
import scipy.ndimage as ndi

# (name, (t, h, w), (T, H, W), (st, sh, sw)[, strides for order 1])
CASES = [
    # typical CFP sizes: feature map -> clip
    ("cfp_2x7x7", (2, 7, 7), (16, 112, 112), (1, 1, 1), (1, 3, 3)),
    ("cfp_1x4x4", (1, 4, 4), (16, 112, 112), (5, 3, 3)),
    ("cfp_8x28x28", (8, 28, 28), (16, 112, 112), (3, 3, 3)),
    ("cfp_4x14x14", (4, 14, 14), (16, 112, 112), (3, 3, 3)),
    # factors named in the brief: 4->16, 7->112, 2->112, 3->7, 5->3 (down)
    ("f4_7_2", (4, 7, 2), (16, 112, 112), (3, 3, 3)),
    ("f3_5_4", (3, 5, 4), (7, 3, 16), (1, 1, 1)),
    ("f5_3_7", (5, 3, 7), (3, 7, 112), (1, 1, 1)),
    # size-1 input axes and output size 1
    ("t1", (1, 5, 6), (4, 9, 11), (1, 1, 1)),
    ("h1w1", (3, 1, 1), (5, 4, 7), (1, 1, 1)),
    ("all1", (1, 1, 1), (2, 3, 4), (1, 1, 1)),
    ("out1", (3, 5, 4), (1, 7, 1), (1, 1, 1)),
    ("out1_all", (4, 6, 5), (1, 1, 1), (1, 1, 1)),
    # length-2 axes, identity, downscale
    ("len2", (2, 2, 2), (5, 6, 9), (1, 1, 1)),
    ("identity", (3, 4, 5), (3, 4, 5), (1, 1, 1)),
    ("down", (9, 12, 10), (3, 5, 4), (1, 1, 1)),
    # SciPy quirk: (n_out-1)*((n_in-1)/(n_out-1)) > n_in-1 in double for
    # 8->26 and 30->8, so SciPy's last sample there is cval = 0
    ("edge_quirk", (2, 8, 30), (3, 26, 8), (1, 1, 1)),
    # non-integer factors, assorted
    ("odd_a", (3, 6, 9), (10, 17, 23), (1, 1, 1)),
    ("odd_b", (5, 11, 3), (8, 16, 29), (1, 1, 1)),
    ("odd_c", (6, 5, 13), (4, 31, 20), (1, 1, 1)),
]


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures_spline"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    lines = [
        "# scipy.ndimage.zoom references for tests/test_spline.c; written by",
        "# scripts/make_spline_refs.py with SciPy %s, NumPy %s" % (scipy.__version__, np.__version__),
        "# NAME ORDER t h w T H W st sh sw  (files NAME_in.pb, NAME_oORDER.pb)",
    ]
    total = 0
    for seed, case in enumerate(CASES):
        name, din, dout, step3 = case[:4]
        step1 = case[4] if len(case) > 4 else step3
        rng = np.random.default_rng(1000 + seed)
        vol = rng.random(din, dtype=np.float32)
        p = os.path.join(args.out, name + "_in.pb")
        with open(p, "wb") as f:
            f.write(nh.from_array(vol, "input").SerializeToString())
        total += os.path.getsize(p)
        factors = tuple(o / i for o, i in zip(dout, din))
        for order in (1, 3):
            step = step1 if order == 1 else step3
            z = ndi.zoom(vol, factors, order=order)
            assert z.shape == dout, (name, z.shape, dout)
            assert z.dtype == np.float32
            for n, s in zip(dout, step):
                assert (n - 1) % s == 0, (name, n, s)  # keep the last sample
            sub = np.ascontiguousarray(z[:: step[0], :: step[1], :: step[2]])
            p = os.path.join(args.out, "%s_o%d.pb" % (name, order))
            with open(p, "wb") as f:
                f.write(nh.from_array(sub, "output").SerializeToString())
            total += os.path.getsize(p)
            lines.append("%s %d %d %d %d %d %d %d %d %d %d" % ((name, order) + din + dout + step))
    with open(os.path.join(args.out, "index.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases, %.0f KB" % (len(lines) - 3, total / 1024))


if __name__ == "__main__":
    main()
