#!/usr/bin/python3
"""PyTorch side of `make bench`: eager mode, float32, inference_mode.

    /usr/bin/python3 bench/torch_bench.py DIR/<name> --threads 2 --warmup 2 --repeat 3

Loads DIR/<name>/model.pt (the pickled module bench/models.py wrote; load
time is torch.load) and DIR/<name>/test_data_set_0/input_0.pb, and prints
one JSON line like bench/ort_bench.js."""
import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    t = onnx.TensorProto()
    with open(os.path.join(a.dir, "test_data_set_0", "input_0.pb"), "rb") as f:
        t.ParseFromString(f.read())
    x = torch.from_numpy(np.array(numpy_helper.to_array(t), dtype=np.float32))
    t0 = time.perf_counter()
    model = torch.load(os.path.join(a.dir, "model.pt"))
    model.eval()
    load_ms = (time.perf_counter() - t0) * 1e3
    times, first_ms = [], 0.0
    with torch.inference_mode():
        for i in range(a.warmup + a.repeat):
            s = time.perf_counter()
            y = model(x)
            ms = (time.perf_counter() - s) * 1e3
            if i == 0:
                first_ms = ms
            if i >= a.warmup:
                times.append(ms)
    print(json.dumps(dict(program="torch", version=torch.__version__, times_ms=times, first_ms=first_ms, load_ms=load_ms,
                          peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          argmax=int(y.reshape(-1).argmax()))))


if __name__ == "__main__":
    main()
