"""VGG-11/13/16 (Simonyan and Zisserman, 2014) and AlexNet (Krizhevsky et al., 2012)."""
from ... import functions as F
from .base import ImageNetBase

_VGG = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3)}


def _fc_head(b, h, prefix):
    """Two 4096-wide affines with dropout; 'lastfeature' is the second one before its ReLU."""
    h = b.dropout(F.relu(b.affine(h, 4096, name=f"{prefix}fc1")), 0.5)
    h = b.cut("lastfeature", b.affine(h, 4096, name=f"{prefix}fc2"))
    h = b.dropout(F.relu(h), 0.5)
    b.cut("classifier", b.affine(h, 1000, name=f"{prefix}fc3"))


def vgg(b, x, num_layers):
    h = x
    stages = _VGG[num_layers]
    for s, (n, c) in enumerate(zip(stages, (64, 128, 256, 512, 512))):
        for i in range(n):
            h = b.conv(h, c, 3, with_bias=True, name=f"conv{s + 1}_{i + 1}")
            if s == len(stages) - 1 and i == n - 1:
                b.cut("lastconv", h)
                h = b.cut("lastconv+relu", F.relu(h))
            else:
                h = F.relu(h)
        h = F.max_pooling(h, (2, 2), (2, 2))
    b.cut("pool", h)
    _fc_head(b, h, "")


def alexnet(b, x):
    h = F.relu(b.conv(x, 64, 11, 4, 2, with_bias=True, name="conv1"))
    h = F.max_pooling(h, (3, 3), (2, 2))
    h = F.relu(b.conv(h, 192, 5, 1, 2, with_bias=True, name="conv2"))
    h = F.max_pooling(h, (3, 3), (2, 2))
    h = F.relu(b.conv(h, 384, 3, with_bias=True, name="conv3"))
    h = F.relu(b.conv(h, 256, 3, with_bias=True, name="conv4"))
    h = b.cut("lastconv", b.conv(h, 256, 3, with_bias=True, name="conv5"))
    h = b.cut("lastconv+relu", F.relu(h))
    h = b.cut("pool", F.max_pooling(h, (3, 3), (2, 2)))
    h = b.dropout(h, 0.5)
    h = b.dropout(F.relu(b.affine(h, 4096, name="fc1")), 0.5)
    h = b.cut("lastfeature", b.affine(h, 4096, name="fc2"))
    b.cut("classifier", b.affine(F.relu(h), 1000, name="fc3"))


class VGG(ImageNetBase):
    """VGG with 11, 13 or 16 layers. ``use_up_to``: ``'classifier'``, ``'pool'`` (the
    last max pooling), ``'lastconv'``, ``'lastconv+relu'``, ``'lastfeature'`` (the
    second affine, before its ReLU)."""

    _GLOBAL_POOL = None

    def __init__(self, num_layers=11, pretrained=True, nnp_path=None):
        if num_layers not in _VGG:
            raise ValueError(f"VGG: num_layers must be chosen from {sorted(_VGG)}, "
                             f"got {num_layers}")
        self.num_layers = num_layers
        n = num_layers
        last = 13 if n == 16 else 12
        self._KEY_VARIABLE = {
            'classifier': f'VGG{n}/Affine_3',
            'pool': f'VGG{n}/MaxPooling_5',
            'lastconv': f'VGG{n}/Convolution_{last}',
            'lastconv+relu': f'VGG{n}/ReLU_{last}',
            'lastfeature': f'VGG{n}/Affine_2',
        }
        self._INPUT_VARIABLE = "TrainingInput"
        self._DROPOUTS = (f"VGG{n}/Dropout_1", f"VGG{n}/Dropout_2")
        super().__init__(pretrained, nnp_path)

    def _nnp_name(self):
        return f"VGG-{self.num_layers}.nnp"

    def _architecture(self, b, x):
        vgg(b, x, self.num_layers)


def _alias(n):
    class Alias(VGG):
        def __init__(self, pretrained=True, nnp_path=None):
            super().__init__(n, pretrained, nnp_path)
    Alias.__name__ = Alias.__qualname__ = f"VGG{n}"
    Alias.__doc__ = f"VGG{n}: :class:`VGG` ``({n})``."
    return Alias


VGG11 = _alias(11)
VGG13 = _alias(13)
VGG16 = _alias(16)


class AlexNet(ImageNetBase):
    """AlexNet (torchvision's single-tower layout). ``use_up_to``: ``'classifier'``,
    ``'pool'``, ``'lastconv'``, ``'lastconv+relu'``, ``'lastfeature'``."""

    _KEY_VARIABLE = {
        'classifier': 'TrainNet/Affine_3',
        'pool': 'TrainNet/MaxPooling_3',
        'lastconv': 'TrainNet/Convolution_5',
        'lastconv+relu': 'TrainNet/ReLU_5',
        'lastfeature': 'TrainNet/Affine_2',
    }
    _NNP_NAME = "AlexNet.nnp"
    _INPUT_VARIABLE = "TrainingInput"
    _INPUT_SHAPE = (3, 227, 227)
    _GLOBAL_POOL = None
    _DROPOUTS = ("TrainNet/Dropout", "TrainNet/Dropout_2")

    def __call__(self, input_var=None, use_from=None, use_up_to="classifier", training=False,
                 force_global_pooling=False, check_global_pooling=True, returns_net=False,
                 verbose=0, with_aux_tower=False):
        return super().__call__(input_var, use_from, use_up_to, training, force_global_pooling,
                                check_global_pooling, returns_net, verbose)

    def _architecture(self, b, x):
        alexnet(b, x)
