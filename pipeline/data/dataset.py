"""A dataset in memory: uint8 pixels at the model's input size, labels and class names."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """`pixels` uint8 [N, side, side, channels]; `labels` int64 [N]; one name per class."""

    name: str
    pixels: np.ndarray
    labels: np.ndarray
    class_names: tuple

    def __len__(self):
        return len(self.labels)

    def subset(self, indices) -> "Dataset":
        return Dataset(self.name, self.pixels[indices], self.labels[indices], self.class_names)

    def describe(self) -> dict:
        return {"name": self.name, "samples": len(self), "classes": len(self.class_names),
                "class_names": list(self.class_names)}
