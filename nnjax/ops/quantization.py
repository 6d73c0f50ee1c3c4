"""Quantizers with STE gradients: fixed-point, pow2, min-max, prune, quantize/dequantize linear."""
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._variable import Variable
from ._common import call, lowering


def _round_half_away(v):
    """C's ``round``: halves away from zero (``jnp.round`` rounds halves to even)."""
    return jnp.sign(v) * jnp.floor(jnp.abs(v) + 0.5)


def _ste(value, x):
    """``value`` in forward, identity gradient to ``x``."""
    return x + lax.stop_gradient(value - x)


def _link_outputs(result, outputs):
    """Graph mode ``outputs=[ndarray]``: the output variable shares that NdArray, so the
    forward writes into it (how the quantized PF layers fill ``W_q``)."""
    if outputs is None or not isinstance(result, Variable):
        return result
    for var, arr in zip([result], outputs):
        if arr is not None:
            var.data = arr
    return result


# ---------------------------------------------------------------- fixed point / pow2
def _masked_ste(value, x, keep):
    """``value`` in forward; gradient ``g`` where ``keep`` else 0."""
    return lax.stop_gradient(value) + (x - lax.stop_gradient(x)) * keep.astype(x.dtype)


@lowering("FixedPointQuantize")
def _fixed_point_quantize(x, sign=True, n=8, delta=0.0625, ste_fine_grained=True):
    bits = n - 1 if sign else n
    q_max = (2.0 ** bits - 1) * delta
    q_min = -q_max if sign else 0.0
    xs = lax.stop_gradient(x)
    inner = jnp.sign(xs) * jnp.floor(jnp.abs(xs) / delta + 0.5) * delta
    y = jnp.where(xs > q_max, q_max, jnp.where(xs < q_min, q_min, inner)).astype(x.dtype)
    if ste_fine_grained:
        return _masked_ste(y, x, (xs >= q_min) & (xs <= q_max))
    return _ste(y, x)


@lowering("Pow2Quantize")
def _pow2_quantize(x, sign=True, with_zero=True, n=8, m=1, ste_fine_grained=True):
    bits = n - 1 if sign else n
    bits = bits - 1 if with_zero else bits
    p_max = 2.0 ** m
    p_min = 2.0 ** (m - ((1 << bits) - 1))
    thresh = p_min * 2.0 ** -0.5
    xs = lax.stop_gradient(x)
    a = jnp.abs(xs)
    q0 = 2.0 ** _round_half_away(jnp.log2(a))
    q = jnp.where(q0 > p_max, p_max, q0)
    if with_zero:
        q = jnp.where(q0 < p_min, jnp.where(a < thresh, 0.0, p_min), q)
    else:
        q = jnp.where(q0 < p_min, p_min, q)
    neg = xs < 0
    if sign:
        q = jnp.where(neg, -q, q)
    else:
        q = jnp.where(neg, 0.0 if with_zero else p_min, q)
    y = q.astype(x.dtype)
    if not ste_fine_grained:
        return _ste(y, x)
    keep = q0 <= p_max
    if not sign:
        keep = keep & ~neg
    return _masked_ste(y, x, keep)


def fixed_point_quantize(x, sign=True, n=8, delta=2**-4, quantize=True, ste_fine_grained=True,
                         outputs=None):
    """Uniform quantization to steps of ``delta`` with ``n`` bits (one for the sign).

    Values beyond ``+-(2**(n-1) - 1) * delta`` (``[0, (2**n - 1) * delta]``
    unsigned) are clipped; the STE gradient is 1 (0 outside that range when
    ``ste_fine_grained``). ``quantize=False`` returns ``x`` unchanged.
    """
    fname = "fixed_point_quantize"
    if not quantize:
        return x
    bits = n - 1 if sign else n
    if n <= 0 or delta <= 0 or bits <= 0:
        raise ValueError(f"{fname}: n (minus the sign bit) and delta must be positive, got "
                         f"n={n}, sign={sign}, delta={delta}")
    y = call("FixedPointQuantize", [x], dict(sign=bool(sign), n=int(n), delta=float(delta),
                                             ste_fine_grained=bool(ste_fine_grained)), outputs)
    return _link_outputs(y, outputs)


def pow2_quantize(x, sign=True, with_zero=True, n=8, m=1, quantize=True, ste_fine_grained=True,
                  outputs=None):
    """Quantization to signed powers of two ``2**round(log2|x|)`` in
    ``[2**(m - (2**k - 1)), 2**m]`` (k bits after the sign and zero bits); values
    below the pruning threshold ``min * 2**-0.5`` become 0 when ``with_zero``."""
    fname = "pow2_quantize"
    if not quantize:
        return x
    bits = (n - 1 if sign else n) - (1 if with_zero else 0)
    if n <= 0 or bits <= 0:
        raise ValueError(f"{fname}: bit width n={n} leaves no bits after the sign and zero bits")
    y = call("Pow2Quantize", [x], dict(sign=bool(sign), with_zero=bool(with_zero), n=int(n),
                                       m=int(m), ste_fine_grained=bool(ste_fine_grained)),
             outputs)
    return _link_outputs(y, outputs)


# ---------------------------------------------------------------- min-max quantization
def _reduce_axes(ql_shape):
    return tuple(i for i, s in enumerate(ql_shape) if s == 1)


@lowering("MinMaxQuantize", state_inputs=(1, 2), prior_state_grad=True)
def _min_max_quantize(x, qr_min, qr_max, ql_min, ql_max, decay=0.999, x_min_max=False,
                      ema=False, ste_fine_grained=True, eps=0.01):
    axes = _reduce_axes(ql_min.shape)
    xs = lax.stop_gradient(x)
    qr_min_in, qr_max_in = qr_min, qr_max
    if x_min_max:
        x_lo = jnp.min(xs, axis=axes, keepdims=True)
        x_hi = jnp.max(xs, axis=axes, keepdims=True)
        if ema:
            qr_min = lax.stop_gradient(decay * qr_min + (1 - decay) * x_lo)
            qr_max = lax.stop_gradient(decay * qr_max + (1 - decay) * x_hi)
        else:
            qr_min, qr_max = x_lo, x_hi
    elif ema:
        qr_min, qr_max = lax.stop_gradient(qr_min), lax.stop_gradient(qr_max)
    # keep qr_max - qr_min >= eps (written back, as NNabla does in place)
    qr_max = jnp.where(lax.stop_gradient(qr_max - qr_min) < eps, qr_min + eps, qr_max)
    new_min, new_max = lax.stop_gradient(qr_min), lax.stop_gradient(qr_max)
    ql_lo, ql_hi = lax.stop_gradient(ql_min), lax.stop_gradient(ql_max)

    # the barrier keeps XLA from rewriting a / (b / c) as a * c / b, which changes the
    # float32 rounding NNabla's zero point depends on
    scale = lax.optimization_barrier((new_max - new_min) / (ql_hi - ql_lo))
    zp_f = ql_lo - new_min / scale
    zp = jnp.where(zp_f <= ql_lo, ql_lo, jnp.where(zp_f >= ql_hi, ql_hi, _round_half_away(zp_f)))
    lo = (ql_lo - zp) * scale
    hi = (ql_hi - zp) * scale
    y = _round_half_away((jnp.clip(xs, lo, hi) - lo) / scale) * scale + lo
    y = y.astype(x.dtype)
    keep = ((xs >= lo) & (xs <= hi)) if ste_fine_grained else jnp.ones(xs.shape, bool)
    y = _masked_ste(y, x, keep)
    if not x_min_max and not ema:
        # trained ranges: d/d qr_min sums the gradient of the elements clipped below,
        # d/d qr_max of those clipped above (over the broadcast axes)
        y = y + (qr_min_in - lax.stop_gradient(qr_min_in)) * (xs < lo).astype(x.dtype)
        y = y + (qr_max_in - lax.stop_gradient(qr_max_in)) * (xs > hi).astype(x.dtype)
    return y, new_min, new_max


def min_max_quantize(x, qr_min, qr_max, ql_min, ql_max, decay=0.999, x_min_max=False, ema=False,
                     ste_fine_grained=True, eps=0.01, quantize=True, outputs=None):
    """Uniform quantization of ``x`` between the (nudged) ranges ``qr_min``/``qr_max`` onto
    the levels ``ql_min..ql_max``.

    With ``x_min_max`` the ranges come from ``min(x)``/``max(x)`` (their moving
    average with ``ema``) and are written back to ``qr_min``/``qr_max``; with
    neither, ``qr_min``/``qr_max`` are trained (gradients from the clipped
    elements). Reduction axes are those where ``ql_min`` has size 1.
    """
    fname = "min_max_quantize"
    if not quantize:
        return x
    shapes = [tuple(v.shape) for v in (qr_min, qr_max, ql_min, ql_max)]
    if len(set(shapes)) != 1:
        raise ValueError(f"{fname}: qr_min, qr_max, ql_min and ql_max must have the same shape, "
                         f"got {shapes}")
    if len(shapes[0]) != len(x.shape):
        raise ValueError(f"{fname}: the ranges must have as many dimensions as x "
                         f"{tuple(x.shape)}, got {shapes[0]}")
    for i, (s, xs) in enumerate(zip(shapes[0], x.shape)):
        if s != 1 and s != xs:
            raise ValueError(f"{fname}: range dimension {i} must be 1 or {xs}, got {s}")
    args = dict(decay=float(decay), x_min_max=bool(x_min_max), ema=bool(ema),
                ste_fine_grained=bool(ste_fine_grained), eps=float(eps))
    y = call("MinMaxQuantize", [x, qr_min, qr_max, ql_min, ql_max], args, outputs)
    return _link_outputs(y, outputs)


# ---------------------------------------------------------------- prune
@lowering("Prune")
def _prune(x, rate=0.9):
    xs = lax.stop_gradient(x)
    a = jnp.abs(xs).reshape(-1)
    idx = int((x.size - 1) * rate)
    thresh = jnp.sort(a)[idx] + (1.0 if rate == 1.0 else 0.0)
    return _ste(jnp.where(jnp.abs(xs) < thresh, jnp.zeros_like(xs), xs), x)


def prune(x, rate=0.9, outputs=None):
    """Zero the elements with ``|x|`` below the ``rate`` quantile of ``|x|``
    (``sort(|x|)[int((size - 1) * rate)]``); the gradient passes unchanged."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"prune: rate must be in [0, 1], got {rate}")
    y = call("Prune", [x], dict(rate=float(rate)), outputs)
    return _link_outputs(y, outputs)


# ---------------------------------------------------------------- ONNX-style linear quantization
_INT_RANGES = {1: (-128, 127), 2: (0, 255)}  # NumPy type numbers: 1 = int8, 2 = uint8


def _round_mode(v, mode):
    return jnp.round(v) if mode == "HALF_TO_EVEN" else _round_half_away(v)


@lowering("QuantizeLinear")
def _quantize_linear(x, scale, zero_point, round_mode="HALF_AWAY_FROM_ZERO", narrow_range=False,
                     dtype=1):
    lo, hi = _INT_RANGES[dtype]
    lo = lo + 1 if narrow_range else lo
    s = lax.stop_gradient(scale)
    zp = jnp.clip(_round_mode(lax.stop_gradient(zero_point), round_mode), lo, hi)
    xs = lax.stop_gradient(x)
    y = jnp.clip(_round_mode(xs / s, round_mode) + zp, lo, hi).astype(x.dtype)
    return y + (x - xs) / s  # value y, gradient g / scale


@lowering("DequantizeLinear")
def _dequantize_linear(x, scale, zero_point):
    return (x - lax.stop_gradient(zero_point)) * lax.stop_gradient(scale)


def _np_dtype_number(dtype):
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        return int(dtype)
    return int(np.dtype(dtype).num)


def _linear_q_check(fname, x, scale, zero_point):
    for name, v in (("scale", scale), ("zero_point", zero_point)):
        if len(v.shape) != len(x.shape):
            raise ValueError(f"{fname}: {name} of shape {tuple(v.shape)} must have as many "
                             f"dimensions as x {tuple(x.shape)}")
        for i, (s, xs) in enumerate(zip(v.shape, x.shape)):
            if s != 1 and s != xs:
                raise ValueError(f"{fname}: {name} dimension {i} must be 1 or {xs}, got {s}")


def quantize_linear(x, scale, zero_point, round_mode="HALF_AWAY_FROM_ZERO", narrow_range=False,
                    dtype=np.int8):
    """``saturate(round(x / scale) + zero_point)`` in the range of ``dtype`` (int8 or uint8),
    stored as float; ``narrow_range`` drops the lowest level. Gradient: ``g / scale``."""
    fname = "quantize_linear"
    _linear_q_check(fname, x, scale, zero_point)
    if round_mode not in ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN"):
        raise ValueError(f"{fname}: round_mode must be 'HALF_AWAY_FROM_ZERO' or "
                         f"'HALF_TO_EVEN', got {round_mode!r}")
    number = _np_dtype_number(dtype)
    if number not in _INT_RANGES:
        raise ValueError(f"{fname}: dtype must be numpy.int8 or numpy.uint8, got {dtype!r}")
    return call("QuantizeLinear", [x, scale, zero_point],
                dict(round_mode=round_mode, narrow_range=bool(narrow_range), dtype=number))


def dequantize_linear(x, scale, zero_point):
    """``(x - zero_point) * scale``."""
    _linear_q_check("dequantize_linear", x, scale, zero_point)
    return call("DequantizeLinear", [x, scale, zero_point], {})
