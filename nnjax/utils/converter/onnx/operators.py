"""How each ONNX operator is read into NNabla functions, keyed by ONNX op type.

``OPERATORS[op](b, inputs, outputs, attrs)`` writes NNabla functions through
the :class:`~.importer.NnpBuilder` ``b``; ``FOLDABLE[op](b, values, attrs)``
computes an operator on constant inputs with numpy (shape arithmetic).
"""
import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["OPERATORS", "FOLDABLE"]

OPERATORS = {}
FOLDABLE = {}


def reads(*ops):
    def register(fn):
        for op in ops:
            OPERATORS[op] = fn
        return fn
    return register


def _one(type_name, **fixed):
    def convert(b, x, y, attrs):
        b.emit(type_name, [x[0]], fixed, outputs=y[:1])
    return convert


for _op, _t in [("Relu", "ReLU"), ("Sigmoid", "Sigmoid"), ("Tanh", "Tanh"), ("Abs", "Abs"),
                ("Exp", "Exp"), ("Log", "Log"), ("Identity", "Identity"), ("Ceil", "Ceil"),
                ("Floor", "Floor"), ("Sin", "Sin"), ("Cos", "Cos"), ("Tan", "Tan"),
                ("Sinh", "Sinh"), ("Cosh", "Cosh"), ("Asin", "ASin"), ("Acos", "ACos"),
                ("Atan", "ATan"), ("Asinh", "ASinh"), ("Acosh", "ACosh"), ("Atanh", "ATanh"),
                ("Erf", "Erf"), ("Softsign", "SoftSign"), ("IsNaN", "IsNaN"),
                ("IsInf", "IsInf"), ("Not", "LogicalNot"), ("Cast", "Identity"),
                ("Dropout", "Identity")]:
    OPERATORS[_op] = _one(_t)
OPERATORS["Neg"] = _one("MulScalar", val=-1.0)
OPERATORS["Sqrt"] = _one("PowScalar", val=0.5)
OPERATORS["Reciprocal"] = _one("RDivScalar", val=1.0)
OPERATORS["Sign"] = _one("Sign", alpha=0.0)
OPERATORS["Softplus"] = _one("SoftPlus", beta=1.0)


@reads("Elu")
def _elu(b, x, y, a):
    b.emit("ELU", x[:1], dict(alpha=float(a.get("alpha", 1.0))), y[:1])


@reads("Selu")
def _selu(b, x, y, a):
    b.emit("SELU", x[:1], dict(alpha=float(a.get("alpha", 1.67326319217681884765625)),
                               scale=float(a.get("gamma", 1.05070102214813232421875))), y[:1])


@reads("LeakyRelu")
def _leaky_relu(b, x, y, a):
    b.emit("LeakyReLU", x[:1], dict(alpha=float(a.get("alpha", 0.01))), y[:1])


@reads("HardSigmoid")
def _hard_sigmoid(b, x, y, a):
    alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    if np.float32(alpha) == np.float32(0.2) and np.float32(beta) == np.float32(0.5):
        b.emit("HardSigmoid", x[:1], {}, y[:1])
        return
    t = b.emit("AddScalar", [b.emit("MulScalar", x[:1], dict(val=alpha))], dict(val=beta))
    b.emit("MinimumScalar", [b.emit("MaximumScalar", [t], dict(val=0.0))], dict(val=1.0), y[:1])


@reads("PRelu")
def _prelu(b, x, y, a):
    shape = b.shape(x[0])
    slope = x[1]
    if b.is_const(slope):
        value = np.asarray(b.consts[slope], np.float32)
        if value.size == 1:
            slope = b.const_var(value.reshape(()))
        elif len(shape) > 1 and value.size == shape[1]:
            slope = b.const_var(value.reshape(-1))
        else:
            b.fail(f"slope of shape {value.shape} for input {shape}: NNabla's PReLU takes "
                   "one slope or one per channel")
    b.emit("PReLU", [x[0], slope], dict(base_axis=1), y[:1])


@reads("Clip")
def _clip(b, x, y, a):
    low = a.get("min")
    high = a.get("max")
    if len(x) > 1 and x[1]:
        low = float(b.value(x[1], "Clip's min"))
    if len(x) > 2 and x[2]:
        high = float(b.value(x[2], "Clip's max"))
    v = x[0]
    if low is not None:
        v = b.emit("MaximumScalar", [v], dict(val=float(low)), None if high is not None else y)
    if high is not None:
        b.emit("MinimumScalar", [v], dict(val=float(high)), y[:1])
    if low is None and high is None:
        b.emit("Identity", [v], {}, y[:1])


# --------------------------------------------------------------- binary (broadcasting)
def _aligned(b, name, ndim):
    """``name`` with leading axes of size 1 added up to ``ndim`` axes."""
    shape = b.shape(name)
    if len(shape) == ndim:
        return name
    target = (1,) * (ndim - len(shape)) + tuple(shape)
    if b.is_const(name):
        return b.const_var(np.reshape(b.consts[name], target))
    return b.emit("Reshape", [name], dict(shape=list(target)))


_SCALAR = {"Add2": ("AddScalar", False), "Mul2": ("MulScalar", False),
           "Sub2": ("AddScalar", "negate"), "Div2": ("MulScalar", "invert"),
           "Pow2": ("PowScalar", False), "Maximum2": ("MaximumScalar", False),
           "Minimum2": ("MinimumScalar", False)}
_REVERSED_SCALAR = {"Add2": "AddScalar", "Mul2": "MulScalar", "Sub2": "RSubScalar",
                    "Div2": "RDivScalar", "Pow2": "RPowScalar", "Maximum2": "MaximumScalar",
                    "Minimum2": "MinimumScalar"}


def _binary(b, type_name, lhs, rhs, outputs=None):
    for name, other, table in ((rhs, lhs, "right"), (lhs, rhs, "left")):
        if b.is_const(name) and np.size(b.consts[name]) == 1 and type_name in _SCALAR and \
                other in b.variables and len(b.shape(other)) >= len(np.shape(b.consts[name])):
            c = float(np.asarray(b.consts[name]).ravel()[0])
            if table == "right":
                scalar, how = _SCALAR[type_name]
                c = -c if how == "negate" else (1.0 / c if how == "invert" else c)
            else:
                scalar = _REVERSED_SCALAR[type_name]
            return b.emit(scalar, [other], dict(val=c), outputs)
    ndim = max(len(b.shape(lhs)), len(b.shape(rhs)))
    return b.emit(type_name, [_aligned(b, lhs, ndim), _aligned(b, rhs, ndim)], {}, outputs)


def _binary_op(type_name):
    def convert(b, x, y, a):
        _binary(b, type_name, x[0], x[1], y[:1])
    return convert


for _op, _t in [("Add", "Add2"), ("Sub", "Sub2"), ("Mul", "Mul2"), ("Div", "Div2"),
                ("Pow", "Pow2"), ("Equal", "Equal"), ("Greater", "Greater"),
                ("Less", "Less"), ("GreaterOrEqual", "GreaterEqual"),
                ("LessOrEqual", "LessEqual"), ("And", "LogicalAnd"), ("Or", "LogicalOr"),
                ("Xor", "LogicalXor")]:
    OPERATORS[_op] = _binary_op(_t)


def _variadic(type_name):
    def convert(b, x, y, a):
        acc = x[0]
        if len(x) == 1:
            b.emit("Identity", [acc], {}, y[:1])
        for i, v in enumerate(x[1:]):
            acc = _binary(b, type_name, acc, v, y[:1] if i == len(x) - 2 else None)
    return convert


OPERATORS["Max"] = _variadic("Maximum2")
OPERATORS["Min"] = _variadic("Minimum2")
OPERATORS["Sum"] = _variadic("Add2")


@reads("Mean")
def _mean(b, x, y, a):
    acc = x[0]
    for v in x[1:]:
        acc = _binary(b, "Add2", acc, v)
    b.emit("MulScalar", [acc], dict(val=1.0 / len(x)), y[:1])


@reads("Where")
def _where(b, x, y, a):
    ndim = max(len(b.shape(n)) for n in x)
    shape = np.broadcast_shapes(*[b.shape(n) for n in x])
    parts = []
    for n in x:
        n = _aligned(b, n, ndim)
        if tuple(b.shape(n)) != tuple(shape):
            n = b.emit("Broadcast", [n], dict(shape=list(shape)))
        parts.append(n)
    b.emit("Where", parts, {}, y[:1])


# --------------------------------------------------------------- matrix products
def _affine_from_const(b, x, weight, bias, y):
    ndim = len(b.shape(x))
    w = b.const_var(weight)
    inputs = [x, w] + ([b.const_var(np.reshape(bias, weight.shape[1:]))] if bias is not None
                       else [])
    return b.emit("Affine", inputs, dict(base_axis=ndim - 1), y)


@reads("MatMul")
def _matmul(b, x, y, a):
    sa, sb = b.shape(x[0]), b.shape(x[1])
    if b.is_const(x[1]) and len(sb) == 2 and x[0] in b.variables:
        _affine_from_const(b, x[0], np.asarray(b.consts[x[1]], np.float32), None, y[:1])
        return
    ndim = max(len(sa), len(sb), 3)
    lhs, rhs = _aligned(b, x[0], ndim), _aligned(b, x[1], ndim)
    out_shape = np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    if len(out_shape) == ndim:
        b.emit("BatchMatmul", [lhs, rhs], dict(transpose_a=False, transpose_b=False), y[:1])
        return
    r = b.emit("BatchMatmul", [lhs, rhs], dict(transpose_a=False, transpose_b=False))
    b.emit("Reshape", [r], dict(shape=list(out_shape)), y[:1])


@reads("Gemm")
def _gemm(b, x, y, a):
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    lhs = x[0]
    if a.get("transA", 0):
        lhs = b.emit("Transpose", [lhs], dict(axes=[1, 0]))
    if b.is_const(x[1]) and (len(x) < 3 or not x[2] or b.is_const(x[2])):
        w = np.asarray(b.consts[x[1]], np.float32)
        w = (w.T if a.get("transB", 0) else w) * alpha
        bias = None
        if len(x) > 2 and x[2]:
            bias = np.broadcast_to(np.asarray(b.consts[x[2]], np.float32) * beta,
                                   (w.shape[1],))
        _affine_from_const(b, lhs, w, bias, y[:1])
        return
    prod = b.emit("BatchMatmul", [_aligned(b, lhs, 3), _aligned(b, x[1], 3)],
                  dict(transpose_a=False, transpose_b=bool(a.get("transB", 0))))
    prod = b.emit("Reshape", [prod], dict(shape=list(b.shape(prod)[1:])))
    if alpha != 1.0:
        prod = b.emit("MulScalar", [prod], dict(val=alpha))
    if len(x) > 2 and x[2]:
        bias = x[2]
        if beta != 1.0:
            bias = b.emit("MulScalar", [bias], dict(val=beta))
        _binary(b, "Add2", prod, bias, y[:1])
    else:
        b.emit("Identity", [prod], {}, y[:1])


# --------------------------------------------------------------- convolution and pooling
def _pads(b, a, n, what):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        b.fail(f"auto_pad={a['auto_pad']!r} is not read (give explicit pads)")
    pads = list(a.get("pads", [0] * (2 * n)))
    return pads[:n], pads[n:]


def _symmetric_input(b, x, begins, ends, value=0.0):
    """(input, pads): asymmetric pads become a Pad function before the layer."""
    if begins == ends:
        return x, begins
    width = []
    for p, q in zip(begins, ends):
        width += [p, q]
    return b.emit("Pad", [x], dict(pad_width=width, mode="constant",
                                   constant_value=value)), [0] * len(begins)


@reads("Conv")
def _conv(b, x, y, a):
    n = len(b.shape(x[1])) - 2
    begins, ends = _pads(b, a, n, "Conv")
    inp, pad = _symmetric_input(b, x[0], begins, ends)
    b.emit("Convolution", [inp] + [i for i in x[1:] if i],
           dict(base_axis=1, pad=pad, stride=list(a.get("strides", [1] * n)),
                dilation=list(a.get("dilations", [1] * n)), group=int(a.get("group", 1)),
                channel_last=False), y[:1])


@reads("ConvTranspose")
def _conv_transpose(b, x, y, a):
    n = len(b.shape(x[1])) - 2
    begins, ends = _pads(b, a, n, "ConvTranspose")
    if begins != ends:
        b.fail(f"asymmetric pads {begins + ends} are not read")
    if "output_shape" in a:
        b.fail("output_shape is not read (give pads and output_padding)")
    b.emit("Deconvolution", [i for i in x if i],
           dict(base_axis=1, pad=begins, stride=list(a.get("strides", [1] * n)),
                dilation=list(a.get("dilations", [1] * n)), group=int(a.get("group", 1)),
                channel_last=False, output_padding=list(a.get("output_padding", [0] * n))),
           y[:1])


def _pool(type_name):
    def convert(b, x, y, a):
        kernel = list(a["kernel_shape"])
        n = len(kernel)
        begins, ends = _pads(b, a, n, type_name)
        strides = list(a.get("strides", [1] * n))
        ceil = bool(a.get("ceil_mode", 0))
        if list(a.get("dilations", [1] * n)) != [1] * n:
            b.fail("dilated pooling is not read")
        value = -np.inf if type_name == "MaxPooling" else 0.0
        inp, pad = x[0], begins
        if begins != ends:
            if type_name == "AveragePooling" and not a.get("count_include_pad", 0):
                b.fail("asymmetric pads with count_include_pad=0 are not read")
            inp, pad = _symmetric_input(b, x[0], begins, ends, float(value))
        args = dict(kernel=kernel, stride=strides, ignore_border=not ceil, pad=pad,
                    channel_last=False)
        if type_name == "AveragePooling":
            args["including_pad"] = bool(a.get("count_include_pad", 0))
        out = b.emit(type_name, [inp], args, y[:1])
        spatial = b.shape(inp)[-n:]
        rounding = np.ceil if ceil else np.floor
        want = [int(rounding((s + 2 * p - k) / st)) + 1
                for s, p, k, st in zip(spatial, pad, kernel, strides)]
        if list(b.shape(out)[-n:]) != want:
            b.fail(f"NNabla's pooling gives spatial shape {b.shape(out)[-n:]}, ONNX's is "
                   f"{tuple(want)} (ceil_mode)")
    return convert


OPERATORS["MaxPool"] = _pool("MaxPooling")
OPERATORS["AveragePool"] = _pool("AveragePooling")


@reads("GlobalAveragePool")
def _global_average_pool(b, x, y, a):
    b.emit("GlobalAveragePooling", x[:1], {}, y[:1])


@reads("GlobalMaxPool")
def _global_max_pool(b, x, y, a):
    ndim = len(b.shape(x[0]))
    b.emit("Max", x[:1], dict(axes=list(range(2, ndim)), keep_dims=True), y[:1])


# --------------------------------------------------------------- normalization
def _channel_param(b, name, ndim, what):
    value = np.asarray(b.value(name, what), np.float32)
    return b.const_var(value.reshape((1, -1) + (1,) * (ndim - 2)))


@reads("BatchNormalization")
def _batch_norm(b, x, y, a):
    ndim = len(b.shape(x[0]))
    scale, bias, mean, var = [_channel_param(b, n, ndim, w) for n, w in
                              zip(x[1:5], ("scale", "bias", "mean", "var"))]
    b.emit("BatchNormalization", [x[0], bias, scale, mean, var],
           dict(axes=[1], decay_rate=float(a.get("momentum", 0.9)),
                eps=float(a.get("epsilon", 1e-5)), batch_stat=False,
                no_scale=False, no_bias=False), y[:1])


@reads("InstanceNormalization")
def _instance_norm(b, x, y, a):
    ndim = len(b.shape(x[0]))
    scale = _channel_param(b, x[1], ndim, "scale")
    bias = _channel_param(b, x[2], ndim, "bias")
    b.emit("InstanceNormalization", [x[0], bias, scale],
           dict(channel_axis=1, batch_axis=[0], eps=float(a.get("epsilon", 1e-5)),
                no_scale=False, no_bias=False), y[:1])


# --------------------------------------------------------------- softmax and reductions
def _softmax(type_name):
    def convert(b, x, y, a):
        shape = b.shape(x[0])
        axis = int(a.get("axis", -1 if b.opset >= 13 else 1)) % len(shape)
        if b.opset >= 13 or axis == len(shape) - 1:
            b.emit(type_name, x[:1], dict(axis=axis), y[:1])
            return
        flat = b.emit("Reshape", x[:1], dict(shape=[int(np.prod(shape[:axis])), -1]))
        s = b.emit(type_name, [flat], dict(axis=1))
        b.emit("Reshape", [s], dict(shape=list(shape)), y[:1])
    return convert


OPERATORS["Softmax"] = _softmax("Softmax")
OPERATORS["LogSoftmax"] = _softmax("LogSoftmax")


def _reduce_axes(b, x, a):
    ndim = len(b.shape(x[0]))
    if len(x) > 1 and x[1]:
        axes = [int(i) for i in np.ravel(b.value(x[1], "axes"))]
    else:
        axes = a.get("axes")
    if axes is None or len(axes) == 0:
        if a.get("noop_with_empty_axes", 0):
            return None
        axes = list(range(ndim))
    return sorted(int(i) % ndim for i in axes)


def _reduce(type_name, **extra):
    def convert(b, x, y, a):
        axes = _reduce_axes(b, x, a)
        if axes is None:
            b.emit("Identity", x[:1], {}, y[:1])
            return
        b.emit(type_name, x[:1], dict(axes=axes, keep_dims=bool(a.get("keepdims", 1)),
                                      **extra), y[:1])
    return convert


OPERATORS["ReduceSum"] = _reduce("Sum")
OPERATORS["ReduceMean"] = _reduce("Mean")
OPERATORS["ReduceMax"] = _reduce("Max", with_index=False, only_index=False)
OPERATORS["ReduceMin"] = _reduce("Min", with_index=False, only_index=False)
OPERATORS["ReduceProd"] = _reduce("Prod")
OPERATORS["ReduceL1"] = _reduce("Norm", p=1.0)
OPERATORS["ReduceL2"] = _reduce("Norm", p=2.0)


@reads("CumSum")
def _cumsum(b, x, y, a):
    axis = int(np.ravel(b.value(x[1], "axis"))[0])
    b.emit("CumSum", x[:1], dict(axis=axis, exclusive=bool(a.get("exclusive", 0)),
                                 reverse=bool(a.get("reverse", 0))), y[:1])


# --------------------------------------------------------------- shapes and arrays
def _reshape_target(shape, target, allowzero=False):
    target = [int(t) for t in np.ravel(target)]
    out = [shape[i] if t == 0 and not allowzero else t for i, t in enumerate(target)]
    if -1 in out:
        known = int(np.prod([t for t in out if t != -1]))
        out[out.index(-1)] = int(np.prod(shape)) // max(known, 1)
    return out


@reads("Reshape")
def _reshape(b, x, y, a):
    target = _reshape_target(b.shape(x[0]), b.value(x[1], "shape"), a.get("allowzero", 0))
    b.emit("Reshape", x[:1], dict(shape=target), y[:1])


@reads("Flatten")
def _flatten(b, x, y, a):
    shape = b.shape(x[0])
    axis = int(a.get("axis", 1)) % (len(shape) + 1) if shape else 0
    b.emit("Reshape", x[:1], dict(shape=[int(np.prod(shape[:axis])),
                                         int(np.prod(shape[axis:]))]), y[:1])


def _squeeze_shape(b, x, a, unsqueeze):
    shape = list(b.shape(x[0]))
    axes = np.ravel(b.value(x[1], "axes")) if len(x) > 1 and x[1] else a.get("axes")
    if unsqueeze:
        ndim = len(shape) + len(axes)
        for ax in sorted(int(i) % ndim for i in axes):
            shape.insert(ax, 1)
        return shape
    if axes is None:
        return [s for s in shape if s != 1]
    drop = {int(i) % len(shape) for i in axes}
    return [s for i, s in enumerate(shape) if i not in drop]


@reads("Squeeze")
def _squeeze(b, x, y, a):
    b.emit("Reshape", x[:1], dict(shape=_squeeze_shape(b, x, a, False)), y[:1])


@reads("Unsqueeze")
def _unsqueeze(b, x, y, a):
    b.emit("Reshape", x[:1], dict(shape=_squeeze_shape(b, x, a, True)), y[:1])


@reads("Transpose")
def _transpose(b, x, y, a):
    ndim = len(b.shape(x[0]))
    perm = a.get("perm", list(reversed(range(ndim))))
    b.emit("Transpose", x[:1], dict(axes=[int(p) for p in perm]), y[:1])


@reads("Concat")
def _concat(b, x, y, a):
    ndim = len(b.shape(x[0]))
    b.emit("Concatenate", [i for i in x if i], dict(axis=int(a["axis"]) % ndim), y[:1])


def _python_slice(start, stop, step, dim):
    start, stop, step = slice(int(start), int(stop), int(step)).indices(dim)
    if step < 0 and stop < 0:
        stop = -(dim + 1)      # "before index 0" as NNabla's integer stop can say it
    return start, stop, step


@reads("Slice")
def _slice(b, x, y, a):
    shape = b.shape(x[0])
    if len(x) > 1:
        starts = np.ravel(b.value(x[1], "starts"))
        ends = np.ravel(b.value(x[2], "ends"))
        axes = np.ravel(b.value(x[3], "axes")) if len(x) > 3 and x[3] else range(len(starts))
        steps = np.ravel(b.value(x[4], "steps")) if len(x) > 4 and x[4] else [1] * len(starts)
    else:
        starts, ends = a["starts"], a["ends"]
        axes, steps = a.get("axes", range(len(starts))), [1] * len(starts)
    start = [0] * len(shape)
    stop = list(shape)
    step = [1] * len(shape)
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = int(ax) % len(shape)
        e = min(max(int(e), -2 ** 62), 2 ** 62)
        start[ax], stop[ax], step[ax] = _python_slice(s, e, st, shape[ax])
    b.emit("Slice", x[:1], dict(start=start, stop=stop, step=step), y[:1])


@reads("Split")
def _split(b, x, y, a):
    shape = b.shape(x[0])
    axis = int(a.get("axis", 0)) % len(shape)
    if len(x) > 1 and x[1]:
        sizes = [int(s) for s in np.ravel(b.value(x[1], "split"))]
    elif "split" in a:
        sizes = [int(s) for s in a["split"]]
    else:
        sizes = [shape[axis] // len(y)] * len(y)
    offset = 0
    for size, out in zip(sizes, y):
        start, stop = [0] * len(shape), list(shape)
        start[axis], stop[axis] = offset, offset + size
        b.emit("Slice", x[:1], dict(start=start, stop=stop, step=[1] * len(shape)), [out])
        offset += size


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "repeat"}


@reads("Pad")
def _pad(b, x, y, a):
    ndim = len(b.shape(x[0]))
    pads = np.ravel(b.value(x[1], "pads")) if len(x) > 1 else a["pads"]
    value = float(np.ravel(b.value(x[2], "constant_value"))[0]) if len(x) > 2 and x[2] \
        else float(a.get("value", 0.0))
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in _PAD_MODES:
        b.fail(f"pad mode {mode!r} is not read")
    width = []
    for i in range(ndim):
        width += [int(pads[i]), int(pads[i + ndim])]
    b.emit("Pad", x[:1], dict(pad_width=width, mode=_PAD_MODES[mode], constant_value=value),
           y[:1])


@reads("Expand")
def _expand(b, x, y, a):
    target = [int(s) for s in np.ravel(b.value(x[1], "shape"))]
    shape = np.broadcast_shapes(b.shape(x[0]), tuple(target))
    src = _aligned(b, x[0], len(shape))
    b.emit("Broadcast", [src], dict(shape=list(shape)), y[:1])


@reads("Tile")
def _tile(b, x, y, a):
    b.emit("Tile", x[:1], dict(reps=[int(r) for r in np.ravel(b.value(x[1], "repeats"))]), y[:1])


@reads("Gather")
def _gather(b, x, y, a):
    shape = b.shape(x[0])
    axis = int(a.get("axis", 0)) % len(shape)
    if b.is_const(x[1]):
        idx = np.asarray(b.consts[x[1]]).astype(np.int64)
        idx = np.where(idx < 0, idx + shape[axis], idx)
        if idx.ndim == 0:
            start, stop = [0] * len(shape), list(shape)
            start[axis], stop[axis] = int(idx), int(idx) + 1
            s = b.emit("Slice", [x[0]], dict(start=start, stop=stop, step=[1] * len(shape)))
            b.emit("Reshape", [s], dict(shape=[d for i, d in enumerate(shape) if i != axis]),
                   y[:1])
            return
        indices = b.const_var(idx.astype(np.float32))
    else:
        indices = x[1]
    if axis == 0 and b.is_const(x[0]):
        b.emit("Embed", [indices, x[0]], {}, y[:1])
        return
    b.emit("Gather", [x[0], indices], dict(axis=axis, batch_dims=0), y[:1])


@reads("GatherND")
def _gather_nd(b, x, y, a):
    if int(a.get("batch_dims", 0)):
        b.fail("batch_dims is not read")
    n = len(b.shape(x[1]))
    if b.is_const(x[1]):
        idx = b.const_var(np.moveaxis(np.asarray(b.consts[x[1]]), -1, 0).astype(np.float32))
    else:
        idx = b.emit("Transpose", [x[1]], dict(axes=[n - 1] + list(range(n - 1))))
    b.emit("GatherNd", [x[0], idx], {}, y[:1])


@reads("GatherElements")
def _gather_elements(b, x, y, a):
    """x[..., idx[..., j], ...] along ``axis``: one-hot of the indices times x, summed."""
    xs, ids = b.shape(x[0]), b.shape(x[1])
    n = len(xs)
    axis = int(a.get("axis", 0)) % n
    if any(p != q for i, (p, q) in enumerate(zip(xs, ids)) if i != axis):
        b.fail(f"indices {ids} must match data {xs} outside axis {axis}")
    last = list(range(n))
    last.remove(axis)
    last.append(axis)
    src = b.emit("Transpose", x[:1], dict(axes=last)) if axis != n - 1 else x[0]
    idx = x[1]
    if b.is_const(idx):
        idx = b.const_var(np.asarray(b.consts[idx], np.float32))
    idx = b.emit("Transpose", [idx], dict(axes=last)) if axis != n - 1 else idx
    moved = b.shape(idx)
    hot = b.emit("OneHot", [b.emit("Reshape", [idx], dict(shape=list(moved) + [1]))],
                 dict(shape=[xs[axis]]))
    rows = b.emit("Reshape", [src], dict(shape=list(b.shape(src)[:-1]) + [1, xs[axis]]))
    picked = b.emit("Sum", [b.emit("Mul2", [hot, rows])], dict(axes=[n], keep_dims=False))
    if axis == n - 1:
        b.emit("Identity", [picked], {}, y[:1])
    else:
        b.emit("Transpose", [picked], dict(axes=[int(i) for i in np.argsort(last)]), y[:1])


def _text(value, default):
    value = default if value is None else value
    return value.decode() if isinstance(value, bytes) else value


_COORDS = {"asymmetric": dict(align_corners=False, half_pixel=False),
           "align_corners": dict(align_corners=True, half_pixel=False),
           "half_pixel": dict(align_corners=False, half_pixel=True),
           "pytorch_half_pixel": dict(align_corners=False, half_pixel=True),
           "tf_half_pixel_for_nn": dict(align_corners=False, half_pixel=False,
                                        half_pixel_for_nn=True)}


def _unpooling_kernel(factors):
    """NNabla Unpooling's kernel repeating each axis by ``factors``: the axes from the
    first repeated one on (a factor of 1 leaves an axis as it is)."""
    moved = [i for i, f in enumerate(factors) if f != 1]
    return factors[moved[0] if moved else len(factors) - 1:]


@reads("Resize", "Upsample")
def _resize(b, x, y, a):
    mode = _text(a.get("mode"), "nearest")
    shape = b.shape(x[0])
    sizes = None
    for i in range(1, len(x)):
        if not x[i] or not b.is_const(x[i]) or np.size(b.consts[x[i]]) != len(shape):
            continue
        value = np.ravel(b.consts[x[i]]).astype(np.float64)
        is_sizes = i == 3 or np.asarray(b.consts[x[i]]).dtype.kind in "iu"
        sizes = [int(v) for v in value] if is_sizes else \
            [int(np.floor(s * f)) for s, f in zip(shape, value)]
    if sizes is None:
        b.fail("only resizing to a constant size is read")
    coords = _text(a.get("coordinate_transformation_mode"),
                   "asymmetric" if b.node.op_type == "Upsample" else "half_pixel")
    nearest = _text(a.get("nearest_mode"), "round_prefer_floor")
    factors = [o / i for o, i in zip(sizes, shape)]
    if mode == "nearest" and (coords == "asymmetric" and nearest == "floor" or
                              b.node.op_type == "Upsample") and \
            all(f == int(f) and f >= 1 for f in factors):
        b.emit("Unpooling", x[:1], dict(kernel=_unpooling_kernel([int(f) for f in factors]),
                                        channel_last=False), y[:1])
        return
    if list(sizes[:2]) != list(shape[:2]):
        b.fail("only resizing of the spatial axes (after batch and channel) is read")
    if mode not in ("linear", "nearest") or coords not in _COORDS or \
            mode == "nearest" and nearest != "floor":
        b.fail(f"mode={mode!r}, coordinate_transformation_mode={coords!r}, "
               f"nearest_mode={nearest!r} is not read")
    args = dict(output_size=list(sizes[2:]), mode=mode, align_corners=False, half_pixel=False,
                half_pixel_for_nn=False, channel_last=False)
    args.update(_COORDS[coords])
    b.emit("Interpolate", x[:1], args, y[:1])


# --------------------------------------------------------------- constant folding
def _fold(op):
    def register(fn):
        FOLDABLE[op] = fn
        return fn
    return register


@_fold("Constant")
def _f_constant(b, v, a):
    if "value" in a:
        return [numpy_helper.to_array(a["value"])]
    for key in ("value_float", "value_int"):
        if key in a:
            return [np.asarray(a[key])]
    for key in ("value_floats", "value_ints"):
        if key in a:
            return [np.asarray(a[key])]
    b.fail("this Constant's value kind is not read")


@_fold("ConstantOfShape")
def _f_constant_of_shape(b, v, a):
    fill = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
    return [np.full([int(s) for s in v[0]], fill.ravel()[0], fill.dtype)]


@_fold("Shape")
def _f_shape(b, v, a):
    return [np.asarray(np.shape(v[0]), np.int64)]


_NUMPY_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal,
                 "Less": np.less, "Greater": np.greater, "Pow": np.power}
for _op, _f in _NUMPY_BINARY.items():
    FOLDABLE[_op] = (lambda f: lambda b, v, a: [f(v[0], v[1])])(_f)
FOLDABLE["Div"] = lambda b, v, a: [np.floor_divide(v[0], v[1]) if np.asarray(v[0]).dtype.kind
                                   in "iu" else np.divide(v[0], v[1])]
FOLDABLE["Identity"] = lambda b, v, a: [v[0]]
FOLDABLE["Neg"] = lambda b, v, a: [np.negative(v[0])]
FOLDABLE["Sqrt"] = lambda b, v, a: [np.sqrt(v[0])]
FOLDABLE["Floor"] = lambda b, v, a: [np.floor(v[0])]
FOLDABLE["Ceil"] = lambda b, v, a: [np.ceil(v[0])]
FOLDABLE["Cast"] = lambda b, v, a: [np.asarray(v[0]).astype(
    onnx.helper.tensor_dtype_to_np_dtype(a["to"]))]
FOLDABLE["Concat"] = lambda b, v, a: [np.concatenate([np.atleast_1d(x) for x in v if x is not None],
                                                     axis=int(a["axis"]))]
FOLDABLE["Reshape"] = lambda b, v, a: [np.reshape(v[0], _reshape_target(
    np.shape(v[0]), v[1], a.get("allowzero", 0)))]
FOLDABLE["Range"] = lambda b, v, a: [np.arange(v[0], v[1], v[2])]
FOLDABLE["Where"] = lambda b, v, a: [np.where(v[0], v[1], v[2])]


@_fold("Gather")
def _f_gather(b, v, a):
    return [np.take(v[0], np.asarray(v[1]).astype(np.int64), axis=int(a.get("axis", 0)))]


@_fold("Unsqueeze")
def _f_unsqueeze(b, v, a):
    axes = v[1] if len(v) > 1 and v[1] is not None else a["axes"]
    out = np.asarray(v[0])
    ndim = out.ndim + len(np.ravel(axes))
    for ax in sorted(int(i) % ndim for i in np.ravel(axes)):
        out = np.expand_dims(out, ax)
    return [out]


@_fold("Squeeze")
def _f_squeeze(b, v, a):
    axes = v[1] if len(v) > 1 and v[1] is not None else a.get("axes")
    if axes is None:
        return [np.squeeze(v[0])]
    return [np.squeeze(v[0], axis=tuple(int(i) for i in np.ravel(axes)))]


@_fold("Slice")
def _f_slice(b, v, a):
    x = np.asarray(v[0])
    if len(v) > 1:
        starts, ends = np.ravel(v[1]), np.ravel(v[2])
        axes = np.ravel(v[3]) if len(v) > 3 and v[3] is not None else range(len(starts))
        steps = np.ravel(v[4]) if len(v) > 4 and v[4] is not None else [1] * len(starts)
    else:
        starts, ends = a["starts"], a["ends"]
        axes, steps = a.get("axes", range(len(starts))), [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[int(ax)] = slice(int(s), int(min(max(int(e), -2 ** 62), 2 ** 62)), int(st))
    return [x[tuple(index)]]


# --------------------------------------------------------------- recurrent layers
_NNABLA_GATES = {"RNN": [0], "LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2]}   # ONNX -> NNabla order


def _recurrent(type_name):
    def convert(b, x, y, a):
        if len(x) > 4 and x[4]:
            b.fail("sequence_lens is not read")
        direction = a.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else direction
        if direction == "reverse":
            b.fail("direction='reverse' is not read")
        acts = [v.decode() if isinstance(v, bytes) else v for v in a.get("activations", [])]
        args = dict(num_layers=1, dropout=0.0, bidirectional=direction == "bidirectional",
                    training=False)
        if type_name == "RNN":
            if acts and set(acts) - {"Tanh", "Relu"} or len(set(acts)) > 1:
                b.fail(f"activations {acts} are not read")
            args["nonlinearity"] = "relu" if acts and acts[0] == "Relu" else "tanh"
        elif acts:
            b.fail(f"activations {acts} are not read")
        if type_name == "GRU" and not a.get("linear_before_reset", 0):
            b.fail("linear_before_reset=0 is not read (NNabla's GRU resets after the product)")
        if a.get("clip") is not None or a.get("input_forget", 0) or a.get("layout", 0):
            b.fail("clip, input_forget and layout=1 are not read")
        W = np.asarray(b.value(x[1], "W"), np.float32)
        R = np.asarray(b.value(x[2], "R"), np.float32)
        d, gh, n_in = W.shape
        hidden = int(a["hidden_size"])
        gates = gh // hidden
        order = _NNABLA_GATES[type_name]
        Wg = W.reshape(d, gates, hidden, n_in)[:, order]
        Rg = R.reshape(d, gates, hidden, hidden)[:, order]
        weight = np.concatenate([Wg, Rg], axis=-1)
        if type_name == "RNN":
            weight = weight[:, 0]
        if len(x) > 3 and x[3]:
            B = np.asarray(b.value(x[3], "B"), np.float32).reshape(d, 2, gates, hidden)
            wb, rb = B[:, 0][:, order], B[:, 1][:, order]
            if type_name == "GRU":
                bias = np.concatenate([wb[:, :2] + rb[:, :2], wb[:, 2:], rb[:, 2:]], axis=1)
            else:
                bias = wb + rb
            bias = bias[None, :, 0] if type_name == "RNN" else bias[None]
        else:
            bias = None
        seq, batch = b.shape(x[0])[:2]
        states = []
        for k in range(2 if type_name == "LSTM" else 1):
            i = 5 + k
            if len(x) > i and x[i]:
                states.append(b.emit("Reshape", [x[i]], dict(shape=[1, d, batch, hidden])))
            else:
                states.append(b.const_var(np.zeros((1, d, batch, hidden), np.float32)))
        inputs = [x[0]] + states + [b.const_var(weight)]
        if bias is not None:
            inputs.append(b.const_var(bias))
        outs = b.emit(type_name, inputs, args, n_outputs=1 + len(states))
        if y and y[0]:
            seq_out = b.emit("Reshape", [outs[0]], dict(shape=[seq, batch, d, hidden]))
            b.emit("Transpose", [seq_out], dict(axes=[0, 2, 1, 3]), y[:1])
        for k in range(len(states)):
            if len(y) > 1 + k and y[1 + k]:
                b.emit("Reshape", [outs[1 + k]], dict(shape=[d, batch, hidden]), [y[1 + k]])
    return convert


for _op in ("RNN", "LSTM", "GRU"):
    OPERATORS[_op] = _recurrent(_op)


@reads("OneHot")
def _one_hot(b, x, y, a):
    depth = int(np.ravel(b.value(x[1], "depth"))[0])
    off, on = [float(v) for v in np.ravel(b.value(x[2], "values"))]
    shape = b.shape(x[0])
    axis = int(a.get("axis", -1)) % (len(shape) + 1)
    if axis != len(shape):
        b.fail(f"axis={a.get('axis')} is not read (only the last axis)")
    idx = b.emit("Reshape", x[:1], dict(shape=list(shape) + [1]))
    hot = b.emit("OneHot", [idx], dict(shape=[depth]), None if (off, on) != (0.0, 1.0) else y[:1])
    if (off, on) != (0.0, 1.0):
        scaled = b.emit("MulScalar", [hot], dict(val=on - off))
        b.emit("AddScalar", [scaled], dict(val=off), y[:1])


@reads("Einsum")
def _einsum(b, x, y, a):
    equation = a["equation"]
    b.emit("Einsum", x, dict(equation=equation.decode() if isinstance(equation, bytes)
                             else equation), y[:1])


@reads("Mod")
def _mod(b, x, y, a):
    if not a.get("fmod", 0):
        b.fail("integer Mod (fmod=0) is not read; NNabla's tensors are float")
    ndim = max(len(b.shape(x[0])), len(b.shape(x[1])))
    b.emit("Mod2", [_aligned(b, x[0], ndim), _aligned(b, x[1], ndim)], dict(fmod=True), y[:1])


@reads("TopK")
def _top_k(b, x, y, a):
    shape = b.shape(x[0])
    axis = int(a.get("axis", -1)) % len(shape)
    k = int(np.ravel(b.value(x[1], "K"))[0])
    values, index = b.emit("Sort", x[:1], dict(axis=axis, reverse=bool(a.get("largest", 1)),
                                                with_index=True, only_index=False),
                           n_outputs=2)
    stop = list(shape)
    stop[axis] = k
    for src, out in zip((values, index), y):
        if out:
            b.emit("Slice", [src], dict(start=[0] * len(shape), stop=stop,
                                        step=[1] * len(shape)), [out])


# --------------------------------------------------------------- more of NNabla's importer list
def _arg_extreme(type_name):
    def convert(b, x, y, a):
        ndim = len(b.shape(x[0]))
        axis = int(a.get("axis", 0)) % ndim
        if a.get("select_last_index", 0):
            b.fail("select_last_index=1 is not read")
        b.emit(type_name, x[:1], dict(axes=[axis], keep_dims=bool(a.get("keepdims", 1)),
                                      with_index=False, only_index=True), y[:1])
    return convert


OPERATORS["ArgMax"] = _arg_extreme("Max")
OPERATORS["ArgMin"] = _arg_extreme("Min")


@reads("ReduceSumSquare")
def _reduce_sum_square(b, x, y, a):
    axes = _reduce_axes(b, x, a)
    sq = b.emit("Mul2", [x[0], x[0]])
    b.emit("Sum", [sq], dict(axes=axes, keep_dims=bool(a.get("keepdims", 1))), y[:1])


@reads("ReduceLogSum")
def _reduce_log_sum(b, x, y, a):
    axes = _reduce_axes(b, x, a)
    s = b.emit("Sum", x[:1], dict(axes=axes, keep_dims=bool(a.get("keepdims", 1))))
    b.emit("Log", [s], {}, y[:1])


@reads("ReduceLogSumExp")
def _reduce_log_sum_exp(b, x, y, a):
    axes = _reduce_axes(b, x, a)
    keep = bool(a.get("keepdims", 1))
    top = b.emit("Max", x[:1], dict(axes=axes, keep_dims=True, with_index=False,
                                    only_index=False))
    e = b.emit("Exp", [b.emit("Sub2", [x[0], top])])
    s = b.emit("Log", [b.emit("Sum", [e], dict(axes=axes, keep_dims=True))])
    total = b.emit("Add2", [s, top])
    shape = [d for i, d in enumerate(b.shape(total)) if keep or i not in axes]
    b.emit("Reshape", [total], dict(shape=shape), y[:1])


@reads("LpNormalization")
def _lp_normalization(b, x, y, a):
    ndim = len(b.shape(x[0]))
    b.emit("NormNormalization", x[:1], dict(p=float(a.get("p", 2)),
                                            axes=[int(a.get("axis", -1)) % ndim], eps=0.0),
           y[:1])


@reads("GlobalLpPool")
def _global_lp_pool(b, x, y, a):
    ndim = len(b.shape(x[0]))
    b.emit("Norm", x[:1], dict(p=float(a.get("p", 2)), axes=list(range(2, ndim)),
                               keep_dims=True), y[:1])


@reads("ThresholdedRelu")
def _thresholded_relu(b, x, y, a):
    above = b.emit("GreaterScalar", x[:1], dict(val=float(a.get("alpha", 1.0))))
    b.emit("Mul2", [x[0], above], {}, y[:1])


@reads("Shrink")
def _shrink(b, x, y, a):
    lambd, bias = float(a.get("lambd", 0.5)), float(a.get("bias", 0.0))
    low = b.emit("LessScalar", x[:1], dict(val=-lambd))
    high = b.emit("GreaterScalar", x[:1], dict(val=lambd))
    plus = b.emit("Mul2", [b.emit("AddScalar", x[:1], dict(val=bias)), low])
    minus = b.emit("Mul2", [b.emit("AddScalar", x[:1], dict(val=-bias)), high])
    b.emit("Add2", [plus, minus], {}, y[:1])


def _space_depth(to_depth):
    def convert(b, x, y, a):
        n, c, h, w = b.shape(x[0])
        s = int(a["blocksize"])
        mode = _text(a.get("mode"), "DCR")
        if to_depth:
            t = b.emit("Reshape", x[:1], dict(shape=[n, c, h // s, s, w // s, s]))
            t = b.emit("Transpose", [t], dict(axes=[0, 3, 5, 1, 2, 4]))
            b.emit("Reshape", [t], dict(shape=[n, c * s * s, h // s, w // s]), y[:1])
            return
        if mode == "DCR":
            t = b.emit("Reshape", x[:1], dict(shape=[n, s, s, c // (s * s), h, w]))
            t = b.emit("Transpose", [t], dict(axes=[0, 3, 4, 1, 5, 2]))
        else:
            t = b.emit("Reshape", x[:1], dict(shape=[n, c // (s * s), s, s, h, w]))
            t = b.emit("Transpose", [t], dict(axes=[0, 1, 4, 2, 5, 3]))
        b.emit("Reshape", [t], dict(shape=[n, c // (s * s), h * s, w * s]), y[:1])
    return convert


OPERATORS["DepthToSpace"] = _space_depth(False)
OPERATORS["SpaceToDepth"] = _space_depth(True)


@reads("EyeLike")
def _eye_like(b, x, y, a):
    if "dtype" in a and a["dtype"] not in (1,):
        b.fail("only float EyeLike is read")
    b.emit("EyeLike", x[:1], dict(k=int(a.get("k", 0))), y[:1])


@reads("Trilu")
def _trilu(b, x, y, a):
    k = int(np.ravel(b.value(x[1], "k"))[0]) if len(x) > 1 and x[1] else 0
    b.emit("Trilu", x[:1], dict(k=k, upper=bool(a.get("upper", 1))), y[:1])


def _random(type_name, like):
    def convert(b, x, y, a):
        shape = list(b.shape(x[0])) if like else [int(s) for s in a["shape"]]
        seed = int(a["seed"]) if "seed" in a else -1
        if type_name == "Randn":
            args = dict(mu=float(a.get("mean", 0.0)), sigma=float(a.get("scale", 1.0)))
        else:
            args = dict(low=float(a.get("low", 0.0)), high=float(a.get("high", 1.0)))
        b.emit(type_name, [], dict(args, shape=shape, seed=seed), y[:1])
    return convert


OPERATORS["RandomNormal"] = _random("Randn", False)
OPERATORS["RandomNormalLike"] = _random("Randn", True)
OPERATORS["RandomUniform"] = _random("Rand", False)
OPERATORS["RandomUniformLike"] = _random("Rand", True)


@reads("ScatterND")
def _scatter_nd(b, x, y, a):
    if _text(a.get("reduction"), "none") != "none":
        b.fail("ScatterND with a reduction is not read")
    n = len(b.shape(x[1]))
    if b.is_const(x[1]):
        idx = b.const_var(np.moveaxis(np.asarray(b.consts[x[1]]), -1, 0).astype(np.float32))
    else:
        idx = b.emit("Transpose", [x[1]], dict(axes=[n - 1] + list(range(n - 1))))
    shape = list(b.shape(x[0]))
    if b.is_const(x[0]) and not np.any(b.consts[x[0]]):
        b.emit("ScatterNd", [x[2], idx], dict(shape=shape, add=False), y[:1])
    else:
        b.emit("ScatterNd", [x[2], idx, x[0]], dict(shape=shape, add=False), y[:1])


@reads("LRN")
def _lrn(b, x, y, a):
    """x / (bias + alpha / size * sum of x^2 over ``size`` neighbouring channels)^beta."""
    shape = b.shape(x[0])
    size = int(a["size"])
    alpha, beta, bias = float(a.get("alpha", 1e-4)), float(a.get("beta", 0.75)), \
        float(a.get("bias", 1.0))
    n, c = shape[0], shape[1]
    rest = int(np.prod(shape[2:], dtype=np.int64))
    sq = b.emit("Reshape", [b.emit("Mul2", [x[0], x[0]])], dict(shape=[n, 1, c, rest]))
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = b.emit("Pad", [sq], dict(pad_width=[before, after, 0, 0], mode="constant",
                                      constant_value=0.0))
    window = b.emit("SumPooling", [padded], dict(kernel=[size, 1], stride=[1, 1],
                                                 ignore_border=True, pad=[0, 0],
                                                 channel_last=False))
    total = b.emit("Reshape", [window], dict(shape=list(shape)))
    scaled = b.emit("AddScalar", [b.emit("MulScalar", [total], dict(val=alpha / size))],
                    dict(val=bias))
    b.emit("Div2", [x[0], b.emit("PowScalar", [scaled], dict(val=beta))], {}, y[:1])
