"""Recurrent layers of NNabla's "Neural Network Layer" category: RNN, LSTM, GRU.

Shapes (T: steps, B: batch, I: input size, H: hidden size, L: layers,
D: directions): x (T, B, I), h / c (L, D, B, H), weight_l0 (D, [G,] H, I + H),
weight (L - 1, D, [G,] H, D * H + H), bias (L, D, [G,] H) with G gates (LSTM 4,
GRU 3 weights and 4 biases). Each gate computes ``concat(x_t, h) @ W_g^T + b_g``.
The backward direction of a bidirectional layer runs over the reversed sequence and
its output at step t is concatenated after the forward one. NNabla's CPU
implementation does not apply ``dropout``; neither does this one.
"""
import jax
import jax.numpy as jnp
from jax import lax

from ._common import call, int_shape, lowering



def _gates(xh, w, b):
    """xh (B, I+H), w (G, H, I+H), b (G, H) or None -> (G, B, H)."""
    y = jnp.einsum("bi,ghi->gbh", xh, w)
    return y if b is None else y + b[:, None, :]


def _run_direction(cell, xs, state, w, b, reverse):
    def step(carry, x_t):
        carry = cell(x_t, carry, w, b)
        return carry, carry[0] if isinstance(carry, tuple) else carry

    carry, hs = lax.scan(step, state, xs, reverse=reverse)
    return carry, hs


def _stack_layers(cell, x, states, weight_l0, weight, bias, num_layers, bidirectional):
    """Run all layers; ``states`` is a tuple of (L, D, B, H) arrays (h, or h and c)."""
    n_dir = 2 if bidirectional else 1
    xs = x
    finals = [[] for _ in states]
    for layer in range(num_layers):
        w_layer = weight_l0 if layer == 0 else weight[layer - 1]
        outs = []
        for d in range(n_dir):
            st = tuple(s[layer, d] for s in states)
            st = st if len(st) > 1 else st[0]
            b = None if bias is None else bias[layer, d]
            carry, hs = _run_direction(cell, xs, st, w_layer[d], b, reverse=(d == 1))
            carry = carry if isinstance(carry, tuple) else (carry,)
            for k, c in enumerate(carry):
                finals[k].append(c)
            outs.append(hs)
        xs = jnp.concatenate(outs, axis=-1) if n_dir == 2 else outs[0]
    L = num_layers
    finals = tuple(jnp.stack(f).reshape((L, n_dir) + f[0].shape) for f in finals)
    return (xs,) + finals


def _rnn_cell(nonlinearity):
    def cell(x_t, h, w, b):
        y = _gates(jnp.concatenate([x_t, h], axis=1), w[None], None if b is None else b[None])[0]
        return jnp.tanh(y) if nonlinearity == "tanh" else jnp.where(y > 0, y, 0.0)
    return cell


def _lstm_cell(x_t, carry, w, b):
    h, c = carry
    i, f, g, o = _gates(jnp.concatenate([x_t, h], axis=1), w, b)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, c


def _gru_cell(x_t, h, w, b):
    n_in = x_t.shape[1]
    xh = jnp.concatenate([x_t, h], axis=1)
    r, z = jax.nn.sigmoid(_gates(xh, w[:2], None if b is None else b[:2]))
    n_x = x_t @ w[2, :, :n_in].T
    n_h = h @ w[2, :, n_in:].T
    if b is not None:
        n_x = n_x + b[2]
        n_h = n_h + b[3]
    n = jnp.tanh(n_x + r * n_h)
    return (1 - z) * n + z * h


def _maybe_stop(values, training):
    return values if training else tuple(lax.stop_gradient(v) for v in values)


def _training_only(args):
    if not args.get("training", True):
        return "backward is for training only (the function was set up with training=False)"
    return None


@lowering("RNN", backward_error=_training_only)
def _rnn(x, h, weight_l0, weight=None, bias=None, num_layers=1, nonlinearity="tanh",
         dropout=0.0, bidirectional=False, training=True):
    out = _stack_layers(_rnn_cell(nonlinearity), x, (h,), weight_l0, weight, bias,
                        num_layers, bidirectional)
    return _maybe_stop(out, training)


@lowering("LSTM", backward_error=_training_only)
def _lstm(x, h, c, weight_l0, weight=None, bias=None, num_layers=1, dropout=0.0,
          bidirectional=False, training=True):
    out = _stack_layers(_lstm_cell, x, (h, c), weight_l0, weight, bias, num_layers,
                        bidirectional)
    return _maybe_stop(out, training)


@lowering("GRU", backward_error=_training_only)
def _gru(x, h, weight_l0, weight=None, bias=None, num_layers=1, dropout=0.0,
         bidirectional=False, training=True):
    out = _stack_layers(_gru_cell, x, (h,), weight_l0, weight, bias, num_layers,
                        bidirectional)
    return _maybe_stop(out, training)


def _check(fname, x, states, weight_l0, weight, bias, num_layers, bidirectional, n_w, n_b):
    if len(x.shape) != 3:
        raise ValueError(f"{fname}: x must have shape (T, B, I), got {int_shape(x)}")
    T, B, I = int_shape(x)
    num_layers = int(num_layers)
    if num_layers < 1:
        raise ValueError(f"{fname}: num_layers must be >= 1, got {num_layers}")
    D = 2 if bidirectional else 1
    h = states[0]
    if len(h.shape) != 4:
        raise ValueError(f"{fname}: h must have shape (L, D, B, H), got {int_shape(h)}")
    H = h.shape[3]
    if int_shape(h) != (num_layers, D, B, H):
        raise ValueError(f"{fname}: h shape {int_shape(h)} must be (num_layers, num_directions, "
                         f"batch, hidden) = {(num_layers, D, B, H)}")
    for s in states[1:]:
        if int_shape(s) != int_shape(h):
            raise ValueError(f"{fname}: c shape {int_shape(s)} must equal h shape {int_shape(h)}")
    g = () if n_w is None else (n_w,)
    gb = () if n_b is None else (n_b,)
    if int_shape(weight_l0) != (D,) + g + (H, I + H):
        raise ValueError(f"{fname}: weight_l0 shape {int_shape(weight_l0)} must be "
                         f"{(D,) + g + (H, I + H)}")
    if num_layers > 1:
        want = (num_layers - 1, D) + g + (H, D * H + H)
        if weight is None or int_shape(weight) != want:
            raise ValueError(f"{fname}: weight must have shape {want} when num_layers > 1, "
                             f"got {None if weight is None else int_shape(weight)}")
    elif weight is not None:
        raise ValueError(f"{fname}: weight cannot be given when num_layers == 1")
    if bias is not None and int_shape(bias) != (num_layers, D) + gb + (H,):
        raise ValueError(f"{fname}: bias shape {int_shape(bias)} must be "
                         f"{(num_layers, D) + gb + (H,)}")
    return num_layers


def rnn(x, h, weight_l0, weight=None, bias=None, num_layers=1, nonlinearity="tanh",
        dropout=0.0, bidirectional=False, training=True, n_outputs=-1, outputs=None):
    """Elman RNN: ``h_t = act(W_ih x_t + W_hh h_{t-1} + b)`` with act tanh or relu.

    Returns y (T, B, D * H) and h_n (L, D, B, H)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    num_layers = _check("rnn", x, (h,), weight_l0, weight, bias, num_layers, bidirectional,
                        None, None)
    return call("RNN", [x, h, weight_l0, weight, bias],
                dict(num_layers=num_layers, nonlinearity=nonlinearity, dropout=float(dropout),
                     bidirectional=bool(bidirectional), training=bool(training)), outputs)


def lstm(x, h, c, weight_l0, weight=None, bias=None, num_layers=1, dropout=0.0,
         bidirectional=False, training=True, n_outputs=-1, outputs=None):
    """N-step LSTM; gate order (input, forget, cell, output) in the weights' gate axis.

    Returns y (T, B, D * H), h_n and c_n (L, D, B, H)."""
    num_layers = _check("lstm", x, (h, c), weight_l0, weight, bias, num_layers,
                        bidirectional, 4, 4)
    return call("LSTM", [x, h, c, weight_l0, weight, bias],
                dict(num_layers=num_layers, dropout=float(dropout),
                     bidirectional=bool(bidirectional), training=bool(training)), outputs)


def gru(x, h, weight_l0, weight=None, bias=None, num_layers=1, dropout=0.0,
        bidirectional=False, training=True, n_outputs=-1, outputs=None):
    """N-step GRU: r, z gates, then ``n = tanh(W_n x + b_in + r (U_n h + b_hn))`` and
    ``h' = (1 - z) n + z h``. Weights (.., 3, H, I + H), biases (.., 4, H)
    ordered r, z, input-n, hidden-n.

    Returns y (T, B, D * H) and h_n (L, D, B, H)."""
    num_layers = _check("gru", x, (h,), weight_l0, weight, bias, num_layers, bidirectional,
                        3, 4)
    return call("GRU", [x, h, weight_l0, weight, bias],
                dict(num_layers=num_layers, dropout=float(dropout),
                     bidirectional=bool(bidirectional), training=bool(training)), outputs)
