"""Top-k selections: top_k_data (the k largest values) and top_k_grad (the k largest gradients)."""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import batch_size, call, check_base_axis_index, lowering


# ---------------------------------------------------------------- top-k
def _top_k_indices(flat, k, use_abs, largest=True):
    key = jnp.abs(flat) if use_abs else flat
    _, idx = lax.top_k(key if largest else -key, k)
    return idx


def _check_k(fname, x, k, base_axis):
    """base_axis made non-negative; ValueError unless 1 <= k <= the sample size."""
    base_axis = check_base_axis_index(base_axis, len(x.shape), fname)
    sample = int(np.prod(x.shape[base_axis:], dtype=np.int64))
    if not 1 <= k <= sample:
        raise ValueError(f"{fname}: k must be in [1, {sample}] (the sample size of shape "
                         f"{tuple(x.shape)} from base_axis={base_axis}), got {k}")
    return base_axis


@lowering("TopKData")
def _top_k_data(x, k, abs=False, reduce=True, base_axis=1, largest=True, with_index=False):
    batch = x.shape[:base_axis]
    flat = x.reshape((batch_size(x.shape, base_axis), -1))
    idx = lax.stop_gradient(_top_k_indices(flat, k, abs, largest))
    if reduce:
        values = jnp.take_along_axis(flat, idx, axis=1).reshape(batch + (k,))
        if with_index:
            return values, idx.astype(jnp.int32).reshape(batch + (k,))
        return values

    keep = jnp.zeros(flat.shape, bool).at[jnp.arange(flat.shape[0])[:, None], idx].set(True)
    kept = jnp.where(keep, flat, jnp.zeros_like(flat))
    # NNabla passes the output gradient to every input element when reduce=False.
    return (lax.stop_gradient(kept) + (flat - lax.stop_gradient(flat))).reshape(x.shape)


def top_k_data(x, k, abs=False, reduce=True, base_axis=1, largest=True, with_index=False,
               n_outputs=-1, outputs=None):
    """Keep the ``k`` largest values (by magnitude if ``abs``; the smallest if not
    ``largest``) of each sample.

    Samples are the dimensions before ``base_axis``. ``reduce=True`` returns
    shape ``x.shape[:base_axis] + (k,)`` holding the values in order (and, with
    ``with_index``, their positions in the sample as a second output); otherwise
    the input shape with the other values set to 0.
    """
    fname = "top_k_data"
    base_axis = _check_k(fname, x, k, base_axis)
    if with_index and not reduce:
        raise ValueError(f"{fname}: with_index needs reduce=True")
    return call("TopKData", [x], dict(k=int(k), abs=bool(abs), reduce=bool(reduce),
                                      base_axis=base_axis, largest=bool(largest),
                                      with_index=bool(with_index)), outputs)


@lowering("TopKGrad")
def _top_k_grad(x, k, abs=False, base_axis=1):
    n = batch_size(x.shape, base_axis)

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
    base_axis = _check_k(fname, x, k, base_axis)
    return call("TopKGrad", [x], dict(k=int(k), abs=bool(abs), base_axis=base_axis))
