"""Tests of nnjax.utils.data_iterator / data_source / image_utils.

Reference orders are computed independently from numpy RandomState
permutation draws made in the order NNabla makes them.
"""

import csv
import logging
import os
import re
import threading

import numpy as np
import pytest
from PIL import Image

from nnjax.config import nnabla_config
from nnjax.utils import image_utils
from nnjax.utils.data_iterator import (DataIterator, data_iterator,
                                       data_iterator_cache,
                                       data_iterator_concat_datasets,
                                       data_iterator_csv_dataset,
                                       data_iterator_simple)
from nnjax.utils.data_source import (DataSource, DataSourceWithFileCache,
                                     DataSourceWithMemoryCache)
from nnjax.utils.data_source_implements import (CacheDataSource,
                                                CsvDataSource,
                                                SimpleDataSource)


@pytest.fixture
def config_set():
    """Set DATA_ITERATOR options for one test and restore them afterwards."""
    saved = {}

    def setter(key, value):
        if key not in saved:
            saved[key] = nnabla_config.get('DATA_ITERATOR', key)
        nnabla_config.set('DATA_ITERATOR', key, str(value))
    yield setter
    for key, value in saved.items():
        nnabla_config.set('DATA_ITERATOR', key, value)


def indexed_load_func(n_feat=2):
    """Example i is (array filled with i, [i])."""
    def load(i):
        return np.full((n_feat,), i, np.float32), np.array([i])
    return load


def take(di, n_batches):
    """Concatenate the second variable of n batches (the example ids)."""
    return np.concatenate([di.next()[1][:, 0] for _ in range(n_batches)])


class ArraySource(DataSource):
    """User-style data source (as in NNabla's examples) counting loads."""

    def __init__(self, n, shuffle=False, rng=None):
        super().__init__(shuffle=shuffle, rng=rng)
        self._size = n
        self._variables = ('x', 'y')
        self.loads = 0
        self.reset()

    def _get_data(self, position):
        i = int(self._indexes[position])
        self.loads += 1
        return np.full((3,), i, np.float32), np.array([i])

    def reset(self):
        self._indexes = (self._rng.permutation(self._size) if self._shuffle
                         else np.arange(self._size))
        super().reset()


# ---------------------------------------------------------------------------
# DataIterator basics
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('use_thread', [True, False])
def test_sequential_order_and_epochs(use_thread):
    n, bs = 10, 3
    with data_iterator_simple(indexed_load_func(), n, bs,
                              use_thread=use_thread) as di:
        assert di.size == n and di.batch_size == bs
        assert tuple(di.variables) == ('x0', 'x1')
        seen = []
        for k in range(1, 11):
            x, y = di.next()
            assert x.shape == (bs, 2) and x.dtype == np.float32
            assert y.shape == (bs, 1)
            np.testing.assert_array_equal(x[:, 0], y[:, 0])
            seen.extend(y[:, 0].tolist())
            # the epoch counter moves with the batch that crosses the end
            assert di.epoch == (bs * k) // n
            if not use_thread:
                assert di.position == (bs * k) % n
    np.testing.assert_array_equal(seen, np.tile(np.arange(n), 3)[:30])


@pytest.mark.parametrize('use_thread', [True, False])
def test_shuffle_order_matches_rng_permutations(use_thread):
    n, bs, seed = 10, 4, 7
    ref_rng = np.random.RandomState(seed)
    expected = np.concatenate([ref_rng.permutation(n) for _ in range(5)])
    with data_iterator_simple(indexed_load_func(), n, bs, shuffle=True,
                              rng=np.random.RandomState(seed),
                              use_thread=use_thread) as di:
        got = take(di, 10)
    np.testing.assert_array_equal(got, expected[:40])
    # every epoch is a permutation of the data
    for e in range(4):
        assert sorted(got[e * n:(e + 1) * n]) == list(range(n))


def test_default_rng_is_randomstate_313():
    expected = np.random.RandomState(313).permutation(8)
    with data_iterator_simple(indexed_load_func(), 8, 8, shuffle=True) as di:
        np.testing.assert_array_equal(di.next()[1][:, 0], expected)


def test_same_rng_same_order():
    runs = []
    for _ in range(2):
        with data_iterator_simple(indexed_load_func(), 9, 4, shuffle=True,
                                  rng=np.random.RandomState(3)) as di:
            runs.append(take(di, 6))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_epoch_callbacks():
    ends, begins = [], []
    with data_iterator_simple(indexed_load_func(), 10, 4,
                              epoch_begin_callbacks=[begins.append],
                              use_thread=False) as di:
        di.register_epoch_end_callback(ends.append)
        epochs_after = []
        for _ in range(10):
            di.next()
            epochs_after.append(di.epoch)
    # 40 examples = 4 epochs; epoch k ends during batch ceil(10(k+1)/4)
    assert ends == [0, 1, 2, 3]
    assert begins == [1, 2, 3, 4]
    assert epochs_after == [(4 * k) // 10 for k in range(1, 11)]


@pytest.mark.parametrize('use_thread', [True, False])
def test_stop_exhausted(use_thread):
    n, bs = 10, 3
    ref = np.random.RandomState(5)
    p0, p1 = ref.permutation(n), ref.permutation(n)
    ends = []
    with data_iterator_simple(indexed_load_func(), n, bs, shuffle=True,
                              rng=np.random.RandomState(5),
                              use_thread=use_thread, stop_exhausted=True,
                              epoch_end_callbacks=[ends.append]) as di:
        first = [b[1][:, 0] for b in di]
        assert len(first) == n // bs
        np.testing.assert_array_equal(np.concatenate(first), p0[:9])
        assert di.epoch == 0 and ends == []
        # the exhausted iterator restarts with the next epoch
        second = [b[1][:, 0] for b in di]
        np.testing.assert_array_equal(np.concatenate(second), p1[:9])
        assert di.epoch == 1 and ends == [0]


def test_mixed_shapes_in_batch_raise():
    def load(i):
        return (np.zeros((2,) if i < 3 else (3,)),)
    with data_iterator_simple(load, 6, 6, use_thread=False) as di:
        with pytest.raises(ValueError, match='x0.*different shapes'):
            di.next()


def test_errors_of_worker_thread_reach_next():
    def load(i):
        if i == 4:
            raise KeyError('broken example')
        return (np.zeros(2),)
    with data_iterator_simple(load, 6, 3, use_thread=True) as di:
        di.next()
        with pytest.raises(KeyError, match='broken example'):
            di.next()


def test_bad_arguments():
    with pytest.raises(ValueError):
        data_iterator_simple(indexed_load_func(), 5, 0)
    with pytest.raises(ValueError):
        SimpleDataSource(indexed_load_func(), 0)


def test_close_joins_thread_and_is_idempotent():
    di = data_iterator_simple(indexed_load_func(), 10, 2, use_thread=True)
    di.next()
    di.close()
    di.close()
    alive = [t for t in threading.enumerate()
             if t.name == 'DataIterator-prefetch']
    assert alive == []
    with pytest.raises(RuntimeError):
        di.next()


def test_log_lines(caplog):
    with caplog.at_level(logging.INFO, logger='nnabla'):
        with data_iterator_simple(indexed_load_func(), 4, 2, shuffle=True,
                                  with_memory_cache=True) as di:
            di.next()
    messages = [r.getMessage() for r in caplog.records]
    assert 'DataSource with shuffle(True)' in messages
    assert 'Using DataSourceWithMemoryCache' in messages
    assert 'On-memory' in messages
    assert 'Using DataIterator' in messages
    assert all(r.name == 'nnabla' for r in caplog.records)


# ---------------------------------------------------------------------------
# Memory cache
# ---------------------------------------------------------------------------

def test_memory_cache_round_trip_loads_once():
    src = ArraySource(7)
    with data_iterator(src, 3, use_thread=False) as di:
        ids = take(di, 7)  # three epochs
    np.testing.assert_array_equal(ids, np.tile(np.arange(7), 3))
    assert src.loads == 7


def test_memory_cache_shuffle_order():
    # NNabla's memory cache keeps the cached order for the first two epochs
    # and draws rng.permutation(size) from the third on.
    n = 6
    ref = np.random.RandomState(21)
    expected = np.concatenate([np.arange(n), np.arange(n),
                               ref.permutation(n), ref.permutation(n)])
    ds = DataSourceWithMemoryCache(ArraySource(n), shuffle=True,
                                   rng=np.random.RandomState(21))
    with DataIterator(ds, 3, use_thread=False) as di:
        ids = take(di, 8)
    np.testing.assert_array_equal(ids, expected)


def test_memory_cache_partial_first_epoch_keeps_examples_distinct():
    # stop_exhausted leaves examples unread in the first epoch; the wrapped
    # source is reshuffled afterwards, yet every epoch must stay distinct.
    n, bs = 10, 4
    ds = DataSourceWithMemoryCache(ArraySource(n, shuffle=True),
                                   shuffle=True)
    with DataIterator(ds, bs, stop_exhausted=True, use_thread=False) as di:
        for _ in range(4):
            ids = [int(v) for _, y in di for v in y[:, 0]]
            assert len(ids) == 8 and len(set(ids)) == 8


def test_file_cache_reports_mixed_shapes(tmp_path):
    def load(i):
        return (np.zeros((2, 2) if i != 2 else (3, 2)),)
    with pytest.raises(ValueError, match=r'"x0" has shape \(3, 2\) at '
                                         r'position 2 but shape \(2, 2\)'):
        data_iterator_simple(load, 4, 2, with_file_cache=True,
                             cache_dir=str(tmp_path))


def test_memory_cache_passthrough_when_too_big(config_set, caplog):
    config_set('data_source_buffer_max_size', 10)
    src = ArraySource(5)
    with caplog.at_level(logging.INFO, logger='nnabla'):
        with data_iterator(src, 5, use_thread=False) as di:
            take(di, 2)
    assert 'On-memory' not in [r.getMessage() for r in caplog.records]
    assert src.loads == 1 + 10  # size probe + two epochs


# ---------------------------------------------------------------------------
# File cache
# ---------------------------------------------------------------------------

def read_npy_cache(path, n_vars):
    with open(path, 'rb') as f:
        return [np.load(f) for _ in range(n_vars)]


def test_file_cache_files_and_round_trip(tmp_path, config_set, caplog):
    config_set('data_source_file_cache_size', 4)
    cache = tmp_path / 'cache'
    with caplog.at_level(logging.INFO, logger='nnabla'):
        with data_iterator_simple(indexed_load_func(3), 10, 5,
                                  with_file_cache=True, cache_dir=str(cache),
                                  use_thread=False) as di:
            ids = take(di, 4)
    np.testing.assert_array_equal(ids, np.tile(np.arange(10), 2))
    names = ['cache_00000000_00000003.npy', 'cache_00000004_00000007.npy',
             'cache_00000008_00000009.npy']
    assert sorted(os.listdir(cache)) == sorted(
        names + ['cache_index.csv', 'cache_info.csv'])
    assert (cache / 'cache_index.csv').read_text() == \
        '{},4\n{},4\n{},2\n'.format(*names)
    assert (cache / 'cache_info.csv').read_text() == 'x0\nx1\n'
    x, y = read_npy_cache(cache / names[1], 2)
    np.testing.assert_array_equal(x, np.repeat(np.arange(4, 8), 3).reshape(
        4, 3).astype(np.float32))
    np.testing.assert_array_equal(y[:, 0], np.arange(4, 8))
    messages = [r.getMessage() for r in caplog.records]
    assert 'Using DataSourceWithFileCache' in messages
    assert 'Cache Directory is {}'.format(cache) in messages
    assert 'Cache size is 4' in messages
    assert 'Cache file format is .npy' in messages
    assert 'Creating cache file {}'.format(cache / names[0]) in messages

    # the kept directory can be read back with data_iterator_cache
    with data_iterator_cache(str(cache), 10, normalize=False,
                             use_thread=False) as dc:
        assert tuple(dc.variables) == ('x0', 'x1')
        x, y = dc.next()
    np.testing.assert_array_equal(y[:, 0], np.arange(10))
    np.testing.assert_array_equal(x[:, 1], np.arange(10))


def test_file_cache_shuffle_order(tmp_path, config_set):
    config_set('data_source_file_cache_size', 4)
    n, seed = 10, 3
    # independent reference of NNabla's file cache shuffle
    ref = np.random.RandomState(seed)
    file_order = [0, 1, 2]
    data_orders = [list(range(4)), list(range(4)), list(range(2))]
    expected = []
    for _ in range(3):
        file_order = list(ref.permutation(file_order))
        data_orders = [list(ref.permutation(d)) for d in data_orders]
        expected += [f * 4 + j for f in file_order for j in data_orders[f]]
    ds = DataSourceWithFileCache(ArraySource(n), cache_dir=str(tmp_path),
                                 shuffle=True,
                                 rng=np.random.RandomState(seed))
    with DataIterator(ds, 5, use_thread=False) as di:
        ids = take(di, 6)
    np.testing.assert_array_equal(ids, expected)


def test_file_cache_tempdir_removed_and_progress(config_set, caplog, capsys):
    config_set('data_source_file_cache_size', 3)
    with caplog.at_level(logging.INFO, logger='nnabla'):
        di = data_iterator_simple(indexed_load_func(), 7, 2,
                                  with_file_cache=True)
    created = [re.match(r'Tempdir for cache (.*) created\.$', r.getMessage())
               for r in caplog.records]
    tempdir = [m.group(1) for m in created if m][0]
    assert os.path.isdir(tempdir)
    assert len([f for f in os.listdir(tempdir) if f.endswith('.npy')]) == 3
    np.testing.assert_array_equal(take(di, 4), [0, 1, 2, 3, 4, 5, 6, 0])
    di.close()
    assert not os.path.exists(tempdir)
    assert 'Create cache' in capsys.readouterr().err


def test_file_cache_h5_format(tmp_path, config_set):
    config_set('data_source_file_cache_size', 4)
    config_set('cache_file_format', '.h5')
    with data_iterator_simple(indexed_load_func(), 6, 3, with_file_cache=True,
                              cache_dir=str(tmp_path), use_thread=False) as di:
        np.testing.assert_array_equal(take(di, 2), np.arange(6))
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.h5')) == [
        'cache_00000000_00000003.h5', 'cache_00000004_00000005.h5']
    with data_iterator_cache(str(tmp_path), 6, normalize=False,
                             use_thread=False) as dc:
        np.testing.assert_array_equal(dc.next()[1][:, 0], np.arange(6))


def test_cache_data_source_shuffle_order(tmp_path, config_set):
    config_set('data_source_file_cache_size', 3)
    with data_iterator_simple(indexed_load_func(), 8, 8, with_file_cache=True,
                              cache_dir=str(tmp_path), use_thread=False):
        pass
    ref = np.random.RandomState(17)
    lengths = [3, 3, 2]
    orders = []
    # one draw set by CacheDataSource.__init__, one per DataIterator reset
    for _ in range(3):
        order = []
        for f in ref.permutation(3):
            order += [3 * f + j for j in ref.permutation(lengths[f])]
        orders.append(order)
    expected = orders[1] + orders[2]
    ds = CacheDataSource(str(tmp_path), shuffle=True,
                         rng=np.random.RandomState(17))
    with DataIterator(ds, 4, use_thread=False) as di:
        np.testing.assert_array_equal(take(di, 4), expected)


def test_cache_data_source_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope'):
        CacheDataSource(str(tmp_path / 'nope'))


# ---------------------------------------------------------------------------
# CSV datasets
# ---------------------------------------------------------------------------

def write_png(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def make_rgb_dataset(root, n=6, size=(4, 5)):
    """CSV with RGB images whose pixels encode the example index."""
    rng = np.random.RandomState(0)
    images, labels = [], []
    rows = []
    for i in range(n):
        img = rng.randint(0, 256, size=size + (3,)).astype(np.uint8)
        img[0, 0, 0] = i
        write_png(os.path.join(root, 'img', '{}.png'.format(i)), img)
        images.append(img.transpose(2, 0, 1))
        labels.append(i % 3)
        rows.append(['img/{}.png'.format(i), str(i % 3)])
    csv_path = os.path.join(root, 'data.csv')
    with open(csv_path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['x:image', 'y:label'])
        writer.writerows(rows)
    return csv_path, np.stack(images), np.array(labels)


@pytest.mark.parametrize('with_file_cache', [False, True])
@pytest.mark.parametrize('normalize', [False, True])
def test_csv_dataset_values(tmp_path, with_file_cache, normalize):
    csv_path, images, labels = make_rgb_dataset(str(tmp_path))
    with data_iterator_csv_dataset(csv_path, 3, normalize=normalize,
                                   with_file_cache=with_file_cache,
                                   cache_dir=str(tmp_path / 'cache'),
                                   use_thread=False) as di:
        assert tuple(di.variables) == ('x', 'y')
        xs, ys = zip(*[di.next() for _ in range(2)])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (6, 3, 4, 5) and y.shape == (6, 1)
    if normalize:
        np.testing.assert_allclose(x, images / 255.0, rtol=1e-6)
    else:
        assert x.dtype == np.uint8
        np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y[:, 0], labels)
    if with_file_cache:
        cache = tmp_path / 'cache'
        assert (cache / 'original.csv').read_bytes() == \
            open(csv_path, 'rb').read()
        assert (cache / 'order.csv').read_text() == ''.join(
            '{0},{0}\n'.format(i) for i in range(6))


def test_csv_shuffle_order(tmp_path):
    csv_path, images, labels = make_rgb_dataset(str(tmp_path), n=5)
    ref = np.random.RandomState(11)
    ref.permutation(5)                     # drawn by CsvDataSource.__init__
    expected = np.concatenate([ref.permutation(5) for _ in range(3)])
    with data_iterator_csv_dataset(csv_path, 5, shuffle=True,
                                   rng=np.random.RandomState(11),
                                   with_memory_cache=False,
                                   with_file_cache=False, normalize=False,
                                   use_thread=False) as di:
        got = np.concatenate([di.next()[0][:, 0, 0, 0] for _ in range(3)])
    np.testing.assert_array_equal(got, expected)


def test_csv_vector_columns_and_comments(tmp_path):
    path = tmp_path / 'vec.csv'
    path.write_text('#id,x__0,x__1,x__2,t\n'
                    'a,1,2,3,0\n'
                    '\n'
                    'b,4,5,6,1\n')
    ds = CsvDataSource(str(path))
    assert ds.variables == ('x', 't') and ds.size == 2
    with DataIterator(ds, 2, use_thread=False) as di:
        x, t = di.next()
    np.testing.assert_array_equal(x, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(t, [[0], [1]])


def test_csv_digits_dataset(tmp_path):
    from sklearn.datasets import load_digits
    digits = load_digits()
    n = 30
    pixels = np.clip(digits.images[:n] * 16, 0, 255).astype(np.uint8)
    rows = []
    for i in range(n):
        write_png(str(tmp_path / 'digits' / '{:03d}.png'.format(i)), pixels[i])
        rows.append('digits/{:03d}.png,{}\n'.format(i, digits.target[i]))
    (tmp_path / 'train.csv').write_text('x:image,y:label\n' + ''.join(rows))
    with data_iterator_csv_dataset(str(tmp_path / 'train.csv'), 10,
                                   use_thread=True) as di:
        batches = [di.next() for _ in range(3)]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.shape == (n, 1, 8, 8)
    np.testing.assert_allclose(x[:, 0], pixels / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y[:, 0], digits.target[:n])


def test_csv_missing_image_names_file_and_line(tmp_path):
    csv_path, _, _ = make_rgb_dataset(str(tmp_path), n=3)
    os.remove(str(tmp_path / 'img' / '2.png'))
    with data_iterator_csv_dataset(csv_path, 3, with_memory_cache=False,
                                   with_file_cache=False) as di:
        with pytest.raises(FileNotFoundError) as err:
            di.next()
    message = str(err.value)
    assert 'data.csv, line 4' in message and '2.png' in message
    # with a file cache the error shows while the cache is built
    with pytest.raises(FileNotFoundError, match=r'data\.csv, line 4'):
        data_iterator_csv_dataset(csv_path, 3, cache_dir=str(tmp_path / 'c'))


def test_csv_wrong_column_count(tmp_path):
    path = tmp_path / 'bad.csv'
    path.write_text('x,y\n1,2\n3,4\n5,6,7\n')
    with pytest.raises(ValueError, match=r'bad\.csv, line 4: expected 2 '
                                         r'columns'):
        CsvDataSource(str(path))


def test_csv_mixed_image_sizes(tmp_path):
    write_png(str(tmp_path / 'a.png'), np.zeros((4, 4), np.uint8))
    write_png(str(tmp_path / 'b.png'), np.zeros((5, 4), np.uint8))
    path = tmp_path / 'mixed.csv'
    path.write_text('x,y\na.png,0\nb.png,1\n')
    with pytest.raises(ValueError, match=r'mixed\.csv, line 3: variable "x" '
                                         r'has shape \(1, 5, 4\) but line 2'):
        data_iterator_csv_dataset(str(path), 2)


def test_csv_unsupported_file_and_missing_csv(tmp_path):
    path = tmp_path / 'odd.csv'
    path.write_text('x\nfoo.xyz\n')
    ds = CsvDataSource(str(path))
    with pytest.raises(ValueError, match=r'odd\.csv, line 2, column "x"'):
        ds.next()
    with pytest.raises(FileNotFoundError, match='absent.csv'):
        CsvDataSource(str(tmp_path / 'absent.csv'))


# ---------------------------------------------------------------------------
# Slices and concatenation
# ---------------------------------------------------------------------------

def test_slices_cover_data_once():
    n, parts = 12, 3
    with data_iterator_simple(indexed_load_func(), n, 2) as di:
        slices = [di.slice(None, num_of_slices=parts, slice_pos=i)
                  for i in range(parts)]
        got = [take(s, 2) for s in slices]
        for s in slices:
            assert s.size == 4
            s.close()
    np.testing.assert_array_equal(np.concatenate(got), np.arange(n))


def test_shuffled_slices_share_epoch_order():
    n, parts, seed = 12, 3, 9
    ref = np.random.RandomState(seed)
    p0, p1 = ref.permutation(n), ref.permutation(n)
    with data_iterator_simple(indexed_load_func(), n, 4, shuffle=True,
                              rng=np.random.RandomState(seed)) as di:
        slices = [di.slice(None, num_of_slices=parts, slice_pos=i)
                  for i in range(parts)]
        for i, s in enumerate(slices):
            np.testing.assert_array_equal(take(s, 1), p0[4 * i:4 * i + 4])
            np.testing.assert_array_equal(take(s, 1), p1[4 * i:4 * i + 4])
            s.close()


def test_slice_ranges():
    with data_iterator_simple(indexed_load_func(), 10, 1,
                              use_thread=False) as di:
        def items(s):
            with s:
                return take(s, s.size).tolist()
        # ceil(10 / 3) = 4 per part, the last part is shifted back
        assert [items(di.slice(None, 3, i)) for i in range(3)] == [
            [0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]
        assert [items(di.slice(None, 3, i, drop_last=True))
                for i in range(3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
        assert items(di.slice(None, slice_start=2, slice_end=5)) == [2, 3, 4]
        with pytest.raises(ValueError):
            di.slice(None)
        with pytest.raises(ValueError):
            di.slice(None, slice_start=5, slice_end=20)


def test_slice_with_memory_cache():
    with data_iterator_simple(indexed_load_func(), 8, 2) as di:
        with di.slice(np.random.RandomState(0), num_of_slices=2, slice_pos=1,
                      use_cache=True) as s:
            np.testing.assert_array_equal(take(s, 4), [4, 5, 6, 7] * 2)


def test_concat_datasets():
    a = SimpleDataSource(lambda i: (np.array([i]),), 3)
    b = SimpleDataSource(lambda i: (np.array([10 + i]),), 4)
    with data_iterator_concat_datasets([a, b], 7, use_thread=False) as di:
        np.testing.assert_array_equal(di.next()[0][:, 0],
                                      [0, 1, 2, 10, 11, 12, 13])


# ---------------------------------------------------------------------------
# image_utils
# ---------------------------------------------------------------------------

def test_image_round_trip(tmp_path):
    rng = np.random.RandomState(1)
    rgb = rng.randint(0, 256, size=(5, 7, 3)).astype(np.uint8)
    path = str(tmp_path / 'rgb.png')
    image_utils.imsave(path, rgb)
    np.testing.assert_array_equal(image_utils.imread(path), rgb)
    np.testing.assert_array_equal(
        image_utils.imread(path, channel_first=True), rgb.transpose(2, 0, 1))
    gray = image_utils.imread(path, grayscale=True)
    assert gray.shape == (5, 7) and gray.dtype == np.uint8
    assert image_utils.imread(path, grayscale=True,
                              num_channels=1).shape == (5, 7, 1)
    assert image_utils.imread(path, num_channels=4).shape == (5, 7, 4)
    assert image_utils.imread(path, size=(3, 2)).shape == (2, 3, 3)
    # channel-first save and float input scaled by 255
    image_utils.imsave(path, rgb.transpose(2, 0, 1), channel_first=True)
    np.testing.assert_array_equal(image_utils.imread(path), rgb)
    image_utils.imsave(path, np.full((2, 2), 0.5))
    np.testing.assert_array_equal(image_utils.imread(path), np.full((2, 2), 127))


def test_image_uint16_and_errors(tmp_path):
    img16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    path = str(tmp_path / 'g16.png')
    # the Pillow backend (NNabla's PilBackend) writes 8-bit only: write with PIL
    with pytest.raises(ValueError, match='as_uint16'):
        image_utils.imsave(path, img16, as_uint16=True)
    from PIL import Image
    Image.fromarray(img16).save(path)
    np.testing.assert_array_equal(image_utils.imread(path, as_uint16=True),
                                  img16)
    np.testing.assert_array_equal(image_utils.imread(path), img16 >> 8)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        image_utils.imsave(path, np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match='as_uint16'):
        image_utils.imsave(path, img16)
    with pytest.raises(FileNotFoundError, match='missing.png'):
        image_utils.imread(str(tmp_path / 'missing.png'))
    with pytest.raises(ValueError):
        image_utils.imresize(img16, (2, 2), interpolate='cubic-ish')


def test_imresize_nearest_matches_repeat():
    rng = np.random.RandomState(2)
    img = rng.randint(0, 256, size=(3, 4, 3)).astype(np.uint8)
    out = image_utils.imresize(img, (8, 6), interpolate='nearest')
    np.testing.assert_array_equal(out, img.repeat(2, axis=0).repeat(2, axis=1))
    f = rng.rand(2, 3, 5).astype(np.float32)  # channel-first float, C=2
    out = image_utils.imresize(f, (10, 6), interpolate='nearest',
                               channel_first=True)
    assert out.dtype == np.float32 and out.shape == (2, 6, 10)
    np.testing.assert_array_equal(out, f.repeat(2, axis=1).repeat(2, axis=2))
