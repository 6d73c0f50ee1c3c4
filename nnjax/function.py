"""``nnabla.function``: the Function class, its per-type constructors, JaxFunction and
PythonFunction.

``nnabla.function.Affine(ctx, base_axis=1)`` (one constructor per registered
type, NNabla's argument names, order and defaults) makes a function object not
yet connected to a graph; calling it on Variables (or NdArrays) records it, and
it can also be driven directly (``setup``/``forward``/``backward``).

A PythonFunction subclass defines ``name``, ``min_outputs``, ``setup_impl``,
``forward_impl`` and ``backward_impl`` as in NNabla; calling an instance on
Variables records it in the graph like any function. Inside compiled
programs it runs on the host through ``jax.pure_callback`` (forward and
backward), so the rest of the graph stays in one XLA program. Both are
``JaxFunction``s: a node whose lowering is the object's own JAX function
(``nnjax.from_jax(f)`` makes one from any JAX function).
"""
import jax
import numpy as np

from . import functions as _functions
from ._apply import apply_function
from ._function import Function, FunctionInfo  # noqa: F401  (public: nnabla.function.*)
from ._ndarray import NdArray
from ._registry import REGISTRY, internal_spec
from ._specs import COMPUTED, REQUIRED
from ._variable import Variable


class JaxFunction:
    """A function of JAX arrays recorded as one node of the graph (``nnjax.from_jax``).

    Calling it on Variables records a node whose lowering is ``fn`` itself: output
    shapes come from ``jax.eval_shape``, gradients from JAX, and it is compiled into
    the same program as the rest of the graph (one program per node object: reuse the
    object to reuse compiled programs). ``fn`` returns an array or a tuple of arrays.
    """

    def __init__(self, fn=None, name=None):
        if fn is not None and not callable(fn):
            raise TypeError(f"from_jax: expected a callable, got {type(fn).__name__}")
        self._jax_fn = fn
        self._type_name = name or getattr(fn, "__name__", None) or type(fn).__name__

    @property
    def name(self):
        return self._type_name

    @property
    def args(self):
        return {}

    def _prepare(self, inputs):
        """What a subclass does before recording (PythonFunction: its setup_impl)."""

    def __call__(self, *inputs, n_outputs=-1, auto_forward=None, outputs=None):
        self._prepare(inputs)
        return apply_function(self.name, list(inputs), dict(self.args), outputs=outputs,
                              python_function=self, spec=internal_spec(self.name))

    def _lower(self, *xs):
        out = self._jax_fn(*xs)
        if isinstance(out, (tuple, list)):
            out = tuple(out)
            if len(out) == 1:
                out = out[0]
        items = out if isinstance(out, tuple) else (out,)
        for i, o in enumerate(items):
            if not hasattr(o, "shape") or not hasattr(o, "dtype"):
                raise TypeError(f"{self.name}: output {i} of the JAX function is a "
                                f"{type(o).__name__}; return an array or a tuple of arrays")
        return out

    def __repr__(self):
        return f"from_jax function {self.name!r}"


class PythonFunction(JaxFunction):
    """Base class of functions written in Python (numpy) by the user: a JaxFunction
    whose lowering calls ``forward_impl``/``backward_impl`` on the host."""

    def __init__(self, ctx=None):
        super().__init__()
        self.ctx = ctx
        self._out_meta = None
        self._n_in = None
        self._lower_fn = None

    @property
    def name(self):
        return type(self).__name__

    def min_outputs(self):
        """How many outputs the function has (a method, as in NNabla)."""
        return 1

    def grad_depends_output_data(self, i, o):
        return False

    def grad_depends_input_data(self, i, j):
        return True

    def setup_impl(self, inputs, outputs):
        raise TypeError(f"{self.name}: PythonFunction subclasses must define setup_impl")

    def forward_impl(self, inputs, outputs):
        raise TypeError(f"{self.name}: PythonFunction subclasses must define forward_impl")

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        raise TypeError(f"{self.name}: PythonFunction subclasses must define backward_impl")

    def __repr__(self):
        return f"PythonFunction {self.name!r}"

    # ------------------------------------------------------------ recording
    def _prepare(self, inputs):
        proxies_in = [Variable(x.shape) for x in inputs]
        n_out = self.min_outputs() if callable(self.min_outputs) else self.min_outputs
        proxies_out = [Variable(()) for _ in range(max(int(n_out), 1))]
        self.setup_impl(proxies_in, proxies_out)
        self._out_meta = [(tuple(v.shape), np.dtype(np.float32)) for v in proxies_out]
        self._n_in = len(inputs)
        self._lower_fn = self._make_lower()

    # ------------------------------------------------------------ lowering
    def _host_forward(self, *arrays):
        ins = [Variable.from_numpy_array(np.asarray(a)) for a in arrays]
        outs = [Variable(shape) for shape, _ in self._out_meta]
        self.forward_impl(ins, outs)
        return tuple(np.asarray(o.d, np.float32) for o in outs)

    def _host_backward(self, *arrays):
        n = self._n_in
        xs, ys, gys = arrays[:n], arrays[n:n + len(self._out_meta)], arrays[n + len(self._out_meta):]
        ins = [Variable.from_numpy_array(np.asarray(a)) for a in xs]
        outs = [Variable.from_numpy_array(np.asarray(y), np.asarray(g)) for y, g in zip(ys, gys)]
        for v in ins:
            v.g = 0
        self.backward_impl(ins, outs, [True] * n, [False] * n)
        return tuple(np.asarray(v.g, np.float32) for v in ins)

    def _make_lower(self):
        out_structs = tuple(jax.ShapeDtypeStruct(s, d) for s, d in self._out_meta)

        @jax.custom_vjp
        def run(*xs):
            return jax.pure_callback(self._host_forward, out_structs, *xs,
                                     vmap_method="sequential")

        def fwd(*xs):
            ys = run(*xs)
            return ys, (xs, ys)

        def bwd(res, gys):
            xs, ys = res
            in_structs = tuple(jax.ShapeDtypeStruct(x.shape, np.float32) for x in xs)
            gxs = jax.pure_callback(self._host_backward, in_structs, *xs, *ys, *gys,
                                    vmap_method="sequential")
            return tuple(g.astype(x.dtype) for g, x in zip(gxs, xs))

        run.defvjp(fwd, bwd)
        return run

    def _lower(self, *xs):
        if self._lower_fn is None:
            raise RuntimeError(f"{self.name}: call the function on inputs before running it")
        ys = self._lower_fn(*xs)
        return ys if len(ys) > 1 else ys[0]



# ---------------------------------------------------------------- per-type constructors
class ConstructedFunction(Function):
    """A function made by a constructor (``nnabla.function.Affine(ctx, ...)``): callable
    on inputs, which records it (its outputs' parent is this object)."""

    __slots__ = ()

    def __call__(self, *inputs, n_outputs=-1, auto_forward=None, outputs=None):
        wrapper = getattr(_functions, self.spec.declared.snake_name)
        args = {k: v for k, v in self.info.args.items() if v is not None}
        kwargs = {"outputs": outputs} if outputs is not None else {}
        result = wrapper(*inputs, **args, **kwargs)
        first = result[0] if isinstance(result, (tuple, list)) else result
        node = getattr(first, "parent", None)
        if node is not None:
            self._adopt(node)
        return result

    def _adopt(self, node):
        """Become the node the wrapper recorded (same inputs, outputs and state)."""
        for name in ("_inputs", "outputs", "spec", "need_grad", "rank", "rng_source",
                     "rng_key_data", "python_function", "lower_args"):
            setattr(self, name, getattr(node, name))
        self._info.args = node._info.args
        self._single_plan = None
        for o in self.outputs:
            o._parent = self


def _constructor(spec):
    declared = spec.declared
    names = declared.arg_names

    def construct(ctx=None, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{declared.type_name}: takes at most {len(names)} arguments "
                            f"after ctx ({list(names)}), got {len(args)}")
        given = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{declared.type_name}: unknown argument {k!r}; NNabla's "
                                f"arguments are {list(names)}")
            if k in given:
                raise TypeError(f"{declared.type_name}: argument {k!r} given twice")
            given[k] = v
        full = {}
        for a in declared.args:
            if a.name in given:
                full[a.name] = given[a.name]
            elif a.default is not REQUIRED and a.default is not COMPUTED:
                full[a.name] = a.default
            else:
                full[a.name] = None  # computed from the inputs when called
        fn = ConstructedFunction(spec, full, None)
        if ctx is not None:
            fn._context = ctx
        return fn

    construct.__name__ = construct.__qualname__ = declared.type_name
    construct.__doc__ = (f"A ``{declared.type_name}`` function object "
                         f"(arguments: {', '.join(names) or 'none'}).")
    return construct


for _type_name, _spec in REGISTRY.items():
    globals()[_type_name] = _constructor(_spec)
del _type_name, _spec

_ = NdArray
