"""Solver states outside a solver: ``SolverState``, checks, and state files.

States travel as {parameter name: SolverState}: ``get_states`` hands them
out, ``set_states`` checks them all against the registered parameters
before writing any.

Files: ``.h5`` as NNabla lays it out (one group per parameter name holding
a dataset ``t``, the step count, and one dataset per state, with ``index``
attributes keeping the order of parameters and of states), or an NNabla
``Optimizer`` message whose ``solver.states`` map holds the same
(``.protobuf``, or text ``.nntxt`` / ``.prototxt`` for reading). Files are
written under a temporary name and renamed (``get_file_handle.atomic_write``).
"""
import os
from collections import OrderedDict

import numpy as np
from google.protobuf import text_format

from ._ndarray import NdArray
from ._solver_step import T_MAX
from ._variable import Variable
from .logger import logger
from .utils import get_file_handle as fh
from .utils import nnabla_pb2

_READ_ERRORS = (OSError, ValueError, KeyError, TypeError)


class SolverState:
    """One parameter's solver state: ``pstate`` {name: Variable} and step count ``t``."""

    def __init__(self, pstate=None, t=0):
        self.pstate = pstate if pstate is not None else OrderedDict()
        self.t = t

    def __repr__(self):
        return f"SolverState(pstate={list(self.pstate)}, t={self.t})"


def _host_f32(var):
    """A state Variable's values as a float32 numpy array."""
    return np.asarray(var.data.get_data("r"), np.float32)


# ---------------------------------------------------------------- held states
def states_of_slots(slots):
    """{name: SolverState} of a solver's slots; the state Variables share its arrays."""
    out = OrderedDict()
    for k, s in slots.items():
        pstate = OrderedDict()
        for n, arr in s.states.items():
            v = Variable(arr.shape)
            v.data = arr
            pstate[n] = v
        out[k] = SolverState(pstate, s.t)
    return out


def _state_value(v, where):
    """Host numpy value of a state entry given as Variable, NdArray or array-like."""
    if isinstance(v, Variable):
        return np.asarray(v.data.get_data("r"))
    if isinstance(v, NdArray):
        return np.asarray(v.get_data("r"))
    try:
        return np.asarray(v)
    except Exception as e:  # noqa: BLE001 - report what could not be read
        raise TypeError(f"{where}: cannot read the state value ({e})") from None


def checked_states(states, slots, expected, solver_name, where):
    """Check {name: SolverState} against a solver's slots; [(slot, values, t)].

    expected: the state names of the solver's rule. Raises TypeError /
    ValueError naming ``where`` for an unregistered name, missing or extra
    states, a shape mismatch, non-numeric values or a bad step count.
    """
    if not hasattr(states, "items"):
        raise TypeError(f"{where}: expected a dict of name -> SolverState, "
                        f"got {type(states).__name__}")
    unknown = [k for k in states if k not in slots]
    if unknown:
        raise ValueError(f"{where}: no parameter registered as {unknown}; call "
                         f"set_parameters first (registered: {list(slots)})")
    return [_checked_state(k, st, slots[k], tuple(expected), solver_name, where)
            for k, st in states.items()]


def _checked_state(k, st, slot, expected, solver_name, where):
    pstate = getattr(st, "pstate", None)
    if pstate is None or not hasattr(pstate, "items"):
        raise TypeError(f"{where}: state of {k!r} has no pstate dict")
    extra = [n for n in pstate if n not in expected]
    missing = [n for n in expected if n not in pstate]
    if extra or missing:
        raise ValueError(f"{where}: state names of {k!r} are {sorted(pstate)}, "
                         f"{solver_name} expects {list(expected)}")
    values = OrderedDict()
    for n in expected:
        arr = _state_value(pstate[n], where)
        if tuple(arr.shape) != tuple(slot.states[n].shape):
            raise ValueError(f"{where}: state {k}/{n} has shape {tuple(arr.shape)}, "
                             f"expected {tuple(slot.states[n].shape)}")
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{where}: state {k}/{n} is not numeric ({arr.dtype})")
        values[n] = np.array(arr, np.float32)
    t = getattr(st, "t", None)
    try:
        t_int = int(np.asarray(t))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: step count t of {k!r} is not an integer: "
                         f"{t!r}") from None
    if t_int < 0 or t_int > T_MAX + 1:
        raise ValueError(f"{where}: step count t of {k!r} out of range: {t_int}")
    return slot, values, t_int


def write_checked_states(checked):
    """Write what ``checked_states`` returned into the slots (t clamped to T_MAX)."""
    for slot, values, t in checked:
        for n, arr in values.items():
            slot.states[n].data = arr
        slot.t = min(t, T_MAX)


# ---------------------------------------------------------------- h5
def write_states_h5(target, states):
    """Write {name: SolverState} to ``target`` (a path) in NNabla's h5 layout."""
    import h5py
    with h5py.File(target, "w") as hd:
        for i, (pname, state) in enumerate(states.items()):
            grp = hd.require_group(pname)
            grp.create_dataset("t", data=int(state.t))
            grp.attrs["index"] = i
            for j, (sname, var) in enumerate(state.pstate.items()):
                grp.create_dataset(sname, data=_host_f32(var))
                grp[sname].attrs["index"] = j


def read_states_h5(path, where):
    """{name: SolverState} from an NNabla solver-state h5 file, in saved order.

    ``where`` (the calling function) starts the ValueError raised for a file
    that is not a solver-state file.
    """
    import h5py
    try:
        with h5py.File(path, "r") as hd:
            found = _datasets_by_group(hd, h5py.Dataset)
            states = OrderedDict()
            for pname in _groups_in_saved_order(hd, found):
                states[pname] = _state_of_group(pname, found[pname])
    except _READ_ERRORS as e:
        raise ValueError(f"{where}: cannot read {path!r} as an NNabla solver state file "
                         f"({e})") from None
    return states


def _datasets_by_group(hd, dataset_type):
    """{group path: {dataset name: dataset}} of every dataset in the file."""
    found = {}

    def collect(name, obj):
        if isinstance(obj, dataset_type):
            if "/" not in name:
                raise ValueError(f"dataset {name!r} is not inside a parameter group")
            pname, key = name.rsplit("/", 1)
            found.setdefault(pname, {})[key] = obj
    hd.visititems(collect)
    return found


def _groups_in_saved_order(hd, found):
    """Group names sorted by their ``index`` attribute (groups without one last)."""
    order = []
    for pname, entries in found.items():
        if "t" not in entries:
            raise ValueError(f"parameter {pname!r} has no step count 't'")
        idx = hd[pname].attrs.get("index", None)
        order.append((idx is None, 0 if idx is None else int(idx), pname))
    return [pname for _, _, pname in sorted(order)]


def _state_of_group(pname, entries):
    """A SolverState from one group's datasets (states ordered by ``index``)."""
    pstate = OrderedDict()
    named = sorted((k for k in entries if k != "t"),
                   key=lambda k: int(entries[k].attrs.get("index", 0)))
    for k in named:
        pstate[k] = np.asarray(entries[k][...])
    t = np.asarray(entries["t"][...])
    if t.shape != () or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"step count of {pname!r} is not an integer scalar")
    return SolverState(pstate, int(t))


# ---------------------------------------------------------------- protobuf
def states_to_protobuf(states, optimizer):
    """Write {name: SolverState} into ``optimizer.solver.states`` (an Optimizer message)."""
    states_proto = optimizer.solver.states
    for pname, state in states.items():
        entry = states_proto[pname]
        entry.t = int(state.t)
        for sname, var in state.pstate.items():
            sp = entry.state_parameter[sname]
            sp.shape.dim.extend(var.shape)
            sp.data.extend(_host_f32(var).ravel().tolist())


def states_from_protobuf(optimizer, where):
    """{name: SolverState} (float32 numpy states) of an Optimizer message."""
    states = OrderedDict()
    for pname, sp in optimizer.solver.states.items():
        pstate = OrderedDict()
        for sname, p in sp.state_parameter.items():
            data = np.asarray(p.data, np.float32)
            shape = tuple(p.shape.dim)
            if data.size != int(np.prod(shape, dtype=np.int64)):
                raise ValueError(f"{where}: state {pname}/{sname} holds "
                                 f"{data.size} values for shape {shape}")
            pstate[sname] = data.reshape(shape)
        states[pname] = SolverState(pstate, int(sp.t))
    return states


def _read_optimizer(path, ext, where):
    """The Optimizer message of a binary (.protobuf) or text (.nntxt/.prototxt) file."""
    optimizer = nnabla_pb2.Optimizer()
    try:
        if ext == ".protobuf":
            with open(path, "rb") as f:
                optimizer.MergeFromString(f.read())
        else:
            with open(path, "r") as f:
                text_format.Merge(f.read(), optimizer)
    except Exception as e:  # noqa: BLE001 - any parse failure
        raise ValueError(f"{where}: cannot parse {path!r} ({e})") from None
    return optimizer


# ---------------------------------------------------------------- save / load
def save_states(path, states, solver_name):
    """Save {name: SolverState} to ``path`` (``.h5`` or ``.protobuf``), atomically."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1]
    if ext == ".h5":
        fh.atomic_write(path, lambda target: write_states_h5(target, states))
    elif ext == ".protobuf":
        optimizer = nnabla_pb2.Optimizer()
        states_to_protobuf(states, optimizer)
        fh.atomic_write(path, optimizer.SerializeToString())
    else:
        raise ValueError(f"{solver_name}.save_states: unsupported extension {ext!r} of "
                         f"{path!r}; use .h5 or .protobuf")
    logger.info(f"Solver state save ({ext}): {path}")


def load_states(path, apply, solver_name):
    """Read a file written by ``save_states`` (or NNabla) and pass its states to ``apply``.

    ``apply``: the solver's ``set_states``, given {name: SolverState}.
    ``.h5``, ``.protobuf``, ``.nntxt`` / ``.prototxt``; ValueError for any
    other extension (``.nnp`` files hold no solver states) or a bad file.
    """
    where = f"{solver_name}.load_states"
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no such file {path!r}")
    ext = os.path.splitext(path)[1]
    if ext == ".h5":
        apply(read_states_h5(path, where))
    elif ext in (".protobuf", ".nntxt", ".prototxt"):
        apply(states_from_protobuf(_read_optimizer(path, ext, where), where))
    elif ext == ".nnp":
        raise ValueError(f"{where}: .nnp files hold no solver states "
                         f"({path!r}); save them with save_states to .h5 or .protobuf")
    else:
        raise ValueError(f"{where}: unsupported extension {ext!r} of "
                         f"{path!r}; use .h5 or .protobuf")
    logger.info(f"State load ({ext}): {path}")
