"""Saving networks and their settings to NNabla's model files (``nnabla.utils.save``).

``save(filename, contents)`` writes ``.nnp`` (zip of ``network.nntxt``,
``parameter.h5`` and ``nnp_version.txt``), ``.nntxt``/``.prototxt`` (text) or
``.protobuf`` (binary). A network is described from its output Variables:
every function reachable from them is recorded by its NNabla type name and
arguments (the ``*_param`` message of that type), variables are named as
NNabla names them (the names given in ``names``/``outputs``, parameter paths
for parameters of the current scope, else ``<Type>_in`` / ``<Type>_out``
with ``_1``, ``_2``, ... for repeats) and functions ``<Type>``, ``<Type>_1``, ...

``contents`` keys (as NNabla): ``networks`` (list of dicts with ``name``,
``batch_size``, ``outputs`` {name: Variable}, ``names`` {name: Variable}),
``executors`` (``name``, ``network``, optional ``data``, ``output``,
``generator_variables``, ``remap``, ``num_evaluations``, ...),
``global_config`` ({'default_context': ctx}), ``training_config``,
``datasets``, ``optimizers`` and ``monitors``.

Solver states are written with ``include_solver_state``. Not written: loop-control
functions (NNabla's repeat/recurrent); errors: PythonFunction nodes, and an
absent optional input followed by a present one where NNabla's arguments do
not say which input is absent (NNabla's format lists inputs by position).
Leaf variables that are not parameters of the current scope become network
inputs (their values are not saved), as in NNabla.
"""
import io
import os
import re
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from .._plan import functions_in_order
from ..core.variable_batch_size import rewrite_records
from .._variable import Variable
from ..logger import logger
from ..parameter import get_parameters
from . import get_file_handle as fh
from . import nnabla_pb2

__all__ = ["save", "create_proto"]

# Functions whose absent optional inputs may sit before present ones: NNabla
# infers those positions from arguments on loading (no_bias / no_scale of the
# normalizations that have these flags, the multi-layer weight of RNNs when
# num_layers == 1). Any other gap cannot be written.
_NORM_FLAGS = tuple(t for t, field in nnabla_pb2.FUNCTION_PARAMS.items()
                    if {"no_bias", "no_scale"} <= set(
                        getattr(nnabla_pb2.Function(), field).DESCRIPTOR.fields_by_name))
_RNN_WEIGHT_INDEX = {"RNN": 3, "GRU": 3, "LSTM": 4}


def _absent_input_ok(type_name, args, i):
    if type_name in _NORM_FLAGS:
        return (i == 1 and bool(args.get("no_bias"))) or (i == 2 and bool(args.get("no_scale")))
    if type_name in _RNN_WEIGHT_INDEX:
        return i == _RNN_WEIGHT_INDEX[type_name] and args.get("num_layers", 1) == 1
    return False


def _positional_inputs(fn):
    """A function's inputs by position, None where an optional input is absent."""
    return list(getattr(fn, "_inputs", fn.inputs))




# ---------------------------------------------------------------- function args
def _is_repeated(field):
    """Whether a field descriptor is repeated (``label`` is gone from newer protobuf)."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return flag
    return field.label == field.LABEL_REPEATED


def _to_int(value):
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _scalar(field, value):
    from google.protobuf.descriptor import FieldDescriptor as FD
    if field.type in (FD.TYPE_INT64, FD.TYPE_INT32, FD.TYPE_UINT32, FD.TYPE_UINT64):
        return _to_int(value)
    if field.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        return float(value)
    if field.type == FD.TYPE_BOOL:
        return bool(value)
    if field.type == FD.TYPE_STRING:
        if not isinstance(value, str):
            raise TypeError(f"expected a str, got {value!r}")
        return value
    raise TypeError(f"unsupported field type {field.type}")


def set_function_args(f, type_name, args):
    """Fill the ``*_param`` message of Function proto ``f`` from ``args``."""
    from google.protobuf.descriptor import FieldDescriptor as FD
    field_name = nnabla_pb2.FUNCTION_PARAMS.get(type_name)
    if field_name is None:
        if args:
            logger.warning(f"save: {type_name} takes no arguments in NNabla's format; "
                           f"arguments {sorted(args)} are not saved")
        return
    message = getattr(f, field_name)
    message.SetInParent()
    for field in message.DESCRIPTOR.fields:
        if field.name in args:
            value = args[field.name]
        else:
            logger.warning(f"save: {type_name} ({f.name}) has no argument {field.name!r}; "
                           "NNabla's default of the file format is used")
            continue
        if value is None:
            continue
        try:
            if field.type == FD.TYPE_MESSAGE:
                if field.message_type.name == "Shape":
                    getattr(message, field.name).dim.extend(_to_int(v) for v in value)
                # Communicator (SyncBatchNormalization) is not stored
            elif _is_repeated(field):
                if isinstance(value, (int, float, np.number)):
                    value = [value]
                getattr(message, field.name).extend(_scalar(field, v) for v in value)
            else:
                setattr(message, field.name, _scalar(field, value))
        except (TypeError, ValueError) as e:
            raise ValueError(f"save: cannot store argument {field.name}={value!r} of "
                             f"{type_name} ({f.name}): {e}") from None
    unknown = set(args) - {fd.name for fd in message.DESCRIPTOR.fields}
    if unknown:
        logger.debug(f"save: {type_name} arguments {sorted(unknown)} have no field in "
                     "NNabla's format and are not saved")


# ---------------------------------------------------------------- networks
class _Names:
    """NNabla's unique naming: the first use of a prefix is the prefix, then _1, _2..."""

    def __init__(self, taken=()):
        self.count = {}
        self.taken = set(taken)

    def __call__(self, prefix):
        while True:
            n = self.count.get(prefix, 0)
            self.count[prefix] = n + 1
            name = prefix if n == 0 else f"{prefix}_{n}"
            if name not in self.taken:
                self.taken.add(name)
                return name


def _key(v):
    return id(v._buffers)


def _initializer_proto(var_proto, initializer):
    """Record a parameter's initializer as NNabla does (type name and one multiplier)."""
    if initializer is None or isinstance(initializer, np.ndarray):
        return
    if not type(initializer).__module__.startswith(("nnjax", "nnabla")):
        return  # a user's callable: nothing NNabla could rebuild
    kind = type(initializer).__name__.replace("Initializer", "")
    multiplier = 0.0
    try:
        if kind == "Constant":
            multiplier = float(initializer.value)
        elif kind == "Uniform":
            multiplier = -float(initializer.lim[0])
        elif kind == "Normal":
            multiplier = float(initializer.sigma)
    except (AttributeError, TypeError, ValueError, IndexError):
        multiplier = 0.0
    var_proto.initializer.type = kind
    var_proto.initializer.multiplier = multiplier


class _GraphRecord:
    """The proto network of one ``contents['networks']`` entry, plus what it knows."""

    def __init__(self, net, variable_batch_size, scope_params):
        for key in ("name", "outputs"):
            if key not in net:
                raise ValueError(f"save: a network entry needs {key!r}, got keys {sorted(net)}")
        self.name = net["name"]
        outputs = net["outputs"]
        if isinstance(outputs, Variable):
            outputs = {"y": outputs}
        elif isinstance(outputs, (list, tuple)):
            outputs = OrderedDict((f"y{i}" if i else "y", v) for i, v in enumerate(outputs))
        for k, v in outputs.items():
            if not isinstance(v, Variable):
                raise TypeError(f"save: output {k!r} of network {self.name!r} is not a Variable")
        names = dict(net.get("names", {}) or {})
        names.update(outputs)
        user = {}
        for k, v in names.items():
            if isinstance(v, Variable):
                user[_key(v)] = k
        param_names = OrderedDict((_key(v), k) for k, v in scope_params.items())
        user.update(param_names)

        self.variables = OrderedDict()   # name -> (kind, shape, Variable)
        self.parameters = OrderedDict()  # name -> Variable (the registered parameter)
        self.functions = []              # (name, type, args, input names, output names)
        var_names = _Names(set(user.values()))
        func_names = _Names()
        named = {}                       # key -> proto name

        def input_name(v, type_name):
            k = _key(v)
            if k in named:
                return named[k]
            if k in param_names:
                name = param_names[k]
                self.parameters[name] = scope_params[name]
                kind = "Parameter"
            else:
                name = user.get(k) or var_names(f"{type_name}_in")
                kind = "Buffer"
            named[k] = name
            self.variables[name] = (kind, tuple(v.shape), v)
            return name

        graph_outputs = list(outputs.values())
        for fn in functions_in_order(graph_outputs):
            type_name = fn.info.type_name
            if type_name == "Sink":
                continue
            if fn.python_function is not None:
                raise ValueError(f"save: network {self.name!r} contains a PythonFunction "
                                 f"({fn.python_function!r}); NNabla's file format cannot hold it")
            positional = _positional_inputs(fn)
            present = [v is not None for v in positional]
            for i, p in enumerate(present):
                if not p and any(present[i + 1:]) and \
                        not _absent_input_ok(type_name, fn.info.args, i):
                    raise ValueError(f"save: {type_name} in network {self.name!r} has no input "
                                     f"{i} but has later inputs; NNabla's format keeps inputs by "
                                     "position and cannot express that")
            ins = [input_name(v, type_name) for v in positional if v is not None]
            outs = []
            for o in fn.outputs:
                k = _key(o)
                if k in named:  # an output written by two functions cannot happen; be safe
                    outs.append(named[k])
                    continue
                if k in user:
                    name = user[k]
                    if name in self.variables:
                        raise ValueError(f"save: the name {name!r} is given to two variables "
                                         f"of network {self.name!r}")
                else:
                    name = var_names(f"{type_name}_out")
                named[k] = name
                self.variables[name] = ("Buffer", tuple(o.shape), o)
                outs.append(name)
            self.functions.append((func_names(type_name), type_name, dict(fn.info.args), ins, outs))
        for k, v in outputs.items():
            if _key(v) not in named:  # an output that is a leaf
                named[_key(v)] = k
                self.variables[k] = ("Buffer", tuple(v.shape), v)

        produced = {n for f in self.functions for n in f[4]}
        consumed = {n for f in self.functions for n in f[3]}
        buffers = [n for n, (kind, _, _) in self.variables.items() if kind == "Buffer"]
        self.inputs = [n for n in buffers if n not in produced and n in consumed]
        self.outputs = [n for n in buffers if n in produced and n not in consumed]
        if not self.functions:
            self.outputs = [n for n in buffers]
        self.batch_size = net.get("batch_size", None)
        self.shapes = {n: list(s) for n, (_, s, _) in self.variables.items()}
        self.args = [dict(f[2]) for f in self.functions]
        if variable_batch_size:
            self._variable_batch_size()

    def _variable_batch_size(self):
        """Mark the batch axis -1 by NNabla's rule (leading axes before a base_axis > 1
        folded into one batch axis, shape arguments starting with -1)."""
        funcs = [(f[0], f[1], a, f[3], f[4]) for f, a in zip(self.functions, self.args)]
        buffers = [n for n, (kind, _, _) in self.variables.items() if kind == "Buffer"]
        expect = rewrite_records(funcs, self.shapes, buffers)
        if self.batch_size is None:
            self.batch_size = expect

    def as_proto(self):
        n = nnabla_pb2.Network()
        n.name = self.name
        if self.batch_size:
            n.batch_size = int(self.batch_size)
        ordered = [k for k, (kind, _, _) in self.variables.items() if kind == "Buffer"]
        ordered += [k for k, (kind, _, _) in self.variables.items() if kind == "Parameter"]
        for name in ordered:
            kind, _, _ = self.variables[name]
            v = n.variable.add()
            v.name = name
            v.type = kind
            v.shape.dim.extend(int(d) for d in self.shapes[name])
            if kind == "Parameter":
                info = getattr(self.parameters[name], "info", None)
                _initializer_proto(v, getattr(info, "initializer", None))
        for (fname, type_name, _, ins, outs), args in zip(self.functions, self.args):
            f = n.function.add()
            f.name = fname
            f.type = type_name
            f.input.extend(ins)
            f.output.extend(outs)
            set_function_args(f, type_name, args)
        return n


# ---------------------------------------------------------------- other contents
def _global_config(ctx):
    g = nnabla_pb2.GlobalConfig()
    backend = getattr(ctx, "backend", ["cpu:float"])
    g.default_context.backends.extend([backend] if isinstance(backend, str) else list(backend))
    g.default_context.array_class = str(getattr(ctx, "array_class", ""))
    g.default_context.device_id = str(getattr(ctx, "device_id", "0"))
    return g


def _training_config(cfg):
    t = nnabla_pb2.TrainingConfig()
    t.max_epoch = int(cfg.get("max_epoch", 0))
    t.iter_per_epoch = int(cfg.get("iter_per_epoch", 0))
    t.save_best = bool(cfg.get("save_best", False))
    if "monitor_interval" in cfg:
        t.monitor_interval = int(cfg["monitor_interval"])
    return t


def _dataset(d):
    p = nnabla_pb2.Dataset()
    p.name = d["name"]
    p.uri = d.get("uri", "")
    if d.get("cache_dir") is not None:
        p.cache_dir = d["cache_dir"]
    p.shuffle = bool(d.get("shuffle", False))
    p.batch_size = int(d.get("batch_size", 0))
    p.variable.extend(list(d.get("variables", [])))
    p.no_image_normalization = bool(d.get("no_image_normalization", False))
    return p


def _dataset_names(value, datasets, what):
    if value is None:
        return []
    if isinstance(value, str):  # NNabla: a single unknown name is left out (transfer learning)
        return [value] if value in datasets else []
    names = list(value)
    for n in names:
        if n not in datasets:
            raise ValueError(f"save: {what} names dataset {n!r}, which is not in "
                             "contents['datasets']")
    return names


_SOLVER_FIELDS = {f.message_type.name[:-len("Parameter")]: f.name
                  for f in nnabla_pb2.Solver.DESCRIPTOR.fields
                  if f.containing_oneof is not None}


def _solver_proto(o, solver):
    type_name = str(getattr(solver, "name", type(solver).__name__))
    if type_name.endswith("Cuda"):
        type_name = type_name[:-4]
    o.solver.type = type_name
    field = _SOLVER_FIELDS.get(type_name)
    info = getattr(solver, "info", {}) or {}
    if field is None:
        logger.warning(f"save: solver {type_name!r} has no parameter message in NNabla's format")
        return
    msg = getattr(o.solver, field)
    msg.SetInParent()
    for fd in msg.DESCRIPTOR.fields:
        if fd.name in info and info[fd.name] is not None:
            setattr(msg, fd.name, _scalar(fd, info[fd.name]))


def _optimizer(d, records, datasets, scope_params):
    o = nnabla_pb2.Optimizer()
    o.name = d["name"]
    record = records.get(d.get("network"))
    o.network_name = record.name if record else "None"
    o.dataset_name.extend(_dataset_names(d.get("dataset"), datasets, f"optimizer {o.name!r}"))
    if d.get("solver") is not None:
        _solver_proto(o, d["solver"])
    o.solver.weight_decay = float(d.get("weight_decay", 0.0))
    o.solver.lr_decay = float(d.get("lr_decay", 1.0))
    o.solver.lr_decay_interval = int(d.get("lr_decay_interval", 1))
    o.update_interval = int(d.get("update_interval", 1))
    for var_name, data_name in d.get("data_variables", {}).items():
        dv = o.data_variable.add()
        dv.variable_name = var_name
        dv.data_name = data_name
    if record:
        for name in d.get("loss_variables", record.outputs):
            o.loss_variable.add().variable_name = name
    solver_params = {}
    if d.get("solver") is not None and hasattr(d["solver"], "get_parameters"):
        solver_params = d["solver"].get_parameters()
    names = record.parameters.keys() if record else scope_params.keys()
    for name in names:
        pv = o.parameter_variable.add()
        pv.variable_name = name
        pv.learning_rate_multiplier = 1.0 if name in solver_params else 0.0
    for g in d.get("generator_variables", []):
        gv = o.generator_variable.add()
        gv.variable_name = g
        gv.type = "Constant"
        gv.multiplier = 0
    return o


def _monitor(d, records, datasets):
    record = records.get(d.get("network"))
    if record is None:
        raise ValueError(f"save: monitor {d.get('name')!r} names network {d.get('network')!r}, "
                         "which is not in contents['networks']")
    m = nnabla_pb2.Monitor()
    m.name = d["name"]
    m.network_name = record.name
    names = _dataset_names(d.get("dataset"), datasets, f"monitor {m.name!r}")
    if not names:
        raise ValueError(f"save: monitor {m.name!r} needs a dataset")
    m.dataset_name.extend(names)
    for var_name, data_name in d.get("data_variables", {}).items():
        dv = m.data_variable.add()
        dv.variable_name = var_name
        dv.data_name = data_name
    for name in d.get("monitor_variables", record.outputs):
        mv = m.monitor_variable.add()
        mv.type = "Error"
        mv.variable_name = name
    for g in d.get("generator_variables", []):
        gv = m.generator_variable.add()
        gv.variable_name = g
        gv.type = "Constant"
        gv.multiplier = 0
    return m


def _executor(d, records):
    record = records.get(d.get("network"))
    if record is None:
        raise ValueError(f"save: executor {d.get('name')!r} names network {d.get('network')!r}, "
                         "which is not in contents['networks']")
    remap = d.get("remap", d.get("remp", {})) or {}
    e = nnabla_pb2.Executor()
    e.name = d["name"]
    e.network_name = record.name
    for key in ("no_image_normalization", "num_evaluations", "repeat_evaluation_type",
                "need_back_propagation"):
        if d.get(key) is not None:
            setattr(e, key, d[key])
    for name in d.get("data", record.inputs):
        if name not in record.variables:
            raise ValueError(f"save: executor {e.name!r}: data variable {name!r} is not in "
                             f"network {record.name!r}")
        dv = e.data_variable.add()
        dv.variable_name = name
        dv.data_name = remap.get(name, name)
    for name in d.get("output", record.outputs):
        if name not in record.variables:
            raise ValueError(f"save: executor {e.name!r}: output variable {name!r} is not in "
                             f"network {record.name!r}")
        ov = e.output_variable.add()
        ov.variable_name = name
        ov.data_name = remap.get(name, name)
    for name in record.parameters:
        e.parameter_variable.add().variable_name = name
    for g in d.get("generator_variables", []):
        gv = e.generator_variable.add()
        gv.type = "Constant"
        gv.multiplier = 0
        gv.variable_name = g
    return e


def _scope_parameters():
    return get_parameters(grad_only=False)


def create_proto(contents, include_params=False, variable_batch_size=True,
                 save_solver_in_proto=False, parameters=None):
    """The ``NNablaProtoBuf`` message describing ``contents`` (see module docs).

    ``save_solver_in_proto`` (solver states) is not supported: a warning.
    """
    if save_solver_in_proto:
        logger.warning("save: solver states are not supported by nnjax and are not saved")
    if not isinstance(contents, dict):
        raise TypeError(f"save: contents must be a dict, got {type(contents).__name__}")
    proto = nnabla_pb2.NNablaProtoBuf()
    if "global_config" in contents:
        proto.global_config.MergeFrom(_global_config(contents["global_config"]["default_context"]))
    if "training_config" in contents:
        proto.training_config.MergeFrom(_training_config(contents["training_config"]))
    scope_params = _scope_parameters()
    records = OrderedDict()
    for net in contents.get("networks", []):
        record = _GraphRecord(net, variable_batch_size, scope_params)
        records[record.name] = record
        proto.network.append(record.as_proto())
    datasets = OrderedDict()
    for d in contents.get("datasets", []):
        datasets[d["name"]] = _dataset(d)
        proto.dataset.append(datasets[d["name"]])
    for d in contents.get("optimizers", []):
        proto.optimizer.append(_optimizer(d, records, datasets, scope_params))
    for d in contents.get("monitors", []):
        proto.monitor.append(_monitor(d, records, datasets))
    for d in contents.get("executors", []):
        proto.executor.append(_executor(d, records))
    if include_params:
        fh.parameters_to_proto(parameters if parameters is not None else scope_params, proto)
    return proto


def _solver_state_members(solvers, fmt):
    """[(member name, bytes)] of the solvers' states as NNabla's save puts them in an .nnp."""
    if fmt not in (".h5", ".protobuf"):
        raise ValueError(f"save: solver_state_format {fmt!r} is not supported (.h5, .protobuf)")
    if fmt == ".protobuf":
        proto = nnabla_pb2.NNablaProtoBuf()
        for name, solver in solvers.items():
            po = proto.optimizer.add()
            po.name = name
            po.solver.type = re.sub(r"Cuda$", "", str(solver.name))
            solver.set_states_to_protobuf(po)
        return [("optimizer.protobuf.optimizer", proto.SerializeToString())]
    members = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, solver in solvers.items():
            member = f"{name}_{re.sub(r'Cuda$', '', str(solver.name))}_optimizer.h5"
            path = os.path.join(tmp, member)
            solver.save_states(path)
            with open(path, "rb") as f:
                members.append((member + ".optimizer", f.read()))
    return members


def _with_members(nnp_data, members):
    buf = io.BytesIO(nnp_data)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def save(filename, contents, include_params=False, variable_batch_size=True, extension=".nnp",
         parameters=None, parameter_format=".h5", include_solver_state=False,
         solver_state_format=".h5"):
    """Save network definitions, executors and settings (and parameters) to a file.

    Args:
        filename (str or file object): ``.nnp`` (zip of network.nntxt and the
            parameters), ``.nntxt``/``.prototxt`` (text) or ``.protobuf``
            (binary). For a file object the format is ``extension``.
        contents (dict): what to save (see the module docs).
        include_params (bool): put the parameters into the .nntxt/.protobuf
            file itself (an .nnp always holds them in its parameter file).
        variable_batch_size (bool): write the batch axis of data variables
            (and of Reshape/Broadcast/Constant/Rand* shapes) as -1, to be
            filled with a batch size on loading.
        parameters (dict): {name: Variable} to save instead of every parameter
            of the current scope.
        parameter_format (str): ``.h5`` or ``.protobuf``, the parameter file
            inside an .nnp.
        include_solver_state (bool): save the optimizers' solver states: in an .nnp as
            NNabla's ``<optimizer>_<Solver>_optimizer.h5.optimizer`` members
            (``solver_state_format='.protobuf'``: one ``optimizer.protobuf.optimizer``),
            in the other formats inside the optimizer messages.
    """
    ext = fh.file_extension(filename, extension)
    if ext not in (".nnp", ".protobuf") + fh.TEXT_EXTENSIONS:
        raise ValueError(f"save: unsupported extension {ext!r} of {fh.describe(filename)} "
                         "(use .nnp, .nntxt, .prototxt or .protobuf)")
    if ext == ".nnp":
        include_params = False
    proto = create_proto(contents, include_params, variable_batch_size, parameters=parameters)
    params = parameters if parameters is not None else _scope_parameters()
    solvers = OrderedDict((d["name"], d.get("solver")) for d in contents.get("optimizers", [])
                          if d.get("solver") is not None) if include_solver_state else {}
    if solvers and ext == ".nnp":
        data = fh.nnp_bytes(proto, params, parameter_format)
        fh.write_target(filename, _with_members(data, _solver_state_members(
            solvers, solver_state_format)))
    else:
        for po in proto.optimizer:  # other formats keep the states in the optimizer messages
            if po.name in solvers:
                solvers[po.name].set_states_to_protobuf(po)
        fh.save_model_file(filename, proto, params, extension=ext,
                           parameter_format=parameter_format)
    logger.info(f"Model file is saved as ({ext}): {filename}")
