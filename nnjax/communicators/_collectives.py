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
    """This process's value as its block (along the first axis) of a group-wide array:
    no copy and no program for a value already on the device."""
    if not isinstance(value, jax.Array):
        value = jax.device_put(np.asarray(value), group.device)
    shape = (group.size * value.shape[0],) + tuple(value.shape[1:])
    return jax.make_array_from_single_device_arrays(
        shape, NamedSharding(group.mesh, PartitionSpec(AXIS)), [value])


def _local(value):
    return value.addressable_shards[0].data


@functools.lru_cache(maxsize=512)
def _program(kind, mesh, n, options):
    """The compiled collective ``kind`` over ``n`` arrays of one group."""
    spec = PartitionSpec(AXIS)

    def body(*blocks):
        return tuple(_BODIES[kind](list(blocks), options))

    return jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(spec,) * n,
                                 out_specs=(spec,) * n))


def _packed_psum(xs):
    """psum of several arrays as one exchange per dtype (XLA on CPU would run one
    all-reduce per array)."""
    out = [None] * len(xs)
    by_dtype = {}
    for i, x in enumerate(xs):
        by_dtype.setdefault(jnp.dtype(x.dtype), []).append(i)
    for idx in by_dtype.values():
        flat = lax.psum(jnp.concatenate([xs[i].reshape(-1) for i in idx]), AXIS)
        offset = 0
        for i in idx:
            out[i] = flat[offset:offset + xs[i].size].reshape(xs[i].shape)
            offset += xs[i].size
    return out


def _sum(xs, options):
    division, size, n_counts = options
    out = []
    for i, s in enumerate(_packed_psum(xs)):
        divide = division and i < len(xs) - n_counts
        out.append((s / size).astype(xs[i].dtype) if divide else s)
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
    """``kind`` over ``values`` (0-d values travel as 1-element arrays)."""
    scalar = [np.ndim(v) == 0 for v in values]
    values = [v.reshape(1) if s else v for v, s in zip(values, scalar)]
    program = _program(kind, group.mesh, len(values), options)
    out = [_local(o) for o in program(*[_global(group, v) for v in values])]
    return [o.reshape(()) if s else o for o, s in zip(out, scalar)]


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
    shape = np.shape(value)
    flat = value.reshape(-1) if isinstance(value, jax.Array) else np.reshape(value, -1)
    return _run("all_gather", group, [flat])[0].reshape((group.size,) + shape)


def reduce_scatter(group, stacked, division=False):
    """Sum over the group of ``stacked[i]`` on the group's i-th process."""
    shape = np.shape(stacked)[1:]
    flat = np.reshape(stacked, (group.size, -1))
    return _run("reduce_scatter", group, [flat], (bool(division), group.size))[0].reshape(shape)


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
