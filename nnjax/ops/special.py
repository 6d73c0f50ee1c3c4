"""Unsupported / special-use functions: VATNoise, Unlink, Sink, MaxPoolingBackward,
PatchCorrelation, EyeLike, Mod2, BitShift, Einsum (the host-computed ones of
NNabla's category are in ``host_computed``).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import array
from ._common import call, lowering
from .pooling import _max_pooling, _pool_args


# ---------------------------------------------------------------- VATNoise
@lowering("VATNoise", grad_to_data=(1,))
def _vat_noise(x, w, base_axis=1, eps=1.0):
    xs = lax.stop_gradient(x)
    axes = tuple(range(base_axis, x.ndim))
    norm = jnp.sqrt(jnp.sum(xs * xs, axis=axes, keepdims=True) + 1e-8)
    y = eps * xs / norm
    # backward: no gradient to x; eps * grad goes into w's data (grad_to_data)
    return y + eps * (w - lax.stop_gradient(w))


def vat_noise(x, w, base_axis=1, eps=1.0):
    """``eps * x / sqrt(sum(x**2) + 1e-8)`` per sample (axes from ``base_axis``).

    Backward gives ``x`` no gradient and, as NNabla, overwrites ``w``'s data with
    ``eps * dy`` (``w``'s grad is left alone, whatever ``w.need_grad``).
    """
    fname = "vat_noise"
    if tuple(x.shape) != tuple(w.shape):
        raise ValueError(f"{fname}: x shape {tuple(x.shape)} and w shape {tuple(w.shape)} "
                         "must match")
    if base_axis < 0:  # counted from the end
        base_axis += len(x.shape)
    if not 0 < base_axis < len(x.shape):
        raise ValueError(f"{fname}: base_axis={base_axis} must be in [1, {len(x.shape) - 1}]")
    return call("VATNoise", [x, w], dict(base_axis=int(base_axis), eps=float(eps)))


# ---------------------------------------------------------------- Unlink / Sink
@lowering("Unlink")
def _unlink(x):
    return lax.stop_gradient(x)


def unlink(x):
    """Identity forward; no gradient flows back."""
    return call("Unlink", [x], {})


def _float0_or(x, value):
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.full(x.shape, value, x.dtype)
    return np.zeros(x.shape, jax.dtypes.float0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _sink_core(one_input_grad, *xs):
    return jnp.zeros((), jnp.float32)


def _sink_fwd(one_input_grad, *xs):
    return _sink_core(one_input_grad, *xs), xs


def _sink_bwd(one_input_grad, xs, g):
    return tuple(_float0_or(x, 1.0 if one_input_grad else 0.0) for x in xs)


_sink_core.defvjp(_sink_fwd, _sink_bwd)


@lowering("Sink")
def _sink(*xs, one_input_grad=True):
    return _sink_core(bool(one_input_grad), *xs)


def sink(*x, one_input_grad=True):
    """A 0-d dummy output depending on all inputs ``x``: forward does nothing; backward
    sets the gradient of every input to 1 (``one_input_grad``) whatever the seed.

    With ``one_input_grad=False`` NNabla back-propagates gradients already set on
    the inputs; here the inputs then receive no gradient from the sink.
    """
    if not x:
        raise ValueError("sink: give at least one variable")
    return call("Sink", list(x), dict(one_input_grad=bool(one_input_grad)))


# ---------------------------------------------------------------- MaxPoolingBackward
@lowering("MaxPoolingBackward")
def _max_pooling_backward(dy, x, kernel, stride, ignore_border=True, pad=None,
                          channel_last=False):
    def pool(v):
        return _max_pooling(v, kernel, stride, ignore_border, pad, channel_last)

    _, vjp = jax.vjp(pool, lax.stop_gradient(x))
    return vjp(dy)[0]


def max_pooling_backward(dy, x, kernel, stride=None, ignore_border=True, pad=None,
                         channel_last=False):
    """The gradient of ``max_pooling(x, ...)`` for the output gradient ``dy`` (each
    window's gradient goes to its first maximum)."""
    fname = "max_pooling_backward"
    args = _pool_args(fname, x, kernel, stride, ignore_border, pad, channel_last)
    return call("MaxPoolingBackward", [dy, x], args)


# ---------------------------------------------------------------- PatchCorrelation
@lowering("PatchCorrelation")
def _patch_correlation(x1, x2, patch=(1, 1), shift=(0, 0), patch_step=(1, 1),
                       shift_step=(1, 1), padding=(0, 0, 0, 0)):
    top, bottom, left, right = padding
    sv, sh = shift
    p1 = jnp.pad(x1, [(0, 0), (top, bottom), (left, right), (0, 0)])
    p2 = jnp.pad(x2, [(0, 0), (top + sv, bottom + sv), (left + sh, right + sh), (0, 0)])
    hp, wp = p1.shape[1], p1.shape[2]
    rows = []
    for dy in range(-sv, sv + 1, shift_step[0]):
        cols = []
        for dx in range(-sh, sh + 1, shift_step[1]):
            shifted = lax.dynamic_slice_in_dim(
                lax.dynamic_slice_in_dim(p2, sv + dy, hp, axis=1), sh + dx, wp, axis=2)
            prod = jnp.sum(p1 * shifted, axis=-1)
            cols.append(lax.reduce_window(prod, 0.0, lax.add,
                                          (1, patch[0], patch[1]),
                                          (1, patch_step[0], patch_step[1]), "VALID"))
        rows.append(jnp.stack(cols, axis=-1))
    return jnp.stack(rows, axis=-2)


def _pair(v, n, name, fname):
    if isinstance(v, (int, np.integer)):
        return [int(v)] * n
    v = [int(i) for i in v]
    if len(v) != n:
        raise ValueError(f"{fname}: {name} must have {n} values, got {v}")
    return v


def patch_correlation(x1, x2, patch=(1, 1), shift=(0, 0), patch_step=(1, 1), shift_step=(1, 1),
                      padding=(0, 0, 0, 0), channel_last=False):
    """Multiplicative patch comparison of ``x1`` and ``x2`` (NCHW, or NHWC if
    ``channel_last``): for every patch position and every shift in
    ``[-shift, shift]`` (step ``shift_step``), the sum over channels and the patch
    of ``x1 * shifted x2`` (zero padding). Output (N, Cy, Cx, Ho, Wo), or
    (N, Ho, Wo, Cy, Cx) with ``channel_last``.
    """
    fname = "patch_correlation"
    if not len(x1.shape) == len(x2.shape) == 4:
        raise ValueError(f"{fname}: both inputs must have 4 dimensions, got "
                         f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    if tuple(x1.shape) != tuple(x2.shape):
        raise ValueError(f"{fname}: inputs must have the same shape, got {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    patch = _pair(patch, 2, "patch", fname)
    shift = _pair(shift, 2, "shift", fname)
    patch_step = _pair(patch_step, 2, "patch_step", fname)
    shift_step = _pair(shift_step, 2, "shift_step", fname)
    if isinstance(padding, (int, np.integer)):
        padding = [int(padding)] * 4
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    if len(padding) != 4:
        raise ValueError(f"{fname}: padding must have 1, 2 or 4 values, got {padding}")
    if min(patch + patch_step + shift_step) <= 0 or min(shift + padding) < 0:
        raise ValueError(f"{fname}: patch and steps must be positive, shift and padding "
                         "non-negative")
    if not channel_last:
        if x1.shape[1] == 1:
            x1 = array.reshape(x1, (x1.shape[0],) + tuple(x1.shape[2:4]) + (1,))
            x2 = array.reshape(x2, (x2.shape[0],) + tuple(x2.shape[2:4]) + (1,))
        else:
            x1 = array.transpose(x1, (0, 2, 3, 1))
            x2 = array.transpose(x2, (0, 2, 3, 1))
    h, w = x1.shape[1], x1.shape[2]
    if h + padding[0] + padding[1] < patch[0] or w + padding[2] + padding[3] < patch[1]:
        raise ValueError(f"{fname}: patch {tuple(patch)} is larger than the padded input "
                         f"({h}, {w}) with padding {tuple(padding)}")
    y = call("PatchCorrelation", [x1, x2], dict(patch=patch, shift=shift, patch_step=patch_step,
                                                shift_step=shift_step, padding=padding))
    if not channel_last:
        y = array.transpose(y, (0, 3, 4, 1, 2))
    return y


# ---------------------------------------------------------------- EyeLike, Mod2, BitShift
@lowering("EyeLike")
def _eye_like(x, k=0):
    return jnp.eye(x.shape[0], x.shape[1], k, dtype=x.dtype)


def eye_like(x, k=0):
    """A 2-D array shaped like ``x`` with ones on the ``k``-th diagonal."""
    if len(x.shape) != 2:
        raise ValueError(f"eye_like: x must be 2-D, got shape {tuple(x.shape)}")
    return call("EyeLike", [x], dict(k=int(k)))


@lowering("Mod2")
def _mod2(x0, x1, fmod=False):
    if fmod or jnp.issubdtype(x0.dtype, jnp.floating) or jnp.issubdtype(x1.dtype, jnp.floating):
        return jnp.fmod(x0, x1)
    return jnp.mod(x0, x1)


def _broadcast_check(fname, a, b):
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(f"{fname}: shapes {tuple(a.shape)} and {tuple(b.shape)} can not be "
                         "broadcast") from None
    if len(a.shape) != len(b.shape):
        raise ValueError(f"{fname}: inputs must have the same number of dimensions, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def mod2(x0, x1, fmod=False):
    """Elementwise remainder (broadcasting): C's ``fmod`` for floats or ``fmod=True``,
    else numpy's ``mod`` (the sign of the divisor)."""
    _broadcast_check("mod2", x0, x1)
    return call("Mod2", [x0, x1], dict(fmod=bool(fmod)))


@lowering("BitShift")
def _bit_shift(x, shift, direction="LEFT"):
    s = shift.astype(x.dtype)
    return jnp.left_shift(x, s) if direction == "LEFT" else jnp.right_shift(x, s)


def bit_shift(x, shift, direction='LEFT'):
    """Elementwise integer bit shift of ``x`` by ``shift`` ('LEFT' or 'RIGHT')."""
    fname = "bit_shift"
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"{fname}: direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    _broadcast_check(fname, x, shift)
    for name, v in (("x", x), ("shift", shift)):
        dtype = v.dtype if hasattr(v, "dtype") else v.data.dtype
        if not np.issubdtype(np.dtype(dtype), np.integer):
            raise TypeError(f"{fname}: {name} must hold integers, got {np.dtype(dtype)}")
    return call("BitShift", [x, shift], dict(direction=direction))


# ---------------------------------------------------------------- Einsum
@lowering("Einsum")
def _einsum(*x, equation):
    return jnp.einsum(equation, *x)


def einsum(*x, equation):
    """Einstein summation of the inputs, e.g. ``einsum(a, b, equation='ij,jk->ik')``."""
    if not x:
        raise ValueError("einsum: give at least one input")
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    n_terms = len(equation.split("->")[0].split(","))
    if n_terms != len(x):
        raise ValueError(f"einsum: equation {equation!r} has {n_terms} operands, got {len(x)} "
                         "inputs")
    return call("Einsum", list(x), dict(equation=equation))

