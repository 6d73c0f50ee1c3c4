"""``nnabla_cli optimize``: graph optimization of an ``.nnp`` model (affine folding, see
``nnabla.utils.converter.nnabla.optimizer``); ``.pb`` models need TensorFlow."""
import os

from ..converter.nnabla.optimizer import optimize_nnp_file
from .utility import CliError

__all__ = ["optimization_command", "add_optimize_command"]


def optimization_command(args):
    input_file, output_file = args.input_file[0], args.output_file[0]
    ext_in = os.path.splitext(input_file)[1].lower()
    ext_out = os.path.splitext(output_file)[1].lower()
    if ext_in == ".pb" or ext_out == ".pb":
        raise CliError(f"optimize: {input_file if ext_in == '.pb' else output_file}: "
                       f"optimizing TensorFlow .pb models needs TensorFlow "
                       f"(pip install 'nnjax[tf]'); .nnp models need nothing more")
    if ext_in != ".nnp" or ext_out != ".nnp":
        raise CliError(f"optimize: input and output must both be .nnp "
                       f"(got {input_file!r}, {output_file!r})")
    if not os.path.isfile(input_file):
        raise CliError(f"optimize: {input_file}: no such file")
    before, after = optimize_nnp_file(input_file, output_file)
    print(f"optimize: {input_file}: {before} functions -> {output_file}: {after} functions")
    return True


def add_optimize_command(subparsers):
    p = subparsers.add_parser("optimize", help="Optimize pb model.")
    p.add_argument("input_file", nargs=1, help="Path to input pb or nnp file.")
    p.add_argument("output_file", nargs=1, help="Path to output pb or nnp file.")
    p.set_defaults(func=optimization_command)
