"""``nnabla_cli convert``: file-format conversion, dispatched to ``nnabla.utils.converter``.

A minimal registration: the converters' own module provides ``convert_files``.
"""
from .. import converter
from .utility import CliError

__all__ = ["add_convert_command", "convert_command"]


def convert_command(args):
    convert_files = getattr(converter, "convert_files", None)
    if convert_files is None:
        raise CliError("convert: this nnjax has no file converters (nnabla.utils.converter."
                       "convert_files is missing)")
    if len(args.files) < 2:
        raise CliError("convert: give the input file(s) and the output file")
    args.output = args.files.pop()
    return convert_files(args, args.files, args.output)


def add_convert_command(subparsers):
    p = subparsers.add_parser("convert", help="File format converter.")
    p.add_argument("files", metavar="FILE", type=str, nargs="+", help="File or directory name(s)")
    p.add_argument("-I", "--import-format", type=str, default=None, help="[import] format")
    p.add_argument("-O", "--export-format", type=str, default=None, help="[export] format")
    p.add_argument("-b", "--batch-size", type=int, default=-1, help="[export] overwrite batch size")
    p.add_argument("-S", "--split", type=str, default=None, help="[export] network splits")
    p.add_argument("-d", "--define-version", type=str, default=None, help="[export] version")
    p.add_argument("--nnp-exclude-parameter", action="store_true",
                   help="[export][NNP] exclude parameters")
    p.set_defaults(func=convert_command)
