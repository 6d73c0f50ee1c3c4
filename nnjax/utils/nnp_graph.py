"""Rebuilding computation graphs from NNabla model files (``nnabla.utils.nnp_graph``).

``NnpLoader(path)`` reads an ``.nnp`` (or ``.nntxt`` + parameter files) and
``get_network(name, batch_size)`` rebuilds that network with nnabla functions:
each function of the file is applied by its NNabla type name through the
lowering registry, with its arguments read from its ``*_param`` message. The
parameters of the files are used for the network's ``Parameter`` variables
(created from their initializer, or zeros, when a file has none).

``NnpNetworkPass`` (a ``callback``) edits a network while it is rebuilt, as
NNabla's: ``set_variable``, ``fix_parameters``, ``use_up_to``,
``drop_function``, ``remove_and_rewire``, ``set_batch_normalization_batch_stat_all``,
``force_average_pooling_global``, ``check_average_pooling_global`` and the
``on_*`` decorators.

Loop-control networks (RepeatStart/RepeatEnd, RecurrentInput/RecurrentOutput,
Delay with ``repeat_info``) are unrolled first, as NNabla's (see
:mod:`nnabla.utils._loop_expand`). Not rebuilt: normalizations asked for their batch
statistics as extra outputs (``output_stat``), and functions nnjax has no
lowering for; each raises ``NotImplementedError`` naming the function.
NNabla's files keep no dtype: rebuilt input variables are float32 (pass
integer inputs with ``NnpNetworkPass.set_variable`` where a function needs
them, e.g. BitShift).
"""
import inspect
import itertools
from collections import OrderedDict

import numpy as np

from .. import initializer as I
from .. import parameter as P
from .._apply import apply_function
from .._registry import REGISTRY
from .._variable import Variable
from ..logger import logger
from . import get_file_handle as fh
from . import nnabla_pb2
from ._loop_expand import expand_network

__all__ = ["NnpLoader", "NnpNetwork", "NnpNetworkPass"]

# normalizations whose no_bias / no_scale flags tell which of beta (input 1)
# and gamma (input 2) a file leaves out
_NO_BIAS_SCALE = tuple(t for t, field in nnabla_pb2.FUNCTION_PARAMS.items()
                       if {"no_bias", "no_scale"} <= set(
                           getattr(nnabla_pb2.Function(), field).DESCRIPTOR.fields_by_name))
_RNN_WEIGHT_INDEX = {"RNN": 3, "GRU": 3, "LSTM": 4}


# ---------------------------------------------------------------- function arguments
def _is_repeated(field):
    """Whether a field descriptor is repeated (``label`` is gone from newer protobuf)."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return flag
    return field.label == field.LABEL_REPEATED


def _f32(value):
    """A proto float as the shortest decimal that is the same float32 (0.1, not 0.100000001)."""
    return float(str(np.float32(value)))


def function_args(f):
    """The arguments of Function proto ``f`` as a dict of Python values."""
    from google.protobuf.descriptor import FieldDescriptor as FD
    field_name = nnabla_pb2.FUNCTION_PARAMS.get(f.type)
    if field_name is None:
        return OrderedDict()
    message = getattr(f, field_name)
    args = OrderedDict()
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.type == FD.TYPE_MESSAGE:
            if field.message_type.name == "Shape":
                args[field.name] = [int(d) for d in value.dim]
            else:  # Communicator
                args[field.name] = None
        elif _is_repeated(field):
            if field.type == FD.TYPE_FLOAT:
                args[field.name] = [_f32(v) for v in value]
            else:
                args[field.name] = list(value)
        elif field.type == FD.TYPE_FLOAT:
            args[field.name] = _f32(value)
        else:
            args[field.name] = value
    return args


_accepted_cache = {}


def _accepted_args(spec):
    names = _accepted_cache.get(spec.type_name)
    if names is None:
        try:
            params = inspect.signature(spec.lower).parameters.values()
        except (TypeError, ValueError):
            params = ()
        if any(p.kind == p.VAR_KEYWORD for p in params):
            names = True
        else:
            names = frozenset(p.name for p in params)
        _accepted_cache[spec.type_name] = names
    return names


def _lowering_args(spec, f, args):
    accepted = _accepted_args(spec)
    if accepted is True:
        return dict(args)
    out = {}
    for k, v in args.items():
        if k in accepted:
            out[k] = v
            continue
        implied = spec.implied_args()
        # NNabla's default, or an unset string field (read as "")
        if k in implied and (v == implied[k] or v == ""):
            continue
        raise UnsupportedNnpContent(f"function {f.name!r} ({f.type}): argument {k}={v!r} is "
                                    "not supported by nnjax")
    return out


def _place_inputs(f, args, inputs):
    """Re-insert the absent optional inputs NNabla infers from the arguments."""
    inputs = list(inputs)
    if f.type in _NO_BIAS_SCALE:
        if args.get("no_bias"):
            inputs.insert(1, None)
        if args.get("no_scale"):
            inputs.insert(2, None)
    elif f.type in _RNN_WEIGHT_INDEX:
        i = _RNN_WEIGHT_INDEX[f.type]
        if args.get("num_layers", 1) == 1 and len(inputs) > i:
            inputs.insert(i, None)
    return inputs


# ---------------------------------------------------------------- proto graph
class UnsupportedNnpContent(ValueError, NotImplementedError):
    """A network file holds something nnjax cannot rebuild (a loop-control network, a
    type or argument value it has no lowering for). A ValueError about the file; also a
    NotImplementedError, which is what callers caught before."""


class ProtoVariable:
    """A variable of a network file (``.proto`` is its Variable message)."""

    def __init__(self, proto):
        self.proto = proto
        self.parent = None        # ProtoFunction
        self.referrers = []       # ProtoFunctions reading it
        self.variable = None      # the nnabla Variable once built
        self.stop = False
        self.need_grad = proto.type == "Parameter"

    @property
    def name(self):
        return self.proto.name

    @property
    def type(self):
        return self.proto.type

    @property
    def shape(self):
        return tuple(int(d) for d in self.proto.shape.dim)

    @property
    def variable_instance(self):
        """The nnabla Variable built for this variable (NNabla's name for it)."""
        return self.variable

    @variable_instance.setter
    def variable_instance(self, v):
        self.variable = v

    @property
    def num_referrers(self):
        return len(self.referrers)

    def add_referrer(self, f):
        self.referrers.append(f)

    def delete_referrer(self, f):
        self.referrers = [r for r in self.referrers if r is not f]

    def rewire_on(self, var):
        """Take ``var``'s place: its producer now produces this variable."""
        parent = var.parent
        if self.parent is not None:
            self.parent.disable()
        self.parent = parent
        var.parent = None
        self.variable = var.variable
        if parent is not None:
            parent.outputs = [self if o is var else o for o in parent.outputs]
        for f in list(var.referrers):  # the other readers of var now read this variable
            f.inputs = [self if x is var else x for x in f.inputs]
            self.referrers.append(f)
        var.referrers = []

    def __repr__(self):
        return f"ProtoVariable({self.name!r}, {self.type}, {self.shape})"


class ProtoFunction:
    """A function of a network file (``.proto`` is its Function message)."""

    def __init__(self, proto):
        self.proto = proto
        self.inputs = []
        self.outputs = []
        self.disabled = False

    @property
    def name(self):
        return self.proto.name

    @property
    def type(self):
        return self.proto.type

    def disable(self):
        self.disabled = True
        for v in self.inputs:
            v.delete_referrer(self)
        for v in self.outputs:
            if v.parent is self:
                v.parent = None
        self.inputs = []
        self.outputs = []

    def __repr__(self):
        return f"ProtoFunction({self.name!r}, {self.type})"


class _FunctionView:
    """A function of a network with its variables by name (what ``execute_on_proto`` gives)."""

    def __init__(self, pf):
        self.name, self.type, self.proto = pf.name, pf.type, pf.proto
        self.inputs = [v.name for v in pf.inputs]
        self.outputs = [v.name for v in pf.outputs]


class ProtoNetwork:
    """A network of a model file, linked: variables, parameters and functions by name."""

    def __init__(self, network_proto):
        proto = expand_network(network_proto)  # a copy, loops unrolled
        self.proto = proto
        self.name = proto.name
        self.batch_size = int(proto.batch_size)
        self.variables = OrderedDict()
        self.parameters = OrderedDict()
        self.functions = OrderedDict()
        for v in proto.variable:
            pv = ProtoVariable(v)
            if v.type == "Parameter":
                self.parameters[v.name] = pv
            else:
                self.variables[v.name] = pv
        for f in proto.function:
            pf = ProtoFunction(f)
            for n in f.input:
                pv = self._lookup(n, pf)
                pf.inputs.append(pv)
                pv.add_referrer(pf)
            for n in f.output:
                pv = self._lookup(n, pf)
                if pv.parent is not None:
                    raise ValueError(f"network {self.name!r}: variable {n!r} is written by both "
                                     f"{pv.parent.name!r} and {f.name!r}")
                pf.outputs.append(pv)
                pv.parent = pf
            if f.name in self.functions:
                raise ValueError(f"network {self.name!r}: two functions are named {f.name!r}")
            self.functions[f.name] = pf

    def _lookup(self, name, pf):
        pv = self.variables.get(name) or self.parameters.get(name)
        if pv is None:
            raise ValueError(f"network {self.name!r}: function {pf.name!r} ({pf.type}) uses "
                             f"variable {name!r}, which the network does not declare")
        return pv

    def all_variables(self):
        return list(itertools.chain(self.variables.values(), self.parameters.values()))

    @property
    def inputs(self):
        return [k for k, v in self.variables.items() if v.parent is None and v.referrers]

    @property
    def outputs(self):
        return [k for k, v in self.variables.items() if v.parent is not None and not v.referrers]

    def forward_sequence(self):
        """Functions needed for the outputs, each after the producers of its inputs."""
        order, state = [], {}
        for out in self.outputs:
            root = self.variables[out].parent
            if root is None or id(root) in state:
                continue
            stack = [(root, False)]
            while stack:
                pf, expanded = stack.pop()
                if expanded:
                    state[id(pf)] = 2
                    order.append(pf)
                    continue
                if state.get(id(pf)):
                    continue
                state[id(pf)] = 1
                stack.append((pf, True))
                for v in reversed(pf.inputs):
                    p = v.parent
                    if p is not None:
                        if state.get(id(p)) == 1:
                            raise ValueError(f"network {self.name!r} has a cycle through "
                                             f"function {p.name!r}")
                        if not state.get(id(p)):
                            stack.append((p, False))
        return order

    def execute_on_proto(self, execute):
        """Call ``execute(f)`` for each function in forward order, as NNabla's graph_def does:
        ``f.name``, ``f.type``, ``f.inputs`` / ``f.outputs`` (variable names), ``f.proto``."""
        for pf in self.forward_sequence():
            execute(_FunctionView(pf))

    # ------------------------------------------------------------ callbacks
    def apply_pass(self, callback, param_scope=None):
        """Run an NnpNetworkPass over this network (variables, functions, passes, use_up_to);
        ``param_scope``: the parameter scope the function passes are handed."""
        if callback is None:
            return
        for v in self.all_variables():
            callback._apply_generate_variable(v)
        # function generation callbacks run in build(), as each function is created
        # (with its inputs' actual shapes), and only for the functions that are built
        self._generate_callback = callback
        variables = self.all_variables()
        for pf in self.forward_sequence():
            if pf.disabled:
                continue
            callback._apply_function_pass_by_type(pf, variables, param_scope)
            if not pf.disabled:
                callback._apply_function_pass_by_name(pf, variables, param_scope)
        for pf in list(self.functions.values()):
            callback._apply_use_up_to(pf.inputs)
        # a function reading a stopped variable is dropped, and so is everything after it
        for pf in self.forward_sequence():
            if any(v.stop for v in pf.inputs):
                for o in pf.outputs:
                    o.stop = True
                pf.disable()
        self._forget_disabled()

    def _forget_disabled(self):
        self.functions = OrderedDict((k, f) for k, f in self.functions.items() if not f.disabled)
        # variables renamed by a pass (proto.name edited) are keyed by their new name
        self.variables = OrderedDict((v.name, v) for v in self.variables.values()
                                     if v.parent is not None or v.referrers)
        self.parameters = OrderedDict((v.name, v) for v in self.parameters.values())

    # ------------------------------------------------------------ building
    def build(self, batch_size=None, param_scope=None, rng=None):
        """Create the nnabla graph; returns {name: Variable} of every variable."""
        if batch_size is None:
            batch_size = self.batch_size if self.batch_size > 0 else 1
        batch_size = int(batch_size)
        rng = rng if rng is not None else np.random.RandomState(1223)

        def concrete(shape):
            return tuple(batch_size if d < 0 else d for d in shape)

        sequence = self.forward_sequence()
        used = {id(v) for pf in sequence for v in pf.inputs}
        for name in self.inputs:
            pv = self.variables[name]
            if pv.variable is not None or id(pv) not in used:
                continue
            init = _initializer(pv.proto, rng)
            if init is not None:
                pv.variable = Variable.from_numpy_array(
                    np.asarray(init(concrete(pv.shape)), np.float32), need_grad=True)
            else:
                pv.variable = Variable(concrete(pv.shape))
        for pv in self.parameters.values():
            if id(pv) not in used or pv.variable is not None:
                continue
            shape = concrete(pv.shape)
            with P.parameter_scope("", param_scope if param_scope is not None
                                   else P.get_current_parameter_scope()):
                existing = P.get_parameter(pv.name)
                if existing is None:
                    pv.variable = P.get_parameter_or_create(
                        pv.name, shape, _initializer(pv.proto, rng), as_need_grad=pv.need_grad)
                elif existing.shape != shape:
                    raise ValueError(f"network {self.name!r}: parameter {pv.name!r} has shape "
                                     f"{shape} in the network, {existing.shape} in the "
                                     "parameters loaded")
                else:
                    pv.variable = existing.get_unlinked_variable(need_grad=pv.need_grad)
            pv.variable.name = pv.name

        callback = getattr(self, "_generate_callback", None)
        for pf in sequence:
            if callback is not None:
                pf = callback._apply_generate_function_by_type(pf)
                pf = callback._apply_generate_function_by_name(pf)
            f = pf.proto
            spec = REGISTRY.get(f.type)
            if spec is None:
                raise UnsupportedNnpContent(f"network {self.name!r}: function {f.name!r} has "
                                            f"type {f.type!r}, which nnjax has no lowering for")
            args = function_args(f)
            if isinstance(args.get("shape"), list) and args["shape"] and args["shape"][0] == -1:
                args["shape"] = [batch_size] + args["shape"][1:]
            inputs = []
            for v in pf.inputs:
                if v.variable is None:
                    raise ValueError(f"network {self.name!r}: input {v.name!r} of function "
                                     f"{f.name!r} has no value")
                inputs.append(v.variable)
            inputs = _place_inputs(f, args, inputs)
            if spec.state_inputs:  # absent in-place inputs are passed as None, not left out
                inputs += [None] * (max(spec.state_inputs) + 1 - len(inputs))
            call_args = _lowering_args(spec, f, args)
            try:
                outs = apply_function(f.type, inputs, call_args)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"network {self.name!r}: cannot rebuild function {f.name!r} "
                                 f"({f.type}): {e}") from None
            if not isinstance(outs, tuple):
                outs = (outs,)
            if len(outs) != len(pf.outputs):
                raise UnsupportedNnpContent(
                    f"network {self.name!r}: function {f.name!r} ({f.type}) has "
                    f"{len(pf.outputs)} outputs in the file, nnjax computes {len(outs)} "
                    "with these arguments")
            for pv, o in zip(pf.outputs, outs):
                pv.variable = o
                # the file's shape becomes the built one: callbacks of later functions
                # (NNabla's zoo reads input shapes from the protos) see the real sizes
                del pv.proto.shape.dim[:]
                pv.proto.shape.dim.extend(int(d) for d in o.shape)
        result = OrderedDict()
        for k, pv in itertools.chain(self.variables.items(), self.parameters.items()):
            if pv.variable is not None:
                result[k] = pv.variable
        return result


def _initializer(var_proto, rng):
    """An initializer callable from a Variable proto's ``initializer`` (or None)."""
    if not var_proto.HasField("initializer"):
        return None
    kind = var_proto.initializer.type
    m = var_proto.initializer.multiplier
    if kind == "Normal":
        return I.NormalInitializer(m, rng=rng)
    if kind == "Uniform":
        return I.UniformInitializer((-m, m), rng=rng)
    if kind == "Constant":
        return I.ConstantInitializer(value=m)
    if kind == "Range":
        return lambda shape: I.RangeInitializer(0, 1)(shape) * m
    fan = _fan_initializer(kind)
    if fan is not None:
        return lambda shape: fan(shape, rng) * m
    if kind:
        logger.warning(f"initializer type {kind!r} of {var_proto.name!r} is not supported; "
                       "it starts from zeros")
    return None


# NNabla's fan-based initializer names: (family of the std/limit, which fans)
_FANS = {
    "Affine": lambda s: (s[0], int(np.prod(s[1:])), None),
    "Convolution": lambda s: (s[-3], s[0], tuple(s[-2:])),
    "CLConv": lambda s: (s[-1], s[0], tuple(s[1:3])),
}


def _fan_initializer(kind):
    """``shape, rng -> array`` for NNabla's Normal*He*/Normal*Glorot/Uniform*Glorot names."""
    for layout, fans in _FANS.items():
        for dist in ("Normal", "Uniform"):
            prefix = dist + layout
            if not kind.startswith(prefix):
                continue
            rule = kind[len(prefix):]
            calc = {"He": I.calc_normal_std_he_forward, "HeForward": I.calc_normal_std_he_forward,
                    "HeBackward": I.calc_normal_std_he_backward,
                    "Glorot": I.calc_normal_std_glorot}.get(rule) if dist == "Normal" else \
                {"Glorot": I.calc_uniform_lim_glorot}.get(rule)
            if calc is None:
                return None

            def make(shape, rng, calc=calc, fans=fans, dist=dist):
                inmaps, outmaps, kernel = fans(shape)
                value = calc(inmaps, outmaps) if kernel is None else \
                    calc(inmaps, outmaps, kernel=kernel)
                if dist == "Normal":
                    return I.NormalInitializer(value, rng=rng)(shape)
                return I.UniformInitializer(value, rng=rng)(shape)  # value: (lo, hi)
            return make
    return None


# ---------------------------------------------------------------- NnpLoader
class NnpNetwork:
    """A graph rebuilt from a network of an nnp file.

    Attributes:
        variables (dict): every variable of the graph by name (parameters too).
        inputs (dict): the input variables (data placeholders).
        outputs (dict): the output variables.
    """

    def __init__(self, proto_network, batch_size, callback=None, param_scope=None):
        network = ProtoNetwork(proto_network.proto if isinstance(proto_network, ProtoNetwork)
                               else proto_network)
        network.apply_pass(callback, param_scope)
        self.proto_network = network
        self.name = network.name
        self._variables = network.build(batch_size, param_scope=param_scope)
        for k, v in self._variables.items():
            v.name = k
        self._inputs = OrderedDict((k, self._variables[k]) for k in network.inputs
                                   if k in self._variables)
        self._outputs = OrderedDict((k, self._variables[k]) for k in network.outputs
                                    if k in self._variables)
        # the network's parameters become parameters of the current scope too
        for k, pv in network.parameters.items():
            if pv.variable is not None:
                P.set_parameter(k, pv.variable)

    @property
    def inputs(self):
        return self._inputs

    @property
    def outputs(self):
        return self._outputs

    @property
    def variables(self):
        return self._variables


class NnpLoader:
    """Loads an ``.nnp`` file (or ``.nntxt`` with parameter files) to rebuild its networks.

    Args:
        filepath: a path, a file object (its format given by ``extension``) or
            a list of paths (e.g. ``['net.nntxt', 'params.h5']``).
        scope (OrderedDict): the parameter scope to load parameters into
            (default: a new one owned by the loader; ``get_network`` also
            registers the network's parameters in the current scope).
        extension (str): the format of a file object: ``.nnp``, ``.nntxt``, ``.prototxt``.

    Example::

        nnp = NnpLoader('model.nnp')
        net = nnp.get_network(nnp.get_network_names()[0], batch_size=1)
        x = list(net.inputs.values())[0]
        y = list(net.outputs.values())[0]
        x.d = data
        y.forward()
    """

    def __init__(self, filepath, scope=None, extension=".nntxt"):
        self._params = scope if scope is not None else OrderedDict()
        where = repr(list(map(str, filepath))) if isinstance(filepath, (list, tuple)) \
            else fh.describe(filepath)
        contents = fh.read_files(filepath, extension=extension)
        self.proto = contents.proto
        self.nnp_version = contents.nnp_version
        load_parameter_entries(contents.parameters, self._params, where)
        self.network_dict = OrderedDict((n.name, n) for n in self.proto.network)
        if not self.network_dict:
            logger.warning(f"NnpLoader: {where} holds no network")

    def get_network_names(self):
        """The names of the networks in the file."""
        return list(self.network_dict.keys())

    def get_network(self, name, batch_size=None, callback=None):
        """Rebuild network ``name``; returns an :class:`NnpNetwork`.

        ``batch_size`` replaces the -1 (variable) batch axis; default: the
        network's ``batch_size`` in the file. ``callback``: an NnpNetworkPass.
        """
        if name not in self.network_dict:
            raise KeyError(f"NnpLoader: no network named {name!r}; the file has "
                           f"{self.get_network_names()}")
        return NnpNetwork(self.network_dict[name], batch_size, callback=callback,
                          param_scope=self._params)


def load_parameter_entries(entries, scope, where):
    """Put (name, array, need_grad) entries into parameter ``scope`` (checked first)."""
    with P.parameter_scope("", scope):
        for name, value, _ in entries:
            existing = P.get_parameter(name)
            if existing is not None and existing.shape != value.shape:
                raise ValueError(f"parameter {name!r} in {where} has shape {value.shape}, the "
                                 f"existing parameter has shape {existing.shape}")
        for name, value, need_grad in entries:
            var = P.get_parameter_or_create(name, value.shape, need_grad=need_grad)
            var.data.cast(value.dtype)[...] = value


# ---------------------------------------------------------------- NnpNetworkPass
def _spatial_shape(pv):
    """The axes after (N, C) of a variable: its built shape once built, else the file's."""
    shape = pv.variable.shape if pv.variable is not None else pv.proto.shape.dim
    return [int(d) for d in shape[2:]]


class NnpNetworkPass:
    """Edits applied to a network while NnpLoader rebuilds it (NNabla's network pass)."""

    def _no_verbose(self, *a, **kw):
        pass

    def _verbose(self, *a, **kw):
        print(*a, **kw)

    def __init__(self, verbose=0):
        self._variable_callbacks = {}
        self._function_callbacks_by_name = {}
        self._function_callbacks_by_type = {}
        self._passes_by_name = {}
        self._passes_by_type = {}
        self._fix_parameters = False
        self._use_up_to_variables = set()
        self.verbose = self._verbose if verbose else self._no_verbose
        self.verbose2 = self._verbose if verbose > 1 else self._no_verbose

    # decorators --------------------------------------------------------
    def on_function_pass_by_name(self, name):
        def register(callback):
            self._passes_by_name[name] = callback
            return callback
        return register

    def on_function_pass_by_type(self, name):
        def register(callback):
            self._passes_by_type[name] = callback
            return callback
        return register

    def on_generate_variable(self, name):
        def register(callback):
            self._variable_callbacks[name] = callback
            return callback
        return register

    def on_generate_function_by_name(self, name):
        def register(callback):
            self._function_callbacks_by_name[name] = callback
            return callback
        return register

    def on_generate_function_by_type(self, name):
        def register(callback):
            self._function_callbacks_by_type[name] = callback
            return callback
        return register

    # ready-made passes ------------------------------------------------
    def drop_function(self, *names):
        def drop(f, variables, param_scope):
            self.verbose(f"Pass: Deleting {f.name}.")
            f.disable()
        for name in names:
            self.on_function_pass_by_name(name)(drop)

    def fix_parameters(self):
        self._fix_parameters = True

    def use_up_to(self, *names):
        self._use_up_to_variables.update(names)

    def remove_and_rewire(self, name, i=0, o=0):
        @self.on_function_pass_by_name(name)
        def rewire(f, variables, param_scope):
            fi, fo = f.inputs[i], f.outputs[o]
            self.verbose(f"Removing {f.name} and rewire input={fi.name} and output={fo.name}.")
            fo.rewire_on(fi)
            fo.proto.name = fi.name

    def set_variable(self, name, input_var):
        @self.on_generate_variable(name)
        def replace(v):
            self.verbose(f"Replace {name} by {input_var}.")
            del v.proto.shape.dim[:]
            v.proto.shape.dim.extend(int(d) for d in input_var.shape)
            v.variable = input_var
            input_var.name = v.name
            return v

    def force_average_pooling_global(self, name, by_type=False):
        register = self.on_generate_function_by_type if by_type else \
            self.on_generate_function_by_name

        @register(name)
        def globalize(f):
            pool = _spatial_shape(f.inputs[0])
            self.verbose(f"Change strides of {f.name} to {pool}.")
            p = f.proto.average_pooling_param
            del p.kernel.dim[:]
            p.kernel.dim.extend(pool)
            del p.stride.dim[:]
            p.stride.dim.extend(pool)
            return f

    def check_average_pooling_global(self, name, by_type=False):
        register = self.on_generate_function_by_type if by_type else \
            self.on_generate_function_by_name

        @register(name)
        def check(f):
            pool = _spatial_shape(f.inputs[0])
            p = f.proto.average_pooling_param
            if list(p.kernel.dim) != pool or list(p.stride.dim) != pool:
                raise ValueError(
                    "Stride configuration of average pooling is not for global pooling. "
                    f"Given Image shape is {pool}, whereas pooling window size is "
                    f"{list(p.kernel.dim)} and its stride is {list(p.stride.dim)}. "
                    "Consider using force_global_pooling=True")
            return f

    def set_batch_normalization_batch_stat_all(self, batch_stat):
        @self.on_generate_function_by_type("BatchNormalization")
        def set_stat(f):
            self.verbose(f"Setting batch_stat={batch_stat} at {f.name}.")
            f.proto.batch_normalization_param.batch_stat = batch_stat
            return f

    # called by the loader ---------------------------------------------
    def _apply_function_pass_by_name(self, f, variables, param_scope):
        cb = self._passes_by_name.get(f.name)
        return f if cb is None else cb(f, variables, param_scope)

    def _apply_function_pass_by_type(self, f, variables, param_scope):
        cb = self._passes_by_type.get(f.proto.type)
        return f if cb is None else cb(f, variables, param_scope)

    def _apply_generate_variable(self, v):
        cb = self._variable_callbacks.get(v.name)
        if cb is not None:
            v = cb(v)
        if self._fix_parameters:
            v.need_grad = False
        return v

    def _apply_generate_function_by_name(self, f):
        cb = self._function_callbacks_by_name.get(f.name)
        return f if cb is None else cb(f)

    def _apply_generate_function_by_type(self, f):
        cb = self._function_callbacks_by_type.get(f.proto.type)
        return f if cb is None else cb(f)

    def _apply_use_up_to(self, variables):
        for v in variables:
            if v.name in self._use_up_to_variables:
                self.verbose(f"Stopping at {v.name}.")
                v.stop = True
