"""Inception-v3 (Szegedy et al., 2015) and GoogLeNet (Szegedy et al., 2014), in
torchvision's layout (every convolution followed by batch normalization, eps 1e-3)."""
from ... import functions as F
from .base import ImageNetBase


def _unit(b, h, c, kernel, stride=1, pad=None, name=None):
    return b.conv_bn(h, c, kernel, stride, pad, name=name, act=F.relu, eps=1e-3)


def _avg3(h):
    return F.average_pooling(h, (3, 3), (1, 1), pad=(1, 1))


def _inception_a(b, h, pool_features, n):
    b1 = _unit(b, h, 64, 1, name=f"{n}/b1x1")
    b5 = _unit(b, _unit(b, h, 48, 1, name=f"{n}/b5x5_1"), 64, 5, name=f"{n}/b5x5_2")
    b3 = _unit(b, h, 64, 1, name=f"{n}/b3x3dbl_1")
    b3 = _unit(b, _unit(b, b3, 96, 3, name=f"{n}/b3x3dbl_2"), 96, 3, name=f"{n}/b3x3dbl_3")
    bp = _unit(b, _avg3(h), pool_features, 1, name=f"{n}/bpool")
    return F.concatenate(b1, b5, b3, bp, axis=1)


def _inception_b(b, h, n):
    b3 = _unit(b, h, 384, 3, 2, 0, name=f"{n}/b3x3")
    bd = _unit(b, _unit(b, h, 64, 1, name=f"{n}/b3x3dbl_1"), 96, 3, name=f"{n}/b3x3dbl_2")
    bd = _unit(b, bd, 96, 3, 2, 0, name=f"{n}/b3x3dbl_3")
    return F.concatenate(b3, bd, F.max_pooling(h, (3, 3), (2, 2)), axis=1)


def _inception_c(b, h, c7, n):
    b1 = _unit(b, h, 192, 1, name=f"{n}/b1x1")
    b7 = _unit(b, h, c7, 1, name=f"{n}/b7x7_1")
    b7 = _unit(b, b7, c7, (1, 7), name=f"{n}/b7x7_2")
    b7 = _unit(b, b7, 192, (7, 1), name=f"{n}/b7x7_3")
    bd = _unit(b, h, c7, 1, name=f"{n}/b7x7dbl_1")
    for i, (c, k) in enumerate(((c7, (7, 1)), (c7, (1, 7)), (c7, (7, 1)), (192, (1, 7)))):
        bd = _unit(b, bd, c, k, name=f"{n}/b7x7dbl_{i + 2}")
    bp = _unit(b, _avg3(h), 192, 1, name=f"{n}/bpool")
    return F.concatenate(b1, b7, bd, bp, axis=1)


def _inception_d(b, h, n):
    b3 = _unit(b, _unit(b, h, 192, 1, name=f"{n}/b3x3_1"), 320, 3, 2, 0, name=f"{n}/b3x3_2")
    b7 = _unit(b, h, 192, 1, name=f"{n}/b7x7x3_1")
    b7 = _unit(b, b7, 192, (1, 7), name=f"{n}/b7x7x3_2")
    b7 = _unit(b, b7, 192, (7, 1), name=f"{n}/b7x7x3_3")
    b7 = _unit(b, b7, 192, 3, 2, 0, name=f"{n}/b7x7x3_4")
    return F.concatenate(b3, b7, F.max_pooling(h, (3, 3), (2, 2)), axis=1)


def _split_3x3(b, h, n):
    return [_unit(b, h, 384, (1, 3), name=f"{n}a"), _unit(b, h, 384, (3, 1), name=f"{n}b")]


def _inception_e(b, h, n):
    b1 = _unit(b, h, 320, 1, name=f"{n}/b1x1")
    b3 = _split_3x3(b, _unit(b, h, 384, 1, name=f"{n}/b3x3_1"), f"{n}/b3x3_2")
    bd = _unit(b, _unit(b, h, 448, 1, name=f"{n}/b3x3dbl_1"), 384, 3, name=f"{n}/b3x3dbl_2")
    bd = _split_3x3(b, bd, f"{n}/b3x3dbl_3")
    bp = _unit(b, _avg3(h), 192, 1, name=f"{n}/bpool")
    return F.concatenate(b1, *b3, *bd, bp, axis=1)


def inception_v3(b, x):
    h = _unit(b, x, 32, 3, 2, 0, name="Conv2d_1a")
    h = _unit(b, h, 32, 3, 1, 0, name="Conv2d_2a")
    h = _unit(b, h, 64, 3, name="Conv2d_2b")
    h = F.max_pooling(h, (3, 3), (2, 2))
    h = _unit(b, h, 80, 1, name="Conv2d_3b")
    h = _unit(b, h, 192, 3, 1, 0, name="Conv2d_4a")
    h = F.max_pooling(h, (3, 3), (2, 2))
    for n, pf in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        h = _inception_a(b, h, pf, n)
    h = _inception_b(b, h, "Mixed_6a")
    for n, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        h = _inception_c(b, h, c7, n)
    h = _inception_d(b, h, "Mixed_7a")
    h = _inception_e(b, h, "Mixed_7b")
    h = b.cut("prepool", _inception_e(b, h, "Mixed_7c"))
    h = b.cut("pool", b.global_pool(h, (8, 8)))
    b.cut("classifier", b.affine(b.dropout(h, 0.5), 1000, name="fc"))


# GoogLeNet's inception modules: (1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool proj);
# the "5x5" branch has 3x3 kernels, as in torchvision's model
_GOOGLENET = (("3a", (64, 96, 128, 16, 32, 32)), ("3b", (128, 128, 192, 32, 96, 64)), "M",
              ("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)),
              ("4c", (128, 128, 256, 24, 64, 64)), ("4d", (112, 144, 288, 32, 64, 64)),
              ("4e", (256, 160, 320, 32, 128, 128)), "M2",
              ("5a", (256, 160, 320, 32, 128, 128)), ("5b", (384, 192, 384, 48, 128, 128)))


def _googlenet_module(b, h, spec, n):
    c1, r3, c3, r5, c5, pp = spec
    b1 = _unit(b, h, c1, 1, name=f"{n}/branch1")
    b2 = _unit(b, _unit(b, h, r3, 1, name=f"{n}/branch2_1"), c3, 3, name=f"{n}/branch2_2")
    b3 = _unit(b, _unit(b, h, r5, 1, name=f"{n}/branch3_1"), c5, 3, name=f"{n}/branch3_2")
    bp = F.max_pooling(h, (3, 3), (1, 1), pad=(1, 1))
    bp = _unit(b, bp, pp, 1, name=f"{n}/branch4")
    return F.concatenate(b1, b2, b3, bp, axis=1)


def googlenet(b, x):
    h = _unit(b, x, 64, 7, 2, name="conv1")
    h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
    h = _unit(b, h, 64, 1, name="conv2")
    h = _unit(b, h, 192, 3, name="conv3")
    h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
    for item in _GOOGLENET:
        if item == "M":
            h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
        elif item == "M2":
            h = F.max_pooling(h, (2, 2), (2, 2))
        else:
            h = _googlenet_module(b, h, item[1], f"inception{item[0]}")
    h = b.cut("prepool", h)
    h = b.cut("pool", b.global_pool(h, (7, 7)))
    b.cut("classifier", b.affine(b.dropout(h, 0.2), 1000, name="fc"))


class _NoAuxTower(ImageNetBase):
    """A model whose file holds auxiliary classifiers (``with_aux_tower``)."""

    _AUX_DROP = ()

    def __call__(self, input_var=None, use_from=None, use_up_to="classifier", training=False,
                 force_global_pooling=False, check_global_pooling=True, returns_net=False,
                 verbose=0, with_aux_tower=False):
        if with_aux_tower and not training:
            raise ValueError(f"{type(self).__name__}: the aux tower should be disabled for "
                             "inference (with_aux_tower=True needs training=True)")
        if with_aux_tower:
            raise ValueError(f"{type(self).__name__}: with_aux_tower=True is not supported "
                             "by nnjax (the auxiliary classifiers are not rebuilt)")
        return super().__call__(input_var, use_from, use_up_to, training, force_global_pooling,
                                check_global_pooling, returns_net, verbose)

    def _nnp_callback(self, input_var, use_up_to, training, *args):
        callback = super()._nnp_callback(input_var, use_up_to, training, *args)
        for branch_point, names in self._AUX_DROP:
            callback.use_up_to(self._KEY_VARIABLE[branch_point])
            callback.drop_function(*names)
        return callback


class InceptionV3(_NoAuxTower):
    """Inception-v3 (without its auxiliary classifier). ``use_up_to``:
    ``'classifier'``, ``'pool'``, ``'prepool'`` (the last inception block)."""

    _KEY_VARIABLE = {
        'classifier': 'Affine',
        'pool': 'AveragePooling_2',
        'prepool': 'Inception_11/Concatenate',
        '_aux_classifier': 'Affine_2',
        '_include_no_aux': 'Conv_6/Convolution',
    }
    _NNP_NAME = "Inception-v3.nnp"
    _NETWORK = "Train"
    _INPUT_VARIABLE = "Iv3TrainInput"
    _PREPROCESS = "ImageAugmentation"
    _INPUT_SHAPE = (3, 299, 299)
    _GLOBAL_POOL = ("AveragePooling_2", False)
    _DROPOUTS = ("Dropout",)
    _AUX_DROP = (("_include_no_aux", (
        "Conv_6/Convolution", "Conv_6/BatchNormalization", "Conv_6/ReLU", "AveragePooling",
        "Conv_7/Convolution", "Conv_7/BatchNormalization", "Conv_7/ReLU", "Affine_2",
        "SoftmaxCrossEntropy_2", "MulScalar_2")),)

    def _architecture(self, b, x):
        inception_v3(b, x)


class GoogLeNet(_NoAuxTower):
    """GoogLeNet (without its auxiliary classifiers). ``use_up_to``: ``'classifier'``,
    ``'pool'``, ``'prepool'`` (the last inception block)."""

    _KEY_VARIABLE = {
        'classifier': 'Affine_5',
        'pool': 'AveragePooling_3',
        'prepool': 'Concatenate_9',
        '_aux_classifier_1': 'Affine_2',
        '_branching_point_1': 'AveragePooling',
        '_aux_classifier_2': 'Affine_4',
        '_branching_point_2': 'AveragePooling_2',
    }
    _NNP_NAME = "GoogLeNet.nnp"
    _NETWORK = "Train"
    _GLOBAL_POOL = ("AveragePooling_3", False)
    _DROPOUTS = ("Dropout_3",)
    _AUX_DROP = (
        ("_branching_point_1", ("AveragePooling", "Convolution_22", "ReLU_22", "Affine",
                                "ReLU_23", "Dropout", "Affine_2", "SoftmaxCrossEntropy",
                                "MulScalarLoss1")),
        ("_branching_point_2", ("AveragePooling_2", "Convolution_41", "ReLU_42", "Affine_3",
                                "ReLU_43", "Dropout_2", "Affine_4", "SoftmaxCrossEntropy_2",
                                "MulScalarLoss2")))

    def _architecture(self, b, x):
        googlenet(b, x)
