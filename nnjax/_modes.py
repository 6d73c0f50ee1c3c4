"""Global execution modes: auto-forward, no-grad, recompute."""
from contextlib import contextmanager

_state = {"auto_forward": False, "no_grad": False, "global_recompute": False,
          "prefer_cached_array": True}


def get_auto_forward():
    """True while functions run as soon as they are called (dynamic graphs)."""
    return _state["auto_forward"]


def set_auto_forward(auto):
    """Turn dynamic execution on or off globally."""
    _state["auto_forward"] = bool(auto)


@contextmanager
def auto_forward(auto=True):
    """Context for dynamic graphs: each function computes when called."""
    prev = _state["auto_forward"]
    _state["auto_forward"] = bool(auto)
    try:
        yield
    finally:
        _state["auto_forward"] = prev


@contextmanager
def no_grad(no_grad_=True):
    """Functions called inside produce outputs with ``need_grad=False``."""
    prev = _state["no_grad"]
    _state["no_grad"] = bool(no_grad_)
    try:
        yield
    finally:
        _state["no_grad"] = prev


def grad_disabled():
    return _state["no_grad"]


def set_global_recompute(recompute):
    """Default of ``Variable.recompute`` for variables created from now on."""
    _state["global_recompute"] = bool(recompute)


def get_global_recompute():
    return _state["global_recompute"]


def prefer_cached_array(prefer):
    """Kept for NNabla compatibility; XLA manages the memory of compiled programs."""
    _state["prefer_cached_array"] = bool(prefer)
