"""Global hooks by key, as ``nnabla.callback``.

Function hooks (``hook(function)``) run just before / after each function of
every graph forward and backward (after hooks passed to the call itself);
solver hooks (``hook()``) run before / after each parameter's solver
operation (update, weight_decay, clip_grad_by_norm, ...). While a hook is set,
graphs run one function at a time (each hook sees its function run).
"""
from ._modes import set_global_hook, unset_global_hook

__all__ = ["set_function_pre_hook", "set_function_post_hook", "unset_function_pre_hook",
           "unset_function_post_hook", "set_solver_pre_hook", "set_solver_post_hook",
           "unset_solver_pre_hook", "unset_solver_post_hook"]


def _set(kind, key, hook):
    if hook is None:
        return
    if not callable(hook):
        raise TypeError(f"set_{kind}_hook: the hook under key {key!r} must be callable, "
                        f"got {type(hook).__name__}")
    set_global_hook(kind, key, hook)


def set_function_pre_hook(key, function_pre_hook):
    """Call ``function_pre_hook(f)`` before every function ``f`` of forward and backward."""
    _set("function_pre", key, function_pre_hook)


def set_function_post_hook(key, function_post_hook):
    """Call ``function_post_hook(f)`` after every function ``f`` of forward and backward."""
    _set("function_post", key, function_post_hook)


def unset_function_pre_hook(key):
    """Remove the function pre-hook registered under ``key``."""
    unset_global_hook("function_pre", key)


def unset_function_post_hook(key):
    """Remove the function post-hook registered under ``key``."""
    unset_global_hook("function_post", key)


def set_solver_pre_hook(key, solver_pre_hook):
    """Call ``solver_pre_hook()`` before each parameter's solver operation."""
    _set("solver_pre", key, solver_pre_hook)


def set_solver_post_hook(key, solver_post_hook):
    """Call ``solver_post_hook()`` after each parameter's solver operation."""
    _set("solver_post", key, solver_post_hook)


def unset_solver_pre_hook(key):
    """Remove the solver pre-hook registered under ``key``."""
    unset_global_hook("solver_pre", key)


def unset_solver_post_hook(key):
    """Remove the solver post-hook registered under ``key``."""
    unset_global_hook("solver_post", key)
