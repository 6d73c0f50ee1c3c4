"""The ``nnabla`` logger.

Usage::

    from nnabla.logger import logger
    logger.info('Log message(INFO)')

Console lines look like::

    2017-01-19 14:41:35,132 [nnabla][INFO]: Log message(INFO)

The logger is configured from the ``[LOG]`` section of the configuration
(see :mod:`nnabla.config`):

``log_console_level`` / ``log_console_format``
    Level (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``, ``CRITICAL``) and
    format of the console (stderr) handler.  Defaults: ``INFO`` and
    ``%(asctime)s [%(name)s][%(levelname)s]: %(message)s``.
``log_file_name`` / ``log_file_level`` / ``log_file_format``
    When ``log_file_name`` is not empty, records are also appended to that
    file with the given level (default ``DEBUG``) and format.
``log_level`` (optional)
    Level of the ``nnabla`` logger itself.  When absent, the lowest of the
    handler levels is used so each handler receives what it asks for.

Unlike NNabla, the root logger is left untouched: the handlers are attached
to the ``nnabla`` logger, which still propagates, so ``caplog`` and
application-level handlers see the records too.
"""

import logging
import os
import sys

from .config import nnabla_config

__all__ = ['logger', 'configure_from_config']

DEFAULT_CONSOLE_FORMAT = '%(asctime)s [%(name)s][%(levelname)s]: %(message)s'
DEFAULT_FILE_FORMAT = ('%(asctime)s [%(name)s][%(levelname)s]: %(pathname)s : '
                       '%(funcName)s : %(lineno)s : %(message)s')

logger = logging.getLogger('nnabla')

# Module level mirrors of the effective settings (NNabla exposes the same).
log_console_level = logging.INFO
log_console_format = DEFAULT_CONSOLE_FORMAT
log_file_name = ''
log_file_level = logging.DEBUG
log_file_format = DEFAULT_FILE_FORMAT

_HANDLER_MARK = '_nnjax_logger_handler'


def _string_to_level(value, default=None):
    """Map a level name (any case) or a number to a logging level."""
    if value is None:
        return default
    text = str(value).strip()
    if not text:
        return default
    if text.lstrip('-').isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if isinstance(level, int):
        return level
    return default


def _get(config, key, default=''):
    try:
        return config.get('LOG', key)
    except Exception:
        return default


def configure_from_config(config=None):
    """(Re)build the handlers of :data:`logger` from ``[LOG]`` settings.

    Called once at import time with :data:`nnabla.config.nnabla_config`.
    Calling it again (e.g. after ``nnabla_config.set('LOG', ...)``) replaces
    the handlers previously installed by this module; handlers added by
    other code are kept.

    Args:
        config (configparser.RawConfigParser): Configuration to read.
            Defaults to ``nnabla_config``.

    Returns:
        logging.Logger: the configured ``nnabla`` logger.
    """
    global log_console_level, log_console_format
    global log_file_name, log_file_level, log_file_format
    if config is None:
        config = nnabla_config

    for handler in list(logger.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            logger.removeHandler(handler)
            try:
                handler.close()
            except Exception:
                pass

    log_console_level = _string_to_level(
        _get(config, 'log_console_level'), logging.INFO)
    log_console_format = _get(config, 'log_console_format') or \
        DEFAULT_CONSOLE_FORMAT
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(log_console_level)
    console.setFormatter(logging.Formatter(log_console_format))
    setattr(console, _HANDLER_MARK, True)
    logger.addHandler(console)
    levels = [log_console_level]

    log_file_name = _get(config, 'log_file_name').strip()
    log_file_level = _string_to_level(
        _get(config, 'log_file_level'), logging.DEBUG)
    log_file_format = _get(config, 'log_file_format') or DEFAULT_FILE_FORMAT
    if log_file_name:
        path = os.path.abspath(os.path.expanduser(log_file_name))
        try:
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            file_handler = logging.FileHandler(path, encoding='utf-8')
        except OSError as e:
            logger.warning(
                'Cannot open log file {} ({}); file logging disabled.'.format(
                    path, e))
        else:
            file_handler.setLevel(log_file_level)
            file_handler.setFormatter(logging.Formatter(log_file_format))
            setattr(file_handler, _HANDLER_MARK, True)
            logger.addHandler(file_handler)
            levels.append(log_file_level)

    level = _string_to_level(_get(config, 'log_level'), None)
    if level is None:
        level = min(levels)
    logger.setLevel(level)
    logger.propagate = True
    return logger


configure_from_config()
