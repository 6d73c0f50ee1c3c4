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

This module is the API. The update formulas are in ``_solver_rules``, the
ops queued for execution in ``_solver_step``, state checks and state files
in ``_solver_files``.
"""
import inspect
from collections import OrderedDict

import numpy as np

from . import _solver_files as files
from . import _solver_rules as rules
from . import _solver_step as step
from ._queue import trained_buffers
from ._solver_files import SolverState
from ._variable import Variable


def _f32(x):
    """A Python float holding the float32 value of ``x`` (NNabla keeps C floats)."""
    return float(np.float32(x))


class Solver:
    """Solver interface class (``nnabla.solver.Solver``).

    Solvers are created by the classes of this module (``Sgd(lr)``,
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
    _arguments = None   # the constructor's inspect.Signature, with NNabla's defaults

    def __init_subclass__(cls, rule=None, fused=False, initial_lr=False, **kwargs):
        """Declare a solver: ``class Adam(Solver, rule=rules.adam)`` and its ``_arguments``.

        rule: the ``_solver_rules`` factory, given the bool switches; fused:
        whether ``weight_decay`` is fused into the update (True, or the name
        of the switch turning it on); initial_lr: the rule also reads the
        constructor's learning rate as ``init_<lr>``. The solver's name is
        its class name; its ``__init__`` is made from ``_arguments``.
        """
        super().__init_subclass__(**kwargs)
        if rule is not None:
            cls.name = cls.__name__
            cls._rule, cls._fused, cls._initial_lr = staticmethod(rule), fused, initial_lr
            cls.__init__ = _constructor(cls)

    def _configure(self, args):
        """Set the solver up from its bound constructor arguments {name: value}.

        The first argument is the learning rate; bool ones are static
        switches (rule factory arguments, part of the compile key); ``wd``
        is the default fused decay rate; the others are float hyperparameters.
        """
        switches = [k for k, p in self._arguments.parameters.items()
                    if isinstance(p.default, bool)]
        args = OrderedDict((k, bool(v) if k in switches else v) for k, v in args.items())
        lr_name = next(iter(args))
        hyper = OrderedDict((k, v) for k, v in args.items() if k not in switches and k != "wd")
        if self._initial_lr:
            hyper["init_" + lr_name] = args[lr_name]
        fused = self._fused if isinstance(self._fused, bool) else args[self._fused]
        fused_wd = args.get("wd", 0.0) if fused else None
        self.info = OrderedDict((k, v if isinstance(v, bool) else _f32(v)) for k, v in args.items())
        self._static = tuple(args[k] for k in switches)
        self._rule_obj = self._rule(*self._static)
        self._hyper = OrderedDict((k, _f32(v)) for k, v in hyper.items())
        self._lr_name = lr_name
        self._fused_default = None if fused_wd is None else _f32(fused_wd)
        self._wd_rate = self._fused_default
        self._slots = OrderedDict()
        self._by_name = None  # the slots sorted by name (see _active), made when needed
        self._update_templates = {}
        self._last_hyper = None

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
        trained_buffers.update(v._buffers for _, v in items)
        self._by_name = None
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
        return step.new_slot(param, self._rule_obj.state_names)

    def remove_parameters(self, keys):
        """Forget the parameters (and their states) named in ``keys``."""
        self._by_name = None
        for k in keys:
            self._slots.pop(k, None)

    def clear_parameters(self):
        """Forget every registered parameter and state."""
        self._by_name = None
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
        """Slots whose gradient was written since the last zero_grad, by name: two
        solvers given the same parameters in another order (NNabla's file loaders
        do) then run one training-step program. Each parameter's update is its
        own; the order only changes the program's text, and so its compile."""
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = sorted(self._slots.items(), key=lambda item: item[0])
        return [(k, s) for k, s in by_name if not s.param._buffers.grad._zeroed]

    def _hyper_operand(self):
        """(names, float32 values) of the hyperparameters the rule reads (``wd`` if fused)."""
        values = tuple(self._hyper.values())
        if self._fused_default is not None:
            values += (self._wd_rate,)
        last = self._last_hyper
        if last is not None and last[0] == values:
            return last[1], last[2]  # (a program argument: the same array serves again)
        names = tuple(self._hyper)
        if self._fused_default is not None:
            names += ("wd",)
        self._last_hyper = (values, names, step.hyper_argument(values))
        return self._last_hyper[1], self._last_hyper[2]

    def update(self, update_pre_hook=None, update_post_hook=None):
        """Update every parameter whose gradient was written since ``zero_grad``.

        ``update_pre_hook`` / ``update_post_hook``: callables without
        arguments, called before / after each parameter's update (the
        per-parameter path runs each update at once instead of fusing them).
        """
        try:
            step.update(self._active(), self._rule_obj, (self.name, self._static),
                        self._hyper_operand, self._update_templates,
                        update_pre_hook, update_post_hook)
        finally:
            self._wd_rate = self._fused_default

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
        step.grad_op("weight_decay", decay_rate, self._active(), pre_hook, post_hook)

    def clip_grad_by_norm(self, clip_norm, pre_hook=None, post_hook=None):
        """Rescale each gradient whose L2 norm exceeds ``clip_norm`` to that norm."""
        clip_norm = _f32(clip_norm)
        if clip_norm == 0:
            return
        step.grad_op("clip_grad_by_norm", clip_norm, self._active(), pre_hook, post_hook)

    def scale_grad(self, scale, pre_hook=None, post_hook=None):
        """Multiply every fresh gradient by ``scale`` (mixed precision training)."""
        step.grad_op("scale_grad", _f32(scale), self._active(), pre_hook, post_hook)

    def check_inf_grad(self, pre_hook=None, post_hook=None):
        """True if a fresh gradient holds an inf."""
        return step.check_grads("inf", self._active(), pre_hook, post_hook)

    def check_nan_grad(self, pre_hook=None, post_hook=None):
        """True if a fresh gradient holds a NaN."""
        return step.check_grads("nan", self._active(), pre_hook, post_hook)

    def check_inf_or_nan_grad(self, pre_hook=None, post_hook=None):
        """True if a fresh gradient holds an inf or a NaN."""
        return step.check_grads("inf_or_nan", self._active(), pre_hook, post_hook)

    # ------------------------------------------------------------ states
    def get_states(self):
        """{name: SolverState}; the state Variables share the solver's buffers."""
        return files.states_of_slots(self._slots)

    def _validated_states(self, states, where):
        """Check {name: SolverState} against the registered parameters; host values."""
        return files.checked_states(states, self._slots, self._rule_obj.state_names,
                                    self.name, where)

    @staticmethod
    def _write_states(checked):
        """Write what ``_validated_states`` returned."""
        files.write_checked_states(checked)

    def set_states(self, states):
        """Set states from {name: SolverState}.

        Every entry is checked (registered name, state names, shapes, t)
        before any is written: on an error the solver's state is untouched.
        """
        self._write_states(self._validated_states(states, f"{self.name}.set_states"))

    def save_states(self, path):
        """Save the states to ``.h5`` (as NNabla lays it out) or ``.protobuf``.

        h5: one group per parameter name holding dataset ``t`` and one
        dataset per state, with ``index`` attributes keeping the order.
        The file is written under a temporary name and renamed.
        """
        files.save_states(path, self.get_states(), self.name)

    def set_states_to_protobuf(self, optimizer):
        """Write the states into ``optimizer.solver.states`` (an NNabla Optimizer message)."""
        files.states_to_protobuf(self.get_states(), optimizer)

    def load_states(self, path):
        """Load states saved by ``save_states`` (``.h5``, ``.protobuf``, ``.nntxt``).

        Raises ValueError for an unreadable file, a name not registered, a
        missing state or a shape mismatch; the current state is then kept.
        """
        files.load_states(path, self.set_states, self.name)

    def set_states_from_protobuf(self, optimizer_proto):
        """Set the states from an NNabla Optimizer message."""
        self.set_states(files.states_from_protobuf(optimizer_proto, f"{self.name}.load_states"))


# ---------------------------------------------------------------- solvers
def _signature(**defaults):
    """The constructor arguments with NNabla's defaults, in order, as an inspect.Signature."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([inspect.Parameter(k, kind, default=v) for k, v in defaults.items()])


def _constructor(cls):
    """``__init__`` of a declared solver: binds ``cls._arguments``, then ``_configure``."""
    arguments = cls._arguments

    def __init__(self, *args, **kwargs):
        try:
            bound = arguments.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{cls.__name__}(): {e}") from None
        bound.apply_defaults()
        self._configure(bound.arguments)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    __init__.__signature__ = arguments.replace(
        parameters=params + list(arguments.parameters.values()))
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = f"{cls.__name__}{arguments}: see the class docstring."
    return __init__


class Sgd(Solver, rule=rules.sgd):
    """Stochastic gradient descent: ``w <- w - lr g`` (``lr``: learning rate)."""
    _arguments = _signature(lr=1e-3)


class SgdW(Solver, rule=rules.sgdw, fused=True, initial_lr=True):
    """Momentum SGD with decoupled weight decay (fused).

    ``m <- momentum m + lr g``; ``w <- w - m - (lr / lr_0) wd w``, with
    ``lr_0`` the constructor's ``lr`` and ``wd`` the default decay rate (or
    the rate given to ``weight_decay`` for the next update).
    """
    _arguments = _signature(lr=1e-3, momentum=0.9, wd=1e-4)


class Momentum(Solver, rule=rules.momentum):
    """SGD with momentum: ``v <- momentum v + lr g``; ``w <- w - v``."""
    _arguments = _signature(lr=1e-3, momentum=0.9)


class Lars(Solver, rule=rules.lars, fused=True):
    """LARS with momentum; the weight decay rate is fused (default 0).

    ``local_lr = lr * coefficient * ||w|| / (||g|| + wd ||w||)`` (``lr`` when
    ``||w|| < eps``); ``v <- momentum v + local_lr (g + wd w)``; ``w <- w - v``.
    """
    _arguments = _signature(lr=1e-3, momentum=0.9, coefficient=0.001, eps=1e-6)


class Nesterov(Solver, rule=rules.nesterov):
    """Nesterov accelerated gradient.

    ``v <- momentum v - lr g``; ``w <- w - momentum v_prev + (1 + momentum) v``.
    """
    _arguments = _signature(lr=1e-3, momentum=0.9)


class Adadelta(Solver, rule=rules.adadelta):
    """AdaDelta (states ``e_sqr_grad``, ``e_sqr_delta``)."""
    _arguments = _signature(lr=1.0, decay=0.95, eps=1e-6)


class Adagrad(Solver, rule=rules.adagrad):
    """AdaGrad: ``G <- G + g^2``; ``w <- w - lr g / (sqrt(G) + eps)`` (state ``v``)."""
    _arguments = _signature(lr=1e-2, eps=1e-8)


class AdaBelief(Solver, rule=rules.adabelief, fused="weight_decouple"):
    """AdaBelief; with ``weight_decouple`` the decay is fused with default ``wd``."""
    _arguments = _signature(alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.0, amsgrad=False,
                            weight_decouple=False, fixed_decay=False, rectify=False)


class RMSprop(Solver, rule=rules.rmsprop):
    """RMSprop: ``v <- decay v + (1 - decay) g^2``; ``w <- w - lr g / (sqrt(v) + eps)``."""
    _arguments = _signature(lr=1e-3, decay=0.9, eps=1e-8)


class RMSpropGraves(Solver, rule=rules.rmsprop_graves):
    """RMSprop as in Graves (2013), with momentum (states ``n``, ``g``, ``d``)."""
    _arguments = _signature(lr=1e-4, decay=0.95, momentum=0.9, eps=1e-4)


class Adam(Solver, rule=rules.adam):
    """Adam: ``w <- w - alpha sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``."""
    _arguments = _signature(alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)


class AdamW(Solver, rule=rules.adamw, fused=True, initial_lr=True):
    """Adam with decoupled weight decay (fused, default ``wd``):
    Adam's step, then ``- (alpha / alpha_0) wd w_prev``."""
    _arguments = _signature(alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=1e-4)


class AdaBound(Solver, rule=rules.adabound, initial_lr=True):
    """AdaBound: Adam's per-element step clipped to bounds converging to ``final_lr``."""
    _arguments = _signature(alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, final_lr=0.1,
                            gamma=0.001)


class Adamax(Solver, rule=rules.adamax):
    """Adamax: ``u <- max(b2 u, |g|)``; ``w <- w - alpha / (1 - b1^t) m / (u + eps)``."""
    _arguments = _signature(alpha=2e-3, beta1=0.9, beta2=0.999, eps=1e-8)


class AMSGRAD(Solver, rule=rules.amsgrad):
    """AMSGrad: Adam with ``v_hat = max(v_hat, v)``; bias correction optional."""
    _arguments = _signature(alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=False)


class AMSBound(Solver, rule=rules.amsbound, initial_lr=True):
    """AMSBound: AMSGrad's step clipped to bounds converging to ``final_lr``.

    NNabla's upper bound is ``final_lr * (1 + t / gamma)`` (its source writes
    ``1 / gamma * t``); nnjax computes the same.
    """
    _arguments = _signature(alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, final_lr=0.1,
                            gamma=0.001, bias_correction=False)


class Lamb(Solver, rule=rules.lamb, fused=True):
    """LAMB; the decoupled weight decay is fused (default 0)."""
    _arguments = _signature(eta=1e-3, beta1=0.9, beta2=0.999, gamma_l=0.0, gamma_u=10.0,
                            eps=1e-6, bias_correction=False)


class Lion(Solver, rule=rules.lion, fused=True):
    """Lion; the decoupled weight decay is fused (default 0)."""
    _arguments = _signature(lr=1e-4, beta1=0.9, beta2=0.99)


__all__ = ["Solver", "SolverState", "Sgd", "SgdW", "Momentum", "Lars", "Nesterov", "Adadelta",
           "Adagrad", "AdaBelief", "RMSprop", "RMSpropGraves", "Adam", "AdamW", "AdaBound",
           "Adamax", "AMSGRAD", "AMSBound", "Lamb", "Lion"]
