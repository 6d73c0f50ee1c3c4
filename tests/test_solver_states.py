"""Solver states: get/set, save/load (.h5 in NNabla's layout), bad input."""
import os
from collections import OrderedDict

import h5py
import numpy as np
import pytest

import nnabla as nn
import nnabla.solvers as S
from nnabla.solvers import SolverState

f32 = np.float32
pytestmark = pytest.mark.filterwarnings("ignore:nnjax. .*compiled")

ALL = [S.Sgd, S.SgdW, S.Momentum, S.Lars, S.Nesterov, S.Adadelta, S.Adagrad,
       lambda: S.AdaBelief(amsgrad=True), S.RMSprop, S.RMSpropGraves, S.Adam, S.AdamW,
       S.AdaBound, S.Adamax, S.AMSGRAD, S.AMSBound, S.Lamb, S.Lion]


def _params(seed=0):
    rs = np.random.RandomState(seed)
    return OrderedDict([
        ("conv/W", nn.Variable.from_numpy_array(rs.randn(2, 3).astype(f32), need_grad=True)),
        ("conv/b", nn.Variable.from_numpy_array(rs.randn(3).astype(f32), need_grad=True)),
        ("s", nn.Variable.from_numpy_array(np.array(rs.randn(), f32), need_grad=True))])


def _steps(solver, params, n, seed=1):
    rs = np.random.RandomState(seed)
    for _ in range(n):
        for v in params.values():
            v.g = np.asarray(rs.randn(*v.shape), f32)
        solver.update()


def _snapshot(solver):
    return {k: (st.t, {n: v.d.copy() for n, v in st.pstate.items()})
            for k, st in solver.get_states().items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k][0] == b[k][0], k
        assert a[k][1].keys() == b[k][1].keys()
        for n in a[k][1]:
            np.testing.assert_array_equal(a[k][1][n], b[k][1][n], err_msg=f"{k}/{n}")


@pytest.mark.parametrize("make", ALL, ids=[getattr(m, "__name__", "AdaBelief-amsgrad")
                                            for m in ALL])
def test_h5_round_trip_continues_identically(make, tmp_path):
    params = _params()
    s = make()
    s.set_parameters(params)
    _steps(s, params, 2)
    path = str(tmp_path / "states.h5")
    s.save_states(path)
    saved_params = {k: v.d.copy() for k, v in params.items()}

    params2 = _params(5)
    for k, v in params2.items():
        v.d = saved_params[k]
    s2 = make()
    s2.set_parameters(params2)
    s2.load_states(path)
    _assert_same(_snapshot(s), _snapshot(s2))
    _steps(s, params, 2, seed=7)
    _steps(s2, params2, 2, seed=7)
    for k in params:
        np.testing.assert_array_equal(params[k].d, params2[k].d)


def test_h5_layout_is_nnablas(tmp_path):
    params = _params()
    s = S.Adam()
    s.set_parameters(params)
    _steps(s, params, 3)
    path = str(tmp_path / "adam.h5")
    s.save_states(path)
    states = s.get_states()
    with h5py.File(path, "r") as hd:
        # one group per parameter path (nested by '/'), order in attrs['index']
        assert set(hd.keys()) == {"conv", "s"}
        assert set(hd["conv"].keys()) == {"W", "b"}
        for i, name in enumerate(["conv/W", "conv/b", "s"]):
            grp = hd[name]
            assert grp.attrs["index"] == i
            assert set(grp.keys()) == {"t", "mean", "var"}
            assert grp["t"][()] == 3 and np.issubdtype(grp["t"].dtype, np.integer)
            assert grp["t"].shape == ()
            assert [grp[n].attrs["index"] for n in ("mean", "var")] == [0, 1]
            for n in ("mean", "var"):
                assert grp[n].dtype == np.float32
                np.testing.assert_array_equal(grp[n][...], states[name].pstate[n].d)


def test_load_file_written_like_nnabla(tmp_path):
    """A file built by hand in NNabla's layout (state order differing) loads."""
    params = _params()
    s = S.Momentum()
    s.set_parameters(params)
    path = str(tmp_path / "hand.h5")
    rs = np.random.RandomState(3)
    values = {k: np.asarray(rs.randn(*v.shape), f32) for k, v in params.items()}
    with h5py.File(path, "w") as hd:
        for i, (k, v) in enumerate(reversed(list(values.items()))):
            hd.create_group(k)
            hd[k].create_dataset("t", data=7 + i)
            hd[k].attrs["index"] = i
            hd[k].create_dataset("m", data=v)
            hd[k]["m"].attrs["index"] = 0
    s.load_states(path)
    st = s.get_states()
    assert [st[k].t for k in ("s", "conv/b", "conv/W")] == [7, 8, 9]
    for k in params:
        np.testing.assert_array_equal(st[k].pstate["m"].d, values[k])


def test_get_states_shares_buffers_and_set_states_round_trip():
    params = _params()
    s = S.Adam(0.1)
    s.set_parameters(params)
    _steps(s, params, 2)
    states = s.get_states()
    # editing a returned state Variable edits the solver's state (as in NNabla)
    states["s"].pstate["mean"].d = 5.0
    assert float(s.get_states()["s"].pstate["mean"].d) == 5.0
    snap = _snapshot(s)
    s2 = S.Adam(0.1)
    s2.set_parameters(params)
    s2.set_states(states)
    _assert_same(snap, _snapshot(s2))
    # plain numpy arrays are accepted too
    s3 = S.Adam(0.1)
    s3.set_parameters(params)
    s3.set_states({k: SolverState({n: v.d for n, v in st.pstate.items()}, st.t)
                   for k, st in states.items()})
    _assert_same(snap, _snapshot(s3))


@pytest.mark.parametrize("bad, match", [
    (lambda st: st.update({"nope": st["s"]}), "nope"),
    (lambda st: st["conv/W"].pstate.update({"mean": nn.Variable((3, 2))}), "shape"),
    (lambda st: st["conv/b"].pstate.pop("var"), "expects"),
    (lambda st: st["conv/b"].pstate.update({"other": nn.Variable((3,))}), "expects"),
    (lambda st: setattr(st["s"], "t", "x"), "integer"),
    (lambda st: setattr(st["s"], "t", -1), "range"),
])
def test_set_states_rejects_bad_input_and_keeps_state(bad, match):
    params = _params()
    s = S.Adam(0.1)
    s.set_parameters(params)
    _steps(s, params, 2)
    snap = _snapshot(s)
    states = OrderedDict()
    for k, st in s.get_states().items():
        pstate = OrderedDict((n, nn.Variable.from_numpy_array(v.d + 1)) for n, v in
                             st.pstate.items())
        states[k] = SolverState(pstate, st.t + 10)
    bad(states)
    with pytest.raises(ValueError, match=match):
        s.set_states(states)
    _assert_same(snap, _snapshot(s))


def _saved_adam(tmp_path, params):
    s = S.Adam(0.1)
    s.set_parameters(params)
    _steps(s, params, 1)
    path = str(tmp_path / "st.h5")
    s.save_states(path)
    return path


def test_load_states_errors_keep_state(tmp_path):
    params = _params()
    path = _saved_adam(tmp_path, params)
    # a solver lacking one of the file's parameters
    s = S.Adam(0.1)
    s.set_parameters({"conv/W": params["conv/W"]})
    _steps(s, {"conv/W": params["conv/W"]}, 3)
    snap = _snapshot(s)
    with pytest.raises(ValueError, match="conv/b"):
        s.load_states(path)
    _assert_same(snap, _snapshot(s))
    # same names, other shapes
    other = OrderedDict((k, nn.Variable((4,) + v.shape, need_grad=True))
                        for k, v in params.items())
    s2 = S.Adam(0.1)
    s2.set_parameters(other)
    snap2 = _snapshot(s2)
    with pytest.raises(ValueError, match="shape"):
        s2.load_states(path)
    _assert_same(snap2, _snapshot(s2))
    # states of another solver type
    s3 = S.Momentum()
    s3.set_parameters(params)
    with pytest.raises(ValueError, match="expects"):
        s3.load_states(path)
    # corrupt and truncated files
    s4 = S.Adam(0.1)
    s4.set_parameters(params)
    _steps(s4, params, 2)
    snap4 = _snapshot(s4)
    garbage = str(tmp_path / "garbage.h5")
    with open(garbage, "wb") as f:
        f.write(b"\x00not an hdf5 file" * 10)
    with pytest.raises(ValueError, match="cannot read"):
        s4.load_states(garbage)
    data = open(path, "rb").read()
    truncated = str(tmp_path / "trunc.h5")
    with open(truncated, "wb") as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError):
        s4.load_states(truncated)
    no_t = str(tmp_path / "no_t.h5")
    with h5py.File(no_t, "w") as hd:
        hd.create_group("conv/W").create_dataset("mean", data=np.zeros((2, 3), f32))
    with pytest.raises(ValueError, match="'t'"):
        s4.load_states(no_t)
    _assert_same(snap4, _snapshot(s4))
    with pytest.raises(FileNotFoundError):
        s4.load_states(str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="extension"):
        s4.save_states(str(tmp_path / "x.txt"))


def test_save_is_atomic(tmp_path, monkeypatch):
    params = _params()
    path = _saved_adam(tmp_path, params)
    before = open(path, "rb").read()
    s = S.Adam(0.1)
    s.set_parameters(params)

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(RuntimeError):
        s.save_states(path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_protobuf_states(tmp_path):
    params = _params()
    s = S.Adam(0.1)
    s.set_parameters(params)
    _steps(s, params, 2)
    path = str(tmp_path / "st.protobuf")
    s.save_states(path)
    s2 = S.Adam(0.1)
    s2.set_parameters(params)
    s2.load_states(path)
    _assert_same(_snapshot(s), _snapshot(s2))
