"""Fourier transforms: fft, ifft, stft and istft (complex values as a trailing axis of 2)."""
import jax
import jax.numpy as jnp
import numpy as np

from ._common import call, lowering


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


def _overlap_add_of_squared_window(win, n_frames, stride, length):
    """NNabla's inverse window: the overlap-add of the squared window over the frames."""
    inv = np.zeros(length)
    for start in range(0, n_frames * stride, stride):
        inv[start:start + win.size] += win * win
    return inv


def _istft_forward(y_r, y_i, window_size, stride, fft_size, window_type, center):
    win = _window(window_type, window_size, fft_size)
    cos, sin = _dft_mats(fft_size)
    alpha = np.full((fft_size // 2 + 1, 1), 2.0 / fft_size)
    alpha[0] = alpha[-1] = 1.0 / fft_size
    w_cos = jnp.asarray(alpha * cos * win, y_r.dtype)
    w_sin = jnp.asarray(alpha * sin * win, y_r.dtype)
    frames = (jnp.einsum("bkf,kt->bft", y_r, w_cos)
              - jnp.einsum("bkf,kt->bft", y_i, w_sin))
    n_frames = y_r.shape[2]
    length = (n_frames - 1) * stride + fft_size
    idx = np.arange(n_frames)[:, None] * stride + np.arange(fft_size)[None, :]
    x = jnp.zeros((y_r.shape[0], length), y_r.dtype).at[:, idx].add(frames)
    inv = _overlap_add_of_squared_window(win, n_frames, stride, length)
    if center:  # the padding is cut off; only the kept samples are divided
        half = fft_size // 2
        return x[:, half:length - half] / jnp.asarray(inv[half:length - half], y_r.dtype)
    return x / jnp.asarray(inv, y_r.dtype)


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
    """Inverse STFT by windowed overlap-add, divided by the overlap-add of the squared
    window (NOLA: it must be nonzero on every sample kept).

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
    if not as_stft_backward:  # the division by the inverse window needs it nonzero
        n_frames = y_r.shape[2]
        length = (n_frames - 1) * args["stride"] + fft_size
        win = _window(args["window_type"], window_size, fft_size)
        inv = _overlap_add_of_squared_window(win, n_frames, args["stride"], length)
        kept = inv[fft_size // 2:length - fft_size // 2] if args["center"] else inv
        bad = np.flatnonzero(kept < 1e-11)
        if bad.size:
            i = int(bad[0]) + (fft_size // 2 if args["center"] else 0)
            raise ValueError(f"{fname}: NOLA(Nonzero Overlap Add) condition is not met: "
                             f"the overlap-added squared {args['window_type']} window is "
                             f"{inv[i]} at sample {i} (window_size={window_size}, "
                             f"stride={stride}, fft_size={fft_size})")
    args["as_stft_backward"] = bool(as_stft_backward)
    return call("ISTFT", [y_r, y_i], args)
