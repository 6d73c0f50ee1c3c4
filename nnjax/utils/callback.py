"""Training-tool callbacks, as ``nnabla.utils.callback``.

The modules named by ``util_callback_module`` in the ``[CALLBACK]`` section of
``nnabla.conf`` (``[mod_a, mod_b]``) are imported once; each function below calls
the first of them that defines a function of its name, and otherwise returns
NNabla's default (``None``, ``(None, None)``, ``-1`` or ``True``).
"""
import importlib

from ..config import nnabla_config
from ..logger import logger


def _load_callback_modules():
    try:
        listed = nnabla_config.get("CALLBACK", "util_callback_module")
    except Exception:  # no such section/key: no callbacks
        return []
    modules = []
    for name in listed.strip("[]").replace(" ", "").split(","):
        if not name:
            continue
        try:
            modules.append(importlib.import_module(name))
        except ImportError as e:
            logger.warning(f"nnabla.utils.callback: cannot import callback module {name!r}: {e}")
    return modules


callback_list = _load_callback_modules()


def _dispatch(func_name, default, *args):
    for module in callback_list:
        func = getattr(module, func_name, None)
        if func is not None:
            return func(*args)
    return default


def alternative_cli(args):
    return _dispatch("alternative_cli", None, args)


def get_callback_version():
    return _dispatch("get_callback_version", None)


def get_best_from_status(args):
    return _dispatch("get_best_from_status", (None, None), args)


def update_time_train(prediction=None):
    _dispatch("update_time_train", None, prediction)


def save_train_snapshot():
    _dispatch("save_train_snapshot", None)


def update_status(state=None, start=False, start_time=None):
    _dispatch("update_status", None, state, start, start_time)


def add_train_command_arg(subparser):
    _dispatch("add_train_command_arg", None, subparser)


def get_timelimit(args):
    return _dispatch("get_timelimit", -1, args)


def process_evaluation_result(outdir, filename):
    _dispatch("process_evaluation_result", None, outdir, filename)


def update_forward_time():
    _dispatch("update_forward_time", None)


def check_training_time(args, config, timeinfo, epoch, last_epoch):
    return _dispatch("check_training_time", True, args, config, timeinfo, epoch, last_epoch)


def result_base(base, suffix, outdir):
    return _dispatch("result_base", None, base, suffix, outdir)


def update_progress(text):
    _dispatch("update_progress", None, text)


def get_load_image_func(ext):
    return _dispatch("get_load_image_func", None, ext)
