"""Writing the converter's NNP object as NNabla model files."""
import os
import zipfile
import io

from ... import get_file_handle as fh
from ... import nnabla_pb2

__all__ = ["NnpExporter"]

PARAMETER_TYPES = ("protobuf", "h5", "included", "none")


class NnpExporter:
    """Write an NNP object to ``.nnp`` (zip), ``.nntxt``/``.prototxt``, ``.protobuf`` or ``.h5``.

    ``parameter_type`` (an .nnp's parameter file): ``protobuf`` (NNabla's
    default), ``h5``, ``included`` (inside network.nntxt) or ``none``;
    ``batch_size`` > 0 replaces every network's batch size.
    """

    def __init__(self, nnp, batch_size=-1, parameter_type="protobuf"):
        if parameter_type not in PARAMETER_TYPES:
            raise ValueError(f"NnpExporter: parameter_type {parameter_type!r} is not one of "
                             f"{PARAMETER_TYPES}")
        self._nnp = nnp
        self._batch_size = batch_size
        self._parameter_type = parameter_type

    def _network_proto(self):
        proto = nnabla_pb2.NNablaProtoBuf()
        proto.CopyFrom(self._nnp.protobuf)
        if self._batch_size is not None and self._batch_size > 0:
            for n in proto.network:
                n.batch_size = int(self._batch_size)
        params = fh.parameters_of_proto(proto, "the converted model")
        del proto.parameter[:]
        return proto, {n: (v, g) for n, v, g in params}

    def execute(self, output):
        proto, params = self._network_proto()
        ext = fh.file_extension(output)
        if ext == ".nnp":
            data = self._nnp_bytes(proto, params)
        elif ext in fh.TEXT_EXTENSIONS:
            data = fh.proto_to_text(fh.parameters_to_proto(params, proto)
                                    if self._parameter_type == "included" else proto)
        elif ext == ".protobuf":
            data = fh.parameters_to_proto(params, proto).SerializeToString()
        elif ext == ".h5":
            data = fh.parameters_to_h5(params)
        else:
            raise ValueError(f"NnpExporter: {output!r}: unsupported extension {ext!r}")
        fh.atomic_write(output, data)
        return [output]

    def _nnp_bytes(self, proto, params):
        if self._parameter_type == "included":
            data = fh.nnp_bytes(fh.parameters_to_proto(params, proto), None, None)
        elif self._parameter_type == "none":
            data = fh.nnp_bytes(proto, None, None)
        else:
            data = fh.nnp_bytes(proto, params, "." + self._parameter_type)
        if not self._nnp.other_files:
            return data
        bio = io.BytesIO(data)
        with zipfile.ZipFile(bio, "a", zipfile.ZIP_DEFLATED) as z:
            for path in self._nnp.other_files:
                z.write(path, os.path.basename(path))
        return bio.getvalue()
