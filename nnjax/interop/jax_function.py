"""JAX functions as functions of NNabla graphs (``nnjax.from_jax``).

``y = from_jax(f)(x, w)`` records one node computing ``f(x_array, w_array)``: output
shapes and dtypes come from ``jax.eval_shape`` of ``f``, the backward is JAX's
derivative of ``f``, and the node is compiled into the same XLA program as the rest of
the step. ``f`` returns an array or a tuple of arrays (several outputs). Such a graph
runs, trains, differentiates (``nn.grad``) and converts back with ``to_jax``; NNabla's
file formats have no type for it, so saving it to ``.nnp`` is an error naming it.
"""
from ..function import JaxFunction

__all__ = ["from_jax", "JaxFunction"]

# One node object per function: compiled programs are cached by it, so calling
# from_jax(f) again (a graph rebuilt every iteration) reuses them.
_nodes = {}


def from_jax(fn, name=None):
    """The NNabla function (callable on Variables or NdArrays) computing JAX function ``fn``.

    ``name``: the node's type name (default ``fn.__name__``)."""
    if isinstance(fn, JaxFunction):
        return fn
    if not callable(fn):
        raise TypeError(f"from_jax: expected a callable, got {type(fn).__name__}")
    try:
        node = _nodes.get((fn, name))
    except TypeError:  # an unhashable callable: no reuse
        return JaxFunction(fn, name)
    if node is None:
        node = _nodes[(fn, name)] = JaxFunction(fn, name)
    return node
