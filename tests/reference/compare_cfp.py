#!/usr/bin/python3
"""Compare `cfp explain` with the reference pyramids in tests/fixtures/*/pyramid/.

    tests/reference/compare_cfp.py [--cfp build/cfp] [FIXTURE ...]

For every TSV it runs `cfp explain ... --no-render` with the file's own
param lines (theta, depth, max_children; never the file name: capped files
hold a smaller depth) and compares class, nodes (level, layer, channel) and
edges (parent, child, via_channel, score).  Differences are tolerated only
where the reference marks them fragile: an edge with near = 1, an extra cfp
edge whose (parent, via_channel) is a nearmiss line, an edge touching a
node listed as `fragile`, and a node listed as `fragile`.  A debugging aid;
the C test (build/cfp_test) is the real check.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_tsv(path):
    nodes, edges, near, miss, frag, par = {}, {}, set(), set(), set(), {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            if f[0] == "node":
                nodes[(f[2], int(f[3]))] = int(f[1])
            elif f[0] == "edge":
                k = ((f[1], int(f[2])), (f[3], int(f[4])))
                edges[k] = (float(f[5]), float(f[6]), int(f[7]))
                if f[8] == "1":
                    near.add(k)
            elif f[0] == "nearmiss":
                miss.add(((f[1], int(f[2])), int(f[3])))
            elif f[0] == "fragile":
                frag.add((f[2], int(f[3])))
            elif f[0] == "param":
                par[f[1]] = f[2]
            elif f[0] == "class":
                par["class"] = int(f[1])
    return nodes, edges, near, miss, frag, par


def compare(cfp, fdir, fx, tsv, tmp, score_tol=1e-4):
    nodes, edges, near, miss, frag, par = load_tsv(tsv)
    out = os.path.join(tmp, "out")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [cfp, "explain", os.path.join(fdir, fx, "model.onnx"), "-i",
           os.path.join(fdir, fx, "test_data_set_0", "input_0.pb"), "--out", out, "--no-render",
           "--theta", par["theta"], "--depth", par["depth"]]
    if par["max_children"] != "0":
        cmd += ["--max-children", par["max_children"]]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        return ["cfp failed: " + r.stderr[-300:]], 0.0, 0
    with open(os.path.join(out, "pyramid.json")) as fh:
        d = json.load(fh)
    cn = {(n["layer"], n["channel"]): n["level"] for n in d["nodes"]}
    ids = {n["id"]: (n["layer"], n["channel"]) for n in d["nodes"]}
    ce = {(ids[e["parent"]], ids[e["child"]]): (e["score"], e["contribution"], e["via_channel"]) for e in d["edges"]}
    probs = []
    if d["class"]["index"] != par["class"]:
        probs.append("class: cfp %s, reference %s" % (d["class"]["index"], par["class"]))
    for k in sorted(set(cn) | set(nodes)):
        if cn.get(k) != nodes.get(k) and k not in frag:
            probs.append("node %s: cfp level %s, reference %s" % (k, cn.get(k), nodes.get(k)))
    worst, tolerated = 0.0, 0
    for k in sorted(set(ce) | set(edges)):
        if k in ce and k in edges:
            worst = max(worst, abs(ce[k][0] - edges[k][0]))
            if ce[k][2] != edges[k][2] and k not in near:
                probs.append("edge %s: via %d, reference %d" % (k, ce[k][2], edges[k][2]))
            if abs(ce[k][0] - edges[k][0]) > score_tol:
                probs.append("edge %s: score %g, reference %g" % (k, ce[k][0], edges[k][0]))
        elif k in near or (k in ce and (k[0], ce[k][2]) in miss) or k[0] in frag or k[1] in frag:
            tolerated += 1
        else:
            probs.append("edge %s only in %s" % (k, "cfp" if k in ce else "reference"))
    return probs, worst, tolerated


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cfp", default=os.path.join(REPO, "build", "cfp"))
    ap.add_argument("--fixtures", default=os.path.join(REPO, "tests", "fixtures"))
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory(prefix="cfp_compare_") as tmp:
        for fx in sorted(os.listdir(args.fixtures)):
            pd = os.path.join(args.fixtures, fx, "pyramid")
            if not os.path.isdir(pd) or (args.names and fx not in args.names):
                continue
            for t in sorted(os.listdir(pd)):
                probs, worst, tol = compare(args.cfp, args.fixtures, fx, os.path.join(pd, t), tmp)
                if probs:
                    bad += 1
                    print("FAIL %s/%s: %d differences: %s" % (fx, t, len(probs), "; ".join(probs[:5])))
                else:
                    print("ok   %s/%s  max score diff %.1e  tolerated %d" % (fx, t, worst, tol))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
