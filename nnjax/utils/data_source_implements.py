"""Concrete data sources (``nnabla.utils.data_source_implements``).

* :class:`SimpleDataSource` -- examples produced by a user function.
* :class:`CsvDataSource` -- an NNabla CSV dataset (header
  ``NAME[__INDEX][:LABEL]``; cells are numbers or file names relative to the
  CSV file; columns whose name starts with ``#`` are ignored).
* :class:`CacheDataSource` -- a directory written by
  :class:`~nnabla.utils.data_source.DataSourceWithFileCache`.
* :class:`ConcatDataSource` -- several sources one after another.
"""

import atexit
import csv
import os
import queue
import threading
import time
from collections import OrderedDict

import numpy

from ..config import nnabla_config
from ..logger import logger
from .data_source import DataSource
from .data_source_loader import FileReader, load

__all__ = ['SimpleDataSource', 'CsvDataSource', 'CacheDataSource',
           'ConcatDataSource', 'CachePrefetcher', 'CacheReaderWithPrefetch']


class SimpleDataSource(DataSource):
    """Examples given by ``load_func(index)``.

    ``load_func(0)`` is called once to learn the number of variables, which
    are named ``x0``, ``x1``, ...

    With ``shuffle``, epoch ``k`` reads the indexes in the order of the
    ``k``-th ``rng.permutation(num_examples)`` draw (the first one is drawn
    at construction); otherwise in ``0 .. num_examples-1`` order.  Each
    epoch therefore visits every index exactly once.

    Args:
        load_func (callable): ``load_func(i)`` returns a tuple of arrays (one
            per variable) for example ``i``.
        num_examples (int): Number of examples.
        shuffle (bool): Shuffle every epoch.
        rng (None or numpy.random.RandomState): Random generator.
    """

    _KEEP_GENERATIONS = 64

    def __init__(self, load_func, num_examples, shuffle=False, rng=None):
        super(SimpleDataSource, self).__init__(shuffle=shuffle, rng=rng)
        if int(num_examples) <= 0:
            raise ValueError('num_examples must be positive, got {}'.format(
                num_examples))
        self._load_func = load_func
        self._size = int(num_examples)
        self._order_lock = threading.Lock()
        self._orders = OrderedDict()
        self._latest_generation = -1
        self._generation = 0
        first = self._load_func(0)
        try:
            count = len(first)
        except TypeError:
            raise TypeError('load_func must return a tuple of values (one per '
                            'variable), got {}'.format(type(first).__name__))
        self._variables = ['x' + str(x) for x in range(count)]
        self.reset()
        self._order_of(0)

    def _order_of(self, generation):
        with self._order_lock:
            while self._latest_generation < generation:
                self._latest_generation += 1
                order = self._rng.permutation(self._size) \
                    if self._shuffle else None
                self._orders[self._latest_generation] = order
                while len(self._orders) > self._KEEP_GENERATIONS:
                    self._orders.popitem(last=False)
            if generation not in self._orders:
                raise ValueError(
                    'The order of epoch {} is no longer available (latest '
                    'epoch is {})'.format(generation, self._latest_generation))
            return self._orders[generation]

    def _get_data_of_generation(self, position, generation):
        order = self._order_of(generation)
        index = position if order is None else int(order[position])
        return self._load_func(index)

    def _get_data(self, position):
        return self._get_data_of_generation(position, self._generation)

    def reset(self):
        if self._position > 0:
            self._generation += 1
        super(SimpleDataSource, self).reset()

    def apply_order(self):
        # The order switches in reset(), exactly at the epoch boundary.
        pass


class CsvDataSource(DataSource):
    """Examples listed in an NNabla CSV dataset file.

    The first line names the variables: ``x`` (one value per row),
    ``x__0, x__1, ...`` (the values of the indexed columns form a vector) and
    an optional ``:label`` suffix.  A cell is a number or the name of a file
    (image, ``.csv``, ``.npy``, ``.wav``) relative to the CSV file.  Plain
    numbers of a non indexed column are returned as a one element list.

    Malformed input raises errors naming the CSV file and the line: rows
    with a wrong number of cells (at construction), and, when an example is
    read, missing or unsupported files and values whose shape differs from
    the first example read (e.g. images of mixed sizes).

    Args:
        filename (str): CSV file (local path or ``http(s)`` URL).
        shuffle (bool): Shuffle every epoch with
            ``rng.permutation(range(size))``.
        rng (None or numpy.random.RandomState): Random generator.
        normalize (bool): Scale image pixels to ``[0, 1]``.
    """

    def __init__(self, filename, shuffle=False, rng=None, normalize=False):
        super(CsvDataSource, self).__init__(shuffle=shuffle, rng=rng)
        self._filename = os.fspath(filename)
        self._normalize = normalize
        self._generation = -1
        self._filereader = FileReader(self._filename)
        self._shapes = {}
        try:
            with self._filereader.open(textmode=True, encoding='utf-8-sig') as f:
                reader = csv.reader(f)
                try:
                    header = next(reader)
                except StopIteration:
                    raise ValueError('CSV dataset {} is empty (no header '
                                     'line)'.format(self._filename))
                rows, lines = [], []
                last = reader.line_num
                for row in reader:
                    start = last + 1
                    last = reader.line_num
                    if not row or all(not c.strip() for c in row):
                        continue
                    rows.append(row)
                    lines.append(start)
        except FileNotFoundError:
            raise FileNotFoundError(
                'CSV dataset file not found: {}'.format(self._filename))

        for i, name in enumerate(header):
            if not name.strip():
                raise ValueError('{}, line 1: column {} has an empty name'.format(
                    self._filename, i + 1))
        header = [h.strip() for h in header]
        keep = [i for i, h in enumerate(header) if not h.startswith('#')]
        for row, line in zip(rows, lines):
            if len(row) != len(header):
                raise ValueError(
                    '{}, line {}: expected {} columns ({}) but found {}'.format(
                        self._filename, line, len(header), ', '.join(header),
                        len(row)))
        self._header = [header[i] for i in keep]
        self._rows = [[row[i] for i in keep] for row in rows]
        self._lines = lines
        self._size = len(self._rows)
        self._process_header(self._header)
        if self._size == 0:
            logger.warning('CSV dataset {} has no data rows'.format(
                self._filename))
        self._original_source_uri = self._filename
        self._original_order = list(range(self._size))
        self._order = list(range(self._size))
        self._variables = tuple(self._variables_dict.keys())
        self.reset()

    def _process_header(self, header):
        self._variables_dict = OrderedDict()
        self._columns = []
        for column_value in header:
            if ':' in column_value:
                variable_with_index, label = column_value.split(':', 1)
            else:
                variable_with_index, label = column_value, None
            if '__' in variable_with_index:
                variable, index = variable_with_index.split('__', 1)
            else:
                variable, index = variable_with_index, None
            self._columns.append((variable, index, label))
            if index is None:
                self._variables_dict[variable] = {'label': label, 'value': None}
            else:
                entries = self._variables_dict.setdefault(variable, [])
                entries.append({'label': label, 'value': None})

    def describe_position(self, position):
        row = self._order[position]
        return '{}, line {}'.format(self._filename, self._lines[row])

    def _get_value(self, value, is_vector, line, column):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return [number] if is_vector else number
        where = '{}, line {}, column "{}"'.format(self._filename, line,
                                                  self._header[column])
        ext = os.path.splitext(value)[1].lower()
        try:
            loader = load(ext)
        except ValueError:
            raise ValueError('{}: {!r} is neither a number nor a file with a '
                             'supported extension'.format(where, value))
        try:
            with self._filereader.open(value) as f:
                return loader(f, normalize=self._normalize)
        except FileNotFoundError:
            raise FileNotFoundError('{}: file {!r} not found ({})'.format(
                where, value, self._filereader.resolve(value)))
        except ValueError as e:
            raise ValueError('{}: cannot load {!r}: {}'.format(
                where, value, e)) from e
        except OSError as e:
            raise OSError('{}: cannot load {!r}: {}'.format(
                where, value, e)) from e

    def _process_row(self, row_index):
        row = self._rows[row_index]
        line = self._lines[row_index]
        values = OrderedDict()
        for column, cell in enumerate(row):
            variable, index, label = self._columns[column]
            value = self._get_value(cell.strip(), index is None, line, column)
            if index is None:
                values[variable] = value
            else:
                values.setdefault(variable, []).append(value)
        for variable, value in values.items():
            shape = numpy.shape(value)
            known = self._shapes.setdefault(variable, (shape, line))
            if known[0] != shape:
                # Rows may be loaded by several threads: always report the
                # later line against the earlier one.
                (ref_shape, ref_line), (bad_shape, bad_line) = sorted(
                    [known, (shape, line)], key=lambda item: item[1])
                raise ValueError(
                    '{}, line {}: variable "{}" has shape {} but line {} has '
                    'shape {}; all rows must have the same shape (e.g. images '
                    'of one size)'.format(self._filename, bad_line, variable,
                                          bad_shape, ref_line, ref_shape))
            if line < known[1]:
                self._shapes[variable] = (shape, line)
        return tuple(values.values())

    def _get_data(self, position):
        return self._process_row(self._order[position])

    def reset(self):
        if self._shuffle:
            logger.debug('Shuffle start.')
            self._order = list(self._rng.permutation(list(range(self._size))))
            logger.debug('Shuffle end.')
        self._generation += 1
        super(CsvDataSource, self).reset()


class CacheDataSource(DataSource):
    """Examples stored in a cache directory.

    The directory is the output of
    :class:`~nnabla.utils.data_source.DataSourceWithFileCache`:
    ``cache_info.csv`` (variable names, ``.npy`` caches), ``cache_index.csv``
    (file name and length of each chunk).  ``.h5`` caches without an index
    are found by listing the directory.

    With ``shuffle``, each epoch visits the chunks in ``rng.permutation``
    order and the examples of each chunk in a fresh permutation.

    Args:
        cachedir (str): Cache directory.
        shuffle (bool): Shuffle every epoch.
        rng (None or numpy.random.RandomState): Random generator.
        normalize (bool): Scale ``uint8`` (``uint16``) values to ``[0, 1]``
            as ``float32``.
    """

    def __init__(self, cachedir, shuffle=False, rng=None, normalize=False):
        super(CacheDataSource, self).__init__(shuffle=shuffle, rng=rng)
        self._cachedir = os.fspath(cachedir)
        if not os.path.isdir(self._cachedir):
            raise FileNotFoundError('Cache directory not found: {}'.format(
                self._cachedir))
        self._normalize = normalize
        self._filereader = FileReader(self._cachedir)
        self._num_of_threads = int(nnabla_config.get(
            'DATA_ITERATOR', 'cache_file_cache_num_of_threads'))
        self._variables = None
        self._generation = -1
        self._cache_files = []
        self._current_data = {}
        self._current_filename = None
        self._thread_lock = threading.RLock()

        info_filename = os.path.join(self._cachedir, 'cache_info.csv')
        if os.path.isfile(info_filename):
            with open(info_filename, newline='') as f:
                self._variables = [row[0] for row in csv.reader(f) if row]
            self._cache_type = '.npy'
        else:
            self._cache_type = '.h5'

        index_filename = os.path.join(self._cachedir, 'cache_index.csv')
        if os.path.isfile(index_filename):
            with open(index_filename, newline='') as f:
                for line, row in enumerate(csv.reader(f), 1):
                    if not row:
                        continue
                    if len(row) < 2:
                        raise ValueError('{}, line {}: expected "file,length"'
                                         .format(index_filename, line))
                    name = os.path.join(self._cachedir, row[0])
                    self._cache_files.append((name, int(row[1])))
        else:
            ext = self._cache_type
            for fn in sorted(os.listdir(self._cachedir)):
                if os.path.splitext(fn)[1].lower() == ext:
                    name = os.path.join(self._cachedir, fn)
                    self._cache_files.append((name, self._count(name)))
        if self._cache_type == '.h5' and self._variables is None and \
                self._cache_files:
            import h5py
            with h5py.File(self._cache_files[0][0], 'r') as h5:
                self._variables = list(h5.keys())
        if not self._cache_files:
            raise ValueError('No cache files found in {}'.format(self._cachedir))
        for name, length in self._cache_files:
            logger.info('{} {}'.format(name, length))
        logger.info('{}'.format(len(self._cache_files)))
        self._variables = tuple(self._variables)
        self._original_order = [(name, j) for name, length in self._cache_files
                                for j in range(length)]
        self.reset()

    def _count(self, name):
        data = self._read_file(name)
        return len(next(iter(data.values())))

    def _read_file(self, name):
        result = {}
        if not os.path.isfile(name):
            raise FileNotFoundError('Cache file not found: {}'.format(name))
        if self._cache_type == '.npy':
            if self._variables is None:
                raise ValueError('{} lacks cache_info.csv'.format(self._cachedir))
            with open(name, 'rb') as f:
                for v in self._variables:
                    result[v] = numpy.load(f, allow_pickle=True)
        else:
            import h5py
            with h5py.File(name, 'r') as h5:
                for k, v in h5.items():
                    result[k] = v[()]
        return result

    def _get_data(self, position):
        with self._thread_lock:
            self._position = position
            filename, index = self._order[position]
            if filename != self._current_filename:
                self._current_data = self._read_file(filename)
                self._current_filename = filename
            data = [self._current_data[v][index] for v in self._variables]
        if self._normalize:
            scaled = []
            for d in data:
                if d.dtype == numpy.uint8:
                    d = d.astype(numpy.float32) * (1.0 / 255.0)
                elif d.dtype == numpy.uint16:
                    d = d.astype(numpy.float32) * (1.0 / 65535.0)
                scaled.append(d)
            data = scaled
        return data

    def reset(self):
        with self._thread_lock:
            super(CacheDataSource, self).reset()
            order = []
            if self._shuffle:
                for i in list(self._rng.permutation(
                        list(range(len(self._cache_files))))):
                    filename, length = self._cache_files[i]
                    for j in list(self._rng.permutation(list(range(length)))):
                        order.append((filename, int(j)))
            else:
                for filename, length in self._cache_files:
                    for j in range(length):
                        order.append((filename, j))
            self._order = order
            self._current_data = {}
            self._current_filename = None
            self._size = len(order)
            self._generation += 1


class ConcatDataSource(DataSource):
    """Several data sources (with the same variables) one after another.

    Args:
        data_source_list (list of DataSource): Sources to join.
        shuffle (bool): Shuffle the joined examples every epoch.
        rng (None or numpy.random.RandomState): Random generator.
    """

    def __init__(self, data_source_list, shuffle=True, rng=None):
        super(ConcatDataSource, self).__init__(shuffle=shuffle, rng=rng)
        if not data_source_list:
            raise ValueError('data_source_list is empty')
        self._data_sources = list(data_source_list)
        self._sw_points = list(numpy.cumsum([s.size for s in self._data_sources]))
        self._size = int(self._sw_points[-1])
        self._variables = self._data_sources[0].variables
        self.reset()

    def _get_data(self, position):
        idx = int(self._indexes[position])
        for i, bound in enumerate(self._sw_points):
            if idx < bound:
                local = idx - (self._sw_points[i - 1] if i > 0 else 0)
                return self._data_sources[i]._get_data(int(local))
        return None

    def reset(self):
        if self._shuffle:
            self._indexes = self._rng.permutation(self._size)
        else:
            self._indexes = numpy.arange(self._size)
        super(ConcatDataSource, self).reset()

    def close(self):
        if not getattr(self, '_closed', True):
            super(ConcatDataSource, self).close()
            for s in self._data_sources:
                s.close()


# ------------------------------------------------------------ cache prefetching
_READ_RETRIES = 10
_RETRY_WAIT_S = 0.5


def _read_npy_cache(file_name, variables):
    """The arrays of one ``.npy`` cache file (``variables`` in order); a file still
    being written by another process is retried a few times, then an error."""
    last = None
    for attempt in range(_READ_RETRIES):
        try:
            with open(file_name, 'rb') as f:
                return OrderedDict((v, numpy.load(f, allow_pickle=True)) for v in variables)
        except (OSError, ValueError, EOFError) as e:
            last = e
            time.sleep(_RETRY_WAIT_S)
    raise OSError(f"read_cache: cannot read cache file {file_name} with variables "
                  f"{list(variables)} after {_READ_RETRIES} tries ({last})")


class CachePrefetcher(object):
    """Reads one ``.npy`` cache file at a time on a background thread.

    ``request(name)`` starts reading ``name``; ``check_if_hit(name)`` says whether
    that is the file requested; ``read()`` waits for it and returns its arrays.
    """

    READ_TIMEOUT_S = 300

    def __init__(self, cachedir, variables):
        self._cachedir = cachedir
        self._variables = variables
        self._lock = threading.Lock()
        self._jobs = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._current_data = None
        self._error = None
        self.file_name = None
        self._closed = False
        self._thread = threading.Thread(target=self._worker, daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def read_cache(self, file_name, variables):
        """Read ``file_name`` now (on the calling thread)."""
        return _read_npy_cache(file_name, variables)

    def _worker(self):
        while True:
            name = self._jobs.get()
            if name is None:
                self._idle.set()
                return
            try:
                self._current_data, self._error = self.read_cache(name, self._variables), None
            except Exception as e:  # handed to read()
                self._current_data, self._error = None, e
            self._idle.set()

    def request(self, cache_file_name):
        """Start reading ``cache_file_name`` in the background."""
        if self._closed:
            raise RuntimeError("CachePrefetcher.request: the prefetcher is closed")
        self._idle.wait(self.READ_TIMEOUT_S)
        with self._lock:
            self.file_name = cache_file_name
            self._idle.clear()
        self._jobs.put(cache_file_name)

    def check_if_hit(self, fn):
        """Whether ``fn`` is the file requested (it is then taken: no longer pending)."""
        with self._lock:
            if fn is not None and fn == self.file_name:
                self.file_name = None
                return True
            return False

    def read(self):
        """Wait for the requested file and return its arrays (None if nothing was requested)."""
        if not self._idle.wait(self.READ_TIMEOUT_S):
            raise TimeoutError(f"CachePrefetcher.read: {self.file_name} not read within "
                               f"{self.READ_TIMEOUT_S} s")
        data, error = self._current_data, self._error
        self._current_data = self._error = None
        self.file_name = None
        if error is not None:
            raise error
        return data

    def close(self):
        if not self._closed:
            self._closed = True
            self._idle.wait(self.READ_TIMEOUT_S)
            self._jobs.put(None)
            self._thread.join(self.READ_TIMEOUT_S)


class CacheReaderWithPrefetch(object):
    """Reads ``.npy`` cache files, prefetching the next ones on ``num_threads`` threads."""

    def __init__(self, cachedir, num_threads, variables):
        self._variables = variables
        self._cache_prefetchers = [CachePrefetcher(cachedir, variables)
                                   for _ in range(num_threads)]
        self._closed = False
        atexit.register(self.close)

    def open_and_prefetch_cache(self, file_name, file_names_to_prefetch):
        """The arrays of ``file_name`` (prefetched if it was requested before), then
        start prefetching ``file_names_to_prefetch`` on the idle threads."""
        result = None
        for cp in self._cache_prefetchers:
            if cp.check_if_hit(file_name):
                result = cp.read()
                break
        if result is None:
            result = _read_npy_cache(file_name, self._variables)
        for cp in self._cache_prefetchers:  # drop prefetches nobody will ask for
            if cp.file_name and cp.file_name not in file_names_to_prefetch:
                try:
                    cp.read()
                except OSError:
                    pass  # a prefetch nobody needs any more
        pending = {cp.file_name for cp in self._cache_prefetchers}
        idle = [cp for cp in self._cache_prefetchers if cp.file_name is None]
        for name in file_names_to_prefetch:
            if name in pending or not idle:
                continue
            idle.pop(0).request(name)
            pending.add(name)
        return result

    def close(self):
        if not self._closed:
            for cp in self._cache_prefetchers:
                cp.close()
            self._closed = True
