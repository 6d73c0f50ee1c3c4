"""graph_converters.jax_inference_function: the rewrites on the lowered JAX function
give the outputs of the Variable-level conversions."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.experimental.graph_converters as GC
from test_graph_converters import small_resnet, randomize_bn_stats, forward


@pytest.fixture
def resnet(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 8, 8).astype(np.float32))
    y = small_resnet(x)
    randomize_bn_stats(rng)
    return x, y


def run(fn, params, x):
    return np.asarray(jax.jit(fn)(params, jnp.asarray(x.d, jnp.float32)))


def test_folding_matches_variable_level(resnet):
    x, y = resnet
    fn, params = GC.jax_inference_function(y, [x])
    assert fn.folded_batch_norms == 3
    folded = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    np.testing.assert_allclose(run(fn, params, x), forward(folded), rtol=1e-5, atol=1e-5)
    unfolded, _ = GC.jax_inference_function(y, [x], fold_batch_norm=False)
    assert unfolded.folded_batch_norms == 0
    np.testing.assert_allclose(run(unfolded, params, x), forward(y), rtol=1e-5, atol=1e-6)


def test_folding_follows_the_params_passed_in(resnet):
    x, y = resnet
    fn, params = GC.jax_inference_function(y, [x])
    mean = np.asarray(params["cb0/bn/mean"]) + 0.3
    nn.get_parameters(grad_only=False)["cb0/bn/mean"].d = mean
    params = dict(params, **{"cb0/bn/mean": jnp.asarray(mean)})
    np.testing.assert_allclose(run(fn, params, x), forward(y), rtol=1e-5, atol=1e-5)


def test_channel_last_matches_variable_level(resnet):
    x, y = resnet
    fn, params = GC.jax_inference_function(y, [x], fold_batch_norm=False, channel_last=True)
    last = GC.GraphConverter([GC.ChannelLastModifier([x])]).convert(y)
    np.testing.assert_allclose(run(fn, params, x), forward(last), rtol=1e-5, atol=1e-5)
    text = str(jax.make_jaxpr(fn)(params, jnp.asarray(x.d)))
    assert "lhs_spec=(0, 3, 1, 2)" in text and "lhs_spec=(0, 1, 2, 3)" not in text


def test_reduced_precision(resnet):
    x, y = resnet
    ref = forward(y)
    fn, params = GC.jax_inference_function(y, [x], compute_dtype=jnp.bfloat16)
    out = jax.jit(fn)(params, jnp.asarray(x.d))
    assert out.dtype == jnp.float32
    err = np.abs(np.asarray(out) - ref).max()
    assert 0 < err < 3e-2 * np.abs(ref).max()
    jaxpr = str(jax.make_jaxpr(fn)(params, jnp.asarray(x.d)))
    assert "bf16" in jaxpr


def test_several_outputs_and_export(rng):
    xa = nn.Variable.from_numpy_array(rng.randn(2, 4).astype(np.float32))
    xb = nn.Variable.from_numpy_array(rng.randn(2, 4).astype(np.float32))
    a = PF.affine(xa, 3, name="fa")
    h = PF.batch_normalization(a, batch_stat=False, name="bn")
    randomize_bn_stats(rng)
    outs = [F.relu(h), F.sigmoid(a) * F.sum(xb, axis=1, keepdims=True)]
    fn, params = GC.jax_inference_function(outs, [xa, xb])
    assert fn.folded_batch_norms == 0  # the affine's output feeds two functions: kept
    exported = jax.export.export(jax.jit(fn))(
        params, jax.ShapeDtypeStruct((2, 4), jnp.float32), jax.ShapeDtypeStruct((2, 4), jnp.float32))
    assert "stablehlo" in exported.mlir_module()
    got = exported.call(params, jnp.asarray(xa.d), jnp.asarray(xb.d))
    for g, o in zip(got, outs):
        np.testing.assert_allclose(np.asarray(g), forward(o), rtol=1e-5, atol=1e-6)


def test_bad_input(rng):
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match="random"):
        GC.jax_inference_function(F.dropout(x, 0.5), [x])
    with pytest.raises(ValueError, match="compute_dtype"):
        GC.jax_inference_function(F.relu(x), [x], compute_dtype=jnp.int8)
    fn, params = GC.jax_inference_function(F.relu(x), [x])
    with pytest.raises(TypeError, match="takes 1 input"):
        fn(params)
    with pytest.raises(TypeError, match="nn.Variable"):
        GC.jax_inference_function([np.zeros(3)], [x])
