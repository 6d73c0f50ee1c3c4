"""Training checkpoints with orbax-checkpoint: parameters, solver states, iteration.

``save_checkpoint(directory, solvers, iteration)`` writes one checkpoint per
iteration under ``directory/<iteration>/``; ``load_checkpoint(directory,
solvers)`` restores the newest complete one and returns its iteration, so a
resumed run continues exactly (bit for bit) where the saved one was.

A checkpoint is never half taken: orbax writes it into a temporary directory
and renames it when complete, and nnjax then writes a marker file
(``NNJAX_CHECKPOINT_COMPLETE``) last. Directories without the marker (an
interrupted save, a partial copy) are ignored by ``load_checkpoint`` and
``latest_iteration``.

Layout: an orbax Composite of ``state`` (a flat dict of numpy arrays:
parameters, per-solver states and step counts) and ``meta`` (JSON: names,
shapes, solver types, the iteration).
"""
import json
import os
from collections import OrderedDict

import numpy as np

from . import parameter
from ._solver_files import SolverState
from ._variable import Variable
from .solvers import Solver

MARKER = "NNJAX_CHECKPOINT_COMPLETE"
_FORMAT = "nnjax-checkpoint"
_VERSION = 1


def _solver_map(solvers):
    if solvers is None:
        return OrderedDict()
    if isinstance(solvers, Solver):
        return OrderedDict([("", solvers)])
    if isinstance(solvers, dict):
        out = OrderedDict()
        for k, s in solvers.items():
            if not isinstance(k, str) or not isinstance(s, Solver):
                raise TypeError("checkpoint: solvers must be a Solver, a dict of "
                                "{str: Solver} or a list of Solvers")
            out[k] = s
        return out
    if isinstance(solvers, (list, tuple)):
        if not all(isinstance(s, Solver) for s in solvers):
            raise TypeError("checkpoint: solvers must be a Solver, a dict of "
                            "{str: Solver} or a list of Solvers")
        return OrderedDict((str(i), s) for i, s in enumerate(solvers))
    raise TypeError(f"checkpoint: solvers must be a Solver, a dict or a list, "
                    f"got {type(solvers).__name__}")


def _param_map(params):
    if params is None:
        return parameter.get_parameters(grad_only=False)
    if not hasattr(params, "items"):
        raise TypeError(f"checkpoint: params must be a dict of name -> Variable, "
                        f"got {type(params).__name__}")
    for k, v in params.items():
        if not isinstance(v, Variable):
            raise TypeError(f"checkpoint: params[{k!r}] is not a Variable")
    return OrderedDict(params.items())


def _manager(directory, max_to_keep=None, create=True):
    import orbax.checkpoint as ocp
    options = ocp.CheckpointManagerOptions(enable_async_checkpointing=False,
                                           max_to_keep=max_to_keep, create=create)
    return ocp.CheckpointManager(os.path.abspath(os.fspath(directory)), options=options)


def _host(arr):
    return np.array(arr.get_data("r"), copy=True)


def save_checkpoint(directory, solvers, iteration, params=None, max_to_keep=None):
    """Save parameters, solver states and ``iteration`` as one checkpoint.

    Args:
        directory (str): checkpoint root; the checkpoint goes to
            ``directory/<iteration>``.
        solvers: a Solver, a dict {name: Solver} or a list of Solvers (or None).
        iteration (int): the training iteration to resume from.
        params (dict): {name: Variable} to save; default: every parameter of
            the current parameter scope.
        max_to_keep (int): keep only this many newest checkpoints (default: all).

    Returns:
        str: the checkpoint's directory.
    """
    import orbax.checkpoint as ocp
    iteration = int(iteration)
    if iteration < 0:
        raise ValueError(f"save_checkpoint: iteration must be >= 0, got {iteration}")
    solver_map = _solver_map(solvers)
    param_map = _param_map(params)
    tree = {"iteration": np.array(iteration, np.int64)}
    meta = {"format": _FORMAT, "version": _VERSION, "iteration": iteration,
            "params": [], "solvers": []}
    for i, (name, var) in enumerate(param_map.items()):
        value = _host(var.data)
        tree[f"param_{i:06d}"] = value
        meta["params"].append({"name": name, "shape": list(value.shape),
                               "dtype": value.dtype.str, "need_grad": bool(var.need_grad)})
    for si, (skey, solver) in enumerate(solver_map.items()):
        entry = {"key": skey, "type": solver.name, "params": []}
        for pi, (pname, state) in enumerate(solver.get_states().items()):
            prefix = f"solver_{si:03d}_{pi:06d}"
            tree[f"{prefix}_t"] = np.array(state.t, np.int64)
            snames = list(state.pstate)
            for j, sname in enumerate(snames):
                tree[f"{prefix}_state_{j:03d}"] = _host(state.pstate[sname].data)
            entry["params"].append({"name": pname, "states": snames})
        meta["solvers"].append(entry)
    directory = os.path.abspath(os.fspath(directory))
    step_dir = os.path.join(directory, str(iteration))
    mgr = _manager(directory, max_to_keep)
    try:
        if os.path.exists(step_dir):
            # Re-saving an iteration replaces it: drop the marker first so a
            # crash in between leaves no complete-looking mix.
            marker = os.path.join(step_dir, MARKER)
            if os.path.exists(marker):
                os.remove(marker)
            mgr.delete(iteration)
        mgr.save(iteration, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                                    meta=ocp.args.JsonSave(meta)),
                 force=True)
        mgr.wait_until_finished()
    finally:
        mgr.close()
    _write_marker(step_dir, iteration)
    return step_dir


def _write_marker(step_dir, iteration):
    tmp = os.path.join(step_dir, MARKER + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"iteration": iteration}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(step_dir, MARKER))


def all_iterations(directory):
    """Iterations of the complete checkpoints under ``directory``, ascending."""
    directory = os.path.abspath(os.fspath(directory))
    if not os.path.isdir(directory):
        return []
    out = []
    for name in os.listdir(directory):
        if name.isdigit() and os.path.isfile(os.path.join(directory, name, MARKER)):
            out.append(int(name))
    return sorted(out)


def latest_iteration(directory):
    """The newest complete checkpoint's iteration, or None."""
    its = all_iterations(directory)
    return its[-1] if its else None


def load_checkpoint(directory, solvers, params=None, iteration=None):
    """Restore parameters and solver states; return the checkpoint's iteration.

    Args:
        directory (str): the root given to ``save_checkpoint``.
        solvers: the same structure as saved (Solver, dict or list), with
            their parameters already set (``set_parameters``).
        params (dict): {name: Variable} to restore into; default: the
            parameters of the current scope (created when missing).
        iteration (int): which checkpoint; default: the newest complete one.

    Everything is read and checked (names, shapes, solver types) before any
    value is written: on an error nothing changes.
    """
    import orbax.checkpoint as ocp
    directory = os.path.abspath(os.fspath(directory))
    if iteration is None:
        iteration = latest_iteration(directory)
        if iteration is None:
            raise FileNotFoundError(f"load_checkpoint: no complete checkpoint under "
                                    f"{directory!r}")
    iteration = int(iteration)
    step_dir = os.path.join(directory, str(iteration))
    if not os.path.isfile(os.path.join(step_dir, MARKER)):
        raise FileNotFoundError(f"load_checkpoint: no complete checkpoint for iteration "
                                f"{iteration} under {directory!r}")
    mgr = _manager(directory, create=False)
    try:
        restored = mgr.restore(iteration, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
    except Exception as e:  # noqa: BLE001 - any orbax/tensorstore failure
        raise ValueError(f"load_checkpoint: cannot read the checkpoint {step_dir!r} "
                         f"({type(e).__name__}: {e})") from None
    finally:
        mgr.close()
    tree, meta = restored.state, restored.meta
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"load_checkpoint: {step_dir!r} is not an nnjax checkpoint")

    # ---- check everything first
    solver_map = _solver_map(solvers)
    saved_solvers = {e["key"]: (si, e) for si, e in enumerate(meta["solvers"])}
    if set(saved_solvers) != set(solver_map):
        raise ValueError(f"load_checkpoint: the checkpoint holds solvers "
                         f"{sorted(saved_solvers)}, given {sorted(solver_map)}")
    solver_plans = []
    for skey, solver in solver_map.items():
        si, entry = saved_solvers[skey]
        if entry["type"] != solver.name:
            raise ValueError(f"load_checkpoint: solver {skey!r} was a {entry['type']}, "
                             f"given a {solver.name}")
        states = OrderedDict()
        for pi, p in enumerate(entry["params"]):
            prefix = f"solver_{si:03d}_{pi:06d}"
            pstate = OrderedDict((s, tree[f"{prefix}_state_{j:03d}"])
                                 for j, s in enumerate(p["states"]))
            states[p["name"]] = SolverState(pstate, int(tree[f"{prefix}_t"]))
        checked = solver._validated_states(states, f"load_checkpoint (solver {skey!r})")
        solver_plans.append((solver, checked))

    saved_params = OrderedDict((p["name"], (i, p)) for i, p in enumerate(meta["params"]))
    param_plans = []
    if params is not None:
        targets = _param_map(params)
        missing = [k for k in targets if k not in saved_params]
        if missing:
            raise ValueError(f"load_checkpoint: parameters {missing} are not in the checkpoint")
        for name, var in targets.items():
            i, _ = saved_params[name]
            value = tree[f"param_{i:06d}"]
            if tuple(var.shape) != tuple(value.shape):
                raise ValueError(f"load_checkpoint: parameter {name!r} has shape "
                                 f"{tuple(value.shape)} in the checkpoint, {tuple(var.shape)} "
                                 f"given")
            param_plans.append((var, value, None))
    else:
        for name, (i, p) in saved_params.items():
            value = tree[f"param_{i:06d}"]
            var = parameter.get_parameter(name)
            if var is not None and tuple(var.shape) != tuple(value.shape):
                raise ValueError(f"load_checkpoint: parameter {name!r} has shape "
                                 f"{tuple(value.shape)} in the checkpoint, the existing one "
                                 f"{tuple(var.shape)}")
            param_plans.append((var, value, (name, p["need_grad"])))

    # ---- then write
    for var, value, create in param_plans:
        if var is None:
            name, need_grad = create
            var = parameter.get_parameter_or_create(name, value.shape, need_grad=need_grad)
        var.data.cast(value.dtype)
        var.data.data = value
    for solver, checked in solver_plans:
        solver._write_states(checked)
    return int(meta["iteration"])
