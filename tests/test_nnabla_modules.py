"""Module paths and error types NNabla code relies on."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.normalization_functions as N


def test_normalization_functions_module():
    assert N.layer_normalization is F.layer_normalization
    assert N._get_axes_excluding(4, [1, -1]) == [0, 2]
    assert N._get_axes_excluding(3, 0) == [1, 2]
    assert N._force_list(2) == [2] and N._force_list((1, 2)) == (1, 2)
    assert N._check_batch_axis_and_force_list(3, 1) == [1]
    with pytest.raises(ValueError, match="axis"):
        N._check_batch_axis_and_force_list(3, 3)
    np.testing.assert_allclose(N._apply_affine(np.arange(3.0), 2.0, 1.0), [1, 3, 5])
    np.testing.assert_allclose(N._apply_affine(np.arange(3.0)), [0, 1, 2])


@pytest.mark.parametrize("p", [-0.01, 1.0])
def test_refused_arguments_are_value_and_runtime_errors(p):
    x = nn.Variable((2, 3))
    with pytest.raises(RuntimeError, match="dropout: p must be in"):
        F.dropout(x, p)
    with pytest.raises(ValueError, match="dropout: p must be in"):
        F.dropout(x, p)
    with pytest.raises(RuntimeError, match=r"affine: x of shape \(2, 3\) has 3 features"):
        F.affine(x, nn.Variable((4, 2)))


def test_ndarray_shape_as_varargs_or_tuple():
    assert nn.NdArray(2, 3).shape == (2, 3)
    assert nn.NdArray((2, 3)).shape == (2, 3) and nn.NdArray([4]).shape == (4,)
    assert nn.NdArray(5).shape == (5,) and nn.NdArray().shape == ()
    with pytest.raises(ValueError, match="NdArray: the shape must be ints"):
        nn.NdArray(2, "x")


def test_copy_from_returns_the_array():
    src = nn.NdArray.from_numpy_array(np.arange(6.0).reshape(2, 3))
    dst = nn.NdArray(2, 3)
    assert dst.copy_from(src) is dst
    np.testing.assert_array_equal(dst.data, np.arange(6.0).reshape(2, 3))


def test_writing_a_value_of_the_wrong_shape_names_both_shapes():
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match=r"Variable.d of a variable of shape \(2, 3\).*"
                                         r"value of shape \(4, 5\)"):
        x.d = np.ones((4, 5))
    x.d = np.ones(3)  # broadcasting values stay allowed
    np.testing.assert_array_equal(x.d, 1)


def test_context_refuses_an_unknown_backend_naming_it():
    with pytest.raises(ValueError, match="unknown backend entry 'foo:float'"):
        nn.Context(backend=["foo:float"])
    with pytest.raises(ValueError, match="'cpu:float16'"):
        nn.Context(backend=["cpu:float16"])
    assert nn.Context(backend=["cudnn:half", "cpu:float"]).type_config == "half"


def test_nnabla_ext_modules():
    import nnabla_ext.cuda
    import nnabla_ext.cpu
    from nnabla.ext_utils import import_extension_module
    assert import_extension_module("cuda") is nnabla_ext.cuda
    assert nnabla_ext.cuda.clear_memory_cache() is None
    assert nnabla_ext.cpu.get_device_count() == 1
    ctx = nnabla_ext.cpu.context()
    assert ctx.backend == ["cpu:float"]
    with pytest.raises(ImportError, match="unknown extension 'tpu'"):
        import_extension_module("tpu")
