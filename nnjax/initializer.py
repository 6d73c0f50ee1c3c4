"""Parameter initializers, as ``nnabla.initializer``.

Initializers with ``rng=None`` take ``nnabla.random.prng`` at construction
time, so a script seeded with ``nn.seed`` draws the same weights as NNabla.
Random draws are returned as float32.
"""
import numpy as np

from . import random as _random


# the dtype random initial values are drawn as (NNabla's name)
random_float_type = np.float32


def _f32(x):
    return np.float32(x) if np.ndim(x) == 0 else np.asarray(x, dtype=np.float32)


class BaseInitializer:
    """Base class: ``init(shape)`` returns a numpy array of that shape."""

    def __call__(self, shape):
        raise TypeError(f"{type(self).__name__} must define __call__(shape)")


class NormalInitializer(BaseInitializer):
    """Draws from N(0, sigma^2): ``rng.randn(*shape) * sigma``."""

    def __init__(self, sigma=1.0, rng=None):
        self.rng = _random.prng if rng is None else rng
        self.sigma = sigma

    def __repr__(self):
        return f"{type(self).__name__}({self.sigma})"

    def __call__(self, shape):
        return _f32(self.rng.randn(*shape) * self.sigma)


class UniformInitializer(BaseInitializer):
    """Draws from U(lim[0], lim[1])."""

    def __init__(self, lim=(-1, 1), rng=None):
        self.rng = _random.prng if rng is None else rng
        self.lim = lim

    def __repr__(self):
        return f"{type(self).__name__}({self.lim!r})"

    def __call__(self, shape):
        return _f32(self.rng.uniform(self.lim[0], self.lim[1], size=shape))


class UniformIntInitializer(BaseInitializer):
    """Draws integers from [lim[0], lim[1])."""

    def __init__(self, lim=(0, 10), rng=None):
        self.rng = _random.prng if rng is None else rng
        self.lim = lim

    def __repr__(self):
        return f"{type(self).__name__}({self.lim!r})"

    def __call__(self, shape):
        return self.rng.randint(self.lim[0], self.lim[1], size=shape)


class RangeInitializer(BaseInitializer):
    """``start + step * i`` along the last axis, broadcast to the shape."""

    def __init__(self, start=0, step=1):
        self.start = start
        self.step = step

    def __call__(self, shape):
        ramp = self.start + np.arange(shape[-1]) * self.step
        return np.broadcast_to(ramp, shape)


class ConstantInitializer(BaseInitializer):
    """Every element equals ``value``."""

    def __init__(self, value=0):
        self.value = value

    def __repr__(self):
        return f"{type(self).__name__}({self.value})"

    def __call__(self, shape):
        return _f32(np.full(shape, self.value, dtype=np.float64))


class OrthogonalInitializer(BaseInitializer):
    """An orthogonal matrix (Saxe et al.) scaled by ``gain``, from the SVD of a normal draw."""

    def __init__(self, gain=1.0, rng=None):
        self.rng = _random.prng if rng is None else rng
        self.gain = gain

    def __repr__(self):
        return f"{type(self).__name__}({self.gain})"

    def __call__(self, shape):
        rows = shape[0]
        cols = int(np.prod(shape[1:]))
        draw = self.rng.normal(0.0, 1.0, (rows, cols))
        u, _, vt = np.linalg.svd(draw, full_matrices=False)
        q = u if u.shape == (rows, cols) else vt
        return _f32(q.reshape(shape) * self.gain)


class WeightNormalizationScaleInitializer(BaseInitializer):
    """L2 norm of ``w`` over every axis but ``dim`` (keeps the initial magnitude)."""

    def __init__(self, w, dim=0, eps=1e-12):
        self.w = w.get_unlinked_variable()
        self.dim = dim
        self.eps = eps

    def __call__(self, shape):
        axes = tuple(a for a in range(len(self.w.shape)) if a != self.dim)
        return _f32(np.sqrt(np.sum(self.w.d ** 2, axis=axes) + self.eps))


def calc_normal_std_he_forward(inmaps, outmaps, kernel=(1, 1)):
    """He et al.'s std for the forward pass: sqrt(2 / (K * inmaps))."""
    return np.sqrt(2.0 / (np.prod(kernel) * inmaps))


def calc_normal_std_he_backward(inmaps, outmaps, kernel=(1, 1)):
    """He et al.'s std for the backward pass: sqrt(2 / (K * outmaps))."""
    return np.sqrt(2.0 / (np.prod(kernel) * outmaps))


def calc_normal_std_glorot(inmaps, outmaps, kernel=(1, 1)):
    """Glorot's std: sqrt(2 / (K * (inmaps + outmaps)))."""
    return np.sqrt(2.0 / (np.prod(kernel) * (inmaps + outmaps)))


def calc_uniform_lim_glorot(inmaps, outmaps, kernel=(1, 1)):
    """Glorot's uniform bounds (-d, d) with d = sqrt(6 / (K * (inmaps + outmaps)))."""
    d = np.sqrt(6.0 / (np.prod(kernel) * (inmaps + outmaps)))
    return -d, d
