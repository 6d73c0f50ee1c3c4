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

__all__ = ["is_float", "str_to_num", "compute_full_path", "let_data_to_variable",
           "save_optimizer_states", "load_train_state", "lms_scheduler",
           "NodeTimeInfoCollector", "measure_cpu_gpu_instant_load",
           "get_cpu_gpu_average_load", "CliError", "TerminalProgress"]


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


def measure_cpu_gpu_instant_load():
    return None


def get_cpu_gpu_average_load():
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
