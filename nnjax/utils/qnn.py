"""``nnabla.utils.qnn``: quantization-aware training helpers.

Recorders pass their input through unchanged and, while ``training``, update the
statistics they are given (``m``/``M`` parameters): min and max, absolute max, or
moving averages. In nnjax they are graph functions whose statistics are in-place
state (like batch normalization's running statistics), so they run inside the
same compiled program as the rest of the graph and take no gradient.
``<Recorder>Callback`` objects create the statistics parameters
(``m-<name>``, ``M-<name>``) and turn them into a scale and zero point
(``scale-<name>``, ``zeropoint-<name>``) for QuantizeLinear.
"""
from enum import Enum

import jax.numpy as jnp
import numpy as np

from .. import parameter
from ..experimental import graph_converters as GC
from .._apply import apply_function
from .._registry import internal_spec
from ..context import get_current_context
from ..initializer import ConstantInitializer
from ..logger import logger
from ..parameter import get_parameters
from .save import save as save_nnp

__round_methods__ = {
    'CEIL': np.ceil,
    'ROUND': np.round,
    'FLOOR': np.floor,
    'NOTROUND': None,
}


# ---------------------------------------------------------------- recorder lowerings
def _minmax_minmax(x, m, M, training=True):
    if not training:
        return x, m, M
    return x, jnp.minimum(m, jnp.min(x)), jnp.maximum(M, jnp.max(x))


def _minmax_mva(x, m, M, training=True, decay=0.99):
    if not training:
        return x, m, M
    return x, decay * m + (1 - decay) * jnp.min(x), decay * M + (1 - decay) * jnp.max(x)


def _abs_max(x, M, training=True):
    return (x, jnp.maximum(M, jnp.max(jnp.abs(x)))) if training else (x, M)


def _max_max(x, M, training=True):
    return (x, jnp.maximum(M, jnp.max(x))) if training else (x, M)


def _max_mva(x, M, training=True, decay=0.99):
    return (x, decay * M + (1 - decay) * jnp.max(x)) if training else (x, M)


_SPECS = {
    "MinMaxMinMaxRecorder": internal_spec("MinMaxMinMaxRecorder", _minmax_minmax,
                                          state_inputs=(1, 2)),
    "MinMaxMvaRecorder": internal_spec("MinMaxMvaRecorder", _minmax_mva, state_inputs=(1, 2)),
    "AbsMaxRecorder": internal_spec("AbsMaxRecorder", _abs_max, state_inputs=(1,)),
    "MaxMaxRecorder": internal_spec("MaxMaxRecorder", _max_max, state_inputs=(1,)),
    "MaxMvaRecorder": internal_spec("MaxMvaRecorder", _max_mva, state_inputs=(1,)),
}


class _Recorder(object):
    """A recorder function object: ``Recorder(ctx, training)(x, <statistics>)``."""

    _n_stats = 2

    def __init__(self, ctx=None, training=True):
        self.ctx = ctx
        self.training = training

    @property
    def name(self):
        return type(self).__name__

    @property
    def args(self):
        return {"training": bool(self.training)}

    def min_outputs(self):
        return 1

    def __call__(self, x, *stats):
        if len(stats) != self._n_stats:
            raise ValueError(f"{self.name}: takes the data and {self._n_stats} statistics "
                             f"variable(s), got {len(stats)}")
        for s in stats:
            if s.ndim != x.ndim or int(np.prod(s.shape)) != 1:
                raise ValueError(f"{self.name}: statistics must have one element and the "
                                 f"data's ndim {x.ndim}; got shape {tuple(s.shape)}")
        return apply_function(self.name, [x] + list(stats), self.args, spec=_SPECS[self.name])


class MinMaxMinMaxRecorder(_Recorder):
    """Records the smallest min and largest max of the data over the iterations."""


class MinMaxMvaRecorder(_Recorder):
    """Records moving averages (``decay``) of the data's min and max."""

    def __init__(self, ctx=None, decay=0.99, training=True):
        super().__init__(ctx, training)
        self.decay = decay

    @property
    def args(self):
        return {"training": bool(self.training), "decay": float(self.decay)}


class AbsMaxRecorder(_Recorder):
    """Records the largest absolute value of the data over the iterations."""

    _n_stats = 1


class MaxMaxRecorder(_Recorder):
    """Records the largest max of the data over the iterations."""

    _n_stats = 1


class MaxMvaRecorder(MinMaxMvaRecorder):
    """Records a moving average (``decay``) of the data's max."""

    _n_stats = 1


def minmax_minmax_recorder(x, m, M, training=True):
    return MinMaxMinMaxRecorder(get_current_context(), training)(x, m, M)


def minmax_mva_recorder(x, m, M, decay=0.99, training=True):
    return MinMaxMvaRecorder(get_current_context(), decay, training)(x, m, M)


def abs_max_recorder(x, M, training=True):
    return AbsMaxRecorder(get_current_context(), training)(x, M)


def max_max_recorder(x, M, training=True):
    return MaxMaxRecorder(get_current_context(), training)(x, M)


def max_mva_recorder(x, M, decay=0.99, training=True):
    return MaxMvaRecorder(get_current_context(), decay, training)(x, M)


# ---------------------------------------------------------------- callbacks
def _exists(name):
    return parameter.get_parameter(name) is not None


def _scale_and_zero_point(x, span, narrow_range, round_method, name, like):
    """Parameters ``scale-<name>`` (span / number of int8 steps, rounded to a power
    of two unless ``round_method`` is 'NOTROUND') and ``zeropoint-<name>`` (0)."""
    steps = 255 if not narrow_range else 254
    scale = span / steps
    rounding = __round_methods__[getattr(round_method, "value", round_method)]
    if rounding is not None:
        scale = 2 ** rounding(np.log2(scale))
    scale = np.asarray(scale, np.float32)
    zp = np.zeros_like(np.asarray(like, np.float32))
    zp = parameter.get_parameter_or_create(f"zeropoint-{name}", zp.shape, zp, False)
    scale = parameter.get_parameter_or_create(f"scale-{name}", scale.shape, scale, False)
    return scale, zp


class _MinMaxCallback(object):
    _function = staticmethod(minmax_minmax_recorder)

    def name(self):
        n = type(self).__name__
        return n[:n.rfind('Callback')]

    def __call__(self, x, axes=[1], training=True, name=''):
        shape = [1] * x.ndim
        m = parameter.get_parameter_or_create(f"m-{name}", shape, ConstantInitializer())
        M = parameter.get_parameter_or_create(f"M-{name}", shape, ConstantInitializer())
        return type(self)._function(x, m, M, training=training)

    @staticmethod
    def get_scale_zeropoint(x, axes=[1], narrow_range=False, round_method='NOTROUND', name=''):
        """(scale, zero point) parameters from the recorded statistics of ``name``;
        (None, None) when nothing was recorded under that name."""
        if not _exists(f"m-{name}") and not _exists(f"M-{name}"):
            return None, None
        shape = [1] * x.ndim
        m = parameter.get_parameter_or_create(f"m-{name}", shape)
        M = parameter.get_parameter_or_create(f"M-{name}", shape)
        span = np.maximum(M.d - m.d, 1e-24)
        return _scale_and_zero_point(x, span, narrow_range, round_method, name, m.d)


class _MaxCallback(object):
    _function = staticmethod(max_max_recorder)

    def name(self):
        n = type(self).__name__
        return n[:n.rfind('Callback')]

    def __call__(self, x, axes=[1], training=True, name=''):
        shape = [1] * x.ndim
        M = parameter.get_parameter_or_create(f"M-{name}", shape, ConstantInitializer())
        return type(self)._function(x, M, training=training)

    @staticmethod
    def get_scale_zeropoint(x, axes=[1], narrow_range=False, round_method='NOTROUND', name=''):
        """(scale, zero point) from the recorded max of ``name`` (range [-M, M]);
        (None, None) when nothing was recorded under that name."""
        if not _exists(f"M-{name}"):
            return None, None
        M = parameter.get_parameter_or_create(f"M-{name}", [1] * x.ndim)
        # a floor as MinMax's (NNabla has none here: a never-positive max gave scale 0)
        span = np.maximum(2 * M.d, 1e-24)
        return _scale_and_zero_point(x, span, narrow_range, round_method, name, M.d)


class MinMaxMinMaxRecorderCallback(_MinMaxCallback):
    _function = staticmethod(minmax_minmax_recorder)


class MinMaxMvaRecorderCallback(_MinMaxCallback):
    _function = staticmethod(minmax_mva_recorder)


class AbsMaxRecorderCallback(_MaxCallback):
    _function = staticmethod(abs_max_recorder)


class MaxMaxRecorderCallback(_MaxCallback):
    _function = staticmethod(max_max_recorder)


class MaxMvaRecorderCallback(_MaxCallback):
    _function = staticmethod(max_mva_recorder)


# ---------------------------------------------------------------- configuration
class PrecisionMode(Enum):
    QNN = 0       # quantized functions only
    SIM_QNN = 1   # quantize/dequantize (simulated quantization)
    MIXED_QNN = 2


class QNNState(Enum):
    NON_QNN = 0
    RECORDING = 1
    TRAINING = 2
    DEPLOYMENT = 3


class QATConfig:
    """Settings of quantization-aware training (class attributes, as NNabla's)."""

    ext_name = "cudnn"
    zero_point = False
    dtype = np.int8
    precision_mode = PrecisionMode.SIM_QNN
    channel_last = False
    channel_wise = False
    niter_to_recording = 0
    niter_to_training = -1

    class RoundingMethod(Enum):
        CEIL = 'CEIL'
        ROUND = 'ROUND'
        FLOOR = 'FLOOR'
        NOTROUND = 'NOTROUND'

    pow2 = RoundingMethod.ROUND
    narrow_range = False
    round_mode = 'HALF_TO_EVEN'
    bn_folding = False
    bn_self_folding = False
    recorder_weight = MinMaxMinMaxRecorderCallback
    recorder_activation = MaxMvaRecorderCallback
    record_layers = []

    class RecorderPosition(Enum):
        BEFORE = 0
        BOTH = 1

    recorder_position = RecorderPosition.BEFORE
    skip_inputs_layers = ['Convolution', 'Deconvolution']
    skip_outputs_layers = ['Affine']
    learning_rate_scale = 0.1
    skip_bias = False


class QATTensorRTConfig(QATConfig):
    pow2 = QATConfig.RoundingMethod.ROUND
    bn_folding = True
    bn_self_folding = True
    record_layers = ["Convolution", "Deconvolution", "Affine", "BatchMatmul", "ReLU"]
    record_position = QATConfig.RecorderPosition.BEFORE


qat_default_config = QATTensorRTConfig()


class FunctionsRankRecorder(object):
    """``y.visit(recorder)`` numbers the functions in forward order
    (``functions_ranks``: {function: rank}), leaving out training-only ones."""

    def __init__(self, functions_only_for_training=['ImageAugmentation', 'Dropout']):
        self.functions_only_for_training = functions_only_for_training
        self.rank = 0
        self.functions_ranks = {}

    def __call__(self, f):
        if f.info.type_name not in self.functions_only_for_training:
            self.functions_ranks[f] = self.rank
            self.rank += 1


class QATScheduler:
    """Drives quantization-aware training of registered graphs.

    ``scheduler(pred, training=True)`` registers a graph output; ``step()`` (once per
    iteration) rewrites the registered graphs in place (``rewire_on``): at
    ``config.niter_to_recording`` BN is folded as configured and recorders are
    inserted, at ``config.niter_to_training`` the recorders become
    QuantizeLinear/DequantizeLinear pairs and the solver's learning rate is scaled
    by ``config.learning_rate_scale``. ``save`` writes the evaluation graphs to .nnp.
    """

    def __init__(self, config=qat_default_config, solver=None):
        if config.niter_to_training <= 0 or config.niter_to_recording < 0:
            raise ValueError(f"QATScheduler: niter_to_recording must be >= 0 and "
                             f"niter_to_training > 0, got {config.niter_to_recording} and "
                             f"{config.niter_to_training}")
        if config.niter_to_training - config.niter_to_recording <= 0:
            raise ValueError(f"QATScheduler: niter_to_training ({config.niter_to_training}) "
                             f"must come after niter_to_recording "
                             f"({config.niter_to_recording})")
        self.config = config
        self.solver = solver
        self.counter = 0
        self.state = QNNState.NON_QNN
        self.registry = []  # [(output Variable, training)]

    def __call__(self, pred, training=True):
        self.registry.append((pred, training))

    def _register_params(self):
        if self.solver and (self.config.bn_folding or self.config.bn_self_folding):
            self.solver.set_parameters(get_parameters(grad_only=True))

    def _fold_bn(self, pred):
        cfg = self.config
        modifiers = []
        if cfg.bn_folding:
            modifiers += [GC.BatchNormalizationFoldingModifier(False, cfg.channel_last),
                          GC.BatchNormalizationFoldingModifier(True, cfg.channel_last)]
        if cfg.bn_self_folding:
            modifiers.append(GC.BatchNormalizationSelfFoldingModifier())
        if modifiers:
            modifiers.insert(0, GC.UnfusedBatchNormalizationModifier())
            pred.rewire_on(GC.GraphConverter(modifiers).convert(pred))
        return pred

    def _ranks(self, pred):
        recorder = FunctionsRankRecorder()
        pred.visit(recorder)
        return recorder.functions_ranks

    def _schedule_to_recording(self):
        for i, (pred, training) in enumerate(self.registry):
            pred = self._fold_bn(pred)
            modifier = GC.QuantizeNonQNNToRecordingModifier(
                self._ranks(pred), config=self.config, training=training)
            pred.rewire_on(GC.GraphConverter([modifier]).convert(pred))
            pred.need_grad = False
            self._register_params()
            self.registry[i] = (pred, training)
        self.state = QNNState.RECORDING
        logger.info("QATScheduler: QNNState.NON_QNN -> QNNState.RECORDING")

    def _schedule_to_training(self):
        cfg = self.config
        for i, (pred, training) in enumerate(self.registry):
            remove = GC.RemoveFunctionModifier(
                rm_funcs=[cfg.recorder_activation().name(), cfg.recorder_weight().name()])
            pred.rewire_on(GC.GraphConverter([remove]).convert(pred))
            modifier = GC.QuantizeRecordingToTrainingModifier(self._ranks(pred), config=cfg)
            pred.rewire_on(GC.GraphConverter([modifier]).convert(pred))
            self._register_params()
            self.registry[i] = (pred, training)
        if self.solver is not None:  # once, however many graphs (NNabla: once per graph)
            self.solver.set_learning_rate(self.solver.learning_rate() * cfg.learning_rate_scale)
        self.state = QNNState.TRAINING
        logger.info("QATScheduler: QNNState.RECORDING -> QNNState.TRAINING")

    def step(self):
        """Advance one iteration; rewrites the graphs at the configured iterations."""
        if self.counter == self.config.niter_to_recording:
            self._schedule_to_recording()
        elif self.counter == self.config.niter_to_training:
            self._schedule_to_training()
        self.counter += 1

    def save(self, fname, inputs, batch_size=1, net_name='net', deploy=False):
        """Write the evaluation graphs (registered with ``training=False``) to ``fname``
        (.nnp) with ``inputs`` as ``x0``, ``x1``... and outputs ``y0``..."""
        if deploy:
            raise ValueError("QATScheduler.save: deploy=True is not supported "
                             "(nor is it in NNabla)")
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        for pred, training in self.registry:
            if training:
                continue
            outputs = list(pred) if isinstance(pred, (list, tuple)) else [pred]
            names = {f"x{i}": v for i, v in enumerate(inputs)}
            outs = {f"y{i}": v for i, v in enumerate(outputs)}
            save_nnp(fname, {
                "networks": [{"name": net_name, "batch_size": batch_size,
                              "outputs": outs, "names": names}],
                "executors": [{"name": "runtime", "network": net_name,
                               "data": list(names), "output": list(outs)}]})
