"""nnabla.models.imagenet: NNabla's call (keys, input checks, global pooling,
training), model files in NNabla's zoo layout loaded through the zoo API, and
a finetuning step."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
import nnabla.models.imagenet as zoo
from nnabla.models import _weights
from nnabla.models.zoo_files import write_zoo_nnp
from nnabla.utils.nnp_graph import NnpNetwork


@pytest.fixture(autouse=True)
def fresh_scope():
    with nn.parameter_scope("", {}):
        yield


def _functions(y):
    found = []
    y.visit(found.append)
    return found


def _trainable(y):
    return y.visit_check(lambda f: any(i.need_grad for i in f.inputs))


def test_unknown_key_and_bad_inputs():
    model = zoo.ResNet18(pretrained=False)
    with pytest.raises(ValueError, match=r"lastfeature.*\['classifier', 'pool'"):
        model(use_up_to="lastfeature")
    with pytest.raises(ValueError, match="must be 3"):
        model(nn.Variable((1, 1, 224, 224)))
    with pytest.raises(ValueError, match="4 dimensions"):
        model(nn.Variable((3, 224, 224)))
    images = nn.Variable.from_numpy_array(np.full((1, 3, 224, 224), 7, np.int64))
    assert model(images, use_up_to="lastconv").shape == (1, 512, 7, 7)
    assert images.d.dtype == np.float32 and images.d[0, 0, 0, 0] == 7  # read as float
    assert len(model.category_names) == 1000 and model.category_names[0] == "tench, Tinca tinca"


def test_global_pooling_check_force_and_stride():
    model = zoo.ResNet18(pretrained=False)
    x = nn.Variable((2, 3, 448, 448))
    with pytest.raises(ValueError, match="force_global_pooling"):
        model(x, use_up_to="pool")
    assert model(x, use_up_to="lastconv").shape == (2, 512, 14, 14)  # no pooling built
    assert model(x, use_up_to="pool", force_global_pooling=True).shape == (2, 512, 1, 1)
    # the trained 7x7/7 pooling, unchecked
    assert model(x, use_up_to="pool", check_global_pooling=False).shape == (2, 512, 2, 2)
    # SENet's squeeze-and-excitation poolings are checked too
    with pytest.raises(ValueError, match="force_global_pooling"):
        zoo.SENet(pretrained=False)(nn.Variable((1, 3, 448, 448)), use_up_to="lastconv")


def test_training_decides_batch_stat_dropout_and_need_grad():
    model = zoo.SqueezeNetV11(pretrained=False)
    x = nn.Variable((1, 3, 227, 227))
    y = model(x, training=True)
    assert _trainable(y)
    assert "Dropout" in [f.info.type_name for f in _functions(y)]
    y = model(x, training=False)
    assert not _trainable(y)
    assert "Dropout" not in [f.info.type_name for f in _functions(y)]
    resnet = zoo.ResNet18(pretrained=False)
    with nn.parameter_scope("resnet"):  # another architecture: its own scope
        y = resnet(nn.Variable((1, 3, 224, 224)), training=False)
    stats = {f.info.args["batch_stat"] for f in _functions(y)
             if f.info.type_name == "BatchNormalization"}
    assert stats == {False}
    with nn.parameter_scope("resnet"):
        y = resnet(nn.Variable((1, 3, 224, 224)), training=True)
    stats = {f.info.args["batch_stat"] for f in _functions(y)
             if f.info.type_name == "BatchNormalization"}
    assert stats == {True}


def test_pf_build_computes_a_basic_block_as_written():
    """ResNet-18 up to the stem: conv 7x7/2 + BN (running statistics) + ReLU + max
    pooling 3x3/2 pad 1, against numpy."""
    nn.seed(5)
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.randn(1, 3, 16, 16).astype(np.float32))
    b = zoo.resnet  # the module; its stem is what every ResNet starts with
    from nnabla.models._build import Builder
    builder = Builder("ResNet18", "x", False, False, True)
    h = b.stem(builder, x)
    h.forward()
    p = nn.get_parameters(grad_only=False)
    w = p["conv1/conv/W"].d
    mean, var = p["conv1/bn/mean"].d, p["conv1/bn/var"].d
    gamma, beta = p["conv1/bn/gamma"].d, p["conv1/bn/beta"].d
    xp = np.pad(x.d, ((0, 0), (0, 0), (3, 3), (3, 3)))
    conv = np.zeros((1, 64, 8, 8), np.float32)
    for i in range(8):
        for j in range(8):
            patch = xp[:, :, 2 * i:2 * i + 7, 2 * j:2 * j + 7]
            conv[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    r = np.maximum((conv - mean) / np.sqrt(var + 1e-5) * gamma + beta, 0)
    rp = np.pad(r, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    ref = np.stack([np.stack([rp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(2, 3))
                              for j in range(4)], -1) for i in range(4)], -2)
    np.testing.assert_allclose(h.d, ref, rtol=1e-4, atol=1e-5)
    assert abs(w.std() - np.sqrt(2 / (3 * 49))) < 0.01  # He-normal draw


@pytest.mark.parametrize("name", ["SqueezeNetV11", "MobileNetV2"])
def test_zoo_layout_file_loads_through_the_zoo_api(name, tmp_path, monkeypatch):
    monkeypatch.setenv(_weights.ENV_MODELS_DIR, str(tmp_path))
    monkeypatch.setenv("NNABLA_MODELS_URL_BASE", "http://127.0.0.1:9/")
    cls = getattr(zoo, name)
    path = write_zoo_nnp(cls)
    assert path == str(tmp_path / cls(pretrained=False).nnp_rel_path)
    model = cls()
    assert model.nnp_path == path
    x = nn.Variable.from_numpy_array(
        np.random.RandomState(1).rand(2, 3, 32, 32).astype(np.float32))
    for key in model.use_up_to_keys:
        net = model(x, use_up_to=key, force_global_pooling=True, returns_net=True)
        assert isinstance(net, NnpNetwork)
        assert list(net.inputs.values()) == [x] and len(net.outputs) == 1
        (y,) = net.outputs.values()
        assert not _trainable(y)
        assert _trainable(model(x, use_up_to=key, force_global_pooling=True, training=True))
        # the file's parameters are now those of the current scope, under the PF
        # names: the PF build reuses them and computes the same values
        y_pf = cls(pretrained=False)(x, use_up_to=key, force_global_pooling=True)
        assert y.shape == y_pf.shape
        if key not in ("classifier", "lastconv"):
            continue
        nn.forward_all([y, y_pf])
        np.testing.assert_allclose(y.d, y_pf.d, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="force_global_pooling"):
        model(x, use_up_to="pool")


def test_finetuning_step_changes_only_the_new_head_when_backbone_is_fixed():
    nn.seed(0)
    model = zoo.ResNet18(pretrained=False)
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.rand(4, 3, 32, 32).astype(np.float32))
    label = nn.Variable.from_numpy_array(rng.randint(0, 3, (4, 1)))

    def step(training):
        h = model(x, use_up_to="pool", force_global_pooling=True, training=training)
        with nn.parameter_scope("finetuning_fc"):
            pred = PF.affine(h, 3)
        loss = F.mean(F.softmax_cross_entropy(pred, label))
        solver = S.Momentum(0.1)
        solver.set_parameters(nn.get_parameters())
        before = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
        solver.zero_grad()
        loss.forward()
        loss.backward()
        solver.weight_decay(3e-4)
        solver.update()
        after = nn.get_parameters(grad_only=False)
        return {k for k in before if not np.array_equal(before[k], after[k].d)}

    assert step(training=False) == {"finetuning_fc/affine/W", "finetuning_fc/affine/b"}
    changed = step(training=True)
    assert {"conv1/conv/W", "conv1/bn/gamma", "res4/layer2/conv2/conv/W",
            "finetuning_fc/affine/W"} <= changed
    assert "conv1/bn/mean" in changed  # batch statistics update the running mean


def _save_renamed(path, name, outputs, names, renames):
    from nnabla.utils import get_file_handle as fh
    from nnabla.utils.save import create_proto
    proto = create_proto({"networks": [{"name": name, "batch_size": 1, "outputs": outputs,
                                        "names": names}]})
    for f, new in zip(proto.network[0].function, renames):
        f.name = new
    fh.save_model_file(str(path), proto, nn.get_parameters(grad_only=False), extension=".nnp")


def test_deeplab_resizes_pooling_and_upsampling_for_the_input(tmp_path):
    """A stand-in file with DeepLabV3+'s input-size-dependent functions (image pooling,
    three upsamplings) made for 33x33: on a 65x49 input the pooling must stay global
    and the last upsampling must give the input size back."""
    from nnabla.models.semantic_segmentation import DeepLabV3plus
    x = nn.Variable((1, 3, 33, 33))
    p = F.average_pooling(x, (33, 33), (33, 33))
    u1 = F.interpolate(p, output_size=(3, 3), mode="nearest")
    u2 = F.interpolate(u1, output_size=(9, 9), mode="nearest")
    y = F.interpolate(u2, output_size=(33, 33), mode="nearest")
    path = tmp_path / "deeplab.nnp"
    _save_renamed(path, "runtime", {"y": y}, {"x": x},
                  ["AveragePooling", "Interpolate", "Interpolate_2", "Interpolate_3"])
    model = DeepLabV3plus("voc", 16, nnp_path=str(path))
    assert model.input_shape == (3, 513, 513) and model.category_names[0] == "aeroplane"
    data = np.random.RandomState(0).rand(2, 3, 65, 49).astype(np.float32)
    xin = nn.Variable.from_numpy_array(data)
    net = model(xin, returns_net=True)
    out = net.outputs["y"]
    assert out.shape == (2, 3, 65, 49)
    out.forward()
    np.testing.assert_allclose(out.d, np.broadcast_to(data.mean(axis=(2, 3), keepdims=True),
                                                      data.shape), rtol=1e-5)
    with pytest.raises(ValueError, match="segmentation"):
        model(xin, use_up_to="classifier")


def test_detection_and_segmentation_offline_error(tmp_path, monkeypatch):
    from nnabla.models.object_detection import YoloV2
    from nnabla.models.semantic_segmentation import DeepLabV3plus
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(_weights.ENV_MODELS_DIR, raising=False)
    monkeypatch.setenv("NNABLA_MODELS_URL_BASE", "http://127.0.0.1:9/models/")
    with pytest.raises(OSError, match="object_detection/yolov2-coco.nnp") as e:
        YoloV2("coco")
    assert "http://127.0.0.1:9/models/object_detection/yolov2-coco.nnp" in str(e.value)
    with pytest.raises(OSError, match=r"semantic_segmentation/DeepLabV3-voc-os-8\.nnp"):
        DeepLabV3plus("voc", 8)
    with pytest.raises(ValueError, match="output_stride"):
        DeepLabV3plus("voc", 4)
