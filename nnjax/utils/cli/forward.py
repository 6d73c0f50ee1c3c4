"""``nnabla_cli forward`` (a dataset through the executors, ``output_result.csv``) and
``nnabla_cli infer`` (raw binary files in, raw float32 files out).

Each executor is fed its ``dataset_assign`` variables (and generators), run
``num_evaluations`` times, and its outputs averaged (or the last / the
standard deviation, by ``repeat_evaluation_type``). In ``forward`` an output
of shape (C, H, W) per sample is saved as a PNG, (H, W) as a CSV file, others
become CSV columns; the result CSV is the dataset's rows followed by the
outputs (``name`` or ``name__i`` columns), written to a temporary name and
renamed at the end.
"""
import copy
import csv
import io
import os
from collections import OrderedDict

import numpy as np

from ...logger import logger
from .. import get_file_handle as fh
from .. import load as loader
from ..data_iterator import data_iterator_cache, data_iterator_csv_dataset
from ..image_utils import imsave
from ..progress import configure_progress, progress
from .utility import (CliError, TerminalProgress, compute_full_path, is_float,
                      let_data_to_variable)

__all__ = ["forward_command", "infer_command", "infer", "add_forward_command",
           "add_infer_command", "run_executor"]

_IMAGE_TYPES = (".bmp", ".jpeg", ".jpg", ".png", ".gif", ".tif")


def run_executor(e, data_by_name):
    """Feed executor ``e`` from {data name: array}, run it; returns its output values."""
    for pv, name in e.dataset_assign.items():
        if name not in data_by_name:
            raise CliError(f'executor "{e.name}": no data "{name}" (given: '
                           f'{", ".join(data_by_name)})')
        v = pv.variable
        value = np.asarray(data_by_name[name])
        if value.shape != tuple(v.shape):
            value = np.reshape(value, v.shape)
        let_data_to_variable(v, value.astype(v.d.dtype), data_name=name, variable_name=pv.name)
    for pv, generator in e.generator_assign.items():
        pv.variable.d = generator(pv.variable.shape)
    outs = list(e.output_assign.keys())
    total = [np.zeros(o.variable.shape, np.float64) for o in outs]
    total_sq = [np.zeros(o.variable.shape, np.float64) for o in outs]
    last = None
    for _ in range(e.num_evaluations):
        e.forward_target.forward(clear_buffer=True)
        if e.need_back_propagation:
            e.backward_target.backward(clear_buffer=True)
        last = [np.array(o.variable.d) for o in outs]
        for i, value in enumerate(last):
            total[i] += value
            total_sq[i] += value.astype(np.float64) ** 2
    n = e.num_evaluations
    if e.repeat_evaluation_type == "last":
        return last
    if e.repeat_evaluation_type == "std":
        return [np.nan_to_num(np.sqrt(sq / n - (s / n) ** 2)).astype(np.float32)
                for s, sq in zip(total, total_sq)]
    return [(s / n).astype(lv.dtype) for s, lv in zip(total, last)]


class _Columns:
    """How each output is written: its name, file type ('' = CSV columns) and channel count."""

    def __init__(self):
        self.names, self.types, self.dims = [], [], []

    def add(self, type_and_name, sample):
        vtype, name = type_and_name
        self.names.append(name)
        dim = 0
        if not vtype:
            if sample.ndim == 2:
                vtype, dim = ".csv", 1
            elif sample.ndim == 3:
                vtype = ".png"
                dim = 1 if sample.shape[0] in (1, 3) else sample.shape[0]
            else:
                vtype, dim = "col", int(np.prod(sample.shape))
        self.types.append(vtype)
        self.dims.append(dim)


def _save_sample_file(path, vtype, sample, channel):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if vtype in _IMAGE_TYPES:
        x = np.array(sample, dtype=np.float32) * 255.0
        while x.ndim == 4:
            x = x[0]
        if x.shape[0] > 3 or x.shape[0] == 2:
            x = x[channel]
        elif x.shape[0] == 3:
            x = x.transpose(1, 2, 0)
        else:
            x = x.reshape(x.shape[1], x.shape[2])
        imsave(path, x.clip(0, 255).astype(np.uint8))
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(np.array(sample))
        fh.atomic_write(path, buf.getvalue().encode("utf-8"))


def _sample_cells(args, index, columns, values, assigns, output_image):
    """Per sample of the batch: the cells of its output columns (writing files as needed)."""
    rows = []
    for k, (value, type_and_name) in enumerate(zip(values, assigns)):
        for j, sample in enumerate(value):
            if len(columns.names) <= k:
                columns.add(type_and_name, np.asarray(sample))
            while len(rows) <= j:
                rows.append([])
            vtype, dim = columns.types[k], columns.dims[k]
            if vtype == "col" or not output_image:
                rows[j].extend(np.ravel(sample))
                continue
            for channel in range(dim):
                file_index = index + j
                name = f"{k}_{file_index // 1000:04d}" + os.path.sep
                if dim > 1:
                    name += f"{channel}_"
                name += f"{file_index}{vtype}"
                _save_sample_file(os.path.join(args.outdir, args.result_outdir, name), vtype,
                                  sample, channel)
                rows[j].append(os.path.join(".", args.result_outdir, name))
    return rows


def _forward_batch(args, index, executors, data_by_name, columns, output_image=True):
    values, assigns = [], []
    for e in executors:
        values += run_executor(e, data_by_name)
        assigns += list(e.output_assign.values())
    return _sample_cells(args, index, columns, values, assigns, output_image)


def _load(args, batch_size):
    files = [args.config] + ([args.param] if args.param else [])
    for f in files:
        if not os.path.exists(f):
            raise CliError(f"{f}: no such file")
    info = loader.load(files, prepare_data_iterator=False,
                       batch_size=batch_size if batch_size and batch_size > 0 else None)
    if not info.executors:
        raise CliError(f"{args.config}: no executor section")
    return info


def _pick_executors(info, name):
    if name is None:
        return list(info.executors.values())
    if isinstance(name, str) and name.isdigit() and name not in info.executors:
        name = list(info.executors)[int(name)] if int(name) < len(info.executors) else name
    if name not in info.executors:
        raise CliError(f"executor {name!r} is not in the file (executors: {list(info.executors)})")
    return [info.executors[name]]


def _read_rows(path, root_path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [row for row in csv.reader(f)]
    if not rows:
        raise CliError(f"{path}: empty dataset file")
    header = rows.pop(0)
    rows = [row for row in rows if row]
    return header, [[x if header[i].startswith("#") or is_float(x)
                     else compute_full_path(root_path, x) for i, x in enumerate(row)]
                    for row in rows]


def _dataset(args, info, executors, batch_size):
    normalize = True
    for d in info.datasets.values():
        if d.uri == args.dataset or d.cache_dir == args.dataset:
            normalize = d.normalize
    normalize = normalize and not any(e.no_image_normalization for e in executors)
    ext = os.path.splitext(args.dataset)[1]
    if ext == ".csv":
        if not os.path.exists(args.dataset):
            raise CliError(f"{args.dataset}: no such file")
        root = os.path.abspath(os.path.dirname(args.dataset)) if args.replace_path else "."
        header, rows = _read_rows(args.dataset, root)
        orders = {i: i for i in range(len(rows))}
        return (lambda: data_iterator_csv_dataset(args.dataset, batch_size, shuffle=False,
                                                  normalize=normalize, with_memory_cache=False,
                                                  with_file_cache=False)), header, rows, orders
    if ext == ".cache" or os.path.isdir(args.dataset):
        header, rows = _read_rows(os.path.join(args.dataset, "original.csv"), ".")
        orders = {i: i for i in range(len(rows))}
        order_csv = os.path.join(args.dataset, "order.csv")
        if os.path.exists(order_csv):
            with open(order_csv) as f:
                for original, shuffled in ([int(x) for x in row] for row in csv.reader(f) if row):
                    orders[original] = shuffled
        return (lambda: data_iterator_cache(args.dataset, batch_size, shuffle=False,
                                            normalize=normalize)), header, rows, orders
    raise CliError(f'{args.dataset}: unsupported dataset extension "{ext}" (use .csv or a '
                   '.cache directory)')


def _dataset_of_config(info, executors):
    names = {d for e in executors for d in e.dataset_assign.values()}
    for d in info.datasets.values():
        if names <= set(d.variables) and d.uri:
            return d.uri
    for d in info.datasets.values():
        if d.uri:
            return d.uri
    raise CliError("forward: give the dataset (-d); the configuration names none")


def forward_command(args):
    os.makedirs(args.outdir, exist_ok=True)
    configure_progress(os.path.join(args.outdir, "progress.txt"))
    info = _load(args, args.batch_size)
    executors = list(info.executors.values())
    if args.dataset is None:
        args.dataset = _dataset_of_config(info, executors)
    batch_size = executors[0].network.variables[
        next(iter(executors[0].dataset_assign)).name].variable.shape[0] \
        if executors[0].dataset_assign else 1
    make_iterator, header, rows, orders = _dataset(args, info, executors, batch_size)
    columns = _Columns()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    index = 0
    display = TerminalProgress(len(rows))
    with make_iterator() as di:
        while index < di.size:
            batch = OrderedDict(zip(di.variables, di.next()))
            outputs = _forward_batch(args, index, executors, batch, columns)
            if index == 0:
                for name, dim in zip(columns.names, columns.dims):
                    if dim == 1:
                        if executors[-1].repeat_evaluation_type == "std":
                            name = "Uncertainty(Std)"
                        header.append(name)
                    else:
                        header.extend(f"{name}__{d}" for d in range(dim))
                writer.writerow(header)
            for i, cells in enumerate(outputs):
                if index + i < len(rows):
                    row = copy.deepcopy(rows[orders[index + i]])
                    writer.writerow(row + [_cell(c) for c in cells])
            index += len(outputs)
            done = min(index, len(rows))
            progress(f"data {done} / {len(rows)}", done / max(1, len(rows)))
            logger.log(99, f"data {done} / {len(rows)}")
            display.show(done)
    display.close()
    fh.atomic_write(os.path.join(args.outdir, args.outfile), out.getvalue().encode("utf-8"))
    logger.log(99, "Forward Completed.")
    progress(None)
    return True


def _cell(c):
    if isinstance(c, (np.floating, float)):
        return repr(float(c))
    if isinstance(c, np.generic):
        return c.item()
    return c


def infer(info, input_data, executor=None):
    """Run the executors on raw inputs (one array per data variable, in order); returns
    (columns, [flat outputs of each sample])."""
    executors = _pick_executors(info, executor)
    data, k = OrderedDict(), 0
    for e in executors:
        for pv, name in e.dataset_assign.items():
            if k >= len(input_data):
                raise CliError(f"infer: executor {e.name!r} needs {len(e.dataset_assign)} "
                               f"inputs, {len(input_data)} given")
            arr = np.asarray(input_data[k])
            if arr.size != pv.variable.size:
                raise CliError(f"infer: input {k} has {arr.size} values, variable {pv.name!r} "
                               f"of shape {tuple(pv.variable.shape)} needs {pv.variable.size}")
            data[name] = arr.reshape(pv.variable.shape)
            k += 1

    class _NoFiles:
        outdir = ""
        result_outdir = ""
    columns = _Columns()
    return columns, _forward_batch(_NoFiles, 0, executors, data, columns, output_image=False)


_DTYPES = {"uint8": np.uint8, "int32": np.int32, "float32": np.float32}


def infer_command(args):
    info = _load(args, args.batch_size)
    if args.data_type not in _DTYPES:
        raise CliError(f'infer: data type {args.data_type!r} is not one of "uint8", "int32", '
                       '"float32"')
    inputs = []
    for name in args.inputs:
        if not os.path.exists(name):
            raise CliError(f"{name}: no such file")
        dtype = _DTYPES[args.data_type]
        if args.data_type == "float32":  # NNabla reads files named *int32* / *uint8* as such
            dtype = np.int32 if "int32" in name else np.uint8 if "uint8" in name else np.float32
        inputs.append(np.fromfile(name, dtype))
    _, outputs = infer(info, inputs, args.executor)
    for i, o in enumerate(outputs):
        if args.output is not None:
            fh.atomic_write(f"{args.output}_{i}.bin", np.array(o, np.float32).tobytes())
    return True


def add_infer_command(subparsers):
    p = subparsers.add_parser("infer", help="Do inference with NNP and binary data file input.")
    p.add_argument("-c", "--config", help="path to nntxt", required=True)
    p.add_argument("-o", "--output", help="output file prefix", required=False)
    p.add_argument("-p", "--param", help="path to parameter file", required=False)
    p.add_argument("-t", "--data_type", help="Parameter type (uint8, int32 or float32)",
                   default="float32", required=False)
    p.add_argument("-b", "--batch_size", help="Batch size to use batch size in nnp file set -1.",
                   type=int, default=1)
    p.add_argument("-e", "--executor", help="executor name or index (default: all)",
                   default=None)
    p.add_argument("inputs", nargs="+")
    p.set_defaults(func=infer_command)


def add_forward_command(subparsers):
    p = subparsers.add_parser("forward", help="Do evaluation with NNP and test dataset.")
    p.add_argument("-c", "--config", help="path to nntxt", required=True)
    p.add_argument("-p", "--param", help="path to parameter file", required=False)
    p.add_argument("-d", "--dataset", help="path to CSV dataset", required=False)
    p.add_argument("-o", "--outdir", help="output directory", required=True)
    p.add_argument("-f", "--outfile", help="output file name", default="output_result.csv")
    p.add_argument("--replace_path", help="replace data path in the dataset with absolute path",
                   action="store_true")
    p.add_argument("--result_outdir", help="output result directory", type=str, default="")
    p.add_argument("-b", "--batch_size", help="Batch size to use batch size in nnp file set -1.",
                   type=int, default=-1)
    p.set_defaults(func=forward_command)
