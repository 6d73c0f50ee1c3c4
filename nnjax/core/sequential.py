"""``nn.Sequential`` (``nnabla.core.sequential``): modules applied one after another."""
from .module import Module


class Sequential(Module):
    """Applies its modules in order; each one's output is the next one's input.

    ``nn.Sequential(ConvLayer(48, 1), ConvLayer(64, 3))`` names the modules
    ``<name>_<index>``; ``nn.Sequential(('conv1', m1), ('conv2', m2))`` names them.
    """

    def __init__(self, *args, **kwargs):
        for idx, item in enumerate(args):
            name, module = item if isinstance(item, tuple) else (None, item)
            if not isinstance(module, Module):
                raise TypeError(f"The input layer {self.name}/{module.__class__.__name__} "
                                "should be a instance of nn.Module")
            self.submodules[name if name is not None else f"{module.name}_{idx}"] = module

    def call(self, *args, **kwargs):
        result = None
        for module in self.submodules.values():
            result = module(*args, **kwargs)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        return result
