"""Image folders of any size for memory and throughput checks: a few hundred distinct 96x96 JPEG files written
under many names (each file is still opened and decoded)."""
import io

import numpy as np
from PIL import Image


def jpegs(count: int, side: int = 96) -> list:
    """`count` different side x side JPEG files' bytes: smooth gradients with noise, as photos compress."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, side, dtype=np.float32)
    encoded = []
    for _ in range(count):
        low, high = rng.integers(0, 256, (2, 3))
        pixels = low + (high - low) * (ramp[:, None, None] * ramp[None, :, None])
        pixels = np.clip(pixels + rng.normal(0, 12, (side, side, 3)), 0, 255).astype(np.uint8)
        stream = io.BytesIO()
        Image.fromarray(pixels).save(stream, "JPEG", quality=85)
        encoded.append(stream.getvalue())
    return encoded


def image_folder(root, images: int, encoded: list):
    """Two classes of images/2 files each, file i of class c holding encoded[(2i + c) % len(encoded)]."""
    for label in range(2):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True)
        for i in range(images // 2):
            (folder / f"{i:05d}.jpg").write_bytes(encoded[(i * 2 + label) % len(encoded)])
    return root
