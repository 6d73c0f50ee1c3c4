"""nnjax.from_jax: JAX functions as nodes of NNabla graphs (shapes, gradients, training,
one compiled program, export through to_jax, the .nnp refusal)."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.parameter import get_parameter_or_create
from nnabla.utils.save import save


def dense_tanh(x, w, b):
    return jnp.tanh(x @ w + b)


def split_stats(x):
    return jnp.mean(x, axis=1), jnp.argmax(x, axis=1)


def _params(rng):
    w = get_parameter_or_create("fc/W", (4, 3), rng.randn(4, 3).astype(np.float32))
    b = get_parameter_or_create("fc/b", (3,), rng.randn(3).astype(np.float32))
    return w, b


def test_values_shapes_and_grads_match_jax(rng):
    x = nn.Variable.from_numpy_array(rng.randn(5, 4).astype(np.float32), need_grad=True)
    w, b = _params(rng)
    y = nn.from_jax(dense_tanh)(x, w, b)
    assert y.shape == (5, 3) and y.parent.info.type_name == "dense_tanh"
    m, idx = nn.from_jax(split_stats)(y)
    assert m.shape == (5,) and idx.shape == (5,) and idx.data.dtype.kind == "i"
    loss = F.sum(m * m) + F.sum(y)
    loss.forward()
    for v in (x, w, b):
        v.grad.zero()
    loss.backward()

    def ref(xv, wv, bv):
        h = jnp.tanh(xv @ wv + bv)
        return jnp.sum(jnp.mean(h, axis=1) ** 2) + jnp.sum(h)

    value, grads = jax.value_and_grad(ref, argnums=(0, 1, 2))(x.d, w.d, b.d)
    np.testing.assert_allclose(float(loss.d), float(value), rtol=1e-6)
    np.testing.assert_array_equal(idx.d, np.argmax(np.tanh(x.d @ w.d + b.d), axis=1))
    for v, g in zip((x, w, b), grads):
        np.testing.assert_allclose(v.g, np.asarray(g), rtol=1e-5, atol=1e-6)


def test_trains_to_the_same_parameters_as_the_f_graph_and_compiles_once(rng):
    xs = rng.randn(6, 8, 4).astype(np.float32)
    ts = rng.randn(6, 8, 3).astype(np.float32)
    init = {k: rng.randn(*s).astype(np.float32) for k, s in (("W", (4, 3)), ("b", (3,)))}

    def train(use_jax):
        nn.clear_parameters()
        x, t = nn.Variable((8, 4)), nn.Variable((8, 3))
        w = get_parameter_or_create("fc/W", (4, 3), init["W"].copy())
        b = get_parameter_or_create("fc/b", (3,), init["b"].copy())
        y = nn.from_jax(dense_tanh)(x, w, b) if use_jax else F.tanh(F.affine(x, w, b))
        loss = F.mean(F.squared_error(y, t))
        solver = S.Adam(0.05)
        solver.set_parameters(nn.get_parameters())
        counts = []
        for i in range(6):
            x.d, t.d = xs[i], ts[i]
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.update()
            float(loss.d)
            counts.append(nn.compile_count())
        assert counts[-1] == counts[1], counts  # the loop compiled once
        # forward, backward and update ran as one program, the JAX node inside it
        assert nn.compile_stats().last_ops == ("forward", "backward", "update")
        return {k: np.array(v.d) for k, v in nn.get_parameters().items()}

    ref = train(False)
    got = train(True)
    assert not np.allclose(ref["fc/W"], init["W"])
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=1e-6)


def test_rebuilt_graph_reuses_the_node_and_its_program(rng):
    nn.set_auto_forward(True)
    x = nn.Variable.from_numpy_array(rng.randn(5, 4).astype(np.float32))
    w, b = _params(rng)
    counts = []
    for _ in range(4):
        y = nn.from_jax(dense_tanh)(x, w, b)
        counts.append(nn.compile_count())
    np.testing.assert_allclose(y.d, np.tanh(x.d @ w.d + b.d), rtol=1e-6)
    assert counts[-1] == counts[0]
    assert nn.from_jax(dense_tanh) is nn.from_jax(dense_tanh)


def test_graph_with_jax_node_exports_but_nnp_refuses(rng, tmp_path):
    x = nn.Variable.from_numpy_array(rng.randn(5, 4).astype(np.float32))
    w, b = _params(rng)
    y = PF.affine(nn.from_jax(dense_tanh)(x, w, b), 2, name="out")
    y.forward()
    fn, params = nn.to_jax(y, inputs=[x])
    exported = jax.export.export(jax.jit(lambda p, a: fn(p, a)[0]))(
        params, jax.ShapeDtypeStruct(x.shape, jnp.float32))
    np.testing.assert_allclose(np.asarray(exported.call(params, x.d)), y.d, rtol=1e-5)
    with pytest.raises(ValueError, match="dense_tanh"):
        save(str(tmp_path / "net.nnp"), {"networks": [
            {"name": "net", "batch_size": 5, "outputs": {"y": y}, "names": {"x": x}}]})
    assert not (tmp_path / "net.nnp").exists()


def test_second_order_grad_through_a_jax_node(rng):
    x = nn.Variable.from_numpy_array(rng.randn(3).astype(np.float32), need_grad=True)
    y = F.sum(nn.from_jax(lambda a: jnp.sin(a) * a, name="xsinx")(x))
    (gx,) = nn.grad([y], [x])
    gx.forward()
    xv = x.d
    np.testing.assert_allclose(gx.d, np.cos(xv) * xv + np.sin(xv), rtol=1e-5)


def test_bad_jax_functions_name_themselves(rng):
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match=r"matmul_bad.*\(2, 3\)"):
        nn.from_jax(lambda a: a @ jnp.ones((4, 4)), name="matmul_bad")(x)
    with pytest.raises(ValueError, match="dict_out.*tuple of arrays"):
        nn.from_jax(lambda a: {"y": a}, name="dict_out")(x)
    with pytest.raises(TypeError, match="callable"):
        nn.from_jax(3)


class _Cube(nn.function.PythonFunction):
    """x ** 3 in numpy, NNabla's custom-function way."""

    def setup_impl(self, inputs, outputs):
        outputs[0].reset_shape(inputs[0].shape, True)

    def forward_impl(self, inputs, outputs):
        outputs[0].d = inputs[0].d ** 3

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        g = 3 * inputs[0].d ** 2 * outputs[0].g
        if accum[0]:
            inputs[0].g += g
        else:
            inputs[0].g = g


def test_python_function_is_a_jax_function_node_and_goes_through_to_jax(rng):
    cube = _Cube()
    assert isinstance(cube, nn.function.JaxFunction)
    x = nn.Variable((1, 3), need_grad=True)
    w2 = get_parameter_or_create("w2", (3, 4), rng.randn(3, 4).astype(np.float32))
    loss = F.sum(F.affine(cube(x), w2))
    fn, params = nn.to_jax(loss, inputs=[x])
    xs = rng.randn(4, 1, 3).astype(np.float32)
    per_example = jax.jit(jax.vmap(jax.grad(lambda p, a: fn(p, a)[0]),
                                   in_axes=(None, 0)))(params, xs)
    for i in range(4):
        x.d = xs[i]
        w2.grad.zero()
        loss.forward()
        loss.backward()
        np.testing.assert_allclose(float(loss.d), float(jnp.sum((xs[i] ** 3) @ w2.d)),
                                   rtol=1e-5)
        np.testing.assert_allclose(np.asarray(per_example["w2"][i]), w2.g, rtol=1e-5)
        np.testing.assert_allclose(w2.g, np.repeat((xs[i] ** 3).T, 4, axis=1), rtol=1e-5)
