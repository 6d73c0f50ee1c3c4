"""One small graph per ONNX-exported function type, shared by the ONNX tests.

``CASES[type_name] = (build, inputs)``: ``build(*variables)`` records the
function on nnjax Variables (creating parameters in the current scope through
``param``); ``inputs`` gives each input as a shape (standard normal values)
or a callable ``rng -> array``.
"""
import numpy as np

import nnabla as nn
import nnabla.functions as F
from nnjax._apply import apply_function


def param(name, value):
    return nn.parameter.get_parameter_or_create(name, value.shape, np.asarray(value, np.float32))


def w(*shape, seed=1):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def positive(*shape):
    return lambda rng: (rng.rand(*shape) + 0.5).astype(np.float32)


def unit(*shape):
    return lambda rng: (rng.rand(*shape) * 1.8 - 0.9).astype(np.float32)


def labels(n, shape):
    return lambda rng: rng.randint(0, n, size=shape).astype(np.float32)


def probs(*shape):
    def make(rng):
        e = np.exp(rng.randn(*shape))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return make


def ints_with_ties(*shape):
    return lambda rng: (rng.randint(-6, 7, size=shape) / 2).astype(np.float32)


def signed_with_zeros(*shape):
    return lambda rng: rng.randint(-2, 3, size=shape).astype(np.float32)


S = (2, 3, 4)
CASES = {
    "ReLU": (F.relu, [S]), "Sigmoid": (F.sigmoid, [S]), "Tanh": (F.tanh, [S]),
    "Abs": (F.abs, [S]), "Exp": (F.exp, [S]), "Log": (F.log, [positive(*S)]),
    "Identity": (F.identity, [S]), "Ceil": (F.ceil, [S]), "Floor": (F.floor, [S]),
    "Round": (F.round, [ints_with_ties(*S)]), "Sin": (F.sin, [S]), "Cos": (F.cos, [S]),
    "Tan": (F.tan, [unit(*S)]), "Sinh": (F.sinh, [S]), "Cosh": (F.cosh, [S]),
    "ASin": (F.asin, [unit(*S)]), "ACos": (F.acos, [unit(*S)]), "ATan": (F.atan, [S]),
    "ASinh": (F.asinh, [S]), "ACosh": (F.acosh, [lambda r: (r.rand(*S) + 1.2).astype(np.float32)]),
    "ATanh": (F.atanh, [unit(*S)]), "ATan2": (F.atan2, [S, S]), "Erf": (F.erf, [S]),
    "SoftSign": (F.softsign, [S]), "ELU": (lambda x: F.elu(x, alpha=0.7), [S]),
    "SELU": (F.selu, [S]), "LeakyReLU": (lambda x: F.leaky_relu(x, alpha=0.2), [S]),
    "HardSigmoid": (F.hard_sigmoid, [lambda r: (r.randn(*S) * 4).astype(np.float32)]),
    "HardTanh": (F.hard_tanh, [lambda r: (r.randn(*S) * 2).astype(np.float32)]),
    "ReLU6": (F.relu6, [lambda r: (r.randn(*S) * 5).astype(np.float32)]),
    "Swish": (F.swish, [S]), "SoftPlus": (lambda x: F.softplus(x, beta=2.0), [S]),
    "LogSigmoid": (F.log_sigmoid, [S]), "Mish": (F.mish, [S]),
    "TanhShrink": (F.tanh_shrink, [S]), "GELU": (F.gelu, [S]),
    "Sinc": (F.sinc, [signed_with_zeros(*S)]), "CReLU": (lambda x: F.crelu(x, axis=1), [S]),
    "CELU": (lambda x: F.celu(x, alpha=1.5, axis=2), [S]),
    "PReLU": (lambda x: F.prelu(x, param("slope", w(3)), base_axis=1), [S]),
    "Sign": (lambda x: F.sign(x, alpha=0.5), [signed_with_zeros(*S)]),
    "Dropout": (lambda x: F.identity(x), [S]),  # replaced below: Dropout is inference-only
    "Softmax": (lambda x: F.softmax(x, axis=1), [S]),
    "LogSoftmax": (lambda x: F.log_softmax(x, axis=1), [S]),
    # arithmetic
    "Add2": (F.add2, [S, S]), "BcAdd2": (F.bc_add2, [S, (1, 3, 1)]), "Sub2": (F.sub2, [S, S]),
    "Mul2": (F.mul2, [S, (1, 1, 4)]), "Div2": (F.div2, [S, positive(*S)]),
    "Pow2": (F.pow2, [positive(*S), S]), "Maximum2": (F.maximum2, [S, S]),
    "Minimum2": (F.minimum2, [S, S]), "AddN": (lambda a, b, c: F.add_n(a, b, c), [S, S, S]),
    "MulN": (lambda a, b, c: F.mul_n(a, b, c), [S, S, S]),
    "AddScalar": (lambda x: F.add_scalar(x, 1.5), [S]),
    "MulScalar": (lambda x: F.mul_scalar(x, -2.0), [S]),
    "PowScalar": (lambda x: F.pow_scalar(x, 3.0), [S]),
    "RSubScalar": (lambda x: F.r_sub_scalar(x, 2.0), [S]),
    "RDivScalar": (lambda x: F.r_div_scalar(x, 2.0), [positive(*S)]),
    "RPowScalar": (lambda x: F.r_pow_scalar(x, 2.0), [S]),
    "MaximumScalar": (lambda x: F.maximum_scalar(x, 0.3), [S]),
    "MinimumScalar": (lambda x: F.minimum_scalar(x, 0.3), [S]),
    # logical
    "Greater": (F.greater, [S, S]), "Less": (F.less, [S, S]),
    "Equal": (F.equal, [signed_with_zeros(*S), signed_with_zeros(*S)]),
    "NotEqual": (F.not_equal, [signed_with_zeros(*S), signed_with_zeros(*S)]),
    "GreaterEqual": (F.greater_equal, [signed_with_zeros(*S), signed_with_zeros(*S)]),
    "LessEqual": (F.less_equal, [signed_with_zeros(*S), signed_with_zeros(*S)]),
    "GreaterScalar": (lambda x: F.greater_scalar(x, 0.0), [signed_with_zeros(*S)]),
    "LessScalar": (lambda x: F.less_scalar(x, 0.0), [signed_with_zeros(*S)]),
    "EqualScalar": (lambda x: F.equal_scalar(x, 1.0), [signed_with_zeros(*S)]),
    "NotEqualScalar": (lambda x: F.not_equal_scalar(x, 1.0), [signed_with_zeros(*S)]),
    "GreaterEqualScalar": (lambda x: F.greater_equal_scalar(x, 1.0), [signed_with_zeros(*S)]),
    "LessEqualScalar": (lambda x: F.less_equal_scalar(x, 1.0), [signed_with_zeros(*S)]),
    "LogicalAnd": (F.logical_and, [signed_with_zeros(*S), signed_with_zeros(*S)]),
    "LogicalOr": (F.logical_or, [signed_with_zeros(*S), signed_with_zeros(*S)]),
    "LogicalXor": (F.logical_xor, [signed_with_zeros(*S), signed_with_zeros(*S)]),
    "LogicalAndScalar": (lambda x: F.logical_and_scalar(x, True), [signed_with_zeros(*S)]),
    "LogicalOrScalar": (lambda x: F.logical_or_scalar(x, False), [signed_with_zeros(*S)]),
    "LogicalXorScalar": (lambda x: F.logical_xor_scalar(x, True), [signed_with_zeros(*S)]),
    "LogicalNot": (F.logical_not, [signed_with_zeros(*S)]),
    "IsNaN": (lambda x: F.isnan(F.log(x)), [S]), "IsInf": (lambda x: F.isinf(F.r_div_scalar(x, 1.0)),
                                                           [signed_with_zeros(*S)]),
    "ResetNaN": (lambda x: F.reset_nan(F.log(x), 7.0), [S]),
    "ResetInf": (lambda x: F.reset_inf(F.r_div_scalar(x, 1.0), 7.0), [signed_with_zeros(*S)]),
    "Where": (F.where, [signed_with_zeros(*S), S, S]),
    "BinarySigmoid": (F.binary_sigmoid, [S]), "BinaryTanh": (F.binary_tanh, [S]),
    "BinaryError": (F.binary_error, [lambda r: r.rand(*S).astype(np.float32),
                                     lambda r: r.rand(*S).astype(np.float32)]),
    # losses
    "SquaredError": (F.squared_error, [S, S]), "AbsoluteError": (F.absolute_error, [S, S]),
    "HuberLoss": (lambda a, b: F.huber_loss(a, b, delta=0.8), [S, S]),
    "EpsilonInsensitiveLoss": (lambda a, b: F.epsilon_insensitive_loss(a, b, 0.3), [S, S]),
    "SigmoidCrossEntropy": (F.sigmoid_cross_entropy, [S, labels(2, S)]),
    "BinaryCrossEntropy": (F.binary_cross_entropy, [lambda r: r.uniform(0.05, 0.95, S).astype(np.float32),
                                                    lambda r: r.rand(*S).astype(np.float32)]),
    "SoftmaxCrossEntropy": (lambda x, t: F.softmax_cross_entropy(x, t, axis=1), [(4, 5), labels(5, (4, 1))]),
    "CategoricalCrossEntropy": (lambda x, t: F.categorical_cross_entropy(x, t, axis=1),
                                [probs(4, 5), labels(5, (4, 1))]),
    "KLMultinomial": (F.kl_multinomial, [probs(4, 5), probs(4, 5)]),
    # reductions
    "Sum": (lambda x: F.sum(x, axis=(1, 2), keepdims=True), [S]),
    "Mean": (lambda x: F.mean(x, axis=1), [S]), "Max": (lambda x: F.max(x, axis=2), [S]),
    "Min": (lambda x: F.min(x, axis=0, keepdims=True), [S]),
    "Prod": (lambda x: F.prod(x, axis=1), [S]),
    "ReduceSum": (F.reduce_sum, [S]), "ReduceMean": (F.reduce_mean, [S]),
    "Norm": (lambda x: F.norm(x, p=3, axis=1), [S]),
    "CumSum": (lambda x: F.cumsum(x, axis=1, exclusive=True, reverse=True), [S]),
    # arrays
    "Reshape": (lambda x: F.reshape(x, (6, 4)), [S]),
    "Transpose": (lambda x: F.transpose(x, (2, 0, 1)), [S]),
    "Concatenate": (lambda a, b: F.concatenate(a, b, axis=1), [S, (2, 2, 4)]),
    "Split": (lambda x: F.split(x, axis=1)[1], [S]),
    "Stack": (lambda a, b: F.stack(a, b, axis=1), [S, S]),
    "Slice": (lambda x: F.slice(x, start=(0, 1), stop=(3, 4), step=(2, 2)), [S]),
    "Flip": (lambda x: F.flip(x, axes=(0, 2)), [S]),
    "Pad": (lambda x: F.pad(x, (1, 2), mode="reflect"), [S]),
    "Broadcast": (lambda x: F.broadcast(x, (2, 3, 4)), [(2, 1, 4)]),
    "Tile": (lambda x: F.tile(x, (2, 1, 3)), [S]),
    "BatchMatmul": (lambda a, b: F.batch_matmul(a, b, transpose_b=True), [(2, 3, 4), (2, 5, 4)]),
    "Embed": (lambda i: F.embed(i, param("emb", w(6, 3))), [labels(6, (2, 4))]),
    "Gather": (lambda x, i: F.gather(x, i, axis=1), [S, labels(3, (2, 2))]),
    "GatherNd": (F.gather_nd, [S, labels(2, (2, 5))]),
    "Constant": (lambda x: x + F.constant(0.5, (2, 3, 4)), [S]),
    "Arange": (lambda x: x + F.arange(0, 4), [S]),
    "Linspace": (lambda x: x + F.linspace(-1, 1, 4), [S]),
    # layers
    "Affine": (lambda x: F.affine(x, param("W", w(12, 2, 3)), param("b", w(2, 3))), [S]),
    "Convolution": (lambda x: F.convolution(x, param("cw", w(4, 1, 3, 3)), param("cb", w(4)),
                                            pad=(1, 0), stride=(1, 2), group=2),
                    [(2, 2, 6, 7)]),
    "BinaryConnectConvolution": (lambda x: F.binary_connect_convolution(
        x, param("bw", w(4, 2, 3, 3)), param("bbw", np.zeros((4, 2, 3, 3), np.float32)),
        param("bb", w(4))), [(2, 2, 5, 5)]),
    "BinaryConnectAffine": (lambda x: F.binary_connect_affine(
        x, param("aw", w(12, 5)), param("abw", np.zeros((12, 5), np.float32))), [S]),
    "DepthwiseConvolution": (lambda x: F.depthwise_convolution(
        x, param("dw", w(6, 3, 3)), param("db", w(6)), pad=(1, 1), multiplier=2), [(2, 3, 5, 5)]),
    "Deconvolution": (lambda x: F.deconvolution(x, param("tw", w(4, 3, 3, 3)), param("tb", w(3)),
                                                stride=(2, 2), pad=(1, 1), output_padding=(1, 1)),
                      [(2, 4, 4, 5)]),
    "MaxPooling": (lambda x: F.max_pooling(x, (2, 2), stride=(2, 1), pad=(1, 0)), [(2, 3, 5, 6)]),
    "AveragePooling": (lambda x: F.average_pooling(x, (3, 2), pad=(1, 1), including_pad=False),
                       [(2, 3, 6, 6)]),
    "SumPooling": (lambda x: F.sum_pooling(x, (2, 2)), [(2, 3, 4, 6)]),
    "GlobalAveragePooling": (F.global_average_pooling, [(2, 3, 4, 5)]),
    "Unpooling": (lambda x: F.unpooling(x, (2, 3)), [(2, 3, 2, 2)]),
    "BatchNormalization": (lambda x: F.batch_normalization(
        x, param("beta", w(1, 3, 1, 1)), param("gamma", w(1, 3, 1, 1, seed=2)),
        param("mean", w(1, 3, 1, 1, seed=3)), param("var", positive(1, 3, 1, 1)(np.random.RandomState(4))),
        batch_stat=False), [(2, 3, 4, 4)]),
    "FusedBatchNormalization": (lambda x, z: F.fused_batch_normalization(
        x, param("fbeta", w(1, 3, 1, 1)), param("fgamma", w(1, 3, 1, 1, seed=2)),
        param("fmean", w(1, 3, 1, 1, seed=3)),
        param("fvar", positive(1, 3, 1, 1)(np.random.RandomState(4))), z, batch_stat=False),
        [(2, 3, 4, 4), (2, 3, 4, 4)]),
    "LayerNormalization": (lambda x: F.layer_normalization(
        x, param("lbeta", w(1, 3, 4)), param("lgamma", w(1, 3, 4, seed=2))), [S]),
    "InstanceNormalization": (lambda x: F.instance_normalization(
        x, param("ibeta", w(1, 3, 1)), param("igamma", w(1, 3, 1, seed=2))), [S]),
    "GroupNormalization": (lambda x: F.group_normalization(
        x, param("gbeta", w(1, 4, 1)), param("ggamma", w(1, 4, 1, seed=2)), num_groups=2),
        [(2, 4, 5)]),
}
CASES["Dropout"] = (lambda x: F.dropout(x, p=0.3) * 0 + x, [S])

# layers ONNX lays out differently, reparameterizations, quantization, resizing
T, B, I, H = 4, 2, 3, 5
CASES.update({
    "BinaryWeightAffine": (lambda x: F.binary_weight_affine(
        x, param("bwa", w(12, 5)), param("bwab", np.zeros((12, 5), np.float32)),
        param("bwaa", np.zeros((5,), np.float32)), param("bwbias", w(5))), [S]),
    "BinaryWeightConvolution": (lambda x: F.binary_weight_convolution(
        x, param("bwc", w(4, 2, 3, 3)), param("bwcb", np.zeros((4, 2, 3, 3), np.float32)),
        param("bwca", np.zeros((4,), np.float32)), param("bwcbias", w(4)), pad=(1, 1)),
        [(2, 2, 5, 5)]),
    "DepthwiseDeconvolution": (lambda x: F.depthwise_deconvolution(
        x, param("ddw", w(4, 3, 3)), param("ddb", w(2)), stride=(2, 2), divisor=2),
        [(2, 4, 3, 4)]),
    "BroadcastTo": (lambda x, z: F.broadcast_to(x, z, axis=1), [(2, 3, 4), (3, 4)]),
    "OneHot": (lambda i: F.one_hot(i, (3, 4)), [lambda r: np.stack(
        [r.randint(0, 3, 5), r.randint(0, 4, 5)], axis=1).astype(np.float32)]),
    "QuantizeLinear": (lambda x: F.quantize_linear(
        x, param("qs", np.full((1, 3, 1), 0.05, np.float32)),
        param("qz", np.full((1, 3, 1), 3.0, np.float32))), [S]),
    "DequantizeLinear": (lambda x: F.dequantize_linear(
        x, param("ds", np.full((1, 3, 1), 0.25, np.float32)),
        param("dz", np.full((1, 3, 1), 2.0, np.float32))), [signed_with_zeros(*S)]),
    "WeightNormalization": (lambda x: x + F.weight_normalization(
        param("wn", w(3, 4)), param("wng", w(4)), dim=1), [(3, 4)]),
    "WeightStandardization": (lambda x: x + F.weight_standardization(
        param("ws", w(3, 4)), channel_axis=0), [(3, 4)]),
    "SpectralNorm": (lambda x: x + F.spectral_norm(
        param("sn", w(3, 4)), param("snu", w(3, seed=5)), dim=0, itr=2, test=True), [(3, 4)]),
    "Interpolate": (lambda x: F.interpolate(x, output_size=(5, 7), mode="linear",
                                            align_corners=True), [(2, 3, 3, 4)]),
    "RNN": (lambda x, h: F.rnn(x, h, param("rw0", w(2, H, I + H) * 0.5),
                               param("rw", w(1, 2, H, 2 * H + H, seed=2) * 0.5),
                               param("rb", w(2, 2, H, seed=3)), num_layers=2,
                               bidirectional=True, training=False)[0],
            [(T, B, I), (2, 2, B, H)]),
    "LSTM": (lambda x, h, c: F.lstm(x, h, c, param("lw0", w(1, 4, H, I + H) * 0.5),
                                    None, param("lb", w(1, 1, 4, H, seed=3)),
                                    training=False)[1],
             [(T, B, I), (1, 1, B, H), (1, 1, B, H)]),
    "GRU": (lambda x, h: F.gru(x, h, param("gw0", w(1, 3, H, I + H) * 0.5), None,
                               param("gb", w(1, 1, 4, H, seed=3)), training=False)[0],
            [(T, B, I), (1, 1, B, H)]),
})

# functions beyond NNabla's exporter table
CASES.update({
    "ClipGradByValue": (lambda x, lo, hi: F.clip_grad_by_value(x, lo, hi), [S, S, S]),
    "ClipGradByNorm": (lambda x: F.clip_grad_by_norm(x, 2.0, axes=(1,)), [S]),
    "Unlink": (lambda x: F.unlink(x) * 2, [S]),
    "NormNormalization": (lambda x: F.norm_normalization(x, p=3.0, axes=(1, 2)), [S]),
    # F.tensor_normalization records a BatchNormalization; NNP files may hold the type itself
    "TensorNormalization": (lambda x: apply_function("TensorNormalization", [
        x, param("tb", w(1, 3, 1)), param("tg", w(1, 3, 1, seed=2))],
        dict(axes=[1], eps=1e-5, no_scale=False, no_bias=False)), [S]),
    "MatrixDiag": (F.matrix_diag, [S]),
    "MatrixDiagPart": (F.matrix_diag_part, [(2, 4, 4)]),
    "Trilu": (lambda x: F.trilu(x, k=1, upper=False), [(2, 3, 4)]),
    "EyeLike": (lambda x: x + F.eye_like(x, k=1), [(3, 4)]),
    "Shape": (lambda x: F.shape(x, start=1), [S]),
    "Mod2": (lambda a, b: F.mod2(a, b, fmod=True), [S, positive(*S)]),
    "Einsum": (lambda a, b: F.einsum(a, b, equation="bij,bjk->bik"), [(2, 3, 4), (2, 4, 5)]),
    "FixedPointQuantize": (lambda x: F.fixed_point_quantize(x, n=4, delta=0.25),
                           [lambda r: (r.randn(*S) * 2).astype(np.float32)]),
    "Prune": (lambda x: F.prune(x, rate=0.5), [S]),
    "Sort": (lambda x: F.sort(x, axis=1, reverse=True), [S]),
    "TopKData": (lambda x: F.top_k_data(x, 3, abs=True), [S]),
    "TopNError": (lambda x, t: F.top_n_error(x, t, axis=1, n=2), [(4, 5), labels(5, (4, 1))]),
    "MeanSubtraction": (lambda x: F.mean_subtraction(
        x, param("rm", w(3)), param("rt", np.array([5.0], np.float32)),
        update_running_mean=False), [(2, 3)]),
    "ONNXResize": (lambda x: F.onnx_resize(x, sizes=(2, 3, 6, 5), mode="linear",
                                           coordinate_transformation_mode="half_pixel"),
                   [(2, 3, 3, 4)]),
})

# variants of a type: "Type:variant"
CASES.update({
    "Convolution:channel_last": (lambda x: F.convolution(
        x, param("clw", w(4, 3, 3, 1)), param("clb", w(4)), pad=(1, 0), stride=(2, 1), group=2,
        channel_last=True), [(2, 6, 5, 2)]),
    "Deconvolution:channel_last": (lambda x: F.deconvolution(
        x, param("dlw", w(4, 3, 3, 2)), param("dlb", w(2)), stride=(2, 2), channel_last=True),
        [(2, 3, 4, 4)]),
    "MaxPooling:channel_last": (lambda x: F.max_pooling(x, (2, 2), channel_last=True),
                                [(2, 4, 6, 3)]),
    "AveragePooling:ignore_border_false": (lambda x: F.average_pooling(
        x, (2, 2), stride=(2, 2), ignore_border=False), [(2, 3, 4, 6)]),
    "Unpooling:channel_last": (lambda x: F.unpooling(x, (2, 3), channel_last=True),
                               [(2, 2, 2, 3)]),
    "Affine:base_axis2": (lambda x: F.affine(x, param("W2", w(4, 5)), base_axis=2), [S]),
})

CASES.update({
    "Shift": (lambda x: F.shift(x, (1, -2)), [S]),
    "Shift:reflect": (lambda x: F.shift(x, (2, 3), border_mode="reflect"), [S]),
    "CumProd": (lambda x: F.cumprod(x, axis=1), [S]),
    "CumProd:exclusive_reverse": (lambda x: F.cumprod(x, axis=2, exclusive=True, reverse=True),
                                  [S]),
    "Interpolate:nearest_half_pixel_for_nn": (lambda x: F.interpolate(
        x, output_size=(5, 7), mode="nearest", half_pixel_for_nn=True), [(2, 3, 3, 4)]),
    "Interpolate:linear_half_pixel": (lambda x: F.interpolate(
        x, output_size=(6, 3), mode="linear", align_corners=False, half_pixel=True),
        [(2, 3, 3, 4)]),
    "Interpolate:nearest": (lambda x: F.interpolate(x, output_size=(7, 9), mode="nearest",
                                                    align_corners=False), [(1, 2, 3, 4)]),
})

CASES.update({
    "Max:only_index": (lambda x: F.max(x, axis=(0, 2), only_index=True), [S]),
    "Min:with_index": (lambda x: F.min(x, axis=1, keepdims=True, with_index=True)[1], [S]),
})

CASES.update({
    "MaxPooling:ignore_border_false": (lambda x: F.max_pooling(
        x, (2, 3), stride=(2, 2), ignore_border=False), [(2, 3, 5, 7)]),
    "AveragePooling:ignore_border_false_partial": (lambda x: F.average_pooling(
        x, (2, 2), stride=(2, 2), ignore_border=False), [(2, 3, 5, 5)]),
})

CASES.update({
    "AveragePooling:ignore_border_false_pad": (lambda x: F.average_pooling(
        x, (3, 2), stride=(2, 3), pad=(1, 1), ignore_border=False, including_pad=False),
        [(2, 3, 6, 7)]),
    "SumPooling:ignore_border_false": (lambda x: F.sum_pooling(
        x, (2, 3), stride=(3, 2), ignore_border=False), [(2, 3, 7, 6)]),
})

CASES.update({
    "BoolFill": (lambda x, m: F.bool_fill(x, m, value=-5.0), [S, signed_with_zeros(1, 3, 4)]),
    "SearchSorted": (lambda s, v: F.searchsorted(s, v, right=True), [
        lambda r: np.sort(r.randint(-4, 5, (2, 6)), axis=-1).astype(np.float32),
        lambda r: r.randint(-5, 6, (2, 4)).astype(np.float32)]),
    "ConfusionMatrix": (lambda x, t: F.confusion_matrix(x, t, axis=1),
                        [(12, 4), labels(4, (12, 1))]),
    "Meshgrid": (lambda a, b, c: F.meshgrid(a, b, c)[1], [(3,), (4,), (2,)]),
    "Meshgrid:ij": (lambda a, b: F.meshgrid(a, b, ij_indexing=True)[0], [(3,), (4,)]),
    "ScatterNd": (lambda d, i: F.scatter_nd(d, i, shape=(3, 4)), [
        (3,), lambda r: np.array([[0, 2, 1], [1, 0, 3]], np.float32)]),
})

CASES.update({
    "TopKGrad": (lambda x: F.top_k_grad(x, 2) * 3, [S]),
    "FusedConvolution": (lambda x, z: F.fused_convolution(
        x, param("fcw", w(4, 2, 3, 3)), param("fcb", w(4)), param("fcbeta", w(1, 4, 1, 1)),
        param("fcgamma", w(1, 4, 1, 1, seed=2)), param("fcmean", w(1, 4, 1, 1, seed=3)),
        param("fcvar", positive(1, 4, 1, 1)(np.random.RandomState(4))), z, pad=(1, 1),
        batch_stat=False, nonlinearity="leaky_relu", nonlinearity_args=[0.2]),
        [(2, 2, 5, 5), (2, 4, 5, 5)]),
})

CASES.update({
    # a file's SyncBatchNormalization (its communicator is not part of the graph)
    "SyncBatchNormalization": (lambda x: apply_function("SyncBatchNormalization", [
        x, param("sbeta", w(1, 3, 1, 1)), param("sgamma", w(1, 3, 1, 1, seed=2)),
        param("smean", w(1, 3, 1, 1, seed=3)),
        param("svar", positive(1, 3, 1, 1)(np.random.RandomState(4)))],
        dict(comm=None, group="world", axes=[1], decay_rate=0.9, eps=1e-5, batch_stat=False)),
        [(2, 3, 4, 4)]),
})

CASES.update({
    "ScatterNd:add": (lambda d, i: F.scatter_nd(d, i, shape=(3, 4), add=True), [
        (3,), lambda r: np.array([[0, 0, 1], [1, 1, 3]], np.float32)]),
})
