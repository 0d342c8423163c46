"""The Target interface; targets/registry.py finds and registers the modules that implement it."""
from dataclasses import dataclass

from mnd.pipeline.errors import MndError


class TargetUnavailable(MndError):
    """The target's tools are missing here; the message says how to get them."""


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
