"""``nnabla_cli train``: NNabla's training loop over a project's optimizers, monitors and datasets.

Each iteration feeds every active optimizer's data (datasets, reserved
variables ``%iter`` ``%max_iter`` ``%epoch`` ``%epochf`` ``%max_epoch``
``%progress``, generators), then queues forward, ``zero_grad``, backward
(loss gradient ``1/size``), weight decay, the scheduled learning rate and
the update; reading the cost afterwards runs them as one compiled program.
After each epoch: ``monitoring_report.yml`` gets the epoch's mean cost (and
the monitors' errors when they are evaluated: epochs 1-5 and every
``monitor_interval``), ``results_current_<epoch>.nnp`` is refreshed (every
10 epochs or 3 minutes, and at the end), ``results.nnp`` is written at each
evaluation when ``valid_error`` improves (always without ``save_best``).
``progress.txt`` holds the current state and ``log.txt`` the training log.
"""
import contextlib
import glob
import io
import logging
import os
import time
import zipfile
from collections import OrderedDict

import numpy as np

from ... import functions as F
from ... import parameter as P
from ...config import nnabla_config
from ...logger import logger
from .. import get_file_handle as fh
from .. import load as loader
from ..progress import configure_progress, progress
from .utility import (CliError, TerminalProgress, let_data_to_variable, load_train_state,
                      save_optimizer_states)

__all__ = ["train_command", "add_train_command"]

_RESERVED = ("%iter", "%max_iter", "%epoch", "%epochf", "%max_epoch", "%progress")


def _config_int(section, key, default):
    try:
        return int(nnabla_config.get(section, key))
    except Exception:
        return default


def reserved_value(name, iteration, iter_per_epoch, max_epoch):
    """The value NNabla feeds a variable assigned to reserved name ``name``."""
    iter_per_epoch = max(1, iter_per_epoch)
    values = {
        "%iter": iteration,
        "%max_iter": max_epoch * iter_per_epoch,
        "%epoch": iteration // iter_per_epoch,
        "%epochf": iteration * 1.0 / iter_per_epoch,
        "%max_epoch": max_epoch,
        "%progress": (iteration * 1.0 / iter_per_epoch) / max_epoch if max_epoch else 0.0,
    }
    if name not in values:
        raise ValueError(f"Unknown reserved variable {name} (known: {', '.join(_RESERVED)})")
    return values[name]


class _Saver:
    """Writes ``results*.nnp`` as NNabla's train does (zip built in memory, renamed in place)."""

    def __init__(self, outdir, config_path, config_text, optimizers):
        self.outdir = outdir
        self.config_name = os.path.basename(config_path)
        self.config_text = config_text
        self.optimizers = optimizers
        self.last = {}
        self.param_ext = nnabla_config.get("MISC", "nnp_param_format") or ".h5"
        self.optimizer_interval = _config_int("CHECKPOINT", "optimizer_interval", 5)

    def save(self, suffix, epoch, force=False):
        last_epoch, last_time = self.last.get(suffix, (0, 0.0))
        now = time.time()
        if suffix in (None, "best"):
            base = os.path.join(self.outdir, "results")
        else:
            base = os.path.join(self.outdir, f"results_{suffix}_{epoch}")
        filename = base + ".nnp"
        due = not os.path.exists(filename) and (now - last_time > 180.0
                                                or epoch - last_epoch > 10)
        if not (force or due):
            return
        stale = glob.glob(os.path.join(self.outdir, f"results_{suffix}_*.nnp"))
        members = [("nnp_version.txt", b"0.1\n"),
                   (self.config_name, self.config_text),
                   ("parameter" + self.param_ext,
                    _parameter_bytes(P.get_parameters(grad_only=False), self.param_ext))]
        if self.optimizers and epoch % self.optimizer_interval == 0:
            members += _optimizer_members(base, self.optimizers)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, data in members:
                z.writestr(name, data)
        fh.atomic_write(filename, buf.getvalue())
        for old in stale:
            if os.path.abspath(old) != os.path.abspath(filename):
                os.remove(old)
        self.last[suffix] = (epoch, now)


def _parameter_bytes(params, ext):
    if ext == ".protobuf":
        return fh.parameters_to_proto(params).SerializeToString()
    return fh.parameters_to_h5(params)


def _optimizer_members(base, optimizers):
    class _Config:
        pass
    config = _Config()
    config.optimizers = optimizers
    names = save_optimizer_states(base, ".h5", config)
    members = []
    for name in names:
        with open(name, "rb") as f:
            members.append((name[len(base) + 1:], f.read()))
        os.remove(name)
    return members


class _Cost:
    def __init__(self):
        self.sum_epoch = 0.0
        self.num_iteration = 0


def _feed(component, data, iteration, tc, what):
    for pv, name in component.dataset_assign.items():
        v = pv.variable
        if name in data:
            let_data_to_variable(v, data[name], data_name=name, variable_name=pv.name)
        elif name.startswith("%"):
            v.data.fill(reserved_value(name, iteration, tc.iter_per_epoch, tc.max_epoch))
        else:
            raise CliError(f'variable "{name}" is not in datasets '
                           f'{", ".join(component.data_iterators)} ({what} "{component.name}")')
    for pv, generator in component.generator_assign.items():
        let_data_to_variable(pv.variable, generator(pv.variable.shape), variable_name=pv.name)


def _next_batch(iterators, loaded):
    data = OrderedDict()
    for di in iterators:
        if id(di) not in loaded:
            loaded[id(di)] = di.next()
        data.update(zip(di.variables, loaded[id(di)]))
    return data


class _Step:
    """One optimizer's queued training step (forward, backward, update)."""

    def __init__(self, opt):
        self.opt = opt
        losses = [pv.variable for pv in opt.loss_variables]
        if len(losses) == 1:
            self.target, self.seed = losses[0], 1.0 / max(1, losses[0].size)
        else:  # NNabla seeds each loss with 1/size: the gradient of the sum of their means
            self.target, self.seed = F.add_n(*[F.mean(v) for v in losses]), 1.0

    def run(self, iteration):
        o = self.opt
        self.target.forward(clear_no_need_grad=True)
        if iteration % o.update_interval == 0:
            o.solver.zero_grad()
        self.target.backward(grad=self.seed, clear_buffer=True)
        if iteration % o.update_interval == o.update_interval - 1:
            if o.weight_decay > 0:
                o.solver.weight_decay(o.weight_decay)
            if o.scheduler is not None:
                o.solver.set_learning_rate(o.scheduler.get_learning_rate(iteration))
            o.solver.update()


def _active(o, iteration):
    return (o.start_iter == 0 or iteration + 1 >= o.start_iter) and \
        (o.end_iter == 0 or iteration + 1 <= o.end_iter)


def _train_iteration(iteration, info, steps, iterators, cost):
    tc = info.training_config
    loaded = {}
    losses = None
    for name, step in steps.items():
        o = step.opt
        if not _active(o, iteration):
            continue
        _feed(o, _next_batch(iterators[name], loaded), iteration, tc, "optimizer")
        step.run(iteration)
        losses = o.loss_variables
    if losses:
        value = sum(float(np.mean(pv.variable.d)) for pv in losses)
        cost.sum_epoch += value
        cost.num_iteration += 1
        progress(f"Training : cost={value:0.6f}",
                 (iteration % tc.iter_per_epoch) * 1.0 / tc.iter_per_epoch)


def _evaluate(info, iterators, report):
    errors = OrderedDict()
    for name, mon in info.monitors.items():
        its = iterators[name]
        if not its:
            continue
        batches = max(di.size for di in its) // max(di.batch_size for di in its)
        total, count = 0.0, 0
        target = F.sink(*[pv.variable for pv in mon.monitor_variables])
        for _ in range(batches):
            _feed(mon, _next_batch(its, {}), 0, info.training_config, "monitor")
            target.forward(clear_no_need_grad=True)
            total += sum(float(np.mean(pv.variable.d)) for pv in mon.monitor_variables)
            count += 1
            progress(f'Evaluating "{name}" : error={total / count:0.6f}', count / max(1, batches))
        error = total / count if count else 0.0
        if not np.isfinite(error):
            logger.log(99, "Validation error is Nan")
            error = 0.0
        report.append(f"  {name}: {error}\n")
        errors[name] = error
    return errors


def _resume_epoch(outdir, info):
    found = {}
    for path in glob.glob(os.path.join(outdir, "results_current_*.nnp")):
        stem = os.path.basename(path)[len("results_current_"):-len(".nnp")]
        if stem.isdigit():
            found[int(stem)] = path
    if not found:
        return 0
    last = max(found)
    logger.log(99, f"Load parameter from [{os.path.basename(found[last])}]")
    load_train_state(found[last], info)
    return last


def _config_source(path):
    """(name, bytes) of the network definition saved into results (the config's own text)."""
    ext = os.path.splitext(path)[1]
    if ext in (".nntxt", ".prototxt"):
        with open(path, "rb") as f:
            return path, f.read()
    if ext == ".nnp":
        with zipfile.ZipFile(path) as z:
            for member in z.namelist():
                if os.path.splitext(member)[1] in (".nntxt", ".prototxt"):
                    return member, z.read(member)
        raise CliError(f"{path}: the .nnp holds no .nntxt network definition")
    raise CliError(f"{path}: unsupported configuration file (use .nntxt, .prototxt or .nnp)")


@contextlib.contextmanager
def _log_file(outdir):
    handler = logging.FileHandler(os.path.join(outdir, "log.txt"))
    handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s][%(levelname)s]: %(message)s"))
    handler.setLevel(logging.WARNING)  # warnings, errors and the level-99 training messages
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


def _run(args, info, saver):
    tc = info.training_config
    max_iteration = tc.max_epoch * tc.iter_per_epoch
    last_epoch = _resume_epoch(args.outdir, info) if args.resume else 0
    if args.resume:
        logger.log(99, f"Resume from epoch {last_epoch + 1}")
    logger.log(99, f"Training epoch {last_epoch + 1} of {tc.max_epoch} begin")
    steps = OrderedDict()
    for name, o in info.optimizers.items():
        if o.solver is None:
            raise CliError(f"optimizer {name!r}: its solver could not be created")
        steps[name] = _Step(o)
    with contextlib.ExitStack() as stack:
        made = {}

        def instances(factories):
            out = []
            for factory in factories.values():
                if id(factory) not in made:
                    made[id(factory)] = stack.enter_context(factory())
                out.append(made[id(factory)])
            return out
        opt_iterators = {n: instances(o.data_iterators) for n, o in info.optimizers.items()}
        mon_iterators = {n: instances(m.data_iterators) for n, m in info.monitors.items()}
        cost, best_error, epoch = _Cost(), None, last_epoch
        start = time.time()
        first = last_epoch * tc.iter_per_epoch
        display = TerminalProgress(max_iteration)
        for iteration in range(first, max_iteration):
            _train_iteration(iteration, info, steps, opt_iterators, cost)
            if not np.isfinite(cost.sum_epoch):
                logger.log(99, "Cost is Nan")
                return False
            display.show(iteration + 1, f"cost={cost.sum_epoch / max(1, cost.num_iteration):.6f}")
            if (iteration + 1) % tc.iter_per_epoch:
                continue
            epoch = (iteration + 1) // tc.iter_per_epoch
            cost_avg = cost.sum_epoch / cost.num_iteration if cost.num_iteration else 0
            cost = _Cost()
            report, error_str = [], ""
            if epoch % tc.monitor_interval == 0 or epoch <= 5:
                errors = _evaluate(info, mon_iterators, report)
                if errors:
                    error_str = " {" + ", ".join(f"{k}={v:.6f}" for k, v in errors.items()) + "}"
                valid_error = errors.get("valid_error", 0.0)
                if not tc.save_best or best_error is None or valid_error <= best_error:
                    best_error = valid_error
                    saver.save("best", epoch, force=True)
            with open(os.path.join(args.outdir, "monitoring_report.yml"), "a") as f:
                f.write(f"{epoch - 1}:\n  cost: {cost_avg}\n" + "".join(report))
            saver.save("current", epoch)
            past = time.time() - start
            estimate = past * (max_iteration - first) / (iteration + 1 - first)
            logger.log(99, f"epoch {epoch} of {tc.max_epoch} cost={cost_avg:.6f}{error_str} "
                           f"time=({past:.1f}s /{estimate:.1f}s)")
        display.close()
        if max_iteration > first:
            saver.save("current", epoch, force=True)
    return True


def train_command(args):
    if not os.path.exists(args.config):
        raise CliError(f"{args.config}: no such file")
    os.makedirs(args.outdir, exist_ok=True)
    configure_progress(os.path.join(args.outdir, "progress.txt"))
    with _log_file(args.outdir):
        info = loader.load([args.config], prepare_data_iterator=None, exclude_parameter=True,
                           context=args.context)
        if any(not d.uri.strip() for d in info.datasets.values()):
            raise CliError(f"{args.config}: a dataset has an empty URI")
        if args.param:
            load_train_state(args.param, info)
        config_name, config_text = _config_source(args.config)
        saver = _Saver(args.outdir, config_name, config_text, info.optimizers)
        tc = info.training_config
        if tc.max_epoch * tc.iter_per_epoch > 0:
            result = _run(args, info, saver)
        else:
            logger.log(99, "0 epoch learning. (Just save parameter.)")
            saver.save(None, 0, force=True)
            result = True
        logger.log(99, "Training Completed." if result else "Training Incompleted.")
    progress(None)
    return result


def add_train_command(subparsers):
    p = subparsers.add_parser("train", help="Training with NNP.")
    p.add_argument("-r", "--resume", help="Resume from last saved parameter", action="store_true")
    p.add_argument("-c", "--config", help="Path to nntxt", required=True)
    p.add_argument("-p", "--param", help="Path to parameter file", required=False)
    p.add_argument("-o", "--outdir", help="Output directory", required=True)
    p.add_argument("-O", "--enable-ooc", help="Enable Out Of Core training (no effect: XLA "
                   "manages device memory)", action="store_true")
    p.add_argument("-m", "--ooc-gpu-memory-size", help="OOC gpu memory size (no effect)",
                   default=None)
    p.add_argument("-C", "--context", help="Force exec context (cpu or cudnn[:DEVID])",
                   default=None)
    p.add_argument("-w", "--ooc-window-length", help="OOC window length (no effect)",
                   default=None)
    p.set_defaults(func=train_command)
