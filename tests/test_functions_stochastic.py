"""Stochastic functions: statistics, seeds, fresh draws per forward, masks reused in
backward; TopKData / TopKGrad; the random augmentation functions."""
import math

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_grad

f32 = np.float32


def _var(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a, f32), need_grad=need_grad)


# ---------------------------------------------------------------- Dropout
def test_dropout_statistics_and_scaling(rng):
    x = _var(rng.rand(100, 100) + 1.0)
    y = F.dropout(x, p=0.3)
    y.forward()
    dropped = np.mean(y.d == 0)
    assert abs(dropped - 0.3) < 0.02
    kept = y.d != 0
    np.testing.assert_allclose(y.d[kept], x.d[kept] / 0.7, rtol=1e-6)
    assert y.parent.info.type_name == "Dropout"
    assert y.parent.info.args == dict(p=0.3, seed=-1)


def test_dropout_fresh_draws_and_seeds():
    x = _var(np.ones((64, 64)))
    y = F.dropout(x, 0.5)
    y.forward()
    first = y.d.copy()
    y.forward()
    assert not np.array_equal(first, y.d)  # a static graph draws anew each forward
    # nn.seed makes seed=-1 reproducible
    nn.seed(7)
    a = F.dropout(x, 0.5)
    a.forward()
    nn.seed(7)
    b = F.dropout(x, 0.5)
    b.forward()
    np.testing.assert_array_equal(a.d, b.d)
    # a given seed makes two nodes draw the same sequence, independent of nn.seed
    c, d = F.dropout(x, 0.5, seed=42), F.dropout(x, 0.5, seed=42)
    nn.seed(1)
    c.forward()
    nn.seed(2)
    d.forward()
    np.testing.assert_array_equal(c.d, d.d)
    c.forward()
    d.forward()
    np.testing.assert_array_equal(c.d, d.d)


def test_dropout_mask_reused_in_backward(rng):
    x = _var(rng.randn(8, 16), need_grad=True)
    y = F.dropout(x, 0.4)
    loss = F.sum(y * y)
    loss.forward()
    x.g = 0
    loss.backward()
    mask = (y.d != 0).astype(f32)
    np.testing.assert_allclose(x.g, 2 * y.d * mask / 0.6, rtol=1e-5)
    # backward does not draw a new mask (the forward's key is reused)
    loss.backward()
    np.testing.assert_allclose(x.g, 4 * y.d * mask / 0.6, rtol=1e-5)


def test_dropout_output_mask(rng):
    x = _var(rng.randn(10, 10))
    y, m = F.dropout(x, 0.5, output_mask=True)
    assert m.parent is y.parent and len(y.parent.outputs) == 2
    y.forward()
    np.testing.assert_allclose(y.d, x.d * m.d * 2.0, rtol=1e-6)
    assert set(np.unique(m.d)) <= {0.0, 1.0}
    z = F.dropout(x, 0.5)  # the one-output variant still works after the two-output one
    assert z.shape == (10, 10) and len(z.parent.outputs) == 1


def test_dropout_p0_and_errors():
    x = _var(np.arange(6.0))
    y = F.dropout(x, 0.0)
    y.forward()
    np.testing.assert_array_equal(y.d, x.d)
    with pytest.raises(ValueError, match="dropout"):
        F.dropout(x, 1.0)
    with pytest.raises(TypeError, match="dropout"):
        F.dropout(x, 0.5, seed=1.5)


# ---------------------------------------------------------------- TopKData / TopKGrad
def test_top_k_data_forward_backward(rng):
    x = rng.randn(3, 2, 5).astype(f32)
    v = _var(x, need_grad=True)
    y = F.top_k_data(v, 3)
    assert y.shape == (3, 3)
    y.forward()
    flat = x.reshape(3, -1)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :3]
    np.testing.assert_allclose(y.d, np.take_along_axis(flat, order, 1))
    g = rng.randn(3, 3).astype(f32)
    v.g = 0
    y.backward(g)
    expected = np.zeros_like(flat)
    np.put_along_axis(expected, order, g, 1)
    np.testing.assert_allclose(v.g.reshape(3, -1), expected)
    assert y.parent.info.type_name == "TopKData"
    assert y.parent.info.args == dict(k=3, abs=False, reduce=True, base_axis=1, largest=True,
                                      with_index=False)


def test_top_k_data_unreduced_abs(rng):
    x = rng.randn(2, 3, 4).astype(f32)
    v = _var(x, need_grad=True)
    y = F.top_k_data(v, 2, abs=True, reduce=False, base_axis=2)
    y.forward()
    flat = x.reshape(6, 4)
    keep = np.zeros_like(flat, bool)
    np.put_along_axis(keep, np.argsort(-np.abs(flat), 1)[:, :2], True, 1)
    np.testing.assert_allclose(y.d.reshape(6, 4), np.where(keep, flat, 0))
    g = rng.randn(*x.shape).astype(f32)
    v.g = 0
    y.backward(g)
    np.testing.assert_allclose(v.g, g)  # NNabla passes every gradient when reduce=False


def test_top_k_grad(rng):
    x = rng.randn(2, 6).astype(f32)
    v = _var(x, need_grad=True)
    y = F.top_k_grad(v, 2, abs=True)
    y.forward()
    np.testing.assert_array_equal(y.d, x)
    g = rng.randn(2, 6).astype(f32)
    v.g = 0
    y.backward(g)
    keep = np.zeros_like(g, bool)
    np.put_along_axis(keep, np.argsort(-np.abs(g), 1)[:, :2], True, 1)
    np.testing.assert_allclose(v.g, np.where(keep, g, 0))
    assert y.parent.info.args == dict(k=2, abs=True, base_axis=1)


def test_top_k_errors():
    with pytest.raises(ValueError, match="top_k_data"):
        F.top_k_data(nn.Variable((2, 3)), 4)
    with pytest.raises(ValueError, match="top_k_grad"):
        F.top_k_grad(nn.Variable((2, 3)), 0)


# ---------------------------------------------------------------- random generators
@pytest.mark.parametrize("fn, kw, mean, var, dtype", [
    (F.rand, dict(low=-1, high=3), 1.0, 16 / 12, np.float32),
    (F.randint, dict(low=2, high=7), 4.0, (25 - 1) / 12, np.int32),
    (F.randn, dict(mu=1.5, sigma=2), 1.5, 4.0, np.float32),
    (F.rand_binomial, dict(n=6, p=0.3), 1.8, 6 * 0.3 * 0.7, np.float32),
    (F.rand_beta, dict(alpha=2, beta=3), 0.4, 6 / (25 * 6), np.float32),
    (F.rand_gamma, dict(k=2, theta=1.5), 3.0, 2 * 1.5 ** 2, np.float32)])
def test_random_generators(fn, kw, mean, var, dtype):
    y = fn(shape=(200, 100), **kw)
    y.forward()
    assert y.shape == (200, 100) and y.d.dtype == dtype
    assert abs(y.d.mean() - mean) < 0.05 * max(1.0, abs(mean))
    assert abs(y.d.var() - var) < 0.08 * max(var, 0.05)
    first = y.d.copy()
    y.forward()
    assert not np.array_equal(first, y.d)
    assert y.parent.info.args["seed"] == -1 and y.parent.info.args["shape"] == [200, 100]


@pytest.mark.parametrize("fn, kw, cdf", [
    # closed-form CDFs: Gamma(1, theta) is exponential, Gamma(1/2, 1) is Z^2 / 2,
    # Beta(1/2, 1/2) is the arcsine law, Beta(a, 1) has CDF x^a
    (F.rand_gamma, dict(k=1, theta=2), lambda x: 1 - np.exp(-x / 2)),
    (F.rand_gamma, dict(k=0.5, theta=1), lambda x: np.vectorize(math.erf)(np.sqrt(x))),
    (F.rand_beta, dict(alpha=0.5, beta=0.5), lambda x: 2 / np.pi * np.arcsin(np.sqrt(x))),
    (F.rand_beta, dict(alpha=5, beta=1), lambda x: x ** 5)])
def test_gamma_and_beta_match_their_distributions(fn, kw, cdf):
    y = fn(shape=(400, 250), **kw)
    y.forward()
    d = np.sort(y.d.ravel().astype(np.float64))
    assert np.all(np.isfinite(d)) and d[0] >= 0
    empirical = np.arange(1, d.size + 1) / d.size
    # Kolmogorov-Smirnov distance; 0.006 is far beyond its 1e-6 quantile at n = 1e5
    assert np.max(np.abs(empirical - cdf(d))) < 0.006


def test_random_generator_seed():
    a, b = F.rand(shape=(5,), seed=3), F.rand(shape=(5,), seed=3)
    a.forward()
    b.forward()
    np.testing.assert_array_equal(a.d, b.d)
    assert a.parent.info.args == dict(low=0.0, high=1.0, shape=[5], seed=3)
    nn.seed(5)
    c = F.randn(shape=(5,))
    c.forward()
    nn.seed(5)
    d = F.randn(shape=(5,))
    d.forward()
    np.testing.assert_array_equal(c.d, d.d)


def test_randint_range_and_errors():
    y = F.randint(-2, 3, shape=(1000,))
    y.forward()
    assert y.d.min() == -2 and y.d.max() == 2
    assert y.parent.info.type_name == "Randint"
    with pytest.raises(ValueError, match="randint"):
        F.randint(3, 3)
    with pytest.raises(ValueError, match="rand_beta"):
        F.rand_beta(0, 1)
    with pytest.raises(ValueError, match="rand"):
        F.rand(1, 0)
    assert F.rand().shape == ()


# ---------------------------------------------------------------- RandomChoice
def test_random_choice_with_replacement(rng):
    x = _var([[11, 22, 33], [110, 220, 330]])
    w = _var([[10, 20, 70], [70, 20, 10]])
    y = F.random_choice(x, w, shape=(50, 40))
    assert y.shape == (2, 50, 40)
    y.forward()
    for row, weights in zip(range(2), ([.1, .2, .7], [.7, .2, .1])):
        freq = [np.mean(y.d[row] == v) for v in x.d[row]]
        np.testing.assert_allclose(freq, weights, atol=0.03)
    assert F.random_choice(x, w).shape == (2, 1)
    assert y.parent.info.args == dict(shape=[50, 40], replace=True, seed=-1)


def test_random_choice_with_replacement_never_draws_zero_weights():
    # zero weights first, inside and last: the last entry of positive weight bounds every draw
    x = _var([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    w = _var([[0, 3, 0, 1, 0], [1, 0, 0, 0, 0]])
    y = F.random_choice(x, w, shape=(20000,))
    y.forward()
    np.testing.assert_array_equal(np.unique(y.d[0]), [1, 3])
    np.testing.assert_allclose(np.mean(y.d[0] == 1), 0.75, atol=0.015)
    np.testing.assert_array_equal(np.unique(y.d[1]), [5])


def test_random_choice_without_replacement_and_grad(rng):
    x = _var(rng.randn(3, 5), need_grad=True)
    w = _var([[1, 1, 0, 1, 1]] * 3, need_grad=True)
    y = F.random_choice(x, w, shape=(4,), replace=False)
    y.forward()
    for r in range(3):
        picked = [int(np.where(x.d[r] == v)[0][0]) for v in y.d[r]]
        assert len(set(picked)) == 4 and 2 not in picked
    x.g = 0
    w.g = 0
    y.backward(np.ones((3, 4), f32))
    # the gradient goes to the chosen entries of both x and w
    np.testing.assert_allclose(x.g, np.where(np.arange(5) == 2, 0, 1) * np.ones((3, 1)))
    np.testing.assert_allclose(w.g, x.g)
    with pytest.raises(ValueError, match="random_choice"):
        F.random_choice(x, w, shape=(6,), replace=False)
    with pytest.raises(ValueError, match="random_choice"):
        F.random_choice(x, _var(np.ones((3, 4))))


# ---------------------------------------------------------------- RandomCrop / Flip / Shift
def test_random_crop(rng):
    x = rng.randn(6, 2, 5, 7).astype(f32)
    v = _var(x, need_grad=True)
    y = F.random_crop(v, (2, 3, 4))
    assert y.shape == (6, 2, 3, 4)
    y.forward()
    offsets = set()
    for n in range(6):
        found = [(i, j) for i in range(3) for j in range(4)
                 if np.array_equal(x[n, :, i:i + 3, j:j + 4], y.d[n])]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 1  # per-sample offsets
    v.g = 0
    y.backward(np.ones(y.shape, f32))
    assert v.g.sum() == y.size and set(np.unique(v.g)) <= {0.0, 1.0}
    assert y.parent.info.args == dict(shape=[2, 3, 4], base_axis=1, seed=-1)
    with pytest.raises(ValueError, match="random_crop"):
        F.random_crop(v, (2, 6, 4))


def test_random_flip(rng):
    x = rng.randn(16, 3, 4).astype(f32)
    y = F.random_flip(_var(x), axes=(1, 2))
    y.forward()
    seen = set()
    for n in range(16):
        cands = {(a, b): x[n][::(-1 if a else 1), ::(-1 if b else 1)]
                 for a in (0, 1) for b in (0, 1)}
        match = [k for k, c in cands.items() if np.array_equal(c, y.d[n])]
        assert match
        seen.add(match[0])
    assert len(seen) > 1
    assert y.parent.info.args == dict(axes=[1, 2], base_axis=1, seed=-1)
    assert F.random_flip(_var(x)).parent.info.args["axes"] == [2]
    with pytest.raises(ValueError, match="random_flip"):
        F.random_flip(_var(x), axes=(3,))


def _shift_np(a, s, mode, value=0.0):
    n = a.shape[0]
    out = np.empty_like(a)
    for i in range(n):
        src = i - s
        if mode == "nearest":
            out[i] = a[min(max(src, 0), n - 1)]
        elif mode == "reflect":
            k = abs(src + 2 * n) % (2 * n)
            out[i] = a[2 * n - 1 - k if k >= n else k]
        else:
            out[i] = a[src] if 0 <= src < n else value
    return out


@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant"])
def test_random_shift(rng, mode):
    x = rng.randn(12, 6).astype(f32)
    y = F.random_shift(_var(x), shifts=(2,), border_mode=mode, constant_value=-9)
    y.forward()
    seen = set()
    for n in range(12):
        match = [s for s in range(-2, 3) if np.array_equal(_shift_np(x[n], s, mode, -9), y.d[n])]
        assert match
        seen.add(match[0])
    assert len(seen) > 1
    assert y.parent.info.args == dict(shifts=[2], border_mode=mode, constant_value=-9.0,
                                      base_axis=1, seed=-1)
    check = F.random_shift(_var(x, need_grad=True), shifts=(1,), border_mode=mode, seed=5)
    check.forward()


def test_random_shift_errors():
    with pytest.raises(ValueError, match="random_shift"):
        F.random_shift(nn.Variable((2, 3)), (1, 1), border_mode="wrap")
    with pytest.raises(ValueError, match="random_shift"):
        F.random_shift(nn.Variable((2, 3)), (1, 1), base_axis=2)


def test_random_shift_negative_base_axis_and_sample_axis_shifts(rng):
    # base_axis=-1 on (3, 4, 6): 12 samples of 6 values; the shift asked for axis 1
    # (a sample axis) is ignored, the one for the last axis applies per sample
    x = rng.randn(3, 4, 6).astype(f32)
    y = F.random_shift(_var(x), shifts=(0, 2, 1), border_mode="nearest", base_axis=-1, seed=4)
    y.forward()
    for i, j in np.ndindex(3, 4):
        assert any(np.array_equal(_shift_np(x[i, j], s, "nearest", 0), y.d[i, j])
                   for s in (-1, 0, 1))


# ---------------------------------------------------------------- RandomErase
def test_random_erase(rng):
    x = rng.rand(4, 2, 8, 8).astype(f32) - 5.0  # below the replacement range
    v = _var(x, need_grad=True)
    y = F.random_erase(v, prob=1.0, area_ratios=(0.1, 0.3), replacements=(1.0, 2.0))
    y.forward()
    erased = y.d != x
    assert erased.any()
    assert np.all((y.d[erased] >= 1.0) & (y.d[erased] <= 2.0))
    for n in range(4):  # share=True: the same rectangle in every channel
        np.testing.assert_array_equal(erased[n, 0], erased[n, 1])
        rows, cols = np.where(erased[n, 0])
        assert erased[n, 0][rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    v.g = 0
    y.backward(np.ones(x.shape, f32))
    np.testing.assert_array_equal(v.g, (~erased).astype(f32))  # fine-grained STE
    assert y.parent.info.type_name == "RandomErase"
    assert y.parent.info.args["replacements"] == [1.0, 2.0] and y.parent.info.args["n"] == 1
    with pytest.raises(ValueError, match="random_erase"):
        F.random_erase(nn.Variable((2, 8, 8)))


def test_random_erase_channel_last_coarse_ste(rng):
    x = rng.rand(3, 6, 6, 2).astype(f32) - 5.0
    v = _var(x, need_grad=True)
    y = F.random_erase(v, prob=1.0, channel_last=True, share=False, n=2,
                       replacements=(1.0, 2.0), ste_fine_grained=False)
    y.forward()
    erased = y.d != x
    assert erased.any() and np.all((y.d[erased] >= 1.0) & (y.d[erased] <= 2.0))
    assert not np.array_equal(erased[..., 0], erased[..., 1])  # one rectangle per channel
    v.g = 0
    y.backward(np.ones(x.shape, f32))
    np.testing.assert_array_equal(v.g, np.ones_like(x))  # coarse STE: every gradient passes


# ---------------------------------------------------------------- ImageAugmentation
def test_image_augmentation(rng):
    x = rng.randn(3, 2, 6, 8).astype(f32)
    v = _var(x, need_grad=True)
    y = F.image_augmentation(v)
    y.forward()
    np.testing.assert_allclose(y.d, x, atol=1e-5)  # defaults: identity
    # flips and per-channel brightness offsets in one node
    both = F.image_augmentation(_var(x), flip_lr=True, brightness=0.5, brightness_each=True)
    both.forward()
    flips = set()
    for n in range(3):
        for flipped, src in ((False, x[n]), (True, x[n][:, :, ::-1])):
            delta = both.d[n] - src
            if np.allclose(delta, delta[:, :1, :1], atol=1e-5):  # constant per channel
                assert np.all(np.abs(delta) <= 0.5 + 1e-5)
                flips.add(flipped)
                break
        else:
            raise AssertionError(f"image {n} is neither x nor its flip plus an offset")
    crop = F.image_augmentation(_var(x), shape=(2, 4, 5), angle=0.3, min_scale=0.8,
                                max_scale=1.2, aspect_ratio=1.2, distortion=0.1,
                                brightness=0.1, contrast=1.2, noise=0.05)
    crop.forward()
    assert crop.shape == (3, 2, 4, 5) and np.isfinite(crop.d).all()
    v.g = 0
    y.backward(np.ones(y.shape, f32))
    np.testing.assert_array_equal(v.g, 0)  # no gradient, as in NNabla
    assert y.parent.info.type_name == "ImageAugmentation"
    assert y.parent.info.args["shape"] == [3, 2, 6, 8] and y.parent.info.args["pad"] == [0, 0]
    with pytest.raises(ValueError, match="image_augmentation"):
        F.image_augmentation(_var(x), shape=(3, 4, 5))


def test_stochastic_in_auto_forward():
    with nn.auto_forward():
        a = F.rand(shape=(4,))
        b = F.rand(shape=(4,))
    assert not np.array_equal(a.d, b.d)


def test_dropout_grad_check(rng):
    check_grad(lambda x: F.dropout(x, 0.25, seed=11), [rng.randn(2, 5)])


def test_top_k_data_smallest_and_with_index():
    xv = np.array([[3.0, -1.0, 2.0, 0.5], [0.1, 4.0, -2.0, 1.0]], np.float32)
    x = nn.Variable.from_numpy_array(xv, need_grad=True)
    y, idx = F.top_k_data(x, 2, largest=False, with_index=True)
    F.sink(y, idx).forward()
    order = np.argsort(xv, axis=1)[:, :2]
    np.testing.assert_array_equal(idx.d, order)
    np.testing.assert_allclose(y.d, np.take_along_axis(xv, order, axis=1))
    x.g = 0
    y.backward(np.ones((2, 2), np.float32))
    expected = np.zeros_like(xv)
    np.put_along_axis(expected, order, 1.0, axis=1)
    np.testing.assert_array_equal(x.g, expected)
