"""Reading, writing and resampling audio, as ``nnabla.utils.audio_utils``.

Arrays are (samples, channels) (``channel_first``: (channels, samples)). The
backend is ``pydub`` (installed separately): ``.wav`` (and ``.raw`` with
``raw_format_param``) files of integer samples.
"""
import numpy as np

from ..data_source_loader import ResourceFileReader
from . import common
from .backend_manager import backend_manager
from .common import check_scale_target, rescale_intensity


def set_backend(backend):
    """Select the backend (``'pydub'``); ValueError if it is not installed."""
    backend_manager.backend = backend


def get_backend():
    return backend_manager.backend


def get_available_backends():
    return backend_manager.get_available_backends()


def minmax_auto_scale(audio_arr, out_datatype):
    """Stretch the signal's [min, max] to the full range of ``out_datatype``."""
    check_scale_target(audio_arr, out_datatype)
    info = np.iinfo(out_datatype) if np.dtype(out_datatype).kind in "iu" \
        else np.finfo(out_datatype)
    return rescale_intensity(audio_arr, audio_arr.min(), audio_arr.max(), info.min, info.max,
                             out_datatype)


def auread(path, channel_first=False, raw_format_param=None, **kwargs):
    """Read a .wav (or .raw) path, binary file or BytesIO as (samples, channels)."""
    return backend_manager.module.auread(ResourceFileReader(path), channel_first=channel_first,
                                         raw_format_param=raw_format_param, **kwargs)


def ausave(path, audio_arr, channel_first=False, frame_rate=48000, **kwargs):
    """Write (samples, channels) integer samples to a .wav file."""
    backend_manager.module.ausave(path, audio_arr, channel_first=channel_first,
                                  frame_rate=frame_rate, **kwargs)


def auresize(audio_arr, size, channel_first=False, **kwargs):
    """Resample to ``size`` = (samples, channels)."""
    return backend_manager.module.auresize(audio_arr, size, channel_first=channel_first,
                                           **kwargs)


auwrite = ausave
auload = auread
