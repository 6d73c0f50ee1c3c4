"""``nnabla_cli function_info``: the function types nnjax runs, those a model uses, and
(``-f NNB`` / ``-f ONNX``) those a converter target supports."""
import os
import sys

from ..._registry import REGISTRY
from ..._specs import DECLARED
from .. import converter
from .. import get_file_handle as fh
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


def function_info_command(args):
    if args.api != 0:
        raise CliError("function_info --api: nnjax keeps no NNB API level table")
    if args.config:
        raise CliError("function_info -c: target constraint files are not read by nnjax yet")
    used = functions_of_files(args.files, not args.nnp_no_expand_network) if args.files else None
    if not args.all_support:
        names = supported_functions()
        if used is not None:
            names &= used
        _write(args, names - set(args.exclude))
        return True
    target = args.all_support.upper()
    if target not in _TARGETS:
        raise CliError(f"function_info -f: unknown target {args.all_support!r} (NNB, ONNX)")
    query, who = _TARGETS[target]
    support = getattr(converter, query, None)
    if support is None:
        raise CliError(f"function_info -f {target}: this nnjax has no {target} converter "
                       f"(nnabla.utils.converter.{query} is missing)")
    names = set(support())
    if used is not None:
        unsupported = used - names
        names &= used
        if unsupported:
            sys.stderr.write(f"{who} does not support the following functions in model:\n"
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
