"""Reading NNabla model files into the converter's NNP object."""
from ... import get_file_handle as fh
from ... import nnabla_pb2
from .expander import NnpExpander

__all__ = ["Nnp", "NnpImporter"]


class Nnp:
    """A model as the converter passes it on: ``protobuf`` (an ``NNablaProtoBuf``
    with its parameters) and ``other_files`` (paths of inputs that are not
    model files, carried into an .nnp output)."""

    def __init__(self, protobuf=None, other_files=()):
        self.protobuf = protobuf if protobuf is not None else nnabla_pb2.NNablaProtoBuf()
        self.other_files = list(other_files)


class NnpImporter:
    """Read ``.nnp``, ``.nntxt``/``.prototxt``, ``.protobuf`` and ``.h5`` files (merged in order).

    ``executor_index`` keeps only that executor (and moves its network first);
    ``expand_network`` unrolls repeat blocks (``NnpExpander``).
    """

    def __init__(self, *files, expand_network=True, executor_index=None):
        self._files = [f for f in files if fh.file_extension(f) in _MODEL_EXTENSIONS]
        self._other = [f for f in files if fh.file_extension(f) not in _MODEL_EXTENSIONS]
        self._executor_index = executor_index
        self._expand = expand_network

    def execute(self):
        if not self._files:
            raise ValueError(f"NnpImporter: no model file among {self._other} "
                             "(use .nnp, .nntxt, .prototxt, .protobuf or .h5)")
        contents = fh.read_files(self._files)
        proto = nnabla_pb2.NNablaProtoBuf()
        proto.CopyFrom(contents.proto)
        fh.parameters_to_proto({n: (v, g) for n, v, g in contents.parameters}, proto)
        if self._expand and any(n.repeat_info for n in proto.network):
            proto = NnpExpander(proto).execute()
        if self._executor_index is not None:
            _keep_executor(proto, int(self._executor_index), self._files)
        return Nnp(proto, self._other)


_MODEL_EXTENSIONS = (".nnp", ".protobuf", ".h5") + fh.TEXT_EXTENSIONS


def _keep_executor(proto, index, files):
    if not 0 <= index < len(proto.executor):
        raise ValueError(f"{files}: executor index {index} is out of range "
                         f"({len(proto.executor)} executors)")
    kept = nnabla_pb2.Executor()
    kept.CopyFrom(proto.executor[index])
    del proto.executor[:]
    proto.executor.add().CopyFrom(kept)
    networks = sorted(proto.network, key=lambda n: n.name != kept.network_name)
    copies = [nnabla_pb2.Network() for _ in networks]
    for c, n in zip(copies, networks):
        c.CopyFrom(n)
    del proto.network[:]
    for c in copies:
        proto.network.add().CopyFrom(c)
