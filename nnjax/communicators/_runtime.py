"""Joining JAX's multi-process runtime: where the world's size and this process's rank
come from, ``jax.distributed.initialize`` with bounded timeouts, and the watchdog that
ends a process whose collective a peer never joins.

Sources, first found wins: the launcher's variables (``python -m nnabla.distributed``
sets ``NNJAX_COORDINATOR``, ``NNJAX_NUM_PROCESSES``, ``NNJAX_PROCESS_ID``,
``NNJAX_LOCAL_RANK``), OpenMPI's (``OMPI_COMM_WORLD_SIZE/RANK/LOCAL_RANK`` with
``NNJAX_COORDINATOR`` or ``MASTER_ADDR``/``MASTER_PORT`` or 127.0.0.1:``NNJAX_PORT``),
then JAX's own cluster detection (SLURM, ...) when ``NNJAX_AUTO_DETECT=1``.
"""
import faulthandler
import io
import os
import socket
import sys
from typing import NamedTuple

import jax
import jax.extend.backend as jax_backend
from jax._src import distributed as jax_distributed
from jax._src import xla_bridge

DEFAULT_PORT = 29517
# Seconds; each can be overridden by the environment variable of the same name.
TIMEOUTS = {"NNJAX_INIT_TIMEOUT": 60, "NNJAX_HEARTBEAT_TIMEOUT": 30,
            "NNJAX_COLLECTIVE_TIMEOUT": 300}


class World(NamedTuple):
    """Where this process stands: ``size`` processes, this one is ``rank``."""
    size: int
    rank: int
    local_rank: int
    coordinator: str  # "host:port", or "" when JAX detects the cluster itself


def timeout(name):
    value = os.environ.get(name, "")
    try:
        return float(value) if value else float(TIMEOUTS[name])
    except ValueError:
        raise ValueError(f"nnabla.communicators: {name}={value!r} is not a number of "
                         "seconds") from None


def _int_env(name):
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"nnabla.communicators: {name}={value!r} is not an integer") from None


def _mpi_coordinator():
    if os.environ.get("NNJAX_COORDINATOR"):
        return os.environ["NNJAX_COORDINATOR"]
    if os.environ.get("MASTER_ADDR"):
        return f"{os.environ['MASTER_ADDR']}:{os.environ.get('MASTER_PORT', DEFAULT_PORT)}"
    return f"127.0.0.1:{os.environ.get('NNJAX_PORT', DEFAULT_PORT)}"


def detect_world():
    """The World the environment describes; a size-1 world when it describes none."""
    if os.environ.get("NNJAX_NUM_PROCESSES"):
        size = _int_env("NNJAX_NUM_PROCESSES")
        rank = _int_env("NNJAX_PROCESS_ID")
        local = _int_env("NNJAX_LOCAL_RANK") if os.environ.get("NNJAX_LOCAL_RANK") else rank
        coordinator = os.environ.get("NNJAX_COORDINATOR", f"127.0.0.1:{DEFAULT_PORT}")
    elif os.environ.get("OMPI_COMM_WORLD_SIZE"):
        size = _int_env("OMPI_COMM_WORLD_SIZE")
        rank = _int_env("OMPI_COMM_WORLD_RANK")
        local = _int_env("OMPI_COMM_WORLD_LOCAL_RANK") \
            if os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK") else rank
        coordinator = _mpi_coordinator()
    elif os.environ.get("NNJAX_AUTO_DETECT") == "1":
        return World(-1, -1, -1, "")
    else:
        return World(1, 0, 0, "")
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"nnabla.communicators: rank {rank} is not in a world of {size} "
                         "processes (check the launcher's environment)")
    return World(size, rank, local, coordinator)


def is_initialized():
    return jax_distributed.global_state.client is not None


def _release_unused_backend():
    """JAX must join the runtime before it creates its backends. Backends that exist but
    hold no array (``get_extension_context`` asked for the devices) are dropped; once
    something was computed, that is too late."""
    if not xla_bridge.backends_are_initialized():
        return
    computed = any(b.live_executables() for b in jax_backend.backends().values())
    if computed or jax.live_arrays():
        raise RuntimeError(
            "nnabla.communicators: JAX has already computed something in this process, so "
            "it can no longer join the multi-process runtime. Create the communicator and "
            "call comm.init() first in the script, before any computation (creating "
            "parameters, .d reads, forward).")
    jax_backend.clear_backends()


def initialize(world):
    """Join the runtime described by ``world``; return the completed World."""
    _release_unused_backend()
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = dict(initialization_timeout=int(timeout("NNJAX_INIT_TIMEOUT")),
                  heartbeat_timeout_seconds=max(1, int(timeout("NNJAX_HEARTBEAT_TIMEOUT"))),
                  shutdown_timeout_seconds=max(1, int(timeout("NNJAX_HEARTBEAT_TIMEOUT"))))
    if world.size < 0:
        jax.distributed.initialize(**kwargs)
        rank = jax.process_index()
        return World(jax.process_count(), rank, host_local_rank(rank, jax.process_count()), "")
    if _wants_gpu_per_process():
        kwargs["local_device_ids"] = [world.local_rank]
    try:
        jax.distributed.initialize(world.coordinator, num_processes=world.size,
                                   process_id=world.rank, **kwargs)
    except Exception as e:
        raise RuntimeError(f"nnabla.communicators: rank {world.rank} could not join the "
                           f"{world.size}-process runtime at {world.coordinator} within "
                           f"{kwargs['initialization_timeout']} s: {e}") from e
    # Creating the backend is itself an exchange between all processes: do it now,
    # while every process is in init(), rather than in some later first collective.
    with Watchdog(world.rank, "creating the backend"):
        process_devices()
    return world._replace(local_rank=host_local_rank(world.rank, world.size))


def _wants_gpu_per_process():
    """On a host with several GPUs, each process owns the GPU of its local rank."""
    return os.environ.get("NNJAX_DEVICE_PER_PROCESS", "1") == "1" and \
        os.environ.get("JAX_PLATFORMS", "") not in ("cpu",) and _gpu_count() > 1


def _gpu_count():
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip()])
    return 0


def host_local_rank(rank, size):
    """How many lower ranks run on this host (hostnames exchanged through the
    coordinator's key-value store)."""
    client = jax_distributed.global_state.client
    client.key_value_set(f"nnjax/host/{rank}", socket.gethostname())
    wait_ms = int(timeout("NNJAX_INIT_TIMEOUT") * 1000)
    hosts = [client.blocking_key_value_get(f"nnjax/host/{r}", wait_ms) for r in range(rank)]
    return sum(h == socket.gethostname() for h in hosts)


def process_devices():
    """One device per process, indexed by process id (each process's first device)."""
    first = {}
    for d in jax.devices():
        if d.process_index not in first or d.id < first[d.process_index].id:
            first[d.process_index] = d
    return [first[i] for i in sorted(first)]


class Watchdog:
    """Ends this process when a collective has not finished within
    ``NNJAX_COLLECTIVE_TIMEOUT`` seconds (a peer that is alive but never joins would
    otherwise block it forever), printing "Timeout" and the stack of the waiting
    collective; turns a failed exchange into an error naming the rank and the collective.

    The exchange blocks inside XLA, where no Python thread runs: the timer is
    ``faulthandler``'s, which does not need the interpreter."""

    def __init__(self, rank, what):
        self.rank = rank
        self.what = what
        self.seconds = timeout("NNJAX_COLLECTIVE_TIMEOUT")
        self.armed = False

    def __enter__(self):
        stream = sys.__stderr__
        if self.seconds > 0 and stream is not None:
            try:
                faulthandler.dump_traceback_later(self.seconds, exit=True, file=stream)
                self.armed = True
            except (ValueError, OSError, io.UnsupportedOperation):
                pass  # no file descriptor to write to: run without the timer
        return self

    def __exit__(self, kind, error, tb):
        if self.armed:
            faulthandler.cancel_dump_traceback_later()
        if isinstance(error, Exception):  # the exchange itself failed: a peer is gone
            raise RuntimeError(f"nnabla.communicators: rank {self.rank}: {self.what} "
                               f"failed (did a peer die?): {error}") from error
        return False


def barrier(name, rank, seconds):
    """Wait until every process reached the barrier ``name``; error after ``seconds``."""
    client = jax_distributed.global_state.client
    try:
        client.wait_at_barrier(name, int(seconds * 1000))
    except Exception as e:
        raise RuntimeError(f"nnabla.communicators: rank {rank}: barrier timed out after "
                           f"{seconds:g} s or a peer failed: {e}") from e


def shutdown():
    if is_initialized():
        jax.distributed.shutdown()
