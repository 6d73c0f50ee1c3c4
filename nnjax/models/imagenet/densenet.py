"""DenseNet-161 (Huang et al., 2016)."""
from ... import functions as F
from .base import ImageNetBase


def densenet(b, x, growth=48, blocks=(6, 12, 36, 24), init_features=96, bn_size=4):
    h = b.conv_bn(x, init_features, 7, 2, name="conv0", act=F.relu)
    h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
    for i, n in enumerate(blocks):
        for j in range(n):
            name = f"block{i + 1}/layer{j + 1}"
            r = F.relu(b.bn(h, name=f"{name}/norm1"))
            r = b.conv(r, bn_size * growth, 1, name=f"{name}/conv1")
            r = F.relu(b.bn(r, name=f"{name}/norm2"))
            r = b.conv(r, growth, 3, name=f"{name}/conv2")
            h = F.concatenate(h, r, axis=1)
        if i < len(blocks) - 1:
            name = f"transition{i + 1}"
            h = F.relu(b.bn(h, name=f"{name}/norm"))
            h = b.conv(h, h.shape[1] // 2, 1, name=f"{name}/conv")
            h = F.average_pooling(h, (2, 2), (2, 2))
    h = b.cut("lastconv", b.bn(h, name="norm5"))
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (7, 7)))
    b.cut("classifier", b.affine(h, 1000, name="fc"))


class DenseNet(ImageNetBase):
    """DenseNet-161. ``use_up_to``: ``'classifier'``, ``'pool'``, ``'lastconv'`` (the
    output of the last dense block, normalized), ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': 'DenseNet/Affine',
        'pool': 'DenseNet/AveragePooling_4',
        'lastconv': 'DenseNet/BatchNormalization_5',
        'lastconv+relu': 'DenseNet/ReLU_5',
    }
    _NNP_NAME = "DenseNet-161.nnp"
    _NETWORK = "Train"
    _GLOBAL_POOL = ("DenseNet/AveragePooling_4", False)

    def _architecture(self, b, x):
        densenet(b, x)
