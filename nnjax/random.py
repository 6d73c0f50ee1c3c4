"""Random number generators, as ``nnabla.random``.

``prng`` (a ``numpy.random.RandomState``, seeded 313 at import as NNabla
does) draws initial parameter values. ``seed(s)`` replaces it and reseeds the
generator that stochastic functions with ``seed=-1`` draw their keys from.
"""
import numpy as np

prng = np.random.RandomState(313)
_function_state = {"rng": np.random.RandomState(313)}


def seed(seed_value):
    """Reseed the parameter generator ``prng`` and the functions' generator."""
    global prng
    prng = np.random.RandomState(seed_value)
    _function_state["rng"] = np.random.RandomState(seed_value)


def _function_rng():
    return _function_state["rng"]
