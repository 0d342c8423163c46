"""Model names of every family -> architecture specs: mobilenet_v1_025_96, mobilenet_v2_140_224,
mobilenet_v3_small_075_224, mobilenet_v3_large_100_224_minimalistic (alpha x 100, then the input side)."""
import re

from mnd.pipeline.errors import UsageError, did_you_mean
from mnd.pipeline.model import architecture
from mnd.pipeline.model.inverted_residual import InvertedResidualSpec

INVERTED_RESIDUAL_PATTERN = re.compile(r"^mobilenet_(v2|v3_small|v3_large)_(\d{3})_(\d+)(_minimalistic)?$")
SIDES = (96, 128, 160, 192, 224)
V2_ALPHAS = (35, 50, 75, 100, 130, 140)
V3_ALPHAS = (75, 100)
KNOWN_NAMES = (architecture.KNOWN_NAMES
               + [f"mobilenet_v2_{alpha:03d}_{side}" for alpha in V2_ALPHAS for side in SIDES]
               + [f"mobilenet_{family}_{alpha:03d}_{side}{suffix}" for family in ("v3_small", "v3_large")
                  for alpha in V3_ALPHAS for side in SIDES for suffix in ("", "_minimalistic")])
NAME_HELP = ("names look like mobilenet_v1_025_96, mobilenet_v2_035_96, mobilenet_v3_small_100_224 or "
             "mobilenet_v3_large_100_224_minimalistic: alpha x 100, then the input side")


def is_model_name(name: str) -> bool:
    """Whether `name` has the shape of a registry name of any family (its values are checked when parsed)."""
    return bool(architecture.NAME_PATTERN.match(name) or INVERTED_RESIDUAL_PATTERN.match(name))


def parse_model_name(name: str, activation: str | None = None, **overrides):
    """A registry name -> ModelSpec (V1) or InvertedResidualSpec (V2, V3); `overrides` set classes and channels
    (and V1's own fields). `activation` chooses V1's; V2 and V3 keep their architecture's and refuse another."""
    if architecture.NAME_PATTERN.match(name):
        return architecture.parse_model_name(name, **overrides, **({"activation": activation} if activation else {}))
    match = INVERTED_RESIDUAL_PATTERN.match(name)
    if not match:
        raise UsageError(f"unknown model '{name}'{did_you_mean(name, KNOWN_NAMES)} ({NAME_HELP})")
    unknown = sorted(set(overrides) - {"classes", "channels"})
    if unknown:
        raise UsageError(f"{', '.join(unknown)} apply to mobilenet_v1 models only; '{name}' is built as published")
    spec = InvertedResidualSpec(match.group(1), int(match.group(2)) / 100, int(match.group(3)),
                                minimalistic=bool(match.group(4)), **overrides)
    if activation and activation != spec.activation:
        raise UsageError(f"'{name}' uses {spec.activation}; --activation {activation} applies to mobilenet_v1 models "
                         "only (leave it out)")
    return spec
