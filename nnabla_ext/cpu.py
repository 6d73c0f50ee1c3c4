"""``nnabla_ext.cpu`` on nnjax: the helpers scripts call on NNabla's extension module
(context, synchronize, clear_memory_cache, get_device_count, get_devices, array_classes,
device_synchronize), made by ``nnjax.ext_utils.extension_functions``."""
from nnjax.ext_utils import extension_functions

globals().update(extension_functions("cpu"))
del extension_functions
