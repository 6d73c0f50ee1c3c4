"""JAX interop: NNabla graphs as pure JAX functions and JAX functions in NNabla graphs.

``to_jax`` (``nnjax.interop.graph_function``), ``set_parameters``, ``from_jax``
(``nnjax.interop.jax_function``). The flax bridges live in ``nnjax.interop.flax_bridge``,
imported on demand (it imports flax).
"""
from .graph_function import GraphFunction, set_parameters, to_jax
from .jax_function import JaxFunction, from_jax

__all__ = ["GraphFunction", "JaxFunction", "from_jax", "set_parameters", "to_jax"]
