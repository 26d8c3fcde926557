"""A small float64 NumPy interpreter for ONNX graphs.

Independent of cfp's C engine; used by scripts/make_fixtures.py (to check that
each exported graph reproduces PyTorch's output) and by
tests/reference/pyramid_ref.py (which needs every intermediate value).

    env = run_all(proto, {"input": x})     # every value, floats as float64
    outs = run_onnx(proto, {"input": x})   # graph outputs only, as float32

Supports the ops of every fixture in tests/fixtures/ (and a few more):
Conv (any rank, group, dilations), BatchNormalization, element-wise unary
and binary ops, pooling, Gemm, MatMul, Concat, Split, Slice, Reduce*,
Softmax/LogSoftmax, Flatten/Reshape/Squeeze/Unsqueeze/Transpose, Pad,
Shape/Gather/Cast/Constant.  Float tensors are evaluated in float64.
"""
import numpy as np
import onnx
from onnx import numpy_helper
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["run_all", "run_onnx", "attrs", "opset_of"]

_FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def opset_of(proto):
    for o in proto.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 1


def _s(v):
    return v.decode() if isinstance(v, bytes) else v


def _tensor(t):
    a = numpy_helper.to_array(t)
    if t.data_type in _FLOAT_TYPES:
        a = a.astype(np.float64)
    return a


def _windows(xp, kernel, strides, dilations):
    nd = len(kernel)
    axes = tuple(range(2, 2 + nd))
    span = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilations))
    w = sliding_window_view(xp, span, axis=axes)
    w = w[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)]
    # keep only the dilated taps
    return w[(Ellipsis,) + tuple(slice(None, None, d) for d in dilations)]


def _pads(a, nd, in_spatial=None, kernel=None, strides=None, dilations=None):
    auto = _s(a.get("auto_pad", "NOTSET"))
    if auto in ("NOTSET", "VALID"):
        if auto == "VALID":
            pads = [0] * (2 * nd)
        else:
            pads = list(a.get("pads", [0] * (2 * nd)))
    else:  # SAME_UPPER / SAME_LOWER
        pads = [0] * (2 * nd)
        for i in range(nd):
            out = -(-in_spatial[i] // strides[i])
            tot = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_spatial[i])
            lo = tot // 2 if auto == "SAME_UPPER" else tot - tot // 2
            pads[i], pads[i + nd] = lo, tot - lo
    return [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)]


def _conv(x, w, b, a):
    nd = w.ndim - 2
    assert a.get("ceil_mode", 0) == 0
    strides = list(a.get("strides", [1] * nd))
    dil = list(a.get("dilations", [1] * nd))
    group = int(a.get("group", 1))
    xp = np.pad(x, _pads(a, nd, x.shape[2:], w.shape[2:], strides, dil))
    win = _windows(xp, w.shape[2:], strides, dil)  # N, C, O..., K...
    cpg = w.shape[1]
    opg = w.shape[0] // group
    assert x.shape[1] == cpg * group, (x.shape, w.shape, group)
    outs = []
    kax = list(range(2 + nd, 2 + 2 * nd))
    wax = list(range(2, 2 + nd))
    if cpg == 1 and opg == 1:  # depth-wise: one channel per group
        # win: N, C, O..., K...; w: C, 1, K...
        wk = w[:, 0]
        y = np.einsum(win, [0, 1] + [10 + i for i in range(nd)] + [20 + i for i in range(nd)],
                      wk, [1] + [20 + i for i in range(nd)], [0, 1] + [10 + i for i in range(nd)])
    else:
        for g in range(group):
            wg = w[g * opg:(g + 1) * opg]
            xg = win[:, g * cpg:(g + 1) * cpg]
            yg = np.tensordot(xg, wg, axes=([1] + kax, [1] + wax))
            outs.append(np.moveaxis(yg, -1, 1))
        y = np.concatenate(outs, axis=1)
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


def _pool(x, a, kind):
    assert a.get("ceil_mode", 0) == 0, a
    k = list(a["kernel_shape"])
    nd = len(k)
    strides = list(a.get("strides", [1] * nd))
    dil = list(a.get("dilations", [1] * nd))
    pw = _pads(a, nd, x.shape[2:], k, strides, dil)
    axes = tuple(range(-nd, 0))
    if kind == "max":
        win = _windows(np.pad(x, pw, constant_values=-np.inf), k, strides, dil)
        return win.max(axis=axes)
    s = _windows(np.pad(x, pw), k, strides, dil).sum(axis=axes)
    if a.get("count_include_pad", 0):
        return s / float(np.prod(k))
    ones = np.pad(np.ones((1, 1) + x.shape[2:]), pw)
    cnt = _windows(ones, k, strides, dil).sum(axis=axes)
    return s / cnt


def _axes_arg(node, a, ins, opset, attr_until):
    """axes from the attribute (old opsets) or input 1 (newer)."""
    if "axes" in a:
        return [int(v) for v in a["axes"]]
    if len(ins) > 1 and ins[1] is not None:
        return [int(v) for v in np.asarray(ins[1]).reshape(-1)]
    return None


def _reduce(op, x, axes, keep, noop_empty):
    if axes is None or len(axes) == 0:
        if noop_empty:
            return x
        axes = list(range(x.ndim))
    axes = tuple(sorted(ax % x.ndim for ax in axes))
    kd = bool(keep)
    if op == "ReduceMean":
        return x.mean(axis=axes, keepdims=kd)
    if op == "ReduceSum":
        return x.sum(axis=axes, keepdims=kd)
    if op == "ReduceMax":
        return x.max(axis=axes, keepdims=kd)
    if op == "ReduceMin":
        return x.min(axis=axes, keepdims=kd)
    if op == "ReduceProd":
        return x.prod(axis=axes, keepdims=kd)
    if op == "ReduceL1":
        return np.abs(x).sum(axis=axes, keepdims=kd)
    if op == "ReduceL2":
        return np.sqrt((x * x).sum(axis=axes, keepdims=kd))
    if op == "ReduceSumSquare":
        return (x * x).sum(axis=axes, keepdims=kd)
    if op == "ReduceLogSum":
        return np.log(x.sum(axis=axes, keepdims=kd))
    if op == "ReduceLogSumExp":
        m = x.max(axis=axes, keepdims=True)
        r = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
        return r if kd else np.squeeze(r, axis=axes)
    raise NotImplementedError(op)


def _softmax(x, axis, opset, log=False):
    if opset < 13:  # coerce to 2-D at `axis`
        shp = x.shape
        ax = axis % x.ndim
        x2 = x.reshape(int(np.prod(shp[:ax])), -1)
        m = x2.max(axis=1, keepdims=True)
        e = np.exp(x2 - m)
        s = e.sum(axis=1, keepdims=True)
        r = (x2 - m - np.log(s)) if log else e / s
        return r.reshape(shp)
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=axis, keepdims=True)
    return (x - m - np.log(s)) if log else e / s


def _erf(x):
    from math import erf
    return np.vectorize(erf)(x)


_UNARY = {
    "Relu": lambda x, a: np.maximum(x, 0),
    "Sigmoid": lambda x, a: 1.0 / (1.0 + np.exp(-x)),
    "Tanh": lambda x, a: np.tanh(x),
    "Abs": lambda x, a: np.abs(x),
    "Neg": lambda x, a: -x,
    "Exp": lambda x, a: np.exp(x),
    "Log": lambda x, a: np.log(x),
    "Sqrt": lambda x, a: np.sqrt(x),
    "Reciprocal": lambda x, a: 1.0 / x,
    "Erf": lambda x, a: _erf(x),
    "LeakyRelu": lambda x, a: np.where(x >= 0, x, a.get("alpha", 0.01) * x),
    "Elu": lambda x, a: np.where(x >= 0, x, a.get("alpha", 1.0) * (np.exp(x) - 1)),
    "Selu": lambda x, a: a.get("gamma", 1.0507009873554805) * np.where(x > 0, x, a.get("alpha", 1.6732632423543772) * (np.exp(x) - 1)),
    "Softplus": lambda x, a: np.log1p(np.exp(x)),
    "HardSigmoid": lambda x, a: np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1),
    "HardSwish": lambda x, a: x * np.clip(x / 6.0 + 0.5, 0, 1),
    "Identity": lambda x, a: x,
    "Floor": lambda x, a: np.floor(x),
    "Ceil": lambda x, a: np.ceil(x),
}

_BINARY = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": lambda p, q: (p // q) if (np.issubdtype(np.asarray(p).dtype, np.integer) and np.issubdtype(np.asarray(q).dtype, np.integer)) else p / q,
    "Pow": np.power,
}

_VARIADIC = {"Sum": np.add, "Max": np.maximum, "Min": np.minimum}


def _eval_node(node, ins, opset):
    a = attrs(node)
    op = node.op_type
    if op == "Conv":
        return [_conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)]
    if op == "BatchNormalization":
        x, sc, bi, mu, var = ins[:5]
        assert not a.get("training_mode", 0)
        shp = (1, -1) + (1,) * (x.ndim - 2)
        eps = a.get("epsilon", 1e-5)
        return [(x - mu.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * sc.reshape(shp) + bi.reshape(shp)]
    if op in _UNARY:
        return [_UNARY[op](ins[0], a)]
    if op == "Clip":
        lo = a.get("min", -np.inf)
        hi = a.get("max", np.inf)
        if len(ins) > 1 and ins[1] is not None:
            lo = float(ins[1])
        if len(ins) > 2 and ins[2] is not None:
            hi = float(ins[2])
        return [np.clip(ins[0], lo, hi)]
    if op == "PRelu":
        return [np.where(ins[0] >= 0, ins[0], ins[1] * ins[0])]
    if op in _BINARY:
        return [_BINARY[op](ins[0], ins[1])]
    if op in _VARIADIC:
        r = ins[0]
        for t in ins[1:]:
            r = _VARIADIC[op](r, t)
        return [r]
    if op == "Mean":
        r = ins[0]
        for t in ins[1:]:
            r = r + t
        return [r / len(ins)]
    if op == "Dropout":
        return [ins[0]] + ([np.ones(ins[0].shape, dtype=bool)] if len(node.output) > 1 else [])
    if op == "MaxPool":
        assert len(node.output) == 1 or not node.output[1]
        return [_pool(ins[0], a, "max")]
    if op == "AveragePool":
        return [_pool(ins[0], a, "avg")]
    if op == "GlobalAveragePool":
        return [ins[0].mean(axis=tuple(range(2, ins[0].ndim)), keepdims=True)]
    if op == "GlobalMaxPool":
        return [ins[0].max(axis=tuple(range(2, ins[0].ndim)), keepdims=True)]
    if op == "Flatten":
        x = ins[0]
        ax = a.get("axis", 1)
        if ax < 0:
            ax += x.ndim
        return [x.reshape(int(np.prod(x.shape[:ax])), -1)]
    if op == "Gemm":
        A, B = ins[0], ins[1]
        if a.get("transA", 0):
            A = A.T
        if a.get("transB", 0):
            B = B.T
        out = a.get("alpha", 1.0) * (A @ B)
        if len(ins) > 2 and ins[2] is not None:
            out = out + a.get("beta", 1.0) * ins[2]
        return [out]
    if op == "MatMul":
        return [np.matmul(ins[0], ins[1])]
    if op == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if op == "Split":
        x = ins[0]
        ax = a.get("axis", 0) % x.ndim
        if "split" in a:
            sizes = list(a["split"])
        elif len(ins) > 1 and ins[1] is not None:
            sizes = [int(v) for v in ins[1]]
        else:
            n = a.get("num_outputs", len(node.output))
            step = -(-x.shape[ax] // n)
            sizes = [min(step, x.shape[ax] - i * step) for i in range(n)]
        idx = np.cumsum(sizes)[:-1]
        return list(np.split(x, idx, axis=ax))
    if op == "Slice":
        x = ins[0]
        if opset < 10:
            starts, ends = list(a["starts"]), list(a["ends"])
            axes = list(a.get("axes", range(len(starts))))
            steps = [1] * len(starts)
        else:
            starts = [int(v) for v in ins[1]]
            ends = [int(v) for v in ins[2]]
            axes = [int(v) for v in ins[3]] if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
            steps = [int(v) for v in ins[4]] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        sl = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            ax %= x.ndim
            n = x.shape[ax]
            s = max(-n - 1, min(s, n + 1))
            e = max(-n - 1, min(e, n + 1))
            sl[ax] = slice(s, e, st)
        return [x[tuple(sl)]]
    if op.startswith("Reduce"):
        axes = _axes_arg(node, a, ins, opset, None)
        return [_reduce(op, ins[0], axes, a.get("keepdims", 1), a.get("noop_with_empty_axes", 0))]
    if op in ("Softmax", "LogSoftmax"):
        axis = a.get("axis", 1 if opset < 13 else -1)
        return [_softmax(ins[0], axis, opset, log=(op == "LogSoftmax"))]
    if op == "Transpose":
        perm = a.get("perm", list(range(ins[0].ndim))[::-1])
        return [np.transpose(ins[0], perm)]
    if op == "Reshape":
        shape = [int(s) for s in ins[1]]
        if not a.get("allowzero", 0):
            shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return [ins[0].reshape(shape)]
    if op == "Squeeze":
        axes = _axes_arg(node, a, ins, opset, 13)
        x = ins[0]
        if axes is None:
            return [np.squeeze(x)]
        return [np.squeeze(x, axis=tuple(ax % x.ndim for ax in axes))]
    if op == "Unsqueeze":
        axes = _axes_arg(node, a, ins, opset, 13)
        x = ins[0]
        r = x.ndim + len(axes)
        out = x
        for ax in sorted(ax % r for ax in axes):
            out = np.expand_dims(out, ax)
        return [out]
    if op == "Constant":
        if "value" in a:
            return [_tensor(a["value"])]
        if "value_float" in a:
            return [np.array(a["value_float"], dtype=np.float64)]
        if "value_floats" in a:
            return [np.array(a["value_floats"], dtype=np.float64)]
        if "value_int" in a:
            return [np.array(a["value_int"], dtype=np.int64)]
        if "value_ints" in a:
            return [np.array(a["value_ints"], dtype=np.int64)]
        raise NotImplementedError("Constant attribute %s" % list(a))
    if op == "Pad":
        mode = _s(a.get("mode", "constant"))
        x = ins[0]
        r = x.ndim
        if len(ins) > 1:  # opset >= 11: pads (and constant_value, axes) are inputs
            pads = [int(p) for p in ins[1]]
            cval = float(ins[2].reshape(-1)[0]) if len(ins) > 2 and ins[2] is not None and ins[2].size else 0.0
            if len(ins) > 3 and ins[3] is not None:
                axes = [int(v) % r for v in ins[3]]
                full = [0] * (2 * r)
                for i, ax in enumerate(axes):
                    full[ax], full[ax + r] = pads[i], pads[i + len(axes)]
                pads = full
        else:  # opset < 11: attributes
            pads = list(a["pads"])
            cval = a.get("value", 0.0)
        assert min(pads) >= 0, pads
        pw = [(pads[i], pads[i + r]) for i in range(r)]
        if mode == "constant":
            return [np.pad(x, pw, constant_values=cval)]
        return [np.pad(x, pw, mode={"reflect": "reflect", "edge": "edge"}[mode])]
    if op == "Shape":
        shp = np.array(ins[0].shape, dtype=np.int64)
        start, end = a.get("start", 0), a.get("end", None)
        return [shp[start:end]]
    if op == "Gather":
        return [np.take(ins[0], ins[1].astype(np.int64), axis=a.get("axis", 0))]
    if op == "Cast":
        to = a["to"]
        if to in _FLOAT_TYPES:
            return [np.asarray(ins[0], dtype=np.float64)]
        return [np.asarray(ins[0]).astype(onnx.helper.tensor_dtype_to_np_dtype(to))]
    if op == "ConstantOfShape":
        v = _tensor(a["value"]).reshape(-1)[0] if "value" in a else 0.0
        return [np.full([int(s) for s in ins[0]], v)]
    raise NotImplementedError("onnx_numpy: op %s (node %s)" % (op, node.name))


def run_all(proto, feeds):
    """Evaluate `proto` on `feeds`; return {value name: ndarray} for every
    value (initializers, inputs, node outputs).  Floats are float64."""
    opset = opset_of(proto)
    env = {}
    for t in proto.graph.initializer:
        env[t.name] = _tensor(t)
    for k, v in feeds.items():
        v = np.asarray(v)
        env[k] = v.astype(np.float64) if np.issubdtype(v.dtype, np.floating) else v
    for node in proto.graph.node:
        ins = [env[n] if n else None for n in node.input]
        outs = _eval_node(node, ins, opset)
        for name, val in zip(node.output, outs):
            if name:
                env[name] = val
    return env


def run_onnx(proto, feeds):
    """Evaluate `proto` on `feeds` in float64; return the graph outputs as float32."""
    env = run_all(proto, feeds)
    return {o.name: np.asarray(env[o.name]).astype(np.float32) for o in proto.graph.output}
