"""The communicator object, as NNabla's ``nnabla.communicators.Communicator``.

Collectives take an NdArray or a list of them (``x.data``, ``v.grad``), run the queued
step first, exchange the values with one compiled program (see ``_collectives``), and
write the results back into the same arrays; an ``all_reduce`` that follows a queued
``backward`` joins the step's program instead (see ``_fused``). A world of one process
needs no runtime: its collectives leave the arrays as they are.
"""
import os
import sys
import warnings

import numpy as np

from .._ndarray import NdArray
from .._queue import flush
from ..logger import logger
from . import _collectives, _fused, _runtime

WORLD = "world"


def _arrays(fname, data):
    arrays = list(data) if isinstance(data, (list, tuple)) else [data]
    for a in arrays:
        if not isinstance(a, NdArray):
            raise TypeError(f"{fname}: expected an NdArray or a list of NdArrays (a "
                            f"Variable's .data or .grad), got {type(a).__name__}")
    return arrays


def _values(arrays):
    """Each array's value as a program input, after the queued step (all of it: an
    exchange it holds must run before this one, as on the other ranks)."""
    flush()
    values = []
    for a in arrays:
        a._sync(read=True)
        values.append(a._input_value())
    return values


class Communicator:
    """Exchanges arrays between the processes of a data-parallel job.

    Build it with :func:`MultiProcessDataParallelCommunicator` (``MultiProcessCommunicator``)
    then call :meth:`init` before anything is computed.
    """

    def __init__(self, ctx, name, multi_process=True):
        self.ctx = ctx
        self._name = name
        self._world = _runtime.detect_world() if multi_process else \
            _runtime.World(1, 0, 0, "")
        self._initialized = False
        self._groups = {}
        self._group_objects = {}
        self._ctx_params = []
        self._barriers = 0
        self._fused_templates = {}

    # ------------------------------------------------------------ properties
    @property
    def name(self):
        """The communicator's name."""
        return self._name

    @property
    def size(self):
        """Number of processes in the world."""
        return self._world.size

    @property
    def rank(self):
        """This process's rank in the world."""
        return self._world.rank

    @property
    def local_rank(self):
        """This process's rank among the processes on the same host."""
        return self._world.local_rank

    # ------------------------------------------------------------ set-up
    def init(self):
        """Join the other processes (``jax.distributed.initialize``); call it before
        anything is computed. A second call is an error."""
        if self._initialized:
            raise RuntimeError(f"{self._name}.init: the communicator was already initialized")
        if self._world.size != 1:
            if _runtime.is_initialized():
                raise RuntimeError(f"{self._name}.init: this process already joined the "
                                   "runtime through another communicator; use that one")
            self._world = _runtime.initialize(self._world)
        self._groups = {WORLD: list(range(self._world.size))}
        self._initialized = True
        logger.debug(f"{self._name}: rank {self.rank} of {self.size} (local rank "
                     f"{self.local_rank})")

    def add_context_and_parameters(self, ctx_param_dict):
        """Register ``(context, {name: Variable})`` for :meth:`allreduce`."""
        if not isinstance(ctx_param_dict, tuple) or len(ctx_param_dict) != 2:
            raise TypeError(f"{self._name}.add_context_and_parameters: expected a tuple "
                            f"(context, parameter dict), got {type(ctx_param_dict).__name__}")
        ctx, params = ctx_param_dict
        if any(c is ctx for c, _ in self._ctx_params):
            raise ValueError(f"{self._name}.add_context_and_parameters: the same context "
                             "was added twice")
        self._ctx_params.append((ctx, dict(params)))

    def clear_context_parameters(self):
        """Forget every registered context and its parameters."""
        self._ctx_params = []

    # ------------------------------------------------------------ groups
    def new_group(self, name_ranks):
        """Declare the group ``(name, ranks)``; returns its name."""
        if not isinstance(name_ranks, (tuple, list)) or len(name_ranks) != 2:
            raise TypeError(f"{self._name}.new_group: expected (name, ranks), got "
                            f"{name_ranks!r}")
        name, ranks = name_ranks
        ranks = [int(r) for r in np.asarray(ranks).reshape(-1)]
        if not ranks or len(set(ranks)) != len(ranks) or \
                any(not 0 <= r < self.size for r in ranks):
            raise ValueError(f"{self._name}.new_group: ranks {ranks} must be distinct ranks "
                             f"of the world of {self.size}")
        self._groups[str(name)] = ranks
        self._group_objects.pop(str(name), None)
        return str(name)

    def list_groups(self):
        """``{group name: ranks}``, ``"world"`` included."""
        if not self._groups:
            return {WORLD: list(range(self.size))}
        return {k: list(v) for k, v in self._groups.items()}

    def find_group(self, group):
        """The ranks of ``group``; ``[]`` when there is no such group."""
        return list(self.list_groups().get(group, []))

    def _group(self, fname, group):
        """The Group to run ``fname`` on, or None where there is nothing to exchange."""
        if not self._initialized and self.size != 1:
            raise RuntimeError(f"{self._name}.{fname}: call comm.init() first")
        ranks = self.find_group(group)
        if not ranks:
            raise ValueError(f"{self._name}.{fname}: no group named {group!r} (groups: "
                             f"{sorted(self.list_groups())})")
        if self.rank not in ranks:
            raise ValueError(f"{self._name}.{fname}: rank {self.rank} is not in group "
                             f"{group!r} (ranks {ranks})")
        if len(ranks) == 1:
            return None
        cached = self._group_objects.get(group)
        if cached is None:
            cached = _collectives.Group(group, ranks, self.rank, _runtime.process_devices())
            self._group_objects[group] = cached
        return cached

    def jax_group_sum(self, group=WORLD):
        """A differentiable sum over ``group`` for use inside a compiled program (sync
        batch normalization's statistics), or None when the group is this process alone."""
        g = self._group("sync_batch_normalization", group)
        return None if g is None else _collectives.in_program_sum(g)

    def _watch(self, fname, group):
        return _runtime.Watchdog(self.rank, f"{fname} on group {group!r}")

    # ------------------------------------------------------------ collectives
    def all_reduce(self, data, division=False, inplace=False, group=WORLD):
        """Sum ``data`` (an NdArray or a list) over the group's processes, in place; the
        mean with ``division``. Arrays zeroed on every process stay zeroed. After a queued
        ``backward`` it joins the step's compiled program (see ``_fused``)."""
        self._reduce("all_reduce", data, division, group, dst=None)

    def reduce(self, data, dst, division=False, inplace=False, group=WORLD):
        """Like :meth:`all_reduce`, but only rank ``dst`` receives the result."""
        self._reduce("reduce", data, division, group, dst=int(dst))

    def _reduce(self, fname, data, division, group, dst, scale=1.0):
        arrays = _arrays(f"{self._name}.{fname}", data)
        g = self._group(fname, group)
        if dst is not None and dst not in self.find_group(group):
            raise ValueError(f"{self._name}.{fname}: dst={dst} is not in group {group!r}")
        if g is None or not arrays:
            if scale != 1.0:
                for a in arrays:
                    if not a.zeroing:
                        a._set_value(np.asarray(a._host(writable=False)) * scale)
            return
        if dst is None and _fused.fusable(arrays):
            _fused.enqueue_all_reduce(self._fused_templates, g, self.rank, arrays, division,
                                      scale)
            return
        values = _values(arrays)
        if scale != 1.0:
            values = [v * np.asarray(scale, np.asarray(v).dtype) for v in values]
        zeroed = np.array([a.zeroing for a in arrays], np.int32)
        with self._watch(fname, group):
            *results, n_zeroed = _collectives.all_reduce(g, values, division, zeroed)
            n_zeroed = np.asarray(n_zeroed)
        if dst is not None and dst != self.rank:
            return
        for a, r, z in zip(arrays, results, n_zeroed):
            if z != g.size:
                a._set_value(r)

    def all_reduce_callback(self, data, pack_size, division=False, group=WORLD,
                            scale_grad=1, keep_dtype=False):
        """A callback for ``loss.backward(communicator_callbacks=...)`` that all-reduces
        ``data`` (gradients, multiplied by ``scale_grad`` first) once backward is done."""
        arrays = _arrays(f"{self._name}.all_reduce_callback", data)
        if int(pack_size) <= 0:
            raise ValueError(f"{self._name}.all_reduce_callback: pack_size must be "
                             f"positive, got {pack_size}")
        return AllReduceCallback(self, arrays, bool(division), group, float(scale_grad))

    def bcast(self, data, src, inplace=False, group=WORLD):
        """Copy rank ``src``'s ``data`` into every process's arrays."""
        fname = "bcast"
        arrays = _arrays(f"{self._name}.{fname}", data)
        g = self._group(fname, group)
        ranks = self.find_group(group)
        if int(src) not in ranks:
            raise ValueError(f"{self._name}.{fname}: src={src} is not in group {group!r}")
        if g is None or not arrays:
            return
        values = _values(arrays)
        with self._watch(fname, group):
            results = _collectives.broadcast(g, values, ranks.index(int(src)))
            results[-1].block_until_ready()
        if self.rank != int(src):
            for a, r in zip(arrays, results):
                a._set_value(r)

    def all_gather(self, ndarray, ndarray_list, group=WORLD):
        """``ndarray_list[i]`` receives the ``ndarray`` of the group's i-th process."""
        fname = f"{self._name}.all_gather"
        (src,) = _arrays(fname, [ndarray])
        outs = _arrays(fname, ndarray_list)
        ranks = self.find_group(group)
        if len(outs) != len(ranks) and ranks:
            raise ValueError(f"{fname}: ndarray_list has {len(outs)} arrays for a group of "
                             f"{len(ranks)} processes")
        for o in outs:
            if o.shape != src.shape:
                raise ValueError(f"{fname}: output shape {o.shape} differs from the input "
                                 f"shape {src.shape}")
        g = self._group("all_gather", group)
        if g is None:
            outs[0].copy_from(src)
            return
        (value,) = _values([src])
        with self._watch("all_gather", group):
            gathered = _collectives.all_gather(g, value)
            gathered.block_until_ready()
        for i, o in enumerate(outs):
            o._set_value(gathered[i])

    def reduce_scatter(self, ndarray_list, ndarray, division=False, group=WORLD):
        """``ndarray`` receives the sum over the group of each process's
        ``ndarray_list[i]``, i being this process's place in the group."""
        fname = f"{self._name}.reduce_scatter"
        ins = _arrays(fname, ndarray_list)
        (out,) = _arrays(fname, [ndarray])
        ranks = self.find_group(group)
        if len(ins) != len(ranks) and ranks:
            raise ValueError(f"{fname}: ndarray_list has {len(ins)} arrays for a group of "
                             f"{len(ranks)} processes")
        for a in ins:
            if a.shape != out.shape:
                raise ValueError(f"{fname}: input shape {a.shape} differs from the output "
                                 f"shape {out.shape}")
        g = self._group("reduce_scatter", group)
        if g is None:
            out.copy_from(ins[0])
            return
        stacked = np.stack([np.asarray(v) for v in _values(ins)])
        with self._watch("reduce_scatter", group):
            result = _collectives.reduce_scatter(g, stacked, division)
            result.block_until_ready()
        out._set_value(result)

    def allreduce(self, division=False, inplace=False):
        """Deprecated (use :meth:`all_reduce`): all-reduce the gradients of the
        parameters given to :meth:`add_context_and_parameters`."""
        warnings.warn("Communicator.allreduce is deprecated; use all_reduce",
                      DeprecationWarning, stacklevel=2)
        if not self._ctx_params:
            raise RuntimeError(f"{self._name}.allreduce: no parameters were added with "
                               "add_context_and_parameters")
        if len(self._ctx_params) > 1:
            _reduce_local_copies(self._ctx_params, division)
        grads = [v.grad for v in self._ctx_params[0][1].values()]
        self.all_reduce(grads, division=division)
        for _, params in self._ctx_params[1:]:
            for src, v in zip(grads, params.values()):
                v.grad.copy_from(src)

    # ------------------------------------------------------------ control
    def barrier(self):
        """Wait until every process reached this call."""
        if self.size == 1:
            return
        if not self._initialized:
            raise RuntimeError(f"{self._name}.barrier: call comm.init() first")
        self._barriers += 1
        flush()  # the step's exchanges come before the barrier, as on the other ranks
        _runtime.barrier(f"nnjax/barrier/{self._barriers}", self.rank,
                         _runtime.timeout("NNJAX_COLLECTIVE_TIMEOUT"))

    def abort(self):
        """End this process at once with a failure status (the launcher, or the
        runtime's heartbeat, then ends the others)."""
        sys.stderr.write(f"{self._name}: rank {self.rank} called abort()\n")
        sys.stderr.flush()
        os._exit(1)


def _reduce_local_copies(ctx_params, division):
    """Sum (mean) the gradients of each parameter over the copies added in this process."""
    params = [list(p.values()) for _, p in ctx_params]
    for copies in zip(*params):
        total = sum(np.asarray(v.g, np.float64) for v in copies)
        if division:
            total = total / len(copies)
        for v in copies:
            v.g = total


class AllReduceCallback:
    """What ``all_reduce_callback`` returns: ``backward`` calls :meth:`on_finish` after
    queuing the gradients, which all-reduces them."""

    def __init__(self, comm, arrays, division, group, scale_grad):
        self.comm = comm
        self.arrays = arrays
        self.division = division
        self.group = group
        self.scale_grad = scale_grad

    def on_finish(self):
        self.comm._reduce("all_reduce_callback", self.arrays, self.division, self.group,
                          dst=None, scale=self.scale_grad)
