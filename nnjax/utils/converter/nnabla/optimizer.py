"""Graph optimization of NNP networks (``optimize_nnp``, what ``nnabla_cli optimize`` runs).

Folds linear layers whose operands are constants (parameters, possibly through a
Reshape) into a single ``Affine``:

- ``BatchMatmul(x, W)`` with a constant ``W`` whose batch axes are all 1 (what
  importers make of a MatMul) becomes ``Affine(x, W, base_axis=x.ndim-1)``;
- ``Affine`` followed by ``MulScalar``/``AddScalar`` or by ``Mul2``/``Add2``/``Sub2``/
  ``Div2`` with a constant that varies only along the output features takes that
  operation into new weights and bias (so MatMul + bias add is one Affine).

Only intermediate variables nothing else reads are folded away; the network's
inputs and outputs keep their names and shapes. The new weights are new parameters
of the graph (the old ones stay until ``prune_parameters`` drops unused ones).
"""
from collections import OrderedDict

import numpy as np

from .... import parameter as P
from ...._variable import Variable
from ....core import graph_def as gd
from ....core.graph_def import ProtoFunction, ProtoVariable
from ... import get_file_handle as fh

__all__ = ["optimize_nnp", "optimize_network", "prune_parameters", "optimize_nnp_file"]

_SCALE_OPS = {"Mul2": np.multiply, "Div2": np.divide}
_SHIFT_OPS = {"Add2": np.add, "Sub2": np.subtract}


class _Net:
    """A network being rewritten, with the graph's parameter values."""

    def __init__(self, network, values):
        self.net = network
        self.values = values          # name -> ndarray of the graph's parameters
        self.outputs = set(network.outputs)
        self.new_params = OrderedDict()

    def consumers(self, name):
        return [f for f in self.net.functions.values() if name in f.inputs]

    def producer(self, name):
        for f in self.net.functions.values():
            if name in f.outputs:
                return f
        return None

    def shape(self, name):
        return tuple(self.net._lookup(name).shape)

    def constant(self, name):
        """The value of ``name`` when it is a parameter or a Reshape of one, else None."""
        if name in self.net.parameters:
            return self.values.get(name)
        f = self.producer(name)
        if f is not None and f.type == "Reshape" and len(f.inputs) == 1:
            value = self.constant(f.inputs[0])
            if value is not None:
                return value.reshape(self.shape(name))
        return None

    def only_read_by(self, name, f):
        """``name`` is read by ``f`` alone and is not a network output."""
        return name not in self.outputs and [g.name for g in self.consumers(name)] == [f.name]

    def add_parameter(self, base, value):
        name, i = base, 0
        while name in self.net.parameters or name in self.net.variables or name in self.values:
            i += 1
            name = f"{base}_{i}"
        pv = ProtoVariable(value.shape, name, True, "Parameter")
        self.net.parameters[name] = pv
        self.values[name] = value
        self.new_params[name] = value
        return name

    def replace(self, first, last, new_type, inputs, args):
        """Put one function ``new_type(inputs)`` computing ``last``'s outputs in place of
        ``first`` .. ``last`` (``first``'s outputs must be read by ``last`` only)."""
        if first is not last:
            for o in first.outputs:
                self.net.variables.pop(o, None)
        new = ProtoFunction(None, new_type, args, first.name, self.net)
        new.inputs = list(inputs)
        new.outputs = list(last.outputs)
        functions = OrderedDict()
        for name, f in self.net.functions.items():
            if f is first:
                functions[name] = new
            elif f is not last:
                functions[name] = f
        self.net.functions = functions
        return new


def _matmul_to_affine(n, f):
    if f.type != "BatchMatmul" or f.args.get("transpose_a", False) or len(f.inputs) != 2:
        return False
    x, w = f.inputs
    value = n.constant(w)
    if value is None or n.constant(x) is not None:
        return False
    x_shape = n.shape(x)
    if value.ndim < 2 or value.ndim > len(x_shape) or int(np.prod(value.shape[:-2])) != 1:
        return False
    weight = value.reshape(value.shape[-2:])
    if f.args.get("transpose_b", False):
        weight = weight.T
    if weight.shape[0] != x_shape[-1]:
        return False
    name = n.add_parameter(f"{f.name}/affine/W", np.ascontiguousarray(weight))
    n.replace(f, f, "Affine", [x, name], {"base_axis": len(x_shape) - 1})
    return True


def _feature_constant(n, affine, other, y_shape):
    """``other`` as an array over the Affine's output features, when it is a constant
    that broadcasts to ``y_shape`` without varying along the base axes, else None."""
    value = n.constant(other)
    if value is None or value.ndim > len(y_shape):
        return None
    base = affine.args.get("base_axis", 1)
    padded = value.reshape((1,) * (len(y_shape) - value.ndim) + value.shape)
    if any(d != 1 for d in padded.shape[:base]) or any(d < 0 for d in y_shape[base:]):
        return None
    features = tuple(y_shape[base:])
    try:
        if np.broadcast_shapes(padded.shape[base:], features) != features:
            return None
    except ValueError:
        return None
    return np.broadcast_to(padded[(0,) * base], features).astype(np.float32)


def _fold_into_affine(n, f):
    """``f`` (an Affine with constant weights) absorbs the one function reading its output."""
    if f.type != "Affine" or len(f.outputs) != 1:
        return False
    y = f.outputs[0]
    readers = n.consumers(y)
    if len(readers) != 1 or not n.only_read_by(y, readers[0]):
        return False
    g = readers[0]
    weight = n.constant(f.inputs[1])
    bias = n.constant(f.inputs[2]) if len(f.inputs) > 2 else None
    if weight is None or (len(f.inputs) > 2 and bias is None):
        return False
    out_shape = weight.shape[1:]
    bias = np.zeros(out_shape, np.float32) if bias is None else bias.reshape(out_shape)
    if g.type == "MulScalar":
        scale, shift = np.full(out_shape, g.args["val"], np.float32), 0.0
    elif g.type == "AddScalar":
        scale, shift = 1.0, np.full(out_shape, g.args["val"], np.float32)
    elif g.type in _SCALE_OPS or g.type in _SHIFT_OPS:
        other_index = 1 if g.inputs[0] == y else 0
        if g.type in ("Sub2", "Div2") and other_index == 0:
            return False  # c - y, c / y: not an affine map of y
        c = _feature_constant(n, f, g.inputs[other_index], n.shape(y))
        if c is None:
            return False
        if g.type in _SCALE_OPS:
            scale, shift = _SCALE_OPS[g.type](np.ones_like(c), c), 0.0
        else:
            scale, shift = 1.0, _SHIFT_OPS[g.type](np.zeros_like(c), c)
    else:
        return False
    new_weight = (weight * scale).astype(np.float32)
    new_bias = (bias * scale + shift).astype(np.float32)
    w_name = n.add_parameter(f"{f.name}/folded/W", new_weight)
    b_name = n.add_parameter(f"{f.name}/folded/b", new_bias)
    n.replace(f, g, "Affine", [f.inputs[0], w_name, b_name], dict(f.args))
    return True


def _drop_dead(n):
    """Remove functions none of whose outputs is read or is a network output."""
    changed = True
    while changed:
        changed = False
        for name, f in list(n.net.functions.items()):
            if not any(o in n.outputs or n.consumers(o) for o in f.outputs):
                del n.net.functions[name]
                for o in f.outputs:
                    n.net.variables.pop(o, None)
                changed = True


def _relink(net):
    for v in list(net.variables.values()) + list(net.parameters.values()):
        v.parent, v.required = None, []
    for f in net.functions.values():
        for i in f.inputs:
            net._lookup(i).required.append(f.name)
        for o in f.outputs:
            net._lookup(o).parent = f.name
    net._update_network_ports()


def optimize_network(graph_def, network):
    """An optimized copy of ``network`` (one of ``graph_def``'s); the new weights are set
    as parameters of ``graph_def``."""
    looped = [f.name for f in network.functions.values() if f.repeat_id]
    if looped:
        raise ValueError(f"optimize_nnp: network {network.name!r} has repeat/recurrent "
                         f"functions ({looped[:3]}); expand them before optimizing")
    values = {k: np.asarray(v.d, np.float32) for k, v in graph_def.get_parameters().items()}
    n = _Net(network.clone(), values)
    outputs = list(network.outputs)
    progress = True
    while progress:
        progress = False
        for f in list(n.net.functions.values()):
            if _matmul_to_affine(n, f) or _fold_into_affine(n, f):
                progress = True
                break
    _drop_dead(n)
    _relink(n.net)
    n.net.outputs = outputs
    for name, value in n.new_params.items():
        graph_def.set_parameter(name, Variable.from_numpy_array(value, need_grad=True))
    return n.net


def optimize_nnp(graph_def):
    """An optimized copy of ``graph_def``'s first network (NNabla's
    ``nnabla.utils.converter.nnabla.optimizer.optimize_nnp``). Store the result with
    ``graph_def.networks[net.name] = net``."""
    return optimize_network(graph_def, graph_def.default_graph())


def prune_parameters(graph_def):
    """Drop the graph's parameters no network of ``graph_def`` reads."""
    used = set()
    for net in graph_def.networks.values():
        for f in net.functions.values():
            used.update(f.inputs)
    with P.parameter_scope("", graph_def.parameter_scope):
        for name in [k for k in P.get_parameters(grad_only=False) if k not in used]:
            P.pop_parameter(name)


def optimize_nnp_file(input_file, output_file):
    """Optimize every network of the ``.nnp`` ``input_file`` into ``output_file`` (written
    atomically; what ``nnabla.graph_def`` does not read, such as training sections, is not
    kept); returns the function counts before and after."""
    g = gd.load(input_file)
    before = sum(len(n.functions) for n in g.networks.values())
    for name, network in list(g.networks.items()):
        g.networks[name] = optimize_network(g, network)
    prune_parameters(g)
    fh.atomic_write(output_file, lambda tmp: g.save(tmp, include_parameter=True))
    return before, sum(len(n.functions) for n in g.networks.values())
