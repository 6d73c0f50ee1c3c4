"""File readers and per-extension loaders used by the data sources.

:class:`FileReader` opens files relative to a base location (a local path or
an ``http(s)://`` URL).  :func:`load` maps a file extension to a loader
function ``f(file, shape=None, normalize=False)`` returning a numpy array:

* images (``.bmp .jpg .jpeg .png .gif .tif .tiff``): ``(C, H, W)`` arrays,
  ``uint8`` as stored, or scaled to ``[0, 1]`` when ``normalize`` is True;
* ``.csv``: a 2-D float array of the file's numbers;
* ``.npy``: the stored array;
* ``.wav``: the samples as ``(n, channels)``.
"""

import contextlib
import csv
import io
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
import wave

import numpy

from ..logger import logger
from .image_utils import imread, imresize
from .progress import progress_bar

__all__ = ['FileReader', 'ResourceFileReader', 'load', 'register_load_function', 'load_image',
           'load_image_imread', 'load_csv', 'load_npy', 'load_wav',
           'get_file_extension', 'download', 'get_data_home']


class FileReader(object):
    """Open files from a local path or an HTTP(S) URL.

    Relative names passed to :meth:`open` are resolved against the directory
    of ``base_uri`` (for a CSV dataset: the directory of the CSV file).

    Args:
        base_uri (str): Local file/directory name or ``http(s)://`` URL.
    """

    def __init__(self, base_uri):
        self._base_uri = os.fspath(base_uri)
        self.base_ext = os.path.splitext(self._base_uri)[1].lower()
        low = self._base_uri.lower()
        if low.startswith('s3://'):
            self._file_type = 's3'
        elif low.startswith('http://') or low.startswith('https://'):
            self._file_type = 'http'
        else:
            self._file_type = 'file'

    def _resolve(self, filename):
        if filename is None:
            return self._base_uri
        if self._file_type == 'http':
            return urllib.parse.urljoin(self._base_uri,
                                        filename.replace('\\', '/'))
        if self._file_type == 's3':
            return filename
        base_dir = os.path.dirname(self._base_uri.replace('\\', '/'))
        return os.path.abspath(os.path.join(base_dir,
                                            filename.replace('\\', '/')))

    def resolve(self, filename=None):
        """Return the absolute path (or URL) :meth:`open` would use."""
        return self._resolve(filename)

    @contextlib.contextmanager
    def open(self, filename=None, textmode=False, encoding='utf-8-sig'):
        """Context manager yielding an open file object.

        Args:
            filename (str): Name relative to the base location; None opens
                the base itself.
            textmode (bool): Open as text (with ``encoding``) instead of bytes.
        """
        name = self._resolve(filename)
        if self._file_type == 's3':
            raise ValueError(
                'S3 URIs are not supported by nnjax (no boto3): {}'.format(name))
        if self._file_type == 'http':
            with urllib.request.urlopen(name) as r:
                payload = r.read()
            if textmode:
                f = io.StringIO(payload.decode(encoding))
            else:
                f = io.BytesIO(payload)
            f.name = name
        elif textmode:
            f = open(name, 'rt', encoding=encoding, newline='')
        else:
            f = open(name, 'rb')
        try:
            try:
                f.ext = os.path.splitext(name)[1].lower()
            except AttributeError:
                pass
            yield f
        finally:
            f.close()

    @contextlib.contextmanager
    def open_cache(self, cache_name):
        """Open an ``.h5`` cache file inside the base directory."""
        import h5py
        if self._file_type != 'file':
            raise ValueError(
                'Cache files can only be read from a local directory, not '
                '{}'.format(self._base_uri))
        name = os.path.abspath(os.path.join(self._base_uri, cache_name))
        with h5py.File(name, 'r') as h5:
            yield h5

    def listdir(self):
        """Sorted ``.h5`` file names of a local base directory."""
        if self._file_type != 'file':
            return None
        return [f for f in sorted(os.listdir(self._base_uri))
                if os.path.splitext(f)[1].lower() == '.h5']


class ResourceFileReader:
    """A path, a binary file object or a BytesIO, with its extension (``ext``:
    from the name, else from the leading bytes) and an :meth:`open` that yields a
    binary file positioned at the start.

    Text sources (StringIO, files opened in text mode) are refused with a ValueError.
    """

    def __init__(self, source):
        self._source = source
        if isinstance(source, (str, os.PathLike)):
            self.handler = FileReader(os.fspath(source))
            self.ext = self.handler.base_ext
            if not self.ext:
                with self.handler.open() as f:
                    self.ext = get_file_extension(f)
        elif _is_binary_stream(source):
            self.handler = source
            self.ext = get_file_extension(source)
        else:
            raise ValueError("ResourceFileReader: expected a path, a binary file object or a "
                             f"BytesIO, got {type(source).__name__} (text streams are not read)")

    @contextlib.contextmanager
    def open(self):
        """Yield a binary file object at its start (carrying ``ext``)."""
        if isinstance(self.handler, FileReader):
            with self.handler.open() as f:
                if not getattr(f, 'ext', ''):
                    f.ext = self.ext
                yield f
            return
        self.handler.seek(0)
        try:
            self.handler.ext = self.ext
        except AttributeError:  # e.g. a BufferedReader: no new attributes
            pass
        try:
            yield self.handler
        finally:
            self.handler.seek(0)


def _is_binary_stream(source):
    if not (hasattr(source, 'read') and hasattr(source, 'seek')):
        return False
    try:
        pos = source.tell()
        first = source.read(1)
        source.seek(pos)
    except Exception:  # unreadable or unseekable
        return False
    return isinstance(first, bytes)


_SIGNATURES = (
    ('.png', b'\x89PNG\r\n\x1a\n', 0),
    ('.jpg', b'\xff\xd8\xff', 0),
    ('.bmp', b'BM', 0),
    ('.gif', b'GIF87a', 0),
    ('.gif', b'GIF89a', 0),
    ('.tif', b'II*\x00', 0),
    ('.tif', b'MM\x00*', 0),
    ('.wav', b'RIFF', 0),
    ('.npy', b'\x93NUMPY', 0),
)


def get_file_extension(source):
    """Guess the lower-case extension of a path or file object.

    Uses the name when there is one, else the leading magic bytes.
    """
    if isinstance(source, (str, os.PathLike)):
        return os.path.splitext(os.fspath(source))[1].lower()
    name = getattr(source, 'name', None)
    if isinstance(name, str) and os.path.splitext(name)[1]:
        return os.path.splitext(name)[1].lower()
    if hasattr(source, 'read') and hasattr(source, 'seek'):
        pos = source.tell()
        head = source.read(16)
        source.seek(pos)
        for ext, magic, offset in _SIGNATURES:
            if head[offset:offset + len(magic)] == magic:
                return ext
    return ''


def load_image_imread(file, shape=None, max_range=1.0):
    """Load an image as a ``(C, H, W)`` array.

    Args:
        file: Path or binary file object.
        shape (tuple of int): Optional ``(C, H, W)``; the image is resized to
            ``(H, W)`` when it differs.  ``C`` must match the file.
        max_range (float): Output range.  Negative returns the raw integer
            pixels; otherwise values are scaled to ``[0, max_range]``.
    """
    img = imread(file)
    if img.ndim == 2:
        img = img[..., None]
    height, width, n_color = img.shape
    if shape is not None:
        out_c, out_h, out_w = shape
        if out_c != n_color:
            raise ValueError('Image has {} channels but shape {} was '
                             'requested'.format(n_color, tuple(shape)))
        if (out_h, out_w) != (height, width):
            img = imresize(img, (out_w, out_h))
            if img.ndim == 2:
                img = img[..., None]
    img = img.transpose(2, 0, 1)
    if max_range < 0:
        return img
    full = 65535.0 if img.dtype == numpy.uint16 else 255.0
    if max_range == full:
        return img
    return img * (max_range / full)


def load_image(file, shape=None, normalize=False):
    """Load an image; ``normalize`` scales pixels to ``[0, 1]``."""
    return load_image_imread(file, shape, 1.0 if normalize else -1)


def load_csv(file, shape=None, normalize=False):
    """Load a CSV file of numbers into a float array."""
    raw = file.read()
    if isinstance(raw, bytes):
        raw = raw.decode('utf-8-sig')
    rows = [list(map(float, row)) for row in csv.reader(io.StringIO(raw))
            if len(row)]
    try:
        arr = numpy.array(rows)
        return arr if shape is None else arr.reshape(shape)
    except ValueError as e:
        raise ValueError('Failed to load array from "{}": {}'.format(
            getattr(file, 'name', file), e)) from e


def load_npy(path, shape=None, normalize=False):
    """Load a ``.npy`` array (optionally reshaped)."""
    arr = numpy.load(path, allow_pickle=True)
    return arr if shape is None else arr.reshape(shape)


def load_wav(path, shape=None, normalize=False):
    """Load a PCM ``.wav`` file as an ``(n, channels)`` integer array."""
    with wave.open(path, 'rb') as w:
        n_channels = w.getnchannels()
        width = w.getsampwidth()
        frames = w.readframes(w.getnframes())
    dtype = {1: numpy.uint8, 2: numpy.int16, 4: numpy.int32}.get(width)
    if dtype is None:
        raise ValueError('Unsupported wav sample width: {}'.format(width))
    data = numpy.frombuffer(frames, dtype=dtype).reshape(-1, n_channels)
    return data if shape is None else data.reshape(shape)


_load_functions = {
    '.bmp': load_image,
    '.jpg': load_image,
    '.jpeg': load_image,
    '.png': load_image,
    '.gif': load_image,
    '.tif': load_image,
    '.tiff': load_image,
    '.csv': load_csv,
    '.npy': load_npy,
    '.wav': load_wav,
}


def register_load_function(ext, function):
    """Register ``function(file, shape=None, normalize=False)`` for ``ext``."""
    _load_functions[ext.lower()] = function


def load(ext):
    """Return the loader registered for the extension ``ext``.

    Raises:
        ValueError: if no loader handles ``ext``.
    """
    if ext in _load_functions:
        return _load_functions[ext]
    raise ValueError(
        'File format with extension "{}" is not supported.'.format(ext))


def get_data_home():
    """Return (and create) ``~/nnabla_data``."""
    d = os.path.expanduser('~/nnabla_data')
    if d == '/nnabla_data':
        d = './nnabla_data'
    os.makedirs(d, exist_ok=True)
    return d


def download(url, output_file=None, open_file=True, allow_overwrite=False):
    """Download ``url`` (once) and optionally return the opened file.

    Args:
        url (str): URL to fetch.
        output_file (str): Destination; defaults to
            ``get_data_home()/<last URL component>``.
        open_file (bool): Return the file opened in ``'rb'`` mode.
        allow_overwrite (bool): Download again even when the file exists.
    """
    filename = url.split('/')[-1]
    target = output_file or os.path.join(get_data_home(), filename)
    if os.path.exists(target) and not allow_overwrite:
        logger.info('> {} already exists.'.format(target))
        logger.info('> If you have any issue when using this file, ')
        logger.info('> manually remove the file and try download again.')
    else:
        fd, tmp = tempfile.mkstemp(
            dir=os.path.dirname(os.path.abspath(target)) or '.')
        try:
            with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(url) as r:
                try:
                    total = int(r.headers.get('Content-Length') or 0)
                except ValueError:
                    total = 0
                with progress_bar(total=total or None, desc=filename,
                                  unit='B', unit_scale=True) as bar:
                    while True:
                        chunk = r.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                        bar.update(len(chunk))
            shutil.move(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    if open_file:
        return open(target, 'rb')
    return None
