"""Resizing: interpolate and onnx_resize (nearest, linear and cubic modes).

Resizing is separable: along each resized axis the output is a fixed linear
combination of input samples (gather + weights computed on the host from the
static shapes), so gradients are the exact transposes NNabla computes.
"""
import math

import jax.numpy as jnp
import numpy as np

from ._common import call, lowering


_F32 = np.float32


def _combine(x, axis, taps):
    """sum_k weight_k[o] * x[..., idx_k[o], ...] along ``axis``; taps: [(idx, weight)]."""
    out = None
    shape = [1] * x.ndim
    shape[axis] = -1
    for idx, w in taps:
        term = jnp.take(x, jnp.asarray(idx, jnp.int32), axis=axis)
        term = term * jnp.asarray(w, x.dtype).reshape(shape)
        out = term if out is None else out + term
    return out


# ---------------------------------------------------------------- Interpolate
def _interp_scale(isize, osize, align_corners):
    if osize <= 1:
        return _F32(0.0)
    if align_corners:
        return _F32(isize - 1) / _F32(osize - 1)
    return _F32(isize) / _F32(osize)


def _interp_src(scale, osize, half_pixel):
    o = np.arange(osize, dtype=_F32)
    if half_pixel:
        return np.maximum(_F32(0.0), scale * (o + _F32(0.5)) - _F32(0.5)).astype(_F32)
    return (scale * o).astype(_F32)


def _linear_taps(isize, osize, align_corners, half_pixel):
    f = _interp_src(_interp_scale(isize, osize, align_corners), osize, half_pixel)
    i0 = f.astype(np.int64)
    i1 = np.minimum(i0 + 1, isize - 1)
    l1 = (f - i0).astype(_F32)
    return [(i0, (_F32(1) - l1)), (i1, l1)]


def _nearest_taps(isize, osize, align_corners, half_pixel, half_pixel_for_nn):
    if half_pixel_for_nn:
        scale = _F32(isize) / _F32(osize)
        f = (scale * (np.arange(osize, dtype=_F32) + _F32(0.5))).astype(_F32)
    else:
        f = _interp_src(_interp_scale(isize, osize, align_corners), osize, half_pixel)
    idx = np.minimum(f.astype(np.int64), isize - 1)
    return [(idx, np.ones(osize, _F32))]


@lowering("Interpolate")
def _interpolate(x, output_size, mode, align_corners=True, half_pixel=False,
                 half_pixel_for_nn=False, channel_last=False):
    nd = len(output_size)
    first = x.ndim - nd - (1 if channel_last else 0)
    y = x
    for d, osize in enumerate(output_size):
        axis = first + d
        isize = x.shape[axis]
        if mode == "linear":
            taps = _linear_taps(isize, osize, align_corners, half_pixel)
        else:
            taps = _nearest_taps(isize, osize, align_corners, half_pixel, half_pixel_for_nn)
        y = _combine(y, axis, taps)
    return y


def interpolate(x, scale=None, output_size=None, mode='linear', align_corners=False,
                half_pixel=False, half_pixel_for_nn=False, channel_last=False):
    """Resize the last ``len(output_size)`` spatial axes ('linear' or 'nearest').

    ``output_size`` is ``floor(scale[i] * size[i])`` when ``scale`` is given.
    Coordinate transform: ``align_corners`` maps corner to corner
    (``o * (I - 1) / (O - 1)``); ``half_pixel`` uses ``(o + 0.5) * I / O - 0.5``;
    otherwise ``o * I / O``. ``half_pixel_for_nn`` selects the pre-1.8
    nearest rule ``(o + 0.5) * I / O``. ``mode='cubic'`` is not a mode of
    NNabla's Interpolate; it is served by :func:`onnx_resize` (cubic, a=-0.75)
    with the matching coordinate transform.
    """
    fname = "interpolate"
    if scale is None and output_size is None:
        raise ValueError(f"{fname}: either scale or output_size must be given")
    if align_corners and half_pixel:
        raise ValueError(f"{fname}: align_corners=True and half_pixel=True are not supported "
                         "together")
    n_sp = len(output_size) if output_size is not None else len(scale)
    if not 1 <= n_sp <= 3:
        raise ValueError(f"{fname}: only 1-D, 2-D and 3-D interpolation are supported, got "
                         f"{n_sp} spatial dimensions")
    if len(x.shape) < n_sp + (1 if channel_last else 0):
        raise ValueError(f"{fname}: input of shape {tuple(x.shape)} has fewer dimensions than "
                         f"the {n_sp} spatial dimensions to resize")
    if output_size is None:
        in_size = x.shape[-n_sp - 1:-1] if channel_last else x.shape[-n_sp:]
        output_size = [int(math.floor(s * d)) for d, s in zip(in_size, scale)]
    output_size = [int(s) for s in output_size]
    if any(s <= 0 for s in output_size):
        raise ValueError(f"{fname}: output_size must be positive, got {output_size}")
    if mode == "cubic":
        first = len(x.shape) - n_sp - (1 if channel_last else 0)
        sizes = list(x.shape)
        sizes[first:first + n_sp] = output_size
        coord = ("align_corners" if align_corners else
                 "pytorch_half_pixel" if half_pixel else "asymmetric")
        return onnx_resize(x, sizes=sizes, mode="cubic",
                           coordinate_transformation_mode=coord, cubic_coeff_a=-0.75)
    if mode not in ("linear", "nearest"):
        raise ValueError(f"{fname}: mode must be 'linear' or 'nearest', got {mode!r}")
    args = dict(output_size=output_size, mode=mode, align_corners=bool(align_corners),
                half_pixel=bool(half_pixel), half_pixel_for_nn=bool(half_pixel_for_nn),
                channel_last=bool(channel_last))
    return call("Interpolate", [x], args)


# ---------------------------------------------------------------- ONNXResize
_COORD_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_half_pixel_for_nn", "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _onnx_src(coord, scale, osize, isize, roi, dim, ndim):
    xr = np.arange(osize, dtype=_F32)
    lr, lo = _F32(osize), _F32(isize)
    scale = _F32(scale)
    if coord == "half_pixel":
        f = (xr + _F32(0.5)) / scale - _F32(0.5)
    elif coord == "pytorch_half_pixel":
        f = (xr + _F32(0.5)) / scale - _F32(0.5) if lr > 1 else np.zeros_like(xr)
    elif coord == "align_corners":
        f = np.zeros_like(xr) if lr == 1 else xr * (lo - 1) / (lr - 1)
    elif coord == "asymmetric":
        f = xr / scale
    elif coord == "tf_half_pixel_for_nn":
        f = (xr + _F32(0.5)) / scale
    else:  # tf_crop_and_resize
        start, end = _F32(roi[dim]), _F32(roi[ndim + dim])
        if lr > 1:
            f = start * (lo - 1) + xr * (end - start) * (lo - 1) / (lr - 1)
        else:
            f = np.full_like(xr, _F32(0.5) * (start + end) * (lo - 1))
    return f.astype(_F32)


def _round_half_away(f):
    return np.where(f >= 0, np.floor(f + 0.5), np.ceil(f - 0.5))


def _round_nearest(f, mode):
    """NNabla's rounding: 'round_prefer_ceil' is C's round (halves away from zero)."""
    if mode == "round_prefer_ceil":
        return _round_half_away(f)
    if mode == "floor":
        return np.floor(f)
    if mode == "ceil":
        return np.ceil(f)
    half = f == np.floor(f) + _F32(0.5)
    return np.where(half, np.floor(f), _round_half_away(f))


def _cubic_coeffs(f, isize, a, exclude_outside):
    lx = (f - np.floor(f)).astype(_F32)

    def c01(t):
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1

    def c12(t):
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a

    cs = [c12(1 + lx), c01(lx), c01(1 - lx), c12(2 - lx)]
    if exclude_outside:
        base = np.floor(f).astype(np.int64)
        cs = [np.where((base + k - 1 < 0) | (base + k - 1 >= isize), 0.0, c)
              for k, c in enumerate(cs)]
        total = sum(cs)
        cs = [c / total for c in cs]
    return [np.asarray(c, _F32) for c in cs]


@lowering("ONNXResize")
def _onnx_resize(x, roi=(), scales=(), sizes=(), mode="nearest",
                 coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75,
                 exclude_outside=0, extrapolation_value=0.0, nearest_mode="round_prefer_floor"):
    ndim = x.ndim
    if len(sizes):
        out_shape = [int(s) for s in sizes]
        actual = [_F32(o) / _F32(i) for o, i in zip(out_shape, x.shape)]
    else:
        actual = [_F32(s) for s in scales]
        out_shape = [int(math.floor(_F32(i) * s)) for i, s in zip(x.shape, actual)]
    coord = coordinate_transformation_mode
    y = x
    outside = None
    for dim in range(ndim):
        if actual[dim] == 1:
            continue
        isize, osize = x.shape[dim], out_shape[dim]
        f = _onnx_src(coord, actual[dim], osize, isize, roi, dim, ndim)
        if mode == "nearest":
            idx = np.clip(_round_nearest(f, nearest_mode).astype(np.int64), 0, isize - 1)
            taps = [(idx, np.ones(osize, _F32))]
        elif mode == "linear":
            base = np.floor(f).astype(np.int64)
            i0 = np.clip(base, 0, isize - 1)
            i1 = np.clip(base + 1, 0, isize - 1)
            l1 = (f - i0).astype(_F32)
            taps = [(i0, _F32(1) - l1), (i1, l1)]
        else:
            base = np.floor(f).astype(np.int64)
            coeffs = _cubic_coeffs(f, isize, _F32(cubic_coeff_a), bool(exclude_outside))
            taps = [(np.clip(base + k - 1, 0, isize - 1), c) for k, c in enumerate(coeffs)]
        y = _combine(y, dim, taps)
        if coord == "tf_crop_and_resize":
            out_d = (f < 0) | (f > isize - 1)
            shape = [1] * ndim
            shape[dim] = osize
            out_d = np.reshape(out_d, shape)
            outside = out_d if outside is None else (outside | out_d)
    if outside is not None:
        y = jnp.where(jnp.asarray(outside), jnp.asarray(extrapolation_value, y.dtype), y)
    return y


def onnx_resize(x, roi=(), scales=(), sizes=(), mode='nearest',
                coordinate_transformation_mode='half_pixel', cubic_coeff_a=-0.75,
                exclude_outside=0, extrapolation_value=0.0, nearest_mode='round_prefer_floor'):
    """Resize with ONNX Resize semantics (modes 'nearest', 'linear', 'cubic').

    Give exactly one of ``scales`` or ``sizes`` (one entry per input axis).
    Up to 3 trailing axes may be resized (the axes from the first scale
    different from 1 to the last).
    """
    fname = "onnx_resize"
    ndim = len(x.shape)
    roi = [float(r) for r in roi]
    scales = [float(s) for s in scales]
    sizes = [int(s) for s in sizes]
    if bool(len(sizes)) == bool(len(scales)):
        raise ValueError(f"{fname}: exactly one of sizes and scales must be given")
    if sizes and len(sizes) != ndim:
        raise ValueError(f"{fname}: sizes {sizes} must have one entry per input dimension "
                         f"(input shape {tuple(x.shape)})")
    if scales and len(scales) != ndim:
        raise ValueError(f"{fname}: scales {scales} must have one entry per input dimension "
                         f"(input shape {tuple(x.shape)})")
    if coordinate_transformation_mode not in _COORD_MODES:
        raise ValueError(f"{fname}: coordinate_transformation_mode "
                         f"{coordinate_transformation_mode!r} is not supported")
    if mode not in ("nearest", "linear", "cubic"):
        raise ValueError(f"{fname}: mode {mode!r} is not supported")
    if mode == "nearest" and nearest_mode not in _NEAREST_MODES:
        raise ValueError(f"{fname}: nearest_mode {nearest_mode!r} is not supported")
    actual = ([_F32(o) / _F32(i) for o, i in zip(sizes, x.shape)] if sizes
              else [_F32(s) for s in scales])
    outer = 0
    for s in actual:
        if s != 1:
            break
        outer += 1
    if not 1 <= ndim - outer <= 3:
        raise ValueError(f"{fname}: only 1-D, 2-D and 3-D resizing is supported (input shape "
                         f"{tuple(x.shape)}, scales {[float(s) for s in actual]})")
    if coordinate_transformation_mode == "tf_crop_and_resize":
        if len(roi) != 2 * ndim:
            raise ValueError(f"{fname}: roi must have {2 * ndim} values, got {len(roi)}")
        for i in range(outer):
            if roi[i] != 0.0 or roi[ndim + i] != 1.0:
                raise ValueError(f"{fname}: roi of non-resized dimensions must be (0, 1)")
    args = dict(roi=roi, scales=scales, sizes=sizes, mode=mode,
                coordinate_transformation_mode=coordinate_transformation_mode,
                cubic_coeff_a=float(cubic_coeff_a), exclude_outside=int(exclude_outside),
                extrapolation_value=float(extrapolation_value), nearest_mode=nearest_mode)
    return call("ONNXResize", [x], args)
