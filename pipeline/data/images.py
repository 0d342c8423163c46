"""One image file or array to uint8 [side, side, channels] under a Preprocessing."""
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from mnd.base.errors import DataError
from mnd.pipeline.data.preprocess import Preprocessing

# "bilinear" is plain bilinear interpolation with half-pixel centres and no antialiasing, as TensorFlow's
# tf.image.resize, TFLite's RESIZE_BILINEAR and OpenCV's INTER_LINEAR compute it (and as ImageNet reference
# accuracies are measured). PIL's own BILINEAR filter antialiases when shrinking: that is "antialias" here.
PIL_RESAMPLING = {"nearest": Image.Resampling.NEAREST, "bicubic": Image.Resampling.BICUBIC,
                  "antialias": Image.Resampling.BILINEAR}
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
# A header can announce gigabytes of pixels from a few kilobytes of file (a decompression bomb), so larger images
# are refused before decoding. The limit is PIL's default MAX_IMAGE_PIXELS (about 9459 x 9459, 0.25 GiB as RGB),
# where PIL itself starts to warn; it raises DecompressionBombError only at twice that.
MAX_PIXELS = 89_478_485


def open_image(path: Path) -> Image.Image:
    """Image.open (lazy: only the header is read), refusing an image of more than MAX_PIXELS pixels with a
    one-line DataError; our own check too, in case something has switched PIL's off (MAX_IMAGE_PIXELS = None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below instead
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:
            raise _too_large(path) from None
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise _too_large(path)
    return image


def _too_large(path: Path) -> DataError:
    return DataError(f"'{path}' has more than {MAX_PIXELS:,} pixels, the limit for an input image (a possible "
                     "decompression bomb); shrink it or remove it from the dataset")


def is_gray(image: Image.Image) -> bool:
    if image.mode == "P":
        palette = np.asarray(image.convert("RGB"))
        return bool(np.all(palette[..., 0] == palette[..., 1]) and np.all(palette[..., 1] == palette[..., 2]))
    return image.mode in GRAY_MODES


def fit_image(image: Image.Image, prep: Preprocessing, name: str = "image") -> np.ndarray:
    """Centre-crop, resize and convert one image; colour into a 1-channel model needs prep.to_gray."""
    if prep.channels == 1 and not prep.to_gray and not is_gray(image):
        raise DataError(f"'{name}' is a colour image but the model takes 1 channel; pass --to-gray to convert "
                        "colour images with ITU-R 601 luma, or give grayscale images")
    image = image.convert("L" if prep.channels == 1 else "RGB")
    if prep.crop_fraction < 1:
        image = image.crop(central_crop_box(image.size, prep.crop_fraction))
    if image.size != (prep.side, prep.side):
        if prep.resize == "bilinear":
            array = np.asarray(image, dtype=np.uint8)
            array = bilinear_resize(array if array.ndim == 3 else array[..., None], prep.side)
            return array if prep.channels == 3 else array[..., :1]
        image = image.resize((prep.side, prep.side), PIL_RESAMPLING[prep.resize])
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if prep.channels == 1 else array


def central_crop_box(size: tuple, fraction: float) -> tuple:
    """(left, top, right, bottom) of the centred crop, with tf.image.central_crop's rounding."""
    width, height = size
    left, top = int((width - width * fraction) / 2), int((height - height * fraction) / 2)
    return left, top, width - left, height - top


def _source_positions(out_size: int, in_size: int) -> tuple:
    centres = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    lower = np.floor(centres)
    weight = (centres - lower).astype(np.float32)
    return np.clip(lower, 0, in_size - 1).astype(int), np.clip(lower + 1, 0, in_size - 1).astype(int), weight


def bilinear_resize(pixels: np.ndarray, side: int) -> np.ndarray:
    """uint8 HWC -> uint8 [side, side, C]: half-pixel-centre bilinear without antialiasing, rounded."""
    y0, y1, wy = _source_positions(side, pixels.shape[0])
    x0, x1, wx = _source_positions(side, pixels.shape[1])
    data = pixels.astype(np.float32)
    rows = data[y0] * (1 - wy)[:, None, None] + data[y1] * wy[:, None, None]
    out = rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def fit_array(pixels: np.ndarray, prep: Preprocessing, name: str) -> np.ndarray:
    """A raw uint8 HWC array (from a .bin file) through the same rules as an image file."""
    if pixels.shape[2] == 1:
        return fit_image(Image.fromarray(pixels[..., 0], mode="L"), prep, name)
    return fit_image(Image.fromarray(pixels, mode="RGB"), prep, name)
