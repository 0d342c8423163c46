"""Where the benchmarks find ../shared/assets (override with MND_ASSETS, as the tests do)."""
import os
from pathlib import Path


def assets_dir() -> Path:
    return Path(os.environ.get("MND_ASSETS", Path(__file__).resolve().parents[3] / "shared" / "assets"))
