"""SqueezeNet v1.0 and v1.1 (Iandola et al., 2016) and NIN (Lin et al., 2013)."""
from ... import functions as F
from .base import ImageNetBase

# (squeeze, expand) channels of each fire module; 'M' a 3x3/2 max pooling
_FIRES = {
    "v1.0": ((16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192), (64, 256),
             "M", (64, 256)),
    "v1.1": ((16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192), (48, 192),
             (64, 256), (64, 256)),
}


def fire(b, h, squeeze, expand, name):
    s = F.relu(b.conv(h, squeeze, 1, with_bias=True, name=f"{name}/squeeze"))
    e1 = F.relu(b.conv(s, expand, 1, with_bias=True, name=f"{name}/expand1x1"))
    e3 = F.relu(b.conv(s, expand, 3, with_bias=True, name=f"{name}/expand3x3"))
    return F.concatenate(e1, e3, axis=1)


def squeezenet(b, x, version):
    if version == "v1.0":
        h = F.relu(b.conv(x, 96, 7, 2, 0, with_bias=True, name="conv1"))
    else:
        h = F.relu(b.conv(x, 64, 3, 2, 0, with_bias=True, name="conv1"))
    h = F.max_pooling(h, (3, 3), (2, 2))
    k = 1
    for spec in _FIRES[version]:
        if spec == "M":
            h = F.max_pooling(h, (3, 3), (2, 2))
            continue
        k += 1
        h = fire(b, h, *spec, name=f"fire{k}")
    h = b.dropout(h, 0.5)
    h = b.cut("lastconv", b.conv(h, 1000, 1, with_bias=True, name="conv10"))
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (13, 13)))
    b.cut("classifier", F.reshape(h, (h.shape[0], 1000)))


def nin(b, x):
    """NIN for ImageNet (the Caffe model zoo's layout): three mlpconv blocks with max
    pooling, a fourth ending in 1000 maps, global average pooling."""
    h = x
    for i, (c, k, s, p) in enumerate(((96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1),
                                      (1024, 3, 1, 1))):
        if i == 3:
            h = b.dropout(h, 0.5)
        h = F.relu(b.conv(h, c, k, s, p, with_bias=True, name=f"conv{i + 1}"))
        h = F.relu(b.conv(h, c, 1, with_bias=True, name=f"cccp{2 * i + 1}"))
        if i < 3:
            h = F.relu(b.conv(h, c, 1, with_bias=True, name=f"cccp{2 * i + 2}"))
            h = F.max_pooling(h, (3, 3), (2, 2))
    h = b.cut("lastconv", b.conv(h, 1000, 1, with_bias=True, name="cccp8"))
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (6, 6)))
    b.cut("classifier", F.reshape(h, (h.shape[0], 1000)))


class SqueezeNet(ImageNetBase):
    """SqueezeNet ``'v1.0'`` or ``'v1.1'``. ``use_up_to``: ``'classifier'``, ``'pool'``,
    ``'lastconv'``, ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': '{prefix}Reshape',
        'pool': '{prefix}AveragePooling',
        'lastconv': '{prefix}Convolution_2',
        'lastconv+relu': '{prefix}ReLU_2',
    }
    _INPUT_VARIABLE = "TrainingInput"
    _INPUT_SHAPE = (3, 227, 227)
    _GLOBAL_POOL = ("{prefix}AveragePooling", False)
    _DROPOUTS = ("{prefix}Dropout",)

    def __init__(self, version="v1.1", pretrained=True, nnp_path=None):
        if version not in _FIRES:
            raise ValueError(f"SqueezeNet: version must be chosen from {sorted(_FIRES)}, "
                             f"got {version!r}")
        self.version = version
        super().__init__(pretrained, nnp_path)

    def _format_dict(self):
        return {"prefix": "SqueezeNet/" if self.version == "v1.1" else ""}

    def _nnp_name(self):
        return f"SqueezeNet-{self.version[1:]}.nnp"

    def _architecture(self, b, x):
        squeezenet(b, x, self.version)


class SqueezeNetV10(SqueezeNet):
    """:class:`SqueezeNet` ``('v1.0')``."""

    def __init__(self, pretrained=True, nnp_path=None):
        super().__init__("v1.0", pretrained, nnp_path)


class SqueezeNetV11(SqueezeNet):
    """:class:`SqueezeNet` ``('v1.1')``."""

    def __init__(self, pretrained=True, nnp_path=None):
        super().__init__("v1.1", pretrained, nnp_path)


class NIN(ImageNetBase):
    """Network In Network. ``use_up_to``: ``'classifier'``, ``'pool'``, ``'lastconv'``,
    ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': 'NIN/Reshape',
        'pool': 'NIN/AveragePooling',
        'lastconv': 'NIN/Convolution_3',
        'lastconv+relu': 'NIN/ReLU_3',
    }
    _NNP_NAME = "NIN.nnp"
    _INPUT_VARIABLE = "TrainingInput"
    _INPUT_SHAPE = (3, 227, 227)
    _GLOBAL_POOL = ("NIN/AveragePooling", False)
    _DROPOUTS = ("NIN/Dropout",)

    def _architecture(self, b, x):
        nin(b, x)
