"""The frozen Manifest that travels through the export stages and lands in out/RUN/manifest.json; reading one back
checks it first (schema, keys, types, artifact paths, sizes and hashes), since a run directory can come from anyone."""
import hashlib
import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

from mnd.pipeline.errors import ModelError
from mnd.pipeline.paths import inside

SCHEMA = "mnd.manifest/1"
REEXPORT = "re-export the run with 'mnd export'"
MAX_MANIFEST_BYTES = 64 << 20
ARTIFACT_KINDS = ("tflite_float", "tflite_int8", "onnx_float", "onnx_int8", "tflm_c_source", "tflm_c_header",
                  "tflm_op_resolver", "tflite_uint8", "onnx_uint8")


@dataclass(frozen=True)
class Artifact:
    kind: str
    path: str  # relative to the run directory
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Validation:
    name: str
    passed: bool
    value: float
    threshold: float
    detail: str = ""
    gated: bool = True


@dataclass(frozen=True)
class Measurement:
    target: str
    runtime: str
    artifact: str
    accuracy: float | None
    n: int
    latency_ms: dict | None
    runs: int
    threads: int | None = None
    warmup: int | None = None
    emulated: bool = False
    instructions: int | None = None
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    arena_bytes: int | None = None
    arena_floor_bytes: int | None = None
    tflm_arena_bytes: int | None = None
    layers: list | None = None       # per layer: op, macs, instructions (emulated targets)
    ram_parts: dict | None = None    # model / harness / runtime
    flash_parts: dict | None = None
    # Top-1 agreement with another runtime on the same samples: {"reference", "n", "top1_differing",
    # "reference_accuracy", "note"}; the host fills it for ONNX Runtime's fused int8 kernels vs the exact QDQ
    # arithmetic, and "note" (why they differ and what to do, else None) is also one of the manifest's warnings.
    agreement: dict | None = None


@dataclass(frozen=True)
class Manifest:
    model: dict
    quantization: dict | None = None
    artifacts: tuple = ()
    validations: tuple = ()
    measurements: tuple = ()
    data: dict = field(default_factory=dict)
    target: dict | None = None
    environment: dict = field(default_factory=dict)
    warnings: tuple = ()
    schema: str = SCHEMA

    def with_artifact(self, run_dir: Path, kind: str, path: Path) -> "Manifest":
        path = Path(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        artifact = Artifact(kind, str(path.relative_to(run_dir)), path.stat().st_size, digest)
        kept = tuple(a for a in self.artifacts if a.kind != kind)
        return replace(self, artifacts=kept + (artifact,))

    def with_measurements(self, measurements: tuple) -> "Manifest":
        """Measurements replaced, and the warnings their agreement notes carry with them (the old ones' dropped)."""
        old = set(agreement_notes(self.measurements))
        kept = tuple(w for w in self.warnings if w not in old)
        return replace(self, measurements=tuple(measurements),
                       warnings=kept + tuple(n for n in agreement_notes(measurements) if n not in kept))

    def artifact(self, kind: str) -> Artifact | None:
        return next((a for a in self.artifacts if a.kind == kind), None)

    def to_dict(self) -> dict:
        doc = asdict(self)
        return {"schema": doc.pop("schema"), **doc}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, run_dir: Path) -> None:
        (run_dir / "manifest.json").write_text(self.to_json())

    @classmethod
    def read(cls, run_dir: Path, reload_data: bool = False) -> "Manifest":
        """The manifest of an export run, refused with one line (ModelError) unless it is as 'mnd export' writes it
        and every artifact is inside the run with the recorded size and sha256; `reload_data`: it must also say
        how to load its evaluation samples again (for `mnd measure`)."""
        path, doc = read_json(Path(run_dir), "mnd export", REEXPORT)
        if doc.get("schema") != SCHEMA:
            found = repr(doc.get("schema"))[:80]
            if doc.get("schema") == "mnd.run/1":
                raise ModelError(f"'{path}' is a training run's manifest (mnd.run/1), not an export's; export it "
                                 f"first: mnd export --model {run_dir}")
            raise ModelError(f"'{path}' has schema {found}, not '{SCHEMA}'; {REEXPORT}")
        problems = check(doc, MANIFEST_SHAPE) or _emulated_problems(doc["measurements"])
        refuse_problems(path, problems or (check(doc, RELOADABLE_SHAPE) if reload_data else []), REEXPORT)
        manifest = cls(**{**doc,
                          "artifacts": tuple(Artifact(**a) for a in doc["artifacts"]),
                          "validations": tuple(Validation(**v) for v in doc["validations"]),
                          "measurements": tuple(Measurement(**m) for m in doc["measurements"]),
                          "warnings": tuple(doc["warnings"])})
        _verify_artifacts(Path(run_dir), path, manifest.artifacts)
        return manifest


def agreement_notes(measurements) -> list:
    """The warnings that measurements carry (Measurement.agreement notes), in order."""
    return [m.agreement["note"] for m in measurements if m.agreement and m.agreement.get("note")]


# What a manifest.json may hold. Shapes: a type (or a union such as `int | None`), Obj, ListOf, MapOf or Nullable.
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


PREPROCESSING_SHAPE = Obj({"formula": str}, {"mode": str, "side": int, "channels": int, "crop_fraction": float,
                                              "resize": str, "to_gray": bool}, closed=False)
MODEL_SHAPE = Obj({"name": str, "classes": int, "input_shape": ListOf(int), "preprocessing": PREPROCESSING_SHAPE},
                  {"alpha": float | None, "labels": ListOf(str), "source": str, "repairs": list,
                   "input_quantization": Nullable(Obj({"dtype": str, "scale": float, "zero_point": int})),
                   "tflm_arena_bytes": int | None}, closed=False)
DATA_PART_SHAPE = Obj({"source": str, "part": str, "samples": int}, {"split": float | None, "limit": int | None},
                      closed=False)
RELOADABLE_SHAPE = Obj({"data": Obj({"evaluation": Obj({"split": float | None}, closed=False)}, closed=False)},
                       closed=False)  # what `mnd measure` needs to load the same evaluation samples again
MEASUREMENT_SHAPE = record(
    Measurement, latency_ms=Nullable(Obj({"p50": float, "p90": float})),
    layers=Nullable(ListOf(Obj({"index": int, "op": str, "macs": int, "instructions": int}))),
    ram_parts=Nullable(MapOf(int)), flash_parts=Nullable(MapOf(int)),
    agreement=Nullable(Obj({"reference": str, "n": int, "top1_differing": int, "reference_accuracy": float | None,
                            "note": str | None})))
MANIFEST_SHAPE = Obj({
    "schema": str, "model": MODEL_SHAPE, "quantization": dict | None,
    "artifacts": ListOf(record(Artifact)), "validations": ListOf(record(Validation)),
    "measurements": ListOf(MEASUREMENT_SHAPE),
    "data": Obj({"evaluation": DATA_PART_SHAPE}, {"calibration": Nullable(DATA_PART_SHAPE)}, closed=False),
    "target": Nullable(Obj({}, {"name": str, "options": dict | None}, closed=False)),
    "environment": Obj({}, {"isa_flags": ListOf(str)}, closed=False), "warnings": ListOf(str)})
JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "an object",
              list: "a list", tuple: "a list", type(None): "null"}


def check(value, shape, where: str = "") -> list:
    """Every way `value` (parsed JSON) differs from `shape`, as short phrases naming where."""
    at = f"{where}: " if where else ""
    if isinstance(shape, Nullable):
        return [] if value is None else check(value, shape.shape, where)
    if isinstance(shape, Obj):
        if not isinstance(value, dict):
            return [f"{at}{_json_name(value)} where an object belongs"]
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
            return [f"{at}{_json_name(value)} where {JSON_NAMES[container]} belongs"]
        items = enumerate(value) if container is list else ((repr(k)[:40], v) for k, v in value.items())
        inner = shape.item if container is list else shape.value
        return [problem for key, item in items for problem in check(item, inner, f"{where}[{key}]")]
    if not _fits(value, shape):
        expected = " or ".join(JSON_NAMES[kind] for kind in getattr(shape, "__args__", (shape,)))
        return [f"{at}{_json_name(value)} where {expected} belongs"]
    return []


def _fits(value, kind) -> bool:
    if hasattr(kind, "__args__"):  # a union such as `float | None`
        return any(_fits(value, k) for k in kind.__args__)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, list if kind is tuple else kind)


def _json_name(value) -> str:
    return next((name for kind, name in JSON_NAMES.items() if kind is not tuple and _fits(value, kind)), "a value")


def _emulated_problems(measurements: list) -> list:
    """Emulated measurements are reported by their accuracy and instruction count: both must be there."""
    return [f"measurements[{i}]: emulated, but without accuracy and instructions" for i, m in enumerate(measurements)
            if m.get("emulated") and (m.get("accuracy") is None or m.get("instructions") is None)]


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
        raise ModelError(f"'{path}' holds {_json_name(doc)}, not a JSON object; {fix}")
    return path, doc


def _verify_artifacts(run_dir: Path, path: Path, artifacts: tuple) -> None:
    """Each artifact: a known kind, once; a regular file inside the run (symlinks resolved) of the recorded size
    and sha256. Checked before any target reads one."""
    seen = set()
    for artifact in artifacts:
        where = f"'{path}': artifact {repr(artifact.kind)[:40]}"
        if artifact.kind not in ARTIFACT_KINDS or artifact.kind in seen:
            problem = "is listed twice" if artifact.kind in seen else f"is not one of {', '.join(ARTIFACT_KINDS)}"
            raise ModelError(f"{where} {problem}; {REEXPORT}")
        seen.add(artifact.kind)
        if not re.fullmatch(r"[0-9a-f]{64}", artifact.sha256):
            raise ModelError(f"{where} has no valid sha256 (64 lowercase hex digits); {REEXPORT}")
        file = inside(run_dir, artifact.path, f"{where} path", error=ModelError, fix=REEXPORT)
        shown = repr(artifact.path)[:200]
        if not file.is_file():
            raise ModelError(f"{where} path {shown} is missing or not a regular file; {REEXPORT}")
        size = file.stat().st_size
        if size != artifact.bytes:
            raise ModelError(f"{where} {shown} has {size} bytes, the manifest says {artifact.bytes}: it changed "
                             f"after the export; {REEXPORT}")
        with file.open("rb") as stream:
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
        if digest != artifact.sha256:
            raise ModelError(f"{where} {shown} has sha256 {digest[:12]}…, the manifest says "
                             f"{artifact.sha256[:12]}…: it changed after the export; {REEXPORT}")
