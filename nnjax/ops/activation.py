"""Neural Network Activation Functions (NNabla's category of that name).

Every rule is elementwise unless noted; gradients come from JAX except where
NNabla's backward differs from the derivative of its forward at kinks (the
rules below are written with ``jnp.where`` so that the kink points get the
one-sided derivative NNabla uses).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._common import call, lowering, norm_axis



def _check_float(fname, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fname}: {name} must be a number, got {type(value).__name__}")
    return float(value)


def _axis_arg(fname, x, axis):
    return norm_axis(axis, len(x.shape), fname)


# ---------------------------------------------------------------- lowerings
@lowering("Sigmoid")
def _sigmoid(x):
    return jax.nn.sigmoid(x)


@lowering("Swish")
def _swish(x):
    return x * jax.nn.sigmoid(x)


@jax.custom_jvp
def _tanh_core(x):
    return jnp.tanh(x)


@_tanh_core.defjvp
def _tanh_jvp(primals, tangents):
    # NNabla's dx = dy * (1 - y^2) as one product: JAX's own rule splits it in two
    # terms, which a fused backward sums in another order than NNabla (last-bit
    # differences between one backward and separate ones)
    y = jnp.tanh(primals[0])
    return y, tangents[0] * (1 - y * y)


@lowering("Tanh")
def _tanh(x):
    return _tanh_core(x)


@lowering("ReLU")
def _relu(x, inplace=False):
    # gradient 0 at x == 0, as NNabla
    return jnp.where(x > 0, x, jnp.zeros_like(x))


@lowering("LeakyReLU")
def _leaky_relu(x, alpha=0.1, inplace=False):
    return jnp.where(x > 0, x, x * alpha)


@lowering("Softmax")
def _softmax(x, axis):
    return jax.nn.softmax(x, axis=axis)


@lowering("LogSoftmax")
def _log_softmax(x, axis):
    return jax.nn.log_softmax(x, axis=axis)


def _elu_part(x, alpha):
    # alpha * (exp(x) - 1), evaluated on min(x, 0) without splitting the gradient at 0
    return alpha * jnp.expm1(jnp.where(x > 0, jnp.zeros_like(x), x))


@lowering("ELU")
def _elu(x, alpha=1.0):
    return jnp.where(x > 0, x, _elu_part(x, alpha))


@lowering("SELU")
def _selu(x, scale=1.05070098735548, alpha=1.673263242354377):
    return scale * jnp.where(x > 0, x, _elu_part(x, alpha))


@lowering("CReLU")
def _crelu(x, axis=1):
    zero = jnp.zeros_like(x)
    return jnp.concatenate([jnp.where(x > 0, x, zero), jnp.where(x < 0, -x, zero)], axis=axis)


@lowering("CELU")
def _celu(x, alpha=1.0, axis=1):
    pos = jnp.where(x >= 0, x, _elu_part(x, alpha))
    neg = jnp.where(x <= 0, -x, _elu_part(-x, alpha))
    return jnp.concatenate([pos, neg], axis=axis)


@lowering("PReLU")
def _prelu(x0, x1, base_axis=1):
    if x1.size == 1:
        slope = x1.reshape(())
    else:
        shape = [1] * x0.ndim
        shape[base_axis] = x1.shape[0]
        slope = x1.reshape(shape)
    return jnp.where(x0 >= 0, x0, x0 * slope)


@lowering("GELU")
def _gelu(x):
    # NNabla uses the tanh approximation
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)
    return 0.5 * x * (1.0 + jnp.tanh(inner))


@lowering("Mish")
def _mish(x):
    return x * jnp.tanh(jax.nn.softplus(x))


@lowering("ReLU6")
def _relu6(x):
    inside = (x > 0) & (x < 6)
    return jnp.where(inside, x, jnp.where(x >= 6, jnp.full_like(x, 6), jnp.zeros_like(x)))


@lowering("HardSigmoid")
def _hard_sigmoid(x):
    inside = (x >= -2.5) & (x <= 2.5)
    outside = jnp.where(x > 2.5, jnp.ones_like(x), jnp.zeros_like(x))
    return jnp.where(inside, 0.2 * x + 0.5, outside)


@lowering("HardTanh")
def _hard_tanh(x):
    inside = (x >= -1) & (x <= 1)
    return jnp.where(inside, x, jnp.where(x > 1, jnp.ones_like(x), -jnp.ones_like(x)))


@lowering("LogSigmoid")
def _log_sigmoid(x):
    return jax.nn.log_sigmoid(x)


@lowering("SoftPlus")
def _softplus(x, beta=1.0):
    return jax.nn.softplus(beta * x) / beta


@lowering("SoftSign")
def _softsign(x):
    return x / (1 + jnp.abs(x))


@lowering("TanhShrink")
def _tanh_shrink(x):
    return x - jnp.tanh(x)


@lowering("Sinc")
def _sinc(x):
    zero = x == 0
    safe = jnp.where(zero, jnp.ones_like(x), x)
    return jnp.where(zero, jnp.ones_like(x), jnp.sin(safe) / safe)


# ---------------------------------------------------------------- wrappers
def sigmoid(x, n_outputs=-1, outputs=None):
    """Elementwise ``1 / (1 + exp(-x))``."""
    return call("Sigmoid", [x], {}, outputs)


def swish(x, n_outputs=-1, outputs=None):
    """Elementwise ``x / (1 + exp(-x))`` (Ramachandran et al., 2017)."""
    return call("Swish", [x], {}, outputs)


def tanh(x, n_outputs=-1, outputs=None):
    """Elementwise hyperbolic tangent."""
    return call("Tanh", [x], {}, outputs)


def relu(x, inplace=False, n_outputs=-1, outputs=None):
    """Elementwise ``max(0, x)``."""
    return call("ReLU", [x], dict(inplace=bool(inplace)), outputs)


def leaky_relu(x, alpha=0.1, inplace=False, n_outputs=-1, outputs=None):
    """``x`` where positive, ``alpha * x`` elsewhere."""
    alpha = _check_float("leaky_relu", "alpha", alpha)
    return call("LeakyReLU", [x], dict(alpha=alpha, inplace=bool(inplace)), outputs)


def softmax(x, axis=None, n_outputs=-1, outputs=None):
    """Softmax along ``axis`` (default: the last axis)."""
    axis = len(x.shape) - 1 if axis is None else _axis_arg("softmax", x, axis)
    return call("Softmax", [x], dict(axis=axis), outputs)


def log_softmax(x, axis=None, n_outputs=-1, outputs=None):
    """Logarithm of the softmax along ``axis`` (default: the last axis), computed stably."""
    axis = len(x.shape) - 1 if axis is None else _axis_arg("log_softmax", x, axis)
    return call("LogSoftmax", [x], dict(axis=axis), outputs)


def elu(x, alpha=1.0, n_outputs=-1, outputs=None):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    alpha = _check_float("elu", "alpha", alpha)
    return call("ELU", [x], dict(alpha=alpha), outputs)


def selu(x, scale=1.05070098735548, alpha=1.673263242354377, n_outputs=-1, outputs=None):
    """``scale * elu(x, alpha)`` with Klambauer et al.'s default constants."""
    scale = _check_float("selu", "scale", scale)
    alpha = _check_float("selu", "alpha", alpha)
    return call("SELU", [x], dict(scale=scale, alpha=alpha), outputs)


def crelu(x, axis=1, n_outputs=-1, outputs=None):
    """``relu(x)`` and ``relu(-x)`` concatenated along ``axis`` (which doubles)."""
    axis = _axis_arg("crelu", x, axis)
    return call("CReLU", [x], dict(axis=axis), outputs)


def celu(x, alpha=1.0, axis=1, n_outputs=-1, outputs=None):
    """``elu(x)`` and ``elu(-x)`` concatenated along ``axis`` (which doubles)."""
    alpha = _check_float("celu", "alpha", alpha)
    axis = _axis_arg("celu", x, axis)
    return call("CELU", [x], dict(alpha=alpha, axis=axis), outputs)


def prelu(x0, x1, base_axis=1, n_outputs=-1, outputs=None):
    """``max(0, x0) + w * min(0, x0)``; ``x1`` (w) is one slope, or one per entry of
    axis ``base_axis``."""
    ndim = len(x0.shape)
    base_axis = norm_axis(base_axis, ndim, "prelu", "base_axis")
    size = int(np.prod(x1.shape, dtype=np.int64))
    if size != 1 and not (len(x1.shape) == 1 and x1.shape[0] == x0.shape[base_axis]):
        raise ValueError(f"prelu: the slope x1 of shape {tuple(x1.shape)} must have one element "
                         f"or shape ({x0.shape[base_axis]},) (x0 shape {tuple(x0.shape)}, "
                         f"base_axis={base_axis})")
    return call("PReLU", [x0, x1], dict(base_axis=base_axis), outputs)


def gelu(x, n_outputs=-1, outputs=None):
    """Gaussian Error Linear Unit, tanh approximation:
    ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``."""
    return call("GELU", [x], {}, outputs)


def mish(x, n_outputs=-1, outputs=None):
    """``x * tanh(log(1 + exp(x)))``."""
    return call("Mish", [x], {}, outputs)


def relu6(x, n_outputs=-1, outputs=None):
    """``min(max(0, x), 6)``."""
    return call("ReLU6", [x], {}, outputs)


def hard_sigmoid(x, n_outputs=-1, outputs=None):
    """0 below -2.5, 1 above 2.5, ``0.2 x + 0.5`` in between."""
    return call("HardSigmoid", [x], {}, outputs)


def hard_tanh(x, n_outputs=-1, outputs=None):
    """``x`` clipped to [-1, 1]."""
    return call("HardTanh", [x], {}, outputs)


def log_sigmoid(x, n_outputs=-1, outputs=None):
    """``log(1 / (1 + exp(-x)))``."""
    return call("LogSigmoid", [x], {}, outputs)


def softplus(x, beta=1.0, n_outputs=-1, outputs=None):
    """``log(1 + exp(beta x)) / beta``."""
    beta = _check_float("softplus", "beta", beta)
    if beta == 0:
        raise ValueError("softplus: beta must not be 0")
    return call("SoftPlus", [x], dict(beta=beta), outputs)


def softsign(x, n_outputs=-1, outputs=None):
    """``x / (1 + |x|)``."""
    return call("SoftSign", [x], {}, outputs)


def tanh_shrink(x, n_outputs=-1, outputs=None):
    """``x - tanh(x)``."""
    return call("TanhShrink", [x], {}, outputs)


def sinc(x, n_outputs=-1, outputs=None):
    """``sin(x) / x``, and 1 at ``x == 0``."""
    return call("Sinc", [x], {}, outputs)
