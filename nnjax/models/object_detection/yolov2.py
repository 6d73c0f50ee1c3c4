"""YOLOv2 (Redmon and Farhadi, 2016) from NNabla's ``yolov2-<dataset>.nnp``.

The file's network ``runtime`` was made for 416x416 images; its reshapes,
slices and coordinate grids are re-sized for the input given, as NNabla's zoo does.
"""
import numpy as np

from ... import parameter as P
from ..._variable import Variable
from ...utils.nnp_graph import NnpNetworkPass
from .._nnp_model import NnpModel, read_names

_ANCHORS = 5
_REORG_STRIDE = 2
_CELL = 32  # input pixels per output cell


def _dims(f, i=0):
    return [int(d) for d in f.inputs[i].proto.shape.dim]


def _set_reshape(f, shape):
    dim = f.proto.reshape_param.shape.dim
    del dim[:]
    dim.extend(int(d) for d in shape)


def _set_slice_stop(f, axis2):
    s = _dims(f)
    if axis2 is not None:
        s[2] = axis2
    stop = f.proto.slice_param.stop
    del stop[:]
    stop.extend(s)


class YoloV2(NnpModel):
    """YOLOv2 trained on ``'voc'`` or ``'coco'``. ``use_up_to``: ``'detection'``
    (default; the last convolution after YOLO's post-processing), ``'convdetect'``
    (the last convolution without it), ``'lastconv'`` (the convolution + ReLU before)."""

    _TASK = "object_detection"
    _KEY_VARIABLE = {
        'detection': 'y',
        'convdetect': 'Reshape_3_Output',
        'lastconv': 'Reshape_3_Output',
        'Arange': 'Arange_Output',
        'Arange2': 'Arange_2_Output',
    }
    _INPUT_SHAPE = (3, 416, 416)

    def __init__(self, dataset="voc", nnp_path=None):
        if dataset not in ("voc", "coco"):
            raise ValueError(f'YoloV2: dataset must be chosen from ["voc", "coco"], '
                             f"got {dataset!r}")
        self._dataset_name = dataset
        self._load_nnp(f"yolov2-{dataset}.nnp", f"yolov2-{dataset}.nnp", nnp_path)

    def get_category_names(self):
        """The class names of the training data set."""
        if not hasattr(self, "_category_names"):
            self._category_names = read_names(f"object_detection/{self._dataset_name}.names")
        return self._category_names

    def get_nnp_input_size(self):
        return self._file_input_size("runtime", "x")

    def _resizing_callbacks(self, callback, input_var):
        """Sizes in the file that depend on the input size, recomputed from real shapes."""
        file_h, file_w = self.get_nnp_input_size()
        in_h, in_w = input_var.shape[2:]
        rules = {
            # darknet's reorg layer (and its bug), as two reshapes
            "Reshape": lambda f, s: _set_reshape(f, [s[0], s[1] // _REORG_STRIDE ** 2, s[2],
                                                     _REORG_STRIDE, s[3], _REORG_STRIDE]),
            "Reshape_2": lambda f, s: _set_reshape(f, [s[0], s[1] * s[2] * s[3] * s[1] * s[2],
                                                       s[4] // s[1], s[5] // s[2]]),
            "Reshape_3": lambda f, s: _set_reshape(
                f, [s[0], _ANCHORS, int(f.proto.reshape_param.shape.dim[2])] + s[2:]),
            "Slice": lambda f, s: _set_slice_stop(f, 2),
            "Slice_2": lambda f, s: _set_slice_stop(f, 4),
            "Slice_3": lambda f, s: _set_slice_stop(f, 5),
            "Slice_4": lambda f, s: _set_slice_stop(f, None),
            "Reshape_4": lambda f, s: f.proto.reshape_param.shape.dim.__setitem__(3, s[0]),
            "Reshape_5": lambda f, s: _set_reshape(f, [s[0], s[1], 1, s[2], s[3]]),
            "Reshape_6": lambda f, s: f.proto.reshape_param.shape.dim.__setitem__(2, s[0]),
            "Reshape_7": lambda f, s: _set_reshape(f, [s[0], s[1], 1, s[2], s[3]]),
            "Reshape_8": lambda f, s: _set_reshape(f, [s[0], s[1] * s[2] * s[3], s[4]]),
        }

        def arange(stop):
            def rule(f, s):
                f.proto.arange_param.stop = stop
            return rule
        rules["Arange"] = arange(in_w // _CELL)
        rules["Arange_2"] = arange(in_h // _CELL)

        def rescale(ratio):
            def rule(f, s):
                f.proto.mul_scalar_param.val *= ratio
            return rule
        rules["MulScalar_2"] = rescale(file_w / in_w)
        rules["MulScalar_3"] = rescale(file_h / in_h)

        for name, rule in rules.items():
            def apply(f, rule=rule):
                rule(f, _dims(f) if f.inputs else [])
                return f
            callback.on_generate_function_by_name(name)(apply)

        @callback.on_function_pass_by_name("Mul2")
        def rescale_anchor_biases(f, variables, param_scope):
            # the anchors are in output cells of the file's input size
            with P.parameter_scope("", param_scope):
                biases = P.get_parameter(f.inputs[1].proto.name)
                file_cells = np.array([file_w // _CELL, file_h // _CELL]).reshape(1, 1, 2, 1, 1)
                cells = np.array([in_w // _CELL, in_h // _CELL]).reshape(1, 1, 2, 1, 1)
                P.set_parameter("biases", Variable.from_numpy_array(
                    biases.d * file_cells / cells))

    def __call__(self, input_var=None, use_from=None, use_up_to="detection", training=False,
                 returns_net=False, verbose=0):
        """Build the network (see :meth:`nnabla.models.imagenet.ResNet.__call__`)."""
        if use_from is not None:
            raise ValueError("YoloV2: use_from is reserved by NNabla; leave it None")
        self._check_key(use_up_to)
        input_var = self.get_input_var(input_var)
        callback = NnpNetworkPass(verbose)
        callback.set_variable("x", input_var)
        callback.set_batch_normalization_batch_stat_all(training)
        self.use_up_to(use_up_to, callback)
        if use_up_to != "detection":
            self.use_up_to("Arange", callback)
            self.use_up_to("Arange2", callback)
            callback.drop_function("Reshape_3", "Arange", "Arange_2")
            if use_up_to == "lastconv":
                callback.drop_function("Convolution_23")
        self._resizing_callbacks(callback, input_var)
        if not training:
            callback.fix_parameters()
        net = self.nnp.get_network("runtime", batch_size=input_var.shape[0], callback=callback)
        return net if returns_net else list(net.outputs.values())[0]
