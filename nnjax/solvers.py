"""Solvers, as ``nnabla.solvers``.

A Solver keeps parameters (Variables, by the names given to
``set_parameters``) and per-parameter state (NdArrays named as NNabla names
them, plus a step count ``t``). ``update``, ``weight_decay``,
``clip_grad_by_norm`` and ``scale_grad`` queue ops that run inside the same
compiled program as the forward and backward of the step. As in NNabla, a
parameter whose gradient was zeroed by ``zero_grad`` and not written since
is skipped by ``update`` and ``weight_decay`` (its ``t`` does not advance).
"""
from collections import OrderedDict

import jax.numpy as jnp
import numpy as np

from . import _executor
from . import _solver_rules as rules
from ._ndarray import NdArray
from ._variable import Variable


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


class Solver:
    """Base class: subclasses give ``name``, ``_rule`` and hyperparameters."""

    name = "Solver"
    _lr_name = "lr"

    def __init__(self, **hyper):
        self._hyper = OrderedDict((k, float(v)) for k, v in hyper.items())
        self._slots = OrderedDict()
        self._rule_obj = self._rule()

    # ------------------------------------------------------------ info
    @property
    def info(self):
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self._hyper.items())})"

    def __repr__(self):
        return self.info

    def learning_rate(self):
        """The current learning rate."""
        return self._hyper[self._lr_name]

    def set_learning_rate(self, learning_rate):
        """Change the learning rate (no recompilation: it is a program argument)."""
        self._hyper[self._lr_name] = float(learning_rate)

    # ------------------------------------------------------------ parameters
    def set_parameters(self, param_dict, reset=True, retain_state=False):
        """Register parameters {name: Variable}.

        ``reset`` drops the parameters set before; with ``reset=False`` the
        given ones are added, and ``retain_state`` keeps the state of names
        already present (otherwise their state starts over).
        """
        if not isinstance(param_dict, dict):
            raise TypeError(f"{self.name}.set_parameters: expected a dict of name -> Variable, "
                            f"got {type(param_dict).__name__}")
        for k, v in param_dict.items():
            if not isinstance(v, Variable):
                raise TypeError(f"{self.name}.set_parameters: {k!r} is not a Variable")
        if reset:
            self._slots.clear()
        for k, v in param_dict.items():
            old = self._slots.get(k)
            if old is not None and retain_state:
                old.param = v
                continue
            self._slots[k] = self._new_slot(v)

    def _new_slot(self, param):
        states = OrderedDict((n, _device_zeros(param.shape)) for n in self._rule_obj.state_names)
        return _Slot(param, states, _device_zeros((), np.int32))

    def remove_parameters(self, keys):
        """Forget the parameters (and states) named in ``keys``."""
        for k in keys:
            self._slots.pop(k, None)

    def clear_parameters(self):
        """Forget every parameter and state."""
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

    def update(self, update_pre_hook=None, update_post_hook=None):
        """Apply one update step to every parameter with a fresh gradient."""
        active = self._active()
        if update_pre_hook is not None or update_post_hook is not None:
            for k, s in active:
                if update_pre_hook is not None:
                    _executor.flush()
                    update_pre_hook(k)
                _executor.run_now(self._update_op([(k, s)]))
                if update_post_hook is not None:
                    update_post_hook(k)
            return
        if active:
            _executor.enqueue(self._update_op(active))

    def _update_op(self, active):
        names = self._rule_obj.state_names
        update = self._rule_obj.update
        hyper_names = tuple(self._hyper)
        reads, writes = [], []
        for _, s in active:
            reads += [s.param._buffers.data, s.param._buffers.grad, s.t]
            reads += [s.states[n] for n in names]
            writes += [s.param._buffers.data, s.t] + [s.states[n] for n in names]
        hyper = np.array([self._hyper[n] for n in hyper_names], np.float32)
        key = ("update", self.name, hyper_names, names, len(active))
        n_state = len(names)

        def build():
            def run(values, operands):
                h = dict(zip(hyper_names, operands[0]))
                out = []
                per = 3 + n_state
                for i in range(len(values) // per):
                    p, g, t = values[i * per:i * per + 3]
                    st = dict(zip(names, values[i * per + 3:(i + 1) * per]))
                    t = t + 1
                    new_p, new_st = update(p, g.astype(p.dtype), st, t, h)
                    out += [new_p.astype(p.dtype), t] + [new_st[n] for n in names]
                return out
            return run

        return _executor.Op(key, reads, writes, build, (hyper,), kind="update")

    def _grad_op(self, tag, fn, scalar, with_param):
        active = self._active()
        if not active:
            return
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
                    return [fn(g, c, p) for p, g in zip(values[0::step], values[1::step])]
                return [fn(g, c, None) for g in values]
            return run

        _executor.enqueue(_executor.Op(key, reads, writes, build,
                                       (np.float32(scalar),), kind="update"))

    def weight_decay(self, decay_rate, pre_hook=None, post_hook=None):
        """Add ``decay_rate * param`` to each fresh gradient."""
        if decay_rate == 0:
            return
        self._grad_op("weight_decay", lambda g, c, p: g + c * p, decay_rate, True)

    def clip_grad_by_norm(self, clip_norm, pre_hook=None, post_hook=None):
        """Rescale each gradient whose L2 norm exceeds ``clip_norm`` to that norm."""
        def clip(g, c, p):
            norm = jnp.sqrt(jnp.sum(g * g))
            return jnp.where(norm > c, g * (c / norm), g)
        self._grad_op("clip_grad_by_norm", clip, clip_norm, False)

    def scale_grad(self, scale, pre_hook=None, post_hook=None):
        """Multiply every fresh gradient by ``scale``."""
        self._grad_op("scale_grad", lambda g, c, p: g * c, scale, False)

    def check_inf_or_nan_grad(self):
        """True if any registered gradient holds an inf or a NaN."""
        for s in self._slots.values():
            if not np.all(np.isfinite(s.param.g)):
                return True
        return False

    def check_inf_grad(self):
        return any(np.isinf(s.param.g).any() for s in self._slots.values())

    def check_nan_grad(self):
        return any(np.isnan(s.param.g).any() for s in self._slots.values())

    # ------------------------------------------------------------ states
    def get_states(self):
        """{name: SolverState} with state Variables sharing the solver's buffers."""
        out = OrderedDict()
        for k, s in self._slots.items():
            pstate = OrderedDict()
            for n, arr in s.states.items():
                v = Variable(arr.shape)
                v.data = arr
                pstate[n] = v
            out[k] = SolverState(pstate, int(np.asarray(s.t.data)))
        return out

    def set_states(self, states):
        """Set states from {name: SolverState}; every entry is checked before any is set."""
        for k, st in states.items():
            if k not in self._slots:
                raise ValueError(f"{self.name}.set_states: unknown parameter {k!r}")
            slot = self._slots[k]
            for n in self._rule_obj.state_names:
                if n not in st.pstate:
                    raise ValueError(f"{self.name}.set_states: state {n!r} missing for {k!r}")
                if tuple(st.pstate[n].shape) != tuple(slot.states[n].shape):
                    raise ValueError(f"{self.name}.set_states: state {k}/{n} has shape "
                                     f"{tuple(st.pstate[n].shape)}, expected "
                                     f"{tuple(slot.states[n].shape)}")
        for k, st in states.items():
            slot = self._slots[k]
            for n in self._rule_obj.state_names:
                slot.states[n].data = np.asarray(st.pstate[n].d, np.float32)
            slot.t.data = np.asarray(st.t, np.int32)


class Sgd(Solver):
    """Stochastic gradient descent: ``w -= lr * g``."""

    name = "Sgd"
    _rule = staticmethod(rules.sgd)

    def __init__(self, lr=0.001):
        super().__init__(lr=lr)


class Momentum(Solver):
    """Momentum SGD: ``v = momentum * v + lr * g; w -= v``."""

    name = "Momentum"
    _rule = staticmethod(rules.momentum)

    def __init__(self, lr=0.001, momentum=0.9):
        super().__init__(lr=lr, momentum=momentum)


class Adam(Solver):
    """Adam, with the bias correction folded into the step size as NNabla does."""

    name = "Adam"
    _rule = staticmethod(rules.adam)
    _lr_name = "alpha"

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)
