"""The common interface of the ImageNet models (``nnabla.models.imagenet.base``).

Each model is usable two ways:

* ``Model()`` (``pretrained=True``): NNabla's ``.nnp`` file of the model, found
  offline first (see :mod:`nnjax.models._weights`), rebuilt with NnpLoader and
  edited by an NnpNetworkPass exactly as NNabla's zoo does.
* ``Model(pretrained=False)``: the same architecture written with parametric
  functions, built from scratch (random weights) in the current parameter scope.

Both give the same call, ``use_up_to`` keys, input checks and output shapes.
"""
import os
from collections import OrderedDict

import numpy as np

from ... import parameter as P
from ..._variable import Variable
from ...utils.nnp_graph import NnpLoader, NnpNetworkPass
from .. import _weights
from .._build import Builder
from .._network import BuiltNetwork
from ..utils import get_model_url_base_from_env

ZOO_URL = "https://zenodo.org/records/16962677/files/{}"


def zoo_url(rel_url):
    """NNabla's download URL of an ImageNet model; ``$NNABLA_MODELS_URL_BASE/imagenet/``
    instead when that is set (a mirror, as for NNabla's other models)."""
    base = get_model_url_base_from_env()
    if base:
        return base.rstrip("/") + "/imagenet/" + rel_url
    return ZOO_URL.format(rel_url)


class ImageNetBase:
    """Most ImageNet models derive from this class (NNabla's interface)."""

    # NNabla's variable name in the model file for each use_up_to key
    _KEY_VARIABLE = {}
    # name of the file in the cache and on the server
    _NNP_NAME = None
    _NNP_URL_NAME = None
    # how NNabla's zoo edits its file: the input variable replaced, the network name,
    # the final pooling checked (function name, by_type), dropouts removed when not training
    _INPUT_VARIABLE = "InputX"
    _NETWORK = "Training"
    _PREPROCESS = "ImageAugmentationX"
    _DROP_PREPROCESS = False
    _GLOBAL_POOL = ("AveragePooling", False)
    _DROPOUTS = ()
    _INPUT_SHAPE = (3, 224, 224)

    def __init__(self, pretrained=True, nnp_path=None):
        self.pretrained = bool(pretrained)
        self.nnp = None
        if self.pretrained:
            self._load_nnp(self._nnp_name(), self._nnp_url_name(), nnp_path)

    # ------------------------------------------------------------ NNabla's API
    @property
    def category_names(self):
        """The 1000 ImageNet class names."""
        if not hasattr(self, "_category_names"):
            with open(os.path.join(os.path.dirname(__file__), "category_names.txt")) as fd:
                self._category_names = fd.read().splitlines()
        return self._category_names

    @property
    def input_shape(self):
        """The default image size (channels, height, width)."""
        return self._input_shape()

    def _input_shape(self):
        return tuple(self._INPUT_SHAPE)

    def _nnp_name(self):
        return self._NNP_NAME

    def _nnp_url_name(self):
        return self._NNP_URL_NAME or self._nnp_name()

    def _format_dict(self):
        return {}

    def _key_variables(self):
        return {k: v.format(**self._format_dict()) for k, v in self._KEY_VARIABLE.items()}

    @property
    def nnp_rel_path(self):
        """Where the file sits under the models directory (``imagenet/<name>``)."""
        return f"imagenet/{self._nnp_name()}"

    @property
    def nnp_url(self):
        return zoo_url(self._nnp_url_name())

    def _load_nnp(self, rel_name, rel_url, nnp_path=None):
        path = _weights.locate_nnp(f"imagenet/{rel_name}", zoo_url(rel_url), nnp_path)
        self.nnp_path = path
        self.nnp = NnpLoader(path)

    def use_up_to(self, key, callback, **variable_format_dict):
        self._check_key(key)
        callback.use_up_to(self._KEY_VARIABLE[key].format(**variable_format_dict))

    def _check_key(self, key):
        if key not in self._KEY_VARIABLE or key.startswith("_"):
            raise ValueError(f'The key "{key}" is not present in {type(self).__name__}. '
                             f"Available keys are {self.use_up_to_keys}.")

    @property
    def use_up_to_keys(self):
        return [k for k in self._KEY_VARIABLE if not k.startswith("_")]

    def get_input_var(self, input_var):
        if input_var is None:
            input_var = Variable((1,) + self.input_shape)
        if input_var.ndim != 4:
            raise ValueError(f"{type(self).__name__}: input_var must be 4 dimensions "
                             f"(N, 3, H, W). Given {input_var.shape}.")
        if input_var.shape[1] != 3:
            raise ValueError(f"{type(self).__name__}: input_var.shape[1] must be 3 (RGB). "
                             f"Given {input_var.shape}.")
        if input_var.data.dtype.kind in "iub":
            # NNabla's convolution reads integer images as float, casting the array
            # in place (the variable holds float32 afterwards); do it up front
            input_var.data.cast(np.float32)
        return input_var

    def configure_global_average_pooling(self, callback, force_global_pooling,
                                         check_global_pooling, name, by_type=False):
        if force_global_pooling:
            callback.force_average_pooling_global(name, by_type=by_type)
        elif check_global_pooling:
            callback.check_average_pooling_global(name, by_type=by_type)

    def __call__(self, input_var=None, use_from=None, use_up_to="classifier", training=False,
                 force_global_pooling=False, check_global_pooling=True, returns_net=False,
                 verbose=0):
        """Build the network on ``input_var`` (default: batch 1 of ``input_shape``) up to
        ``use_up_to``. ``training``: batch statistics in BN, dropout kept, parameters
        need gradients. ``force_global_pooling``: the last average pooling covers the
        whole map whatever the input size; otherwise, with ``check_global_pooling``, an
        input size the pooling was not trained for raises ValueError. ``returns_net``:
        the network object instead of its output variable."""
        if use_from is not None:
            raise ValueError(f"{type(self).__name__}: use_from is reserved by NNabla; "
                             "leave it None")
        self._check_key(use_up_to)
        input_var = self.get_input_var(input_var)
        if self.nnp is not None:
            net = self._nnp_network(input_var, use_up_to, training, force_global_pooling,
                                    check_global_pooling, verbose)
        else:
            net = self._pf_network(input_var, use_up_to, training, force_global_pooling,
                                   check_global_pooling)
        return net if returns_net else list(net.outputs.values())[0]

    # ------------------------------------------------------------ from the file
    def _nnp_callback(self, input_var, use_up_to, training, force_global_pooling,
                      check_global_pooling, verbose):
        callback = NnpNetworkPass(verbose)
        if self._DROP_PREPROCESS:
            callback.drop_function(self._PREPROCESS)
        else:
            callback.remove_and_rewire(self._PREPROCESS)
        callback.set_variable(self._INPUT_VARIABLE, input_var)
        if self._GLOBAL_POOL is not None:
            name, by_type = self._GLOBAL_POOL
            self.configure_global_average_pooling(
                callback, force_global_pooling, check_global_pooling,
                name.format(**self._format_dict()), by_type=by_type)
        callback.set_batch_normalization_batch_stat_all(training)
        self.use_up_to(use_up_to, callback, **self._format_dict())
        if not training:
            for name in self._DROPOUTS:
                callback.remove_and_rewire(name.format(**self._format_dict()))
            callback.fix_parameters()
        return callback

    def _nnp_network(self, input_var, use_up_to, training, force_global_pooling,
                     check_global_pooling, verbose):
        callback = self._nnp_callback(input_var, use_up_to, training, force_global_pooling,
                                      check_global_pooling, verbose)
        return self.nnp.get_network(self._NETWORK, batch_size=input_var.shape[0],
                                    callback=callback)

    # ------------------------------------------------------------ with PF
    def _architecture(self, b, x):
        raise NotImplementedError(f"{type(self).__name__} has no PF definition")

    def _pf_network(self, input_var, use_up_to, training, force_global_pooling,
                    check_global_pooling, stop=True):
        b = Builder(type(self).__name__, use_up_to, training, force_global_pooling,
                    check_global_pooling, stop=stop)
        y = b.run(self._architecture, input_var)
        names = self._key_variables()
        params = P.get_parameters(grad_only=False)
        variables = OrderedDict([(self._INPUT_VARIABLE, input_var)])
        variables.update((names[k], v) for k, v in b.cuts.items())
        variables.update(params)
        return BuiltNetwork(type(self).__name__, {self._INPUT_VARIABLE: input_var},
                            {names[use_up_to]: y}, variables)
