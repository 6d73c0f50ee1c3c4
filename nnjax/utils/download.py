"""Downloads with a local cache, as ``nnabla.utils.download``.

``download(url)`` keeps the file under :func:`get_data_home` (or ``output_file``)
and reuses it unless ``allow_overwrite``. Without network access it fails at once
with a ``ConnectionError`` naming the URL and the cache path to fill by hand.
"""
import os
import urllib.error
import urllib.request

from ..logger import logger

#: Seconds to wait for a connection or a read before giving up.
TIMEOUT_SECONDS = 20


def get_data_home():
    """``~/nnabla_data`` (``./nnabla_data`` without a home), created if needed."""
    home = os.path.expanduser("~/nnabla_data")
    if home == "/nnabla_data":
        home = "./nnabla_data"
    os.makedirs(home, exist_ok=True)
    return home


def download(url, output_file=None, open_file=True, allow_overwrite=False):
    """Fetch ``url`` into ``output_file`` (default: the data home, by file name).

    Returns the file opened for binary reading when ``open_file``, else None.
    An existing file is kept unless ``allow_overwrite``.
    """
    target = output_file if output_file is not None else \
        os.path.join(get_data_home(), url.split("/")[-1])
    if os.path.exists(target) and not allow_overwrite:
        logger.info(f"> {target} already exists; remove it to download {url} again.")
    else:
        _fetch(url, target)
    return open(target, "rb") if open_file else None


def _fetch(url, target):
    part = f"{target}.part{os.getpid()}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response, \
                open(part, "wb") as out:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if os.path.exists(part):
            os.remove(part)
        raise ConnectionError(f"nnabla.utils.download: cannot download {url} ({e}); without "
                              f"network access, put the file at {target} yourself") from None
    os.replace(part, target)
