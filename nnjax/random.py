"""Random number generators, as ``nnabla.random``.

``prng`` (a ``numpy.random.RandomState``, seeded 313 at import as NNabla
does) draws initial parameter values. ``seed(s)`` replaces it and reseeds the
generator that stochastic functions with ``seed=-1`` draw their keys from.
"""
import numpy as np

pseed = 313
prng = np.random.RandomState(pseed)
_function_state = {"rng": np.random.RandomState(pseed)}


def seed(seed_value, set_function_seed=True, set_parameter_seed=True):
    """Reseed the parameter generator ``prng`` (``pseed`` records the seed) and/or
    the generator of stochastic functions."""
    if not isinstance(seed_value, (int, np.integer)) or isinstance(seed_value, bool):
        raise TypeError(f"nnabla.random.seed: the seed must be an int, got {seed_value!r}")
    global prng, pseed
    if set_parameter_seed:
        pseed = int(seed_value)
        prng = np.random.RandomState(pseed)
    if set_function_seed:
        _function_state["rng"] = np.random.RandomState(int(seed_value))


def set_parameter_seed(seed_value):
    """Reseed only the parameter generator ``prng``."""
    seed(seed_value, set_function_seed=False, set_parameter_seed=True)


def set_function_seed(seed_value):
    """Reseed only the generator of stochastic functions."""
    seed(seed_value, set_function_seed=True, set_parameter_seed=False)


def _function_rng():
    return _function_state["rng"]
