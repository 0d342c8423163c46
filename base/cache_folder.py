"""The one folder mnd caches in (pretrained models, decoded data, the arm64 root filesystem, TFLite-Micro libraries):
$MND_CACHE, else ~/.cache/mnd. docker/base_image.py keeps its own copy of the rule: it runs before any venv exists."""
import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("MND_CACHE") or Path.home() / ".cache" / "mnd")
