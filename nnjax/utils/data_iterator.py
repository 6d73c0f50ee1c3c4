"""Mini-batch iteration over data sources (``nnabla.utils.data_iterator``).

Example::

    from nnabla.utils.data_iterator import data_iterator_simple

    def load_func(i):
        return images[i], labels[i]

    with data_iterator_simple(load_func, len(images), batch_size=32,
                              shuffle=True) as di:
        for step in range(1000):
            x, y = di.next()      # arrays of shape (32, ...) each

Batches run on across epoch boundaries: when a batch reaches the end of the
data it continues with the first examples of the next epoch (reordered
first when shuffling), :attr:`DataIterator.epoch` is incremented and the
epoch callbacks run.  With ``stop_exhausted=True`` iteration instead stops
(``StopIteration``) before a batch that would cross the end; the leftover
examples are dropped and the next ``next()`` call starts a new epoch, so the
iterator can be used in consecutive ``for`` loops.
"""

import atexit
import threading
import weakref

import numpy

from ..logger import logger
from .data_source import DataSourceWithFileCache
from .data_source import DataSourceWithMemoryCache
from .data_source import SlicedDataSource
from .data_source_implements import CacheDataSource
from .data_source_implements import ConcatDataSource
from .data_source_implements import CsvDataSource
from .data_source_implements import SimpleDataSource

__all__ = ['DataIterator', 'data_iterator', 'data_iterator_simple',
           'data_iterator_csv_dataset', 'data_iterator_cache',
           'data_iterator_concat_datasets']


class _Failure(object):
    """An exception raised while preparing a batch in the worker thread."""

    def __init__(self, exc):
        self.exc = exc


class DataIterator(object):
    """Collect examples from a data source into mini-batches.

    Args:
        data_source (DataSource): Source of the examples.
        batch_size (int): Number of examples per batch.
        rng (None or numpy.random.RandomState): Kept for API compatibility
            (the order is decided by the data source).
        use_thread (bool): Prepare the next batch in a background thread
            while the current one is used.  The thread only lives for one
            batch and is joined by :meth:`next` and :meth:`close`.
        epoch_begin_callbacks (list of callable): Called with the new epoch
            index when an epoch begins (from the second epoch on).
        epoch_end_callbacks (list of callable): Called with the epoch index
            when an epoch ends.
        stop_exhausted (bool): Raise ``StopIteration`` at the end of the data
            instead of wrapping into the next epoch.
    """

    def __init__(self, data_source, batch_size, rng=None, use_thread=True,
                 epoch_begin_callbacks=[], epoch_end_callbacks=[],
                 stop_exhausted=False):
        logger.info('Using DataIterator')
        if rng is None:
            rng = numpy.random.RandomState(313)
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or \
                batch_size <= 0:
            raise ValueError('batch_size must be a positive integer, got '
                             '{!r}'.format(batch_size))
        self._closed = True
        self._stop_exhausted = stop_exhausted
        self._rng = rng
        self._data_source = data_source
        self._shuffle = data_source.shuffle
        self._variables = data_source.variables
        if self._variables is None:
            raise ValueError('The data source does not define its variables')
        self._num_of_variables = len(self._variables)
        self._batch_size = int(batch_size)
        self._epoch_end_callbacks = list(epoch_end_callbacks)
        self._epoch_begin_callbacks = list(epoch_begin_callbacks)
        self._size = data_source.size
        if self._size <= 0:
            raise ValueError('The data source is empty')

        self._thread = None
        self._result = None
        self._exhausted = False
        self._reset()
        self._current_epoch = 0
        self._use_thread = use_thread
        self._closed = False
        ref = weakref.ref(self)

        def _close_at_exit():
            target = ref()
            if target is not None:
                try:
                    target.close()
                except Exception:
                    pass
        self._atexit_close = _close_at_exit
        atexit.register(_close_at_exit)
        if self._use_thread:
            self._start_prefetch()

    # -- iterator protocol --------------------------------------------------
    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def close(self):
        """Wait for the worker thread and close the data source."""
        if self._closed:
            return
        self._closed = True
        self._join()
        self._result = None
        atexit.unregister(self._atexit_close)
        self._data_source.close()

    # -- properties -----------------------------------------------------------
    @property
    def epoch(self):
        """Number of completed epochs (number of times position wrapped)."""
        return self._current_epoch

    @property
    def position(self):
        """Position of the data source within its epoch.

        With ``use_thread`` this already counts the prefetched batch.
        """
        return self._data_source.position

    @property
    def size(self):
        """Number of examples in one epoch."""
        return self._size

    @property
    def variables(self):
        """Names of the arrays returned by :meth:`next`."""
        return self._variables

    @property
    def batch_size(self):
        """Number of examples in each batch."""
        return self._batch_size

    # -- batch production -----------------------------------------------------
    def _reset(self):
        self._data_source.reset()

    def _stack(self, index, values):
        try:
            return numpy.array(values)
        except ValueError:
            shapes = sorted({numpy.shape(v) for v in values}, key=str)
            raise ValueError(
                'Variable "{}" has examples of different shapes {} in one '
                'batch; all examples of a variable must have the same '
                'shape'.format(self._variables[index], shapes)) from None

    def _produce(self):
        """Build one batch: ``(data, n_reset)``, or None when exhausted."""
        ds = self._data_source
        bs = self._batch_size
        if self._stop_exhausted and ds.position + bs > self._size:
            return None
        columns = [[] for _ in range(self._num_of_variables)]
        n_reset = 0
        for _ in range(bs):
            d = ds.next()
            if d is None:
                if self._stop_exhausted:
                    return None
                raise RuntimeError('The data source returned None at '
                                   'position {}'.format(ds.position - 1))
            if not self._stop_exhausted and ds.position >= self._size:
                n_reset += 1
                self._reset()
            if len(d) != self._num_of_variables:
                raise ValueError(
                    'The data source returned {} values but declares the '
                    'variables {}'.format(len(d), tuple(self._variables)))
            for i in range(self._num_of_variables):
                columns[i].append(d[i])
        if n_reset:
            ds.apply_order()
        data = tuple(self._stack(i, c) for i, c in enumerate(columns))
        return data, n_reset

    def _work(self):
        try:
            self._result = self._produce()
        except BaseException as e:  # re-raised by next()
            self._result = _Failure(e)

    def _start_prefetch(self):
        self._result = None
        self._thread = threading.Thread(target=self._work,
                                        name='DataIterator-prefetch',
                                        daemon=True)
        self._thread.start()

    def _join(self):
        thread = self._thread
        if thread is not None:
            thread.join()
            self._thread = None
            return True
        return False

    def _restart(self):
        """Begin a new epoch after ``stop_exhausted`` stopped iteration."""
        self._exhausted = False
        self._reset()
        self._data_source.apply_order()
        self._callback_epoch_end()
        self._current_epoch += 1
        self._callback_epoch_begin()

    def next(self):
        """Return the next batch.

        Returns:
            tuple of numpy.ndarray: one array per variable, each with the
            batch size as first dimension.
        """
        if self._closed:
            raise RuntimeError('next() called on a closed DataIterator')
        if self._exhausted:
            self._restart()
        if self._use_thread and self._join():
            result = self._result
            self._result = None
        else:
            try:
                result = self._produce()
            except BaseException as e:
                result = _Failure(e)
        if isinstance(result, _Failure):
            raise result.exc
        if result is None:
            self._exhausted = True
            raise StopIteration
        data, n_reset = result
        if self._use_thread:
            self._start_prefetch()
        for _ in range(n_reset):
            self._callback_epoch_end()
            self._current_epoch += 1
            self._callback_epoch_begin()
        return data

    # -- slicing ----------------------------------------------------------------
    def slice(self, rng, num_of_slices=None, slice_pos=None, slice_start=None,
              slice_end=None, cache_dir=None, use_cache=False, drop_last=False):
        """Make an iterator over a part of the data.

        Give either ``num_of_slices`` and ``slice_pos`` (the data is split
        into ``num_of_slices`` parts and part ``slice_pos`` is used) or a
        range ``slice_start``/``slice_end``.

        Args:
            rng (None or numpy.random.RandomState): Random generator of the
                caches created with ``use_cache``.
            num_of_slices (int): Number of parts.
            slice_pos (int): Part to use, ``0 <= slice_pos < num_of_slices``.
            slice_start (int): First example (inclusive).
            slice_end (int): Last example (exclusive).
            cache_dir (str): File cache directory for ``use_cache``; by
                default the directory of a file cache of this iterator.
            use_cache (bool): Wrap the slice in a memory cache (and a file
                cache when a cache directory is known).
            drop_last (bool): With ``num_of_slices``: drop the remainder of
                ``size / num_of_slices`` so that parts are disjoint.  When
                False each part has ``ceil(size / num_of_slices)`` examples
                and the last part overlaps its neighbour.

        Returns:
            DataIterator
        """
        size = self._size
        if num_of_slices is not None and slice_pos is not None and \
                slice_start is None and slice_end is None:
            if num_of_slices <= 0 or not 0 <= slice_pos < num_of_slices:
                raise ValueError('slice_pos must satisfy 0 <= slice_pos < '
                                 'num_of_slices (got {} and {})'.format(
                                     slice_pos, num_of_slices))
            if drop_last:
                per = size // num_of_slices
                slice_start = per * slice_pos
                slice_end = slice_start + per
            else:
                per = (size + num_of_slices - 1) // num_of_slices
                slice_start = (per * slice_pos) % size
                slice_end = slice_start + per
                if slice_end > size:
                    offset = slice_end - size
                    slice_start -= offset
                    slice_end -= offset
        elif num_of_slices is None and slice_pos is None and \
                slice_start is not None and slice_end is not None:
            pass
        else:
            msg = ('You must specify position(num_of_slice and slice_pos) or '
                   'range(slice_start and slice_end).')
            logger.critical(msg)
            raise ValueError(msg)

        if cache_dir is None:
            ds = self._data_source
            while hasattr(ds, '_data_source'):
                if getattr(ds, '_cache_dir', None) is not None:
                    cache_dir = ds._cache_dir
                ds = ds._data_source

        sliced = SlicedDataSource(self._data_source, self._data_source.shuffle,
                                  slice_start=slice_start, slice_end=slice_end)
        if not use_cache:
            return DataIterator(sliced, self._batch_size)
        if cache_dir is None:
            return DataIterator(
                DataSourceWithMemoryCache(sliced, shuffle=self._shuffle,
                                          rng=rng),
                self._batch_size)
        prefix = 'cache_sliced_{:08d}_{:08d}'.format(slice_start, slice_end)
        return DataIterator(
            DataSourceWithMemoryCache(
                DataSourceWithFileCache(sliced, cache_dir=cache_dir,
                                        cache_file_name_prefix=prefix,
                                        shuffle=self._shuffle, rng=rng),
                shuffle=self._shuffle, rng=rng),
            self._batch_size)

    # -- callbacks --------------------------------------------------------------
    def _callback_epoch_end(self):
        for callback in self._epoch_end_callbacks:
            callback(self.epoch)

    def _callback_epoch_begin(self):
        for callback in self._epoch_begin_callbacks:
            callback(self.epoch)

    def register_epoch_end_callback(self, callback):
        """Register ``callback(epoch)`` called when an epoch ends."""
        self._epoch_end_callbacks.append(callback)

    def register_epoch_begin_callback(self, callback):
        """Register ``callback(epoch)`` called when an epoch begins."""
        self._epoch_begin_callbacks.append(callback)


def data_iterator(data_source, batch_size, rng=None, use_thread=True,
                  with_memory_cache=True, with_file_cache=False, cache_dir=None,
                  epoch_begin_callbacks=[], epoch_end_callbacks=[],
                  stop_exhausted=False):
    """Create a :class:`DataIterator` for ``data_source``.

    Args:
        data_source (DataSource): Source of the examples.
        batch_size (int): Batch size.
        rng (None or numpy.random.RandomState): Random generator of the
            caches.
        use_thread (bool): Prefetch the next batch in a thread.
        with_memory_cache (bool): Wrap in
            :class:`~nnabla.utils.data_source.DataSourceWithMemoryCache`.
        with_file_cache (bool): Wrap in
            :class:`~nnabla.utils.data_source.DataSourceWithFileCache`.
        cache_dir (str): File cache directory (a removed-on-close temporary
            directory when None).
        epoch_begin_callbacks (list of callable): See :class:`DataIterator`.
        epoch_end_callbacks (list of callable): See :class:`DataIterator`.
        stop_exhausted (bool): See :class:`DataIterator`.

    Returns:
        DataIterator
    """
    ds = data_source
    if with_file_cache:
        ds = DataSourceWithFileCache(data_source=ds, cache_dir=cache_dir,
                                     shuffle=data_source.shuffle, rng=rng)
    if with_memory_cache:
        ds = DataSourceWithMemoryCache(ds, shuffle=ds.shuffle, rng=rng)
    return DataIterator(ds, batch_size, use_thread=use_thread,
                        epoch_begin_callbacks=epoch_begin_callbacks,
                        epoch_end_callbacks=epoch_end_callbacks,
                        stop_exhausted=stop_exhausted)


def data_iterator_simple(load_func, num_examples, batch_size, shuffle=False,
                         rng=None, use_thread=True, with_memory_cache=False,
                         with_file_cache=False, cache_dir=None,
                         epoch_begin_callbacks=[], epoch_end_callbacks=[],
                         stop_exhausted=False):
    """Iterate over examples given by ``load_func(i)``, ``0 <= i < num_examples``.

    ``load_func`` returns a tuple of arrays (one per variable, named
    ``x0``, ``x1``, ...); every call must return arrays of the same shapes.
    See :func:`data_iterator` for the other arguments.

    Returns:
        DataIterator
    """
    return data_iterator(SimpleDataSource(load_func, num_examples,
                                          shuffle=shuffle, rng=rng),
                         batch_size=batch_size, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache, cache_dir=cache_dir,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)


def data_iterator_csv_dataset(uri, batch_size, shuffle=False, rng=None,
                              use_thread=True, normalize=True,
                              with_memory_cache=True, with_file_cache=True,
                              cache_dir=None, epoch_begin_callbacks=[],
                              epoch_end_callbacks=[], stop_exhausted=False):
    """Iterate over an NNabla CSV dataset.

    Args:
        uri (str): CSV file (see
            :class:`~nnabla.utils.data_source_implements.CsvDataSource`).
        normalize (bool): Scale image pixels to ``[0, 1]``.

    See :func:`data_iterator` for the other arguments.

    Returns:
        DataIterator
    """
    ds = CsvDataSource(uri, shuffle=shuffle, rng=rng, normalize=normalize)
    return data_iterator(ds, batch_size=batch_size, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache, cache_dir=cache_dir,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)


def data_iterator_cache(uri, batch_size, shuffle=False, rng=None,
                        use_thread=True, normalize=True, with_memory_cache=True,
                        epoch_begin_callbacks=[], epoch_end_callbacks=[],
                        stop_exhausted=False):
    """Iterate over a cache directory written by a file cache.

    Args:
        uri (str): Cache directory (see
            :class:`~nnabla.utils.data_source_implements.CacheDataSource`).
        normalize (bool): Scale ``uint8``/``uint16`` values to ``[0, 1]``.

    See :func:`data_iterator` for the other arguments.

    Returns:
        DataIterator
    """
    ds = CacheDataSource(uri, shuffle=shuffle, rng=rng, normalize=normalize)
    return data_iterator(ds, batch_size=batch_size, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)


def data_iterator_concat_datasets(data_source_list, batch_size, shuffle=False,
                                  rng=None, use_thread=True,
                                  with_memory_cache=True, with_file_cache=False,
                                  cache_dir=None, epoch_begin_callbacks=[],
                                  epoch_end_callbacks=[], stop_exhausted=False):
    """Iterate over several data sources joined one after another.

    See :func:`data_iterator` for the arguments.

    Returns:
        DataIterator
    """
    ds = ConcatDataSource(data_source_list, shuffle=shuffle, rng=rng)
    return data_iterator(ds, batch_size=batch_size, use_thread=use_thread,
                         with_memory_cache=with_memory_cache,
                         with_file_cache=with_file_cache, cache_dir=cache_dir,
                         epoch_begin_callbacks=epoch_begin_callbacks,
                         epoch_end_callbacks=epoch_end_callbacks,
                         stop_exhausted=stop_exhausted)
