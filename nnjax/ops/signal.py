"""Signal processing: resizing (Interpolate, ONNXResize), FFT/IFFT, STFT/ISTFT.

Resizing is separable: along each resized axis the output is a fixed linear
combination of input samples (gather + weights computed on the host from the
static shapes), so gradients are the exact transposes NNabla computes.
"""
import math

import jax
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


# ---------------------------------------------------------------- FFT
def _to_complex(x):
    return jax.lax.complex(x[..., 0], x[..., 1])


def _from_complex(z, dtype):
    return jnp.stack([jnp.real(z), jnp.imag(z)], axis=-1).astype(dtype)


@lowering("FFT")
def _fft(x, signal_ndim, normalized=False):
    axes = tuple(range(x.ndim - 1 - signal_ndim, x.ndim - 1))
    z = jnp.fft.fftn(_to_complex(x), axes=axes)
    if normalized:
        n = np.prod([x.shape[a] for a in axes])
        z = z / np.sqrt(np.float32(n))
    return _from_complex(z, x.dtype)


@lowering("IFFT")
def _ifft(x, signal_ndim, normalized=False):
    axes = tuple(range(x.ndim - 1 - signal_ndim, x.ndim - 1))
    z = jnp.fft.ifftn(_to_complex(x), axes=axes)
    if normalized:
        n = np.prod([x.shape[a] for a in axes])
        z = z * np.sqrt(np.float32(n))
    return _from_complex(z, x.dtype)


def _fft_args(fname, x, signal_ndim, normalized):
    if signal_ndim not in (1, 2, 3):
        raise ValueError(f"{fname}: signal_ndim must be 1, 2 or 3, got {signal_ndim}")
    if len(x.shape) < signal_ndim + 1 or x.shape[-1] != 2:
        raise ValueError(f"{fname}: input must have at least signal_ndim + 1 = "
                         f"{signal_ndim + 1} dimensions with a last dimension of 2 "
                         f"(real, imaginary), got shape {tuple(x.shape)}")
    return dict(signal_ndim=int(signal_ndim), normalized=bool(normalized))


def fft(x, signal_ndim, normalized=False):
    """Complex-to-complex DFT over the ``signal_ndim`` axes before the last.

    ``x[..., 0]`` holds real and ``x[..., 1]`` imaginary parts; ``normalized``
    multiplies by ``1 / sqrt(prod N_i)``.
    """
    return call("FFT", [x], _fft_args("fft", x, signal_ndim, normalized))


def ifft(x, signal_ndim, normalized=False):
    """Inverse DFT (scaled by ``1 / prod N_i``, or ``1 / sqrt(prod N_i)`` if ``normalized``)."""
    return call("IFFT", [x], _fft_args("ifft", x, signal_ndim, normalized))


# ---------------------------------------------------------------- STFT / ISTFT
def _window(window_type, window_size, fft_size):
    i = np.arange(window_size, dtype=np.float64)
    if window_type == "hanning":
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * i / window_size)
    elif window_type == "hamming":
        w = 0.54 - 0.46 * np.cos(2.0 * np.pi * i / window_size)
    else:
        w = np.ones(window_size)
    full = np.zeros(fft_size)
    left = (fft_size - window_size) // 2
    full[left:left + window_size] = w
    return full


def _dft_mats(fft_size):
    k = np.arange(fft_size // 2 + 1)[:, None]
    t = np.arange(fft_size)[None, :]
    ang = 2.0 * np.pi * k * t / fft_size
    return np.cos(ang), np.sin(ang)


def _stft_forward(x, window_size, stride, fft_size, window_type, center, pad_mode):
    if center:
        half = fft_size // 2
        x = jnp.pad(x, [(0, 0), (half, half)],
                    mode="reflect" if pad_mode == "reflect" else "constant")
    n_frames = (x.shape[1] - fft_size) // stride + 1
    idx = np.arange(n_frames)[:, None] * stride + np.arange(fft_size)[None, :]
    frames = x[:, idx] * jnp.asarray(_window(window_type, window_size, fft_size), x.dtype)
    cos, sin = _dft_mats(fft_size)
    y_r = jnp.einsum("bft,kt->bkf", frames, jnp.asarray(cos, x.dtype))
    y_i = jnp.einsum("bft,kt->bkf", frames, jnp.asarray(-sin, x.dtype))
    return y_r, y_i


def _istft_forward(y_r, y_i, window_size, stride, fft_size, window_type, center):
    win = _window(window_type, window_size, fft_size)
    inv = np.zeros(fft_size)
    for s in range(0, fft_size, stride):
        inv += np.roll(win * win, s)
    cos, sin = _dft_mats(fft_size)
    alpha = np.full((fft_size // 2 + 1, 1), 2.0 / fft_size)
    alpha[0] = alpha[-1] = 1.0 / fft_size
    w_cos = jnp.asarray(alpha * cos * win / inv, y_r.dtype)
    w_sin = jnp.asarray(alpha * sin * win / inv, y_r.dtype)
    frames = (jnp.einsum("bkf,kt->bft", y_r, w_cos)
              - jnp.einsum("bkf,kt->bft", y_i, w_sin))
    n_frames = y_r.shape[2]
    length = (n_frames - 1) * stride + fft_size
    idx = np.arange(n_frames)[:, None] * stride + np.arange(fft_size)[None, :]
    x = jnp.zeros((y_r.shape[0], length), y_r.dtype).at[:, idx].add(frames)
    if center:
        half = fft_size // 2
        x = x[:, half:length - half]
    return x


def _frames_for(length, stride, fft_size, center):
    full = length + (2 * (fft_size // 2) if center else 0)
    return (full - fft_size) // stride + 1


@lowering("STFT")
def _stft(x, window_size, stride, fft_size, window_type="hanning", center=True,
          pad_mode="reflect", as_istft_backward=False):
    if not as_istft_backward:
        return _stft_forward(x, window_size, stride, fft_size, window_type, center, pad_mode)
    n_frames = _frames_for(x.shape[1], stride, fft_size, center)
    shape = (x.shape[0], fft_size // 2 + 1, n_frames)
    zeros = jnp.zeros(shape, x.dtype)

    def istft_of(y_r, y_i):
        return _istft_forward(y_r, y_i, window_size, stride, fft_size, window_type, center)

    _, vjp = jax.vjp(istft_of, zeros, zeros)
    return vjp(x)


@lowering("ISTFT")
def _istft(y_r, y_i, window_size, stride, fft_size, window_type="hanning", center=True,
           pad_mode="reflect", as_stft_backward=False):
    if not as_stft_backward:
        return _istft_forward(y_r, y_i, window_size, stride, fft_size, window_type, center)
    full = (y_r.shape[2] - 1) * stride + fft_size
    length = full - (2 * (fft_size // 2) if center else 0)
    zeros = jnp.zeros((y_r.shape[0], length), y_r.dtype)

    def stft_of(x):
        return _stft_forward(x, window_size, stride, fft_size, window_type, center, pad_mode)

    _, vjp = jax.vjp(stft_of, zeros)
    return vjp((y_r, y_i))[0]


def _stft_args(fname, window_size, stride, fft_size, window_type, center, pad_mode):
    if window_type is None:
        window_type = "rectangular"
    if window_type not in ("hanning", "hamming", "rectangular"):
        raise ValueError(f"{fname}: unknown window_type {window_type!r}")
    if fft_size < window_size:
        raise ValueError(f"{fname}: fft_size ({fft_size}) must be at least window_size "
                         f"({window_size})")
    if stride <= 0:
        raise ValueError(f"{fname}: stride must be positive, got {stride}")
    if pad_mode not in ("reflect", "constant"):
        raise ValueError(f"{fname}: pad_mode must be 'reflect' or 'constant', got {pad_mode!r}")
    return dict(window_size=int(window_size), stride=int(stride), fft_size=int(fft_size),
                window_type=window_type, center=bool(center), pad_mode=pad_mode)


def stft(x, window_size, stride, fft_size, window_type='hanning', center=True,
         pad_mode='reflect', as_istft_backward=False):
    """Short-time Fourier transform of ``x`` (batch_size, sample_size).

    Returns ``(y_r, y_i)`` of shape (batch_size, fft_size // 2 + 1, frames).
    ``center`` pads ``fft_size // 2`` samples on both sides (``pad_mode``).
    With ``as_istft_backward`` the forward computes the adjoint of ISTFT.
    """
    fname = "stft"
    args = _stft_args(fname, window_size, stride, fft_size, window_type, center, pad_mode)
    if len(x.shape) != 2:
        raise ValueError(f"{fname}: x must be 2-D (batch_size, sample_size), got "
                         f"{tuple(x.shape)}")
    length = x.shape[1] + (2 * (fft_size // 2) if center else 0)
    if length < fft_size:
        raise ValueError(f"{fname}: signal of length {x.shape[1]} is shorter than fft_size "
                         f"{fft_size}")
    if center and pad_mode == "reflect" and x.shape[1] <= fft_size // 2:
        raise ValueError(f"{fname}: reflect padding of {fft_size // 2} needs more than "
                         f"{fft_size // 2} samples, got {x.shape[1]}")
    if as_istft_backward and args["fft_size"] % args["stride"]:
        raise ValueError(f"{fname}: fft_size must be a multiple of stride")
    args["as_istft_backward"] = bool(as_istft_backward)
    return call("STFT", [x], args)


def istft(y_r, y_i, window_size, stride, fft_size, window_type='hanning', center=True,
          pad_mode='reflect', as_stft_backward=False):
    """Inverse STFT by windowed overlap-add (inverse window: sum of shifted squared windows).

    ``pad_mode`` only matters with ``as_stft_backward`` (the adjoint of STFT).
    """
    fname = "istft"
    args = _stft_args(fname, window_size, stride, fft_size, window_type, center, pad_mode)
    if args["fft_size"] % args["stride"]:
        raise ValueError(f"{fname}: fft_size ({fft_size}) must be a multiple of stride "
                         f"({stride})")
    if tuple(y_r.shape) != tuple(y_i.shape) or len(y_r.shape) != 3:
        raise ValueError(f"{fname}: y_r {tuple(y_r.shape)} and y_i {tuple(y_i.shape)} must be "
                         "3-D arrays of the same shape")
    if y_r.shape[1] != fft_size // 2 + 1:
        raise ValueError(f"{fname}: y_r has {y_r.shape[1]} frequency bins, expected "
                         f"fft_size // 2 + 1 = {fft_size // 2 + 1}")
    args["as_stft_backward"] = bool(as_stft_backward)
    return call("ISTFT", [y_r, y_i], args)
