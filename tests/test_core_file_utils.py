"""Modules NNabla's core tests import: create_cache, load_function, save_function,
nnp_format, communicator_util."""
import csv
import os

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from nnabla.config import nnabla_config
from nnabla.utils import nnabla_pb2
from nnabla.utils.communicator_util import current_communicator, single_or_rankzero
from nnabla.utils.create_cache import CreateCache
from nnabla.utils.data_source_implements import CacheDataSource
from nnabla.utils.load_function import _create_function_instance
from nnabla.utils.nnp_format import nnp_version
from nnabla.utils.save_function import _create_function_nntxt


@pytest.fixture
def small_cache_size():
    previous = nnabla_config.get("DATA_ITERATOR", "data_source_file_cache_size")
    nnabla_config.set("DATA_ITERATOR", "data_source_file_cache_size", "3")
    yield
    nnabla_config.set("DATA_ITERATOR", "data_source_file_cache_size", previous)


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x__0", "x__1", "y"])
        w.writerows(rows)


@pytest.mark.parametrize("shuffle", [False, True])
def test_create_cache_round_trips_through_cache_data_source(tmp_path, small_cache_size,
                                                            shuffle):
    rows = [[i * 0.5, -i, i % 3] for i in range(7)]
    src = tmp_path / "data.csv"
    _write_csv(src, rows)
    out = tmp_path / "cache"
    cc = CreateCache(str(src), shuffle=shuffle, rng=np.random.RandomState(3))
    cc.create(str(out))
    order = list(np.random.RandomState(3).permutation(7)) if shuffle else list(range(7))
    names = sorted(os.listdir(out))
    assert names == sorted(["cache_00000000_00000002.npy", "cache_00000003_00000005.npy",
                            "cache_00000006_00000006.npy", "cache_index.csv",
                            "cache_info.csv", "original.csv", "order.csv"])
    with open(out / "order.csv") as f:
        assert [list(map(int, r)) for r in csv.reader(f)] == \
            [[i, int(o)] for i, o in enumerate(order)]
    ds = CacheDataSource(str(out), shuffle=False)
    assert ds.size == 7 and tuple(ds.variables) == ("x", "y")
    for position, row_index in enumerate(order):
        x, y = ds._get_data(position)
        r = rows[row_index]
        np.testing.assert_allclose(np.ravel(x), [r[0], r[1]])
        np.testing.assert_allclose(np.ravel(y), [r[2]])


def test_create_function_instance_from_proto_computes_like_f(rng):
    f = nnabla_pb2.Function()
    f.type = "Affine"
    f.affine_param.base_axis = 1
    fn = _create_function_instance(nn.get_current_context(), f)
    assert fn.arguments["base_axis"] == 1
    x = nn.Variable.from_numpy_array(rng.randn(2, 3).astype(np.float32))
    w = nn.Variable.from_numpy_array(rng.randn(3, 4).astype(np.float32))
    b = nn.Variable.from_numpy_array(rng.randn(4).astype(np.float32))
    y = fn(x, w, b)
    y.forward()
    np.testing.assert_allclose(y.d, x.d @ w.d + b.d, rtol=1e-5)
    bad = nnabla_pb2.Function()
    bad.type = "RepeatStart"
    with pytest.raises(ValueError, match="RepeatStart"):
        _create_function_instance(nn.get_current_context(), bad)


def test_create_function_nntxt_round_trips_the_arguments():
    x = nn.Variable((2, 3, 4))
    y = F.transpose(x, (0, 2, 1))
    f = nnabla_pb2.Function()
    _create_function_nntxt(f, "T", {"type": "Transpose", "inputs": ["x"], "outputs": ["y"],
                                    "args": y.parent.info.args})
    assert (f.name, f.type, list(f.input), list(f.output)) == ("T", "Transpose", ["x"], ["y"])
    assert list(f.transpose_param.axes) == [0, 2, 1]


def test_format_version_and_single_process():
    assert nnp_version() == "0.1"
    assert current_communicator() is None and single_or_rankzero()
