"""Activation functions."""
import jax
import jax.numpy as jnp

from ._common import call, lowering, norm_axis

_CAT = "Neural Network Activation Functions"


@lowering("ReLU", category=_CAT)
def _relu(x, inplace=False):
    return jnp.maximum(x, 0)


@lowering("Sigmoid", category=_CAT)
def _sigmoid(x):
    return jax.nn.sigmoid(x)


@lowering("Tanh", category=_CAT)
def _tanh(x):
    return jnp.tanh(x)


@lowering("LeakyReLU", category=_CAT)
def _leaky_relu(x, alpha=0.1, inplace=False):
    return jnp.where(x > 0, x, x * alpha)


@lowering("ELU", category=_CAT)
def _elu(x, alpha=1.0):
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


@lowering("Softmax", category=_CAT)
def _softmax(x, axis):
    return jax.nn.softmax(x, axis=axis)


@lowering("LogSoftmax", category=_CAT)
def _log_softmax(x, axis):
    return jax.nn.log_softmax(x, axis=axis)


def relu(x, inplace=False, outputs=None):
    """``max(x, 0)``."""
    return call("ReLU", [x], dict(inplace=inplace), outputs)


def sigmoid(x, outputs=None):
    """``1 / (1 + exp(-x))``."""
    return call("Sigmoid", [x], {}, outputs)


def tanh(x, outputs=None):
    """Hyperbolic tangent."""
    return call("Tanh", [x], {}, outputs)


def leaky_relu(x, alpha=0.1, inplace=False, outputs=None):
    """``x`` if positive, else ``alpha * x``."""
    return call("LeakyReLU", [x], dict(alpha=float(alpha), inplace=inplace), outputs)


def elu(x, alpha=1.0, outputs=None):
    """``x`` if positive, else ``alpha * (exp(x) - 1)``."""
    return call("ELU", [x], dict(alpha=float(alpha)), outputs)


def softmax(x, axis=None, outputs=None):
    """Softmax along ``axis`` (default: the last axis)."""
    axis = len(x.shape) - 1 if axis is None else norm_axis(axis, len(x.shape), "softmax")
    return call("Softmax", [x], dict(axis=axis), outputs)


def log_softmax(x, axis=None, outputs=None):
    """Log of softmax along ``axis`` (default: the last axis)."""
    axis = len(x.shape) - 1 if axis is None else norm_axis(axis, len(x.shape), "log_softmax")
    return call("LogSoftmax", [x], dict(axis=axis), outputs)
