"""flax bridges: an NNabla graph as an NNX module trained with nnx.Optimizer + optax, and
flax modules (NNX, Linen) inside NNabla graphs, each checked against the other side."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
import optax

nnx = pytest.importorskip("flax.nnx")
linen = pytest.importorskip("flax.linen")

import nnabla as nn  # noqa: E402
import nnabla.functions as F  # noqa: E402
import nnabla.parametric_functions as PF  # noqa: E402
import nnabla.solvers as S  # noqa: E402
from nnjax.interop.flax_bridge import NnablaModule, from_flax  # noqa: E402


def _cnn(x, test):
    h = PF.convolution(x, 3, (3, 3), name="c")
    h = PF.batch_normalization(h, batch_stat=not test, name="bn")
    return PF.affine(F.relu(h), 3, name="fc")


def _xent(logits, labels):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
        logits, labels[:, 0].astype(jnp.int32)))


def test_nnabla_graph_as_nnx_module_trains_like_nnjax(rng):
    x, t = nn.Variable((4, 2, 5, 5)), nn.Variable((4, 1))
    y, y_test = _cnn(x, False), _cnn(x, True)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    module = NnablaModule(y, [x], eval_outputs=y_test)
    assert isinstance(module.params["c/conv/W"], nnx.Param)
    assert isinstance(module.params["bn/bn/mean"], nnx.BatchStat)
    optimizer = nnx.Optimizer(module, optax.sgd(0.1), wrt=nnx.Param)
    traces = []

    @nnx.jit
    def step(model, opt, xb, tb):
        traces.append(1)
        value, grads = nnx.value_and_grad(lambda m: _xent(m(xb), tb))(model)
        opt.update(model, grads)
        return value

    xs = rng.randn(4, 4, 2, 5, 5).astype(np.float32)
    ts = rng.randint(0, 3, (4, 4, 1)).astype(np.float32)
    losses = [float(step(module, optimizer, xs[i], ts[i])) for i in range(4)]
    assert len(traces) == 1  # one trace (one compile) for the loop
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    ref = []
    for i in range(4):
        x.d, t.d = xs[i], ts[i]
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        ref.append(float(loss.d))
    np.testing.assert_allclose(losses, ref, rtol=1e-5)
    values = module.parameter_values()
    for k, v in nn.get_parameters(grad_only=False).items():  # BN statistics included
        np.testing.assert_allclose(np.asarray(values[k]), v.d, rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    # eval mode runs the test-mode graph with the running statistics
    module.eval()
    x.d = xs[0]
    y_test.forward()
    np.testing.assert_allclose(np.asarray(module(xs[0])), y_test.d, rtol=1e-5, atol=1e-6)
    # round trip: the module's values written back are the scope's values exactly
    nn.clear_parameters()
    nn.set_parameters(values)
    for k, v in nn.get_parameters(grad_only=False).items():
        np.testing.assert_array_equal(v.d, np.asarray(values[k]))


class _Mlp(nnx.Module):
    def __init__(self, rngs):
        self.a = nnx.Linear(4, 6, rngs=rngs)
        self.b = nnx.Linear(6, 2, rngs=rngs)

    def __call__(self, x):
        return self.b(jnp.tanh(self.a(x)))


def test_nnx_module_inside_nnabla_graph_trains_like_flax(rng):
    module = _Mlp(nnx.Rngs(0))
    layer = from_flax(module, "mlp")
    names = sorted(nn.get_parameters())
    assert names == ["mlp/a/bias", "mlp/a/kernel", "mlp/b/bias", "mlp/b/kernel"]
    xs = rng.randn(5, 8, 4).astype(np.float32)
    ts = rng.randn(5, 8, 2).astype(np.float32)
    # flax + optax reference, from the same initial values
    graphdef, params = nnx.split(_Mlp(nnx.Rngs(0)), nnx.Param)
    opt = optax.sgd(0.05)
    opt_state = opt.init(params)

    def flax_loss(p, xb, tb):
        return jnp.mean((nnx.merge(graphdef, p)(xb) - tb) ** 2)

    @jax.jit
    def flax_step(p, s, xb, tb):
        updates, s = opt.update(jax.grad(flax_loss)(p, xb, tb), s)
        return optax.apply_updates(p, updates), s

    for i in range(5):
        params, opt_state = flax_step(params, opt_state, xs[i], ts[i])
    # the NNabla graph: PF affine on top would change the model, so the loss is F only
    x, t = nn.Variable((8, 4)), nn.Variable((8, 2))
    loss = F.mean(F.squared_error(layer(x), t))
    solver = S.Sgd(0.05)
    solver.set_parameters(nn.get_parameters())
    counts = []
    for i in range(5):
        x.d, t.d = xs[i], ts[i]
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        float(loss.d)
        counts.append(nn.compile_count())
    assert counts[-1] == counts[1]
    trained = layer.updated_module()
    assert trained is module
    expected = nnx.to_pure_dict(nnx.state(nnx.merge(graphdef, params), nnx.Param))
    got = nnx.to_pure_dict(nnx.state(trained, nnx.Param))
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # round trip: the scope and the module hold identical values
    scope = nn.get_parameters()
    np.testing.assert_array_equal(scope["mlp/a/kernel"].d, np.asarray(trained.a.kernel[...]))


def test_linen_module_inside_nnabla_graph(rng):
    dense = linen.Dense(3)
    xv = rng.randn(4, 5).astype(np.float32)
    variables = dense.init(jax.random.key(1), xv)
    with nn.parameter_scope("outer"):
        layer = from_flax(dense, "dense", variables)
        x = nn.Variable.from_numpy_array(xv, need_grad=True)
        y = F.sum(F.sin(layer(x)))
    assert sorted(nn.get_parameters()) == ["outer/dense/bias", "outer/dense/kernel"]
    y.forward()
    params = nn.get_parameters()
    for v in list(params.values()) + [x]:
        v.grad.zero()
    y.backward()

    def ref(p, a):
        return jnp.sum(jnp.sin(dense.apply({"params": p}, a)))

    value, (gp, gx) = jax.value_and_grad(ref, argnums=(0, 1))(variables["params"], xv)
    np.testing.assert_allclose(float(y.d), float(value), rtol=1e-5)
    np.testing.assert_allclose(x.g, np.asarray(gx), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(params["outer/dense/kernel"].g, np.asarray(gp["kernel"]),
                               rtol=1e-5, atol=1e-6)
    # values written into the scope come back in variables()
    params["outer/dense/bias"].d = np.arange(3, dtype=np.float32)
    with nn.parameter_scope("outer"):
        back = layer.variables()
    np.testing.assert_array_equal(np.asarray(back["params"]["bias"]), np.arange(3))


def test_from_flax_refuses_what_it_cannot_use():
    with pytest.raises(ValueError, match="Linen module Dense needs its variables"):
        from_flax(linen.Dense(3), "d")
    with pytest.raises(TypeError, match="flax nnx.Module or linen.Module"):
        from_flax(lambda x: x, "f")
    with pytest.raises(ValueError, match="name"):
        from_flax(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), "")


def test_orbax_checkpoints_cross_over(rng, tmp_path):
    import orbax.checkpoint as ocp
    from nnjax.checkpoint import load_checkpoint, save_checkpoint
    x = nn.Variable((2, 2, 5, 5))
    y = _cnn(x, False)
    module = NnablaModule(y, [x])
    saved = {k: rng.randn(*np.shape(v)).astype(np.float32)
             for k, v in module.parameter_values().items()}
    for k, v in saved.items():
        module.params[k][...] = jnp.asarray(v)
    # an NNX checkpoint (orbax) restores into the parameter scope
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "nnx", nnx.to_pure_dict(nnx.state(module)))
    checkpointer.wait_until_finished()
    restored = checkpointer.restore(tmp_path / "nnx")
    nn.clear_parameters()
    nn.set_parameters(restored["params"])
    scope = nn.get_parameters(grad_only=False)
    assert set(scope) == set(saved)
    for k, v in saved.items():
        np.testing.assert_array_equal(scope[k].d, v)
    # an nnjax checkpoint restores into the module
    for v in scope.values():
        v.d = v.d * 2 + 1
    save_checkpoint(tmp_path / "nnjax", None, 3)
    nn.clear_parameters()
    load_checkpoint(tmp_path / "nnjax", None)
    module.read_parameters()
    for k, v in saved.items():
        np.testing.assert_array_equal(np.asarray(module.params[k][...]), v * 2 + 1)


def test_stochastic_graph_draws_from_the_dropout_stream(rng):
    x = nn.Variable.from_numpy_array(rng.randn(4, 6).astype(np.float32))
    y = F.dropout(PF.affine(x, 6, name="fc"), p=0.5)
    fn, params = nn.to_jax(y, inputs=[x])
    module = NnablaModule(y, [x], rngs=nnx.Rngs(dropout=3))
    first, second = module(x.d), module(x.d)
    stream = nnx.Rngs(dropout=3)
    np.testing.assert_array_equal(np.asarray(first),
                                  np.asarray(fn(params, x.d, rng=stream.dropout())[0]))
    np.testing.assert_array_equal(np.asarray(second),
                                  np.asarray(fn(params, x.d, rng=stream.dropout())[0]))
    assert not np.array_equal(np.asarray(first), np.asarray(second))
