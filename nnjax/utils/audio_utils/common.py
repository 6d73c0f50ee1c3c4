"""Intensity scaling and argument checks shared by the audio backends."""
import os

import numpy as np


def normalize_intensity(audio_arr, input_low, input_high):
    """Map ``[input_low, input_high]`` to ``[0, 1]`` (a constant signal: all 0 if
    ``input_low`` is 0, else all 1)."""
    span = input_high - input_low
    if span == 0:
        return audio_arr if input_low == 0 else audio_arr / input_low
    return (audio_arr - input_low) / span


def rescale_intensity(audio_arr, input_low=0, input_high=255, output_low=0, output_high=255,
                      output_type=None):
    """Map ``[input_low, input_high]`` linearly onto ``[output_low, output_high]``
    (computed in float64, then cast to ``output_type``, default the input's)."""
    if not isinstance(audio_arr, np.ndarray):
        raise ValueError("rescale_intensity() supports only numpy.ndarray as input")
    input_low, input_high = np.float64(input_low), np.float64(input_high)
    output_low, output_high = np.float64(output_low), np.float64(output_high)
    output_type = audio_arr.dtype if output_type is None else output_type
    if input_low == output_low and input_high == output_high:
        return np.asarray(audio_arr, output_type)
    normalized = normalize_intensity(np.asarray(audio_arr, np.float64), input_low, input_high)
    return (normalized * (output_high - output_low) + output_low).astype(output_type)


def check_scale_target(audio_arr, datatype):
    if not isinstance(audio_arr, np.ndarray):
        raise ValueError("minmax_auto_scale: the audio must be a numpy.ndarray")
    if not isinstance(datatype, (np.dtype, type)):
        raise ValueError("minmax_auto_scale: out_datatype must be a numpy dtype or type")
    if np.dtype(datatype).itemsize > 4:
        raise ValueError(f"minmax_auto_scale: out_datatype {np.dtype(datatype)} is wider than "
                         "4 bytes")


def check_read_source(source, raw_format_param):
    if source.ext not in (".wav", ".raw"):
        raise ValueError(f"auread: only .wav and .raw files are read, got {source.ext!r} "
                         "(the path or file must show its extension)")
    if source.ext == ".raw" and raw_format_param is None:
        raise ValueError("auread: a .raw file needs raw_format_param (sample_width, frame_rate, "
                         "channels)")


def prepare_save(path, audio_arr, channel_first):
    """The (samples, channels) array to write to ``path`` (a .wav), after checks."""
    if not isinstance(audio_arr, np.ndarray):
        raise ValueError("ausave: the audio must be a numpy.ndarray")
    if audio_arr.ndim != 2:
        raise ValueError(f"ausave: the audio must be (samples, channels), got shape "
                         f"{audio_arr.shape}")
    filepath = path if isinstance(path, str) else path.name
    if os.path.splitext(filepath)[-1] != ".wav":
        raise ValueError(f"ausave: only .wav files are written, got {filepath!r}")
    if audio_arr.dtype.itemsize > 4:
        raise ValueError(f"ausave: samples of {audio_arr.dtype} are wider than 4 bytes")
    os.makedirs(os.path.dirname(os.path.abspath(filepath)), exist_ok=True)
    return audio_arr.T if channel_first else audio_arr


def prepare_resize(audio_arr, size, channel_first):
    if not isinstance(audio_arr, np.ndarray):
        raise ValueError("auresize: the audio must be a numpy.ndarray")
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ValueError(f"auresize: size must be (samples, channels), got {size!r}")
    if audio_arr.dtype not in (np.uint8, np.int16):
        audio_arr = np.asarray(audio_arr, np.float32)
    return audio_arr.T if channel_first else audio_arr
