"""nnabla.utils.rnn's unrolled networks against F.rnn/F.gru/F.lstm (a scan lowering)
and against a numpy LSTM step."""
import numpy as np
import pytest

import nnabla.functions as F
from function_check import var
from nnabla.utils.rnn import (_create_fixed_length_gru, _create_fixed_length_lstm,
                              _create_fixed_length_rnn)


def _weights(rng, gates, L, D, I, H):
    g = () if gates == 1 else (gates,)
    w0 = rng.randn(D, *g, H, I + H) * 0.5
    w = rng.randn(L - 1, D, *g, H, D * H + H) * 0.5 if L > 1 else None
    b = rng.randn(L, D, *((gates + (gates == 3),) if gates > 1 else ()), H) * 0.5
    return w0, w, b


@pytest.mark.parametrize("L, bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_unrolled_equals_the_function(rng, kind, L, bidirectional):
    T, B, I, H = 3, 2, 4, 5
    D = 2 if bidirectional else 1
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    w0, w, b = _weights(rng, gates, L, D, I, H)
    x, h = rng.randn(T, B, I), rng.randn(L, D, B, H)
    c = rng.randn(L, D, B, H)
    wv = None if w is None else var(w)
    if kind == "rnn":
        ref = F.rnn(var(x), var(h), var(w0), wv, var(b), num_layers=L, bidirectional=bidirectional)
        got = _create_fixed_length_rnn(var(x), var(h), var(w0), wv, var(b), L, "tanh", D, True)
    elif kind == "gru":
        ref = F.gru(var(x), var(h), var(w0), wv, var(b), num_layers=L, bidirectional=bidirectional)
        got = _create_fixed_length_gru(var(x), var(h), var(w0), wv, var(b), L, D, True)
    else:
        ref = F.lstm(var(x), var(h), var(c), var(w0), wv, var(b), num_layers=L,
                     bidirectional=bidirectional)
        got = _create_fixed_length_lstm(var(x), var(h), var(c), var(w0), wv, var(b), L, D, True)
    F.sink(*ref, *got).forward()
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g.d, r.d, rtol=1e-5, atol=1e-5)


def test_one_lstm_step_against_numpy(rng):
    I, H, B = 3, 2, 2
    w0, _, b = _weights(rng, 4, 1, 1, I, H)
    x, h, c = rng.randn(1, B, I), rng.randn(1, 1, B, H), rng.randn(1, 1, B, H)
    y, hn, cn = _create_fixed_length_lstm(var(x), var(h), var(c), var(w0), None, var(b), 1, 1, True)
    F.sink(y, hn, cn).forward()
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    xh = np.concatenate([x[0], h[0, 0]], axis=1)
    i, f, g, o = (xh @ w0[0, k].T + b[0, 0, k] for k in range(4))
    c_ref = sig(f) * c[0, 0] + sig(i) * np.tanh(g)
    np.testing.assert_allclose(cn.d[0, 0], c_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.d[0], sig(o) * np.tanh(c_ref), rtol=1e-5, atol=1e-6)
