"""What the cache folder (MND_CACHE) holds, for `mnd doctor`: its size, and the decoded-image cache's share and
bound (data.cache_room)."""
import os
from pathlib import Path

from mnd.base.cache_folder import cache_dir
from mnd.base.errors import UsageError


def cache_usage() -> dict:
    from mnd.pipeline.data import cache_room
    from mnd.pipeline.data.decoded_cache import META

    root = cache_dir()
    decoded = root / "decoded"
    entries = cache_room.published(decoded, META) if decoded.is_dir() else []
    try:
        bound, bound_problem = cache_room.bound_bytes(), None
    except UsageError as error:
        bound, bound_problem = None, str(error)
    return {"path": str(root), "bytes": tree_bytes(root), "decoded_datasets": len(entries),
            "decoded_bytes": sum(size for _, size, _ in entries), "decoded_bound_bytes": bound,
            "decoded_bound_problem": bound_problem}


def tree_bytes(root: Path) -> int:
    """Bytes of the files below `root` (links not followed; what cannot be read is left out)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def format_usage(usage: dict) -> str:
    bound = usage["decoded_bound_problem"] or f"kept under {usage['decoded_bound_bytes'] / 1e9:g} GB " \
                                              f"(MND_DECODED_CACHE_GB)"
    return (f"cache: {usage['path']} (MND_CACHE): {usage['bytes'] / 1e9:.2f} GB; decoded images: "
            f"{usage['decoded_bytes'] / 1e9:.2f} GB in {usage['decoded_datasets']} dataset(s), {bound}")
