"""cProfile of chosen calls of a Python function, as ``nnabla.utils.function_profile``.

``f = profile(f)`` (or ``@profile(condition=..., print_freq=...)``) profiles each
call of ``f`` for which ``condition(*args, **kw)`` is true, accumulating the
statistics in ``f.profiler``; ``f.profiler.print_stats()`` prints them (also at
exit, and every ``print_freq`` profiled calls). A call made while another
profiled call runs is not profiled again (the outer profile includes it).
"""
import atexit
import cProfile
import functools
import pstats

__all__ = ["profile"]


class FunctionProfile:
    """The accumulated profile of one function (``fn.profiler``)."""

    profiling = False  # True while any profiled call runs

    def __init__(self, fn, condition=None, profile_class=cProfile.Profile, print_freq=0,
                 sort_keys=None, print_restrictions=None):
        self.fn = fn
        self.condition = condition if condition is not None else (lambda *a, **k: True)
        self.profile_class = profile_class
        self.print_freq = print_freq
        self.sort_keys = tuple(sort_keys) if sort_keys else ("cumulative", "time", "calls")
        self.print_restrictions = tuple(print_restrictions) if print_restrictions else (40,)
        self.reset_stats()
        atexit.register(self._at_exit)

    def __call__(self, *args, **kw):
        if not self.condition(*args, **kw):
            return self.fn(*args, **kw)
        self.ncalls += 1
        if FunctionProfile.profiling:
            return self.fn(*args, **kw)
        profiler = self.profile_class()
        FunctionProfile.profiling = True
        try:
            return profiler.runcall(self.fn, *args, **kw)
        finally:
            FunctionProfile.profiling = False
            if self.stats is None:
                self.stats = pstats.Stats(profiler)
            else:
                self.stats.add(profiler)
            if self.print_freq and self.ncalls % self.print_freq == 0:
                self.print_stats()

    def reset_stats(self):
        """Forget the statistics gathered so far."""
        self.stats = None
        self.ncalls = 0

    def print_stats(self, reset=True):
        """Print the statistics (sorted by ``sort_keys``), then forget them if ``reset``."""
        if not self.ncalls or self.stats is None:
            return
        code = self.fn.__code__
        print("--- Function Profiling ---")
        print(f'File "{code.co_filename}", line {code.co_firstlineno}, '
              f"function {self.fn.__name__}")
        self.stats.sort_stats(*self.sort_keys).print_stats(*self.print_restrictions)
        print("--------------------------")
        if reset:
            self.reset_stats()

    def _at_exit(self):
        try:
            self.print_stats()
        except ValueError:  # stdout already closed (e.g. captured by pytest)
            pass


def profile(fn=None, condition=None, profile_class=cProfile.Profile, print_freq=0,
            sort_keys=None, print_restrictions=None):
    """Wrap ``fn`` so that its calls are profiled; usable as ``@profile`` or
    ``@profile(condition=..., print_freq=...)``. The wrapper has ``.profiler``."""
    options = dict(condition=condition, profile_class=profile_class, print_freq=print_freq,
                   sort_keys=sort_keys, print_restrictions=print_restrictions)
    if fn is None:
        return lambda f: profile(f, **options)
    profiler = FunctionProfile(fn, **options)

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        return profiler(*args, **kw)
    wrapper.profiler = profiler
    return wrapper
