"""MobileNet (Howard et al., 2017) and MobileNetV2 (Sandler et al., 2018)."""
from ... import functions as F
from .base import ImageNetBase

# (output channels, stride) of MobileNet's depthwise-separable layers
_V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
              (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
# (expansion t, channels c, repeats n, first stride s) of MobileNetV2's bottlenecks
_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet(b, x):
    h = b.conv_bn(x, 32, 3, 2, name="conv1", act=F.relu)
    for i, (c, s) in enumerate(_V1_LAYERS):
        name = f"sep{i + 1}"
        h = b.conv_bn(h, h.shape[1], 3, s, group=h.shape[1], name=f"{name}/depthwise",
                      act=F.relu)
        h = b.conv_bn(h, c, 1, 1, name=f"{name}/pointwise")
        if i < len(_V1_LAYERS) - 1:
            h = F.relu(h)
    b.cut("lastconv", h)
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (7, 7)))
    b.cut("classifier", b.affine(h, 1000, name="fc"))


def inverted_residual(b, h, t, c, stride, name):
    r = h
    if t != 1:
        r = b.conv_bn(r, h.shape[1] * t, 1, 1, name=f"{name}/expand", act=F.relu6)
    r = b.conv_bn(r, r.shape[1], 3, stride, group=r.shape[1], name=f"{name}/depthwise",
                  act=F.relu6)
    r = b.conv_bn(r, c, 1, 1, name=f"{name}/project")
    return F.add2(r, h) if stride == 1 and h.shape[1] == c else r


def mobilenet_v2(b, x):
    h = b.conv_bn(x, 32, 3, 2, name="conv1", act=F.relu6)
    k = 0
    for t, c, n, s in _V2_SETTINGS:
        for i in range(n):
            k += 1
            h = inverted_residual(b, h, t, c, s if i == 0 else 1, f"block{k}")
    h = b.cut("lastconv", b.conv_bn(h, 1280, 1, 1, name="lastconv"))
    h = b.cut("lastconv+relu", F.relu6(h))
    h = b.cut("pool", b.global_pool(h, (7, 7)))
    b.cut("classifier", F.reshape(b.affine(h, 1000, name="fc"), (h.shape[0], 1000)))


class MobileNet(ImageNetBase):
    """MobileNet. ``use_up_to``: ``'classifier'``, ``'pool'``, ``'lastconv'``,
    ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': 'Affine',
        'pool': 'AveragePooling',
        'lastconv': 'BatchNormalization_19',
        'lastconv+relu': 'ReLU_19',
    }
    _NNP_NAME = "MobileNet.nnp"

    def _architecture(self, b, x):
        mobilenet(b, x)


class MobileNetV2(ImageNetBase):
    """MobileNetV2. ``use_up_to``: ``'classifier'``, ``'pool'``, ``'lastconv'``,
    ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': 'Reshape',
        'pool': 'AveragePooling',
        'lastconv': 'BatchNormalization_2',
        'lastconv+relu': 'ReLU_2',
    }
    _NNP_NAME = "MobileNet-v2.nnp"
    _INPUT_VARIABLE = "ImageAugmentationX"
    _DROP_PREPROCESS = True

    def _architecture(self, b, x):
        mobilenet_v2(b, x)
