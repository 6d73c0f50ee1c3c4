"""Tiered compilation of queued programs.

A program seen for the first time is compiled with XLA's cheap settings; one
that keeps running is compiled again with full optimization.
"""
import os

import jax

# Tiered compilation. A program seen for the first time is compiled with XLA's
# cheap settings (about 4x faster to compile on CPU, up to 2.5x slower to run);
# once it has run TIER_UP_HITS more times it is a loop, and is compiled again
# with full optimization. Programs reading more than FULL_OPT_BYTES compile
# fully at once: their run time outweighs the compile. NNJAX_TIERED_COMPILE=0
# turns the first tier off.
TIER_UP_HITS = 6
FULL_OPT_BYTES = 1 << 22
FAST_COMPILE_OPTIONS = {
    "xla_cpu_use_fusion_emitters": False,
    "xla_cpu_parallel_codegen_split_count": 1,
    "xla_backend_optimization_level": 0,
}


class Program:
    """A compiled queue: ``run(values, operands)``. ``fast`` while it runs the
    cheaply compiled first tier; ``tier_up`` swaps in the optimized one."""

    __slots__ = ("run", "fast", "hits", "_pure")

    def __init__(self, pure, fast):
        self._pure = pure
        self.fast = fast
        self.hits = 0
        self.run = jax.jit(pure, compiler_options=FAST_COMPILE_OPTIONS if fast else None)

    def tier_up(self, values, operands):
        self.run = jax.jit(self._pure)
        self.fast = False
        return self.run(values, operands)


def tiered():
    return os.environ.get("NNJAX_TIERED_COMPILE", "1") != "0" and jax.default_backend() == "cpu"
