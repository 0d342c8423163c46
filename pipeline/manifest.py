"""The frozen Manifest that travels through the export stages and lands in out/RUN/manifest.json; reading one back
checks it first (schema, keys, types, artifact paths, sizes and hashes), since a run directory can come from anyone."""
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from mnd.base.errors import ModelError
from mnd.base.json_shape import ListOf, MapOf, Nullable, Obj, check, read_json, record, refuse_problems
from mnd.base.paths import inside
from mnd.pipeline.report.confusion import MAX_FULL

SCHEMA = "mnd.manifest/1"
REEXPORT = "re-export the run with 'mnd export'"
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
    # Emulated Cortex-M rows: cycles per inference estimated from the core's instruction timings (never measured),
    # at `flash_wait_states` wait states per 32-bit code fetch (targets/cortex_m/plugin/cycle_model.c)
    cycles_estimated: int | None = None
    flash_wait_states: int | None = None
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    arena_bytes: int | None = None
    arena_floor_bytes: int | None = None
    tflm_arena_bytes: int | None = None
    layers: list | None = None       # per layer: op, macs, instructions, cycles_estimated (emulated targets)
    ram_parts: dict | None = None    # model / harness / runtime
    flash_parts: dict | None = None
    # Top-1 agreement with another runtime on the same samples: {"reference", "n", "top1_differing",
    # "reference_accuracy", "note"}; the host fills it for ONNX Runtime's fused int8 kernels vs the exact QDQ
    # arithmetic, and "note" (why they differ and what to do, else None) is also one of the manifest's warnings.
    agreement: dict | None = None
    # LiteRT's benchmark_model on a phone, parsed (targets/android/benchmark_model.py): timings in microseconds,
    # memory, and the per-op profile; latency_ms stays None there (benchmark_model reports no p50/p90).
    benchmark: dict | None = None
    # The clock (MHz) given with --clock-mhz when an emulated row was measured: its instructions/clock estimate
    # belongs to the row, so re-measuring on another core keeps it.
    clock_mhz: float | None = None
    # A Cortex-M board through a GDB server (--probe): {"url", "board", "part", "cycle_counter" ("DWT CYCCNT" or
    # "absent"), "note" (why absent, else None)}; `cycles`: the DWT cycles per inference, None without a counter.
    probe: dict | None = None
    # Emulated Cortex-M rows: the model library's flash (the model's code and data and its kernels or TFLM library,
    # harness and libc/libgcc left out; from the linker map by object file, targets/cortex_m/firmware.py map_parts)
    model_flash_bytes: int | None = None
    # TFLM rows: the TFLite-Micro tree built: {"path", "layout", "key" (content hash), "declared": {name: commit}}
    tflm_tree: dict | None = None
    cycles: int | None = None
    # Several boards at once (--ssh given more than once): the board that measured this row, as --ssh named it
    board: str | None = None


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
    # The confusion matrix on the evaluation set (pipeline/report/confusion.py): {"runtime", "artifact", "labels",
    # "matrix" (rows true, columns predicted), "row_totals", "column_totals", "classes", "classes_shown", "samples"}
    evaluation: dict | None = None
    # `mnd export --formats`: the artifact groups asked for (export/formats.py); None in runs from before the flag
    # (every group), () in a cost-only sweep export (only the int8 .tflite, which is always written).
    formats: tuple | None = None
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
        problems = (check(doc, MANIFEST_SHAPE) or _emulated_problems(doc["measurements"])
                    or _evaluation_problems(doc.get("evaluation")))
        refuse_problems(path, problems or (check(doc, RELOADABLE_SHAPE) if reload_data else []), REEXPORT)
        manifest = cls(**{**doc,
                          "artifacts": tuple(Artifact(**a) for a in doc["artifacts"]),
                          "validations": tuple(Validation(**v) for v in doc["validations"]),
                          "measurements": tuple(Measurement(**m) for m in doc["measurements"]),
                          "warnings": tuple(doc["warnings"]),
                          "formats": None if doc.get("formats") is None else tuple(doc["formats"])})
        _verify_artifacts(Path(run_dir), path, manifest.artifacts)
        return manifest


def agreement_notes(measurements) -> list:
    """The warnings that measurements carry (Measurement.agreement notes), in order."""
    return [m.agreement["note"] for m in measurements if m.agreement and m.agreement.get("note")]


PREPROCESSING_SHAPE = Obj({"formula": str}, {"mode": str, "side": int, "channels": int, "crop_fraction": float,
                                              "resize": str, "to_gray": bool}, closed=False)
MODEL_SHAPE = Obj({"name": str, "classes": int, "input_shape": ListOf(int), "preprocessing": PREPROCESSING_SHAPE},
                  {"alpha": float | None, "labels": ListOf(str), "source": str, "repairs": list,
                   "input_quantization": Nullable(Obj({"dtype": str, "scale": float, "zero_point": int})),
                   "tflm_arena_bytes": int | None}, closed=False)
FINGERPRINT_SHAPE = Obj({"files": ListOf(str), "sha256": str})  # pipeline/data/fingerprint.py
DATA_PART_SHAPE = Obj({"source": str, "part": str, "samples": int},
                      {"split": float | None, "limit": int | None, "fingerprint": Nullable(FINGERPRINT_SHAPE)},
                      closed=False)
RELOADABLE_SHAPE = Obj({"data": Obj({"evaluation": Obj({"split": float | None}, closed=False)}, closed=False)},
                       closed=False)  # what `mnd measure` needs to load the same evaluation samples again
MEASUREMENT_SHAPE = record(
    Measurement, latency_ms=Nullable(Obj({"p50": float, "p90": float})),
    layers=Nullable(ListOf(Obj({"index": int, "op": str, "macs": int},
                               {"instructions": int, "cycles": int, "cycles_estimated": int}))),
    probe=Nullable(Obj({"url": str, "board": str, "part": str, "cycle_counter": str}, {"note": str | None})),
    ram_parts=Nullable(MapOf(int)), flash_parts=Nullable(MapOf(int)),
    tflm_tree=Nullable(Obj({"path": str, "layout": str, "key": str}, {"declared": MapOf(str)})),
    agreement=Nullable(Obj({"reference": str, "n": int, "top1_differing": int, "reference_accuracy": float | None,
                            "note": str | None})),
    benchmark=Nullable(Obj({}, {"inference": Nullable(Obj({"count": int, "avg": float}, closed=False)),
                                "ops": Nullable(ListOf(Obj({"node_type": str, "avg_ms": float, "percent": float},
                                                           {"times_called": int | None, "count": int | None},
                                                           closed=False))),
                                "init_ms": float | None, "first_inference_us": float | None,
                                "warmup_avg_us": float | None, "inference_avg_us": float | None,
                                "memory": dict | None}, closed=False)))
LAYER_QUALITY_SHAPE = Obj({"name": str, "op": str, "sqnr_db": float | None},
                          {"depth": int, "tensor": str, "layer_sqnr_db": float | None, "mean_abs_error": float | None,
                           "max_abs_error": float | None, "weight_range_spread": float | None,
                           "weight_channels": int | None, "dead_channels": int | None, "inputs": ListOf(int),
                           "accumulated_drop_db": float | None, "drop_from": int | None, "largest_drop": bool,
                           "lowest_layer_sqnr": bool, "flagged": bool})  # flagged: before largest_drop existed
QUANTIZATION_SHAPE = Nullable(Obj({}, {"layers": ListOf(LAYER_QUALITY_SHAPE), "float_model": ListOf(str),
                                       "weights_scheme": str, "calibration": str, "equalize": bool,
                                       "bias_correct": bool,
                                       "bias_correction": Obj({"mode": str, "applied": bool, "line": str},
                                                              {"fit_samples": int, "check_samples": int,
                                                               "error_without": float | None,
                                                               "error_with": float | None,
                                                               "drop_in_standard_errors": float | None,
                                                               "compared": str}),
                                       "float_model_changes": MapOf(ListOf(Obj({"line": str}, closed=False)))},
                                   closed=False))
EVALUATION_SHAPE = Obj({"runtime": str, "artifact": str, "labels": ListOf(str), "matrix": ListOf(ListOf(int)),
                        "row_totals": ListOf(int), "column_totals": ListOf(int), "classes": int,
                        "classes_shown": int, "samples": int})
FIT_SHAPE = Obj({"needed_bytes": int, "available_bytes": int, "margin_bytes": int, "fits": bool})
PART_SHAPE = Obj({"board": str, "part": str, "core": str, "clock_mhz": float, "fits": bool, "flash": FIT_SHAPE,
                  "ram": FIT_SHAPE, "basis": str}, {"estimate_ms": float, "estimate": str})  # `mnd export --board`
MANIFEST_SHAPE = Obj({
    "schema": str, "model": MODEL_SHAPE, "quantization": QUANTIZATION_SHAPE,
    "artifacts": ListOf(record(Artifact)), "validations": ListOf(record(Validation)),
    "measurements": ListOf(MEASUREMENT_SHAPE),
    "data": Obj({"evaluation": DATA_PART_SHAPE}, {"calibration": Nullable(DATA_PART_SHAPE)}, closed=False),
    "target": Nullable(Obj({}, {"name": str, "options": dict | None, "board": dict | None,
                                       "part": Nullable(PART_SHAPE)}, closed=False)),
    "environment": Obj({}, {"isa_flags": ListOf(str)}, closed=False), "warnings": ListOf(str)},
    {"evaluation": Nullable(EVALUATION_SHAPE), "formats": Nullable(ListOf(str))})


def _evaluation_problems(evaluation: dict | None) -> list:
    """The confusion matrix: square, one row, column and total per label, at most MAX_FULL labels, no negatives."""
    if evaluation is None:
        return []
    shown = len(evaluation["labels"])
    rows = evaluation["matrix"]
    sized = (0 < shown <= MAX_FULL and len(rows) == shown and all(len(row) == shown for row in rows)
             and len(evaluation["row_totals"]) == shown == len(evaluation["column_totals"]))
    if not sized:
        return [f"evaluation: not a square matrix with one row, column and total per label (at most {MAX_FULL})"]
    counts = [*(n for row in rows for n in row), *evaluation["row_totals"], *evaluation["column_totals"]]
    return ["evaluation: negative counts"] if min(counts) < 0 else []


def _emulated_problems(measurements: list) -> list:
    """Emulated measurements are reported by their accuracy and an instruction count (Cortex-M) or a latency (an
    emulated board or phone, labelled as saying nothing about the hardware); benchmark_model rows (no accuracy of
    their own) by their benchmark. One of those must be there."""
    problems = []
    for i, m in enumerate(measurements):
        if not m.get("emulated") or m.get("benchmark") is not None:
            continue
        if m.get("accuracy") is None or (m.get("instructions") is None and m.get("latency_ms") is None):
            problems.append(f"measurements[{i}]: emulated, but without accuracy and instructions or latency")
    return problems


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
