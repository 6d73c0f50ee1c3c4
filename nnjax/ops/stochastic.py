"""Stochastic functions, and the top-k data/gradient selections.

Every rule registered with ``rng=True`` receives a fresh JAX key per forward
(drawn from the generator ``nn.seed`` sets when ``seed=-1``, else from a
generator seeded with ``seed`` when the node is created); backward reuses
the key of the forward, so e.g. a dropout mask is the same in both passes.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import erfinv

from .._apply import apply_function
from .._registry import variant_spec
from ._common import call, lowering, norm_axis



def _as_shape(shape, fname):
    if shape is None:
        return []
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    shape = [int(s) for s in shape]
    if any(s < 0 for s in shape):
        raise ValueError(f"{fname}: shape must not have negative dimensions, got {shape}")
    return shape


def _check_seed(seed, fname):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"{fname}: seed must be an int, got {type(seed).__name__}")
    if seed < -1:
        raise ValueError(f"{fname}: seed must be -1 or non-negative, got {seed}")
    return int(seed)


def _batch_size(shape, base_axis):
    return int(np.prod(shape[:base_axis], dtype=np.int64))


def _check_base_axis(base_axis, ndim, fname):
    if not isinstance(base_axis, (int, np.integer)):
        raise TypeError(f"{fname}: base_axis must be an int, got {type(base_axis).__name__}")
    if not 0 <= base_axis < max(ndim, 1):
        raise ValueError(f"{fname}: base_axis={base_axis} is out of range for an input of rank "
                         f"{ndim}")
    return int(base_axis)


# ---------------------------------------------------------------- Dropout
def _dropout_mask(key, x, p):
    if p == 0:
        return jnp.ones(x.shape, x.dtype)
    return (jax.random.uniform(key, x.shape) > p).astype(x.dtype)


@lowering("Dropout", rng=True)
def _dropout(key, x, p=0.5, seed=-1):
    mask = _dropout_mask(key, x, p)
    return x * mask * jnp.asarray(1.0 / (1.0 - p), x.dtype)


def _dropout_with_mask(key, x, p=0.5, seed=-1):
    mask = _dropout_mask(key, x, p)
    return x * mask * jnp.asarray(1.0 / (1.0 - p), x.dtype), mask


# The same NNabla type with its optional second output (the mask). The internal
# name "Dropout@mask" keeps its shapes and programs apart from the one-output
# variant; the node's info.type_name is "Dropout".
_DROPOUT_MASK_SPEC = variant_spec("Dropout", _dropout_with_mask, rng=True,
                                  internal_name="Dropout@mask")


def dropout(x, p=0.5, seed=-1, output_mask=False, outputs=None):
    """Zero each element with probability ``p`` (``u <= p`` for ``u ~ U(0, 1)``), scale
    the others by ``1 / (1 - p)``. With ``output_mask`` also returns the 0/1 mask
    (the Dropout node's second output)."""
    fname = "dropout"
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{fname}: p must be in [0, 1), got {p}")
    args = dict(p=float(p), seed=_check_seed(seed, fname))
    if not output_mask:
        return call("Dropout", [x], args, outputs)
    return apply_function("Dropout", [x], args, outputs=outputs, spec=_DROPOUT_MASK_SPEC)


# ---------------------------------------------------------------- top-k
def _top_k_indices(flat, k, use_abs):
    _, idx = lax.top_k(jnp.abs(flat) if use_abs else flat, k)
    return idx


@lowering("TopKData")
def _top_k_data(x, k, abs=False, reduce=True, base_axis=1):
    batch = x.shape[:base_axis]
    flat = x.reshape((_batch_size(x.shape, base_axis), -1))
    idx = lax.stop_gradient(_top_k_indices(flat, k, abs))
    if reduce:
        return jnp.take_along_axis(flat, idx, axis=1).reshape(batch + (k,))

    keep = jnp.zeros(flat.shape, bool).at[jnp.arange(flat.shape[0])[:, None], idx].set(True)
    kept = jnp.where(keep, flat, jnp.zeros_like(flat))
    # NNabla passes the output gradient to every input element when reduce=False.
    return (lax.stop_gradient(kept) + (flat - lax.stop_gradient(flat))).reshape(x.shape)


def top_k_data(x, k, abs=False, reduce=True, base_axis=1):
    """Keep the ``k`` largest values (by magnitude if ``abs``) of each sample.

    Samples are the dimensions before ``base_axis``. ``reduce=True`` returns
    shape ``x.shape[:base_axis] + (k,)`` holding the values in descending
    order; otherwise the input shape with the other values set to 0.
    """
    fname = "top_k_data"
    base_axis = int(base_axis) + (len(x.shape) if base_axis < 0 else 0)
    base_axis = _check_base_axis(base_axis, len(x.shape), fname)
    sample = int(np.prod(x.shape[base_axis:], dtype=np.int64))
    if not 1 <= k <= sample:
        raise ValueError(f"{fname}: k must be in [1, {sample}] (the sample size of shape "
                         f"{tuple(x.shape)} from base_axis={base_axis}), got {k}")
    return call("TopKData", [x], dict(k=int(k), abs=bool(abs), reduce=bool(reduce),
                                      base_axis=base_axis))


@lowering("TopKGrad")
def _top_k_grad(x, k, abs=False, base_axis=1):
    n = _batch_size(x.shape, base_axis)

    @jax.custom_vjp
    def pass_through(v):
        return v

    def bwd(_, g):
        flat = g.reshape((n, -1))
        idx = _top_k_indices(flat, k, abs)
        keep = jnp.zeros(flat.shape, bool).at[jnp.arange(n)[:, None], idx].set(True)
        return (jnp.where(keep, flat, jnp.zeros_like(flat)).reshape(g.shape),)

    pass_through.defvjp(lambda v: (v, None), bwd)
    return pass_through(x)


def top_k_grad(x, k, abs=False, base_axis=1):
    """Identity forward; backward keeps the ``k`` largest gradients of each sample."""
    fname = "top_k_grad"
    base_axis = int(base_axis) + (len(x.shape) if base_axis < 0 else 0)
    base_axis = _check_base_axis(base_axis, len(x.shape), fname)
    sample = int(np.prod(x.shape[base_axis:], dtype=np.int64))
    if not 1 <= k <= sample:
        raise ValueError(f"{fname}: k must be in [1, {sample}] (the sample size of shape "
                         f"{tuple(x.shape)} from base_axis={base_axis}), got {k}")
    return call("TopKGrad", [x], dict(k=int(k), abs=bool(abs), base_axis=base_axis))


# ---------------------------------------------------------------- random generators
@lowering("Rand", rng=True)
def _rand(key, low=0.0, high=1.0, shape=(), seed=-1):
    return jax.random.uniform(key, tuple(shape), jnp.float32, low, high)


@lowering("Randint", rng=True)
def _randint(key, low=0, high=1, shape=(), seed=-1):
    return jax.random.randint(key, tuple(shape), low, high, jnp.int32)


@lowering("Randn", rng=True)
def _randn(key, mu=0.0, sigma=1.0, shape=(), seed=-1):
    return mu + sigma * jax.random.normal(key, tuple(shape), jnp.float32)


@lowering("RandBinomial", rng=True)
def _rand_binomial(key, n=1, p=0.5, shape=(), seed=-1):
    return jax.random.binomial(key, float(n), p, tuple(shape), jnp.float32)


@lowering("RandBeta", rng=True)
def _rand_beta(key, alpha=0.5, beta=0.5, shape=(), seed=-1):
    return jax.random.beta(key, alpha, beta, tuple(shape), jnp.float32)


@lowering("RandGamma", rng=True)
def _rand_gamma(key, k=0.5, theta=1.0, shape=(), seed=-1):
    return jax.random.gamma(key, k, tuple(shape), jnp.float32) * theta


def rand(low=0, high=1, shape=[], seed=-1):
    """Samples of ``U(low, high)`` with the given ``shape`` (float32)."""
    fname = "rand"
    if not low < high:
        raise ValueError(f"{fname}: low ({low}) must be less than high ({high})")
    return call("Rand", [], dict(low=float(low), high=float(high), shape=_as_shape(shape, fname),
                                 seed=_check_seed(seed, fname)))


def randint(low=0, high=1, shape=[], seed=-1):
    """Integer samples of ``U{low, ..., high - 1}`` (int32)."""
    fname = "randint"
    if not int(low) < int(high):
        raise ValueError(f"{fname}: low ({low}) must be less than high ({high})")
    return call("Randint", [], dict(low=int(low), high=int(high),
                                    shape=_as_shape(shape, fname),
                                    seed=_check_seed(seed, fname)))


def randn(mu=0, sigma=1, shape=[], seed=-1):
    """Samples of ``N(mu, sigma)`` (sigma is the standard deviation)."""
    fname = "randn"
    if sigma < 0:
        raise ValueError(f"{fname}: sigma must be non-negative, got {sigma}")
    return call("Randn", [], dict(mu=float(mu), sigma=float(sigma),
                                  shape=_as_shape(shape, fname), seed=_check_seed(seed, fname)))


def rand_binomial(n=1, p=0.5, shape=[], seed=-1):
    """Samples of the binomial distribution ``B(n, p)`` (float32)."""
    fname = "rand_binomial"
    if int(n) < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"{fname}: n must be >= 0 and p in [0, 1], got n={n}, p={p}")
    return call("RandBinomial", [], dict(n=int(n), p=float(p), shape=_as_shape(shape, fname),
                                         seed=_check_seed(seed, fname)))


def rand_beta(alpha=0.5, beta=0.5, shape=[], seed=-1):
    """Samples of the beta distribution ``Beta(alpha, beta)``."""
    fname = "rand_beta"
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"{fname}: alpha and beta must be positive, got {alpha}, {beta}")
    return call("RandBeta", [], dict(alpha=float(alpha), beta=float(beta),
                                     shape=_as_shape(shape, fname),
                                     seed=_check_seed(seed, fname)))


def rand_gamma(k=0.5, theta=1, shape=[], seed=-1):
    """Samples of the gamma distribution with shape ``k`` and scale ``theta``."""
    fname = "rand_gamma"
    if k <= 0 or theta <= 0:
        raise ValueError(f"{fname}: k and theta must be positive, got {k}, {theta}")
    return call("RandGamma", [], dict(k=float(k), theta=float(theta),
                                      shape=_as_shape(shape, fname),
                                      seed=_check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomChoice
@lowering("RandomChoice", rng=True)
def _random_choice(key, x, w, shape=(), replace=True, seed=-1):
    n = x.shape[-1]
    m = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    batch = x.shape[:-1]
    xf = x.reshape((-1, n))
    wf = lax.stop_gradient(w).reshape((-1, n)).astype(jnp.float32)
    logits = jnp.where(wf > 0, jnp.log(jnp.where(wf > 0, wf, 1.0)), -jnp.inf)
    if replace:
        idx = jax.random.categorical(key, logits, axis=-1, shape=(m, xf.shape[0])).T
    else:
        perturbed = logits + jax.random.gumbel(key, logits.shape)
        _, idx = lax.top_k(perturbed, m)
    idx = lax.stop_gradient(idx)
    picked_w = jnp.take_along_axis(w.reshape((-1, n)), idx, axis=1)
    # NNabla propagates the output gradient to the chosen entries of both x and w.
    y = jnp.take_along_axis(xf, idx, axis=1) + (picked_w - lax.stop_gradient(picked_w))
    out_shape = batch + (tuple(shape) if len(shape) else (1,))
    return y.astype(x.dtype).reshape(out_shape)


def random_choice(x, w, shape=[], replace=True, seed=-1):
    """Draw ``prod(shape)`` samples from each population in the last axis of ``x``,
    with selection probabilities proportional to ``w``.

    The output shape is ``x.shape[:-1] + shape`` (``+ (1,)`` for an empty shape).
    """
    fname = "random_choice"
    if tuple(x.shape) != tuple(w.shape):
        raise ValueError(f"{fname}: x shape {tuple(x.shape)} and w shape {tuple(w.shape)} "
                         "must match")
    if len(x.shape) < 1:
        raise ValueError(f"{fname}: x must have at least one dimension")
    shape = _as_shape(shape, fname)
    m = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if not replace and m > x.shape[-1]:
        raise ValueError(f"{fname}: can not draw {m} samples without replacement from a "
                         f"population of {x.shape[-1]}")
    return call("RandomChoice", [x, w], dict(shape=shape, replace=bool(replace),
                                             seed=_check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomCrop
@lowering("RandomCrop", rng=True)
def _random_crop(key, x, shape, base_axis=1, seed=-1):
    ndim = x.ndim
    offset = ndim - len(shape)
    out_shape = list(x.shape)
    for i, s in enumerate(shape):
        out_shape[offset + i] = s
    b = _batch_size(out_shape, base_axis)
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
    base_axis = _check_base_axis(base_axis, len(x.shape), fname)
    shape = list(x.shape) if shape is None else _as_shape(shape, fname)
    if len(shape) > len(x.shape):
        raise ValueError(f"{fname}: shape {tuple(shape)} has more dimensions than the input "
                         f"{tuple(x.shape)}")
    offset = len(x.shape) - len(shape)
    for i, s in enumerate(shape):
        if s > x.shape[offset + i]:
            raise ValueError(f"{fname}: shape {tuple(shape)} must not exceed the input shape "
                             f"{tuple(x.shape)}")
    return call("RandomCrop", [x], dict(shape=shape, base_axis=base_axis,
                                        seed=_check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomFlip
@lowering("RandomFlip", rng=True)
def _random_flip(key, x, axes, base_axis=1, seed=-1):
    b = _batch_size(x.shape, base_axis)
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
    base_axis = _check_base_axis(base_axis, len(x.shape), fname)
    if axes is None:
        axes = [len(x.shape) - 1]
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    axes = [norm_axis(a, len(x.shape), fname, "axes") for a in axes]
    return call("RandomFlip", [x], dict(axes=axes, base_axis=base_axis,
                                        seed=_check_seed(seed, fname)))


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
    b = _batch_size(x.shape, base_axis)
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
    the edge, 'reflect' mirrors, 'constant' uses ``constant_value``.
    """
    fname = "random_shift"
    base_axis = _check_base_axis(base_axis, len(x.shape), fname)
    if shifts is None:
        shifts = [0] * len(x.shape)
    if isinstance(shifts, (int, np.integer)):
        shifts = [shifts]
    shifts = [int(s) for s in shifts]
    if len(shifts) > len(x.shape) or any(s < 0 for s in shifts):
        raise ValueError(f"{fname}: shifts {shifts} must be non-negative with at most "
                         f"{len(x.shape)} entries")
    ndim = len(x.shape)
    for i, s in enumerate(shifts):
        if s and ndim - len(shifts) + i < base_axis:
            raise ValueError(f"{fname}: can not shift the sample axis "
                             f"{ndim - len(shifts) + i} (base_axis={base_axis})")
    if border_mode not in ("nearest", "reflect", "constant"):
        raise ValueError(f"{fname}: border_mode must be 'nearest', 'reflect' or 'constant', "
                         f"got {border_mode!r}")
    return call("RandomShift", [x], dict(shifts=shifts, border_mode=border_mode,
                                         constant_value=float(constant_value),
                                         base_axis=base_axis, seed=_check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomErase
@lowering("RandomErase", rng=True)
def _random_erase(key, x, prob=0.5, area_ratios=(0.02, 0.4), aspect_ratios=(0.3, 3.3333),
                  replacements=(0.0, 255.0), n=1, share=True, inplace=False, base_axis=1,
                  seed=-1, channel_last=False, ste_fine_grained=True):
    shape = x.shape
    b = _batch_size(shape, base_axis)
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
    base_axis = _check_base_axis(base_axis, len(x.shape), fname)
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
                inplace=bool(inplace), base_axis=base_axis, seed=_check_seed(seed, fname),
                channel_last=bool(channel_last), ste_fine_grained=bool(ste_fine_grained))
    return call("RandomErase", [x], args)


# ---------------------------------------------------------------- ImageAugmentation
@lowering("ImageAugmentation", rng=True)
def _image_augmentation(key, x, shape, pad=(0, 0), min_scale=1.0, max_scale=1.0, angle=0.0,
                        aspect_ratio=1.0, distortion=0.0, flip_lr=False, flip_ud=False,
                        brightness=0.0, brightness_each=False, contrast=1.0,
                        contrast_center=0.0, contrast_each=False, noise=0.0, seed=-1):
    x = lax.stop_gradient(x)  # NNabla gives ImageAugmentation no backward
    in_shape = x.shape
    w_in, h_in = in_shape[-1], in_shape[-2]
    ch = in_shape[-3] if x.ndim >= 3 else 1
    n_img = int(np.prod(in_shape, dtype=np.int64)) // (w_in * h_in * ch)
    out_shape = tuple(in_shape[:x.ndim - len(shape)]) + tuple(shape)
    w_out, h_out = out_shape[-1], out_shape[-2]
    # one draw for every per-image parameter (NNabla draws (rgen() % 1001) * 0.001)
    # and, with noise, for the per-pixel normal values
    n_params = n_img * (11 + 2 * ch)
    n_noise = n_img * ch * h_out * w_out if noise > 0.0 else 0
    u_all = jax.random.uniform(key, (n_params + n_noise,), minval=1e-7, maxval=1.0)
    u = u_all[:n_params].reshape((n_img, 11 + 2 * ch))
    steps = jnp.floor(u * 1001).astype(jnp.float32) * 0.001
    scale = min_scale * jnp.exp(steps[:, 0] * math.log(max_scale / min_scale))
    scale_x = jnp.exp(-math.log(aspect_ratio) * 0.5 + steps[:, 1] * math.log(aspect_ratio))
    scale_y = 1.0 / scale_x
    i_sx = 1.0 / (scale * scale_x)
    i_sy = 1.0 / (scale * scale_y)
    theta = -angle + steps[:, 2] * angle * 2
    w_scaled = (w_in + pad[1] * 2) * scale * scale_x
    h_scaled = (h_in + pad[0] * 2) * scale * scale_y
    cx = (w_out - 1) * 0.5
    cy = (h_out - 1) * 0.5
    cx_scaled = steps[:, 3] * (w_scaled - w_out) + cx
    cy_scaled = steps[:, 4] * (h_scaled - h_out) + cy
    do_lr = (u[:, 5] < 0.5) & bool(flip_lr)
    do_ud = (u[:, 6] < 0.5) & bool(flip_ud)
    g_bright = steps[:, 7] * brightness * 2.0 - brightness
    g_contrast = jnp.exp(steps[:, 8] * math.log(contrast) * 2.0) / contrast
    if brightness_each:
        bright = steps[:, 11:11 + ch] * brightness * 2.0 - brightness
    else:
        bright = jnp.broadcast_to(g_bright[:, None], (n_img, ch))
    if contrast_each:
        contr = jnp.exp(steps[:, 11 + ch:11 + 2 * ch] * math.log(contrast) * 2.0) / contrast
    else:
        contr = jnp.broadcast_to(g_contrast[:, None], (n_img, ch))
    dist = jnp.exp(steps[:, 9] * 2.0 * distortion - distortion) - 1.0
    sigma = steps[:, 10] * noise

    cos_t, sin_t = jnp.cos(theta), jnp.sin(theta)
    x_ax = jnp.where(do_lr, -cos_t, cos_t) * i_sx
    y_ax = jnp.where(do_lr, sin_t, -sin_t) * i_sy
    x_ay = jnp.where(do_ud, -sin_t, sin_t) * i_sx
    y_ay = jnp.where(do_ud, -cos_t, cos_t) * i_sy
    x0 = cx_scaled * i_sx - (x_ax * cx + y_ax * cy) - pad[1]
    y0 = cy_scaled * i_sy - (x_ay * cx + y_ay * cy) - pad[0]

    ix = jnp.arange(w_out, dtype=jnp.float32)[None, None, :]
    iy = jnp.arange(h_out, dtype=jnp.float32)[None, :, None]

    def per_img(v):
        return v[:, None, None]

    if distortion != 0.0:
        hw, hh = w_out * 0.5, h_out * 0.5
        dx = (ix - hw) / hw
        dy = (iy - hh) / hh
        r2 = dx * dx + dy * dy
        d = per_img(dist)
        dx = (dx + dx * d * r2) * hw / (1.0 + d) + hw
        dy = (dy + dy * d * r2) * hh / (1.0 + d) + hh
        px = per_img(x0) + dx * per_img(x_ax) + dy * per_img(y_ax)
        py = per_img(y0) + dx * per_img(x_ay) + dy * per_img(y_ay)
    else:
        px = per_img(x0) + ix * per_img(x_ax) + iy * per_img(y_ax)
        py = per_img(y0) + ix * per_img(x_ay) + iy * per_img(y_ay)
    px = jnp.clip(px, 0.0, w_in - 1)
    py = jnp.clip(py, 0.0, h_in - 1)
    x0i = px.astype(jnp.int32)
    y0i = py.astype(jnp.int32)
    fx = px - x0i
    fy = py - y0i
    x1i = jnp.minimum(x0i + 1, w_in - 1)
    y1i = jnp.minimum(y0i + 1, h_in - 1)
    imgs = x.reshape((n_img, ch, h_in * w_in))

    def gather(yy, xx):  # (n, h_out, w_out) -> (n, ch, h_out, w_out)
        flat = (yy * w_in + xx).reshape((n_img, 1, -1))
        vals = jnp.take_along_axis(imgs, jnp.broadcast_to(flat, (n_img, ch, flat.shape[-1])),
                                   axis=2)
        return vals.reshape((n_img, ch, h_out, w_out))

    fx, fy = fx[:, None], fy[:, None]
    out = (gather(y0i, x0i) * (1 - fx) * (1 - fy) + gather(y0i, x1i) * fx * (1 - fy)
           + gather(y1i, x0i) * (1 - fx) * fy + gather(y1i, x1i) * fx * fy)
    out = ((out + (bright - contrast_center)[:, :, None, None]) * contr[:, :, None, None]
           + contrast_center)
    if noise > 0.0:
        normal = math.sqrt(2.0) * erfinv(2.0 * u_all[n_params:] - 1.0)
        out = out + normal.reshape(out.shape) * sigma[:, None, None, None]
    return out.astype(x.dtype).reshape(out_shape)


def image_augmentation(x, shape=None, pad=(0, 0), min_scale=1.0, max_scale=1.0, angle=0.0,
                       aspect_ratio=1.0, distortion=0.0, flip_lr=False, flip_ud=False,
                       brightness=0.0, brightness_each=False, contrast=1.0, contrast_center=0.0,
                       contrast_each=False, noise=0.0, seed=-1):
    """Randomly scale, rotate, crop, flip and recolor images (last 2 axes H, W; the
    axis before them is the channel axis). No gradient flows back (as in NNabla)."""
    fname = "image_augmentation"
    if len(x.shape) < 2:
        raise ValueError(f"{fname}: input must have at least 2 dimensions (H, W), got "
                         f"{tuple(x.shape)}")
    shape = list(x.shape) if shape is None else _as_shape(shape, fname)
    if len(shape) < 2 or len(shape) > len(x.shape):
        raise ValueError(f"{fname}: shape {tuple(shape)} must have 2 to {len(x.shape)} "
                         "dimensions")
    offset = len(x.shape) - len(shape)
    if list(shape[:-2]) != list(x.shape[offset:-2]):
        raise ValueError(f"{fname}: shape {tuple(shape)} may only change the last two "
                         f"dimensions of the input {tuple(x.shape)}")
    pad = [int(p) for p in pad]
    if len(pad) != 2:
        raise ValueError(f"{fname}: pad must have 2 values (height, width), got {pad}")
    if min_scale <= 0 or max_scale <= 0 or aspect_ratio <= 0 or contrast <= 0:
        raise ValueError(f"{fname}: min_scale, max_scale, aspect_ratio and contrast must be "
                         "positive")
    args = dict(shape=shape, pad=pad, min_scale=float(min_scale), max_scale=float(max_scale),
                angle=float(angle), aspect_ratio=float(aspect_ratio),
                distortion=float(distortion), flip_lr=bool(flip_lr), flip_ud=bool(flip_ud),
                brightness=float(brightness), brightness_each=bool(brightness_each),
                contrast=float(contrast), contrast_center=float(contrast_center),
                contrast_each=bool(contrast_each), noise=float(noise),
                seed=_check_seed(seed, fname))
    return call("ImageAugmentation", [x], args)
