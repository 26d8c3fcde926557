#!/usr/bin/python3
"""Driver of `make bench` (see bench/run.sh): times cfp, ONNX Runtime and
PyTorch side by side and prints markdown tables.

    /usr/bin/python3 bench/bench.py --cfp build/cfp --models bench/models
        [--rounds 5] [--warmup 2] [--repeat 2] [--threads 2] [--only NAME ...]
        [--programs cfp,cfp-nokeep,ort,torch] [--json OUT.json]

Every program runs as its own process, once per round and model, with
OPENBLAS_CORETYPE removed from its environment; the order of the programs
rotates from round to round, so that a slow spell of a shared machine hits
each of them alike. A process loads the model (timed), runs --warmup
untimed forward passes, then --repeat timed ones; the table gives the
median over all rounds' timed runs."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
NAMES = {"cfp": "cfp", "cfp-nokeep": "cfp --no-keep", "cfp-base": "cfp before", "ort": "ONNX Runtime",
         "torch": "PyTorch"}


def env():
    e = dict(os.environ)
    e.pop("OPENBLAS_CORETYPE", None)  # set here, it halves OpenBLAS's speed
    return e


def command(prog, a, d):
    model, inp = os.path.join(d, "model.onnx"), os.path.join(d, "test_data_set_0", "input_0.pb")
    n = ["--warmup", str(a.warmup), "--repeat", str(a.repeat), "--threads", str(a.threads)]
    if prog in ("cfp", "cfp-nokeep"):
        return [a.cfp, "bench", model, "-i", inp, "--json"] + n + (["--no-keep"] if prog == "cfp-nokeep" else [])
    if prog == "cfp-base":
        return [a.base_cfp, "bench", model, "-i", inp, "--json"] + n
    if prog == "ort":
        return ["node", os.path.join(HERE, "ort_bench.js"), model, inp] + n
    return [PY, os.path.join(HERE, "torch_bench.py"), d] + n


def run_once(prog, a, d):
    p = subprocess.run(command(prog, a, d), env=env(), capture_output=True, text=True)
    if p.returncode:
        raise SystemExit("bench: %s failed on %s:\n%s" % (prog, d, p.stderr[-2000:]))
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if prog.startswith("cfp"):
        # cfp bench reports min, median and max: all the runs when repeat <= 3
        lo, mid, hi = r["forward_ms_min"], r["forward_ms_median"], r["forward_ms_max"]
        r["times_ms"] = {1: [mid], 2: [lo, hi], 3: [lo, mid, hi]}.get(a.repeat, [mid])
    return r


def info(a, d):
    p = subprocess.run([a.cfp, "info", os.path.join(d, "model.onnx"), "--json"], env=env(),
                       capture_output=True, text=True, check=True)
    j = json.loads(p.stdout)
    shape = "x".join(str(x) for x in j["inputs"][0]["shape"])
    return dict(gflop=2 * j["macs"] / 1e9, shape=shape,
                file_mb=os.path.getsize(os.path.join(d, "model.onnx")) / 2**20)


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    flags = open("/proc/cpuinfo").read()
    isa = [f for f in ("avx512f", "avx512_bf16", "avx2") if " %s " % f in flags]
    mem = int(open("/proc/meminfo").readline().split()[1]) // 1024 // 1024

    def ver(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=env()).stdout.strip()
        except OSError:
            return "?"
    blas = ver(["dpkg-query", "-W", "-f", "${Version}", "libopenblas0-pthread"])
    return dict(cpu=cpu, cores=os.cpu_count(), isa=isa, mem_gb=mem, kernel=platform.release(),
                openblas=blas, node=ver(["node", "--version"]),
                torch=ver([PY, "-c", "import torch; print(torch.__version__)"]),
                cc=ver(["cc", "--version"]).splitlines()[0] if ver(["cc", "--version"]) else "?")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def table(res, a, m, load_before, load_after):
    progs = a.programs
    out = []
    w = out.append
    w("Machine: %s, %d cores (%s), %d GB; Linux %s; %s; OpenBLAS %s; node %s; PyTorch %s; "
      "onnxruntime-node 1.30.0 (CPU EP)." % (m["cpu"], m["cores"], ", ".join(m["isa"]), m["mem_gb"], m["kernel"],
                                             m["cc"], m["openblas"], m["node"], m["torch"]))
    w("Settings: %d threads each (cfp --threads, ORT intraOpNumThreads with interOp 1, torch.set_num_threads); "
      "OPENBLAS_CORETYPE unset for every program; float32 everywhere; %d rounds, programs alternating, each "
      "process %d warm-up + %d timed forward passes; medians over all timed passes. Load average %.2f before, "
      "%.2f after (the machine is shared: compare the columns of one run, not runs)."
      % (a.threads, a.rounds, a.warmup, a.repeat, load_before, load_after))
    w("")
    w("| model | input | GFLOP | cfp ms | ORT ms | PyTorch ms | cfp / ORT | cfp / PyTorch | GFLOP/s cfp / ORT / PyTorch |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in res.items():
        t = {p: med(r["times"][p]) for p in progs}
        g = r["info"]["gflop"]

        def ratio(p):
            return "%.2f" % (t["cfp"] / t[p]) if p in t and "cfp" in t else "-"

        def ms(p):
            return "%.0f" % t[p] if p in t else "-"

        def rate(p):
            return "%.0f" % (g / t[p] * 1e3) if p in t else "-"
        w("| %s | %s | %.1f | %s | %s | %s | %s | %s | %s / %s / %s |" % (
            name, r["info"]["shape"], g, ms("cfp"), ms("ort"), ms("torch"), ratio("ort"), ratio("torch"),
            rate("cfp"), rate("ort"), rate("torch")))
    if "cfp-base" in progs:
        w("")
        w("| model | cfp before ms | cfp after ms | speed-up | before / ORT | after / ORT |")
        w("|---|---:|---:|---:|---:|---:|")
        for name, r in res.items():
            b, c = med(r["times"]["cfp-base"]), med(r["times"]["cfp"])
            o = med(r["times"]["ort"]) if "ort" in progs else float("nan")
            w("| %s | %.0f | %.0f | %.2fx | %.2f | %.2f |" % (name, b, c, b / c, b / o, c / o))
    if "cfp-nokeep" in progs:
        w("")
        w("| model | cfp, keeping every activation, ms | cfp --no-keep ms | cost of keeping | kept MB | --no-keep MB |")
        w("|---|---:|---:|---:|---:|---:|")
        for name, r in res.items():
            k, n = med(r["times"]["cfp"]), med(r["times"]["cfp-nokeep"])
            w("| %s | %.0f | %.0f | %+.1f %% | %.0f | %.0f |" % (name, k, n, (k / n - 1) * 100,
                                                             med(r["act"]["cfp"]), med(r["act"]["cfp-nokeep"])))
    w("")
    w("| model | file MB | peak RSS MB: %s | cfp budget (file + kept + 100) | load ms (fastest of the rounds): %s |" % (
        " / ".join(NAMES[p] for p in progs), " / ".join(NAMES[p] for p in progs)))
    w("|---|---:|---:|---:|---:|")
    for name, r in res.items():
        budget = r["info"]["file_mb"] + med(r["act"]["cfp"]) + 100 if "cfp" in progs else float("nan")
        w("| %s | %.0f | %s | %.0f | %s |" % (
            name, r["info"]["file_mb"], " / ".join("%.0f" % med(r["rss"][p]) for p in progs), budget,
            " / ".join("%.0f" % min(r["load"][p]) for p in progs)))
    # the first pass of a process: what one `cfp explain` (or one ORT / PyTorch
    # call) waits for; the columns above are warm passes
    fp = [p for p in progs if all(r.get("first", {}).get(p) for r in res.values())]
    if fp:
        w("")
        w("| model | first forward pass of a process, ms (median of the rounds): %s | cfp / ORT |" %
          " / ".join(NAMES[p] for p in fp))
        w("|---|---:|---:|")
        for name, r in res.items():
            ratio = med(r["first"]["cfp"]) / med(r["first"]["ort"]) if "cfp" in fp and "ort" in fp else float("nan")
            w("| %s | %s | %.2f |" % (name, " / ".join("%.0f" % med(r["first"][p]) for p in fp), ratio))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cfp", default="build/cfp")
    ap.add_argument("--base-cfp", help="another cfp binary to time as 'cfp-base' (e.g. a build from before a change)")
    ap.add_argument("--models", default=os.path.join(HERE, "models"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--programs", default="cfp,cfp-nokeep,ort,torch")
    ap.add_argument("--json", help="also write the raw numbers here")
    ap.add_argument("--from-json", help="print the tables of an earlier run's --json file, run nothing")
    a = ap.parse_args()
    if a.from_json:
        with open(a.from_json) as f:
            j = json.load(f)
        for k, v in j["args"].items():
            if k not in ("from_json",):
                setattr(a, k, v)
        print(table(j["results"], a, j["machine"], j.get("load_before", float("nan")),
                    j.get("load_after", float("nan"))))
        return
    a.programs = a.programs.split(",")
    if a.base_cfp and "cfp-base" not in a.programs:
        a.programs.insert(1, "cfp-base")
    names = a.only or subprocess.run([PY, os.path.join(HERE, "models.py"), "--list"], capture_output=True,
                                     text=True, check=True).stdout.split()
    names = [n for n in names if os.path.isfile(os.path.join(a.models, n, "model.onnx"))]
    res = {}
    for n in names:
        d = os.path.join(a.models, n)
        res[n] = dict(info=info(a, d), times={p: [] for p in a.programs}, load={p: [] for p in a.programs},
                      rss={p: [] for p in a.programs}, act={p: [] for p in a.programs},
                      first={p: [] for p in a.programs})
    load_before = os.getloadavg()[0]
    for rnd in range(a.rounds):
        for n in names:
            d = os.path.join(a.models, n)
            k = (rnd + names.index(n)) % len(a.programs)
            for p in a.programs[k:] + a.programs[:k]:
                r = run_once(p, a, d)
                res[n]["times"][p] += r["times_ms"]
                res[n]["load"][p].append(r["load_ms"])
                res[n]["rss"][p].append(r["peak_rss_mb"])
                if "first_ms" in r:
                    res[n]["first"][p].append(r["first_ms"])
                if "activations_mb" in r:
                    res[n]["act"][p].append(r["activations_mb"])
                print("round %d %-12s %-11s %s ms" % (rnd + 1, n, p, " ".join("%.0f" % x for x in r["times_ms"])),
                      file=sys.stderr, flush=True)
    m = machine()
    load_after = os.getloadavg()[0]
    text = table(res, a, m, load_before, load_after)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(machine=m, args=vars(a), results=res, load_before=load_before, load_after=load_after,
                           when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())), f, indent=1)


if __name__ == "__main__":
    main()
