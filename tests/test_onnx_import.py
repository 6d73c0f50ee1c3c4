"""ONNX import of single operators (attribute forms of older opsets, input forms of
newer ones), each compared with onnxruntime running the same model."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from nnabla.utils.converter.onnx import OnnxImporter
from nnabla.utils.converter.stablehlo import network_function

from onnx_check import run_onnx

pytest.importorskip("onnxruntime")


def _i64(*v):
    return np.asarray(v, np.int64)


# (op, opset, input shapes, attributes, constant inputs {position: array}, output count)
CASES = {
    "Slice-9": ("Slice", 9, [(3, 5, 4)], dict(starts=[1, 0], ends=[3, 100], axes=[0, 2]), {}),
    "Slice-13-neg-step": ("Slice", 13, [(3, 5, 4)], {},
                          {1: _i64(-1), 2: _i64(-100), 3: _i64(1), 4: _i64(-2)}),
    "Split-11": ("Split", 11, [(2, 6, 3)], dict(axis=1, split=[2, 4]), {}, 2),
    "Split-13": ("Split", 13, [(2, 6, 3)], dict(axis=1), {1: _i64(4, 2)}, 2),
    "Squeeze-11": ("Squeeze", 11, [(2, 1, 3, 1)], dict(axes=[1, 3]), {}),
    "Unsqueeze-13": ("Unsqueeze", 13, [(2, 3)], {}, {1: _i64(0, 3)}),
    "ReduceSum-11": ("ReduceSum", 11, [(2, 3, 4)], dict(axes=[1], keepdims=0), {}),
    "ReduceSum-13": ("ReduceSum", 13, [(2, 3, 4)], dict(keepdims=1), {1: _i64(0, 2)}),
    "ReduceMax-11": ("ReduceMax", 11, [(2, 3, 4)], dict(axes=[-1]), {}),
    "ReduceL2": ("ReduceL2", 11, [(2, 3, 4)], dict(axes=[1, 2]), {}),
    "ReduceLogSumExp": ("ReduceLogSumExp", 11, [(2, 3, 4)], dict(axes=[1], keepdims=0), {}),
    "ReduceSumSquare": ("ReduceSumSquare", 11, [(2, 3, 4)], dict(axes=[2]), {}),
    "ArgMax": ("ArgMax", 11, [(2, 3, 4)], dict(axis=1, keepdims=0), {}),
    "Clip-6": ("Clip", 6, [(2, 3)], dict(min=-0.5, max=0.3), {}),
    "Clip-11": ("Clip", 11, [(2, 3)], {}, {1: np.float32(-0.2), 2: np.float32(0.4)}),
    "Pad-9-edge": ("Pad", 9, [(2, 3, 4)], dict(pads=[0, 1, 2, 0, 2, 1], mode="edge"), {}),
    "Pad-11": ("Pad", 11, [(2, 3)], dict(mode="constant"), {1: _i64(1, 0, 0, 2),
                                                             2: np.float32(1.5)}),
    "Softmax-11-axis1": ("Softmax", 11, [(2, 3, 4)], dict(axis=1), {}),
    "LogSoftmax-13": ("LogSoftmax", 13, [(2, 3, 4)], dict(axis=1), {}),
    "Gemm-transA": ("Gemm", 11, [(4, 2)], dict(transA=1, alpha=2.0, beta=0.5),
                    {1: np.random.RandomState(0).randn(4, 3).astype(np.float32),
                     2: np.random.RandomState(1).randn(3).astype(np.float32)}),
    "MatMul-batched": ("MatMul", 13, [(2, 3, 4), (4, 5)], {}, {}),
    "ConvTranspose": ("ConvTranspose", 11, [(1, 2, 3, 3)], dict(strides=[2, 2], pads=[1, 1, 1, 1],
                                                                output_padding=[1, 1]),
                      {1: np.random.RandomState(2).randn(2, 3, 3, 3).astype(np.float32)}),
    "AveragePool-ceil": ("AveragePool", 11, [(1, 2, 5, 5)],
                         dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), {}),
    "MaxPool-asym-pads": ("MaxPool", 11, [(1, 2, 5, 6)],
                          dict(kernel_shape=[3, 3], pads=[1, 0, 0, 1]), {}),
    "DepthToSpace": ("DepthToSpace", 11, [(1, 8, 2, 3)], dict(blocksize=2, mode="CRD"), {}),
    "SpaceToDepth": ("SpaceToDepth", 11, [(1, 2, 4, 6)], dict(blocksize=2), {}),
    "Upsample-9": ("Upsample", 9, [(1, 2, 2, 3)], dict(mode="nearest"),
                   {1: np.asarray([1, 1, 2, 3], np.float32)}),
    "Resize-linear": ("Resize", 11, [(1, 2, 3, 4)], dict(mode="linear",
                                                         coordinate_transformation_mode="align_corners"),
                      {1: np.zeros(0, np.float32), 2: np.zeros(0, np.float32),
                       3: _i64(1, 2, 5, 7)}),
    "Expand": ("Expand", 13, [(3, 1)], {}, {1: _i64(2, 3, 4)}),
    "Where-broadcast": ("Where", 13, [(3,), (2, 1)], {},
                        {0: np.asarray([[True, False, True], [False, True, True]])}),
    "HardSigmoid": ("HardSigmoid", 11, [(2, 3)], dict(alpha=0.3, beta=0.4), {}),
    "PRelu-channel": ("PRelu", 11, [(2, 3, 4)], {},
                      {1: np.asarray([[0.1], [0.2], [-0.3]], np.float32)}),
    "Shrink": ("Shrink", 11, [(2, 5)], dict(lambd=0.4, bias=0.1), {}),
    "ThresholdedRelu": ("ThresholdedRelu", 11, [(2, 5)], dict(alpha=0.2), {}),
    "LpNormalization": ("LpNormalization", 11, [(2, 5)], dict(p=1, axis=1), {}),
    "GlobalLpPool": ("GlobalLpPool", 11, [(1, 2, 3, 3)], {}, {}),
    "Mean": ("Mean", 11, [(2, 3), (2, 3), (1, 3)], {}, {}),
    "LRN": ("LRN", 11, [(2, 5, 3, 3)], dict(size=3, alpha=0.01, beta=0.6, bias=1.5), {}),
}


def _model(op, opset, shapes, attrs, consts, n_out):
    names, inits, inputs, feeds = [], [], [], {}
    rng = np.random.RandomState(7)
    n_in = len(shapes) + len(consts)
    k = 0
    for pos in range(n_in):
        if pos in consts:
            name = f"c{pos}"
            inits.append(numpy_helper.from_array(np.asarray(consts[pos]), name))
        else:
            name = f"x{k}"
            shape = shapes[k]
            k += 1
            feeds[name] = rng.randn(*shape).astype(np.float32)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        names.append(name)
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    outputs = [helper.make_tensor_value_info(f"y{i}", TensorProto.UNDEFINED, None)
               for i in range(n_out)]
    graph = helper.make_graph([node], "single", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 6 if opset <= 11 else 7
    return onnx.shape_inference.infer_shapes(model), feeds


@pytest.mark.parametrize("case", sorted(CASES))
def test_operator_imports_and_matches_onnxruntime(case):
    op, opset, shapes, attrs, consts, *rest = CASES[case]
    model, feeds = _model(op, opset, shapes, attrs, consts, rest[0] if rest else 1)
    want = run_onnx(model, feeds)
    nnp = OnnxImporter(model).execute()
    fn, _, names, _ = network_function(nnp)
    got = fn(*[feeds[n] for n in names])
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w, np.float32), rtol=1e-4,
                                   atol=1e-5, err_msg=case)
