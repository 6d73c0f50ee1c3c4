"""Initial parameter values (NNabla's documented initializers and seeding) and
parameter files (.h5 written and read as NNabla does)."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.initializer as I
import nnabla.parametric_functions as PF

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def glorot(inmaps, outmaps, kernel=(1,)):
    d = np.sqrt(6.0 / (np.prod(kernel) * inmaps + np.prod(kernel) * outmaps))
    return -d, d


def build_small_cnn(x):
    with nn.parameter_scope("conv1"):
        h = PF.convolution(x, 3, (3, 3), pad=(1, 1))
        h = F.tanh(PF.batch_normalization(h))
    with nn.parameter_scope("fc"):
        y = PF.affine(h, 5)
    return y


def expected_initial_values(rng):
    """What NNabla draws for build_small_cnn, in creation order, from ``rng``."""
    lo, hi = glorot(2, 3, (3, 3))
    conv_w = rng.uniform(lo, hi, size=(3, 2, 3, 3)).astype(np.float32)
    lo, hi = glorot(3 * 4 * 4, 5)
    fc_w = rng.uniform(lo, hi, size=(48, 5)).astype(np.float32)
    return {
        "conv1/conv/W": conv_w, "conv1/conv/b": np.zeros(3, np.float32),
        "conv1/bn/beta": np.zeros((1, 3, 1, 1), np.float32),
        "conv1/bn/gamma": np.ones((1, 3, 1, 1), np.float32),
        "conv1/bn/mean": np.zeros((1, 3, 1, 1), np.float32),
        "conv1/bn/var": np.ones((1, 3, 1, 1), np.float32),
        "fc/affine/W": fc_w, "fc/affine/b": np.zeros(5, np.float32),
    }


# ---------------------------------------------------------------- initial values
def test_seed_gives_nnablas_initial_weights():
    nn.seed(123)
    build_small_cnn(nn.Variable((2, 2, 4, 4)))
    params = nn.get_parameters(grad_only=False)
    expected = expected_initial_values(np.random.RandomState(123))
    assert list(params) == list(expected)
    for k, v in expected.items():
        assert params[k].d.dtype == np.float32
        np.testing.assert_array_equal(params[k].d, v, err_msg=k)


def test_same_seed_same_weights_different_seed_different():
    def weights(seed):
        nn.clear_parameters()
        nn.seed(seed)
        with nn.parameter_scope("a"):
            PF.affine(nn.Variable((2, 6)), 4)
        return nn.get_parameters()["a/affine/W"].d.copy()
    np.testing.assert_array_equal(weights(7), weights(7))
    assert not np.array_equal(weights(7), weights(8))


def test_prng_seeded_313_at_import():
    code = (
        "import numpy as np, nnabla as nn, nnabla.parametric_functions as PF\n"
        "PF.affine(nn.Variable((2, 6)), 4)\n"
        "PF.affine(nn.Variable((2, 4)), 3, name='second')\n"
        "p = nn.get_parameters()\n"
        "np.save('W1.npy', p['affine/W'].d); np.save('W2.npy', p['second/affine/W'].d)\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               JAX_PLATFORMS="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, check=True,
                       capture_output=True, timeout=120)
        w1 = np.load(os.path.join(tmp, "W1.npy"))
        w2 = np.load(os.path.join(tmp, "W2.npy"))
    rng = np.random.RandomState(313)
    np.testing.assert_array_equal(w1, rng.uniform(*glorot(6, 4), size=(6, 4)).astype(np.float32))
    np.testing.assert_array_equal(w2, rng.uniform(*glorot(4, 3), size=(4, 3)).astype(np.float32))


def test_initializers():
    rng = np.random.RandomState(0)
    u = I.UniformInitializer((-0.5, 0.25), rng=np.random.RandomState(0))
    np.testing.assert_allclose(u((3, 4)), rng.uniform(-0.5, 0.25, size=(3, 4)), rtol=1e-6)
    n = I.NormalInitializer(2.0, rng=np.random.RandomState(1))
    np.testing.assert_allclose(n((5,)), np.random.RandomState(1).randn(5) * 2.0, rtol=1e-6)
    c = I.ConstantInitializer(0.5)
    np.testing.assert_array_equal(c((2, 2)), np.full((2, 2), 0.5))
    lo, hi = I.calc_uniform_lim_glorot(10, 20, (3, 3))
    assert hi == -lo and np.isclose(hi, np.sqrt(6.0 / (9 * 10 + 9 * 20)))
    assert np.isclose(I.calc_normal_std_he_forward(10, 20, (3, 3)), np.sqrt(2.0 / 90))
    assert np.isclose(I.calc_normal_std_glorot(10, 20), np.sqrt(2.0 / 30))
    # a PF initializer draws from nnabla.random.prng when no rng is given
    nn.seed(5)
    with nn.parameter_scope("w"):
        PF.affine(nn.Variable((1, 3)), 2, w_init=I.NormalInitializer(0.1))
    np.testing.assert_allclose(nn.get_parameters()["w/affine/W"].d,
                               np.random.RandomState(5).randn(3, 2) * 0.1, rtol=1e-6)
    # an explicit numpy array initializes as is
    with nn.parameter_scope("arr"):
        PF.affine(nn.Variable((1, 2)), 2, w_init=np.eye(2, dtype=np.float32))
    np.testing.assert_array_equal(nn.get_parameters()["arr/affine/W"].d, np.eye(2))


# ---------------------------------------------------------------- .h5 files
def test_save_writes_nnablas_h5_layout(tmp_path):
    build_small_cnn(nn.Variable((2, 2, 4, 4)))
    params = nn.get_parameters(grad_only=False)
    path = str(tmp_path / "p.h5")
    nn.save_parameters(path)
    with h5py.File(path, "r") as hd:
        found = {}
        hd.visititems(lambda name, obj: found.__setitem__(name, obj[...].copy())
                      if isinstance(obj, h5py.Dataset) else None)
        assert set(found) == set(params)
        for i, (k, v) in enumerate(params.items()):
            ds = hd[k]
            np.testing.assert_array_equal(found[k], v.d)
            assert ds.dtype == np.float32
            assert bool(ds.attrs["need_grad"]) == v.need_grad
            assert int(ds.attrs["index"]) == i
        assert not bool(hd["conv1/bn/mean"].attrs["need_grad"])
        assert bool(hd["conv1/conv/W"].attrs["need_grad"])
        assert isinstance(hd["conv1"], h5py.Group)  # '/' in names makes groups


def test_load_reads_an_nnabla_written_file_in_index_order(tmp_path):
    path = str(tmp_path / "nnabla.h5")
    rs = np.random.RandomState(0)
    entries = [("net/fc1/affine/W", rs.randn(3, 2), True),
               ("net/fc1/affine/b", rs.randn(2), True),
               ("net/bn/mean", rs.randn(1, 2), False)]
    with h5py.File(path, "w") as hd:
        for i, (k, v, ng) in reversed(list(enumerate(entries))):  # written out of order
            hd[k] = v.astype(np.float32)
            hd[k].attrs["need_grad"] = ng
            hd[k].attrs["index"] = i
    nn.load_parameters(path)
    params = nn.get_parameters(grad_only=False)
    assert list(params) == [e[0] for e in entries]
    for k, v, ng in entries:
        np.testing.assert_allclose(params[k].d, v.astype(np.float32))
        assert params[k].need_grad == ng
    assert list(nn.get_parameters()) == ["net/fc1/affine/W", "net/fc1/affine/b"]


def test_save_clear_load_restores_values_and_graph_output(tmp_path):
    rs = np.random.RandomState(1)
    x = nn.Variable.from_numpy_array(rs.randn(2, 2, 4, 4).astype(np.float32))
    y = build_small_cnn(x)
    y.forward()
    ref = y.d.copy()
    path = str(tmp_path / "cnn.h5")
    nn.save_parameters(path)
    # perturb in place, reload: the existing variables get the saved values back
    w = nn.get_parameters()["fc/affine/W"]
    w.d += 1
    y.forward()
    assert not np.allclose(y.d, ref)
    nn.load_parameters(path)
    assert nn.get_parameters()["fc/affine/W"] == w  # same parameter, values replaced
    y.forward()
    np.testing.assert_allclose(y.d, ref, rtol=1e-6)
    # explicit dict, and loading inside a scope
    sub = str(tmp_path / "fc.h5")
    nn.save_parameters(sub, {k: v for k, v in nn.get_parameters().items()
                             if k.startswith("fc/")})
    nn.clear_parameters()
    assert len(nn.get_parameters()) == 0
    with nn.parameter_scope("restored"):
        nn.load_parameters(sub)
        assert list(nn.get_parameters()) == ["fc/affine/W", "fc/affine/b"]
    assert list(nn.get_parameters()) == ["restored/fc/affine/W", "restored/fc/affine/b"]


def _snapshot():
    return {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}


def _same(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_load_missing_file_raises_and_changes_nothing(tmp_path):
    build_small_cnn(nn.Variable((1, 2, 4, 4)))
    before = _snapshot()
    missing = str(tmp_path / "nope.h5")
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        nn.load_parameters(missing)
    _same(before, _snapshot())


def test_load_corrupt_file_raises_and_changes_nothing(tmp_path):
    build_small_cnn(nn.Variable((1, 2, 4, 4)))
    before = _snapshot()
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"this is not an hdf5 file" * 10)
    with pytest.raises(ValueError, match="bad.h5"):
        nn.load_parameters(str(bad))
    _same(before, _snapshot())


def test_load_unsupported_extension(tmp_path):
    p = tmp_path / "params.txt"
    p.write_text("x")
    with pytest.raises(ValueError, match="extension"):
        nn.load_parameters(str(p))


def test_load_shape_mismatch_raises_and_changes_nothing(tmp_path):
    path = str(tmp_path / "other.h5")
    with h5py.File(path, "w") as hd:
        # a good entry first, then a mismatching one: neither may be applied
        hd["conv1/conv/b"] = np.full(3, 9.0, np.float32)
        hd["conv1/conv/b"].attrs["need_grad"] = True
        hd["conv1/conv/b"].attrs["index"] = 0
        hd["fc/affine/W"] = np.zeros((7, 5), np.float32)
        hd["fc/affine/W"].attrs["need_grad"] = True
        hd["fc/affine/W"].attrs["index"] = 1
    build_small_cnn(nn.Variable((1, 2, 4, 4)))
    before = _snapshot()
    with pytest.raises(ValueError) as e:
        nn.load_parameters(path)
    msg = str(e.value)
    assert "fc/affine/W" in msg and "(7, 5)" in msg and "(48, 5)" in msg
    _same(before, _snapshot())


def test_failed_save_keeps_the_previous_file(tmp_path):
    build_small_cnn(nn.Variable((1, 2, 4, 4)))
    path = str(tmp_path / "keep.h5")
    nn.save_parameters(path)
    with h5py.File(path, "r") as hd:
        n_before = len(hd["conv1"].keys())
    with pytest.raises(Exception):
        nn.save_parameters(path, {"a/W": nn.get_parameters()["fc/affine/W"],
                                  "b/W": "not a variable"})
    with h5py.File(path, "r") as hd:
        assert len(hd["conv1"].keys()) == n_before
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_save_unsupported_extension(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        nn.save_parameters(str(tmp_path / "p.xyz"))
