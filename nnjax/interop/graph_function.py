"""An NNabla graph as a pure JAX function (``nnjax.to_jax``), and parameters back.

``fn, params = to_jax(outputs, inputs=[x, t])`` takes the recorded graph computing
``outputs`` and returns:

- ``params``: ``{NNabla parameter name: jax.Array}`` for the parameters the graph reads
  (names as ``nn.get_parameters(grad_only=False)`` gives them, e.g. ``"conv1/conv/W"``);
- ``fn(params, *arrays, rng=None) -> (outputs, new_state)``: the same computation as
  ``outputs.forward()``, as a pure function of JAX values. ``outputs`` has the structure
  the graph's outputs were given in (one array or a tuple); ``new_state`` maps the names
  of parameters the graph updates in place (batch-normalization running statistics in
  training mode) to their new values: ``params = {**params, **new_state}`` carries them.

The function runs the engine's own plan (``nnjax._plan.run_steps``): gradients through
it are nnjax's backward, parameters registered with ``need_grad=False`` get none, and it
composes with ``jax.jit``, ``jax.grad``, ``jax.vmap``, ``jax.lax.scan``, shardings and
``jax.export``. Leaves of the graph that are neither ``inputs`` nor parameters are
constants holding their values at ``to_jax`` time. Shapes are those the graph was
recorded with.
"""
from collections import OrderedDict

import numpy as np
import jax
import jax.numpy as jnp

from .. import parameter as _parameter
from .._backward import need_grad_slots
from .._forward import _state_slots
from .._plan import get_plan, jax_dtype, rng_rows, run_steps, step_callables
from .._variable import Variable

__all__ = ["to_jax", "set_parameters", "GraphFunction"]


def _current_value(variable):
    """A variable's data as a JAX array (a copy where the head is a numpy array
    the user may still write)."""
    nd = variable._buffers.data
    nd._sync(read=True)
    value = nd._input_value()
    dtype = jax_dtype(nd.dtype)
    if isinstance(value, np.ndarray):
        return jnp.asarray(np.array(value, dtype=dtype))
    return value if value.dtype == dtype else value.astype(dtype)


def _as_variable_list(what, value):
    if isinstance(value, Variable):
        return [value], True
    items = list(value)
    for i, v in enumerate(items):
        if not isinstance(v, Variable):
            raise TypeError(f"to_jax: {what}[{i}] must be a Variable, got {type(v).__name__}")
    return items, False


def _parameter_names(params):
    """{id of the buffers: name} of the parameters ``params`` (Variables by name)."""
    if params is None:
        params = _parameter.get_parameters(grad_only=False)
    names = {}
    for name, v in params.items():
        if not isinstance(v, Variable):
            raise TypeError(f"to_jax: params[{name!r}] must be a Variable, "
                            f"got {type(v).__name__}")
        names.setdefault(id(v._buffers), name)
    return names


class GraphFunction:
    """The pure function of a graph that ``to_jax`` returns (see the module doc).

    Attributes: ``input_shapes`` (the recorded shapes of the positional inputs),
    ``param_names`` (the parameters it reads), ``state_names`` (those it updates in
    place), ``frozen_names`` (those with ``need_grad=False``: no gradient),
    ``rng_functions`` (its stochastic Function nodes, in the order ``rng`` keys are
    given to them).
    """

    def __init__(self, outputs, single, inputs, params):
        plan = get_plan(outputs)
        self._steps = plan.steps
        self._callables = step_callables(plan)
        self._n_vars = len(plan.variables)
        self._out_slots = tuple(plan.index[id(v)] for v in outputs)
        self._single = single
        _, self._stop = need_grad_slots(plan)
        input_of = {id(v._buffers): k for k, v in enumerate(inputs)}
        name_of = _parameter_names(params)
        self._input_roots, self._param_roots, self._constants = [], [], []
        self._frozen = set()
        values = OrderedDict()
        for root in plan.roots:
            slot = plan.index[id(root)]
            key = id(root._buffers)
            if key in input_of:
                self._input_roots.append((slot, input_of[key]))
            elif key in name_of:
                name = name_of[key]
                self._param_roots.append((slot, name))
                if name not in values:
                    values[name] = _current_value(root)
                if not root.need_grad:
                    self._frozen.add(slot)
            else:
                self._constants.append((slot, _current_value(root)))
        used = {k for _, k in self._input_roots}
        unused = [k for k in range(len(inputs)) if k not in used]
        if unused:
            raise ValueError(f"to_jax: inputs {unused} are not leaves of the graph "
                             f"computing the outputs")
        param_slot = dict(self._param_roots)
        state = []
        for slot in _state_slots(plan, tuple(param_slot) + tuple(s for s, _ in self._constants)):
            if slot not in param_slot:
                fn = next(f for f, st in zip(plan.functions, plan.steps) if slot in st.ins)
                raise ValueError(f"to_jax: {fn.info.type_name} updates a leaf in place that is "
                                 "not a parameter; register it in the parameter scope or pass "
                                 "it in params")
            state.append((param_slot[slot], slot))
        self._state = tuple(state)
        self.state_names = tuple(OrderedDict.fromkeys(n for n, _ in state))
        self.param_names = tuple(values)
        trained = {n for s, n in self._param_roots if s not in self._frozen}
        self.frozen_names = tuple(n for n in values if n not in trained)
        self.input_shapes = tuple(tuple(v.shape) for v in inputs)
        self._input_dtypes = tuple(jax_dtype(v._buffers.data.dtype) for v in inputs)
        self.rng_functions = tuple(f for f in plan.rng_functions if f.python_function is None)
        # keys the steps take: one per stochastic function, a Grad node's inner ones too
        self._n_keys = sum(rng_rows(f.spec, f.python_function) for f in plan.rng_functions)
        self.initial_params = values

    def _keys(self, rng):
        n = self._n_keys
        if not n:
            return None
        if rng is None:
            names = sorted({f.info.type_name for f in self.rng_functions})
            raise ValueError(f"to_jax function: the graph has stochastic functions "
                             f"({', '.join(names)}); pass rng=jax.random.key(...)")
        dtype = getattr(rng, "dtype", None)
        if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
            if rng.shape == ():
                return jax.random.key_data(jax.random.split(rng, n))
            if rng.shape == (n,):
                return jax.random.key_data(rng)
            raise ValueError(f"to_jax function: rng must be one key or {n} keys, got keys "
                             f"of shape {rng.shape}")
        rng = jnp.asarray(rng)
        if rng.shape == (n, 2):  # one key per stochastic function, as nnjax draws them
            return rng.astype(jnp.uint32)
        if rng.shape != (2,):
            raise ValueError(f"to_jax function: rng must be a key, a (2,) uint32 key or "
                             f"({n}, 2) keys, got shape {rng.shape}")
        return jax.random.split(rng, n)

    def __call__(self, params, *arrays, rng=None):
        if len(arrays) != len(self.input_shapes):
            raise TypeError(f"to_jax function: takes {len(self.input_shapes)} input arrays "
                            f"after params, got {len(arrays)}")
        env = [None] * self._n_vars
        for slot, k in self._input_roots:
            value = jnp.asarray(arrays[k])
            if tuple(value.shape) != self.input_shapes[k]:
                raise ValueError(f"to_jax function: input {k} has shape {tuple(value.shape)}, "
                                 f"the graph was recorded with {self.input_shapes[k]}")
            # as writing x.d does: the values take the variable's dtype
            env[slot] = value.astype(self._input_dtypes[k])
        for slot, name in self._param_roots:
            try:
                value = params[name]
            except KeyError:
                raise KeyError(f"to_jax function: params has no {name!r} (the graph reads "
                               f"it)") from None
            env[slot] = jax.lax.stop_gradient(value) if slot in self._frozen else value
        for slot, value in self._constants:
            env[slot] = value
        updates = run_steps(self._steps, self._callables, env, self._keys(rng), stop=self._stop)
        outs = tuple(env[s] for s in self._out_slots)
        new_state = {name: updates.get(slot, env[slot]) for name, slot in self._state}
        return (outs[0] if self._single else outs), new_state

    def __repr__(self):
        return (f"<to_jax function: {len(self.input_shapes)} inputs, "
                f"{len(self.param_names)} parameters, {len(self._steps)} functions>")


def to_jax(outputs, inputs=(), params=None):
    """``(fn, params)``: the graph computing ``outputs`` as a pure JAX function.

    Args:
        outputs: a Variable or a list of Variables.
        inputs: the leaf Variables that become ``fn``'s positional array arguments.
        params: {name: Variable} naming the parameters (default: every parameter of the
            current scope, ``nn.get_parameters(grad_only=False)``).

    Returns ``fn(params, *arrays, rng=None) -> (outputs, new_state)`` and the current
    values of the parameters it reads, ``{name: jax.Array}``. ``rng`` (a JAX key) is
    needed when the graph has stochastic functions (Dropout, Rand...); an array of
    shape ``(len(fn.rng_functions), 2)`` gives each its own key.
    """
    outs, single = _as_variable_list("outputs", outputs)
    inputs, _ = _as_variable_list("inputs", inputs)
    if not outs:
        raise ValueError("to_jax: no outputs given")
    fn = GraphFunction(outs, single, inputs, params)
    return fn, dict(fn.initial_params)


def _flat_items(tree, prefix=""):
    for k, v in tree.items():
        name = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            yield from _flat_items(v, name)
        else:
            yield name, v


def set_parameters(values, need_grad=True):
    """Write ``{name: array}`` (nested dicts join their keys with '/') into the current
    parameter scope; a name not there yet is created (with ``need_grad``).

    Every value is checked against the existing parameter before any is written."""
    if not isinstance(values, dict):
        raise TypeError(f"set_parameters: expected a dict of arrays by parameter name, got "
                        f"{type(values).__name__}")
    items = list(_flat_items(values))
    for name, value in items:
        if isinstance(value, jax.core.Tracer):
            raise TypeError(f"set_parameters: {name!r} is a traced value; call "
                            "set_parameters outside jax.jit/grad")
        existing = _parameter.get_parameter(name)
        shape = tuple(np.shape(value))
        if existing is not None and existing.shape != shape:
            raise ValueError(f"set_parameters: {name!r} has shape {shape}, the parameter "
                             f"has shape {existing.shape}")
    for name, value in items:
        existing = _parameter.get_parameter(name)
        if existing is None:
            existing = _parameter.get_parameter_or_create(
                name, np.shape(value), need_grad=need_grad)
        nd = existing._buffers.data
        dtype = jax_dtype(nd.dtype)
        if isinstance(value, jax.Array):
            nd.data = value if value.dtype == dtype else value.astype(dtype)
        else:
            nd.data = np.asarray(value)
