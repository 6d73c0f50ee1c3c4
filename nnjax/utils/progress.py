"""Progress reporting helpers.

Two facilities are provided:

* :func:`progress_bar` -- a thin wrapper around :class:`tqdm.tqdm` used for
  long loops (building file caches, downloads, ...).  It honours the
  ``[MISC] misc_show_progress`` configuration flag and degrades to a silent
  no-op object when tqdm is not importable.
* :func:`configure_progress` / :func:`progress` -- NNabla's state-file
  reporting: when a file name has been configured, ``progress(state, ratio)``
  rewrites that file with ``"<state> (<percent>%)"`` at most once a second,
  and ``progress(None)`` empties it.
"""

import time

from ..config import nnabla_config

__all__ = ['progress_bar', 'show_progress', 'configure_progress', 'progress']


def show_progress():
    """Return the ``[MISC] misc_show_progress`` flag (default True)."""
    try:
        value = nnabla_config.get('MISC', 'misc_show_progress')
    except Exception:
        return True
    return str(value).strip().lower() not in ('false', '0', 'no', 'off', '')


class _SilentBar(object):
    """Minimal stand-in for a tqdm bar when progress display is off."""

    def __init__(self, iterable=None, total=None, **kwargs):
        self.iterable = iterable
        self.total = total
        self.n = 0

    def __iter__(self):
        for item in self.iterable:
            self.n += 1
            yield item

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def update(self, n=1):
        self.n += n

    def set_description(self, desc=None, refresh=True):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


def progress_bar(iterable=None, total=None, desc=None, disable=None, **kwargs):
    """Return a tqdm progress bar (or a silent stand-in).

    Args:
        iterable: Optional iterable to wrap.
        total (int): Expected number of steps.
        desc (str): Text shown before the bar.
        disable (bool): Force the bar off (True) or on (False).  ``None``
            follows the ``[MISC] misc_show_progress`` configuration.
        **kwargs: Passed to :class:`tqdm.tqdm`.

    Returns:
        An object with tqdm's ``update``/``close`` interface, usable as an
        iterator (when ``iterable`` is given) and as a context manager.
    """
    if disable is None:
        disable = not show_progress()
    if not disable:
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            kwargs.setdefault('leave', False)
            return tqdm(iterable=iterable, total=total, desc=desc, **kwargs)
    return _SilentBar(iterable=iterable, total=total)


# NNabla compatible state file reporting.
state_file_name = ''
_last_write = 0.0


def configure_progress(file_name):
    """Set the state file written by :func:`progress` ('' disables it)."""
    global state_file_name
    state_file_name = file_name or ''
    progress(None)


def progress(state, progress=0.0):
    """Write ``"<state> (<percent>%)"`` to the configured state file.

    Writes are throttled to one per second except when ``state`` is None,
    which always truncates the file.  Does nothing when no state file is
    configured.
    """
    global _last_write
    if not state_file_name:
        return
    now = time.monotonic()
    if state is not None and now - _last_write < 1.0:
        return
    _last_write = now
    with open(state_file_name, 'w') as f:
        if state is not None:
            f.write('{} ({:3.2f}%)'.format(state, progress * 100))
