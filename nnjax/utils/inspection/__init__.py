"""Graph inspection tools (``nnabla.utils.inspection``).

* :func:`pprint` -- print every function of a graph (type, args, shapes,
  optionally statistics of the data and gradients);
* :class:`NanInfTracer` -- function hooks that find the first function whose
  output (forward) or input gradient (backward) holds NaN or inf;
* :class:`TimeProfiler` -- function hooks that time each function.

Hooks make nnjax run a graph one function at a time (each function compiled
on its own) instead of as one fused XLA program; see ``docs/PROFILING.md``.
"""
from .base import FunctionHookCallbackBase
from .pretty_print import PrettyPrinter, pprint
from .profile import CpuTimerCallback, TimeProfiler
from .value_trace import NanInfTracer

__all__ = ["FunctionHookCallbackBase", "PrettyPrinter", "pprint", "CpuTimerCallback",
           "TimeProfiler", "NanInfTracer"]
