"""``TimeProfiler``: time each function through function hooks.

How the times are taken in nnjax: passing hooks to ``forward``/``backward``
runs the graph on the unfused path, one function at a time, each function
being its own small compiled XLA program. The pre hook reads the host clock;
the post hook waits until the function's values are computed on the device
and reads the clock again. So a function's time is its own kernel(s) plus
nnjax's per-call dispatch, and the first call of each function also includes
its compilation (``to_csv`` and printing skip the first iteration by
default). Training does not run that way: without hooks a whole step is one
fused program, usually much faster than the sum of the per-function times.
Time a whole step with :class:`nnabla.utils.profiler.GraphProfiler` (its
"training" row) or a :class:`TimeProfiler` scope around an un-hooked step.
"""
import csv
import os
import time
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from ..._variable import Function
from ._sync import wait_for, wait_for_function
from .base import FunctionHookCallbackBase

_EXTENSIONS = ("cpu", "cuda", "cudnn")


class CpuTimerCallback(FunctionHookCallbackBase):
    """Host-clock timer for one scope: ``pre_hook(key)`` starts, ``post_hook(key)``
    waits for the device and stops; :meth:`calc_elapsed_time` stores the
    intervals; :meth:`average` gives their means in milliseconds.

    Keys are function nodes (per-function timing) or any hashable (e.g. a
    scope name); for a function key only that function's values are waited
    for, for any other key every pending computation.
    """

    def __init__(self, ext_name, device_id):
        super().__init__()
        self.ext_name = ext_name
        self.device_id = str(device_id)
        self.results = OrderedDict()
        self.key_to_times = OrderedDict()

    @staticmethod
    def timer():
        return time.perf_counter()

    @property
    def pre_hook(self):
        def callback(key):
            self.key_to_times.setdefault(key, [0.0, 0.0])[0] = self.timer()
        return callback

    @property
    def post_hook(self):
        def callback(key):
            if key not in self.key_to_times:
                raise ValueError(f"TimeProfiler: post_hook for {key!r} without its pre_hook")
            if isinstance(key, Function):
                wait_for_function(key)
            else:
                wait_for()
            self.key_to_times[key][1] = self.timer()
        return callback

    def calc_elapsed_time(self):
        """Append the interval measured since the last call for every key."""
        for key, (start, stop) in self.key_to_times.items():
            self.results.setdefault(key, []).append(max(stop - start, 0.0))

    def average(self, start_index=0):
        """``{key: {"time": mean milliseconds, "num": count, "scale": "ms"}}``
        over the intervals from ``start_index`` on."""
        out = OrderedDict()
        for key, times in self.results.items():
            kept = times[start_index:]
            out[key] = {"time": float(np.mean(kept)) * 1e3 if kept else float("nan"),
                        "num": len(kept), "scale": "ms"}
        return out


class TimeProfiler(FunctionHookCallbackBase):
    """Per-function execution times collected with function hooks.

    Times are grouped by scope (``with tp.scope("forward"): ...``); the time
    spent inside each scope block is also recorded under the ``"summary"``
    scope. Call :meth:`calc_elapsed_time` once per iteration to store the
    iteration's times, then read them with :meth:`average`, print them with
    :meth:`print` (or by calling the profiler), or write them with
    :meth:`to_csv`.

    Every extension times with the host clock after waiting for the device
    (``block_until_ready`` on the function's arrays), as nnjax runs all of
    them through XLA. See the module docstring for what the per-function
    times include.

    Args:
        ext_name (str): 'cpu', 'cuda' or 'cudnn'.
        device_id (str): device id (recorded only).

    Example::

        from nnabla.utils.inspection import TimeProfiler
        tp = TimeProfiler(ext_name="cpu", device_id="0")
        for i in range(10):
            with tp.scope("forward"):
                y.forward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
            with tp.scope("backward"):
                y.backward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
            tp.calc_elapsed_time(["forward", "backward", "summary"])
        tp.print()            # or tp()
        tp.to_csv("profile_out")
    """

    def __init__(self, ext_name, device_id):
        if ext_name not in _EXTENSIONS:
            raise ValueError(
                f"TimeProfiler: no profiler for the extension {ext_name!r}; "
                f"use one of {list(_EXTENSIONS)}")
        self.profiler = CpuTimerCallback
        self.ext_name = ext_name
        self.device_id = device_id
        self._scope_name = ""
        self.profilers = OrderedDict()
        self.create_new_profiler("summary")

    def create_new_profiler(self, scope_name):
        self.profilers[scope_name] = self.profiler(ext_name=self.ext_name,
                                                   device_id=self.device_id)

    @contextmanager
    def scope(self, scope_name):
        """Record the hooks' times under ``scope_name``; the whole block's time
        goes to the ``"summary"`` scope under the key ``scope_name``."""
        previous = self._scope_name
        if scope_name not in self.profilers:
            self.create_new_profiler(scope_name)
        self.call_pre_hook("summary", scope_name)
        self._scope_name = scope_name
        try:
            yield self
        finally:
            self._scope_name = previous
            self.call_post_hook("summary", scope_name)

    def _current(self):
        profiler = self.profilers.get(self._scope_name)
        if profiler is None:
            raise RuntimeError("TimeProfiler: take pre_hook/post_hook inside "
                               "`with profiler.scope(name):`")
        return profiler

    @property
    def pre_hook(self):
        """A ``function_pre_hook`` recording into the current scope."""
        return self._current().pre_hook

    @property
    def post_hook(self):
        """A ``function_post_hook`` recording into the current scope."""
        return self._current().post_hook

    def call_pre_hook(self, scope_name, key):
        if scope_name not in self.profilers:
            self.create_new_profiler(scope_name)
        self.profilers[scope_name].pre_hook(key)

    def call_post_hook(self, scope_name, key):
        if scope_name not in self.profilers:
            raise ValueError(f"TimeProfiler: no profiler for the scope {scope_name!r}")
        self.profilers[scope_name].post_hook(key)

    def calc_elapsed_time(self, names=None):
        """Store this iteration's times of the scopes ``names`` (all if None).
        Nothing is recorded until this is called."""
        if isinstance(names, str):
            names = [names]
        targets = self.profilers.values() if names is None else \
            [self.profilers[n] for n in names]
        for profiler in targets:
            profiler.calc_elapsed_time()

    def average(self, start_index=0):
        """``{scope: {key: {"time", "num", "scale"}}}``: mean times (ms) per key,
        over the iterations from ``start_index`` on."""
        return OrderedDict((name, p.average(start_index)) for name, p in self.profilers.items())

    def get_all_results(self):
        """``{scope: {key: [seconds per iteration]}}`` for non-empty scopes."""
        return OrderedDict((name, p.results) for name, p in self.profilers.items() if p.results)

    def to_csv(self, out_dir="./", ignore_init=True):
        """Write ``profile_summary.csv`` (scope, time, scale, num) and
        ``profile_detail.csv`` (one row per key: ``scope`` is the key's text
        with a counter, ``original_key`` the key, then ``time_<scope>``,
        ``scale_<scope>``, ``num_<scope>`` columns) into ``out_dir``.
        ``ignore_init`` leaves out the first iteration (compilation)."""
        os.makedirs(out_dir, exist_ok=True)
        res_all = self.average(start_index=1 if ignore_init else 0)

        with open(os.path.join(out_dir, "profile_summary.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, ["scope", "time", "scale", "num"])
            writer.writeheader()
            for scope, res in res_all["summary"].items():
                writer.writerow(dict(res, scope=scope))

        rows = OrderedDict()        # unique label -> row
        label_of = {}               # key -> unique label
        seen = {}                   # str(key) -> how many keys share that text
        columns = []
        for scope, scope_res in res_all.items():
            if scope == "summary":
                continue
            for key, res in scope_res.items():
                cells = {f"{k}_{scope}": v for k, v in res.items()}
                for c in cells:
                    if c not in columns:
                        columns.append(c)
                label = label_of.get(key)
                if label is None:
                    n = seen.get(str(key), 0)
                    seen[str(key)] = n + 1
                    label = label_of[key] = f"{key}_{n}"
                    rows[label] = {"scope": label, "original_key": key}
                rows[label].update(cells)
        with open(os.path.join(out_dir, "profile_detail.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, ["scope", "original_key"] + columns)
            writer.writeheader()
            writer.writerows(rows.values())

    def print(self, start_index=1):
        """Print the mean time of every key, scope by scope (the first
        iteration, which compiles, is skipped by default)."""
        for name, results in self.average(start_index).items():
            if not results:
                continue
            print(f"### {name} ###")
            for key, res in results.items():
                print(f"{key}: {res['time']} [{res['scale']}]")
            print()

    def __call__(self, *args, **kwargs):
        """Same as :meth:`print`."""
        self.print()
