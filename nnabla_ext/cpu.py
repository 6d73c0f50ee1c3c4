"""``nnabla_ext.cpu`` on nnjax: the helpers scripts call on NNabla's extension module."""
from nnjax.ext_utils import extension_functions as _functions

_helpers = _functions("cpu")
context = _helpers["context"]
synchronize = _helpers["synchronize"]
clear_memory_cache = _helpers["clear_memory_cache"]
get_device_count = _helpers["get_device_count"]
get_devices = _helpers["get_devices"]
array_classes = _helpers["array_classes"]
device_synchronize = _helpers["device_synchronize"]
