"""ResNeXt-50/101 32x4d (Xie et al., 2016)."""
from ... import functions as F
from .base import ImageNetBase
from .resnet import bottleneck_block, head, stem

_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def resnext(b, x, num_layers, cardinality=32, group_width=4):
    h = stem(b, x)
    for stage, (n, width) in enumerate(zip(_BLOCKS[num_layers], (64, 128, 256, 512))):
        inner = cardinality * group_width * width // 64
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            h = bottleneck_block(b, h, width, stride, f"res{stage + 1}/layer{i + 1}",
                                 group=cardinality, inner=inner)
            if not (stage == 3 and i == n - 1):
                h = F.relu(h)
    head(b, h)


class ResNeXt(ImageNetBase):
    """ResNeXt (32 groups of 4 channels) with 50 or 101 layers. ``use_up_to``:
    ``'classifier'``, ``'pool'``, ``'lastconv'``, ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': 'Affine',
        'pool': 'AveragePooling',
        'lastconv': 'Add2_7_RepeatStart_4[1]',
        'lastconv+relu': 'ReLU_25_RepeatStart_4[1]',
    }

    def __init__(self, num_layers=50, pretrained=True, nnp_path=None):
        if num_layers not in _BLOCKS:
            raise ValueError(f"ResNeXt: num_layers must be chosen from {sorted(_BLOCKS)}, "
                             f"got {num_layers}")
        self.num_layers = num_layers
        super().__init__(pretrained, nnp_path)

    def _nnp_name(self):
        return f"ResNeXt-{self.num_layers}.nnp"

    def _architecture(self, b, x):
        resnext(b, x, self.num_layers)


class ResNeXt50(ResNeXt):
    """:class:`ResNeXt` ``(50)``."""

    def __init__(self, pretrained=True, nnp_path=None):
        super().__init__(50, pretrained, nnp_path)


class ResNeXt101(ResNeXt):
    """:class:`ResNeXt` ``(101)``."""

    def __init__(self, pretrained=True, nnp_path=None):
        super().__init__(101, pretrained, nnp_path)
