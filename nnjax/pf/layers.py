"""Parametric functions beyond the basic layers: depthwise / deformable / low-rank
convolutions, recurrent layers, normalization layers, PReLU, spectral and weight
normalization, multi-head attention and the transformer.

Scope names, parameter names, shapes, creation order and default initializers are
NNabla's; random initial values are drawn from ``nnabla.random.prng`` (or ``rng``)
in the same order as NNabla draws them.
"""
from functools import reduce

import numpy as np

from .. import functions as F
from ..initializer import (ConstantInitializer, NormalInitializer, UniformInitializer,
                           WeightNormalizationScaleInitializer, calc_uniform_lim_glorot)
from .._variable import Variable
from ..parameter import get_parameter, get_parameter_or_create, set_parameter
from .core import _param, parametric_function_api, affine

_F32 = np.float32


def _tuple(v):
    return tuple(int(i) for i in v) if isinstance(v, (list, tuple)) else (int(v),)


def _bias(shape, b_init, with_bias, fix_parameters, name="b"):
    if not with_bias:
        return None
    if b_init is None:
        b_init = ConstantInitializer()
    return _param(name, shape, b_init, True, fix_parameters)


def _new_parameter(name, values):
    """Register a new trainable parameter holding ``values`` (float32)."""
    v = Variable(values.shape, need_grad=True)
    v.d = np.asarray(values, dtype=_F32)
    set_parameter(name, v)
    return v


def _fix(v, fix_parameters):
    if fix_parameters == v.need_grad:
        return v.get_unlinked_variable(need_grad=not fix_parameters)
    return v


def _draw(init, shape):
    """Values of ``init`` (an initializer or an array) for ``shape``."""
    if isinstance(init, np.ndarray):
        return init
    return np.asarray(init(list(shape)))


# ---------------------------------------------------------------- convolutions
@parametric_function_api("depthwise_conv", [
    ("W", "Filter weights", "(inmaps * multiplier, *kernel)", True),
    ("b", "Bias vector", "(inmaps * multiplier,)", True)])
def depthwise_convolution(inp, kernel, pad=None, stride=None, dilation=None, multiplier=1,
                          w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                          rng=None, with_bias=True):
    """Depthwise convolution: parameters ``depthwise_conv/W`` (C * multiplier, *kernel) and
    ``depthwise_conv/b`` (C * multiplier,)."""
    kernel = _tuple(kernel)
    c = int(inp.shape[base_axis])
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(c * multiplier, c, kernel), rng=rng)
    w = _param("W", (c * multiplier,) + kernel, w_init, True, fix_parameters)
    b = _bias((c * multiplier,), b_init, with_bias, fix_parameters)
    return F.depthwise_convolution(inp, w, b, base_axis, pad, stride, dilation, multiplier)


@parametric_function_api("depthwise_deconv", [
    ("W", "Filter weights", "(inmaps,) + kernel", True),
    ("b", "Bias vector", "(inmaps / divisor,)", True)])
def depthwise_deconvolution(inp, kernel, pad=None, stride=None, dilation=None, divisor=1,
                            w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                            rng=None, with_bias=True):
    """Depthwise deconvolution: parameters ``depthwise_deconv/W`` (C, *kernel) and
    ``depthwise_deconv/b`` (C // divisor,)."""
    kernel = _tuple(kernel)
    c = int(inp.shape[base_axis])
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(c, c, kernel), rng=rng)
    w = _param("W", (c,) + kernel, w_init, True, fix_parameters)
    b = _bias((c // divisor,), b_init, with_bias, fix_parameters)
    return F.depthwise_deconvolution(inp, w, b, base_axis, pad, stride, dilation, divisor)


@parametric_function_api("deformable_conv", [
    ("W", "Filter weights", "(outmaps, inmaps // group, *kernel)", True),
    ("b", "Bias vector", "(outmaps,)", True)])
def deformable_convolution(inp, outmaps, kernel, offset, mask=None, pad=None, stride=None,
                           dilation=None, group=1, deformable_group=1, channel_last=False,
                           w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                           rng=None, with_bias=True, apply_w=None, apply_b=None):
    """2-D deformable convolution (v2 with ``mask``): parameters ``deformable_conv/W`` and
    ``deformable_conv/b``."""
    kernel = _tuple(kernel)
    if channel_last:
        channels = int(inp.shape[-1])
        filter_shape = kernel + (channels // group,)
    else:
        channels = int(inp.shape[base_axis])
        filter_shape = (channels // group,) + kernel
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(channels, outmaps, kernel), rng=rng)
    w = _param("W", (outmaps,) + filter_shape, w_init, True, fix_parameters)
    if apply_w is not None:
        w = apply_w(w)
    b = _bias((outmaps,), b_init, with_bias, fix_parameters)
    if b is not None and apply_b is not None:
        b = apply_b(b)
    return F.deformable_convolution(inp, w, offset, mask, b, base_axis, pad, stride, dilation,
                                    group, deformable_group, channel_last)


@parametric_function_api("svd_affine", [
    ("U", "U", "(inmaps, r)", True),
    ("V", "V", "(r, outmaps)", True),
    ("b", "Bias vector", "(outmaps,)", True)])
def svd_affine(inp, n_outmaps, r, base_axis=1, uv_init=None, b_init=None,
               fix_parameters=False, rng=None, with_bias=True):
    """Low-rank affine ``y = x U V + b``: U (inmaps, r) and V (r, *outmaps) come from the
    rank-``r`` truncated SVD of ``uv_init`` (an array, or an initializer's draw;
    default Glorot uniform), singular values folded into U."""
    n_outmaps = list(_tuple(n_outmaps))
    n_outmap = int(np.prod(n_outmaps))
    inmaps = int(np.prod(inp.shape[base_axis:]))
    if uv_init is None:
        uv_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, n_outmap), rng=rng)
    uv = _draw(uv_init, [inmaps] + n_outmaps)
    u = get_parameter("U")
    v = get_parameter("V")
    if u is None or v is None:
        if r <= 0:
            raise ValueError("svd_affine: the rank r must be larger than zero")
        left, s, right = np.linalg.svd(np.asarray(uv, np.float64).reshape(inmaps, n_outmap),
                                       full_matrices=False)
        left = (left @ np.diag(s))[:, :r]
        right = right[:r, :].reshape([r] + n_outmaps)
        u = _new_parameter("U", left)
        v = _new_parameter("V", right)
    u = _fix(u, fix_parameters)
    v = _fix(v, fix_parameters)
    b = _bias(n_outmaps, b_init, with_bias, fix_parameters)
    return F.affine(F.affine(inp, u, bias=None, base_axis=base_axis), v, bias=b,
                    base_axis=base_axis)


@parametric_function_api("svd_conv", [
    ("U", "Decomposed filter weights U", "(inmaps * r, *kernel)", True),
    ("V", "Decomposed filter weights V", "(outmaps, inmaps * r, 1, ...)", True),
    ("b", "Bias vector", "(outmaps,)", True)])
def svd_convolution(inp, outmaps, kernel, r, pad=None, stride=None, dilation=None,
                    uv_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                    with_bias=True):
    """Low-rank convolution: a depthwise convolution with multiplier ``r`` (U) followed
    by a 1x1 convolution (V); for every input map the (outmaps, K) kernel block of
    ``uv_init`` is approximated by its rank-``r`` SVD."""
    if r <= 0:
        raise ValueError("svd_convolution: the rank r must be larger than zero")
    kernel = _tuple(kernel)
    inmaps = int(inp.shape[base_axis])
    if uv_init is None:
        uv_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, kernel), rng=rng)
    uv = _draw(uv_init, (outmaps, inmaps) + kernel)
    uv = np.asarray(uv).reshape((outmaps, inmaps, int(np.prod(kernel))))
    u = get_parameter("U")
    v = get_parameter("V")
    if u is None or v is None:
        k = int(np.prod(kernel))
        u_low = np.zeros((inmaps, k, r))
        v_low = np.zeros((inmaps, r, outmaps))
        for i in range(inmaps):
            left, s, right = np.linalg.svd(uv[:, i, :].T, full_matrices=False)
            u_low[i] = left[:, :r] @ np.diag(s[:r])
            v_low[i] = right[:r, :]
        u = _new_parameter("U", np.transpose(u_low, (0, 2, 1)).reshape((inmaps * r,) + kernel))
        ones = (1,) * len(kernel)
        v = _new_parameter("V", np.transpose(v_low, (2, 0, 1)).reshape((outmaps, inmaps * r)
                                                                         + ones))
    u = _fix(u, fix_parameters)
    v = _fix(v, fix_parameters)
    b = _bias((outmaps,), b_init, with_bias, fix_parameters)
    y = F.depthwise_convolution(inp, u, bias=None, base_axis=base_axis, pad=pad, stride=stride,
                                dilation=dilation, multiplier=r)
    return F.convolution(y, v, bias=b, base_axis=base_axis, pad=None, stride=None,
                         dilation=None, group=1)


def _cp_als(x, rank, max_iter, stopping_criterion, lambda_reg, dtype, rng):
    """Canonical polyadic decomposition of ``x`` by alternating least squares.

    Factor n >= 1 starts from ``rng.rand`` (default ``RandomState(313)``); each sweep
    solves every factor in turn against the others' Khatri-Rao product, normalizing its
    columns (2-norms in the first sweep, then maxima of at least 1). Returns the
    factors and the column scales."""
    ndim = x.ndim
    if rng is None:
        rng = np.random.RandomState(313)
    factors = [None] * ndim
    for n in range(1, ndim):
        factors[n] = np.array(rng.rand(x.shape[n], rank), dtype=dtype)
    letters = "abcdefghij"[:ndim]
    sq_norm = float(np.sum(np.asarray(x, np.float64) ** 2))
    fit = 0.0
    scale = None
    for it in range(max_iter):
        previous = fit
        for n in range(ndim):
            others = [o for o in range(ndim) if o != n]
            gram = reduce(lambda a, b: a * b, [factors[o].T @ factors[o] for o in others])
            spec = letters + "," + ",".join(letters[o] + "r" for o in others) + \
                "->" + letters[n] + "r"
            rhs = np.einsum(spec, x, *[factors[o] for o in others])
            sol = rhs @ np.linalg.pinv(gram + np.eye(rank) * lambda_reg)
            if it == 0:
                scale = np.sqrt((sol ** 2).sum(axis=0))
            else:
                scale = sol.max(axis=0)
                scale[scale < 1] = 1
            factors[n] = sol / scale
        if stopping_criterion < 0:
            continue
        approx = np.einsum("r," + ",".join(letters[o] + "r" for o in range(ndim)) + "->"
                           + letters, scale, *factors)
        residual = sq_norm + np.sum(approx ** 2) - 2 * np.sum(x * approx)
        fit = 1.0 - residual / sq_norm
        if it > 0 and abs(previous - fit) < stopping_criterion:
            break
    return factors, scale


@parametric_function_api("cpd3_conv", [
    ("I", "Decomposed filter weights I", "(r, inmaps, 1, ...)", True),
    ("K", "Decomposed filter weights K", "(r, *kernel)", True),
    ("O", "Decomposed filter weights O", "(outmaps, r, 1, ...)", True),
    ("b", "Bias vector", "(outmaps,)", True)])
def cpd3_convolution(inp, outmaps, kernel, r, pad=None, stride=None, dilation=None,
                     oik_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                     with_bias=True, max_iter=500, stopping_criterion=1e-5, lambda_reg=0.0):
    """CP-decomposed convolution: 1x1 convolution to ``r`` maps (I), depthwise
    convolution (K), 1x1 convolution to ``outmaps`` (O); the factors come from a rank-r
    CP decomposition (ALS) of the (outmaps, inmaps, K) kernel tensor of ``oik_init``."""
    kernel = _tuple(kernel)
    inmaps = int(inp.shape[base_axis])
    if oik_init is None:
        oik_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, kernel), rng=rng)
    oik = _draw(oik_init, (outmaps, inmaps) + kernel)
    oik = np.asarray(oik).reshape((outmaps, inmaps, int(np.prod(kernel))))
    o = get_parameter("O")
    i = get_parameter("I")
    k = get_parameter("K")
    if o is None or i is None or k is None:
        if r <= 0:
            raise ValueError("cpd3_convolution: the rank r must be larger than zero")
        factors, lmbda = _cp_als(oik, r, max_iter, stopping_criterion, lambda_reg, oik.dtype,
                                 rng)
        ones = (1,) * len(kernel)
        i = _new_parameter("I", np.transpose(factors[1]).reshape((r, inmaps) + ones))
        o = _new_parameter("O", (factors[0] * lmbda).reshape((outmaps, r) + ones))
        k = _new_parameter("K", np.transpose(factors[2]).reshape((r,) + kernel))
    o = _fix(o, fix_parameters)
    i = _fix(i, fix_parameters)
    k = _fix(k, fix_parameters)
    b = _bias((outmaps,), b_init, with_bias, fix_parameters)
    y = F.convolution(inp, i, bias=None, base_axis=base_axis, pad=None, stride=None,
                      dilation=None, group=1)
    y = F.depthwise_convolution(y, k, bias=None, base_axis=base_axis, pad=pad, stride=stride,
                                dilation=dilation, multiplier=1)
    return F.convolution(y, o, bias=b, base_axis=base_axis, pad=None, stride=None,
                         dilation=None, group=1)


# ---------------------------------------------------------------- recurrent
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


# ---------------------------------------------------------------- normalization layers
def _beta_gamma(shape, fix_parameters, param_init, no_bias, no_scale):
    beta = gamma = None
    if not no_bias:
        beta = _param("beta", shape, param_init.get("beta", ConstantInitializer(0)), True,
                      fix_parameters)
    if not no_scale:
        gamma = _param("gamma", shape, param_init.get("gamma", ConstantInitializer(1)), True,
                       fix_parameters)
    return beta, gamma


def _bn_params(inp, axes, fix_parameters, param_init, no_scale, no_bias):
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    shape_stat = [1] * len(inp.shape)
    for a in axes:
        shape_stat[a] = int(inp.shape[a])
    param_init = dict(param_init or {})
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, param_init, no_bias, no_scale)
    mean = get_parameter_or_create("mean", shape_stat,
                                   param_init.get("mean", ConstantInitializer(0)), False)
    var = get_parameter_or_create("var", shape_stat,
                                  param_init.get("var", ConstantInitializer(1)), False)
    return axes, beta, gamma, mean, var


@parametric_function_api("bn", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True),
    ("mean", "Moving average of batch mean", "<see above>", False),
    ("var", "Moving average of batch variance", "<see above>", False)])
def fused_batch_normalization(inp, z=None, axes=[1], decay_rate=0.9, eps=1e-5,
                              batch_stat=True, nonlinearity="relu", output_stat=False,
                              fix_parameters=False, param_init=None, no_scale=False,
                              no_bias=False):
    """Batch normalization + residual ``z`` + relu: parameters ``bn/beta``, ``bn/gamma``,
    ``bn/mean``, ``bn/var``."""
    axes, beta, gamma, mean, var = _bn_params(inp, axes, fix_parameters, param_init,
                                              no_scale, no_bias)
    return F.fused_batch_normalization(inp, beta, gamma, mean, var, z, axes, decay_rate, eps,
                                       batch_stat, nonlinearity, output_stat)


@parametric_function_api("bn", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True),
    ("mean", "Moving average of batch mean", "<see above>", False),
    ("var", "Moving average of batch variance", "<see above>", False)])
def sync_batch_normalization(inp, comm, group="world", axes=[1], decay_rate=0.9, eps=1e-5,
                             batch_stat=True, output_stat=False, fix_parameters=False,
                             param_init=None, no_scale=False, no_bias=False):
    """Synchronized batch normalization (one process here): parameters ``bn/beta``,
    ``bn/gamma``, ``bn/mean``, ``bn/var``."""
    axes, beta, gamma, mean, var = _bn_params(inp, axes, fix_parameters, param_init,
                                              no_scale, no_bias)
    return F.sync_batch_normalization(inp, beta, gamma, mean, var, comm, group, axes,
                                      decay_rate, eps, batch_stat, output_stat)


@parametric_function_api("mean_subtraction", [
    ("mean", "Moving average", "inp.shape[base_axis:]", False),
    ("t", "Minibatch counter used in forward pass", "(1,)", False)])
def mean_subtraction(inp, base_axis=1, update_running_mean=True, fix_parameters=False):
    """Mean subtraction: state ``mean_subtraction/mean`` (inp.shape[base_axis:]) and
    counter ``mean_subtraction/t`` (1,)."""
    shape = tuple(inp.shape[base_axis:])
    mean = get_parameter_or_create("mean", shape, ConstantInitializer(0), False)
    t = get_parameter_or_create("t", (1,), ConstantInitializer(0), False)
    return F.mean_subtraction(inp, mean, t, base_axis=base_axis,
                              update_running_mean=update_running_mean)


@parametric_function_api("layer_normalization", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True)])
def layer_normalization(inp, batch_axis=0, eps=1e-05, output_stat=False, fix_parameters=False,
                        param_init=None, no_scale=False, no_bias=False):
    """Layer normalization: ``layer_normalization/beta`` and ``/gamma`` of inp's shape with
    the batch axes set to 1 (per-element scale and bias)."""
    batch_axis = [batch_axis] if isinstance(batch_axis, (int, np.integer)) else list(batch_axis)
    shape_stat = [int(s) for s in inp.shape]
    for a in batch_axis:
        shape_stat[a] = 1
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, dict(param_init or {}), no_bias,
                              no_scale)
    return F.layer_normalization(inp, beta, gamma, batch_axis=batch_axis, eps=eps,
                                 output_stat=output_stat)


@parametric_function_api("instance_normalization", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True)])
def instance_normalization(inp, channel_axis=1, batch_axis=0, eps=1e-05, output_stat=False,
                           fix_parameters=False, param_init=None, no_scale=False,
                           no_bias=False):
    """Instance normalization: per-channel ``instance_normalization/beta`` and ``/gamma``."""
    shape_stat = [1] * len(inp.shape)
    shape_stat[channel_axis] = int(inp.shape[channel_axis])
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, dict(param_init or {}), no_bias,
                              no_scale)
    return F.instance_normalization(inp, beta, gamma, channel_axis=channel_axis,
                                    batch_axis=batch_axis, eps=eps, output_stat=output_stat)


@parametric_function_api("group_normalization", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True)])
def group_normalization(inp, num_groups, channel_axis=1, batch_axis=0, eps=1e-05,
                        output_stat=False, fix_parameters=False, param_init=None,
                        no_scale=False, no_bias=False):
    """Group normalization: per-channel ``group_normalization/beta`` and ``/gamma``."""
    batch_axis = [batch_axis] if isinstance(batch_axis, (int, np.integer)) else list(batch_axis)
    shape_stat = [1] * len(inp.shape)
    shape_stat[channel_axis] = int(inp.shape[channel_axis])
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, dict(param_init or {}), no_bias,
                              no_scale)
    return F.group_normalization(inp, beta, gamma, num_groups=num_groups,
                                 channel_axis=channel_axis, batch_axis=batch_axis, eps=eps,
                                 output_stat=output_stat)


@parametric_function_api("prelu", [
    ("slope", "Negative slope", "tuple() if shared else (inp.shape[base_axis],)", True)])
def prelu(inp, base_axis=1, shared=True, fix_parameters=False, slope_init=None):
    """PReLU: ``prelu/slope`` of shape () when ``shared``, else (inp.shape[base_axis],);
    initialized to 0.25."""
    shape = tuple() if shared else (int(inp.shape[base_axis]),)
    if slope_init is None:
        slope_init = ConstantInitializer(0.25)
    w = _param("slope", shape, slope_init, True, fix_parameters)
    return F.prelu(inp, w, base_axis)


@parametric_function_api("spectral-norm", [
    ("u", "singular vector", "(w.shape[dim], )", False)])
def spectral_norm(w, dim=0, itr=1, eps=1e-12, test=False, u_init=None, fix_parameters=True):
    """Spectral normalization of ``w``: vector ``spectral-norm/u`` (w.shape[dim],), drawn
    from N(0, 1) by default and updated by the power iteration unless ``test``."""
    if not 0 <= dim < len(w.shape):
        raise ValueError(f"spectral_norm: dim={dim} must be in [0, {len(w.shape)})")
    if u_init is None:
        u_init = NormalInitializer()
    u = get_parameter_or_create("u", (int(w.shape[dim]),), u_init, False, False)
    return F.spectral_norm(w, u, dim=dim, itr=itr, eps=eps, test=test)


@parametric_function_api("wn", [
    ("g", "Weight Normalization adaptive scale scalar.", "w.shape[dim]", True)])
def weight_normalization(w, dim=0, eps=1e-12, g_init=None, fix_parameters=False):
    """Weight normalization ``g * w / ||w||``: scale ``wn/g`` (w.shape[dim],), initialized
    to the norms of ``w`` by default."""
    outmaps = int(w.shape[dim])
    if g_init is None:
        g_init = WeightNormalizationScaleInitializer(w, dim, eps)
    g = get_parameter_or_create("g", (outmaps,), initializer=g_init, need_grad=True,
                                as_need_grad=not fix_parameters)
    return F.weight_normalization(w, g, dim, eps)


# ---------------------------------------------------------------- attention
@parametric_function_api("multi_head_attention", [
    ("q_weight", "weights for query", "(E, E)", True),
    ("k_weight", "weights for key", "(E_k, E)", True),
    ("v_weight", "weights for value", "(E_v, E)", True),
    ("out_weight", "weigths for out projection", "(E, E)", True),
    ("q_bias", "bias for query", "(E, )", True),
    ("k_bias", "bias for key", "(E, )", True),
    ("v_bias", "bais for value", "(E, )", True),
    ("out_bias", "bias for out projection", "(E, )", True),
    ("attn_bias_k", "attnetion bias for k", "(E, 1)", True),
    ("attn_bias_v", "attnetion bias for v", "(E, 1)", True)])
def multi_head_attention(query, key, value, num_heads=12, dropout=0.0, k_embed_dim=None,
                         v_embed_dim=None, out_dim=None, rng=None, with_bias=True,
                         add_attn_bias=False, additive_mask=None, key_padding_mask=None,
                         fix_parameters=False, param_init=None):
    """Multi-head attention with parameters under ``multi_head_attention``: q/k/v/out
    weights (Glorot uniform), biases (zeros, ``with_bias``), attention biases for key and
    value (``add_attn_bias``). Returns the output and the attention weights."""
    if k_embed_dim is None:
        q_embed_dim = k_embed_dim = int(query.shape[2])
    else:
        q_embed_dim = k_embed_dim
    if v_embed_dim is None:
        v_embed_dim = int(value.shape[2])
    if out_dim is None:
        out_dim = v_embed_dim
    param_init = dict(param_init or {})
    fix = fix_parameters
    q_init = param_init.get("q_weight", UniformInitializer(
        calc_uniform_lim_glorot(query.shape[2], q_embed_dim), rng))
    k_init = param_init.get("k_weight", UniformInitializer(
        calc_uniform_lim_glorot(key.shape[2], k_embed_dim), rng))
    v_init = param_init.get("v_weight", UniformInitializer(
        calc_uniform_lim_glorot(value.shape[2], v_embed_dim), rng))
    qw = _param("q_weight", (int(query.shape[2]), q_embed_dim), q_init, True, fix)
    kw = _param("k_weight", (int(key.shape[2]), k_embed_dim), k_init, True, fix)
    vw = _param("v_weight", (int(value.shape[2]), v_embed_dim), v_init, True, fix)
    o_init = param_init.get("out_weight", UniformInitializer(
        calc_uniform_lim_glorot(v_embed_dim, out_dim), rng))
    ow = _param("out_weight", (v_embed_dim, out_dim), o_init, True, fix)
    qb = kb = vb = ob = None
    if with_bias:
        qb = _param("q_bias", (q_embed_dim,), param_init.get("q_bias", ConstantInitializer()),
                    True, fix)
        kb = _param("k_bias", (k_embed_dim,), param_init.get("k_bias", ConstantInitializer()),
                    True, fix)
        vb = _param("v_bias", (v_embed_dim,), param_init.get("v_bias", ConstantInitializer()),
                    True, fix)
        ob = _param("out_bias", (out_dim,), param_init.get("out_bias", ConstantInitializer()),
                    True, fix)
    abk = abv = None
    if add_attn_bias:
        abk_init = param_init.get("attn_bias_k", UniformInitializer(
            calc_uniform_lim_glorot(k_embed_dim, 1), rng))
        abv_init = param_init.get("attn_bias_v", UniformInitializer(
            calc_uniform_lim_glorot(v_embed_dim, 1), rng))
        abk = _param("attn_bias_k", (1, 1, k_embed_dim), abk_init, True, fix)
        abv = _param("attn_bias_v", (1, 1, v_embed_dim), abv_init, True, fix)
    return F.multi_head_attention(query, key, value, num_heads, qw, kw, vw, ow, qb, kb, vb,
                                  ob, abk, abv, dropout, additive_mask=additive_mask,
                                  key_padding_mask=key_padding_mask)


@parametric_function_api("transformer", [
    ("encoder{layer#}", "parameters for the n'th encoder layer",
     "Refer to transformer_encode for details", True),
    ("decoder{layer#}", "parameters for the n'th decoder layer",
     "Refer to transformer_decode for details", True)])
def transformer(src, tgt, embed_dim=512, num_heads=8, num_encoder_layers=6,
                num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, activation=None,
                src_additive_mask=None, tgt_additive_mask=None, memory_additive_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, rng=None, add_attn_bias=False,
                fix_parameters=False):
    """Transformer (Vaswani et al.): ``num_encoder_layers`` encoder layers
    (``transformer/encoderNN``) over src (L_S, B, E), then ``num_decoder_layers``
    decoder layers (``transformer/decoderNN``) over tgt (L_T, B, E)."""
    if src.shape[1] != tgt.shape[1]:
        raise ValueError(f"transformer: batch sizes of src {tuple(src.shape)} and tgt "
                         f"{tuple(tgt.shape)} differ")
    if src.shape[2] != embed_dim or tgt.shape[2] != embed_dim:
        raise ValueError(f"transformer: the feature sizes of src {tuple(src.shape)} and tgt "
                         f"{tuple(tgt.shape)} must equal embed_dim={embed_dim}")
    memory = src
    for i in range(num_encoder_layers):
        memory = transformer_encode(
            memory, embed_dim=embed_dim, num_heads=num_heads, dim_feedforward=dim_feedforward,
            dropout=dropout, activation=activation, src_additive_mask=src_additive_mask,
            src_key_padding_mask=src_key_padding_mask, rng=rng, add_attn_bias=add_attn_bias,
            fix_parameters=fix_parameters, name="encoder{:02d}".format(i))
    output = tgt
    for i in range(num_decoder_layers):
        output = transformer_decode(
            output, memory, embed_dim=embed_dim, num_heads=num_heads,
            dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
            tgt_additive_mask=tgt_additive_mask, memory_additive_mask=memory_additive_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask, rng=rng,
            add_attn_bias=add_attn_bias, fix_parameters=fix_parameters,
            name="decoder{:02d}".format(i))
    return output


@parametric_function_api("transformer_encode", [
    ("src_self_attn", "self-attention parameters for source sequence",
     "Refer to multi_head_attention for details", True),
    ("enc_affine1", "first affine used in encoder", "Refer to affine for details", True),
    ("enc_affine2", "second affine used in encoder", "Refer to affine for details", True),
    ("enc_layer_norm1", "fist layer normalization used in encoder",
     "Refer to layer_normalization for details", True),
    ("enc_layer_norm2", "second layer normalization used in encoder",
     "Refer to layer_normalization for details", True)])
def transformer_encode(src, embed_dim, num_heads, dim_feedforward=2048, dropout=0.1,
                       activation=None, src_additive_mask=None, src_key_padding_mask=None,
                       rng=None, add_attn_bias=False, fix_parameters=False):
    """One encoder layer: self-attention, residual + layer norm, feed-forward
    (``enc_affine1`` -> activation -> ``enc_affine2``), residual + layer norm.

    As in NNabla, the sub-layers are built with their own defaults (``rng`` and
    ``fix_parameters`` are not passed on)."""
    if activation is None:
        activation = F.relu
    attn = multi_head_attention(src, src, src, num_heads=num_heads,
                                add_attn_bias=add_attn_bias, additive_mask=src_additive_mask,
                                key_padding_mask=src_key_padding_mask,
                                name="src_self_attn")[0]
    if dropout > 0:
        attn = F.dropout(attn, dropout)
    src = layer_normalization(src + attn, batch_axis=(0, 1), name="enc_layer_norm1")
    hidden = activation(affine(src, dim_feedforward, base_axis=2, name="enc_affine1"))
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    hidden = affine(hidden, embed_dim, base_axis=2, name="enc_affine2")
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    return layer_normalization(src + hidden, batch_axis=(0, 1), name="enc_layer_norm2")


@parametric_function_api("transformer_decode", [
    ("tgt_self_attn", "self-attention parameters for target sequence",
     "Refer to multi_head_attention for details", True),
    ("tgt_memory_attn", "attention parameters for target sequence with output from encoder "
     "as key", "Refer to multi_head_attention for details", True),
    ("dec_affine1", "first affine used in decoder", "Refer to affine for details", True),
    ("dec_affine2", "second affine used in decoder", "Refer to affine for details", True),
    ("dec_layer_norm1", "fist layer normalization used in decoder",
     "Refer to layer_normalization for details", True),
    ("dec_layer_norm2", "second layer normalization used in decoder",
     "Refer to layer_normalization for details", True),
    ("dec_layer_norm3", "third layer normalization used in decoder",
     "Refer to layer_normalization for details", True)])
def transformer_decode(tgt, memory, embed_dim, num_heads, dim_feedforward=2048, dropout=0.1,
                       activation=None, tgt_additive_mask=None, memory_additive_mask=None,
                       tgt_key_padding_mask=None, memory_key_padding_mask=None, rng=None,
                       add_attn_bias=False, fix_parameters=False):
    """One decoder layer: self-attention, residual + layer norm, attention over
    ``memory``, residual + layer norm, feed-forward, residual + layer norm."""
    if activation is None:
        activation = F.relu
    attn = multi_head_attention(tgt, tgt, tgt, num_heads=num_heads,
                                add_attn_bias=add_attn_bias, additive_mask=tgt_additive_mask,
                                key_padding_mask=tgt_key_padding_mask,
                                name="tgt_self_attn")[0]
    if dropout > 0:
        attn = F.dropout(attn, dropout)
    tgt = layer_normalization(tgt + attn, batch_axis=(0, 1), name="dec_layer_norm1")
    attn = multi_head_attention(tgt, memory, memory, num_heads=num_heads,
                                add_attn_bias=add_attn_bias,
                                additive_mask=memory_additive_mask,
                                key_padding_mask=memory_key_padding_mask,
                                name="tgt_memory_attn")[0]
    if dropout > 0:
        attn = F.dropout(attn, dropout)
    tgt = layer_normalization(tgt + attn, batch_axis=(0, 1), name="dec_layer_norm2")
    hidden = activation(affine(tgt, dim_feedforward, base_axis=2, name="dec_affine1"))
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    hidden = affine(hidden, embed_dim, base_axis=2, name="dec_affine2")
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    return layer_normalization(tgt + hidden, batch_axis=(0, 1), name="dec_layer_norm3")
