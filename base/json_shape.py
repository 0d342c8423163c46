"""JSON documents from outside (run manifests): their expected shape as data, every difference as a short phrase,
and one ModelError line for all of them."""
import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from mnd.base.errors import ModelError
from mnd.base.paths import inside

MAX_MANIFEST_BYTES = 64 << 20


# Shapes: a type (or a union such as `int | None`), Obj, ListOf, MapOf or Nullable.
@dataclass(frozen=True)
class Obj:
    required: dict
    optional: dict = field(default_factory=dict)
    closed: bool = True  # unknown keys are refused


@dataclass(frozen=True)
class ListOf:
    item: object


@dataclass(frozen=True)
class MapOf:
    value: object


@dataclass(frozen=True)
class Nullable:
    shape: object


def record(cls, **nested) -> Obj:
    """The shape of a dataclass record: fields without a default are required; `nested` refines field shapes."""
    required = {f.name: nested.get(f.name, f.type) for f in fields(cls)
                if f.default is MISSING and f.default_factory is MISSING}
    optional = {f.name: nested.get(f.name, f.type) for f in fields(cls) if f.name not in required}
    return Obj(required, optional)


JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "an object",
              list: "a list", tuple: "a list", type(None): "null"}


def check(value, shape, where: str = "") -> list:
    """Every way `value` (parsed JSON) differs from `shape`, as short phrases naming where."""
    at = f"{where}: " if where else ""
    if isinstance(shape, Nullable):
        return [] if value is None else check(value, shape.shape, where)
    if isinstance(shape, Obj):
        if not isinstance(value, dict):
            return [f"{at}{json_name(value)} where an object belongs"]
        problems = [f"{at}missing key '{key}'" for key in shape.required if key not in value]
        for key, item in value.items():
            inner = shape.required.get(key, shape.optional.get(key))
            if inner is not None:
                problems += check(item, inner, f"{where}.{key}" if where else key)
            elif shape.closed:
                problems.append(f"{at}unknown key {repr(key)[:60]}")
        return problems
    if isinstance(shape, (ListOf, MapOf)):
        container = list if isinstance(shape, ListOf) else dict
        if not isinstance(value, container):
            return [f"{at}{json_name(value)} where {JSON_NAMES[container]} belongs"]
        items = enumerate(value) if container is list else ((repr(k)[:40], v) for k, v in value.items())
        inner = shape.item if container is list else shape.value
        return [problem for key, item in items for problem in check(item, inner, f"{where}[{key}]")]
    if not _fits(value, shape):
        expected = " or ".join(JSON_NAMES[kind] for kind in getattr(shape, "__args__", (shape,)))
        return [f"{at}{json_name(value)} where {expected} belongs"]
    return []


def _fits(value, kind) -> bool:
    if hasattr(kind, "__args__"):  # a union such as `float | None`
        return any(_fits(value, k) for k in kind.__args__)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, list if kind is tuple else kind)


def json_name(value) -> str:
    return next((name for kind, name in JSON_NAMES.items() if kind is not tuple and _fits(value, kind)), "a value")


def refuse_problems(path: Path, problems: list, fix: str) -> None:
    """One ModelError line for all the problems found in the JSON file `path` (the first few, then a count)."""
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise ModelError(f"'{path}' is not as mnd writes it: {'; '.join(problems[:5])}{more}; {fix}")


def read_json(run_dir: Path, writer: str, fix: str) -> tuple:
    """(path, the JSON object in run_dir/manifest.json), which must be a regular file inside the run directory;
    `writer` the command that writes such runs, `fix` what to do about a damaged one."""
    path = run_dir / "manifest.json"
    if not run_dir.is_dir() or not (path.exists() or path.is_symlink()):
        raise ModelError(f"'{run_dir}' has no manifest.json; give a directory written by '{writer}'")
    resolved = inside(run_dir, "manifest.json", f"'{run_dir}':", error=ModelError, fix=fix)
    if not resolved.is_file():
        raise ModelError(f"'{path}' is not a regular file; {fix}")
    if resolved.stat().st_size > MAX_MANIFEST_BYTES:
        raise ModelError(f"'{path}' is larger than {MAX_MANIFEST_BYTES >> 20} MiB, no manifest mnd writes is; {fix}")
    try:
        doc = json.loads(resolved.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as reason:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelError(f"'{path}' is not valid JSON ({' '.join(str(reason).split())[:200]}), perhaps cut short; "
                         f"{fix}") from None
    if not isinstance(doc, dict):
        raise ModelError(f"'{path}' holds {json_name(doc)}, not a JSON object; {fix}")
    return path, doc
