"""``nnabla.utils.rnn``: recurrent networks unrolled step by step from plain functions.

``_create_fixed_length_rnn`` / ``_gru`` / ``_lstm`` build the same computation as
``F.rnn`` / ``F.gru`` / ``F.lstm`` (NNabla's weight layout: ``w0`` (D, [G,] H, I + H),
``w`` (L - 1, D, [G,] H, D * H + H), ``b`` (L, D, [G,] H); gates in NNabla's order)
as a graph of ``affine``, activations and ``concatenate`` per time step, one layer
and direction after the other. They return ``ys`` (T, B, D * H) and the final
states (L, D, B, H). Sequence packing helpers are not here yet.
"""
from .. import functions as F


def _linear(xh, w, b):
    """``xh @ w.T + b`` for ``w`` (H, I + H) and ``b`` (H,) or None."""
    y = F.affine(xh, F.transpose(w, (1, 0)))
    return y if b is None else y + F.reshape(b, (1,) + tuple(b.shape))


def _rnn_step(nonlinearity):
    def step(x, state, w, b):
        y = _linear(F.concatenate(x, state[0], axis=1), w, b)
        return (F.tanh(y) if nonlinearity == "tanh" else F.relu(y),)
    return step


def _gru_step(x, state, w, b):
    (h,) = state
    n_in = x.shape[1]
    xh = F.concatenate(x, h, axis=1)
    r = F.sigmoid(_linear(xh, w[0], None if b is None else b[0]))
    z = F.sigmoid(_linear(xh, w[1], None if b is None else b[1]))
    w_n = w[2]
    n_x = _linear(x, w_n[:, :n_in], None if b is None else b[2])
    n_h = _linear(h, w_n[:, n_in:], None if b is None else b[3])
    n = F.tanh(n_x + r * n_h)
    return ((1 - z) * n + z * h,)


def _lstm_step(x, state, w, b):
    h, c = state
    xh = F.concatenate(x, h, axis=1)
    i, f, g, o = (_linear(xh, w[k], None if b is None else b[k]) for k in range(4))
    c = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
    return F.sigmoid(o) * F.tanh(c), c


def _unroll(step, xs0, states0, w0, w, b, num_layers, num_directions, with_bias):
    """Run ``step`` over time, layers and directions; ``states0``: (L, D, B, H) Variables."""
    seq_len = xs0.shape[0]
    xs = [xs0[t] for t in range(seq_len)]
    finals = [[] for _ in states0]
    for layer in range(num_layers):
        w_layer = w0 if layer == 0 else w[layer - 1]
        outs = []
        for d in range(num_directions):
            state = tuple(s[layer, d] for s in states0)
            bias = b[layer, d] if with_bias else None
            order = range(seq_len) if d == 0 else range(seq_len - 1, -1, -1)
            hs = [None] * seq_len
            for t in order:
                state = step(xs[t], state, w_layer[d], bias)
                hs[t] = state[0]
            for k, s in enumerate(state):
                finals[k].append(s)
            outs.append(hs)
        xs = [F.concatenate(*[o[t] for o in outs], axis=1) if num_directions > 1 else outs[0][t]
              for t in range(seq_len)]
    ys = F.stack(*xs, axis=0)
    final_states = tuple(
        F.stack(*[F.stack(*f[l * num_directions:(l + 1) * num_directions], axis=0)
                  for l in range(num_layers)], axis=0)
        for f in finals)
    return (ys,) + final_states


def _create_fixed_length_rnn(xs0, h0, w0, w, b, num_layers, nonlinearity, num_directions,
                             with_bias):
    return _unroll(_rnn_step(nonlinearity), xs0, (h0,), w0, w, b, num_layers,
                   num_directions, with_bias)


def _create_fixed_length_gru(xs0, h0, w0, w, b, num_layers, num_directions, with_bias):
    return _unroll(_gru_step, xs0, (h0,), w0, w, b, num_layers, num_directions, with_bias)


def _create_fixed_length_lstm(xs0, h0, c0, w0, w, b, num_layers, num_directions, with_bias):
    return _unroll(_lstm_step, xs0, (h0, c0), w0, w, b, num_layers, num_directions,
                   with_bias)
