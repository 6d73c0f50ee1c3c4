"""nn.Module / nn.Sequential / nnabla.core.modules against numpy references."""
import io

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from nnabla.core.modules import ConvBn


@pytest.fixture(autouse=True)
def fresh_graph():
    nn.graph_def.reset_default_graph()
    yield
    nn.graph_def.reset_default_graph()


class Dense(nn.Module):
    def __init__(self, n):
        self.n = n

    def call(self, x):
        return PF.affine(x, self.n)


class TwoLayer(nn.Module):
    def __init__(self, hidden, out):
        self.first = Dense(hidden)
        self.second = Dense(out)

    def call(self, x):
        return self.second(F.relu(self.first(x)))


class BnNet(nn.Module):
    def call(self, x):
        return PF.batch_normalization(x, batch_stat=self.training)


def _numpy_two_layer(params, x):
    h = np.maximum(x @ params["@first/affine/W"].d + params["@first/affine/b"].d, 0)
    return h @ params["@second/affine/W"].d + params["@second/affine/b"].d


def test_module_output_matches_numpy_and_parameters_are_scoped(rng):
    net = TwoLayer(5, 3)
    x = nn.Variable.from_numpy_array(rng.randn(4, 6).astype(np.float32))
    y = net(x)
    y.forward()
    params = net.get_parameters()
    assert list(params) == ["@first/affine/W", "@first/affine/b",
                            "@second/affine/W", "@second/affine/b"]
    assert params["@first/affine/W"].shape == (6, 5)
    np.testing.assert_allclose(y.d, _numpy_two_layer(params, x.d), rtol=1e-5, atol=1e-6)
    # a module's parameters live in its own scope, not the global one
    assert nn.get_parameters() == {}


def test_module_backward_grads_match_numpy(rng):
    net = Dense(2)
    x = nn.Variable.from_numpy_array(rng.randn(3, 4).astype(np.float32))
    y = F.sum(net(x))
    y.forward()
    net.zero_grad()
    y.backward()
    p = net.get_parameters()
    np.testing.assert_allclose(p["affine/W"].g, x.d.sum(0)[:, None] * np.ones((1, 2)), rtol=1e-5)
    np.testing.assert_allclose(p["affine/b"].g, np.full(2, 3.0), rtol=1e-6)
    net.zero_grad()
    assert all(np.all(v.g == 0) for v in net.get_parameters().values())


def test_shared_submodule_is_listed_once():
    class Twice(nn.Module):
        def __init__(self):
            self.a = Dense(4)
            self.b = self.a  # the same module under two names

        def call(self, x):
            return self.b(self.a(x))

    net = Twice()
    net(nn.Variable((2, 4)))
    assert list(net.get_parameters()) == ["@a/affine/W", "@a/affine/b"]


def test_set_parameters_shares_values_and_raise_if_missing(rng):
    a, b = TwoLayer(5, 3), TwoLayer(5, 3)
    x = nn.Variable.from_numpy_array(rng.randn(2, 6).astype(np.float32))
    ya = a(x)
    b.set_parameters(a.get_parameters())
    assert b.get_parameters() == a.get_parameters()
    yb = b(x)
    F.sink(ya, yb).forward()
    np.testing.assert_allclose(yb.d, ya.d, rtol=1e-6)
    with pytest.raises(ValueError, match="no_such"):
        b.set_parameter("@no_such/affine/W", a.get_parameters()["@first/affine/W"],
                        raise_if_missing=True)
    with pytest.raises(ValueError, match="must be followed by"):
        b.set_parameter("@first", a.get_parameters()["@first/affine/W"])


@pytest.mark.parametrize("extension", [".h5", ".protobuf"])
def test_save_and_load_parameters_through_file_object(rng, extension):
    a = TwoLayer(3, 2)
    x = nn.Variable.from_numpy_array(rng.randn(2, 4).astype(np.float32))
    a(x)
    buf = io.BytesIO()
    a.save_parameters(buf, extension=extension)
    b = TwoLayer(3, 2)
    b.load_parameters(buf, extension=extension)
    got = b.get_parameters()
    for k, v in a.get_parameters().items():
        np.testing.assert_array_equal(got[k].d, v.d)
    y = b(x)
    y.forward()
    np.testing.assert_allclose(y.d, _numpy_two_layer(a.get_parameters(), x.d), rtol=1e-5,
                               atol=1e-6)


def test_training_flag_selects_batch_or_running_statistics(rng):
    net = BnNet()
    outer = nn.Sequential(("bn", net))
    x = nn.Variable.from_numpy_array(rng.randn(8, 3, 2, 2).astype(np.float32) * 2 + 1)
    assert outer.training and net.training
    y_train = outer(x)
    y_train.forward()
    mean = x.d.mean(axis=(0, 2, 3), keepdims=True)
    var = x.d.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y_train.d, (x.d - mean) / np.sqrt(var + 1e-5), rtol=1e-4,
                               atol=1e-4)
    outer.training = False
    assert not net.training, "setting training on a parent sets its sub-modules"
    p = net.get_parameters(grad_only=False)
    running_mean, running_var = p["bn/mean"].d.copy(), p["bn/var"].d.copy()
    y_eval = outer(x)
    y_eval.forward()
    np.testing.assert_allclose(y_eval.d, (x.d - running_mean) / np.sqrt(running_var + 1e-5),
                               rtol=1e-4, atol=1e-4)


def test_sequential_names_and_order(rng):
    seq = nn.Sequential(Dense(4), Dense(2))
    named = nn.Sequential(("enc", Dense(4)), ("dec", Dense(2)))
    assert list(seq.submodules) == ["dense_0", "dense_1"]
    assert list(named.submodules) == ["enc", "dec"]
    x = nn.Variable.from_numpy_array(rng.randn(3, 5).astype(np.float32))
    y = named(x)
    y.forward()
    p = named.get_parameters()
    h = x.d @ p["@enc/affine/W"].d + p["@enc/affine/b"].d
    ref = h @ p["@dec/affine/W"].d + p["@dec/affine/b"].d
    np.testing.assert_allclose(y.d, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="nn.Module"):
        nn.Sequential(lambda x: x)


def test_module_names_and_missing_attribute():
    net = TwoLayer(2, 2)
    assert net.name == "two_layer" and net.first.name == "first"
    assert net.first.get_path_name() == "@two_layer/@first"
    assert len(net) == 2
    assert not hasattr(net, "no_such_attribute")
    with pytest.raises(NotImplementedError, match="call"):
        nn.Module()(nn.Variable((1,)))


def test_conv_bn_module_matches_numpy(rng):
    m = ConvBn(2, kernel=1)
    x = nn.Variable.from_numpy_array(rng.randn(4, 3, 2, 2).astype(np.float32))
    y = m(x)
    y.forward()
    w = m.get_parameters()["conv/W"].d.reshape(2, 3)
    h = np.einsum("oc,nchw->nohw", w, x.d)
    mean, var = h.mean(axis=(0, 2, 3), keepdims=True), h.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y.d, (h - mean) / np.sqrt(var + 1e-5), rtol=1e-3, atol=1e-4)
