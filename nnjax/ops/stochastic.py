"""Stochastic functions. ``seed=-1`` draws from the generator ``nn.seed`` sets."""
import jax
import jax.numpy as jnp

from ._common import call, lowering

_CAT = "Stochasticity"


@lowering("Dropout", rng=True, category=_CAT)
def _dropout(key, x, p=0.5, seed=-1):
    if p == 0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - p, x.shape)
    return jnp.where(keep, x / (1.0 - p), jnp.zeros_like(x))


def dropout(x, p=0.5, seed=-1, output_mask=False, outputs=None):
    """Zero each element with probability ``p``, scale the rest by ``1/(1-p)``."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    y = call("Dropout", [x], dict(p=float(p), seed=int(seed)), outputs)
    if output_mask:
        from . import logical
        return y, logical.not_equal_scalar(y, 0.0)
    return y
