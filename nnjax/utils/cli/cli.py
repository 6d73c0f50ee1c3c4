"""``nnabla_cli``: NNabla's command line (``python -m nnabla.utils.cli.cli``).

Sub-commands as NNabla's: train, infer, forward, encode_param, decode_param,
profile, conv_dataset, compare_with_cpu, create_image_classification_dataset,
create_object_detection_dataset, upload, create_tar, convert (and what the
converters add), function_info, optimize, plot_series, plot_timer,
draw_graph, version. Exit status: 0 on success, 1 when a command fails (one
line on stderr naming the file and the problem), 2 for a usage error (one
line).
"""
import argparse
import os
import sys
from collections import OrderedDict



from ... import __version__ as _version
from ... import parameter as P
from ...logger import logger
from . import (compare_with_cpu, conv_dataset, convert, create_image_classification_dataset,
               create_object_detection_dataset, draw_graph, encode_decode_param, forward,
               func_info, optimize_model, plot, profile, train, uploader)
from .utility import CliError

__all__ = ["main", "version_command", "cli_main"]

NNABLA_API_VERSION = _version.split(".nnjax")[0]


def _nnabla_version():
    return f"Version:{_version}, Build:nnjax (NNabla API {NNABLA_API_VERSION})"


def version_command(args):
    print(_nnabla_version())
    return True


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def build_parser():
    parser = _Parser(prog="nnabla_cli",
                     description=f"Command line interface for NNabla({_nnabla_version()})")
    parser.add_argument("-m", "--mpi", help="exec with mpi.", action="store_true")
    subparsers = parser.add_subparsers(parser_class=_Parser, dest="command")
    train.add_train_command(subparsers)
    forward.add_infer_command(subparsers)
    forward.add_forward_command(subparsers)
    encode_decode_param.add_encode_param_command(subparsers)
    encode_decode_param.add_decode_param_command(subparsers)
    profile.add_profile_command(subparsers)
    conv_dataset.add_conv_dataset_command(subparsers)
    compare_with_cpu.add_compare_with_cpu_command(subparsers)
    create_image_classification_dataset.add_create_image_classification_dataset_command(
        subparsers)
    create_object_detection_dataset.add_create_object_detection_dataset_command(subparsers)
    uploader.add_upload_command(subparsers)
    uploader.add_create_tar_command(subparsers)
    convert.add_convert_command(subparsers)
    func_info.add_function_info_command(subparsers)
    optimize_model.add_optimize_command(subparsers)
    plot.add_plot_series_command(subparsers)
    plot.add_plot_timer_command(subparsers)
    draw_graph.add_draw_graph_command(subparsers)
    p = subparsers.add_parser("version", help="Print version and build number.")
    p.set_defaults(func=version_command)
    return parser


def _one_line(e):
    text = str(e).strip().splitlines()
    text = text[0] if text else type(e).__name__
    if isinstance(e, OSError) and getattr(e, "filename", None) and e.filename not in text:
        text = f"{e.filename}: {e.strerror or text}"
    return text


# what the last command run through ``cli_main`` gave: True on success, else False
return_value = None


def run(argv=None):
    """Parse ``argv`` and run the sub-command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if "func" not in args:
        parser.print_usage(sys.stderr)
        return 2
    return _run_command(args)


def cli_main(parser, args):
    """NNabla's entry point: run the sub-command of ``args`` (parsed by
    ``parser``) and keep whether it succeeded in ``return_value``; with no
    sub-command, print the help and exit with status -1 (255)."""
    global return_value
    return_value = False
    if "func" not in args:
        parser.print_help(sys.stderr)
        sys.exit(-1)
    return_value = _run_command(args) == 0


def _run_command(args):
    """The exit status of the parsed sub-command ``args``, run with one-line errors."""
    if args.mpi:
        logger.warning("nnabla_cli: --mpi: data-parallel runs go through nnabla.communicators; "
                       "this process runs alone")
    print(f"NNabla command line interface ({_nnabla_version()})")
    sys.stdout.flush()
    try:
        with P.parameter_scope("", OrderedDict()):  # each command starts from no parameters
            ok = args.func(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"nnabla_cli {args.command}: interrupted\n")
        return 130
    except (CliError, OSError, ValueError, KeyError, TypeError, RuntimeError,
            NotImplementedError) as e:
        if os.environ.get("NNABLA_CLI_TRACEBACK"):
            raise
        sys.stderr.write(f"nnabla_cli {args.command}: error: {_one_line(e)}\n")
        return 1
    return 0 if ok is None or ok else 1


def main(argv=None):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100000))
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
