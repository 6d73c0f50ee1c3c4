"""Parametric functions, as ``nnabla.parametric_functions``.

Each creates (or reuses) its parameters inside a parameter scope named after
the function (``affine``, ``conv``, ``deconv``, ``bn``, ``embed``), nested in
``name`` when that is given,
with NNabla's parameter names, shapes, creation order and default
initializers, then applies the plain function from ``nnabla.functions``.
"""
import contextlib
import functools
import inspect

import numpy as np

from .. import functions as F
from ..initializer import (ConstantInitializer, UniformInitializer,
                          calc_uniform_lim_glorot)
from ..parameter import get_parameter_or_create, parameter_scope


def parametric_function_api(scope_name=None, param_desc=None):
    """Decorator: run the function inside ``parameter_scope(scope_name)``.

    The wrapped function gains a ``name`` keyword argument; when given, the scope
    ``scope_name`` is opened inside ``parameter_scope(name)`` (so ``PF.affine(x, 3,
    name="fc")`` creates ``fc/affine/W``), as NNabla does.
    """
    def decorator(func):
        sig = inspect.signature(func)
        params = list(sig.parameters.values())
        if "name" not in sig.parameters:
            params.append(inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None))

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            name = kwargs.pop("name", None)
            with contextlib.ExitStack() as stack:
                if name is not None:
                    stack.enter_context(parameter_scope(name))
                if scope_name is not None:
                    stack.enter_context(parameter_scope(scope_name))
                return func(*args, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=params)
        wrapper._param_desc = param_desc or []
        wrapper._scope_name = scope_name
        return wrapper
    return decorator


def _as_tuple(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (int(v),)


def _param(name, shape, init, need_grad, fix):
    return get_parameter_or_create(name, shape, init, need_grad, not fix)


def _weight_and_bias(w_shape, w_init, b_shape, b_init, with_bias, fix, apply_w, apply_b):
    """Create (or reuse) ``W`` then ``b`` in the current scope, as NNabla orders them."""
    w = _param("W", w_shape, w_init, True, fix)
    if apply_w is not None:
        w = apply_w(w)
    b = None
    if with_bias:
        b = _param("b", b_shape, b_init, True, fix)
        if apply_b is not None:
            b = apply_b(b)
    return w, b


@parametric_function_api("affine", [
    ("W", "Weight matrix", "(inmaps, *outmaps)", True),
    ("b", "Bias vector", "(*outmaps,)", True)])
def affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None, fix_parameters=False,
           rng=None, with_bias=True, apply_w=None, apply_b=None):
    """Fully connected layer: parameters ``affine/W`` and ``affine/b``."""
    n_outmaps = _as_tuple(n_outmaps)
    inmaps = int(np.prod(inp.shape[base_axis:]))
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, int(np.prod(n_outmaps))),
                                    rng=rng)
    if with_bias and b_init is None:
        b_init = ConstantInitializer()
    w, b = _weight_and_bias((inmaps,) + n_outmaps, w_init, n_outmaps, b_init, with_bias,
                            fix_parameters, apply_w, apply_b)
    return F.affine(inp, w, b, base_axis)


@parametric_function_api("conv", [
    ("W", "Filter weights", "(outmaps, inmaps // group, *kernel)", True),
    ("b", "Bias vector", "(outmaps,)", True)])
def convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                channel_last=False, w_init=None, b_init=None, base_axis=1,
                fix_parameters=False, rng=None, with_bias=True, apply_w=None, apply_b=None):
    """N-d convolution: parameters ``conv/W`` and ``conv/b``."""
    kernel = _as_tuple(kernel)
    inmaps = inp.shape[-1] if channel_last else inp.shape[base_axis]
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, kernel), rng=rng)
    if with_bias and b_init is None:
        b_init = ConstantInitializer()
    if inmaps % group:
        raise ValueError(f"convolution: {inmaps} input channels are not divisible by group={group}")
    if channel_last:
        w_shape = (outmaps,) + kernel + (inmaps // group,)
    else:
        w_shape = (outmaps, inmaps // group) + kernel
    w, b = _weight_and_bias(w_shape, w_init, (outmaps,), b_init, with_bias, fix_parameters,
                            apply_w, apply_b)
    return F.convolution(inp, w, b, base_axis, pad, stride, dilation, group, channel_last)


@parametric_function_api("deconv", [
    ("W", "Filter weights", "(inmaps, outmaps // group, *kernel)", True),
    ("b", "Bias vector", "(outmaps,)", True)])
def deconvolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                  channel_last=False, output_padding=None, w_init=None, b_init=None,
                  base_axis=1, fix_parameters=False, rng=None, with_bias=True,
                  apply_w=None, apply_b=None):
    """N-d transposed convolution: parameters ``deconv/W`` and ``deconv/b``."""
    kernel = _as_tuple(kernel)
    inmaps = inp.shape[-1] if channel_last else inp.shape[base_axis]
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, kernel), rng=rng)
    if with_bias and b_init is None:
        b_init = ConstantInitializer()
    if outmaps % group:
        raise ValueError(f"deconvolution: outmaps={outmaps} is not divisible by group={group}")
    if channel_last:
        w_shape = (inmaps,) + kernel + (outmaps // group,)
    else:
        w_shape = (inmaps, outmaps // group) + kernel
    w, b = _weight_and_bias(w_shape, w_init, (outmaps,), b_init, with_bias, fix_parameters,
                            apply_w, apply_b)
    return F.deconvolution(inp, w, b, base_axis, pad, stride, dilation, group, channel_last,
                           output_padding)


@parametric_function_api("bn", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True),
    ("mean", "Moving average of batch mean", "<see above>", False),
    ("var", "Moving average of batch variance", "<see above>", False)])
def batch_normalization(inp, axes=[1], decay_rate=0.9, eps=1e-5, batch_stat=True,
                        output_stat=False, fix_parameters=False, param_init=None,
                        no_scale=False, no_bias=False):
    """Batch normalization: parameters ``bn/beta``, ``bn/gamma``, ``bn/mean``, ``bn/var``."""
    ndim = len(inp.shape)
    axes = [a % ndim for a in ([axes] if isinstance(axes, int) else axes)]
    shape_stat = tuple(inp.shape[a] if a in axes else 1 for a in range(ndim))
    param_init = dict(param_init or {})
    beta = gamma = None
    if not no_bias:
        beta = _param("beta", shape_stat, param_init.get("beta", ConstantInitializer(0)),
                      True, fix_parameters)
    if not no_scale:
        gamma = _param("gamma", shape_stat, param_init.get("gamma", ConstantInitializer(1)),
                       True, fix_parameters)
    mean = get_parameter_or_create("mean", shape_stat,
                                   param_init.get("mean", ConstantInitializer(0)), False)
    var = get_parameter_or_create("var", shape_stat,
                                  param_init.get("var", ConstantInitializer(1)), False)
    return F.batch_normalization(inp, beta, gamma, mean, var, axes, decay_rate, eps,
                                 batch_stat, output_stat)


@parametric_function_api("embed", [
    ("W", "Embedding matrix", "(n_inputs, n_features)", True)])
def embed(inp, n_inputs, n_features, initializer=None, fix_parameters=False, apply_w=None):
    """Embedding lookup: parameter ``embed/W`` of shape (n_inputs, n_features)."""
    if initializer is None:
        initializer = UniformInitializer((-np.sqrt(3.0), np.sqrt(3.0)))
    w = _param("W", (n_inputs, n_features), initializer, True, fix_parameters)
    if apply_w is not None:
        w = apply_w(w)
    return F.embed(inp, w)
