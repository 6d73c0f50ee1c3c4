"""``CreateCache``: turn a CSV dataset into cache files, as ``nnabla.utils.create_cache``.

``CreateCache(csv).create(dir)`` reads every example of the CSV dataset (in the
shuffled order when ``shuffle``) and writes the cache directory that
``CacheDataSource`` and ``data_iterator_cache`` read: chunks of
``[DATA_ITERATOR] data_source_file_cache_size`` examples
(``<prefix>_<first:08d>_<last:08d>.npy`` or ``.h5`` per ``cache_file_format``),
``cache_index.csv``, ``cache_info.csv`` (``.npy``), ``order.csv`` and
``original.csv`` (a copy of the CSV file).
"""
import contextlib

import numpy

from ..config import nnabla_config
from ..logger import logger
from .data_source import DataSourceWithFileCache
from .data_source_implements import CsvDataSource


@contextlib.contextmanager
def _config_value(section, key, value):
    """Set one config value for the duration of a block (restored after)."""
    old = nnabla_config.get(section, key)
    nnabla_config.set(section, key, str(value))
    try:
        yield
    finally:
        nnabla_config.set(section, key, old)


class CreateCache(CsvDataSource):
    """A CSV dataset (``input_csv_filename``, local) that writes itself as a cache.

    Args:
        input_csv_filename (str): the CSV dataset file.
        rng (numpy.random.RandomState): shuffling generator (seed 313 if None).
        shuffle (bool): cache the examples in a random order (kept in ``order.csv``).
        num_of_threads (int): reader threads (default: ``[DATA_ITERATOR]
            data_source_file_cache_num_of_threads``).
    """

    def __init__(self, input_csv_filename, rng=None, shuffle=False, num_of_threads=None):
        rng = numpy.random.RandomState(313) if rng is None else rng
        super().__init__(input_csv_filename, shuffle=shuffle, rng=rng)
        self._num_of_threads = int(num_of_threads) if num_of_threads else int(
            nnabla_config.get("DATA_ITERATOR", "data_source_file_cache_num_of_threads"))
        logger.info(f"Num of thread is {self._num_of_threads}")

    def create(self, output_cache_dirname, normalize=True, cache_file_name_prefix="cache"):
        """Write the cache files into ``output_cache_dirname`` (created if needed);
        ``normalize`` scales image pixels to [0, 1]."""
        self._normalize = normalize
        with _config_value("DATA_ITERATOR", "data_source_file_cache_num_of_threads",
                           self._num_of_threads):
            writer = DataSourceWithFileCache(self, cache_dir=output_cache_dirname,
                                             cache_file_name_prefix=cache_file_name_prefix)
        writer.close()
