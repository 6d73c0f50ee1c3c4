"""``nnabla_cli draw_graph``: each network of an ``.nnp``/``.nntxt`` drawn with graphviz."""
import argparse
import os

from ... import functions as F
from ...experimental.viewers import SimpleGraph
from ...logger import logger
from ..nnp_graph import NnpLoader
from .utility import CliError

__all__ = ["draw_graph_command", "add_draw_graph_command"]


def draw_graph_command(args):
    if not os.path.exists(args.input):
        raise CliError(f"{args.input}: no such file")
    nnp = NnpLoader(args.input)
    names = nnp.get_network_names()
    wanted = args.network or names
    for n in wanted:
        if n not in names:
            raise CliError(f"{args.input}: no network named {n!r} (networks: {names})")
    os.makedirs(args.output_dir, exist_ok=True)
    for n in wanted:
        graph = nnp.get_network(n)
        if not graph.outputs:
            logger.info(f"No output in `{n}`. Skipping.")
            continue
        outs = list(graph.outputs.values())
        out = outs[0] if len(outs) == 1 else F.sink(*outs)
        SimpleGraph(format=args.format).save(out, os.path.join(args.output_dir,
                                                               n.replace(" ", "_")),
                                             cleanup=True)
    return True


def add_draw_graph_command(subparsers):
    desc = ("Draw a graph in a NNP or nntxt file with graphviz.\n\nExample:\n\n"
            "    nnabla_cli draw_graph -o output-folder path-to-nnp.nnp")
    p = subparsers.add_parser("draw_graph", formatter_class=argparse.RawTextHelpFormatter,
                              description=desc,
                              help="Draw a graph in a NNP or nntxt file with graphviz.")
    p.add_argument("input", type=str, help="Path to input nnp or nntxt.")
    p.add_argument("-o", "--output-dir", type=str, default="draw_out", help="Output directory.")
    p.add_argument("-n", "--network", action="append", help="Network names to be drawn.")
    p.add_argument("-f", "--format", default="png",
                   help="Graph saving format compatible with graphviz (`pdf`, `png`, ...).")
    p.set_defaults(func=draw_graph_command)
    return p
