"""Checkpoint files in NNabla's ``checkpoint_util`` layout (nnabla-examples ``neu``).

NNabla itself ships no ``nnabla.utils.checkpoint_util``; its examples'
``neu.checkpoint_util`` defines this API and file layout, reproduced here:
per iteration ``params_<iter>.h5`` (parameters), ``[<name>_]states_<iter>.h5``
(one solver-state file per solver, NNabla's ``save_states`` layout) and
``checkpoint_<iter>.json``::

    {"": {"states_path": "states_1000.h5", "params_names": [...], "num_update": 1000},
     "params_path": "params_1000.h5", "current_iter": 1000}

Every file is written under a temporary name and renamed, and the json goes
last: a checkpoint whose json exists is complete.
For orbax checkpoints see ``nnabla.checkpoint``.
"""
import json
import os
from collections import OrderedDict, deque

from .. import parameter
from .._solver_files import read_states_h5
from ..logger import logger
from ..solvers import Solver
from . import get_file_handle as fh

_kept = deque()


def _as_solver_dict(solvers, where):
    if isinstance(solvers, Solver):
        return OrderedDict([("", solvers)])
    if not isinstance(solvers, dict) or not all(isinstance(s, Solver) for s in solvers.values()):
        raise TypeError(f"{where}: solvers must be a Solver or a dict of {{name: Solver}}")
    return OrderedDict(solvers.items())


def save_checkpoint(path, current_iter, solvers, n_keeps=-1, split_h5_per_solver=False):
    """Save parameters, solver states and ``current_iter`` into directory ``path``.

    Args:
        path (str): directory receiving the files.
        current_iter (int): the iteration to resume from.
        solvers: a Solver, or a dict {name: Solver} (names prefix the state files).
        n_keeps (int): keep only the newest ``n_keeps`` checkpoints saved by
            this process (-1: keep all).
        split_h5_per_solver (bool): save each solver's parameters into its own
            ``<name>_params_<iter>.h5`` instead of one file of all parameters.
    """
    solvers = _as_solver_dict(solvers, "save_checkpoint")
    os.makedirs(path, exist_ok=True)
    info = OrderedDict()
    written = []
    for name, solver in solvers.items():
        prefix = name.replace("/", "_") + "_" if name else ""
        states_fname = f"{prefix}states_{current_iter}.h5"
        solver.save_states(os.path.join(path, states_fname))
        written.append(os.path.join(path, states_fname))
        params = solver.get_parameters()
        names = list(params)
        states = solver.get_states()
        entry = OrderedDict(states_path=states_fname, params_names=names,
                            num_update=int(states[names[0]].t) if names else 0)
        if split_h5_per_solver:
            pfname = f"{name}_params_{current_iter}.h5"
            parameter.save_parameters(os.path.join(path, pfname), params=params)
            written.append(os.path.join(path, pfname))
            entry["params_path"] = pfname
        info[name] = entry
    if not split_h5_per_solver:
        pfname = f"params_{current_iter}.h5"
        parameter.save_parameters(os.path.join(path, pfname))
        written.append(os.path.join(path, pfname))
        info["params_path"] = pfname
    info["current_iter"] = current_iter
    json_path = os.path.join(path, f"checkpoint_{current_iter}.json")

    def write(target):
        with open(target, "w") as f:
            json.dump(info, f)
    fh.atomic_write(json_path, write)
    written.append(json_path)
    logger.info(f"Checkpoint save (.json): {json_path}")
    if n_keeps > 0:
        _kept.append(written)
        while len(_kept) > n_keeps:
            for old in _kept.popleft():
                if os.path.exists(old):
                    os.remove(old)


def _full_path(path, base):
    if os.path.exists(path):
        return path
    joined = os.path.join(base, path)
    if os.path.exists(joined):
        return joined
    raise ValueError(f"load_checkpoint: file {path!r} not found (base directory {base!r})")


def load_checkpoint(path, solvers):
    """Load the checkpoint whose json is ``path``; return its ``current_iter``.

    The solvers must have their parameters set, under the names used when
    saving. Every solver-state file is read and checked before anything is
    written.
    """
    solvers = _as_solver_dict(solvers, "load_checkpoint")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_checkpoint: checkpoint file {path!r} not found")
    base = os.path.dirname(path)
    try:
        with open(path) as f:
            info = json.load(f)
        current_iter = info["current_iter"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"load_checkpoint: {path!r} is not a checkpoint json ({e})") from None
    logger.info(f"Checkpoint load (.json): {path}")
    plans = []
    for name, solver in solvers.items():
        if name not in info:
            raise ValueError(f"load_checkpoint: no solver {name!r} in {path!r}")
        entry = info[name]
        if set(solver.get_parameters()) != set(entry.get("params_names", [])):
            logger.warning("Detected parameters do not match.")
        states_path = _full_path(entry["states_path"], base)
        where = f"load_checkpoint ({states_path})"
        states = read_states_h5(states_path, where)
        plans.append((solver, solver._validated_states(states, where), entry))
    if "params_path" in info:
        parameter.load_parameters(_full_path(info["params_path"], base))
    for _, _, entry in plans:
        if "params_path" in entry:
            parameter.load_parameters(_full_path(entry["params_path"], base))
    for solver, checked, _ in plans:
        solver._write_states(checked)
    return current_iter
