"""``TBGraphWriter``: a tensorboardX ``SummaryWriter`` that also writes nnjax graphs,
as ``nnabla.experimental.tb_graph_writer`` (needs the ``tensorboardX`` package).

``from_variable(y)`` writes the graph that computes ``y``: one node per function
(``<parameter scope>/<Type><k>``, its arguments as text) and one per variable
(parameters under their names, other leaves ``Input_<k>``, ``y`` under
``output_name``, intermediates ``v_<function>_<k>``), with shapes.
``from_graph_def(g)`` does the same for a graph definition object exposing
``parameters``, ``inputs``, ``variables`` (name -> object with ``shape``) and
``functions`` (name -> dict with ``type``, ``inputs``, ``outputs``).
"""
from tensorboardX import SummaryWriter
from tensorboardX.proto import event_pb2
from tensorboardX.proto.attr_value_pb2 import AttrValue
from tensorboardX.proto.graph_pb2 import GraphDef
from tensorboardX.proto.node_def_pb2 import NodeDef
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboardX.proto.types_pb2 import DT_FLOAT
from tensorboardX.proto.versions_pb2 import VersionDef

from .._plan import functions_in_order
from ..parameter import get_parameters

__all__ = ["TBGraphWriter"]


def _variable_node(name, shape, inputs=()):
    shape_proto = TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(d)) for d in shape])
    return NodeDef(name=name, op="Variable", input=list(inputs),
                   attr={"shape": AttrValue(shape=shape_proto),
                         "dtype": AttrValue(type=DT_FLOAT)})


def _unique(base, taken):
    k = 0
    while f"{base}{k}" in taken:
        k += 1
    taken.add(f"{base}{k}")
    return f"{base}{k}"


class TBGraphWriter(SummaryWriter):
    """``SummaryWriter(log_dir, comment, **kwargs)`` with graph writers for nnjax."""

    def __init__(self, log_dir="log_out", comment="", **kwargs):
        super().__init__(log_dir, comment, **kwargs)

    def _write_graph(self, nodes):
        graph = GraphDef(node=nodes, versions=VersionDef(producer=22))
        self.file_writer.add_event(event_pb2.Event(graph_def=graph.SerializeToString()))

    def from_variable(self, leaf, output_name="output"):
        """Write the graph computing the Variable ``leaf``."""
        param_names = {id(v.data): k for k, v in get_parameters(grad_only=False).items()}
        names, taken, emitted, nodes = {}, set(), set(), []

        def variable_name(v):
            key = id(v._buffers)
            if key not in names:
                if v is leaf:
                    names[key] = output_name
                elif id(v.data) in param_names:
                    names[key] = param_names[id(v.data)]
                elif v.parent is None:
                    names[key] = _unique("Input_", taken)
                else:
                    names[key] = None  # named after its function below
            return names[key]

        for fn in functions_in_order([leaf]):
            inputs = [v for v in fn.inputs if v is not None]
            scope = next((param_names[id(v.data)].rsplit("/", 1)[0] for v in inputs
                          if id(v.data) in param_names and "/" in param_names[id(v.data)]), "")
            fname = _unique(f"{scope}/{fn.info.type_name}" if scope else fn.info.type_name,
                            taken)
            in_names = []
            for v in inputs:
                name = variable_name(v)
                if name not in emitted:
                    emitted.add(name)
                    nodes.append(_variable_node(name, v.shape))
                in_names.append(name)
            args = ",".join(f"{k}={a}" for k, a in fn.info.args.items())
            nodes.append(NodeDef(name=fname, op=fn.info.type_name, input=in_names,
                                 attr={"parameters": AttrValue(s=args.encode("utf-8"))}))
            for o in fn.outputs:
                name = variable_name(o)
                if name is None:
                    name = names[id(o._buffers)] = _unique(f"{fname}/v_", taken)
                emitted.add(name)
                nodes.append(_variable_node(name, o.shape, [fname]))
        if leaf.parent is None:
            nodes.append(_variable_node(output_name, leaf.shape))
        self._write_graph(nodes)

    def from_graph_def(self, graph_def):
        """Write a graph definition (see the module docstring for what it must expose)."""
        nodes = [NodeDef(name=n, op="Parameter", input=[],
                         attr={"shape": _variable_node(n, v.shape).attr["shape"],
                               "dtype": AttrValue(type=DT_FLOAT)})
                 for n, v in graph_def.parameters.items()]
        nodes += [_variable_node(n, v.shape) for n, v in graph_def.inputs.items()]
        known = set(graph_def.parameters) | set(graph_def.inputs)
        for fname, func in graph_def.functions.items():
            nodes.append(NodeDef(name=fname, op=func["type"], input=list(func["inputs"])))
            for out in func["outputs"]:
                if out not in known and out in graph_def.variables:
                    known.add(out)
                    nodes.append(_variable_node(out, graph_def.variables[out].shape, [fname]))
        self._write_graph(nodes)
