"""DeepLabV3+ (Chen et al., 2018) from NNabla's ``DeepLabV3-<dataset>-os-<stride>.nnp``.

The file's network ``runtime`` was made for 513x513 images; its image pooling
and upsampling sizes are recomputed for the input given, as NNabla's zoo does.
"""
from ...utils.nnp_graph import NnpNetworkPass
from .._nnp_model import NnpModel, read_names

_DATASETS = ("voc", "voc-coco")
_STRIDES = (16, 8)


def _halved(size, times):
    """The size after ``times`` stride-2 layers with padding ((n - 1) // 2 + 1 each)."""
    for _ in range(times):
        size = (size - 1) // 2 + 1
    return size


class DeepLabV3plus(NnpModel):
    """DeepLabV3+ trained on ``'voc'`` or ``'voc-coco'`` with output stride 16 or 8.
    ``use_up_to``: ``'segmentation'`` (default; the last layer), ``'lastconv'``,
    ``'lastconv+relu'``."""

    _TASK = "semantic_segmentation"
    _KEY_VARIABLE = {
        'segmentation': 'y',
        'lastconv': 'BatchNormalization_146_Output',
        'lastconv+relu': 'ReLU_82_Output',
    }
    _INPUT_SHAPE = (3, 513, 513)

    def __init__(self, dataset="voc", output_stride=16, nnp_path=None):
        if dataset not in _DATASETS:
            raise ValueError(f"DeepLabV3plus: dataset must be chosen from {list(_DATASETS)}, "
                             f"got {dataset!r}")
        if output_stride not in _STRIDES:
            raise ValueError(f"DeepLabV3plus: output_stride must be chosen from "
                             f"{list(_STRIDES)}, got {output_stride!r}")
        self._dataset_name = dataset
        self._output_stride = output_stride
        name = f"DeepLabV3-{dataset}-os-{output_stride}.nnp"
        self._load_nnp(name, name, nnp_path)

    @property
    def category_names(self):
        """The 20 VOC class names (as NNabla, from the object detection list)."""
        if not hasattr(self, "_category_names"):
            self._category_names = read_names("object_detection/voc.names")
        return self._category_names

    def __call__(self, input_var=None, use_from=None, use_up_to="segmentation",
                 training=False, returns_net=False, verbose=0):
        """Build the network (see :meth:`nnabla.models.imagenet.ResNet.__call__`)."""
        if use_from is not None:
            raise ValueError("DeepLabV3plus: use_from is reserved by NNabla; leave it None")
        self._check_key(use_up_to)
        input_var = self.get_input_var(input_var)
        h, w = input_var.shape[2:]
        callback = NnpNetworkPass(verbose)
        callback.set_variable("x", input_var)

        @callback.on_generate_function_by_name("AveragePooling")
        def image_pooling_is_global(f):
            size = [int(d) for d in f.inputs[0].proto.shape.dim[2:4]]
            p = f.proto.average_pooling_param
            for field in (p.kernel.dim, p.stride.dim):
                del field[:]
                field.extend(size)
            return f

        def upsample_to(size):
            def resize(f):
                out = f.proto.interpolate_param.output_size
                del out[:]
                out.extend(size)
                return f
            return resize

        # NNabla's zoo passes (width, height) in the order (input H, input W)
        callback.on_generate_function_by_name("Interpolate")(
            upsample_to([_halved(h, 4), _halved(w, 4)]))
        callback.on_generate_function_by_name("Interpolate_2")(
            upsample_to([_halved(h, 2), _halved(w, 2)]))
        callback.on_generate_function_by_name("Interpolate_3")(upsample_to([h, w]))
        callback.set_batch_normalization_batch_stat_all(training)
        self.use_up_to(use_up_to, callback)
        if not training:
            callback.fix_parameters()
        net = self.nnp.get_network("runtime", batch_size=input_var.shape[0], callback=callback)
        return net if returns_net else list(net.outputs.values())[0]
