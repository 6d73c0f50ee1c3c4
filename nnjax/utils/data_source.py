"""Data sources (``nnabla.utils.data_source``).

A data source hands out single examples, addressed by a position inside the
current epoch; :class:`~nnabla.utils.data_iterator.DataIterator` groups them
into mini-batches.  To write one, subclass :class:`DataSource`, set
``self._size`` and ``self._variables`` (names of the values each example
holds) in ``__init__``, implement ``_get_data(position)`` returning a tuple
with one value per variable, and ``reset()`` (which must end by calling
``super().reset()``) to prepare the next epoch, e.g.::

    class MyDataSource(DataSource):
        def __init__(self, x, y, shuffle=False, rng=None):
            super().__init__(shuffle=shuffle, rng=rng)
            self._x, self._y = x, y
            self._size = len(x)
            self._variables = ('x', 'y')
            self.reset()

        def _get_data(self, position):
            i = self._indexes[position]
            return self._x[i], self._y[i]

        def reset(self):
            self._indexes = (self._rng.permutation(self._size)
                             if self._shuffle else numpy.arange(self._size))
            super().reset()

Wrappers:

* :class:`DataSourceWithMemoryCache` keeps every example in memory after the
  first pass when they fit in ``[DATA_ITERATOR] data_source_buffer_max_size``
  bytes, and shuffles the cached examples from then on.
* :class:`DataSourceWithFileCache` writes the whole source once into cache
  files (``<prefix>_<first>_<last>.npy`` holding
  ``data_source_file_cache_size`` examples each, plus ``cache_index.csv``
  and ``cache_info.csv``) and serves examples from them, shuffling the file
  order and the order inside each file.
* :class:`SlicedDataSource` exposes a contiguous range of another source.

Random orders come from ``numpy.random.RandomState.permutation`` calls made
in the same places as NNabla, so a given ``rng`` reproduces NNabla's order.
"""

import atexit
import csv
import os
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy

from ..config import nnabla_config
from ..logger import logger
from .data_source_loader import FileReader
from .progress import progress, progress_bar

__all__ = ['DataSource', 'DataSourceWithFileCache', 'DataSourceWithFileCacheError',
           'DataSourceWithMemoryCache', 'SlicedDataSource']


def _register_close(obj):
    """Close ``obj`` at interpreter exit without keeping it alive."""
    ref = weakref.ref(obj)

    def _close_at_exit():
        target = ref()
        if target is not None:
            try:
                target.close()
            except Exception:
                pass
    atexit.register(_close_at_exit)
    return _close_at_exit


def _unregister_close(obj):
    func = obj.__dict__.pop('_atexit_close', None)
    if func is not None:
        atexit.unregister(func)


def _config_get(key):
    return nnabla_config.get('DATA_ITERATOR', key)


def _describe_position(data_source, position):
    """Human readable origin of an example, for error messages."""
    describe = getattr(data_source, 'describe_position', None)
    if describe is not None:
        try:
            return describe(position)
        except Exception:
            pass
    return 'position {}'.format(position)


class DataSource(object):
    """Base class of all data sources.

    Args:
        shuffle (bool): Whether the examples are shuffled every epoch.
        rng (None or numpy.random.RandomState): Random generator; a
            ``RandomState(313)`` is created when None.
    """

    def __init__(self, shuffle=False, rng=None):
        logger.info('DataSource with shuffle({})'.format(shuffle))
        self._rng = rng if rng is not None else numpy.random.RandomState(313)
        self._variables = None
        self._generation = -1
        self._shuffle = shuffle
        self._position = 0
        self._size = 0
        self._closed = False
        self._order = None
        self._original_order = None
        self._original_source_uri = None
        self._atexit_close = _register_close(self)

    def _get_data(self, position):
        """Return the example at ``position`` of the current epoch."""
        raise TypeError(
            '{} is a DataSource subclass and must define _get_data(position)'.format(
                type(self).__name__))

    def __next__(self):
        return self.next()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def close(self):
        """Release resources (idempotent)."""
        if not getattr(self, '_closed', True):
            _unregister_close(self)
            self._closed = True

    @property
    def variables(self):
        """Names of the values each example holds."""
        return self._variables

    def next(self):
        """Return the example at :attr:`position` and advance by one."""
        data = self._get_data(self._position)
        self._position += 1
        return data

    @property
    def position(self):
        """Position of the next example within the current epoch."""
        return self._position

    @property
    def size(self):
        """Number of examples in one epoch."""
        return self._size

    @property
    def shuffle(self):
        """Whether the examples are shuffled."""
        return self._shuffle

    @shuffle.setter
    def shuffle(self, value):
        self._shuffle = value

    def reset(self):
        """Start a new epoch (subclasses reorder, then call this)."""
        self._position = 0

    def apply_order(self):
        """Hook called by the iterator after a batch that crossed an epoch
        boundary.  Sources that reorder in :meth:`reset` need not use it."""
        pass


class DataSourceWithFileCacheError(Exception):
    pass


class DataSourceWithFileCache(DataSource):
    """Serve the examples of ``data_source`` from cache files.

    The whole source is read once (with a thread pool of
    ``[DATA_ITERATOR] data_source_file_cache_num_of_threads`` workers and a
    progress bar) and written to ``cache_dir`` as chunks of
    ``data_source_file_cache_size`` examples named
    ``<cache_file_name_prefix>_<first:08d>_<last:08d>.npy`` (or ``.h5`` when
    ``cache_file_format = .h5``).  ``cache_index.csv`` lists the chunks and
    their lengths, ``cache_info.csv`` the variable names; the directory can
    be read back later with :class:`~nnabla.utils.data_source_implements.CacheDataSource`.

    Args:
        data_source (DataSource): Source to cache.
        cache_dir (str): Directory for the cache files.  When None a
            temporary directory is created (under
            ``data_source_file_cache_location`` if set) and removed by
            :meth:`close`; an explicit directory is kept.
        cache_file_name_prefix (str): Beginning of the cache file names.
        shuffle (bool): Shuffle the chunk order and the order inside each
            chunk at every epoch.
        rng (None or numpy.random.RandomState): Random generator.
    """

    def __init__(self, data_source, cache_dir=None,
                 cache_file_name_prefix='cache', shuffle=False, rng=None):
        self._tempdir_created = False
        logger.info('Using DataSourceWithFileCache')
        super(DataSourceWithFileCache, self).__init__(shuffle=shuffle, rng=rng)
        self._cache_file_name_prefix = cache_file_name_prefix
        self._cache_dir = cache_dir
        logger.info('Cache Directory is {}'.format(self._cache_dir))

        self._cache_size = int(_config_get('data_source_file_cache_size'))
        logger.info('Cache size is {}'.format(self._cache_size))
        self._num_of_threads = int(
            _config_get('data_source_file_cache_num_of_threads'))
        logger.info('Num of thread is {}'.format(self._num_of_threads))
        self._cache_file_format = _config_get('cache_file_format').strip()
        logger.info('Cache file format is {}'.format(self._cache_file_format))
        if self._cache_size <= 0:
            raise ValueError('[DATA_ITERATOR] data_source_file_cache_size must '
                             'be positive, got {}'.format(self._cache_size))
        if self._cache_file_format not in ('.npy', '.h5'):
            raise ValueError('[DATA_ITERATOR] cache_file_format must be .npy '
                             'or .h5, got {!r}'.format(self._cache_file_format))

        self._thread_lock = threading.RLock()
        self._data_source = data_source
        self._size = data_source.size
        self._variables = data_source.variables
        if self._size <= 0:
            raise ValueError('Cannot build a file cache of an empty data source')
        self._generation = -1
        self._cache_file_names = []
        self._cache_file_order = []
        self._cache_file_data_orders = []
        self._table = []
        self._current_cache_file_index = -1
        self._current_cache_data = None
        self._original_order = list(range(self._size))
        self._order = list(range(self._size))

        if self._cache_dir is None:
            location = _config_get('data_source_file_cache_location').strip()
            self._cache_dir = tempfile.mkdtemp(dir=location or None)
            self._tempdir_created = True
            logger.info('Tempdir for cache {} created.'.format(self._cache_dir))
        else:
            try:
                os.makedirs(self._cache_dir, exist_ok=True)
            except OSError as e:
                raise OSError(e.errno, 'Cannot create cache directory {}: {}'.format(
                    self._cache_dir, e.strerror), self._cache_dir) from e

        try:
            self._create_cache()
        except BaseException:
            self.close()
            raise
        self._create_cache_file_position_table()

    # -- cache creation -------------------------------------------------
    def _fetch(self, position):
        data = None
        for retry in range(1, 11):
            data = self._data_source._get_data(position)
            if data is not None:
                return data
            logger.log(99, '_get_data() fails. retrying count {}/10.'.format(retry))
        raise DataSourceWithFileCacheError(
            'Data source returned None for {}'.format(
                _describe_position(self._data_source, position)))

    def _save_cache_to_file(self, positions, chunk):
        start, end = positions[0], positions[-1]
        cache_filename = os.path.join(
            self._cache_dir, '{}_{:08d}_{:08d}{}'.format(
                self._cache_file_name_prefix, start, end,
                self._cache_file_format))
        columns = OrderedDict((name, []) for name in self._variables)
        for pos, example in zip(positions, chunk):
            if len(example) != len(self._variables):
                raise ValueError(
                    '{} returned {} values but the data source declares the '
                    'variables {}'.format(
                        _describe_position(self._data_source, pos),
                        len(example), tuple(self._variables)))
            for i, name in enumerate(self._variables):
                value = example[i]
                if not isinstance(value, numpy.ndarray):
                    value = numpy.array(value).astype(numpy.float32)
                columns[name].append(value)
        arrays = OrderedDict()
        for name, values in columns.items():
            ref = values[0].shape
            for pos, value in zip(positions, values):
                if value.shape != ref:
                    logger.critical('An error occurred while creating cache '
                                    'file from dataset.')
                    logger.critical('The sizes of data "{}" are not the same. '
                                    '({} != {})'.format(name, ref, value.shape))
                    raise ValueError(
                        'Variable "{}" has shape {} at {} but shape {} at {}; '
                        'all examples must have the same shape'.format(
                            name, value.shape,
                            _describe_position(self._data_source, pos), ref,
                            _describe_position(self._data_source, start)))
            arrays[name] = numpy.stack(values)
        logger.info('Creating cache file {}'.format(cache_filename))
        if self._cache_file_format == '.h5':
            import h5py
            with h5py.File(cache_filename, 'w') as h5:
                for name, arr in arrays.items():
                    h5.create_dataset(name, data=arr)
        else:
            with open(cache_filename, 'wb') as f:
                for arr in arrays.values():
                    numpy.save(f, arr)
        self._cache_file_names.append(cache_filename)
        self._cache_file_order.append(len(self._cache_file_order))
        self._cache_file_data_orders.append(list(range(len(positions))))

    def _create_cache(self):
        size = self._size
        progress(None)
        workers = max(1, self._num_of_threads)
        with progress_bar(total=size, desc='Create cache') as bar, \
                ThreadPoolExecutor(max_workers=workers) as pool:
            for start in range(0, size, self._cache_size):
                positions = list(range(start, min(size, start + self._cache_size)))
                self._position = positions[-1]
                if workers > 1 and len(positions) > 1:
                    chunk = list(pool.map(self._fetch, positions))
                else:
                    chunk = [self._fetch(p) for p in positions]
                self._save_cache_to_file(positions, chunk)
                bar.update(len(positions))
                progress('Create cache', (positions[-1] + 1) * 1.0 / size)
        progress(None)
        self._position = 0

        index_filename = os.path.join(self._cache_dir, 'cache_index.csv')
        with open(index_filename, 'w') as f:
            writer = csv.writer(f, lineterminator='\n')
            for fn, orders in zip(self._cache_file_names,
                                  self._cache_file_data_orders):
                writer.writerow((os.path.basename(fn), len(orders)))
        if self._cache_file_format == '.npy':
            info_filename = os.path.join(self._cache_dir, 'cache_info.csv')
            with open(info_filename, 'w') as f:
                writer = csv.writer(f, lineterminator='\n')
                for variable in self._variables:
                    writer.writerow((variable,))
        source = self._data_source
        uri = getattr(source, '_original_source_uri', None)
        if uri is not None:
            with FileReader(uri).open() as src:
                content = src.read()
            with open(os.path.join(self._cache_dir, 'original.csv'), 'wb') as dst:
                dst.write(content)
        order = getattr(source, '_order', None)
        original = getattr(source, '_original_order', None)
        if order is not None and original is not None:
            with open(os.path.join(self._cache_dir, 'order.csv'), 'w') as f:
                writer = csv.writer(f, lineterminator='\n')
                for pair in zip(original, order):
                    writer.writerow([int(x) for x in pair])

    # -- reading ----------------------------------------------------------
    def _create_cache_file_position_table(self):
        table = []
        for file_index in self._cache_file_order:
            for j in self._cache_file_data_orders[file_index]:
                table.append((file_index, j))
        self._table = table
        self._order = [fi * self._cache_size + j for fi, j in table]

    def _load_cache_file(self, file_index):
        name = self._cache_file_names[file_index]
        data = {}
        if self._cache_file_format == '.npy':
            with open(name, 'rb') as f:
                for v in self._variables:
                    data[v] = numpy.load(f, allow_pickle=True)
        else:
            import h5py
            with h5py.File(name, 'r') as h5:
                for k, v in h5.items():
                    data[k] = v[()]
        return data

    def _get_data(self, position):
        with self._thread_lock:
            self._position = position
            file_index, j = self._table[position]
            if self._current_cache_file_index != file_index:
                self._current_cache_data = self._load_cache_file(file_index)
                self._current_cache_file_index = file_index
            return [self._current_cache_data[v][j] for v in self._variables]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def close(self):
        if not getattr(self, '_closed', True):
            _unregister_close(self)
            self._closed = True
            if self._tempdir_created:
                shutil.rmtree(self._cache_dir, ignore_errors=True)
            self._data_source.close()

    def reset(self):
        with self._thread_lock:
            if self._shuffle:
                self._cache_file_order = list(
                    self._rng.permutation(self._cache_file_order))
                for i in range(len(self._cache_file_data_orders)):
                    self._cache_file_data_orders[i] = list(
                        self._rng.permutation(self._cache_file_data_orders[i]))
            self._create_cache_file_position_table()
            self._data_source.reset()
            self._position = 0
            self._generation += 1


class DataSourceWithMemoryCache(DataSource):
    """Keep the examples of ``data_source`` in memory.

    When ``size * bytes_of_first_example`` is below
    ``[DATA_ITERATOR] data_source_buffer_max_size`` (logged as
    ``On-memory``), examples are read from ``data_source`` once, in its own
    order, and kept; later epochs are served from memory and, with
    ``shuffle``, reordered with ``rng.permutation(size)``.  As in NNabla the
    first two epochs use the cached order and shuffling starts with the
    third.  Otherwise every call is passed through to ``data_source``.

    Args:
        data_source (DataSource): Source to cache.
        shuffle (bool): Shuffle the cached examples.
        rng (None or numpy.random.RandomState): Random generator.
    """

    def __init__(self, data_source, shuffle=False, rng=None):
        logger.info('Using DataSourceWithMemoryCache')
        super(DataSourceWithMemoryCache, self).__init__(shuffle=shuffle, rng=rng)
        self._buffer_max_size = int(_config_get('data_source_buffer_max_size'))
        self._data_source = data_source
        self._size = data_source.size
        self._variables = data_source.variables
        self._order = list(range(self._size))
        self._lock = threading.RLock()
        self._on_memory = False
        self._cache = {}
        if self._size <= 0:
            raise ValueError('Cannot cache an empty data source')

        first = data_source._get_data(0)
        self._data_size = 0
        for d in first:
            arr = numpy.asarray(d)
            self._data_size += arr.size * arr.itemsize
        if self._data_size * self._size < self._buffer_max_size:
            logger.info('On-memory')
            self._on_memory = True
            self._cache[0] = first
        self._generation = -1

    def _get_data(self, position):
        with self._lock:
            if self._on_memory:
                index = self._order[position]
                data = self._cache.get(index)
                if data is None:
                    data = self._data_source._get_data(index)
                    self._cache[index] = data
            else:
                data = self._data_source._get_data(position)
            self._position = position
            return data

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def close(self):
        if not getattr(self, '_closed', True):
            _unregister_close(self)
            self._closed = True
            self._data_source.close()

    def reset(self):
        with self._lock:
            if self._on_memory:
                self._generation += 1
                if self._shuffle and self._generation > 0:
                    self._order = list(self._rng.permutation(self._size))
                else:
                    self._order = list(range(self._size))
                if self._position == 0:
                    self._generation = -1
                else:
                    # Cache keys are positions in the wrapped source's
                    # current order: finish the cache before that source is
                    # reset (and possibly reshuffled).
                    for index in range(self._size):
                        if index not in self._cache:
                            self._cache[index] = \
                                self._data_source._get_data(index)
                    self._data_source._position = self._position
                    self._data_source.reset()
            else:
                self._data_source.reset()
                self._generation = self._data_source._generation
                self._position = self._data_source._position
            super(DataSourceWithMemoryCache, self).reset()

    def apply_order(self):
        if not self._on_memory:
            self._data_source.apply_order()


class SlicedDataSource(DataSource):
    """The examples ``[slice_start, slice_end)`` of another data source.

    The wrapped source is shared, not reset.  When it can serve an epoch
    ("generation") on request (as
    :class:`~nnabla.utils.data_source_implements.SimpleDataSource` does), every
    slice reads the same random order for a given epoch, so the slices of one
    epoch are disjoint and each epoch draws new examples into each slice.

    Args:
        data_source (DataSource): Source to slice.
        shuffle (bool): Recorded for the iterator; the order comes from
            ``data_source``.
        rng (None or numpy.random.RandomState): Unused (kept for the API).
        slice_start (int): First position (inclusive).
        slice_end (int): Last position (exclusive).
    """

    def __init__(self, data_source, shuffle=False, rng=None, slice_start=None,
                 slice_end=None):
        logger.info('Using SlicedDataSource')
        super(SlicedDataSource, self).__init__(shuffle=shuffle, rng=rng)
        size = data_source.size
        if slice_start is None or slice_end is None or \
                not 0 <= slice_start < slice_end <= size:
            raise ValueError('Invalid slice [{}, {}) of a data source with {} '
                             'examples'.format(slice_start, slice_end, size))
        self._data_source = data_source
        self._variables = list(data_source.variables)
        self._slice_start = slice_start
        self._slice_end = slice_end
        self._size = slice_end - slice_start
        self._generation = 0
        self.reset()

    def reset(self):
        self._position = 0

    def apply_order(self):
        # A new epoch's order starts after the batch that crossed the boundary
        # (the iterator calls this then): a batch that wraps around reads its
        # last examples from the same order, so slices never overlap in a batch.
        self._generation += 1

    def _get_data(self, position):
        self._position = position
        index = self._slice_start + position
        by_generation = getattr(self._data_source, '_get_data_of_generation',
                                None)
        if by_generation is not None:
            return by_generation(index, self._generation)
        return self._data_source._get_data(index)

    def describe_position(self, position):
        return _describe_position(self._data_source,
                                  self._slice_start + position)
