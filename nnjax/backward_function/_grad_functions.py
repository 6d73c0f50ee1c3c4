"""Gradient functions of linear functions, as NNabla's ``backward_function`` modules
offer them (``AffineDataGrad``, ``ConvolutionFilterGrad``, ``AveragePoolingDataGrad`` ...).

A gradient function of type T with respect to some of T's inputs maps the
output grad ``dy`` (and T's other inputs) to those inputs' grads. T is linear in
them, so the map is ``jax.vjp`` of T's lowering taken at zeros: it is recorded
as an ordinary node (``<T>DataGrad``/``<T>FilterGrad``), differentiable again, and
drivable with ``forward``/``backward`` like any function. The shapes of the
inputs differentiated are set on the object first (``xshape``, ``wshape`` or
``xshapes``), as in NNabla.
"""
import jax
import jax.numpy as jnp
import numpy as np

from .. import function as _function_module
from .. import functions as _functions
from .._apply import apply_function
from .._plan import call_lowering, freeze
from .._registry import REGISTRY, internal_spec
from .._variable import Variable


class _VjpAtZero:
    """Lowering of a gradient-function node: (dy, other inputs) -> grads."""

    _interned = {}

    def __init__(self, spec, lower_args, n_inputs, wrt, others, shapes):
        self.spec, self.lower_args = spec, lower_args
        self.n_inputs, self.wrt, self.others, self.shapes = n_inputs, wrt, others, shapes

    @classmethod
    def get(cls, spec, lower_args, n_inputs, wrt, others, shapes):
        key = (spec.type_name, freeze(lower_args), n_inputs, wrt, others, shapes)
        obj = cls._interned.get(key)
        if obj is None:
            obj = cls._interned[key] = cls(spec, lower_args, n_inputs, wrt, others, shapes)
        return obj

    def _lower(self, dy, *other_values):
        base = [None] * self.n_inputs
        for p, v in zip(self.others, other_values):
            base[p] = v

        def forward(*diff):
            xs = list(base)
            for p, v in zip(self.wrt, diff):
                xs[p] = v
            return call_lowering(self.spec, self.lower_args, None, None, xs)[0][0]

        zeros = [jnp.zeros(shape, dy.dtype) for shape in self.shapes]
        _, vjp = jax.vjp(forward, *zeros)
        result = vjp(dy)
        return tuple(result) if len(result) > 1 else result[0]


class _GradFunction:
    """Base class: the grads of T's inputs ``wrt`` from (dy, T's inputs ``others``)."""

    forward_type = None
    wrt = (0,)
    others = ()
    kind = "DataGrad"

    def __init__(self, ctx, *args, **kwargs):
        self._forward = getattr(_function_module, self.forward_type)(ctx, *args, **kwargs)
        self._shapes = None

    @property
    def name(self):
        return f"{self.forward_type}{self.kind}"

    @property
    def args(self):
        return self._forward.info.args

    def min_outputs(self):
        return len(self.wrt)

    def _lower_args(self, inputs):
        """T's lowering args, completed as T's wrapper completes them for inputs of
        these shapes (a node recorded on placeholders; nothing is computed)."""
        n_inputs = len(REGISTRY[self.forward_type].declared.inputs)
        n_inputs = max(n_inputs, max(self.wrt + self.others, default=0) + 1)
        proxies = [None] * n_inputs
        for p, shape in zip(self.wrt, self._shapes):
            proxies[p] = Variable(shape)
        for p, v in zip(self.others, inputs[1:]):
            proxies[p] = Variable.from_numpy_array(np.zeros(v.shape, v.data.dtype))
        wrapper = getattr(_functions, REGISTRY[self.forward_type].declared.snake_name)
        args = {k: v for k, v in self._forward.info.args.items() if v is not None}
        while proxies and proxies[-1] is None:
            proxies.pop()
        y = wrapper(*proxies, **args)
        node = (y[0] if isinstance(y, (tuple, list)) else y).parent
        return node, len(node._inputs)

    def __call__(self, *inputs, n_outputs=-1, auto_forward=None, outputs=None):
        if self._shapes is None:
            raise ValueError(f"{self.name}: set the shapes of the inputs it differentiates "
                             "(xshape / wshape / xshapes) before calling it")
        node, n_inputs = self._lower_args(inputs)
        lowering = _VjpAtZero.get(node.spec, node.lower_args, n_inputs, tuple(self.wrt),
                                  tuple(self.others), tuple(map(tuple, self._shapes)))
        return apply_function(self.name, list(inputs), dict(node.info.args), outputs=outputs,
                              python_function=lowering, spec=internal_spec(self.name))


class _DataGrad(_GradFunction):
    @property
    def xshape(self):
        return None if self._shapes is None else self._shapes[0]

    @xshape.setter
    def xshape(self, shape):
        self._shapes = [tuple(shape)]


class _FilterGrad(_GradFunction):
    wrt = (1,)
    others = (0,)
    kind = "FilterGrad"

    @property
    def wshape(self):
        return None if self._shapes is None else self._shapes[0]

    @wshape.setter
    def wshape(self, shape):
        self._shapes = [tuple(shape)]


class _LinearDataGrad(_DataGrad):
    others = (1,)


class ConcatenateDataGrad(_GradFunction):
    forward_type = "Concatenate"

    @property
    def xshapes(self):
        return self._shapes

    @xshapes.setter
    def xshapes(self, shapes):
        self._shapes = [tuple(s) for s in shapes]
        self.wrt = tuple(range(len(self._shapes)))


def _make(base, forward_type):
    return type(f"{forward_type}{base.kind}", (base,), {"forward_type": forward_type})


# (module, class) as NNabla's backward_function modules name them
GRAD_FUNCTIONS = {
    "affine": [_make(_LinearDataGrad, "Affine"), _make(_FilterGrad, "Affine")],
    "convolution": [_make(_LinearDataGrad, "Convolution"), _make(_FilterGrad, "Convolution")],
    "deconvolution": [_make(_LinearDataGrad, "Deconvolution"),
                      _make(_FilterGrad, "Deconvolution")],
    "embed": [type("EmbedFilterGrad", (_FilterGrad,), {"forward_type": "Embed"})],
    "average_pooling": [_make(_DataGrad, "AveragePooling")],
    "sum_pooling": [_make(_DataGrad, "SumPooling")],
    "global_average_pooling": [_make(_DataGrad, "GlobalAveragePooling")],
    "unpooling": [_make(_DataGrad, "Unpooling")],
    "interpolate": [_make(_DataGrad, "Interpolate")],
    "transpose": [_make(_DataGrad, "Transpose")],
    "slice": [_make(_DataGrad, "Slice")],
    "pad": [_make(_DataGrad, "Pad")],
    "concatenate": [ConcatenateDataGrad],
}
