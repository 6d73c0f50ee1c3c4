"""Channel-first (N, C, ...) graphs rebuilt channel-last (N, ..., C) and back."""
import numpy as np

from ..._variable import Variable
from ...logger import logger
from .graph_converter import (FunctionModifier, call_function, parameter_beside,
                              present_input_names)

CONVERTED = ("Convolution", "Deconvolution", "BatchNormalization", "MaxPooling",
             "AveragePooling", "SumPooling", "Unpooling", "Concatenate", "Affine",
             "GlobalAveragePooling")


# types whose result does not depend on which axis holds the channels
ELEMENTWISE = frozenset("""ReLU LeakyReLU ReLU6 Sigmoid Tanh ELU SELU CELU GELU Swish Mish
SoftPlus SoftSign HardSigmoid HardTanh TanhShrink LogSigmoid Identity Abs Exp Log Sqrt Sign
Sin Cos Round Ceil Floor Add2 Sub2 Mul2 Div2 Pow2 Maximum2 Minimum2 AddScalar MulScalar
PowScalar RSubScalar RDivScalar RPowScalar MaximumScalar MinimumScalar Sink Dropout
AddN MulN""".split())


def _to_last(a):
    return np.moveaxis(a, 1, -1)


def _to_first(a):
    return np.moveaxis(a, -1, 1)


class _LayoutModifier(FunctionModifier):
    """Shared by ChannelLastModifier and ChannelFirstModifier."""

    _last = True
    _suffix = "_cl"

    def __init__(self, inputs, new_inputs=None):
        super().__init__()
        self._inputs = list(inputs)
        self._given_inputs = new_inputs
        self._warned = set()
        self._prepare_inputs()

    def _move(self, a):
        return _to_last(a) if self._last else _to_first(a)

    def _prepare_inputs(self):
        news = self._given_inputs
        if news is None and getattr(self, "_new_inputs_list", None) is not None:
            news = self._new_inputs_list  # made once: the converted graph reads them
        if news is None:
            news = []
            for inp in self._inputs:
                if inp.ndim < 3:
                    raise ValueError(f"{type(self).__name__}: input of shape {inp.shape} has "
                                     "no spatial axes to move the channel axis across")
                v = Variable.from_numpy_array(self._move(np.asarray(inp.d)).copy())
                news.append(v)
        self._new_inputs_list = list(news)
        for inp, new in zip(self._inputs, news):
            for f in inp.alive_consumers():
                self.init_map_func_inputs(f, [new if i == inp else None for i in f.inputs])

    def _new_inputs(self, f):
        # the graph's inputs, or copies sharing their buffers (a converted graph's)
        inputs = super()._new_inputs(f)
        for i, v in enumerate(inputs):
            if v is not None and v.parent is None:
                for orig, new in zip(self._inputs, self._new_inputs_list):
                    if v == orig:
                        inputs[i] = new
        return inputs

    def _param(self, name, var, values):
        return parameter_beside(var, name, values, var.need_grad)

    def _weight(self, kind, w):
        # conv (O, I, k...) <-> (O, k..., I); deconv (I, O, k...) <-> (I, k..., O)
        wd = np.asarray(w.d)
        wd = np.moveaxis(wd, 1, -1) if self._last else np.moveaxis(wd, -1, 1)
        return self._param("W" + self._suffix, w, np.ascontiguousarray(wd))

    def modify(self, f, inputs):
        kind = f.info.type_name
        if kind not in CONVERTED:
            if kind not in ELEMENTWISE and kind not in self._warned:
                self._warned.add(kind)
                logger.warning(f"{type(self).__name__}: {kind} is kept as it is; it may "
                               "depend on the channel axis, check the converted outputs")
            return None
        args = dict(f.info.args)
        x = inputs[0]
        if kind in ("Convolution", "Deconvolution"):
            if x.ndim < 3:
                return None
            args["channel_last"] = self._last
            w = self._weight(kind, inputs[1])
            return call_function(kind, [x, w] + list(inputs[2:]), args)
        if kind == "BatchNormalization":
            args["axes"] = [x.ndim - 1] if self._last else [1]
            new = [x]
            short = {"beta": "beta", "gamma": "gamma", "mean": "mean", "variance": "var"}
            for name, p in zip(present_input_names(f)[1:], inputs[1:]):
                new.append(self._param(short[name] + self._suffix, p,
                                       np.ascontiguousarray(self._move(np.asarray(p.d)))))
            return call_function(kind, new, args)
        if kind in ("MaxPooling", "AveragePooling", "SumPooling"):
            args["channel_last"] = self._last
            return call_function(kind, inputs, args)
        if kind == "Concatenate":
            args["axis"] = x.ndim - 1 if self._last else 1
            return call_function(kind, inputs, args)
        if kind == "Affine":
            return self._affine(inputs, args)
        if kind == "GlobalAveragePooling" and self._last:  # (N, 1.., C): a mean over space
            return call_function("Mean", inputs, {"axes": list(range(1, x.ndim - 1)),
                                                  "keep_dims": True})
        return call_function(kind, inputs, args)  # Unpooling: spatial kernel only

    def _affine(self, inputs, args):
        x, w = inputs[0], inputs[1]
        base = args["base_axis"]
        rows = x.shape[base:]
        if len(rows) < 2:  # no spatial axes: nothing to reorder
            return call_function("Affine", inputs, args)
        wd = np.asarray(w.d)
        if self._last:  # rows ordered (..., C) now; the weight's rows were (C, ...)
            src = (rows[-1],) + rows[:-1]
            wd = np.moveaxis(wd.reshape(src + (-1,)), 0, len(rows) - 1)
        else:
            src = rows[1:] + (rows[0],)
            wd = np.moveaxis(wd.reshape(src + (-1,)), len(rows) - 1, 0)
        wd = np.ascontiguousarray(wd.reshape(w.shape))
        w_new = self._param("w" + self._suffix, w, wd)
        return call_function("Affine", [x, w_new] + list(inputs[2:]), args)

    def __finish__(self):
        self._prepare_inputs()


class ChannelLastModifier(_LayoutModifier):
    """Rebuild a channel-first graph channel-last.

    ``inputs``: the graph's channel-first inputs; ``inputs_cl``: their channel-last
    versions (default: new variables holding the transposed values, kept in
    ``self.inputs_cl``). Convolution/Deconvolution get ``channel_last=True`` and new
    weights ``W_cl``; BatchNormalization normalizes the last axis with parameters
    ``beta_cl``, ``gamma_cl``, ``mean_cl``, ``var_cl``; pooling and Concatenate
    switch axis; GlobalAveragePooling becomes a mean over the spatial axes; Affine
    after them reads its weight rows reordered (``w_cl``).
    """

    _last = True
    _suffix = "_cl"

    def __init__(self, inputs, inputs_cl=None):
        super().__init__(inputs, inputs_cl)

    @property
    def inputs_cl(self):
        return self._new_inputs_list
