"""Bad input is refused when the graph is built, with a Python exception that
names the function and the shapes involved; nothing half-built is left behind."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S


def _names_function(msg, *names):
    low = msg.lower()
    return any(n.lower() in low for n in names)


@pytest.mark.parametrize("build,names,shapes", [
    (lambda: F.add2(nn.Variable((2, 3)), nn.Variable((4, 5))), ("Add2",), ["(2, 3)", "(4, 5)"]),
    (lambda: F.mul2(nn.Variable((2, 3)), nn.Variable((3, 2))), ("Mul2",), ["(2, 3)", "(3, 2)"]),
    (lambda: F.affine(nn.Variable((5, 2)), nn.Variable((3, 3))), ("Affine",), ["(5, 2)", "(3, 3)"]),
    (lambda: F.affine(nn.Variable((5, 3)), nn.Variable((3, 4)), nn.Variable((5,))),
     ("Affine",), ["(5,)"]),
    (lambda: F.convolution(nn.Variable((1, 3, 8, 8)), nn.Variable((4, 2, 3, 3))),
     ("Convolution",), ["(1, 3, 8, 8)", "(4, 2, 3, 3)"]),
    (lambda: F.reshape(nn.Variable((2, 3)), (4,)), ("Reshape",), ["(2, 3)", "(4,)"]),
    (lambda: F.softmax_cross_entropy(nn.Variable((4, 10)), nn.Variable((5, 1))),
     ("SoftmaxCrossEntropy", "softmax_cross_entropy"), ["(4, 10)", "(5, 1)"]),
    (lambda: F.concatenate(nn.Variable((2, 3)), nn.Variable((4, 5)), axis=1),
     ("Concatenate",), ["(2, 3)", "(4, 5)"]),
    (lambda: F.batch_matmul(nn.Variable((2, 3, 4)), nn.Variable((2, 5, 6))),
     ("BatchMatmul", "batch_matmul"), ["(2, 3, 4)", "(2, 5, 6)"]),
    (lambda: nn.Variable((2, 3)) + nn.Variable((3, 3)), ("Add2",), ["(2, 3)", "(3, 3)"]),
])
def test_shape_mismatch_names_function_and_shapes(build, names, shapes):
    with pytest.raises(ValueError) as e:
        build()
    msg = str(e.value)
    assert _names_function(msg, *names), msg
    for s in shapes:
        assert s.replace(" ", "") in msg.replace(" ", ""), (s, msg)


def test_error_at_construction_leaves_no_node():
    x = nn.Variable((2, 3), need_grad=True)
    y = nn.Variable((4, 5))
    with pytest.raises(ValueError):
        F.add2(x, y)
    assert x.function_references == []
    assert y.function_references == []


def test_bad_axis_and_arguments():
    x = nn.Variable((2, 3))
    with pytest.raises((ValueError, IndexError)) as e:
        F.sum(x, axis=5)
    assert _names_function(str(e.value), "sum")
    with pytest.raises((ValueError, IndexError)) as e:
        F.softmax(x, axis=-3)
    assert _names_function(str(e.value), "softmax")
    with pytest.raises(ValueError) as e:
        F.max_pooling(nn.Variable((1, 1, 4, 4)), (2, 2, 2, 2, 2))
    assert _names_function(str(e.value), "pooling")


@pytest.mark.parametrize("build,names", [
    (lambda: F.relu("abc"), ("ReLU", "relu")),
    (lambda: F.tanh(object()), ("Tanh", "tanh")),
    (lambda: F.add2(nn.Variable((2,)), {"a": 1}), ("Add2", "add2")),
    (lambda: F.pow2(nn.Variable((2,)), [object()]), ("Pow2", "pow2")),
    (lambda: F.softmax_cross_entropy(nn.Variable((2, 3)), "t"),
     ("SoftmaxCrossEntropy", "softmax_cross_entropy")),
    (lambda: F.affine(nn.Variable((2, 2)), "w"), ("Affine", "affine")),
])
def test_wrong_argument_types(build, names):
    with pytest.raises(TypeError) as e:
        build()
    assert _names_function(str(e.value), *names), str(e.value)


@pytest.mark.parametrize("build", [
    lambda: F.relu(nn.Variable((2,)), foo=1),
    lambda: F.affine(nn.Variable((2, 2)), nn.Variable((2, 2)), bias_axis=1),
    lambda: F.sum(nn.Variable((2,)), axes=0),
    lambda: PF.affine(nn.Variable((2, 2)), 3, n_out=3),
    lambda: PF.convolution(nn.Variable((1, 1, 4, 4)), 2, (3, 3), padding=(1, 1)),
    lambda: nn.Variable((2,), need_gradient=True),
    lambda: S.Sgd(lr=0.1, momentum=0.9),
    lambda: S.Adam(alhpa=0.1),
])
def test_unknown_keyword_arguments(build):
    with pytest.raises(TypeError, match="unexpected keyword|got an unexpected|argument"):
        build()


def test_never_computed_variables_read_zeros():
    x = nn.Variable((3, 4))
    np.testing.assert_array_equal(x.d, np.zeros((3, 4)))
    np.testing.assert_array_equal(x.g, np.zeros((3, 4)))
    h = PF.affine(x, 5, name="z")
    y = F.softmax(h)
    np.testing.assert_array_equal(y.d, np.zeros((3, 5)))  # never forwarded: zeros, no raise
    np.testing.assert_array_equal(h.g, np.zeros((3, 5)))
    lbl = F.max(y, axis=1, only_index=True)
    assert lbl.d.shape == (3,)
    assert np.all(lbl.d == 0)


def test_other_bad_calls():
    with pytest.raises(ValueError):
        nn.Variable((2, -3))
    with pytest.raises(TypeError):
        nn.parameter_scope(123).__enter__()
    with pytest.raises(TypeError):
        nn.load_parameters(123)
    solver = S.Sgd(lr=0.1)
    with pytest.raises(TypeError):
        solver.set_parameters([nn.Variable((2,))])
    with pytest.raises(TypeError):
        solver.set_parameters({"w": np.zeros(2)})
    with pytest.raises(ValueError):
        nn.Variable((2, 3)).d = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"size.*\(3, 4\).*\(5, 4\)"):
        with nn.parameter_scope("p"):
            PF.affine(nn.Variable((2, 3)), 4)
            PF.affine(nn.Variable((2, 5)), 4)
    # backward of a graph without any need_grad leaf, and forward of a leaf: no error
    x = nn.Variable.from_numpy_array(np.ones((2,), np.float32))
    y = F.tanh(x)
    y.forward()
    y.backward()
    x.forward()
    np.testing.assert_array_equal(x.g, 0)
