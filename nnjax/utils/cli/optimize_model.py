"""``nnabla_cli optimize``: graph optimization of an ``.nnp`` (or TensorFlow ``.pb``) model,
done by the converters (``nnabla.utils.converter.optimize_nnp`` / ``optimize_pb``)."""
import os

from .. import converter
from .utility import CliError

__all__ = ["optimization_command", "add_optimize_command"]


def optimization_command(args):
    if not os.path.exists(args.input):
        raise CliError(f"{args.input}: no such file")
    ext_in = os.path.splitext(args.input)[1]
    ext_out = os.path.splitext(args.output)[1]
    kinds = {".nnp": "optimize_nnp_file", ".pb": "optimize_pb_file"}
    if ext_in not in kinds or ext_in != ext_out:
        raise CliError(f"optimize: input and output must both be .nnp or both .pb "
                       f"(got {args.input!r}, {args.output!r})")
    optimize = getattr(converter, kinds[ext_in], None)
    if optimize is None:
        raise CliError(f"optimize: this nnjax has no {ext_in} optimizer "
                       f"(nnabla.utils.converter.{kinds[ext_in]} is missing)")
    optimize(args.input, args.output)
    return True


def add_optimize_command(subparsers):
    p = subparsers.add_parser("optimize", help="Optimize pb model.")
    p.add_argument("input", help="Path to input pb or nnp file.")
    p.add_argument("output", help="Path to output pb or nnp file.")
    p.set_defaults(func=optimization_command)
