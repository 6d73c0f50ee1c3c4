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

import os
from datetime import datetime, timedelta

from ..config import nnabla_config
from . import callback

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
last_state_datetime = datetime.now()  # when the state file was last written
state_callback = None                 # called with (state, progress) by progress()


def configure_progress(file_name, cb=None):
    """Set the state file written by :func:`progress` ('' disables it; None keeps
    the current one) and, with ``cb``, the callback ``cb(state, progress)``."""
    global state_file_name, state_callback
    if file_name is not None:
        state_file_name = file_name
    if cb is not None:
        state_callback = cb
    progress(None)


def progress(state, progress=0.0):
    """Write ``"<state> (<percent>%)"`` to the configured state file (at most once
    a second; ``state=None`` always truncates it), pass the text to
    ``nnabla.utils.callback.update_progress`` and call the configured callback."""
    global last_state_datetime
    if state_file_name:
        now = datetime.now()
        if state is None or now - last_state_datetime >= timedelta(seconds=1):
            last_state_datetime = now
            _write_state(state, progress)
    callback.update_progress('{0} ({1:3.2f}%)'.format(state, progress * 100))
    if state_callback is not None:
        state_callback(state, progress)


def _write_state(state, progress):
    text = '' if state is None else '{} ({:3.2f}%)'.format(state, progress * 100)
    tmp = state_file_name + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, state_file_name)
