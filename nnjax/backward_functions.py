"""``nnabla.backward_functions``: the backward of every function type, as a graph.

``registry[type_name](grad_inputs, inputs, input_shapes, outputs, output_shapes,
**args)`` takes the output grads and the forward inputs (Variables) and returns
one Variable per forward input: its gradient, as the output of a
``<Type>Backward`` node (None for inputs that do not need one: ``need_grad=False``
or integer indices). The node's lowering is ``jax.vjp`` of the type's own lowering, so it
is differentiable again (``nn.grad`` of ``nn.grad``) and gives exactly the
gradients ``backward()`` computes, custom ones (straight-through estimators)
included. The gradient functions of ``nnabla.backward_function`` (``AffineDataGrad``
...) are in the registry too; their backward is found from the node itself.
"""
import numpy as np
import jax
import jax.numpy as jnp

from . import _modes
from ._apply import apply_function, host_values
from ._forward import function_op, set_inner_rng
from ._plan import call_lowering, freeze
from ._queue import enqueue
from ._registry import REGISTRY, internal_spec


class VjpLowering:
    """Lowering of one backward node: (output grads, inputs) -> input grads.

    ``lower(xs)`` is the forward computation (positional inputs -> outputs).
    Interned per structure: the object's identity is part of compile keys."""

    _interned = {}

    def __init__(self, lower, n_grads, positions, n_inputs, wrt, rng_rows=0):
        self.lower = lower
        self.n_grads = n_grads
        self.positions = positions  # positional index of each given input
        self.n_inputs = n_inputs
        self.wrt = wrt              # positions differentiated
        self.rng_rows = rng_rows    # 1: the forward's key is given at each run

    @classmethod
    def get(cls, key, lower, n_grads, positions, n_inputs, wrt, rng_rows=0):
        key = (key, n_grads, positions, n_inputs, wrt, rng_rows)
        obj = cls._interned.get(key)
        if obj is None:
            obj = cls._interned[key] = cls(lower, n_grads, positions, n_inputs, wrt, rng_rows)
        return obj

    def _lower(self, *values, rng_keys=None):
        grads, given = values[:self.n_grads], values[self.n_grads:]
        base = [None] * self.n_inputs
        for p, v in zip(self.positions, given):
            base[p] = v
        key = None
        if rng_keys is not None:
            key = (rng_keys[0] if isinstance(rng_keys, (list, tuple))
                   else jnp.reshape(jnp.asarray(rng_keys, jnp.uint32), (-1, 2))[0])

        def forward(*diff):
            xs = list(base)
            for p, v in zip(self.wrt, diff):
                xs[p] = v
            return self.lower(xs, key)

        outs, vjp = jax.vjp(forward, *[base[p] for p in self.wrt])
        cot = tuple(jnp.broadcast_to(jnp.asarray(g, o.dtype), o.shape)
                    for g, o in zip(grads, outs))
        result = vjp(cot)
        return tuple(result) if len(result) > 1 else result[0]


def _forward_of(spec, lower_args, python_function, rng_key):
    """The forward computation of a node as ``lower(xs) -> outputs tuple``, and a
    hashable key of it."""
    key = None if rng_key is None else jnp.asarray(rng_key)

    def lower(xs, run_key=None):  # run_key: the key of this run (a stochastic node)
        return call_lowering(spec, lower_args, python_function,
                             key if run_key is None else run_key, xs)[0]
    ident = (spec.type_name, freeze(lower_args), id(python_function),
             None if rng_key is None else bytes(np.asarray(rng_key).tobytes()))
    return lower, ident


def record_backward(type_name, lower, ident, grad_inputs, inputs, args, forward_node=None):
    """Record the ``<type_name>Backward`` node: grads of ``inputs`` given the
    output grads; returns one Variable (or None) per input. ``forward_node``: the
    stochastic node whose keys (of its latest forward) the node takes at each run."""
    inputs = list(inputs)
    positions = tuple(i for i, v in enumerate(inputs) if v is not None)
    wrt = tuple(i for i in positions if inputs[i].need_grad
                and np.issubdtype(inputs[i].data.dtype, np.inexact))
    if not wrt:
        return [None] * len(inputs)
    grads = list(grad_inputs)
    stochastic = forward_node is not None
    lowering = VjpLowering.get(ident, lower, len(grads), positions, len(inputs), wrt,
                               rng_rows=int(stochastic))
    auto = _modes.get_auto_forward()
    with _modes.auto_forward(auto and not stochastic):  # (the node's keys are set first)
        result = apply_function(f"{type_name}Backward", grads + [inputs[i] for i in positions],
                                dict(args), python_function=lowering,
                                spec=internal_spec(f"{type_name}Backward", rng=stochastic))
    result = list(result) if isinstance(result, tuple) else [result]
    if stochastic:
        set_inner_rng(result[0].parent, [forward_node])
        if auto:
            enqueue(function_op(result[0].parent))
    out = [None] * len(inputs)
    for p, r in zip(wrt, result):
        out[p] = r
    return out


def _node_of(outputs):
    return next((o.parent for o in outputs or () if o is not None and o.parent is not None),
                None)


# optional inputs an argument says are absent (NNabla then leaves them out of the list):
# BatchNormalization's beta/gamma under no_bias/no_scale, and the recurrent layers'
# `weight` (layers after the first), which a one-layer RNN/LSTM/GRU does not have
_ABSENT_WHEN = {"beta": lambda args: bool(args.get("no_bias", False)),
                "gamma": lambda args: bool(args.get("no_scale", False)),
                "weight": lambda args: args.get("num_layers") == 1}


def _placed(spec, inputs, args):
    """``inputs`` at their positions: NNabla passes only the present ones, leaving
    out those ``no_bias``/``no_scale`` switch off."""
    inputs = list(inputs)
    declared = spec.declared.inputs
    if len(inputs) >= len(declared) or any(d.variadic for d in declared):
        return inputs
    absent = [d.name in _ABSENT_WHEN and _ABSENT_WHEN[d.name](args) for d in declared]
    given = iter(inputs)
    return [None if off else next(given, None) for off in absent]


def _backward_of(type_name):
    spec = REGISTRY[type_name]

    def backward(grad_inputs, inputs, input_shapes, outputs, output_shapes, *pos_args,
                 **args):
        for name, value in zip(spec.declared.arg_names, pos_args):  # NNabla's order
            args.setdefault(name, value)
        full, lower_args = spec.complete_args(args)
        n_given = len(inputs)
        inputs = _placed(spec, inputs, full)
        node = _node_of(outputs)
        if spec.data_dependent:  # the sizes the forward read from its inputs' values
            lower_args = dict(full, **spec.sizes([host_values(x) for x in inputs], **full))
        rng_key = forward_node = None
        if spec.rng:
            forward_node = node if node is not None else _consumer_of(type_name, inputs)
            if forward_node is None:
                if type_name == "Dropout":  # as NNabla's, which reads the forward's mask
                    raise RuntimeError("dropout_backward: no Dropout takes inputs[0]; its "
                                       "forward draws the mask the backward uses")
                rng_key = np.zeros(2, np.uint32)
        lower, ident = _forward_of(spec, lower_args, None, rng_key)
        grads = record_backward(type_name, lower, ident, grad_inputs, inputs, full,
                                forward_node)
        if n_given < len(inputs):  # one grad per input given, as NNabla returns them
            grads = [g for g, v in zip(grads, inputs) if v is not None]
        # a one-input type's backward returns its one grad itself, as NNabla's do
        return grads[0] if len(grads) == 1 else grads

    snake = spec.declared.snake_name
    backward.__name__ = backward.__qualname__ = f"{snake}_backward"
    backward.__doc__ = (f"Gradients of {type_name}'s inputs as Variables (``jax.vjp`` of its "
                        "lowering).")
    return backward


def _consumer_of(type_name, inputs):
    """The latest ``type_name`` node taking ``inputs[0]`` (None if there is none)."""
    first = next((v for v in inputs if v is not None), None)
    if first is None:
        return None
    found = [fn for fn in first.alive_consumers() if fn.info.type_name == type_name]
    return found[-1] if found else None


def node_backward(grad_inputs, inputs, input_shapes, outputs, output_shapes, **args):
    """The backward of a node found from its ``outputs`` (gradient functions such as
    ``AffineDataGrad``, whose computation lives on the node)."""
    node = _node_of(outputs)
    if node is None:
        raise ValueError("backward of a gradient function: give the outputs of its node")
    lower, ident = _forward_of(node.spec, node.lower_args, node.python_function, None)
    return record_backward(node.info.type_name, lower, ident, grad_inputs, inputs, args)


registry = {type_name: _backward_of(type_name) for type_name in REGISTRY}


def register(func_name, func):
    """Register ``func`` as the backward function of type ``func_name`` (a
    ``PythonFunction``'s name, for instance), replacing any earlier one."""
    if not callable(func):
        raise TypeError(f"backward_functions.register: the backward of {func_name!r} must be "
                        f"callable, got {type(func).__name__}")
    registry[func_name] = func


def show_registry():
    """Print each registered type name with its backward function."""
    for name, func in registry.items():
        print(name, func)
