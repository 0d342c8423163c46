"""Paths that come from files a user may not have written (a manifest, a label file): kept inside their folder."""
from pathlib import Path

from mnd.base.errors import MndError, UsageError


def inside(root: Path, relative: str | Path, what: str, *, error: type[MndError] = UsageError,
           fix: str = "") -> Path:
    """`root / relative` with every symbolic link resolved, refused unless it lies strictly inside `root` (itself
    resolved): absolute paths, '..' that climbs out and links that point out all raise `error`, one line naming
    `what` (e.g. "artifact path in 'out/run/manifest.json'"), the path and `fix` (default: give a path inside)."""
    fix = fix or f"give a path relative to '{root}' that stays inside it"
    shown = repr(str(relative))[:200]
    if Path(relative).is_absolute():
        raise error(f"{what} {shown} is absolute, not relative to '{root}'; {fix}")
    try:
        base = Path(root).resolve()
        resolved = (base / relative).resolve()
    except (OSError, RuntimeError, ValueError) as reason:  # a symlink loop, a NUL byte
        raise error(f"{what} {shown} cannot be resolved ({reason}); {fix}") from None
    if resolved == base:
        raise error(f"{what} {shown} names '{root}' itself, not something inside it; {fix}")
    if not resolved.is_relative_to(base):
        raise error(f"{what} {shown} leads outside '{root}' (to {repr(str(resolved))[:200]}); {fix}")
    return resolved
