"""ShuffleNet (Zhang et al., 2017) with 3 groups, at widths 0.5x, 1.0x and 2.0x,
in the layout of Megvii's released ShuffleNetV1."""
from ... import functions as F
from .base import ImageNetBase

_GROUPS = 3
_WIDTHS = {5: (12, 120, 240, 480), 10: (24, 240, 480, 960), 20: (48, 480, 960, 1920)}
_REPEATS = (4, 8, 4)


def channel_shuffle(h, groups):
    n, c, hh, ww = h.shape
    h = F.reshape(h, (n, groups, c // groups, hh, ww))
    return F.reshape(F.transpose(h, (0, 2, 1, 3, 4)), (n, c, hh, ww))


def shuffle_unit(b, h, out, stride, first, name):
    """Grouped 1x1, shuffle, depthwise 3x3, grouped 1x1; added to the input, or
    (stride 2) concatenated with its 3x3 average pooling."""
    mid = out // 4
    branch = out - h.shape[1] if stride == 2 else out
    r = b.conv_bn(h, mid, 1, group=1 if first else _GROUPS, name=f"{name}/conv1", act=F.relu)
    r = channel_shuffle(r, _GROUPS)
    r = b.conv_bn(r, mid, 3, stride, group=mid, name=f"{name}/depthwise")
    r = b.conv_bn(r, branch, 1, group=_GROUPS, name=f"{name}/conv2")
    if stride == 1:
        return F.add2(r, h)
    return F.concatenate(F.average_pooling(h, (3, 3), (2, 2), pad=(1, 1)), F.relu(r), axis=1)


def shufflenet(b, x, scaling_factor):
    widths = _WIDTHS[scaling_factor]
    h = b.conv_bn(x, widths[0], 3, 2, name="conv1", act=F.relu)
    h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
    for stage, (n, out) in enumerate(zip(_REPEATS, widths[1:])):
        for i in range(n):
            h = shuffle_unit(b, h, out, 2 if i == 0 else 1, stage == 0 and i == 0,
                             f"stage{stage + 2}/unit{i + 1}")
            last = stage == len(_REPEATS) - 1 and i == n - 1
            if i > 0 and not last:
                h = F.relu(h)
    b.cut("lastconv", h)
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", b.global_pool(h, (7, 7)))
    b.cut("classifier", b.affine_no_bias(h, 1000, name="fc"))


class ShuffleNet(ImageNetBase):
    """ShuffleNet at ``scaling_factor`` 10 (1.0x), 5 (0.5x) or 20 (2.0x). ``use_up_to``:
    ``'classifier'``, ``'pool'``, ``'lastconv'``, ``'lastconv+relu'``."""

    _KEY_VARIABLE = {
        'classifier': 'Affine',
        'pool': 'AveragePooling',
        'lastconv': 'Add2_3_RepeatStart_3[2]',
        'lastconv+relu': 'ReLU_8_RepeatStart_3[2]',
    }
    _FILES = {10: ("ShuffleNet.nnp", "ShuffleNet.nnp"),
              5: ("ShuffleNet-.05x.nnp", "ShuffleNet-0.5x.nnp"),
              20: ("ShuffleNet-2.0x.nnp", "ShuffleNet-2.0x.nnp")}

    def __init__(self, scaling_factor=10, pretrained=True, nnp_path=None):
        if scaling_factor not in _WIDTHS:
            raise ValueError(f"ShuffleNet: scaling_factor must be chosen from "
                             f"{sorted(_WIDTHS)}, got {scaling_factor}")
        self.scaling_factor = scaling_factor
        super().__init__(pretrained, nnp_path)

    def _nnp_name(self):
        return self._FILES[self.scaling_factor][0]

    def _nnp_url_name(self):
        return self._FILES[self.scaling_factor][1]

    def _architecture(self, b, x):
        shufflenet(b, x, self.scaling_factor)


class ShuffleNet10(ShuffleNet):
    """:class:`ShuffleNet` ``(10)``."""

    def __init__(self, pretrained=True, nnp_path=None):
        super().__init__(10, pretrained, nnp_path)


class ShuffleNet05(ShuffleNet):
    """:class:`ShuffleNet` ``(5)``."""

    def __init__(self, pretrained=True, nnp_path=None):
        super().__init__(5, pretrained, nnp_path)


class ShuffleNet20(ShuffleNet):
    """:class:`ShuffleNet` ``(20)``."""

    def __init__(self, pretrained=True, nnp_path=None):
        super().__init__(20, pretrained, nnp_path)
