"""Training augmentation as TensorFlow ops on one example, random from a per-example seed (stateless): the same
example in the same epoch is augmented the same way whatever the batch, worker or thread it lands in."""


def example_seed(seed: int, epoch: int, index):
    """The stateless seed of example `index` in `epoch` (a [2] int64 tensor)."""
    import tensorflow as tf

    index = tf.cast(index, tf.int64)
    return tf.stack([tf.constant(seed, tf.int64), tf.constant(epoch, tf.int64) * (1 << 32) + index])


def shift(image, max_shift: int, seed):
    """Translate by up to max_shift pixels each way, filling with zeros (uint8 [side, side, channels] in and out)."""
    import tensorflow as tf

    if max_shift == 0:
        return image
    side = tf.shape(image)[0]
    offsets = tf.random.stateless_uniform([2], seed, minval=0, maxval=2 * max_shift + 1, dtype=tf.int32)
    padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    return padded[offsets[0]:offsets[0] + side, offsets[1]:offsets[1] + side]
