"""Xception (Chollet, 2016), in Keras' layout."""
from ... import functions as F
from .base import ImageNetBase


def _sep_bn(b, h, c, name):
    """Depthwise 3x3 then pointwise 1x1 (no biases), then batch normalization."""
    h = b.conv(h, h.shape[1], 3, group=h.shape[1], name=f"{name}/depthwise")
    return b.bn(b.conv(h, c, 1, name=f"{name}/pointwise"), name=name, eps=1e-3)


def _down_block(b, h, c1, c2, name, first_relu=True):
    shortcut = b.conv_bn(h, c2, 1, 2, name=f"{name}/shortcut", eps=1e-3)
    r = F.relu(h) if first_relu else h
    r = F.relu(_sep_bn(b, r, c1, f"{name}/sep1"))
    r = _sep_bn(b, r, c2, f"{name}/sep2")
    r = F.max_pooling(r, (3, 3), (2, 2), pad=(1, 1))
    return F.add2(r, shortcut)


def xception(b, x):
    h = b.conv_bn(x, 32, 3, 2, 0, name="block1/conv1", act=F.relu, eps=1e-3)
    h = b.conv_bn(h, 64, 3, 1, 0, name="block1/conv2", act=F.relu, eps=1e-3)
    h = _down_block(b, h, 128, 128, "block2", first_relu=False)
    h = _down_block(b, h, 256, 256, "block3")
    h = _down_block(b, h, 728, 728, "block4")
    for i in range(8):
        r = h
        for j in range(3):
            r = _sep_bn(b, F.relu(r), 728, f"block{i + 5}/sep{j + 1}")
        h = F.add2(r, h)
    h = _down_block(b, h, 728, 1024, "block13")
    h = F.relu(_sep_bn(b, h, 1536, "block14/sep1"))
    h = b.cut("lastconv", _sep_bn(b, h, 2048, "block14/sep2"))
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (10, 10)))
    b.cut("classifier", b.affine(b.dropout(h, 0.5), 1000, name="fc"))


class Xception(ImageNetBase):
    """Xception. ``use_up_to``: ``'classifier'``, ``'pool'``, ``'lastconv'``,
    ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': 'Unit/Affine',
        'pool': 'Unit/AveragePooling',
        'lastconv': 'Unit/SeparableConv_13/SepConvBN',
        'lastconv+relu': 'Unit/ReLU_14',
    }
    _NNP_NAME = "Xception.nnp"
    _PREPROCESS = "ImageAugmentation"
    _INPUT_SHAPE = (3, 299, 299)
    _GLOBAL_POOL = ("Unit/AveragePooling", False)
    _DROPOUTS = ("Unit/Dropout",)

    def _architecture(self, b, x):
        xception(b, x)
