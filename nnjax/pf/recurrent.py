"""Recurrent PFs: rnn, lstm, gru, lstm_cell and the stateful LSTMCell."""
import numpy as np

from .. import functions as F
from ..initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .._variable import Variable
from ..parameter import get_parameter, get_parameter_or_create
from ._common import _F32, _bias
from .core import _param, affine, parametric_function_api


def _glorot_pair(rng, ih_shape, ih_fan, hh_shape, hidden):
    """Glorot-uniform input-to-hidden and hidden-to-hidden blocks, concatenated on the
    last axis (drawn in that order)."""
    ih = UniformInitializer(calc_uniform_lim_glorot(ih_fan, hidden), rng)(list(ih_shape))
    hh = UniformInitializer(calc_uniform_lim_glorot(hidden, hidden), rng)(list(hh_shape))
    return np.concatenate((np.asarray(ih, _F32), np.asarray(hh, _F32)), axis=-1)


@parametric_function_api("rnn", [
    ("weight_l0", "Filter weights at 0-th layer", "(D, H, I + H)", True),
    ("weight", "Filter weights at 1-st layer and above", "(L-1, D, H, DH + H)", True),
    ("bias", "Biases", "(L, D, H)", True)])
def rnn(x, h, w0_init=None, w_init=None, b_init=None, num_layers=1, nonlinearity="tanh",
        dropout=0.0, bidirectional=False, training=True, rng=None, with_bias=True,
        fix_parameters=False):
    """Elman RNN: parameters ``rnn/weight_l0``, ``rnn/weight`` (when num_layers > 1) and
    ``rnn/bias``; sizes are taken from x (T, B, I) and h (L, D, B, H)."""
    input_size = int(x.shape[2])
    hidden = int(h.shape[3])
    num_layers = int(h.shape[0])
    d = 2 if bidirectional else 1
    if w0_init is None:
        w0_init = _glorot_pair(rng, (d, hidden, input_size), input_size,
                               (d, hidden, hidden), hidden)
    if w_init is None:
        w_init = _glorot_pair(rng, (num_layers - 1, d, hidden, d * hidden), d * hidden,
                              (num_layers - 1, d, hidden, hidden), hidden)
    w0 = _param("weight_l0", (d, hidden, input_size + hidden), w0_init, True, fix_parameters)
    w = None
    if num_layers > 1:
        w = _param("weight", (num_layers - 1, d, hidden, d * hidden + hidden), w_init, True,
                   fix_parameters)
    b = _bias((num_layers, d, hidden), b_init, with_bias, fix_parameters, "bias")
    return F.rnn(x, h, weight_l0=w0, weight=w, bias=b, num_layers=num_layers,
                 nonlinearity=nonlinearity, dropout=dropout, bidirectional=bidirectional,
                 training=training)


def _gated_rnn_params(x, h, n_gates, w0_init, w_init, b_init, bidirectional, rng, with_bias,
                      fix_parameters):
    input_size = int(x.shape[2])
    hidden = int(h.shape[3])
    num_layers = int(h.shape[0])
    d = 2 if bidirectional else 1
    w0 = get_parameter("weight_l0")
    w = get_parameter("weight")
    b = get_parameter("bias")
    if w0 is None:
        if w0_init is None:
            w0_init = _glorot_pair(rng, (d, n_gates, hidden, input_size), input_size,
                                   (d, n_gates, hidden, hidden), hidden)
        w0 = get_parameter_or_create("weight_l0", (d, n_gates, hidden, input_size + hidden),
                                     w0_init, True, not fix_parameters)
    if num_layers > 1 and w is None:
        if w_init is None:
            w_init = _glorot_pair(rng, (num_layers - 1, d, n_gates, hidden, d * hidden),
                                  d * hidden, (num_layers - 1, d, n_gates, hidden, hidden),
                                  hidden)
        w = get_parameter_or_create("weight", (num_layers - 1, d, n_gates, hidden,
                                               d * hidden + hidden),
                                    w_init, True, not fix_parameters)
    if with_bias and b is None:
        if b_init is None:
            b_init = ConstantInitializer()
        b = get_parameter_or_create("bias", (num_layers, d, 4, hidden), b_init, True,
                                    not fix_parameters)
    w0 = w0.get_unlinked_variable(need_grad=not fix_parameters)
    w = w.get_unlinked_variable(need_grad=not fix_parameters) if num_layers > 1 else None
    b = b.get_unlinked_variable(need_grad=not fix_parameters) if with_bias else None
    return w0, w, b, num_layers


@parametric_function_api("lstm", [
    ("weight_l0", "Filter weights at 0-th layer", "(D, 4, H, I + H)", True),
    ("weight", "Filter weights at 1-st layer and above", "(L-1, D, 4, H, DH + H)", True),
    ("bias", "Biases", "(L, D, 4, H)", True)])
def lstm(x, h, c, w0_init=None, w_init=None, b_init=None, num_layers=1, dropout=0.0,
         bidirectional=False, training=True, rng=None, with_bias=True, fix_parameters=False):
    """N-step LSTM: parameters ``lstm/weight_l0``, ``lstm/weight`` (num_layers > 1) and
    ``lstm/bias``. Returns y, h_n, c_n."""
    if isinstance(w0_init, (int, np.integer)) and not isinstance(w0_init, bool):
        raise ValueError("lstm: the arguments look like lstm_cell's (x, h, c, state_size); "
                         "use PF.lstm_cell")
    w0, w, b, num_layers = _gated_rnn_params(x, h, 4, w0_init, w_init, b_init, bidirectional,
                                             rng, with_bias, fix_parameters)
    return F.lstm(x, h, c, weight_l0=w0, weight=w, bias=b, num_layers=num_layers,
                  dropout=dropout, bidirectional=bidirectional, training=training)


@parametric_function_api("gru", [
    ("weight_l0", "Filter weights at 0-th layer", "(D, 3, H, I + H)", True),
    ("weight", "Filter weights at 1-st layer and above", "(L-1, D, 3, H, DH + H)", True),
    ("bias", "Biases", "(L, D, 4, H)", True)])
def gru(x, h, w0_init=None, w_init=None, b_init=None, num_layers=1, dropout=0.0,
        bidirectional=False, training=True, rng=None, with_bias=True, fix_parameters=False):
    """N-step GRU: parameters ``gru/weight_l0``, ``gru/weight`` (num_layers > 1) and
    ``gru/bias`` (4 biases per layer and direction). Returns y, h_n."""
    w0, w, b, num_layers = _gated_rnn_params(x, h, 3, w0_init, w_init, b_init, bidirectional,
                                             rng, with_bias, fix_parameters)
    return F.gru(x, h, weight_l0=w0, weight=w, bias=b, num_layers=num_layers, dropout=dropout,
                 bidirectional=bidirectional, training=training)


@parametric_function_api("lstm", [
    ("affine/W", "Stacked weight matrixes of LSTM block", "(inmaps, 4, state_size)", True),
    ("affine/b", "Stacked bias vectors of LSTM block", "(4, state_size,)", True)])
def lstm_cell(x, h, c, state_size, w_init=None, b_init=None, fix_parameters=False):
    """One LSTM step on x (B, I), h and c (B, state_size): one affine layer
    ``lstm/affine`` of concat(x, h) to (4, state_size) split into input, output and
    forget gates and the cell candidate. Returns (h_t, c_t)."""
    xh = F.concatenate(*(x, h), axis=1)
    iofc = affine(xh, (4, state_size), w_init=w_init, b_init=b_init,
                  fix_parameters=fix_parameters)
    i_t, o_t, f_t, gate = F.split(iofc, axis=1)
    c_t = F.sigmoid(f_t) * c + F.sigmoid(i_t) * F.tanh(gate)
    h_t = F.sigmoid(o_t) * F.tanh(c_t)
    return h_t, c_t


class LSTMCell:
    """Stateful wrapper of :func:`lstm_cell` holding h and c (zeros by default)."""

    def __init__(self, batch_size, state_size, h=None, c=None, name=None):
        self.batch_size = batch_size
        self.state_size = state_size
        self.name = name
        if h is not None:
            self.h = h
        else:
            self.h = Variable((batch_size, state_size))
            self.h.data.zero()
        if c is not None:
            self.c = c
        else:
            self.c = Variable((batch_size, state_size))
            self.c.data.zero()

    def reset_state(self):
        """Set h and c to zero."""
        self.h.data.zero()
        self.c.data.zero()

    def __call__(self, x, w_init=None, b_init=None, fix_parameters=False):
        """One step: update h and c from x; return h."""
        self.h, self.c = lstm_cell(x, self.h, self.c, self.state_size, w_init, b_init,
                                   fix_parameters=fix_parameters, name=self.name)
        return self.h
