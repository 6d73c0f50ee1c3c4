"""Implementation status: NNabla's 228 function types and its parametric functions.

``python -m nnjax.functions --status`` prints the table;
``python -m nnjax.functions --markdown docs/STATUS.md`` writes it as Markdown.
A function type counts as implemented when ``nnjax._registry.REGISTRY`` has a
lowering for it; a parametric function when ``nnjax.parametric_functions``
defines it.
"""
import argparse
import sys

# NNabla 1.36's function types by category (the order of NNabla's function list).
FUNCTION_TYPES = {
    "Neural Network Layer": [
        "Affine", "RNN", "LSTM", "GRU", "Convolution", "FusedConvolution",
        "DepthwiseConvolution", "Deconvolution", "DepthwiseDeconvolution",
        "DeformableConvolution", "AdaptiveSeparableConvolution", "MaxPooling",
        "AveragePooling", "GlobalAveragePooling", "SumPooling", "Unpooling", "Embed",
        "RoiAlign"],
    "Neural Network Activation Functions": [
        "Sigmoid", "Swish", "Tanh", "ReLU", "LeakyReLU", "Softmax", "LogSoftmax", "ELU", "SELU",
        "CReLU", "CELU", "PReLU", "GELU", "Mish", "ReLU6", "HardSigmoid", "HardTanh",
        "LogSigmoid", "SoftPlus", "SoftSign", "TanhShrink", "Sinc"],
    "Normalization": [
        "FusedBatchNormalization", "BatchNormalization", "GroupNormalization",
        "InstanceNormalization", "LayerNormalization", "NormNormalization",
        "SyncBatchNormalization", "TensorNormalization", "WeightNormalization",
        "WeightStandardization", "SpectralNorm", "MeanSubtraction", "ClipGradByValue",
        "ClipGradByNorm"],
    "Reduction": [
        "Sum", "CumSum", "Mean", "Max", "Min", "Norm", "Prod", "CumProd", "ReduceSum",
        "ReduceMean"],
    "Arithmetic": [
        "Add2", "AddN", "BcAdd2", "Sub2", "Mul2", "MulN", "Div2", "Pow2", "AddScalar",
        "MulScalar", "PowScalar", "RSubScalar", "RDivScalar", "RPowScalar"],
    "Logical": [
        "Sign", "Minimum2", "Maximum2", "MinimumScalar", "MaximumScalar", "LogicalAnd",
        "LogicalOr", "LogicalXor", "Equal", "NotEqual", "GreaterEqual", "Greater", "LessEqual",
        "Less", "SearchSorted", "LogicalAndScalar", "LogicalOrScalar", "LogicalXorScalar",
        "EqualScalar", "NotEqualScalar", "GreaterEqualScalar", "GreaterScalar",
        "LessEqualScalar", "LessScalar", "LogicalNot", "IsNaN", "IsInf", "ResetNaN",
        "ResetInf", "Where"],
    "Math": [
        "Constant", "Arange", "Linspace", "Abs", "Exp", "Log", "Identity", "BatchMatmul",
        "Round", "Ceil", "Floor", "Sin", "Cos", "Tan", "Sinh", "Cosh", "ASin", "ACos", "ATan",
        "ATan2", "ASinh", "ACosh", "ATanh", "Erf"],
    "Array Manipulation": [
        "Concatenate", "Split", "Stack", "Slice", "Pad", "Transpose", "Broadcast",
        "BroadcastTo", "Tile", "OneHot", "Flip", "Shift", "Sort", "Reshape", "Shape",
        "MatrixDiag", "MatrixDiagPart", "Trilu", "Meshgrid", "BatchDet", "BatchInv",
        "BatchLogdet", "BatchCholesky", "Assign", "Gather", "GatherNd", "BoolGather",
        "ScatterNd", "ScatterAdd", "BoolScatter", "BoolFill", "PackPaddedSequence",
        "PadPackedSequence", "NonZero"],
    "Signal Processing": [
        "Interpolate", "ONNXResize", "FFT", "IFFT", "STFT", "ISTFT"],
    "Stochasticity": [
        "Dropout", "TopKData", "TopKGrad", "Rand", "Randint", "Randn", "RandBinomial",
        "RandBeta", "RandGamma", "RandomChoice", "RandomCrop", "RandomFlip", "RandomShift",
        "RandomErase", "ImageAugmentation"],
    "Loss Functions": [
        "SigmoidCrossEntropy", "BinaryCrossEntropy", "SoftmaxCrossEntropy",
        "CategoricalCrossEntropy", "SquaredError", "AbsoluteError", "HuberLoss",
        "EpsilonInsensitiveLoss", "KLMultinomial"],
    "Geometric Neural Network Layers": [
        "AffineGrid", "WarpByGrid", "WarpByFlow"],
    "Quantization Neural Network Layers": [
        "BinarySigmoid", "BinaryTanh", "BinaryConnectAffine", "BinaryConnectConvolution",
        "BinaryWeightAffine", "BinaryWeightConvolution", "INQAffine", "INQConvolution",
        "FixedPointQuantize", "MinMaxQuantize", "Pow2Quantize", "Prune", "QuantizeLinear",
        "DequantizeLinear"],
    "Validation": [
        "TopNError", "BinaryError", "ConfusionMatrix"],
    "Unsupported, Special Use": [
        "VATNoise", "Unlink", "Sink", "NmsDetection2d", "ONNXNonMaxSuppression",
        "MaxPoolingBackward", "PatchCorrelation", "Unique", "EyeLike", "Mod2", "BitShift",
        "Einsum"],
}

# nnabla.parametric_functions (functions, and the LSTMCell class).
PARAMETRIC_FUNCTIONS = [
    "affine", "svd_affine", "binary_connect_affine", "binary_weight_affine", "inq_affine",
    "convolution", "svd_convolution", "cpd3_convolution", "binary_connect_convolution",
    "binary_weight_convolution", "inq_convolution", "deformable_convolution",
    "depthwise_convolution", "deconvolution", "depthwise_deconvolution", "rnn", "lstm", "gru",
    "fused_batch_normalization", "batch_normalization", "sync_batch_normalization",
    "mean_subtraction", "layer_normalization", "instance_normalization",
    "group_normalization", "embed", "prelu", "fixed_point_quantized_affine",
    "fixed_point_quantized_convolution", "pow2_quantized_affine", "pow2_quantized_convolution",
    "pruned_affine", "pruned_convolution", "min_max_quantize", "min_max_quantized_affine",
    "min_max_quantized_convolution", "lstm_cell", "LSTMCell", "spectral_norm",
    "weight_normalization", "multi_head_attention", "transformer", "transformer_encode",
    "transformer_decode",
]


def collect():
    """The status as plain data.

    Returns a dict with ``functions`` (list of (category, type name, implemented)),
    ``parametric`` (list of (name, implemented)) and ``extra`` (registered type
    names that are not NNabla function types).
    """
    from . import parametric_functions
    from ._registry import REGISTRY
    functions = [(cat, name, name in REGISTRY)
                 for cat, names in FUNCTION_TYPES.items() for name in names]
    known = {name for _, name, _ in functions}
    parametric = [(name, callable(getattr(parametric_functions, name, None)))
                  for name in PARAMETRIC_FUNCTIONS]
    extra = sorted(n for n in REGISTRY if n not in known)
    return {"functions": functions, "parametric": parametric, "extra": extra}


def _counts(status):
    fn_done = sum(1 for *_, ok in status["functions"] if ok)
    pf_done = sum(1 for _, ok in status["parametric"] if ok)
    return fn_done, len(status["functions"]), pf_done, len(status["parametric"])


def format_text(status):
    fn_done, fn_total, pf_done, pf_total = _counts(status)
    lines = [f"Function types: {fn_done}/{fn_total} implemented", ""]
    current = None
    for cat, name, ok in status["functions"]:
        if cat != current:
            done = sum(1 for c, _, o in status["functions"] if c == cat and o)
            total = sum(1 for c, _, _ in status["functions"] if c == cat)
            lines.append(f"{cat} ({done}/{total})")
            current = cat
        lines.append(f"  [{'x' if ok else ' '}] {name}")
    lines += ["", f"Parametric functions: {pf_done}/{pf_total} implemented"]
    for name, ok in status["parametric"]:
        lines.append(f"  [{'x' if ok else ' '}] {name}")
    if status["extra"]:
        lines += ["", "Also registered (nnjax-internal types): " + ", ".join(status["extra"])]
    return "\n".join(lines) + "\n"


def format_markdown(status):
    fn_done, fn_total, pf_done, pf_total = _counts(status)
    lines = ["# nnjax implementation status", "",
             "Generated by `python -m nnjax.functions --markdown docs/STATUS.md` from "
             "`nnjax._registry.REGISTRY` and `nnjax.parametric_functions`.", "",
             f"- Function types: **{fn_done}/{fn_total}** implemented",
             f"- Parametric functions: **{pf_done}/{pf_total}** implemented", ""]
    current = None
    for cat, name, ok in status["functions"]:
        if cat != current:
            done = sum(1 for c, _, o in status["functions"] if c == cat and o)
            total = sum(1 for c, _, _ in status["functions"] if c == cat)
            lines += ["", f"## {cat} ({done}/{total})", "", "| Function type | Implemented |",
                      "|---|---|"]
            current = cat
        lines.append(f"| {name} | {'yes' if ok else 'no'} |")
    lines += ["", f"## Parametric functions ({pf_done}/{pf_total})", "",
              "| Parametric function | Implemented |", "|---|---|"]
    for name, ok in status["parametric"]:
        lines.append(f"| {name} | {'yes' if ok else 'no'} |")
    if status["extra"]:
        lines += ["", "## Other registered types (nnjax-internal)", "",
                  ", ".join(f"`{n}`" for n in status["extra"])]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nnjax.functions",
                                     description="nnjax implementation status")
    parser.add_argument("--status", action="store_true", help="print the status table")
    parser.add_argument("--markdown", metavar="PATH", help="write the table as Markdown")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    status = collect()
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(format_markdown(status))
    if args.status or not args.markdown:
        sys.stdout.write(format_text(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
