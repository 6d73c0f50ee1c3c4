"""``nnabla._dropout_workaround``: the mask a Dropout drew in its last forward.

NNabla's ``_get_dropout_mask(x)`` hands out the mask the Dropout function applied to
``x`` keeps (its backward reads it). nnjax keeps the random key instead; the mask is
recomputed from it, so it is the one that forward (and its backward) used.
"""
import jax.numpy as jnp
import numpy as np

from ._variable import Variable
from .ops.stochastic import _dropout_mask


def _get_dropout_mask(dropout_input):
    """The 0/1 mask (an unlinked Variable) of the Dropout that last ran on
    ``dropout_input``; RuntimeError if no Dropout on it has run."""
    if not isinstance(dropout_input, Variable):
        raise TypeError(f"_get_dropout_mask: dropout_input must be an nnabla.Variable, got "
                        f"{type(dropout_input).__name__}")
    ran = [fn for fn in dropout_input.alive_consumers()
           if fn.info.type_name == "Dropout" and fn.rng_key_data is not None]
    if not ran:
        raise RuntimeError("_get_dropout_mask: no Dropout on this variable has run its "
                           "forward yet (the mask is drawn there)")
    fn = ran[-1]
    shape = tuple(dropout_input.shape)
    mask = _dropout_mask(jnp.asarray(fn.rng_key_data), jnp.zeros(shape, jnp.float32),
                         fn.info.args.get("p", 0.5))
    return Variable.from_numpy_array(np.asarray(mask, np.float32))
