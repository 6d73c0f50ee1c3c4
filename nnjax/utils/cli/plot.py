"""``nnabla_cli plot_series`` / ``plot_timer``: PNG plots of ``MonitorSeries`` /
``MonitorTimeElapsed`` files with matplotlib, NNabla's options."""
import argparse
import os

from ... import monitor as M
from .. import get_file_handle as fh
from .utility import CliError

__all__ = ["plot_series_command", "plot_timer_command", "add_plot_series_command",
           "add_plot_timer_command"]

_UNITS = dict(s="seconds", m="minutes", h="hours", d="days")


def plot_series_command(args):
    _plot(args, M.plot_series)
    return True


def plot_timer_command(args):
    if args.time_unit not in _UNITS:
        raise CliError(f"plot_timer: time unit {args.time_unit!r} is not one of s, m, h, d")
    if not args.ylabel:
        unit = _UNITS[args.time_unit]
        args.ylabel = f"Total elapsed time [{unit}]" if args.elapsed \
            else f"Elapsed time [{unit}/iter]"
    _plot(args, M.plot_time_elapsed, dict(elapsed=args.elapsed, unit=args.time_unit))
    return True


def _plot(args, plot_func, kwargs=None):
    for f in args.inputs:
        if not os.path.exists(f):
            raise CliError(f"{f}: no such file")
    try:
        import matplotlib  # an optional dependency: the one import kept local
    except ImportError:
        raise CliError("plotting needs matplotlib (pip install matplotlib)") from None
    if args.outfile:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = args.label or []
    fig = plt.figure()
    try:
        for i, inp in enumerate(args.inputs):
            plot_func(inp, plot_kwargs=dict(label=labels[i] if i < len(labels) else inp),
                      **(kwargs or {}))
        plt.legend(loc="best")
        if args.title:
            plt.title(args.title)
        if args.xlabel:
            plt.xlabel(args.xlabel)
        if args.ylabel:
            plt.ylabel(args.ylabel)
        if args.xlim_min is not None:
            plt.xlim(left=args.xlim_min)
        if args.xlim_max is not None:
            plt.xlim(right=args.xlim_max)
        if args.ylim_min is not None:
            plt.ylim(bottom=args.ylim_min)
        if args.ylim_max is not None:
            plt.ylim(top=args.ylim_max)
        if args.outfile:
            ext = os.path.splitext(args.outfile)[1] or ".png"
            fh.atomic_write(args.outfile, lambda tmp: fig.savefig(tmp, format=ext[1:]))
        else:
            plt.show()
    finally:
        plt.close(fig)


def _add(subparsers, name, help, description, command, ylabel_default=""):
    p = subparsers.add_parser(name, formatter_class=argparse.RawTextHelpFormatter,
                              description=description, help=help)
    p.add_argument("inputs", type=str, nargs="+", metavar="infile", help="Path to input file.")
    p.add_argument("-l", "--label", action="append", help="Label of each plot.")
    p.add_argument("-o", "--outfile", help="Path to output file.", type=str, default="")
    p.add_argument("-x", "--xlabel", help="X-axis label of plot.", default="")
    p.add_argument("-y", "--ylabel", help="Y-axis label of plot.", default=ylabel_default)
    p.add_argument("-t", "--title", help="Title of plot.", default="")
    p.add_argument("-T", "--ylim-max", help="Y-axis plot range max.", type=float, default=None)
    p.add_argument("-B", "--ylim-min", help="Y-axis plot range min.", type=float, default=None)
    p.add_argument("-R", "--xlim-max", help="X-axis plot range max.", type=float, default=None)
    p.add_argument("-L", "--xlim-min", help="X-axis plot range min.", type=float, default=None)
    p.set_defaults(func=command)
    return p


def add_plot_series_command(subparsers):
    desc = ("Plot *.series.txt files produced by nnabla.MonitorSeries class.\n\nExample:\n\n"
            '    nnabla_cli plot_series -x "Epochs" -y "Squared error loss" -o loss.png '
            "result_a/Training-loss.series.txt")
    _add(subparsers, "plot_series", "Plot *.series.txt files.", desc, plot_series_command)


def add_plot_timer_command(subparsers):
    desc = ("Plot *.timer.txt files produced by nnabla.MonitorTimeElapsed class.\n\nExample:\n\n"
            '    nnabla_cli plot_timer -x "Epochs" -o time.png result_a/Epoch-time.timer.txt')
    p = _add(subparsers, "plot_timer", "Plot *.timer.txt files.", desc, plot_timer_command)
    p.add_argument("-e", "--elapsed", action="store_true",
                   help="Plot total elapsed time. By default, it plots elapsed time per iteration.")
    p.add_argument("-u", "--time-unit", help="Time unit chosen from {s|m|h|d}.", default="s")
