"""nnjax.to_jax: a graph as a pure JAX function equals nnjax's own forward and backward,
and composes with jit, grad, vmap, scan, shardings and export; set_parameters writes back."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.utils.nnp_graph import NnpLoader
from nnabla.utils.save import save


def _var(rng, shape, need_grad=True):
    return nn.Variable.from_numpy_array(rng.randn(*shape).astype(np.float32),
                                        need_grad=need_grad)


# ---------------------------------------------------------------- graphs of the table
def mlp(rng):
    x = _var(rng, (4, 6))
    t = nn.Variable.from_numpy_array(rng.randint(0, 3, (4, 1)))
    y = PF.affine(F.tanh(PF.affine(x, 5, name="l1")), 3, name="l2")
    return F.mean(F.softmax_cross_entropy(y, t)), [x, t]


def cnn_bn(batch_stat):
    def build(rng):
        x = _var(rng, (3, 2, 6, 6))
        h = F.relu(PF.convolution(x, 4, (3, 3), pad=(1, 1), name="c1"))
        h = PF.batch_normalization(h, batch_stat=batch_stat, name="bn")
        h = F.max_pooling(h, (2, 2))
        y = PF.affine(h, 2, name="fc")
        for k, p in nn.get_parameters(grad_only=False).items():
            if k.endswith(("mean", "var")):
                p.d = rng.uniform(0.5, 1.5, p.shape)
        weight = nn.Variable.from_numpy_array(rng.randn(3, 2).astype(np.float32))
        return F.sum(y * weight), [x]
    return build


def rnn(rng):
    x = _var(rng, (5, 2, 3))
    h = _var(rng, (1, 1, 2, 4))
    y, hn = PF.rnn(x, h, name="rnn")
    return F.sum(F.sin(y)) + F.sum(hn * hn), [x, h]


def dropout(rng):
    x = _var(rng, (4, 8))
    y = F.dropout(F.tanh(PF.affine(x, 8, name="fc")), p=0.4, seed=7)
    return F.sum(y * y), [x]


def grad_penalty(rng):
    x = _var(rng, (3, 4))
    y = F.sum(F.tanh(PF.affine(x, 2, name="fc")))
    (gx,) = nn.grad([y], [x])  # a gradient as part of the graph (double backward)
    return F.sum(gx * gx), [x]


def nnp_graph(rng, tmp_path):
    x = nn.Variable((3, 2, 6, 6))
    h = F.relu(PF.convolution(x, 3, (3, 3), name="conv"))
    h = PF.batch_normalization(h, batch_stat=False, name="bn")
    y = PF.affine(F.average_pooling(h, (2, 2)), 4, name="fc")
    path = str(tmp_path / "net.nnp")
    save(path, {"networks": [{"name": "net", "batch_size": 3, "outputs": {"y": y},
                              "names": {"x": x}}],
                "executors": [{"name": "run", "network": "net", "data": ["x"],
                               "output": ["y"]}]})
    nn.clear_parameters()
    net = NnpLoader(path).get_network("net", batch_size=3)
    xv = net.inputs["x"]
    xv.d = rng.randn(*xv.shape)
    xv.need_grad = True
    return F.sum(F.tanh(net.outputs["y"])), [xv]


GRAPHS = {"mlp": mlp, "cnn_bn_train": cnn_bn(True), "cnn_bn_test": cnn_bn(False),
          "rnn": rnn, "dropout": dropout, "grad_penalty": grad_penalty, "nnp": nnp_graph}


def _nnjax_reference(loss, inputs):
    """nnjax's loss, parameter grads, input grads and parameters after the forward."""
    params = nn.get_parameters(grad_only=False)
    for v in list(params.values()) + inputs:
        v.grad.zero()
    loss.forward()
    loss.backward()
    return (float(loss.d), {k: np.array(v.g) for k, v in params.items() if v.need_grad},
            [np.array(v.g) for v in inputs], {k: np.array(v.d) for k, v in params.items()})


@pytest.mark.parametrize("name", list(GRAPHS))
def test_values_and_grads_equal_nnjax(name, rng, tmp_path):
    build = GRAPHS[name]
    loss, inputs = build(rng, tmp_path) if name == "nnp" else build(rng)
    fn, params = nn.to_jax(loss, inputs=inputs)
    before = {k: np.array(v) for k, v in params.items()}
    arrays = [np.array(v.d) for v in inputs]
    ref_loss, ref_grads, ref_input_grads, after = _nnjax_reference(loss, inputs)
    keys = None
    if fn.rng_functions:  # the keys nnjax's forward drew, one per stochastic function
        keys = np.stack([f.rng_key_data for f in fn.rng_functions])

    def f(p, *xs):
        return fn(p, *xs, rng=keys)

    float_args = tuple(i + 1 for i, a in enumerate(arrays) if a.dtype.kind == "f")
    (value, state), grads = jax.jit(jax.value_and_grad(
        f, argnums=(0,) + float_args, has_aux=True))(params, *arrays)
    np.testing.assert_allclose(float(value), ref_loss, rtol=1e-5)
    for k, g in ref_grads.items():
        np.testing.assert_allclose(np.asarray(grads[0][k]), g, rtol=1e-4, atol=1e-5,
                                   err_msg=k)
    for k, v in nn.get_parameters(grad_only=False).items():
        if not v.need_grad:  # no gradient, as in nnjax (BN statistics)
            assert not np.any(np.asarray(grads[0][k])), k
    for i, g in zip(float_args, grads[1:]):
        np.testing.assert_allclose(np.asarray(g), ref_input_grads[i - 1], rtol=1e-4, atol=1e-5)
    # in-place state: what nnjax's forward wrote into the running statistics
    if name == "cnn_bn_train":
        assert set(state) == {"bn/bn/mean", "bn/bn/var"}
        assert not np.allclose(after["bn/bn/mean"], before["bn/bn/mean"])
    for k, v in state.items():
        np.testing.assert_allclose(np.asarray(v), after[k], rtol=1e-5, atol=1e-6)
    if name != "cnn_bn_train":
        for k in state:
            np.testing.assert_array_equal(np.asarray(state[k]), before[k])


def test_dropout_needs_a_key_and_a_key_fixes_the_mask(rng):
    loss, (x,) = dropout(rng)
    fn, params = nn.to_jax(loss, inputs=[x])
    with pytest.raises(ValueError, match="Dropout.*rng="):
        fn(params, x.d)
    key = jax.random.key(3)
    a, _ = fn(params, x.d, rng=key)
    b, _ = fn(params, x.d, rng=key)
    c, _ = fn(params, x.d, rng=jax.random.key(4))
    assert float(a) == float(b) and float(a) != float(c)


def test_vmap_per_example_grads_equal_a_python_loop(rng):
    x = nn.Variable((1, 5))
    t = nn.Variable((1, 1))
    y = PF.affine(F.relu(PF.affine(x, 6, name="a")), 3, name="b")
    loss = F.mean(F.softmax_cross_entropy(y, t))
    fn, params = nn.to_jax(loss, inputs=[x, t])
    xs = rng.randn(7, 1, 5).astype(np.float32)
    ts = rng.randint(0, 3, (7, 1, 1)).astype(np.float32)
    per_example = jax.jit(jax.vmap(jax.grad(lambda p, a, b: fn(p, a, b)[0]),
                                   in_axes=(None, 0, 0)))(params, xs, ts)
    for i in range(7):
        x.d, t.d = xs[i], ts[i]
        loss.forward()
        for v in nn.get_parameters().values():
            v.grad.zero()
        loss.backward()
        for k, v in nn.get_parameters().items():
            np.testing.assert_allclose(np.asarray(per_example[k][i]), v.g, rtol=1e-5,
                                       atol=1e-6, err_msg=k)


def test_scan_training_equals_nnjax_solver_and_compiles_once(rng):
    x, t = nn.Variable((6, 4)), nn.Variable((6, 1))
    loss = F.mean(F.squared_error(PF.affine(F.tanh(PF.affine(x, 5, name="h")), 1,
                                            name="o"), t))
    xs = rng.randn(8, 6, 4).astype(np.float32)
    ts = rng.randn(8, 6, 1).astype(np.float32)
    fn, params = nn.to_jax(loss, inputs=[x, t])
    lr = 0.1
    traces = []

    def step(p, batch):
        traces.append(1)
        value, g = jax.value_and_grad(lambda q: fn(q, *batch)[0])(p)
        return jax.tree.map(lambda w, d: w - lr * d, p, g), value

    trained, losses = jax.jit(lambda p: jax.lax.scan(step, p, (xs, ts)))(params)
    solver = S.Sgd(lr)
    solver.set_parameters(nn.get_parameters())
    ref = []
    for i in range(8):
        x.d, t.d = xs[i], ts[i]
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        ref.append(float(loss.d))
    np.testing.assert_allclose(np.asarray(losses), ref, rtol=1e-5)
    for k, v in nn.get_parameters().items():
        np.testing.assert_allclose(np.asarray(trained[k]), v.d, rtol=1e-5, atol=1e-6)
    # a jitted step called in a loop traces (and compiles) once; nnjax's queue is untouched
    count = nn.compile_count()
    jstep = jax.jit(step)
    traces.clear()
    p = params
    for i in range(5):
        p, _ = jstep(p, (xs[i], ts[i]))
    assert len(traces) == 1 and jstep._cache_size() == 1
    assert nn.compile_count() == count


def test_export_and_sharding(rng):
    x = nn.Variable((4, 3, 5, 5))
    y = F.softmax(PF.affine(F.relu(PF.convolution(x, 2, (3, 3), name="c")), 3, name="f"))
    x.d = rng.randn(*x.shape)
    y.forward()
    ref = np.array(y.d)
    fn, params = nn.to_jax(y, inputs=[x])
    exported = jax.export.export(jax.jit(lambda p, a: fn(p, a)[0]))(
        params, jax.ShapeDtypeStruct(x.shape, jnp.float32))
    assert "stablehlo" in exported.mlir_module()
    restored = jax.export.deserialize(exported.serialize())
    np.testing.assert_allclose(np.asarray(restored.call(params, x.d)), ref, rtol=1e-5,
                               atol=1e-6)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    batch = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    sharded = jax.jit(lambda p, a: fn(p, a)[0], in_shardings=(replicated, batch))
    np.testing.assert_allclose(np.asarray(sharded(params, jax.device_put(x.d, batch))), ref,
                               rtol=1e-5, atol=1e-6)
    # data-parallel gradients with shard_map: each shard runs the graph (recorded with the
    # per-shard batch); the gradient of the mean loss over shards equals nnjax's backward
    loss = F.mean(y * y)
    fn_loss, params = nn.to_jax(loss, inputs=[x])
    P = jax.sharding.PartitionSpec
    dp_grad = jax.jit(jax.shard_map(
        lambda p, a: jax.grad(lambda q: jax.lax.pmean(fn_loss(q, a)[0], "data"))(p),
        mesh=mesh, in_specs=(P(), P("data")), out_specs=P()))
    grads = dp_grad(params, x.d)
    for v in nn.get_parameters().values():
        v.grad.zero()
    loss.forward()
    loss.backward()
    for k, v in nn.get_parameters().items():
        np.testing.assert_allclose(np.asarray(grads[k]), v.g, rtol=1e-5, atol=1e-7, err_msg=k)


def test_set_parameters_writes_the_scope(rng):
    loss, inputs = mlp(rng)
    fn, params = nn.to_jax(loss, inputs=inputs)
    new = {k: v * 0.5 + 0.1 for k, v in params.items()}
    expected = float(jax.jit(fn)(new, *[v.d for v in inputs])[0])
    nn.set_parameters(new)
    for k, v in nn.get_parameters().items():
        np.testing.assert_allclose(v.d, np.asarray(new[k]), rtol=1e-6)
    loss.forward()
    np.testing.assert_allclose(float(loss.d), expected, rtol=1e-6)
    # nested dicts name parameters by their joined keys; new names are created
    nn.set_parameters({"extra": {"w": np.ones((2, 2), np.float32)}})
    np.testing.assert_array_equal(nn.get_parameters()["extra/w"].d, np.ones((2, 2)))
    with pytest.raises(ValueError, match="l1/affine/W.*shape"):
        nn.set_parameters({"l1/affine/W": np.zeros((2, 2), np.float32)})


def test_bad_calls_name_the_problem(rng):
    loss, (x, t) = mlp(rng)
    fn, params = nn.to_jax(loss, inputs=[x, t])
    with pytest.raises(ValueError, match=r"input 0 has shape \(3, 6\).*\(4, 6\)"):
        fn(params, np.zeros((3, 6), np.float32), t.d)
    with pytest.raises(KeyError, match="l2/affine/b"):
        fn({k: v for k, v in params.items() if k != "l2/affine/b"}, x.d, t.d)
    with pytest.raises(TypeError, match="takes 2 input arrays"):
        fn(params, x.d)
    with pytest.raises(ValueError, match=r"inputs \[1\] are not leaves"):
        nn.to_jax(loss, inputs=[x, nn.Variable((2,))])


_TWO_DEVICE_SCRIPT = r"""
import numpy as np, jax
import nnabla as nn, nnabla.functions as F, nnabla.parametric_functions as PF
assert len(jax.devices()) == 2
rng = np.random.RandomState(0)
x = nn.Variable((3, 4))                      # recorded with the per-device batch
loss = F.mean(F.tanh(PF.affine(x, 2, name="fc")) ** 2)
fn, params = nn.to_jax(loss, inputs=[x])
mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
P = jax.sharding.PartitionSpec
grad = jax.jit(jax.shard_map(
    lambda p, a: jax.grad(lambda q: jax.lax.pmean(fn(q, a)[0], "data"))(p),
    mesh=mesh, in_specs=(P(), P("data")), out_specs=P()))
data = rng.randn(6, 4).astype(np.float32)
got = grad(params, data)
ref = {k: 0 for k in params}
for half in (data[:3], data[3:]):            # nnjax's backward, one shard at a time
    x.d = half
    for v in nn.get_parameters().values():
        v.grad.zero()
    loss.forward()
    loss.backward()
    for k, v in nn.get_parameters().items():
        ref[k] = ref[k] + v.g / 2
for k in params:
    np.testing.assert_allclose(np.asarray(got[k]), ref[k], rtol=1e-5, atol=1e-7)
print("ok")
"""


def test_shard_map_over_two_devices(tmp_path):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = tmp_path / "two_devices.py"
    script.write_text(_TWO_DEVICE_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_inputs_take_the_variables_dtype_and_keys_come_in_three_forms(rng):
    loss, (x,) = dropout(rng)
    fn, params = nn.to_jax(loss, inputs=[x])
    key = jax.random.key(5)
    a, _ = fn(params, x.d.astype(np.float64), rng=key)    # float64 in: computed as float32
    assert a.dtype == jnp.float32
    b, _ = fn(params, x.d, rng=jax.random.key_data(key))  # a raw (2,) uint32 key
    c, _ = fn(params, x.d, rng=jax.random.split(key, 1))  # one typed key per function
    d, _ = fn(params, x.d, rng=jax.random.key_data(jax.random.split(key, 1)))
    assert float(a) == float(b) and float(c) == float(d)
    with pytest.raises(ValueError, match="rng must be"):
        fn(params, x.d, rng=np.zeros((3,), np.uint32))
