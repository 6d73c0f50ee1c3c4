"""``GraphProfiler``: time every function of a graph, and the whole graph.

How the times are taken in nnjax
--------------------------------
nnjax normally runs a training step (forward, backward, update) as ONE fused,
jit-compiled XLA program. A function has no separate run time inside it:
XLA fuses and reorders the work of neighbouring functions. So:

* **per-function forward / backward** times use nnjax's unfused
  per-function path (the one hooks use): each function is compiled on its
  own as a small XLA program (compiled in a warm-up call, not timed), run
  alone, and synchronized (``block_until_ready`` on its results) before the
  host clock is read. A time is that program's run time plus nnjax's
  per-call dispatch cost (tens of microseconds), which dominates tiny
  functions. The backward of a function computes the gradients of its
  inputs that need one in the graph (it is the VJP of the function alone).
* **forward all / backward all** run ``graph.forward()`` / ``graph.backward()``
  each as one compiled program. In nnjax the backward program is the VJP of
  the whole graph, so it recomputes the forward internally.
* **training (forward + backward + update)** (with a ``solver``) runs
  forward, ``zero_grad``, backward and ``update`` as one fused program: what
  a training step actually costs. The sum of the per-function times is
  usually larger.

Every measurement is preceded by one untimed warm-up call (compilation) and
repeats up to ``n_run`` times or until ``max_measure_execution_time`` seconds
have passed. See ``docs/PROFILING.md``.

Note: as in NNabla, running the profiler writes the graph's data and
gradients, and with a solver, updates the parameters.
"""
import csv
import os
import sys
import time
from collections import namedtuple

import numpy as np

from .. import __version__
from .._backward import need_grad_slots
from .._function_backward import function_backward_op
from .._forward import function_op
from .._plan import get_plan, single_function_plan
from .._queue import run_now
from ..parameter import get_parameters
from ..ext_utils import import_extension_module
from .inspection._sync import wait_for

ProfileStat = namedtuple("ProfileStat", ["parameter_scope", "inputs_shape", "args_info",
                                         "function_name", "mean_time", "n_run"])

_SCALES = {"m": 1e3, "u": 1e6, "n": 1e9}


def convert_time_scale(sec, format="m"):
    """Seconds to milli- ('m'), micro- ('u') or nano- ('n') seconds."""
    if format not in _SCALES:
        raise ValueError(f"convert_time_scale: format must be one of "
                                  f"{list(_SCALES)}, got {format!r}")
    return sec * _SCALES[format]


def _leaves(graph):
    seen, out = set(), []

    def collect(f):
        for v in f._inputs:
            if v is not None and v.parent is None and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    graph.visit(collect)
    return out


def _no_op(f):
    """A function hook doing nothing (hooks select the per-function path)."""


def _materialize(array):
    """Turn a pending fill (a constant inside a compiled program) into a real array."""
    if array._head is None:
        array.data  # noqa: B018  (reading stores the filled values)


class GraphProfilerCsvWriter:
    """Writes a :class:`GraphProfiler`'s results as CSV, in NNabla's layout.

    A header block (``num. of run``, ``device id``, ``ext name``,
    ``time scale``, ``nnabla version``), an empty row, the column names
    ``parameter_scope, function_name, inputs_shape, args_info, forward,
    backward, forward_n_run, backward_n_run``, one row per function, then the
    ``forward all`` / ``forward_all_n_run``, ``backward all`` /
    ``backward_all_n_run`` and (with a solver)
    ``training(forward + backward + update)`` / ``training_n_run`` blocks.

    Args:
        gb (GraphProfiler): a profiler whose :meth:`~GraphProfiler.run` was called.
        file: a text file object (default ``sys.stdout``).

    Example::

        with open("profile.csv", "w") as f:
            GraphProfilerCsvWriter(profiler, file=f).write()
    """

    def __init__(self, gb, file=sys.stdout):
        self.gb = gb
        self.file = file
        self.fields = ["parameter_scope", "function_name", "inputs_shape", "args_info",
                       "forward", "backward", "forward_n_run", "backward_n_run"]
        self.write_header()

    def write_header(self):
        w = csv.writer(self.file)
        w.writerow(["num. of run", self.gb.n_run])
        w.writerow(["device id", self.gb.device_id])
        w.writerow(["ext name", self.gb.ext_name])
        w.writerow(["time scale", self.gb.time_scale])
        w.writerow(["nnabla version", __version__])
        w.writerow([])
        w.writerow(self.fields)

    def check_same(self, f, b):
        """Whether a forward and a backward stat describe the same function."""
        return all(f[k] == b[k] for k in ("parameter_scope", "function_name",
                                          "inputs_shape", "args_info"))

    def write(self):
        """Write the per-function rows and the whole-graph blocks."""
        w = csv.writer(self.file)
        result = self.gb.result
        for fs, bs in zip(result["forward"], result["backward"]):
            f, b = fs._asdict(), bs._asdict()
            if not self.check_same(f, b):
                raise AssertionError("GraphProfilerCsvWriter: forward and backward "
                                     f"results differ ({f['function_name']} vs "
                                     f"{b['function_name']})")
            args = ", ".join(f"{k}: {v}" for k, v in f["args_info"])
            w.writerow([f["parameter_scope"], f["function_name"], f["inputs_shape"], args,
                        f["mean_time"], b["mean_time"], f["n_run"], b["n_run"]])
        w.writerow([])
        w.writerow(["forward all", result["forward_all"]])
        w.writerow(["forward_all_n_run", result["n_run_forward_all"]])
        w.writerow([])
        w.writerow(["backward all", result["backward_all"]])
        w.writerow(["backward_all_n_run", result["n_run_backward_all"]])
        if "training" in result and "n_run_training" in result:
            w.writerow([])
            w.writerow(["training(forward + backward + update)", result["training"]])
            w.writerow(["training_n_run", result["n_run_training"]])


class GraphProfiler:
    """Measures the forward and backward time of each function of a graph,
    of the whole forward and backward, and of a training step.

    Results (:attr:`result`, :meth:`get_result`): ``"forward"`` and
    ``"backward"`` are lists of :class:`ProfileStat` (one per function in
    forward order: ``parameter_scope``, ``inputs_shape``, ``args_info``,
    ``function_name``, ``mean_time`` as text with 8 significant digits in
    ``time_scale`` units, ``n_run``), ``"forward_all"``/``"n_run_forward_all"``,
    ``"backward_all"``/``"n_run_backward_all"`` and, with a solver,
    ``"training"``/``"n_run_training"``. How the times are taken (per-function
    unfused programs vs the fused step) is described in the module docstring.

    Args:
        graph (nnabla.Variable): the last variable (e.g. the loss).
        device_id (str): device id (recorded in the report).
        ext_name (str): 'cpu', 'cuda' or 'cudnn'.
        solver (nnabla.solvers.Solver): if given, a training step
            (forward + zero_grad + backward + update) is timed too; the
            parameters are updated while it is timed.
        n_run (int): repetitions per measurement.
        max_measure_execution_time (float): stop repeating a measurement once
            this many seconds have passed (at least one run is timed).
        time_scale (str): 'm', 'u' or 'n' (milli-, micro-, nanoseconds).
        backward_accum (bool): per-function backward adds into the inputs'
            gradients instead of overwriting them (None means False).

    Example::

        from nnabla.utils.profiler import GraphProfiler, GraphProfilerCsvWriter
        B = GraphProfiler(loss, device_id=0, ext_name="cpu", solver=solver, n_run=100)
        B.run()
        with open("profile.csv", "w") as f:
            GraphProfilerCsvWriter(B, file=f).write()
    """

    def __init__(self, graph, device_id, ext_name, solver=None, n_run=100,
                 max_measure_execution_time=1, time_scale="m", backward_accum=None):
        if n_run < 1:
            raise AssertionError("GraphProfiler: n_run must be at least 1")
        if time_scale not in _SCALES:
            raise ValueError(f"GraphProfiler: time_scale must be one of "
                                      f"{list(_SCALES)}, got {time_scale!r}")
        self.graph = graph
        self.device_id = str(device_id)
        self.ext_name = ext_name
        self.ext_module = import_extension_module(ext_name)
        self.solver = solver
        self.n_run = n_run
        self.max_measure_execution_time = max_measure_execution_time
        self.time_scale = time_scale
        self.backward_accum = bool(backward_accum)
        self.result = dict()
        self.name2val = {v: k for k, v in get_parameters(grad_only=False).items()}

    # ------------------------------------------------------------ measuring
    def _measure_execution_time(self, execution, *execution_args, wait=None):
        """Mean time of ``execution(*execution_args)`` (text in time_scale
        units) and the number of timed runs, after one untimed warm-up."""
        execution(*execution_args)
        wait_for(wait)
        total, count = 0.0, 0
        first = time.perf_counter()
        for _ in range(self.n_run):
            start = time.perf_counter()
            execution(*execution_args)
            wait_for(wait)
            stop = time.perf_counter()
            total += stop - start
            count += 1
            if stop - first > self.max_measure_execution_time:
                break
        mean = convert_time_scale(total / count, self.time_scale)
        return "{:.8}".format(mean), count

    def _parameter_scope(self, f):
        if len(f._inputs) > 1 and f._inputs[1] is not None:
            name = self.name2val.get(f._inputs[1])
            if name is not None:
                return os.path.dirname(name)
        return None

    def _stat(self, f, mean_time, n_run):
        return ProfileStat(parameter_scope=self._parameter_scope(f),
                           inputs_shape=[v.shape for v in f._inputs if v is not None],
                           args_info=list(f.info.args.items()),
                           function_name=f.name, mean_time=mean_time, n_run=n_run)

    def _backward_targets(self, f, need, index):
        """Inputs whose gradient the function's backward computes: those that
        need one in the graph, else every floating-point input."""
        targets = []
        for i, v in enumerate(f._inputs):
            if v is None:
                continue
            if need[index[id(v)]]:
                targets.append(i)
        if not targets:
            targets = [i for i, v in enumerate(f._inputs)
                       if v is not None and np.issubdtype(v.data.dtype, np.inexact)]
        return tuple((i, self.backward_accum) for i in targets)

    def time_profiling_forward(self):
        """Time each function's forward alone (its own compiled program)."""
        self.result["forward"] = []
        for f in self._functions():
            op = function_op(f)
            op.template.reusable = True
            mean, n = self._measure_execution_time(run_now, op, wait=f.outputs)
            self.result["forward"].append(self._stat(f, mean, n))

    def time_profiling_backward(self):
        """Time each function's backward alone (the VJP of that function)."""
        self.result["backward"] = []
        plan = get_plan([self.graph])
        need, _ = need_grad_slots(plan)
        for f in self._functions():
            targets = self._backward_targets(f, need, plan.index)
            if not targets:
                self.result["backward"].append(self._stat(f, "{:.8}".format(0.0), 0))
                continue
            single = single_function_plan(f)
            op = function_backward_op(f, targets, frozenset(), single.steps[0])
            op.template.reusable = True
            wait = [f._inputs[i].grad for i, _ in targets]
            mean, n = self._measure_execution_time(run_now, op, wait=wait)
            self.result["backward"].append(self._stat(f, mean, n))

    def _functions(self):
        order = []
        self.graph.visit(order.append)
        return order

    def training_function(self):
        """One training step: forward, zero_grad, backward, update (one fused program)."""
        self.graph.forward(clear_no_need_grad=True)
        self.solver.zero_grad()
        self.graph.backward(clear_buffer=True)
        self.solver.update()

    def time_profiling_whole_graph(self):
        """Time the whole forward, the whole backward and (with a solver) a training step."""
        leaves = _leaves(self.graph)
        self.result["forward_all"], self.result["n_run_forward_all"] = \
            self._measure_execution_time(self.graph.forward, wait=[self.graph])
        self.result["backward_all"], self.result["n_run_backward_all"] = \
            self._measure_execution_time(self.graph.backward, wait=leaves)
        if self.solver is not None:
            self.result["training"], self.result["n_run_training"] = \
                self._measure_execution_time(self.training_function,
                                             wait=[self.graph] + leaves)

    def _prepare(self):
        """Give every variable of the graph a computed value, and a gradient
        array, so that no per-function program sees a constant input (XLA
        would fold it away). Gradients keep their values (zeros if unset):
        values do not change the run time of a function."""
        functions = self._functions()
        variables = {}
        for f in functions:
            for v in list(f._inputs) + list(f.outputs):
                if v is not None:
                    variables[id(v)] = v
        for v in variables.values():
            if v.parent is None:
                _materialize(v.data)
                _materialize(v.grad)
        # a forward on the per-function path computes every intermediate value
        # and compiles the very programs the per-function forward timing runs
        self.graph.forward(function_post_hook=_no_op)
        for v in variables.values():
            _materialize(v.data)
            _materialize(v.grad)
        wait_for(list(variables.values()))

    def run(self):
        """Run every measurement: per-function forward and backward, whole
        forward, whole backward, and the training step if a solver was given."""
        self._prepare()
        self.time_profiling_forward()
        self.time_profiling_backward()
        self.time_profiling_whole_graph()

    def get_result(self):
        return self.result

    def print_result(self):
        """Print the per-function stats and the whole-graph times."""
        print(f"time scale: {self.time_scale}")
        print("-----------------forward--------------------")
        for stat in self.result["forward"]:
            print(stat)
        print()
        print("-----------------backward--------------------")
        for stat in self.result["backward"]:
            print(stat)
        print()
        line = (f"all forward: {self.result['forward_all']}, "
                f"all backward: {self.result['backward_all']}")
        if "training" in self.result:
            line += f", training (one fused step): {self.result['training']}"
        print(line)
