"""Configuration lookup compatible with ``nnabla.config``.

Settings are read with :class:`configparser.RawConfigParser`.  The built-in
defaults come first; then every file of the list below that exists is read
in turn, so a later file overrides the values of an earlier one:

1. Default: ``nnabla.conf`` next to this module (if present).
2. System wide: ``/etc/nnabla.conf`` (POSIX) or
   ``%PROGRAMDATA%\\NNabla\\nnabla.ini`` (Windows).
3. User: ``~/.nnabla`` (POSIX) or ``%APPDATA%\\NNabla\\nnabla.ini`` (Windows).
4. Local: ``nnabla.conf`` in the current directory.

Usage::

    from nnabla.config import nnabla_config
    size = int(nnabla_config.get('DATA_ITERATOR', 'data_source_file_cache_size'))

The built-in defaults carry the same sections and keys as NNabla's shipped
``nnabla.conf`` (``DATA_ITERATOR``, ``LOG``, ``MISC``, ``CALLBACK``,
``CHECKPOINT``, ``MULTINODE``).  Values can be changed at run time with
``nnabla_config.set(section, key, value)``; the data iterator classes read
them when they are constructed.
"""

import configparser
import os
import warnings
from os.path import abspath, dirname, expanduser, join

__all__ = ['nnabla_config', 'config_files', 'DEFAULT_CONFIG']

# Built-in defaults.  They mirror the keys of NNabla's packaged nnabla.conf so
# that code doing ``nnabla_config.get(SECTION, KEY)`` finds every key even
# when no configuration file is installed.
DEFAULT_CONFIG = """\
[DATA_ITERATOR]
cache_file_format = .npy
data_source_file_cache_num_of_threads = 10
cache_file_cache_num_of_threads = 4
data_source_file_cache_size = 100
data_source_file_cache_location =
data_source_buffer_max_size = 1073741824

[LOG]
log_file_name =
log_file_level = DEBUG
log_file_format = %(asctime)s [%(name)s][%(levelname)s]: %(pathname)s : %(funcName)s : %(lineno)s : %(message)s
log_console_level = INFO
log_console_format = %(asctime)s [%(name)s][%(levelname)s]: %(message)s

[MISC]
misc_show_progress = True
nnp_param_format = .h5

[CALLBACK]
util_callback_module =

[CHECKPOINT]
optimizer_interval = 5

[MULTINODE]
analyse_gpu_status_interval = 20
gpu_slowing_warning_threshold = 2
gpu_slowing_error_threshold = 10
"""


def config_files():
    """Return the configuration file paths in the order they are read."""
    files = [join(dirname(abspath(__file__)), 'nnabla.conf')]
    if os.name == 'nt':
        program_data = os.environ.get('PROGRAMDATA')
        if program_data:
            files.append(join(program_data, 'NNabla', 'nnabla.ini'))
        app_data = os.environ.get('APPDATA')
        if app_data:
            files.append(join(app_data, 'NNabla', 'nnabla.ini'))
    else:
        files.append('/etc/nnabla.conf')
        files.append(abspath(join(expanduser('~'), '.nnabla')))
    files.append(abspath(join(os.getcwd(), 'nnabla.conf')))
    return files


def _get_nnabla_config():
    config = configparser.RawConfigParser()
    config.read_string(DEFAULT_CONFIG, source='<nnjax defaults>')
    for filename in config_files():
        if os.path.isfile(filename):
            try:
                config.read(filename, encoding='utf-8')
            except (configparser.Error, OSError, UnicodeDecodeError) as e:
                # A broken user file must not make the package unimportable.
                warnings.warn('Ignoring unreadable config file {}: {}'.format(
                    filename, e))
    return config


nnabla_config = _get_nnabla_config()
