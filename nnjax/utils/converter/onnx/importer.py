"""ONNX model -> NNP (``nnabla.utils.converter.onnx.OnnxImporter``).

Each ONNX node becomes one or more NNabla functions (``operators.py``), recorded
on shape-only nnjax Variables as it is written, so that every variable of the
NNP gets its shape and every function NNabla's complete arguments from the one
registry. Initializers become parameters; values that only steer shapes
(``Shape`` -> ``Gather`` -> ``Concat`` -> ``Reshape`` chains, ``axes`` inputs)
are folded to constants. The graph inputs become the executor's data, its
outputs the executor's outputs; dynamic dimensions are read as 1.
"""
import numpy as np
import onnx
from onnx import numpy_helper

from ...._apply import apply_function
from ...._variable import Variable
from ... import nnabla_pb2
from ...save import set_function_args
from ..nnabla.importer import Nnp
from .operators import FOLDABLE, OPERATORS

__all__ = ["OnnxImporter", "OnnxImportError"]


class OnnxImportError(ValueError):
    """An ONNX model that cannot be read (message names the file and node)."""


class NnpBuilder:
    """The NNP network being written, with the nnjax Variable of each tensor."""

    def __init__(self, where, opset):
        self.where = where
        self.opset = opset
        self.proto = nnabla_pb2.NNablaProtoBuf()
        self.net = self.proto.network.add()
        self.net.name, self.net.batch_size = "network", 1
        self.variables = {}     # tensor name -> nnjax Variable
        self.consts = {}        # tensor name -> numpy value (static)
        self.node = None
        self.taken = set()      # every tensor name of the ONNX graph
        self._count = 0

    def fresh(self, hint):
        while True:
            self._count += 1
            name = f"{hint}_{self._count}"
            if name not in self.variables and name not in self.consts and name not in self.taken:
                return name

    def fail(self, what):
        n = self.node
        where = f"node {n.name!r} ({n.op_type})" if n is not None else "the graph"
        raise OnnxImportError(f"{self.where}: {where} at opset {self.opset}: {what}")

    def is_const(self, name):
        return name in self.consts

    def value(self, name, what="this input"):
        if name not in self.consts:
            self.fail(f"{what} ({name!r}) must be a constant")
        return self.consts[name]

    def shape(self, name):
        if name in self.variables:
            return tuple(self.variables[name].shape)
        return tuple(np.shape(self.consts[name]))

    def add_input(self, name, shape):
        v = self.net.variable.add(name=name, type="Buffer")
        v.shape.dim.extend(shape)
        self.variables[name] = Variable(tuple(shape))

    def var(self, name):
        """The Variable of a tensor; a constant becomes a parameter on first use."""
        if name not in self.variables:
            if name not in self.consts:
                self.fail(f"tensor {name!r} is not produced by any earlier node")
            value = np.asarray(self.consts[name], np.float32)
            v = self.net.variable.add(name=name, type="Parameter")
            v.shape.dim.extend(value.shape)
            p = self.proto.parameter.add(variable_name=name, need_grad=False)
            p.shape.dim.extend(value.shape)
            p.data.extend(value.ravel().tolist())
            self.variables[name] = Variable(value.shape)
        return self.variables[name]

    def const_var(self, value, hint="const"):
        name = self.fresh(hint)
        self.consts[name] = np.asarray(value, np.float32)
        return name

    def emit(self, type_name, inputs, args=None, outputs=None, n_outputs=1):
        """Write one NNabla function; returns its output names (one name when it has one)."""
        vs = [self.var(i) for i in inputs]
        try:
            result = apply_function(type_name, vs, dict(args or {}))
        except (TypeError, ValueError) as e:
            self.fail(f"as NNabla {type_name}: {e}")
        result = result if isinstance(result, tuple) else (result,)
        if outputs is None:
            outputs = [self.fresh(type_name) for _ in result]
        outputs = list(outputs)[:len(result)] + [self.fresh(type_name)
                                                  for _ in result[len(outputs):]]
        f = self.net.function.add(name=self.fresh(type_name), type=type_name)
        f.input.extend(inputs)
        f.output.extend(outputs)
        set_function_args(f, type_name, result[0].parent.info.args)
        for name, o in zip(outputs, result):
            self.variables[name] = o
            v = self.net.variable.add(name=name, type="Buffer")
            v.shape.dim.extend(o.shape)
        return outputs[0] if n_outputs == 1 and len(outputs) == 1 else outputs


def _attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _load(path):
    try:
        model = onnx.load(path)
    except FileNotFoundError:
        raise OnnxImportError(f"ONNX file {path!r} does not exist") from None
    except Exception as e:
        raise OnnxImportError(f"{path!r} is not a readable ONNX model ({type(e).__name__}: "
                           f"{e})") from None
    if not model.graph.node:
        raise OnnxImportError(f"{path!r}: the ONNX model has no graph nodes")
    return model


def _opset(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1


class OnnxImporter:
    """Read one ``.onnx`` file (a path, or a ``ModelProto``) into the converter's NNP object."""

    def __init__(self, *file_path):
        if len(file_path) != 1:
            raise ValueError(f"OnnxImporter reads one file, got {len(file_path)}")
        self._source = file_path[0]

    def execute(self):
        if isinstance(self._source, onnx.ModelProto):
            model, where = self._source, "the ONNX model"
        else:
            model, where = _load(self._source), repr(str(self._source))
        b = NnpBuilder(where, _opset(model))
        graph = model.graph
        b.taken = {t for n in graph.node for t in list(n.input) + list(n.output)}
        for t in graph.initializer:
            b.consts[t.name] = numpy_helper.to_array(t)
        data = []
        for i in graph.input:
            if i.name in b.consts:
                continue
            dims = i.type.tensor_type.shape.dim
            shape = [d.dim_value if d.dim_value > 0 else 1 for d in dims]
            b.add_input(i.name, shape)
            if not data and shape:
                b.net.batch_size = shape[0]
            data.append(i.name)
        for node in graph.node:
            b.node = node
            _import_node(b, node)
        b.node = None
        outputs = [o.name for o in graph.output]
        for o in outputs:
            if o not in b.variables:
                b.fail(f"graph output {o!r} is a constant; NNP outputs are computed")
        e = b.proto.executor.add(name="runtime", network_name=b.net.name)
        for name in data:
            e.data_variable.add(variable_name=name, data_name=name)
        for name in outputs:
            e.output_variable.add(variable_name=name, data_name=name)
        for v in b.net.variable:
            if v.type == "Parameter":
                e.parameter_variable.add(variable_name=v.name)
        return Nnp(b.proto)


def _import_node(b, node):
    attrs = _attributes(node)
    ins = list(node.input)
    outs = list(node.output)
    present = [i for i in ins if i]
    if node.op_type in ("Shape", "Size") and ins[0] in b.variables:
        shape = np.asarray(b.shape(ins[0]), np.int64)
        if node.op_type == "Shape":
            shape = shape[attrs.get("start", 0):attrs.get("end", len(shape))]
        b.consts[outs[0]] = shape if node.op_type == "Shape" else np.prod(shape)
        return
    if node.op_type in FOLDABLE and all(b.is_const(i) for i in present):
        values = FOLDABLE[node.op_type](b, [b.consts[i] if i else None for i in ins], attrs)
        for name, v in zip(outs, values):
            b.consts[name] = np.asarray(v)
        return
    convert = OPERATORS.get(node.op_type)
    if convert is None or node.domain not in ("", "ai.onnx"):
        b.fail("this ONNX operator has no NNabla mapping in nnjax")
    convert(b, ins, outs, attrs)
