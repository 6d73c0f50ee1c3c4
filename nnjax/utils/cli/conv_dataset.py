"""``nnabla_cli conv_dataset``: a CSV dataset (or a cache) written as a cache directory
(``cache_index.csv``, ``cache_info.csv``, ``original.csv``, ``order.csv`` and the chunks),
which ``train``/``forward`` and ``data_iterator_cache`` read."""
import os
import shutil

from ..data_source import DataSourceWithFileCache
from ..data_source_implements import CacheDataSource, CsvDataSource
from .utility import CliError

__all__ = ["conv_dataset_command", "add_conv_dataset_command"]


def conv_dataset_command(args):
    if args.num_of_threads is not None and args.num_of_threads <= 0:
        raise CliError(f"conv_dataset: the number of threads [{args.num_of_threads}] must be a "
                       "positive integer")
    src_ext = os.path.splitext(args.source)[1].lower()
    if src_ext not in (".csv", ".cache"):
        raise CliError(f"{args.source}: conv_dataset only supports CSV or CACHE as source")
    if os.path.splitext(args.destination)[1].lower() != ".cache":
        raise CliError(f"{args.destination}: conv_dataset only supports CACHE (a directory "
                       "named *.cache) as destination")
    if not os.path.exists(args.source):
        raise CliError(f"{args.source}: no such file")
    if os.path.exists(args.destination):
        if not args.force:
            raise CliError(f"{args.destination}: exists; use -F to overwrite it")
        if not os.path.isdir(args.destination):
            raise CliError(f"{args.destination}: is a file; delete it first")
    tmp = args.destination.rstrip(os.sep) + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        if src_ext == ".csv":
            source = CsvDataSource(args.source, shuffle=args.shuffle, normalize=args.normalize)
        else:
            source = CacheDataSource(args.source, shuffle=args.shuffle, normalize=args.normalize)
        with source, DataSourceWithFileCache(source, cache_dir=tmp, shuffle=args.shuffle) as ds:
            print(f"Number of Data: {ds.size}")
            print(f"Shuffle:        {args.shuffle}")
            print(f"Normalize:      {args.normalize}")
        shutil.rmtree(args.destination, ignore_errors=True)
        os.replace(tmp, args.destination)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def add_conv_dataset_command(subparsers):
    p = subparsers.add_parser("conv_dataset", help="Convert CSV dataset to cache.")
    p.add_argument("-F", "--force", action="store_true", help="force overwrite destination")
    p.add_argument("-S", "--shuffle", action="store_true", help="shuffle data")
    p.add_argument("-N", "--normalize", action="store_true", help="normalize data range")
    p.add_argument("-t", "--num_of_threads", type=int, required=False,
                   help="use multithreading to convert cache, default to 10")
    p.add_argument("source")
    p.add_argument("destination")
    p.set_defaults(func=conv_dataset_command)
