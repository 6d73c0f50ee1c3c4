"""Mixed precision: float16/bfloat16 compute with float32 master weights, loss
scaling, and NNabla's DynamicLossScalingUpdater."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.ext_utils import get_extension_context
from nnabla.experimental.mixed_precision_training import DynamicLossScalingUpdater

f32 = np.float32
pytestmark = pytest.mark.filterwarnings("ignore:nnjax. .*compiled")
RS = np.random.RandomState(0)
XS = RS.randn(12, 8, 3).astype(f32)
YS = RS.randn(12, 8, 2).astype(f32)


def _net(type_config, scope="net"):
    x = nn.Variable((8, 3))
    t = nn.Variable((8, 2))
    with nn.context_scope(get_extension_context("cpu", type_config=type_config)):
        with nn.parameter_scope(scope):
            h = F.tanh(PF.affine(x, 4, name="l1"))
            y = PF.affine(h, 2, name="l2")
        loss = F.mean(F.squared_error(y, t))
    return x, t, y, loss


def _copy_params(src_scope, dst_scope):
    with nn.parameter_scope(src_scope):
        src = nn.get_parameters()
    with nn.parameter_scope(dst_scope):
        dst = nn.get_parameters()
    for k in src:
        dst[k].d = src[k].d


def test_half_computes_in_float16_with_float32_parameters():
    x, t, y, loss = _net("half")
    x.d, t.d = XS[0], YS[0]
    loss.forward()
    assert y.d.dtype == np.float16 and loss.d.dtype == np.float16
    assert y.parent.info.type_name == "Affine" and y.parent.name == "Affine"
    names = []
    loss.visit(lambda f: names.append(f.info.type_name))
    assert names == ["Affine", "Tanh", "Affine", "SquaredError", "Mean"]
    loss.backward()
    for k, p in nn.get_parameters().items():
        assert p.d.dtype == np.float32 and p.g.dtype == np.float32, k
        assert np.all(np.isfinite(p.g)) and np.any(p.g != 0)


def test_half_generators_store_their_output_in_float16():
    with nn.context_scope(get_extension_context("cpu", type_config="half")):
        lin = F.linspace(-50, 50, 23)  # the middle point rounds to 0 in float16 only
        const = F.constant(0.1, (2, 3))
    lin.forward()
    const.forward()
    assert lin.d.dtype == np.float16
    np.testing.assert_array_equal(lin.d, np.linspace(-50, 50, 23).astype(np.float16))
    assert lin.d[11] == 0
    np.testing.assert_array_equal(const.d, np.full((2, 3), 0.1, np.float16))


def test_float_and_half_graphs_of_one_structure_stay_apart():
    xf, tf, yf, lf = _net("float", "f")
    xh, th, yh, lh = _net("half", "h")
    _copy_params("f", "h")
    for x, t in ((xf, tf), (xh, th)):
        x.d, t.d = XS[1], YS[1]
    lf.forward()
    lh.forward()
    assert yf.d.dtype == np.float32 and yh.d.dtype == np.float16
    np.testing.assert_allclose(yh.d.astype(f32), yf.d, rtol=2e-2, atol=2e-2)
    lf.forward()  # float again after the half program ran
    assert yf.d.dtype == np.float32


def test_half_training_tracks_float_training():
    xf, tf, _, lf = _net("float", "f")
    xh, th, _, lh = _net("half", "h")
    _copy_params("f", "h")
    sf, sh = S.Adam(0.01), S.Adam(0.01)
    with nn.parameter_scope("f"):
        sf.set_parameters(nn.get_parameters())
    with nn.parameter_scope("h"):
        sh.set_parameters(nn.get_parameters())
    counts = []
    for i in range(6):
        for x, t, loss, s, scale in ((xf, tf, lf, sf, 1.0), (xh, th, lh, sh, 8.0)):
            x.d, t.d = XS[i], YS[i]
            loss.forward()
            s.zero_grad()
            loss.backward(scale)
            s.scale_grad(1.0 / scale)
            s.update()
        counts.append(nn.compile_count())
    # the first step's update is still queued when counts[0] is read (lazy execution)
    assert counts[-1] == counts[1], counts
    with nn.parameter_scope("f"):
        pf = nn.get_parameters()
    with nn.parameter_scope("h"):
        ph = nn.get_parameters()
    for k in pf:
        assert ph[k].d.dtype == np.float32
        np.testing.assert_allclose(ph[k].d, pf[k].d, rtol=2e-2, atol=2e-3, err_msg=k)


def test_loss_scale_scales_gradients():
    x, t, _, loss = _net("half")
    x.d, t.d = XS[2], YS[2]
    params = nn.get_parameters()
    loss.forward()
    for p in params.values():
        p.g = 0
    loss.backward(1.0)
    g1 = {k: p.g.copy() for k, p in params.items()}
    for p in params.values():
        p.g = 0
    loss.backward(8.0)
    for k, p in params.items():
        np.testing.assert_allclose(p.g, 8 * g1[k], rtol=1e-3, atol=1e-6, err_msg=k)


def test_batch_norm_running_stats_stay_float32():
    x = nn.Variable.from_numpy_array(RS.randn(4, 3, 5, 5).astype(f32))
    with nn.context_scope(get_extension_context("cpu", type_config="half")):
        y = PF.batch_normalization(PF.convolution(x, 2, (3, 3)), batch_stat=True)
        z = F.mean(y)
    z.forward()
    z.backward()
    assert y.d.dtype == np.float16
    for k, p in nn.get_parameters(grad_only=False).items():
        assert p.d.dtype == np.float32, k
    mean = nn.get_parameters(grad_only=False)["bn/mean"].d
    assert np.any(mean != 0)


def test_bfloat16_forward():
    import jax.numpy as jnp
    xf, tf, yf, _ = _net("float", "f")
    xb, tb, yb, _ = _net("bfloat16", "b")
    _copy_params("f", "b")
    xf.d = XS[3]
    xb.d = XS[3]
    yf.forward()
    yb.forward()
    assert yb.data.dtype == jnp.bfloat16
    assert nn.get_parameters()["b/l1/affine/W"].d.dtype == np.float32
    np.testing.assert_allclose(np.asarray(yb.d, f32), yf.d, rtol=5e-2, atol=5e-2)


def test_bfloat16_backward_reaches_float32_parameters():
    x, t, _, loss = _net("bfloat16")
    x.d, t.d = XS[4], YS[4]
    loss.forward()
    loss.backward()
    for k, p in nn.get_parameters().items():
        assert p.g.dtype == np.float32 and np.any(p.g != 0), k


# ---------------------------------------------------------------- dynamic loss scaling
class Feeder:
    """Feeds batch i on the i-th call; ``poison`` maps a call index to an inf."""

    def __init__(self, x, t, poison=()):
        self.x, self.t, self.calls, self.poison = x, t, 0, set(poison)

    def __call__(self):
        xd = XS[self.calls % len(XS)].copy()
        if self.calls in self.poison:
            xd[0, 0] = np.inf
        self.x.d, self.t.d = xd, YS[self.calls % len(YS)]
        self.calls += 1


def test_inf_halves_the_scale_and_skips_the_update():
    x, t, _, loss = _net("half")
    params = nn.get_parameters()
    start = {k: v.d.copy() for k, v in params.items()}
    solver = S.Sgd(0.1)
    solver.set_parameters(params)
    feed = Feeder(x, t, poison={0})
    up = DynamicLossScalingUpdater(solver, loss, feed, scale=8.0, N=2)
    up.update()
    assert up.scale == 4.0 and feed.calls == 2
    assert all(st.t == 1 for st in solver.get_states().values())  # one update only
    # equals one plain step on batch 1 with loss scale 4
    got = {k: v.d.copy() for k, v in params.items()}
    for k, v in params.items():
        v.d = start[k]
    x.d, t.d = XS[1], YS[1]
    loss.forward()
    solver.zero_grad()
    loss.backward(4.0)
    solver.scale_grad(0.25)
    solver.update()
    for k, v in params.items():
        np.testing.assert_allclose(got[k], v.d, rtol=1e-6, atol=1e-7, err_msg=k)


def test_gives_up_after_max_retries_without_updating():
    x, t, _, loss = _net("half")
    params = nn.get_parameters()
    start = {k: v.d.copy() for k, v in params.items()}
    solver = S.Adam(0.1)
    solver.set_parameters(params)
    feed = Feeder(x, t, poison=range(100))
    up = DynamicLossScalingUpdater(solver, loss, feed, scale=8.0)
    up._max_recursive_count = 3
    up.update()
    assert feed.calls == 4 and up.scale == 0.5 and up._recursive_count == 0
    for k, v in params.items():
        np.testing.assert_array_equal(v.d, start[k])
    assert all(st.t == 0 for st in solver.get_states().values())


def test_scale_grows_after_n_good_steps_and_compiles_once():
    x, t, _, loss = _net("half")
    solver = S.Momentum(0.05)
    solver.set_parameters(nn.get_parameters())
    feed = Feeder(x, t, poison={3})
    up = DynamicLossScalingUpdater(solver, loss, feed, scale=16.0, scaling_factor=2.0, N=2,
                                   weight_decay=1e-4)
    scales, counts = [], []
    for _ in range(9):
        up.update()
        scales.append(up.scale)
        counts.append(nn.compile_count())
    # NNabla's counter: the scale grows on the update after more than N good ones
    assert scales == [16, 16, 16, 8, 8, 8, 16, 16, 16]
    # the first step's update is still queued when counts[0] is read (lazy execution)
    assert counts[-1] == counts[1], counts


def test_float16_overflow_is_caught_naturally():
    x, t, _, loss = _net("half")
    solver = S.Sgd(0.01)
    solver.set_parameters(nn.get_parameters())
    up = DynamicLossScalingUpdater(solver, loss, Feeder(x, t), scale=2.0 ** 17)
    up.update()  # 2^17 and 2^16 exceed float16's range: two halvings
    assert up.scale == 2.0 ** 15
    for p in nn.get_parameters().values():
        assert np.all(np.isfinite(p.d))


def test_half_on_cpu_sums_in_float32_and_rounds_once():
    """A bias gradient is a sum over the batch: under 'half' on the CPU it is the sum of
    the half-rounded terms, rounded to half once (not a float16 running sum)."""
    dy = RS.randn(4096).astype(f32) * 4
    b = nn.Variable.from_numpy_array(np.zeros(1, f32), need_grad=True)
    with nn.context_scope(get_extension_context("cpu", type_config="half")):
        y = F.broadcast(b, (4096,))
    y.forward()
    assert y.d.dtype == np.float16
    b.grad.zero()
    y.backward(dy)
    ref = np.float16(dy.astype(np.float16).astype(np.float64).sum())
    assert b.g[0] == ref, (b.g[0], ref)


def test_float32_and_float16_inputs_of_a_half_function_share_its_programs():
    """Under 'half' on the CPU a function rounds its float32 inputs to float16 first.
    Run on its own, it gets them rounded before its program, so float32 inputs and
    float16 copies of them (NNabla's half tests feed both) run one forward and one
    backward program; the grads of float32 inputs come back in float32."""
    from nnjax._queue import compile_count
    rs = np.random.RandomState(4)
    arrays = [rs.randn(3, 7), rs.randn(7, 5), rs.randn(5)]
    dy = rs.randn(3, 5).astype(f32)
    half = get_extension_context("cpu", type_config="half")

    def run(dtype):
        inputs = [nn.Variable.from_numpy_array(a.astype(dtype), need_grad=True) for a in arrays]
        with nn.context_scope(half):
            y = F.affine(*inputs)
        y.forward()
        for v in inputs:
            v.grad.zero()
        y.backward(dy)
        return y.d.copy(), [v.g.copy() for v in inputs]

    y32, grads32 = run(f32)
    compiled = compile_count()
    y16, grads16 = run(np.float16)
    assert compile_count() == compiled
    assert y32.dtype == y16.dtype == np.float16
    np.testing.assert_array_equal(y32, y16)
    for g32, g16 in zip(grads32, grads16):
        assert g32.dtype == f32
        np.testing.assert_array_equal(g32, g16.astype(f32))
    # against numpy on the float16-rounded values, summed in float64
    x, w, b = (a.astype(np.float16).astype(np.float64) for a in arrays)
    g = dy.astype(np.float16).astype(np.float64)
    np.testing.assert_allclose(y32, (x @ w + b).astype(np.float16), rtol=2e-3, atol=2e-3)
    for got, want in zip(grads32, (g @ w.T, x.T @ g, g.sum(0))):
        np.testing.assert_allclose(got, want.astype(np.float16), rtol=2e-3, atol=2e-3)
