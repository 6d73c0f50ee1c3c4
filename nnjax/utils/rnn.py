"""``nnabla.utils.rnn``: recurrent networks unrolled step by step from plain functions.

``_create_fixed_length_rnn`` / ``_gru`` / ``_lstm`` build the same computation as
``F.rnn`` / ``F.gru`` / ``F.lstm`` (NNabla's weight layout: ``w0`` (D, [G,] H, I + H),
``w`` (L - 1, D, [G,] H, D * H + H), ``b`` (L, D, [G,] H); gates in NNabla's order)
as a graph of ``affine``, activations and ``concatenate`` per time step, one layer
and direction after the other. They return ``ys`` (T, B, D * H) and the final
states (L, D, B, H).

Sequences of different lengths: ``pad_sequence`` stacks them padded to the longest,
``pack_padded_sequence``/``pack_sequence`` pack them time step by time step (the
longest first, as ``F.pack_padded_sequence``) into a ``PackedSequence``, and
``pad_packed_sequence`` undoes it, restoring the original order.
"""
import numpy as np

from .. import functions as F
from .._variable import Variable


class PackedSequence:
    """Packed sequences: ``data`` (sum of lengths, ...), ``batch_sizes`` (T,),
    and the permutation that sorted them by length (``sorted_indices``, and its
    inverse ``unsorted_indices``; both None when the input was sorted)."""

    def __init__(self):
        self.data = None
        self.batch_sizes = None
        self.sorted_indices = None
        self.unsorted_indices = None

    def __str__(self):
        return (f"data={self.data}, batch_sizes={self.batch_sizes}, "
                f"sorted_indices={self.sorted_indices}, unsorted_indices={self.unsorted_indices}")


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """Stack Variables of shapes (T_i, *D) into (T, B, *D) (``batch_first``: (B, T, *D)),
    padding each to the longest T with ``padding_value``."""
    if not sequences:
        raise ValueError("pad_sequence: no sequences given")
    tail = tuple(sequences[0].shape[1:])
    for i, seq in enumerate(sequences):
        if tuple(seq.shape[1:]) != tail:
            raise ValueError(f"pad_sequence: sequence {i} has shape {tuple(seq.shape)}; every "
                             f"sequence must be (T_i, *{tail})")
    longest = max(seq.shape[0] for seq in sequences)
    padded = [seq if seq.shape[0] == longest else
              F.pad(seq, (0, longest - seq.shape[0]) + (0, 0) * len(tail),
                    constant_value=padding_value)
              for seq in sequences]
    return F.stack(*padded, axis=0 if batch_first else 1)


def pack_padded_sequence(padded_sequence, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *D) (``batch_first``: (B, T, *D)) whose sequences have
    ``lengths`` (a Variable (B,)). Unless ``enforce_sorted``, the batch is first sorted
    by decreasing length and the permutation is kept to undo it."""
    sorted_indices = unsorted_indices = None
    if not enforce_sorted:
        lengths, sorted_indices = F.sort(lengths, axis=0, reverse=True, with_index=True)
        batch = sorted_indices.shape[0]
        unsorted_indices = F.scatter_nd(F.arange(0, batch), F.reshape(sorted_indices, (1, batch)),
                                        shape=(batch,))
        padded_sequence = F.gather(padded_sequence, sorted_indices, 0 if batch_first else 1)
    packed = PackedSequence()
    packed.data, packed.batch_sizes = F.pack_padded_sequence(padded_sequence, lengths,
                                                             batch_first)
    packed.sorted_indices, packed.unsorted_indices = sorted_indices, unsorted_indices
    return packed


def pack_sequence(sequences, batch_first=False, enforce_sorted=True):
    """Pack Variables of shapes (T_i, *D) (``batch_first`` is accepted for NNabla's
    signature; the sequences themselves are (T_i, *D) either way)."""
    lengths = Variable.from_numpy_array(np.array([seq.shape[0] for seq in sequences]))
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack a ``PackedSequence``: (padded (T, B, *D) or (B, T, *D), lengths (B,)),
    in the order the sequences had before packing; ``total_length`` pads T further."""
    steps = sequence.batch_sizes.shape[0]
    if total_length is not None and total_length < steps:
        raise ValueError(f"pad_packed_sequence: total_length ({total_length}) must be at least "
                         f"the longest length ({steps})")
    padded, lengths = F.pad_packed_sequence(sequence.data, sequence.batch_sizes, batch_first,
                                            0.0 if padding_value is None else padding_value,
                                            -1 if total_length is None else total_length)
    if sequence.unsorted_indices is not None:
        padded = F.gather(padded, sequence.unsorted_indices, 0 if batch_first else 1)
        lengths = F.gather(lengths, sequence.unsorted_indices, 0)
    return padded, lengths


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
