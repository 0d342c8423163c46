"""Model names of every family -> architecture specs: mobilenet_v1_025_96, mobilenet_v2_140_224,
mobilenet_v3_small_075_224, mobilenet_v3_large_100_224_minimalistic (alpha x 100, then the input side)."""
import re

from mnd.base.errors import UsageError, did_you_mean
from mnd.pipeline.model import architecture
from mnd.pipeline.model.architecture import ModelSpec
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


def spec_from_options(model: str | None, family: str | None, *, alpha: float, side: int, classes: int, channels: int,
                      activation: str | None, shallow: bool, full_conv: bool):
    """The architecture `mnd summary` counts: `model` (a name of any family), else `family` v1 (default) or v2 at
    `alpha` and `side`. V1's own options (activation, shallow, full_conv) are refused for the other families."""
    v1_only = {key: True for key, value in (("full_conv", full_conv), ("shallow", shallow)) if value}
    if model:
        spec = parse_model_name(model, activation, classes=classes, channels=channels,
                                **({"full_conv": True} if full_conv else {}))
        spec_family = getattr(spec, "family", "v1")
        if family and family != spec_family[:2]:
            raise UsageError(f"--family {family} does not match --model {model} ({spec_family}); leave --family "
                             "out with --model")
        if shallow and isinstance(spec, ModelSpec):
            return ModelSpec(**{**spec.__dict__, "shallow": True})
        if v1_only and not isinstance(spec, ModelSpec):
            raise UsageError(f"--{next(iter(v1_only)).replace('_', '-')} applies to mobilenet_v1 models only")
        return spec
    if (family or "v1") == "v1":
        return ModelSpec(alpha=alpha, side=side, classes=classes, channels=channels, **v1_only,
                         **({"activation": activation} if activation else {}))
    if family == "v3" or v1_only or activation:
        raise UsageError("--family v3 needs --model (mobilenet_v3_small_100_224, mobilenet_v3_large_075_224, ..."
                         "_minimalistic); --activation, --shallow and --full-conv apply to mobilenet_v1 only")
    return InvertedResidualSpec("v2", alpha, side, classes, channels)
