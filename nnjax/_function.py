"""Function nodes: ``nnabla.function.Function`` as a graph records it.

A node holds NNabla's type name and args (``info``), its positional inputs
(None where an optional input is absent) and its outputs. Besides being a
graph node it can be driven directly, as NNabla's function objects are:
``setup(inputs, outputs)`` shapes the outputs, ``forward(inputs, outputs)``
computes them, ``backward(inputs, outputs, accum)`` writes or adds the input
grads. Each direct call runs one small program cached by (type, args, shapes,
dtypes), so calling it many times compiles once.
"""
import numpy as np

from ._function_backward import run_function_backward
from ._forward import function_op
from ._plan import bump_graph, infer_outputs, single_function_plan
from ._queue import run_now
from .context import get_current_context


class FunctionInfo:
    """``Function.info``: NNabla's type name and args of a function node."""

    __slots__ = ("type_name", "args", "tags")

    def __init__(self, type_name, args):
        self.type_name = type_name
        self.args = args
        self.tags = {}

    def __repr__(self):
        return f"FunctionInfo(type_name={self.type_name!r}, args={self.args!r})"


def _copy_args(args):
    return {k: list(v) if isinstance(v, list) else v for k, v in args.items()}


class Function:
    """A function of the graph (``nnabla.function.Function``)."""

    __slots__ = ("_info", "_inputs", "outputs", "spec", "need_grad", "rank", "rng_source",
                 "rng_key_data", "python_function", "lower_args", "_context",
                 "_active_input_mask", "_state_before", "setup_shapes", "_single_plan",
                 "__weakref__")

    def __init__(self, spec, args, inputs, python_function=None, lower_args=None):
        self._info = FunctionInfo(spec.type_name, args)
        # the lowering's keyword args: NNabla's args, plus the sizes a data-dependent
        # function read from its inputs' values when it was recorded
        self.lower_args = args if lower_args is None else lower_args
        self.spec = spec
        self._inputs = inputs  # positional, None where an optional input is absent
        self.outputs = []
        self.need_grad = False
        self.rank = 0
        self.rng_source = None
        self.rng_key_data = None
        self.python_function = python_function
        self._context = get_current_context()
        self._active_input_mask = None
        # the input shapes of the last setup: a data-dependent function reads its sizes
        # from the values again only when these change (NNabla sets up on reshape only)
        self.setup_shapes = tuple(None if v is None else tuple(v.shape) for v in inputs or ())
        self._state_before = ()  # (variable, data) of in-place state before the last forward
        self._single_plan = None  # (graph version, wiring ids), its one-function plan

    # ------------------------------------------------------------ what NNabla shows
    @property
    def inputs(self):
        """The input Variables (absent optional inputs left out, as NNabla lists them)."""
        return [v for v in (self._inputs or ()) if v is not None]

    @property
    def info(self):
        """A copy each time, as NNabla's: editing its args (as graph modifiers written
        for NNabla do) never changes this node. The tags are the node's own."""
        info = FunctionInfo(self._info.type_name, _copy_args(self._info.args))
        info.tags = self._info.tags
        return info

    @property
    def name(self):
        return self._info.type_name

    @property
    def args(self):
        return _copy_args(self._info.args)

    @property
    def arguments(self):
        return _copy_args(self._info.args)

    @property
    def tags(self):
        return self._info.tags

    @property
    def context(self):
        return self._context

    def min_outputs(self):
        """The number of outputs the function always has."""
        declared = self.spec.declared
        if declared is None:
            return max(len(self.outputs), 1)
        return max(sum(1 for o in declared.outputs if not o.variadic), 1)

    def grad_depends_input_data(self, i, j):
        """Whether the grad of input ``i`` reads input ``j``'s data (nnjax's backward
        is a vjp of the lowering, which keeps every input)."""
        return True

    def grad_depends_output_data(self, i, o):
        return False

    auto_grad_depends_input_data = grad_depends_input_data
    auto_grad_depends_output_data = grad_depends_output_data

    def inplace_data(self, i):
        """XLA decides buffer reuse: no function writes its output into an input."""
        return 0

    def inplace_data_with(self, i):
        return 0

    def need_setup_recompute(self, o):
        """Whether a recompute must repeat something the forward drew or updated:
        random functions reuse their keys, in-place state is not updated twice."""
        return bool(self.spec.rng or self._state_positions())

    def _state_positions(self):
        args = self.info.args
        if not self.spec.state_inputs or not args.get("batch_stat",
                                                      args.get("update_running_mean", True)):
            return ()
        return self.spec.state_inputs

    def set_active_input_mask(self, mask):
        """Switch inputs off (False) or on: the function computes as if the inputs
        switched off were not given, and they get no gradient."""
        self._active_input_mask = [bool(m) for m in mask]
        bump_graph()

    def __repr__(self):
        return self.info.type_name

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    # ------------------------------------------------------------ driven directly
    def _positional(self, inputs):
        """``inputs`` as NNabla passes them (present ones only) placed at their
        positions (None where the node has no input)."""
        inputs = list(inputs)
        if self._inputs is None or len(inputs) == len(self._inputs):
            return inputs
        declared = self.spec.declared
        n_declared = len(self._inputs)
        if declared is not None and not any(i.variadic for i in declared.inputs):
            n_declared = len(declared.inputs)
        present = iter(inputs)
        # inputs past NNabla's own (nnjax's internal state, e.g. INQ's counter) stay
        return [self._inputs[k] if k >= n_declared else
                None if v is None else next(present, None)
                for k, v in enumerate(self._inputs)]

    def setup(self, inputs, outputs):
        """Give ``outputs`` the shapes this function computes from ``inputs``."""
        inputs = self._positional(inputs)
        meta = [None if v is None else (tuple(v.shape), v.data.dtype) for v in inputs]
        out_meta = infer_outputs(self.spec, self.lower_args, meta, self.python_function)
        for o, (shape, dtype) in zip(outputs, out_meta):
            if tuple(o.shape) != shape:
                o.reset_shape(shape, force=True)
            if o.data.dtype != dtype:
                o.data._dtype = np.dtype(dtype)

    def forward(self, inputs, outputs):
        """Compute ``outputs`` from ``inputs`` now."""
        inputs = self._positional(inputs)
        outputs = list(outputs)
        self.setup(inputs, outputs)
        self._state_before = self._read_state(inputs)
        run_now(function_op(self, inputs, outputs))

    def _read_state(self, inputs):
        return tuple((inputs[k], np.array(inputs[k].d)) for k in self._state_positions()
                     if k < len(inputs) and inputs[k] is not None)

    @staticmethod
    def _write_state(states):
        for var, data in states:
            var.d = data

    def backward(self, inputs, outputs, accum=None):
        """Grads of ``inputs`` that need them from ``outputs``' grads; ``accum[k]``
        (default True) adds into the k-th input's grad instead of overwriting it."""
        inputs = self._positional(inputs)
        outputs = list(outputs)
        present = [i for i, v in enumerate(inputs) if v is not None]
        accum = [True] * len(present) if accum is None else [bool(a) for a in accum]
        targets = tuple((i, a) for i, a in zip(present, accum)
                        if (inputs[i].need_grad or i in self.spec.grad_to_data)
                        and np.issubdtype(inputs[i].data.dtype, np.inexact))
        if not targets:
            return
        step = single_function_plan(self, inputs, outputs).steps[0]
        prior = self._state_before if self.spec.prior_state_grad else ()
        now = self._read_state(inputs) if prior else ()
        self._write_state(prior)
        run_function_backward(self, targets, step, inputs, outputs)
        self._write_state(now)

    def setup_recompute(self, inputs, outputs):
        self.setup(inputs, outputs)

    def recompute(self, inputs, outputs):
        """The forward again, giving what the last forward gave: the same random
        draws, from the in-place state the last forward read, which is left as it is."""
        inputs = self._positional(inputs)
        outputs = list(outputs)
        self.setup(inputs, outputs)
        now = self._read_state(inputs)
        self._write_state(self._state_before)
        run_now(function_op(self, inputs, outputs, fresh_rng=False))
        self._write_state(now)
