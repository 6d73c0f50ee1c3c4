"""ONNX export of the layers whose parameters ONNX lays out differently (RNN, LSTM,
GRU), the weight reparameterizations, quantization, resizing and one-hot.

Registers into ``functions.EXPORTERS`` (same signature: ``fn(g, x, y, args)``).
"""
import numpy as np
from onnx import TensorProto

from .functions import (EXPORTERS, _affine, _batch_norm, _binarized, _channel_first,
                        _normalize, _weight_channel_first, conv_nodes, exports)

__all__ = []


# --------------------------------------------------------------- binary-weight layers
def _scaled_binary(g, weight, a, out_axis):
    """sign(weight) times mean |weight| per output (axis ``out_axis`` of the weight)."""
    shape = g.shape(weight)
    axes = [i for i in range(len(shape)) if i != out_axis]
    scale = g.reduce("ReduceMean", g.op("Abs", [weight]), axes, True)
    scaled = g.op("Mul", [_binarized(g, weight, a), scale])
    g.shapes[scaled] = shape
    return scaled


@exports("BinaryWeightAffine")
def _binary_weight_affine(g, x, y, a):
    shape = g.shape(x[1])
    flat = g.reshape(x[1], [shape[0], int(np.prod(shape[1:], dtype=np.int64))])
    g.shapes[flat] = (shape[0], int(np.prod(shape[1:], dtype=np.int64)))
    w = g.reshape(_scaled_binary(g, flat, a, 1), list(shape))
    g.shapes[w] = shape
    _affine(g, [x[0], w] + list(x[4:]), y, a)


@exports("BinaryWeightConvolution")
def _binary_weight_convolution(g, x, y, a):
    conv_nodes(g, x[0], _scaled_binary(g, x[1], a, 0), x[4:], y[0], a)


@exports("DepthwiseDeconvolution")
def _depthwise_deconvolution(g, x, y, a):
    w_shape = g.shape(x[1])
    channels = w_shape[0]
    w = g.reshape(x[1], [channels, 1] + list(w_shape[1:]))
    pads = [int(p) for p in a["pad"]]
    base = int(a["base_axis"])
    if base != 1:
        g.fail(f"base_axis={base} (only 1 is exported)")
    g.op("ConvTranspose", [x[0], w] + list(x[2:]), y[0], pads=pads + pads,
         strides=[int(s) for s in a["stride"]], dilations=[int(d) for d in a["dilation"]],
         group=channels // int(a["divisor"]), kernel_shape=list(w_shape[1:]))


@exports("BroadcastTo")
def _broadcast_to(g, x, y, a):
    xs, ys = g.shape(x[0]), g.shape(x[1])
    axis = int(a["axis"])
    start = len(xs) - len(ys) if axis < 0 else axis
    aligned = g.reshape(x[1], [1] * start + list(ys) + [1] * (len(xs) - start - len(ys)))
    g.op("Expand", [aligned, g.ints(xs)], y[0])


@exports("OneHot")
def _one_hot(g, x, y, a):
    shape = [int(s) for s in a["shape"]]
    xs = g.shape(x[0])
    idx = g.to_int(x[0])
    flat = None
    for i, size in enumerate(shape):
        part = g.op("Gather", [idx, g.const(i, np.int64)], axis=len(xs) - 1)
        flat = part if flat is None else g.op("Add", [g.op("Mul", [flat, g.const(size, np.int64)]),
                                                      part])
    total = int(np.prod(shape))
    hot = g.op("OneHot", [flat, g.const([total], np.int64), g.const([0.0, 1.0])], axis=-1)
    g.reshape(hot, list(xs[:-1]) + shape, y[0])


# --------------------------------------------------------------- quantization
_ONNX_INT = {1: TensorProto.INT8, 2: TensorProto.UINT8}
_RANGES = {1: (-128, 127), 2: (0, 255)}


def _round(g, v, mode):
    if mode == "HALF_TO_EVEN":
        return g.op("Round", [v])
    mag = g.op("Floor", [g.op("Add", [g.op("Abs", [v]), g.const(0.5)])])
    return g.op("Mul", [g.op("Sign", [v]), mag])


@exports("QuantizeLinear")
def _quantize_linear(g, x, y, a):
    dtype = int(a["dtype"])
    if dtype not in _RANGES:
        g.fail(f"dtype {dtype} (int8 = 1 and uint8 = 2 are exported)")
    lo, hi = _RANGES[dtype]
    lo = lo + 1 if a["narrow_range"] else lo
    zp = g.clip(_round(g, x[2], a["round_mode"]), float(lo), float(hi))
    q = g.op("Add", [_round(g, g.op("Div", [x[0], x[1]]), a["round_mode"]), zp])
    g.clip(q, float(lo), float(hi), y[0])


@exports("DequantizeLinear")
def _dequantize_linear(g, x, y, a):
    g.op("Mul", [g.op("Sub", [x[0], x[2]]), x[1]], y[0])


# --------------------------------------------------------------- weight reparameterizations
@exports("WeightNormalization")
def _weight_normalization(g, x, y, a):
    shape = g.shape(x[0])
    dim = int(a["dim"]) % len(shape)
    axes = [i for i in range(len(shape)) if i != dim]
    total = g.reduce("ReduceSum", g.op("Mul", [x[0], x[0]]), axes, True)
    norm = g.op("Sqrt", [g.op("Add", [total, g.const(float(a["eps"]))])])
    gain = g.reshape(x[1], [shape[dim] if i == dim else 1 for i in range(len(shape))])
    g.op("Mul", [g.op("Div", [x[0], norm]), gain], y[0])


@exports("WeightStandardization")
def _weight_standardization(g, x, y, a):
    shape = g.shape(x[0])
    axis = int(a["channel_axis"]) % len(shape)
    axes = [i for i in range(len(shape)) if i != axis]
    g.op("Identity", [_normalize(g, x[0], axes, a["eps"])], y[0])


def _unit(g, v, eps):
    norm = g.op("Sqrt", [g.op("Add", [g.reduce("ReduceSum", g.op("Mul", [v, v]), [0], True),
                                      g.const(eps)])])
    return g.op("Div", [v, norm])


@exports("SpectralNorm")
def _spectral_norm(g, x, y, a):
    shape = g.shape(x[0])
    dim = int(a["dim"]) % len(shape)
    perm = [dim] + [i for i in range(len(shape)) if i != dim]
    moved = g.op("Transpose", [x[0]], perm=perm) if dim else x[0]
    rows = shape[dim]
    mat = g.reshape(moved, [rows, -1])
    mat_t = g.op("Transpose", [mat], perm=[1, 0])
    u = g.reshape(x[1], [rows, 1])
    v = None
    eps = float(a["eps"])
    for _ in range(int(a["itr"])):
        v = _unit(g, g.op("MatMul", [mat_t, u]), eps)
        u = _unit(g, g.op("MatMul", [mat, v]), eps)
    if v is None:
        g.fail("itr=0 leaves the singular vectors undefined")
    sigma = g.op("MatMul", [g.op("Transpose", [u], perm=[1, 0]), g.op("MatMul", [mat, v])])
    scaled = g.op("Div", [mat, sigma])
    moved_shape = [shape[i] for i in perm]
    back = g.reshape(scaled, moved_shape)
    inverse = list(np.argsort(perm))
    result = g.op("Transpose", [back], perm=inverse) if dim else back
    g.op("Identity", [result], y[0])
    if len(y) > 1:
        u_out = g.reshape(u, list(g.shape(x[1])))
        if a["output_u"]:
            g.op("Identity", [u_out], y[1])
            if len(y) > 2:
                g.op("Identity", [x[1] if a["test"] else u_out], y[2])
        else:
            g.op("Identity", [x[1] if a["test"] else u_out], y[1])


# --------------------------------------------------------------- resizing
@exports("Interpolate")
def _interpolate(g, x, y, a):
    if a["channel_last"]:
        g.fail("channel_last=True is not exported")
    mode = a["mode"]
    if mode == "linear":
        if a["align_corners"] and a["half_pixel"]:
            g.fail("align_corners together with half_pixel has no ONNX coordinate mode")
        coords = "align_corners" if a["align_corners"] else \
            ("half_pixel" if a["half_pixel"] else "asymmetric")
        attrs = dict(mode="linear", coordinate_transformation_mode=coords)
    elif mode == "nearest":
        if a["half_pixel_for_nn"]:
            coords = "tf_half_pixel_for_nn"
        else:
            coords = "align_corners" if a["align_corners"] else \
                ("half_pixel" if a["half_pixel"] else "asymmetric")
        attrs = dict(mode="nearest", coordinate_transformation_mode=coords,
                     nearest_mode="floor")
    else:
        g.fail(f"mode {mode!r} is not exported")
    empty = g.const(np.zeros(0, np.float32))
    g.op("Resize", [x[0], empty, empty, g.ints(g.shape(y[0]))], y[0], **attrs)


# --------------------------------------------------------------- recurrent layers
# NNabla's gate order -> ONNX's: LSTM i f g o -> i o f c, GRU r z n -> z r h
_GATES = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def _layer_weights(type_name, w, b, n_in, hidden):
    """(W, R, B) of one layer in ONNX's layout from NNabla's (D, [G,] H, I+H), (D, [G,] H)."""
    d = w.shape[0]
    w = w.reshape(d, -1, hidden, w.shape[-1])
    order = _GATES[type_name]
    big_w = np.concatenate([w[:, k, :, :n_in] for k in order], axis=1)
    big_r = np.concatenate([w[:, k, :, n_in:] for k in order], axis=1)
    gates = len(order)
    if b is None:
        bias = np.zeros((d, 2 * gates * hidden), np.float32)
    else:
        b = b.reshape(d, -1, hidden)
        wb = np.concatenate([b[:, k] for k in order], axis=1)
        rb = np.zeros_like(wb)
        if type_name == "GRU":     # n's two biases: on x (index 2) and on h (index 3)
            rb[:, 2 * hidden:] = b[:, 3]
        bias = np.concatenate([wb, rb], axis=1)
    return big_w.astype(np.float32), big_r.astype(np.float32), bias.astype(np.float32)


def _recurrent(type_name):
    def convert(g, x, y, a):
        n_states = 2 if type_name == "LSTM" else 1
        xs, states = x[0], x[1:1 + n_states]
        rest = x[1 + n_states:]
        layers = int(a["num_layers"])
        w0 = g.value(rest[0], "weight_l0")
        weights = g.value(rest[1], "weight") if layers > 1 else None
        bias_name = rest[2 if layers > 1 else 1] if len(rest) > (2 if layers > 1 else 1) else None
        bias = g.value(bias_name, "bias") if bias_name else None
        seq, batch, _ = g.shape(xs)
        d = 2 if a["bidirectional"] else 1
        hidden = g.shape(states[0])[-1]
        finals = [[] for _ in states]
        for layer in range(layers):
            w = w0 if layer == 0 else weights[layer - 1]
            n_in = g.shape(xs)[-1]
            big_w, big_r, big_b = _layer_weights(type_name, w, None if bias is None
                                                 else bias[layer], n_in, hidden)
            init = [g.op("Gather", [s, g.const(layer, np.int64)], axis=0) for s in states]
            inputs = [xs, g.const(big_w), g.const(big_r), g.const(big_b), ""] + init
            attrs = dict(hidden_size=hidden,
                         direction="bidirectional" if d == 2 else "forward")
            if type_name == "RNN":
                act = "Relu" if a["nonlinearity"] == "relu" else "Tanh"
                attrs["activations"] = [act] * d
            if type_name == "GRU":
                attrs["linear_before_reset"] = 1
            outs = g.op(type_name, inputs, n_outputs=1 + n_states, **attrs)
            seq_out = g.op("Transpose", [outs[0]], perm=[0, 2, 1, 3])
            xs = g.reshape(seq_out, [seq, batch, d * hidden],
                           y[0] if layer == layers - 1 else None)
            g.shapes[xs] = (seq, batch, d * hidden)
            for k in range(n_states):
                finals[k].append(g.unsqueeze(outs[1 + k], [0]))
        for k in range(n_states):
            if len(y) > 1 + k:
                g.op("Concat", finals[k], y[1 + k], axis=0)
    return convert


for _t in ("RNN", "LSTM", "GRU"):
    EXPORTERS[_t] = _recurrent(_t)


@exports("TopKGrad")
def _top_k_grad(g, x, y, a):
    g.op("Identity", x[:1], y[0])          # it selects gradients only; forward passes x


def _nonlinearity(g, value, name, args, out):
    alpha = [float(v) for v in args]
    if name == "identity":
        g.op("Identity", [value], out)
    elif name == "relu":
        g.op("Relu", [value], out)
    elif name == "sigmoid":
        g.op("Sigmoid", [value], out)
    elif name == "tanh":
        g.op("Tanh", [value], out)
    elif name == "leaky_relu":
        g.op("LeakyRelu", [value], out, alpha=alpha[0] if alpha else 0.1)
    elif name == "elu":
        g.op("Elu", [value], out, alpha=alpha[0] if alpha else 1.0)
    elif name == "relu6":
        g.clip(value, 0.0, 6.0, out)
    else:
        g.fail(f"nonlinearity {name!r} is not exported")


@exports("FusedConvolution")
def _fused_convolution(g, x, y, a):
    mode = a.get("pad_mode", "constant")
    if not (mode == "zero" or mode in ("constant", "") and float(a.get("constant_value", 0)) == 0):
        g.fail(f"pad_mode={mode!r} (only zero padding is exported)")
    has_bias = len(g.shape(x[2])) == 1 and len(x) in (3, 7, 8)
    bias = x[2:3] if has_bias else []
    rest = list(x[3:] if has_bias else x[2:])
    if len(rest) not in (0, 1, 4, 5):
        g.fail(f"{len(x)} inputs: give beta, gamma, mean and variance together")
    conv = g.fresh("conv")
    g.shapes[conv] = g.shape(y[0])
    weight = _weight_channel_first(g, x[1], a)
    _channel_first(g, x[0], conv, a, len(g.shape(weight)) - 2,
                   lambda xc, yc: conv_nodes(g, xc, weight, bias, yc, a))
    value = conv
    if len(rest) >= 4:
        normed = g.fresh("bn")
        g.shapes[normed] = g.shape(conv)
        ndim = len(g.shape(conv))
        axis = ndim - 1 if a.get("channel_last") else int(a["base_axis"])
        _batch_norm(g, [conv] + rest[:4], normed,
                    dict(axes=[axis], eps=a["eps"], batch_stat=a["batch_stat"],
                         no_bias=False, no_scale=False))
        value = normed
        rest = rest[4:]
    if rest:
        value = g.op("Add", [value, rest[0]])
    _nonlinearity(g, value, a["nonlinearity"], a.get("nonlinearity_args") or [], y[0])


@exports("SyncBatchNormalization")
def _sync_batch_normalization(g, x, y, a):
    # one process in an ONNX runtime: the group's statistics are the batch's own
    _batch_norm(g, x, y[0], dict(a, no_bias=False, no_scale=False))
