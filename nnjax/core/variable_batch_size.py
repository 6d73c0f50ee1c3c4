"""The batch axis of a proto network as -1 (``nnabla.core.variable_batch_size``).

NNabla's rule: the batch size is the product of the dimensions before the
``base_axis`` of the first function that has one; every variable whose first
dimension is that size gets -1 there, functions with ``base_axis`` > 1 are
rewritten to ``base_axis`` 1 over a flattened batch axis, and the ``shape``
arguments of Reshape, Broadcast, Constant and the random generators start
with -1. Variables computed from parameters only keep their shapes.
"""
import numpy as np

_SHAPE_ARG_TYPES = ("Constant", "Rand", "Randint", "Randn", "RandBinomial", "RandBeta",
                    "RandGamma")


def _batch_size_of(network):
    size = None
    for pf in network.forward_sequence():
        base_axis = (pf.args or {}).get("base_axis", 0)
        if base_axis:
            for name in pf.inputs:
                if name in network.variables:
                    size = int(np.prod(network.variables[name].shape[:base_axis]))
                    break
    return size


def _flatten_batch(shape, base_axis):
    return (int(np.prod(shape[:base_axis])),) + tuple(shape[base_axis:])


def variable_batch_size(network):
    """Rewrite ``network`` (a graph_def ProtoNetwork) in place; sets its batch_size."""
    batch = _batch_size_of(network)
    if batch is None:
        return
    resolved, constant = set(), set()
    for pf in network.forward_sequence():
        args = pf.args if pf.args is not None else {}
        data_input = next((n for n in pf.inputs
                           if n in network.variables and n not in constant), None)
        if data_input is None:  # computed from parameters only: no batch axis
            constant.update(pf.outputs)
            continue
        base_axis = args.get("base_axis", 1)
        if "base_axis" in args and base_axis != 1:
            for name in pf.inputs:
                if name in network.variables and name not in resolved and name not in constant:
                    v = network.variables[name]
                    v.shape = _flatten_batch(v.shape, base_axis)
                    resolved.add(name)
            for name in pf.outputs:
                if name not in resolved:
                    v = network.variables[name]
                    v.shape = _flatten_batch(v.shape, base_axis)
            args["base_axis"] = 1
        if pf.type == "Reshape":
            shape = list(args["shape"])
            if shape[0] != batch:
                raise ValueError(f"variable_batch_size: Reshape {pf.name!r} shape {shape} does "
                                 f"not start with the batch size {batch}")
            args["shape"] = [-1] + shape[1:]
        elif pf.type == "Broadcast":
            shape = list(args["shape"])
            input_shape = [batch] + list(network.variables[pf.inputs[0]].shape[1:])
            extra = len(shape) - len(input_shape)
            if extra > 0:
                if int(np.prod(shape[:extra + 1])) != batch:
                    raise ValueError(f"variable_batch_size: Broadcast {pf.name!r} shape {shape} "
                                     f"does not lead with the batch size {batch}")
                args["shape"] = [-1] + shape[extra + 1:]
            else:
                if shape[0] != batch:
                    raise ValueError(f"variable_batch_size: Broadcast {pf.name!r} shape "
                                     f"{shape} does not start with the batch size {batch}")
                args["shape"] = [-1] + shape[1:]
        elif pf.type in _SHAPE_ARG_TYPES:
            shape = list(args["shape"])
            if shape and shape[0] == batch:
                args["shape"] = [-1] + shape[1:]
        if hasattr(pf, "_proto"):
            pf._proto = None
    for v in network.variables.values():
        if v.shape and v.name not in constant and v.shape[0] == batch:
            v.shape = (-1,) + tuple(v.shape[1:])
            v._proto = None
    network.batch_size = batch


# ---------------------------------------------------------------- plain records
class _RecordVariable:
    __slots__ = ("name", "_shapes", "_proto")

    def __init__(self, name, shapes):
        self.name, self._shapes, self._proto = name, shapes, None

    @property
    def shape(self):
        return tuple(self._shapes[self.name])

    @shape.setter
    def shape(self, value):
        self._shapes[self.name] = [int(d) for d in value]


class _RecordFunction:
    __slots__ = ("name", "type", "args", "inputs", "outputs")

    def __init__(self, name, type_name, args, inputs, outputs):
        self.name, self.type, self.args = name, type_name, args
        self.inputs, self.outputs = list(inputs), list(outputs)


class _RecordNetwork:
    def __init__(self, functions, shapes, buffers):
        self.variables = {n: _RecordVariable(n, shapes) for n in buffers}
        self._functions = [_RecordFunction(*f) for f in functions]
        self.batch_size = None

    def forward_sequence(self):
        return iter(self._functions)


def rewrite_records(functions, shapes, buffers):
    """NNabla's rule over plain records (for writers that keep no ProtoNetwork).

    ``functions``: [(name, type, args, input names, output names)] in forward order,
    their ``args`` dicts are edited in place; ``shapes``: {variable name: shape list},
    edited in place; ``buffers``: the names of the activation (non-parameter)
    variables. Returns the batch size found, or None (nothing changed).
    """
    network = _RecordNetwork(functions, shapes, buffers)
    variable_batch_size(network)
    return network.batch_size
