"""Checkpoints: orbax (nnabla.checkpoint) and NNabla's checkpoint_util layout."""
import json
import os

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla import checkpoint
from nnabla.utils import checkpoint_util
from nnabla.utils.learning_rate_scheduler import CosineScheduler

f32 = np.float32
# orbax's asyncio internals may report an already-closed event loop at exit
pytestmark = pytest.mark.filterwarnings("ignore:nnjax. .*compiled",
                                        "ignore::DeprecationWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning")
DATA = np.random.RandomState(0)
XS = DATA.randn(8, 4, 5).astype(f32)
YS = DATA.randn(8, 4, 2).astype(f32)


class Run:
    """A small two-solver training run (Adam on layer 1, Momentum on layer 2)."""

    def __init__(self, init_seed):
        nn.clear_parameters()
        nn.seed(init_seed)
        self.x = nn.Variable((4, 5))
        self.y = nn.Variable((4, 2))
        with nn.parameter_scope("l1"):
            h = F.tanh(PF.affine(self.x, 6))
        with nn.parameter_scope("l2"):
            out = PF.affine(h, 2)
        self.loss = F.mean(F.squared_error(out, self.y))
        params = nn.get_parameters()
        self.adam = S.Adam(0.05)
        self.adam.set_parameters({k: v for k, v in params.items() if k.startswith("l1")})
        self.mom = S.Momentum(0.05, 0.9)
        self.mom.set_parameters({k: v for k, v in params.items() if k.startswith("l2")})
        self.sched = CosineScheduler(0.05, 8)
        self.solvers = {"gen": self.adam, "dis": self.mom}

    def train(self, start, stop):
        for i in range(start, stop):
            self.x.d = XS[i]
            self.y.d = YS[i]
            self.adam.set_learning_rate(self.sched.get_learning_rate(i))
            self.loss.forward()
            self.adam.zero_grad()
            self.mom.zero_grad()
            self.loss.backward()
            self.adam.weight_decay(1e-3)
            self.adam.update()
            self.mom.update()

    def snapshot(self):
        params = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
        states = {}
        for name, s in self.solvers.items():
            for k, st in s.get_states().items():
                states[(name, k)] = (st.t, {n: v.d.copy() for n, v in st.pstate.items()})
        return params, states


def _assert_bitwise(a, b):
    pa, sa = a
    pb, sb = b
    assert pa.keys() == pb.keys() and sa.keys() == sb.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    for k in sa:
        assert sa[k][0] == sb[k][0]
        for n in sa[k][1]:
            np.testing.assert_array_equal(sa[k][1][n], sb[k][1][n], err_msg=f"{k}/{n}")


def test_resume_equals_uninterrupted_bit_for_bit(tmp_path):
    ref = Run(1)
    ref.train(0, 8)
    expected = ref.snapshot()

    first = Run(1)
    first.train(0, 3)
    ckpt = str(tmp_path / "ckpt")
    checkpoint.save_checkpoint(ckpt, first.solvers, 3)
    first.train(3, 5)
    checkpoint.save_checkpoint(ckpt, first.solvers, 5, max_to_keep=2)
    assert checkpoint.all_iterations(ckpt) == [3, 5]

    resumed = Run(99)  # a fresh "process": other initial values
    start = checkpoint.load_checkpoint(ckpt, resumed.solvers)
    assert start == 5
    resumed.train(start, 8)
    _assert_bitwise(expected, resumed.snapshot())

    # an explicit iteration and an explicit params dict work too
    again = Run(7)
    assert checkpoint.load_checkpoint(ckpt, again.solvers, iteration=3,
                                      params=nn.get_parameters()) == 3
    again.train(3, 8)
    _assert_bitwise(expected, again.snapshot())


def test_load_creates_missing_parameters(tmp_path):
    run = Run(1)
    run.train(0, 2)
    before = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    checkpoint.save_checkpoint(str(tmp_path), None, 2)
    nn.clear_parameters()
    assert checkpoint.load_checkpoint(str(tmp_path), None) == 2
    after = nn.get_parameters()
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(after[k].d, before[k])


def test_interrupted_save_is_never_taken(tmp_path, monkeypatch):
    import orbax.checkpoint as ocp
    run = Run(1)
    run.train(0, 2)
    ckpt = str(tmp_path)
    checkpoint.save_checkpoint(ckpt, run.solvers, 2)
    good = run.snapshot()
    run.train(2, 4)

    # 1) the writer dies inside orbax's save (before its atomic rename)
    def die(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")
    monkeypatch.setattr(ocp.JsonCheckpointHandler, "save", die)
    monkeypatch.setattr(ocp.JsonCheckpointHandler, "async_save", die)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checkpoint(ckpt, run.solvers, 4)
    monkeypatch.undo()
    assert checkpoint.latest_iteration(ckpt) == 2

    # 2) the writer dies after orbax finished but before the marker
    monkeypatch.setattr(checkpoint, "_write_marker",
                        lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checkpoint(ckpt, run.solvers, 6)
    monkeypatch.undo()
    assert os.path.isdir(os.path.join(ckpt, "6"))
    assert checkpoint.latest_iteration(ckpt) == 2

    # 3) a partial copy of a newer step
    os.makedirs(os.path.join(ckpt, "9", "state"))
    assert checkpoint.all_iterations(ckpt) == [2]

    resumed = Run(5)
    assert checkpoint.load_checkpoint(ckpt, resumed.solvers) == 2
    _assert_bitwise(good, resumed.snapshot())
    with pytest.raises(FileNotFoundError):
        checkpoint.load_checkpoint(ckpt, resumed.solvers, iteration=6)

    # a later successful save of the same iteration replaces the broken one
    checkpoint.save_checkpoint(ckpt, resumed.solvers, 6)
    assert checkpoint.latest_iteration(ckpt) == 6


def test_bad_loads_change_nothing(tmp_path):
    run = Run(1)
    run.train(0, 2)
    ckpt = str(tmp_path)
    checkpoint.save_checkpoint(ckpt, run.solvers, 2)
    run.train(2, 3)
    snap = run.snapshot()
    # solver structure differs
    with pytest.raises(ValueError, match="solvers"):
        checkpoint.load_checkpoint(ckpt, run.adam)
    with pytest.raises(ValueError, match="Momentum"):
        checkpoint.load_checkpoint(ckpt, {"gen": run.adam, "dis": S.Sgd()})
    # a solver missing a parameter of the checkpoint
    partial = S.Momentum()
    partial.set_parameters({"l2/affine/W": nn.get_parameters()["l2/affine/W"]})
    with pytest.raises(ValueError, match="l2/affine/b"):
        checkpoint.load_checkpoint(ckpt, {"gen": run.adam, "dis": partial})
    # a parameter of another shape
    with pytest.raises(ValueError, match="shape"):
        checkpoint.load_checkpoint(ckpt, run.solvers,
                                   params={"l1/affine/W": nn.Variable((3, 3))})
    with pytest.raises(ValueError, match="not in the checkpoint"):
        checkpoint.load_checkpoint(ckpt, run.solvers, params={"zzz": nn.Variable((3,))})
    _assert_bitwise(snap, run.snapshot())
    # corrupt checkpoint contents
    state_dir = os.path.join(ckpt, "2", "state")
    for root, _, files in os.walk(state_dir):
        for f in files:
            if f not in ("_METADATA",):
                with open(os.path.join(root, f), "wb") as fh:
                    fh.write(b"garbage")
    with pytest.raises(ValueError, match="cannot read"):
        checkpoint.load_checkpoint(ckpt, run.solvers)
    _assert_bitwise(snap, run.snapshot())
    with pytest.raises(FileNotFoundError):
        checkpoint.load_checkpoint(str(tmp_path / "empty"), run.solvers)


# ---------------------------------------------------------------- checkpoint_util
def test_checkpoint_util_layout_and_resume(tmp_path):
    ref = Run(1)
    ref.train(0, 6)
    expected = ref.snapshot()

    run = Run(1)
    run.train(0, 3)
    path = str(tmp_path)
    checkpoint_util.save_checkpoint(path, 3, run.solvers)
    names = sorted(os.listdir(path))
    assert names == ["checkpoint_3.json", "dis_states_3.h5", "gen_states_3.h5", "params_3.h5"]
    info = json.load(open(os.path.join(path, "checkpoint_3.json")))
    assert info["current_iter"] == 3 and info["params_path"] == "params_3.h5"
    assert info["gen"]["states_path"] == "gen_states_3.h5"
    assert info["gen"]["params_names"] == ["l1/affine/W", "l1/affine/b"]
    assert info["gen"]["num_update"] == 3

    resumed = Run(42)
    it = checkpoint_util.load_checkpoint(os.path.join(path, "checkpoint_3.json"),
                                         resumed.solvers)
    assert it == 3
    resumed.train(3, 6)
    _assert_bitwise(expected, resumed.snapshot())


def test_checkpoint_util_single_solver_keeps_and_errors(tmp_path):
    nn.clear_parameters()
    w = nn.parameter.get_parameter_or_create("w", (3,), need_grad=True)
    s = S.Sgd(0.1)
    s.set_parameters({"w": w})
    path = str(tmp_path)
    for it in range(4):
        w.g = np.ones(3, f32)
        s.update()
        checkpoint_util.save_checkpoint(path, it, s, n_keeps=2)
    assert sorted(os.listdir(path)) == ["checkpoint_2.json", "checkpoint_3.json",
                                        "params_2.h5", "params_3.h5",
                                        "states_2.h5", "states_3.h5"]
    assert checkpoint_util.load_checkpoint(os.path.join(path, "checkpoint_2.json"), s) == 2
    assert s.get_states()["w"].t == 3
    bad = os.path.join(path, "checkpoint_bad.json")
    with open(bad, "w") as f:
        f.write("{not json")
    with pytest.raises(ValueError, match="checkpoint json"):
        checkpoint_util.load_checkpoint(bad, s)
    with pytest.raises(FileNotFoundError):
        checkpoint_util.load_checkpoint(os.path.join(path, "nope.json"), s)
