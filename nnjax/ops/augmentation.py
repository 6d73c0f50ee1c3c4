"""Random per-sample augmentation: random_crop, random_flip, random_shift, random_erase."""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import (as_shape, batch_size, call, check_base_axis_index, check_seed, lowering,
                      norm_axis)


# ---------------------------------------------------------------- RandomCrop
@lowering("RandomCrop", rng=True)
def _random_crop(key, x, shape, base_axis=1, seed=-1):
    ndim = x.ndim
    offset = ndim - len(shape)
    out_shape = list(x.shape)
    for i, s in enumerate(shape):
        out_shape[offset + i] = s
    b = batch_size(out_shape, base_axis)
    draws = jax.random.randint(key, (base_axis + b * (ndim - base_axis),), 0, 1 << 30)
    # crop of the sample axes themselves (one offset shared by all samples)
    starts = []
    for d in range(base_axis):
        starts.append(draws[d] % (x.shape[d] - out_shape[d] + 1))
    if base_axis:
        x = lax.dynamic_slice(x, starts + [jnp.zeros((), jnp.int32)] * (ndim - base_axis),
                              out_shape[:base_axis] + list(x.shape[base_axis:]))
    inner_in = x.shape[base_axis:]
    inner_out = tuple(out_shape[base_axis:])
    limits = jnp.asarray([i - o + 1 for i, o in zip(inner_in, inner_out)], jnp.int32)
    offsets = draws[base_axis:].reshape((b, len(inner_in))) % limits
    xs = x.reshape((b,) + tuple(inner_in))
    ys = jax.vmap(lambda xi, oi: lax.dynamic_slice(xi, list(oi), inner_out))(xs, offsets)
    return ys.reshape(tuple(out_shape))


def random_crop(x, shape=None, base_axis=1, seed=-1):
    """Crop a random window of size ``shape`` (the last ``len(shape)`` axes) per sample."""
    fname = "random_crop"
    base_axis = check_base_axis_index(base_axis, len(x.shape), fname)
    shape = list(x.shape) if shape is None else as_shape(shape, fname)
    if len(shape) > len(x.shape):
        raise ValueError(f"{fname}: shape {tuple(shape)} has more dimensions than the input "
                         f"{tuple(x.shape)}")
    offset = len(x.shape) - len(shape)
    for i, s in enumerate(shape):
        if s > x.shape[offset + i]:
            raise ValueError(f"{fname}: shape {tuple(shape)} must not exceed the input shape "
                             f"{tuple(x.shape)}")
    return call("RandomCrop", [x], dict(shape=shape, base_axis=base_axis,
                                        seed=check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomFlip
@lowering("RandomFlip", rng=True)
def _random_flip(key, x, axes, base_axis=1, seed=-1):
    b = batch_size(x.shape, base_axis)
    flags = jax.random.bernoulli(key, 0.5, (len(axes), b))
    bshape = x.shape[:base_axis] + (1,) * (x.ndim - base_axis)
    y = x
    for i, a in enumerate(axes):
        # a sample axis is flipped as a whole, by the first sample's draw (as NNabla does)
        flag = flags[i][0] if a < base_axis else flags[i].reshape(bshape)
        y = jnp.where(flag, jnp.flip(y, axis=a), y)
    return y


def random_flip(x, axes=None, base_axis=1, seed=-1):
    """Reverse each of ``axes`` with probability 1/2, independently per sample."""
    fname = "random_flip"
    base_axis = check_base_axis_index(base_axis, len(x.shape), fname)
    if axes is None:
        axes = [len(x.shape) - 1]
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    axes = [norm_axis(a, len(x.shape), fname, "axes") for a in axes]
    return call("RandomFlip", [x], dict(axes=axes, base_axis=base_axis,
                                        seed=check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomShift
def _shift_index(n, s, border_mode):
    """Source index of each output index for a shift ``s`` (traced int)."""
    src = jnp.arange(n) - s
    if border_mode == "reflect":
        if n == 1:
            return jnp.zeros_like(src), None
        a = jnp.abs(src + 2 * n) % (2 * n)
        return jnp.where(a >= n, 2 * n - 1 - a, a), None
    valid = (src >= 0) & (src < n)
    return jnp.clip(src, 0, n - 1), valid


@lowering("RandomShift", rng=True)
def _random_shift(key, x, shifts, border_mode="nearest", constant_value=0.0, base_axis=1,
                  seed=-1):
    ndim = x.ndim
    b = batch_size(x.shape, base_axis)
    inner = x.shape[base_axis:]
    # shifts align with the trailing axes
    per_axis = [0] * ndim
    for i, s in enumerate(shifts):
        per_axis[ndim - len(shifts) + i] = int(s)
    draws = jax.random.randint(key, (b, ndim), 0, 1 << 30)

    def one(xi, di):
        y = xi
        mask = None
        for d in range(base_axis, ndim):
            smax = per_axis[d]
            if smax == 0:
                continue
            s = di[d] % (2 * smax + 1) - smax
            idx, valid = _shift_index(x.shape[d], s, border_mode)
            y = jnp.take(y, idx, axis=d - base_axis)
            if border_mode == "constant":
                shape = [1] * len(inner)
                shape[d - base_axis] = -1
                v = valid.reshape(shape)
                mask = v if mask is None else (mask & v)
        if mask is not None:
            y = jnp.where(mask, y, jnp.asarray(constant_value, y.dtype))
        return y

    ys = jax.vmap(one)(x.reshape((b,) + inner), draws)
    return ys.reshape(x.shape)


def random_shift(x, shifts=None, border_mode='nearest', constant_value=0, base_axis=1,
                 seed=-1):
    """Shift each sample by a random amount in ``[-shifts[i], shifts[i]]`` per axis.

    ``shifts`` align with the trailing axes. Border values: 'nearest' repeats
    the edge, 'reflect' mirrors, 'constant' uses ``constant_value``. Samples are
    the indices of the axes before ``base_axis`` (negative: counted from the end);
    shifts given for those axes are ignored (NNabla shifts them too, with the draw
    of the sample the loop is at).
    """
    fname = "random_shift"
    base_axis = check_base_axis_index(base_axis, len(x.shape), fname)
    if shifts is None:
        shifts = [0] * len(x.shape)
    if isinstance(shifts, (int, np.integer)):
        shifts = [shifts]
    shifts = [int(s) for s in shifts]
    if len(shifts) > len(x.shape) or any(s < 0 for s in shifts):
        raise ValueError(f"{fname}: shifts {shifts} must be non-negative with at most "
                         f"{len(x.shape)} entries")
    if border_mode not in ("nearest", "reflect", "constant"):
        raise ValueError(f"{fname}: border_mode must be 'nearest', 'reflect' or 'constant', "
                         f"got {border_mode!r}")
    return call("RandomShift", [x], dict(shifts=shifts, border_mode=border_mode,
                                         constant_value=float(constant_value),
                                         base_axis=base_axis, seed=check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomErase
@lowering("RandomErase", rng=True)
def _random_erase(key, x, prob=0.5, area_ratios=(0.02, 0.4), aspect_ratios=(0.3, 3.3333),
                  replacements=(0.0, 255.0), n=1, share=True, inplace=False, base_axis=1,
                  seed=-1, channel_last=False, ste_fine_grained=True):
    shape = x.shape
    b = batch_size(shape, base_axis)
    if channel_last:
        h, w, c = shape[base_axis], shape[base_axis + 1], shape[base_axis + 2]
    else:
        c, h, w = shape[base_axis], shape[base_axis + 1], shape[base_axis + 2]
    per = (b,) if share else (b, c)
    # one draw for the rectangle parameters and the replacement values
    n_rect = 5 * n * int(np.prod(per))
    u_all = jax.random.uniform(key, (n_rect + n * b * c * h * w,))
    u = u_all[:n_rect].reshape((5, n) + per)
    area = h * w
    se = (area_ratios[0] + u[0] * (area_ratios[1] - area_ratios[0])) * area
    re = aspect_ratios[0] + u[1] * (aspect_ratios[1] - aspect_ratios[0])
    he = jnp.minimum(jnp.floor(jnp.sqrt(se * re)), h).astype(jnp.int32)
    we = jnp.minimum(jnp.floor(jnp.sqrt(se / re)), w).astype(jnp.int32)
    eprob = u[2]
    ys = (u[3] * (h - he + 1)).astype(jnp.int32)
    xs = (u[4] * (w - we + 1)).astype(jnp.int32)
    ye, xe = ys + he, xs + we  # inclusive ends, as NNabla compares h <= ye
    if share:
        def expand(v):  # (n, b) -> (n, b, 1, 1, 1)
            return v[:, :, None, None, None]
    else:
        def expand(v):  # (n, b, c) -> (n, b, c, 1, 1)
            return v[:, :, :, None, None]
    hh = jnp.arange(h)[:, None]
    ww = jnp.arange(w)[None, :]
    inside = ((expand(eprob) <= prob)
              & (expand(ys) <= hh) & (hh <= expand(ye))
              & (expand(xs) <= ww) & (ww <= expand(xe)))
    inside = jnp.broadcast_to(inside, (n, b, c, h, w))
    values = (replacements[0] + u_all[n_rect:].reshape((n, b, c, h, w))
              * (replacements[1] - replacements[0])).astype(x.dtype)
    if channel_last:
        inside = jnp.moveaxis(inside, 2, -1)
        values = jnp.moveaxis(values, 2, -1)
    xb = x.reshape((b,) + inside.shape[2:])
    y = xb
    for i in range(n):
        y = jnp.where(inside[i], values[i], y)
    y = y.reshape(shape)
    if not ste_fine_grained:
        return x + lax.stop_gradient(y - x)
    return y


def random_erase(x, prob=0.5, area_ratios=(0.02, 0.4), aspect_ratios=(0.3, 3.3333),
                 replacements=(0.0, 255.0), n=1, share=True, inplace=False, base_axis=1,
                 seed=-1, channel_last=False, ste_fine_grained=True):
    """Erase up to ``n`` random rectangles per sample (and per channel unless ``share``),
    each with probability ``prob``, filling them with ``U(replacements)`` values.

    Backward passes the gradient outside the erased regions
    (``ste_fine_grained``) or everywhere.
    """
    fname = "random_erase"
    base_axis = check_base_axis_index(base_axis, len(x.shape), fname)
    if len(x.shape) - base_axis != 3:
        raise ValueError(f"{fname}: input {tuple(x.shape)} must have exactly 3 dimensions "
                         f"(C, H, W) after base_axis={base_axis}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"{fname}: prob must be in [0, 1], got {prob}")
    for name, v in (("area_ratios", area_ratios), ("aspect_ratios", aspect_ratios),
                    ("replacements", replacements)):
        if len(v) != 2:
            raise ValueError(f"{fname}: {name} must have 2 values, got {tuple(v)}")
    if n is None:
        n = 1
    if int(n) <= 0:
        raise ValueError(f"{fname}: n must be positive, got {n}")
    args = dict(prob=float(prob), area_ratios=[float(v) for v in area_ratios],
                aspect_ratios=[float(v) for v in aspect_ratios],
                replacements=[float(v) for v in replacements], n=int(n), share=bool(share),
                inplace=bool(inplace), base_axis=base_axis, seed=check_seed(seed, fname),
                channel_last=bool(channel_last), ste_fine_grained=bool(ste_fine_grained))
    return call("RandomErase", [x], args)
