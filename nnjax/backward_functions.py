"""``nnabla.backward_functions``: the backward of every function type, as a graph.

``registry[type_name](grad_inputs, inputs, input_shapes, outputs, output_shapes,
**args)`` takes the output grads and the forward inputs (Variables) and returns
one Variable per forward input: its gradient, as the output of a
``<Type>Backward`` node (None for inputs without a gradient, such as integer
indices). The node's lowering is ``jax.vjp`` of the type's own lowering, so it
is differentiable again (``nn.grad`` of ``nn.grad``) and gives exactly the
gradients ``backward()`` computes, custom ones (straight-through estimators)
included.
"""
import numpy as np
import jax
import jax.numpy as jnp

from ._apply import apply_function
from ._plan import call_lowering, freeze
from ._registry import REGISTRY, internal_spec


class _VjpLowering:
    """Lowering of one backward node: (output grads, inputs) -> input grads.

    Interned per structure: the object's identity is part of compile keys."""

    _interned = {}

    def __init__(self, spec, lower_args, n_grads, positions, n_inputs, wrt, rng_key):
        self.spec = spec
        self.lower_args = lower_args
        self.n_grads = n_grads
        self.positions = positions  # positional index of each given input
        self.n_inputs = n_inputs
        self.wrt = wrt              # positions differentiated
        self.rng_key = rng_key

    @classmethod
    def get(cls, spec, lower_args, n_grads, positions, n_inputs, wrt, rng_key):
        key = (spec.type_name, freeze(lower_args), n_grads, positions, n_inputs, wrt,
               None if rng_key is None else rng_key.tobytes())
        obj = cls._interned.get(key)
        if obj is None:
            obj = cls._interned[key] = cls(spec, lower_args, n_grads, positions, n_inputs,
                                           wrt, rng_key)
        return obj

    def _lower(self, *values):
        grads, given = values[:self.n_grads], values[self.n_grads:]
        base = [None] * self.n_inputs
        for p, v in zip(self.positions, given):
            base[p] = v
        key = None if self.rng_key is None else jnp.asarray(self.rng_key)

        def forward(*diff):
            xs = list(base)
            for p, v in zip(self.wrt, diff):
                xs[p] = v
            return call_lowering(self.spec, self.lower_args, None, key, xs)[0]

        outs, vjp = jax.vjp(forward, *[base[p] for p in self.wrt])
        cot = tuple(jnp.broadcast_to(jnp.asarray(g, o.dtype), o.shape)
                    for g, o in zip(grads, outs))
        result = vjp(cot)
        return tuple(result) if len(result) > 1 else result[0]


def _backward_of(type_name):
    spec = REGISTRY[type_name]

    def backward(grad_inputs, inputs, input_shapes, outputs, output_shapes, **args):
        full, lower_args = spec.complete_args(args)
        inputs = list(inputs)
        positions = tuple(i for i, v in enumerate(inputs) if v is not None)
        wrt = tuple(i for i in positions
                    if np.issubdtype(inputs[i].data.dtype, np.inexact))
        if not wrt:
            return [None] * len(inputs)
        node = next((o.parent for o in outputs if o is not None and o.parent is not None),
                    None)
        rng_key = None
        if spec.rng:
            rng_key = node.rng_key_data if node is not None and node.rng_key_data is not None \
                else np.zeros(2, np.uint32)
        grads = [g for g in grad_inputs]
        lowering = _VjpLowering.get(spec, lower_args, len(grads), positions, len(inputs),
                                    wrt, rng_key)
        result = apply_function(f"{type_name}Backward", grads + [inputs[i] for i in positions],
                                dict(full), python_function=lowering,
                                spec=internal_spec(f"{type_name}Backward"))
        result = list(result) if isinstance(result, tuple) else [result]
        out = [None] * len(inputs)
        for p, r in zip(wrt, result):
            out[p] = r
        return out

    snake = spec.declared.snake_name
    backward.__name__ = backward.__qualname__ = f"{snake}_backward"
    backward.__doc__ = (f"Gradients of {type_name}'s inputs as Variables (``jax.vjp`` of its "
                        "lowering).")
    return backward


registry = {type_name: _backward_of(type_name) for type_name in REGISTRY}
