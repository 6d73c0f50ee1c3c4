"""Collectives over the processes of a group, on values (no NdArray here).

Each process owns one device. A group's ranks make a one-axis mesh of their devices;
a collective is one jit-compiled ``shard_map`` program per (operation, group, shapes,
dtypes, options), cached, taking every array of a call at once (XLA packs them).
Within the program each process sees its own block; results come back as this
process's block.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import io_callback
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "ranks"


class Group:
    """The processes ``ranks`` (in this order) of a communicator, seen from ``rank``."""

    def __init__(self, name, ranks, rank, devices):
        self.name = name
        self.ranks = tuple(ranks)
        self.index = self.ranks.index(rank) if rank in self.ranks else -1
        self.mesh = Mesh(np.array([devices[r] for r in self.ranks]), (AXIS,))
        self.device = devices[rank]

    @property
    def size(self):
        return len(self.ranks)


def _global(group, value):
    """This process's value as its block (leading axis 1) of a group-wide array."""
    block = jax.device_put(jnp.asarray(value)[None], group.device)
    shape = (group.size,) + tuple(block.shape[1:])
    return jax.make_array_from_single_device_arrays(
        shape, NamedSharding(group.mesh, PartitionSpec(AXIS)), [block])


def _local(value):
    return value.addressable_shards[0].data[0]


@functools.lru_cache(maxsize=512)
def _program(kind, mesh, n, options):
    """The compiled collective ``kind`` over ``n`` arrays of one group."""
    spec = PartitionSpec(AXIS)

    def body(*blocks):
        xs = [b[0] for b in blocks]
        return tuple(r[None] for r in _BODIES[kind](xs, options))

    return jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(spec,) * n,
                                 out_specs=(spec,) * n))


def _sum(xs, options):
    division, size, n_counts = options
    out = []
    for i, x in enumerate(xs):
        s = lax.psum(x, AXIS)
        divide = division and i < len(xs) - n_counts
        out.append((s / size).astype(x.dtype) if divide else s)
    return out


def _gather(xs, options):
    (x,) = xs
    return [lax.all_gather(x, AXIS)]


def _broadcast(xs, options):
    (src,) = options
    return [lax.all_gather(x, AXIS)[src] for x in xs]


def _scatter(xs, options):
    (stacked,) = xs
    division, size = options
    s = lax.psum_scatter(stacked, AXIS, scatter_dimension=0, tiled=False)
    return [(s / size).astype(stacked.dtype) if division else s]


_BODIES = {"sum": _sum, "all_gather": _gather, "bcast": _broadcast, "reduce_scatter": _scatter}


def _run(kind, group, values, options=()):
    program = _program(kind, group.mesh, len(values), options)
    out = program(*[_global(group, v) for v in values])
    return [_local(o) for o in out]


def all_reduce(group, values, division=False, counts=None):
    """Sum (or mean with ``division``) of each value over the group; with ``counts`` (an
    int array) also its sum, never divided, as the last result."""
    extra = [] if counts is None else [counts]
    return _run("sum", group, list(values) + extra, (bool(division), group.size, len(extra)))


def broadcast(group, values, src_index):
    """The values of the group's ``src_index``-th process, on every process."""
    return _run("bcast", group, values, (int(src_index),))


def all_gather(group, value):
    """The group's values, stacked along a new first axis in the group's rank order."""
    return _run("all_gather", group, [value])[0]


def reduce_scatter(group, stacked, division=False):
    """Sum over the group of ``stacked[i]`` on the group's i-th process."""
    return _run("reduce_scatter", group, [stacked], (bool(division), group.size))[0]


def all_reduce_host(group, arrays):
    """Sum of numpy arrays over the group, as numpy (for callbacks inside programs)."""
    return [np.asarray(v) for v in all_reduce(group, [np.asarray(a) for a in arrays])]


@functools.lru_cache(maxsize=64)
def in_program_sum(group):
    """A differentiable sum over the group usable inside a compiled program (a batch
    statistic): it calls out to :func:`all_reduce_host`, and its gradient is the sum of
    the cotangents over the group. The callbacks are ordered, so every process runs a
    program's exchanges in the same order."""

    def host_sum(value):
        return all_reduce_host(group, [value])[0]

    def exchange(v):
        return io_callback(host_sum, jax.ShapeDtypeStruct(v.shape, v.dtype), v, ordered=True)

    @jax.custom_vjp
    def group_sum(v):
        return exchange(v)

    def fwd(v):
        return exchange(v), None

    def bwd(_, g):
        return (exchange(g),)

    group_sum.defvjp(fwd, bwd)
    return group_sum
