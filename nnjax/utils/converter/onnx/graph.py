"""An ONNX graph under construction: nodes, constants, fresh names, known shapes.

The per-function exporters (``functions.py``) add nodes through
:class:`OnnxGraph` and call its opset-aware helpers, so that the operator
changes between opsets (``axes`` and ``split`` becoming inputs in 13, ...)
are written once.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["OnnxGraph", "ExportError"]


class ExportError(ValueError):
    """A function that cannot be written at the requested opset (message names both)."""


class OnnxGraph:
    def __init__(self, opset, shapes):
        self.opset = int(opset)
        self.shapes = dict(shapes)       # variable name -> tuple of ints
        self.nodes = []
        self.initializers = []
        self.values = {}                 # initializer name -> numpy value (parameters)
        self._count = 0
        self.function = None             # the NNabla function being exported (for errors)

    # -------------------------------------------------------------- basics
    def fresh(self, hint):
        while True:
            self._count += 1
            name = f"{hint}__{self._count}"
            if name not in self.shapes:
                return name

    def shape(self, name):
        return self.shapes[name]

    def op(self, op_type, inputs, output=None, n_outputs=1, **attrs):
        """Add a node; returns its output name (a list when ``n_outputs`` > 1 or
        ``output`` is a list)."""
        if isinstance(output, (list, tuple)):
            outputs = list(output)
        elif output is not None:
            outputs = [output]
        else:
            outputs = [self.fresh(op_type) for _ in range(n_outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs,
                                           name=self.fresh(op_type), **attrs))
        return outputs if (n_outputs > 1 or isinstance(output, (list, tuple))) else outputs[0]

    def const(self, value, dtype=np.float32, hint="const"):
        array = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, values):
        return self.const(list(values), np.int64, "ints")

    def value(self, name, what):
        """The value of a parameter input (a layer whose layout ONNX orders differently)."""
        if name not in self.values:
            self.fail(f"{what} ({name!r}) must be a parameter with a value")
        return self.values[name]

    def fail(self, what):
        f = self.function
        where = f"{f.type} ({f.name!r})" if f is not None else "the network"
        raise ExportError(f"ONNX export of {where} at opset {self.opset}: {what}")

    # ----------------------------------------------------- opset-aware helpers
    def reduce(self, op_type, x, axes, keepdims, output=None):
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" and self.opset >= 13:
            return self.op(op_type, [x, self.ints(axes)], output, keepdims=int(keepdims))
        return self.op(op_type, [x], output, axes=axes, keepdims=int(keepdims))

    def squeeze(self, x, axes, output=None):
        if self.opset >= 13:
            return self.op("Squeeze", [x, self.ints(axes)], output)
        return self.op("Squeeze", [x], output, axes=list(axes))

    def unsqueeze(self, x, axes, output=None):
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.ints(axes)], output)
        return self.op("Unsqueeze", [x], output, axes=list(axes))

    def split(self, x, axis, sizes, outputs):
        if self.opset >= 13:
            return self.op("Split", [x, self.ints(sizes)], list(outputs), axis=int(axis))
        return self.op("Split", [x], list(outputs), axis=int(axis), split=list(sizes))

    def reshape(self, x, shape, output=None):
        return self.op("Reshape", [x, self.ints(shape)], output)

    def cast(self, x, to, output=None):
        return self.op("Cast", [x], output, to=to)

    def to_float(self, x, output=None):
        return self.cast(x, TensorProto.FLOAT, output)

    def to_bool(self, x):
        return self.cast(x, TensorProto.BOOL)

    def to_int(self, x):
        return self.cast(x, TensorProto.INT64)

    def clip(self, x, low, high, output=None):
        return self.op("Clip", [x, self.const(low), self.const(high)], output)

    def model(self, name, inputs, outputs, ir_version=None, producer="nnjax"):
        """The finished ``ModelProto`` (``inputs``/``outputs``: variable names, float32)."""
        def info(n):
            return helper.make_tensor_value_info(n, TensorProto.FLOAT, list(self.shapes[n]))
        graph = helper.make_graph(self.nodes, name, [info(n) for n in inputs],
                                  [info(n) for n in outputs], self.initializers)
        model = helper.make_model(graph, producer_name=producer,
                                  opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = int(ir_version) if ir_version and ir_version > 0 else \
            min(onnx.IR_VERSION, _IR_FOR_OPSET.get(self.opset, onnx.IR_VERSION))
        return model


# The IR version each opset came with; a lower one keeps older runtimes able to load the file.
_IR_FOR_OPSET = {7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8}
