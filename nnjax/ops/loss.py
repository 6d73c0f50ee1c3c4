"""Loss functions. Integer targets (labels) get no gradient; negative labels are
ignored by the categorical losses (loss 0, no gradient), as in NNabla."""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import call, lowering, norm_axis


_TINY = float(np.finfo(np.float32).tiny)  # C's numeric_limits<float>::min()


def _label(target):
    return lax.stop_gradient(target).astype(jnp.int32)


def _take_label(values, label, axis):
    return jnp.take_along_axis(values, jnp.maximum(label, 0), axis=axis)


@lowering("SoftmaxCrossEntropy")
def _softmax_cross_entropy(x, target, axis):
    label = _label(target)
    loss = -_take_label(jax.nn.log_softmax(x, axis=axis), label, axis)
    return jnp.where(label < 0, jnp.zeros_like(loss), loss)


@lowering("CategoricalCrossEntropy")
def _categorical_cross_entropy(x, target, axis):
    label = _label(target)
    loss = -jnp.log(jnp.maximum(_take_label(x, label, axis), _TINY))
    return jnp.where(label < 0, jnp.zeros_like(loss), loss)


@lowering("SigmoidCrossEntropy")
def _sigmoid_cross_entropy(x, target):
    t = lax.stop_gradient(target).astype(x.dtype)
    return jnp.maximum(x, 0) - x * t + jnp.log1p(jnp.exp(-jnp.abs(x)))


@jax.custom_vjp
def _bce(x, t):
    return -(t * jnp.log(jnp.maximum(x, _TINY)) + (1 - t) * jnp.log(jnp.maximum(1 - x, _TINY)))


def _bce_fwd(x, t):
    return _bce(x, t), (x, t)


def _bce_bwd(res, g):
    x, t = res
    gx = g * (x - t) / jnp.maximum(x - x * x, _TINY)
    gt = g * (jnp.log(jnp.maximum(1 - x, _TINY)) - jnp.log(jnp.maximum(x, _TINY)))
    return gx, gt


_bce.defvjp(_bce_fwd, _bce_bwd)


@lowering("BinaryCrossEntropy")
def _binary_cross_entropy(x, target):
    return _bce(x, target.astype(x.dtype))


@lowering("SquaredError")
def _squared_error(x0, x1):
    d = x0 - x1
    return d * d


@lowering("AbsoluteError")
def _absolute_error(x0, x1):
    return jnp.abs(x0 - x1)


@lowering("HuberLoss")
def _huber_loss(x0, x1, delta=1.0):
    d = x0 - x1
    a = jnp.abs(d)
    return jnp.where(a < delta, d * d, delta * (2 * a - delta))


@lowering("EpsilonInsensitiveLoss")
def _epsilon_insensitive_loss(x0, x1, epsilon):
    a = jnp.abs(x0 - x1)
    return jnp.where(a > epsilon, a - epsilon, jnp.zeros_like(a))


_KL_EPS = 1e-8


@jax.custom_vjp
def _kl(p, q):
    return jnp.sum(p * (jnp.log(p + _KL_EPS) - jnp.log(q + _KL_EPS)), axis=1, keepdims=True)


def _kl_fwd(p, q):
    return _kl(p, q), (p, q)


def _kl_bwd(res, g):
    p, q = res
    gp = g * (jnp.log(p + _KL_EPS) - jnp.log(q + _KL_EPS) + 1)
    gq = -g * p / q
    return gp, gq


_kl.defvjp(_kl_fwd, _kl_bwd)


@lowering("KLMultinomial")
def _kl_multinomial(p, q, base_axis=1):
    batch = p.shape[:base_axis]
    n = int(np.prod(batch, dtype=np.int64))
    return _kl(p.reshape((n, -1)), q.reshape((n, -1))).reshape(batch + (1,))


# ---------------------------------------------------------------- wrappers
def _check_label_shape(fname, x, target, axis):
    expected = tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1:])
    if tuple(target.shape) != expected:
        raise ValueError(f"{fname}: target shape {tuple(target.shape)} does not match "
                         f"x shape {tuple(x.shape)} (expected {expected} for axis={axis})")


def _same_shape(fname, a, b, names=("x0", "x1")):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{fname}: {names[0]} shape {tuple(a.shape)} and {names[1]} shape "
                         f"{tuple(b.shape)} differ")


def softmax_cross_entropy(x, target, axis=None, outputs=None):
    """``-log softmax(x)[target]`` along ``axis`` (default: last); target holds class
    indices (shape of x with 1 at ``axis``)."""
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
    """Elementwise binary cross entropy of ``sigmoid(x)`` against ``target`` (0 or 1)."""
    _same_shape("sigmoid_cross_entropy", x, target, ("x", "target"))
    return call("SigmoidCrossEntropy", [x, target], {}, outputs)


def binary_cross_entropy(x, target, outputs=None):
    """``-(t log x + (1 - t) log(1 - x))`` elementwise; both inputs get gradients."""
    _same_shape("binary_cross_entropy", x, target, ("x", "target"))
    return call("BinaryCrossEntropy", [x, target], {}, outputs)


def squared_error(x0, x1, outputs=None):
    """Elementwise ``(x0 - x1) ** 2``."""
    _same_shape("squared_error", x0, x1)
    return call("SquaredError", [x0, x1], {}, outputs)


def absolute_error(x0, x1, outputs=None):
    """Elementwise ``|x0 - x1|``."""
    _same_shape("absolute_error", x0, x1)
    return call("AbsoluteError", [x0, x1], {}, outputs)


def huber_loss(x0, x1, delta=1.0, outputs=None):
    """Elementwise ``d**2`` if ``|d| < delta`` else ``delta * (2|d| - delta)``, ``d = x0 - x1``."""
    _same_shape("huber_loss", x0, x1)
    return call("HuberLoss", [x0, x1], dict(delta=float(delta)), outputs)


def epsilon_insensitive_loss(x0, x1, epsilon, outputs=None):
    """Elementwise ``max(|x0 - x1| - epsilon, 0)``."""
    _same_shape("epsilon_insensitive_loss", x0, x1)
    return call("EpsilonInsensitiveLoss", [x0, x1], dict(epsilon=float(epsilon)), outputs)


def kl_multinomial(p, q, base_axis=1, outputs=None):
    """``sum_i p_i (log p_i - log q_i)`` over the axes from ``base_axis``;
    output shape ``p.shape[:base_axis] + (1,)``."""
    fname = "kl_multinomial"
    _same_shape(fname, p, q, ("p", "q"))
    if base_axis < 0:  # counted from the end
        base_axis += len(p.shape)
    if not 1 <= base_axis < len(p.shape):
        raise ValueError(f"{fname}: base_axis={base_axis} must be in [1, {len(p.shape) - 1}] "
                         f"for inputs of shape {tuple(p.shape)}")
    return call("KLMultinomial", [p, q], dict(base_axis=int(base_axis)), outputs)
