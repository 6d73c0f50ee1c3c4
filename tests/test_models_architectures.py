"""Every ImageNet zoo model built with PF (pretrained=False): trainable parameter
count equal to the published one, and the output shape of every use_up_to key at
batch 1 and 5 (parameters are drawn lazily, so building costs only shape inference)."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.models.imagenet as zoo

# Published trainable counts: torchvision's model table (ResNet, ResNeXt-50, MobileNetV2,
# SqueezeNet, VGG, DenseNet-161, AlexNet, GoogLeNet; Inception-v3 without its aux
# classifier: 27,161,264 - 3,326,696), Keras applications' trainable counts (MobileNet,
# Xception), Cadene's pretrained-models (SENet-154, ResNeXt-101 32x4d), the Caffe
# model zoo's NIN; ShuffleNet (g=3): Megvii's ShuffleNet-Series table, in 0.1M.
PUBLISHED = {
    "ResNet18": 11689512, "ResNet34": 21797672, "ResNet50": 25557032,
    "ResNet101": 44549160, "ResNet152": 60192808, "ResNeXt50": 25028904,
    "ResNeXt101": 44177704, "MobileNet": 4231976, "MobileNetV2": 3504872,
    "SENet": 115088984, "SqueezeNetV10": 1248424, "SqueezeNetV11": 1235496,
    "VGG11": 132863336, "VGG13": 133047848, "VGG16": 138357544, "NIN": 7595176,
    "DenseNet": 28681000, "InceptionV3": 23834568, "Xception": 22855952,
    "GoogLeNet": 6624904, "AlexNet": 61100840,
    "ShuffleNet10": 1.9e6, "ShuffleNet05": 0.7e6, "ShuffleNet20": 5.4e6,
}

_C1000 = {"classifier": (1000,)}


def _conv_head(c, s):
    return {"lastconv": (c, s, s), "lastconv+relu": (c, s, s), "pool": (c, 1, 1), **_C1000}


def _vgg():
    return {"lastconv": (512, 14, 14), "lastconv+relu": (512, 14, 14), "pool": (512, 7, 7),
            "lastfeature": (4096,), **_C1000}


# (input shape, {key: output shape without the batch axis})
SHAPES = {
    **{f"ResNet{n}": ((3, 224, 224), _conv_head(512 if n < 50 else 2048, 7))
       for n in (18, 34, 50, 101, 152)},
    "ResNeXt50": ((3, 224, 224), _conv_head(2048, 7)),
    "ResNeXt101": ((3, 224, 224), _conv_head(2048, 7)),
    "MobileNet": ((3, 224, 224), _conv_head(1024, 7)),
    "MobileNetV2": ((3, 224, 224), _conv_head(1280, 7)),
    "SENet": ((3, 224, 224), _conv_head(2048, 7)),
    "SqueezeNetV10": ((3, 227, 227), _conv_head(1000, 13)),
    "SqueezeNetV11": ((3, 227, 227), _conv_head(1000, 13)),
    "VGG11": ((3, 224, 224), _vgg()), "VGG13": ((3, 224, 224), _vgg()),
    "VGG16": ((3, 224, 224), _vgg()),
    "NIN": ((3, 227, 227), _conv_head(1000, 6)),
    "DenseNet": ((3, 224, 224), _conv_head(2208, 7)),
    "InceptionV3": ((3, 299, 299), {"prepool": (2048, 8, 8), "pool": (2048, 1, 1), **_C1000}),
    "Xception": ((3, 299, 299), _conv_head(2048, 10)),
    "GoogLeNet": ((3, 224, 224), {"prepool": (1024, 7, 7), "pool": (1024, 1, 1), **_C1000}),
    "ShuffleNet10": ((3, 224, 224), _conv_head(960, 7)),
    "ShuffleNet05": ((3, 224, 224), _conv_head(480, 7)),
    "ShuffleNet20": ((3, 224, 224), _conv_head(1920, 7)),
    "AlexNet": ((3, 227, 227), {"lastconv": (256, 13, 13), "lastconv+relu": (256, 13, 13),
                                "pool": (256, 6, 6), "lastfeature": (4096,), **_C1000}),
}


def _trainable(scope_params):
    return sum(int(np.prod(v.shape)) for v in scope_params.values())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_count_and_cut_shapes(name):
    model = getattr(zoo, name)(pretrained=False)
    input_shape, shapes = SHAPES[name]
    assert model.input_shape == input_shape
    assert sorted(model.use_up_to_keys) == sorted(shapes)
    for batch in (1, 5):
        with nn.parameter_scope("", {}):
            x = nn.Variable((batch,) + input_shape)
            net = model(x, training=True, returns_net=True)
            names = model._key_variables()
            for key, shape in shapes.items():
                assert net.variables[names[key]].shape == (batch,) + shape, key
            (y,) = net.outputs.values()
            assert y.shape == (batch, 1000)
            count = _trainable(nn.get_parameters(grad_only=True))
        published = PUBLISHED[name]
        if published % 100000 == 0:  # a count published in 0.1M
            assert round(count / 1e6, 1) == published / 1e6
        else:
            assert count == published


def test_cut_before_classifier_leaves_out_its_parameters():
    with nn.parameter_scope("", {}):
        zoo.ResNet18(pretrained=False)(use_up_to="pool", training=True)
        params = nn.get_parameters(grad_only=True)
        assert "fc/affine/W" not in params
        assert _trainable(params) == 11689512 - (512 * 1000 + 1000)
