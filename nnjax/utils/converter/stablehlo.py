"""NNP network -> StableHLO through ``jax.export`` (no NNabla converter has this).

``export_graph(inputs, outputs)`` does the same for a live nnjax graph. The
executor's network of an NNP is rebuilt with nnjax (parameters in a private scope),
its plan becomes one pure JAX function of the data inputs (parameters are
baked in as constants) and ``jax.export`` serializes it: ``.stablehlo`` is
the serialized ``Exported`` artifact (``load_stablehlo`` runs it with
nothing of nnjax's graph code), ``.mlir`` the StableHLO module as text. The
batch axis is symbolic where every function of the network allows it,
otherwise fixed (the ``batch_size`` given, else the network's).
"""
from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export

from ..._plan import build_plan, rng_rows, run_steps, step_callables
from ...logger import logger
from .. import get_file_handle as fh
from ..nnp_graph import ProtoNetwork, load_parameter_entries

__all__ = ["StableHloExporter", "network_function", "graph_function", "export_graph",
           "load_stablehlo"]


def _executor_network(proto):
    if not proto.executor:
        raise ValueError("StableHLO export: the model has no executor")
    e = proto.executor[0]
    for n in proto.network:
        if n.name == e.network_name:
            return e, n
    raise ValueError(f"StableHLO export: executor {e.name!r} runs network "
                     f"{e.network_name!r}, which the model does not hold")


def network_function(nnp, batch_size=None):
    """(fn, input shapes, input names, output names): ``fn(*inputs)`` computes the
    executor's outputs as a pure JAX function."""
    proto = nnp.protobuf
    executor, network = _executor_network(proto)
    scope = OrderedDict()
    entries = fh.parameters_of_proto(proto, "the model")
    load_parameter_entries(entries, scope, "the model")
    variables = ProtoNetwork(network).build(batch_size, param_scope=scope)
    in_names = [d.variable_name for d in executor.data_variable]
    out_names = [o.variable_name for o in executor.output_variable]
    for name in in_names + out_names:
        if name not in variables:
            raise ValueError(f"StableHLO export: variable {name!r} of executor "
                             f"{executor.name!r} is not in network {network.name!r}")
    fn, shapes = graph_function([variables[n] for n in in_names],
                                [variables[n] for n in out_names])
    return fn, shapes, in_names, out_names


def graph_function(inputs, outputs):
    """(fn, input shapes): ``fn(*arrays)`` computes ``outputs`` (nnjax Variables) from
    ``inputs`` as a pure JAX function; every other leaf of the graph (parameters)
    is baked in with its current value."""
    plan = build_plan(list(outputs))
    callables = step_callables(plan)
    input_slots = []
    for v in inputs:
        if id(v) not in plan.index:
            raise ValueError(f"StableHLO export: input {v.name or v!r} does not reach the outputs")
        input_slots.append(plan.index[id(v)])
    constants = [(plan.index[id(v)], np.asarray(v.d)) for v in plan.roots
                 if plan.index[id(v)] not in input_slots]
    output_slots = [plan.index[id(v)] for v in outputs]
    n_rng = sum(rng_rows(f.spec, f.python_function) for f in plan.rng_functions)

    def fn(*xs):
        env = [None] * len(plan.variables)
        for slot, value in constants:
            env[slot] = jnp.asarray(value)
        for slot, x in zip(input_slots, xs):
            env[slot] = x
        keys = [jax.random.key(i) for i in range(n_rng)]
        run_steps(plan.steps, callables, env, rng_keys=keys)
        return tuple(env[s] for s in output_slots)

    return fn, [tuple(v.shape) for v in inputs]


def _export(fn, shapes, symbolic):
    if symbolic:
        (batch,) = jax_export.symbolic_shape("batch")
        specs = [jax.ShapeDtypeStruct((batch,) + s[1:], jnp.float32) for s in shapes]
    else:
        specs = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
    return jax_export.export(jax.jit(fn))(*specs)


def export_graph(inputs, outputs, symbolic_batch=True):
    """``jax.export.Exported`` of a live nnjax graph: ``outputs`` from ``inputs``
    (Variables); the batch axis is symbolic where the graph allows it."""
    fn, shapes = graph_function(list(inputs), list(outputs))
    return _export_with_fallback(fn, shapes, symbolic_batch)


def _export_with_fallback(fn, shapes, symbolic):
    if symbolic and shapes and all(len(s) > 0 for s in shapes):
        try:
            return _export(fn, shapes, True)
        except Exception as e:   # a function that needs a concrete batch size
            logger.info(f"StableHLO export: fixed batch size ({type(e).__name__}: {e})")
    return _export(fn, shapes, False)


class StableHloExporter:
    """Write ``nnp`` as a serialized ``jax.export`` artifact or as StableHLO text."""

    def __init__(self, nnp, batch_size=-1, symbolic_batch=True):
        self._nnp = nnp
        self._batch = batch_size if batch_size and batch_size > 0 else None
        self._symbolic = symbolic_batch

    def export(self):
        """The ``jax.export.Exported`` of the network."""
        fn, shapes, _, _ = network_function(self._nnp, self._batch)
        return _export_with_fallback(fn, shapes, self._symbolic)

    def execute(self, output, text=False):
        exported = self.export()
        data = exported.mlir_module().encode("utf-8") if text else \
            bytes(exported.serialize())
        fh.atomic_write(output, data)
        return [output]


def load_stablehlo(path):
    """A callable running a ``.stablehlo`` file: ``f(*inputs) -> tuple of outputs``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        exported = jax_export.deserialize(bytearray(data))
    except OSError as e:
        raise ValueError(f"{path!r}: {e.strerror}") from None
    except Exception as e:
        raise ValueError(f"{path!r} is not a serialized StableHLO export ({e})") from None
    return exported.call
