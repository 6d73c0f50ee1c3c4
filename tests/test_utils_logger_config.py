"""Tests of nnjax.logger, nnjax.config and nnjax.utils.progress."""

import configparser
import importlib
import logging
import os
import re

from datetime import datetime

import pytest

# ``nnjax.logger`` (the attribute) is the Logger object, as in NNabla, so the
# modules are fetched by name.
C = importlib.import_module('nnjax.config')
L = importlib.import_module('nnjax.logger')
P = importlib.import_module('nnjax.utils.progress')
logger = L.logger

CONSOLE_FORMAT = '%(asctime)s [%(name)s][%(levelname)s]: %(message)s'
LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} '
                  r'\[nnabla\]\[(\w+)\]: (.*)$')


@pytest.fixture
def restore_logger():
    yield
    L.configure_from_config()


def log_config(**entries):
    cfg = configparser.RawConfigParser()
    cfg.read_string(C.DEFAULT_CONFIG)
    for key, value in entries.items():
        cfg.set('LOG', key, value)
    return cfg


def test_default_logger():
    assert logger.name == 'nnabla'
    assert logger is logging.getLogger('nnabla')
    ours = [h for h in logger.handlers if getattr(h, L._HANDLER_MARK, False)]
    assert len(ours) == 1
    console = ours[0]
    assert isinstance(console, logging.StreamHandler)
    assert console.level == logging.INFO
    assert console.formatter._fmt == CONSOLE_FORMAT
    assert logger.getEffectiveLevel() == logging.INFO
    assert logger.propagate


def test_console_line_format(capsys, restore_logger):
    L.configure_from_config(log_config())
    logger.debug('hidden')
    logger.info('Log message(INFO)')
    logger.error('Log message(ERROR)')
    lines = capsys.readouterr().err.strip().splitlines()
    parsed = [LINE.match(line).groups() for line in lines]
    assert parsed == [('INFO', 'Log message(INFO)'),
                      ('ERROR', 'Log message(ERROR)')]


def test_caplog_sees_records(caplog):
    with caplog.at_level(logging.INFO, logger='nnabla'):
        logger.info('captured %d', 7)
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ('nnabla', 'INFO', 'captured 7')]


def test_log_file_and_levels(tmp_path, capsys, restore_logger):
    log_file = tmp_path / 'logs' / 'nbla.log'
    L.configure_from_config(log_config(log_file_name=str(log_file),
                                       log_file_level='DEBUG',
                                       log_console_level='WARNING'))
    assert L.log_file_name == str(log_file)
    logger.debug('dbg message')
    logger.info('info message')
    logger.warning('warn message')
    for h in logger.handlers:
        h.flush()
    console = capsys.readouterr().err
    assert 'warn message' in console
    assert 'info message' not in console and 'dbg message' not in console
    text = log_file.read_text().splitlines()
    assert len(text) == 3
    # NNabla's file format: time [name][LEVEL]: path : function : line : msg
    m = re.match(r'^\S+ \S+ \[nnabla\]\[DEBUG\]: (.+) : '
                 r'test_log_file_and_levels : (\d+) : dbg message$', text[0])
    assert m and m.group(1).endswith('test_utils_logger_config.py')
    assert text[2].endswith(': warn message')


def test_log_level_override(tmp_path, restore_logger):
    log_file = tmp_path / 'x.log'
    L.configure_from_config(log_config(log_file_name=str(log_file),
                                       log_level='ERROR'))
    assert logger.level == logging.ERROR
    logger.warning('dropped')
    logger.error('kept')
    for h in logger.handlers:
        h.flush()
    lines = log_file.read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith(': kept')


def test_reconfigure_keeps_foreign_handlers(restore_logger):
    foreign = logging.NullHandler()
    logger.addHandler(foreign)
    try:
        L.configure_from_config(log_config(log_console_level='ERROR'))
        L.configure_from_config(log_config())
        ours = [h for h in logger.handlers
                if getattr(h, L._HANDLER_MARK, False)]
        assert len(ours) == 1 and foreign in logger.handlers
    finally:
        logger.removeHandler(foreign)


def test_default_config_values():
    cfg = C.nnabla_config
    assert cfg.get('DATA_ITERATOR', 'cache_file_format') == '.npy'
    assert cfg.get('DATA_ITERATOR', 'data_source_file_cache_size') == '100'
    assert cfg.get('DATA_ITERATOR',
                   'data_source_file_cache_num_of_threads') == '10'
    assert cfg.get('DATA_ITERATOR', 'data_source_buffer_max_size') == \
        str(1 << 30)
    assert cfg.get('DATA_ITERATOR', 'data_source_file_cache_location') == ''
    assert cfg.get('LOG', 'log_file_name') == ''
    assert cfg.get('LOG', 'log_console_format') == CONSOLE_FORMAT
    assert cfg.get('MISC', 'misc_show_progress') == 'True'
    assert isinstance(cfg, configparser.RawConfigParser)


def test_config_search_order(tmp_path, monkeypatch):
    home, work = tmp_path / 'home', tmp_path / 'work'
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.chdir(work)
    files = C.config_files()
    assert files[0] == os.path.join(os.path.dirname(C.__file__), 'nnabla.conf')
    assert files[-2:] == [str(home / '.nnabla'), str(work / 'nnabla.conf')]

    (home / '.nnabla').write_text(
        '[DATA_ITERATOR]\ndata_source_file_cache_size = 7\n'
        '[MYAPP]\nfrom_user = yes\n')
    cfg = C._get_nnabla_config()
    assert cfg.get('DATA_ITERATOR', 'data_source_file_cache_size') == '7'
    (work / 'nnabla.conf').write_text(
        '[DATA_ITERATOR]\ndata_source_file_cache_size = 9\n'
        '[LOG]\nlog_console_level = ERROR\n')
    cfg = C._get_nnabla_config()
    assert cfg.get('DATA_ITERATOR', 'data_source_file_cache_size') == '9'
    assert cfg.get('MYAPP', 'from_user') == 'yes'
    assert cfg.get('DATA_ITERATOR', 'cache_file_format') == '.npy'
    # '%' in values is not interpolated (RawConfigParser)
    assert '%(message)s' in cfg.get('LOG', 'log_console_format')
    assert cfg.get('LOG', 'log_console_level') == 'ERROR'


def test_broken_config_file_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'nnabla.conf').write_text('this is not [an ini file\n')
    with pytest.warns(UserWarning, match='nnabla.conf'):
        cfg = C._get_nnabla_config()
    assert cfg.get('DATA_ITERATOR', 'cache_file_format') == '.npy'


def test_progress_state_file(tmp_path):
    state = tmp_path / 'state.txt'
    try:
        P.configure_progress(str(state))
        assert state.read_text() == ''
        P.last_state_datetime = datetime.min  # as if the last write was long ago
        P.progress('Create cache', 0.5)
        assert state.read_text() == 'Create cache (50.00%)'
        P.progress('Create cache', 0.75)   # throttled: within one second
        assert state.read_text() == 'Create cache (50.00%)'
        P.progress(None)
        assert state.read_text() == ''
    finally:
        P.configure_progress('')


def test_progress_bar(capsys):
    C.nnabla_config.set('MISC', 'misc_show_progress', 'False')
    try:
        bar = P.progress_bar(range(3), desc='quiet')
        assert list(bar) == [0, 1, 2]
        assert 'quiet' not in capsys.readouterr().err
    finally:
        C.nnabla_config.set('MISC', 'misc_show_progress', 'True')
    with P.progress_bar(total=4, desc='loud') as bar:
        bar.update(4)
    assert 'loud' in capsys.readouterr().err
