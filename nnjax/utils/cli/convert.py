"""``nnabla_cli convert``, ``dump`` and ``nnb_template`` (NNabla's options).

``add_convert_command(subparsers)`` registers the three sub-commands; each
returns True on success. A conversion that cannot be done prints one line
(``convert: <reason>``) to stderr and returns False.
"""
import sys

from .. import converter
from ..converter import supported_info

__all__ = ["add_convert_command", "convert_command", "dump_command", "nnb_template_command",
           "resolve_file_format"]


def _fail(command, message):
    print(f"{command}: {message}", file=sys.stderr)
    return False


def resolve_file_format(args, import_files, export_file=None):
    """Set ``args.import_format``/``export_format`` from the files' extensions
    (an unknown extension keeps the format given with -I/-O)."""
    if len(import_files) == 1:
        fmt = supported_info.import_format_of(import_files[0])
        if fmt is not None:
            args.import_format = fmt
    if export_file:
        fmt = supported_info.export_format_of(export_file)
        if fmt is not None:
            args.export_format = fmt


def _run(command, fn):
    try:
        fn()
    except (ValueError, OSError, TypeError) as e:
        return _fail(command, str(e).splitlines()[0] if str(e) else type(e).__name__)
    return True


def convert_command(args):
    if len(args.files) < 2:
        return _fail("convert", "input and output files are mandatory")
    output = args.files.pop()
    resolve_file_format(args, args.files, output)
    if args.import_format not in converter.formats.import_name:
        return _fail("convert", f"import format ({args.import_format}) is not supported")
    if args.export_format == "CSRC":
        return _fail("convert", f"{output}: C-source export (CSRC) is not available in nnjax; "
                                "write .nnb for nnabla-c-runtime")
    if args.export_format not in converter.formats.export_name:
        return _fail("convert", f"export format ({args.export_format}) is not supported")
    return _run("convert", lambda: converter.convert_files(args, args.files, output))


def dump_command(args):
    resolve_file_format(args, args.files)
    if args.import_format not in converter.formats.import_name:
        return _fail("dump", f"import format ({args.import_format}) is not supported")
    return _run("dump", lambda: converter.dump_files(args, args.files))


def nnb_template_command(args):
    if len(args.files) < 2:
        return _fail("nnb_template", "input and output files are mandatory")
    output = args.files.pop()
    resolve_file_format(args, args.files)
    return _run("nnb_template", lambda: converter.nnb_template(args, args.files, output))


def _import_options(parser):
    formats = ",".join(converter.formats.import_name)
    parser.add_argument("-I", "--import-format", type=str, default="NNP",
                        help=f"[import] import format (one of [{formats}])")
    parser.add_argument("-E", "--nnp-import-executor-index", type=int, default=None,
                        help="[import][NNP] import only the executor of this index")
    parser.add_argument("--nnp-exclude-preprocess", action="store_true",
                        help="[import][NNP] exclude preprocess functions (accepted, no effect)")
    parser.add_argument("--nnp-no-expand-network", action="store_true",
                        help="[import][NNP] do not expand repeat/recurrent networks")


def add_convert_command(subparsers):
    """Register ``dump``, ``nnb_template`` and ``convert``."""
    p = subparsers.add_parser("dump", help="Dump network with supported format.")
    p.add_argument("-v", "--dump-verbose", action="store_true", help="[dump] verbose output")
    p.add_argument("-F", "--dump-functions", action="store_true", help="[dump] function list")
    p.add_argument("-V", "--dump-variables", action="store_true", help="[dump] variable list")
    p.add_argument("--dump-limit", type=int, default=-1, help="[dump] limit num of items")
    p.add_argument("-n", "--dump-variable-name", type=str, default=None,
                   help="[dump] a variable to display")
    p.add_argument("files", metavar="FILE", type=str, nargs="+", help="files to dump")
    _import_options(p)
    p.set_defaults(func=dump_command)

    p = subparsers.add_parser("nnb_template", help="Generate NNB config file template.")
    p.add_argument("files", metavar="FILE", type=str, nargs="+",
                   help="model files, then the settings YAML file to write")
    _import_options(p)
    p.add_argument("-b", "--batch-size", type=int, default=-1, help="[export] batch size")
    p.add_argument("-T", "--default-variable-type", type=str, nargs=1, default=["FLOAT32"],
                   help="default type of variables")
    p.add_argument("--api", type=int, default=-1, help="API level (default: newest)")
    p.set_defaults(func=nnb_template_command)

    p = subparsers.add_parser("convert", help="File format converter.")
    p.add_argument("files", metavar="FILE", type=str, nargs="+",
                   help="input file(s), then the output file")
    p.add_argument("--outputs", type=str, default=None,
                   help="[import][tensorflow] output node names (TensorFlow is not read)")
    p.add_argument("--inputs", type=str, default=None,
                   help="[import][tensorflow] input node names (TensorFlow is not read)")
    _import_options(p)
    formats = ",".join(converter.formats.export_name)
    p.add_argument("-O", "--export-format", type=str, default="NNP",
                   help=f"[export] export format (one of [{formats}]); SAVED_MODEL for an "
                        "output directory not named *saved_model")
    p.add_argument("-f", "--force", action="store_true", help="[export] overwrite output file")
    p.add_argument("-b", "--batch-size", type=int, default=-1,
                   help="[export] overwrite batch size")
    p.add_argument("-S", "--split", type=str, default=None,
                   help='[export] split the executor (needs -E) at function ranges, '
                        'e.g. "1-9" or "1-2,5-"')
    p.add_argument("-d", "--define_version", type=str, default=None,
                   help="[export][ONNX] opset, e.g. opset_13 (also of the ONNX step of "
                        "TensorFlow/TFLite export); [export][NNB] format, e.g. nnb_3")
    p.add_argument("--enable-optimize-pb", action="store_true",
                   help="[export][tensorflow] accepted for NNabla's command lines (onnx2tf "
                        "optimizes always)")
    p.add_argument("--channel-last", action="store_true",
                   help="[export][TFLite] the network is channel-last (inputs and outputs "
                        "keep the network's layout either way)")
    p.add_argument("--quantization", action="store_true",
                   help="[export][TFLite] INT8 quantized model (not supported: float32 only)")
    p.add_argument("--dataset", type=str, default=None,
                   help="[export][TFLite] representative dataset (INT8 is not supported)")
    p.add_argument("--ir_version", type=int, default=-1,
                   help="[export][ONNX] IR version (default: the one of the opset)")
    p.add_argument("-c", "--config", type=str, default=None,
                   help="[export] file listing the functions the target supports; the "
                        "network is split around the others")
    p.add_argument("--nnp-parameter-h5", action="store_true",
                   help="[export][NNP] store parameters as .h5")
    p.add_argument("--nnp-parameter-nntxt", action="store_true",
                   help="[export][NNP] store parameters in network.nntxt")
    p.add_argument("--nnp-exclude-parameter", action="store_true",
                   help="[export][NNP] write no parameters")
    p.add_argument("--nnp-version", type=str, default=None,
                   help="[export][NNP] NNP version (not supported: nnjax writes its own)")
    p.add_argument("-T", "--default-variable-type", type=str, nargs=1, default=["FLOAT32"],
                   help="[export][NNB] default type of variables")
    p.add_argument("-s", "--settings", type=str, nargs=1, default=None,
                   help="[export][NNB] settings in a YAML file")
    p.add_argument("--api", type=int, default=-1,
                   help="[export][NNB] API level (default: newest)")
    p.set_defaults(func=convert_command)
