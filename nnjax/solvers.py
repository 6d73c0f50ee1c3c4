"""Solvers, as ``nnabla.solvers`` (and the ``Solver`` API of ``nnabla.solver``).

A Solver keeps parameters (Variables, by the names given to
``set_parameters``) and per-parameter state: NdArrays named as NNabla names
them plus a step count ``t``. ``update``, ``weight_decay``,
``clip_grad_by_norm`` and ``scale_grad`` queue ops that run inside the same
compiled program as the forward and backward of the step; hyperparameters
(learning rate, weight decay rate, ...) are program arguments, so changing
them does not recompile.

As in NNabla, every gradient operation skips a parameter whose gradient was
zeroed by ``zero_grad`` and not written since (its ``t`` does not advance).

Weight decay: most solvers add ``decay_rate * w`` to the gradient when
``weight_decay`` is called. SgdW, AdamW, Lars, Lamb, Lion (and AdaBelief with
``weight_decouple=True``) fuse the decay into the update instead
(``weight_decay_is_fused()``): ``weight_decay(rate)`` only sets the rate used
by the next ``update()``, after which it returns to the default (the ``wd``
given to the constructor, else 0).
"""
import os
from collections import OrderedDict

import jax.numpy as jnp
import numpy as np

from . import _queue as _executor  # transitional: solver split pending
from . import _solver_rules as rules
from ._ndarray import NdArray
from ._variable import Variable

_T_MAX = np.iinfo(np.int32).max - 1


def _f32(x):
    """A Python float holding the float32 value of ``x`` (NNabla keeps C floats)."""
    return float(np.float32(x))


class SolverState:
    """One parameter's solver state: ``pstate`` {name: Variable} and step count ``t``."""

    def __init__(self, pstate=None, t=0):
        self.pstate = pstate if pstate is not None else OrderedDict()
        self.t = t

    def __repr__(self):
        return f"SolverState(pstate={list(self.pstate)}, t={self.t})"


class _Slot:
    __slots__ = ("param", "states", "t")

    def __init__(self, param, states, t):
        self.param = param
        self.states = states
        self.t = t


def _device_zeros(shape, dtype=np.float32):
    return NdArray._from_device(jnp.zeros(shape, dtype), np.dtype(dtype))


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


class Solver:
    """Solver interface class (``nnabla.solver.Solver``).

    Solvers are created by the functions of this module (``Sgd(lr)``,
    ``Adam(alpha, ...)``, ...); the base class is never instantiated itself.

    Example::

        solver = S.Adam(1e-3)
        solver.set_parameters(nn.get_parameters())
        for i in range(n):
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.weight_decay(1e-4)
            solver.update()
    """

    name = "Solver"

    def _setup(self, info, rule, hyper, lr_name, fused_wd=None, static=()):
        """Called by each concrete solver's constructor.

        info: constructor arguments (``solver.info``); rule: a SolverRule;
        hyper: float hyperparameters read by the rule; lr_name: which of them
        ``learning_rate()`` is; fused_wd: default weight decay rate if the
        decay is fused into the update, else None; static: compile-key part.
        """
        self.info = info
        self._rule_obj = rule
        self._hyper = OrderedDict((k, _f32(v)) for k, v in hyper.items())
        self._lr_name = lr_name
        self._fused_default = None if fused_wd is None else _f32(fused_wd)
        self._wd_rate = self._fused_default
        self._static = tuple(static)
        self._slots = OrderedDict()

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.info.items())
        return f"{self.name}({args})"

    # ------------------------------------------------------------ rates
    def learning_rate(self):
        """The current learning rate."""
        return self._hyper[self._lr_name]

    def set_learning_rate(self, learning_rate):
        """Set the learning rate (a program argument: no recompilation)."""
        self._hyper[self._lr_name] = _f32(learning_rate)

    def weight_decay_is_fused(self):
        """True if ``weight_decay`` only sets the rate the next ``update`` applies."""
        return self._fused_default is not None

    # ------------------------------------------------------------ parameters
    def setup(self, params):
        """Deprecated: call ``set_parameters`` with a dict."""
        raise RuntimeError("Deprecated. Call set_parameters(param_dict).")

    def set_parameters(self, param_dict, reset=True, retain_state=False):
        """Register parameters given as {name: Variable}.

        Args:
            param_dict (dict): name -> Variable.
            reset (bool): forget every parameter (and state) set before.
            retain_state (bool): only with ``reset=False``: a name already
                present keeps its state (the shapes must match); otherwise its
                state starts over.
        """
        if not hasattr(param_dict, "items"):
            raise TypeError(f"{self.name}.set_parameters: expected a dict of name -> Variable, "
                            f"got {type(param_dict).__name__}")
        items = list(param_dict.items())
        for k, v in items:
            if not isinstance(k, str):
                raise TypeError(f"{self.name}.set_parameters: parameter names must be str, "
                                f"got {type(k).__name__}")
            if not isinstance(v, Variable):
                raise TypeError(f"{self.name}.set_parameters: {k!r} is not a Variable "
                                f"({type(v).__name__})")
        if reset:
            self._slots.clear()
        elif retain_state:
            for k, v in items:
                old = self._slots.get(k)
                if old is not None and tuple(old.param.shape) != tuple(v.shape):
                    raise ValueError(f"{self.name}.set_parameters: could not retain the state "
                                     f"of {k!r}: shape {tuple(v.shape)} differs from the "
                                     f"registered {tuple(old.param.shape)}")
        for k, v in items:
            old = self._slots.get(k)
            if old is not None and retain_state and not reset:
                old.param = v
                continue
            self._slots[k] = self._new_slot(v)

    def _new_slot(self, param):
        states = OrderedDict((n, _device_zeros(param.shape))
                             for n in self._rule_obj.state_names)
        return _Slot(param, states, _device_zeros((), np.int32))

    def remove_parameters(self, keys):
        """Forget the parameters (and their states) named in ``keys``."""
        for k in keys:
            self._slots.pop(k, None)

    def clear_parameters(self):
        """Forget every registered parameter and state."""
        self._slots.clear()

    def get_parameters(self):
        """{name: Variable} of the registered parameters."""
        return OrderedDict((k, s.param) for k, s in self._slots.items())

    def zero_grad(self):
        """Set every registered gradient to zero (lazily)."""
        for s in self._slots.values():
            s.param._buffers.grad.zero()

    # ------------------------------------------------------------ updates
    def _active(self):
        """Slots whose gradient was written since the last zero_grad."""
        return [(k, s) for k, s in self._slots.items() if not s.param._buffers.grad._zeroed]

    def _hyper_operand(self):
        names = tuple(self._hyper)
        values = [self._hyper[n] for n in names]
        if self._fused_default is not None:
            names += ("wd",)
            values.append(self._wd_rate)
        return names, np.array(values, np.float32)

    def update(self, update_pre_hook=None, update_post_hook=None):
        """Update every parameter whose gradient was written since ``zero_grad``.

        ``update_pre_hook`` / ``update_post_hook``: callables without
        arguments, called before / after each parameter's update (the
        per-parameter path runs each update at once instead of fusing them).
        """
        active = self._active()
        try:
            if update_pre_hook is None and update_post_hook is None:
                if active:
                    _executor.enqueue(self._update_op(active))
                return
            for item in active:
                _executor.flush()
                if update_pre_hook is not None:
                    update_pre_hook()
                _executor.run_now(self._update_op([item]))
                if update_post_hook is not None:
                    update_post_hook()
        finally:
            self._wd_rate = self._fused_default

    def _update_op(self, active):
        hyper_names, hyper = self._hyper_operand()
        # one template per set of active parameters: the step's flush layout is then cached
        ckey = (hyper_names,) + tuple((k, id(s), id(s.param)) for k, s in active)
        cache = self.__dict__.setdefault("_update_templates", {})
        template = cache.get(ckey)
        if template is None:
            if len(cache) > 64:
                cache.clear()
            template = cache[ckey] = self._update_template(active, hyper_names)
        return _executor.Op(template=template, operands=(hyper,))

    def _update_template(self, active, hyper_names):
        names = self._rule_obj.state_names
        update = self._rule_obj.update
        reads, writes = [], []
        for _, s in active:
            reads += [s.param._buffers.data, s.param._buffers.grad, s.t]
            reads += [s.states[n] for n in names]
            writes += [s.param._buffers.data, s.t] + [s.states[n] for n in names]
        key = ("update", self.name, self._static, hyper_names, names, len(active))
        per = 3 + len(names)

        def build():
            def run(values, operands):
                h = {n: operands[0][i] for i, n in enumerate(hyper_names)}
                out = []
                for i in range(len(values) // per):
                    p, g, t = values[i * per:i * per + 3]
                    st = dict(zip(names, values[i * per + 3:(i + 1) * per]))
                    t = jnp.where(t < _T_MAX, t + 1, t)
                    new_p, new_st = update(p, g.astype(p.dtype), st, t, h)
                    out += [new_p.astype(p.dtype), t]
                    out += [new_st[n].astype(st[n].dtype) for n in names]
                return out
            return run

        return _executor.Template(key, reads, writes, build, "update", reusable=True)

    def _grad_op(self, tag, fn, scalar, with_param, active):
        reads, writes = [], []
        for _, s in active:
            if with_param:
                reads.append(s.param._buffers.data)
            reads.append(s.param._buffers.grad)
            writes.append(s.param._buffers.grad)
        key = (tag, len(active), with_param)
        step = 2 if with_param else 1

        def build():
            def run(values, operands):
                c = operands[0]
                if with_param:
                    return [fn(g, c.astype(g.dtype), p.astype(g.dtype))
                            for p, g in zip(values[0::step], values[1::step])]
                return [fn(g, c.astype(g.dtype), None) for g in values]
            return run

        return _executor.Op(key, reads, writes, build, (np.float32(scalar),), kind="update")

    def _run_grad_op(self, tag, fn, scalar, with_param, pre_hook, post_hook):
        active = self._active()
        if not active:
            return
        if pre_hook is None and post_hook is None:
            _executor.enqueue(self._grad_op(tag, fn, scalar, with_param, active))
            return
        for item in active:
            _executor.flush()
            if pre_hook is not None:
                pre_hook()
            _executor.run_now(self._grad_op(tag, fn, scalar, with_param, [item]))
            if post_hook is not None:
                post_hook()

    def weight_decay(self, decay_rate, pre_hook=None, post_hook=None):
        """Weight decay with coefficient ``decay_rate``.

        Unfused solvers add ``decay_rate * w`` to each fresh gradient now.
        Fused ones (``weight_decay_is_fused()``) store the rate for the next
        ``update()`` (then it reverts to the default).
        """
        decay_rate = _f32(decay_rate)
        if self._fused_default is not None:
            self._wd_rate = decay_rate
            return
        if decay_rate == 0:
            return
        self._run_grad_op("weight_decay", lambda g, c, p: g + c * p, decay_rate, True,
                          pre_hook, post_hook)

    def clip_grad_by_norm(self, clip_norm, pre_hook=None, post_hook=None):
        """Rescale each gradient whose L2 norm exceeds ``clip_norm`` to that norm."""
        clip_norm = _f32(clip_norm)
        if clip_norm == 0:
            return

        def clip(g, c, p):
            sq = jnp.sum(g * g)
            scaled = c * g / jnp.sqrt(jnp.where(sq > 0, sq, 1))
            return jnp.where((sq > 0) & (sq > c * c), scaled, g)
        self._run_grad_op("clip_grad_by_norm", clip, clip_norm, False, pre_hook, post_hook)

    def scale_grad(self, scale, pre_hook=None, post_hook=None):
        """Multiply every fresh gradient by ``scale`` (mixed precision training)."""
        self._run_grad_op("scale_grad", lambda g, c, p: g * c, _f32(scale), False,
                          pre_hook, post_hook)

    def _check(self, kind, pre_hook, post_hook):
        tests = {"inf": jnp.isinf, "nan": jnp.isnan,
                 "inf_or_nan": lambda g: ~jnp.isfinite(g)}
        test = tests[kind]
        active = self._active()
        if not active:
            return False
        if pre_hook is not None or post_hook is not None:
            for _, s in active:
                _executor.flush()
                if pre_hook is not None:
                    pre_hook()
                g = np.asarray(s.param.grad.get_data("r"))
                if post_hook is not None:
                    post_hook()
                if bool(np.any(np.asarray(test(g)))):
                    return True
            return False
        # One fused device-side reduction; only a scalar comes back to the host.
        flag = NdArray((), np.int32)
        reads = [s.param._buffers.grad for _, s in active]

        def build():
            def run(values, operands):
                hit = jnp.zeros((), bool)
                for g in values:
                    if jnp.issubdtype(g.dtype, jnp.inexact):
                        hit = hit | jnp.any(test(g))
                return [hit.astype(jnp.int32)]
            return run
        _executor.enqueue(_executor.Op(("check_grad", kind, len(reads)), reads, [flag],
                                       build, (), kind="update"))
        return bool(np.asarray(flag.data))

    def check_inf_grad(self, pre_hook=None, post_hook=None):
        """True if a fresh gradient holds an inf."""
        return self._check("inf", pre_hook, post_hook)

    def check_nan_grad(self, pre_hook=None, post_hook=None):
        """True if a fresh gradient holds a NaN."""
        return self._check("nan", pre_hook, post_hook)

    def check_inf_or_nan_grad(self, pre_hook=None, post_hook=None):
        """True if a fresh gradient holds an inf or a NaN."""
        return self._check("inf_or_nan", pre_hook, post_hook)

    # ------------------------------------------------------------ states
    def get_states(self):
        """{name: SolverState}; the state Variables share the solver's buffers."""
        out = OrderedDict()
        for k, s in self._slots.items():
            pstate = OrderedDict()
            for n, arr in s.states.items():
                v = Variable(arr.shape)
                v.data = arr
                pstate[n] = v
            out[k] = SolverState(pstate, int(np.asarray(s.t.get_data("r"))))
        return out

    def _validated_states(self, states, where):
        """Check {name: SolverState} against the registered parameters; host values."""
        if not hasattr(states, "items"):
            raise TypeError(f"{where}: expected a dict of name -> SolverState, "
                            f"got {type(states).__name__}")
        expected = tuple(self._rule_obj.state_names)
        checked = []
        unknown = [k for k in states if k not in self._slots]
        if unknown:
            raise ValueError(f"{where}: no parameter registered as {unknown}; call "
                             f"set_parameters first (registered: {list(self._slots)})")
        for k, st in states.items():
            pstate = getattr(st, "pstate", None)
            if pstate is None or not hasattr(pstate, "items"):
                raise TypeError(f"{where}: state of {k!r} has no pstate dict")
            extra = [n for n in pstate if n not in expected]
            missing = [n for n in expected if n not in pstate]
            if extra or missing:
                raise ValueError(f"{where}: state names of {k!r} are {sorted(pstate)}, "
                                 f"{self.name} expects {list(expected)}")
            slot = self._slots[k]
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
            if t_int < 0 or t_int > _T_MAX + 1:
                raise ValueError(f"{where}: step count t of {k!r} out of range: {t_int}")
            checked.append((slot, values, t_int))
        return checked

    def set_states(self, states):
        """Set states from {name: SolverState}.

        Every entry is checked (registered name, state names, shapes, t)
        before any is written: on an error the solver's state is untouched.
        """
        self._write_states(self._validated_states(states, f"{self.name}.set_states"))

    @staticmethod
    def _write_states(checked):
        for slot, values, t in checked:
            for n, arr in values.items():
                slot.states[n].data = arr
            slot.t.data = np.asarray(min(t, _T_MAX), np.int32)

    def save_states(self, path):
        """Save the states to ``.h5`` (as NNabla lays it out) or ``.protobuf``.

        h5: one group per parameter name holding dataset ``t`` and one
        dataset per state, with ``index`` attributes keeping the order.
        The file is written under a temporary name and renamed.
        """
        from .parameter import _atomic_write
        from .logger import logger
        path = os.fspath(path)
        ext = os.path.splitext(path)[1]
        states = self.get_states()
        if ext == ".h5":
            import h5py

            def write(target):
                with h5py.File(target, "w") as hd:
                    for i, (pname, state) in enumerate(states.items()):
                        grp = hd.require_group(pname)
                        grp.create_dataset("t", data=int(state.t))
                        grp.attrs["index"] = i
                        for j, (sname, var) in enumerate(state.pstate.items()):
                            value = np.asarray(var.data.get_data("r"), np.float32)
                            grp.create_dataset(sname, data=value)
                            grp[sname].attrs["index"] = j
        elif ext == ".protobuf":
            pb2 = _nnabla_pb2(f"{self.name}.save_states")
            optimizer = pb2.Optimizer()
            self.set_states_to_protobuf(optimizer)

            def write(target):
                with open(target, "wb") as f:
                    f.write(optimizer.SerializeToString())
        else:
            raise ValueError(f"{self.name}.save_states: unsupported extension {ext!r} of "
                             f"{path!r}; use .h5 or .protobuf")
        _atomic_write(path, write)
        logger.info(f"Solver state save ({ext}): {path}")

    def set_states_to_protobuf(self, optimizer):
        """Write the states into ``optimizer.solver.states`` (an NNabla Optimizer message)."""
        states_proto = optimizer.solver.states
        for pname, state in self.get_states().items():
            entry = states_proto[pname]
            entry.t = int(state.t)
            for sname, var in state.pstate.items():
                sp = entry.state_parameter[sname]
                sp.shape.dim.extend(var.shape)
                sp.data.extend(np.asarray(var.data.get_data("r"), np.float32).ravel().tolist())

    def load_states(self, path):
        """Load states saved by ``save_states`` (``.h5``, ``.protobuf``, ``.nntxt``).

        Raises ValueError for an unreadable file, a name not registered, a
        missing state or a shape mismatch; the current state is then kept.
        """
        from .logger import logger
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{self.name}.load_states: no such file {path!r}")
        ext = os.path.splitext(path)[1]
        if ext == ".h5":
            self.set_states(_read_states_h5(path, f"{self.name}.load_states"))
        elif ext in (".protobuf", ".nntxt", ".prototxt"):
            pb2 = _nnabla_pb2(f"{self.name}.load_states")
            optimizer = pb2.Optimizer()
            try:
                if ext == ".protobuf":
                    with open(path, "rb") as f:
                        optimizer.MergeFromString(f.read())
                else:
                    from google.protobuf import text_format
                    with open(path, "r") as f:
                        text_format.Merge(f.read(), optimizer)
            except Exception as e:  # noqa: BLE001 - any parse failure
                raise ValueError(f"{self.name}.load_states: cannot parse {path!r} ({e})") from None
            self.set_states_from_protobuf(optimizer)
        elif ext == ".nnp":
            raise ValueError(f"{self.name}.load_states: .nnp files hold no solver states "
                             f"({path!r}); save them with save_states to .h5 or .protobuf")
        else:
            raise ValueError(f"{self.name}.load_states: unsupported extension {ext!r} of "
                             f"{path!r}; use .h5 or .protobuf")
        logger.info(f"State load ({ext}): {path}")

    def set_states_from_protobuf(self, optimizer_proto):
        """Set the states from an NNabla Optimizer message."""
        states = OrderedDict()
        for pname, sp in optimizer_proto.solver.states.items():
            pstate = OrderedDict()
            for sname, p in sp.state_parameter.items():
                data = np.asarray(p.data, np.float32)
                shape = tuple(p.shape.dim)
                if data.size != int(np.prod(shape, dtype=np.int64)):
                    raise ValueError(f"{self.name}.load_states: state {pname}/{sname} holds "
                                     f"{data.size} values for shape {shape}")
                pstate[sname] = data.reshape(shape)
            states[pname] = SolverState(pstate, int(sp.t))
        self.set_states(states)


def _nnabla_pb2(where):
    from .utils import nnabla_pb2
    return nnabla_pb2


def _read_states_h5(path, where):
    """{name: SolverState} from an NNabla solver-state h5 file, in saved order."""
    import h5py
    try:
        with h5py.File(path, "r") as hd:
            found = {}

            def collect(name, obj):
                if isinstance(obj, h5py.Dataset):
                    if "/" not in name:
                        raise ValueError(f"dataset {name!r} is not inside a parameter group")
                    pname, key = name.rsplit("/", 1)
                    found.setdefault(pname, {})[key] = obj
            hd.visititems(collect)
            order = []
            for pname, entries in found.items():
                if "t" not in entries:
                    raise ValueError(f"parameter {pname!r} has no step count 't'")
                idx = hd[pname].attrs.get("index", None)
                order.append((idx is None, 0 if idx is None else int(idx), pname))
            states = OrderedDict()
            for _, _, pname in sorted(order):
                entries = found[pname]
                pstate = OrderedDict()
                named = sorted((k for k in entries if k != "t"),
                               key=lambda k: int(entries[k].attrs.get("index", 0)))
                for k in named:
                    pstate[k] = np.asarray(entries[k][...])
                t = np.asarray(entries["t"][...])
                if t.shape != () or not np.issubdtype(t.dtype, np.integer):
                    raise ValueError(f"step count of {pname!r} is not an integer scalar")
                states[pname] = SolverState(pstate, int(t))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{where}: cannot read {path!r} as an NNabla solver state file "
                         f"({e})") from None
    return states


# ---------------------------------------------------------------- solvers
def _info(**kw):
    return OrderedDict((k, bool(v) if isinstance(v, bool) else _f32(v)) for k, v in kw.items())


class Sgd(Solver):
    """Stochastic gradient descent: ``w <- w - lr g``.

    Args:
        lr (float): learning rate.
    """

    name = "Sgd"

    def __init__(self, lr=1e-3):
        self._setup(_info(lr=lr), rules.sgd(), dict(lr=lr), "lr")


class SgdW(Solver):
    """Momentum SGD with decoupled weight decay (fused).

    ``m <- momentum m + lr g``; ``w <- w - m - (lr / lr_0) wd w``, with
    ``lr_0`` the constructor's ``lr`` and ``wd`` the default decay rate (or
    the rate given to ``weight_decay`` for the next update).
    """

    name = "SgdW"

    def __init__(self, lr=1e-3, momentum=0.9, wd=1e-4):
        self._setup(_info(lr=lr, momentum=momentum, wd=wd), rules.sgdw(),
                    dict(lr=lr, momentum=momentum, init_lr=lr), "lr", fused_wd=wd)


class Momentum(Solver):
    """SGD with momentum: ``v <- momentum v + lr g``; ``w <- w - v``."""

    name = "Momentum"

    def __init__(self, lr=1e-3, momentum=0.9):
        self._setup(_info(lr=lr, momentum=momentum), rules.momentum(),
                    dict(lr=lr, momentum=momentum), "lr")


class Lars(Solver):
    """LARS with momentum; the weight decay rate is fused (default 0).

    ``local_lr = lr * coefficient * ||w|| / (||g|| + wd ||w||)`` (``lr`` when
    ``||w|| < eps``); ``v <- momentum v + local_lr (g + wd w)``; ``w <- w - v``.
    """

    name = "Lars"

    def __init__(self, lr=1e-3, momentum=0.9, coefficient=0.001, eps=1e-6):
        self._setup(_info(lr=lr, momentum=momentum, coefficient=coefficient, eps=eps),
                    rules.lars(),
                    dict(lr=lr, momentum=momentum, coefficient=coefficient, eps=eps),
                    "lr", fused_wd=0.0)


class Nesterov(Solver):
    """Nesterov accelerated gradient.

    ``v <- momentum v - lr g``; ``w <- w - momentum v_prev + (1 + momentum) v``.
    """

    name = "Nesterov"

    def __init__(self, lr=1e-3, momentum=0.9):
        self._setup(_info(lr=lr, momentum=momentum), rules.nesterov(),
                    dict(lr=lr, momentum=momentum), "lr")


class Adadelta(Solver):
    """AdaDelta (states ``e_sqr_grad``, ``e_sqr_delta``)."""

    name = "Adadelta"

    def __init__(self, lr=1.0, decay=0.95, eps=1e-6):
        self._setup(_info(lr=lr, decay=decay, eps=eps), rules.adadelta(),
                    dict(lr=lr, decay=decay, eps=eps), "lr")


class Adagrad(Solver):
    """AdaGrad: ``G <- G + g^2``; ``w <- w - lr g / (sqrt(G) + eps)`` (state ``v``)."""

    name = "Adagrad"

    def __init__(self, lr=1e-2, eps=1e-8):
        self._setup(_info(lr=lr, eps=eps), rules.adagrad(), dict(lr=lr, eps=eps), "lr")


class AdaBelief(Solver):
    """AdaBelief; with ``weight_decouple`` the decay is fused with default ``wd``."""

    name = "AdaBelief"

    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.0, amsgrad=False,
                 weight_decouple=False, fixed_decay=False, rectify=False):
        flags = (bool(amsgrad), bool(weight_decouple), bool(fixed_decay), bool(rectify))
        self._setup(_info(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, wd=wd,
                          amsgrad=flags[0], weight_decouple=flags[1],
                          fixed_decay=flags[2], rectify=flags[3]),
                    rules.adabelief(*flags),
                    dict(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps), "alpha",
                    fused_wd=wd if weight_decouple else None, static=flags)


class RMSprop(Solver):
    """RMSprop: ``v <- decay v + (1 - decay) g^2``; ``w <- w - lr g / (sqrt(v) + eps)``."""

    name = "RMSprop"

    def __init__(self, lr=1e-3, decay=0.9, eps=1e-8):
        self._setup(_info(lr=lr, decay=decay, eps=eps), rules.rmsprop(),
                    dict(lr=lr, decay=decay, eps=eps), "lr")


class RMSpropGraves(Solver):
    """RMSprop as in Graves (2013), with momentum (states ``n``, ``g``, ``d``)."""

    name = "RMSpropGraves"

    def __init__(self, lr=1e-4, decay=0.95, momentum=0.9, eps=1e-4):
        self._setup(_info(lr=lr, decay=decay, momentum=momentum, eps=eps),
                    rules.rmsprop_graves(),
                    dict(lr=lr, decay=decay, momentum=momentum, eps=eps), "lr")


class Adam(Solver):
    """Adam: ``w <- w - alpha sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``."""

    name = "Adam"

    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self._setup(_info(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps), rules.adam(),
                    dict(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps), "alpha")


class AdamW(Solver):
    """Adam with decoupled weight decay (fused, default ``wd``):
    Adam's step, then ``- (alpha / alpha_0) wd w_prev``."""

    name = "AdamW"

    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=1e-4):
        self._setup(_info(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, wd=wd),
                    rules.adamw(),
                    dict(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, init_alpha=alpha),
                    "alpha", fused_wd=wd)


class AdaBound(Solver):
    """AdaBound: Adam's per-element step clipped to bounds converging to ``final_lr``."""

    name = "AdaBound"

    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, final_lr=0.1,
                 gamma=0.001):
        self._setup(_info(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, final_lr=final_lr,
                          gamma=gamma),
                    rules.adabound(),
                    dict(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, final_lr=final_lr,
                         gamma=gamma, init_alpha=alpha), "alpha")


class Adamax(Solver):
    """Adamax: ``u <- max(b2 u, |g|)``; ``w <- w - alpha / (1 - b1^t) m / (u + eps)``."""

    name = "Adamax"

    def __init__(self, alpha=2e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self._setup(_info(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps), rules.adamax(),
                    dict(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps), "alpha")


class AMSGRAD(Solver):
    """AMSGrad: Adam with ``v_hat = max(v_hat, v)``; bias correction optional."""

    name = "AMSGRAD"

    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=False):
        bc = bool(bias_correction)
        self._setup(_info(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, bias_correction=bc),
                    rules.amsgrad(bc),
                    dict(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps), "alpha",
                    static=(bc,))


class AMSBound(Solver):
    """AMSBound: AMSGrad's step clipped to bounds converging to ``final_lr``.

    NNabla's upper bound is ``final_lr * (1 + t / gamma)`` (its source writes
    ``1 / gamma * t``); nnjax computes the same.
    """

    name = "AMSBound"

    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, final_lr=0.1,
                 gamma=0.001, bias_correction=False):
        bc = bool(bias_correction)
        self._setup(_info(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, final_lr=final_lr,
                          gamma=gamma, bias_correction=bc),
                    rules.amsbound(bc),
                    dict(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, final_lr=final_lr,
                         gamma=gamma, init_alpha=alpha), "alpha", static=(bc,))


class Lamb(Solver):
    """LAMB; the decoupled weight decay is fused (default 0)."""

    name = "Lamb"

    def __init__(self, eta=1e-3, beta1=0.9, beta2=0.999, gamma_l=0.0, gamma_u=10.0, eps=1e-6,
                 bias_correction=False):
        bc = bool(bias_correction)
        self._setup(_info(eta=eta, beta1=beta1, beta2=beta2, gamma_l=gamma_l, gamma_u=gamma_u,
                          eps=eps, bias_correction=bc),
                    rules.lamb(bc),
                    dict(eta=eta, beta1=beta1, beta2=beta2, gamma_l=gamma_l, gamma_u=gamma_u,
                         eps=eps), "eta", fused_wd=0.0, static=(bc,))


class Lion(Solver):
    """Lion; the decoupled weight decay is fused (default 0)."""

    name = "Lion"

    def __init__(self, lr=1e-4, beta1=0.9, beta2=0.99):
        self._setup(_info(lr=lr, beta1=beta1, beta2=beta2), rules.lion(),
                    dict(lr=lr, beta1=beta1, beta2=beta2), "lr", fused_wd=0.0)


__all__ = ["Solver", "SolverState", "Sgd", "SgdW", "Momentum", "Lars", "Nesterov", "Adadelta",
           "Adagrad", "AdaBelief", "RMSprop", "RMSpropGraves", "Adam", "AdamW", "AdaBound",
           "Adamax", "AMSGRAD", "AMSBound", "Lamb", "Lion"]
