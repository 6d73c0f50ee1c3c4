"""Helpers shared by the ``nnabla_cli`` sub-commands (``nnabla.utils.cli.utility``)."""
import contextlib
import os
import re
import sys
import zipfile

import numpy as np

from ... import parameter as P
from ...logger import logger
from .. import get_file_handle as fh
from .. import nnabla_pb2
from ..load import apply_optimizer_states, solver_type
from .. import callback, nvml
from ..communicator_util import current_communicator
from ..._variable import Variable
from ...context import get_current_context

__all__ = ["is_float", "str_to_num", "compute_full_path", "let_data_to_variable",
           "save_optimizer_states", "load_train_state", "lms_scheduler",
           "NodeTimeInfoCollector", "measure_cpu_gpu_instant_load",
           "get_cpu_gpu_average_load", "CliError", "TerminalProgress", "sechdule_scope",
           "collect_and_shape_result", "cpu_load_backend_ok", "gpu_load_backend_ok",
           "gpu_m_count", "gpu_a_load"]


class CliError(Exception):
    """A failure the command line reports as one line (exit status 1)."""


def is_float(x):
    try:
        float(x)
        return True
    except ValueError:
        return False


_UNITS = {"K": 1000, "k": 1024, "M": 1000 ** 2, "m": 1024 ** 2, "G": 1000 ** 3,
          "g": 1024 ** 3, "T": 1000 ** 4, "t": 1024 ** 4, "P": 1000 ** 5, "p": 1024 ** 5}


def str_to_num(text):
    """NNabla's size syntax: ``123``, ``12e3`` (12 to the power 3), ``4K`` (x1000), ``4k`` (x1024)
    ... up to P/p; -1 when ``text`` does not parse."""
    m = re.match(r"^([1-9][0-9]*)$|^([1-9][0-9]*(?:\.[0-9]+)?)(?:e([0-9]+)|([KkMmGgTtPp]))$",
                 str(text))
    if not m:
        return -1
    if m.group(1):
        return int(m.group(1))
    if m.group(3):
        return int(float(m.group(2)) ** int(m.group(3)))
    return int(float(m.group(2)) * _UNITS[m.group(4)])


def compute_full_path(root_path, file_path):
    full_path = os.path.join(root_path, file_path)
    full_path = full_path.replace("\\", os.path.sep).replace("/", os.path.sep)
    return full_path.replace(os.path.sep + "." + os.path.sep, os.path.sep)


def let_data_to_variable(variable, data, ctx=None, data_name=None, variable_name=None):
    """Copy ``data`` into ``variable`` (its dtype kept for float/int data); need_grad off."""
    data = np.asarray(data)
    if data.shape != tuple(variable.shape) and data.size == variable.size:
        data = data.reshape(variable.shape)
    if data.shape != tuple(variable.shape):
        raise ValueError("Shape does not match between data{} and variable{} ({} != {})".format(
            f' "{data_name}"' if data_name else "",
            f' "{variable_name}"' if variable_name else "", data.shape, tuple(variable.shape)))
    if data.dtype.kind in "fiub":
        variable.data.cast(data.dtype)[...] = data
    else:
        variable.d = data
    variable.need_grad = False


def save_optimizer_states(filebase, ext, train_config):
    """Write each optimizer's solver states next to ``filebase``; returns the file names.

    ``.h5``: one ``<filebase>_<optimizer>_<Solver>_optimizer.h5.optimizer`` per
    optimizer; ``.protobuf``: one ``<filebase>_optimizer.protobuf.optimizer``.
    """
    names = []
    optimizers = [getattr(o, "optimizer", o) for o in train_config.optimizers.values()]
    if ext == ".protobuf":
        proto = nnabla_pb2.NNablaProtoBuf()
        for o in optimizers:
            po = proto.optimizer.add()
            po.name = o.name
            po.solver.type = solver_type(o.solver)
            o.solver.set_states_to_protobuf(po)
        filename = filebase + "_optimizer.protobuf.optimizer"
        fh.atomic_write(filename, proto.SerializeToString())
        names.append(filename)
        return names
    for o in optimizers:
        filename = f"{filebase}_{o.name}_{solver_type(o.solver)}_optimizer.h5"
        o.solver.save_states(filename)
        os.replace(filename, filename + ".optimizer")
        names.append(filename + ".optimizer")
    return names


def load_train_state(filename, info):
    """Load parameters (``.h5``/``.protobuf``/``.nnp``) and, from an ``.nnp``, the optimizer
    states saved with it into ``info.optimizers``' solvers."""
    if not os.path.exists(filename):
        raise CliError(f"{filename}: no such file")
    P.load_parameters(filename)
    if os.path.splitext(filename)[1] == ".nnp":
        with zipfile.ZipFile(filename) as z:
            for member in z.namelist():
                if member.endswith(".optimizer"):
                    apply_optimizer_states(getattr(info, "optimizers", {}) or {}, member,
                                           z.read(member))
    logger.info(f"Load training resume states: {filename}")


@contextlib.contextmanager
def lms_scheduler(ctx=None, use_lms=False, gpu_memory_size=None, window_length=None):
    """NNabla's out-of-core scheduler scope; XLA manages device memory, so it does nothing."""
    yield None


class NodeTimeInfoCollector:
    """Times steps across data-parallel workers (a single process has nothing to compare)."""

    def __init__(self):
        self.timelist = []

    @contextlib.contextmanager
    def collect_cost_time(self, comm, iter_n):
        yield


@contextlib.contextmanager
def sechdule_scope(scheduler):
    """Run the block between ``scheduler.update_pre_hook()`` and ``update_post_hook()``
    (NNabla's spelling)."""
    scheduler.update_pre_hook()
    yield scheduler
    scheduler.update_post_hook()


# CPU/GPU load monitoring of the training command (NNabla's globals)
try:
    import psutil
    cpu_load_backend_ok = True
    _cpu_instant = psutil.Process()
    _cpu_average = psutil.Process()
    _cpu_average.cpu_percent()  # starts the averaging window
except ImportError:  # measure the CPU only with psutil
    psutil = None
    cpu_load_backend_ok = False
try:
    nvml.nvmlInit()
    gpu_load_backend_ok = True
except Exception:  # no NVML library or no GPU: GPU load is not measured
    gpu_load_backend_ok = False
gpu_m_count = 0   # GPU samples in the current average
gpu_a_load = {}   # {device index: {'name', 'load' (running mean)}}


def collect_and_shape_result(c_load, g_load):
    """Rows ``[rank, cpu_load, gpu_index, gpu_load]`` (GPU part absent when not
    measured) of every worker, sorted by rank, loads rounded to 0.1."""
    row = [c_load] + [x for pair in g_load[:1] for x in pair]
    comm = current_communicator()
    if not comm:
        return [[0.0] + [float(v) for v in np.round(np.array(row, dtype=float), 1)]]
    mine = np.array([comm.rank] + row, dtype=np.float32)
    local = Variable.from_numpy_array(mine)
    gathered = [Variable(mine.shape) for _ in range(comm.size)]
    comm.all_gather(local.data, [v.data for v in gathered])
    rows = [[float(v) for v in np.round(g.d.astype(float), 1)] for g in gathered]
    return sorted(rows, key=lambda r: r[0])


def _gpu_index():
    comm = current_communicator()
    if comm:
        return comm.local_rank
    if "cuda" in str(get_current_context().backend):
        return 0
    return None


def measure_cpu_gpu_instant_load():
    """Sample the loads now, fold the GPU load into its running mean and report
    ``('cpu_gpu_load', rows)`` through ``nnabla.utils.callback.update_status``."""
    global gpu_m_count
    gpu_load = []
    if gpu_load_backend_ok:
        gpu_m_count += 1
        index = _gpu_index()
        try:
            if index is not None:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                load = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                name = nvml.nvmlDeviceGetName(handle)
                name = name.decode("utf-8") if isinstance(name, bytes) else name
                gpu_load = [[index, load]]
                old = gpu_a_load.get(index)
                mean = load if old is None else \
                    ((gpu_m_count - 1) * old["load"] + load) / gpu_m_count
                gpu_a_load[index] = {"name": name, "load": mean}
        except nvml.NVMLError:
            gpu_load = []
    if cpu_load_backend_ok:
        rows = collect_and_shape_result(_cpu_instant.cpu_percent(), gpu_load)
        callback.update_status(("cpu_gpu_load", rows))
        return rows
    return None


def get_cpu_gpu_average_load():
    """Rows of the loads averaged since the last call (None without psutil);
    the GPU averages start over."""
    global gpu_a_load, gpu_m_count
    g_load = []
    if gpu_load_backend_ok:
        g_load = [[float(i), float(v["load"])] for i, v in gpu_a_load.items()][:1]
        gpu_a_load, gpu_m_count = {}, 0
    if cpu_load_backend_ok:
        return collect_and_shape_result(_cpu_average.cpu_percent(), g_load)
    return None


class TerminalProgress:
    """A one-line progress display on stderr, shown only when stderr is a terminal."""

    def __init__(self, total):
        self.total = total
        self.on = sys.stderr.isatty()

    def show(self, done, text=""):
        if self.on:
            sys.stderr.write(f"\r[{done}/{self.total}] {text}\x1b[K")
            sys.stderr.flush()

    def close(self):
        if self.on:
            sys.stderr.write("\n")
