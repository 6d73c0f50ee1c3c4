"""The ``pydub`` audio backend (.wav and .raw files; needs the ``pydub`` package)."""
import math
import os

import numpy as np
from pydub import AudioSegment

from .common import check_read_source, prepare_resize, prepare_save

_RESIZE_RATE = 48000


def get_nparray_from_pydub(audio_segment):
    """The samples of an AudioSegment as (samples, channels)."""
    samples = np.array(audio_segment.get_array_of_samples())
    return samples.reshape(-1, audio_segment.channels)


def get_audiosegment_from_nparray(nparr, frame_rate=48000):
    """An AudioSegment of a (samples, channels) integer array."""
    return AudioSegment(np.ascontiguousarray(nparr).tobytes(), frame_rate=frame_rate,
                        sample_width=nparr.dtype.itemsize, channels=nparr.shape[1])


def auread(source, channel_first=False, raw_format_param=None):
    """Samples of a ResourceFileReader ``source`` as (samples, channels)."""
    check_read_source(source, raw_format_param)
    audio_format = source.ext[1:]
    with source.open() as f:
        segment = AudioSegment.from_file(f, format=audio_format, **(raw_format_param or {}))
    audio = get_nparray_from_pydub(segment)
    if audio.dtype.itemsize == 1 and audio_format == "wav":
        audio = audio.astype(np.uint8)  # 8-bit WAV is unsigned; pydub reads int8
    return audio.T if channel_first else audio


def ausave(path, audio_arr, channel_first=False, frame_rate=48000):
    """Write integer samples (samples, channels) to a .wav file."""
    audio = prepare_save(path, audio_arr, channel_first)
    if audio.dtype.kind == "f":
        raise ValueError("ausave: the pydub backend writes integer samples only, got "
                         f"{audio.dtype}")
    filepath = path if isinstance(path, str) else path.name
    get_audiosegment_from_nparray(audio, frame_rate).export(
        path, format=os.path.splitext(filepath)[-1][1:])


def auresize(audio_arr, size, channel_first=False):
    """Resample to ``size`` = (samples, channels) (mono <-> multi-channel only)."""
    audio = prepare_resize(audio_arr, size, channel_first)
    new_samples, new_channels = size
    old_samples, old_channels = audio.shape
    if old_channels != 1 and new_channels != 1 and old_channels != new_channels:
        raise ValueError("auresize: channels change only from or to mono "
                         f"({old_channels} -> {new_channels})")
    segment = get_audiosegment_from_nparray(audio, _RESIZE_RATE)
    segment = segment.set_frame_rate(math.floor(_RESIZE_RATE * new_samples / old_samples + 1))
    segment = segment.set_channels(new_channels).get_sample_slice(0, new_samples)
    return get_nparray_from_pydub(segment)
