"""Training monitors (``nnabla.monitor``).

Files written under ``Monitor(save_path)``:

* :class:`MonitorSeries` -- ``<name>.series.txt``, one ``"<index> <value>"``
  line (value formatted with ``{:g}``) per flush;
* :class:`MonitorTimeElapsed` -- ``<name>.timer.txt``, lines
  ``"<index> <seconds since last flush> <iterations> <total seconds>"``;
* :class:`MonitorImage` -- ``<name>/<index:06d>-<k:03d>.png`` per image;
* :class:`MonitorImageTile` -- ``<name>/<index:06d>.png`` (tiled batch).

Spaces in ``name`` become ``-`` in file names.  Each flush is also logged
through the ``nnabla`` logger, e.g. ``iter=9 {Training loss}=0.25``.

Plots can be made with :func:`plot_series` / :func:`plot_time_elapsed`, or
from the command line::

    python -m nnjax.monitor plot tmp.monitor/loss.series.txt -o loss.png
"""

import argparse
import errno
import os
import sys
import time

import numpy as np

from .logger import logger
from .utils.image_utils import imsave

__all__ = ['Monitor', 'MonitorSeries', 'MonitorTimeElapsed', 'MonitorImage',
           'MonitorImageTile', 'tile_images', 'plot_series',
           'plot_time_elapsed', 'plot_timer', 'main']


def _make_dir(path, what):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, 'Cannot create {} ({})'.format(
            what, e.strerror or e), path) from e
    if not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES,
                              '{} is not writable'.format(what), path)


def _start_file(path):
    """Create/truncate ``path``, with an error naming it on failure."""
    try:
        with open(path, 'w'):
            pass
    except OSError as e:
        raise OSError(e.errno, 'Cannot write monitor file ({})'.format(
            e.strerror or e), path) from e


def _append_line(path, line):
    try:
        with open(path, 'a') as f:
            f.write(line + '\n')
    except OSError as e:
        raise OSError(e.errno, 'Cannot write monitor file ({})'.format(
            e.strerror or e), path) from e


def _as_array(value):
    """numpy copy of a float, array, Variable (``.d``) or NdArray (``.data``)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return np.array(value)
    if hasattr(value, 'd'):
        return np.array(value.d)
    if isinstance(value, (int, float, bool)) or hasattr(value, '__array__'):
        return np.array(value)
    if hasattr(value, 'data') and not isinstance(value, (bytes, memoryview)):
        return np.array(value.data)
    return np.array(value)


class Monitor(object):
    """Output folder shared by the monitors.

    Args:
        save_path (str): Folder to write to (created if needed).

    Raises:
        OSError: naming ``save_path`` when it cannot be created or written.
    """

    def __init__(self, save_path):
        self._save_path = save_path
        _make_dir(save_path, 'monitor folder')

    @property
    def save_path(self):
        return self._save_path


class MonitorSeries(object):
    """Log a series of values, averaged over ``interval`` indexes.

    ``add(index, value)`` buffers ``value``; when ``index`` is at least
    ``interval`` past the previous flush (the first flush happens at index
    ``interval - 1``), the buffered values are averaged, logged as
    ``iter=<index> {<name>}=<mean>`` and appended to
    ``<name>.series.txt`` as ``"<index> <mean:g>"``.

    Args:
        name (str): Name used in the log and the file name.
        monitor (Monitor): Output folder; None only logs.
        interval (int): Flush interval.
        verbose (bool): Log each flush.

    Example::

        mons = MonitorSeries('Training loss', monitor, interval=10)
        for i in range(100):
            mons.add(i, loss)      # float, numpy array or Variable
    """

    def __init__(self, name, monitor=None, interval=1, verbose=True):
        self.name = name
        self.interval = interval
        self.verbose = verbose
        self.sp = None
        if monitor is not None:
            self.sp = os.path.join(monitor.save_path,
                                   name.replace(' ', '-')) + '.series.txt'
            _start_file(self.sp)
        self.flush_at = -1
        self.buf = []

    @staticmethod
    def _mean(values):
        try:
            return np.mean(values)
        except ValueError:
            return np.mean([np.mean(v) for v in values])

    def add(self, index, value):
        """Add ``value`` (float, numpy array, or object with ``.d``) at ``index``."""
        arr = _as_array(value)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) \
                or arr.size == 0:
            raise TypeError('MonitorSeries "{}": value must be a number or a '
                            'non-empty numeric array, got {!r}'.format(
                                self.name, value))
        self.buf.append(arr)
        if (index - self.flush_at) < self.interval:
            return
        mean = self._mean(self.buf)
        if self.verbose:
            logger.info('iter={} {{{}}}={}'.format(index, self.name, mean))
        if self.sp is not None:
            _append_line(self.sp, '{} {:g}'.format(index, mean))
        self.flush_at = index
        self.buf = []


class MonitorTimeElapsed(object):
    """Log the wall-clock time between flushes.

    Every ``interval`` indexes, logs
    ``iter=<index> {<name>}=<sec>[sec/<n>iter] <total>[sec]`` and appends
    ``"<index> <sec> <n> <total>"`` to ``<name>.timer.txt``, where ``sec`` is
    the time since the previous flush, ``n`` the number of indexes since then
    and ``total`` the time since construction.

    Args:
        name (str): Name used in the log and the file name.
        monitor (Monitor): Output folder; None only logs.
        interval (int): Flush interval.
        verbose (bool): Log each flush.
    """

    def __init__(self, name, monitor=None, interval=100, verbose=True):
        self.name = name
        self.interval = interval
        self.verbose = verbose
        self.sp = None
        if monitor is not None:
            self.sp = os.path.join(monitor.save_path,
                                   name.replace(' ', '-')) + '.timer.txt'
            _start_file(self.sp)
        self.flush_at = -1
        self.start = time.time()
        self.lap = self.start

    def add(self, index):
        """Record the time at ``index``."""
        if (index - self.flush_at) < self.interval:
            return
        now = time.time()
        elapsed = now - self.lap
        elapsed_total = now - self.start
        it = index - self.flush_at
        self.lap = now
        if self.verbose:
            logger.info('iter={} {{{}}}={}[sec/{}iter] {}[sec]'.format(
                index, self.name, elapsed, it, elapsed_total))
        if self.sp is not None:
            _append_line(self.sp, '{} {} {} {}'.format(
                index, elapsed, it, elapsed_total))
        self.flush_at = index


class MonitorImage(object):
    """Save images of a ``(N, ..., C, H, W)`` batch as PNG files.

    At index 0 and whenever ``(index + 1) % interval == 0``, the first
    ``num_images`` images are normalised with ``normalize_method`` (default:
    min-max over the images saved) and written to
    ``<save_path>/<name>/<index:06d>-<k:03d>.png``.  Only the first three
    channels are kept; two-channel images get a third channel of ones.

    Args:
        name (str): Name of the image folder.
        monitor (Monitor): Output folder.
        interval (int): Save interval.
        verbose (bool): Log each save.
        num_images (int): Images saved per call.
        normalize_method (callable): Maps the ``(B, C, H, W)`` batch to
            ``[0, 1]``.
    """

    def __init__(self, name, monitor, interval=1000, verbose=True,
                 num_images=16, normalize_method=None):
        self.name = name
        self.interval = interval
        self.verbose = verbose
        self.normalize_method = normalize_method
        if normalize_method is None:
            self.normalize_method = self.default_normalize_method
        self.num_images = num_images
        self.save_dir = os.path.join(monitor.save_path, name.replace(' ', '-'))
        _make_dir(self.save_dir, 'image folder')

    def default_normalize_method(self, x):
        ma = x.max()
        mi = x.min()
        if ma == mi:
            return np.zeros_like(x, dtype=np.float32)
        return (x - mi) / (ma - mi)

    def _due(self, index):
        return index == 0 or (index + 1) % self.interval == 0

    def _prepare(self, var):
        data = _as_array(var)
        if data.ndim <= 2:
            raise ValueError('{} "{}": expected a (N, ..., C, H, W) array, got '
                             'shape {}'.format(type(self).__name__, self.name,
                                               data.shape))
        channels = data.shape[-3]
        data = data.reshape(-1, *data.shape[-3:])
        data = data[:min(data.shape[0], self.num_images)]
        data = np.asarray(self.normalize_method(data))
        if channels > 3:
            data = data[:, :3]
        elif channels == 2:
            data = np.concatenate(
                [data, np.ones((data.shape[0], 1) + data.shape[-2:],
                               data.dtype)], axis=1)
        return data

    def add(self, index, var):
        """Save the images of ``var`` (array, Variable or NdArray) at ``index``."""
        if not self._due(index):
            return
        data = self._prepare(var)
        path_tmpl = os.path.join(self.save_dir, '{:06d}-{}.png')
        for j in range(data.shape[0]):
            img = data[j].transpose(1, 2, 0)
            if img.shape[-1] == 1:
                img = img[..., 0]
            imsave(path_tmpl.format(index, '{:03d}'.format(j)), img)
        if self.verbose:
            logger.info('iter={} {{{}}} are written to {}.'.format(
                index, self.name, path_tmpl.format(index, '*')))


class MonitorImageTile(MonitorImage):
    """Like :class:`MonitorImage` but tiles the images into one PNG,
    ``<save_path>/<name>/<index:06d>.png`` (see :func:`tile_images`)."""

    def add(self, index, var):
        """Save the tiled images of ``var`` at ``index``."""
        if not self._due(index):
            return
        data = self._prepare(var)
        tile = tile_images(data)
        path = os.path.join(self.save_dir, '{:06d}.png'.format(index))
        imsave(path, tile)
        if self.verbose:
            logger.info('iter={} {{{}}} is written to {}.'.format(
                index, self.name, path))


def tile_images(data, padsize=1, padval=0):
    """Tile a ``(B, C, H, W)`` batch into one image.

    Images are laid out row by row on an ``n x n`` grid with
    ``n = ceil(sqrt(B))``; each cell is the image followed by ``padsize``
    rows/columns of ``padval`` at the bottom/right, and unused cells are
    filled with ``padval``.

    Returns:
        numpy.ndarray: ``(n*(H+padsize), n*(W+padsize), C)``, or 2-D when
        ``C == 1``.
    """
    data = np.asarray(data)
    if data.ndim != 4:
        raise ValueError('tile_images expects a (B, C, H, W) array, got shape '
                         '{}'.format(data.shape))
    b, c, h, w = data.shape
    n = int(np.ceil(np.sqrt(b)))
    cell_h, cell_w = h + padsize, w + padsize
    out = np.full((n * cell_h, n * cell_w, c), padval, dtype=data.dtype)
    for k in range(b):
        r, col = divmod(k, n)
        out[r * cell_h:r * cell_h + h, col * cell_w:col * cell_w + w] = \
            data[k].transpose(1, 2, 0)
    if c == 1:
        return out[..., 0]
    return out


def _read_columns(filename, columns):
    try:
        table = np.loadtxt(filename, ndmin=2)
    except OSError:
        raise FileNotFoundError('Monitor file not found: {}'.format(filename))
    except ValueError as e:
        raise ValueError('Cannot parse monitor file {}: {}'.format(filename, e))
    if table.size == 0:
        raise ValueError('Monitor file {} has no data'.format(filename))
    if table.shape[1] <= max(columns):
        raise ValueError('Monitor file {} has {} columns, expected at least '
                         '{}'.format(filename, table.shape[1], max(columns) + 1))
    return [table[:, c] for c in columns]


def plot_series(filename, plot_kwargs=None):
    """Plot a ``*.series.txt`` file written by :class:`MonitorSeries`.

    Args:
        filename (str): Series file.
        plot_kwargs (dict): Keyword arguments of ``matplotlib.pyplot.plot``.
    """
    import matplotlib.pyplot as plt
    index, values = _read_columns(filename, (0, 1))
    plt.plot(index.astype(np.int64), values, **(plot_kwargs or {}))


def plot_time_elapsed(filename, elapsed=False, unit='s', plot_kwargs=None):
    """Plot a ``*.timer.txt`` file written by :class:`MonitorTimeElapsed`.

    Args:
        filename (str): Timer file.
        elapsed (bool): Plot the total elapsed time instead of the time per
            interval.
        unit (str): ``'s'``, ``'m'``, ``'h'`` or ``'d'``.
        plot_kwargs (dict): Keyword arguments of ``matplotlib.pyplot.plot``.
    """
    import matplotlib.pyplot as plt
    scale = {'s': 1.0, 'm': 60.0, 'h': 3600.0, 'd': 86400.0}
    if unit not in scale:
        raise ValueError('The argument `unit` must be chosen from {s|m|h|d}.')
    index, values = _read_columns(filename, (0, 3 if elapsed else 1))
    plt.plot(index.astype(np.int64), values / scale[unit],
             **(plot_kwargs or {}))


plot_timer = plot_time_elapsed


def main(argv=None):
    """Command line: ``python -m nnjax.monitor plot FILE... -o OUT.png``."""
    parser = argparse.ArgumentParser(
        prog='python -m nnjax.monitor',
        description='Plot monitor files (*.series.txt, *.timer.txt).')
    sub = parser.add_subparsers(dest='command')
    p = sub.add_parser('plot', help='plot monitor files into an image')
    p.add_argument('files', nargs='+', help='*.series.txt or *.timer.txt files')
    p.add_argument('-o', '--output', required=True, help='output image (PNG)')
    p.add_argument('--elapsed', action='store_true',
                   help='plot the total elapsed time of timer files')
    p.add_argument('--unit', default='s', choices=['s', 'm', 'h', 'd'],
                   help='time unit of timer files')
    p.add_argument('--title', default=None, help='figure title')
    p.add_argument('--ylog', action='store_true', help='log scale y axis')
    args = parser.parse_args(argv)
    if args.command != 'plot':
        parser.print_help()
        return 2

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 5))
    try:
        for fn in args.files:
            label = os.path.basename(fn)
            for suffix in ('.series.txt', '.timer.txt'):
                if label.endswith(suffix):
                    label = label[:-len(suffix)]
            try:
                if fn.endswith('.timer.txt'):
                    plot_time_elapsed(fn, elapsed=args.elapsed, unit=args.unit,
                                      plot_kwargs={'label': label})
                else:
                    plot_series(fn, plot_kwargs={'label': label})
            except (OSError, ValueError) as e:
                print('error: {}'.format(e), file=sys.stderr)
                return 1
        plt.xlabel('iteration')
        if args.ylog:
            plt.yscale('log')
        if args.title:
            plt.title(args.title)
        plt.legend()
        plt.grid(True, alpha=0.3)
        out_dir = os.path.dirname(os.path.abspath(args.output))
        try:
            os.makedirs(out_dir, exist_ok=True)
            fig.savefig(args.output, format='png')
        except OSError as e:
            print('error: cannot write {}: {}'.format(args.output, e),
                  file=sys.stderr)
            return 1
    finally:
        plt.close(fig)
    print(args.output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
