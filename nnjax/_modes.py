"""Global execution modes: auto-forward, no-grad, recompute; function observers."""
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


# Callables ``observer(function_node)`` run after each function of a graph's
# forward and backward; while any is registered, forward and backward run one
# function at a time (as with hooks). ``nnabla.testing.clear_called_flag_recorder``
# registers one.
_function_observers = []


def add_function_observer(observer):
    """Call ``observer(function_node)`` after each function of forward and backward."""
    if observer not in _function_observers:
        _function_observers.append(observer)


def remove_function_observer(observer):
    """Stop calling ``observer`` (no error if it is not registered)."""
    if observer in _function_observers:
        _function_observers.remove(observer)


def function_observers():
    """The registered observers, in registration order."""
    return tuple(_function_observers)


# Global hooks registered by key (``nnabla.callback``): function hooks run around
# each function of every forward and backward, solver hooks around each
# parameter's solver operation; both after hooks given to the call itself.
_global_hooks = {"function_pre": {}, "function_post": {}, "solver_pre": {}, "solver_post": {}}


def set_global_hook(kind, key, hook):
    """Register ``hook`` under ``key`` for ``kind`` ('function_pre', 'solver_post', ...)."""
    _global_hooks[kind][str(key)] = hook


def unset_global_hook(kind, key):
    """Remove the ``kind`` hook registered under ``key`` (no error if there is none)."""
    _global_hooks[kind].pop(str(key), None)


def _chain(own, registered):
    hooks = ([own] if own is not None else []) + list(registered.values())
    if not hooks:
        return None
    if len(hooks) == 1:
        return hooks[0]

    def chained(*args):
        for hook in hooks:
            hook(*args)
    return chained


def function_hooks_active():
    """Whether a global function hook or a function observer is registered."""
    return bool(_function_observers or _global_hooks["function_pre"]
                or _global_hooks["function_post"])


def solver_hooks_active():
    """Whether a global solver hook is registered."""
    return bool(_global_hooks["solver_pre"] or _global_hooks["solver_post"])


def with_global_hooks(pre, post, kind="function"):
    """(pre, post) hooks: the given ones followed by the registered global ones."""
    return (_chain(pre, _global_hooks[kind + "_pre"]),
            _chain(post, _global_hooks[kind + "_post"]))
