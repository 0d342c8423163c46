"""`--class-weights`: each training example's weight in the loss, by its class."""
import numpy as np

from mnd.base.errors import UsageError

CHOICES = ("none", "balanced")


def class_weights(rule: str, train_labels: np.ndarray, classes: int) -> np.ndarray:
    """float32 [classes]. none: all 1. balanced: n / (classes x count_c) from the training labels, so every class
    weighs the same in the loss in all (a class without training examples gets 0: it never occurs)."""
    if rule not in CHOICES:
        raise UsageError(f"unknown --class-weights '{rule}'; choose from {', '.join(CHOICES)}")
    if rule == "none":
        return np.ones(classes, np.float32)
    counts = np.bincount(train_labels, minlength=classes).astype(np.float64)
    weights = np.divide(len(train_labels), classes * counts, out=np.zeros(classes), where=counts > 0)
    return weights.astype(np.float32)
