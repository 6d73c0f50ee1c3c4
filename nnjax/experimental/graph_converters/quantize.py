"""Quantization-aware training rewrites (``nnabla.utils.qnn`` drives them).

``QuantizeNonQNNToRecordingModifier`` puts recorders (which track the range of what
passes through) before functions' inputs and parameters; after some training,
the recorders are removed and ``QuantizeRecordingToTrainingModifier`` puts
QuantizeLinear -> DequantizeLinear pairs in their place, with the scales and zero
points computed from the recorded ranges (simulated quantization).

Parameter scopes follow NNabla: ``<Type>-<rank>`` where rank is the function's
number in ``functions_ranks`` (``nnabla.utils.qnn.FunctionsRankRecorder``), the
activation statistics ``x<i>`` (input i), the weight statistics ``w<i>``.
"""
import numpy as np

from ... import functions as F
from ... import parameter
from .graph_converter import FunctionModifier

BINARY = ("Add2", "Sub2", "Mul2", "Div2", "Pow2")
WITH_BIAS = ("Affine", "Convolution", "Deconvolution", "DepthwiseConvolution",
             "DepthwiseDeconvolution")


def _n_activations(type_name, inputs):
    """How many leading inputs are activations (the rest are parameters)."""
    if type_name in ("Concatenate", "Stack"):
        return len(inputs)
    if type_name in BINARY:
        return 2
    return 1


def _axes(cfg):
    return [3] if cfg.channel_last else [1]


def _parent_type(v):
    return None if v.parent is None else v.parent.info.type_name


def _functions_before(f):
    seen, stack, found = set(), [f], []
    while stack:
        for inp in stack.pop().inputs:
            p = inp.parent
            if p is not None and p not in seen:
                seen.add(p)
                found.append(p)
                stack.append(p)
    return found


def _functions_after(f):
    seen, stack, found = set(), [f], []
    while stack:
        for out in stack.pop().outputs:
            for g in out.alive_consumers():
                if g not in seen:
                    seen.add(g)
                    found.append(g)
                    stack.append(g)
    return found


class QuantizeNonQNNToRecordingModifier(FunctionModifier):
    """Put ``config.recorder_activation`` recorders on functions' activation inputs
    and ``config.recorder_weight`` ones on their parameters (``training``: whether
    the recorders update their statistics)."""

    def __init__(self, functions_ranks, config=None, training=True):
        super().__init__()
        if config is None:
            raise ValueError("QuantizeNonQNNToRecordingModifier: give a config "
                             "(nnabla.utils.qnn.QATConfig)")
        self._config = config
        self._fct_bin_set = BINARY
        self._training = training
        self.functions_ranks = functions_ranks

    def get_function_rank(self, f):
        return self.functions_ranks.get(f, -1)

    def _is_skipped_end(self, f):
        """Whether ``f`` is the first of ``skip_inputs_layers`` types from the input or
        the last of ``skip_outputs_layers`` types toward the output."""
        cfg = self._config
        first, last = cfg.skip_inputs_layers, cfg.skip_outputs_layers
        kind = f.info.type_name
        if last and kind in last:
            after = {g.info.type_name for g in _functions_after(f)}
            if not any(t in after for t in last):
                return True
        if first and kind in first:
            before = {g.info.type_name for g in _functions_before(f)}
            if not any(t in before for t in first):
                return True
        return False

    def check(self, f):
        """Whether ``f`` gets recorders."""
        kind = f.info.type_name
        if kind in ("Sink", "BatchNormalization"):
            return False
        if self._config.record_layers and kind not in self._config.record_layers:
            return False
        return not self._is_skipped_end(f)

    def _record(self, x, name):
        return self._config.recorder_activation()(x, axes=_axes(self._config),
                                                   training=self._training, name=name)

    def add_recorder(self, f, inputs, cfg):
        kind = f.info.type_name
        recorder_name = cfg.recorder_activation().name()
        n_act = _n_activations(kind, inputs)
        new_inputs = []
        with parameter.parameter_scope(f"{kind}-{self.get_function_rank(f)}"):
            for i, x in enumerate(inputs[:n_act]):
                refs = x.alive_consumers()
                if refs and refs[0].info.type_name == recorder_name:
                    x = refs[0].outputs[0]  # one recorder per variable
                elif _parent_type(x) != recorder_name:
                    x = self._record(x, f"x{i}")
                new_inputs.append(x)
            for i, p in enumerate(inputs[n_act:]):
                new_inputs.append(cfg.recorder_weight()(p, axes=_axes(cfg),
                                                        training=self._training,
                                                        name=f"w{i}"))
        return new_inputs

    def share_recorder(self, f, inputs, new_inputs, cfg):
        """Add2/Concatenate: every input recorded with the statistics of the input
        nearest to the graph's input (one range for all)."""
        if f.info.type_name not in ("Add2", "Concatenate"):
            return new_inputs
        idx, min_rank = 0, inputs[0].rank
        for i, x in enumerate(new_inputs[1:]):
            if x.rank < min_rank:
                idx, min_rank = i + 1, x.rank
        scope = self.get_parameter_scope(new_inputs[idx].parent.inputs[1])
        for i, x in enumerate(new_inputs):
            if i == idx:
                continue
            with parameter.parameter_scope(scope):
                new_inputs[i] = self._record(x.parent.inputs[0], "x0")
        return new_inputs

    def modify(self, f, inputs):
        if not self.check(f):
            return None
        cfg = self._config
        new_inputs = self.add_recorder(f, inputs, cfg)
        new_inputs = self.share_recorder(f, inputs, new_inputs, cfg)
        h = self._modify_as_same(f, new_inputs)
        if cfg.recorder_position == cfg.RecorderPosition.BOTH:
            refs = f.outputs[0].alive_consumers()
            if refs:
                with parameter.parameter_scope(
                        f"{refs[0].info.type_name}-{self.get_function_rank(refs[0])}"):
                    h = self._record(h, "x0")
        return h


class _SimulatedQNN(object):
    """QuantizeLinear -> DequantizeLinear around each function (SIM_QNN mode)."""

    def __init__(self, functions_ranks, modifier, config):
        self._config = config
        self._modifier = modifier
        self.functions_ranks = functions_ranks

    def get_function_rank(self, f):
        return self.functions_ranks.get(f, -1)

    def _scope(self, f):
        return f"{f.info.type_name}-{self.get_function_rank(f)}"

    def try_to_quantize(self, x, scale, zero_point):
        if scale is None:
            return x
        cfg = self._config
        return F.quantize_linear(x, scale, zero_point, cfg.round_mode, cfg.narrow_range,
                                 cfg.dtype)

    @staticmethod
    def try_to_dequantize(x, scale, zero_point):
        return x if scale is None else F.dequantize_linear(x, scale, zero_point)

    @staticmethod
    def get_quantization_params(v):
        if _parent_type(v) == "QuantizeLinear":
            return v.parent.inputs[1].d, v.parent.inputs[2].d
        return None, None

    def _scale(self, callback, x, name):
        cfg = self._config
        return callback.get_scale_zeropoint(x, axes=_axes(cfg), narrow_range=cfg.narrow_range,
                                            round_method=cfg.pow2.value, name=name)

    def quantize_inputs(self, f, inputs):
        cfg = self._config
        n_act = _n_activations(f.info.type_name, inputs)
        quantized = []
        with parameter.parameter_scope(self._scope(f)):
            for i, x in enumerate(inputs[:n_act]):
                if x.rank == 0:  # a graph input: quantize it here
                    s, zp = self._scale(cfg.recorder_activation, x, f"x{i}")
                    x = self.try_to_quantize(x, s, zp)
                quantized.append(x)
            for i, p in enumerate(inputs[n_act:]):
                s, zp = self._scale(cfg.recorder_weight, p, f"w{i}")
                quantized.append(self.try_to_quantize(p, s, zp))
        return self.requantize_bias(f, quantized)

    def requantize_bias(self, f, inputs):
        """A bias is quantized with scale sx * sw and the input's zero point."""
        if f.info.type_name not in WITH_BIAS or len(inputs) != 3:
            return inputs
        x, w, b = inputs
        sx, zpx = self.get_quantization_params(x)
        sw, _ = self.get_quantization_params(w)
        if sx is None or sw is None:
            return inputs
        with parameter.parameter_scope(self._scope(f)):
            sb = parameter.get_parameter_or_create(
                "scale-b", (1,), np.reshape(sx, (1,)) * np.reshape(sw, (1,)), False)
            zpb = parameter.get_parameter_or_create("zeropoint-b", (1,),
                                                    np.reshape(np.array(zpx), (1,)), False)
        if _parent_type(b) == "QuantizeLinear":
            b = b.parent.inputs[0]
            if not self._config.skip_bias:
                b = self.try_to_quantize(b, sb, zpb)
            inputs[2] = b
        return inputs

    def dequantize_inputs(self, inputs):
        out = []
        for v in inputs:
            for ref in v.alive_consumers():
                if ref.info.type_name == "DequantizeLinear":
                    v = ref.outputs[0]  # one DequantizeLinear per quantized variable
                    break
            s, zp = (v.parent.inputs[1], v.parent.inputs[2]) \
                if _parent_type(v) == "QuantizeLinear" else (None, None)
            out.append(self.try_to_dequantize(v, s, zp))
        return out

    def shared_quantization(self, f, inputs):
        """Add2/Concatenate: all inputs quantized with the scale of the input nearest
        to the graph's input."""
        if f.info.type_name not in ("Add2", "Concatenate"):
            return inputs
        idx, min_rank = 0, inputs[0].rank
        for i, x in enumerate(inputs[1:]):
            if _parent_type(x) == "DequantizeLinear" and x.rank < min_rank:
                idx, min_rank = i + 1, x.rank
        s = zp = None
        if _parent_type(inputs[idx]) == "DequantizeLinear":
            s, zp = inputs[idx].parent.inputs[1:3]
        for i in range(len(inputs)):
            if i == idx:
                continue
            if _parent_type(inputs[i]) == "DequantizeLinear":
                inputs[i] = inputs[i].parent.inputs[0].parent.inputs[0]
            inputs[i] = self.try_to_dequantize(self.try_to_quantize(inputs[i], s, zp), s, zp)
        return inputs

    def quantize_output(self, f, h):
        """Quantize ``h`` with the statistics recorded before the next function."""
        cfg = self._config
        s = zp = None
        for nxt in f.outputs[0].alive_consumers():
            if nxt.info.type_name == "Sink":
                return h
            name = "x0"
            if nxt.info.type_name in BINARY:
                for i, v in enumerate(nxt.inputs):
                    if f.outputs[0] == v:
                        name = f"x{i}"
            with parameter.parameter_scope(self._scope(nxt)):
                s, zp = self._scale(cfg.recorder_activation, h, name)
            if s is not None:
                break
        return self.try_to_quantize(h, s, zp)

    def modify(self, f, inputs):
        inputs = self.quantize_inputs(f, list(inputs))
        inputs = self.dequantize_inputs(inputs)
        inputs = self.shared_quantization(f, inputs)
        h = self._modifier._modify_as_same(f, inputs)
        if f.info.type_name == "Sink":
            return h
        return self.quantize_output(f, h)


class QuantizeRecordingToTrainingModifier(FunctionModifier):
    """Replace a graph whose recorders were removed by its simulated-quantization
    version (``config.precision_mode`` SIM_QNN), reading the recorded statistics."""

    def __init__(self, functions_ranks, config=None):
        super().__init__()
        if config is None:
            raise ValueError("QuantizeRecordingToTrainingModifier: give a config "
                             "(nnabla.utils.qnn.QATConfig)")
        self._fct_bin_set = BINARY
        mode = getattr(config.precision_mode, "name", config.precision_mode)
        if mode != "SIM_QNN":
            raise ValueError(f"QuantizeRecordingToTrainingModifier: precision_mode {mode} is "
                             "not supported (as in NNabla, only SIM_QNN is)")
        self._mode = _SimulatedQNN(functions_ranks, self, config)

    def modify(self, f, inputs):
        return self._mode.modify(f, inputs)
