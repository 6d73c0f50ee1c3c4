"""``nnabla_cli profile``: times of each optimizer's pieces, NNabla's ``profile.csv``.

Rows as NNabla's: ``load_dataset``, ``let_data (...)``, ``generate_data (...)``,
``forward_function (name : name)`` and ``backward_function (...)`` per
function (each run alone through its own compiled program), ``forward_all``,
``backward_all``, ``backward_all(wo param zero_grad)``, ``weight_decay``,
``update``, ``monitor_loss``, and (nnjax's addition) ``training_step (fused)``:
forward, backward and update run as the one program ``train`` uses. Each time
is the mean in ms over at least ``--min-time`` seconds and ``--min-count`` runs
(NNabla's 1 s and 100), each run waited for.
"""
import csv
import io
import os
import time
from collections import OrderedDict
from contextlib import ExitStack
from functools import partial

from ..._queue import flush
from ...logger import logger
from .. import get_file_handle as fh
from .. import load as loader
from ..progress import configure_progress, progress
from .utility import CliError, let_data_to_variable

__all__ = ["profile_command", "add_profile_command", "measure"]


def measure(func, min_time=1.0, min_count=100):
    """Mean wall time of ``func`` in ms (one warm-up run, each run waited for)."""
    func()
    flush()
    total, count = 0.0, 0
    start0 = time.perf_counter()
    while time.perf_counter() < start0 + min_time or count < min_count:
        start = time.perf_counter()
        func()
        flush()
        total += time.perf_counter() - start
        count += 1
    return total * 1000.0 / count


def _add_column(title, result, table):
    names = [row[0] for row in table]
    for k in result:
        if k not in names:
            names.append(k)
            table.append([k] + [""] * (len(table[0]) - 1))
    table[0].append(title)
    for row in table[1:]:
        row.append("%f" % result[row[0]] if row[0] in result else "")
    return table


def _profile_optimizer(o, iterators, timer):
    result = OrderedDict()

    def timed(name, func):
        result[name] = t = timer(func)
        logger.log(99, "%s %f(ms)" % (name, t))

    for name, p in o.parameters.items():
        if name[-2:] in ("/W", "/b"):
            p.data.zero()

    def load_dataset():
        data = OrderedDict()
        for di in iterators:
            data.update(zip(di.variables, di.next()))
        return data
    timed("load_dataset", load_dataset)
    data = load_dataset()
    for pv, d in o.dataset_assign.items():
        if d not in data:
            raise CliError(f'Data "{d}" is not found in the datasets of optimizer "{o.name}"')
        timed(f"let_data ({d} to {pv.name})",
              partial(let_data_to_variable, pv.variable, data[d], data_name=d,
                      variable_name=pv.name))
    for pv, generator in o.generator_assign.items():
        timed(f"generate_data ({pv.name})",
              lambda pv=pv, g=generator: let_data_to_variable(
                  pv.variable, g(pv.variable.shape), variable_name=pv.name))
    forward_seq, backward_seq = [], []
    o.target.forward(clear_no_need_grad=True, function_pre_hook=forward_seq.append)
    o.target.backward(clear_buffer=True, function_pre_hook=backward_seq.append)
    for f in forward_seq:
        if f.name == "Sink":
            continue
        timed(f"forward_function ({f.name} : {f.name})",
              partial(f.forward, f.inputs, f.outputs))
    timed("prepare_backward", lambda: None)
    for f in backward_seq:
        if f.name == "Sink":
            continue
        timed(f"backward_function ({f.name} : {f.name})",
              partial(f.backward, f.inputs, f.outputs))
    timed("forward_all", lambda: o.target.forward(clear_no_need_grad=True))
    timed("backward_all", lambda: o.target.backward(clear_buffer=True))

    def backward_wo_zero_grad():
        for name, p in o.parameters.items():
            if name[-2:] in ("/W", "/b"):
                p.grad.zero()
        o.target.backward(clear_buffer=True)
    timed("backward_all(wo param zero_grad)", backward_wo_zero_grad)
    if o.weight_decay > 0:
        timed(f"weight_decay ({o.solver.name})", lambda: o.solver.weight_decay(o.weight_decay))
    timed(f"update ({o.solver.name})", o.solver.update)

    def monitor_loss():
        for pv in o.loss_variables:
            float(pv.variable.d.mean())
    timed("monitor_loss", monitor_loss)

    def step():
        o.target.forward(clear_no_need_grad=True)
        o.solver.zero_grad()
        o.target.backward(clear_buffer=True)
        o.solver.update()
    timed("training_step (fused)", step)
    return result


def profile_command(args):
    if not os.path.exists(args.config):
        raise CliError(f"{args.config}: no such file")
    os.makedirs(args.outdir, exist_ok=True)
    configure_progress(os.path.join(args.outdir, "progress.txt"))
    info = loader.load([args.config])
    if not info.optimizers:
        raise CliError(f"{args.config}: no optimizer section to profile")
    table = [["time in ms"]]
    timer = partial(measure, min_time=args.min_time, min_count=args.min_count)
    with ExitStack() as stack:
        made = {}
        for o in info.optimizers.values():
            if o.solver is None:
                raise CliError(f"optimizer {o.name!r}: its solver could not be created")
            iterators = []
            for factory in o.data_iterators.values():
                if id(factory) not in made:
                    made[id(factory)] = stack.enter_context(factory())
                iterators.append(made[id(factory)])
            title = f"optimizer '{o.name}' with network '{o.network.name}'"
            logger.log(99, f"Profiling {title} ...")
            table = _add_column(title, _profile_optimizer(o, iterators, timer), table)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    fh.atomic_write(os.path.join(args.outdir, "profile.csv"), out.getvalue().encode("utf-8"))
    logger.log(99, "Profile Completed.")
    progress(None)
    return True


def add_profile_command(subparsers):
    p = subparsers.add_parser("profile", help="Profiling performance with NNP.")
    p.add_argument("-c", "--config", help="path to nntxt", required=True)
    p.add_argument("-o", "--outdir", help="output directory", required=True)
    p.add_argument("--min-time", type=float, default=1.0,
                   help="seconds each item is timed for at least (default 1.0)")
    p.add_argument("--min-count", type=int, default=100,
                   help="runs each item is timed for at least (default 100)")
    p.set_defaults(func=profile_command)
