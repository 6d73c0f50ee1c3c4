"""Applying a function: record a graph node, or compute at once.

Every ``nnabla.functions`` wrapper ends in ``apply_function``:
- Variable inputs: a Function node is recorded, output shapes come from
  ``jax.eval_shape`` of the lowering (errors surface here, naming the
  function and the shapes). Under auto-forward the node is also queued for
  computation.
- NdArray inputs (imperative mode): the function runs now and NdArrays
  come back.
``info.args`` are completed from the registry: every NNabla argument the wrapper
left out gets NNabla's default, and an argument NNabla does not have is an error.
A data-dependent function (``spec.data_dependent``) reads its inputs' values
first: its ``sizes`` rule turns them into extra keyword args of the lowering
(kept in ``Function.lower_args``; ``info.args`` stays NNabla's args).
"""
import dataclasses
import weakref

import numpy as np
import jax
import jax.numpy as jnp

from . import _modes
from ._forward import function_op, run_function
from ._ndarray import NdArray
from ._plan import infer_outputs
from ._queue import enqueue
from .context import get_current_context
from ._registry import get_spec
from ._function import Function
from ._variable import Variable, _Buffers


def _meta(x):
    return (x.shape, x._dtype if isinstance(x, NdArray) else x._buffers.data._dtype)


def _numeric(x, type_name, i):
    """``x`` as a numeric numpy array (float64 narrowed to float32), else TypeError."""
    try:
        arr = np.asarray(x)
    except ValueError as e:  # ragged lists
        raise TypeError(f"{type_name}: input {i} is not a numeric array ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{type_name}: input {i} must hold numbers, got an array of "
                        f"dtype {arr.dtype} from {type(x).__name__}")
    return arr.astype(np.float32) if arr.dtype == np.float64 else arr


def _as_variable(x, type_name, i):
    if isinstance(x, Variable) or x is None:
        return x
    if isinstance(x, (np.ndarray, np.generic, float, int, list, tuple)):
        arr = _numeric(x, type_name, i)
        return Variable.from_numpy_array(arr)
    raise TypeError(f"{type_name}: input {i} must be a Variable, NdArray or numpy array, "
                    f"got {type(x).__name__}")


def _as_ndarray(x, type_name, i):
    if isinstance(x, NdArray) or x is None:
        return x
    if isinstance(x, Variable):
        return x.data
    if isinstance(x, (np.ndarray, np.generic, float, int, list, tuple)):
        arr = _numeric(x, type_name, i)
        return NdArray.from_numpy_array(arr)
    raise TypeError(f"{type_name}: input {i} must be a Variable, NdArray or numpy array, "
                    f"got {type(x).__name__}")


def host_values(x):
    """The current values of an input as numpy (a copy; a Variable is computed first
    if needed): what a data-dependent function reads when it is recorded."""
    if x is None:
        return None
    if isinstance(x, Variable):
        if x.parent is not None:
            x.forward()
        return np.array(x.d)
    if isinstance(x, NdArray):
        return np.array(x.data)
    return np.array(x)


def apply_function(type_name, inputs, args, outputs=None, python_function=None, spec=None):
    """Record (or, for NdArray inputs, compute) NNabla function ``type_name``.

    Returns one output, or a tuple when the function has several.
    ``outputs``: NdArrays to write the results into (in graph mode, at each forward).
    """
    spec = spec if spec is not None else get_spec(type_name)
    recorder = _graph_recorder(inputs)
    if recorder is not None:
        return _record_symbolic(recorder, spec, type_name, inputs, args, python_function)
    imperative = any(isinstance(x, NdArray) for x in inputs)
    if imperative:
        inputs = [_as_ndarray(x, type_name, i) for i, x in enumerate(inputs)]
        for x in inputs:
            if x is not None and x._dtype_unset:
                x._set_dtype(x._dtype)  # as NNabla: a function reads a fresh array as float32
    else:
        inputs = [_as_variable(x, type_name, i) for i, x in enumerate(inputs)]
    meta = [None if x is None else _meta(x) for x in inputs]
    args, lower_args = spec.complete_args(args)
    if spec.data_dependent:
        lower_args = dict(args, **spec.sizes([host_values(x) for x in inputs], **args))
    elif python_function is None:
        spec = _reduced_precision(spec, meta)
    out_meta = infer_outputs(spec, lower_args, meta, python_function)

    if imperative:
        vars_in = [None if x is None else Variable._with_buffers(_Buffers(x, NdArray(x.shape, np.float32)))
                   for x in inputs]
        fn = _function(spec, args, vars_in, python_function, lower_args)
        _set_rng_source(fn, args)
        results = []
        for i, (shape, dtype) in enumerate(out_meta):
            target = outputs[i] if outputs is not None and i < len(outputs) else None
            if target is not None and target.shape != shape:
                raise ValueError(f"{type_name}: outputs[{i}] has shape {target.shape}, "
                                 f"the result has shape {shape}")
            arr = target if target is not None else NdArray(shape, dtype)
            v = Variable._with_buffers(_Buffers(arr, NdArray(shape, np.float32)))
            v._parent = fn
            fn.outputs.append(v)
            results.append(arr)
        run_function(fn)
        return results[0] if len(results) == 1 else tuple(results)

    fn = _function(spec, args, inputs, python_function, lower_args)
    _set_rng_source(fn, args)
    no_grad = _modes.grad_disabled()
    fn.need_grad = (not no_grad) and any(x is not None and x.need_grad for x in inputs)
    rank = 0
    for x in inputs:
        if x is not None:
            x._consumers.append(weakref.ref(fn))
            if x._parent is not None and x._parent.rank + 1 > rank:
                rank = x._parent.rank + 1
    fn.rank = rank
    results = []
    for i, (shape, dtype) in enumerate(out_meta):
        v = Variable(shape, need_grad=False if no_grad else None)
        target = outputs[i] if outputs is not None and i < len(outputs) else None
        if target is not None:
            # the output's data is the given array (written at each forward)
            if tuple(target.shape) != tuple(shape):
                raise ValueError(f"{type_name}: outputs[{i}] has shape {target.shape}, "
                                 f"the result has shape {shape}")
            v._buffers.data = target
        elif dtype != np.float32:
            v._buffers.data._dtype = np.dtype(dtype)
        v._parent = fn
        fn.outputs.append(v)
        results.append(v)
    if _modes.get_auto_forward():
        enqueue(function_op(fn))
    return results[0] if len(results) == 1 else tuple(results)


# ---------------------------------------------------------------- symbolic inputs
# An input whose class has ``record_function`` (``nnabla.ProtoVariable``) is a
# placeholder of a graph being described, not computed: the call is handed to
# that method with NNabla's completed args and the output shapes, and what it
# returns (placeholders of the outputs) is the result.
def _graph_recorder(inputs):
    for x in inputs:
        recorder = getattr(type(x), "record_function", None)
        if recorder is not None:
            return recorder
    return None


def _record_symbolic(recorder, spec, type_name, inputs, args, python_function):
    if spec.data_dependent:
        raise TypeError(f"{type_name}: its output shape depends on input values, so it "
                        "cannot be recorded on ProtoVariable placeholders")
    args, lower_args = spec.complete_args(args)
    meta = [None if x is None else _symbolic_meta(x) for x in inputs]
    out_meta = infer_outputs(spec, lower_args, meta, python_function)
    return recorder(type_name, list(inputs), args, [shape for shape, _ in out_meta])


def _symbolic_meta(x):
    if isinstance(x, (Variable, NdArray)):
        return _meta(x)
    if hasattr(type(x), "record_function"):
        return tuple(x.shape), np.dtype(np.float32)
    arr = np.asarray(x)
    return arr.shape, arr.dtype


def _set_rng_source(fn, args):
    if fn.spec.rng:
        seed = args.get("seed", -1)
        if seed is not None and seed != -1:
            fn.rng_source = np.random.RandomState(seed)


# ---------------------------------------------------------------- reduced precision
# Mixed precision (issue 5): under a context whose type_config is 'half'
# ('mixed_half') or 'bfloat16', a function computes in float16 / bfloat16.
# Its float32 inputs (parameters, data) are cast to the compute dtype inside
# the lowering, so the stored parameters stay float32 (the solver's master
# weights) and their gradients come back float32 through the cast. In-place
# state outputs (batch-norm running statistics) are cast back to the stored
# dtype. The wrapped spec gets a distinct internal type name
# ("<Type>@float16"), which keeps compiled programs of float and half graphs
# apart; Function.info.type_name stays NNabla's name.
# Under the 'float' context, as NNabla's float kernels read every input as float, a
# function of float16/bfloat16 inputs computes (and outputs) float32: a Variable's
# ``.d`` has the dtype of the kernel that wrote it, float16 only under 'half'.
_COMPUTE_DTYPES = {"half": "float16", "mixed_half": "float16", "bfloat16": "bfloat16",
                   "float": "float32"}
_CAST_FROM = {"float16": ("float32",), "bfloat16": ("float32",),
              "float32": ("float16", "bfloat16")}
_reduced_specs = {}


def _reduced_precision(spec, meta):
    """``spec`` itself, or its casting variant computing in the context's float type."""
    dtype = _COMPUTE_DTYPES.get(get_current_context().type_config)
    # a generator (linspace, rand, constant) stores its output in a reduced type
    no_inputs = dtype != "float32" and all(m is None for m in meta)
    # on the CPU a function of inputs already in the reduced type computes in float32 too
    widened = _widens(dtype)
    if dtype is None or not (no_inputs or any(
            m is not None and (np.dtype(m[1]).name in _CAST_FROM[dtype]
                               or widened and np.dtype(m[1]).name == dtype) for m in meta)):
        return spec
    key = (spec.type_name, spec.lower, dtype)
    wrapped = _reduced_specs.get(key)
    if wrapped is None:
        wrapped = dataclasses.replace(spec, type_name=f"{spec.type_name}@{dtype}",
                                      lower=_casting_lower(spec, dtype),
                                      rounds_inputs_to=np.dtype(jnp.dtype(dtype))
                                      if widened and dtype != "float32" else None)
        _reduced_specs[key] = wrapped
    return wrapped


def _widens(dtype_name):
    """Whether functions of the reduced type ``dtype_name`` compute in float32 here."""
    return dtype_name in ("float16", "bfloat16") and jax.default_backend() == "cpu"


_storage_dtypes = []  # (while tracing) the type a float32-computed function stores


def round_to_storage(x):
    """Inside a reduced-precision function computed in float32: ``x`` rounded to the
    stored type, where the separate functions a fused one stands for (conv, BN, add)
    would each store their result."""
    return x.astype(_storage_dtypes[-1]).astype(x.dtype) if _storage_dtypes else x


def _casting_lower(spec, dtype_name):
    dtype = jnp.dtype(dtype_name)
    cast_from = tuple(jnp.dtype(d) for d in _CAST_FROM[dtype_name])
    lower, rng, state_inputs = spec.lower, spec.rng, spec.state_inputs
    # XLA's CPU has no half arithmetic: it widens each operation anyway, but sums in
    # the narrow type. There a reduced-precision function computes in float32 from
    # inputs rounded to its type and rounds its outputs (half storage, float
    # arithmetic: the accuracy of NNabla's half kernels, which accumulate in float).
    widen = _widens(dtype_name)

    def cast_lower(*xs, **kw):
        head, xs = (xs[:1], xs[1:]) if rng else ((), xs)
        stored = [None if x is None else x.dtype for x in xs]
        xs = [x.astype(dtype) if x is not None and x.dtype in cast_from else x for x in xs]
        if widen:
            xs = [x.astype(jnp.float32) if x is not None and x.dtype == dtype else x
                  for x in xs]
            _storage_dtypes.append(dtype)
        try:
            out = lower(*head, *xs, **kw)
        finally:
            if widen:
                _storage_dtypes.pop()
        # computed in float32 (widened, or a generator's float output): stored in dtype
        if widen or all(x is None for x in xs):
            many = isinstance(out, (tuple, list))
            out = tuple(o.astype(dtype) if o is not None and o.dtype == jnp.float32 else o
                        for o in (out if many else (out,)))
            out = out if many else out[0]
        if not state_inputs:
            return out
        out = list(out)
        base = len(out) - len(state_inputs)
        for j, k in enumerate(state_inputs):
            if k < len(stored) and stored[k] is not None:
                out[base + j] = out[base + j].astype(stored[k])
        return tuple(out)
    return cast_lower


def _function(spec, args, inputs, python_function, lower_args):
    """A Function node whose info carries NNabla's type name (not the '@dtype' one)."""
    fn = Function(spec, args, inputs, python_function, lower_args)
    if "@" in spec.type_name:
        fn._info.type_name = spec.type_name.split("@", 1)[0]
    return fn
