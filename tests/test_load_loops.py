"""nnabla.utils.load / NnpLoader on NNabla's loop-control networks (RecurrentInput, Delay,
RecurrentOutput, RepeatStart/RepeatEnd with per-iteration and shared parameters), checked
against numpy recurrences; variable batch sizes; datasets and schedulers of load."""
import numpy as np
import pytest

import nnabla as nn
from nnabla.utils import learning_rate_scheduler as LRS
from nnabla.utils.load import load
from nnabla.utils.nnp_graph import NnpLoader

RNN = """
network {
  name: "rnn" batch_size: 2
  repeat_info { id: "T" times: 4 }
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 4 dim: 2 } }
  variable { name: "h0" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "W" type: "Parameter" shape { dim: 5 dim: 3 } }
  variable { name: "b" type: "Parameter" shape { dim: 3 } }
  variable { name: "xt" type: "Buffer" repeat_id: "T" shape { dim: -1 dim: 2 } }
  variable { name: "prev" type: "Buffer" repeat_id: "T" shape { dim: -1 dim: 3 } }
  variable { name: "cat" type: "Buffer" repeat_id: "T" shape { dim: -1 dim: 5 } }
  variable { name: "a" type: "Buffer" repeat_id: "T" shape { dim: -1 dim: 3 } }
  variable { name: "h" type: "Buffer" repeat_id: "T" shape { dim: -1 dim: 3 } }
  variable { name: "H" type: "Buffer" shape { dim: -1 dim: 4 dim: 3 } }
  function { name: "In" type: "RecurrentInput" repeat_id: "T" input: "x" output: "xt"
             recurrent_param { axis: 1 repeat_id: "T" } }
  function { name: "Delay" type: "Delay" repeat_id: "T" input: "h" input: "h0" output: "prev"
             recurrent_param { repeat_id: "T" } }
  function { name: "Cat" type: "Concatenate" repeat_id: "T" input: "xt" input: "prev"
             output: "cat" concatenate_param { axis: 1 } }
  function { name: "Affine" type: "Affine" repeat_id: "T" input: "cat" input: "W" input: "b"
             output: "a" affine_param { base_axis: 1 } }
  function { name: "Tanh" type: "Tanh" repeat_id: "T" input: "a" output: "h" }
  function { name: "Out" type: "RecurrentOutput" input: "h" output: "H"
             recurrent_param { axis: 1 repeat_id: "T" length: 4 } }
}
"""

REPEAT = """
network {
  name: "deep" batch_size: 2
  repeat_info { id: "R" times: 3 }
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "W{R}" type: "Parameter" repeat_id: "R" shape { dim: 3 dim: 3 } }
  variable { name: "b" type: "Parameter" shape { dim: 3 } }
  variable { name: "s" type: "Buffer" repeat_id: "R" shape { dim: -1 dim: 3 } }
  variable { name: "a" type: "Buffer" repeat_id: "R" shape { dim: -1 dim: 3 } }
  variable { name: "t" type: "Buffer" repeat_id: "R" shape { dim: -1 dim: 3 } }
  variable { name: "out" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "y" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "loss" type: "Buffer" shape { dim: -1 dim: 3 } }
  function { name: "Start" type: "RepeatStart" repeat_id: "R" input: "x" input: "t"
             output: "s" repeat_param { repeat_id: "R" times: 3 } }
  function { name: "Affine" type: "Affine" repeat_id: "R" input: "s" input: "W{R}" input: "b"
             output: "a" affine_param { base_axis: 1 } }
  function { name: "Tanh" type: "Tanh" repeat_id: "R" input: "a" output: "t" }
  function { name: "End" type: "RepeatEnd" input: "t" output: "out"
             repeat_param { repeat_id: "R" times: 3 } }
  function { name: "Loss" type: "SquaredError" input: "out" input: "y" output: "loss" }
}
optimizer {
  name: "opt" network_name: "deep" update_interval: 1
  solver { type: "Momentum" momentum_param { lr: 0.01 momentum: 0.9 }
           lr_scheduler_type: "Step" step_scheduler_param { gamma: 0.5 iter_steps: 10 } }
  data_variable { variable_name: "x" data_name: "x" }
  loss_variable { variable_name: "loss" }
  parameter_variable { variable_name: "W{R}" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "b" learning_rate_multiplier: 0 }
}
"""


def _params(tmp_path, values):
    with nn.parameter_scope("", {}):
        for k, v in values.items():
            nn.parameter.get_parameter_or_create(k, v.shape).d = v
        path = str(tmp_path / "p.h5")
        nn.save_parameters(path)
    return path


def test_recurrent_network_equals_numpy_rnn(tmp_path):
    rng = np.random.RandomState(0)
    W, b = rng.randn(5, 3).astype(np.float32), rng.randn(3).astype(np.float32)
    (tmp_path / "rnn.nntxt").write_text(RNN)
    files = [str(tmp_path / "rnn.nntxt"), _params(tmp_path, {"W": W, "b": b})]
    x, h0 = rng.randn(2, 4, 2).astype(np.float32), rng.randn(2, 3).astype(np.float32)
    h, expected = h0, []
    for t in range(4):
        h = np.tanh(np.concatenate([x[:, t], h], 1) @ W + b)
        expected.append(h)
    expected = np.stack(expected, 1)
    with nn.parameter_scope("", {}):
        net = load(files).networks["rnn"]
        assert net.inputs == ["x", "h0"] and net.outputs == ["H"]
        net.variables["x"].variable.d = x
        net.variables["h0"].variable.d = h0
        out = net.variables["H"].variable
        out.forward()
        np.testing.assert_allclose(out.d, expected, rtol=1e-5, atol=1e-6)
        assert "h_T[3]" in net.variables and "$EC$/Delay_T[0]" in net.functions
    nnp = NnpLoader(files)
    g = nnp.get_network("rnn", batch_size=2)
    g.inputs["x"].d, g.inputs["h0"].d = x, h0
    g.outputs["H"].forward()
    np.testing.assert_allclose(g.outputs["H"].d, expected, rtol=1e-5, atol=1e-6)


def test_repeat_network_per_iteration_parameters(tmp_path):
    rng = np.random.RandomState(1)
    Ws = [rng.randn(3, 3).astype(np.float32) for _ in range(3)]
    b = rng.randn(3).astype(np.float32)
    (tmp_path / "deep.nntxt").write_text(REPEAT)
    values = {f"W[{i}]": w for i, w in enumerate(Ws)}
    values["b"] = b
    files = [str(tmp_path / "deep.nntxt"), _params(tmp_path, values)]
    x = rng.randn(5, 3).astype(np.float32)
    h = x
    for w in Ws:
        h = np.tanh(h @ w + b)
    with nn.parameter_scope("", {}):
        info = load(files, batch_size=5)  # the -1 batch axis takes the given size
        net = info.networks["deep"]
        assert sorted(net.parameters) == ["W[0]", "W[1]", "W[2]", "b"]
        net.variables["x"].variable.d = x
        out = net.variables["out"].variable
        assert out.shape == (5, 3)
        out.forward()
        np.testing.assert_allclose(out.d, h, rtol=1e-5, atol=1e-6)
        opt = info.optimizers["opt"]
        assert list(opt.parameters) == ["W[0]", "W[1]", "W[2]"]  # b has multiplier 0
        assert isinstance(opt.scheduler, LRS.StepScheduler)
        assert opt.scheduler.get_learning_rate(9) == pytest.approx(0.01)
        assert opt.scheduler.get_learning_rate(10) == pytest.approx(0.005)
        assert type(opt.solver).__name__ == "Momentum"


def test_load_datasets_make_iterators(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,2\n3,4\n5,6\n")
    (tmp_path / "d.nntxt").write_text(
        'training_config { max_epoch: 1 iter_per_epoch: 1 }\n'
        f'dataset {{ name: "d" uri: "{tmp_path / "d.csv"}" batch_size: 2 shuffle: false '
        f'cache_dir: "{tmp_path / "d.cache"}" variable: "x" variable: "y" }}\n')
    info = load([str(tmp_path / "d.nntxt")])
    with info.datasets["d"].data_iterator() as di:
        x, y = di.next()
    np.testing.assert_allclose(x.ravel(), [1, 3])
    np.testing.assert_allclose(y.ravel(), [2, 4])
    assert (tmp_path / "d.cache" / "cache_index.csv").exists()
    # the cache is read back the second time
    with load([str(tmp_path / "d.nntxt")]).datasets["d"].data_iterator() as di:
        assert di.size == 3 and sorted(di.variables) == ["x", "y"]
    assert load([str(tmp_path / "d.nntxt")], prepare_data_iterator=False
                ).datasets["d"].data_iterator is None


@pytest.mark.parametrize("fmt", [".h5", ".protobuf"])
def test_solver_states_saved_with_nnp_come_back(tmp_path, fmt):
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S
    from nnabla.utils.save import save
    with nn.parameter_scope("", {}):
        x = nn.Variable((2, 3))
        x.d = np.arange(6).reshape(2, 3)
        loss = F.mean(PF.affine(x, 2, name="fc") ** 2)
        solver = S.Adam(0.01)
        solver.set_parameters(nn.get_parameters())
        for _ in range(3):
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.update()
        contents = {
            "networks": [{"name": "net", "batch_size": 2, "outputs": {"loss": loss},
                          "names": {"x": x}}],
            "optimizers": [{"name": "opt", "solver": solver, "network": "net",
                            "dataset": "None", "weight_decay": 0.0, "lr_decay": 1.0,
                            "lr_decay_interval": 1, "update_interval": 1}]}
        path = str(tmp_path / "m.nnp")
        save(path, contents, include_solver_state=True, solver_state_format=fmt)
        states = {k: {n: v.d.copy() for n, v in s.pstate.items()} | {"t": s.t}
                  for k, s in solver.get_states().items()}
    with nn.parameter_scope("", {}):
        opt = load([path]).optimizers["opt"]
        got = opt.solver.get_states()
    assert sorted(got) == sorted(states) == ["fc/affine/W", "fc/affine/b"]
    for k, s in got.items():
        assert s.t == states[k]["t"] == 3
        for n, v in s.pstate.items():
            np.testing.assert_array_equal(v.d, states[k][n])


def test_graph_def_expands_loops_and_computes(tmp_path):
    """nn.graph_def.load + expand_loop_control unrolls the recurrent network, and calling
    it on Variables gives the numpy RNN."""
    rng = np.random.RandomState(1)
    W, b = rng.randn(5, 3).astype(np.float32), rng.randn(3).astype(np.float32)
    (tmp_path / "rnn.nntxt").write_text(RNN)
    files = [str(tmp_path / "rnn.nntxt"), _params(tmp_path, {"W": W, "b": b})]
    x, h0 = rng.randn(2, 4, 2).astype(np.float32), rng.randn(2, 3).astype(np.float32)
    h, expected = h0, []
    for t in range(4):
        h = np.tanh(np.concatenate([x[:, t], h], 1) @ W + b)
        expected.append(h)
    with nn.parameter_scope("", {}):
        g = nn.graph_def.load(files)
        g.expand_loop_control()
        net = g.networks["rnn"]
        assert not any(f.type in ("RepeatStart", "Delay", "RecurrentInput")
                       for f in net.functions.values())
        y = net(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(h0))
        y.forward()
        np.testing.assert_allclose(y.d, np.stack(expected, 1), rtol=1e-5, atol=1e-6)
