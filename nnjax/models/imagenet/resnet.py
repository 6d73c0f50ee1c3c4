"""ResNet-18/34/50/101/152 (He et al., 2015), as ``nnabla.models.imagenet.ResNet``."""
from ... import functions as F
from .base import ImageNetBase

_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
           152: (3, 8, 36, 3)}


def basic_block(b, h, width, stride, name):
    shortcut = h
    r = b.conv_bn(h, width, 3, stride, name=f"{name}/conv1", act=F.relu)
    r = b.conv_bn(r, width, 3, 1, name=f"{name}/conv2")
    if stride != 1 or h.shape[1] != width:
        shortcut = b.conv_bn(h, width, 1, stride, name=f"{name}/shortcut")
    return F.add2(r, shortcut)


def bottleneck_block(b, h, width, stride, name, out_width=None, group=1, inner=None):
    """1x1 reduce, 3x3 (grouped for ResNeXt; the stride is here, as torchvision's v1.5),
    1x1 expand; a projection shortcut where the shape changes."""
    out_width = out_width or width * 4
    inner = inner or width
    shortcut = h
    r = b.conv_bn(h, inner, 1, 1, name=f"{name}/conv1", act=F.relu)
    r = b.conv_bn(r, inner, 3, stride, group=group, name=f"{name}/conv2", act=F.relu)
    r = b.conv_bn(r, out_width, 1, 1, name=f"{name}/conv3")
    if stride != 1 or h.shape[1] != out_width:
        shortcut = b.conv_bn(h, out_width, 1, stride, name=f"{name}/shortcut")
    return F.add2(r, shortcut)


def stem(b, x):
    h = b.conv_bn(x, 64, 7, 2, name="conv1", act=F.relu)
    return F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))


def head(b, h):
    """lastconv (the last residual sum), its ReLU, the 7x7 pool, the 1000-way affine."""
    b.cut("lastconv", h)
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (7, 7)))
    b.cut("classifier", b.affine(h, 1000, name="fc"))


def resnet(b, x, num_layers):
    h = stem(b, x)
    block = basic_block if num_layers < 50 else bottleneck_block
    for stage, (n, width) in enumerate(zip(_BLOCKS[num_layers], (64, 128, 256, 512))):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            h = block(b, h, width, stride, f"res{stage + 1}/layer{i + 1}")
            if not (stage == 3 and i == n - 1):
                h = F.relu(h)
    head(b, h)


class ResNet(ImageNetBase):
    """ResNet with 18, 34, 50, 101 or 152 layers.

    ``use_up_to`` keys: ``'classifier'`` (the last affine), ``'pool'`` (the global
    average pooling), ``'lastconv'`` (its input before the ReLU), ``'lastconv+relu'``.
    """

    _KEY_VARIABLE = {
        'classifier': 'Affine',
        'pool': 'AveragePooling',
        'lastconv': 'Add2_7_RepeatStart_4[{index}]',
        'lastconv+relu': 'ReLU_25_RepeatStart_4[{index}]',
    }

    def __init__(self, num_layers=18, pretrained=True, nnp_path=None):
        if num_layers not in _BLOCKS:
            raise ValueError(f"ResNet: num_layers must be chosen from {sorted(_BLOCKS)}, "
                             f"got {num_layers}")
        self.num_layers = num_layers
        super().__init__(pretrained, nnp_path)

    def _nnp_name(self):
        return f"Resnet-{self.num_layers}.nnp"

    def _format_dict(self):
        return {"index": 0 if self.num_layers == 18 else 1}

    def _architecture(self, b, x):
        resnet(b, x, self.num_layers)


def _alias(n):
    class Alias(ResNet):
        def __init__(self, pretrained=True, nnp_path=None):
            super().__init__(n, pretrained, nnp_path)
    Alias.__name__ = Alias.__qualname__ = f"ResNet{n}"
    Alias.__doc__ = f"ResNet{n}: :class:`ResNet` ``({n})``."
    return Alias


ResNet18 = _alias(18)
ResNet34 = _alias(34)
ResNet50 = _alias(50)
ResNet101 = _alias(101)
ResNet152 = _alias(152)
