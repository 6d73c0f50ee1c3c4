"""``nnabla_cli compare_with_cpu``: the same training step on the default device and on the CPU.

``-c`` runs on JAX's default device (a GPU when there is one), ``-c2`` on
the CPU (``jax.default_device``). Both start from ``-c``'s parameters and the
same first batch; per function the outputs are compared (forward), then the
gradients of every input that needs one (backward), then the parameters
after one update. Each row of ``compare_with_cpu.csv`` holds NNabla's
``norm_diff = std(a - b) / max(std(a), std(b))``.
"""
import contextlib
import csv
import io
import os
from collections import OrderedDict

import jax
import numpy as np

from ... import parameter as P
from ...logger import logger
from .. import get_file_handle as fh
from .. import load as loader
from ..progress import configure_progress, progress
from .profile import _add_column
from .utility import CliError, let_data_to_variable

__all__ = ["compare_with_cpu_command", "add_compare_with_cpu_command", "calc_norm_diff"]


def calc_norm_diff(data1, data2):
    """(norm_diff, std1, std2, diff_std) as NNabla's compare_with_cpu computes them."""
    a = np.asarray(data1, np.float64).ravel()
    b = np.asarray(data2, np.float64).ravel()
    std1, std2 = float(np.std(a)), float(np.std(b))
    std = max(std1, std2)
    diff_std = float(np.std(a - b))
    return (diff_std / std if std > 0 else 0.0), std1, std2, diff_std


def _cpu_scope():
    cpus = jax.devices("cpu")
    return jax.default_device(cpus[0])


def _names(network):
    return {id(pv.variable): name for name, pv in
            list(network.variables.items()) + list(network.parameters.items())
            if pv.variable is not None}


def _feed(o, data):
    for pv, d in o.dataset_assign.items():
        if d not in data:
            raise CliError(f'Data "{d}" is not found in the datasets of optimizer "{o.name}"')
        let_data_to_variable(pv.variable, data[d], data_name=d, variable_name=pv.name)


def _record(o, scope):
    seq = []
    with scope():
        o.target.forward(clear_no_need_grad=False, function_pre_hook=seq.append)
    return [f for f in seq if f.info.type_name != "Sink"]


def _compare(o, o_cpu, data, result, cpu_scope):
    names = _names(o.network)
    _feed(o, data)
    with cpu_scope():
        _feed(o_cpu, data)
    for (pv, g), (pv_cpu, _) in zip(o.generator_assign.items(), o_cpu.generator_assign.items()):
        value = g(pv.variable.shape)
        let_data_to_variable(pv.variable, value, variable_name=pv.name)
        with cpu_scope():
            let_data_to_variable(pv_cpu.variable, value, variable_name=pv.name)
    seq, seq_cpu = _record(o, contextlib.nullcontext), _record(o_cpu, cpu_scope)
    for f, f_cpu in zip(seq, seq_cpu):
        f.forward(f.inputs, f.outputs)
        with cpu_scope():
            f_cpu.forward(f_cpu.inputs, f_cpu.outputs)
        for v, v_cpu in zip(f.outputs, f_cpu.outputs):
            key = f"forward_function ({f.name}, {names.get(id(v), f.name)})"
            _log(result, key, v.d, v_cpu.d)
    o.solver.zero_grad()
    o.target.backward(clear_buffer=False)
    with cpu_scope():
        o_cpu.solver.zero_grad()
        o_cpu.target.backward(clear_buffer=False)
    for f, f_cpu in zip(seq, seq_cpu):
        for v, v_cpu in zip(f.inputs, f_cpu.inputs):
            if v is not None and v.need_grad:
                key = f"backward_function ({f.name}, {names.get(id(v), '?')})"
                _log(result, key, v.g, v_cpu.g)
    if o.weight_decay > 0:
        o.solver.weight_decay(o.weight_decay)
        with cpu_scope():
            o_cpu.solver.weight_decay(o_cpu.weight_decay)
    o.solver.update()
    with cpu_scope():
        o_cpu.solver.update()
    pairs = zip(o.parameter_learning_rate_multipliers.items(),
                o_cpu.parameter_learning_rate_multipliers.items())
    for (pv, lr), (pv_cpu, _) in pairs:
        if lr > 0:
            _log(result, f"update ({o.solver.name}, {pv.name})", pv.variable.d, pv_cpu.variable.d)


def _log(result, key, a, b):
    norm_diff, std1, std2, diff_std = calc_norm_diff(a, b)
    logger.log(99, "%s, %f, %f, %f, %f" % (key, norm_diff, std1, std2, diff_std))
    result[key] = norm_diff


def compare_with_cpu_command(args):
    for f in (args.config, args.config2):
        if not os.path.exists(f):
            raise CliError(f"{f}: no such file")
    os.makedirs(args.outdir, exist_ok=True)
    configure_progress(os.path.join(args.outdir, "progress.txt"))
    with P.parameter_scope("current"):
        info = loader.load([args.config])
        parameters = P.get_parameters(grad_only=False)
    cpu_scope = _cpu_scope
    with cpu_scope(), P.parameter_scope("cpu"):
        info_cpu = loader.load([args.config2])
        cpu_parameters = P.get_parameters(grad_only=False)
    if len(parameters) != len(cpu_parameters):
        raise CliError(f"{args.config} and {args.config2} have different parameters "
                       f"({len(parameters)} and {len(cpu_parameters)})")
    table = [["1-Correl"]]
    with contextlib.ExitStack() as stack:
        for o, o_cpu in zip(info.optimizers.values(), info_cpu.optimizers.values()):
            if o.solver is None or o_cpu.solver is None:
                raise CliError(f"optimizer {o.name!r}: its solver could not be created")
            for p, p_cpu in zip(parameters.values(), cpu_parameters.values()):
                with cpu_scope():
                    p_cpu.d = np.array(p.d)
            data = OrderedDict()
            for factory in o.data_iterators.values():
                di = stack.enter_context(factory())
                data.update(zip(di.variables, di.next()))
            title = f"optimizer '{o.name}' with network '{o.network.name}'"
            logger.log(99, f"Comparing {title} ...")
            result = OrderedDict()
            _compare(o, o_cpu, data, result, cpu_scope)
            table = _add_column(title, result, table)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    fh.atomic_write(os.path.join(args.outdir, "compare_with_cpu.csv"),
                    out.getvalue().encode("utf-8"))
    logger.log(99, "Compare with CPU Completed.")
    progress(None)
    return True


def add_compare_with_cpu_command(subparsers):
    p = subparsers.add_parser("compare_with_cpu", help="Compare performance between two nntxt.")
    p.add_argument("-c", "--config", help="path to nntxt", required=True)
    p.add_argument("-c2", "--config2", help="path to cpu nntxt", required=True)
    p.add_argument("-o", "--outdir", help="output directory", required=True)
    p.set_defaults(func=compare_with_cpu_command)
