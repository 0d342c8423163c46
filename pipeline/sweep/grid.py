"""The sweep's grid: width multiplier alpha x input side of one family, each variant's registry name and its exact
counts (the same `summarize` as `mnd summary`), and lower bounds on the memory it needs before anything is built."""
import argparse
from dataclasses import dataclass

from mnd.base.errors import UsageError
from mnd.pipeline.model import architecture, inverted_residual, inverted_residual_summary, summary
from mnd.pipeline.model.architecture import ModelSpec
from mnd.pipeline.model.inverted_residual import MAX_ALPHA, InvertedResidualSpec

DEFAULT_ALPHAS = "1,0.75,0.5,0.25"
DEFAULT_SIDES = "224,192,160,128"
FAMILIES = ("v1", "v2", "v3_small", "v3_large")
MAX_VARIANTS = 64  # four times the paper's grid; more only with --max-variants


@dataclass(frozen=True)
class Variant:
    spec: ModelSpec | InvertedResidualSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> tuple:
        return self.spec.alpha, self.spec.side

    @property
    def v1(self) -> bool:
        return isinstance(self.spec, ModelSpec)

    def counts(self) -> dict:
        doc = (summary if self.v1 else inverted_residual_summary).summarize(self.spec)
        return {"mult_adds": doc["mult_adds"], "params": doc["params"]}

    def weight_bytes(self) -> int:
        """int8 weights, one byte per counted parameter: no image of the model can be smaller."""
        return self.counts()["params"]

    def activation_bytes(self) -> int:
        """The largest int8 input plus output of one layer: both are live while it runs, whatever the planner."""
        return max(layer.in_side ** 2 * layer.in_channels + layer.out_side ** 2 * layer.out_channels
                   for layer in self._layers())

    def _layers(self) -> list:
        return architecture.layer_plan(self.spec) if self.v1 else inverted_residual.layer_plan(self.spec).layers


def variant_spec(family: str, alpha: float, side: int, classes: int = 1000, channels: int = 3):
    """The architecture of one grid point; a family's own limits (v1: alpha <= 1) refused with one line."""
    if family == "v1":
        return ModelSpec(alpha=alpha, side=side, classes=classes, channels=channels)
    return InvertedResidualSpec(family, alpha, side, classes, channels)


def variants(alphas: tuple, sides: tuple, classes: int, channels: int, family: str = "v1") -> list:
    """One Variant per (alpha, side), alphas outermost, in the order given."""
    return [Variant(variant_spec(family, alpha, side, classes, channels)) for alpha in alphas for side in sides]


def check_family(family: str, alphas: tuple) -> None:
    """Every alpha fits `family` (the CLI calls this before any work, since alpha_list cannot know the family)."""
    if family not in FAMILIES:
        raise UsageError(f"unknown family '{family}' (choose from {', '.join(FAMILIES)})")
    for alpha in alphas:
        variant_spec(family, alpha, 224)


def check_size(alphas: tuple, sides: tuple, max_variants: int | None) -> None:
    """A grid larger than MAX_VARIANTS (or the --max-variants the user gave) is refused before any work."""
    limit = MAX_VARIANTS if max_variants is None else max_variants
    count = len(alphas) * len(sides)
    if count > limit:
        raise UsageError(f"the grid has {count} variants ({len(alphas)} alphas x {len(sides)} resolutions), more "
                         f"than the limit of {limit}; give fewer, or pass --max-variants {count} to run them all")


def alpha_list(text: str) -> tuple:
    """'1,0.75,0.5,0.25' -> (1.0, 0.75, 0.5, 0.25); argparse reports a bad one as a usage error. The family's own
    limit (v1: alpha <= 1) is `check_family`'s."""
    alphas = _distinct(text, float, "alpha")
    for alpha in alphas:
        if not 0 < alpha <= MAX_ALPHA:
            raise argparse.ArgumentTypeError(f"alpha {alpha:g} is out of range: give 0 < alpha <= {MAX_ALPHA:g} "
                                             "(mobilenet_v1: alpha <= 1)")
        if abs(alpha * 100 - round(alpha * 100)) > 1e-9:
            raise argparse.ArgumentTypeError(f"alpha {alpha:g} has more than two decimals; model names hold "
                                             "alpha x 100 as a whole number (e.g. 0.35)")
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
