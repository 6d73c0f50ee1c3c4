"""Binary and INQ layers: binary sigmoid/tanh, binary-connect/-weight and INQ affine/conv.

They write their derived weights back into the parameter inputs during forward
(``state_inputs``), as NNabla does in place: after a forward, ``binary_weight``
(and ``alpha``) hold the values the layer used.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._variable import Variable
from ._common import call, lowering
from .convolution import _conv_args, _convolution
from .layers import _affine
from .quantization import _ste


# ---------------------------------------------------------------- binary activations
@jax.custom_vjp
def _binary_sigmoid_core(x):
    return jnp.where(x > 0, jnp.ones_like(x), jnp.zeros_like(x))


_binary_sigmoid_core.defvjp(
    lambda x: (_binary_sigmoid_core(x), x),
    lambda x, g: (jnp.where(jnp.abs(x) >= 1, jnp.zeros_like(g), 0.5 * g),))


@jax.custom_vjp
def _binary_tanh_core(x):
    return jnp.where(x > 0, jnp.ones_like(x), -jnp.ones_like(x))


_binary_tanh_core.defvjp(
    lambda x: (_binary_tanh_core(x), x),
    lambda x, g: (jnp.where(jnp.abs(x) >= 1, jnp.zeros_like(g), g),))


@lowering("BinarySigmoid")
def _binary_sigmoid(x):
    return _binary_sigmoid_core(x)


@lowering("BinaryTanh")
def _binary_tanh(x):
    return _binary_tanh_core(x)


def binary_sigmoid(x):
    """1 if ``x > 0`` else 0; backward passes ``0.5 * grad`` where ``|x| < 1``."""
    return call("BinarySigmoid", [x], {})


def binary_tanh(x):
    """1 if ``x > 0`` else -1; backward passes the gradient where ``|x| < 1``."""
    return call("BinaryTanh", [x], {})


# ---------------------------------------------------------------- binary connect / weight
def _sign(w, zero_to):
    return jnp.where(w > 0, 1.0, jnp.where(w < 0, -1.0, zero_to)).astype(w.dtype)


def _conv(x, w, bias, base_axis, pad, stride, dilation, group):
    return _convolution(x, w, bias, base_axis, pad, stride, dilation, group, False)


@lowering("BinaryConnectAffine", state_inputs=(2,))
def _binary_connect_affine(x, weight, binary_weight, bias=None, base_axis=1,
                           quantize_zero_to=1.0):
    wb = _sign(lax.stop_gradient(weight), quantize_zero_to)
    y = _affine(x, _ste(wb, weight), bias, base_axis)
    return y, wb


@lowering("BinaryConnectConvolution", state_inputs=(2,))
def _binary_connect_convolution(x, weight, binary_weight, bias=None, base_axis=1, pad=None,
                                stride=None, dilation=None, group=1, quantize_zero_to=1.0):
    wb = _sign(lax.stop_gradient(weight), quantize_zero_to)
    y = _conv(x, _ste(wb, weight), bias, base_axis, pad, stride, dilation, group)
    return y, wb


@lowering("BinaryWeightAffine", state_inputs=(2, 3))
def _binary_weight_affine(x, weight, binary_weight, alpha, bias=None, base_axis=1,
                          quantize_zero_to=1.0):
    w = lax.stop_gradient(weight)
    w2 = w.reshape((w.shape[0], -1))
    a = jnp.mean(jnp.abs(w2), axis=0)  # one scale per output
    wb = _sign(w, quantize_zero_to)
    scaled = (wb.reshape(w2.shape) * a[None, :]).reshape(w.shape)
    y = _affine(x, _ste(scaled, weight), bias, base_axis)
    return y, wb, a.reshape(alpha.shape).astype(alpha.dtype)


@lowering("BinaryWeightConvolution", state_inputs=(2, 3))
def _binary_weight_convolution(x, weight, binary_weight, alpha, bias=None, base_axis=1,
                               pad=None, stride=None, dilation=None, group=1,
                               quantize_zero_to=1.0):
    w = lax.stop_gradient(weight)
    w2 = w.reshape((w.shape[0], -1))
    a = jnp.mean(jnp.abs(w2), axis=1)  # one scale per output channel
    wb = _sign(w, quantize_zero_to)
    scaled = (wb.reshape(w2.shape) * a[:, None]).reshape(w.shape)
    y = _conv(x, _ste(scaled, weight), bias, base_axis, pad, stride, dilation, group)
    return y, wb, a.reshape(alpha.shape).astype(alpha.dtype)


def _affine_check(fname, x, weight, bias, base_axis, extra=()):
    in_features = int(np.prod(x.shape[base_axis:], dtype=np.int64))
    if len(weight.shape) < 2 or weight.shape[0] != in_features:
        raise ValueError(f"{fname}: x of shape {tuple(x.shape)} has {in_features} features from "
                         f"base_axis={base_axis}, but weight has shape {tuple(weight.shape)}")
    for name, v in extra:
        if tuple(v.shape) != tuple(weight.shape):
            raise ValueError(f"{fname}: {name} shape {tuple(v.shape)} must equal the weight "
                             f"shape {tuple(weight.shape)}")
    if bias is not None and tuple(bias.shape) != tuple(weight.shape[1:]):
        raise ValueError(f"{fname}: bias shape {tuple(bias.shape)} must be "
                         f"{tuple(weight.shape[1:])}")


def _conv_check(fname, x, weight, bias, base_axis, pad, stride, dilation, group, extra=()):
    args = _conv_args(fname, x, weight, base_axis, pad, stride, dilation, group, False)
    if x.shape[base_axis] != weight.shape[1] * group:
        raise ValueError(f"{fname}: x has {x.shape[base_axis]} channels but weight "
                         f"{tuple(weight.shape)} expects {weight.shape[1]} x group {group}")
    for name, v in extra:
        if tuple(v.shape) != tuple(weight.shape):
            raise ValueError(f"{fname}: {name} shape {tuple(v.shape)} must equal the weight "
                             f"shape {tuple(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{fname}: bias shape {tuple(bias.shape)} must be ({weight.shape[0]},)")
    del args["channel_last"]
    return args


def binary_connect_affine(x, weight, binary_weight, bias=None, base_axis=1,
                          quantize_zero_to=1.0):
    """Affine with ``sign(weight)`` (0 maps to ``quantize_zero_to``); the gradient of the
    binarized weight goes straight to ``weight``. ``binary_weight`` receives the
    binarized values on forward."""
    fname = "binary_connect_affine"
    _affine_check(fname, x, weight, bias, base_axis, [("binary_weight", binary_weight)])
    return call("BinaryConnectAffine", [x, weight, binary_weight, bias],
                dict(base_axis=int(base_axis), quantize_zero_to=float(quantize_zero_to)))


def binary_connect_convolution(x, weight, binary_weight, bias=None, base_axis=1, pad=None,
                               stride=None, dilation=None, group=1, quantize_zero_to=1.0):
    """Convolution with ``sign(weight)`` (straight-through gradient to ``weight``)."""
    fname = "binary_connect_convolution"
    args = _conv_check(fname, x, weight, bias, base_axis, pad, stride, dilation, group,
                       [("binary_weight", binary_weight)])
    args["quantize_zero_to"] = float(quantize_zero_to)
    return call("BinaryConnectConvolution", [x, weight, binary_weight, bias], args)


def binary_weight_affine(x, weight, binary_weight, alpha, bias=None, base_axis=1,
                         quantize_zero_to=1.0):
    """Affine with ``sign(weight) * alpha``, ``alpha_j = mean_i |weight[i, j]|`` per output.

    ``binary_weight`` and ``alpha`` receive the values used on forward; the
    gradient of the scaled binary weight goes straight to ``weight``.
    """
    fname = "binary_weight_affine"
    _affine_check(fname, x, weight, bias, base_axis, [("binary_weight", binary_weight)])
    outs = int(np.prod(weight.shape[1:], dtype=np.int64))
    if int(np.prod(alpha.shape, dtype=np.int64)) != outs:
        raise ValueError(f"{fname}: alpha of shape {tuple(alpha.shape)} must have {outs} "
                         "elements (the output size)")
    return call("BinaryWeightAffine", [x, weight, binary_weight, alpha, bias],
                dict(base_axis=int(base_axis), quantize_zero_to=float(quantize_zero_to)))


def binary_weight_convolution(x, weight, binary_weight, alpha, bias=None, base_axis=1,
                              pad=None, stride=None, dilation=None, group=1,
                              quantize_zero_to=1.0):
    """Convolution with ``sign(weight) * alpha``, ``alpha_o = mean |weight[o]|``."""
    fname = "binary_weight_convolution"
    args = _conv_check(fname, x, weight, bias, base_axis, pad, stride, dilation, group,
                       [("binary_weight", binary_weight)])
    if int(np.prod(alpha.shape, dtype=np.int64)) != weight.shape[0]:
        raise ValueError(f"{fname}: alpha of shape {tuple(alpha.shape)} must have "
                         f"{weight.shape[0]} elements (the output channels)")
    args["quantize_zero_to"] = float(quantize_zero_to)
    return call("BinaryWeightConvolution", [x, weight, binary_weight, alpha, bias], args)


# ---------------------------------------------------------------- INQ
_LOG2_1P5 = 0.58496250072115619


def _inq_update(key, weight, indicator, state, num_bits, inq_iterations, selection_algorithm):
    """One INQ step on the weights: returns (new weights, new indicators, new state).

    ``state`` packs [forward counter, weights after the last forward, indicators
    after the last forward] (NNabla keeps these inside the function object).
    """
    size = weight.size
    w = lax.stop_gradient(weight).reshape(-1)
    ind = lax.stop_gradient(indicator).reshape(-1)
    counter = state[0]
    old_w = state[1:1 + size]
    old_ind = state[1 + size:]
    w = jnp.where(old_ind == 1, old_w, w)  # fixed weights are not updated by the solver

    learn = ind == 0
    if len(inq_iterations):
        its = jnp.asarray(inq_iterations, jnp.float32)
        fix_now = jnp.any(counter == its)
        fix_all = counter == its[-1]
        if selection_algorithm == "largest_abs":
            order = jnp.argsort(-jnp.abs(w), stable=True)
            learn_sorted = learn[order]
            half = jnp.sum(learn) // 2
            rank = jnp.cumsum(learn_sorted.astype(jnp.int32))
            first = jnp.arange(size) == 0
            pick_sorted = learn_sorted & jnp.where(half > 0, rank <= half, first)
            pick = jnp.zeros(size, bool).at[order].set(pick_sorted)
        else:
            pick = learn & jax.random.bernoulli(key, 0.5, (size,))
        new_ind = jnp.where(fix_all, jnp.ones_like(ind),
                            jnp.where(fix_now & pick, jnp.ones_like(ind), ind))
    else:
        new_ind = ind

    max_abs = jnp.max(jnp.abs(w))
    max_abs = jnp.where(max_abs == 0, 1.0, max_abs)
    lg = jnp.log2(max_abs)
    n1 = jnp.floor(lg) + (lg - jnp.floor(lg) >= _LOG2_1P5)
    n2 = n1 + 1 - 2 ** (num_bits - 2)
    thresh = 2.0 ** (n2 - 1)
    b = jnp.log2(jnp.abs(w))
    e = jnp.clip(jnp.floor(b) + (b - jnp.floor(b) >= _LOG2_1P5), n2, n1)
    q = jnp.where(jnp.abs(w) < thresh, 0.0, jnp.where(w < 0, -1.0, 1.0) * 2.0 ** e)
    w_new = jnp.where(new_ind == 1, q.astype(w.dtype), w)
    new_state = jnp.concatenate([(counter + 1)[None], w_new.astype(state.dtype),
                                 new_ind.astype(state.dtype)])
    return (w_new.reshape(weight.shape), new_ind.astype(indicator.dtype).reshape(indicator.shape),
            new_state)


def _inq_resetup(node):
    """NNabla's setup: the counter and the copies of weights and indicators start
    again (sized for the weights as they are now)."""
    weight, state = node._inputs[1], node._inputs[4]
    size = 1 + 2 * int(np.prod(weight.shape, dtype=np.int64))
    if state.size != size:
        state.reset_shape((size,), force=True)
    state.data.zero()


@lowering("INQAffine", rng=True, state_inputs=(1, 2, 4), prior_state_grad=True,
          resetup=_inq_resetup)
def _inq_affine(key, x, weight, indicator_fixedweights, bias=None, state=None, base_axis=1,
                num_bits=4, inq_iterations=(), selection_algorithm="largest_abs", seed=-1):
    w_new, ind, st = _inq_update(key, weight, indicator_fixedweights, state, num_bits,
                                 inq_iterations, selection_algorithm)
    y = _affine(x, _ste(w_new, weight), bias, base_axis)
    return y, w_new, ind, st


@lowering("INQConvolution", rng=True, state_inputs=(1, 2, 4), prior_state_grad=True,
          resetup=_inq_resetup)
def _inq_convolution(key, x, weight, indicator_fixedweights, bias=None, state=None,
                     base_axis=1, pad=None, stride=None, dilation=None, group=1, num_bits=4,
                     inq_iterations=(), selection_algorithm="largest_abs", seed=-1):
    w_new, ind, st = _inq_update(key, weight, indicator_fixedweights, state, num_bits,
                                 inq_iterations, selection_algorithm)
    y = _conv(x, _ste(w_new, weight), bias, base_axis, pad, stride, dilation, group)
    return y, w_new, ind, st


def _inq_state(weight):
    """The hidden per-node state input: [counter, last weights, last indicators]."""
    return Variable.from_numpy_array(np.zeros(1 + 2 * int(np.prod(weight.shape, dtype=np.int64)),
                                              np.float32), need_grad=False)


def _inq_args(fname, num_bits, inq_iterations, selection_algorithm, seed):
    if int(num_bits) < 2:
        raise ValueError(f"{fname}: num_bits must be at least 2, got {num_bits}")
    if selection_algorithm not in ("largest_abs", "random"):
        raise ValueError(f"{fname}: selection_algorithm must be 'largest_abs' or 'random', got "
                         f"{selection_algorithm!r}")
    its = [int(i) for i in inq_iterations]
    if its != sorted(its):
        raise ValueError(f"{fname}: inq_iterations must be increasing, got {its}")
    return dict(num_bits=int(num_bits), inq_iterations=its,
                selection_algorithm=selection_algorithm, seed=int(seed))


def inq_affine(x, weight, indicator_fixedweights, bias=None, base_axis=1, num_bits=4,
               inq_iterations=(), selection_algorithm='largest_abs', seed=-1):
    """Incremental network quantization affine layer.

    At each forward count listed in ``inq_iterations`` half of the learnable
    weights get fixed (all of them at the last entry); fixed weights are
    quantized to powers of two and written back to ``weight``, and the
    indicators to ``indicator_fixedweights``. The node carries one extra hidden
    input holding the forward counter and last weights/indicators (NNabla keeps
    them inside the function object).
    """
    fname = "inq_affine"
    _affine_check(fname, x, weight, bias, base_axis,
                  [("indicator_fixedweights", indicator_fixedweights)])
    args = dict(base_axis=int(base_axis))
    args.update(_inq_args(fname, num_bits, inq_iterations, selection_algorithm, seed))
    return call("INQAffine", [x, weight, indicator_fixedweights, bias, _inq_state(weight)], args)


def inq_convolution(x, weight, indicator_fixedweights, bias=None, base_axis=1, pad=None,
                    stride=None, dilation=None, group=1, num_bits=4, inq_iterations=(),
                    selection_algorithm='largest_abs', seed=-1):
    """Incremental network quantization convolution (see :func:`inq_affine`)."""
    fname = "inq_convolution"
    args = _conv_check(fname, x, weight, bias, base_axis, pad, stride, dilation, group,
                       [("indicator_fixedweights", indicator_fixedweights)])
    args.update(_inq_args(fname, num_bits, inq_iterations, selection_algorithm, seed))
    return call("INQConvolution", [x, weight, indicator_fixedweights, bias, _inq_state(weight)],
                args)
