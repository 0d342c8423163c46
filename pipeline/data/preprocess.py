"""How raw uint8 pixels become model input; part of the model spec and of every manifest."""
from dataclasses import asdict, dataclass

import numpy as np

from mnd.base.errors import UsageError, did_you_mean

MODES = {
    "unit": "x / 255 (range 0..1)",
    "signed": "x / 127.5 - 1 (range -1..1)",
    "raw": "x as float (range 0..255); quantized inputs take the pixel bytes (minus 128 for int8)",
}
RESIZE_METHODS = ("bilinear", "nearest", "bicubic", "antialias")


@dataclass(frozen=True)
class Preprocessing:
    mode: str = "unit"
    side: int = 224
    channels: int = 3
    crop_fraction: float = 1.0
    resize: str = "bilinear"
    to_gray: bool = False  # the conversion rule for colour images fed to a 1-channel model (ITU-R 601 luma)

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageError(f"unknown preprocessing '{self.mode}'{did_you_mean(self.mode, MODES)} "
                             f"(choose from {', '.join(MODES)})")
        if self.resize not in RESIZE_METHODS:
            raise UsageError(f"unknown resize method '{self.resize}'{did_you_mean(self.resize, RESIZE_METHODS)}")
        if not 0 < self.crop_fraction <= 1:
            raise UsageError(f"centre-crop fraction {self.crop_fraction} is out of range; use 0 < fraction <= 1")

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 [N, side, side, channels] -> float32 model input."""
        return self.scale(pixels.astype(np.float32))

    def scale(self, x):
        """Float pixel values (a numpy array or a TensorFlow tensor) -> model input, by `mode`."""
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "signed":
            return x / 127.5 - 1.0
        return x

    def to_dict(self) -> dict:
        return {**asdict(self), "formula": MODES[self.mode]}

    @classmethod
    def from_dict(cls, doc: dict) -> "Preprocessing":
        fields = ("mode", "side", "channels", "crop_fraction", "resize", "to_gray")
        return cls(**{key: doc[key] for key in fields if key in doc})
