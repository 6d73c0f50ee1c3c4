"""Fold BatchNormalization (test-mode statistics) into a neighbouring Convolution,
Deconvolution or Affine: ``ip -> BN`` (default) or ``BN -> ip`` (``opposite``).

The folded weights are new parameters ``w-folded`` and ``b-folded`` in the scope of
the original weight; the original parameters are not changed.
"""
import numpy as np

from ... import functions as F
from .graph_converter import (FunctionModifier, call_function, parameter_beside,
                              present_input_names)

FOLDABLE = ("Affine", "Convolution", "Deconvolution")


def bn_coefficients(bn_func):
    """(c0, c1) per channel with BN(x) = c0 * x + c1 in test mode."""
    present = dict(zip(present_input_names(bn_func), bn_func.inputs))
    var = np.asarray(present["variance"].d, np.float64).reshape(-1)
    mean = np.asarray(present["mean"].d, np.float64).reshape(-1)
    gamma = (np.asarray(present["gamma"].d, np.float64).reshape(-1)
             if "gamma" in present else np.ones_like(var))
    beta = (np.asarray(present["beta"].d, np.float64).reshape(-1)
            if "beta" in present else np.zeros_like(var))
    c0 = gamma / np.sqrt(var + bn_func.info.args["eps"])
    return c0, beta - c0 * mean


def _bn_axis(bn_func):
    axes = list(bn_func.info.args["axes"])
    if len(axes) != 1:
        return None
    return axes[0] % len(bn_func.inputs[0].shape)


def _channel_axis(ip_func, var):
    """The channel axis of ``var`` (an input or output of ``ip_func``)."""
    args = ip_func.info.args
    if ip_func.info.type_name == "Affine":
        return args["base_axis"] if var.ndim > args["base_axis"] else None
    return var.ndim - 1 if args.get("channel_last") else args["base_axis"]


def _group(args):
    return int(args.get("group", 1))


def can_fold_after(ip_func, bn_func):
    """Whether ``bn`` normalizes the output channels of ``ip`` (so it folds into it)."""
    if ip_func.info.type_name == "Affine" and ip_func.inputs[1].ndim != 2:
        return False
    return _bn_axis(bn_func) == _channel_axis(ip_func, ip_func.outputs[0])


def folded_after(kind, args, w, b, c0, c1, xp=np):
    """Weights (w, b) of a ``kind`` function with ``args`` and weights (w, b or None)
    whose output is then scaled by c0 and shifted by c1 per channel; ``xp`` is numpy
    or jax.numpy (the same rule folds at conversion time or inside a JAX function)."""
    if kind == "Affine":
        w = w * c0[None, :]
    elif kind == "Convolution":
        w = w * c0.reshape((-1,) + (1,) * (w.ndim - 1))
    else:  # Deconvolution: (I, O/g, k...) or (I, k..., O/g)
        g = _group(args)
        o_axis = w.ndim - 1 if args.get("channel_last") else 1
        wl = xp.moveaxis(w, o_axis, -1)  # (I, ..., O/g)
        wg = wl.reshape((g, wl.shape[0] // g) + wl.shape[1:])
        scale = c0.reshape((g,) + (1,) * (wg.ndim - 2) + (-1,))
        w = xp.moveaxis((wg * scale).reshape(wl.shape), -1, o_axis)
    return w, (c1 if b is None else c1 + c0 * b.reshape(-1))


def fold_after(ip_func, bn_func):
    """Weights (w, b) of ``ip`` followed by ``bn``, as numpy arrays; None if BN does
    not normalize ``ip``'s output channels."""
    if not can_fold_after(ip_func, bn_func):
        return None
    c0, c1 = bn_coefficients(bn_func)
    w = np.asarray(ip_func.inputs[1].d, np.float64)
    b = np.asarray(ip_func.inputs[2].d, np.float64) if len(ip_func.inputs) == 3 else None
    w, b = folded_after(ip_func.info.type_name, ip_func.info.args, w, b, c0, c1)
    return w.astype(np.float32), b.astype(np.float32)


def fold_before(bn_func, ip_func):
    """Weights (w, b) of ``ip`` preceded by ``bn`` (its input 0); None when BN's
    channels are not ``ip``'s input channels. A zero padding of ``ip`` pads the
    normalized input, so with ``pad`` > 0 the border outputs differ (as in NNabla)."""
    x = ip_func.inputs[0]
    axis = _bn_axis(bn_func)
    kind = ip_func.info.type_name
    args = ip_func.info.args
    c0, c1 = bn_coefficients(bn_func)
    w = np.asarray(ip_func.inputs[1].d, np.float64)
    if kind == "Affine":
        base = args["base_axis"]
        if axis is None or axis < base or w.ndim != 2:
            return None
        shape = [1] * (x.ndim - base)
        shape[axis - base] = -1
        rows = x.shape[base:]
        s0 = np.broadcast_to(c0.reshape(shape), rows).reshape(-1)
        s1 = np.broadcast_to(c1.reshape(shape), rows).reshape(-1)
        b = s1 @ w
        w = w * s0[:, None]
    else:
        if axis != _channel_axis(ip_func, x):
            return None
        g = _group(args)
        last = bool(args.get("channel_last"))
        if kind == "Convolution":  # (O, I/g, k...) or (O, k..., I/g)
            wi = np.moveaxis(w, w.ndim - 1 if last else 1, 1)  # (O, I/g, k...)
            o, ig = wi.shape[:2]
            s0 = c0.reshape(g, 1, ig)
            s1 = c1.reshape(g, 1, ig)
            wg = wi.reshape((g, o // g, ig) + wi.shape[2:])
            extra = (1,) * (wg.ndim - 3)
            b = (wg * s1.reshape(s1.shape + extra)).reshape(o, -1).sum(axis=1)
            wi = (wg * s0.reshape(s0.shape + extra)).reshape(wi.shape)
            w = np.moveaxis(wi, 1, w.ndim - 1 if last else 1)
        else:  # Deconvolution: (I, O/g, k...) or (I, k..., O/g)
            wo = np.moveaxis(w, w.ndim - 1 if last else 1, 1)  # (I, O/g, k...)
            i, og = wo.shape[:2]
            extra = (1,) * (wo.ndim - 1)
            contrib = (wo * c1.reshape((-1,) + extra)).reshape(g, i // g, og, -1)
            b = contrib.sum(axis=(1, 3)).reshape(-1)
            w = np.moveaxis(wo * c0.reshape((-1,) + extra), 1, w.ndim - 1 if last else 1)
    if len(ip_func.inputs) == 3:
        b = b + np.asarray(ip_func.inputs[2].d, np.float64).reshape(-1)
    return w.astype(np.float32), b.astype(np.float32)


def _single_consumer(var):
    refs = var.alive_consumers()
    return refs[0] if len(refs) == 1 else None


def _folded_parameters(modifier, w_var, b_var, w_data, b_data):
    return (parameter_beside(w_var, "w-folded", w_data, w_var.need_grad),
            parameter_beside(w_var, "b-folded", b_data, b_var.need_grad))


class BatchNormBase(object):
    """NNabla's mix-in of the folding modifiers: ``connect(f, x, w, b)`` calls the
    function type of ``f`` (Affine, Convolution or Deconvolution) again, with its
    arguments, on new inputs."""

    def __init__(self):
        super().__init__()
        self._fct_set = {"Affine": F.affine, "Convolution": F.convolution,
                         "Deconvolution": F.deconvolution}

    def connect(self, f, x, w, b):
        return self._fct_set[f.info.type_name](x, w, b, **f.info.args)


class AddBiasModifier(FunctionModifier, BatchNormBase):
    """Give a Convolution/Deconvolution/Affine next to a BatchNormalization a zero
    bias ``b`` (in its weight's scope) when it has none, so folding has a bias."""

    def modify(self, f, inputs):
        if f.info.type_name not in FOLDABLE or len(inputs) == 3:
            return None
        nxt = _single_consumer(f.outputs[0])
        prev = f.inputs[0].parent
        near_bn = ((nxt is not None and nxt.info.type_name == "BatchNormalization")
                   or (prev is not None and prev.info.type_name == "BatchNormalization"))
        if not near_bn:
            return None
        w = inputs[1]
        if f.info.type_name == "Affine":
            n_out = w.shape[1]
        elif f.info.type_name == "Convolution":
            n_out = w.shape[0]
        else:
            n_out = (w.shape[-1] if f.info.args.get("channel_last") else w.shape[1]) * _group(
                f.info.args)
        b = parameter_beside(w, "b", np.zeros(n_out), True)
        return call_function(f.info.type_name, [inputs[0], w, b], f.info.args)


class BatchNormalizationFoldingModifierInner(FunctionModifier, BatchNormBase):
    """``ip -> BN`` (ip's output used only by the BN) becomes one ``ip`` with folded
    weights; any other BN is left as it is."""

    def __init__(self, channel_last=False):
        super().__init__()
        self._channel_last = channel_last  # layouts are read from each function's args
        self._folded_bns = set()

    def modify(self, f, inputs):
        if f.info.type_name == "BatchNormalization":
            if f in self._folded_bns:
                return inputs[0]
            return None
        if f.info.type_name not in FOLDABLE:
            return None
        bn = _single_consumer(f.outputs[0])
        if bn is None or bn.info.type_name != "BatchNormalization" or bn.inputs[0] != f.outputs[0]:
            return None
        folded = fold_after(f, bn)
        if folded is None:
            return None
        w, b = _folded_parameters(self, inputs[1], inputs[2] if len(inputs) == 3 else inputs[1],
                                  *folded)
        self._folded_bns.add(bn)
        return call_function(f.info.type_name, [inputs[0], w, b], f.info.args)

    def __finish__(self):
        self._folded_bns = set()


class BatchNormalizationFoldingOppositeModifierInner(FunctionModifier, BatchNormBase):
    """``BN -> ip`` becomes one ``ip`` (reading the BN's input) with folded weights.

    A BN whose output also feeds other functions is kept for them, unless it is
    the identity (scale 1, shift 0 within 1e-5), when it is dropped everywhere.
    (NNabla drops such a BN for every consumer whatever its statistics.)"""

    def __init__(self, channel_last=False):
        super().__init__()
        self._channel_last = channel_last
        self._folded = {}  # ip function -> (new input of the BN, folded w, folded b)

    def modify(self, f, inputs):
        if f.info.type_name == "BatchNormalization":
            return self._fold_into_consumers(f, inputs)
        if f in self._folded:
            x, w_data, b_data = self._folded[f]
            b_var = inputs[2] if len(inputs) == 3 else inputs[1]
            w, b = _folded_parameters(self, inputs[1], b_var, w_data, b_data)
            return call_function(f.info.type_name, [x, w, b], f.info.args)
        return None

    def _fold_into_consumers(self, bn, inputs):
        consumers = bn.outputs[0].alive_consumers()
        folded = {}
        for ip in consumers:
            if ip.info.type_name in FOLDABLE and ip.inputs[0] == bn.outputs[0]:
                weights = fold_before(bn, ip)
                if weights is not None:
                    folded[ip] = (inputs[0],) + weights
        if not folded:
            return None
        self._folded.update(folded)
        c0, c1 = bn_coefficients(bn)
        identity = np.allclose(c0, 1, rtol=0, atol=1e-5) and np.allclose(c1, 0, rtol=0, atol=1e-5)
        if len(folded) == len(consumers) or identity:
            return inputs[0]
        return None

    def __finish__(self):
        self._folded = {}


class BatchNormalizationFoldingModifier(object):
    """Fold BN into the Convolution/Deconvolution/Affine before it (or, with
    ``opposite``, after it). Constructing it gives the list
    ``[AddBiasModifier(), <the folding modifier>]`` for GraphConverter."""

    def __new__(cls, opposite=False, channel_last=False):
        inner = (BatchNormalizationFoldingOppositeModifierInner if opposite
                 else BatchNormalizationFoldingModifierInner)
        return [AddBiasModifier(), inner(channel_last=channel_last)]
