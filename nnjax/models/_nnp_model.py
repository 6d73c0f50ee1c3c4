"""What the zoo's detection and segmentation models share: a file found offline
first under ``<models dir>/<task>/<name>`` (NNabla's URL: ``get_model_url_base()``
followed by the same relative path), input checks, ``use_up_to`` keys."""
import os

import numpy as np

from .._variable import Variable
from ..utils.nnp_graph import NnpLoader
from . import _weights
from .utils import get_model_url_base


class NnpModel:
    _TASK = None
    _KEY_VARIABLE = {}
    _INPUT_SHAPE = None

    def _load_nnp(self, rel_name, rel_url, nnp_path=None):
        url = get_model_url_base().rstrip("/") + f"/{self._TASK}/{rel_url}"
        self.nnp_url = url
        self.nnp_path = _weights.locate_nnp(f"{self._TASK}/{rel_name}", url, nnp_path)
        self.nnp = NnpLoader(self.nnp_path)

    @property
    def input_shape(self):
        """The default image size (channels, height, width)."""
        return tuple(self._INPUT_SHAPE)

    def use_up_to(self, key, callback, **variable_format_dict):
        self._check_key(key)
        callback.use_up_to(self._KEY_VARIABLE[key].format(**variable_format_dict))

    def _check_key(self, key):
        if key not in self._KEY_VARIABLE:
            raise ValueError(f'The key "{key}" is not present in {type(self).__name__}. '
                             f"Available keys are {list(self._KEY_VARIABLE)}.")

    def get_input_var(self, input_var):
        if input_var is None:
            input_var = Variable((1,) + self.input_shape)
        if input_var.ndim != 4 or input_var.shape[1] != 3:
            raise ValueError(f"{type(self).__name__}: input_var must be (N, 3, H, W) (RGB), "
                             f"given {input_var.shape}")
        if input_var.data.dtype.kind in "iub":
            # NNabla's convolution reads integer images as float, casting the array
            # in place (the variable holds float32 afterwards); do it up front
            input_var.data.cast(np.float32)
        return input_var

    def _file_input_size(self, network_name, input_name):
        """(H, W) of the input the file's network was made for."""
        for v in self.nnp.network_dict[network_name].variable:
            if v.name == input_name:
                return [int(d) for d in v.shape.dim[2:]]
        raise ValueError(f"{type(self).__name__}: {self.nnp_path} has no input {input_name!r}")


def read_names(path):
    with open(os.path.join(os.path.dirname(__file__), path)) as fd:
        return fd.read().splitlines()
