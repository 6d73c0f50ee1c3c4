"""Pixel-range helpers shared by the image backends."""
import numpy as np

from ....logger import logger


def normalize_pixel_intensity(img, input_low, input_high):
    """Map ``[input_low, input_high]`` to ``[0, 1]`` (a constant image: all 0 if
    ``input_low`` is 0, else all 1)."""
    span = input_high - input_low
    if span == 0:
        return img if input_low == 0 else img / input_low
    return (img - input_low) / span


def rescale_pixel_intensity(img, input_low=0, input_high=255, output_low=0, output_high=255,
                            output_type=None):
    """Map ``[input_low, input_high]`` linearly onto ``[output_low, output_high]``."""
    if not isinstance(img, np.ndarray):
        raise ValueError("rescale_pixel_intensity() supports only numpy.ndarray as input")
    output_type = img.dtype if output_type is None else output_type
    if input_low == output_low and input_high == output_high:
        return np.asarray(img, output_type)
    normalized = normalize_pixel_intensity(np.asarray(img, np.float64), input_low, input_high)
    return (normalized * (output_high - output_low) + output_low).astype(output_type)


def upscale_uint8_image(img, as_uint16):
    """uint8 to the uint16 range (x 256) when ``as_uint16``, else unchanged."""
    return np.asarray(img, np.uint16) * 256 if as_uint16 else img


def upscale_float_image(img, as_uint16):
    """A [0, 1] float image to uint16 (x 65535) or uint8 (x 255)."""
    return np.asarray(img * 65535, np.uint16) if as_uint16 else np.asarray(img * 255, np.uint8)


def upscale_pixel_intensity(img, as_uint16):
    """Scale an image to the range of its output type (uint16 images are kept)."""
    if img.dtype == np.uint16:
        return img
    if img.dtype == np.uint8:
        return upscale_uint8_image(img, as_uint16)
    return upscale_float_image(img, as_uint16)


def check_type_and_cast_if_necessary(img, as_uint16):
    """Refuse uint16 input without ``as_uint16``; cast to uint16 when it is asked for."""
    if not as_uint16 and img.dtype == np.uint16:
        raise ValueError("Input img type is uint16, but as_uint16 is False; cast it to uint8 "
                         "(values in [0, 255]) before saving, or pass as_uint16=True")
    if as_uint16 and img.dtype != np.uint16:
        logger.warning("Save image as uint16, but the original input image type is not uint16")
        img = np.asarray(img, np.uint16)
    return img


def check_read_arguments(grayscale, num_channels):
    """NNabla's imread argument rules (shared by the backends)."""
    if num_channels not in (-1, 0, 1, 3, 4):
        raise ValueError("Currently num_channels supports [-1, 0, 1, 3, 4].")
    if not grayscale and num_channels in (0, 1):
        raise ValueError("If grayscale=False, num_channels must be [-1, 3, 4]. If you want to "
                         "get image as gray-scale, try grayscale=True")


def prepare_save(img, channel_first, as_uint16, auto_scale):
    """The (H, W[, C]) uint8/uint16 array a 16-bit capable backend writes, after
    NNabla's checks and scaling."""
    if not isinstance(img, np.ndarray):
        raise ValueError("the input img for imsave must be numpy.ndarray.")
    if img.ndim not in (2, 3):
        raise ValueError(f"Invalid dimension size of input image. (dims: {img.ndim})")
    if img.dtype not in (np.uint8, np.uint16):
        if not auto_scale:
            raise ValueError("If you want to save image with float values, 'auto_scale' "
                             "must be True.")
        if np.any(img < 0) or np.any(img > 1):
            raise ValueError("Except for uint8 or uint16, all the pixel values of input must "
                             "be in the range of [0, 1]")
        img = np.asarray(img, np.float32)
    if channel_first and img.ndim == 3:
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"Invalid channel size of input image. (channel size: {img.shape[-1]})")
    if auto_scale:
        img = upscale_pixel_intensity(img, as_uint16)
    return check_type_and_cast_if_necessary(img, as_uint16)
