#!/usr/bin/python3
"""Independent reference implementation of Class Feature Pyramids.

Implements ../shared/spec/cfp-method.md sections 1-4 with the choices of
docs/method.md, in float64 NumPy, on top of the NumPy ONNX interpreter in
tests/reference/onnx_numpy.py.  It does not share code with cfp's C engine;
its output (TSV) is what cfp's tests compare against.

    pyramid_ref.py MODEL.onnx INPUT.pb [--theta 0.6] [--depth 3]
                   [--max-children K] [--class C] [-o OUT.tsv]
    pyramid_ref.py --all-fixtures [--fixtures DIR]

Output format (lines separated by '\\n', fields by '\\t'):

    # comment
    class     <class index> <softmax probability of that class>
    param     theta         <theta>
    param     depth         <D>
    param     max_children  <K, 0 = unlimited>
    node      <level> <layer> <channel>
    edge      <parent layer> <parent channel> <child layer> <child channel> <score> <contribution> <via_channel> <near>
    nearmiss  <parent layer> <parent channel> <via_channel> <score>
    fragile   <level> <layer> <channel>
    warning   <node name> <message>

See tests/reference/README.md for the meaning of every field.
"""
import argparse
import collections
import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from onnx_numpy import attrs, opset_of, run_all  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))

NEAR_THETA = 1e-4  # |score - theta| below this: fragile decision
NEAR_DEGENERATE = 1e-6  # (max v - min v) < this * max|v|: nearly degenerate kernel

# ops that map channel c of their output to channel c of input 0 (docs/method.md)
PASS_OPS = {
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "Elu",
    "Selu", "Celu", "Softplus", "Softsign", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal",
    "Erf", "Cast", "Floor", "Ceil", "Round", "Sign", "Gelu", "Mish", "ThresholdedRelu",
    "Identity", "Dropout", "BatchNormalization",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool",
}
ELEMWISE_JOIN = {"Add", "Sub", "Sum", "Mul", "Div", "Max", "Min", "Mean"}
SHAPE_OPS = {"Flatten", "Reshape", "Squeeze", "Unsqueeze"}
LAYER_OPS = {"Conv", "Gemm", "MatMul"}


def fmt(x):
    return "%.7g" % (x + 0.0)  # no "-0"


# --------------------------------------------------------------------------
# Model: graph bookkeeping, all values in float64
# --------------------------------------------------------------------------


class Model:
    def __init__(self, proto, feeds):
        self.proto = proto
        self.opset = opset_of(proto)
        self.nodes = list(proto.graph.node)
        self.env = run_all(proto, feeds)
        self.producer = {}
        self.consumers = collections.defaultdict(list)
        for i, n in enumerate(self.nodes):
            for j, o in enumerate(n.output):
                if o:
                    self.producer[o] = (i, j)
            for s, v in enumerate(n.input):
                if v:
                    self.consumers[v].append((i, s))
        for o in proto.graph.output:
            self.consumers[o.name].append((None, 0))
        # constants: initializers, Constant outputs, Shape outputs (static
        # shapes), and anything computed from constants only
        self.const = {t.name for t in proto.graph.initializer}
        for n in self.nodes:
            ins = [v for v in n.input if v]
            if n.op_type in ("Constant", "Shape", "Size") or (ins and all(v in self.const for v in ins)) \
                    or (not ins and n.op_type != "RandomNormal"):
                self.const.update(o for o in n.output if o)
        self._layer = {}
        self._pooled = {}

    def name(self, idx):
        n = self.nodes[idx]
        return n.name if n.name else n.output[0]

    def shape(self, v):
        return tuple(np.asarray(self.env[v]).shape)

    # ---- layers ---------------------------------------------------------
    def layer_info(self, idx):
        """Context-free part of "is a layer": dict or (None, reason)."""
        if idx in self._layer:
            return self._layer[idx]
        n = self.nodes[idx]
        a = attrs(n)
        info = None
        why = None
        if n.op_type == "Conv":
            if n.input[1] in self.const:
                W = np.asarray(self.env[n.input[1]], dtype=np.float64)
                wbar = W.reshape(W.shape[0], W.shape[1], -1).mean(axis=2)
                info = dict(kind="Conv", wbar=wbar, group=int(a.get("group", 1)), in_axis=1)
            else:
                why = "Conv with a non-constant weight is not a layer"
        elif n.op_type == "Gemm":
            if a.get("transA", 0):
                why = "Gemm with transA = 1 is not a layer"
            elif n.input[1] not in self.const:
                why = "Gemm with a non-constant B is not a layer"
            else:
                B = np.asarray(self.env[n.input[1]], dtype=np.float64)
                info = dict(kind="Gemm", wbar=B if a.get("transB", 0) else B.T, group=1, in_axis=1)
        elif n.op_type == "MatMul":
            if n.input[1] not in self.const or np.asarray(self.env[n.input[1]]).ndim != 2:
                why = "MatMul without a constant 2-D weight is not a layer"
            else:
                B = np.asarray(self.env[n.input[1]], dtype=np.float64)
                info = dict(kind="MatMul", wbar=B.T, group=1, in_axis=len(self.shape(n.input[0])) - 1)
        res = (info, why)
        self._layer[idx] = res
        return res

    def is_layer(self, idx, a):
        """(True, None) when node idx is a layer for tracked output axis a."""
        n = self.nodes[idx]
        info, why = self.layer_info(idx)
        if info is None:
            return False, why
        r = len(self.shape(n.output[0]))
        if info["kind"] == "MatMul":
            if a != r - 1:
                return False, "MatMul whose tracked channel axis (%d) is not the last axis is not a layer" % a
        elif a != 1:
            return False, "%s output channel axis is %d, not 1" % (info["kind"], a)
        return True, None

    def bn_factor(self, idx):
        """scale/sqrt(var+eps) of the BatchNormalization that is the only
        consumer of the layer's output 0, else None."""
        out = self.nodes[idx].output[0]
        cons = self.consumers.get(out, [])
        if len(cons) != 1 or cons[0][0] is None or cons[0][1] != 0:
            return None
        bn = self.nodes[cons[0][0]]
        if bn.op_type != "BatchNormalization":
            return None
        if bn.input[1] not in self.const or bn.input[4] not in self.const:
            return None
        eps = attrs(bn).get("epsilon", 1e-5)
        sc = np.asarray(self.env[bn.input[1]], dtype=np.float64)
        var = np.asarray(self.env[bn.input[4]], dtype=np.float64)
        return sc / np.sqrt(var + eps)

    def pooled(self, v, axis):
        """mean of value v (batch element 0) over every axis but `axis`."""
        key = (v, axis)
        if key not in self._pooled:
            x = np.asarray(self.env[v], dtype=np.float64)[0]
            x = np.moveaxis(x, axis - 1, 0)
            self._pooled[key] = x.reshape(x.shape[0], -1).mean(axis=1)
        return self._pooled[key]


# --------------------------------------------------------------------------
# The walk (spec section 3, docs/method.md table)
# --------------------------------------------------------------------------


def _ints(x):
    return [int(t) for t in np.asarray(x).reshape(-1)]


class Walker:
    def __init__(self, model):
        self.m = model
        self.memo = {}
        self.warnings = {}  # node idx -> message (first one)

    def warn(self, idx, msg):
        if idx not in self.warnings:
            self.warnings[idx] = msg

    def walk(self, v, a, c):
        """set of kernels (node idx, channel) reached from channel c on axis a of value v."""
        key = (v, a, c)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = frozenset()  # cycle guard (graphs are acyclic)
        r = frozenset(self._walk(v, a, c))
        self.memo[key] = r
        return r

    def _walk(self, v, a, c):
        m = self.m
        if v in m.const or v not in m.producer:
            return set()
        idx, j = m.producer[v]
        n = m.nodes[idx]
        op = n.op_type
        at = attrs(n)
        ins = list(n.input)
        if op in LAYER_OPS:
            ok, why = m.is_layer(idx, a)
            if ok:
                return {(idx, c)}
            self.warn(idx, why)
            return set()
        if op in PASS_OPS:
            if j != 0:
                self.warn(idx, "%s output %d is not followed" % (op, j))
                return set()
            return self.walk(ins[0], a, c)
        if op == "Pad":
            r = len(m.shape(ins[0]))
            if len(ins) > 1 and ins[1]:
                pads = _ints(m.env[ins[1]])
                if len(ins) > 3 and ins[3]:
                    axes = [x % r for x in _ints(m.env[ins[3]])]
                    full = [0] * (2 * r)
                    for i, ax in enumerate(axes):
                        full[ax], full[ax + r] = pads[i], pads[i + len(axes)]
                    pads = full
            else:
                pads = list(at.get("pads", [0] * (2 * r)))
            if pads[a] == 0 and pads[a + r] == 0:
                return self.walk(ins[0], a, c)
            self.warn(idx, "Pad pads the channel axis %d" % a)
            return set()
        if op.startswith("Reduce"):
            r = len(m.shape(ins[0]))
            axes = at.get("axes")
            if axes is None and len(ins) > 1 and ins[1]:
                axes = _ints(m.env[ins[1]])
            if not axes:
                if at.get("noop_with_empty_axes", 0):
                    return self.walk(ins[0], a, c)
                axes = list(range(r))
            axes = sorted(set(x % r for x in axes))
            if at.get("keepdims", 1):
                a_in = a
            else:
                kept = [i for i in range(r) if i not in axes]
                a_in = kept[a]
            if a_in in axes:
                self.warn(idx, "%s reduces the channel axis %d" % (op, a_in))
                return set()
            return self.walk(ins[0], a_in, c)
        if op in ("Softmax", "LogSoftmax"):
            r = len(m.shape(ins[0]))
            if m.opset < 13:
                ax = at.get("axis", 1) % r
                mixes = a >= ax  # coerced to 2-D: axes ax..r-1 are mixed
            else:
                ax = at.get("axis", -1) % r
                mixes = a == ax
            if mixes:
                self.warn(idx, "%s over the channel axis mixes channels" % op)
                return set()
            return self.walk(ins[0], a, c)
        if op in SHAPE_OPS:
            si, so = m.shape(ins[0]), m.shape(v)
            want_size, want_prod = so[a], int(np.prod(so[:a]))
            for ap in range(len(si)):
                if si[ap] == want_size and int(np.prod(si[:ap])) == want_prod:
                    return self.walk(ins[0], ap, c)
            self.warn(idx, "%s does not keep the channel axis whole (%s -> %s, axis %d)" % (op, si, so, a))
            return set()
        if op == "Transpose":
            r = len(m.shape(ins[0]))
            perm = list(at.get("perm", list(range(r))[::-1]))
            return self.walk(ins[0], perm[a], c)
        if op in ELEMWISE_JOIN:
            so = m.shape(v)
            full = [x for x in ins if x and x not in m.const and m.shape(x) == so]
            if not full:
                self.warn(idx, "%s has no full-shaped non-constant input" % op)
                return set()
            res = set()
            for x in full:
                res |= self.walk(x, a, c)
            return res
        if op == "Concat":
            r = len(m.shape(v))
            ax = at["axis"] % r
            if ax == a:
                off = 0
                for x in ins:
                    sz = m.shape(x)[ax]
                    if c < off + sz:
                        return self.walk(x, a, c - off)
                    off += sz
                raise AssertionError("Concat channel out of range")
            res = set()
            for x in ins:
                res |= self.walk(x, a, c)
            return res
        if op == "Split":
            r = len(m.shape(ins[0]))
            ax = at.get("axis", 0) % r
            if ax == a:
                off = sum(m.shape(o)[ax] for o in n.output[:j])
                return self.walk(ins[0], a, c + off)
            return self.walk(ins[0], a, c)
        if op == "Slice":
            si = m.shape(ins[0])
            r = len(si)
            if m.opset < 10:
                starts, ends = list(at["starts"]), list(at["ends"])
                axes = list(at.get("axes", range(len(starts))))
                steps = [1] * len(starts)
            else:
                starts = _ints(m.env[ins[1]])
                axes = _ints(m.env[ins[3]]) if len(ins) > 3 and ins[3] else list(range(len(starts)))
                steps = _ints(m.env[ins[4]]) if len(ins) > 4 and ins[4] else [1] * len(starts)
            for s, ax, st in zip(starts, axes, steps):
                if ax % r == a:
                    dim = si[a]
                    if s < 0:
                        s += dim
                    s = max(0, min(s, dim)) if st > 0 else max(0, min(s, dim - 1))
                    return self.walk(ins[0], a, s + c * st)
            return self.walk(ins[0], a, c)
        self.warn(idx, "op %s is not followed" % op)
        return set()


# --------------------------------------------------------------------------
# Back-step (spec section 2) and pyramid (section 4)
# --------------------------------------------------------------------------


class Step:
    """Result of one back-step from a kernel."""

    __slots__ = ("children", "edges", "nearmiss", "near_kernel")


def back_step(m, walker, kernel, theta, max_children):
    idx, o = kernel
    info, _ = m.layer_info(idx)
    n = m.nodes[idx]
    wbar = info["wbar"]
    cout = wbar.shape[0]
    cpg = wbar.shape[1]
    gi = o // (cout // info["group"]) if info["kind"] == "Conv" else 0
    base = gi * cpg
    abar = m.pooled(n.input[0], info["in_axis"])
    v = wbar[o, :] * abar[base:base + cpg]
    f = m.bn_factor(idx)
    if f is not None:
        v = v * f[o]
    mn, mx = float(v.min()), float(v.max())
    if mx == mn:
        score = np.ones(cpg) if mx != 0 else np.zeros(cpg)
        sel = np.full(cpg, mx != 0)
        frag = False
    else:
        score = (v - mn) / (mx - mn)
        sel = score >= theta
        frag = cpg > 1 and (mx - mn) < NEAR_DEGENERATE * float(np.abs(v).max())
    near = np.zeros(cpg, dtype=bool)
    miss = np.zeros(cpg, dtype=bool)
    if mx != mn:
        near |= sel & (np.abs(score - theta) < NEAR_THETA)
        miss |= (~sel) & (score > theta - NEAR_THETA)
    if frag:
        near |= sel
        miss |= ~sel
    if max_children and sel.sum() > max_children:
        order = sorted(np.nonzero(sel)[0], key=lambda k: (-score[k], k))
        keep, cut = order[:max_children], order[max_children:]
        cut_score = score[keep[-1]]
        sel = np.zeros(cpg, dtype=bool)
        sel[keep] = True
        for k in keep:
            if abs(score[k] - score[cut[0]]) < NEAR_THETA:
                near[k] = True
        for k in cut:
            if abs(score[k] - cut_score) < NEAR_THETA:
                miss[k] = True
    st = Step()
    st.near_kernel = frag
    edges = {}  # child kernel -> (score, v, via, near)
    for k in np.nonzero(sel)[0]:
        ch = base + int(k)
        for kid in walker.walk(n.input[0], info["in_axis"], ch):
            cand = (float(score[k]), float(v[k]), ch, bool(near[k]))
            old = edges.get(kid)
            if old is None or cand[0] > old[0] or (cand[0] == old[0] and ch < old[2]):
                edges[kid] = cand
    st.edges = edges
    st.children = set(edges)
    st.nearmiss = [(base + int(k), float(score[k])) for k in np.nonzero(miss & ~sel)[0]]
    return st


def select_class(m, cls=None):
    out = m.proto.graph.output[0].name
    logits = out
    if out in m.producer:
        p = m.nodes[m.producer[out][0]]
        if p.op_type in ("Softmax", "LogSoftmax"):
            logits = p.input[0]
    row = np.asarray(m.env[logits], dtype=np.float64)[0].reshape(-1)
    if cls is None:
        cls = int(np.argmax(row))
    e = np.exp(row - row.max())
    prob = float(e[cls] / e.sum())
    return logits, cls, prob, row


class Pyramid:
    pass


def _bfs(m, roots, depth, children_of):
    """levels by BFS; children_of(kernel) -> iterable of child kernels."""
    level = {k: 0 for k in roots}
    frontier = sorted(roots)
    for d in range(depth):
        nxt = []
        for k in frontier:
            for kid in sorted(children_of(k)):
                if kid not in level:
                    level[kid] = d + 1
                    nxt.append(kid)
        frontier = sorted(nxt)
        if not frontier:
            break
    return level


def build_pyramid(m, theta=0.6, depth=3, max_children=0, cls=None):
    walker = Walker(m)
    logits, cls, prob, row = select_class(m, cls)
    roots = sorted(walker.walk(logits, 1, cls))
    steps = {}

    def step(k):
        if k not in steps:
            steps[k] = back_step(m, walker, k, theta, max_children)
        return steps[k]

    level = _bfs(m, roots, depth, lambda k: step(k).children)
    expanded = [k for k, l in level.items() if l < depth]
    edges = {}
    nearmiss = []
    for k in expanded:
        st = step(k)
        for kid, e in st.edges.items():
            edges[(k, kid)] = e
        for ch, sc in st.nearmiss:
            nearmiss.append((k, ch, sc))
    # fragility: levels with every near edge removed / every near miss added

    def certain(k):
        return [kid for kid, e in step(k).edges.items() if not e[3]]

    def possible(k):
        st = step(k)
        res = set(st.children)
        info, _ = m.layer_info(k[0])
        for ch, _ in st.nearmiss:
            res |= walker.walk(m.nodes[k[0]].input[0], info["in_axis"], ch)
        return res

    wsave = dict(walker.warnings)
    lo = _bfs(m, roots, depth, certain)
    hi = _bfs(m, roots, depth, possible)
    walker.warnings = wsave  # warnings only from the pyramid itself
    # fragile: a node whose presence or level could differ in an
    # implementation that decides a near decision the other way; includes
    # kernels that only a near miss would add (at the level they would get)
    fragile = {k: l for k, l in level.items() if lo.get(k) != l or hi.get(k) != l}
    for k, l in hi.items():
        if k not in level:
            fragile[k] = l
    p = Pyramid()
    p.model = m
    p.cls, p.prob, p.logits = cls, prob, logits
    srt = np.sort(row)[::-1]
    p.margin = float(srt[0] - srt[1]) if len(srt) > 1 else float("inf")
    p.theta, p.depth, p.max_children = theta, depth, max_children
    p.level = level
    p.edges = edges
    p.nearmiss = nearmiss
    p.fragile = fragile
    p.warnings = walker.warnings
    p.roots = roots
    p.walker = walker
    p.steps = steps
    return p


def write_tsv(p, f, header=()):
    m = p.model
    nm = m.name
    for h in header:
        f.write("# %s\n" % h)
    per_level = collections.Counter(p.level.values())
    n_near = sum(1 for e in p.edges.values() if e[3])
    f.write("# nodes per level: %s; edges %d; near edges %d; nearmiss %d; fragile nodes %d\n" % (
        " ".join("%d:%d" % (l, per_level[l]) for l in sorted(per_level)), len(p.edges), n_near,
        len(p.nearmiss), len(p.fragile)))
    f.write("# logit margin between the two best classes: %.3g\n" % p.margin)
    f.write("class\t%d\t%s\n" % (p.cls, fmt(p.prob)))
    f.write("param\ttheta\t%g\n" % p.theta)
    f.write("param\tdepth\t%d\n" % p.depth)
    f.write("param\tmax_children\t%d\n" % (p.max_children or 0))
    for k in sorted(p.level, key=lambda k: (p.level[k], k[0], k[1])):
        f.write("node\t%d\t%s\t%d\n" % (p.level[k], nm(k[0]), k[1]))
    for (a, b) in sorted(p.edges):
        sc, v, via, near = p.edges[(a, b)]
        f.write("edge\t%s\t%d\t%s\t%d\t%s\t%s\t%d\t%d\n" % (nm(a[0]), a[1], nm(b[0]), b[1], fmt(sc), fmt(v), via, int(near)))
    for k, ch, sc in sorted(p.nearmiss):
        f.write("nearmiss\t%s\t%d\t%d\t%s\n" % (nm(k[0]), k[1], ch, fmt(sc)))
    for k in sorted(p.fragile, key=lambda k: (p.fragile[k], k[0], k[1])):
        f.write("fragile\t%d\t%s\t%d\n" % (p.fragile[k], nm(k[0]), k[1]))
    for idx in sorted(p.warnings):
        f.write("warning\t%s\t%s\n" % (nm(idx), p.warnings[idx].replace("\t", " ").replace("\n", " ")))


def tsv_text(p, header=()):
    import io
    buf = io.StringIO()
    write_tsv(p, buf, header)
    return buf.getvalue()


def load(model_path, *input_paths):
    """Model evaluated on the TensorProto files `input_paths`, bound to the
    graph inputs by tensor name, else in graph-input order."""
    proto = onnx.load(model_path)
    init = {i.name for i in proto.graph.initializer}
    real = [i.name for i in proto.graph.input if i.name not in init]
    feeds = {}
    for k, path in enumerate(input_paths):
        t = onnx.TensorProto()
        with open(path, "rb") as fh:
            t.ParseFromString(fh.read())
        name = t.name if t.name in real else real[k]
        feeds[name] = numpy_helper.to_array(t)
    return Model(proto, feeds)


def fixture_inputs(d):
    """test_data_set_0/input_K.pb of a fixture, K = 0, 1, ..."""
    out = []
    while os.path.isfile(os.path.join(d, "test_data_set_0", "input_%d.pb" % len(out))):
        out.append(os.path.join(d, "test_data_set_0", "input_%d.pb" % len(out)))
    return out


def summary(p):
    per_level = collections.Counter(p.level.values())
    return "class %d (p=%.4f)  nodes/level %s  edges %d  near %d  nearmiss %d  fragile %d  warnings %d" % (
        p.cls, p.prob, "/".join(str(per_level[l]) for l in sorted(per_level)), len(p.edges),
        sum(1 for e in p.edges.values() if e[3]), len(p.nearmiss), len(p.fragile), len(p.warnings))


# --------------------------------------------------------------------------
# Self-checks of the structural facts the method depends on
# --------------------------------------------------------------------------


def layer_indices(m):
    return [i for i, n in enumerate(m.nodes) if n.op_type in LAYER_OPS and m.layer_info(i)[0] is not None]


def ancestors(m, v):
    """node indices that value v depends on."""
    seen = set()
    stack = [v]
    while stack:
        x = stack.pop()
        if x not in m.producer:
            continue
        i = m.producer[x][0]
        if i in seen:
            continue
        seen.add(i)
        stack.extend(t for t in m.nodes[i].input if t)
    return seen


def check_residual_adds(m, pyramids):
    w = Walker(m)
    adds = [i for i, n in enumerate(m.nodes) if n.op_type == "Add"
            and sum(1 for x in n.input if x not in m.const and m.shape(x) == m.shape(n.output[0])) == 2]
    assert adds, "no residual Add"
    for i in adds:
        n = m.nodes[i]
        for c in range(m.shape(n.output[0])[1]):
            ks = w.walk(n.output[0], 1, c)
            k0 = w.walk(n.input[0], 1, c)
            k1 = w.walk(n.input[1], 1, c)
            assert k0 and k1 and ks == k0 | k1, (m.name(i), c)
            assert len({k[0] for k in ks}) >= 2, (m.name(i), c, ks)
    # in the pyramids: some parent reaches >= 2 layers through one channel
    found = False
    for p in pyramids:
        by_via = collections.defaultdict(set)
        for (a, b), e in p.edges.items():
            by_via[(a, e[2])].add(b[0])
        found |= any(len(s) >= 2 for s in by_via.values())
    assert found, "no residual fan-out in any pyramid"
    return "%d residual Adds link both branches" % len(adds)


def check_concat_offsets(m, pyramids):
    w = Walker(m)
    cats = [i for i, n in enumerate(m.nodes) if n.op_type == "Concat" and attrs(n)["axis"] % len(m.shape(n.output[0])) == 1
            and n.output[0] not in m.const]
    assert cats, "no channel Concat"
    anc = {}
    for i in cats:
        n = m.nodes[i]
        ins = list(n.input)
        for x in ins:
            anc[x] = ancestors(m, x)
        off = 0
        for bi, x in enumerate(ins):
            for c in range(m.shape(x)[1]):
                ks = w.walk(n.output[0], 1, off + c)
                assert ks, (m.name(i), off + c)
                for (li, ch) in ks:
                    assert ch == c, (m.name(i), off + c, m.name(li), ch)
                    assert li in anc[x], (m.name(i), bi, m.name(li))
                    assert all(li not in anc[y] for y in ins if y != x), (m.name(i), bi, m.name(li))
            off += m.shape(x)[1]
    return "%d channel Concats: every channel lands in its own branch at c - offset" % len(cats)


def check_groups(m, pyramids):
    n_checked = 0
    grouped = {i for i in layer_indices(m) if m.layer_info(i)[0]["kind"] == "Conv"
               and m.layer_info(i)[0]["group"] > 1 and m.layer_info(i)[0]["wbar"].shape[1] > 1}
    assert grouped, "no grouped conv with >= 2 channels per group"
    for p in pyramids:
        for (a, b), e in p.edges.items():
            if a[0] in grouped:
                info = m.layer_info(a[0])[0]
                cpg = info["wbar"].shape[1]
                gi = a[1] // (info["wbar"].shape[0] // info["group"])
                assert gi * cpg <= e[2] < (gi + 1) * cpg, (m.name(a[0]), a[1], e[2])
                assert gi * cpg <= b[1] < (gi + 1) * cpg, (m.name(a[0]), a[1], m.name(b[0]), b[1])
                n_checked += 1
    assert n_checked, "no grouped-conv edge in any pyramid"
    return "%d grouped-conv edges stay in their group" % n_checked


def check_x3d(m, pyramids):
    dw = {i for i in layer_indices(m) if m.layer_info(i)[0]["kind"] == "Conv"
          and m.layer_info(i)[0]["wbar"].shape[1] == 1 and m.layer_info(i)[0]["group"] > 1}
    assert dw, "no depth-wise conv"
    # SE convs: layers behind the broadcast input of a gating Mul and not
    # behind its full-shaped input
    se = set()
    for n in m.nodes:
        if n.op_type == "Mul" and len({m.shape(x) for x in n.input}) == 2:
            full = [x for x in n.input if m.shape(x) == m.shape(n.output[0])]
            gate = [x for x in n.input if m.shape(x) != m.shape(n.output[0])]
            if full and gate:
                se |= (ancestors(m, gate[0]) - ancestors(m, full[0])) & set(layer_indices(m))
    assert se, "no SE conv"
    n_dw = 0
    for p in pyramids:
        for (a, b), e in p.edges.items():
            if a[0] in dw:
                assert e[2] == a[1] and b[1] == a[1], (m.name(a[0]), a[1], e, b)
                n_dw += 1
        for k in p.level:
            assert k[0] not in se, ("SE conv reached", m.name(k[0]))
        # head: class node is the MatMul, level 1 holds only the head conv
        assert [m.nodes[k[0]].op_type for k in p.roots] == ["MatMul"], p.roots
        l1 = {k[0] for k, l in p.level.items() if l == 1}
        head_conv = max(i for i in layer_indices(m) if m.nodes[i].op_type == "Conv" and i not in se)
        assert l1 <= {head_conv}, [m.name(i) for i in l1]
        if p.depth >= 1:
            assert l1 == {head_conv}
    assert n_dw, "no depth-wise edge"
    # SE Muls: walking any channel of the gated output never reaches an SE conv
    w = Walker(m)
    muls = [i for i, n in enumerate(m.nodes) if n.op_type == "Mul"
            and any(m.shape(x) != m.shape(n.output[0]) for x in n.input)]
    assert muls, "no SE Mul"
    for i in muls:
        v = m.nodes[i].output[0]
        for c in range(m.shape(v)[1]):
            ks = w.walk(v, 1, c)
            assert ks and all(k[0] not in se for k in ks) and all(k[0] in dw and k[1] == c for k in ks), (m.name(i), c, ks)
    return "%d depth-wise edges link to their own channel; %d SE gates never followed; MatMul head -> head conv" % (n_dw, len(muls))


def check_two_pathways(m, pyramids):
    """SlowFast: kernels of both pathways are reached, and some pyramid goes
    from a slow kernel through a lateral conv (a layer on fast features whose
    output is concatenated into the slow pathway) into the fast pathway."""
    init = {t.name for t in m.proto.graph.initializer}
    ins = [i.name for i in m.proto.graph.input if i.name not in init]
    assert len(ins) == 2, ins

    def inputs_of(i):
        seen, stack, found = set(), [i], set()
        while stack:
            j = stack.pop()
            if j in seen:
                continue
            seen.add(j)
            for v in m.nodes[j].input:
                if v in ins:
                    found.add(v)
                elif v in m.producer:
                    stack.append(m.producer[v][0])
        return frozenset(found)

    dep = {i: inputs_of(i) for i in layer_indices(m)}
    fast_only = {i for i, d in dep.items() if len(d) == 1}
    fast_in = next(iter(dep[next(iter(fast_only))])) if fast_only else None
    slow_only = {i for i, d in dep.items() if d == {x for x in ins if x != fast_in}}
    # lateral convs: fast-only convs with a temporal stride (alpha)
    lateral = {i for i in fast_only if m.nodes[i].op_type == "Conv" and attrs(m.nodes[i]).get("strides", [1])[0] > 1}
    assert lateral, "no time-strided lateral conv"
    n_lat = 0
    for p in pyramids:
        kids = collections.defaultdict(set)
        for (a, b) in p.edges:
            kids[a].add(b)
        for a, bs in kids.items():
            if a[0] in fast_only:
                continue
            for b in bs:
                if b[0] in lateral and any(c[0] in fast_only and c[0] not in lateral for c in kids.get(b, ())):
                    n_lat += 1
    assert slow_only and fast_only, "pathways not told apart"
    assert n_lat, "no pyramid crosses a lateral connection into the fast pathway"
    return "%d slow->lateral->fast edge chains" % n_lat


def pyramid_key(p):
    """node and edge sets with layers named by their index among layers."""
    m = p.model
    pos = {i: r for r, i in enumerate(layer_indices(m))}
    nodes = {(l, pos[k[0]], k[1]) for k, l in p.level.items()}
    edges = {((pos[a[0]], a[1]), (pos[b[0]], b[1])): e for (a, b), e in p.edges.items()}
    return nodes, edges, pos


def check_twins(pa, pb):
    """a _bn fixture and its _folded twin give the same pyramid."""
    la, lb = layer_indices(pa.model), layer_indices(pb.model)
    assert len(la) == len(lb), (len(la), len(lb))
    for i, j in zip(la, lb):
        assert pa.model.shape(pa.model.nodes[i].output[0]) == pb.model.shape(pb.model.nodes[j].output[0])
    assert pa.cls == pb.cls
    na, ea, _ = pyramid_key(pa)
    nb, eb, _ = pyramid_key(pb)
    diff_e = set(ea) ^ set(eb)
    near = {k for k, e in ea.items() if e[3]} | {k for k, e in eb.items() if e[3]}
    unexplained = diff_e - near
    assert not unexplained, "bn/folded edge sets differ: %s" % sorted(unexplained)[:5]
    if not diff_e:
        assert na == nb, "bn/folded node sets differ"
    worst = 0.0
    for k in set(ea) & set(eb):
        worst = max(worst, abs(ea[k][0] - eb[k][0]))
        assert ea[k][2] == eb[k][2] or ea[k][3] or eb[k][3], k
    return len(diff_e), worst


# --------------------------------------------------------------------------
# --all-fixtures
# --------------------------------------------------------------------------

THETAS = (0.5, 0.6, 0.8)
DEPTHS = (1, 3, 50)
SIZE_CAP = 200 * 1024


def out_name(theta, depth, k):
    return "theta%g_depth%d%s.tsv" % (theta, depth, "_k%d" % k if k else "")


def all_fixtures(fdir, write=True, only=None):
    names = sorted(d for d in os.listdir(fdir) if os.path.isfile(os.path.join(fdir, d, "model.onnx")) and d != "dynamic_shapes"
                   and (not only or d in only))
    results = {}
    capped = []
    for name in names:
        d = os.path.join(fdir, name)
        m = load(os.path.join(d, "model.onnx"), *fixture_inputs(d))
        # the float64 evaluation reproduces the PyTorch output
        t = onnx.TensorProto()
        with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "rb") as fh:
            t.ParseFromString(fh.read())
        want = numpy_helper.to_array(t)
        got = m.env[m.proto.graph.output[0].name]
        assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max()), name
        configs = [(th, dp, 0) for th in THETAS for dp in DEPTHS] + [(0.6, 3, 3)]
        res = {}
        for th, dp, k in configs:
            p = build_pyramid(m, th, dp, k)
            res[(th, dp, k)] = p
            if write:
                fn = out_name(th, dp, k)
                hdr = ["cfp reference pyramid: tests/reference/pyramid_ref.py --all-fixtures",
                       "model tests/fixtures/%s/model.onnx, input%s %s" % (
                           name, "s" if len(fixture_inputs(d)) > 1 else "",
                           " ".join("test_data_set_0/" + os.path.basename(x) for x in fixture_inputs(d))),
                       "theta %g, depth %d, max_children %d; float64" % (th, dp, k)]
                text = tsv_text(p, hdr)
                full_size = len(text)
                q = p
                # cap: every file but the default configuration (theta 0.6,
                # depth 3) stays under SIZE_CAP by lowering the depth; the
                # param lines hold the depth actually written
                while len(text) > SIZE_CAP and (th, dp) != (0.6, 3) and q.depth > 1:
                    q = build_pyramid(m, th, min(q.depth, max(q.level.values())) - 1, k)
                    text = tsv_text(q, hdr + ["CAPPED: depth %d was requested; its pyramid (%d bytes) is over %d bytes, "
                                              "so this file holds depth %d (use the param lines, not the file name)"
                                              % (dp, full_size, SIZE_CAP, q.depth)])
                if q is not p:
                    capped.append("%s/%s: depth %d -> %d (%d KB -> %d KB)" % (name, fn, dp, q.depth, full_size // 1024,
                                                                           len(text) // 1024))
                od = os.path.join(d, "pyramid")
                os.makedirs(od, exist_ok=True)
                with open(os.path.join(od, fn), "w") as fh:
                    fh.write(text)
        results[name] = (m, res)
        print("%-20s %s" % (name, summary(res[(0.6, 3, 0)])))
    for c in capped:
        print("capped " + c)
    # self-checks
    print("self-checks:")
    for name, (m, res) in results.items():
        ps = list(res.values())
        msgs = []
        if name.startswith(("r3d", "mc3", "r2plus1d", "resnext", "x3d", "resnet", "mfnet", "slowfast")):
            msgs.append(check_residual_adds(m, ps))
        if name.startswith(("s3d", "i3d", "slowfast")):
            msgs.append(check_concat_offsets(m, ps))
        if name.startswith(("resnext", "mfnet")):
            msgs.append(check_groups(m, ps))
        if name.startswith("slowfast"):
            msgs.append(check_two_pathways(m, ps))
        if name.startswith("x3d"):
            msgs.append(check_x3d(m, ps))
        for k, p in res.items():
            assert all(not e[3] or True for e in p.edges.values())
            if k[2]:
                per = collections.Counter(a for (a, b) in p.edges)
                # <= K child channels per kernel (edges may exceed K through residual fan-out)
                vias = collections.defaultdict(set)
                for (a, b), e in p.edges.items():
                    vias[a].add(e[2])
                assert all(len(s) <= k[2] for s in vias.values())
        print("  %-20s %s" % (name, "; ".join(msgs) if msgs else "-"))
    for name in results:
        if name.endswith("_bn") or "_bn_" in name:
            twin = name.replace("_bn", "_folded").replace("_folded_op11", "_folded")
            if twin in results and twin != name:
                nd = 0
                worst = 0.0
                for k in results[name][1]:
                    d_, w_ = check_twins(results[name][1][k], results[twin][1][k])
                    nd += d_
                    worst = max(worst, w_)
                print("  %-20s == %-20s over %d configs (edges differing only at near decisions: %d; max score diff %.2g)"
                      % (name, twin, len(results[name][1]), nd, worst))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?")
    ap.add_argument("input", nargs="*", help="one TensorProto per graph input")
    ap.add_argument("--theta", type=float, default=0.6)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--max-children", type=int, default=0)
    ap.add_argument("--class", dest="cls", type=int, default=None)
    ap.add_argument("-o", "--output")
    ap.add_argument("--all-fixtures", action="store_true")
    ap.add_argument("--fixtures", default=os.path.join(REPO, "tests", "fixtures"))
    ap.add_argument("--no-write", action="store_true", help="with --all-fixtures: only run the checks")
    ap.add_argument("--only", nargs="*", help="with --all-fixtures: these fixtures only")
    args = ap.parse_args()
    if args.all_fixtures:
        all_fixtures(args.fixtures, write=not args.no_write, only=args.only)
        return
    if not args.model or not args.input:
        ap.error("MODEL.onnx and INPUT.pb are required (or --all-fixtures)")
    m = load(args.model, *args.input)
    p = build_pyramid(m, args.theta, args.depth, args.max_children, args.cls)
    hdr = ("cfp reference pyramid: tests/reference/pyramid_ref.py", "model %s, input %s" % (args.model, args.input))
    if args.output:
        with open(args.output, "w") as fh:
            write_tsv(p, fh, hdr)
    else:
        write_tsv(p, sys.stdout, hdr)
    print(summary(p), file=sys.stderr)


if __name__ == "__main__":
    main()
