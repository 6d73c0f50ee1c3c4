"""SENet-154 (Hu et al., 2017): ResNeXt-like bottlenecks (64 groups) with
squeeze-and-excitation, in the layout of the released Caffe/PyTorch model."""
from ... import functions as F
from .base import ImageNetBase

_BLOCKS = (3, 8, 36, 3)


def _se(b, h, name, reduction=16):
    """Squeeze (the block's average pooling, checked like the last one) and excite."""
    s = b.global_pool(h, b.trained_spatial[h.shape[1]])
    s = F.relu(b.conv(s, h.shape[1] // reduction, 1, with_bias=True, name=f"{name}/fc1"))
    s = F.sigmoid(b.conv(s, h.shape[1], 1, with_bias=True, name=f"{name}/fc2"))
    return F.mul2(h, s)


def se_bottleneck(b, h, planes, stride, name, groups=64, downsample_kernel=3):
    r = b.conv_bn(h, planes * 2, 1, name=f"{name}/conv1", act=F.relu)
    r = b.conv_bn(r, planes * 4, 3, stride, group=groups, name=f"{name}/conv2", act=F.relu)
    r = b.conv_bn(r, planes * 4, 1, name=f"{name}/conv3")
    r = _se(b, r, f"{name}/se")
    shortcut = h
    if stride != 1 or h.shape[1] != planes * 4:
        shortcut = b.conv_bn(h, planes * 4, downsample_kernel, stride, name=f"{name}/downsample")
    return F.add2(r, shortcut)


def senet154(b, x):
    # the SE poolings cover the whole map at the trained size (224: 56, 28, 14, 7)
    b.trained_spatial = {256: (56, 56), 512: (28, 28), 1024: (14, 14), 2048: (7, 7)}
    h = b.conv_bn(x, 64, 3, 2, name="layer0/conv1", act=F.relu)
    h = b.conv_bn(h, 64, 3, 1, name="layer0/conv2", act=F.relu)
    h = b.conv_bn(h, 128, 3, 1, name="layer0/conv3", act=F.relu)
    h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
    for stage, (n, planes) in enumerate(zip(_BLOCKS, (64, 128, 256, 512))):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            h = se_bottleneck(b, h, planes, stride, f"layer{stage + 1}/block{i + 1}",
                              downsample_kernel=1 if stage == 0 else 3)
            if not (stage == 3 and i == n - 1):
                h = F.relu(h)
    b.cut("lastconv", h)
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (7, 7)))
    b.cut("classifier", b.affine(b.dropout(h, 0.2), 1000, name="fc"))


class SENet(ImageNetBase):
    """SENet-154. ``use_up_to``: ``'classifier'``, ``'pool'``, ``'lastconv'``,
    ``'lastconv+relu'``. Every average pooling (those of the SE blocks too) is
    checked against the input size, or made global by ``force_global_pooling``."""

    _KEY_VARIABLE = {
        'classifier': 'Affine',
        'pool': 'AveragePooling',
        'lastconv': 'Add2_7_RepeatStart_4[1]',
        'lastconv+relu': 'ReLU_25_RepeatStart_4[1]',
    }
    _NNP_NAME = "SENet-154.nnp"
    _GLOBAL_POOL = ("AveragePooling", True)
    _DROPOUTS = ("Dropout",)

    def _architecture(self, b, x):
        senet154(b, x)
