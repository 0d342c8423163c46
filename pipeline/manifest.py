"""The frozen Manifest that travels through the export stages and lands in out/RUN/manifest.json."""
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

SCHEMA = "mnd.manifest/1"
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
    def read(cls, run_dir: Path) -> "Manifest":
        doc = json.loads((Path(run_dir) / "manifest.json").read_text())
        doc.pop("schema", None)
        return cls(**{**doc,
                      "artifacts": tuple(Artifact(**a) for a in doc.get("artifacts", ())),
                      "validations": tuple(Validation(**v) for v in doc.get("validations", ())),
                      "measurements": tuple(Measurement(**m) for m in doc.get("measurements", ())),
                      "warnings": tuple(doc.get("warnings", ()))})


def agreement_notes(measurements) -> list:
    """The warnings that measurements carry (Measurement.agreement notes), in order."""
    return [m.agreement["note"] for m in measurements if m.agreement and m.agreement.get("note")]
