"""NNP network -> ONNX model (``nnabla.utils.converter.onnx.OnnxExporter``).

The network an NNP's first executor runs is written node by node with the
per-type table of ``functions.py``; parameters become initializers, the
executor's data variables the graph inputs, its output variables the graph
outputs (all float32, batch size fixed). Opsets 11 (NNabla's default) to 17
(NNabla's exporter writes up to 13; 18 moves the reduction axes to inputs).
"""
from collections import OrderedDict

import numpy as np
import onnx

from ... import get_file_handle as fh
from ...nnp_graph import ProtoNetwork, function_args, load_parameter_entries
from . import functions, functions_extra, functions_special
from .functions import EXPORTERS, MIN_OPSET
from .graph import ExportError, OnnxGraph

__all__ = ["OnnxExporter", "SUPPORTED_OPSETS", "DEFAULT_OPSET", "ExportError"]

# the modules whose per-type converters fill EXPORTERS
TABLE_MODULES = (functions, functions_special, functions_extra)
SUPPORTED_OPSETS = (11, 12, 13, 14, 15, 16, 17)
DEFAULT_OPSET = 11


def parse_opset(opset):
    """``11``, ``'11'`` or ``'opset_11'`` -> 11 (ValueError naming the supported ones)."""
    text = str(opset).lower()
    text = text[len("opset_"):] if text.startswith("opset_") else text
    if not text.isdigit() or int(text) not in SUPPORTED_OPSETS:
        raise ValueError(f"ONNX export: opset {opset!r} is not supported "
                         f"(supported: {', '.join(map(str, SUPPORTED_OPSETS))})")
    return int(text)


class OnnxExporter:
    """Write ``nnp`` (the converter's NNP object) as an ONNX model.

    ``batch_size`` > 0 replaces the network's batch size (a -1 dimension);
    ``ir_version`` <= 0 picks the one that goes with the opset.
    """

    def __init__(self, nnp, batch_size=-1, ir_version=-1, opset=DEFAULT_OPSET):
        self._proto = nnp.protobuf
        self._batch_size = batch_size
        self._ir_version = ir_version
        self._opset = parse_opset(opset)

    def _network(self):
        if not self._proto.executor:
            if len(self._proto.network) != 1:
                raise ValueError("ONNX export: the model has no executor to say which "
                                 "network to export")
            return self._proto.network[0], None
        executor = self._proto.executor[0]
        for n in self._proto.network:
            if n.name == executor.network_name:
                return n, executor
        raise ValueError(f"ONNX export: executor {executor.name!r} runs network "
                         f"{executor.network_name!r}, which the model does not hold")

    def export_model_proto(self):
        network, executor = self._network()
        batch = self._batch_size if self._batch_size and self._batch_size > 0 \
            else max(int(network.batch_size), 1)
        shapes = _shapes(self._proto, network, batch)
        g = OnnxGraph(self._opset, shapes)
        params = {p.variable_name: p for p in self._proto.parameter}
        produced = {o for f in network.function for o in f.output}
        _add_parameters(g, network, params)
        for f in network.function:
            _export_function(g, f)
        inputs, outputs = _graph_io(network, executor, params, produced)
        return g.model(network.name, inputs, outputs, self._ir_version)

    def execute(self, file_path):
        model = self.export_model_proto()
        fh.atomic_write(file_path, model.SerializeToString())
        return [file_path]


def _shapes(proto, network, batch):
    """Every variable's shape as nnjax computes it for ``batch`` (a -1 in a file's
    shape need not be the batch axis, e.g. a sequence's time axis); the file's
    shapes with -1 read as ``batch`` when the network does not rebuild."""
    shapes = {v.name: tuple(batch if d < 0 else int(d) for d in v.shape.dim)
              for v in network.variable}
    scope = OrderedDict()
    try:
        load_parameter_entries(fh.parameters_of_proto(proto, "the model"), scope, "the model")
        built = ProtoNetwork(network).build(batch, param_scope=scope)
    except (ValueError, TypeError, KeyError, NotImplementedError):
        return shapes
    shapes.update((name, tuple(v.shape)) for name, v in built.items())
    return shapes


def _export_function(g, f):
    convert = EXPORTERS.get(f.type)
    if convert is None:
        raise ExportError(f"ONNX export of {f.type} ({f.name!r}) at opset {g.opset}: "
                          f"{f.type} has no ONNX mapping in nnjax")
    if MIN_OPSET.get(f.type, 0) > g.opset:
        raise ExportError(f"ONNX export of {f.type} ({f.name!r}) at opset {g.opset}: "
                          f"needs opset {MIN_OPSET[f.type]} or newer")
    g.function = f
    missing = [v for v in list(f.input) + list(f.output) if v not in g.shapes]
    if missing:
        g.fail(f"variables {missing} are not declared in the network")
    convert(g, list(f.input), list(f.output), function_args(f))
    g.function = None


def _add_parameters(g, network, params):
    used = {i for f in network.function for i in f.input}
    for v in network.variable:
        if v.type != "Parameter" or v.name not in used:
            continue
        p = params.get(v.name)
        if p is None:
            raise ValueError(f"ONNX export: parameter {v.name!r} of network "
                             f"{network.name!r} has no value (give the parameter file too)")
        shape = tuple(int(d) for d in p.shape.dim)
        value = np.asarray(p.data, np.float32).reshape(shape)
        g.initializers.append(onnx.numpy_helper.from_array(value, v.name))
        g.values[v.name] = value
        g.shapes[v.name] = shape


def _graph_io(network, executor, params, produced):
    if executor is not None and executor.data_variable:
        inputs = [d.variable_name for d in executor.data_variable]
    else:
        inputs = [v.name for v in network.variable
                  if v.type == "Buffer" and v.name not in produced and v.name not in params]
    if executor is not None and executor.output_variable:
        outputs = [o.variable_name for o in executor.output_variable]
    else:
        consumed = {i for f in network.function for i in f.input}
        outputs = [o for f in network.function for o in f.output if o not in consumed]
    return inputs, outputs
