"""Training augmentation as TensorFlow ops on one example, random from a per-example seed (stateless): the same
example in the same epoch is augmented the same way whatever the batch, worker or thread it lands in. One
implementation for every TrainingData (in memory and streamed); uint8 pixels in and out, so each option works in
the pixel domain the deployed model sees."""
from dataclasses import dataclass

from mnd.base.errors import UsageError, did_you_mean

OPTIONS = {
    "shift": "translate by up to max_shift pixels each way, zero fill",
    "crop": "random resized crop: 50-100% of the area, aspect 3:4 to 4:3, resized back (bilinear)",
    "flip": "horizontal flip, half the examples",
    "color": "brightness +-20% of full scale, contrast x0.8-1.2 around the image mean",
}
CROP_AREA, CROP_ASPECT = (0.5, 1.0), (3 / 4, 4 / 3)
BRIGHTNESS, CONTRAST = 0.2, (0.8, 1.2)


def parse_options(text: str) -> tuple:
    """`--augment`: a comma list of OPTIONS, or `none`; returned in OPTIONS order (the order they are applied)."""
    words = [word.strip() for word in text.split(",") if word.strip()]
    if words == ["none"]:
        return ()
    for word in words:
        if word not in OPTIONS:
            raise UsageError(f"unknown augmentation '{word}'{did_you_mean(word, OPTIONS)} (give a comma list of "
                             f"{', '.join(OPTIONS)}, or none)")
    if not words:
        raise UsageError(f"--augment is empty; give a comma list of {', '.join(OPTIONS)}, or none")
    return tuple(option for option in OPTIONS if option in words)


@dataclass(frozen=True)
class Augmentation:
    options: tuple = ("shift",)
    max_shift: int = 0  # pixels, for "shift"

    def describe(self) -> dict:
        doc = {"options": list(self.options)}
        if "shift" in self.options:
            doc["shift_pixels"] = self.max_shift
        for option in self.options:
            if option != "shift":
                doc[option] = OPTIONS[option]
        return doc


def example_seed(seed: int, epoch: int, index):
    """The stateless seed of example `index` in `epoch` (a [2] int64 tensor)."""
    import tensorflow as tf

    index = tf.cast(index, tf.int64)
    return tf.stack([tf.constant(seed, tf.int64), tf.constant(epoch, tf.int64) * (1 << 32) + index])


def apply(image, augmentation: Augmentation, seed):
    """Every option of `augmentation` on one uint8 [side, side, channels] image, each with its own seed drawn from
    `seed` (shift takes `seed` itself, as before the other options existed)."""
    import tensorflow as tf

    shape = image.shape
    for option in augmentation.options:
        if option == "shift":
            image = shift(image, augmentation.max_shift, seed)
            continue
        own_seed = tf.random.experimental.stateless_fold_in(seed, list(OPTIONS).index(option))
        image = {"crop": resized_crop, "flip": flip, "color": color}[option](image, own_seed)
    return tf.ensure_shape(image, shape)


def shift(image, max_shift: int, seed):
    """Translate by up to max_shift pixels each way, filling with zeros (uint8 [side, side, channels] in and out)."""
    import tensorflow as tf

    if max_shift == 0:
        return image
    side = tf.shape(image)[0]
    offsets = tf.random.stateless_uniform([2], seed, minval=0, maxval=2 * max_shift + 1, dtype=tf.int32)
    padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    return padded[offsets[0]:offsets[0] + side, offsets[1]:offsets[1] + side]


def resized_crop(image, seed):
    """A random box of CROP_AREA of the image at an aspect in CROP_ASPECT, resized back to the side (bilinear,
    half-pixel centres, as the data loader resizes)."""
    import tensorflow as tf

    side = tf.shape(image)[0]
    draws = tf.random.stateless_uniform([4], seed)
    area = CROP_AREA[0] + draws[0] * (CROP_AREA[1] - CROP_AREA[0])
    log_low, log_high = tf.math.log(CROP_ASPECT[0]), tf.math.log(CROP_ASPECT[1])
    aspect = tf.exp(log_low + draws[1] * (log_high - log_low))
    full = tf.cast(side, tf.float32)
    height = tf.clip_by_value(tf.cast(tf.round(full * tf.sqrt(area / aspect)), tf.int32), 1, side)
    width = tf.clip_by_value(tf.cast(tf.round(full * tf.sqrt(area * aspect)), tf.int32), 1, side)
    top = tf.cast(draws[2] * tf.cast(side - height + 1, tf.float32), tf.int32)
    left = tf.cast(draws[3] * tf.cast(side - width + 1, tf.float32), tf.int32)
    box = image[top:top + height, left:left + width]
    resized = tf.image.resize(tf.cast(box, tf.float32), [side, side], method="bilinear", antialias=False)
    return _to_pixels(resized)


def flip(image, seed):
    import tensorflow as tf

    return tf.image.stateless_random_flip_left_right(image, seed)


def color(image, seed):
    """Contrast scaled around the image's mean, then brightness shifted, in 0..255."""
    import tensorflow as tf

    draws = tf.random.stateless_uniform([2], seed)
    contrast = CONTRAST[0] + draws[0] * (CONTRAST[1] - CONTRAST[0])
    brightness = (draws[1] * 2 - 1) * BRIGHTNESS * 255.0
    x = tf.cast(image, tf.float32)
    mean = tf.reduce_mean(x)
    return _to_pixels((x - mean) * contrast + mean + brightness)


def _to_pixels(x):
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
