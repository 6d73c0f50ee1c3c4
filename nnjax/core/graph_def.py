"""Graphs as data: ``nnabla.core.graph_def`` (ProtoGraph, ProtoNetwork, ProtoVariable).

A proto graph describes networks without computing them, as NNabla's
network files do: calling nnabla functions (or a ``nn.Module``) on
``nn.ProtoVariable`` placeholders records ProtoFunctions into the current
graph builder (the global one, or ``with nn.graph_def.graph() as g``). A
network is committed when the outermost module call returns, when the
``graph()`` block ends, or when ``get_default_graph()`` is asked for it.

A ProtoNetwork (recorded, loaded with ``load`` or made by
``create_graph_from_variable``) becomes a computation graph when called on
``nn.Variable`` inputs: each function is applied through the lowering
registry with the arguments of its Function message, so a recorded network,
the same network saved and loaded, and ``nnabla.utils.nnp_graph`` rebuild the
same graph. ``save`` writes ``.nnp``/``.nntxt``/``.protobuf`` with
``variable_batch_size`` (the batch axis stored as -1, NNabla's rule).

Not here: networks with NNabla's loop control (repeat/recurrent/delay) are
loaded and saved but not called, and ``promote`` (network passes) is not
implemented; use ``nnabla.utils.nnp_graph.NnpLoader`` with an NnpNetworkPass.
"""
import weakref
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from .. import functions as F
from .. import initializer as I
from .. import parameter as P
from .._apply import apply_function
from .._indexing import getitem
from .._ndarray import NdArray
from .._registry import REGISTRY
from .._variable import Variable
from ..context import context_scope, get_current_context
from ..logger import logger
from ..utils import get_file_handle as fh
from ..utils import nnabla_pb2
from ..utils.nnp_graph import NnpNetworkPass
from ..utils.nnp_graph import ProtoNetwork as _PassNetwork
from ..utils.nnp_graph import (_fan_initializer, _lowering_args, _place_inputs, function_args,
                               load_parameter_entries)
from ..utils._loop_expand import expand_network
from ..utils.save import set_function_args
from .graph_optimizer import rename_variable
from .variable_batch_size import variable_batch_size as _variable_batch_size

__graph_members__ = ["inputs", "outputs", "parameters", "functions", "variables"]
__recurrent_functions__ = ["RecurrentInput", "RecurrentOutput"]
__repeat_functions__ = ["RepeatStart", "RepeatEnd"]
__delay_function__ = ["Delay"]
__branch_function__ = ["RepeatStart"] + __delay_function__
__loop_control_functions__ = __recurrent_functions__ + __repeat_functions__ + __delay_function__


class RepeatInfo:
    def __init__(self, id, times):
        self.id = id
        self.times = times


class LoopControlFunction:
    def __init__(self):
        self.arguments = {}


def _get_unique_name(names, prefix):
    """``prefix``, then ``prefix_1``, ``prefix_2`` ... (``names`` counts the uses)."""
    if prefix in names:
        name = f"{prefix}_{names[prefix]}"
        names[prefix] += 1
    else:
        name = prefix
        names[prefix] = 1
    return name


# ---------------------------------------------------------------- initializers
def _create_initializer(v, rng):
    """The initializer of a Variable message ``v`` (``v.initializer.type`` and
    ``.multiplier``, NNabla's names), drawing from ``rng``; None when it has none."""
    init = getattr(v, "initializer", None)
    kind = getattr(init, "type", "") if init is not None else ""
    if not kind:
        return None
    m = init.multiplier
    if kind == "Normal":
        return I.NormalInitializer(m, rng=rng)
    if kind == "Uniform":
        return I.UniformInitializer(lim=[-m, m], rng=rng)
    if kind == "Constant":
        return I.ConstantInitializer(value=m)
    if kind == "Range":
        return lambda shape: I.RangeInitializer(0, 1)(shape) * m
    fan = _fan_initializer(kind)
    if fan is None:
        logger.warning(f"graph_def: initializer type {kind!r} of {getattr(v, 'name', '?')!r} "
                       "is not known; the variable starts from zeros")
        return None
    return lambda shape: fan(shape, rng) * m


_INITIALIZER_MULTIPLIER = {
    "Constant": lambda i: i.value,
    "Uniform": lambda i: -i.lim[0],
    "Normal": lambda i: i.sigma,
}


# ---------------------------------------------------------------- executors
class ProtoExecutor:
    """An executor of a network file (``proto``: its Executor message)."""

    def __init__(self, proto):
        self.proto = proto
        self.renaming = None
        self.network_name = None

    @staticmethod
    def from_proto(proto):
        return ProtoExecutor(proto)

    @staticmethod
    def create_from_dict(executor, network):
        """An executor from NNabla's dict (name, network, data, output ...)."""
        remap = executor.get("remp", {})
        e = ProtoExecutor(None)
        e.network_name = executor.get("network", None)
        outputs = executor.get("output", {})
        if isinstance(outputs, dict):
            e.renaming = {v.proto.name: n for n, v in outputs.items()}
        e.proto = nnabla_pb2.Executor()
        e.proto.name = executor["name"]
        e.proto.network_name = executor["network"]
        e.proto.no_image_normalization = executor.get("no_image_normalization", False)
        e.proto.num_evaluations = executor.get("num_evaluations", 0)
        e.proto.repeat_evaluation_type = executor.get("repeat_evaluation_type", "")
        e.proto.need_back_propagation = executor.get("need_back_propagation", False)
        for name in executor.get("data", []):
            dv = e.proto.data_variable.add()
            dv.variable_name = name
            dv.data_name = remap.get(name, name)
        for name in outputs:
            ov = e.proto.output_variable.add()
            ov.variable_name = name
            ov.data_name = remap.get(name, name)
        for name in executor.get("generator_variables", {}):
            gv = e.proto.generator_variable.add()
            gv.type = "Constant"
            gv.multiplier = 0
            gv.variable_name = name
        for name in network.parameters.keys():
            e.proto.parameter_variable.add().variable_name = name
        return e

    def get_network_renaming(self):
        return self.network_name, self.renaming

    def as_proto(self):
        return self.proto


# ---------------------------------------------------------------- networks
class ProtoNetwork:
    """One network: ``functions``, ``variables`` (activations), ``parameters``
    (OrderedDicts by name) and the names of its ``inputs`` and ``outputs``.

    ``functions`` is in recording/file order; ``forward_sequence()`` gives the
    order of computation.
    """

    def __init__(self, owner, name=None, batch_size=None):
        for key in __graph_members__:
            self.__dict__[key] = OrderedDict()
        self.inputs = []
        self.outputs = []
        self.arguments = {}
        self.func_names = {}
        self.var_names = {}
        self.name = name
        self.owner = weakref.ref(owner)
        self.batch_size = batch_size
        self.repeat_info = {}

    @property
    def current_context(self):
        return self.owner().current_context

    def __getitem__(self, item):
        return self.__dict__[item]

    def _lookup(self, name):
        if name in self.variables:
            return self.variables[name]
        if name in self.parameters:
            return self.parameters[name]
        raise KeyError(f"network {self.name!r}: no variable or parameter named {name!r}")

    # ------------------------------------------------------------ committing a recording
    def resolve_function_parameters(self, function, params):
        """Name the nn.Variable inputs of ``function`` (parameters) and yield the
        temporary keys they were recorded under."""
        inputs = []
        for index, k in enumerate(function.inputs):
            v = self._lookup(k)
            if not isinstance(v, Variable):
                inputs.append(k)
                continue
            yield k
            v_name = params.get(id(v.data))
            if v_name is None:  # a parameter the module does not own (a local one)
                v_name = _get_unique_name(self.var_names, f"{function.name}_{index}")
            p = self.parameters.get(v_name)
            if not isinstance(p, ProtoVariable):
                p = self.parameters[v_name] = ProtoVariable(v.shape, v_name, v.need_grad,
                                                            "Parameter")
                info = getattr(v, "info", None)
                if info is not None:
                    p.info = info
                    p.initializer = getattr(info, "initializer", None)
                p.variable_instance = v
            p.required.append(function.name)
            inputs.append(v_name)
        function.inputs = inputs

    def commit(self, name, networks, params):
        """Finish a recorded network as ``networks[name]``; ``params``: {id(data): name}."""
        networks[name] = self
        temporary = []
        for f in self.functions.values():
            temporary += list(self.resolve_function_parameters(f, params))
        for k in set(temporary):
            del self.parameters[k]
        with P.parameter_scope("", self.owner().parameter_scope):
            for k, v in self.parameters.items():
                P.set_parameter(k, v.variable_instance)
        for v in self.variables.values():
            if v.parent not in self.functions:
                v.parent = None
        self._update_ports()
        self.name = name

    def _update_ports(self):
        self.inputs = [k for k, v in self.variables.items() if not v.parent and v.required]
        self.outputs = [k for k, v in self.variables.items() if not v.required and v.parent]

    def _update_network_ports(self):
        """Recompute inputs/outputs and drop variables and functions no longer connected."""
        self._update_ports()
        self.variables = OrderedDict((k, v) for k, v in self.variables.items()
                                     if v.required or v.parent)
        self.parameters = OrderedDict((k, v) for k, v in self.parameters.items()
                                      if v.required or v.parent)
        self.functions = OrderedDict((k, f) for k, f in self.functions.items()
                                     if f.inputs or f.outputs)

    # ------------------------------------------------------------ to protobuf
    def update_actual_shape_of_reshape(self):
        """Replace a -1 in a Reshape's shape by the size it stands for."""
        for pf in self.forward_sequence():
            if pf.type != "Reshape":
                continue
            shape = list(pf.args["shape"])
            input_shape = self._lookup(pf.inputs[0]).shape
            unknown = [i for i, s in enumerate(shape) if s < 0]
            if len(unknown) > 1:
                raise ValueError(f"Reshape {pf.name!r}: shape {shape} has more than one -1")
            if unknown:
                rest = int(np.prod([s for s in shape if s >= 0]))
                shape[unknown[0]] = int(np.prod(input_shape)) // rest
                pf.args["shape"] = shape

    def as_proto(self, **kwargs):
        """This network as a ``nnabla_pb2.Network`` message.

        ``variable_batch_size`` (default True): store the batch axis as -1 so the
        network can be rebuilt with another batch size (this network's shapes
        and Reshape/Broadcast arguments are changed to that form).
        """
        self.arguments.update(kwargs)
        self.update_actual_shape_of_reshape()
        if self.arguments.get("variable_batch_size", True):
            _variable_batch_size(self)
        return self._network_proto()

    def _network_proto(self):
        n = nnabla_pb2.Network()
        if self.batch_size:
            n.batch_size = int(self.batch_size)
        n.name = self.name or ""
        for name, ri in self.repeat_info.items():
            r = n.repeat_info.add()
            r.id, r.times = name, ri
        for variable in list(self.variables.values()) + list(self.parameters.values()):
            n.variable.add().CopyFrom(variable.proto)
        for function in self.functions.values():
            n.function.add().CopyFrom(function.make_proto())
        return n

    # ------------------------------------------------------------ computing
    def __call__(self, *args, **kwargs):
        """Build the computation graph of this network.

        ``args``: nn.Variables for the inputs (in ``inputs`` order); with none,
        placeholders are created (found afterwards as
        ``variables[name].variable_instance``). ``batch_size`` replaces the -1
        batch axis (default: the network's). ``ctx``: the context to compute in.
        Returns the output Variable, or a tuple of them.
        """
        ctx = kwargs.get("ctx", None)
        if ctx:
            self.owner().current_context = ctx
        batch_size = kwargs.get("batch_size", None)
        batch_size = batch_size if batch_size is not None else self.batch_size
        if len(args) > len(self.inputs):
            raise ValueError(f"network {self.name!r} has {len(self.inputs)} inputs "
                             f"{self.inputs}, {len(args)} were given")
        with P.parameter_scope("", self.owner().parameter_scope), \
                context_scope(self.current_context):
            input_vars = [self._lookup(k) for k in self.inputs]
            if not args:
                for pv in input_vars:
                    shape = tuple(d if d >= 1 else (batch_size or 1) for d in pv.shape)
                    if callable(pv.initializer):
                        shared = self.owner().global_variables.get(pv.name, None)
                        if shared is None:
                            shared = Variable.from_numpy_array(
                                np.asarray(pv.initializer(shape=shape), np.float32),
                                need_grad=True)
                            self.owner().global_variables[pv.name] = shared
                        pv.variable_instance = shared
                    elif pv.variable_instance is None:
                        pv.variable_instance = Variable(shape)
            else:
                for pv, v in zip(input_vars, args):
                    if not isinstance(v, Variable):
                        raise TypeError(f"network {self.name!r}: input {pv.name!r} must be "
                                        f"an nn.Variable, got {type(v).__name__}")
                    pv.variable_instance = v
            self.execute_on_proto(lambda pf: pf.graph_call(batch_size=batch_size))
            outputs = [self.variables[k].variable_instance for k in self.outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def execute_on_proto(self, execute):
        """Call ``execute(pf)`` for each function needed by the outputs, each after
        the functions producing its inputs (iterative, no recursion). A function
        reading a variable marked ``stop`` is skipped, and so is what follows it."""
        evaluated = set(self.inputs)
        stack = []
        for out in self.outputs:
            pv = self.variables[out]
            if pv.parent:
                stack.append(self.functions[pv.parent])
        while stack:
            pf = stack.pop()
            if pf.name not in self.functions:
                continue
            pf_inputs = [self._lookup(k) for k in pf.inputs]
            pf_outputs = [self._lookup(k) for k in pf.outputs]
            stop = any(pv.stop for pv in pf_inputs)
            for pv in pf_outputs:
                pv.stop |= stop
            unresolved = [pv for pv in pf_inputs if pv.parent and pv.name not in evaluated]
            if unresolved:
                stack.append(pf)
                stack.extend(self.functions[pv.parent] for pv in unresolved)
                continue
            done = [pv.name in evaluated for pv in pf_outputs]
            if all(done):
                continue
            if any(done):
                raise ValueError(f"network {self.name!r}: function {pf.name!r} writes a "
                                 "variable another function writes too")
            if stop:
                logger.debug(f"graph_def: skip {pf.name}")
            else:
                execute(pf)
            evaluated.update(pf.outputs)

    def forward_sequence(self):
        """The functions in the order they compute (a generator)."""
        functions = []
        self.execute_on_proto(functions.append)
        yield from functions

    # ------------------------------------------------------------ from protobuf
    @staticmethod
    def create_function_instance(ctx, f, g, create_func=None):
        """A ProtoFunction of network ``g`` from Function message ``f`` (``ctx`` and
        ``create_func`` are NNabla's; the arguments are read from ``f`` directly)."""
        args = None if f.type in __loop_control_functions__ else function_args(f)
        pf = ProtoFunction(None, f.type, args, f.name, g)
        if f.HasField("repeat_param"):
            pf.repeat_param = f.repeat_param
        elif f.HasField("recurrent_param"):
            pf.recurrent_param = f.recurrent_param
        pf.repeat_id = list(f.repeat_id)
        return pf

    @staticmethod
    def from_proto(owner, proto, rng, batch_size):
        g = ProtoNetwork(owner)
        g.repeat_info = {r.id: r.times for r in proto.repeat_info}
        g.batch_size = batch_size if batch_size else proto.batch_size
        g.name = proto.name
        for v in proto.variable:
            table = g.parameters if v.type == "Parameter" else g.variables
            pv = table[v.name] = ProtoVariable(list(v.shape.dim), v.name,
                                               v.type == "Parameter", v.type)
            pv.initializer = _create_initializer(v, rng)
            pv.repeat_id = list(v.repeat_id)
        for f in proto.function:
            pf = g.functions[f.name] = ProtoNetwork.create_function_instance(None, f, g)
            for n in f.input:
                pv = _declared(g, n, f)
                pf.inputs.append(pv.name)
                pv.required.append(pf.name)
            for n in f.output:
                pv = _declared(g, n, f)
                pf.outputs.append(pv.name)
                pv.parent = pf.name
        g._update_ports()
        return g

    def save(self, filename, include_parameter=False, variable_batch_size=True, executors=None):
        """Save this network (and its graph's parameters) to ``filename`` (.nnp ...)."""
        save(filename, [self], include_parameters=include_parameter,
             variable_batch_size=variable_batch_size, executors=executors)

    def clone(self):
        """A copy of this network's description (variables, parameters, functions)."""
        n = ProtoNetwork(self.owner(), self.name, self.batch_size)
        for pv in self.variables.values():
            n.variables[pv.name] = pv.clone()
        for pv in self.parameters.values():
            n.parameters[pv.name] = pv.clone()
        for pf in self.functions.values():
            n.functions[pf.name] = pf.clone(n)
        n.inputs = list(self.inputs)
        n.outputs = list(self.outputs)
        n.repeat_info = dict(self.repeat_info)
        n.arguments = dict(self.arguments)
        n.owner_ = self.owner()  # keeps the graph alive while the copy is used
        return n

    def expand_loop_control(self):
        """This network with NNabla's repeat/recurrent/delay loops unrolled (the same
        expansion ``nnabla.utils.load`` applies); a copy when it has none."""
        if not any(f.type in __loop_control_functions__ or f.repeat_id
                   for f in self.functions.values()):
            return self.clone()
        expanded = expand_network(self._network_proto())
        return ProtoNetwork.from_proto(self.owner(), expanded, np.random.RandomState(0),
                                       self.batch_size)

    def _patch_by_network_pass(self, callback):
        return self.promote(callback)

    def promote(self, callback):
        """A new network: this one edited by ``callback``, an
        ``nnabla.utils.nnp_graph.NnpNetworkPass`` (set_variable, use_up_to,
        remove_and_rewire, fix_parameters, on_* callbacks ...). Function passes are
        handed the graph's parameter scope."""
        if callback is None:
            return self
        if not isinstance(callback, NnpNetworkPass):
            raise TypeError(f"ProtoNetwork.promote: callback must be an NnpNetworkPass, got "
                            f"{type(callback).__name__}")
        passed = _PassNetwork(self._network_proto())
        passed.apply_pass(callback, self.owner().parameter_scope)
        n = ProtoNetwork(self.owner(), self.name, self.batch_size)
        for source, target in ((passed.variables, n.variables),
                               (passed.parameters, n.parameters)):
            for v in source.values():
                pv = target[v.name] = ProtoVariable(v.shape, v.name, v.need_grad, v.type)
                before = self.variables.get(v.name) or self.parameters.get(v.name)
                pv.initializer = before.initializer if before is not None else None
                pv.variable_instance = v.variable
        for f in passed.functions.values():
            loop = f.type in __loop_control_functions__
            pf = ProtoFunction(None, f.type, None if loop else function_args(f.proto),
                               f.name, n)
            pf.inputs = [v.name for v in f.inputs]
            pf.outputs = [v.name for v in f.outputs]
            for name in pf.inputs:
                n._lookup(name).required.append(pf.name)
            for name in pf.outputs:
                n._lookup(name).parent = pf.name
            n.functions[pf.name] = pf
        n._update_ports()
        return n

    def __repr__(self):
        return (f"ProtoNetwork({self.name!r}, {len(self.functions)} functions, "
                f"inputs={self.inputs}, outputs={self.outputs})")


def _declared(network, name, f):
    if name in network.variables:
        return network.variables[name]
    if name in network.parameters:
        return network.parameters[name]
    raise ValueError(f"network {network.name!r}: function {f.name!r} ({f.type}) uses "
                     f"variable {name!r}, which the network does not declare")


# ---------------------------------------------------------------- graphs
class ProtoGraph:
    """A group of networks sharing one parameter scope (what an ``.nnp`` file holds).

    ``g.networks[name]`` or ``g.name`` or ``g[name]`` is a network;
    ``g(*inputs)``, ``g.inputs``, ``g.outputs`` ... use the first network.
    """

    def __init__(self, networks=None, parameter_scope=None):
        self.networks = networks if networks is not None else OrderedDict()
        self.executors = OrderedDict()
        self.parameter_scope = parameter_scope if parameter_scope is not None \
            else OrderedDict()
        self.global_variables = {}

    def __contains__(self, item):
        return item in self.__dict__

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        if item in __graph_members__:
            return self.default_graph()[item]
        networks = self.__dict__.get("networks", {})
        if item in networks:
            return networks[item]
        if item in self.__dict__:
            return self.__dict__[item]
        raise AttributeError(f"ProtoGraph has no network or attribute {item!r} (networks: "
                             f"{list(networks)})")

    def __getitem__(self, item):
        return self.__getattr__(item)

    def __setitem__(self, key, value):
        if isinstance(value, ProtoNetwork):
            self.networks[key] = value
        else:
            self.__dict__[key] = value

    def get(self, key, value=None):
        return self.__dict__.get(key, value)

    def get_parameters(self, grad_only=False):
        """The graph's parameters, {name: Variable}."""
        with P.parameter_scope("", self.parameter_scope):
            return P.get_parameters(grad_only=grad_only)

    def set_parameter(self, key, param):
        with P.parameter_scope("", self.parameter_scope):
            P.set_parameter(key, param)

    def set_parameters(self, params):
        for key, param in params.items():
            self.set_parameter(key, param)

    @property
    def current_context(self):
        """The context the networks compute in (default: the current one)."""
        if "_context" not in self.__dict__:
            return get_current_context()
        return self.__dict__["_context"]

    @current_context.setter
    def current_context(self, ctx):
        if ctx != self.current_context:
            for n in self.networks.values():
                for f in n.functions.values():
                    f.function_instance = None
        self.__dict__["_context"] = ctx

    @staticmethod
    def from_proto(proto, batch_size=None, param_scope=None, rng=None):
        """A graph of the networks and executors of an ``NNablaProtoBuf`` message."""
        rng = rng if rng is not None else np.random.RandomState(0)
        g = ProtoGraph()
        if param_scope is not None:
            g.parameter_scope = param_scope
        for p in proto.network:
            g.networks[p.name] = ProtoNetwork.from_proto(g, p, rng, batch_size)
        for e in proto.executor:
            g.executors[e.name] = ProtoExecutor.from_proto(e)
        return g

    def as_proto(self, include_parameter=False, only_parameter=False, networks=None,
                 variable_batch_size=True):
        """The graph as an ``NNablaProtoBuf`` message (networks, executors, and the
        parameters when ``include_parameter``)."""
        proto = nnabla_pb2.NNablaProtoBuf()
        if not only_parameter:
            networks = list(self.networks.values()) if networks is None else list(networks)
            if self.executors:
                by_name = OrderedDict((n.name, n) for n in networks)
                for executor in self.executors.values():
                    name, renames = executor.get_network_renaming()
                    if renames is not None and name in by_name:
                        n = by_name[name].clone()
                        rename_variable(n, renames)
                        by_name[name] = n
                networks = list(by_name.values())
            proto.network.extend(n.as_proto(variable_batch_size=variable_batch_size)
                                 for n in networks)
            proto.executor.extend(e.as_proto() for e in self.executors.values())
        if include_parameter:
            for k, v in self.get_parameters().items():
                parameter = proto.parameter.add()
                parameter.variable_name = k
                parameter.shape.dim.extend(v.shape)
                parameter.data.extend(np.asarray(v.d, np.float32).flatten().tolist())
                parameter.need_grad = v.need_grad
        return proto

    def default_graph(self):
        """The first network (the only one, usually)."""
        if self.networks:
            return next(iter(self.networks.values()))
        raise ValueError("No network is found in current graph.")

    def __call__(self, *args, **kwargs):
        return self.default_graph()(*args, **kwargs)

    def save(self, filename, include_parameter=False, variable_batch_size=True, executors=None):
        """Save the graph's networks and parameters to ``filename`` (.nnp ...)."""
        save(filename, [self], include_parameters=include_parameter,
             variable_batch_size=variable_batch_size, executors=executors)

    def expand_loop_control(self):
        """Expand the loop control of every network (see ProtoNetwork.expand_loop_control)."""
        expanded = OrderedDict()
        for name, network in self.networks.items():
            n = network.expand_loop_control()
            n.owner_ = None
            expanded[name] = n
        self.networks = expanded

    def __repr__(self):
        return f"ProtoGraph(networks={list(self.networks)})"


# ---------------------------------------------------------------- the graph builder
class FlatModule:
    """Stands for the module of functions recorded outside any ``nn.Module``."""

    @staticmethod
    def get_parameters(recursive=True, grad_only=False, memo=None):
        return P.get_parameters()

    def get_path_name(self):
        return ("@" + self.name) if self.name != "model" else ""

    def __init__(self, name):
        self.name = name if name else "model"


class ProtoGraphBuilder:
    """What a recording is building: the graph, the current network and module."""

    def __init__(self, **kwargs):
        self.networks = OrderedDict()
        self.stack = []
        self.current = None
        self.module = None
        self.names = {}
        self.dirty_flag = False
        self.graph_name = kwargs.get("name", None)
        self.proto_graph = ProtoGraph(self.networks, kwargs.get("parameter_scope", None))

    def get_current(self):
        if self.current is None:
            self.current = ProtoNetwork(self.proto_graph)
        return self.current

    def get_module(self):
        if self.module is None:
            self.module = FlatModule(self.graph_name)
        return self.module

    def dirty(self):
        self.dirty_flag = True

    def is_dirty(self):
        return self.dirty_flag

    def get_graph(self):
        return self.proto_graph

    def begin_module(self, module):
        self.stack.append(module)
        self.module = module
        return self.get_current()

    def end_module(self):
        self.stack.pop()
        if self.stack:
            self.module = self.stack[-1]
        elif self.dirty_flag:
            self.commit_network()
        else:
            # a module call that recorded nothing (e.g. __init__, or Variable inputs)
            # makes no network
            self.current = None
            self.module = None

    def commit_network(self):
        if self.graph_name:
            g_name = self.graph_name
            self.graph_name = None
        else:
            g_name = self.get_module().name
        g_name = _get_unique_name(self.names, g_name)
        params = {id(v.data): k for k, v in self.get_module().get_parameters().items()}
        self.get_current().commit(g_name, self.networks, params)
        self.dirty_flag = False
        self.current = None
        self.module = None


class _Builders:
    current = ProtoGraphBuilder()
    previous = None  # the builder a graph() block replaced (NNabla's previous_graph_builder)


def __getattr__(name):
    # NNabla's module globals, read from the live state
    if name == "proto_graph_builder":
        return _Builders.current
    if name == "previous_graph_builder":
        return _Builders.previous
    raise AttributeError(f"module 'nnabla.core.graph_def' has no attribute {name!r}")


@contextmanager
def graph_name(name):
    """Name the network recorded inside this block ``name``."""
    builder = _Builders.current
    previous = builder.graph_name
    builder.graph_name = name
    try:
        yield builder.current
        if builder.is_dirty():
            builder.commit_network()
    finally:
        builder.graph_name = previous


@contextmanager
def graph(**kwargs):
    """Record into a new ProtoGraph (``with nn.graph_def.graph(name=..., parameter_scope=...)
    as g``); the network recorded in the block is committed when it ends."""
    previous = _Builders.previous = _Builders.current
    _Builders.current = ProtoGraphBuilder(**kwargs)
    try:
        yield _Builders.current.get_graph()
        if _Builders.current.is_dirty():
            _Builders.current.commit_network()
    finally:
        _Builders.current = previous


@contextmanager
def module_scope(pgb, module):
    """Record what happens inside as part of ``module`` (used by ``nn.Module``'s methods)."""
    network = pgb.begin_module(module)
    try:
        yield network
    finally:
        pgb.end_module()


def current_graph_builder():
    return _Builders.current


def current_network():
    return _Builders.current.get_current()


def current_module():
    return _Builders.current.get_module()


def reset_default_graph():
    """Forget everything recorded in the global graph."""
    _Builders.current = ProtoGraphBuilder()


def get_default_graph(*args, **kwargs):
    """The global ProtoGraph (the recording is committed first); with a name
    (``get_default_graph("net")`` or ``name="net"``), that network or None."""
    network_name = args[0] if args and isinstance(args[0], str) else kwargs.get("name", None)
    builder = _Builders.current
    if builder.is_dirty():
        builder.commit_network()
    if network_name is None:
        return builder.proto_graph
    return builder.proto_graph.networks.get(network_name, None)


def get_default_graph_by_variable(proto_variable):
    """The network of the global graph that has ``proto_variable`` as an output."""
    builder = _Builders.current
    if builder.is_dirty():
        builder.commit_network()
    if isinstance(proto_variable, (tuple, list)):
        proto_variable = proto_variable[0]
    for network in builder.proto_graph.networks.values():
        if proto_variable.name in network.outputs:
            return network
    raise ValueError(f"{proto_variable.name} is not the output variable of any network")


# ---------------------------------------------------------------- from a Variable graph
class ProtoGraphGenerator:
    """Records the functions of an nn.Variable graph (a ``visit`` callback)."""

    def __init__(self, names, params):
        self.names = {id(v.data): k for k, v in names.items()} if names else {}
        self.names.update(params)
        self.params = params
        self.variables = {}
        self.outputs = []

    def __enter__(self):
        current_network().renaming = self.renaming
        return self

    def __exit__(self, *exc):
        network = current_network()
        variables, parameters = OrderedDict(), OrderedDict()
        for pv in network.variables.values():
            if pv.type == "Buffer":
                variables[pv.name] = pv
                pv.variable_instance = None
            else:
                parameters[pv.name] = pv
        network.parameters = parameters
        network.variables = variables
        del network.renaming

    def renaming(self, i, v_name):
        return self.names.get(id(self.outputs[i].data), v_name)

    def __call__(self, func):
        if func.name == "Sink":
            return
        inputs = []
        for v in func.inputs:
            pv = self.variables.get(id(v.data))
            if pv is None:
                kind = "Parameter" if id(v.data) in self.params else "Buffer"
                pv = ProtoVariable(v.shape, var_type=kind)
                pv.variable_instance = v
                pv.name = self.names.get(id(v.data), None)
                self.variables[id(v.data)] = pv
            inputs.append(pv)
        self.outputs = func.outputs
        pf = ProtoFunction(func, func.info.type_name, dict(func.info.args))
        outputs = pf._proto_call(inputs, [tuple(o.shape) for o in func.outputs])
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        for pv, v in zip(outputs, func.outputs):
            self.variables[id(v.data)] = pv


def create_graph_from_variable(name, variables, names=None, parameter_scope=None):
    """A ProtoGraph with network ``name`` describing the graph of ``variables``
    (one output Variable, or several joined by a Sink).

    ``names``: {name: Variable} to name variables of the network (inputs,
    outputs); ``parameter_scope``: where the parameters' names are looked up
    (default: the current scope).
    """
    output = F.sink(*variables) if isinstance(variables, (list, tuple)) else variables
    with P.parameter_scope("", parameter_scope if parameter_scope
                           else P.get_current_parameter_scope()):
        params = {id(v.data): k for k, v in P.get_parameters(grad_only=False).items()}
    with graph(parameter_scope=parameter_scope, name=name) as g:
        with ProtoGraphGenerator(names, params) as generator:
            output.visit(generator)
    return g


# ---------------------------------------------------------------- variables
def _as_proto_operand(x):
    return ProtoVariable(x.shape) if isinstance(x, (NdArray, Variable)) else x


class ProtoVariable:
    """A placeholder of a variable: passed to nnabla functions or modules, it records
    their calls into the current proto graph instead of computing them."""

    def __init__(self, shape, name=None, need_grad=False, var_type="Buffer"):
        self.name = name
        self.shape = tuple(shape)
        self.need_grad = need_grad
        self.parent = None
        self.required = []
        self.type = var_type
        self.info = None
        self.initializer = None
        self.variable_instance = None
        self.repeat_id = []
        self.stop = False
        self.delegate = None
        self._proto = None

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    def clone(self):
        v = ProtoVariable(self.shape, self.name, self.need_grad, self.type)
        v.parent = self.parent
        v.required = list(self.required)
        v.info = self.info
        v.initializer = self.initializer
        v.variable_instance = self.variable_instance
        v.repeat_id = list(self.repeat_id)
        return v

    @property
    def proto(self):
        """This variable as a ``nnabla_pb2.Variable`` message (cached)."""
        if self._proto is not None:
            return self._proto
        p = nnabla_pb2.Variable()
        p.name = self.name or ""
        p.type = self.type
        p.repeat_id.extend(self.repeat_id)
        p.shape.dim.extend(int(d) for d in self.shape)
        init = self.initializer
        kind = type(init).__name__
        if init is not None and kind.endswith("Initializer"):
            p.initializer.type = kind[:-len("Initializer")]
            p.initializer.multiplier = float(
                _INITIALIZER_MULTIPLIER.get(p.initializer.type, lambda i: 0.0)(init))
        self._proto = p
        return p

    def prepare_renaming(self, renames):
        if self._proto is not None and self.name != self._proto.name:
            renames[self.name] = self._proto.name

    def update_from_proto(self, rng, renames):
        if self._proto is None:
            return
        self.name = renames.get(self.name, self.name)
        if self.type != self._proto.type:
            raise ValueError(f"variable {self.name!r}: its type cannot change "
                             f"({self.type} -> {self._proto.type})")
        self.shape = tuple(self._proto.shape.dim)
        self.initializer = _create_initializer(self._proto, rng)
        self._proto = None

    @staticmethod
    def record_function(type_name, inputs, args, out_shapes):
        """Called by ``apply_function`` when an input is a ProtoVariable."""
        return ProtoFunction(None, type_name, args)._proto_call(
            [x for x in inputs if x is not None], out_shapes)

    def __pos__(self):
        return self

    def __neg__(self):
        return F.mul_scalar(self, -1)

    def __add__(x, y):
        x, y = _as_proto_operand(x), _as_proto_operand(y)
        if isinstance(y, ProtoVariable):
            return F.add2(x, y)
        return F.add_scalar(x, y)

    def __radd__(self, other):
        return F.add_scalar(self, other)

    def __sub__(x, y):
        x, y = _as_proto_operand(x), _as_proto_operand(y)
        if isinstance(y, ProtoVariable):
            return F.sub2(x, y)
        return F.add_scalar(x, -y)

    def __rsub__(self, other):
        return F.r_sub_scalar(self, other)

    def __mul__(x, y):
        x, y = _as_proto_operand(x), _as_proto_operand(y)
        if isinstance(y, ProtoVariable):
            return F.mul2(x, y)
        return F.mul_scalar(x, y)

    def __rmul__(self, other):
        return F.mul_scalar(self, other)

    def __truediv__(x, y):
        x, y = _as_proto_operand(x), _as_proto_operand(y)
        if isinstance(y, ProtoVariable):
            return F.div2(x, y)
        return F.mul_scalar(x, 1.0 / y)

    __div__ = __truediv__

    def __rtruediv__(self, other):
        return F.r_div_scalar(self, other)

    def __pow__(x, y, z=None):
        if z is not None:
            return NotImplemented
        x, y = _as_proto_operand(x), _as_proto_operand(y)
        if isinstance(y, ProtoVariable):
            return F.pow2(x, y)
        return F.pow_scalar(x, y)

    def __rpow__(self, other):
        return F.r_pow_scalar(self, other)

    def __getitem__(self, key):  # basic indexing records Slice (+ Reshape), as on Variables
        return getitem(self, key)

    def __repr__(self):
        return f"ProtoVariable({self.shape}, name={self.name!r}, type={self.type})"


# ---------------------------------------------------------------- functions
class ProtoFunction:
    """A function of a proto network: ``name``, ``type``, ``args`` (NNabla's), and the
    names of its ``inputs`` and ``outputs``."""

    def __init__(self, func, f_type, args, name=None, owner=None):
        self.type = f_type
        if name is None:
            self.path_name = current_module().get_path_name()
            func_name = f"{self.path_name}/{f_type}" if self.path_name else f_type
            self.name = _get_unique_name(current_network().func_names, func_name)
            self.owner = weakref.ref(current_network())
        else:
            self.path_name = ""
            self.name = name
            self.owner = weakref.ref(owner)
        self.args = args
        self.inputs = []
        self.outputs = []
        self.function_instance = func
        self.repeat_id = []
        self.repeat_param = None
        self.recurrent_param = None
        self.disabled = False
        self.delegate = None
        self._proto = None

    def clone(self, owner):
        pf = ProtoFunction(None, self.type, None if self.args is None else dict(self.args),
                           self.name, owner)
        pf.inputs = list(self.inputs)
        pf.outputs = list(self.outputs)
        pf.repeat_id = self.repeat_id
        pf.repeat_param = self.repeat_param
        pf.recurrent_param = self.recurrent_param
        pf.disabled = self.disabled
        return pf

    def make_proto(self):
        """A new ``nnabla_pb2.Function`` message of this function as it is now."""
        f = nnabla_pb2.Function()
        f.name = self.name
        f.type = self.type
        f.input.extend(self.inputs)
        f.output.extend(self.outputs)
        f.repeat_id.extend(self.repeat_id)
        if self.repeat_param is not None:
            f.repeat_param.CopyFrom(self.repeat_param)
        if self.recurrent_param is not None:
            f.recurrent_param.CopyFrom(self.recurrent_param)
        if self.args is not None:
            set_function_args(f, self.type, self.args)
        return f

    @property
    def proto(self):
        """This function as a ``nnabla_pb2.Function`` message (cached, editable)."""
        if self._proto is None:
            self._proto = self.make_proto()
        return self._proto

    def update_from_proto(self, renames):
        """Take the edits made to ``proto`` (arguments, names)."""
        p = self._proto
        self.args = function_args(p)
        self.type = p.type
        self.name = p.name
        self.inputs = [renames.get(n, n) for n in p.input]
        self.outputs = [renames.get(n, n) for n in p.output]
        self.repeat_id = list(p.repeat_id)
        self.function_instance = None
        self._proto = None
        return self

    def __getitem__(self, item):
        return self.__dict__[item]

    def _proto_call(self, inputs, out_shapes):
        """Record this function with ``inputs`` (ProtoVariables, or nn.Variables that are
        parameters) into its network; returns the output ProtoVariable(s)."""
        owner = self.owner()

        def join_name(name):
            return f"{self.path_name}/{name}" if self.path_name else name

        for v in inputs:
            if isinstance(v, Variable):
                if v.parent is not None:
                    # a computed Variable (e.g. F.constant) enters the network as a
                    # parameter holding its value
                    v.forward()
                    v = v.get_unlinked_variable(need_grad=False)
                key = str(id(v.data))
                owner.parameters[key] = v
                self.inputs.append(key)
                continue
            if not isinstance(v, ProtoVariable):
                raise TypeError(f"{self.type}: inputs of a function recorded on ProtoVariables "
                                f"must be ProtoVariables or nn.Variables, got {type(v).__name__}")
            known = next((k for k, pv in owner.variables.items() if pv is v), None)
            if known is None:
                if v.name is None:
                    v.name = _get_unique_name(owner.var_names, join_name(self.type + "_in"))
                owner.variables[v.name] = v
                known = v.name
            v.required.append(self.name)
            self.inputs.append(known)
        renaming = getattr(owner, "renaming", None)
        for i, shape in enumerate(out_shapes):
            v_name = join_name(self.type + "_out")
            wanted = renaming(i, v_name) if renaming is not None else v_name
            unique = _get_unique_name(owner.var_names, wanted)
            if wanted != v_name and unique != wanted:
                raise ValueError(f"User specified name {wanted!r} is not unique in name space!")
            pv = owner.variables[unique] = ProtoVariable(shape, unique, False, "Buffer")
            pv.parent = self.name
            self.outputs.append(unique)
        self.function_instance = None
        owner.functions[self.name] = self
        current_graph_builder().dirty()
        outputs = tuple(owner.variables[k] for k in self.outputs)
        return outputs[0] if len(outputs) == 1 else outputs

    def graph_call(self, **kwargs):
        """Apply this function to its inputs' Variables (computation graph building)."""
        owner = self.owner()
        batch_size = kwargs.get("batch_size", None)
        inputs = []
        for k in self.inputs:
            pv = owner._lookup(k)
            if pv.type == "Parameter":
                # the registered parameter keeps its own need_grad; this use gets pv's
                existing = P.get_parameter(pv.name)
                if existing is None:
                    P.get_parameter_or_create(pv.name, pv.shape, pv.initializer,
                                              need_grad=pv.need_grad)
                    existing = P.get_parameter(pv.name)
                pv.variable_instance = existing.get_unlinked_variable(need_grad=pv.need_grad)
            elif pv.variable_instance is None:
                raise ValueError(f"network {owner.name!r}: input variable {pv.name!r} of "
                                 f"function {self.name!r} has no value")
            inputs.append(pv.variable_instance)
        if self.args is None:
            raise ValueError(
                f"network {owner.name!r}: function {self.name!r} ({self.type}) is NNabla's "
                "loop control; call expand_loop_control() on the graph first (as "
                "nnabla.utils.load does)")
        f = self.make_proto()
        args = function_args(f)
        shape = args.get("shape")
        if batch_size and isinstance(shape, list) and shape and shape[0] == -1:
            args["shape"] = [int(batch_size)] + shape[1:]
        outs = _apply_proto_function(owner.name, f, args, inputs)
        self.function_instance = outs[0].parent
        for name, o in zip(self.outputs, outs):
            owner.variables[name].variable_instance = o

    def __call__(self, *args, **kwargs):
        return self._proto_call(*args, **kwargs)

    def __repr__(self):
        return f"ProtoFunction({self.name!r}, {self.type}, {self.inputs} -> {self.outputs})"


def _apply_proto_function(network_name, f, args, inputs):
    spec = REGISTRY.get(f.type)
    if spec is None:
        raise ValueError(f"network {network_name!r}: function {f.name!r} has type "
                         f"{f.type!r}, which nnjax has no lowering for")
    inputs = _place_inputs(f, args, inputs)
    if spec.state_inputs:
        inputs += [None] * (max(spec.state_inputs) + 1 - len(inputs))
    try:
        outs = apply_function(f.type, inputs, _lowering_args(spec, f, args))
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"network {network_name!r}: cannot build function {f.name!r} "
                         f"({f.type}): {e}") from None
    outs = outs if isinstance(outs, tuple) else (outs,)
    if len(outs) != len(f.output):
        raise ValueError(f"network {network_name!r}: function {f.name!r} ({f.type}) has "
                         f"{len(f.output)} outputs in the network, {len(outs)} computed")
    return outs


# ---------------------------------------------------------------- files
def load(filename, batch_size=None, exclude_parameter=False, parameter_only=False,
         extension=".nntxt", parameter_scope=None, rng=None):
    """A ProtoGraph of the networks (and parameters) of ``filename``.

    ``filename``: a path, a file object (format given by ``extension``) or a list
    of them (e.g. ``['net.nntxt', 'params.h5']``). ``batch_size``: the batch size
    the -1 batch axis becomes (default: the file's). ``parameter_scope``: the dict
    the parameters are loaded into (default: a new one owned by the graph).
    ``rng``: draws the initial values of parameters the files do not hold.
    """
    where = repr(list(map(str, filename))) if isinstance(filename, (list, tuple)) \
        else fh.describe(filename)
    contents = fh.read_files(filename, extension=extension,
                             exclude_parameter=exclude_parameter, parameter_only=parameter_only)
    scope = parameter_scope if parameter_scope is not None else OrderedDict()
    load_parameter_entries(contents.parameters, scope, where)
    rng = rng if rng is not None else np.random.RandomState(0)
    return ProtoGraph.from_proto(contents.proto, batch_size=batch_size, param_scope=scope,
                                 rng=rng)


def save(filename, content, include_parameters=False, variable_batch_size=True,
         extension=".nnp", executors=None):
    """Save a ProtoGraph or ProtoNetwork (the first of ``content``) to ``filename``.

    ``.nnp``: network text and parameters in a zip; ``.nntxt``/``.prototxt``:
    protobuf text (parameters only with ``include_parameters``); ``.protobuf``:
    binary. ``executors``: NNabla's executor dicts (name, network, data, output).
    """
    proto = params = None
    for g in content:
        if isinstance(g, ProtoGraph):
            if executors is not None:
                g.executors = OrderedDict(
                    (e["name"], ProtoExecutor.create_from_dict(e, g.networks[e["network"]]))
                    for e in executors)
            proto = g.as_proto(include_parameter=include_parameters,
                               variable_batch_size=variable_batch_size)
            params = g.get_parameters()
            break
        if isinstance(g, ProtoNetwork):
            if executors is not None:
                for e in executors:
                    if e["network"] != g.name:
                        raise ValueError(f"graph_def.save: executor {e['name']!r} names network "
                                         f"{e['network']!r}, the network saved is {g.name!r}")
                g.owner().executors = OrderedDict(
                    (e["name"], ProtoExecutor.create_from_dict(e, g)) for e in executors)
            proto = g.owner().as_proto(include_parameter=include_parameters, networks=[g],
                                       variable_batch_size=variable_batch_size)
            params = g.owner().get_parameters()
            break
    if proto is None:
        raise ValueError("graph_def.save: content must hold a ProtoGraph or a ProtoNetwork")
    fh.save_model_file(filename, proto, params, extension=extension)
    if hasattr(filename, "seek"):  # as NNabla's: a file object is rewound for reading back
        filename.seek(0)
    logger.info(f"Model file is saved as {filename}.")
