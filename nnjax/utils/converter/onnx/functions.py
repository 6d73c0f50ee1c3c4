"""How each NNabla function type is written as ONNX nodes, keyed by type name.

``EXPORTERS[type_name](g, x, y, args)`` adds the nodes that compute the
function's outputs ``y`` (names) from its inputs ``x`` (names) to the
:class:`~.graph.OnnxGraph` ``g``; ``args`` are the function's arguments as
Python values (``nnp_graph.function_args``). Every key is a type of the one
function registry (``tests/test_onnx_export.py`` checks it) and each entry
must give the same numbers as nnjax's lowering of that type in onnxruntime.
"""
import math

import numpy as np

__all__ = ["EXPORTERS", "MIN_OPSET"]

EXPORTERS = {}
MIN_OPSET = {}


def exports(*type_names, min_opset=None):
    def register(fn):
        for t in type_names:
            EXPORTERS[t] = fn
            if min_opset:
                MIN_OPSET[t] = min_opset
        return fn
    return register


def _same_op(type_name, op_type, **attrs_from_args):
    def convert(g, x, y, a):
        g.op(op_type, x, y[0], **{k: f(a) for k, f in attrs_from_args.items()})
    EXPORTERS[type_name] = convert


# --------------------------------------------------------------- elementwise
for _t, _op in [("ReLU", "Relu"), ("Sigmoid", "Sigmoid"), ("Tanh", "Tanh"), ("Abs", "Abs"),
                ("Exp", "Exp"), ("Log", "Log"), ("Identity", "Identity"), ("Ceil", "Ceil"),
                ("Floor", "Floor"), ("Sin", "Sin"), ("Cos", "Cos"), ("Tan", "Tan"),
                ("Sinh", "Sinh"), ("Cosh", "Cosh"), ("ASin", "Asin"), ("ACos", "Acos"),
                ("ATan", "Atan"), ("ASinh", "Asinh"), ("ACosh", "Acosh"), ("ATanh", "Atanh"),
                ("Erf", "Erf"), ("SoftSign", "Softsign"), ("Add2", "Add"), ("BcAdd2", "Add"),
                ("Sub2", "Sub"), ("Mul2", "Mul"), ("Div2", "Div"), ("Pow2", "Pow"),
                ("Maximum2", "Max"), ("Minimum2", "Min"), ("AddN", "Sum")]:
    _same_op(_t, _op)
_same_op("ELU", "Elu", alpha=lambda a: float(a["alpha"]))
_same_op("SELU", "Selu", alpha=lambda a: float(a["alpha"]), gamma=lambda a: float(a["scale"]))
_same_op("LeakyReLU", "LeakyRelu", alpha=lambda a: float(a["alpha"]))
_same_op("HardSigmoid", "HardSigmoid", alpha=lambda a: 0.2, beta=lambda a: 0.5)
_same_op("Dropout", "Identity")          # inference: NNabla's exported graphs run without dropout


@exports("MulN")
def _mul_n(g, x, y, a):
    acc = x[0]
    for i, v in enumerate(x[1:]):
        acc = g.op("Mul", [acc, v], y[0] if i == len(x) - 2 else None)
    if len(x) == 1:
        g.op("Identity", x, y[0])


@exports("ReLU6")
def _relu6(g, x, y, a):
    g.clip(x[0], 0.0, 6.0, y[0])


@exports("HardTanh")
def _hard_tanh(g, x, y, a):
    g.clip(x[0], -1.0, 1.0, y[0])


@exports("Swish")
def _swish(g, x, y, a):
    g.op("Mul", [x[0], g.op("Sigmoid", x)], y[0])


@exports("SoftPlus")
def _softplus(g, x, y, a):
    beta = float(a["beta"])
    if beta == 1.0:
        g.op("Softplus", x, y[0])
        return
    s = g.op("Softplus", [g.op("Mul", [x[0], g.const(beta)])])
    g.op("Div", [s, g.const(beta)], y[0])


@exports("LogSigmoid")
def _log_sigmoid(g, x, y, a):
    g.op("Neg", [g.op("Softplus", [g.op("Neg", x)])], y[0])


@exports("Mish")
def _mish(g, x, y, a):
    g.op("Mul", [x[0], g.op("Tanh", [g.op("Softplus", x)])], y[0])


@exports("TanhShrink")
def _tanh_shrink(g, x, y, a):
    g.op("Sub", [x[0], g.op("Tanh", x)], y[0])


@exports("GELU")
def _gelu(g, x, y, a):
    cube = g.op("Mul", [g.op("Mul", [x[0], x[0]]), x[0]])
    inner = g.op("Add", [x[0], g.op("Mul", [cube, g.const(0.044715)])])
    t = g.op("Tanh", [g.op("Mul", [inner, g.const(math.sqrt(2.0 / math.pi))])])
    half = g.op("Mul", [x[0], g.const(0.5)])
    g.op("Mul", [half, g.op("Add", [t, g.const(1.0)])], y[0])


@exports("Sinc")
def _sinc(g, x, y, a):
    zero = g.op("Equal", [x[0], g.const(0.0)])
    ratio = g.op("Div", [g.op("Sin", x), x[0]])
    g.op("Where", [zero, g.const(1.0), ratio], y[0])


@exports("CReLU")
def _crelu(g, x, y, a):
    pos = g.op("Relu", x)
    neg = g.op("Relu", [g.op("Neg", x)])
    g.op("Concat", [pos, neg], y[0], axis=_axis(g, x[0], a["axis"]))


@exports("CELU")
def _celu(g, x, y, a):
    pos = g.op("Elu", x, alpha=float(a["alpha"]))
    neg = g.op("Elu", [g.op("Neg", x)], alpha=float(a["alpha"]))
    g.op("Concat", [pos, neg], y[0], axis=_axis(g, x[0], a["axis"]))


@exports("PReLU")
def _prelu(g, x, y, a):
    ndim = len(g.shape(x[0]))
    slope = x[1]
    if len(g.shape(slope)) == 1 and g.shape(slope)[0] > 1:
        trailing = ndim - int(a["base_axis"]) - 1
        slope = g.reshape(slope, [g.shape(slope)[0]] + [1] * trailing)
    g.op("PRelu", [x[0], slope], y[0])


@exports("Sign")
def _sign(g, x, y, a):
    zero = g.op("Equal", [x[0], g.const(0.0)])
    g.op("Where", [zero, g.const(float(a["alpha"])), g.op("Sign", x)], y[0])


@exports("Round")
def _round(g, x, y, a):
    # half away from zero, as NNabla rounds (ONNX's Round rounds half to even)
    mag = g.op("Floor", [g.op("Add", [g.op("Abs", x), g.const(0.5)])])
    g.op("Mul", [g.op("Sign", x), mag], y[0])


@exports("ATan2")
def _atan2(g, x, y, a):
    base = g.op("Atan", [g.op("Div", [x[0], x[1]])])
    negative_x = g.op("Less", [x[1], g.const(0.0)])
    upper = g.op("Less", [x[0], g.const(0.0)])
    turn = g.op("Where", [upper, g.const(-math.pi), g.const(math.pi)])
    g.op("Add", [base, g.op("Where", [negative_x, turn, g.const(0.0)])], y[0])


# --------------------------------------------------------------- scalars
def _scalar(op_type, reverse=False):
    def convert(g, x, y, a):
        c = g.const(float(a["val"]))
        g.op(op_type, [c, x[0]] if reverse else [x[0], c], y[0])
    return convert


for _t, _op, _rev in [("AddScalar", "Add", False), ("MulScalar", "Mul", False),
                      ("PowScalar", "Pow", False), ("RSubScalar", "Sub", True),
                      ("RDivScalar", "Div", True), ("RPowScalar", "Pow", True),
                      ("MaximumScalar", "Max", False), ("MinimumScalar", "Min", False)]:
    EXPORTERS[_t] = _scalar(_op, _rev)


# --------------------------------------------------------------- logical (float 0/1 results)
def _compare(g, op_type, a_name, b_name, negate=False):
    r = g.op(op_type, [a_name, b_name])
    return g.op("Not", [r]) if negate else r


_COMPARISONS = {"Greater": ("Greater", False, False), "Less": ("Less", False, False),
                "Equal": ("Equal", False, False), "NotEqual": ("Equal", False, True),
                "GreaterEqual": ("Less", False, True), "LessEqual": ("Greater", False, True)}


def _comparison(op_type, negate, scalar):
    def convert(g, x, y, a):
        other = g.const(float(a["val"])) if scalar else x[1]
        g.to_float(_compare(g, op_type, x[0], other, negate), y[0])
    return convert


for _t, (_op, _, _neg) in _COMPARISONS.items():
    EXPORTERS[_t] = _comparison(_op, _neg, False)
    EXPORTERS[_t + "Scalar"] = _comparison(_op, _neg, True)


def _logical(op_type, scalar):
    def convert(g, x, y, a):
        other = g.to_bool(g.const(float(a["val"]))) if scalar else g.to_bool(x[1])
        g.to_float(g.op(op_type, [g.to_bool(x[0]), other]), y[0])
    return convert


for _t, _op in [("LogicalAnd", "And"), ("LogicalOr", "Or"), ("LogicalXor", "Xor")]:
    EXPORTERS[_t] = _logical(_op, False)
    EXPORTERS[_t + "Scalar"] = _logical(_op, True)


@exports("LogicalNot")
def _logical_not(g, x, y, a):
    g.to_float(g.op("Not", [g.to_bool(x[0])]), y[0])


@exports("IsNaN")
def _is_nan(g, x, y, a):
    g.to_float(g.op("IsNaN", x), y[0])


@exports("IsInf")
def _is_inf(g, x, y, a):
    g.to_float(g.op("IsInf", x), y[0])


@exports("ResetNaN")
def _reset_nan(g, x, y, a):
    g.op("Where", [g.op("IsNaN", x), g.const(float(a["val"])), x[0]], y[0])


@exports("ResetInf")
def _reset_inf(g, x, y, a):
    g.op("Where", [g.op("IsInf", x), g.const(float(a["val"])), x[0]], y[0])


@exports("Where")
def _where(g, x, y, a):
    g.op("Where", [g.to_bool(x[0]), x[1], x[2]], y[0])


@exports("BinarySigmoid")
def _binary_sigmoid(g, x, y, a):
    g.op("Where", [g.op("Greater", [x[0], g.const(0.0)]), g.const(1.0), g.const(0.0)], y[0])


@exports("BinaryTanh")
def _binary_tanh(g, x, y, a):
    g.op("Where", [g.op("Greater", [x[0], g.const(0.0)]), g.const(1.0), g.const(-1.0)], y[0])


@exports("BinaryError")
def _binary_error(g, x, y, a):
    px = g.op("Not", [g.op("Less", [x[0], g.const(0.5)])])
    pt = g.op("Not", [g.op("Less", [x[1], g.const(0.5)])])
    g.to_float(g.op("Xor", [px, pt]), y[0])


# --------------------------------------------------------------- softmax family
def _axis(g, name, axis):
    return int(axis) % len(g.shape(name))


def _softmax(op_type):
    def convert(g, x, y, a):
        axis = _axis(g, x[0], a["axis"])
        if g.opset >= 13 or axis == len(g.shape(x[0])) - 1:
            g.op(op_type, x, y[0], axis=axis)
            return
        # before opset 13 Softmax flattens from ``axis`` on: write it out per axis
        shifted = g.op("Sub", [x[0], g.reduce("ReduceMax", x[0], [axis], True)])
        e = g.op("Exp", [shifted])
        total = g.reduce("ReduceSum", e, [axis], True)
        if op_type == "Softmax":
            g.op("Div", [e, total], y[0])
        else:
            g.op("Sub", [shifted, g.op("Log", [total])], y[0])
    return convert


EXPORTERS["Softmax"] = _softmax("Softmax")
EXPORTERS["LogSoftmax"] = _softmax("LogSoftmax")


def _log_softmax(g, x, axis):
    out = g.fresh("log_softmax")
    _softmax("LogSoftmax")(g, [x], [out], {"axis": axis})
    g.shapes[out] = g.shape(x)
    return out


def _take_label(g, values, label, axis):
    """values[..., label, ...] along ``axis`` (label has size 1 there)."""
    return g.op("GatherElements", [values, g.to_int(label)], axis=axis)


@exports("SoftmaxCrossEntropy")
def _softmax_cross_entropy(g, x, y, a):
    axis = _axis(g, x[0], a["axis"])
    picked = _take_label(g, _log_softmax(g, x[0], axis), x[1], axis)
    g.op("Neg", [picked], y[0])


@exports("CategoricalCrossEntropy")
def _categorical_cross_entropy(g, x, y, a):
    axis = _axis(g, x[0], a["axis"])
    picked = _take_label(g, x[0], x[1], axis)
    g.op("Neg", [g.op("Log", [g.op("Max", [picked, g.const(1e-38)])])], y[0])


# --------------------------------------------------------------- losses
@exports("SquaredError")
def _squared_error(g, x, y, a):
    d = g.op("Sub", x)
    g.op("Mul", [d, d], y[0])


@exports("AbsoluteError")
def _absolute_error(g, x, y, a):
    g.op("Abs", [g.op("Sub", x)], y[0])


@exports("HuberLoss")
def _huber_loss(g, x, y, a):
    delta = float(a["delta"])
    d = g.op("Sub", x)
    ad = g.op("Abs", [d])
    outer = g.op("Mul", [g.op("Sub", [g.op("Mul", [ad, g.const(2.0)]), g.const(delta)]),
                         g.const(delta)])
    g.op("Where", [g.op("Less", [ad, g.const(delta)]), g.op("Mul", [d, d]), outer], y[0])


@exports("EpsilonInsensitiveLoss")
def _epsilon_insensitive(g, x, y, a):
    ad = g.op("Abs", [g.op("Sub", x)])
    g.op("Relu", [g.op("Sub", [ad, g.const(float(a["epsilon"]))])], y[0])


@exports("SigmoidCrossEntropy")
def _sigmoid_cross_entropy(g, x, y, a):
    # max(x, 0) - x t + log(1 + exp(-|x|))
    pos = g.op("Relu", [x[0]])
    tail = g.op("Softplus", [g.op("Neg", [g.op("Abs", [x[0]])])])
    g.op("Add", [g.op("Sub", [pos, g.op("Mul", x)]), tail], y[0])


@exports("BinaryCrossEntropy")
def _binary_cross_entropy(g, x, y, a):
    tiny = g.const(1e-38)
    log_p = g.op("Log", [g.op("Max", [x[0], tiny])])
    log_q = g.op("Log", [g.op("Max", [g.op("Sub", [g.const(1.0), x[0]]), tiny])])
    one_minus_t = g.op("Sub", [g.const(1.0), x[1]])
    s = g.op("Add", [g.op("Mul", [x[1], log_p]), g.op("Mul", [one_minus_t, log_q])])
    g.op("Neg", [s], y[0])


@exports("KLMultinomial")
def _kl_multinomial(g, x, y, a):
    shape = g.shape(x[0])
    base = int(a["base_axis"])
    tiny = g.const(1e-38)
    logs = [g.op("Log", [g.op("Max", [v, tiny])]) for v in x]
    term = g.op("Mul", [x[0], g.op("Sub", logs)])
    flat = g.reshape(term, list(shape[:base]) + [-1])
    g.reduce("ReduceSum", flat, [base], True, y[0])


# --------------------------------------------------------------- reductions
def _reduction(op_type):
    def convert(g, x, y, a):
        ndim = len(g.shape(x[0]))
        axes = sorted({int(i) % ndim for i in a.get("axes", range(ndim))}) if ndim else []
        if a.get("with_index") or a.get("only_index"):
            _extreme_with_index(g, x[0], y, axes, a, op_type)
            return
        if not axes:
            g.op("Identity", x, y[0])
            return
        g.reduce(op_type, x[0], axes, a.get("keep_dims", False), y[0])
    return convert


for _t, _op in [("Sum", "ReduceSum"), ("Mean", "ReduceMean"), ("Max", "ReduceMax"),
                ("Min", "ReduceMin"), ("Prod", "ReduceProd"), ("ReduceSum", "ReduceSum"),
                ("ReduceMean", "ReduceMean")]:
    EXPORTERS[_t] = _reduction(_op)


def _extreme_with_index(g, x, y, axes, a, op_type):
    """Max/Min with the index of the first extreme element of the flattened reduced axes."""
    shape = g.shape(x)
    rest = [i for i in range(len(shape)) if i not in axes]
    moved = g.op("Transpose", [x], perm=rest + axes)
    flat = g.reshape(moved, [shape[i] for i in rest] + [-1])
    arg = "ArgMax" if op_type == "ReduceMax" else "ArgMin"
    index = g.op(arg, [flat], axis=len(rest), keepdims=0)
    kept = [1 if i in axes else s for i, s in enumerate(shape)] if a["keep_dims"] else \
        [shape[i] for i in rest]
    index = g.reshape(index, kept)
    if a["only_index"]:
        g.to_float(index, y[0])
        return
    g.reduce(op_type, x, axes, a["keep_dims"], y[0])
    g.to_float(index, y[1])


@exports("Norm")
def _norm(g, x, y, a):
    ndim = len(g.shape(x[0]))
    axes = sorted({int(i) % ndim for i in (a["axes"] or range(ndim))})
    p = float(a["p"]) if a["p"] is not None else 2.0
    keep = a["keep_dims"]
    if p == 1.0:
        g.reduce("ReduceL1", x[0], axes, keep, y[0])
    elif p == 2.0:
        g.reduce("ReduceL2", x[0], axes, keep, y[0])
    else:
        s = g.reduce("ReduceSum", g.op("Pow", [g.op("Abs", x), g.const(p)]), axes, keep)
        g.op("Pow", [s, g.const(1.0 / p)], y[0])


@exports("CumSum")
def _cumsum(g, x, y, a):
    g.op("CumSum", [x[0], g.const(_axis(g, x[0], a["axis"]), np.int64)], y[0],
         exclusive=int(a["exclusive"]), reverse=int(a["reverse"]))


# --------------------------------------------------------------- array manipulation
@exports("Reshape")
def _reshape(g, x, y, a):
    g.reshape(x[0], g.shape(y[0]), y[0])


@exports("Transpose")
def _transpose(g, x, y, a):
    g.op("Transpose", x, y[0], perm=[int(i) for i in a["axes"]])


@exports("Concatenate")
def _concatenate(g, x, y, a):
    g.op("Concat", x, y[0], axis=_axis(g, x[0], a["axis"]))


@exports("Split")
def _split(g, x, y, a):
    axis = _axis(g, x[0], a["axis"])
    n = g.shape(x[0])[axis]
    parts = g.split(x[0], axis, [1] * n, [g.fresh("split") for _ in range(n)])
    for part, out in zip(parts, y):
        g.squeeze(part, [axis], out)


@exports("Stack")
def _stack(g, x, y, a):
    axis = int(a["axis"]) % (len(g.shape(x[0])) + 1)
    g.op("Concat", [g.unsqueeze(v, [axis]) for v in x], y[0], axis=axis)


@exports("Slice")
def _slice(g, x, y, a):
    ndim = len(g.shape(x[0]))
    start, stop, step = list(a["start"]), list(a["stop"]), list(a["step"])
    axes = list(range(ndim - len(start), ndim))
    g.op("Slice", [x[0], g.ints(start), g.ints(stop), g.ints(axes), g.ints(step)], y[0])


@exports("Flip")
def _flip(g, x, y, a):
    ndim = len(g.shape(x[0]))
    axes = sorted({int(i) % ndim for i in a["axes"]})
    n = len(axes)
    g.op("Slice", [x[0], g.ints([-1] * n), g.ints([-(2 ** 62)] * n), g.ints(axes),
                   g.ints([-1] * n)], y[0])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "repeat": "edge"}


@exports("Pad")
def _pad(g, x, y, a):
    ndim = len(g.shape(x[0]))
    width = [int(w) for w in a["pad_width"]]
    lead = ndim - len(width) // 2
    begins = [0] * lead + width[0::2]
    ends = [0] * lead + width[1::2]
    mode = _PAD_MODES.get(a["mode"])
    if mode is None:
        g.fail(f"pad mode {a['mode']!r} has no ONNX equivalent")
    inputs = [x[0], g.ints(begins + ends)]
    if mode == "constant":
        inputs.append(g.const(float(a["constant_value"])))
    g.op("Pad", inputs, y[0], mode=mode)


@exports("Broadcast")
def _broadcast(g, x, y, a):
    g.op("Expand", [x[0], g.ints(g.shape(y[0]))], y[0])


@exports("Tile")
def _tile(g, x, y, a):
    ndim = len(g.shape(x[0]))
    reps = [int(r) for r in a["reps"]]
    if len(reps) > ndim:
        src = g.reshape(x[0], [1] * (len(reps) - ndim) + list(g.shape(x[0])))
    else:
        src, reps = x[0], [1] * (ndim - len(reps)) + reps
    g.op("Tile", [src, g.ints(reps)], y[0])


@exports("BatchMatmul")
def _batch_matmul(g, x, y, a):
    def maybe_t(name, flag):
        if not flag:
            return name
        n = len(g.shape(name))
        return g.op("Transpose", [name], perm=list(range(n - 2)) + [n - 1, n - 2])
    g.op("MatMul", [maybe_t(x[0], a["transpose_a"]), maybe_t(x[1], a["transpose_b"])], y[0])


@exports("Embed")
def _embed(g, x, y, a):
    g.op("Gather", [x[1], g.to_int(x[0])], y[0], axis=0)


@exports("Gather")
def _gather(g, x, y, a):
    if int(a["batch_dims"]) != 0:
        g.fail(f"batch_dims={a['batch_dims']} (only 0 is exported)")
    g.op("Gather", [x[0], g.to_int(x[1])], y[0], axis=_axis(g, x[0], a["axis"]))


@exports("GatherNd")
def _gather_nd(g, x, y, a):
    n = len(g.shape(x[1]))
    last = g.op("Transpose", [g.to_int(x[1])], perm=list(range(1, n)) + [0])
    g.op("GatherND", [x[0], last], y[0])


@exports("Constant", "Arange", "Linspace")
def _constant(g, x, y, a):
    f = g.function
    shape = g.shape(y[0])
    if f.type == "Constant":
        value = np.full(shape, float(a["val"]), np.float32)
    elif f.type == "Arange":
        value = np.arange(a["start"], a["stop"], a["step"], dtype=np.float32)
    else:
        value = np.linspace(a["start"], a["stop"], int(a["num"]), dtype=np.float32)
    g.op("Identity", [g.const(value.reshape(shape))], y[0])


# --------------------------------------------------------------- layers
def _flatten_to_2d(g, name, axis):
    shape = g.shape(name)
    rows = int(np.prod(shape[:axis], dtype=np.int64))
    return g.reshape(name, [rows, int(np.prod(shape[axis:], dtype=np.int64))])


@exports("Affine")
def _affine(g, x, y, a):
    base = int(a["base_axis"])
    xs = _flatten_to_2d(g, x[0], base)
    w_shape = g.shape(x[1])
    w = g.reshape(x[1], [w_shape[0], int(np.prod(w_shape[1:], dtype=np.int64))])
    inputs = [xs, w]
    if len(x) > 2:
        inputs.append(g.reshape(x[2], [-1]))
    g.reshape(g.op("Gemm", inputs), g.shape(y[0]), y[0])


def _spatial_io(g, x_name, y_name, base_axis, n_spatial, run):
    """Run ``run(x4d) -> y4d`` on the input seen as (N, C, spatial...): axes before
    ``base_axis`` merged into one batch axis (and split again after)."""
    shape = g.shape(x_name)
    lead = len(shape) - n_spatial - 1
    if lead == 1:
        run(x_name, y_name)
        return
    batch = int(np.prod(shape[:lead], dtype=np.int64))
    inner = g.reshape(x_name, [batch] + list(shape[lead:]))
    out = g.fresh("spatial")
    run(inner, out)
    g.reshape(out, g.shape(y_name), y_name)


def _channel_first(g, x, y, a, n_spatial, run):
    """``run(x_cf, y_cf)`` on channel-first tensors: with ``channel_last`` the input's
    last axis is moved before the ``n_spatial`` spatial axes, and the result back."""
    if not a.get("channel_last"):
        run(x, y)
        return
    nd = len(g.shape(x))
    c_axis = nd - 1 - n_spatial
    perm = list(range(c_axis)) + [nd - 1] + list(range(c_axis, nd - 1))
    xc = g.op("Transpose", [x], perm=perm)
    g.shapes[xc] = tuple(g.shape(x)[p] for p in perm)
    yc = g.fresh("channel_first")
    g.shapes[yc] = tuple(g.shape(y)[p] for p in perm)
    run(xc, yc)
    g.op("Transpose", [yc], y, perm=[int(i) for i in np.argsort(perm)])


def _weight_channel_first(g, weight, a):
    """A channel-last weight (O, *k, I) as (O, I, *k)."""
    if not a.get("channel_last"):
        return weight
    shape = g.shape(weight)
    perm = [0, len(shape) - 1] + list(range(1, len(shape) - 1))
    w = g.op("Transpose", [weight], perm=perm)
    g.shapes[w] = tuple(shape[p] for p in perm)
    return w


@exports("Convolution", "BinaryConnectConvolution")
def _convolution(g, x, y, a):
    weight = _weight_channel_first(g, x[1], a)
    if g.function.type == "BinaryConnectConvolution":
        weight, bias = _binarized(g, weight, a), x[3:]
    else:
        bias = x[2:]
    _channel_first(g, x[0], y[0], a, len(g.shape(weight)) - 2,
                   lambda xc, yc: conv_nodes(g, xc, weight, bias, yc, a))


def conv_nodes(g, x, weight, bias, y, a):
    """Conv of ``x`` with ``weight`` (channel-first, shape known to ``g``) and ``bias``."""
    w_shape = g.shape(weight)
    pads = [int(p) for p in a["pad"]]

    def run(inp, out):
        g.op("Conv", [inp, weight] + list(bias), out, pads=pads + pads,
             strides=[int(s) for s in a["stride"]], dilations=[int(d) for d in a["dilation"]],
             group=int(a["group"]), kernel_shape=list(w_shape[2:]))
    _spatial_io(g, x, y, int(a["base_axis"]), len(w_shape) - 2, run)


def _binarized(g, weight, a):
    """sign(weight) with 0 mapped to ``quantize_zero_to``, as the BinaryConnect layers use it."""
    zero = g.op("Equal", [weight, g.const(0.0)])
    binary = g.op("Where", [zero, g.const(float(a["quantize_zero_to"])), g.op("Sign", [weight])])
    g.shapes[binary] = g.shape(weight)
    return binary


@exports("BinaryConnectAffine")
def _binary_connect_affine(g, x, y, a):
    _affine(g, [x[0], _binarized(g, x[1], a)] + list(x[3:]), y, a)


@exports("DepthwiseConvolution")
def _depthwise_convolution(g, x, y, a):
    w_shape = g.shape(x[1])
    channels = g.shape(x[0])[int(a["base_axis"])]
    n_spatial = len(w_shape) - 1
    w = g.reshape(x[1], [w_shape[0], 1] + list(w_shape[1:]))
    pads = [int(p) for p in a["pad"]]

    def run(inp, out):
        g.op("Conv", [inp, w] + list(x[2:]), out, pads=pads + pads,
             strides=[int(s) for s in a["stride"]], dilations=[int(d) for d in a["dilation"]],
             group=int(channels), kernel_shape=list(w_shape[1:]))
    _spatial_io(g, x[0], y[0], int(a["base_axis"]), n_spatial, run)


@exports("Deconvolution")
def _deconvolution(g, x, y, a):
    weight = _weight_channel_first(g, x[1], a)
    n_spatial = len(g.shape(weight)) - 2
    pads = [int(p) for p in a["pad"]]
    out_pad = [int(p) for p in a.get("output_padding") or [0] * n_spatial]

    def run(inp, out):
        g.op("ConvTranspose", [inp, weight] + list(x[2:]), out, pads=pads + pads,
             strides=[int(s) for s in a["stride"]], dilations=[int(d) for d in a["dilation"]],
             group=int(a["group"]), kernel_shape=list(g.shape(weight)[2:]),
             output_padding=out_pad)
    _channel_first(g, x[0], y[0], a, n_spatial,
                   lambda xc, yc: _spatial_io(g, xc, yc, int(a["base_axis"]), n_spatial, run))


def _pool_attrs(g, x, y, a):
    kernel = [int(k) for k in a["kernel"]]
    stride = [int(s) for s in a["stride"]]
    pad = [int(p) for p in a["pad"]]
    return kernel, dict(kernel_shape=kernel, strides=stride, pads=pad + pad)


def _pool(onnx_op, scale_by_kernel=False):
    def convert(g, x, y, a):
        kernel, attrs = _pool_attrs(g, x, y, a)
        if onnx_op == "AveragePool":
            attrs["count_include_pad"] = int(a.get("including_pad", True))

        def run(inp, out):
            if not a["ignore_border"]:
                _pool_cut_at_border(g, onnx_op, scale_by_kernel, inp, out, kernel, a)
            elif scale_by_kernel:
                avg = g.op(onnx_op, [inp], **attrs)
                g.op("Mul", [avg, g.const(float(np.prod(kernel)))], out)
            else:
                g.op(onnx_op, [inp], out, **attrs)

        def channel_first(xc, yc):
            shape = g.shape(xc)
            if a["ignore_border"]:
                _check_pool_shape(g, shape, kernel, attrs, g.shape(yc))
            _spatial_io(g, xc, yc, len(shape) - len(kernel) - 1, len(kernel), run)
        _channel_first(g, x[0], y[0], a, len(kernel), channel_first)
    return convert


def _pool_cut_at_border(g, onnx_op, is_sum, inp, out, kernel, a):
    """NNabla's ``ignore_border=False`` pooling: windows start every stride from
    ``-pad`` while they start inside the input plus its leading pad, and are cut at
    the end of the padded input; written as an explicit pad (or crop), VALID
    pooling and, for averages, NNabla's divisor per position."""
    shape = g.shape(inp)
    n = len(kernel)
    stride = [int(s) for s in a["stride"]]
    pad = [int(p) for p in a["pad"]]
    lead = len(shape) - n
    begins, ends, counts = [0] * lead, [0] * lead, []
    for i, k, s, p in zip(shape[lead:], kernel, stride, pad):
        o = (i + p - 1) // s + 1
        begins.append(p)
        ends.append((o - 1) * s + k - p - i)
        start = np.arange(o) * s - p
        end = np.minimum(start + k, i + p)
        counts.append(end - start if a.get("including_pad", True) else
                      np.minimum(end, i) - np.maximum(start, 0))
    value = -np.inf if onnx_op == "MaxPool" else 0.0
    grown = [max(e, 0) for e in ends]
    padded = g.op("Pad", [inp, g.ints(begins + grown), g.const(value)], mode="constant")
    if any(e < 0 for e in ends):
        full = [s + b + e for s, b, e in zip(shape, begins, grown)]
        stop = [f + min(e, 0) for f, e in zip(full, ends)]
        padded = g.op("Slice", [padded, g.ints([0] * len(shape)), g.ints(stop)])
    attrs = dict(kernel_shape=kernel, strides=stride)
    if onnx_op == "MaxPool":
        g.op("MaxPool", [padded], out, **attrs)
        return
    total = g.op("Mul", [g.op("AveragePool", [padded], **attrs),
                         g.const(float(np.prod(kernel)))])
    if is_sum:
        g.op("Identity", [total], out)
        return
    divisor = np.ones([1] * len(shape), np.float32)
    for d, c in enumerate(counts):
        axis_shape = [1] * len(shape)
        axis_shape[lead + d] = c.size
        divisor = divisor * c.reshape(axis_shape).astype(np.float32)
    g.op("Div", [total, g.const(divisor)], out)


def _check_pool_shape(g, shape, kernel, attrs, out_shape):
    spatial = shape[len(shape) - len(kernel):]
    got = []
    for size, k, s, p in zip(spatial, kernel, attrs["strides"], attrs["pads"]):
        got.append(int(math.floor((size + 2 * p - k) / s)) + 1)
    if tuple(got) != tuple(out_shape[len(out_shape) - len(kernel):]):
        g.fail(f"ONNX pooling gives spatial shape {tuple(got)}, NNabla's is "
               f"{tuple(out_shape[len(out_shape) - len(kernel):])}")


EXPORTERS["MaxPooling"] = _pool("MaxPool")
EXPORTERS["AveragePooling"] = _pool("AveragePool")
EXPORTERS["SumPooling"] = _pool("AveragePool", scale_by_kernel=True)


@exports("GlobalAveragePooling")
def _global_average_pooling(g, x, y, a):
    g.op("GlobalAveragePool", x, y[0])


@exports("Unpooling")
def _unpooling(g, x, y, a):
    shape = g.shape(x[0])
    kernel = [float(k) for k in a["kernel"]]
    scales = [1.0] * (len(shape) - len(kernel)) + kernel
    if a.get("channel_last"):
        scales = scales[:len(shape) - len(kernel) - 1] + kernel + [1.0]
    g.op("Resize", [x[0], g.const([]), g.const(scales)], y[0], mode="nearest",
         coordinate_transformation_mode="asymmetric", nearest_mode="floor")


# --------------------------------------------------------------- normalization
def _normalize(g, x_name, axes, eps):
    mean = g.reduce("ReduceMean", x_name, axes, True)
    centered = g.op("Sub", [x_name, mean])
    var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, True)
    return g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [var, g.const(float(eps))])])])


def _scale_shift(g, value, beta, gamma, output):
    if gamma is not None:
        value = g.op("Mul", [value, gamma])
    if beta is not None:
        value = g.op("Add", [value, beta])
    g.op("Identity", [value], output)


def _bn_inputs(x, a):
    """(beta, gamma, mean, variance) names of a BatchNormalization (None where absent)."""
    rest = list(x[1:])
    beta = None if a.get("no_bias") else rest.pop(0)
    gamma = None if a.get("no_scale") else rest.pop(0)
    return beta, gamma, rest[0], rest[1]


@exports("BatchNormalization")
def _batch_normalization(g, x, y, a):
    _batch_norm(g, x, y[0], a)


def _batch_norm(g, x, out, a):
    shape = g.shape(x[0])
    axes = [int(i) % len(shape) for i in a["axes"]]
    beta, gamma, mean, var = _bn_inputs(x, a)
    reduce_axes = [i for i in range(len(shape)) if i not in axes]
    eps = float(a["eps"])
    if a["batch_stat"]:
        _scale_shift(g, _normalize(g, x[0], reduce_axes, eps), beta, gamma, out)
        return
    if axes == [1] and len(shape) >= 2:
        c = shape[1]
        params = [gamma or g.const(np.ones(c)), beta or g.const(np.zeros(c)), mean, var]
        params = [g.reshape(p, [c]) for p in params]
        g.op("BatchNormalization", [x[0]] + params, out, epsilon=eps)
        return
    std = g.op("Sqrt", [g.op("Add", [var, g.const(eps)])])
    _scale_shift(g, g.op("Div", [g.op("Sub", [x[0], mean]), std]), beta, gamma, out)


@exports("FusedBatchNormalization")
def _fused_batch_normalization(g, x, y, a):
    bn = g.fresh("bn")
    g.shapes[bn] = g.shape(x[0])
    _batch_norm(g, x[:5], bn, dict(a, no_bias=False, no_scale=False))
    if len(x) > 5:
        bn = g.op("Add", [bn, x[5]])
    if a["nonlinearity"] == "relu":
        g.op("Relu", [bn], y[0])
    else:
        g.op("Identity", [bn], y[0])


def _norm_params(x, a):
    rest = list(x[1:])
    beta = None if a.get("no_bias") else (rest.pop(0) if rest else None)
    gamma = None if a.get("no_scale") else (rest.pop(0) if rest else None)
    return beta, gamma


@exports("LayerNormalization")
def _layer_normalization(g, x, y, a):
    ndim = len(g.shape(x[0]))
    batch = {int(i) % ndim for i in a["batch_axis"]}
    axes = [i for i in range(ndim) if i not in batch]
    beta, gamma = _norm_params(x, a)
    _scale_shift(g, _normalize(g, x[0], axes, a["eps"]), beta, gamma, y[0])


@exports("InstanceNormalization")
def _instance_normalization(g, x, y, a):
    ndim = len(g.shape(x[0]))
    keep = {int(i) % ndim for i in a["batch_axis"]} | {int(a["channel_axis"]) % ndim}
    axes = [i for i in range(ndim) if i not in keep]
    beta, gamma = _norm_params(x, a)
    _scale_shift(g, _normalize(g, x[0], axes, a["eps"]), beta, gamma, y[0])


@exports("GroupNormalization")
def _group_normalization(g, x, y, a):
    shape = list(g.shape(x[0]))
    c_axis = int(a["channel_axis"]) % len(shape)
    groups = int(a["num_groups"])
    grouped = shape[:c_axis] + [groups, shape[c_axis] // groups] + shape[c_axis + 1:]
    batch = {int(i) % len(shape) for i in a["batch_axis"]}
    axes = [i for i in range(len(grouped)) if i not in batch and i != c_axis]
    normed = _normalize(g, g.reshape(x[0], grouped), axes, a["eps"])
    beta, gamma = _norm_params(x, a)
    _scale_shift(g, g.reshape(normed, shape), beta, gamma, y[0])
