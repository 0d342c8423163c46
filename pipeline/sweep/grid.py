"""The sweep's grid: width multiplier alpha x input side, each variant's registry name and its exact counts
(the same `summarize` as `mnd summary`), and lower bounds on the memory it needs before anything is built."""
import argparse
from dataclasses import dataclass

from mnd.pipeline.errors import MndError
from mnd.pipeline.model.architecture import ModelSpec, layer_plan
from mnd.pipeline.model.summary import summarize

DEFAULT_ALPHAS = "1,0.75,0.5,0.25"
DEFAULT_SIDES = "224,192,160,128"


@dataclass(frozen=True)
class Variant:
    spec: ModelSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> tuple:
        return self.spec.alpha, self.spec.side

    def counts(self) -> dict:
        doc = summarize(self.spec)
        return {"mult_adds": doc["mult_adds"], "params": doc["params"]}

    def weight_bytes(self) -> int:
        """int8 weights, one byte per counted parameter: no image of the model can be smaller."""
        return self.counts()["params"]

    def activation_bytes(self) -> int:
        """The largest int8 input plus output of one layer: both are live while it runs, whatever the planner."""
        return max(layer.in_side ** 2 * layer.in_channels + layer.out_side ** 2 * layer.out_channels
                   for layer in layer_plan(self.spec))


def variants(alphas: tuple, sides: tuple, classes: int, channels: int) -> list:
    """One Variant per (alpha, side), alphas outermost, in the order given."""
    return [Variant(ModelSpec(alpha=alpha, side=side, classes=classes, channels=channels))
            for alpha in alphas for side in sides]


def alpha_list(text: str) -> tuple:
    """'1,0.75,0.5,0.25' -> (1.0, 0.75, 0.5, 0.25); argparse reports a bad one as a usage error."""
    alphas = _distinct(text, float, "alpha")
    for alpha in alphas:
        if not 0 < alpha <= 1:
            raise argparse.ArgumentTypeError(f"alpha {alpha:g} is out of range: give 0 < alpha <= 1")
        if abs(alpha * 100 - round(alpha * 100)) > 1e-9:
            raise argparse.ArgumentTypeError(f"alpha {alpha:g} has more than two decimals; model names hold "
                                             "alpha x 100 as a whole number (e.g. 0.35)")
        try:
            ModelSpec(alpha=alpha)
        except MndError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return alphas


def side_list(text: str) -> tuple:
    """'224,192,160,128' -> (224, 192, 160, 128), each at least 32."""
    sides = _distinct(text, int, "resolution")
    for side in sides:
        if side < 32:
            raise argparse.ArgumentTypeError(f"resolution {side} is too small: give input sides of at least 32")
    return sides


def _distinct(text: str, kind, what: str) -> tuple:
    try:
        values = tuple(kind(part.strip()) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma list of {what} values") from None
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"'{text}' names the same {what} twice; give each once")
    return values
