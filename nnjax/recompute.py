"""Recompute flags, as ``nnabla.recompute``.

A variable created while the global recompute flag is on gets
``recompute=True``. nnjax fuses a forward and backward into one XLA program,
where XLA decides what to keep; the flags are kept on the variables for
scripts and graph tools that read them.
"""
from contextlib import contextmanager
import functools

from ._modes import get_global_recompute, set_global_recompute

__all__ = ["set_global_recompute", "get_global_recompute", "recompute", "recompute_fn"]


@contextmanager
def recompute(recompute_=True):
    """Variables created inside the block get ``recompute=recompute_`` (nestable)."""
    prev = get_global_recompute()
    set_global_recompute(recompute_)
    try:
        yield
    finally:
        set_global_recompute(prev)


def recompute_fn(recompute_=True):
    """Decorator: variables created inside the function get ``recompute=recompute_``."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with recompute(recompute_):
                return func(*args, **kwargs)
        return wrapper
    return decorator
