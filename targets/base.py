"""The Target interface and its registry; adding a target is adding one module with @register_target."""
from dataclasses import dataclass

from mnd.pipeline.errors import MndError, did_you_mean

_REGISTRY = {}


class TargetUnavailable(MndError):
    """The target's tools are missing here; the message says how to get them."""


class UnknownTarget(MndError):
    """No target of that name is registered."""


@dataclass(frozen=True)
class MeasureSettings:
    warmup: int = 10
    runs: int = 100
    threads: int = 1
    clock_mhz: float | None = None


class Target:
    name = ""
    description = ""
    requires = ()  # artifact kinds the target can use
    options = {}

    def check(self):
        """None when usable here, else the reason and the fix."""
        return None

    def measure(self, run_dir, manifest, evaluation, settings: MeasureSettings):
        """Measurements (accuracy and latency) of each artifact this target can run."""
        raise NotImplementedError


def register_target(cls):
    _REGISTRY[cls.name] = cls
    return cls


def target_names() -> list:
    _load_builtin_targets()
    return sorted(_REGISTRY)


def get_target(name: str) -> Target:
    _load_builtin_targets()
    if name not in _REGISTRY:
        raise UnknownTarget(f"unknown target '{name}'{did_you_mean(name, _REGISTRY)} "
                            f"(registered: {', '.join(sorted(_REGISTRY))}; see 'mnd targets')")
    return _REGISTRY[name]()


def _load_builtin_targets() -> None:
    import mnd.targets.cortex_m.target  # noqa: F401  (each registers itself)
    import mnd.targets.host  # noqa: F401
