"""``nnabla_cli decode_param`` / ``encode_param``: parameters as NNabla's per-parameter text files.

One file per parameter, named by the parameter's URL-quoted name with ``/``
as ``~`` plus ``.txt``: the first line is the shape as a Python tuple, then
one value per line. Values are written with ``repr`` of the float32 so that
``encode_param`` gives back the same bits.
"""
import io
import os
import urllib.parse

import numpy as np

from ... import parameter as P
from ..._variable import Variable
from ...logger import logger
from .. import get_file_handle as fh
from .utility import CliError

__all__ = ["decode_param_command", "encode_param_command", "save_param_in_txt",
           "load_param_in_txt", "add_decode_param_command", "add_encode_param_command"]


def save_param_in_txt(x, filepath):
    x = np.asarray(x)
    out = io.StringIO()
    out.write(f"{tuple(int(d) for d in x.shape)}\n")
    out.write("\n".join(repr(float(v)) for v in x.ravel()))
    fh.atomic_write(filepath, out.getvalue().encode("utf-8"))


def _parse_shape(line, filepath):
    text = line.strip()
    if not (text.startswith("(") and text.endswith(")")):
        raise CliError(f"{filepath}: the first line must be the shape, e.g. (3, 4); got {text!r}")
    body = text[1:-1].strip().rstrip(",")
    try:
        return tuple(int(d) for d in body.split(",")) if body else ()
    except ValueError:
        raise CliError(f"{filepath}: bad shape line {text!r}") from None


def load_param_in_txt(name, filepath):
    with open(filepath) as f:
        lines = f.read().split("\n")
    shape = _parse_shape(lines.pop(0), filepath)
    values = [v for v in (line.strip() for line in lines) if v]
    try:
        data = np.array([float(v) for v in values], dtype=np.float32)
    except ValueError as e:
        raise CliError(f"{filepath}: {e}") from None
    if data.size != int(np.prod(shape)):
        raise CliError(f"{filepath}: shape {shape} needs {int(np.prod(shape))} values, the "
                       f"file has {data.size}")
    variable = Variable(shape, need_grad=True)
    variable.d = data.reshape(shape)
    P.set_parameter(name, variable)


def decode_param_command(args, **kwargs):
    if not args.param or not os.path.exists(args.param):
        raise CliError(f"{args.param}: no such parameter file")
    os.makedirs(args.outdir, exist_ok=True)
    logger.log(99, "Loading parameters...")
    P.load_parameters(args.param)
    for key, variable in P.get_parameters(grad_only=False).items():
        logger.log(99, key)
        name = urllib.parse.quote(key, safe="/ ").replace("/", "~") + ".txt"
        save_param_in_txt(variable.d, os.path.join(args.outdir, name))
    logger.log(99, "Decode Parameter Completed.")
    return True


def encode_param_command(args, **kwargs):
    if not os.path.isdir(args.indir):
        raise CliError(f"{args.indir}: no such directory")
    if not args.param:
        raise CliError("encode_param: give the parameter file to write (-p)")
    logger.log(99, "Loading parameters...")
    for name in sorted(os.listdir(args.indir)):
        path = os.path.join(args.indir, name)
        if not os.path.isfile(path):
            continue
        key = urllib.parse.unquote(os.path.splitext(name)[0].replace("~", "/"))
        logger.log(99, key)
        load_param_in_txt(key, path)
    logger.log(99, "Saving parameters...")
    P.save_parameters(args.param)
    logger.log(99, "Encode Parameter Completed.")
    return True


def add_decode_param_command(subparsers):
    p = subparsers.add_parser("decode_param", help="Decode parameter to plain text.")
    p.add_argument("-p", "--param", help="path to parameter file", required=False)
    p.add_argument("-o", "--outdir", help="output directory", required=True)
    p.set_defaults(func=decode_param_command)


def add_encode_param_command(subparsers):
    p = subparsers.add_parser("encode_param", help="Encode plain text to parameter format.")
    p.add_argument("-i", "--indir", help="input directory", required=True)
    p.add_argument("-p", "--param", help="path to parameter file", required=False)
    p.set_defaults(func=encode_param_command)
