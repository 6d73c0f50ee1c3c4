"""Make ``import nnabla[.x.y]`` give the very module objects of ``nnjax[.x.y]``.

A meta-path finder placed first on ``sys.meta_path`` answers every
``nnabla.*`` import by importing ``nnjax.*`` and returning that module, so
both names refer to one object (``isinstance`` checks and monkeypatching
agree). It also takes precedence over a real NNabla installation; set the
environment variable ``NNJAX_NO_ALIAS=1`` before the first import to leave
``nnabla`` alone.
"""
import importlib
import importlib.abc
import importlib.util
import os
import sys

ALIAS = "nnabla"
TARGET = "nnjax"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target_name):
        self.target_name = target_name

    def create_module(self, spec):
        module = importlib.import_module(self.target_name)
        # Register the submodules the target loaded under their alias names too:
        # importing one of them through the alias later would otherwise rebind the
        # package attribute of that name (``image_utils.backend_manager``, an
        # object) to the submodule.
        _alias_loaded(self.target_name + ".")
        return module

    def exec_module(self, module):
        return None

    def get_code(self, fullname):
        """For ``python -m nnabla.x``: the code of ``nnjax.x``."""
        spec = importlib.util.find_spec(self.target_name)
        return spec.loader.get_code(self.target_name)

    def is_package(self, fullname):
        spec = importlib.util.find_spec(self.target_name)
        return spec.submodule_search_locations is not None


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        target_name = TARGET + fullname[len(ALIAS):]
        target_spec = importlib.util.find_spec(target_name)
        if target_spec is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(target_name),
                                               origin=target_spec.origin)


def install():
    if os.environ.get("NNJAX_NO_ALIAS"):
        return
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
    _alias_loaded(TARGET)


def _alias_loaded(prefix):
    """Give the loaded nnjax modules under ``prefix`` their nnabla names."""
    for name, module in list(sys.modules.items()):
        if name.startswith(prefix) and (name == TARGET or name.startswith(TARGET + ".")):
            sys.modules.setdefault(ALIAS + name[len(TARGET):], module)
