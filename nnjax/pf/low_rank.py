"""Factorized (low-rank) PFs: svd_affine, svd_convolution and cpd3_convolution.

Random initial values are drawn from ``nnabla.random.prng`` (or ``rng``) in the
same order as NNabla draws them.
"""
from functools import reduce

import numpy as np

from .. import functions as F
from ..initializer import UniformInitializer, calc_uniform_lim_glorot
from .._variable import Variable
from ..parameter import get_parameter, set_parameter
from ._common import _F32, _bias, _tuple
from .core import parametric_function_api


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
