"""Backward-function objects of normalizations, as NNabla's ``backward_function``
modules offer them (``BatchNormalizationBackward``, ``FusedBatchNormalizationBackward``).

Such an object, made with its forward type's arguments, maps (the output grad
``dy``, the forward's inputs) to the grads of the forward's differentiable inputs.
Its node's lowering is ``jax.vjp`` of the forward type's lowering, so it is
differentiable again (a third-order derivative of the forward) and drivable with
``forward``/``backward`` like any function. Inputs NNabla passes that the
computation does not read (the forward's output ``y`` of the fused function,
whose relu mask is recomputed) are taken and ignored.
"""
import inspect

import jax
import jax.numpy as jnp

from .. import function as _function_module
from .. import functions as _functions
from .._apply import apply_function
from .._plan import call_lowering, freeze
from .._registry import REGISTRY, internal_spec
from .._variable import Variable


class _ForwardVjp:
    """Lowering of a backward node: (dy, given inputs) -> grads of the ``wrt``
    positions of the forward. ``positions[k]`` is the forward position of the k-th
    given input (None: not read)."""

    _interned = {}

    def __init__(self, spec, lower_args, n_inputs, positions, wrt):
        self.spec, self.lower_args = spec, lower_args
        self.n_inputs, self.positions, self.wrt = n_inputs, positions, wrt

    @classmethod
    def get(cls, spec, lower_args, n_inputs, positions, wrt):
        key = (spec.type_name, freeze(lower_args), n_inputs, positions, wrt)
        obj = cls._interned.get(key)
        if obj is None:
            obj = cls._interned[key] = cls(spec, lower_args, n_inputs, positions, wrt)
        return obj

    def _lower(self, dy, *given):
        base = [None] * self.n_inputs
        for p, v in zip(self.positions, given):
            if p is not None:
                base[p] = v

        def forward(*diff):
            xs = list(base)
            for p, v in zip(self.wrt, diff):
                xs[p] = v
            return call_lowering(self.spec, self.lower_args, None, None, xs)[0][0]

        y, vjp = jax.vjp(forward, *[base[p] for p in self.wrt])
        result = vjp(jnp.broadcast_to(jnp.asarray(dy, y.dtype), y.shape))
        return tuple(result) if len(result) > 1 else result[0]


class _TypeBackward:
    """Base class: ``<Type>Backward(ctx, *type_args)``; subclasses say where each
    input sits in the forward (``_positions``) and what is differentiated (``_wrt``)."""

    forward_type = None

    def __init__(self, ctx, *args, **kwargs):
        self._forward = getattr(_function_module, self.forward_type)(ctx, *args, **kwargs)

    @property
    def name(self):
        return type(self).__name__

    @property
    def args(self):
        return self._forward.info.args

    def min_outputs(self):
        return len(self._wrt())

    def _node(self, given, positions):
        """The forward node recorded on placeholders of the given shapes: its spec
        and lowering args as the wrapper completes them (nothing is computed)."""
        n_inputs = len(REGISTRY[self.forward_type].declared.inputs)
        proxies = [None] * n_inputs
        for p, v in zip(positions, given):
            if p is not None:
                proxies[p] = Variable(tuple(v.shape))
        wrapper = getattr(_functions, REGISTRY[self.forward_type].declared.snake_name)
        accepted = inspect.signature(wrapper).parameters
        args = {k: v for k, v in self.args.items() if k in accepted and v is not None}
        y = wrapper(*proxies, **args)
        return (y[0] if isinstance(y, (tuple, list)) else y).parent, n_inputs

    def __call__(self, *inputs, n_outputs=-1, auto_forward=None, outputs=None):
        given = inputs[1:]
        positions = self._positions(len(given))
        if len(positions) != len(given):
            raise ValueError(f"{self.name}: expected {len(positions) + 1} inputs (dy and the "
                             f"forward's inputs), got {len(inputs)}")
        node, n_inputs = self._node(given, positions)
        lowering = _ForwardVjp.get(node.spec, node.lower_args, n_inputs, tuple(positions),
                                   tuple(self._wrt()))
        return apply_function(self.name, list(inputs), dict(node.info.args), outputs=outputs,
                              python_function=lowering, spec=internal_spec(self.name))


class BatchNormalizationBackward(_TypeBackward):
    """Inputs ``dy, x, (beta), (gamma), mean, variance`` (beta/gamma absent with
    no_bias/no_scale); outputs the grads of x, (beta), (gamma)."""

    forward_type = "BatchNormalization"

    def _present(self):
        return [0] + [p for p, off in ((1, "no_bias"), (2, "no_scale")) if not self.args[off]]

    def _positions(self, n_given):
        return self._present() + [3, 4]

    def _wrt(self):
        return self._present()


class FusedBatchNormalizationBackward(_TypeBackward):
    """Inputs ``dy, x, beta, gamma, mean, variance, y, (z)`` (z with ``is_add``);
    outputs the grads of x, beta, gamma, (z)."""

    forward_type = "FusedBatchNormalization"

    def __init__(self, ctx, *args, **kwargs):
        super().__init__(ctx, *args, **kwargs)
        self.is_add = False

    def _positions(self, n_given):
        return [0, 1, 2, 3, 4, None] + ([5] if self.is_add else [])

    def _wrt(self):
        return [0, 1, 2] + ([5] if self.is_add else [])


BACKWARD_CLASSES = {
    "batch_normalization": [BatchNormalizationBackward],
    "fused_batch_normalization": [FusedBatchNormalizationBackward],
}
