"""Loading NNabla model files into runnable graphs (``nnabla.utils.load``).

``load(filenames, batch_size=None)`` reads ``.nnp`` / ``.nntxt`` / ``.prototxt``
/ ``.protobuf`` / ``.h5`` files, puts their parameters into the current
parameter scope, rebuilds every network (see :mod:`nnabla.utils.nnp_graph`)
and returns an ``Info`` object as NNabla's:

- ``info.proto``: the merged ``NNablaProtoBuf`` (without parameters).
- ``info.global_config.default_context``, ``info.training_config``
  (``max_epoch``, ``iter_per_epoch``, ``save_best``, ``monitor_interval``).
- ``info.networks``: {name: network} with ``variables`` / ``parameters``
  ({name: ProtoVariable}, whose ``variable_instance`` is the nnabla Variable),
  ``inputs`` / ``outputs`` (names) and ``batch_size``.
- ``info.executors``: {name: executor} with ``network``, ``dataset_assign``
  ({ProtoVariable: data name}), ``generator_assign``, ``output_assign``
  ({ProtoVariable: [type, data name]}), ``parameters``, ``forward_target`` (a
  sink of the outputs), ``num_evaluations``, ``repeat_evaluation_type``,
  ``need_back_propagation`` (then ``loss_variables``, ``backward_target``,
  ``parameter_learning_rate_multipliers``), ``no_image_normalization``.
- ``info.optimizers``: {name: optimizer} with ``network``, ``solver`` (an
  nnabla solver built from the file, its parameters set), ``parameters``,
  ``loss_variables``, ``target``, ``dataset_assign``, ``generator_assign``,
  ``parameter_learning_rate_multipliers``, ``weight_decay``, ``update_interval``.
- ``info.monitors``: {name: monitor} with ``network``, ``monitor_variables``,
  ``target``, ``dataset_assign``, ``generator_assign``.
- ``info.datasets``: {name: dataset} with the proto's fields.

Datasets get NNabla's ``data_iterator`` factories (CSV, through the cache
directory when one is given; ``prepare_data_iterator=None`` prepares them
only when ``max_epoch > 0``); optimizers get ``scheduler`` (NNabla's
learning-rate schedules), ``start_iter``/``end_iter`` and the solver states
the file holds; loop-control networks are unrolled. Left out (compared with
NNabla): the ``context`` switch (nnjax picks its device itself) and NNabla's
removal of Identity functions (they stay in the graph; values are the same).
"""
import itertools
import os
import re
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from .. import initializer as I
from .. import parameter as P
from .. import solvers as S
from ..core.graph_def import ProtoGraph
from ..context import Context, get_current_context
from ..functions import sink
from ..logger import logger
from . import data_iterator as DI
from .data_source import DataSourceWithFileCache
from .data_source_implements import CsvDataSource
from . import get_file_handle as fh
from . import learning_rate_scheduler as LRS
from . import nnabla_pb2
from .nnp_graph import ProtoNetwork, _f32, load_parameter_entries

__all__ = ["load", "base_load", "restore_optimizer_state"]


class Info:
    """What ``load`` found (attributes documented in the module)."""

    @property
    def proto_graph(self):
        """The file's networks as a ``nnabla.core.graph_def.ProtoGraph`` whose networks
        have been called once (their ``variable_instance``s exist), as NNabla's load
        gives; built on first use, sharing this load's parameters."""
        graph = self.__dict__.get("_proto_graph")
        if graph is None:
            graph = ProtoGraph.from_proto(self.proto, batch_size=self.batch_size,
                                          param_scope=self.parameter_scope)
            graph.expand_loop_control()
            for network in graph.networks.values():
                network(ctx=self.global_config.default_context, batch_size=self.batch_size)
            self.__dict__["_proto_graph"] = graph
        return graph


class _Config:
    pass


class _Component:
    def __init__(self, proto):
        self.proto = proto
        self.name = proto.name
        self.network = None


def _context(proto_ctx):
    if proto_ctx is None:
        return get_current_context()
    backends = list(proto_ctx.backends)
    if not backends:  # NNabla's old style: backend "cpu|cuda", compute_backend "default|cudnn"
        old = [b.strip() for b in proto_ctx.backend.split("|")]
        compute = [b.strip() for b in proto_ctx.compute_backend.split("|")]
        backends = ["cpu:float"]
        if "cuda" in old:
            backends = (["cudnn:float"] if "cudnn" in compute else []) + ["cuda:float", "cpu:float"]
    return Context(backend=backends, array_class=proto_ctx.array_class,
                   device_id=proto_ctx.device_id or "0")


def _generator(g):
    if g.type == "Normal":
        return I.NormalInitializer(sigma=g.multiplier)
    if g.type == "Uniform":
        return I.UniformInitializer(lim=(-g.multiplier, g.multiplier))
    if g.type == "Range":
        return lambda shape: I.RangeInitializer(0, 1)(shape) * g.multiplier
    if g.type == "Constant":
        return I.ConstantInitializer(value=g.multiplier)
    raise ValueError(f"generator type {g.type!r} of {g.variable_name!r} is not supported")


def _matching_names(pattern, names):
    """Names matching ``pattern``, where ``{...}`` stands for ``[<digits>]`` (repeats)."""
    if "{" not in pattern:
        return [pattern] if pattern in names else []
    regex = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"\\[\\d+\\]", re.escape(pattern)) + "$")
    return [n for n in names if regex.match(n)]


def _lookup(network, name, what):
    pv = network.variables.get(name) or network.parameters.get(name)
    if pv is None:
        raise ValueError(f"{what}: variable {name!r} is not in network {network.name!r}")
    return pv


def _sink(pvs):
    variables = [pv.variable for pv in pvs if pv.variable is not None]
    if not variables:
        return None
    return sink(*variables)


def _parameter_multipliers(network, proto_vars):
    out = OrderedDict()
    names = list(itertools.chain(network.parameters.keys(), network.variables.keys()))
    for p in proto_vars:
        for n in _matching_names(p.variable_name, names):
            out[_lookup(network, n, "parameter_variable")] = p.learning_rate_multiplier
    return out


def _assign(network, proto_list, what):
    return OrderedDict((_lookup(network, d.variable_name, what), d.data_name) for d in proto_list)


def _generators(network, proto_list, what):
    return OrderedDict((_lookup(network, g.variable_name, what), _generator(g))
                       for g in proto_list)


def _network_of(networks, name, what):
    if name not in networks:
        raise ValueError(f"{what} uses network {name!r}, which the files do not define "
                         f"(networks: {list(networks)})")
    return networks[name]


def _solver(o):
    s = o.solver
    kind = "Sgd" if s.type == "SGD" else s.type
    cls = getattr(S, kind, None)
    if cls is None or not kind:
        logger.warning(f"optimizer {o.name!r}: solver type {kind!r} is not available; "
                       "no solver is created")
        return None
    which = s.WhichOneof("parameter")
    kwargs = {}
    if which:
        msg = getattr(s, which)
        for fd in msg.DESCRIPTOR.fields:
            value = getattr(msg, fd.name)
            kwargs[fd.name] = _f32(value) if fd.type == fd.TYPE_FLOAT else value
    try:
        return cls(**kwargs)
    except TypeError as e:
        logger.warning(f"optimizer {o.name!r}: cannot create solver {kind} from {kwargs}: {e}")
        return None


def _initial_lr(solver_proto):
    which = solver_proto.WhichOneof("parameter")
    if not which:
        return None
    msg = getattr(solver_proto, which)
    for name in ("lr", "alpha", "eta"):
        if name in msg.DESCRIPTOR.fields_by_name:
            return _f32(getattr(msg, name))
    return None


def _scheduler(o):
    """NNabla's learning-rate schedule of optimizer proto ``o`` (None without a solver lr)."""
    s = o.solver
    init_lr = _initial_lr(s)
    if init_lr is None:
        return None
    sched = LRS.ExponentialScheduler(init_lr, 1.0, 1)
    kind = s.lr_scheduler_type
    if kind == "Polynomial":
        p = s.polynomial_scheduler_param
        if p.power != 0.0:
            sched = LRS.PolynomialScheduler(init_lr, p.max_iter, p.power)
    elif kind == "Cosine":
        sched = LRS.CosineScheduler(init_lr, s.cosine_scheduler_param.max_iter)
    elif kind == "Exponential":
        p = s.exponential_scheduler_param
        if p.gamma != 1.0:
            sched = LRS.ExponentialScheduler(init_lr, p.gamma, max(1, p.iter_interval))
    elif kind == "Step":
        p = s.step_scheduler_param
        if p.gamma != 1.0 and len(p.iter_steps) > 0:
            sched = LRS.StepScheduler(init_lr, p.gamma, list(p.iter_steps))
    elif kind == "":
        if s.lr_decay_interval != 0 or s.lr_decay != 0.0:
            sched = LRS.ExponentialScheduler(init_lr, s.lr_decay if s.lr_decay > 0.0 else 1.0,
                                             max(1, s.lr_decay_interval))
    else:
        raise ValueError(f"optimizer {o.name!r}: learning rate scheduler {kind!r} is not "
                         "supported (Polynomial, Cosine, Exponential, Step)")
    if s.lr_warmup_scheduler_type == "Linear":
        warmup = s.linear_warmup_scheduler_param.warmup_iter
        if warmup >= 1:
            sched = LRS.LinearWarmupScheduler(sched, warmup)
    return sched


def _executors(info):
    executors = OrderedDict()
    for e in info.proto.executor:
        ex = _Component(e)
        what = f"executor {e.name!r}"
        ex.network = network = _network_of(info.networks, e.network_name, what)
        ex.num_evaluations = e.num_evaluations if e.num_evaluations > 0 else 1
        ex.repeat_evaluation_type = e.repeat_evaluation_type
        ex.need_back_propagation = e.need_back_propagation
        ex.no_image_normalization = e.no_image_normalization
        ex.dataset_assign = _assign(network, e.data_variable, what)
        ex.generator_assign = _generators(network, e.generator_variable, what)
        ex.output_assign = OrderedDict((_lookup(network, o.variable_name, what),
                                        [o.type, o.data_name]) for o in e.output_variable)
        ex.parameters = OrderedDict()
        names = list(itertools.chain(network.parameters.keys(), network.variables.keys()))
        for p in e.parameter_variable:
            for n in _matching_names(p.variable_name, names):
                ex.parameters[_lookup(network, n, what)] = n
        ex.forward_target = _sink(ex.output_assign.keys())
        if ex.need_back_propagation:
            ex.loss_variables = [_lookup(network, v.variable_name, what) for v in e.loss_variable]
            ex.parameter_learning_rate_multipliers = _parameter_multipliers(
                network, e.parameter_variable)
            ex.backward_target = _sink(ex.loss_variables)
        executors[e.name] = ex
    return executors


def _optimizers(info):
    optimizers = OrderedDict()
    for o in info.proto.optimizer:
        op = _Component(o)
        what = f"optimizer {o.name!r}"
        op.order = o.order
        op.update_interval = o.update_interval if o.update_interval > 0 else 1
        op.start_iter = o.start_iter
        op.end_iter = o.end_iter
        op.weight_decay = o.solver.weight_decay
        op.lr_decay = o.solver.lr_decay if o.solver.lr_decay > 0.0 else 1.0
        op.lr_decay_interval = o.solver.lr_decay_interval if o.solver.lr_decay_interval > 0 else 1
        op.solver = _solver(o)
        op.solver_checkpoint = _checkpoint_of(o, info.optimizer_checkpoints)
        op.scheduler = _scheduler(o)
        op.comm = None
        op.data_iterators = _dataset_factories(info, o.dataset_name, what)
        if o.network_name not in info.networks:
            logger.warning(f"{what}: network {o.network_name!r} is not in the files")
            optimizers[o.name] = op
            continue
        op.network = network = info.networks[o.network_name]
        op.dataset_assign = _assign(network, o.data_variable, what)
        op.generator_assign = _generators(network, o.generator_variable, what)
        op.loss_variables = [_lookup(network, v.variable_name, what) for v in o.loss_variable]
        op.parameter_learning_rate_multipliers = _parameter_multipliers(
            network, o.parameter_variable)
        params = OrderedDict()
        for pv, lr in op.parameter_learning_rate_multipliers.items():
            if pv.variable is None:
                continue
            if lr > 0.0:
                params[pv.name] = pv.variable
            else:
                pv.variable.need_grad = False
        op.parameters = OrderedDict(sorted(params.items()))
        if op.solver is not None:
            op.solver.set_parameters(op.parameters)
            restore_optimizer_state(op)
        for pv in op.loss_variables:  # NNabla seeds the loss grads with 1/size
            if pv.variable is not None:
                pv.variable.grad.fill(1.0 / max(1, pv.variable.size))
        if len(op.loss_variables) == 1:
            op.target = op.loss_variables[0].variable
        else:
            op.target = _sink(op.loss_variables)
        optimizers[o.name] = op
    return optimizers


def _monitors(info):
    monitors = OrderedDict()
    for m in info.proto.monitor:
        mo = _Component(m)
        what = f"monitor {m.name!r}"
        mo.network = network = _network_of(info.networks, m.network_name, what)
        mo.data_iterators = _dataset_factories(info, m.dataset_name, what)
        mo.dataset_assign = _assign(network, m.data_variable, what)
        mo.generator_assign = _generators(network, m.generator_variable, what)
        mo.monitor_variables = [_lookup(network, v.variable_name, what)
                                for v in m.monitor_variable]
        mo.target = _sink(mo.monitor_variables)
        monitors[m.name] = mo
    return monitors


def _dataset_factories(info, names, what):
    out = OrderedDict()
    for d in names:
        if d not in info.datasets:
            raise ValueError(f"{what} uses dataset {d!r}, which the files do not define "
                             f"(datasets: {list(info.datasets)})")
        out[d] = info.datasets[d].data_iterator
    return out


def _has_cache(cache_dir):
    return os.path.isdir(cache_dir) and os.path.exists(os.path.join(cache_dir, "cache_index.csv"))


def _create_cache(ds, cache_dir, rng):
    """NNabla's CreateCache: the rows in the dataset generator's (shuffled) order, as a cache."""
    os.makedirs(cache_dir, exist_ok=True)
    logger.log(99, f'Creating cache data for "{ds.uri}"')
    source = CsvDataSource(ds.uri, shuffle=False, normalize=False)
    if ds.shuffle:
        source._order = list(rng.permutation(source.size))
    with source, DataSourceWithFileCache(source, cache_dir=cache_dir, shuffle=False):
        pass


def _iterator_factory(ds, index):
    """A callable making the data iterator of dataset ``ds`` as NNabla's load does.

    With ``create_cache_explicitly`` the cache in ``cache_dir`` is written now
    (when missing or ``overwrite_cache``), as NNabla's load does, and read back
    by the iterators; otherwise a missing cache is written while the CSV is
    first read, and an existing one is read as is.
    """
    cache_dir = ds.cache_dir or None
    normalize = not ds.no_image_normalization

    def rng():
        return np.random.RandomState(index)

    def from_cache():
        return DI.data_iterator_cache(cache_dir, ds.batch_size, ds.shuffle, rng=rng(),
                                      normalize=normalize)

    if cache_dir and ds.create_cache_explicitly:
        if ds.overwrite_cache or not _has_cache(cache_dir):
            _create_cache(ds, cache_dir, rng())
        return from_cache
    if cache_dir and (ds.overwrite_cache or not _has_cache(cache_dir)):
        def make_csv():
            os.makedirs(cache_dir, exist_ok=True)
            return DI.data_iterator_csv_dataset(ds.uri, ds.batch_size, ds.shuffle, rng=rng(),
                                                normalize=normalize, cache_dir=cache_dir)
        return make_csv
    if cache_dir:
        return from_cache
    return lambda: DI.data_iterator_csv_dataset(ds.uri, ds.batch_size, ds.shuffle, rng=rng(),
                                                normalize=normalize)


def _datasets(proto, prepare_data_iterator):
    datasets = OrderedDict()
    for index, d in enumerate(proto.dataset):
        ds = _Component(d)
        for key in ("type", "uri", "batch_size", "cache_dir", "overwrite_cache",
                    "create_cache_explicitly", "shuffle", "no_image_normalization"):
            setattr(ds, key, getattr(d, key))
        ds.normalize = not d.no_image_normalization
        ds.variables = list(d.variable)
        ds.data_iterator = _iterator_factory(ds, index) if prepare_data_iterator else None
        datasets[d.name] = ds
    return datasets


def solver_type(solver):
    """The solver's type as NNabla's files name it (``Adam``, not ``AdamCuda``)."""
    return re.sub(r"Cuda$", "", str(solver.name))


def apply_optimizer_states(optimizers, member, data):
    """Set solver states from an ``.nnp`` member NNabla's train/save writes: ``<o>_<Solver>_
    optimizer.h5.optimizer`` (one optimizer) or ``*.protobuf.optimizer`` (all of them)."""
    if member.endswith(".protobuf.optimizer"):
        proto = nnabla_pb2.NNablaProtoBuf()
        proto.ParseFromString(data)
        for po in proto.optimizer:
            o = optimizers.get(po.name)
            if o is None or o.solver is None:
                logger.warning(f"No matched optimizer is found for {member}.")
                continue
            o.solver.set_states_from_protobuf(po)
        return
    for o in optimizers.values():
        if o.solver is not None and \
                member == f"{o.name}_{solver_type(o.solver)}_optimizer.h5.optimizer":
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "states.h5")
                with open(path, "wb") as f:
                    f.write(data)
                o.solver.load_states(path)
            return
    logger.warning(f"No matched optimizer is found for {member}.")


def _optimizer_checkpoints(filenames):
    """[(member, bytes)] of the ``*.optimizer`` members of the .nnp files among ``filenames``."""
    names = filenames if isinstance(filenames, (list, tuple)) else [filenames]
    found = []
    for name in names:
        if isinstance(name, (str, os.PathLike)) and str(name).endswith(".nnp"):
            with zipfile.ZipFile(name) as z:
                found += [(m, z.read(m)) for m in z.namelist() if m.endswith(".optimizer")]
    return found


def _checkpoint_of(o, checkpoints):
    solver = "Sgd" if o.solver.type == "SGD" else o.solver.type
    h5_name = f"{o.name}_{solver}_optimizer.h5.optimizer"
    for member, data in checkpoints:
        if member == h5_name:
            return member, data
        if member.endswith(".protobuf.optimizer"):
            proto = nnabla_pb2.NNablaProtoBuf()
            proto.ParseFromString(data)
            if any(po.name == o.name for po in proto.optimizer):
                return member, data
    return None


def restore_optimizer_state(optimizer):
    """Set ``optimizer.solver``'s states from its optimizer message, then from the solver
    state file saved with it in the .nnp, if any (NNabla's name for it)."""
    if optimizer.solver is None:
        return
    if optimizer.proto.solver.states:
        optimizer.solver.set_states_from_protobuf(optimizer.proto)
    checkpoint = getattr(optimizer, "solver_checkpoint", None)
    if checkpoint is not None:
        apply_optimizer_states({optimizer.name: optimizer}, *checkpoint)


def base_load(filenames, prepare_data_iterator=True, batch_size=None, exclude_parameter=False,
              parameter_only=False, extension=".nntxt", context=None):
    """``load`` as NNabla's first stage: networks, datasets and optimizers with their solvers
    (whose parameters the caller sets; then ``restore_optimizer_state``)."""
    return load(filenames, prepare_data_iterator, batch_size, exclude_parameter, parameter_only,
                extension, context)


def load(filenames, prepare_data_iterator=True, batch_size=None, exclude_parameter=False,
         parameter_only=False, extension=".nntxt", context=None):
    """Load networks, executors, optimizers, ... from model files (see the module docs).

    Args:
        filenames: a path, a file object (format from ``extension``) or a list.
        batch_size (int): the batch size of rebuilt networks (default: each
            network's ``batch_size``).
        exclude_parameter (bool): do not load parameters.
        parameter_only (bool): only load parameters (no networks are built).
    """
    if context is not None:
        logger.info("load: context is ignored by nnjax")
    where = fh.describe(filenames) if not isinstance(filenames, (list, tuple)) \
        else repr(list(map(str, filenames)))
    contents = fh.read_files(filenames, extension=extension,
                             exclude_parameter=exclude_parameter,
                             parameter_only=parameter_only)
    info = Info()
    info.prepare_data_iterator = prepare_data_iterator
    info.batch_size = batch_size
    info.exclude_parameter = exclude_parameter
    info.parameter_only = parameter_only
    info.proto = contents.proto
    info.nnp_version = contents.nnp_version
    info.parameter_scope = P.get_current_parameter_scope()
    load_parameter_entries(contents.parameters, info.parameter_scope, where)

    info.global_config = _Config()
    info.global_config.default_context = _context(
        info.proto.global_config.default_context
        if info.proto.HasField("global_config") else None)
    info.default_context = info.global_config.default_context
    info.training_config = _Config()
    tc = info.proto.training_config
    info.training_config.max_epoch = tc.max_epoch
    info.training_config.iter_per_epoch = tc.iter_per_epoch
    info.training_config.save_best = tc.save_best
    info.training_config.monitor_interval = tc.monitor_interval if tc.monitor_interval else 10
    prepare = prepare_data_iterator
    if prepare is None:  # NNabla's rule: datasets are read only when there is training to do
        prepare = tc.max_epoch > 0
    info.datasets = _datasets(info.proto, prepare)
    info.renamed_variables = {}
    info.networks = OrderedDict()
    if not parameter_only:
        for n in info.proto.network:
            network = ProtoNetwork(n)
            network.build(batch_size, param_scope=info.parameter_scope)
            info.networks[n.name] = network
    empty = parameter_only
    info.optimizer_checkpoints = [] if exclude_parameter else _optimizer_checkpoints(filenames)
    info.optimizers = OrderedDict() if empty else _optimizers(info)
    info.monitors = OrderedDict() if empty else _monitors(info)
    info.executors = OrderedDict() if empty else _executors(info)
    return info
