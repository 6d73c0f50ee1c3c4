"""GraphConverter and FunctionModifier: rebuild a graph function by function.

``GraphConverter(modifiers).convert(outputs)`` runs each modifier over the graph in
turn: the outputs are tied to a temporary ``Sink`` and every function is visited in
forward order (``Variable.visit``). For each function the modifier receives the
*new* inputs (the outputs its earlier calls produced for the function's original
inputs) and returns either a Variable (the replacement of the function's output)
or None (the function is recorded again unchanged on the new inputs). The new
graph's roots are parentless variables sharing the original roots' buffers, so the
original graph is left as it was and both see the same data and parameters.
"""
import gc
from collections import defaultdict

import numpy as np

from ... import functions as F
from ..._apply import apply_function
from ..._registry import get_spec
from ..._variable import Variable
from ...parameter import (get_parameter, get_parameter_or_create, get_parameters,
                          parameter_scope)


def place_inputs(type_name, inputs, args):
    """The present ``inputs`` of ``type_name`` placed at their declared positions.

    NNabla leaves absent optional inputs out of ``f.inputs``; the recorder wants a
    None where one is absent (BatchNormalization's beta under ``no_bias``, gamma
    under ``no_scale``, a convolution's missing bias at the end)."""
    inputs = list(inputs)
    declared = get_spec(type_name).declared
    if declared is None or any(d.variadic for d in declared.inputs):
        return inputs
    if len(inputs) >= len(declared.inputs):
        return inputs
    absent = set()
    if args.get("no_bias"):
        absent.add("beta")
    if args.get("no_scale"):
        absent.add("gamma")
    present = iter(inputs)
    return [None if d.name in absent else next(present, None) for d in declared.inputs]


def call_function(type_name, inputs, args):
    """Record ``type_name`` with NNabla's ``args`` on ``inputs``; returns its output
    (a Variable) or its outputs (a list) when it has several."""
    out = apply_function(type_name, place_inputs(type_name, inputs, args), dict(args))
    return list(out) if isinstance(out, tuple) else out


def present_input_names(f):
    """Declared names of ``f``'s present inputs, in the order of ``f.inputs``."""
    declared = f.spec.declared
    if declared is None or any(d.variadic for d in declared.inputs):
        return [f"x{i}" for i in range(len(f.inputs))]
    return [d.name for d, v in zip(declared.inputs, f._inputs) if v is not None]


def parameter_name_of(v):
    """The name (under the current scope) of the parameter whose buffers ``v``
    shares, or None."""
    for name, param in get_parameters(grad_only=False).items():
        if param == v:
            return name
    return None


def parameter_scope_of(v):
    """The scope of the parameter ``v`` ('' when ``v`` is no registered parameter)."""
    name = parameter_name_of(v)
    return "" if name is None else "/".join(name.split("/")[:-1])


def parameter_beside(like, name, values, need_grad=True):
    """A parameter ``name`` holding ``values`` in the scope of parameter ``like``
    (where NNabla's modifiers put what they create). An existing parameter of that
    name is reused when it holds the same values; when it holds others (another
    graph's, or values from before training) the new one is ``<name>-1``, ``-2``...
    so no converted graph changes under another. When ``like`` is not a registered
    parameter the new one is an unregistered variable: registering it at the root
    would make every such layer share it."""
    values = np.asarray(values, np.float32)
    if parameter_name_of(like) is None:
        return Variable.from_numpy_array(values, need_grad=need_grad)
    with parameter_scope(parameter_scope_of(like)):
        return parameter_holding(name, values, need_grad)


def parameter_holding(name, values, need_grad=True):
    """Parameter ``name`` of the current scope holding ``values``: an existing one
    with the same values, else a new one (``<name>-1``, ``-2``... when ``name``
    holds other values)."""
    values = np.asarray(values, np.float32)
    candidate, k = name, 0
    while True:
        existing = get_parameter(candidate)
        if existing is None or (existing.shape == values.shape
                                and np.array_equal(existing.d, values)):
            return get_parameter_or_create(candidate, values.shape, values, need_grad)
        k += 1
        candidate = f"{name}-{k}"


def _as_list(o):
    if isinstance(o, tuple):
        return list(o)
    return o if isinstance(o, list) else [o]


class FunctionModifier(object):
    """Base class of modifiers: subclass it and implement ``modify(f, inputs)``.

    ``modify`` is called for each function ``f`` of the original graph in forward
    (topological) order with ``inputs``, the new inputs of ``f``. It returns the
    Variable replacing ``f``'s output in the new graph, or None to record ``f``
    again unchanged on ``inputs``. ``__finish__`` (optional) clears a subclass's
    state once a conversion is over.
    """

    def __init__(self):
        super(FunctionModifier, self).__init__()
        self._map_func_inputs = defaultdict(list)  # original function -> new inputs

    def init_map_func_inputs(self, f, inputs):
        """Set the new inputs ``f`` will receive (e.g. replaced graph inputs)."""
        self._map_func_inputs[f] = list(inputs)

    def get_parameter_scope(self, v):
        """The parameter scope of ``v`` ('' when ``v`` is not a parameter)."""
        return parameter_scope_of(v)

    def _copy_inputs(self, inputs):
        return [inp.get_unlinked_variable(need_grad=inp.need_grad) for inp in inputs]

    def _new_inputs(self, f):
        originals = f.inputs
        if (not originals or originals[0].parent is None) and f not in self._map_func_inputs:
            self._map_func_inputs[f] = self._copy_inputs(originals)
        inputs = self._map_func_inputs[f]
        # inputs no earlier function produced (parameters, graph inputs) stay the
        # originals, also past the end of a shorter list given to init_map_func_inputs
        inputs.extend(originals[len(inputs):])
        for i, inp in enumerate(inputs):
            if inp is None and i < len(originals):
                inputs[i] = originals[i]
        return inputs

    def __call__(self, f):
        inputs = self._new_inputs(f)
        o = self.modify(f, inputs)
        if o is not None and not isinstance(o, (Variable, list, tuple)):
            raise ValueError(f"{type(self).__name__}.modify({f.info.type_name}): return None "
                             f"or nn.Variable, got {type(o).__name__}")
        if o is None:
            o = self._modify_as_same(f, inputs)
        outputs = _as_list(o)
        self.outputs = outputs
        for old, new in zip(f.outputs, outputs):
            for func in old.alive_consumers():
                if len(self._map_func_inputs[func]) == 0:
                    self._map_func_inputs[func] = [None] * len(func.inputs)
                for i, inp in enumerate(func.inputs):
                    if inp == old:
                        self._map_func_inputs[func][i] = new

    def modify(self, f, inputs):
        """Return the replacement of ``f``'s output, or None to keep ``f``.

        ``f`` is the original function (``f.info.type_name``, ``f.info.args``,
        ``f.inputs``, ``f.outputs`` of the original graph); ``inputs`` are its new
        inputs. Example: ``if f.info.type_name == 'ReLU': return F.leaky_relu(inputs[0])``.
        """
        return None

    def _modify_as_same(self, f, inputs):
        return self._call_function(f.info.type_name, inputs, f.info.args)

    def _call_function(self, type_name, inputs, args):
        return call_function(type_name, inputs, args)

    def __finish__(self):
        """Clear the subclass's per-conversion state (override if needed)."""
        pass

    def finish_up(self):
        """Clear the per-conversion state; GraphConverter calls it after each conversion."""
        self._map_func_inputs = defaultdict(list)
        self.__finish__()


class GraphConverter(object):
    """Convert a graph with ``modifiers`` (FunctionModifiers, or lists of them), in order."""

    def __init__(self, modifiers=[]):
        self._modifiers = self._prepare_modifiers(modifiers)

    def _prepare_modifiers(self, modifiers):
        flat = []
        for m in modifiers:
            if isinstance(m, (list, tuple)):
                flat += self._prepare_modifiers(m)
            elif isinstance(m, FunctionModifier):
                flat.append(m)
            else:
                raise TypeError(f"GraphConverter: modifiers must be FunctionModifiers, "
                                f"got {type(m).__name__}")
        return flat

    def convert(self, o):
        """The converted output(s): a list for a list of outputs, else one Variable."""
        outputs = _as_list(o)
        for i, v in enumerate(outputs):
            if not isinstance(v, Variable):
                raise TypeError(f"GraphConverter.convert: output {i} is a "
                                f"{type(v).__name__}, not an nn.Variable")
            if v.parent is None:
                raise ValueError(f"GraphConverter.convert: output {i} {v.shape} has no "
                                 "parent function; there is no graph to convert")
        gc.collect()  # once: the modifiers then ask each variable for its live consumers
        for modifier in self._modifiers:
            sink = F.sink(*outputs)
            sink.visit(modifier)
            outputs = list(modifier.outputs[0].parent.inputs)
            modifier.finish_up()
        return outputs if isinstance(o, (list, tuple)) else outputs[0]
