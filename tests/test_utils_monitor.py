"""Tests of nnjax.monitor: exact files, log lines and image layouts."""

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import importlib

M = importlib.import_module('nnjax.monitor')
from nnjax.monitor import (Monitor, MonitorImage, MonitorImageTile,
                           MonitorSeries, MonitorTimeElapsed, tile_images)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FakeVariable(object):
    """Stands for an nnabla Variable: the value lives in ``.d``."""

    def __init__(self, value):
        self.d = np.asarray(value, np.float32)


def messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == 'nnabla']


def test_monitor_series_interval_average(tmp_path, caplog):
    mon = Monitor(str(tmp_path / 'out'))
    assert mon.save_path == str(tmp_path / 'out')
    series = MonitorSeries('Training loss', mon, interval=3)
    values = [0.5, 1.0, 2.0, 4.0, 3.0, 1.5, 0.25, 0.75, 0.5, 9.0]
    with caplog.at_level(logging.INFO, logger='nnabla'):
        for i, v in enumerate(values):
            series.add(i, v)
    means = [np.mean(values[0:3]), np.mean(values[3:6]), np.mean(values[6:9])]
    path = tmp_path / 'out' / 'Training-loss.series.txt'
    assert path.read_text() == ''.join(
        '{} {:g}\n'.format(i, m) for i, m in zip([2, 5, 8], means))
    assert messages(caplog) == [
        'iter={} {{Training loss}}={}'.format(i, m)
        for i, m in zip([2, 5, 8], means)]
    assert series.buf != []   # index 9 is still buffered


def test_monitor_series_accepts_arrays_and_variables(tmp_path, caplog):
    mon = Monitor(str(tmp_path))
    series = MonitorSeries('acc', mon, interval=2)
    arr = np.array([0.2, 0.4], np.float32)
    var = FakeVariable(0.9)
    with caplog.at_level(logging.INFO, logger='nnabla'):
        series.add(0, arr)
        series.add(1, var)
        var.d[...] = 100.0           # a later change must not leak in
        series.add(2, np.float32(0.5))
        series.add(3, 1)
    # values of different sizes are averaged per add() call
    first = np.mean([np.mean(arr), np.float32(0.9)])
    second = np.mean([np.float32(0.5), 1])
    assert (tmp_path / 'acc.series.txt').read_text() == \
        '1 {:g}\n3 {:g}\n'.format(first, second)
    assert messages(caplog) == ['iter=1 {{acc}}={}'.format(first),
                                'iter=3 {{acc}}={}'.format(second)]
    with pytest.raises(TypeError, match='acc'):
        series.add(4, 'not a number')


def test_monitor_series_real_variable(tmp_path):
    nn = pytest.importorskip('nnjax')
    if not hasattr(nn, 'Variable'):
        pytest.skip('nnjax.Variable is not available')
    v = nn.Variable((1,))
    v.d = 0.25
    series = MonitorSeries('v', Monitor(str(tmp_path)), interval=1,
                           verbose=False)
    series.add(0, v)
    assert (tmp_path / 'v.series.txt').read_text() == '0 0.25\n'


def test_monitor_series_without_monitor_and_quiet(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger='nnabla'):
        MonitorSeries('only log').add(0, 2.0)
        MonitorSeries('quiet', Monitor(str(tmp_path)), verbose=False).add(0, 2)
    assert messages(caplog) == ['iter=0 {only log}=2.0']
    assert (tmp_path / 'quiet.series.txt').read_text() == '0 2\n'
    # a new monitor with the same name starts a fresh file
    MonitorSeries('quiet', Monitor(str(tmp_path)))
    assert (tmp_path / 'quiet.series.txt').read_text() == ''


def test_monitor_time_elapsed(tmp_path, caplog, monkeypatch):
    clock = iter([100.0, 102.5, 103.0, 110.0])

    class FakeTime(object):
        @staticmethod
        def time():
            return next(clock)
    monkeypatch.setattr(M, 'time', FakeTime)
    timer = MonitorTimeElapsed('Epoch time', Monitor(str(tmp_path)),
                               interval=2)
    with caplog.at_level(logging.INFO, logger='nnabla'):
        for i in range(6):
            timer.add(i)
    rows = [(1, 2.5, 2, 2.5), (3, 0.5, 2, 3.0), (5, 7.0, 2, 10.0)]
    assert (tmp_path / 'Epoch-time.timer.txt').read_text() == ''.join(
        '{} {} {} {}\n'.format(*r) for r in rows)
    assert messages(caplog) == [
        'iter={} {{Epoch time}}={}[sec/{}iter] {}[sec]'.format(*r)
        for r in rows]


def minmax_uint8(x):
    return ((x - x.min()) / (x.max() - x.min()) * 255).astype(np.uint8)


def test_monitor_image_files_and_pixels(tmp_path, caplog):
    rng = np.random.RandomState(0)
    x = rng.randn(4, 3, 5, 6).astype(np.float32)
    mi = MonitorImage('fake images', Monitor(str(tmp_path)), interval=2,
                      num_images=2)
    folder = tmp_path / 'fake-images'
    with caplog.at_level(logging.INFO, logger='nnabla'):
        for i in range(3):
            mi.add(i, x)
    assert sorted(os.listdir(folder)) == [
        '000000-000.png', '000000-001.png', '000001-000.png', '000001-001.png']
    expected = minmax_uint8(x[:2])
    for j in range(2):
        img = np.asarray(Image.open(folder / '000000-{:03d}.png'.format(j)))
        np.testing.assert_array_equal(img, expected[j].transpose(1, 2, 0))
    assert messages(caplog) == [
        'iter={} {{fake images}} are written to {}.'.format(
            i, os.path.join(str(folder), '{:06d}-*.png'.format(i)))
        for i in (0, 1)]


def test_monitor_image_channel_handling(tmp_path):
    mon = Monitor(str(tmp_path))
    rng = np.random.RandomState(1)
    gray = rng.rand(2, 1, 3, 4)
    MonitorImage('gray', mon, num_images=1, verbose=False).add(0, gray)
    img = Image.open(tmp_path / 'gray' / '000000-000.png')
    assert img.mode == 'L'
    np.testing.assert_array_equal(np.asarray(img), minmax_uint8(gray[:1])[0, 0])

    two = rng.rand(1, 2, 3, 4)
    MonitorImage('two', mon, verbose=False).add(0, FakeVariable(two))
    arr = np.asarray(Image.open(tmp_path / 'two' / '000000-000.png'))
    assert arr.shape == (3, 4, 3)
    np.testing.assert_array_equal(arr[..., 2], 255)

    four = rng.rand(1, 4, 3, 4)
    MonitorImage('four', mon, verbose=False).add(0, four)
    arr = np.asarray(Image.open(tmp_path / 'four' / '000000-000.png'))
    np.testing.assert_array_equal(
        arr, minmax_uint8(four)[0, :3].transpose(1, 2, 0))

    with pytest.raises(ValueError, match='shape'):
        MonitorImage('flat', mon).add(0, np.zeros((3, 4)))


def reference_tile(data, padsize=1, padval=0):
    """Independent tiling: pad, reshape into a grid, swap axes."""
    b, c, h, w = data.shape
    n = int(np.ceil(np.sqrt(b)))
    x = data.transpose(0, 2, 3, 1)
    x = np.pad(x, ((0, n * n - b), (0, padsize), (0, padsize), (0, 0)),
               constant_values=padval)
    x = x.reshape(n, n, h + padsize, w + padsize, c).transpose(0, 2, 1, 3, 4)
    x = x.reshape(n * (h + padsize), n * (w + padsize), c)
    return x[..., 0] if c == 1 else x


@pytest.mark.parametrize('shape', [(5, 3, 2, 3), (4, 1, 3, 3), (1, 3, 2, 2),
                                   (10, 2, 1, 4)])
def test_tile_images_layout(shape):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) + 1
    tile = tile_images(data)
    np.testing.assert_array_equal(tile, reference_tile(data))
    np.testing.assert_array_equal(tile_images(data, padsize=2, padval=-1),
                                  reference_tile(data, 2, -1))
    b, c, h, w = shape
    n = int(np.ceil(np.sqrt(b)))
    assert tile.shape[:2] == (n * (h + 1), n * (w + 1))
    # image k sits in row k // n, column k % n
    k = b - 1
    r, col = divmod(k, n)
    cell = tile[r * (h + 1):r * (h + 1) + h, col * (w + 1):col * (w + 1) + w]
    expected = data[k].transpose(1, 2, 0)
    np.testing.assert_array_equal(cell, expected[..., 0] if c == 1 else expected)
    with pytest.raises(ValueError):
        tile_images(data[0])


def test_monitor_image_tile(tmp_path, caplog):
    rng = np.random.RandomState(3)
    x = rng.rand(7, 3, 4, 5)
    mit = MonitorImageTile('tiles', Monitor(str(tmp_path)), interval=5,
                           num_images=5)
    with caplog.at_level(logging.INFO, logger='nnabla'):
        for i in range(6):
            mit.add(i, x)
    folder = tmp_path / 'tiles'
    assert sorted(os.listdir(folder)) == ['000000.png', '000004.png']
    normalized = (x[:5] - x[:5].min()) / (x[:5].max() - x[:5].min())
    expected = (reference_tile(normalized) * 255).astype(np.uint8)
    np.testing.assert_array_equal(
        np.asarray(Image.open(folder / '000004.png')), expected)
    assert messages(caplog) == [
        'iter={} {{tiles}} is written to {}.'.format(
            i, os.path.join(str(folder), '{:06d}.png'.format(i)))
        for i in (0, 4)]


def test_unwritable_monitor_folder_names_path(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    target = str(blocker / 'monitor')
    with pytest.raises(OSError) as err:
        Monitor(target)
    assert target in str(err.value)
    # a monitor whose folder vanished reports the file it cannot write
    mon = Monitor(str(tmp_path / 'gone'))
    os.rmdir(str(tmp_path / 'gone'))
    with pytest.raises(OSError) as err:
        MonitorSeries('loss', mon)
    assert os.path.join(str(tmp_path / 'gone'), 'loss.series.txt') in \
        str(err.value)


def write_monitor_files(folder):
    mon = Monitor(str(folder))
    series = MonitorSeries('loss', mon, verbose=False)
    for i in range(5):
        series.add(i, 1.0 / (i + 1))
    with open(os.path.join(str(folder), 't.timer.txt'), 'w') as f:
        f.write('9 1.5 10 1.5\n19 3.0 10 4.5\n')
    return (os.path.join(str(folder), 'loss.series.txt'),
            os.path.join(str(folder), 't.timer.txt'))


def test_plot_functions(tmp_path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    series, timer = write_monitor_files(tmp_path)
    plt.figure()
    M.plot_series(series)
    M.plot_time_elapsed(timer, elapsed=True, unit='m')
    M.plot_timer(timer)
    lines = plt.gca().lines
    np.testing.assert_allclose(lines[0].get_xydata(),
                               [[i, 1.0 / (i + 1)] for i in range(5)],
                               rtol=1e-5)
    np.testing.assert_allclose(lines[1].get_xydata(),
                               [[9, 1.5 / 60], [19, 4.5 / 60]])
    np.testing.assert_allclose(lines[2].get_xydata(), [[9, 1.5], [19, 3.0]])
    plt.close('all')
    with pytest.raises(ValueError, match='unit'):
        M.plot_time_elapsed(timer, unit='y')


def test_plot_command_main(tmp_path, capsys):
    series, timer = write_monitor_files(tmp_path)
    out = str(tmp_path / 'plots' / 'out.png')
    assert M.main(['plot', series, timer, '-o', out]) == 0
    with Image.open(out) as img:
        assert img.format == 'PNG' and img.size[0] > 100
    assert M.main(['plot', str(tmp_path / 'missing.series.txt'),
                   '-o', out]) == 1
    assert 'missing.series.txt' in capsys.readouterr().err


def test_plot_command_module(tmp_path):
    series, _ = write_monitor_files(tmp_path)
    out = str(tmp_path / 'cli.png')
    proc = subprocess.run(
        [sys.executable, '-m', 'nnjax.monitor', 'plot', series, '-o', out],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
