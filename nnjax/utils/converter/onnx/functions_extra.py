"""ONNX export of functions beyond NNabla's exporter table: gradient-only
functions (identity forward), norms, matrix helpers, sorting and top-k,
fixed-point quantization, pruning, ONNX's own Resize, Shift and CumProd.

Registers into ``functions.EXPORTERS`` (same signature: ``fn(g, x, y, args)``).
"""
import numpy as np

from .functions import MIN_OPSET, _norm_params, _normalize, _scale_shift, exports

__all__ = []


@exports("ClipGradByValue", "ClipGradByNorm", "Unlink")
def _forward_identity(g, x, y, a):
    g.op("Identity", x[:1], y[0])


@exports("NormNormalization")
def _norm_normalization(g, x, y, a):
    ndim = len(g.shape(x[0]))
    axes = sorted({int(i) % ndim for i in (a["axes"] or range(ndim))})
    p = float(a["p"]) if a["p"] is not None else 2.0
    total = g.reduce("ReduceSum", g.op("Pow", [g.op("Abs", x[:1]), g.const(p)]), axes, True)
    norm = g.op("Pow", [g.op("Add", [total, g.const(float(a["eps"]))]), g.const(1.0 / p)])
    g.op("Div", [x[0], norm], y[0])


@exports("TensorNormalization")
def _tensor_normalization(g, x, y, a):
    ndim = len(g.shape(x[0]))
    kept = {int(i) % ndim for i in a["axes"]}
    axes = [i for i in range(ndim) if i not in kept]
    beta, gamma = _norm_params(x, a)
    _scale_shift(g, _normalize(g, x[0], axes, a["eps"]), beta, gamma, y[0])


@exports("MatrixDiag")
def _matrix_diag(g, x, y, a):
    n = g.shape(x[0])[-1]
    column = g.unsqueeze(x[0], [len(g.shape(x[0]))])
    g.op("Mul", [column, g.const(np.eye(n))], y[0])


@exports("MatrixDiagPart")
def _matrix_diag_part(g, x, y, a):
    shape = g.shape(x[0])
    masked = g.op("Mul", [x[0], g.const(np.eye(shape[-1]))])
    g.reduce("ReduceSum", masked, [len(shape) - 1], False, y[0])


@exports("Trilu")
def _trilu(g, x, y, a):
    rows, cols = g.shape(x[0])[-2:]
    k = int(a["k"])
    keep = np.triu(np.ones((rows, cols), bool), k) if a["upper"] else \
        np.tril(np.ones((rows, cols), bool), k)
    g.op("Where", [g.const(keep, np.bool_), x[0], g.const(0.0)], y[0])


@exports("EyeLike")
def _eye_like(g, x, y, a):
    rows, cols = g.shape(x[0])
    g.op("Identity", [g.const(np.eye(rows, cols, int(a["k"])))], y[0])


@exports("Shape")
def _shape(g, x, y, a):
    # the shape is static: its values are those nnjax gave the output's length
    shape = g.shape(x[0])
    ndim = len(shape)
    start = int(a["start"]) + (ndim if int(a["start"]) < 0 else 0)
    end = int(a["end"]) + (ndim if int(a["end"]) <= 0 else 0)
    g.op("Identity", [g.const(np.asarray(shape[start:end], np.float32))], y[0])


@exports("Mod2")
def _mod2(g, x, y, a):
    g.op("Mod", x[:2], y[0], fmod=1)


@exports("Einsum")
def _einsum(g, x, y, a):
    g.op("Einsum", x, y[0], equation=a["equation"])


MIN_OPSET["Einsum"] = 12


@exports("FixedPointQuantize")
def _fixed_point_quantize(g, x, y, a):
    delta = float(a["delta"])
    bits = int(a["n"]) - 1 if a["sign"] else int(a["n"])
    q_max = (2.0 ** bits - 1) * delta
    q_min = -q_max if a["sign"] else 0.0
    steps = g.op("Floor", [g.op("Add", [g.op("Div", [g.op("Abs", x[:1]), g.const(delta)]),
                                        g.const(0.5)])])
    inner = g.op("Mul", [g.op("Mul", [g.op("Sign", x[:1]), steps]), g.const(delta)])
    g.clip(inner, q_min, q_max, y[0])


@exports("Prune")
def _prune(g, x, y, a):
    shape = g.shape(x[0])
    size = int(np.prod(shape, dtype=np.int64))
    rate = float(a["rate"])
    idx = int((size - 1) * rate)
    mag = g.op("Abs", x[:1])
    flat = g.reshape(mag, [size])
    largest = g.op("TopK", [flat, g.const([size - idx], np.int64)], n_outputs=2, largest=1)[0]
    thresh = g.reduce("ReduceMin", largest, [0], True)
    if rate == 1.0:
        thresh = g.op("Add", [thresh, g.const(1.0)])
    g.op("Where", [g.op("Less", [mag, thresh]), g.const(0.0), x[0]], y[0])


@exports("Sort")
def _sort(g, x, y, a):
    shape = g.shape(x[0])
    axis = int(a["axis"]) % len(shape)
    values, index = g.op("TopK", [x[0], g.const([shape[axis]], np.int64)], n_outputs=2,
                         axis=axis, largest=int(bool(a["reverse"])), sorted=1)
    if a["only_index"]:
        g.to_float(index, y[0])
        return
    g.op("Identity", [values], y[0])
    if a["with_index"]:
        g.to_float(index, y[1])


@exports("TopKData")
def _top_k_data(g, x, y, a):
    shape = g.shape(x[0])
    base = int(a["base_axis"]) % len(shape)
    batch = int(np.prod(shape[:base], dtype=np.int64))
    flat = g.reshape(x[0], [batch, -1])
    key = g.op("Abs", [flat]) if a["abs"] else flat
    k = int(a["k"])
    _, index = g.op("TopK", [key, g.const([k], np.int64)], n_outputs=2, axis=1,
                    largest=int(bool(a["largest"])), sorted=1)
    if a["reduce"]:
        values = g.op("GatherElements", [flat, index], axis=1)
        g.reshape(values, list(shape[:base]) + [k], y[0])
        if a["with_index"] and len(y) > 1:
            g.to_float(g.reshape(index, list(shape[:base]) + [k]), y[1])
        return
    picked = g.op("GatherElements", [flat, index], axis=1)
    zeros = g.const(np.zeros((batch, int(np.prod(shape[base:], dtype=np.int64))), np.float32))
    kept = g.op("ScatterElements", [zeros, index, picked], axis=1)
    g.reshape(kept, list(shape), y[0])
    if a["with_index"] and len(y) > 1:
        g.to_float(g.reshape(index, list(shape[:base]) + [k]), y[1])


@exports("TopNError")
def _top_n_error(g, x, y, a):
    axis = int(a["axis"]) % len(g.shape(x[0]))
    score = g.op("GatherElements", [x[0], g.to_int(x[1])], axis=axis)
    above = g.to_float(g.op("Not", [g.op("Less", [x[0], score])]))
    count = g.reduce("ReduceSum", above, [axis], True)
    g.to_float(g.op("Greater", [count, g.const(float(a["n"]))]), y[0])


@exports("MeanSubtraction")
def _mean_subtraction(g, x, y, a):
    if a["update_running_mean"]:
        g.fail("update_running_mean=True (training) is not exported")
    g.op("Sub", [x[0], x[1]], y[0])


@exports("ONNXResize")
def _onnx_resize(g, x, y, a):
    def text(v):
        return v.decode() if isinstance(v, bytes) else v
    roi = g.const(np.asarray(a["roi"], np.float32))
    scales = g.const(np.asarray(a["scales"], np.float32))
    inputs = [x[0], roi, scales]
    if len(a["sizes"]):
        inputs.append(g.ints(a["sizes"]))
    g.op("Resize", inputs, y[0], mode=text(a["mode"]),
         coordinate_transformation_mode=text(a["coordinate_transformation_mode"]),
         cubic_coeff_a=float(a["cubic_coeff_a"]), exclude_outside=int(a["exclude_outside"]),
         extrapolation_value=float(a["extrapolation_value"]),
         nearest_mode=text(a["nearest_mode"]))



def _take(g, x, axis, index):
    return g.op("Gather", [x, g.const(index, np.int64)], axis=axis)


@exports("Shift")
def _shift(g, x, y, a):
    shape = g.shape(x[0])
    shifts = [int(s) for s in a["shifts"]]
    value = x[0]
    for d, size in enumerate(shape):
        k = len(shifts) - len(shape) + d
        s = shifts[k] if k >= 0 else 0
        if not s or not size:
            continue
        i = np.arange(size)
        if a["border_mode"] == "reflect":
            # the index read at i, mirrored at both ends with period 2 * size
            m = np.abs(i + 2 * size - s) % (2 * size) if size > 1 else np.zeros_like(i)
            index = np.where(m >= size, 2 * size - 1 - m, m)
        else:
            index = np.clip(i - s, 0, size - 1)
        value = _take(g, value, d, index)
    g.op("Identity", [value], y[0])


@exports("CumProd")
def _cumprod(g, x, y, a):
    shape = g.shape(x[0])
    axis = int(a["axis"]) % len(shape)
    n = shape[axis]
    if n > 256:
        g.fail(f"an axis of {n} elements (products are written out, up to 256)")
    order = list(range(n))[::-1] if a["reverse"] else list(range(n))
    parts, running = {}, None
    for i in order:
        item = _take(g, x[0], axis, [i])
        if a["exclusive"]:
            parts[i] = running if running is not None else g.const(
                np.ones([1 if d == axis else s for d, s in enumerate(shape)], np.float32))
            running = item if running is None else g.op("Mul", [running, item])
        else:
            running = item if running is None else g.op("Mul", [running, item])
            parts[i] = running
    g.op("Concat", [parts[i] for i in range(n)], y[0], axis=axis)


# random sources: ONNX's generators (the same distributions, not the same numbers)
def _seed(a):
    return float(a["seed"]) if int(a["seed"]) >= 0 else None


@exports("Rand")
def _rand(g, x, y, a):
    g.op("RandomUniform", [], y[0], shape=list(g.shape(y[0])), low=float(a["low"]),
         high=float(a["high"]), seed=_seed(a))


@exports("Randn")
def _randn(g, x, y, a):
    g.op("RandomNormal", [], y[0], shape=list(g.shape(y[0])), mean=float(a["mu"]),
         scale=float(a["sigma"]), seed=_seed(a))


@exports("Randint")
def _randint(g, x, y, a):
    u = g.op("RandomUniform", [], shape=list(g.shape(y[0])), low=float(a["low"]),
             high=float(a["high"]), seed=_seed(a))
    g.op("Floor", [u], y[0])


@exports("BoolFill")
def _bool_fill(g, x, y, a):
    mask = g.op("Not", [g.op("Equal", [x[1], g.const(0.0)])])
    g.op("Where", [mask, g.const(float(a["value"])), x[0]], y[0])


@exports("SearchSorted")
def _search_sorted(g, x, y, a):
    seq = g.unsqueeze(x[0], [len(g.shape(x[0])) - 1])          # (..., 1, S)
    values = g.unsqueeze(x[1], [len(g.shape(x[1]))])            # (..., V, 1)
    before = g.op("Not", [g.op("Greater", [seq, values])]) if a["right"] else \
        g.op("Less", [seq, values])
    g.reduce("ReduceSum", g.to_float(before), [len(g.shape(x[1]))], False, y[0])


@exports("ConfusionMatrix")
def _confusion_matrix(g, x, y, a):
    shape = g.shape(x[0])
    axis = int(a["axis"]) % len(shape)
    n = shape[axis]
    depth_values = [g.const([n], np.int64), g.const([0.0, 1.0])]
    pred = g.op("ArgMax", [x[0]], axis=axis, keepdims=0)
    label = g.to_int(g.squeeze(x[1], [axis]))
    hot_pred = g.reshape(g.op("OneHot", [pred] + depth_values, axis=-1), [-1, n])
    hot_label = g.reshape(g.op("OneHot", [label] + depth_values, axis=-1), [-1, n])
    g.op("MatMul", [g.op("Transpose", [hot_label], perm=[1, 0]), hot_pred], y[0])


@exports("Meshgrid")
def _meshgrid(g, x, y, a):
    out_shape = list(g.shape(y[0]))
    ndim = len(out_shape)
    for i, (v, out) in enumerate(zip(x, y)):
        axis = i
        if not a["ij_indexing"] and ndim >= 2 and i < 2:
            axis = 1 - i
        placed = g.reshape(v, [out_shape[axis] if d == axis else 1 for d in range(ndim)])
        g.op("Expand", [placed, g.ints(out_shape)], out)


@exports("ScatterNd")
def _scatter_nd(g, x, y, a):
    if a["add"] and g.opset < 16:
        g.fail("add=True needs ScatterND's reduction (opset 16 or newer)")
    n = len(g.shape(x[1]))
    index = g.op("Transpose", [g.to_int(x[1])], perm=list(range(1, n)) + [0])
    base = x[2] if len(x) > 2 else g.const(np.zeros([int(s) for s in a["shape"]], np.float32))
    g.op("ScatterND", [base, index, x[0]], y[0], reduction="add" if a["add"] else None)
    for extra in y[1:]:
        g.op("Identity", [y[0]], extra)
