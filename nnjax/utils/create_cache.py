"""Dataset caches from CSV datasets (``nnabla.utils.create_cache``).

``CreateCache(csv).create(dir)`` writes NNabla's cache layout, which
``CacheDataSource`` / ``data_iterator_cache`` read back: chunk files
``<prefix>_<first:08d>_<last:08d><format>`` of ``data_source_file_cache_size``
examples (``.npy``: one ``numpy.save`` per variable, in order; ``.h5``: one
dataset per variable), ``cache_index.csv`` (chunk name, count),
``cache_info.csv`` (variable names, ``.npy`` only), ``original.csv`` and
``order.csv``. Every file is written to a temporary name and renamed.
"""
import csv
import io
import os
import shutil

import numpy

from ..config import nnabla_config
from ..logger import logger
from . import get_file_handle as fh
from .data_source_implements import CsvDataSource
from .progress import progress


def _csv_bytes(rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
    return text.getvalue().encode("utf-8")


class CreateCache(CsvDataSource):
    """Converts a local CSV dataset into cache files.

    Args:
        input_csv_filename (str): the CSV dataset.
        rng (numpy.random.RandomState): shuffles the order (default RandomState(313)).
        shuffle (bool): write the examples in a shuffled order.
        num_of_threads: accepted for NNabla's signature; examples are read in order.
    """

    def __init__(self, input_csv_filename, rng=None, shuffle=False, num_of_threads=None):
        rng = numpy.random.RandomState(313) if rng is None else rng
        super().__init__(input_csv_filename, shuffle=False, rng=rng)
        self._cache_size = int(nnabla_config.get("DATA_ITERATOR", "data_source_file_cache_size"))
        self._original_order = list(range(self._size))
        self._order = list(rng.permutation(self._size)) if shuffle else list(range(self._size))
        self._num_of_threads = num_of_threads

    def _chunk_bytes(self, positions, fmt):
        data = {n: [] for n in self._variables}
        for p in positions:
            for name, value in zip(self._variables, self._process_row(self._order[p])):
                value = value if isinstance(value, numpy.ndarray) else \
                    numpy.array(value).astype(numpy.float32)
                data[name].append(value)
        if fmt == ".h5":
            def write(tmp):
                import h5py
                with h5py.File(tmp, "w") as h5:
                    for k, v in data.items():
                        h5.create_dataset(k, data=v)
            return write
        buf = io.BytesIO()
        for v in data.values():
            numpy.save(buf, numpy.array(v))
        return buf.getvalue()

    def create(self, output_cache_dirname, normalize=True, cache_file_name_prefix="cache"):
        """Write the cache into directory ``output_cache_dirname`` (created if missing)."""
        self._normalize = normalize
        fmt = nnabla_config.get("DATA_ITERATOR", "cache_file_format")
        if fmt not in (".npy", ".h5"):
            raise ValueError(f"CreateCache: cache_file_format {fmt!r} in nnabla's config is "
                             "not supported; use .npy or .h5")
        os.makedirs(output_cache_dirname, exist_ok=True)
        chunks = [list(range(s, min(s + self._cache_size, self._size)))
                  for s in range(0, self._size, self._cache_size)]
        index_rows = []
        progress(None)
        for i, positions in enumerate(chunks):
            name = "{}_{:08d}_{:08d}{}".format(cache_file_name_prefix, positions[0],
                                               positions[-1], fmt)
            logger.info(f"Creating cache file {name}")
            fh.atomic_write(os.path.join(output_cache_dirname, name),
                            self._chunk_bytes(positions, fmt))
            index_rows.append((name, len(positions)))
            progress("Create cache", (i + 1) / len(chunks))
        fh.atomic_write(os.path.join(output_cache_dirname, "cache_index.csv"),
                        _csv_bytes(index_rows))
        if fmt == ".npy":
            fh.atomic_write(os.path.join(output_cache_dirname, "cache_info.csv"),
                            _csv_bytes((v,) for v in self._variables))
        fh.atomic_write(os.path.join(output_cache_dirname, "original.csv"),
                        lambda tmp: shutil.copy(self._filename, tmp))
        fh.atomic_write(os.path.join(output_cache_dirname, "order.csv"),
                        _csv_bytes(zip(self._original_order, self._order)))
