"""NNabla's function types, declared once.

One entry per function type of NNabla (the 228 types of NNabla 1.36), in
NNabla's order: category by category, and within a category in the order
NNabla lists them. Each entry gives the type name, the ``nnabla.functions``
name, the category, the inputs, the arguments and the outputs.

The facts (names, categories, input and output flags, argument types and
defaults) are transcribed from NNabla's function definition file
(``build-tools/code_generator/functions.yaml`` of sony/nnabla) by a one-off
script, then checked by hand. Nothing else of that file is carried over.
This module imports nothing from nnjax, so anything may import it.

How the table is written (parsed once, at import):

- inputs: ``"x, weight:p, bias:op, *xs"``; after a colon, ``o`` marks an
  optional input and ``p`` a parameter; a leading ``*`` marks a variadic input.
  An empty string: the function takes no inputs.
- arguments: ``"name: type = value; ..."``. ``type`` is NNabla's argument type
  (``int64``, ``float``, ``double``, ``bool``, ``string``, ``Shape``,
  ``repeated int64``, ``repeated float``, ``Communicator``). ``= value`` is a
  Python literal default; ``:= expr`` is a default NNabla computes from the
  inputs or other arguments (named as in this entry), kept as text in
  ``ArgDecl.default_expr`` with ``ArgDecl.default`` set to ``COMPUTED``; no
  default at all means the argument is required (``REQUIRED``). Defaults are
  NNabla's as written (``1`` stays an int for a float argument). Two string
  defaults are not Python literals in NNabla's file (SyncBatchNormalization's
  group, written ``world``, and Einsum's equation, left empty); they are the
  strings ``'world'`` and ``''`` here. FusedConvolution's ``list()`` is ``[]``.
- outputs: ``out="y, h_n"`` (default ``"y"``); a leading ``*`` marks a
  variadic output.
"""
import ast
from dataclasses import dataclass, field

__all__ = ["REQUIRED", "COMPUTED", "InputDecl", "ArgDecl", "OutputDecl", "TypeDecl",
           "DECLARED", "CATEGORIES"]


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name

    def __reduce__(self):
        return self._name      # pickles as a reference to this module's global


#: ``ArgDecl.default`` of an argument without a default.
REQUIRED = _Sentinel("REQUIRED")
#: ``ArgDecl.default`` of an argument whose default depends on inputs or other arguments.
COMPUTED = _Sentinel("COMPUTED")


@dataclass(frozen=True)
class InputDecl:
    name: str
    optional: bool = False
    variadic: bool = False
    parameter: bool = False


@dataclass(frozen=True)
class ArgDecl:
    name: str
    type: str
    default: object = field(default=REQUIRED, hash=False)   # may be a list: not hashed
    default_expr: str = ""     # the expression, when default is COMPUTED

    @property
    def required(self):
        return self.default is REQUIRED


@dataclass(frozen=True)
class OutputDecl:
    name: str
    variadic: bool = False


@dataclass(frozen=True)
class TypeDecl:
    type_name: str
    snake_name: str
    category: str
    inputs: tuple      # of InputDecl
    args: tuple        # of ArgDecl
    outputs: tuple     # of OutputDecl

    @property
    def arg_names(self):
        return tuple(a.name for a in self.args)

    @property
    def input_names(self):
        return tuple(i.name for i in self.inputs)

    def arg(self, name):
        for a in self.args:
            if a.name == name:
                return a
        raise KeyError(f"{self.type_name} has no argument {name!r}")


# ---------------------------------------------------------------- mini-format
def _parse_inputs(text):
    decls = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, flags = item.partition(":")
        variadic = name.startswith("*")
        decls.append(InputDecl(name.lstrip("*"), optional="o" in flags, variadic=variadic,
                               parameter="p" in flags))
    return tuple(decls)


def _parse_args(text):
    decls = []
    for item in filter(None, (s.strip() for s in text.split(";"))):
        name, _, rest = item.partition(":")
        if ":=" in rest:
            type_, _, expr = rest.partition(":=")
            decls.append(ArgDecl(name.strip(), type_.strip(), COMPUTED, expr.strip()))
        elif "=" in rest:
            type_, _, value = rest.partition("=")
            decls.append(ArgDecl(name.strip(), type_.strip(), ast.literal_eval(value.strip())))
        else:
            decls.append(ArgDecl(name.strip(), rest.strip()))
    return tuple(decls)


def _parse_outputs(text):
    return tuple(OutputDecl(s.strip().lstrip("*"), variadic=s.strip().startswith("*"))
                 for s in text.split(","))


def _T(type_name, snake_name, inputs, args="", out="y"):
    return type_name, snake_name, inputs, args, out


LAYER = "Neural Network Layer"
ACTIVATION = "Neural Network Activation Functions"
NORMALIZATION = "Normalization"
REDUCTION = "Reduction"
ARITHMETIC = "Arithmetic"
LOGICAL = "Logical"
MATH = "Math"
ARRAY = "Array Manipulation"
SIGNAL = "Signal Processing"
STOCHASTICITY = "Stochasticity"
LOSS = "Loss Functions"
GEOMETRIC = "Geometric Neural Network Layers"
QUANTIZATION = "Quantization Neural Network Layers"
VALIDATION = "Validation"
SPECIAL = "Unsupported, Special Use"

# ---------------------------------------------------------------- the table
_TABLE = {
    LAYER: [
        _T("Affine", "affine", "x, weight:p, bias:op", "base_axis: int64 = 1"),
        _T("RNN", "rnn", "x, h, weight_l0:p, weight:op, bias:op", "num_layers: int64 = 1; "
           "nonlinearity: string = 'tanh'; dropout: float = 0.0; bidirectional: bool = False; "
           "training: bool = True", out="y, h_n"),
        _T("LSTM", "lstm", "x, h, c, weight_l0:p, weight:op, bias:op",
           "num_layers: int64 = 1; dropout: float = 0.0; bidirectional: bool = False; "
           "training: bool = True", out="y, h_n, c_n"),
        _T("GRU", "gru", "x, h, weight_l0:p, weight:op, bias:op", "num_layers: int64 = 1; "
           "dropout: float = 0.0; bidirectional: bool = False; "
           "training: bool = True", out="y, h_n"),
        _T("Convolution", "convolution", "x, weight:p, bias:op", "base_axis: int64 = 1; "
           "pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); group: int64 = 1; "
           "channel_last: bool = False"),
        _T("FusedConvolution", "fused_convolution",
           "x, weight:p, bias:op, beta:op, gamma:op, mean:o, variance:o, z:o",
           "base_axis: int64 = 1; pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); group: int64 = 1; "
           "channel_last: bool = False; decay_rate: float = 0.9; eps: float = 1e-05; "
           "batch_stat: bool = True; nonlinearity: string = 'relu'; "
           "nonlinearity_args: repeated float = []; pad_mode: string = 'constant'; "
           "constant_value: float = 0"),
        _T("DepthwiseConvolution", "depthwise_convolution", "x, weight:p, bias:op",
           "base_axis: int64 = 1; pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); multiplier: int64 = 1"),
        _T("Deconvolution", "deconvolution", "x, weight:p, bias:op", "base_axis: int64 = 1; "
           "pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); group: int64 = 1; "
           "channel_last: bool = False; "
           "output_padding: Shape := (0,) * (len(x.shape) - (base_axis+1))"),
        _T("DepthwiseDeconvolution", "depthwise_deconvolution", "x, weight:p, bias:op",
           "base_axis: int64 = 1; pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); divisor: int64 = 1"),
        _T("DeformableConvolution", "deformable_convolution",
           "x, weight:p, offset, mask:o, bias:op", "base_axis: int64 = 1; "
           "pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); group: int64 = 1; "
           "deformable_group: int64 = 1; channel_last: bool = False"),
        _T("AdaptiveSeparableConvolution", "adaptive_separable_convolution",
           "x, vertical_kernel, horizontal_kernel"),
        _T("MaxPooling", "max_pooling", "x", "kernel: Shape; stride: Shape := kernel; "
           "ignore_border: bool = True; pad: Shape := (0,) * len(kernel); "
           "channel_last: bool = False"),
        _T("AveragePooling", "average_pooling", "x", "kernel: Shape; stride: Shape := kernel; "
           "ignore_border: bool = True; pad: Shape := (0,) * len(kernel); "
           "channel_last: bool = False; including_pad: bool = True"),
        _T("GlobalAveragePooling", "global_average_pooling", "x"),
        _T("SumPooling", "sum_pooling", "x", "kernel: Shape; stride: Shape := kernel; "
           "ignore_border: bool = True; pad: Shape := (0,) * len(kernel); "
           "channel_last: bool = False"),
        _T("Unpooling", "unpooling", "x", "kernel: Shape; channel_last: bool = False"),
        _T("Embed", "embed", "x0, w:p"),
        _T("RoiAlign", "roi_align", "input, boxes", "output_size: Shape; "
           "spatial_scale: repeated float = (1.0, 1.0); sampling_ratio: int64 = -1; "
           "channel_last: bool = False"),
    ],
    ACTIVATION: [
        _T("Sigmoid", "sigmoid", "x"),
        _T("Swish", "swish", "x"),
        _T("Tanh", "tanh", "x"),
        _T("ReLU", "relu", "x", "inplace: bool = False"),
        _T("LeakyReLU", "leaky_relu", "x", "alpha: float = 0.1; inplace: bool = False"),
        _T("Softmax", "softmax", "x", "axis: int64 := len(x.shape) - 1"),
        _T("LogSoftmax", "log_softmax", "x", "axis: int64 := len(x.shape) - 1"),
        _T("ELU", "elu", "x", "alpha: double = 1.0"),
        _T("SELU", "selu", "x", "scale: double = 1.05070098735548; "
           "alpha: double = 1.673263242354377"),
        _T("CReLU", "crelu", "x", "axis: int64 = 1"),
        _T("CELU", "celu", "x", "alpha: double = 1.0; axis: int64 = 1"),
        _T("PReLU", "prelu", "x0, x1", "base_axis: int64 = 1"),
        _T("GELU", "gelu", "x"),
        _T("Mish", "mish", "x"),
        _T("ReLU6", "relu6", "x"),
        _T("HardSigmoid", "hard_sigmoid", "x"),
        _T("HardTanh", "hard_tanh", "x"),
        _T("LogSigmoid", "log_sigmoid", "x"),
        _T("SoftPlus", "softplus", "x", "beta: double = 1.0"),
        _T("SoftSign", "softsign", "x"),
        _T("TanhShrink", "tanh_shrink", "x"),
        _T("Sinc", "sinc", "x"),
    ],
    NORMALIZATION: [
        _T("FusedBatchNormalization", "fused_batch_normalization",
           "x, beta, gamma, mean, variance, z:o", "axes: repeated int64 = (1,); "
           "decay_rate: float = 0.9; eps: float = 1e-05; batch_stat: bool = True; "
           "nonlinearity: string = 'relu'"),
        _T("BatchNormalization", "batch_normalization", "x, beta:o, gamma:o, mean:o, variance:o",
           "axes: repeated int64 = (1,); decay_rate: float = 0.9; eps: float = 1e-05; "
           "batch_stat: bool = True; no_scale: bool = False; no_bias: bool = False"),
        _T("GroupNormalization", "group_normalization", "x, beta:o, gamma:o",
           "num_groups: int64 = 1; channel_axis: int64 = 1; batch_axis: repeated int64 = (0,); "
           "eps: float = 1e-05; no_scale: bool = False; no_bias: bool = False"),
        _T("InstanceNormalization", "instance_normalization", "x, beta:o, gamma:o",
           "channel_axis: int64 = 1; batch_axis: repeated int64 = (0,); eps: float = 1e-05; "
           "no_scale: bool = False; no_bias: bool = False"),
        _T("LayerNormalization", "layer_normalization", "x, beta:o, gamma:o",
           "batch_axis: repeated int64 = (0,); eps: float = 1e-05; no_scale: bool = False; "
           "no_bias: bool = False"),
        _T("NormNormalization", "norm_normalization", "x", "p: float = 2; "
           "axes: repeated int64 := range(x.ndim); eps: float = 1e-12"),
        _T("SyncBatchNormalization", "sync_batch_normalization", "x, beta, gamma, mean, variance",
           "comm: Communicator; group: string = 'world'; axes: repeated int64 = (1,); "
           "decay_rate: float = 0.9; eps: float = 1e-05; batch_stat: bool = True"),
        _T("TensorNormalization", "tensor_normalization", "x, beta:o, gamma:o",
           "axes: repeated int64 = (1,); eps: float = 1e-05; no_scale: bool = False; "
           "no_bias: bool = False"),
        _T("WeightNormalization", "weight_normalization", "w, g", "dim: int64 = 0; "
           "eps: float = 1e-12", out="w_wn"),
        _T("WeightStandardization", "weight_standardization", "w", "channel_axis: int64 = 0; "
           "eps: float = 1e-05"),
        _T("SpectralNorm", "spectral_norm", "w, u", "dim: int64 = 0; itr: int64 = 1; "
           "eps: float = 1e-12; test: bool = False; output_u: bool = False", out="w_sn"),
        _T("MeanSubtraction", "mean_subtraction", "x, rmean, t", "base_axis: int64 = 1; "
           "update_running_mean: bool = True"),
        _T("ClipGradByValue", "clip_grad_by_value", "x, min, max"),
        _T("ClipGradByNorm", "clip_grad_by_norm", "x", "clip_norm: float = 1.0; "
           "axes: repeated int64 := range(x.ndim)"),
    ],
    REDUCTION: [
        _T("Sum", "sum", "x", "axes: repeated int64 := range(x.ndim); keep_dims: bool = False"),
        _T("CumSum", "cumsum", "x", "axis: int64 = 0; exclusive: bool = False; "
           "reverse: bool = False"),
        _T("Mean", "mean", "x", "axes: repeated int64 := range(x.ndim); keep_dims: bool = False"),
        _T("Max", "max", "x", "axes: repeated int64 := range(x.ndim); keep_dims: bool = False; "
           "with_index: bool = False; only_index: bool = False"),
        _T("Min", "min", "x", "axes: repeated int64 := range(x.ndim); keep_dims: bool = False; "
           "with_index: bool = False; only_index: bool = False"),
        _T("Norm", "norm", "x", "p: float = 2; axes: repeated int64 := range(x.ndim); "
           "keep_dims: bool = False"),
        _T("Prod", "prod", "x", "axes: repeated int64 := range(x.ndim); keep_dims: bool = False"),
        _T("CumProd", "cumprod", "x", "axis: int64 = 0; exclusive: bool = False; "
           "reverse: bool = False"),
        _T("ReduceSum", "reduce_sum", "x"),
        _T("ReduceMean", "reduce_mean", "x"),
    ],
    ARITHMETIC: [
        _T("Add2", "add2", "x0, x1", "inplace: bool = False"),
        _T("AddN", "add_n", "*x"),
        _T("BcAdd2", "bc_add2", "x0, x1", "inplace: bool = False"),
        _T("Sub2", "sub2", "x0, x1", "inplace: bool = False"),
        _T("Mul2", "mul2", "x0, x1", "inplace: bool = False"),
        _T("MulN", "mul_n", "*x"),
        _T("Div2", "div2", "x0, x1", "inplace: bool = False"),
        _T("Pow2", "pow2", "x0, x1", "inplace: bool = False"),
        _T("AddScalar", "add_scalar", "x", "val: double = 1; inplace: bool = False"),
        _T("MulScalar", "mul_scalar", "x", "val: double = 1; inplace: bool = False"),
        _T("PowScalar", "pow_scalar", "x", "val: double = 1; inplace: bool = False"),
        _T("RSubScalar", "r_sub_scalar", "x", "val: double = 1"),
        _T("RDivScalar", "r_div_scalar", "x", "val: double = 1"),
        _T("RPowScalar", "r_pow_scalar", "x", "val: double = 1"),
    ],
    LOGICAL: [
        _T("Sign", "sign", "x", "alpha: float = 1.0"),
        _T("Minimum2", "minimum2", "x0, x1"),
        _T("Maximum2", "maximum2", "x0, x1"),
        _T("MinimumScalar", "minimum_scalar", "x", "val: double = 1.0"),
        _T("MaximumScalar", "maximum_scalar", "x", "val: double = 1.0"),
        _T("LogicalAnd", "logical_and", "x0, x1"),
        _T("LogicalOr", "logical_or", "x0, x1"),
        _T("LogicalXor", "logical_xor", "x0, x1"),
        _T("Equal", "equal", "x0, x1"),
        _T("NotEqual", "not_equal", "x0, x1"),
        _T("GreaterEqual", "greater_equal", "x0, x1"),
        _T("Greater", "greater", "x0, x1"),
        _T("LessEqual", "less_equal", "x0, x1"),
        _T("Less", "less", "x0, x1"),
        _T("SearchSorted", "searchsorted", "sorted_sequence, values", "right: bool = False"),
        _T("LogicalAndScalar", "logical_and_scalar", "x0", "val: bool"),
        _T("LogicalOrScalar", "logical_or_scalar", "x0", "val: bool"),
        _T("LogicalXorScalar", "logical_xor_scalar", "x0", "val: bool"),
        _T("EqualScalar", "equal_scalar", "x0", "val: double = 1"),
        _T("NotEqualScalar", "not_equal_scalar", "x0", "val: double = 1"),
        _T("GreaterEqualScalar", "greater_equal_scalar", "x0", "val: double = 1"),
        _T("GreaterScalar", "greater_scalar", "x0", "val: double = 1"),
        _T("LessEqualScalar", "less_equal_scalar", "x0", "val: double = 1"),
        _T("LessScalar", "less_scalar", "x0", "val: double = 1"),
        _T("LogicalNot", "logical_not", "x0"),
        _T("IsNaN", "isnan", "x0"),
        _T("IsInf", "isinf", "x0"),
        _T("ResetNaN", "reset_nan", "x0", "val: double = 0"),
        _T("ResetInf", "reset_inf", "x0", "val: double = 0"),
        _T("Where", "where", "condition, x_true, x_false"),
    ],
    MATH: [
        _T("Constant", "constant", "", "val: float = 0; shape: Shape = []"),
        _T("Arange", "arange", "", "start: float; stop: float; step: float = 1"),
        _T("Linspace", "linspace", "", "start: float; stop: float; num: int64"),
        _T("Abs", "abs", "x"),
        _T("Exp", "exp", "x"),
        _T("Log", "log", "x"),
        _T("Identity", "identity", "x"),
        _T("BatchMatmul", "batch_matmul", "a, b", "transpose_a: bool = False; "
           "transpose_b: bool = False"),
        _T("Round", "round", "x"),
        _T("Ceil", "ceil", "x"),
        _T("Floor", "floor", "x"),
        _T("Sin", "sin", "x"),
        _T("Cos", "cos", "x"),
        _T("Tan", "tan", "x"),
        _T("Sinh", "sinh", "x"),
        _T("Cosh", "cosh", "x"),
        _T("ASin", "asin", "x"),
        _T("ACos", "acos", "x"),
        _T("ATan", "atan", "x"),
        _T("ATan2", "atan2", "x0, x1"),
        _T("ASinh", "asinh", "x"),
        _T("ACosh", "acosh", "x"),
        _T("ATanh", "atanh", "x"),
        _T("Erf", "erf", "x"),
    ],
    ARRAY: [
        _T("Concatenate", "concatenate", "*x", "axis: int64 := len(x[0].shape) - 1"),
        _T("Split", "split", "x", "axis: int64 = 0", out="*y"),
        _T("Stack", "stack", "*x", "axis: int64 = 0"),
        _T("Slice", "slice", "x", "start: repeated int64 := (0,) * len(x.shape); "
           "stop: repeated int64 := tuple(x.shape); step: repeated int64 := (1,) * len(x.shape)"),
        _T("Pad", "pad", "x", "pad_width: repeated int64; mode: string = 'constant'; "
           "constant_value: float = 0"),
        _T("Transpose", "transpose", "x", "axes: repeated int64"),
        _T("Broadcast", "broadcast", "x", "shape: Shape"),
        _T("BroadcastTo", "broadcast_to", "x, y", "axis: int64 = -1", out="z"),
        _T("Tile", "tile", "x", "reps: repeated int64"),
        _T("OneHot", "one_hot", "x", "shape: Shape", out="output"),
        _T("Flip", "flip", "x", "axes: repeated int64 := [len(x.shape) - 1]"),
        _T("Shift", "shift", "x", "shifts: repeated int64 := (0,) * len(x.shape); "
           "border_mode: string = 'nearest'"),
        _T("Sort", "sort", "x", "axis: int64 = -1; reverse: bool = False; "
           "with_index: bool = False; only_index: bool = False", out="*y"),
        _T("Reshape", "reshape", "x", "shape: Shape; inplace: bool = True"),
        _T("Shape", "shape", "x", "start: int64 = 0; end: int64 = 0", out="shape"),
        _T("MatrixDiag", "matrix_diag", "x"),
        _T("MatrixDiagPart", "matrix_diag_part", "x"),
        _T("Trilu", "trilu", "x", "k: int64 = 0; upper: bool = True"),
        _T("Meshgrid", "meshgrid", "*x", "ij_indexing: bool = False", out="*y"),
        _T("BatchDet", "batch_det", "x"),
        _T("BatchInv", "batch_inv", "x"),
        _T("BatchLogdet", "batch_logdet", "x"),
        _T("BatchCholesky", "batch_cholesky", "x", "upper: bool = False"),
        _T("Assign", "assign", "dst, src"),
        _T("Gather", "gather", "x, Indices", "axis: int64 = 0; batch_dims: int64 = 0"),
        _T("GatherNd", "gather_nd", "x, indices"),
        _T("BoolGather", "bool_gather", "input, mask", out="output"),
        _T("ScatterNd", "scatter_nd", "data, indices, out:o", "shape: repeated int64 = None; "
           "add: bool = False"),
        _T("ScatterAdd", "scatter_add", "x0, indices, x1", "axis: int64 = 0"),
        _T("BoolScatter", "bool_scatter", "input, mask, output:o"),
        _T("BoolFill", "bool_fill", "data, mask", "value: float = 0"),
        _T("PackPaddedSequence", "pack_padded_sequence", "padded_sequence, lengths",
           "batch_first: bool = False", out="pack_sequence, batch_sizes"),
        _T("PadPackedSequence", "pad_packed_sequence", "packed_sequence, batch_sizes",
           "batch_first: bool = False; padding_value: float = 0.0; "
           "total_length: int64 = -1", out="padded_sequence, lengths"),
        _T("NonZero", "nonzero", "x"),
    ],
    SIGNAL: [
        _T("Interpolate", "interpolate", "x", "output_size: repeated int64; mode: string; "
           "align_corners: bool = True; half_pixel: bool = False; "
           "half_pixel_for_nn: bool = False; channel_last: bool = False"),
        _T("ONNXResize", "onnx_resize", "x", "roi: repeated float = (); "
           "scales: repeated float = (); sizes: repeated int64 = (); mode: string = 'nearest'; "
           "coordinate_transformation_mode: string = 'half_pixel'; cubic_coeff_a: float = -0.75; "
           "exclude_outside: int64 = 0; extrapolation_value: float = 0.0; "
           "nearest_mode: string = 'round_prefer_floor'"),
        _T("FFT", "fft", "x", "signal_ndim: int64; normalized: bool = False"),
        _T("IFFT", "ifft", "x", "signal_ndim: int64; normalized: bool = False"),
        _T("STFT", "stft", "x", "window_size: int64; stride: int64; fft_size: int64; "
           "window_type: string = 'hanning'; center: bool = True; pad_mode: string = 'reflect'; "
           "as_istft_backward: bool = False", out="y_r, y_i"),
        _T("ISTFT", "istft", "y_r, y_i", "window_size: int64; stride: int64; fft_size: int64; "
           "window_type: string = 'hanning'; center: bool = True; pad_mode: string = 'reflect'; "
           "as_stft_backward: bool = False", out="x"),
    ],
    STOCHASTICITY: [
        _T("Dropout", "dropout", "x", "p: double = 0.5; seed: int64 = -1"),
        _T("TopKData", "top_k_data", "x", "k: int64; abs: bool = False; reduce: bool = True; "
           "base_axis: int64 = 1; largest: bool = True; "
           "with_index: bool = False", out="y, indices"),
        _T("TopKGrad", "top_k_grad", "x", "k: int64; abs: bool = False; base_axis: int64 = 1"),
        _T("Rand", "rand", "", "low: float = 0; high: float = 1; shape: Shape = []; "
           "seed: int64 = -1"),
        _T("Randint", "randint", "", "low: int64 = 0; high: int64 = 1; shape: Shape = []; "
           "seed: int64 = -1"),
        _T("Randn", "randn", "", "mu: float = 0; sigma: float = 1; shape: Shape = []; "
           "seed: int64 = -1"),
        _T("RandBinomial", "rand_binomial", "", "n: int64 = 1; p: float = 0.5; shape: Shape = []; "
           "seed: int64 = -1"),
        _T("RandBeta", "rand_beta", "", "alpha: float = 0.5; beta: float = 0.5; "
           "shape: Shape = []; seed: int64 = -1"),
        _T("RandGamma", "rand_gamma", "", "k: float = 0.5; theta: float = 1; shape: Shape = []; "
           "seed: int64 = -1"),
        _T("RandomChoice", "random_choice", "x, w", "shape: Shape = []; replace: bool = True; "
           "seed: int64 = -1"),
        _T("RandomCrop", "random_crop", "x", "shape: Shape := x.shape; base_axis: int64 = 1; "
           "seed: int64 = -1"),
        _T("RandomFlip", "random_flip", "x", "axes: repeated int64 := [len(x.shape) - 1]; "
           "base_axis: int64 = 1; seed: int64 = -1"),
        _T("RandomShift", "random_shift", "x", "shifts: repeated int64 := (0,) * len(x.shape); "
           "border_mode: string = 'nearest'; constant_value: float = 0; base_axis: int64 = 1; "
           "seed: int64 = -1"),
        _T("RandomErase", "random_erase", "x", "prob: float = 0.5; "
           "area_ratios: repeated float = (0.02, 0.4); "
           "aspect_ratios: repeated float = (0.3, 3.3333); "
           "replacements: repeated float = (0.0, 255.0); n: int64 = 1; share: bool = True; "
           "inplace: bool = False; base_axis: int64 = 1; seed: int64 = -1; "
           "channel_last: bool = False; ste_fine_grained: bool = True"),
        _T("ImageAugmentation", "image_augmentation", "x", "shape: Shape := x.shape; "
           "pad: Shape = (0, 0); min_scale: float = 1.0; max_scale: float = 1.0; "
           "angle: float = 0.0; aspect_ratio: float = 1.0; distortion: float = 0.0; "
           "flip_lr: bool = False; flip_ud: bool = False; brightness: float = 0.0; "
           "brightness_each: bool = False; contrast: float = 1.0; contrast_center: float = 0.0; "
           "contrast_each: bool = False; noise: float = 0.0; seed: int64 = -1"),
    ],
    LOSS: [
        _T("SigmoidCrossEntropy", "sigmoid_cross_entropy", "x:p, target:p"),
        _T("BinaryCrossEntropy", "binary_cross_entropy", "x, target"),
        _T("SoftmaxCrossEntropy", "softmax_cross_entropy", "x:p, target:p",
           "axis: int64 := len(x.shape) - 1"),
        _T("CategoricalCrossEntropy", "categorical_cross_entropy", "x:p, target:p",
           "axis: int64 := len(x.shape) - 1"),
        _T("SquaredError", "squared_error", "x0, x1"),
        _T("AbsoluteError", "absolute_error", "x0, x1"),
        _T("HuberLoss", "huber_loss", "x0, x1", "delta: float = 1.0"),
        _T("EpsilonInsensitiveLoss", "epsilon_insensitive_loss", "x0, x1", "epsilon: float"),
        _T("KLMultinomial", "kl_multinomial", "p, q", "base_axis: int64 = 1", out="D"),
    ],
    GEOMETRIC: [
        _T("AffineGrid", "affine_grid", "theta", "size: repeated int64; "
           "align_corners: bool = False", out="grid"),
        _T("WarpByGrid", "warp_by_grid", "x, grid", "mode: string = 'linear'; "
           "padding_mode: string = 'zero'; align_corners: bool = False; "
           "channel_last: bool = False"),
        _T("WarpByFlow", "warp_by_flow", "data, flow", out="warped_image"),
    ],
    QUANTIZATION: [
        _T("BinarySigmoid", "binary_sigmoid", "x"),
        _T("BinaryTanh", "binary_tanh", "x"),
        _T("BinaryConnectAffine", "binary_connect_affine", "x, weight:p, binary_weight:p, bias:op",
           "base_axis: int64 = 1; quantize_zero_to: float = 1.0"),
        _T("BinaryConnectConvolution", "binary_connect_convolution",
           "x, weight:p, binary_weight:p, bias:op", "base_axis: int64 = 1; "
           "pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); group: int64 = 1; "
           "quantize_zero_to: float = 1.0"),
        _T("BinaryWeightAffine", "binary_weight_affine",
           "x, weight:p, binary_weight:p, alpha:p, bias:op", "base_axis: int64 = 1; "
           "quantize_zero_to: float = 1.0"),
        _T("BinaryWeightConvolution", "binary_weight_convolution",
           "x, weight:p, binary_weight:p, alpha:p, bias:op", "base_axis: int64 = 1; "
           "pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); group: int64 = 1; "
           "quantize_zero_to: float = 1.0"),
        _T("INQAffine", "inq_affine", "x, weight:p, indicator_fixedweights:p, bias:op",
           "base_axis: int64 = 1; num_bits: int64 = 4; inq_iterations: repeated int64 = (); "
           "selection_algorithm: string = 'largest_abs'; seed: int64 = -1"),
        _T("INQConvolution", "inq_convolution", "x, weight:p, indicator_fixedweights:p, bias:op",
           "base_axis: int64 = 1; pad: Shape := (0,) * (len(x.shape) - (base_axis+1)); "
           "stride: Shape := (1,) * (len(x.shape) - (base_axis+1)); "
           "dilation: Shape := (1,) * (len(x.shape) - (base_axis+1)); group: int64 = 1; "
           "num_bits: int64 = 4; inq_iterations: repeated int64 = (); "
           "selection_algorithm: string = 'largest_abs'; seed: int64 = -1"),
        _T("FixedPointQuantize", "fixed_point_quantize", "x", "sign: bool = True; n: int64 = 8; "
           "delta: float = 0.0625; ste_fine_grained: bool = True"),
        _T("MinMaxQuantize", "min_max_quantize", "x, qr_min, qr_max, ql_min, ql_max",
           "decay: float = 0.999; x_min_max: bool = False; ema: bool = False; "
           "ste_fine_grained: bool = True; eps: float = 0.01"),
        _T("Pow2Quantize", "pow2_quantize", "x", "sign: bool = True; with_zero: bool = True; "
           "n: int64 = 8; m: int64 = 1; ste_fine_grained: bool = True"),
        _T("Prune", "prune", "x", "rate: float = 0.9"),
        _T("QuantizeLinear", "quantize_linear", "x, scale, zero_point",
           "round_mode: string = 'HALF_AWAY_FROM_ZERO'; narrow_range: bool = False; "
           "dtype: int64 = 1"),
        _T("DequantizeLinear", "dequantize_linear", "x, scale, zero_point"),
    ],
    VALIDATION: [
        _T("TopNError", "top_n_error", "x, target", "axis: int64 := len(x.shape) - 1; "
           "n: int64 = 1", out="output"),
        _T("BinaryError", "binary_error", "x, target", out="output"),
        _T("ConfusionMatrix", "confusion_matrix", "x, target", "axis: int64 := len(x.shape) - 1",
           out="output"),
    ],
    SPECIAL: [
        _T("VATNoise", "vat_noise", "x, w", "base_axis: int64 = 1; eps: float = 1.0"),
        _T("Unlink", "unlink", "x"),
        _T("Sink", "sink", "*x", "one_input_grad: bool = True"),
        _T("NmsDetection2d", "nms_detection2d", "x", "thresh: float = 0.5; nms: float = 0.45; "
           "nms_per_class: bool = True"),
        _T("ONNXNonMaxSuppression", "onnx_non_max_suppression", "boxes, scores",
           "center_point_box: int64 = 0; max_output_boxes_per_class: int64 = 0; "
           "iou_threshold: float = 0.0; score_threshold: float = 0.0"),
        _T("MaxPoolingBackward", "max_pooling_backward", "dy, x", "kernel: Shape; "
           "stride: Shape := kernel; ignore_border: bool = True; "
           "pad: Shape := (0,) * len(kernel); channel_last: bool = False", out="dx"),
        _T("PatchCorrelation", "patch_correlation", "x1, x2", "patch: Shape = (1, 1); "
           "shift: Shape = (0, 0); patch_step: Shape = (1, 1); shift_step: Shape = (1, 1); "
           "padding: Shape = (0, 0, 0, 0)"),
        _T("Unique", "unique", "x", "flatten: bool = True; axis: int64 = None; "
           "sorted: bool = True; with_index: bool = False; with_inverse: bool = False; "
           "with_counts: bool = False", out="y, indices, inverse_indices, counts"),
        _T("EyeLike", "eye_like", "x", "k: int64 = 0"),
        _T("Mod2", "mod2", "x0, x1", "fmod: bool = False"),
        _T("BitShift", "bit_shift", "x, shift", "direction: string = 'LEFT'"),
        _T("Einsum", "einsum", "*x", "equation: string = ''"),
    ],
}

CATEGORIES = tuple(_TABLE)
DECLARED = {}
for _category, _entries in _TABLE.items():
    for _name, _snake, _inputs, _args, _out in _entries:
        if _name in DECLARED:
            raise ValueError(f"function type {_name!r} declared twice")
        DECLARED[_name] = TypeDecl(_name, _snake, _category, _parse_inputs(_inputs),
                                   _parse_args(_args), _parse_outputs(_out))
del _category, _entries, _name, _snake, _inputs, _args, _out
