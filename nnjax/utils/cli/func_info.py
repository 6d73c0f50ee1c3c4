"""``nnabla_cli function_info``: the function types nnjax runs, those a model uses,
(``-f NNB`` / ``-f ONNX``) those a converter target supports, narrowed by a ``-c``
config, and (``--api N``) the functions of an NNB API level."""
import os
import sys

from ..._registry import REGISTRY
from ..._specs import DECLARED
from .. import converter
from .. import get_file_handle as fh
from ..converter.onnx.exporter import SUPPORTED_OPSETS, parse_opset
from ..converter.onnx.functions import MIN_OPSET
from ..nnp_graph import ProtoNetwork
from .utility import CliError

__all__ = ["function_info_command", "add_function_info_command", "supported_functions",
           "functions_of_files"]

_TARGETS = {"NNB": ("func_set_nncr_support", "nnabla-c-runtime"),
            "ONNX": ("func_set_onnx_support", "nnabla's ONNX converter")}


def supported_functions():
    """NNabla's function types that nnjax has a lowering for."""
    return {name for name in DECLARED if name in REGISTRY}


def functions_of_files(files, expand=True):
    """The function types used by the networks of ``files`` (loops unrolled when ``expand``)."""
    used = set()
    for f in files:
        if not os.path.exists(f):
            raise CliError(f"{f}: no such file")
        proto = fh.read_files(f, exclude_parameter=True).proto
        for net in proto.network:
            if expand:
                used |= {pf.type for pf in ProtoNetwork(net).functions.values()}
            else:
                used |= {func.type for func in net.function}
    return used


def _write(args, names, header=None):
    text = "\n".join(sorted(names))
    if args.output:
        fh.atomic_write(args.output, (text + "\n").encode("utf-8"))
    else:
        if header:
            sys.stdout.write(header + "\n")
        sys.stdout.write(text + "\n")


def _config_functions(config, target):
    """The function types ``-c`` selects: for ONNX ``opset_N`` (those the exporter writes
    at that opset; ONNX operator list files are refused); otherwise a file of NNabla function names, one a line (``;`` starts a
    comment, ``,FLOAT32``/``,FIXED16``... after a name are its data types)."""
    if target == "ONNX" and config.lower().startswith("opset_"):
        try:
            opset = parse_opset(config)
        except ValueError as e:
            raise CliError(f"function_info -c: {e}") from None
        return {n for n in converter.func_set_onnx_support() if MIN_OPSET.get(n, 0) <= opset}
    if target == "ONNX":  # NNabla's ONNX config files list ONNX operators (Op@opset)
        raise CliError(f"function_info -f ONNX -c {config}: give opset_N (N in "
                       f"{SUPPORTED_OPSETS[0]}..{SUPPORTED_OPSETS[-1]}); ONNX operator list "
                       f"files are not read by nnjax")
    if not os.path.isfile(config):
        raise CliError(f"function_info -c: {config}: no such config file")
    names = converter.func_set_import_config(config)
    unknown = names - set(DECLARED)
    if unknown:
        raise CliError(f"function_info -c: {config}: unknown function names "
                       f"{sorted(unknown)[:5]}")
    return names


def _api_listing(level):
    """``--api N``: the NNB API level (-1: newest only prints the level) and its
    functions as NNabla names them (``Type_argcodes``)."""
    info = converter.get_api_level_info()
    try:
        info.set_api_level(level)
    except ValueError as e:
        raise CliError(f"function_info --api: {e}") from None
    lines = [f"API_LEVEL: {info.get_current_level()}"]
    if level != -1:
        lines += [info.get_func_uniq_name(f) for f in info.get_function_list()]
    return lines


def function_info_command(args):
    if args.api != 0:
        text = "\n".join(_api_listing(args.api)) + "\n"
        if args.output:
            fh.atomic_write(args.output, text.encode("utf-8"))
        else:
            sys.stdout.write(text)
        return True
    target = args.all_support.upper() if args.all_support else None
    if target is not None and target not in _TARGETS:
        raise CliError(f"function_info -f: unknown target {args.all_support!r} (NNB, ONNX)")
    used = functions_of_files(args.files, not args.nnp_no_expand_network) if args.files else None
    selected = _config_functions(args.config, target) if args.config else None
    if target is None:
        names = supported_functions()
        if used is not None:
            names &= used
        if selected is not None:
            names &= selected
        _write(args, names - set(args.exclude))
        return True
    query, who = _TARGETS[target]
    support = getattr(converter, query, None)
    if support is None:
        raise CliError(f"function_info -f {target}: this nnjax has no {target} converter "
                       f"(nnabla.utils.converter.{query} is missing)")
    names = set(support())
    wanted = used if used is not None else selected
    if used is not None:
        names &= used
    if selected is not None:
        names &= selected
    unsupported = (wanted - names) if wanted is not None else set()
    if unsupported:
        sys.stderr.write(f"{who} does not support the following functions in "
                         f"{'model' if used is not None else 'config'}:\n"
                         + "\n".join(sorted(unsupported)) + "\n")
    _write(args, names - set(args.exclude),
           f"{who} supports the following functions in model:" if used is not None else None)
    return True


def add_function_info_command(subparsers):
    p = subparsers.add_parser("function_info", help="Output function info.")
    p.add_argument("-o", "--output", default=None, help="output filename")
    p.add_argument("-f", "--all_support", default=None, help="select function set: NNB, ONNX")
    p.add_argument("files", metavar="FILE", type=str, nargs="*",
                   help="*.nnp files that the function sets want to be shown")
    p.add_argument("-c", "--config", default=None, help="user config file for target constraint")
    p.add_argument("-x", "--exclude", action="append", default=[],
                   help="exclude specified functions")
    p.add_argument("-t", "--target", action="store_true",
                   help="specify function set is output for target format/device")
    p.add_argument("-q", "--query", default=None, help="query the detail of a function")
    p.add_argument("--nnp-no-expand-network", action="store_true",
                   help="[import][NNP] do not expand networks with repeat or recurrent.")
    p.add_argument("--api", type=int, default=0, help="List up api levels")
    p.set_defaults(func=function_info_command)
