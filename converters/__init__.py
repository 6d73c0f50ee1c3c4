"""Converting NNabla model files between their formats (``python -m converters``).

Inputs: ``.nnp``, ``.nntxt``/``.prototxt``, ``.protobuf`` and ``.h5`` files,
merged in order (a network file and a parameter file make one model).
Outputs, chosen by extension:

- ``.nnp``: zip of ``nnp_version.txt``, ``network.nntxt`` and a parameter
  file (``parameter_format``: ``h5`` (default), ``protobuf``, ``nntxt``
  (parameters inside network.nntxt) or ``none``).
- ``.nntxt`` / ``.prototxt``: the text message (with the parameters only when
  ``include_parameters``).
- ``.protobuf``: the binary message, parameters included (a parameter-only
  input gives NNabla's parameter .protobuf file).
- ``.h5``: the parameters only.
- an existing directory: its ``network.nntxt``, ``nnp_version.txt`` and
  parameter file, the contents of an .nnp unpacked.
- ``.tflite``, ``.pb`` (frozen TensorFlow graph) and a directory named
  ``*saved_model`` (TensorFlow SavedModel): through ONNX and onnx2tf, with
  the ``tf`` extra installed (``pip install 'nnjax[tf]'``).
- ``.onnx`` (opset ``define_version``, default 11), ``.nnb`` (nnabla-c-runtime),
  ``.stablehlo`` (serialized ``jax.export``) and ``.mlir`` (StableHLO text):
  written by ``nnabla.utils.converter.convert_files`` from the first executor's
  network. An ``.onnx`` input is imported into NNP first.

The conversion works on the files' messages; no graph is built unless
``check`` is asked for (then every network is rebuilt with nnjax to show it
loads).
"""
import os
from collections import OrderedDict

__all__ = ["convert", "describe", "ConversionError"]

OUTPUT_EXTENSIONS = (".nnp", ".nntxt", ".prototxt", ".protobuf", ".h5", ".onnx", ".nnb",
                     ".stablehlo", ".mlir", ".tflite", ".pb")
MODEL_EXPORTS = {".onnx": "ONNX", ".nnb": "NNB", ".stablehlo": "STABLEHLO", ".mlir": "MLIR",
                 ".tflite": "TFLITE", ".pb": "TF_PB"}
PARAMETER_FORMATS = ("h5", "protobuf", "nntxt", "none")


class ConversionError(Exception):
    """A conversion that cannot be done (message names the file)."""


def _read(inputs, exclude_parameter):
    from nnjax.utils import get_file_handle as fh
    if not inputs:
        raise ConversionError("no input file given")
    for path in inputs:
        ext = fh.file_extension(path)
        if ext not in (".nnp", ".protobuf", ".h5") + fh.TEXT_EXTENSIONS:
            raise ConversionError(f"{path!r}: unsupported input format {ext!r} "
                                  "(use .nnp, .nntxt, .prototxt, .protobuf or .h5)")
    try:
        return fh.read_files(list(inputs), exclude_parameter=exclude_parameter)
    except (OSError, ValueError) as e:
        raise ConversionError(str(e)) from None


def _parameters(contents):
    """{name: (array, need_grad)}; a later file's parameter replaces an earlier one."""
    params = OrderedDict()
    for name, value, need_grad in contents.parameters:
        params[name] = (value, need_grad)
    return params


def _with_parameters(proto, params):
    from nnjax.utils import get_file_handle as fh
    from nnjax.utils import nnabla_pb2
    full = nnabla_pb2.NNablaProtoBuf()
    full.CopyFrom(proto)
    fh.parameters_to_proto(params, full)
    return full


def _output_bytes(target, proto, params, parameter_format, include_parameters):
    from nnjax.utils import get_file_handle as fh
    ext = os.path.splitext(target)[1].lower()
    if ext == ".nnp":
        if parameter_format == "nntxt":
            return fh.nnp_bytes(_with_parameters(proto, params), None, None)
        fmt = None if parameter_format == "none" else "." + parameter_format
        return fh.nnp_bytes(proto, params, fmt)
    if ext in fh.TEXT_EXTENSIONS:
        return fh.proto_to_text(_with_parameters(proto, params) if include_parameters else proto)
    if ext == ".protobuf":
        return _with_parameters(proto, params).SerializeToString()
    if ext == ".h5":
        if not params:
            raise ConversionError(f"{target!r}: the inputs hold no parameters to write")
        return fh.parameters_to_h5(params)
    raise ConversionError(f"{target!r}: unsupported output format {ext!r} "
                          f"(use {', '.join(OUTPUT_EXTENSIONS)} or a directory)")


def _write_directory(directory, proto, params, parameter_format):
    from nnjax.utils import get_file_handle as fh
    written = [os.path.join(directory, "nnp_version.txt")]
    fh.atomic_write(written[0], (fh.NNP_VERSION + "\n").encode())
    network = _with_parameters(proto, params) if parameter_format == "nntxt" else proto
    written.append(os.path.join(directory, "network.nntxt"))
    fh.atomic_write(written[-1], fh.proto_to_text(network))
    if parameter_format in ("h5", "protobuf"):
        written.append(os.path.join(directory, "parameter." + parameter_format))
        data = fh.parameters_to_h5(params) if parameter_format == "h5" else \
            fh.parameters_to_proto(params).SerializeToString()
        fh.atomic_write(written[-1], data)
    return written


def _model_export_format(target):
    """The nnabla.utils.converter format ``target`` is written in, or None (an NNabla file)."""
    from nnjax.utils.converter.supported_info import export_format_of
    fmt = MODEL_EXPORTS.get(os.path.splitext(target)[1].lower())
    if fmt is None and export_format_of(target) == "SAVED_MODEL":
        fmt = "SAVED_MODEL"
    return fmt


def _through_converter(inputs, outputs, parameter_format, exclude_parameter, batch_size,
                       force, define_version, api):
    """Outputs written by nnabla.utils.converter (ONNX in; ONNX, NNB, TF, StableHLO out)."""
    import argparse
    from nnjax.utils.converter import ConvertError, convert_files
    onnx_in = [i for i in inputs if i.lower().endswith(".onnx")]
    if onnx_in and len(inputs) != 1:
        raise ConversionError(f"an ONNX input is converted alone, got {list(inputs)}")
    written = []
    for target in outputs:
        ext = os.path.splitext(target)[1].lower()
        fmt = _model_export_format(target)
        if fmt is None and ext != ".nnp":
            raise ConversionError(f"{target!r}: from an ONNX input write .nnp, .onnx, .nnb, "
                                  ".tflite, .pb, *_saved_model, .stablehlo or .mlir")
        if os.path.exists(target) and not force:
            raise ConversionError(f"{target!r} exists (use --force to overwrite)")
        args = argparse.Namespace(
            import_format="ONNX" if onnx_in else "NNP",
            export_format=fmt or "NNP",
            batch_size=-1 if batch_size is None else int(batch_size), force=force,
            define_version=define_version, api=-1 if api is None else int(api),
            nnp_parameter_h5=parameter_format == "h5",
            nnp_parameter_nntxt=parameter_format == "nntxt",
            nnp_exclude_parameter=exclude_parameter or parameter_format == "none")
        try:
            written += convert_files(args, list(inputs), target)
        except (ConvertError, ValueError, OSError) as e:
            raise ConversionError(str(e)) from None
    return written


def convert(inputs, outputs, parameter_format="h5", include_parameters=False,
            exclude_parameter=False, batch_size=None, force=False, check=False,
            define_version=None, api=None):
    """Convert ``inputs`` (merged) into every file of ``outputs``; returns the files written.

    Args:
        inputs (list of str): model files, read in order.
        outputs (list of str): files to write (format from the extension) or
            existing directories.
        parameter_format (str): parameter file of an .nnp or directory output:
            ``h5``, ``protobuf``, ``nntxt`` (inside network.nntxt) or ``none``.
        include_parameters (bool): also put parameters into .nntxt outputs.
        exclude_parameter (bool): write no parameters at all.
        batch_size (int): overwrite every network's ``batch_size``.
        force (bool): overwrite existing output files.
        check (bool): rebuild every network with nnjax before writing.
        define_version (str): ``opset_11`` ... for .onnx outputs, ``nnb_3`` for .nnb.
        api (int): nnabla-c-runtime API level of .nnb outputs (default: newest).
    """
    if isinstance(inputs, str):
        inputs = [inputs]
    if isinstance(outputs, str):
        outputs = [outputs]
    if not outputs:
        raise ConversionError("no output file given")
    if any(i.lower().endswith(".onnx") for i in inputs) or any(
            _model_export_format(o) for o in outputs):
        return _through_converter(inputs, outputs, parameter_format, exclude_parameter,
                                  batch_size, force, define_version, api)
    if parameter_format not in PARAMETER_FORMATS:
        raise ConversionError(f"parameter format {parameter_format!r} is not one of "
                              f"{PARAMETER_FORMATS}")
    contents = _read(inputs, exclude_parameter)
    proto = contents.proto
    if batch_size is not None:
        if batch_size <= 0:
            raise ConversionError(f"batch size must be positive, got {batch_size}")
        for n in proto.network:
            n.batch_size = int(batch_size)
    params = OrderedDict() if exclude_parameter else _parameters(contents)
    if check:
        _check(proto, params)
    for target in outputs:
        if os.path.abspath(target) in {os.path.abspath(i) for i in inputs}:
            raise ConversionError(f"{target!r} is also an input")
    written = []
    for target in outputs:
        if os.path.isdir(target):
            written += _write_directory(target, proto, params, parameter_format)
            continue
        if os.path.exists(target) and not force:
            raise ConversionError(f"{target!r} exists (use --force to overwrite)")
        data = _output_bytes(target, proto, params, parameter_format, include_parameters)
        from nnjax.utils import get_file_handle as fh
        fh.atomic_write(target, data)
        written.append(target)
    return written


def _check(proto, params):
    """Rebuild every network with nnjax (parameters in a private scope)."""
    from nnjax.utils.nnp_graph import ProtoNetwork, load_parameter_entries
    scope = OrderedDict()
    load_parameter_entries([(k, v, g) for k, (v, g) in params.items()], scope, "the inputs")
    for n in proto.network:
        try:
            ProtoNetwork(n).build(None, param_scope=scope)
        except (ValueError, NotImplementedError) as e:
            raise ConversionError(f"network {n.name!r} does not rebuild: {e}") from None


def describe(inputs):
    """A text summary of the inputs: networks (variables, functions), executors, parameters."""
    contents = _read(inputs, exclude_parameter=False)
    proto = contents.proto
    lines = []
    if contents.nnp_version:
        lines.append(f"nnp version: {contents.nnp_version}")
    for n in proto.network:
        lines.append(f"network {n.name!r}: batch_size {n.batch_size}, "
                     f"{len(n.variable)} variables, {len(n.function)} functions")
        for f in n.function:
            lines.append(f"  {f.name} ({f.type}): {list(f.input)} -> {list(f.output)}")
    for e in proto.executor:
        lines.append(f"executor {e.name!r} on {e.network_name!r}: data "
                     f"{[d.variable_name for d in e.data_variable]}, outputs "
                     f"{[o.variable_name for o in e.output_variable]}")
    for o in proto.optimizer:
        lines.append(f"optimizer {o.name!r} on {o.network_name!r}: solver {o.solver.type}")
    params = _parameters(contents)
    total = sum(int(v.size) for v, _ in params.values())
    lines.append(f"parameters: {len(params)} ({total} values)")
    for name, (value, need_grad) in params.items():
        lines.append(f"  {name} {tuple(value.shape)}{'' if need_grad else ' (no grad)'}")
    return "\n".join(lines)
