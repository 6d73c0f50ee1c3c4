"""Tiered compilation of queued programs.

A program seen for the first time is compiled with XLA's cheap settings; one
that keeps running is compiled again with full optimization.
"""
import math
import os
import sys
import time
from collections import OrderedDict

import jax

from . import _compile_cache as compile_cache
from ._host_programs import host_runner
from ._ir_context import lowering

# Tiered compilation. A program seen for the first time is compiled with XLA's
# cheap settings (about 4x faster to compile on CPU, up to 2.5x slower to run).
# A program on more than SMALL_PROGRAM_BYTES that runs in a loop (no other
# program compiled in between) is compiled again with full optimization once
# its first-tier runs have cost as much time as that compile would (ski rental:
# a loop that ends early pays about twice the better choice at most). From
# TIER_UP_HITS runs in a row on, one run is timed, and the compile is estimated
# as FULL_COMPILE_FACTOR times the first tier's. The first tier (LLVM level 0)
# forms no fused multiply-adds, so every first-tier program rounds each
# operation as NNabla's CPU kernels do (a fused backward equals separate ones
# bit for bit); the full tier may differ from it in the last bit. Training
# steps start fully optimized. NNJAX_TIERED_COMPILE=0 turns the first tier off.
TIER_UP_HITS = 32
FULL_COMPILE_FACTOR = 5.0
# A small program (a test case, a numerical gradient's loop) stays in the first
# tier: the second would gain it microseconds per run, and switching tiers in
# the middle of a finite-difference loop changes its last bits, which
# (f(x + e) - f(x - e)) / 2e magnifies into a wrong gradient.
SMALL_PROGRAM_BYTES = 1 << 18
NEVER = sys.maxsize
FAST_COMPILE_OPTIONS = {
    "xla_cpu_use_fusion_emitters": False,
    "xla_cpu_parallel_codegen_split_count": 1,
    "xla_backend_optimization_level": 0,
}
# XLA's CPU backend (jaxlib 0.10) hands dots, convolutions and element-wise chains to
# YNNPACK by default. On this project's CPUs (AVX-512 Xeon, 2 cores) keeping only its
# individual dots ran the bench workloads faster or as fast (hand-written steps, min of
# 5 x 20: LeNet+BN training 23.1 -> 21.0 ms, inference 5.5 -> 3.2 ms, MLP 784-512-512-10
# with Adam 5.3 -> 4.9 ms, tiny MLP 108 -> 64 us, MLP width 4096 156 -> 151 ms; with no
# YNNPACK at all the wide MLPs ran 1.4-1.8x slower), so optimized programs are compiled
# with that choice; NNJAX_XLA_YNN=1 keeps XLA's default. The first tier keeps the
# default: there the precompiled kernels beat XLA's code generated at LLVM level 0
# (NNabla's 2-D convolution tests, first input shape, empty compile cache: 52 s with
# them, 62 s without).
KERNEL_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
MAX_SHARED_EXECUTABLES = 1024
# Programs set up so far. A program tiers up only after hits with none set up in
# between: a loop. A test file that meets the same graph again among many new ones
# keeps it in the first tier, so results it compares across cases (a backward with
# and without accumulation) come from programs of one tier and round alike.
_setups = 0

# First-tier executables by program text: queues that differ only in what the
# lowering erases (identity steps, sinks, the order ops were queued in) share one.
_executables = OrderedDict()


class Program:
    """A compiled queue: ``run(values, donated, operands)`` (the arrays of
    ``donated`` are given to the program: their buffers hold its results).
    ``fast`` while it runs the cheaply compiled first tier; ``tier_up`` swaps in
    the optimized one."""

    __slots__ = ("run", "fast", "hits", "tier_up_hits", "shared", "_pure", "_keep_unused",
                 "_setups_seen", "build_seconds", "run_seconds", "from_disk", "on_host")

    def __init__(self, pure, fast, tier_up_hits=TIER_UP_HITS, keep_unused=False):
        global _setups
        _setups += 1
        self._pure = pure
        # (a donated buffer the program only writes into is an argument it never reads)
        self._keep_unused = keep_unused
        self.fast = fast
        self.hits = 0
        self._setups_seen = _setups
        self.tier_up_hits = tier_up_hits
        self.shared = False  # its first tier reuses an identical program's executable
        self.from_disk = False  # its first tier was loaded from the compile cache
        self.on_host = False  # run by numpy (nnjax._host_programs): never compiled
        self.build_seconds = 0.0  # lowering and compiling the first tier
        self.run_seconds = None  # one timed first-tier run (see ``tier_up``)
        self.run = self._first_run if fast else self._first_optimized_run

    def _first_run(self, values, donated, operands):
        start = time.perf_counter()
        traced = self._jitted().trace(values, donated, operands)
        host = host_runner(traced) if on_host() else None
        self.on_host = host is not None
        if host is not None:  # exact in numpy: no lowering, no compile, no tier-up
            self.build_seconds = time.perf_counter() - start
            self.run = host
            return host(values, donated, operands)
        with lowering():
            lowered = traced.lower()
        key = _sharing_key(lowered)
        executable = _executables.get(key) if key is not None else None
        if executable is None:
            executable, compile_seconds, self.from_disk = _compile_or_load(
                lowered, key, FAST_COMPILE_OPTIONS)
            if self.from_disk:  # the tier-up rule weighs the compile this load saved
                start -= compile_seconds
            if key is not None:
                if len(_executables) >= MAX_SHARED_EXECUTABLES:
                    _executables.popitem(last=False)
                _executables[key] = executable
        else:
            self.shared = True
            _executables.move_to_end(key)
        self.build_seconds = time.perf_counter() - start
        self.run = executable
        return executable(values, donated, operands)

    def _jitted(self):
        return jax.jit(self._pure, donate_argnums=1, keep_unused=self._keep_unused)

    def lower_again(self, values, donated, operands):
        """What a caller runs when ``run`` raised TypeError: an array changed
        shape under a cached queue layout (reset_shape). Lowers for the new
        shapes, as jax.jit would retrace. (``run`` is the executable itself,
        with no wrapper: a training step's call costs no extra Python.)"""
        global _setups
        _setups += 1
        self._setups_seen = _setups
        first = self._first_run if self.fast else self._first_optimized_run
        return first(values, donated, operands)

    def due_for_tier_up(self):
        """Count a cache hit; true when ``tier_up`` should see this run."""
        if not self.fast or self.on_host:
            return False
        if self._setups_seen != _setups:  # other programs were set up since: not a loop
            self._setups_seen = _setups
            self.hits = 0
        self.hits += 1
        return self.hits >= self.tier_up_hits

    def tier_up(self, values, donated, operands):
        """Run once more: the first time, the first tier's run is timed and the
        number of runs in a row that pay for the full compile is set; once
        due again, with the optimized program (``fast`` turns false)."""
        if self.run_seconds is None:
            jax.block_until_ready((values, donated))  # inputs other programs still compute
            start = time.perf_counter()
            try:
                outs = jax.block_until_ready(self.run(values, donated, operands))
            except TypeError:  # new shapes: nothing to time yet
                return self.lower_again(values, donated, operands)
            self.run_seconds = time.perf_counter() - start
            self.tier_up_hits = max(self.hits + 1, runs_paying_for_compile(
                self.build_seconds, self.run_seconds))
            return outs
        self.fast = False
        return self._first_optimized_run(values, donated, operands)

    def _first_optimized_run(self, values, donated, operands):
        """Compile with full optimization (or load that executable from disk)."""
        with lowering():
            lowered = self._jitted().lower(values, donated, operands)
        executable, _, self.from_disk = _compile_or_load(lowered, _sharing_key(lowered),
                                                         cpu_kernel_options())
        self.run = executable
        return executable(values, donated, operands)


_kernel_options = []


def cpu_kernel_options():
    """The compile options choosing XLA's CPU kernels (see KERNEL_OPTIONS): none
    off the CPU, with NNJAX_XLA_YNN=1, or once a jaxlib refused the option."""
    if not _kernel_options:
        ours = jax.default_backend() == "cpu" and os.environ.get("NNJAX_XLA_YNN", "0") != "1"
        _kernel_options.append(KERNEL_OPTIONS if ours else {})
    return _kernel_options[0]


def _compile(lowered, options):
    """``lowered.compile(options)``; a jaxlib without the kernel option compiles with
    its defaults (from then on for every program)."""
    try:
        return lowered.compile(options)
    except Exception as error:  # (an XlaRuntimeError naming the unknown option)
        if not any(k in options and k in str(error) for k in KERNEL_OPTIONS):
            raise
    _kernel_options[:] = [{}]
    return lowered.compile({k: v for k, v in options.items() if k not in KERNEL_OPTIONS})


def _compile_or_load(lowered, key, options):
    """``(executable, seconds its compile took, whether it came from disk)``;
    programs with no sharing key (host callbacks) are always compiled."""
    stored = compile_cache.entry_name(key, options) if key is not None else None
    loaded = compile_cache.load(stored, lowered) if stored else None
    if loaded is not None:
        return loaded[0], loaded[1], True
    start = time.perf_counter()
    executable = _compile(lowered, options)
    seconds = time.perf_counter() - start
    if stored:
        compile_cache.store(stored, executable, seconds)
    return executable, seconds, False


def runs_paying_for_compile(first_tier_build_seconds, run_seconds):
    """How many first-tier runs cost as much time as the full-tier compile."""
    full_compile = FULL_COMPILE_FACTOR * first_tier_build_seconds
    return min(NEVER, math.ceil(full_compile / max(run_seconds, 1e-9)))


def _sharing_key(lowered):
    """What makes two lowered programs interchangeable: the program text, the
    argument and result trees, the argument types (unused ones are not in the
    text) and which arguments the program kept. Programs
    that call back into Python are never shared (the text does not name the
    callback)."""
    args = getattr(getattr(lowered, "_lowering", None), "compile_args", None)
    if not args or "kept_var_idx" not in args or args.get("host_callbacks") or args.get("keepalive"):
        return None
    in_types = tuple((a.shape, a.dtype) for a in jax.tree_util.tree_leaves(lowered.in_avals))
    return (lowered.as_text(), lowered.in_tree, lowered.out_tree, in_types,
            tuple(sorted(args["kept_var_idx"])))


def starts_optimized(kinds, nbytes):
    """Training steps (programs that update parameters) compile fully at once:
    the first tier may round the last bit differently (it contracts no
    multiply-adds), and a resumed training run must equal the uninterrupted
    one bit for bit. Large one-off graphs (a transformer's forward and
    backward) do start in the first tier: their compile outweighs their run."""
    return "update" in kinds or not tiered()


def tier_up_hits(kinds, nbytes, float_inputs=True):
    """How many cache hits make a first-tier program worth optimizing. A program
    of no floating-point inputs (a random generator's: its keys come as operands)
    is in no finite-difference loop, whatever its size: it tiers up as a large one."""
    return TIER_UP_HITS if nbytes >= SMALL_PROGRAM_BYTES or not float_inputs else NEVER


# A graph's first runs go function by function: each function is a small
# program cached by (type, args, input shapes) and shared by every graph that
# has it (a test's forward, its clear-buffer variant, the function object's own
# calls, the next test case with the same shapes), where a fused program would be
# compiled for that graph alone. A graph on more than SMALL_PROGRAM_BYTES of
# inputs is fused into one program once it has run BY_FUNCTION_RUNS times (its
# compile pays for itself: both the compile and the unfused calls grow with the
# number of functions); a smaller one stays unfused, as small programs stay in
# the first tier (a finite-difference loop must not change programs midway: the
# fused program may round an operation differently, which the difference
# quotient magnifies). A graph is fused at once when a solver updated parameters
# since its last run, or when it reads parameters a solver updates (a training
# step: fused from its first step, so that a run resumed from a checkpoint
# computes its first step as the uninterrupted run does).
BY_FUNCTION_RUNS = 32


def runs_by_function(plan, key, updates, trained, nbytes):
    """Count a run of ``key`` (a graph's forward or backward) in ``plan.cache``;
    true while it should run function by function. ``updates``: how many
    solver updates were queued so far; ``trained(plan)``: whether the graph
    reads parameters a solver updates; ``nbytes(plan)``: the size of its inputs."""
    cache = plan.cache
    seen = cache.get(key)
    if seen is None:
        seen = cache[key] = ((0, updates, nbytes(plan) < SMALL_PROGRAM_BYTES) if by_function()
                             else (None, updates, False))
    runs, last_updates, small = seen
    if runs is None:
        return False
    if ((runs >= BY_FUNCTION_RUNS and not small) or last_updates != updates
            or trained(plan)):
        cache[key] = None, updates, small  # fused from now on
        return False
    cache[key] = runs + 1, updates, small
    return True


def by_function():
    return tiered() and os.environ.get("NNJAX_FIRST_RUNS_BY_FUNCTION", "1") != "0"


def on_host():
    """Whether first-tier programs numpy computes exactly run there
    (nnjax._host_programs; NNJAX_HOST_PROGRAMS=0 compiles them all)."""
    return os.environ.get("NNJAX_HOST_PROGRAMS", "1") != "0"


def tiered():
    return os.environ.get("NNJAX_TIERED_COMPILE", "1") != "0" and jax.default_backend() == "cpu"
