"""Loss functions. Targets (labels) get no gradient."""
import jax
import jax.numpy as jnp
from jax import lax

from ._common import call, lowering, norm_axis

_CAT = "Loss Functions"


def _take_label(values, target, axis):
    label = lax.stop_gradient(target).astype(jnp.int32)
    return jnp.take_along_axis(values, label, axis=axis)


@lowering("SoftmaxCrossEntropy", category=_CAT)
def _softmax_cross_entropy(x, target, axis):
    return -_take_label(jax.nn.log_softmax(x, axis=axis), target, axis)


@lowering("CategoricalCrossEntropy", category=_CAT)
def _categorical_cross_entropy(x, target, axis):
    return -jnp.log(_take_label(x, target, axis))


@lowering("SigmoidCrossEntropy", category=_CAT)
def _sigmoid_cross_entropy(x, target):
    t = lax.stop_gradient(target).astype(x.dtype)
    return jnp.maximum(x, 0) - x * t + jnp.log1p(jnp.exp(-jnp.abs(x)))


@lowering("SquaredError", category=_CAT)
def _squared_error(x0, x1):
    d = x0 - x1
    return d * d


def _check_label_shape(fname, x, target, axis):
    expected = tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1:])
    if tuple(target.shape) != expected:
        raise ValueError(f"{fname}: target shape {tuple(target.shape)} does not match "
                         f"x shape {tuple(x.shape)} (expected {expected} for axis={axis})")


def softmax_cross_entropy(x, target, axis=None, outputs=None):
    """``-log softmax(x)[target]`` along ``axis``; target holds class indices."""
    axis = len(x.shape) - 1 if axis is None else norm_axis(axis, len(x.shape),
                                                             "softmax_cross_entropy")
    _check_label_shape("softmax_cross_entropy", x, target, axis)
    return call("SoftmaxCrossEntropy", [x, target], dict(axis=axis), outputs)


def categorical_cross_entropy(x, target, axis=None, outputs=None):
    """``-log x[target]`` along ``axis`` (x holds probabilities)."""
    axis = len(x.shape) - 1 if axis is None else norm_axis(axis, len(x.shape),
                                                             "categorical_cross_entropy")
    _check_label_shape("categorical_cross_entropy", x, target, axis)
    return call("CategoricalCrossEntropy", [x, target], dict(axis=axis), outputs)


def sigmoid_cross_entropy(x, target, outputs=None):
    """Elementwise binary cross entropy of ``sigmoid(x)`` against ``target``."""
    if tuple(x.shape) != tuple(target.shape):
        raise ValueError(f"sigmoid_cross_entropy: x shape {tuple(x.shape)} and target shape "
                         f"{tuple(target.shape)} differ")
    return call("SigmoidCrossEntropy", [x, target], {}, outputs)


def squared_error(x0, x1, outputs=None):
    """Elementwise ``(x0 - x1) ** 2``."""
    if tuple(x0.shape) != tuple(x1.shape):
        raise ValueError(f"squared_error: shapes {tuple(x0.shape)} and {tuple(x1.shape)} differ")
    return call("SquaredError", [x0, x1], {}, outputs)
