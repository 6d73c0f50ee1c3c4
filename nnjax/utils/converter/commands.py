"""What ``nnabla_cli convert`` / ``dump`` / ``nnb_template`` and ``python -m converters`` run.

``convert_files(args, ifiles, output)`` reads the inputs (``args.import_format``:
NNP or ONNX), optionally splits the executor's network into ranges of
functions (``-S``/``--split``, or the functions a ``-c`` config file lists
as supported), and writes each part in ``args.export_format`` (NNP, NNB,
ONNX, SAVED_MODEL, TF_PB, TFLITE, STABLEHLO, MLIR). ``args`` is an argparse namespace with NNabla's
option names; an attribute left out takes the command line's default.
SAVED_MODEL, TF_PB and TFLITE go through ONNX and onnx2tf (the ``tf`` extra).
"""
import os

from ..._registry import REGISTRY
from . import nnablart, stablehlo, tensorflow
from .nnabla import NnpExporter, NnpImporter
from . import nnp_version
from .nnabla.importer import Nnp
from .onnx import OnnxExporter, OnnxImporter
from .onnx.functions import EXPORTERS
from .utils import func_set_import_nnp
from .. import nnabla_pb2

__all__ = ["convert_files", "dump_files", "nnb_template", "ConvertError",
           "func_set_import_config", "func_set_onnx_support", "func_set_nnabla_support",
           "func_set_nncr_support", "func_set_nnb_support", "shrink_nnp"]

DEFAULTS = dict(import_format="NNP", export_format="NNP", nnp_import_executor_index=None,
                nnp_no_expand_network=False, nnp_exclude_preprocess=False, force=False,
                batch_size=-1, split=None, define_version=None, channel_last=False,
                quantization=False, dataset=None, ir_version=-1, config=None,
                nnp_parameter_h5=False, nnp_parameter_nntxt=False,
                nnp_exclude_parameter=False, nnp_version=None,
                default_variable_type=["FLOAT32"], settings=None, api=-1,
                dump_verbose=False, dump_functions=False, dump_variables=False,
                dump_limit=-1, dump_variable_name=None)


class ConvertError(ValueError):
    """A conversion that cannot be done (the message names the file or option)."""


def _opt(args, name):
    return getattr(args, name, DEFAULTS[name])


def func_set_onnx_support():
    """The function types the ONNX exporter writes."""
    return set(EXPORTERS)


def func_set_nnabla_support():
    """The function types nnjax runs (every registered one)."""
    return set(REGISTRY)


def func_set_nncr_support():
    """The function types nnabla-c-runtime implements (NNabla's ``c_runtime: support``)."""
    return set(nnablart.C_RUNTIME_SUPPORTED)


def func_set_nnb_support(api_level=-1):
    """The function types an NNB file of API level ``api_level`` (newest: -1) can hold."""
    return set(nnablart.ApiLevel(api_level).functions)


def func_set_import_config(config):
    """Function names of a config file: one per line (``;`` starts a comment line;
    anything after ``,`` or ``@`` on a line is ignored)."""
    try:
        with open(config) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ConvertError(f"config file {config!r}: {e.strerror}") from None
    names = set()
    for line in lines:
        line = line.strip()
        if line and not line.startswith(";"):
            names.add(line.split(",")[0].split("@")[0].strip())
    return names


def _import_file(args, ifiles):
    fmt = _opt(args, "import_format")
    for f in ifiles:
        if not os.path.exists(f):
            raise ConvertError(f"input file {f!r} does not exist")
    if fmt == "NNP":
        return NnpImporter(*ifiles, expand_network=not _opt(args, "nnp_no_expand_network"),
                           executor_index=_opt(args, "nnp_import_executor_index")).execute()
    if fmt == "ONNX":
        if len(ifiles) != 1:
            raise ConvertError(f"ONNX import reads one file, got {list(ifiles)}")
        return OnnxImporter(ifiles[0]).execute()
    raise ConvertError(f"import format {fmt!r} is not supported (use NNP or ONNX)")


def _batch_size(args, nnp):
    b = _opt(args, "batch_size")
    if b is None or b < 0:
        return nnp.protobuf.network[0].batch_size if nnp.protobuf.network else 1
    return b


def _export_from_nnp(args, nnp, output):
    fmt = _opt(args, "export_format")
    version = _opt(args, "define_version")
    if fmt != "TFLITE" and (_opt(args, "channel_last") or _opt(args, "quantization")
                            or _opt(args, "dataset")):
        raise ConvertError("--channel-last, --quantization and --dataset apply to TFLite "
                           f"export only, not to {fmt}")
    if _opt(args, "nnp_version") and fmt != "NNP":
        raise ConvertError(f"--nnp-version applies to NNP export only, not to {fmt}")
    if fmt == "NNP":
        if _opt(args, "nnp_version"):
            nnp = nnp_version.downgrade(nnp, _opt(args, "nnp_version"))
        parameter_type = "protobuf"
        if _opt(args, "nnp_parameter_nntxt"):
            parameter_type = "included"
        elif _opt(args, "nnp_parameter_h5"):
            parameter_type = "h5"
        if _opt(args, "nnp_exclude_parameter"):
            parameter_type = "none"
        return NnpExporter(nnp, _opt(args, "batch_size"), parameter_type).execute(output)
    if fmt == "ONNX":
        opset = version if version and version.startswith("opset_") else 11
        return OnnxExporter(nnp, _batch_size(args, nnp), _opt(args, "ir_version"),
                            opset=opset).execute(output)
    if fmt == "NNB":
        nnb_version = int(version.split("_")[1]) if version and version.startswith("nnb_") \
            else None
        settings = _opt(args, "settings")
        return nnablart.NnbExporter(nnp, _batch_size(args, nnp), nnb_version=nnb_version,
                                    api_level=_opt(args, "api")).execute(
            output, None, settings[0] if isinstance(settings, list) else settings,
            _opt(args, "default_variable_type"))
    if fmt in ("SAVED_MODEL", "TF_PB", "TFLITE"):
        opset = version if version and version.startswith("opset_") else 11
        if fmt == "TFLITE":
            return tensorflow.TFLiteExporter(
                nnp, _batch_size(args, nnp), channel_last=_opt(args, "channel_last"),
                quantization=_opt(args, "quantization"), dataset=_opt(args, "dataset"),
                opset=opset).execute(output)
        return tensorflow.TensorflowExporter(nnp, _batch_size(args, nnp), _opt(args, "ir_version"),
                                             model_format=fmt, opset=opset).execute(output)
    if fmt in ("STABLEHLO", "MLIR"):
        return stablehlo.StableHloExporter(nnp, _opt(args, "batch_size")).execute(
            output, text=fmt == "MLIR")
    raise ConvertError(f"export format {fmt!r} is not supported "
                       "(use NNP, NNB, ONNX, SAVED_MODEL, TF_PB, TFLITE, STABLEHLO or MLIR)")


def _executor_network(nnp):
    name = nnp.protobuf.executor[0].network_name
    for n in nnp.protobuf.network:
        if n.name == name:
            return n
    raise ConvertError(f"executor {nnp.protobuf.executor[0].name!r} runs network {name!r}, "
                       "which the model does not hold")


def _split_ranges(spec, network):
    last = len(network.function) - 1
    ranges = []
    for part in spec.split(","):
        ends = part.split("-")
        if len(ends) != 2:
            raise ConvertError(f"-S/--split {spec!r}: a range is 'first-last' (e.g. '0-3,5-')")
        try:
            start = int(ends[0]) if ends[0] else 0
            end = int(ends[1]) if ends[1] else last
        except ValueError:
            raise ConvertError(f"-S/--split {spec!r}: ranges hold function indices") from None
        if not 0 <= start <= end <= last:
            raise ConvertError(f"-S/--split {spec!r}: a range must lie in 0 to {last}")
        ranges.append((start, end))
    return ranges


def _supported_ranges(network, supported):
    ranges, start = [], None
    for i, f in enumerate(network.function):
        if f.type in supported:
            start = i if start is None else start
        elif start is not None:
            ranges.append((start, i - 1))
            start = None
    if start is not None:
        ranges.append((start, len(network.function) - 1))
    return ranges


def shrink_nnp(nnp, start, end):
    """The NNP of functions ``start..end`` of the executor's network: its data
    variables are what those functions read that no earlier one of them made,
    its outputs what they make that no later one reads."""
    network = _executor_network(nnp)
    functions = list(network.function)[start:end + 1]
    made = set()
    reads = []
    for f in functions:
        reads += [i for i in f.input if i not in made]
        made.update(f.output)
    read_later = {i for f in list(network.function)[end + 1:] for i in f.input}
    executor = nnp.protobuf.executor[0]
    final = {o.variable_name for o in executor.output_variable}
    variables = {v.name: v for v in network.variable}
    proto = nnabla_pb2.NNablaProtoBuf()
    net = proto.network.add()
    net.name, net.batch_size = network.name, network.batch_size
    used = set(reads) | made
    for v in network.variable:
        if v.name in used:
            net.variable.add().CopyFrom(v)
    for f in functions:
        net.function.add().CopyFrom(f)
    for p in nnp.protobuf.parameter:
        if p.variable_name in used:
            proto.parameter.add().CopyFrom(p)
    e = proto.executor.add()
    e.name, e.network_name = executor.name, network.name
    for name in dict.fromkeys(reads):
        if variables[name].type == "Buffer":
            e.data_variable.add(variable_name=name, data_name=name)
    for f in functions:
        for o in f.output:
            if o in read_later or o in final or f is functions[-1]:
                if o not in {x.variable_name for x in e.output_variable}:
                    e.output_variable.add(variable_name=o, data_name=o)
    for pv in executor.parameter_variable:
        if pv.variable_name in used:
            e.parameter_variable.add().CopyFrom(pv)
    return Nnp(proto, nnp.other_files)


def _split_needed(args, nnp, supported):
    if _opt(args, "split") is not None:
        if _opt(args, "nnp_import_executor_index") is None:
            raise ConvertError('-S/--split needs -E/--nnp-import-executor-index')
        return True
    return bool(_opt(args, "config")) and not func_set_import_nnp(nnp) <= supported


def _supported_set(args):
    fmt = _opt(args, "export_format")
    through_onnx = ("ONNX", "SAVED_MODEL", "TF_PB", "TFLITE")
    base = func_set_onnx_support() if fmt in through_onnx else func_set_nnabla_support()
    config = _opt(args, "config")
    return base & func_set_import_config(config) if config else base


def convert_files(args, ifiles, output):
    """Convert ``ifiles`` into ``output`` (or into ``<name>_<first>_<last><ext>``
    parts when splitting); returns the list of files written."""
    nnp = _import_file(args, ifiles)
    supported = _supported_set(args)
    if not nnp.protobuf.executor or not _split_needed(args, nnp, supported):
        return _export_from_nnp(args, nnp, output)
    network = _executor_network(nnp)
    split = _opt(args, "split")
    ranges = _split_ranges(split, network) if split else _supported_ranges(network, supported)
    if not ranges:
        raise ConvertError(f"{list(ifiles)}: no function of network {network.name!r} is "
                           "in the supported set")
    written = []
    stem, ext = os.path.splitext(output)
    for start, end in ranges:
        written += _export_from_nnp(args, shrink_nnp(nnp, start, end),
                                    f"{stem}_{start}_{end}{ext}")
    return written


def dump_files(args, ifiles):
    """Print the networks, executors and functions of the inputs; returns the text."""
    nnp = _import_file(args, ifiles)
    lines = []
    proto = nnp.protobuf
    params = {p.variable_name for p in proto.parameter}
    for i, e in enumerate(proto.executor):
        lines.append(f"  Executor [{i}]: {e.name}")
        net = next((n for n in proto.network if n.name == e.network_name), None)
        if net is None:
            continue
        shapes = {v.name: list(v.shape.dim) for v in net.variable}
        for kind, items in (("(In) Data     ", e.data_variable),
                            ("(Out)Output   ", e.output_variable)):
            for j, v in enumerate(items):
                lines.append(f"  Executor [{i}]:  {kind} variable[{j}]: Name:{v.variable_name:30}"
                             f" Shape:{shapes.get(v.variable_name, ' - ')}")
        if _opt(args, "dump_functions") or _opt(args, "dump_verbose"):
            for j, f in enumerate(net.function):
                lines.append(f"  Executor [{i}]:   Function[{j:^5}]: Type: {f.type:20} "
                             f"Name: {f.name}")
                if _opt(args, "dump_variables"):
                    for k, v in enumerate(f.input):
                        lines.append(f"      Input{k}: Name: {v:20} Shape: {shapes.get(v)}")
                    for k, v in enumerate(f.output):
                        lines.append(f"     Output{k}: Name: {v:20} Shape: {shapes.get(v)}")
    lines.append(f"  Parameters: {len(params)}")
    text = "\n".join(lines)
    print(text)
    return text


def nnb_template(args, ifiles, output):
    """Write the NNB settings template (YAML) of the inputs' network to ``output``."""
    nnp = _import_file(args, ifiles)
    nnablart.NnbExporter(nnp, _batch_size(args, nnp), api_level=_opt(args, "api")).execute(
        None, output, None, _opt(args, "default_variable_type"))
    return [output]

